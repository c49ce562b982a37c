//! RFM: recency, frequency and monetary scores 1–5 by quintile of the
//! workspace's buyers, and the named segments marketers know.
//!
//! Scores respect ties: a value's score is `1 + ⌊5 · (share of buyers with a
//! strictly worse value)⌋`, so two customers with the same number of orders
//! always get the same frequency score. When most customers bought once, the
//! low frequency scores are simply not used (everyone who bought once is a 1)
//! instead of being handed out at random among identical customers.
//!
//! ## Segments (first matching rule wins; R, F, M are the scores)
//! | segment | rule | meaning |
//! |---|---|---|
//! | Champions | R ≥ 4, F ≥ 4, M ≥ 4 | bought recently, often, and spend the most |
//! | Loyal | R ≥ 3, F ≥ 4 | buy often, still active |
//! | Potential Loyalist | R ≥ 4, F 2–3 | recent customers with a few orders |
//! | New | R = 5, F = 1 | first order very recently |
//! | Promising | R = 4, F = 1 | first order recently |
//! | Need Attention | R = 3, F ≤ 3 | middling on every score |
//! | Cannot Lose Them | R = 1, F ≥ 4 | used to buy often, gone for long |
//! | At Risk | R ≤ 2, F ≥ 3 | bought often, not for a while |
//! | About to Sleep | R = 2, F ≤ 2 | few orders, fading |
//! | Hibernating | R = 1, F = 2 | few orders, long ago |
//! | Lost | R = 1, F = 1 | one order, long ago |

/// The segments in the order of the rule table (best first).
pub const SEGMENTS: [&str; 11] = [
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "Promising",
    "Need Attention",
    "Cannot Lose Them",
    "At Risk",
    "About to Sleep",
    "Hibernating",
    "Lost",
];

/// The rule table above, as plain text rows (segment, rule) for the app.
pub const RULES: [(&str, &str); 11] = [
    ("Champions", "R ≥ 4, F ≥ 4, M ≥ 4"),
    ("Loyal", "R ≥ 3, F ≥ 4"),
    ("Potential Loyalist", "R ≥ 4, F 2–3"),
    ("New", "R = 5, F = 1"),
    ("Promising", "R = 4, F = 1"),
    ("Need Attention", "R = 3, F ≤ 3"),
    ("Cannot Lose Them", "R = 1, F ≥ 4"),
    ("At Risk", "R ≤ 2, F ≥ 3"),
    ("About to Sleep", "R = 2, F ≤ 2"),
    ("Hibernating", "R = 1, F = 2"),
    ("Lost", "R = 1, F = 1"),
];

/// The named segment of an R, F, M score triple (each 1..=5).
pub fn segment(r: u8, f: u8, m: u8) -> &'static str {
    match (r, f) {
        (4..=5, 4..=5) if m >= 4 => "Champions",
        (3..=5, 4..=5) => "Loyal",
        (4..=5, 2..=3) => "Potential Loyalist",
        (5, _) => "New",
        (4, _) => "Promising",
        (3, _) => "Need Attention",
        (1, 4..=5) => "Cannot Lose Them",
        (1..=2, 3..=5) => "At Risk",
        (2, _) => "About to Sleep",
        (_, 2) => "Hibernating",
        _ => "Lost",
    }
}

/// Scores for `values` where a higher value is better (frequency, money):
/// `1 + ⌊5 · below / n⌋`, `below` being how many values are strictly lower.
pub fn scores_higher_better(values: &[f64]) -> Vec<u8> {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let n = sorted.len() as f64;
    values
        .iter()
        .map(|v| {
            let below = sorted.partition_point(|x| x.total_cmp(v).is_lt()) as f64;
            (1.0 + (5.0 * below / n).floor()).clamp(1.0, 5.0) as u8
        })
        .collect()
}

/// Scores for `values` where a lower value is better (days since the last
/// order): the mirror image of [`scores_higher_better`].
pub fn scores_lower_better(values: &[f64]) -> Vec<u8> {
    let negated: Vec<f64> = values.iter().map(|v| -v).collect();
    scores_higher_better(&negated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_score_triple_has_exactly_the_segment_of_the_table() {
        let mut seen = std::collections::BTreeSet::new();
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    let s = segment(r, f, m);
                    assert!(SEGMENTS.contains(&s));
                    seen.insert(s);
                }
            }
        }
        assert_eq!(seen.len(), SEGMENTS.len(), "every segment is reachable");
        assert_eq!(segment(5, 5, 5), "Champions");
        assert_eq!(segment(5, 5, 1), "Loyal");
        assert_eq!(segment(5, 1, 5), "New");
        assert_eq!(segment(1, 1, 1), "Lost");
        assert_eq!(segment(1, 5, 5), "Cannot Lose Them");
        assert_eq!(segment(2, 4, 5), "At Risk");
        assert_eq!(segment(2, 1, 3), "About to Sleep");
        assert_eq!(segment(1, 2, 3), "Hibernating");
        assert_eq!(segment(3, 2, 2), "Need Attention");
        assert_eq!(RULES.map(|r| r.0), SEGMENTS);
    }

    #[test]
    fn quintiles_of_distinct_values_are_even() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        let s = scores_higher_better(&values);
        for score in 1..=5u8 {
            assert_eq!(s.iter().filter(|&&x| x == score).count(), 20);
        }
        assert_eq!(s[0], 1);
        assert_eq!(s[99], 5);
        let r = scores_lower_better(&values);
        assert_eq!(
            r[0], 5,
            "fewest days since the last order is the best recency"
        );
        assert_eq!(r[99], 1);
    }

    #[test]
    fn ties_share_a_score() {
        // 60 customers with one order, 25 with two, 15 with five.
        let mut values = vec![1.0; 60];
        values.extend(vec![2.0; 25]);
        values.extend(vec![5.0; 15]);
        let s = scores_higher_better(&values);
        assert!(s[..60].iter().all(|&x| x == 1));
        assert!(s[60..85].iter().all(|&x| x == 4), "60% below → 1 + ⌊3⌋");
        assert!(s[85..].iter().all(|&x| x == 5));
    }
}
