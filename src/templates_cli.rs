//! The template and content-block commands of the CLI: flags in, engine
//! calls, tables or JSON out.

use crate::now_iso;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use cohort::segments::{self, live};
use cohort::store::Workspace;
use cohort::templates::{self, BlockRule, ContentBlock, Severity, Tool, Variant};

use crate::table;

#[derive(Subcommand)]
pub enum TemplateCommand {
    /// Save a template (replacing one of the same name). Repeat --variant
    /// for A/B variants; each of --subject, --preheader, --html and --text
    /// is given once (shared) or once per variant.
    Save {
        name: String,
        /// Subject line (minijinja: `Hi {{ profile.first_name | default("there") }}`).
        #[arg(long)]
        subject: Vec<String>,
        /// Preheader text.
        #[arg(long)]
        preheader: Vec<String>,
        /// HTML body file.
        #[arg(long)]
        html: Vec<PathBuf>,
        /// Plain-text body file.
        #[arg(long)]
        text: Vec<PathBuf>,
        /// Variant names (default: one variant, A).
        #[arg(long = "variant")]
        variants: Vec<String>,
        /// A JSON file of variants instead: [{"name","subject","preheader","html","text"}].
        #[arg(long = "variants", conflicts_with_all = ["subject", "preheader", "html", "text", "variants"])]
        variants_file: Option<PathBuf>,
    },
    /// Every template.
    List,
    /// A template's variants.
    Show { template: String },
    /// Render a template for a profile, or a random sample of a segment's members.
    Preview {
        template: String,
        #[arg(long, conflicts_with = "segment")]
        profile: Option<i64>,
        /// A segment (id or name).
        #[arg(long)]
        segment: Option<String>,
        /// Recipients to sample from the segment (or from everyone).
        #[arg(long, default_value_t = 3)]
        sample: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print the HTML body instead of the text body.
        #[arg(long)]
        html: bool,
    },
    /// Render a template for every member of a segment (default: everyone) and report problems.
    Lint {
        template: String,
        #[arg(long)]
        segment: Option<String>,
    },
    /// Translate a template to an email tool's merge tags, with what cannot be translated.
    Translate {
        template: String,
        /// mailchimp or klaviyo.
        #[arg(long)]
        tool: String,
        /// Also write the variants' HTML and text and the report beside this file name.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Delete a template (refused while a campaign uses it).
    Delete { template: String },
}

#[derive(Subcommand)]
pub enum BlockCommand {
    /// Save a content block: a snippet, or with --rule SEGMENT=FILE (repeatable, first match wins) content by segment, --body being the fallback.
    Save {
        name: String,
        #[arg(long)]
        body: PathBuf,
        /// SEGMENT=FILE: members of SEGMENT (id or name) see FILE.
        #[arg(long = "rule", value_name = "SEGMENT=FILE")]
        rules: Vec<String>,
    },
    /// Every content block.
    List,
    /// Delete a content block.
    Delete { name: String },
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn find_segment(ws: &Workspace, what: &str) -> Result<segments::Segment> {
    if let Ok(id) = what.parse::<i64>() {
        if let Some(s) = segments::get(ws.conn(), id)? {
            return Ok(s);
        }
    }
    segments::list(ws.conn())?
        .into_iter()
        .find(|s| s.name.eq_ignore_ascii_case(what.trim()))
        .with_context(|| format!("there is no segment “{what}” (see `cohort segments`)"))
}

fn members(ws: &Workspace, segment: &segments::Segment) -> Result<Vec<i64>> {
    let mut ids = live::LiveCounts::new().segment_members_now(
        ws.conn(),
        ws.path(),
        segment.id,
        &now_iso(),
    )?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The i-th of values given once (shared) or once per variant.
fn nth<T: Clone>(values: &[T], i: usize, what: &str, n: usize) -> Result<Option<T>> {
    match values.len() {
        0 => Ok(None),
        1 => Ok(Some(values[0].clone())),
        len if len == n => Ok(Some(values[i].clone())),
        len => {
            bail!("{len} values of --{what} for {n} variants: give one (shared) or one per variant")
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn variants_from_flags(
    names: &[String],
    subjects: &[String],
    preheaders: &[String],
    htmls: &[PathBuf],
    texts: &[PathBuf],
) -> Result<Vec<Variant>> {
    let n = [
        names.len(),
        subjects.len(),
        preheaders.len(),
        htmls.len(),
        texts.len(),
        1,
    ]
    .into_iter()
    .max()
    .unwrap_or(1);
    if subjects.is_empty() {
        bail!("give a --subject (or --variants FILE)");
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let name = match names.get(i) {
            Some(name) => name.clone(),
            None if names.is_empty() => ((b'A' + (i % 26) as u8) as char).to_string(),
            None => bail!("{} --variant names for {n} variants", names.len()),
        };
        out.push(Variant {
            name,
            subject: nth(subjects, i, "subject", n)?.unwrap_or_default(),
            preheader: nth(preheaders, i, "preheader", n)?.unwrap_or_default(),
            html: match nth(htmls, i, "html", n)? {
                Some(p) => read(&p)?,
                None => String::new(),
            },
            text: match nth(texts, i, "text", n)? {
                Some(p) => read(&p)?,
                None => String::new(),
            },
        });
    }
    Ok(out)
}

pub fn template(ws_path: &Path, what: TemplateCommand, json: bool) -> Result<()> {
    match what {
        TemplateCommand::Save {
            name,
            subject,
            preheader,
            html,
            text,
            variants,
            variants_file,
        } => {
            let variants = match variants_file {
                Some(f) => serde_json::from_str::<Vec<Variant>>(&read(&f)?)
                    .with_context(|| format!("{}: not a JSON list of variants", f.display()))?,
                None => variants_from_flags(&variants, &subject, &preheader, &html, &text)?,
            };
            let mut ws = Workspace::open_existing(ws_path)?;
            let existing = templates::get_by_name(ws.conn(), &name)?.map(|t| t.id);
            let t = templates::save(ws.conn_mut(), existing, &name, &variants, &now_iso())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                println!(
                    "Saved template #{} “{}” with {} variant{} ({}).",
                    t.id,
                    t.name,
                    t.variants.len(),
                    if t.variants.len() == 1 { "" } else { "s" },
                    t.variants
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        TemplateCommand::List => {
            let ws = Workspace::open_existing(ws_path)?;
            let list = templates::list(ws.conn())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            let mut t = table(
                [
                    "id",
                    "name",
                    "variants",
                    "subject (first variant)",
                    "updated",
                ]
                .map(String::from),
            );
            for tpl in &list {
                t.add_row(vec![
                    tpl.id.to_string(),
                    tpl.name.clone(),
                    tpl.variants
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    crate::truncate(
                        tpl.variants
                            .first()
                            .map(|v| v.subject.as_str())
                            .unwrap_or(""),
                        50,
                    ),
                    tpl.updated_at.clone(),
                ]);
            }
            println!("{t}");
        }
        TemplateCommand::Show { template } => {
            let ws = Workspace::open_existing(ws_path)?;
            let t = templates::find(ws.conn(), &template)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
                return Ok(());
            }
            println!("#{} {} (updated {})", t.id, t.name, t.updated_at);
            for v in &t.variants {
                println!("\n== Variant {}", v.name);
                println!("Subject:   {}", v.subject);
                if !v.preheader.is_empty() {
                    println!("Preheader: {}", v.preheader);
                }
                println!(
                    "HTML:      {}",
                    if v.html.is_empty() {
                        "none".to_owned()
                    } else {
                        format!("{} lines", v.html.lines().count())
                    }
                );
                println!(
                    "Text:      {}",
                    if v.text.is_empty() {
                        "none".to_owned()
                    } else {
                        format!("{} lines", v.text.lines().count())
                    }
                );
            }
        }
        TemplateCommand::Preview {
            template,
            profile,
            segment,
            sample,
            seed,
            html,
        } => {
            let ws = Workspace::open_existing(ws_path)?;
            let t = templates::find(ws.conn(), &template)?;
            let ids = match (profile, segment) {
                (Some(id), _) => vec![id],
                (None, Some(s)) => {
                    let s = find_segment(&ws, &s)?;
                    templates::preview::sample(&members(&ws, &s)?, sample, seed)
                }
                (None, None) => templates::preview::sample(
                    &templates::preview::all_profiles(ws.conn())?,
                    sample,
                    seed,
                ),
            };
            let recipients = templates::preview(ws.conn(), &t.variants, &ids, None, &now_iso())?;
            if let (Some(id), true) = (profile, recipients.is_empty()) {
                bail!("there is no profile #{id}");
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "recipients": recipients }))?
                );
                return Ok(());
            }
            for r in &recipients {
                println!(
                    "=== Profile #{}{}{}",
                    r.profile_id,
                    // Without a name or email the preview calls it by its id.
                    if r.name == format!("Profile #{}", r.profile_id) {
                        String::new()
                    } else {
                        format!(" {}", r.name)
                    },
                    if r.segments.is_empty() {
                        String::new()
                    } else {
                        format!(" (in {})", r.segments.join(", "))
                    }
                );
                for v in &r.variants {
                    println!("--- Variant {}", v.name);
                    println!("Subject:   {}", v.subject);
                    if !v.preheader.is_empty() {
                        println!("Preheader: {}", v.preheader);
                    }
                    if let Some(e) = &v.error {
                        println!("ERROR:     {e}");
                    }
                    let body = if html || v.text.is_empty() {
                        &v.html
                    } else {
                        &v.text
                    };
                    println!("{}\n", body.trim_end());
                }
            }
        }
        TemplateCommand::Lint { template, segment } => {
            let ws = Workspace::open_existing(ws_path)?;
            let t = templates::find(ws.conn(), &template)?;
            let (ids, who) = match segment {
                Some(s) => {
                    let s = find_segment(&ws, &s)?;
                    (members(&ws, &s)?, format!("segment “{}”", s.name))
                }
                None => (
                    templates::preview::all_profiles(ws.conn())?,
                    "every profile".to_owned(),
                ),
            };
            let report = templates::lint(ws.conn(), &t.variants, &ids, &now_iso(), &mut |_, _| {})?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            println!(
                "Linted “{}” for {} recipients of {who} in {:.2} s: {} rendered, {} error(s), {} warning(s).",
                t.name, report.recipients, report.seconds, report.rendered, report.errors, report.warnings
            );
            if !report.issues.is_empty() {
                let mut tbl = table(["", "recipients", "where", "finding"].map(String::from));
                for i in &report.issues {
                    let mark = match i.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                        Severity::Info => "info",
                    };
                    let place = [
                        i.variant.clone().map(|v| format!("variant {v}")),
                        i.part.map(|p| p.to_string()),
                        i.line.map(|l| format!("line {l}")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                    tbl.add_row(vec![
                        mark.to_owned(),
                        if i.count > 0 {
                            i.count.to_string()
                        } else {
                            String::new()
                        },
                        place,
                        i.message.clone(),
                    ]);
                }
                println!("{tbl}");
            }
        }
        TemplateCommand::Translate {
            template,
            tool,
            out,
        } => {
            let ws = Workspace::open_existing(ws_path)?;
            let t = templates::find(ws.conn(), &template)?;
            let tool: Tool = tool.parse()?;
            let translation =
                templates::translate(&t.variants, &templates::blocks(ws.conn())?, tool);
            let written = match &out {
                Some(path) => templates::send::write_translation(path, &translation)?,
                None => Vec::new(),
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "translation": translation, "files": written
                    }))?
                );
                return Ok(());
            }
            for v in &translation.variants {
                println!("=== Variant {} ({})", v.name, tool.label());
                println!("Subject:   {}", v.subject);
                if !v.preheader.is_empty() {
                    println!("Preheader: {}", v.preheader);
                }
                println!("--- HTML\n{}", v.html.trim_end());
                if !v.text.is_empty() {
                    println!("--- Text\n{}", v.text.trim_end());
                }
                println!();
            }
            print!("{}", translation.report());
            if !written.is_empty() {
                println!("Wrote {}", written.join(", "));
            }
        }
        TemplateCommand::Delete { template } => {
            let ws = Workspace::open_existing(ws_path)?;
            let t = templates::find(ws.conn(), &template)?;
            templates::delete(ws.conn(), t.id)?;
            if json {
                println!("{}", serde_json::json!({ "deleted": t.id }));
            } else {
                println!("Deleted template #{} “{}”.", t.id, t.name);
            }
        }
    }
    Ok(())
}

pub fn block(ws_path: &Path, what: BlockCommand, json: bool) -> Result<()> {
    match what {
        BlockCommand::Save { name, body, rules } => {
            let ws = Workspace::open_existing(ws_path)?;
            let mut parsed = Vec::new();
            for r in &rules {
                let (segment, file) = r
                    .rsplit_once('=')
                    .with_context(|| format!("--rule `{r}` should look like SEGMENT=FILE"))?;
                let s = find_segment(&ws, segment)?;
                parsed.push(BlockRule {
                    segment_id: s.id,
                    body: read(Path::new(file))?,
                });
            }
            let b = templates::save_block(
                ws.conn(),
                &ContentBlock {
                    name,
                    body: read(&body)?,
                    rules: parsed,
                    updated_at: String::new(),
                },
                &now_iso(),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&b)?);
            } else if b.rules.is_empty() {
                println!(
                    "Saved content block “{}” (use it with {{{{ block(\"{}\") }}}}).",
                    b.name, b.name
                );
            } else {
                println!(
                    "Saved content block “{}” with {} rule(s) by segment and a fallback (use it with {{{{ block(\"{}\") }}}}).",
                    b.name,
                    b.rules.len(),
                    b.name
                );
            }
        }
        BlockCommand::List => {
            let ws = Workspace::open_existing(ws_path)?;
            let list = templates::blocks(ws.conn())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            let mut t = table(["name", "rules", "body", "updated"].map(String::from));
            for b in &list {
                t.add_row(vec![
                    b.name.clone(),
                    b.rules.len().to_string(),
                    crate::truncate(&b.body.replace('\n', " "), 60),
                    b.updated_at.clone(),
                ]);
            }
            println!("{t}");
        }
        BlockCommand::Delete { name } => {
            let ws = Workspace::open_existing(ws_path)?;
            templates::delete_block(ws.conn(), &name)?;
            if json {
                println!("{}", serde_json::json!({ "deleted": name }));
            } else {
                println!("Deleted content block “{name}”.");
            }
        }
    }
    Ok(())
}
