//! Unified profiles: one row per person, built from the source records that
//! identity resolution put together.
//!
//! Each field's value is chosen by a survivorship rule (most recent
//! non-empty, source priority, most frequent) and remembers the record it
//! came from. Profiles are rebuilt by [`rebuild`] after every resolution,
//! for the profiles that changed; [`search`] answers from an FTS5 index and
//! [`detail`] gathers everything behind one profile.
//!
//! **Invariant:** a profile holds nothing a record does not: rebuilding
//! from the records gives the same rows.

mod detail;
pub mod search;
mod survivorship;

pub use detail::{
    detail, record_view, Identity, Link, ProfileDetail, RecordView, TimelineEntry, Value,
};
pub use search::{search, ProfileSummary, SearchResult};
pub use survivorship::{rules, set_rules, Rule, SurvivorshipRules, FIELDS};

use std::collections::HashMap;
use std::time::Instant;

use rusqlite::{params, Connection};

use crate::progress::{Progress, Tick};

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profiles: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("survivorship rules: {0}")]
    Rules(String),
    #[error("cancelled")]
    Cancelled,
}

/// Which profiles to rebuild.
pub enum Scope<'a> {
    All,
    Profiles(&'a [i64]),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildReport {
    pub written: u64,
    pub deleted: u64,
}

pub(crate) const STAGE: &str = "Building profiles";

/// One record's contribution to its profile.
struct Contribution {
    record: i64,
    source: i64,
    /// ISO 8601; records without a date sort oldest.
    recency: String,
    values: [Option<String>; FIELDS.len()],
    /// Spelled names, emails, phones and ids for the search index.
    name: Option<String>,
    key: Option<String>,
}

/// Rebuilds the profiles in `scope` from their records, with the search
/// index. The caller owns the transaction.
pub fn rebuild(
    conn: &Connection,
    scope: Scope<'_>,
    now: &str,
    progress: &mut dyn Progress,
) -> Result<RebuildReport, ProfileError> {
    let started = Instant::now();
    let rules = rules(conn)?;
    let priority: HashMap<i64, usize> = {
        let mut st = conn.prepare("SELECT id, name FROM sources")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut m = HashMap::new();
        for row in rows {
            let (id, name) = row?;
            let rank = rules
                .source_priority
                .iter()
                .position(|s| s.eq_ignore_ascii_case(&name))
                .unwrap_or(usize::MAX);
            m.insert(id, rank);
        }
        m
    };
    let mut report = RebuildReport::default();
    let (filter, created): (&str, HashMap<i64, String>) = match &scope {
        Scope::All => {
            let mut st = conn.prepare("SELECT id, created_at FROM profiles")?;
            let created = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            report.deleted = conn.execute("DELETE FROM profiles", [])? as u64;
            conn.execute(
                "INSERT INTO profile_search (profile_search) VALUES ('delete-all')",
                [],
            )?;
            ("r.profile_id IS NOT NULL", created)
        }
        Scope::Profiles(ids) => {
            conn.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS rebuild_scope (id INTEGER PRIMARY KEY); DELETE FROM temp.rebuild_scope;",
            )?;
            let mut created = HashMap::new();
            let mut ins =
                conn.prepare_cached("INSERT OR IGNORE INTO temp.rebuild_scope (id) VALUES (?1)")?;
            let mut get = conn.prepare_cached("SELECT created_at FROM profiles WHERE id = ?1")?;
            let mut del = conn.prepare_cached("DELETE FROM profiles WHERE id = ?1")?;
            let mut del_fts = conn.prepare_cached("DELETE FROM profile_search WHERE rowid = ?1")?;
            for id in *ids {
                ins.execute([id])?;
                if let Ok(c) = get.query_row([id], |r| r.get::<_, String>(0)) {
                    created.insert(*id, c);
                }
                report.deleted += del.execute([id])? as u64;
                del_fts.execute([id])?;
            }
            (
                "r.profile_id IN (SELECT id FROM temp.rebuild_scope)",
                created,
            )
        }
    };
    let sql = format!(
        "SELECT r.profile_id, r.id, r.kind, r.source_id, r.source_key,
                c.first_name, c.last_name, c.full_name, c.email, c.phone, c.birth_date, c.gender,
                c.company, c.job_title, c.address1, c.city, c.region, c.postcode, c.country,
                coalesce(c.updated_at, c.created_at),
                o.billing_name, o.email, o.phone, o.billing_city, o.billing_postcode, o.billing_country, o.ordered_at
         FROM identity_records r
         LEFT JOIN contacts c ON r.kind = 'contact' AND c.id = r.row_id
         LEFT JOIN orders o ON r.kind = 'order' AND o.id = r.row_id
         WHERE {filter}
         ORDER BY r.profile_id"
    );
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query([])?;
    let mut current: Option<i64> = None;
    let mut group: Vec<Contribution> = Vec::new();
    let mut insert = conn.prepare_cached(
        "INSERT INTO profiles (id, first_name, last_name, email, phone, birth_date, gender, company, job_title,
                               address1, city, region, postcode, country, origins, records, first_seen, last_seen,
                               created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )?;
    let mut index = conn.prepare_cached(
        "INSERT INTO profile_search (rowid, name, email, phone, ids) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut flush = |id: i64,
                     group: &mut Vec<Contribution>,
                     report: &mut RebuildReport|
     -> Result<(), ProfileError> {
        if group.is_empty() {
            return Ok(());
        }
        let (values, origins) = survivorship::choose(&rules, &priority, group);
        let first_seen = group
            .iter()
            .map(|c| c.recency.as_str())
            .filter(|r| !r.is_empty())
            .min()
            .map(str::to_string);
        let last_seen = group
            .iter()
            .map(|c| c.recency.as_str())
            .max()
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        let origins_json = serde_json::to_string(&origins).unwrap_or_else(|_| "{}".into());
        let created_at = created.get(&id).map(String::as_str).unwrap_or(now);
        insert.execute(params![
            id,
            values[0],
            values[1],
            values[2],
            values[3],
            values[4],
            values[5],
            values[6],
            values[7],
            values[8],
            values[9],
            values[10],
            values[11],
            values[12],
            origins_json,
            group.len() as i64,
            first_seen,
            last_seen,
            created_at,
            now
        ])?;
        let doc = search::document(group.iter().map(|c| {
            (
                c.name.as_deref(),
                c.values[2].as_deref(),
                c.values[3].as_deref(),
                c.key.as_deref(),
            )
        }));
        index.execute(params![id, doc.name, doc.email, doc.phone, doc.ids])?;
        report.written += 1;
        group.clear();
        Ok(())
    };
    while let Some(row) = rows.next()? {
        let profile: i64 = row.get(0)?;
        if current != Some(profile) {
            if let Some(p) = current {
                flush(p, &mut group, &mut report)?;
                if report.written % 5_000 == 0 {
                    progress.tick(&Tick {
                        stage: STAGE,
                        done: report.written,
                        total: None,
                        bytes: 0,
                        total_bytes: None,
                        elapsed: started.elapsed(),
                    });
                    if progress.is_cancelled() {
                        return Err(ProfileError::Cancelled);
                    }
                }
            }
            current = Some(profile);
        }
        let kind: String = row.get(2)?;
        let text = |i: usize| -> rusqlite::Result<Option<String>> {
            Ok(row
                .get::<_, Option<String>>(i)?
                .filter(|s| !s.trim().is_empty()))
        };
        let mut values: [Option<String>; FIELDS.len()] = Default::default();
        let (recency, name, key) = match kind.as_str() {
            "contact" => {
                let (mut first, mut last) = (text(5)?, text(6)?);
                if first.is_none() && last.is_none() {
                    if let Some(full) = text(7)? {
                        let (f, l) = split_name(&full);
                        first = f;
                        last = l;
                    }
                }
                values[0] = first;
                values[1] = last;
                for (slot, col) in (2..13).zip(8..19) {
                    values[slot] = text(col)?;
                }
                let name = join_name(&values[0], &values[1]);
                (
                    text(19)?.unwrap_or_default(),
                    name,
                    Some(row.get::<_, String>(4)?),
                )
            }
            "order" => {
                if let Some(full) = text(20)? {
                    let (f, l) = split_name(&full);
                    values[0] = f;
                    values[1] = l;
                }
                values[2] = text(21)?;
                values[3] = text(22)?;
                values[9] = text(23)?;
                values[11] = text(24)?;
                values[12] = text(25)?;
                let name = join_name(&values[0], &values[1]);
                (text(26)?.unwrap_or_default(), name, None)
            }
            _ => (String::new(), None, None),
        };
        group.push(Contribution {
            record: row.get(1)?,
            source: row.get(3)?,
            recency,
            values,
            name,
            key,
        });
    }
    if let Some(p) = current {
        flush(p, &mut group, &mut report)?;
    }
    Ok(report)
}

fn join_name(first: &Option<String>, last: &Option<String>) -> Option<String> {
    match (first, last) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n.clone()),
        _ => None,
    }
}

/// "Anna Maria Smith" → ("Anna Maria", "Smith").
fn split_name(full: &str) -> (Option<String>, Option<String>) {
    let full = full.trim();
    match full.rsplit_once(' ') {
        Some((f, l)) => (Some(f.trim().to_string()), Some(l.trim().to_string())),
        None if full.is_empty() => (None, None),
        None => (None, Some(full.to_string())),
    }
}

#[cfg(test)]
mod tests;
