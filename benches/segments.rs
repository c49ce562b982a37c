//! Live segment counts at scale: 20 representative definitions on a
//! workspace of 1,000,000 profiles and 20,000,000 events, answered the way
//! the app answers them (`LiveCounts::count`: compile, the in-memory
//! index, a sample of members) and by the plain SQL the compiler writes;
//! prints each definition's times, the median and p95 of both, and checks
//! that both give the same count.
//!
//! Most definitions have 3–5 conditions, and between them they use every
//! kind the index holds: fields, consent, events with canonical and custom
//! property filters, orders with a category or product, sequences ("added
//! to cart and no session within 24 hours"), saved segments (dynamic and
//! static) and clusters. Every run is timed, the first (cold) one of each
//! definition included: nothing is warmed up before the clock starts.
//!
//! The workspace is the traits benchmark's (profiles, orders, events,
//! traits), given names, emails, countries and consent here, plus custom
//! properties on product views, a clustering run and two saved segments:
//!
//!     scripts/bench-segments              # builds /tmp/cohort-bench-segments.cohort once
//!     SEGMENTS_DB=/path/ws.cohort cargo bench --bench segments
//!     SQL=0 ...                           # skip the SQL reference (slow)

use std::path::Path;
use std::time::{Duration, Instant};

use cohort::segments::{compile, live::LiveCounts, rules::Definition};
use rusqlite::{params, Connection};

/// 2026-11-01T00:00:00Z, the traits benchmark's "now".
const NOW: &str = "2026-11-01T00:00:00Z";
const COUNTRIES: [&str; 8] = ["GB", "US", "DE", "FR", "NL", "ES", "IE", "SE"];
const CITIES: [&str; 6] = ["London", "Leeds", "Berlin", "Paris", "Madrid", "Dublin"];
const FIRST: [&str; 8] = [
    "Anna", "Ben", "Chloe", "David", "Emma", "Finn", "Grace", "Harry",
];
/// Runs per definition (the first is cold).
const RUNS: usize = 5;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let path = std::env::var("SEGMENTS_DB").expect(
        "SEGMENTS_DB: a workspace built by the traits benchmark (see scripts/bench-segments)",
    );
    let mut conn = Connection::open(&path).unwrap();
    decorate(&mut conn);
    let (dynamic, fixed) = extras(&mut conn);
    let profiles: i64 = conn
        .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
        .unwrap();
    let events: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    eprintln!("workspace: {profiles} profiles, {events} events");

    // The app's path: the live counter builds its index in the background
    // (answering with SQL meanwhile); wait for it.
    let live = LiveCounts::new();
    let file = Path::new(&path);
    let started = Instant::now();
    let index = loop {
        if let Some(index) = live.current(&conn, file).unwrap() {
            break index;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stages: Vec<String> = index
        .build_stages
        .iter()
        .map(|(s, t)| format!("{s} {t:.2}"))
        .collect();
    let memory: Vec<String> = index
        .memory()
        .iter()
        .map(|(s, b)| format!("{s} {:.1} MB", *b as f64 / 1e6))
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
        "index built in {:.2} s (ready after {:.2} s) [{}], peak RSS {peak}",
        index.build_seconds,
        started.elapsed().as_secs_f64(),
        stages.join(", ")
    );
    eprintln!("index memory: {}", memory.join(", "));
    let with_sql = std::env::var("SQL").map(|v| v != "0").unwrap_or(true);
    let scale = 100;
    let mut all_runs = Vec::new();
    let mut cold = Vec::new();
    let mut slow = Vec::new();
    let mut conditions = Vec::new();
    for (name, json) in definitions(dynamic, fixed) {
        let def = Definition::from_json(&json).unwrap();
        conditions.push(leaves(&def.root));
        let compiled = compile::compile(&conn, &def, NOW, scale).unwrap();
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let answer = live.count(&conn, file, &def, NOW, 20).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(answer.engine, "index", "{name}: answered by the index");
            count = answer.count;
        }
        let first = times[0];
        cold.push(first);
        all_runs.extend_from_slice(&times);
        times.sort_by(f64::total_cmp);
        let ms = times[RUNS / 2];
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
        eprintln!(
            "{name:<74} {count:>8} members  cold {first:>7.2} ms  median {ms:>7.2} ms  {sql}"
        );
    }
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i]
    };
    let runs = all_runs.len();
    eprintln!(
        "{} definitions, {} with 3–5 conditions",
        conditions.len(),
        conditions.iter().filter(|&&n| (3..=5).contains(&n)).count()
    );
    eprintln!(
        "live count (LiveCounts::count on the index): median {:.2} ms, p95 {:.2} ms, max {:.2} ms over {runs} runs (every run, cold ones included)",
        pct(&mut all_runs, 0.5),
        pct(&mut all_runs, 0.95),
        pct(&mut all_runs, 1.0),
    );
    eprintln!(
        "first (cold) run of each definition: median {:.2} ms, p95 {:.2} ms",
        pct(&mut cold, 0.5),
        pct(&mut cold, 0.95)
    );
    if !slow.is_empty() {
        eprintln!(
            "SQL:   median {:.1} ms, p95 {:.1} ms (same definitions, same counts)",
            pct(&mut slow, 0.5),
            pct(&mut slow, 0.95)
        );
    }
}

/// Conditions of a rule, not counting the groups that hold them.
fn leaves(g: &cohort::segments::rules::Group) -> usize {
    use cohort::segments::rules::Condition;
    g.conditions
        .iter()
        .map(|c| match c {
            Condition::Group(g) => leaves(g),
            _ => 1,
        })
        .sum()
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

/// What the definitions refer to besides profiles and behaviour, once:
/// custom properties on product views (an export's own columns land in
/// `properties`), a clustering run of five clusters, and two saved
/// segments (dynamic "GB buyers", static "high spenders"). Returns the
/// segments' ids (dynamic, static).
fn extras(conn: &mut Connection) -> (i64, i64) {
    let started = Instant::now();
    let has_props: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM events WHERE name = 'view_item' AND properties IS NOT NULL)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if !has_props {
        conn.execute_batch(
            "UPDATE events SET properties = json_object(
                 'item_list', 'list_' || (id % 7),
                 'promo', CASE id % 3 WHEN 0 THEN 'SPRING' WHEN 1 THEN 'SUMMER' END)
              WHERE name = 'view_item'",
        )
        .unwrap();
    }
    // Consent is the ledger's, which an import fills: the contacts given
    // consent above get their evidence the way the ledger's migration
    // backfills it (without it no one has consent and every rule with a
    // consent condition is empty).
    let ledger: i64 = conn
        .query_row("SELECT count(*) FROM consent_ledger", [], |r| r.get(0))
        .unwrap();
    if ledger == 0 {
        conn.execute_batch(
            "INSERT INTO consent_ledger (channel, status, reason, contact_id, source, at,
                                         import_id, row_number, recorded_at)
             SELECT channel, status, reason, contact_id, source,
                    coalesce(at, '2026-01-01T00:00:00Z'), import_id, row_number,
                    '2026-01-01T00:00:00Z'
               FROM contact_consent_evidence ORDER BY contact_id, channel",
        )
        .unwrap();
    }
    let has_run: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM cluster_runs)", [], |r| {
            r.get(0)
        })
        .unwrap();
    if !has_run {
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO cluster_runs (created_at, algorithm, features, params, result)
             VALUES (?1, 'kmeans', '[]', '{}', '{}')",
            [NOW],
        )
        .unwrap();
        let run = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO cluster_members (run_id, profile_id, cluster)
             SELECT ?1, id, (id * 2654435761) % 5 FROM profiles",
            [run],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let mut segment = |name: &str, json: &str, dynamic: bool| -> i64 {
        let id: Option<i64> = conn
            .query_row("SELECT id FROM segments WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .ok();
        id.unwrap_or_else(|| {
            let def = Definition::from_json(json).unwrap();
            let saved = if dynamic {
                cohort::segments::save_dynamic(conn, name, &def, None, NOW)
            } else {
                cohort::segments::save_static_from_rule(conn, name, &def, None, NOW)
            };
            saved.unwrap().id
        })
    };
    let dynamic = segment(
        "Bench GB buyers",
        r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"country","op":"eq","value":"GB"},
            {"type":"field","field":"orders","op":"ge","value":1}]}}"#,
        true,
    );
    let fixed = segment(
        "Bench high spenders",
        r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"revenue","op":"gt","value":500}]}}"#,
        false,
    );
    if !has_props || !has_run || ledger == 0 {
        eprintln!(
            "added custom properties, consent evidence, a clustering run and two segments in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    (dynamic, fixed)
}

/// Twenty definitions of the kinds marketers build, most with 3–5
/// conditions: attribute filters and three-way ORs, behaviour windows with
/// canonical and custom property filters, orders by category and product,
/// sequences, RFM, consent, segment and cluster membership, negations.
fn definitions(dynamic: i64, fixed: i64) -> Vec<(&'static str, String)> {
    let d = |root: &str| format!(r#"{{"version":1,"root":{root}}}"#);
    let gb_buyers = format!(r#"{{"type":"segment","segment":{dynamic}}}"#);
    let high_spenders = format!(r#"{{"type":"segment","segment":{fixed}}}"#);
    vec![
        (
            "viewed an item in the last 90 days (1)",
            d(r#"{"match":"all","conditions":[
            {"type":"event","did":true,"event":"view_item","within_days":90}]}"#),
        ),
        (
            "GB, email consent, viewed in 30 days (3)",
            d(r#"{"match":"all","conditions":[
            {"type":"field","field":"country","op":"eq","value":"GB"},
            {"type":"consent","channel":"email","status":"granted"},
            {"type":"event","did":true,"event":"view_item","within_days":30}]}"#),
        ),
        (
            "(GB or DE or FR), revenue > 100, churn risk < 0.5 (5)",
            d(r#"{"match":"all","conditions":[
            {"type":"group","match":"any","conditions":[
              {"type":"field","field":"country","op":"eq","value":"GB"},
              {"type":"field","field":"country","op":"eq","value":"DE"},
              {"type":"field","field":"country","op":"eq","value":"FR"}]},
            {"type":"field","field":"revenue","op":"gt","value":100},
            {"type":"field","field":"churn_risk","op":"lt","value":0.5}]}"#),
        ),
        (
            "cart, no session within 24 h (30 d), email consent, GB/IE/US (3)",
            d(r#"{"match":"all","conditions":[
            {"type":"sequence","first":"add_to_cart","then":"session_start","then_did":false,"within_hours":24,"in_last_days":30},
            {"type":"consent","channel":"email","status":"granted"},
            {"type":"field","field":"country","op":"in","value":["GB","IE","US"]}]}"#),
        ),
        (
            "viewed then carted within 1 h (90 d), mobile, buyers (3)",
            d(r#"{"match":"all","conditions":[
            {"type":"sequence","first":"view_item","then":"add_to_cart","then_did":true,"within_hours":1,"in_last_days":90},
            {"type":"field","field":"preferred_device","op":"eq","value":"mobile"},
            {"type":"field","field":"orders","op":"ge","value":1}]}"#),
        ),
        (
            "ordered Tents in 365 d, spent > 200 in 365 d, email consent (3)",
            d(r#"{"match":"all","conditions":[
            {"type":"order","did":true,"metric":"count","category":"Tents","within_days":365},
            {"type":"order","did":true,"metric":"total","op":"gt","value":200,"within_days":365},
            {"type":"consent","channel":"email","status":"granted"}]}"#),
        ),
        (
            "ordered SKU-17 ever, not in cluster 2, GB/DE (3)",
            d(r#"{"match":"all","conditions":[
            {"type":"order","did":true,"metric":"count","sku":"sku-17"},
            {"type":"cluster","cluster":2,"negate":true},
            {"type":"field","field":"country","op":"in","value":["GB","DE"]}]}"#),
        ),
        (
            "segment GB buyers (dynamic), viewed Bikes 2+ in 90 d, p_alive ≥ 0.3 (3)",
            d(&format!(
                r#"{{"match":"all","conditions":[{gb_buyers},
            {{"type":"event","did":true,"event":"view_item","within_days":90,
             "filters":[{{"property":"category","op":"eq","value":"Bikes"}}],
             "count":{{"op":"at_least","value":2}}}},
            {{"type":"field","field":"p_alive","op":"ge","value":0.3}}]}}"#
            )),
        ),
        (
            "(high spenders (static) or cluster 1), email consent, 3+ email sessions (4)",
            d(&format!(
                r#"{{"match":"all","conditions":[
            {{"type":"group","match":"any","conditions":[{high_spenders},
              {{"type":"cluster","cluster":1}}]}},
            {{"type":"consent","channel":"email","status":"granted"}},
            {{"type":"event","did":true,"event":"session_start","within_days":180,
             "filters":[{{"property":"channel","op":"eq","value":"email"}}],
             "count":{{"op":"at_least","value":3}}}}]}}"#
            )),
        ),
        (
            "viewed with promo SPRING 2+ in 90 d (custom property), GB, consent (3)",
            d(r#"{"match":"all","conditions":[
            {"type":"event","did":true,"event":"view_item","within_days":90,
             "filters":[{"property":"properties.promo","op":"eq","value":"spring"}],
             "count":{"op":"at_least","value":2}},
            {"type":"field","field":"country","op":"eq","value":"GB"},
            {"type":"consent","channel":"email","status":"granted"}]}"#),
        ),
        (
            "viewed Tents from list 1/2 (custom + category), no order in 30 d, revenue > 50 (3)",
            d(r#"{"match":"all","conditions":[
            {"type":"event","did":true,"event":"view_item",
             "filters":[{"property":"properties.item_list","op":"in","value":["list_1","list_2"]},
                        {"property":"category","op":"eq","value":"Tents"}]},
            {"type":"order","did":false,"metric":"count","within_days":30},
            {"type":"field","field":"revenue","op":"gt","value":50}]}"#),
        ),
        (
            "Champions/Loyal, email consent, CLV > 200, last order in 90 days (4)",
            d(r#"{"match":"all","conditions":[
            {"type":"field","field":"rfm_segment","op":"in","value":["Champions","Loyal"]},
            {"type":"consent","channel":"email","status":"granted"},
            {"type":"field","field":"clv","op":"gt","value":200},
            {"type":"field","field":"last_order_at","op":"in_last_days","value":90}]}"#),
        ),
        (
            "At Risk/Cannot Lose, no order in 180 d, viewed in 30 d, consent (4)",
            d(r#"{"match":"all","conditions":[
            {"type":"field","field":"rfm_segment","op":"in","value":["At Risk","Cannot Lose Them"]},
            {"type":"order","did":false,"metric":"count","within_days":180},
            {"type":"event","did":true,"event":"view_item","within_days":30},
            {"type":"consent","channel":"email","status":"granted"}]}"#),
        ),
        (
            "churn risk > 0.7 and revenue > 100, not GB (3)",
            d(r#"{"match":"all","conditions":[
            {"type":"field","field":"churn_risk","op":"gt","value":0.7},
            {"type":"field","field":"revenue","op":"gt","value":100},
            {"type":"field","field":"country","op":"ne","value":"GB"}]}"#),
        ),
        (
            "NOT (US or revenue = 0), email contains 'anna' (3)",
            d(r#"{"match":"all","conditions":[
            {"type":"group","match":"any","negate":true,"conditions":[
              {"type":"field","field":"country","op":"eq","value":"US"},
              {"type":"field","field":"revenue","op":"eq","value":0}]},
            {"type":"field","field":"email","op":"contains","value":"anna"}]}"#),
        ),
        (
            "(GB and views_30d >= 1) or (DE and orders >= 5) (4)",
            d(r#"{"match":"any","conditions":[
            {"type":"group","match":"all","conditions":[
              {"type":"field","field":"country","op":"eq","value":"GB"},
              {"type":"field","field":"views_30d","op":"ge","value":1}]},
            {"type":"group","match":"all","conditions":[
              {"type":"field","field":"country","op":"eq","value":"DE"},
              {"type":"field","field":"orders","op":"ge","value":5}]}]}"#),
        ),
        (
            "viewed Bikes/Helmets, never carted, GB/US/DE, consent, p_alive ≥ 0.2 (5)",
            d(r#"{"match":"all","conditions":[
            {"type":"event","did":true,"event":"view_item","within_days":180,
             "filters":[{"property":"category","op":"in","value":["Bikes","Helmets"]}]},
            {"type":"event","did":false,"event":"add_to_cart"},
            {"type":"field","field":"country","op":"in","value":["GB","US","DE"]},
            {"type":"consent","channel":"email","status":"granted"},
            {"type":"field","field":"p_alive","op":"ge","value":0.2}]}"#),
        ),
        (
            "page views ≤ 2 in 60 d, buyers, recency score 4 or 5 (3)",
            d(r#"{"match":"all","conditions":[
            {"type":"event","did":true,"event":"page_view","within_days":60,"count":{"op":"at_most","value":2}},
            {"type":"field","field":"orders","op":"ge","value":1},
            {"type":"field","field":"rfm_recency","op":"in","value":[4,5]}]}"#),
        ),
        (
            "first order in 2026, desktop/tablet, ordered Socks in 365 d, SMS consent (4)",
            d(r#"{"match":"all","conditions":[
            {"type":"field","field":"first_order_at","op":"ge","value":"2026-01-01"},
            {"type":"field","field":"preferred_device","op":"in","value":["desktop","tablet"]},
            {"type":"order","did":true,"metric":"count","category":"socks","within_days":365},
            {"type":"consent","channel":"sms","status":"granted"}]}"#),
        ),
        (
            "(SMS denied or unknown), AOV 50–150, cluster 3, carted twice within 24 h (5)",
            d(r#"{"match":"all","conditions":[
            {"type":"group","match":"any","conditions":[
              {"type":"consent","channel":"sms","status":"denied"},
              {"type":"consent","channel":"sms","status":"unknown"}]},
            {"type":"field","field":"average_order_value","op":"between","value":[50,150]},
            {"type":"cluster","cluster":3},
            {"type":"sequence","first":"add_to_cart","then":"add_to_cart","then_did":true,"within_hours":24}]}"#),
        ),
    ]
}
