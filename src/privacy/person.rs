//! Exporting everything held about a person (right of access).
//!
//! The person is found exactly as an erasure finds them
//! (`erase::find_person`), so an export shows what an erasure would
//! remove. One `person.json` holds it all; readable CSVs per table sit
//! beside it, with every cell guarded against spreadsheet formulas.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, Value};

use super::audit::{self, Action};
use super::erase::{find_person, sql, Error, Result, Target};

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonExportReport {
    pub dir: PathBuf,
    /// Files written, `person.json` first.
    pub files: Vec<PathBuf>,
    /// Rows per section.
    pub counts: BTreeMap<String, u64>,
}

type Rows = Vec<Map<String, Value>>;

/// The export section holding the rows of each table an erasure removes
/// (`ErasePreview::removed`) where its name differs from the table's: an
/// export must show everything an erasure would remove.
pub const SECTION_OF_TABLE: [(&str, &str); 7] = [
    ("profile_traits", "traits"),
    ("consent_ledger", "consent"),
    ("segment_members", "segments"),
    ("segment_change_members", "segment_changes"),
    ("cluster_members", "clusters"),
    ("campaign_sends", "campaigns"),
    ("campaign_holdout", "campaigns"),
];

/// The export section for table `table` of an erasure's counts.
pub fn section_of(table: &str) -> &str {
    SECTION_OF_TABLE
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, s)| *s)
        .unwrap_or(table)
}

/// Rows of a query as JSON objects keyed by column name. Columns named
/// `raw`, `attributes`, `properties`, `origins`, `detail` hold JSON text
/// and are parsed, so the export reads as one document.
fn rows(conn: &Connection, query: &str, p: impl rusqlite::Params) -> Result<Rows> {
    let mut st = conn
        .prepare_cached(query)
        .map_err(sql("read the person's data"))?;
    let names: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    let mut rs = st.query(p).map_err(sql("read the person's data"))?;
    while let Some(r) = rs.next().map_err(sql("read the person's data"))? {
        let mut m = Map::new();
        for (i, name) in names.iter().enumerate() {
            let v = match r.get_ref(i).map_err(sql("read the person's data"))? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::from(n),
                ValueRef::Real(f) => Value::from(f),
                ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t).into_owned();
                    let json_column = matches!(
                        name.as_str(),
                        "raw" | "attributes" | "properties" | "origins" | "detail"
                    );
                    match json_column.then(|| serde_json::from_str::<Value>(&s)) {
                        Some(Ok(v)) => v,
                        _ => Value::String(s),
                    }
                }
                ValueRef::Blob(b) => Value::String(format!("<{} bytes>", b.len())),
            };
            m.insert(name.clone(), v);
        }
        out.push(m);
    }
    Ok(out)
}

fn rows_for(conn: &Connection, query: &str, ids: &[i64]) -> Result<Rows> {
    let mut out = Vec::new();
    for id in ids {
        out.extend(rows(conn, query, [id])?);
    }
    Ok(out)
}

/// A cell as readable text: JSON values other than strings are written as
/// compact JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn write_csv(path: &Path, rows: &Rows) -> Result<()> {
    let io = |e: std::io::Error| Error::Io {
        context: format!("write {}", path.display()),
        source: e,
    };
    let mut w = csv::Writer::from_path(path).map_err(|e| io(e.into()))?;
    let mut header: Vec<&str> = Vec::new();
    for r in rows {
        for k in r.keys() {
            if !header.contains(&k.as_str()) {
                header.push(k);
            }
        }
    }
    if header.is_empty() {
        header.push("none");
    }
    w.write_record(&header).map_err(|e| io(e.into()))?;
    for r in rows {
        let record: Vec<String> = header
            .iter()
            .map(|h| {
                let text = r.get(*h).map(cell).unwrap_or_default();
                crate::campaigns::safe_csv::neutralise(&text).into_owned()
            })
            .collect();
        w.write_record(&record).map_err(|e| io(e.into()))?;
    }
    w.flush().map_err(io)
}

/// Writes `person.json` and one CSV per section into `out_dir` (created if
/// needed) and logs the export (counts only). `now` is ISO 8601 UTC.
pub fn export(
    conn: &Connection,
    target: &Target,
    out_dir: &Path,
    now: &str,
) -> Result<PersonExportReport> {
    let p = find_person(conn, target)?;
    if p.profiles.is_empty() && p.contacts.is_empty() && p.orders.is_empty() && p.events.is_empty()
    {
        return Err(Error::NotFound(format!(
            "Nobody in this workspace has that {}.",
            target.kind()
        )));
    }
    let mut sections: Vec<(&str, Rows)> = Vec::new();
    sections.push((
        "profiles",
        rows_for(conn, "SELECT * FROM profiles WHERE id = ?1", &p.profiles)?,
    ));
    sections.push((
        "identifiers",
        rows_for(
            conn,
            "SELECT i.kind, i.value, r.kind AS record_kind, s.name AS source, r.source_key, r.profile_id, r.id AS record_id
               FROM identifiers i JOIN identity_records r ON r.id = i.record_id JOIN sources s ON s.id = r.source_id
              WHERE i.record_id = ?1",
            &p.records,
        )?,
    ));
    sections.push((
        "contacts",
        rows_for(
            conn,
            "SELECT s.name AS source, c.* FROM contacts c JOIN sources s ON s.id = c.source_id WHERE c.id = ?1",
            &p.contacts,
        )?,
    ));
    let mut orders = rows_for(
        conn,
        "SELECT s.name AS source, o.* FROM orders o JOIN sources s ON s.id = o.source_id WHERE o.id = ?1",
        &p.orders,
    )?;
    let mut lines_all: Rows = Vec::new();
    for o in &mut orders {
        let source = o.get("source_id").and_then(Value::as_i64).unwrap_or(0);
        let key = o.get("source_key").map(cell).unwrap_or_default();
        let lines = rows(
            conn,
            "SELECT * FROM order_lines WHERE source_id = ?1 AND order_key = ?2 ORDER BY line_number",
            rusqlite::params![source, key],
        )?;
        lines_all.extend(lines.iter().cloned());
        o.insert(
            "lines".into(),
            Value::Array(lines.into_iter().map(Value::Object).collect()),
        );
    }
    // Lines go to their own CSV; the orders CSV keeps one row per order.
    let orders_flat: Rows = orders
        .iter()
        .map(|o| {
            let mut o = o.clone();
            o.remove("lines");
            o
        })
        .collect();
    sections.push(("orders", orders));
    sections.push(("order_lines", lines_all));
    sections.push((
        "events",
        rows_for(
            conn,
            "SELECT s.name AS source, e.* FROM events e JOIN sources s ON s.id = e.source_id WHERE e.id = ?1",
            &p.events,
        )?,
    ));
    sections.push((
        "traits",
        rows_for(
            conn,
            "SELECT * FROM profile_traits WHERE profile_id = ?1",
            &p.profiles,
        )?,
    ));
    // Consent history: evidence about their records, addresses or profile,
    // oldest first.
    let mut consent = rows_for(
        conn,
        "SELECT * FROM consent_ledger WHERE contact_id = ?1",
        &p.contacts,
    )?;
    for a in p.emails.iter().chain(&p.phones) {
        consent.extend(rows(
            conn,
            "SELECT * FROM consent_ledger WHERE address = ?1",
            [a],
        )?);
    }
    consent.extend(rows_for(
        conn,
        "SELECT * FROM consent_ledger WHERE profile_id = ?1",
        &p.profiles,
    )?);
    consent.sort_by_key(|r| r.get("id").and_then(Value::as_i64));
    consent.dedup_by_key(|r| r.get("id").and_then(Value::as_i64));
    consent.sort_by(|a, b| cell(&a["at"]).cmp(&cell(&b["at"])));
    sections.push(("consent", consent));
    sections.push((
        "segments",
        rows_for(
            conn,
            "SELECT m.profile_id, s.id AS segment_id, s.name, s.kind, s.description
               FROM segment_members m JOIN segments s ON s.id = m.segment_id
              WHERE m.profile_id = ?1 ORDER BY s.id",
            &p.profiles,
        )?,
    ));
    let mut campaigns = rows_for(
        conn,
        "SELECT cs.profile_id, c.id AS campaign_id, c.name, c.channel, 'sent' AS role, cs.variant,
                cs.sent_at, e.id AS export_id, e.format, e.at AS exported_at
           FROM campaign_sends cs JOIN campaigns c ON c.id = cs.campaign_id
           LEFT JOIN campaign_exports e ON e.id = cs.export_id
          WHERE cs.profile_id = ?1",
        &p.profiles,
    )?;
    campaigns.extend(rows_for(
        conn,
        "SELECT h.profile_id, c.id AS campaign_id, c.name, c.channel, 'holdout' AS role
           FROM campaign_holdout h JOIN campaigns c ON c.id = h.campaign_id
          WHERE h.profile_id = ?1",
        &p.profiles,
    )?);
    sections.push(("campaigns", campaigns));
    sections.push((
        "campaign_results",
        rows_for(
            conn,
            "SELECT r.*, c.name AS campaign FROM campaign_results r JOIN campaigns c ON c.id = r.campaign_id
              WHERE r.profile_id = ?1",
            &p.profiles,
        )?,
    ));
    sections.push((
        "recommendations",
        rows_for(
            conn,
            "SELECT * FROM recommendations WHERE profile_id = ?1 ORDER BY rank",
            &p.profiles,
        )?,
    ));
    // Their entries into and exits from dynamic segments, and the clusters
    // they were put in.
    sections.push((
        "segment_changes",
        rows_for(
            conn,
            "SELECT m.profile_id, s.id AS segment_id, s.name AS segment, c.at,
                    CASE m.entered WHEN 1 THEN 'entered' ELSE 'exited' END AS change
               FROM segment_change_members m JOIN segment_changes c ON c.id = m.change_id
               JOIN segments s ON s.id = c.segment_id
              WHERE m.profile_id = ?1 ORDER BY c.at, s.id",
            &p.profiles,
        )?,
    ));
    sections.push((
        "clusters",
        rows_for(
            conn,
            "SELECT m.profile_id, m.run_id, r.created_at, r.algorithm, m.cluster
               FROM cluster_members m JOIN cluster_runs r ON r.id = m.run_id
              WHERE m.profile_id = ?1 ORDER BY m.run_id",
            &p.profiles,
        )?,
    ));
    // Problem rows of their imports: the text of rows that were not stored
    // and values that could not be cleaned.
    sections.push((
        "rejected_rows",
        rows_for(
            conn,
            "SELECT r.*, i.file_name FROM rejected_rows r JOIN imports i ON i.id = r.import_id WHERE r.id = ?1",
            &p.rejected_rows,
        )?,
    ));
    sections.push((
        "value_warnings",
        rows_for(
            conn,
            "SELECT w.*, i.file_name FROM value_warnings w JOIN imports i ON i.id = w.import_id WHERE w.id = ?1",
            &p.value_warnings,
        )?,
    ));
    // Identity resolution about them: their source records, the comparison
    // keys derived from them, links, candidate pairs, people's decisions,
    // refused merges and the log.
    sections.push((
        "identity_records",
        rows_for(
            conn,
            "SELECT * FROM identity_records WHERE id = ?1",
            &p.records,
        )?,
    ));
    sections.push((
        "blocking_keys",
        // One pass: the table has no index by record.
        rows(
            conn,
            &format!(
                "SELECT * FROM blocking_keys WHERE {}",
                crate::identity::RECORD_IN_LIST
            ),
            [crate::identity::record_list(&p.records)],
        )?,
    ));
    sections.push((
        "match_fields",
        rows_for(
            conn,
            "SELECT * FROM match_fields WHERE record_id = ?1",
            &p.records,
        )?,
    ));
    for table in [
        "profile_links",
        "match_pairs",
        "identity_decisions",
        "refused_merges",
    ] {
        // Table names from this fixed list.
        let mut found = rows_for(
            conn,
            &format!("SELECT * FROM {table} WHERE record_a = ?1 OR record_b = ?1"),
            &p.records,
        )?;
        if table == "refused_merges" {
            for v in p.emails.iter().chain(&p.phones) {
                found.extend(rows(
                    conn,
                    "SELECT * FROM refused_merges WHERE value = ?1",
                    [v],
                )?);
            }
        }
        found.sort_by_key(|r| r.get("id").and_then(Value::as_i64));
        found.dedup_by_key(|r| r.get("id").and_then(Value::as_i64));
        sections.push((table, found));
    }
    let mut log = rows_for(
        conn,
        "SELECT * FROM identity_log WHERE record_a = ?1 OR record_b = ?1",
        &p.records,
    )?;
    log.extend(rows_for(
        conn,
        "SELECT * FROM identity_log WHERE profile_id = ?1",
        &p.profiles,
    )?);
    log.sort_by_key(|r| r.get("id").and_then(Value::as_i64));
    log.dedup_by_key(|r| r.get("id").and_then(Value::as_i64));
    sections.push(("identity_log", log));
    let mut suppressions = Vec::new();
    for (kind, values) in [("email", &p.emails), ("phone", &p.phones)] {
        for v in values {
            suppressions.extend(rows(
                conn,
                "SELECT * FROM suppressions WHERE kind = ?1 AND value = ?2",
                rusqlite::params![kind, v],
            )?);
        }
    }
    sections.push(("suppressions", suppressions));

    std::fs::create_dir_all(out_dir).map_err(|e| Error::Io {
        context: format!("create {}", out_dir.display()),
        source: e,
    })?;
    let mut doc = Map::new();
    doc.insert("exported_at".into(), Value::from(now));
    doc.insert(
        "about".into(),
        Value::from(
            "Everything this Cohort workspace holds about one person: unified profile values \
             and their origins, every source record with its raw values, identifiers, orders \
             with lines, events, computed traits, consent history, segments (and entries and \
             exits), clusters, campaigns, recommendations, problem rows of imports, identity \
             resolution (records, comparison keys, links, candidate pairs, decisions, log) and \
             suppression lists.",
        ),
    );
    let mut counts = BTreeMap::new();
    let mut files = vec![out_dir.join("person.json")];
    for (name, section) in &sections {
        counts.insert(name.to_string(), section.len() as u64);
        doc.insert(
            name.to_string(),
            Value::Array(section.iter().cloned().map(Value::Object).collect()),
        );
    }
    let json_path = out_dir.join("person.json");
    std::fs::write(
        &json_path,
        serde_json::to_vec_pretty(&Value::Object(doc)).expect("JSON values serialise"),
    )
    .map_err(|e| Error::Io {
        context: format!("write {}", json_path.display()),
        source: e,
    })?;
    for (name, section) in &sections {
        let path = out_dir.join(format!("{name}.csv"));
        if *name == "orders" {
            write_csv(&path, &orders_flat)?;
        } else {
            write_csv(&path, section)?;
        }
        files.push(path);
    }
    let detail = serde_json::json!({ "target": target.kind(), "counts": counts });
    audit::record(conn, Action::PersonExport, now, None, &detail)
        .map_err(sql("write the audit log"))?;
    Ok(PersonExportReport {
        dir: out_dir.to_path_buf(),
        files,
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_records_orders_and_consent() {
        let dir = tempfile::tempdir().unwrap();
        let ws = crate::store::Workspace::open(dir.path().join("w.cohort")).unwrap();
        ws.conn()
            .execute_batch(
                "INSERT INTO sources (id, name, kind, created_at) VALUES (1, 's', 'contacts', 'x'), (2, 'o', 'orders', 'x');
                 INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at)
                   VALUES (1, 1, 'f', 'f', 0, 'h', 'contacts', '[]', '{}', 'x', 'x');
                 INSERT INTO contacts (id, source_id, source_key, import_id, row_number, row_hash, first_name, email, raw)
                   VALUES (1, 1, 'c1', 1, 2, 0, '=cmd()', 'zq@example.com', '{\"email\":\" ZQ@example.com\"}');
                 INSERT INTO orders (id, source_id, source_key, import_id, row_number, row_hash, email, total)
                   VALUES (1, 2, '1001', 1, 2, 0, 'zq@example.com', 500);
                 INSERT INTO order_lines (source_id, source_key, import_id, row_number, row_hash, order_key, line_number, sku)
                   VALUES (2, '1001/1', 1, 2, 0, '1001', 1, 'A');
                 INSERT INTO consent_ledger (channel, status, reason, address, source, at, recorded_at)
                   VALUES ('email', 'denied', 'unsubscribed', 'zq@example.com', 'list.csv', '2025-01-01', '2025-01-02');",
            )
            .unwrap();
        let out = dir.path().join("out");
        let r = export(
            ws.conn(),
            &Target::Email("zq@example.com".into()),
            &out,
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(r.counts["contacts"], 1);
        assert_eq!(r.counts["orders"], 1);
        assert_eq!(r.counts["order_lines"], 1);
        assert_eq!(r.counts["consent"], 1);
        let doc: Value =
            serde_json::from_slice(&std::fs::read(out.join("person.json")).unwrap()).unwrap();
        assert_eq!(doc["orders"][0]["lines"][0]["sku"], "A");
        assert_eq!(doc["contacts"][0]["raw"]["email"], " ZQ@example.com");
        let csv = std::fs::read_to_string(out.join("contacts.csv")).unwrap();
        assert!(csv.contains("'=cmd()"), "formula guarded: {csv}");
        assert!(out.join("consent.csv").exists());
        let log = audit::list(ws.conn(), Some("person_export"), 5, 0).unwrap();
        assert_eq!(log.len(), 1);
        assert!(!log[0].detail.to_string().contains("zq@"));
    }

    /// Everything an erasure would remove about a person is in their
    /// export: every table of the erase preview has a section with rows.
    #[test]
    fn the_export_covers_every_table_an_erasure_removes() {
        let (dir, ws) = crate::privacy::erase::tests::workspace();
        crate::privacy::erase::tests::seed(&ws);
        // Beyond the seed: clusters, segment entries, identity work and a
        // flagged value of the person's contact row.
        ws.conn()
            .execute_batch(
                "INSERT INTO cluster_runs (id, created_at, algorithm, features, params, result) VALUES (1, 'x', 'kmeans', '[]', '{}', '{}');
                 INSERT INTO cluster_members VALUES (1, 10, 0), (1, 11, 1);
                 INSERT INTO segment_changes (id, segment_id, at, members, entered, exited) VALUES (1, 1, '2026-01-01', 2, 2, 0);
                 INSERT INTO segment_change_members VALUES (1, 10, 1), (1, 11, 1);
                 INSERT INTO match_pairs (record_a, record_b, weight, probability, levels) VALUES (1, 3, 1.0, 0.4, '[]');
                 INSERT INTO identity_decisions (record_a, record_b, decision, decided_by, decided_at) VALUES (1, 3, 'different', 't', 'x');
                 INSERT INTO profile_links (record_a, record_b, reason, detail) VALUES (1, 2, 'email', 'zq@example.com');
                 INSERT INTO identity_log (at, actor, action, profile_id, record_a, record_b, detail) VALUES ('x', 't', 'merge', 10, 1, 2, '{}');
                 INSERT INTO blocking_keys (key, record_id) VALUES (7, 1);
                 INSERT INTO match_fields (record_id, fields) VALUES (1, 'zebedee');
                 INSERT INTO profile_traits (profile_id, as_of) VALUES (10, 'x');
                 INSERT INTO value_warnings (import_id, row_number, column_name, raw_value, reason_code, reason)
                   VALUES (1, 2, 'birth_date', '31/02', 'x', 'x');",
            )
            .unwrap();
        let target = Target::Email("zq@example.com".into());
        let preview = crate::privacy::erase::preview(
            ws.conn(),
            &target,
            crate::privacy::erase::EraseOptions::default(),
            &[],
        )
        .unwrap();
        let report = export(
            ws.conn(),
            &target,
            &dir.path().join("out"),
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        let mut tables: Vec<&String> = preview
            .removed
            .keys()
            .chain(preview.anonymised.keys())
            .collect();
        tables.sort();
        for must in [
            "cluster_members",
            "segment_change_members",
            "match_pairs",
            "identity_decisions",
            "rejected_rows",
            "value_warnings",
        ] {
            assert!(
                tables.iter().any(|t| *t == must),
                "the seed reaches {must}: {tables:?}"
            );
        }
        for table in tables {
            let section = section_of(table);
            assert!(
                report.counts.get(section).copied().unwrap_or(0) > 0,
                "`{table}` is erased but its section `{section}` is empty or missing: {:?}",
                report.counts
            );
        }
        // And nobody else's rows came along.
        assert_eq!(report.counts["clusters"], 1);
        assert_eq!(report.counts["segment_changes"], 1);
    }
}
