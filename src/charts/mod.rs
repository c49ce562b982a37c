//! Charts drawn with plotters: SVG for the app, PNG on export.
//!
//! Every chart is a pure function of a small plain input struct (serde
//! friendly) and [`ChartOptions`] (title, size). Each input type implements
//! [`Plot`], whose `draw` is generic over the plotters backend, so the same
//! drawing code makes the SVG the web UI inlines ([`to_svg`]) and the PNG
//! of an export ([`to_png`]). [`ChartSpec`] wraps any of them for callers
//! that get the chart as JSON.
//!
//! - SVG text is `<text>` in [`FONT_FAMILY`], so the web view renders it
//!   with its own fonts; PNG text is rasterised with the embedded DejaVu Sans
//!   (`fonts/`, Bitstream Vera licence), so export works on any machine.
//! - Colours are colour-blind safe: Okabe–Ito for categories
//!   ([`category_color`]), viridis for scales ([`viridis`], [`sequential`]).
//! - Empty data draws a "No data" chart; non-finite values are skipped.

mod bars;
mod draw;
mod format;
mod heatmap;
mod histogram;
mod lines;
mod palette;
mod png;
mod profiles;
mod scatter;

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::{BitMapBackend, DrawingArea, DrawingBackend, IntoDrawingArea, SVGBackend};
use serde::{Deserialize, Serialize};

pub use bars::{Bar, BarChart, BarColors, Orientation};
pub use format::Unit;
pub use heatmap::{RfmCell, RfmGrid};
pub use histogram::{Binned, Bins, Distribution};
pub use lines::{KScore, KSelection, LineChart, LineSeries, XMarker};
pub use palette::{category_color, parse_hex, sequential, viridis, OKABE_ITO};
pub use png::PNG_MAGIC;
pub use profiles::{ClusterProfile, ClusterProfiles, ProfileStyle};
pub use scatter::{ClusterScatter, ScatterPoint};

/// Default chart width in pixels.
pub const DEFAULT_WIDTH: u32 = 720;
/// Default chart height in pixels.
pub const DEFAULT_HEIGHT: u32 = 420;
/// Smallest and largest accepted side, in pixels.
pub const MIN_SIDE: u32 = 200;
pub const MAX_SIDE: u32 = 4096;

/// The font family SVG text asks for. The embedded DejaVu Sans is
/// registered under this name, so layout (and PNG text) uses its metrics.
pub const FONT_FAMILY: &str = "Inter, system-ui, sans-serif";

static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

/// Which chart a [`Chart`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    RfmHeatmap,
    Histogram,
    Bar,
    Scatter,
    ClusterProfiles,
    Line,
    KSelection,
}

/// Title and size of a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChartOptions {
    pub title: String,
    /// A second, smaller line under the title (e.g. "5,000 customers").
    pub subtitle: Option<String>,
    pub width: u32,
    pub height: u32,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            title: String::new(),
            subtitle: None,
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
        }
    }
}

impl ChartOptions {
    /// A chart of the default size with `title`.
    pub fn new(title: impl Into<String>) -> Self {
        ChartOptions {
            title: title.into(),
            ..Default::default()
        }
    }

    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    pub fn with_subtitle(mut self, subtitle: impl Into<String>) -> Self {
        self.subtitle = Some(subtitle.into());
        self
    }

    fn check(&self) -> Result<(), ChartError> {
        let ok = |s: u32| (MIN_SIDE..=MAX_SIDE).contains(&s);
        if ok(self.width) && ok(self.height) {
            Ok(())
        } else {
            Err(ChartError::Size {
                width: self.width,
                height: self.height,
            })
        }
    }
}

/// A chart rendered as SVG, ready to inline in the UI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    pub kind: ChartKind,
    pub title: String,
    pub width: u32,
    pub height: u32,
    /// A standalone `<svg>` document (no XML declaration).
    pub svg: String,
}

/// The two ways a chart is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    Svg,
    Png,
}

impl Output {
    pub fn mime_type(self) -> &'static str {
        match self {
            Output::Svg => "image/svg+xml",
            Output::Png => "image/png",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Output::Svg => "svg",
            Output::Png => "png",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("a chart must be {MIN_SIDE}–{MAX_SIDE} pixels on each side, not {width}×{height}")]
    Size { width: u32, height: u32 },
    /// Data that cannot be drawn (mismatched lengths, scores out of range, bad colours).
    #[error("chart data: {0}")]
    Data(String),
    #[error("could not draw the chart: {0}")]
    Draw(String),
    #[error("the built-in chart font could not be loaded")]
    Font,
}

impl ChartError {
    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ChartError::Size { .. } => "chart_size",
            ChartError::Data(_) => "chart_data",
            ChartError::Draw(_) => "chart_draw",
            ChartError::Font => "chart_font",
        }
    }
}

impl<E: std::error::Error + Send + Sync> From<plotters::drawing::DrawingAreaErrorKind<E>>
    for ChartError
{
    fn from(e: plotters::drawing::DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(e.to_string())
    }
}

/// Chart data that can draw itself on any plotters backend.
pub trait Plot {
    fn kind(&self) -> ChartKind;

    /// Draws the whole chart (background, title, body) on `root`.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        opts: &ChartOptions,
    ) -> Result<(), ChartError>;
}

/// Registers the embedded font under [`FONT_FAMILY`], once.
fn ensure_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, plotters::style::FontStyle::Normal, FONT)
            .is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Font)
    }
}

/// Renders `data` as an SVG document.
pub fn to_svg<P: Plot>(data: &P, opts: &ChartOptions) -> Result<Chart, ChartError> {
    opts.check()?;
    ensure_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (opts.width, opts.height)).into_drawing_area();
        data.draw(&root, opts)?;
        root.present()?;
    }
    // An accessible name for screen readers, right after the opening tag.
    if let Some(end) = svg.find('>') {
        if !opts.title.is_empty() {
            let title = format!("\n<title>{}</title>", escape_xml(&opts.title));
            svg.insert_str(end + 1, &title);
        }
        svg.insert_str(end, " role=\"img\"");
    }
    Ok(Chart {
        kind: data.kind(),
        title: opts.title.clone(),
        width: opts.width,
        height: opts.height,
        svg,
    })
}

/// Renders `data` as PNG bytes of `opts.width` × `opts.height` pixels.
pub fn to_png<P: Plot>(data: &P, opts: &ChartOptions) -> Result<Vec<u8>, ChartError> {
    opts.check()?;
    ensure_font()?;
    let (w, h) = (opts.width, opts.height);
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        data.draw(&root, opts)?;
        root.present()?;
    }
    Ok(png::encode_rgb(&rgb, w, h))
}

/// Renders `data` as SVG (UTF-8) or PNG bytes.
pub fn render<P: Plot>(
    data: &P,
    opts: &ChartOptions,
    output: Output,
) -> Result<Vec<u8>, ChartError> {
    match output {
        Output::Svg => Ok(to_svg(data, opts)?.svg.into_bytes()),
        Output::Png => to_png(data, opts),
    }
}

fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

// ---- one function per chart (SVG) ------------------------------------------

/// RFM grid: recency score (x) × frequency score (y), coloured by value.
pub fn rfm_heatmap(data: &RfmGrid, opts: &ChartOptions) -> Result<Chart, ChartError> {
    to_svg(data, opts)
}

/// Distribution of a (money) value, such as customer lifetime value.
pub fn histogram(data: &Distribution, opts: &ChartOptions) -> Result<Chart, ChartError> {
    to_svg(data, opts)
}

/// Bars per category, vertical or horizontal: churn risk bands, revenue by
/// RFM segment, cluster sizes.
pub fn bar_chart(data: &BarChart, opts: &ChartOptions) -> Result<Chart, ChartError> {
    to_svg(data, opts)
}

/// Customers on two principal components, coloured by cluster.
pub fn cluster_scatter(data: &ClusterScatter, opts: &ChartOptions) -> Result<Chart, ChartError> {
    to_svg(data, opts)
}

/// Cluster profiles over features: radar or grouped bars.
pub fn cluster_profiles(data: &ClusterProfiles, opts: &ChartOptions) -> Result<Chart, ChartError> {
    to_svg(data, opts)
}

/// Lines over a numeric x, with an optional marked x.
pub fn line_chart(data: &LineChart, opts: &ChartOptions) -> Result<Chart, ChartError> {
    to_svg(data, opts)
}

/// Choosing k: inertia (elbow) and silhouette against k, chosen k marked.
pub fn k_selection(data: &KSelection, opts: &ChartOptions) -> Result<Chart, ChartError> {
    to_svg(data, opts)
}

/// Any chart, as JSON: `{"kind": "bar", ...fields of BarChart}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChartSpec {
    RfmHeatmap(RfmGrid),
    Histogram(Distribution),
    Bar(BarChart),
    Scatter(ClusterScatter),
    ClusterProfiles(ClusterProfiles),
    Line(LineChart),
    KSelection(KSelection),
}

impl Plot for ChartSpec {
    fn kind(&self) -> ChartKind {
        match self {
            ChartSpec::RfmHeatmap(d) => d.kind(),
            ChartSpec::Histogram(d) => d.kind(),
            ChartSpec::Bar(d) => d.kind(),
            ChartSpec::Scatter(d) => d.kind(),
            ChartSpec::ClusterProfiles(d) => d.kind(),
            ChartSpec::Line(d) => d.kind(),
            ChartSpec::KSelection(d) => d.kind(),
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        opts: &ChartOptions,
    ) -> Result<(), ChartError> {
        match self {
            ChartSpec::RfmHeatmap(d) => d.draw(root, opts),
            ChartSpec::Histogram(d) => d.draw(root, opts),
            ChartSpec::Bar(d) => d.draw(root, opts),
            ChartSpec::Scatter(d) => d.draw(root, opts),
            ChartSpec::ClusterProfiles(d) => d.draw(root, opts),
            ChartSpec::Line(d) => d.draw(root, opts),
            ChartSpec::KSelection(d) => d.draw(root, opts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (no seeding crates in tests).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        fn normal(&mut self) -> f64 {
            let (u, v) = (self.next(), self.next());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    const SEGMENTS: [&str; 11] = [
        "Champions",
        "Loyal customers",
        "Potential loyalists",
        "New customers",
        "Promising",
        "Need attention",
        "About to sleep",
        "At risk",
        "Can't lose them",
        "Hibernating",
        "Lost",
    ];

    const CLUSTERS: [&str; 5] = [
        "Loyal big spenders",
        "Bargain hunters",
        "New & curious",
        "Lapsed one-timers",
        "Seasonal gifters",
    ];

    fn clv_values(n: usize) -> Vec<f64> {
        let mut g = Lcg(7);
        (0..n).map(|_| (4.5 + 1.1 * g.normal()).exp()).collect()
    }

    fn rfm() -> RfmGrid {
        let mut g = Lcg(3);
        let scores = (0..8000).map(|_| {
            let r = 1 + (g.next() * 5.0) as u8;
            // Frequency follows recency loosely, as in real shops.
            let f = (r as f64 + 2.0 * g.normal()).round().clamp(1.0, 5.0) as u8;
            (r, f)
        });
        RfmGrid::count(scores)
    }

    fn scatter(n: usize) -> ClusterScatter {
        let mut g = Lcg(11);
        let centres = [
            (-2.5, 1.0),
            (1.5, 2.0),
            (2.0, -1.5),
            (-1.0, -2.0),
            (0.2, 0.1),
        ];
        let points = (0..n)
            .map(|i| {
                let c = i % centres.len();
                let (cx, cy) = centres[c];
                ScatterPoint {
                    x: cx + 0.8 * g.normal(),
                    y: cy + 0.6 * g.normal(),
                    cluster: c,
                }
            })
            .collect();
        let mut s = ClusterScatter::new(points, CLUSTERS.map(String::from).to_vec());
        s.x_label = "PC1 (38% of variance)".into();
        s.y_label = "PC2 (21% of variance)".into();
        s
    }

    fn profiles() -> ClusterProfiles {
        let features = [
            "Recency (days)",
            "Orders",
            "Average order value",
            "Total spend",
            "Discount share",
            "Email engagement",
            "Returns rate",
        ]
        .map(String::from)
        .to_vec();
        let mut g = Lcg(5);
        let clusters = CLUSTERS
            .iter()
            .map(|name| ClusterProfile {
                name: name.to_string(),
                values: (0..features.len()).map(|_| g.next() * 100.0).collect(),
            })
            .collect();
        ClusterProfiles::new(features, clusters)
    }

    fn k_scores() -> KSelection {
        let ks: Vec<u32> = (2..=10).collect();
        let inertia: Vec<f64> = ks
            .iter()
            .map(|&k| 52_000.0 / (k as f64).powf(1.3) + 4_000.0)
            .collect();
        let silhouette = [0.41, 0.47, 0.52, 0.44, 0.39, 0.36, 0.33, 0.31, 0.30];
        KSelection::new(&ks, &inertia, &silhouette, Some(4))
    }

    /// Every chart with a name, options and text its SVG must contain
    /// (as escaped in SVG).
    fn samples() -> Vec<(&'static str, ChartSpec, ChartOptions, Vec<&'static str>)> {
        let revenue = SEGMENTS
            .iter()
            .enumerate()
            .map(|(i, s)| (s.to_string(), 250_000.0 / (i as f64 + 1.0).powf(1.2)));
        let sizes = CLUSTERS
            .iter()
            .zip([1840u64, 1210, 950, 620, 380])
            .map(|(n, c)| (n.to_string(), c));
        let grouped = profiles().style(ProfileStyle::Bars);
        let line = LineChart {
            marker: Some(XMarker {
                x: 4.0,
                label: "Chosen k = 4".into(),
            }),
            integer_x: true,
            ..LineChart::new(
                vec![LineSeries {
                    name: "Inertia".into(),
                    points: k_scores()
                        .scores
                        .iter()
                        .map(|s| (s.k as f64, s.inertia.unwrap()))
                        .collect(),
                }],
                "Number of clusters (k)",
                "Inertia",
            )
        };
        vec![
            (
                "rfm_heatmap",
                ChartSpec::RfmHeatmap(rfm()),
                ChartOptions::new("Customers by recency and frequency"),
                vec!["Recency score", "Frequency score", "Customers"],
            ),
            (
                "clv_histogram",
                ChartSpec::Histogram(Distribution::money(
                    "Customer lifetime value",
                    "EUR",
                    clv_values(5000),
                )),
                ChartOptions::new("Customer lifetime value"),
                vec![
                    "Customer lifetime value (€)",
                    "Customers",
                    "Median €",
                    "Mean €",
                ],
            ),
            (
                "clv_histogram_log",
                ChartSpec::Histogram(
                    Distribution::money("Customer lifetime value", "EUR", clv_values(5000))
                        .log_scale(true),
                ),
                ChartOptions::new("Customer lifetime value (log scale)"),
                vec!["(€), log scale", "Customers", "Median €"],
            ),
            (
                "churn_bands",
                ChartSpec::Bar(BarChart::churn_bands([4210, 2380, 1120, 640])),
                ChartOptions::new("Churn risk"),
                vec!["Low (&lt; 25%)", "Very high (≥ 75%)", "Customers", "4,210"],
            ),
            (
                "revenue_by_segment",
                ChartSpec::Bar(BarChart::revenue_by_segment(revenue, "EUR")),
                ChartOptions::new("Revenue by RFM segment").with_size(720, 480),
                vec![
                    "Revenue (€)",
                    "Champions",
                    "Can&apos;t lose them",
                    "€250,000",
                ],
            ),
            (
                "cluster_sizes",
                ChartSpec::Bar(BarChart::cluster_sizes(sizes)),
                ChartOptions::new("Cluster sizes"),
                vec![
                    "Loyal big spenders",
                    "New &amp; curious",
                    "1,840",
                    "Customers",
                ],
            ),
            (
                "cluster_scatter",
                ChartSpec::Scatter(scatter(5000)),
                ChartOptions::new("Clusters on the first two components"),
                vec!["PC1 (38% of variance)", "PC2", "Loyal big spenders (1,000)"],
            ),
            (
                "cluster_radar",
                ChartSpec::ClusterProfiles(profiles()),
                ChartOptions::new("Cluster profiles"),
                vec![
                    "Orders",
                    "Total spend",
                    "Bargain hunters",
                    "rescaled across clusters",
                ],
            ),
            (
                "cluster_profile_bars",
                ChartSpec::ClusterProfiles(grouped),
                ChartOptions::new("Cluster profiles"),
                vec!["Orders", "Relative value (0–1)", "Seasonal gifters"],
            ),
            (
                "k_selection",
                ChartSpec::KSelection(k_scores()),
                ChartOptions::new("Choosing the number of clusters"),
                vec![
                    "Inertia",
                    "Silhouette",
                    "Number of clusters (k)",
                    "Chosen k = 4",
                ],
            ),
            (
                "elbow_line",
                ChartSpec::Line(line),
                ChartOptions::new("Elbow"),
                vec!["Inertia", "Number of clusters (k)", "Chosen k = 4"],
            ),
        ]
    }

    /// Checks tags nest and close, attributes are quoted and every `&`
    /// starts an entity: enough of XML to catch broken output.
    fn assert_well_formed(svg: &str) {
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(lt) = rest.find('<') {
            assert_entities(&rest[..lt]);
            let gt = rest[lt..].find('>').expect("unclosed tag") + lt;
            let tag = &rest[lt + 1..gt];
            assert_eq!(tag.matches('"').count() % 2, 0, "quotes in <{tag}>");
            assert!(!tag.contains('<'), "'<' inside <{tag}>");
            assert_entities(tag);
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name.trim()), "closing </{name}>");
            } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
                let name = tag.split_whitespace().next().expect("tag name");
                stack.push(name);
            }
            rest = &rest[gt + 1..];
        }
        assert_entities(rest);
        assert!(stack.is_empty(), "unclosed {stack:?}");
    }

    fn assert_entities(text: &str) {
        for (i, _) in text.match_indices('&') {
            let ok = ["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"]
                .iter()
                .any(|e| text[i..].starts_with(e));
            assert!(ok, "bare & in {text:?}");
        }
    }

    fn ihdr_size(png: &[u8]) -> (u32, u32) {
        assert_eq!(png[..8], PNG_MAGIC);
        assert_eq!(&png[12..16], b"IHDR");
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        (w, h)
    }

    #[test]
    fn every_chart_renders_svg_with_title_axes_and_legend() {
        for (name, spec, opts, expected) in samples() {
            let chart = to_svg(&spec, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
            let svg = &chart.svg;
            assert!(svg.starts_with("<svg"), "{name}");
            assert_well_formed(svg);
            assert_eq!(chart.kind, spec.kind());
            assert!(
                svg.contains(&format!(">\n{}\n</text>", opts.title)),
                "{name}: title not drawn"
            );
            assert!(svg.contains(&format!("<title>{}</title>", opts.title)));
            for text in expected {
                assert!(svg.contains(text), "{name}: missing {text:?}");
            }
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{name}");
        }
    }

    #[test]
    fn heatmap_draws_25_labelled_cells_and_a_colour_scale() {
        let grid = RfmGrid::from_matrix(
            [[1.0, 2.0, 3.0, 4.0, 5.0]; 5].map(|row| row.map(|v| v * 100.0)),
            "Customers",
            Unit::Count,
        );
        let svg = rfm_heatmap(&grid, &ChartOptions::new("RFM")).unwrap().svg;
        assert!(
            svg.matches("<rect").count() >= 25 + 1 + 40,
            "cells and scale"
        );
        assert_eq!(svg.matches(">\n500\n</text>").count(), 5, "cell labels");
        // More is darker: the 500 cells are not the 100 cells' colour.
        let dark = format!("{:?}", sequential(1.0));
        assert_ne!(dark, format!("{:?}", sequential(0.0)));
    }

    #[test]
    fn pngs_have_the_requested_size_and_decode() {
        for (name, spec, opts, _) in samples() {
            let opts = opts.with_size(640, 360);
            let png = to_png(&spec, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(ihdr_size(&png), (640, 360), "{name}");
            let (w, h, rgb) = png::tests::decode(&png);
            assert_eq!((w, h), (640, 360));
            // Something coloured was drawn (not only white and greys).
            let coloured = rgb
                .chunks_exact(3)
                .filter(|p| p.iter().max().unwrap() - p.iter().min().unwrap() > 60)
                .count();
            assert!(coloured > 500, "{name}: {coloured} coloured pixels");
            // Text was rasterised: dark pixels in the title band.
            let dark_title = rgb[..(w * 40 * 3) as usize]
                .chunks_exact(3)
                .filter(|p| p[0] < 80 && p[1] < 80 && p[2] < 80)
                .count();
            assert!(dark_title > 50, "{name}: title not rasterised");
        }
    }

    #[test]
    fn empty_data_draws_no_data() {
        let empty: Vec<ChartSpec> = vec![
            ChartSpec::RfmHeatmap(RfmGrid::count([])),
            ChartSpec::Histogram(Distribution::money("CLV", "EUR", vec![])),
            ChartSpec::Bar(BarChart::new(vec![], "Band", "Customers", Unit::Count)),
            ChartSpec::Scatter(ClusterScatter::new(vec![], vec![])),
            ChartSpec::ClusterProfiles(ClusterProfiles::new(vec![], vec![])),
            ChartSpec::Line(LineChart::new(vec![], "x", "y")),
            ChartSpec::KSelection(KSelection::new(&[], &[], &[], None)),
        ];
        for spec in empty {
            let opts = ChartOptions::new("Empty");
            let svg = to_svg(&spec, &opts).unwrap().svg;
            assert!(svg.contains("No data"), "{:?}", spec.kind());
            assert_well_formed(&svg);
            let png = to_png(&spec, &opts).unwrap();
            assert_eq!(ihdr_size(&png), (DEFAULT_WIDTH, DEFAULT_HEIGHT));
        }
    }

    #[test]
    fn non_finite_values_are_skipped() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let specs = vec![
            ChartSpec::RfmHeatmap(RfmGrid {
                cells: vec![
                    RfmCell {
                        recency: 1,
                        frequency: 1,
                        value: nan,
                    },
                    RfmCell {
                        recency: 5,
                        frequency: 5,
                        value: 42.5,
                    },
                ],
                value_label: "Average spend".into(),
                unit: Unit::money("EUR"),
            }),
            ChartSpec::Histogram(Distribution::money(
                "CLV",
                "EUR",
                vec![nan, inf, 10.0, 20.0, 35.0],
            )),
            ChartSpec::Bar(BarChart::new(
                vec![Bar::new("a", 3.0), Bar::new("b", nan), Bar::new("c", -inf)],
                "Band",
                "Customers",
                Unit::Count,
            )),
            ChartSpec::Scatter(ClusterScatter::new(
                vec![
                    ScatterPoint {
                        x: nan,
                        y: 1.0,
                        cluster: 0,
                    },
                    ScatterPoint {
                        x: 1.0,
                        y: 2.0,
                        cluster: 1,
                    },
                    ScatterPoint {
                        x: 2.0,
                        y: inf,
                        cluster: 1,
                    },
                ],
                vec![],
            )),
            ChartSpec::ClusterProfiles(ClusterProfiles::new(
                vec!["a".into(), "b".into(), "c".into()],
                vec![
                    ClusterProfile {
                        name: "x".into(),
                        values: vec![1.0, nan, 3.0],
                    },
                    ClusterProfile {
                        name: "y".into(),
                        values: vec![2.0, 5.0, inf],
                    },
                ],
            )),
            ChartSpec::Line(LineChart::new(
                vec![LineSeries {
                    name: "s".into(),
                    points: vec![(1.0, 2.0), (2.0, nan), (inf, 3.0), (3.0, 1.0)],
                }],
                "x",
                "y",
            )),
            ChartSpec::KSelection(KSelection::new(
                &[2, 3, 4],
                &[10.0, nan, 4.0],
                &[0.3, 0.4, inf],
                Some(3),
            )),
        ];
        for spec in specs {
            let svg = to_svg(&spec, &ChartOptions::new("Gaps")).unwrap().svg;
            assert_well_formed(&svg);
            assert!(!svg.contains("No data"), "{:?}", spec.kind());
            for bad in ["NaN", "inf", "=\"-2147483648", "e+"] {
                assert!(!svg.contains(bad), "{:?} has {bad}", spec.kind());
            }
            to_png(&spec, &ChartOptions::new("Gaps")).unwrap();
        }
        // The histogram counted only the finite values.
        let d = Distribution::money("CLV", "EUR", vec![nan, inf, 10.0, 20.0, 35.0]);
        assert_eq!(d.binned().unwrap().counts.iter().sum::<f64>(), 3.0);
    }

    #[test]
    fn labels_are_escaped_in_svg() {
        let bars = BarChart::new(
            vec![Bar::new("A < B & C", 3.0), Bar::new("\"quoted\" 'x'", 2.0)],
            "Tom & Jerry's <segments>",
            "Count <n>",
            Unit::Count,
        );
        let svg = bar_chart(&bars, &ChartOptions::new("Risk < 25% & more"))
            .unwrap()
            .svg;
        assert_well_formed(&svg);
        assert!(svg.contains("A &lt; B &amp; C"));
        assert!(svg.contains("&quot;quoted&quot; &apos;x&apos;"));
        assert!(svg.contains("Risk &lt; 25% &amp; more"));
        assert!(svg.contains("Tom &amp; Jerry&apos;s &lt;segments&gt;"));
        assert!(!svg.contains("A < B"));
    }

    #[test]
    fn scatter_of_5000_points_is_fast_and_compact() {
        let data = scatter(5000);
        let opts = ChartOptions::new("Clusters");
        let start = std::time::Instant::now();
        let svg = to_svg(&data, &opts).unwrap().svg;
        let svg_time = start.elapsed();
        let png = to_png(&data, &opts).unwrap();
        let total = start.elapsed();
        println!(
            "scatter 5000: svg {svg_time:?} ({} kB), svg+png {total:?} ({} kB)",
            svg.len() / 1024,
            png.len() / 1024
        );
        let circles = svg.matches("<circle").count();
        assert!(circles > 1000 && circles <= 5000 + 5, "{circles} circles");
        assert!(total.as_secs_f64() < 20.0, "too slow: {total:?}");
    }

    #[test]
    fn small_and_large_sizes_do_not_break_layout() {
        for (name, spec, opts, _) in samples() {
            for (w, h) in [(MIN_SIDE, MIN_SIDE), (1600, 900), (MAX_SIDE, MIN_SIDE)] {
                let opts = opts.clone().with_size(w, h);
                let svg = to_svg(&spec, &opts)
                    .unwrap_or_else(|e| panic!("{name} {w}×{h}: {e}"))
                    .svg;
                assert_well_formed(&svg);
                assert!(svg.contains(&format!("viewBox=\"0 0 {w} {h}\"")));
            }
        }
        let png = to_png(
            &BarChart::churn_bands([1, 2, 3, 4]),
            &ChartOptions::new("Small").with_size(200, 200),
        )
        .unwrap();
        assert_eq!(ihdr_size(&png), (200, 200));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let opts = ChartOptions::new("Bad");
        let grid = RfmGrid::count([(6, 1)]);
        assert_eq!(rfm_heatmap(&grid, &opts).unwrap_err().code(), "chart_data");
        let bars = BarChart::new(
            vec![Bar::new("a", 1.0).with_color("red")],
            "",
            "",
            Unit::Count,
        );
        assert_eq!(bar_chart(&bars, &opts).unwrap_err().code(), "chart_data");
        let profiles = ClusterProfiles::new(
            vec!["a".into(), "b".into(), "c".into()],
            vec![ClusterProfile {
                name: "x".into(),
                values: vec![1.0],
            }],
        );
        assert_eq!(
            cluster_profiles(&profiles, &opts).unwrap_err().code(),
            "chart_data"
        );
        let far = ClusterScatter::new(
            vec![ScatterPoint {
                x: 0.0,
                y: 0.0,
                cluster: usize::MAX,
            }],
            vec![],
        );
        assert_eq!(
            cluster_scatter(&far, &opts).unwrap_err().code(),
            "chart_data"
        );
        let tiny = ChartOptions::new("Tiny").with_size(10, 10);
        assert_eq!(
            bar_chart(&BarChart::churn_bands([1, 2, 3, 4]), &tiny)
                .unwrap_err()
                .code(),
            "chart_size"
        );
        let huge = ChartOptions::new("Huge").with_size(100_000, 400);
        assert!(matches!(
            to_png(&BarChart::churn_bands([1, 2, 3, 4]), &huge),
            Err(ChartError::Size { .. })
        ));
    }

    #[test]
    fn specs_round_trip_through_json() {
        for (name, spec, opts, _) in samples() {
            let json = serde_json::to_string(&spec).unwrap();
            let back: ChartSpec =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
            // Floats may move in their last bit through JSON: compare what is drawn.
            assert_eq!(back.kind(), spec.kind(), "{name}");
            let texts = |s: &ChartSpec| to_svg(s, &opts).unwrap().svg.matches("<text").count();
            assert_eq!(texts(&back), texts(&spec), "{name}");
        }
        let spec: ChartSpec = serde_json::from_str(
            r#"{"kind": "bar", "bars": [{"label": "Low", "value": 3}],
                "value_label": "Customers", "unit": {"type": "money", "currency": "EUR"},
                "orientation": "horizontal"}"#,
        )
        .unwrap();
        assert_eq!(spec.kind(), ChartKind::Bar);
        let bytes = render(&spec, &ChartOptions::new("From JSON"), Output::Svg).unwrap();
        assert!(String::from_utf8(bytes).unwrap().contains("€3"));
    }

    /// Writes every chart to /tmp/cohort-charts/ (SVG and PNG) to look at:
    /// `cargo test --lib charts::tests::write_examples -- --nocapture`.
    #[test]
    fn write_examples() {
        let dir = std::env::temp_dir().join("cohort-charts");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, spec, opts, _) in samples() {
            let svg = dir.join(format!("{name}.svg"));
            let png = dir.join(format!("{name}.png"));
            std::fs::write(&svg, to_svg(&spec, &opts).unwrap().svg).unwrap();
            std::fs::write(&png, to_png(&spec, &opts).unwrap()).unwrap();
            // A dashboard-card size, to check that layouts hold up small.
            let small = opts.clone().with_size(420, 300);
            let small_png = dir.join(format!("{name}_small.png"));
            std::fs::write(&small_png, to_png(&spec, &small).unwrap()).unwrap();
            println!("{}\n{}", svg.display(), png.display());
        }
        let empty = BarChart::new(vec![], "Band", "Customers", Unit::Count);
        std::fs::write(
            dir.join("no_data.png"),
            to_png(&empty, &ChartOptions::new("Churn risk")).unwrap(),
        )
        .unwrap();
    }
}
