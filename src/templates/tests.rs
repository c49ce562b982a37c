//! Templates against a generated workspace (`testdata::generate`): CRUD,
//! the bulk context loader, previews, lint counts, content blocks by
//! segment, and personalised campaign exports with their `campaign_sends`.

use std::collections::BTreeMap;

use super::testdata::{self, RFM};
use super::*;
use crate::campaigns::{self, Channel, ExportRequest, Format, NewCampaign};
use crate::store::Workspace;

const NOW: &str = "2026-11-01T12:00:00Z";
const SEED: i64 = 3;

fn workspace(n: i64) -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path().join("ws.cohort")).unwrap();
    testdata::generate(ws.conn_mut(), n, SEED).unwrap();
    (dir, ws)
}

fn variant(name: &str, subject: &str, html: &str, text: &str) -> Variant {
    Variant {
        name: name.into(),
        subject: subject.into(),
        preheader: String::new(),
        html: html.into(),
        text: text.into(),
    }
}

const HTML: &str = r#"<html><body>
<h1>Hi {{ profile.first_name | default("there") | title }}</h1>
{% if profile.rfm_segment == "Champions" %}<p>You are a champion.</p>{% else %}<p>We miss you.</p>{% endif %}
<ul>{% for item in recommendations %}<li>{{ item.title }} {{ item.price | money(item.currency) }}</li>{% endfor %}</ul>
<p>Lifetime value {{ profile.clv | money }}, {{ profile.orders }} order{{ profile.orders | pluralize }}.</p>
</body></html>"#;

#[test]
fn templates_are_saved_checked_renamed_and_deleted() {
    let (_dir, mut ws) = workspace(20);
    let t = save(
        ws.conn_mut(),
        None,
        "Spring",
        &[variant("", "Hi {{ profile.first_name }}", HTML, "Hi")],
        NOW,
    )
    .unwrap();
    assert_eq!(t.variants[0].name, "A", "a lone variant is A");
    assert!(matches!(
        save(ws.conn_mut(), None, "spring", &t.variants, NOW),
        Err(TemplateError::NameTaken(_))
    ));
    // Compile errors name variant, part, line and cause.
    let e = save(
        ws.conn_mut(),
        Some(t.id),
        "Spring",
        &[
            variant("A", "ok", "", ""),
            variant(
                "B",
                "ok",
                "line 1\n{% for x in recommendations %}\nno end",
                "",
            ),
        ],
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.code(), "template_syntax");
    assert!(e.to_string().starts_with("variant B, html, line 2:"), "{e}");
    assert!(matches!(
        save(
            ws.conn_mut(),
            None,
            "X",
            &[variant("A", "a", "", ""), variant("a", "b", "", "")],
            NOW
        ),
        Err(TemplateError::DuplicateVariant(_))
    ));
    assert!(matches!(
        save(ws.conn_mut(), None, "X", &[variant("A", " ", "", "")], NOW),
        Err(TemplateError::EmptySubject { .. })
    ));

    // A campaign uses it by name: renaming follows, deleting is refused.
    let c = campaigns::create(
        ws.conn(),
        NewCampaign {
            name: "Spring push".into(),
            segment_id: 1,
            channel: Channel::Email,
            template: Some("Spring".into()),
            holdout_percent: 10.0,
        },
        NOW,
    )
    .unwrap();
    let renamed = save(ws.conn_mut(), Some(t.id), "Spring 2026", &t.variants, NOW).unwrap();
    assert_eq!(renamed.name, "Spring 2026");
    let c = campaigns::get(ws.conn(), c.id).unwrap().unwrap();
    assert_eq!(c.template.as_deref(), Some("Spring 2026"));
    assert!(matches!(
        delete(ws.conn(), t.id),
        Err(TemplateError::InUse { .. })
    ));
    campaigns::delete(ws.conn(), c.id).unwrap();
    delete(ws.conn(), t.id).unwrap();
    assert!(list(ws.conn()).unwrap().is_empty());
    assert!(find(ws.conn(), "Spring 2026").is_err());
}

#[test]
fn contexts_carry_profile_traits_recommendations_consent_and_segments() {
    let (_dir, ws) = workspace(200);
    let conn = ws.conn();
    let set = TemplateSet::for_workspace(
        conn,
        &[variant(
            "A",
            "{{ profile.first_name }}|{{ profile.rfm_segment }}|{{ consent.email }}|{{ consent.sms }}|{{ segments | join(',') }}|{{ recommendations | length }}|{{ recommendations[0].sku }}|{{ campaign.variant }}|{{ cluster }}",
            "",
            "",
        )],
        &render::Options::default(),
    )
    .unwrap();
    let needs = set.needs();
    assert_eq!(
        needs.profile,
        Some(
            ["first_name", "rfm_segment"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        )
    );
    assert!(needs.recommendations && needs.consent && needs.segments && needs.cluster);
    let loader = ContextLoader::new(
        conn,
        &needs,
        &context::CampaignInfo::preview(),
        &["A".to_owned()],
        NOW,
    )
    .unwrap();
    let ids: Vec<i64> = (1..=200).collect();
    let all = loader.load(conn, &ids).unwrap();
    assert_eq!(all.len(), 200);
    let subject = |r: &Recipient| set.render(0, r).unwrap().subject;
    // Profile 1: Champions when (1 + SEED) % 11 == 0 … computed the same way here.
    let p = &all[0];
    let expected_rfm = RFM[((1 + SEED) % 11) as usize];
    let expected_sku = format!("SKU-{:04}", 1 + (7 + 101 + SEED) % testdata::PRODUCTS);
    assert_eq!(
        subject(p),
        // Booleans print as Jinja2 prints them.
        format!("Maria|{expected_rfm}|True|False|Everyone|5|{expected_sku}|A|").replace(
            "Maria",
            [
                "Maria", "James", "Zoë", "José", "anna", "Lukas", "Chloé", "Noah", "Sofía",
                "Oliver", "Amelia", "Jürgen"
            ][((1 + SEED) % 12) as usize]
        )
    );
    // Every 20th profile has no first name: it prints as nothing.
    assert!(subject(&all[19]).starts_with('|'));
    // Consent denied for every tenth, SMS granted for even ids.
    assert!(subject(&all[8]).contains("|False|False|"));
    assert!(subject(&all[1]).contains("|True|True|"));
    // Champions are in the VIP segment too.
    let champion = all
        .iter()
        .find(|r| subject(r).contains("|Champions|"))
        .unwrap();
    assert!(subject(champion).contains("|Everyone,VIP|"));

    // Sparse ids (read one by one) give the same contexts as a range scan.
    let sparse = loader.load(conn, &[1, 150, 100_000]).unwrap();
    assert_eq!(sparse.len(), 2, "ids without a profile are skipped");
    assert_eq!(subject(&sparse[0]), subject(&all[0]));
    assert_eq!(subject(&sparse[1]), subject(&all[149]));

    // The pipeline hands every chunk over in order.
    let mut seen = Vec::new();
    context::pipeline(
        conn,
        &loader,
        &ids,
        64,
        |batch| batch.iter().map(|r| r.id).collect::<Vec<_>>(),
        |_, got| {
            seen.extend(got);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, ids);
}

#[test]
fn previews_show_every_variant_and_errors_per_part() {
    let (_dir, ws) = workspace(50);
    let variants = [
        variant(
            "A",
            "Hi {{ profile.first_name | default('there') }}",
            HTML,
            "{{ profile.frist_name }}",
        ),
        variant(
            "B",
            "New for you, {{ profile.first_name | default('friend') }}",
            HTML,
            "Text B",
        ),
    ];
    let out = preview(ws.conn(), &variants, &[2, 20], None, NOW).unwrap();
    assert_eq!(out.len(), 2);
    let second = &out[1];
    assert_eq!(second.profile_id, 20);
    assert_eq!(second.variants[0].subject, "Hi there");
    assert_eq!(second.variants[1].subject, "New for you, friend");
    assert!(second.variants[0].html.contains("Hi There"));
    assert!(second.variants[0].html.contains("£"), "money in GBP");
    // Variant A's text fails for everyone; its other parts are there.
    let e = second.variants[0].error.as_deref().unwrap();
    assert!(e.contains("variant A, text, line 1"), "{e}");
    assert!(e.contains("profile.frist_name"), "{e}");
    assert!(second.variants[1].error.is_none());
    assert!(second.segments.contains(&"Everyone".to_string()));
}

#[test]
fn lint_counts_what_recipients_would_get() {
    let n = 400;
    let (_dir, ws) = workspace(n);
    let ids: Vec<i64> = (1..=n).collect();
    let long = "x".repeat(80);
    let variants = [variant(
        "A",
        &format!("Hi {{{{ profile.first_name }}}} {long}"),
        "<p>{{ profile.first_name | default('there') }}</p>{% for item in recommendations %}<b>{{ item.title }}</b>{% endfor %}{{ profile.frist_name | default('') }}",
        "",
    )];
    let report = lint(ws.conn(), &variants, &ids, NOW, &mut |_, _| {}).unwrap();
    assert_eq!(report.recipients, n as u64);
    assert_eq!(report.rendered, n as u64);
    let issue = |code: &str| {
        report
            .issues
            .iter()
            .find(|i| i.code == code)
            .unwrap_or_else(|| panic!("no {code} in {:#?}", report.issues))
    };
    let empty = issue("empty_value");
    assert_eq!(empty.count, n as u64 / 20, "every 20th has no first name");
    assert_eq!(empty.part, Some(Part::Subject));
    assert!(
        empty.message.starts_with(&format!(
            "{} recipients would get an empty first name (subject, line 1) — add a default",
            n / 20
        )),
        "{}",
        empty.message
    );
    assert_eq!(empty.examples[0], 20);
    let fallback = report
        .issues
        .iter()
        .find(|i| {
            i.code == "fallback_used" && i.part == Some(Part::Html) && i.message.contains("there")
        })
        .unwrap();
    assert_eq!(fallback.count, n as u64 / 20);
    // Product 7's title has HTML in it.
    let expected_html: u64 = {
        let mut st = ws
            .conn()
            .prepare(
                "SELECT count(DISTINCT profile_id) FROM recommendations WHERE sku = 'SKU-0007'",
            )
            .unwrap();
        st.query_row([], |r| r.get(0)).unwrap()
    };
    assert!(expected_html > 0);
    assert_eq!(issue("html_in_data").count, expected_html);
    assert!(issue("html_in_data").message.contains("<b>Sale</b>"));
    let long_subject = issue("subject_too_long");
    assert_eq!(long_subject.count, n as u64);
    assert!(issue("missing_text")
        .message
        .contains("no plain-text version"));
    let unknown = issue("unknown_variable");
    assert_eq!(unknown.severity, Severity::Error);
    assert!(
        unknown
            .message
            .contains("did you mean `profile.first_name`"),
        "{}",
        unknown.message
    );
    assert_eq!(unknown.line, Some(1));

    // A template that fails for some recipients: counted with examples.
    let failing = [variant(
        "A",
        "Hi",
        "{{ profile.first_name | date('%Y') }}",
        "text",
    )];
    let report = lint(ws.conn(), &failing, &ids, NOW, &mut |_, _| {}).unwrap();
    let err = report
        .issues
        .iter()
        .find(|i| i.code == "render_error")
        .unwrap();
    assert_eq!(err.count, n as u64 - n as u64 / 20);
    assert_eq!(report.rendered, n as u64 / 20);
    assert!(err.message.contains("is not a date"), "{}", err.message);
    // A syntax error is a finding, not a failure.
    let broken = [variant("A", "Hi {{ ", "", "")];
    let report = lint(ws.conn(), &broken, &ids, NOW, &mut |_, _| {}).unwrap();
    assert_eq!(report.issues[0].code, "syntax");
}

#[test]
fn content_blocks_choose_by_segment() {
    let (_dir, mut ws) = workspace(60);
    let block = ContentBlock {
        name: "hero".into(),
        body: "Everyone else".into(),
        rules: vec![BlockRule {
            segment_id: 2,
            body: "<b>VIP</b> {{ profile.rfm_segment }}".into(),
        }],
        updated_at: String::new(),
    };
    save_block(ws.conn(), &block, NOW).unwrap();
    assert!(matches!(
        save_block(
            ws.conn(),
            &ContentBlock {
                rules: vec![BlockRule {
                    segment_id: 99,
                    body: "x".into()
                }],
                ..block.clone()
            },
            NOW
        ),
        Err(TemplateError::UnknownSegment { .. })
    ));
    assert!(matches!(
        save_block(
            ws.conn(),
            &ContentBlock {
                name: "bad name!".into(),
                ..block.clone()
            },
            NOW
        ),
        Err(TemplateError::BadBlockName(_))
    ));
    let e = save_block(
        ws.conn(),
        &ContentBlock {
            name: "broken".into(),
            body: "{% if %}".into(),
            rules: vec![],
            updated_at: String::new(),
        },
        NOW,
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("content block “broken”, line 1:"),
        "{e}"
    );
    let t = save(
        ws.conn_mut(),
        None,
        "With hero",
        &[variant(
            "A",
            "Hi",
            "<div>{{ block('hero') }}</div>",
            "{{ block('hero') }}",
        )],
        NOW,
    )
    .unwrap();
    let out = preview(
        ws.conn(),
        &t.variants,
        &(1..=60).collect::<Vec<_>>(),
        None,
        NOW,
    )
    .unwrap();
    for r in &out {
        let vip = r.segments.contains(&"VIP".to_string());
        let v = &r.variants[0];
        if vip {
            assert_eq!(v.html, "<div><b>VIP</b> Champions</div>");
            assert_eq!(v.text, "<b>VIP</b> Champions");
        } else {
            assert_eq!(v.html, "<div>Everyone else</div>");
        }
    }
    assert!(out.iter().any(|r| r.segments.contains(&"VIP".to_string())));
    assert_eq!(blocks(ws.conn()).unwrap().len(), 1);
    delete_block(ws.conn(), "hero").unwrap();
    assert!(matches!(
        delete_block(ws.conn(), "hero"),
        Err(TemplateError::BlockNotFound(_))
    ));
}

fn campaign(ws: &mut Workspace, template: &str) -> crate::campaigns::Campaign {
    campaigns::create(
        ws.conn(),
        NewCampaign {
            name: format!("Campaign {template}"),
            segment_id: 1,
            channel: Channel::Email,
            template: Some(template.into()),
            holdout_percent: 10.0,
        },
        NOW,
    )
    .unwrap()
}

fn sends(ws: &Workspace, campaign_id: i64) -> BTreeMap<String, i64> {
    let mut st = ws
        .conn()
        .prepare(
            "SELECT variant, count(*) FROM campaign_sends WHERE campaign_id = ?1 GROUP BY variant",
        )
        .unwrap();
    st.query_map([campaign_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn exports_carry_content_and_record_who_got_which_variant() {
    let n = 600;
    let (dir, mut ws) = workspace(n);
    let members: Vec<i64> = (1..=n).collect();
    save(
        ws.conn_mut(),
        None,
        "AB",
        &[
            variant(
                "A",
                "Hi {{ profile.first_name | default('there') }}",
                HTML,
                "Text A {{ campaign.variant }}",
            ),
            variant(
                "B",
                "Für dich, {{ profile.first_name | default('there') }}",
                HTML,
                "Text B {{ campaign.variant }}",
            ),
        ],
        NOW,
    )
    .unwrap();
    let c = campaign(&mut ws, "AB");

    // Generic CSV with rendered columns.
    let path = dir.path().join("out.csv");
    let request = ExportRequest {
        format: Format::Csv,
        columns: vec!["id".into(), "email".into()],
        bom: false,
        path: path.clone(),
        pseudonymise: false,
    };
    let summary = export_campaign(
        ws.conn_mut(),
        &c,
        &members,
        &request,
        Some(Content::Columns),
        None,
        None,
        None,
        NOW,
        &mut |_, _| {},
    )
    .unwrap();
    assert!(summary.exported > 400, "{summary:?}");
    let mut rdr = csv::Reader::from_path(&path).unwrap();
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "id",
            "email",
            "subject",
            "preheader",
            "html",
            "text",
            "variant"
        ]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len() as u64, summary.exported);
    for row in &rows {
        let variant = &row[6];
        assert!(variant == "A" || variant == "B");
        assert_eq!(row[5], format!("Text {variant} {variant}"));
        assert!(row[4].contains("<ul><li>"), "{}", &row[4]);
        let expected = if variant == "A" { "Hi " } else { "Für dich, " };
        assert!(row[2].starts_with(expected));
    }
    // One campaign_sends row per exported recipient, split between A and B
    // by the campaign's hash.
    let split = sends(&ws, c.id);
    assert_eq!(split.values().sum::<i64>() as u64, summary.exported);
    assert_eq!(split.len(), 2);
    assert!(
        split
            .values()
            .all(|&k| k as f64 > summary.exported as f64 * 0.35),
        "{split:?}"
    );
    assert_eq!(
        summary.sent_by_variant.values().sum::<u64>(),
        summary.exported
    );
    for row in &rows {
        let id: i64 = row[0].parse().unwrap();
        let v = crate::campaigns::holdout::variant_of(&c.salt, 2, id);
        assert_eq!(&row[6], ["A", "B"][v]);
        assert!(!crate::campaigns::is_held_out(&c.salt, 10.0, id));
    }

    // The same messages as .eml files in a zip.
    let zip_path = dir.path().join("messages.zip");
    let summary = export_campaign(
        ws.conn_mut(),
        &c,
        &members,
        &ExportRequest {
            path: zip_path.clone(),
            ..request.clone()
        },
        Some(Content::EmlZip),
        Some("Shop <news@shop.example>"),
        None,
        None,
        NOW,
        &mut |_, _| {},
    )
    .unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    assert_eq!(archive.len() as u64, summary.exported);
    let mut first = String::new();
    std::io::Read::read_to_string(&mut archive.by_index(0).unwrap(), &mut first).unwrap();
    assert!(first.contains("From: Shop <news@shop.example>\r\n"));
    assert!(first.contains("multipart/alternative"));
    assert!(first.contains("To: "));
    let logged = campaigns::exports(ws.conn(), Some(c.id)).unwrap();
    assert_eq!(logged[0].format, "eml_zip");
    assert_eq!(logged.len(), 2);
    assert_eq!(
        sends(&ws, c.id).values().sum::<i64>() as u64,
        summary.exported
    );

    // A folder of .eml files.
    let folder = dir.path().join("eml");
    let summary = export_campaign(
        ws.conn_mut(),
        &c,
        &members,
        &ExportRequest {
            path: folder.clone(),
            ..request.clone()
        },
        Some(Content::Eml),
        None,
        None,
        None,
        NOW,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count() as u64,
        summary.exported
    );
    assert!(summary.warnings.iter().any(|w| w.contains("no sender")));

    // Mailchimp with merge tags: the audience file gets a Variant column and
    // the translation is written beside it.
    let mc = dir.path().join("mailchimp.csv");
    let summary = export_campaign(
        ws.conn_mut(),
        &c,
        &members,
        &ExportRequest {
            format: Format::Mailchimp,
            columns: vec![],
            bom: false,
            path: mc.clone(),
            pseudonymise: false,
        },
        Some(Content::MergeTags),
        None,
        None,
        None,
        NOW,
        &mut |_, _| {},
    )
    .unwrap();
    let mut rdr = csv::Reader::from_path(&mc).unwrap();
    assert_eq!(rdr.headers().unwrap().iter().next_back(), Some("Variant"));
    assert!(dir.path().join("mailchimp-A-mailchimp.html").exists());
    let report =
        std::fs::read_to_string(dir.path().join("mailchimp-mailchimp-translation.txt")).unwrap();
    assert!(report.contains("could not be translated"), "{report}");
    assert!(
        report.contains("Subject: Hi *|IF:FNAME|**|FNAME|**|ELSE:|*there*|END:IF|*"),
        "{report}"
    );
    assert!(summary
        .warnings
        .iter()
        .any(|w| w.contains("Mailchimp template written")));

    // Wrong combinations are refused before anything is written.
    assert!(export_campaign(
        ws.conn_mut(),
        &c,
        &members,
        &ExportRequest {
            format: Format::Mailchimp,
            ..request.clone()
        },
        Some(Content::Columns),
        None,
        None,
        None,
        NOW,
        &mut |_, _| {},
    )
    .is_err());

    // A template that fails for a recipient stops the export: no file, no log.
    save(
        ws.conn_mut(),
        None,
        "Broken",
        &[variant(
            "A",
            "Hi {{ profile.first_name | date('%Y') }}",
            "",
            "",
        )],
        NOW,
    )
    .unwrap();
    let broken = campaign(&mut ws, "Broken");
    let bad = dir.path().join("bad.csv");
    let e = export_campaign(
        ws.conn_mut(),
        &broken,
        &members,
        &ExportRequest {
            path: bad.clone(),
            ..request.clone()
        },
        Some(Content::Columns),
        None,
        None,
        None,
        NOW,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("variant A, subject, line 1"), "{e}");
    assert!(e.to_string().contains("profile #"), "{e}");
    assert!(!bad.exists());
    assert!(campaigns::exports(ws.conn(), Some(broken.id))
        .unwrap()
        .is_empty());
    assert!(sends(&ws, broken.id).is_empty());

    // A plain export of a campaign without a template records variant ''.
    let plain = campaigns::create(
        ws.conn(),
        NewCampaign {
            name: "Plain".into(),
            segment_id: 1,
            channel: Channel::Email,
            template: None,
            holdout_percent: 0.0,
        },
        NOW,
    )
    .unwrap();
    let s = campaigns::export(
        ws.conn_mut(),
        &plain,
        &members,
        &ExportRequest {
            path: dir.path().join("plain.csv"),
            ..request.clone()
        },
        None,
        None,
        NOW,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(sends(&ws, plain.id).get(""), Some(&(s.exported as i64)));
}

#[test]
fn variables_list_the_workspace_fields() {
    let (_dir, ws) = workspace(10);
    let vars = variables(ws.conn()).unwrap();
    let find = |p: &str| vars.iter().find(|v| v.path == p).unwrap();
    assert_eq!(find("profile.first_name").label, "First name");
    assert_eq!(find("profile.clv").kind, "money");
    assert_eq!(find("profile.clv").snippet, "{{ profile.clv | money }}");
    assert!(!find("profile.rfm_segment").example.is_empty());
    assert_eq!(find("profile.orders").kind, "number");
    assert!(vars.iter().any(|v| v.path == "recommendations[].title"));
    assert!(vars.iter().any(|v| v.path == "consent.sms"));
}

#[test]
fn a_real_clustering_run_names_each_recipients_cluster() {
    let (_dir, mut ws) = workspace(120);
    let request = crate::cluster::runs::ClusterRequest {
        features: ["orders", "revenue", "days_since_last_order"]
            .map(String::from)
            .to_vec(),
        config: crate::cluster::Config {
            algorithm: crate::cluster::Algorithm::KMeans { k: Some(3) },
            ..crate::cluster::Config::default()
        },
    };
    let run =
        crate::cluster::runs::run(&mut ws, &request, NOW, &mut crate::progress::Silent).unwrap();
    let first = run.result.clusters[0].id;
    let run = crate::cluster::runs::rename(ws.conn(), run.id, first, "Big spenders").unwrap();
    let names: BTreeMap<i64, String> = run
        .result
        .clusters
        .iter()
        .map(|c| (i64::from(c.id), c.name.clone()))
        .collect();
    let conn = ws.conn();
    let member: BTreeMap<i64, i64> = conn
        .prepare("SELECT profile_id, cluster FROM cluster_members WHERE run_id = ?1")
        .unwrap()
        .query_map([run.id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!member.is_empty());

    let set = TemplateSet::for_workspace(
        conn,
        &[variant("A", "[{{ cluster }}]", "", "")],
        &render::Options::default(),
    )
    .unwrap();
    assert!(set.needs().cluster);
    let loader = ContextLoader::new(
        conn,
        &set.needs(),
        &context::CampaignInfo::preview(),
        &["A".to_owned()],
        NOW,
    )
    .unwrap();
    let ids: Vec<i64> = (1..=120).collect();
    let mut big_spenders = 0;
    for r in loader.load(conn, &ids).unwrap() {
        let expected = member
            .get(&r.id)
            .map(|c| names[c].clone())
            .unwrap_or_default();
        big_spenders += usize::from(expected == "Big spenders");
        assert_eq!(set.render(0, &r).unwrap().subject, format!("[{expected}]"));
    }
    assert!(big_spenders > 0, "the renamed cluster reaches its members");
}
