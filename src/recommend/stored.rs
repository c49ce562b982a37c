//! Training runs and their stored lists: what templates, exports and the
//! app read, so that nobody retrains to show a recommendation.

use std::collections::HashMap;

use rayon::prelude::*;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::content::Content;
use super::interactions::{self, Interactions};
use super::rules::Applied;
use super::{evaluate, Evaluation, Fitted, ModelKind, RecommendError, Settings};
use crate::progress::{Cancelled, Progress, Tick};
use crate::store::Workspace;

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> RecommendError {
    move |source| RecommendError::Sql { context, source }
}

/// Neighbours stored per product for "similar products".
const SIMILAR: usize = 20;

/// A training run as the app and CLI show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RunSummary {
    pub id: i64,
    pub created_at: String,
    pub model: ModelKind,
    pub label: String,
    pub parameters: String,
    pub settings: Settings,
    pub evaluation: Option<Evaluation>,
    pub profiles: u64,
    pub products: u64,
    pub interactions: u64,
    pub seconds: f64,
}

/// A stored recommendation with the product's catalogue fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RecommendedProduct {
    pub rank: u32,
    pub sku: String,
    pub title: Option<String>,
    pub category: Option<String>,
    pub brand: Option<String>,
    /// Minor units of the product's currency.
    pub price: Option<i64>,
    pub currency: Option<String>,
    pub score: f64,
    pub reason: String,
    pub because: Option<String>,
    pub because_title: Option<String>,
}

/// A product similar to another, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SimilarProduct {
    pub rank: u32,
    pub sku: String,
    pub title: Option<String>,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub price: Option<i64>,
    pub currency: Option<String>,
    pub score: f64,
    pub reason: String,
}

/// Reads the interactions, evaluates every model (tuning it on the
/// validation period when `settings.grid_search`), fits the chosen model on
/// everything, and replaces the stored lists in one transaction.
/// `now` (ISO 8601) is when interactions are aged from.
pub fn train(
    ws: &mut Workspace,
    settings: &Settings,
    now: &str,
    progress: &mut dyn Progress,
) -> Result<RunSummary, RecommendError> {
    let started = std::time::Instant::now();
    if settings.n == 0 || settings.n > 100 {
        return Err(RecommendError::Invalid(format!(
            "recommendations per profile must be 1 to 100, not {}",
            settings.n
        )));
    }
    if settings.k == 0 || settings.k > 100 {
        return Err(RecommendError::Invalid(format!(
            "k must be 1 to 100, not {}",
            settings.k
        )));
    }
    if settings.als.factors == 0 || settings.als.factors > 512 || settings.als.iterations == 0 {
        return Err(RecommendError::Invalid(
            "ALS needs 1 to 512 factors and at least one iteration".into(),
        ));
    }
    let now_secs = crate::traits::scan::epoch_seconds(now)
        .ok_or_else(|| RecommendError::Invalid(format!("“{now}” is not an ISO 8601 time")))?;
    let data = interactions::load(ws.conn(), progress)?;
    if data.rows.is_empty() {
        return Err(RecommendError::NoInteractions);
    }
    let groups = cluster_groups(ws.conn(), &data)?;
    let groups = groups.as_deref();

    let mut fit_progress = |stage: &str, done: u64, total: Option<u64>| {
        progress.tick(&Tick {
            stage,
            done,
            total,
            bytes: 0,
            total_bytes: None,
            elapsed: started.elapsed(),
        });
        !progress.is_cancelled()
    };
    // An evaluation needs a test period with purchases after some history;
    // a workspace without enough of it still gets its lists.
    let evaluation = match evaluate(&data, settings, groups, &mut fit_progress) {
        Ok(e) if e.models.iter().any(|m| m.test.profiles > 0) => Some(e),
        Ok(_) => None,
        Err(RecommendError::Cancelled(c)) => return Err(c.into()),
        Err(e) => return Err(e),
    };
    let tuned = evaluation.as_ref().map_or_else(
        || settings.clone(),
        |e| {
            let mut t = e.tuned.clone();
            t.rules = settings.rules.clone();
            t
        },
    );
    let kind = settings
        .model
        .or(evaluation.as_ref().map(|e| e.best))
        .unwrap_or(ModelKind::ItemKnn);

    // Interactions are aged from the latest one, not from the clock: a
    // retrain on the same data gives the same lists.
    let as_of = data.latest().unwrap_or(now_secs).min(now_secs);
    let matrix = data.matrix(&tuned.weights, as_of, |_| true);
    let fitted = Fitted::fit(
        kind,
        &matrix,
        &data.catalogue,
        groups,
        &tuned,
        &mut fit_progress,
    )
    .ok_or(Cancelled)?;
    let applied = Applied::new(&tuned.rules, &data.catalogue, &fitted.content);

    // Undated orders' lines too: bought is bought.
    let purchased = data.purchased_before(i64::MAX);
    if !fit_progress(
        "Picking products for every profile",
        0,
        Some(data.profiles.len() as u64),
    ) {
        return Err(Cancelled.into());
    }
    let everyone: Vec<usize> = (0..data.profiles.len()).collect();
    let lists: Vec<Vec<super::Pick>> = fitted.recommend_many(
        &data.catalogue,
        &applied,
        &matrix,
        &everyone,
        &purchased,
        groups,
        tuned.n,
    );
    if !fit_progress("Storing recommendations", 0, Some(lists.len() as u64)) {
        return Err(Cancelled.into());
    }
    let popular = fitted.recommend(
        &data.catalogue,
        &applied,
        0,
        (&[], &[]),
        &[],
        None,
        tuned.n,
        &mut Vec::new(),
    );
    let similar = similar_products(&fitted, &matrix, &data, &tuned);

    let created_at = now.to_owned();
    let seconds = started.elapsed().as_secs_f64();
    let tx = ws
        .conn_mut()
        .transaction()
        .map_err(sql("start storing recommendations"))?;
    tx.execute("DELETE FROM recommendations", [])
        .map_err(sql("replace the recommendations"))?;
    tx.execute("DELETE FROM product_neighbours", [])
        .map_err(sql("replace the similar products"))?;
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO recommendations (profile_id, rank, sku, score, reason, because_sku)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(sql("store the recommendations"))?;
        for (u, list) in lists.iter().enumerate() {
            if u % 20_000 == 0 {
                fit_progress(
                    "Storing recommendations",
                    u as u64,
                    Some(lists.len() as u64),
                );
            }
            for (rank, p) in list.iter().enumerate() {
                insert
                    .execute(params![
                        data.profiles[u],
                        rank as i64 + 1,
                        data.catalogue.products[p.item as usize].sku,
                        f64::from(p.score),
                        p.explanation.text,
                        p.explanation.because,
                    ])
                    .map_err(sql("store the recommendations"))?;
            }
        }
        let mut insert = tx
            .prepare(
                "INSERT INTO product_neighbours (sku, rank, neighbour, score, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sql("store the similar products"))?;
        for (i, list) in similar.iter().enumerate() {
            for (rank, (j, score, reason)) in list.iter().enumerate() {
                insert
                    .execute(params![
                        data.catalogue.products[i].sku,
                        rank as i64 + 1,
                        data.catalogue.products[*j as usize].sku,
                        f64::from(*score),
                        reason,
                    ])
                    .map_err(sql("store the similar products"))?;
            }
        }
    }
    let popular_skus: Vec<(String, String)> = popular
        .iter()
        .map(|p| {
            (
                data.catalogue.products[p.item as usize].sku.clone(),
                p.explanation.text.clone(),
            )
        })
        .collect();
    tx.execute(
        "INSERT INTO recommendation_runs
           (created_at, model, settings, evaluation, popular, profiles, products, interactions, seconds)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            created_at,
            kind.name(),
            serde_json::to_string(&tuned).expect("settings serialise"),
            evaluation.as_ref().map(|e| serde_json::to_string(e).expect("evaluation serialises")),
            serde_json::to_string(&popular_skus).expect("list serialises"),
            data.profiles.len() as i64,
            data.catalogue.len() as i64,
            data.rows.len() as i64,
            seconds,
        ],
    )
    .map_err(sql("record the training run"))?;
    let id = tx.last_insert_rowid();
    if !fit_progress(
        "Storing recommendations",
        lists.len() as u64,
        Some(lists.len() as u64),
    ) {
        return Err(Cancelled.into());
    }
    tx.commit().map_err(sql("store the recommendations"))?;
    run(ws.conn(), id)
}

/// Each profile's cluster in the latest clustering run, by matrix row.
fn cluster_groups(
    conn: &Connection,
    data: &Interactions,
) -> Result<Option<Vec<Option<u32>>>, RecommendError> {
    const WHAT: &str = "read the latest clusters";
    let mut stmt = conn
        .prepare(
            "SELECT profile_id, cluster FROM cluster_members
              WHERE run_id = (SELECT max(id) FROM cluster_runs)",
        )
        .map_err(sql(WHAT))?;
    let mut rows = stmt.query([]).map_err(sql(WHAT))?;
    let mut groups = vec![None; data.profiles.len()];
    let mut any = false;
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        if let Some(u) = data.user_of(r.get(0).map_err(sql(WHAT))?) {
            groups[u as usize] = Some(r.get::<_, i64>(1).map_err(sql(WHAT))? as u32);
            any = true;
        }
    }
    Ok(any.then_some(groups))
}

/// Similar products: item-item neighbours where people's behaviour says
/// so, then products sharing category, brand and price band.
fn similar_products(
    fitted: &Fitted,
    matrix: &super::matrix::Matrix,
    data: &Interactions,
    settings: &Settings,
) -> Vec<Vec<(u32, f32, String)>> {
    let knn = match &fitted.knn {
        Some(k) => k.clone(),
        None => super::item_knn::neighbours(matrix, &settings.knn),
    };
    let content: &Content = &fitted.content;
    (0..data.catalogue.len())
        .into_par_iter()
        .map_init(
            || vec![0f32; data.catalogue.len()],
            |scratch, i| {
                let mut out: Vec<(u32, f32, String)> = knn.lists[i]
                    .iter()
                    .take(SIMILAR)
                    .map(|&(j, s)| (j, s, "Bought or viewed by the same customers".to_owned()))
                    .collect();
                if out.len() < SIMILAR {
                    scratch.iter_mut().for_each(|s| *s = 0.0);
                    content.score(&[i as u32], &[1.0], scratch);
                    scratch[i] = 0.0;
                    let mut rest: Vec<(u32, f32)> = scratch
                        .iter()
                        .enumerate()
                        .filter(|&(j, &s)| s > 0.0 && !out.iter().any(|o| o.0 as usize == j))
                        .map(|(j, &s)| (j as u32, s))
                        .collect();
                    super::top_n(&mut rest, SIMILAR - out.len());
                    // Below any behaviour-based neighbour, which is measured.
                    out.extend(rest.into_iter().map(|(j, s)| {
                        (
                            j,
                            s * 1e-3,
                            "Same category, brand or price range".to_owned(),
                        )
                    }));
                }
                out
            },
        )
        .collect()
}

fn run(conn: &Connection, id: i64) -> Result<RunSummary, RecommendError> {
    const WHAT: &str = "read the training run";
    conn.query_row(
        "SELECT id, created_at, model, settings, evaluation, profiles, products, interactions, seconds
           FROM recommendation_runs WHERE id = ?1",
        [id],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, f64>(8)?,
            ))
        },
    )
    .map_err(sql(WHAT))
    .map(|(id, created_at, model, settings, evaluation, profiles, products, interactions, seconds)| {
        let model = ModelKind::parse(&model).unwrap_or(ModelKind::Popularity);
        let settings: Settings = serde_json::from_str(&settings).unwrap_or_default();
        RunSummary {
            id,
            created_at,
            model,
            label: model.label().into(),
            parameters: super::describe_params(model, &settings),
            settings,
            evaluation: evaluation.and_then(|e| serde_json::from_str(&e).ok()),
            profiles: profiles as u64,
            products: products as u64,
            interactions: interactions as u64,
            seconds,
        }
    })
}

/// The latest training run, if any.
pub fn latest_run(conn: &Connection) -> Result<Option<RunSummary>, RecommendError> {
    let id: Option<i64> = conn
        .query_row("SELECT max(id) FROM recommendation_runs", [], |r| r.get(0))
        .map_err(sql("read the training runs"))?;
    id.map(|id| run(conn, id)).transpose()
}

/// A product's catalogue fields, by SKU (the latest row of the catalogue).
const PRODUCT: &str = "(SELECT p.title, p.category, p.brand, p.price, p.currency FROM products p
                         WHERE p.sku = ?1 ORDER BY p.id DESC LIMIT 1)";

type Fields = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

fn product_fields(conn: &Connection, sku: &str) -> Result<Fields, RecommendError> {
    Ok(conn
        .query_row(&format!("SELECT * FROM {PRODUCT}"), [sku], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()
        .map_err(sql("read the product"))?
        .unwrap_or_default())
}

/// A profile's stored recommendations, best first; a profile created since
/// the last training gets the stored popular list.
pub fn for_profile(
    conn: &Connection,
    profile: i64,
) -> Result<Vec<RecommendedProduct>, RecommendError> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM profiles WHERE id = ?1)",
            [profile],
            |r| r.get(0),
        )
        .map_err(sql("find the profile"))?;
    if !exists {
        return Err(RecommendError::NoProfile(profile));
    }
    let popular: String = conn
        .query_row(
            "SELECT popular FROM recommendation_runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("read the training runs"))?
        .ok_or(RecommendError::NotTrained)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT rank, sku, score, reason, because_sku FROM recommendations
              WHERE profile_id = ?1 ORDER BY rank",
        )
        .map_err(sql("read the recommendations"))?;
    let mut stored: Vec<(u32, String, f64, String, Option<String>)> = stmt
        .query_map([profile], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(sql("read the recommendations"))?;
    if stored.is_empty() {
        let list: Vec<(String, String)> = serde_json::from_str(&popular).unwrap_or_default();
        stored = list
            .into_iter()
            .enumerate()
            .map(|(i, (sku, reason))| (i as u32 + 1, sku, 0.0, reason, None))
            .collect();
    }
    let mut titles: HashMap<String, Option<String>> = HashMap::new();
    stored
        .into_iter()
        .map(|(rank, sku, score, reason, because)| {
            let (title, category, brand, price, currency) = product_fields(conn, &sku)?;
            let because_title = match &because {
                Some(b) => match titles.get(b) {
                    Some(t) => t.clone(),
                    None => {
                        let t = product_fields(conn, b)?.0;
                        titles.insert(b.clone(), t.clone());
                        t
                    }
                },
                None => None,
            };
            Ok(RecommendedProduct {
                rank,
                sku,
                title,
                category,
                brand,
                price,
                currency,
                score,
                reason,
                because,
                because_title,
            })
        })
        .collect()
}

/// The stored products most similar to `sku`.
pub fn similar_to(conn: &Connection, sku: &str) -> Result<Vec<SimilarProduct>, RecommendError> {
    if latest_run(conn)?.is_none() {
        return Err(RecommendError::NotTrained);
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT rank, neighbour, score, reason FROM product_neighbours WHERE sku = ?1 ORDER BY rank",
        )
        .map_err(sql("read the similar products"))?;
    let rows: Vec<(u32, String, f64, String)> = stmt
        .query_map([sku], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .and_then(|rows| rows.collect())
        .map_err(sql("read the similar products"))?;
    if rows.is_empty() {
        let known: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM products WHERE sku = ?1)
                     OR EXISTS (SELECT 1 FROM order_lines WHERE sku = ?1)",
                [sku],
                |r| r.get(0),
            )
            .map_err(sql("find the product"))?;
        if !known {
            return Err(RecommendError::NoProduct(sku.to_owned()));
        }
    }
    rows.into_iter()
        .map(|(rank, neighbour, score, reason)| {
            let (title, category, brand, price, currency) = product_fields(conn, &neighbour)?;
            Ok(SimilarProduct {
                rank,
                sku: neighbour,
                title,
                category,
                brand,
                price,
                currency,
                score,
                reason,
            })
        })
        .collect()
}

/// Evaluates every model on the workspace's interactions without storing
/// anything (`cohort eval recommend`).
pub fn evaluate_workspace(
    ws: &Workspace,
    settings: &Settings,
    progress: &mut dyn Progress,
) -> Result<Evaluation, RecommendError> {
    let started = std::time::Instant::now();
    let data = interactions::load(ws.conn(), progress)?;
    if data.rows.is_empty() {
        return Err(RecommendError::NoInteractions);
    }
    let groups = cluster_groups(ws.conn(), &data)?;
    let mut fit_progress = |stage: &str, done: u64, total: Option<u64>| {
        progress.tick(&Tick {
            stage,
            done,
            total,
            bytes: 0,
            total_bytes: None,
            elapsed: started.elapsed(),
        });
        !progress.is_cancelled()
    };
    evaluate(&data, settings, groups.as_deref(), &mut fit_progress)
}

/// The evaluation's charts: NDCG@k and recall@k of every model on the test
/// period (`cohort chart recommend_ndcg`, the app's "save" buttons).
pub fn charts(e: &Evaluation) -> Vec<crate::traits::NamedChart> {
    use crate::charts::{Bar, BarChart, BarColors, ChartOptions, ChartSpec, Unit};
    let chart = |name, what: &str, value: fn(&super::Metrics) -> f64| crate::traits::NamedChart {
        name,
        spec: ChartSpec::Bar(
            BarChart::new(
                e.models
                    .iter()
                    .map(|m| Bar::new(m.label.clone(), value(&m.test)))
                    .collect(),
                "Model",
                format!("{what}@{}", e.k),
                Unit::Number,
            )
            .horizontal()
            .colors(BarColors::Categorical),
        ),
        options: ChartOptions::new(format!("{what}@{} by model", e.k)).with_subtitle(format!(
            "Trained on interactions before {}, tested on the purchases after",
            e.test_from
        )),
    };
    vec![
        chart("recommend_ndcg", "NDCG", |m| m.ndcg),
        chart("recommend_recall", "Recall", |m| m.recall),
    ]
}

/// Distinct SKUs in the catalogue, orders and events.
pub fn product_count(conn: &Connection) -> Result<u64, RecommendError> {
    conn.query_row(
        "SELECT count(*) FROM (SELECT sku FROM products UNION SELECT sku FROM order_lines WHERE sku <> '')",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .map_err(sql("count the products"))
}

/// A catalogue product found by SKU or title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CatalogueProduct {
    pub sku: String,
    pub title: Option<String>,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub price: Option<i64>,
    pub currency: Option<String>,
    pub in_stock: Option<bool>,
}

/// Products whose SKU or title contains `query` (case-insensitive), SKU
/// matches first; an empty query lists the catalogue.
pub fn search_products(
    conn: &Connection,
    query: &str,
    limit: u32,
) -> Result<Vec<CatalogueProduct>, RecommendError> {
    let q = query.trim().to_lowercase();
    // LIKE's wildcards in the query are literal text.
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let mut stmt = conn
        .prepare_cached(
            "SELECT sku, title, category, brand, price, currency, in_stock FROM products
              WHERE id IN (SELECT max(id) FROM products GROUP BY sku)
                AND (lower(sku) LIKE '%' || ?1 || '%' ESCAPE '\\'
                     OR lower(coalesce(title, '')) LIKE '%' || ?1 || '%' ESCAPE '\\')
              ORDER BY lower(sku) <> ?2, instr(lower(sku), ?2) = 0, sku
              LIMIT ?3",
        )
        .map_err(sql("search the products"))?;
    let rows = stmt
        .query_map(params![escaped, q, i64::from(limit)], |r| {
            Ok(CatalogueProduct {
                sku: r.get(0)?,
                title: r.get(1)?,
                category: r.get(2)?,
                brand: r.get(3)?,
                price: r.get(4)?,
                currency: r.get(5)?,
                in_stock: r.get::<_, Option<i64>>(6)?.map(|v| v != 0),
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(sql("search the products"))?;
    Ok(rows)
}
