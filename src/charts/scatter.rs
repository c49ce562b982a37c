//! Customers on two principal components, coloured by cluster.

use std::collections::HashSet;

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};
use plotters::style::Color;
use serde::{Deserialize, Serialize};

use super::draw::{
    nice_axis, plot_rect, Ctx, LegendItem, Rect, Scale, Shape, Swatch, AXIS, TICK_PX,
};
use super::palette::category_color;
use super::{ChartError, ChartKind, ChartOptions, Plot, Unit};

/// One customer: coordinates and cluster index.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScatterPoint {
    pub x: f64,
    pub y: f64,
    /// Index into `cluster_names` (and the category colours).
    pub cluster: usize,
}

/// Input of the cluster scatter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterScatter {
    /// Points with a non-finite coordinate are skipped.
    pub points: Vec<ScatterPoint>,
    /// Names by cluster index; missing ones are "Cluster i".
    #[serde(default)]
    pub cluster_names: Vec<String>,
    #[serde(default = "pc1")]
    pub x_label: String,
    #[serde(default = "pc2")]
    pub y_label: String,
}

/// Cluster indexes go up to this (exclusive).
const MAX_CLUSTERS: usize = 1000;

fn pc1() -> String {
    "Principal component 1".to_string()
}

fn pc2() -> String {
    "Principal component 2".to_string()
}

impl ClusterScatter {
    pub fn new(points: Vec<ScatterPoint>, cluster_names: Vec<String>) -> Self {
        ClusterScatter {
            points,
            cluster_names,
            x_label: pc1(),
            y_label: pc2(),
        }
    }

    fn name(&self, i: usize) -> String {
        self.cluster_names
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("Cluster {i}"))
    }
}

impl Plot for ClusterScatter {
    fn kind(&self) -> ChartKind {
        ChartKind::Scatter
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        opts: &ChartOptions,
    ) -> Result<(), ChartError> {
        let ctx = Ctx::new(root);
        let body = ctx.begin(opts)?;
        let points: Vec<&ScatterPoint> = self
            .points
            .iter()
            .filter(|p| p.x.is_finite() && p.y.is_finite())
            .collect();
        if points.is_empty() {
            return ctx.no_data(body, "No data");
        }
        if let Some(p) = points.iter().find(|p| p.cluster >= MAX_CLUSTERS) {
            return Err(ChartError::Data(format!(
                "cluster index {} is too large (at most {})",
                p.cluster,
                MAX_CLUSTERS - 1
            )));
        }
        let clusters = points
            .iter()
            .map(|p| p.cluster + 1)
            .max()
            .unwrap_or(0)
            .max(self.cluster_names.len());
        let mut sizes = vec![0usize; clusters];
        for p in &points {
            sizes[p.cluster] += 1;
        }
        let items: Vec<LegendItem> = (0..clusters)
            .filter(|&i| sizes[i] > 0)
            .map(|i| {
                LegendItem::new(
                    format!("{} ({})", self.name(i), Unit::Count.format(sizes[i] as f64)),
                    Swatch::Marker(category_color(i), Shape::for_category(i)),
                )
            })
            .collect();
        let (chart_body, legend_w) = ctx.place_legend(&items, body)?;

        let (x_min, x_max) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.x), b.max(p.x))
            });
        let (y_min, y_max) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.y), b.max(p.y))
            });
        let (x0, x1, x_ticks) = nice_axis(x_min, x_max, 6);
        let (y0, y1, y_ticks) = nice_axis(y_min, y_max, 5);
        let x_labels = Unit::Number.format_ticks(&x_ticks);
        let y_labels = Unit::Number.format_ticks(&y_ticks);
        let right_pad = x_labels
            .last()
            .map(|l| ctx.measure(l, TICK_PX))
            .transpose()?
            .unwrap_or(0)
            / 2;
        let plot = plot_rect(
            chart_body,
            ctx.max_width(&y_labels, TICK_PX)?,
            true,
            1,
            true,
            right_pad,
        );
        let xs = Scale::linear(x0, x1, plot.x0, plot.x1);
        let ys = Scale::linear(y0, y1, plot.y1, plot.y0);
        let y_grid: Vec<(i32, String)> = y_ticks.iter().map(|t| ys.px(*t)).zip(y_labels).collect();
        let x_grid: Vec<(i32, String)> = x_ticks.iter().map(|t| xs.px(*t)).zip(x_labels).collect();
        ctx.y_grid(plot, &y_grid)?;
        ctx.x_grid(plot, &x_grid, true)?;
        // The origin of the components, when in view.
        if x0 < 0.0 && x1 > 0.0 {
            ctx.line(vec![(xs.px(0.0), plot.y0), (xs.px(0.0), plot.y1)], AXIS, 1)?;
        }
        if y0 < 0.0 && y1 > 0.0 {
            ctx.line(vec![(plot.x0, ys.px(0.0)), (plot.x1, ys.px(0.0))], AXIS, 1)?;
        }

        let n = points.len();
        let (r, alpha) = match n {
            0..=300 => (4, 0.8),
            301..=1500 => (3, 0.7),
            _ => (2, 0.6),
        };
        // A point whose cluster already has one within the same `cell`
        // pixels is hidden under it: draw it once, which keeps the SVG small
        // for thousands of customers.
        let cell = if r <= 2 { 2 } else { 1 };
        let mut seen = HashSet::with_capacity(n);
        for p in points {
            let (px, py) = (xs.px(p.x), ys.px(p.y));
            if !seen.insert((p.cluster, px.div_euclid(cell), py.div_euclid(cell))) {
                continue;
            }
            let color = category_color(p.cluster).mix(alpha);
            ctx.marker(Shape::for_category(p.cluster), px, py, r, color)?;
        }
        ctx.x_title(chart_body, plot, &self.x_label)?;
        ctx.y_title(chart_body, plot, &self.y_label)?;
        if let Some(w) = legend_w {
            ctx.legend_column(&items, Rect::new(body.x1 - w, plot.y0, body.x1, plot.y1))?;
        }
        Ok(())
    }
}
