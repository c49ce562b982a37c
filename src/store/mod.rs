//! The workspace: one SQLite file holding everything Cohort knows.
//!
//! **Architecture invariant:** the schema only changes through the numbered
//! migrations in `migrations/`; a file written by a newer Cohort is refused
//! rather than damaged. PRAGMAs are connection settings and live here, not in
//! migrations.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};

pub mod backup;
pub mod crypt;

/// The migrations, oldest first. Append only: never edit a released one.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("migrations/0001_foundation.sql")),
        M::up(include_str!("migrations/0002_identity.sql")),
        M::up(include_str!("migrations/0003_traits.sql")),
        M::up(include_str!("migrations/0004_segments_campaigns.sql")),
        M::up(include_str!("migrations/0005_recommendations.sql")),
        M::up(include_str!("migrations/0006_templates_results.sql")),
        M::up(include_str!("migrations/0007_results_by_source.sql")),
        M::up(include_str!("migrations/0008_consent_ledger.sql")),
        M::up(include_str!("migrations/0009_privacy.sql")),
        M::up(include_str!("migrations/0010_erased_keys.sql")),
        M::up(include_str!("migrations/0011_match_fields.sql")),
        M::up(include_str!(
            "migrations/0012_blocking_keys_by_key_only.sql"
        )),
    ])
}

/// The schema version this build writes.
pub fn latest_version() -> usize {
    12
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open workspace {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("workspace {path} was written by a newer Cohort (schema version {found}, this build knows up to {known}); upgrade Cohort to open it")]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error("workspace {path} is not a Cohort workspace or is damaged: {detail}")]
    NotAWorkspace { path: PathBuf, detail: String },
    #[error("cannot create folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("workspace {path}: {source}")]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("workspace {path} is encrypted: give its passphrase (unlock it in the app, set COHORT_PASSPHRASE, or save it with `cohort encrypt --remember`)")]
    Locked { path: PathBuf },
    #[error("workspace {path}: wrong passphrase")]
    WrongPassphrase { path: PathBuf },
    #[error("a passphrase needs at least 8 characters")]
    WeakPassphrase,
    #[error("workspace {path}: the OS keychain refused: {detail}")]
    Keychain { path: PathBuf, detail: String },
    #[error("workspace {path} is busy: another Cohort window or command is writing to it and did not finish within {seconds} s; try again when it is done")]
    Busy { path: PathBuf, seconds: u64 },
    #[error("backup {path}: {detail}")]
    Backup { path: PathBuf, detail: String },
}

/// How long a writer waits for another process's write to finish before
/// giving up with [`StoreError::Busy`].
pub const BUSY_WAIT_SECONDS: u64 = 30;

/// [`BUSY_WAIT_SECONDS`], or `COHORT_BUSY_SECONDS` when set (tests and
/// scripts that would rather fail fast than wait).
pub fn busy_wait_seconds() -> u64 {
    std::env::var("COHORT_BUSY_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BUSY_WAIT_SECONDS)
}

/// What to do, once, when a write has waited about a second for another
/// process's: the shell sets it (the CLI prints a line on stderr), as the
/// engine itself never prints. Process-wide, because SQLite's busy handler
/// is a plain function with no state of its own.
static BUSY_NOTICE: std::sync::RwLock<Option<fn(u64)>> = std::sync::RwLock::new(None);

/// Sets what happens when a write starts waiting for another process; the
/// function gets the most seconds it will wait.
pub fn on_busy_wait(notice: fn(u64)) {
    if let Ok(mut n) = BUSY_NOTICE.write() {
        *n = Some(notice);
    }
}

/// How long the busy handler sleeps between tries.
const BUSY_STEP_MS: u64 = 20;
/// After how long a waiting writer is told about it.
const BUSY_NOTICE_AFTER_MS: u64 = 1000;

/// SQLite's busy handler: `tries` is how many times it was called for this
/// lock. Waits in fixed steps (so `tries` tells the time waited), says so
/// once after a second, and gives up after [`busy_wait_seconds`].
fn busy_handler(tries: i32) -> bool {
    let waited = tries.max(0) as u64 * BUSY_STEP_MS;
    let limit = busy_wait_seconds();
    if waited >= limit * 1000 {
        return false;
    }
    if waited == BUSY_NOTICE_AFTER_MS {
        if let Some(notice) = BUSY_NOTICE.read().ok().and_then(|n| *n) {
            notice(limit);
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(BUSY_STEP_MS));
    true
}

/// An open workspace.
pub struct Workspace {
    path: PathBuf,
    conn: Connection,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("path", &self.path)
            .finish()
    }
}

/// Settings a workspace keeps, with their defaults.
pub mod setting {
    /// Region used for phone numbers written without a country code (ISO 3166 alpha-2).
    pub const DEFAULT_REGION: (&str, &str) = ("default_region", "US");
    /// Currency assumed for amounts with no currency symbol or column (ISO 4217).
    pub const DEFAULT_CURRENCY: (&str, &str) = ("default_currency", "USD");
}

/// A setting read through any connection (e.g. a reader thread's), with
/// its default.
pub fn setting_of(conn: &Connection, (key, default): (&str, &str)) -> rusqlite::Result<String> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.unwrap_or_else(|| default.to_string()))
}

impl Workspace {
    /// Opens the workspace at `path`, creating the file (and its folder) if it
    /// does not exist, and migrating it to the latest schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Workspace, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        crypt::unlock(&conn, &path)?;
        configure(&mut conn, crypt::is_encrypted(&path))
            .map_err(|source| classify(&path, source))?;
        let found = schema_version(&conn).map_err(|source| classify(&path, source))?;
        if found > latest_version() {
            return Err(StoreError::TooNew {
                path,
                found,
                known: latest_version(),
            });
        }
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| StoreError::NotAWorkspace {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        Ok(Workspace { path, conn })
    }

    /// Opens an existing workspace; fails instead of creating a new file.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Workspace, StoreError> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(StoreError::NotAWorkspace {
                path: path.to_path_buf(),
                detail: "no such file (create it with `cohort init`)".into(),
            });
        }
        Self::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn schema_version(&self) -> Result<usize, StoreError> {
        schema_version(&self.conn).map_err(|source| self.sql(source))
    }

    /// Reads a setting, falling back to its default.
    pub fn setting(&self, (key, default): (&str, &str)) -> Result<String, StoreError> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|source| self.sql(source))?;
        Ok(v.unwrap_or_else(|| default.to_string()))
    }

    pub fn set_setting(&self, (key, _): (&str, &str), value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
            .map_err(|source| self.sql(source))
    }

    /// Row counts of the canonical tables, for `cohort stats`.
    pub fn stats(&self) -> Result<Stats, StoreError> {
        let count = |table: &str| -> Result<u64, StoreError> {
            // Table names come from the fixed list below, never from input.
            self.conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| n as u64)
                .map_err(|source| self.sql(source))
        };
        let file_bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        Ok(Stats {
            path: self.path.clone(),
            schema_version: self.schema_version()?,
            file_bytes,
            sources: count("sources")?,
            imports: count("imports")?,
            contacts: count("contacts")?,
            orders: count("orders")?,
            order_lines: count("order_lines")?,
            events: count("events")?,
            products: count("products")?,
            rejected_rows: count("rejected_rows")?,
            value_warnings: count("value_warnings")?,
        })
    }

    /// `PRAGMA integrity_check`: `Ok(())` when the file is sound.
    pub fn integrity_check(&self) -> Result<Result<(), String>, StoreError> {
        let v: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|source| self.sql(source))?;
        Ok(if v == "ok" { Ok(()) } else { Err(v) })
    }

    pub(crate) fn sql(&self, source: rusqlite::Error) -> StoreError {
        classify(&self.path, source)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub path: PathBuf,
    pub schema_version: usize,
    pub file_bytes: u64,
    pub sources: u64,
    pub imports: u64,
    pub contacts: u64,
    pub orders: u64,
    pub order_lines: u64,
    pub events: u64,
    pub products: u64,
    pub rejected_rows: u64,
    pub value_warnings: u64,
}

fn configure(conn: &mut Connection, encrypted: bool) -> rusqlite::Result<()> {
    // WAL lets the UI read while an import writes; NORMAL is durable in WAL
    // mode at transaction boundaries, which is the guarantee imports need.
    // 16 KiB pages: customer records are wide and mostly scanned, and bulk
    // imports write 7% faster than with 4 KiB. Only takes effect on a new
    // file, so it must come before WAL mode is switched on.
    // (An SQLCipher file keeps the page size its cipher settings expect.)
    if !encrypted {
        conn.pragma_update(None, "page_size", 16384)?;
    }
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Two processes may open one workspace (the app and a CLI command). A
    // writer waits for the other's transaction; every transaction starts
    // IMMEDIATE so it queues for the write lock up front instead of failing
    // with SQLITE_BUSY when a read turns into a write under WAL.
    conn.busy_handler(Some(busy_handler))?;
    conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
    // 64 MiB page cache: imports upsert into large unique indexes.
    conn.pragma_update(None, "cache_size", -65536)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map(|v| v as usize)
}

/// The error for an SQLite failure on the workspace at `path`: busy and
/// not-a-database get their own plain explanations.
pub fn classify(path: &Path, source: rusqlite::Error) -> StoreError {
    match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotAWorkspace {
            path: path.to_path_buf(),
            detail: "the file is not an SQLite database".into(),
        },
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Busy {
                path: path.to_path_buf(),
                seconds: busy_wait_seconds(),
            }
        }
        _ => StoreError::Sql {
            path: path.to_path_buf(),
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-10 workspace's blocking keys carried the comparison
    /// fields on every row; version 11 keeps one copy per record and every
    /// key, so incremental runs find the same block-mates.
    #[test]
    fn blocking_keys_move_their_fields_to_one_row_per_record() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrations().to_version(&mut conn, 10).unwrap();
        conn.execute_batch(
            "INSERT INTO blocking_keys (key, record_id, fields) VALUES
                 (1, 7, 'seven'), (2, 7, 'seven'), (2, 8, 'eight'), (3, 9, 'nine');",
        )
        .unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let keys: Vec<(i64, i64)> = conn
            .prepare("SELECT key, record_id FROM blocking_keys ORDER BY key, record_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keys, [(1, 7), (2, 7), (2, 8), (3, 9)]);
        let fields: Vec<(i64, String)> = conn
            .prepare("SELECT record_id, fields FROM match_fields ORDER BY record_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            fields,
            [(7, "seven".into()), (8, "eight".into()), (9, "nine".into())]
        );
    }

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn empty_file_migrates_to_latest_with_wal_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/ws.cohort");
        let ws = Workspace::open(&path).unwrap();
        assert_eq!(ws.schema_version().unwrap(), latest_version());
        let mode: String = ws
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = ws
            .conn()
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        for table in [
            "sources",
            "imports",
            "contacts",
            "orders",
            "order_lines",
            "events",
            "products",
            "rejected_rows",
        ] {
            let n: i64 = ws
                .conn()
                .query_row(
                    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 1, "table {table} missing");
        }
        drop(ws);
        // Reopening is a no-op migration.
        let ws = Workspace::open(&path).unwrap();
        assert_eq!(ws.integrity_check().unwrap(), Ok(()));
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws.cohort");
        drop(Workspace::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        match Workspace::open(&path) {
            Err(StoreError::TooNew { found: 99, .. }) => {}
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    #[test]
    fn refuses_a_file_that_is_not_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, b"this is not a database, just some text that is long enough to be read as a header by sqlite, honestly").unwrap();
        assert!(matches!(
            Workspace::open(&path),
            Err(StoreError::NotAWorkspace { .. })
        ));
    }

    #[test]
    fn settings_have_defaults_and_can_change() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("ws.cohort")).unwrap();
        assert_eq!(ws.setting(setting::DEFAULT_REGION).unwrap(), "US");
        ws.set_setting(setting::DEFAULT_REGION, "DE").unwrap();
        assert_eq!(ws.setting(setting::DEFAULT_REGION).unwrap(), "DE");
    }
}
