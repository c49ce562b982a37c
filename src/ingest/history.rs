//! Reading back what imports did: the history and their problem rows.

use rusqlite::params;
use serde::Serialize;

use super::TableCounts;
use crate::store::{StoreError, Workspace};

/// One import as the history lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub id: i64,
    pub source: String,
    pub file_name: String,
    pub file_path: String,
    pub kind: String,
    pub preset: Option<String>,
    pub rows_read: u64,
    pub rows_rejected: u64,
    pub values_flagged: u64,
    pub tables: Vec<TableCounts>,
    pub started_at: String,
    pub finished_at: String,
    pub content_hash: String,
    /// The column mapping the import used, so it can be repeated.
    pub mapping: Vec<super::ColumnMapping>,
}

/// All imports, newest first.
pub fn imports(ws: &Workspace) -> Result<Vec<ImportSummary>, StoreError> {
    let mut stmt = ws
        .conn()
        .prepare(
            "SELECT i.id, s.name, i.file_name, i.file_path, i.kind, i.preset, i.rows_read, i.rows_rejected, i.values_flagged,
                    i.table_counts, i.started_at, i.finished_at, i.content_hash, i.mapping
             FROM imports i JOIN sources s ON s.id = i.source_id ORDER BY i.id DESC",
        )
        .map_err(|e| ws.sql(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ImportSummary {
                id: r.get(0)?,
                source: r.get(1)?,
                file_name: r.get(2)?,
                file_path: r.get(3)?,
                kind: r.get(4)?,
                preset: r.get(5)?,
                rows_read: r.get::<_, i64>(6)? as u64,
                rows_rejected: r.get::<_, i64>(7)? as u64,
                values_flagged: r.get::<_, i64>(8)? as u64,
                tables: serde_json::from_str(&r.get::<_, String>(9)?).unwrap_or_default(),
                started_at: r.get(10)?,
                finished_at: r.get(11)?,
                content_hash: r.get(12)?,
                mapping: serde_json::from_str(&r.get::<_, String>(13)?).unwrap_or_default(),
            })
        })
        .map_err(|e| ws.sql(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| ws.sql(e))
}

/// A rejected row or flagged value as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredProblem {
    pub row: u64,
    pub column: Option<String>,
    pub value: Option<String>,
    pub code: String,
    pub reason: String,
}

/// Rejected rows of an import in row order (`limit` of them from `offset`), and how many there are.
pub fn rejected_rows(
    ws: &Workspace,
    import_id: i64,
    limit: u64,
    offset: u64,
) -> Result<(Vec<StoredProblem>, u64), StoreError> {
    problems(ws, "rejected_rows", import_id, limit, offset)
}

/// Values that were kept raw because they could not be standardised.
pub fn value_warnings(
    ws: &Workspace,
    import_id: i64,
    limit: u64,
    offset: u64,
) -> Result<(Vec<StoredProblem>, u64), StoreError> {
    problems(ws, "value_warnings", import_id, limit, offset)
}

fn problems(
    ws: &Workspace,
    table: &str,
    import_id: i64,
    limit: u64,
    offset: u64,
) -> Result<(Vec<StoredProblem>, u64), StoreError> {
    // `table` is one of two literals above, never input.
    let total: i64 = ws
        .conn()
        .query_row(
            &format!("SELECT count(*) FROM {table} WHERE import_id = ?1"),
            [import_id],
            |r| r.get(0),
        )
        .map_err(|e| ws.sql(e))?;
    let mut stmt = ws
        .conn()
        .prepare(&format!(
            "SELECT row_number, column_name, raw_value, reason_code, reason FROM {table} WHERE import_id = ?1 ORDER BY row_number, id LIMIT ?2 OFFSET ?3"
        ))
        .map_err(|e| ws.sql(e))?;
    let rows = stmt
        .query_map(
            params![
                import_id,
                limit.min(i64::MAX as u64) as i64,
                offset.min(i64::MAX as u64) as i64
            ],
            |r| {
                Ok(StoredProblem {
                    row: r.get::<_, i64>(0)? as u64,
                    column: r.get(1)?,
                    value: r.get(2)?,
                    code: r.get(3)?,
                    reason: r.get(4)?,
                })
            },
        )
        .map_err(|e| ws.sql(e))?;
    Ok((
        rows.collect::<Result<_, _>>().map_err(|e| ws.sql(e))?,
        total as u64,
    ))
}

/// Whether an import with this id exists.
pub fn import_exists(ws: &Workspace, import_id: i64) -> Result<bool, StoreError> {
    ws.conn()
        .query_row(
            "SELECT count(*) FROM imports WHERE id = ?1",
            [import_id],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| ws.sql(e))
}
