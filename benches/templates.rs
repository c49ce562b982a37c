//! Personalised rendering at scale: a generated workspace of PROFILES
//! profiles (default 100,000) with traits and five stored recommendations
//! each (`templates::testdata`, SQL inserts, seeded), then a ~30-line HTML
//! template with a conditional on the RFM segment, a loop over the
//! recommendations and the `money` filter, rendered for everyone: the
//! context fetched from SQLite in chunks (one thread) while the previous
//! chunk renders (rayon), as exports do.
//!
//!     cargo bench --bench templates
//!     TEMPLATES_PROFILES=20000 cargo bench --bench templates
//!     TEMPLATES_DB=/tmp/t.cohort cargo bench --bench templates    # keep the workspace
//!     TEMPLATES_DUMP=/tmp/dir cargo bench --bench templates       # + contexts.jsonl, template.html, expected.jsonl
//!
//! `scripts/bench-templates` runs this with TEMPLATES_DUMP and times
//! Jinja2 on the same template and contexts. Prints `renders_per_second N`.
//! Target (issue 8): 50,000 renders/s or more on a 2-core machine.

use std::io::Write;
use std::time::Instant;

use cohort::store::Workspace;
use cohort::templates::context::{pipeline, CampaignInfo, ContextLoader};
use cohort::templates::render::{Options, TemplateSet};
use cohort::templates::{testdata, Part, Variant};
use minijinja::value::ValueKind;
use minijinja::Value;
use rayon::prelude::*;

// As in the `cohort` binary: rendering allocates on rayon threads and
// frees on the reading thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub const TEMPLATE: &str = r#"<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{{ campaign.name }}</title></head>
<body style="font-family: Helvetica, Arial, sans-serif; color: #222;">
  <table width="600" cellpadding="0" cellspacing="0" align="center">
    <tr><td><h1>Hi {{ profile.first_name | default("there") | title }},</h1></td></tr>
    <tr><td>
      {% if profile.rfm_segment == "Champions" %}
      <p>You are one of our best customers: {{ profile.orders }} order{{ profile.orders | pluralize }} and counting.</p>
      <p>As a thank-you, here is early access to the new season.</p>
      {% elif profile.rfm_segment in ["At Risk", "Cannot Lose Them", "Hibernating"] %}
      <p>We miss you! It has been a while since your last order.</p>
      {% else %}
      <p>Here is what we picked for you this week.</p>
      {% endif %}
    </td></tr>
    {% for item in recommendations %}
    <tr><td style="padding: 8px 0;">
      <strong>{{ loop.index }}. {{ item.title }}</strong> by {{ item.brand }}<br>
      {{ item.category }} · {{ item.price | money(item.currency) }}<br>
      <em>{{ item.reason }}</em>
    </td></tr>
    {% endfor %}
    <tr><td>
      <p>Your lifetime value with us: {{ profile.clv | money }}</p>
      <p><a href="https://shop.example/account?id={{ profile.id }}">Your account</a></p>
    </td></tr>
  </table>
</body>
</html>
"#;

fn main() {
    // `cargo test --all-targets` runs bench binaries too; only `cargo bench` passes --bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n: i64 = std::env::var("TEMPLATES_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var("TEMPLATES_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("ws.cohort"));
    let fresh = !path.exists();
    let mut ws = Workspace::open(&path).unwrap();
    if fresh {
        let started = Instant::now();
        testdata::generate(ws.conn_mut(), n, 42).unwrap();
        eprintln!(
            "generated {n} profiles with traits and 5 recommendations each in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let now = "2026-11-01T12:00:00Z";
    let conn = ws.conn();
    let ids: Vec<i64> = {
        let mut st = conn.prepare("SELECT id FROM profiles ORDER BY id").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let variants = [Variant {
        name: "A".into(),
        subject: "Picked for you".into(),
        html: TEMPLATE.into(),
        ..Variant::default()
    }];
    let set = TemplateSet::for_workspace(conn, &variants, &Options::default()).unwrap();
    let info = CampaignInfo {
        name: "Autumn picks".into(),
        channel: "email".into(),
    };
    let names = ["A".to_owned()];
    let needs = set.needs();
    let threads = rayon::current_num_threads();
    eprintln!(
        "template: {} lines; context read: {:?}; {} rendering threads",
        TEMPLATE.lines().count(),
        needs,
        threads
    );

    // The figure: fetch + render, pipelined, for every profile.
    let mut best = f64::MAX;
    let mut bytes = 0usize;
    for _ in 0..3 {
        let started = Instant::now();
        let loader = ContextLoader::new(conn, &needs, &info, &names, now).unwrap();
        let mut total = 0usize;
        let mut rendered = 0usize;
        pipeline(
            conn,
            &loader,
            &ids,
            4096,
            |batch| {
                batch
                    .par_iter()
                    .map(|r| {
                        set.render_part(0, Part::Html, &r.context(0))
                            .expect("renders")
                            .len()
                    })
                    .sum::<usize>()
            },
            |batch, sum| {
                rendered += batch.len();
                total += sum;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(rendered, ids.len());
        best = best.min(started.elapsed().as_secs_f64());
        bytes = total;
    }
    eprintln!(
        "fetch + render of {} profiles: {:.3} s (best of 3), {:.1} MB of HTML",
        ids.len(),
        best,
        bytes as f64 / 1e6
    );

    // Where the time goes: fetching alone, rendering alone.
    let loader = ContextLoader::new(conn, &needs, &info, &names, now).unwrap();
    let started = Instant::now();
    let mut contexts = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(4096) {
        contexts.extend(loader.load(conn, chunk).unwrap());
    }
    let fetch = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let one: usize = contexts
        .iter()
        .map(|r| set.render_part(0, Part::Html, &r.context(0)).unwrap().len())
        .sum();
    let single = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let par: usize = contexts
        .par_iter()
        .map(|r| set.render_part(0, Part::Html, &r.context(0)).unwrap().len())
        .sum();
    let parallel = started.elapsed().as_secs_f64();
    assert_eq!(one, par);
    let rate = |s: f64| ids.len() as f64 / s;
    eprintln!("fetch only (1 thread):   {:>9.0} contexts/s", rate(fetch));
    eprintln!("render only (1 thread):  {:>9.0} renders/s", rate(single));
    eprintln!(
        "render only ({threads} threads): {:>9.0} renders/s",
        rate(parallel)
    );

    if let Ok(out) = std::env::var("TEMPLATES_DUMP") {
        let out = std::path::PathBuf::from(out);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("template.html"), TEMPLATE).unwrap();
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(out.join("contexts.jsonl")).unwrap());
        for r in &contexts {
            writeln!(f, "{}", to_json(&r.context(0))).unwrap();
        }
        f.flush().unwrap();
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(out.join("expected.jsonl")).unwrap());
        for r in contexts.iter().take(500) {
            let html = set.render_part(0, Part::Html, &r.context(0)).unwrap();
            writeln!(f, "{}", serde_json::Value::String(html)).unwrap();
        }
        f.flush().unwrap();
        eprintln!("wrote contexts and the template to {}", out.display());
    }
    println!("renders_per_second {:.0}", rate(best));
}

/// A template value as JSON (for Jinja2): maps, lists, text, numbers.
fn to_json(v: &Value) -> serde_json::Value {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => serde_json::Value::Null,
        ValueKind::Bool => serde_json::Value::Bool(v.is_true()),
        ValueKind::Number => match v.as_i64() {
            Some(i) => i.into(),
            None => serde_json::json!(f64::try_from(v.clone()).unwrap_or(0.0)),
        },
        ValueKind::String => serde_json::Value::String(v.as_str().unwrap_or("").to_owned()),
        ValueKind::Seq | ValueKind::Iterable => {
            serde_json::Value::Array(v.try_iter().unwrap().map(|x| to_json(&x)).collect())
        }
        ValueKind::Map => {
            let mut m = serde_json::Map::new();
            for k in v.try_iter().unwrap() {
                let item = v.get_item(&k).unwrap_or(Value::from(()));
                m.insert(k.to_string(), to_json(&item));
            }
            serde_json::Value::Object(m)
        }
        _ => serde_json::Value::String(v.to_string()),
    }
}
