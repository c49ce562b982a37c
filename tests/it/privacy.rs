//! Erasing and exporting a person through the real `cohort` binary and the
//! real SQLite file: after an erasure the raw bytes of the workspace, its
//! WAL and journal hold nothing of the person; re-importing an old export
//! does not bring them back; the audit log says what happened without
//! saying who.

use std::path::Path;
use std::process::Command;

use crate::support::Scratch;

/// Runs `cohort --workspace WS --json ARGS`, asserts success, returns the
/// JSON document printed last (progress lines may precede it).
fn cohort(ws: &Path, args: &[&str]) -> serde_json::Value {
    try_cohort(ws, args).unwrap_or_else(|e| panic!("cohort {args:?}: {e}"))
}

fn try_cohort(ws: &Path, args: &[&str]) -> Result<serde_json::Value, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        // The desktop app's data folder (its scratch folder is scanned by
        // an erasure) is the test's own.
        .env("COHORT_DATA_DIR", data_dir(Path::new(&ws)))
        .arg("--workspace")
        .arg(ws)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!("{}{stdout}", String::from_utf8_lossy(&out.stderr)));
    }
    let start = stdout.find(['{', '[']).unwrap_or(0);
    serde_json::from_str(&stdout[start..]).map_err(|e| format!("{e}: {stdout}"))
}

/// The data folder the commands use (`COHORT_DATA_DIR`), beside `ws`.
fn data_dir(ws: &Path) -> std::path::PathBuf {
    ws.parent().unwrap().join("data")
}

const EMAIL: &str = "zebedee.quarrington@gmail.com";

// Zebedee Quarrington (an unusual name, so a byte search means something)
// is in the customers file twice over: a good row and a row with a stray
// field, which is rejected and kept in rejected_rows with its text.
const CUSTOMERS: &str = "\
Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Phone,Total Spent,Total Orders,Tax Exempt
c1,Anna,Smith,anna.smith@gmail.com,yes,(212) 736-5000,100.00,1,no
c2,Zebedee,Quarrington,Zebedee.Quarrington@Gmail.com,yes,(646) 391-7788,320.00,2,no
c3,Ben,Jones,ben.jones@gmail.com,no,,0.00,0,no
c9,Zebedee,Quarrington,zebedee.quarrington@gmail.com,yes,(646) 391-7788,0.00,0,no,stray
";

const ORDERS: &str = "\
Name,Email,Financial Status,Currency,Subtotal,Total,Discount Code,Discount Amount,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Refunded Amount,Vendor,Cancelled at,Billing Name
#2001,zebedee.quarrington@gmail.com,paid,USD,120.00,120.00,,0.00,2026-03-10 10:00:00 +0000,1,Trail shoe,120.00,SHOE-1,0.00,Kinetica,,Zebedee Quarrington
#2002,zebedee.quarrington@gmail.com,paid,USD,200.00,200.00,,0.00,2026-09-10 10:00:00 +0000,1,Tent,200.00,TENT-1,0.00,Cairn,,Zebedee Quarrington
#2003,anna.smith@gmail.com,paid,USD,100.00,100.00,,0.00,2026-08-01 10:00:00 +0000,1,Tent,100.00,TENT-1,0.00,Cairn,,Anna Smith
";

const PRODUCTS: &str = "\
sku,title,category,brand,price,currency,in_stock
SHOE-1,Trail shoe,Running Shoes,Kinetica,120.00,USD,true
TENT-1,Tent,Tents,Cairn,300.00,USD,true
";

// Zebedee's device logs in with his customer id (c2).
const EVENTS: &str = "\
event_date,event_timestamp,event_name,user_pseudo_id,user_id,ga_session_id,item_id,device_category,source_medium
20261030,1793354400000000,session_start,zq-device-77,c2,11,,mobile,email
20261030,1793354460000000,view_item,zq-device-77,c2,11,TENT-1,mobile,email
20261030,1793354520000000,view_item,anna-device-1,c1,12,SHOE-1,desktop,organic
";

/// A workspace with the three people, resolved, with traits, a static
/// segment and a campaign (exported when the export works). Returns
/// (workspace, customers file, orders file, campaign exported).
fn business(
    s: &Scratch,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
    bool,
) {
    let ws = s.path("ws.cohort");
    let products = s.write("products.csv", PRODUCTS);
    let customers = s.write("customers_export.csv", CUSTOMERS);
    let orders = s.write("orders_export.csv", ORDERS);
    let events = s.write("events.csv", EVENTS);
    for f in [&products, &customers, &orders, &events] {
        cohort(&ws, &["import", f.to_str().unwrap()]);
    }
    cohort(&ws, &["resolve", "--full"]);
    cohort(&ws, &["traits", "compute"]);
    let rule = s.write(
        "rule.json",
        r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"orders","op":"gt","value":0}]}}"#,
    );
    cohort(
        &ws,
        &[
            "segment",
            "save",
            "Buyers",
            rule.to_str().unwrap(),
            "--static",
        ],
    );
    cohort(
        &ws,
        &[
            "campaign",
            "create",
            "Autumn",
            "--segment",
            "Buyers",
            "--holdout",
            "0",
        ],
    );
    // The campaign's recipients are one more place the person is named;
    // the export's own test lives in segments.rs, so a failing export is
    // reported there rather than here.
    let exported = try_cohort(
        &ws,
        &[
            "campaign",
            "export",
            "Autumn",
            "--format",
            "csv",
            "--out",
            s.path("autumn.csv").to_str().unwrap(),
        ],
    );
    if let Err(e) = &exported {
        eprintln!("campaign export failed, continuing without it: {e}");
    }
    (ws, customers, orders, exported.is_ok())
}

/// Every file under `dir` (recursively).
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn zebedee(ws: &Path) -> i64 {
    let w = cohort::store::Workspace::open(ws).unwrap();
    w.conn()
        .query_row("SELECT id FROM profiles WHERE email = ?1", [EMAIL], |r| {
            r.get(0)
        })
        .unwrap()
}

/// Where `needle` occurs in `bytes`, ignoring ASCII case.
fn find(bytes: &[u8], needle: &str) -> Option<usize> {
    let needle = needle.to_ascii_lowercase().into_bytes();
    bytes
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(&needle))
}

/// Every trace of Zebedee a byte search should not find.
const TRACES: [&str; 8] = [
    EMAIL,
    "Quarrington",
    "Zebedee",
    "+16463917788",
    "6463917788",
    "(646) 391-7788",
    "391-7788",
    "zq-device-77",
];

fn assert_no_trace(ws: &Path) {
    for suffix in ["", "-wal", "-journal", "-shm"] {
        let path = format!("{}{suffix}", ws.display());
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for t in TRACES {
            assert!(
                find(&bytes, t).is_none(),
                "{path} still holds `{t}` at byte {:?}",
                find(&bytes, t)
            );
        }
    }
}

#[test]
fn erasing_a_person_leaves_no_trace_in_the_file_and_keeps_them_out() {
    let s = Scratch::new();
    let (ws, customers, orders, sent) = business(&s);
    let id = zebedee(&ws);
    {
        // Consent history by address, as a suppression list would give it.
        let w = cohort::store::Workspace::open(&ws).unwrap();
        w.conn()
            .execute(
                "INSERT INTO consent_ledger (channel, status, reason, address, source, at, recorded_at)
                 VALUES ('email', 'denied', 'unsubscribed', ?1, 'manual', '2026-10-01T00:00:00Z', '2026-10-01T00:00:00Z')",
                [EMAIL],
            )
            .unwrap();
        let rejected: i64 = w
            .conn()
            .query_row(
                "SELECT count(*) FROM rejected_rows WHERE record LIKE '%quarrington%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(rejected > 0, "the planted bad row is kept with its text");
    }
    // Before: the file does hold him (the search below means something).
    let before = std::fs::read(&ws).unwrap();
    let wal = std::fs::read(format!("{}-wal", ws.display())).unwrap_or_default();
    assert!(find(&before, "Quarrington").is_some() || find(&wal, "Quarrington").is_some());

    // Right of access first: everything, including orders and consent.
    // Files beside the workspace that name him: the app's uploads (the
    // customers and events files as uploaded) and a right-of-access export
    // made into the app's scratch folder; the campaign export is another.
    let scratch = s.path("cohort-files");
    std::fs::create_dir_all(scratch.join("uploads")).unwrap();
    std::fs::write(scratch.join("uploads").join("customers.csv"), CUSTOMERS).unwrap();
    // The desktop app keeps its uploads in its data folder.
    let desktop = data_dir(&ws).join("files");
    std::fs::create_dir_all(desktop.join("uploads")).unwrap();
    std::fs::write(desktop.join("uploads").join("events.csv"), EVENTS).unwrap();
    let earlier = scratch.join("person-exports").join("person-20261101");
    cohort(
        &ws,
        &[
            "person",
            "export",
            "--email",
            EMAIL,
            "--out",
            earlier.to_str().unwrap(),
        ],
    );
    let out = s.path("zebedee");
    let exported = cohort(
        &ws,
        &[
            "person",
            "export",
            "--email",
            EMAIL,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(exported["counts"]["orders"], 2, "{exported}");
    for f in [
        "person.json",
        "contacts.csv",
        "orders.csv",
        "order_lines.csv",
        "events.csv",
        "consent.csv",
        "segments.csv",
        "campaigns.csv",
    ] {
        assert!(out.join(f).exists(), "{f} written");
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("person.json")).unwrap()).unwrap();
    let numbers: Vec<&str> = doc["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["source_key"].as_str().unwrap())
        .collect();
    assert!(numbers.iter().any(|n| n.contains("2001")), "{numbers:?}");
    assert!(doc["consent"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["reason"] == "unsubscribed"));
    assert_eq!(doc["segments"][0]["name"], "Buyers");
    if sent {
        assert_eq!(doc["campaigns"][0]["name"], "Autumn");
    }
    assert!(doc["events"].as_array().unwrap().len() >= 2);

    // The preview changes nothing; the erasure (by a differently written
    // address) removes him.
    let preview = cohort(&ws, &["erase", "--email", EMAIL, "--dry-run"]);
    assert_eq!(preview["profiles"][0], id);
    let files: Vec<(String, String, u64)> = preview["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = std::path::PathBuf::from(f["path"].as_str().unwrap());
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                f["action"].as_str().unwrap().to_string(),
                f["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut expected = vec![
        ("customers.csv".to_string(), "rewritten".to_string(), 2),
        ("person-20261101".to_string(), "deleted".to_string(), 0),
        ("events.csv".to_string(), "rewritten".to_string(), 2),
    ];
    if sent {
        expected.insert(0, ("autumn.csv".to_string(), "rewritten".to_string(), 1));
    }
    assert_eq!(files, expected, "{preview}");
    // The right-of-access export held everything the erasure removes.
    for (table, n) in preview["removed"].as_object().unwrap() {
        let section = cohort::privacy::person::section_of(table);
        assert!(
            n.as_u64().unwrap() == 0 || exported["counts"][section].as_u64().unwrap_or(0) > 0,
            "`{table}` is erased but not in the export: {}",
            exported["counts"]
        );
    }
    let report = cohort(
        &ws,
        &["erase", "--email", "Zebedee.Quarrington@GMAIL.com", "--yes"],
    );
    assert_eq!(report["removed"], preview["removed"], "{report}");
    assert_eq!(report["removed"]["orders"], 2);
    assert!(report["removed"]["rejected_rows"].as_u64().unwrap() >= 1);
    assert_eq!(report["wal_truncated"], true);
    assert_eq!(report["files"], preview["files"]);

    assert_no_trace(&ws);
    // Nor in the files beside it; everyone else's rows stay in them.
    let mut beside = files_under(&scratch);
    beside.extend(files_under(&desktop));
    assert!(beside.iter().any(|f| f.ends_with("uploads/events.csv")));
    if sent {
        beside.push(s.path("autumn.csv"));
        let audience = std::fs::read_to_string(s.path("autumn.csv")).unwrap();
        assert!(audience.contains("anna.smith@gmail.com"), "{audience}");
    }
    assert!(!earlier.exists(), "the right-of-access export folder went");
    for path in &beside {
        let bytes = std::fs::read(path).unwrap();
        for t in TRACES {
            assert!(
                find(&bytes, t).is_none(),
                "{} still holds `{t}`",
                path.display()
            );
        }
    }
    let uploaded = std::fs::read_to_string(scratch.join("uploads").join("customers.csv")).unwrap();
    assert_eq!(
        uploaded.lines().count(),
        3,
        "header, Anna and Ben: {uploaded}"
    );
    assert!(uploaded.contains("anna.smith@gmail.com") && uploaded.contains("ben.jones"));

    let w = cohort::store::Workspace::open(&ws).unwrap();
    assert_eq!(w.integrity_check().unwrap(), Ok(()));
    let log = cohort::privacy::audit::list(w.conn(), Some("erase"), 10, 0).unwrap();
    assert_eq!(log.len(), 1);
    let text = serde_json::to_string(&log[0]).unwrap();
    assert!(find(text.as_bytes(), "quarrington").is_none(), "{text}");
    assert!(find(text.as_bytes(), "7788").is_none(), "{text}");
    let others: i64 = w
        .conn()
        .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(others, 2, "Anna and Ben stay");
    drop(w);

    // An old export imported again: he stays out, and the report says so.
    let again = cohort(&ws, &["import", customers.to_str().unwrap(), "--force"]);
    assert_eq!(again["suppressed_erased"], 2, "{again}");
    assert_eq!(
        again["rows_rejected"], 0,
        "the stray row is not stored either"
    );
    let again = cohort(&ws, &["import", orders.to_str().unwrap(), "--force"]);
    assert_eq!(again["suppressed_erased"], 2, "{again}");
    // Events keyed only by his device and customer id stay out too.
    let events = s.path("events.csv");
    let again = cohort(&ws, &["import", events.to_str().unwrap(), "--force"]);
    assert_eq!(again["suppressed_erased"], 2, "{again}");
    let w = cohort::store::Workspace::open(&ws).unwrap();
    let back: i64 = w
        .conn()
        .query_row(
            "SELECT (SELECT count(*) FROM contacts WHERE email = ?1) + (SELECT count(*) FROM orders WHERE email = ?1)
                  + (SELECT count(*) FROM events WHERE anonymous_id = 'zq-device-77' OR customer_key = 'c2')",
            [EMAIL],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(back, 0);
    let imports = cohort::privacy::audit::list(w.conn(), Some("import"), 50, 0).unwrap();
    assert!(imports.iter().any(|e| e.detail["suppressed_erased"] == 2));

    // The human summary says it too.
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        // The desktop app's data folder (its scratch folder is scanned by
        // an erasure) is the test's own.
        .env("COHORT_DATA_DIR", data_dir(Path::new(&ws)))
        .arg("--workspace")
        .arg(&ws)
        .args(["import", customers.to_str().unwrap(), "--force"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 rows skipped: people erased on request"),
        "{text}"
    );
}

#[test]
fn erasing_with_keep_activity_keeps_orders_without_a_link() {
    let s = Scratch::new();
    let (ws, _, _, _) = business(&s);
    let count = |sql: &str| -> i64 {
        let w = cohort::store::Workspace::open(&ws).unwrap();
        let n = w.conn().query_row(sql, [], |r| r.get(0)).unwrap();
        n
    };
    let orders = count("SELECT count(*) FROM orders");
    let events = count("SELECT count(*) FROM events");
    let report = cohort(
        &ws,
        &[
            "erase",
            "--phone",
            "646-391-7788",
            "--keep-activity",
            "--yes",
        ],
    );
    assert_eq!(report["anonymised"]["orders"], 2, "{report}");
    assert_eq!(count("SELECT count(*) FROM orders"), orders);
    assert_eq!(count("SELECT count(*) FROM events"), events);
    assert_eq!(
        count("SELECT count(*) FROM orders WHERE source_key LIKE '%2001' AND email IS NULL AND billing_name IS NULL AND raw IS NULL"),
        1
    );
    // No identity record, so no profile, reaches the kept orders.
    assert_eq!(
        count("SELECT count(*) FROM identity_records r JOIN orders o ON o.id = r.row_id AND r.kind = 'order' WHERE o.source_key LIKE '%2001' OR o.source_key LIKE '%2002'"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM events WHERE customer_key = 'c2' OR anonymous_id = 'zq-device-77'"),
        0
    );
    assert_no_trace(&ws);
}

#[test]
fn retention_and_the_audit_log_through_the_cli() {
    let s = Scratch::new();
    let ws = s.path("ws.cohort");
    let events_file = s.write("events.csv", EVENTS);
    cohort(&ws, &["import", events_file.to_str().unwrap()]);
    let set = cohort(&ws, &["retention", "set", "--events-months", "1"]);
    assert_eq!(set["rules"]["events_months"], 1);
    // The events are from 2026-10-30; "now" is the real clock, more than a
    // month later (2026-12 when this was written): all three go.
    let run = cohort(&ws, &["retention", "run"]);
    assert_eq!(run["removed"]["events"], 3, "{run}");
    let events = |ws: &Path| -> i64 {
        let w = cohort::store::Workspace::open(ws).unwrap();
        let n = w
            .conn()
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        n
    };
    assert_eq!(events(&ws), 0);

    // The rules also apply when a command that writes opens the workspace,
    // at most once a day, and the command says what they removed.
    cohort(&ws, &["import", events_file.to_str().unwrap(), "--force"]);
    assert_eq!(events(&ws), 3, "the run was today: not due again");
    {
        let w = cohort::store::Workspace::open(&ws).unwrap();
        w.conn()
            .execute(
                "UPDATE settings SET value = '2026-01-01T00:00:00Z' WHERE key = 'retention_last_run'",
                [],
            )
            .unwrap();
    }
    let products = s.write("products.csv", PRODUCTS);
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        // The desktop app's data folder (its scratch folder is scanned by
        // an erasure) is the test's own.
        .env("COHORT_DATA_DIR", data_dir(Path::new(&ws)))
        .arg("--workspace")
        .arg(&ws)
        .args(["--json", "import", products.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("Retention rules removed 3 row(s) older than their limits (events 3)"),
        "{said}"
    );
    assert_eq!(events(&ws), 0);
    let log = cohort(&ws, &["audit-log", "--action", "import"]);
    assert_eq!(log.as_array().unwrap().len(), 3);
    assert_eq!(log[2]["subject"], "import 1", "newest first");
    let runs = cohort(&ws, &["audit-log", "--action", "retention"]);
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
    let csv = s.path("audit.csv");
    cohort(&ws, &["audit-log", "--csv", csv.to_str().unwrap()]);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("id,at,actor,action,subject,detail"));
    assert!(text.contains("retention"));
}

/// A backup taken before an erasure holds the person; restoring it must not
/// bring them back: the restore carries the erased list over and erases
/// them again. The restore itself is checked and backed up first.
#[test]
fn restoring_a_backup_from_before_an_erasure_does_not_bring_the_person_back() {
    let s = Scratch::new();
    let (ws, _, _, _) = business(&s);
    let taken = cohort(&ws, &["backup", "create", "--reason", "before the request"]);
    let name = taken["name"].as_str().unwrap().to_string();
    cohort(&ws, &["erase", "--email", EMAIL, "--yes"]);
    let restored = cohort(&ws, &["backup", "restore", &name]);
    assert!(
        restored["erased_again"].as_u64().unwrap() >= 1,
        "{restored}"
    );
    let w = cohort::store::Workspace::open(&ws).unwrap();
    assert_eq!(w.integrity_check().unwrap(), Ok(()));
    let left: i64 = w
        .conn()
        .query_row(
            "SELECT count(*) FROM contacts WHERE lower(email) = ?1",
            [EMAIL],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    // Everyone else came back with the backup.
    let others: i64 = w
        .conn()
        .query_row("SELECT count(*) FROM contacts", [], |r| r.get(0))
        .unwrap();
    assert!(others >= 2);
    drop(w);
    assert_no_trace(&ws);
    // The restore is in the audit log, and the state before it is a backup.
    let log = cohort(&ws, &["audit-log", "--action", "restore"]);
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    let list = cohort(&ws, &["backup", "list"]);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["reason"] == "before restore"));
}
