//! Rebuild, search and detail over a hand-made workspace.
//!
//! Profile 7 is Zoë Müller: five contacts and an order from three shops, a
//! GA4 device and events. Profile 8 is Jean-Luc Picard: two contacts, one
//! without dates of its own.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::*;
use crate::progress::{Silent, Tick};
use crate::store::Workspace;

const FIXTURE: &str = "
INSERT INTO sources (id, name, kind, created_at) VALUES
  (1, 'Shopify customers', 'contacts', '2023-01-01'),
  (2, 'HubSpot', 'contacts', '2023-01-01'),
  (3, 'Shopify orders', 'orders', '2023-01-01'),
  (4, 'GA4', 'events', '2023-01-01');
INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at) VALUES
  (1, 1, 'customers.csv', '/in/customers.csv', 10, 'h1', 'contacts', '[]', '{}', '2023-06-01T00:00:00Z', '2023-06-01T00:01:00Z'),
  (2, 2, 'hubspot.csv', '/in/hubspot.csv', 10, 'h2', 'contacts', '[]', '{}', '2023-07-01T00:00:00Z', '2023-07-01T00:01:00Z'),
  (3, 3, 'orders.csv', '/in/orders.csv', 10, 'h3', 'orders', '[]', '{}', '2023-08-01T00:00:00Z', '2023-08-01T00:01:00Z'),
  (4, 4, 'ga4.csv', '/in/ga4.csv', 10, 'h4', 'events', '[]', '{}', '2023-09-01T00:00:00Z', '2023-09-01T00:01:00Z');

INSERT INTO contacts (id, source_id, source_key, import_id, row_number, row_hash,
                      first_name, last_name, full_name, email, phone, city, country, created_at, updated_at) VALUES
  (1, 1, 'C-1', 1, 1, 0, 'Zoë', 'Müller', NULL, 'zoe@old.de', '+447700900123', 'Berlin', 'DE', NULL, '2024-01-01T00:00:00Z'),
  (2, 2, 'H-9', 2, 1, 0, 'Zoe', 'Müller', NULL, 'zoe@new.de', NULL, 'Hamburg', NULL, '2023-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
  (3, 1, 'C-2', 1, 2, 0, 'Zoë', 'Müller', NULL, '', '  ', '', NULL, NULL, '2025-01-01T00:00:00Z'),
  (4, 2, 'H-11', 2, 2, 0, NULL, NULL, 'Zoë Müller', NULL, NULL, 'berlin', NULL, NULL, '2022-01-01T00:00:00Z'),
  (5, 2, 'H-10', 2, 3, 0, 'Jean-Luc', 'Picard', NULL, 'jl@starfleet.fr', '+33612345678', 'La Barre', 'FR', NULL, NULL),
  (6, 1, 'C-77', 1, 3, 0, 'Jean-Luc', 'Picard', NULL, NULL, NULL, 'Paris', 'FR', '2020-05-01T00:00:00Z', NULL);

INSERT INTO orders (id, source_id, source_key, import_id, row_number, row_hash, customer_key, email, ordered_at,
                    currency, total, billing_name, billing_city, billing_country) VALUES
  (1, 3, '1001', 3, 1, 0, 'C-1', 'zoe@shop.de', '2026-03-01T10:00:00Z', 'EUR', 5990, 'Zoë Müller', NULL, 'DE'),
  (2, 3, '1002', 3, 2, 0, 'C-1', NULL, NULL, 'EUR', 100, NULL, NULL, NULL);
INSERT INTO order_lines (source_id, source_key, import_id, row_number, row_hash, order_key, line_number, sku, quantity) VALUES
  (3, '1001/1', 3, 1, 0, '1001', 1, 'MUG', 2),
  (3, '1001/2', 3, 2, 0, '1001', 2, 'TEA', 1),
  (3, '10011/1', 3, 3, 0, '10011', 1, 'NOT-OURS', 5);

INSERT INTO events (source_id, source_key, import_id, row_number, row_hash, customer_key, anonymous_id, name, occurred_at, sku, value, currency) VALUES
  (4, 'e1', 4, 1, 0, NULL, 'dev-1', 'page_view', '2026-02-01T00:00:00Z', NULL, NULL, NULL),
  (4, 'e2', 4, 2, 0, 'C-2', 'dev-2', 'add_to_cart', '2026-04-01T00:00:00Z', 'MUG', 1290, 'EUR'),
  (4, 'e3', 4, 3, 0, 'C-1', 'dev-1', 'purchase', '2026-03-01T10:00:05Z', NULL, 5990, 'EUR'),
  (4, 'e4', 4, 4, 0, NULL, 'dev-x', 'page_view', '2026-05-01T00:00:00Z', NULL, NULL, NULL);

INSERT INTO identity_records (id, kind, source_id, source_key, row_id, fingerprint, profile_id) VALUES
  (1, 'contact', 1, 'C-1', 1, 0, 7),
  (2, 'contact', 2, 'H-9', 2, 0, 7),
  (3, 'contact', 1, 'C-2', 3, 0, 7),
  (4, 'contact', 2, 'H-11', 4, 0, 7),
  (5, 'order', 3, '1001', 1, 0, 7),
  (6, 'device', 4, 'dev-1', NULL, 0, 7),
  (7, 'order', 3, '1002', 2, 0, 7),
  (9, 'contact', 2, 'H-10', 5, 0, 8),
  (10, 'contact', 1, 'C-77', 6, 0, 8),
  (11, 'device', 4, 'dev-x', NULL, 0, NULL);

INSERT INTO identifiers (kind, value, record_id) VALUES
  ('email', 'zoe@old.de', 1), ('phone', '+447700900123', 1), ('customer_id', 'C-1', 1),
  ('email', 'zoe@new.de', 2), ('customer_id', 'H-9', 2),
  ('customer_id', 'C-2', 3), ('loyalty_id', 'LOY-42', 3),
  ('customer_id', 'H-11', 4),
  ('email', 'zoe@shop.de', 5), ('customer_id', 'C-1', 5), ('customer_id', 'C-1', 7),
  ('device_id', 'dev-1', 6), ('customer_id', 'C-1', 6),
  ('email', 'jl@starfleet.fr', 9), ('phone', '+33612345678', 9), ('customer_id', 'H-10', 9),
  ('customer_id', 'C-77', 10);

INSERT INTO profile_links (record_a, record_b, reason, detail, weight) VALUES
  (1, 5, 'customer_id', 'C-1', NULL),
  (1, 2, 'match', '0.998', 14.5),
  (1, 6, 'device_id', 'dev-1', NULL),
  (2, 9, 'match', '0.91', 8.0);
";

fn workspace() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open(dir.path().join("ws.cohort")).unwrap();
    ws.conn().execute_batch(FIXTURE).unwrap();
    (dir, ws)
}

/// A profile's stored columns by name.
fn profile(c: &Connection, id: i64) -> Option<BTreeMap<String, String>> {
    let mut st = c.prepare("SELECT * FROM profiles WHERE id = ?1").unwrap();
    let names: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
    let mut rows = st.query([id]).unwrap();
    let row = rows.next().unwrap()?;
    let mut out = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        let v: rusqlite::types::Value = row.get(i).unwrap();
        match v {
            rusqlite::types::Value::Text(t) => out.insert(n.clone(), t),
            rusqlite::types::Value::Integer(x) => out.insert(n.clone(), x.to_string()),
            _ => None,
        };
    }
    Some(out)
}

fn origins(p: &BTreeMap<String, String>) -> BTreeMap<String, i64> {
    serde_json::from_str(&p["origins"]).unwrap()
}

fn found(c: &Connection, query: &str) -> Vec<i64> {
    search(c, query, 20, 0)
        .unwrap_or_else(|e| panic!("query {query:?} failed: {e}"))
        .profiles
        .iter()
        .map(|p| p.id)
        .collect()
}

#[test]
fn default_rules_pick_the_most_recent_value_and_the_most_common_name() {
    let (_d, ws) = workspace();
    let c = ws.conn();
    let report = rebuild(c, Scope::All, "2026-11-01T00:00:00Z", &mut Silent).unwrap();
    assert_eq!(
        report,
        RebuildReport {
            written: 2,
            deleted: 0,
            records: 9
        }
    );
    let p = profile(c, 7).unwrap();
    // Zoë: records 1, 3, 4 (split from the full name) and the order; Zoe once.
    assert_eq!(p["first_name"], "Zoë");
    assert_eq!(p["last_name"], "Müller");
    // The order (2026-03-01) is the newest record with an email.
    assert_eq!(p["email"], "zoe@shop.de");
    // Record 3 is newer than record 1 but its phone is blank.
    assert_eq!(p["phone"], "+447700900123");
    // The order has no billing city; record 3's is empty; HubSpot's is newest.
    assert_eq!(p["city"], "Hamburg");
    assert_eq!(p["country"], "DE");
    assert_eq!(p["records"], "7");
    assert_eq!(p["first_seen"], "2022-01-01T00:00:00Z");
    assert_eq!(p["last_seen"], "2026-03-01T10:00:00Z");
    assert_eq!(p["created_at"], "2026-11-01T00:00:00Z");
    let o = origins(&p);
    // Among the equal spellings, the newest record: the order.
    assert_eq!(o["first_name"], 5);
    assert_eq!(o["email"], 5);
    assert_eq!(o["phone"], 1);
    assert_eq!(o["city"], 2);
    assert_eq!(o["country"], 5);
    assert!(!o.contains_key("birth_date"));

    // A contact without dates is dated by its import.
    let p = profile(c, 8).unwrap();
    assert_eq!(p["last_seen"], "2023-07-01T00:01:00Z");
    assert_eq!(p["first_seen"], "2020-05-01T00:00:00Z");
    assert_eq!(p["city"], "La Barre");
    assert!(
        profile(c, 11).is_none(),
        "unresolved records make no profile"
    );
}

#[test]
fn source_priority_and_most_frequent_rules_override_recency() {
    let (_d, ws) = workspace();
    let c = ws.conn();
    let mut rules = SurvivorshipRules::default();
    rules.fields.insert("email".into(), Rule::SourcePriority);
    rules.fields.insert("city".into(), Rule::MostFrequent);
    rules.source_priority = vec!["HubSpot".into(), "Shopify customers".into()];
    set_rules(c, &rules).unwrap();
    assert_eq!(super::rules(c).unwrap(), rules);
    rebuild(c, Scope::All, "2026-11-01", &mut Silent).unwrap();
    let p = profile(c, 7).unwrap();
    assert_eq!(p["email"], "zoe@new.de");
    assert_eq!(origins(&p)["email"], 2);
    // Berlin twice (case ignored) beats the newer Hamburg; of the two, the
    // better source (HubSpot's "berlin") gives the spelling.
    assert_eq!(p["city"], "berlin");
    assert_eq!(origins(&p)["city"], 4);

    // Shopify first: record 3 (Shopify, newest) has an empty email, so
    // record 1 wins.
    rules.source_priority = vec!["shopify customers".into()];
    set_rules(c, &rules).unwrap();
    rebuild(c, Scope::All, "2026-11-02", &mut Silent).unwrap();
    let p = profile(c, 7).unwrap();
    assert_eq!(
        (p["email"].as_str(), origins(&p)["email"]),
        ("zoe@old.de", 1)
    );
    assert_eq!(
        p["created_at"], "2026-11-01",
        "created_at survives a rebuild"
    );
    assert_eq!(p["updated_at"], "2026-11-02");
}

#[test]
fn bad_rules_are_refused_with_the_field_named() {
    let (_d, ws) = workspace();
    let c = ws.conn();
    let mut bad = SurvivorshipRules::default();
    bad.fields.insert("shoe_size".into(), Rule::MostRecent);
    let e = set_rules(c, &bad).unwrap_err();
    assert!(matches!(&e, ProfileError::UnknownField { field } if field == "shoe_size"));
    assert!(e.to_string().contains("`shoe_size`"), "{e}");

    c.execute(
        "INSERT INTO settings (key, value) VALUES ('survivorship', '{\"default\":\"newest\"}')",
        [],
    )
    .unwrap();
    let e = rebuild(c, Scope::All, "now", &mut Silent).unwrap_err();
    assert_eq!(e.code(), "survivorship_rules", "{e}");
    c.execute(
        "UPDATE settings SET value = '{\"default\":\"most_recent\",\"fields\":{\"hair\":\"most_frequent\"}}'",
        [],
    )
    .unwrap();
    assert!(super::rules(c).unwrap_err().to_string().contains("`hair`"));
}

#[test]
fn scoped_rebuild_touches_only_its_profiles_and_deletes_the_emptied() {
    let (_d, ws) = workspace();
    let c = ws.conn();
    rebuild(c, Scope::All, "day 1", &mut Silent).unwrap();
    c.execute_batch(
        "UPDATE contacts SET city = 'Marseille', updated_at = '2027-01-01' WHERE id = 6;
         UPDATE contacts SET city = 'Köln', updated_at = '2027-01-01' WHERE id = 1;",
    )
    .unwrap();
    rebuild(c, Scope::Profiles(&[8, 8]), "day 2", &mut Silent).unwrap();
    let (zoe, jl) = (profile(c, 7).unwrap(), profile(c, 8).unwrap());
    assert_eq!(
        (zoe["city"].as_str(), zoe["updated_at"].as_str()),
        ("Hamburg", "day 1")
    );
    assert_eq!(
        (jl["city"].as_str(), jl["updated_at"].as_str()),
        ("Marseille", "day 2")
    );
    assert_eq!(jl["created_at"], "day 1");

    // Jean-Luc's records move to a new profile 20: 8 goes, 20 comes.
    c.execute(
        "UPDATE identity_records SET profile_id = 20 WHERE profile_id = 8",
        [],
    )
    .unwrap();
    let report = rebuild(c, Scope::Profiles(&[8, 20]), "day 3", &mut Silent).unwrap();
    assert_eq!((report.written, report.deleted, report.records), (1, 1, 2));
    assert!(profile(c, 8).is_none());
    assert_eq!(profile(c, 20).unwrap()["created_at"], "day 3");
    assert_eq!(found(c, "picard"), vec![20]);
    assert_eq!(found(c, "starfleet"), vec![20]);

    // A full rebuild drops profiles left without records too.
    c.execute(
        "UPDATE identity_records SET profile_id = NULL WHERE profile_id = 20",
        [],
    )
    .unwrap();
    let report = rebuild(c, Scope::All, "day 4", &mut Silent).unwrap();
    assert_eq!((report.written, report.deleted), (1, 1));
    assert!(profile(c, 20).is_none());
    assert!(found(c, "picard").is_empty());
    assert_eq!(profile(c, 7).unwrap()["created_at"], "day 1");
    assert_eq!(search(c, "", 10, 0).unwrap().total, 1);
    assert_eq!(
        rebuild(c, Scope::Profiles(&[]), "day 5", &mut Silent).unwrap(),
        RebuildReport::default()
    );
}

#[test]
fn search_finds_names_emails_phones_and_ids() {
    let (_d, ws) = workspace();
    let c = ws.conn();
    rebuild(c, Scope::All, "now", &mut Silent).unwrap();
    for (query, expect) in [
        ("zo", vec![7]),
        ("Zoë Mül", vec![7]),
        ("muller", vec![7]), // diacritics removed on both sides
        ("ZOE MULLER", vec![7]),
        ("jean-luc", vec![8]),
        ("jean luc pic", vec![8]),
        ("zoe@new.de", vec![7]),
        ("zoe@shop", vec![7]),
        ("starfleet.fr", vec![8]),
        ("07700 900123", vec![7]),
        ("07700-900-123", vec![7]),
        ("+44 7700 900123", vec![7]),
        ("0044 (0)7700 900123", vec![7]), // by its last ten digits
        ("447700900123", vec![7]),
        ("7700 900", vec![7]),
        ("06 12 34 56 78", vec![8]),
        ("+33 6 12 34 56 78", vec![8]),
        ("0900123", vec![7]), // a local number: the last seven digits
        ("900123", vec![]),   // tails are matched from their start
        ("H-9", vec![7]),
        ("C-2", vec![7]),
        ("c-77", vec![8]),
        ("LOY-42", vec![7]),
        ("dev-1", vec![]), // device ids are not customer ids
        ("nobody", vec![]),
        ("zoe picard", vec![]),
    ] {
        assert_eq!(found(c, query), expect, "query {query:?}");
    }
    let all = search(c, "", 1, 1).unwrap();
    assert_eq!(all.total, 2);
    assert_eq!(all.profiles.len(), 1);
    let p = &all.profiles[0];
    assert_eq!(p.id, 8);
    assert_eq!(p.name.as_deref(), Some("Jean-Luc Picard"));
    assert_eq!((p.records, p.country.as_deref()), (2, Some("FR")));
    let hit = search(c, "müller", 10, 0).unwrap();
    assert_eq!(
        (hit.total, hit.profiles[0].email.as_deref()),
        (1, Some("zoe@shop.de"))
    );
}

#[test]
fn search_text_cannot_break_the_query() {
    let (_d, ws) = workspace();
    let c = ws.conn();
    rebuild(c, Scope::All, "now", &mut Silent).unwrap();
    for q in [
        "\"",
        "\"\"",
        "(",
        ")",
        "OR",
        "zoe OR",
        "AND zoe",
        "NOT",
        "a AND",
        "*",
        "zoe*",
        "zoe\" OR \"x",
        "NEAR(zoe picard)",
        "name: zoe",
        "{name email}: zoe",
        "-zoe",
        "^zoe",
        "+",
        "💥",
        "ー",
        "' OR 1=1 --",
        "zoe'); DROP TABLE profiles; --",
    ] {
        search(c, q, 10, 0).unwrap_or_else(|e| panic!("query {q:?} failed: {e}"));
    }
    assert_eq!(found(c, "zoe*"), vec![7]);
    assert_eq!(found(c, "(zoe)"), vec![7]);
    assert!(
        found(c, "name: zoe").is_empty(),
        "`name:` is a word, not a column"
    );
    assert!(profile(c, 7).is_some());
}

#[test]
fn detail_gathers_values_records_identities_links_and_timeline() {
    let (_d, ws) = workspace();
    let c = ws.conn();
    rebuild(c, Scope::All, "2026-11-01", &mut Silent).unwrap();
    assert!(detail(c, 99, 10).unwrap().is_none());
    let d = detail(c, 7, 10).unwrap().unwrap();
    assert_eq!(d.name.as_deref(), Some("Zoë Müller"));
    let email = d.values.iter().find(|v| v.field == "email").unwrap();
    assert_eq!(
        (
            email.value.as_str(),
            email.record_id,
            email.source.as_str(),
            email.kind.as_str(),
            email.source_key.as_str()
        ),
        ("zoe@shop.de", 5, "Shopify orders", "order", "1001")
    );
    assert_eq!(d.values[0].field, "first_name", "values in field order");

    let ids: Vec<i64> = d.records.iter().map(|r| r.record_id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5, 6, 7]);
    let first = &d.records[0];
    assert_eq!(
        first.summary,
        "Zoë Müller · zoe@old.de · +447700900123 · Berlin"
    );
    assert!(first.fields.contains(&("city".into(), "Berlin".into())));
    let order = &d.records[4];
    assert_eq!(
        (order.kind.as_str(), order.source.as_str()),
        ("order", "Shopify orders")
    );
    assert!(order.fields.contains(&("total".into(), "59.90".into())));
    assert_eq!(d.records[5].summary, "Device dev-1");
    assert!(d.records[5].fields.is_empty());

    let c1 = d
        .identities
        .iter()
        .find(|i| i.kind == "customer_id" && i.value == "C-1")
        .unwrap();
    assert_eq!(c1.records, 4);
    assert!(d
        .identities
        .iter()
        .any(|i| i.kind == "loyalty_id" && i.value == "LOY-42"));

    // The link to Jean-Luc's record is left out: it is not this person's.
    let links: Vec<(i64, i64, &str)> = d
        .links
        .iter()
        .map(|l| (l.record_a, l.record_b, l.reason.as_str()))
        .collect();
    assert_eq!(
        links,
        vec![(1, 5, "customer_id"), (1, 2, "match"), (1, 6, "device_id")]
    );
    assert_eq!(d.links[1].weight, Some(14.5));

    // Events through the device (e1, e3) and the contact key C-2 (e2); e3
    // matches both ways and counts once; e4 is another device's.
    assert_eq!((d.orders, d.events), (2, 3));
    let timeline: Vec<(&str, &str)> = d
        .timeline
        .iter()
        .map(|t| (t.at.as_str(), t.kind.as_str()))
        .collect();
    assert_eq!(
        timeline,
        vec![
            ("2026-04-01T00:00:00Z", "add_to_cart"),
            ("2026-03-01T10:00:05Z", "purchase"),
            ("2026-03-01T10:00:00Z", "order"),
            ("2026-02-01T00:00:00Z", "page_view"),
        ]
    );
    let order = &d.timeline[2];
    assert_eq!(order.title, "Order 1001");
    assert_eq!((order.items, order.total), (Some(3), Some(5990)));
    assert_eq!(order.detail.as_deref(), Some("59.90 EUR · 3 items"));
    assert_eq!(d.timeline[0].detail.as_deref(), Some("MUG · 12.90 EUR"));

    let short = detail(c, 7, 2).unwrap().unwrap();
    assert_eq!(short.timeline.len(), 2);
    assert_eq!(short.timeline[1].kind, "purchase");
    assert_eq!((short.orders, short.events), (2, 3));

    let view = record_view(c, 11).unwrap().unwrap();
    assert_eq!((view.profile_id, view.kind.as_str()), (None, "device"));
    assert!(record_view(c, 404).unwrap().is_none());
}

/// Cancels at the first tick.
struct Impatient(u32);

impl crate::progress::Progress for Impatient {
    fn tick(&mut self, _tick: &Tick<'_>) {
        self.0 += 1;
    }
    fn is_cancelled(&self) -> bool {
        self.0 > 0
    }
}

#[test]
fn a_cancelled_rebuild_stops_with_cancelled() {
    let (_d, ws) = workspace();
    let c = ws.conn();
    c.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM n WHERE i < 11000)
         INSERT INTO identity_records (id, kind, source_id, source_key, row_id, fingerprint, profile_id)
         SELECT i, 'device', 4, 'd' || i, NULL, 0, i FROM n",
        [],
    )
    .unwrap();
    let mut progress = Impatient(0);
    let e = rebuild(c, Scope::All, "now", &mut progress).unwrap_err();
    assert_eq!(e.code(), "cancelled");
    assert_eq!(progress.0, 1);
    let report = rebuild(c, Scope::All, "now", &mut Silent).unwrap();
    assert_eq!(report.written, 2 + 10_001);
}
