//! The `cohort` binary as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::Scratch;

fn cohort(ws: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn init_import_history_rejects_stats_and_preview() {
    let s = Scratch::new();
    let ws = s.path("ws.cohort");
    let init = json(&cohort(
        &ws,
        &["--json", "init", "--region", "gb", "--currency", "eur"],
    ));
    assert_eq!(
        (init["region"].as_str(), init["currency"].as_str()),
        (Some("GB"), Some("EUR"))
    );

    let f = s.write("people.csv", "email,first name,phone\nann@example.com,Ann,07911 123456\n,Nobody,\nbob@example.com,Bob,020 7946 0958\n");
    let preview = json(&cohort(&ws, &["--json", "preview", f.to_str().unwrap()]));
    assert_eq!(preview["plan"]["preset"], "generic_contacts");
    assert_eq!(preview["columns"][0]["inferred"], "email");
    assert_eq!(preview["rows"].as_array().unwrap().len(), 3);

    let report = json(&cohort(&ws, &["--json", "import", f.to_str().unwrap()]));
    assert_eq!(report["rows_read"], 3);
    assert_eq!(report["rows_rejected"], 1);
    let import_id = report["import_id"].as_i64().unwrap();

    // Human output of a second import of the same file says it was skipped, and succeeds.
    let again = cohort(&ws, &["import", f.to_str().unwrap()]);
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already imported"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    let history = json(&cohort(&ws, &["--json", "imports"]));
    assert_eq!(history.as_array().unwrap().len(), 1);
    let rejects = json(&cohort(&ws, &["--json", "rejects", &import_id.to_string()]));
    assert_eq!(rejects["total"], 1);
    assert_eq!(rejects["rows"][0]["row"], 3);
    let stats = json(&cohort(&ws, &["--json", "stats"]));
    assert_eq!(stats["contacts"], 2);
    // GB region: national numbers become +44.
    let conn = rusqlite::Connection::open(&ws).unwrap();
    let phone: String = conn
        .query_row(
            "SELECT phone FROM contacts WHERE email = 'ann@example.com'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(phone, "+447911123456");

    let human = cohort(&ws, &["imports"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("people.csv"));
}

#[test]
fn failures_exit_non_zero_with_a_clear_message() {
    let s = Scratch::new();
    let ws = s.path("ws.cohort");
    let empty = s.write("empty.csv", "");
    let out = cohort(&ws, &["import", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("empty.csv") && err.contains("empty"), "{err}");
    let out = cohort(&ws, &["--json", "import", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "empty_file");
    let out = cohort(&ws, &["rejects", "999"]);
    assert!(!out.status.success());
    let out = cohort(&s.path("missing.cohort"), &["stats"]);
    assert!(!out.status.success(), "stats does not create a workspace");
    let f = s.write("x.csv", "email\na@example.com\n");
    let out = cohort(&ws, &["import", f.to_str().unwrap(), "--map", "email"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("COLUMN=FIELD"));
}
