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
    // Columns of the export kept in the events' JSON, found in a sample.
    let mut stmt = conn
        .prepare(
            "SELECT j.key, j.value, count(*) FROM
                (SELECT properties FROM events WHERE json_valid(properties) LIMIT 20000) e,
                json_each(e.properties) j
              GROUP BY j.key, j.value ORDER BY j.key, count(*) DESC",
        )
        .map_err(store)?;
    let mut custom: Vec<(String, Vec<String>)> = Vec::new();
    let mut rows = stmt.query([]).map_err(store)?;
    while let Some(r) = rows.next().map_err(store)? {
        let key: String = r.get(0).map_err(store)?;
        let value = match r.get_ref(1).map_err(store)? {
            rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            rusqlite::types::ValueRef::Integer(n) => n.to_string(),
            rusqlite::types::ValueRef::Real(x) => x.to_string(),
            _ => continue,
        };
        match custom.last_mut() {
            Some((k, values)) if *k == key => {
                if values.len() < 50 {
                    values.push(value)
                }
            }
            _ => custom.push((key, vec![value])),
        }
    }
    drop(rows);
    drop(stmt);
    for (key, choices) in custom.into_iter().take(100) {
        properties.push(EventProperty {
            name: format!("{}{key}", fields::CUSTOM_PROPERTY),
            label: key,
            kind: FieldType::Text,
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
    live: &LiveCounts,
    req: &OverlapRequest,
    now: &str,
) -> Result<SegmentOverlap, ApiError> {
    let conn = ws.conn();
    let mut list = Vec::new();
    let mut sets: Vec<roaring::RoaringTreemap> = Vec::new();
    for &id in &req.ids {
        let s = segments::get(conn, id)?
            .ok_or_else(|| ApiError::new("not_found", format!("There is no segment {id}.")))?;
        let ids = live.segment_members_now(conn, ws.path(), id, now)?;
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

pub(super) fn save(
    ws: &mut Workspace,
    live: &LiveCounts,
    req: &SegmentSaveRequest,
    now: &str,
) -> Result<Segment, ApiError> {
    let index = live.index_now(ws.conn(), ws.path(), &req.definition)?;
    let index = index.as_deref();
    let conn = ws.conn_mut();
    let s = match (req.id, req.kind.as_str()) {
        (Some(id), _) => {
            let old = segments::get(conn, id)?
                .ok_or_else(|| ApiError::new("not_found", format!("There is no segment {id}.")))?;
            if old.name != req.name.trim() {
                return Err(ApiError::new(
                    "invalid",
                    "A new version keeps the segment's name; save under a new name to make another segment.",
                ));
            }
            segments::update_definition_with(conn, id, &req.definition, now, index)?
        }
        (None, kind @ ("dynamic" | "static")) => {
            segments::save_rule_with(conn, &req.name, kind, &req.definition, now, index)?
        }
        (None, other) => {
            return Err(ApiError::new(
                "bad_request",
                format!("A segment is static or dynamic, not “{other}”."),
            ))
        }
    };
    Ok(s.into())
}

pub(super) fn detail(
    ws: &Workspace,
    live: &LiveCounts,
    id: i64,
    now: &str,
) -> Result<SegmentDetail, ApiError> {
    let conn = ws.conn();
    let s = segments::get(conn, id)?
        .ok_or_else(|| ApiError::new("not_found", format!("There is no segment {id}.")))?;
    let definition = s
        .definition
        .clone()
        .and_then(|d| crate::segments::rules::Definition::from_value(d).ok());
    let versions = segments::versions(conn, id)?
        .into_iter()
        .map(|v| SegmentVersion {
            version: v.version,
            description: v.description,
            created_at: v.created_at,
        })
        .collect();
    let history: Vec<SegmentSizePoint> = segments::history(conn, id)?
        .into_iter()
        .map(|p| SegmentSizePoint {
            at: p.at,
            members: p.members,
            entered: p.entered,
            exited: p.exited,
        })
        .collect();
    let history_chart = size_chart(&s.name, &history);
    let mut ids = live.segment_members_now(conn, ws.path(), id, now)?;
    ids.truncate(10);
    Ok(SegmentDetail {
        segment: s.into(),
        definition,
        versions,
        history,
        history_chart,
        sample: members(conn, &ids)?,
    })
}

/// The size of a segment over time, as an SVG line chart.
fn size_chart(name: &str, history: &[SegmentSizePoint]) -> Option<String> {
    use crate::charts::{line_chart, ChartOptions, LineChart, LineSeries, Unit};
    let first = history.first()?;
    let day = |at: &str| crate::traits::scan::epoch_seconds(at).map(|s| s as f64 / 86_400.0);
    let start = day(&first.at)?;
    let points: Vec<(f64, f64)> = history
        .iter()
        .filter_map(|p| Some((day(&p.at)? - start, p.members as f64)))
        .collect();
    let chart = LineChart {
        series: vec![LineSeries {
            name: "Members".into(),
            points,
        }],
        x_label: format!("Days since {}", &first.at[..10.min(first.at.len())]),
        y_label: "Members".into(),
        unit: Unit::Number,
        marker: None,
        integer_x: false,
    };
    line_chart(&chart, &ChartOptions::new(format!("Size of “{name}”")))
        .ok()
        .map(|c| c.svg)
}

pub(super) fn campaign_view(conn: &Connection, c: crate::campaigns::Campaign) -> Campaign {
    let segment_name = segments::get(conn, c.segment_id)
        .ok()
        .flatten()
        .map(|s| s.name)
        .unwrap_or_else(|| format!("#{}", c.segment_id));
    Campaign {
        id: c.id,
        name: c.name,
        segment_id: c.segment_id,
        segment_name,
        channel: c.channel.as_str().to_owned(),
        template: c.template,
        holdout_percent: c.holdout_percent,
        created_at: c.created_at,
    }
}

pub(super) fn campaign_save(
    ws: &Workspace,
    req: &CampaignSaveRequest,
    now: &str,
) -> Result<Campaign, ApiError> {
    use crate::campaigns::{self, Channel};
    let conn = ws.conn();
    let channel: Channel = req.channel.parse()?;
    let c = match req.id {
        None => campaigns::create(
            conn,
            campaigns::NewCampaign {
                name: req.name.clone(),
                segment_id: req.segment_id,
                channel,
                template: req.template.clone(),
                holdout_percent: req.holdout_percent,
            },
            now,
        )?,
        Some(id) => campaigns::update(
            conn,
            id,
            campaigns::CampaignUpdate {
                name: Some(req.name.clone()),
                segment_id: Some(req.segment_id),
                channel: Some(channel),
                template: Some(req.template.clone()),
                holdout_percent: Some(req.holdout_percent),
            },
            now,
        )?,
    };
    Ok(campaign_view(conn, c))
}

fn find_campaign(conn: &Connection, id: i64) -> Result<crate::campaigns::Campaign, ApiError> {
    crate::campaigns::get(conn, id)?
        .ok_or_else(|| ApiError::new("not_found", format!("There is no campaign {id}.")))
}

/// The members of a campaign's segment now.
fn campaign_members(
    ws: &Workspace,
    live: &LiveCounts,
    c: &crate::campaigns::Campaign,
    now: &str,
) -> Result<Vec<i64>, ApiError> {
    Ok(live.segment_members_now(ws.conn(), ws.path(), c.segment_id, now)?)
}

pub(super) fn audience(
    ws: &Workspace,
    live: &LiveCounts,
    id: i64,
    now: &str,
) -> Result<CampaignAudience, ApiError> {
    let conn = ws.conn();
    let c = find_campaign(conn, id)?;
    let members = campaign_members(ws, live, &c, now)?;
    let a = crate::campaigns::export::preview(conn, &c, &members)?;
    Ok(CampaignAudience {
        members: a.members,
        held_out: a.held_out,
        suppressed: a.suppressed,
        suppressed_by_reason: reasons(&a.suppressed_by_reason),
        included: a.included,
    })
}

pub(super) fn formats() -> Vec<ExportFormat> {
    crate::campaigns::formats::Format::ALL
        .iter()
        .map(|f| ExportFormat {
            name: f.as_str().to_owned(),
            label: f.label().to_owned(),
            channels: f.channels().iter().map(|c| c.as_str().to_owned()).collect(),
            hashed: f.is_hashed(),
        })
        .collect()
}

fn export_view(
    conn: &Connection,
    r: crate::campaigns::export::ExportRecord,
    warnings: Vec<String>,
) -> CampaignExport {
    let campaign_name = crate::campaigns::get(conn, r.campaign_id)
        .ok()
        .flatten()
        .map(|c| c.name)
        .unwrap_or_else(|| format!("#{}", r.campaign_id));
    let segment_name = conn
        .query_row(
            "SELECT name FROM segments WHERE id = ?1",
            [r.segment_id],
            |row| row.get::<_, String>(0),
        )
        .unwrap_or_else(|_| format!("#{}", r.segment_id));
    CampaignExport {
        id: r.id,
        campaign_id: r.campaign_id,
        campaign_name,
        at: r.at,
        format: r.format,
        path: r.path,
        segment_id: r.segment_id,
        segment_name,
        segment_version: r.segment_version,
        members: r.members,
        held_out: r.held_out,
        suppressed: r.suppressed,
        suppressed_by_reason: reasons(&r.suppressed_by_reason),
        exported: r.exported,
        sha256: r.sha256,
        bytes: r.bytes,
        warnings,
    }
}

pub(super) fn exports(
    ws: &Workspace,
    campaign_id: Option<i64>,
) -> Result<Vec<CampaignExport>, ApiError> {
    let conn = ws.conn();
    Ok(crate::campaigns::export::exports(conn, campaign_id)?
        .into_iter()
        .map(|r| export_view(conn, r, Vec::new()))
        .collect())
}

/// Writes a campaign's export; `default_dir` when the request names no path.
pub(super) fn export(
    ws: &mut Workspace,
    live: &LiveCounts,
    req: &CampaignExportRequest,
    now: &str,
    progress: &mut dyn crate::progress::Progress,
) -> Result<CampaignExport, ApiError> {
    use crate::campaigns::export::ExportRequest;
    let format: crate::campaigns::formats::Format = req.format.parse()?;
    let content: Option<crate::templates::Content> = req
        .content
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(str::parse)
        .transpose()?;
    let c = find_campaign(ws.conn(), req.campaign_id)?;
    let path = match req.path.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let dir = ws
                .path()
                .parent()
                .map(|d| d.join("exports"))
                .unwrap_or_else(|| "exports".into());
            std::fs::create_dir_all(&dir)
                .map_err(|e| ApiError::new("io", format!("{}: {e}", dir.display())))?;
            let stamp: String = now
                .chars()
                .filter(|c| c.is_ascii_digit())
                .take(14)
                .collect();
            let safe: String = c
                .name
                .chars()
                .map(|ch| if ch.is_alphanumeric() { ch } else { '-' })
                .collect();
            let ext = match content {
                Some(crate::templates::Content::Eml) => "",
                Some(crate::templates::Content::EmlZip) => ".zip",
                _ => ".csv",
            };
            dir.join(format!("{safe}-{}-{stamp}{ext}", format.as_str()))
        }
    };
    let members = campaign_members(ws, live, &c, now)?;
    let s = segments::get(ws.conn(), c.segment_id)?;
    let (version, definition) = s
        .map(|s| (s.version, s.definition.map(|d| d.to_string())))
        .unwrap_or((None, None));
    let request = ExportRequest {
        format,
        columns: req.columns.clone(),
        bom: req.bom,
        path,
        pseudonymise: req.pseudonymise,
    };
    let started = std::time::Instant::now();
    let summary = crate::templates::export_campaign(
        ws.conn_mut(),
        &c,
        &members,
        &request,
        content,
        req.from.as_deref(),
        version,
        definition,
        now,
        &mut |done, total| {
            progress.tick(&crate::progress::Tick {
                stage: "Writing the export",
                done,
                total: Some(total),
                bytes: 0,
                total_bytes: None,
                elapsed: started.elapsed(),
            })
        },
    )?;
    let record = crate::campaigns::export::exports(ws.conn(), Some(c.id))?
        .into_iter()
        .find(|r| r.id == summary.export_id)
        .ok_or_else(|| ApiError::new("internal", "the export was not logged"))?;
    Ok(export_view(ws.conn(), record, summary.warnings))
}

/// The bytes of a logged export for the browser to save; refused over
/// 64 MB (the desktop app and the CLI read the file where it is).
pub(super) fn export_file(ws: &Workspace, id: i64) -> Result<ExportFile, ApiError> {
    use base64::Engine as _;
    let record = crate::campaigns::export::exports(ws.conn(), None)?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::new("not_found", format!("There is no export {id}.")))?;
    let path = std::path::Path::new(&record.path);
    let size = std::fs::metadata(path)
        .map_err(|e| ApiError::new("not_found", format!("{}: {e}", record.path)))?
        .len();
    if size > 64 << 20 {
        return Err(ApiError::new(
            "too_large",
            format!(
                "The file is {} MB; open it from {}.",
                size >> 20,
                record.path
            ),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| ApiError::new("io", format!("{}: {e}", record.path)))?;
    Ok(ExportFile {
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export.csv".into()),
        mime: "text/csv".into(),
        base64: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}
