//! The scatter chart: a seeded sample of profiles projected on the two
//! principal components (linfa-reduction's PCA), coloured by cluster.

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_reduction::Pca;
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::sample::{self, Stream};

/// Points for the scatter chart and how much of the spread they show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca2 {
    pub points: Vec<ChartPoint>,
    /// Share of the total variance along each axis (0..1), so the chart can
    /// say "these two axes show 64% of the differences between profiles".
    pub explained: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartPoint {
    /// The profile's position in the input.
    pub row: usize,
    pub x: f64,
    pub y: f64,
    /// Cluster id; `None` for noise.
    pub cluster: Option<u32>,
}

/// Projects a sample of at most `max_points` rows of `data`. `rows` gives
/// each data row's position in the input, `labels` its cluster id.
pub(crate) fn project(
    data: ArrayView2<f64>,
    rows: &[usize],
    labels: &[Option<u32>],
    max_points: usize,
    seed: u64,
) -> Pca2 {
    let picked = sample::indices(data.nrows(), max_points, seed, Stream::Chart);
    let subset = data.select(Axis(0), &picked);
    let (coords, explained) = components(&subset);
    let points = picked
        .iter()
        .zip(coords.rows())
        .map(|(&i, xy)| ChartPoint {
            row: rows[i],
            x: xy[0],
            y: xy[1],
            cluster: labels[i],
        })
        .collect();
    Pca2 { points, explained }
}

/// Coordinates on the first two components (`m × 2`) and the share of the
/// variance each explains.
fn components(subset: &Array2<f64>) -> (Array2<f64>, Vec<f64>) {
    let (m, d) = subset.dim();
    let mean = subset
        .mean_axis(Axis(0))
        .unwrap_or_else(|| ndarray::Array1::zeros(d));
    let centred = subset - &mean;
    let total: f64 = centred.iter().map(|v| v * v).sum();
    let fitted = if d >= 2 && m > 2 && total > 0.0 {
        Pca::params(2).fit(&DatasetBase::from(subset.clone())).ok()
    } else {
        None
    };
    let Some(pca) = fitted else {
        // One feature (or no spread): the feature itself on x, nothing on y.
        let mut coords = Array2::zeros((m, 2));
        if d >= 1 {
            coords.column_mut(0).assign(&centred.column(0));
        }
        let explained = if total > 0.0 {
            let first: f64 = centred.column(0).iter().map(|v| v * v).sum();
            vec![first / total, 0.0]
        } else {
            vec![0.0, 0.0]
        };
        return (coords, explained);
    };
    let mut axes = pca.components().to_owned();
    // An SVD's signs are arbitrary: point each axis so its largest loading
    // is positive (as scikit-learn does), so reruns do not mirror the chart.
    for mut axis in axes.rows_mut() {
        let largest = axis
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .unwrap_or(1.0);
        if largest < 0.0 {
            axis.mapv_inplace(|v| -v);
        }
    }
    // The iterative SVD's axes are orthonormal only to about 1e-9; make
    // them exactly so, or the two axes could claim more than all the variance.
    let first = axes.row(0).to_owned();
    let first = &first / first.dot(&first).sqrt();
    let second = axes.row(1).to_owned();
    let second = &second - &(&first * first.dot(&second));
    let norm = second.dot(&second).sqrt();
    // Data on a line has no second direction: leave y at 0.
    let second = if norm > 1e-12 {
        &second / norm
    } else {
        second * 0.0
    };
    axes.row_mut(0).assign(&first);
    axes.row_mut(1).assign(&second);
    let coords = centred.dot(&axes.t());
    // The share of the whole variance along each drawn axis, from the
    // coordinates themselves: linfa's ratio divides by the kept components
    // only, and its iterative singular values are approximate.
    let explained = coords
        .columns()
        .into_iter()
        .map(|c| c.iter().map(|v| v * v).sum::<f64>() / total)
        .collect();
    (coords, explained)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_onto_the_long_axis_with_explained_variance() {
        // Points along the diagonal x = y with a little spread across it.
        let m = 400;
        let data = Array2::from_shape_fn((m, 3), |(i, e)| {
            let t = i as f64 / 10.0;
            let wobble = if i % 2 == 0 { 0.1 } else { -0.1 };
            match e {
                0 => t + wobble,
                1 => t - wobble,
                _ => 0.0,
            }
        });
        let rows: Vec<usize> = (100..100 + m).collect();
        let labels: Vec<Option<u32>> = (0..m).map(|i| Some((i % 2) as u32)).collect();
        let chart = project(data.view(), &rows, &labels, 50, 3);
        assert_eq!(chart.points.len(), 50);
        assert!(chart.explained[0] > 0.99, "{:?}", chart.explained);
        assert!(
            chart.explained[0] + chart.explained[1] <= 1.0 + 1e-12,
            "{:?}",
            chart.explained
        );
        // Along the first axis the points keep their order along the diagonal.
        let p = &chart.points;
        assert!(p.windows(2).all(|w| w[0].row < w[1].row && w[0].x < w[1].x));
        assert_eq!(p[0].cluster, Some(((p[0].row - 100) % 2) as u32));
        assert_eq!(chart, project(data.view(), &rows, &labels, 50, 3));
    }

    #[test]
    fn one_feature_is_drawn_on_x() {
        let data = Array2::from_shape_fn((10, 1), |(i, _)| i as f64);
        let rows: Vec<usize> = (0..10).collect();
        let chart = project(data.view(), &rows, &[None; 10], 100, 0);
        assert_eq!(chart.explained, vec![1.0, 0.0]);
        assert_eq!(chart.points[9].x, 4.5);
    }
}
