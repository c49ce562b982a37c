//! The identity and profile commands of the CLI: flags in, engine calls,
//! tables or JSON out.

use crate::now_iso;
use std::path::Path;

use anyhow::{bail, Result};
use cohort::identity::{self, ResolveOptions, ResolveReport, Settings};
use cohort::profiles;
use cohort::store::Workspace;

use crate::{table, truncate, Bar};

pub struct Tuning {
    pub threshold: Option<f64>,
    pub review_from: Option<f64>,
    pub cap: Option<usize>,
    pub max_people: Option<usize>,
}

pub fn resolve(
    ws_path: &Path,
    full: bool,
    no_backup: bool,
    tuning: Tuning,
    json: bool,
) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    if full && !no_backup {
        identity::backup_before_full_run(&ws, &now_iso())?;
    }
    let mut t = identity::thresholds(&ws)?;
    t.auto_merge_at = tuning.threshold.or(t.auto_merge_at);
    t.review_from = tuning.review_from.or(t.review_from);
    t.max_ids_per_kind = tuning.cap.or(t.max_ids_per_kind);
    t.max_people_per_identifier = tuning.max_people.or(t.max_people_per_identifier);
    identity::set_thresholds(&ws, t)?;
    let mut bar = Bar::new(json);
    let report = identity::resolve(
        &mut ws,
        &ResolveOptions {
            full,
            settings: Settings::default(),
            now: now_iso(),
            actor: "cli".into(),
        },
        &mut bar,
    )?;
    bar.finish();
    print_resolve(&report, json)
}

/// Runs an incremental resolution after an import, when the workspace has
/// been resolved before (the first resolution is asked for explicitly).
pub fn after_import(ws: &mut Workspace, json: bool) -> Result<Option<ResolveReport>> {
    if !identity::is_resolved(ws)? {
        return Ok(None);
    }
    let mut bar = Bar::new(json);
    let report = identity::resolve(
        ws,
        &ResolveOptions {
            full: false,
            settings: Settings::default(),
            now: now_iso(),
            actor: "import".into(),
        },
        &mut bar,
    )?;
    bar.finish();
    if !json {
        println!(
            "Identities: {} new or changed records matched ({} pairs compared) in {:.2} s; {} profiles ({} created, {} changed), {} pairs to review.",
            report.records_matched,
            report.pairs_compared,
            report.seconds,
            report.profiles,
            report.profiles_created,
            report.profiles_changed,
            report.review_pairs
        );
        let stages: Vec<String> = report
            .stages
            .iter()
            .map(|(name, s)| format!("{name} {s:.2}"))
            .collect();
        println!("  seconds per stage: {}", stages.join(", "));
    }
    Ok(Some(report))
}

pub fn print_resolve(r: &ResolveReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    println!(
        "{} resolution: {} records ({} matched) → {} profiles in {:.2} s",
        if r.full { "Full" } else { "Incremental" },
        r.records,
        r.records_matched,
        r.profiles,
        r.seconds
    );
    println!(
        "  candidate pairs {} (blocks skipped as too large: {}), pairs compared {}",
        r.candidate_pairs, r.skipped_blocks, r.pairs_compared
    );
    println!(
        "  merged by shared identifier {}, by match {}, by decision {}; {} pairs to review; {} merges refused",
        r.merged_by_identifier, r.merged_by_match, r.merged_by_decision, r.review_pairs, r.refused
    );
    println!(
        "  merge at probability ≥ {:.4}, review from {:.4}",
        r.auto_merge_at, r.review_from
    );
    if let Some(best) = r.model_best_at {
        println!(
            "  the fitted model expects its best F1 at ≥ {best:.4}; an automatic threshold never goes below {} (a wrong merge costs more than a missed one)",
            identity::AUTO_FLOOR
        );
    }
    let mut t = table(["Stage", "Seconds"].map(String::from));
    for (s, secs) in &r.stages {
        t.add_row(vec![s.clone(), format!("{secs:.2}")]);
    }
    println!("{t}");
    Ok(())
}

/// `cohort review --same-from P --different-below Q`: decides every
/// waiting pair the rule covers, after a backup.
pub fn review_bulk(
    ws_path: &Path,
    rule: identity::BulkDecision,
    backup: bool,
    json: bool,
) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let out = identity::decide_all(&mut ws, rule, backup, "cli", &now_iso())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if let Some(b) = &out.backup {
        println!("Backed up first: {b} (`cohort backup restore {b}` undoes this).");
    }
    println!(
        "{} pairs merged as the same person, {} kept apart; {} pairs left to review.",
        out.merged, out.kept_apart, out.remaining
    );
    Ok(())
}

pub fn review(
    ws_path: &Path,
    same: Option<i64>,
    different: Option<i64>,
    limit: u64,
    json: bool,
) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    if let Some((pair, is_same)) = same.map(|p| (p, true)).or(different.map(|p| (p, false))) {
        let (profile, remaining) = identity::decide(&mut ws, pair, is_same, "cli", &now_iso())?;
        if json {
            println!(
                "{}",
                serde_json::json!({"profile_id": profile, "remaining": remaining})
            );
        } else if is_same {
            println!(
                "Pair #{pair}: same person, now profile #{}. {remaining} pairs left to review.",
                profile.unwrap_or_default()
            );
        } else {
            println!("Pair #{pair}: different people; they stay apart. {remaining} pairs left to review.");
        }
        return Ok(());
    }
    let (total, pairs) = identity::review_queue(&ws, limit, 0)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"total": total, "pairs": pairs}))?
        );
        return Ok(());
    }
    println!(
        "{total} pairs to review (decide with `cohort review --same ID` or `--different ID`):"
    );
    for p in &pairs {
        println!(
            "\nPair #{} — probability {:.3} (weight {:.1} bits)",
            p.id, p.probability, p.weight
        );
        println!(
            "  A: record #{} {} {} — {}",
            p.a.record_id, p.a.source, p.a.source_key, p.a.summary
        );
        println!(
            "  B: record #{} {} {} — {}",
            p.b.record_id, p.b.source, p.b.source_key, p.b.summary
        );
        let mut t = table(["Field", "A", "B", "Level", "Bits"].map(String::from));
        for c in &p.comparisons {
            t.add_row(vec![
                c.field.clone(),
                truncate(c.a.as_deref().unwrap_or(""), 30),
                truncate(c.b.as_deref().unwrap_or(""), 30),
                c.level.clone(),
                format!("{:+.1}", c.weight),
            ]);
        }
        println!("{t}");
    }
    Ok(())
}

pub fn unmerge(
    ws_path: &Path,
    profile: Option<i64>,
    record: Option<i64>,
    json: bool,
) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let profiles = match (profile, record) {
        (_, Some(r)) => identity::split(&mut ws, r, "cli", &now_iso())?,
        (Some(p), None) => identity::unmerge(&mut ws, p, "cli", &now_iso())?,
        (None, None) => bail!("give a profile to unmerge, or --record ID to split one record off"),
    };
    if json {
        println!("{}", serde_json::json!({ "profiles": profiles }));
    } else {
        println!(
            "Done: the records are now in profiles {}.",
            profiles
                .iter()
                .map(|p| format!("#{p}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

fn rule_named(name: &str) -> Result<profiles::Rule> {
    serde_json::from_value(serde_json::Value::String(name.trim().to_string())).map_err(|_| {
        anyhow::anyhow!("there is no survivorship rule `{name}`; the rules are most_recent, source_priority and most_frequent")
    })
}

/// Shows the survivorship rules, or changes them and rebuilds every profile
/// in one transaction (a failure leaves rules and profiles as they were).
pub fn survivorship(
    ws_path: &Path,
    default: Option<String>,
    fields: Vec<String>,
    priority: Option<String>,
    json: bool,
) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let mut rules = profiles::rules(ws.conn())?;
    let change = default.is_some() || !fields.is_empty() || priority.is_some();
    if let Some(d) = &default {
        rules.default = rule_named(d)?;
    }
    for f in &fields {
        let Some((field, rule)) = f.split_once('=') else {
            bail!("--field takes FIELD=RULE, e.g. email=source_priority, not `{f}`");
        };
        let field = field.trim().to_string();
        if rule.trim() == "default" {
            rules.fields.remove(&field);
        } else {
            rules.fields.insert(field, rule_named(rule)?);
        }
    }
    if let Some(p) = &priority {
        rules.source_priority = p
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    let mut rebuilt = None;
    if change {
        let tx = ws.conn_mut().transaction()?;
        profiles::set_rules(&tx, &rules)?;
        let mut bar = Bar::new(json);
        let report = profiles::rebuild(&tx, profiles::Scope::All, &now_iso(), &mut bar)?;
        bar.finish();
        tx.commit()?;
        rebuilt = Some(report);
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "rules": rules, "rebuilt": rebuilt })
            )?
        );
        return Ok(());
    }
    let name = |r: profiles::Rule| {
        serde_json::to_value(r)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    };
    let mut t = table(["Field".to_string(), "Rule".to_string()]);
    for f in profiles::FIELDS {
        let rule = rules.fields.get(f).copied().unwrap_or(rules.default);
        t.add_row([f.to_string(), name(rule)]);
    }
    println!("{t}");
    println!(
        "Source priority (best first): {}",
        if rules.source_priority.is_empty() {
            "none set".to_string()
        } else {
            rules.source_priority.join(", ")
        }
    );
    if let Some(r) = rebuilt {
        println!(
            "Saved; rebuilt {} profiles from {} records.",
            r.written, r.records
        );
    }
    Ok(())
}

pub fn refused(ws_path: &Path, limit: u64, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let (total, rows) = identity::refused(&ws, limit, 0)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"total": total, "rows": rows}))?
        );
        return Ok(());
    }
    println!("{total} merges refused by the guard rails:");
    let mut t = table(["Reason", "Identifier", "Records", "Why"].map(String::from));
    for r in rows {
        t.add_row(vec![
            r.reason,
            format!(
                "{} {}",
                r.kind.unwrap_or_default(),
                truncate(&r.value.unwrap_or_default(), 40)
            ),
            r.records.to_string(),
            truncate(&r.detail, 80),
        ]);
    }
    println!("{t}");
    Ok(())
}

pub fn audit(ws_path: &Path, limit: u64, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let rows = identity::audit_log(&ws, limit, 0)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let mut t = table(["When", "Who", "What", "Profile", "Detail"].map(String::from));
    for r in rows {
        t.add_row(vec![
            r.at,
            r.actor,
            r.action,
            r.profile_id.map(|p| format!("#{p}")).unwrap_or_default(),
            truncate(&r.detail, 80),
        ]);
    }
    println!("{t}");
    Ok(())
}

pub fn eval_identity(ws_path: &Path, truth: &Path, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let e = identity::eval::evaluate(&ws, truth)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    println!(
        "Identity resolution against {} ({} truth rows, {} found in the workspace, {} missing):",
        truth.display(),
        e.truth_rows,
        e.records,
        e.missing
    );
    println!(
        "  pairwise precision {:.4}, recall {:.4}, F1 {:.4} ({} records; {} anonymous devices with no identity left out)",
        e.precision, e.recall, e.f1, e.records, e.anonymous
    );
    println!(
        "  counting the anonymous devices too: precision {:.4}, recall {:.4}, F1 {:.4}",
        e.all_records.0, e.all_records.1, e.all_records.2
    );
    println!(
        "  pairs: {} true, {} predicted, {} correct",
        e.true_pairs, e.predicted_pairs, e.correct_pairs
    );
    println!(
        "  {} people, {} profiles; {:.2}% of people exactly one profile; {} profiles over-merged; {} people split",
        e.people,
        e.profiles,
        e.exact_people * 100.0,
        e.over_merged_profiles,
        e.split_people
    );
    Ok(())
}

pub fn profiles(ws_path: &Path, query: &str, limit: u64, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let started = std::time::Instant::now();
    let found = cohort::profiles::search(ws.conn(), query, limit.min(10_000) as u32, 0)?;
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "total": found.total, "took_ms": took_ms, "profiles": found.profiles
            }))?
        );
        return Ok(());
    }
    let mut t = table(
        [
            "Profile", "Name", "Email", "Phone", "City", "Country", "Records",
        ]
        .map(String::from),
    );
    for p in &found.profiles {
        t.add_row(vec![
            format!("#{}", p.id),
            p.name.clone().unwrap_or_default(),
            truncate(p.email.as_deref().unwrap_or(""), 36),
            p.phone.clone().unwrap_or_default(),
            p.city.clone().unwrap_or_default(),
            p.country.clone().unwrap_or_default(),
            p.records.to_string(),
        ]);
    }
    println!("{t}");
    println!(
        "{}{} profiles{} ({took_ms:.1} ms)",
        found.total,
        if found.total >= cohort::profiles::search::COUNT_CAP {
            "+"
        } else {
            ""
        },
        if query.trim().is_empty() {
            String::new()
        } else {
            format!(" match `{query}`")
        }
    );
    Ok(())
}

pub fn profile(ws_path: &Path, id: i64, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let Some(d) = cohort::profiles::detail(ws.conn(), id, 20)? else {
        bail!("there is no profile #{id}");
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    println!(
        "Profile #{} — {} ({} records, {} orders, {} events)",
        d.id,
        d.name.clone().unwrap_or_else(|| "no name".into()),
        d.records.len(),
        d.orders,
        d.events
    );
    let mut t = table(["Field", "Value", "From"].map(String::from));
    for v in &d.values {
        t.add_row(vec![
            v.field.clone(),
            v.value.clone(),
            format!("{} (record #{})", v.source, v.record_id),
        ]);
    }
    println!("{t}");
    let mut t = table(["Record", "Kind", "Source", "Key", "Summary"].map(String::from));
    for r in &d.records {
        t.add_row(vec![
            format!("#{}", r.record_id),
            r.kind.clone(),
            r.source.clone(),
            r.source_key.clone(),
            truncate(&r.summary, 60),
        ]);
    }
    println!("{t}");
    if !d.links.is_empty() {
        println!("Why these records are together:");
        for l in &d.links {
            println!(
                "  #{} — #{}: {}{}",
                l.record_a,
                l.record_b,
                l.reason,
                l.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            );
        }
    }
    if !d.timeline.is_empty() {
        println!("Latest activity:");
        for e in &d.timeline {
            println!(
                "  {}  {:<14} {}{}",
                e.at,
                e.kind,
                e.title,
                e.detail
                    .as_deref()
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}
