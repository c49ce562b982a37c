//! K-means (Lloyd's algorithm), written for this crate rather than taken
//! from `linfa-clustering`.
//!
//! Why not linfa's `KMeans` for this: on `benches/kmeans.rs`'s 1,000,000 × 8
//! rows with k = 8 and a single run it took 11.5 s on the 2-core dev
//! machine, against about 2 s for scikit-learn and 0.5 s for this module
//! (`scripts/bench-kmeans`). linfa computes each distance through its
//! generic `Distance` trait one centroid at a time, and stops on an absolute
//! centroid movement, so scikit-learn's tolerance relative to the data's
//! variance cannot be asked for. Ours keeps 8 centroids side by side so one
//! row's 8 distances are computed together in SIMD registers, sweeps the rows
//! in parallel with rayon in fixed-size chunks (the same seed gives the same
//! labels whatever the number of cores), and seeds with greedy k-means++ on a
//! sample. linfa stays in charge of DBSCAN and the Gaussian mixture, which it
//! does well.
//!
//! - `lloyd.rs`: the assign-and-sum sweep, the only hot loop.
//! - `init.rs`: k-means++ seeding.
//! - `choose_k.rs`: k by the best silhouette, with the elbow curve.

mod choose_k;
mod init;
mod lloyd;

pub use choose_k::{choose_k, KSearch};
pub(crate) use lloyd::has_avx2_fma;

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use super::error::{ClusterError, Result};
use super::sample::{self, Stream};

/// Settings for one k-means fit. Defaults follow scikit-learn's.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    pub k: usize,
    /// Lloyd iterations at most.
    pub max_iterations: usize,
    /// Stop when the centroids' total squared movement falls to this
    /// fraction of the mean per-feature variance (scikit-learn's `tol`).
    pub tolerance: f64,
    pub init: Init,
    /// Rows sampled for k-means++ seeding. The default seeds on up to a
    /// million rows: on a 100,000-row sample about one seeding in ten
    /// landed in a worse local optimum (+3.8% inertia on the k-means
    /// bench's seed 0), on every row ten seeds in ten reached the best one,
    /// as scikit-learn does, for a few tenths of a second more.
    pub init_rows: usize,
    /// Seedings tried. With 1, one greedy k-means++ seeding starts the fit
    /// (scikit-learn's `n_init=1`). With more, each seeding is refined by
    /// Lloyd on the seeding sample and the one with the lowest inertia there
    /// starts the fit on all rows: a single k-means++ lands in a visibly
    /// worse local optimum in roughly one run in ten on overlapping data,
    /// and trying a few on a sample costs a fraction of one full fit.
    pub sample_inits: usize,
    pub seed: u64,
}

impl KMeansParams {
    pub fn new(k: usize, seed: u64) -> Self {
        KMeansParams {
            k,
            max_iterations: 300,
            tolerance: 1e-4,
            init: Init::KMeansPlusPlus,
            init_rows: 1_000_000,
            sample_inits: 1,
            seed,
        }
    }
}

/// Where the centroids start.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Greedy k-means++ on a seeded sample of `init_rows` rows.
    KMeansPlusPlus,
    /// Given centroids, `k × d` (for example a fit on a sample).
    Centroids(Array2<f64>),
}

/// The outcome of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit {
    /// `k × d`, in the space of the data given.
    pub centroids: Array2<f64>,
    /// Per row, its centroid.
    pub labels: Vec<u32>,
    /// Sum of squared distances of the rows to their centroids.
    pub inertia: f64,
    pub iterations: usize,
    /// False when `max_iterations` ran out first.
    pub converged: bool,
}

/// Fits k centroids to the rows of `data` (`n × d`).
pub fn fit(data: ArrayView2<f64>, params: &KMeansParams) -> Result<KMeansFit> {
    let (n, d) = data.dim();
    let k = params.k;
    if k == 0 || d == 0 {
        return Err(ClusterError::InvalidConfig(
            "k-means needs k ≥ 1 and at least one feature".into(),
        ));
    }
    if n < k {
        return Err(ClusterError::TooFewRows { rows: n, needed: k });
    }
    let data = data.as_standard_layout();
    let rows = data.as_slice().expect("standard layout");

    let centroids: Vec<f64> = match &params.init {
        Init::KMeansPlusPlus => {
            let picked =
                sample::indices(n, params.init_rows.max(k), params.seed, Stream::KMeansInit);
            let copied: Vec<f64>;
            let subset: &[f64] = if picked.len() == n {
                rows
            } else {
                copied = picked
                    .iter()
                    .flat_map(|&i| &rows[i * d..(i + 1) * d])
                    .copied()
                    .collect();
                &copied
            };
            let mut rng = sample::rng(params.seed, Stream::KMeansSeeding);
            let seeded = init::kmeans_plus_plus(subset, d, k, &mut rng);
            if params.sample_inits <= 1 {
                seeded
            } else {
                let mut best = lloyd_loop(subset, d, k, seeded, params);
                for _ in 1..params.sample_inits {
                    let seeded = init::kmeans_plus_plus(subset, d, k, &mut rng);
                    let tried = lloyd_loop(subset, d, k, seeded, params);
                    if tried.inertia < best.inertia {
                        best = tried;
                    }
                }
                best.centroids.into_raw_vec_and_offset().0
            }
        }
        Init::Centroids(c) => {
            if c.dim() != (k, d) {
                return Err(ClusterError::InvalidConfig(format!(
                    "starting centroids are {:?}, expected ({k}, {d})",
                    c.dim()
                )));
            }
            c.iter().copied().collect()
        }
    };
    Ok(lloyd_loop(rows, d, k, centroids, params))
}

/// Lloyd iterations from `centroids` until they settle (see
/// [`KMeansParams::tolerance`]) or `max_iterations` run out.
fn lloyd_loop(
    rows: &[f64],
    d: usize,
    k: usize,
    mut centroids: Vec<f64>,
    params: &KMeansParams,
) -> KMeansFit {
    let n = rows.len() / d;
    let tolerance = params.tolerance * mean_variance(rows, d);
    let mut labels = vec![u32::MAX; n];
    let mut iterations = 0;
    let mut converged = false;
    let mut final_sweep = None;
    while iterations < params.max_iterations {
        let sweep = lloyd::sweep(rows, d, &lloyd::Packed::new(&centroids, k, d), &mut labels);
        iterations += 1;
        if sweep.changed == 0 {
            // Same labels as last time, so the centroids already are their means.
            converged = true;
            final_sweep = Some(sweep);
            break;
        }
        let moved = update_centroids(&mut centroids, &sweep, rows, d);
        if moved <= tolerance {
            converged = true;
            break;
        }
    }
    // As scikit-learn does: label the rows by the final centroids, so labels,
    // centroids and inertia agree.
    let sweep = match final_sweep {
        Some(s) => s,
        None => lloyd::sweep(rows, d, &lloyd::Packed::new(&centroids, k, d), &mut labels),
    };
    KMeansFit {
        centroids: Array2::from_shape_vec((k, d), centroids).expect("k × d"),
        labels,
        inertia: sweep.inertia,
        iterations,
        converged,
    }
}

/// Labels each row of `data` with its nearest centroid; returns the labels
/// and the inertia.
pub fn predict(data: ArrayView2<f64>, centroids: ArrayView2<f64>) -> (Vec<u32>, f64) {
    let (n, d) = data.dim();
    assert_eq!(centroids.ncols(), d, "centroids and data differ in width");
    let data = data.as_standard_layout();
    let c = centroids.as_standard_layout();
    let mut labels = vec![u32::MAX; n];
    let packed = lloyd::Packed::new(c.as_slice().unwrap(), centroids.nrows(), d);
    let sweep = lloyd::sweep(data.as_slice().unwrap(), d, &packed, &mut labels);
    (labels, sweep.inertia)
}

/// Moves every centroid to the mean of its rows and returns the total
/// squared movement. A centroid left without rows is moved onto the row
/// farthest from its own centroid (as scikit-learn does), so k clusters
/// stay k clusters.
fn update_centroids(centroids: &mut [f64], sweep: &lloyd::Sweep, rows: &[f64], d: usize) -> f64 {
    let mut far = sweep.farthest.clone();
    far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut far = far.into_iter().map(|(_, row)| row);
    let mut moved = 0.0;
    for (j, c) in centroids.chunks_exact_mut(d).enumerate() {
        let count = sweep.counts[j];
        let sum = &sweep.sums[j * d..(j + 1) * d];
        let target: Vec<f64> = if count > 0 {
            sum.iter().map(|s| s / count as f64).collect()
        } else if let Some(row) = far.next() {
            rows[row * d..(row + 1) * d].to_vec()
        } else {
            c.to_vec()
        };
        for (old, new) in c.iter_mut().zip(target) {
            moved += (new - *old) * (new - *old);
            *old = new;
        }
    }
    moved
}

/// Mean over features of each feature's variance, for the stopping rule
/// (two passes: the data need not be centred).
fn mean_variance(rows: &[f64], d: usize) -> f64 {
    let n = (rows.len() / d) as f64;
    // Per column, the sum of `x` (no centre given) or of `(x - centre)²`.
    let column_sums = |centre: Option<&[f64]>| -> Vec<f64> {
        let partial: Vec<Vec<f64>> = rows
            .par_chunks(lloyd::CHUNK_ROWS * d)
            .map(|c| {
                let mut s = vec![0.0; d];
                for x in c.chunks_exact(d) {
                    for e in 0..d {
                        s[e] += match centre {
                            None => x[e],
                            Some(m) => (x[e] - m[e]) * (x[e] - m[e]),
                        };
                    }
                }
                s
            })
            .collect();
        partial.iter().fold(vec![0.0; d], |mut acc, p| {
            acc.iter_mut().zip(p).for_each(|(a, b)| *a += b);
            acc
        })
    };
    let means: Vec<f64> = column_sums(None).iter().map(|s| s / n).collect();
    column_sums(Some(&means)).iter().sum::<f64>() / n / d as f64
}

#[cfg(test)]
mod tests;
