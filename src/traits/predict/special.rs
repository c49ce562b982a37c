//! Special functions the models need: ln Γ, digamma, the Gaussian
//! hypergeometric series ₂F₁ and a tanh-sinh quadrature on (0, 1).
//!
//! Why by hand: the only uses are ln Γ / ψ at positive arguments (the
//! likelihoods and their gradients) and ₂F₁ at 0 ≤ z < 1 for the BG/NBD
//! conditional expectation. Rust has no ln Γ or ψ in `std`, and the crates
//! that offer ₂F₁ for real arguments either pull in a large tree (statrs →
//! nalgebra) or bind C/Fortran code. Each function below is a short, textbook
//! formula with its accuracy stated and checked by the unit tests.

/// ½·ln(2π).
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Relative accuracy asked of the series: a few ulps.
const SERIES_EPS: f64 = 1e-15;

/// ln Γ(x) for x > 0 (NaN otherwise).
///
/// Shifts x up to ≥ 10 with Γ(x) = Γ(x+n) / (x(x+1)…(x+n−1)) and then uses
/// Stirling's series to the x⁻¹³ term; the first neglected term is below
/// 10⁻¹⁶ at x = 10, so the error is a few ulps of the result.
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    let mut x = x;
    let mut product = 1.0;
    while x < 10.0 {
        product *= x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series = inv
        * (1.0 / 12.0
            - inv2
                * (1.0 / 360.0
                    - inv2
                        * (1.0 / 1260.0
                            - inv2
                                * (1.0 / 1680.0
                                    - inv2
                                        * (1.0 / 1188.0
                                            - inv2 * (691.0 / 360_360.0 - inv2 / 156.0))))));
    (x - 0.5) * x.ln() - x + HALF_LN_2PI + series - product.ln()
}

/// Digamma ψ(x) = d ln Γ(x) / dx for x > 0 (NaN otherwise).
///
/// Recurrence ψ(x) = ψ(x+1) − 1/x up to x ≥ 10, then the asymptotic series to
/// the x⁻¹⁴ term (first neglected term < 10⁻¹⁶ at x = 10).
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    acc + x.ln()
        - 0.5 * inv
        - inv2
            * (1.0 / 12.0
                - inv2
                    * (1.0 / 120.0
                        - inv2
                            * (1.0 / 252.0
                                - inv2
                                    * (1.0 / 240.0
                                        - inv2
                                            * (1.0 / 132.0
                                                - inv2 * (691.0 / 32_760.0 - inv2 / 12.0))))))
}

/// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a+b).
pub(crate) fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// Gauss's hypergeometric function ₂F₁(a, b; c; z) by its power series, for
/// 0 ≤ z < 1.
///
/// Returns `None` when the series cannot be summed to full precision within
/// `max_terms` terms (z too close to 1, c a non-positive integer, overflow),
/// so the caller can switch to another method rather than use a wrong value.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64, max_terms: usize) -> Option<f64> {
    hyper_sum(1.0, 0, a, b, c, z, max_terms)
}

/// Σ_{k ≥ k0} t_k for the hypergeometric recurrence
/// t_{k+1} = t_k · (a+k)(b+k) / ((c+k)(k+1)) · z, starting from t_{k0} = `first`.
///
/// With `first` = 1 and `k0` = 0 this is ₂F₁(a, b; c; z). Starting later lets
/// the caller sum a series with its leading terms taken out analytically
/// (see `BgNbd::alive_purchases`).
///
/// Convergence check: stopping when a term is merely small is not safe, since
/// the terms can grow for a long while before they fall (they behave like
/// k^s·z^k with s = a+b−c−1) and can pass through tiny values where a+k is
/// near 0. So the loop stops only when it can bound the whole remaining tail,
/// Σ_{j>k} |t_j| ≤ |t_k|·q/(1−q), below `SERIES_EPS`·|sum|, with q ≥ every
/// later ratio. Once every factor (a+k), (b+k), (c+k) is positive:
/// * each of (a+j)/(j+1), (b+j)/(c+j), (a+j)/(c+j), (b+j)/(j+1) is monotone
///   in j, so its supremum over j ≥ k is the larger of its value at k and its
///   limit 1, and q = z·min(sup·sup over either pairing) is a bound;
/// * when s ≤ 0, ratio ≤ z at step k holds at every later step too (the
///   condition reduces to k·s ≤ c − ab), so q = z.
pub(crate) fn hyper_sum(
    first: f64,
    k0: usize,
    a: f64,
    b: f64,
    c: f64,
    z: f64,
    max_terms: usize,
) -> Option<f64> {
    if !(0.0..1.0).contains(&z) || !first.is_finite() || !(a + b + c).is_finite() {
        return None;
    }
    if first == 0.0 || z == 0.0 {
        return Some(first);
    }
    let s = a + b - c - 1.0;
    let k_safe = (-a).max(-b).max(-c).max(0.0).ceil() + 1.0;
    let mut k = k0 as f64;
    let mut term = first;
    let mut sum = first;
    for _ in 0..max_terms {
        // t_{k+1} / t_k
        let ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        if k >= k_safe {
            let q = if s <= 0.0 && ratio <= z {
                z
            } else {
                let sup = |num: f64, den: f64| ((num + k) / (den + k)).max(1.0);
                z * (sup(a, 1.0) * sup(b, c)).min(sup(a, c) * sup(b, 1.0))
            };
            // Σ_{j>k} |t_j| ≤ |t_k|·(q + q² + …)
            if q < 1.0 && term.abs() * q / (1.0 - q) <= SERIES_EPS * sum.abs() {
                return Some(sum);
            }
        }
        term *= ratio;
        if !term.is_finite() {
            return None;
        }
        if term == 0.0 {
            // a or b is a non-positive integer: the series has ended.
            return Some(sum);
        }
        sum += term;
        k += 1.0;
    }
    None
}

/// ln(1 + eˣ) without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// ∫₀¹ g(p)·p^(α−1)·(1−p)^(β−1) dp / B(α, β) — an expectation under a
/// Beta(α, β) — by tanh-sinh (double exponential) quadrature.
///
/// `g` must be bounded on [0, 1]. Tanh-sinh nodes crowd doubly-exponentially
/// towards the ends of the interval, which handles a Beta weight that is
/// singular at an end (α or β < 1); the mass beyond the outermost nodes (only
/// relevant for α or β far below 1) is added in closed form, taking g
/// constant there. A Beta with both α, β > 1 has an interior peak, which can
/// be very narrow (α, β in the thousands): the interval is then split at the
/// mode, so that the peak sits where the nodes are densest. The result is
/// normalised by the quadrature of the weight itself, and the levels are
/// refined until two agree to 1e-11 relative.
pub(crate) fn beta_expectation(alpha: f64, beta: f64, g: impl Fn(f64) -> f64) -> f64 {
    const T_MAX: f64 = 6.5;
    let ln_b = ln_beta(alpha, beta);
    let pieces: &[(f64, f64)] = if alpha > 1.0 && beta > 1.0 {
        let mode = (alpha - 1.0) / (alpha + beta - 2.0);
        &[(0.0, mode), (mode, 1.0)]
    } else {
        &[(0.0, 1.0)]
    };
    // Node at τ on [lo, hi]: ξ = 1/(1+e^(−2s)), s = (π/2)·sinh τ,
    // p = lo + w·ξ, 1 − p = (1 − hi) + w·(1 − ξ), dp/dτ = w·π·cosh τ·ξ(1−ξ).
    // Returns (weight, weight·g) at the node.
    let node = |lo: f64, hi: f64, tau: f64| -> (f64, f64) {
        let w = hi - lo;
        let s = std::f64::consts::FRAC_PI_2 * tau.sinh();
        let ln_xi = -softplus(-2.0 * s);
        let ln_eta = -softplus(2.0 * s);
        let (ln_p, ln_q) = if lo == 0.0 && hi == 1.0 {
            (ln_xi, ln_eta)
        } else {
            (
                (lo + w * ln_xi.exp()).ln(),
                ((1.0 - hi) + w * ln_eta.exp()).ln(),
            )
        };
        let ln_weight = (alpha - 1.0) * ln_p + (beta - 1.0) * ln_q + ln_xi + ln_eta + w.ln() - ln_b
            + (std::f64::consts::PI * tau.cosh()).ln();
        let weight = ln_weight.exp();
        if weight == 0.0 || !weight.is_finite() {
            return (0.0, 0.0);
        }
        (weight, weight * g(ln_p.exp()))
    };
    // Mass of Beta(α, β) below the first node ≈ p_min^α / (α·B), and above
    // the last one (whole-interval case only; split pieces have α, β > 1).
    let mut tails = (0.0, 0.0);
    if pieces.len() == 1 {
        let s_max = std::f64::consts::FRAC_PI_2 * T_MAX.sinh();
        let ln_edge = -softplus(2.0 * s_max);
        let low = (alpha * ln_edge - ln_b).exp() / alpha;
        let high = (beta * ln_edge - ln_b).exp() / beta;
        tails = (low + high, g(0.0) * low + g(1.0) * high);
    }
    let mut sums = (0.0, 0.0);
    let add = |sums: &mut (f64, f64), tau: f64| {
        for &(lo, hi) in pieces {
            let (w, wg) = node(lo, hi, tau);
            sums.0 += w;
            sums.1 += wg;
        }
    };
    let mut h = 0.5;
    add(&mut sums, 0.0);
    let mut j = 1;
    while (j as f64) * h <= T_MAX {
        add(&mut sums, j as f64 * h);
        add(&mut sums, -(j as f64) * h);
        j += 1;
    }
    let estimate = |sums: (f64, f64), h: f64| (sums.1 * h + tails.1) / (sums.0 * h + tails.0);
    let mut value = estimate(sums, h);
    for level in 0..9 {
        h *= 0.5;
        let mut j = 1;
        while (j as f64) * h <= T_MAX {
            add(&mut sums, j as f64 * h);
            add(&mut sums, -(j as f64) * h);
            j += 2;
        }
        let refined = estimate(sums, h);
        let close = (refined - value).abs() <= 1e-11 * refined.abs();
        value = refined;
        if level >= 2 && close {
            break;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    #[test]
    fn ln_gamma_and_digamma_match_known_values() {
        let pi = std::f64::consts::PI;
        assert!(close(ln_gamma(1.0), 0.0, 1e-14));
        assert!(close(ln_gamma(2.0), 0.0, 1e-14));
        assert!(close(ln_gamma(0.5), 0.5 * pi.ln(), 1e-14));
        assert!(close(ln_gamma(10.0), 362_880f64.ln(), 1e-14));
        assert!(close(ln_gamma(3.7), 1.428_072_326_665_388, 1e-13));
        assert!(close(ln_gamma(1e-8), 18.420_680_738_180_21, 1e-13));
        assert!(close(ln_gamma(171.5), 709.143_163_030_928_3, 1e-14));
        let euler = 0.577_215_664_901_532_9;
        assert!(close(digamma(1.0), -euler, 1e-14));
        assert!(close(digamma(0.5), -euler - 2.0 * 2f64.ln(), 1e-14));
        assert!(close(digamma(10.0), 2.251_752_589_066_721, 1e-14));
        assert!(close(digamma(1e-6), -1_000_000.577_214_02, 1e-14));
        // ψ is the derivative of ln Γ.
        for x in [0.03, 0.7, 2.5, 9.9, 10.1, 57.0] {
            let h = 1e-5 * x;
            let numeric = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!(close(digamma(x), numeric, 1e-7), "x = {x}");
        }
        assert!(ln_gamma(0.0).is_nan() && digamma(-1.0).is_nan());
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        for z in [0.0f64, 0.1, 0.5, 0.9, 0.99] {
            // ₂F₁(1, 1; 2; z) = −ln(1−z)/z
            let expect = if z == 0.0 { 1.0 } else { -(-z).ln_1p() / z };
            assert!(close(
                hyp2f1(1.0, 1.0, 2.0, z, 100_000).unwrap(),
                expect,
                1e-13
            ));
            // ₂F₁(a, b; b; z) = (1−z)^−a
            let expect = (1.0 - z).powf(-0.37);
            assert!(close(
                hyp2f1(0.37, 2.5, 2.5, z, 100_000).unwrap(),
                expect,
                1e-13
            ));
            // ₂F₁(½, ½; 3/2; z²) = arcsin(z)/z
            let x = z.sqrt();
            let expect = if z == 0.0 { 1.0 } else { x.asin() / x };
            assert!(close(
                hyp2f1(0.5, 0.5, 1.5, z, 100_000).unwrap(),
                expect,
                1e-13
            ));
        }
        // Terminating series: ₂F₁(−2, b; c; z) is a quadratic.
        let (b, c, z) = (1.5, 2.5, 0.3);
        let expect = 1.0 - 2.0 * b * z / c + b * (b + 1.0) * z * z / (c * (c + 1.0));
        assert!(close(hyp2f1(-2.0, b, c, z, 10).unwrap(), expect, 1e-15));
        // Out of range or too slow: no answer rather than a wrong one.
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0, 1000).is_none());
        assert!(hyp2f1(1.0, 1.0, 2.0, 0.999_999, 1000).is_none());
        assert!(hyp2f1(1.0, 1.0, -1.0, 0.5, 1000).is_none());
    }

    #[test]
    fn beta_expectation_integrates_moments() {
        // E[p] = α/(α+β), E[p²] = α(α+1)/((α+β)(α+β+1)), also with singular
        // ends and a very concentrated Beta.
        for (al, be) in [
            (0.3, 0.4),
            (0.79, 2.43),
            (2.0, 5.0),
            (0.05, 1e5),
            (1.0, 1.0),
        ] {
            let m1 = beta_expectation(al, be, |p| p);
            let m2 = beta_expectation(al, be, |p| p * p);
            let one = beta_expectation(al, be, |_| 1.0);
            assert!(close(one, 1.0, 1e-9), "{al} {be}: {one}");
            assert!(close(m1, al / (al + be), 1e-9), "{al} {be}: {m1}");
            let e2 = al * (al + 1.0) / ((al + be) * (al + be + 1.0));
            assert!((m2 - e2).abs() <= 1e-9 * e2, "{al} {be}: {m2} vs {e2}");
        }
    }
}
