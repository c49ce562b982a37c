//! Feature preparation: named trait columns in, one scaled matrix out.
//!
//! Money and counts are heavily skewed (a few customers spend 100× the
//! median), and k-means measures plain Euclidean distance, so without a log
//! the biggest spender would be a cluster of their own. Scaling puts
//! "days since last order" and "share of mobile sessions" on one footing.
//! The [`Transform`] is kept so centroids can be reported back in the units
//! the marketer typed in.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::error::{ClusterError, Result};

/// What a feature measures; decides its default transform and how the
/// descriptions word it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// An amount of money (total spend, average order value). Worded with
    /// the currency symbol: "spend 3.1× the average".
    Money,
    /// A number of things (orders, sessions).
    Count,
    /// Days since an event (last order, last visit): larger means longer
    /// ago. Worded "last order 12 days ago".
    Days,
    /// A fraction between 0 and 1 (share of orders on mobile). Worded as a
    /// percentage: "mostly mobile (82%)".
    Share,
    /// Any other score (churn probability, RFM score).
    Score,
}

/// One column of the matrix: a trait, with one value per profile (`None`
/// when the profile has no value; NaN and infinities count as missing too).
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Stable machine name (`total_spend`); used to check that a previous
    /// run was made on the same features.
    pub name: String,
    /// The words used in descriptions, lower case: "spend", "last order",
    /// "mobile".
    pub label: String,
    pub kind: FeatureKind,
    pub values: Vec<Option<f64>>,
}

impl Feature {
    pub fn new(
        name: impl Into<String>,
        label: impl Into<String>,
        kind: FeatureKind,
        values: Vec<Option<f64>>,
    ) -> Self {
        Feature {
            name: name.into(),
            label: label.into(),
            kind,
            values,
        }
    }
}

/// How features are centred and scaled after the optional log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// Subtract the mean, divide by the standard deviation.
    #[default]
    Standard,
    /// Subtract the median, divide by the interquartile range: one customer
    /// with a 50,000 order does not squash everyone else towards zero.
    Robust,
}

/// What to do with a profile that lacks a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingValues {
    /// Fill the gap with the feature's median, so every profile gets a
    /// cluster.
    #[default]
    ImputeMedian,
    /// Leave the profile out (its label is `None`).
    DropRow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrepareOptions {
    /// Apply a signed `log1p` to [`FeatureKind::Money`] and
    /// [`FeatureKind::Count`] features before scaling.
    pub log_money_and_counts: bool,
    pub scaling: Scaling,
    pub missing: MissingValues,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            log_money_and_counts: true,
            scaling: Scaling::Standard,
            missing: MissingValues::ImputeMedian,
        }
    }
}

/// Per feature: how many profiles had no value and what was done about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissingReport {
    pub feature: String,
    pub missing: usize,
    pub action: MissingAction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action", content = "value")]
pub enum MissingAction {
    /// Nothing was missing.
    None,
    /// The profiles were left out.
    DroppedRows,
    /// The gaps were filled with this median (original units).
    FilledWithMedian(f64),
}

/// How one column went from original units to the prepared matrix:
/// `scaled = (log?(x) - center) / scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnTransform {
    pub name: String,
    /// A signed `log1p`: `sign(x) · ln(1 + |x|)`, so refunds (negative
    /// money) stay defined.
    pub log1p: bool,
    pub center: f64,
    pub scale: f64,
}

impl ColumnTransform {
    pub fn forward(&self, x: f64) -> f64 {
        let x = if self.log1p { signed_log1p(x) } else { x };
        (x - self.center) / self.scale
    }

    pub fn inverse(&self, z: f64) -> f64 {
        let x = z * self.scale + self.center;
        if self.log1p {
            x.signum() * x.abs().exp_m1()
        } else {
            x
        }
    }
}

/// The transform of every column, in feature order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transform {
    pub columns: Vec<ColumnTransform>,
}

impl Transform {
    /// Original units to the prepared (scaled) space.
    pub fn to_scaled(&self, original: &[f64]) -> Vec<f64> {
        self.columns
            .iter()
            .zip(original)
            .map(|(c, &x)| c.forward(x))
            .collect()
    }

    /// The prepared space back to original units. For a logged column the
    /// inverse of a mean of logs is a geometric-style mean: a "typical
    /// member", not the arithmetic average.
    pub fn to_original(&self, scaled: &[f64]) -> Vec<f64> {
        self.columns
            .iter()
            .zip(scaled)
            .map(|(c, &z)| c.inverse(z))
            .collect()
    }
}

/// The matrix the algorithms run on.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// One row per kept profile, one column per feature, scaled.
    pub data: Array2<f64>,
    /// For each row of `data`, the index of the profile in the input.
    pub rows: Vec<usize>,
    pub transform: Transform,
    pub missing: Vec<MissingReport>,
}

/// Checks, imputes or drops, logs and scales the features.
pub fn prepare(features: &[Feature], options: &PrepareOptions) -> Result<Prepared> {
    let n = check_shape(features)?;
    let d = features.len();
    let present = |v: &Option<f64>| v.filter(|x| x.is_finite());

    let missing_counts: Vec<usize> = features
        .iter()
        .map(|f| f.values.iter().filter(|v| present(v).is_none()).count())
        .collect();

    let (rows, fill): (Vec<usize>, Vec<f64>) = match options.missing {
        MissingValues::DropRow => {
            let rows = (0..n)
                .filter(|&i| features.iter().all(|f| present(&f.values[i]).is_some()))
                .collect();
            (rows, vec![f64::NAN; d])
        }
        MissingValues::ImputeMedian => {
            let mut fill = Vec::with_capacity(d);
            for f in features {
                let mut values: Vec<f64> = f.values.iter().filter_map(present).collect();
                if values.is_empty() {
                    return Err(ClusterError::NoValues {
                        feature: f.name.clone(),
                    });
                }
                fill.push(quantile(&mut values, 0.5));
            }
            ((0..n).collect(), fill)
        }
    };

    let missing = features
        .iter()
        .zip(&missing_counts)
        .zip(&fill)
        .map(|((f, &count), &median)| MissingReport {
            feature: f.name.clone(),
            missing: count,
            action: match (count, options.missing) {
                (0, _) => MissingAction::None,
                (_, MissingValues::DropRow) => MissingAction::DroppedRows,
                (_, MissingValues::ImputeMedian) => MissingAction::FilledWithMedian(median),
            },
        })
        .collect();

    let mut data = Array2::<f64>::zeros((rows.len(), d));
    let mut columns = Vec::with_capacity(d);
    for (j, f) in features.iter().enumerate() {
        let log1p = options.log_money_and_counts
            && matches!(f.kind, FeatureKind::Money | FeatureKind::Count);
        let column: Vec<f64> = rows
            .iter()
            .map(|&i| {
                let x = present(&f.values[i]).unwrap_or(fill[j]);
                if log1p {
                    signed_log1p(x)
                } else {
                    x
                }
            })
            .collect();
        let (center, scale) = centre_and_scale(&column, options.scaling);
        for (dst, x) in data.column_mut(j).iter_mut().zip(&column) {
            *dst = (x - center) / scale;
        }
        columns.push(ColumnTransform {
            name: f.name.clone(),
            log1p,
            center,
            scale,
        });
    }

    Ok(Prepared {
        data,
        rows,
        transform: Transform { columns },
        missing,
    })
}

/// The number of profiles, after checking every feature has one value each.
fn check_shape(features: &[Feature]) -> Result<usize> {
    let first = features.first().ok_or(ClusterError::NoFeatures)?;
    let n = first.values.len();
    for f in features {
        if f.values.len() != n {
            return Err(ClusterError::LengthMismatch {
                feature: f.name.clone(),
                expected: n,
                actual: f.values.len(),
            });
        }
    }
    Ok(n)
}

fn signed_log1p(x: f64) -> f64 {
    x.signum() * x.abs().ln_1p()
}

/// Centre and scale of one (already logged) column. A column that does not
/// vary gets scale 1 so it becomes all zeros instead of NaN; a robust scale
/// of zero (more than half the customers have 0 orders) falls back to the
/// standard deviation.
fn centre_and_scale(values: &[f64], scaling: Scaling) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 1.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
    let usable = |s: f64| s.is_finite() && s > 1e-12;
    match scaling {
        Scaling::Standard => (mean, if usable(std) { std } else { 1.0 }),
        Scaling::Robust => {
            let mut scratch = values.to_vec();
            let median = quantile(&mut scratch, 0.5);
            let iqr = quantile(&mut scratch, 0.75) - quantile(&mut scratch, 0.25);
            let scale = if usable(iqr) {
                iqr
            } else if usable(std) {
                std
            } else {
                1.0
            };
            (median, scale)
        }
    }
}

/// The `q` quantile with linear interpolation between order statistics
/// (numpy's default), in O(n) by selection. Reorders `values`.
pub(crate) fn quantile(values: &mut [f64], q: f64) -> f64 {
    let n = values.len();
    assert!(n > 0, "quantile of nothing");
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let frac = pos - lo as f64;
    let (_, &mut below, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    if frac == 0.0 || above.is_empty() {
        return below;
    }
    let next = above.iter().copied().fold(f64::INFINITY, f64::min);
    below + frac * (next - below)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, kind: FeatureKind, values: &[Option<f64>]) -> Feature {
        Feature::new(name, name, kind, values.to_vec())
    }

    #[test]
    fn quantile_matches_numpy_linear() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&mut v, 0.5), 2.5);
        assert_eq!(quantile(&mut v, 0.25), 1.75);
        assert_eq!(quantile(&mut v, 1.0), 4.0);
        assert_eq!(quantile(&mut [7.0], 0.3), 7.0);
    }

    #[test]
    fn missing_values_are_reported_and_imputed_with_the_median() {
        let f = vec![
            col(
                "spend",
                FeatureKind::Money,
                &[Some(10.0), None, Some(30.0), Some(20.0)],
            ),
            col(
                "days",
                FeatureKind::Days,
                &[Some(1.0), Some(2.0), Some(f64::NAN), None],
            ),
        ];
        let p = prepare(&f, &PrepareOptions::default()).unwrap();
        assert_eq!(p.rows, vec![0, 1, 2, 3]);
        assert_eq!(p.missing[0].missing, 1);
        assert_eq!(p.missing[0].action, MissingAction::FilledWithMedian(20.0));
        assert_eq!(p.missing[1].missing, 2, "NaN counts as missing");
        assert_eq!(p.missing[1].action, MissingAction::FilledWithMedian(1.5));
        // The imputed spend sits exactly where the median profile sits.
        assert_eq!(p.data[[1, 0]], p.data[[3, 0]]);
    }

    #[test]
    fn dropping_rows_keeps_only_complete_profiles() {
        let f = vec![
            col("a", FeatureKind::Score, &[Some(1.0), None, Some(3.0)]),
            col("b", FeatureKind::Score, &[Some(1.0), Some(2.0), Some(5.0)]),
        ];
        let options = PrepareOptions {
            missing: MissingValues::DropRow,
            ..Default::default()
        };
        let p = prepare(&f, &options).unwrap();
        assert_eq!(p.rows, vec![0, 2]);
        assert_eq!(p.data.nrows(), 2);
        assert_eq!(p.missing[0].action, MissingAction::DroppedRows);
        assert_eq!(p.missing[1].action, MissingAction::None);
    }

    #[test]
    fn robust_scaling_ignores_an_outlier() {
        let mut values: Vec<Option<f64>> = (0..99).map(|i| Some(i as f64)).collect();
        values.push(Some(1e9));
        let f = vec![col("score", FeatureKind::Score, &values)];
        let robust = prepare(
            &f,
            &PrepareOptions {
                scaling: Scaling::Robust,
                ..Default::default()
            },
        )
        .unwrap();
        let t = &robust.transform.columns[0];
        // Median and IQR of 0..=98 plus one huge value: 49.5 and ~49.5.
        assert!((t.center - 49.5).abs() < 1e-9, "{}", t.center);
        assert!((t.scale - 49.5).abs() < 1e-9, "{}", t.scale);
        // The ordinary customers keep their spread...
        let spread = robust.data[[98, 0]] - robust.data[[0, 0]];
        assert!((spread - 98.0 / 49.5).abs() < 1e-9);
        // ...while standard scaling squashes them all to about the same value.
        let standard = prepare(&f, &PrepareOptions::default()).unwrap();
        assert!(standard.data[[98, 0]] - standard.data[[0, 0]] < 1e-5);
    }

    #[test]
    fn transform_round_trips_and_logs_money() {
        let f = vec![
            col(
                "spend",
                FeatureKind::Money,
                &[Some(0.0), Some(99.0), Some(-5.0), Some(1e4)],
            ),
            col(
                "share",
                FeatureKind::Share,
                &[Some(0.1), Some(0.5), Some(0.9), Some(0.3)],
            ),
        ];
        let p = prepare(&f, &PrepareOptions::default()).unwrap();
        assert!(p.transform.columns[0].log1p);
        assert!(!p.transform.columns[1].log1p);
        for (r, &i) in p.rows.iter().enumerate() {
            let scaled: Vec<f64> = p.data.row(r).to_vec();
            let back = p.transform.to_original(&scaled);
            let original = [f[0].values[i].unwrap(), f[1].values[i].unwrap()];
            for (a, b) in back.iter().zip(original) {
                assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} vs {b}");
            }
            assert_eq!(p.transform.to_scaled(&original).len(), 2);
        }
        let mean: f64 = p.data.column(1).sum() / 4.0;
        assert!(mean.abs() < 1e-12);
    }

    #[test]
    fn shape_errors() {
        assert!(matches!(
            prepare(&[], &PrepareOptions::default()),
            Err(ClusterError::NoFeatures)
        ));
        let f = vec![
            col("a", FeatureKind::Score, &[Some(1.0)]),
            col("b", FeatureKind::Score, &[Some(1.0), Some(2.0)]),
        ];
        assert!(matches!(
            prepare(&f, &PrepareOptions::default()),
            Err(ClusterError::LengthMismatch { .. })
        ));
        let f = vec![col("a", FeatureKind::Score, &[None, None])];
        assert!(matches!(
            prepare(&f, &PrepareOptions::default()),
            Err(ClusterError::NoValues { .. })
        ));
    }
}
