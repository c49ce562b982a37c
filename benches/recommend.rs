//! Recommendation models at scale, on data the `implicit` library can read
//! too (`scripts/bench-recommend` runs it on the same file).
//!
//! Generates USERS (default 100,000) × ITEMS (20,000) with INTERACTIONS
//! (2,000,000) seeded `(user, item, strength)` triplets: item popularity is
//! a power law (Zipf, exponent 0.9), users' activity log-normal, and every
//! user and item belongs to one of GROUPS (8) taste groups (`u % GROUPS`,
//! `i % GROUPS`): 80% of a user's interactions come from its own group's
//! items, the rest from all items. Strengths are 1, 2, 3, ... (mostly 1).
//! Repeated pairs are summed, so the matrix has somewhat fewer entries.
//!
//! With COHORT_BENCH_DATA=path (or a path argument after `--`) it writes
//! the matrix there: the 8 bytes `COHORTM1`, then rows, columns and entries
//! as little-endian u64, then the entries' row indices (u32), column
//! indices (u32) and values (f32), each as one little-endian array.
//!
//! Then times, best of RUNS (default 1):
//! - ALS training: 64 factors, 15 iterations, regularization 0.01, alpha 1;
//! - `recommend_all`: top 10 for every user, excluding what it has seen;
//! - item-kNN neighbours with `KnnParams::default()`;
//! - the stored-list path of `cohort recommend train` for ALS
//!   (`Fitted::recommend_many`: the kernel's candidates, rules, explanations,
//!   popularity fill-up) for every user, against a catalogue of 20
//!   categories and 50 brands, with what each user has seen counted as
//!   bought; and the plain per-profile path (`Fitted::recommend`: every
//!   product scored) on the first PLAIN_USERS (default 5,000) users, with
//!   its time scaled to all users.
//!
//! ```text
//! cargo bench --bench recommend
//! COHORT_BENCH_DATA=/tmp/recommend.bin RUNS=3 cargo bench --bench recommend
//! USERS=10000 ITEMS=5000 INTERACTIONS=200000 cargo bench --bench recommend
//! ONLY=als cargo bench --bench recommend          # any of als,recommend,knn,stored
//! ```
//!
//! Prints `name value` lines (`als_train_seconds 4.95`, ...).

use std::io::Write;
use std::time::Instant;

use cohort::recommend::als::{train, AlsConfig, AlsModel};
use cohort::recommend::item_knn::{neighbours, KnnParams};
use cohort::recommend::matrix::Matrix;
use cohort::recommend::{Catalogue, Fitted, Product, Settings};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

fn main() {
    // `cargo test --all-targets` runs bench binaries too; only `cargo bench` passes --bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let users = env("USERS", 100_000);
    let items = env("ITEMS", 20_000);
    let interactions = env("INTERACTIONS", 2_000_000);
    let groups = env("GROUPS", 8).max(1);
    let runs = env("RUNS", 1).max(1);
    let seed = env("SEED", 42) as u64;
    // ONLY=als,recommend,knn (any subset) limits what is timed, for profiling.
    let only = std::env::var("ONLY").unwrap_or_else(|_| "als,recommend,knn,stored".into());
    let wanted = |what: &str| only.split(',').any(|w| w.trim() == what);

    let started = Instant::now();
    let m = generate(users, items, interactions, groups, seed);
    eprintln!(
        "generated {users} × {items}, {interactions} interactions → {} entries in {:.2} s",
        m.nnz(),
        started.elapsed().as_secs_f64()
    );
    println!("users {users}");
    println!("items {items}");
    println!("entries {}", m.nnz());
    println!("groups {groups}");
    println!("threads {}", rayon::current_num_threads());
    // The data file: COHORT_BENCH_DATA, or the first argument that is not a
    // flag (`cargo bench --bench recommend -- /tmp/recommend.bin`).
    let path = std::env::var("COHORT_BENCH_DATA")
        .ok()
        .or_else(|| std::env::args().skip(1).find(|a| !a.starts_with('-')));
    if let Some(path) = path {
        write_matrix(&path, &m).expect("write the data file");
        eprintln!("wrote {path}");
    }

    let cfg = AlsConfig {
        factors: 64,
        regularization: 0.01,
        alpha: 1.0,
        iterations: 15,
        seed: 42,
    };
    // recommend_all needs a trained model.
    if wanted("als") || wanted("recommend") || wanted("stored") {
        let mut model = None;
        let train_s = best_of(runs, "als train", || {
            model = train(&m, &cfg, &mut |_| true);
        });
        let model = model.expect("not cancelled");
        println!("als_train_seconds {train_s:.3}");
        if wanted("recommend") {
            recommend(&model, &m, runs, groups);
        }
        if wanted("stored") {
            stored(model, &m, runs, env("PLAIN_USERS", 5_000));
        }
    }
    if wanted("knn") {
        let knn_s = best_of(runs, "item_knn neighbours", || {
            std::hint::black_box(neighbours(&m, &KnnParams::default()));
        });
        println!("item_knn_neighbours_seconds {knn_s:.3}");
    }
}

fn recommend(model: &AlsModel, m: &Matrix, runs: usize, groups: usize) {
    let mut recs = Vec::new();
    let rec_s = best_of(runs, "als recommend_all", || {
        recs = model.recommend_all(m, 10);
    });
    println!("als_recommend_all_seconds {rec_s:.3}");
    // Sanity: the share of recommended items from the user's taste group
    // (1/GROUPS by chance); the script computes the same for `implicit`.
    let (mut hits, mut total) = (0usize, 0usize);
    for (u, list) in recs.iter().enumerate() {
        total += list.len();
        hits += list
            .iter()
            .filter(|&&(i, _)| i as usize % groups == u % groups)
            .count();
    }
    println!(
        "als_recs_in_user_group {:.4}",
        hits as f64 / total.max(1) as f64
    );
}

/// The product path: what `cohort recommend train` does per profile once
/// ALS is trained.
fn stored(model: AlsModel, m: &Matrix, runs: usize, plain_users: usize) {
    let products = (0..m.cols)
        .map(|i| Product {
            sku: format!("SKU-{i}"),
            title: Some(format!("Product {i}")),
            category: Some(format!("Category {}", i % 20)),
            brand: Some(format!("Brand {}", i % 50)),
            price: Some(500 + (i as i64 * 37) % 20_000),
            price_band: 1 + (i % 5) as u8,
            in_stock: Some(i % 40 != 0),
        })
        .collect();
    let catalogue = Catalogue::from_products(products);
    let settings = Settings::default();
    let fitted = Fitted::from_als(model, m, &catalogue, &settings);
    let applied = fitted.rules(&settings.rules, &catalogue);
    let purchased: Vec<Vec<u32>> = (0..m.rows).map(|u| m.row(u).0.to_vec()).collect();
    let users: Vec<usize> = (0..m.rows).collect();
    let mut lists = Vec::new();
    let fast_s = best_of(runs, "stored lists (recommend_many)", || {
        lists = fitted.recommend_many(&catalogue, &applied, m, &users, &purchased, None, 10);
    });
    println!("stored_lists_seconds {fast_s:.3}");
    let sample: Vec<usize> = (0..plain_users.min(m.rows)).collect();
    let plain_s = best_of(runs, "plain per-profile path (sample)", || {
        let plain: Vec<_> = sample
            .par_iter()
            .map_init(Vec::new, |scratch, &u| {
                fitted.recommend(
                    &catalogue,
                    &applied,
                    u,
                    m.row(u),
                    &purchased[u],
                    None,
                    10,
                    scratch,
                )
            })
            .collect();
        // The two paths agree (the unit tests prove it on every profile).
        assert!(plain.iter().zip(&lists).all(|(a, b)| a == b));
    });
    let scaled = plain_s * m.rows as f64 / sample.len().max(1) as f64;
    println!("plain_lists_seconds_scaled {scaled:.3}");
}

fn best_of(runs: usize, what: &str, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for run in 0..runs {
        let started = Instant::now();
        f();
        let secs = started.elapsed().as_secs_f64();
        eprintln!("{what} run {}: {secs:.3} s", run + 1);
        best = best.min(secs);
    }
    best
}

/// Cumulative weights `1 / (rank + 1)^0.9` of `members` (ranked by index).
fn zipf_cdf(members: impl Iterator<Item = usize>) -> (Vec<u32>, Vec<f64>) {
    let mut ids = Vec::new();
    let mut cdf = Vec::new();
    let mut total = 0.0;
    for i in members {
        total += 1.0 / ((i + 1) as f64).powf(0.9);
        ids.push(i as u32);
        cdf.push(total);
    }
    for c in &mut cdf {
        *c /= total;
    }
    (ids, cdf)
}

fn generate(users: usize, items: usize, interactions: usize, groups: usize, seed: u64) -> Matrix {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let global = zipf_cdf(0..items);
    let by_group: Vec<_> = (0..groups)
        .map(|g| zipf_cdf((g..items).step_by(groups)))
        .collect();
    // Activity: log-normal weights, at least one interaction each.
    let normal = Normal::new(0.0f64, 1.0).unwrap();
    let raw: Vec<f64> = (0..users).map(|_| normal.sample(&mut rng).exp()).collect();
    let sum: f64 = raw.iter().sum();
    let spare = interactions.saturating_sub(users) as f64;
    let mut counts: Vec<usize> = raw.iter().map(|w| 1 + (spare * w / sum) as usize).collect();
    let mut assigned: usize = counts.iter().sum();
    let mut u = 0;
    while assigned < interactions && users > 0 {
        counts[u % users] += 1;
        assigned += 1;
        u += 1;
    }
    let mut triplets = Vec::with_capacity(assigned);
    for (u, &n) in counts.iter().enumerate() {
        let own = &by_group[u % groups];
        for _ in 0..n {
            let (ids, cdf) = if rng.random::<f64>() < 0.8 && !own.0.is_empty() {
                (&own.0, &own.1)
            } else {
                (&global.0, &global.1)
            };
            let r = rng.random::<f64>();
            let at = cdf.partition_point(|&c| c < r).min(ids.len() - 1);
            let strength = 1.0 + (-(1.0 - rng.random::<f64>()).ln()).floor();
            triplets.push((u as u32, ids[at], strength as f32));
        }
    }
    Matrix::from_triplets(users, items, &triplets)
}

fn write_matrix(path: &str, m: &Matrix) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"COHORTM1")?;
    for n in [m.rows, m.cols, m.nnz()] {
        out.write_all(&(n as u64).to_le_bytes())?;
    }
    for r in 0..m.rows {
        let n = m.indptr[r + 1] - m.indptr[r];
        for _ in 0..n {
            out.write_all(&(r as u32).to_le_bytes())?;
        }
    }
    for &c in &m.indices {
        out.write_all(&c.to_le_bytes())?;
    }
    for &v in &m.values {
        out.write_all(&v.to_le_bytes())?;
    }
    out.flush()
}
