//! Traits end to end: real imports and resolution into the real SQLite
//! file, figures checked by hand, and the incremental refresh after an
//! import compared with a full recompute.

use std::process::Command;

use cohort::identity::{self, ResolveOptions};
use cohort::progress::Silent;
use cohort::store::Workspace;
use cohort::traits::{self, ProfileTraits, TraitsOptions};

use crate::support::{import, Scratch};

const NOW: &str = "2026-11-01T12:00:00Z";

fn now() -> chrono::DateTime<chrono::Utc> {
    NOW.parse().unwrap()
}

fn resolve(ws: &mut Workspace, full: bool) {
    identity::resolve(
        ws,
        &ResolveOptions {
            full,
            settings: Default::default(),
            now: NOW.into(),
            actor: "test".into(),
        },
        &mut Silent,
    )
    .unwrap();
}

const PRODUCTS: &str = "\
sku,title,category,brand,price,currency,in_stock
SHOE-1,Trail shoe,Running Shoes,Kinetica,120.00,USD,true
SOCK-1,Wool socks,Socks,Woolly,15.00,USD,true
TENT-1,Tent,Tents,Cairn,300.00,USD,true
";

const ORDERS: &str = "\
Name,Email,Financial Status,Currency,Subtotal,Total,Discount Code,Discount Amount,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Refunded Amount,Vendor,Cancelled at
#1001,anna.smith@gmail.com,paid,USD,135.00,135.00,,0.00,2026-01-10 10:00:00 +0000,1,Trail shoe,120.00,SHOE-1,0.00,Kinetica,
#1001,,,,,,,,,1,Wool socks,15.00,SOCK-1,,Woolly,
#1002,anna.smith@gmail.com,partially_refunded,USD,300.00,270.00,WELCOME10,30.00,2026-06-10 10:00:00 +0000,1,Tent,300.00,TENT-1,50.00,Cairn,
#1003,anna.smith@gmail.com,paid,USD,15.00,15.00,,0.00,2026-10-02 09:00:00 +0000,1,Wool socks,15.00,SOCK-1,0.00,Woolly,
#1004,anna.smith@gmail.com,voided,USD,120.00,120.00,,0.00,2026-10-20 09:00:00 +0000,1,Trail shoe,120.00,SHOE-1,0.00,Kinetica,2026-10-20 10:00:00 +0000
#1005,ben.jones@gmail.com,paid,USD,120.00,120.00,,0.00,2026-10-25 18:00:00 +0000,1,Trail shoe,120.00,SHOE-1,0.00,Kinetica,
";

const MORE_ORDERS: &str = "\
Name,Email,Financial Status,Currency,Subtotal,Total,Discount Code,Discount Amount,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Refunded Amount,Vendor,Cancelled at
#1006,ben.jones@gmail.com,paid,USD,300.00,300.00,,0.00,2026-10-30 18:00:00 +0000,1,Tent,300.00,TENT-1,0.00,Cairn,
#1007,cleo.ray@gmail.com,paid,USD,15.00,15.00,,0.00,2026-10-31 08:00:00 +0000,1,Wool socks,15.00,SOCK-1,0.00,Woolly,
";

// GA4 carries no email: Anna's device joins her through the customer id
// she logs in with, the key of her Shopify contact.
const CUSTOMERS: &str = "\
Customer ID,First Name,Last Name,Email
c1,Anna,Smith,anna.smith@gmail.com
";

const EVENTS: &str = "\
event_date,event_timestamp,event_name,user_pseudo_id,user_id,ga_session_id,item_id,device_category,traffic_source.medium
20261030,1793354400000000,session_start,d1,c1,11,,mobile,email
20261030,1793354460000000,view_item,d1,c1,11,TENT-1,mobile,email
20261030,1793354520000000,view_item,d1,c1,11,SOCK-1,mobile,email
20261030,1793354580000000,add_to_cart,d1,c1,11,SOCK-1,mobile,email
20260915,1789466400000000,session_start,d1,,12,,desktop,organic
20260915,1789466460000000,view_item,d1,,12,TENT-1,desktop,organic
20260601,1780308000000000,view_item,d1,,13,TENT-1,mobile,organic
";

fn anna(ws: &Workspace) -> ProfileTraits {
    let id: i64 = ws
        .conn()
        .query_row(
            "SELECT id FROM profiles WHERE email = 'anna.smith@gmail.com'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    traits::get(ws.conn(), id)
        .unwrap()
        .expect("Anna has traits")
}

/// profile, orders, revenue, RFM segment, top category, sessions
type Row = (i64, i64, i64, Option<String>, Option<String>, u32);

fn all_rows(ws: &Workspace) -> Vec<Row> {
    let mut st = ws
        .conn()
        .prepare(
            "SELECT profile_id, orders, revenue, rfm_segment, top_category, sessions
               FROM profile_traits ORDER BY profile_id",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[test]
fn traits_add_up_by_hand_and_refresh_matches_a_full_compute() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    import(&mut ws, &s.write("products.csv", PRODUCTS));
    import(&mut ws, &s.write("customers_export.csv", CUSTOMERS));
    import(&mut ws, &s.write("orders_export.csv", ORDERS));
    import(&mut ws, &s.write("ga4_events.csv", EVENTS));
    resolve(&mut ws, true);
    let report = traits::compute(&mut ws, now(), TraitsOptions::default(), &mut Silent).unwrap();
    assert!(report.full);
    assert_eq!(report.buyers, 2, "Anna and Ben");

    let t = anna(&ws);
    assert_eq!(t.orders, 3, "the voided order does not count");
    // 135 + 270 + 15 less the 50 refunded.
    assert_eq!(t.revenue, 37_000);
    assert_eq!(t.average_order_value, Some(14_000));
    assert_eq!(t.refunded, 5_000);
    assert_eq!(t.returns, 1);
    assert_eq!(t.first_order_at.as_deref(), Some("2026-01-10T10:00:00Z"));
    assert_eq!(t.last_order_at.as_deref(), Some("2026-10-02T09:00:00Z"));
    assert_eq!(t.days_since_last_order, Some(30));
    // 2026-01-10 → 2026-10-02 is 265 days over two intervals.
    assert_eq!(t.purchase_interval, Some(132.5));
    assert_eq!(
        t.top_category.as_deref(),
        Some("Tents"),
        "the most spent on"
    );
    assert_eq!(t.top_brand.as_deref(), Some("Cairn"));
    assert!((t.discount_share.unwrap() - 1.0 / 3.0).abs() < 1e-9);
    // Engagement: three sessions, four product views (two within 7 days
    // of now, three within 90), one add to cart.
    assert_eq!(t.sessions, 3);
    assert_eq!(t.product_views, 4);
    assert_eq!(t.add_to_carts, 1);
    assert_eq!((t.views_7d, t.views_30d, t.views_90d), (2, 2, 3));
    assert_eq!(t.category_views[0], ("Tents".to_string(), [1, 1, 2]));
    assert_eq!(t.preferred_device.as_deref(), Some("mobile"));
    // Four of her seven events came from the email campaign, all at 10:00
    // UTC, four of them on Friday 2026-10-30 (1 = Monday … 7 = Sunday).
    assert_eq!(t.preferred_channel.as_deref(), Some("email"));
    assert_eq!(t.preferred_hour, Some(10));
    assert_eq!(t.preferred_weekday, Some(5));
    assert_eq!(t.last_seen_at.as_deref(), Some("2026-10-30T10:03:00Z"));
    assert!(t.rfm_segment.is_some());
    // Two buyers: Anna's three orders beat half the base, 1 + ⌊5 · ½⌋.
    assert_eq!(t.rfm_frequency, Some(3));

    // A new import: Ben buys again, Cleo is new. The refresh after the
    // incremental resolution touches only them, and agrees with a full run.
    import(&mut ws, &s.write("orders_export_2.csv", MORE_ORDERS));
    resolve(&mut ws, false);
    let anna_before = anna(&ws);
    let r = traits::refresh(&mut ws, now(), &mut Silent).unwrap();
    assert!(!r.full);
    assert_eq!(r.profiles, 2, "Ben and Cleo only");
    assert_eq!(anna(&ws).revenue, anna_before.revenue);
    let refreshed = all_rows(&ws);
    assert_eq!(refreshed.len(), 3);
    traits::compute(&mut ws, now(), TraitsOptions::default(), &mut Silent).unwrap();
    assert_eq!(refreshed, all_rows(&ws));
    // Nothing new: nothing to refresh.
    let r = traits::refresh(&mut ws, now(), &mut Silent).unwrap();
    assert_eq!(r.profiles, 0);
}

#[test]
fn traits_cli_computes_shows_and_summarises() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    import(&mut ws, &s.write("products.csv", PRODUCTS));
    import(&mut ws, &s.write("orders_export.csv", ORDERS));
    resolve(&mut ws, true);
    let path = ws.path().to_path_buf();
    drop(ws);
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
            .args(args)
            .arg("--workspace")
            .arg(&path)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, err) = run(&["traits", "compute", "--json"]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["buyers"], 2);
    let (ok, out, _) = run(&["traits", "summary", "--json"]);
    assert!(ok);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["buyers"], 2);
    assert_eq!(summary["segments"].as_array().unwrap().len(), 11);
    let (ok, _, err) = run(&["traits", "show", "999"]);
    assert!(!ok);
    assert!(err.contains("profile 999 has no traits"), "{err}");
    let (ok, _, err) = run(&["traits", "compute", "--discount-rate", "2"]);
    assert!(!ok);
    assert!(err.contains("--discount-rate"), "{err}");

    // An import refreshes the traits of the profiles it touched: Ben's
    // second order shows at once.
    let ben = || -> serde_json::Value {
        let ws = Workspace::open_existing(&path).unwrap();
        let id: i64 = ws
            .conn()
            .query_row(
                "SELECT id FROM profiles WHERE email = 'ben.jones@gmail.com'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        drop(ws);
        let (ok, out, err) = run(&["--json", "traits", "show", &id.to_string()]);
        assert!(ok, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    assert_eq!(ben()["orders"], 1);
    let more = s.write("orders_export_2.csv", MORE_ORDERS);
    let (ok, out, err) = run(&["import", more.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("Traits: 2 profiles refreshed"), "{out}");
    assert_eq!(ben()["orders"], 2);
    assert_eq!(ben()["revenue"], 42_000);
}
