//! Offline evaluation: how well a model's top-k lists for the time before a
//! cut-off predict what each profile bought after it.

use serde::{Deserialize, Serialize};

/// Ranking metrics at k, averaged over the profiles evaluated, and the
/// share of the catalogue recommended to at least one of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "RankingMetrics")]
pub struct Metrics {
    pub precision: f64,
    pub recall: f64,
    pub ndcg: f64,
    pub map: f64,
    pub coverage: f64,
    /// Profiles evaluated (those with a purchase after the cut-off).
    pub profiles: u32,
}

/// Accumulates per-profile metrics.
#[derive(Debug, Clone)]
pub struct Scorer {
    k: usize,
    sum: Metrics,
    recommended: Vec<bool>,
}

impl Scorer {
    pub fn new(k: usize, catalogue: usize) -> Scorer {
        Scorer {
            k,
            sum: Metrics::default(),
            recommended: vec![false; catalogue],
        }
    }

    /// One profile's list (best first) against the products it went on to
    /// buy (`relevant`, distinct). Profiles with nothing relevant are
    /// skipped: they cannot tell a good list from a bad one.
    pub fn add(&mut self, list: &[u32], relevant: &[u32]) {
        if relevant.is_empty() {
            return;
        }
        let list = &list[..list.len().min(self.k)];
        let mut hits = 0usize;
        let mut dcg = 0.0;
        let mut ap = 0.0;
        for (rank, item) in list.iter().enumerate() {
            self.recommended[*item as usize] = true;
            if relevant.contains(item) {
                hits += 1;
                dcg += 1.0 / ((rank + 2) as f64).log2();
                ap += hits as f64 / (rank + 1) as f64;
            }
        }
        let ideal: f64 = (0..relevant.len().min(self.k))
            .map(|rank| 1.0 / ((rank + 2) as f64).log2())
            .sum();
        self.sum.precision += hits as f64 / self.k as f64;
        self.sum.recall += hits as f64 / relevant.len() as f64;
        self.sum.ndcg += dcg / ideal;
        self.sum.map += ap / relevant.len().min(self.k) as f64;
        self.sum.profiles += 1;
    }

    pub fn finish(self) -> Metrics {
        let n = f64::from(self.sum.profiles.max(1));
        Metrics {
            precision: self.sum.precision / n,
            recall: self.sum.recall / n,
            ndcg: self.sum.ndcg / n,
            map: self.sum.map / n,
            coverage: self.recommended.iter().filter(|&&r| r).count() as f64
                / self.recommended.len().max(1) as f64,
            profiles: self.sum.profiles,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computed_values() {
        let mut s = Scorer::new(3, 10);
        // Hits at ranks 1 and 3 of 3; 2 relevant.
        s.add(&[4, 5, 6, 7], &[4, 6]);
        // Skipped: nothing relevant.
        s.add(&[1, 2, 3], &[]);
        let m = s.finish();
        assert_eq!(m.profiles, 1);
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.recall - 1.0).abs() < 1e-12);
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let ideal = 1.0 + 1.0 / 3f64.log2();
        assert!((m.ndcg - dcg / ideal).abs() < 1e-12);
        assert!((m.map - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert!((m.coverage - 0.3).abs() < 1e-12);
    }

    #[test]
    fn a_perfect_list_scores_one_and_a_miss_zero() {
        let mut s = Scorer::new(2, 4);
        s.add(&[1, 2], &[2, 1]);
        let m = s.finish();
        assert!((m.ndcg - 1.0).abs() < 1e-12 && (m.map - 1.0).abs() < 1e-12);
        let mut s = Scorer::new(2, 4);
        s.add(&[0, 3], &[1]);
        assert_eq!(s.finish().ndcg, 0.0);
    }
}
