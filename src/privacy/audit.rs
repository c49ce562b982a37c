//! The workspace audit log: who (the OS user), what, when, and counts, for
//! every operation that changes or releases personal data. Personal data is
//! never written here: subjects are internal ids ("campaign 3"), details are
//! counts and options.

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

/// What happened. Stored as the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "AuditAction")]
pub enum Action {
    Import,
    Resolve,
    Merge,
    Unmerge,
    Split,
    ReviewDecision,
    Erase,
    PersonExport,
    CampaignExport,
    ConsentChange,
    Retention,
    Backup,
    Restore,
    Encrypt,
    Decrypt,
    SettingChange,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Import => "import",
            Action::Resolve => "resolve",
            Action::Merge => "merge",
            Action::Unmerge => "unmerge",
            Action::Split => "split",
            Action::ReviewDecision => "review_decision",
            Action::Erase => "erase",
            Action::PersonExport => "person_export",
            Action::CampaignExport => "campaign_export",
            Action::ConsentChange => "consent_change",
            Action::Retention => "retention",
            Action::Backup => "backup",
            Action::Restore => "restore",
            Action::Encrypt => "encrypt",
            Action::Decrypt => "decrypt",
            Action::SettingChange => "setting_change",
        }
    }
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct AuditEntry {
    #[ts(type = "number")]
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    #[ts(type = "unknown")]
    pub detail: serde_json::Value,
}

/// The OS user running Cohort. Read here rather than passed in because every
/// caller would pass the same thing; it is who, not when, so it does not make
/// business logic depend on the clock.
pub fn os_user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .or_else(account_name)
        .unwrap_or_else(|| "unknown".into())
}

/// The login name of the process's user from the user database, for when
/// the environment names none (services, containers, `env -i`).
#[cfg(unix)]
fn account_name() -> Option<String> {
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r fills `pwd` with pointers into `buf`, both alive
    // until the name is copied out below; `found` is null when there is none.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name is a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    name.to_str()
        .ok()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

#[cfg(not(unix))]
fn account_name() -> Option<String> {
    None
}

/// Appends an entry. Call it inside the transaction of the operation it
/// records, so the log and the change land (or vanish) together.
pub fn record(
    conn: &Connection,
    action: Action,
    at: &str,
    subject: Option<&str>,
    detail: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![at, os_user(), action.as_str(), subject, detail.to_string()],
    )?;
    Ok(())
}

/// Entries newest first, optionally of one action.
pub fn list(
    conn: &Connection,
    action: Option<&str>,
    limit: u64,
    offset: u64,
) -> rusqlite::Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare(
        "SELECT id, at, actor, action, subject, detail FROM audit_log
         WHERE ?1 IS NULL OR action = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt.query_map(params![action, limit as i64, offset as i64], |r| {
        let detail: String = r.get(5)?;
        Ok(AuditEntry {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            subject: r.get(4)?,
            detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
        })
    })?;
    rows.collect()
}

/// The whole log as CSV (oldest first), for auditors. Written through the
/// csv crate; the log holds no personal data, but a subject could still start
/// with `=`, so cells are guarded like every other export.
pub fn write_csv<W: std::io::Write>(conn: &Connection, out: W) -> anyhow::Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["id", "at", "actor", "action", "subject", "detail"])?;
    let mut stmt = conn.prepare(
        "SELECT id, at, actor, action, coalesce(subject, ''), detail FROM audit_log ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let cells: Vec<String> = (1..6)
            .map(|i| r.get::<_, String>(i))
            .collect::<Result<_, _>>()?;
        let mut record = vec![id.to_string()];
        record.extend(
            cells
                .iter()
                .map(|c| crate::campaigns::safe_csv::neutralise(c).into_owned()),
        );
        w.write_record(&record)?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_user_database_names_the_process_user() {
        let name = account_name().expect("the process's user has an account");
        assert!(!name.is_empty() && name != "unknown");
    }

    #[test]
    fn records_and_lists_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let ws = crate::store::Workspace::open(dir.path().join("w.cohort")).unwrap();
        let c = ws.conn();
        record(
            c,
            Action::Import,
            "2026-01-01T00:00:00Z",
            Some("import 1"),
            &serde_json::json!({"rows": 3}),
        )
        .unwrap();
        record(
            c,
            Action::Erase,
            "2026-01-02T00:00:00Z",
            None,
            &serde_json::json!({"contacts": 1}),
        )
        .unwrap();
        let all = list(c, None, 10, 0).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].action, "erase");
        assert_eq!(all[1].detail["rows"], 3);
        assert!(!all[0].actor.is_empty());
        assert_eq!(list(c, Some("import"), 10, 0).unwrap().len(), 1);
        let mut buf = Vec::new();
        assert_eq!(write_csv(c, &mut buf).unwrap(), 2);
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with("id,at,actor,action,subject,detail"));
        assert!(text.contains("import 1"));
    }
}
