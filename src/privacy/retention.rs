//! Retention: how long each kind of data is kept ("events older than 25
//! months"), applied on demand and, at most once a day, at start
//! (`apply_if_due`): when the app opens a workspace (`app_info` returns
//! what was removed and the UI says so) and before a CLI command that
//! changes the workspace (which says so on stderr). Never by
//! `Workspace::open` itself, which must not change a file it only reads,
//! nor before read-only commands or dry runs.
//!
//! Rules live in the workspace settings as JSON. A run is one transaction
//! and is audited with the counts it removed.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::audit::{self, Action};
use super::erase::{drop_profile_rows, sql, Error, Result};
use crate::store::Workspace;

const RULES_KEY: &str = "retention_rules";
const LAST_RUN_KEY: &str = "retention_last_run";

/// Months to keep each kind of data; `None` keeps it for ever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
#[ts(export)]
pub struct RetentionRules {
    /// Events by when they happened.
    pub events_months: Option<u32>,
    /// Orders (with their lines) by when they were placed.
    pub orders_months: Option<u32>,
    /// Rejected rows by when their import finished.
    pub rejected_rows_months: Option<u32>,
    /// Flagged values by when their import finished.
    pub value_warnings_months: Option<u32>,
    /// Campaign results by when they were imported or computed.
    pub campaign_results_months: Option<u32>,
    /// Audit log entries by when they were written.
    pub audit_log_months: Option<u32>,
}

impl RetentionRules {
    pub fn is_empty(&self) -> bool {
        *self == RetentionRules::default()
    }

    /// (kind, months) of every rule set, in a fixed order.
    pub fn kinds(&self) -> Vec<(&'static str, u32)> {
        [
            ("events", self.events_months),
            ("orders", self.orders_months),
            ("rejected_rows", self.rejected_rows_months),
            ("value_warnings", self.value_warnings_months),
            ("campaign_results", self.campaign_results_months),
            ("audit_log", self.audit_log_months),
        ]
        .into_iter()
        .filter_map(|(k, m)| m.map(|m| (k, m)))
        .collect()
    }
}

/// What a retention run removed (or would remove): rows per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct RetentionReport {
    pub at: String,
    pub rules: RetentionRules,
    /// The cut-off per kind: rows older than this go.
    #[ts(type = "Record<string, string>")]
    pub cutoffs: BTreeMap<String, String>,
    #[ts(type = "Record<string, number>")]
    pub removed: BTreeMap<String, u64>,
}

impl RetentionReport {
    pub fn total(&self) -> u64 {
        self.removed.values().sum()
    }
}

/// The rules stored in the workspace (none by default).
pub fn rules(conn: &Connection) -> Result<RetentionRules> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [RULES_KEY],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("read retention rules"))?;
    match v {
        None => Ok(RetentionRules::default()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("the stored retention rules are damaged: {e}"))),
    }
}

/// Stores the rules. A rule of 0 months is refused: it would delete
/// everything at once, which is never what a retention rule means.
pub fn set_rules(conn: &Connection, rules: &RetentionRules, now: &str) -> Result<()> {
    if let Some((kind, _)) = rules.kinds().into_iter().find(|(_, m)| *m == 0) {
        return Err(Error::Invalid(format!(
            "keeping {kind} for 0 months would delete them all; give at least 1 month, or no rule"
        )));
    }
    let text = serde_json::to_string(rules).expect("rules serialise");
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![RULES_KEY, text],
    )
    .map_err(sql("store retention rules"))?;
    audit::record(
        conn,
        Action::SettingChange,
        now,
        Some("retention rules"),
        &serde_json::to_value(rules).expect("rules serialise"),
    )
    .map_err(sql("write the audit log"))?;
    Ok(())
}

fn parse_now(now: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(now)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Invalid(format!("`{now}` is not an ISO 8601 time: {e}")))
}

fn cutoff(now: DateTime<Utc>, months: u32) -> String {
    now.checked_sub_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What `apply` would remove now, computed in a transaction that is
/// rolled back.
pub fn preview(conn: &Connection, now: &str) -> Result<RetentionReport> {
    let tx = conn
        .unchecked_transaction()
        .map_err(sql("start the preview"))?;
    let report = remove(&tx, now)?;
    tx.rollback().map_err(sql("end the preview"))?;
    Ok(report)
}

/// Removes everything older than the rules allow, in one transaction,
/// audited; records the run as the last one.
pub fn apply(ws: &mut Workspace, now: &str) -> Result<RetentionReport> {
    // A run that removes something is destructive: back up first.
    if preview(ws.conn(), now)?.removed.values().any(|&n| n > 0) {
        crate::store::backup::create(ws, "before retention", now)?;
    }
    let tx = ws
        .conn_mut()
        .transaction()
        .map_err(sql("start the retention run"))?;
    let report = remove(&tx, now)?;
    if !report.rules.is_empty() {
        audit::record(
            &tx,
            Action::Retention,
            now,
            None,
            &serde_json::json!({"rules": report.rules, "removed": report.removed}),
        )
        .map_err(sql("write the audit log"))?;
    }
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![LAST_RUN_KEY, now],
    )
    .map_err(sql("record the retention run"))?;
    tx.commit().map_err(sql("commit the retention run"))?;
    Ok(report)
}

/// Applies the rules when there are some and the last run was a day or
/// more ago (or never). Called by the app when it opens a workspace and by
/// the CLI before commands that write. `None` when nothing was due.
pub fn apply_if_due(ws: &mut Workspace, now: &str) -> Result<Option<RetentionReport>> {
    let t = parse_now(now)?;
    if rules(ws.conn())?.is_empty() {
        return Ok(None);
    }
    let last: Option<String> = ws
        .conn()
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [LAST_RUN_KEY],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("read the last retention run"))?;
    if let Some(last) = last.and_then(|l| parse_now(&l).ok()) {
        if t - last < chrono::Duration::days(1) && t >= last {
            return Ok(None);
        }
    }
    apply(ws, now).map(Some)
}

/// The deletions, in the caller's transaction.
fn remove(conn: &Connection, now: &str) -> Result<RetentionReport> {
    let t = parse_now(now)?;
    let rules = rules(conn)?;
    let mut report = RetentionReport {
        at: now.to_string(),
        rules,
        ..Default::default()
    };
    let mut count = |table: &str, n: usize| {
        if n > 0 {
            *report.removed.entry(table.to_string()).or_default() += n as u64;
        }
    };
    let mut cutoffs = BTreeMap::new();
    for (kind, months) in rules.kinds() {
        let before = cutoff(t, months);
        cutoffs.insert(kind.to_string(), before.clone());
        match kind {
            "events" => {
                let n = conn
                    .execute("DELETE FROM events WHERE occurred_at < ?1", [&before])
                    .map_err(sql("remove old events"))?;
                count("events", n);
            }
            "orders" => {
                for (table, n) in remove_orders(conn, &before, now)? {
                    count(&table, n as usize);
                }
            }
            "rejected_rows" => {
                let n = conn
                    .execute(
                        "DELETE FROM rejected_rows WHERE import_id IN (SELECT id FROM imports WHERE finished_at < ?1)",
                        [&before],
                    )
                    .map_err(sql("remove old rejected rows"))?;
                count("rejected_rows", n);
            }
            "value_warnings" => {
                let n = conn
                    .execute(
                        "DELETE FROM value_warnings WHERE import_id IN (SELECT id FROM imports WHERE finished_at < ?1)",
                        [&before],
                    )
                    .map_err(sql("remove old flagged values"))?;
                count("value_warnings", n);
            }
            "campaign_results" => {
                let n = conn
                    .execute(
                        "DELETE FROM campaign_results WHERE EXISTS (
                            SELECT 1 FROM campaign_result_sources s
                             WHERE s.campaign_id = campaign_results.campaign_id
                               AND s.source = campaign_results.source AND s.at < ?1)",
                        [&before],
                    )
                    .map_err(sql("remove old campaign results"))?;
                count("campaign_results", n);
                let n = conn
                    .execute(
                        "DELETE FROM campaign_result_sources WHERE at < ?1",
                        [&before],
                    )
                    .map_err(sql("remove old campaign results"))?;
                count("campaign_result_sources", n);
            }
            "audit_log" => {
                let n = conn
                    .execute("DELETE FROM audit_log WHERE at < ?1", [&before])
                    .map_err(sql("remove old audit entries"))?;
                count("audit_log", n);
            }
            _ => unreachable!("kinds() lists only these"),
        }
    }
    report.cutoffs = cutoffs;
    Ok(report)
}

/// Deletes orders placed before `before`, their lines and their identity
/// records, then rebuilds the profiles those records were in (a profile
/// holds nothing its records do not); profiles left without records go,
/// with their per-profile rows.
fn remove_orders(conn: &Connection, before: &str, now: &str) -> Result<Vec<(String, u64)>> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    let old: Vec<(i64, i64, String)> = {
        let mut st = conn
            .prepare("SELECT id, source_id, source_key FROM orders WHERE ordered_at < ?1")
            .map_err(sql("find old orders"))?;
        let rows = st
            .query_map([before], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql("find old orders"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("find old orders"))?
    };
    let mut touched: Vec<i64> = Vec::new();
    let mut gone_records: Vec<i64> = Vec::new();
    for (id, source, key) in &old {
        let records: Vec<(i64, Option<i64>)> = {
            let mut st = conn
                .prepare_cached(
                    "SELECT id, profile_id FROM identity_records WHERE row_id = ?1 AND kind = 'order'",
                )
                .map_err(sql("find old orders"))?;
            let rows = st
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql("find old orders"))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(sql("find old orders"))?
        };
        for (rec, profile) in records {
            touched.extend(profile);
            gone_records.push(rec);
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
                    "identity_records",
                    "DELETE FROM identity_records WHERE id = ?1",
                ),
            ] {
                let n = conn
                    .prepare_cached(q)
                    .and_then(|mut st| st.execute([rec]))
                    .map_err(sql("remove old orders"))?;
                *out.entry(table.into()).or_default() += n as u64;
            }
        }
        let n = conn
            .prepare_cached("DELETE FROM order_lines WHERE source_id = ?1 AND order_key = ?2")
            .and_then(|mut st| st.execute(params![source, key]))
            .map_err(sql("remove old orders"))?;
        *out.entry("order_lines".into()).or_default() += n as u64;
        let n = conn
            .prepare_cached("DELETE FROM orders WHERE id = ?1")
            .and_then(|mut st| st.execute([id]))
            .map_err(sql("remove old orders"))?;
        *out.entry("orders".into()).or_default() += n as u64;
    }
    let (keys, fields) =
        crate::identity::delete_keys_of(conn, gone_records).map_err(sql("remove old orders"))?;
    *out.entry("blocking_keys".into()).or_default() += keys as u64;
    *out.entry("match_fields".into()).or_default() += fields as u64;
    touched.sort_unstable();
    touched.dedup();
    if !touched.is_empty() {
        crate::profiles::rebuild(
            conn,
            crate::profiles::Scope::Profiles(&touched),
            now,
            &mut crate::progress::Silent,
        )
        .map_err(|e| Error::Profiles(e.to_string()))?;
        let mut gone = Vec::new();
        for id in touched {
            let exists: Option<i64> = conn
                .query_row("SELECT id FROM profiles WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(sql("remove old orders"))?;
            if exists.is_none() {
                gone.push(id);
            }
        }
        if !gone.is_empty() {
            *out.entry("profiles".into()).or_default() += gone.len() as u64;
        }
        for (table, n) in drop_profile_rows(conn, &gone)? {
            *out.entry(table).or_default() += n;
        }
    }
    Ok(out.into_iter().filter(|(_, n)| *n > 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("w.cohort")).unwrap();
        ws.conn()
            .execute_batch(
                "INSERT INTO sources (id, name, kind, created_at) VALUES (1, 'e', 'events', 'x'), (2, 'o', 'orders', 'x');
                 INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at)
                   VALUES (1, 1, 'f', 'f', 0, 'h', 'events', '[]', '{}', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');
                 INSERT INTO events (source_id, source_key, import_id, row_number, row_hash, name, occurred_at)
                   VALUES (1, 'a', 1, 2, 0, 'page_view', '2020-01-01T00:00:00Z'),
                          (1, 'b', 1, 3, 0, 'page_view', '2026-10-01T00:00:00Z');
                 INSERT INTO orders (id, source_id, source_key, import_id, row_number, row_hash, ordered_at)
                   VALUES (1, 2, '1', 1, 2, 0, '2019-01-01T00:00:00Z'), (2, 2, '2', 1, 3, 0, '2026-01-01T00:00:00Z');
                 INSERT INTO order_lines (source_id, source_key, import_id, row_number, row_hash, order_key, line_number)
                   VALUES (2, '1/1', 1, 2, 0, '1', 1), (2, '2/1', 1, 3, 0, '2', 1);
                 INSERT INTO identity_records (id, kind, source_id, source_key, row_id, fingerprint, profile_id)
                   VALUES (1, 'order', 2, '1', 1, 0, 5), (2, 'order', 2, '2', 2, 0, 6);
                 INSERT INTO profiles (id, created_at, updated_at) VALUES (5, 'x', 'x'), (6, 'x', 'x');
                 INSERT INTO profile_traits (profile_id, as_of) VALUES (5, 'x'), (6, 'x');
                 INSERT INTO rejected_rows (import_id, row_number, reason_code, reason, record) VALUES (1, 4, 'x', 'x', '[]');",
            )
            .unwrap();
        (dir, ws)
    }

    #[test]
    fn removes_only_what_is_older_than_the_rules() {
        let (_d, mut ws) = seeded();
        let now = "2026-11-01T00:00:00Z";
        assert!(apply_if_due(&mut ws, now).unwrap().is_none(), "no rules");
        let r = RetentionRules {
            events_months: Some(25),
            orders_months: Some(36),
            rejected_rows_months: Some(12),
            ..Default::default()
        };
        set_rules(ws.conn(), &r, now).unwrap();
        assert_eq!(rules(ws.conn()).unwrap(), r);
        let p = preview(ws.conn(), now).unwrap();
        assert_eq!(p.removed["events"], 1);
        assert_eq!(p.removed["orders"], 1);
        assert_eq!(p.removed["order_lines"], 1);
        assert_eq!(p.removed["rejected_rows"], 1);
        assert_eq!(p.removed["profiles"], 1);
        assert_eq!(p.removed["profile_traits"], 1);
        let done = apply_if_due(&mut ws, now).unwrap().expect("due");
        assert_eq!(done.removed, p.removed);
        let c = ws.conn();
        let n: i64 = c
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        let n: i64 = c
            .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(audit::list(c, Some("retention"), 5, 0).unwrap().len(), 1);
        // Not due again the same day.
        assert!(apply_if_due(&mut ws, "2026-11-01T20:00:00Z")
            .unwrap()
            .is_none());
        assert!(apply_if_due(&mut ws, "2026-11-02T01:00:00Z")
            .unwrap()
            .is_some());
    }

    #[test]
    fn zero_months_is_refused() {
        let (_d, ws) = seeded();
        let r = RetentionRules {
            events_months: Some(0),
            ..Default::default()
        };
        assert!(matches!(
            set_rules(ws.conn(), &r, "2026-11-01T00:00:00Z"),
            Err(Error::Invalid(_))
        ));
    }
}
