//! A small BFGS minimiser with a backtracking line search.
//!
//! Why by hand rather than `argmin`: the fits have 3–4 parameters, smooth
//! objectives and analytic gradients, for which textbook BFGS (Nocedal &
//! Wright, algorithm 6.1, with an Armijo backtracking search) is ~120 lines;
//! `argmin` would add two crates (`argmin` + `argmin-math`) and their trees
//! for the same thing, and we need control over what happens at non-finite
//! points (treated as "too far": the step is shortened) and over the
//! iteration bounds.

/// What the minimiser returns: the best point seen and how it got there.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    pub theta: Vec<f64>,
    pub value: f64,
    pub gradient: Vec<f64>,
    pub iterations: usize,
    pub evaluations: usize,
    pub converged: bool,
}

impl Minimum {
    pub fn gradient_norm(&self) -> f64 {
        self.gradient.iter().fold(0.0, |m, g| m.max(g.abs()))
    }
}

pub(crate) struct Settings {
    /// Stop when every gradient component is below this.
    pub gradient_tolerance: f64,
    pub max_iterations: usize,
    /// Bound on objective evaluations (line-search trials included).
    pub max_evaluations: usize,
    /// Largest change of any coordinate in one step (the coordinates are
    /// log-parameters, so 3 is a factor of e³ ≈ 20).
    pub max_step: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            gradient_tolerance: 1e-8,
            max_iterations: 400,
            max_evaluations: 1000,
            max_step: 3.0,
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimises `f` from `start`. `f(θ, grad)` returns the objective and writes
/// its gradient; it may return a non-finite value (for instance outside the
/// parameter box), which the line search treats as "step too long".
pub(crate) fn minimize(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    start: &[f64],
    settings: &Settings,
) -> Minimum {
    let n = start.len();
    let mut x = start.to_vec();
    let mut g = vec![0.0; n];
    let mut value = f(&x, &mut g);
    let mut evaluations = 1;
    let identity = |h: &mut Vec<f64>, scale: f64| {
        h.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..n {
            h[i * n + i] = scale;
        }
    };
    let done = |x: Vec<f64>, value: f64, gradient: Vec<f64>, iterations, evaluations| {
        let converged = value.is_finite()
            && gradient
                .iter()
                .all(|v: &f64| v.abs() <= settings.gradient_tolerance);
        Minimum {
            theta: x,
            value,
            gradient,
            iterations,
            evaluations,
            converged,
        }
    };
    if !value.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return done(x, f64::INFINITY, g, 0, evaluations);
    }
    // Inverse Hessian approximation, row-major n×n.
    let mut h = vec![0.0; n * n];
    identity(&mut h, 1.0);
    let mut fresh = true; // h is a (scaled) identity
    let mut stalls = 0;
    let mut xn = vec![0.0; n];
    let mut gn = vec![0.0; n];
    let mut d = vec![0.0; n];
    for iteration in 0..settings.max_iterations {
        if evaluations >= settings.max_evaluations
            || g.iter().all(|v| v.abs() <= settings.gradient_tolerance)
        {
            return done(x, value, g, iteration, evaluations);
        }
        for i in 0..n {
            d[i] = -(0..n).map(|j| h[i * n + j] * g[j]).sum::<f64>();
        }
        let mut slope = dot(&g, &d);
        if slope.is_nan() || slope >= 0.0 {
            identity(&mut h, 1.0);
            fresh = true;
            d.iter_mut().zip(&g).for_each(|(d, g)| *d = -g);
            slope = dot(&g, &d);
        }
        let longest = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut step = (settings.max_step / longest).min(1.0);
        // Armijo backtracking with safeguarded quadratic interpolation.
        let mut accepted = false;
        let mut value_new = f64::INFINITY;
        let noise = 1e-14 * value.abs().max(1.0);
        for _ in 0..50 {
            for i in 0..n {
                xn[i] = x[i] + step * d[i];
            }
            value_new = f(&xn, &mut gn);
            evaluations += 1;
            let finite = value_new.is_finite() && gn.iter().all(|v| v.is_finite());
            // Armijo's sufficient decrease, with a few ulps of slack: near
            // the optimum the decrease falls below the rounding noise of the
            // objective (a sum over many customers) while the gradient is
            // still informative, and refusing those steps would stall BFGS.
            if finite && value_new <= value + 1e-4 * step * slope + noise {
                accepted = true;
                break;
            }
            let shorter = if finite {
                let curvature = value_new - value - step * slope;
                if curvature > 0.0 {
                    -slope * step * step / (2.0 * curvature)
                } else {
                    0.5 * step
                }
            } else {
                0.25 * step
            };
            step = shorter.clamp(0.1 * step, 0.5 * step);
        }
        if !accepted {
            if fresh {
                // Not even a tiny steepest-descent step helps: we are at the
                // minimum to working precision (or the function is broken).
                return done(x, value, g, iteration, evaluations);
            }
            identity(&mut h, 1.0);
            fresh = true;
            continue;
        }
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        let yy = dot(&y, &y);
        if sy > 1e-12 * dot(&s, &s).sqrt() * yy.sqrt() && yy > 0.0 {
            if fresh {
                // Nocedal & Wright (6.20): scale the first guess.
                identity(&mut h, sy / yy);
                fresh = false;
            }
            // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ
            let rho = 1.0 / sy;
            let hy: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|j| h[i * n + j] * y[j]).sum())
                .collect();
            let yhy = dot(&y, &hy);
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] += -rho * (hy[i] * s[j] + s[i] * hy[j])
                        + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
        }
        let improvement = value - value_new;
        x.copy_from_slice(&xn);
        g.copy_from_slice(&gn);
        value = value_new;
        if improvement <= 1e-15 * value.abs().max(1.0) {
            stalls += 1;
            if stalls >= 4 {
                return done(x, value, g, iteration + 1, evaluations);
            }
        } else {
            stalls = 0;
        }
    }
    done(x, value, g, settings.max_iterations, evaluations)
}

/// Diagonal of the inverse Hessian of `f` at `theta` (the minimum), from
/// central differences of the analytic gradient. For a mean negative
/// log-likelihood over n customers, dividing by n gives the asymptotic
/// variances of the estimates. `None` when the Hessian is not positive
/// definite (a flat or saddle direction: the data cannot pin that
/// parameter down).
pub(crate) fn inverse_hessian_diagonal(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    theta: &[f64],
) -> Option<Vec<f64>> {
    let n = theta.len();
    let step = 1e-4;
    let mut h = vec![0.0; n * n];
    let mut point = theta.to_vec();
    let (mut up, mut down) = (vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        point[i] = theta[i] + step;
        let a = f(&point, &mut up);
        point[i] = theta[i] - step;
        let b = f(&point, &mut down);
        point[i] = theta[i];
        if !(a.is_finite() && b.is_finite()) {
            return None;
        }
        for j in 0..n {
            h[i * n + j] = (up[j] - down[j]) / (2.0 * step);
        }
    }
    for i in 0..n {
        for j in 0..i {
            let mean = 0.5 * (h[i * n + j] + h[j * n + i]);
            h[i * n + j] = mean;
            h[j * n + i] = mean;
        }
    }
    // Cholesky H = L·Lᵀ, then column k of H⁻¹ from two triangular solves.
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            let v = h[i * n + j] - dot;
            if i == j {
                if v.is_nan() || v <= 0.0 {
                    return None;
                }
                l[i * n + i] = v.sqrt();
            } else {
                l[i * n + j] = v / l[j * n + j];
            }
        }
    }
    let mut diagonal = vec![0.0; n];
    for (k, d) in diagonal.iter_mut().enumerate() {
        // L·y = e_k, Lᵀ·x = y; (H⁻¹)_kk = x_k.
        let mut y = vec![0.0; n];
        for i in 0..n {
            let e = if i == k { 1.0 } else { 0.0 };
            y[i] = (e - (0..i).map(|j| l[i * n + j] * y[j]).sum::<f64>()) / l[i * n + i];
        }
        let mut x = vec![0.0; n];
        for i in (0..n).rev() {
            x[i] = (y[i] - (i + 1..n).map(|j| l[j * n + i] * x[j]).sum::<f64>()) / l[i * n + i];
        }
        *d = x[k];
    }
    diagonal
        .iter()
        .all(|v| v.is_finite() && *v > 0.0)
        .then_some(diagonal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_rosenbrock_and_survives_non_finite_regions() {
        let rosen = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let m = minimize(rosen, &[-1.2, 1.0], &Settings::default());
        assert!(m.converged, "{m:?}");
        assert!((m.theta[0] - 1.0).abs() < 1e-6 && (m.theta[1] - 1.0).abs() < 1e-6);

        // A bowl at (2, −1) that is undefined (NaN) for x > 3.
        let walled = |x: &[f64], g: &mut [f64]| {
            if x[0] > 3.0 {
                return f64::NAN;
            }
            g[0] = 2.0 * (x[0] - 2.0);
            g[1] = 8.0 * (x[1] + 1.0);
            (x[0] - 2.0).powi(2) + 4.0 * (x[1] + 1.0).powi(2)
        };
        let m = minimize(walled, &[-10.0, 10.0], &Settings::default());
        assert!(m.converged && (m.theta[0] - 2.0).abs() < 1e-8, "{m:?}");

        // A start where the function is undefined is reported, not looped on.
        let m = minimize(walled, &[5.0, 0.0], &Settings::default());
        assert!(!m.converged && m.iterations == 0);
    }

    #[test]
    fn inverse_hessian_of_a_quadratic() {
        // f = ½·xᵀAx with A = [[4, 1], [1, 3]]: A⁻¹ = [[3, −1], [−1, 4]] / 11.
        let quad = |x: &[f64], g: &mut [f64]| {
            g[0] = 4.0 * x[0] + x[1];
            g[1] = x[0] + 3.0 * x[1];
            0.5 * (x[0] * g[0] + x[1] * g[1])
        };
        let d = inverse_hessian_diagonal(quad, &[0.3, -0.2]).unwrap();
        assert!((d[0] - 3.0 / 11.0).abs() < 1e-9 && (d[1] - 4.0 / 11.0).abs() < 1e-9);
        // A saddle has no covariance.
        let saddle = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * x[0];
            g[1] = -2.0 * x[1];
            x[0] * x[0] - x[1] * x[1]
        };
        assert!(inverse_hessian_diagonal(saddle, &[0.0, 0.0]).is_none());
    }
}
