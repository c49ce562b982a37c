//! The RFM grid: recency score × frequency score, coloured by a value.

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};
use plotters::style::text_anchor::{HPos, VPos};
use serde::{Deserialize, Serialize};

use super::draw::{
    line_h, nice_axis, plot_rect, Ctx, Rect, EMPTY_CELL, FAINT, INK, LEGEND_PX, MUTED, TICK_PX,
};
use super::palette::{sequential, text_on};
use super::{ChartError, ChartKind, ChartOptions, Plot, Unit};

/// Scores go from 1 to this.
const SCORES: usize = 5;

/// One cell of the RFM grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfmCell {
    /// Recency score, 1 (longest ago) to 5 (most recent).
    pub recency: u8,
    /// Frequency score, 1 (fewest orders) to 5 (most).
    pub frequency: u8,
    /// Customers in the cell, or another value such as average monetary value.
    pub value: f64,
}

/// Input of the RFM heatmap: the value of each (recency, frequency) cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfmGrid {
    /// Cells, in any order; missing cells are 0 for counts and empty
    /// otherwise; repeated cells add up.
    pub cells: Vec<RfmCell>,
    /// What the value is, for the colour legend: "Customers", "Average spend".
    #[serde(default = "customers")]
    pub value_label: String,
    #[serde(default)]
    pub unit: Unit,
}

fn customers() -> String {
    "Customers".to_string()
}

impl RfmGrid {
    /// Counts customers per cell from their (recency, frequency) scores.
    pub fn count(scores: impl IntoIterator<Item = (u8, u8)>) -> Self {
        let mut counts = [[0u64; SCORES]; SCORES];
        let mut cells = Vec::new();
        for (r, f) in scores {
            if (1..=SCORES as u8).contains(&r) && (1..=SCORES as u8).contains(&f) {
                counts[f as usize - 1][r as usize - 1] += 1;
            } else {
                // Out of range: kept so drawing reports it.
                cells.push(RfmCell {
                    recency: r,
                    frequency: f,
                    value: 1.0,
                });
            }
        }
        for (f, row) in counts.iter().enumerate() {
            for (r, &n) in row.iter().enumerate() {
                cells.push(RfmCell {
                    recency: r as u8 + 1,
                    frequency: f as u8 + 1,
                    value: n as f64,
                });
            }
        }
        RfmGrid {
            cells,
            value_label: customers(),
            unit: Unit::Count,
        }
    }

    /// From a matrix: `values[frequency - 1][recency - 1]`.
    pub fn from_matrix(values: [[f64; 5]; 5], value_label: impl Into<String>, unit: Unit) -> Self {
        let cells = values
            .iter()
            .enumerate()
            .flat_map(|(f, row)| {
                row.iter().enumerate().map(move |(r, &value)| RfmCell {
                    recency: r as u8 + 1,
                    frequency: f as u8 + 1,
                    value,
                })
            })
            .collect();
        RfmGrid {
            cells,
            value_label: value_label.into(),
            unit,
        }
    }

    /// The grid as `[frequency - 1][recency - 1]`; non-finite values are skipped.
    fn grid(&self) -> Result<[[Option<f64>; SCORES]; SCORES], ChartError> {
        let mut grid = [[None; SCORES]; SCORES];
        for c in &self.cells {
            let ok = |s: u8| (1..=SCORES as u8).contains(&s);
            if !ok(c.recency) || !ok(c.frequency) {
                return Err(ChartError::Data(format!(
                    "RFM scores go from 1 to 5, not recency {} and frequency {}",
                    c.recency, c.frequency
                )));
            }
            if !c.value.is_finite() {
                continue;
            }
            let slot = &mut grid[c.frequency as usize - 1][c.recency as usize - 1];
            *slot = Some(slot.unwrap_or(0.0) + c.value);
        }
        if self.unit == Unit::Count {
            for v in grid.iter_mut().flatten() {
                v.get_or_insert(0.0);
            }
        }
        Ok(grid)
    }
}

impl Plot for RfmGrid {
    fn kind(&self) -> ChartKind {
        ChartKind::RfmHeatmap
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        opts: &ChartOptions,
    ) -> Result<(), ChartError> {
        let ctx = Ctx::new(root);
        let body = ctx.begin(opts)?;
        let grid = self.grid()?;
        let values: Vec<f64> = grid.iter().flatten().flatten().copied().collect();
        let total: f64 = values.iter().sum();
        if values.is_empty() || (self.unit == Unit::Count && total == 0.0) {
            return ctx.no_data(body, "No data");
        }
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lo = if min >= 0.0 && self.unit == Unit::Count {
            0.0
        } else {
            min
        };
        let (lo, hi, ticks) = nice_axis(lo, max, 4);
        let t_of = |v: f64| (v - lo) / (hi - lo);
        let tick_labels = self.unit.format_ticks(&ticks);

        // Colour legend on the right: title, gradient bar, tick labels.
        let bar_w = 14;
        let title_lines = ctx.wrap(&self.value_label, LEGEND_PX, 130, 3)?;
        let legend_w = (bar_w + 6 + ctx.max_width(&tick_labels, TICK_PX)?)
            .max(ctx.max_width(&title_lines, LEGEND_PX)?)
            .min(150);
        let left_body = Rect {
            x1: body.x1 - legend_w - 24,
            ..body
        };
        let plot = plot_rect(left_body, ctx.measure("5", TICK_PX)?, true, 1, true, 0);
        let (cw, ch) = (plot.w() as f64 / 5.0, plot.h() as f64 / 5.0);
        let cell_px = (ch.min(cw / 2.2) * 0.3).clamp(9.0, 14.0);

        for (f, row) in grid.iter().enumerate() {
            for (r, v) in row.iter().enumerate() {
                let x0 = plot.x0 + (r as f64 * cw).round() as i32;
                let x1 = plot.x0 + ((r + 1) as f64 * cw).round() as i32;
                let y1 = plot.y1 - (f as f64 * ch).round() as i32;
                let y0 = plot.y1 - ((f + 1) as f64 * ch).round() as i32;
                let cell = Rect::new(x0 + 1, y0 + 1, x1 - 1, y1 - 1);
                let (bg, label) = match v {
                    Some(v) => (sequential(t_of(*v)), self.unit.format(*v)),
                    None => (EMPTY_CELL, "–".to_string()),
                };
                ctx.fill(cell, bg)?;
                let label = if ctx.measure(&label, cell_px)? > cell.w() - 6 {
                    v.map(|v| self.unit.format_compact(v)).unwrap_or(label)
                } else {
                    label
                };
                if ctx.measure(&label, cell_px)? <= cell.w() - 4 {
                    ctx.text(
                        &label,
                        cell.cx(),
                        cell.cy(),
                        cell_px,
                        text_on(bg),
                        HPos::Center,
                        VPos::Center,
                    )?;
                }
            }
        }
        for i in 0..SCORES {
            let label = (i + 1).to_string();
            let cx = plot.x0 + ((i as f64 + 0.5) * cw).round() as i32;
            let cy = plot.y1 - ((i as f64 + 0.5) * ch).round() as i32;
            ctx.text(
                &label,
                cx,
                plot.y1 + 6,
                TICK_PX,
                MUTED,
                HPos::Center,
                VPos::Top,
            )?;
            ctx.text(
                &label,
                plot.x0 - 6,
                cy,
                TICK_PX,
                MUTED,
                HPos::Right,
                VPos::Center,
            )?;
        }
        ctx.x_title(left_body, plot, "Recency score (5 = most recent)")?;
        ctx.y_title(left_body, plot, "Frequency score (5 = most orders)")?;

        // The colour scale.
        let lx = body.x1 - legend_w;
        let mut y = plot.y0;
        for l in &title_lines {
            ctx.text(l, lx, y, LEGEND_PX, INK, HPos::Left, VPos::Top)?;
            y += line_h(LEGEND_PX);
        }
        let (bar_top, bar_bottom) = (y + line_h(TICK_PX) / 2 + 4, plot.y1);
        let steps = 48;
        let span = (bar_bottom - bar_top) as f64;
        for s in 0..steps {
            let ya = bar_bottom - (span * s as f64 / steps as f64).round() as i32;
            let yb = bar_bottom - (span * (s + 1) as f64 / steps as f64).round() as i32;
            let c = sequential((s as f64 + 0.5) / steps as f64);
            ctx.fill(Rect::new(lx, yb, lx + bar_w, ya), c)?;
        }
        ctx.outline(Rect::new(lx, bar_top, lx + bar_w, bar_bottom), FAINT, 1)?;
        for (t, label) in ticks.iter().zip(&tick_labels) {
            let ty = bar_bottom - (span * t_of(*t)).round() as i32;
            ctx.line(vec![(lx + bar_w, ty), (lx + bar_w + 3, ty)], FAINT, 1)?;
            ctx.text(
                label,
                lx + bar_w + 6,
                ty,
                TICK_PX,
                MUTED,
                HPos::Left,
                VPos::Center,
            )?;
        }
        Ok(())
    }
}
