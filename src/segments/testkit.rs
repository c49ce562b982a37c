//! A small demo workspace for the segment tests, built once per test run
//! through the real path (demo generator → import → identity resolution →
//! traits → one clustering run) and copied for each test.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::progress::Silent;
use crate::store::Workspace;

/// "Now" of every segment test (the demo's `as_of` is 2026-11-01).
pub(crate) const NOW: &str = "2026-11-01T12:00:00Z";

struct Built {
    _dir: tempfile::TempDir,
    file: PathBuf,
}

static DEMO: OnceLock<Built> = OnceLock::new();

fn build() -> Built {
    let dir = tempfile::tempdir().unwrap();
    let now: chrono::DateTime<chrono::Utc> = NOW.parse().unwrap();
    let config = crate::demo::DemoConfig {
        customers: crate::demo::MIN_CUSTOMERS,
        seed: 7,
        ..Default::default()
    };
    let exports = dir.path().join("exports");
    let output = crate::demo::generate(&config, &exports, &mut Silent).unwrap();
    let file = dir.path().join("demo.cohort");
    {
        let mut ws = Workspace::open(&file).unwrap();
        for f in &output.files {
            crate::ingest::import(
                &mut ws,
                &f.path,
                &crate::ingest::ImportOptions::new(now),
                &mut Silent,
            )
            .unwrap();
        }
        crate::identity::resolve(
            &mut ws,
            &crate::identity::ResolveOptions {
                full: true,
                settings: Default::default(),
                now: NOW.into(),
                actor: "test".into(),
            },
            &mut Silent,
        )
        .unwrap();
        crate::traits::compute(
            &mut ws,
            now,
            crate::traits::TraitsOptions::default(),
            &mut Silent,
        )
        .unwrap();
        let request = crate::cluster::runs::ClusterRequest {
            features: ["orders", "revenue", "days_since_last_order"]
                .map(String::from)
                .to_vec(),
            config: crate::cluster::Config {
                algorithm: crate::cluster::Algorithm::KMeans { k: Some(3) },
                ..crate::cluster::Config::default()
            },
        };
        crate::cluster::runs::run(&mut ws, &request, NOW, &mut Silent).unwrap();
        ws.conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
    }
    Built { _dir: dir, file }
}

/// A connection to a copy of the demo workspace, opened directly (the
/// segment functions need no more than the connection).
pub(crate) struct Copy {
    conn: rusqlite::Connection,
}

impl Copy {
    pub fn conn(&self) -> &rusqlite::Connection {
        &self.conn
    }
    pub fn conn_mut(&mut self) -> &mut rusqlite::Connection {
        &mut self.conn
    }
}

/// A fresh copy of the demo workspace (the folder goes with the guard).
pub(crate) fn demo() -> (tempfile::TempDir, Copy) {
    let built = DEMO.get_or_init(build);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.cohort");
    copy(&built.file, &file);
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
        .unwrap();
    (dir, Copy { conn })
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
}

/// Every profile id, ascending.
pub(crate) fn all_profiles(conn: &rusqlite::Connection) -> Vec<i64> {
    let mut stmt = conn.prepare("SELECT id FROM profiles ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// An event with its profile decided in Rust, independently of the SQL:
/// a customer key whose contacts all belong to one profile, else the
/// device of the event's source.
#[derive(Debug, Clone)]
pub(crate) struct Ev {
    pub id: i64,
    pub profile: Option<i64>,
    pub name: String,
    pub at: String,
    pub sku: Option<String>,
    pub device: Option<String>,
    pub value: Option<i64>,
}

pub(crate) fn events(conn: &rusqlite::Connection) -> Vec<Ev> {
    use std::collections::{HashMap, HashSet};
    let mut customers: HashMap<String, HashSet<i64>> = HashMap::new();
    let mut devices: HashMap<(i64, String), i64> = HashMap::new();
    let mut stmt = conn
        .prepare(
            "SELECT kind, source_id, source_key, profile_id FROM identity_records
              WHERE kind IN ('contact', 'device') AND profile_id IS NOT NULL",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (kind, source, key, profile) = row.unwrap();
        if kind == "contact" {
            customers.entry(key).or_default().insert(profile);
        } else {
            devices.insert((source, key), profile);
        }
    }
    let mut stmt = conn
        .prepare(
            "SELECT id, source_id, customer_key, anonymous_id, name, occurred_at, sku, device, value
               FROM events ORDER BY id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                Ev {
                    id: r.get(0)?,
                    profile: None,
                    name: r.get(4)?,
                    at: r.get(5)?,
                    sku: r.get(6)?,
                    device: r.get(7)?,
                    value: r.get(8)?,
                },
            ))
        })
        .unwrap();
    rows.map(|row| {
        let (_, source, customer, anon, mut ev) = row.unwrap();
        let by_customer = customer
            .filter(|c| !c.is_empty())
            .and_then(|c| customers.get(&c))
            .filter(|set| set.len() == 1)
            .and_then(|set| set.iter().next().copied());
        ev.profile = by_customer.or_else(|| anon.and_then(|a| devices.get(&(source, a)).copied()));
        ev
    })
    .collect()
}

/// An order of a profile, read in Rust.
#[derive(Debug, Clone)]
pub(crate) struct Ord {
    pub profile: i64,
    pub at: Option<String>,
    pub currency: Option<String>,
    pub total: Option<i64>,
    pub refunded: Option<i64>,
    pub cancelled: bool,
    pub skus: Vec<String>,
}

pub(crate) fn orders(conn: &rusqlite::Connection) -> Vec<Ord> {
    use std::collections::HashMap;
    let mut lines: HashMap<(i64, String), Vec<String>> = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT source_id, order_key, sku FROM order_lines WHERE sku IS NOT NULL")
        .unwrap();
    for row in stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .unwrap()
    {
        let (s, k, sku) = row.unwrap();
        lines.entry((s, k)).or_default().push(sku);
    }
    let mut stmt = conn
        .prepare(
            "SELECT r.profile_id, o.source_id, o.source_key, o.ordered_at, o.currency, o.total,
                    o.refunded, o.cancelled_at, o.financial_status
               FROM identity_records r JOIN orders o ON o.id = r.row_id
              WHERE r.kind = 'order' AND r.profile_id IS NOT NULL",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            let cancelled_at: Option<String> = r.get(7)?;
            let status: Option<String> = r.get(8)?;
            let status = status.unwrap_or_default().to_ascii_lowercase();
            Ok((
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                Ord {
                    profile: r.get(0)?,
                    at: r.get(3)?,
                    currency: r.get(4)?,
                    total: r.get(5)?,
                    refunded: r.get(6)?,
                    cancelled: cancelled_at.is_some_and(|c| !c.is_empty())
                        || status == "voided"
                        || status == "cancelled",
                    skus: Vec::new(),
                },
            ))
        })
        .unwrap();
    rows.map(|row| {
        let (source, key, mut o) = row.unwrap();
        o.skus = lines.get(&(source, key)).cloned().unwrap_or_default();
        o
    })
    .collect()
}

/// SKU → category, from the product with the lowest id.
pub(crate) fn categories(
    conn: &rusqlite::Connection,
) -> std::collections::HashMap<String, Option<String>> {
    let mut out = std::collections::HashMap::new();
    let mut stmt = conn
        .prepare("SELECT sku, category FROM products ORDER BY id DESC")
        .unwrap();
    for row in stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .unwrap()
    {
        let (sku, cat) = row.unwrap();
        out.insert(sku, cat);
    }
    out
}

/// The ids of `all` for which `keep` holds, ascending.
pub(crate) fn ids_where(all: &[i64], keep: impl Fn(i64) -> bool) -> Vec<i64> {
    all.iter().copied().filter(|&id| keep(id)).collect()
}
