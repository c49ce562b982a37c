//! Generated data and scores shared by the tests.

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// `per` rows around each centre with the given standard deviation; returns
/// the rows (grouped by centre) and each row's true centre.
pub(crate) fn blobs(
    centres: &[Vec<f64>],
    per: usize,
    spread: f64,
    seed: u64,
) -> (Array2<f64>, Vec<usize>) {
    let d = centres[0].len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0, spread).unwrap();
    let mut data = Array2::zeros((centres.len() * per, d));
    let mut truth = Vec::with_capacity(centres.len() * per);
    for (c, centre) in centres.iter().enumerate() {
        for i in 0..per {
            for e in 0..d {
                data[[c * per + i, e]] = centre[e] + noise.sample(&mut rng);
            }
            truth.push(c);
        }
    }
    (data, truth)
}

/// `k` centres on the axes, `gap` apart: well separated for small spreads.
pub(crate) fn axis_centres(k: usize, d: usize, gap: f64) -> Vec<Vec<f64>> {
    (0..k)
        .map(|c| {
            (0..d)
                .map(|e| {
                    if e == c % d {
                        gap * (1 + c / d) as f64
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

/// Adjusted Rand index between two labellings (1 = identical partitions).
pub(crate) fn adjusted_rand(a: &[usize], b: &[usize]) -> f64 {
    let ka = a.iter().max().unwrap() + 1;
    let kb = b.iter().max().unwrap() + 1;
    let mut table = vec![vec![0f64; kb]; ka];
    for (&x, &y) in a.iter().zip(b) {
        table[x][y] += 1.0;
    }
    let pairs = |v: f64| v * (v - 1.0) / 2.0;
    let index: f64 = table.iter().flatten().map(|&v| pairs(v)).sum();
    let rows: f64 = table.iter().map(|r| pairs(r.iter().sum())).sum();
    let cols: f64 = (0..kb)
        .map(|j| pairs(table.iter().map(|r| r[j]).sum()))
        .sum();
    let expected = rows * cols / pairs(a.len() as f64);
    let max = (rows + cols) / 2.0;
    (index - expected) / (max - expected)
}
