use std::path::{Path, PathBuf};

use cohort::ingest::{self, ImportOptions, ImportReport};
use cohort::progress::Silent;
use cohort::store::Workspace;

pub fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-11-01T12:00:00Z".parse().unwrap()
}

pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    pub fn workspace(&self) -> Workspace {
        Workspace::open(self.path("ws.cohort")).unwrap()
    }
}

pub fn import(ws: &mut Workspace, path: &Path) -> ImportReport {
    import_with(ws, path, ImportOptions::new(now()))
}

pub fn import_with(ws: &mut Workspace, path: &Path, options: ImportOptions) -> ImportReport {
    ingest::import(ws, path, &options, &mut Silent)
        .unwrap_or_else(|e| panic!("import of {} failed: {e}", path.display()))
}

/// Every row of every table, as text: two equal dumps mean equal contents.
pub fn dump(ws: &Workspace) -> String {
    let conn = ws.conn();
    let mut out = String::new();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in tables {
        out.push_str(&format!("## {t}\n"));
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1"))
            .unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let cells: Vec<String> = (0..n)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect();
            out.push_str(&cells.join("|"));
            out.push('\n');
        }
    }
    out
}

/// One column of one contact, by source key.
pub fn contact(ws: &Workspace, key: &str, column: &str) -> Option<String> {
    ws.conn()
        .query_row(
            &format!("SELECT {column} FROM contacts WHERE source_key = ?1"),
            [key],
            |r| r.get::<_, Option<String>>(0),
        )
        .unwrap_or_else(|e| panic!("no contact {key}: {e}"))
}

pub fn count(ws: &Workspace, sql: &str) -> i64 {
    ws.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Runs the real `cohort` binary on the workspace at `ws`, whatever its
/// exit status.
pub fn run_cohort(ws: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .output()
        .unwrap()
}

/// Runs `cohort` and insists that it succeeds; its standard output.
pub fn cohort_ok(ws: &Path, args: &[&str]) -> String {
    let out = run_cohort(ws, args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "cohort {args:?}: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `cohort --json` and insists that it succeeds; the JSON it printed.
pub fn cohort(ws: &Path, args: &[&str]) -> serde_json::Value {
    let stdout = cohort_ok(ws, &[&["--json"], args].concat());
    // Progress lines may precede the JSON document on stdout.
    let start = stdout.find(['{', '[']).unwrap_or(0);
    serde_json::from_str(&stdout[start..]).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}
