//! Personalised content in campaign exports.
//!
//! A campaign names its template; its export can carry:
//!
//! - `columns`: the generic CSV gets `subject`, `preheader`, `html`, `text`
//!   and `variant` columns, rendered per recipient;
//! - `eml` / `eml_zip`: one .eml message per recipient (`{profile id}.eml`)
//!   in a folder or a zip, instead of a CSV;
//! - `merge_tags`: the audience file for Mailchimp or Klaviyo as usual,
//!   with the template translated to the tool's merge syntax written
//!   beside it (`{name}-{variant}-{tool}.html` / `.txt`) and a report of
//!   what could not be translated (`{name}-{tool}-translation.txt`).
//!
//! Every recipient gets the variant `holdout::variant_of(salt, n, id)`
//! gives, so the split is the same in every export and in the results;
//! with more than one variant, audience files for email tools get a
//! `Variant` column so the tool can send each group its version. The
//! export writes who got which variant to `campaign_sends` in its
//! transaction (see `campaigns::export::export_with`).
//!
//! A recipient whose message cannot be rendered stops the export with the
//! variant, part, line, cause and profile: nobody gets half a message.

use rayon::prelude::*;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::context::{CampaignInfo, ContextLoader, Recipient};
use super::eml::{self, EmlWriter};
use super::render::{Options, RenderError, Rendered, TemplateSet};
use super::translate::{translate, Tool};
use super::{Result, TemplateError};
use crate::campaigns::export::{ExportRequest, ExportSummary, Personalisation};
use crate::campaigns::formats::Format;
use crate::campaigns::holdout::variant_of;
use crate::campaigns::{Campaign, CampaignError, Channel};

/// What personalised content an export carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "ExportContent")]
#[serde(rename_all = "snake_case")]
pub enum Content {
    /// Rendered subject, preheader, HTML, text and variant columns (CSV).
    Columns,
    /// One .eml file per recipient, in a folder.
    Eml,
    /// One .eml file per recipient, in a zip.
    EmlZip,
    /// The template in the email tool's merge syntax, beside the audience file.
    MergeTags,
}

impl Content {
    pub fn as_str(self) -> &'static str {
        match self {
            Content::Columns => "columns",
            Content::Eml => "eml",
            Content::EmlZip => "eml_zip",
            Content::MergeTags => "merge_tags",
        }
    }
}

impl std::str::FromStr for Content {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Content> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "columns" => Ok(Content::Columns),
            "eml" => Ok(Content::Eml),
            "eml_zip" | "zip" => Ok(Content::EmlZip),
            "merge_tags" | "merge" => Ok(Content::MergeTags),
            other => Err(TemplateError::UnknownContent(other.to_owned())),
        }
    }
}

/// The sender of .eml messages when none is given.
pub const PLACEHOLDER_SENDER: &str = "Cohort <no-reply@example.invalid>";

/// The variant names of the campaign's template; empty without a template
/// (or when the template no longer exists).
pub fn variant_names(conn: &Connection, campaign: &Campaign) -> Result<Vec<String>, CampaignError> {
    let Some(name) = campaign.template.as_deref() else {
        return Ok(Vec::new());
    };
    match super::get_by_name(conn, name) {
        Ok(Some(t)) => Ok(t.variants.into_iter().map(|v| v.name).collect()),
        Ok(None) => Ok(Vec::new()),
        Err(TemplateError::Sql { context, source }) => Err(CampaignError::Sql { context, source }),
        Err(e) => Err(CampaignError::Content {
            code: e.code(),
            message: e.to_string(),
        }),
    }
}

fn content_error(code: &'static str, message: String) -> CampaignError {
    CampaignError::Content { code, message }
}

fn render_failed(id: i64, e: &RenderError) -> CampaignError {
    content_error(
        "render_failed",
        format!(
            "profile #{id}: {e}. Nothing was exported; fix the template (lint lists every recipient it fails for) and export again"
        ),
    )
}

fn template_error(e: TemplateError) -> CampaignError {
    match e {
        TemplateError::Sql { context, source } => CampaignError::Sql { context, source },
        TemplateError::Campaign(c) => c,
        other => content_error(other.code(), other.to_string()),
    }
}

enum Mode {
    /// Only a `Variant` column (fixed-layout files), or nothing.
    VariantColumn(bool),
    Columns,
    Files(Box<EmlWriter>),
}

/// The export's [`Personalisation`]: variant split, rendering, files.
struct Personalised {
    names: Vec<String>,
    salt: String,
    mode: Mode,
    render: Option<(TemplateSet, ContextLoader)>,
    from: String,
    date: String,
    id_stamp: String,
    campaign_id: i64,
    logged: Option<&'static str>,
}

impl Personalised {
    fn variant_index(&self, id: i64) -> usize {
        variant_of(&self.salt, self.names.len().max(1), id)
    }

    /// Renders `ids` in parallel; recipients in id order.
    fn rendered(
        &self,
        conn: &Connection,
        ids: &[i64],
    ) -> std::result::Result<Vec<(Recipient, Rendered)>, CampaignError> {
        let (set, loader) = self.render.as_ref().expect("content modes render");
        let recipients = loader.load(conn, ids).map_err(template_error)?;
        recipients
            .into_par_iter()
            .map(|r| {
                let v = self.variant_index(r.id);
                match set.render(v, &r) {
                    Ok(out) => Ok((r, out)),
                    Err(e) => Err(render_failed(r.id, &e)),
                }
            })
            .collect()
    }
}

impl Personalisation for Personalised {
    fn variant(&self, id: i64) -> String {
        if self.names.is_empty() {
            return String::new();
        }
        self.names[self.variant_index(id)].clone()
    }

    fn headers(&self) -> Vec<String> {
        match self.mode {
            Mode::VariantColumn(true) => vec!["Variant".into()],
            Mode::Columns => ["subject", "preheader", "html", "text", "variant"]
                .map(String::from)
                .to_vec(),
            _ => Vec::new(),
        }
    }

    fn render(
        &mut self,
        conn: &Connection,
        ids: &[i64],
        cells: &mut [String],
    ) -> std::result::Result<(), CampaignError> {
        match self.mode {
            Mode::VariantColumn(true) => {
                for (cell, &id) in cells.iter_mut().zip(ids) {
                    *cell = self.variant(id);
                }
            }
            Mode::Columns => {
                let rendered = self.rendered(conn, ids)?;
                // Profiles read in the same pass as the rows: one each, in order.
                let mut rows = cells.chunks_mut(5);
                let mut at = 0usize;
                for (r, out) in rendered {
                    while at < ids.len() && ids[at] < r.id {
                        rows.next();
                        at += 1;
                    }
                    let Some(row) = rows.next() else { break };
                    at += 1;
                    row[0] = out.subject;
                    row[1] = out.preheader;
                    row[2] = out.html;
                    row[3] = out.text;
                    row[4] = self.names[self.variant_index(r.id)].clone();
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn writes_files(&self) -> bool {
        matches!(self.mode, Mode::Files(_))
    }

    fn write_files(
        &mut self,
        conn: &Connection,
        ids: &[i64],
    ) -> std::result::Result<(), CampaignError> {
        let rendered = self.rendered(conn, ids)?;
        let messages: Vec<(i64, Vec<u8>)> = rendered
            .par_iter()
            .map(|(r, out)| {
                let message_id = format!(
                    "cohort.{}.{}.{}@cohort.invalid",
                    self.campaign_id, r.id, self.id_stamp
                );
                let bytes = eml::message(&eml::Message {
                    from: &self.from,
                    to_name: &r.full_name,
                    to_email: r.email.as_deref().unwrap_or(""),
                    subject: &out.subject,
                    preheader: &out.preheader,
                    html: &out.html,
                    text: &out.text,
                    date: &self.date,
                    message_id: &message_id,
                });
                (r.id, bytes)
            })
            .collect();
        let Mode::Files(writer) = &mut self.mode else {
            return Ok(());
        };
        for (id, bytes) in messages {
            writer
                .add(&format!("{id}.eml"), &bytes)
                .map_err(template_error)?;
        }
        Ok(())
    }

    fn finish_files(&mut self) -> std::result::Result<(String, u64), CampaignError> {
        match &mut self.mode {
            Mode::Files(w) => w.finish().map_err(template_error),
            _ => Ok((String::new(), 0)),
        }
    }

    fn publish_files(&mut self) -> std::result::Result<(), CampaignError> {
        match &mut self.mode {
            Mode::Files(w) => w.publish().map_err(template_error),
            _ => Ok(()),
        }
    }

    fn unpublish_files(&mut self) {
        if let Mode::Files(w) = &mut self.mode {
            w.unpublish();
        }
    }

    fn logged_format(&self) -> Option<&'static str> {
        self.logged
    }
}

/// RFC 5322 date of an ISO 8601 time.
fn rfc5322(now: &str) -> String {
    super::render::parse_time(now)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// Exports a campaign like `campaigns::export::export_with`, with
/// `content` from its template (see the module doc). `sender` is the From
/// of .eml messages.
#[allow(clippy::too_many_arguments)]
pub fn export_campaign(
    conn: &mut Connection,
    campaign: &Campaign,
    members: &[i64],
    request: &ExportRequest,
    content: Option<Content>,
    sender: Option<&str>,
    segment_version: Option<i64>,
    definition_json: Option<String>,
    now: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportSummary> {
    let format = request.format;
    let template = match &campaign.template {
        Some(name) => super::get_by_name(conn, name)?,
        None => None,
    };
    let mut warnings = Vec::new();
    if let (Some(name), None) = (&campaign.template, &template) {
        warnings.push(format!(
            "the campaign's template “{name}” does not exist any more; no variant was recorded"
        ));
    }
    let names: Vec<String> = template
        .as_ref()
        .map(|t| t.variants.iter().map(|v| v.name.clone()).collect())
        .unwrap_or_default();
    if content.is_some() && template.is_none() {
        return Err(TemplateError::Invalid(format!(
            "campaign “{}” has no template; give it one before exporting {} content",
            campaign.name,
            content.map(Content::as_str).unwrap_or_default()
        )));
    }
    let needs_email = matches!(content, Some(Content::Eml | Content::EmlZip));
    if needs_email && campaign.channel != Channel::Email {
        return Err(TemplateError::Invalid(format!(
            "campaign “{}” is on the {} channel; .eml messages are for email campaigns",
            campaign.name, campaign.channel
        )));
    }
    if content == Some(Content::Columns) && format != Format::Csv {
        return Err(TemplateError::Invalid(format!(
            "rendered columns go in the generic CSV (format csv), not a {} file",
            format.label()
        )));
    }
    let tool = match (content, format) {
        (Some(Content::MergeTags), Format::Mailchimp) => Some(Tool::Mailchimp),
        (Some(Content::MergeTags), Format::Klaviyo) => Some(Tool::Klaviyo),
        (Some(Content::MergeTags), other) => {
            return Err(TemplateError::Invalid(format!(
                "merge tags are for Mailchimp or Klaviyo exports, not {}",
                other.label()
            )))
        }
        _ => None,
    };
    let from = match sender.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.contains('@') => s.to_owned(),
        Some(s) => {
            return Err(TemplateError::Invalid(format!(
                "“{s}” is not a sender address (e.g. \"Shop <news@shop.example>\")"
            )))
        }
        None => {
            if needs_email {
                warnings.push(format!(
                    "no sender given: the messages are from {PLACEHOLDER_SENDER}; set one before sending"
                ));
            }
            PLACEHOLDER_SENDER.to_owned()
        }
    };

    let renders = matches!(
        content,
        Some(Content::Columns | Content::Eml | Content::EmlZip)
    );
    let render = match (&template, renders) {
        (Some(t), true) => {
            let set = TemplateSet::for_workspace(conn, &t.variants, &Options::default())?;
            let info = CampaignInfo {
                name: campaign.name.clone(),
                channel: campaign.channel.as_str().to_owned(),
            };
            let loader = ContextLoader::new(conn, &set.needs(), &info, &names, now)?;
            Some((set, loader))
        }
        _ => None,
    };
    let mode = match content {
        Some(Content::Columns) => Mode::Columns,
        Some(Content::Eml) => Mode::Files(Box::new(EmlWriter::create(&request.path, false)?)),
        Some(Content::EmlZip) => Mode::Files(Box::new(EmlWriter::create(&request.path, true)?)),
        // Email tools' files say who gets which variant.
        Some(Content::MergeTags) | None => {
            Mode::VariantColumn(names.len() > 1 && !format.is_hashed())
        }
    };
    let logged = match content {
        Some(Content::Eml) => Some("eml"),
        Some(Content::EmlZip) => Some("eml_zip"),
        _ => None,
    };
    let id_stamp: String = now.chars().filter(char::is_ascii_digit).collect();
    let mut personalised = Personalised {
        names: if format.is_hashed() {
            Vec::new()
        } else {
            names
        },
        salt: campaign.salt.clone(),
        mode,
        render,
        from,
        date: rfc5322(now),
        id_stamp,
        campaign_id: campaign.id,
        logged,
    };
    let mut summary = crate::campaigns::export::export_with(
        conn,
        campaign,
        members,
        request,
        Some(&mut personalised),
        segment_version,
        definition_json,
        now,
        progress,
    )?;
    summary.warnings.extend(warnings);

    if let (Some(tool), Some(t)) = (tool, &template) {
        let blocks = super::blocks(conn)?;
        let translation = translate(&t.variants, &blocks, tool);
        let written = write_translation(&request.path, &translation)?;
        summary.warnings.push(format!(
            "{} template written beside the audience file: {}{}",
            tool.label(),
            written.join(", "),
            if translation.complete {
                String::new()
            } else {
                format!(
                    "; {} thing(s) could not be translated (see the report)",
                    translation.untranslatable.len()
                )
            }
        ));
    }
    Ok(summary)
}

/// Writes each variant's HTML and text in the tool's syntax, and the
/// report, beside `audience`; returns the file names.
pub fn write_translation(
    audience: &std::path::Path,
    translation: &super::Translation,
) -> Result<Vec<String>> {
    let stem = audience
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "campaign".into());
    let tool = translation.tool.as_str();
    let mut written = Vec::new();
    let mut write = |name: String, body: &str| -> Result<()> {
        let path = audience.with_file_name(&name);
        std::fs::write(&path, body).map_err(|source| TemplateError::Io { path, source })?;
        written.push(name);
        Ok(())
    };
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect()
    };
    let mut report = translation.report();
    for v in &translation.variants {
        write(format!("{stem}-{}-{tool}.html", safe(&v.name)), &v.html)?;
        if !v.text.is_empty() {
            write(format!("{stem}-{}-{tool}.txt", safe(&v.name)), &v.text)?;
        }
        report.push_str(&format!(
            "\nVariant {}\n  Subject: {}\n  Preheader: {}\n",
            v.name, v.subject, v.preheader
        ));
    }
    write(format!("{stem}-{tool}-translation.txt"), &report)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_names() {
        for c in [
            Content::Columns,
            Content::Eml,
            Content::EmlZip,
            Content::MergeTags,
        ] {
            assert_eq!(c.as_str().parse::<Content>().unwrap(), c);
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        assert!("pdf".parse::<Content>().is_err());
        assert_eq!(
            rfc5322("2026-11-01T12:00:00Z"),
            "Sun, 01 Nov 2026 12:00:00 +0000"
        );
    }
}
