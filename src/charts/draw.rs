//! Drawing helpers shared by the charts: text, shapes, scales, axes,
//! legends and the title header, all in pixel coordinates of the root area.

use plotters::coord::Shift;
use plotters::element::{Circle, DashedPathElement, PathElement, Polygon, Rectangle, Text};
use plotters::prelude::{Cross, DrawingArea, DrawingBackend, TriangleMarker};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{
    Color, FontDesc, FontFamily, FontStyle, FontTransform, RGBAColor, RGBColor, ShapeStyle,
    TextStyle,
};

use super::{ChartError, ChartOptions, FONT_FAMILY};

pub(crate) type R<T> = Result<T, ChartError>;

// Text sizes in CSS pixels (plotters sizes are 1.24× larger, see `font`).
pub(crate) const TITLE_PX: f64 = 16.0;
pub(crate) const SUBTITLE_PX: f64 = 12.0;
pub(crate) const AXIS_TITLE_PX: f64 = 12.0;
pub(crate) const TICK_PX: f64 = 11.0;
pub(crate) const LEGEND_PX: f64 = 12.0;
pub(crate) const VALUE_PX: f64 = 11.0;
pub(crate) const NOTE_PX: f64 = 10.5;

pub(crate) const WHITE: RGBColor = RGBColor(255, 255, 255);
pub(crate) const INK: RGBColor = RGBColor(0x11, 0x18, 0x27);
pub(crate) const MUTED: RGBColor = RGBColor(0x37, 0x41, 0x51);
pub(crate) const FAINT: RGBColor = RGBColor(0x6b, 0x72, 0x80);
pub(crate) const GRID: RGBColor = RGBColor(0xe5, 0xe7, 0xeb);
pub(crate) const AXIS: RGBColor = RGBColor(0x9c, 0xa3, 0xaf);
pub(crate) const EMPTY_CELL: RGBColor = RGBColor(0xf3, 0xf4, 0xf6);

/// Outer margin of every chart.
pub(crate) const MARGIN: i32 = 16;

/// The height of a line of text of `px` CSS pixels.
pub(crate) fn line_h(px: f64) -> i32 {
    (px * 1.3).ceil() as i32
}

/// A pixel rectangle: `x0..x1`, `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

impl Rect {
    pub fn new(x0: i32, y0: i32, x1: i32, y1: i32) -> Self {
        Rect { x0, y0, x1, y1 }
    }
    pub fn w(&self) -> i32 {
        self.x1 - self.x0
    }
    pub fn h(&self) -> i32 {
        self.y1 - self.y0
    }
    pub fn cx(&self) -> i32 {
        (self.x0 + self.x1) / 2
    }
    pub fn cy(&self) -> i32 {
        (self.y0 + self.y1) / 2
    }
}

/// Where the marker of a series sits in the legend, and its shape on the plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Circle,
    Triangle,
    Square,
    Cross,
}

impl Shape {
    /// The marker of category `i`: colours repeat after 8, so shapes change.
    pub fn for_category(i: usize) -> Self {
        match (i / 8) % 4 {
            0 => Shape::Circle,
            1 => Shape::Triangle,
            2 => Shape::Square,
            _ => Shape::Cross,
        }
    }
}

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Swatch {
    Fill(RGBColor),
    Dashed(RGBColor),
    Marker(RGBColor, Shape),
    LineMarker(RGBColor, Shape),
    /// An outlined, lightly filled area (radar polygons).
    Area(RGBColor),
}

#[derive(Debug, Clone)]
pub(crate) struct LegendItem {
    pub label: String,
    pub swatch: Swatch,
}

impl LegendItem {
    pub fn new(label: impl Into<String>, swatch: Swatch) -> Self {
        LegendItem {
            label: label.into(),
            swatch,
        }
    }
}

const SWATCH_W: i32 = 18;
const SWATCH_GAP: i32 = 6;
const ITEM_GAP: i32 = 18;

/// The root drawing area and its size, with drawing helpers.
pub(crate) struct Ctx<'a, DB: DrawingBackend> {
    pub area: &'a DrawingArea<DB, Shift>,
    pub w: i32,
    pub h: i32,
}

pub(crate) fn font(px: f64, bold: bool) -> FontDesc<'static> {
    // plotters writes `size / 1.24` as the SVG font size; keep CSS pixels here.
    FontDesc::new(
        FontFamily::Name(FONT_FAMILY),
        px * 1.24,
        if bold {
            FontStyle::Bold
        } else {
            FontStyle::Normal
        },
    )
}

pub(crate) fn style(px: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: font(px, false),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

impl<'a, DB: DrawingBackend> Ctx<'a, DB> {
    pub fn new(area: &'a DrawingArea<DB, Shift>) -> Self {
        let (w, h) = area.dim_in_pixel();
        Ctx {
            area,
            w: w as i32,
            h: h as i32,
        }
    }

    pub fn draw_text(&self, s: &str, x: i32, y: i32, st: &TextStyle) -> R<()> {
        if s.is_empty() {
            return Ok(());
        }
        self.area.draw(&Text::new(s, (x, y), st.clone()))?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn text(
        &self,
        s: &str,
        x: i32,
        y: i32,
        px: f64,
        color: RGBColor,
        h: HPos,
        v: VPos,
    ) -> R<()> {
        self.draw_text(s, x, y, &style(px, color, h, v))
    }

    /// Text turned a quarter anticlockwise, centred on (x, y): y-axis titles.
    pub fn text_vertical(&self, s: &str, x: i32, y: i32, px: f64, color: RGBColor) -> R<()> {
        let st = style(px, color, HPos::Center, VPos::Center).transform(FontTransform::Rotate270);
        self.draw_text(s, x, y, &st)
    }

    /// The width of `s` in pixels.
    pub fn measure(&self, s: &str, px: f64) -> R<i32> {
        if s.is_empty() {
            return Ok(0);
        }
        let st = style(px, INK, HPos::Left, VPos::Top);
        Ok(self.area.estimate_text_size(s, &st)?.0 as i32)
    }

    /// The widest of `labels`.
    pub fn max_width<S: AsRef<str>>(&self, labels: &[S], px: f64) -> R<i32> {
        let mut m = 0;
        for l in labels {
            m = m.max(self.measure(l.as_ref(), px)?);
        }
        Ok(m)
    }

    /// `s`, cut with an ellipsis to fit `max_w` pixels.
    pub fn fit(&self, s: &str, px: f64, max_w: i32) -> R<String> {
        if self.measure(s, px)? <= max_w {
            return Ok(s.to_string());
        }
        let chars: Vec<char> = s.chars().collect();
        // Binary search the longest prefix that fits with the ellipsis.
        let (mut lo, mut hi) = (0usize, chars.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let cand: String = chars[..mid]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_string()
                + "…";
            if self.measure(&cand, px)? <= max_w {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        if lo == 0 {
            return Ok(String::new());
        }
        Ok(chars[..lo]
            .iter()
            .collect::<String>()
            .trim_end()
            .to_string()
            + "…")
    }

    /// `s` broken at spaces into at most `max_lines` lines of `max_w`
    /// pixels; the last line is cut with an ellipsis when needed.
    pub fn wrap(&self, s: &str, px: f64, max_w: i32, max_lines: usize) -> R<Vec<String>> {
        let mut lines: Vec<String> = Vec::new();
        let mut current = String::new();
        let words: Vec<&str> = s.split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            let cand = if current.is_empty() {
                words[i].to_string()
            } else {
                format!("{current} {}", words[i])
            };
            if current.is_empty() || self.measure(&cand, px)? <= max_w {
                current = cand;
                i += 1;
            } else {
                lines.push(std::mem::take(&mut current));
                if lines.len() + 1 == max_lines {
                    current = words[i..].join(" ");
                    break;
                }
            }
        }
        if !current.is_empty() || lines.is_empty() {
            lines.push(current);
        }
        lines.truncate(max_lines.max(1));
        let mut out = Vec::with_capacity(lines.len());
        for l in lines {
            out.push(self.fit(&l, px, max_w)?);
        }
        Ok(out)
    }

    pub fn fill(&self, r: Rect, color: impl Into<ShapeStyle>) -> R<()> {
        if r.w() <= 0 || r.h() <= 0 {
            return Ok(());
        }
        let st: ShapeStyle = color.into();
        self.area
            .draw(&Rectangle::new([(r.x0, r.y0), (r.x1, r.y1)], st.filled()))?;
        Ok(())
    }

    pub fn outline(&self, r: Rect, color: RGBColor, width: u32) -> R<()> {
        self.area.draw(&Rectangle::new(
            [(r.x0, r.y0), (r.x1, r.y1)],
            color.stroke_width(width),
        ))?;
        Ok(())
    }

    pub fn line(&self, pts: Vec<(i32, i32)>, color: impl Into<ShapeStyle>, width: u32) -> R<()> {
        let st: ShapeStyle = color.into();
        self.area
            .draw(&PathElement::new(pts, st.stroke_width(width)))?;
        Ok(())
    }

    pub fn dashed(
        &self,
        from: (i32, i32),
        to: (i32, i32),
        color: RGBColor,
        width: u32,
        dash: i32,
    ) -> R<()> {
        self.area.draw(&DashedPathElement::new(
            vec![from, to],
            dash,
            dash / 2 + 2,
            color.stroke_width(width),
        ))?;
        Ok(())
    }

    pub fn polygon(&self, pts: Vec<(i32, i32)>, color: RGBAColor) -> R<()> {
        self.area.draw(&Polygon::new(pts, color.filled()))?;
        Ok(())
    }

    pub fn marker(&self, shape: Shape, x: i32, y: i32, r: i32, color: RGBAColor) -> R<()> {
        match shape {
            Shape::Circle => self.area.draw(&Circle::new((x, y), r, color.filled()))?,
            Shape::Triangle => {
                self.area
                    .draw(&TriangleMarker::new((x, y), r + 1, color.filled()))?
            }
            Shape::Square => self.area.draw(&Rectangle::new(
                [(x - r, y - r), (x + r, y + r)],
                color.filled(),
            ))?,
            Shape::Cross => self
                .area
                .draw(&Cross::new((x, y), r, color.stroke_width(2)))?,
        }
        Ok(())
    }

    fn swatch(&self, swatch: Swatch, x: i32, cy: i32) -> R<()> {
        match swatch {
            Swatch::Fill(c) => self.fill(Rect::new(x + 2, cy - 6, x + 14, cy + 6), c)?,
            Swatch::Area(c) => {
                self.fill(Rect::new(x + 1, cy - 6, x + 15, cy + 6), c.mix(0.2))?;
                self.outline(Rect::new(x + 1, cy - 6, x + 15, cy + 6), c, 2)?;
            }
            Swatch::Dashed(c) => self.dashed((x, cy), (x + SWATCH_W, cy), c, 2, 5)?,
            Swatch::Marker(c, s) => self.marker(s, x + 8, cy, 4, c.to_rgba())?,
            Swatch::LineMarker(c, s) => {
                self.line(vec![(x, cy), (x + SWATCH_W, cy)], c, 2)?;
                self.marker(s, x + SWATCH_W / 2, cy, 3, c.to_rgba())?;
            }
        }
        Ok(())
    }

    /// A legend flowing left to right in rows from (x0, y) within `x1`;
    /// returns the height it takes. Draws only when `draw`.
    pub fn legend_rows(
        &self,
        items: &[LegendItem],
        x0: i32,
        x1: i32,
        y: i32,
        draw: bool,
    ) -> R<i32> {
        if items.is_empty() {
            return Ok(0);
        }
        let row_h = line_h(LEGEND_PX) + 4;
        let (mut x, mut row) = (x0, 0);
        for item in items {
            let label = self.fit(
                &item.label,
                LEGEND_PX,
                (x1 - x0 - SWATCH_W - SWATCH_GAP).max(20),
            )?;
            let w = SWATCH_W + SWATCH_GAP + self.measure(&label, LEGEND_PX)?;
            if x > x0 && x + w > x1 {
                x = x0;
                row += 1;
            }
            if draw {
                let cy = y + row * row_h + row_h / 2;
                self.swatch(item.swatch, x, cy)?;
                self.text(
                    &label,
                    x + SWATCH_W + SWATCH_GAP,
                    cy,
                    LEGEND_PX,
                    MUTED,
                    HPos::Left,
                    VPos::Center,
                )?;
            }
            x += w + ITEM_GAP;
        }
        Ok((row + 1) * row_h)
    }

    /// The width a legend column needs, at most `max_w`.
    pub fn legend_column_width(&self, items: &[LegendItem], max_w: i32) -> R<i32> {
        let mut w = 0;
        for item in items {
            w = w.max(self.measure(&item.label, LEGEND_PX)?);
        }
        Ok((w + SWATCH_W + SWATCH_GAP + 4).min(max_w))
    }

    /// Makes room for a legend: a column on the right (returned width, to
    /// draw with [`Ctx::legend_column`] once the plot is laid out) or, when
    /// `body` is narrow, rows drawn now on top. Returns the chart's rect.
    pub fn place_legend(&self, items: &[LegendItem], body: Rect) -> R<(Rect, Option<i32>)> {
        if body.w() >= 560 {
            let w = self.legend_column_width(items, body.w() * 3 / 10)?;
            return Ok((
                Rect {
                    x1: body.x1 - w - 20,
                    ..body
                },
                Some(w),
            ));
        }
        let h = self.legend_rows(items, body.x0, body.x1, body.y0, true)?;
        Ok((
            Rect {
                y0: body.y0 + h + 4,
                ..body
            },
            None,
        ))
    }

    /// A legend as a column in `r`, vertically centred; entries that do not
    /// fit end with "+ n more".
    pub fn legend_column(&self, items: &[LegendItem], r: Rect) -> R<()> {
        let row_h = line_h(LEGEND_PX) + 6;
        let fits = (r.h() / row_h).max(1) as usize;
        let (shown, more) = if items.len() > fits {
            (fits - 1, items.len() - (fits - 1))
        } else {
            (items.len(), 0)
        };
        let rows = shown as i32 + i32::from(more > 0);
        let mut y = r.y0 + ((r.h() - rows * row_h) / 2).max(0);
        let text_w = r.w() - SWATCH_W - SWATCH_GAP;
        for item in &items[..shown] {
            let cy = y + row_h / 2;
            self.swatch(item.swatch, r.x0, cy)?;
            let label = self.fit(&item.label, LEGEND_PX, text_w)?;
            self.text(
                &label,
                r.x0 + SWATCH_W + SWATCH_GAP,
                cy,
                LEGEND_PX,
                MUTED,
                HPos::Left,
                VPos::Center,
            )?;
            y += row_h;
        }
        if more > 0 {
            self.text(
                &format!("+ {more} more"),
                r.x0 + SWATCH_W + SWATCH_GAP,
                y + row_h / 2,
                LEGEND_PX,
                FAINT,
                HPos::Left,
                VPos::Center,
            )?;
        }
        Ok(())
    }

    /// Fills the background, writes the title (and subtitle) and returns the
    /// rectangle left for the chart body.
    pub fn begin(&self, opts: &ChartOptions) -> R<Rect> {
        self.area.fill(&WHITE)?;
        let mut y = MARGIN - 2;
        let max_w = self.w - 2 * MARGIN;
        if !opts.title.is_empty() {
            let st = TextStyle {
                font: font(TITLE_PX, true),
                color: INK.to_backend_color(),
                pos: Pos::new(HPos::Left, VPos::Top),
            };
            let title = self.fit(&opts.title, TITLE_PX, max_w)?;
            self.draw_text(&title, MARGIN, y, &st)?;
            y += line_h(TITLE_PX) + 2;
        }
        if let Some(sub) = opts.subtitle.as_deref().filter(|s| !s.is_empty()) {
            let sub = self.fit(sub, SUBTITLE_PX, max_w)?;
            self.text(&sub, MARGIN, y, SUBTITLE_PX, FAINT, HPos::Left, VPos::Top)?;
            y += line_h(SUBTITLE_PX);
        }
        Ok(Rect::new(
            MARGIN,
            y + 8,
            self.w - MARGIN,
            self.h - MARGIN + 4,
        ))
    }

    /// A grey message in the middle of `body`, for charts without data.
    pub fn no_data(&self, body: Rect, message: &str) -> R<()> {
        self.fill(body, EMPTY_CELL)?;
        self.text(
            message,
            body.cx(),
            body.cy(),
            14.0,
            FAINT,
            HPos::Center,
            VPos::Center,
        )
    }

    /// A small note at the bottom left of `body`; returns the body above it.
    pub fn footnote(&self, body: Rect, note: &str) -> R<Rect> {
        if note.is_empty() {
            return Ok(body);
        }
        let note = self.fit(note, NOTE_PX, body.w())?;
        self.text(
            &note,
            body.x0,
            body.y1,
            NOTE_PX,
            FAINT,
            HPos::Left,
            VPos::Bottom,
        )?;
        Ok(Rect {
            y1: body.y1 - line_h(NOTE_PX) - 4,
            ..body
        })
    }

    /// Horizontal gridlines with labels left of `plot` at pixel rows `ys`.
    pub fn y_grid(&self, plot: Rect, ticks: &[(i32, String)]) -> R<()> {
        for (y, label) in ticks {
            self.line(vec![(plot.x0, *y), (plot.x1, *y)], GRID, 1)?;
            self.text(
                label,
                plot.x0 - 6,
                *y,
                TICK_PX,
                MUTED,
                HPos::Right,
                VPos::Center,
            )?;
        }
        Ok(())
    }

    /// Vertical gridlines (when `grid`) with labels under `plot`.
    pub fn x_grid(&self, plot: Rect, ticks: &[(i32, String)], grid: bool) -> R<()> {
        for (x, label) in ticks {
            if grid {
                self.line(vec![(*x, plot.y0), (*x, plot.y1)], GRID, 1)?;
            }
            self.line(vec![(*x, plot.y1), (*x, plot.y1 + 4)], AXIS, 1)?;
            self.text(
                label,
                *x,
                plot.y1 + 6,
                TICK_PX,
                MUTED,
                HPos::Center,
                VPos::Top,
            )?;
        }
        Ok(())
    }

    /// Category labels under `plot`, centred at `xs`, wrapped on two lines
    /// within `slot` pixels.
    pub fn x_categories(&self, plot: Rect, xs: &[i32], labels: &[String], slot: i32) -> R<()> {
        for (x, label) in xs.iter().zip(labels) {
            let lines = self.wrap(label, TICK_PX, (slot - 4).max(12), 2)?;
            for (i, l) in lines.iter().enumerate() {
                self.text(
                    l,
                    *x,
                    plot.y1 + 6 + i as i32 * line_h(TICK_PX),
                    TICK_PX,
                    MUTED,
                    HPos::Center,
                    VPos::Top,
                )?;
            }
        }
        Ok(())
    }

    /// The y-axis title, turned, centred on `plot` at the left edge of `body`.
    pub fn y_title(&self, body: Rect, plot: Rect, title: &str) -> R<()> {
        let t = self.fit(title, AXIS_TITLE_PX, plot.h())?;
        self.text_vertical(
            &t,
            body.x0 + line_h(AXIS_TITLE_PX) / 2,
            plot.cy(),
            AXIS_TITLE_PX,
            INK,
        )
    }

    /// The x-axis title, centred under `plot` at the bottom of `body`.
    pub fn x_title(&self, body: Rect, plot: Rect, title: &str) -> R<()> {
        let t = self.fit(title, AXIS_TITLE_PX, body.w())?;
        self.text(
            &t,
            plot.cx(),
            body.y1,
            AXIS_TITLE_PX,
            INK,
            HPos::Center,
            VPos::Bottom,
        )
    }
}

/// The plot rectangle inside `body` once room is made for y tick labels
/// `y_label_w` wide, `x_rows` lines of x tick labels and the axis titles.
pub(crate) fn plot_rect(
    body: Rect,
    y_label_w: i32,
    y_title: bool,
    x_rows: i32,
    x_title: bool,
    right_pad: i32,
) -> Rect {
    let left = body.x0
        + if y_title {
            line_h(AXIS_TITLE_PX) + 8
        } else {
            0
        }
        + y_label_w
        + 8;
    let bottom = body.y1
        - if x_title {
            line_h(AXIS_TITLE_PX) + 6
        } else {
            0
        }
        - x_rows * line_h(TICK_PX)
        - if x_rows > 0 { 8 } else { 0 };
    Rect::new(
        left,
        body.y0 + line_h(TICK_PX) / 2,
        body.x1 - right_pad,
        bottom,
    )
}

/// A linear or log10 map from data values to pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
    log: bool,
}

impl Scale {
    pub fn linear(d0: f64, d1: f64, r0: i32, r1: i32) -> Self {
        Scale {
            d0,
            d1,
            r0: r0 as f64,
            r1: r1 as f64,
            log: false,
        }
    }

    /// A log10 scale; `d0` and `d1` must be positive.
    pub fn log(d0: f64, d1: f64, r0: i32, r1: i32) -> Self {
        Scale {
            d0: d0.log10(),
            d1: d1.log10(),
            r0: r0 as f64,
            r1: r1 as f64,
            log: true,
        }
    }

    pub fn map(&self, v: f64) -> f64 {
        let v = if self.log { v.max(1e-300).log10() } else { v };
        let span = self.d1 - self.d0;
        let t = if span.abs() < f64::EPSILON {
            0.5
        } else {
            (v - self.d0) / span
        };
        self.r0 + t * (self.r1 - self.r0)
    }

    pub fn px(&self, v: f64) -> i32 {
        self.map(v).round() as i32
    }
}

/// A "nice" step (1, 2, 2.5 or 5 × 10^k) for about `target` intervals over `span`.
pub(crate) fn nice_step(span: f64, target: usize) -> f64 {
    let raw = (span / target.max(1) as f64).abs();
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// `lo..hi` widened to whole nice steps, and the ticks in it.
pub(crate) fn nice_axis(lo: f64, hi: f64, target: usize) -> (f64, f64, Vec<f64>) {
    let (lo, hi) = if hi - lo > 0.0 {
        (lo, hi)
    } else if lo == 0.0 {
        (0.0, 1.0)
    } else {
        (lo - lo.abs() * 0.1, hi + hi.abs() * 0.1)
    };
    let step = nice_step(hi - lo, target);
    let start = (lo / step + 1e-9).floor() * step;
    let end = (hi / step - 1e-9).ceil() * step;
    let n = ((end - start) / step).round() as i64;
    let ticks = (0..=n)
        .map(|i| {
            let t = start + i as f64 * step;
            // Clean float noise such as 0.30000000000000004.
            (t / step).round() * step
        })
        .collect();
    (start, end, ticks)
}

/// Ticks for a log axis over `lo..hi` (positive): 1-2-5 per decade, fewer
/// when the range is wide, more when it is narrow.
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let pick = |mults: &[f64]| -> Vec<f64> {
        (a..=b)
            .flat_map(|e| mults.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect()
    };
    let mut ticks = pick(&[1.0, 2.0, 5.0]);
    if ticks.len() < 3 {
        ticks = pick(&[1.0, 1.5, 2.0, 3.0, 5.0, 7.0]);
    }
    for mults in [&[1.0, 3.0][..], &[1.0]] {
        if ticks.len() > 9 {
            ticks = pick(mults);
        }
    }
    ticks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axes() {
        let (lo, hi, t) = nice_axis(0.0, 93.0, 5);
        assert_eq!((lo, hi), (0.0, 100.0));
        assert_eq!(t, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let (_, _, t) = nice_axis(0.0, 1.0, 4);
        assert_eq!(t, [0.0, 0.25, 0.5, 0.75, 1.0]);
        let (lo, hi, _) = nice_axis(5.0, 5.0, 5);
        assert!(lo < 5.0 && hi > 5.0);
    }

    #[test]
    fn log_axes() {
        assert_eq!(
            log_ticks(1.0, 1000.0),
            [1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]
        );
        let t = log_ticks(10.0, 200.0);
        assert_eq!(t, [10.0, 20.0, 50.0, 100.0, 200.0]);
        let t = log_ticks(1.0, 1e7);
        assert_eq!(t.len(), 8);
        let t = log_ticks(1.5, 2900.0);
        assert_eq!(t, [3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]);
    }

    #[test]
    fn scales_map_both_ways() {
        let s = Scale::linear(0.0, 10.0, 100, 0);
        assert_eq!(s.px(0.0), 100);
        assert_eq!(s.px(10.0), 0);
        let l = Scale::log(1.0, 100.0, 0, 200);
        assert_eq!(l.px(10.0), 100);
    }
}
