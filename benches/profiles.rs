//! Profiles at scale: full and scoped rebuilds and FTS5 search over a
//! generated workspace of PROFILES profiles (default 1,000,000) with 1.5× as
//! many records, written straight into the tables (no import, no
//! resolution), so the figures are the profile stage alone.
//!
//!     cargo bench --bench profiles
//!     PROFILES=200000 ROUNDS=1 cargo bench --bench profiles
//!     PROFILES_DB=/tmp/p.cohort cargo bench --bench profiles   # keep the workspace between runs

use cohort::profiles::{rebuild, search, Scope};
use cohort::progress::Silent;
use cohort::store::Workspace;
use rusqlite::{params, Connection};

fn main() {
    // `cargo test --all-targets` runs bench binaries too; only `cargo bench` passes --bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n: i64 = std::env::var("PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // PROFILES_DB keeps the generated workspace between runs.
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var("PROFILES_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("ws.cohort"));
    let fresh = !path.exists();
    let mut ws = Workspace::open(&path).unwrap();
    if fresh {
        let started = std::time::Instant::now();
        generate(ws.conn_mut(), n);
        eprintln!(
            "generated {n} profiles in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    for round in ["first", "second", "third"].into_iter().take(rounds) {
        if let Ok(kib) = std::env::var("CACHE_KIB") {
            ws.conn()
                .pragma_update(None, "cache_size", -kib.parse::<i64>().unwrap())
                .unwrap();
        }
        let tx = ws.conn_mut().transaction().unwrap();
        let started = std::time::Instant::now();
        let report = rebuild(&tx, Scope::All, "2026-11-01", &mut Silent).unwrap();
        let built = started.elapsed();
        tx.commit().unwrap();
        eprintln!(
            "{round} full rebuild: {} profiles, {} records in {:.2} s (+ commit {:.2} s)",
            report.written,
            report.records,
            built.as_secs_f64(),
            (started.elapsed() - built).as_secs_f64()
        );
        assert_eq!(report.written, n as u64);
    }
    let ids: Vec<i64> = (1..=10_000).map(|i| i * 37 % n + 1).collect();
    let tx = ws.conn_mut().transaction().unwrap();
    let started = std::time::Instant::now();
    let report = rebuild(&tx, Scope::Profiles(&ids), "2026-11-02", &mut Silent).unwrap();
    eprintln!(
        "scoped rebuild of {} profiles: {:.3} s",
        report.written,
        started.elapsed().as_secs_f64()
    );
    tx.commit().unwrap();

    let c = ws.conn();
    let known = Person::new(123_457);
    let national = format!("0{}", &known.phone[known.phone.len() - 10..]);
    let queries = [
        String::new(),
        "a".into(),
        "ma".into(),
        "mar".into(),
        "maria".into(),
        "maria garc".into(),
        "smith".into(),
        known.email[..6].to_string(),
        known.email.clone(),
        "gmail.com".into(),
        known.phone.clone(),
        national,
        known.phone[known.phone.len() - 7..].to_string(),
        "C-123457".into(),
        "C-1".into(),
        "zzz".into(),
    ];
    for q in &queries {
        // Warm once, then time.
        search(c, q, 50, 0).unwrap();
        let started = std::time::Instant::now();
        let r = search(c, q, 50, 0).unwrap();
        eprintln!(
            "search {q:?}: {} of {} in {:.1} ms",
            r.profiles.len(),
            r.total,
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
}

/// A generated person: names from short lists (so names repeat as they do
/// in real customer bases), phones from four countries.
struct Person {
    first: &'static str,
    last: &'static str,
    email: String,
    phone: String,
    city: &'static str,
    day: String,
    /// 0..10: 0-2 also ordered, 9 also has a CRM contact and a device.
    shape: u64,
}

impl Person {
    fn new(p: i64) -> Person {
        const FIRST: [&str; 24] = [
            "Maria", "James", "Zoë", "José", "Anna", "Lukas", "Chloé", "Noah", "Sofía", "Oliver",
            "Amelia", "Jürgen", "Mary", "Robert", "Linda", "David", "Sarah", "Mateo", "Isla",
            "Emma", "Liam", "Olivia", "Hugo", "Léa",
        ];
        const LAST: [&str; 20] = [
            "García", "Smith", "Müller", "Rossi", "Nguyen", "Brown", "Martin", "Kim", "López",
            "Taylor", "Johnson", "Williams", "Schmidt", "Bernard", "Wilson", "O'Brien", "Dubois",
            "Fischer", "Jones", "Davis",
        ];
        const CITIES: [&str; 8] = [
            "Boston", "Berlin", "Lyon", "Madrid", "Leeds", "Perth", "Austin", "Toronto",
        ];
        const DOMAINS: [&str; 6] = [
            "gmail.com",
            "yahoo.com",
            "outlook.com",
            "example.com",
            "web.de",
            "orange.fr",
        ];
        let h = (p as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (p as u64 >> 7);
        let first = FIRST[(h % 24) as usize];
        let last = LAST[(h / 24 % 20) as usize];
        let ascii = |s: &str| -> String {
            s.chars()
                .filter_map(|c| match c {
                    'ë' | 'é' => Some('e'),
                    'í' => Some('i'),
                    'á' => Some('a'),
                    'ó' => Some('o'),
                    'ü' => Some('u'),
                    '\'' => None,
                    c => Some(c.to_ascii_lowercase()),
                })
                .collect()
        };
        let email = format!(
            "{}.{}{}@{}",
            ascii(first),
            ascii(last),
            p % 997,
            DOMAINS[(h / 480 % 6) as usize]
        );
        let n = h / 2880 % 100_000_000;
        let phone = match h / 7 % 10 {
            0..=5 => format!("+1{}{:07}", 201 + n % 799, n % 10_000_000),
            6 | 7 => format!("+447{:09}", n * 7 % 1_000_000_000),
            8 => format!("+49151{n:08}"),
            _ => format!("+336{n:08}"),
        };
        Person {
            first,
            last,
            email,
            phone,
            city: CITIES[(h / 11 % 8) as usize],
            day: format!(
                "20{:02}-{:02}-{:02}T10:00:00Z",
                18 + h % 8,
                1 + h / 7 % 12,
                1 + h / 11 % 28
            ),
            shape: h / 1000 % 10,
        }
    }
}

/// PROFILES profiles: 30% have a contact and an order, 60% a contact only,
/// 10% two contacts in two sources and a device: 1.5 records each.
fn generate(conn: &mut Connection, n: i64) {
    let tx = conn.transaction().unwrap();
    tx.execute_batch(
        "INSERT INTO sources (id, name, kind, created_at) VALUES
           (1, 'Shop', 'contacts', 'x'), (2, 'CRM', 'contacts', 'x'), (3, 'Orders', 'orders', 'x'), (4, 'GA4', 'events', 'x');
         INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at)
           VALUES (1, 1, 'a', 'a', 1, 'h', 'contacts', '[]', '{}', 'x', '2024-01-01T00:00:00Z');",
    )
    .unwrap();
    {
        let mut contact = tx
            .prepare(
                "INSERT INTO contacts (id, source_id, source_key, import_id, row_number, row_hash, first_name, last_name,
                                       email, phone, city, country, postcode, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 1, ?1, 0, ?4, ?5, ?6, ?7, ?8, 'US', ?9, ?10, ?11)",
            )
            .unwrap();
        let mut order = tx
            .prepare(
                "INSERT INTO orders (id, source_id, source_key, import_id, row_number, row_hash, customer_key, email, phone,
                                     ordered_at, currency, total, billing_name, billing_city, billing_country)
                 VALUES (?1, 3, ?2, 1, ?1, 0, ?3, ?4, ?5, ?6, 'USD', ?7, ?8, ?9, 'US')",
            )
            .unwrap();
        let mut record = tx
            .prepare(
                "INSERT INTO identity_records (kind, source_id, source_key, row_id, fingerprint, profile_id)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5)",
            )
            .unwrap();
        let mut identifier = tx
            .prepare(
                "INSERT OR IGNORE INTO identifiers (kind, value, record_id) VALUES (?1, ?2, ?3)",
            )
            .unwrap();
        let (mut contact_id, mut order_id) = (0i64, 0i64);
        for p in 1..=n {
            let person = Person::new(p);
            let Person {
                first, last, city, ..
            } = person;
            let (email, phone, day) = (&person.email, &person.phone, &person.day);
            contact_id += 1;
            let key = format!("C-{p}");
            contact
                .execute(params![
                    contact_id, 1, key, first, last, email, phone, city, "02139", day, day
                ])
                .unwrap();
            record
                .execute(params!["contact", 1, key, contact_id, p])
                .unwrap();
            let r = tx.last_insert_rowid();
            identifier.execute(params!["email", email, r]).unwrap();
            identifier.execute(params!["phone", phone, r]).unwrap();
            identifier.execute(params!["customer_id", key, r]).unwrap();
            if person.shape < 3 {
                order_id += 1;
                let number = format!("#{order_id}");
                order
                    .execute(params![
                        order_id,
                        number,
                        key,
                        email,
                        phone,
                        day,
                        (p * 7919 % 20_000),
                        format!("{first} {last}"),
                        city
                    ])
                    .unwrap();
                record
                    .execute(params!["order", 3, number, order_id, p])
                    .unwrap();
                let r = tx.last_insert_rowid();
                identifier.execute(params!["email", email, r]).unwrap();
                identifier.execute(params!["customer_id", key, r]).unwrap();
            } else if person.shape == 9 {
                contact_id += 1;
                let key = format!("H-{p}");
                let other = format!("{}{}@mail.com", first.to_lowercase(), p);
                contact
                    .execute(params![
                        contact_id,
                        2,
                        key,
                        first,
                        last,
                        other,
                        phone,
                        city,
                        "02139",
                        day,
                        None::<String>
                    ])
                    .unwrap();
                record
                    .execute(params!["contact", 2, key, contact_id, p])
                    .unwrap();
                let r = tx.last_insert_rowid();
                identifier.execute(params!["email", other, r]).unwrap();
                identifier.execute(params!["customer_id", key, r]).unwrap();
                let device = format!("dev-{p}");
                record
                    .execute(params!["device", 4, device, None::<i64>, p])
                    .unwrap();
                let r = tx.last_insert_rowid();
                identifier.execute(params!["device_id", device, r]).unwrap();
                identifier
                    .execute(params!["customer_id", format!("C-{p}"), r])
                    .unwrap();
            }
        }
    }
    tx.commit().unwrap();
}
