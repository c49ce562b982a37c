//! The insights commands of the CLI (traits, clustering, charts): flags in,
//! engine calls, tables or JSON out.

use std::path::Path;

use anyhow::Result;
use cohort::store::Workspace;
use cohort::traits::{self, TraitsOptions, TraitsReport};

use crate::{table, Bar};

fn money(minor: i64, currency: &str) -> String {
    format!("{} {currency}", cohort_money(minor))
}

fn cohort_money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    let whole = (m / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", m % 100)
}

pub fn print_traits_report(r: &TraitsReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    println!(
        "Traits: {} profiles ({} buyers) from {} orders and {} events in {:.2} s ({}).",
        r.profiles,
        r.buyers,
        r.orders,
        r.events,
        r.seconds,
        if r.full {
            "all profiles, models refitted"
        } else {
            "profiles touched since the last run"
        }
    );
    let stages: Vec<String> = r
        .stages
        .iter()
        .map(|(n, s)| format!("{n} {s:.2}"))
        .collect();
    println!("Stages (s): {}", stages.join(", "));
    if r.other_currency_orders > 0 {
        println!(
            "{} orders in another currency than the workspace's were counted but left out of revenue and CLV.",
            r.other_currency_orders
        );
    }
    if let Some(bg) = r.model.bgnbd.filter(|_| r.full) {
        println!(
            "BG/NBD on {} buyers: r = {:.4}, α = {:.4}, a = {:.4}, b = {:.4} (time in days)",
            r.model.customers, bg.r, bg.alpha, bg.a, bg.b
        );
    }
    if let Some(gg) = r.model.gamma_gamma.filter(|_| r.full) {
        println!(
            "Gamma-Gamma: p = {:.4}, q = {:.4}, γ = {:.4}",
            gg.p, gg.q, gg.gamma
        );
    }
    if let Some(p) = &r.model.fit_problem {
        println!("Predictions: {p}");
    }
    Ok(())
}

pub fn compute(ws_path: &Path, options: TraitsOptions, json: bool) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let mut bar = Bar::new(json);
    let report = traits::compute(&mut ws, chrono::Utc::now(), options, &mut bar)?;
    bar.finish();
    print_traits_report(&report, json)
}

pub fn refresh(ws_path: &Path, json: bool) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let mut bar = Bar::new(json);
    let report = traits::refresh(&mut ws, chrono::Utc::now(), &mut bar)?;
    bar.finish();
    print_traits_report(&report, json)
}

/// Refreshes traits after an import, when they were computed before.
pub fn after_import(ws: &mut Workspace, json: bool) -> Result<()> {
    if !traits::is_computed(ws.conn())? {
        return Ok(());
    }
    let mut bar = Bar::new(json);
    let report = traits::refresh(ws, chrono::Utc::now(), &mut bar)?;
    bar.finish();
    if !json {
        println!(
            "Traits: {} profiles refreshed in {:.2} s.",
            report.profiles, report.seconds
        );
    }
    Ok(())
}

pub fn show(ws_path: &Path, profile: i64, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let t = traits::get(ws.conn(), profile)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&t)?);
        return Ok(());
    }
    let Some(t) = t else {
        anyhow::bail!(
            "profile {profile} has no traits: it has no orders or events, or traits were never computed (run `cohort traits compute`)"
        );
    };
    let value = serde_json::to_value(&t)?;
    let mut out = table(["trait".to_string(), "value".to_string()]);
    if let Some(map) = value.as_object() {
        for (k, v) in map {
            let shown = match v {
                serde_json::Value::Null => "—".to_string(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.add_row(vec![k.clone(), shown]);
        }
    }
    println!("{out}");
    Ok(())
}

pub fn summary(ws_path: &Path, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let o = traits::overview(ws.conn())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&o)?);
        return Ok(());
    }
    println!(
        "{} profiles with traits, {} buyers, revenue {} (as of {}).",
        o.profiles,
        o.buyers,
        money(o.revenue, &o.currency),
        o.computed_at.as_deref().unwrap_or("never")
    );
    let mut t = table(["RFM segment", "rule", "customers", "revenue"].map(String::from));
    for s in &o.segments {
        t.add_row(vec![
            s.segment.clone(),
            s.rule.clone(),
            s.customers.to_string(),
            money(s.revenue, &o.currency),
        ]);
    }
    println!("{t}");
    let mut t = table(["churn risk", "customers"].map(String::from));
    for b in &o.churn_bands {
        t.add_row(vec![b.label.clone(), b.customers.to_string()]);
    }
    println!("{t}");
    if let Some(clv) = o.average_clv {
        println!("Average predicted CLV: {clv:.2} {}", o.currency);
    }
    if let Some(p) = &o.model.fit_problem {
        println!("Predictions: {p}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_is_grouped() {
        assert_eq!(super::cohort_money(123_456_789), "1,234,567.89");
        assert_eq!(super::cohort_money(-5), "-0.05");
        assert_eq!(super::cohort_money(100_000), "1,000.00");
    }
}
