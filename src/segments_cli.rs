//! The segment and campaign commands of the CLI: flags in, engine calls,
//! tables or JSON out.

use crate::now_iso;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cohort::campaigns::{self, Campaign};
use cohort::segments::{self, compile, describe, live, rules::Definition};
use cohort::store::Workspace;
use serde_json::json;

use crate::table;

/// A rule from a file, or from standard input when the path is `-`.
fn read_rule(path: &Path) -> Result<Definition> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading the rule from standard input")?
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the rule file {}", path.display()))?
    };
    Definition::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn scale(ws: &Workspace) -> Result<(String, i64)> {
    let currency = compile::workspace_currency(ws.conn())?;
    let scale = compile::scale_of(&currency);
    Ok((currency, scale))
}

/// A segment by id or by name.
fn find_segment(ws: &Workspace, what: &str) -> Result<segments::Segment> {
    if let Ok(id) = what.parse::<i64>() {
        if let Some(s) = segments::get(ws.conn(), id)? {
            return Ok(s);
        }
    }
    segments::list(ws.conn())?
        .into_iter()
        .find(|s| s.name.eq_ignore_ascii_case(what.trim()))
        .with_context(|| format!("there is no segment “{what}” (see `cohort segments`)"))
}

/// `cohort segment count RULE`: the SQL answer (the reference the live
/// counts are checked against).
pub fn count(ws_path: &Path, rule: &Path, sample: usize, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let def = read_rule(rule)?;
    let (currency, scale) = scale(&ws)?;
    let now = now_iso();
    let started = std::time::Instant::now();
    let compiled = compile::compile(ws.conn(), &def, &now, scale)
        .map_err(|e| anyhow::anyhow!("{}: {}", rule.display(), e.message))?;
    let n = compile::count(ws.conn(), &compiled)?;
    let ids = compile::sample(ws.conn(), &compiled, sample)?;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let description = describe::describe(ws.conn(), &def, &currency);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "count": n, "description": description, "sample": ids, "millis": millis
            }))?
        );
    } else {
        println!("{n} profiles: {description}");
        if !ids.is_empty() {
            println!(
                "e.g. profiles {}",
                ids.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

/// `cohort segment save NAME RULE [--static]`.
pub fn save(ws_path: &Path, name: &str, rule: &Path, is_static: bool, json: bool) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let def = read_rule(rule)?;
    let now = now_iso();
    let index = live::LiveCounts::new().index_now(ws.conn(), ws.path(), &def)?;
    let kind = if is_static { "static" } else { "dynamic" };
    let s = segments::save_rule_with(ws.conn_mut(), name, kind, &def, &now, index.as_deref())?;
    print_saved(&s, "", json)
}

/// What `save` and `edit` print: the segment as JSON, or one sentence.
fn print_saved(s: &segments::Segment, what: &str, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
    } else {
        println!(
            "Saved {what}{} segment #{} “{}”: {} profiles.",
            s.kind, s.id, s.name, s.members
        );
    }
    Ok(())
}

/// `cohort segment edit SEGMENT RULE`: a new version of the rule.
pub fn edit(ws_path: &Path, what: &str, rule: &Path, json: bool) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let s = find_segment(&ws, what)?;
    let def = read_rule(rule)?;
    let now = now_iso();
    let index = live::LiveCounts::new().index_now(ws.conn(), ws.path(), &def)?;
    let s = segments::update_definition_with(ws.conn_mut(), s.id, &def, &now, index.as_deref())?;
    print_saved(&s, "a new rule for ", json)
}

/// `cohort segment show SEGMENT`.
pub fn show(ws_path: &Path, what: &str, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let s = find_segment(&ws, what)?;
    let versions = segments::versions(ws.conn(), s.id)?;
    let history = segments::history(ws.conn(), s.id)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "segment": s, "versions": versions, "history": history
            }))?
        );
        return Ok(());
    }
    println!("#{} {} ({}), {} profiles", s.id, s.name, s.kind, s.members);
    if let Some(d) = &s.description {
        println!("{d}");
    }
    if !versions.is_empty() {
        let mut t = table(["version", "saved", "definition"].map(String::from));
        for v in &versions {
            t.add_row(vec![
                v.version.to_string(),
                v.created_at.clone(),
                v.description.clone(),
            ]);
        }
        println!("{t}");
    }
    if !history.is_empty() {
        let mut t = table(["at", "members", "entered", "exited"].map(String::from));
        for h in &history {
            t.add_row(vec![
                h.at.clone(),
                h.members.to_string(),
                h.entered.to_string(),
                h.exited.to_string(),
            ]);
        }
        println!("{t}");
    }
    Ok(())
}

/// `cohort segment members SEGMENT`: profile ids, one per line.
pub fn members(ws_path: &Path, what: &str, limit: Option<usize>, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let s = find_segment(&ws, what)?;
    let mut ids =
        live::LiveCounts::new().segment_members_now(ws.conn(), ws.path(), s.id, &now_iso())?;
    if let Some(n) = limit {
        ids.truncate(n);
    }
    if json {
        println!("{}", serde_json::to_string(&ids)?);
    } else {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for id in ids {
            writeln!(out, "{id}")?;
        }
    }
    Ok(())
}

/// `cohort segment overlap A B …`.
pub fn overlap(ws_path: &Path, which: &[String], json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let (_, scale) = scale(&ws)?;
    let list: Vec<segments::Segment> = which
        .iter()
        .map(|w| find_segment(&ws, w))
        .collect::<Result<_>>()?;
    let ids: Vec<i64> = list.iter().map(|s| s.id).collect();
    let matrix = segments::overlap(ws.conn(), &ids, &now_iso(), scale)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"segments": list, "counts": matrix}))?
        );
        return Ok(());
    }
    let mut header = vec![String::new()];
    header.extend(list.iter().map(|s| s.name.clone()));
    let mut t = table(header);
    for (s, row) in list.iter().zip(&matrix) {
        let mut cells = vec![s.name.clone()];
        cells.extend(row.iter().map(|n| n.to_string()));
        t.add_row(cells);
    }
    println!("{t}");
    Ok(())
}

/// `cohort segment refresh`: re-evaluates dynamic segments, records who
/// entered and left.
pub fn refresh(ws_path: &Path, json: bool) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let changes = segments::refresh_dynamic(ws.conn_mut(), &now_iso(), None)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&changes)?);
    } else if changes.refreshed.is_empty() && changes.skipped.is_empty() {
        println!("No dynamic segment changed.");
    } else {
        for s in &changes.skipped {
            println!("Skipped “{}”: {}", s.name, s.reason);
        }
        let mut t = table(["segment", "members", "entered", "exited"].map(String::from));
        for c in &changes.refreshed {
            t.add_row(vec![
                c.name.clone(),
                c.members.to_string(),
                c.entered.to_string(),
                c.exited.to_string(),
            ]);
        }
        println!("{t}");
    }
    Ok(())
}

/// After an import: dynamic segments record who entered and left.
pub fn after_import(ws: &mut Workspace, import_id: i64, json: bool) -> Result<()> {
    // A large workspace evaluates through the index (seconds to build,
    // milliseconds per rule) rather than SQL (minutes for behaviour rules).
    let index = if segments::dynamic_reads_behaviour(ws.conn())? && live::prefers_index(ws.conn())?
    {
        Some(live::LiveCounts::new().build_now(ws.conn(), ws.path())?)
    } else {
        None
    };
    let r = segments::refresh_dynamic_with(
        ws.conn_mut(),
        &now_iso(),
        Some(import_id),
        index.as_deref(),
    )?;
    if !json {
        for c in &r.refreshed {
            println!(
                "Segment “{}”: {} entered, {} left, {} members.",
                c.name, c.entered, c.exited, c.members
            );
        }
        for s in &r.skipped {
            println!("Segment “{}” was not refreshed: {}", s.name, s.reason);
        }
    }
    Ok(())
}

/// `cohort segment delete SEGMENT`.
pub fn delete(ws_path: &Path, what: &str) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let s = find_segment(&ws, what)?;
    segments::delete(ws.conn_mut(), s.id)?;
    println!("Deleted segment #{} “{}”.", s.id, s.name);
    Ok(())
}

/// The fields a rule can test and their operators.
pub fn fields(json: bool) -> Result<()> {
    use cohort::segments::fields::FIELDS;
    if json {
        let list: Vec<_> = FIELDS
            .iter()
            .map(|f| json!({"name": f.name, "label": f.label, "group": f.group, "type": f.kind, "ops": f.kind.ops()}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let mut t = table(["field", "label", "group", "type"].map(String::from));
    for f in FIELDS {
        t.add_row(vec![
            f.name.to_string(),
            f.label.to_string(),
            f.group.to_string(),
            serde_json::to_value(f.kind)?
                .as_str()
                .unwrap_or("")
                .to_string(),
        ]);
    }
    println!("{t}");
    Ok(())
}

// ---- campaigns ---------------------------------------------------------------

fn find_campaign(ws: &Workspace, what: &str) -> Result<Campaign> {
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

pub fn campaign_create(
    ws_path: &Path,
    name: &str,
    segment: &str,
    channel: &str,
    holdout: f64,
    template: Option<String>,
    json: bool,
) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let s = find_segment(&ws, segment)?;
    let channel: campaigns::Channel = channel.parse()?;
    let c = campaigns::create(
        ws.conn(),
        campaigns::NewCampaign {
            name: name.to_owned(),
            segment_id: s.id,
            channel,
            template,
            holdout_percent: holdout,
        },
        &now_iso(),
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        println!(
            "Created campaign #{} “{}”: segment “{}”, {}, {}% held out.",
            c.id,
            c.name,
            s.name,
            c.channel.as_str(),
            c.holdout_percent
        );
    }
    Ok(())
}

pub fn campaign_list(ws_path: &Path, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let list = campaigns::list(ws.conn())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let mut t =
        table(["id", "name", "segment", "channel", "holdout %", "created"].map(String::from));
    for c in &list {
        let segment = segments::get(ws.conn(), c.segment_id)?
            .map(|s| s.name)
            .unwrap_or_else(|| format!("#{}", c.segment_id));
        t.add_row(vec![
            c.id.to_string(),
            c.name.clone(),
            segment,
            c.channel.as_str().to_string(),
            c.holdout_percent.to_string(),
            c.created_at.clone(),
        ]);
    }
    println!("{t}");
    Ok(())
}

fn campaign_members(ws: &Workspace, c: &Campaign) -> Result<Vec<i64>> {
    Ok(live::LiveCounts::new().segment_members_now(
        ws.conn(),
        ws.path(),
        c.segment_id,
        &now_iso(),
    )?)
}

pub fn campaign_audience(ws_path: &Path, what: &str, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let c = find_campaign(&ws, what)?;
    let members = campaign_members(&ws, &c)?;
    let a = campaigns::export::preview(ws.conn(), &c, &members)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&a)?);
        return Ok(());
    }
    println!(
        "{} members: {} held out, {} suppressed, {} included.",
        a.members, a.held_out, a.suppressed, a.included
    );
    for (reason, n) in &a.suppressed_by_reason {
        if *n > 0 {
            println!("  suppressed, {reason}: {n}");
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub fn campaign_export(
    ws_path: &Path,
    what: &str,
    format: &str,
    out: &Path,
    columns: Option<String>,
    (bom, pseudonymise): (bool, bool),
    (content, from): (Option<&str>, Option<&str>),
    json: bool,
) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let c = find_campaign(&ws, what)?;
    let format: campaigns::formats::Format = format.parse()?;
    let content: Option<cohort::templates::Content> = content.map(str::parse).transpose()?;
    let members = campaign_members(&ws, &c)?;
    let (version, definition) = segments::get(ws.conn(), c.segment_id)?
        .map(|s| (s.version, s.definition.map(|d| d.to_string())))
        .unwrap_or((None, None));
    let request = campaigns::export::ExportRequest {
        format,
        columns: columns
            .map(|c| {
                c.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        bom,
        path: PathBuf::from(out),
        pseudonymise,
    };
    let mut bar = crate::Bar::new(json);
    let started = std::time::Instant::now();
    let summary = cohort::templates::export_campaign(
        ws.conn_mut(),
        &c,
        &members,
        &request,
        content,
        from,
        version,
        definition,
        &now_iso(),
        &mut |done, total| {
            use cohort::progress::Progress;
            bar.tick(&cohort::progress::Tick {
                stage: "Writing the export",
                done,
                total: Some(total),
                bytes: 0,
                total_bytes: None,
                elapsed: started.elapsed(),
            });
        },
    )?;
    bar.finish();
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!(
        "Wrote {} rows to {} ({} members, {} held out, {} suppressed). SHA-256 {}",
        summary.exported,
        summary.path.display(),
        summary.members,
        summary.held_out,
        summary.suppressed,
        summary.sha256
    );
    for (reason, n) in &summary.suppressed_by_reason {
        if *n > 0 {
            println!("  suppressed, {reason}: {n}");
        }
    }
    // Only worth a line when there is an A/B split.
    if summary.sent_by_variant.len() > 1 {
        for (variant, n) in &summary.sent_by_variant {
            println!("  variant {variant}: {n}");
        }
    }
    for w in &summary.warnings {
        println!("warning: {w}");
    }
    Ok(())
}

pub fn campaign_exports(ws_path: &Path, what: Option<&str>, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let id = match what {
        Some(w) => Some(find_campaign(&ws, w)?.id),
        None => None,
    };
    let list = campaigns::export::exports(ws.conn(), id)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let mut t = table(
        [
            "id",
            "at",
            "campaign",
            "segment",
            "version",
            "format",
            "exported",
            "held out",
            "suppressed",
            "sha-256",
            "file",
        ]
        .map(String::from),
    );
    for e in &list {
        // The first 16 hex digits: enough to tell files apart and to
        // match against `sha256sum`; `--json` has all 64.
        let sha = e.sha256.get(..16).unwrap_or(&e.sha256);
        t.add_row(vec![
            e.id.to_string(),
            e.at.clone(),
            e.campaign_id.to_string(),
            e.segment_id.to_string(),
            e.segment_version
                .map_or_else(|| "-".to_owned(), |v| format!("v{v}")),
            e.format.clone(),
            e.exported.to_string(),
            e.held_out.to_string(),
            e.suppressed.to_string(),
            format!("{sha}…"),
            e.path.clone(),
        ]);
    }
    println!("{t}");
    Ok(())
}

pub fn campaign_delete(ws_path: &Path, what: &str) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let c = find_campaign(&ws, what)?;
    campaigns::delete(ws.conn(), c.id)?;
    println!("Deleted campaign #{} “{}”.", c.id, c.name);
    Ok(())
}

/// `cohort suppress FILE`: adds a suppression list.
pub fn suppress(ws_path: &Path, file: &Path, reason: &str, json: bool) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let r =
        campaigns::suppression::import_suppression_list(ws.conn_mut(), file, reason, &now_iso())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!("{} addresses added to the suppression list.", r.added);
    if !r.skipped_invalid.is_empty() {
        println!("{} rows skipped:", r.skipped_invalid.len());
        for (row, why) in r.skipped_invalid.iter().take(20) {
            println!("  {}, row {row}: {why}", file.display());
        }
    }
    if r.added == 0 && r.skipped_invalid.is_empty() {
        bail!("{}: no email or phone column found", file.display());
    }
    Ok(())
}
