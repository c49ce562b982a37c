//! The consent commands of the CLI (`cohort consent …`): the ledger's
//! answer and history per profile, changes by hand, the overview and the
//! settings. Flags in, `cohort::privacy::consent` calls, tables or JSON out.

use crate::now_iso;
use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use cohort::privacy::consent::{self, Status};
use cohort::store::Workspace;
use serde_json::json;

use crate::table;

#[derive(Subcommand)]
pub enum ConsentCommand {
    /// A profile's consent per channel (the ledger's answer) and every piece of evidence.
    Show {
        /// Profile id, as `cohort profiles` lists it.
        profile: i64,
    },
    /// Record consent given or withdrawn by hand (audited).
    Set {
        #[arg(long)]
        profile: i64,
        /// email, sms or ads.
        #[arg(long)]
        channel: String,
        /// granted or denied.
        #[arg(long)]
        status: String,
        /// Why, e.g. "asked by phone on 3 March" (no other person's data).
        #[arg(long)]
        note: Option<String>,
    },
    /// Profiles per channel and status across the workspace.
    Overview,
    /// Show or change the consent settings.
    Settings {
        /// Channels that need an explicit opt-in, e.g. email=yes,sms=yes,ads=no.
        #[arg(long, value_name = "CHANNEL=yes|no,…")]
        opt_in: Option<String>,
        /// Source names, highest priority first, breaking ties between evidence
        /// with the same time, e.g. "manual,Shopify customers,Mailchimp audience".
        #[arg(long, value_name = "SOURCE,…")]
        priority: Option<String>,
    },
}

pub fn run(ws_path: &Path, what: ConsentCommand, json: bool) -> Result<()> {
    match what {
        ConsentCommand::Show { profile } => show(ws_path, profile, json),
        ConsentCommand::Set {
            profile,
            channel,
            status,
            note,
        } => set(ws_path, profile, &channel, &status, note.as_deref(), json),
        ConsentCommand::Overview => overview(ws_path, json),
        ConsentCommand::Settings { opt_in, priority } => {
            settings(ws_path, opt_in.as_deref(), priority.as_deref(), json)
        }
    }
}

fn dash(v: Option<&str>) -> String {
    v.unwrap_or("–").to_owned()
}

fn show(ws_path: &Path, profile: i64, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let effective = consent::effective(ws.conn(), profile)?;
    let history = consent::history(ws.conn(), profile)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"profile": profile, "effective": effective, "history": history})
            )?
        );
        return Ok(());
    }
    println!("Consent of profile {profile}");
    let mut t = table(
        ["channel", "status", "may contact", "source", "at", "from"]
            .into_iter()
            .map(String::from),
    );
    for s in &effective {
        let status = if s.status == "unknown" {
            format!(
                "no evidence ({})",
                if s.opt_in_required {
                    "opt-in required"
                } else {
                    "no opt-in needed"
                }
            )
        } else {
            match &s.reason {
                Some(r) if s.status == "denied" => format!("denied ({r})"),
                _ => s.status.clone(),
            }
        };
        t.add_row(vec![
            s.channel.to_string(),
            status,
            if s.may_contact { "yes" } else { "no" }.into(),
            dash(s.source.as_deref()),
            dash(s.at.as_deref()),
            origin(s.import_file.as_deref(), s.row_number),
        ]);
    }
    println!("{t}");
    if history.is_empty() {
        println!("No evidence recorded.");
        return Ok(());
    }
    println!("History, newest first (* decides now)");
    let mut t = table(
        [
            "", "channel", "status", "reason", "source", "at", "from", "note",
        ]
        .into_iter()
        .map(String::from),
    );
    for e in &history {
        t.add_row(vec![
            if e.effective { "*" } else { "" }.into(),
            e.channel.clone(),
            e.status.clone(),
            dash(e.reason.as_deref()),
            e.source.clone(),
            e.at.clone(),
            match e.via.as_str() {
                "address" => format!(
                    "list{}",
                    e.row_number
                        .map(|r| format!(", row {r}"))
                        .unwrap_or_default()
                ),
                "profile" => "by hand".into(),
                _ => origin(e.import_file.as_deref(), e.row_number),
            },
            dash(e.note.as_deref()),
        ]);
    }
    println!("{t}");
    Ok(())
}

/// "customers.csv, row 12".
fn origin(file: Option<&str>, row: Option<i64>) -> String {
    match (file, row) {
        (Some(f), Some(r)) => format!("{f}, row {r}"),
        (Some(f), None) => f.to_owned(),
        (None, Some(r)) => format!("row {r}"),
        (None, None) => "–".into(),
    }
}

fn set(
    ws_path: &Path,
    profile: i64,
    channel: &str,
    status: &str,
    note: Option<&str>,
    json: bool,
) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let channel = consent::channel(channel)?;
    let status: Status = status.parse()?;
    let now = now_iso();
    let tx = ws
        .conn_mut()
        .transaction()
        .context("starting the consent change")?;
    let id = consent::set(&tx, profile, channel, status, consent::MANUAL, &now, note)?;
    tx.commit().context("saving the consent change")?;
    let effective = consent::effective(ws.conn(), profile)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"profile": profile, "ledger_id": id, "effective": effective})
            )?
        );
        return Ok(());
    }
    let now_state = effective
        .iter()
        .find(|s| s.channel == channel)
        .map(|s| s.status.clone())
        .unwrap_or_default();
    println!(
        "Recorded: profile {profile}, {channel} consent {} (entry {id}). {channel} consent is now {now_state}.",
        status.as_str()
    );
    Ok(())
}

fn overview(ws_path: &Path, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let o = consent::overview(ws.conn())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&o)?);
        return Ok(());
    }
    println!(
        "{} profiles, {} pieces of consent evidence",
        o.profiles, o.entries
    );
    let mut t = table(
        [
            "channel",
            "granted",
            "denied",
            "no evidence",
            "opt-in required",
            "may contact",
        ]
        .into_iter()
        .map(String::from),
    );
    for c in &o.channels {
        t.add_row(vec![
            c.channel.to_string(),
            c.granted.to_string(),
            c.denied.to_string(),
            c.no_evidence.to_string(),
            if c.opt_in_required { "yes" } else { "no" }.into(),
            c.may_contact.to_string(),
        ]);
    }
    println!("{t}");
    println!("Source priority on equal times: {}", o.priority.join(", "));
    Ok(())
}

/// `email=yes,sms=no` into the opt-in settings.
fn parse_opt_in(text: &str, into: &mut consent::OptIn) -> Result<()> {
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((channel, value)) = part.split_once('=') else {
            bail!("--opt-in: “{part}” is not CHANNEL=yes or CHANNEL=no (e.g. email=yes,ads=no)");
        };
        let channel = consent::channel(channel)?;
        let required = match value.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" => true,
            "no" | "false" | "off" => false,
            other => bail!("--opt-in: {channel}=“{other}”: use yes or no"),
        };
        into.set(channel, required);
    }
    Ok(())
}

fn settings(
    ws_path: &Path,
    opt_in: Option<&str>,
    priority: Option<&str>,
    json: bool,
) -> Result<()> {
    let mut ws = Workspace::open_existing(ws_path)?;
    let mut s = consent::settings(ws.conn())?;
    if opt_in.is_some() || priority.is_some() {
        if let Some(text) = opt_in {
            parse_opt_in(text, &mut s.opt_in)?;
        }
        if let Some(text) = priority {
            s.priority = text.split(',').map(|p| p.trim().to_owned()).collect();
        }
        let tx = ws
            .conn_mut()
            .transaction()
            .context("starting the settings change")?;
        consent::save_settings(&tx, &s, &now_iso())?;
        tx.commit().context("saving the consent settings")?;
        s = consent::settings(ws.conn())?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!(
        "Opt-in required: email {}, sms {}, ads {}",
        yes_no(s.opt_in.email),
        yes_no(s.opt_in.sms),
        yes_no(s.opt_in.ads)
    );
    println!("Source priority on equal times: {}", s.priority.join(", "));
    Ok(())
}
