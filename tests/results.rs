//! Campaign results end to end, through the real `cohort` binary and a real
//! workspace file: a demo business, a segment, a campaign with a 20%
//! holdout exported for Mailchimp; then the email tool's results imported
//! and conversions measured from orders placed after the send.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rand::{Rng, SeedableRng};
use serde_json::Value;

fn cohort(ws: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(ws: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (ok, out, err) = cohort(ws, &all);
    assert!(ok, "cohort {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// The demo workspace after the export, kept as bytes (building it takes a
/// while) and written out for each test.
struct Template {
    files: Vec<(String, Vec<u8>)>,
}

fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let ws = dir.join("ws.cohort");
        let demo = dir.join("demo");
        let (ok, _, err) = cohort(
            &ws,
            &[
                "demo",
                "--customers",
                "2000",
                "--import",
                "--out",
                demo.to_str().unwrap(),
            ],
        );
        assert!(ok, "demo: {err}");
        let rule = dir.join("rule.json");
        std::fs::write(
            &rule,
            r#"{"version":1,"root":{"match":"all","conditions":[
                {"type":"field","field":"email","op":"is_set"}]}}"#,
        )
        .unwrap();
        json(
            &ws,
            &["segment", "save", "With email", rule.to_str().unwrap()],
        );
        json(
            &ws,
            &[
                "campaign",
                "create",
                "Spring sale",
                "--segment",
                "With email",
                "--holdout",
                "20",
            ],
        );
        let sent = dir.join("sent.csv");
        let export = json(
            &ws,
            &[
                "campaign",
                "export",
                "Spring sale",
                "--format",
                "mailchimp",
                "--out",
                sent.to_str().unwrap(),
            ],
        );
        assert!(export["exported"].as_u64().unwrap() > 500, "{export}");
        let mut files = Vec::new();
        for name in [
            "ws.cohort",
            "ws.cohort-wal",
            "sent.csv",
            "demo/shopify_orders.csv",
        ] {
            if let Ok(bytes) = std::fs::read(dir.join(name)) {
                files.push((name.to_owned(), bytes));
            }
        }
        Template { files }
    })
}

/// A copy of the template in a fresh folder.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in &template().files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        Scratch { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn ws(&self) -> PathBuf {
        self.path("ws.cohort")
    }
}

/// The distinct email addresses of the Mailchimp export, with how many
/// exported rows (profiles) each stands for.
fn exported_emails(s: &Scratch) -> Vec<(String, u64)> {
    let mut rdr = csv::Reader::from_path(s.path("sent.csv")).unwrap();
    assert_eq!(&rdr.headers().unwrap()[0], "Email Address");
    let mut order = Vec::new();
    let mut count: HashMap<String, u64> = HashMap::new();
    for row in rdr.records() {
        let email = row.unwrap()[0].to_owned();
        let n = count.entry(email.clone()).or_default();
        if *n == 0 {
            order.push(email);
        }
        *n += 1;
    }
    order
        .into_iter()
        .map(|e| {
            let n = count[&e];
            (e, n)
        })
        .collect()
}

#[test]
fn email_tool_results_are_imported_and_reported() {
    let s = Scratch::new();
    let ws = s.ws();
    let emails = exported_emails(&s);
    let recipients: u64 = emails.iter().map(|(_, n)| n).sum();

    // One row per address, as tools write them: 30% open, 30% of openers
    // click, 5% buy for $10–$90.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let mut file = String::from("Email Address,Opens,Clicks,Revenue\n");
    let (mut opened, mut clicked, mut converted, mut revenue) = (0u64, 0u64, 0u64, 0i64);
    for (email, n) in &emails {
        let open = rng.random_bool(0.3);
        let click = open && rng.random_bool(0.3);
        let cents = if rng.random_bool(0.05) {
            rng.random_range(1_000..9_000i64)
        } else {
            0
        };
        opened += n * u64::from(open);
        clicked += n * u64::from(click);
        converted += n * u64::from(cents > 0);
        revenue += *n as i64 * cents;
        let shown = if cents > 0 {
            format!("${}.{:02}", cents / 100, cents % 100)
        } else {
            String::new()
        };
        file.push_str(&format!(
            "{email},{},{},{shown}\n",
            if open { 2 } else { 0 },
            u8::from(click)
        ));
    }
    // Two bad rows: revenue that is not money, and an address nobody has.
    let first = &emails[0].0;
    file.push_str(&format!("{first},1,0,twelve\n"));
    file.push_str("nobody@nowhere.example,1,0,\n");
    let bad_revenue_row = emails.len() as u64 + 2;
    let unknown_row = bad_revenue_row + 1;
    let results = s.path("campaign_activity.csv");
    std::fs::write(&results, &file).unwrap();

    let out = json(
        &ws,
        &[
            "campaign",
            "results",
            "Spring sale",
            "--import",
            results.to_str().unwrap(),
        ],
    );
    let import = &out["import"];
    assert_eq!(import["rows"], emails.len() as u64 + 2, "{import}");
    assert_eq!(import["matched"], emails.len() as u64);
    assert_eq!(import["recipients"], recipients);
    assert_eq!(import["recipients_without_results"], 0);
    assert_eq!(import["rejected_rows"], 1);
    assert_eq!(import["rejected"][0]["row"], bad_revenue_row);
    assert_eq!(import["rejected"][0]["column"], "Revenue");
    assert_eq!(import["rejected"][0]["value"], "twelve");
    assert_eq!(import["unknown_recipients"], 1);
    assert_eq!(import["unknown"][0]["row"], unknown_row);
    assert_eq!(import["unknown"][0]["column"], "Email Address");
    assert_eq!(import["not_sent"], 0);

    let report = &out["report"];
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{report}");
    assert_eq!(groups[0]["name"], "All recipients");
    assert_eq!(groups[0]["recipients"], recipients);
    assert_eq!(groups[1]["name"], "Holdout");
    assert!(groups[1]["email"].is_null());
    let email = &groups[0]["email"];
    assert_eq!(email["opened"]["count"], opened);
    assert_eq!(email["clicked"]["count"], clicked);
    assert_eq!(email["converted"]["count"], converted);
    assert_eq!(email["revenue"], revenue);
    // Per recipient of the group, in dollars: people without revenue count.
    let per = email["revenue_per_recipient"].as_f64().unwrap();
    assert!(
        (per - revenue as f64 / 100.0 / recipients as f64).abs() < 1e-9,
        "{email}"
    );
    // One group and no holdout figures from the tool: nothing to compare
    // the tool's revenue with.
    assert!(report["revenue"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["source"] != "email_tool"));
    assert!(email["delivered"].is_null(), "no delivered column was read");
    let open_rate = email["opened"]["rate"].as_f64().unwrap();
    assert!((open_rate - opened as f64 / recipients as f64).abs() < 1e-12);
    assert!((0.25..0.35).contains(&open_rate), "{open_rate}");
    assert!(
        report["verdict"]
            .as_str()
            .unwrap()
            .contains("compute conversions from orders"),
        "{report}"
    );
    assert!(report["chart_svg"].as_str().unwrap().starts_with("<svg"));

    // The same import for people: rows and columns of the problems.
    let (ok, text, err) = cohort(
        &ws,
        &[
            "campaign",
            "results",
            "Spring sale",
            "--import",
            results.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let shown = results.display();
    assert!(
        text.contains(&format!(
            "{shown}, row {bad_revenue_row}, column `Revenue`: `twelve`: `twelve` is not an amount of money"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{shown}, row {unknown_row}, column `Email Address`: `nobody@nowhere.example`: no profile has this email"
        )),
        "{text}"
    );

    // Files that cannot be used change nothing.
    let before = json(&ws, &["campaign", "results", "Spring sale"])["report"]["groups"].clone();
    let binary = s.path("activity.xlsx.csv");
    std::fs::write(
        &binary,
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    )
    .unwrap();
    let no_recipient = s.path("no_recipient.csv");
    std::fs::write(&no_recipient, "Name,Opens\nAnn,1\n").unwrap();
    let missing = s.path("missing.csv");
    for (file, code) in [
        (&binary, "not_csv"),
        (&no_recipient, "no_recipient_column"),
        (&missing, "io"),
    ] {
        let (ok, out, err) = cohort(
            &ws,
            &[
                "--json",
                "campaign",
                "results",
                "Spring sale",
                "--import",
                file.to_str().unwrap(),
            ],
        );
        assert!(!ok, "{out}");
        assert!(err.contains(file.to_str().unwrap()), "{err}");
        let error: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(error["error"]["code"], code, "{error}");
    }
    let after = json(&ws, &["campaign", "results", "Spring sale"])["report"]["groups"].clone();
    assert_eq!(before, after);
}

#[test]
fn conversions_from_later_orders_against_the_holdout() {
    let s = Scratch::new();
    let ws = s.ws();

    // Who was sent the campaign and who was held back, with an address
    // only they have (so their orders join them and nobody else).
    let (recipients, holdout, sent_at) = {
        let w = cohort::store::Workspace::open_existing(&ws).unwrap();
        let pick = |table: &str| -> Vec<String> {
            let mut stmt = w
                .conn()
                .prepare(&format!(
                    "SELECT p.email FROM {table} x JOIN profiles p ON p.id = x.profile_id
                      WHERE x.campaign_id = 1 AND p.email IS NOT NULL
                        AND (SELECT count(*) FROM profiles q WHERE q.email = p.email) = 1
                      ORDER BY p.id"
                ))
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let sent_at: String = w
            .conn()
            .query_row(
                "SELECT min(at) FROM campaign_exports WHERE campaign_id = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (pick("campaign_sends"), pick("campaign_holdout"), sent_at)
    };
    assert!(recipients.len() > 70 && holdout.len() > 10);
    let sent: chrono::DateTime<chrono::Utc> = sent_at.parse().unwrap();
    let at = |hours: i64| {
        (sent + chrono::Duration::hours(hours))
            .format("%Y-%m-%d %H:%M:%S +0000")
            .to_string()
    };

    // A Shopify orders export, the demo's layout.
    let orders = s.path("demo/shopify_orders.csv");
    let header: Vec<String> = csv::Reader::from_path(&orders)
        .unwrap()
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let mut wtr = csv::Writer::from_path(s.path("orders_december.csv")).unwrap();
    wtr.write_record(&header).unwrap();
    let mut number = 90_000;
    let mut order = |email: &str, when: String, currency: &str, cancelled: &str| {
        number += 1;
        let values: HashMap<&str, String> = [
            ("Name", format!("#{number}")),
            ("Id", number.to_string()),
            ("Email", email.to_owned()),
            (
                "Financial Status",
                if cancelled.is_empty() {
                    "paid"
                } else {
                    "voided"
                }
                .to_owned(),
            ),
            ("Currency", currency.to_owned()),
            ("Subtotal", "40.00".to_owned()),
            ("Total", "40.00".to_owned()),
            ("Created at", when),
            ("Cancelled at", cancelled.to_owned()),
            ("Lineitem quantity", "1".to_owned()),
            ("Lineitem name", "Trail Socks".to_owned()),
            ("Lineitem price", "40.00".to_owned()),
            ("Lineitem sku", "SOC-0001".to_owned()),
        ]
        .into_iter()
        .collect();
        let row: Vec<&str> = header
            .iter()
            .map(|h| values.get(h.as_str()).map_or("", String::as_str))
            .collect();
        wtr.write_record(&row).unwrap();
    };
    // Counted: 60 recipients buy 6 hours after the send, one more in euros
    // (a conversion without revenue); 3 holdout members buy after 2 days.
    for e in &recipients[..60] {
        order(e, at(6), "USD", "");
    }
    order(&recipients[60], at(6), "EUR", "");
    for e in &holdout[..3] {
        order(e, at(48), "USD", "");
    }
    // Not counted: before the send, after the 14 days, cancelled.
    order(&recipients[61], at(-24), "USD", "");
    order(&holdout[3], at(24 * 20), "USD", "");
    order(&recipients[62], at(6), "USD", &at(7));
    wtr.flush().unwrap();
    drop(wtr);
    let imported = json(
        &ws,
        &["import", s.path("orders_december.csv").to_str().unwrap()],
    );
    assert_eq!(imported["rows_rejected"], 0, "{imported}");

    let out = json(
        &ws,
        &["campaign", "results", "Spring sale", "--from-orders"],
    );
    let a = &out["orders"];
    assert_eq!(a["window_days"], 14);
    assert_eq!(a["recipients_converted"], 61, "{a}");
    assert_eq!(a["holdout_converted"], 3, "{a}");
    assert_eq!(a["orders"], 64);
    assert_eq!(a["other_currency_orders"], 1);
    assert_eq!(a["recipients_revenue"], 60 * 4000);
    assert_eq!(a["holdout_revenue"], 3 * 4000);

    let report = &out["report"];
    let groups = report["groups"].as_array().unwrap();
    let (n_r, n_h) = (
        groups[0]["recipients"].as_u64().unwrap(),
        groups[1]["recipients"].as_u64().unwrap(),
    );
    assert_eq!(groups[0]["orders"]["converted"]["count"], 61);
    assert_eq!(groups[1]["name"], "Holdout");
    assert_eq!(groups[1]["orders"]["converted"]["count"], 3);
    let c = &report["comparisons"][0];
    assert_eq!(c["group"], "All recipients");
    assert_eq!(c["against"], "Holdout");
    assert_eq!(c["metric"], "conversion");
    assert_eq!(c["source"], "orders");
    assert_eq!(c["significant"], true, "{c}");
    let (rate, base) = (61.0 / n_r as f64, 3.0 / n_h as f64);
    let verdict = report["verdict"].as_str().unwrap();
    let expected = format!(
        "Recipients beat the holdout by {:.1} points (conversion {:.1}% vs {:.1}%), 95% CI ",
        (rate - base) * 100.0,
        rate * 100.0,
        base * 100.0
    );
    assert!(
        verdict.starts_with(&expected),
        "{verdict}\nexpected: {expected}"
    );
    assert!(verdict.contains("Revenue per recipient: $"), "{verdict}");
    let money = &report["revenue"][0];
    let per_recipient = money["per_recipient"].as_f64().unwrap();
    assert!(
        (per_recipient - 2400.0 / n_r as f64).abs() < 1e-9,
        "{money}"
    );
    assert!(
        money["ci_low"].as_f64().unwrap() < money["difference_per_recipient"].as_f64().unwrap()
    );
    // An order 20 days after the send is in: the 14-day window is complete.
    assert!(
        !report["notes"].to_string().contains("attribution window"),
        "{report}"
    );

    // A one-day window leaves out the holdout's orders (two days after).
    let out = json(
        &ws,
        &[
            "campaign",
            "results",
            "Spring sale",
            "--from-orders",
            "--window-days",
            "1",
        ],
    );
    assert_eq!(out["orders"]["recipients_converted"], 61);
    assert_eq!(out["orders"]["holdout_converted"], 0);
    assert_eq!(out["report"]["window_days"], 1);

    // Charts, as SVG or PNG; and what is refused.
    let svg = s.path("results.svg");
    let png = s.path("results.png");
    for chart in [&svg, &png] {
        let (ok, text, err) = cohort(
            &ws,
            &[
                "campaign",
                "results",
                "Spring sale",
                "--chart",
                chart.to_str().unwrap(),
            ],
        );
        assert!(ok, "{err}");
        assert!(
            text.contains("Wrote") && text.contains("Recipients beat the holdout"),
            "{text}"
        );
    }
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let (ok, _, err) = cohort(
        &ws,
        &["campaign", "results", "Spring sale", "--chart", "chart.gif"],
    );
    assert!(!ok && err.contains(".svg or .png"), "{err}");
    let (ok, _, err) = cohort(
        &ws,
        &["campaign", "results", "Spring sale", "--window-days", "7"],
    );
    assert!(!ok && err.contains("--from-orders"), "{err}");
    let (ok, _, err) = cohort(&ws, &["campaign", "results", "Autumn sale"]);
    assert!(!ok && err.contains("no campaign “Autumn sale”"), "{err}");
}
