//! Live counts while a rule is edited: the in-memory index when it is
//! current, the SQL compiler otherwise, and a background rebuild of the
//! index whenever the workspace has moved on. The app keeps one
//! `LiveCounts` per open workspace.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rusqlite::Connection;

use super::compile::{self, InvalidDefinition};
use super::index::{Fingerprint, IndexError, SegmentIndex};
use super::rules::Definition;

/// A count and a sample of members.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCount {
    pub count: u64,
    pub sample: Vec<i64>,
    pub millis: f64,
    /// `index` or `sql`.
    pub engine: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Invalid(#[from] InvalidDefinition),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("could not count the segment: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{0}")]
    Segment(String),
}

/// Events above which building the index beats SQL for behaviour rules:
/// SQLite finds each event's profile by two lookups, about 100,000 events
/// a second; the index reads about 1,500,000 a second and then answers in
/// milliseconds.
pub const INDEX_FROM_EVENTS: i64 = 1_000_000;

/// Whether the workspace has enough events that the index is the faster
/// way to evaluate rules (one indexed lookup).
pub fn prefers_index(conn: &Connection) -> rusqlite::Result<bool> {
    let last: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))?;
    Ok(last > INDEX_FROM_EVENTS)
}

fn from_segment_error(e: super::SegmentError) -> LiveError {
    match e {
        super::SegmentError::Invalid(e) => LiveError::Invalid(e),
        super::SegmentError::Sql { source, .. } => LiveError::Sql(source),
        other => LiveError::Segment(other.to_string()),
    }
}

#[derive(Default)]
struct State {
    path: Option<PathBuf>,
    index: Option<Arc<SegmentIndex>>,
    building: bool,
}

/// The index of the open workspace, rebuilt in the background when stale.
#[derive(Default, Clone)]
pub struct LiveCounts {
    state: Arc<Mutex<State>>,
}

impl LiveCounts {
    pub fn new() -> LiveCounts {
        LiveCounts::default()
    }

    /// Counts `def` at `now` (ISO 8601 UTC). Validates first (an invalid
    /// definition is an error pointing at the condition).
    pub fn count(
        &self,
        conn: &Connection,
        path: &Path,
        def: &Definition,
        now: &str,
        sample: usize,
    ) -> Result<LiveCount, LiveError> {
        let started = Instant::now();
        let scale = compile::scale_of(&compile::workspace_currency(conn)?);
        let compiled = compile::compile(conn, def, now, scale)?;
        if let Some(index) = self.current(conn, path)? {
            let (count, sample) = index.count(conn, def, now, sample)?;
            return Ok(LiveCount {
                count,
                sample,
                millis: started.elapsed().as_secs_f64() * 1000.0,
                engine: "index",
            });
        }
        let count = compile::count(conn, &compiled)?;
        let sample = compile::sample(conn, &compiled, sample)?;
        Ok(LiveCount {
            count,
            sample,
            millis: started.elapsed().as_secs_f64() * 1000.0,
            engine: "sql",
        })
    }

    /// The index if it matches the workspace now (never starts a build).
    fn fresh(
        &self,
        conn: &Connection,
        path: &Path,
    ) -> Result<Option<Arc<SegmentIndex>>, IndexError> {
        let now = Fingerprint::read(conn)?;
        let state = self.state.lock().expect("live counts lock");
        Ok(state
            .index
            .as_ref()
            .filter(|i| state.path.as_deref() == Some(path) && i.fingerprint == now)
            .cloned())
    }

    /// The index if it matches the workspace now; otherwise starts a
    /// rebuild (once) and returns `None`.
    pub fn current(
        &self,
        conn: &Connection,
        path: &Path,
    ) -> Result<Option<Arc<SegmentIndex>>, IndexError> {
        let now = Fingerprint::read(conn)?;
        let mut state = self.state.lock().expect("live counts lock");
        if state.path.as_deref() != Some(path) {
            *state = State {
                path: Some(path.to_path_buf()),
                ..State::default()
            };
        }
        if let Some(index) = &state.index {
            if index.fingerprint == now {
                return Ok(Some(index.clone()));
            }
        }
        if !state.building {
            state.building = true;
            let shared = self.state.clone();
            let path = path.to_path_buf();
            std::thread::spawn(move || {
                let built = crate::store::crypt::open_reader(&path)
                    .map_err(|e| IndexError::Sql {
                        context: "open the workspace for the segment index",
                        source: e,
                    })
                    .and_then(|c| {
                        c.busy_timeout(std::time::Duration::from_secs(30)).ok();
                        SegmentIndex::build(&c)
                    });
                let mut state = shared.lock().expect("live counts lock");
                state.building = false;
                if state.path.as_deref() == Some(path.as_path()) {
                    if let Ok(index) = built {
                        state.index = Some(Arc::new(index));
                    }
                }
            });
        }
        Ok(None)
    }

    /// The index for work that cannot wait for a background build (a
    /// save, an export) of `def`: the current one; else a new one when
    /// the rule reads behaviour in a workspace large enough that SQL would
    /// be slower than building the index; else none (SQL).
    pub fn index_now(
        &self,
        conn: &Connection,
        path: &Path,
        def: &Definition,
    ) -> Result<Option<Arc<SegmentIndex>>, LiveError> {
        Ok(match self.fresh(conn, path)? {
            Some(index) => Some(index),
            None if def.reads_behaviour() && prefers_index(conn)? => {
                Some(self.build_now(conn, path)?)
            }
            None => None,
        })
    }

    /// The members of saved segment `id` now, through [`Self::index_now`].
    pub fn segment_members_now(
        &self,
        conn: &Connection,
        path: &Path,
        id: i64,
        now: &str,
    ) -> Result<Vec<i64>, LiveError> {
        let dynamic = super::get(conn, id)
            .map_err(from_segment_error)?
            .is_some_and(|s| s.kind == "dynamic");
        // A static segment is its stored members, whatever its rule was.
        let def = match dynamic {
            true => super::definition(conn, id).map_err(from_segment_error)?,
            false => None,
        };
        let index = match &def {
            Some(def) => self.index_now(conn, path, def)?,
            None => None,
        };
        match index {
            Some(index) => Ok(index.segment_members(conn, id, now)?),
            None => {
                let scale = compile::scale_of(&compile::workspace_currency(conn)?);
                super::members_of(conn, id, now, scale).map_err(from_segment_error)
            }
        }
    }

    /// Builds the index now, on this thread (CLI, tests, benchmarks).
    pub fn build_now(
        &self,
        conn: &Connection,
        path: &Path,
    ) -> Result<Arc<SegmentIndex>, IndexError> {
        let index = Arc::new(SegmentIndex::build(conn)?);
        let mut state = self.state.lock().expect("live counts lock");
        state.path = Some(path.to_path_buf());
        state.index = Some(index.clone());
        Ok(index)
    }
}
