//! Workspace-file commands: encryption at rest and backups.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use cohort::privacy::audit::{self, Action};
use cohort::store::{backup, crypt, Workspace};

use crate::{table, truncate};

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Take a backup now (SQLite's online backup: the workspace stays usable).
    Create {
        /// Why, as the list shows it.
        #[arg(long, default_value = "manual")]
        reason: String,
    },
    /// The backups kept beside the workspace, newest first.
    List,
    /// Replace the workspace with a backup (checked first; the current state is backed up).
    Restore { name: String },
    /// How many backups to keep (older ones are deleted when a new one is taken).
    Keep { count: usize },
}

/// Where a passphrase comes from on the command line: the environment
/// variable (scripts), else stdin (piped, or typed at a prompt).
fn read_passphrase(from_stdin: bool, prompt: &str) -> Result<String> {
    if !from_stdin {
        if let Ok(p) = std::env::var(crypt::PASSPHRASE_ENV) {
            if !p.is_empty() {
                return Ok(p);
            }
        }
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt}: ");
    }
    let mut line = String::new();
    if stdin.is_terminal() {
        stdin.read_line(&mut line)?;
    } else {
        stdin.lock().read_to_string(&mut line)?;
    }
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if p.is_empty() {
        bail!(
            "no passphrase given: set {} or pipe it on stdin with --passphrase-stdin",
            crypt::PASSPHRASE_ENV
        );
    }
    Ok(p)
}

pub fn encrypt(
    ws_path: &Path,
    from_stdin: bool,
    remember: bool,
    now: &str,
    json: bool,
) -> Result<()> {
    if crypt::is_encrypted(ws_path) {
        // Already encrypted: change the passphrase.
        let ws = Workspace::open_existing(ws_path)?;
        drop(ws);
    } else {
        let ws = Workspace::open_existing(ws_path)?;
        backup::create(&ws, "before encryption", now)?;
    }
    let passphrase = read_passphrase(from_stdin, "New passphrase")?;
    crypt::rekey(ws_path, Some(&passphrase))?;
    let ws = Workspace::open_existing(ws_path)?;
    audit::record(
        ws.conn(),
        Action::Encrypt,
        now,
        None,
        &serde_json::json!({}),
    )?;
    let mut remembered = false;
    if remember {
        // The workspace is encrypted by now: a keychain that refuses (none
        // on a headless Linux without a session keyring) is a warning.
        match crypt::save_to_keychain(ws_path, &passphrase) {
            Ok(()) => remembered = true,
            Err(e) => eprintln!(
                "warning: {e}. The workspace is encrypted; give the passphrase with {} or in the app.",
                crypt::PASSPHRASE_ENV
            ),
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"encrypted": true, "keychain": remembered})
        );
    } else {
        println!(
            "{} is encrypted (SQLCipher, AES-256).{}",
            ws_path.display(),
            if remembered {
                " The passphrase is in your OS keychain."
            } else {
                " Keep the passphrase safe: without it the workspace cannot be opened."
            }
        );
    }
    Ok(())
}

pub fn decrypt(ws_path: &Path, now: &str, json: bool) -> Result<()> {
    if !crypt::is_encrypted(ws_path) {
        bail!("{} is not encrypted", ws_path.display());
    }
    let ws = Workspace::open_existing(ws_path)?;
    audit::record(
        ws.conn(),
        Action::Decrypt,
        now,
        None,
        &serde_json::json!({}),
    )?;
    drop(ws);
    crypt::rekey(ws_path, None)?;
    crypt::remove_from_keychain(ws_path);
    if json {
        println!("{}", serde_json::json!({"encrypted": false}));
    } else {
        println!("{} is no longer encrypted.", ws_path.display());
    }
    Ok(())
}

pub fn backup(ws_path: &Path, what: BackupCommand, now: &str, json: bool) -> Result<()> {
    match what {
        BackupCommand::Create { reason } => {
            let ws = Workspace::open_existing(ws_path)?;
            let b = backup::create(&ws, &reason, now)?;
            audit::record(
                ws.conn(),
                Action::Backup,
                now,
                None,
                &serde_json::json!({"reason": reason, "bytes": b.bytes}),
            )?;
            if json {
                println!("{}", serde_json::to_string(&b)?);
            } else {
                println!("Backed up to {} ({} bytes).", b.path.display(), b.bytes);
            }
        }
        BackupCommand::List => {
            let all = backup::list(ws_path)?;
            if json {
                println!("{}", serde_json::to_string(&all)?);
            } else if all.is_empty() {
                println!("No backups yet (take one with `cohort backup create`).");
            } else {
                let mut t = table(["Name", "Taken", "Reason", "Size"].map(String::from));
                for b in &all {
                    t.add_row(vec![
                        b.name.clone(),
                        b.taken_at.clone(),
                        truncate(&b.reason, 30),
                        format!("{:.1} MB", b.bytes as f64 / 1e6),
                    ]);
                }
                println!("{t}");
            }
        }
        BackupCommand::Restore { name } => {
            let mut ws = Workspace::open_existing(ws_path)?;
            let erased = cohort::privacy::erase::erased_list(ws.conn())?;
            let before =
                backup::restore(&mut ws, &name, now).with_context(|| format!("restore {name}"))?;
            // People erased since the backup was taken stay erased.
            let again = cohort::privacy::erase::reapply(&mut ws, &erased, now)?;
            audit::record(
                ws.conn(),
                Action::Restore,
                now,
                None,
                &serde_json::json!({"backup": name, "previous_state": before.name, "erased_again": again}),
            )?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"restored": name, "previous_state": before, "erased_again": again})
                );
            } else {
                println!(
                    "Restored {name}; it passed the integrity check. The state before the restore is backup {}.",
                    before.name
                );
                if again > 0 {
                    println!("{again} addresses erased since that backup were erased again.");
                }
            }
        }
        BackupCommand::Keep { count } => {
            if count == 0 {
                bail!("keep at least one backup");
            }
            let ws = Workspace::open_existing(ws_path)?;
            ws.set_setting(backup::KEEP_SETTING, &count.to_string())?;
            audit::record(
                ws.conn(),
                Action::SettingChange,
                now,
                None,
                &serde_json::json!({"backups_keep": count}),
            )?;
            if json {
                println!("{}", serde_json::json!({"keep": count}));
            } else {
                println!("Keeping the last {count} backups.");
            }
        }
    }
    Ok(())
}
