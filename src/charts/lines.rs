//! Line charts over a numeric x, and the choice of k for clustering
//! (elbow of the inertia and silhouette against k).

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, RGBColor};
use serde::{Deserialize, Serialize};

use super::draw::{
    line_h, nice_axis, plot_rect, Ctx, LegendItem, Rect, Scale, Shape, Swatch, AXIS, TICK_PX,
    VALUE_PX, WHITE,
};
use super::palette::{category_color, VERMILLION};
use super::{ChartError, ChartKind, ChartOptions, Plot, Unit};

/// One line: `(x, y)` points, drawn in x order; non-finite ones are skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineSeries {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A vertical line marking one x, such as the chosen k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XMarker {
    pub x: f64,
    pub label: String,
}

/// Input of the line chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineChart {
    pub series: Vec<LineSeries>,
    pub x_label: String,
    pub y_label: String,
    /// Unit of the y values.
    #[serde(default = "number")]
    pub unit: Unit,
    #[serde(default)]
    pub marker: Option<XMarker>,
    /// Whole-number x (such as k): ticks only on integers.
    #[serde(default)]
    pub integer_x: bool,
}

fn number() -> Unit {
    Unit::Number
}

/// Clustering quality for one k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    pub k: u32,
    /// Within-cluster sum of squares.
    #[serde(default)]
    pub inertia: Option<f64>,
    /// Mean silhouette, -1 to 1.
    #[serde(default)]
    pub silhouette: Option<f64>,
}

/// Input of the k-selection chart: a panel for inertia (the elbow) and
/// one for silhouette, whichever have values, with the chosen k marked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KSelection {
    pub scores: Vec<KScore>,
    #[serde(default)]
    pub chosen_k: Option<u32>,
}

/// A line as drawn: finite points in x order, colour and marker.
struct Drawn<'a> {
    name: &'a str,
    points: Vec<(f64, f64)>,
    color: RGBColor,
    shape: Shape,
}

/// One set of axes with lines.
struct Panel<'a> {
    lines: Vec<Drawn<'a>>,
    y_title: String,
    unit: Unit,
    x_title: Option<String>,
}

/// What panels share: the x axis and the marker.
struct XAxis<'a> {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    labels: Vec<String>,
    marker: Option<&'a XMarker>,
}

fn finite_sorted(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut p: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    p
}

fn x_axis<'a>(
    xs: impl Iterator<Item = f64>,
    integer: bool,
    marker: Option<&'a XMarker>,
) -> XAxis<'a> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in xs.chain(marker.map(|m| m.x).filter(|x| x.is_finite())) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if integer && hi - lo <= 24.0 {
        let ticks: Vec<f64> = (lo.ceil() as i64..=hi.floor() as i64)
            .map(|k| k as f64)
            .collect();
        let step = if ticks.len() > 12 { 2 } else { 1 };
        let ticks: Vec<f64> = ticks.into_iter().step_by(step).collect();
        let labels = ticks.iter().map(|t| format!("{t}")).collect();
        return XAxis {
            lo: lo - 0.5,
            hi: hi + 0.5,
            ticks,
            labels,
            marker,
        };
    }
    let (lo, hi, ticks) = nice_axis(lo, hi, 6);
    let labels = Unit::Number.format_ticks(&ticks);
    XAxis {
        lo,
        hi,
        ticks,
        labels,
        marker,
    }
}

/// The y axis of a panel: domain, ticks and labels.
fn y_axis(panel: &Panel) -> (f64, f64, Vec<f64>, Vec<String>) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for line in &panel.lines {
        for (_, y) in &line.points {
            lo = lo.min(*y);
            hi = hi.max(*y);
        }
    }
    let (lo, hi, ticks) = nice_axis(lo, hi, 4);
    let labels = panel.unit.format_ticks(&ticks);
    (lo, hi, ticks, labels)
}

fn draw_panel<DB: DrawingBackend>(
    ctx: &Ctx<DB>,
    body: Rect,
    y_label_w: i32,
    panel: &Panel,
    x: &XAxis,
    label_marker: bool,
) -> Result<(), ChartError> {
    let (y_lo, y_hi, y_ticks, y_labels) = y_axis(panel);
    let right_pad = x
        .labels
        .last()
        .map(|l| ctx.measure(l, TICK_PX))
        .transpose()?
        .unwrap_or(0)
        / 2
        + 4;
    let plot = plot_rect(body, y_label_w, true, 1, panel.x_title.is_some(), right_pad);
    let xs = Scale::linear(x.lo, x.hi, plot.x0, plot.x1);
    let ys = Scale::linear(y_lo, y_hi, plot.y1, plot.y0);
    let y_grid: Vec<(i32, String)> = y_ticks.iter().map(|t| ys.px(*t)).zip(y_labels).collect();
    let x_grid: Vec<(i32, String)> = x
        .ticks
        .iter()
        .map(|t| xs.px(*t))
        .zip(x.labels.iter().cloned())
        .collect();
    ctx.y_grid(plot, &y_grid)?;
    ctx.x_grid(plot, &x_grid, false)?;
    ctx.line(vec![(plot.x0, plot.y1), (plot.x1, plot.y1)], AXIS, 1)?;

    if let Some(m) = x.marker.filter(|m| m.x.is_finite()) {
        let mx = xs.px(m.x);
        ctx.dashed((mx, plot.y0), (mx, plot.y1), VERMILLION, 2, 6)?;
        if label_marker {
            ctx.text(
                &m.label,
                mx + 5,
                plot.y0,
                VALUE_PX,
                VERMILLION,
                HPos::Left,
                VPos::Top,
            )?;
        }
    }
    for Drawn {
        points: pts,
        color,
        shape,
        ..
    } in &panel.lines
    {
        let path: Vec<(i32, i32)> = pts.iter().map(|(a, b)| (xs.px(*a), ys.px(*b))).collect();
        if path.len() >= 2 {
            ctx.line(path.clone(), *color, 2)?;
        }
        for (i, &(px, py)) in path.iter().enumerate() {
            let marked = x.marker.is_some_and(|m| (pts[i].0 - m.x).abs() < 1e-9);
            if marked {
                ctx.marker(*shape, px, py, 6, VERMILLION.to_rgba())?;
                ctx.marker(*shape, px, py, 4, WHITE.to_rgba())?;
            }
            ctx.marker(*shape, px, py, 3, color.to_rgba())?;
        }
    }
    if let Some(t) = &panel.x_title {
        ctx.x_title(body, plot, t)?;
    }
    ctx.y_title(body, plot, &panel.y_title)?;
    Ok(())
}

/// Draws stacked panels sharing an x axis, with a legend on top.
fn draw_panels<DB: DrawingBackend>(
    ctx: &Ctx<DB>,
    mut body: Rect,
    panels: &[Panel],
    x: &XAxis,
) -> Result<(), ChartError> {
    let mut items: Vec<LegendItem> = panels
        .iter()
        .flat_map(|p| {
            p.lines
                .iter()
                .map(|l| LegendItem::new(l.name, Swatch::LineMarker(l.color, l.shape)))
        })
        .collect();
    if let Some(m) = x.marker {
        items.push(LegendItem::new(m.label.clone(), Swatch::Dashed(VERMILLION)));
    }
    let h = ctx.legend_rows(&items, body.x0, body.x1, body.y0, true)?;
    body.y0 += h + 4;
    // One width for all y labels, so the panels' x axes line up.
    let mut y_label_w = 0;
    for p in panels {
        y_label_w = y_label_w.max(ctx.max_width(&y_axis(p).3, TICK_PX)?);
    }
    let n = panels.len() as i32;
    let gap = line_h(TICK_PX);
    let panel_h = (body.h() - gap * (n - 1)) / n;
    for (i, p) in panels.iter().enumerate() {
        let y0 = body.y0 + i as i32 * (panel_h + gap);
        let y1 = if i as i32 == n - 1 {
            body.y1
        } else {
            y0 + panel_h
        };
        draw_panel(ctx, Rect { y0, y1, ..body }, y_label_w, p, x, i == 0)?;
    }
    Ok(())
}

impl Plot for LineChart {
    fn kind(&self) -> ChartKind {
        ChartKind::Line
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        opts: &ChartOptions,
    ) -> Result<(), ChartError> {
        let ctx = Ctx::new(root);
        let body = ctx.begin(opts)?;
        let lines: Vec<_> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| Drawn {
                name: s.name.as_str(),
                points: finite_sorted(&s.points),
                color: category_color(i),
                shape: Shape::for_category(i),
            })
            .filter(|l| !l.points.is_empty())
            .collect();
        if lines.is_empty() {
            return ctx.no_data(body, "No data");
        }
        let x = x_axis(
            lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)),
            self.integer_x,
            self.marker.as_ref(),
        );
        let panel = Panel {
            lines,
            y_title: format!("{}{}", self.y_label, self.unit.axis_suffix()),
            unit: self.unit.clone(),
            x_title: Some(self.x_label.clone()),
        };
        draw_panels(&ctx, body, &[panel], &x)
    }
}

impl Plot for KSelection {
    fn kind(&self) -> ChartKind {
        ChartKind::KSelection
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        opts: &ChartOptions,
    ) -> Result<(), ChartError> {
        let ctx = Ctx::new(root);
        let body = ctx.begin(opts)?;
        let pick = |f: fn(&KScore) -> Option<f64>| {
            let pts: Vec<(f64, f64)> = self
                .scores
                .iter()
                .filter_map(|s| f(s).map(|v| (s.k as f64, v)))
                .collect();
            finite_sorted(&pts)
        };
        let inertia = pick(|s| s.inertia);
        let silhouette = pick(|s| s.silhouette);
        let mut panels = Vec::new();
        if !inertia.is_empty() {
            panels.push(Panel {
                lines: vec![Drawn {
                    name: "Inertia",
                    points: inertia,
                    color: category_color(0),
                    shape: Shape::Circle,
                }],
                y_title: "Inertia".to_string(),
                unit: Unit::Number,
                x_title: None,
            });
        }
        if !silhouette.is_empty() {
            panels.push(Panel {
                lines: vec![Drawn {
                    name: "Silhouette",
                    points: silhouette,
                    color: category_color(1),
                    shape: Shape::Circle,
                }],
                y_title: "Silhouette".to_string(),
                unit: Unit::Number,
                x_title: None,
            });
        }
        let Some(last) = panels.last_mut() else {
            return ctx.no_data(body, "No data");
        };
        last.x_title = Some("Number of clusters (k)".to_string());
        let marker = self.chosen_k.map(|k| XMarker {
            x: k as f64,
            label: format!("Chosen k = {k}"),
        });
        let x = x_axis(
            panels
                .iter()
                .flat_map(|p| p.lines[0].points.iter().map(|p| p.0)),
            true,
            marker.as_ref(),
        );
        draw_panels(&ctx, body, &panels, &x)
    }
}

impl KSelection {
    /// Scores from parallel lists.
    pub fn new(ks: &[u32], inertia: &[f64], silhouette: &[f64], chosen_k: Option<u32>) -> Self {
        let scores = ks
            .iter()
            .enumerate()
            .map(|(i, &k)| KScore {
                k,
                inertia: inertia.get(i).copied(),
                silhouette: silhouette.get(i).copied(),
            })
            .collect();
        KSelection { scores, chosen_k }
    }
}

impl LineChart {
    pub fn new(
        series: Vec<LineSeries>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        LineChart {
            series,
            x_label: x_label.into(),
            y_label: y_label.into(),
            unit: Unit::Number,
            marker: None,
            integer_x: false,
        }
    }
}
