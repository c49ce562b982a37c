//! Personalised templates end to end through the real `cohort` binary on a
//! demo business (`cohort demo --import` resolves identities, computes
//! traits and trains recommendations): content blocks by segment, an A/B
//! template with a conditional on the RFM segment and a loop over
//! recommendations, previews of two profiles from different RFM segments,
//! lint over a segment, campaign exports with rendered columns and .eml
//! files (checking `campaign_sends` and the variant split), and the
//! Mailchimp translation with its report.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use cohort::store::Workspace;

fn cohort(ws: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn json(ws: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (ok, out, err) = cohort(ws, &all);
    assert!(ok, "cohort {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const HTML: &str = r#"<html><body>
<h1>Hi {{ profile.first_name | default("there") | title }}</h1>
{{ block("hero") }}
{% if profile.rfm_segment == "Champions" %}<p>You are one of our champions.</p>{% else %}<p>We picked these for you.</p>{% endif %}
<ul>
{% for item in recommendations %}<li>{{ item.title }} – {{ item.price | money(item.currency) }}</li>
{% endfor %}</ul>
<p>{{ block("footer") }}</p>
</body></html>"#;

const TEXT: &str = r#"Hi {{ profile.first_name | default("there") }},
{% if profile.rfm_segment == "Champions" %}CHAMPION{% else %}REGULAR {{ profile.rfm_segment }}{% endif %}
{% for item in recommendations %}* {{ item.title }}
{% endfor %}{{ block("footer") }}"#;

/// One profile of an RFM segment that has stored recommendations.
fn profile_in(ws: &Path, rfm: &str, not: bool) -> (i64, String) {
    let w = Workspace::open_existing(ws).unwrap();
    let op = if not { "<>" } else { "=" };
    w.conn()
        .query_row(
            &format!(
                "SELECT t.profile_id, t.rfm_segment FROM profile_traits t
                  JOIN profiles p ON p.id = t.profile_id
                 WHERE t.rfm_segment {op} ?1 AND p.email IS NOT NULL
                   AND EXISTS (SELECT 1 FROM recommendations r WHERE r.profile_id = t.profile_id)
                 ORDER BY t.profile_id LIMIT 1"
            ),
            [rfm],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

#[test]
fn templates_preview_lint_export_and_translate_on_a_demo_business() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ws = d.join("ws.cohort");
    let demo = d.join("demo");
    let (ok, _, err) = cohort(
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
    assert!(ok, "{err}");

    // Segments: everyone with an email, and the Champions.
    let rule = write(
        d,
        "email.json",
        r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"email","op":"is_set"}]}}"#,
    );
    let emailable = json(
        &ws,
        &["segment", "save", "With email", rule.to_str().unwrap()],
    );
    let members = emailable["members"].as_u64().unwrap();
    assert!(members > 500, "{emailable}");
    let rule = write(
        d,
        "champions.json",
        r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"rfm_segment","op":"eq","value":"Champions"}]}}"#,
    );
    json(
        &ws,
        &["segment", "save", "Champions", rule.to_str().unwrap()],
    );

    // Content blocks: a footer snippet, and a hero that differs for Champions.
    let footer = write(d, "footer.txt", "Cohort Outdoors · unsubscribe any time");
    let hero = write(d, "hero.html", "<p>New season, new gear.</p>");
    let vip = write(d, "vip.html", "<p class=\"vip\">VIP early access</p>");
    json(
        &ws,
        &[
            "block",
            "save",
            "footer",
            "--body",
            footer.to_str().unwrap(),
        ],
    );
    let saved = json(
        &ws,
        &[
            "block",
            "save",
            "hero",
            "--body",
            hero.to_str().unwrap(),
            "--rule",
            &format!("Champions={}", vip.display()),
        ],
    );
    assert_eq!(saved["rules"].as_array().unwrap().len(), 1);

    // An A/B template: two subjects, one body.
    let html = write(d, "email.html", HTML);
    let text = write(d, "email.txt", TEXT);
    let t = json(
        &ws,
        &[
            "template",
            "save",
            "Autumn",
            "--variant",
            "A",
            "--variant",
            "B",
            "--subject",
            "Hi {{ profile.first_name | default('there') }}, your autumn picks",
            "--subject",
            "{{ profile.first_name | default('Friend') }}: new gear for you",
            "--html",
            html.to_str().unwrap(),
            "--text",
            text.to_str().unwrap(),
        ],
    );
    assert_eq!(t["variants"].as_array().unwrap().len(), 2);
    // A template that does not compile is refused with variant, part and line.
    let bad = write(d, "bad.html", "<p>\n{% for item in recommendations %}\n");
    let (ok, _, err) = cohort(
        &ws,
        &[
            "template",
            "save",
            "Bad",
            "--subject",
            "x",
            "--html",
            bad.to_str().unwrap(),
        ],
    );
    assert!(!ok);
    assert!(err.contains("variant A, html, line 2"), "{err}");

    // Preview a Champion and someone from another RFM segment: the
    // conditional, the rule-based block and the recommendations differ.
    let (champion, _) = profile_in(&ws, "Champions", false);
    let (other, other_rfm) = profile_in(&ws, "Champions", true);
    let preview = |id: i64| {
        let p = json(
            &ws,
            &[
                "template",
                "preview",
                "Autumn",
                "--profile",
                &id.to_string(),
            ],
        );
        p["recipients"][0].clone()
    };
    let a = preview(champion);
    let b = preview(other);
    let text_a = a["variants"][0]["text"].as_str().unwrap();
    let text_b = b["variants"][0]["text"].as_str().unwrap();
    assert!(text_a.contains("CHAMPION"), "{text_a}");
    assert!(text_b.contains(&format!("REGULAR {other_rfm}")), "{text_b}");
    assert!(a["variants"][0]["html"]
        .as_str()
        .unwrap()
        .contains("VIP early access"));
    assert!(b["variants"][0]["html"]
        .as_str()
        .unwrap()
        .contains("New season, new gear."));
    assert!(a["variants"][0]["error"].is_null(), "{a}");
    assert_ne!(a["variants"][0]["subject"], a["variants"][1]["subject"]);
    // The loop lists the profile's stored recommendations, best first.
    let recs = json(&ws, &["recommend", "show", &other.to_string()]);
    let first_title = recs
        .as_array()
        .or_else(|| recs["recommendations"].as_array())
        .and_then(|l| l.first())
        .and_then(|r| r["title"].as_str())
        .unwrap_or_else(|| panic!("{recs}"))
        .to_owned();
    assert!(text_b.contains(&format!("* {first_title}")), "{text_b}");
    // A sample of a segment.
    let sample = json(
        &ws,
        &[
            "template",
            "preview",
            "Autumn",
            "--segment",
            "Champions",
            "--sample",
            "2",
        ],
    );
    for r in sample["recipients"].as_array().unwrap() {
        assert!(r["variants"][1]["text"]
            .as_str()
            .unwrap()
            .contains("CHAMPION"));
    }

    // Lint over the segment: every member rendered, findings counted.
    let lint = json(
        &ws,
        &["template", "lint", "Autumn", "--segment", "With email"],
    );
    assert_eq!(lint["recipients"].as_u64().unwrap(), members, "{lint}");
    assert_eq!(lint["errors"], 0, "{lint}");
    assert_eq!(lint["rendered"].as_u64().unwrap(), members);
    // A misspelt variable is found, with a suggestion.
    let typo = write(d, "typo.txt", "Hi {{ profile.frist_name }}");
    json(
        &ws,
        &[
            "template",
            "save",
            "Typo",
            "--subject",
            "Hi",
            "--text",
            typo.to_str().unwrap(),
        ],
    );
    let lint = json(&ws, &["template", "lint", "Typo", "--segment", "Champions"]);
    let issues = lint["issues"].as_array().unwrap();
    let unknown = issues
        .iter()
        .find(|i| i["code"] == "unknown_variable")
        .unwrap_or_else(|| panic!("{lint}"));
    assert!(unknown["message"]
        .as_str()
        .unwrap()
        .contains("did you mean `profile.first_name`"));
    let failed = issues.iter().find(|i| i["code"] == "render_error").unwrap();
    assert_eq!(failed["count"], lint["recipients"]);

    // A campaign on the segment with the template, exported with rendered
    // columns: one campaign_sends row per exported recipient, variant split
    // by the campaign's hash.
    json(
        &ws,
        &[
            "campaign",
            "create",
            "Autumn push",
            "--segment",
            "With email",
            "--template",
            "Autumn",
            "--holdout",
            "10",
        ],
    );
    let out = d.join("autumn.csv");
    let summary = json(
        &ws,
        &[
            "campaign",
            "export",
            "Autumn push",
            "--format",
            "csv",
            "--columns",
            "id,email,rfm_segment",
            "--content",
            "columns",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let exported = summary["exported"].as_u64().unwrap();
    assert!(exported > 100, "{summary}");
    let mut rdr = csv::Reader::from_path(&out).unwrap();
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "id",
            "email",
            "rfm_segment",
            "subject",
            "preheader",
            "html",
            "text",
            "variant"
        ]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len() as u64, exported);
    let w = Workspace::open_existing(&ws).unwrap();
    let campaign_id: i64 = w
        .conn()
        .query_row(
            "SELECT id FROM campaigns WHERE name = 'Autumn push'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let sends: HashMap<i64, String> = {
        let mut st = w
            .conn()
            .prepare("SELECT profile_id, variant FROM campaign_sends WHERE campaign_id = ?1")
            .unwrap();
        st.query_map([campaign_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(sends.len() as u64, exported);
    let mut split: BTreeMap<String, u64> = BTreeMap::new();
    for row in &rows {
        let id: i64 = row[0].parse().unwrap();
        assert_eq!(sends[&id], &row[7], "profile {id}");
        *split.entry(row[7].to_owned()).or_default() += 1;
        let champion = &row[2] == "Champions";
        assert_eq!(row[6].contains("CHAMPION"), champion, "{}", &row[6]);
        if &row[7] == "A" {
            assert!(row[3].contains("your autumn picks"));
        } else {
            assert!(row[3].contains("new gear for you"));
        }
    }
    assert_eq!(split.len(), 2, "{split:?}");
    assert!(
        split.values().all(|&n| n as f64 > exported as f64 * 0.3),
        "{split:?}"
    );
    // Held-out members got nothing.
    let held: i64 = w
        .conn()
        .query_row(
            "SELECT count(*) FROM campaign_holdout h JOIN campaign_sends s
                ON s.campaign_id = h.campaign_id AND s.profile_id = h.profile_id
             WHERE h.campaign_id = ?1",
            [campaign_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(held, 0);

    // The same as one .eml per recipient, in a folder.
    let folder = d.join("eml");
    let summary = json(
        &ws,
        &[
            "campaign",
            "export",
            "Autumn push",
            "--content",
            "eml",
            "--from",
            "Cohort Outdoors <news@outdoors.example>",
            "--out",
            folder.to_str().unwrap(),
        ],
    );
    assert_eq!(summary["exported"].as_u64().unwrap(), exported);
    // The summary names the format as the export log does.
    assert_eq!(summary["format"], "eml", "{summary}");
    let files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len() as u64, exported);
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("From: Cohort Outdoors <news@outdoors.example>\r\n"));
    assert!(eml.contains("Content-Type: multipart/alternative"));
    assert!(eml.contains("Content-Type: text/plain; charset=utf-8"));
    assert!(eml.contains("Content-Type: text/html; charset=utf-8"));
    let logged = json(&ws, &["campaign", "exports", "Autumn push"]);
    assert_eq!(logged[0]["format"], "eml", "{logged}");

    // Mailchimp: the template in merge tags, with what cannot be translated.
    let tr = json(
        &ws,
        &["template", "translate", "Autumn", "--tool", "mailchimp"],
    );
    let translation = &tr["translation"];
    assert_eq!(translation["complete"], false);
    assert_eq!(
        translation["variants"][0]["subject"],
        "Hi *|IF:FNAME|**|FNAME|**|ELSE:|*there*|END:IF|*, your autumn picks"
    );
    let untranslatable = translation["untranslatable"].as_array().unwrap();
    let the_loop = untranslatable
        .iter()
        .find(|u| {
            u["part"] == "html"
                && u["source"]
                    .as_str()
                    .unwrap()
                    .starts_with("{% for item in recommendations")
        })
        .unwrap_or_else(|| panic!("{translation}"));
    assert_eq!(the_loop["line"], 6);
    assert!(untranslatable.iter().any(|u| u["reason"]
        .as_str()
        .unwrap()
        .contains("depends on segments")));
    // The footer snippet is inlined.
    assert!(translation["variants"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Cohort Outdoors · unsubscribe any time"));
    let (ok, text_out, _) = cohort(
        &ws,
        &["template", "translate", "Autumn", "--tool", "klaviyo"],
    );
    assert!(ok);
    assert!(
        text_out.contains("{{ first_name|default:'there' }}"),
        "{text_out}"
    );
    assert!(text_out.contains("could not be translated"), "{text_out}");

    // An export for Mailchimp with merge tags writes the translation beside
    // the audience file, which says who gets which variant.
    let mc = d.join("mailchimp.csv");
    let summary = json(
        &ws,
        &[
            "campaign",
            "export",
            "Autumn push",
            "--format",
            "mailchimp",
            "--content",
            "merge_tags",
            "--out",
            mc.to_str().unwrap(),
        ],
    );
    assert!(summary["warnings"]
        .to_string()
        .contains("Mailchimp template written"));
    assert!(d.join("mailchimp-A-mailchimp.html").exists());
    assert!(d.join("mailchimp-B-mailchimp.txt").exists());
    assert!(d.join("mailchimp-mailchimp-translation.txt").exists());
    let mut rdr = csv::Reader::from_path(&mc).unwrap();
    assert_eq!(rdr.headers().unwrap().iter().next_back(), Some("Variant"));

    // The template is in use: it cannot be deleted; the typo one can.
    let (ok, _, err) = cohort(&ws, &["template", "delete", "Autumn"]);
    assert!(
        !ok && err.contains("is used by campaign “Autumn push”"),
        "{err}"
    );
    let (ok, _, err) = cohort(&ws, &["template", "delete", "Typo"]);
    assert!(ok, "{err}");
    let list = json(&ws, &["template", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
}
