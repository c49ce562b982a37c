//! Cluster profiles over features: a radar (spider) chart, or grouped bars.

use std::f64::consts::PI;

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::Color;
use serde::{Deserialize, Serialize};

use super::draw::{
    line_h, plot_rect, Ctx, LegendItem, Rect, Scale, Shape, Swatch, AXIS, FAINT, GRID, MUTED,
    TICK_PX, WHITE,
};
use super::palette::category_color;
use super::{ChartError, ChartKind, ChartOptions, Plot, Unit};

/// One cluster's value per feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterProfile {
    pub name: String,
    /// One per feature, in the order of `features`; non-finite ones are skipped.
    pub values: Vec<f64>,
}

/// How profiles are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileStyle {
    /// A polygon per cluster over one spoke per feature (needs 3 features;
    /// fewer fall back to bars).
    #[default]
    Radar,
    /// Bars per feature, grouped, one per cluster.
    Bars,
}

/// Input of the cluster profile chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterProfiles {
    /// Feature names: the spokes of the radar.
    pub features: Vec<String>,
    pub clusters: Vec<ClusterProfile>,
    /// Rescale each feature to 0..1 across clusters (lowest cluster 0,
    /// highest 1). When false, values are taken as already 0..1 (clamped).
    #[serde(default = "yes")]
    pub normalise: bool,
    #[serde(default)]
    pub style: ProfileStyle,
}

fn yes() -> bool {
    true
}

impl ClusterProfiles {
    pub fn new(features: Vec<String>, clusters: Vec<ClusterProfile>) -> Self {
        ClusterProfiles {
            features,
            clusters,
            normalise: true,
            style: ProfileStyle::Radar,
        }
    }

    pub fn style(mut self, style: ProfileStyle) -> Self {
        self.style = style;
        self
    }

    /// The drawn values: `[cluster][feature]` in 0..=1, `None` when not finite.
    pub fn normalised(&self) -> Result<Vec<Vec<Option<f64>>>, ChartError> {
        let m = self.features.len();
        if let Some(c) = self.clusters.iter().find(|c| c.values.len() != m) {
            return Err(ChartError::Data(format!(
                "cluster {:?} has {} values for {} features",
                c.name,
                c.values.len(),
                m
            )));
        }
        let mut out: Vec<Vec<Option<f64>>> = self
            .clusters
            .iter()
            .map(|c| {
                c.values
                    .iter()
                    .map(|v| v.is_finite().then_some(*v))
                    .collect()
            })
            .collect();
        for j in 0..m {
            let col = out.iter().filter_map(|row| row[j]);
            let (lo, hi) = col.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            for row in out.iter_mut() {
                if let Some(v) = row[j].as_mut() {
                    *v = if !self.normalise {
                        v.clamp(0.0, 1.0)
                    } else if hi - lo > 1e-12 {
                        (*v - lo) / (hi - lo)
                    } else {
                        0.5
                    };
                }
            }
        }
        Ok(out)
    }

    fn note(&self) -> &'static str {
        if self.normalise {
            "Each feature rescaled across clusters: 0 = lowest cluster, 1 = highest."
        } else {
            "Values on a 0–1 scale."
        }
    }

    fn legend(&self, swatch: fn(usize) -> Swatch) -> Vec<LegendItem> {
        self.clusters
            .iter()
            .enumerate()
            .map(|(i, c)| LegendItem::new(c.name.clone(), swatch(i)))
            .collect()
    }
}

impl Plot for ClusterProfiles {
    fn kind(&self) -> ChartKind {
        ChartKind::ClusterProfiles
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        opts: &ChartOptions,
    ) -> Result<(), ChartError> {
        let ctx = Ctx::new(root);
        let body = ctx.begin(opts)?;
        let values = self.normalised()?;
        if self.features.is_empty() || !values.iter().flatten().any(|v| v.is_some()) {
            return ctx.no_data(body, "No data");
        }
        if self.style == ProfileStyle::Radar && self.features.len() >= 3 {
            self.draw_radar(&ctx, body, &values)
        } else {
            self.draw_bars(&ctx, body, &values)
        }
    }
}

impl ClusterProfiles {
    fn draw_radar<DB: DrawingBackend>(
        &self,
        ctx: &Ctx<DB>,
        body: Rect,
        values: &[Vec<Option<f64>>],
    ) -> Result<(), ChartError> {
        let body = ctx.footnote(body, self.note())?;
        let items = self.legend(|i| Swatch::Area(category_color(i)));
        let (area, legend_w) = ctx.place_legend(&items, body)?;
        let label_px = TICK_PX + 0.5;
        let m = self.features.len();
        let max_label_w = 120.min(area.w() / 4);
        let labels: Vec<Vec<String>> = self
            .features
            .iter()
            .map(|f| ctx.wrap(f, label_px, max_label_w, 2))
            .collect::<Result<_, _>>()?;
        let widest = labels
            .iter()
            .flatten()
            .map(|l| ctx.measure(l, label_px))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .max()
            .unwrap_or(0);
        let lh = line_h(label_px);
        let radius = ((area.w() / 2 - widest - 14).min(area.h() / 2 - 2 * lh - 10)).max(30) as f64;
        let (cx, cy) = (area.cx() as f64, area.cy() as f64);
        let angle = |j: usize| -PI / 2.0 + 2.0 * PI * j as f64 / m as f64;
        let at = |j: usize, r: f64| {
            let a = angle(j);
            (
                (cx + r * a.cos()).round() as i32,
                (cy + r * a.sin()).round() as i32,
            )
        };

        // Rings, spokes and ring values.
        for k in 1..=4 {
            let r = radius * k as f64 / 4.0;
            let mut ring: Vec<(i32, i32)> = (0..m).map(|j| at(j, r)).collect();
            ring.push(ring[0]);
            ctx.line(ring, if k == 4 { AXIS } else { GRID }, 1)?;
        }
        for j in 0..m {
            ctx.line(vec![at(j, 0.0), at(j, radius)], GRID, 1)?;
        }
        // Ring values on a white patch beside the first spoke, over the areas.
        let ring_values = [0.25, 0.5, 0.75, 1.0];
        let ring_px = TICK_PX - 1.0;
        let ring_labels: Vec<(i32, i32, String)> = ring_values
            .iter()
            .zip(Unit::Number.format_ticks(&ring_values))
            .map(|(v, l)| {
                let (x, y) = at(0, radius * v);
                (x, y, l)
            })
            .collect();
        // Feature names beyond the spoke ends, anchored away from the centre.
        for (j, lines) in labels.iter().enumerate() {
            let a = angle(j);
            let (c, s) = (a.cos(), a.sin());
            let (x, y) = at(j, radius + 10.0);
            let h = if c > 0.2 {
                HPos::Left
            } else if c < -0.2 {
                HPos::Right
            } else {
                HPos::Center
            };
            let block = lh * lines.len() as i32;
            let top = if s < -0.2 {
                y - block
            } else if s > 0.2 {
                y
            } else {
                y - block / 2
            };
            for (i, l) in lines.iter().enumerate() {
                ctx.text(l, x, top + lh * i as i32, label_px, MUTED, h, VPos::Top)?;
            }
        }

        // Areas first, outlines over all of them, so none hides another's edge.
        let polys: Vec<Vec<(i32, i32)>> = values
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .filter_map(|(j, v)| v.map(|v| at(j, radius * v)))
                    .collect()
            })
            .collect();
        for (i, pts) in polys.iter().enumerate() {
            if pts.len() >= 3 {
                ctx.polygon(pts.clone(), category_color(i).mix(0.12))?;
            }
        }
        for (i, pts) in polys.iter().enumerate() {
            let color = category_color(i);
            if pts.len() >= 2 {
                let mut closed = pts.clone();
                closed.push(pts[0]);
                ctx.line(closed, color, 2)?;
            }
            for &(x, y) in pts {
                ctx.marker(Shape::for_category(i), x, y, 3, color.to_rgba())?;
            }
        }
        for (x, y, label) in ring_labels {
            let w = ctx.measure(&label, ring_px)?;
            let h = line_h(ring_px);
            ctx.fill(
                Rect::new(x + 3, y - h / 2, x + 3 + w + 4, y + h / 2),
                WHITE.mix(0.85),
            )?;
            ctx.text(&label, x + 5, y, ring_px, FAINT, HPos::Left, VPos::Center)?;
        }
        if let Some(w) = legend_w {
            ctx.legend_column(&items, Rect::new(body.x1 - w, body.y0, body.x1, body.y1))?;
        }
        Ok(())
    }

    fn draw_bars<DB: DrawingBackend>(
        &self,
        ctx: &Ctx<DB>,
        mut body: Rect,
        values: &[Vec<Option<f64>>],
    ) -> Result<(), ChartError> {
        let items = self.legend(|i| Swatch::Fill(category_color(i)));
        let h = ctx.legend_rows(&items, body.x0, body.x1, body.y0, true)?;
        body.y0 += h + 4;
        let body = ctx.footnote(body, self.note())?;
        let ticks = [0.0, 0.25, 0.5, 0.75, 1.0];
        let tick_labels = Unit::Number.format_ticks(&ticks);
        let m = self.features.len() as i32;
        let y_label_w = ctx.max_width(&tick_labels, TICK_PX)?;
        let trial = plot_rect(body, y_label_w, true, 2, false, 0);
        let mut rows = 1;
        for f in &self.features {
            if ctx.wrap(f, TICK_PX, trial.w() / m - 4, 2)?.len() > 1 {
                rows = 2;
            }
        }
        let plot = plot_rect(body, y_label_w, true, rows, false, 0);
        let ys = Scale::linear(0.0, 1.0, plot.y1, plot.y0);
        let grid: Vec<(i32, String)> = ticks.iter().map(|t| ys.px(*t)).zip(tick_labels).collect();
        ctx.y_grid(plot, &grid)?;
        let slot = plot.w() as f64 / m as f64;
        let k = self.clusters.len().max(1) as f64;
        let group = slot * 0.8;
        let bar = group / k;
        let mut centres = Vec::new();
        for j in 0..self.features.len() {
            let cx = plot.x0 as f64 + slot * (j as f64 + 0.5);
            centres.push(cx.round() as i32);
            for (i, row) in values.iter().enumerate() {
                if let Some(v) = row[j] {
                    let x0 = cx - group / 2.0 + bar * i as f64;
                    let gap = if bar >= 6.0 { 1.0 } else { 0.0 };
                    ctx.fill(
                        Rect::new(
                            (x0 + gap).round() as i32,
                            ys.px(v),
                            (x0 + bar - gap).round() as i32,
                            plot.y1,
                        ),
                        category_color(i),
                    )?;
                }
            }
        }
        ctx.line(vec![(plot.x0, plot.y1), (plot.x1, plot.y1)], AXIS, 1)?;
        ctx.x_categories(plot, &centres, &self.features, slot as i32)?;
        ctx.y_title(body, plot, "Relative value (0–1)")?;
        Ok(())
    }
}
