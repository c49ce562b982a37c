//! `cohort serve`: the app's UI and API over HTTP on the loopback interface,
//! for using Cohort in a browser. A thin transport over `cohort::api`.
//!
//! Security: bound to 127.0.0.1 only; every request must carry the
//! per-launch token (header `Authorization: Bearer …`, a `token` query
//! parameter, or the `cohort_token_<port>` cookie set when the page is first opened
//! with the token); requests whose `Origin` or `Host` is not this server are
//! refused, so other web pages the user visits cannot drive it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cohort::api::types::{JobEvent, JobStarted, Uploaded};
use cohort::api::{self, ApiError, App, ErrorClass};
use cohort::progress::CancelToken;
use rand::RngCore;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::StreamExt;
use tower_http::services::{ServeDir, ServeFile};

struct Server {
    app: Arc<App>,
    token: String,
    port: u16,
    jobs: Mutex<HashMap<String, Job>>,
}

struct Job {
    cancel: CancelToken,
    /// Taken by the first client that listens to the job's events.
    events: Option<mpsc::UnboundedReceiver<JobEvent>>,
    /// The last event (`Done` or `Error`) once the job has ended, so a client
    /// whose connection dropped can still learn how it ended.
    outcome: Option<JobEvent>,
}

/// Ended jobs whose outcome is kept for late listeners.
const KEPT_OUTCOMES: usize = 32;

/// Runs the server until the process is stopped.
pub fn run(app: App, port: u16, ui: Option<PathBuf>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let server = Arc::new(Server {
            app: Arc::new(app),
            token: token.clone(),
            port,
            jobs: Mutex::new(HashMap::new()),
        });
        let router = router(server, ui);
        println!("Cohort is running at http://127.0.0.1:{port}/?token={token}");
        use std::io::Write;
        std::io::stdout().flush()?;
        axum::serve(listener, router).await?;
        Ok(())
    })
}

fn router(server: Arc<Server>, ui: Option<PathBuf>) -> Router {
    let api = Router::new()
        .route("/api/call/{command}", post(call))
        .route("/api/jobs/{command}", post(start_job))
        .route("/api/jobs/{id}/events", get(job_events))
        .route("/api/jobs/{id}/cancel", post(cancel_job))
        .route(
            "/api/upload",
            post(upload).layer(DefaultBodyLimit::disable()),
        );
    let router = match ui {
        Some(dir) => {
            let index = dir.join("index.html");
            api.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => api.fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "no UI is served (start with --ui DIR)",
            )
        }),
    };
    router
        .layer(middleware::from_fn_with_state(server.clone(), guard))
        .with_state(server)
}

/// Origin, Host and token checks for every request.
async fn guard(State(server): State<Arc<Server>>, req: Request, next: Next) -> Response {
    let allowed = [
        format!("127.0.0.1:{}", server.port),
        format!("localhost:{}", server.port),
    ];
    let headers = req.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|h| allowed.iter().any(|a| a == h));
        if !ok {
            return error(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "Requests from other web pages are refused.",
            );
        }
    }
    // A Host other than ours means DNS rebinding: some site resolved its name to 127.0.0.1.
    let host_ok = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| allowed.iter().any(|a| a == h));
    if !host_ok {
        return error(StatusCode::FORBIDDEN, "forbidden_host", "Unknown host.");
    }
    let query_token = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_string)
    });
    // The token of the address just opened comes before the cookie, and the
    // cookie is named after the port: browsers share cookies between ports
    // of one host, so another `cohort serve` (or this one's last launch)
    // must not lock the page out with its own.
    let cookie_name = format!("cohort_token_{}", server.port);
    let presented = bearer(headers)
        .or(query_token.clone())
        .or_else(|| cookie(headers, &cookie_name));
    match presented {
        Some(t) if constant_time_eq(t.as_bytes(), server.token.as_bytes()) => {}
        Some(_) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "bad_token",
                "The access token is wrong. Open the address `cohort serve` printed.",
            )
        }
        None => {
            return error(
                StatusCode::UNAUTHORIZED,
                "no_token",
                "An access token is required. Open the address `cohort serve` printed.",
            )
        }
    }
    let mut response = next.run(req).await;
    // The page was opened with ?token=: let its assets and API calls through by cookie.
    if query_token.is_some() {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{cookie_name}={}; Path=/; HttpOnly; SameSite=Strict",
            server.token
        )) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            kv.trim()
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_string)
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(ApiError::new(code, message))).into_response()
}

fn api_error(e: ApiError) -> Response {
    let status = match e.class() {
        ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
        ErrorClass::NotFound => StatusCode::NOT_FOUND,
        ErrorClass::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorClass::Cancelled => StatusCode::CONFLICT,
        ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(e)).into_response()
}

/// The body as JSON; an empty body is `null` (no arguments).
fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            "invalid_json",
            format!("The request body is not valid JSON: {e}."),
        )
    })
}

async fn call(
    State(server): State<Arc<Server>>,
    Path(command): Path<String>,
    body: Bytes,
) -> Response {
    let payload = match json_body(&body) {
        Ok(v) => v,
        Err(e) => return api_error(e),
    };
    let app = server.app.clone();
    // Engine calls block (SQLite, files): keep them off the async workers.
    match tokio::task::spawn_blocking(move || app.call(&command, payload)).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => api_error(e),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            &e.to_string(),
        ),
    }
}

async fn start_job(
    State(server): State<Arc<Server>>,
    Path(command): Path<String>,
    body: Bytes,
) -> Response {
    if !api::is_job(&command) {
        return api_error(ApiError::new(
            "unknown_command",
            format!("There is no job `{command}`."),
        ));
    }
    let payload = match json_body(&body) {
        Ok(v) => v,
        Err(e) => return api_error(e),
    };
    let mut id_bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut id_bytes);
    let job_id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let (sender, receiver) = mpsc::unbounded_channel();
    let cancel = CancelToken::new();
    server.jobs.lock().expect("jobs lock").insert(
        job_id.clone(),
        Job {
            cancel: cancel.clone(),
            events: Some(receiver),
            outcome: None,
        },
    );
    let app = server.app.clone();
    let id = job_id.clone();
    tokio::task::spawn_blocking(move || {
        api::run_job_events(&app, &command, payload, cancel, |event| {
            if !matches!(event, JobEvent::Progress { .. }) {
                let mut jobs = server.jobs.lock().expect("jobs lock");
                if let Some(job) = jobs.get_mut(&id) {
                    job.outcome = Some(event.clone());
                }
                // Forget the oldest outcomes beyond a few (ids are random: any ended ones will do).
                let ended: Vec<String> = jobs
                    .iter()
                    .filter(|(k, j)| j.outcome.is_some() && **k != id)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in ended.iter().skip(KEPT_OUTCOMES) {
                    jobs.remove(k);
                }
            }
            // The listener may have gone; the job still runs to its end.
            let _ = sender.send(event);
        })
    });
    Json(JobStarted { job_id }).into_response()
}

async fn job_events(State(server): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    let receiver = {
        let mut jobs = server.jobs.lock().expect("jobs lock");
        let Some(job) = jobs.get_mut(&id) else {
            return error(StatusCode::NOT_FOUND, "not_found", "There is no such job.");
        };
        match (job.events.take(), &job.outcome) {
            (Some(r), _) => r,
            // A second listener after the end (say, after a dropped connection): replay the outcome.
            (None, Some(outcome)) => {
                let (tx, rx) = mpsc::unbounded_channel();
                let _ = tx.send(outcome.clone());
                rx
            }
            (None, None) => {
                return error(
                    StatusCode::CONFLICT,
                    "already_listening",
                    "Someone is already following this job.",
                );
            }
        }
    };
    let stream = UnboundedReceiverStream::new(receiver).map(|e| {
        Ok::<_, Infallible>(Event::default().data(serde_json::to_string(&e).unwrap_or_default()))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn cancel_job(State(server): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    match server.jobs.lock().expect("jobs lock").get(&id) {
        Some(job) => {
            job.cancel.cancel();
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::NOT_FOUND, "not_found", "There is no such job."),
    }
}

#[derive(serde::Deserialize)]
struct UploadQuery {
    name: String,
}

/// Receives a file the user picked in the browser and stores it where the
/// engine can read it; streamed, so a 1 GB export never sits in memory.
async fn upload(
    State(server): State<Arc<Server>>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> Response {
    use tokio::io::AsyncWriteExt;
    let dir = server.app.upload_dir();
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "io", &e.to_string());
    }
    // Keep the user's file name (the import report shows it), minus anything path-like.
    let name: String = q
        .name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    let mut tag = [0u8; 4];
    rand::rng().fill_bytes(&mut tag);
    let folder = dir.join(tag.iter().map(|b| format!("{b:02x}")).collect::<String>());
    if let Err(e) = tokio::fs::create_dir_all(&folder).await {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "io", &e.to_string());
    }
    let path = folder.join(if name.is_empty() { "upload.csv" } else { name });
    let result: Result<(), std::io::Error> = async {
        let mut file = tokio::fs::File::create(&path).await?;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk.map_err(std::io::Error::other)?)
                .await?;
        }
        file.flush().await
    }
    .await;
    match result {
        Ok(()) => Json(Uploaded {
            path: path.display().to_string(),
        })
        .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "io",
            &format!("The upload failed: {e}"),
        ),
    }
}
