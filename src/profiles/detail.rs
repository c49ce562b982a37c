//! Everything behind one profile: its values and where they came from, its
//! records, identities, the links that joined them, and its timeline.

use std::collections::BTreeMap;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::survivorship::{field, FIELDS};
use super::{Context, ProfileError};
use crate::ingest::standardise::minor_unit_exponent;

/// A source record as people read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordView {
    /// `identity_records.id`.
    pub record_id: i64,
    pub profile_id: Option<i64>,
    /// `contact`, `order` or `device`.
    pub kind: String,
    /// The source's name ("Shopify customers").
    pub source: String,
    /// The record's key in its source; a device's anonymous id.
    pub source_key: String,
    /// One line: name · email · phone · city.
    pub summary: String,
    /// The row's clean values (column, text) in column order; empty for
    /// devices. Money is written in major units ("12.50").
    pub fields: Vec<(String, String)>,
}

/// A profile value with the record it was taken from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChosenValue {
    pub field: String,
    pub value: String,
    /// `identity_records.id` of the record that gave the value.
    pub record_id: i64,
    /// Its source's name, kind and key; empty if the record has left the
    /// profile since the last rebuild.
    pub source: String,
    pub kind: String,
    pub source_key: String,
}

/// An identifier the profile's records carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    /// email, phone, customer_id, loyalty_id or device_id.
    pub kind: String,
    pub value: String,
    /// How many of the profile's records carry it.
    pub records: u64,
}

/// Why two of the profile's records are together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Link {
    pub record_a: i64,
    pub record_b: i64,
    /// email, phone, customer_id, loyalty_id, device_id, match or accepted.
    pub reason: String,
    /// The shared identifier, or the match probability.
    pub detail: Option<String>,
    /// Match weight in bits, for probabilistic links.
    pub weight: Option<f64>,
}

/// An order or an event in the profile's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// ISO 8601.
    pub at: String,
    /// `order`, or the event's name (`page_view`, `add_to_cart`, ...).
    pub kind: String,
    /// "Order 1001", "page view".
    pub title: String,
    /// "59.90 EUR · 3 items", or the event's product, value and device.
    pub detail: Option<String>,
    pub source: String,
    /// The order's number in its source (orders only).
    pub order_number: Option<String>,
    /// The order total, or the event value, in minor units of `currency`.
    pub total: Option<i64>,
    pub currency: Option<String>,
    /// Items ordered (sum of line quantities), when the order's lines were
    /// imported.
    pub items: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileDetail {
    pub id: i64,
    /// The chosen first and last name.
    pub name: Option<String>,
    /// Chosen values in field order; fields without a value are left out.
    pub values: Vec<ChosenValue>,
    pub records: Vec<RecordView>,
    pub identities: Vec<Identity>,
    pub links: Vec<Link>,
    /// Newest first, at most the requested number of entries.
    pub timeline: Vec<TimelineEntry>,
    /// All orders and events of the profile, not only those in `timeline`.
    pub orders: u64,
    pub events: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Consent per channel (email, SMS, ads) as the consent ledger decides
    /// it; the records' own consent columns in `records` are what each
    /// source said, not the answer.
    pub consent: Vec<crate::privacy::consent::ConsentState>,
}

/// Everything about profile `id`, or `None` if there is no such profile.
/// The timeline holds the newest `timeline_limit` orders and events.
pub fn detail(
    conn: &Connection,
    id: i64,
    timeline_limit: u32,
) -> Result<Option<ProfileDetail>, ProfileError> {
    let Some(profile) = read_profile(conn, id)? else {
        return Ok(None);
    };
    let records = records(conn, id)?;
    let values = FIELDS
        .iter()
        .zip(profile.values)
        .filter_map(|(f, v)| {
            let value = v?;
            let record_id = profile.origins.get(*f).copied().unwrap_or_default();
            let origin = records.iter().find(|r| r.record_id == record_id);
            Some(ChosenValue {
                field: f.to_string(),
                value,
                record_id,
                source: origin.map(|r| r.source.clone()).unwrap_or_default(),
                kind: origin.map(|r| r.kind.clone()).unwrap_or_default(),
                source_key: origin.map(|r| r.source_key.clone()).unwrap_or_default(),
            })
        })
        .collect::<Vec<_>>();
    let chosen = |f: usize| {
        values
            .iter()
            .find(|v| v.field == FIELDS[f])
            .map(|v| v.value.as_str())
    };
    let name = super::full_name(chosen(field::FIRST_NAME), chosen(field::LAST_NAME));
    let (timeline, orders, events) = timeline(conn, id, timeline_limit)?;
    Ok(Some(ProfileDetail {
        id,
        name,
        identities: identities(conn, id)?,
        links: links(conn, id)?,
        values,
        records,
        timeline,
        orders,
        events,
        first_seen: profile.first_seen,
        last_seen: profile.last_seen,
        created_at: profile.created_at,
        updated_at: profile.updated_at,
        consent: crate::privacy::consent::effective(conn, id)?.to_vec(),
    }))
}

/// One record as people read it, or `None` if there is no such record.
pub fn record_view(conn: &Connection, record_id: i64) -> rusqlite::Result<Option<RecordView>> {
    let head = conn
        .query_row(
            "SELECT r.id, r.profile_id, r.kind, s.name, r.source_key, r.row_id
             FROM identity_records r JOIN sources s ON s.id = r.source_id WHERE r.id = ?1",
            [record_id],
            Head::read,
        )
        .optional()?;
    head.map(|h| h.view(conn)).transpose()
}

/// The columns of a record shown as its clean values. Names come from
/// these fixed lists, never from input.
const CONTACT_COLUMNS: &[&str] = &[
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "company",
    "job_title",
    "address1",
    "address2",
    "city",
    "region",
    "postcode",
    "country",
    "consent_email",
    "consent_sms",
    "consent_ads",
    "created_at",
    "updated_at",
];
const ORDER_COLUMNS: &[&str] = &[
    "customer_key",
    "billing_name",
    "email",
    "phone",
    "ordered_at",
    "currency",
    "subtotal",
    "shipping",
    "tax",
    "discount",
    "total",
    "refunded",
    "financial_status",
    "fulfillment_status",
    "discount_code",
    "cancelled_at",
    "billing_city",
    "billing_postcode",
    "billing_country",
    "shipping_city",
    "shipping_postcode",
    "shipping_country",
];
const MONEY_COLUMNS: &[&str] = &[
    "subtotal", "shipping", "tax", "discount", "total", "refunded",
];

/// An identity record before its row is read.
struct Head {
    record_id: i64,
    profile_id: Option<i64>,
    kind: String,
    source: String,
    source_key: String,
    row_id: Option<i64>,
}

impl Head {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Head> {
        Ok(Head {
            record_id: r.get(0)?,
            profile_id: r.get(1)?,
            kind: r.get(2)?,
            source: r.get(3)?,
            source_key: r.get(4)?,
            row_id: r.get(5)?,
        })
    }

    fn view(self, conn: &Connection) -> rusqlite::Result<RecordView> {
        let (table, columns) = match self.kind.as_str() {
            "contact" => ("contacts", CONTACT_COLUMNS),
            "order" => ("orders", ORDER_COLUMNS),
            _ => ("", &[][..]),
        };
        let mut fields = Vec::new();
        if let (Some(row), false) = (self.row_id, table.is_empty()) {
            let mut st = conn.prepare_cached(&format!(
                "SELECT {} FROM {table} WHERE id = ?1",
                columns.join(", ")
            ))?;
            st.query_row([row], |r| {
                for (i, column) in columns.iter().enumerate() {
                    let text = match r.get_ref(i)? {
                        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        ValueRef::Integer(n) => n.to_string(),
                        ValueRef::Real(x) => x.to_string(),
                        _ => continue,
                    };
                    if !text.trim().is_empty() {
                        fields.push((column.to_string(), text));
                    }
                }
                Ok(())
            })
            .optional()?;
        }
        // Amounts are stored in minor units of the order's currency.
        let currency = get(&fields, "currency").map(str::to_string);
        for (column, text) in &mut fields {
            if MONEY_COLUMNS.contains(&column.as_str()) {
                if let Ok(minor) = text.parse::<i64>() {
                    *text = amount(minor, currency.as_deref());
                }
            }
        }
        let summary = match self.kind.as_str() {
            "device" => format!("Device {}", self.source_key),
            _ => {
                let name = super::full_name(get(&fields, "first_name"), get(&fields, "last_name"))
                    .or_else(|| get(&fields, "full_name").map(str::to_string))
                    .or_else(|| get(&fields, "billing_name").map(str::to_string));
                let city = get(&fields, "city").or_else(|| get(&fields, "billing_city"));
                [
                    name.as_deref(),
                    get(&fields, "email"),
                    get(&fields, "phone"),
                    city,
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ")
            }
        };
        Ok(RecordView {
            record_id: self.record_id,
            profile_id: self.profile_id,
            kind: self.kind,
            source: self.source,
            source_key: self.source_key,
            summary,
            fields,
        })
    }
}

fn get<'a>(fields: &'a [(String, String)], column: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(c, _)| c == column)
        .map(|(_, v)| v.as_str())
}

/// Minor units → "12.50" (or "1200" for JPY), by the currency's exponent.
fn amount(minor: i64, currency: Option<&str>) -> String {
    let exponent = currency.map_or(2, minor_unit_exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    match 10u64.checked_pow(exponent) {
        Some(unit) if exponent > 0 => format!(
            "{sign}{}.{:0width$}",
            abs / unit,
            abs % unit,
            width = exponent as usize
        ),
        _ => format!("{sign}{abs}"),
    }
}

/// "59.90 EUR".
fn money(minor: i64, currency: Option<&str>) -> String {
    match currency {
        Some(c) => format!("{} {c}", amount(minor, Some(c))),
        None => amount(minor, None),
    }
}

struct StoredProfile {
    values: Vec<Option<String>>,
    origins: BTreeMap<String, i64>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    created_at: String,
    updated_at: String,
}

fn read_profile(conn: &Connection, id: i64) -> Result<Option<StoredProfile>, ProfileError> {
    let n = FIELDS.len();
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {}, origins, first_seen, last_seen, created_at, updated_at
             FROM profiles WHERE id = ?1",
            FIELDS.join(", ")
        ))
        .context("read a profile")?;
    st.query_row([id], |r| {
        let origins: String = r.get(n)?;
        Ok(StoredProfile {
            values: (0..n).map(|i| r.get(i)).collect::<rusqlite::Result<_>>()?,
            // Written by rebuild; an unreadable one only loses the origins.
            origins: serde_json::from_str(&origins).unwrap_or_default(),
            first_seen: r.get(n + 1)?,
            last_seen: r.get(n + 2)?,
            created_at: r.get(n + 3)?,
            updated_at: r.get(n + 4)?,
        })
    })
    .optional()
    .context("read a profile")
}

fn records(conn: &Connection, id: i64) -> Result<Vec<RecordView>, ProfileError> {
    let heads = conn
        .prepare_cached(
            "SELECT r.id, r.profile_id, r.kind, s.name, r.source_key, r.row_id
             FROM identity_records r JOIN sources s ON s.id = r.source_id
             WHERE r.profile_id = ?1 ORDER BY r.id",
        )
        .and_then(|mut st| {
            st.query_map([id], Head::read)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("read the records of a profile")?;
    heads
        .into_iter()
        .map(|h| h.view(conn))
        .collect::<rusqlite::Result<_>>()
        .context("read the records of a profile")
}

fn identities(conn: &Connection, id: i64) -> Result<Vec<Identity>, ProfileError> {
    let mut st = conn
        .prepare_cached(
            "SELECT i.kind, i.value, count(DISTINCT i.record_id)
             FROM identity_records r JOIN identifiers i ON i.record_id = r.id
             WHERE r.profile_id = ?1
             GROUP BY i.kind, i.value ORDER BY i.kind, 3 DESC, i.value",
        )
        .context("read the identities of a profile")?;
    st.query_map([id], |r| {
        Ok(Identity {
            kind: r.get(0)?,
            value: r.get(1)?,
            records: r.get::<_, i64>(2)?.max(0) as u64,
        })
    })
    .and_then(|rows| rows.collect())
    .context("read the identities of a profile")
}

fn links(conn: &Connection, id: i64) -> Result<Vec<Link>, ProfileError> {
    // Both ends in the profile: a link left over from before a split
    // explains nothing about this person.
    let mut st = conn
        .prepare_cached(
            "SELECT l.record_a, l.record_b, l.reason, l.detail, l.weight
             FROM identity_records a
             JOIN profile_links l ON l.record_a = a.id
             JOIN identity_records b ON b.id = l.record_b
             WHERE a.profile_id = ?1 AND b.profile_id = ?1
             ORDER BY l.id",
        )
        .context("read the links of a profile")?;
    st.query_map([id], |r| {
        Ok(Link {
            record_a: r.get(0)?,
            record_b: r.get(1)?,
            reason: r.get(2)?,
            detail: r.get(3)?,
            weight: r.get(4)?,
        })
    })
    .and_then(|rows| rows.collect())
    .context("read the links of a profile")
}

/// The events of a profile: those of its devices (same source, anonymous
/// id = the device record's key) and those logged in with one of its
/// contacts' customer ids. Served by `events_by_device` and
/// `events_by_customer`.
const LINKED_EVENTS: &str = "WITH linked (id) AS (
        SELECT e.id FROM identity_records r
          JOIN events e ON e.anonymous_id = r.source_key AND e.source_id = r.source_id
         WHERE r.profile_id = ?1 AND r.kind = 'device'
        UNION
        SELECT e.id FROM identity_records r
          JOIN events e ON e.customer_key = r.source_key
         WHERE r.profile_id = ?1 AND r.kind = 'contact')";

/// The newest `limit` orders and events, with the total count of each.
fn timeline(
    conn: &Connection,
    id: i64,
    limit: u32,
) -> Result<(Vec<TimelineEntry>, u64, u64), ProfileError> {
    const WHAT: &str = "read the timeline of a profile";
    let orders: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM identity_records WHERE profile_id = ?1 AND kind = 'order'",
        )
        .and_then(|mut st| st.query_row([id], |r| r.get(0)))
        .context(WHAT)?;
    let events: i64 = conn
        .prepare_cached(&format!("{LINKED_EVENTS} SELECT count(*) FROM linked"))
        .and_then(|mut st| st.query_row([id], |r| r.get(0)))
        .context(WHAT)?;

    let mut entries = Vec::new();
    // Lines are keyed "{order_key}/{line_number}" in the order's source, so
    // an order's lines are a range of the (source_id, source_key) index.
    let mut st = conn
        .prepare_cached(
            "SELECT o.ordered_at, o.source_key, o.total, o.currency, s.name,
                    (SELECT sum(coalesce(l.quantity, 1)) FROM order_lines l
                      WHERE l.source_id = o.source_id
                        AND l.source_key >= o.source_key || '/' AND l.source_key < o.source_key || '0'
                        AND l.order_key = o.source_key)
             FROM identity_records r
             JOIN orders o ON o.id = r.row_id
             JOIN sources s ON s.id = o.source_id
             WHERE r.profile_id = ?1 AND r.kind = 'order' AND o.ordered_at IS NOT NULL
             ORDER BY o.ordered_at DESC, o.id DESC LIMIT ?2",
        )
        .context(WHAT)?;
    let rows = st
        .query_map(params![id, limit], |r| {
            let number: String = r.get(1)?;
            let total: Option<i64> = r.get(2)?;
            let currency: Option<String> = r.get(3)?;
            let items: Option<i64> = r.get(5)?;
            let detail = [
                total.map(|t| money(t, currency.as_deref())),
                items.map(|n| format!("{n} item{}", if n == 1 { "" } else { "s" })),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
            Ok(TimelineEntry {
                at: r.get(0)?,
                kind: "order".into(),
                title: format!("Order {number}"),
                detail: (!detail.is_empty()).then(|| detail.join(" · ")),
                source: r.get(4)?,
                order_number: Some(number),
                total,
                currency,
                items,
            })
        })
        .context(WHAT)?;
    for row in rows {
        entries.push(row.context(WHAT)?);
    }

    let mut st = conn
        .prepare_cached(&format!(
            "{LINKED_EVENTS}
             SELECT e.occurred_at, e.name, e.sku, e.value, e.currency, e.device, s.name
             FROM linked JOIN events e ON e.id = linked.id JOIN sources s ON s.id = e.source_id
             ORDER BY e.occurred_at DESC, e.id DESC LIMIT ?2"
        ))
        .context(WHAT)?;
    let rows = st
        .query_map(params![id, limit], |r| {
            let name: String = r.get(1)?;
            let sku: Option<String> = r.get(2)?;
            let value: Option<i64> = r.get(3)?;
            let currency: Option<String> = r.get(4)?;
            let device: Option<String> = r.get(5)?;
            let detail = [sku, value.map(|v| money(v, currency.as_deref())), device]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            Ok(TimelineEntry {
                at: r.get(0)?,
                title: name.replace('_', " "),
                kind: name,
                detail: (!detail.is_empty()).then(|| detail.join(" · ")),
                source: r.get(6)?,
                order_number: None,
                total: value,
                currency,
                items: None,
            })
        })
        .context(WHAT)?;
    for row in rows {
        entries.push(row.context(WHAT)?);
    }
    // Each list is newest first; merge and keep the newest overall.
    entries.sort_by(|a, b| b.at.cmp(&a.at));
    entries.truncate(limit as usize);
    Ok((entries, orders.max(0) as u64, events.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_the_currency_exponent() {
        assert_eq!(money(5990, Some("EUR")), "59.90 EUR");
        assert_eq!(money(1200, Some("JPY")), "1200 JPY");
        assert_eq!(money(-5, None), "-0.05");
        assert_eq!(money(12345, Some("KWD")), "12.345 KWD");
    }
}
