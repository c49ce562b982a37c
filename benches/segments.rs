//! Live segment counts at scale: 20 representative definitions on a
//! workspace of 1,000,000 profiles and 20,000,000 events, answered by the
//! in-memory index (`segments::index`) and by the plain SQL the compiler
//! writes; prints each definition's times, the median and p95 of both, and
//! checks that both give the same count.
//!
//! The workspace is the traits benchmark's (profiles, orders, events,
//! traits), given names, emails, countries and consent here:
//!
//!     scripts/bench-segments              # builds /tmp/cohort-bench-segments.cohort once
//!     SEGMENTS_DB=/path/ws.cohort cargo bench --bench segments
//!     SQL=0 ...                           # skip the SQL reference (slow)

use std::time::Instant;

use cohort::segments::{compile, index::SegmentIndex, rules::Definition};
use rusqlite::{params, Connection};

/// 2026-11-01T00:00:00Z, the traits benchmark's "now".
const NOW: &str = "2026-11-01T00:00:00Z";
const COUNTRIES: [&str; 8] = ["GB", "US", "DE", "FR", "NL", "ES", "IE", "SE"];
const CITIES: [&str; 6] = ["London", "Leeds", "Berlin", "Paris", "Madrid", "Dublin"];
const FIRST: [&str; 8] = [
    "Anna", "Ben", "Chloe", "David", "Emma", "Finn", "Grace", "Harry",
];

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let path = std::env::var("SEGMENTS_DB").expect(
        "SEGMENTS_DB: a workspace built by the traits benchmark (see scripts/bench-segments)",
    );
    let mut conn = Connection::open(&path).unwrap();
    decorate(&mut conn);
    let profiles: i64 = conn
        .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
        .unwrap();
    let events: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    eprintln!("workspace: {profiles} profiles, {events} events");

    let started = Instant::now();
    let index = SegmentIndex::build(&conn).unwrap();
    let stages: Vec<String> = index
        .build_stages
        .iter()
        .map(|(s, t)| format!("{s} {t:.2}"))
        .collect();
    // Peak memory of this process so far (the index, its build, the
    // decoration above when it ran).
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_default();
    eprintln!(
        "index built in {:.2} s [{}], peak RSS {peak}",
        started.elapsed().as_secs_f64(),
        stages.join(", ")
    );
    let with_sql = std::env::var("SQL").map(|v| v != "0").unwrap_or(true);
    let scale = 100;
    let mut fast = Vec::new();
    let mut slow = Vec::new();
    for (name, json) in definitions() {
        let def = Definition::from_json(json).unwrap();
        let compiled = compile::compile(&conn, &def, NOW, scale).unwrap();
        // Median of 5 runs per definition: the live count repeats while
        // the user types.
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..5 {
            let t = Instant::now();
            count = index.evaluate(&conn, &def, NOW).unwrap().len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let ms = times[2];
        fast.push(ms);
        let sql = if with_sql {
            let t = Instant::now();
            let n = compile::count(&conn, &compiled).unwrap();
            let sql_ms = t.elapsed().as_secs_f64() * 1000.0;
            slow.push(sql_ms);
            assert_eq!(n, count, "{name}: the index says {count}, SQL says {n}");
            format!("SQL {sql_ms:>8.1} ms")
        } else {
            String::new()
        };
        eprintln!("{name:<58} {count:>8} members  index {ms:>7.2} ms  {sql}");
    }
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i]
    };
    eprintln!(
        "index: median {:.2} ms, p95 {:.2} ms over {} definitions",
        pct(&mut fast, 0.5),
        pct(&mut fast, 0.95),
        fast.len()
    );
    if !slow.is_empty() {
        eprintln!(
            "SQL:   median {:.1} ms, p95 {:.1} ms (same definitions, same counts)",
            pct(&mut slow, 0.5),
            pct(&mut slow, 0.95)
        );
    }
}

fn mix(x: u64) -> u64 {
    let x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

/// Names, emails, countries, cities and a contact with consent for every
/// profile the traits benchmark made (it leaves them blank). Once.
fn decorate(conn: &mut Connection) {
    let done: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM profiles WHERE country IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if done {
        return;
    }
    let started = Instant::now();
    let tx = conn.transaction().unwrap();
    let ids: Vec<i64> = {
        let mut s = tx.prepare("SELECT id FROM profiles ORDER BY id").unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    {
        let mut profile = tx
            .prepare(
                "UPDATE profiles SET first_name = ?2, last_name = ?3, email = ?4, country = ?5,
                        city = ?6, gender = ?7 WHERE id = ?1",
            )
            .unwrap();
        let mut contact = tx
            .prepare(
                "INSERT INTO contacts (id, source_id, source_key, import_id, row_number, row_hash,
                        first_name, email, country, consent_email, consent_sms, consent_ads)
                 VALUES (?1, 1, ?2, 1, 0, 0, ?3, ?4, ?5, ?6, ?7, 'unknown')",
            )
            .unwrap();
        let mut link = tx
            .prepare(
                "UPDATE identity_records SET row_id = ?1
                  WHERE kind = 'contact' AND source_id = 1 AND source_key = ?2",
            )
            .unwrap();
        let consent = ["granted", "granted", "granted", "denied", "unknown"];
        for &id in &ids {
            let h = mix(id as u64 ^ 0xC0);
            let first = FIRST[(h % 8) as usize];
            let last = format!("Lastname{}", h % 5000);
            let email = format!(
                "{}.{}{}@example.com",
                first.to_lowercase(),
                last.to_lowercase(),
                id
            );
            let country = COUNTRIES[((h >> 8) % 8) as usize];
            profile
                .execute(params![
                    id,
                    first,
                    last,
                    email,
                    country,
                    CITIES[((h >> 16) % 6) as usize],
                    if h % 2 == 0 { "female" } else { "male" }
                ])
                .unwrap();
            let key = format!("C-{id}");
            contact
                .execute(params![
                    id,
                    key,
                    first,
                    email,
                    country,
                    consent[((h >> 20) % 5) as usize],
                    consent[((h >> 24) % 5) as usize]
                ])
                .unwrap();
            link.execute(params![id, key]).unwrap();
        }
    }
    tx.commit().unwrap();
    eprintln!(
        "gave {} profiles names, emails, places and consent in {:.1} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Twenty definitions of the kinds marketers build: narrow and broad
/// attribute filters, three-way ORs, behaviour windows, RFM, consent,
/// negations, 3–5 conditions.
fn definitions() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "country = GB",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"country","op":"eq","value":"GB"}]}}"#,
        ),
        (
            "GB or DE or FR (three-way OR)",
            r#"{"version":1,"root":{"match":"any","conditions":[
            {"type":"field","field":"country","op":"eq","value":"GB"},
            {"type":"field","field":"country","op":"eq","value":"DE"},
            {"type":"field","field":"country","op":"eq","value":"FR"}]}}"#,
        ),
        (
            "revenue > 500 and orders >= 3",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"revenue","op":"gt","value":500},
            {"type":"field","field":"orders","op":"ge","value":3}]}}"#,
        ),
        (
            "viewed an item in the last 90 days",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"event","did":true,"event":"view_item","within_days":90}]}}"#,
        ),
        (
            "viewed Tents 2+ times in 90 days, GB",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"country","op":"eq","value":"GB"},
            {"type":"event","did":true,"event":"view_item","within_days":90,
             "filters":[{"property":"category","op":"eq","value":"Tents"}],
             "count":{"op":"at_least","value":2}}]}}"#,
        ),
        (
            "added to cart in 30 days, no order in 30 days",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"event","did":true,"event":"add_to_cart","within_days":30},
            {"type":"order","did":false,"metric":"count","within_days":30}]}}"#,
        ),
        (
            "RFM Champions or Loyal, email consent",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"rfm_segment","op":"in","value":["Champions","Loyal"]},
            {"type":"consent","channel":"email","status":"granted"}]}}"#,
        ),
        (
            "At Risk / Cannot Lose Them, CLV > 200",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"rfm_segment","op":"in","value":["At Risk","Cannot Lose Them"]},
            {"type":"field","field":"clv","op":"gt","value":200}]}}"#,
        ),
        (
            "churn risk > 0.7 and revenue > 100, not GB",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"churn_risk","op":"gt","value":0.7},
            {"type":"field","field":"revenue","op":"gt","value":100},
            {"type":"field","field":"country","op":"ne","value":"GB"}]}}"#,
        ),
        (
            "last order more than 180 days ago",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"last_order_at","op":"more_than_days_ago","value":180}]}}"#,
        ),
        (
            "ordered at least 2 times in 365 days, mobile",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"order","did":true,"metric":"count","count":{"op":"at_least","value":2},"within_days":365},
            {"type":"field","field":"preferred_device","op":"eq","value":"mobile"}]}}"#,
        ),
        (
            "spent over 300 in 365 days",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"order","did":true,"metric":"total","op":"gt","value":300,"within_days":365}]}}"#,
        ),
        (
            "sessions from email channel in 180 days, 3+",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"event","did":true,"event":"session_start","within_days":180,
             "filters":[{"property":"channel","op":"eq","value":"email"}],
             "count":{"op":"at_least","value":3}}]}}"#,
        ),
        (
            "email contains 'anna', country in GB/IE",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"email","op":"contains","value":"anna"},
            {"type":"field","field":"country","op":"in","value":["GB","IE"]}]}}"#,
        ),
        (
            "NOT (US or revenue = 0)",
            r#"{"version":1,"root":{"match":"all","negate":true,"conditions":[
            {"type":"group","match":"any","conditions":[
              {"type":"field","field":"country","op":"eq","value":"US"},
              {"type":"field","field":"revenue","op":"eq","value":0}]}]}}"#,
        ),
        (
            "(GB and views_30d >= 1) or (DE and orders >= 5)",
            r#"{"version":1,"root":{"match":"any","conditions":[
            {"type":"group","match":"all","conditions":[
              {"type":"field","field":"country","op":"eq","value":"GB"},
              {"type":"field","field":"views_30d","op":"ge","value":1}]},
            {"type":"group","match":"all","conditions":[
              {"type":"field","field":"country","op":"eq","value":"DE"},
              {"type":"field","field":"orders","op":"ge","value":5}]}]}}"#,
        ),
        (
            "viewed Bikes, never added to cart (ever), 5 conditions",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"event","did":true,"event":"view_item","within_days":180,
             "filters":[{"property":"category","op":"in","value":["Bikes","Helmets"]}]},
            {"type":"event","did":false,"event":"add_to_cart"},
            {"type":"field","field":"country","op":"in","value":["GB","US","DE"]},
            {"type":"consent","channel":"email","status":"granted"},
            {"type":"field","field":"p_alive","op":"ge","value":0.2}]}}"#,
        ),
        (
            "page views at most 2 in 60 days, buyers",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"event","did":true,"event":"page_view","within_days":60,"count":{"op":"at_most","value":2}},
            {"type":"field","field":"orders","op":"ge","value":1}]}}"#,
        ),
        (
            "first order in 2026, desktop or tablet",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"first_order_at","op":"ge","value":"2026-01-01"},
            {"type":"field","field":"preferred_device","op":"in","value":["desktop","tablet"]}]}}"#,
        ),
        (
            "SMS consent denied or unknown, AOV between 50 and 150",
            r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"group","match":"any","conditions":[
              {"type":"consent","channel":"sms","status":"denied"},
              {"type":"consent","channel":"sms","status":"unknown"}]},
            {"type":"field","field":"average_order_value","op":"between","value":[50,150]}]}}"#,
        ),
    ]
}
