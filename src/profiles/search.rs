//! Profile search: the `profile_search` FTS5 index (names, emails, phones,
//! ids) and the translation of what a marketer types into an FTS5 query.
//!
//! **Invariant:** user text never reaches SQL: it becomes quoted FTS5
//! strings in one MATCH expression, bound as a parameter.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::{Context, ProfileError};

/// One line of a profile list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileSummary {
    pub id: i64,
    /// The chosen first and last name.
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    /// Source records behind the profile.
    pub records: u64,
    pub last_seen: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// Profiles matching; for a search, counted up to [`COUNT_CAP`].
    pub total: u64,
    /// The requested page, best match first (by id when listing all).
    pub profiles: Vec<ProfileSummary>,
}

/// Counting every match of a one-letter prefix over a million profiles
/// costs more than the search itself; past this many, "more than" is enough.
pub const COUNT_CAP: u64 = 10_000;

/// Matches are ranked by bm25 only up to this many. Scoring costs about two
/// microseconds a match, and among thousands of "Maria"s the score only
/// tells short documents from long ones; past it, profiles come by id.
pub const RANK_LIMIT: u64 = 2_000;

/// The `settings` key holding the number of profiles, kept by
/// [`super::rebuild`]: `count(*)` reads the whole table (70 ms at a
/// million profiles), too slow for the first page of the profile list.
pub(crate) const COUNT_SETTING: &str = "profiles_count";

/// Profiles matching `query`, best first; every profile by id when the
/// query is empty. See [`fts_query`] for what matches.
pub fn search(
    conn: &Connection,
    query: &str,
    limit: u32,
    offset: u32,
) -> Result<SearchResult, ProfileError> {
    let Some(expression) = fts_query(query) else {
        let total = profile_count(conn)?;
        let mut st = conn.prepare_cached(LIST).context("list profiles")?;
        let profiles = st
            .query_map(params![limit, offset], summary)
            .and_then(|rows| rows.collect())
            .context("list profiles")?;
        return Ok(SearchResult { total, profiles });
    };
    let total: u64 = conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT rowid FROM profile_search
                                    WHERE profile_search MATCH ?1 LIMIT ?2)",
        )
        .and_then(|mut st| st.query_row(params![expression, COUNT_CAP], |r| r.get(0)))
        .context("search profiles")?;
    // Rank and page inside the index; only the page is joined to profiles.
    let sql = if total <= RANK_LIMIT { RANKED } else { BY_ID };
    let mut st = conn.prepare_cached(sql).context("search profiles")?;
    let profiles = st
        .query_map(params![expression, limit, offset], summary)
        .and_then(|rows| rows.collect())
        .context("search profiles")?;
    Ok(SearchResult { total, profiles })
}

/// The columns of a [`ProfileSummary`], as read by [`summary`].
macro_rules! summary_columns {
    () => {
        "p.id, p.first_name, p.last_name, p.email, p.phone, p.city, p.country, p.records, p.last_seen"
    };
}

const LIST: &str = concat!(
    "SELECT ",
    summary_columns!(),
    " FROM profiles p ORDER BY p.id LIMIT ?1 OFFSET ?2"
);

const RANKED: &str = concat!(
    "SELECT ",
    summary_columns!(),
    " FROM (SELECT rowid AS id, rank AS score FROM profile_search
             WHERE profile_search MATCH ?1 ORDER BY rank LIMIT ?2 OFFSET ?3) m
      JOIN profiles p ON p.id = m.id
      ORDER BY m.score, m.id"
);

const BY_ID: &str = concat!(
    "SELECT ",
    summary_columns!(),
    " FROM (SELECT rowid AS id FROM profile_search
             WHERE profile_search MATCH ?1 ORDER BY rowid LIMIT ?2 OFFSET ?3) m
      JOIN profiles p ON p.id = m.id
      ORDER BY m.id"
);

/// The number of profiles: kept in settings by rebuild, counted otherwise.
fn profile_count(conn: &Connection) -> Result<u64, ProfileError> {
    let kept: Option<String> = conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")
        .and_then(|mut st| st.query_row([COUNT_SETTING], |r| r.get(0)).optional())
        .context("count profiles")?;
    if let Some(n) = kept.and_then(|v| v.parse().ok()) {
        return Ok(n);
    }
    conn.query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
        .context("count profiles")
}

/// What a marketer typed → an FTS5 query, or `None` when it holds nothing
/// to search for. Never fails to parse: every word becomes a quoted FTS5
/// string, so `"`, `(`, `*`, `OR`, `NEAR` are just text.
///
/// Every word must match; the last one as a prefix, since people search as
/// they type ("zoë mül" finds Zoë Müller; the tokenizer folds case and
/// accents on both sides). A phone number, however written, is matched on
/// its digits.
pub fn fts_query(input: &str) -> Option<String> {
    if let Some(phone) = phone_query(input) {
        return Some(phone);
    }
    // Punctuation around a word is noise; inside one ("o'brien", "c-2")
    // the tokenizer splits the quoted word into a phrase, as it split the
    // indexed text.
    let words: Vec<&str> = input
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    let last = words.len().checked_sub(1)?;
    let terms: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| word_query(w, i == last))
        .collect();
    Some(terms.join(" AND "))
}

/// One word of the query. A prefix scan costs as much as every indexed
/// word it covers, so a one-letter piece ("c-1", "j") is matched whole.
fn word_query(word: &str, last: bool) -> String {
    let tail = word
        .rsplit(|c: char| !c.is_alphanumeric())
        .find(|p| !p.is_empty())
        .unwrap_or("");
    let star = if last && tail.chars().count() >= 2 {
        "*"
    } else {
        ""
    };
    if word.contains('@') {
        // Emails are indexed as one squashed word (see `Document::email`).
        return format!("\"{}\"{star}", squashed(word));
    }
    if word.contains('.') && squashed(word).len() > tail.len() {
        // A domain ("acme.com"), or the start of an email ("zoe.mu").
        return format!("(\"{}\"{star} OR {}{star})", squashed(word), quoted(word));
    }
    format!("{}{star}", quoted(word))
}

/// An FTS5 string literal: double quotes doubled.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Letters and digits only, lower case: "Zoe.M+news@Web.de" → "zoemnewswebde".
fn squashed(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Tails of a phone number's digits indexed besides the whole number, so
/// a national number typed without its country code is found: the last
/// ten (North America, UK mobiles, Germany, India) and the last seven (a
/// local number, and the key for national numbers of other lengths).
const PHONE_TAILS: [usize; 2] = [10, 7];

/// A phone-looking input (digits with `+ - ( ) . /` and spaces, at least six
/// digits) → a query on the phone column, or on ids for a numeric customer
/// id; `None` for anything else.
fn phone_query(input: &str) -> Option<String> {
    if !input
        .chars()
        .all(|c| c.is_ascii_digit() || " +-()./".contains(c))
    {
        return None;
    }
    let digits: String = input.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return None;
    }
    // As typed, it is the start of the whole number ("+44 7700…") or of a
    // tail ("7700 900…"). Trunk zeros ("07700…") and the international "00"
    // are not part of the E.164 digits, but a local number may start with
    // a zero that is ("0900123"): try both.
    let national = digits.trim_start_matches('0');
    let mut alternatives = vec![format!("\"{national}\"*")];
    if national.len() != digits.len() {
        alternatives.push(format!("\"{digits}\"*"));
    }
    // A complete national number of another length is found by a tail:
    // its last seven digits (France "06 12 34 56 78": nine), or its last
    // ten (Germany "01512 3456789": eleven).
    let tail = match national.len() {
        8 | 9 => Some(7),
        n if n > 10 => Some(10),
        _ => None,
    };
    if let Some(tail) = tail {
        alternatives.push(format!("\"{}\"", &national[national.len() - tail..]));
    }
    Some(format!(
        "(phone : ({})) OR (ids : \"{digits}\"*)",
        alternatives.join(" OR ")
    ))
}

/// The search index row of one profile, gathered from its records.
#[derive(Debug, Default)]
pub(crate) struct Document {
    names: Vec<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    ids: Vec<String>,
}

/// The text of the index columns.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub ids: String,
}

impl Document {
    pub fn clear(&mut self) {
        self.names.clear();
        self.emails.clear();
        self.phones.clear();
        self.ids.clear();
    }

    /// A spelling of the person's name found in a record.
    pub fn name(&mut self, name: &str) {
        self.names.push(name.to_lowercase());
    }

    /// An email as one word, letters and digits only, and its domain the
    /// same way. Split at `@` and `.`, every address would add "com" or
    /// "gmail" to the index, and any search ending in a prefix of those
    /// would read a doclist of most profiles.
    pub fn email(&mut self, email: &str) {
        self.emails.push(squashed(email));
        if let Some((_, domain)) = email.rsplit_once('@') {
            self.emails.push(squashed(domain));
        }
    }

    /// An E.164 phone: its digits, and its national tails.
    pub fn phone(&mut self, phone: &str) {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return;
        }
        for tail in PHONE_TAILS {
            if digits.len() > tail {
                self.phones.push(digits[digits.len() - tail..].to_string());
            }
        }
        self.phones.push(digits);
    }

    /// Customer and loyalty ids, space separated.
    pub fn ids(&mut self, ids: &str) {
        self.ids.extend(ids.split_whitespace().map(str::to_string));
    }

    /// Each column's distinct values, space separated. Repeats would only
    /// skew bm25 towards people with many records.
    pub fn columns(&mut self) -> Columns {
        fn join(values: &mut Vec<String>) -> String {
            values.sort_unstable();
            values.dedup();
            values.join(" ")
        }
        Columns {
            name: join(&mut self.names),
            email: join(&mut self.emails),
            phone: join(&mut self.phones),
            ids: join(&mut self.ids),
        }
    }
}

fn summary(r: &Row<'_>) -> rusqlite::Result<ProfileSummary> {
    let first: Option<String> = r.get(1)?;
    let last: Option<String> = r.get(2)?;
    Ok(ProfileSummary {
        id: r.get(0)?,
        name: super::full_name(first.as_deref(), last.as_deref()),
        email: r.get(3)?,
        phone: r.get(4)?,
        city: r.get(5)?,
        country: r.get(6)?,
        records: r.get::<_, i64>(7)?.max(0) as u64,
        last_seen: r.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_quoted_strings_and_the_last_a_prefix() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query("*** ()"), None);
        assert_eq!(fts_query("Zoë Mül").unwrap(), r#""Zoë" AND "Mül"*"#);
        assert_eq!(
            fts_query(r#"say "hi" OR (x)"#).unwrap(),
            r#""say" AND "hi" AND "OR" AND "x""#
        );
        assert_eq!(fts_query(r#"a"b"#).unwrap(), r#""a""b""#);
        assert_eq!(
            fts_query("C-1").unwrap(),
            r#""C-1""#,
            "one-letter tail: whole"
        );
        assert_eq!(fts_query("C-12").unwrap(), r#""C-12"*"#);
    }

    #[test]
    fn emails_and_domains_match_their_squashed_form() {
        assert_eq!(fts_query("Zoe@New.de").unwrap(), r#""zoenewde"*"#);
        assert_eq!(fts_query("zoe@").unwrap(), r#""zoe"*"#);
        assert_eq!(
            fts_query("acme.com").unwrap(),
            r#"("acmecom"* OR "acme.com"*)"#
        );
        assert_eq!(
            fts_query("j.r. smith").unwrap(),
            r#"("jr" OR "j.r") AND "smith"*"#
        );
    }

    #[test]
    fn phone_numbers_are_matched_on_their_digits() {
        assert_eq!(
            fts_query("+44 7700 900123").unwrap(),
            r#"(phone : ("447700900123"* OR "7700900123")) OR (ids : "447700900123"*)"#
        );
        assert_eq!(
            fts_query("07700900123").unwrap(),
            r#"(phone : ("7700900123"* OR "07700900123"*)) OR (ids : "07700900123"*)"#
        );
        assert_eq!(
            fts_query("06 12 34 56 78").unwrap(),
            r#"(phone : ("612345678"* OR "0612345678"* OR "2345678")) OR (ids : "0612345678"*)"#
        );
        assert_eq!(
            fts_query("0049 1512 3456789").unwrap(),
            r#"(phone : ("4915123456789"* OR "004915123456789"* OR "5123456789")) OR (ids : "004915123456789"*)"#
        );
        assert!(fts_query("12345").unwrap().starts_with("\"12345\""));
    }

    #[test]
    fn document_columns_are_distinct_squashed_and_phones_have_tails() {
        let mut d = Document::default();
        d.name("Zoë Müller");
        d.name("ZOË MÜLLER");
        d.email("Zoe.M+news@Web.de");
        d.email("zoe@web.de");
        d.phone("+447700900123");
        d.phone("+447700900123");
        d.ids("C-1 L-9");
        d.ids("C-1");
        let c = d.columns();
        assert_eq!(c.name, "zoë müller");
        assert_eq!(c.email, "webde zoemnewswebde zoewebde");
        assert_eq!(c.phone, "0900123 447700900123 7700900123");
        assert_eq!(c.ids, "C-1 L-9");
    }
}
