//! Computed traits per profile: order statistics, engagement, RFM and the
//! predicted purchases, churn and lifetime value.
//!
//! - `scan.rs`: one pass over orders, order lines and events, folded into
//!   per-profile accumulators.
//! - [`rfm`]: quintile scores and the named RFM segments (rule table there).
//! - [`predict`]: BG/NBD and Gamma-Gamma, fitted by maximum likelihood.
//!
//! [`compute`] rebuilds every profile's traits and refits the models;
//! [`refresh`] recomputes only the profiles that imports and identity
//! changes touched since the last run, scores them with the stored models,
//! and re-ranks RFM over the whole workspace (quintiles move when anyone's
//! figures move).
//!
//! **Invariant:** traits are derived data: [`compute`] gives the same rows
//! as any sequence of [`refresh`]es (apart from the model fit, which only
//! [`compute`] redoes). Nothing here commits anything but its own
//! transaction.

mod models;
mod overview;
pub mod predict;
pub mod rfm;
pub(crate) mod scan;

pub use overview::{charts, overview, Band, NamedChart, Overview, SegmentFigures, CHURN_BANDS};

use std::time::Instant;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use crate::progress::{Cancelled, Progress, Tick};
use crate::store::Workspace;

use scan::{Gathered, OrderFacts, ProfileIndex, Scanner};

/// The `settings` key of the fitted models and the refresh watermarks.
pub const MODEL_KEY: &str = "traits_model";

#[derive(Debug, thiserror::Error)]
pub enum TraitsError {
    #[error("could not {context}: {source}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl TraitsError {
    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            TraitsError::Sql { .. } => "store",
            TraitsError::Invalid(_) => "invalid",
            TraitsError::Cancelled(_) => "cancelled",
        }
    }
}

type Result<T, E = TraitsError> = std::result::Result<T, E>;

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> TraitsError {
    move |source| TraitsError::Sql { context, source }
}

/// How predictions are made.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TraitsOptions {
    /// Days ahead that expected purchases and CLV cover.
    pub horizon_days: u32,
    /// Yearly discount rate for CLV (0.10 = 10% a year).
    pub annual_discount_rate: f64,
}

impl Default for TraitsOptions {
    fn default() -> Self {
        TraitsOptions {
            horizon_days: 365,
            annual_discount_rate: 0.10,
        }
    }
}

/// What the last [`compute`] fitted and up to where [`refresh`] has looked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraitsModel {
    pub options: Option<TraitsOptions>,
    /// When the models were fitted.
    pub fitted_at: Option<String>,
    pub bgnbd: Option<BgNbdParams>,
    pub gamma_gamma: Option<GammaGammaParams>,
    /// Why a model could not be fitted, in plain words.
    pub fit_problem: Option<String>,
    /// Customers (buyers) the fit used.
    pub customers: u64,
    /// The workspace's biggest categories by spend at the last compute:
    /// the category-share traits clustering offers.
    #[serde(default)]
    pub top_categories: Vec<String>,
    /// Last import whose rows traits have seen.
    pub import_watermark: i64,
    /// Last identity log entry traits have seen (merges, splits, …).
    pub identity_watermark: i64,
}

/// BG/NBD parameters: purchase rates ~ Gamma(r, α) per day; dropout
/// probability after a purchase ~ Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// Gamma-Gamma parameters: spend per purchase ~ Gamma(p, ν), ν ~ Gamma(q, γ).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaParams {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

/// What a [`compute`] or [`refresh`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraitsReport {
    /// Every profile (true) or only the touched ones (false).
    pub full: bool,
    /// Profiles whose traits were written.
    pub profiles: u64,
    /// Of them, profiles with at least one order.
    pub buyers: u64,
    pub orders: u64,
    pub events: u64,
    /// Orders in another currency than the workspace's: counted as orders,
    /// left out of revenue and CLV.
    pub other_currency_orders: u64,
    pub model: TraitsModel,
    /// (stage, seconds)
    pub stages: Vec<(String, f64)>,
    pub seconds: f64,
}

/// Recomputes the traits of every profile and refits the prediction models.
pub fn compute(
    ws: &mut Workspace,
    now: DateTime<Utc>,
    options: TraitsOptions,
    progress: &mut dyn Progress,
) -> Result<TraitsReport> {
    run(ws, now, Some(options), progress)
}

/// Recomputes the traits of the profiles touched since the last run (new
/// rows in later imports, merges, splits, new profiles), with the models
/// of the last [`compute`]; does a full [`compute`] when there is none.
pub fn refresh(
    ws: &mut Workspace,
    now: DateTime<Utc>,
    progress: &mut dyn Progress,
) -> Result<TraitsReport> {
    run(ws, now, None, progress)
}

/// Minor units per major unit of a currency (100 for USD, 1 for JPY):
/// money is stored in minor units, the models and charts work in major ones.
pub fn currency_scale(currency: &str) -> f64 {
    10f64.powi(crate::ingest::standardise::minor_unit_exponent(currency) as i32)
}

/// What the last [`compute`] fitted (default when it never ran).
pub fn model(conn: &Connection) -> Result<TraitsModel> {
    stored_model(conn)
}

/// Whether [`compute`] has ever run on this workspace.
pub fn is_computed(conn: &Connection) -> Result<bool> {
    Ok(stored_model(conn)?.options.is_some())
}

fn stored_model(conn: &Connection) -> Result<TraitsModel> {
    let json: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [MODEL_KEY],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("read the traits model"))?;
    match json {
        None => Ok(TraitsModel::default()),
        Some(j) => serde_json::from_str(&j).map_err(|e| {
            TraitsError::Invalid(format!(
                "the stored traits model is not readable ({e}); run `cohort traits compute`"
            ))
        }),
    }
}

fn run(
    ws: &mut Workspace,
    now: DateTime<Utc>,
    options: Option<TraitsOptions>,
    progress: &mut dyn Progress,
) -> Result<TraitsReport> {
    let started = Instant::now();
    let mut stages: Vec<(String, f64)> = Vec::new();
    let mut clock = Instant::now();
    let mut stage = |name: &str, clock: &mut Instant| {
        stages.push((name.to_owned(), clock.elapsed().as_secs_f64()));
        *clock = Instant::now();
    };
    let currency = ws
        .setting(crate::store::setting::DEFAULT_CURRENCY)
        .map_err(|e| TraitsError::Invalid(e.to_string()))?;
    let scale = currency_scale(&currency);
    let ws_path = ws.path().to_path_buf();
    let tx = ws
        .conn_mut()
        .transaction()
        .map_err(sql("start writing traits"))?;
    let mut model = stored_model(&tx)?;
    let options = match (options, model.options) {
        (Some(o), _) => Some(o),
        (None, None) => Some(TraitsOptions::default()),
        (None, Some(_)) => None,
    };
    let full = options.is_some();
    let import_watermark: i64 = tx
        .query_row("SELECT coalesce(max(id), 0) FROM imports", [], |r| r.get(0))
        .map_err(sql("read the imports"))?;
    let identity_watermark: i64 = tx
        .query_row("SELECT coalesce(max(id), 0) FROM identity_log", [], |r| {
            r.get(0)
        })
        .map_err(sql("read the identity log"))?;

    // Which profiles.
    let ids: Vec<i64> = if full {
        collect_ids(&tx, "SELECT id FROM profiles", [])?
    } else {
        touched(&tx, &model)?
    };
    if !full {
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS traits_scope (id INTEGER PRIMARY KEY);
             DELETE FROM temp.traits_scope;",
        )
        .map_err(sql("prepare the profiles to refresh"))?;
        let mut insert = tx
            .prepare("INSERT OR IGNORE INTO temp.traits_scope (id) VALUES (?1)")
            .map_err(sql("prepare the profiles to refresh"))?;
        for id in &ids {
            insert
                .execute([id])
                .map_err(sql("prepare the profiles to refresh"))?;
        }
    }
    let profiles = ProfileIndex::new(ids);
    stage("finding profiles", &mut clock);

    let now_secs = now.timestamp();
    let gathered = Scanner {
        conn: &tx,
        profiles: &profiles,
        scoped: !full,
        path: Some(ws_path.clone()),
        currency,
        now: now_secs,
    }
    .gather(progress)?;
    stage("reading orders and events", &mut clock);

    let mut rows = build_rows(&profiles, &gathered, now_secs, scale);
    stage("computing traits", &mut clock);

    // Predictions: refit on a full run, else the stored models.
    if let Some(options) = options {
        let fit = fit_models(&rows);
        model.options = Some(options);
        model.fitted_at = Some(iso(now_secs));
        model.customers = fit.customers;
        model.bgnbd = fit.bgnbd;
        model.gamma_gamma = fit.gamma_gamma;
        model.fit_problem = fit.problem;
        model.top_categories = top_categories(&rows, 6);
        stage("fitting BG/NBD and Gamma-Gamma", &mut clock);
    }
    predict_rows(&mut rows, &model, scale);
    stage("predicting", &mut clock);

    let as_of = iso(now_secs);
    write_rows(&tx, &rows, full, &as_of, progress, started)?;
    stage("writing traits", &mut clock);
    rescore(&tx, now_secs)?;
    stage("ranking RFM", &mut clock);

    model.import_watermark = import_watermark;
    model.identity_watermark = identity_watermark;
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![
            MODEL_KEY,
            serde_json::to_string(&model).expect("model serialises")
        ],
    )
    .map_err(sql("save the traits model"))?;
    if !full {
        tx.execute_batch("DROP TABLE temp.traits_scope")
            .map_err(sql("finish refreshing traits"))?;
    }
    tx.commit().map_err(sql("commit traits"))?;

    Ok(TraitsReport {
        full,
        profiles: rows.len() as u64,
        buyers: rows.iter().filter(|r| r.orders > 0).count() as u64,
        orders: gathered.orders.len() as u64,
        events: gathered
            .engagement
            .iter()
            .map(|e| u64::from(e.events))
            .sum(),
        other_currency_orders: gathered.other_currency_orders,
        model,
        stages,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn iso(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn collect_ids<P: rusqlite::Params>(conn: &Connection, q: &str, p: P) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare(q).map_err(sql("list profiles"))?;
    let ids = stmt
        .query_map(p, |r| r.get::<_, i64>(0))
        .map_err(sql("list profiles"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("list profiles"))?;
    Ok(ids)
}

/// The profiles whose traits may have changed since the last run: those
/// with rows in later imports, those named in later identity log entries
/// (merges, splits, decisions), and profiles without traits yet. Traits of
/// profiles that no longer exist are dropped here.
fn touched(tx: &Transaction<'_>, model: &TraitsModel) -> Result<Vec<i64>> {
    tx.execute(
        "DELETE FROM profile_traits WHERE profile_id NOT IN (SELECT id FROM profiles)",
        [],
    )
    .map_err(sql("drop the traits of merged profiles"))?;
    let w = model.import_watermark;
    let mut ids = collect_ids(
        tx,
        "SELECT r.profile_id FROM orders o
           JOIN identity_records r ON r.source_id = o.source_id AND r.kind = 'order' AND r.source_key = o.source_key
          WHERE o.import_id > ?1 AND r.profile_id IS NOT NULL
         UNION
         SELECT r.profile_id FROM order_lines l
           JOIN identity_records r ON r.source_id = l.source_id AND r.kind = 'order' AND r.source_key = l.order_key
          WHERE l.import_id > ?1 AND r.profile_id IS NOT NULL
         UNION
         SELECT r.profile_id FROM contacts c
           JOIN identity_records r ON r.source_id = c.source_id AND r.kind = 'contact' AND r.source_key = c.source_key
          WHERE c.import_id > ?1 AND r.profile_id IS NOT NULL
         UNION
         SELECT r.profile_id FROM events e
           JOIN identity_records r ON r.source_id = e.source_id AND r.kind = 'device' AND r.source_key = e.anonymous_id
          WHERE e.import_id > ?1 AND r.profile_id IS NOT NULL
         UNION
         SELECT r.profile_id FROM events e
           JOIN identity_records r ON r.kind = 'contact' AND r.source_key = e.customer_key
          WHERE e.import_id > ?1 AND e.customer_key IS NOT NULL AND r.profile_id IS NOT NULL",
        [w],
    )?;
    // Identity changes name the profiles they touched, and merges the
    // profile merged away in their detail.
    let mut stmt = tx
        .prepare("SELECT profile_id, detail FROM identity_log WHERE id > ?1")
        .map_err(sql("read the identity log"))?;
    let mut rows = stmt
        .query([model.identity_watermark])
        .map_err(sql("read the identity log"))?;
    while let Some(r) = rows.next().map_err(sql("read the identity log"))? {
        if let Some(p) = r
            .get::<_, Option<i64>>(0)
            .map_err(sql("read the identity log"))?
        {
            ids.push(p);
        }
        let detail: String = r.get(1).map_err(sql("read the identity log"))?;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&detail) {
            for key in ["into", "merged_profile", "profile", "new_profile"] {
                if let Some(p) = v.get(key).and_then(|p| p.as_i64()) {
                    ids.push(p);
                }
            }
        }
    }
    ids.extend(collect_ids(
        tx,
        "SELECT id FROM profiles WHERE id NOT IN (SELECT profile_id FROM profile_traits)",
        [],
    )?);
    // Merged-away profiles named in the log no longer exist.
    let existing: std::collections::HashSet<i64> = if ids.is_empty() {
        Default::default()
    } else {
        let mut check = tx
            .prepare_cached("SELECT 1 FROM profiles WHERE id = ?1")
            .map_err(sql("list profiles"))?;
        let mut keep = std::collections::HashSet::new();
        for &id in &ids {
            if check.exists([id]).map_err(sql("list profiles"))? {
                keep.insert(id);
            }
        }
        keep
    };
    let mut ids: Vec<i64> = existing.into_iter().collect();
    ids.sort_unstable();
    Ok(ids)
}

/// One profile's traits, as stored in `profile_traits`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileTraits {
    pub profile_id: i64,
    pub as_of: String,
    pub orders: u32,
    /// Minor units of the workspace currency.
    pub revenue: i64,
    pub average_order_value: Option<i64>,
    pub first_order_at: Option<String>,
    pub last_order_at: Option<String>,
    pub days_since_last_order: Option<i32>,
    /// Mean days between distinct purchase days.
    pub purchase_interval: Option<f64>,
    pub top_category: Option<String>,
    pub top_brand: Option<String>,
    /// Share of orders with a discount.
    pub discount_share: Option<f64>,
    pub returns: u32,
    pub refunded: i64,
    pub sessions: u32,
    pub product_views: u32,
    pub add_to_carts: u32,
    pub last_seen_at: Option<String>,
    pub views_7d: u32,
    pub views_30d: u32,
    pub views_90d: u32,
    /// (category, views in the last 7, 30 and 90 days), most viewed first.
    pub category_views: Vec<(String, [u32; 3])>,
    pub preferred_device: Option<String>,
    pub preferred_channel: Option<String>,
    /// 0..23, UTC.
    pub preferred_hour: Option<u8>,
    /// 1 = Monday … 7 = Sunday.
    pub preferred_weekday: Option<u8>,
    pub rfm_recency: Option<u8>,
    pub rfm_frequency: Option<u8>,
    pub rfm_monetary: Option<u8>,
    pub rfm_segment: Option<String>,
    /// Expected purchases over the model's horizon.
    pub expected_purchases: Option<f64>,
    pub p_alive: Option<f64>,
    /// 1 − P(alive).
    pub churn_risk: Option<f64>,
    pub expected_order_value: Option<i64>,
    pub clv: Option<i64>,
    /// Spend per category from order lines (minor units), most first.
    pub category_spend: Vec<(String, i64)>,
    /// For the model: distinct purchase days − 1, days from first to last
    /// purchase day, days from first purchase day to now, mean repeat value
    /// (major units). Not stored.
    #[serde(skip)]
    pub summary: Option<predict::Summary>,
}

fn top<T: Copy + Ord>(counts: &[(u16, T)], names: &[String]) -> Option<String> {
    // Highest count; ties go to the name first in alphabetical order so
    // reruns agree.
    counts
        .iter()
        .max_by(|a, b| {
            a.1.cmp(&b.1)
                .then_with(|| names[b.0 as usize].cmp(&names[a.0 as usize]))
        })
        .map(|(k, _)| names[*k as usize].clone())
}

fn argmax(counts: &[u32]) -> Option<usize> {
    let (i, n) = counts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
    (*n > 0).then_some(i)
}

/// `scale`: minor units per major unit of the workspace currency (the
/// models work in major units).
fn build_rows(profiles: &ProfileIndex, g: &Gathered, now: i64, scale: f64) -> Vec<ProfileTraits> {
    let mut orders: Vec<OrderFacts> = g.orders.clone();
    orders.sort_unstable_by_key(|o| (o.profile, o.at));
    let mut rows = Vec::with_capacity(profiles.ids.len());
    let mut at = 0usize;
    for (i, &id) in profiles.ids.iter().enumerate() {
        let start = at;
        while at < orders.len() && orders[at].profile as usize == i {
            at += 1;
        }
        let own = &orders[start..at];
        let e = &g.engagement[i];
        let b = &g.baskets[i];
        if own.is_empty() && e.events == 0 {
            continue;
        }
        let mut t = ProfileTraits {
            profile_id: id,
            ..Default::default()
        };
        let live: Vec<&OrderFacts> = own.iter().filter(|o| !o.cancelled).collect();
        t.orders = live.len() as u32;
        if !live.is_empty() {
            let money: Vec<i64> = live.iter().filter_map(|o| o.total).collect();
            let gross: i64 = money.iter().sum();
            t.refunded = live.iter().map(|o| o.refunded).sum();
            t.revenue = gross - t.refunded;
            t.returns = live.iter().filter(|o| o.refunded > 0).count() as u32;
            t.average_order_value = (!money.is_empty()).then(|| gross / money.len() as i64);
            let first = live[0].at;
            let last = live[live.len() - 1].at;
            t.first_order_at = Some(iso(first));
            t.last_order_at = Some(iso(last));
            t.days_since_last_order = Some(((now - last).div_euclid(86_400)) as i32);
            t.discount_share =
                Some(live.iter().filter(|o| o.discounted).count() as f64 / live.len() as f64);
            // Purchase days: several orders on one day are one purchase,
            // as the BG/NBD model counts them.
            let mut days: Vec<(i64, i64)> = Vec::new();
            for o in &live {
                let day = o.at.div_euclid(86_400);
                let value = o.total.unwrap_or(0) - o.refunded;
                match days.last_mut() {
                    Some((d, v)) if *d == day => *v += value,
                    _ => days.push((day, value)),
                }
            }
            let (d0, dn) = (days[0].0, days[days.len() - 1].0);
            if days.len() > 1 {
                t.purchase_interval = Some((dn - d0) as f64 / (days.len() - 1) as f64);
            }
            let repeat = &days[1..];
            t.summary = Some(predict::Summary {
                frequency: repeat.len() as f64,
                recency: (dn - d0) as f64,
                age: (now.div_euclid(86_400) - d0).max(dn - d0) as f64,
                monetary: if repeat.is_empty() {
                    0.0
                } else {
                    repeat.iter().map(|(_, v)| *v as f64).sum::<f64>() / repeat.len() as f64 / scale
                },
            });
        }
        t.top_category = top(&b.categories, &g.categories.names);
        let mut spend: Vec<(String, i64)> = b
            .categories
            .iter()
            .filter(|(_, v)| *v > 0)
            .map(|(c, v)| (g.categories.names[*c as usize].clone(), *v))
            .collect();
        spend.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        t.category_spend = spend;
        t.top_brand = top(&b.brands, &g.brands.names);
        t.sessions = e.sessions;
        t.product_views = e.product_views;
        t.add_to_carts = e.add_to_carts;
        t.last_seen_at = e.last_seen.map(iso);
        [t.views_7d, t.views_30d, t.views_90d] = e.views;
        let mut cats: Vec<(String, [u32; 3])> = e
            .category_views
            .iter()
            .map(|(c, v)| (g.categories.names[*c as usize].clone(), *v))
            .collect();
        cats.sort_by(|a, b| b.1[2].cmp(&a.1[2]).then_with(|| a.0.cmp(&b.0)));
        t.category_views = cats;
        t.preferred_device = top(&e.devices, &g.devices.names);
        t.preferred_channel = top(&e.channels, &g.channels.names);
        t.preferred_hour = argmax(&e.hours).map(|h| h as u8);
        t.preferred_weekday = argmax(&e.weekdays).map(|d| d as u8 + 1);
        rows.push(t);
    }
    rows
}

/// The `n` categories with the most spend over all profiles.
fn top_categories(rows: &[ProfileTraits], n: usize) -> Vec<String> {
    let mut totals: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for r in rows {
        for (c, v) in &r.category_spend {
            *totals.entry(c.as_str()).or_default() += v;
        }
    }
    let mut sorted: Vec<(&str, i64)> = totals.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    sorted
        .into_iter()
        .take(n)
        .map(|(c, _)| c.to_owned())
        .collect()
}

struct Fit {
    customers: u64,
    bgnbd: Option<BgNbdParams>,
    gamma_gamma: Option<GammaGammaParams>,
    problem: Option<String>,
}

fn fit_models(rows: &[ProfileTraits]) -> Fit {
    let summaries: Vec<predict::Summary> = rows.iter().filter_map(|r| r.summary).collect();
    let customers = summaries.len() as u64;
    let mut problems = Vec::new();
    let bgnbd = models::fit_bgnbd(&summaries)
        .map_err(|e| problems.push(format!("BG/NBD: {e}")))
        .ok();
    let gamma_gamma = models::fit_gamma_gamma(&summaries)
        .map_err(|e| problems.push(format!("Gamma-Gamma: {e}")))
        .ok();
    Fit {
        customers,
        bgnbd,
        gamma_gamma,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

fn predict_rows(rows: &mut [ProfileTraits], model: &TraitsModel, scale: f64) {
    let (Some(options), Some(bg)) = (model.options, model.bgnbd) else {
        return;
    };
    let buyers: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].summary.is_some())
        .collect();
    let summaries: Vec<predict::Summary> = buyers.iter().filter_map(|&i| rows[i].summary).collect();
    let Some(predictions) =
        models::predict_all(&bg, model.gamma_gamma.as_ref(), &summaries, &options)
    else {
        return;
    };
    for (&i, (expected, alive, value, clv)) in buyers.iter().zip(predictions) {
        let r = &mut rows[i];
        r.expected_purchases = Some(expected);
        r.p_alive = Some(alive);
        r.churn_risk = Some(1.0 - alive);
        r.expected_order_value = value.map(|v| (v * scale).round() as i64);
        r.clv = clv.map(|v| (v * scale).round() as i64);
    }
}

const COLUMNS: &str = "profile_id, as_of, orders, revenue, average_order_value, first_order_at,
    last_order_at, days_since_last_order, purchase_interval, top_category, top_brand,
    discount_share, returns, refunded, sessions, product_views, add_to_carts, last_seen_at,
    views_7d, views_30d, views_90d, category_views, preferred_device, preferred_channel,
    preferred_hour, preferred_weekday, rfm_recency, rfm_frequency, rfm_monetary, rfm_segment,
    expected_purchases, p_alive, churn_risk, expected_order_value, clv, category_spend";

fn write_rows(
    tx: &Transaction<'_>,
    rows: &[ProfileTraits],
    full: bool,
    as_of: &str,
    progress: &mut dyn Progress,
    started: Instant,
) -> Result<()> {
    const WHAT: &str = "write traits";
    if full {
        tx.execute("DELETE FROM profile_traits", [])
            .map_err(sql(WHAT))?;
    } else {
        tx.execute(
            "DELETE FROM profile_traits WHERE profile_id IN (SELECT id FROM temp.traits_scope)",
            [],
        )
        .map_err(sql(WHAT))?;
    }
    let placeholders = (1..=36)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut insert = tx
        .prepare(&format!(
            "INSERT INTO profile_traits ({COLUMNS}) VALUES ({placeholders})"
        ))
        .map_err(sql(WHAT))?;
    for (n, t) in rows.iter().enumerate() {
        if n % 65_536 == 0 {
            progress.tick(&Tick {
                stage: "Writing traits",
                done: n as u64,
                total: Some(rows.len() as u64),
                bytes: 0,
                total_bytes: None,
                elapsed: started.elapsed(),
            });
            if progress.is_cancelled() {
                return Err(Cancelled.into());
            }
        }
        let cats = (!t.category_views.is_empty())
            .then(|| serde_json::to_string(&t.category_views).expect("views serialise"));
        let spend = (!t.category_spend.is_empty()).then(|| {
            let map: serde_json::Map<String, serde_json::Value> = t
                .category_spend
                .iter()
                .map(|(c, v)| (c.clone(), serde_json::Value::from(*v)))
                .collect();
            serde_json::Value::Object(map).to_string()
        });
        insert
            .execute(rusqlite::params![
                t.profile_id,
                as_of,
                t.orders,
                t.revenue,
                t.average_order_value,
                t.first_order_at,
                t.last_order_at,
                t.days_since_last_order,
                t.purchase_interval,
                t.top_category,
                t.top_brand,
                t.discount_share,
                t.returns,
                t.refunded,
                t.sessions,
                t.product_views,
                t.add_to_carts,
                t.last_seen_at,
                t.views_7d,
                t.views_30d,
                t.views_90d,
                cats,
                t.preferred_device,
                t.preferred_channel,
                t.preferred_hour,
                t.preferred_weekday,
                t.rfm_recency,
                t.rfm_frequency,
                t.rfm_monetary,
                t.rfm_segment,
                t.expected_purchases,
                t.p_alive,
                t.churn_risk,
                t.expected_order_value,
                t.clv,
                spend,
            ])
            .map_err(sql(WHAT))?;
    }
    Ok(())
}

/// Re-ranks RFM over every buyer in the workspace (quintiles are relative
/// to everyone) and brings "days since the last order" up to `now`;
/// writes only the rows whose figures changed.
fn rescore(tx: &Transaction<'_>, now: i64) -> Result<()> {
    const WHAT: &str = "rank RFM";
    struct Buyer {
        id: i64,
        days: f64,
        orders: f64,
        revenue: f64,
        old: (Option<i64>, Option<u8>, Option<u8>, Option<u8>),
    }
    let mut stmt = tx
        .prepare(
            "SELECT profile_id, last_order_at, orders, revenue, days_since_last_order,
                    rfm_recency, rfm_frequency, rfm_monetary
               FROM profile_traits WHERE orders > 0 AND last_order_at IS NOT NULL",
        )
        .map_err(sql(WHAT))?;
    let buyers: Vec<Buyer> = stmt
        .query_map([], |r| {
            let last: String = r.get(1)?;
            let days = scan::epoch_seconds(&last).map_or(0, |l| (now - l).div_euclid(86_400));
            Ok(Buyer {
                id: r.get(0)?,
                days: days as f64,
                orders: r.get::<_, i64>(2)? as f64,
                revenue: r.get::<_, i64>(3)? as f64,
                old: (r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?),
            })
        })
        .map_err(sql(WHAT))?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql(WHAT))?;
    drop(stmt);
    let days: Vec<f64> = buyers.iter().map(|b| b.days).collect();
    let r = rfm::scores_lower_better(&days);
    let f = rfm::scores_higher_better(&buyers.iter().map(|b| b.orders).collect::<Vec<_>>());
    let m = rfm::scores_higher_better(&buyers.iter().map(|b| b.revenue).collect::<Vec<_>>());
    let mut update = tx
        .prepare(
            "UPDATE profile_traits SET days_since_last_order = ?2, rfm_recency = ?3,
                    rfm_frequency = ?4, rfm_monetary = ?5, rfm_segment = ?6
              WHERE profile_id = ?1",
        )
        .map_err(sql(WHAT))?;
    for (i, b) in buyers.iter().enumerate() {
        let new = (Some(b.days as i64), Some(r[i]), Some(f[i]), Some(m[i]));
        if new != b.old {
            update
                .execute(params![
                    b.id,
                    b.days as i64,
                    r[i],
                    f[i],
                    m[i],
                    rfm::segment(r[i], f[i], m[i])
                ])
                .map_err(sql(WHAT))?;
        }
    }
    Ok(())
}

/// One profile's traits, or `None` when it has no orders or events (or
/// traits were never computed).
pub fn get(conn: &Connection, profile_id: i64) -> Result<Option<ProfileTraits>> {
    const WHAT: &str = "read the traits of a profile";
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM profile_traits WHERE profile_id = ?1"),
        [profile_id],
        |r| {
            let cats: Option<String> = r.get(21)?;
            let p_alive: Option<f64> = r.get(31)?;
            Ok(ProfileTraits {
                profile_id: r.get(0)?,
                as_of: r.get(1)?,
                orders: r.get(2)?,
                revenue: r.get(3)?,
                average_order_value: r.get(4)?,
                first_order_at: r.get(5)?,
                last_order_at: r.get(6)?,
                days_since_last_order: r.get(7)?,
                purchase_interval: r.get(8)?,
                top_category: r.get(9)?,
                top_brand: r.get(10)?,
                discount_share: r.get(11)?,
                returns: r.get(12)?,
                refunded: r.get(13)?,
                sessions: r.get(14)?,
                product_views: r.get(15)?,
                add_to_carts: r.get(16)?,
                last_seen_at: r.get(17)?,
                views_7d: r.get(18)?,
                views_30d: r.get(19)?,
                views_90d: r.get(20)?,
                category_views: cats
                    .and_then(|c| serde_json::from_str(&c).ok())
                    .unwrap_or_default(),
                preferred_device: r.get(22)?,
                preferred_channel: r.get(23)?,
                preferred_hour: r.get(24)?,
                preferred_weekday: r.get(25)?,
                rfm_recency: r.get(26)?,
                rfm_frequency: r.get(27)?,
                rfm_monetary: r.get(28)?,
                rfm_segment: r.get(29)?,
                expected_purchases: r.get(30)?,
                p_alive,
                churn_risk: r.get(32)?,
                expected_order_value: r.get(33)?,
                clv: r.get(34)?,
                category_spend: {
                    let json: Option<String> = r.get(35)?;
                    let mut spend: Vec<(String, i64)> = json
                        .and_then(|j| {
                            serde_json::from_str::<std::collections::BTreeMap<String, i64>>(&j).ok()
                        })
                        .map(|m| m.into_iter().collect())
                        .unwrap_or_default();
                    spend.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                    spend
                },
                summary: None,
            })
        },
    )
    .optional()
    .map_err(sql(WHAT))
}
