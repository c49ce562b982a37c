//! The insights commands of the CLI (traits, clustering, charts): flags in,
//! engine calls, tables or JSON out.

use std::path::Path;

use anyhow::Result;
use cohort::store::Workspace;
use cohort::traits::{self, TraitsOptions, TraitsReport};

use crate::{table, Bar};

fn money(minor: i64, currency: &str) -> String {
    let exponent = cohort::ingest::standardise::minor_unit_exponent(currency);
    format!("{} {currency}", grouped(minor, exponent))
}

/// `minor` units with `exponent` decimals, thousands grouped: 1,234.56.
fn grouped(minor: i64, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    let unit = 10u64.pow(exponent);
    let whole = (m / unit).to_string();
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if exponent > 0 {
        out.push_str(&format!(".{:0width$}", m % unit, width = exponent as usize));
    }
    format!("{sign}{out}")
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

pub struct ClusterArgs {
    pub features: Option<String>,
    pub algorithm: String,
    pub k: Option<usize>,
    pub eps: f64,
    pub min_points: usize,
    pub scaling: String,
    pub no_log: bool,
    pub seed: u64,
}

pub fn cluster_run(ws_path: &Path, args: ClusterArgs, json: bool) -> Result<()> {
    use cohort::cluster::{runs, Algorithm, Config, Scaling};
    let features: Vec<String> = match &args.features {
        Some(f) => f
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => runs::TRAIT_COLUMNS
            .iter()
            .filter(|c| c.default)
            .map(|c| c.name.to_string())
            .collect(),
    };
    let algorithm = match args.algorithm.as_str() {
        "kmeans" => Algorithm::KMeans { k: args.k },
        "dbscan" => Algorithm::Dbscan {
            eps: args.eps,
            min_points: args.min_points,
        },
        "gmm" => Algorithm::GaussianMixture {
            k: args.k.unwrap_or(4),
        },
        other => anyhow::bail!("--algorithm is kmeans, dbscan or gmm, not `{other}`"),
    };
    let mut config = Config {
        algorithm,
        seed: args.seed,
        ..Config::default()
    };
    config.prepare.scaling = match args.scaling.as_str() {
        "standard" => Scaling::Standard,
        "robust" => Scaling::Robust,
        other => anyhow::bail!("--scaling is standard or robust, not `{other}`"),
    };
    config.prepare.log_money_and_counts = !args.no_log;
    config.check()?;
    let mut ws = Workspace::open_existing(ws_path)?;
    let mut bar = Bar::new(json);
    let run = runs::run(
        &mut ws,
        &runs::ClusterRequest { features, config },
        &crate::now_iso(),
        &mut bar,
    )?;
    bar.finish();
    print_run(&run, json)
}

fn print_run(run: &cohort::cluster::runs::SavedRun, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(run)?);
        return Ok(());
    }
    let r = &run.result;
    println!(
        "Run #{}: {} clusters of {} profiles on {} in {:.2} s; silhouette {}, Davies–Bouldin {}.",
        run.id,
        r.k,
        r.clusters.iter().map(|c| c.size).sum::<usize>(),
        run.request.features.join(", "),
        run.seconds,
        r.silhouette.map_or("—".into(), |s| format!("{s:.3}")),
        r.davies_bouldin.map_or("—".into(), |s| format!("{s:.3}")),
    );
    let mut t = table(["id", "name", "profiles", "share", "description"].map(String::from));
    for c in &r.clusters {
        t.add_row(vec![
            c.id.to_string(),
            c.name.clone(),
            c.size.to_string(),
            format!("{:.1}%", c.share * 100.0),
            c.description.clone(),
        ]);
    }
    println!("{t}");
    for n in &r.notes {
        println!("Note: {n}");
    }
    Ok(())
}

/// The traits a clustering of this workspace can use, its category shares
/// included (they depend on the workspace's biggest categories).
pub fn cluster_traits(ws_path: &Path, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let features = cohort::cluster::runs::features(ws.conn())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&features)?);
        return Ok(());
    }
    let mut t = table(["trait", "label", "group", "default"].map(String::from));
    for f in features {
        let default = if f.default { "yes" } else { "" };
        t.add_row(vec![f.name, f.label, f.group, default.to_owned()]);
    }
    println!("{t}");
    Ok(())
}

pub fn cluster_show(ws_path: &Path, run: Option<i64>, json: bool) -> Result<()> {
    use cohort::cluster::runs;
    let ws = Workspace::open_existing(ws_path)?;
    let saved = match run {
        Some(id) => runs::get(ws.conn(), id)?,
        None => runs::latest(ws.conn())?.ok_or_else(|| {
            anyhow::anyhow!("no clustering has run yet: run `cohort cluster run`")
        })?,
    };
    print_run(&saved, json)
}

pub fn cluster_rename(
    ws_path: &Path,
    run: i64,
    cluster: u32,
    name: &str,
    json: bool,
) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let saved = cohort::cluster::runs::rename(ws.conn(), run, cluster, name)?;
    print_run(&saved, json)
}

pub fn cluster_save(
    ws_path: &Path,
    run: i64,
    cluster: u32,
    name: Option<&str>,
    json: bool,
) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let s =
        cohort::cluster::runs::save_segment(ws.conn_mut(), run, cluster, name, &crate::now_iso())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!(
            "Saved segment #{} “{}” with {} profiles.",
            s.id, s.name, s.members
        );
    }
    Ok(())
}

pub fn segments(ws_path: &Path, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let list = cohort::segments::list(ws.conn())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let mut t = table(["id", "name", "kind", "profiles", "created"].map(String::from));
    for s in &list {
        t.add_row(vec![
            s.id.to_string(),
            s.name.clone(),
            s.kind.clone(),
            s.members.to_string(),
            s.created_at.clone(),
        ]);
    }
    println!("{t}");
    Ok(())
}

/// Writes a chart of the overview (or of a cluster run) as SVG or PNG,
/// by the file's extension.
pub fn chart(
    ws_path: &Path,
    name: &str,
    run: Option<i64>,
    out: &Path,
    size: (u32, u32),
) -> Result<()> {
    use cohort::charts::{render, Output};
    let ws = Workspace::open_existing(ws_path)?;
    let charts = match run {
        Some(id) => cohort::cluster::runs::charts(&cohort::cluster::runs::get(ws.conn(), id)?),
        None if name.starts_with("recommend_") => {
            match cohort::recommend::latest_run(ws.conn())?.and_then(|r| r.evaluation) {
                Some(e) => cohort::recommend::charts(&e),
                None => anyhow::bail!(
                    "no evaluated recommendation model yet: run `cohort recommend train`"
                ),
            }
        }
        None => traits::charts(&traits::overview(ws.conn())?),
    };
    let names: Vec<&str> = charts.iter().map(|c| c.name).collect();
    let names = names.join(", ");
    let Some(chart) = charts.into_iter().find(|c| c.name == name) else {
        anyhow::bail!(
            "there is no chart `{name}`{}; the charts are {names}",
            if run.is_some() { " in that run" } else { "" }
        );
    };
    let output = match out.extension().and_then(|e| e.to_str()) {
        Some("svg") => Output::Svg,
        Some("png") => Output::Png,
        _ => anyhow::bail!("{}: charts are written as .svg or .png", out.display()),
    };
    let options = chart.options.clone().with_size(size.0, size.1);
    let bytes = render(&chart.spec, &options, output)?;
    std::fs::write(out, bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    println!("Wrote {} ({})", out.display(), options.title);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_is_grouped() {
        assert_eq!(super::grouped(123_456_789, 2), "1,234,567.89");
        assert_eq!(super::grouped(-5, 2), "-0.05");
        assert_eq!(super::grouped(100_000, 2), "1,000.00");
        assert_eq!(super::money(1_500, "JPY"), "1,500 JPY");
    }
}
