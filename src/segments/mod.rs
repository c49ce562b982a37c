//! Segments: named groups of profiles. A static segment keeps a dated
//! list of members (a cluster saved from Insights, or a rule's answer at
//! the moment it was saved); a dynamic segment keeps its rule
//! (`rules::Definition`, every version in `segment_versions`), is
//! evaluated when used (`compile`), and after each import records who
//! entered and who left it ([`refresh_dynamic`]).

pub mod compile;
pub mod describe;
pub mod fields;
pub mod index;
pub mod live;
pub mod rules;
#[cfg(test)]
pub(crate) mod testkit;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

pub use compile::InvalidDefinition;
use rules::{Condition, Definition, Group};

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
    #[error("{0}")]
    Invalid(#[from] InvalidDefinition),
    #[error("there is no segment #{0}")]
    NotFound(i64),
    #[error("the segment “{name}” is used by {users}; change or delete those first")]
    InUse { name: String, users: String },
    #[error("the stored rule of segment “{name}” cannot be read: {detail}")]
    Unreadable { name: String, detail: String },
}

impl SegmentError {
    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            SegmentError::Sql { .. } => "store",
            SegmentError::EmptyName
            | SegmentError::NameTaken(_)
            | SegmentError::Invalid(_)
            | SegmentError::Unreadable { .. } => "invalid",
            SegmentError::NotFound(_) => "not_found",
            SegmentError::InUse { .. } => "in_use",
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
    pub updated_at: String,
    /// The rule (JSON, see `rules::Definition`): always for a dynamic
    /// segment, for a static one when it was taken from a rule.
    pub definition: Option<serde_json::Value>,
    /// The latest version of the rule (1, 2, …), if it has one.
    pub version: Option<i64>,
    /// When a static segment's members were taken.
    pub snapshot_at: Option<String>,
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
        "INSERT INTO segments (name, kind, description, origin, created_at, updated_at, snapshot_at)
         VALUES (?1, 'static', ?2, ?3, ?4, ?4, ?4)",
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
        (SELECT count(*) FROM segment_members m WHERE m.segment_id = s.id),
        s.updated_at, s.definition,
        (SELECT max(v.version) FROM segment_versions v WHERE v.segment_id = s.id),
        s.snapshot_at
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
        updated_at: r.get(7)?,
        definition: r
            .get::<_, Option<String>>(8)?
            .and_then(|d| serde_json::from_str(&d).ok()),
        version: r.get(9)?,
        snapshot_at: r.get(10)?,
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

/// One saved version of a segment's rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentVersion {
    pub version: i64,
    pub definition: serde_json::Value,
    /// The plain-English sentence of that version.
    pub description: String,
    pub created_at: String,
}

/// A dynamic segment's size after one evaluation that changed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizePoint {
    /// `segment_changes.id`, for [`change_members`].
    pub change_id: i64,
    pub at: String,
    /// The import that triggered the evaluation, if any.
    pub import_id: Option<i64>,
    pub members: u64,
    pub entered: u64,
    pub exited: u64,
}

/// Who entered and who left in one change, ascending ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeMembers {
    pub entered: Vec<i64>,
    pub exited: Vec<i64>,
}

/// What [`refresh_dynamic`] did to one segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refreshed {
    pub id: i64,
    pub name: String,
    pub members: u64,
    pub entered: u64,
    pub exited: u64,
}

/// A dynamic segment [`refresh_dynamic`] left as it was, and why (its rule
/// no longer compiles, e.g. a segment it uses was deleted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub id: i64,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefreshReport {
    pub refreshed: Vec<Refreshed>,
    pub skipped: Vec<Skipped>,
}

/// The workspace currency and its scale (minor units per major unit).
fn money_basics(conn: &Connection) -> Result<(String, i64), SegmentError> {
    let currency = compile::workspace_currency(conn).map_err(sql("read the currency"))?;
    let scale = compile::scale_of(&currency);
    Ok((currency, scale))
}

fn free_name(conn: &Connection, name: &str, except: Option<i64>) -> Result<String, SegmentError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(SegmentError::EmptyName);
    }
    let taken = conn
        .query_row(
            "SELECT 1 FROM segments WHERE name = ?1 AND id IS NOT ?2",
            params![name, except],
            |_| Ok(()),
        )
        .optional()
        .map_err(sql("save a segment"))?
        .is_some();
    if taken {
        return Err(SegmentError::NameTaken(name.to_owned()));
    }
    Ok(name.to_owned())
}

fn definition_json(def: &Definition) -> String {
    serde_json::to_string(def).expect("a definition serialises")
}

/// Compiles `def` (as segment `id` when it has one) and evaluates it.
/// The members of `def`: compiled first (which validates it), then
/// answered by `index` when given, else by SQL.
fn evaluate(
    conn: &Connection,
    def: &Definition,
    now: &str,
    scale: i64,
    id: Option<i64>,
    index: Option<&index::SegmentIndex>,
) -> Result<Vec<i64>, SegmentError> {
    let compiled = compile::compile_as(conn, def, now, scale, id)?;
    match index {
        Some(index) => index
            .evaluate(conn, def, now)
            .map(|set| index.ids_of(&set).collect())
            .map_err(|e| match e {
                index::IndexError::Invalid(e) => SegmentError::Invalid(e),
                index::IndexError::Sql { context, source } => SegmentError::Sql { context, source },
                index::IndexError::NoSegment(id) => SegmentError::NotFound(id),
            }),
        None => compile::members(conn, &compiled).map_err(sql("evaluate a segment")),
    }
}

fn add_version(
    conn: &Connection,
    id: i64,
    def: &Definition,
    sentence: &str,
    now: &str,
) -> Result<i64, SegmentError> {
    let version: i64 = conn
        .query_row(
            "SELECT coalesce(max(version), 0) + 1 FROM segment_versions WHERE segment_id = ?1",
            [id],
            |r| r.get(0),
        )
        .map_err(sql("save a version of a segment"))?;
    conn.execute(
        "INSERT INTO segment_versions (segment_id, version, definition, description, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, version, definition_json(def), sentence, now],
    )
    .map_err(sql("save a version of a segment"))?;
    Ok(version)
}

/// Makes `segment_members` of `id` equal to `members` (ascending), and
/// returns who entered and who left.
fn replace_members(
    conn: &Connection,
    id: i64,
    members: &[i64],
) -> Result<ChangeMembers, SegmentError> {
    const WHAT: &str = "save the members of a segment";
    let old: Vec<i64> = {
        let mut stmt = conn
            .prepare(
                "SELECT profile_id FROM segment_members WHERE segment_id = ?1 ORDER BY profile_id",
            )
            .map_err(sql(WHAT))?;
        let rows = stmt
            .query_map([id], |r| r.get(0))
            .map_err(sql(WHAT))?
            .collect::<rusqlite::Result<Vec<i64>>>()
            .map_err(sql(WHAT))?;
        rows
    };
    let (entered, exited) = diff(&old, members);
    let mut delete = conn
        .prepare("DELETE FROM segment_members WHERE segment_id = ?1 AND profile_id = ?2")
        .map_err(sql(WHAT))?;
    for p in &exited {
        delete.execute(params![id, p]).map_err(sql(WHAT))?;
    }
    let mut insert = conn
        .prepare("INSERT OR IGNORE INTO segment_members (segment_id, profile_id) VALUES (?1, ?2)")
        .map_err(sql(WHAT))?;
    for p in &entered {
        insert.execute(params![id, p]).map_err(sql(WHAT))?;
    }
    Ok(ChangeMembers { entered, exited })
}

/// (in `new` only, in `old` only); both ascending and without repeats.
fn diff(old: &[i64], new: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let (mut entered, mut exited) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                exited.push(*a);
                i += 1;
            }
            (Some(_), Some(b)) => {
                entered.push(*b);
                j += 1;
            }
            (Some(a), None) => {
                exited.push(*a);
                i += 1;
            }
            (None, Some(b)) => {
                entered.push(*b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (entered, exited)
}

/// Records a change of a dynamic segment (its size after it, who entered
/// and who left). Nothing is recorded when nobody moved and the segment
/// already has a recorded size.
fn record_change(
    conn: &Connection,
    id: i64,
    change: &ChangeMembers,
    size: usize,
    now: &str,
    import_id: Option<i64>,
) -> Result<(), SegmentError> {
    const WHAT: &str = "record the entries and exits of a segment";
    let known = conn
        .query_row(
            "SELECT 1 FROM segment_changes WHERE segment_id = ?1 LIMIT 1",
            [id],
            |_| Ok(()),
        )
        .optional()
        .map_err(sql(WHAT))?
        .is_some();
    if known && change.entered.is_empty() && change.exited.is_empty() {
        return Ok(());
    }
    conn.execute(
        "INSERT INTO segment_changes (segment_id, at, import_id, members, entered, exited)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            id,
            now,
            import_id,
            size as i64,
            change.entered.len() as i64,
            change.exited.len() as i64
        ],
    )
    .map_err(sql(WHAT))?;
    let change_id = conn.last_insert_rowid();
    let mut insert = conn
        .prepare(
            "INSERT INTO segment_change_members (change_id, profile_id, entered) VALUES (?1, ?2, ?3)",
        )
        .map_err(sql(WHAT))?;
    for p in &change.entered {
        insert
            .execute(params![change_id, p, 1])
            .map_err(sql(WHAT))?;
    }
    for p in &change.exited {
        insert
            .execute(params![change_id, p, 0])
            .map_err(sql(WHAT))?;
    }
    Ok(())
}

/// Saves a dynamic segment: its rule (version 1) and its members now (the
/// first point of its size history). `description` defaults to the rule's
/// sentence. The rule is checked first: an invalid one saves nothing.
pub fn save_dynamic(
    conn: &mut Connection,
    name: &str,
    definition: &Definition,
    description: Option<&str>,
    now: &str,
) -> Result<Segment, SegmentError> {
    save_rule(conn, name, "dynamic", definition, description, now, None)
}

/// [`save_dynamic`] (`kind` "dynamic") or [`save_static_from_rule`]
/// ("static"), evaluating with `index` when given.
pub fn save_rule_with(
    conn: &mut Connection,
    name: &str,
    kind: &str,
    definition: &Definition,
    now: &str,
    index: Option<&index::SegmentIndex>,
) -> Result<Segment, SegmentError> {
    save_rule(conn, name, kind, definition, None, now, index)
}

/// Saves a static segment from a rule: the members the rule gives now
/// (`snapshot_at` = `now`), with the rule kept as version 1 so people can
/// see what it was.
pub fn save_static_from_rule(
    conn: &mut Connection,
    name: &str,
    definition: &Definition,
    description: Option<&str>,
    now: &str,
) -> Result<Segment, SegmentError> {
    save_rule(conn, name, "static", definition, description, now, None)
}

fn save_rule(
    conn: &mut Connection,
    name: &str,
    kind: &str,
    definition: &Definition,
    description: Option<&str>,
    now: &str,
    index: Option<&index::SegmentIndex>,
) -> Result<Segment, SegmentError> {
    let tx = conn.transaction().map_err(sql("save a segment"))?;
    let name = free_name(&tx, name, None)?;
    let (currency, scale) = money_basics(&tx)?;
    let members = evaluate(&tx, definition, now, scale, None, index)?;
    let sentence = describe::describe(&tx, definition, &currency);
    let description = description
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(&sentence);
    let snapshot = (kind == "static").then_some(now);
    tx.execute(
        "INSERT INTO segments (name, kind, description, definition, created_at, updated_at, snapshot_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        params![name, kind, description, definition_json(definition), now, snapshot],
    )
    .map_err(sql("save a segment"))?;
    let id = tx.last_insert_rowid();
    add_version(&tx, id, definition, &sentence, now)?;
    let change = replace_members(&tx, id, &members)?;
    if kind == "dynamic" {
        record_change(&tx, id, &change, members.len(), now, None)?;
    }
    tx.commit().map_err(sql("save a segment"))?;
    get(conn, id)?.ok_or(SegmentError::NotFound(id))
}

/// Saves a new version of a segment's rule. A dynamic segment is evaluated
/// at once (recorded as a change without an import); a static one takes a
/// new snapshot. A description that was the old rule's sentence follows
/// the new one; one people wrote is kept.
pub fn update_definition(
    conn: &mut Connection,
    id: i64,
    definition: &Definition,
    now: &str,
) -> Result<Segment, SegmentError> {
    update_definition_with(conn, id, definition, now, None)
}

/// [`update_definition`], evaluating with `index` when given.
pub fn update_definition_with(
    conn: &mut Connection,
    id: i64,
    definition: &Definition,
    now: &str,
    index: Option<&index::SegmentIndex>,
) -> Result<Segment, SegmentError> {
    let tx = conn.transaction().map_err(sql("update a segment"))?;
    let Some(row) = compile::segment_row(&tx, id).map_err(sql("update a segment"))? else {
        return Err(SegmentError::NotFound(id));
    };
    let (currency, scale) = money_basics(&tx)?;
    let members = evaluate(&tx, definition, now, scale, Some(id), index)?;
    let sentence = describe::describe(&tx, definition, &currency);
    let old_sentence: Option<String> = tx
        .query_row(
            "SELECT description FROM segment_versions WHERE segment_id = ?1
              ORDER BY version DESC LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("update a segment"))?;
    let description: Option<String> = tx
        .query_row(
            "SELECT description FROM segments WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .map_err(sql("update a segment"))?;
    let automatic = description.is_none() || description == old_sentence;
    add_version(&tx, id, definition, &sentence, now)?;
    tx.execute(
        "UPDATE segments SET definition = ?2, updated_at = ?3,
                description = CASE WHEN ?4 THEN ?5 ELSE description END,
                snapshot_at = CASE WHEN kind = 'static' THEN ?3 ELSE snapshot_at END
          WHERE id = ?1",
        params![id, definition_json(definition), now, automatic, sentence],
    )
    .map_err(sql("update a segment"))?;
    let change = replace_members(&tx, id, &members)?;
    if row.kind == "dynamic" {
        record_change(&tx, id, &change, members.len(), now, None)?;
    }
    tx.commit().map_err(sql("update a segment"))?;
    get(conn, id)?.ok_or(SegmentError::NotFound(id))
}

/// The latest rule of a segment, if it has one.
pub fn definition(conn: &Connection, id: i64) -> Result<Option<Definition>, SegmentError> {
    let Some(row) = compile::segment_row(conn, id).map_err(sql("read a segment"))? else {
        return Err(SegmentError::NotFound(id));
    };
    row.definition
        .map(|d| {
            Definition::from_json(&d).map_err(|detail| SegmentError::Unreadable {
                name: row.name.clone(),
                detail,
            })
        })
        .transpose()
}

/// The members of a segment, ascending: a static segment's stored ones, a
/// dynamic segment's rule evaluated now.
pub fn members_of(
    conn: &Connection,
    id: i64,
    now: &str,
    scale: i64,
) -> Result<Vec<i64>, SegmentError> {
    let Some(row) = compile::segment_row(conn, id).map_err(sql("read a segment"))? else {
        return Err(SegmentError::NotFound(id));
    };
    if row.kind == "dynamic" {
        let def = definition(conn, id)?.ok_or_else(|| SegmentError::Unreadable {
            name: row.name.clone(),
            detail: "a dynamic segment without a rule".into(),
        })?;
        return evaluate(conn, &def, now, scale, Some(id), None);
    }
    let mut stmt = conn
        .prepare("SELECT profile_id FROM segment_members WHERE segment_id = ?1 ORDER BY profile_id")
        .map_err(sql("read the members of a segment"))?;
    let rows = stmt
        .query_map([id], |r| r.get(0))
        .map_err(sql("read the members of a segment"))?
        .collect::<rusqlite::Result<Vec<i64>>>()
        .map_err(sql("read the members of a segment"))?;
    Ok(rows)
}

/// Evaluates every dynamic segment, and for each records who entered and
/// who left since its last evaluation (`segment_changes`,
/// `segment_change_members`) and keeps the new members in
/// `segment_members`; all in one transaction. A segment whose rule no
/// longer compiles is left as it was and reported in `skipped`.
pub fn refresh_dynamic(
    conn: &mut Connection,
    now: &str,
    import_id: Option<i64>,
) -> Result<RefreshReport, SegmentError> {
    refresh_dynamic_with(conn, now, import_id, None)
}

/// [`refresh_dynamic`], evaluating the rules with `index` when given (a
/// current one: behaviour rules over millions of events take the index
/// milliseconds and SQLite minutes). Rules are still compiled first, so
/// invalid ones are skipped the same way.
pub fn refresh_dynamic_with(
    conn: &mut Connection,
    now: &str,
    import_id: Option<i64>,
    index: Option<&index::SegmentIndex>,
) -> Result<RefreshReport, SegmentError> {
    let tx = conn
        .transaction()
        .map_err(sql("refresh the dynamic segments"))?;
    let (_, scale) = money_basics(&tx)?;
    let dynamic: Vec<(i64, String, Option<String>)> = {
        let mut stmt = tx
            .prepare("SELECT id, name, definition FROM segments WHERE kind = 'dynamic' ORDER BY id")
            .map_err(sql("refresh the dynamic segments"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql("refresh the dynamic segments"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("refresh the dynamic segments"))?;
        rows
    };
    let mut report = RefreshReport::default();
    for (id, name, text) in dynamic {
        let def = match text.as_deref().map(Definition::from_json) {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                report.skipped.push(Skipped {
                    id,
                    name,
                    reason: e,
                });
                continue;
            }
            None => {
                report.skipped.push(Skipped {
                    id,
                    name,
                    reason: "a dynamic segment without a rule".into(),
                });
                continue;
            }
        };
        let evaluated = evaluate(&tx, &def, now, scale, Some(id), index);
        let members = match evaluated {
            Ok(m) => m,
            Err(SegmentError::Invalid(e)) => {
                report.skipped.push(Skipped {
                    id,
                    name,
                    reason: e.message,
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        let change = replace_members(&tx, id, &members)?;
        record_change(&tx, id, &change, members.len(), now, import_id)?;
        report.refreshed.push(Refreshed {
            id,
            name,
            members: members.len() as u64,
            entered: change.entered.len() as u64,
            exited: change.exited.len() as u64,
        });
    }
    tx.commit().map_err(sql("refresh the dynamic segments"))?;
    Ok(report)
}

/// Whether a dynamic segment's rule reads events or orders (what an
/// import's refresh may want the index for).
pub fn dynamic_reads_behaviour(conn: &Connection) -> Result<bool, SegmentError> {
    let mut stmt = conn
        .prepare("SELECT definition FROM segments WHERE kind = 'dynamic'")
        .map_err(sql("look for dynamic segments"))?;
    let rules = stmt
        .query_map([], |r| r.get::<_, Option<String>>(0))
        .map_err(sql("look for dynamic segments"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("look for dynamic segments"))?;
    Ok(rules
        .iter()
        .flatten()
        .any(|text| Definition::from_json(text).is_ok_and(|d| d.reads_behaviour())))
}

/// A dynamic segment's size over time, oldest first.
pub fn history(conn: &Connection, id: i64) -> Result<Vec<SizePoint>, SegmentError> {
    let mut stmt = conn
        .prepare(
            "SELECT id, at, import_id, members, entered, exited FROM segment_changes
              WHERE segment_id = ?1 ORDER BY at, id",
        )
        .map_err(sql("read the history of a segment"))?;
    let rows = stmt
        .query_map([id], |r| {
            Ok(SizePoint {
                change_id: r.get(0)?,
                at: r.get(1)?,
                import_id: r.get(2)?,
                members: r.get(3)?,
                entered: r.get(4)?,
                exited: r.get(5)?,
            })
        })
        .map_err(sql("read the history of a segment"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("read the history of a segment"))?;
    Ok(rows)
}

/// Who entered and who left in one recorded change.
pub fn change_members(conn: &Connection, change_id: i64) -> Result<ChangeMembers, SegmentError> {
    let mut stmt = conn
        .prepare(
            "SELECT profile_id, entered FROM segment_change_members
              WHERE change_id = ?1 ORDER BY profile_id",
        )
        .map_err(sql("read a change of a segment"))?;
    let mut out = ChangeMembers::default();
    let rows = stmt
        .query_map([change_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?))
        })
        .map_err(sql("read a change of a segment"))?;
    for row in rows {
        let (p, entered) = row.map_err(sql("read a change of a segment"))?;
        if entered {
            out.entered.push(p);
        } else {
            out.exited.push(p);
        }
    }
    Ok(out)
}

/// How many profiles each pair of segments shares: `m[i][j]` for `ids[i]`
/// and `ids[j]`; the diagonal holds the sizes.
pub fn overlap(
    conn: &Connection,
    ids: &[i64],
    now: &str,
    scale: i64,
) -> Result<Vec<Vec<u64>>, SegmentError> {
    let sets = ids
        .iter()
        .map(|&id| members_of(conn, id, now, scale))
        .collect::<Result<Vec<_>, _>>()?;
    let mut m = vec![vec![0u64; ids.len()]; ids.len()];
    for i in 0..sets.len() {
        for j in i..sets.len() {
            let n = intersection(&sets[i], &sets[j]);
            m[i][j] = n;
            m[j][i] = n;
        }
    }
    Ok(m)
}

fn intersection(a: &[i64], b: &[i64]) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

fn uses_segment(g: &Group, id: i64) -> bool {
    g.conditions.iter().any(|c| match c {
        Condition::Group(inner) => uses_segment(inner, id),
        Condition::Segment(s) => s.segment == id,
        _ => false,
    })
}

/// Deletes a segment with its members, versions and history. Refused
/// while another segment's rule or a campaign uses it.
pub fn delete(conn: &mut Connection, id: i64) -> Result<(), SegmentError> {
    let tx = conn.transaction().map_err(sql("delete a segment"))?;
    let Some(row) = compile::segment_row(&tx, id).map_err(sql("delete a segment"))? else {
        return Err(SegmentError::NotFound(id));
    };
    let mut users: Vec<String> = Vec::new();
    {
        let mut stmt = tx
            .prepare(
                "SELECT name, definition FROM segments
                  WHERE id <> ?1 AND definition IS NOT NULL ORDER BY name",
            )
            .map_err(sql("delete a segment"))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(sql("delete a segment"))?;
        for r in rows {
            let (name, text) = r.map_err(sql("delete a segment"))?;
            if Definition::from_json(&text).is_ok_and(|d| uses_segment(&d.root, id)) {
                users.push(format!("the segment “{name}”"));
            }
        }
        let mut stmt = tx
            .prepare("SELECT name FROM campaigns WHERE segment_id = ?1 ORDER BY name")
            .map_err(sql("delete a segment"))?;
        let rows = stmt
            .query_map([id], |r| r.get::<_, String>(0))
            .map_err(sql("delete a segment"))?;
        for r in rows {
            users.push(format!(
                "the campaign “{}”",
                r.map_err(sql("delete a segment"))?
            ));
        }
    }
    if !users.is_empty() {
        return Err(SegmentError::InUse {
            name: row.name,
            users: users.join(", "),
        });
    }
    for statement in [
        "DELETE FROM segment_change_members WHERE change_id IN
             (SELECT id FROM segment_changes WHERE segment_id = ?1)",
        "DELETE FROM segment_changes WHERE segment_id = ?1",
        "DELETE FROM segment_versions WHERE segment_id = ?1",
        "DELETE FROM segment_members WHERE segment_id = ?1",
        "DELETE FROM segments WHERE id = ?1",
    ] {
        tx.execute(statement, [id])
            .map_err(sql("delete a segment"))?;
    }
    tx.commit().map_err(sql("delete a segment"))?;
    Ok(())
}

/// Every version of a segment's rule, oldest first.
pub fn versions(conn: &Connection, id: i64) -> Result<Vec<SegmentVersion>, SegmentError> {
    let mut stmt = conn
        .prepare(
            "SELECT version, definition, description, created_at FROM segment_versions
              WHERE segment_id = ?1 ORDER BY version",
        )
        .map_err(sql("read the versions of a segment"))?;
    let rows = stmt
        .query_map([id], |r| {
            let text: String = r.get(1)?;
            Ok(SegmentVersion {
                version: r.get(0)?,
                definition: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
                description: r.get(2)?,
                created_at: r.get(3)?,
            })
        })
        .map_err(sql("read the versions of a segment"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("read the versions of a segment"))?;
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

    use crate::segments::testkit::{self, NOW};

    fn def(conditions: serde_json::Value) -> Definition {
        Definition::from_value(serde_json::json!({
            "version": 1,
            "root": {"match": "all", "conditions": conditions}
        }))
        .unwrap()
    }

    fn country(code: &str) -> Definition {
        def(serde_json::json!([
            {"type": "field", "field": "country", "op": "eq", "value": code}
        ]))
    }

    fn top_country(conn: &Connection) -> String {
        conn.query_row(
            "SELECT country FROM profiles WHERE country IS NOT NULL
              GROUP BY country ORDER BY count(*) DESC, country LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn dynamic_segments_version_refresh_and_record_entries_and_exits() {
        let (_dir, mut ws) = testkit::demo();
        let top = top_country(ws.conn());
        let s = save_dynamic(ws.conn_mut(), "Locals", &country(&top), None, NOW).unwrap();
        assert_eq!(s.kind, "dynamic");
        assert_eq!(s.version, Some(1));
        assert_eq!(
            s.description.as_deref(),
            Some(format!("Profiles in {top}").as_str())
        );
        let n: u64 = ws
            .conn()
            .query_row(
                "SELECT count(*) FROM profiles WHERE country = ?1",
                [&top],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(s.members, n);
        assert_eq!(
            members_of(ws.conn(), s.id, NOW, 100).unwrap().len() as u64,
            n
        );
        let h = history(ws.conn(), s.id).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].members, h[0].entered, h[0].exited), (n, n, 0));

        // Nothing changed: nothing recorded.
        let r = refresh_dynamic(ws.conn_mut(), "2026-11-02T00:00:00Z", None).unwrap();
        assert_eq!(r.refreshed.len(), 1);
        assert_eq!((r.refreshed[0].entered, r.refreshed[0].exited), (0, 0));
        assert_eq!(history(ws.conn(), s.id).unwrap().len(), 1);

        // Two people move in, one moves away.
        let inside: i64 = ws
            .conn()
            .query_row(
                "SELECT min(id) FROM profiles WHERE country = ?1",
                [&top],
                |r| r.get(0),
            )
            .unwrap();
        let outside: Vec<i64> = {
            let mut stmt = ws
                .conn()
                .prepare("SELECT id FROM profiles WHERE country IS NOT ?1 ORDER BY id LIMIT 2")
                .unwrap();
            stmt.query_map([&top], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        ws.conn()
            .execute("UPDATE profiles SET country = 'ZZ' WHERE id = ?1", [inside])
            .unwrap();
        for id in &outside {
            ws.conn()
                .execute(
                    "UPDATE profiles SET country = ?2 WHERE id = ?1",
                    params![id, top],
                )
                .unwrap();
        }
        let r = refresh_dynamic(ws.conn_mut(), "2026-11-03T00:00:00Z", Some(7)).unwrap();
        assert_eq!(r.refreshed[0].members, n + 1);
        assert_eq!((r.refreshed[0].entered, r.refreshed[0].exited), (2, 1));
        let h = history(ws.conn(), s.id).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].import_id, Some(7));
        assert_eq!(h[1].members, n + 1);
        let moved = change_members(ws.conn(), h[1].change_id).unwrap();
        let mut want = outside.clone();
        want.sort_unstable();
        assert_eq!(moved.entered, want);
        assert_eq!(moved.exited, vec![inside]);
        assert_eq!(get(ws.conn(), s.id).unwrap().unwrap().members, n + 1);

        // A new version of the rule.
        let s2 =
            update_definition(ws.conn_mut(), s.id, &country("ZZ"), "2026-11-04T00:00:00Z").unwrap();
        assert_eq!(s2.version, Some(2));
        assert_eq!(s2.members, 1);
        assert_eq!(
            s2.description.as_deref(),
            Some("Profiles in ZZ"),
            "the sentence follows the rule"
        );
        let v = versions(ws.conn(), s.id).unwrap();
        assert_eq!(v.iter().map(|v| v.version).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(v[0].description, format!("Profiles in {top}"));
        assert_eq!(
            Definition::from_value(v[1].definition.clone()).unwrap(),
            country("ZZ")
        );
        assert_eq!(history(ws.conn(), s.id).unwrap().len(), 3);

        // An invalid rule changes nothing.
        let bad =
            def(serde_json::json!([{"type": "field", "field": "nope", "op": "eq", "value": 1}]));
        assert!(matches!(
            update_definition(ws.conn_mut(), s.id, &bad, NOW),
            Err(SegmentError::Invalid(_))
        ));
        assert!(matches!(
            save_dynamic(ws.conn_mut(), "Bad", &bad, None, NOW),
            Err(SegmentError::Invalid(_))
        ));
        assert_eq!(versions(ws.conn(), s.id).unwrap().len(), 2);
        assert_eq!(list(ws.conn()).unwrap().len(), 1);
    }

    #[test]
    fn cycles_are_refused_and_used_segments_cannot_be_deleted() {
        let (_dir, mut ws) = testkit::demo();
        let top = top_country(ws.conn());
        let a = save_dynamic(ws.conn_mut(), "A", &country(&top), None, NOW).unwrap();
        let uses = |id: i64| def(serde_json::json!([{"type": "segment", "segment": id}]));
        let b = save_dynamic(ws.conn_mut(), "B", &uses(a.id), None, NOW).unwrap();
        assert_eq!(b.members, a.members);
        let c = save_dynamic(ws.conn_mut(), "C", &uses(b.id), None, NOW).unwrap();
        assert_eq!(c.members, a.members);
        // A → C → B → A
        let e = update_definition(ws.conn_mut(), a.id, &uses(c.id), NOW).unwrap_err();
        let SegmentError::Invalid(e) = e else {
            panic!("{e}")
        };
        assert_eq!(e.path, vec![0]);
        assert!(e.message.contains("goes round in a circle"), "{e}");
        assert!(e.message.contains("“A” → “C” → “B” → “A”"), "{e}");
        // Itself, inside a nested group.
        let itself = def(serde_json::json!([
            {"type": "field", "field": "orders", "op": "ge", "value": 0},
            {"type": "group", "match": "any", "conditions": [{"type": "segment", "segment": a.id}]}
        ]));
        let SegmentError::Invalid(e) =
            update_definition(ws.conn_mut(), a.id, &itself, NOW).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(e.path, vec![1, 0]);
        assert!(
            e.message
                .starts_with("condition 2 › 1 (in the segment “A”)"),
            "{e}"
        );

        let e = delete(ws.conn_mut(), a.id).unwrap_err();
        assert!(matches!(e, SegmentError::InUse { .. }), "{e}");
        assert!(e.to_string().contains("“B”"), "{e}");
        delete(ws.conn_mut(), c.id).unwrap();
        delete(ws.conn_mut(), b.id).unwrap();
        delete(ws.conn_mut(), a.id).unwrap();
        assert!(list(ws.conn()).unwrap().is_empty());
        assert!(matches!(
            delete(ws.conn_mut(), a.id),
            Err(SegmentError::NotFound(_))
        ));
        let left: i64 = ws
            .conn()
            .query_row(
                "SELECT (SELECT count(*) FROM segment_members) + (SELECT count(*) FROM segment_versions)
                      + (SELECT count(*) FROM segment_changes) + (SELECT count(*) FROM segment_change_members)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn static_snapshots_and_overlaps() {
        let (_dir, mut ws) = testkit::demo();
        let top = top_country(ws.conn());
        let buyers = def(serde_json::json!([
            {"type": "field", "field": "orders", "op": "ge", "value": 1}
        ]));
        let snap =
            save_static_from_rule(ws.conn_mut(), "Buyers then", &buyers, Some("  "), NOW).unwrap();
        assert_eq!(snap.kind, "static");
        assert_eq!(snap.snapshot_at.as_deref(), Some(NOW));
        assert_eq!(snap.version, Some(1));
        let local = save_dynamic(ws.conn_mut(), "Locals", &country(&top), None, NOW).unwrap();
        let before = members_of(ws.conn(), snap.id, NOW, 100).unwrap();
        assert_eq!(before.len() as u64, snap.members);
        // The snapshot does not follow the data; the dynamic segment does.
        ws.conn().execute("DELETE FROM profile_traits", []).unwrap();
        assert_eq!(members_of(ws.conn(), snap.id, NOW, 100).unwrap(), before);
        let m = overlap(ws.conn(), &[snap.id, local.id], NOW, 100).unwrap();
        let locals = members_of(ws.conn(), local.id, NOW, 100).unwrap();
        let both = locals
            .iter()
            .filter(|id| before.binary_search(id).is_ok())
            .count() as u64;
        assert_eq!(
            m,
            vec![
                vec![before.len() as u64, both],
                vec![both, locals.len() as u64]
            ]
        );
        assert!(both > 0 && both < locals.len() as u64);
        assert!(matches!(
            save_static_from_rule(ws.conn_mut(), "Locals", &buyers, None, NOW),
            Err(SegmentError::NameTaken(_))
        ));
        assert!(matches!(
            members_of(ws.conn(), 999, NOW, 100),
            Err(SegmentError::NotFound(999))
        ));
    }
}
