//! A generated workspace for template tests and `benches/templates.rs`:
//! profiles with contacts (consent), traits, a catalogue, five stored
//! recommendations each and two static segments, written straight into the
//! tables with SQL (no import, no resolution), seeded.
//!
//! Shapes the tests rely on: every 20th profile has no first name; RFM
//! segments cycle through the eleven names; product 7's title carries
//! HTML; segment "Everyone" holds every profile, "VIP" the Champions.

use rusqlite::{params, Connection};

/// The eleven RFM segment names, in the order profiles cycle through them.
pub const RFM: [&str; 11] = [
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "Promising",
    "Need Attention",
    "Cannot Lose Them",
    "At Risk",
    "About to Sleep",
    "Hibernating",
    "Lost",
];

/// Products in the catalogue.
pub const PRODUCTS: i64 = 500;

/// Writes `n` profiles (ids 1..=n) and everything around them; `seed`
/// varies names, recommendations and figures.
pub fn generate(conn: &mut Connection, n: i64, seed: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "INSERT INTO settings (key, value) VALUES ('default_currency', 'GBP')
           ON CONFLICT (key) DO UPDATE SET value = excluded.value;
         INSERT INTO sources (id, name, kind, created_at) VALUES
           (1, 'Shop', 'contacts', 'x'), (2, 'Catalogue', 'products', 'x');
         INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at)
           VALUES (1, 1, 'shop.csv', 'shop.csv', 0, 'a', 'contacts', '[]', '{}', 'x', 'x'),
                  (2, 2, 'products.csv', 'products.csv', 0, 'b', 'products', '[]', '{}', 'x', 'x');
         CREATE TEMP TABLE IF NOT EXISTS firsts (k INTEGER PRIMARY KEY, name TEXT);
         CREATE TEMP TABLE IF NOT EXISTS lasts (k INTEGER PRIMARY KEY, name TEXT);
         CREATE TEMP TABLE IF NOT EXISTS rfm (k INTEGER PRIMARY KEY, name TEXT);
         DELETE FROM firsts; DELETE FROM lasts; DELETE FROM rfm;
         INSERT INTO firsts (k, name) VALUES (0,'Maria'),(1,'James'),(2,'Zoë'),(3,'José'),(4,'anna'),(5,'Lukas'),
             (6,'Chloé'),(7,'Noah'),(8,'Sofía'),(9,'Oliver'),(10,'Amelia'),(11,'Jürgen');
         INSERT INTO lasts (k, name) VALUES (0,'García'),(1,'Smith'),(2,'Müller'),(3,'Rossi'),(4,'Nguyen'),
             (5,'Brown'),(6,'Martin'),(7,'O''Brien'),(8,'López'),(9,'Taylor');",
    )?;
    for (k, name) in RFM.iter().enumerate() {
        tx.execute(
            "INSERT INTO rfm (k, name) VALUES (?1, ?2)",
            params![k as i64, name],
        )?;
    }
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO profiles (id, first_name, last_name, email, phone, city, country,
                               records, first_seen, last_seen, created_at, updated_at)
         SELECT i,
                CASE WHEN i % 20 = 0 THEN NULL ELSE (SELECT name FROM firsts WHERE k = (i + ?2) % 12) END,
                (SELECT name FROM lasts WHERE k = (i / 12 + ?2) % 10),
                'person' || i || '@shopmail.net',
                CASE WHEN i % 3 = 0 THEN NULL ELSE '+44791' || printf('%07d', i % 10000000) END,
                CASE i % 4 WHEN 0 THEN 'London' WHEN 1 THEN 'Leeds' WHEN 2 THEN 'Bristol' ELSE 'York' END,
                'GB', 1, '2024-01-01T00:00:00Z', '2026-10-01T00:00:00Z', 'x', 'x'
           FROM n",
        params![n, seed],
    )?;
    tx.execute(
        "INSERT INTO contacts (id, source_id, source_key, import_id, row_number, row_hash,
                               first_name, last_name, email, phone,
                               consent_email, consent_sms, consent_ads)
         SELECT p.id, 1, 'C' || p.id, 1, p.id, 0, p.first_name, p.last_name, p.email, p.phone,
                CASE WHEN p.id % 10 = 9 THEN 'denied' ELSE 'granted' END,
                CASE WHEN p.id % 2 = 0 THEN 'granted' ELSE 'unknown' END,
                'unknown'
           FROM profiles p",
        [],
    )?;
    // Consent is read from the ledger: the contacts' columns become evidence
    // as an import would record them.
    crate::privacy::consent::record_import(&tx, 1, "2026-11-01T00:00:00Z")?;
    tx.execute(
        "INSERT INTO identity_records (kind, source_id, source_key, row_id, fingerprint, profile_id)
         SELECT 'contact', 1, 'C' || id, id, 0, id FROM profiles ORDER BY id",
        [],
    )?;
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO profile_traits (profile_id, as_of, orders, revenue, average_order_value,
                                     first_order_at, last_order_at, days_since_last_order,
                                     rfm_segment, clv, churn_risk, p_alive)
         SELECT i, '2026-11-01T00:00:00Z',
                1 + (i * 7 + ?2) % 12,
                (1 + (i * 7 + ?2) % 12) * (2500 + (i * 7919 + ?2) % 9000),
                2500 + (i * 7919 + ?2) % 9000,
                '2024-02-01T10:00:00Z',
                printf('2026-%02d-%02dT10:00:00Z', 1 + (i + ?2) % 10, 1 + i % 28),
                (i * 13) % 300,
                (SELECT name FROM rfm WHERE k = (i + ?2) % 11),
                10000 + (i * 104729 + ?2) % 90000,
                ((i * 31 + ?2) % 100) / 100.0,
                1.0 - ((i * 31 + ?2) % 100) / 100.0
           FROM n",
        params![n, seed],
    )?;
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO products (source_id, source_key, import_id, row_number, row_hash,
                               sku, title, category, brand, price, currency, in_stock)
         SELECT 2, 'P' || i, 2, i, 0, printf('SKU-%04d', i),
                CASE WHEN i = 7 THEN '<b>Sale</b> Trail tent' ELSE
                  CASE i % 5 WHEN 0 THEN 'Trail tent ' WHEN 1 THEN 'Camp stove ' WHEN 2 THEN 'Down jacket '
                             WHEN 3 THEN 'Hiking boots ' ELSE 'Headlamp ' END || i END,
                CASE i % 5 WHEN 0 THEN 'Tents' WHEN 1 THEN 'Cooking' WHEN 2 THEN 'Clothing'
                           WHEN 3 THEN 'Footwear' ELSE 'Lighting' END,
                CASE i % 3 WHEN 0 THEN 'Northwind' WHEN 1 THEN 'Fjällräven' ELSE 'Alpine & Co' END,
                999 + (i * 3571) % 20000, 'GBP', 1
           FROM n",
        [PRODUCTS],
    )?;
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1),
              r(k) AS (VALUES (1),(2),(3),(4),(5))
         INSERT INTO recommendations (profile_id, rank, sku, score, reason, because_sku)
         SELECT i, k, printf('SKU-%04d', 1 + (i * 7 + k * 101 + ?2) % ?3), 1.0 / k,
                CASE k WHEN 1 THEN 'Bought with your last order' WHEN 2 THEN 'Popular in your area'
                       ELSE 'Customers like you bought it' END,
                NULL
           FROM n, r",
        params![n, seed, PRODUCTS],
    )?;
    tx.execute(
        "INSERT INTO recommendation_runs (created_at, model, settings, evaluation, popular, profiles, products, interactions, seconds)
         VALUES ('2026-11-01T00:00:00Z', 'popularity', '{\"n\":5}', NULL,
                 '[[\"SKU-0001\",\"Popular\"],[\"SKU-0002\",\"Popular\"],[\"SKU-0003\",\"Popular\"],[\"SKU-0004\",\"Popular\"],[\"SKU-0005\",\"Popular\"]]',
                 ?1, ?2, 0, 0.0)",
        params![n, PRODUCTS],
    )?;
    tx.execute_batch(
        "INSERT INTO segments (id, name, kind, created_at, updated_at) VALUES
           (1, 'Everyone', 'static', 'x', 'x'), (2, 'VIP', 'static', 'x', 'x');
         INSERT INTO segment_members (segment_id, profile_id) SELECT 1, id FROM profiles;
         INSERT INTO segment_members (segment_id, profile_id)
           SELECT 2, profile_id FROM profile_traits WHERE rfm_segment = 'Champions';",
    )?;
    tx.commit()
}
