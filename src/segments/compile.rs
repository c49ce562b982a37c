//! A segment definition compiled to one parameterised SQL expression: the
//! reference answer that exports use and the in-memory index is checked
//! against.
//!
//! [`compile`] gives a boolean expression over
//! `profiles p LEFT JOIN profile_traits t ON t.profile_id = p.id` ([`FROM`])
//! that is never NULL (so `NOT` works), with every value bound as a `?`
//! parameter in order; only column names from the catalogue and fixed SQL
//! are ever written into the text.
//!
//! Semantics, beyond the ones documented in [`super::rules`]:
//! - Text values may be JSON strings or numbers (a postcode typed as a
//!   number); `in`/`not_in` need a non-empty list; `between` needs two
//!   values, the first not above the second; `contains`/`starts_with` use
//!   `instr` (no wildcards, so `%` and `_` are literal).
//! - `is_empty` on text is NULL or `''`; on numbers and dates it is NULL;
//!   for counts that are 0 when missing it is never true.
//! - Dates: a date-only value (`2024-05-01`) compares with the date part
//!   of the column (so "on or before 2024-05-01" includes that whole
//!   day); a timestamp value compares with the column's ISO text (and with
//!   the date part for `birth_date`, which is a date). Day windows compare
//!   the column's date part with the window's first day (see
//!   [`window_start`]); windows have no upper end (future-dated rows are
//!   inside "the last N days").
//! - Events belong to a profile exactly as the traits scan decides
//!   (`traits::scan`): through the contact records whose `source_key` is
//!   the event's `customer_key` (any source) when they all belong to one
//!   profile, else through the device record of the event's source and
//!   `anonymous_id`, else to nobody ([`EVENT_PROFILE`]).
//! - Event names match exactly (as imported). Event `category`/`brand`
//!   come from the product with the event's SKU (the highest `products.id`
//!   when several share it, as in the traits scan); `value` is money in the workspace currency.
//! - Orders are those of the profile's order records. As in traits, an
//!   order is cancelled (never counted) when `cancelled_at` is set or its
//!   financial status is `voided`/`cancelled`, and an order without a time
//!   is left out. Its money is `total − max(refunded, 0)`; an order in
//!   another currency than the workspace's counts as an order but adds 0
//!   to a total (traits leave it out of revenue the same way). With `sku`
//!   and/or `category`, only orders having one line with that SKU and/or
//!   category (ASCII case-insensitive) count, and totals are those orders'
//!   whole totals. `did: false` means "no such order in the window"
//!   whatever the metric.
//! - Counts: "at most N" and "exactly 0" include profiles with none; a
//!   total whose comparison holds for 0 (e.g. "less than 50") includes
//!   profiles with no orders.
//! - Sequences: a `then` event (another event than the `first` one) of
//!   the same profile whose time, in whole seconds, is from the `first`
//!   event's to `within_hours` later, both ends included.
//! - A dynamic segment used in a condition is evaluated (its definition
//!   inlined); a static one uses its stored members.
//! - A cluster is one of the latest clustering run (`max(cluster_runs.id)`).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::fields::{self, FieldType};
use super::rules::{
    ClusterCondition, Condition, ConsentCondition, Count, CountOp, Definition, EventCondition,
    FieldCondition, Group, Match, Op, OrderCondition, OrderMetric, SegmentCondition,
    SequenceCondition,
};

/// The rows a compiled expression is evaluated over.
pub const FROM: &str = "profiles p LEFT JOIN profile_traits t ON t.profile_id = p.id";

/// The profile an event (alias `e`) belongs to, or NULL; the same rule as
/// the traits scan: a customer key shared by contacts of several profiles
/// says nothing, then the device record of the event's source decides.
pub const EVENT_PROFILE: &str = "coalesce(
      (SELECT CASE WHEN min(c.profile_id) = max(c.profile_id) THEN min(c.profile_id) END
         FROM identity_records c
        WHERE c.kind = 'contact' AND c.source_key = e.customer_key
          AND e.customer_key <> '' AND c.profile_id IS NOT NULL),
      (SELECT d.profile_id FROM identity_records d
        WHERE d.kind = 'device' AND d.source_id = e.source_id
          AND d.source_key = e.anonymous_id))";

/// A product attribute of an event's SKU (alias `e`): the row with the
/// highest id when several share the SKU, as in the traits scan.
fn product_of(sku: &str, column: &str) -> String {
    format!(
        "(SELECT pr.{column} FROM products pr WHERE pr.sku = {sku} ORDER BY pr.id DESC LIMIT 1)"
    )
}

/// Orders that count (alias `o`): not cancelled, with a time.
const LIVE_ORDER: &str = "o.ordered_at IS NOT NULL AND coalesce(o.cancelled_at, '') = ''
        AND lower(coalesce(o.financial_status, '')) NOT IN ('voided', 'cancelled')";

/// A definition that cannot be compiled, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct InvalidDefinition {
    /// Indexes (from 0) of the offending condition, group by group from the
    /// root: `[1, 0]` is the first condition of the group that is the
    /// root's second condition. Empty: the definition as a whole.
    pub path: Vec<usize>,
    /// Names the condition as people count ("condition 2 › 1 (…)", from 1)
    /// and says what is wrong.
    pub message: String,
}

impl InvalidDefinition {
    fn whole(message: impl Into<String>) -> Self {
        InvalidDefinition {
            path: Vec::new(),
            message: message.into(),
        }
    }
}

/// A compiled definition: `where_sql` over [`FROM`], and its parameters in
/// order (plain `?` placeholders).
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub where_sql: String,
    pub params: Vec<Value>,
}

/// SQL text and its parameters, built left to right.
#[derive(Debug, Default)]
struct Sql {
    text: String,
    params: Vec<Value>,
}

impl Sql {
    fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }
    fn s(mut self, text: &str) -> Sql {
        self.text.push_str(text);
        self
    }
    fn p(mut self, value: impl Into<Value>) -> Sql {
        self.text.push('?');
        self.params.push(value.into());
        self
    }
    fn a(mut self, other: Sql) -> Sql {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
        self
    }
}

/// The first moment of "the last `days` days" before `now`: 00:00 UTC of
/// the day `days − 1` days before `now`'s UTC date (`days = 1` is today),
/// as `YYYY-MM-DDT00:00:00Z`. An unreadable `now` counts as 1970-01-01.
pub fn window_start(now: &str, days: u32) -> String {
    let today = parse_now(now).map_or(NaiveDate::default(), |t| t.date_naive());
    let back = i64::from(days) - 1;
    let day = today
        .checked_sub_signed(Duration::days(back))
        .unwrap_or(NaiveDate::MIN);
    format!("{}T00:00:00Z", day.format("%Y-%m-%d"))
}

fn parse_now(now: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(now)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            NaiveDate::parse_from_str(now.get(..10)?, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

/// The workspace currency (settings), e.g. `EUR`.
pub fn workspace_currency(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row(
        "SELECT coalesce((SELECT value FROM settings WHERE key = ?1), ?2)",
        crate::store::setting::DEFAULT_CURRENCY,
        |r| r.get(0),
    )
}

/// Minor units per major unit of `currency` (100 for EUR, 1 for JPY).
pub fn scale_of(currency: &str) -> i64 {
    10i64.pow(crate::ingest::standardise::minor_unit_exponent(currency))
}

/// Compiles `def`; `now` is ISO 8601 UTC, `currency_scale` minor units per
/// major unit of the workspace currency (money in rules is major units).
pub fn compile(
    conn: &Connection,
    def: &Definition,
    now: &str,
    currency_scale: i64,
) -> Result<Compiled, InvalidDefinition> {
    compile_as(conn, def, now, currency_scale, None)
}

/// [`compile`] for the definition of segment `segment` (when it is saved
/// or evaluated), so that a reference back to it is refused as a cycle.
pub fn compile_as(
    conn: &Connection,
    def: &Definition,
    now: &str,
    currency_scale: i64,
    segment: Option<i64>,
) -> Result<Compiled, InvalidDefinition> {
    if parse_now(now).is_none() {
        return Err(InvalidDefinition::whole(format!(
            "“{now}” is not an ISO 8601 time"
        )));
    }
    if currency_scale <= 0 {
        return Err(InvalidDefinition::whole(
            "the currency scale must be positive",
        ));
    }
    let currency = workspace_currency(conn)
        .map_err(|e| InvalidDefinition::whole(format!("could not read the currency: {e}")))?;
    let mut stack = Vec::new();
    if let Some(id) = segment {
        let name = segment_row(conn, id)
            .ok()
            .flatten()
            .map_or_else(|| format!("#{id}"), |s| s.name);
        stack.push((id, name));
    }
    let mut c = Compiler {
        conn,
        now: now.to_owned(),
        scale: currency_scale,
        currency,
        stack,
        cycle: None,
    };
    let sql = c.group(&def.root, &mut Vec::new())?;
    Ok(Compiled {
        where_sql: sql.text,
        params: sql.params,
    })
}

fn run_query<T>(
    conn: &Connection,
    sql: &str,
    params: &[Value],
    mut row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| row(r))?;
    rows.collect()
}

/// How many profiles match.
pub fn count(conn: &Connection, c: &Compiled) -> rusqlite::Result<u64> {
    conn.query_row(
        &format!("SELECT count(*) FROM {FROM} WHERE {}", c.where_sql),
        rusqlite::params_from_iter(c.params.iter()),
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
}

/// The matching profile ids, ascending.
pub fn members(conn: &Connection, c: &Compiled) -> rusqlite::Result<Vec<i64>> {
    run_query(
        conn,
        &format!(
            "SELECT p.id FROM {FROM} WHERE {} ORDER BY p.id",
            c.where_sql
        ),
        &c.params,
        |r| r.get(0),
    )
}

/// Up to `n` matching profile ids, spread over the ids (a fixed
/// pseudo-random order: the same definition and data give the same sample).
pub fn sample(conn: &Connection, c: &Compiled, n: usize) -> rusqlite::Result<Vec<i64>> {
    let mut params = c.params.clone();
    params.push(Value::Integer(n.min(i64::MAX as usize) as i64));
    run_query(
        conn,
        &format!(
            "SELECT p.id FROM {FROM} WHERE {} ORDER BY (p.id * 2654435761) % 4294967296, p.id LIMIT ?",
            c.where_sql
        ),
        &params,
        |r| r.get(0),
    )
}

/// A stored segment as conditions need it.
pub(crate) struct SegmentRow {
    pub name: String,
    pub kind: String,
    pub definition: Option<String>,
}

pub(crate) fn segment_row(conn: &Connection, id: i64) -> rusqlite::Result<Option<SegmentRow>> {
    conn.query_row(
        "SELECT name, kind, definition FROM segments WHERE id = ?1",
        [id],
        |r| {
            Ok(SegmentRow {
                name: r.get(0)?,
                kind: r.get(1)?,
                definition: r.get(2)?,
            })
        },
    )
    .optional()
}

struct Compiler<'a> {
    conn: &'a Connection,
    now: String,
    scale: i64,
    currency: String,
    /// The segments whose definitions are being compiled, outermost first.
    stack: Vec<(i64, String)>,
    /// The circle of segment references found, once found.
    cycle: Option<String>,
}

/// "condition 2 › 1" from a 0-based path.
fn path_text(path: &[usize]) -> String {
    path.iter()
        .map(|i| (i + 1).to_string())
        .collect::<Vec<_>>()
        .join(" › ")
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => cut[..i].to_owned(),
        _ => cut,
    };
    format!("{} …", cut.trim_end())
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Eq => "eq",
        Op::Ne => "ne",
        Op::Lt => "lt",
        Op::Le => "le",
        Op::Gt => "gt",
        Op::Ge => "ge",
        Op::Between => "between",
        Op::In => "in",
        Op::NotIn => "not_in",
        Op::Contains => "contains",
        Op::StartsWith => "starts_with",
        Op::IsEmpty => "is_empty",
        Op::IsSet => "is_set",
        Op::InLastDays => "in_last_days",
        Op::MoreThanDaysAgo => "more_than_days_ago",
    }
}

fn type_name(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Text => "text",
        FieldType::Choice => "a choice",
        FieldType::Number => "a number",
        FieldType::Money => "money",
        FieldType::Date => "a date",
    }
}

fn ops_list(kind: FieldType) -> String {
    kind.ops()
        .iter()
        .map(|o| op_name(*o))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value of a comparison, after checking its shape.
enum Bound {
    Int(i64),
    Real(f64),
}

impl From<Bound> for Value {
    fn from(b: Bound) -> Value {
        match b {
            Bound::Int(i) => Value::Integer(i),
            Bound::Real(f) => Value::Real(f),
        }
    }
}

fn text_value(v: &serde_json::Value) -> Result<String, String> {
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Null => Err("needs a value".into()),
        other => Err(format!("needs a text value, not {other}")),
    }
}

fn number_value(v: &serde_json::Value) -> Result<f64, String> {
    match v {
        serde_json::Value::Number(n) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("{n} is not a usable number")),
        serde_json::Value::Null => Err("needs a number".into()),
        other => Err(format!("needs a number, not {other}")),
    }
}

/// A whole number of days, at least 1.
fn days_value(v: &serde_json::Value) -> Result<u32, String> {
    let n = match v {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        _ => None,
    };
    match n {
        Some(n) if n >= 1 => u32::try_from(n).map_err(|_| format!("{n} days is too many")),
        _ => Err(format!("needs a whole number of days (1 or more), not {v}")),
    }
}

fn pair(v: &serde_json::Value) -> Result<(&serde_json::Value, &serde_json::Value), String> {
    match v.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok((a, b)),
        _ => Err(format!("needs two values (from, to), not {v}")),
    }
}

fn list(v: &serde_json::Value) -> Result<&[serde_json::Value], String> {
    match v.as_array() {
        Some(items) if !items.is_empty() => Ok(items),
        Some(_) => Err("needs at least one value".into()),
        None => Err(format!("needs a list of values, not {v}")),
    }
}

/// A date or timestamp given in a rule, normalised.
enum When {
    /// `YYYY-MM-DD`.
    Day(String),
    /// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    Moment(String),
}

fn date_value(v: &serde_json::Value) -> Result<When, String> {
    let Some(s) = v.as_str().map(str::trim) else {
        return Err(format!(
            "needs an ISO date like 2024-05-31 or 2024-05-31T18:00:00Z, not {v}"
        ));
    };
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(When::Day(d.format("%Y-%m-%d").to_string()));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(When::Moment(
            t.with_timezone(&Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
        ));
    }
    Err(format!(
        "“{s}” is not an ISO date like 2024-05-31 or 2024-05-31T18:00:00Z"
    ))
}

/// A comparison of `col` (an SQL expression of type `kind`) with a rule's
/// value. `date_only`: the column holds dates without a time. The result
/// is never NULL.
fn compare(
    col: &str,
    kind: FieldType,
    date_only: bool,
    op: Op,
    value: &serde_json::Value,
    now: &str,
    scale: i64,
) -> Result<Sql, String> {
    if !kind.ops().contains(&op) {
        return Err(format!(
            "“{}” does not apply to {}; use one of {}",
            op_name(op),
            type_name(kind),
            ops_list(kind)
        ));
    }
    let number = |v: &serde_json::Value| -> Result<Bound, String> {
        let f = number_value(v)?;
        Ok(if kind == FieldType::Money {
            let minor = (f * scale as f64).round();
            if minor.abs() > 9.0e15 {
                return Err(format!("{f} is too large"));
            }
            Bound::Int(minor as i64)
        } else if f.fract() == 0.0 && f.abs() < 9.0e15 {
            Bound::Int(f as i64)
        } else {
            Bound::Real(f)
        })
    };
    match kind {
        FieldType::Text | FieldType::Choice => {
            let lower = format!("lower({col})");
            Ok(match op {
                Op::Eq => Sql::new(&format!("coalesce({lower} = lower("))
                    .p(text_value(value)?)
                    .s("), 0)"),
                Op::Ne => Sql::new(&format!("coalesce({lower} <> lower("))
                    .p(text_value(value)?)
                    .s("), 1)"),
                Op::In | Op::NotIn => {
                    let items = list(value)?;
                    let (not, default) = if op == Op::NotIn {
                        ("NOT ", "1")
                    } else {
                        ("", "0")
                    };
                    let mut sql = Sql::new(&format!("coalesce({lower} {not}IN ("));
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            sql = sql.s(", ");
                        }
                        sql = sql.s("lower(").p(text_value(item)?).s(")");
                    }
                    sql.s(&format!("), {default})"))
                }
                Op::Contains => Sql::new(&format!("coalesce(instr({lower}, lower("))
                    .p(text_value(value)?)
                    .s(")) > 0, 0)"),
                Op::StartsWith => Sql::new(&format!("coalesce(instr({lower}, lower("))
                    .p(text_value(value)?)
                    .s(")) = 1, 0)"),
                Op::IsEmpty => Sql::new(&format!("(coalesce({col}, '') = '')")),
                Op::IsSet => Sql::new(&format!("(coalesce({col}, '') <> '')")),
                _ => unreachable!("checked against the type's operators"),
            })
        }
        FieldType::Number | FieldType::Money => Ok(match op {
            Op::Eq => Sql::new(&format!("coalesce({col} = "))
                .p(number(value)?)
                .s(", 0)"),
            Op::Ne => Sql::new(&format!("coalesce({col} <> "))
                .p(number(value)?)
                .s(", 1)"),
            Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                Sql::new(&format!("coalesce({col} {} ", symbol(op)))
                    .p(number(value)?)
                    .s(", 0)")
            }
            Op::Between => {
                let (a, b) = pair(value)?;
                let (fa, fb) = (number_value(a)?, number_value(b)?);
                if fa > fb {
                    return Err(format!("the range starts above its end ({fa} > {fb})"));
                }
                Sql::new(&format!("coalesce({col} BETWEEN "))
                    .p(number(a)?)
                    .s(" AND ")
                    .p(number(b)?)
                    .s(", 0)")
            }
            // Missing passes `not_in` only, as for text.
            Op::In | Op::NotIn => {
                let (not, default) = if op == Op::NotIn {
                    ("NOT ", "1")
                } else {
                    ("", "0")
                };
                let mut sql = Sql::new(&format!("coalesce({col} {not}IN ("));
                for (i, item) in list(value)?.iter().enumerate() {
                    if i > 0 {
                        sql = sql.s(", ");
                    }
                    sql = sql.p(number(item)?);
                }
                sql.s(&format!("), {default})"))
            }
            Op::IsEmpty => Sql::new(&format!("({col} IS NULL)")),
            Op::IsSet => Sql::new(&format!("({col} IS NOT NULL)")),
            _ => unreachable!("checked against the type's operators"),
        }),
        FieldType::Date => {
            let day = format!("substr({col}, 1, 10)");
            let side = |op: Op, v: &serde_json::Value| -> Result<Sql, String> {
                let (lhs, bound) = match date_value(v)? {
                    When::Day(d) => (day.as_str(), d),
                    When::Moment(m) if date_only => (day.as_str(), m[..10].to_owned()),
                    When::Moment(m) => (col, m),
                };
                Ok(Sql::new(&format!("{lhs} {} ", symbol(op))).p(bound))
            };
            Ok(match op {
                Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                    Sql::new("coalesce(").a(side(op, value)?).s(", 0)")
                }
                Op::Between => {
                    let (a, b) = pair(value)?;
                    let (wa, wb) = (date_value(a)?, date_value(b)?);
                    let key = |w: &When| match w {
                        When::Day(d) => format!("{d}T00:00:00Z"),
                        When::Moment(m) => m.clone(),
                    };
                    if key(&wa) > key(&wb) {
                        return Err("the range starts after its end".into());
                    }
                    Sql::new("coalesce(")
                        .a(side(Op::Ge, a)?)
                        .s(" AND ")
                        .a(side(Op::Le, b)?)
                        .s(", 0)")
                }
                Op::InLastDays => {
                    let start = window_start(now, days_value(value)?);
                    Sql::new(&format!("coalesce({day} >= "))
                        .p(start[..10].to_owned())
                        .s(", 0)")
                }
                Op::MoreThanDaysAgo => {
                    let start = window_start(now, days_value(value)?);
                    Sql::new(&format!("coalesce({day} < "))
                        .p(start[..10].to_owned())
                        .s(", 0)")
                }
                Op::IsEmpty => Sql::new(&format!("(coalesce({col}, '') = '')")),
                Op::IsSet => Sql::new(&format!("(coalesce({col}, '') <> '')")),
                _ => unreachable!("checked against the type's operators"),
            })
        }
    }
}

fn symbol(op: Op) -> &'static str {
    match op {
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        _ => "=",
    }
}

/// Profiles by how many rows of `rows` (a query with a `pid` column) they
/// have, compared with `count`; profiles with none are included when the
/// comparison holds for 0.
fn counted(rows: Sql, count: Count) -> Sql {
    let (cmp, zero_ok) = match count.op {
        CountOp::AtLeast => (">=", count.value == 0),
        CountOp::AtMost => ("<=", true),
        CountOp::Exactly => ("=", count.value == 0),
    };
    let n = i64::from(count.value);
    if zero_ok {
        Sql::new("coalesce(p.id NOT IN (SELECT pid FROM (")
            .a(rows)
            .s(&format!(
                ") WHERE pid IS NOT NULL GROUP BY pid HAVING NOT (count(*) {cmp} "
            ))
            .p(n)
            .s(")), 1)")
    } else {
        Sql::new("coalesce(p.id IN (SELECT pid FROM (")
            .a(rows)
            .s(&format!(
                ") WHERE pid IS NOT NULL GROUP BY pid HAVING count(*) {cmp} "
            ))
            .p(n)
            .s("), 0)")
    }
}

/// Profiles with at least one row of `rows`, or (`negate`) none.
fn any_row(rows: Sql, negate: bool) -> Sql {
    let (not, default) = if negate { ("NOT ", "1") } else { ("", "0") };
    Sql::new(&format!("coalesce(p.id {not}IN (SELECT pid FROM ("))
        .a(rows)
        .s(&format!(") WHERE pid IS NOT NULL), {default})"))
}

impl Compiler<'_> {
    fn fail(
        &self,
        path: &[usize],
        cond: &Condition,
        problem: impl AsRef<str>,
    ) -> InvalidDefinition {
        let what = super::describe::describe_condition(self.conn, cond, &self.currency);
        InvalidDefinition {
            path: path.to_vec(),
            message: format!(
                "condition {} ({}): {}",
                path_text(path),
                shorten(&what, 48),
                problem.as_ref()
            ),
        }
    }

    fn group(&mut self, g: &Group, path: &mut Vec<usize>) -> Result<Sql, InvalidDefinition> {
        let mut sql = if g.conditions.is_empty() {
            Sql::new(match g.match_ {
                Match::All => "1",
                Match::Any => "0",
            })
        } else {
            let joiner = match g.match_ {
                Match::All => " AND ",
                Match::Any => " OR ",
            };
            let mut sql = Sql::new("(");
            for (i, cond) in g.conditions.iter().enumerate() {
                if i > 0 {
                    sql = sql.s(joiner);
                }
                path.push(i);
                let part = self.condition(cond, path);
                path.pop();
                sql = sql.a(part?);
            }
            sql.s(")")
        };
        if g.negate {
            sql = Sql::new("(NOT ").a(sql).s(")");
        }
        Ok(sql)
    }

    fn condition(
        &mut self,
        cond: &Condition,
        path: &mut Vec<usize>,
    ) -> Result<Sql, InvalidDefinition> {
        match cond {
            Condition::Group(g) => self.group(g, path),
            Condition::Field(c) => self.field(cond, c, path),
            Condition::Event(c) => self.event(cond, c, path),
            Condition::Order(c) => self.order(cond, c, path),
            Condition::Sequence(c) => self.sequence(cond, c, path),
            Condition::Segment(c) => self.segment(cond, c, path),
            Condition::Cluster(c) => self.cluster(cond, c, path),
            Condition::Consent(c) => self.consent(cond, c, path),
        }
    }

    fn field(
        &self,
        cond: &Condition,
        c: &FieldCondition,
        path: &[usize],
    ) -> Result<Sql, InvalidDefinition> {
        let Some(f) = fields::field(&c.field) else {
            return Err(self.fail(path, cond, format!("there is no field “{}”", c.field)));
        };
        let table = if f.table == 'p' { "p" } else { "t" };
        let col = if f.zero_when_missing {
            format!("coalesce({table}.{}, 0)", f.column)
        } else {
            format!("{table}.{}", f.column)
        };
        compare(
            &col,
            f.kind,
            f.name == "birth_date",
            c.op,
            &c.value,
            &self.now,
            self.scale,
        )
        .map_err(|problem| self.fail(path, cond, format!("{}: {problem}", f.label)))
    }

    fn window(&self, days: Option<u32>, column: &str) -> Result<Sql, String> {
        match days {
            None => Ok(Sql::default()),
            Some(0) => Err("the window needs at least 1 day".into()),
            Some(d) => Ok(Sql::new(&format!(" AND {column} >= ")).p(window_start(&self.now, d))),
        }
    }

    fn event(
        &self,
        cond: &Condition,
        c: &EventCondition,
        path: &[usize],
    ) -> Result<Sql, InvalidDefinition> {
        let fail = |problem: String| self.fail(path, cond, problem);
        if c.event.trim().is_empty() {
            return Err(fail("pick an event".into()));
        }
        let mut rows = Sql::new(&format!(
            "SELECT {EVENT_PROFILE} AS pid FROM events e WHERE e.name = "
        ))
        .p(c.event.clone())
        .a(self.window(c.within_days, "e.occurred_at").map_err(fail)?);
        for (i, f) in c.filters.iter().enumerate() {
            let Some(kind) = fields::event_property(&f.property) else {
                return Err(fail(format!(
                    "events have no property “{}” (use one of {}, or {}NAME for a column of the export)",
                    f.property,
                    fields::EVENT_PROPERTIES
                        .iter()
                        .map(|p| p.0)
                        .collect::<Vec<_>>()
                        .join(", "),
                    fields::CUSTOM_PROPERTY
                )));
            };
            let problem =
                |problem: String| fail(format!("filter {} on {}: {problem}", i + 1, f.property));
            if let Some(key) = fields::custom_property(&f.property) {
                // A custom property: its value through json_each, the key
                // bound like every value. A missing property is a missing
                // value (it passes `ne`, `not_in` and `is_empty` only).
                let test = compare(
                    "j.value", kind, false, f.op, &f.value, &self.now, self.scale,
                )
                .map_err(problem)?;
                let has = |sql: Sql| {
                    Sql::new("EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(e.properties) THEN e.properties END) j WHERE j.key = ")
                        .p(key.to_owned())
                        .a(sql)
                        .s(")")
                };
                let missing_passes = matches!(f.op, Op::Ne | Op::NotIn | Op::IsEmpty);
                let present = has(Sql::new(" AND ").a(test));
                rows = if missing_passes {
                    rows.s(" AND (NOT ")
                        .a(has(Sql::default()))
                        .s(" OR ")
                        .a(present)
                        .s(")")
                } else {
                    rows.s(" AND ").a(present)
                };
                continue;
            }
            let col = match f.property.as_str() {
                "category" => product_of("e.sku", "category"),
                "brand" => product_of("e.sku", "brand"),
                other => format!("e.{other}"),
            };
            let test = compare(&col, kind, false, f.op, &f.value, &self.now, self.scale)
                .map_err(problem)?;
            rows = rows.s(" AND ").a(test);
        }
        Ok(if c.did {
            counted(rows, c.count)
        } else {
            any_row(rows, true)
        })
    }

    fn order(
        &self,
        cond: &Condition,
        c: &OrderCondition,
        path: &[usize],
    ) -> Result<Sql, InvalidDefinition> {
        let fail = |problem: String| self.fail(path, cond, problem);
        let mut rows =
            Sql::new("SELECT r.profile_id AS pid, CASE WHEN o.currency IS NULL OR o.currency = ")
                .p(self.currency.clone())
                .s(&format!(
                " THEN coalesce(o.total, 0) - max(coalesce(o.refunded, 0), 0) ELSE 0 END AS money
                   FROM identity_records r JOIN orders o ON o.id = r.row_id
                  WHERE r.kind = 'order' AND r.profile_id IS NOT NULL AND {LIVE_ORDER}"
            ))
                .a(self.window(c.within_days, "o.ordered_at").map_err(fail)?);
        let sku = c.sku.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let category = c
            .category
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if sku.is_some() || category.is_some() {
            rows = rows.s(" AND EXISTS (SELECT 1 FROM order_lines l
                     WHERE l.source_id = o.source_id AND l.order_key = o.source_key");
            if let Some(s) = sku {
                rows = rows.s(" AND lower(l.sku) = lower(").p(s.to_owned()).s(")");
            }
            if let Some(cat) = category {
                rows = rows
                    .s(&format!(
                        " AND lower({}) = lower(",
                        product_of("l.sku", "category")
                    ))
                    .p(cat.to_owned())
                    .s(")");
            }
            rows = rows.s(")");
        }
        if !c.did {
            return Ok(any_row(rows, true));
        }
        match c.metric {
            OrderMetric::Count => Ok(counted(rows, c.count)),
            OrderMetric::Total => {
                let Some(op) = c.op else {
                    return Err(fail(
                        "say how to compare the total (more than, less than, …)".into(),
                    ));
                };
                let money = |v: &serde_json::Value| -> Result<(i64, f64), String> {
                    let f = number_value(v)?;
                    let minor = (f * self.scale as f64).round();
                    if minor.abs() > 9.0e15 {
                        return Err(format!("{f} is too large"));
                    }
                    Ok((minor as i64, f))
                };
                let (test, zero_ok) = match op {
                    Op::Gt | Op::Ge | Op::Lt | Op::Le | Op::Eq => {
                        let (m, _) = money(&c.value).map_err(|p| fail(format!("the total {p}")))?;
                        let zero_ok = match op {
                            Op::Gt => 0 > m,
                            Op::Ge => 0 >= m,
                            Op::Lt => 0 < m,
                            Op::Le => 0 <= m,
                            _ => m == 0,
                        };
                        (
                            Sql::new(&format!("sum(money) {} ", symbol(op))).p(m),
                            zero_ok,
                        )
                    }
                    Op::Between => {
                        let (a, b) = pair(&c.value).map_err(|p| fail(format!("the total {p}")))?;
                        let (ma, fa) = money(a).map_err(|p| fail(format!("the total {p}")))?;
                        let (mb, fb) = money(b).map_err(|p| fail(format!("the total {p}")))?;
                        if ma > mb {
                            return Err(fail(format!(
                                "the range starts above its end ({fa} > {fb})"
                            )));
                        }
                        (
                            Sql::new("sum(money) BETWEEN ").p(ma).s(" AND ").p(mb),
                            ma <= 0 && 0 <= mb,
                        )
                    }
                    other => {
                        return Err(fail(format!(
                        "“{}” does not apply to a total; use one of gt, ge, lt, le, eq, between",
                        op_name(other)
                    )))
                    }
                };
                Ok(if zero_ok {
                    Sql::new("coalesce(p.id NOT IN (SELECT pid FROM (")
                        .a(rows)
                        .s(") GROUP BY pid HAVING NOT (")
                        .a(test)
                        .s(")), 1)")
                } else {
                    Sql::new("coalesce(p.id IN (SELECT pid FROM (")
                        .a(rows)
                        .s(") GROUP BY pid HAVING ")
                        .a(test)
                        .s("), 0)")
                })
            }
        }
    }

    fn sequence(
        &self,
        cond: &Condition,
        c: &SequenceCondition,
        path: &[usize],
    ) -> Result<Sql, InvalidDefinition> {
        let fail = |problem: String| self.fail(path, cond, problem);
        if c.first.trim().is_empty() {
            return Err(fail("pick the first event".into()));
        }
        if c.then.trim().is_empty() {
            return Err(fail("pick the event that follows".into()));
        }
        let seconds = i64::from(c.within_hours) * 3600;
        let not = if c.then_did { "" } else { "NOT " };
        let sql = Sql::new(&format!(
            "coalesce(p.id IN (SELECT a.pid FROM (
                SELECT e.id AS id, e.occurred_at AS at, {EVENT_PROFILE} AS pid
                  FROM events e WHERE e.name = "
        ))
        .p(c.first.clone())
        .a(self.window(c.in_last_days, "e.occurred_at").map_err(fail)?)
        .s(&format!(
            ") a WHERE a.pid IS NOT NULL AND {not}EXISTS (
                SELECT 1 FROM events e
                 WHERE e.name = "
        ))
        .p(c.then.clone())
        .s(" AND e.occurred_at >= substr(a.at, 1, 19)
              AND e.occurred_at < strftime('%Y-%m-%dT%H:%M:%S', unixepoch(a.at) + ")
        .p(seconds + 1)
        .s(", 'unixepoch')
              AND e.id <> a.id
              AND unixepoch(e.occurred_at) - unixepoch(a.at) BETWEEN 0 AND ")
        .p(seconds)
        .s(&format!(" AND {EVENT_PROFILE} = a.pid)), 0)"));
        Ok(sql)
    }

    fn segment(
        &mut self,
        cond: &Condition,
        c: &SegmentCondition,
        path: &[usize],
    ) -> Result<Sql, InvalidDefinition> {
        let row = segment_row(self.conn, c.segment)
            .map_err(|e| self.fail(path, cond, format!("could not read the segment: {e}")))?;
        let Some(row) = row else {
            return Err(self.fail(path, cond, format!("there is no segment #{}", c.segment)));
        };
        if let Some(at) = self.stack.iter().position(|(id, _)| *id == c.segment) {
            let mut names: Vec<&str> = self.stack[at..].iter().map(|(_, n)| n.as_str()).collect();
            names.push(&row.name);
            let chain = names
                .iter()
                .map(|n| format!("“{n}”"))
                .collect::<Vec<_>>()
                .join(" → ");
            let problem = format!(
                "segments cannot refer to themselves, and this one goes round in a circle: {chain}"
            );
            self.cycle = Some(problem.clone());
            return Err(self.fail(path, cond, problem));
        }
        let inner = if row.kind == "dynamic" {
            let Some(text) = row.definition.as_deref() else {
                return Err(self.fail(
                    path,
                    cond,
                    format!("the segment “{}” has no rule", row.name),
                ));
            };
            let def = Definition::from_json(text).map_err(|e| {
                self.fail(
                    path,
                    cond,
                    format!("the rule of “{}” cannot be read: {e}", row.name),
                )
            })?;
            self.stack.push((c.segment, row.name.clone()));
            let inner = self.group(&def.root, &mut Vec::new());
            self.stack.pop();
            let inner = inner.map_err(|e| match &self.cycle {
                // A cycle found deeper is reported here as it is.
                Some(chain) => self.fail(path, cond, chain.clone()),
                None => self.fail(
                    path,
                    cond,
                    format!("the segment “{}” is not valid: {}", row.name, e.message),
                ),
            })?;
            Sql::new("coalesce(").a(inner).s(", 0)")
        } else {
            Sql::new("coalesce(p.id IN (SELECT m.profile_id FROM segment_members m WHERE m.segment_id = ")
                .p(c.segment)
                .s("), 0)")
        };
        Ok(if c.negate {
            Sql::new("(NOT ").a(inner).s(")")
        } else {
            inner
        })
    }

    fn cluster(
        &self,
        cond: &Condition,
        c: &ClusterCondition,
        path: &[usize],
    ) -> Result<Sql, InvalidDefinition> {
        let latest: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT id, result FROM cluster_runs ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| {
                self.fail(
                    path,
                    cond,
                    format!("could not read the clustering runs: {e}"),
                )
            })?;
        let Some((_, result)) = latest else {
            return Err(self.fail(path, cond, "there is no clustering run yet"));
        };
        let known = serde_json::from_str::<serde_json::Value>(&result)
            .ok()
            .and_then(|v| {
                let clusters = v
                    .pointer("/result/clusters")
                    .or_else(|| v.get("clusters"))?;
                Some(
                    clusters
                        .as_array()?
                        .iter()
                        .any(|k| k.get("id").and_then(|i| i.as_i64()) == Some(c.cluster)),
                )
            });
        if known == Some(false) {
            return Err(self.fail(
                path,
                cond,
                format!("the latest clustering run has no cluster {}", c.cluster),
            ));
        }
        let (not, default) = if c.negate { ("NOT ", "1") } else { ("", "0") };
        Ok(Sql::new(&format!(
            "coalesce(p.id {not}IN (SELECT cm.profile_id FROM cluster_members cm
               WHERE cm.run_id = (SELECT max(id) FROM cluster_runs) AND cm.cluster = "
        ))
        .p(c.cluster)
        .s(&format!("), {default})")))
    }

    fn consent(
        &self,
        cond: &Condition,
        c: &ConsentCondition,
        path: &[usize],
    ) -> Result<Sql, InvalidDefinition> {
        let channel = match c.channel.as_str() {
            ch @ ("email" | "sms" | "ads") => ch,
            other => {
                return Err(self.fail(
                    path,
                    cond,
                    format!("there is no channel “{other}” (use email, sms or ads)"),
                ))
            }
        };
        if !fields::CONSENT_STATUSES.contains(&c.status.as_str()) {
            return Err(self.fail(
                path,
                cond,
                format!(
                    "there is no consent status “{}” (use granted, denied or unknown)",
                    c.status
                ),
            ));
        }
        // The consent ledger's answer (`privacy::consent`): one row per
        // profile and channel with evidence; none means `unknown`.
        let evidence =
            Sql::new("(SELECT pc.profile_id FROM profile_consent pc WHERE pc.channel = ")
                .p(channel.to_owned());
        Ok(match c.status.as_str() {
            "unknown" => Sql::new("coalesce(p.id NOT IN ").a(evidence).s("), 0)"),
            status => Sql::new("coalesce(p.id IN ")
                .a(evidence.s(" AND pc.status = ").p(status.to_owned()))
                .s("), 0)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::segments::testkit::{self, ids_where, NOW};

    fn def(root: serde_json::Value) -> Definition {
        Definition::from_value(serde_json::json!({"version": 1, "root": root})).unwrap()
    }

    fn all(conditions: serde_json::Value) -> Definition {
        def(serde_json::json!({"match": "all", "conditions": conditions}))
    }

    fn run(conn: &Connection, d: &Definition) -> Vec<i64> {
        let c = compile(conn, d, NOW, 100).unwrap_or_else(|e| panic!("{e}"));
        let m = members(conn, &c).unwrap();
        assert_eq!(count(conn, &c).unwrap(), m.len() as u64);
        m
    }

    fn err(conn: &Connection, d: &Definition) -> InvalidDefinition {
        compile(conn, d, NOW, 100).expect_err("the definition is refused")
    }

    #[test]
    fn window_start_is_whole_utc_days() {
        assert_eq!(
            window_start("2026-11-01T12:00:00Z", 1),
            "2026-11-01T00:00:00Z"
        );
        assert_eq!(
            window_start("2026-11-01T23:59:59Z", 30),
            "2026-10-03T00:00:00Z"
        );
        assert_eq!(
            window_start("2026-11-01T00:30:00+02:00", 1),
            "2026-10-31T00:00:00Z"
        );
        assert_eq!(
            window_start("2024-03-01T08:00:00Z", 2),
            "2024-02-29T00:00:00Z"
        );
    }

    #[test]
    fn field_conditions_match_a_count_in_rust() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        let ids = testkit::all_profiles(conn);
        assert!(ids.len() > 500, "{} profiles", ids.len());
        let mut country: HashMap<i64, Option<String>> = HashMap::new();
        let mut first: HashMap<i64, Option<String>> = HashMap::new();
        let mut stmt = conn
            .prepare("SELECT id, country, first_name FROM profiles")
            .unwrap();
        for row in stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
        {
            let (id, c, f) = row.unwrap();
            country.insert(id, c);
            first.insert(id, f);
        }
        let mut traits: HashMap<i64, (i64, i64, Option<String>)> = HashMap::new();
        let mut stmt = conn
            .prepare("SELECT profile_id, orders, revenue, last_order_at FROM profile_traits")
            .unwrap();
        for row in stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
            })
            .unwrap()
        {
            let (id, t) = row.unwrap();
            traits.insert(id, t);
        }
        // The most common country, typed in lower case.
        let mut by_country: HashMap<&str, usize> = HashMap::new();
        for c in country.values().flatten() {
            *by_country.entry(c.as_str()).or_default() += 1;
        }
        let (top, _) = by_country.iter().max_by_key(|(c, n)| (**n, *c)).unwrap();
        let top = top.to_string();
        let is_top = |id: i64| country[&id].as_deref() == Some(top.as_str());

        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "field", "field": "country", "op": "eq", "value": top.to_lowercase()}
            ])),
        );
        assert_eq!(got, ids_where(&ids, is_top));
        assert!(!got.is_empty());

        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "field", "field": "country", "op": "ne", "value": top}
            ])),
        );
        assert_eq!(
            got,
            ids_where(&ids, |id| !is_top(id)),
            "ne includes no country"
        );

        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "field", "field": "country", "op": "is_empty"}
            ])),
        );
        assert_eq!(
            got,
            ids_where(&ids, |id| country[&id].as_deref().unwrap_or("").is_empty())
        );

        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "field", "field": "first_name", "op": "starts_with", "value": "JO"}
            ])),
        );
        let starts = |id: i64| {
            first[&id]
                .as_deref()
                .is_some_and(|f| f.to_ascii_lowercase().starts_with("jo"))
        };
        assert_eq!(got, ids_where(&ids, starts));
        assert!(!got.is_empty());

        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "field", "field": "first_name", "op": "contains", "value": "an"}
            ])),
        );
        let contains = |id: i64| {
            first[&id]
                .as_deref()
                .is_some_and(|f| f.to_ascii_lowercase().contains("an"))
        };
        assert_eq!(got, ids_where(&ids, contains));

        // Counts are 0 without a traits row: "at most 1 order" includes them.
        let orders = |id: i64| traits.get(&id).map_or(0, |t| t.0);
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "field", "field": "orders", "op": "le", "value": 1}
            ])),
        );
        assert_eq!(got, ids_where(&ids, |id| orders(id) <= 1));
        assert!(got.len() > traits.values().filter(|t| t.0 <= 1).count());

        // Money in major units.
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "field", "field": "revenue", "op": "between", "value": [100, 250.5]}
            ])),
        );
        let revenue = |id: i64| traits.get(&id).map_or(0, |t| t.1);
        assert_eq!(
            got,
            ids_where(&ids, |id| (10_000..=25_050).contains(&revenue(id)))
        );
        assert!(!got.is_empty());

        // Dates: the last 90 days are from 00:00 UTC of 2026-08-04.
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "field", "field": "last_order_at", "op": "in_last_days", "value": 90}
            ])),
        );
        let recent = |id: i64| {
            traits
                .get(&id)
                .and_then(|t| t.2.as_deref())
                .is_some_and(|d| d >= "2026-08-04")
        };
        assert_eq!(got, ids_where(&ids, recent));
        assert!(!got.is_empty());
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "field", "field": "last_order_at", "op": "more_than_days_ago", "value": 90}
            ])),
        );
        let old = |id: i64| {
            traits
                .get(&id)
                .and_then(|t| t.2.as_deref())
                .is_some_and(|d| d < "2026-08-04")
        };
        assert_eq!(got, ids_where(&ids, old));
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "field", "field": "last_order_at", "op": "le", "value": "2026-08-03"}
            ])),
        );
        assert_eq!(
            got,
            ids_where(&ids, old),
            "a date bound includes its whole day"
        );
    }

    #[test]
    fn event_profiles_agree_with_the_traits_scan() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        // Product views per profile through EVENT_PROFILE = traits' product_views.
        let sql = format!(
            "SELECT p.id, coalesce(t.product_views, 0),
                    (SELECT count(*) FROM events e WHERE e.name = 'view_item' AND {EVENT_PROFILE} = p.id)
               FROM {FROM}"
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        let rows: Vec<(i64, i64, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let viewers = rows.iter().filter(|r| r.1 > 0).count();
        assert!(viewers > 100, "{viewers} profiles viewed products");
        for (id, traits, sql) in rows {
            assert_eq!(traits, sql, "profile {id}");
        }
    }

    #[test]
    fn event_conditions_match_a_count_in_rust() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        let ids = testkit::all_profiles(conn);
        let events = testkit::events(conn);
        let cats = testkit::categories(conn);
        let count_where = |keep: &dyn Fn(&testkit::Ev) -> bool| {
            let mut n: HashMap<i64, u32> = HashMap::new();
            for e in events.iter().filter(|e| keep(e)) {
                if let Some(p) = e.profile {
                    *n.entry(p).or_default() += 1;
                }
            }
            n
        };
        let d30 = window_start(NOW, 30);
        let d90 = window_start(NOW, 90);

        let views = count_where(&|e| e.name == "view_item" && e.at >= d30);
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "event", "did": true, "event": "view_item",
                 "count": {"op": "at_least", "value": 3}, "within_days": 30}
            ])),
        );
        assert_eq!(
            got,
            ids_where(&ids, |id| views.get(&id).copied().unwrap_or(0) >= 3)
        );
        assert!(!got.is_empty());

        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "event", "did": true, "event": "view_item",
                 "count": {"op": "at_most", "value": 1}, "within_days": 30}
            ])),
        );
        assert_eq!(
            got,
            ids_where(&ids, |id| views.get(&id).copied().unwrap_or(0) <= 1)
        );
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "event", "did": true, "event": "view_item",
                 "count": {"op": "exactly", "value": 0}, "within_days": 30}
            ])),
        );
        assert_eq!(got, ids_where(&ids, |id| !views.contains_key(&id)));
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "event", "did": false, "event": "view_item", "within_days": 30}
            ])),
        );
        assert_eq!(got, ids_where(&ids, |id| !views.contains_key(&id)));
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "event", "did": true, "event": "view_item",
                 "count": {"op": "exactly", "value": 2}, "within_days": 30}
            ])),
        );
        assert_eq!(got, ids_where(&ids, |id| views.get(&id) == Some(&2)));

        // A category (through the catalogue), typed in another case.
        let mut by_cat: HashMap<&str, usize> = HashMap::new();
        for e in events.iter().filter(|e| e.name == "view_item") {
            if let Some(Some(c)) = e.sku.as_ref().and_then(|s| cats.get(s)) {
                *by_cat.entry(c.as_str()).or_default() += 1;
            }
        }
        let (cat, _) = by_cat.iter().max_by_key(|(c, n)| (**n, *c)).unwrap();
        let cat = cat.to_string();
        let in_cat = count_where(&|e| {
            e.name == "view_item"
                && e.at >= d90
                && e.sku
                    .as_ref()
                    .and_then(|s| cats.get(s).cloned().flatten())
                    .is_some_and(|c| c.eq_ignore_ascii_case(&cat))
        });
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "event", "did": true, "event": "view_item",
                 "filters": [{"property": "category", "op": "eq", "value": cat.to_uppercase()}],
                 "count": {"op": "at_least", "value": 2}, "within_days": 90}
            ])),
        );
        assert_eq!(
            got,
            ids_where(&ids, |id| in_cat.get(&id).copied().unwrap_or(0) >= 2)
        );
        assert!(!got.is_empty());

        // `ne` on a property includes events without it.
        let devices: HashSet<&str> = events.iter().filter_map(|e| e.device.as_deref()).collect();
        let device = devices.iter().min().unwrap().to_string();
        let other_device =
            count_where(&|e| e.name == "page_view" && e.device.as_deref() != Some(device.as_str()));
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "event", "did": true, "event": "page_view",
                 "filters": [{"property": "device", "op": "ne", "value": device}]}
            ])),
        );
        assert_eq!(got, ids_where(&ids, |id| other_device.contains_key(&id)));

        // Value is money in major units.
        let big = count_where(&|e| e.name == "purchase" && e.value.is_some_and(|v| v > 5_000));
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "event", "did": true, "event": "purchase",
                 "filters": [{"property": "value", "op": "gt", "value": 50}]}
            ])),
        );
        assert_eq!(got, ids_where(&ids, |id| big.contains_key(&id)));
    }

    #[test]
    fn order_conditions_match_traits_and_a_count_in_rust() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        let ids = testkit::all_profiles(conn);
        let orders = testkit::orders(conn);
        let cats = testkit::categories(conn);
        let mut traits: HashMap<i64, (i64, i64)> = HashMap::new();
        let mut stmt = conn
            .prepare("SELECT profile_id, orders, revenue FROM profile_traits")
            .unwrap();
        for row in stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, (r.get(1)?, r.get(2)?))))
            .unwrap()
        {
            let (id, t) = row.unwrap();
            traits.insert(id, t);
        }
        // Ever: the same figures as the traits.
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "order", "did": true, "metric": "count", "count": {"op": "at_least", "value": 2}}
            ])),
        );
        assert_eq!(
            got,
            ids_where(&ids, |id| traits.get(&id).is_some_and(|t| t.0 >= 2))
        );
        assert!(!got.is_empty());
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "order", "did": true, "metric": "total", "op": "gt", "value": 150}
            ])),
        );
        assert_eq!(
            got,
            ids_where(&ids, |id| traits.get(&id).is_some_and(|t| t.1 > 15_000))
        );
        assert!(!got.is_empty());
        // "Less than 20" includes those who never bought.
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "order", "did": true, "metric": "total", "op": "lt", "value": 20}
            ])),
        );
        assert_eq!(
            got,
            ids_where(&ids, |id| traits.get(&id).map_or(0, |t| t.1) < 2_000)
        );

        // In a window, with a category: counted in Rust.
        let d90 = window_start(NOW, 90);
        let live = |o: &&testkit::Ord| !o.cancelled && o.at.is_some();
        let mut recent: HashMap<i64, u32> = HashMap::new();
        for o in orders
            .iter()
            .filter(live)
            .filter(|o| o.at.as_deref().unwrap() >= d90.as_str())
        {
            *recent.entry(o.profile).or_default() += 1;
        }
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "order", "did": false, "metric": "count", "within_days": 90}
            ])),
        );
        assert_eq!(got, ids_where(&ids, |id| !recent.contains_key(&id)));
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "order", "did": true, "metric": "count",
                 "count": {"op": "exactly", "value": 1}, "within_days": 90}
            ])),
        );
        assert_eq!(got, ids_where(&ids, |id| recent.get(&id) == Some(&1)));

        let mut by_cat: HashMap<String, usize> = HashMap::new();
        for o in &orders {
            for s in &o.skus {
                if let Some(Some(c)) = cats.get(s) {
                    *by_cat.entry(c.clone()).or_default() += 1;
                }
            }
        }
        let (cat, _) = by_cat
            .iter()
            .max_by_key(|(c, n)| (**n, c.as_str()))
            .unwrap();
        let mut with_cat: HashMap<i64, (u32, i64)> = HashMap::new();
        for o in orders.iter().filter(live) {
            let has = o.skus.iter().any(|s| {
                cats.get(s)
                    .cloned()
                    .flatten()
                    .is_some_and(|c| c.eq_ignore_ascii_case(cat))
            });
            if has {
                let e = with_cat.entry(o.profile).or_default();
                e.0 += 1;
                let same = o.currency.as_deref().is_none_or(|c| c == "USD");
                if same {
                    e.1 += o.total.unwrap_or(0) - o.refunded.unwrap_or(0).max(0);
                }
            }
        }
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "order", "did": true, "metric": "count", "category": cat.to_lowercase(),
                 "count": {"op": "at_least", "value": 2}}
            ])),
        );
        assert_eq!(
            got,
            ids_where(&ids, |id| with_cat.get(&id).is_some_and(|c| c.0 >= 2))
        );
        assert!(!got.is_empty());
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "order", "did": true, "metric": "total", "category": cat,
                 "op": "between", "value": [50, 200]}
            ])),
        );
        assert_eq!(
            got,
            ids_where(&ids, |id| with_cat
                .get(&id)
                .is_some_and(|c| (5_000..=20_000).contains(&c.1)))
        );
    }

    /// `in`/`not_in` on numbers: the union of `eq`s and its complement
    /// (a profile without the value is in "not in"); money in major units.
    #[test]
    fn number_lists_are_unions_of_equalities() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        let ids = testkit::all_profiles(conn);
        let one = |field: &str, op: &str, value: serde_json::Value| {
            run(
                conn,
                &all(
                    serde_json::json!([{"type": "field", "field": field, "op": op, "value": value}]),
                ),
            )
        };
        for (field, a, b) in [
            ("rfm_recency", 1, 5),
            ("orders", 1, 2),
            ("preferred_weekday", 6, 7),
        ] {
            let mut union = one(field, "eq", serde_json::json!(a));
            union.extend(one(field, "eq", serde_json::json!(b)));
            union.sort_unstable();
            assert!(!union.is_empty(), "{field}");
            let listed = one(field, "in", serde_json::json!([a, b]));
            assert_eq!(listed, union, "{field}");
            let rest = one(field, "not_in", serde_json::json!([a, b]));
            let expected: Vec<i64> = ids
                .iter()
                .copied()
                .filter(|id| union.binary_search(id).is_err())
                .collect();
            assert_eq!(rest, expected, "{field}");
        }
        let aov = conn
            .query_row(
                "SELECT average_order_value FROM profile_traits WHERE average_order_value IS NOT NULL LIMIT 1",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap();
        let got = one(
            "average_order_value",
            "in",
            serde_json::json!([aov as f64 / 100.0, 123456]),
        );
        assert_eq!(
            got,
            one(
                "average_order_value",
                "eq",
                serde_json::json!(aov as f64 / 100.0)
            )
        );
        let e = err(
            conn,
            &all(
                serde_json::json!([{"type": "field", "field": "orders", "op": "in", "value": [1, "two"]}]),
            ),
        );
        assert!(e.message.contains("needs a number"), "{}", e.message);
    }

    #[test]
    fn sequences_match_a_scan_in_rust() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        let ids = testkit::all_profiles(conn);
        let events = testkit::events(conn);
        let secs = |t: &str| crate::traits::scan::epoch_seconds(t).unwrap();
        let mut by_profile: HashMap<i64, Vec<&testkit::Ev>> = HashMap::new();
        for e in &events {
            if let Some(p) = e.profile {
                by_profile.entry(p).or_default().push(e);
            }
        }
        let d30 = window_start(NOW, 30);
        let check = |then_did: bool| {
            let keep = |id: i64| {
                let Some(evs) = by_profile.get(&id) else {
                    return false;
                };
                evs.iter()
                    .filter(|a| a.name == "add_to_cart" && a.at >= d30)
                    .any(|a| {
                        let followed = evs.iter().any(|b| {
                            b.name == "purchase"
                                && b.id != a.id
                                && (0..=24 * 3600).contains(&(secs(&b.at) - secs(&a.at)))
                        });
                        followed == then_did
                    })
            };
            let got = run(
                conn,
                &all(serde_json::json!([
                    {"type": "sequence", "first": "add_to_cart", "then": "purchase",
                     "then_did": then_did, "within_hours": 24, "in_last_days": 30}
                ])),
            );
            assert_eq!(got, ids_where(&ids, keep), "then_did = {then_did}");
            assert!(!got.is_empty(), "then_did = {then_did}");
        };
        check(false);
        check(true);
    }

    #[test]
    fn consent_cluster_and_segment_membership() {
        let (_dir, mut ws) = testkit::demo();
        let ids = testkit::all_profiles(ws.conn());
        // Each profile's consent as the ledger's Rust reader gives it.
        let statuses: HashMap<i64, String> = ids
            .iter()
            .map(|&id| {
                let e = crate::privacy::consent::effective(ws.conn(), id).unwrap();
                (id, e[0].status.clone())
            })
            .collect();
        let status = |id: i64| statuses[&id].as_str();
        for want in ["granted", "denied", "unknown"] {
            let got = run(
                ws.conn(),
                &all(serde_json::json!([
                    {"type": "consent", "channel": "email", "status": want}
                ])),
            );
            assert_eq!(got, ids_where(&ids, |id| status(id) == want), "{want}");
            assert!(!got.is_empty(), "{want}");
        }

        let mut clusters: HashMap<i64, i64> = HashMap::new();
        {
            let conn = ws.conn();
            let mut stmt = conn
                .prepare(
                    "SELECT profile_id, cluster FROM cluster_members
                      WHERE run_id = (SELECT max(id) FROM cluster_runs)",
                )
                .unwrap();
            for row in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap() {
                let (p, c) = row.unwrap();
                clusters.insert(p, c);
            }
        }
        let some = *clusters.values().min().unwrap();
        let got = run(
            ws.conn(),
            &all(serde_json::json!([
                {"type": "cluster", "cluster": some}
            ])),
        );
        assert_eq!(got, ids_where(&ids, |id| clusters.get(&id) == Some(&some)));
        let got = run(
            ws.conn(),
            &all(serde_json::json!([
                {"type": "cluster", "cluster": some, "negate": true}
            ])),
        );
        assert_eq!(got, ids_where(&ids, |id| clusters.get(&id) != Some(&some)));
        let e = err(
            ws.conn(),
            &all(serde_json::json!([{"type": "cluster", "cluster": 999}])),
        );
        assert_eq!(e.path, vec![0]);
        assert!(e.message.contains("no cluster 999"), "{e}");

        // A static segment: its stored members; a dynamic one: its rule.
        let stat = crate::segments::save_static(ws.conn_mut(), "Few", None, None, &ids[..10], NOW)
            .unwrap();
        let got = run(
            ws.conn(),
            &all(serde_json::json!([
                {"type": "segment", "segment": stat.id}
            ])),
        );
        assert_eq!(got, ids[..10].to_vec());
        let rule =
            all(serde_json::json!([{"type": "consent", "channel": "email", "status": "denied"}]));
        let dynamic =
            crate::segments::save_dynamic(ws.conn_mut(), "Denied", &rule, None, NOW).unwrap();
        let got = run(
            ws.conn(),
            &all(serde_json::json!([
                {"type": "segment", "segment": dynamic.id, "negate": true}
            ])),
        );
        assert_eq!(got, ids_where(&ids, |id| status(id) != "denied"));
        let e = err(
            ws.conn(),
            &all(serde_json::json!([
                {"type": "field", "field": "country", "op": "eq", "value": "GB"},
                {"type": "segment", "segment": 4242}
            ])),
        );
        assert_eq!(e.path, vec![1]);
        assert!(
            e.message
                .starts_with("condition 2 (in segment #4242): there is no segment #4242"),
            "{e}"
        );
    }

    #[test]
    fn groups_combine_as_sets() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        let ids = testkit::all_profiles(conn);
        let a = serde_json::json!({"type": "field", "field": "orders", "op": "ge", "value": 2});
        let b = serde_json::json!({"type": "consent", "channel": "email", "status": "granted"});
        let c = serde_json::json!({"type": "event", "did": true, "event": "view_item", "within_days": 90});
        let set = |v: &serde_json::Value| -> HashSet<i64> {
            run(conn, &all(serde_json::json!([v])))
                .into_iter()
                .collect()
        };
        let (sa, sb, sc) = (set(&a), set(&b), set(&c));
        let sorted = |s: HashSet<i64>| {
            let mut v: Vec<i64> = s.into_iter().collect();
            v.sort_unstable();
            v
        };
        let got = run(conn, &all(serde_json::json!([a, b])));
        assert_eq!(got, sorted(&sa & &sb));
        let got = run(
            conn,
            &def(serde_json::json!({"match": "any", "conditions": [a, b]})),
        );
        assert_eq!(got, sorted(&sa | &sb));
        // A and not (B or C)
        let got = run(
            conn,
            &all(serde_json::json!([
                a, {"type": "group", "match": "any", "negate": true, "conditions": [b, c]}
            ])),
        );
        assert_eq!(got, sorted(&sa - &(&sb | &sc)));
        // not (A and B), at the root
        let got = run(
            conn,
            &def(serde_json::json!({"match": "all", "negate": true, "conditions": [a, b]})),
        );
        let everyone: HashSet<i64> = ids.iter().copied().collect();
        assert_eq!(got, sorted(&everyone - &(&sa & &sb)));
        // Empty groups: all = everyone, any = no one, and NOT flips them.
        assert_eq!(run(conn, &Definition::everyone()), ids);
        assert!(run(
            conn,
            &def(serde_json::json!({"match": "any", "conditions": []}))
        )
        .is_empty());
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "group", "match": "any", "negate": true, "conditions": []}, a
            ])),
        );
        assert_eq!(got, sorted(sa.clone()));
        // NOT of a condition on a missing value is true (never NULL).
        let got = run(
            conn,
            &all(serde_json::json!([
                {"type": "group", "match": "all", "negate": true, "conditions": [
                    {"type": "field", "field": "last_order_at", "op": "in_last_days", "value": 30}
                ]}
            ])),
        );
        let recent: HashSet<i64> = run(
            conn,
            &all(serde_json::json!([
                {"type": "field", "field": "last_order_at", "op": "in_last_days", "value": 30}
            ])),
        )
        .into_iter()
        .collect();
        assert_eq!(got, sorted(&everyone - &recent));
        // A sample is members only, at most n, and the same each time.
        let c1 = compile(conn, &all(serde_json::json!([a])), NOW, 100).unwrap();
        let s1 = sample(conn, &c1, 5).unwrap();
        assert_eq!(s1.len(), 5);
        assert!(s1.iter().all(|id| sa.contains(id)));
        assert_eq!(sample(conn, &c1, 5).unwrap(), s1);
    }

    #[test]
    fn values_are_bound_never_written_into_the_sql() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        let evil = "O'Brien'; DROP TABLE profiles; --";
        let d = all(serde_json::json!([
            {"type": "field", "field": "last_name", "op": "eq", "value": evil},
            {"type": "field", "field": "city", "op": "in", "value": [evil, "x"]},
            {"type": "event", "did": true, "event": evil,
             "filters": [{"property": "sku", "op": "contains", "value": evil}]},
            {"type": "order", "did": false, "metric": "count", "sku": evil, "category": evil},
            {"type": "sequence", "first": evil, "then": evil, "then_did": false, "within_hours": 1}
        ]));
        let c = compile(conn, &d, NOW, 100).unwrap();
        assert!(!c.where_sql.contains("DROP"), "{}", c.where_sql);
        assert!(!c.where_sql.contains("O'Brien"));
        assert_eq!(c.where_sql.matches('?').count(), c.params.len());
        assert_eq!(count(conn, &c).unwrap(), 0);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
            .unwrap();
        assert!(n > 0, "profiles are still there");
        let any = def(serde_json::json!({"match": "any", "conditions": [
            {"type": "field", "field": "last_name", "op": "ne", "value": evil}
        ]}));
        assert_eq!(
            count(conn, &compile(conn, &any, NOW, 100).unwrap()).unwrap(),
            n as u64
        );
    }

    #[test]
    fn invalid_definitions_point_at_the_condition() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        let nested = |inner: serde_json::Value| {
            all(serde_json::json!([
                {"type": "field", "field": "country", "op": "eq", "value": "GB"},
                {"type": "group", "match": "any", "conditions": [
                    {"type": "field", "field": "orders", "op": "gt", "value": 1},
                    inner
                ]}
            ]))
        };
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (
                serde_json::json!({"type": "field", "field": "shoe_size", "op": "eq", "value": 9}),
                "there is no field “shoe_size”",
            ),
            (
                serde_json::json!({"type": "field", "field": "revenue", "op": "contains", "value": "1"}),
                "“contains” does not apply to money",
            ),
            (
                serde_json::json!({"type": "field", "field": "revenue", "op": "between", "value": [1]}),
                "needs two values",
            ),
            (
                serde_json::json!({"type": "field", "field": "orders", "op": "gt", "value": "many"}),
                "needs a number",
            ),
            (
                serde_json::json!({"type": "field", "field": "first_seen", "op": "in_last_days", "value": 0}),
                "whole number of days",
            ),
            (
                serde_json::json!({"type": "field", "field": "first_seen", "op": "in_last_days", "value": 2.5}),
                "whole number of days",
            ),
            (
                serde_json::json!({"type": "field", "field": "first_seen", "op": "lt", "value": "31/12/2024"}),
                "is not an ISO date",
            ),
            (
                serde_json::json!({"type": "field", "field": "country", "op": "in", "value": []}),
                "at least one value",
            ),
            (
                serde_json::json!({"type": "event", "did": true, "event": " "}),
                "pick an event",
            ),
            (
                serde_json::json!({"type": "event", "did": true, "event": "view_item",
                    "filters": [{"property": "colour", "op": "eq", "value": "red"}]}),
                "no property “colour”",
            ),
            (
                serde_json::json!({"type": "event", "did": true, "event": "view_item", "within_days": 0}),
                "at least 1 day",
            ),
            (
                serde_json::json!({"type": "order", "did": true, "metric": "total", "op": "contains", "value": 3}),
                "does not apply to a total",
            ),
            (
                serde_json::json!({"type": "order", "did": true, "metric": "total", "value": 3}),
                "say how to compare",
            ),
            (
                serde_json::json!({"type": "consent", "channel": "fax", "status": "granted"}),
                "no channel “fax”",
            ),
            (
                serde_json::json!({"type": "consent", "channel": "email", "status": "maybe"}),
                "no consent status “maybe”",
            ),
        ];
        for (inner, wanted) in cases {
            let e = err(conn, &nested(inner.clone()));
            assert_eq!(e.path, vec![1, 1], "{inner}");
            assert!(e.message.starts_with("condition 2 › 2 ("), "{e}");
            assert!(e.message.contains(wanted), "{inner}: {e}");
        }
        let e = err(
            conn,
            &all(serde_json::json!([
                {"type": "group", "match": "all", "conditions": [
                    {"type": "order", "did": true, "metric": "total", "op": "gt", "value": "lots"}
                ]}
            ])),
        );
        assert_eq!(e.path, vec![0, 0]);
        assert!(
            e.message.starts_with(
                "condition 1 › 1 (who spent more than lots): the total needs a number"
            ),
            "{e}"
        );
        assert!(compile(conn, &Definition::everyone(), "yesterday", 100).is_err());
    }
}
