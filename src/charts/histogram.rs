//! The distribution of a value (customer lifetime value, order value) as a histogram.

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};
use serde::{Deserialize, Serialize};

use super::draw::{
    log_ticks, nice_axis, nice_step, plot_rect, Ctx, LegendItem, Rect, Scale, Swatch, AXIS, TICK_PX,
};
use super::palette::{BLACK, BLUE, VERMILLION};
use super::{ChartError, ChartKind, ChartOptions, Plot, Unit};

/// How values are put into bins.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Bins {
    /// Chosen from the data (Freedman–Diaconis, 5 to 40 bins).
    #[default]
    Auto,
    /// `count` equal bins (equal on the log axis with `log_scale`).
    Count { count: usize },
    /// Given edges, ascending; values outside them are left out (and noted).
    Edges { edges: Vec<f64> },
    /// Already counted: `counts[i]` values in `edges[i]..edges[i + 1]`;
    /// the distribution's `values` are then ignored.
    Counted { edges: Vec<f64>, counts: Vec<f64> },
}

/// Input of the histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// What is measured, for the x axis: "Predicted lifetime value".
    pub label: String,
    #[serde(default)]
    pub unit: Unit,
    /// The values (non-finite ones are skipped).
    #[serde(default)]
    pub values: Vec<f64>,
    #[serde(default)]
    pub bins: Bins,
    /// Log-spaced bins on a log axis, for skewed values such as CLV;
    /// values ≤ 0 are left out (and noted under the chart).
    #[serde(default)]
    pub log_scale: bool,
    /// What is counted, for the y axis.
    #[serde(default = "customers")]
    pub count_label: String,
}

fn customers() -> String {
    "Customers".to_string()
}

/// The bins a histogram draws, with a few statistics of the values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Binned {
    /// Ascending; one more than `counts`.
    pub edges: Vec<f64>,
    pub counts: Vec<f64>,
    /// Values not drawn: outside the given edges, or ≤ 0 on a log scale.
    pub left_out: usize,
    pub median: Option<f64>,
    pub mean: Option<f64>,
}

impl Distribution {
    /// A histogram of money values in `currency`.
    pub fn money(label: impl Into<String>, currency: &str, values: Vec<f64>) -> Self {
        Distribution {
            label: label.into(),
            unit: Unit::money(currency),
            values,
            bins: Bins::Auto,
            log_scale: false,
            count_label: customers(),
        }
    }

    pub fn log_scale(mut self, log: bool) -> Self {
        self.log_scale = log;
        self
    }

    /// Puts the values into bins (or checks given counts).
    pub fn binned(&self) -> Result<Binned, ChartError> {
        let finite: Vec<f64> = self
            .values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let (median, mean) = if finite.is_empty() || matches!(self.bins, Bins::Counted { .. }) {
            (None, None)
        } else {
            let mut sorted = finite.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len();
            let median = if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            };
            (Some(median), Some(finite.iter().sum::<f64>() / n as f64))
        };
        let check_edges = |edges: &[f64]| -> Result<(), ChartError> {
            if edges.len() < 2
                || edges.iter().any(|e| !e.is_finite())
                || edges.windows(2).any(|w| w[0] >= w[1])
            {
                return Err(ChartError::Data(
                    "histogram edges must be at least two finite, increasing numbers".into(),
                ));
            }
            if self.log_scale && edges[0] <= 0.0 {
                return Err(ChartError::Data(
                    "histogram edges on a log scale must be above 0".into(),
                ));
            }
            Ok(())
        };
        let mut binned = Binned {
            edges: Vec::new(),
            counts: Vec::new(),
            left_out: 0,
            median,
            mean,
        };
        match &self.bins {
            Bins::Counted { edges, counts } => {
                check_edges(edges)?;
                if counts.len() + 1 != edges.len() {
                    return Err(ChartError::Data(format!(
                        "a histogram with {} edges needs {} counts, not {}",
                        edges.len(),
                        edges.len() - 1,
                        counts.len()
                    )));
                }
                binned.edges = edges.clone();
                binned.counts = counts
                    .iter()
                    .map(|c| if c.is_finite() { c.max(0.0) } else { 0.0 })
                    .collect();
                return Ok(binned);
            }
            Bins::Edges { edges } => {
                check_edges(edges)?;
                binned.edges = edges.clone();
            }
            Bins::Auto | Bins::Count { .. } => {
                let usable: Vec<f64> = if self.log_scale {
                    finite.iter().copied().filter(|v| *v > 0.0).collect()
                } else {
                    finite.clone()
                };
                if usable.is_empty() {
                    binned.left_out = finite.len();
                    return Ok(binned);
                }
                let count = match self.bins {
                    Bins::Count { count } => count.clamp(1, 200),
                    _ => auto_bins(&usable, self.log_scale),
                };
                binned.edges = edges_for(&usable, count, self.log_scale);
            }
        }
        let edges = &binned.edges;
        let (first, last) = (edges[0], edges[edges.len() - 1]);
        let mut counts = vec![0.0; edges.len() - 1];
        for &v in &finite {
            if v < first || v > last || (self.log_scale && v <= 0.0) {
                binned.left_out += 1;
                continue;
            }
            // The bin whose upper edge is the first above v; the last edge is inclusive.
            let i = edges.partition_point(|e| *e <= v).clamp(1, counts.len()) - 1;
            counts[i] += 1.0;
        }
        binned.counts = counts;
        Ok(binned)
    }
}

/// Freedman–Diaconis bins (Sturges when the spread is 0), 5 to 40.
fn auto_bins(values: &[f64], log: bool) -> usize {
    let mut v: Vec<f64> = values
        .iter()
        .map(|x| if log { x.log10() } else { *x })
        .collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let q = |p: f64| v[((n - 1) as f64 * p).round() as usize];
    let iqr = q(0.75) - q(0.25);
    let span = v[n - 1] - v[0];
    let bins = if iqr > 0.0 && span > 0.0 {
        (span / (2.0 * iqr / (n as f64).cbrt())).ceil() as usize
    } else {
        (n as f64).log2().ceil() as usize + 1
    };
    bins.clamp(5, 40)
}

/// `count` edges over the values: at nice numbers on a linear axis, evenly
/// in log space on a log axis.
fn edges_for(values: &[f64], count: usize, log: bool) -> Vec<f64> {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if log {
        let (a, b) = if hi > lo {
            (lo.log10(), hi.log10())
        } else {
            (lo.log10() - 0.05, lo.log10() + 0.05)
        };
        let step = (b - a) / count as f64;
        let mut edges: Vec<f64> = (0..=count)
            .map(|i| 10f64.powf(a + step * i as f64))
            .collect();
        // Exact ends, so rounding leaves no value out.
        if hi > lo {
            edges[0] = lo;
            edges[count] = hi;
        }
        return edges;
    }
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else if lo == 0.0 {
        (-0.5, 0.5)
    } else {
        (lo - lo.abs() * 0.05, hi + hi.abs() * 0.05)
    };
    let step = nice_step(hi - lo, count);
    let start = (lo / step).floor() * step;
    let mut edges = vec![start];
    while *edges.last().expect("not empty") <= hi && edges.len() <= 400 {
        let next = start + step * edges.len() as f64;
        edges.push(next);
    }
    edges
}

impl Plot for Distribution {
    fn kind(&self) -> ChartKind {
        ChartKind::Histogram
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        opts: &ChartOptions,
    ) -> Result<(), ChartError> {
        let ctx = Ctx::new(root);
        let mut body = ctx.begin(opts)?;
        let b = self.binned()?;
        let max_count = b.counts.iter().copied().fold(0.0, f64::max);
        if b.counts.is_empty() || max_count <= 0.0 {
            return ctx.no_data(body, "No data");
        }
        let (first, last) = (b.edges[0], b.edges[b.edges.len() - 1]);
        let in_range = |v: &f64| *v >= first && *v <= last && (!self.log_scale || *v > 0.0);

        let mut items = Vec::new();
        if let Some(m) = b.median.filter(in_range) {
            items.push(LegendItem::new(
                format!("Median {}", self.unit.format(m)),
                Swatch::Dashed(VERMILLION),
            ));
        }
        if let Some(m) = b.mean.filter(in_range) {
            items.push(LegendItem::new(
                format!("Mean {}", self.unit.format(m)),
                Swatch::Dashed(BLACK),
            ));
        }
        if !items.is_empty() {
            let h = ctx.legend_rows(&items, body.x0, body.x1, body.y0, true)?;
            body.y0 += h + 4;
        }
        if b.left_out > 0 {
            let what = self.count_label.to_lowercase();
            let why = if self.log_scale && matches!(self.bins, Bins::Auto | Bins::Count { .. }) {
                "with a value of 0 or less (log scale)".to_string()
            } else {
                format!(
                    "outside {}–{}",
                    self.unit.format(first),
                    self.unit.format(last)
                )
            };
            body = ctx.footnote(
                body,
                &format!(
                    "Not shown: {} {what} {why}.",
                    Unit::Count.format(b.left_out as f64)
                ),
            )?;
        }

        let (_, y_hi, y_ticks) = nice_axis(0.0, max_count, 5);
        let y_labels = Unit::Count.format_ticks(&y_ticks);
        let (x_ticks, x_labels): (Vec<f64>, Vec<String>) = if self.log_scale {
            let t = log_ticks(first, last);
            let l = t.iter().map(|v| self.unit.format_compact(*v)).collect();
            (t, l)
        } else {
            let (_, _, t) = nice_axis(first, last, 6);
            let t: Vec<f64> = t
                .into_iter()
                .filter(|v| {
                    *v >= first - 1e-9 * (last - first) && *v <= last + 1e-9 * (last - first)
                })
                .collect();
            let l = self.unit.format_ticks(&t);
            (t, l)
        };
        let right_pad = x_labels
            .last()
            .map(|l| ctx.measure(l, TICK_PX))
            .transpose()?
            .unwrap_or(0)
            / 2;
        let plot = plot_rect(
            body,
            ctx.max_width(&y_labels, TICK_PX)?,
            true,
            1,
            true,
            right_pad,
        );
        let ys = Scale::linear(0.0, y_hi, plot.y1, plot.y0);
        let xs = if self.log_scale {
            Scale::log(first, last, plot.x0, plot.x1)
        } else {
            Scale::linear(first, last, plot.x0, plot.x1)
        };
        let y_grid: Vec<(i32, String)> = y_ticks.iter().map(|t| ys.px(*t)).zip(y_labels).collect();
        ctx.y_grid(plot, &y_grid)?;
        let x_grid: Vec<(i32, String)> = x_ticks.iter().map(|t| xs.px(*t)).zip(x_labels).collect();
        ctx.x_grid(plot, &x_grid, false)?;

        for (i, &count) in b.counts.iter().enumerate() {
            if count <= 0.0 {
                continue;
            }
            let (x0, x1) = (xs.px(b.edges[i]), xs.px(b.edges[i + 1]));
            let gap = i32::from(x1 - x0 >= 4);
            ctx.fill(Rect::new(x0 + gap, ys.px(count), x1 - gap, plot.y1), BLUE)?;
        }
        ctx.line(vec![(plot.x0, plot.y1), (plot.x1, plot.y1)], AXIS, 1)?;
        for (stat, color) in [(b.median, VERMILLION), (b.mean, BLACK)] {
            if let Some(m) = stat.filter(in_range) {
                let x = xs.px(m);
                ctx.dashed((x, plot.y0), (x, plot.y1), color, 2, 6)?;
            }
        }

        let mut x_title = format!("{}{}", self.label, self.unit.axis_suffix());
        if self.log_scale {
            x_title.push_str(", log scale");
        }
        ctx.x_title(body, plot, &x_title)?;
        ctx.y_title(body, plot, &self.count_label)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_values_and_counts_everything() {
        let values: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let d = Distribution::money("CLV", "EUR", values);
        let b = d.binned().unwrap();
        assert_eq!(b.counts.iter().sum::<f64>(), 1000.0);
        assert_eq!(b.edges.len(), b.counts.len() + 1);
        assert!(b.edges[0] <= 0.0 && *b.edges.last().unwrap() >= 999.0);
        assert_eq!(b.left_out, 0);
        assert_eq!(b.median, Some(499.5));
    }

    #[test]
    fn log_bins_leave_out_non_positive() {
        let mut values: Vec<f64> = (1..=500).map(|i| (i as f64).powi(2)).collect();
        values.extend([0.0, -5.0, f64::NAN]);
        let d = Distribution::money("CLV", "EUR", values).log_scale(true);
        let b = d.binned().unwrap();
        assert_eq!(b.left_out, 2);
        assert_eq!(b.counts.iter().sum::<f64>(), 500.0);
        // Log-spaced: constant ratio between edges.
        let r0 = b.edges[1] / b.edges[0];
        let r1 = b.edges[2] / b.edges[1];
        assert!((r0 - r1).abs() < 1e-9);
    }

    #[test]
    fn given_edges_and_counts_are_checked() {
        let mut d = Distribution::money("CLV", "EUR", vec![1.0, 5.0, 50.0]);
        d.bins = Bins::Edges {
            edges: vec![0.0, 10.0, 20.0],
        };
        let b = d.binned().unwrap();
        assert_eq!(b.counts, [2.0, 0.0]);
        assert_eq!(b.left_out, 1);
        d.bins = Bins::Counted {
            edges: vec![0.0, 10.0],
            counts: vec![1.0, 2.0],
        };
        assert!(matches!(d.binned(), Err(ChartError::Data(_))));
        d.bins = Bins::Edges {
            edges: vec![10.0, 0.0],
        };
        assert!(d.binned().is_err());
    }
}
