//! K-means and silhouette at scale, on data scikit-learn can read too.
//!
//! Generates ROWS (default 1,000,000) × 8 standardised features: a seeded
//! mixture of 8 Gaussians of different sizes and spreads, some overlapping.
//! Writes them to KMEANS_DATA (a `.npy` file, float64, C order) when set, then
//! times our k-means with k = 8 and one k-means++ init (the comparison with
//! scikit-learn's `n_init=1`), the same with the best of 4 seedings tried on
//! the 100,000-row seeding sample (what `cluster::run` does, not one init),
//! and the silhouette on 20,000 rows. `scripts/bench-kmeans` runs
//! scikit-learn on the same file.
//!
//!     cargo bench --bench kmeans
//!     KMEANS_DATA=/tmp/kmeans.npy RUNS=5 cargo bench --bench kmeans
//!     SEED_SWEEP=40 cargo bench --bench kmeans   # inertia and time for seeds 0..40
//!     KMEANS_LINFA=1 cargo bench --bench kmeans  # also time linfa-clustering's KMeans
//!
//! Prints `key=value` lines (`ours_seconds`, `ours_inertia`, ...) for the script.

use std::io::Write;
use std::time::Instant;

use cohort::cluster::k_means::{fit, KMeansParams};
use cohort::cluster::quality::silhouette;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

const D: usize = 8;
const K: usize = 8;

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
    let rows = env("ROWS", 1_000_000);
    let runs = env("RUNS", 3).max(1);
    let seed = env("SEED", 42) as u64;

    let started = Instant::now();
    let data = generate(rows, seed);
    eprintln!(
        "generated {rows} × {D} in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    if let Ok(path) = std::env::var("KMEANS_DATA") {
        write_npy(&path, &data).expect("write the data file");
        eprintln!("wrote {path}");
    }

    let mut times = Vec::new();
    let mut found = None;
    for run in 0..runs {
        let started = Instant::now();
        let fitted = fit(data.view(), &KMeansParams::new(K, 0)).expect("k-means");
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "run {}: {secs:.3} s, inertia {:.1}, {} iterations, converged {}",
            run + 1,
            fitted.inertia,
            fitted.iterations,
            fitted.converged
        );
        times.push(secs);
        found = Some(fitted);
    }
    let found = found.unwrap();
    times.sort_by(f64::total_cmp);
    println!("ours_seconds={:.4}", times[0]);
    println!("ours_seconds_median={:.4}", times[times.len() / 2]);
    println!("ours_inertia={:.6}", found.inertia);
    println!("ours_iterations={}", found.iterations);

    let mut times = Vec::new();
    let mut sampled = None;
    for _ in 0..runs {
        let params = KMeansParams {
            sample_inits: 4,
            init_rows: 100_000,
            ..KMeansParams::new(K, 0)
        };
        let started = Instant::now();
        let fitted = fit(data.view(), &params).expect("k-means");
        times.push(started.elapsed().as_secs_f64());
        sampled = Some(fitted);
    }
    let sampled = sampled.unwrap();
    times.sort_by(f64::total_cmp);
    eprintln!(
        "best of 4 seedings on the sample: {:.3} s, inertia {:.1}, {} iterations on all rows",
        times[0], sampled.inertia, sampled.iterations
    );
    println!("sampled_inits_seconds={:.4}", times[0]);
    println!("sampled_inits_inertia={:.6}", sampled.inertia);

    let labels: Vec<Option<usize>> = found.labels.iter().map(|&l| Some(l as usize)).collect();
    let started = Instant::now();
    let s = silhouette(data.view(), &labels, 20_000, seed).expect("two clusters");
    println!("silhouette_seconds={:.4}", started.elapsed().as_secs_f64());
    println!("silhouette_20k={s:.4}");

    // SEED_SWEEP=n: the spread of inertia over n seeds (one init each).
    // INIT_ROWS: rows sampled for k-means++ seeding in the sweep.
    for seed in 0..env("SEED_SWEEP", 0) as u64 {
        let params = KMeansParams {
            init_rows: env("INIT_ROWS", KMeansParams::new(K, 0).init_rows),
            ..KMeansParams::new(K, seed)
        };
        let started = Instant::now();
        let fitted = fit(data.view(), &params).expect("k-means");
        println!(
            "sweep seed={seed} seconds={:.4} inertia={:.1} iterations={}",
            started.elapsed().as_secs_f64(),
            fitted.inertia,
            fitted.iterations
        );
    }

    if std::env::var("KMEANS_LINFA").is_ok() {
        linfa_kmeans(&data);
    }
}

/// linfa-clustering's KMeans with one run and its default k-means++ init,
/// for the record of why `cluster::k_means` exists.
fn linfa_kmeans(data: &Array2<f64>) {
    use linfa::traits::Fit;
    use linfa::DatasetBase;
    use linfa::ParamGuard;
    let dataset = DatasetBase::from(data.clone());
    let started = Instant::now();
    let model = linfa_clustering::KMeans::params(K)
        .n_runs(1)
        .check()
        .unwrap()
        .fit(&dataset)
        .expect("linfa k-means");
    println!("linfa_seconds={:.4}", started.elapsed().as_secs_f64());
    // linfa reports the mean squared distance; scale to a sum like the others.
    println!("linfa_inertia={:.6}", model.inertia() * data.nrows() as f64);
}

/// A mixture of 8 Gaussians in 8 dimensions: centres drawn at random (some
/// close enough to overlap), unequal weights and spreads, then every column
/// standardised.
fn generate(rows: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let place = Normal::new(0.0, 1.5).unwrap();
    let centres: Vec<[f64; D]> = (0..K)
        .map(|_| std::array::from_fn(|_| place.sample(&mut rng)))
        .collect();
    let spreads: Vec<f64> = (0..K).map(|_| rng.random_range(0.8..2.0)).collect();
    let weights: Vec<f64> = (0..K).map(|_| rng.random_range(0.5..2.0)).collect();
    let total: f64 = weights.iter().sum();
    let unit = Normal::new(0.0, 1.0).unwrap();
    let mut data = Array2::zeros((rows, D));
    for mut row in data.rows_mut() {
        let mut pick = rng.random::<f64>() * total;
        let mut c = 0;
        while c + 1 < K && pick >= weights[c] {
            pick -= weights[c];
            c += 1;
        }
        for e in 0..D {
            row[e] = centres[c][e] + spreads[c] * unit.sample(&mut rng);
        }
    }
    for mut column in data.columns_mut() {
        let n = column.len() as f64;
        let mean = column.sum() / n;
        let std = (column.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        column.mapv_inplace(|x| (x - mean) / std);
    }
    data
}

/// NumPy's `.npy` format, version 1.0: magic, header length, a Python dict
/// padded to 64 bytes, then the raw little-endian float64 values.
fn write_npy(path: &str, data: &Array2<f64>) -> std::io::Result<()> {
    let (n, d) = data.dim();
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, {d}), }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"\x93NUMPY\x01\x00")?;
    out.write_all(&(header.len() as u16).to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    for x in data.iter() {
        out.write_all(&x.to_le_bytes())?;
    }
    out.flush()
}
