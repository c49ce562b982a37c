//! Recommendations end to end on a demo business through the `cohort`
//! binary and the real workspace file: the demo trains a model, the
//! evaluation ranks CF and ALS above popularity, lists follow the business
//! rules and explain themselves, exports carry rec_1 … rec_N, bad settings
//! change nothing.

use std::process::Command;

use cohort::store::Workspace;

use crate::support::{count, Scratch};

fn cohort(ws: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn json(ws: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (ok, out, err) = cohort(ws, &all);
    assert!(ok, "cohort {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A profile with purchases, and its stored recommendations.
fn buyer(ws: &std::path::Path) -> i64 {
    let w = Workspace::open_existing(ws).unwrap();
    w.conn()
        .query_row(
            "SELECT profile_id FROM recommendations WHERE because_sku IS NOT NULL
              ORDER BY profile_id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn demo_recommendations_evaluate_explain_follow_rules_and_export() {
    let s = Scratch::new();
    let ws = s.path("ws.cohort");
    let demo = s.path("demo");
    let (ok, out, err) = cohort(
        &ws,
        &[
            "demo",
            "--customers",
            "3000",
            "--import",
            "--out",
            demo.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("Recommendations:"), "{out}");

    // The demo trained and stored a model with its evaluation.
    let status = json(&ws, &["recommend", "status"]);
    let profiles = status["profiles"].as_u64().unwrap();
    let n = status["settings"]["n"].as_u64().unwrap();
    let w = Workspace::open_existing(&ws).unwrap();
    assert_eq!(
        count(&w, "SELECT count(DISTINCT profile_id) FROM recommendations") as u64,
        profiles,
        "every profile has a list"
    );
    assert_eq!(
        count(&w, "SELECT count(*) FROM recommendations") as u64,
        profiles * n
    );
    drop(w);

    // The evaluation: CF and ALS beat popularity on NDCG@10.
    let e = json(
        &ws,
        &[
            "eval",
            "recommend",
            "--chart",
            s.path("ndcg.svg").to_str().unwrap(),
        ],
    );
    let ndcg = |model: &str| {
        e["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["model"] == model)
            .unwrap_or_else(|| panic!("{model} in {e}"))["test"]["ndcg"]
            .as_f64()
            .unwrap()
    };
    let pop = ndcg("popularity");
    assert!(pop > 0.0, "{e}");
    assert!(
        ndcg("item_knn") > pop,
        "item-kNN {} vs popularity {pop}",
        ndcg("item_knn")
    );
    assert!(ndcg("als") > pop, "ALS {} vs popularity {pop}", ndcg("als"));
    assert!(
        e["models"][0]["test"]["profiles"].as_u64().unwrap() > 50,
        "{e}"
    );
    assert_eq!(
        e["grid"].as_array().unwrap().len(),
        9 + 12 + 3,
        "the grid: 9 item-kNN, 12 ALS, one each for the rest"
    );
    let svg = std::fs::read_to_string(s.path("ndcg.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("NDCG"),
        "chart written"
    );

    // A buyer's list: n products, explained, none bought before.
    let profile = buyer(&ws);
    let list = json(&ws, &["recommend", "show", &profile.to_string()]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len() as u64, n);
    assert!(list
        .iter()
        .all(|r| !r["reason"].as_str().unwrap().is_empty()));
    assert!(list[0]["because"].is_string(), "{:?}", list[0]);
    let w = Workspace::open_existing(&ws).unwrap();
    let bought: Vec<String> = {
        let mut stmt = w
            .conn()
            .prepare(
                "SELECT DISTINCT l.sku FROM order_lines l
                   JOIN identity_records r ON r.kind = 'order' AND r.source_id = l.source_id AND r.source_key = l.order_key
                  WHERE r.profile_id = ?1",
            )
            .unwrap();
        stmt.query_map([profile], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    drop(w);
    for r in list {
        assert!(
            !bought.contains(&r["sku"].as_str().unwrap().to_owned()),
            "{r} was bought already"
        );
    }
    let (ok, _, err) = cohort(&ws, &["recommend", "show", "99999999"]);
    assert!(!ok && err.contains("no profile #99999999"), "{err}");

    // Similar products: never the product itself.
    let sku = list[0]["sku"].as_str().unwrap().to_owned();
    let similar = json(&ws, &["recommend", "similar", &sku]);
    let similar = similar.as_array().unwrap();
    assert!(!similar.is_empty());
    assert!(similar.iter().all(|p| p["sku"] != sku.as_str()));

    // Business rules: exclude the category of the buyer's first pick, cap
    // one product per category; the same seed gives the same lists twice.
    let category = list[0]["category"].as_str().unwrap().to_owned();
    let args = [
        "recommend",
        "train",
        "--model",
        "hybrid",
        "--no-grid",
        "--exclude-category",
        &category,
        "--max-per-category",
        "1",
    ];
    let run = json(&ws, &args);
    assert_eq!(run["model"], "hybrid");
    let dump = |ws: &std::path::Path| -> Vec<(i64, i64, String)> {
        let w = Workspace::open_existing(ws).unwrap();
        let mut stmt = w
            .conn()
            .prepare("SELECT profile_id, rank, sku FROM recommendations ORDER BY profile_id, rank")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows
    };
    let first = dump(&ws);
    let w = Workspace::open_existing(&ws).unwrap();
    assert_eq!(
        count(
            &w,
            &format!(
                "SELECT count(*) FROM recommendations r JOIN products p ON p.sku = r.sku
                  WHERE p.category = '{}'",
                category.replace('\'', "''")
            )
        ),
        0,
        "excluded category"
    );
    assert_eq!(
        count(
            &w,
            "SELECT count(*) FROM (SELECT r.profile_id, p.category FROM recommendations r
               JOIN (SELECT sku, category FROM products WHERE id IN (SELECT max(id) FROM products GROUP BY sku)) p
                 ON p.sku = r.sku
              GROUP BY r.profile_id, p.category HAVING count(*) > 1)"
        ),
        0,
        "one product per category per list"
    );
    drop(w);
    json(&ws, &args);
    let same = |label: &str| {
        let now = dump(&ws);
        let diff = now.iter().zip(&first).find(|(a, b)| a != b);
        assert!(
            now.len() == first.len() && diff.is_none(),
            "{label}: first difference {diff:?}"
        );
    };
    same("seeded: the same lists on a rerun");

    // Bad settings: a clear error, and the stored lists stay as they were.
    let (ok, _, err) = cohort(&ws, &["recommend", "train", "--model", "magic"]);
    assert!(!ok && err.contains("unknown --model `magic`"), "{err}");
    let (ok, _, err) = cohort(&ws, &["recommend", "train", "--n", "0"]);
    assert!(!ok && err.contains("1 to 100"), "{err}");
    let (ok, _, err) = cohort(&ws, &["recommend", "train", "--boost", "Shoes"]);
    assert!(!ok && err.contains("TARGET=FACTOR"), "{err}");
    same("failed runs change nothing");

    // Exports: rec_1 … as columns of a generic CSV, equal to the stored lists.
    let rule = s.write(
        "buyers.json",
        r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"email","op":"is_set"}]}}"#,
    );
    let (ok, _, err) = cohort(
        &ws,
        &["segment", "save", "With email", rule.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = cohort(
        &ws,
        &[
            "campaign",
            "create",
            "Picks",
            "--segment",
            "With email",
            "--holdout",
            "0",
        ],
    );
    assert!(ok, "{err}");
    let file = s.path("picks.csv");
    let (ok, _, err) = cohort(
        &ws,
        &[
            "campaign",
            "export",
            "Picks",
            "--out",
            file.to_str().unwrap(),
            "--columns",
            "profile_id,email,rec_1,rec_2,rec_1_title",
        ],
    );
    assert!(ok, "{err}");
    let mut rdr = csv::Reader::from_path(&file).unwrap();
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        ["profile_id", "email", "rec_1", "rec_2", "rec_1_title"]
    );
    let stored: std::collections::HashMap<(i64, i64), String> = first
        .iter()
        .map(|(p, r, s)| ((*p, *r), s.clone()))
        .collect();
    let mut rows = 0;
    for row in rdr.records() {
        let row = row.unwrap();
        let p: i64 = row[0].parse().unwrap();
        assert_eq!(
            Some(&row[2].to_owned()),
            stored.get(&(p, 1)),
            "rec_1 of {p}"
        );
        assert_eq!(
            Some(&row[3].to_owned()),
            stored.get(&(p, 2)),
            "rec_2 of {p}"
        );
        rows += 1;
    }
    assert!(rows > 100, "{rows} rows exported");

    rules_clusters_and_new_arrivals(&ws);
}

/// Number of stored recommendations matching `condition` (SQL over
/// `recommendations r` joined to the latest catalogue row `p` of its SKU).
fn stored_count(ws: &std::path::Path, condition: &str) -> i64 {
    let w = Workspace::open_existing(ws).unwrap();
    count(
        &w,
        &format!(
            "SELECT count(*) FROM recommendations r
               JOIN (SELECT * FROM products WHERE id IN (SELECT max(id) FROM products GROUP BY sku)) p
                 ON p.sku = r.sku
              WHERE {condition}"
        ),
    )
}

/// `(profile, sku)` pairs bought in orders that count (not cancelled).
const BOUGHT: &str = "SELECT DISTINCT ir.profile_id AS profile_id, l.sku AS sku
       FROM order_lines l
       JOIN orders o ON o.source_id = l.source_id AND o.source_key = l.order_key
       JOIN identity_records ir ON ir.kind = 'order' AND ir.source_id = o.source_id
                               AND ir.source_key = o.source_key
      WHERE coalesce(o.cancelled_at, '') = ''
        AND coalesce(lower(o.financial_status), '') NOT IN ('voided', 'cancelled')";

/// The business rules, per-cluster popularity, the hybrid's new arrivals
/// and undated orders, each against the stored lists of a retrain on the
/// demo workspace.
fn rules_clusters_and_new_arrivals(ws: &std::path::Path) {
    let train = |extra: &[&str]| {
        let mut args = vec!["recommend", "train", "--no-grid"];
        args.extend_from_slice(extra);
        json(ws, &args)
    };
    let quick = ["--model", "item_knn"];

    // Out of stock: never recommended by default; allowed, they appear
    // (so the first count could have failed).
    train(&quick);
    let out_of_stock = "p.in_stock = 0";
    assert_eq!(stored_count(ws, out_of_stock), 0, "out-of-stock products");
    let bought_again = format!("(r.profile_id, r.sku) IN (SELECT profile_id, sku FROM ({BOUGHT}))");
    assert_eq!(stored_count(ws, &bought_again), 0, "bought products");
    let top_category: String = {
        let w = Workspace::open_existing(ws).unwrap();
        w.conn()
            .query_row(
                &format!(
                    "SELECT p.category FROM ({BOUGHT}) b
                       JOIN (SELECT * FROM products WHERE id IN (SELECT max(id) FROM products GROUP BY sku)) p
                         ON p.sku = b.sku
                      GROUP BY p.category ORDER BY count(*) DESC, p.category LIMIT 1"
                ),
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let in_top = format!("p.category = '{}'", top_category.replace('\'', "''"));
    let baseline_top = stored_count(ws, &in_top);
    // The most recommended product of the baseline, to bury.
    let buried: String = {
        let w = Workspace::open_existing(ws).unwrap();
        w.conn()
            .query_row(
                "SELECT sku FROM recommendations GROUP BY sku ORDER BY count(*) DESC, sku LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let buried_before = stored_count(ws, &format!("r.sku = '{buried}'"));
    assert!(buried_before > 50, "{buried}: {buried_before}");
    let mut with_stock = quick.to_vec();
    with_stock.push("--include-out-of-stock");
    train(&with_stock);
    assert!(stored_count(ws, out_of_stock) > 0, "out of stock allowed");

    // Boost a category, bury a product.
    let boost = format!("{top_category}=20");
    let bury = format!("{buried}=0.001");
    let mut args = quick.to_vec();
    args.extend(["--boost", &boost, "--boost", &bury]);
    train(&args);
    let boosted_top = stored_count(ws, &in_top);
    assert!(
        boosted_top > baseline_top * 3 / 2,
        "boosting {top_category}: {baseline_top} → {boosted_top}"
    );
    let buried_after = stored_count(ws, &format!("r.sku = '{buried}'"));
    assert!(
        buried_after * 4 < buried_before,
        "burying {buried}: {buried_before} → {buried_after}"
    );

    // Replenishable: bought products of that category come back, and
    // only of that category.
    let mut args = quick.to_vec();
    args.extend(["--replenishable", &top_category]);
    train(&args);
    let again = stored_count(ws, &bought_again);
    assert!(
        again > 0,
        "replenishable {top_category}: nothing bought again"
    );
    assert_eq!(
        stored_count(ws, &format!("{bought_again} AND NOT ({in_top})")),
        0,
        "only the replenishable category is bought again"
    );

    // An order without a usable date still counts as bought: take a
    // profile that bought the most popular product in one order, blank
    // that order's date, and the popularity lists (which would otherwise
    // put that product first) still leave it out.
    train(&["--model", "popularity"]);
    let w = Workspace::open_existing(ws).unwrap();
    let (popular, profile, source, order): (String, i64, i64, String) = w
        .conn()
        .query_row(
            "WITH top AS (SELECT sku FROM recommendations GROUP BY sku
                               ORDER BY count(*) DESC, sku LIMIT 1)
                 SELECT l.sku, ir.profile_id, o.source_id, o.source_key
                   FROM order_lines l
                   JOIN orders o ON o.source_id = l.source_id AND o.source_key = l.order_key
                   JOIN identity_records ir ON ir.kind = 'order' AND ir.source_id = o.source_id
                                           AND ir.source_key = o.source_key
                  WHERE l.sku = (SELECT sku FROM top)
                    AND coalesce(o.cancelled_at, '') = ''
                    AND coalesce(lower(o.financial_status), '') NOT IN ('voided', 'cancelled')
                    AND (SELECT count(*) FROM order_lines l2
                          JOIN identity_records i2 ON i2.kind = 'order'
                           AND i2.source_id = l2.source_id AND i2.source_key = l2.order_key
                         WHERE i2.profile_id = ir.profile_id AND l2.sku = l.sku) = 1
                  ORDER BY ir.profile_id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    w.conn()
        .execute(
            "UPDATE orders SET ordered_at = NULL WHERE source_id = ?1 AND source_key = ?2",
            rusqlite::params![source, order],
        )
        .unwrap();
    drop(w);
    train(&["--model", "popularity"]);
    let given = |sku: &str| stored_count(ws, &format!("r.sku = '{sku}'"));
    assert!(given(&popular) > 50, "{popular} is popular");
    assert_eq!(
        stored_count(
            ws,
            &format!("r.profile_id = {profile} AND r.sku = '{popular}'")
        ),
        0,
        "profile {profile} bought {popular} in undated order {order}"
    );

    // Per-cluster popularity: once a clustering run exists, the popularity
    // model gives each member of a cluster what is popular in its cluster,
    // and says so. (The demo's clusters are on order traits, so only
    // buyers are members; the model lists of buyers rarely need the
    // fill-up, and profiles without history, in no cluster, get what is
    // popular overall.)
    let liked = "r.reason = 'Popular with customers like them'";
    assert_eq!(stored_count(ws, liked), 0, "no clusters yet");
    let (ok, _, err) = cohort(ws, &["cluster", "run", "--k", "4"]);
    assert!(ok, "{err}");
    train(&["--model", "popularity"]);
    let for_cluster = stored_count(ws, liked);
    assert!(
        for_cluster > 100,
        "{for_cluster} lists say “customers like them”"
    );
    assert_eq!(
        stored_count(
            ws,
            &format!(
                "{liked} AND r.profile_id NOT IN (SELECT profile_id FROM cluster_members
                   WHERE run_id = (SELECT max(id) FROM cluster_runs))"
            )
        ),
        0,
        "only members of a cluster are told about their cluster"
    );
    // The hybrid's content-based cold start: the demo's new arrivals,
    // which nobody viewed or bought, reach lists of customers whose
    // history shares their category or brand, saying why.
    train(&["--model", "hybrid"]);
    let new_arrival = "p.title LIKE '%(new season)'
        AND r.sku NOT IN (SELECT sku FROM order_lines WHERE sku IS NOT NULL)
        AND r.sku NOT IN (SELECT sku FROM events WHERE sku IS NOT NULL)";
    let arrivals = stored_count(ws, new_arrival);
    assert!(arrivals > 100, "{arrivals} new arrivals in hybrid lists");
    assert_eq!(
        stored_count(
            ws,
            &format!(
                "{new_arrival} AND NOT (r.reason LIKE 'New arrival %' AND r.because_sku IS NOT NULL)"
            )
        ),
        0,
        "every new arrival says what it shares with the history"
    );
}
