//! The statistics behind campaign results: rates with intervals, the
//! two-proportion z-test, uplift (absolute and relative) with intervals,
//! and a seeded bootstrap for revenue per recipient.
//!
//! Choices, so the numbers can be checked by hand:
//! - A rate's interval is Wilson's score interval: unlike the normal
//!   ("Wald") interval it stays inside 0–100% and is sensible at 0 or
//!   at a handful of conversions.
//! - Two rates are compared with the two-proportion z-test, two-sided,
//!   with the pooled standard error (the one that holds if the rates were
//!   equal); the interval of the difference uses the unpooled standard
//!   error (the one of the difference actually seen). This is what
//!   statsmodels' `proportions_ztest` and `confint_proportions_2indep(…,
//!   method="wald")` compute.
//! - Relative uplift (`p₁ / p₂ − 1`) has Katz's log interval (the delta
//!   method on the log of the rate ratio): `exp(ln RR ± z·√(1/x₁ − 1/n₁ +
//!   1/x₂ − 1/n₂)) − 1`. It is asymmetric, as a ratio's interval should be,
//!   and undefined when either group has no conversions.
//! - Revenue per recipient is compared with a percentile bootstrap of the
//!   difference of means, each group resampled with replacement on its
//!   own. Most recipients spend nothing, so a resample is drawn exactly
//!   but cheaply: how many of its `n` draws hit a spender is Binomial(n,
//!   k/n), and only those draws pick a value (uniformly among the `k`
//!   spenders). Same distribution as `n` uniform draws, at the cost of
//!   `k`. The generator is ChaCha8 seeded by the caller: same data and
//!   seed, same interval.
//! - The normal distribution is written out here (an `erfc` and Acklam's
//!   quantile) rather than taken from a statistics crate: two functions
//!   do not justify a dependency.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};
use serde::{Deserialize, Serialize};

/// Resamples of the bootstrap unless the caller says otherwise.
pub const DEFAULT_RESAMPLES: usize = 2_000;

/// A rate (`count` of `of`) with its Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "ResultRate")]
pub struct Rate {
    pub count: u64,
    pub of: u64,
    /// `count / of` (0 when `of` is 0).
    pub rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl Rate {
    /// `count` of `of` with a Wilson interval at `confidence` (e.g. 0.95).
    pub fn new(count: u64, of: u64, confidence: f64) -> Rate {
        let (ci_low, ci_high) = wilson(count, of, z_for(confidence));
        Rate {
            count,
            of,
            rate: if of == 0 {
                0.0
            } else {
                count as f64 / of as f64
            },
            ci_low,
            ci_high,
        }
    }
}

/// Wilson's score interval of `x` successes in `n` trials; (0, 1) when
/// there are no trials.
pub fn wilson(x: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = x as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Group 1's rate against group 2's (the baseline).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProportionTest {
    pub p1: f64,
    pub p2: f64,
    /// `p1 − p2`, as a fraction (0.018 is 1.8 points).
    pub difference: f64,
    /// Interval of the difference (unpooled standard error).
    pub ci_low: f64,
    pub ci_high: f64,
    /// The z statistic (pooled standard error).
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// `p1 / p2 − 1`; `None` when the baseline rate is 0.
    pub relative: Option<f64>,
    /// Katz's log interval of the relative uplift; `None` when either
    /// group has no successes.
    pub relative_ci: Option<(f64, f64)>,
}

/// Compares `x1` of `n1` with `x2` of `n2` at `confidence`; `None` when a
/// group is empty.
pub fn compare_proportions(
    x1: u64,
    n1: u64,
    x2: u64,
    n2: u64,
    confidence: f64,
) -> Option<ProportionTest> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let z_crit = z_for(confidence);
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let (p1, p2) = (x1 as f64 / n1f, x2 as f64 / n2f);
    let difference = p1 - p2;
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    let (z, p_value) = if se_pooled > 0.0 {
        let z = difference / se_pooled;
        (z, (2.0 * normal_sf(z.abs())).min(1.0))
    } else {
        // Both 0% or both 100%: no evidence of any difference.
        (0.0, 1.0)
    };
    let se = (p1 * (1.0 - p1) / n1f + p2 * (1.0 - p2) / n2f).sqrt();
    let relative = (x2 > 0).then(|| p1 / p2 - 1.0);
    let relative_ci = (x1 > 0 && x2 > 0).then(|| {
        let ln_rr = (p1 / p2).ln();
        let se_ln = (1.0 / x1 as f64 - 1.0 / n1f + 1.0 / x2 as f64 - 1.0 / n2f)
            .max(0.0)
            .sqrt();
        (
            (ln_rr - z_crit * se_ln).exp() - 1.0,
            (ln_rr + z_crit * se_ln).exp() - 1.0,
        )
    });
    Some(ProportionTest {
        p1,
        p2,
        difference,
        ci_low: difference - z_crit * se,
        ci_high: difference + z_crit * se,
        z,
        p_value,
        relative,
        relative_ci,
    })
}

/// One group's values for the bootstrap: its size and its non-zero values
/// (everyone else counts 0).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub n: u64,
    pub nonzero: Vec<f64>,
}

impl Sample {
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.nonzero.iter().fold(0.0, |a, v| a + v) / self.n as f64
        }
    }

    /// The mean of one resample with replacement.
    fn resample_mean(&self, rng: &mut ChaCha8Rng) -> f64 {
        let k = self.nonzero.len();
        if self.n == 0 || k == 0 {
            return 0.0;
        }
        let hits = if k as u64 >= self.n {
            self.n
        } else {
            Binomial::new(self.n, k as f64 / self.n as f64)
                .map(|b| b.sample(rng))
                .unwrap_or(0)
        };
        let mut sum = 0.0;
        for _ in 0..hits {
            sum += self.nonzero[rng.random_range(0..k)];
        }
        sum / self.n as f64
    }
}

/// The difference of two means with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanDifference {
    /// `mean(a) − mean(b)` on the data.
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// Percentile bootstrap of `mean(a) − mean(b)`: `resamples` resamples of
/// each group drawn from ChaCha8 seeded with `seed`. `None` when a group
/// is empty or `resamples` is 0.
pub fn bootstrap_mean_difference(
    a: &Sample,
    b: &Sample,
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Option<MeanDifference> {
    if a.n == 0 || b.n == 0 || resamples == 0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut differences: Vec<f64> = (0..resamples)
        .map(|_| a.resample_mean(&mut rng) - b.resample_mean(&mut rng))
        .collect();
    differences.sort_by(f64::total_cmp);
    let alpha = 1.0 - confidence;
    Some(MeanDifference {
        difference: a.mean() - b.mean(),
        ci_low: quantile(&differences, alpha / 2.0),
        ci_high: quantile(&differences, 1.0 - alpha / 2.0),
    })
}

/// The `q` quantile of sorted values, interpolating between neighbours
/// (type 7, the default of R and NumPy).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The two-sided critical value for `confidence`: 1.96 for 0.95.
pub fn z_for(confidence: f64) -> f64 {
    normal_quantile(1.0 - (1.0 - confidence) / 2.0)
}

/// Φ(x), the standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// 1 − Φ(x), computed directly so far tails keep their precision.
pub fn normal_sf(x: f64) -> f64 {
    0.5 * erfc(x / std::f64::consts::SQRT_2)
}

/// The complementary error function, by the Chebyshev fit of Numerical
/// Recipes (`erfcc`): relative error below 1.2 × 10⁻⁷ everywhere, tails
/// included, which is ample for p-values shown to two digits.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Φ⁻¹(p) by Acklam's rational approximation (relative error below
/// 1.15 × 10⁻⁹); ±∞ at 0 and 1.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;
    if p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - P_LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    // Reference values were computed with Python's math.erfc (correctly
    // rounded to double precision), the function scipy.stats.norm.sf uses:
    //   sf(z) = 0.5 * erfc(z / sqrt(2)).

    #[test]
    fn normal_distribution() {
        assert!(close(normal_cdf(0.0), 0.5, 1e-7));
        assert!(close(normal_cdf(1.959_963_984_540_054), 0.975, 1e-8));
        // sf(5) = 2.866515718791939e-07; relative precision matters here.
        assert!(close(normal_sf(5.0) / 2.866_515_718_791_939e-7, 1.0, 1e-6));
        assert!(close(normal_cdf(-1.0), 0.158_655_253_931_457_05, 1e-8));
        assert!(close(normal_quantile(0.975), 1.959_963_984_540_054, 1e-8));
        assert!(close(normal_quantile(0.5), 0.0, 1e-12));
        assert!(close(normal_quantile(0.01), -2.326_347_874_040_841, 1e-8));
        assert!(close(z_for(0.90), 1.644_853_626_951_472_2, 1e-8));
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn two_proportion_z_test() {
        // 200/1000 against 150/1000. Pooled p = 0.175, SE₀ = √(0.175 ·
        // 0.825 · 0.002) = 0.016993, z = 0.05 / SE₀ = 2.942449, two-sided
        // p = 2·sf(z) = 0.0032563 (statsmodels proportions_ztest agrees;
        // the 0.0041 sometimes quoted for this pair is not the z-test's).
        // Unpooled SE = 0.016956, 95% CI of the difference 0.016767 to
        // 0.083233. Rate ratio 4/3: Katz 95% CI of the relative uplift
        // 0.099637 to 0.616695.
        let t = compare_proportions(200, 1000, 150, 1000, 0.95).unwrap();
        assert!(close(t.difference, 0.05, 1e-12));
        assert!(close(t.z, 2.942_449_431_682_5, 1e-9));
        assert!(
            close(t.p_value, 0.003_256_269_628_412, 1e-8),
            "{}",
            t.p_value
        );
        assert!(close(t.ci_low, 0.016_767_193_754_520_82, 1e-8));
        assert!(close(t.ci_high, 0.083_232_806_245_479_21, 1e-8));
        assert!(close(t.relative.unwrap(), 1.0 / 3.0, 1e-12));
        let (lo, hi) = t.relative_ci.unwrap();
        assert!(close(lo, 0.099_636_824_489_044_43, 1e-8), "{lo}");
        assert!(close(hi, 0.616_695_383_590_703, 1e-8), "{hi}");

        // 41/1000 against 23/1000: z = 2.286888, p = 0.0222024.
        let t = compare_proportions(41, 1000, 23, 1000, 0.95).unwrap();
        assert!(close(t.z, 2.286_887_704_261_148_6, 1e-9));
        assert!(close(t.p_value, 0.022_202_378_490_161_2, 1e-8));
        // Symmetric: swapping the groups flips the sign, not the p-value.
        let s = compare_proportions(23, 1000, 41, 1000, 0.95).unwrap();
        assert!(close(s.z, -t.z, 1e-12) && close(s.p_value, t.p_value, 1e-15));
    }

    #[test]
    fn degenerate_comparisons() {
        assert!(compare_proportions(1, 0, 1, 10, 0.95).is_none());
        let t = compare_proportions(0, 100, 0, 100, 0.95).unwrap();
        assert_eq!((t.z, t.p_value), (0.0, 1.0));
        assert_eq!(t.relative, None);
        let t = compare_proportions(5, 100, 0, 100, 0.95).unwrap();
        assert_eq!(t.relative, None);
        assert_eq!(t.relative_ci, None);
        assert!(t.p_value < 0.05);
    }

    #[test]
    fn wilson_intervals() {
        // Reference: statsmodels proportion_confint(method="wilson").
        let r = Rate::new(200, 1000, 0.95);
        assert!(close(r.ci_low, 0.176_377_090_443_198_5, 1e-8));
        assert!(close(r.ci_high, 0.225_918_964_648_134_66, 1e-8));
        let r = Rate::new(0, 50, 0.95);
        assert_eq!(r.ci_low, 0.0);
        assert!(close(r.ci_high, 0.071_347_599_133_358_72, 1e-8));
        let r = Rate::new(41, 1000, 0.95);
        assert!(close(r.ci_low, 0.030_364_971_082_098_312, 1e-8));
        assert!(close(r.ci_high, 0.055_147_993_207_641_306, 1e-8));
        assert_eq!(Rate::new(0, 0, 0.95).rate, 0.0);
    }

    #[test]
    fn bootstrap_is_seeded_and_centred() {
        // 1,000 recipients, 50 spending 40 each (mean 2); 1,000 holdout
        // members, 30 spending 40 each (mean 1.2).
        let a = Sample {
            n: 1000,
            nonzero: vec![40.0; 50],
        };
        let b = Sample {
            n: 1000,
            nonzero: vec![40.0; 30],
        };
        let d = bootstrap_mean_difference(&a, &b, 0.95, DEFAULT_RESAMPLES, 7).unwrap();
        assert!(close(d.difference, 0.8, 1e-12));
        // The sampling SD of the difference is 40·√(0.05·0.95/1000 +
        // 0.03·0.97/1000) = 0.3501, so the 95% interval is about
        // 0.8 ± 0.686.
        assert!(close(d.ci_low, 0.8 - 0.686, 0.09), "{d:?}");
        assert!(close(d.ci_high, 0.8 + 0.686, 0.09), "{d:?}");
        let again = bootstrap_mean_difference(&a, &b, 0.95, DEFAULT_RESAMPLES, 7).unwrap();
        assert_eq!(d, again);
        let other = bootstrap_mean_difference(&a, &b, 0.95, DEFAULT_RESAMPLES, 8).unwrap();
        assert_ne!(d, other);
        assert!(bootstrap_mean_difference(&a, &Sample::default(), 0.95, 10, 1).is_none());
        // Nobody spent: a zero-width interval at 0.
        let none = Sample {
            n: 10,
            nonzero: vec![],
        };
        let d = bootstrap_mean_difference(&none, &none, 0.95, 100, 1).unwrap();
        assert_eq!((d.difference, d.ci_low, d.ci_high), (0.0, 0.0, 0.0));
    }

    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!(close(quantile(&v, 0.5), 2.5, 1e-12));
    }
}
