//! Survivorship, search and detail over a hand-made workspace.

use rusqlite::params;

use super::*;
use crate::progress::Silent;
use crate::store::Workspace;

/// A workspace with two sources and a profile of three contact records.
fn workspace() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open(dir.path().join("ws.cohort")).unwrap();
    let c = ws.conn();
    c.execute_batch(
        "INSERT INTO sources (id, name, kind, created_at) VALUES (1, 'Shop', 'contacts', 'x'), (2, 'CRM', 'contacts', 'x');
         INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at)
           VALUES (1, 1, 'a.csv', 'a.csv', 1, 'h', 'contacts', '[]', '{}', 'x', 'x');",
    )
    .unwrap();
    let contact = |id: i64,
                   source: i64,
                   key: &str,
                   first: &str,
                   last: &str,
                   email: &str,
                   phone: Option<&str>,
                   city: &str,
                   updated: &str| {
        c.execute(
            "INSERT INTO contacts (id, source_id, source_key, import_id, row_number, row_hash, first_name, last_name, email, phone, city, updated_at)
             VALUES (?1, ?2, ?3, 1, ?1, 0, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![id, source, key, first, last, email, phone, city, updated],
        )
        .unwrap();
        c.execute(
            "INSERT INTO identity_records (id, kind, source_id, source_key, row_id, fingerprint, profile_id) VALUES (?1, 'contact', ?2, ?3, ?1, 0, 7)",
            params![id, source, key],
        )
        .unwrap();
    };
    contact(
        1,
        1,
        "C-1",
        "Zoë",
        "Müller",
        "zoe@old.de",
        Some("+447700900123"),
        "Berlin",
        "2024-01-01",
    );
    contact(
        2,
        2,
        "H-9",
        "Zoe",
        "Müller",
        "zoe@new.de",
        None,
        "Hamburg",
        "2026-01-01",
    );
    contact(3, 1, "C-2", "Zoë", "Müller", "", None, "", "2025-01-01");
    (dir, ws)
}

#[test]
fn survivorship_rules_choose_and_remember_origins() {
    let (_d, ws) = workspace();
    let c = ws.conn();
    rebuild(c, Scope::All, "2026-11-01", &mut Silent).unwrap();
    let (first, email, city, origins, records): (String, String, String, String, i64) = c
        .query_row(
            "SELECT first_name, email, city, origins, records FROM profiles WHERE id = 7",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(first, "Zoë", "most frequent spelling");
    assert_eq!(email, "zoe@new.de", "most recent non-empty email");
    assert_eq!(city, "Hamburg");
    assert_eq!(records, 3);
    let origins: std::collections::BTreeMap<String, i64> = serde_json::from_str(&origins).unwrap();
    assert_eq!(origins["email"], 2);
    assert_eq!(origins["phone"], 1, "the only phone, though older");

    // Source priority: the shop wins for email and city.
    let mut rules = SurvivorshipRules::default();
    rules.fields.insert("email".into(), Rule::SourcePriority);
    rules.fields.insert("city".into(), Rule::SourcePriority);
    rules.source_priority = vec!["Shop".into()];
    set_rules(c, &rules).unwrap();
    rebuild(c, Scope::Profiles(&[7]), "2026-11-02", &mut Silent).unwrap();
    let (email, city, created): (String, String, String) = c
        .query_row(
            "SELECT email, city, created_at FROM profiles WHERE id = 7",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((email.as_str(), city.as_str()), ("zoe@old.de", "Berlin"));
    assert_eq!(created, "2026-11-01", "created_at survives a rebuild");

    let mut bad = SurvivorshipRules::default();
    bad.fields.insert("shoe_size".into(), Rule::MostRecent);
    assert!(set_rules(c, &bad)
        .unwrap_err()
        .to_string()
        .contains("shoe_size"));
}

#[test]
fn search_finds_names_emails_phones_and_ids_safely() {
    let (_d, ws) = workspace();
    let c = ws.conn();
    rebuild(c, Scope::All, "2026-11-01", &mut Silent).unwrap();
    for q in [
        "mul",
        "Müller",
        "zoe",
        "zoe@new.de",
        "07700 900123",
        "+44 7700 900123",
        "C-2",
        "H-9",
    ] {
        let found = search(c, q, 10, 0).unwrap();
        assert_eq!(found.profiles.len(), 1, "query {q:?}");
        assert_eq!(found.profiles[0].id, 7);
    }
    for q in ["\"", "(", "OR", "a AND", "*", "zoe\" OR \"x", "NEAR("] {
        search(c, q, 10, 0).unwrap_or_else(|e| panic!("query {q:?} failed: {e}"));
    }
    assert!(search(c, "nobody", 10, 0).unwrap().profiles.is_empty());
    assert_eq!(search(c, "", 10, 0).unwrap().total, 1);
}

#[test]
fn a_profile_whose_records_left_is_deleted_and_detail_lists_everything() {
    let (_d, ws) = workspace();
    let c = ws.conn();
    rebuild(c, Scope::All, "2026-11-01", &mut Silent).unwrap();
    let d = detail(c, 7, 10).unwrap().unwrap();
    assert_eq!(d.records.len(), 3);
    assert!(d
        .values
        .iter()
        .any(|v| v.field == "email" && v.source == "CRM"));
    c.execute("UPDATE identity_records SET profile_id = 8", [])
        .unwrap();
    rebuild(c, Scope::Profiles(&[7, 8]), "2026-11-02", &mut Silent).unwrap();
    assert!(detail(c, 7, 10).unwrap().is_none());
    assert_eq!(search(c, "zoe", 10, 0).unwrap().profiles[0].id, 8);
}
