//! Everything behind one profile: its values and where they came from, its
//! records, identities, links and timeline.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::survivorship::FIELDS;
use super::ProfileError;

/// A source record as people read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordView {
    pub record_id: i64,
    pub profile_id: Option<i64>,
    pub kind: String,
    pub source: String,
    pub source_key: String,
    pub summary: String,
    pub fields: Vec<(String, String)>,
}

const CONTACT_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "birth_date",
    "company",
    "address1",
    "city",
    "region",
    "postcode",
    "country",
    "created_at",
    "updated_at",
];
const ORDER_FIELDS: &[&str] = &[
    "billing_name",
    "email",
    "phone",
    "ordered_at",
    "total",
    "currency",
    "billing_city",
    "billing_postcode",
    "billing_country",
];

pub fn record_view(conn: &Connection, record_id: i64) -> rusqlite::Result<Option<RecordView>> {
    type Head = (String, i64, String, Option<i64>, Option<i64>, String);
    let head: Option<Head> = conn
        .query_row(
            "SELECT r.kind, r.source_id, r.source_key, r.row_id, r.profile_id, s.name FROM identity_records r JOIN sources s ON s.id = r.source_id WHERE r.id = ?1",
            [record_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    let Some((kind, _source_id, key, row_id, profile, source)) = head else {
        return Ok(None);
    };
    let (table, cols) = match kind.as_str() {
        "contact" => ("contacts", CONTACT_FIELDS),
        "order" => ("orders", ORDER_FIELDS),
        _ => ("", &[][..]),
    };
    let mut fields = Vec::new();
    if let (Some(row), false) = (row_id, table.is_empty()) {
        // Column names come from the fixed lists above, never from input.
        let sql = format!("SELECT {} FROM {table} WHERE id = ?1", cols.join(", "));
        conn.query_row(&sql, [row], |r| {
            for (i, c) in cols.iter().enumerate() {
                let v: rusqlite::types::Value = r.get(i)?;
                let s = match v {
                    rusqlite::types::Value::Text(t) => t,
                    rusqlite::types::Value::Integer(n) if *c == "total" => {
                        format!("{}.{:02}", n / 100, (n % 100).abs())
                    }
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    rusqlite::types::Value::Real(x) => x.to_string(),
                    _ => continue,
                };
                if !s.is_empty() {
                    fields.push((c.to_string(), s));
                }
            }
            Ok(())
        })
        .optional()?;
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let name = match (
        get("first_name"),
        get("last_name"),
        get("full_name"),
        get("billing_name"),
    ) {
        (Some(f), Some(l), _, _) => format!("{f} {l}"),
        (Some(f), None, _, _) => f.to_string(),
        (None, Some(l), _, _) => l.to_string(),
        (_, _, Some(n), _) | (_, _, _, Some(n)) => n.to_string(),
        _ => String::new(),
    };
    let summary = match kind.as_str() {
        "device" => format!("Device {key}"),
        _ => [Some(name.as_str()), get("email"), get("phone"), get("city")]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · "),
    };
    Ok(Some(RecordView {
        record_id,
        profile_id: profile,
        kind,
        source,
        source_key: key,
        summary,
        fields,
    }))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Value {
    pub field: String,
    pub value: String,
    pub record_id: i64,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub kind: String,
    pub value: String,
    pub records: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Link {
    pub record_a: i64,
    pub record_b: i64,
    pub reason: String,
    pub detail: Option<String>,
    pub weight: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: String,
    /// `order` or the event's name.
    pub kind: String,
    pub title: String,
    pub detail: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileDetail {
    pub id: i64,
    pub name: Option<String>,
    pub values: Vec<Value>,
    pub records: Vec<RecordView>,
    pub identities: Vec<Identity>,
    pub links: Vec<Link>,
    pub timeline: Vec<TimelineEntry>,
    pub orders: u64,
    pub events: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

fn money(minor: Option<i64>, currency: Option<&str>) -> Option<String> {
    let m = minor?;
    Some(
        format!(
            "{}{}.{:02} {}",
            if m < 0 { "-" } else { "" },
            m.abs() / 100,
            m.abs() % 100,
            currency.unwrap_or("")
        )
        .trim()
        .to_string(),
    )
}

/// Everything about profile `id`; `None` if there is no such profile. The
/// timeline holds the newest `timeline_limit` orders and events.
pub fn detail(
    conn: &Connection,
    id: i64,
    timeline_limit: u32,
) -> Result<Option<ProfileDetail>, ProfileError> {
    type Row = (Vec<Option<String>>, String, Option<String>, Option<String>);
    let row: Option<Row> = conn
        .query_row(
            &format!(
                "SELECT {}, origins, first_seen, last_seen FROM profiles WHERE id = ?1",
                FIELDS.join(", ")
            ),
            [id],
            |r| {
                let mut v = Vec::new();
                for i in 0..FIELDS.len() {
                    v.push(r.get(i)?);
                }
                Ok((
                    v,
                    r.get(FIELDS.len())?,
                    r.get(FIELDS.len() + 1)?,
                    r.get(FIELDS.len() + 2)?,
                ))
            },
        )
        .optional()?;
    let Some((values, origins, first_seen, last_seen)) = row else {
        return Ok(None);
    };
    let origins: std::collections::BTreeMap<String, i64> =
        serde_json::from_str(&origins).unwrap_or_default();
    let record_ids: Vec<i64> = {
        let mut st = conn
            .prepare_cached("SELECT id FROM identity_records WHERE profile_id = ?1 ORDER BY id")?;
        let rows = st.query_map([id], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut records = Vec::new();
    for r in &record_ids {
        if let Some(v) = record_view(conn, *r)? {
            records.push(v);
        }
    }
    let source_of = |record: i64| {
        records
            .iter()
            .find(|r| r.record_id == record)
            .map(|r| r.source.clone())
            .unwrap_or_default()
    };
    let mut out_values = Vec::new();
    for (f, v) in FIELDS.iter().zip(&values) {
        if let Some(v) = v {
            let record_id = origins.get(*f).copied().unwrap_or_default();
            out_values.push(Value {
                field: f.to_string(),
                value: v.clone(),
                record_id,
                source: source_of(record_id),
            });
        }
    }
    let name = match (&values[0], &values[1]) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (f, l) => f.clone().or(l.clone()),
    };
    let identities = {
        let mut st = conn.prepare_cached(
            "SELECT i.kind, i.value, count(*) FROM identity_records r JOIN identifiers i ON i.record_id = r.id
             WHERE r.profile_id = ?1 GROUP BY i.kind, i.value ORDER BY i.kind, count(*) DESC, i.value",
        )?;
        let rows = st.query_map([id], |r| {
            Ok(Identity {
                kind: r.get(0)?,
                value: r.get(1)?,
                records: r.get::<_, i64>(2)? as u64,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let links = {
        let mut st = conn.prepare_cached(
            "SELECT l.record_a, l.record_b, l.reason, l.detail, l.weight FROM identity_records r
             JOIN profile_links l ON l.record_a = r.id WHERE r.profile_id = ?1 ORDER BY l.id",
        )?;
        let rows = st.query_map([id], |r| {
            Ok(Link {
                record_a: r.get(0)?,
                record_b: r.get(1)?,
                reason: r.get(2)?,
                detail: r.get(3)?,
                weight: r.get(4)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let mut timeline = Vec::new();
    let orders: u64 = conn.query_row(
        "SELECT count(*) FROM identity_records WHERE profile_id = ?1 AND kind = 'order'",
        [id],
        |r| r.get(0),
    )?;
    {
        let mut st = conn.prepare_cached(
            "SELECT o.ordered_at, o.source_key, o.total, o.currency, s.name,
                    (SELECT count(*) FROM order_lines l WHERE l.source_id = o.source_id
                       AND l.source_key >= o.source_key || '/' AND l.source_key < o.source_key || '0')
             FROM identity_records r JOIN orders o ON o.id = r.row_id JOIN sources s ON s.id = o.source_id
             WHERE r.profile_id = ?1 AND r.kind = 'order' AND o.ordered_at IS NOT NULL
             ORDER BY o.ordered_at DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![id, timeline_limit], |r| {
            let total: Option<i64> = r.get(2)?;
            let currency: Option<String> = r.get(3)?;
            let lines: i64 = r.get(5)?;
            Ok(TimelineEntry {
                at: r.get(0)?,
                kind: "order".into(),
                title: format!("Order {}", r.get::<_, String>(1)?),
                detail: Some(format!(
                    "{}{} item line{}",
                    money(total, currency.as_deref())
                        .map(|m| format!("{m} · "))
                        .unwrap_or_default(),
                    lines,
                    if lines == 1 { "" } else { "s" }
                )),
                source: r.get(4)?,
            })
        })?;
        for row in rows {
            timeline.push(row?);
        }
    }
    let events: u64 = conn.query_row(
        "SELECT count(*) FROM identity_records r JOIN events e ON e.anonymous_id = r.source_key AND e.source_id = r.source_id
         WHERE r.profile_id = ?1 AND r.kind = 'device'",
        [id],
        |r| r.get(0),
    )?;
    {
        let mut st = conn.prepare_cached(
            "SELECT e.occurred_at, e.name, e.sku, e.value, e.currency, e.device, s.name
             FROM identity_records r JOIN events e ON e.anonymous_id = r.source_key AND e.source_id = r.source_id
             JOIN sources s ON s.id = e.source_id
             WHERE r.profile_id = ?1 AND r.kind = 'device'
             ORDER BY e.occurred_at DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![id, timeline_limit], |r| {
            let name: String = r.get(1)?;
            let sku: Option<String> = r.get(2)?;
            let value: Option<i64> = r.get(3)?;
            let currency: Option<String> = r.get(4)?;
            let device: Option<String> = r.get(5)?;
            let detail: Vec<String> = [sku, money(value, currency.as_deref()), device]
                .into_iter()
                .flatten()
                .collect();
            Ok(TimelineEntry {
                at: r.get(0)?,
                title: name.replace('_', " "),
                kind: name,
                detail: (!detail.is_empty()).then(|| detail.join(" · ")),
                source: r.get(6)?,
            })
        })?;
        for row in rows {
            timeline.push(row?);
        }
    }
    timeline.sort_by(|a, b| b.at.cmp(&a.at));
    timeline.truncate(timeline_limit as usize);
    Ok(Some(ProfileDetail {
        id,
        name,
        values: out_values,
        records,
        identities,
        links,
        timeline,
        orders,
        events,
        first_seen,
        last_seen,
    }))
}
