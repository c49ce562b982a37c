//! Template source as pieces: text, `{{ expression }}`, `{% statement %}`
//! and `{# comment #}`, each with its line. minijinja compiles and renders;
//! this lexer serves the tools that must see the source as the marketer
//! wrote it: merge-tag translation (which expression becomes which tag)
//! and lint (which variable an output shows).
//!
//! It follows minijinja's default syntax: whitespace markers (`{{-`,
//! `-%}`, `+%}`), strings with `'` or `"` and backslash escapes inside
//! tags, and `{% raw %}…{% endraw %}` kept as text.

/// What a piece of source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceKind {
    Text,
    Expr,
    Stmt,
    Comment,
}

/// One piece of a template's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece<'a> {
    pub kind: PieceKind,
    /// The source as written, delimiters included.
    pub raw: &'a str,
    /// Text: the text; tags: what is between the delimiters, without
    /// whitespace markers, trimmed.
    pub inner: &'a str,
    /// 1-based line of the piece's first character.
    pub line: usize,
}

/// Splits `source` into pieces. An unterminated tag is kept as text (the
/// compiler reports it).
pub fn pieces(source: &str) -> Vec<Piece<'_>> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut text_start = 0usize;
    let mut line = 1usize;
    let mut text_line = 1usize;
    let mut in_raw = false;
    while pos + 1 < bytes.len() {
        let open = (bytes[pos], bytes[pos + 1]);
        let kind = match open {
            (b'{', b'{') if !in_raw => Some(PieceKind::Expr),
            (b'{', b'%') => Some(PieceKind::Stmt),
            (b'{', b'#') if !in_raw => Some(PieceKind::Comment),
            _ => None,
        };
        let Some(kind) = kind else {
            if bytes[pos] == b'\n' {
                line += 1;
            }
            pos += 1;
            continue;
        };
        let Some(end) = tag_end(source, pos, kind) else {
            if bytes[pos] == b'\n' {
                line += 1;
            }
            pos += 1;
            continue;
        };
        let raw = &source[pos..end];
        let inner = strip_markers(&raw[2..raw.len() - 2]);
        if in_raw {
            // Inside raw only `{% endraw %}` ends the text.
            if kind == PieceKind::Stmt && inner == "endraw" {
                in_raw = false;
            } else {
                pos += 1;
                continue;
            }
        }
        if text_start < pos {
            out.push(Piece {
                kind: PieceKind::Text,
                raw: &source[text_start..pos],
                inner: &source[text_start..pos],
                line: text_line,
            });
        }
        let tag_line = line;
        line += raw.matches('\n').count();
        if kind == PieceKind::Stmt && inner == "raw" {
            in_raw = true;
        } else if !(kind == PieceKind::Stmt && inner == "endraw") {
            out.push(Piece {
                kind,
                raw,
                inner,
                line: tag_line,
            });
        }
        pos = end;
        text_start = end;
        text_line = line;
    }
    if text_start < source.len() {
        out.push(Piece {
            kind: PieceKind::Text,
            raw: &source[text_start..],
            inner: &source[text_start..],
            line: text_line,
        });
    }
    out
}

/// The byte after the closing delimiter of the tag opening at `start`.
fn tag_end(source: &str, start: usize, kind: PieceKind) -> Option<usize> {
    let bytes = source.as_bytes();
    let close = match kind {
        PieceKind::Expr => b'}',
        PieceKind::Stmt => b'%',
        PieceKind::Comment => b'#',
        PieceKind::Text => return None,
    };
    let mut i = start + 2;
    let mut quote: Option<u8> = None;
    while i + 1 < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 2;
                    continue;
                }
                if b == q {
                    quote = None;
                }
            }
            None => {
                if (b == b'\'' || b == b'"') && kind != PieceKind::Comment {
                    quote = Some(b);
                } else if b == close && bytes[i + 1] == b'}' {
                    return Some(i + 2);
                }
            }
        }
        i += 1;
    }
    None
}

fn strip_markers(s: &str) -> &str {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let s = s.strip_suffix(['-', '+']).unwrap_or(s);
    s.trim()
}

/// A literal argument of a filter or function.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// What an expression starts from.
#[derive(Debug, Clone, PartialEq)]
pub enum Head {
    /// `profile.first_name` → `["profile", "first_name"]`.
    Path(Vec<String>),
    /// `block("footer")`.
    Call(String, Vec<Literal>),
}

/// An expression of the shape merge tags can express: a variable path or a
/// call with literal arguments, then filters with literal arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleExpr {
    pub head: Head,
    pub filters: Vec<(String, Vec<Literal>)>,
}

impl SimpleExpr {
    /// `profile.first_name` for a path head.
    pub fn path(&self) -> Option<String> {
        match &self.head {
            Head::Path(p) => Some(p.join(".")),
            Head::Call(..) => None,
        }
    }
}

/// Parses `expr` when it is a [`SimpleExpr`]; anything else (operators,
/// tests, variables as arguments, …) gives None.
pub fn simple_expr(expr: &str) -> Option<SimpleExpr> {
    let mut p = Parser {
        s: expr.as_bytes(),
        src: expr,
        i: 0,
    };
    p.ws();
    let first = p.ident()?;
    p.ws();
    let head = if p.peek() == Some(b'(') {
        Head::Call(first, p.args()?)
    } else {
        let mut path = vec![first];
        loop {
            p.ws();
            match p.peek() {
                Some(b'.') => {
                    p.i += 1;
                    p.ws();
                    path.push(p.ident()?);
                }
                Some(b'[') => {
                    p.i += 1;
                    p.ws();
                    match p.literal()? {
                        Literal::Str(s) => path.push(s),
                        Literal::Int(n) => path.push(n.to_string()),
                        _ => return None,
                    }
                    p.ws();
                    p.eat(b']')?;
                }
                _ => break,
            }
        }
        Head::Path(path)
    };
    let mut filters = Vec::new();
    loop {
        p.ws();
        match p.peek() {
            None => break,
            Some(b'|') => {
                p.i += 1;
                p.ws();
                let name = p.ident()?;
                p.ws();
                let args = if p.peek() == Some(b'(') {
                    p.args()?
                } else {
                    Vec::new()
                };
                filters.push((name, args));
            }
            Some(_) => return None,
        }
    }
    Some(SimpleExpr { head, filters })
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek() == Some(b)).then(|| self.i += 1)
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.i += 1;
        }
        let word = &self.src[start..self.i];
        let ok = !word.is_empty() && !word.as_bytes()[0].is_ascii_digit();
        // Keywords make the expression something other than a path.
        let keyword = matches!(
            word,
            "and" | "or" | "not" | "in" | "is" | "if" | "else" | "true" | "false" | "none"
        );
        (ok && !keyword).then(|| word.to_owned())
    }

    fn args(&mut self) -> Option<Vec<Literal>> {
        self.eat(b'(')?;
        let mut out = Vec::new();
        loop {
            self.ws();
            if self.eat(b')').is_some() {
                return Some(out);
            }
            if !out.is_empty() {
                self.eat(b',')?;
                self.ws();
            }
            out.push(self.literal()?);
        }
    }

    fn literal(&mut self) -> Option<Literal> {
        match self.peek()? {
            q @ (b'"' | b'\'') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let c = self.src[self.i..].chars().next()?;
                    self.i += c.len_utf8();
                    match c {
                        '\\' => {
                            let e = self.src[self.i..].chars().next()?;
                            self.i += e.len_utf8();
                            out.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                        }
                        c if c as u32 == q as u32 => return Some(Literal::Str(out)),
                        c => out.push(c),
                    }
                }
            }
            b'0'..=b'9' | b'-' => {
                let start = self.i;
                self.i += 1;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_digit() || b == b'.' || b == b'_')
                {
                    self.i += 1;
                }
                let text = self.src[start..self.i].replace('_', "");
                text.parse::<i64>()
                    .map(Literal::Int)
                    .or_else(|_| text.parse::<f64>().map(Literal::Float))
                    .ok()
            }
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
                    self.i += 1;
                }
                match &self.src[start..self.i] {
                    "true" | "True" => Some(Literal::Bool(true)),
                    "false" | "False" => Some(Literal::Bool(false)),
                    _ => None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_with_lines_strings_and_raw() {
        let src = "Hi {{ profile.first_name }}!\n{% if x == \"%}\" %}\nyes{# note #}{% endif %}\n{% raw %}{{ keep }}{% endraw %}";
        let p = pieces(src);
        let kinds: Vec<(PieceKind, &str, usize)> =
            p.iter().map(|p| (p.kind, p.inner, p.line)).collect();
        assert_eq!(
            kinds,
            vec![
                (PieceKind::Text, "Hi ", 1),
                (PieceKind::Expr, "profile.first_name", 1),
                (PieceKind::Text, "!\n", 1),
                (PieceKind::Stmt, "if x == \"%}\"", 2),
                (PieceKind::Text, "\nyes", 2),
                (PieceKind::Comment, "note", 3),
                (PieceKind::Stmt, "endif", 3),
                (PieceKind::Text, "\n", 3),
                (PieceKind::Text, "{{ keep }}", 4),
            ]
        );
        // Whitespace markers are not part of the expression.
        let p = pieces("{{- name -}}");
        assert_eq!(p[0].inner, "name");
        // An unterminated tag stays text.
        let p = pieces("a {{ b");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind, PieceKind::Text);
    }

    #[test]
    fn simple_expressions() {
        let e = simple_expr("profile.first_name | default('there') | title").unwrap();
        assert_eq!(
            e.head,
            Head::Path(vec!["profile".into(), "first_name".into()])
        );
        assert_eq!(
            e.filters,
            vec![
                ("default".into(), vec![Literal::Str("there".into())]),
                ("title".into(), vec![])
            ]
        );
        assert_eq!(e.path().as_deref(), Some("profile.first_name"));
        let e = simple_expr("block(\"footer\")").unwrap();
        assert_eq!(
            e.head,
            Head::Call("block".into(), vec![Literal::Str("footer".into())])
        );
        assert!(simple_expr("a + b").is_none());
        assert!(simple_expr("a if b else c").is_none());
        assert!(simple_expr("x | default(y)").is_none());
        assert_eq!(
            simple_expr("profile['first_name']")
                .unwrap()
                .path()
                .as_deref(),
            Some("profile.first_name")
        );
    }
}
