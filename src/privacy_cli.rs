//! The privacy commands of the CLI: erase a person, export a person,
//! retention rules, the audit log. Flags in, engine calls, tables or JSON
//! out.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cohort::privacy::audit;
use cohort::privacy::erase::{self, EraseOptions, ErasePreview, Target};
use cohort::privacy::{person, retention};
use cohort::store::Workspace;

use crate::{table, truncate};

/// Who: exactly one of an email address, a phone number or a profile id.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct Who {
    /// The person's email address.
    #[arg(long, value_name = "ADDRESS")]
    email: Option<String>,
    /// The person's phone number (as written anywhere; read with the workspace region).
    #[arg(long, value_name = "NUMBER")]
    phone: Option<String>,
    /// A profile id (see `cohort profiles`).
    #[arg(long, value_name = "ID")]
    profile: Option<i64>,
}

impl Who {
    fn target(&self) -> Target {
        match (&self.email, &self.phone, self.profile) {
            (Some(e), _, _) => Target::Email(e.clone()),
            (_, Some(p), _) => Target::Phone(p.clone()),
            (_, _, Some(id)) => Target::Profile(id),
            // clap's group makes one of them required.
            _ => unreachable!("one of --email, --phone, --profile is required"),
        }
    }
}

#[derive(clap::Subcommand)]
pub enum PersonCommand {
    /// Write everything held about a person (person.json and CSVs) into a folder.
    Export {
        #[command(flatten)]
        who: Who,
        /// Folder to write into (created if needed).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Subcommand)]
pub enum RetentionCommand {
    /// The rules, and what a run would remove now.
    Show,
    /// Set rules: keep each kind this many months (0 or unset: keep for ever).
    Set {
        #[arg(long, value_name = "N")]
        events_months: Option<u32>,
        #[arg(long, value_name = "N")]
        orders_months: Option<u32>,
        #[arg(long, value_name = "N")]
        rejected_rows_months: Option<u32>,
        #[arg(long, value_name = "N")]
        value_warnings_months: Option<u32>,
        #[arg(long, value_name = "N")]
        campaign_results_months: Option<u32>,
        #[arg(long, value_name = "N")]
        audit_log_months: Option<u32>,
    },
    /// Remove what the rules say is too old, now.
    Run {
        /// Show what would go without removing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

fn print_counts(title: &str, counts: &ErasePreview) {
    println!("{title}");
    let mut t = table(["Table", "Rows removed", "Rows kept anonymous"].map(String::from));
    let mut tables: Vec<&String> = counts
        .removed
        .keys()
        .chain(counts.anonymised.keys())
        .collect();
    tables.sort();
    tables.dedup();
    for name in tables {
        t.add_row(vec![
            name.clone(),
            counts.removed.get(name).copied().unwrap_or(0).to_string(),
            counts
                .anonymised
                .get(name)
                .copied()
                .unwrap_or(0)
                .to_string(),
        ]);
    }
    println!("{t}");
    for f in &counts.files {
        match f.action {
            erase::FileAction::Rewritten => {
                println!("  file {}: {} row(s) taken out", f.path, f.rows)
            }
            erase::FileAction::Deleted => println!("  file {}: deleted", f.path),
        }
    }
    println!(
        "  {} profile(s); {} identifier(s) (email addresses, phone numbers, customer and device ids) kept only as salted hashes so re-imports skip them",
        counts.profiles.len(),
        counts.identifiers
    );
}

/// `cohort erase --email|--phone|--profile [--keep-activity] [--dry-run] [--yes]`.
pub fn erase(
    ws_path: &Path,
    who: &Who,
    keep_activity: bool,
    dry_run: bool,
    yes: bool,
    json: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let target = who.target();
    let options = EraseOptions {
        keep_anonymous_activity: keep_activity,
    };
    // The scratch folders that may hold the person's files (uploads,
    // right-of-access exports made in the app): the one `cohort serve`
    // keeps beside the workspace and the desktop app's.
    let mut scratch: Vec<PathBuf> = ws_path
        .parent()
        .map(|d| d.join("cohort-files"))
        .into_iter()
        .collect();
    scratch.push(crate::data_dir().join("files"));
    let preview = erase::preview(ws.conn(), &target, options, &scratch)?;
    if preview.is_empty() {
        bail!("nobody in this workspace has that {}", target.kind());
    }
    if dry_run {
        if json {
            println!("{}", serde_json::to_string_pretty(&preview)?);
        } else {
            print_counts(
                "Erasing this person would remove (nothing changed):",
                &preview,
            );
        }
        return Ok(());
    }
    if !yes {
        if json || !std::io::stdin().is_terminal() {
            bail!("erasing cannot be undone: pass --yes to confirm (or --dry-run to see what would go)");
        }
        print_counts("Erasing this person will remove:", &preview);
        print!("This cannot be undone. Erase? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            println!("Nothing erased.");
            return Ok(());
        }
    }
    let report = erase::erase(&mut ws, &target, options, &scratch, &crate::iso(now))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print_counts("Erased:", &report.counts);
    if !report.wal_truncated {
        println!("  note: another program has the workspace open; its write-ahead log will be emptied when it closes");
    }
    Ok(())
}

/// Applies the retention rules if a day has passed since they last ran,
/// before a command that changes the workspace, and says on stderr what
/// they removed (stdout stays the command's, `--json` included). Never
/// fails the command: one that cannot open the workspace reports that
/// itself, and a failed run is only a warning.
pub fn retention_at_start(ws_path: &Path, now: chrono::DateTime<chrono::Utc>) {
    if !ws_path.exists() {
        return;
    }
    let Ok(mut ws) = Workspace::open_existing(ws_path) else {
        return;
    };
    match retention::apply_if_due(&mut ws, &crate::iso(now)) {
        Ok(Some(r)) if r.total() > 0 => {
            let what: Vec<String> = r
                .removed
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{} {n}", k.replace('_', " ")))
                .collect();
            eprintln!(
                "Retention rules removed {} row(s) older than their limits ({}); a backup was taken first.",
                r.total(),
                what.join(", ")
            );
        }
        Ok(_) => {}
        Err(e) => eprintln!("warning: the retention rules could not be applied: {e}"),
    }
}

/// `cohort person export --email ADDRESS --out DIR`.
pub fn person_export(
    ws_path: &Path,
    who: &Who,
    out: &Path,
    json: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let report = person::export(ws.conn(), &who.target(), out, &crate::iso(now))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "Wrote {} files to {}:",
        report.files.len(),
        report.dir.display()
    );
    let mut t = table(["Section", "Rows"].map(String::from));
    for (k, v) in &report.counts {
        t.add_row(vec![k.clone(), v.to_string()]);
    }
    println!("{t}");
    Ok(())
}

fn print_retention(r: &retention::RetentionReport, dry_run: bool) {
    if r.rules.is_empty() {
        println!("No retention rules: everything is kept (set some with `cohort retention set`).");
        return;
    }
    let mut t = table(["Kind", "Keep (months)", "Older than"].map(String::from));
    for (kind, months) in r.rules.kinds() {
        t.add_row(vec![
            kind.to_string(),
            months.to_string(),
            r.cutoffs.get(kind).cloned().unwrap_or_default(),
        ]);
    }
    println!("{t}");
    if r.removed.is_empty() {
        println!("Nothing is older than the rules allow.");
        return;
    }
    println!(
        "{}",
        if dry_run {
            "A run now would remove:"
        } else {
            "Removed:"
        }
    );
    let mut t = table(["Table", "Rows"].map(String::from));
    for (k, v) in &r.removed {
        t.add_row(vec![k.clone(), v.to_string()]);
    }
    println!("{t}");
}

/// `cohort retention show|set|run`.
pub fn retention(
    ws_path: &Path,
    what: RetentionCommand,
    json: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let now = crate::iso(now);
    match what {
        RetentionCommand::Show => {
            let r = retention::preview(ws.conn(), &now)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_retention(&r, true);
            }
        }
        RetentionCommand::Set {
            events_months,
            orders_months,
            rejected_rows_months,
            value_warnings_months,
            campaign_results_months,
            audit_log_months,
        } => {
            // Only the flags given change; 0 removes a rule.
            let mut rules = retention::rules(ws.conn())?;
            for (slot, given) in [
                (&mut rules.events_months, events_months),
                (&mut rules.orders_months, orders_months),
                (&mut rules.rejected_rows_months, rejected_rows_months),
                (&mut rules.value_warnings_months, value_warnings_months),
                (&mut rules.campaign_results_months, campaign_results_months),
                (&mut rules.audit_log_months, audit_log_months),
            ] {
                if let Some(m) = given {
                    *slot = (m > 0).then_some(m);
                }
            }
            retention::set_rules(ws.conn(), &rules, &now)?;
            let r = retention::preview(ws.conn(), &now)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_retention(&r, true);
                if !r.removed.is_empty() {
                    println!(
                        "Run `cohort retention run` to remove them (the app does it once a day)."
                    );
                }
            }
        }
        RetentionCommand::Run { dry_run } => {
            let r = if dry_run {
                retention::preview(ws.conn(), &now)?
            } else {
                retention::apply(&mut ws, &now)?
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_retention(&r, dry_run);
            }
        }
    }
    Ok(())
}

/// `cohort audit-log [--action A] [--limit N] [--csv FILE]`.
pub fn audit_log(
    ws_path: &Path,
    action: Option<&str>,
    limit: u64,
    csv: Option<&Path>,
    json: bool,
) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    if let Some(path) = csv {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let n = audit::write_csv(ws.conn(), std::io::BufWriter::new(file))?;
        if json {
            println!("{}", serde_json::json!({ "path": path, "entries": n }));
        } else {
            println!("Wrote {n} audit log entries to {}", path.display());
        }
        return Ok(());
    }
    let rows = audit::list(ws.conn(), action, limit, 0)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let mut t = table(["#", "When", "Who", "What", "Subject", "Detail"].map(String::from));
    for r in rows {
        t.add_row(vec![
            r.id.to_string(),
            r.at,
            r.actor,
            r.action,
            r.subject.unwrap_or_default(),
            truncate(&r.detail.to_string(), 80),
        ]);
    }
    println!("{t}");
    Ok(())
}
