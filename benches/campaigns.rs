//! Campaign exports at scale: a generated workspace of PROFILES profiles
//! (default 1,000,000), each with a contact (10% with a second one in
//! another source), written straight into the tables with SQL (no import,
//! no resolution), then preview and exports of the whole segment: generic
//! CSV, Mailchimp, and the hashed Meta and Google Ads files.
//!
//!     cargo bench --bench campaigns
//!     PROFILES=200000 cargo bench --bench campaigns
//!     CAMPAIGNS_DB=/tmp/c.cohort cargo bench --bench campaigns   # keep the workspace between runs
//!
//! Targets (issue 6): CSV of 1,000,000 members under 5 s, hashed ad export
//! under 10 s.

use std::time::Instant;

use cohort::campaigns::{self, Channel, ExportRequest, Format, NewCampaign};
use cohort::store::Workspace;
use rusqlite::Connection;

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
    let path = std::env::var("CAMPAIGNS_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("ws.cohort"));
    let fresh = !path.exists();
    let mut ws = Workspace::open(&path).unwrap();
    if fresh {
        let started = Instant::now();
        generate(ws.conn_mut(), n);
        eprintln!(
            "generated {n} profiles in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    // Consent is the ledger's: an import writes the contacts' evidence to
    // it, so a workspace written straight with SQL gets it the way the
    // ledger's migration backfills it (without it every member would be
    // "no consent" and the exports empty). Once.
    let ledger: i64 = ws
        .conn()
        .query_row("SELECT count(*) FROM consent_ledger", [], |r| r.get(0))
        .unwrap();
    if ledger == 0 {
        let started = Instant::now();
        ws.conn()
            .execute_batch(
                "INSERT INTO consent_ledger (channel, status, reason, contact_id, source, at,
                                             import_id, row_number, recorded_at)
                 SELECT channel, status, reason, contact_id, source, coalesce(at, '2026-01-01T00:00:00Z'),
                        import_id, row_number, '2026-01-01T00:00:00Z'
                   FROM contact_consent_evidence ORDER BY contact_id, channel;
                 INSERT INTO consent_ledger (channel, status, reason, address, source, at, recorded_at)
                 SELECT CASE kind WHEN 'email' THEN 'email' ELSE 'sms' END, 'denied', reason, value,
                        source, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'
                   FROM suppressions ORDER BY kind, value;",
            )
            .unwrap();
        eprintln!(
            "consent ledger filled from the contacts in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    // What suppression reads first: every profile's consent, the view's
    // window function over all evidence (the export's fixed cost).
    {
        let started = Instant::now();
        let mut st = ws
            .conn()
            .prepare("SELECT profile_id, channel, status, reason IS 'cleaned' FROM profile_consent")
            .unwrap();
        let mut rows = st.query([]).unwrap();
        let mut n = 0u64;
        while rows.next().unwrap().is_some() {
            n += 1;
        }
        eprintln!(
            "profile_consent: {n} rows read in {:.2} s",
            started.elapsed().as_secs_f64()
        );
    }
    let now = "2026-11-01T12:00:00Z";
    let segment: i64 = ws
        .conn()
        .query_row("SELECT id FROM segments WHERE name = 'Everyone'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let members: Vec<i64> = {
        let mut st = ws
            .conn()
            .prepare("SELECT id FROM profiles ORDER BY id")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let stamp = std::process::id();
    let new = |name: &str, channel| NewCampaign {
        name: format!("{name} {stamp}"),
        segment_id: segment,
        channel,
        template: None,
        holdout_percent: 10.0,
    };
    let email = campaigns::create(ws.conn(), new("Newsletter", Channel::Email), now).unwrap();
    let ads = campaigns::create(ws.conn(), new("Lookalike", Channel::Ads), now).unwrap();

    let started = Instant::now();
    let audience = campaigns::preview(ws.conn(), &email, &members).unwrap();
    eprintln!(
        "preview (email): {} members, {} held out, {} suppressed {:?}, {} included in {:.2} s",
        audience.members,
        audience.held_out,
        audience.suppressed,
        audience.suppressed_by_reason,
        audience.included,
        started.elapsed().as_secs_f64()
    );

    let out = dir.path();
    let runs: [(&str, &campaigns::Campaign, Format, Vec<String>); 5] = [
        ("csv (default columns)", &email, Format::Csv, vec![]),
        (
            "csv (9 columns, traits)",
            &email,
            Format::Csv,
            [
                "id",
                "email",
                "first_name",
                "last_name",
                "phone",
                "city",
                "country",
                "revenue",
                "rfm_segment",
            ]
            .map(String::from)
            .to_vec(),
        ),
        ("mailchimp", &email, Format::Mailchimp, vec![]),
        ("meta (hashed)", &ads, Format::Meta, vec![]),
        ("google_ads (hashed)", &ads, Format::GoogleAds, vec![]),
    ];
    for (label, campaign, format, columns) in runs {
        let request = ExportRequest {
            format,
            columns,
            bom: false,
            pseudonymise: false,
            path: out.join(format!("{}.csv", format.as_str())),
        };
        let started = Instant::now();
        let s = campaigns::export(
            ws.conn_mut(),
            campaign,
            &members,
            &request,
            None,
            None,
            now,
            &mut |_, _| {},
        )
        .unwrap();
        eprintln!(
            "export {label}: {} members → {} rows ({} held out, {} suppressed), {:.1} MB in {:.2} s",
            s.members,
            s.exported,
            s.held_out,
            s.suppressed,
            s.bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
    }
}

/// N profiles with a contact each (10% with a second contact in a CRM
/// source), identity records linking them, and a static segment of everyone.
/// Consent: email granted 70%, denied 10% (a tenth of those cleaned),
/// unknown 20%; SMS granted 40%; ads granted 60%. 1% have no email; 10,000
/// addresses are on a suppression list.
fn generate(conn: &mut Connection, n: i64) {
    let tx = conn.transaction().unwrap();
    tx.execute_batch(
        "INSERT INTO sources (id, name, kind, created_at) VALUES
           (1, 'Shop', 'contacts', 'x'), (2, 'CRM', 'contacts', 'x');
         INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at)
           VALUES (1, 1, 'shop.csv', 'shop.csv', 0, 'a', 'contacts', '[]', '{}', 'x', 'x'),
                  (2, 2, 'crm.csv', 'crm.csv', 0, 'b', 'contacts', '[]', '{}', 'x', 'x');
         INSERT INTO segments (name, kind, created_at, updated_at) VALUES ('Everyone', 'static', 'x', 'x');",
    )
    .unwrap();
    let first = "('Maria'),('James'),('Zoë'),('José'),('Anna'),('Lukas'),('Chloé'),('Noah'),('Sofía'),('Oliver'),('Amelia'),('Jürgen')";
    let last = "('García'),('Smith'),('Müller'),('Rossi'),('Nguyen'),('Brown'),('Martin'),('O''Brien'),('López'),('Taylor')";
    tx.execute_batch(&format!(
        "CREATE TEMP TABLE firsts (name TEXT); INSERT INTO firsts VALUES {first};
         CREATE TEMP TABLE lasts (name TEXT); INSERT INTO lasts VALUES {last};
         CREATE TEMP TABLE fa AS SELECT rowid - 1 AS k, name FROM firsts;
         CREATE TEMP TABLE la AS SELECT rowid - 1 AS k, name FROM lasts;"
    ))
    .unwrap();
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO profiles (id, first_name, last_name, email, phone, birth_date, gender,
                               address1, city, region, postcode, country, records, created_at, updated_at)
         SELECT i,
                (SELECT name FROM fa WHERE k = i % 12),
                (SELECT name FROM la WHERE k = i / 12 % 10),
                CASE WHEN i % 100 = 0 THEN NULL ELSE 'person' || i || '@shopmail.net' END,
                CASE WHEN i % 3 = 0 THEN NULL ELSE '+1415' || printf('%07d', i % 10000000) END,
                printf('%04d-%02d-%02d', 1950 + i % 50, 1 + i % 12, 1 + i % 28),
                CASE i % 3 WHEN 0 THEN 'female' WHEN 1 THEN 'male' ELSE NULL END,
                i || ' Main Street',
                CASE i % 4 WHEN 0 THEN 'Boston' WHEN 1 THEN 'San Francisco' WHEN 2 THEN 'Austin' ELSE 'Leeds' END,
                CASE i % 4 WHEN 0 THEN 'MA' WHEN 1 THEN 'CA' WHEN 2 THEN 'TX' ELSE NULL END,
                printf('%05d', i % 99999),
                CASE i % 4 WHEN 3 THEN 'GB' ELSE 'US' END,
                1, 'x', 'x'
           FROM n",
        [n],
    )
    .unwrap();
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO contacts (id, source_id, source_key, import_id, row_number, row_hash,
                               first_name, last_name, email, phone,
                               consent_email, consent_sms, consent_ads, raw)
         SELECT i, 1, 'C' || i, 1, i, 0, p.first_name, p.last_name, p.email, p.phone,
                CASE WHEN i % 10 < 7 THEN 'granted' WHEN i % 10 = 7 THEN 'denied' ELSE 'unknown' END,
                CASE WHEN i % 10 < 4 THEN 'granted' ELSE 'unknown' END,
                CASE WHEN i % 10 < 6 THEN 'granted' ELSE 'unknown' END,
                CASE WHEN i % 100 = 7 THEN '{\"consent_email\":\"cleaned\"}' END
           FROM n JOIN profiles p ON p.id = n.i",
        [n],
    )
    .unwrap();
    // A second contact for one profile in ten.
    tx.execute(
        "INSERT INTO contacts (id, source_id, source_key, import_id, row_number, row_hash,
                               first_name, email, consent_email, consent_sms, consent_ads)
         SELECT ?1 + p.id, 2, 'R' || p.id, 2, p.id, 0, p.first_name, p.email,
                CASE WHEN p.id % 7 = 0 THEN 'denied' ELSE 'granted' END, 'unknown', 'unknown'
           FROM profiles p WHERE p.id % 10 = 5",
        [n],
    )
    .unwrap();
    tx.execute(
        "INSERT INTO identity_records (kind, source_id, source_key, row_id, fingerprint, profile_id)
         SELECT 'contact', source_id, source_key, id, 0,
                CASE WHEN id > ?1 THEN id - ?1 ELSE id END
           FROM contacts ORDER BY id",
        [n],
    )
    .unwrap();
    tx.execute(
        "INSERT INTO suppressions (kind, value, reason, source, added_at)
         SELECT 'email', email, 'suppression list', 'dnc.csv', 'x'
           FROM profiles WHERE id % 100 = 13",
        [],
    )
    .unwrap();
    tx.commit().unwrap();
}
