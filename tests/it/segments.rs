//! Segments and campaigns end to end through the `cohort` binary on a demo
//! business: a rule counted and saved, a dynamic segment that records who
//! entered after an import, a campaign with a holdout exported for an
//! email tool, a suppression list honoured, and the export log.

use std::process::Command;

use sha2::{Digest, Sha256};

use crate::support::{cohort, Scratch};

#[test]
fn rules_dynamic_segments_campaigns_and_exports() {
    let s = Scratch::new();
    let ws = s.path("ws.cohort");
    let demo = s.path("demo");
    cohort(
        &ws,
        &[
            "demo",
            "--customers",
            "1000",
            "--import",
            "--out",
            demo.to_str().unwrap(),
        ],
    );

    // A rule with a behaviour window: counted, then saved as dynamic.
    let rule = s.write(
        "rule.json",
        r#"{"version":1,"root":{"match":"any","conditions":[
            {"type":"field","field":"first_name","op":"eq","value":"Zelda"},
            {"type":"group","match":"all","conditions":[
                {"type":"field","field":"country","op":"eq","value":"GB"},
                {"type":"event","did":true,"event":"view_item","within_days":3650}]}]}}"#,
    );
    let counted = cohort(&ws, &["segment", "count", rule.to_str().unwrap()]);
    let before = counted["count"].as_u64().unwrap();
    assert!(before > 10, "{counted}");
    assert!(
        counted["description"].as_str().unwrap().contains("GB"),
        "{counted}"
    );
    let saved = cohort(
        &ws,
        &[
            "segment",
            "save",
            "Zelda or GB viewers",
            rule.to_str().unwrap(),
        ],
    );
    assert_eq!(saved["members"].as_u64().unwrap(), before);
    assert_eq!(saved["kind"], "dynamic");
    let frozen = cohort(
        &ws,
        &[
            "segment",
            "save",
            "Snapshot",
            rule.to_str().unwrap(),
            "--static",
        ],
    );
    assert_eq!(frozen["members"].as_u64().unwrap(), before);

    // An import brings a new person in: the dynamic segment records her
    // entry; the static snapshot keeps its members.
    let file = s.write(
        "new.csv",
        "email,first_name,last_name,country\nzelda.quint@shopmail.net,Zelda,Quint,FR\n",
    );
    cohort(&ws, &["import", file.to_str().unwrap()]);
    let shown = cohort(&ws, &["segment", "show", "Zelda or GB viewers"]);
    let history = shown["history"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["entered"], 1, "{shown}");
    assert_eq!(last["members"].as_u64().unwrap(), before + 1);
    let members = cohort(&ws, &["segment", "members", "Snapshot"]);
    assert_eq!(members.as_array().unwrap().len() as u64, before);

    // A campaign with a 20% holdout, then a suppression list with one
    // member's address.
    cohort(
        &ws,
        &[
            "campaign",
            "create",
            "Spring",
            "--segment",
            "Zelda or GB viewers",
            "--holdout",
            "20",
        ],
    );
    let audience = cohort(&ws, &["campaign", "audience", "Spring"]);
    assert_eq!(audience["members"].as_u64().unwrap(), before + 1);
    let held = audience["held_out"].as_u64().unwrap();
    assert!(held > 0 && held < before, "{audience}");
    let list = s.write("suppress.csv", "Email\nZELDA.QUINT@shopmail.net\n");
    let added = cohort(&ws, &["suppress", list.to_str().unwrap()]);
    assert_eq!(added["added"], 1, "{added}");

    let out = s.path("spring.csv");
    let summary = cohort(
        &ws,
        &[
            "campaign",
            "export",
            "Spring",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
            "--bom",
            "--columns",
            "email,first_name,country,revenue",
        ],
    );
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM for Excel");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, ["email", "first_name", "country", "revenue"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len() as u64, summary["exported"].as_u64().unwrap());
    assert!(
        !rows
            .iter()
            .any(|r| r[0].eq_ignore_ascii_case("zelda.quint@shopmail.net")),
        "the suppressed address is not exported"
    );
    // Suppression comes before the holdout, so Zelda is never held out:
    // she is under the suppression list in this campaign's export and in
    // a campaign without a holdout alike.
    assert_eq!(
        summary["suppressed_by_reason"]["suppression_list"], 1,
        "{summary}"
    );
    cohort(
        &ws,
        &[
            "campaign",
            "create",
            "Spring, all",
            "--segment",
            "Zelda or GB viewers",
            "--holdout",
            "0",
        ],
    );
    let everyone = cohort(&ws, &["campaign", "audience", "Spring, all"]);
    assert_eq!(everyone["held_out"], 0, "{everyone}");
    assert_eq!(
        everyone["suppressed_by_reason"]["suppression_list"], 1,
        "{everyone}"
    );
    assert_eq!(
        summary["exported"].as_u64().unwrap()
            + summary["held_out"].as_u64().unwrap()
            + summary["suppressed"].as_u64().unwrap(),
        before + 1,
        "every member is exported, held out or suppressed: {summary}"
    );
    for r in &rows {
        for cell in r.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell} is not neutralised"
            );
        }
    }

    // The log names the file by its hash.
    let log = cohort(&ws, &["campaign", "exports", "Spring"]);
    let entry = &log.as_array().unwrap()[0];
    let hash: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(entry["sha256"], hash.as_str());
    assert_eq!(entry["segment_version"], 1);

    // The table shows the segment, its version and the hash's start.
    let table = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--workspace")
        .arg(&ws)
        .args(["campaign", "exports", "Spring"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("version") && table.contains("sha-256"),
        "{table}"
    );
    assert!(
        table.contains(" v1 ") && table.contains(&hash[..16]),
        "{table}"
    );

    // A second export, to a path relative to the working directory, holds
    // back the same people and logs where the file really is.
    let dir = out.parent().unwrap();
    let second = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .current_dir(dir)
        .arg("--workspace")
        .arg(&ws)
        .args([
            "--json",
            "campaign",
            "export",
            "Spring",
            "--format",
            "mailchimp",
        ])
        .args(["--out", "mc.csv"])
        .output()
        .unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let stdout = String::from_utf8_lossy(&second.stdout);
    let again: serde_json::Value =
        serde_json::from_str(&stdout[stdout.find('{').unwrap()..]).unwrap();
    assert_eq!(again["held_out"], summary["held_out"]);
    let log = cohort(&ws, &["campaign", "exports", "Spring"]);
    let logged = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["format"] == "mailchimp")
        .unwrap();
    let expected = dir.canonicalize().unwrap().join("mc.csv");
    assert_eq!(logged["path"], expected.to_str().unwrap(), "{logged}");
    assert!(expected.exists());
}

/// `cohort segment edit` saves a new version of a rule, and refuses one
/// that would make segments refer to each other in a circle, naming the
/// condition and the circle, leaving the saved rule as it was.
#[test]
fn editing_a_rule_from_the_cli_refuses_a_cycle() {
    let s = Scratch::new();
    drop(s.workspace());
    let ws = s.path("ws.cohort");
    let gb = s.write(
        "gb.json",
        r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"country","op":"eq","value":"GB"}]}}"#,
    );
    let a = cohort(&ws, &["segment", "save", "Britons", gb.to_str().unwrap()]);
    let a_id = a["id"].as_i64().unwrap();
    let of_a = s.write(
        "of_a.json",
        format!(
            r#"{{"version":1,"root":{{"match":"all","conditions":[
            {{"type":"segment","segment":{a_id}}}]}}}}"#
        ),
    );
    let b = cohort(
        &ws,
        &["segment", "save", "Britons again", of_a.to_str().unwrap()],
    );
    let b_id = b["id"].as_i64().unwrap();

    // A new version of A's rule is saved and shown.
    let fr = s.write(
        "fr.json",
        r#"{"version":1,"root":{"match":"any","conditions":[
            {"type":"field","field":"country","op":"eq","value":"GB"},
            {"type":"field","field":"country","op":"eq","value":"FR"}]}}"#,
    );
    cohort(&ws, &["segment", "edit", "Britons", fr.to_str().unwrap()]);
    let shown = cohort(&ws, &["segment", "show", "Britons"]);
    assert_eq!(shown["versions"].as_array().unwrap().len(), 2, "{shown}");

    // A rule for A that refers to B, which refers to A: refused.
    let circle = s.write(
        "circle.json",
        format!(
            r#"{{"version":1,"root":{{"match":"all","conditions":[
            {{"type":"field","field":"country","op":"eq","value":"GB"}},
            {{"type":"segment","segment":{b_id}}}]}}}}"#
        ),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--workspace")
        .arg(&ws)
        .args(["segment", "edit", "Britons", circle.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("circle"), "{err}");
    assert!(err.contains("“Britons again”"), "{err}");
    assert!(err.contains("condition 2"), "{err}");
    let after = cohort(&ws, &["segment", "show", "Britons"]);
    assert_eq!(
        after["versions"], shown["versions"],
        "the rule is unchanged"
    );
}
