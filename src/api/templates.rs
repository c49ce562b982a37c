//! The template and content-block commands: requests in, engine calls,
//! answers out. `cohort::templates` decides everything; its types
//! (`Template`, `Variant`, `LintReport`, `Translation`, …) are already the
//! JSON the UI reads.
//!
//! Commands: `templates`, `template_get`, `template_save`,
//! `template_delete`, `template_variables`, `template_preview`,
//! `template_lint`, `template_translate`, `content_blocks`,
//! `content_block_save`, `content_block_delete`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::{out, parse, ApiError};
use crate::segments::live::LiveCounts;
use crate::store::Workspace;
use crate::templates::{
    self, BlockRule, ContentBlock, LintReport, PreviewRecipient, TemplateError, Tool, Variant,
};

impl From<TemplateError> for ApiError {
    fn from(e: TemplateError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

/// The commands this module answers.
pub const COMMANDS: &[&str] = &[
    "templates",
    "template_get",
    "template_save",
    "template_delete",
    "template_variables",
    "template_preview",
    "template_lint",
    "template_translate",
    "content_blocks",
    "content_block_save",
    "content_block_delete",
];

#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct TemplateIdRequest {
    pub id: i64,
}

/// Create (no `id`) or replace a template.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct TemplateSaveRequest {
    #[serde(default)]
    pub id: Option<i64>,
    pub name: String,
    pub variants: Vec<Variant>,
}

/// Render a draft for one profile, or a seeded random sample of a segment
/// (or of everyone), every variant side by side.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct TemplatePreviewRequest {
    pub variants: Vec<Variant>,
    #[serde(default)]
    pub profile_id: Option<i64>,
    #[serde(default)]
    pub segment_id: Option<i64>,
    /// Recipients in the sample (default 3, at most 50).
    #[serde(default)]
    pub sample: Option<u32>,
    /// Same seed, same sample.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Fills `campaign.*` (default: a stand-in named "Preview").
    #[serde(default)]
    pub campaign_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TemplatePreview {
    pub recipients: Vec<PreviewRecipient>,
}

/// Lint a draft over a segment's members (default: every profile).
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct TemplateLintRequest {
    pub variants: Vec<Variant>,
    #[serde(default)]
    pub segment_id: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct TemplateTranslateRequest {
    pub variants: Vec<Variant>,
    pub tool: Tool,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct ContentBlockSaveRequest {
    pub name: String,
    pub body: String,
    #[serde(default)]
    pub rules: Vec<BlockRule>,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct ContentBlockNameRequest {
    pub name: String,
}

fn not_found(id: i64) -> ApiError {
    ApiError::new("not_found", format!("There is no template #{id}."))
}

/// The members of a segment now (the live index when it is warm).
fn members(
    ws: &Workspace,
    live: &LiveCounts,
    segment_id: i64,
    now: &str,
) -> Result<Vec<i64>, ApiError> {
    if crate::segments::get(ws.conn(), segment_id)?.is_none() {
        return Err(ApiError::new(
            "not_found",
            format!("There is no segment #{segment_id}."),
        ));
    }
    let mut ids = live.segment_members_now(ws.conn(), ws.path(), segment_id, now)?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Answers one of [`COMMANDS`].
pub(super) fn call(
    ws: &mut Workspace,
    live: &LiveCounts,
    command: &str,
    payload: Value,
    now: &str,
) -> Result<Value, ApiError> {
    match command {
        "templates" => out(templates::list(ws.conn())?),
        "template_get" => {
            let req: TemplateIdRequest = parse(payload)?;
            out(templates::get(ws.conn(), req.id)?.ok_or_else(|| not_found(req.id))?)
        }
        "template_save" => {
            let req: TemplateSaveRequest = parse(payload)?;
            out(templates::save(
                ws.conn_mut(),
                req.id,
                &req.name,
                &req.variants,
                now,
            )?)
        }
        "template_delete" => {
            let req: TemplateIdRequest = parse(payload)?;
            templates::delete(ws.conn(), req.id)?;
            out(serde_json::json!({}))
        }
        "template_variables" => out(templates::variables(ws.conn())?),
        "template_preview" => {
            let req: TemplatePreviewRequest = parse(payload)?;
            let n = req
                .sample
                .unwrap_or(3)
                .clamp(1, templates::preview::MAX_SAMPLE as u32) as usize;
            let seed = req.seed.unwrap_or(0);
            let ids = match (req.profile_id, req.segment_id) {
                (Some(id), _) => vec![id],
                (None, Some(s)) => templates::preview::sample(&members(ws, live, s, now)?, n, seed),
                (None, None) => templates::preview::sample(
                    &templates::preview::all_profiles(ws.conn())?,
                    n,
                    seed,
                ),
            };
            let campaign = match req.campaign_id {
                Some(id) => Some(crate::campaigns::get(ws.conn(), id)?.ok_or_else(|| {
                    ApiError::new("not_found", format!("There is no campaign #{id}."))
                })?),
                None => None,
            };
            let recipients =
                templates::preview(ws.conn(), &req.variants, &ids, campaign.as_ref(), now)?;
            if let (Some(id), true) = (req.profile_id, recipients.is_empty()) {
                return Err(ApiError::new(
                    "not_found",
                    format!("There is no profile #{id}."),
                ));
            }
            out(TemplatePreview { recipients })
        }
        "template_lint" => {
            let req: TemplateLintRequest = parse(payload)?;
            let ids = match req.segment_id {
                Some(s) => members(ws, live, s, now)?,
                None => templates::preview::all_profiles(ws.conn())?,
            };
            let report: LintReport =
                templates::lint(ws.conn(), &req.variants, &ids, now, &mut |_, _| {})?;
            out(report)
        }
        "template_translate" => {
            let req: TemplateTranslateRequest = parse(payload)?;
            let blocks = templates::blocks(ws.conn())?;
            out(templates::translate(&req.variants, &blocks, req.tool))
        }
        "content_blocks" => out(templates::blocks(ws.conn())?),
        "content_block_save" => {
            let req: ContentBlockSaveRequest = parse(payload)?;
            out(templates::save_block(
                ws.conn(),
                &ContentBlock {
                    name: req.name,
                    body: req.body,
                    rules: req.rules,
                    updated_at: String::new(),
                },
                now,
            )?)
        }
        "content_block_delete" => {
            let req: ContentBlockNameRequest = parse(payload)?;
            templates::delete_block(ws.conn(), &req.name)?;
            out(serde_json::json!({}))
        }
        other => Err(ApiError::new(
            "unknown_command",
            format!("There is no command `{other}`."),
        )),
    }
}
