//! Greedy k-means++ seeding, as scikit-learn does it: each new centroid is
//! the best (lowest resulting inertia) of `2 + ln k` candidates drawn with
//! probability proportional to their squared distance to the nearest
//! centroid so far. Run on the rows `KMeansParams::init_rows` picks (up to
//! a million by default; smaller samples land in worse optima more often).

use rand::Rng;
use rayon::prelude::*;

const CHUNK: usize = 4096;

/// `k` starting centroids (`k × d`, row-major) picked among the rows of
/// `data` (`n × d`, row-major).
pub(super) fn kmeans_plus_plus(data: &[f64], d: usize, k: usize, rng: &mut impl Rng) -> Vec<f64> {
    let n = data.len() / d;
    assert!(n >= k && k > 0);
    let row = |i: usize| &data[i * d..(i + 1) * d];
    let trials = 2 + (k as f64).ln().floor() as usize;

    let mut centroids = Vec::with_capacity(k * d);
    let first = rng.random_range(0..n);
    centroids.extend_from_slice(row(first));
    let mut closest = vec![0.0; n];
    let mut potential = distances_to(&mut closest, data, d, row(first), None);

    // One buffer per trial, reused: the winner's becomes `closest`.
    let mut tried: Vec<Vec<f64>> = (0..trials).map(|_| vec![0.0; n]).collect();
    let mut cumulative = vec![0.0; n];
    for _ in 1..k {
        let mut running = 0.0;
        for (c, &x) in cumulative.iter_mut().zip(&closest) {
            running += x;
            *c = running;
        }
        let mut best: Option<(f64, usize, usize)> = None;
        for (t, buffer) in tried.iter_mut().enumerate() {
            // When every row already sits on a centroid (duplicates), any row will do.
            let candidate = if potential > 0.0 {
                let target = rng.random::<f64>() * potential;
                cumulative.partition_point(|&c| c <= target).min(n - 1)
            } else {
                rng.random_range(0..n)
            };
            let p = distances_to(buffer, data, d, row(candidate), Some(&closest));
            if best.is_none_or(|b| p < b.0) {
                best = Some((p, candidate, t));
            }
        }
        let (p, candidate, t) = best.expect("at least two trials");
        centroids.extend_from_slice(row(candidate));
        std::mem::swap(&mut closest, &mut tried[t]);
        potential = p;
    }
    centroids
}

/// Writes each row's squared distance to `c` (or the minimum of that and
/// `floor`) into `out` and returns their sum, added in fixed-size chunks so
/// the rounding does not depend on threads.
fn distances_to(out: &mut [f64], data: &[f64], d: usize, c: &[f64], floor: Option<&[f64]>) -> f64 {
    let partial: Vec<f64> = out
        .par_chunks_mut(CHUNK)
        .zip(data.par_chunks(CHUNK * d))
        .enumerate()
        .map(|(chunk, (out, rows))| {
            squared_distances(rows, d, c, out);
            if let Some(f) = floor {
                for (o, &f) in out.iter_mut().zip(&f[chunk * CHUNK..]) {
                    *o = o.min(f);
                }
            }
            out.iter().sum::<f64>()
        })
        .collect();
    partial.iter().sum()
}

/// Squared distances of `rows` to `c`, four rows at a time so the four
/// running sums proceed in parallel instead of waiting on each other.
fn squared_distances(rows: &[f64], d: usize, c: &[f64], out: &mut [f64]) {
    let mut quads = rows.chunks_exact(4 * d);
    let mut outs = out.chunks_exact_mut(4);
    for (quad, o) in (&mut quads).zip(&mut outs) {
        let mut acc = [0.0f64; 4];
        for (e, &ce) in c.iter().enumerate() {
            for (r, a) in acc.iter_mut().enumerate() {
                let t = quad[r * d + e] - ce;
                *a += t * t;
            }
        }
        o.copy_from_slice(&acc);
    }
    for (x, o) in quads.remainder().chunks_exact(d).zip(outs.into_remainder()) {
        *o = x.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum();
    }
}
