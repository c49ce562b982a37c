//! Writing `profiles` and `profile_search` from the records of each profile.
//!
//! One streaming query reads every record in scope ordered by profile id
//! (the `identity_records_by_profile` index gives that order for free),
//! joined to its contact or order row by primary key; each run of rows with
//! the same profile id is one person, chosen and written before the next
//! is read. Nothing is looked up per profile, so a million profiles cost
//! one pass over the records plus the writes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

use rusqlite::types::ValueRef;
use rusqlite::{CachedStatement, Connection, OptionalExtension, Row, Statement};

use super::search::{Document, COUNT_SETTING};
use super::survivorship::{field, rules, Chooser, Contribution, FIELDS};
use super::{Context, ProfileError, RebuildReport, Scope};
use crate::progress::{Cancelled, Progress, Tick};

const STAGE: &str = "Building profiles";

/// Profiles between two progress ticks (and cancellation checks).
const TICK_EVERY: u64 = 4096;

/// Rebuilds the profiles in `scope` from their records: survivorship
/// values with their origins, record counts, first and last seen, and the
/// search index row. Profiles in scope that no longer have records are
/// deleted. `created_at` survives; `updated_at` becomes `now`.
///
/// The caller owns the transaction: on error or cancellation, roll it back.
pub fn rebuild(
    conn: &Connection,
    scope: Scope<'_>,
    now: &str,
    progress: &mut dyn Progress,
) -> Result<RebuildReport, ProfileError> {
    let started = Instant::now();
    let rules = rules(conn)?;
    let chooser = Chooser::new(&rules);
    let ranks = source_ranks(conn, &rules.source_priority)?;

    // Clear the profiles in scope first, remembering when each was created,
    // then write every profile that still has records as a fresh row.
    let (mut previous, ids_json) = match scope {
        Scope::All => (clear_all(conn)?, None),
        Scope::Profiles(ids) => {
            let mut ids = ids.to_vec();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return Ok(RebuildReport::default());
            }
            (
                clear(conn, &ids)?,
                Some(serde_json::to_string(&ids).expect("ids serialise")),
            )
        }
    };
    let existing = previous.ids.len() as u64;
    let filter = match ids_json {
        None => "r.profile_id IS NOT NULL",
        Some(_) => "r.profile_id IN (SELECT value FROM json_each(?1))",
    };
    let bind = |st: &mut Statement<'_>| -> rusqlite::Result<()> {
        if let Some(json) = &ids_json {
            st.raw_bind_parameter(1, json)?;
        }
        Ok(())
    };

    let total: u64 = {
        let mut st = conn
            .prepare(&format!(
                "SELECT count(*) FROM identity_records r WHERE {filter}"
            ))
            .context("count the records of profiles")?;
        bind(&mut st).context("count the records of profiles")?;
        let mut rows = st.raw_query();
        let row = rows.next().context("count the records of profiles")?;
        row.map_or(Ok(0), |r| r.get::<_, i64>(0))
            .context("count the records of profiles")? as u64
    };

    // Search ids come from the identifiers table (customer_id, loyalty_id),
    // but a per-record lookup there would double the cost of the pass. A
    // contact's customer id is its source key and an order's its customer
    // key, both on the row already read; loyalty ids are few and read up
    // front; only devices (customer ids they logged in with) look theirs up.
    let loyalty = loyalty_ids(conn, filter, &bind)?;
    // The import's finish time dates a contact that carries no dates of
    // its own; it is only looked up when both dates are missing.
    let sql = format!(
        "SELECT r.profile_id, r.id, r.kind, r.source_id, r.source_key,
                c.first_name, c.last_name, c.full_name, c.email, c.phone, c.birth_date, c.gender,
                c.company, c.job_title, c.address1, c.city, c.region, c.postcode, c.country,
                coalesce(c.created_at, c.updated_at, (SELECT finished_at FROM imports WHERE id = c.import_id)),
                coalesce(c.updated_at, c.created_at, (SELECT finished_at FROM imports WHERE id = c.import_id)),
                o.billing_name, o.email, o.phone, o.billing_city, o.billing_postcode, o.billing_country,
                o.ordered_at, o.customer_key,
                CASE WHEN r.kind = 'device' THEN
                  (SELECT group_concat(i.value, ' ') FROM identifiers i
                    WHERE i.record_id = r.id AND +i.kind = 'customer_id')
                END
         FROM identity_records r
         LEFT JOIN contacts c ON r.kind = 'contact' AND c.id = r.row_id
         LEFT JOIN orders o ON r.kind = 'order' AND o.id = r.row_id
         WHERE {filter}
         ORDER BY r.profile_id, r.id"
    );
    let mut st = conn.prepare(&sql).context("read the records of profiles")?;
    bind(&mut st).context("read the records of profiles")?;
    let mut rows = st.raw_query();

    let mut out = Writer::new(conn, now)?;
    let mut report = RebuildReport::default();
    let mut current: Option<i64> = None;
    let mut person = Person::default();
    let tick = |progress: &mut dyn Progress, done: u64| {
        progress.tick(&Tick {
            stage: STAGE,
            done,
            total: Some(total),
            bytes: 0,
            total_bytes: None,
            elapsed: started.elapsed(),
        })
    };
    while let Some(row) = rows.next().context("read the records of profiles")? {
        let profile: i64 = row.get(0).context("read the records of profiles")?;
        if current != Some(profile) {
            if let Some(id) = current {
                out.write(id, &mut person, &chooser, previous.take(id))?;
                report.written += 1;
                if report.written % TICK_EVERY == 0 {
                    tick(progress, report.records);
                    if progress.is_cancelled() {
                        return Err(Cancelled.into());
                    }
                }
            }
            current = Some(profile);
            person.clear();
        }
        person
            .add(row, &ranks, &loyalty)
            .context("read the records of profiles")?;
        report.records += 1;
    }
    if let Some(id) = current {
        out.write(id, &mut person, &chooser, previous.take(id))?;
        report.written += 1;
    }
    // Whatever existed in scope and was not written again lost its records.
    report.deleted = previous.remaining() as u64;
    if matches!(scope, Scope::All) {
        // A bulk load leaves the search index as a stack of segments with
        // merges half done, and FTS5 carries those merges on in the flush
        // of every later write: after a full run over a million profiles,
        // the next 10,000-record import spent 1.7 s of its 3 s profile
        // rebuild merging. One segment costs 1.1 s here, and later imports
        // then only merge their own small segments (profiles 3.0 → 1.1 s).
        conn.execute(
            "INSERT INTO profile_search (profile_search) VALUES ('optimize')",
            [],
        )
        .context("merge the profile search index")?;
    }
    keep_count(conn, matches!(scope, Scope::All), existing, report.written)?;
    tick(progress, report.records);
    Ok(report)
}

/// Keeps the number of profiles that the profile list shows.
fn keep_count(
    conn: &Connection,
    all: bool,
    existing: u64,
    written: u64,
) -> Result<(), ProfileError> {
    const WHAT: &str = "count profiles";
    let count: i64 = if all {
        written as i64
    } else {
        let kept: Option<i64> = conn
            .query_row(
                "SELECT CAST(value AS INTEGER) FROM settings WHERE key = ?1",
                [COUNT_SETTING],
                |r| r.get(0),
            )
            .optional()
            .context(WHAT)?;
        match kept {
            Some(n) => n - existing as i64 + written as i64,
            None => conn
                .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
                .context(WHAT)?,
        }
    };
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        rusqlite::params![COUNT_SETTING, count.to_string()],
    )
    .context(WHAT)?;
    Ok(())
}

/// Source id → position in the priority list (unlisted sources last).
fn source_ranks(
    conn: &Connection,
    priority: &[String],
) -> Result<HashMap<i64, usize>, ProfileError> {
    let mut st = conn
        .prepare("SELECT id, name FROM sources")
        .context("read the sources")?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .context("read the sources")?;
    let mut ranks = HashMap::new();
    for row in rows {
        let (id, name) = row.context("read the sources")?;
        // Names are typed by people in settings: forgive case and spaces.
        let rank = priority
            .iter()
            .position(|p| p.trim().eq_ignore_ascii_case(name.trim()))
            .unwrap_or(usize::MAX);
        ranks.insert(id, rank);
    }
    Ok(ranks)
}

/// Record id → its loyalty ids (space separated), for the records in scope.
fn loyalty_ids(
    conn: &Connection,
    filter: &str,
    bind: &dyn Fn(&mut Statement<'_>) -> rusqlite::Result<()>,
) -> Result<HashMap<i64, String>, ProfileError> {
    const WHAT: &str = "read the loyalty ids of profiles";
    let mut st = conn
        .prepare(&format!(
            "SELECT i.record_id, i.value FROM identifiers i JOIN identity_records r ON r.id = i.record_id
             WHERE i.kind = 'loyalty_id' AND {filter}"
        ))
        .context(WHAT)?;
    bind(&mut st).context(WHAT)?;
    let mut rows = st.raw_query();
    let mut ids: HashMap<i64, String> = HashMap::new();
    while let Some(row) = rows.next().context(WHAT)? {
        let value: String = row.get(1).context(WHAT)?;
        let entry = ids.entry(row.get(0).context(WHAT)?).or_default();
        if !entry.is_empty() {
            entry.push(' ');
        }
        entry.push_str(&value);
    }
    Ok(ids)
}

/// `created_at` of the profiles being rewritten. Interned: a full rebuild
/// holds a million of them, and nearly all share a few run times.
#[derive(Default)]
struct Previous {
    ids: HashMap<i64, u32>,
    values: Vec<String>,
    interned: HashMap<String, u32>,
}

impl Previous {
    fn insert(&mut self, id: i64, created_at: String) {
        let n = self.values.len() as u32;
        let k = *self.interned.entry(created_at).or_insert_with_key(|v| {
            self.values.push(v.clone());
            n
        });
        self.ids.insert(id, k);
    }

    fn take(&mut self, id: i64) -> Option<&str> {
        let k = self.ids.remove(&id)?;
        Some(&self.values[k as usize])
    }

    fn remaining(&self) -> usize {
        self.ids.len()
    }
}

/// Empties `profiles` and the search index, returning the creation dates.
fn clear_all(conn: &Connection) -> Result<Previous, ProfileError> {
    let mut previous = Previous::default();
    let mut st = conn
        .prepare("SELECT id, created_at FROM profiles")
        .context("read the existing profiles")?;
    let mut rows = st.query([]).context("read the existing profiles")?;
    while let Some(r) = rows.next().context("read the existing profiles")? {
        previous.insert(
            r.get(0).context("read the existing profiles")?,
            r.get(1).context("read the existing profiles")?,
        );
    }
    conn.execute("DELETE FROM profiles", [])
        .context("clear the profiles")?;
    conn.execute(
        "INSERT INTO profile_search (profile_search) VALUES ('delete-all')",
        [],
    )
    .context("clear the profile search index")?;
    Ok(previous)
}

/// Deletes the profiles `ids` and their search rows, returning the
/// creation dates of those that existed.
fn clear(conn: &Connection, ids: &[i64]) -> Result<Previous, ProfileError> {
    let mut previous = Previous::default();
    let mut del = conn
        .prepare_cached("DELETE FROM profiles WHERE id = ?1 RETURNING created_at")
        .context("clear profiles")?;
    let mut unindex = conn
        .prepare_cached("DELETE FROM profile_search WHERE rowid = ?1")
        .context("clear profiles from the search index")?;
    for &id in ids {
        let mut rows = del.query([id]).context("clear profiles")?;
        let Some(row) = rows.next().context("clear profiles")? else {
            continue;
        };
        let created_at: String = row.get(0).context("clear profiles")?;
        drop(rows);
        previous.insert(id, created_at);
        unindex
            .execute([id])
            .context("clear profiles from the search index")?;
    }
    Ok(previous)
}

/// The records of the profile being read, and its search document.
#[derive(Default)]
struct Person {
    records: Vec<Contribution>,
    /// Records in use; the rest are kept to reuse their allocations.
    len: usize,
    first_seen: String,
    last_seen: String,
    document: Document,
}

impl Person {
    fn clear(&mut self) {
        self.len = 0;
        self.first_seen.clear();
        self.last_seen.clear();
        self.document.clear();
    }

    fn add(
        &mut self,
        row: &Row<'_>,
        ranks: &HashMap<i64, usize>,
        loyalty: &HashMap<i64, String>,
    ) -> rusqlite::Result<()> {
        if self.len == self.records.len() {
            self.records.push(Contribution::default());
        }
        let c = &mut self.records[self.len];
        self.len += 1;
        c.record = row.get(1)?;
        c.rank = ranks
            .get(&row.get::<_, i64>(3)?)
            .copied()
            .unwrap_or(usize::MAX);
        c.recency.clear();
        c.values.iter_mut().for_each(|v| *v = None);
        let doc = &mut self.document;
        let mut first_seen = None;
        match text(row, 2)? {
            Some("contact") => {
                for (f, col) in (field::EMAIL..FIELDS.len()).zip(8..19) {
                    c.values[f] = text(row, col)?.map(str::to_string);
                }
                let (first, last) = (text(row, 5)?, text(row, 6)?);
                let full = text(row, 7)?;
                if first.is_some() || last.is_some() {
                    c.values[field::FIRST_NAME] = first.map(str::to_string);
                    c.values[field::LAST_NAME] = last.map(str::to_string);
                } else if let Some(full) = full {
                    (c.values[field::FIRST_NAME], c.values[field::LAST_NAME]) = split_name(full);
                }
                if let Some(name) = super::full_name(first, last) {
                    doc.name(&name);
                }
                if let Some(full) = full {
                    doc.name(full);
                }
                if let Some(key) = text(row, 4)? {
                    doc.ids(key);
                }
                first_seen = text(row, 19)?;
                c.recency.push_str(text(row, 20)?.unwrap_or(""));
            }
            Some("order") => {
                if let Some(name) = text(row, 21)? {
                    (c.values[field::FIRST_NAME], c.values[field::LAST_NAME]) = split_name(name);
                    doc.name(name);
                }
                c.values[field::EMAIL] = text(row, 22)?.map(str::to_string);
                c.values[field::PHONE] = text(row, 23)?.map(str::to_string);
                c.values[field::CITY] = text(row, 24)?.map(str::to_string);
                c.values[field::POSTCODE] = text(row, 25)?.map(str::to_string);
                c.values[field::COUNTRY] = text(row, 26)?.map(str::to_string);
                first_seen = text(row, 27)?;
                c.recency.push_str(first_seen.unwrap_or(""));
                if let Some(customer) = text(row, 28)? {
                    doc.ids(customer);
                }
            }
            // Devices only carry identifiers: they add to the record count
            // and the search ids, never to the values.
            _ => {}
        }
        if let Some(ids) = text(row, 29)? {
            doc.ids(ids);
        }
        if let Some(ids) = loyalty.get(&c.record) {
            doc.ids(ids);
        }
        if let Some(e) = &c.values[field::EMAIL] {
            doc.email(e);
        }
        if let Some(p) = &c.values[field::PHONE] {
            doc.phone(p);
        }
        if let Some(seen) = first_seen {
            if self.first_seen.is_empty() || seen < self.first_seen.as_str() {
                self.first_seen.clear();
                self.first_seen.push_str(seen);
            }
        }
        if c.recency > self.last_seen {
            self.last_seen.clone_from(&c.recency);
        }
        Ok(())
    }
}

/// A non-empty text column.
fn text<'r>(row: &'r Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    Ok(match row.get_ref(i)? {
        ValueRef::Text(t) => std::str::from_utf8(t)
            .ok()
            .map(str::trim)
            .filter(|s| !s.is_empty()),
        _ => None,
    })
}

/// "Anna Maria Smith" → ("Anna Maria", "Smith"): the family name is the
/// last word, as identity matching reads it. One word is a family name.
fn split_name(full: &str) -> (Option<String>, Option<String>) {
    match full.trim().rsplit_once(' ') {
        Some((first, last)) => {
            let first = first.trim();
            (
                (!first.is_empty()).then(|| first.to_string()),
                Some(last.to_string()),
            )
        }
        None => (None, Some(full.trim().to_string())),
    }
}

/// The two insert statements and the buffers reused between profiles.
struct Writer<'c> {
    profile: CachedStatement<'c>,
    index: CachedStatement<'c>,
    now: String,
    origins: String,
}

impl<'c> Writer<'c> {
    fn new(conn: &'c Connection, now: &str) -> Result<Writer<'c>, ProfileError> {
        Ok(Writer {
            profile: conn
                .prepare_cached(
                    "INSERT INTO profiles (id, first_name, last_name, email, phone, birth_date, gender,
                         company, job_title, address1, city, region, postcode, country,
                         origins, records, first_seen, last_seen, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                             ?15, ?16, ?17, ?18, ?19, ?20)",
                )
                .context("write profiles")?,
            index: conn
                .prepare_cached(
                    "INSERT INTO profile_search (rowid, name, email, phone, ids)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .context("write the profile search index")?,
            now: now.to_string(),
            origins: String::new(),
        })
    }

    fn write(
        &mut self,
        id: i64,
        person: &mut Person,
        chooser: &Chooser,
        created_at: Option<&str>,
    ) -> Result<(), ProfileError> {
        let group = &person.records[..person.len];
        let winners = chooser.choose(group);
        let value = |f: usize| winners[f].and_then(|i| group[i].values[f].as_deref());
        self.origins.clear();
        self.origins.push('{');
        for (f, name) in FIELDS.iter().enumerate() {
            if let Some(i) = winners[f] {
                if self.origins.len() > 1 {
                    self.origins.push(',');
                }
                let _ = write!(self.origins, "\"{name}\":{}", group[i].record);
            }
        }
        self.origins.push('}');
        let seen = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let st = &mut self.profile;
        let bind = |st: &mut Statement<'_>| -> rusqlite::Result<usize> {
            st.raw_bind_parameter(1, id)?;
            for f in 0..FIELDS.len() {
                st.raw_bind_parameter(f + 2, value(f))?;
            }
            st.raw_bind_parameter(15, &self.origins)?;
            st.raw_bind_parameter(16, group.len() as i64)?;
            st.raw_bind_parameter(17, seen(&person.first_seen))?;
            st.raw_bind_parameter(18, seen(&person.last_seen))?;
            st.raw_bind_parameter(19, created_at.unwrap_or(&self.now))?;
            st.raw_bind_parameter(20, &self.now)?;
            st.raw_execute()
        };
        bind(st).context("write profiles")?;

        // The chosen name is searchable even when no single record spells it.
        if let Some(name) = super::full_name(value(field::FIRST_NAME), value(field::LAST_NAME)) {
            person.document.name(&name);
        }
        let doc = person.document.columns();
        self.index
            .execute(rusqlite::params![
                id, doc.name, doc.email, doc.phone, doc.ids
            ])
            .context("write the profile search index")?;
        Ok(())
    }
}
