//! The demo business goes through the same import path as a user's files.

use std::collections::HashSet;
use std::process::Command;

use crate::support::{count, Scratch};

#[test]
fn demo_generates_and_imports_a_multi_source_business() {
    let s = Scratch::new();
    let ws = s.path("ws.cohort");
    let out_dir = s.path("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .args([
            "--workspace",
            ws.to_str().unwrap(),
            "--json",
            "demo",
            "--customers",
            "1000",
            "--import",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let imports = v["imports"].as_array().unwrap();
    assert_eq!(imports.len(), v["files"].as_array().unwrap().len());
    let presets: HashSet<&str> = imports
        .iter()
        .map(|i| i["plan"]["preset"].as_str().unwrap())
        .collect();
    for p in [
        "shopify_customers",
        "shopify_orders",
        "hubspot_contacts",
        "mailchimp_audience",
        "ga4_events",
        "generic_products",
    ] {
        assert!(presets.contains(p), "{p} not among {presets:?}");
    }
    for i in imports {
        let file = i["plan"]["file_name"].as_str().unwrap();
        // The demo plants bad rows in every file; each must be caught, none may crash the import.
        let problems = i["rows_rejected"].as_u64().unwrap() + i["values_flagged"].as_u64().unwrap();
        if file != "products.csv" {
            assert!(problems > 0, "{file}: the planted bad rows were not caught");
        }
        let read = i["rows_read"].as_u64().unwrap();
        let rejected = i["rows_rejected"].as_u64().unwrap();
        // Only the planted bad rows are rejected: a handful, or under 2% of a big file.
        assert!(
            rejected <= 12 || rejected * 50 < read,
            "{file}: {rejected} of {read} rows rejected"
        );
    }

    let ws = cohort::store::Workspace::open(&ws).unwrap();
    assert!(
        count(&ws, "SELECT count(*) FROM contacts") > 1500,
        "contacts from several sources"
    );
    assert!(count(&ws, "SELECT count(*) FROM orders") > 500);
    assert!(
        count(&ws, "SELECT count(*) FROM order_lines") > count(&ws, "SELECT count(*) FROM orders")
    );
    assert!(count(&ws, "SELECT count(*) FROM events") > 5000);
    assert!(count(&ws, "SELECT count(*) FROM products") > 100);
    // Order lines point at products in the catalogue.
    let orphan_skus = count(&ws, "SELECT count(*) FROM order_lines l WHERE l.sku IS NOT NULL AND NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = l.sku)");
    assert_eq!(orphan_skus, 0);
    // Standardised values look standard.
    assert_eq!(
        count(
            &ws,
            "SELECT count(*) FROM contacts WHERE phone IS NOT NULL AND phone NOT LIKE '+%'"
        ),
        0
    );
    assert_eq!(
        count(
            &ws,
            "SELECT count(*) FROM contacts WHERE email <> lower(email)"
        ),
        0
    );
    assert_eq!(
        count(
            &ws,
            "SELECT count(*) FROM contacts WHERE country IS NOT NULL AND length(country) <> 2"
        ),
        0
    );
    assert!(count(&ws, "SELECT count(*) FROM contacts WHERE phone IS NOT NULL") > 500);

    // Ground truth covers every stored contact record of the people-bearing files.
    let truth = std::fs::read_to_string(v["ground_truth"].as_str().unwrap()).unwrap();
    let keys: HashSet<(String, String)> = truth
        .lines()
        .skip(1)
        .map(|l| {
            let mut parts = l.splitn(3, ',');
            (
                parts.next().unwrap().to_string(),
                parts.next().unwrap().to_string(),
            )
        })
        .collect();
    let mut stmt = ws
        .conn()
        .prepare(
            "SELECT i.file_name, c.source_key FROM contacts c JOIN imports i ON i.id = c.import_id",
        )
        .unwrap();
    let stored: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let missing: Vec<_> = stored
        .iter()
        .filter(|k| !keys.contains(*k))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "contacts without ground truth: {missing:?}"
    );
}
