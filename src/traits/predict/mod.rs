//! BG/NBD and Gamma-Gamma: predicted purchases, probability alive and CLV.
//!
//! Pure functions over per-customer [`Summary`] values: nothing here reads a
//! database or the clock; "today" and horizons are passed in.
//!
//! * [`BgNbd`] — the beta-geometric/negative-binomial purchase model of Fader,
//!   Hardie & Lee (2005), "Counting your customers the easy way", fitted by
//!   maximum likelihood: purchases while alive, P(alive), expected purchases.
//! * [`GammaGamma`] — the spend model of Fader, Hardie & Lee (2005), "RFM and
//!   CLV: using iso-value curves", fitted on repeat customers: expected order
//!   value.
//! * [`clv`] / [`predict`] / [`predict_all`] — CLV as in `lifetimes`'
//!   `customer_lifetime_value`: month-by-month expected purchases × expected
//!   order value, discounted monthly.
//! * [`simulate`] — customers drawn from known parameters (tests, benches).
//!
//! Time unit: the models work in whatever unit the summaries are in (the fit
//! of α, and the `t` of predictions, use that unit). Cohort builds summaries
//! in whole days ([`Summary::from_purchases`]); [`Summary::in_time_unit`]
//! converts, e.g. to weeks to compare with published results.
//!
//! Fitting speed: customers with identical (x, t_x, T) are one weighted group
//! (whole days make these few), ln(α + t) is computed once per distinct time,
//! the likelihood and its analytic gradient are summed in parallel blocks, and
//! a BFGS minimiser works on log-parameters.

mod optimize;
mod simulate;
mod special;

pub use simulate::simulate;
pub use special::hyp2f1;

use rayon::prelude::*;
use special::{beta_expectation, digamma, hyper_sum, ln_gamma};

/// Plain-language explanation of the models, shown in the app's Insights.
pub const MODEL_NOTES: &str = "\
How Cohort predicts purchases, churn and customer value

Cohort fits two standard \"buy till you die\" models (Fader, Hardie & Lee, 2005) \
to your own order history. They suit shops where customers can come back at any \
time and never tell you that they have left (no subscriptions or cancellations), \
so whether someone is still a customer has to be judged from their silence.

Purchases (BG/NBD model). While a customer is active, they buy at their own \
steady but random pace: on average so many orders a month, not on a fixed \
schedule. After any repeat purchase they may stop for good, with their own \
chance of dropping out. Paces and drop-out chances differ from customer to \
customer, and the model learns how they are spread across your customers. Only \
three facts per customer are used: how many repeat purchases they made, when \
the last one was and how long ago they first bought. Orders on the same day \
count as one purchase.

P(alive) is the probability that a customer is still active. It falls when a \
customer who used to buy often has been silent for much longer than their usual \
gap. Customers who have bought only once count as alive (P(alive) = 100%), \
because the model lets people drop out only after a repeat purchase: read their \
figures with care. Churn risk is 1 - P(alive).

Expected purchases is the number of orders we expect from a customer over the \
chosen period, already allowing for the chance that they have left.

Spend (Gamma-Gamma model). Each customer has their own typical order value and \
their orders vary around it. The model assumes that how much someone spends per \
order does not depend on how often they buy. The expected order value blends a \
customer's own average with the average across customers: the more repeat \
orders they have made, the more their own history counts. Customers without \
repeat orders get the overall average.

Customer lifetime value (CLV) is the expected purchases month by month over the \
chosen period times the expected order value, discounted by a monthly rate so \
that money further ahead counts a little less. It forecasts future revenue (not \
profit) and leaves out past orders.

Time is measured in days; the months of CLV are 30 days. The models need enough \
history: at least 20 customers, some of whom have bought more than once. They \
describe groups better than any one person, and cannot foresee changes such as \
campaigns, new prices or seasonal peaks.";

/// Fewest customers a fit accepts.
pub const MIN_CUSTOMERS: usize = 20;
/// Fewest repeat customers (x > 0; for Gamma-Gamma also with a positive
/// spend) a fit accepts.
pub const MIN_REPEAT_CUSTOMERS: usize = 10;

/// Log-parameters beyond ±THETA_LIMIT are outside the search box (e^30 ≈
/// 10¹³); a fit ending beyond ±THETA_DEGENERATE (e^20 ≈ 5·10⁸), or beyond
/// ±THETA_RUNAWAY (e^12 ≈ 1.6·10⁵) without having settled, has a parameter
/// running off to 0 or ∞, which the data does not pin down.
const THETA_LIMIT: f64 = 30.0;
const THETA_DEGENERATE: f64 = 20.0;
const THETA_RUNAWAY: f64 = 12.0;
/// A fit is accepted when the largest gradient of the mean log-likelihood
/// with respect to the log-parameters is below this.
const GRADIENT_ACCEPT: f64 = 1e-5;
/// Groups per parallel block of the likelihood.
const CHUNK: usize = 16_384;
/// Terms the ₂F₁ series may take before the quadrature takes over.
const SERIES_TERMS: usize = 20_000;

/// What the models know of a customer.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// x: number of repeat purchases (purchase days after the first).
    pub frequency: f64,
    /// t_x: time from the first to the last purchase (0 when x = 0).
    pub recency: f64,
    /// T: time from the first purchase to "today".
    pub age: f64,
    /// Mean value of the repeat purchases in major currency units (the first
    /// purchase excluded; 0 when x = 0).
    pub monetary: f64,
}

impl Summary {
    /// Builds a summary, in days, from a customer's purchases as
    /// `(day number, value)` pairs (any day numbering, e.g. days since
    /// 1970-01-01), with `today` the day number of the end of observation.
    ///
    /// As in `lifetimes`: purchases after `today` are ignored, purchases on
    /// the same day count as one purchase whose value is their sum, and the
    /// monetary value is the mean over the repeat purchase days. Non-finite
    /// values count as 0. The input should be sorted by day (it is sorted
    /// here when it is not). `None` when no purchase is on or before `today`.
    pub fn from_purchases(purchases: &[(i64, f64)], today: i64) -> Option<Summary> {
        let sorted;
        let purchases = if purchases.is_sorted_by_key(|p| p.0) {
            purchases
        } else {
            let mut copy = purchases.to_vec();
            copy.sort_by_key(|p| p.0);
            sorted = copy;
            &sorted[..]
        };
        let mut first = None;
        let mut last = i64::MIN;
        let mut days = 0u64;
        let mut repeat_value = 0.0;
        for &(day, value) in purchases.iter().take_while(|p| p.0 <= today) {
            let value = if value.is_finite() { value } else { 0.0 };
            first.get_or_insert(day);
            if day != last {
                days += 1;
                last = day;
            }
            if days > 1 {
                repeat_value += value;
            }
        }
        let first = first?;
        let x = days - 1;
        Some(Summary {
            frequency: x as f64,
            recency: (last - first) as f64,
            age: (today - first) as f64,
            monetary: if x > 0 { repeat_value / x as f64 } else { 0.0 },
        })
    }

    /// The same summary with times divided by `days_per_unit` (7 for weeks).
    pub fn in_time_unit(self, days_per_unit: f64) -> Summary {
        Summary {
            recency: self.recency / days_per_unit,
            age: self.age / days_per_unit,
            ..self
        }
    }
}

/// Why a model could not be fitted or built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("too few customers to fit the model: {got}, it needs at least {needed}")]
    TooFewCustomers { needed: usize, got: usize },
    #[error(
        "too few repeat customers to fit the model: {got} bought more than once \
         (with a positive spend, for the spend model), it needs at least {needed}"
    )]
    TooFewRepeatCustomers { needed: usize, got: usize },
    #[error("customer {index} has an invalid summary: {reason}")]
    InvalidSummary { index: usize, reason: &'static str },
    #[error("invalid model parameter {name} = {value}: {reason}")]
    InvalidParameter {
        name: &'static str,
        value: f64,
        reason: &'static str,
    },
    #[error(
        "the fit did not converge after {iterations} iterations (largest gradient {gradient:e})"
    )]
    NoConvergence { iterations: usize, gradient: f64 },
    #[error("the data does not determine the model: {0}")]
    Degenerate(String),
}

/// How a fit went.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitReport {
    /// Customers the model was fitted on.
    pub customers: usize,
    /// Distinct weighted groups the likelihood was evaluated over.
    pub groups: usize,
    /// Total log-likelihood at the optimum (same convention as the papers:
    /// no terms that do not depend on the parameters are dropped or added).
    pub log_likelihood: f64,
    pub iterations: usize,
    /// Likelihood evaluations (each with its gradient).
    pub evaluations: usize,
    /// Whether the strict gradient tolerance was reached; a fit that stopped
    /// slightly short of it (but within the acceptance tolerance) is `false`.
    pub converged: bool,
    /// Asymptotic standard errors of the parameters, in the model's parameter
    /// order (r, α, a, b or p, q, v), from the inverse Hessian of the
    /// log-likelihood (delta method from the log-parameters).
    pub standard_errors: Vec<f64>,
}

/// A fitted model and how the fit went.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted<M> {
    pub model: M,
    pub report: FitReport,
}

fn check_parameter(name: &'static str, value: f64) -> Result<f64, FitError> {
    if value.is_finite() && value > 0.0 && (1.0 / value).is_finite() {
        Ok(value)
    } else {
        Err(FitError::InvalidParameter {
            name,
            value,
            reason: "must be a finite number above 0",
        })
    }
}

/// Sanitised (x, t_x, T) for predictions: x a whole number ≥ 0, 0 ≤ t_x ≤ T.
fn clean(s: &Summary) -> (f64, f64, f64) {
    let finite_or_0 = |v: f64| if v.is_finite() { v.max(0.0) } else { 0.0 };
    let x = finite_or_0(s.frequency).round();
    let age = finite_or_0(s.age);
    let recency = if x > 0.0 {
        finite_or_0(s.recency).min(age)
    } else {
        0.0
    };
    (x, recency, age)
}

// ---------------------------------------------------------------------------
// BG/NBD
// ---------------------------------------------------------------------------

/// BG/NBD purchase model. λ ~ Gamma(r, α) is a customer's purchase rate while
/// alive (α in the summaries' time unit), p ~ Beta(a, b) their chance of
/// dropping out after each repeat purchase.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BgNbd {
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
}

impl BgNbd {
    /// A model with known parameters (each finite and > 0).
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<BgNbd, FitError> {
        Ok(BgNbd {
            r: check_parameter("r", r)?,
            alpha: check_parameter("alpha", alpha)?,
            a: check_parameter("a", a)?,
            b: check_parameter("b", b)?,
        })
    }

    pub fn r(&self) -> f64 {
        self.r
    }
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    pub fn a(&self) -> f64 {
        self.a
    }
    pub fn b(&self) -> f64 {
        self.b
    }

    /// Maximum-likelihood fit. Summaries must have a whole-number frequency
    /// ≥ 0 and 0 ≤ recency ≤ age (recency is ignored when frequency is 0).
    pub fn fit(customers: &[Summary]) -> Result<Fitted<BgNbd>, FitError> {
        let data = BgData::new(customers)?;
        if data.customers < MIN_CUSTOMERS {
            return Err(FitError::TooFewCustomers {
                needed: MIN_CUSTOMERS,
                got: data.customers,
            });
        }
        if data.repeaters < MIN_REPEAT_CUSTOMERS {
            return Err(FitError::TooFewRepeatCustomers {
                needed: MIN_REPEAT_CUSTOMERS,
                got: data.repeaters,
            });
        }
        // Starting points: the crude purchase rate Σx / ΣT sets α = r / rate;
        // a = b = 1 is a uniform prior on the drop-out chance.
        let rate = (data.sum_x / data.sum_age.max(f64::MIN_POSITIVE)).max(1e-12);
        let starts = [
            [1.0, 1.0 / rate, 1.0, 1.0],
            [0.3, 0.3 / rate, 0.7, 2.5],
            [3.0, 3.0 / rate, 2.0, 5.0],
        ];
        let objective = |theta: &[f64], grad: &mut [f64]| data.objective(theta, grad);
        let best = fit_from(&starts, objective);
        let [r, alpha, a, b] = [0, 1, 2, 3].map(|i| best.theta[i].exp());
        check_fit(&best, &["r", "alpha", "a", "b"])?;
        let standard_errors = standard_errors(objective, &best.theta, data.customers as f64)?;
        Ok(Fitted {
            model: BgNbd::new(r, alpha, a, b)?,
            report: FitReport {
                customers: data.customers,
                groups: data.groups.len(),
                log_likelihood: -best.value * data.customers as f64,
                iterations: best.iterations,
                evaluations: best.evaluations,
                converged: best.converged,
                standard_errors,
            },
        })
    }

    /// Log-likelihood of one customer (Fader, Hardie & Lee 2005, eq. 6).
    pub fn customer_log_likelihood(&self, s: &Summary) -> f64 {
        let (x, tx, age) = clean(s);
        let BgNbd { r, alpha, a, b } = *self;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
        let a3 = -(r + x) * (alpha + age).ln();
        if x > 0.0 {
            let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + tx).ln();
            a1 + a2 + log_add_exp(a3, a4)
        } else {
            a1 + a2 + a3
        }
    }

    /// Total log-likelihood of the customers (summaries are sanitised as for
    /// predictions).
    pub fn log_likelihood(&self, customers: &[Summary]) -> f64 {
        customers
            .par_iter()
            .with_min_len(4096)
            .map(|s| self.customer_log_likelihood(s))
            .sum()
    }

    /// Probability that the customer is still alive at T:
    /// 1 / (1 + [x > 0]·a/(b+x−1)·((α+T)/(α+t_x))^(r+x)). Exactly 1 when
    /// x = 0: BG/NBD customers only drop out right after a repeat purchase.
    pub fn p_alive(&self, s: &Summary) -> f64 {
        let (x, tx, age) = clean(s);
        self.p_alive_clean(x, tx, age)
    }

    fn p_alive_clean(&self, x: f64, tx: f64, age: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let ln_odds =
            a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + age).ln() - (alpha + tx).ln());
        1.0 / (1.0 + ln_odds.exp())
    }

    /// Churn risk, 1 − P(alive).
    pub fn churn(&self, s: &Summary) -> f64 {
        let (x, tx, age) = clean(s);
        if x == 0.0 {
            return 0.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let ln_odds =
            a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + age).ln() - (alpha + tx).ln());
        1.0 / (1.0 + (-ln_odds).exp())
    }

    /// Expected number of purchases in the next `t` time units (after T) of a
    /// customer with this history: E[Y(t) | x, t_x, T] (eq. 10 of the paper).
    /// 0 for t ≤ 0 or NaN; increasing in t.
    pub fn expected_purchases(&self, t: f64, s: &Summary) -> f64 {
        let (x, tx, age) = clean(s);
        if t.is_nan() || t <= 0.0 {
            return 0.0;
        }
        self.p_alive_clean(x, tx, age) * self.alive_purchases(x, self.alpha + age, t)
    }

    /// Expected repeat purchases of a new customer in their first `t` time
    /// units: E[X(t)] (eq. 9 of the paper).
    pub fn population_expected_purchases(&self, t: f64) -> f64 {
        if t.is_nan() || t <= 0.0 {
            return 0.0;
        }
        self.alive_purchases(0.0, self.alpha, t)
    }

    /// Expected purchases in the next t of a customer known to be alive, with
    /// x repeat purchases so far and u = α + T: with the posterior
    /// λ ~ Gamma(r+x, u), p ~ Beta(a, b+x),
    ///
    ///   M = E_p[(1 − (u/(u+p·t))^(r+x)) / p]
    ///     = C/(a−1)·[1 − (1−z)^n·₂F₁(n, b+x; C; z)],
    ///
    /// n = r+x, C = a+b+x−1, z = t/(u+t), 1−z = u/(u+t). The terms of this
    /// series behave like k^(r+x−a)·z^k: fine when a > r+x, but for customers
    /// with many purchases they grow for a long while first, overflow, and the
    /// bracket cancels. There, Euler's transformation
    /// ₂F₁(A₀,B₀;C;z) = (1−z)^(C−A₀−B₀)·₂F₁(C−A₀, C−B₀; C; z) turns the bracket
    /// into 1 − (1−z)^B·F with F = ₂F₁(A, B; C; z), A = a+b−1−r, B = a−1,
    /// whose terms behave like k^(a−r−x−2)·z^k. So the form is picked by the
    /// sign of those exponents: untransformed when a > r+x+2, Euler otherwise,
    /// and the series always falls off from the start.
    ///
    /// In both, the k = 0 term is taken out analytically so that nothing
    /// cancels for short horizons or a → 1. With F = 1 + B·G (G the series
    /// from k = 1 with (B)_k/B in place of (B)_k):
    ///
    ///   Euler:         M = C·[−expm1(B·ln(1−z))/B − (1−z)^B·G]
    ///   untransformed: M = C/(a−1)·[−expm1(n·ln(1−z)) − (1−z)^n·H],
    ///
    /// H = ₂F₁(n, b+x; C; z) − 1; the Euler form stays exact as a → 1
    /// (B → 0), where the textbook form is 0/0.
    ///
    /// When the series would need more than SERIES_TERMS terms (z very near
    /// 1: a horizon thousands of times α + T) or misbehaves, the expectation
    /// over p is integrated numerically instead.
    fn alive_purchases(&self, x: f64, u: f64, t: f64) -> f64 {
        let BgNbd { r, a, b, .. } = *self;
        let n = r + x;
        let c = a + b + x - 1.0;
        if t.is_infinite() {
            // Lifetime purchases: finite only when E[1/p] is (a > 1).
            return if a > 1.0 {
                c / (a - 1.0)
            } else {
                f64::INFINITY
            };
        }
        let ratio = t / u;
        let z = t / (u + t);
        let ln_1mz = -ratio.ln_1p();
        let series = if a > n + 2.0 {
            let bx = b + x;
            hyper_sum(n * bx * z / c, 1, n, bx, c, z, SERIES_TERMS)
                .map(|h| c / (a - 1.0) * (-(n * ln_1mz).exp_m1() - (n * ln_1mz).exp() * h))
        } else if c != 0.0 {
            let big_a = a + b - 1.0 - r;
            let big_b = a - 1.0;
            hyper_sum(big_a * z / c, 1, big_a, big_b, c, z, SERIES_TERMS).map(|g| {
                let first = if big_b == 0.0 {
                    -ln_1mz
                } else {
                    -(big_b * ln_1mz).exp_m1() / big_b
                };
                c * (first - (big_b * ln_1mz).exp() * g)
            })
        } else {
            None
        };
        // 0 ≤ M ≤ n·t/u (the integrand is at most n·t/u).
        if let Some(m) = series {
            if m.is_finite() && m >= 0.0 && m <= n * ratio * (1.0 + 1e-9) {
                return m;
            }
        }
        beta_expectation(a, b + x, |p| {
            if p == 0.0 {
                n * ratio
            } else {
                -(-n * (p * ratio).ln_1p()).exp_m1() / p
            }
        })
    }

    /// Σ over months i = 1..=months of (E[purchases by month i] − E[by month
    /// i−1]) / (1 + rate)^i: expected purchases over the CLV horizon,
    /// discounted. Rates ≤ −100% (or NaN) count as 0.
    pub fn discounted_purchases(&self, s: &Summary, options: &ClvOptions) -> f64 {
        let (x, tx, age) = clean(s);
        let alive = self.p_alive_clean(x, tx, age);
        self.discounted_clean(x, age, alive, options)
    }

    fn discounted_clean(&self, x: f64, age: f64, alive: f64, options: &ClvOptions) -> f64 {
        let rate = if options.monthly_discount_rate > -1.0 {
            options.monthly_discount_rate
        } else {
            0.0
        };
        let step = if options.units_per_month > 0.0 {
            options.units_per_month
        } else {
            0.0
        };
        let u = self.alpha + age;
        let mut previous = 0.0;
        let mut total = 0.0;
        let mut discount = 1.0;
        for month in 1..=options.months {
            let expected = self.alive_purchases(x, u, step * f64::from(month));
            discount /= 1.0 + rate;
            total += (expected - previous) * discount;
            previous = expected;
        }
        alive * total
    }
}

/// ln(eᵃ + eᵇ).
fn log_add_exp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    m + (-(a - b).abs()).exp().ln_1p()
}

/// Customers grouped by identical (x, t_x, T), with the distinct x values and
/// distinct times indexed so that the per-evaluation work is a table lookup.
struct BgData {
    xs: Vec<f64>,
    x_weights: Vec<f64>,
    times: Vec<f64>,
    groups: Vec<BgGroup>,
    customers: usize,
    repeaters: usize,
    sum_x: f64,
    sum_age: f64,
}

#[derive(Clone, Copy)]
struct BgGroup {
    x: u32,
    tx: u32,
    age: u32,
    weight: f64,
}

/// Sort key of a summary: (x, t_x bits, T bits); non-negative floats order
/// like their bits. `Err` explains an invalid summary.
fn bg_key(s: &Summary) -> Result<(u64, u64, u64), &'static str> {
    let x = s.frequency;
    if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0) {
        return Err("frequency must be a whole number of at least 0");
    }
    if x > f64::from(u32::MAX) {
        return Err("frequency is too large");
    }
    if !(s.age.is_finite() && s.age >= 0.0) {
        return Err("age must be a finite number of at least 0");
    }
    if x == 0.0 {
        return Ok((0, 0f64.to_bits(), (s.age + 0.0).to_bits()));
    }
    if !(s.recency.is_finite() && s.recency >= 0.0) {
        return Err("recency must be a finite number of at least 0");
    }
    // Allow rounding noise from unit conversions.
    if s.recency > s.age * (1.0 + 1e-12) {
        return Err("recency (time of the last purchase) is larger than age");
    }
    let tx = s.recency.min(s.age) + 0.0;
    Ok((x as u64, tx.to_bits(), (s.age + 0.0).to_bits()))
}

/// Sorted keys, or the first invalid summary.
fn sorted_keys<K: Ord + Send + Copy>(
    customers: &[Summary],
    key: impl Fn(&Summary) -> Result<K, &'static str> + Sync,
) -> Result<Vec<K>, FitError> {
    let keys: Vec<Option<K>> = customers
        .par_iter()
        .with_min_len(4096)
        .map(|s| key(s).ok())
        .collect();
    if let Some(index) = keys.iter().position(Option::is_none) {
        let reason = key(&customers[index]).err().unwrap_or("invalid");
        return Err(FitError::InvalidSummary { index, reason });
    }
    let mut keys: Vec<K> = keys.into_iter().flatten().collect();
    keys.par_sort_unstable();
    Ok(keys)
}

impl BgData {
    fn new(customers: &[Summary]) -> Result<BgData, FitError> {
        let keys = sorted_keys(customers, bg_key)?;
        let mut runs: Vec<((u64, u64, u64), f64)> = Vec::new();
        for key in keys {
            match runs.last_mut() {
                Some((k, w)) if *k == key => *w += 1.0,
                _ => runs.push((key, 1.0)),
            }
        }
        let mut times: Vec<u64> = runs.iter().flat_map(|((_, tx, t), _)| [*tx, *t]).collect();
        times.par_sort_unstable();
        times.dedup();
        let index = |bits: u64| times.binary_search(&bits).unwrap_or(0) as u32;
        let mut xs: Vec<f64> = Vec::new();
        let mut x_weights: Vec<f64> = Vec::new();
        let mut groups = Vec::with_capacity(runs.len());
        let (mut repeaters, mut sum_x, mut sum_age) = (0.0, 0.0, 0.0);
        for &((x, tx, t), weight) in &runs {
            let x = x as f64;
            if xs.last() != Some(&x) {
                xs.push(x);
                x_weights.push(0.0);
            }
            *x_weights.last_mut().expect("pushed above") += weight;
            if x > 0.0 {
                repeaters += weight;
            }
            sum_x += weight * x;
            sum_age += weight * f64::from_bits(t);
            groups.push(BgGroup {
                x: (xs.len() - 1) as u32,
                tx: index(tx),
                age: index(t),
                weight,
            });
        }
        Ok(BgData {
            xs,
            x_weights,
            times: times.into_iter().map(f64::from_bits).collect(),
            groups,
            customers: customers.len(),
            repeaters: repeaters as usize,
            sum_x,
            sum_age,
        })
    }

    /// Mean negative log-likelihood at θ = ln(r, α, a, b) and its gradient
    /// with respect to θ (derivatives of eq. 6 of the paper; see the comments
    /// for each term).
    fn objective(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        if theta.iter().any(|t| t.is_nan() || t.abs() > THETA_LIMIT) {
            return f64::INFINITY;
        }
        let [r, alpha, a, b] = [0, 1, 2, 3].map(|i| theta[i].exp());
        let ln_alpha = alpha.ln();
        let ln_a = a.ln();
        let (lg_r, lg_b, lg_ab) = (ln_gamma(r), ln_gamma(b), ln_gamma(a + b));
        let (dg_r, dg_b, dg_ab) = (digamma(r), digamma(b), digamma(a + b));
        // Per distinct x: A1 + A2 (terms without t_x or T), ln a − ln(b+x−1)
        // and 1/(b+x−1), and the x-only parts of the gradient, weighted.
        let mut ll = 0.0;
        let (mut d_r, mut d_alpha, mut d_a, mut d_b) = (0.0, 0.0, 0.0, 0.0);
        let mut constant = Vec::with_capacity(self.xs.len());
        let mut c4 = Vec::with_capacity(self.xs.len());
        let mut inv_b = Vec::with_capacity(self.xs.len());
        for (&x, &w) in self.xs.iter().zip(&self.x_weights) {
            let c = ln_gamma(r + x) - lg_r + r * ln_alpha + lg_ab + ln_gamma(b + x)
                - lg_b
                - ln_gamma(a + b + x);
            constant.push(c);
            ll += w * c;
            let dg_abx = digamma(a + b + x);
            d_r += w * (digamma(r + x) - dg_r + ln_alpha);
            d_alpha += w * r / alpha;
            d_a += w * (dg_ab - dg_abx);
            d_b += w * (dg_ab - dg_abx + digamma(b + x) - dg_b);
            if x > 0.0 {
                c4.push(ln_a - (b + x - 1.0).ln());
                inv_b.push(1.0 / (b + x - 1.0));
            } else {
                c4.push(0.0);
                inv_b.push(0.0);
            }
        }
        let ln_times: Vec<f64> = self.times.iter().map(|t| (alpha + t).ln()).collect();
        let inv_times: Vec<f64> = self.times.iter().map(|t| 1.0 / (alpha + t)).collect();
        // Per group: A3 = −(r+x)·ln(α+T), A4 = ln a − ln(b+x−1) − (r+x)·ln(α+t_x);
        // ln L = A1 + A2 + ln(e^A3 + [x>0]·e^A4). With w3, w4 the shares of
        // e^A3 and e^A4 in that sum, the derivatives are
        //   ∂/∂r = … − w3·ln(α+T) − w4·ln(α+t_x)
        //   ∂/∂α = … − (r+x)·(w3/(α+T) + w4/(α+t_x))
        //   ∂/∂a = … + w4/a,   ∂/∂b = … − w4/(b+x−1).
        let sums = |chunk: &[BgGroup]| -> [f64; 5] {
            let mut s = [0.0; 5];
            for g in chunk {
                let x = self.xs[g.x as usize];
                let n = r + x;
                let lt = ln_times[g.age as usize];
                let it = inv_times[g.age as usize];
                let a3 = -n * lt;
                let (part, w4) = if x > 0.0 {
                    let a4 = c4[g.x as usize] - n * ln_times[g.tx as usize];
                    let d = a4 - a3;
                    let e = (-d.abs()).exp();
                    let w4 = if d > 0.0 {
                        1.0 / (1.0 + e)
                    } else {
                        e / (1.0 + e)
                    };
                    (a3.max(a4) + e.ln_1p(), w4)
                } else {
                    (a3, 0.0)
                };
                let w3 = 1.0 - w4;
                let w = g.weight;
                s[0] += w * part;
                if w4 > 0.0 {
                    let ltx = ln_times[g.tx as usize];
                    let itx = inv_times[g.tx as usize];
                    s[1] += w * (w3 * lt + w4 * ltx);
                    s[2] += w * n * (w3 * it + w4 * itx);
                    s[3] += w * w4;
                    s[4] += w * w4 * inv_b[g.x as usize];
                } else {
                    s[1] += w * lt;
                    s[2] += w * n * it;
                }
            }
            s
        };
        let parts: Vec<[f64; 5]> = if self.groups.len() <= CHUNK {
            vec![sums(&self.groups)]
        } else {
            self.groups.par_chunks(CHUNK).map(sums).collect()
        };
        let mut s = [0.0; 5];
        for p in &parts {
            for (acc, v) in s.iter_mut().zip(p) {
                *acc += v;
            }
        }
        ll += s[0];
        d_r -= s[1];
        d_alpha -= s[2];
        d_a += s[3] / a;
        d_b -= s[4];
        let n = self.customers as f64;
        grad[0] = -d_r * r / n;
        grad[1] = -d_alpha * alpha / n;
        grad[2] = -d_a * a / n;
        grad[3] = -d_b * b / n;
        -ll / n
    }
}

/// Runs the minimiser from each start (in order, stopping at the first that
/// converges) and returns the best point (see `check_fit`).
fn fit_from<const N: usize>(
    starts: &[[f64; N]],
    objective: impl Fn(&[f64], &mut [f64]) -> f64 + Copy,
) -> optimize::Minimum {
    let settings = optimize::Settings::default();
    let mut best: Option<optimize::Minimum> = None;
    for start in starts {
        let theta: Vec<f64> = start.iter().map(|v| v.ln()).collect();
        let mut found = optimize::minimize(&objective, &theta, &settings);
        // A restart from the end point resets the Hessian approximation,
        // which helps when the first run stalled in a curved valley (but not
        // when a parameter is running off: that only gets worse).
        let running_off = found.theta.iter().any(|t| t.abs() > THETA_RUNAWAY);
        if !found.converged && found.value.is_finite() && !running_off {
            let again = optimize::minimize(&objective, &found.theta, &settings);
            if again.value <= found.value {
                found.iterations += again.iterations;
                found.evaluations += again.evaluations;
                found.theta = again.theta;
                found.value = again.value;
                found.gradient = again.gradient;
                found.converged = again.converged;
            }
        }
        let better = best
            .as_ref()
            .is_none_or(|b| found.value.is_finite() && found.value < b.value);
        if better {
            best = Some(found);
        }
        if best.as_ref().is_some_and(|b| b.converged) {
            break;
        }
    }
    best.expect("at least one start")
}

/// Turns the minimiser's best point into an error when it is not a usable
/// fit: a parameter ran off towards 0 or ∞ (past ±THETA_DEGENERATE, or past
/// ±THETA_RUNAWAY while still moving — BFGS stalls on such slopes with a
/// small but non-zero gradient), or the gradient is not small.
fn check_fit(best: &optimize::Minimum, names: &[&str]) -> Result<(), FitError> {
    let settled = best.value.is_finite() && best.gradient_norm() <= GRADIENT_ACCEPT;
    let limit = if settled {
        THETA_DEGENERATE
    } else {
        THETA_RUNAWAY
    };
    for (t, name) in best.theta.iter().zip(names) {
        if t.is_nan() || t.abs() > limit {
            return Err(FitError::Degenerate(format!(
                "parameter {name} runs off to {:.3e}; the data cannot pin it down \
                 (for example nobody seems to stop buying, or everyone buys or \
                 spends alike)",
                t.exp()
            )));
        }
    }
    if !settled {
        return Err(FitError::NoConvergence {
            iterations: best.iterations,
            gradient: best.gradient_norm(),
        });
    }
    Ok(())
}

/// Standard errors of exp(θ) from the mean negative log-likelihood over n
/// customers: Var(θ̂) = H⁻¹/n, and SE(e^θ) = e^θ·SE(θ). A Hessian that is
/// not positive definite means the likelihood is flat (or worse) in some
/// direction at the optimum: the data cannot tell some parameters apart, and
/// the fit is refused rather than returned with arbitrary values.
fn standard_errors(
    objective: impl Fn(&[f64], &mut [f64]) -> f64,
    theta: &[f64],
    n: f64,
) -> Result<Vec<f64>, FitError> {
    let diagonal = optimize::inverse_hessian_diagonal(objective, theta).ok_or_else(|| {
        FitError::Degenerate(format!(
            "the likelihood is flat around the best parameters ({}); for example \
             nobody seems to stop buying, or everyone buys at the same pace",
            theta
                .iter()
                .map(|t| format!("{:.4}", t.exp()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    Ok(theta
        .iter()
        .zip(diagonal)
        .map(|(t, d)| t.exp() * (d / n).sqrt())
        .collect())
}

// ---------------------------------------------------------------------------
// Gamma-Gamma
// ---------------------------------------------------------------------------

/// Gamma-Gamma spend model: a customer's order values are Gamma(p, ν) around
/// their mean p/ν, with ν ~ Gamma(q, v) across customers. q > 1, so the
/// average order value p·v/(q−1) is finite.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct GammaGamma {
    p: f64,
    q: f64,
    v: f64,
}

impl GammaGamma {
    /// A model with known parameters (each finite and > 0, q > 1).
    pub fn new(p: f64, q: f64, v: f64) -> Result<GammaGamma, FitError> {
        let q = check_parameter("q", q)?;
        if q <= 1.0 {
            return Err(FitError::InvalidParameter {
                name: "q",
                value: q,
                reason: "must be above 1 for the average order value to be finite",
            });
        }
        Ok(GammaGamma {
            p: check_parameter("p", p)?,
            q,
            v: check_parameter("v", v)?,
        })
    }

    pub fn p(&self) -> f64 {
        self.p
    }
    pub fn q(&self) -> f64 {
        self.q
    }
    pub fn v(&self) -> f64 {
        self.v
    }

    /// Maximum-likelihood fit on the customers with repeat purchases
    /// (frequency > 0) and a positive monetary value; the others are skipped.
    /// Fails when fewer than [`MIN_REPEAT_CUSTOMERS`] remain, or when the spend
    /// is so heavy-tailed that q ≤ 1.
    pub fn fit(customers: &[Summary]) -> Result<Fitted<GammaGamma>, FitError> {
        let data = GgData::new(customers)?;
        if data.customers < MIN_REPEAT_CUSTOMERS {
            return Err(FitError::TooFewRepeatCustomers {
                needed: MIN_REPEAT_CUSTOMERS,
                got: data.customers,
            });
        }
        let mean = data.sum_m / data.total;
        let starts = [
            [2.0, 3.0, mean],
            [1.0, 2.0, mean / 2.0],
            [8.0, 5.0, mean / 2.0],
        ];
        let objective = |theta: &[f64], grad: &mut [f64]| data.objective(theta, grad);
        let best = fit_from(&starts, objective);
        check_fit(&best, &["p", "q", "v"])?;
        let standard_errors = standard_errors(objective, &best.theta, data.total)?;
        let [p, q, v] = [0, 1, 2].map(|i| best.theta[i].exp());
        if q <= 1.0 {
            return Err(FitError::Degenerate(format!(
                "q = {q:.3} is not above 1: order values are too spread out for a \
                 finite average order value"
            )));
        }
        Ok(Fitted {
            model: GammaGamma::new(p, q, v)?,
            report: FitReport {
                customers: data.customers,
                groups: data.groups.len(),
                log_likelihood: -best.value * data.total,
                iterations: best.iterations,
                evaluations: best.evaluations,
                converged: best.converged,
                standard_errors,
            },
        })
    }

    /// Log-likelihood of one repeat customer's mean order value (x > 0,
    /// monetary > 0; NaN otherwise).
    pub fn customer_log_likelihood(&self, s: &Summary) -> f64 {
        let (x, m) = (s.frequency, s.monetary);
        if !(x > 0.0 && m > 0.0) {
            return f64::NAN;
        }
        let GammaGamma { p, q, v } = *self;
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
            + q * v.ln()
            + (p * x - 1.0) * m.ln()
            + p * x * x.ln()
            - (p * x + q) * (x * m + v).ln()
    }

    /// Total log-likelihood over the customers the fit would use.
    pub fn log_likelihood(&self, customers: &[Summary]) -> f64 {
        customers
            .par_iter()
            .with_min_len(4096)
            .filter(|s| s.frequency > 0.0 && s.monetary > 0.0)
            .map(|s| self.customer_log_likelihood(s))
            .sum()
    }

    /// Expected order value of a new customer, p·v/(q−1).
    pub fn population_order_value(&self) -> f64 {
        self.p * self.v / (self.q - 1.0)
    }

    /// Expected value of this customer's future orders,
    /// p·(v + x·m̄)/(p·x + q − 1): a weighted mean of the population's and the
    /// customer's own average, the weight of the latter growing with x.
    /// Customers without repeat purchases get the population average.
    pub fn expected_order_value(&self, s: &Summary) -> f64 {
        let x = if s.frequency.is_finite() {
            s.frequency.max(0.0).round()
        } else {
            0.0
        };
        let m = if s.monetary.is_finite() {
            s.monetary.max(0.0)
        } else {
            0.0
        };
        if x == 0.0 {
            return self.population_order_value();
        }
        self.p * (self.v + x * m) / (self.p * x + self.q - 1.0)
    }
}

/// Repeat customers with a positive spend, grouped by identical (x, m̄).
struct GgData {
    xs: Vec<f64>,
    x_weights: Vec<f64>,
    groups: Vec<GgGroup>,
    customers: usize,
    total: f64,
    sum_m: f64,
    sum_ln_m: f64,
    sum_x_ln_m: f64,
}

#[derive(Clone, Copy)]
struct GgGroup {
    x: u32,
    /// x·m̄, the customer's total repeat spend.
    y: f64,
    weight: f64,
}

impl GgData {
    fn new(customers: &[Summary]) -> Result<GgData, FitError> {
        // Key (x, m̄ bits) for repeat customers with m̄ > 0; (0, 0) marks a
        // customer the model skips.
        let keys = sorted_keys(customers, |s| {
            let (x, _, _) = bg_key(s)?;
            if x == 0 || s.monetary == 0.0 {
                return Ok((0, 0));
            }
            if !s.monetary.is_finite() {
                return Err("monetary value must be finite");
            }
            Ok(if s.monetary > 0.0 {
                (x, s.monetary.to_bits())
            } else {
                (0, 0)
            })
        })?;
        let mut data = GgData {
            xs: Vec::new(),
            x_weights: Vec::new(),
            groups: Vec::new(),
            customers: 0,
            total: 0.0,
            sum_m: 0.0,
            sum_ln_m: 0.0,
            sum_x_ln_m: 0.0,
        };
        let mut runs: Vec<((u64, u64), f64)> = Vec::new();
        for key in keys.into_iter().filter(|k| k.0 > 0) {
            match runs.last_mut() {
                Some((k, w)) if *k == key => *w += 1.0,
                _ => runs.push((key, 1.0)),
            }
        }
        for &((x, m), weight) in &runs {
            let (x, m) = (x as f64, f64::from_bits(m));
            if data.xs.last() != Some(&x) {
                data.xs.push(x);
                data.x_weights.push(0.0);
            }
            *data.x_weights.last_mut().expect("pushed above") += weight;
            data.total += weight;
            data.sum_m += weight * m;
            data.sum_ln_m += weight * m.ln();
            data.sum_x_ln_m += weight * x * m.ln();
            data.groups.push(GgGroup {
                x: (data.xs.len() - 1) as u32,
                y: x * m,
                weight,
            });
        }
        data.customers = data.total as usize;
        Ok(data)
    }

    /// Mean negative log-likelihood at θ = ln(p, q, v) and its gradient. Per
    /// customer,
    ///
    ///   ln f = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q·ln v + (px−1)·ln m
    ///          + px·ln x − (px+q)·ln(x·m + v);
    ///
    /// only the last term needs a logarithm per customer and evaluation, the
    /// rest is per distinct x or a data constant.
    fn objective(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        if theta.iter().any(|t| t.is_nan() || t.abs() > THETA_LIMIT) {
            return f64::INFINITY;
        }
        let [p, q, v] = [0, 1, 2].map(|i| theta[i].exp());
        let w_all = self.total;
        let mut ll =
            -w_all * ln_gamma(q) + w_all * q * v.ln() + p * self.sum_x_ln_m - self.sum_ln_m;
        let mut d_p = self.sum_x_ln_m;
        let mut d_q = -w_all * digamma(q) + w_all * v.ln();
        let mut d_v = w_all * q / v;
        for (&x, &w) in self.xs.iter().zip(&self.x_weights) {
            let px = p * x;
            ll += w * (ln_gamma(px + q) - ln_gamma(px) + px * x.ln());
            let dg = digamma(px + q);
            d_p += w * x * (dg - digamma(px) + x.ln());
            d_q += w * dg;
        }
        // Σw·ln(y+v), Σw·x·ln(y+v), Σw/(y+v), Σw·x/(y+v)
        let sums = |chunk: &[GgGroup]| -> [f64; 4] {
            let mut s = [0.0; 4];
            for g in chunk {
                let x = self.xs[g.x as usize];
                let l = (g.y + v).ln();
                let i = 1.0 / (g.y + v);
                s[0] += g.weight * l;
                s[1] += g.weight * x * l;
                s[2] += g.weight * i;
                s[3] += g.weight * x * i;
            }
            s
        };
        let parts: Vec<[f64; 4]> = if self.groups.len() <= CHUNK {
            vec![sums(&self.groups)]
        } else {
            self.groups.par_chunks(CHUNK).map(sums).collect()
        };
        let mut s = [0.0; 4];
        for part in &parts {
            for (acc, v) in s.iter_mut().zip(part) {
                *acc += v;
            }
        }
        ll -= p * s[1] + q * s[0];
        d_p -= s[1];
        d_q -= s[0];
        d_v -= p * s[3] + q * s[2];
        grad[0] = -d_p * p / w_all;
        grad[1] = -d_q * q / w_all;
        grad[2] = -d_v * v / w_all;
        -ll / w_all
    }
}

// ---------------------------------------------------------------------------
// CLV and per-customer predictions
// ---------------------------------------------------------------------------

/// How CLV is computed: over `months` months, each `units_per_month` time
/// units of the summaries long (30 for days, as `lifetimes` does; 4.345 for
/// weeks), discounting month i by (1 + monthly_discount_rate)^i.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClvOptions {
    pub months: u32,
    pub monthly_discount_rate: f64,
    pub units_per_month: f64,
}

impl Default for ClvOptions {
    /// 12 months of 30 days at 1% a month.
    fn default() -> Self {
        ClvOptions {
            months: 12,
            monthly_discount_rate: 0.01,
            units_per_month: 30.0,
        }
    }
}

/// Customer lifetime value over the horizon of `options`: discounted
/// expected purchases month by month × expected order value.
pub fn clv(bg: &BgNbd, gg: &GammaGamma, s: &Summary, options: &ClvOptions) -> f64 {
    bg.discounted_purchases(s, options) * gg.expected_order_value(s)
}

/// Everything the Insights show for one customer.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Prediction {
    /// Expected purchases in the next `horizon` time units.
    pub expected_purchases: f64,
    pub p_alive: f64,
    /// 1 − P(alive).
    pub churn: f64,
    pub expected_order_value: f64,
    pub clv: f64,
}

/// Predictions for one customer: expected purchases over `horizon` (in the
/// summaries' time unit) and CLV as in [`clv`].
pub fn predict(
    bg: &BgNbd,
    gg: &GammaGamma,
    s: &Summary,
    horizon: f64,
    options: &ClvOptions,
) -> Prediction {
    let (x, tx, age) = clean(s);
    let p_alive = bg.p_alive_clean(x, tx, age);
    let expected_purchases = if horizon > 0.0 {
        p_alive * bg.alive_purchases(x, bg.alpha + age, horizon)
    } else {
        0.0
    };
    let expected_order_value = gg.expected_order_value(s);
    Prediction {
        expected_purchases,
        p_alive,
        churn: bg.churn(s),
        expected_order_value,
        clv: bg.discounted_clean(x, age, p_alive, options) * expected_order_value,
    }
}

/// [`predict`] for many customers, in parallel, in the same order.
///
/// Customers with the same (x, t_x, T) share everything but the order value,
/// so the purchase part is computed once per distinct history (with whole
/// days, a million customers have a few hundred thousand).
pub fn predict_all(
    bg: &BgNbd,
    gg: &GammaGamma,
    customers: &[Summary],
    horizon: f64,
    options: &ClvOptions,
) -> Vec<Prediction> {
    let key = |s: &Summary| {
        let (x, tx, age) = clean(s);
        (
            (x + 0.0).to_bits(),
            (tx + 0.0).to_bits(),
            (age + 0.0).to_bits(),
        )
    };
    let mut order: Vec<u32> = (0..customers.len() as u32).collect();
    order.par_sort_unstable_by_key(|&i| key(&customers[i as usize]));
    let mut group_of = vec![0u32; customers.len()];
    let mut histories: Vec<(f64, f64, f64)> = Vec::new();
    let mut last = None;
    for &i in &order {
        let k = key(&customers[i as usize]);
        if last != Some(k) {
            last = Some(k);
            histories.push((
                f64::from_bits(k.0),
                f64::from_bits(k.1),
                f64::from_bits(k.2),
            ));
        }
        group_of[i as usize] = (histories.len() - 1) as u32;
    }
    // (P(alive), churn, expected purchases, discounted purchases) per history.
    let purchases: Vec<[f64; 4]> = histories
        .par_iter()
        .with_min_len(256)
        .map(|&(x, tx, age)| {
            let history = Summary {
                frequency: x,
                recency: tx,
                age,
                monetary: 0.0,
            };
            let p_alive = bg.p_alive_clean(x, tx, age);
            let expected = if horizon > 0.0 {
                p_alive * bg.alive_purchases(x, bg.alpha + age, horizon)
            } else {
                0.0
            };
            let discounted = bg.discounted_clean(x, age, p_alive, options);
            [p_alive, bg.churn(&history), expected, discounted]
        })
        .collect();
    customers
        .par_iter()
        .zip(&group_of)
        .with_min_len(4096)
        .map(|(s, &g)| {
            let [p_alive, churn, expected_purchases, discounted] = purchases[g as usize];
            let expected_order_value = gg.expected_order_value(s);
            Prediction {
                expected_purchases,
                p_alive,
                churn,
                expected_order_value,
                clv: discounted * expected_order_value,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CDNOW: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cdnow/cdnow_customers_summary_with_transactions.csv"
    ));

    /// The 2,357 CDNOW customers, times in weeks.
    fn cdnow() -> Vec<Summary> {
        CDNOW
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let f: Vec<f64> = line.split(',').map(|v| v.trim().parse().unwrap()).collect();
                Summary {
                    frequency: f[1],
                    recency: f[2],
                    age: f[3],
                    monetary: f[4],
                }
            })
            .collect()
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn cdnow_bg_nbd_fit_reproduces_the_published_parameters() {
        let customers = cdnow();
        assert_eq!(customers.len(), 2357);
        let fit = BgNbd::fit(&customers).unwrap();
        let m = fit.model;
        // Fader, Hardie & Lee (2005): r = 0.243, α = 4.414, a = 0.793,
        // b = 2.426, LL = −9582.4 (rounded as published).
        assert!((m.r() - 0.243).abs() < 0.0006, "{m:?}");
        assert!((m.alpha() - 4.414).abs() < 0.0006, "{m:?}");
        assert!((m.a() - 0.793).abs() < 0.0006, "{m:?}");
        assert!((m.b() - 2.426).abs() < 0.0006, "{m:?}");
        // lifetimes 0.11.3 on the same file: 0.24259293, 4.41353227,
        // 0.79288597, 2.42575238.
        for (fitted, reference) in [
            (m.r(), 0.242_592_93),
            (m.alpha(), 4.413_532_27),
            (m.a(), 0.792_885_97),
            (m.b(), 2.425_752_38),
        ] {
            assert!(rel(fitted, reference) < 2e-6, "{fitted} vs {reference}");
        }
        assert!(
            (fit.report.log_likelihood - -9582.4).abs() < 0.06,
            "{:?}",
            fit.report
        );
        assert!((m.log_likelihood(&customers) - fit.report.log_likelihood).abs() < 1e-6);
        assert_eq!(fit.report.customers, 2357);
        assert!(fit.report.converged, "{:?}", fit.report);
    }

    #[test]
    fn cdnow_predictions_match_the_paper_and_lifetimes() {
        // Reference values from lifetimes 0.11.3 with its CDNOW fits rounded
        // to 6 decimals (the parameters below) set as the models' parameters.
        let bg = BgNbd::new(0.242593, 4.413532, 0.792886, 2.425752).unwrap();
        let gg = GammaGamma::new(6.248802, 3.744588, 15.447748).unwrap();
        let first = Summary {
            frequency: 2.0,
            recency: 30.43,
            age: 38.86,
            monetary: 22.35,
        };
        // The paper: customer 1 is expected to make 1.226 purchases in the
        // next 39 weeks.
        let e39 = bg.expected_purchases(39.0, &first);
        assert!((e39 - 1.225_910_385_693_889_8).abs() < 1e-12, "{e39}");
        assert!((bg.p_alive(&first) - 0.726_609_102_456_250_8).abs() < 1e-14);
        assert!((bg.p_alive(&first) + bg.churn(&first) - 1.0).abs() < 1e-15);
        let pop = bg.population_expected_purchases(39.0);
        assert!((pop - 1.195_016_524_495_533_7).abs() < 1e-12, "{pop}");
        // Short and long horizons (z from 0.01 to 0.994) for a frequent buyer
        // and for a new one-off customer.
        let frequent = Summary {
            frequency: 20.0,
            recency: 35.0,
            age: 38.86,
            monetary: 0.0,
        };
        let newcomer = Summary {
            age: 2.0,
            ..Summary::default()
        };
        assert!((bg.p_alive(&frequent) - 0.803_033_706_129_357_6).abs() < 1e-14);
        for (t, expect_frequent, expect_new) in [
            (0.5, 0.187_040_307_710_770_5, 0.018_692_333_731_163_947),
            (100.0, 22.769_199_307_897_44, 1.721_850_205_020_968_5),
            (1000.0, 77.290_103_273_274_4, 5.618_735_823_685_839),
        ] {
            let f = bg.expected_purchases(t, &frequent);
            let n = bg.expected_purchases(t, &newcomer);
            assert!(rel(f, expect_frequent) < 1e-12, "t = {t}: {f}");
            assert!(rel(n, expect_new) < 1e-12, "t = {t}: {n}");
        }

        // CLV as lifetimes' customer_lifetime_value(time=12,
        // discount_rate=0.01, freq='W'), for customer 1, customer 2 (x = 1,
        // t_x = 1.71, zbar = 11.77) and one with x = 0.
        let weeks = ClvOptions {
            months: 12,
            monthly_discount_rate: 0.01,
            units_per_month: 4.345,
        };
        let second = Summary {
            frequency: 1.0,
            recency: 1.71,
            age: 38.86,
            monetary: 11.77,
        };
        let none = Summary {
            age: 38.86,
            ..Summary::default()
        };
        assert!(rel(clv(&bg, &gg, &first, &weeks), 36.278_494_993_534_736) < 1e-12);
        assert!(rel(clv(&bg, &gg, &second, &weeks), 4.637_465_196_834_571_5) < 1e-12);
        assert!(rel(clv(&bg, &gg, &none, &weeks), 8.344_096_111_223_703) < 1e-12);
        assert!(rel(gg.expected_order_value(&first), 24.658_616_555_800_897) < 1e-14);
        assert!(rel(gg.expected_order_value(&second), 18.911_480_335_879_574) < 1e-14);
        let all = predict(&bg, &gg, &first, 39.0, &weeks);
        assert!(rel(all.clv, 36.278_494_993_534_736) < 1e-12);
        assert_eq!(all.p_alive, bg.p_alive(&first));
        assert_eq!(all.expected_purchases, e39);
        assert_eq!(all.churn, bg.churn(&first));
    }

    #[test]
    fn cdnow_gamma_gamma_fit_reproduces_the_published_parameters() {
        let customers = cdnow();
        let fit = GammaGamma::fit(&customers).unwrap();
        let m = fit.model;
        assert_eq!(fit.report.customers, 946);
        // Fader & Hardie's note and lifetimes: p = 6.25, q = 3.74, v = 15.44
        // (lifetimes 0.11.3: 6.248802, 3.744588, 15.447748).
        assert!((m.p() - 6.25).abs() < 0.006, "{m:?}");
        assert!((m.q() - 3.74).abs() < 0.006, "{m:?}");
        assert!((m.v() - 15.44).abs() < 0.01, "{m:?}");
        for (fitted, reference) in [
            (m.p(), 6.248_802_5),
            (m.q(), 3.744_588_46),
            (m.v(), 15.447_748_06),
        ] {
            assert!(rel(fitted, reference) < 2e-6, "{fitted} vs {reference}");
        }
        assert!((m.log_likelihood(&customers) - fit.report.log_likelihood).abs() < 1e-6);
    }

    #[test]
    fn fit_is_unit_agnostic() {
        // The same customers in days instead of weeks: α scales by 7, the
        // rest is unchanged.
        let weeks = cdnow();
        let days: Vec<Summary> = weeks
            .iter()
            .map(|s| Summary {
                recency: s.recency * 7.0,
                age: s.age * 7.0,
                ..*s
            })
            .collect();
        let w = BgNbd::fit(&weeks).unwrap().model;
        let d = BgNbd::fit(&days).unwrap().model;
        assert!(rel(d.alpha(), 7.0 * w.alpha()) < 1e-6, "{w:?} {d:?}");
        assert!(rel(d.r(), w.r()) < 1e-6 && rel(d.a(), w.a()) < 1e-6 && rel(d.b(), w.b()) < 1e-6);
        let back = days[0].in_time_unit(7.0);
        assert!((back.recency - weeks[0].recency).abs() < 1e-12);
        assert!(
            rel(
                d.expected_purchases(7.0 * 39.0, &days[0]),
                w.expected_purchases(39.0, &weeks[0])
            ) < 1e-5
        );
    }

    /// Fits on customers simulated from known parameters (in days) must land
    /// within 4 standard errors of the truth, each standard error (from the
    /// fit's own Hessian, which matches the spread over 40 seeds to ~10%)
    /// being at most the stated share of the parameter.
    #[test]
    fn simulated_customers_give_back_the_known_parameters() {
        let bg = BgNbd::new(0.243, 4.414 * 7.0, 0.793, 2.426).unwrap();
        let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
        let customers = simulate(&bg, &gg, 100_000, 730, 42);
        let fit = BgNbd::fit(&customers).unwrap();
        let se = fit.report.standard_errors.clone();
        let m = fit.model;
        for (i, (name, fitted, truth, max_se)) in [
            ("r", m.r(), bg.r(), 0.02),
            ("alpha", m.alpha(), bg.alpha(), 0.03),
            ("a", m.a(), bg.a(), 0.05),
            ("b", m.b(), bg.b(), 0.06),
        ]
        .into_iter()
        .enumerate()
        {
            assert!(se[i] / truth < max_se, "{name}: SE {} too large", se[i]);
            assert!(
                (fitted - truth).abs() < 4.0 * se[i],
                "{name}: {fitted} vs {truth} ± {}",
                se[i]
            );
        }
        let fit = GammaGamma::fit(&customers).unwrap();
        let se = fit.report.standard_errors.clone();
        let g = fit.model;
        for (i, (name, fitted, truth, max_se)) in [
            ("p", g.p(), gg.p(), 0.05),
            ("q", g.q(), gg.q(), 0.03),
            ("v", g.v(), gg.v(), 0.06),
        ]
        .into_iter()
        .enumerate()
        {
            assert!(se[i] / truth < max_se, "{name}: SE {} too large", se[i]);
            assert!(
                (fitted - truth).abs() < 4.0 * se[i],
                "{name}: {fitted} vs {truth} ± {}",
                se[i]
            );
        }
        // A wrong model is far off: the true parameters explain the data
        // better than, say, a doubled α.
        let doubled = BgNbd::new(bg.r(), 2.0 * bg.alpha(), bg.a(), bg.b()).unwrap();
        assert!(bg.log_likelihood(&customers) > doubled.log_likelihood(&customers) + 100.0);
        assert!(m.log_likelihood(&customers) >= bg.log_likelihood(&customers));
    }

    #[test]
    fn simulation_is_seeded_and_thread_independent() {
        let bg = BgNbd::new(0.5, 20.0, 1.5, 3.0).unwrap();
        let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
        let a = simulate(&bg, &gg, 10_000, 365, 7);
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = single.install(|| simulate(&bg, &gg, 10_000, 365, 7));
        assert_eq!(a, b);
        assert_ne!(a, simulate(&bg, &gg, 10_000, 365, 8));
        assert_eq!(a.len(), 10_000);
        for s in &a {
            assert!(s.frequency.fract() == 0.0 && s.recency.fract() == 0.0 && s.age.fract() == 0.0);
            assert!(0.0 <= s.recency && s.recency <= s.age && s.age >= 1.0 && s.age <= 365.0);
            assert_eq!(s.monetary > 0.0, s.frequency > 0.0);
        }
    }

    #[test]
    fn summary_from_purchases() {
        // Days 10 (two orders), 12, 12, 20 and one after today.
        let purchases = [
            (10, 5.0),
            (10, 7.0),
            (12, 3.0),
            (12, 1.0),
            (20, 8.0),
            (31, 100.0),
        ];
        let s = Summary::from_purchases(&purchases, 30).unwrap();
        assert_eq!(
            s,
            Summary {
                frequency: 2.0,
                recency: 10.0,
                age: 20.0,
                monetary: 6.0, // (3 + 1 + 8) / 2 repeat days
            }
        );
        // Unsorted input gives the same; a single day is x = 0.
        let mut shuffled = purchases;
        shuffled.reverse();
        assert_eq!(Summary::from_purchases(&shuffled, 30), Some(s));
        let once = Summary::from_purchases(&[(5, 9.0), (5, f64::NAN)], 5).unwrap();
        assert_eq!(
            once,
            Summary {
                frequency: 0.0,
                recency: 0.0,
                age: 0.0,
                monetary: 0.0
            }
        );
        assert_eq!(Summary::from_purchases(&[(40, 1.0)], 30), None);
        assert_eq!(Summary::from_purchases(&[], 30), None);
    }

    #[test]
    fn p_alive_behaves() {
        let bg = BgNbd::new(0.243, 30.9, 0.793, 2.426).unwrap();
        let at = |x: f64, tx: f64, age: f64| {
            bg.p_alive(&Summary {
                frequency: x,
                recency: tx,
                age,
                monetary: 0.0,
            })
        };
        // No repeat purchase: alive with certainty in BG/NBD, whatever the age.
        assert_eq!(at(0.0, 0.0, 10.0), 1.0);
        assert_eq!(at(0.0, 0.0, 10_000.0), 1.0);
        // Long silence after frequent buying: very likely gone.
        // Bought just now: alive unless they dropped out right after this
        // purchase, which has probability a/(b+x−1).
        let just_now = at(10.0, 300.0, 300.0);
        assert!((just_now - 1.0 / (1.0 + bg.a() / (bg.b() + 9.0))).abs() < 1e-15);
        assert!(at(10.0, 100.0, 700.0) < 0.01);
        // Falls with silence, rises with a later last purchase.
        let mut previous = 1.0;
        for age in [100.0, 150.0, 200.0, 400.0, 1e4, 1e8] {
            let p = at(3.0, 100.0, age);
            assert!(p < previous && p >= 0.0, "{age}: {p}");
            previous = p;
        }
        assert!(at(3.0, 50.0, 200.0) < at(3.0, 150.0, 200.0));
        // Extremes stay in [0, 1].
        for (x, tx, age) in [
            (1e6, 0.0, 1e9),
            (1e6, 1e9, 1e9),
            (1.0, 0.0, 0.0),
            (5.0, f64::NAN, f64::INFINITY),
        ] {
            let p = at(x, tx, age);
            assert!((0.0..=1.0).contains(&p), "{x} {tx} {age}: {p}");
        }
    }

    #[test]
    fn expected_purchases_is_monotone_and_finite() {
        let bg = BgNbd::new(0.243, 30.9, 0.793, 2.426).unwrap();
        let histories = [
            (0.0, 0.0, 0.0),
            (0.0, 0.0, 300.0),
            (1.0, 5.0, 200.0),
            (20.0, 350.0, 360.0),
            (500.0, 700.0, 700.0),
            (1e5, 1e4, 1e4),
        ];
        for (x, tx, age) in histories {
            let s = Summary {
                frequency: x,
                recency: tx,
                age,
                monetary: 0.0,
            };
            let mut previous = 0.0;
            for t in [1e-9, 0.5, 1.0, 30.0, 365.0, 3650.0, 1e5, 1e7, 1e12] {
                let e = bg.expected_purchases(t, &s);
                assert!(
                    e.is_finite() && e >= previous,
                    "{x} {tx} {age} t={t}: {e} < {previous}"
                );
                previous = e;
            }
            assert_eq!(bg.expected_purchases(0.0, &s), 0.0);
            assert_eq!(bg.expected_purchases(f64::NAN, &s), 0.0);
        }
        // a < 1: unbounded lifetime purchases; a > 1: the finite limit.
        assert_eq!(
            bg.population_expected_purchases(f64::INFINITY),
            f64::INFINITY
        );
        let bounded = BgNbd::new(0.243, 30.9, 1.8, 2.426).unwrap();
        let limit = bounded.population_expected_purchases(f64::INFINITY);
        assert!(rel(limit, (1.8 + 2.426 - 1.0) / 0.8) < 1e-15);
        // …approached slowly (the gap shrinks like t^(−r)).
        let far = bounded.population_expected_purchases(1e13);
        assert!(far < limit && far > 0.99 * limit, "{far} {limit}");
        // For a short horizon, E ≈ P(alive)·(r+x)·t/(α+T).
        let s = Summary {
            frequency: 4.0,
            recency: 90.0,
            age: 100.0,
            monetary: 0.0,
        };
        let small = bg.expected_purchases(1e-6, &s);
        let approx = bg.p_alive(&s) * (bg.r() + 4.0) * 1e-6 / (bg.alpha() + 100.0);
        assert!(rel(small, approx) < 1e-6, "{small} {approx}");
    }

    /// The ₂F₁ closed form (with its transformations) against direct
    /// numerical integration of E_p[(1 − (u/(u+pt))^(r+x))/p], over
    /// parameters covering a < 1, a = 1 exactly and nearly, a > r+x+2 (the
    /// series' other regime), a+b < 1 and many purchases.
    #[test]
    fn hypergeometric_form_matches_the_integral() {
        let cases = [
            (0.243, 0.793, 2.426),
            (0.243, 1.0, 2.426),
            (0.243, 1.0 + 1e-9, 2.426),
            (0.243, 1.0 - 1e-7, 2.426),
            (1.5, 6.0, 0.7),
            (2.0, 0.3, 0.4),
            (0.05, 0.1, 30.0),
            (0.5, 25.0, 25.0),
            (5.0, 1e5, 1e6),
            (0.3, 3e6, 5e5),
        ];
        for (r, a, b) in cases {
            let bg = BgNbd::new(r, 10.0, a, b).unwrap();
            for x in [0.0, 1.0, 7.0, 150.0] {
                for (u, t) in [
                    (10.0, 0.01),
                    (40.0, 30.0),
                    (15.0, 365.0),
                    (10.0, 3000.0),
                    (10.0, 1e6),
                ] {
                    let series = bg.alive_purchases(x, u, t);
                    let n = r + x;
                    let ratio = t / u;
                    let integral = beta_expectation(a, b + x, |p| {
                        if p == 0.0 {
                            n * ratio
                        } else {
                            -(-n * (p * ratio).ln_1p()).exp_m1() / p
                        }
                    });
                    assert!(
                        rel(series, integral) < 1e-8,
                        "r={r} a={a} b={b} x={x} u={u} t={t}: {series} vs {integral}"
                    );
                }
            }
        }
    }

    #[test]
    fn clv_sums_discounted_monthly_purchases() {
        let bg = BgNbd::new(0.243, 30.9, 0.793, 2.426).unwrap();
        let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
        let s = Summary {
            frequency: 3.0,
            recency: 200.0,
            age: 250.0,
            monetary: 40.0,
        };
        let value = gg.expected_order_value(&s);
        // Customer average 40 pulled towards the population's p·v/(q−1).
        let population = gg.population_order_value();
        assert!((population - 6.25 * 15.44 / 2.74).abs() < 1e-12);
        assert!(value > population.min(40.0) && value < population.max(40.0));
        let flat = ClvOptions {
            months: 12,
            monthly_discount_rate: 0.0,
            units_per_month: 30.0,
        };
        let undiscounted = clv(&bg, &gg, &s, &flat);
        assert!(rel(undiscounted, bg.expected_purchases(360.0, &s) * value) < 1e-12);
        let discounted = clv(&bg, &gg, &s, &ClvOptions::default());
        assert!(discounted < undiscounted && discounted > undiscounted / 1.01f64.powi(12));
        let none = ClvOptions { months: 0, ..flat };
        assert_eq!(clv(&bg, &gg, &s, &none), 0.0);
        // predict_all = predict, in order, with shared histories.
        let mut customers = simulate(&bg, &gg, 3000, 365, 3);
        customers.extend_from_within(..500);
        let all = predict_all(&bg, &gg, &customers, 90.0, &ClvOptions::default());
        for (s, p) in customers.iter().zip(&all) {
            assert_eq!(*p, predict(&bg, &gg, s, 90.0, &ClvOptions::default()));
            assert!(p.clv.is_finite() && p.clv >= 0.0 && (p.p_alive + p.churn - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn fits_refuse_data_they_cannot_use() {
        let one = Summary {
            frequency: 0.0,
            recency: 0.0,
            age: 50.0,
            monetary: 0.0,
        };
        let few = vec![one; MIN_CUSTOMERS - 1];
        assert_eq!(
            BgNbd::fit(&few),
            Err(FitError::TooFewCustomers {
                needed: MIN_CUSTOMERS,
                got: MIN_CUSTOMERS - 1
            })
        );
        let nobody_repeats = vec![one; 1000];
        assert_eq!(
            BgNbd::fit(&nobody_repeats),
            Err(FitError::TooFewRepeatCustomers {
                needed: MIN_REPEAT_CUSTOMERS,
                got: 0
            })
        );
        assert!(matches!(
            GammaGamma::fit(&nobody_repeats),
            Err(FitError::TooFewRepeatCustomers { got: 0, .. })
        ));
        let mut bad = cdnow();
        bad[17].recency = bad[17].age + 1.0;
        bad[17].frequency = 2.0;
        bad[40].frequency = 1.5;
        assert!(matches!(
            BgNbd::fit(&bad),
            Err(FitError::InvalidSummary { index: 17, .. })
        ));
        bad[17].recency = 0.0;
        assert!(matches!(
            GammaGamma::fit(&bad),
            Err(FitError::InvalidSummary { index: 40, .. })
        ));
        // Everyone bought on a steady schedule up to today: nothing says
        // anyone drops out, so the drop-out parameters run off.
        let steady: Vec<Summary> = (0..500)
            .map(|i| Summary {
                frequency: (i % 7 + 1) as f64,
                recency: 100.0,
                age: 100.0,
                monetary: 10.0,
            })
            .collect();
        let err = BgNbd::fit(&steady).unwrap_err();
        assert!(matches!(err, FitError::Degenerate(_)), "{err}");
        // Parameters are checked.
        assert!(BgNbd::new(0.0, 1.0, 1.0, 1.0).is_err());
        assert!(BgNbd::new(1.0, f64::NAN, 1.0, 1.0).is_err());
        assert!(GammaGamma::new(1.0, 0.9, 1.0).is_err());
        assert!(!MODEL_NOTES.is_empty() && MODEL_NOTES.contains("P(alive)"));
    }
}
