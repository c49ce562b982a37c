//! Identity resolution: which source records are the same person.
//!
//! Records (contacts, orders, devices) are nodes of a graph. Shared
//! identifiers (customer id, loyalty id, device login, email, phone) join
//! them deterministically, behind guard rails against over-merging; pairs
//! that share no identifier but look alike are scored with a Fellegi–Sunter
//! model fitted by EM and merged above a threshold, or sent to review.
//! Connected components become profiles ([`crate::profiles`]).
//!
//! **Invariants:**
//! - a person's decision (same / different) wins over every later run;
//! - profile ids stay stable for people whose records did not change;
//! - a run is one transaction: a failed or cancelled run changes nothing.
//!
//! Code map: [`normalise`] folds values, [`compare`] gives comparison
//! levels, [`model`] is Fellegi–Sunter with EM, [`graph`] is the guarded
//! union–find, [`records`] loads records, [`resolve`] runs a batch, and this
//! file persists runs and the review/unmerge actions. [`eval`] measures a
//! resolution against ground truth.

pub mod compare;
pub mod eval;
pub mod graph;
pub mod model;
pub mod normalise;
pub mod records;
pub mod resolve;

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::slice::ParallelSliceMut;
use rustc_hash::{FxHashMap, FxHashSet};
use std::time::Instant;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, ToSql};
use serde::{Deserialize, Serialize};

use crate::profiles::{record_view, RecordView};
use crate::progress::{Cancelled, Progress};
use crate::store::Workspace;
use compare::{Comparison, COMPARISONS};
use model::MatchModel;
use records::{Filter, Record, RecordKind};
use resolve::{Batch, Decision, Outcome};
pub use resolve::{Settings, AUTO_FLOOR};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("workspace {path}: {source}")]
    Sql {
        path: String,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("could not build profiles: {0}")]
    Profiles(String),
    #[error("could not read the ground truth {path}: {detail}")]
    Truth { path: String, detail: String },
}

impl IdentityError {
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::Sql { .. } => "store",
            IdentityError::Cancelled(_) => "cancelled",
            IdentityError::NotFound(_) => "not_found",
            IdentityError::Invalid(_) => "bad_request",
            IdentityError::Profiles(_) => "profiles",
            IdentityError::Truth { .. } => "truth",
        }
    }
}

type Result<T> = std::result::Result<T, IdentityError>;

fn sql(ws: &Workspace) -> impl Fn(rusqlite::Error) -> IdentityError + '_ {
    move |source| IdentityError::Sql {
        path: ws.path().display().to_string(),
        source,
    }
}

/// How a run went; also stored as the last run's summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ResolveReport {
    pub full: bool,
    pub records: u64,
    pub records_matched: u64,
    pub profiles: u64,
    pub profiles_created: u64,
    pub profiles_changed: u64,
    pub candidate_pairs: u64,
    pub pairs_compared: u64,
    pub skipped_blocks: u64,
    pub merged_by_identifier: u64,
    pub merged_by_match: u64,
    pub merged_by_decision: u64,
    pub review_pairs: u64,
    pub refused: u64,
    pub auto_merge_at: f64,
    /// Where the fitted model expects the best F1, before the automatic
    /// threshold's floor ([`resolve::AUTO_FLOOR`]); absent in summaries
    /// of runs before it was recorded.
    #[serde(default)]
    pub model_best_at: Option<f64>,
    pub review_from: f64,
    pub stages: Vec<(String, f64)>,
    pub seconds: f64,
}

#[derive(Debug, Clone)]
pub struct ResolveOptions {
    /// Recompute everything instead of matching new and changed records.
    pub full: bool,
    pub settings: Settings,
    /// ISO 8601 "now", for the audit log and profiles.
    pub now: String,
    /// Who asked: "cli", "app", "import"…
    pub actor: String,
}

const MODEL_KEY: (&str, &str) = ("identity_model", "");
const WATERMARK_KEY: (&str, &str) = ("identity_watermark", "");
const LAST_RUN_KEY: (&str, &str) = ("identity_last_run", "");
const THRESHOLDS_KEY: (&str, &str) = ("identity_thresholds", "");

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Watermark {
    import_id: i64,
    event_id: i64,
}

/// What a person configured for identity resolution (None: the default).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Thresholds {
    pub auto_merge_at: Option<f64>,
    pub review_from: Option<f64>,
    /// Most distinct emails (and, separately, phones) one profile may hold.
    #[serde(default)]
    pub max_ids_per_kind: Option<usize>,
    /// An identifier shared by more people than this links no one.
    #[serde(default)]
    pub max_people_per_identifier: Option<usize>,
}

fn get_json<T: for<'de> Deserialize<'de>>(
    conn: &Connection,
    key: &str,
) -> rusqlite::Result<Option<T>> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.and_then(|s| serde_json::from_str(&s).ok()))
}

fn set_json<T: Serialize>(conn: &Connection, key: &str, value: &T) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, serde_json::to_string(value).unwrap_or_default()],
    )?;
    Ok(())
}

/// Whether identity resolution has run on this workspace.
/// Backs the workspace up before a full re-resolution, which redraws every
/// profile; nothing to do before the first run. The CLI and the app call it
/// (the CLI can skip it, e.g. in benchmarks).
pub fn backup_before_full_run(ws: &Workspace, now: &str) -> Result<()> {
    if is_resolved(ws)? {
        crate::store::backup::create(ws, "before re-resolution", now).map_err(|e| {
            IdentityError::Invalid(format!("could not back up before re-resolving: {e}"))
        })?;
    }
    Ok(())
}

pub fn is_resolved(ws: &Workspace) -> Result<bool> {
    Ok(get_json::<Watermark>(ws.conn(), WATERMARK_KEY.0)
        .map_err(sql(ws))?
        .is_some())
}

/// Thresholds a person set (None: automatic).
pub fn thresholds(ws: &Workspace) -> Result<Thresholds> {
    Ok(get_json(ws.conn(), THRESHOLDS_KEY.0)
        .map_err(sql(ws))?
        .unwrap_or_default())
}

pub fn set_thresholds(ws: &Workspace, t: Thresholds) -> Result<()> {
    for p in [t.auto_merge_at, t.review_from].into_iter().flatten() {
        if !(0.0..1.0).contains(&p) || p <= 0.0 {
            return Err(IdentityError::Invalid(format!(
                "a match probability must be between 0 and 1 (exclusive), not {p}"
            )));
        }
    }
    for (name, v) in [
        ("cap of identifiers per profile", t.max_ids_per_kind),
        ("people per identifier", t.max_people_per_identifier),
    ] {
        if v == Some(0) {
            return Err(IdentityError::Invalid(format!(
                "the {name} must be at least 1"
            )));
        }
    }
    if let (Some(a), Some(r)) = (t.auto_merge_at, t.review_from) {
        if r > a {
            return Err(IdentityError::Invalid(format!(
                "the review band must start below the merge threshold ({r} > {a})"
            )));
        }
    }
    set_json(ws.conn(), THRESHOLDS_KEY.0, &t).map_err(sql(ws))
}

/// Resolves identities: from scratch when `options.full` or never run
/// before, otherwise only new and changed records against existing profiles.
pub fn resolve(
    ws: &mut Workspace,
    options: &ResolveOptions,
    progress: &mut dyn Progress,
) -> Result<ResolveReport> {
    let started = Instant::now();
    let path = ws.path().display().to_string();
    let err = |source| IdentityError::Sql {
        path: path.clone(),
        source,
    };
    let mut settings = options.settings.clone();
    let stored: Thresholds = get_json(ws.conn(), THRESHOLDS_KEY.0)
        .map_err(err)?
        .unwrap_or_default();
    settings.auto_merge_at = settings.auto_merge_at.or(stored.auto_merge_at);
    settings.review_from = settings.review_from.or(stored.review_from);
    if let Some(cap) = stored.max_ids_per_kind {
        settings.max_ids_per_kind = cap;
    }
    if let Some(n) = stored.max_people_per_identifier {
        settings.max_people_per_identifier = n;
    }

    // A run touches far more pages than an import batch: give it a bigger
    // page cache for its duration (restored below, also on error).
    ws.conn()
        .pragma_update(None, "cache_size", -RUN_CACHE_KIB)
        .map_err(err)?;
    let result = resolve_in(ws, options, settings, progress, started);
    let _ = ws.conn().pragma_update(None, "cache_size", -65536);
    result
}

/// Page cache for a resolution run, in KiB.
const RUN_CACHE_KIB: i64 = 128 * 1024;

fn resolve_in(
    ws: &mut Workspace,
    options: &ResolveOptions,
    settings: Settings,
    progress: &mut dyn Progress,
    started: Instant,
) -> Result<ResolveReport> {
    let path = ws.path().display().to_string();
    let err = |source| IdentityError::Sql {
        path: path.clone(),
        source,
    };
    let tx = ws.conn_mut().transaction().map_err(err)?;
    let watermark: Option<Watermark> = get_json(&tx, WATERMARK_KEY.0).map_err(err)?;
    let model: Option<MatchModel> = get_json(&tx, MODEL_KEY.0).map_err(err)?;
    let full = options.full || watermark.is_none() || model.is_none();
    let mark = watermark.unwrap_or_default();
    let new_mark = Watermark {
        import_id: tx
            .query_row("SELECT coalesce(max(id), 0) FROM imports", [], |r| r.get(0))
            .map_err(err)?,
        event_id: tx
            .query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))
            .map_err(err)?,
    };
    let mut stages: Vec<(String, f64)> = Vec::new();
    let clock = Instant::now();
    if full {
        records::sync(&tx, 0, 0).map_err(err)?;
    } else {
        records::sync(&tx, mark.import_id, mark.event_id).map_err(err)?;
    }
    let mut report = if full {
        let recs = records::load(&tx, &Filter::All).map_err(err)?;
        stages.push(("loading".into(), clock.elapsed().as_secs_f64()));
        let fresh = vec![true; recs.len()];
        let decisions = load_decisions(&tx, &recs).map_err(err)?;
        let empty = HashSet::new();
        let outcome = resolve::run(
            &Batch {
                records: &recs,
                fresh: &fresh,
                too_common: &empty,
                decisions: &decisions,
                model: None,
            },
            &settings,
            progress,
        )?;
        persist(
            &tx,
            &recs,
            &fresh,
            outcome,
            true,
            options,
            &mut stages,
            progress,
        )?
    } else {
        incremental(
            &tx,
            mark,
            model.as_ref(),
            &settings,
            options,
            &mut stages,
            progress,
        )?
    };
    set_json(&tx, WATERMARK_KEY.0, &new_mark).map_err(err)?;
    report.full = full;
    report.stages = stages;
    report.seconds = started.elapsed().as_secs_f64();
    set_json(&tx, LAST_RUN_KEY.0, &(&options.now, &report)).map_err(err)?;
    log(
        &tx,
        &options.now,
        &options.actor,
        "resolve",
        None,
        None,
        None,
        &serde_json::json!({
            "full": full, "records": report.records, "records_matched": report.records_matched,
            "profiles": report.profiles, "merged_by_identifier": report.merged_by_identifier,
            "merged_by_match": report.merged_by_match, "review_pairs": report.review_pairs,
            "auto_merge_at": report.auto_merge_at,
        }),
    )
    .map_err(err)?;
    crate::privacy::audit::record(
        &tx,
        crate::privacy::audit::Action::Resolve,
        &options.now,
        None,
        &serde_json::json!({
            "full": full, "records": report.records, "profiles": report.profiles,
            "merged_by_identifier": report.merged_by_identifier,
            "merged_by_match": report.merged_by_match, "review_pairs": report.review_pairs,
        }),
    )
    .map_err(err)?;
    if progress.is_cancelled() {
        return Err(Cancelled.into());
    }
    tx.commit().map_err(err)?;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn log(
    conn: &Connection,
    now: &str,
    actor: &str,
    action: &str,
    profile: Option<i64>,
    a: Option<i64>,
    b: Option<i64>,
    detail: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO identity_log (at, actor, action, profile_id, record_a, record_b, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![now, actor, action, profile, a, b, detail.to_string()])?;
    Ok(())
}

fn load_decisions(conn: &Connection, recs: &[Record]) -> rusqlite::Result<Vec<Decision>> {
    let pos: HashMap<i64, u32> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id, i as u32))
        .collect();
    let mut st = conn.prepare("SELECT record_a, record_b, decision FROM identity_decisions")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (a, b, d) = row?;
        if let (Some(&a), Some(&b)) = (pos.get(&a), pos.get(&b)) {
            out.push(Decision {
                a,
                b,
                same: d == "same",
            });
        }
    }
    Ok(out)
}

fn incremental(
    tx: &Connection,
    mark: Watermark,
    model: Option<&MatchModel>,
    settings: &Settings,
    options: &ResolveOptions,
    stages: &mut Vec<(String, f64)>,
    progress: &mut dyn Progress,
) -> Result<ResolveReport> {
    let err = |source| IdentityError::Sql {
        path: String::new(),
        source,
    };
    let clock = Instant::now();
    let candidates = records::load(
        tx,
        &Filter::Since {
            import_id: mark.import_id,
            event_id: mark.event_id,
        },
    )
    .map_err(err)?;
    // Re-imported rows that did not change need nothing.
    let changed: Vec<Record> = candidates
        .into_iter()
        .filter(|r| r.profile.is_none() || r.fingerprint != r.stored_fingerprint)
        .collect();
    let total: u64 = tx
        .query_row("SELECT count(*) FROM identity_records", [], |r| r.get(0))
        .map_err(err)?;
    if changed.is_empty() {
        let profiles: u64 = tx
            .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
            .map_err(err)?;
        return Ok(ResolveReport {
            records: total,
            profiles,
            ..Default::default()
        });
    }
    stages.push(("loading new records".into(), clock.elapsed().as_secs_f64()));
    let clock = Instant::now();
    // Neighbours. Records sharing an identifier bring their whole profile
    // (deterministic stitching and its guards need every record of it).
    // Records sharing only a blocking key are compared first, from the
    // fields stored with the key, and bring their profile only when the
    // pair could merge or be reviewed: most block-mates are other people,
    // and loading all of them grows with the size of the workspace.
    let changed_ids: HashSet<i64> = changed.iter().map(|r| r.id).collect();
    let mut profiles: HashSet<i64> = changed.iter().filter_map(|r| r.profile).collect();
    let mut wanted: HashSet<i64> = HashSet::new();
    let mut too_common: HashSet<(u8, Box<str>)> = HashSet::new();
    let mut interesting: HashSet<i64> = HashSet::new();
    let mut compared_mates = 0u64;
    {
        let mut by_id = tx
            .prepare_cached(
                "SELECT i.record_id, r.profile_id FROM identifiers i JOIN identity_records r ON r.id = i.record_id
                 WHERE i.kind = ?1 AND i.value = ?2 LIMIT ?3",
            )
            .map_err(err)?;
        let mut by_key = tx
            .prepare_cached("SELECT record_id FROM blocking_keys WHERE key = ?1 LIMIT ?2")
            .map_err(err)?;
        let mut fields_of = tx
            .prepare_cached("SELECT fields FROM match_fields WHERE record_id = ?1")
            .map_err(err)?;
        let limit = settings.max_records_per_identifier as i64 + 1;
        let floor = resolve::lowest_interesting_weight(settings);
        let mut all_keys: Vec<i64> = Vec::new();
        // Identifiers in table order too, each looked up once.
        let mut all_ids: Vec<(&str, &str, u8)> = changed
            .iter()
            .flat_map(|r| {
                r.ids
                    .iter()
                    .map(|(k, v)| (records::id_kind_name(*k), &**v, *k))
            })
            .collect();
        all_ids.sort_unstable();
        all_ids.dedup();
        for (kind, value, k) in all_ids {
            let found: Vec<(i64, Option<i64>)> = by_id
                .query_map(params![kind, value, limit], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .map_err(err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(err)?;
            if found.len() as i64 >= limit {
                too_common.insert((k, value.into()));
                continue;
            }
            for (id, profile) in found {
                if changed_ids.contains(&id) {
                    continue;
                }
                match profile {
                    Some(p) => {
                        profiles.insert(p);
                    }
                    None => {
                        wanted.insert(id);
                    }
                }
            }
        }
        for r in &changed {
            if r.fields.is_some() {
                all_keys.extend(r.blocking_keys());
            }
        }
        // Blocks in key order: the table is clustered by key, so the reads
        // sweep forward through it instead of jumping about (on a cold
        // file, read-ahead then serves most of them).
        all_keys.sort_unstable();
        all_keys.dedup();
        // New records share keys (a common name, a birthday): each block is
        // read once, record ids only (the key's own index answers). Then
        // each distinct block-mate's fields are read once, in record order,
        // and decoded on every core: a record sits in five or six blocks
        // but is decoded once.
        let max_block = settings.max_block;
        let mut blocks: HashMap<i64, Vec<i64>> = HashMap::new();
        let mut mates: Vec<i64> = Vec::new();
        for key in all_keys {
            let ids: Vec<i64> = by_key
                .query_map(params![key, max_block as i64 + 1], |row| row.get(0))
                .map_err(err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(err)?;
            let ids: Vec<i64> = if ids.len() <= max_block {
                ids.into_iter()
                    .filter(|id| !changed_ids.contains(id))
                    .collect()
            } else {
                Vec::new()
            };
            mates.extend(&ids);
            blocks.insert(key, ids);
        }
        mates.sort_unstable();
        mates.dedup();
        let mut texts: Vec<(i64, String)> = Vec::with_capacity(mates.len());
        for id in mates {
            let text: Option<String> = fields_of
                .query_row([id], |row| row.get(0))
                .optional()
                .map_err(err)?;
            texts.extend(text.map(|t| (id, t)));
        }
        let mate_fields: HashMap<i64, compare::Fields> = {
            use rayon::prelude::*;
            texts
                .into_par_iter()
                .map(|(id, text)| {
                    let f = compare::Fields::decode(&text).ok_or_else(|| {
                        IdentityError::Invalid(format!(
                            "the stored comparison fields of record {id} cannot be read; run a full resolution"
                        ))
                    })?;
                    Ok((id, f))
                })
                .collect::<Result<_>>()?
        };
        // The comparisons themselves, on every core.
        if let Some(model) = model {
            use rayon::prelude::*;
            let found: Vec<(u64, Vec<i64>)> = changed
                .par_iter()
                .filter_map(|r| r.fields.as_deref().map(|mine| (r, mine)))
                .map(|(r, mine)| {
                    let mut n = 0u64;
                    let mut hits = Vec::new();
                    for key in r.blocking_keys() {
                        for id in blocks.get(&key).into_iter().flatten() {
                            let Some(theirs) = mate_fields.get(id) else {
                                continue;
                            };
                            n += 1;
                            let levels = compare::compare(mine, theirs);
                            if resolve::weight_of_pair(model, mine, theirs, &levels) >= floor {
                                hits.push(*id);
                            }
                        }
                    }
                    (n, hits)
                })
                .collect();
            for (n, hits) in found {
                compared_mates += n;
                interesting.extend(hits);
            }
        }
    }
    {
        let mut profile_of = tx
            .prepare_cached("SELECT profile_id FROM identity_records WHERE id = ?1")
            .map_err(err)?;
        for id in &interesting {
            let p: Option<i64> = profile_of
                .query_row([id], |r| r.get(0))
                .optional()
                .map_err(err)?
                .flatten();
            match p {
                Some(p) => {
                    profiles.insert(p);
                }
                None => {
                    wanted.insert(*id);
                }
            }
        }
    }
    // Whole profiles come along, so guards see every name they hold.
    {
        let mut members = tx
            .prepare_cached("SELECT id FROM identity_records WHERE profile_id = ?1")
            .map_err(err)?;
        for p in profiles {
            let ids: Vec<i64> = members
                .query_map([p], |r| r.get(0))
                .map_err(err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(err)?;
            wanted.extend(ids);
        }
    }
    for id in &changed_ids {
        wanted.remove(id);
    }
    let wanted: Vec<i64> = wanted.into_iter().collect();
    stages.push(("finding neighbours".into(), clock.elapsed().as_secs_f64()));
    let clock = Instant::now();
    let existing = records::load(tx, &Filter::Wanted(&wanted)).map_err(err)?;
    let mut recs = changed;
    let n_changed = recs.len();
    recs.extend(existing);
    let mut fresh = vec![false; recs.len()];
    fresh[..n_changed].fill(true);
    // A changed record is matched afresh, away from its old profile.
    stages.push(("loading neighbours".into(), clock.elapsed().as_secs_f64()));
    let decisions = load_decisions(tx, &recs).map_err(err)?;
    let outcome = resolve::run(
        &Batch {
            records: &recs,
            fresh: &fresh,
            too_common: &too_common,
            decisions: &decisions,
            model,
        },
        settings,
        progress,
    )?;
    let mut report = persist(tx, &recs, &fresh, outcome, false, options, stages, progress)?;
    // The block-mates compared before loading are candidate pairs too.
    report.candidate_pairs += compared_mates;
    report.pairs_compared += compared_mates;
    Ok(report)
}

/// Rows per statement of the full run's bulk inserts (3 values a row stay
/// well under SQLite's 32,766 bound parameters).
const ROWS: usize = 128;

/// Inserts `rows` of `N` values into `table` ("name (a, b, …)"), [`ROWS`]
/// rows per statement, so the per-call cost of a statement is paid once
/// per [`ROWS`] rows; the remainder goes one row at a time.
fn insert_rows<T, const N: usize>(
    tx: &Connection,
    table: &str,
    rows: &[T],
    values: impl Fn(&T) -> [&dyn ToSql; N],
) -> rusqlite::Result<()> {
    let row = format!("({})", vec!["?"; N].join(", "));
    let mut many = tx.prepare_cached(&format!(
        "INSERT INTO {table} VALUES {}",
        vec![row.as_str(); ROWS].join(", ")
    ))?;
    let mut one = tx.prepare_cached(&format!("INSERT INTO {table} VALUES {row}"))?;
    for chunk in rows.chunks(ROWS) {
        if chunk.len() == ROWS {
            many.execute(params_from_iter(chunk.iter().flat_map(&values)))?;
        } else {
            for r in chunk {
                one.execute(&values(r)[..])?;
            }
        }
    }
    Ok(())
}

/// Removes the blocking keys and comparison fields stored for record `r`,
/// unless they were made from the fields it still has: then its keys stay,
/// and [`store_keys`] only adds those a full run left out.
///
/// `blocking_keys` has no index by record: building it took 14 s of an
/// 82 s full run over 1,000,000 records. A record's keys are a function of
/// its fields ([`records::blocking_keys_by_rule`]), stored beside them in
/// `match_fields` and written and removed only together (here and in
/// [`store_keys`]), so they are found again from the stored fields and
/// deleted by primary key. Erasure and retention, which must not leave a
/// key behind whatever made it, use [`delete_keys_of`] instead.
fn forget_keys(tx: &Connection, r: &Record) -> rusqlite::Result<()> {
    let stored: Option<String> = tx
        .prepare_cached("DELETE FROM match_fields WHERE record_id = ?1 RETURNING fields")?
        .query_row([r.id], |row| row.get(0))
        .optional()?;
    let Some(stored) = stored else {
        return Ok(());
    };
    if r.fields.as_deref().map(compare::Fields::encode).as_ref() == Some(&stored) {
        return Ok(());
    }
    let Some(fields) = compare::Fields::decode(&stored) else {
        return Ok(());
    };
    let mut delete =
        tx.prepare_cached("DELETE FROM blocking_keys WHERE key = ?1 AND record_id = ?2")?;
    for (_, key) in records::blocking_keys_by_rule(&fields) {
        delete.execute(params![key, r.id])?;
    }
    Ok(())
}

/// Stores the comparison fields and blocking keys of `recs` (those with
/// fields), each table in primary-key order: both are large B-trees, and
/// neighbouring inserts read and dirty each page once instead of once per
/// row.
fn store_keys<'r>(tx: &Connection, recs: impl Iterator<Item = &'r Record>) -> rusqlite::Result<()> {
    let mut fields: Vec<(i64, String)> = Vec::new();
    let mut keys: Vec<(i64, i64)> = Vec::new();
    for r in recs {
        let Some(f) = &r.fields else { continue };
        fields.push((r.id, f.encode()));
        keys.extend(r.blocking_keys().into_iter().map(|key| (key, r.id)));
    }
    keys.sort_unstable();
    let mut insert =
        tx.prepare_cached("INSERT OR IGNORE INTO blocking_keys (key, record_id) VALUES (?1, ?2)")?;
    for (key, id) in keys {
        insert.execute(params![key, id])?;
    }
    fields.sort_unstable();
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO match_fields (record_id, fields) VALUES (?1, ?2)",
    )?;
    for (id, text) in fields {
        insert.execute(params![id, text])?;
    }
    Ok(())
}

/// `records` as the JSON list that [`RECORD_IN_LIST`] reads.
pub fn record_list(records: &[i64]) -> String {
    serde_json::to_string(records).expect("ids serialise")
}

/// A filter on `record_id` by a [`record_list`] bound as `?1`: one pass
/// over a table without an index by record (`blocking_keys`; see
/// [`forget_keys`]) instead of a lookup per record.
pub const RECORD_IN_LIST: &str = "record_id IN (SELECT value FROM json_each(?1))";

/// Deletes every blocking key and the stored comparison fields of
/// `records`, returning how many of each. For erasure and retention:
/// whatever fields a key was made from, none of a removed record's stays.
pub fn delete_keys_of(
    conn: &Connection,
    records: impl IntoIterator<Item = i64>,
) -> rusqlite::Result<(usize, usize)> {
    let records: Vec<i64> = records.into_iter().collect();
    if records.is_empty() {
        return Ok((0, 0));
    }
    let ids = record_list(&records);
    let keys = conn.execute(
        &format!("DELETE FROM blocking_keys WHERE {RECORD_IN_LIST}"),
        [&ids],
    )?;
    let fields = conn.execute(
        &format!("DELETE FROM match_fields WHERE {RECORD_IN_LIST}"),
        [&ids],
    )?;
    Ok((keys, fields))
}

/// Writes a run's outcome: profile ids, identifiers, blocking keys, links,
/// the review queue, refused merges, then rebuilds the profiles touched.
#[allow(clippy::too_many_arguments)]
fn persist(
    tx: &Connection,
    recs: &[Record],
    fresh: &[bool],
    mut outcome: Outcome,
    full: bool,
    options: &ResolveOptions,
    stages: &mut Vec<(String, f64)>,
    progress: &mut dyn Progress,
) -> Result<ResolveReport> {
    let err = |source| IdentityError::Sql {
        path: String::new(),
        source,
    };
    for (name, s) in &outcome.stages {
        stages.push((name.to_string(), *s));
    }
    let clock = Instant::now();
    let g = &mut outcome.graph;
    let n = recs.len();

    // Components, and the profile id each keeps: the old id most of its
    // records had, so unchanged people keep theirs.
    let mut members: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for i in 0..n as u32 {
        members.entry(g.find(i)).or_default().push(i);
    }
    let mut votes: Vec<(u64, i64, u32)> = Vec::new();
    for (root, m) in &members {
        let mut counts: FxHashMap<i64, u64> = FxHashMap::default();
        for &i in m {
            if let Some(p) = recs[i as usize].profile {
                *counts.entry(p).or_default() += 1;
            }
        }
        for (p, c) in counts {
            votes.push((c, p, *root));
        }
    }
    // Most records first, then the lower id: deterministic.
    votes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut assigned: FxHashMap<u32, i64> = FxHashMap::default();
    let mut used: FxHashSet<i64> = FxHashSet::default();
    for (_, p, root) in &votes {
        if !assigned.contains_key(root) && !used.contains(p) {
            assigned.insert(*root, *p);
            used.insert(*p);
        }
    }
    let mut next_id: i64 = tx
        .query_row(
            "SELECT max(coalesce((SELECT max(id) FROM profiles), 0), coalesce((SELECT max(profile_id) FROM identity_records), 0)) + 1",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    // New profiles numbered in record order, so reruns agree.
    let mut roots: Vec<(u32, u32)> = members
        .iter()
        .map(|(root, m)| (*m.iter().min().unwrap_or(root), *root))
        .collect();
    roots.sort_unstable();
    let mut created = 0u64;
    for (_, root) in &roots {
        if !assigned.contains_key(root) {
            assigned.insert(*root, next_id);
            next_id += 1;
            created += 1;
        }
    }
    let mut touched: FxHashSet<i64> = FxHashSet::default();
    let mut merged_away: Vec<(i64, i64)> = Vec::new();
    let mut profile_now: Vec<i64> = Vec::with_capacity(n);
    if full {
        // Rebuilt after the update instead of being updated row by row in
        // random profile order.
        tx.execute_batch("DROP INDEX IF EXISTS identity_records_by_profile")
            .map_err(err)?;
    }
    {
        let mut up = tx
            .prepare_cached(
                "UPDATE identity_records SET profile_id = ?2, fingerprint = ?3 WHERE id = ?1",
            )
            .map_err(err)?;
        for (i, r) in recs.iter().enumerate() {
            let p = assigned[&g.find(i as u32)];
            profile_now.push(p);
            if r.profile != Some(p) || r.stored_fingerprint != r.fingerprint {
                up.execute(params![r.id, p, r.fingerprint]).map_err(err)?;
                touched.insert(p);
                if let Some(old) = r.profile {
                    if old != p {
                        touched.insert(old);
                        if !full && !used.contains(&old) {
                            merged_away.push((old, p));
                        }
                    }
                }
            }
        }
    }
    if full {
        tx.execute_batch(
            "CREATE INDEX identity_records_by_profile ON identity_records (profile_id)",
        )
        .map_err(err)?;
    }
    let changed_profiles = touched.len() as u64;
    stages.push(("assigning profiles".into(), clock.elapsed().as_secs_f64()));
    let clock = Instant::now();

    // Identifiers and blocking keys.
    if full {
        // A full run rewrites these tables whole: emptied, filled in key
        // order, secondary indexes rebuilt at the end. Inserting millions of
        // rows in random key order into a live index would rewrite each
        // page again and again.
        tx.execute_batch(
            "DELETE FROM identifiers; DELETE FROM blocking_keys; DELETE FROM match_fields;
             DELETE FROM profile_links;
             DELETE FROM match_pairs; DELETE FROM refused_merges;
             DROP INDEX IF EXISTS identifiers_by_record;
             DROP INDEX IF EXISTS profile_links_by_a; DROP INDEX IF EXISTS profile_links_by_b;",
        )
        .map_err(err)?;
        // Blocking keys are gathered and sorted, and the kept records'
        // fields encoded, on a second thread while this one writes the
        // identifiers; they arrive in batches, in key (then record) order,
        // through a bounded channel.
        enum Written {
            Keys(Vec<(i64, i64)>),
            Fields(Vec<(i64, String)>),
        }
        let (send, receive) = std::sync::mpsc::sync_channel::<Written>(4);
        let profile_now = &profile_now;
        std::thread::scope(|scope| -> Result<()> {
            // Owned here, so an early return drops it and a sender blocked
            // on a full channel wakes up with an error instead of waiting
            // for the scope to end.
            let receive = receive;
            scope.spawn(move || {
                // (key, profile, fingerprint, record)
                let mut keys: Vec<(i64, i64, i64, usize)> = Vec::new();
                for (i, r) in recs.iter().enumerate() {
                    for key in r.blocking_keys() {
                        keys.push((key, profile_now[i], r.fingerprint, i));
                    }
                }
                // One record per block, profile and fingerprint: records
                // with the same fields in one profile (a customer's orders)
                // compare alike, and an incremental run brings the whole
                // profile anyway. Runs that move records between profiles
                // (incremental, split, unmerge) add the keys of every record
                // they load, so none becomes unreachable.
                keys.sort_unstable();
                keys.dedup_by(|next, kept| {
                    next.0 == kept.0 && next.1 == kept.1 && next.2 == kept.2
                });
                for chunk in keys.chunks(8192) {
                    let batch = chunk
                        .iter()
                        .map(|&(key, _, _, i)| (key, recs[i].id))
                        .collect();
                    // The writer stopped (an error, a cancel): so do we.
                    if send.send(Written::Keys(batch)).is_err() {
                        return;
                    }
                }
                // Fields once per record that kept a key.
                let mut kept: Vec<usize> = keys.iter().map(|k| k.3).collect();
                drop(keys);
                kept.sort_unstable_by_key(|&i| recs[i].id);
                kept.dedup();
                for chunk in kept.chunks(8192) {
                    let batch = chunk
                        .iter()
                        .filter_map(|&i| Some((recs[i].id, recs[i].fields.as_ref()?.encode())))
                        .collect();
                    if send.send(Written::Fields(batch)).is_err() {
                        return;
                    }
                }
            });
            let mut ids: Vec<(&str, &str, i64)> = Vec::new();
            for r in recs {
                for (k, v) in &r.ids {
                    ids.push((records::id_kind_name(*k), v, r.id));
                }
            }
            ids.par_sort_unstable();
            ids.dedup();
            // Millions of rows: written in chunks, so a cancel is heard.
            for (n, chunk) in ids.chunks(ROWS * 1024).enumerate() {
                if n > 0 && progress.is_cancelled() {
                    return Err(Cancelled.into());
                }
                insert_rows(
                    tx,
                    "identifiers (kind, value, record_id)",
                    chunk,
                    |(k, v, id)| [k, v, id],
                )
                .map_err(err)?;
            }
            drop(ids);
            for (n, batch) in receive.iter().enumerate() {
                match batch {
                    Written::Keys(rows) => {
                        insert_rows(tx, "blocking_keys (key, record_id)", &rows, |(key, id)| {
                            [key, id]
                        })
                    }
                    Written::Fields(rows) => insert_rows(
                        tx,
                        "match_fields (record_id, fields)",
                        &rows,
                        |(id, text)| [id, text],
                    ),
                }
                .map_err(err)?;
                if n % 16 == 0 && progress.is_cancelled() {
                    return Err(Cancelled.into());
                }
            }
            Ok(())
        })?;
        tx.execute_batch("CREATE INDEX identifiers_by_record ON identifiers (record_id);")
            .map_err(err)?;
    } else {
        let mut del_ids = tx
            .prepare_cached("DELETE FROM identifiers WHERE record_id = ?1")
            .map_err(err)?;
        let mut ins_id = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO identifiers (kind, value, record_id) VALUES (?1, ?2, ?3)",
            )
            .map_err(err)?;
        // Rows are written in primary-key order, not record order: both
        // tables are large WITHOUT ROWID B-trees, and consecutive inserts
        // into neighbouring pages read and dirty each page once instead of
        // once per row.
        let mut new_ids: Vec<(&str, &str, i64)> = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            if !fresh[i] {
                continue;
            }
            // A device's logins accumulate; a contact or order is replaced.
            if r.kind != RecordKind::Device && r.profile.is_some() {
                del_ids.execute([r.id]).map_err(err)?;
                forget_keys(tx, r).map_err(err)?;
            }
            for (k, v) in &r.ids {
                new_ids.push((records::id_kind_name(*k), v.as_ref(), r.id));
            }
        }
        new_ids.sort_unstable();
        for (k, v, id) in new_ids {
            ins_id.execute(params![k, v, id]).map_err(err)?;
        }
        // A full run stores one record per block, profile and fingerprint;
        // where a record changed or moved, the one kept for its profile may
        // be gone: every record of such a profile gets its own keys.
        // A profile that moved whole (merged into another) keeps its
        // stand-ins; one that lost a changed record or was split does not.
        let mut went_to: HashMap<i64, HashSet<i64>> = HashMap::new();
        let mut disturbed: HashSet<i64> = HashSet::new();
        for (i, r) in recs.iter().enumerate() {
            if let Some(old) = r.profile {
                went_to.entry(old).or_default().insert(profile_now[i]);
                if fresh[i] {
                    disturbed.insert(old);
                }
            }
        }
        disturbed.extend(
            went_to
                .into_iter()
                .filter(|(_, to)| to.len() > 1)
                .map(|(p, _)| p),
        );
        store_keys(
            tx,
            recs.iter().enumerate().filter_map(|(i, r)| {
                (fresh[i] || r.profile.is_some_and(|p| disturbed.contains(&p))).then_some(r)
            }),
        )
        .map_err(err)?;
    }
    stages.push(("writing identifiers".into(), clock.elapsed().as_secs_f64()));
    let clock = Instant::now();
    {
        let mut ins = tx
            .prepare_cached("INSERT INTO profile_links (record_a, record_b, reason, detail, weight) VALUES (?1, ?2, ?3, ?4, ?5)")
            .map_err(err)?;
        for l in &outcome.links {
            ins.execute(params![
                recs[l.a as usize].id,
                recs[l.b as usize].id,
                l.reason,
                l.detail,
                l.weight
            ])
            .map_err(err)?;
        }
        let mut ins = tx
            .prepare_cached(
                "INSERT INTO match_pairs (record_a, record_b, weight, probability, levels) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (record_a, record_b) DO UPDATE SET weight = excluded.weight, probability = excluded.probability, levels = excluded.levels",
            )
            .map_err(err)?;
        let decided: HashSet<(i64, i64)> = {
            let mut st = tx
                .prepare("SELECT record_a, record_b FROM identity_decisions")
                .map_err(err)?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        for c in &outcome.review {
            let (a, b) = (recs[c.a as usize].id, recs[c.b as usize].id);
            let (a, b) = (a.min(b), a.max(b));
            if decided.contains(&(a, b)) {
                continue;
            }
            ins.execute(params![
                a,
                b,
                c.weight,
                c.probability,
                serde_json::to_string(&c.levels).unwrap_or_default()
            ])
            .map_err(err)?;
        }
        // Pairs now inside one profile need no review.
        tx.execute(
            "DELETE FROM match_pairs WHERE (SELECT profile_id FROM identity_records WHERE id = record_a)
                                          = (SELECT profile_id FROM identity_records WHERE id = record_b)",
            [],
        )
        .map_err(err)?;
        let mut ins = tx
            .prepare_cached("INSERT INTO refused_merges (reason, kind, value, records, record_a, record_b, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .map_err(err)?;
        for r in &outcome.refused {
            ins.execute(params![
                r.reason,
                r.kind,
                r.value,
                r.records as i64,
                r.a.map(|a| recs[a as usize].id),
                r.b.map(|b| recs[b as usize].id),
                r.detail
            ])
            .map_err(err)?;
        }
        for (from, into) in &merged_away {
            log(
                tx,
                &options.now,
                &options.actor,
                "merge",
                Some(*into),
                None,
                None,
                &serde_json::json!({"merged_profile": from, "into": into, "why": "new records link them"}),
            )
            .map_err(err)?;
        }
    }
    if full {
        tx.execute_batch(
            "CREATE INDEX profile_links_by_a ON profile_links (record_a);
             CREATE INDEX profile_links_by_b ON profile_links (record_b);",
        )
        .map_err(err)?;
    }
    set_json(tx, MODEL_KEY.0, &outcome.model).map_err(err)?;
    stages.push(("writing links".into(), clock.elapsed().as_secs_f64()));
    let clock = Instant::now();

    let scope: Vec<i64> = touched.into_iter().collect();
    crate::profiles::rebuild(
        tx,
        if full {
            crate::profiles::Scope::All
        } else {
            crate::profiles::Scope::Profiles(&scope)
        },
        &options.now,
        progress,
    )
    .map_err(|e| IdentityError::Profiles(e.to_string()))?;
    stages.push(("building profiles".into(), clock.elapsed().as_secs_f64()));

    let count = |q: &str| -> Result<u64> { tx.query_row(q, [], |r| r.get(0)).map_err(err) };
    Ok(ResolveReport {
        full,
        records: count("SELECT count(*) FROM identity_records")?,
        records_matched: fresh.iter().filter(|f| **f).count() as u64,
        profiles: count("SELECT count(*) FROM profiles")?,
        profiles_created: created,
        profiles_changed: changed_profiles,
        candidate_pairs: outcome.candidate_pairs,
        pairs_compared: outcome.pairs_compared,
        skipped_blocks: outcome.skipped_blocks,
        merged_by_identifier: outcome.merged_by_identifier,
        merged_by_match: outcome.merged_by_match,
        merged_by_decision: outcome.merged_by_decision,
        review_pairs: count("SELECT count(*) FROM match_pairs")?,
        refused: outcome.refused.len() as u64,
        auto_merge_at: outcome.auto_merge_at,
        model_best_at: Some(outcome.model_best),
        review_from: outcome.review_from,
        stages: Vec::new(),
        seconds: 0.0,
    })
}

// ---- reading ---------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub resolved: bool,
    pub profiles: u64,
    pub records: u64,
    pub unresolved_records: u64,
    pub review_pending: u64,
    pub refused: u64,
    pub last_run: Option<ResolveReport>,
    pub last_run_at: Option<String>,
}

pub fn summary(ws: &Workspace) -> Result<Summary> {
    let c = ws.conn();
    let count = |q: &str| -> Result<u64> { c.query_row(q, [], |r| r.get(0)).map_err(sql(ws)) };
    let last: Option<(String, ResolveReport)> = get_json(c, LAST_RUN_KEY.0).map_err(sql(ws))?;
    let mark: Option<Watermark> = get_json(c, WATERMARK_KEY.0).map_err(sql(ws))?;
    let resolved = mark.is_some();
    // Records are created by a run; rows imported since the last one are
    // what a run would look at.
    let unresolved = match mark {
        None => count(
            "SELECT (SELECT count(*) FROM contacts) + (SELECT count(*) FROM orders)",
        )?,
        Some(m) => c
            .query_row(
                "SELECT (SELECT count(*) FROM contacts WHERE import_id > ?1) + (SELECT count(*) FROM orders WHERE import_id > ?1)
                      + (SELECT count(*) FROM identity_records WHERE profile_id IS NULL)",
                [m.import_id],
                |r| r.get(0),
            )
            .map_err(sql(ws))?,
    };
    Ok(Summary {
        resolved,
        profiles: count("SELECT count(*) FROM profiles")?,
        records: count("SELECT count(*) FROM identity_records")?,
        unresolved_records: unresolved,
        review_pending: count("SELECT count(*) FROM match_pairs")?,
        refused: count("SELECT count(*) FROM refused_merges")?,
        last_run_at: last.as_ref().map(|(at, _)| at.clone()),
        last_run: last.map(|(_, r)| r),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComparisonView {
    pub field: String,
    pub level: String,
    pub a: Option<String>,
    pub b: Option<String>,
    pub weight: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewPairView {
    pub id: i64,
    pub weight: f64,
    pub probability: f64,
    pub a: RecordView,
    pub b: RecordView,
    pub comparisons: Vec<ComparisonView>,
}

fn comparison_value(view: &RecordView, c: Comparison) -> Option<String> {
    let get = |k: &str| {
        view.fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.clone())
    };
    match c {
        Comparison::FirstName => get("first_name").or_else(|| {
            get("billing_name")
                .or(get("full_name"))
                .and_then(|n| n.rsplit_once(' ').map(|(f, _)| f.to_string()))
        }),
        Comparison::LastName => get("last_name").or_else(|| {
            get("billing_name")
                .or(get("full_name"))
                .map(|n| n.rsplit(' ').next().unwrap_or("").to_string())
        }),
        Comparison::Email => get("email"),
        Comparison::Phone => get("phone"),
        Comparison::BirthDate => get("birth_date"),
        Comparison::Postcode => get("postcode").or(get("billing_postcode")),
        Comparison::City => get("city").or(get("billing_city")),
        Comparison::Address => get("address1"),
    }
}

/// Checks the `blocking_keys` table against the records: how many
/// (record, key) pairs have no stored row of the same key for a record of
/// the same profile and fingerprint (an incremental run could not find
/// that person through the key), and how many stored rows are stale: their
/// record's stored fields differ from its fields, or do not make the key.
/// Both are 0 after every kind of run; tests check it.
pub fn blocking_key_gaps(ws: &Workspace) -> Result<(u64, u64)> {
    let c = ws.conn();
    let recs = records::load(c, &Filter::All).map_err(sql(ws))?;
    let by_id: HashMap<i64, &Record> = recs.iter().map(|r| (r.id, r)).collect();
    let mut stored: HashSet<(i64, Option<i64>, i64)> = HashSet::new();
    let mut stored_fields: HashMap<i64, (bool, Vec<i64>)> = HashMap::new();
    let mut stale = 0u64;
    let mut st = c
        .prepare(
            "SELECT k.key, k.record_id, f.fields FROM blocking_keys k
               LEFT JOIN match_fields f ON f.record_id = k.record_id",
        )
        .map_err(sql(ws))?;
    let mut rows = st.query([]).map_err(sql(ws))?;
    while let Some(row) = rows.next().map_err(sql(ws))? {
        let (key, id, text): (i64, i64, Option<String>) = (
            row.get(0).map_err(sql(ws))?,
            row.get(1).map_err(sql(ws))?,
            row.get(2).map_err(sql(ws))?,
        );
        // Each record's stored fields are compared with its fields and
        // decoded once, for the first of its keys: whether they are its
        // current fields, and the keys they make (a key they do not make
        // could never be deleted by `forget_keys`: it counts as stale too).
        let (current, made) = stored_fields.entry(id).or_insert_with(|| {
            let current = by_id
                .get(&id)
                .is_some_and(|r| r.fields.as_deref().map(compare::Fields::encode) == text);
            let made = text
                .as_deref()
                .and_then(compare::Fields::decode)
                .map(|f| {
                    records::blocking_keys_by_rule(&f)
                        .into_iter()
                        .map(|k| k.1)
                        .collect()
                })
                .unwrap_or_default();
            (current, made)
        });
        match by_id.get(&id) {
            Some(r) => {
                if !*current || !made.contains(&key) {
                    stale += 1;
                }
                stored.insert((key, r.profile, r.stored_fingerprint));
            }
            None => stale += 1,
        }
    }
    let mut missing = 0u64;
    for r in &recs {
        if r.profile.is_none() {
            continue;
        }
        for key in r.blocking_keys() {
            if !stored.contains(&(key, r.profile, r.stored_fingerprint)) {
                missing += 1;
            }
        }
    }
    Ok((missing, stale))
}

/// The review queue, strongest pairs first.
pub fn review_queue(ws: &Workspace, limit: u64, offset: u64) -> Result<(u64, Vec<ReviewPairView>)> {
    let c = ws.conn();
    let total: u64 = c
        .query_row("SELECT count(*) FROM match_pairs", [], |r| r.get(0))
        .map_err(sql(ws))?;
    let model: Option<MatchModel> = get_json(c, MODEL_KEY.0).map_err(sql(ws))?;
    let mut st = c
        .prepare("SELECT id, record_a, record_b, weight, probability, levels FROM match_pairs ORDER BY weight DESC, id LIMIT ?1 OFFSET ?2")
        .map_err(sql(ws))?;
    let rows: Vec<(i64, i64, i64, f64, f64, String)> = st
        .query_map(params![limit as i64, offset as i64], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .map_err(sql(ws))?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql(ws))?;
    let mut out = Vec::new();
    for (id, a, b, weight, probability, levels) in rows {
        let (Some(va), Some(vb)) = (
            record_view(c, a).map_err(sql(ws))?,
            record_view(c, b).map_err(sql(ws))?,
        ) else {
            continue;
        };
        let levels: Vec<u8> = serde_json::from_str(&levels).unwrap_or_default();
        let comparisons = COMPARISONS
            .iter()
            .enumerate()
            .map(|(i, comp)| {
                let l = levels.get(i).copied().unwrap_or(0);
                ComparisonView {
                    field: comp.name().into(),
                    level: comp
                        .levels()
                        .get(l as usize)
                        .copied()
                        .unwrap_or("missing")
                        .into(),
                    a: comparison_value(&va, *comp),
                    b: comparison_value(&vb, *comp),
                    weight: model.as_ref().map_or(0.0, |m| m.level_weight(i, l)),
                }
            })
            .collect();
        out.push(ReviewPairView {
            id,
            weight,
            probability,
            a: va,
            b: vb,
            comparisons,
        });
    }
    Ok((total, out))
}

/// Records a person's decision on a review pair. `same` merges the two
/// profiles at once (the larger keeps its id); `different` keeps them apart
/// on every later run. Returns the resulting profile (for `same`) and the
/// pairs left to review.
pub fn decide(
    ws: &mut Workspace,
    pair_id: i64,
    same: bool,
    actor: &str,
    now: &str,
) -> Result<(Option<i64>, u64)> {
    let path = ws.path().display().to_string();
    let err = |source| IdentityError::Sql {
        path: path.clone(),
        source,
    };
    let tx = ws.conn_mut().transaction().map_err(err)?;
    let result = decide_in(&tx, &path, pair_id, same, actor, now)?;
    let remaining: u64 = tx
        .query_row("SELECT count(*) FROM match_pairs", [], |r| r.get(0))
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok((result, remaining))
}

/// Which waiting pairs a bulk decision takes: at or above `same_from` are
/// the same person, below `different_below` different people.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct BulkDecision {
    pub same_from: Option<f64>,
    pub different_below: Option<f64>,
}

/// What a bulk decision did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct BulkOutcome {
    pub merged: u64,
    pub kept_apart: u64,
    pub remaining: u64,
    /// The backup taken first (file name), if any.
    pub backup: Option<String>,
}

/// Decides every waiting review pair a rule covers, in one transaction,
/// after backing the workspace up (a bulk merge is hard to undo by hand:
/// each merge would need its own unmerge). The strongest pairs go first.
pub fn decide_all(
    ws: &mut Workspace,
    rule: BulkDecision,
    backup: bool,
    actor: &str,
    now: &str,
) -> Result<BulkOutcome> {
    for p in [rule.same_from, rule.different_below].into_iter().flatten() {
        if !(0.0..=1.0).contains(&p) {
            return Err(IdentityError::Invalid(format!(
                "a match probability must be between 0 and 1, not {p}"
            )));
        }
    }
    if let (Some(s), Some(d)) = (rule.same_from, rule.different_below) {
        if d > s {
            return Err(IdentityError::Invalid(format!(
                "pairs below {d} cannot be different people while pairs from {s} are the same: the ranges overlap"
            )));
        }
    }
    if rule.same_from.is_none() && rule.different_below.is_none() {
        return Err(IdentityError::Invalid(
            "say which pairs to decide: a probability from which pairs are the same person, below which they are different, or both".into(),
        ));
    }
    let path = ws.path().display().to_string();
    let err = |source| IdentityError::Sql {
        path: path.clone(),
        source,
    };
    let chosen: Vec<(i64, bool)> = {
        let mut st = ws
            .conn()
            .prepare("SELECT id, probability FROM match_pairs ORDER BY probability DESC, id")
            .map_err(err)?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?)))
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, p) = row.map_err(err)?;
            if rule.same_from.is_some_and(|s| p >= s) {
                out.push((id, true));
            } else if rule.different_below.is_some_and(|d| p < d) {
                out.push((id, false));
            }
        }
        out
    };
    let mut outcome = BulkOutcome::default();
    if backup && !chosen.is_empty() {
        let b = crate::store::backup::create(ws, "before deciding review pairs in bulk", now)
            .map_err(|e| IdentityError::Invalid(format!("could not back up first: {e}")))?;
        outcome.backup = Some(b.name);
    }
    let tx = ws.conn_mut().transaction().map_err(err)?;
    for (id, same) in chosen {
        // A merge can take other waiting pairs with it (both records now in
        // one profile): those are gone, not an error.
        let still: bool = tx
            .query_row(
                "SELECT count(*) FROM match_pairs WHERE id = ?1",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .map_err(err)?
            > 0;
        if !still {
            continue;
        }
        let merged = decide_in(&tx, &path, id, same, actor, now)?;
        if same && merged.is_some() {
            outcome.merged += 1;
        } else if !same {
            outcome.kept_apart += 1;
        }
    }
    outcome.remaining = tx
        .query_row("SELECT count(*) FROM match_pairs", [], |r| r.get(0))
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(outcome)
}

/// One review decision inside the caller's transaction; returns the profile
/// the pair ended up in when they were merged.
fn decide_in(
    tx: &Connection,
    path: &str,
    pair_id: i64,
    same: bool,
    actor: &str,
    now: &str,
) -> Result<Option<i64>> {
    let err = |source| IdentityError::Sql {
        path: path.to_string(),
        source,
    };
    let pair: Option<(i64, i64)> = tx
        .query_row(
            "SELECT record_a, record_b FROM match_pairs WHERE id = ?1",
            [pair_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(err)?;
    let Some((a, b)) = pair else {
        return Err(IdentityError::NotFound(format!(
            "There is no review pair #{pair_id}; it may have been decided already."
        )));
    };
    record_decision(tx, a, b, same, actor, now).map_err(err)?;
    tx.execute("DELETE FROM match_pairs WHERE id = ?1", [pair_id])
        .map_err(err)?;
    let profile_of = |r: i64| -> Result<Option<i64>> {
        tx.query_row(
            "SELECT profile_id FROM identity_records WHERE id = ?1",
            [r],
            |x| x.get(0),
        )
        .map_err(err)
    };
    let (pa, pb) = (profile_of(a)?, profile_of(b)?);
    let mut result = None;
    if same {
        if let (Some(pa), Some(pb)) = (pa, pb) {
            let size = |p: i64| -> Result<i64> {
                tx.query_row(
                    "SELECT count(*) FROM identity_records WHERE profile_id = ?1",
                    [p],
                    |r| r.get(0),
                )
                .map_err(err)
            };
            let (keep, gone) = if (size(pa)?, -pa) >= (size(pb)?, -pb) {
                (pa, pb)
            } else {
                (pb, pa)
            };
            if keep != gone {
                tx.execute(
                    "UPDATE identity_records SET profile_id = ?1 WHERE profile_id = ?2",
                    [keep, gone],
                )
                .map_err(err)?;
                tx.execute(
                    "INSERT INTO profile_links (record_a, record_b, reason, detail, weight) VALUES (?1, ?2, 'accepted', ?3, NULL)",
                    params![a, b, format!("decided by {actor}")],
                )
                .map_err(err)?;
                tx.execute(
                    "DELETE FROM match_pairs WHERE (SELECT profile_id FROM identity_records WHERE id = record_a)
                                                  = (SELECT profile_id FROM identity_records WHERE id = record_b)",
                    [],
                )
                .map_err(err)?;
                crate::profiles::rebuild(
                    tx,
                    crate::profiles::Scope::Profiles(&[keep, gone]),
                    now,
                    &mut crate::progress::Silent,
                )
                .map_err(|e| IdentityError::Profiles(e.to_string()))?;
            }
            result = Some(keep);
        }
    }
    log(
        tx,
        now,
        actor,
        if same { "accept" } else { "reject" },
        result.or(pa),
        Some(a),
        Some(b),
        &serde_json::json!({"pair": pair_id, "profiles": [pa, pb]}),
    )
    .map_err(err)?;
    crate::privacy::audit::record(
        tx,
        crate::privacy::audit::Action::ReviewDecision,
        now,
        Some(&format!("review pair {pair_id}")),
        &serde_json::json!({"decision": if same { "same" } else { "different" }, "merged": result.is_some()}),
    )
    .map_err(err)?;
    Ok(result)
}

fn record_decision(
    conn: &Connection,
    a: i64,
    b: i64,
    same: bool,
    actor: &str,
    now: &str,
) -> rusqlite::Result<()> {
    let (a, b) = (a.min(b), a.max(b));
    conn.prepare_cached(
        "INSERT INTO identity_decisions (record_a, record_b, decision, decided_by, decided_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (record_a, record_b) DO UPDATE SET decision = excluded.decision, decided_by = excluded.decided_by, decided_at = excluded.decided_at",
    )?
    .execute(params![a, b, if same { "same" } else { "different" }, actor, now])?;
    Ok(())
}

/// The most records an unmerge splits at once: it stores a decision for
/// every pair, so a profile of thousands would write millions.
pub const UNMERGE_MAX: usize = 500;

/// Takes one source record out of its profile for good ("this is not
/// them"). The rest of the profile is re-resolved without it, so records it
/// alone tied in leave with it. Returns the profiles afterwards, the
/// original id first.
pub fn split(ws: &mut Workspace, record_id: i64, actor: &str, now: &str) -> Result<Vec<i64>> {
    let (profile, members) = profile_members(ws, record_id)?;
    if members.len() < 2 {
        return Err(IdentityError::Invalid(format!(
            "Record #{record_id} is the only record of profile #{profile}; there is nothing to split off."
        )));
    }
    let pairs: Vec<(i64, i64)> = members
        .iter()
        .filter(|m| **m != record_id)
        .map(|m| (record_id, *m))
        .collect();
    separate(
        ws,
        profile,
        &members,
        &pairs,
        "split",
        Some(record_id),
        actor,
        now,
    )
}

/// Splits a profile back into its source records, each its own profile,
/// and remembers that they are different people.
pub fn unmerge(ws: &mut Workspace, profile: i64, actor: &str, now: &str) -> Result<Vec<i64>> {
    let members: Vec<i64> = {
        let mut st = ws
            .conn()
            .prepare("SELECT id FROM identity_records WHERE profile_id = ?1 ORDER BY id")
            .map_err(sql(ws))?;
        let rows = st.query_map([profile], |r| r.get(0)).map_err(sql(ws))?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql(ws))?
    };
    if members.is_empty() {
        return Err(IdentityError::NotFound(format!(
            "There is no profile #{profile}."
        )));
    }
    if members.len() > UNMERGE_MAX {
        return Err(IdentityError::Invalid(format!(
            "Profile #{profile} has {} records; unmerging splits at most {UNMERGE_MAX}. Split off records one by one instead.",
            members.len()
        )));
    }
    let mut pairs = Vec::new();
    for (i, a) in members.iter().enumerate() {
        for b in &members[i + 1..] {
            pairs.push((*a, *b));
        }
    }
    separate(ws, profile, &members, &pairs, "unmerge", None, actor, now)
}

fn profile_members(ws: &Workspace, record_id: i64) -> Result<(i64, Vec<i64>)> {
    let profile: Option<Option<i64>> = ws
        .conn()
        .query_row(
            "SELECT profile_id FROM identity_records WHERE id = ?1",
            [record_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql(ws))?;
    let profile = profile.flatten().ok_or_else(|| {
        IdentityError::NotFound(format!("There is no resolved source record #{record_id}."))
    })?;
    let mut st = ws
        .conn()
        .prepare("SELECT id FROM identity_records WHERE profile_id = ?1 ORDER BY id")
        .map_err(sql(ws))?;
    let rows = st.query_map([profile], |r| r.get(0)).map_err(sql(ws))?;
    let members = rows.collect::<rusqlite::Result<_>>().map_err(sql(ws))?;
    Ok((profile, members))
}

/// Stores "different" decisions for `pairs`, re-resolves the profile's
/// records under them, and writes the resulting profiles.
#[allow(clippy::too_many_arguments)]
fn separate(
    ws: &mut Workspace,
    profile: i64,
    members: &[i64],
    pairs: &[(i64, i64)],
    action: &str,
    record: Option<i64>,
    actor: &str,
    now: &str,
) -> Result<Vec<i64>> {
    // Splitting is a correction that cannot be taken back by deciding
    // again (the "different" decisions win over later runs): a backup
    // first, as before deciding in bulk, so a mistaken one can be undone.
    crate::store::backup::create(ws, &format!("before {action}"), now)
        .map_err(|e| IdentityError::Invalid(format!("could not back up first: {e}")))?;
    let path = ws.path().display().to_string();
    let err = |source| IdentityError::Sql {
        path: path.clone(),
        source,
    };
    let tx = ws.conn_mut().transaction().map_err(err)?;
    for (a, b) in pairs {
        record_decision(&tx, *a, *b, false, actor, now).map_err(err)?;
    }
    let model: Option<MatchModel> = get_json(&tx, MODEL_KEY.0).map_err(err)?;
    let recs = records::load(&tx, &Filter::Wanted(members)).map_err(err)?;
    let fresh = vec![true; recs.len()];
    let decisions = load_decisions(&tx, &recs).map_err(err)?;
    let empty = HashSet::new();
    let stored: Thresholds = get_json(&tx, THRESHOLDS_KEY.0)
        .map_err(err)?
        .unwrap_or_default();
    let defaults = Settings::default();
    let settings = Settings {
        auto_merge_at: stored.auto_merge_at,
        review_from: stored.review_from,
        max_ids_per_kind: stored.max_ids_per_kind.unwrap_or(defaults.max_ids_per_kind),
        max_people_per_identifier: stored
            .max_people_per_identifier
            .unwrap_or(defaults.max_people_per_identifier),
        ..defaults
    };
    let mut outcome = resolve::run(
        &Batch {
            records: &recs,
            fresh: &fresh,
            too_common: &empty,
            decisions: &decisions,
            model: model.as_ref(),
        },
        &settings,
        &mut crate::progress::Silent,
    )?;
    // The biggest part keeps the id (the split-off record never does);
    // the others get new ids in record order.
    let g = &mut outcome.graph;
    let mut parts: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for i in 0..recs.len() {
        parts.entry(g.find(i as u32)).or_default().push(i);
    }
    let mut parts: Vec<Vec<usize>> = parts.into_values().collect();
    parts.sort_by_key(|p| {
        let has_split = p.iter().any(|i| Some(recs[*i].id) == record);
        (has_split, std::cmp::Reverse(p.len()), recs[p[0]].id)
    });
    let mut next_id: i64 = tx
        .query_row(
            "SELECT max(coalesce((SELECT max(id) FROM profiles), 0), coalesce((SELECT max(profile_id) FROM identity_records), 0)) + 1",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    let mut ids = Vec::new();
    {
        let mut up = tx
            .prepare_cached("UPDATE identity_records SET profile_id = ?2 WHERE id = ?1")
            .map_err(err)?;
        for (k, part) in parts.iter().enumerate() {
            let id = if k == 0 {
                profile
            } else {
                next_id += 1;
                next_id - 1
            };
            ids.push(id);
            for i in part {
                up.execute(params![recs[*i].id, id]).map_err(err)?;
            }
        }
    }
    // The records may have lost the block-mate that stood for them (see
    // the full run's key dedupe): each keeps its own keys from now on.
    // Keys stored from fields a record no longer has go first.
    for r in &recs {
        forget_keys(&tx, r).map_err(err)?;
    }
    store_keys(&tx, recs.iter()).map_err(err)?;
    // Links that now cross profiles explain nothing any more.
    let mut del = tx
        .prepare_cached("DELETE FROM profile_links WHERE (record_a = ?1 OR record_b = ?1) AND (SELECT profile_id FROM identity_records WHERE id = record_a) IS NOT (SELECT profile_id FROM identity_records WHERE id = record_b)")
        .map_err(err)?;
    for m in members {
        del.execute([m]).map_err(err)?;
    }
    drop(del);
    crate::profiles::rebuild(
        &tx,
        crate::profiles::Scope::Profiles(&ids),
        now,
        &mut crate::progress::Silent,
    )
    .map_err(|e| IdentityError::Profiles(e.to_string()))?;
    log(
        &tx,
        now,
        actor,
        action,
        Some(profile),
        record,
        None,
        &serde_json::json!({"profiles": ids, "records": members.len(), "decisions": pairs.len()}),
    )
    .map_err(err)?;
    crate::privacy::audit::record(
        &tx,
        if action == "split" {
            crate::privacy::audit::Action::Split
        } else {
            crate::privacy::audit::Action::Unmerge
        },
        now,
        Some(&format!("profile {profile}")),
        &serde_json::json!({"profiles": ids.len(), "records": members.len(), "decisions": pairs.len()}),
    )
    .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(ids)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefusedView {
    pub reason: String,
    pub kind: Option<String>,
    pub value: Option<String>,
    pub records: u64,
    pub detail: String,
}

pub fn refused(ws: &Workspace, limit: u64, offset: u64) -> Result<(u64, Vec<RefusedView>)> {
    let c = ws.conn();
    let total: u64 = c
        .query_row("SELECT count(*) FROM refused_merges", [], |r| r.get(0))
        .map_err(sql(ws))?;
    let mut st = c
        .prepare("SELECT reason, kind, value, records, detail FROM refused_merges ORDER BY records DESC, id LIMIT ?1 OFFSET ?2")
        .map_err(sql(ws))?;
    let rows = st
        .query_map(params![limit as i64, offset as i64], |r| {
            Ok(RefusedView {
                reason: r.get(0)?,
                kind: r.get(1)?,
                value: r.get(2)?,
                records: r.get::<_, i64>(3)? as u64,
                detail: r.get(4)?,
            })
        })
        .map_err(sql(ws))?;
    Ok((
        total,
        rows.collect::<rusqlite::Result<_>>().map_err(sql(ws))?,
    ))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub profile_id: Option<i64>,
    pub record_a: Option<i64>,
    pub record_b: Option<i64>,
    pub detail: String,
}

pub fn audit_log(ws: &Workspace, limit: u64, offset: u64) -> Result<Vec<LogEntry>> {
    let mut st = ws
        .conn()
        .prepare("SELECT at, actor, action, profile_id, record_a, record_b, detail FROM identity_log ORDER BY id DESC LIMIT ?1 OFFSET ?2")
        .map_err(sql(ws))?;
    let rows = st
        .query_map(params![limit as i64, offset as i64], |r| {
            Ok(LogEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                profile_id: r.get(3)?,
                record_a: r.get(4)?,
                record_b: r.get(5)?,
                detail: r.get(6)?,
            })
        })
        .map_err(sql(ws))?;
    rows.collect::<rusqlite::Result<_>>().map_err(sql(ws))
}
