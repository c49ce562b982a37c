//! Clustering profiles on their traits: pure functions over in-memory
//! columns, no database.
//!
//! [`run`] takes one [`Feature`] column per trait (one value per profile)
//! and a [`Config`], and returns a [`Clustering`]: a label per profile,
//! each cluster's size, centre in the trait's own units, a sentence and a
//! short name, quality scores, the elbow and silhouette curves, a 2-D chart
//! sample and notes on what was sampled or imputed.
//!
//! - [`features`]: log, scale, impute or drop; keeps the [`Transform`].
//! - [`k_means`]: our own fast Lloyd (and why not linfa's), choosing k.
//! - `dbscan.rs`, `gaussian_mixture.rs`: linfa-clustering, sampled when large
//!   (`kd_tree.rs` places the rows DBSCAN's sample left out).
//! - [`quality`]: silhouette and Davies–Bouldin.
//! - `pca.rs`: the scatter chart (linfa-reduction).
//! - `matching.rs`: stable cluster ids across reruns.
//! - `describe.rs`: sentences and names.
//!
//! **Invariant:** every random choice is drawn from [`Config::seed`]: the
//! same features and config give the same [`Clustering`], bit for bit,
//! whatever the number of cores.

pub mod features;
pub mod k_means;
pub mod quality;
pub mod runs;

mod dbscan;
mod describe;
mod error;
mod gaussian_mixture;
mod kd_tree;
mod matching;
mod pca;
mod sample;
#[cfg(test)]
mod testdata;
#[cfg(test)]
mod tests;

pub use error::ClusterError;
pub use features::{
    prepare, ColumnTransform, Feature, FeatureKind, MissingAction, MissingReport, MissingValues,
    PrepareOptions, Prepared, Scaling, Transform,
};
pub use pca::{ChartPoint, Pca2};

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::progress::{Cancelled, Progress, Tick};
use describe::thousands;
use error::Result;
use features::MissingAction as Action;

/// Which algorithm, with its own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Algorithm {
    /// K-means; `k: None` picks k by the best silhouette in
    /// [`Config::min_k`]`..=`[`Config::max_k`].
    KMeans { k: Option<usize> },
    /// Density-based: `eps` is a distance in the scaled space (standard
    /// deviations for [`Scaling::Standard`]), `min_points` the neighbours
    /// (itself included) that make a point core.
    Dbscan { eps: f64, min_points: usize },
    /// A mixture of `k` Gaussians with full covariances.
    GaussianMixture { k: usize },
}

/// Everything [`run`] can be asked. `Config::default()` is k-means with k
/// chosen automatically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub algorithm: Algorithm,
    pub prepare: PrepareOptions,
    pub seed: u64,
    /// The range of k tried for the automatic choice and the curves.
    pub min_k: usize,
    pub max_k: usize,
    /// Rows the k search fits on (the final k-means uses every row).
    pub search_rows: usize,
    /// K-means++ seedings tried per k in the search; the best one also
    /// starts the final fit.
    pub search_inits: usize,
    /// Rows DBSCAN and the Gaussian mixture are fitted on.
    pub sample_rows: usize,
    /// Rows the silhouette is measured on.
    pub silhouette_rows: usize,
    /// Points in the scatter chart.
    pub chart_points: usize,
    /// Put before amounts in descriptions: "$", "€", "CHF ".
    pub currency: String,
    /// A cluster keeps its previous id if its centre moved at most this far
    /// (Euclidean, in this run's scaled space: standard deviations).
    pub keep_id_within: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            algorithm: Algorithm::KMeans { k: None },
            prepare: PrepareOptions::default(),
            seed: 42,
            min_k: 2,
            max_k: 10,
            search_rows: 50_000,
            search_inits: 3,
            sample_rows: 20_000,
            silhouette_rows: 20_000,
            chart_points: 5_000,
            currency: "$".into(),
            keep_id_within: 1.0,
        }
    }
}

impl Config {
    /// Rejects settings no algorithm can work with.
    pub fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(ClusterError::InvalidConfig(m.into()));
        match self.algorithm {
            Algorithm::KMeans { k: Some(k) } | Algorithm::GaussianMixture { k } if k < 2 => {
                return bad("choose at least 2 clusters");
            }
            Algorithm::Dbscan { eps, min_points }
                if !(eps.is_finite() && eps > 0.0) || min_points < 2 =>
            {
                return bad("DBSCAN needs a distance (eps) above 0 and at least 2 points");
            }
            _ => {}
        }
        if self.min_k < 2 || self.max_k < self.min_k {
            return bad("the range of k must start at 2 or more and not be empty");
        }
        if self.search_rows < 2 || self.sample_rows < 2 || self.silhouette_rows < 2 {
            return bad("samples need at least 2 rows");
        }
        if self.keep_id_within.is_nan() || self.keep_id_within < 0.0 {
            return bad("keep_id_within must be 0 or more");
        }
        Ok(())
    }
}

/// The outcome of [`run`], ready to serialise for the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clustering {
    pub algorithm: Algorithm,
    /// Clusters found (DBSCAN decides its own).
    pub k: usize,
    /// Names of the features, in the order of every centroid.
    pub features: Vec<String>,
    /// Per input profile, its cluster id; `None` for noise or a dropped row.
    pub labels: Vec<Option<u32>>,
    /// Largest first.
    pub clusters: Vec<Cluster>,
    /// Mean silhouette on a sample (−1..1, higher is better).
    pub silhouette: Option<f64>,
    /// Davies–Bouldin index (≥ 0, lower is better).
    pub davies_bouldin: Option<f64>,
    /// Sum of squared distances to the cluster centres, in the scaled space.
    pub inertia: Option<f64>,
    /// `(k, inertia)` for the elbow chart (k-means only).
    pub elbow: Vec<(usize, f64)>,
    /// `(k, silhouette)` (k-means only).
    pub silhouette_by_k: Vec<(usize, f64)>,
    pub pca: Pca2,
    pub missing: Vec<MissingReport>,
    /// What was sampled, imputed or dropped, in plain words.
    pub notes: Vec<String>,
    /// The first id never used so far; pass this clustering as `previous`
    /// to the next run and new clusters continue from here.
    pub next_id: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Stable across reruns (see [`run`]'s `previous`).
    pub id: u32,
    pub size: usize,
    /// Share of the clustered profiles (dropped rows excluded, noise
    /// included).
    pub share: f64,
    /// The centre in the features' own units, in [`Clustering::features`]
    /// order. For logged money and counts this is the back-transformed mean
    /// of logs: a typical member rather than the arithmetic average.
    pub centroid: Vec<f64>,
    /// "Spend 3.1× the average, last order 12 days ago, mostly mobile (82%)".
    pub description: String,
    /// "Big spenders": unique within the run.
    pub name: String,
}

/// Adapts a plain callback, `(stage, fraction of the stage done)`, to
/// [`Progress`]: `run(.., &mut ProgressFn(|stage, f| ..))`.
pub struct ProgressFn<F>(pub F);

impl<F: FnMut(&str, f64)> Progress for ProgressFn<F> {
    fn tick(&mut self, tick: &Tick<'_>) {
        let fraction = match tick.total {
            Some(0) | None => 0.0,
            Some(total) => tick.done as f64 / total as f64,
        };
        (self.0)(tick.stage, fraction)
    }
}

/// Clusters the profiles described by `features`.
///
/// `previous`, the last run's result on the same features, keeps cluster
/// ids stable: its centroids (original units) are mapped through this run's
/// transform and paired with the new ones; a cluster whose centre moved less
/// than [`Config::keep_id_within`] keeps its id, others get fresh ids from
/// `previous.next_id`.
pub fn run(
    features: &[Feature],
    config: &Config,
    previous: Option<&Clustering>,
    progress: &mut dyn Progress,
) -> Result<Clustering> {
    config.check()?;
    let mut stage = Stages {
        progress,
        started: Instant::now(),
    };
    stage.tick("Preparing traits", 0, 1)?;
    let prepared = prepare(features, &config.prepare)?;
    let n_input = features[0].values.len();
    let data = prepared.data.view();
    let n = data.nrows();
    let mut notes = missing_notes(features, &prepared, &config.currency);

    let found = match config.algorithm {
        Algorithm::KMeans { k } => k_means_stage(&prepared, k, config, &mut stage, &mut notes)?,
        Algorithm::Dbscan { eps, min_points } => {
            if n < 2 {
                return Err(ClusterError::TooFewRows { rows: n, needed: 2 });
            }
            stage.tick("Finding dense groups", 0, 1)?;
            let fit = dbscan::fit(data, eps, min_points, config.sample_rows, config.seed)?;
            notes.extend(fit.notes);
            Found::from_labels(fit.labels)
        }
        Algorithm::GaussianMixture { k } => {
            stage.tick("Fitting a Gaussian mixture", 0, 1)?;
            let fit = gaussian_mixture::fit(data, k, config.sample_rows, config.seed)?;
            notes.extend(fit.notes);
            Found::from_labels(fit.labels.into_iter().map(Some).collect())
        }
    };
    let Found {
        labels,
        k: raw_k,
        inertia,
        elbow,
        silhouette_by_k,
    } = found;

    stage.tick("Measuring quality", 0, 1)?;
    let silhouette = quality::silhouette(data, &labels, config.silhouette_rows, config.seed);
    let davies_bouldin = quality::davies_bouldin(data, &labels);
    let (centres, sizes) = quality::cluster_means(data, &labels, raw_k);
    let inertia = inertia
        .or_else(|| (raw_k > 0).then(|| quality::within_sum_of_squares(data, &labels, raw_k)));
    if n > config.silhouette_rows && silhouette.is_some() {
        notes.push(format!(
            "The silhouette was measured on a sample of {} profiles",
            thousands(config.silhouette_rows as u64)
        ));
    }
    let noise = labels.iter().filter(|l| l.is_none()).count();
    if noise > 0 {
        notes.push(format!(
            "{} profiles ({:.1}%) are in no dense group (noise)",
            thousands(noise as u64),
            100.0 * noise as f64 / n as f64
        ));
    }

    // Clusters that ended up empty are left out; the rest, largest first.
    let mut order: Vec<usize> = (0..raw_k).filter(|&c| sizes[c] > 0).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));

    let names: Vec<String> = prepared
        .transform
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let current: Vec<Vec<f64>> = order.iter().map(|&c| centres.row(c).to_vec()).collect();
    let (ids, next_id) = match previous {
        Some(p) if p.features == names => {
            let before: Vec<(u32, Vec<f64>)> = p
                .clusters
                .iter()
                .map(|c| (c.id, prepared.transform.to_scaled(&c.centroid)))
                .collect();
            matching::assign_ids(&before, &current, config.keep_id_within, p.next_id)
        }
        Some(p) => {
            notes.push("The previous run used other traits, so cluster ids start afresh".into());
            matching::assign_ids(&[], &current, config.keep_id_within, p.next_id)
        }
        None => matching::assign_ids(&[], &current, config.keep_id_within, 0),
    };
    let mut id_of = vec![None; raw_k];
    for (&c, &id) in order.iter().zip(&ids) {
        id_of[c] = Some(id);
    }

    stage.tick("Describing clusters", 0, 1)?;
    let descriptions = describe::describe(
        features,
        &prepared,
        &labels,
        raw_k,
        &order,
        &config.currency,
    );
    let clusters: Vec<Cluster> = order
        .iter()
        .zip(&current)
        .map(|(&c, centre)| Cluster {
            id: id_of[c].expect("every kept cluster has an id"),
            size: sizes[c],
            share: sizes[c] as f64 / n as f64,
            centroid: prepared.transform.to_original(centre),
            description: descriptions[c].text.clone(),
            name: descriptions[c].name.clone(),
        })
        .collect();

    let row_ids: Vec<Option<u32>> = labels.iter().map(|l| l.and_then(|c| id_of[c])).collect();
    stage.tick("Drawing the chart", 0, 1)?;
    let pca = pca::project(
        data,
        &prepared.rows,
        &row_ids,
        config.chart_points,
        config.seed,
    );
    if n > config.chart_points {
        notes.push(format!(
            "The chart shows a sample of {} profiles",
            thousands(config.chart_points as u64)
        ));
    }

    let mut labels_out = vec![None; n_input];
    for (&row, &id) in prepared.rows.iter().zip(&row_ids) {
        labels_out[row] = id;
    }
    stage.tick("Done", 1, 1)?;
    Ok(Clustering {
        algorithm: config.algorithm.clone(),
        k: clusters.len(),
        features: names,
        labels: labels_out,
        clusters,
        silhouette,
        davies_bouldin,
        inertia,
        elbow,
        silhouette_by_k,
        pca,
        missing: prepared.missing,
        notes,
        next_id,
    })
}

/// What an algorithm produced, before ids and descriptions.
struct Found {
    /// Per prepared row, its cluster `0..k`.
    labels: Vec<Option<usize>>,
    k: usize,
    inertia: Option<f64>,
    elbow: Vec<(usize, f64)>,
    silhouette_by_k: Vec<(usize, f64)>,
}

impl Found {
    fn from_labels(labels: Vec<Option<usize>>) -> Self {
        let k = labels.iter().flatten().max().map_or(0, |&m| m + 1);
        Found {
            labels,
            k,
            inertia: None,
            elbow: Vec::new(),
            silhouette_by_k: Vec::new(),
        }
    }
}

/// K-means: the k search on a sample (which also draws the curves), then
/// Lloyd on every row, started from the sample's centroids for that k.
fn k_means_stage(
    prepared: &Prepared,
    k: Option<usize>,
    config: &Config,
    stage: &mut Stages<'_>,
    notes: &mut Vec<String>,
) -> Result<Found> {
    let data = prepared.data.view();
    let n = data.nrows();
    let needed = k.unwrap_or(config.min_k).max(2) + 1;
    if n < needed {
        return Err(ClusterError::TooFewRows { rows: n, needed });
    }
    let search_k = match k {
        Some(k) => config.min_k.min(k)..=config.max_k.max(k),
        None => config.min_k..=config.max_k,
    };
    let search = k_means::choose_k(
        data,
        search_k,
        config.seed,
        config.search_rows,
        config.silhouette_rows.min(5_000),
        config.search_inits.max(1),
        &mut |done, total| stage.tick("Choosing the number of clusters", done as u64, total as u64),
    )?;
    if search.fit_rows < n {
        notes.push(format!(
            "The elbow and silhouette curves were computed on a sample of {} profiles (silhouettes on {})",
            thousands(search.fit_rows as u64),
            thousands(search.silhouette_rows as u64)
        ));
    }
    let k = k.unwrap_or(search.best_k);
    let init = search
        .elbow
        .iter()
        .position(|e| e.0 == k)
        .map(|i| k_means::Init::Centroids(search.centroids[i].clone()))
        .unwrap_or(k_means::Init::KMeansPlusPlus);
    stage.tick("Clustering", 0, 1)?;
    let fit = k_means::fit(
        data,
        &k_means::KMeansParams {
            init,
            ..k_means::KMeansParams::new(k, config.seed)
        },
    )?;
    if !fit.converged {
        notes.push(format!(
            "K-means stopped after {} iterations without fully settling",
            fit.iterations
        ));
    }
    Ok(Found {
        labels: fit.labels.iter().map(|&l| Some(l as usize)).collect(),
        k,
        inertia: Some(fit.inertia),
        elbow: search.elbow,
        silhouette_by_k: search.silhouette_by_k,
    })
}

/// One note per feature that had gaps: how many and what was done.
fn missing_notes(features: &[Feature], prepared: &Prepared, currency: &str) -> Vec<String> {
    let mut notes = Vec::new();
    for (f, report) in features.iter().zip(&prepared.missing) {
        let what = match report.action {
            Action::None => continue,
            Action::DroppedRows => "left out".to_string(),
            Action::FilledWithMedian(m) => {
                format!(
                    "filled with the median ({})",
                    describe::amount(f.kind, m, currency)
                )
            }
        };
        notes.push(format!(
            "{} profiles had no {}: {what}",
            thousands(report.missing as u64),
            f.label
        ));
    }
    notes
}

/// Ticks the listener and honours cancellation between stages.
struct Stages<'a> {
    progress: &'a mut dyn Progress,
    started: Instant,
}

impl Stages<'_> {
    fn tick(&mut self, stage: &str, done: u64, total: u64) -> Result<()> {
        self.progress.tick(&Tick {
            stage,
            done,
            total: Some(total),
            bytes: 0,
            total_bytes: None,
            elapsed: self.started.elapsed(),
        });
        if self.progress.is_cancelled() {
            return Err(Cancelled.into());
        }
        Ok(())
    }
}
