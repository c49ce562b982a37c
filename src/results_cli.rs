//! `cohort campaign results`: import the email tool's results or compute
//! conversions from orders, then print the report against the holdout.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cohort::campaigns::stats::Rate;
use cohort::campaigns::{self, results};
use cohort::store::Workspace;

use crate::table;

#[derive(clap::Args)]
pub struct ResultsArgs {
    /// The email tool's per-recipient results (CSV: email, delivered, opened, clicked, converted, revenue; Mailchimp and Klaviyo headers work). Replaces the campaign's previous email results.
    #[arg(long, value_name = "FILE")]
    import: Option<PathBuf>,
    /// Compute conversions and revenue from the orders placed after the send, for recipients and holdout.
    #[arg(long)]
    from_orders: bool,
    /// With --from-orders: days after the send an order counts (default 14).
    #[arg(long, value_name = "DAYS")]
    window_days: Option<u32>,
    /// Confidence level of intervals and tests (0.95 = 95%).
    #[arg(long, default_value_t = results::DEFAULT_CONFIDENCE)]
    confidence: f64,
    /// Seed of the revenue bootstrap (the same seed gives the same intervals).
    #[arg(long, default_value_t = results::DEFAULT_SEED)]
    seed: u64,
    /// Write the chart of conversion rate per group to this .svg or .png file.
    #[arg(long, value_name = "FILE")]
    chart: Option<PathBuf>,
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A campaign by id or by name.
fn find_campaign(ws: &Workspace, what: &str) -> Result<campaigns::Campaign> {
    if let Ok(id) = what.parse::<i64>() {
        if let Some(c) = campaigns::get(ws.conn(), id)? {
            return Ok(c);
        }
    }
    campaigns::list(ws.conn())?
        .into_iter()
        .find(|c| c.name.eq_ignore_ascii_case(what.trim()))
        .with_context(|| format!("there is no campaign “{what}” (see `cohort campaign list`)"))
}

/// `cohort campaign results CAMPAIGN [--import FILE] [--from-orders]`.
pub fn results(ws_path: &Path, what: &str, args: &ResultsArgs, json: bool) -> Result<()> {
    let output = match &args.chart {
        Some(path) => Some(match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("svg") => cohort::charts::Output::Svg,
            Some(e) if e.eq_ignore_ascii_case("png") => cohort::charts::Output::Png,
            _ => anyhow::bail!("{}: charts are written as .svg or .png", path.display()),
        }),
        None => None,
    };
    if args.window_days.is_some() && !args.from_orders {
        anyhow::bail!(
            "--window-days is the attribution window of --from-orders; add --from-orders"
        );
    }
    let mut ws = Workspace::open_existing(ws_path)?;
    let c = find_campaign(&ws, what)?;
    let imported = match &args.import {
        Some(file) => Some(results::import_results(
            ws.conn_mut(),
            c.id,
            file,
            &now_iso(),
        )?),
        None => None,
    };
    let attributed = if args.from_orders {
        Some(results::results_from_orders(
            ws.conn_mut(),
            c.id,
            args.window_days.unwrap_or(results::DEFAULT_WINDOW_DAYS),
            &now_iso(),
        )?)
    } else {
        None
    };
    let report = results::report(ws.conn(), c.id, args.confidence, args.seed)?;
    let mut written = None;
    if let (Some(path), Some(output)) = (&args.chart, output) {
        let chart = results::chart(&report).with_context(|| {
            format!(
                "no chart for “{}” yet: import results or compute them from orders first",
                report.campaign_name
            )
        })?;
        let bytes = cohort::charts::render(&chart.spec, &chart.options, output)?;
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        if !json {
            written = Some(format!("{} ({})", path.display(), chart.options.title));
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "import": imported,
                "orders": attributed,
                "report": report,
            }))?
        );
    } else {
        if let (Some(r), Some(file)) = (&imported, &args.import) {
            print_import(r, file);
        }
        if let Some(a) = &attributed {
            print_attribution(a);
        }
        print_report(&report);
    }
    if let Some(written) = written {
        println!("Wrote {written}");
    }
    Ok(())
}

fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1 row", "2 rows".
fn rows(n: u64) -> String {
    format!("{} row{}", count(n), if n == 1 { "" } else { "s" })
}

fn money(minor: i64, currency: &str) -> String {
    let scale = 10f64.powi(cohort::ingest::standardise::minor_unit_exponent(currency) as i32);
    results::money_text(minor as f64 / scale, currency)
}

fn print_import(r: &results::ResultsImport, file: &Path) {
    println!(
        "Imported {}: {} read, {} stored for {} recipients{}.",
        file.display(),
        rows(r.rows),
        count(r.matched),
        count(r.recipients),
        if r.replaced > 0 {
            format!(" (replacing {} earlier results)", count(r.replaced))
        } else {
            String::new()
        }
    );
    let columns: Vec<String> = r
        .columns
        .iter()
        .map(|(what, header)| format!("{what} ← “{header}”"))
        .collect();
    println!("  columns read: {}", columns.join(", "));
    let list = |title: String, rows: &[results::RowProblem], total: u64| {
        if total == 0 {
            return;
        }
        println!("  {title}:");
        for p in rows {
            println!(
                "    {}, row {}, column `{}`: `{}`: {}",
                file.display(),
                p.row,
                p.column,
                p.value,
                p.reason
            );
        }
        if rows.len() == results::LISTED_PROBLEMS {
            println!("    (the first {} are shown)", results::LISTED_PROBLEMS);
        }
    };
    list(
        format!(
            "{} rejected for a value that cannot be read (nothing stored from them)",
            rows(r.rejected_rows)
        ),
        &r.rejected,
        r.rejected_rows,
    );
    list(
        format!("{} of unknown recipients", rows(r.unknown_recipients)),
        &r.unknown,
        r.unknown_recipients,
    );
    list(
        format!(
            "{} of people who were not sent the campaign",
            rows(r.not_sent)
        ),
        &r.not_sent_rows,
        r.not_sent,
    );
    if r.recipients_without_results > 0 {
        println!(
            "  {} recipients have no row in the file.",
            count(r.recipients_without_results)
        );
    }
}

fn print_attribution(a: &results::OrdersAttribution) {
    println!(
        "Conversions from orders within {} days of the send: {} of {} recipients and {} of {} in the holdout placed an order ({} orders; revenue {} and {}).",
        a.window_days,
        count(a.recipients_converted),
        count(a.recipients),
        count(a.holdout_converted),
        count(a.holdout),
        count(a.orders),
        money(a.recipients_revenue, &a.currency),
        money(a.holdout_revenue, &a.currency),
    );
    if a.other_currency_orders > 0 {
        println!(
            "  {} orders in another currency than {} count as conversions without revenue.",
            count(a.other_currency_orders),
            a.currency
        );
    }
}

fn rate(r: Option<Rate>) -> String {
    match r {
        Some(r) => format!("{:.1}% ({})", r.rate * 100.0, count(r.count)),
        None => "–".to_owned(),
    }
}

fn print_report(r: &results::CampaignReport) {
    let conf = format!("{}%", r.confidence * 100.0);
    println!();
    println!("Campaign “{}”, first sent {}.", r.campaign_name, r.sent_at);
    match &r.email_tool {
        Some(i) => println!(
            "  Email results: {} (imported {}).",
            i.file.as_deref().unwrap_or("?"),
            i.at
        ),
        None => println!("  Email results: none imported (use --import FILE)."),
    }
    match &r.orders {
        Some(i) => println!(
            "  Orders: {}-day attribution window (computed {}).",
            i.window_days.unwrap_or(results::DEFAULT_WINDOW_DAYS),
            i.at
        ),
        None => println!("  Orders: not computed (use --from-orders)."),
    }
    let mut t = table(
        [
            "Group",
            "People",
            "Delivered",
            "Opened",
            "Clicked",
            "Converted (tool)",
            "Converted (orders)",
            "Revenue / person",
        ]
        .map(String::from),
    );
    for g in &r.groups {
        let e = g.email.as_ref();
        let o = g.orders.as_ref();
        t.add_row(vec![
            g.name.clone(),
            count(g.recipients),
            rate(e.and_then(|e| e.delivered)),
            rate(e.and_then(|e| e.opened)),
            rate(e.and_then(|e| e.clicked)),
            rate(e.and_then(|e| e.converted)),
            rate(o.map(|o| o.converted)),
            o.map(|o| results::money_text(o.revenue_per_recipient, &r.currency))
                .unwrap_or_else(|| "–".to_owned()),
        ]);
    }
    println!("{t}");
    if !r.comparisons.is_empty() {
        let mut t = table(
            [
                "Group",
                "Against",
                "Metric",
                "Rate",
                "Baseline",
                "Uplift (points)",
                &format!("{conf} CI (points)"),
                "Relative",
                "p",
            ]
            .map(String::from),
        );
        for c in &r.comparisons {
            let metric = match (c.metric, c.source) {
                (results::Metric::Open, _) => "open",
                (results::Metric::Click, _) => "click",
                (results::Metric::Conversion, results::Source::EmailTool) => "conversion (tool)",
                (results::Metric::Conversion, results::Source::Orders) => "conversion (orders)",
            };
            t.add_row(vec![
                c.group.clone(),
                c.against.clone(),
                metric.to_owned(),
                format!("{:.2}%", c.rate * 100.0),
                format!("{:.2}%", c.baseline_rate * 100.0),
                format!(
                    "{:+.2}{}",
                    c.uplift_points,
                    if c.significant { " *" } else { "" }
                ),
                format!("{:.2} to {:.2}", c.ci_low, c.ci_high),
                c.uplift_relative
                    .map(|u| format!("{:+.0}%", u * 100.0))
                    .unwrap_or_else(|| "–".to_owned()),
                if c.p_value < 1e-4 {
                    "< 0.0001".to_owned()
                } else {
                    format!("{:.4}", c.p_value)
                },
            ]);
        }
        println!("{t}");
    }
    if !r.revenue.is_empty() {
        let show = |v: f64| results::money_text(v, &r.currency);
        let mut t = table(
            [
                "Group",
                "Against",
                "Source",
                "Revenue / person",
                "Baseline",
                "Difference",
                &format!("{conf} CI (bootstrap)"),
            ]
            .map(String::from),
        );
        for m in &r.revenue {
            t.add_row(vec![
                m.group.clone(),
                m.against.clone(),
                match m.source {
                    results::Source::Orders => "orders",
                    results::Source::EmailTool => "email tool",
                }
                .to_owned(),
                show(m.per_recipient),
                show(m.baseline_per_recipient),
                format!(
                    "{}{}",
                    show(m.difference_per_recipient),
                    if m.significant { " *" } else { "" }
                ),
                format!("{} to {}", show(m.ci_low), show(m.ci_high)),
            ]);
        }
        println!("{t}");
    }
    println!();
    println!("{}", r.verdict);
    for n in &r.notes {
        println!("Note: {n}");
    }
}
