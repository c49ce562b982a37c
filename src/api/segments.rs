//! The segment and campaign commands: requests in, engine calls, the API
//! types out. No rules here; `cohort::segments` and `cohort::campaigns`
//! decide everything.

use rusqlite::Connection;

use super::types::*;
use super::ApiError;
use crate::segments::{self, compile, fields, live::LiveCounts};
use crate::store::Workspace;

impl From<compile::InvalidDefinition> for ApiError {
    fn from(e: compile::InvalidDefinition) -> Self {
        ApiError::new("invalid_definition", e.message)
    }
}

impl From<segments::index::IndexError> for ApiError {
    fn from(e: segments::index::IndexError) -> Self {
        match e {
            segments::index::IndexError::Invalid(e) => e.into(),
            e => ApiError::new("store", e.to_string()),
        }
    }
}

impl From<segments::live::LiveError> for ApiError {
    fn from(e: segments::live::LiveError) -> Self {
        match e {
            segments::live::LiveError::Invalid(e) => e.into(),
            e => ApiError::new("store", e.to_string()),
        }
    }
}

impl From<crate::campaigns::CampaignError> for ApiError {
    fn from(e: crate::campaigns::CampaignError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

fn store(e: rusqlite::Error) -> ApiError {
    ApiError::new("store", e.to_string())
}

/// Values of a column, most common first (at most 50).
fn top_values(conn: &Connection, table: &str, column: &str) -> Result<Vec<String>, ApiError> {
    // `table` and `column` come from the field catalogue, never from a request.
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> ''
              GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT 50"
        ))
        .map_err(store)?;
    let values = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(store)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(store)?;
    Ok(values)
}

pub(super) fn catalog(ws: &Workspace) -> Result<SegmentCatalog, ApiError> {
    let conn = ws.conn();
    let mut out_fields = Vec::new();
    for f in fields::FIELDS {
        let choices = if f.kind == FieldType::Choice {
            let table = if f.table == 'p' {
                "profiles"
            } else {
                "profile_traits"
            };
            top_values(conn, table, f.column)?
        } else {
            Vec::new()
        };
        out_fields.push(SegmentField {
            name: f.name.into(),
            label: f.label.into(),
            group: f.group.into(),
            kind: f.kind,
            ops: f.kind.ops().to_vec(),
            choices,
        });
    }
    let mut stmt = conn
        .prepare("SELECT name, count(*) FROM events GROUP BY name ORDER BY count(*) DESC LIMIT 200")
        .map_err(store)?;
    let events = stmt
        .query_map([], |r| {
            Ok(EventName {
                name: r.get(0)?,
                events: r.get(1)?,
            })
        })
        .map_err(store)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(store)?;
    let mut properties = Vec::new();
    for (name, label, kind) in fields::EVENT_PROPERTIES {
        let choices = match *name {
            "category" | "brand" => top_values(conn, "products", name)?,
            "device" | "channel" | "country" => top_values(conn, "events", name)?,
            _ => Vec::new(),
        };
        properties.push(EventProperty {
            name: (*name).into(),
            label: (*label).into(),
            kind: *kind,
            choices,
        });
    }
    let clusters = match crate::cluster::runs::latest(conn).ok().flatten() {
        Some(run) => run
            .result
            .clusters
            .iter()
            .map(|c| ClusterChoice {
                id: c.id as i64,
                name: c.name.clone(),
                size: c.size as u64,
            })
            .collect(),
        None => Vec::new(),
    };
    let segment_list = segments::list(conn)?
        .into_iter()
        .map(Segment::from)
        .collect();
    let profiles: u64 = conn
        .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
        .map_err(store)?;
    Ok(SegmentCatalog {
        fields: out_fields,
        events,
        properties,
        clusters,
        segments: segment_list,
        rfm_segments: crate::traits::rfm::SEGMENTS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        channels: fields::CHANNELS.iter().map(|s| (*s).to_owned()).collect(),
        consent_statuses: fields::CONSENT_STATUSES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        currency: compile::workspace_currency(conn).map_err(store)?,
        profiles,
    })
}

/// Names, emails and countries of `ids`, in that order.
pub(super) fn members(conn: &Connection, ids: &[i64]) -> Result<Vec<SegmentMember>, ApiError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), email, country
               FROM profiles WHERE id = ?1",
        )
        .map_err(store)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let m = stmt
            .query_row([id], |r| {
                let name: String = r.get(1)?;
                Ok(SegmentMember {
                    id: r.get(0)?,
                    name: (!name.is_empty()).then_some(name),
                    email: r.get(2)?,
                    country: r.get(3)?,
                })
            })
            .map_err(store)?;
        out.push(m);
    }
    Ok(out)
}

pub(super) fn preview(
    ws: &Workspace,
    live: &LiveCounts,
    req: &SegmentPreviewRequest,
    now: &str,
) -> Result<SegmentPreview, ApiError> {
    let conn = ws.conn();
    let currency = compile::workspace_currency(conn).map_err(store)?;
    let profiles: u64 = conn
        .query_row("SELECT coalesce(max(rowid), 0) FROM profiles", [], |r| {
            r.get(0)
        })
        .map_err(store)?;
    let sample = req.sample.unwrap_or(10).min(100) as usize;
    match live.count(conn, ws.path(), &req.definition, now, sample) {
        Ok(c) => Ok(SegmentPreview {
            count: c.count,
            profiles: total_profiles(conn, live, ws).unwrap_or(profiles),
            description: segments::describe::describe(conn, &req.definition, &currency),
            sample: members(conn, &c.sample)?,
            millis: c.millis,
            engine: c.engine.to_owned(),
            problem: None,
            problem_path: None,
        }),
        Err(segments::live::LiveError::Invalid(e)) => Ok(SegmentPreview {
            count: 0,
            profiles,
            description: String::new(),
            sample: Vec::new(),
            millis: 0.0,
            engine: String::new(),
            problem: Some(e.message),
            problem_path: Some(e.path.iter().map(|&i| i as u32).collect()),
        }),
        Err(e) => Err(e.into()),
    }
}

/// The number of profiles, from the index when it is current (a count of a
/// million rows in SQLite is tens of milliseconds).
fn total_profiles(conn: &Connection, live: &LiveCounts, ws: &Workspace) -> Option<u64> {
    live.current(conn, ws.path())
        .ok()
        .flatten()
        .map(|i| i.profiles())
        .or_else(|| {
            conn.query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
                .ok()
        })
}

pub(super) fn overlap(
    ws: &Workspace,
    req: &OverlapRequest,
    now: &str,
) -> Result<SegmentOverlap, ApiError> {
    let conn = ws.conn();
    let scale = compile::scale_of(&compile::workspace_currency(conn).map_err(store)?);
    let mut list = Vec::new();
    let mut sets: Vec<roaring::RoaringTreemap> = Vec::new();
    for &id in &req.ids {
        let s = segments::get(conn, id)?
            .ok_or_else(|| ApiError::new("not_found", format!("There is no segment {id}.")))?;
        let ids = segments::members_of(conn, id, now, scale)?;
        sets.push(ids.into_iter().map(|i| i as u64).collect());
        list.push(Segment::from(s));
    }
    let counts = sets
        .iter()
        .map(|a| sets.iter().map(|b| (a & b).len()).collect())
        .collect();
    Ok(SegmentOverlap {
        segments: list,
        counts,
    })
}

/// Reason names people read, largest count first.
pub(super) fn reasons(by_reason: &std::collections::BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = by_reason
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, &n)| (k.clone(), n))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}
