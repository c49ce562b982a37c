//! Segments: named groups of profiles. This schema version keeps static
//! segments (a saved list of members, e.g. a cluster saved from Insights);
//! the rule builder and dynamic segments come with the segment editor.

pub mod fields;
pub mod index;
pub mod rules;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("could not {context}: {source}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("a segment needs a name")]
    EmptyName,
    #[error("there is already a segment named “{0}”; pick another name")]
    NameTaken(String),
}

impl SegmentError {
    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            SegmentError::Sql { .. } => "store",
            SegmentError::EmptyName | SegmentError::NameTaken(_) => "invalid",
        }
    }
}

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> SegmentError {
    move |source| SegmentError::Sql { context, source }
}

/// A segment as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: i64,
    pub name: String,
    /// `static` or `dynamic`.
    pub kind: String,
    pub description: Option<String>,
    /// JSON: where the segment came from (e.g. a cluster of a run).
    pub origin: Option<serde_json::Value>,
    pub members: u64,
    pub created_at: String,
}

/// Saves `profiles` as a new static segment named `name`, in the caller's
/// transaction or on its own (one statement per member, all or nothing).
pub fn save_static(
    conn: &mut Connection,
    name: &str,
    description: Option<&str>,
    origin: Option<&serde_json::Value>,
    profiles: &[i64],
    now: &str,
) -> Result<Segment, SegmentError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(SegmentError::EmptyName);
    }
    let tx = conn.transaction().map_err(sql("save a segment"))?;
    let taken = tx
        .query_row("SELECT 1 FROM segments WHERE name = ?1", [name], |_| Ok(()))
        .optional()
        .map_err(sql("save a segment"))?
        .is_some();
    if taken {
        return Err(SegmentError::NameTaken(name.to_owned()));
    }
    tx.execute(
        "INSERT INTO segments (name, kind, description, origin, created_at, updated_at)
         VALUES (?1, 'static', ?2, ?3, ?4, ?4)",
        params![name, description, origin.map(|o| o.to_string()), now],
    )
    .map_err(sql("save a segment"))?;
    let id = tx.last_insert_rowid();
    {
        let mut insert = tx
            .prepare(
                "INSERT OR IGNORE INTO segment_members (segment_id, profile_id) VALUES (?1, ?2)",
            )
            .map_err(sql("save the members of a segment"))?;
        for p in profiles {
            insert
                .execute(params![id, p])
                .map_err(sql("save the members of a segment"))?;
        }
    }
    tx.commit().map_err(sql("save a segment"))?;
    Ok(get(conn, id)?.expect("the segment was just saved"))
}

const SELECT: &str = "SELECT s.id, s.name, s.kind, s.description, s.origin, s.created_at,
        (SELECT count(*) FROM segment_members m WHERE m.segment_id = s.id)
   FROM segments s";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Segment> {
    let origin: Option<String> = r.get(4)?;
    Ok(Segment {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        description: r.get(3)?,
        origin: origin.and_then(|o| serde_json::from_str(&o).ok()),
        created_at: r.get(5)?,
        members: r.get(6)?,
    })
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Segment>, SegmentError> {
    conn.query_row(&format!("{SELECT} WHERE s.id = ?1"), [id], from_row)
        .optional()
        .map_err(sql("read a segment"))
}

/// Every segment, newest first.
pub fn list(conn: &Connection) -> Result<Vec<Segment>, SegmentError> {
    let mut stmt = conn
        .prepare(&format!("{SELECT} ORDER BY s.id DESC"))
        .map_err(sql("list segments"))?;
    let rows = stmt
        .query_map([], from_row)
        .map_err(sql("list segments"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("list segments"))?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_segment_keeps_its_members_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = crate::store::Workspace::open(dir.path().join("w.cohort")).unwrap();
        let origin = serde_json::json!({"cluster_run": 1, "cluster": 2});
        let s = save_static(
            ws.conn_mut(),
            " Big spenders ",
            Some("spend 3× the average"),
            Some(&origin),
            &[3, 1, 2, 2],
            "2026-11-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(s.name, "Big spenders");
        assert_eq!(s.members, 3);
        assert_eq!(s.origin, Some(origin));
        let again = save_static(
            ws.conn_mut(),
            "Big spenders",
            None,
            None,
            &[4],
            "2026-11-01T00:00:00Z",
        );
        assert!(matches!(again, Err(SegmentError::NameTaken(_))));
        assert!(matches!(
            save_static(ws.conn_mut(), "  ", None, None, &[], "x"),
            Err(SegmentError::EmptyName)
        ));
        assert_eq!(
            list(ws.conn()).unwrap().len(),
            1,
            "the refused saves left nothing behind"
        );
    }
}
