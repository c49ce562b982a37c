//! Bar charts: a value per category, vertical or horizontal.

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::RGBColor;
use serde::{Deserialize, Serialize};

use super::draw::{
    line_h, nice_axis, plot_rect, Ctx, Rect, Scale, AXIS, AXIS_TITLE_PX, FAINT, INK, MUTED,
    TICK_PX, VALUE_PX,
};
use super::palette::{category_color, parse_hex, sequential, BLUE, OKABE_ITO};
use super::{ChartError, ChartKind, ChartOptions, Plot, Unit};

/// One bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub label: String,
    /// Non-finite values keep their place but draw no bar.
    pub value: f64,
    /// `#RRGGBB`, overriding the chart's colours for this bar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: f64) -> Self {
        Bar {
            label: label.into(),
            value,
            color: None,
        }
    }

    pub fn with_color(mut self, hex: impl Into<String>) -> Self {
        self.color = Some(hex.into());
        self
    }
}

/// Which way bars grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Orientation {
    /// Up from a category axis at the bottom.
    #[default]
    Vertical,
    /// Right from category labels on the left: for long labels.
    Horizontal,
}

/// How bars are coloured (a bar's own `color` wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarColors {
    /// All blue.
    #[default]
    Single,
    /// One Okabe–Ito colour per bar, as clusters get in the other charts.
    Categorical,
    /// Light to dark in bar order, for ordered categories.
    Sequential,
}

/// Input of the bar chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarChart {
    pub bars: Vec<Bar>,
    /// What the categories are: "Churn risk band".
    #[serde(default)]
    pub category_label: String,
    /// What the values are: "Customers", "Revenue".
    #[serde(default)]
    pub value_label: String,
    #[serde(default)]
    pub unit: Unit,
    #[serde(default)]
    pub orientation: Orientation,
    /// Write each value at the end of its bar.
    #[serde(default = "yes")]
    pub show_values: bool,
    #[serde(default)]
    pub colors: BarColors,
}

fn yes() -> bool {
    true
}

impl BarChart {
    pub fn new(
        bars: Vec<Bar>,
        category_label: impl Into<String>,
        value_label: impl Into<String>,
        unit: Unit,
    ) -> Self {
        BarChart {
            bars,
            category_label: category_label.into(),
            value_label: value_label.into(),
            unit,
            orientation: Orientation::Vertical,
            show_values: true,
            colors: BarColors::Single,
        }
    }

    pub fn horizontal(mut self) -> Self {
        self.orientation = Orientation::Horizontal;
        self
    }

    pub fn colors(mut self, colors: BarColors) -> Self {
        self.colors = colors;
        self
    }

    /// Customers per churn risk band: `counts` for Low (< 25%), Medium
    /// (25–50%), High (50–75%) and Very high (≥ 75%), coloured green to
    /// vermillion.
    pub fn churn_bands(counts: [u64; 4]) -> Self {
        let bands = [
            ("Low (< 25%)", OKABE_ITO[2]),
            ("Medium (25–50%)", OKABE_ITO[3]),
            ("High (50–75%)", OKABE_ITO[0]),
            ("Very high (≥ 75%)", OKABE_ITO[5]),
        ];
        let bars = bands
            .iter()
            .zip(counts)
            .map(|((label, c), n)| Bar::new(*label, n as f64).with_color(hex(*c)))
            .collect();
        BarChart::new(bars, "Churn risk", "Customers", Unit::Count)
    }

    /// Revenue per RFM segment, as horizontal bars in `currency`.
    pub fn revenue_by_segment(
        segments: impl IntoIterator<Item = (String, f64)>,
        currency: &str,
    ) -> Self {
        let bars = segments.into_iter().map(|(s, v)| Bar::new(s, v)).collect();
        BarChart::new(bars, "RFM segment", "Revenue", Unit::money(currency)).horizontal()
    }

    /// Customers per cluster, in the clusters' colours.
    pub fn cluster_sizes(clusters: impl IntoIterator<Item = (String, u64)>) -> Self {
        let bars = clusters
            .into_iter()
            .map(|(s, n)| Bar::new(s, n as f64))
            .collect();
        BarChart::new(bars, "Cluster", "Customers", Unit::Count).colors(BarColors::Categorical)
    }

    fn bar_colors(&self) -> Result<Vec<RGBColor>, ChartError> {
        let n = self.bars.len();
        self.bars
            .iter()
            .enumerate()
            .map(|(i, b)| match &b.color {
                Some(hex) => parse_hex(hex)
                    .ok_or_else(|| ChartError::Data(format!("bar colour {hex:?} is not #RRGGBB"))),
                None => Ok(match self.colors {
                    BarColors::Single => BLUE,
                    BarColors::Categorical => category_color(i),
                    BarColors::Sequential => {
                        sequential(0.15 + 0.75 * i as f64 / (n.max(2) - 1) as f64)
                    }
                }),
            })
            .collect()
    }

    /// The value axis over `extent` pixels: domain and ticks, leaving
    /// `need` pixels beyond the longest bars for their value labels.
    fn value_axis(&self, extent: f64, need: f64) -> (f64, f64, Vec<f64>) {
        let finite = self.bars.iter().map(|b| b.value).filter(|v| v.is_finite());
        let (mut lo, mut hi) = finite.fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        let sides = f64::from(u8::from(hi > 0.0) + u8::from(lo < 0.0));
        if self.show_values && sides > 0.0 {
            // A label takes `frac` of the axis; solve span + pads = total
            // with each pad `frac * total`.
            let frac = (need / extent.max(1.0)).min(0.3);
            let pad = frac * (hi - lo) / (1.0 - frac * sides);
            if hi > 0.0 {
                hi += pad;
            }
            if lo < 0.0 {
                lo -= pad;
            }
        }
        nice_axis(lo, hi, 5)
    }

    /// The widest value label.
    fn value_label_w<DB: DrawingBackend>(&self, ctx: &Ctx<DB>) -> Result<i32, ChartError> {
        let mut w = 0;
        for b in &self.bars {
            w = w.max(ctx.measure(&self.value_text(b.value), VALUE_PX)?);
        }
        Ok(w)
    }

    fn value_text(&self, v: f64) -> String {
        if v.is_finite() {
            self.unit.format(v)
        } else {
            "–".to_string()
        }
    }
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

impl Plot for BarChart {
    fn kind(&self) -> ChartKind {
        ChartKind::Bar
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        opts: &ChartOptions,
    ) -> Result<(), ChartError> {
        let ctx = Ctx::new(root);
        let body = ctx.begin(opts)?;
        let colors = self.bar_colors()?;
        if !self.bars.iter().any(|b| b.value.is_finite()) {
            return ctx.no_data(body, "No data");
        }
        let value_title = format!("{}{}", self.value_label, self.unit.axis_suffix());
        match self.orientation {
            Orientation::Vertical => self.draw_vertical(&ctx, body, &colors, &value_title),
            Orientation::Horizontal => self.draw_horizontal(&ctx, body, &colors, &value_title),
        }
    }
}

impl BarChart {
    fn draw_vertical<DB: DrawingBackend>(
        &self,
        ctx: &Ctx<DB>,
        body: Rect,
        colors: &[RGBColor],
        value_title: &str,
    ) -> Result<(), ChartError> {
        let n = self.bars.len() as i32;
        let labels: Vec<String> = self.bars.iter().map(|b| b.label.clone()).collect();
        let has_x_title = !self.category_label.is_empty();
        let extent = plot_rect(body, 0, true, 2, has_x_title, 0).h() as f64;
        let (lo, hi, ticks) = self.value_axis(extent, (line_h(VALUE_PX) + 6) as f64);
        let tick_labels = self.unit.format_ticks(&ticks);
        let y_label_w = ctx.max_width(&tick_labels, TICK_PX)?;
        // Two lines of category labels when any needs them.
        let trial = plot_rect(body, y_label_w, true, 2, has_x_title, 0);
        let slot = trial.w() / n;
        let mut rows = 1;
        for l in &labels {
            if ctx.wrap(l, TICK_PX, (slot - 4).max(12), 2)?.len() > 1 {
                rows = 2;
            }
        }
        let plot = plot_rect(body, y_label_w, true, rows, has_x_title, 0);
        let slot = plot.w() as f64 / n as f64;
        let ys = Scale::linear(lo, hi, plot.y1, plot.y0);
        let grid: Vec<(i32, String)> = ticks.iter().map(|t| ys.px(*t)).zip(tick_labels).collect();
        ctx.y_grid(plot, &grid)?;

        let bar_w = (slot * 0.66).min(96.0);
        let zero = ys.px(0.0);
        let mut centres = Vec::with_capacity(labels.len());
        for (i, b) in self.bars.iter().enumerate() {
            let cx = plot.x0 as f64 + slot * (i as f64 + 0.5);
            centres.push(cx.round() as i32);
            let (x0, x1) = (
                (cx - bar_w / 2.0).round() as i32,
                (cx + bar_w / 2.0).round() as i32,
            );
            if b.value.is_finite() {
                let y = ys.px(b.value);
                ctx.fill(Rect::new(x0, y.min(zero), x1, y.max(zero)), colors[i])?;
            }
            if self.show_values {
                let mut text = self.value_text(b.value);
                if ctx.measure(&text, VALUE_PX)? > slot as i32 - 2 && b.value.is_finite() {
                    text = self.unit.format_compact(b.value);
                }
                let y = ys.px(if b.value.is_finite() { b.value } else { 0.0 });
                let (ty, v) = if b.value < 0.0 {
                    (y + 4, VPos::Top)
                } else {
                    (y - 4, VPos::Bottom)
                };
                ctx.text(&text, cx.round() as i32, ty, VALUE_PX, INK, HPos::Center, v)?;
            }
        }
        ctx.line(vec![(plot.x0, zero), (plot.x1, zero)], AXIS, 1)?;
        ctx.x_categories(plot, &centres, &labels, slot as i32)?;
        if has_x_title {
            ctx.x_title(body, plot, &self.category_label)?;
        }
        ctx.y_title(body, plot, value_title)?;
        Ok(())
    }

    fn draw_horizontal<DB: DrawingBackend>(
        &self,
        ctx: &Ctx<DB>,
        body: Rect,
        colors: &[RGBColor],
        value_title: &str,
    ) -> Result<(), ChartError> {
        let label_px = TICK_PX + 1.0;
        let has_cat_title = !self.category_label.is_empty();
        let cat_title_w = if has_cat_title {
            line_h(AXIS_TITLE_PX) + 8
        } else {
            0
        };
        let label_w = ctx
            .max_width(
                &self.bars.iter().map(|b| &b.label).collect::<Vec<_>>(),
                label_px,
            )?
            .min(body.w() * 2 / 5);
        let need = (self.value_label_w(ctx)? + 8) as f64;
        let plot_for = |right_pad: i32| {
            let mut plot = plot_rect(body, 0, false, 1, true, right_pad.max(4));
            plot.x0 = body.x0 + cat_title_w + label_w + 10;
            plot.y0 = body.y0;
            plot
        };
        // The last tick label overhangs the plot by half its width: size
        // the axis, then the plot for its labels, then the axis again.
        let mut plot = plot_for(24);
        let (mut lo, mut hi, mut ticks) = self.value_axis(plot.w() as f64, need);
        let mut tick_labels = self.unit.format_ticks(&ticks);
        let half_last = |labels: &[String]| -> Result<i32, ChartError> {
            Ok(labels
                .last()
                .map(|l| ctx.measure(l, TICK_PX))
                .transpose()?
                .unwrap_or(0)
                / 2)
        };
        if half_last(&tick_labels)? != 24 {
            plot = plot_for(half_last(&tick_labels)?);
            (lo, hi, ticks) = self.value_axis(plot.w() as f64, need);
            tick_labels = self.unit.format_ticks(&ticks);
        }
        let xs = Scale::linear(lo, hi, plot.x0, plot.x1);
        let grid: Vec<(i32, String)> = ticks.iter().map(|t| xs.px(*t)).zip(tick_labels).collect();
        ctx.x_grid(plot, &grid, true)?;

        let n = self.bars.len() as f64;
        let slot = plot.h() as f64 / n;
        let bar_h = (slot * 0.66).min(40.0);
        let zero = xs.px(0.0);
        for (i, b) in self.bars.iter().enumerate() {
            let cy = plot.y0 as f64 + slot * (i as f64 + 0.5);
            let (y0, y1) = (
                (cy - bar_h / 2.0).round() as i32,
                (cy + bar_h / 2.0).round() as i32,
            );
            let cy = cy.round() as i32;
            let label = ctx.fit(&b.label, label_px, label_w)?;
            ctx.text(
                &label,
                plot.x0 - 8,
                cy,
                label_px,
                MUTED,
                HPos::Right,
                VPos::Center,
            )?;
            if b.value.is_finite() {
                let x = xs.px(b.value);
                ctx.fill(Rect::new(x.min(zero), y0, x.max(zero), y1), colors[i])?;
            }
            if self.show_values {
                let text = self.value_text(b.value);
                let x = xs.px(if b.value.is_finite() { b.value } else { 0.0 });
                let (tx, h) = if b.value < 0.0 {
                    (x - 4, HPos::Right)
                } else {
                    (x + 4, HPos::Left)
                };
                let color = if b.value.is_finite() { INK } else { FAINT };
                ctx.text(&text, tx, cy, VALUE_PX, color, h, VPos::Center)?;
            }
        }
        ctx.line(vec![(zero, plot.y0), (zero, plot.y1)], AXIS, 1)?;
        ctx.x_title(body, plot, value_title)?;
        if has_cat_title {
            ctx.y_title(body, plot, &self.category_label)?;
        }
        Ok(())
    }
}
