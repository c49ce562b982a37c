//! Plain-language descriptions and short names for clusters.
//!
//! A cluster is described by the two or three traits on which it differs
//! most from the whole base, measured as the standardised difference of its
//! mean in the prepared space (so a logged spend counts a doubling the same
//! at 20 and at 2,000). Each trait is then worded from its original values
//! according to its kind: money as a multiple of the average, days as "12
//! days ago" (the cluster's median), shares as percentages. The name comes
//! from a small rule table on the most distinctive trait and direction
//! ([`name_for`]); names are made unique within a run.

use std::collections::HashSet;

use super::features::quantile;
use super::features::{Feature, FeatureKind, Prepared};

/// A trait is distinctive from this many standard deviations away from the
/// base's mean.
const DISTINCTIVE: f64 = 0.25;

pub(crate) struct Description {
    pub text: String,
    pub name: String,
}

/// One description per cluster `0..k`. `labels` gives each prepared row's
/// cluster; `order` lists the clusters from the most to the least important
/// (largest first): the first gets a plain name when two would collide.
pub(crate) fn describe(
    features: &[Feature],
    prepared: &Prepared,
    labels: &[Option<usize>],
    k: usize,
    order: &[usize],
    currency: &str,
) -> Vec<Description> {
    let summaries: Vec<Summary> = features
        .iter()
        .enumerate()
        .map(|(j, f)| Summary::new(f, j, prepared, labels, k))
        .collect();
    let mut out: Vec<Option<Description>> = (0..k).map(|_| None).collect();
    let mut taken = HashSet::new();
    for &c in order {
        let picks = distinctive(&summaries, c);
        let text = if picks.is_empty() {
            "Close to the average on every trait".to_string()
        } else {
            capitalise(
                &picks
                    .iter()
                    .map(|&(j, _)| summaries[j].phrase(c, currency))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        };
        let signs: Vec<Sign> = picks
            .iter()
            .map(|&(j, z)| Sign {
                kind: summaries[j].kind,
                label: &summaries[j].label,
                up: z > 0.0,
                strong: z.abs() >= 2.0 * DISTINCTIVE,
            })
            .collect();
        let name = unique_name(&signs, &mut taken);
        out[c] = Some(Description { text, name });
    }
    out.into_iter()
        .map(|d| {
            d.unwrap_or_else(|| Description {
                text: String::new(),
                name: String::new(),
            })
        })
        .collect()
}

/// One feature's figures, over the whole base and per cluster.
struct Summary {
    kind: FeatureKind,
    label: String,
    /// Mean of the profiles that have a value (original units).
    base_mean: f64,
    cluster_mean: Vec<f64>,
    /// Medians, computed for day counts only (a mean of "days ago" is
    /// dragged by the few who left years ago).
    cluster_median: Vec<f64>,
    /// Standardised difference of each cluster's mean from the base, in
    /// the prepared space.
    z: Vec<f64>,
}

impl Summary {
    fn new(f: &Feature, j: usize, prepared: &Prepared, labels: &[Option<usize>], k: usize) -> Self {
        let column = prepared.data.column(j);
        let n = column.len() as f64;
        let scaled_mean = column.sum() / n;
        let scaled_std = (column
            .iter()
            .map(|v| (v - scaled_mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        let mut scaled_sum = vec![0.0; k];
        let mut sizes = vec![0usize; k];
        let mut sum = vec![0.0; k];
        let mut count = vec![0usize; k];
        let (mut base_sum, mut base_count) = (0.0, 0usize);
        let keep_values = f.kind == FeatureKind::Days;
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); if keep_values { k } else { 0 }];
        for ((&row, &z), label) in prepared.rows.iter().zip(column.iter()).zip(labels) {
            let original = f.values[row].filter(|v| v.is_finite());
            if let Some(v) = original {
                base_sum += v;
                base_count += 1;
            }
            let Some(c) = *label else { continue };
            scaled_sum[c] += z;
            sizes[c] += 1;
            if let Some(v) = original {
                sum[c] += v;
                count[c] += 1;
                if keep_values {
                    values[c].push(v);
                }
            }
        }
        let mean_of = |s: f64, c: usize| if c > 0 { s / c as f64 } else { f64::NAN };
        Summary {
            kind: f.kind,
            label: f.label.clone(),
            base_mean: mean_of(base_sum, base_count),
            cluster_mean: (0..k).map(|c| mean_of(sum[c], count[c])).collect(),
            cluster_median: values
                .iter_mut()
                .map(|v| {
                    if v.is_empty() {
                        f64::NAN
                    } else {
                        quantile(v, 0.5)
                    }
                })
                .collect(),
            z: (0..k)
                .map(|c| {
                    if sizes[c] == 0 || scaled_std <= 0.0 {
                        0.0
                    } else {
                        (scaled_sum[c] / sizes[c] as f64 - scaled_mean) / scaled_std
                    }
                })
                .collect(),
        }
    }

    /// How cluster `c` reads on this trait, e.g. "spend 3.1× the average".
    fn phrase(&self, c: usize, currency: &str) -> String {
        let label = &self.label;
        let mean = self.cluster_mean[c];
        let base = self.base_mean;
        match self.kind {
            FeatureKind::Money | FeatureKind::Count => {
                if base > 0.0 && mean >= 0.0 {
                    let ratio = mean / base;
                    // Picked on the log scale, a trait can be distinctive
                    // while its plain means are close: say so plainly.
                    if mean < 0.005 * base {
                        format!("almost no {label}")
                    } else if ratio >= 1.05 {
                        format!("{label} {ratio:.1}× the average")
                    } else if ratio > 0.95 {
                        format!("{label} close to the average")
                    } else {
                        format!("{label} {:.0}% below the average", (1.0 - ratio) * 100.0)
                    }
                } else if self.kind == FeatureKind::Money {
                    format!("{label} {} on average", money(mean, currency))
                } else {
                    format!("{label} {} on average", number(mean))
                }
            }
            FeatureKind::Days => format!("{label} {}", days_ago(self.cluster_median[c])),
            FeatureKind::Share => {
                let pct = |v: f64| (v * 100.0).round();
                if mean >= 0.6 {
                    format!("mostly {label} ({:.0}%)", pct(mean))
                } else if mean <= 0.15 && base > mean {
                    format!("rarely {label} ({:.0}%)", pct(mean))
                } else {
                    format!("{label} {:.0}% vs {:.0}% overall", pct(mean), pct(base))
                }
            }
            FeatureKind::Score => format!(
                "{} {label} ({} vs {} overall)",
                if self.z[c] > 0.0 { "high" } else { "low" },
                number(mean),
                number(base)
            ),
        }
    }
}

/// The (feature, z) pairs that set cluster `c` apart, most distinctive first:
/// up to three beyond [`DISTINCTIVE`], or the best two if only one is.
fn distinctive(summaries: &[Summary], c: usize) -> Vec<(usize, f64)> {
    let mut ranked: Vec<(usize, f64)> = summaries
        .iter()
        .enumerate()
        .map(|(j, s)| (j, s.z[c]))
        .collect();
    ranked.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    let strong = ranked
        .iter()
        .filter(|r| r.1.abs() >= DISTINCTIVE)
        .count()
        .min(3);
    match strong {
        0 => Vec::new(),
        1 => ranked
            .into_iter()
            .take(2)
            .filter(|r| r.1.abs() >= DISTINCTIVE / 2.0)
            .collect(),
        n => ranked.into_iter().take(n).collect(),
    }
}

/// A distinctive trait's direction, for naming.
struct Sign<'a> {
    kind: FeatureKind,
    label: &'a str,
    up: bool,
    /// Clearly distinctive, not just the best of a flat profile.
    strong: bool,
}

/// The rule table: a short name from the most distinctive trait, refined by
/// the others. Spend, orders and recency name a customer group better than a
/// share or a score, so they lead whenever one clearly stands out. Returns
/// the name and which sign led.
fn name_for(signs: &[Sign]) -> (String, Option<usize>) {
    use FeatureKind::*;
    let Some(lead) = signs
        .iter()
        .position(|s| s.strong && matches!(s.kind, Money | Count | Days))
        .or((!signs.is_empty()).then_some(0))
    else {
        return ("Typical customers".into(), None);
    };
    let top = &signs[lead];
    let has = |kind: FeatureKind, up: bool| {
        signs
            .iter()
            .any(|s| s.kind == kind && s.up == up && s.strong)
    };
    let name = match (top.kind, top.up) {
        (Days, true) if has(Money, true) => "Lapsed big spenders".into(),
        (Days, true) => "Lapsed buyers".into(),
        (Days, false) if has(Money, true) => "Active big spenders".into(),
        (Days, false) if has(Count, false) || has(Money, false) => "New browsers".into(),
        (Days, false) => "Recent buyers".into(),
        (Money, true) if has(Days, true) => "Lapsed big spenders".into(),
        (Money, true) if has(Count, true) => "Loyal big spenders".into(),
        (Money, true) => "Big spenders".into(),
        (Money, false) if has(Days, true) => "Lapsed low spenders".into(),
        (Money, false) if has(Days, false) => "New browsers".into(),
        (Money, false) => "Low spenders".into(),
        (Count, true) if has(Money, true) => "Loyal big spenders".into(),
        (Count, true) => "Frequent buyers".into(),
        (Count, false) if has(Days, false) => "New browsers".into(),
        (Count, false) => "Occasional buyers".into(),
        (Share, true) => capitalise(&format!("mostly {}", top.label)),
        (Share, false) => capitalise(&format!("rarely {}", top.label)),
        (Score, true) => capitalise(&format!("high {}", top.label)),
        (Score, false) => capitalise(&format!("low {}", top.label)),
    };
    (name, Some(lead))
}

/// A few words for a secondary trait, to tell apart two clusters that
/// would otherwise share a name: "Big spenders (mostly mobile)".
fn qualifier(s: &Sign) -> String {
    use FeatureKind::*;
    match (s.kind, s.up) {
        (Money, true) => "high spend".into(),
        (Money, false) => "low spend".into(),
        (Count, true) => "frequent".into(),
        (Count, false) => "infrequent".into(),
        (Days, true) => "lapsed".into(),
        (Days, false) => "recent".into(),
        (Share, true) => format!("mostly {}", s.label),
        (Share, false) => format!("little {}", s.label),
        (Score, true) => format!("high {}", s.label),
        (Score, false) => format!("low {}", s.label),
    }
}

fn unique_name(signs: &[Sign], taken: &mut HashSet<String>) -> String {
    let (base, lead) = name_for(signs);
    let mut candidates = vec![base.clone()];
    candidates.extend(
        signs
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != lead)
            .map(|(_, s)| qualifier(s))
            // "Frequent buyers (frequent)" says nothing more.
            .filter(|q| !base.to_lowercase().contains(q.as_str()))
            .map(|q| format!("{base} ({q})")),
    );
    let name = candidates
        .into_iter()
        .find(|c| !taken.contains(c))
        .unwrap_or_else(|| {
            (2..)
                .map(|i| format!("{base} {i}"))
                .find(|c| !taken.contains(c))
                .expect("an unused number")
        });
    taken.insert(name.clone());
    name
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "12 days ago", "7 months ago"; `days` is a median of day counts.
fn days_ago(days: f64) -> String {
    if !days.is_finite() {
        return "unknown".into();
    }
    let d = days.round();
    if d <= 0.0 {
        "today".into()
    } else if d == 1.0 {
        "1 day ago".into()
    } else if d < 60.0 {
        format!("{d:.0} days ago")
    } else if d < 548.0 {
        format!("{:.0} months ago", d / 30.44)
    } else {
        format!("{:.0} years ago", d / 365.25)
    }
}

/// A single value in the words of its kind: "$40.00", "35 days", "82%".
pub(crate) fn amount(kind: FeatureKind, x: f64, currency: &str) -> String {
    match kind {
        FeatureKind::Money => money(x, currency),
        FeatureKind::Days => format!("{x:.0} days"),
        FeatureKind::Share => format!("{:.0}%", x * 100.0),
        FeatureKind::Count | FeatureKind::Score => number(x),
    }
}

/// "$1,250", "$12.50", "$2.4M", "-$5.00".
pub(crate) fn money(x: f64, currency: &str) -> String {
    if !x.is_finite() {
        return "unknown".into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let a = x.abs();
    let digits = if a >= 1e6 {
        format!("{:.1}M", a / 1e6)
    } else if a >= 100.0 {
        thousands(a.round() as u64)
    } else {
        format!("{a:.2}")
    };
    format!("{sign}{currency}{digits}")
}

/// A count or score: two decimals when small, grouped thousands when large.
fn number(x: f64) -> String {
    if !x.is_finite() {
        "unknown".into()
    } else if x.abs() >= 1000.0 {
        format!(
            "{}{}",
            if x < 0.0 { "-" } else { "" },
            thousands(x.abs().round() as u64)
        )
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// "1,234,567".
pub(crate) fn thousands(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::features::{prepare, PrepareOptions};

    /// 30 recent mobile big spenders and 70 lapsed small spenders. The
    /// traits differ by clearly different amounts so their order is fixed:
    /// spend (two values only) stands out most, then days (a little spread
    /// within the first group), then mobile (spread within the second).
    fn crafted() -> (Vec<Feature>, Vec<Option<usize>>) {
        let group = |i: usize| i < 30;
        let spend = (0..100)
            .map(|i| Some(if group(i) { 1550.0 } else { 50.0 }))
            .collect();
        let days = (0..100)
            .map(|i| {
                Some(if group(i) {
                    10.0 + (i % 5) as f64
                } else {
                    200.0
                })
            })
            .collect();
        let mobile = (0..100)
            .map(|i| {
                Some(if group(i) {
                    0.9
                } else if i % 2 == 0 {
                    0.1
                } else {
                    0.3
                })
            })
            .collect();
        let features = vec![
            Feature::new("total_spend", "spend", FeatureKind::Money, spend),
            Feature::new(
                "days_since_last_order",
                "last order",
                FeatureKind::Days,
                days,
            ),
            Feature::new("mobile_share", "mobile", FeatureKind::Share, mobile),
        ];
        let labels = (0..100)
            .map(|i| Some(if group(i) { 0 } else { 1 }))
            .collect();
        (features, labels)
    }

    #[test]
    fn descriptions_read_well_on_a_crafted_example() {
        let (features, labels) = crafted();
        let prepared = prepare(&features, &PrepareOptions::default()).unwrap();
        let d = describe(&features, &prepared, &labels, 2, &[1, 0], "$");
        // Spend: 1,550 against a base average of (30·1550 + 70·50) / 100 = 500.
        assert_eq!(
            d[0].text,
            "Spend 3.1× the average, last order 12 days ago, mostly mobile (90%)"
        );
        assert_eq!(d[0].name, "Big spenders");
        // Mobile: 20% against (30·0.9 + 70·0.2) / 100 = 41%.
        assert_eq!(
            d[1].text,
            "Spend 90% below the average, last order 7 months ago, mobile 20% vs 41% overall"
        );
        assert_eq!(d[1].name, "Lapsed low spenders");
    }

    #[test]
    fn a_flat_cluster_is_typical() {
        let (features, _) = crafted();
        let prepared = prepare(&features, &PrepareOptions::default()).unwrap();
        // Every other profile: the same mix as the base.
        let labels: Vec<Option<usize>> = (0..100).map(|i| Some(i % 2)).collect();
        let d = describe(&features, &prepared, &labels, 2, &[0, 1], "$");
        assert_eq!(d[0].text, "Close to the average on every trait");
        assert_eq!(d[0].name, "Typical customers");
        assert_eq!(d[1].name, "Typical customers 2");
    }

    #[test]
    fn names_are_unique_within_a_run() {
        let signs = |up_share: bool| {
            vec![
                Sign {
                    kind: FeatureKind::Money,
                    label: "spend",
                    up: true,
                    strong: true,
                },
                Sign {
                    kind: FeatureKind::Share,
                    label: "mobile",
                    up: up_share,
                    strong: true,
                },
            ]
        };
        let mut taken = HashSet::new();
        assert_eq!(unique_name(&signs(true), &mut taken), "Big spenders");
        assert_eq!(
            unique_name(&signs(false), &mut taken),
            "Big spenders (little mobile)"
        );
        assert_eq!(unique_name(&signs(false), &mut taken), "Big spenders 2");
        assert_eq!(unique_name(&[], &mut taken), "Typical customers");
    }

    #[test]
    fn spend_orders_and_recency_lead_the_name() {
        let sign = |kind, up| Sign {
            kind,
            label: "mobile",
            up,
            strong: true,
        };
        // Mostly mobile above all, but also low spend and recent: new browsers.
        let signs = [
            sign(FeatureKind::Share, true),
            sign(FeatureKind::Money, false),
            sign(FeatureKind::Days, false),
        ];
        assert_eq!(name_for(&signs), ("New browsers".to_string(), Some(1)));
        assert_eq!(
            name_for(&[
                sign(FeatureKind::Count, true),
                sign(FeatureKind::Money, true)
            ])
            .0,
            "Loyal big spenders"
        );
        // Only a share stands out: it names the cluster.
        assert_eq!(
            name_for(&[sign(FeatureKind::Share, true)]).0,
            "Mostly mobile"
        );
        assert_eq!(name_for(&[]).0, "Typical customers");
    }

    #[test]
    fn numbers_are_formatted_for_people() {
        assert_eq!(money(1250.4, "$"), "$1,250");
        assert_eq!(money(12.5, "€"), "€12.50");
        assert_eq!(money(-5.0, "$"), "-$5.00");
        assert_eq!(money(2_400_000.0, "£"), "£2.4M");
        assert_eq!(days_ago(0.2), "today");
        assert_eq!(days_ago(1.0), "1 day ago");
        assert_eq!(days_ago(12.4), "12 days ago");
        assert_eq!(days_ago(200.0), "7 months ago");
        assert_eq!(days_ago(800.0), "2 years ago");
        assert_eq!(number(1234567.0), "1,234,567");
        assert_eq!(number(0.5), "0.50");
        assert_eq!(amount(FeatureKind::Days, 35.0, "$"), "35 days");
        assert_eq!(amount(FeatureKind::Share, 0.82, "$"), "82%");
        assert_eq!(amount(FeatureKind::Money, 40.0, "€"), "€40.00");
    }
}
