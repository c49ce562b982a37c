//! The same file twice is skipped; an updated export upserts by source key.

use cohort::ingest::ImportOptions;

use crate::support::{contact, count, import, import_with, now, Scratch};

#[test]
fn same_file_is_skipped_unless_forced() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    let f = s.write("a.csv", "email,first name\nann@example.com,Ann\n");
    let first = import(&mut ws, &f);
    let again = import(&mut ws, &f);
    assert_eq!(again.duplicate_of, first.import_id);
    assert_eq!(again.import_id, None);
    assert_eq!(count(&ws, "SELECT count(*) FROM imports"), 1);
    let mut o = ImportOptions::new(now());
    o.force = true;
    let forced = import_with(&mut ws, &f, o);
    assert!(forced.import_id.is_some());
    assert_eq!(forced.tables[0].unchanged, 1);
    assert_eq!(count(&ws, "SELECT count(*) FROM contacts"), 1);
}

#[test]
fn an_updated_export_adds_new_rows_updates_changed_ones_and_counts_them() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    let v1 = s.write("hubspot_v1.csv", "Record ID,First Name,Last Name,Email,Contact owner,Lifecycle Stage,Create Date,Last Activity Date\n1,Ann,Lee,ann@example.com,,lead,2024-01-01,\n2,Bob,Ng,bob@example.com,,lead,2024-01-02,\n3,Cy,Ho,cy@example.com,,lead,2024-01-03,\n");
    let v2 = s.write("hubspot_v2.csv", "Record ID,First Name,Last Name,Email,Contact owner,Lifecycle Stage,Create Date,Last Activity Date\n1,Ann,Lee,ann@example.com,,lead,2024-01-01,\n2,Bob,Ng,bob@newmail.com,,customer,2024-01-02,\n3,Cy,Ho,cy@example.com,,lead,2024-01-03,\n4,Di,Ma,di@example.com,,lead,2024-01-04,\n");
    let r1 = import(&mut ws, &v1);
    assert_eq!(
        (
            r1.tables[0].inserted,
            r1.tables[0].updated,
            r1.tables[0].unchanged
        ),
        (3, 0, 0)
    );
    let r2 = import(&mut ws, &v2);
    assert_eq!(r1.source, r2.source);
    assert_eq!(
        (
            r2.tables[0].inserted,
            r2.tables[0].updated,
            r2.tables[0].unchanged
        ),
        (1, 1, 2)
    );
    assert_eq!(count(&ws, "SELECT count(*) FROM contacts"), 4);
    assert_eq!(
        contact(&ws, "2", "email").as_deref(),
        Some("bob@newmail.com")
    );
    let import_of_1: i64 = ws
        .conn()
        .query_row(
            "SELECT import_id FROM contacts WHERE source_key = '1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        Some(import_of_1),
        r1.import_id,
        "unchanged rows keep the import they came from"
    );
}
