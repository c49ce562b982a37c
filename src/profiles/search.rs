//! Profile search: the `profile_search` FTS5 index (names, emails, phones,
//! ids) and the translation of what a person types into an FTS5 query.

use std::collections::BTreeSet;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use super::ProfileError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfileSummary {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub records: u64,
    pub last_seen: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchResult {
    /// Matches, counted up to [`COUNT_CAP`].
    pub total: u64,
    pub profiles: Vec<ProfileSummary>,
}

/// Counting every match of a one-letter prefix over a million profiles
/// costs more than the search; past this many, "more than" is enough.
pub const COUNT_CAP: u64 = 10_000;

pub(super) struct Document {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub ids: String,
}

/// The index row of a profile from its records' (name, email, phone, id).
pub(super) fn document<'a>(
    records: impl Iterator<
        Item = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        ),
    >,
) -> Document {
    let (mut names, mut emails, mut phones, mut ids) = (
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
    );
    for (name, email, phone, id) in records {
        if let Some(n) = name {
            names.insert(n.to_lowercase());
        }
        if let Some(e) = email {
            emails.insert(e.to_lowercase());
        }
        if let Some(p) = phone {
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            // The whole number, and its national tails, so "0770 0900123"
            // and "700 900 123" find +447700900123.
            for tail in [digits.len(), 10, 9, 7] {
                if digits.len() >= tail {
                    phones.insert(digits[digits.len() - tail..].to_string());
                }
            }
        }
        if let Some(i) = id {
            ids.insert(i.to_string());
        }
    }
    let join = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>().join(" ");
    Document {
        name: join(names),
        email: join(emails),
        phone: join(phones),
        ids: join(ids),
    }
}

/// An FTS5 string literal: double quotes doubled.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// What a person typed → an FTS5 query. Every word must match (as a
/// prefix); a phone number, however written, matches the phone column.
/// Never fails: FTS5 syntax characters in the input are quoted away.
pub fn fts_query(input: &str) -> Option<String> {
    let input = input.trim();
    if input.is_empty() {
        return None;
    }
    let digits: String = input.chars().filter(char::is_ascii_digit).collect();
    let phone_like = digits.len() >= 6
        && input
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if phone_like {
        // National numbers start with trunk zeros the stored E.164 lacks.
        let d = digits.trim_start_matches('0');
        let d = if d.len() > 10 { &d[d.len() - 10..] } else { d };
        return Some(format!("phone : {}*", quoted(d)));
    }
    let terms: Vec<String> = input
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.contains('@') || w.contains('.') {
                // An email (or part of one) is a phrase of its parts.
                quoted(w)
            } else {
                format!("{}*", quoted(w))
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProfileSummary> {
    let first: Option<String> = r.get(1)?;
    let last: Option<String> = r.get(2)?;
    Ok(ProfileSummary {
        id: r.get(0)?,
        name: match (first, last) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (f, l) => f.or(l),
        },
        email: r.get(3)?,
        phone: r.get(4)?,
        city: r.get(5)?,
        country: r.get(6)?,
        records: r.get::<_, i64>(7)? as u64,
        last_seen: r.get(8)?,
    })
}

const COLUMNS: &str =
    "p.id, p.first_name, p.last_name, p.email, p.phone, p.city, p.country, p.records, p.last_seen";

/// Profiles matching `query` (all profiles when it is empty), best first.
pub fn search(
    conn: &Connection,
    query: &str,
    limit: u32,
    offset: u32,
) -> Result<SearchResult, ProfileError> {
    let Some(fts) = fts_query(query) else {
        let total: u64 = conn.query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))?;
        let mut st = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM profiles p ORDER BY p.id LIMIT ?1 OFFSET ?2"
        ))?;
        let profiles = st
            .query_map(params![limit, offset], summary)?
            .collect::<rusqlite::Result<_>>()?;
        return Ok(SearchResult { total, profiles });
    };
    let total: u64 = conn.query_row(
        "SELECT count(*) FROM (SELECT rowid FROM profile_search WHERE profile_search MATCH ?1 LIMIT ?2)",
        params![fts, COUNT_CAP],
        |r| r.get(0),
    )?;
    // Rank inside the index, then join the page to profiles by rowid.
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM (SELECT rowid AS id, rank FROM profile_search WHERE profile_search MATCH ?1
                                ORDER BY rank LIMIT ?2 OFFSET ?3) m
         JOIN profiles p ON p.id = m.id ORDER BY m.rank"
    ))?;
    let profiles = st
        .query_map(params![fts, limit, offset], summary)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(SearchResult { total, profiles })
}
