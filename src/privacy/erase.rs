//! Erasing a person on request (right to erasure).
//!
//! The person is every profile holding the identifier asked for (or the
//! profile asked for), with all of its source records. Everything held
//! about them goes in one transaction: source records, identities, the
//! profile and its search row, traits, segment and campaign membership,
//! recommendations, the review queue, consent evidence, suppression rows,
//! and problem rows of imports that carry their address. Orders and events
//! are deleted, or kept with every personal column cleared when the user
//! wants the business figures to stay.
//!
//! The erased addresses are kept only as salted SHA-256 hashes
//! (`erased_identifiers`) so that importing an old export again does not
//! bring the person back. After the commit the file is scrubbed: deleted
//! content is zeroed (`secure_delete`), the search index is merged into
//! fresh segments, the file rewritten (`VACUUM`) and the WAL truncated, so
//! the raw bytes of the workspace no longer hold the person's data.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ingest::standardise;
use crate::privacy::audit::{self, Action};
use crate::privacy::files::{self, Needles};
pub use crate::privacy::files::{FileAction, FileChange};
use crate::store::{setting, setting_of, Workspace};

/// Who to erase or export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    Email(String),
    Phone(String),
    Profile(i64),
}

impl Target {
    /// What kind of target this is, for logs and messages that must not
    /// repeat the address itself.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Email(_) => "email",
            Target::Phone(_) => "phone",
            Target::Profile(_) => "profile",
        }
    }
}

/// Errors of the privacy operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{context}: {source}")]
    Sql {
        context: &'static str,
        source: rusqlite::Error,
    },
    #[error("rebuilding profiles: {0}")]
    Profiles(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl Error {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid",
            Error::NotFound(_) => "not_found",
            Error::Sql { .. } => "store",
            Error::Profiles(_) => "store",
            Error::Io { .. } => "io",
            Error::Store(_) => "store",
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    move |source| Error::Sql { context, source }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseOptions {
    /// Keep the person's orders and events as anonymous rows (every
    /// personal column cleared, no link to anyone) instead of deleting
    /// them, so revenue and product figures stay.
    pub keep_anonymous_activity: bool,
}

/// What an erasure will remove: rows per table. Counts only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ErasePreview {
    /// Profiles that go entirely.
    #[ts(type = "Array<number>")]
    pub profiles: Vec<i64>,
    /// Rows deleted per table.
    #[ts(type = "Record<string, number>")]
    pub removed: BTreeMap<String, u64>,
    /// Rows kept with their personal columns cleared (orders, order lines
    /// and events with `keep_anonymous_activity`).
    #[ts(type = "Record<string, number>")]
    pub anonymised: BTreeMap<String, u64>,
    /// Distinct email addresses, phone numbers, customer ids and device ids
    /// that will be kept only as salted hashes.
    #[ts(type = "number")]
    pub identifiers: u64,
    /// Files beside the workspace that name the person (campaign exports,
    /// right-of-access exports, uploads) and what happens to each.
    pub files: Vec<FileChange>,
}

impl ErasePreview {
    pub fn is_empty(&self) -> bool {
        self.removed.values().all(|n| *n == 0)
            && self.anonymised.values().all(|n| *n == 0)
            && self.files.is_empty()
    }
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct EraseReport {
    #[serde(flatten)]
    pub counts: ErasePreview,
    pub keep_anonymous_activity: bool,
    /// Whether the WAL could be emptied after the file was rewritten. False
    /// when another connection held it open: the old pages stay in the WAL
    /// until the next checkpoint.
    pub wal_truncated: bool,
}

/// Everything that ties rows to the person.
#[derive(Debug, Default)]
struct Person {
    /// Profiles whose records are all the person's.
    profiles: BTreeSet<i64>,
    records: BTreeSet<i64>,
    contacts: BTreeSet<i64>,
    orders: BTreeSet<i64>,
    events: BTreeSet<i64>,
    emails: BTreeSet<String>,
    phones: BTreeSet<String>,
    /// Ids a source gave the person (contact keys, order customer keys):
    /// events logged in with them belong to the person.
    customer_keys: BTreeSet<String>,
    /// (source_id, anonymous id) of the person's devices.
    devices: BTreeSet<(i64, String)>,
}

impl Person {
    /// What names them in files beside the workspace.
    fn needles(&self) -> Needles {
        let ids: Vec<&String> = self
            .customer_keys
            .iter()
            .chain(self.devices.iter().map(|(_, d)| d))
            .collect();
        Needles::new(&self.emails, &self.phones, ids)
    }
}

/// The normalised form of an email address, or a clear error.
fn normalise_email(raw: &str) -> Result<String> {
    standardise::email(raw).map_err(|e| Error::Invalid(format!("not an email address: {e}")))
}

fn normalise_phone(conn: &Connection, raw: &str) -> Result<String> {
    let region = setting_of(conn, setting::DEFAULT_REGION).map_err(sql("read the region"))?;
    let region = region.parse().unwrap_or(phonenumber::country::Id::US);
    standardise::phone(raw, region).map_err(|e| Error::Invalid(format!("not a phone number: {e}")))
}

fn collect_ids(conn: &Connection, query: &str, p: impl rusqlite::Params) -> Result<Vec<i64>> {
    let mut st = conn.prepare_cached(query).map_err(sql("find the person"))?;
    let rows = st
        .query_map(p, |r| r.get::<_, i64>(0))
        .map_err(sql("find the person"))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(sql("find the person"))
}

fn collect_texts(conn: &Connection, query: &str, p: impl rusqlite::Params) -> Result<Vec<String>> {
    let mut st = conn.prepare_cached(query).map_err(sql("find the person"))?;
    let rows = st
        .query_map(p, |r| r.get::<_, Option<String>>(0))
        .map_err(sql("find the person"))?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(v) = r.map_err(sql("find the person"))? {
            if !v.is_empty() {
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// Finds the person: the records holding the identifier, their whole
/// profiles, and every row that names one of their addresses.
fn find(conn: &Connection, target: &Target) -> Result<Person> {
    let mut p = Person::default();
    let mut seed_records: Vec<i64> = Vec::new();
    match target {
        Target::Email(raw) => {
            let e = normalise_email(raw)?;
            seed_records.extend(collect_ids(
                conn,
                "SELECT record_id FROM identifiers WHERE kind = 'email' AND value = ?1",
                [&e],
            )?);
            p.emails.insert(e);
        }
        Target::Phone(raw) => {
            let ph = normalise_phone(conn, raw)?;
            seed_records.extend(collect_ids(
                conn,
                "SELECT record_id FROM identifiers WHERE kind = 'phone' AND value = ?1",
                [&ph],
            )?);
            p.phones.insert(ph);
        }
        Target::Profile(id) => {
            let exists: Option<i64> = conn
                .query_row("SELECT id FROM profiles WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(sql("find the profile"))?;
            seed_records.extend(collect_ids(
                conn,
                "SELECT id FROM identity_records WHERE profile_id = ?1",
                [id],
            )?);
            if exists.is_none() && seed_records.is_empty() {
                return Err(Error::NotFound(format!("There is no profile #{id}.")));
            }
            if exists.is_some() {
                p.profiles.insert(*id);
            }
        }
    }
    // The whole profiles of those records.
    for r in &seed_records {
        let profile: Option<Option<i64>> = conn
            .query_row(
                "SELECT profile_id FROM identity_records WHERE id = ?1",
                [r],
                |x| x.get(0),
            )
            .optional()
            .map_err(sql("find the person"))?;
        if let Some(Some(pid)) = profile {
            p.profiles.insert(pid);
        }
        p.records.insert(*r);
    }
    for pid in p.profiles.clone() {
        p.records.extend(collect_ids(
            conn,
            "SELECT id FROM identity_records WHERE profile_id = ?1",
            [pid],
        )?);
    }
    // Their addresses, so that rows naming them outside the profile (not
    // yet resolved, or kept apart by a guard) go too.
    for &r in &p.records {
        let mut st = conn
            .prepare_cached(
                "SELECT kind, value FROM identifiers WHERE record_id = ?1 AND kind IN ('email', 'phone', 'customer_id')",
            )
            .map_err(sql("find the person"))?;
        let rows = st
            .query_map([r], |x| {
                Ok((x.get::<_, String>(0)?, x.get::<_, String>(1)?))
            })
            .map_err(sql("find the person"))?;
        for row in rows {
            let (kind, value) = row.map_err(sql("find the person"))?;
            match kind.as_str() {
                "email" => p.emails.insert(value),
                "phone" => p.phones.insert(value),
                _ => p.customer_keys.insert(value),
            };
        }
        let head: Option<(String, i64, String, Option<i64>)> = conn
            .query_row(
                "SELECT kind, source_id, source_key, row_id FROM identity_records WHERE id = ?1",
                [r],
                |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?, x.get(3)?)),
            )
            .optional()
            .map_err(sql("find the person"))?;
        match head {
            Some((k, _, _, Some(row))) if k == "contact" => {
                p.contacts.insert(row);
            }
            Some((k, _, _, Some(row))) if k == "order" => {
                p.orders.insert(row);
            }
            Some((k, source, key, _)) if k == "device" => {
                p.devices.insert((source, key));
            }
            _ => {}
        }
    }
    for e in p.emails.clone() {
        p.contacts.extend(collect_ids(
            conn,
            "SELECT id FROM contacts WHERE email = ?1",
            [&e],
        )?);
        p.orders.extend(collect_ids(
            conn,
            "SELECT id FROM orders WHERE email = ?1",
            [&e],
        )?);
        p.events.extend(collect_ids(
            conn,
            "SELECT id FROM events WHERE email = ?1",
            [&e],
        )?);
        p.records.extend(collect_ids(
            conn,
            "SELECT record_id FROM identifiers WHERE kind = 'email' AND value = ?1",
            [&e],
        )?);
    }
    for ph in p.phones.clone() {
        p.contacts.extend(collect_ids(
            conn,
            "SELECT id FROM contacts WHERE phone = ?1",
            [&ph],
        )?);
        p.orders.extend(collect_ids(
            conn,
            "SELECT id FROM orders WHERE phone = ?1",
            [&ph],
        )?);
        p.records.extend(collect_ids(
            conn,
            "SELECT record_id FROM identifiers WHERE kind = 'phone' AND value = ?1",
            [&ph],
        )?);
    }
    // Records of rows found by address (a contact never resolved has none).
    for &c in &p.contacts {
        p.records.extend(collect_ids(
            conn,
            "SELECT id FROM identity_records WHERE row_id = ?1 AND kind = 'contact'",
            [c],
        )?);
        p.customer_keys.extend(collect_texts(
            conn,
            "SELECT source_key FROM contacts WHERE id = ?1",
            [c],
        )?);
        for col in ["email", "phone"] {
            // Column names from this fixed list.
            let v = collect_texts(
                conn,
                &format!("SELECT {col} FROM contacts WHERE id = ?1"),
                [c],
            )?;
            if col == "email" {
                p.emails.extend(v);
            } else {
                p.phones.extend(v);
            }
        }
    }
    for &o in &p.orders {
        p.records.extend(collect_ids(
            conn,
            "SELECT id FROM identity_records WHERE row_id = ?1 AND kind = 'order'",
            [o],
        )?);
        p.customer_keys.extend(collect_texts(
            conn,
            "SELECT customer_key FROM orders WHERE id = ?1",
            [o],
        )?);
        p.emails.extend(collect_texts(
            conn,
            "SELECT email FROM orders WHERE id = ?1",
            [o],
        )?);
        p.phones.extend(collect_texts(
            conn,
            "SELECT phone FROM orders WHERE id = ?1",
            [o],
        )?);
    }
    // Events: those of the person's devices and of their logins (as
    // profiles::detail ties them), and those carrying their address.
    for (source, key) in &p.devices {
        p.events.extend(collect_ids(
            conn,
            "SELECT id FROM events WHERE anonymous_id = ?1 AND source_id = ?2",
            params![key, source],
        )?);
    }
    for key in &p.customer_keys {
        p.events.extend(collect_ids(
            conn,
            "SELECT id FROM events WHERE customer_key = ?1",
            [key],
        )?);
    }
    Ok(p)
}

/// What `erase` would remove, computed by doing it in a transaction that
/// is rolled back, so the counts are exactly those of the real run.
/// `scratch`: the apps' scratch folders (uploads, right-of-access
/// exports), whose files naming the person go too.
pub fn preview(
    conn: &Connection,
    target: &Target,
    options: EraseOptions,
    scratch: &[PathBuf],
) -> Result<ErasePreview> {
    let person = find(conn, target)?;
    let files = files::plan(conn, &person.needles(), scratch)?;
    let tx = conn
        .unchecked_transaction()
        .map_err(sql("start the preview"))?;
    let mut counts = apply(&tx, &person, options, "1970-01-01T00:00:00Z")?;
    tx.rollback().map_err(sql("end the preview"))?;
    counts.files = files;
    Ok(counts)
}

/// Erases the person in one transaction, then the files beside the
/// workspace that name them (see [`preview`] for `scratch`), then scrubs
/// the file so that no trace of them is left in its bytes. `now` is ISO
/// 8601 UTC.
pub fn erase(
    ws: &mut Workspace,
    target: &Target,
    options: EraseOptions,
    scratch: &[PathBuf],
    now: &str,
) -> Result<EraseReport> {
    // Erasure is destructive: a mistaken one (the wrong address) can be
    // undone from this backup. The backup holds the person until it is
    // pruned; restoring it, or any older one, erases them again (`reapply`).
    crate::store::backup::create(ws, "before erasure", now)?;
    erase_without_backup(ws, target, options, scratch, now, true)
}

/// `scrub`: rewrite the file afterwards (VACUUM, WAL truncation). `reapply`
/// erases several people and scrubs once at the end instead.
fn erase_without_backup(
    ws: &mut Workspace,
    target: &Target,
    options: EraseOptions,
    scratch: &[PathBuf],
    now: &str,
    scrub: bool,
) -> Result<EraseReport> {
    let conn = ws.conn_mut();
    // Deleted content is overwritten with zeros rather than left in free
    // pages (restored afterwards: it costs writes on every delete).
    let secure: i64 = conn
        .query_row("PRAGMA secure_delete", [], |r| r.get(0))
        .map_err(sql("read secure_delete"))?;
    conn.pragma_update(None, "secure_delete", "ON")
        .map_err(sql("turn on secure_delete"))?;
    let result = erase_in(conn, target, options, scratch, now, scrub);
    let _ = conn.pragma_update(None, "secure_delete", secure);
    result
}

fn erase_in(
    conn: &mut Connection,
    target: &Target,
    options: EraseOptions,
    scratch: &[PathBuf],
    now: &str,
    scrub_file: bool,
) -> Result<EraseReport> {
    let tx = conn.transaction().map_err(sql("start the erasure"))?;
    let person = find(&tx, target)?;
    let needles = person.needles();
    let planned = files::plan(&tx, &needles, scratch)?;
    let mut counts = apply(&tx, &person, options, now)?;
    counts.files = planned;
    if counts.is_empty() {
        return Err(Error::NotFound(format!(
            "Nobody in this workspace has that {}.",
            target.kind()
        )));
    }
    // Remember the addresses, hashed, so re-imports are suppressed.
    let salt = salt(&tx)?;
    {
        let mut ins = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO erased_identifiers (kind, hash, erased_at) VALUES (?1, ?2, ?3)",
            )
            .map_err(sql("remember the erased identifiers"))?;
        // Customer ids and device ids too: an events or orders file keyed
        // only by them would otherwise bring the person's activity back.
        let (keys, devices) = ids_only_theirs(&tx, &person)?;
        for (kind, values) in [
            ("email", &person.emails),
            ("phone", &person.phones),
            ("customer_id", &keys),
            ("device", &devices),
        ] {
            for v in values {
                ins.execute(params![kind, hex(&hash(&salt, kind, v)), now])
                    .map_err(sql("remember the erased identifiers"))?;
            }
        }
    }
    // The search index keeps deleted documents' terms in its old segments
    // until they are merged: merge them now.
    tx.execute(
        "INSERT INTO profile_search (profile_search) VALUES ('optimize')",
        [],
    )
    .map_err(sql("merge the search index"))?;
    let detail = serde_json::json!({
        "target": target.kind(),
        "keep_anonymous_activity": options.keep_anonymous_activity,
        "profiles": counts.profiles.len(),
        "identifiers": counts.identifiers,
        "removed": counts.removed,
        "anonymised": counts.anonymised,
        // How many, never which: file names may carry a campaign's name.
        "files": counts.files.len(),
    });
    audit::record(&tx, Action::Erase, now, None, &detail).map_err(sql("write the audit log"))?;
    tx.commit().map_err(sql("commit the erasure"))?;
    // The files after the commit: a failed transaction leaves them too.
    // A failure here is reported; erasing again (by address) finishes the
    // files, as they still name the person.
    counts.files = files::apply(&needles, &counts.files)?;
    let wal_truncated = if scrub_file { scrub(conn)? } else { false };
    Ok(EraseReport {
        counts,
        keep_anonymous_activity: options.keep_anonymous_activity,
        wal_truncated,
    })
}

/// Rewrites the file without free pages and empties the WAL. Returns
/// whether the WAL could be truncated (another reader may hold it).
pub fn scrub(conn: &Connection) -> Result<bool> {
    let checkpoint = |conn: &Connection| -> Result<bool> {
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(sql("checkpoint the WAL"))?;
        Ok(busy == 0)
    };
    checkpoint(conn)?;
    conn.execute_batch("VACUUM")
        .map_err(sql("rewrite the workspace file"))?;
    checkpoint(conn)
}

/// Problem rows of imports that name the person: rejected rows (their
/// fields hold the row's text) and warnings about the person's rows or
/// naming their address. Returns (rejected row ids, value warning ids).
fn problem_rows(tx: &Connection, p: &Person) -> Result<(Vec<i64>, Vec<i64>)> {
    let mut rows_of_person: HashSet<(i64, i64)> = HashSet::new();
    for (table, ids) in [
        ("contacts", &p.contacts),
        ("orders", &p.orders),
        ("events", &p.events),
    ] {
        for id in ids {
            // Table names from this fixed list.
            let at: Option<(i64, i64)> = tx
                .query_row(
                    &format!("SELECT import_id, row_number FROM {table} WHERE id = ?1"),
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(sql("erase the person"))?;
            rows_of_person.extend(at);
        }
    }
    let region: phonenumber::country::Id = setting_of(tx, setting::DEFAULT_REGION)
        .map_err(sql("read the region"))?
        .parse()
        .unwrap_or(phonenumber::country::Id::US);
    let names_person = |text: &str| -> bool {
        let lower = text.to_lowercase();
        if p.emails.iter().any(|e| lower.contains(e.as_str())) {
            return true;
        }
        if !p.phones.is_empty() && text.bytes().filter(u8::is_ascii_digit).count() >= 6 {
            if let Ok(ph) = standardise::phone(text, region) {
                return p.phones.contains(&ph);
            }
            // The digits as typed may sit inside a longer cell.
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            return p.phones.iter().any(|ph| {
                let national = &ph[ph.len().saturating_sub(9)..];
                digits.contains(national)
            });
        }
        false
    };
    let mut doomed_rejects = Vec::new();
    {
        let mut st = tx
            .prepare("SELECT id, import_id, row_number, coalesce(raw_value, ''), record FROM rejected_rows")
            .map_err(sql("read rejected rows"))?;
        let mut rows = st.query([]).map_err(sql("read rejected rows"))?;
        while let Some(r) = rows.next().map_err(sql("read rejected rows"))? {
            let id: i64 = r.get(0).map_err(sql("read rejected rows"))?;
            let raw: String = r.get(3).map_err(sql("read rejected rows"))?;
            let record: String = r.get(4).map_err(sql("read rejected rows"))?;
            let fields: Vec<String> = serde_json::from_str(&record).unwrap_or_default();
            if names_person(&raw) || names_person(&record) || fields.iter().any(|f| names_person(f))
            {
                doomed_rejects.push(id);
            }
        }
    }
    let mut doomed_warnings = Vec::new();
    {
        let mut st = tx
            .prepare("SELECT id, import_id, row_number, raw_value FROM value_warnings")
            .map_err(sql("read flagged values"))?;
        let mut rows = st.query([]).map_err(sql("read flagged values"))?;
        while let Some(r) = rows.next().map_err(sql("read flagged values"))? {
            let id: i64 = r.get(0).map_err(sql("read flagged values"))?;
            let at = (
                r.get::<_, i64>(1).map_err(sql("read flagged values"))?,
                r.get::<_, i64>(2).map_err(sql("read flagged values"))?,
            );
            let raw: String = r.get(3).map_err(sql("read flagged values"))?;
            if rows_of_person.contains(&at) || names_person(&raw) {
                doomed_warnings.push(id);
            }
        }
    }
    Ok((doomed_rejects, doomed_warnings))
}

/// Deletes (or anonymises) everything `person` ties to, inside `tx`.
fn apply(tx: &Connection, p: &Person, options: EraseOptions, now: &str) -> Result<ErasePreview> {
    let mut out = ErasePreview::default();
    let mut removed = |table: &str, n: usize| {
        *out.removed.entry(table.to_string()).or_default() += n as u64;
    };
    let exec = |q: &str,
                p: &dyn Fn(&mut rusqlite::CachedStatement<'_>) -> rusqlite::Result<usize>|
     -> Result<usize> {
        let mut st = tx.prepare_cached(q).map_err(sql("erase the person"))?;
        p(&mut st).map_err(sql("erase the person"))
    };

    let (doomed_rejects, doomed_warnings) = problem_rows(tx, p)?;
    for id in &doomed_rejects {
        removed(
            "rejected_rows",
            exec("DELETE FROM rejected_rows WHERE id = ?1", &|s| {
                s.execute([id])
            })?,
        );
    }
    for id in &doomed_warnings {
        removed(
            "value_warnings",
            exec("DELETE FROM value_warnings WHERE id = ?1", &|s| {
                s.execute([id])
            })?,
        );
    }

    // Consent evidence: by record, address or profile.
    for c in &p.contacts {
        removed(
            "consent_ledger",
            exec("DELETE FROM consent_ledger WHERE contact_id = ?1", &|s| {
                s.execute([c])
            })?,
        );
    }
    for a in p.emails.iter().chain(&p.phones) {
        removed(
            "consent_ledger",
            exec("DELETE FROM consent_ledger WHERE address = ?1", &|s| {
                s.execute([a])
            })?,
        );
    }
    for pid in &p.profiles {
        removed(
            "consent_ledger",
            exec("DELETE FROM consent_ledger WHERE profile_id = ?1", &|s| {
                s.execute([pid])
            })?,
        );
    }
    for e in &p.emails {
        removed(
            "suppressions",
            exec(
                "DELETE FROM suppressions WHERE kind = 'email' AND value = ?1",
                &|s| s.execute([e]),
            )?,
        );
    }
    for ph in &p.phones {
        removed(
            "suppressions",
            exec(
                "DELETE FROM suppressions WHERE kind = 'phone' AND value = ?1",
                &|s| s.execute([ph]),
            )?,
        );
    }

    // The match model counts how common each name is; the person's names
    // come out of those counts before their records go.
    let mut names: Vec<String> = Vec::new();
    for c in &p.contacts {
        for col in ["first_name", "last_name", "full_name"] {
            // Column names from this fixed list.
            names.extend(collect_texts(
                tx,
                &format!("SELECT {col} FROM contacts WHERE id = ?1"),
                [c],
            )?);
        }
    }
    for o in &p.orders {
        names.extend(collect_texts(
            tx,
            "SELECT billing_name FROM orders WHERE id = ?1",
            [o],
        )?);
    }
    scrub_name_counts(tx, &names)?;

    // Source records.
    for c in &p.contacts {
        removed(
            "contacts",
            exec("DELETE FROM contacts WHERE id = ?1", &|s| s.execute([c]))?,
        );
    }
    let keep = options.keep_anonymous_activity;
    let mut anonymised = BTreeMap::<String, u64>::new();
    for o in &p.orders {
        let head: Option<(i64, String)> = tx
            .query_row(
                "SELECT source_id, source_key FROM orders WHERE id = ?1",
                [o],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql("erase the person"))?;
        let Some((source, key)) = head else { continue };
        if keep {
            let n = exec(
                "UPDATE order_lines SET raw = NULL, attributes = NULL WHERE source_id = ?1 AND order_key = ?2",
                &|s| s.execute(params![source, key]),
            )?;
            *anonymised.entry("order_lines".into()).or_default() += n as u64;
            let n = exec(
                "UPDATE orders SET customer_key = NULL, email = NULL, phone = NULL, billing_name = NULL,
                        billing_city = NULL, billing_postcode = NULL, shipping_city = NULL,
                        shipping_postcode = NULL, discount_code = NULL, raw = NULL, attributes = NULL
                  WHERE id = ?1",
                &|s| s.execute([o]),
            )?;
            *anonymised.entry("orders".into()).or_default() += n as u64;
        } else {
            removed(
                "order_lines",
                exec(
                    "DELETE FROM order_lines WHERE source_id = ?1 AND order_key = ?2",
                    &|s| s.execute(params![source, key]),
                )?,
            );
            removed(
                "orders",
                exec("DELETE FROM orders WHERE id = ?1", &|s| s.execute([o]))?,
            );
        }
    }
    for e in &p.events {
        if keep {
            let n = exec(
                "UPDATE events SET customer_key = NULL, anonymous_id = NULL, email = NULL,
                        session_id = NULL, raw = NULL, properties = NULL
                  WHERE id = ?1",
                &|s| s.execute([e]),
            )?;
            *anonymised.entry("events".into()).or_default() += n as u64;
        } else {
            removed(
                "events",
                exec("DELETE FROM events WHERE id = ?1", &|s| s.execute([e]))?,
            );
        }
    }

    // Identities: the records, what was derived from them, and every
    // decision, link, queue entry and log line naming them.
    let mut touched: BTreeSet<i64> = p.profiles.clone();
    for r in &p.records {
        let profile: Option<Option<i64>> = tx
            .query_row(
                "SELECT profile_id FROM identity_records WHERE id = ?1",
                [r],
                |x| x.get(0),
            )
            .optional()
            .map_err(sql("erase the person"))?;
        touched.extend(profile.flatten());
        for (table, q) in [
            (
                "identifiers",
                "DELETE FROM identifiers WHERE record_id = ?1",
            ),
            (
                "profile_links",
                "DELETE FROM profile_links WHERE record_a = ?1 OR record_b = ?1",
            ),
            (
                "match_pairs",
                "DELETE FROM match_pairs WHERE record_a = ?1 OR record_b = ?1",
            ),
            (
                "identity_decisions",
                "DELETE FROM identity_decisions WHERE record_a = ?1 OR record_b = ?1",
            ),
            (
                "refused_merges",
                "DELETE FROM refused_merges WHERE record_a = ?1 OR record_b = ?1",
            ),
            (
                "identity_log",
                "DELETE FROM identity_log WHERE record_a = ?1 OR record_b = ?1",
            ),
            (
                "identity_records",
                "DELETE FROM identity_records WHERE id = ?1",
            ),
        ] {
            removed(table, exec(q, &|s| s.execute([r]))?);
        }
    }
    // Keys and the fields they were made from, in one pass each.
    let (keys, fields) = crate::identity::delete_keys_of(tx, p.records.iter().copied())
        .map_err(sql("erase the person"))?;
    removed("blocking_keys", keys);
    removed("match_fields", fields);
    for (kind, values) in [
        ("email", &p.emails),
        ("phone", &p.phones),
        ("customer_id", &p.customer_keys),
    ] {
        for v in values {
            removed(
                "refused_merges",
                exec(
                    "DELETE FROM refused_merges WHERE kind = ?1 AND value = ?2",
                    &|s| s.execute(params![kind, v]),
                )?,
            );
        }
    }
    // Profiles: rebuilt from what is left, which deletes those with no
    // records left (and their search rows) and corrects the others.
    let touched: Vec<i64> = touched.into_iter().collect();
    let before: i64 = tx
        .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
        .map_err(sql("count profiles"))?;
    crate::profiles::rebuild(
        tx,
        crate::profiles::Scope::Profiles(&touched),
        now,
        &mut crate::progress::Silent,
    )
    .map_err(|e| Error::Profiles(e.to_string()))?;
    let after: i64 = tx
        .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
        .map_err(sql("count profiles"))?;
    removed("profiles", (before - after).max(0) as usize);
    let mut gone = Vec::new();
    for &pid in &touched {
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM profiles WHERE id = ?1", [pid], |r| r.get(0))
            .optional()
            .map_err(sql("erase the person"))?;
        if exists.is_none() {
            gone.push(pid);
        }
    }
    for (table, n) in drop_profile_rows(tx, &gone)? {
        removed(&table, n as usize);
    }
    out.profiles = gone;
    out.anonymised = anonymised;
    let (keys, devices) = ids_only_theirs(tx, p)?;
    out.identifiers = (p.emails.len() + p.phones.len() + keys.len() + devices.len()) as u64;
    out.removed.retain(|_, n| *n > 0);
    Ok(out)
}

/// The person's customer ids and device ids that nobody left in the
/// workspace shares, once their rows are gone (inside the erasure's
/// transaction). A customer id means something only in the system that
/// issued it: the same number held by another source's customer, or a
/// device others' events still use, would suppress someone else's rows on
/// a later import, so such an id is not put on the erased list.
fn ids_only_theirs(tx: &Connection, p: &Person) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
    let taken = |q: &str, v: &str| -> Result<bool> {
        tx.query_row(q, [v], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(sql("check who else holds an id"))
    };
    let mut keys = BTreeSet::new();
    for k in &p.customer_keys {
        let shared = taken(
            "SELECT 1 FROM identifiers WHERE kind = 'customer_id' AND value = ?1 LIMIT 1",
            k,
        )? || taken("SELECT 1 FROM contacts WHERE source_key = ?1 LIMIT 1", k)?
            || taken("SELECT 1 FROM orders WHERE customer_key = ?1 LIMIT 1", k)?
            || taken("SELECT 1 FROM events WHERE customer_key = ?1 LIMIT 1", k)?;
        if !shared {
            keys.insert(k.clone());
        }
    }
    let mut devices = BTreeSet::new();
    for (_, d) in &p.devices {
        if !taken("SELECT 1 FROM events WHERE anonymous_id = ?1 LIMIT 1", d)? {
            devices.insert(d.clone());
        }
    }
    Ok((keys, devices))
}

/// Takes the person's names out of the stored match model's name
/// frequency table (`MatchModel::first_names`/`last_names`), which keeps
/// names seen more than once: one fewer occurrence each, and a name left
/// at one occurrence or none goes, as training would have left it.
fn scrub_name_counts(conn: &Connection, names: &[String]) -> Result<()> {
    const MODEL_KEY: &str = "identity_model";
    if names.is_empty() {
        return Ok(());
    }
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [MODEL_KEY],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("read the match model"))?;
    let Some(stored) = stored else { return Ok(()) };
    let Ok(mut model) = serde_json::from_str::<serde_json::Value>(&stored) else {
        return Ok(());
    };
    // The keys resolution uses (tokens folded and joined), and each token
    // alone, for names split differently across sources.
    let mut keys: Vec<String> = Vec::new();
    for n in names {
        let tokens = crate::identity::normalise::name_tokens(n);
        keys.push(tokens.join(""));
        keys.extend(tokens);
    }
    let mut changed = false;
    for table in ["first_names", "last_names"] {
        let Some(map) = model.get_mut(table).and_then(|m| m.as_object_mut()) else {
            continue;
        };
        for k in &keys {
            if let Some(n) = map.get(k).and_then(|v| v.as_u64()) {
                changed = true;
                if n <= 2 {
                    map.remove(k);
                } else {
                    map.insert(k.clone(), serde_json::Value::from(n - 1));
                }
            }
        }
    }
    if changed {
        conn.execute(
            "UPDATE settings SET value = ?2 WHERE key = ?1",
            params![MODEL_KEY, model.to_string()],
        )
        .map_err(sql("update the match model"))?;
    }
    Ok(())
}

/// Tables keyed by profile id, other than `profiles` itself (fixed list:
/// names are put into SQL).
pub(crate) const PROFILE_TABLES: [&str; 10] = [
    "profile_traits",
    "cluster_members",
    "segment_members",
    "segment_change_members",
    "campaign_holdout",
    "campaign_sends",
    "campaign_results",
    "recommendations",
    "consent_ledger",
    "identity_log",
];

/// Deletes the rows of every per-profile table for profiles that no longer
/// exist. Returns rows removed per table.
pub(crate) fn drop_profile_rows(conn: &Connection, ids: &[i64]) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    for table in PROFILE_TABLES {
        let mut st = conn
            .prepare_cached(&format!("DELETE FROM {table} WHERE profile_id = ?1"))
            .map_err(sql("remove per-profile rows"))?;
        let mut n = 0u64;
        for id in ids {
            n += st.execute([id]).map_err(sql("remove per-profile rows"))? as u64;
        }
        if n > 0 {
            out.push((table.to_string(), n));
        }
    }
    Ok(out)
}

const SALT_KEY: &str = "erase_salt";

/// The workspace's salt for erased identifiers, created on first use.
fn salt(conn: &Connection) -> Result<Vec<u8>> {
    if let Some(s) = read_salt(conn)? {
        return Ok(s);
    }
    let bytes: [u8; 32] = rand::random();
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)",
        params![SALT_KEY, hex(&bytes)],
    )
    .map_err(sql("store the erasure salt"))?;
    Ok(bytes.to_vec())
}

fn read_salt(conn: &Connection) -> Result<Option<Vec<u8>>> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [SALT_KEY],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("read the erasure salt"))?;
    Ok(v.and_then(|h| unhex(&h)))
}

fn hash(salt: &[u8], kind: &str, value: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update([0]);
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The erased identifiers of a workspace, for imports: loaded once per
/// import, asked once per row (only when not empty).
#[derive(Debug, Clone)]
pub struct ErasedSet {
    salt: Vec<u8>,
    /// Each hash covers its kind (`hash`), so one set serves every kind.
    hashes: HashSet<[u8; 32]>,
}

impl ErasedSet {
    /// `None` when nobody was ever erased (the common case: imports then
    /// hash nothing).
    pub fn load(conn: &Connection) -> rusqlite::Result<Option<ErasedSet>> {
        let n: i64 = conn.query_row("SELECT count(*) FROM erased_identifiers", [], |r| r.get(0))?;
        if n == 0 {
            return Ok(None);
        }
        let salt: Option<String> = conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [SALT_KEY],
                |r| r.get(0),
            )
            .optional()?;
        let Some(salt) = salt.and_then(|h| unhex(&h)) else {
            return Ok(None);
        };
        let mut st = conn.prepare("SELECT hash FROM erased_identifiers")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        let mut hashes = HashSet::new();
        for row in rows {
            if let Some(bytes) = unhex(&row?).and_then(|b| <[u8; 32]>::try_from(b).ok()) {
                hashes.insert(bytes);
            }
        }
        Ok(Some(ErasedSet { salt, hashes }))
    }

    /// Whether this normalised email address was erased.
    pub fn has_email(&self, email: &str) -> bool {
        self.hashes.contains(&hash(&self.salt, "email", email))
    }

    /// Whether this E.164 phone number was erased.
    pub fn has_phone(&self, phone: &str) -> bool {
        self.hashes.contains(&hash(&self.salt, "phone", phone))
    }

    /// Whether this customer id (a contact's key, an order's or event's
    /// customer key, in any source) belonged to an erased person.
    pub fn has_customer_key(&self, key: &str) -> bool {
        self.hashes.contains(&hash(&self.salt, "customer_id", key))
    }

    /// Whether this anonymous (device) id belonged to an erased person.
    pub fn has_device(&self, id: &str) -> bool {
        self.hashes.contains(&hash(&self.salt, "device", id))
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// Whether an address was erased from this workspace (for the app's
/// "why is this row missing" answers).
pub fn was_erased(conn: &Connection, target: &Target) -> Result<bool> {
    let set = ErasedSet::load(conn).map_err(sql("read erased identifiers"))?;
    let Some(set) = set else { return Ok(false) };
    Ok(match target {
        Target::Email(e) => set.has_email(&normalise_email(e)?),
        Target::Phone(p) => set.has_phone(&normalise_phone(conn, p)?),
        Target::Profile(_) => false,
    })
}

/// The person's rows, for `person::export`: shared so that what an
/// export shows is exactly what an erasure would remove.
pub(crate) struct Found {
    pub profiles: Vec<i64>,
    pub records: Vec<i64>,
    pub contacts: Vec<i64>,
    pub orders: Vec<i64>,
    pub events: Vec<i64>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    /// Problem rows of imports naming them, as an erasure finds them.
    pub rejected_rows: Vec<i64>,
    pub value_warnings: Vec<i64>,
}

pub(crate) fn find_person(conn: &Connection, target: &Target) -> Result<Found> {
    let p = find(conn, target)?;
    // Every profile one of their records is in: rows found by address may
    // sit in profiles of their own (kept apart by a guard).
    let mut profiles = p.profiles.clone();
    for r in &p.records {
        let profile: Option<Option<i64>> = conn
            .query_row(
                "SELECT profile_id FROM identity_records WHERE id = ?1",
                [r],
                |x| x.get(0),
            )
            .optional()
            .map_err(sql("find the person"))?;
        profiles.extend(profile.flatten());
    }
    let (rejected_rows, value_warnings) = problem_rows(conn, &p)?;
    Ok(Found {
        rejected_rows,
        value_warnings,
        profiles: profiles.into_iter().collect(),
        records: p.records.into_iter().collect(),
        contacts: p.contacts.into_iter().collect(),
        orders: p.orders.into_iter().collect(),
        events: p.events.into_iter().collect(),
        emails: p.emails.into_iter().collect(),
        phones: p.phones.into_iter().collect(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("w.cohort")).unwrap();
        (dir, ws)
    }

    /// Two contacts (one to erase), an order each, resolved by hand.
    pub(crate) fn seed(ws: &Workspace) {
        ws.conn()
            .execute_batch(
                "INSERT INTO sources (id, name, kind, created_at) VALUES (1, 's', 'contacts', 'x'), (2, 'o', 'orders', 'x');
                 INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at)
                   VALUES (1, 1, 'f', 'f', 0, 'h', 'contacts', '[]', '{}', 'x', 'x');
                 INSERT INTO contacts (id, source_id, source_key, import_id, row_number, row_hash, first_name, last_name, email, phone)
                   VALUES (1, 1, 'c1', 1, 2, 0, 'Zebedee', 'Quarrington', 'zq@example.com', '+14155550199'),
                          (2, 1, 'c2', 1, 3, 0, 'Ann', 'Other', 'ann@example.com', NULL);
                 INSERT INTO orders (id, source_id, source_key, import_id, row_number, row_hash, email, total, billing_name)
                   VALUES (1, 2, '1001', 1, 2, 0, 'zq@example.com', 500, 'Zebedee Quarrington'),
                          (2, 2, '1002', 1, 3, 0, 'ann@example.com', 700, 'Ann Other');
                 INSERT INTO order_lines (source_id, source_key, import_id, row_number, row_hash, order_key, line_number, sku)
                   VALUES (2, '1001/1', 1, 2, 0, '1001', 1, 'A');
                 INSERT INTO identity_records (id, kind, source_id, source_key, row_id, fingerprint, profile_id)
                   VALUES (1, 'contact', 1, 'c1', 1, 0, 10), (2, 'order', 2, '1001', 1, 0, 10),
                          (3, 'contact', 1, 'c2', 2, 0, 11), (4, 'order', 2, '1002', 2, 0, 11);
                 INSERT INTO identifiers (kind, value, record_id) VALUES
                   ('email', 'zq@example.com', 1), ('phone', '+14155550199', 1), ('email', 'zq@example.com', 2),
                   ('email', 'ann@example.com', 3), ('email', 'ann@example.com', 4);
                 INSERT INTO profiles (id, first_name, last_name, email, created_at, updated_at)
                   VALUES (10, 'Zebedee', 'Quarrington', 'zq@example.com', 'x', 'x'), (11, 'Ann', 'Other', 'ann@example.com', 'x', 'x');
                 INSERT INTO segments (id, name, kind, created_at, updated_at) VALUES (1, 'all', 'static', 'x', 'x');
                 INSERT INTO segment_members VALUES (1, 10), (1, 11);
                 INSERT INTO suppressions VALUES ('email', 'zq@example.com', 'bounced', 'f', 'x');
                 INSERT INTO rejected_rows (import_id, row_number, reason_code, reason, record)
                   VALUES (1, 9, 'x', 'x', '[\"ZQ@example.com\",\"Zebedee\"]'), (1, 10, 'x', 'x', '[\"someone@else.com\"]');",
            )
            .unwrap();
    }

    #[test]
    fn erases_the_person_and_nobody_else() {
        let (_d, mut ws) = workspace();
        seed(&ws);
        let target = Target::Email("ZQ@Example.com".into());
        let p = preview(ws.conn(), &target, EraseOptions::default(), &[]).unwrap();
        assert_eq!(p.profiles, vec![10]);
        assert_eq!(p.removed["contacts"], 1);
        assert_eq!(p.removed["orders"], 1);
        assert_eq!(p.removed["order_lines"], 1);
        assert_eq!(p.removed["rejected_rows"], 1);
        assert_eq!(p.removed["suppressions"], 1);
        assert_eq!(p.removed["segment_members"], 1);
        // The preview changed nothing.
        let n: i64 = ws
            .conn()
            .query_row("SELECT count(*) FROM contacts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);

        let report = erase(
            &mut ws,
            &target,
            EraseOptions::default(),
            &[],
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(report.counts, p);
        let c = ws.conn();
        let left: Vec<String> = c
            .prepare("SELECT email FROM contacts")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(left, vec!["ann@example.com".to_string()]);
        let orders: i64 = c
            .query_row("SELECT count(*) FROM orders", [], |r| r.get(0))
            .unwrap();
        assert_eq!(orders, 1);
        let erased: i64 = c
            .query_row("SELECT count(*) FROM erased_identifiers", [], |r| r.get(0))
            .unwrap();
        assert_eq!(erased, 3, "the email, the phone and the customer id c1");
        let set = ErasedSet::load(c).unwrap().unwrap();
        assert!(set.has_email("zq@example.com"));
        assert!(set.has_phone("+14155550199"));
        assert!(!set.has_email("ann@example.com"));
        assert!(set.has_customer_key("c1"));
        assert!(!set.has_customer_key("c2"));
        assert!(was_erased(c, &Target::Email("zq@example.com".into())).unwrap());
        let log = audit::list(c, Some("erase"), 10, 0).unwrap();
        assert_eq!(log.len(), 1);
        assert!(!log[0].detail.to_string().contains("zq@"));
        // Erasing again finds nobody.
        assert!(matches!(
            erase(
                &mut ws,
                &target,
                EraseOptions::default(),
                &[],
                "2026-01-02T00:00:00Z"
            ),
            Err(Error::NotFound(_))
        ));
    }

    /// A customer id is only meaningful in the system that issued it: when
    /// another source's customer has the same one, it does not go on the
    /// erased list (a later import would suppress that other person).
    #[test]
    fn a_customer_id_another_source_uses_is_not_put_on_the_list() {
        let (_d, mut ws) = workspace();
        seed(&ws);
        ws.conn()
            .execute_batch(
                "INSERT INTO sources (id, name, kind, created_at) VALUES (3, 'crm', 'contacts', 'x');
                 INSERT INTO contacts (id, source_id, source_key, import_id, row_number, row_hash, first_name, email)
                   VALUES (3, 3, 'c1', 1, 4, 0, 'Cora', 'cora@example.com');",
            )
            .unwrap();
        let target = Target::Email("zq@example.com".into());
        let p = preview(ws.conn(), &target, EraseOptions::default(), &[]).unwrap();
        assert_eq!(p.identifiers, 2, "the email and the phone only");
        erase(
            &mut ws,
            &target,
            EraseOptions::default(),
            &[],
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        let set = ErasedSet::load(ws.conn()).unwrap().unwrap();
        assert!(set.has_email("zq@example.com"));
        assert!(!set.has_customer_key("c1"), "Cora's id in the CRM");
        let cora: i64 = ws
            .conn()
            .query_row(
                "SELECT count(*) FROM contacts WHERE source_key = 'c1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(cora, 1);
    }

    #[test]
    fn keeps_anonymous_activity_when_asked() {
        let (_d, mut ws) = workspace();
        seed(&ws);
        let opts = EraseOptions {
            keep_anonymous_activity: true,
        };
        let r = erase(
            &mut ws,
            &Target::Profile(10),
            opts,
            &[],
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(r.counts.anonymised["orders"], 1);
        let c = ws.conn();
        let (email, name, total): (Option<String>, Option<String>, i64) = c
            .query_row(
                "SELECT email, billing_name, total FROM orders WHERE source_key = '1001'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((email, name, total), (None, None, 500));
        let linked: i64 = c
            .query_row(
                "SELECT count(*) FROM identity_records WHERE kind = 'order' AND row_id = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(linked, 0);
    }

    #[test]
    fn a_bad_target_is_a_clear_error() {
        let (_d, ws) = workspace();
        assert!(matches!(
            preview(
                ws.conn(),
                &Target::Email("not an address".into()),
                EraseOptions::default(),
                &[]
            ),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            preview(
                ws.conn(),
                &Target::Profile(99),
                EraseOptions::default(),
                &[]
            ),
            Err(Error::NotFound(_))
        ));
    }
}

/// A workspace's erased list (salted hashes) and its salt, carried into a
/// copy restored from a backup taken before some of the erasures.
#[derive(Debug, Clone, Default)]
pub struct ErasedList {
    salt: Option<String>,
    rows: Vec<(String, String, String)>,
}

impl ErasedList {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Reads the erased list, to carry over a restore.
pub fn erased_list(conn: &Connection) -> Result<ErasedList> {
    let salt: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [SALT_KEY],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("read the erasure salt"))?;
    let mut st = conn
        .prepare("SELECT kind, hash, erased_at FROM erased_identifiers ORDER BY kind, hash")
        .map_err(sql("read the erased list"))?;
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(sql("read the erased list"))?;
    Ok(ErasedList { salt, rows })
}

/// After a restore: brings the erased list forward and erases again every
/// person it names, so that restoring a backup taken before an erasure
/// cannot bring the person back. Their orders and events are deleted (the
/// safe choice; the original choice is not known). Returns how many
/// addresses were erased again.
pub fn reapply(ws: &mut Workspace, list: &ErasedList, now: &str) -> Result<u64> {
    if list.rows.is_empty() {
        return Ok(0);
    }
    {
        let tx = ws
            .conn_mut()
            .transaction()
            .map_err(sql("carry the erased list over"))?;
        // The salt is made once per workspace and a backup is a copy of it,
        // so the restored file has the same salt or (taken before the first
        // erasure) none.
        if let Some(salt) = &list.salt {
            tx.execute(
                "INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)",
                params![SALT_KEY, salt],
            )
            .map_err(sql("carry the erasure salt over"))?;
        }
        for (kind, hash, at) in &list.rows {
            tx.execute(
                "INSERT OR IGNORE INTO erased_identifiers (kind, hash, erased_at) VALUES (?1, ?2, ?3)",
                params![kind, hash, at],
            )
            .map_err(sql("carry the erased list over"))?;
        }
        tx.commit().map_err(sql("carry the erased list over"))?;
    }
    let Some(set) = ErasedSet::load(ws.conn()).map_err(sql("read the erased list"))? else {
        return Ok(0);
    };
    let mut targets = Vec::new();
    {
        let mut st = ws
            .conn()
            .prepare(
                "SELECT email, NULL FROM contacts WHERE email IS NOT NULL
                 UNION SELECT email, NULL FROM orders WHERE email IS NOT NULL
                 UNION SELECT NULL, phone FROM contacts WHERE phone IS NOT NULL
                 UNION SELECT NULL, phone FROM orders WHERE phone IS NOT NULL",
            )
            .map_err(sql("find erased people in the restored copy"))?;
        let mut rows = st
            .query([])
            .map_err(sql("find erased people in the restored copy"))?;
        while let Some(r) = rows
            .next()
            .map_err(sql("find erased people in the restored copy"))?
        {
            let email: Option<String> = r.get(0).map_err(sql("read an address"))?;
            let phone: Option<String> = r.get(1).map_err(sql("read a phone"))?;
            if let Some(e) = email.filter(|e| set.has_email(&e.to_lowercase())) {
                targets.push(Target::Email(e));
            }
            if let Some(p) = phone.filter(|p| set.has_phone(p)) {
                targets.push(Target::Phone(p));
            }
        }
    }
    let mut n = 0;
    for target in targets {
        match erase_without_backup(ws, &target, EraseOptions::default(), &[], now, false) {
            Ok(_) => n += 1,
            // Already gone with an earlier target of the same person.
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    // One rewrite of the file for everyone, not one VACUUM per person.
    if n > 0 {
        scrub(ws.conn())?;
    }
    Ok(n)
}
