//! The sandboxed template environment: one [`TemplateSet`] per template
//! (all its variants and the workspace's content blocks), compiled once
//! and shared by every rendering thread.
//!
//! Sandboxing: the environment has no loader and minijinja's
//! `multi_template` feature is off, so `{% include %}`, `{% import %}` and
//! `{% extends %}` do not exist and nothing outside the given context can
//! be read; content blocks are in-memory templates reached only through
//! `block("name")`. Every render has a fuel budget (instructions and data
//! created; [`Options::fuel`]) and every rendered part a size cap
//! ([`Options::max_bytes`]): a runaway loop or a huge output fails that
//! recipient with a clear error, in milliseconds.
//!
//! Undefined values are *semi-strict*: printing or iterating a name the
//! context does not have fails (so `profile.frist_name` is caught), testing
//! it in `{% if %}` is false, and `default` replaces it. Missing data is
//! `none` and prints as nothing. HTML is auto-escaped in the HTML body
//! only (templates named `…/html`).
//!
//! Filters added to minijinja's built-ins (`title`, `upper`, `lower`,
//! `trim`, `replace`, `round`, `join`, `length`, `urlencode`, …):
//!
//! | filter | does |
//! |---|---|
//! | `money(currency?, decimals=true)` | minor units → `£1,234.50` (default currency: the workspace's) |
//! | `date(format="%-d %B %Y")` | ISO date or time → formatted (strftime) |
//! | `ago` | a date relative to `now`: `today`, `yesterday`, `3 days ago`, `in 2 weeks` |
//! | `default(fallback="", boolean=false)` (`d`) | the fallback when the value is undefined, none or blank |
//! | `pluralize(singular="", plural="s")` (`pluralise`) | by count: `item{{ n \| pluralize }}`, `{{ n \| pluralize("person", "people") }}` |

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use minijinja::value::{Kwargs, Value};
use minijinja::{escape_formatter, AutoEscape, Environment, Error, ErrorKind, State};

use super::bounds::{self, guard_source};
use super::context::{Needs, Recipient};
use super::{ContentBlock, Part, TemplateError, Variant};

/// Limits of one render.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// minijinja fuel per part: about one per instruction and one per 64
    /// bytes created. A 30-line template with a loop over five products
    /// uses well under a thousand.
    pub fuel: u64,
    /// Largest rendered part, in bytes.
    pub max_bytes: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            fuel: 200_000,
            max_bytes: 256 * 1024,
        }
    }
}

/// The four rendered parts of one recipient's message.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rendered {
    pub subject: String,
    pub preheader: String,
    pub html: String,
    pub text: String,
}

impl Rendered {
    pub fn part_mut(&mut self, part: Part) -> &mut String {
        match part {
            Part::Subject => &mut self.subject,
            Part::Preheader => &mut self.preheader,
            Part::Html => &mut self.html,
            Part::Text => &mut self.text,
        }
    }
}

/// Why one part could not be rendered for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub variant: String,
    pub part: Part,
    pub line: Option<usize>,
    /// `undefined`, `out_of_fuel`, `too_large`, `unknown_filter`,
    /// `unknown_function`, `invalid`.
    pub code: &'static str,
    pub cause: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "variant {}, {}", self.variant, self.part)?;
        if let Some(l) = self.line {
            write!(f, ", line {l}")?;
        }
        write!(f, ": {}", self.cause)
    }
}

impl std::error::Error for RenderError {}

/// Markers the lint environment writes into the output next to what an
/// expression printed; never in real output.
pub(crate) const EMPTY_MARK: char = '\u{E000}';
pub(crate) const FALLBACK_MARK: char = '\u{E001}';
pub(crate) const HTML_MARK: char = '\u{E002}';

/// The fallback `default` last returned (lint).
struct LastFallback(Option<Value>);

/// A content block as the `block` function sees it: the segment name of
/// each rule (None: the segment no longer exists, the rule never matches).
#[derive(Debug, Default)]
struct BlockTable {
    rules: HashMap<String, Vec<Option<String>>>,
}

/// Content blocks nest at most this deep (a block that shows itself).
const MAX_BLOCK_DEPTH: usize = 8;

thread_local! {
    static BLOCK_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A template's variants and the workspace's content blocks, compiled.
pub struct TemplateSet {
    env: Environment<'static>,
    /// Same templates with the lint formatter (markers), built on demand.
    lint_env: std::sync::OnceLock<Environment<'static>>,
    sources: Vec<(String, String)>,
    blocks: Arc<BlockTable>,
    variants: Vec<String>,
    /// Which parts of each variant have content.
    present: Vec<[bool; 4]>,
    /// `template_name` of each variant's parts, made once.
    names: Vec<[String; 4]>,
    options: Options,
}

fn part_index(part: Part) -> usize {
    match part {
        Part::Subject => 0,
        Part::Preheader => 1,
        Part::Html => 2,
        Part::Text => 3,
    }
}

fn template_name(variant: usize, part: Part) -> String {
    format!("{variant}/{part}")
}

fn block_template(escape: bool, name: &str, rule: Option<usize>) -> String {
    let kind = if escape { "html" } else { "text" };
    match rule {
        Some(k) => format!("block/{kind}/{name}/{k}"),
        None => format!("block/{kind}/{name}"),
    }
}

/// Line (1-based) of byte `offset` in `source`.
pub(crate) fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A minijinja error as a marketer reads it: the cause without the
/// engine's internal template names.
fn cause_of(e: &Error, source: Option<&str>) -> String {
    let detail = e.detail().map(str::to_owned);
    match e.kind() {
        ErrorKind::UndefinedError => {
            let what = e
                .range()
                .zip(source)
                .and_then(|(r, s)| s.get(r))
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty());
            match what.map(|t| bounds::unguard(&t)) {
                Some(t) => format!("`{t}` is not defined (check the spelling, or add `| default(\"…\")`)"),
                None => "a variable that is not defined is printed (check the spelling, or add a default)".into(),
            }
        }
        ErrorKind::OutOfFuel => detail.unwrap_or_else(|| {
            "the template does too much work for one recipient (a loop that runs too long?)".into()
        }),
        ErrorKind::UnknownFilter => format!(
            "unknown filter{}",
            detail.map(|d| format!(" ({d})")).unwrap_or_default()
        ),
        ErrorKind::UnknownFunction => format!(
            "unknown function{}",
            detail.map(|d| format!(" ({d})")).unwrap_or_default()
        ),
        _ => detail.unwrap_or_else(|| e.kind().to_string()),
    }
}

fn code_of(e: &Error) -> &'static str {
    match e.kind() {
        ErrorKind::UndefinedError => "undefined",
        ErrorKind::OutOfFuel => "out_of_fuel",
        ErrorKind::UnknownFilter => "unknown_filter",
        ErrorKind::UnknownFunction | ErrorKind::UnknownMethod => "unknown_function",
        ErrorKind::UnknownTest => "unknown_test",
        ErrorKind::SyntaxError => "syntax",
        _ => "invalid",
    }
}

impl TemplateSet {
    /// Compiles every part of every variant, and every content block (rule
    /// `segment_id`s named through `segment_names`). Errors name the
    /// variant, part, line and cause.
    pub fn compile(
        variants: &[Variant],
        blocks: &[ContentBlock],
        options: &Options,
    ) -> Result<TemplateSet, TemplateError> {
        Self::compile_with(variants, blocks, &HashMap::new(), options)
    }

    /// [`compile`](Self::compile) with the workspace's blocks and segment names.
    pub fn for_workspace(
        conn: &rusqlite::Connection,
        variants: &[Variant],
        options: &Options,
    ) -> Result<TemplateSet, TemplateError> {
        let blocks = super::blocks(conn)?;
        let names: HashMap<i64, String> = crate::segments::list(conn)?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        Self::compile_with(variants, &blocks, &names, options)
    }

    pub fn compile_with(
        variants: &[Variant],
        blocks: &[ContentBlock],
        segment_names: &HashMap<i64, String>,
        options: &Options,
    ) -> Result<TemplateSet, TemplateError> {
        let mut table = BlockTable::default();
        let mut sources: Vec<(String, String)> = Vec::new();
        for b in blocks {
            table.rules.insert(
                b.name.clone(),
                b.rules
                    .iter()
                    .map(|r| segment_names.get(&r.segment_id).cloned())
                    .collect(),
            );
            for escape in [true, false] {
                sources.push((block_template(escape, &b.name, None), guard_source(&b.body)));
                for (k, r) in b.rules.iter().enumerate() {
                    sources.push((
                        block_template(escape, &b.name, Some(k)),
                        guard_source(&r.body),
                    ));
                }
            }
        }
        let mut present = Vec::with_capacity(variants.len());
        for (i, v) in variants.iter().enumerate() {
            let mut has = [false; 4];
            for (p, part) in Part::ALL.into_iter().enumerate() {
                let src = v.part(part);
                if !src.trim().is_empty() {
                    has[p] = true;
                    sources.push((template_name(i, part), guard_source(src)));
                }
            }
            present.push(has);
        }
        let blocks = Arc::new(table);
        let env = build_env(&sources, &blocks, options, false, variants)?;
        let set = TemplateSet {
            env,
            lint_env: std::sync::OnceLock::new(),
            sources,
            blocks,
            variants: variants.iter().map(|v| v.name.clone()).collect(),
            names: (0..variants.len())
                .map(|i| Part::ALL.map(|p| template_name(i, p)))
                .collect(),
            present,
            options: options.clone(),
        };
        set.dry_run(variants)?;
        Ok(set)
    }

    /// Renders every part once with a made-up recipient in a lenient
    /// environment, to report filters and functions that do not exist
    /// (minijinja resolves them when rendering, not when compiling).
    fn dry_run(&self, variants: &[Variant]) -> Result<(), TemplateError> {
        let mut env = self.env.clone();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        let ctx = sample_context();
        for (i, v) in variants.iter().enumerate() {
            for (p, part) in Part::ALL.into_iter().enumerate() {
                if !self.present[i][p] {
                    continue;
                }
                let Ok(t) = env.get_template(&template_name(i, part)) else {
                    continue;
                };
                // Through the capped writer: a runaway template must not
                // build its whole output just to be saved.
                let w = CappedWriter {
                    buf: Vec::new(),
                    max: self.options.max_bytes,
                    over: false,
                };
                if let Err(e) = t.render_captured_to(&ctx, w) {
                    if matches!(
                        e.kind(),
                        ErrorKind::UnknownFilter
                            | ErrorKind::UnknownFunction
                            | ErrorKind::UnknownTest
                            | ErrorKind::SyntaxError
                    ) {
                        return Err(TemplateError::Compile {
                            variant: v.name.clone(),
                            part,
                            line: e.line(),
                            cause: cause_of(&e, Some(v.part(part))),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    pub fn variant_names(&self) -> &[String] {
        &self.variants
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Whether variant `variant` has content in `part`.
    pub fn has_part(&self, variant: usize, part: Part) -> bool {
        self.present
            .get(variant)
            .is_some_and(|p| p[part_index(part)])
    }

    /// What the templates (and blocks) refer to, so the loader reads only that.
    pub fn needs(&self) -> Needs {
        let mut needs = Needs::from_variables(std::iter::empty());
        let mut uses_blocks = false;
        for (name, source) in &self.sources {
            if let Ok(t) = self.env.get_template(name) {
                let vars = t.undeclared_variables(true);
                needs.merge(&Needs::from_variables(vars.iter().map(String::as_str)));
            }
            needs.merge(&Needs::from_source(source));
            uses_blocks |= source.contains("block");
        }
        // Rule-based blocks choose by the recipient's segments.
        if uses_blocks && self.blocks.rules.values().any(|r| !r.is_empty()) {
            needs.segments = true;
        }
        needs
    }

    /// Variables each part refers to that are not in the context: `(variant
    /// index, part, line, path)`. `known_profile` lists the profile fields.
    pub fn unknown_variables(
        &self,
        known_profile: &BTreeSet<String>,
    ) -> Vec<(usize, Part, Option<usize>, String)> {
        let globals: BTreeSet<&str> = self.env.globals().map(|(k, _)| k).collect();
        let mut out = Vec::new();
        for (i, _) in self.variants.iter().enumerate() {
            for part in Part::ALL {
                let name = template_name(i, part);
                let Some(source) = self
                    .sources
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, s)| s)
                else {
                    continue;
                };
                let Ok(t) = self.env.get_template(&name) else {
                    continue;
                };
                let mut vars: Vec<String> = t.undeclared_variables(true).into_iter().collect();
                vars.sort();
                for path in vars {
                    let mut it = path.split('.');
                    let root = it.next().unwrap_or("");
                    let second = it.next();
                    let known = match root {
                        "profile" => second.is_none_or(|f| known_profile.contains(f)),
                        "consent" => second.is_none_or(|f| ["email", "sms", "ads"].contains(&f)),
                        "campaign" => {
                            second.is_none_or(|f| ["name", "channel", "variant"].contains(&f))
                        }
                        r => {
                            super::context::TOP_LEVEL.contains(&r)
                                || globals.contains(r)
                                || r == "loop"
                        }
                    };
                    if !known {
                        let line = source.find(&path).map(|at| line_of(source, at));
                        out.push((i, part, line, path));
                    }
                }
            }
        }
        out
    }

    fn source_of(&self, name: &str) -> Option<&str> {
        self.sources
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.as_str())
    }

    fn error(&self, e: &Error, variant: usize, part: Part) -> RenderError {
        let name = template_name(variant, part);
        RenderError {
            variant: self.variants.get(variant).cloned().unwrap_or_default(),
            part,
            line: e.line(),
            code: code_of(e),
            cause: cause_of(e, self.source_of(&name)),
        }
    }

    fn too_large(&self, variant: usize, part: Part, bytes: Option<usize>) -> RenderError {
        let size = match bytes {
            Some(b) => format!("{} KiB", b.div_ceil(1024)),
            None => "more than that".into(),
        };
        RenderError {
            variant: self.variants.get(variant).cloned().unwrap_or_default(),
            part,
            line: None,
            code: "too_large",
            cause: format!(
                "the {} is {size} for this recipient, over the {} KiB limit",
                part.label(),
                self.options.max_bytes / 1024
            ),
        }
    }

    /// One part for one context ([`Recipient::context`]).
    pub fn render_part(
        &self,
        variant: usize,
        part: Part,
        ctx: &Value,
    ) -> Result<String, RenderError> {
        if !self.has_part(variant, part) {
            return Ok(String::new());
        }
        let t = self
            .env
            .get_template(&self.names[variant][part_index(part)])
            .map_err(|e| self.error(&e, variant, part))?;
        // The writer refuses the first byte over the cap, so a part never
        // grows past it before the size is checked.
        let mut w = CappedWriter {
            buf: Vec::with_capacity(1024),
            max: self.options.max_bytes,
            over: false,
        };
        match t.render_captured_to(ctx, &mut w) {
            Ok(_) => {}
            Err(_) if w.over => return Err(self.too_large(variant, part, None)),
            Err(e) => return Err(self.error(&e, variant, part)),
        }
        let out = String::from_utf8(w.buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Ok(finish_part(part, out))
    }

    /// Every part of `variant` for `recipient`; the first error stops it.
    pub fn render(&self, variant: usize, recipient: &Recipient) -> Result<Rendered, RenderError> {
        let ctx = recipient.context(variant);
        let mut out = Rendered::default();
        for part in Part::ALL {
            *out.part_mut(part) = self.render_part(variant, part, &ctx)?;
        }
        Ok(out)
    }

    /// Every part of `variant`, each with its own result (previews show
    /// the parts that worked).
    pub fn render_each(
        &self,
        variant: usize,
        recipient: &Recipient,
    ) -> (Rendered, Vec<RenderError>) {
        let ctx = recipient.context(variant);
        let mut out = Rendered::default();
        let mut errors = Vec::new();
        for part in Part::ALL {
            match self.render_part(variant, part, &ctx) {
                Ok(s) => *out.part_mut(part) = s,
                Err(e) => errors.push(e),
            }
        }
        (out, errors)
    }

    /// One part in the lint environment: the output with markers next to
    /// empty, fallback and HTML-carrying values, and the spans saying which
    /// expression wrote what.
    pub(crate) fn render_marked(
        &self,
        variant: usize,
        part: Part,
        ctx: &Value,
    ) -> Result<Option<(String, Vec<minijinja::OutputSpan>)>, RenderError> {
        if !self.has_part(variant, part) {
            return Ok(None);
        }
        let env = self.lint_env.get_or_init(|| {
            let variants: Vec<Variant> = self
                .variants
                .iter()
                .map(|n| Variant {
                    name: n.clone(),
                    ..Variant::default()
                })
                .collect();
            build_env(&self.sources, &self.blocks, &self.options, true, &variants)
                .expect("the same sources compiled before")
        });
        let t = env
            .get_template(&template_name(variant, part))
            .map_err(|e| self.error(&e, variant, part))?;
        let (out, spans) = t
            .render_with_spans(ctx)
            .map_err(|e| self.error(&e, variant, part))?;
        if out.len() > self.options.max_bytes {
            return Err(self.too_large(variant, part, Some(out.len())));
        }
        Ok(Some((out, spans)))
    }

    /// The source of a variant's part as compiled.
    pub(crate) fn part_source(&self, variant: usize, part: Part) -> Option<&str> {
        self.source_of(&template_name(variant, part))
    }
}

/// The output of one part: bytes up to `max`, then an error (which ends the
/// render).
struct CappedWriter {
    buf: Vec<u8>,
    max: usize,
    over: bool,
}

impl std::io::Write for CappedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + bytes.len() > self.max {
            self.over = true;
            return Err(std::io::Error::other("part over the size limit"));
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Subject and preheader are one line: whitespace runs (newlines from
/// template blocks included) become one space.
fn finish_part(part: Part, out: String) -> String {
    match part {
        Part::Subject | Part::Preheader => {
            let mut s = String::with_capacity(out.len());
            for word in out.split_whitespace() {
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push_str(word);
            }
            s
        }
        Part::Html | Part::Text => out,
    }
}

/// The environment: sandbox settings, filters, `block`, templates.
fn build_env(
    sources: &[(String, String)],
    blocks: &Arc<BlockTable>,
    options: &Options,
    lint: bool,
    variants: &[Variant],
) -> Result<Environment<'static>, TemplateError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
    env.set_fuel(Some(options.fuel));
    env.set_debug(false);
    env.set_auto_escape_callback(|name| {
        if name.ends_with("/html") || name.starts_with("block/html/") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    // `debug()` would print the whole context into a message.
    env.remove_global("debug");
    let max_bytes = options.max_bytes;
    if lint {
        env.set_formatter(move |out, state, value| lint_formatter(out, state, value, max_bytes));
        env.add_filter("default", default_marked);
        env.add_filter("d", default_marked);
    } else {
        env.set_formatter(move |out, state, value| format_value(out, state, value, max_bytes));
        env.add_filter("default", default);
        env.add_filter("d", default);
    }
    // minijinja's `string` walks a list of any length into text.
    env.add_filter("string", move |state: &State, value: &Value| {
        if value.is_undefined()
            && matches!(
                state.undefined_behavior(),
                minijinja::UndefinedBehavior::Strict | minijinja::UndefinedBehavior::SemiStrict
            )
        {
            return Err(Error::from(ErrorKind::UndefinedError));
        }
        let text = bounds::bounded_string(state, value, max_bytes)?;
        Ok::<_, Error>(if value.is_safe() {
            Value::from_safe_string(text)
        } else {
            Value::from(text)
        })
    });
    env.add_function(bounds::GUARD, move |state: &State, value: Value| {
        bounds::guard(state, value, max_bytes)
    });
    env.add_filter("money", money);
    env.add_filter("date", date);
    env.add_filter("ago", ago);
    env.add_filter("pluralize", pluralize);
    env.add_filter("pluralise", pluralize);
    let table = blocks.clone();
    env.add_function("block", move |state: &State, name: &str| {
        render_block(state, &table, name, max_bytes)
    });
    for (name, source) in sources {
        if let Err(e) = env.add_template_owned(name.clone(), source.clone()) {
            return Err(compile_error(name, &e, variants));
        }
    }
    Ok(env)
}

/// A compile error with the variant, part (or block and rule) and line.
fn compile_error(name: &str, e: &Error, variants: &[Variant]) -> TemplateError {
    let cause = e
        .detail()
        .map(str::to_owned)
        .unwrap_or_else(|| e.to_string());
    if let Some(rest) = name.strip_prefix("block/") {
        let mut it = rest.splitn(3, '/');
        let _kind = it.next();
        let block = it.next().unwrap_or("").to_owned();
        let rule = it
            .next()
            .and_then(|k| k.parse::<usize>().ok())
            .map(|k| k + 1);
        return TemplateError::BlockCompile {
            block,
            rule,
            line: e.line(),
            cause,
        };
    }
    let (v, p) = name.split_once('/').unwrap_or((name, ""));
    let variant = v
        .parse::<usize>()
        .ok()
        .and_then(|i| variants.get(i))
        .map(|v| v.name.clone())
        .unwrap_or_default();
    TemplateError::Compile {
        variant,
        part: Part::parse(p).unwrap_or(Part::Html),
        line: e.line(),
        cause,
    }
}

/// Checks that a block's bodies compile (before it is saved).
pub(crate) fn check_block(block: &ContentBlock) -> Result<(), TemplateError> {
    TemplateSet::compile(
        &[Variant {
            name: "check".into(),
            subject: "x".into(),
            ..Variant::default()
        }],
        std::slice::from_ref(block),
        &Options::default(),
    )
    .map(|_| ())
}

fn render_block(
    state: &State,
    table: &BlockTable,
    name: &str,
    max_bytes: usize,
) -> Result<Value, Error> {
    let Some(rules) = table.rules.get(name) else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("there is no content block “{name}”"),
        ));
    };
    let depth = BLOCK_DEPTH.with(|d| d.get());
    if depth >= MAX_BLOCK_DEPTH {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "content blocks nest more than {MAX_BLOCK_DEPTH} deep (does “{name}” show itself?)"
            ),
        ));
    }
    // The first rule whose segment the recipient is in, else the fallback.
    let mut chosen = None;
    if !rules.is_empty() {
        let segments = state.lookup("segments");
        let member = |seg: &str| {
            segments
                .as_ref()
                .and_then(|s| s.try_iter().ok())
                .is_some_and(|mut it| it.any(|v| v.as_str() == Some(seg)))
        };
        chosen = rules.iter().position(|r| r.as_deref().is_some_and(member));
    }
    let escape = matches!(state.auto_escape(), AutoEscape::Html);
    let template = state
        .env()
        .get_template(&block_template(escape, name, chosen))?;
    let ctx = Value::from_pairs(
        super::context::TOP_LEVEL
            .iter()
            .filter_map(|k| state.lookup(k).map(|v| (*k, v))),
    );
    BLOCK_DEPTH.with(|d| d.set(depth + 1));
    let mut w = CappedWriter {
        buf: Vec::new(),
        max: max_bytes,
        over: false,
    };
    let captured = template.render_captured_to(ctx, &mut w);
    BLOCK_DEPTH.with(|d| d.set(depth));
    if w.over {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("content block “{name}” is over {} KiB", max_bytes / 1024),
        ));
    }
    let captured = captured.map_err(|e| {
        let line = e.line().map(|l| format!(", line {l}")).unwrap_or_default();
        Error::new(
            e.kind(),
            format!("content block “{name}”{line}: {}", cause_of(&e, None)),
        )
    })?;
    // The block's work counts against the message's budget.
    if let Some((used, _)) = captured.state().fuel_levels() {
        state.consume_fuel(used)?;
    }
    drop(captured);
    let out = String::from_utf8(w.buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Ok(if escape {
        Value::from_safe_string(out)
    } else {
        Value::from(out)
    })
}

/// Undefined, none, or text with nothing but spaces.
fn is_blank(v: &Value) -> bool {
    v.is_undefined() || v.is_none() || v.as_str().is_some_and(|s| s.trim().is_empty())
}

/// `default`: unlike Jinja's, blank text and none count as missing too (a
/// profile without a first name has none, an import may leave "").
/// `boolean=true` also replaces false, 0 and empty lists.
fn default(value: &Value, fallback: Option<Value>, boolean: Option<bool>) -> Value {
    let missing = is_blank(value) || (boolean == Some(true) && !value.is_true());
    if missing {
        fallback.unwrap_or_else(|| Value::from(""))
    } else {
        value.clone()
    }
}

/// `default` in the lint environment: remembers the fallback it gave, so the
/// formatter can mark the output as a fallback.
fn default_marked(
    state: &mut State,
    value: &Value,
    fallback: Option<Value>,
    boolean: Option<bool>,
) -> Value {
    let out = default(value, fallback, boolean);
    let missing = is_blank(value) || (boolean == Some(true) && !value.is_true());
    state.get_or_insert_extension(LastFallback(None)).0 = missing.then(|| out.clone());
    out
}

fn lint_formatter(
    out: &mut minijinja::Output,
    state: &mut State,
    value: &Value,
    max_bytes: usize,
) -> Result<(), Error> {
    use std::fmt::Write as _;
    let fallback = state
        .get_extension_mut::<LastFallback>()
        .and_then(|f| f.0.take());
    if fallback.as_ref() == Some(value) {
        out.write_char(FALLBACK_MARK)
            .map_err(|_| Error::new(ErrorKind::WriteFailure, "output"))?;
    }
    if is_blank(value) {
        return out
            .write_char(EMPTY_MARK)
            .map_err(|_| Error::new(ErrorKind::WriteFailure, "output"));
    }
    if matches!(state.auto_escape(), AutoEscape::Html) && !value.is_safe() {
        if let Some(s) = value.as_str() {
            if looks_like_html(s) {
                out.write_char(HTML_MARK)
                    .map_err(|_| Error::new(ErrorKind::WriteFailure, "output"))?;
            }
        }
    }
    format_value(out, state, value, max_bytes)
}

/// Prints a value: none and undefined as nothing; in HTML, text escaped
/// the way Jinja2 (markupsafe) does it, `& < > " '`, so a date keeps its
/// `/` and a URL stays readable in the source.
///
/// Lists and maps are walked with a budget before they are printed
/// (minijinja would walk any length, fuel-free), and no single value over
/// the part's size limit is written: the cap holds while writing, not only
/// on the finished part.
fn format_value(
    out: &mut minijinja::Output,
    state: &mut State,
    value: &Value,
    max_bytes: usize,
) -> Result<(), Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(());
    }
    let text;
    let s = match value.as_str() {
        Some(s) => s,
        None if bounds::is_container(value) => {
            text = bounds::bounded_string(state, value, max_bytes)?;
            &text
        }
        None => return escape_formatter(out, state, value),
    };
    if s.len() > max_bytes {
        return Err(bounds::too_large(
            "one printed value is over the size limit",
        ));
    }
    let escape = matches!(state.auto_escape(), AutoEscape::Html) && !value.is_safe();
    let written = if escape {
        write_html_escaped(out, s)
    } else {
        out.write_str(s)
    };
    written.map_err(|_| Error::new(ErrorKind::WriteFailure, "output"))
}

fn write_html_escaped(out: &mut impl std::fmt::Write, s: &str) -> std::fmt::Result {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&#34;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        out.write_str(entity)?;
        start = i + 1;
    }
    out.write_str(&s[start..])
}

/// Text as it was before [`write_html_escaped`] (lint shows the data).
pub(crate) fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Text that carries markup or entities (which auto-escaping shows as text).
pub(crate) fn looks_like_html(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'))
        || {
            // &amp; &#39; &eacute;
            let mut found = false;
            for (i, _) in s.match_indices('&') {
                let rest = &s[i + 1..];
                let end = rest.find(';').unwrap_or(usize::MAX);
                if end > 0 && end <= 10 {
                    let name = &rest[..end];
                    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '#') {
                        found = true;
                        break;
                    }
                }
            }
            found
        }
}

/// The symbol written before an amount, by ISO code.
fn currency_symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" | "CNY" => "¥",
        "INR" => "₹",
        "KRW" => "₩",
        "ILS" => "₪",
        "NGN" => "₦",
        "TRY" => "₺",
        "VND" => "₫",
        "PHP" => "₱",
        "UAH" => "₴",
        "CAD" => "CA$",
        "AUD" => "A$",
        "NZD" => "NZ$",
        "HKD" => "HK$",
        "SGD" => "S$",
        "MXN" => "MX$",
        "BRL" => "R$",
        _ => return None,
    })
}

/// Decimals of common currencies without the ISO table's linear search
/// (this runs for every price in every message).
fn exponent(code: &str) -> u32 {
    match code {
        "USD" | "EUR" | "GBP" | "CHF" | "CAD" | "AUD" | "NZD" | "SEK" | "NOK" | "DKK" | "PLN"
        | "CZK" | "INR" | "CNY" | "BRL" | "MXN" | "ZAR" | "SGD" | "HKD" => 2,
        "JPY" | "KRW" | "VND" | "ISK" | "CLP" => 0,
        other => crate::ingest::standardise::minor_unit_exponent(other),
    }
}

/// `minor` minor units of `currency` as text: `£1,234.50`, `¥1,200`,
/// `CHF 5.00`, `-$3.20`.
pub fn format_money(minor: i64, currency: &str, decimals: bool) -> String {
    let mut out = String::with_capacity(20);
    write_money(&mut out, minor, currency, decimals);
    out
}

fn write_money(out: &mut String, minor: i64, currency: &str, decimals: bool) {
    let currency = currency.trim();
    let upper;
    let code = if currency.bytes().all(|b| b.is_ascii_uppercase()) {
        currency
    } else {
        upper = currency.to_ascii_uppercase();
        upper.as_str()
    };
    let exp = exponent(code).min(18);
    let scale = 10u64.pow(exp);
    let abs = minor.unsigned_abs();
    let (mut whole, frac) = (abs / scale, abs % scale);
    let show_frac = decimals && exp > 0;
    if !show_frac && exp > 0 && frac * 2 >= scale {
        whole += 1;
    }
    if minor < 0 && (whole > 0 || (show_frac && frac > 0)) {
        out.push('-');
    }
    match currency_symbol(code) {
        Some(sym) => out.push_str(sym),
        None if code.is_empty() => {}
        None => {
            out.push_str(code);
            out.push(' ');
        }
    }
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(whole);
    for (i, c) in digits.bytes().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c as char);
    }
    if show_frac {
        out.push('.');
        let mut buf = itoa::Buffer::new();
        let f = buf.format(frac);
        for _ in f.len()..exp as usize {
            out.push('0');
        }
        out.push_str(f);
    }
}

/// `money`: see the module doc. None stays none (so `default` can follow).
fn money(
    state: &State,
    value: &Value,
    currency: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let decimals: Option<bool> = kwargs.get("decimals")?;
    kwargs.assert_all_used()?;
    if value.is_undefined() || value.is_none() {
        return Ok(Value::from(()));
    }
    let minor: i64 = if let Some(n) = value.as_i64() {
        n
    } else if let Ok(x) = f64::try_from(value.clone()) {
        x.round() as i64
    } else if let Some(s) = value.as_str().and_then(|s| s.trim().parse::<f64>().ok()) {
        s.round() as i64
    } else {
        // Named, not printed, when it is a list or map (of any size).
        let shown = if bounds::is_container(value) {
            format!("a {}", value.kind())
        } else {
            format!("“{value}”")
        };
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("money needs an amount in minor units (cents, pence), not {shown}"),
        ));
    };
    let code = currency
        .filter(|c| !c.is_none() && !c.is_undefined())
        .and_then(|c| c.as_str().map(str::to_owned))
        .or_else(|| {
            state
                .lookup("currency")
                .and_then(|c| c.as_str().map(str::to_owned))
        })
        .unwrap_or_default();
    Ok(Value::from(format_money(
        minor,
        &code,
        decimals.unwrap_or(true),
    )))
}

/// An ISO 8601 date or time (`2026-03-01`, `2026-03-01T10:00:00Z`,
/// `2026-03-01 10:00:00`) as a UTC time.
pub(crate) fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    let day = s.get(..10)?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
}

fn time_arg(value: &Value) -> Result<Option<chrono::DateTime<chrono::Utc>>, Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(None);
    }
    // A list or map is no date, and printing it here would be unbounded.
    if bounds::is_container(value) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "a {} is not a date (dates look like 2026-03-01)",
                value.kind()
            ),
        ));
    }
    let text = value.to_string();
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_time(&text).map(Some).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("“{text}” is not a date (dates look like 2026-03-01)"),
        )
    })
}

/// `date(format="%-d %B %Y")`.
fn date(value: &Value, format: Option<&str>) -> Result<Value, Error> {
    use chrono::format::{Item, StrftimeItems};
    let Some(t) = time_arg(value)? else {
        return Ok(Value::from(()));
    };
    let format = format.unwrap_or("%-d %B %Y");
    let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("“{format}” is not a date format (use e.g. \"%-d %B %Y\" or \"%Y-%m-%d\")"),
        ));
    }
    let mut out = String::new();
    use std::fmt::Write as _;
    write!(out, "{}", t.format_with_items(items.into_iter())).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("“{format}” cannot format this date"),
        )
    })?;
    Ok(Value::from(out))
}

/// Whole days, weeks, months or years in words.
pub(crate) fn relative_days(days: i64) -> String {
    let unit = |n: i64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let n = days.abs();
    let span = match n {
        0 => return "today".into(),
        1 => return if days > 0 { "yesterday" } else { "tomorrow" }.into(),
        2..=13 => unit(n, "day", "days"),
        14..=59 => unit(n / 7, "week", "weeks"),
        60..=729 => unit(n / 30, "month", "months"),
        _ => unit(n / 365, "year", "years"),
    };
    if days > 0 {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// `ago`: the date relative to `now` in the context.
fn ago(state: &State, value: &Value) -> Result<Value, Error> {
    let Some(t) = time_arg(value)? else {
        return Ok(Value::from(()));
    };
    let now = state
        .lookup("now")
        .and_then(|n| n.as_str().and_then(parse_time))
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "`now` is not in the context"))?;
    let days = (now.date_naive() - t.date_naive()).num_days();
    Ok(Value::from(relative_days(days)))
}

/// `pluralize(singular="", plural="s")`: by count (a list counts its items).
fn pluralize(value: &Value, singular: Option<&str>, plural: Option<&str>) -> Result<Value, Error> {
    // No count (a profile without orders has none) reads like zero: "0 orders".
    let n: f64 = if value.is_none() || value.is_undefined() {
        0.0
    } else if let Some(len) = value.as_str().is_none().then(|| value.len()).flatten() {
        len as f64
    } else if let Ok(x) = f64::try_from(value.clone()) {
        x
    } else if let Some(x) = value.as_str().and_then(|s| s.trim().parse::<f64>().ok()) {
        x
    } else if bounds::is_container(value) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("pluralize needs a number or a list, not a {}", value.kind()),
        ));
    } else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("pluralize needs a number, not “{value}”"),
        ));
    };
    let word = if n == 1.0 {
        singular.unwrap_or("")
    } else {
        plural.unwrap_or("s")
    };
    Ok(Value::from(word))
}

/// A made-up recipient for the dry run: every top-level name, a product.
fn sample_context() -> Value {
    let product = Value::from_pairs([
        ("rank", Value::from(1)),
        ("sku", Value::from("SKU-1")),
        ("title", Value::from("Product")),
        ("category", Value::from("Category")),
        ("brand", Value::from("Brand")),
        ("price", Value::from(1999)),
        ("currency", Value::from("USD")),
        ("reason", Value::from("Popular")),
    ]);
    Value::from_pairs([
        (
            "profile",
            Value::from_pairs([("first_name", Value::from("Anna"))]),
        ),
        ("segments", Value::from(Vec::<Value>::new())),
        ("cluster", Value::from(())),
        (
            "consent",
            Value::from_pairs([("email", true), ("sms", true), ("ads", true)]),
        ),
        ("recommendations", Value::from(vec![product])),
        (
            "campaign",
            Value::from_pairs([("name", "Preview"), ("channel", "email"), ("variant", "A")]),
        ),
        ("now", Value::from("2026-01-01T00:00:00Z")),
        ("currency", Value::from("USD")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(html: &str, text: &str) -> TemplateSet {
        TemplateSet::compile(
            &[Variant {
                name: "A".into(),
                subject: "Hi".into(),
                preheader: String::new(),
                html: html.into(),
                text: text.into(),
            }],
            &[],
            &Options::default(),
        )
        .unwrap()
    }

    fn ctx(profile: Value) -> Value {
        Value::from_pairs([
            ("profile", profile),
            ("now", Value::from("2026-11-01T12:00:00Z")),
            ("currency", Value::from("GBP")),
            ("segments", Value::from(Vec::<Value>::new())),
        ])
    }

    #[test]
    fn money_is_currency_aware() {
        assert_eq!(format_money(123450, "GBP", true), "£1,234.50");
        assert_eq!(format_money(1200, "JPY", true), "¥1,200");
        assert_eq!(format_money(500, "CHF", true), "CHF 5.00");
        assert_eq!(format_money(-320, "usd", true), "-$3.20");
        assert_eq!(format_money(4950, "EUR", false), "€50");
        assert_eq!(format_money(100_000_000, "USD", true), "$1,000,000.00");
        assert_eq!(format_money(5, "KWD", true), "KWD 0.005");
        let s = set(
            "{{ profile.clv | money }} {{ 1999 | money('EUR') }} {{ profile.none | money | default('n/a') }}",
            "",
        );
        let out = s
            .render_part(
                0,
                Part::Html,
                &ctx(Value::from_pairs([
                    ("clv", Value::from(123450)),
                    ("none", Value::from(())),
                ])),
            )
            .unwrap();
        assert_eq!(out, "£1,234.50 €19.99 n/a");
    }

    #[test]
    fn dates_formatted_and_relative() {
        assert_eq!(relative_days(0), "today");
        assert_eq!(relative_days(1), "yesterday");
        assert_eq!(relative_days(3), "3 days ago");
        assert_eq!(relative_days(21), "3 weeks ago");
        assert_eq!(relative_days(95), "3 months ago");
        assert_eq!(relative_days(800), "2 years ago");
        assert_eq!(relative_days(-2), "in 2 days");
        let s = set(
            "{{ profile.last | date('%-d %B %Y') }}|{{ profile.last | ago }}|{{ profile.born | date('%d/%m') }}",
            "",
        );
        let out = s
            .render_part(
                0,
                Part::Html,
                &ctx(Value::from_pairs([
                    ("last", "2026-10-29T08:00:00Z"),
                    ("born", "1984-07-09"),
                ])),
            )
            .unwrap();
        assert_eq!(out, "29 October 2026|3 days ago|09/07");
        // A bad format is an error, not a panic.
        let s = set("{{ profile.last | date('%Q') }}", "");
        let e = s
            .render_part(
                0,
                Part::Html,
                &ctx(Value::from_pairs([("last", "2026-10-29")])),
            )
            .unwrap_err();
        assert!(e.cause.contains("not a date format"), "{e}");
    }

    #[test]
    fn default_title_and_pluralize() {
        let s = set(
            "Hi {{ profile.first_name | default('there') | title }}, {{ profile.n }} item{{ profile.n | pluralize }}, {{ profile.one }} {{ profile.one | pluralise('person', 'people') }}",
            "",
        );
        let out = |p: Value| s.render_part(0, Part::Html, &ctx(p)).unwrap();
        assert_eq!(
            out(Value::from_pairs([
                ("first_name", Value::from("anna")),
                ("n", Value::from(3)),
                ("one", Value::from(1)),
            ])),
            "Hi Anna, 3 items, 1 person"
        );
        // None and blank text both take the fallback.
        assert_eq!(
            out(Value::from_pairs([
                ("first_name", Value::from(())),
                ("n", Value::from(1)),
                ("one", Value::from(2)),
            ])),
            "Hi There, 1 item, 2 people"
        );
        assert!(out(Value::from_pairs([
            ("first_name", Value::from("  ")),
            ("n", Value::from(0)),
            ("one", Value::from(0)),
        ]))
        .starts_with("Hi There, 0 items"));
    }

    #[test]
    fn html_is_escaped_in_the_html_part_only() {
        let s = set("<p>{{ profile.name }}</p>", "{{ profile.name }}");
        let c = ctx(Value::from_pairs([("name", "<b>Tom & Jerry</b>")]));
        assert_eq!(
            s.render_part(0, Part::Html, &c).unwrap(),
            "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
        );
        assert_eq!(
            s.render_part(0, Part::Text, &c).unwrap(),
            "<b>Tom & Jerry</b>"
        );
    }

    #[test]
    fn undefined_variables_fail_when_printed_only() {
        let s = set(
            "{% if profile.nope %}x{% endif %}{{ profile.nope | default('d') }}",
            "{{ profile.frist_name }}",
        );
        let c = ctx(Value::from_pairs([("first_name", "Anna")]));
        assert_eq!(s.render_part(0, Part::Html, &c).unwrap(), "d");
        let e = s.render_part(0, Part::Text, &c).unwrap_err();
        assert_eq!(e.code, "undefined");
        assert_eq!(e.line, Some(1));
        assert!(e.cause.contains("profile.frist_name"), "{e}");
        assert!(e.to_string().starts_with("variant A, text, line 1:"), "{e}");
        // None prints as nothing.
        let s = set("[{{ profile.x }}]", "");
        assert_eq!(
            s.render_part(
                0,
                Part::Html,
                &ctx(Value::from_pairs([("x", Value::from(()))]))
            )
            .unwrap(),
            "[]"
        );
    }

    #[test]
    fn runaway_loops_stop_quickly() {
        let started = std::time::Instant::now();
        let s = set("{% for i in range(100000000) %}x{% endfor %}", "");
        let e = s
            .render_part(0, Part::Html, &ctx(Value::from(())))
            .unwrap_err();
        assert!(
            e.cause.contains("too many") || e.code == "out_of_fuel",
            "{e}"
        );
        let s = set(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            "",
        );
        let e = s
            .render_part(0, Part::Html, &ctx(Value::from(())))
            .unwrap_err();
        assert_eq!(e.code, "out_of_fuel", "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    /// Values minijinja builds lazily for free and then walks without fuel
    /// when making text of them (12–26 s and 600 MB each before the
    /// guards): each fails in well under a second, naming the problem, in
    /// rendering, lint and the dry run of compiling.
    #[test]
    fn runaway_values_stop_quickly() {
        let ns = "{% set ns = namespace(x=[0]) %}{% for i in range(40) %}";
        let sources = [
            "{{ range(10)|list * 10000000 }}".to_owned(),
            "{{ ('' ~ range(10)|list * 10000000)[:5] }}".to_owned(),
            "{{ (range(10)|list * 10000000|string)[:10] }}".to_owned(),
            "{{ ((range(10)|list * 10000000)|string)[:10] }}".to_owned(),
            "{{ ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 10000000)[:3] }}".to_owned(),
            "{{ ((range(10)|list * 10000000)|join)[:3] }}".to_owned(),
            "{{ ((range(10)|list * 10000000)|upper)[:3] }}".to_owned(),
            "{{ [range(10)|list * 10000000]|money }}".to_owned(),
            "{{ [range(10)|list * 10000000]|date }}".to_owned(),
            "{{ 'x' * 100000000 }}".to_owned(),
            "{{ ('x' * 1000000) * 100 }}".to_owned(),
            "{{ [[0] * 10000] * 10000 }}".to_owned(),
            "{{ (([0] * 10000) + ([0] * 10000))|first }}".to_owned(),
            format!("{ns}{{% set ns.x = [ns.x, ns.x] %}}{{% endfor %}}{{{{ ns.x }}}}"),
            format!("{ns}{{% set ns.x = ns.x + ns.x %}}{{% endfor %}}{{{{ ns.x|length }}}}"),
            format!("{ns}{{% set ns.x = ns.x|chain(ns.x) %}}{{% endfor %}}{{{{ ns.x|length }}}}"),
            format!("{ns}{{% set ns.x = dict(a=ns.x, b=ns.x) %}}{{% endfor %}}{{{{ '' ~ ns.x }}}}"),
        ];
        for src in &sources {
            let started = std::time::Instant::now();
            let s = set(src, src);
            for part in [Part::Html, Part::Text] {
                let e = s
                    .render_part(0, part, &ctx(Value::from(())))
                    .expect_err(src);
                assert!(
                    ["out_of_fuel", "too_large", "invalid"].contains(&e.code),
                    "{src}: {e}"
                );
                // (`list * 10000000|string` is `list * '10000000'`.)
                let named = |e: &RenderError| {
                    e.cause.contains("too much work")
                        || e.cause.contains("limit")
                        || e.cause.contains("too large")
                        || e.cause.contains("can only be multiplied with integers")
                        || e.cause.contains("not a seq")
                };
                assert!(named(&e), "{src}: {e}");
                let e = s
                    .render_marked(0, part, &ctx(Value::from(())))
                    .expect_err(src);
                assert!(named(&e), "{src}: {e}");
            }
            let took = started.elapsed();
            // Five renders (two parts, lint twice, the dry run) in a debug
            // build on a shared machine: tens of milliseconds, most of them.
            assert!(
                took < std::time::Duration::from_millis(1500),
                "{src} took {took:?}"
            );
        }
        // Lists of a sensible size still work, printed and joined.
        let s = set(
            "{{ range(3)|list * 2 }}|{{ ([1] + [2])|join(',') }}|{{ 'ab' ~ [1] }}|{{ '-' * 3 }}",
            "",
        );
        assert_eq!(
            s.render_part(0, Part::Html, &ctx(Value::from(()))).unwrap(),
            "[0, 1, 2, 0, 1, 2]|1,2|ab[1]|---"
        );
    }

    #[test]
    fn huge_output_is_cut_with_an_error() {
        let s = TemplateSet::compile(
            &[Variant {
                name: "A".into(),
                subject: "Hi".into(),
                html: "{% for i in range(50000) %}0123456789{% endfor %}".into(),
                ..Variant::default()
            }],
            &[],
            &Options {
                fuel: 10_000_000,
                max_bytes: 256 * 1024,
            },
        )
        .unwrap();
        let e = s
            .render_part(0, Part::Html, &ctx(Value::from(())))
            .unwrap_err();
        assert_eq!(e.code, "too_large");
        assert!(e.cause.contains("over the 256 KiB limit"), "{e}");
        // One value over the cap is refused before it is written, however
        // much fuel there is; output stops at the cap while being written.
        for html in [
            "{{ 'x' * 300000 }}",
            "{% for i in range(100000) %}{{ 'y' * 500 }}{% endfor %}",
        ] {
            let s = TemplateSet::compile(
                &[Variant {
                    name: "A".into(),
                    subject: "Hi".into(),
                    html: html.into(),
                    ..Variant::default()
                }],
                &[],
                &Options {
                    fuel: 1_000_000_000,
                    max_bytes: 256 * 1024,
                },
            )
            .unwrap();
            let e = s
                .render_part(0, Part::Html, &ctx(Value::from(())))
                .unwrap_err();
            assert!(
                e.cause.contains("size limit") || e.cause.contains("over the 256 KiB limit"),
                "{html}: {e}"
            );
        }
        // With the default fuel the same template runs out of fuel first.
        let s = set(
            "{% for i in range(90000) %}{{ 'x' * 1000 }}{% endfor %}",
            "",
        );
        assert!(s.render_part(0, Part::Html, &ctx(Value::from(()))).is_err());
    }

    #[test]
    fn compile_errors_name_variant_part_and_line() {
        let e = TemplateSet::compile(
            &[
                Variant {
                    name: "A".into(),
                    subject: "ok".into(),
                    ..Variant::default()
                },
                Variant {
                    name: "B".into(),
                    subject: "ok".into(),
                    html: "<p>\n{% if x %}\nno end".into(),
                    ..Variant::default()
                },
            ],
            &[],
            &Options::default(),
        )
        .err()
        .unwrap();
        let msg = e.to_string();
        // minijinja points at the block that is not closed.
        assert!(msg.starts_with("variant B, html, line 2:"), "{msg}");
        // Unknown filters are found by the dry run.
        let e = TemplateSet::compile(
            &[Variant {
                name: "A".into(),
                subject: "{{ profile.first_name | shout }}".into(),
                ..Variant::default()
            }],
            &[],
            &Options::default(),
        )
        .err()
        .unwrap();
        assert!(
            e.to_string()
                .contains("variant A, subject, line 1: unknown filter"),
            "{e}"
        );
        // No file access: include does not exist.
        assert!(TemplateSet::compile(
            &[Variant {
                name: "A".into(),
                subject: "{% include '/etc/passwd' %}".into(),
                ..Variant::default()
            }],
            &[],
            &Options::default(),
        )
        .is_err());
    }

    #[test]
    fn blocks_by_segment_and_snippets() {
        let blocks = vec![
            ContentBlock {
                name: "hero".into(),
                body: "Everyone: {{ profile.first_name }}".into(),
                rules: vec![
                    super::super::BlockRule {
                        segment_id: 1,
                        body: "<b>VIP</b> {{ profile.first_name }}".into(),
                    },
                    super::super::BlockRule {
                        segment_id: 2,
                        body: "Lapsed".into(),
                    },
                ],
                updated_at: String::new(),
            },
            ContentBlock {
                name: "footer".into(),
                body: "Bye & thanks".into(),
                rules: vec![],
                updated_at: String::new(),
            },
            ContentBlock {
                name: "loop".into(),
                body: "{{ block('loop') }}".into(),
                rules: vec![],
                updated_at: String::new(),
            },
        ];
        let names: HashMap<i64, String> = [(1, "VIP".to_owned()), (2, "Lapsed".to_owned())].into();
        let s = TemplateSet::compile_with(
            &[Variant {
                name: "A".into(),
                subject: "{{ block('footer') }}".into(),
                html: "{{ block('hero') }}|{{ block('footer') }}".into(),
                text: "{{ block('loop') }}".into(),
                ..Variant::default()
            }],
            &blocks,
            &names,
            &Options::default(),
        )
        .unwrap();
        assert!(s.needs().segments, "rule blocks need segments");
        let c = |segs: Vec<&str>| {
            Value::from_pairs([
                ("profile", Value::from_pairs([("first_name", "Anna")])),
                (
                    "segments",
                    Value::from(segs.into_iter().map(Value::from).collect::<Vec<_>>()),
                ),
            ])
        };
        assert_eq!(
            s.render_part(0, Part::Html, &c(vec!["Lapsed", "VIP"]))
                .unwrap(),
            "<b>VIP</b> Anna|Bye & thanks"
        );
        assert_eq!(
            s.render_part(0, Part::Html, &c(vec!["Lapsed"])).unwrap(),
            "Lapsed|Bye & thanks"
        );
        assert_eq!(
            s.render_part(0, Part::Html, &c(vec![])).unwrap(),
            "Everyone: Anna|Bye & thanks"
        );
        assert_eq!(
            s.render_part(0, Part::Subject, &c(vec![])).unwrap(),
            "Bye & thanks"
        );
        let e = s.render_part(0, Part::Text, &c(vec![])).unwrap_err();
        assert!(e.cause.contains("nest more than"), "{e}");
    }

    #[test]
    fn lint_markers() {
        assert!(looks_like_html("<b>x</b>"));
        assert!(looks_like_html("Tom &amp; Jerry"));
        assert!(!looks_like_html("Tom & Jerry"));
        assert!(!looks_like_html("a < b"));
    }
}
