//! The one dispatcher that the desktop app and `cohort serve` both call.
//!
//! **API boundary:** a command name plus a JSON payload in, JSON out (types
//! in [`types`], mirrored to TypeScript). Transports (Tauri IPC, HTTP) only
//! move bytes and progress events; they hold no logic of their own. The
//! dispatcher is an edge: it reads the clock and keeps the list of recent
//! workspaces, and hands everything else to the engine.

mod privacy;
mod recommend;
mod results;
mod segments;
mod templates;
pub mod types;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::ingest::{self, ImportOptions, Kind};
use crate::progress::Progress;
use crate::store::Workspace;
use types::*;

/// An error as the UI sees it: a stable code to branch on and a message
/// written for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

/// How a transport should classify an error (HTTP maps these to statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request itself is wrong (unknown command, bad payload).
    BadRequest,
    /// The request is fine but the data is not (a file that is not CSV…).
    Unprocessable,
    /// No workspace is open, or the named one does not exist.
    NotFound,
    Cancelled,
    Internal,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self.code.as_str() {
            "unknown_command" | "bad_request" | "invalid_json" => ErrorClass::BadRequest,
            "no_workspace" | "not_found" => ErrorClass::NotFound,
            "cancelled" => ErrorClass::Cancelled,
            "store" | "internal" | "io" => ErrorClass::Internal,
            _ => ErrorClass::Unprocessable,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ingest::ImportError> for ApiError {
    fn from(e: ingest::ImportError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

impl From<crate::identity::IdentityError> for ApiError {
    fn from(e: crate::identity::IdentityError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

impl From<crate::traits::TraitsError> for ApiError {
    fn from(e: crate::traits::TraitsError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

impl From<crate::segments::SegmentError> for ApiError {
    fn from(e: crate::segments::SegmentError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

impl From<crate::cluster::runs::RunError> for ApiError {
    fn from(e: crate::cluster::runs::RunError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as E;
        let code = match &e {
            E::Locked { .. } => "locked",
            E::WrongPassphrase { .. } => "wrong_passphrase",
            E::WeakPassphrase => "bad_request",
            E::Busy { .. } => "busy",
            E::Backup { .. } => "backup",
            _ => "store",
        };
        ApiError::new(code, e.to_string())
    }
}

/// Commands that run long and report progress; the rest answer at once.
pub const JOBS: &[&str] = &[
    "import",
    "demo",
    "resolve",
    "traits_compute",
    "cluster_run",
    "survivorship_set",
    "campaign_export",
    "recommend_train",
    "erase",
    "retention_run",
    "backup_create",
    "backup_restore",
];

pub fn is_job(command: &str) -> bool {
    JOBS.contains(&command)
}

/// Turns engine progress into [`JobEvent`]s for a transport (an SSE stream,
/// a Tauri channel), a few a second at most: the UI needs no more, and a
/// flood of events would slow the import it reports on.
pub struct JobProgress<F: FnMut(JobEvent)> {
    emit: F,
    cancel: crate::progress::CancelToken,
    last: Option<std::time::Instant>,
}

impl<F: FnMut(JobEvent)> JobProgress<F> {
    pub fn new(cancel: crate::progress::CancelToken, emit: F) -> Self {
        JobProgress {
            emit,
            cancel,
            last: None,
        }
    }
}

impl<F: FnMut(JobEvent)> Progress for JobProgress<F> {
    fn tick(&mut self, t: &crate::progress::Tick<'_>) {
        if self
            .last
            .is_some_and(|l| l.elapsed() < std::time::Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(std::time::Instant::now());
        (self.emit)(JobEvent::Progress {
            stage: t.stage.to_string(),
            done: t.done,
            total: t.total,
            bytes: t.bytes,
            total_bytes: t.total_bytes,
            elapsed_ms: t.elapsed.as_millis() as u64,
        });
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// Runs job `command` to the end, sending its progress and then exactly one
/// `Done` or `Error` event: what every transport does with a job.
pub fn run_job_events(
    app: &App,
    command: &str,
    payload: Value,
    cancel: crate::progress::CancelToken,
    mut emit: impl FnMut(JobEvent),
) {
    let result = app.run_job(command, payload, &mut JobProgress::new(cancel, &mut emit));
    emit(match result {
        Ok(result) => JobEvent::Done { result },
        Err(e) => JobEvent::Error {
            code: e.code,
            message: e.message,
        },
    });
}

/// The application as the UI sees it: the open workspace and the recent ones.
pub struct App {
    state: Mutex<State>,
    /// Where the list of recent workspaces is kept (None: not kept).
    recent_file: Option<PathBuf>,
    /// Where uploads and demo exports go.
    scratch: PathBuf,
    /// Set by the desktop shell on a first start; reported once by `app_info`.
    first_start: std::sync::atomic::AtomicBool,
    /// The segment index behind live counts (rebuilt in the background).
    live: crate::segments::live::LiveCounts,
}

struct State {
    workspace: Option<PathBuf>,
    recent: Vec<PathBuf>,
}

const RECENT_MAX: usize = 10;

impl App {
    /// `workspace`: open this one at start (created if missing).
    pub fn new(workspace: Option<PathBuf>, recent_file: Option<PathBuf>, scratch: PathBuf) -> App {
        let recent: Vec<PathBuf> = recent_file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        let app = App {
            state: Mutex::new(State {
                workspace: None,
                recent,
            }),
            recent_file,
            scratch,
            first_start: Default::default(),
            live: Default::default(),
        };
        if let Some(ws) = workspace {
            app.remember(&ws);
        }
        app
    }

    /// Marks this launch as the first one ever (no workspace was known).
    pub fn mark_first_start(&self) {
        self.first_start
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// The folder uploads are written to.
    pub fn upload_dir(&self) -> PathBuf {
        self.scratch.join("uploads")
    }

    pub fn workspace_path(&self) -> Option<PathBuf> {
        self.state.lock().expect("state lock").workspace.clone()
    }

    fn remember(&self, path: &Path) {
        let mut st = self.state.lock().expect("state lock");
        st.workspace = Some(path.to_path_buf());
        st.recent.retain(|p| p != path);
        st.recent.insert(0, path.to_path_buf());
        st.recent.truncate(RECENT_MAX);
        if let Some(f) = &self.recent_file {
            if let Some(dir) = f.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            // Losing the recent list is an inconvenience, not a failure of the command.
            let _ = std::fs::write(
                f,
                serde_json::to_string_pretty(&st.recent).unwrap_or_default(),
            );
        }
    }

    fn workspace(&self) -> Result<Workspace, ApiError> {
        let path = self.workspace_path().ok_or_else(|| {
            ApiError::new(
                "no_workspace",
                "No workspace is open. Open or create one first.",
            )
        })?;
        Ok(Workspace::open(path)?)
    }

    /// Runs a quick command.
    pub fn call(&self, command: &str, payload: Value) -> Result<Value, ApiError> {
        match command {
            "app_info" => {
                let _: Empty = parse(payload)?;
                let (workspace, locked, retention) = match self.workspace_path() {
                    Some(p) => match Workspace::open(&p) {
                        Ok(mut ws) => {
                            // Retention rules apply at start (at most daily);
                            // what they removed is reported to the user.
                            let removed =
                                crate::privacy::retention::apply_if_due(&mut ws, &now_iso())?
                                    .filter(|r| r.total() > 0);
                            (Some(self.info(&ws)?), None, removed)
                        }
                        Err(crate::store::StoreError::Locked { .. }) => {
                            (None, Some(path_string(&p)), None)
                        }
                        Err(e) => return Err(e.into()),
                    },
                    None => (None, None, None),
                };
                let recent = self
                    .state
                    .lock()
                    .expect("state lock")
                    .recent
                    .iter()
                    .map(|p| path_string(p))
                    .collect();
                let first_start = self
                    .first_start
                    .swap(false, std::sync::atomic::Ordering::SeqCst);
                out(AppInfo {
                    version: env!("CARGO_PKG_VERSION").into(),
                    first_start,
                    workspace,
                    recent,
                    locked,
                    retention,
                })
            }
            "workspace_open" => {
                let req: WorkspaceOpen = parse(payload)?;
                let path = path_buf(req.path.trim());
                if req.path.trim().is_empty() {
                    return Err(ApiError::new(
                        "bad_request",
                        "Give the path of a workspace file.",
                    ));
                }
                if !req.create && !path.exists() {
                    return Err(ApiError::new(
                        "not_found",
                        format!("There is no workspace at {}.", path.display()),
                    ));
                }
                let ws = Workspace::open(&path)?;
                self.remember(&path);
                out(self.info(&ws)?)
            }
            "workspace_stats" => {
                let _: Empty = parse(payload)?;
                out(Stats::from(self.workspace()?.stats()?))
            }
            "catalog" => {
                let _: Empty = parse(payload)?;
                out(catalog())
            }
            "preview" => {
                let req: PreviewRequest = parse(payload)?;
                let region = match self.workspace_path() {
                    Some(p) => {
                        Workspace::open(p)?.setting(crate::store::setting::DEFAULT_REGION)?
                    }
                    None => crate::store::setting::DEFAULT_REGION.1.to_string(),
                };
                let options = read_options(&req.read)?;
                let preview = ingest::preview(
                    Path::new(&req.read.path),
                    &options,
                    &region,
                    req.rows.min(1000),
                )?;
                out(Preview::from(&preview))
            }
            "imports" => {
                let _: Empty = parse(payload)?;
                let list = ingest::imports(&self.workspace()?)?;
                out(list.iter().map(ImportSummary::from).collect::<Vec<_>>())
            }
            "rejects" => {
                let req: RejectsRequest = parse(payload)?;
                let ws = self.workspace()?;
                if !ingest::import_exists(&ws, req.import_id)? {
                    return Err(ApiError::new(
                        "not_found",
                        format!("There is no import #{}.", req.import_id),
                    ));
                }
                let limit = req.limit.min(10_000);
                let (rows, total) = if req.warnings {
                    ingest::value_warnings(&ws, req.import_id, limit, req.offset)?
                } else {
                    ingest::rejected_rows(&ws, req.import_id, limit, req.offset)?
                };
                out(Rejects {
                    total,
                    rows: rows
                        .into_iter()
                        .map(|p| ProblemRow {
                            row: p.row,
                            column: p.column,
                            value: p.value,
                            code: p.code,
                            reason: p.reason,
                        })
                        .collect(),
                })
            }
            "identity_summary" => {
                let _: Empty = parse(payload)?;
                out(IdentitySummary::from(crate::identity::summary(
                    &self.workspace()?,
                )?))
            }
            "profiles_search" => {
                let req: ProfileSearchRequest = parse(payload)?;
                let ws = self.workspace()?;
                let started = std::time::Instant::now();
                let found = crate::profiles::search(
                    ws.conn(),
                    &req.query,
                    req.limit.min(500) as u32,
                    req.offset.min(u32::MAX as u64) as u32,
                )
                .map_err(profile_error)?;
                out(ProfileList {
                    total: found.total,
                    profiles: found
                        .profiles
                        .into_iter()
                        .map(ProfileSummary::from)
                        .collect(),
                    took_ms: started.elapsed().as_secs_f64() * 1000.0,
                })
            }
            "profile" => {
                let req: ProfileRequest = parse(payload)?;
                let ws = self.workspace()?;
                let detail = crate::profiles::detail(ws.conn(), req.id, 200)
                    .map_err(profile_error)?
                    .ok_or_else(|| {
                        ApiError::new("not_found", format!("There is no profile #{}.", req.id))
                    })?;
                out(ProfileDetail::from(detail))
            }
            "survivorship" => {
                let ws = self.workspace()?;
                let rules = crate::profiles::rules(ws.conn()).map_err(profile_error)?;
                let mut stmt = ws
                    .conn()
                    .prepare("SELECT name FROM sources WHERE kind IN ('contacts', 'orders') ORDER BY name")
                    .map_err(|e| ApiError::new("store", e.to_string()))?;
                let sources = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                    .map_err(|e| ApiError::new("store", e.to_string()))?;
                out(SurvivorshipInfo {
                    rules: SurvivorshipRules::from(&rules),
                    profile_fields: crate::profiles::FIELDS
                        .iter()
                        .map(|f| f.to_string())
                        .collect(),
                    sources,
                })
            }
            "profile_traits" => {
                let req: ProfileRequest = parse(payload)?;
                let ws = self.workspace()?;
                out(crate::traits::get(ws.conn(), req.id)?.map(ProfileTraits::from))
            }
            "traits_basics" => {
                let ws = self.workspace()?;
                let model = crate::traits::model(ws.conn())?;
                out(TraitsBasics {
                    computed: model.options.is_some(),
                    currency: ws.setting(crate::store::setting::DEFAULT_CURRENCY)?,
                    horizon_days: model.options.map(|o| o.horizon_days),
                })
            }
            "insights_overview" => {
                let ws = self.workspace()?;
                out(insights_overview(&ws)?)
            }
            "cluster_features" => {
                let ws = self.workspace()?;
                let list: Vec<ClusterFeature> = crate::cluster::runs::features(ws.conn())?
                    .into_iter()
                    .map(|c| ClusterFeature {
                        name: c.name,
                        label: c.label,
                        group: c.group,
                        default: c.default,
                    })
                    .collect();
                out(list)
            }
            "cluster_latest" => {
                let ws = self.workspace()?;
                out(crate::cluster::runs::latest(ws.conn())?.map(|r| cluster_run_view(&r)))
            }
            "cluster_rename" => {
                let req: ClusterRenameRequest = parse(payload)?;
                let ws = self.workspace()?;
                let run =
                    crate::cluster::runs::rename(ws.conn(), req.run_id, req.cluster, &req.name)?;
                out(cluster_run_view(&run))
            }
            "cluster_save_segment" => {
                let req: ClusterSaveRequest = parse(payload)?;
                let mut ws = self.workspace()?;
                let segment = crate::cluster::runs::save_segment(
                    ws.conn_mut(),
                    req.run_id,
                    req.cluster,
                    req.name.as_deref().filter(|n| !n.trim().is_empty()),
                    &now_iso(),
                )?;
                out(Segment::from(segment))
            }
            "chart_file" => {
                let req: ChartRequest = parse(payload)?;
                let ws = self.workspace()?;
                out(chart_file(&ws, &req)?)
            }
            "recommend_status" => out(recommend::status(&self.workspace()?)?),
            "recommend_profile" => {
                let req: recommend::RecommendProfileRequest = parse(payload)?;
                let ws = self.workspace()?;
                out(crate::recommend::for_profile(ws.conn(), req.profile_id)?)
            }
            "recommend_similar" => {
                let req: recommend::RecommendSimilarRequest = parse(payload)?;
                let ws = self.workspace()?;
                out(crate::recommend::similar_to(ws.conn(), req.sku.trim())?)
            }
            "product_search" => {
                let req: recommend::ProductSearchRequest = parse(payload)?;
                let ws = self.workspace()?;
                out(crate::recommend::search_products(
                    ws.conn(),
                    &req.query,
                    req.limit.unwrap_or(20).min(200),
                )?)
            }
            "segments" => {
                let ws = self.workspace()?;
                let list: Vec<Segment> = crate::segments::list(ws.conn())?
                    .into_iter()
                    .map(Segment::from)
                    .collect();
                out(list)
            }
            "segment_catalog" => out(segments::catalog(&self.workspace()?)?),
            "segment_preview" => {
                let req: SegmentPreviewRequest = parse(payload)?;
                out(segments::preview(
                    &self.workspace()?,
                    &self.live,
                    &req,
                    &now_iso(),
                )?)
            }
            "segment_save" => {
                let req: SegmentSaveRequest = parse(payload)?;
                out(segments::save(
                    &mut self.workspace()?,
                    &self.live,
                    &req,
                    &now_iso(),
                )?)
            }
            "segment_detail" => {
                let req: IdRequest = parse(payload)?;
                out(segments::detail(
                    &self.workspace()?,
                    &self.live,
                    req.id,
                    &now_iso(),
                )?)
            }
            "segment_delete" => {
                let req: IdRequest = parse(payload)?;
                crate::segments::delete(self.workspace()?.conn_mut(), req.id)?;
                out(serde_json::json!({}))
            }
            "segment_overlap" => {
                let req: OverlapRequest = parse(payload)?;
                out(segments::overlap(
                    &self.workspace()?,
                    &self.live,
                    &req,
                    &now_iso(),
                )?)
            }
            "campaigns" => {
                let ws = self.workspace()?;
                let list: Vec<Campaign> = crate::campaigns::list(ws.conn())?
                    .into_iter()
                    .map(|c| segments::campaign_view(ws.conn(), c))
                    .collect();
                out(list)
            }
            "campaign_formats" => out(segments::formats()),
            "campaign_save" => {
                let req: CampaignSaveRequest = parse(payload)?;
                out(segments::campaign_save(
                    &self.workspace()?,
                    &req,
                    &now_iso(),
                )?)
            }
            "campaign_delete" => {
                let req: IdRequest = parse(payload)?;
                crate::campaigns::delete(self.workspace()?.conn(), req.id)?;
                out(serde_json::json!({}))
            }
            "campaign_audience" => {
                let req: IdRequest = parse(payload)?;
                out(segments::audience(
                    &self.workspace()?,
                    &self.live,
                    req.id,
                    &now_iso(),
                )?)
            }
            "campaign_exports" => {
                let req: CampaignExportsRequest = parse(payload)?;
                out(segments::exports(&self.workspace()?, req.campaign_id)?)
            }
            "export_file" => {
                let req: IdRequest = parse(payload)?;
                out(segments::export_file(&self.workspace()?, req.id)?)
            }
            "campaign_results_import" => {
                let req: results::CampaignResultsImportRequest = parse(payload)?;
                out(results::import(&mut self.workspace()?, &req, &now_iso())?)
            }
            "campaign_results_from_orders" => {
                let req: results::CampaignResultsFromOrdersRequest = parse(payload)?;
                out(results::from_orders(
                    &mut self.workspace()?,
                    &req,
                    &now_iso(),
                )?)
            }
            "campaign_report" => {
                let req: results::CampaignReportRequest = parse(payload)?;
                out(results::report(&self.workspace()?, &req)?)
            }
            "consent_overview" => out(privacy::consent_overview(&self.workspace()?)?),
            "consent_profile" => {
                let req: privacy::ConsentProfileRequest = parse(payload)?;
                out(privacy::consent_profile(&self.workspace()?, &req)?)
            }
            "consent_set" => {
                let req: privacy::ConsentSetRequest = parse(payload)?;
                out(privacy::consent_set(&self.workspace()?, &req, &now_iso())?)
            }
            "consent_settings" => {
                let _: Empty = parse(payload)?;
                out(crate::privacy::consent::settings(self.workspace()?.conn())?)
            }
            "consent_settings_set" => {
                let req: crate::privacy::consent::Settings = parse(payload)?;
                out(privacy::consent_settings_set(
                    &self.workspace()?,
                    &req,
                    &now_iso(),
                )?)
            }
            "erase_preview" => {
                let req: privacy::EraseRequest = parse(payload)?;
                out(privacy::erase_preview(
                    &self.workspace()?,
                    &req,
                    &self.scratch,
                )?)
            }
            "person_export" => {
                let req: privacy::PersonExportRequest = parse(payload)?;
                out(privacy::person_export(
                    &self.workspace()?,
                    &req,
                    &self.scratch,
                    &now_iso(),
                )?)
            }
            "retention_rules" => {
                let _: Empty = parse(payload)?;
                out(crate::privacy::retention::rules(self.workspace()?.conn())?)
            }
            "retention_rules_set" => {
                let req: crate::privacy::retention::RetentionRules = parse(payload)?;
                out(privacy::retention_rules_set(
                    &self.workspace()?,
                    &req,
                    &now_iso(),
                )?)
            }
            "retention_preview" => {
                let _: Empty = parse(payload)?;
                out(crate::privacy::retention::preview(
                    self.workspace()?.conn(),
                    &now_iso(),
                )?)
            }
            "backups" => {
                let _: Empty = parse(payload)?;
                out(privacy::backups(&self.workspace()?)?)
            }
            "backup_keep_set" => {
                let req: privacy::BackupKeepRequest = parse(payload)?;
                out(privacy::backup_keep_set(
                    &self.workspace()?,
                    &req,
                    &now_iso(),
                )?)
            }
            "audit_log" => {
                let req: privacy::AuditLogRequest = parse(payload)?;
                out(privacy::audit_log(&self.workspace()?, &req)?)
            }
            "audit_csv" => {
                let _: Empty = parse(payload)?;
                out(privacy::audit_csv(&self.workspace()?)?)
            }
            "workspace_unlock" => {
                let req: privacy::UnlockRequest = parse(payload)?;
                privacy::unlock(&req)?;
                let path = path_buf(req.path.trim());
                let ws = Workspace::open(&path)?;
                self.remember(&path);
                out(self.info(&ws)?)
            }
            "review_queue" => {
                let req: PageRequest = parse(payload)?;
                let (total, pairs) = crate::identity::review_queue(
                    &self.workspace()?,
                    req.limit.min(500),
                    req.offset,
                )?;
                out(ReviewQueue {
                    total,
                    pairs: pairs.into_iter().map(ReviewPair::from).collect(),
                })
            }
            "review_decide" => {
                let req: ReviewDecision = parse(payload)?;
                let same = match req.decision.as_str() {
                    "same" => true,
                    "different" => false,
                    other => {
                        return Err(ApiError::new(
                            "bad_request",
                            format!("A decision is `same` or `different`, not `{other}`."),
                        ))
                    }
                };
                let (profile_id, remaining) = crate::identity::decide(
                    &mut self.workspace()?,
                    req.pair_id,
                    same,
                    "app",
                    &now_iso(),
                )?;
                out(ReviewOutcome {
                    profile_id,
                    remaining,
                })
            }
            "review_decide_all" => {
                let rule: crate::identity::BulkDecision = parse(payload)?;
                out(crate::identity::decide_all(
                    &mut self.workspace()?,
                    rule,
                    true,
                    "app",
                    &now_iso(),
                )?)
            }
            "profile_split" => {
                let req: SplitRequest = parse(payload)?;
                let profiles = crate::identity::split(
                    &mut self.workspace()?,
                    req.record_id,
                    "app",
                    &now_iso(),
                )?;
                out(UnmergeOutcome { profiles })
            }
            "profile_unmerge" => {
                let req: ProfileRequest = parse(payload)?;
                let profiles =
                    crate::identity::unmerge(&mut self.workspace()?, req.id, "app", &now_iso())?;
                out(UnmergeOutcome { profiles })
            }
            "refused_merges" => {
                let req: PageRequest = parse(payload)?;
                let (total, rows) =
                    crate::identity::refused(&self.workspace()?, req.limit.min(1000), req.offset)?;
                out(RefusedMerges {
                    total,
                    rows: rows.into_iter().map(RefusedMerge::from).collect(),
                })
            }
            "identity_log" => {
                let req: PageRequest = parse(payload)?;
                let rows = crate::identity::audit_log(
                    &self.workspace()?,
                    req.limit.min(1000),
                    req.offset,
                )?;
                out(rows
                    .into_iter()
                    .map(IdentityLogEntry::from)
                    .collect::<Vec<_>>())
            }
            c if templates::COMMANDS.contains(&c) => {
                templates::call(&mut self.workspace()?, &self.live, c, payload, &now_iso())
            }
            c if is_job(c) => Err(ApiError::new(
                "bad_request",
                format!("`{c}` runs long: start it as a job."),
            )),
            other => Err(ApiError::new(
                "unknown_command",
                format!("There is no command `{other}`."),
            )),
        }
    }

    /// Runs a long command, reporting progress; `progress.is_cancelled()` stops it.
    pub fn run_job(
        &self,
        command: &str,
        payload: Value,
        progress: &mut dyn Progress,
    ) -> Result<Value, ApiError> {
        let now = chrono::Utc::now();
        match command {
            "import" => {
                let req: ImportRequest = parse(payload)?;
                let mut options = read_options(&req.read)?;
                options.now = now;
                options.force = req.force;
                options.source = req.source.filter(|s| !s.trim().is_empty());
                let mut ws = self.workspace()?;
                let report =
                    ingest::import(&mut ws, Path::new(&req.read.path), &options, progress)?;
                // New records join profiles at once, once identities were resolved.
                if report.import_id.is_some() && crate::identity::is_resolved(&ws)? {
                    crate::identity::resolve(&mut ws, &resolve_options(false, "import"), progress)?;
                    // and their traits follow, once traits were computed.
                    if crate::traits::is_computed(ws.conn())? {
                        crate::traits::refresh(&mut ws, now, progress)?;
                    }
                }
                // Dynamic segments record who entered and left; in a large
                // workspace through a fresh index, which live counts then use.
                if let Some(import_id) = report.import_id {
                    let index = if crate::segments::dynamic_reads_behaviour(ws.conn())?
                        && crate::segments::live::prefers_index(ws.conn())
                            .map_err(|e| ApiError::new("store", e.to_string()))?
                    {
                        Some(self.live.build_now(ws.conn(), ws.path())?)
                    } else {
                        None
                    };
                    crate::segments::refresh_dynamic_with(
                        ws.conn_mut(),
                        &now_iso(),
                        Some(import_id),
                        index.as_deref(),
                    )?;
                }
                out(ImportReport::from(&report))
            }
            "demo" => {
                let req: DemoRequest = parse(payload)?;
                let mut ws = self.workspace()?;
                let folder = self.scratch.join("demo-exports");
                let config = crate::demo::DemoConfig {
                    customers: req.customers,
                    ..Default::default()
                };
                let output = crate::demo::generate(&config, &folder, progress).map_err(|e| {
                    ApiError::new(
                        if matches!(e, crate::demo::DemoError::Cancelled(_)) {
                            "cancelled"
                        } else {
                            "demo"
                        },
                        e.to_string(),
                    )
                })?;
                let mut imports = Vec::new();
                for f in &output.files {
                    let report =
                        ingest::import(&mut ws, &f.path, &ImportOptions::new(now), progress)?;
                    imports.push(ImportReport::from(&report));
                }
                crate::identity::resolve(&mut ws, &resolve_options(true, "demo"), progress)?;
                crate::traits::compute(
                    &mut ws,
                    now,
                    crate::traits::TraitsOptions::default(),
                    progress,
                )?;
                crate::recommend::train(
                    &mut ws,
                    &crate::recommend::Settings::for_demo(output.people),
                    &now_iso(),
                    progress,
                )?;
                out(DemoResult {
                    folder: path_string(&folder),
                    people: output.people,
                    imports,
                })
            }
            "resolve" => {
                let req: ResolveRequest = parse(payload)?;
                let mut ws = self.workspace()?;
                if req.auto_merge_at.is_some() || req.review_from.is_some() {
                    let mut t = crate::identity::thresholds(&ws)?;
                    t.auto_merge_at = req.auto_merge_at.or(t.auto_merge_at);
                    t.review_from = req.review_from.or(t.review_from);
                    crate::identity::set_thresholds(&ws, t)?;
                }
                if req.full {
                    crate::identity::backup_before_full_run(&ws, &now_iso())?;
                }
                let report =
                    crate::identity::resolve(&mut ws, &resolve_options(req.full, "app"), progress)?;
                out(ResolveReport::from(report))
            }
            "survivorship_set" => {
                let req: SurvivorshipRules = parse(payload)?;
                let rules = req
                    .to_engine()
                    .map_err(|m| ApiError::new("bad_request", m))?;
                let started = std::time::Instant::now();
                let mut ws = self.workspace()?;
                let tx = ws
                    .conn_mut()
                    .transaction()
                    .map_err(|e| ApiError::new("store", e.to_string()))?;
                crate::profiles::set_rules(&tx, &rules).map_err(profile_error)?;
                let report = crate::profiles::rebuild(
                    &tx,
                    crate::profiles::Scope::All,
                    &now_iso(),
                    progress,
                )
                .map_err(|e| match e {
                    crate::profiles::ProfileError::Cancelled(_) => {
                        ApiError::new("cancelled", e.to_string())
                    }
                    other => profile_error(other),
                })?;
                tx.commit()
                    .map_err(|e| ApiError::new("store", e.to_string()))?;
                out(SurvivorshipOutcome {
                    rules: SurvivorshipRules::from(&rules),
                    profiles: report.written,
                    seconds: started.elapsed().as_secs_f64(),
                })
            }
            "erase" => {
                let req: privacy::EraseRequest = parse(payload)?;
                let mut ws = self.workspace()?;
                out(privacy::erase(&mut ws, &req, &self.scratch, &now_iso())?)
            }
            "retention_run" => {
                let _: Empty = parse(payload)?;
                let mut ws = self.workspace()?;
                out(crate::privacy::retention::apply(&mut ws, &now_iso())?)
            }
            "backup_create" => {
                let req: privacy::BackupCreateRequest = parse(payload)?;
                out(privacy::backup_create(
                    &self.workspace()?,
                    &req,
                    &now_iso(),
                )?)
            }
            "backup_restore" => {
                let req: privacy::BackupRestoreRequest = parse(payload)?;
                let mut ws = self.workspace()?;
                out(privacy::backup_restore(&mut ws, &req, &now_iso())?)
            }
            "recommend_train" => {
                let settings: crate::recommend::Settings = parse(payload)?;
                let mut ws = self.workspace()?;
                out(recommend::train(&mut ws, &settings, &now_iso(), progress)?)
            }
            "cluster_run" => {
                let req: ClusterRunRequest = parse(payload)?;
                let request = cluster_request(&req)?;
                let mut ws = self.workspace()?;
                let run = crate::cluster::runs::run(&mut ws, &request, &now_iso(), progress)?;
                out(cluster_run_view(&run))
            }
            "campaign_export" => {
                let req: CampaignExportRequest = parse(payload)?;
                let mut ws = self.workspace()?;
                out(segments::export(
                    &mut ws,
                    &self.live,
                    &req,
                    &now_iso(),
                    progress,
                )?)
            }
            "traits_compute" => {
                let req: TraitsComputeRequest = parse(payload)?;
                let defaults = crate::traits::TraitsOptions::default();
                let options = crate::traits::TraitsOptions {
                    horizon_days: req.horizon_days.unwrap_or(defaults.horizon_days),
                    annual_discount_rate: req
                        .discount_rate
                        .unwrap_or(defaults.annual_discount_rate),
                };
                if options.horizon_days == 0 || !(0.0..1.0).contains(&options.annual_discount_rate)
                {
                    return Err(ApiError::new(
                        "bad_request",
                        "The horizon must be at least one day and the discount rate between 0 and 1 (0.10 = 10% a year).",
                    ));
                }
                let mut ws = self.workspace()?;
                let report = crate::traits::compute(&mut ws, now, options, progress)?;
                out(TraitsReport::from(report))
            }
            other => Err(ApiError::new(
                "unknown_command",
                format!("There is no job `{other}`."),
            )),
        }
    }

    fn info(&self, ws: &Workspace) -> Result<WorkspaceInfo, ApiError> {
        Ok(WorkspaceInfo {
            path: path_string(ws.path()),
            schema_version: ws.schema_version()?,
            stats: ws.stats()?.into(),
        })
    }
}

fn insights_overview(ws: &Workspace) -> Result<InsightsOverview, ApiError> {
    let o = crate::traits::overview(ws.conn())?;
    Ok(InsightsOverview {
        computed: o.model.options.is_some(),
        computed_at: o.computed_at.clone(),
        currency: o.currency.clone(),
        profiles: o.profiles,
        buyers: o.buyers,
        revenue: o.revenue,
        average_order_value: o.average_order_value,
        rfm_grid: o.rfm_grid.iter().map(|r| r.to_vec()).collect(),
        segments: o
            .segments
            .iter()
            .map(|s| SegmentFigures {
                segment: s.segment.clone(),
                rule: s.rule.clone(),
                customers: s.customers,
                revenue: s.revenue,
            })
            .collect(),
        churn_bands: o
            .churn_bands
            .iter()
            .map(|b| Band {
                label: b.label.clone(),
                customers: b.customers,
            })
            .collect(),
        average_clv: o.average_clv,
        model_notes: o.model_notes.clone(),
        charts: overview_charts(&o),
        model: o.model.into(),
    })
}

/// The overview's charts as SVG (drawn by `cohort::charts`). A chart that
/// cannot be drawn is left out rather than failing the page.
fn overview_charts(o: &crate::traits::Overview) -> Vec<ChartSvg> {
    svg_charts(crate::traits::charts(o))
}

fn cluster_request(
    req: &ClusterRunRequest,
) -> Result<crate::cluster::runs::ClusterRequest, ApiError> {
    use crate::cluster::{Algorithm, Config, Scaling};
    let bad = |m: String| ApiError::new("bad_request", m);
    let algorithm = match req.algorithm.as_str() {
        "kmeans" => Algorithm::KMeans {
            k: req.k.map(|k| k as usize),
        },
        "dbscan" => Algorithm::Dbscan {
            eps: req.eps.unwrap_or(0.5),
            min_points: req.min_points.unwrap_or(10) as usize,
        },
        "gmm" => Algorithm::GaussianMixture {
            k: req.k.unwrap_or(4) as usize,
        },
        other => {
            return Err(bad(format!(
                "There is no clustering algorithm “{other}”; use kmeans, dbscan or gmm."
            )))
        }
    };
    let mut config = Config {
        algorithm,
        ..Config::default()
    };
    config.prepare.scaling = match req.scaling.as_deref() {
        None | Some("standard") => Scaling::Standard,
        Some("robust") => Scaling::Robust,
        Some(other) => {
            return Err(bad(format!(
                "There is no scaling “{other}”; use standard or robust."
            )))
        }
    };
    if let Some(log) = req.log_transform {
        config.prepare.log_money_and_counts = log;
    }
    if let Some(seed) = req.seed {
        config.seed = seed;
    }
    config.check().map_err(|e| bad(e.to_string()))?;
    Ok(crate::cluster::runs::ClusterRequest {
        features: req.features.clone(),
        config,
    })
}

fn svg_charts(charts: Vec<crate::traits::NamedChart>) -> Vec<ChartSvg> {
    charts
        .into_iter()
        .filter_map(|c| {
            let chart = crate::charts::to_svg(&c.spec, &c.options).ok()?;
            Some(ChartSvg {
                name: c.name.to_owned(),
                title: chart.title,
                svg: chart.svg,
            })
        })
        .collect()
}

fn cluster_run_view(run: &crate::cluster::runs::SavedRun) -> ClusterRun {
    let r = &run.result;
    ClusterRun {
        run_id: run.id,
        created_at: run.created_at.clone(),
        algorithm: match r.algorithm {
            crate::cluster::Algorithm::KMeans { .. } => "kmeans",
            crate::cluster::Algorithm::Dbscan { .. } => "dbscan",
            crate::cluster::Algorithm::GaussianMixture { .. } => "gmm",
        }
        .to_owned(),
        k: r.k as u32,
        features: run.request.features.clone(),
        clusters: r
            .clusters
            .iter()
            .map(|c| ClusterInfo {
                id: c.id,
                name: c.name.clone(),
                description: c.description.clone(),
                size: c.size as u64,
                share: c.share,
            })
            .collect(),
        unassigned: run.unassigned,
        silhouette: r.silhouette,
        davies_bouldin: r.davies_bouldin,
        notes: r.notes.clone(),
        charts: svg_charts(crate::cluster::runs::charts(run)),
        seconds: run.seconds,
    }
}

/// One chart of the overview or of a cluster run, as an SVG or PNG file.
fn chart_file(ws: &Workspace, req: &ChartRequest) -> Result<ChartFile, ApiError> {
    use base64::Engine as _;
    let charts = match req.run_id {
        Some(id) => crate::cluster::runs::charts(&crate::cluster::runs::get(ws.conn(), id)?),
        None if req.name.starts_with("recommend_") => crate::recommend::latest_run(ws.conn())?
            .and_then(|r| r.evaluation)
            .map(|e| crate::recommend::charts(&e))
            .unwrap_or_default(),
        None => crate::traits::charts(&crate::traits::overview(ws.conn())?),
    };
    let chart = charts
        .into_iter()
        .find(|c| c.name == req.name)
        .ok_or_else(|| ApiError::new("not_found", format!("There is no chart “{}”.", req.name)))?;
    let output = match req.format.as_str() {
        "svg" => crate::charts::Output::Svg,
        "png" => crate::charts::Output::Png,
        other => {
            return Err(ApiError::new(
                "bad_request",
                format!("Charts are saved as svg or png, not “{other}”."),
            ))
        }
    };
    let bytes = crate::charts::render(&chart.spec, &chart.options, output)
        .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
    Ok(ChartFile {
        file_name: format!("{}.{}", chart.name, output.extension()),
        mime: output.mime_type().to_owned(),
        base64: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

fn profile_error(e: crate::profiles::ProfileError) -> ApiError {
    ApiError::new("profiles", e.to_string())
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn resolve_options(full: bool, actor: &str) -> crate::identity::ResolveOptions {
    crate::identity::ResolveOptions {
        full,
        settings: Default::default(),
        now: now_iso(),
        actor: actor.into(),
    }
}

fn parse<T: DeserializeOwned>(payload: Value) -> Result<T, ApiError> {
    // A missing payload means "no arguments".
    let payload = if payload.is_null() {
        Value::Object(Default::default())
    } else {
        payload
    };
    serde_json::from_value(payload)
        .map_err(|e| ApiError::new("bad_request", format!("The request is not valid: {e}.")))
}

fn out<T: Serialize>(value: T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::new("internal", e.to_string()))
}

fn read_options(r: &ReadOptions) -> Result<ImportOptions, ApiError> {
    let mut o = ImportOptions::new(chrono::Utc::now());
    o.kind = match r.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(Kind::parse(k).ok_or_else(|| {
            ApiError::new("bad_request", format!("`{k}` is not a kind of record."))
        })?),
        None => None,
    };
    o.preset = r.preset.clone().filter(|p| !p.is_empty());
    o.overrides = r.overrides.clone();
    Ok(o)
}

fn catalog() -> Catalog {
    Catalog {
        presets: ingest::presets::PRESETS
            .iter()
            .map(|p| PresetInfo {
                id: p.id.into(),
                label: p.label.into(),
                kind: p.kind.as_str().into(),
            })
            .collect(),
        kinds: Kind::ALL
            .iter()
            .map(|k| KindInfo {
                kind: k.as_str().into(),
                fields: k
                    .fields()
                    .iter()
                    .map(|f| FieldInfo {
                        name: f.name.into(),
                        label: f.label.into(),
                        value_type: serde_json::to_value(f.ty)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        required: f.required,
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;
    use serde_json::json;

    fn app() -> (tempfile::TempDir, App) {
        let dir = tempfile::tempdir().unwrap();
        let app = App::new(
            None,
            Some(dir.path().join("recent.json")),
            dir.path().join("scratch"),
        );
        (dir, app)
    }

    #[test]
    fn commands_need_an_open_workspace_and_remember_it() {
        let (dir, app) = app();
        let e = app.call("workspace_stats", Value::Null).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.class()),
            ("no_workspace", ErrorClass::NotFound)
        );
        let ws = dir.path().join("a.cohort");
        let e = app.call("workspace_open", json!({"path": ws})).unwrap_err();
        assert_eq!(e.code, "not_found");
        let info = app
            .call("workspace_open", json!({"path": ws, "create": true}))
            .unwrap();
        assert_eq!(info["stats"]["contacts"], 0);
        let again = App::new(
            None,
            Some(dir.path().join("recent.json")),
            dir.path().join("scratch"),
        );
        let listed = again.call("app_info", json!({})).unwrap();
        assert_eq!(listed["recent"][0], ws.display().to_string());
        assert!(
            listed["workspace"].is_null(),
            "a new launch starts with no workspace open unless told"
        );
        assert_eq!(listed["first_start"], false);
        again.mark_first_start();
        assert_eq!(
            again.call("app_info", json!({})).unwrap()["first_start"],
            true
        );
        assert_eq!(
            again.call("app_info", json!({})).unwrap()["first_start"],
            false,
            "reported once"
        );
    }

    /// Retention rules apply when the app opens the workspace (at most
    /// daily), and app_info says once what they removed.
    #[test]
    fn app_info_applies_retention_and_says_what_it_removed() {
        let (dir, app) = app();
        let path = dir.path().join("r.cohort");
        app.call("workspace_open", json!({"path": path, "create": true}))
            .unwrap();
        {
            let ws = Workspace::open(&path).unwrap();
            ws.conn()
                .execute_batch(
                    "INSERT INTO sources (id, name, kind, created_at) VALUES (1, 'web', 'events', 'x');
                     INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at)
                       VALUES (1, 1, 'f', 'f', 0, 'h', 'events', '[]', '{}', 'x', 'x');
                     INSERT INTO events (source_id, source_key, import_id, row_number, row_hash, name, occurred_at)
                       VALUES (1, 'e1', 1, 2, 0, 'view', '2001-01-01T00:00:00Z'),
                              (1, 'e2', 1, 3, 0, 'view', '2999-01-01T00:00:00Z');",
                )
                .unwrap();
            let rules = crate::privacy::retention::RetentionRules {
                events_months: Some(12),
                ..Default::default()
            };
            crate::privacy::retention::set_rules(ws.conn(), &rules, "2026-01-01T00:00:00Z")
                .unwrap();
        }
        let info = app.call("app_info", json!({})).unwrap();
        assert_eq!(info["retention"]["removed"]["events"], 1, "{info}");
        assert_eq!(
            info["workspace"]["stats"]["events"], 1,
            "counted after the run"
        );
        let again = app.call("app_info", json!({})).unwrap();
        assert!(again["retention"].is_null(), "not due again the same day");
    }

    #[test]
    fn preview_import_history_and_rejects_through_the_dispatcher() {
        let (dir, app) = app();
        app.call(
            "workspace_open",
            json!({"path": dir.path().join("w.cohort"), "create": true}),
        )
        .unwrap();
        let csv = dir.path().join("people.csv");
        std::fs::write(&csv, "email,first name\nann@example.com,Ann\n,Nobody\n").unwrap();
        let preview = app
            .call("preview", json!({"path": csv, "rows": 5}))
            .unwrap();
        assert_eq!(preview["plan"]["preset"], "generic_contacts");
        assert_eq!(preview["plan"]["detected"]["encoding"], "utf8");
        let report = app
            .run_job("import", json!({"path": csv}), &mut Silent)
            .unwrap();
        assert_eq!(
            (
                report["rows_read"].as_u64(),
                report["rows_rejected"].as_u64()
            ),
            (Some(2), Some(1))
        );
        let again = app
            .run_job("import", json!({"path": csv}), &mut Silent)
            .unwrap();
        assert_eq!(again["duplicate_of"], report["import_id"]);
        let history = app.call("imports", json!({})).unwrap();
        assert_eq!(history.as_array().unwrap().len(), 1);
        let rejects = app
            .call("rejects", json!({"import_id": report["import_id"]}))
            .unwrap();
        assert_eq!(
            (
                rejects["total"].as_u64(),
                rejects["rows"][0]["row"].as_u64()
            ),
            (Some(1), Some(3))
        );
    }

    #[test]
    fn bad_requests_are_named() {
        let (_dir, app) = app();
        assert_eq!(
            app.call("launch_rockets", json!({})).unwrap_err().code,
            "unknown_command"
        );
        assert_eq!(
            app.call("rejects", json!({"import_id": "seven"}))
                .unwrap_err()
                .class(),
            ErrorClass::BadRequest
        );
        assert_eq!(
            app.call("import", json!({})).unwrap_err().code,
            "bad_request"
        );
        let catalog = app.call("catalog", json!({})).unwrap();
        assert!(catalog["presets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "shopify_orders"));
    }
}
