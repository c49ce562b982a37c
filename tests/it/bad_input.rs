//! Files that are not CSV fail with a clear error and write nothing; bad rows
//! are rejected with row, column, value and reason; cancelling leaves nothing.

use cohort::ingest::{self, ImportErrorKind, ImportOptions};
use cohort::progress::{CancelToken, Cancellable, Silent};

use crate::support::{count, dump, import, now, Scratch};

fn seeded(s: &Scratch) -> cohort::store::Workspace {
    let mut ws = s.workspace();
    let f = s.write("seed.csv", "email,first name\nseed@example.com,Seed\n");
    import(&mut ws, &f);
    ws
}

#[test]
fn not_csv_files_fail_clearly_and_change_nothing() {
    let s = Scratch::new();
    let mut ws = seeded(&s);
    let before = dump(&ws);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.csv", vec![], "empty_file"),
        ("blank.csv", b"\n\n  \n".to_vec(), "empty_file"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0\x5c\x72\xa8\x66\0\0\0\x04sBIT".to_vec(), "not_csv"),
        ("noheader.csv", b"ann@example.com,Ann,Lee,2024-01-01\nbob@example.com,Bob,Ng,2024-01-02\n".to_vec(), "no_header"),
        ("unknown.csv", b"foo,bar\n1,2\n".to_vec(), "unknown_kind"),
    ];
    for (name, bytes, code) in cases {
        let f = s.write(name, &bytes);
        let e = ingest::import(&mut ws, &f, &ImportOptions::new(now()), &mut Silent).unwrap_err();
        assert_eq!(e.code(), code, "{name}: {e}");
        assert!(e.to_string().contains(name), "error names the file: {e}");
        assert_eq!(dump(&ws), before, "{name} changed the workspace");
    }
    let missing = s.path("does-not-exist.csv");
    let e = ingest::import(&mut ws, &missing, &ImportOptions::new(now()), &mut Silent).unwrap_err();
    assert!(matches!(e.kind(), ImportErrorKind::Io(_)), "{e}");
    assert_eq!(dump(&ws), before);
}

#[test]
fn mapping_mistakes_fail_before_anything_is_written() {
    let s = Scratch::new();
    let mut ws = seeded(&s);
    let before = dump(&ws);
    let f = s.write("people.csv", "email,name\na@example.com,Ann\n");
    let try_with = |ws: &mut cohort::store::Workspace, o: ImportOptions| {
        ingest::import(ws, &f, &o, &mut Silent).unwrap_err()
    };
    let mut o = ImportOptions::new(now());
    o.overrides = vec![("nope".into(), "email".into())];
    assert_eq!(try_with(&mut ws, o).code(), "unknown_column");
    let mut o = ImportOptions::new(now());
    o.overrides = vec![("name".into(), "shoe_size".into())];
    let e = try_with(&mut ws, o);
    assert_eq!(e.code(), "unknown_field");
    assert!(
        e.to_string().contains("`name`") && e.to_string().contains("shoe_size"),
        "{e}"
    );
    let mut o = ImportOptions::new(now());
    o.preset = Some("myspace_friends".into());
    assert_eq!(try_with(&mut ws, o).code(), "unknown_preset");
    let mut o = ImportOptions::new(now());
    o.kind = Some(ingest::Kind::Products);
    let e = try_with(&mut ws, o);
    assert_eq!(e.code(), "missing_field", "{e}");
    assert_eq!(dump(&ws), before);
}

#[test]
fn bad_rows_are_rejected_with_row_column_value_and_reason() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    let f = s.write(
        "orders.csv",
        // Excel pads every row to the header's trailing empty cells.
        "order_id,email,order_date,total,currency,,\n\
         A1,ann@example.com,2024-03-01,10.00,USD,,\n\
         ,nobody@example.com,2024-03-01,1.00,USD,,\n\
         A3,bob@,2024-03-02,12,USD,,\n\
         A4,cy@example.com,2024-03-03,\"12,5O\",USD,,\n\
         A5,dee@example.com,2024-03-04,1.00,USD,surprise,\n\
         A6,eve@example.com,not a date,2.00,USD,,\n\
         A7,fay@example.com,2024-03-05,3.00,USD\n\
         A8,Smith, Jr.,2024-03-05,3.00,USD,,\n",
    );
    let r = import(&mut ws, &f);
    assert_eq!(r.rows_read, 8);
    assert_eq!(
        r.rows_rejected, 3,
        "missing key and wrong field counts: {:?}",
        r.rejected_by_reason
    );
    assert_eq!(r.tables[0].inserted, 5);
    let (rejects, total) = ingest::rejected_rows(&ws, r.import_id.unwrap(), 100, 0).unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        (rejects[0].row, rejects[0].code.as_str()),
        (3, "missing_field")
    );
    assert_eq!(
        (rejects[1].row, rejects[1].code.as_str()),
        (6, "field_count")
    );
    // An unquoted comma shifts the row: 8 fields where the header has 7.
    assert_eq!(
        (rejects[2].row, rejects[2].code.as_str()),
        (9, "field_count")
    );
    assert!(
        rejects[2].reason.contains("8 fields") && rejects[2].reason.contains("7"),
        "{}",
        rejects[2].reason
    );
    // Values that cannot be standardised keep the row, flag the value and keep it raw.
    let (flags, _) = ingest::value_warnings(&ws, r.import_id.unwrap(), 100, 0).unwrap();
    let by_row = |row: u64| {
        flags
            .iter()
            .find(|p| p.row == row)
            .unwrap_or_else(|| panic!("no flag on row {row}: {flags:?}"))
    };
    assert_eq!(
        (
            by_row(4).column.as_deref(),
            by_row(4).value.as_deref(),
            by_row(4).code.as_str()
        ),
        (Some("email"), Some("bob@"), "email_syntax")
    );
    assert_eq!(
        (by_row(5).column.as_deref(), by_row(5).value.as_deref()),
        (Some("total"), Some("12,5O"))
    );
    assert_eq!(by_row(7).column.as_deref(), Some("order_date"));
    let (total_a4, raw_a4): (Option<i64>, String) = ws
        .conn()
        .query_row(
            "SELECT total, raw FROM orders WHERE source_key = 'A4'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(total_a4, None);
    assert!(raw_a4.contains("12,5O"), "{raw_a4}");
    // Counts per reason in the report.
    assert!(r
        .rejected_by_reason
        .iter()
        .any(|c| c.code == "field_count" && c.count == 2));
    assert!(r
        .flagged_by_reason
        .iter()
        .any(|c| c.code == "email_syntax" && c.count == 1));
}

#[test]
fn cancelling_an_import_leaves_the_workspace_as_it_was() {
    let s = Scratch::new();
    let mut ws = seeded(&s);
    let before = dump(&ws);
    let mut body = String::from("email,first name\n");
    for i in 0..20_000 {
        body.push_str(&format!("person{i}@example.com,Name{i}\n"));
    }
    let f = s.write("big.csv", body);
    let token = CancelToken::new();
    struct CancelAfterFirstTick(Cancellable<Silent>);
    impl cohort::progress::Progress for CancelAfterFirstTick {
        fn tick(&mut self, t: &cohort::progress::Tick<'_>) {
            if t.done > 0 {
                self.0.token.cancel();
            }
        }
        fn is_cancelled(&self) -> bool {
            self.0.is_cancelled()
        }
    }
    let mut p = CancelAfterFirstTick(Cancellable {
        inner: Silent,
        token: token.clone(),
    });
    let e = ingest::import(&mut ws, &f, &ImportOptions::new(now()), &mut p).unwrap_err();
    assert_eq!(e.code(), "cancelled");
    assert!(token.is_cancelled());
    assert_eq!(dump(&ws), before);
    assert_eq!(count(&ws, "SELECT count(*) FROM contacts"), 1);
}

#[test]
fn an_unparsable_required_field_rejects_the_row() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    let f = s.write(
        "events.csv",
        "timestamp,event,user_id\n2024-03-05T10:00:00Z,page_view,C1\nyesterday-ish,page_view,C2\n2024-03-05T10:01:00Z,,C3\n",
    );
    let r = import(&mut ws, &f);
    assert_eq!((r.rows_read, r.rows_rejected), (3, 2));
    let (rejects, _) = ingest::rejected_rows(&ws, r.import_id.unwrap(), 10, 0).unwrap();
    assert_eq!(
        (
            rejects[0].row,
            rejects[0].column.as_deref(),
            rejects[0].value.as_deref()
        ),
        (3, Some("timestamp"), Some("yesterday-ish"))
    );
    assert_eq!(rejects[0].code, "date_syntax");
    assert_eq!(
        (rejects[1].row, rejects[1].code.as_str()),
        (4, "missing_field")
    );
    assert_eq!(count(&ws, "SELECT count(*) FROM events"), 1);
}
