//! Greedy k-means++ seeding, as scikit-learn does it: each new centroid is
//! the best (lowest resulting inertia) of `2 + ln k` candidates drawn with
//! probability proportional to their squared distance to the nearest
//! centroid so far. Run on a sample: the seeding only has to land one
//! centroid in each dense region, and a 100,000-row sample does that as well
//! as a million rows at a tenth of the cost.

use rand::Rng;
use rayon::prelude::*;

const CHUNK: usize = 4096;

/// `k` starting centroids (`k × d`, row-major) picked among the rows of
/// `data` (`n × d`, row-major).
pub(super) fn kmeans_plus_plus(data: &[f64], d: usize, k: usize, rng: &mut impl Rng) -> Vec<f64> {
    let n = data.len() / d;
    assert!(n >= k && k > 0);
    let row = |i: usize| &data[i * d..(i + 1) * d];
    let trials = std::env::var("COHORT_KMPP_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2 + (k as f64).ln().floor() as usize);

    let mut centroids = Vec::with_capacity(k * d);
    let first = rng.random_range(0..n);
    centroids.extend_from_slice(row(first));
    let mut closest = distances_to(data, d, row(first), None);
    let mut potential = sum(&closest);

    let mut cumulative = vec![0.0; n];
    for _ in 1..k {
        let mut running = 0.0;
        for (c, &x) in cumulative.iter_mut().zip(&closest) {
            running += x;
            *c = running;
        }
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            // When every row already sits on a centroid (duplicates), any row will do.
            let candidate = if potential > 0.0 {
                let target = rng.random::<f64>() * potential;
                cumulative.partition_point(|&c| c <= target).min(n - 1)
            } else {
                rng.random_range(0..n)
            };
            let updated = distances_to(data, d, row(candidate), Some(&closest));
            let p = sum(&updated);
            if best.as_ref().is_none_or(|b| p < b.0) {
                best = Some((p, candidate, updated));
            }
        }
        let (p, candidate, updated) = best.expect("at least two trials");
        centroids.extend_from_slice(row(candidate));
        closest = updated;
        potential = p;
    }
    centroids
}

/// Squared distance of every row to `c`, or the minimum of that and `floor`.
fn distances_to(data: &[f64], d: usize, c: &[f64], floor: Option<&[f64]>) -> Vec<f64> {
    let mut out = vec![0.0; data.len() / d];
    out.par_chunks_mut(CHUNK)
        .zip(data.par_chunks(CHUNK * d))
        .enumerate()
        .for_each(|(chunk, (out, rows))| {
            for (i, (o, x)) in out.iter_mut().zip(rows.chunks_exact(d)).enumerate() {
                let dist: f64 = x.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum();
                *o = match floor {
                    Some(f) => dist.min(f[chunk * CHUNK + i]),
                    None => dist,
                };
            }
        });
    out
}

/// Sum in fixed-size chunks, so the rounding does not depend on threads.
fn sum(values: &[f64]) -> f64 {
    values
        .par_chunks(CHUNK)
        .map(|c| c.iter().sum::<f64>())
        .collect::<Vec<f64>>()
        .iter()
        .sum()
}
