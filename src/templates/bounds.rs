//! Bounds on what one render can build, beyond minijinja's fuel.
//!
//! minijinja repeats and concatenates lists lazily (`[1] * 10000000`,
//! `a + a`) without charging fuel for the items, and turns values into text
//! (printing, `~`, `string`, the string filters) by walking every item
//! without fuel checks. A two-line template could so make one recipient's
//! render take seconds and gigabytes. minijinja has no hook on those
//! operators, so templates are compiled from a rewritten source:
//! [`guard_source`] wraps the operands and results that could be huge in a
//! call to [`GUARD`], which walks the value with a budget ([`check_size`])
//! and fails the render, in microseconds, when it is over the limit. The
//! formatter and the `string` filter use the same walk before printing.
//!
//! The rewrite only inserts `__bounded(` and `)` inside a line, so line
//! numbers of errors stay those of the template the marketer wrote.

use minijinja::machinery::ast::{CallArg, Expr, Stmt};
use minijinja::value::{ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

/// Name of the guard function the rewritten templates call.
pub(crate) const GUARD: &str = "__bounded";

/// Most items (at every depth together) a value may have when it is made
/// into text or built by an operator. Lists in a message are a handful of
/// products or segments.
pub(crate) const MAX_ITEMS: usize = 10_000;

/// Deepest nesting walked (a list in a list in …).
const MAX_DEPTH: usize = 32;

/// Filters that turn their input or arguments into text (whose cost is the
/// size of that text). Ours (`money`, `date`, `ago`, `pluralize`) refuse
/// lists and maps without printing them, so they need no guard (and the
/// hot path of every message stays free of the extra calls).
const STRINGIFYING_FILTERS: &[&str] = &[
    "string",
    "lower",
    "upper",
    "title",
    "capitalize",
    "replace",
    "trim",
    "split",
    "lines",
    "indent",
    "urlencode",
    "format",
    "join",
    "escape",
    "e",
    "safe",
];

/// Filters and functions whose result can be larger than their inputs
/// without any fuel charged for it.
const GROWING: &[&str] = &["chain", "zip", "batch", "dict", "namespace"];

/// Too large: the error a render fails with. `OutOfFuel`, so it is reported
/// with the fuel errors (`out_of_fuel`), with its own cause.
pub(crate) fn too_large(what: &str) -> Error {
    Error::new(
        ErrorKind::OutOfFuel,
        format!(
            "the template uses too much work/memory for one recipient: {what} (more than {MAX_ITEMS} items or the size limit)"
        ),
    )
}

struct Budget {
    items: usize,
    bytes: usize,
    max_bytes: usize,
}

/// Walks `value` and everything in it, counting items and the bytes of the
/// text it holds; fails as soon as either is over the limit, so the walk
/// itself is bounded. The work is charged as fuel (about half a fuel per
/// item, like minijinja's own item charge).
pub(crate) fn check_size(
    state: Option<&State>,
    value: &Value,
    max_bytes: usize,
    what: &str,
) -> Result<(), Error> {
    // Scalars and text are bounded by fuel where they were made.
    if value.as_object().is_none() {
        return Ok(());
    }
    let mut budget = Budget {
        items: 0,
        bytes: 0,
        max_bytes,
    };
    let result = walk(value, &mut budget, 0);
    if let Some(state) = state {
        state.consume_fuel((budget.items as u64).div_ceil(2) + budget.bytes as u64 / 64)?;
    }
    if result.is_err() {
        return Err(too_large(what));
    }
    Ok(())
}

fn walk(value: &Value, b: &mut Budget, depth: usize) -> Result<(), ()> {
    b.items += 1;
    if b.items > MAX_ITEMS {
        return Err(());
    }
    if let Some(s) = value.as_str() {
        b.bytes += s.len();
        return if b.bytes > b.max_bytes {
            Err(())
        } else {
            Ok(())
        };
    }
    let Some(obj) = value.as_object() else {
        return Ok(());
    };
    if depth >= MAX_DEPTH {
        return Err(());
    }
    // A known length over the budget fails before any iteration.
    if let Some(n) = obj.enumerator_len() {
        if n > MAX_ITEMS - b.items {
            return Err(());
        }
    }
    match obj.repr() {
        ObjectRepr::Map => {
            if let Some(pairs) = obj.try_iter_pairs() {
                for (k, v) in pairs {
                    walk(&k, b, depth + 1)?;
                    walk(&v, b, depth + 1)?;
                }
            }
        }
        ObjectRepr::Seq | ObjectRepr::Iterable => {
            if let Some(items) = obj.try_iter() {
                for v in items {
                    walk(&v, b, depth + 1)?;
                }
            }
        }
        // Plain objects (the loop, macros) print a short description.
        _ => {}
    }
    Ok(())
}

/// The guard function: the value itself when it is within the limits.
pub(crate) fn guard(state: &State, value: Value, max_bytes: usize) -> Result<Value, Error> {
    check_size(
        Some(state),
        &value,
        max_bytes,
        "a list or map built here is too large",
    )?;
    Ok(value)
}

/// `value` as text, bounded (the `string` filter, and the formatter for
/// lists and maps).
pub(crate) fn bounded_string(
    state: &State,
    value: &Value,
    max_bytes: usize,
) -> Result<String, Error> {
    if let Some(s) = value.as_str() {
        return Ok(s.to_owned());
    }
    check_size(
        Some(state),
        value,
        max_bytes,
        "a list or map is too large to print",
    )?;
    let text = value.to_string();
    if text.len() > max_bytes {
        return Err(too_large("a list or map is too large to print"));
    }
    Ok(text)
}

/// Where to insert an opening `__bounded(` and its `)`.
struct Wrap {
    start: usize,
    end: usize,
}

/// The template source with every operand or result that could be huge
/// wrapped in [`GUARD`]. A source that does not parse is returned as it is
/// (compiling it reports the error).
pub(crate) fn guard_source(source: &str) -> String {
    // Cheap test first: most templates use none of what is wrapped.
    let may_need = ['*', '+', '~', '[', '(', '{', '|'];
    if !source.contains(may_need) {
        return source.to_owned();
    }
    let Ok(ast) = minijinja::machinery::parse(source, "t", Default::default()) else {
        return source.to_owned();
    };
    let mut wraps = Vec::new();
    visit_stmt(&ast, source, &mut wraps);
    if wraps.is_empty() {
        return source.to_owned();
    }
    // Opening: outer (longer) spans first; closing: inner (shorter) first.
    let mut inserts: Vec<(usize, u8, isize, &str)> = Vec::with_capacity(wraps.len() * 2);
    for w in &wraps {
        let len = (w.end - w.start) as isize;
        inserts.push((w.start, 1, -len, "__bounded("));
        inserts.push((w.end, 0, len, ")"));
    }
    inserts.sort();
    let mut out = String::with_capacity(source.len() + inserts.len() * 8);
    let mut at = 0;
    for (pos, _, _, text) in inserts {
        out.push_str(&source[at..pos]);
        out.push_str(text);
        at = pos;
    }
    out.push_str(&source[at..]);
    out
}

/// The source as the marketer wrote it, from a rewritten one (lint shows
/// expressions).
pub(crate) fn unguard(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Depths of the parentheses open at this point; `true` for a guard's.
    let mut open: Vec<bool> = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("__bounded(") {
            open.push(true);
            rest = after;
            continue;
        }
        match c {
            '(' => open.push(false),
            // A guard's `)` goes; any other is kept (and closes its `(`).
            ')' if open.pop() == Some(true) => {
                rest = &rest[1..];
                continue;
            }
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Byte range of an expression in the source. minijinja starts the span
/// of a filter or test at its name, so the input on the left is added.
fn span_of(e: &Expr) -> (usize, usize) {
    let s = e.span();
    let own = (s.start_offset as usize, s.end_offset as usize);
    let left = match e {
        Expr::Filter(f) => f.expr.as_ref(),
        Expr::Test(t) => Some(&t.expr),
        Expr::GetAttr(g) => Some(&g.expr),
        Expr::GetItem(g) => Some(&g.expr),
        Expr::Call(c) => Some(&c.expr),
        Expr::Slice(x) => Some(&x.expr),
        Expr::BinOp(b) => Some(&b.left),
        Expr::Compare(c) => Some(&c.expr),
        Expr::IfExpr(i) => Some(&i.true_expr),
        _ => None,
    };
    match left {
        Some(l) => {
            let (ls, le) = span_of(l);
            (own.0.min(ls), own.1.max(le))
        }
        None => own,
    }
}

/// A literal made of literals only (its size is that of the source).
fn is_constant(e: &Expr) -> bool {
    match e {
        Expr::Const(_) => true,
        Expr::List(l) => l.items.iter().all(is_constant),
        Expr::Tuple(t) => t.items.iter().all(is_constant),
        Expr::Map(m) => m.keys.iter().chain(&m.values).all(is_constant),
        _ => false,
    }
}

fn wrap(e: &Expr, source: &str, wraps: &mut Vec<Wrap>) {
    if is_constant(e) {
        return;
    }
    let (start, end) = span_of(e);
    if start < end
        && end <= source.len()
        && source.is_char_boundary(start)
        && source.is_char_boundary(end)
    {
        wraps.push(Wrap { start, end });
    }
}

fn visit_body(body: &[Stmt], source: &str, wraps: &mut Vec<Wrap>) {
    for s in body {
        visit_stmt(s, source, wraps);
    }
}

#[allow(unreachable_patterns)]
fn visit_stmt(stmt: &Stmt, source: &str, wraps: &mut Vec<Wrap>) {
    match stmt {
        Stmt::Template(t) => visit_body(&t.children, source, wraps),
        Stmt::EmitExpr(e) => visit_expr(&e.expr, source, wraps),
        Stmt::EmitRaw(_) => {}
        Stmt::ForLoop(f) => {
            // The target is assigned to, not evaluated.
            visit_expr(&f.iter, source, wraps);
            if let Some(x) = &f.filter_expr {
                visit_expr(x, source, wraps);
            }
            visit_body(&f.body, source, wraps);
            visit_body(&f.else_body, source, wraps);
        }
        Stmt::IfCond(i) => {
            visit_expr(&i.expr, source, wraps);
            visit_body(&i.true_body, source, wraps);
            visit_body(&i.false_body, source, wraps);
        }
        Stmt::WithBlock(w) => {
            for (_, value) in &w.assignments {
                visit_expr(value, source, wraps);
            }
            visit_body(&w.body, source, wraps);
        }
        Stmt::Set(s) => visit_expr(&s.expr, source, wraps),
        Stmt::SetBlock(s) => {
            if let Some(f) = &s.filter {
                visit_expr(f, source, wraps);
            }
            visit_body(&s.body, source, wraps);
        }
        Stmt::AutoEscape(a) => {
            visit_expr(&a.enabled, source, wraps);
            visit_body(&a.body, source, wraps);
        }
        Stmt::FilterBlock(f) => {
            visit_expr(&f.filter, source, wraps);
            visit_body(&f.body, source, wraps);
        }
        Stmt::Macro(m) => {
            for d in &m.defaults {
                visit_expr(d, source, wraps);
            }
            visit_body(&m.body, source, wraps);
        }
        Stmt::CallBlock(c) => {
            visit_expr(&c.call.expr, source, wraps);
            visit_args(&c.call.args, source, wraps, false);
            for d in &c.macro_decl.defaults {
                visit_expr(d, source, wraps);
            }
            visit_body(&c.macro_decl.body, source, wraps);
        }
        Stmt::Do(d) => {
            visit_expr(&d.call.expr, source, wraps);
            visit_args(&d.call.args, source, wraps, false);
        }
        _ => {}
    }
}

fn visit_args(args: &[CallArg], source: &str, wraps: &mut Vec<Wrap>, guard_each: bool) {
    for a in args {
        let e = match a {
            CallArg::Pos(e)
            | CallArg::Kwarg(_, e)
            | CallArg::PosSplat(e)
            | CallArg::KwargSplat(e) => e,
        };
        visit_expr(e, source, wraps);
        if guard_each && matches!(a, CallArg::Pos(_) | CallArg::Kwarg(..)) {
            wrap(e, source, wraps);
        }
    }
}

fn visit_expr(e: &Expr, source: &str, wraps: &mut Vec<Wrap>) {
    use minijinja::machinery::ast::BinOpKind;
    match e {
        Expr::Var(_) | Expr::Const(_) => {}
        Expr::Slice(s) => {
            visit_expr(&s.expr, source, wraps);
            for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                visit_expr(x, source, wraps);
            }
        }
        Expr::UnaryOp(u) => visit_expr(&u.expr, source, wraps),
        Expr::BinOp(b) => {
            visit_expr(&b.left, source, wraps);
            visit_expr(&b.right, source, wraps);
            match b.op {
                // Lists repeated or joined lazily: the result is checked.
                BinOpKind::Mul | BinOpKind::Add => wrap(e, source, wraps),
                // `~` prints both sides into one string: they are checked.
                BinOpKind::Concat => {
                    wrap(&b.left, source, wraps);
                    wrap(&b.right, source, wraps);
                }
                _ => {}
            }
        }
        Expr::Compare(c) => {
            visit_expr(&c.expr, source, wraps);
            for op in &c.ops {
                visit_expr(&op.expr, source, wraps);
            }
        }
        Expr::IfExpr(i) => {
            visit_expr(&i.test_expr, source, wraps);
            visit_expr(&i.true_expr, source, wraps);
            if let Some(f) = &i.false_expr {
                visit_expr(f, source, wraps);
            }
        }
        Expr::Filter(f) => {
            let stringifies = STRINGIFYING_FILTERS.contains(&f.name);
            if let Some(x) = &f.expr {
                visit_expr(x, source, wraps);
                if stringifies {
                    wrap(x, source, wraps);
                }
            }
            visit_args(&f.args, source, wraps, stringifies);
            if GROWING.contains(&f.name) {
                wrap(e, source, wraps);
            }
        }
        Expr::Test(t) => {
            visit_expr(&t.expr, source, wraps);
            visit_args(&t.args, source, wraps, false);
        }
        Expr::GetAttr(g) => visit_expr(&g.expr, source, wraps),
        Expr::GetItem(g) => {
            visit_expr(&g.expr, source, wraps);
            visit_expr(&g.subscript_expr, source, wraps);
        }
        Expr::Call(c) => {
            visit_expr(&c.expr, source, wraps);
            visit_args(&c.args, source, wraps, false);
            if let Expr::Var(v) = &c.expr {
                if GROWING.contains(&v.id) {
                    wrap(e, source, wraps);
                }
            }
        }
        // A literal holding other values can nest a list in itself again
        // and again (`{% set ns.x = [ns.x, ns.x] %}` in a loop).
        Expr::List(l) => {
            for i in &l.items {
                visit_expr(i, source, wraps);
            }
            wrap(e, source, wraps);
        }
        Expr::Tuple(t) => {
            for i in &t.items {
                visit_expr(i, source, wraps);
            }
            // Only a parenthesised tuple can become an argument.
            let (start, end) = span_of(e);
            let parens = source.get(start..start + 1) == Some("(")
                && end > 0
                && source.get(end - 1..end) == Some(")");
            if parens {
                wrap(e, source, wraps);
            }
        }
        Expr::Map(m) => {
            for (k, v) in m.keys.iter().zip(&m.values) {
                visit_expr(k, source, wraps);
                visit_expr(v, source, wraps);
            }
            wrap(e, source, wraps);
        }
    }
}

/// Kinds that hold items.
pub(crate) fn is_container(v: &Value) -> bool {
    matches!(
        v.kind(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable | ValueKind::Plain
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_wraps_operands_and_results() {
        assert_eq!(guard_source("Hi {{ name }}"), "Hi {{ name }}");
        assert_eq!(
            guard_source("{{ x * 3 }}|{{ 'a' ~ b }}"),
            "{{ __bounded(x * 3) }}|{{ 'a' ~ __bounded(b) }}"
        );
        assert_eq!(
            guard_source("{{ (a + b) ~ c|upper }}"),
            "{{ (__bounded(__bounded(a + b))) ~ __bounded(__bounded(c)|upper) }}"
        );
        // Targets are not evaluated; literals of constants need no guard.
        assert_eq!(
            guard_source("{% for a, b in [(1, 2)] %}{{ a }}{% endfor %}"),
            "{% for a, b in [(1, 2)] %}{{ a }}{% endfor %}"
        );
        assert_eq!(
            guard_source("{% set ns.x = [ns.x, ns.x] %}"),
            "{% set ns.x = __bounded([ns.x, ns.x]) %}"
        );
        // Lines stay where they were.
        let src = "a\n{{ x\n * 2 }}\n{{ y }}";
        let g = guard_source(src);
        assert_eq!(g.lines().count(), src.lines().count());
        // A source that does not parse is left for the compiler to report.
        assert_eq!(guard_source("{{ x * }}"), "{{ x * }}");
    }

    #[test]
    fn unguard_restores_the_source() {
        for src in [
            "{{ (a + b) ~ c|upper }}",
            "{{ x * 3 }} (y) {{ f(a, (b)) ~ 'x' }}",
            "{% set ns.x = [ns.x, ns.x] %}",
        ] {
            assert_eq!(unguard(&guard_source(src)), src);
        }
    }
}
