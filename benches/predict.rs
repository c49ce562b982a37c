//! Predictive models at scale: simulates CUSTOMERS customers (default
//! 1,000,000) from known BG/NBD and Gamma-Gamma parameters (time in days) with
//! a fixed seed, fits both models and prints the times and the recovered vs
//! the true parameters, then times the per-customer predictions.
//!
//!     cargo bench --bench predict
//!     CUSTOMERS=200000 DAYS=730 SEED=7 cargo bench --bench predict

use cohort::traits::predict::{predict_all, simulate, BgNbd, ClvOptions, GammaGamma, Summary};
use std::time::Instant;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One parameter: fitted ± standard error, the truth, the relative error and
/// how many standard errors away the truth is.
fn row(name: &str, fitted: f64, se: f64, truth: f64) {
    println!(
        "  {name:>5}: fitted {fitted:9.4} ± {se:7.4}  true {truth:9.4}  ({:+.2}%, {:+.1} SE)",
        100.0 * (fitted / truth - 1.0),
        (fitted - truth) / se
    );
}

fn main() {
    // `cargo test --all-targets` runs bench binaries too; only `cargo bench` passes --bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let customers: usize = env("CUSTOMERS", 1_000_000);
    let days: u32 = env("DAYS", 365);
    let seed: u64 = env("SEED", 2005);
    // CDNOW's published fit with α converted from weeks to days.
    let truth_bg = BgNbd::new(0.243, 4.414 * 7.0, 0.793, 2.426).unwrap();
    let truth_gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();

    let started = Instant::now();
    let summaries: Vec<Summary> = simulate(&truth_bg, &truth_gg, customers, days, seed);
    let simulated = started.elapsed().as_secs_f64();
    let repeaters = summaries.iter().filter(|s| s.frequency > 0.0).count();
    println!(
        "simulated {customers} customers over {days} days (seed {seed}) in {simulated:.2} s; \
         {repeaters} repeat customers"
    );

    let started = Instant::now();
    let bg = BgNbd::fit(&summaries).expect("BG/NBD fit");
    let bg_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let gg = GammaGamma::fit(&summaries).expect("Gamma-Gamma fit");
    let gg_seconds = started.elapsed().as_secs_f64();

    println!(
        "BG/NBD fit: {:.2} s, {} customers in {} distinct (x, t_x, T) groups, {} iterations, \
         {} evaluations, LL {:.1}, converged {}",
        bg_seconds,
        bg.report.customers,
        bg.report.groups,
        bg.report.iterations,
        bg.report.evaluations,
        bg.report.log_likelihood,
        bg.report.converged
    );
    let m = bg.model;
    let se = &bg.report.standard_errors;
    for (i, (name, fitted, truth)) in [
        ("r", m.r(), truth_bg.r()),
        ("alpha", m.alpha(), truth_bg.alpha()),
        ("a", m.a(), truth_bg.a()),
        ("b", m.b(), truth_bg.b()),
    ]
    .into_iter()
    .enumerate()
    {
        row(name, fitted, se[i], truth);
    }
    println!(
        "Gamma-Gamma fit: {:.2} s, {} repeat customers in {} distinct (x, m) groups, \
         {} iterations, {} evaluations, LL {:.1}, converged {}",
        gg_seconds,
        gg.report.customers,
        gg.report.groups,
        gg.report.iterations,
        gg.report.evaluations,
        gg.report.log_likelihood,
        gg.report.converged
    );
    let g = gg.model;
    let se = &gg.report.standard_errors;
    for (i, (name, fitted, truth)) in [
        ("p", g.p(), truth_gg.p()),
        ("q", g.q(), truth_gg.q()),
        ("v", g.v(), truth_gg.v()),
    ]
    .into_iter()
    .enumerate()
    {
        row(name, fitted, se[i], truth);
    }
    println!(
        "both fits: {:.2} s (target < 10 s)",
        bg_seconds + gg_seconds
    );

    let started = Instant::now();
    let options = ClvOptions::default();
    let predictions = predict_all(&bg.model, &gg.model, &summaries, 90.0, &options);
    let predict_seconds = started.elapsed().as_secs_f64();
    let n = predictions.len() as f64;
    let mean = |f: fn(&cohort::traits::predict::Prediction) -> f64| {
        predictions.iter().map(f).sum::<f64>() / n
    };
    println!(
        "predictions (90-day purchases, P(alive), 12-month CLV at 1%/month): {:.2} s; \
         means: purchases {:.4}, P(alive) {:.4}, order value {:.2}, CLV {:.2}",
        predict_seconds,
        mean(|p| p.expected_purchases),
        mean(|p| p.p_alive),
        mean(|p| p.expected_order_value),
        mean(|p| p.clv)
    );
}
