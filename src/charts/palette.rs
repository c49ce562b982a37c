//! Colour-blind-safe colours: Okabe–Ito for categories, viridis for scales.

use plotters::style::RGBColor;

/// The Okabe–Ito palette, in its published order: orange, sky blue,
/// bluish green, yellow, blue, vermillion, reddish purple, black.
pub const OKABE_ITO: [RGBColor; 8] = [
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xF0, 0xE4, 0x42),
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x00, 0x00, 0x00),
];

/// The order categories take the Okabe–Ito colours in: strong colours
/// first, the yellow (faint on white) last.
const CATEGORY_ORDER: [usize; 8] = [4, 0, 2, 5, 1, 6, 7, 3];

/// The colour of category `i` (series, cluster, bar); repeats after 8
/// (charts then also vary the marker shape).
pub fn category_color(i: usize) -> RGBColor {
    OKABE_ITO[CATEGORY_ORDER[i % CATEGORY_ORDER.len()]]
}

pub(crate) const BLUE: RGBColor = OKABE_ITO[4];
pub(crate) const VERMILLION: RGBColor = OKABE_ITO[5];
pub(crate) const BLACK: RGBColor = OKABE_ITO[7];

/// Viridis at 11 evenly spaced stops (matplotlib's values).
const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x24, 0x75),
    (0x41, 0x44, 0x87),
    (0x35, 0x5f, 0x8d),
    (0x2a, 0x78, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x22, 0xa8, 0x84),
    (0x44, 0xbf, 0x70),
    (0x7a, 0xd1, 0x51),
    (0xbd, 0xdf, 0x26),
    (0xfd, 0xe7, 0x25),
];

/// Viridis at `t` in 0..=1 (dark purple to yellow); out-of-range and
/// non-finite `t` are clamped (NaN is 0).
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let x = t * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The sequential scale of heatmaps: more is darker (viridis reversed,
/// light yellow for the least, dark purple for the most).
pub fn sequential(t: f64) -> RGBColor {
    viridis(1.0 - if t.is_nan() { 0.0 } else { t })
}

/// `#RRGGBB` (or `RRGGBB`) as a colour.
pub fn parse_hex(s: &str) -> Option<RGBColor> {
    let h = s.trim().trim_start_matches('#');
    if h.len() != 6 || !h.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
    Some(RGBColor(byte(0)?, byte(2)?, byte(4)?))
}

/// Black or white, whichever reads better on `bg`.
pub(crate) fn text_on(bg: RGBColor) -> RGBColor {
    let lin = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * lin(bg.0) + 0.7152 * lin(bg.1) + 0.0722 * lin(bg.2);
    // Contrast with white (1.05 / (l + 0.05)) against black ((l + 0.05) / 0.05).
    if 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 {
        RGBColor(255, 255, 255)
    } else {
        RGBColor(0x11, 0x18, 0x27)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_clamps() {
        assert_eq!(viridis(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), RGBColor(0xfd, 0xe7, 0x25));
        assert_eq!(viridis(2.0), viridis(1.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(sequential(0.0), viridis(1.0));
    }

    #[test]
    fn categories_are_distinct_and_cycle() {
        let first: Vec<_> = (0..8).map(category_color).collect();
        for (i, a) in first.iter().enumerate() {
            for b in &first[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(category_color(8), category_color(0));
    }

    #[test]
    fn parses_hex_and_picks_text() {
        assert_eq!(parse_hex("#E69F00"), Some(RGBColor(0xE6, 0x9F, 0x00)));
        assert_eq!(parse_hex("nope"), None);
        assert_eq!(parse_hex("#ééé"), None);
        assert_eq!(text_on(RGBColor(0x44, 0x01, 0x54)), RGBColor(255, 255, 255));
        assert_eq!(
            text_on(RGBColor(0xfd, 0xe7, 0x25)),
            RGBColor(0x11, 0x18, 0x27)
        );
    }
}
