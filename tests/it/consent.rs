//! The consent ledger end to end through the `cohort` binary: a Shopify
//! customers export grants email consent, a Mailchimp "unsubscribed" export
//! imported later withdraws it (history keeps both, with file and row), a
//! change by hand flips it back, and a campaign export follows the ledger
//! each time. Settings and the overview through the CLI as well.

use std::path::Path;
use std::process::Command;

use crate::support::Scratch;

fn cohort(ws: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--workspace")
        .arg(ws)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "cohort {args:?}: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Progress lines may precede the JSON document on stdout.
    let start = stdout.find(['{', '[']).unwrap_or(0);
    serde_json::from_str(&stdout[start..]).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn cohort_fails(ws: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "cohort {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn profile_of(ws: &Path, email: &str) -> i64 {
    let ws = cohort::store::Workspace::open_existing(ws).unwrap();
    ws.conn()
        .query_row(
            "SELECT ir.profile_id FROM identifiers i JOIN identity_records ir ON ir.id = i.record_id
              WHERE i.kind = 'email' AND i.value = ?1 AND ir.profile_id IS NOT NULL LIMIT 1",
            [email],
            |r| r.get(0),
        )
        .unwrap()
}

/// The emails of a campaign export (generic CSV, `email` column).
fn exported(
    ws: &Path,
    s: &Scratch,
    campaign: &str,
    name: &str,
) -> (Vec<String>, serde_json::Value) {
    let out = s.path(name);
    let summary = cohort(
        ws,
        &[
            "campaign",
            "export",
            campaign,
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
            "--columns",
            "email",
        ],
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let mut emails: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| l.trim().trim_matches('"').to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    emails.sort();
    (emails, summary)
}

#[test]
fn imports_feed_the_ledger_and_exports_follow_it() {
    let s = Scratch::new();
    let ws = s.path("ws.cohort");
    let customers = s.write(
        "customers_export.csv",
        "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Tax Exempt\n\
         1001,Ada,Lovelace,ada.lovelace@mailbox.org,yes,,no,120.00,3,no\n\
         1002,Grace,Hopper,grace.hopper@mailbox.org,yes,,,80.00,1,no\n\
         1003,Alan,Turing,alan.turing@mailbox.org,,,,0.00,0,no\n",
    );
    cohort(&ws, &["import", customers.to_str().unwrap()]);
    cohort(&ws, &["resolve", "--full"]);
    let ada = profile_of(&ws, "ada.lovelace@mailbox.org");
    let shown = cohort(&ws, &["consent", "show", &ada.to_string()]);
    assert_eq!(shown["effective"][0]["status"], "granted", "{shown}");
    assert_eq!(shown["effective"][0]["source"], "Shopify customers");
    assert_eq!(shown["effective"][0]["import_file"], "customers_export.csv");
    assert_eq!(shown["effective"][0]["row_number"], 2);
    assert_eq!(shown["effective"][1]["status"], "denied", "SMS: no");

    // A campaign to the three of them on email.
    let rule = s.write(
        "rule.json",
        r#"{"version":1,"root":{"match":"any","conditions":[
            {"type":"field","field":"last_name","op":"eq","value":"Lovelace"},
            {"type":"field","field":"last_name","op":"eq","value":"Hopper"},
            {"type":"field","field":"last_name","op":"eq","value":"Turing"}]}}"#,
    );
    cohort(
        &ws,
        &["segment", "save", "Pioneers", rule.to_str().unwrap()],
    );
    cohort(
        &ws,
        &[
            "campaign",
            "create",
            "Newsletter",
            "--segment",
            "Pioneers",
            "--holdout",
            "0",
        ],
    );
    let (emails, summary) = exported(&ws, &s, "Newsletter", "first.csv");
    assert_eq!(
        emails,
        vec![
            "ada.lovelace@mailbox.org".to_string(),
            "grace.hopper@mailbox.org".to_string()
        ],
        "{summary}"
    );
    assert_eq!(
        summary["suppressed_by_reason"]["no_consent"], 1,
        "{summary}"
    );

    // Mailchimp's unsubscribed export, imported later: Ada withdrew.
    let unsubscribed = s.write(
        "members_export_unsubscribed.csv",
        "Email Address,First Name,Last Name,MEMBER_RATING,CONFIRM_TIME,LEID,EUID\n\
         ada.lovelace@mailbox.org,Ada,Lovelace,2,2024-01-05 10:00:00,55,ab12cd\n",
    );
    cohort(&ws, &["import", unsubscribed.to_str().unwrap()]);
    cohort(&ws, &["resolve"]);
    let ada = profile_of(&ws, "ada.lovelace@mailbox.org");
    let shown = cohort(&ws, &["consent", "show", &ada.to_string()]);
    let email = &shown["effective"][0];
    assert_eq!(email["status"], "denied", "{shown}");
    assert_eq!(email["source"], "Mailchimp audience");
    assert_eq!(email["reason"], "unsubscribed");
    assert_eq!(email["may_contact"], false);
    let history: Vec<&serde_json::Value> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["channel"] == "email")
        .collect();
    assert_eq!(history.len(), 2, "{shown}");
    let files: Vec<(&str, i64)> = history
        .iter()
        .map(|e| {
            (
                e["import_file"].as_str().unwrap(),
                e["row_number"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(files.contains(&("customers_export.csv", 2)), "{files:?}");
    assert!(
        files.contains(&("members_export_unsubscribed.csv", 2)),
        "{files:?}"
    );
    let (emails, summary) = exported(&ws, &s, "Newsletter", "second.csv");
    assert_eq!(
        emails,
        vec!["grace.hopper@mailbox.org".to_string()],
        "{summary}"
    );
    assert_eq!(
        summary["suppressed_by_reason"]["unsubscribed"], 1,
        "{summary}"
    );

    // Importing the same unsubscribed file again (forced) adds no evidence.
    let before = cohort(&ws, &["consent", "overview"])["entries"].clone();
    cohort(&ws, &["import", unsubscribed.to_str().unwrap(), "--force"]);
    assert_eq!(cohort(&ws, &["consent", "overview"])["entries"], before);

    // Ada calls in and opts back in: the change by hand wins and is audited.
    let set = cohort(
        &ws,
        &[
            "consent",
            "set",
            "--profile",
            &ada.to_string(),
            "--channel",
            "email",
            "--status",
            "granted",
            "--note",
            "asked by phone",
        ],
    );
    assert_eq!(set["effective"][0]["status"], "granted", "{set}");
    assert_eq!(set["effective"][0]["source"], "manual");
    let shown = cohort(&ws, &["consent", "show", &ada.to_string()]);
    assert_eq!(shown["history"][0]["note"], "asked by phone", "{shown}");
    assert_eq!(shown["history"][0]["effective"], true);
    let (emails, summary) = exported(&ws, &s, "Newsletter", "third.csv");
    assert_eq!(
        emails,
        vec![
            "ada.lovelace@mailbox.org".to_string(),
            "grace.hopper@mailbox.org".to_string()
        ],
        "{summary}"
    );
    {
        let w = cohort::store::Workspace::open_existing(&ws).unwrap();
        let log = cohort::privacy::audit::list(w.conn(), Some("consent_change"), 10, 0).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(
            log[0].subject.as_deref(),
            Some(format!("profile {ada}").as_str())
        );
        assert!(!log[0].detail.to_string().contains("mailbox.org"));
    }

    // Alan has no evidence: with email opt-in no longer required he is
    // reached too; the overview counts him as "no evidence".
    let overview = cohort(&ws, &["consent", "overview"]);
    assert_eq!(overview["channels"][0]["granted"], 2, "{overview}");
    assert_eq!(overview["channels"][0]["no_evidence"], 1, "{overview}");
    let settings = cohort(
        &ws,
        &[
            "consent",
            "settings",
            "--opt-in",
            "email=no",
            "--priority",
            "manual,Mailchimp audience,Shopify customers",
        ],
    );
    assert_eq!(settings["opt_in"]["email"], false, "{settings}");
    assert_eq!(settings["opt_in"]["sms"], true);
    assert_eq!(settings["priority"][1], "Mailchimp audience");
    let (emails, summary) = exported(&ws, &s, "Newsletter", "fourth.csv");
    assert_eq!(emails.len(), 3, "{summary}");
    assert!(emails.contains(&"alan.turing@mailbox.org".to_string()));

    // Mistakes are named.
    let e = cohort_fails(
        &ws,
        &[
            "consent",
            "set",
            "--profile",
            "999999",
            "--channel",
            "email",
            "--status",
            "granted",
        ],
    );
    assert!(e.contains("no profile 999999"), "{e}");
    let e = cohort_fails(
        &ws,
        &[
            "consent",
            "set",
            "--profile",
            &ada.to_string(),
            "--channel",
            "fax",
            "--status",
            "granted",
        ],
    );
    assert!(e.contains("no channel “fax”"), "{e}");
    let e = cohort_fails(&ws, &["consent", "settings", "--opt-in", "email=maybe"]);
    assert!(e.contains("use yes or no"), "{e}");
}
