//! DBSCAN, by linfa-clustering: clusters are dense regions, and profiles in
//! no dense region are noise (label `None`).
//!
//! DBSCAN's neighbour queries grow worse than linearly, so above
//! `max_rows` profiles it runs on a seeded sample and every other profile
//! joins the cluster of its nearest core point within eps, or stays noise.
//!
//! A sample is sparser than the whole base, so the density asked for,
//! `min_points` within `eps`, is translated: `min_points` shrinks with the
//! sampling rate. Shrunk below [`MIN_SCALED_POINTS`], any stray pair would
//! make a cluster, so instead `min_points` stays at that floor and `eps`
//! widens until the volume holds the same density (`min_points / eps^d`
//! unchanged). The note gives the values used.

use linfa::traits::Transformer;
use linfa::ParamGuard;
use linfa_clustering::Dbscan;
use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

use super::describe::thousands;
use super::error::{ClusterError, Result};
use super::kd_tree::KdTree;
use super::sample::{self, Stream};

/// The fewest neighbours a core point of the sample may need.
const MIN_SCALED_POINTS: usize = 5;

pub(crate) struct DbscanFit {
    /// Per row, its cluster (0-based), or `None` for noise.
    pub labels: Vec<Option<usize>>,
    pub notes: Vec<String>,
}

pub(crate) fn fit(
    data: ArrayView2<f64>,
    eps: f64,
    min_points: usize,
    max_rows: usize,
    seed: u64,
) -> Result<DbscanFit> {
    if !(eps.is_finite() && eps > 0.0) || min_points < 2 {
        return Err(ClusterError::InvalidConfig(
            "DBSCAN needs eps > 0 and min points ≥ 2".into(),
        ));
    }
    let n = data.nrows();
    let data = data.as_standard_layout();
    let mut notes = Vec::new();
    if n <= max_rows {
        let labels = run_linfa(data.view(), eps, min_points)?;
        return Ok(DbscanFit { labels, notes });
    }

    let picked = sample::indices(n, max_rows, seed, Stream::Dbscan);
    let subset = data.select(Axis(0), &picked);
    let expected = min_points as f64 * picked.len() as f64 / n as f64;
    let (scaled_min, scaled_eps) = if expected >= MIN_SCALED_POINTS as f64 {
        (expected.round() as usize, eps)
    } else {
        let floor = MIN_SCALED_POINTS as f64;
        let widen = (floor / expected).powf(1.0 / data.ncols() as f64);
        (MIN_SCALED_POINTS, eps * widen)
    };
    let sample_labels = run_linfa(subset.view(), scaled_eps, scaled_min)?;

    // linfa does not say which points are core, so count neighbours again
    // (the point itself included, as linfa counts).
    let tree = KdTree::new(subset.view());
    let core: Vec<usize> = (0..subset.nrows())
        .into_par_iter()
        .filter(|&i| {
            let x = subset.row(i);
            let x = x.as_slice().expect("standard layout");
            tree.count_within(x, scaled_eps, scaled_min) >= scaled_min
        })
        .collect();

    let mut labels = vec![None; n];
    for (&r, &label) in picked.iter().zip(&sample_labels) {
        labels[r] = label;
    }
    let cores = KdTree::new(subset.select(Axis(0), &core).view());
    let mut in_sample = vec![false; n];
    picked.iter().for_each(|&i| in_sample[i] = true);
    labels
        .par_iter_mut()
        .enumerate()
        .filter(|(i, _)| !in_sample[*i])
        .for_each(|(i, label)| {
            let x = data.row(i);
            let x = x.as_slice().expect("standard layout");
            if let Some((c, _)) = cores.nearest_within(x, scaled_eps) {
                *label = sample_labels[core[c]];
            }
        });
    let translated = if scaled_eps == eps {
        format!("min points scaled from {min_points} to {scaled_min}")
    } else {
        format!("min points {scaled_min} and eps {scaled_eps:.2} instead of {min_points} and {eps}")
    };
    notes.push(format!(
        "DBSCAN ran on a sample of {} of {} profiles, with {translated} to ask for the same density; the others joined the cluster of the nearest core point within that eps, or noise",
        thousands(picked.len() as u64),
        thousands(n as u64),
    ));
    Ok(DbscanFit { labels, notes })
}

fn run_linfa(data: ArrayView2<f64>, eps: f64, min_points: usize) -> Result<Vec<Option<usize>>> {
    let params = Dbscan::params::<f64>(min_points)
        .tolerance(eps)
        .check()
        .map_err(|e| ClusterError::InvalidConfig(e.to_string()))?;
    Ok(params.transform(&data).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testdata::{adjusted_rand, axis_centres, blobs};
    use ndarray::{concatenate, Array2};

    #[test]
    fn finds_dense_clusters_and_noise() {
        let (mut data, truth) = blobs(&axis_centres(3, 2, 10.0), 200, 0.3, 1);
        // Far-away loners: noise.
        let loners = Array2::from_shape_fn((5, 2), |(i, e)| 100.0 + 30.0 * i as f64 + e as f64);
        data = concatenate![Axis(0), data, loners];
        let found = fit(data.view(), 1.0, 5, 10_000, 1).unwrap();
        assert!(found.notes.is_empty());
        assert!(
            found.labels[600..].iter().all(|l| l.is_none()),
            "loners are noise"
        );
        let labels: Vec<usize> = found.labels[..600].iter().map(|l| l.unwrap()).collect();
        assert!(adjusted_rand(&truth, &labels) > 0.99);
    }

    #[test]
    fn large_inputs_run_on_a_sample_and_assign_the_rest() {
        let (mut data, truth) = blobs(&axis_centres(3, 2, 10.0), 2000, 0.5, 2);
        let loners = Array2::from_shape_fn((3, 2), |(i, e)| -50.0 - 40.0 * i as f64 - e as f64);
        data = concatenate![Axis(0), data, loners];
        let found = fit(data.view(), 0.6, 40, 1_000, 3).unwrap();
        assert_eq!(found.notes.len(), 1);
        assert!(
            found.notes[0].contains("min points scaled from 40 to 7"),
            "{}",
            found.notes[0]
        );
        assert!(found.labels[6_000..].iter().all(|l| l.is_none()));
        // Nearly everyone inside a blob is placed, and placed right.
        let placed: Vec<(usize, usize)> = found.labels[..6_000]
            .iter()
            .zip(&truth)
            .filter_map(|(l, &t)| l.map(|l| (t, l)))
            .collect();
        assert!(placed.len() > 5_750, "{} placed", placed.len());
        let (t, l): (Vec<usize>, Vec<usize>) = placed.into_iter().unzip();
        assert!(adjusted_rand(&t, &l) > 0.99);
    }

    #[test]
    fn a_sparse_sample_widens_eps_instead_of_dropping_min_points() {
        let (data, truth) = blobs(&axis_centres(2, 2, 10.0), 3000, 0.5, 4);
        // 10 min points in a 1-in-6 sample would be 1.7: 5 points, eps × √3.
        let found = fit(data.view(), 0.5, 10, 1_000, 5).unwrap();
        assert!(
            found.notes[0].contains("min points 5 and eps 0.87 instead of 10 and 0.5"),
            "{}",
            found.notes[0]
        );
        let placed: Vec<(usize, usize)> = found
            .labels
            .iter()
            .zip(&truth)
            .filter_map(|(l, &t)| l.map(|l| (t, l)))
            .collect();
        assert!(placed.len() > 5_900, "{} placed", placed.len());
        let (t, l): (Vec<usize>, Vec<usize>) = placed.into_iter().unzip();
        assert!(adjusted_rand(&t, &l) > 0.99);
    }

    #[test]
    fn settings_are_checked() {
        let data = Array2::<f64>::zeros((10, 2));
        assert!(fit(data.view(), 0.0, 5, 100, 0).is_err());
        assert!(fit(data.view(), 1.0, 1, 100, 0).is_err());
    }
}
