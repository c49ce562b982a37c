//! The bridge between stored traits and [`super::predict`]: parameters as
//! stored in the workspace, summaries as traits compute them (days, major
//! currency units).

use super::predict::{self, BgNbd, ClvOptions, GammaGamma, Summary};
use super::{BgNbdParams, GammaGammaParams, TraitsOptions};

pub(super) const NOTES: &str = predict::MODEL_NOTES;

pub(super) fn fit_bgnbd(summaries: &[Summary]) -> Result<BgNbdParams, String> {
    let fit = BgNbd::fit(summaries).map_err(|e| e.to_string())?;
    let m = fit.model;
    Ok(BgNbdParams {
        r: m.r(),
        alpha: m.alpha(),
        a: m.a(),
        b: m.b(),
    })
}

pub(super) fn fit_gamma_gamma(summaries: &[Summary]) -> Result<GammaGammaParams, String> {
    let fit = GammaGamma::fit(summaries).map_err(|e| e.to_string())?;
    let m = fit.model;
    Ok(GammaGammaParams {
        p: m.p(),
        q: m.q(),
        gamma: m.v(),
    })
}

/// One buyer's predictions: expected purchases over the horizon, P(alive),
/// expected order value and CLV (the last two need Gamma-Gamma).
pub(super) type Prediction = (f64, f64, Option<f64>, Option<f64>);

/// One prediction per buyer, in order, or `None` when the stored
/// parameters are not valid.
pub(super) fn predict_all(
    bg: &BgNbdParams,
    gg: Option<&GammaGammaParams>,
    summaries: &[Summary],
    options: &TraitsOptions,
) -> Option<Vec<Prediction>> {
    let bg = BgNbd::new(bg.r, bg.alpha, bg.a, bg.b).ok()?;
    let gg_model = gg.and_then(|g| GammaGamma::new(g.p, g.q, g.gamma).ok());
    let horizon = f64::from(options.horizon_days);
    let clv = ClvOptions {
        months: options.horizon_days.div_ceil(30).max(1),
        monthly_discount_rate: (1.0 + options.annual_discount_rate).powf(1.0 / 12.0) - 1.0,
        units_per_month: 30.0,
    };
    match gg_model {
        Some(gg) => Some(
            predict::predict_all(&bg, &gg, summaries, horizon, &clv)
                .into_iter()
                .map(|p| {
                    (
                        p.expected_purchases,
                        p.p_alive,
                        Some(p.expected_order_value),
                        Some(p.clv),
                    )
                })
                .collect(),
        ),
        None => Some(
            summaries
                .iter()
                .map(|s| (bg.expected_purchases(horizon, s), bg.p_alive(s), None, None))
                .collect(),
        ),
    }
}
