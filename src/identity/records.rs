//! Source records as identity resolution sees them: the contacts, orders
//! and devices of the workspace, each with its identifiers, its matching
//! fields and its blocking keys.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{params, Connection};
use xxhash_rust::xxh3::xxh3_64;

use super::compare::Fields;
use super::normalise::{
    address_tokens, email_local, fold, name_tokens, parse_date, phone_suffix, postcode, soundex,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Contact,
    Order,
    Device,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Contact => "contact",
            RecordKind::Order => "order",
            RecordKind::Device => "device",
        }
    }
}

/// Identifier kinds, in the order deterministic stitching applies them:
/// ids a system issued before what people type.
pub const CUSTOMER_ID: u8 = 1;
pub const LOYALTY_ID: u8 = 2;
pub const DEVICE_ID: u8 = 3;
pub const EMAIL: u8 = 4;
pub const PHONE: u8 = 5;

pub fn id_kind_name(kind: u8) -> &'static str {
    match kind {
        CUSTOMER_ID => "customer_id",
        LOYALTY_ID => "loyalty_id",
        DEVICE_ID => "device_id",
        EMAIL => "email",
        _ => "phone",
    }
}

pub fn id_kind(name: &str) -> Option<u8> {
    Some(match name {
        "customer_id" => CUSTOMER_ID,
        "loyalty_id" => LOYALTY_ID,
        "device_id" => DEVICE_ID,
        "email" => EMAIL,
        "phone" => PHONE,
        _ => return None,
    })
}

#[derive(Debug, Clone)]
pub struct Record {
    /// identity_records.id
    pub id: i64,
    pub kind: RecordKind,
    pub source: i64,
    /// The profile it was in before this run.
    pub profile: Option<i64>,
    /// The stored fingerprint (0 for a record never resolved).
    pub stored_fingerprint: i64,
    pub fingerprint: i64,
    /// None for devices, which carry identifiers only.
    pub fields: Option<Box<Fields>>,
    pub ids: Vec<(u8, Box<str>)>,
}

impl Record {
    pub fn first_last(&self) -> (&str, &str) {
        match &self.fields {
            Some(f) => (&f.first, &f.last),
            None => ("", ""),
        }
    }

    /// Blocking keys: xxh3 of rule and value. Pairs that share a key are
    /// compared; each rule catches what another misses (a typo in the
    /// surname, a move to a new postcode, a second email address).
    pub fn blocking_keys(&self) -> Vec<i64> {
        self.blocking_keys_by_rule()
            .into_iter()
            .map(|(_, k)| k)
            .collect()
    }

    /// Blocking keys with the rule (index into [`RULES`]) that made each.
    pub fn blocking_keys_by_rule(&self) -> Vec<(u8, i64)> {
        self.fields
            .as_deref()
            .map_or_else(Vec::new, blocking_keys_by_rule)
    }
}

/// The blocking keys of a record with these comparison fields, with the
/// rule (index into [`RULES`]) that made each. A function of the fields
/// alone: the keys stored for a record can be found again from the fields
/// stored beside them (`match_fields`).
pub fn blocking_keys_by_rule(f: &Fields) -> Vec<(u8, i64)> {
    let mut keys = Vec::with_capacity(6);
    let mut key = |rule: &str, parts: &[&str]| {
        let index = RULES.iter().position(|r| r.name == rule).unwrap_or(0) as u8;
        let mut s = String::with_capacity(32);
        s.push_str(rule);
        for p in parts {
            s.push('\u{1f}');
            s.push_str(p);
        }
        keys.push((index, xxh3_64(s.as_bytes()) as i64));
    };
    if !f.last.is_empty() && !f.postcode.is_empty() {
        key("sx+pc", &[&soundex(&f.last), &f.postcode]);
    }
    if let Some((y, m, d)) = f.birth {
        let initial: String = f.first.chars().take(1).collect();
        key("dob", &[&format!("{y}-{m}-{d}"), &initial]);
    }
    if let Some(l) = f.email_local.as_deref().filter(|l| l.len() >= 5) {
        key("local", &[l]);
    }
    if let Some(p) = f.phone.as_deref().and_then(|p| phone_suffix(p, 8)) {
        key("phone8", &[&p]);
    }
    if !f.first.is_empty() && !f.last.is_empty() {
        key("name", &[&f.first, &f.last]);
        if !f.city.is_empty() {
            key(
                "sx+sx+city",
                &[&soundex(&f.first), &soundex(&f.last), &f.city],
            );
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// A blocking rule, and the comparisons its pairs agree on by construction.
pub struct Rule {
    pub name: &'static str,
    /// Indexes into [`super::compare::COMPARISONS`].
    pub fixes: &'static [usize],
}

/// The blocking rules. Comparisons: 0 first, 1 last, 2 email, 3 phone,
/// 4 birth date, 5 postcode, 6 city, 7 address.
pub const RULES: &[Rule] = &[
    Rule {
        name: "sx+pc",
        fixes: &[1, 5],
    },
    Rule {
        name: "dob",
        fixes: &[4],
    },
    Rule {
        name: "local",
        fixes: &[2],
    },
    Rule {
        name: "phone8",
        fixes: &[3],
    },
    Rule {
        name: "name",
        fixes: &[0, 1],
    },
    Rule {
        name: "sx+sx+city",
        fixes: &[0, 1, 6],
    },
];

/// Splits "Anna Maria Smith" into ("Anna Maria", "Smith").
fn split_name(full: &str) -> (&str, &str) {
    let full = full.trim();
    match full.rsplit_once(' ') {
        Some((f, l)) => (f.trim(), l.trim()),
        None => ("", full),
    }
}

struct Raw<'a> {
    first: &'a str,
    last: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    birth: Option<&'a str>,
    address: Option<&'a str>,
    city: Option<&'a str>,
    postcode: Option<&'a str>,
}

/// Rows passed from the reader to the normaliser at a time.
const BATCH: usize = 4096;

/// A contact or order row as read, before normalisation.
struct RawRow {
    kind: RecordKind,
    id: i64,
    profile: Option<i64>,
    stored_fingerprint: i64,
    source: i64,
    /// A contact's source key, an order's customer key: a customer id.
    key: Option<String>,
    first: Option<String>,
    last: Option<String>,
    /// A contact's full name, an order's billing name.
    full: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    birth: Option<String>,
    address: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    attributes: Option<String>,
}

impl RawRow {
    fn into_record(self) -> Record {
        // A contact with a full name only, and every order (billing name),
        // is split as matching reads names: the last word is the surname.
        let (first, last) = match (&self.first, &self.last, &self.full) {
            (None, None, Some(full)) => split_name(full),
            _ => (
                self.first.as_deref().unwrap_or_default(),
                self.last.as_deref().unwrap_or_default(),
            ),
        };
        let f = fields(&Raw {
            first,
            last,
            email: self.email.as_deref(),
            phone: self.phone.as_deref(),
            birth: self.birth.as_deref(),
            address: self.address.as_deref(),
            city: self.city.as_deref(),
            postcode: self.postcode.as_deref(),
        });
        let mut ids = Vec::new();
        match self.kind {
            RecordKind::Contact => push_contact_ids(
                &mut ids,
                &f,
                Some(self.key.as_deref().unwrap_or_default()),
                self.attributes.as_deref(),
            ),
            _ => {
                if let Some(e) = &f.email {
                    ids.push((EMAIL, e.clone()));
                }
                if let Some(p) = &f.phone {
                    ids.push((PHONE, p.clone()));
                }
                if let Some(c) = self.key.filter(|c| !c.is_empty()) {
                    ids.push((CUSTOMER_ID, c.into()));
                }
            }
        }
        Record {
            id: self.id,
            kind: self.kind,
            source: self.source,
            profile: self.profile,
            stored_fingerprint: self.stored_fingerprint,
            fingerprint: fingerprint(self.kind, Some(&f), &ids),
            fields: Some(Box::new(f)),
            ids,
        }
    }
}

fn fields(r: &Raw<'_>) -> Fields {
    let first = name_tokens(r.first).join("");
    let last_tokens: Vec<Box<str>> = name_tokens(r.last).into_iter().map(Into::into).collect();
    let email = r
        .email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| e.contains('@'));
    let last: String = last_tokens.join("");
    let local = email.as_deref().and_then(email_local);
    Fields {
        email_is_name: local
            .as_deref()
            .is_some_and(|l| super::normalise::local_is_name(l, &first, &last)),
        first: first.into(),
        last: last.into(),
        email_local: local.map(Into::into),
        email: email.map(Into::into),
        phone: r.phone.filter(|p| !p.is_empty()).map(Into::into),
        birth: r.birth.and_then(parse_date),
        postcode: r.postcode.map(postcode).unwrap_or_default().into(),
        city: r.city.map(fold).unwrap_or_default().into(),
        address: r.address.map(address_tokens).unwrap_or_default(),
        last_tokens,
    }
}

fn fingerprint(kind: RecordKind, f: Option<&Fields>, ids: &[(u8, Box<str>)]) -> i64 {
    let mut s = String::with_capacity(128);
    s.push_str(kind.as_str());
    if let Some(f) = f {
        use std::fmt::Write;
        let _ = write!(
            s,
            "|{}|{}|{:?}|{:?}|{:?}|{}|{}|{}",
            f.first,
            f.last,
            f.email,
            f.phone,
            f.birth,
            f.postcode,
            f.city,
            f.address.join(" ")
        );
    }
    for (k, v) in ids {
        s.push('|');
        s.push((b'0' + k) as char);
        s.push_str(v);
    }
    xxh3_64(s.as_bytes()) as i64
}

fn push_contact_ids(
    ids: &mut Vec<(u8, Box<str>)>,
    f: &Fields,
    source_key: Option<&str>,
    attributes: Option<&str>,
) {
    if let Some(e) = &f.email {
        ids.push((EMAIL, e.clone()));
    }
    if let Some(p) = &f.phone {
        ids.push((PHONE, p.clone()));
    }
    if let Some(k) = source_key.filter(|k| !k.is_empty()) {
        ids.push((CUSTOMER_ID, k.into()));
    }
    // Loyalty numbers arrive as unmapped columns such as "Loyalty ID".
    if let Some(attrs) = attributes {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(attrs) {
            for (k, v) in map {
                if k.to_lowercase().contains("loyalty") {
                    if let Some(v) = v.as_str().map(str::trim).filter(|v| !v.is_empty()) {
                        ids.push((LOYALTY_ID, v.into()));
                    }
                }
            }
        }
    }
}

/// Which records to load.
pub enum Filter<'a> {
    All,
    /// Rows written by imports after `import_id`, and events after `event_id`.
    Since {
        import_id: i64,
        event_id: i64,
    },
    /// These identity_records ids (in `temp.wanted`).
    Wanted(&'a [i64]),
}

/// Creates identity_records rows for source rows that have none yet.
pub fn sync(conn: &Connection, import_id: i64, event_id: i64) -> rusqlite::Result<u64> {
    let mut n = conn.execute(
        "INSERT OR IGNORE INTO identity_records (kind, source_id, source_key, row_id, fingerprint)
         SELECT 'contact', source_id, source_key, id, 0 FROM contacts WHERE import_id > ?1",
        [import_id],
    )?;
    n += conn.execute(
        "INSERT OR IGNORE INTO identity_records (kind, source_id, source_key, row_id, fingerprint)
         SELECT 'order', source_id, source_key, id, 0 FROM orders WHERE import_id > ?1",
        [import_id],
    )?;
    n += if event_id == 0 {
        // Every event: walk the device index in its order (grouped, no
        // sort), several times faster than scanning the events table and
        // de-duplicating millions of rows in a temporary B-tree.
        conn.execute(
            "INSERT OR IGNORE INTO identity_records (kind, source_key, source_id, row_id, fingerprint)
             SELECT 'device', anonymous_id, source_id, NULL, 0 FROM events
             WHERE anonymous_id IS NOT NULL AND anonymous_id <> ''
             GROUP BY anonymous_id, source_id",
            [],
        )?
    } else {
        conn.execute(
            "INSERT OR IGNORE INTO identity_records (kind, source_id, source_key, row_id, fingerprint)
             SELECT DISTINCT 'device', source_id, anonymous_id, NULL, 0 FROM events
             WHERE anonymous_id IS NOT NULL AND anonymous_id <> '' AND id > ?1",
            [event_id],
        )?
    };
    Ok(n as u64)
}

fn wanted_table(conn: &Connection, ids: &[i64]) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS wanted (id INTEGER PRIMARY KEY); DELETE FROM temp.wanted;",
    )?;
    let mut st = conn.prepare_cached("INSERT OR IGNORE INTO temp.wanted (id) VALUES (?1)")?;
    for id in ids {
        st.execute([id])?;
    }
    Ok(())
}

/// Loads records with their identifiers and fields.
pub fn load(conn: &Connection, filter: &Filter<'_>) -> rusqlite::Result<Vec<Record>> {
    let (where_c, where_o, where_e, p1, p2) = match filter {
        Filter::All => ("1", "1", "1", 0, 0),
        Filter::Since {
            import_id,
            event_id,
        } => (
            "c.import_id > ?1",
            "o.import_id > ?1",
            "e.id > ?2",
            *import_id,
            *event_id,
        ),
        Filter::Wanted(ids) => {
            wanted_table(conn, ids)?;
            (
                "r.id IN (SELECT id FROM temp.wanted)",
                "r.id IN (SELECT id FROM temp.wanted)",
                "r.id IN (SELECT id FROM temp.wanted)",
                0,
                0,
            )
        }
    };
    // New rows are found through the import index and their record by key;
    // known records reach their row by rowid (`row_id`), one B-tree
    // descent instead of two through the wide (source, key) index.
    let (join_c, join_o) = match filter {
        Filter::Since { .. } => (
            "r.source_id = c.source_id AND r.kind = 'contact' AND r.source_key = c.source_key",
            "r.source_id = o.source_id AND r.kind = 'order' AND r.source_key = o.source_key",
        ),
        _ => (
            "c.id = r.row_id AND r.kind = 'contact' AND r.source_id = +c.source_id AND r.source_key = +c.source_key",
            "o.id = r.row_id AND r.kind = 'order' AND r.source_id = +o.source_id AND r.source_key = +o.source_key",
        ),
    };
    // Statements name their parameters ?1/?2 only when used; bind what the
    // text mentions.
    // SQLite counts parameters up to the highest number used, so ?2 alone
    // still needs a value for ?1.
    let bind = |sql: &str| -> Vec<i64> {
        if sql.contains("?2") {
            vec![p1, p2]
        } else if sql.contains("?1") {
            vec![p1]
        } else {
            Vec::new()
        }
    };

    let contacts = format!(
        "SELECT r.id, r.profile_id, r.fingerprint, c.source_id, c.source_key, c.first_name, c.last_name, c.full_name,
                c.email, c.phone, c.birth_date, c.address1, c.city, c.postcode,
                CASE WHEN c.attributes LIKE '%loyalty%' THEN c.attributes END
         FROM contacts c JOIN identity_records r
           ON {join_c}
         WHERE {where_c}"
    );
    let orders = format!(
        "SELECT r.id, r.profile_id, r.fingerprint, o.source_id, o.customer_key, o.billing_name,
                o.email, o.phone, coalesce(o.billing_city, o.shipping_city), coalesce(o.billing_postcode, o.shipping_postcode)
         FROM orders o JOIN identity_records r
           ON {join_o}
         WHERE {where_o}"
    );
    // Reading rows (SQLite, this thread) and normalising them (names,
    // phonetic codes, addresses: as long again) overlap on two threads. One
    // normaliser keeps the records in the order they were read.
    let mut out = std::thread::scope(|scope| -> rusqlite::Result<Vec<Record>> {
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<RawRow>>(8);
        let normaliser = scope.spawn(move || {
            let mut out = Vec::new();
            for batch in receive {
                out.extend(batch.into_iter().map(RawRow::into_record));
            }
            out
        });
        let read = || -> rusqlite::Result<()> {
            let mut batch = Vec::with_capacity(BATCH);
            let flush = |batch: &mut Vec<RawRow>| {
                // A closed channel means the normaliser panicked; its
                // join below reports it.
                let _ = send.send(std::mem::replace(batch, Vec::with_capacity(BATCH)));
            };
            let mut st = conn.prepare(&contacts)?;
            let mut rows = st.query(rusqlite::params_from_iter(bind(&contacts)))?;
            while let Some(row) = rows.next()? {
                batch.push(RawRow {
                    kind: RecordKind::Contact,
                    id: row.get(0)?,
                    profile: row.get(1)?,
                    stored_fingerprint: row.get(2)?,
                    source: row.get(3)?,
                    key: row.get(4)?,
                    first: row.get(5)?,
                    last: row.get(6)?,
                    full: row.get(7)?,
                    email: row.get(8)?,
                    phone: row.get(9)?,
                    birth: row.get(10)?,
                    address: row.get(11)?,
                    city: row.get(12)?,
                    postcode: row.get(13)?,
                    attributes: row.get(14)?,
                });
                if batch.len() == BATCH {
                    flush(&mut batch);
                }
            }
            drop(rows);
            drop(st);
            let mut st = conn.prepare(&orders)?;
            let mut rows = st.query(rusqlite::params_from_iter(bind(&orders)))?;
            while let Some(row) = rows.next()? {
                batch.push(RawRow {
                    kind: RecordKind::Order,
                    id: row.get(0)?,
                    profile: row.get(1)?,
                    stored_fingerprint: row.get(2)?,
                    source: row.get(3)?,
                    key: row.get(4)?,
                    first: None,
                    last: None,
                    full: row.get(5)?,
                    email: row.get(6)?,
                    phone: row.get(7)?,
                    birth: None,
                    address: None,
                    city: row.get(8)?,
                    postcode: row.get(9)?,
                    attributes: None,
                });
                if batch.len() == BATCH {
                    flush(&mut batch);
                }
            }
            flush(&mut batch);
            Ok(())
        };
        let result = read();
        drop(send);
        let out = normaliser
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        result.map(|()| out)
    })?;

    // Devices: the identifiers a device logged in with. Only logged-in
    // events are read; the device list itself comes from identity_records.
    let mut logins: HashMap<(i64, String), (BTreeSet<String>, BTreeSet<String>)> = HashMap::new();
    {
        let sql = match filter {
            // Known devices: the logins stored at their last resolution
            // (new logins arrive through `Since`, and accumulate there).
            // Reading them back from the events would visit every event of
            // every device, all over the largest table.
            Filter::Wanted(_) => "SELECT r.source_id, r.source_key,
                        CASE WHEN i.kind = 'customer_id' THEN i.value END,
                        CASE WHEN i.kind = 'email' THEN i.value END
                 FROM identity_records r JOIN identifiers i ON i.record_id = r.id
                 WHERE r.id IN (SELECT id FROM temp.wanted) AND r.kind = 'device'
                   AND i.kind IN ('customer_id', 'email')"
                .to_string(),
            // New events only: a range of rowids.
            Filter::Since { .. } => format!(
                "SELECT e.source_id, e.anonymous_id, e.customer_key, e.email FROM events e
                 WHERE {where_e} AND e.anonymous_id IS NOT NULL
                   AND (e.customer_key IS NOT NULL OR e.email IS NOT NULL)"
            ),
            // Two halves, so each can use its partial index: logged-in
            // events are a small share of all events.
            Filter::All => format!(
                "SELECT e.source_id, e.anonymous_id, e.customer_key, NULL FROM events e INDEXED BY events_by_customer
                 WHERE e.customer_key IS NOT NULL AND e.anonymous_id IS NOT NULL AND {where_e}
                 UNION ALL
                 SELECT e.source_id, e.anonymous_id, NULL, e.email FROM events e INDEXED BY events_by_email
                 WHERE e.email IS NOT NULL AND e.anonymous_id IS NOT NULL AND {where_e}"
            ),
        };
        let mut st = conn.prepare(&sql)?;
        let mut rows = st.query(rusqlite::params_from_iter(bind(&sql)))?;
        while let Some(row) = rows.next()? {
            let source: i64 = row.get(0)?;
            let anon: String = row.get(1)?;
            let customer: Option<String> = row.get(2)?;
            let email: Option<String> = row.get(3)?;
            let e = logins.entry((source, anon)).or_default();
            if let Some(c) = customer.filter(|c| !c.is_empty()) {
                e.0.insert(c);
            }
            if let Some(m) = email.filter(|m| m.contains('@')) {
                e.1.insert(m.to_lowercase());
            }
        }
    }
    let sql = match filter {
        Filter::All => "SELECT r.id, r.profile_id, r.fingerprint, r.source_id, r.source_key FROM identity_records r WHERE r.kind = 'device'".to_string(),
        Filter::Wanted(_) => "SELECT r.id, r.profile_id, r.fingerprint, r.source_id, r.source_key FROM identity_records r WHERE r.kind = 'device' AND r.id IN (SELECT id FROM temp.wanted)".to_string(),
        // New devices, and devices with new logins.
        Filter::Since { .. } => "SELECT r.id, r.profile_id, r.fingerprint, r.source_id, r.source_key FROM identity_records r WHERE r.kind = 'device' AND r.profile_id IS NULL".to_string(),
    };
    let mut seen: BTreeSet<i64> = BTreeSet::new();
    let mut push_device =
        |out: &mut Vec<Record>, row: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
            let id: i64 = row.get(0)?;
            if !seen.insert(id) {
                return Ok(());
            }
            let source: i64 = row.get(3)?;
            let anon: String = row.get(4)?;
            let mut ids: Vec<(u8, Box<str>)> = vec![(DEVICE_ID, format!("{source}:{anon}").into())];
            if let Some((customers, emails)) = logins.get(&(source, anon)) {
                ids.extend(customers.iter().map(|c| (CUSTOMER_ID, c.as_str().into())));
                ids.extend(emails.iter().map(|e| (EMAIL, e.as_str().into())));
            }
            out.push(Record {
                id,
                kind: RecordKind::Device,
                source,
                profile: row.get(1)?,
                stored_fingerprint: row.get(2)?,
                fingerprint: fingerprint(RecordKind::Device, None, &ids),
                fields: None,
                ids,
            });
            Ok(())
        };
    {
        let mut st = conn.prepare(&sql)?;
        let mut rows = st.query([])?;
        while let Some(row) = rows.next()? {
            push_device(&mut out, row)?;
        }
    }
    if let Filter::Since { .. } = filter {
        // Known devices that logged in anew.
        let mut st = conn.prepare_cached(
            "SELECT id, profile_id, fingerprint, source_id, source_key FROM identity_records
             WHERE kind = 'device' AND source_id = ?1 AND source_key = ?2",
        )?;
        let keys: Vec<(i64, String)> = logins.keys().cloned().collect();
        for (source, anon) in keys {
            let mut rows = st.query(params![source, anon])?;
            if let Some(row) = rows.next()? {
                push_device(&mut out, row)?;
            }
        }
    }
    Ok(out)
}
