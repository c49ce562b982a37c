//! The privacy commands: consent ledger, erase and export a person,
//! retention, backups, encryption and the audit log. The engine's types
//! (`cohort::privacy`, `cohort::store::backup`) are the JSON the UI reads.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::ApiError;
use crate::privacy::audit::{self, Action};
use crate::privacy::consent::{self, ConsentError};
use crate::privacy::erase::{self, EraseOptions, Target};
use crate::privacy::{person, retention};
use crate::store::{backup, crypt, Workspace};

impl From<ConsentError> for ApiError {
    fn from(e: ConsentError) -> Self {
        let code = match e {
            ConsentError::Sql { .. } => "store",
            ConsentError::NoProfile(_) => "not_found",
            _ => "bad_request",
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<erase::Error> for ApiError {
    fn from(e: erase::Error) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

/// Whom a privacy request is about: exactly one of the three.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct PersonRequest {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub profile_id: Option<i64>,
}

impl PersonRequest {
    fn target(&self) -> Result<Target, ApiError> {
        let text = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        match (text(&self.email), text(&self.phone), self.profile_id) {
            (Some(e), None, None) => Ok(Target::Email(e)),
            (None, Some(p), None) => Ok(Target::Phone(p)),
            (None, None, Some(id)) => Ok(Target::Profile(id)),
            _ => Err(ApiError::new(
                "bad_request",
                "Give one of: an email address, a phone number or a profile id.",
            )),
        }
    }
}

/// `erase_preview` and the `erase` job.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct EraseRequest {
    #[serde(flatten)]
    pub person: PersonRequest,
    /// Keep orders and events as anonymous rows instead of deleting them.
    #[serde(default)]
    pub keep_anonymous_activity: bool,
}

/// `person_export`.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct PersonExportRequest {
    #[serde(flatten)]
    pub person: PersonRequest,
    /// A folder on this computer; default: a new folder in the app's scratch space.
    #[serde(default)]
    pub out_dir: Option<String>,
}

/// `person_export`'s answer: where the files went, and the JSON itself so a
/// browser can download it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct PersonExportView {
    pub dir: String,
    pub files: Vec<String>,
    #[ts(type = "Record<string, number>")]
    pub counts: std::collections::BTreeMap<String, u64>,
    /// `person.json`, for download.
    pub json: String,
}

/// `consent_profile`.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct ConsentProfileRequest {
    #[ts(type = "number")]
    pub profile_id: i64,
}

/// `consent_set`.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct ConsentSetRequest {
    #[ts(type = "number")]
    pub profile_id: i64,
    pub channel: String,
    pub status: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// `audit_log`.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct AuditLogRequest {
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub limit: Option<u64>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub offset: Option<u64>,
}

/// `backups`: the backups and how many are kept; `encrypted` says whether
/// the workspace file is encrypted at rest.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct BackupsView {
    pub backups: Vec<backup::BackupInfo>,
    pub keep: u32,
    pub folder: String,
    pub encrypted: bool,
}

/// `backup_keep_set`.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct BackupKeepRequest {
    pub keep: u32,
}

/// The `backup_create` job.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct BackupCreateRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

/// The `backup_restore` job.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct BackupRestoreRequest {
    pub name: String,
}

/// `workspace_unlock`: the passphrase of an encrypted workspace.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct UnlockRequest {
    pub path: String,
    pub passphrase: String,
    /// Also keep it in the OS keychain.
    #[serde(default)]
    pub remember: bool,
}

pub fn consent_overview(ws: &Workspace) -> Result<consent::Overview, ApiError> {
    Ok(consent::overview(ws.conn())?)
}

/// `consent_profile` and `consent_set`: the effective consent per channel
/// and every piece of evidence.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ConsentProfileView {
    pub effective: Vec<consent::ConsentState>,
    pub history: Vec<consent::ConsentEvidence>,
}

pub fn consent_profile(
    ws: &Workspace,
    req: &ConsentProfileRequest,
) -> Result<ConsentProfileView, ApiError> {
    Ok(ConsentProfileView {
        effective: consent::effective(ws.conn(), req.profile_id)?.to_vec(),
        history: consent::history(ws.conn(), req.profile_id)?,
    })
}

pub fn consent_set(
    ws: &Workspace,
    req: &ConsentSetRequest,
    now: &str,
) -> Result<ConsentProfileView, ApiError> {
    let channel = consent::channel(&req.channel)?;
    let status = match req.status.as_str() {
        "granted" => consent::Status::Granted,
        "denied" => consent::Status::Denied,
        other => return Err(ConsentError::UnknownStatus(other.into()).into()),
    };
    let note = req.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    consent::set(
        ws.conn(),
        req.profile_id,
        channel,
        status,
        "manual",
        now,
        note,
    )?;
    consent_profile(
        ws,
        &ConsentProfileRequest {
            profile_id: req.profile_id,
        },
    )
}

pub fn consent_settings_set(
    ws: &Workspace,
    settings: &consent::Settings,
    now: &str,
) -> Result<consent::Settings, ApiError> {
    consent::save_settings(ws.conn(), settings, now)?;
    Ok(consent::settings(ws.conn())?)
}

/// `scratch`: the app's scratch folder, whose uploads and right-of-access
/// exports naming the person go with them.
pub fn erase_preview(
    ws: &Workspace,
    req: &EraseRequest,
    scratch: &Path,
) -> Result<erase::ErasePreview, ApiError> {
    let options = EraseOptions {
        keep_anonymous_activity: req.keep_anonymous_activity,
    };
    Ok(erase::preview(
        ws.conn(),
        &req.person.target()?,
        options,
        &[scratch.to_path_buf()],
    )?)
}

pub fn erase(
    ws: &mut Workspace,
    req: &EraseRequest,
    scratch: &Path,
    now: &str,
) -> Result<erase::EraseReport, ApiError> {
    let options = EraseOptions {
        keep_anonymous_activity: req.keep_anonymous_activity,
    };
    Ok(erase::erase(
        ws,
        &req.person.target()?,
        options,
        &[scratch.to_path_buf()],
        now,
    )?)
}

pub fn person_export(
    ws: &Workspace,
    req: &PersonExportRequest,
    scratch: &Path,
    now: &str,
) -> Result<PersonExportView, ApiError> {
    let target = req.person.target()?;
    let dir = match req
        .out_dir
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        Some(d) => PathBuf::from(d),
        None => {
            // Named by time, not by the person: the folder name is seen in
            // file dialogs and logs.
            let stamp: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            scratch
                .join("person-exports")
                .join(format!("person-{stamp}"))
        }
    };
    let report = person::export(ws.conn(), &target, &dir, now)?;
    let json = std::fs::read_to_string(report.dir.join("person.json"))
        .map_err(|e| ApiError::new("io", format!("{}: {e}", report.dir.display())))?;
    Ok(PersonExportView {
        dir: report.dir.to_string_lossy().into_owned(),
        files: report
            .files
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect(),
        counts: report.counts,
        json,
    })
}

pub fn retention_rules_set(
    ws: &Workspace,
    rules: &retention::RetentionRules,
    now: &str,
) -> Result<retention::RetentionRules, ApiError> {
    retention::set_rules(ws.conn(), rules, now)?;
    Ok(retention::rules(ws.conn())?)
}

pub fn backups(ws: &Workspace) -> Result<BackupsView, ApiError> {
    Ok(BackupsView {
        backups: backup::list(ws.path())?,
        keep: ws
            .setting(backup::KEEP_SETTING)?
            .parse()
            .unwrap_or(backup::DEFAULT_KEEP as u32),
        folder: backup::folder(ws.path()).to_string_lossy().into_owned(),
        encrypted: crypt::is_encrypted(ws.path()),
    })
}

pub fn backup_keep_set(
    ws: &Workspace,
    req: &BackupKeepRequest,
    now: &str,
) -> Result<BackupsView, ApiError> {
    if req.keep == 0 || req.keep > 1000 {
        return Err(ApiError::new(
            "bad_request",
            "Keep between 1 and 1000 backups.",
        ));
    }
    ws.set_setting(backup::KEEP_SETTING, &req.keep.to_string())?;
    audit::record(
        ws.conn(),
        Action::SettingChange,
        now,
        None,
        &serde_json::json!({"backups_keep": req.keep}),
    )
    .map_err(|e| ApiError::new("store", e.to_string()))?;
    backups(ws)
}

pub fn backup_create(
    ws: &Workspace,
    req: &BackupCreateRequest,
    now: &str,
) -> Result<backup::BackupInfo, ApiError> {
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("manual");
    let b = backup::create(ws, reason, now)?;
    audit::record(
        ws.conn(),
        Action::Backup,
        now,
        None,
        &serde_json::json!({"reason": reason, "bytes": b.bytes}),
    )
    .map_err(|e| ApiError::new("store", e.to_string()))?;
    Ok(b)
}

pub fn backup_restore(
    ws: &mut Workspace,
    req: &BackupRestoreRequest,
    now: &str,
) -> Result<BackupsView, ApiError> {
    let erased = erase::erased_list(ws.conn())?;
    let before = backup::restore(ws, &req.name, now)?;
    // People erased since the backup was taken stay erased.
    let again = erase::reapply(ws, &erased, now)?;
    audit::record(
        ws.conn(),
        Action::Restore,
        now,
        None,
        &serde_json::json!({"backup": req.name, "previous_state": before.name, "erased_again": again}),
    )
    .map_err(|e| ApiError::new("store", e.to_string()))?;
    backups(ws)
}

pub fn audit_log(
    ws: &Workspace,
    req: &AuditLogRequest,
) -> Result<Vec<audit::AuditEntry>, ApiError> {
    let action = req.action.as_deref().filter(|a| !a.is_empty());
    audit::list(
        ws.conn(),
        action,
        req.limit.unwrap_or(100).min(1000),
        req.offset.unwrap_or(0),
    )
    .map_err(|e| ApiError::new("store", e.to_string()))
}

/// The whole audit log as CSV text, for download.
pub fn audit_csv(ws: &Workspace) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    audit::write_csv(ws.conn(), &mut buf).map_err(|e| ApiError::new("store", e.to_string()))?;
    String::from_utf8(buf).map_err(|e| ApiError::new("internal", e.to_string()))
}

/// Gives this process the passphrase of an encrypted workspace (and the
/// keychain, if asked), after checking it opens the file.
pub fn unlock(req: &UnlockRequest) -> Result<(), ApiError> {
    let path = Path::new(req.path.trim());
    crypt::remember_for_session(path, &req.passphrase);
    if let Err(e) = Workspace::open_existing(path) {
        crypt::forget_for_session(path);
        return Err(e.into());
    }
    if req.remember {
        crypt::save_to_keychain(path, &req.passphrase)?;
    }
    Ok(())
}
