//! The IPC transport: `call`, `start_job` and `cancel_job`, mirroring
//! `cohort serve`'s `/api/call`, `/api/jobs` and `/api/jobs/{id}/cancel`.
//!
//! **API boundary:** command and argument names are a contract with
//! `ui/src/lib/api.ts` (Tauri turns `job_id`/`on_event` into `jobId`/`onEvent`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cohort::api::types::{JobEvent, JobStarted};
use cohort::api::{self, ApiError, App};
use cohort::progress::CancelToken;
use serde_json::Value;
use tauri::ipc::Channel;
use tauri::State;

/// What the commands share: the one dispatcher and the running jobs.
pub struct Shell {
    app: Arc<App>,
    jobs: Arc<Mutex<HashMap<String, CancelToken>>>,
    next_job: AtomicU64,
}

impl Shell {
    pub fn new(app: App) -> Shell {
        Shell {
            app: Arc::new(app),
            jobs: Arc::default(),
            next_job: AtomicU64::new(1),
        }
    }
}

/// Runs a quick command (`app_info`, `preview`, …) off the main thread.
#[tauri::command]
pub async fn call(
    shell: State<'_, Shell>,
    command: String,
    payload: Option<Value>,
) -> Result<Value, ApiError> {
    let app = shell.app.clone();
    let payload = payload.unwrap_or(Value::Null);
    // Engine calls block (SQLite, files): keep them off the async workers.
    tauri::async_runtime::spawn_blocking(move || app.call(&command, payload))
        .await
        .map_err(|e| ApiError::new("internal", e.to_string()))?
}

/// Starts a long command (`import`, `demo`) and returns its id at once;
/// progress, then one `done` or `error`, arrive on `on_event`.
#[tauri::command]
pub fn start_job(
    shell: State<'_, Shell>,
    command: String,
    payload: Option<Value>,
    on_event: Channel<JobEvent>,
) -> Result<JobStarted, ApiError> {
    if !api::is_job(&command) {
        return Err(ApiError::new(
            "unknown_command",
            format!("There is no job `{command}`."),
        ));
    }
    let job_id = shell.next_job.fetch_add(1, Ordering::Relaxed).to_string();
    let cancel = CancelToken::new();
    let jobs = shell.jobs.clone();
    jobs.lock()
        .expect("jobs lock")
        .insert(job_id.clone(), cancel.clone());
    let app = shell.app.clone();
    let id = job_id.clone();
    tauri::async_runtime::spawn_blocking(move || {
        api::run_job_events(
            &app,
            &command,
            payload.unwrap_or(Value::Null),
            cancel,
            |event| {
                if !matches!(event, JobEvent::Progress { .. }) {
                    jobs.lock().expect("jobs lock").remove(&id);
                }
                // The window may have gone (reload, quit): nobody is left to tell.
                let _ = on_event.send(event);
            },
        )
    });
    Ok(JobStarted { job_id })
}

/// Asks a running job to stop; it then reports a `cancelled` error.
#[tauri::command]
pub fn cancel_job(shell: State<'_, Shell>, job_id: String) -> Result<(), ApiError> {
    match shell.jobs.lock().expect("jobs lock").get(&job_id) {
        Some(cancel) => {
            cancel.cancel();
            Ok(())
        }
        None => Err(ApiError::new("not_found", "There is no such job.")),
    }
}
