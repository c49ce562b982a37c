//! Clustering the workspace's profiles: traits in from `profile_traits`,
//! [`super::run`] in the middle, the run and its members out to
//! `cluster_runs` / `cluster_members`, clusters saved as segments.
//!
//! A run is kept whole (its result JSON without per-profile labels); the
//! members of only the latest [`KEEP_MEMBERS`] runs are kept, which is what
//! "save as segment" needs, so a million-profile workspace does not grow by
//! a million rows per click.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Algorithm, ClusterError, Clustering, Config, Feature, FeatureKind};
use crate::charts::{
    BarChart, ChartOptions, ChartSpec, ClusterProfile, ClusterProfiles, ClusterScatter, KSelection,
    ScatterPoint,
};
use crate::progress::Progress;
use crate::store::Workspace;
use crate::traits::NamedChart;

/// Runs whose members are kept.
pub const KEEP_MEMBERS: i64 = 5;

/// A trait a clustering can use: its column, its names, how it is worded.
#[derive(Debug, Clone, Copy)]
pub struct TraitColumn {
    pub name: &'static str,
    /// What a marketer calls it.
    pub label: &'static str,
    /// Lower-case words for the descriptions ("spend 3.1× the average").
    pub words: &'static str,
    pub group: &'static str,
    pub kind: FeatureKind,
    /// Picked unless the user says otherwise.
    pub default: bool,
    /// Needs an order: profiles without one are left out when it is used.
    pub buyers_only: bool,
    /// The `profile_traits` column (a constant: never user text); money
    /// columns are in minor units and read as major units.
    sql: &'static str,
}

#[allow(clippy::too_many_arguments)] // a table row, read as one line each
const fn column(
    name: &'static str,
    label: &'static str,
    words: &'static str,
    group: &'static str,
    kind: FeatureKind,
    default: bool,
    buyers_only: bool,
    sql: &'static str,
) -> TraitColumn {
    TraitColumn {
        name,
        label,
        words,
        group,
        kind,
        default,
        buyers_only,
        sql,
    }
}

/// The traits a clustering can use, in the order the app lists them.
pub const TRAIT_COLUMNS: [TraitColumn; 16] = [
    column(
        "rfm_recency",
        "Recency score",
        "recency score",
        "RFM",
        FeatureKind::Score,
        false,
        true,
        "rfm_recency",
    ),
    column(
        "rfm_frequency",
        "Frequency score",
        "frequency score",
        "RFM",
        FeatureKind::Score,
        false,
        true,
        "rfm_frequency",
    ),
    column(
        "rfm_monetary",
        "Monetary score",
        "monetary score",
        "RFM",
        FeatureKind::Score,
        false,
        true,
        "rfm_monetary",
    ),
    column(
        "orders",
        "Orders",
        "orders",
        "Orders",
        FeatureKind::Count,
        true,
        true,
        "orders",
    ),
    column(
        "revenue",
        "Revenue",
        "spend",
        "Orders",
        FeatureKind::Money,
        true,
        true,
        "revenue",
    ),
    column(
        "average_order_value",
        "Average order value",
        "order value",
        "Orders",
        FeatureKind::Money,
        false,
        true,
        "average_order_value",
    ),
    column(
        "days_since_last_order",
        "Days since last order",
        "last order",
        "Orders",
        FeatureKind::Days,
        true,
        true,
        "days_since_last_order",
    ),
    column(
        "purchase_interval",
        "Days between purchases",
        "days between purchases",
        "Orders",
        FeatureKind::Score,
        false,
        true,
        "purchase_interval",
    ),
    column(
        "discount_share",
        "Orders with a discount",
        "discount use",
        "Orders",
        FeatureKind::Share,
        false,
        true,
        "discount_share",
    ),
    column(
        "sessions",
        "Sessions",
        "sessions",
        "Engagement",
        FeatureKind::Count,
        true,
        false,
        "sessions",
    ),
    column(
        "product_views",
        "Product views",
        "product views",
        "Engagement",
        FeatureKind::Count,
        false,
        false,
        "product_views",
    ),
    column(
        "add_to_carts",
        "Add-to-carts",
        "add-to-carts",
        "Engagement",
        FeatureKind::Count,
        false,
        false,
        "add_to_carts",
    ),
    column(
        "views_30d",
        "Product views, last 30 days",
        "recent views",
        "Engagement",
        FeatureKind::Count,
        false,
        false,
        "views_30d",
    ),
    column(
        "clv",
        "Predicted CLV",
        "predicted value",
        "Predictions",
        FeatureKind::Money,
        true,
        true,
        "clv",
    ),
    column(
        "churn_risk",
        "Churn risk",
        "churn risk",
        "Predictions",
        FeatureKind::Share,
        false,
        true,
        "churn_risk",
    ),
    column(
        "expected_purchases",
        "Expected purchases",
        "expected purchases",
        "Predictions",
        FeatureKind::Count,
        false,
        true,
        "expected_purchases",
    ),
];

/// What to cluster and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterRequest {
    /// Names from [`TRAIT_COLUMNS`].
    pub features: Vec<String>,
    pub config: Config,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedRun {
    pub id: i64,
    pub created_at: String,
    pub request: ClusterRequest,
    /// Without per-profile labels (those are in `cluster_members`).
    pub result: Clustering,
    /// Profiles left out: noise, or without the traits asked for.
    pub unassigned: u64,
    pub seconds: f64,
    /// Clusters the user renamed: their names carry over to later runs
    /// that keep their id.
    #[serde(default)]
    pub renamed: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not {context}: {source}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("there is no trait “{0}” to cluster on; the traits are {1}")]
    UnknownTrait(String, String),
    #[error("pick at least one trait to cluster on")]
    NoTraits,
    #[error("there are no profiles with traits to cluster: import orders or events, resolve identities, then compute traits (Insights → Compute traits, or `cohort traits compute`)")]
    NoProfiles,
    #[error("there is no clustering run #{0}")]
    NoRun(i64),
    #[error("run #{run} has no cluster {cluster}")]
    NoCluster { run: i64, cluster: u32 },
    #[error("the members of run #{0} are no longer kept (only the latest {KEEP_MEMBERS} runs keep them); run the clustering again")]
    MembersGone(i64),
    #[error("a cluster needs a name")]
    EmptyName,
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Segment(#[from] crate::segments::SegmentError),
}

impl RunError {
    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            RunError::Sql { .. } => "store",
            RunError::NoRun(_) | RunError::NoCluster { .. } => "not_found",
            RunError::Cluster(ClusterError::Cancelled(_)) => "cancelled",
            RunError::Segment(e) => e.code(),
            _ => "invalid",
        }
    }
}

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> RunError {
    move |source| RunError::Sql { context, source }
}

/// The prefix of the category-share traits: `category_share:Tents` is the
/// share of a buyer's spend that went on tents.
pub const CATEGORY_SHARE: &str = "category_share:";

/// A trait as offered to the user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureInfo {
    pub name: String,
    pub label: String,
    pub group: String,
    pub default: bool,
}

/// The traits a clustering of this workspace can use: the fixed ones and
/// the share of spend on each of the biggest categories.
pub fn features(conn: &Connection) -> Result<Vec<FeatureInfo>, RunError> {
    let mut out: Vec<FeatureInfo> = TRAIT_COLUMNS
        .iter()
        .map(|c| FeatureInfo {
            name: c.name.to_owned(),
            label: c.label.to_owned(),
            group: c.group.to_owned(),
            default: c.default,
        })
        .collect();
    let model = crate::traits::model(conn).map_err(|e| RunError::Sql {
        context: "read the traits model",
        source: match e {
            crate::traits::TraitsError::Sql { source, .. } => source,
            other => rusqlite::Error::InvalidParameterName(other.to_string()),
        },
    })?;
    out.extend(model.top_categories.iter().map(|c| FeatureInfo {
        name: format!("{CATEGORY_SHARE}{c}"),
        label: format!("Share of spend: {c}"),
        group: "Category shares".to_owned(),
        default: false,
    }));
    Ok(out)
}

enum Column {
    Trait(&'static TraitColumn),
    CategoryShare(String),
}

fn column_named(name: &str) -> Result<Column, RunError> {
    match name.strip_prefix(CATEGORY_SHARE) {
        Some(cat) if !cat.is_empty() => Ok(Column::CategoryShare(cat.to_owned())),
        _ => trait_column(name).map(Column::Trait),
    }
}

fn trait_column(name: &str) -> Result<&'static TraitColumn, RunError> {
    TRAIT_COLUMNS
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            RunError::UnknownTrait(name.to_owned(), TRAIT_COLUMNS.map(|c| c.name).join(", "))
        })
}

/// Clusters the profiles on the traits asked for, stores the run and its
/// members, and returns it. Cluster ids follow the latest run on the same
/// traits, so a group that barely moved keeps its id (and its name).
pub fn run(
    ws: &mut Workspace,
    request: &ClusterRequest,
    now: &str,
    progress: &mut dyn Progress,
) -> Result<SavedRun, RunError> {
    let started = std::time::Instant::now();
    if request.features.is_empty() {
        return Err(RunError::NoTraits);
    }
    let columns: Vec<Column> = request
        .features
        .iter()
        .map(|f| column_named(f))
        .collect::<Result<_, _>>()?;
    let buyers_only = columns.iter().any(|c| match c {
        Column::Trait(t) => t.buyers_only,
        Column::CategoryShare(_) => true,
    });
    let currency = currency_code(ws.conn())?;
    // Money is stored in minor units; the clustering reads major units.
    let scale = crate::traits::currency_scale(&currency);
    let select: String = columns
        .iter()
        .map(|c| match c {
            Column::Trait(t) => t.sql.to_owned(),
            Column::CategoryShare(_) => "NULL".to_owned(),
        })
        .map(|e| format!(", {e}"))
        .collect();
    let filter = if buyers_only { "WHERE orders > 0" } else { "" };
    let conn = ws.conn();
    let mut ids: Vec<i64> = Vec::new();
    let mut values: Vec<Vec<Option<f64>>> = vec![Vec::new(); columns.len()];
    {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT profile_id, category_spend{select} FROM profile_traits {filter} ORDER BY profile_id"
            ))
            .map_err(sql("read traits"))?;
        let mut rows = stmt.query([]).map_err(sql("read traits"))?;
        let wants_spend = columns
            .iter()
            .any(|c| matches!(c, Column::CategoryShare(_)));
        while let Some(r) = rows.next().map_err(sql("read traits"))? {
            ids.push(r.get(0).map_err(sql("read traits"))?);
            let spend: Option<std::collections::HashMap<String, f64>> = if wants_spend {
                r.get::<_, Option<String>>(1)
                    .map_err(sql("read traits"))?
                    .and_then(|j| serde_json::from_str(&j).ok())
            } else {
                None
            };
            let total: f64 = spend.as_ref().map_or(0.0, |m| m.values().sum());
            for (i, (v, c)) in values.iter_mut().zip(&columns).enumerate() {
                v.push(match c {
                    Column::Trait(t) => {
                        let v = r.get::<_, Option<f64>>(i + 2).map_err(sql("read traits"))?;
                        if matches!(t.kind, FeatureKind::Money) {
                            v.map(|v| v / scale)
                        } else {
                            v
                        }
                    }
                    // A buyer with no categorised lines spent 0% on it.
                    Column::CategoryShare(cat) => Some(if total > 0.0 {
                        spend
                            .as_ref()
                            .and_then(|m| m.get(cat))
                            .copied()
                            .unwrap_or(0.0)
                            / total
                    } else {
                        0.0
                    }),
                });
            }
        }
    }
    if ids.is_empty() {
        return Err(RunError::NoProfiles);
    }
    let features: Vec<Feature> = columns
        .iter()
        .zip(values)
        .map(|(c, v)| match c {
            Column::Trait(t) => Feature::new(t.name, t.words, t.kind, v),
            Column::CategoryShare(cat) => Feature::new(
                format!("{CATEGORY_SHARE}{cat}"),
                cat.to_lowercase(),
                FeatureKind::Share,
                v,
            ),
        })
        .collect();
    let previous = latest(conn)?.filter(|p| p.request.features == request.features);
    let mut config = request.config.clone();
    config.currency = currency_symbol(&currency);
    let mut result = super::run(
        &features,
        &config,
        previous.as_ref().map(|p| &p.result),
        progress,
    )?;
    // A name the user gave a cluster stays with its id.
    let mut renamed = Vec::new();
    if let Some(p) = &previous {
        for c in &mut result.clusters {
            if !p.renamed.contains(&c.id) {
                continue;
            }
            if let Some(old) = p.result.clusters.iter().find(|o| o.id == c.id) {
                c.name = old.name.clone();
                renamed.push(c.id);
            }
        }
    }
    let mut notes = Vec::new();
    if buyers_only {
        let all: u64 = conn
            .query_row("SELECT count(*) FROM profile_traits", [], |r| r.get(0))
            .map_err(sql("count profiles"))?;
        let left = all.saturating_sub(ids.len() as u64);
        if left > 0 {
            notes.push(format!(
                "{left} profiles without an order were left out: the traits picked need one"
            ));
        }
    }
    result.notes.splice(0..0, notes);
    let labels = std::mem::take(&mut result.labels);
    let unassigned = labels.iter().filter(|l| l.is_none()).count() as u64;

    let tx = ws.conn_mut().transaction().map_err(sql("save the run"))?;
    let mut saved = SavedRun {
        id: 0,
        created_at: now.to_owned(),
        request: request.clone(),
        result,
        unassigned,
        seconds: 0.0,
        renamed,
    };
    tx.execute(
        "INSERT INTO cluster_runs (created_at, algorithm, features, params, result)
         VALUES (?1, ?2, ?3, ?4, '{}')",
        params![
            now,
            algorithm_name(&request.config.algorithm),
            serde_json::to_string(&request.features).expect("names serialise"),
            serde_json::to_string(&request.config).expect("config serialises"),
        ],
    )
    .map_err(sql("save the run"))?;
    saved.id = tx.last_insert_rowid();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO cluster_members (run_id, profile_id, cluster) VALUES (?1, ?2, ?3)",
            )
            .map_err(sql("save the members of the run"))?;
        for (id, label) in ids.iter().zip(&labels) {
            if let Some(c) = label {
                insert
                    .execute(params![saved.id, id, c])
                    .map_err(sql("save the members of the run"))?;
            }
        }
    }
    tx.execute(
        "DELETE FROM cluster_members WHERE run_id <= ?1",
        [saved.id - KEEP_MEMBERS],
    )
    .map_err(sql("forget old members"))?;
    saved.seconds = started.elapsed().as_secs_f64();
    store(&tx, &saved)?;
    tx.commit().map_err(sql("save the run"))?;
    Ok(saved)
}

fn algorithm_name(a: &Algorithm) -> &'static str {
    match a {
        Algorithm::KMeans { .. } => "kmeans",
        Algorithm::Dbscan { .. } => "dbscan",
        Algorithm::GaussianMixture { .. } => "gmm",
    }
}

fn currency_code(conn: &Connection) -> Result<String, RunError> {
    conn.query_row(
        "SELECT coalesce((SELECT value FROM settings WHERE key = ?1), ?2)",
        crate::store::setting::DEFAULT_CURRENCY,
        |r| r.get(0),
    )
    .map_err(sql("read the currency"))
}

fn currency_symbol(code: &str) -> String {
    match code {
        "USD" => "$".into(),
        "EUR" => "€".into(),
        "GBP" => "£".into(),
        "JPY" => "¥".into(),
        other => format!("{other} "),
    }
}

fn store(conn: &Connection, run: &SavedRun) -> Result<(), RunError> {
    conn.execute(
        "UPDATE cluster_runs SET result = ?2 WHERE id = ?1",
        params![run.id, serde_json::to_string(run).expect("run serialises")],
    )
    .map_err(sql("save the run"))?;
    Ok(())
}

fn parse(json: &str, id: i64) -> Result<SavedRun, RunError> {
    serde_json::from_str(json).map_err(|e| RunError::Sql {
        context: "read a clustering run",
        source: rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("run #{id}: {e}").into(),
        ),
    })
}

/// The latest run, if any.
pub fn latest(conn: &Connection) -> Result<Option<SavedRun>, RunError> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, result FROM cluster_runs ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql("read the latest clustering run"))?;
    row.map(|(id, json)| parse(&json, id)).transpose()
}

pub fn get(conn: &Connection, id: i64) -> Result<SavedRun, RunError> {
    let json: String = conn
        .query_row("SELECT result FROM cluster_runs WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql("read a clustering run"))?
        .ok_or(RunError::NoRun(id))?;
    parse(&json, id)
}

/// Gives a cluster of a run the name the user chose.
pub fn rename(conn: &Connection, run: i64, cluster: u32, name: &str) -> Result<SavedRun, RunError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(RunError::EmptyName);
    }
    let mut saved = get(conn, run)?;
    let c = saved
        .result
        .clusters
        .iter_mut()
        .find(|c| c.id == cluster)
        .ok_or(RunError::NoCluster { run, cluster })?;
    c.name = name.to_owned();
    if !saved.renamed.contains(&cluster) {
        saved.renamed.push(cluster);
    }
    store(conn, &saved)?;
    Ok(saved)
}

/// Saves the members of a cluster as a static segment (named after the
/// cluster unless told otherwise, described by its description).
pub fn save_segment(
    conn: &mut Connection,
    run: i64,
    cluster: u32,
    name: Option<&str>,
    now: &str,
) -> Result<crate::segments::Segment, RunError> {
    let saved = get(conn, run)?;
    let c = saved
        .result
        .clusters
        .iter()
        .find(|c| c.id == cluster)
        .ok_or(RunError::NoCluster { run, cluster })?;
    let members: Vec<i64> = {
        let mut stmt = conn
            .prepare("SELECT profile_id FROM cluster_members WHERE run_id = ?1 AND cluster = ?2")
            .map_err(sql("read the members of a cluster"))?;
        let rows = stmt
            .query_map(params![run, cluster], |r| r.get(0))
            .map_err(sql("read the members of a cluster"))?
            .collect::<rusqlite::Result<Vec<i64>>>()
            .map_err(sql("read the members of a cluster"))?;
        rows
    };
    if members.is_empty() && c.size > 0 {
        return Err(RunError::MembersGone(run));
    }
    let origin =
        serde_json::json!({ "cluster_run": run, "cluster": cluster, "cluster_name": c.name });
    Ok(crate::segments::save_static(
        conn,
        name.unwrap_or(&c.name),
        Some(&c.description),
        Some(&origin),
        &members,
        now,
    )?)
}

/// The charts of a run: PCA scatter, sizes, profiles and, when k-means
/// chose k, the elbow and silhouette curves.
pub fn charts(run: &SavedRun) -> Vec<NamedChart> {
    let r = &run.result;
    let index_of = |id: u32| r.clusters.iter().position(|c| c.id == id);
    let names: Vec<String> = r.clusters.iter().map(|c| c.name.clone()).collect();
    let points: Vec<ScatterPoint> = r
        .pca
        .points
        .iter()
        .filter_map(|p| {
            Some(ScatterPoint {
                x: p.x,
                y: p.y,
                cluster: index_of(p.cluster?)?,
            })
        })
        .collect();
    let explained: f64 = r.pca.explained.iter().sum();
    let labels: Vec<String> = run
        .request
        .features
        .iter()
        .map(|f| match f.strip_prefix(CATEGORY_SHARE) {
            Some(cat) => format!("Spend on {cat}"),
            None => trait_column(f).map_or_else(|_| f.clone(), |c| c.label.to_owned()),
        })
        .collect();
    let mut out = vec![
        NamedChart {
            name: "cluster_scatter",
            spec: ChartSpec::Scatter(ClusterScatter::new(points, names.clone())),
            options: ChartOptions::new("Clusters on two principal components").with_subtitle(
                format!(
                    "A sample of profiles; the two axes show {:.0}% of the differences",
                    explained * 100.0
                ),
            ),
        },
        NamedChart {
            name: "cluster_sizes",
            spec: ChartSpec::Bar(BarChart::cluster_sizes(
                r.clusters.iter().map(|c| (c.name.clone(), c.size as u64)),
            )),
            options: ChartOptions::new("Profiles per cluster"),
        },
        NamedChart {
            name: "cluster_profiles",
            spec: ChartSpec::ClusterProfiles(ClusterProfiles::new(
                labels,
                r.clusters
                    .iter()
                    .map(|c| ClusterProfile {
                        name: c.name.clone(),
                        values: c.centroid.clone(),
                    })
                    .collect(),
            )),
            options: ChartOptions::new("What sets the clusters apart")
                .with_subtitle("Each trait from the lowest cluster (centre) to the highest (edge)"),
        },
    ];
    if !r.elbow.is_empty() {
        let ks: Vec<u32> = r.elbow.iter().map(|(k, _)| *k as u32).collect();
        let inertia: Vec<f64> = r.elbow.iter().map(|(_, v)| *v).collect();
        let silhouette: Vec<f64> = ks
            .iter()
            .map(|k| {
                r.silhouette_by_k
                    .iter()
                    .find(|(kk, _)| *kk as u32 == *k)
                    .map_or(f64::NAN, |(_, s)| *s)
            })
            .collect();
        out.push(NamedChart {
            name: "k_selection",
            spec: ChartSpec::KSelection(KSelection::new(
                &ks,
                &inertia,
                &silhouette,
                Some(r.k as u32),
            )),
            options: ChartOptions::new("Choosing the number of clusters")
                .with_subtitle("Elbow (inertia) and silhouette for each k"),
        });
    }
    out
}
