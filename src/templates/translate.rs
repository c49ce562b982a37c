//! Templates in the merge syntax of email tools that personalise messages
//! themselves, for marketers who send from Mailchimp or Klaviyo with the
//! audience file Cohort exports.
//!
//! Only what the tool can do is translated: printing a profile field the
//! tool's import fills (first and last name, email, phone, company; for
//! Klaviyo also city, region, country and postcode), optionally with a
//! fallback (`default`) and case filters (`title`, `upper`, `lower`), and
//! content blocks that are plain snippets. Everything else (conditions,
//! loops, recommendations, traits, segments, money and date filters, …)
//! is kept as written and reported with its line and why, so the marketer
//! can rebuild it in the tool or export rendered content instead.
//!
//! | Cohort | Mailchimp | Klaviyo |
//! |---|---|---|
//! | `{{ profile.first_name }}` | `*\|FNAME\|*` | `{{ first_name }}` |
//! | `{{ profile.last_name }}` | `*\|LNAME\|*` | `{{ last_name }}` |
//! | `{{ profile.email }}` | `*\|EMAIL\|*` | `{{ email }}` |
//! | `{{ profile.phone }}` | `*\|PHONE\|*` | `{{ person.phone_number }}` |
//! | `{{ profile.company }}` | `*\|COMPANY\|*` | `{{ organization }}` |
//! | `{{ profile.city }}` | – | `{{ person\|lookup:'$city' }}` (region, country, zip alike) |
//! | `\| default("there")` | `*\|IF:FNAME\|*…*\|ELSE:\|*there*\|END:IF\|*` | `\|default:'there'` |
//! | `\| title` / `upper` / `lower` | `*\|TITLE:FNAME\|*` / `UPPER:` / `LOWER:` | `\|title` / `\|upper` / `\|lower` |

use serde::{Deserialize, Serialize};

use super::syntax::{pieces, simple_expr, Head, Literal, PieceKind};
use super::{ContentBlock, Part, TemplateError, Variant};

/// An email tool with its own merge syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    Mailchimp,
    Klaviyo,
}

impl Tool {
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Mailchimp => "mailchimp",
            Tool::Klaviyo => "klaviyo",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Tool::Mailchimp => "Mailchimp",
            Tool::Klaviyo => "Klaviyo",
        }
    }
}

impl std::str::FromStr for Tool {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Tool, TemplateError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mailchimp" => Ok(Tool::Mailchimp),
            "klaviyo" => Ok(Tool::Klaviyo),
            other => Err(TemplateError::UnknownTool(other.to_owned())),
        }
    }
}

/// One variant in the tool's syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct TranslatedVariant {
    pub name: String,
    pub subject: String,
    pub preheader: String,
    pub html: String,
    pub text: String,
}

/// Something that could not be translated, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Untranslatable {
    pub variant: String,
    pub part: Part,
    pub line: usize,
    /// The source as written (`{% for item in recommendations %}`).
    pub source: String,
    pub reason: String,
}

/// A template in a tool's syntax, and what could not be translated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Translation {
    pub tool: Tool,
    pub variants: Vec<TranslatedVariant>,
    /// True when everything was translated.
    pub complete: bool,
    pub untranslatable: Vec<Untranslatable>,
    /// Things to check in the tool (e.g. a merge tag the import names).
    pub notes: Vec<String>,
}

impl Translation {
    /// The report as text: a header, then one line per problem.
    pub fn report(&self) -> String {
        let mut out = String::new();
        if self.complete {
            out.push_str(&format!(
                "Everything was translated to {} merge syntax.\n",
                self.tool.label()
            ));
        } else {
            out.push_str(&format!(
                "{} thing(s) could not be translated to {} and are kept as written:\n",
                self.untranslatable.len(),
                self.tool.label()
            ));
            for u in &self.untranslatable {
                out.push_str(&format!(
                    "- variant {}, {}, line {}: {} — {}\n",
                    u.variant,
                    u.part,
                    u.line,
                    u.source.trim(),
                    u.reason
                ));
            }
        }
        for n in &self.notes {
            out.push_str(&format!("Note: {n}\n"));
        }
        out
    }
}

/// The tool's way to print a profile field, if it has one.
fn field(tool: Tool, name: &str) -> Option<&'static str> {
    Some(match (tool, name) {
        (Tool::Mailchimp, "first_name") => "FNAME",
        (Tool::Mailchimp, "last_name") => "LNAME",
        (Tool::Mailchimp, "email") => "EMAIL",
        (Tool::Mailchimp, "phone") => "PHONE",
        (Tool::Mailchimp, "company") => "COMPANY",
        (Tool::Klaviyo, "first_name") => "first_name",
        (Tool::Klaviyo, "last_name") => "last_name",
        (Tool::Klaviyo, "email") => "email",
        (Tool::Klaviyo, "phone") => "person.phone_number",
        (Tool::Klaviyo, "company") => "organization",
        (Tool::Klaviyo, "city") => "person|lookup:'$city'",
        (Tool::Klaviyo, "region") => "person|lookup:'$region'",
        (Tool::Klaviyo, "country") => "person|lookup:'$country'",
        (Tool::Klaviyo, "postcode") => "person|lookup:'$zip'",
        _ => return None,
    })
}

/// Why a variable cannot be translated, in the marketer's words.
fn why_not(tool: Tool, path: &str) -> String {
    let root = path.split('.').next().unwrap_or(path);
    match root {
        "recommendations" => format!(
            "recommendations are Cohort's; {} does not have them (export rendered content instead: columns or .eml)",
            tool.label()
        ),
        "segments" | "cluster" => format!("{} does not know Cohort's segments and clusters", tool.label()),
        "consent" => format!("{} keeps consent itself; it is not a merge field", tool.label()),
        "campaign" | "now" | "currency" => format!("`{path}` has no {} merge field", tool.label()),
        "profile" => format!(
            "the audience file Cohort exports for {} has no column for `{path}`",
            tool.label()
        ),
        _ => format!("`{path}` is not something {} can fill in", tool.label()),
    }
}

fn quote_klaviyo(s: &str) -> String {
    if s.contains('\'') {
        format!("\"{}\"", s.replace('"', "\\\""))
    } else {
        format!("'{s}'")
    }
}

/// One `{{ … }}` in the tool's syntax, or why not.
fn expression(
    tool: Tool,
    expr: &str,
    blocks: &[ContentBlock],
    depth: usize,
) -> Result<(String, Vec<String>), String> {
    let parsed = simple_expr(expr).ok_or_else(|| {
        "only a variable with `default`, `title`, `upper` or `lower` can be translated; this expression is more than that".to_string()
    })?;
    let path = match &parsed.head {
        Head::Call(name, args) if name == "block" => {
            let Some(Literal::Str(block)) = args.first() else {
                return Err("`block` needs a block name".into());
            };
            let Some(b) = blocks.iter().find(|b| &b.name == block) else {
                return Err(format!("there is no content block “{block}”"));
            };
            if !b.rules.is_empty() {
                return Err(format!(
                    "content block “{block}” depends on segments, which {} does not know",
                    tool.label()
                ));
            }
            if !parsed.filters.is_empty() {
                return Err("filters on a content block cannot be translated".into());
            }
            if depth > 8 {
                return Err(format!("content block “{block}” nests too deep"));
            }
            let (text, problems) = source(tool, &b.body, blocks, depth + 1);
            if let Some((_, why)) = problems.first() {
                return Err(format!("content block “{block}”: {why}"));
            }
            return Ok((text, Vec::new()));
        }
        Head::Call(name, _) => {
            return Err(format!(
                "the function `{name}` has no {} equivalent",
                tool.label()
            ))
        }
        Head::Path(p) => p.clone(),
    };
    let joined = path.join(".");
    let tag = match (path.first().map(String::as_str), path.len()) {
        (Some("profile"), 2) => field(tool, &path[1]),
        _ => None,
    }
    .ok_or_else(|| why_not(tool, &joined))?;
    let mut notes = Vec::new();
    if tag == "COMPANY" {
        notes.push("Mailchimp names the merge tag of an imported Company column when you import it; check it is COMPANY.".to_owned());
    }
    let mut fallback: Option<String> = None;
    let mut case: Option<&'static str> = None;
    let mut klaviyo_filters = String::new();
    for (name, args) in &parsed.filters {
        match name.as_str() {
            "default" | "d" => {
                let text = match args.first() {
                    None => String::new(),
                    Some(Literal::Str(s)) => s.clone(),
                    Some(Literal::Int(n)) => n.to_string(),
                    Some(Literal::Float(x)) => x.to_string(),
                    Some(Literal::Bool(_)) => {
                        return Err("a true/false fallback cannot be translated".into())
                    }
                };
                if tool == Tool::Mailchimp && (case.is_some() || fallback.is_some()) {
                    return Err("in Mailchimp a fallback must come before case filters".into());
                }
                klaviyo_filters.push_str(&format!("|default:{}", quote_klaviyo(&text)));
                fallback = Some(text);
            }
            "title" | "upper" | "lower" => {
                if case.is_some() {
                    return Err("only one case filter can be translated".into());
                }
                case = Some(match name.as_str() {
                    "title" => "TITLE",
                    "upper" => "UPPER",
                    _ => "LOWER",
                });
                klaviyo_filters.push('|');
                klaviyo_filters.push_str(name);
            }
            other => {
                return Err(format!(
                    "the filter `{other}` has no {} equivalent",
                    tool.label()
                ))
            }
        }
    }
    let out = match tool {
        Tool::Mailchimp => {
            let value = match case {
                Some(c) => format!("*|{c}:{tag}|*"),
                None => format!("*|{tag}|*"),
            };
            match fallback {
                Some(f) => format!("*|IF:{tag}|*{value}*|ELSE:|*{f}*|END:IF|*"),
                None => value,
            }
        }
        Tool::Klaviyo => format!("{{{{ {tag}{klaviyo_filters} }}}}"),
    };
    Ok((out, notes))
}

/// A whole source: translated text, and (line, reason) of what was kept.
fn source(
    tool: Tool,
    text: &str,
    blocks: &[ContentBlock],
    depth: usize,
) -> (String, Vec<(usize, String)>) {
    let (out, problems, _) = source_with_notes(tool, text, blocks, depth);
    (out, problems.into_iter().map(|(l, _, r)| (l, r)).collect())
}

#[allow(clippy::type_complexity)]
fn source_with_notes(
    tool: Tool,
    text: &str,
    blocks: &[ContentBlock],
    depth: usize,
) -> (String, Vec<(usize, String, String)>, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for p in pieces(text) {
        match p.kind {
            PieceKind::Text => out.push_str(p.inner),
            PieceKind::Comment => {}
            PieceKind::Stmt => {
                problems.push((
                    p.line,
                    p.raw.to_owned(),
                    format!(
                        "conditions, loops and other {{% … %}} tags are not translated; build them in {}",
                        tool.label()
                    ),
                ));
                out.push_str(p.raw);
            }
            PieceKind::Expr => match expression(tool, p.inner, blocks, depth) {
                Ok((t, n)) => {
                    out.push_str(&t);
                    notes.extend(n);
                }
                Err(reason) => {
                    problems.push((p.line, p.raw.to_owned(), reason));
                    out.push_str(p.raw);
                }
            },
        }
    }
    (out, problems, notes)
}

/// Translates every part of every variant to `tool`'s merge syntax.
pub fn translate(variants: &[Variant], blocks: &[ContentBlock], tool: Tool) -> Translation {
    let mut out = Vec::new();
    let mut untranslatable = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for v in variants {
        let mut t = TranslatedVariant {
            name: v.name.clone(),
            subject: String::new(),
            preheader: String::new(),
            html: String::new(),
            text: String::new(),
        };
        for part in Part::ALL {
            let (text, problems, n) = source_with_notes(tool, v.part(part), blocks, 0);
            for (line, source, reason) in problems {
                untranslatable.push(Untranslatable {
                    variant: v.name.clone(),
                    part,
                    line,
                    source,
                    reason,
                });
            }
            for note in n {
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
            *match part {
                Part::Subject => &mut t.subject,
                Part::Preheader => &mut t.preheader,
                Part::Html => &mut t.html,
                Part::Text => &mut t.text,
            } = text;
        }
        out.push(t);
    }
    if variants.len() > 1 {
        notes.push(format!(
            "{} variants: Cohort's audience file says who gets which in its Variant column; send each variant to its group in {}.",
            variants.len(),
            tool.label()
        ));
    }
    Translation {
        tool,
        complete: untranslatable.is_empty(),
        variants: out,
        untranslatable,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(subject: &str, html: &str) -> Vec<Variant> {
        vec![Variant {
            name: "A".into(),
            subject: subject.into(),
            html: html.into(),
            ..Variant::default()
        }]
    }

    #[test]
    fn mailchimp_merge_tags() {
        let t = translate(
            &v(
                "Hi {{ profile.first_name | default('there') }}!",
                "<p>{{ profile.first_name | title }} {{ profile.last_name }} &lt;{{ profile.email }}&gt;</p>{# internal #}",
            ),
            &[],
            Tool::Mailchimp,
        );
        assert!(t.complete, "{:?}", t.untranslatable);
        assert_eq!(
            t.variants[0].subject,
            "Hi *|IF:FNAME|**|FNAME|**|ELSE:|*there*|END:IF|*!"
        );
        assert_eq!(
            t.variants[0].html,
            "<p>*|TITLE:FNAME|* *|LNAME|* &lt;*|EMAIL|*&gt;</p>"
        );
    }

    #[test]
    fn klaviyo_variables() {
        let t = translate(
            &v(
                "{{ profile.first_name | default(\"friend\") | title }}",
                "{{ profile.city }} {{ profile.phone }}",
            ),
            &[],
            Tool::Klaviyo,
        );
        assert!(t.complete);
        assert_eq!(
            t.variants[0].subject,
            "{{ first_name|default:'friend'|title }}"
        );
        assert_eq!(
            t.variants[0].html,
            "{{ person|lookup:'$city' }} {{ person.phone_number }}"
        );
    }

    #[test]
    fn what_cannot_be_translated_is_reported_with_lines() {
        let blocks = vec![
            ContentBlock {
                name: "footer".into(),
                body: "Bye {{ profile.first_name }}".into(),
                rules: vec![],
                updated_at: String::new(),
            },
            ContentBlock {
                name: "hero".into(),
                body: "x".into(),
                rules: vec![super::super::BlockRule {
                    segment_id: 1,
                    body: "y".into(),
                }],
                updated_at: String::new(),
            },
        ];
        let t = translate(
            &v(
                "Hi {{ profile.first_name }}",
                "{% if profile.rfm_segment == 'Champions' %}VIP{% endif %}\n{% for item in recommendations %}{{ item.title }}{% endfor %}\n{{ profile.clv | money }}\n{{ block('footer') }}\n{{ block('hero') }}",
            ),
            &blocks,
            Tool::Mailchimp,
        );
        assert!(!t.complete);
        let lines: Vec<(usize, &str)> = t
            .untranslatable
            .iter()
            .map(|u| (u.line, u.source.as_str()))
            .collect();
        assert!(lines.contains(&(1, "{% if profile.rfm_segment == 'Champions' %}")));
        assert!(lines.contains(&(2, "{% for item in recommendations %}")));
        assert!(lines.contains(&(3, "{{ profile.clv | money }}")));
        assert!(lines.contains(&(5, "{{ block('hero') }}")));
        let money = t.untranslatable.iter().find(|u| u.line == 3).unwrap();
        assert!(
            money.reason.contains("no column for `profile.clv`"),
            "{}",
            money.reason
        );
        // A plain snippet is inlined, translated.
        assert!(t.variants[0].html.contains("Bye *|FNAME|*"));
        assert!(t.report().contains("line 2"));
        assert_eq!("klaviyo".parse::<Tool>().unwrap(), Tool::Klaviyo);
        assert!("sendgrid".parse::<Tool>().is_err());
    }
}
