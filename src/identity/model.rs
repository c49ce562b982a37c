//! The Fellegi–Sunter model: for each comparison level, m = P(level | same
//! person) and u = P(level | different people). A pair's match weight is
//! the log-odds prior plus Σ log2(m/u) over its non-missing levels; its
//! probability is the logistic of that weight.
//!
//! u is measured on random pairs (almost all of which are different
//! people). m and the prior λ are estimated by expectation–maximisation on
//! the candidate pairs, with u held fixed, as Splink does. EM runs on the
//! histogram of comparison vectors rather than on the pairs themselves:
//! millions of pairs collapse to a few thousand distinct vectors, so
//! training on every candidate pair costs milliseconds and there is no
//! need to sample.

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};

use super::compare::{Comparison, Levels, COMPARISONS, MISSING};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MatchModel {
    /// m[comparison][level]; level 0 (missing) is unused.
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    /// Share of candidate pairs that are the same person.
    pub lambda: f64,
    pub iterations: u32,
    pub candidate_pairs: u64,
    pub random_pairs: u64,
    /// How often each folded first and last name occurs, for term-frequency
    /// adjustment: two Smiths agreeing is weaker evidence than two
    /// Quackenbushes. Counts over `name_total` records.
    #[serde(default)]
    pub first_names: FxHashMap<String, u32>,
    #[serde(default)]
    pub last_names: FxHashMap<String, u32>,
    #[serde(default)]
    pub name_total: u64,
}

/// Comparison vectors and how many pairs have each. (Fx hashing: ten
/// million pairs are counted in a full run, and the keys are our own.)
pub type Histogram = FxHashMap<Levels, u64>;

/// u probabilities from the comparison vectors of random pairs, with one
/// pseudo-count per level so that a level never seen among random pairs
/// (an exact phone match, say) gets a small u rather than zero.
pub fn estimate_u(random: &Histogram) -> Vec<Vec<f64>> {
    COMPARISONS
        .iter()
        .enumerate()
        .map(|(c, comp)| {
            let mut counts = vec![1.0f64; comp.level_count()];
            counts[MISSING as usize] = 0.0;
            for (levels, n) in random {
                let l = levels[c] as usize;
                if l != MISSING as usize {
                    counts[l] += *n as f64;
                }
            }
            normalise(counts)
        })
        .collect()
}

fn normalise(mut v: Vec<f64>) -> Vec<f64> {
    let total: f64 = v.iter().skip(1).sum();
    for x in v.iter_mut().skip(1) {
        *x /= total;
    }
    v[0] = 1.0;
    v
}

/// A starting m: most true matches agree exactly, few disagree entirely.
fn initial_m(comp: Comparison) -> Vec<f64> {
    let n = comp.level_count();
    let mut v = vec![0.0; n];
    v[1] = 0.8;
    v[n - 1] = 0.05;
    let middle = n.saturating_sub(3).max(1) as f64;
    for x in v.iter_mut().take(n - 1).skip(2) {
        *x = 0.15 / middle;
    }
    normalise(v)
}

/// One EM training session: the comparison vectors of the pairs some
/// blocking rules produced, and the comparisons those rules force to agree
/// (their m cannot be learned from these pairs, so it is left alone).
pub struct Session {
    pub pairs: Histogram,
    pub fixed: [bool; 8],
}

impl MatchModel {
    /// Fits m and λ by EM on the candidate pairs' histogram, u fixed.
    pub fn fit(candidates: &Histogram, u: Vec<Vec<f64>>, random_pairs: u64) -> MatchModel {
        MatchModel::fit_sessions(
            &[Session {
                pairs: candidates.clone(),
                fixed: [false; 8],
            }],
            candidates,
            u,
            random_pairs,
            None,
        )
    }

    /// Fits m by EM in several sessions, as Splink does: pairs blocked on a
    /// name all agree on the name, so such a session learns nothing about
    /// names (and would wrongly credit name agreement to matches); it
    /// learns m for email, phone and address instead, while a session on
    /// pairs blocked by email or phone learns m for the names. Each m is the
    /// mean over the sessions that could learn it.
    ///
    /// `lambda` is the probability that two *random* records match. With u
    /// measured on random pairs, that is the prior that makes a pair's
    /// posterior right whichever blocking rule found it. (Fitting λ on the
    /// blocked pairs instead drives it to 1: blocked pairs agree on their
    /// blocking fields far more than random pairs do.) None: fitted on the
    /// candidates, for data without blocking.
    pub fn fit_sessions(
        sessions: &[Session],
        candidates: &Histogram,
        u: Vec<Vec<f64>>,
        random_pairs: u64,
        lambda: Option<f64>,
    ) -> MatchModel {
        let mut model = MatchModel {
            m: COMPARISONS.iter().map(|c| initial_m(*c)).collect(),
            u,
            lambda: 0.2,
            iterations: 0,
            candidate_pairs: candidates.values().sum(),
            random_pairs,
            first_names: FxHashMap::default(),
            last_names: FxHashMap::default(),
            name_total: 0,
        };
        let mut sums: Vec<Vec<f64>> = COMPARISONS
            .iter()
            .map(|c| vec![0.0; c.level_count()])
            .collect();
        let mut learned = [0usize; 8];
        for session in sessions {
            if session.pairs.is_empty() {
                continue;
            }
            let mut m = model.clone();
            m.lambda = 0.5;
            m.em(&session.pairs, &session.fixed, true);
            model.iterations += m.iterations;
            for c in 0..COMPARISONS.len() {
                if !session.fixed[c] {
                    learned[c] += 1;
                    for (s, v) in sums[c].iter_mut().zip(&m.m[c]) {
                        *s += v;
                    }
                }
            }
        }
        for c in 0..COMPARISONS.len() {
            if learned[c] > 0 {
                model.m[c] = sums[c].iter().map(|s| s / learned[c] as f64).collect();
            }
        }
        match lambda {
            Some(l) => model.lambda = l.clamp(1e-12, 0.5),
            // λ alone, everything else held.
            None => model.em(candidates, &[true; 8], false),
        }
        model
    }

    /// EM iterations: updates m for comparisons not `fixed` (when
    /// `update_m`) and λ, with u held.
    fn em(&mut self, pairs: &Histogram, fixed: &[bool; 8], update_m: bool) {
        let patterns: Vec<(&Levels, f64)> = pairs.iter().map(|(l, n)| (l, *n as f64)).collect();
        let total: f64 = patterns.iter().map(|(_, n)| n).sum();
        if total == 0.0 {
            return;
        }
        for it in 1..=200 {
            let mut counts: Vec<Vec<f64>> = COMPARISONS
                .iter()
                .map(|c| vec![0.0; c.level_count()])
                .collect();
            let mut matches = 0.0;
            for (levels, n) in &patterns {
                // Fixed comparisons carry no evidence inside their session.
                let mut w = self.prior_weight();
                for (c, l) in levels.iter().enumerate() {
                    if !fixed[c] || !update_m {
                        w += self.level_weight(c, *l);
                    }
                }
                let p = probability(w);
                let pw = p * n;
                matches += pw;
                for (c, l) in levels.iter().enumerate() {
                    if *l != MISSING {
                        counts[c][*l as usize] += pw;
                    }
                }
            }
            let mut change: f64 = 0.0;
            if update_m {
                for (c, row) in counts.into_iter().enumerate() {
                    if fixed[c] {
                        continue;
                    }
                    // A small floor keeps a level that no match showed from
                    // becoming impossible (weight −∞).
                    let row: Vec<f64> = row.into_iter().map(|x| x + 1e-3).collect();
                    let new = normalise(row);
                    for (a, b) in new.iter().zip(&self.m[c]) {
                        change = change.max((a - b).abs());
                    }
                    self.m[c] = new;
                }
            }
            let lambda = (matches / total).clamp(1e-6, 1.0 - 1e-6);
            change = change.max((lambda - self.lambda).abs());
            self.lambda = lambda;
            self.iterations = it;
            if change < 1e-6 {
                break;
            }
        }
    }

    /// Evidence of one level in bits: log2(m/u). 0 for missing.
    pub fn level_weight(&self, comparison: usize, level: u8) -> f64 {
        if level == MISSING {
            return 0.0;
        }
        let l = level as usize;
        (self.m[comparison][l] / self.u[comparison][l]).log2()
    }

    pub fn prior_weight(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    /// The match weight (bits) of a comparison vector.
    pub fn weight(&self, levels: &Levels) -> f64 {
        self.prior_weight()
            + levels
                .iter()
                .enumerate()
                .map(|(c, l)| self.level_weight(c, *l))
                .sum::<f64>()
    }

    pub fn probability(&self, levels: &Levels) -> f64 {
        probability(self.weight(levels))
    }

    /// Term-frequency adjustment (bits) for an exact name agreement:
    /// log2(u_exact / frequency of this name). Positive for rare names,
    /// negative for common ones; 0 when the name was not counted.
    pub fn name_adjustment(&self, comparison: usize, name: &str) -> f64 {
        let table = match comparison {
            0 => &self.first_names,
            1 => &self.last_names,
            _ => return 0.0,
        };
        let Some(&n) = table.get(name) else {
            return 0.0;
        };
        if self.name_total == 0 {
            return 0.0;
        }
        let tf = (n as f64 / self.name_total as f64).max(1e-9);
        (self.u[comparison][1] / tf).log2().clamp(-6.0, 3.0)
    }
}

pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

pub fn weight_of(probability: f64) -> f64 {
    let p = probability.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).log2()
}

/// The merge threshold the fitted model itself suggests: the probability
/// that maximises the expected F1 of the candidate pairs (expected true
/// merges Σp above it, false ones Σ(1−p), missed ones Σp below), but never
/// below `floor` — over-merging is the failure marketers fear most, so the
/// threshold leans towards precision.
pub fn auto_threshold(model: &MatchModel, candidates: &Histogram, floor: f64) -> f64 {
    auto_threshold_of(
        candidates
            .iter()
            .map(|(l, n)| (model.probability(l), *n as f64))
            .collect(),
        floor,
    )
}

/// [`auto_threshold`] over (probability, count) pairs.
pub fn auto_threshold_of(mut scored: Vec<(f64, f64)>, floor: f64) -> f64 {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    auto_threshold_sorted(|| scored.iter().copied(), floor)
}

/// [`auto_threshold_of`] over pairs already sorted by probability, highest
/// first; `scored` is called twice (a total, then the walk).
pub fn auto_threshold_sorted<I: Iterator<Item = (f64, f64)>>(
    scored: impl Fn() -> I,
    floor: f64,
) -> f64 {
    let total_matches: f64 = scored().map(|(p, n)| p * n).sum();
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut best = (f64::MIN, 1.0);
    for (p, n) in scored() {
        tp += p * n;
        fp += (1.0 - p) * n;
        let fn_ = total_matches - tp;
        let f1 = 2.0 * tp / (2.0 * tp + fp + fn_).max(1e-12);
        if f1 > best.0 {
            best = (f1, p);
        }
    }
    best.1.max(floor).min(0.999_999)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Draws comparison vectors from a known model and checks that EM
    /// finds its m and λ again.
    #[test]
    fn em_recovers_known_parameters() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let true_m: Vec<Vec<f64>> = COMPARISONS
            .iter()
            .map(|c| {
                let n = c.level_count();
                let mut v = vec![0.0; n];
                v[1] = 0.7;
                v[n - 1] = 0.1;
                for x in v.iter_mut().take(n - 1).skip(2) {
                    *x = 0.2 / (n - 3).max(1) as f64;
                }
                normalise(v)
            })
            .collect();
        let true_u: Vec<Vec<f64>> = COMPARISONS
            .iter()
            .map(|c| {
                let n = c.level_count();
                let mut v = vec![0.0; n];
                v[1] = 0.02;
                v[n - 1] = 0.9;
                for x in v.iter_mut().take(n - 1).skip(2) {
                    *x = 0.08 / (n - 3).max(1) as f64;
                }
                normalise(v)
            })
            .collect();
        let draw = |rng: &mut ChaCha8Rng, dist: &Vec<Vec<f64>>| {
            let mut l: Levels = [0; 8];
            for (c, row) in dist.iter().enumerate() {
                let mut x: f64 = rng.random();
                l[c] = (row.len() - 1) as u8;
                for (i, p) in row.iter().enumerate().skip(1) {
                    if x < *p {
                        l[c] = i as u8;
                        break;
                    }
                    x -= p;
                }
            }
            l
        };
        let mut candidates = Histogram::default();
        let mut random = Histogram::default();
        for _ in 0..200_000 {
            let is_match = rng.random_bool(0.3);
            let l = draw(&mut rng, if is_match { &true_m } else { &true_u });
            *candidates.entry(l).or_default() += 1;
            *random.entry(draw(&mut rng, &true_u)).or_default() += 1;
        }
        let model = MatchModel::fit(&candidates, estimate_u(&random), 200_000);
        assert!((model.lambda - 0.3).abs() < 0.02, "λ = {}", model.lambda);
        for c in 0..COMPARISONS.len() {
            assert!(
                (model.m[c][1] - 0.7).abs() < 0.03,
                "m exact of {c}: {}",
                model.m[c][1]
            );
        }
        let t = auto_threshold(&model, &candidates, 0.0);
        assert!(t > 0.05 && t < 0.99, "threshold {t}");
        let all_exact: Levels = [1; 8];
        assert!(model.probability(&all_exact) > 0.999);
        let all_different: Levels = [5, 5, 4, 3, 4, 3, 3, 3];
        assert!(model.probability(&all_different) < 0.001);
    }

    #[test]
    fn weights_and_probabilities_round_trip() {
        assert!((probability(weight_of(0.9)) - 0.9).abs() < 1e-9);
        assert_eq!(probability(0.0), 0.5);
    }
}
