//! Lint: render every variant for every recipient of a segment (or any
//! list of profiles) before an export, and count what would go wrong or
//! read badly: render errors, variables that do not exist, values that
//! come out empty ("312 recipients would get an empty first name — add a
//! default"), fallbacks used, subjects too long or empty, a missing
//! plain-text version, data with HTML in it that escaping will show as
//! text, recipients without recommendations for a template that lists them.
//!
//! Empty, fallback and HTML-carrying values are found in the lint
//! environment ([`super::render`]): its formatter writes a private-use
//! marker next to each such value, and minijinja's output spans say which
//! expression (source text and line) wrote it.

use std::collections::{BTreeSet, HashMap};

use rayon::prelude::*;
use rusqlite::Connection;
use serde::Serialize;

use super::context::{label_of, CampaignInfo, ContextLoader, Recipient};
use super::render::{Options, TemplateSet, EMPTY_MARK, FALLBACK_MARK, HTML_MARK};
use super::{Part, Result, Variant};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The message cannot be sent as it is.
    Error,
    /// It can, but some recipients get something that reads badly.
    Warning,
    /// Worth knowing.
    Info,
}

/// One finding, with how many recipients it concerns.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Issue {
    pub severity: Severity,
    /// `syntax`, `unknown_variable`, `render_error`, `empty_value`,
    /// `fallback_used`, `html_in_data`, `subject_too_long`, `empty_subject`,
    /// `missing_text`, `no_recommendations`.
    pub code: String,
    /// For people: "312 recipients would get an empty first name …".
    pub message: String,
    /// Recipients concerned (0 for findings about the template itself).
    pub count: u64,
    pub variant: Option<String>,
    pub part: Option<super::Part>,
    pub line: Option<usize>,
    /// Up to five profile ids, to preview.
    pub examples: Vec<i64>,
}

/// What lint found over a list of recipients.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct LintReport {
    /// Recipients checked (profiles found among those given).
    pub recipients: u64,
    /// Recipients for whom every part of every variant rendered.
    pub rendered: u64,
    pub errors: u64,
    pub warnings: u64,
    /// Errors first, then by recipients concerned.
    pub issues: Vec<Issue>,
    pub seconds: f64,
}

/// Subjects longer than this are cut by many inboxes (and RFC 5322's
/// recommended line length).
pub const SUBJECT_MAX_CHARS: usize = 78;

const EXAMPLES: usize = 5;

/// A count with a few example recipients.
#[derive(Debug, Default, Clone)]
struct Count {
    n: u64,
    examples: Vec<i64>,
    /// An example value (fallback text, HTML found, longest subject).
    sample: String,
    max: usize,
}

impl Count {
    fn add(&mut self, id: i64) {
        self.n += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(id);
        }
    }

    fn merge(&mut self, other: Count) {
        self.n += other.n;
        for id in other.examples {
            if self.examples.len() < EXAMPLES {
                self.examples.push(id);
            }
        }
        if self.sample.is_empty() {
            self.sample = other.sample;
        }
        self.max = self.max.max(other.max);
    }
}

/// What one finding is about: variant, part, line, and the expression or
/// cause.
type Key = (usize, Part, Option<usize>, String);

#[derive(Debug, Default)]
struct Tally {
    recipients: u64,
    failed: u64,
    /// By variant, part, line and kind of error; the sample is the first
    /// recipient's cause (causes name values, which differ).
    errors: HashMap<(usize, Part, Option<usize>, &'static str), Count>,
    empty: HashMap<Key, Count>,
    fallback: HashMap<Key, Count>,
    html: HashMap<Key, Count>,
    long_subject: HashMap<usize, Count>,
    empty_subject: HashMap<usize, Count>,
    no_recommendations: Count,
}

fn merge_map<K: std::hash::Hash + Eq>(into: &mut HashMap<K, Count>, from: HashMap<K, Count>) {
    for (k, v) in from {
        into.entry(k).or_default().merge(v);
    }
}

impl Tally {
    fn merge(mut self, other: Tally) -> Tally {
        self.recipients += other.recipients;
        self.failed += other.failed;
        merge_map(&mut self.errors, other.errors);
        merge_map(&mut self.empty, other.empty);
        merge_map(&mut self.fallback, other.fallback);
        merge_map(&mut self.html, other.html);
        merge_map(&mut self.long_subject, other.long_subject);
        merge_map(&mut self.empty_subject, other.empty_subject);
        self.no_recommendations.merge(other.no_recommendations);
        self
    }
}

/// Checks `variants` (saved or a draft) against the recipients `ids`
/// (ascending; those without a profile are skipped). `progress(done,
/// total)` is called per chunk.
pub fn lint(
    conn: &Connection,
    variants: &[Variant],
    ids: &[i64],
    now: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<LintReport> {
    let started = std::time::Instant::now();
    let mut issues = Vec::new();
    // Lint reports what is wrong instead of refusing: unnamed variants get
    // letters, and problems that stop compiling are issues.
    let mut variants: Vec<Variant> = variants.to_vec();
    for (i, v) in variants.iter_mut().enumerate() {
        if v.name.trim().is_empty() {
            v.name = ((b'A' + (i % 26) as u8) as char).to_string();
        }
        if v.subject.trim().is_empty() {
            issues.push(Issue {
                severity: Severity::Error,
                code: "empty_subject".into(),
                message: format!("Variant {} has no subject.", v.name),
                count: 0,
                variant: Some(v.name.clone()),
                part: Some(Part::Subject),
                line: None,
                examples: vec![],
            });
        }
        if v.text.trim().is_empty() {
            issues.push(Issue {
                severity: Severity::Warning,
                code: "missing_text".into(),
                message: format!(
                    "Variant {} has no plain-text version; some inboxes show only text, and spam filters expect both.",
                    v.name
                ),
                count: 0,
                variant: Some(v.name.clone()),
                part: Some(Part::Text),
                line: None,
                examples: vec![],
            });
        }
    }
    let set = match TemplateSet::for_workspace(conn, &variants, &Options::default()) {
        Ok(set) => set,
        Err(e) => {
            let (variant, part, line) = match &e {
                super::TemplateError::Compile {
                    variant,
                    part,
                    line,
                    ..
                } => (Some(variant.clone()), Some(*part), *line),
                _ => (None, None, None),
            };
            issues.insert(
                0,
                Issue {
                    severity: Severity::Error,
                    code: "syntax".into(),
                    message: e.to_string(),
                    count: 0,
                    variant,
                    part,
                    line,
                    examples: vec![],
                },
            );
            return Ok(report(0, 0, issues, started));
        }
    };

    // Variables that are not in the context, found without rendering.
    let mut known: BTreeSet<String> = super::context::PROFILE_FIELDS
        .iter()
        .chain(super::context::DERIVED_FIELDS.iter())
        .map(|s| s.to_string())
        .collect();
    known.extend(super::context::trait_columns(conn)?);
    for (v, part, line, path) in set.unknown_variables(&known) {
        let field = path.split('.').nth(1).unwrap_or(&path);
        let suggestion = known
            .iter()
            .map(|k| (strsim::jaro_winkler(k, field), k))
            .filter(|(score, _)| *score > 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| format!("; did you mean `profile.{k}`?"))
            .unwrap_or_default();
        issues.push(Issue {
            severity: Severity::Error,
            code: "unknown_variable".into(),
            message: format!(
                "`{path}` is not a variable Cohort knows ({}{}){suggestion}",
                part.label(),
                line.map(|l| format!(", line {l}")).unwrap_or_default()
            ),
            count: 0,
            variant: Some(variants[v].name.clone()),
            part: Some(part),
            line,
            examples: vec![],
        });
    }

    let needs = set.needs();
    let loader = ContextLoader::new(
        conn,
        &needs,
        &CampaignInfo::preview(),
        set.variant_names(),
        now,
    )?;
    let total = ids.len() as u64;
    let mut done = 0u64;
    let mut tally = Tally::default();
    progress(0, total);
    super::context::pipeline(
        conn,
        &loader,
        ids,
        2048,
        |batch: &[Recipient]| {
            batch
                .par_iter()
                .fold(Tally::default, |mut t, r| {
                    check(&set, r, needs.recommendations, &mut t);
                    t
                })
                .reduce(Tally::default, Tally::merge)
        },
        |batch, t| {
            done += batch.len() as u64;
            tally = std::mem::take(&mut tally).merge(t);
            progress(done.min(total), total);
            Ok(())
        },
    )?;
    progress(total, total);

    let name = |v: usize| variants[v].name.clone();
    for ((v, part, line, _code), c) in tally.errors {
        issues.push(Issue {
            severity: Severity::Error,
            code: "render_error".into(),
            message: format!(
                "{} cannot get variant {}: {}{} ({}{})",
                recipients(c.n),
                name(v),
                if c.n > 1 { "e.g. " } else { "" },
                c.sample,
                part.label(),
                line.map(|l| format!(", line {l}")).unwrap_or_default(),
            ),
            count: c.n,
            variant: Some(name(v)),
            part: Some(part),
            line,
            examples: c.examples,
        });
    }
    for ((v, part, line, expr), c) in tally.empty {
        issues.push(Issue {
            severity: Severity::Warning,
            code: "empty_value".into(),
            message: format!(
                "{} would get an empty {} ({}{}) — add a default, e.g. {{{{ {} | default(\"…\") }}}}",
                recipients(c.n),
                what(&expr),
                part.label(),
                line.map(|l| format!(", line {l}")).unwrap_or_default(),
                expr
            ),
            count: c.n,
            variant: Some(name(v)),
            part: Some(part),
            line,
            examples: c.examples,
        });
    }
    for ((v, part, line, expr), c) in tally.fallback {
        issues.push(Issue {
            severity: Severity::Info,
            code: "fallback_used".into(),
            message: format!(
                "{} get the fallback “{}” for {} ({}{})",
                recipients(c.n),
                c.sample,
                what(&expr),
                part.label(),
                line.map(|l| format!(", line {l}")).unwrap_or_default()
            ),
            count: c.n,
            variant: Some(name(v)),
            part: Some(part),
            line,
            examples: c.examples,
        });
    }
    for ((v, part, line, expr), c) in tally.html {
        issues.push(Issue {
            severity: Severity::Warning,
            code: "html_in_data".into(),
            message: format!(
                "{} have HTML in their {} ({}{}); it is escaped and shows as text, e.g. “{}”",
                recipients(c.n),
                what(&expr),
                part.label(),
                line.map(|l| format!(", line {l}")).unwrap_or_default(),
                c.sample
            ),
            count: c.n,
            variant: Some(name(v)),
            part: Some(part),
            line,
            examples: c.examples,
        });
    }
    for (v, c) in tally.long_subject {
        issues.push(Issue {
            severity: Severity::Warning,
            code: "subject_too_long".into(),
            message: format!(
                "{} get a subject over {SUBJECT_MAX_CHARS} characters in variant {} (up to {}); many inboxes cut it, e.g. “{}”",
                recipients(c.n),
                name(v),
                c.max,
                c.sample
            ),
            count: c.n,
            variant: Some(name(v)),
            part: Some(Part::Subject),
            line: None,
            examples: c.examples,
        });
    }
    for (v, c) in tally.empty_subject {
        issues.push(Issue {
            severity: Severity::Error,
            code: "empty_subject".into(),
            message: format!(
                "{} would get an empty subject in variant {}",
                recipients(c.n),
                name(v)
            ),
            count: c.n,
            variant: Some(name(v)),
            part: Some(Part::Subject),
            line: None,
            examples: c.examples,
        });
    }
    if tally.no_recommendations.n > 0 {
        let c = tally.no_recommendations;
        issues.push(Issue {
            severity: Severity::Warning,
            code: "no_recommendations".into(),
            message: format!(
                "{} have no recommendations (train a model, or guard the loop with {{% if recommendations %}}); the products section is empty for them",
                recipients(c.n)
            ),
            count: c.n,
            variant: None,
            part: None,
            line: None,
            examples: c.examples,
        });
    }
    let rendered = tally.recipients - tally.failed;
    Ok(report(tally.recipients, rendered, issues, started))
}

fn report(
    recipients: u64,
    rendered: u64,
    mut issues: Vec<Issue>,
    started: std::time::Instant,
) -> LintReport {
    issues.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(b.count.cmp(&a.count))
            .then(a.variant.cmp(&b.variant))
            .then(a.part.cmp(&b.part))
            .then(a.line.cmp(&b.line))
            .then(a.message.cmp(&b.message))
    });
    LintReport {
        recipients,
        rendered,
        errors: issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count() as u64,
        warnings: issues
            .iter()
            .filter(|i| i.severity == Severity::Warning)
            .count() as u64,
        issues,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// "1 recipient", "312 recipients".
fn recipients(n: u64) -> String {
    if n == 1 {
        "1 recipient".into()
    } else {
        format!("{n} recipients")
    }
}

/// What an expression shows, in words: `profile.first_name` → "first
/// name"; `item.title` → "title"; anything else as written.
fn what(expr: &str) -> String {
    match super::syntax::simple_expr(expr).and_then(|e| e.path()) {
        Some(path) => {
            let last = path.rsplit('.').next().unwrap_or(&path);
            let label = label_of(last);
            let mut c = label.chars();
            match c.next() {
                // "RFM segment" keeps its capitals; "First name" does not.
                Some(f) if label.chars().nth(1).is_some_and(char::is_lowercase) => {
                    f.to_lowercase().chain(c).collect()
                }
                _ => label,
            }
        }
        None if expr.is_empty() => "value".into(),
        None => format!("`{expr}`"),
    }
}

/// Renders every variant for one recipient into `t`.
fn check(set: &TemplateSet, r: &Recipient, lists_recommendations: bool, t: &mut Tally) {
    t.recipients += 1;
    let mut failed = false;
    if lists_recommendations && !r.has_recommendations() {
        t.no_recommendations.add(r.id);
    }
    for v in 0..set.variant_names().len() {
        let ctx = r.context(v);
        for part in Part::ALL {
            let (out, spans) = match set.render_marked(v, part, &ctx) {
                Ok(Some(x)) => x,
                Ok(None) => continue,
                Err(e) => {
                    failed = true;
                    let c = t.errors.entry((v, part, e.line, e.code)).or_default();
                    if c.sample.is_empty() {
                        c.sample = e.cause;
                    }
                    c.add(r.id);
                    continue;
                }
            };
            if out.contains([EMPTY_MARK, FALLBACK_MARK, HTML_MARK]) {
                let source = set.part_source(v, part).unwrap_or("");
                for span in spans
                    .iter()
                    .filter(|s| s.kind() == minijinja::OutputSpanKind::Expression)
                {
                    let text = &out[span.output_range()];
                    if !text.contains([EMPTY_MARK, FALLBACK_MARK, HTML_MARK]) {
                        continue;
                    }
                    let expr = if span.name() == format!("{v}/{part}") {
                        source.get(span.source_range()).unwrap_or("").trim()
                    } else {
                        ""
                    };
                    // The compiled source carries the size guards; the
                    // marketer reads what they wrote.
                    let key = (v, part, Some(span.line()), super::bounds::unguard(expr));
                    if text.contains(FALLBACK_MARK) {
                        let c = t.fallback.entry(key.clone()).or_default();
                        if c.sample.is_empty() {
                            c.sample = clean(text);
                        }
                        c.add(r.id);
                    } else if text.contains(EMPTY_MARK) && shows_data(&key.3) {
                        t.empty.entry(key.clone()).or_default().add(r.id);
                    }
                    if text.contains(HTML_MARK) {
                        let c = t.html.entry(key).or_default();
                        if c.sample.is_empty() {
                            c.sample = excerpt(&super::render::html_unescape(&clean(text)));
                        }
                        c.add(r.id);
                    }
                }
            }
            if part == Part::Subject {
                let subject: String = clean(&out).split_whitespace().collect::<Vec<_>>().join(" ");
                let chars = subject.chars().count();
                if chars == 0 {
                    t.empty_subject.entry(v).or_default().add(r.id);
                } else if chars > SUBJECT_MAX_CHARS {
                    let c = t.long_subject.entry(v).or_default();
                    if chars > c.max {
                        c.max = chars;
                        c.sample = subject;
                    }
                    c.add(r.id);
                }
            }
        }
    }
    if failed {
        t.failed += 1;
    }
}

/// Whether an empty output of `expr` means missing data: a variable,
/// possibly formatted (`| title`, `| money`, `| date`), but not a filter
/// whose empty answer is meant (`item{{ n | pluralize }}`) nor an
/// expression such as `"VIP" if x`.
fn shows_data(expr: &str) -> bool {
    match super::syntax::simple_expr(expr) {
        Some(e) => {
            e.path().is_some()
                && !e
                    .filters
                    .iter()
                    .any(|(f, _)| matches!(f.as_str(), "pluralize" | "pluralise"))
        }
        None => false,
    }
}

/// Output without the lint markers.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(*c, EMPTY_MARK | FALLBACK_MARK | HTML_MARK))
        .collect()
}

fn excerpt(s: &str) -> String {
    let t: String = s.chars().take(60).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_for_expressions() {
        assert_eq!(what("profile.first_name"), "first name");
        assert_eq!(what("profile.rfm_segment"), "RFM segment");
        assert_eq!(what("item.title"), "title");
        assert_eq!(what("a + b"), "`a + b`");
        assert_eq!(recipients(1), "1 recipient");
        assert_eq!(recipients(312), "312 recipients");
    }
}
