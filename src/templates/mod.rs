//! Personalised templates: a subject, preheader, HTML body and plain-text
//! body per A/B variant, written in minijinja (Jinja2's syntax), rendered
//! for each recipient from their profile, traits, segments, cluster,
//! consent and recommendations.
//!
//! ```text
//! templates, content_blocks ──compile──▶ TemplateSet (one minijinja Environment, shared by threads)
//! profile ids ──ContextLoader (range scans)──▶ Recipient contexts ──render (fuel, size cap)──▶ Rendered
//!                                                               ──lint──▶ LintReport
//! template ──translate──▶ Mailchimp / Klaviyo merge syntax + what could not be translated
//! campaign export ──send──▶ rendered columns · .eml files (folder or zip) · merge-tag files
//! ```
//!
//! Code map:
//! - `mod.rs`: [`Template`], [`Variant`], [`ContentBlock`], CRUD and
//!   [`TemplateError`].
//! - `syntax.rs`: a lexer of template source into text, `{{ … }}` and
//!   `{% … %}` pieces with lines, and the simple expressions merge tags
//!   can express.
//! - `context.rs`: what a template sees per recipient ([`context::Recipient`]),
//!   the bulk [`context::ContextLoader`] and the variable catalogue.
//! - `render.rs`: [`render::TemplateSet`]: the sandboxed environment,
//!   filters (`money`, `date`, `ago`, `default`, `pluralize`), content
//!   blocks, limits.
//! - `preview.rs`, `lint.rs`, `translate.rs`, `eml.rs`: preview, lint,
//!   merge-tag translation, .eml messages.
//! - `send.rs`: personalised content in campaign exports.
//!
//! **Architecture invariant:** a template can read only the context it is
//! given: no loader, no include, no file, network or environment access;
//! every render is bounded by fuel and by output size, so a bad template
//! fails for that recipient instead of hanging the app.

pub(crate) mod bounds;
pub mod context;
pub mod eml;
pub mod lint;
pub mod preview;
pub mod render;
pub mod send;
pub mod syntax;
#[doc(hidden)]
pub mod testdata;
pub mod translate;

use std::collections::HashSet;
use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

pub use context::{variables, ContextLoader, Recipient, Variable};
pub use lint::{lint, Issue, LintReport, Severity};
pub use preview::{preview, PreviewRecipient, PreviewVariant};
pub use render::{RenderError, Rendered, TemplateSet};
pub use send::{export_campaign, Content};
pub use translate::{translate, Tool, Translation};

/// The four parts of a variant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS,
)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Subject,
    Preheader,
    Html,
    Text,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::Subject, Part::Preheader, Part::Html, Part::Text];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Preheader => "preheader",
            Part::Html => "html",
            Part::Text => "text",
        }
    }

    /// How a marketer names it in a sentence.
    pub fn label(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Preheader => "preheader",
            Part::Html => "HTML body",
            Part::Text => "plain-text body",
        }
    }

    pub fn parse(s: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One A/B variant of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Variant {
    /// "A", "B", … (unique within the template).
    pub name: String,
    pub subject: String,
    #[serde(default)]
    pub preheader: String,
    #[serde(default)]
    pub html: String,
    /// The plain-text body; empty means none (lint warns).
    #[serde(default)]
    pub text: String,
}

impl Variant {
    pub fn part(&self, part: Part) -> &str {
        match part {
            Part::Subject => &self.subject,
            Part::Preheader => &self.preheader,
            Part::Html => &self.html,
            Part::Text => &self.text,
        }
    }
}

/// A saved template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Template {
    pub id: i64,
    pub name: String,
    pub variants: Vec<Variant>,
    pub created_at: String,
    pub updated_at: String,
}

/// A content block: a reusable snippet (`{{ block("footer") }}`), or, with
/// rules, content that depends on the recipient's segments: the first rule
/// whose segment the recipient is in wins, else `body`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ContentBlock {
    pub name: String,
    /// The snippet, or the fallback of a rule-based block.
    pub body: String,
    #[serde(default)]
    pub rules: Vec<BlockRule>,
    #[serde(default)]
    pub updated_at: String,
}

/// "Show `body` to members of segment `segment_id`."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct BlockRule {
    pub segment_id: i64,
    pub body: String,
}

/// Most variants a template may have.
pub const MAX_VARIANTS: usize = 26;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    #[error("a template needs a name")]
    EmptyName,
    #[error("there is already a template named “{0}”; pick another name")]
    NameTaken(String),
    #[error("there is no template {0}")]
    NotFound(String),
    #[error("a template needs at least one variant with a subject")]
    NoVariants,
    #[error("a template has at most {MAX_VARIANTS} variants, not {0}")]
    TooManyVariants(usize),
    #[error("variant {0}: every variant needs a name")]
    EmptyVariantName(usize),
    #[error("two variants are named “{0}”; variant names must differ")]
    DuplicateVariant(String),
    #[error("variant {variant}: the subject is empty")]
    EmptySubject { variant: String },
    /// A part that does not compile (or uses a filter or function that does
    /// not exist).
    #[error("variant {variant}, {part}{}: {cause}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Compile {
        variant: String,
        part: Part,
        line: Option<usize>,
        cause: String,
    },
    #[error("content block “{block}”{}{}: {cause}", rule.map(|r| format!(", rule {r}")).unwrap_or_default(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    BlockCompile {
        block: String,
        /// 1-based rule number; None for the fallback body.
        rule: Option<usize>,
        line: Option<usize>,
        cause: String,
    },
    #[error("content block names are letters, digits, `_` and `-` (e.g. `footer`, `hero-banner`), not “{0}”")]
    BadBlockName(String),
    #[error("there is no content block “{0}”")]
    BlockNotFound(String),
    #[error("content block “{block}”: there is no segment with id {segment_id}")]
    UnknownSegment { block: String, segment_id: i64 },
    #[error("template “{template}” is used by campaign “{campaign}”; give the campaign another template first")]
    InUse { template: String, campaign: String },
    #[error("{0}")]
    Invalid(String),
    #[error("unknown tool `{0}`; use mailchimp or klaviyo")]
    UnknownTool(String),
    #[error("unknown content `{0}`; use columns, eml, eml_zip or merge_tags")]
    UnknownContent(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Campaign(#[from] crate::campaigns::CampaignError),
    #[error(transparent)]
    Segment(#[from] crate::segments::SegmentError),
    /// The consent settings could not be read; the message says which.
    #[error("{0}")]
    Consent(String),
    #[error("could not {context}: {source}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
}

impl TemplateError {
    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            TemplateError::NotFound(_) | TemplateError::BlockNotFound(_) => "not_found",
            TemplateError::Compile { .. } | TemplateError::BlockCompile { .. } => "template_syntax",
            TemplateError::Io { .. } => "io",
            TemplateError::Sql { .. } | TemplateError::Consent(_) => "store",
            TemplateError::Campaign(e) => e.code(),
            TemplateError::Segment(e) => e.code(),
            _ => "invalid",
        }
    }
}

pub type Result<T, E = TemplateError> = std::result::Result<T, E>;

pub(crate) fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> TemplateError {
    move |source| TemplateError::Sql { context, source }
}

// ---- templates -------------------------------------------------------------

const SELECT: &str = "SELECT id, name, variants, created_at, updated_at FROM templates";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Template> {
    let variants: String = r.get(2)?;
    Ok(Template {
        id: r.get(0)?,
        name: r.get(1)?,
        variants: serde_json::from_str(&variants).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

/// Every template, by name.
pub fn list(conn: &Connection) -> Result<Vec<Template>> {
    let mut stmt = conn
        .prepare(&format!("{SELECT} ORDER BY name COLLATE NOCASE, id"))
        .map_err(sql("list the templates"))?;
    let rows = stmt
        .query_map([], from_row)
        .map_err(sql("list the templates"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("list the templates"))?;
    Ok(rows)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Template>> {
    conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id], from_row)
        .optional()
        .map_err(sql("read a template"))
}

/// A template by exact name, else by name ignoring case.
pub fn get_by_name(conn: &Connection, name: &str) -> Result<Option<Template>> {
    let name = name.trim();
    let exact = conn
        .query_row(&format!("{SELECT} WHERE name = ?1"), [name], from_row)
        .optional()
        .map_err(sql("read a template"))?;
    if exact.is_some() {
        return Ok(exact);
    }
    conn.query_row(
        &format!("{SELECT} WHERE name = ?1 COLLATE NOCASE ORDER BY id LIMIT 1"),
        [name],
        from_row,
    )
    .optional()
    .map_err(sql("read a template"))
}

/// A template by id (digits) or name, for the CLI and the campaign export.
pub fn find(conn: &Connection, what: &str) -> Result<Template> {
    if let Ok(id) = what.trim().parse::<i64>() {
        if let Some(t) = get(conn, id)? {
            return Ok(t);
        }
    }
    get_by_name(conn, what)?.ok_or_else(|| TemplateError::NotFound(format!("“{}”", what.trim())))
}

/// Checks variant names and subjects, then that every part compiles with
/// the workspace's content blocks; returns the variants cleaned (names
/// trimmed, a lone unnamed variant called "A").
pub fn check_variants(conn: &Connection, variants: &[Variant]) -> Result<Vec<Variant>> {
    let variants = clean_variants(variants)?;
    let blocks = blocks(conn)?;
    render::TemplateSet::compile(&variants, &blocks, &render::Options::default())?;
    Ok(variants)
}

/// Names and subjects, without compiling.
pub(crate) fn clean_variants(variants: &[Variant]) -> Result<Vec<Variant>> {
    if variants.is_empty() {
        return Err(TemplateError::NoVariants);
    }
    if variants.len() > MAX_VARIANTS {
        return Err(TemplateError::TooManyVariants(variants.len()));
    }
    let mut out: Vec<Variant> = variants.to_vec();
    let lone = out.len() == 1;
    let mut seen = HashSet::new();
    for (i, v) in out.iter_mut().enumerate() {
        v.name = v.name.trim().to_owned();
        if v.name.is_empty() {
            if lone {
                v.name = "A".into();
            } else {
                return Err(TemplateError::EmptyVariantName(i + 1));
            }
        }
        if !seen.insert(v.name.to_lowercase()) {
            return Err(TemplateError::DuplicateVariant(v.name.clone()));
        }
        if v.subject.trim().is_empty() {
            return Err(TemplateError::EmptySubject {
                variant: v.name.clone(),
            });
        }
    }
    Ok(out)
}

/// Creates (`id` None) or replaces a template. Every part must compile;
/// renaming a template renames it in the campaigns that use it.
pub fn save(
    conn: &mut Connection,
    id: Option<i64>,
    name: &str,
    variants: &[Variant],
    now: &str,
) -> Result<Template> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TemplateError::EmptyName);
    }
    let variants = check_variants(conn, variants)?;
    let json = serde_json::to_string(&variants).expect("variants serialise");
    let taken: Option<i64> = conn
        .query_row(
            "SELECT id FROM templates WHERE name = ?1 COLLATE NOCASE",
            [name],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("check the template name"))?;
    if taken.is_some() && taken != id {
        return Err(TemplateError::NameTaken(name.to_owned()));
    }
    let tx = conn.transaction().map_err(sql("save the template"))?;
    let id = match id {
        Some(id) => {
            let old: String = tx
                .query_row("SELECT name FROM templates WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(sql("read a template"))?
                .ok_or_else(|| TemplateError::NotFound(format!("#{id}")))?;
            tx.execute(
                "UPDATE templates SET name = ?2, variants = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, name, json, now],
            )
            .map_err(sql("save the template"))?;
            if old != name {
                // Campaigns refer to their template by name.
                tx.execute(
                    "UPDATE campaigns SET template = ?2 WHERE template = ?1",
                    params![old, name],
                )
                .map_err(sql("rename the template in its campaigns"))?;
            }
            id
        }
        None => {
            tx.execute(
                "INSERT INTO templates (name, variants, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                params![name, json, now],
            )
            .map_err(sql("save the template"))?;
            tx.last_insert_rowid()
        }
    };
    tx.commit().map_err(sql("save the template"))?;
    get(conn, id)?.ok_or_else(|| TemplateError::NotFound(format!("#{id}")))
}

/// Deletes a template; refused while a campaign uses it.
pub fn delete(conn: &Connection, id: i64) -> Result<()> {
    let t = get(conn, id)?.ok_or_else(|| TemplateError::NotFound(format!("#{id}")))?;
    let used: Option<String> = conn
        .query_row(
            "SELECT name FROM campaigns WHERE template = ?1 COLLATE NOCASE ORDER BY id LIMIT 1",
            [&t.name],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("check the template's campaigns"))?;
    if let Some(campaign) = used {
        return Err(TemplateError::InUse {
            template: t.name,
            campaign,
        });
    }
    conn.execute("DELETE FROM templates WHERE id = ?1", [id])
        .map_err(sql("delete the template"))?;
    Ok(())
}

// ---- content blocks --------------------------------------------------------

/// Every content block, by name.
pub fn blocks(conn: &Connection) -> Result<Vec<ContentBlock>> {
    let mut stmt = conn
        .prepare("SELECT name, body, rules, updated_at FROM content_blocks ORDER BY name")
        .map_err(sql("list the content blocks"))?;
    let rows = stmt
        .query_map([], |r| {
            let rules: String = r.get(2)?;
            Ok(ContentBlock {
                name: r.get(0)?,
                body: r.get(1)?,
                rules: serde_json::from_str(&rules).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        2,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?,
                updated_at: r.get(3)?,
            })
        })
        .map_err(sql("list the content blocks"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("list the content blocks"))?;
    Ok(rows)
}

fn check_block_name(name: &str) -> Result<String> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(TemplateError::BadBlockName(name.to_owned()))
    }
}

/// Creates or replaces a content block. Its bodies must compile and its
/// rules must name existing segments.
pub fn save_block(conn: &Connection, block: &ContentBlock, now: &str) -> Result<ContentBlock> {
    let name = check_block_name(&block.name)?;
    for rule in &block.rules {
        let exists = conn
            .query_row(
                "SELECT 1 FROM segments WHERE id = ?1",
                [rule.segment_id],
                |_| Ok(()),
            )
            .optional()
            .map_err(sql("look up the block's segment"))?;
        if exists.is_none() {
            return Err(TemplateError::UnknownSegment {
                block: name,
                segment_id: rule.segment_id,
            });
        }
    }
    let block = ContentBlock {
        name: name.clone(),
        body: block.body.clone(),
        rules: block.rules.clone(),
        updated_at: now.to_owned(),
    };
    render::check_block(&block)?;
    conn.execute(
        "INSERT INTO content_blocks (name, body, rules, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET body = excluded.body, rules = excluded.rules,
                                          updated_at = excluded.updated_at",
        params![
            name,
            block.body,
            serde_json::to_string(&block.rules).expect("rules serialise"),
            now
        ],
    )
    .map_err(sql("save the content block"))?;
    Ok(block)
}

pub fn delete_block(conn: &Connection, name: &str) -> Result<()> {
    let n = conn
        .execute("DELETE FROM content_blocks WHERE name = ?1", [name.trim()])
        .map_err(sql("delete the content block"))?;
    if n == 0 {
        return Err(TemplateError::BlockNotFound(name.trim().to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
