//! Traits at scale: a full `traits::compute` over a generated workspace of
//! PROFILES profiles (default 1,000,000) with 10 order lines and 20 events
//! per profile on average (10,000,000 and 20,000,000), written straight
//! into the tables (no import, no resolution), then an incremental
//! `traits::refresh` after a 10,000-order import.
//!
//!     cargo bench --bench traits
//!     PROFILES=100000 cargo bench --bench traits
//!     TRAITS_DB=/tmp/t.cohort cargo bench --bench traits   # keep the workspace between runs

use cohort::progress::Silent;
use cohort::store::Workspace;
use cohort::traits::{self, predict, TraitsOptions};
use rusqlite::{params, Connection};

const CATEGORIES: [&str; 12] = [
    "Running Shoes",
    "Socks",
    "Tents",
    "Jackets",
    "Bikes",
    "Helmets",
    "Yoga Mats",
    "Bottles",
    "Backpacks",
    "Swimwear",
    "Gloves",
    "Lamps",
];
const EVENTS: [&str; 6] = [
    "session_start",
    "page_view",
    "view_item",
    "view_item",
    "add_to_cart",
    "page_view",
];
const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];
const CHANNELS: [&str; 5] = ["organic", "email", "cpc", "social", "referral"];
/// 2026-11-01T00:00:00Z.
const NOW: i64 = 1_793_491_200;

fn main() {
    // `cargo test --all-targets` runs bench binaries too; only `cargo bench` passes --bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n: i64 = std::env::var("PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var("TRAITS_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("ws.cohort"));
    let fresh = !path.exists();
    let mut ws = Workspace::open(&path).unwrap();
    if fresh {
        let started = std::time::Instant::now();
        let (orders, lines, events) = generate(ws.conn_mut(), n);
        eprintln!(
            "generated {n} profiles, {orders} orders, {lines} order lines, {events} events in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let now = chrono::DateTime::from_timestamp(NOW, 0).unwrap();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for round in 1..=rounds {
        let r = traits::compute(&mut ws, now, TraitsOptions::default(), &mut Silent).unwrap();
        let stages: Vec<String> = r
            .stages
            .iter()
            .map(|(s, t)| format!("{s} {t:.2}"))
            .collect();
        eprintln!(
            "compute #{round}: {} profiles ({} buyers), {} orders, {} events in {:.2} s [{}]",
            r.profiles,
            r.buyers,
            r.orders,
            r.events,
            r.seconds,
            stages.join(", ")
        );
        if let (Some(bg), Some(gg)) = (r.model.bgnbd, r.model.gamma_gamma) {
            eprintln!(
                "  BG/NBD r={:.3} α={:.3} a={:.3} b={:.3}; Gamma-Gamma p={:.3} q={:.3} γ={:.3}",
                bg.r, bg.alpha, bg.a, bg.b, gg.p, gg.q, gg.gamma
            );
        } else if let Some(p) = &r.model.fit_problem {
            eprintln!("  models: {p}");
        }
    }

    // An import of 10,000 orders for existing profiles, then a refresh.
    let import = add_orders(ws.conn_mut(), n, 10_000);
    let started = std::time::Instant::now();
    let r = traits::refresh(&mut ws, now, &mut Silent).unwrap();
    eprintln!(
        "refresh after an import of 10,000 orders (import {import}): {} profiles in {:.2} s",
        r.profiles,
        started.elapsed().as_secs_f64()
    );
}

fn mix(x: u64) -> u64 {
    let x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// n profiles, each with a contact and a device record; orders from a
/// simulated BG/NBD history of 1–4 lines each, 20 events per profile on
/// average over its device, in sessions.
fn generate(conn: &mut Connection, n: i64) -> (u64, u64, u64) {
    let tx = conn.transaction().unwrap();
    tx.execute_batch(
        "INSERT INTO sources (id, name, kind, created_at) VALUES
           (1, 'Shop customers', 'contacts', 'x'), (2, 'Shop orders', 'orders', 'x'),
           (3, 'Shop lines', 'order_lines', 'x'), (4, 'GA4', 'events', 'x'), (5, 'Catalogue', 'products', 'x');
         INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at)
           VALUES (1, 1, 'f', 'f', 0, 'h1', 'contacts', '[]', '{}', 'x', 'x'),
                  (2, 2, 'f', 'f', 0, 'h2', 'orders', '[]', '{}', 'x', 'x'),
                  (3, 3, 'f', 'f', 0, 'h3', 'order_lines', '[]', '{}', 'x', 'x'),
                  (4, 4, 'f', 'f', 0, 'h4', 'events', '[]', '{}', 'x', 'x'),
                  (5, 5, 'f', 'f', 0, 'h5', 'products', '[]', '{}', 'x', 'x');",
    )
    .unwrap();
    {
        let mut p = tx
            .prepare("INSERT INTO products (source_id, source_key, import_id, row_number, row_hash, sku, category, brand, price) VALUES (5, ?1, 5, 0, 0, ?1, ?2, ?3, 1000)")
            .unwrap();
        for s in 0..2000 {
            let sku = format!("SKU-{s}");
            p.execute(params![
                sku,
                CATEGORIES[s % CATEGORIES.len()],
                format!("Brand {}", s % 37)
            ])
            .unwrap();
        }
    }
    let (mut orders, mut lines, mut events) = (0u64, 0u64, 0u64);
    // Purchase histories drawn from BG/NBD and Gamma-Gamma (so the model
    // fits have something to find) over three years.
    let histories = predict::simulate(
        &predict::BgNbd::new(1.0, 60.0, 1.0, 3.0).unwrap(),
        &predict::GammaGamma::new(6.25, 3.74, 15.44).unwrap(),
        n as usize,
        3 * 365,
        2005,
    );
    {
        let mut profile = tx
            .prepare("INSERT INTO profiles (id, created_at, updated_at) VALUES (?1, 'x', 'x')")
            .unwrap();
        let mut record = tx
            .prepare("INSERT INTO identity_records (kind, source_id, source_key, row_id, fingerprint, profile_id) VALUES (?1, ?2, ?3, ?4, 0, ?5)")
            .unwrap();
        let mut order = tx
            .prepare("INSERT INTO orders (id, source_id, source_key, import_id, row_number, row_hash, ordered_at, currency, total, discount, refunded) VALUES (?1, 2, ?2, 2, 0, 0, ?3, 'USD', ?4, ?5, ?6)")
            .unwrap();
        // Lines arrive in the orders export (Shopify's layout): same source
        // and import as their orders, which is how traits and segments find
        // an order's lines.
        let mut line = tx
            .prepare("INSERT INTO order_lines (source_id, source_key, import_id, row_number, row_hash, order_key, line_number, sku, quantity, unit_price) VALUES (2, ?1, 2, 0, 0, ?2, ?3, ?4, ?5, ?6)")
            .unwrap();
        let mut event = tx
            .prepare("INSERT INTO events (source_id, source_key, import_id, row_number, row_hash, anonymous_id, name, occurred_at, session_id, sku, device, channel) VALUES (4, ?1, 4, 0, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
            .unwrap();
        for p in 1..=n {
            let h = mix(p as u64);
            profile.execute([p]).unwrap();
            record
                .execute(params!["contact", 1, format!("C-{p}"), None::<i64>, p])
                .unwrap();
            let device = format!("D-{p}");
            record
                .execute(params!["device", 4, device, None::<i64>, p])
                .unwrap();
            // Orders: the simulated history, the repeat purchases spread
            // evenly between the first and the last purchase day.
            let sim = histories[(p - 1) as usize];
            let k = (sim.frequency as u64 + 1).min(60);
            let first = NOW - sim.age as i64 * 86_400 + (h % 36_000) as i64;
            let gap = if k > 1 {
                sim.recency as i64 * 86_400 / (k as i64 - 1)
            } else {
                0
            };
            for o in 0..k {
                orders += 1;
                let id = orders as i64;
                let key = format!("#{id}");
                let at = first + gap * o as i64;
                let total = if o == 0 || sim.monetary <= 0.0 {
                    1_000 + (mix(h ^ o) % 30_000) as i64
                } else {
                    (sim.monetary * 100.0) as i64 + (mix(h ^ o) % 500) as i64
                };
                order
                    .execute(params![
                        id,
                        key,
                        iso(at),
                        total,
                        if o % 4 == 1 { 500 } else { 0 },
                        if mix(h + o) % 20 == 0 { total / 2 } else { 0 }
                    ])
                    .unwrap();
                record.execute(params!["order", 2, key, id, p]).unwrap();
                for l in 0..1 + mix(h ^ (o << 8)) % 4 {
                    lines += 1;
                    line.execute(params![
                        format!("{key}/{}", l + 1),
                        key,
                        l + 1,
                        format!("SKU-{}", mix(h + o * 7 + l) % 2000),
                        1 + l % 2,
                        1000 + (mix(h + l) % 9000) as i64
                    ])
                    .unwrap();
                }
            }
            // Events: 0–40 (20 on average), sessions of five.
            let m = mix(h ^ 0xE7) % 41;
            let start = NOW - 200 * 86_400 + (h % (190 * 86_400) as u64) as i64;
            for e in 0..m {
                events += 1;
                let at = start + e as i64 * 1800;
                let session = format!("{}", start + (e / 5) as i64);
                let name = EVENTS[(mix(h + e) % 6) as usize];
                let sku = (name == "view_item" || name == "add_to_cart")
                    .then(|| format!("SKU-{}", mix(h * 3 + e) % 2000));
                event
                    .execute(params![
                        format!("E-{events}"),
                        device,
                        name,
                        iso(at),
                        session,
                        sku,
                        DEVICES[(h % 3) as usize],
                        CHANNELS[((h >> 3) % 5) as usize]
                    ])
                    .unwrap();
            }
        }
    }
    tx.commit().unwrap();
    (orders, lines, events)
}

/// A new import of `count` orders (one line each) for existing profiles.
fn add_orders(conn: &mut Connection, n: i64, count: i64) -> i64 {
    let tx = conn.transaction().unwrap();
    tx.execute(
        "INSERT INTO imports (source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at)
           VALUES (2, 'new', 'new', 0, 'new', 'orders', '[]', '{}', 'x', 'x')",
        [],
    )
    .unwrap();
    let import = tx.last_insert_rowid();
    let base: i64 = tx
        .query_row("SELECT max(id) FROM orders", [], |r| r.get(0))
        .unwrap();
    for i in 1..=count {
        let id = base + i;
        let key = format!("#{id}");
        let p = 1 + (mix(i as u64 * 31) % n as u64) as i64;
        tx.execute(
            "INSERT INTO orders (id, source_id, source_key, import_id, row_number, row_hash, ordered_at, currency, total) VALUES (?1, 2, ?2, ?3, 0, 0, ?4, 'USD', 4200)",
            params![id, key, import, iso(NOW - 3600)],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO identity_records (kind, source_id, source_key, row_id, fingerprint, profile_id) VALUES ('order', 2, ?1, ?2, 0, ?3)",
            params![key, id, p],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    import
}
