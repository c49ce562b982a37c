//! Identity resolution end to end: real imports, the real SQLite file, the
//! real `cohort` binary for the CLI contract.

use std::collections::HashMap;
use std::process::Command;

use cohort::identity::{self, ResolveOptions};
use cohort::progress::Silent;
use cohort::store::Workspace;

use crate::support::{cohort_ok, import, run_cohort, Scratch};

fn options(full: bool) -> ResolveOptions {
    ResolveOptions {
        full,
        settings: Default::default(),
        now: "2026-11-01T12:00:00Z".into(),
        actor: "test".into(),
    }
}

fn resolve(ws: &mut Workspace, full: bool) -> identity::ResolveReport {
    identity::resolve(ws, &options(full), &mut Silent).unwrap()
}

/// source_key → profile id, for contacts.
fn profiles_by_key(ws: &Workspace) -> HashMap<String, i64> {
    let mut st = ws
        .conn()
        .prepare("SELECT source_key, profile_id FROM identity_records WHERE kind = 'contact'")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn all_assignments(ws: &Workspace) -> Vec<(i64, i64)> {
    let mut st = ws
        .conn()
        .prepare("SELECT id, profile_id FROM identity_records ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

const PEOPLE: &str = "\
Customer ID,First Name,Last Name,Email,Phone,Default Address City,Default Address Zip,Default Address Country Code
1,Anna,Smith,anna.smith@gmail.com,+14155550101,Springfield,62701,US
2,Ben,Smith,anna.smith@gmail.com,+14155550102,Springfield,62701,US
3,Carla,Jones,test@test.com,+14155550103,Springfield,62702,US
4,Dan,Brown,test@test.com,+14155550104,Springfield,62703,US
5,Eve,White,test@test.com,+14155550105,Springfield,62704,US
6,Frank,Green,frank@shop.com,+14155550000,Springfield,62705,US
7,Gina,Black,gina@shop.com,+14155550000,Springfield,62706,US
8,Hal,Grey,hal@shop.com,+14155550000,Springfield,62707,US
9,Ivy,Stone,ivy.stone@gmail.com,,Springfield,62708,US
";

const CRM: &str = "\
Record ID,First Name,Last Name,Email,Phone Number
101,Anna,Smith,ANNA.SMITH@gmail.com,
102,Ivy,Stone,ivy.stone@gmail.com,+14155550109
103,Ben,Smith,ben.smith@work.com,+14155550102
";

#[test]
fn shared_identifiers_link_people_but_guard_rails_refuse_over_merging() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    import(&mut ws, &s.write("customers_export.csv", PEOPLE));
    import(
        &mut ws,
        &s.write("hubspot-crm-exports-all-contacts.csv", CRM),
    );
    let report = resolve(&mut ws, true);
    assert!(report.full);
    // The automatic threshold is the model's best-F1 point, floored.
    let best = report
        .model_best_at
        .expect("a full run records the model's choice");
    assert!((0.0..=1.0).contains(&best), "{best}");
    assert_eq!(
        report.auto_merge_at,
        best.clamp(identity::AUTO_FLOOR, 0.999_999)
    );
    let p = profiles_by_key(&ws);
    // Same email, compatible names: one person across sources.
    assert_eq!(p["1"], p["101"], "Anna in Shopify and HubSpot");
    assert_eq!(p["9"], p["102"], "Ivy in Shopify and HubSpot");
    // Ben shares Anna's email (a couple's address): kept apart.
    assert_ne!(p["1"], p["2"], "a shared email must not fuse a couple");
    // ...but Ben's own phone links his two records.
    assert_eq!(p["2"], p["103"], "Ben's phone");
    // A placeholder email and a shop's own phone link no one.
    for (a, b) in [("3", "4"), ("4", "5"), ("6", "7"), ("7", "8")] {
        assert_ne!(p[a], p[b], "{a} and {b} must stay apart");
    }
    let (total, refused) = identity::refused(&ws, 100, 0).unwrap();
    assert!(total >= 3, "{refused:?}");
    let reasons: Vec<(&str, Option<&str>)> = refused
        .iter()
        .map(|r| (r.reason.as_str(), r.value.as_deref()))
        .collect();
    assert!(
        reasons.contains(&("placeholder", Some("test@test.com"))),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("too_common", Some("+14155550000"))),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("names_differ", Some("anna.smith@gmail.com"))),
        "{reasons:?}"
    );

    // Rerunning from scratch changes no profile id.
    let before = all_assignments(&ws);
    resolve(&mut ws, true);
    assert_eq!(before, all_assignments(&ws));
}

/// Ivy's phone (device 77.1) browses anonymously, then logs in as
/// customer 9; another device never logs in.
const EVENTS: &str = "\
event_date,event_timestamp,event_name,user_pseudo_id,user_id,ga_session_id,page_location
20261001,1759300000000000,page_view,77.1,,1,https://shop.example/
20261001,1759300060000000,login,77.1,9,1,https://shop.example/account
20261002,1759390000000000,page_view,88.2,,2,https://shop.example/
";

fn device_profile(ws: &Workspace, device: &str) -> Option<i64> {
    ws.conn()
        .query_row(
            "SELECT profile_id FROM identity_records WHERE kind = 'device' AND source_key = ?1",
            [device],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn incremental_runs_keep_ids_and_attach_new_records() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    import(&mut ws, &s.write("customers_export.csv", PEOPLE));
    import(&mut ws, &s.write("ga4_events.csv", EVENTS));
    resolve(&mut ws, true);
    let before = profiles_by_key(&ws);
    assert_eq!(
        device_profile(&ws, "77.1"),
        Some(before["9"]),
        "the device that logged in"
    );
    assert_ne!(device_profile(&ws, "88.2"), Some(before["9"]));
    import(
        &mut ws,
        &s.write("hubspot-crm-exports-all-contacts.csv", CRM),
    );
    let report = resolve(&mut ws, false);
    assert!(!report.full);
    assert_eq!(
        report.records_matched, 3,
        "only the new records are matched"
    );
    let after = profiles_by_key(&ws);
    for (k, p) in &before {
        assert_eq!(after[k], *p, "record {k} changed profile");
    }
    assert_eq!(after["101"], after["1"]);
    assert_eq!(after["102"], after["9"]);
    assert_eq!(after["103"], after["2"]);
    // Ivy's profile was reloaded whole; her device keeps its login.
    assert_eq!(device_profile(&ws, "77.1"), Some(after["9"]));
    // Nothing new: nothing to do.
    let report = resolve(&mut ws, false);
    assert_eq!(report.records_matched, 0);
    // The incremental result is what a full run gives.
    let inc = all_assignments(&ws);
    resolve(&mut ws, true);
    assert_eq!(inc, all_assignments(&ws));
}

#[test]
fn split_and_unmerge_are_remembered_by_later_runs() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    import(&mut ws, &s.write("customers_export.csv", PEOPLE));
    import(
        &mut ws,
        &s.write("hubspot-crm-exports-all-contacts.csv", CRM),
    );
    resolve(&mut ws, true);
    let p = profiles_by_key(&ws);
    let record_of = |ws: &Workspace, key: &str| -> i64 {
        ws.conn()
            .query_row(
                "SELECT id FROM identity_records WHERE kind = 'contact' AND source_key = ?1",
                [key],
                |r| r.get(0),
            )
            .unwrap()
    };
    // Split HubSpot's Anna off Shopify's Anna.
    let anna_crm = record_of(&ws, "101");
    let ids = identity::split(&mut ws, anna_crm, "test", "2026-11-02T00:00:00Z").unwrap();
    assert_eq!(ids[0], p["1"], "the rest keeps the profile id");
    let q = profiles_by_key(&ws);
    assert_ne!(q["101"], q["1"]);
    resolve(&mut ws, true);
    let q = profiles_by_key(&ws);
    assert_ne!(q["101"], q["1"], "a full rerun must respect the split");
    assert_eq!(q["1"], p["1"]);

    // Unmerge Ivy: both records alone, and they stay alone.
    let ivy = q["9"];
    let ids = identity::unmerge(&mut ws, ivy, "test", "2026-11-02T00:00:00Z").unwrap();
    assert_eq!(ids.len(), 2);
    resolve(&mut ws, true);
    let r = profiles_by_key(&ws);
    assert_ne!(r["9"], r["102"]);
    let log = identity::audit_log(&ws, 10, 0).unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"split") && actions.contains(&"unmerge"),
        "{actions:?}"
    );
    // Each correction was backed up first, so a mistaken one can be undone.
    let reasons: Vec<String> = cohort::store::backup::list(ws.path())
        .unwrap()
        .into_iter()
        .map(|b| b.reason)
        .collect();
    assert!(
        reasons.iter().any(|r| r == "before split")
            && reasons.iter().any(|r| r == "before unmerge"),
        "{reasons:?}"
    );
}

#[test]
fn demo_resolves_accurately_and_review_decisions_win_on_rerun() {
    let s = Scratch::new();
    let ws_path = s.path("ws.cohort");
    let out_dir = s.path("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .args([
            "--workspace",
            ws_path.to_str().unwrap(),
            "demo",
            "--customers",
            "3000",
            "--import",
        ])
        .args(["--out", out_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let eval = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .args([
            "--workspace",
            ws_path.to_str().unwrap(),
            "--json",
            "eval",
            "identity",
            "--truth",
        ])
        .arg(out_dir.join("ground_truth.csv"))
        .output()
        .unwrap();
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let e: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let (precision, recall, f1) = (
        e["precision"].as_f64().unwrap(),
        e["recall"].as_f64().unwrap(),
        e["f1"].as_f64().unwrap(),
    );
    assert!(
        precision >= 0.99 && f1 >= 0.97,
        "precision {precision}, recall {recall}, F1 {f1}"
    );
    assert!(e["missing"].as_u64().unwrap() * 100 < e["truth_rows"].as_u64().unwrap());

    let mut ws = Workspace::open(&ws_path).unwrap();
    let (total, pairs) = identity::review_queue(&ws, 10, 0).unwrap();
    assert!(
        total >= 2,
        "the demo should leave borderline pairs to review"
    );
    let (same, different) = (&pairs[0], &pairs[1]);
    assert!(same.comparisons.iter().any(|c| c.weight != 0.0));
    let (kept, left) =
        identity::decide(&mut ws, same.id, true, "test", "2026-11-02T00:00:00Z").unwrap();
    assert!(kept.is_some());
    assert!(left < total);
    identity::decide(&mut ws, different.id, false, "test", "2026-11-02T00:00:00Z").unwrap();
    resolve(&mut ws, true);
    let profile = |id: i64| -> i64 {
        ws.conn()
            .query_row(
                "SELECT profile_id FROM identity_records WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(profile(same.a.record_id), profile(same.b.record_id));
    assert_ne!(
        profile(different.a.record_id),
        profile(different.b.record_id)
    );
    let (_, queue) = identity::review_queue(&ws, 1000, 0).unwrap();
    assert!(
        !queue
            .iter()
            .any(|p| p.a.record_id == different.a.record_id
                && p.b.record_id == different.b.record_id),
        "a decided pair must not come back to review"
    );

    // Bulk: the strongest waiting pair and up are the same person, the
    // weakest different people; a backup is taken first, and restoring it
    // brings the queue back as it was.
    let (waiting, queue) = identity::review_queue(&ws, 100_000, 0).unwrap();
    drop(ws);
    assert!(waiting >= 2, "{waiting} pairs left to review");
    let strongest = queue.iter().map(|p| p.probability).fold(0.0, f64::max);
    let weakest = queue.iter().map(|p| p.probability).fold(1.0, f64::min);
    let below = weakest + 1e-9;
    assert!(below < strongest);
    let cli = |args: &[&str]| -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
            .args(["--workspace", ws_path.to_str().unwrap(), "--json"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let bulk = cli(&[
        "review",
        "--same-from",
        &strongest.to_string(),
        "--different-below",
        &below.to_string(),
    ]);
    let taken = queue
        .iter()
        .filter(|p| p.probability >= strongest || p.probability < below)
        .count() as u64;
    let (merged, apart) = (
        bulk["merged"].as_u64().unwrap(),
        bulk["kept_apart"].as_u64().unwrap(),
    );
    assert!(merged >= 1 && apart >= 1, "{bulk}");
    assert!(merged + apart <= taken, "{bulk}, {taken} pairs in range");
    assert!(bulk["remaining"].as_u64().unwrap() <= waiting - merged - apart);
    let backup = bulk["backup"].as_str().expect("a backup first").to_string();
    let listed = cli(&["backup", "list"]);
    assert!(
        listed.to_string().contains(&backup),
        "{backup} not in {listed}"
    );
    let ws = Workspace::open(&ws_path).unwrap();
    for p in queue.iter().filter(|p| p.probability < below) {
        let decision: String = ws
            .conn()
            .query_row(
                "SELECT decision FROM identity_decisions WHERE record_a = ?1 AND record_b = ?2",
                [
                    p.a.record_id.min(p.b.record_id),
                    p.a.record_id.max(p.b.record_id),
                ],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(decision, "different");
    }
    drop(ws);
    cli(&["backup", "restore", &backup]);
    let ws = Workspace::open(&ws_path).unwrap();
    assert_eq!(identity::review_queue(&ws, 1, 0).unwrap().0, waiting);
}

/// A full run stores one blocking key row per block, profile and
/// fingerprint; splits, unmerges and incremental runs move records between
/// profiles. After each, every record must still be reachable through each
/// of its keys (by itself or a record of its profile with the same fields),
/// and every stored row must carry its record's current fields.
#[test]
fn blocking_keys_stay_complete_through_splits_unmerges_and_imports() {
    let s = Scratch::new();
    let ws_path = s.path("ws.cohort");
    let demo = |customers: &str, seed: &str, out: &str, import: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cohort"));
        cmd.args(["--workspace", ws_path.to_str().unwrap(), "demo"])
            .args(["--customers", customers, "--seed", seed])
            .args(["--out", s.path(out).to_str().unwrap()]);
        if import {
            cmd.arg("--import");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    demo("1000", "3", "demo", true);
    let mut ws = Workspace::open(&ws_path).unwrap();
    assert_eq!(
        identity::blocking_key_gaps(&ws).unwrap(),
        (0, 0),
        "after the full run"
    );
    let stored: i64 = ws
        .conn()
        .query_row("SELECT count(*) FROM blocking_keys", [], |r| r.get(0))
        .unwrap();
    assert!(stored > 0);

    // The biggest profiles (a customer with many orders): split the first
    // record off some, unmerge others.
    let big: Vec<(i64, i64)> = ws
        .conn()
        .prepare(
            "SELECT profile_id, min(id) FROM identity_records WHERE kind <> 'device'
             GROUP BY profile_id HAVING count(*) >= 3 ORDER BY count(*) DESC, profile_id LIMIT 8",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        big.len() >= 4,
        "the demo has customers with several records"
    );
    for (i, (profile, first_record)) in big.iter().enumerate() {
        if i % 2 == 0 {
            identity::split(&mut ws, *first_record, "test", "2026-11-02T00:00:00Z").unwrap();
        } else {
            identity::unmerge(&mut ws, *profile, "test", "2026-11-02T00:00:00Z").unwrap();
        }
    }
    assert_eq!(
        identity::blocking_key_gaps(&ws).unwrap(),
        (0, 0),
        "after splits and unmerges"
    );

    // New customers from another shop, matched incrementally.
    drop(ws);
    demo("1000", "4", "more", false);
    let mut ws = Workspace::open(&ws_path).unwrap();
    let mut options = cohort::ingest::ImportOptions::new(crate::support::now());
    options.source = Some("Second shop".into());
    crate::support::import_with(
        &mut ws,
        &s.path("more").join("shopify_customers.csv"),
        options,
    );
    let report = resolve(&mut ws, false);
    assert!(report.records_matched > 0 && !report.full);
    assert_eq!(
        identity::blocking_key_gaps(&ws).unwrap(),
        (0, 0),
        "after an incremental run"
    );

    // The first shop's first 30 customers again, renamed and moved: their
    // old keys must all go (the table has no index by record; they are
    // found from the fields stored with them), the new ones come.
    let original = s.path("demo").join("shopify_customers.csv");
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&original)
        .unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id_col, last_col, zip_col) = (
        col("Customer ID"),
        col("Last Name"),
        col("Default Address Zip"),
    );
    let changed = s.path("shopify_customers_changed.csv");
    let mut writer = csv::Writer::from_path(&changed).unwrap();
    writer.write_record(&headers).unwrap();
    let mut first_id = String::new();
    for row in reader.records().take(30) {
        let mut row: Vec<String> = row.unwrap().iter().map(str::to_string).collect();
        row.resize(headers.len(), String::new());
        if first_id.is_empty() {
            first_id = row[id_col].clone();
        }
        row[last_col] = format!("{}ington", row[last_col]);
        row[zip_col] = format!("9{}", row[zip_col]);
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    let source: String = ws
        .conn()
        .query_row(
            "SELECT s.name FROM contacts c JOIN sources s ON s.id = c.source_id WHERE c.source_key = ?1",
            [&first_id],
            |r| r.get(0),
        )
        .unwrap();
    let mut options = cohort::ingest::ImportOptions::new(crate::support::now());
    options.source = Some(source);
    let imported = crate::support::import_with(&mut ws, &changed, options);
    let updated: u64 = imported.tables.iter().map(|t| t.updated).sum();
    assert!(
        updated >= 25,
        "the renamed customers are updates: {:?}",
        imported.tables
    );
    let report = resolve(&mut ws, false);
    assert!(report.records_matched >= 25 && !report.full);
    assert_eq!(
        identity::blocking_key_gaps(&ws).unwrap(),
        (0, 0),
        "after re-importing changed records"
    );
}

/// `cohort survivorship`: a field switched to source priority takes its
/// value from the best source wherever that source has one, for every
/// profile at once; a bad rule changes nothing.
#[test]
fn survivorship_rules_change_from_the_cli_and_rebuild_every_profile() {
    let s = Scratch::new();
    let ws_path = s.path("ws.cohort");
    let cohort = |args: &[&str]| run_cohort(&ws_path, args);
    let out = cohort(&[
        "demo",
        "--customers",
        "1000",
        "--import",
        "--out",
        s.path("demo").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Profiles with a HubSpot email whose chosen email came from elsewhere.
    let not_from_hubspot = || -> i64 {
        let ws = Workspace::open(&ws_path).unwrap();
        ws.conn()
            .query_row(
                "WITH hs AS (SELECT id FROM sources WHERE name = 'HubSpot contacts')
                 SELECT count(*) FROM profiles p
                 WHERE EXISTS (SELECT 1 FROM identity_records r JOIN contacts c ON c.id = r.row_id
                               WHERE r.profile_id = p.id AND r.kind = 'contact' AND r.source_id = (SELECT id FROM hs)
                                 AND coalesce(c.email, '') <> '')
                   AND (SELECT source_id FROM identity_records WHERE id = json_extract(p.origins, '$.email'))
                       IS NOT (SELECT id FROM hs)",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert!(
        not_from_hubspot() > 0,
        "by default the most recent email wins, whatever its source"
    );

    let bad = cohort(&["survivorship", "--field", "email=newest"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("newest"));
    let out = cohort(&[
        "survivorship",
        "--field",
        "email=source_priority",
        "--priority",
        "HubSpot contacts",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("rebuilt"));
    assert_eq!(not_from_hubspot(), 0);

    let shown = cohort(&["--json", "survivorship"]);
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["rules"]["fields"]["email"], "source_priority");
    assert_eq!(v["rules"]["source_priority"][0], "HubSpot contacts");
    assert!(v["rebuilt"].is_null(), "showing the rules rebuilds nothing");
}

/// Zed's three addresses all carry his one phone; Amy, Bob and Cal share
/// one landline.
const CAPPED: &str = "\
Customer ID,First Name,Last Name,Email,Phone,Default Address City,Default Address Zip,Default Address Country Code
1,Zed,Quinn,zed1@example.com,+14155550201,Springfield,62701,US
2,Zed,Quinn,zed2@example.com,+14155550201,Springfield,62701,US
3,Zed,Quinn,zed3@example.com,+14155550201,Springfield,62701,US
4,Amy,Lee,amy.lee@example.com,+14155550300,Shelbyville,62801,US
5,Amy,Lee,amy.l@example.net,+14155550300,Shelbyville,62801,US
6,Bob,Ray,bob@example.com,+14155550300,Shelbyville,62801,US
7,Cal,Fox,cal@example.com,+14155550300,Shelbyville,62801,US
";

/// `cohort resolve --cap N` and `--max-people-per-identifier N` change
/// what the guard rails refuse, and are kept for later runs.
#[test]
fn cap_and_max_people_flags_change_the_guard_rails_and_are_kept() {
    let s = Scratch::new();
    let ws_path = s.path("ws.cohort");
    {
        let mut ws = s.workspace();
        import(&mut ws, &s.write("customers_export.csv", CAPPED));
    }
    let cohort = |args: &[&str]| {
        cohort_ok(&ws_path, args);
    };
    let state = || {
        let ws = Workspace::open(&ws_path).unwrap();
        let (_, refused) = identity::refused(&ws, 100, 0).unwrap();
        let reasons: Vec<(String, Option<String>)> =
            refused.into_iter().map(|r| (r.reason, r.value)).collect();
        (profiles_by_key(&ws), reasons)
    };
    let landline = Some("+14155550300".to_string());

    // Defaults: a profile may hold 5 emails; a phone of 3 people links no one.
    cohort(&["resolve", "--full", "--no-backup"]);
    let (p, reasons) = state();
    assert!(p["1"] == p["2"] && p["2"] == p["3"], "Zed is one person");
    assert!(!reasons.iter().any(|(r, _)| r == "cap"), "{reasons:?}");
    assert!(
        reasons.contains(&("too_common".into(), landline.clone())),
        "{reasons:?}"
    );

    // At most 2 emails per profile and 3 people per identifier.
    cohort(&[
        "resolve",
        "--full",
        "--no-backup",
        "--cap",
        "2",
        "--max-people-per-identifier",
        "3",
    ]);
    let (p, reasons) = state();
    let zed: std::collections::HashSet<i64> = ["1", "2", "3"].iter().map(|k| p[*k]).collect();
    assert_eq!(zed.len(), 2, "three emails, a cap of two: {p:?}");
    assert!(reasons.iter().any(|(r, _)| r == "cap"), "{reasons:?}");
    // The landline's three people are now few enough to link within
    // each name; the different names are still kept apart.
    assert!(
        !reasons.contains(&("too_common".into(), landline.clone())),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("names_differ".into(), landline.clone())),
        "{reasons:?}"
    );
    assert_ne!(p["4"], p["6"]);
    assert_ne!(p["6"], p["7"]);

    // A later run without the flags keeps both.
    cohort(&["resolve", "--full", "--no-backup"]);
    let (p2, reasons2) = state();
    assert_eq!(p2, p);
    assert!(reasons2.iter().any(|(r, _)| r == "cap"), "{reasons2:?}");
    assert!(
        reasons2.contains(&("names_differ".into(), landline)),
        "{reasons2:?}"
    );
}
