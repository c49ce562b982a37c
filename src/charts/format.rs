//! Units and number formatting for axis ticks, value labels and legends.

use serde::{Deserialize, Serialize};

/// What the numbers of a chart mean: decides how they are written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Unit {
    /// Whole things, usually customers: `1,234`.
    #[default]
    Count,
    /// Money in `currency`, an ISO code (`EUR`) or a symbol (`€`): `€1,234`.
    Money { currency: String },
    /// Fractions shown as percentages: `0.25` is `25%`.
    Percent,
    /// Any other number: `12.3`, `1,234`.
    Number,
}

impl Unit {
    /// Money in `currency`, an ISO code (`"EUR"`) or a symbol (`"€"`).
    pub fn money(currency: impl Into<String>) -> Self {
        Unit::Money {
            currency: currency.into(),
        }
    }

    /// What goes after an axis title: `" (€)"`, `" (CHF)"`, `" (%)"` or nothing.
    pub fn axis_suffix(&self) -> String {
        match self {
            Unit::Money { currency } => {
                let (prefix, suffix) = currency_affixes(currency);
                let shown = if prefix.is_empty() {
                    suffix.trim()
                } else {
                    prefix.trim()
                };
                if shown.is_empty() {
                    String::new()
                } else {
                    format!(" ({shown})")
                }
            }
            Unit::Percent => " (%)".to_string(),
            Unit::Count | Unit::Number => String::new(),
        }
    }

    /// A value written in full, for value labels: `1,234`, `€1,234`,
    /// `€12.50`, `€1.23M`, `12.5%`.
    pub fn format(&self, v: f64) -> String {
        if !v.is_finite() {
            return "–".to_string();
        }
        match self {
            Unit::Count => {
                let decimals = if (v - v.round()).abs() < 1e-9 { 0 } else { 1 };
                if v.abs() >= 1e6 {
                    compact(v, 2)
                } else {
                    group(v, decimals)
                }
            }
            Unit::Money { currency } => {
                let a = v.abs();
                let body = if a >= 1e6 {
                    compact(a, 2)
                } else if a >= 100.0 || (a - a.round()).abs() < 1e-9 {
                    group(a, 0)
                } else {
                    group(a, 2)
                };
                affix(
                    currency,
                    v < 0.0 && body.bytes().any(|b| b.is_ascii_digit() && b != b'0'),
                    &body,
                )
            }
            Unit::Percent => {
                let p = v * 100.0;
                let decimals = if (p - p.round()).abs() < 1e-9 { 0 } else { 1 };
                format!("{}%", group(p, decimals))
            }
            Unit::Number => {
                let a = v.abs();
                if a >= 1e6 {
                    compact(v, 2)
                } else if a >= 100.0 {
                    group(v, 0)
                } else {
                    let decimals = if a >= 10.0 {
                        1
                    } else if a >= 1.0 {
                        2
                    } else {
                        3
                    };
                    trim_zeros(group(v, decimals))
                }
            }
        }
    }

    /// A value written short, for log-axis ticks and colour scales: `€1.2k`, `3M`, `45%`.
    pub fn format_compact(&self, v: f64) -> String {
        if !v.is_finite() {
            return "–".to_string();
        }
        match self {
            Unit::Percent => format!("{}%", trim_zeros(format!("{:.1}", v * 100.0))),
            Unit::Money { currency } => {
                let body = compact(v.abs(), 2);
                affix(currency, v < 0.0 && body != "0", &body)
            }
            Unit::Count | Unit::Number => compact(v, 2),
        }
    }

    /// Labels for evenly spaced ticks: one magnitude suffix (`k`, `M`, `B`)
    /// for the whole axis and as few decimals as tell the ticks apart.
    pub fn format_ticks(&self, ticks: &[f64]) -> Vec<String> {
        let max = ticks
            .iter()
            .filter(|t| t.is_finite())
            .fold(0.0f64, |m, t| m.max(t.abs()));
        let (scale, div, suffix) = match self {
            Unit::Percent => (100.0, 1.0, ""),
            _ if max >= 1e9 => (1.0, 1e9, "B"),
            _ if max >= 1e6 => (1.0, 1e6, "M"),
            _ if max >= 1e4 => (1.0, 1e3, "k"),
            _ => (1.0, 1.0, ""),
        };
        let scaled: Vec<f64> = ticks.iter().map(|t| t * scale / div).collect();
        let decimals = (0..=4)
            .find(|&d| {
                let f = 10f64.powi(d);
                scaled
                    .iter()
                    .all(|s| ((s * f).round() - s * f).abs() < 1e-6 * f.max(1.0))
            })
            .unwrap_or(4) as usize;
        scaled
            .iter()
            .map(|&s| {
                let body = if s == 0.0 {
                    "0".to_string()
                } else {
                    format!("{}{suffix}", group(s.abs(), decimals))
                };
                let negative = s < 0.0 && body.bytes().any(|b| b.is_ascii_digit() && b != b'0');
                match self {
                    Unit::Money { currency } => affix(currency, negative, &body),
                    Unit::Percent => format!("{}{body}%", if negative { "-" } else { "" }),
                    _ => format!("{}{body}", if negative { "-" } else { "" }),
                }
            })
            .collect()
    }
}

/// The prefix and suffix that surround an amount in `currency`.
fn currency_affixes(currency: &str) -> (String, String) {
    let c = currency.trim();
    match c.to_ascii_uppercase().as_str() {
        "" => (String::new(), String::new()),
        "EUR" | "€" => ("€".into(), String::new()),
        "USD" | "$" => ("$".into(), String::new()),
        "GBP" | "£" => ("£".into(), String::new()),
        "JPY" | "¥" => ("¥".into(), String::new()),
        "INR" | "₹" => ("₹".into(), String::new()),
        _ if c.chars().count() == 1 => (c.to_string(), String::new()),
        _ => (String::new(), format!(" {c}")),
    }
}

fn affix(currency: &str, negative: bool, body: &str) -> String {
    let (prefix, suffix) = currency_affixes(currency);
    let sign = if negative { "-" } else { "" };
    format!("{sign}{prefix}{body}{suffix}")
}

/// `v` with `decimals` decimals and thousands separators: `-1,234.5`.
pub(crate) fn group(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut out = String::with_capacity(s.len() + 4);
    if v < 0.0 && s.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        out.push('-');
    }
    let n = int.len();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (n - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// `1234567` as `1.23M` with at most `decimals` decimals (trailing zeros dropped).
pub(crate) fn compact(v: f64, decimals: usize) -> String {
    let a = v.abs();
    let (div, suffix) = if a >= 1e9 {
        (1e9, "B")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let body = trim_zeros(format!("{:.*}", decimals, a / div));
    let sign = if v < 0.0 && body != "0" { "-" } else { "" };
    format!("{sign}{body}{suffix}")
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(1234567.0, 0), "1,234,567");
        assert_eq!(group(-1234.5, 1), "-1,234.5");
        assert_eq!(group(999.0, 0), "999");
        assert_eq!(group(-0.0001, 0), "0");
    }

    #[test]
    fn formats_units() {
        assert_eq!(Unit::Count.format(1234.0), "1,234");
        assert_eq!(Unit::money("EUR").format(1234.4), "€1,234");
        assert_eq!(Unit::money("EUR").format(12.5), "€12.50");
        assert_eq!(Unit::money("CHF").format(-20.0), "-20 CHF");
        assert_eq!(Unit::money("USD").format(2_345_678.0), "$2.35M");
        assert_eq!(Unit::Percent.format(0.125), "12.5%");
        assert_eq!(Unit::Percent.format(0.5), "50%");
        assert_eq!(Unit::Number.format(0.4567), "0.457");
        assert_eq!(Unit::Count.format(f64::NAN), "–");
        assert_eq!(Unit::money("EUR").axis_suffix(), " (€)");
        assert_eq!(Unit::money("CHF").axis_suffix(), " (CHF)");
        assert_eq!(Unit::Count.axis_suffix(), "");
    }

    #[test]
    fn formats_ticks_with_one_suffix() {
        let t = Unit::Count.format_ticks(&[0.0, 25_000.0, 50_000.0, 75_000.0]);
        assert_eq!(t, ["0", "25k", "50k", "75k"]);
        let t = Unit::money("EUR").format_ticks(&[0.0, 2500.0, 5000.0, 7500.0]);
        assert_eq!(t, ["€0", "€2,500", "€5,000", "€7,500"]);
        let t = Unit::Number.format_ticks(&[0.0, 0.25, 0.5]);
        assert_eq!(t, ["0", "0.25", "0.50"]);
        let t = Unit::Percent.format_ticks(&[0.0, 0.5, 1.0]);
        assert_eq!(t, ["0%", "50%", "100%"]);
        let t = Unit::Number.format_ticks(&[-1.0, 0.0, 1.0]);
        assert_eq!(t, ["-1", "0", "1"]);
    }

    #[test]
    fn formats_compact() {
        assert_eq!(Unit::money("EUR").format_compact(1500.0), "€1.5k");
        assert_eq!(Unit::Count.format_compact(2_000_000.0), "2M");
        assert_eq!(Unit::Count.format_compact(20.0), "20");
    }
}
