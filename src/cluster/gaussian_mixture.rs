//! Gaussian mixture, by linfa-clustering: soft, elliptical clusters (a
//! profile belongs to the component most likely to have produced it).
//!
//! EM with full covariances costs O(n·k·d²) per iteration, so above
//! `max_rows` profiles the mixture is fitted on a seeded sample and then
//! every profile is labelled by the fitted model, in parallel chunks.

use linfa::traits::{Fit, Predict};
use linfa::{DatasetBase, ParamGuard};
use linfa_clustering::GaussianMixtureModel;
use ndarray::{Array1, ArrayView2, Axis};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;

use super::describe::thousands;
use super::error::{ClusterError, Result};
use super::sample::{self, Stream};

pub(crate) struct MixtureFit {
    /// Per row, its most likely component.
    pub labels: Vec<usize>,
    pub notes: Vec<String>,
}

pub(crate) fn fit(
    data: ArrayView2<f64>,
    k: usize,
    max_rows: usize,
    seed: u64,
) -> Result<MixtureFit> {
    let n = data.nrows();
    if k < 1 {
        return Err(ClusterError::InvalidConfig("a mixture needs k ≥ 1".into()));
    }
    if n < 2 * k {
        return Err(ClusterError::TooFewRows {
            rows: n,
            needed: 2 * k,
        });
    }
    let picked = sample::indices(n, max_rows, seed, Stream::Mixture);
    let subset = data.select(Axis(0), &picked);
    // linfa's mixture takes a rand 0.8 generator; seed it from ours.
    let model = GaussianMixtureModel::params_with_rng(k, Xoshiro256Plus::seed_from_u64(seed))
        .n_runs(1)
        .max_n_iterations(300)
        .check()
        .map_err(|e| ClusterError::InvalidConfig(e.to_string()))?
        .fit(&DatasetBase::from(subset))
        .map_err(|e| ClusterError::Fit {
            algorithm: "Gaussian mixture",
            message: e.to_string(),
        })?;

    let chunks: Vec<ArrayView2<f64>> = data.axis_chunks_iter(Axis(0), 16_384).collect();
    let parts: Vec<Array1<usize>> = chunks.par_iter().map(|c| model.predict(c)).collect();
    let labels = parts.iter().flat_map(|p| p.iter().copied()).collect();

    let mut notes = Vec::new();
    if picked.len() < n {
        notes.push(format!(
            "The Gaussian mixture was fitted on a sample of {} of {} profiles, then every profile was assigned to its most likely component",
            thousands(picked.len() as u64),
            thousands(n as u64)
        ));
    }
    Ok(MixtureFit { labels, notes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testdata::{adjusted_rand, blobs};

    #[test]
    fn separates_two_gaussians() {
        let (data, truth) = blobs(&[vec![0.0, 0.0], vec![6.0, 3.0]], 600, 1.0, 5);
        let found = fit(data.view(), 2, 100_000, 9).unwrap();
        assert!(found.notes.is_empty());
        assert!(adjusted_rand(&truth, &found.labels) > 0.95);
        let again = fit(data.view(), 2, 100_000, 9).unwrap();
        assert_eq!(found.labels, again.labels, "same seed, same labels");
    }

    #[test]
    fn large_inputs_fit_on_a_sample() {
        let (data, truth) = blobs(&[vec![0.0, 0.0], vec![6.0, 3.0]], 1500, 1.0, 6);
        let found = fit(data.view(), 2, 500, 9).unwrap();
        assert_eq!(found.labels.len(), 3000);
        assert!(found.notes[0].contains("sample of 500 of 3,000"));
        assert!(adjusted_rand(&truth, &found.labels) > 0.95);
    }
}
