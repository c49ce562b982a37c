//! Backups through SQLite's online backup API: a consistent copy of the
//! workspace taken while it stays open, kept in a folder beside it
//! (`shop.cohort` → `shop.cohort.backups/`), the last N kept. Destructive
//! operations (erasure, retention, a full re-resolution, a restore) take
//! one first; a restore checks the copy with
//! `integrity_check` before it replaces anything, and backs up the current
//! state first so a restore can itself be undone.
//!
//! An encrypted workspace's backups are encrypted with the same passphrase.

use std::path::{Path, PathBuf};

use rusqlite::backup::Backup;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{crypt, StoreError, Workspace};

/// How many backups are kept unless the workspace says otherwise.
pub const DEFAULT_KEEP: usize = 10;
/// Setting: how many backups to keep.
pub const KEEP_SETTING: (&str, &str) = ("backups_keep", "10");

/// One backup file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct BackupInfo {
    /// File name inside the backups folder; what `restore` takes.
    pub name: String,
    pub path: PathBuf,
    /// When it was taken (ISO 8601 UTC), from the name.
    pub taken_at: String,
    /// Why: "manual", "erase", "retention", "unmerge", "resolve", "before restore"…
    pub reason: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// The folder holding `workspace`'s backups.
pub fn folder(workspace: &Path) -> PathBuf {
    let mut name = workspace
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".backups");
    workspace.with_file_name(name)
}

fn bad(path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Backup {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// "2026-12-01T14:09:23Z" → "20261201T140923Z", a name that sorts by time.
fn stamp(now: &str) -> String {
    now.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(16)
        .collect()
}

fn slug(reason: &str) -> String {
    let s: String = reason
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "manual".into()
    } else {
        s
    }
}

/// Copies the open workspace to a new backup file and prunes old ones.
/// `now` is an ISO 8601 UTC timestamp.
pub fn create(ws: &Workspace, reason: &str, now: &str) -> Result<BackupInfo, StoreError> {
    let info = copy_to_folder(ws, reason, now)?;
    prune(ws)?;
    Ok(info)
}

fn copy_to_folder(ws: &Workspace, reason: &str, now: &str) -> Result<BackupInfo, StoreError> {
    let dir = folder(ws.path());
    std::fs::create_dir_all(&dir).map_err(|source| StoreError::CreateDir {
        path: dir.clone(),
        source,
    })?;
    let mut name = format!("{}-{}.cohort", stamp(now), slug(reason));
    let mut n = 1;
    while dir.join(&name).exists() {
        n += 1;
        name = format!("{}-{}-{n}.cohort", stamp(now), slug(reason));
    }
    let target = dir.join(&name);
    let partial = target.with_extension("partial");
    let copy = || -> rusqlite::Result<()> {
        let mut dst = Connection::open(&partial)?;
        crypt::key_like(&dst, ws.path())?;
        let backup = Backup::new(ws.conn(), &mut dst)?;
        all_pages(&backup)?;
        drop(backup);
        // The copy is a standalone file: no WAL beside it.
        dst.pragma_update(None, "journal_mode", "DELETE")?;
        Ok(())
    };
    if let Err(e) = copy() {
        let _ = std::fs::remove_file(&partial);
        return Err(bad(&target, format!("could not copy the workspace: {e}")));
    }
    std::fs::rename(&partial, &target).map_err(|e| bad(&target, e.to_string()))?;
    info(&target).ok_or_else(|| bad(&target, "the backup vanished after it was written"))
}

/// Copies every page in one step: stepping in chunks would start over
/// whenever another connection writes to the source in between.
fn all_pages(backup: &Backup<'_, '_>) -> rusqlite::Result<()> {
    use rusqlite::backup::StepResult;
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More => continue,
            // Another connection holds a lock: wait like every writer does.
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

fn info(path: &Path) -> Option<BackupInfo> {
    let name = path.file_name()?.to_str()?.to_string();
    let stem = name.strip_suffix(".cohort")?.to_string();
    let (stamp, reason) = stem.split_once('-')?;
    if stamp.len() != 16 {
        return None;
    }
    let b = stamp.as_bytes();
    let taken_at = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    );
    if b[8] != b'T' {
        return None;
    }
    Some(BackupInfo {
        name,
        path: path.to_path_buf(),
        taken_at,
        reason: reason.replace('-', " "),
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
    })
}

/// The backups of `workspace`, newest first.
pub fn list(workspace: &Path) -> Result<Vec<BackupInfo>, StoreError> {
    let dir = folder(workspace);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(bad(&dir, e.to_string())),
    };
    let mut all: Vec<BackupInfo> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| info(&e.path()))
        .collect();
    all.sort_by(|a, b| b.name.cmp(&a.name));
    Ok(all)
}

/// Deletes all but the newest backups (setting `backups_keep`).
fn prune(ws: &Workspace) -> Result<(), StoreError> {
    let keep: usize = ws
        .setting(KEEP_SETTING)?
        .parse()
        .unwrap_or(DEFAULT_KEEP)
        .max(1);
    for old in list(ws.path())?.into_iter().skip(keep) {
        std::fs::remove_file(&old.path).map_err(|e| bad(&old.path, e.to_string()))?;
    }
    Ok(())
}

/// Checks a backup file: it opens (with the workspace's passphrase if
/// encrypted), passes `integrity_check`, and is a Cohort workspace this
/// build can read.
pub fn verify(workspace: &Path, backup: &Path) -> Result<(), StoreError> {
    let conn = Connection::open_with_flags(backup, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| bad(backup, e.to_string()))?;
    crypt::key_like(&conn, workspace).map_err(|e| bad(backup, e.to_string()))?;
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| bad(backup, format!("cannot be read: {e}")))?;
    if check != "ok" {
        return Err(bad(backup, format!("fails the integrity check: {check}")));
    }
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| bad(backup, e.to_string()))?;
    let has_sources: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sources'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| bad(backup, e.to_string()))?;
    if has_sources.is_none() {
        return Err(bad(backup, "is not a Cohort workspace"));
    }
    if version as usize > super::latest_version() {
        return Err(bad(backup, "was written by a newer Cohort"));
    }
    Ok(())
}

/// Replaces the open workspace's content with the backup `name` (from
/// [`list`]), after checking it and backing up the current state. The
/// workspace is migrated forward if the backup is older. Returns the backup
/// of the state before the restore.
pub fn restore(ws: &mut Workspace, name: &str, now: &str) -> Result<BackupInfo, StoreError> {
    if name.contains('/') || name.contains('\\') || name.contains("..") {
        return Err(bad(Path::new(name), "is not a backup name"));
    }
    let source = folder(ws.path()).join(name);
    if !source.exists() {
        return Err(bad(&source, "no such backup"));
    }
    verify(ws.path(), &source)?;
    // Pruned only once the restore is done: the backup being restored may
    // be the oldest one kept.
    let before = copy_to_folder(ws, "before restore", now)?;
    let src = Connection::open_with_flags(&source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| bad(&source, e.to_string()))?;
    crypt::key_like(&src, ws.path()).map_err(|e| bad(&source, e.to_string()))?;
    {
        let path = ws.path().to_path_buf();
        let backup = Backup::new(&src, ws.conn_mut()).map_err(|e| bad(&path, e.to_string()))?;
        all_pages(&backup).map_err(|e| bad(&source, format!("could not be restored: {e}")))?;
    }
    drop(src);
    // The restored pages may be an older schema: bring them forward.
    let path = ws.path().to_path_buf();
    *ws = Workspace::open(&path)?;
    match ws.integrity_check()? {
        Ok(()) => {
            prune(ws)?;
            Ok(before)
        }
        Err(detail) => Err(bad(
            &path,
            format!("failed the integrity check after restoring: {detail}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(ws: &Workspace) -> i64 {
        ws.conn()
            .query_row("SELECT count(*) FROM sources", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn create_list_prune_and_restore() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shop.cohort");
        let mut ws = Workspace::open(&path).unwrap();
        ws.set_setting(KEEP_SETTING, "2").unwrap();
        ws.conn()
            .execute(
                "INSERT INTO sources (name, kind, created_at) VALUES ('a', 'contacts', 'now')",
                [],
            )
            .unwrap();
        let first = create(&ws, "manual", "2026-12-01T10:00:00Z").unwrap();
        assert_eq!(first.taken_at, "2026-12-01T10:00:00Z");
        assert_eq!(first.reason, "manual");
        assert!(first.path.starts_with(folder(&path)));
        ws.conn()
            .execute(
                "INSERT INTO sources (name, kind, created_at) VALUES ('b', 'contacts', 'now')",
                [],
            )
            .unwrap();
        create(&ws, "erase", "2026-12-01T11:00:00Z").unwrap();
        create(&ws, "retention", "2026-12-01T12:00:00Z").unwrap();
        let all = list(&path).unwrap();
        assert_eq!(all.len(), 2, "kept the last two");
        assert_eq!(all[0].reason, "retention");
        assert!(!first.path.exists());

        let erase = all[1].name.clone();
        ws.conn()
            .execute(
                "INSERT INTO sources (name, kind, created_at) VALUES ('c', 'contacts', 'now')",
                [],
            )
            .unwrap();
        assert_eq!(count(&ws), 3);
        let before = restore(&mut ws, &erase, "2026-12-01T13:00:00Z").unwrap();
        assert_eq!(count(&ws), 2);
        assert_eq!(before.reason, "before restore");
        // And the restore can be undone.
        restore(&mut ws, &before.name, "2026-12-01T14:00:00Z").unwrap();
        assert_eq!(count(&ws), 3);
    }

    #[test]
    fn a_damaged_backup_is_refused_and_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shop.cohort");
        let mut ws = Workspace::open(&path).unwrap();
        ws.conn()
            .execute(
                "INSERT INTO sources (name, kind, created_at) VALUES ('a', 'contacts', 'now')",
                [],
            )
            .unwrap();
        let b = create(&ws, "manual", "2026-12-01T10:00:00Z").unwrap();
        std::fs::write(
            &b.path,
            b"garbage that is not a database at all, not even close",
        )
        .unwrap();
        assert!(restore(&mut ws, &b.name, "2026-12-01T11:00:00Z").is_err());
        assert_eq!(count(&ws), 1);
        assert!(restore(&mut ws, "../shop.cohort", "2026-12-01T11:00:00Z").is_err());
    }

    #[test]
    fn encrypted_workspaces_have_encrypted_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.cohort");
        drop(Workspace::open(&path).unwrap());
        crypt::rekey(&path, Some("backup passphrase")).unwrap();
        let mut ws = Workspace::open(&path).unwrap();
        ws.conn()
            .execute("INSERT INTO sources (name, kind, created_at) VALUES ('Quuxley', 'contacts', 'now')", [])
            .unwrap();
        let b = create(&ws, "manual", "2026-12-01T10:00:00Z").unwrap();
        assert!(crypt::is_encrypted(&b.path));
        let bytes = std::fs::read(&b.path).unwrap();
        assert!(!bytes.windows(7).any(|w| w == b"Quuxley"));
        ws.conn().execute("DELETE FROM sources", []).unwrap();
        restore(&mut ws, &b.name, "2026-12-01T11:00:00Z").unwrap();
        assert_eq!(count(&ws), 1);
    }
}
