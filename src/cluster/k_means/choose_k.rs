//! Choosing k: fit k-means for every k in a range on a seeded sample, score
//! each by its silhouette on a smaller sample of that sample, keep the best.
//! The same fits give the elbow curve (inertia per k) for the chart.

use std::ops::RangeInclusive;

use ndarray::{Array2, ArrayView2, Axis};

use super::{fit, Init, KMeansParams};
use crate::cluster::error::{ClusterError, Result};
use crate::cluster::quality::silhouette_exact;
use crate::cluster::sample::{self, Stream};

/// The search's findings.
#[derive(Debug, Clone, PartialEq)]
pub struct KSearch {
    /// The k with the highest silhouette (the smaller k on a tie).
    pub best_k: usize,
    /// `(k, inertia)`, scaled from the sample up to all rows so it reads in
    /// the same units as a fit on everything.
    pub elbow: Vec<(usize, f64)>,
    /// `(k, mean silhouette)`.
    pub silhouette_by_k: Vec<(usize, f64)>,
    /// The centroids found for each k (in `elbow` order) on the sample: a
    /// good start for the fit on all rows.
    pub centroids: Vec<Array2<f64>>,
    /// Rows the fits ran on, and rows the silhouettes were measured on.
    pub fit_rows: usize,
    pub silhouette_rows: usize,
}

/// Tries every k in `ks` (those above the number of rows are skipped), each
/// with the best of `inits` k-means++ seedings: a single seeding can land in
/// a poor local optimum, and the silhouette would then pass over the right k.
/// `on_k` is called after each k with (done, total) and may stop the search
/// by returning an error.
pub fn choose_k(
    data: ArrayView2<f64>,
    ks: RangeInclusive<usize>,
    seed: u64,
    fit_rows: usize,
    silhouette_rows: usize,
    inits: usize,
    on_k: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<KSearch> {
    let n = data.nrows();
    let ks: Vec<usize> = ks.filter(|&k| k >= 2 && k < n).collect();
    if ks.is_empty() {
        return Err(ClusterError::TooFewRows { rows: n, needed: 3 });
    }
    let picked = sample::indices(n, fit_rows, seed, Stream::ChooseK);
    let subset = data.select(Axis(0), &picked);
    let scored = sample::indices(
        subset.nrows(),
        silhouette_rows,
        seed,
        Stream::ChooseKSilhouette,
    );
    let scored_rows = subset.select(Axis(0), &scored);
    let scale = n as f64 / subset.nrows() as f64;

    let mut elbow = Vec::with_capacity(ks.len());
    let mut silhouette_by_k = Vec::with_capacity(ks.len());
    let mut centroids = Vec::with_capacity(ks.len());
    let mut best: Option<(f64, usize)> = None;
    for (done, &k) in ks.iter().enumerate() {
        let params = KMeansParams {
            init: Init::KMeansPlusPlus,
            sample_inits: inits,
            ..KMeansParams::new(k, seed)
        };
        let found = fit(subset.view(), &params)?;
        elbow.push((k, found.inertia * scale));
        let labels: Vec<usize> = scored.iter().map(|&i| found.labels[i] as usize).collect();
        let s = silhouette_exact(scored_rows.view(), &labels).unwrap_or(-1.0);
        silhouette_by_k.push((k, s));
        if best.is_none_or(|b| s > b.0) {
            best = Some((s, k));
        }
        centroids.push(found.centroids);
        on_k(done + 1, ks.len())?;
    }
    let (_, best_k) = best.expect("at least one k");
    Ok(KSearch {
        best_k,
        elbow,
        silhouette_by_k,
        centroids,
        fit_rows: subset.nrows(),
        silhouette_rows: scored.len(),
    })
}
