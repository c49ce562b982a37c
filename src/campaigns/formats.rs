//! Export destinations: their exact headers, how each value is normalised,
//! which columns are hashed, and how each cell is protected from spreadsheet
//! formula injection (see `../shared/reference/FORMATS.md`, "Exports").
//!
//! Per-destination decisions:
//!
//! | format | delimiter | BOM (when asked) | hashed | injection guard |
//! |---|---|---|---|---|
//! | `csv` | `,` | yes | none | every text cell, phones too (`'+44…`): the file is for spreadsheets, where the `'` also keeps Excel from turning a phone into a number |
//! | `mailchimp` | `,` | yes | none | text cells; `Phone Number` kept as is when strict E.164 |
//! | `klaviyo` | `,` | yes | none | text cells; `Phone Number` kept when E.164 |
//! | `hubspot` | `,` | yes | none | text cells; `Phone Number` kept when E.164 |
//! | `brevo` | `;` | yes | none | text cells; `SMS` kept when E.164 (`+` and country code, no separators) |
//! | `meta` | `,` | never | all columns | hashes are lowercase hex, nothing to guard |
//! | `google_ads` | `,` | never | Email, Phone, First Name, Last Name | hex as is; `Country` and `Zip` (unhashed) guarded |
//!
//! Why phones are safe to keep: a strict E.164 cell is `+` and digits only,
//! so it cannot carry a formula that reaches outside the sheet; anything
//! else in a phone column is guarded. Emails are guarded everywhere: an
//! address that starts with `=`, `+`, `-` or `@` is legal in RFC 5322 but
//! never a real customer's, and `=cmd|'/Ccalc'!A0@x.com` is a valid address.
//!
//! Meta and Google read the file themselves and want plain UTF-8: a BOM
//! would become part of the first header (`\u{feff}email`), so it is never
//! written for them (the summary warns when one was asked for).

use std::fmt::Write as _;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::safe_csv::{is_e164, Guard};
use super::{sql, CampaignError, Channel, Result};

/// An export destination. The names (`as_str`, serde) are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Generic CSV with chosen columns.
    Csv,
    /// Mailchimp audience import.
    Mailchimp,
    /// Klaviyo list import.
    Klaviyo,
    /// HubSpot contacts import.
    Hubspot,
    /// Brevo contacts import.
    Brevo,
    /// Meta (Facebook) custom audience customer list, hashed.
    Meta,
    /// Google Ads Customer Match, hashed.
    GoogleAds,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Csv,
        Format::Mailchimp,
        Format::Klaviyo,
        Format::Hubspot,
        Format::Brevo,
        Format::Meta,
        Format::GoogleAds,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Mailchimp => "mailchimp",
            Format::Klaviyo => "klaviyo",
            Format::Hubspot => "hubspot",
            Format::Brevo => "brevo",
            Format::Meta => "meta",
            Format::GoogleAds => "google_ads",
        }
    }

    /// What the marketer sees.
    pub fn label(self) -> &'static str {
        match self {
            Format::Csv => "CSV (chosen columns)",
            Format::Mailchimp => "Mailchimp audience import",
            Format::Klaviyo => "Klaviyo list import",
            Format::Hubspot => "HubSpot contacts import",
            Format::Brevo => "Brevo contacts import",
            Format::Meta => "Meta custom audience (hashed)",
            Format::GoogleAds => "Google Ads Customer Match (hashed)",
        }
    }

    pub fn delimiter(self) -> u8 {
        match self {
            Format::Brevo => b';',
            _ => b',',
        }
    }

    /// Whether a UTF-8 BOM may be written when asked for.
    pub fn allows_bom(self) -> bool {
        !matches!(self, Format::Meta | Format::GoogleAds)
    }

    /// The channels the destination serves (for pickers; any format can
    /// export any campaign).
    pub fn channels(self) -> &'static [Channel] {
        match self {
            Format::Csv => &[Channel::Email, Channel::Sms, Channel::Ads],
            Format::Mailchimp | Format::Klaviyo | Format::Brevo => &[Channel::Email, Channel::Sms],
            Format::Hubspot => &[Channel::Email],
            Format::Meta | Format::GoogleAds => &[Channel::Ads],
        }
    }

    /// Whether values are SHA-256 hashed.
    pub fn is_hashed(self) -> bool {
        matches!(self, Format::Meta | Format::GoogleAds)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = CampaignError;
    fn from_str(s: &str) -> Result<Format> {
        let s = s.trim();
        Format::ALL
            .into_iter()
            .find(|f| {
                f.as_str().eq_ignore_ascii_case(s)
                    || (s.eq_ignore_ascii_case("google") && *f == Format::GoogleAds)
            })
            .ok_or_else(|| CampaignError::UnknownFormat(s.to_owned()))
    }
}

/// The generic CSV's columns when none are chosen.
pub const DEFAULT_COLUMNS: [&str; 5] = ["email", "first_name", "last_name", "phone", "country"];

/// Profile columns every export reads, in this order (`p.` prefix in SQL).
pub(crate) const PROFILE_COLUMNS: [&str; 14] = [
    "id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "birth_date",
    "gender",
    "company",
    "job_title",
    "address1",
    "city",
    "region",
    "postcode",
    "country",
];
pub(crate) const EMAIL: usize = 1;
pub(crate) const PHONE: usize = 2;
const FIRST_NAME: usize = 3;
const LAST_NAME: usize = 4;
const BIRTH_DATE: usize = 5;
const GENDER: usize = 6;
const COMPANY: usize = 7;
const JOB_TITLE: usize = 8;
const ADDRESS1: usize = 9;
const CITY: usize = 10;
const REGION: usize = 11;
const POSTCODE: usize = 12;
const COUNTRY: usize = 13;

/// Other profile columns a generic CSV may choose.
const MORE_PROFILE_COLUMNS: [&str; 5] = [
    "records",
    "first_seen",
    "last_seen",
    "created_at",
    "updated_at",
];

/// One row's profile values, borrowed from the SQLite row.
pub(crate) struct ProfileView<'a, 'r> {
    pub fields: [Option<&'a str>; PROFILE_COLUMNS.len()],
    pub extra: &'a rusqlite::Row<'r>,
}

impl<'a, 'r> ProfileView<'a, 'r> {
    pub fn read(row: &'a rusqlite::Row<'r>) -> rusqlite::Result<ProfileView<'a, 'r>> {
        let mut fields = [None; PROFILE_COLUMNS.len()];
        for (i, f) in fields.iter_mut().enumerate().skip(1) {
            *f = row
                .get_ref(i)?
                .as_str_or_null()
                .map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        i,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?
                .filter(|s| !s.is_empty());
        }
        Ok(ProfileView { fields, extra: row })
    }

    fn get(&self, i: usize) -> &'a str {
        self.fields[i].unwrap_or("")
    }
}

/// What goes in one output column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    /// A profile value as stored.
    Field(usize),
    /// A generic column: the n-th selected column after the profile's.
    Extra(usize),
    /// Mailchimp's one-cell address, parts separated by two spaces.
    MailchimpAddress,
    /// Mailchimp's `MM/DD` birthday.
    MailchimpBirthday,
    /// Meta: trimmed, lowercased email.
    MetaEmail,
    /// Meta: digits with country code, no `+`.
    MetaPhone,
    /// Meta fn, ln, ct, st: lowercase letters and digits only.
    MetaText(usize),
    MetaZip,
    MetaCountry,
    MetaBirthYear,
    MetaBirthMonth,
    MetaBirthDay,
    MetaGender,
    /// Google: lowercase, all whitespace removed.
    GoogleText(usize),
    /// Google: E.164.
    GooglePhone,
    GoogleCountry,
    GoogleZip,
}

/// One output column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub header: String,
    value: Value,
    pub guard: Guard,
    /// SHA-256 the normalised value (empty stays empty).
    pub hashed: bool,
    /// Truncate to this many bytes (Mailchimp text fields).
    pub max_bytes: Option<usize>,
}

fn col(header: &str, value: Value, guard: Guard) -> Column {
    Column {
        header: header.to_owned(),
        value,
        guard,
        hashed: false,
        max_bytes: None,
    }
}

fn hashed(header: &str, value: Value) -> Column {
    Column {
        header: header.to_owned(),
        value,
        guard: Guard::Verbatim,
        hashed: true,
        max_bytes: None,
    }
}

/// The output columns of an export, and the extra SQL columns a generic CSV
/// reads.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub columns: Vec<Column>,
    /// `p."col"` / `t."col"` expressions, whitelisted.
    pub extra_sql: Vec<String>,
    pub needs_traits: bool,
}

/// Columns a generic CSV may choose: profile columns, then trait columns.
pub fn available_columns(conn: &Connection) -> Result<Vec<String>> {
    let mut out: Vec<String> = PROFILE_COLUMNS
        .iter()
        .chain(MORE_PROFILE_COLUMNS.iter())
        .map(|c| c.to_string())
        .collect();
    out.extend(trait_columns(conn)?);
    // Recommendations, once a model was trained: rec_1 … rec_N (SKUs) and
    // rec_1_title … (product titles).
    let n: Option<i64> = conn
        .query_row(
            "SELECT json_extract(settings, '$.n') FROM recommendation_runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("read the recommendation settings"))?
        .flatten();
    for i in 1..=n.unwrap_or(0) {
        out.push(format!("rec_{i}"));
        out.push(format!("rec_{i}_title"));
    }
    Ok(out)
}

/// `rec_3` → (3, false), `rec_3_title` → (3, true): a stored
/// recommendation's SKU or title as an export column.
fn recommendation_column(key: &str) -> Option<(u32, bool)> {
    let rest = key.strip_prefix("rec_")?;
    let (n, title) = match rest.strip_suffix("_title") {
        Some(n) => (n, true),
        None => (rest, false),
    };
    let n: u32 = n.parse().ok().filter(|n| (1..=100).contains(n))?;
    Some((n, title))
}

/// The SQL of a recommendation column. `rank` is a number parsed above, so
/// writing it into the query cannot inject anything. A profile created
/// since the training gets the stored popular list.
fn recommendation_sql(rank: u32, title: bool) -> String {
    let sku = format!(
        "coalesce((SELECT r.sku FROM recommendations r WHERE r.profile_id = p.id AND r.rank = {rank}),
                  (SELECT json_extract(popular, '$[{i}][0]') FROM recommendation_runs ORDER BY id DESC LIMIT 1))",
        i = rank - 1
    );
    if title {
        format!(
            "(SELECT pr.title FROM products pr WHERE pr.sku = {sku} ORDER BY pr.id DESC LIMIT 1)"
        )
    } else {
        sku
    }
}

fn trait_columns(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info('profile_traits') WHERE name <> 'profile_id' ORDER BY cid")
        .map_err(sql("list the trait columns"))?;
    let names = stmt
        .query_map([], |r| r.get(0))
        .map_err(sql("list the trait columns"))?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(sql("list the trait columns"))?;
    Ok(names)
}

impl Layout {
    pub fn new(
        conn: &Connection,
        format: Format,
        channel: Channel,
        chosen: &[String],
    ) -> Result<Layout> {
        use Guard::{Phone, Text};
        use Value::*;
        let mut extra_sql = Vec::new();
        let mut needs_traits = false;
        let mailchimp = |header: &str, value: Value, guard: Guard| Column {
            max_bytes: Some(255),
            ..col(header, value, guard)
        };
        let columns = match format {
            Format::Csv => {
                let chosen: Vec<String> = if chosen.is_empty() {
                    DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect()
                } else {
                    chosen.iter().map(|c| c.trim().to_owned()).collect()
                };
                let traits = trait_columns(conn)?;
                let mut columns = Vec::with_capacity(chosen.len());
                for name in &chosen {
                    let key = name.to_ascii_lowercase();
                    let key = if key == "profile_id" {
                        "id".to_owned()
                    } else {
                        key
                    };
                    if let Some(i) = PROFILE_COLUMNS.iter().position(|c| *c == key) {
                        if i == 0 {
                            extra_sql.push("p.id".to_owned());
                            columns.push(col(name, Extra(extra_sql.len() - 1), Text));
                        } else {
                            columns.push(col(name, Field(i), Text));
                        }
                    } else if MORE_PROFILE_COLUMNS.contains(&key.as_str()) {
                        extra_sql.push(format!("p.\"{key}\""));
                        columns.push(col(name, Extra(extra_sql.len() - 1), Text));
                    } else if traits.contains(&key) {
                        needs_traits = true;
                        extra_sql.push(format!("t.\"{key}\""));
                        columns.push(col(name, Extra(extra_sql.len() - 1), Text));
                    } else if let Some((rank, title)) = recommendation_column(&key) {
                        extra_sql.push(recommendation_sql(rank, title));
                        columns.push(col(name, Extra(extra_sql.len() - 1), Text));
                    } else {
                        return Err(CampaignError::UnknownColumn {
                            column: name.clone(),
                            known: available_columns(conn)?.join(", "),
                        });
                    }
                }
                columns
            }
            Format::Mailchimp => vec![
                mailchimp("Email Address", Field(EMAIL), Text),
                mailchimp("First Name", Field(FIRST_NAME), Text),
                mailchimp("Last Name", Field(LAST_NAME), Text),
                mailchimp("Phone Number", Field(PHONE), Phone),
                mailchimp("Address", MailchimpAddress, Text),
                mailchimp("Birthday", MailchimpBirthday, Text),
                mailchimp("Company", Field(COMPANY), Text),
            ],
            Format::Klaviyo => {
                let email = col("Email", Field(EMAIL), Text);
                let phone = col("Phone Number", Field(PHONE), Phone);
                // The first column identifies the profile: Phone Number for SMS.
                let (first, second) = if channel == Channel::Sms {
                    (phone, email)
                } else {
                    (email, phone)
                };
                vec![
                    first,
                    col("First Name", Field(FIRST_NAME), Text),
                    col("Last Name", Field(LAST_NAME), Text),
                    second,
                    col("City", Field(CITY), Text),
                    col("Region", Field(REGION), Text),
                    col("Country", Field(COUNTRY), Text),
                    col("Zip Code", Field(POSTCODE), Text),
                    col("Organization", Field(COMPANY), Text),
                ]
            }
            Format::Hubspot => vec![
                col("Email", Field(EMAIL), Text),
                col("First Name", Field(FIRST_NAME), Text),
                col("Last Name", Field(LAST_NAME), Text),
                col("Phone Number", Field(PHONE), Phone),
                col("Street Address", Field(ADDRESS1), Text),
                col("City", Field(CITY), Text),
                col("State/Region", Field(REGION), Text),
                col("Postal Code", Field(POSTCODE), Text),
                col("Country/Region", Field(COUNTRY), Text),
                col("Company Name", Field(COMPANY), Text),
                col("Job Title", Field(JOB_TITLE), Text),
            ],
            Format::Brevo => vec![
                col("EMAIL", Field(EMAIL), Text),
                col("FIRSTNAME", Field(FIRST_NAME), Text),
                col("LASTNAME", Field(LAST_NAME), Text),
                col("SMS", Field(PHONE), Phone),
            ],
            Format::Meta => vec![
                hashed("email", MetaEmail),
                hashed("phone", MetaPhone),
                hashed("fn", MetaText(FIRST_NAME)),
                hashed("ln", MetaText(LAST_NAME)),
                hashed("ct", MetaText(CITY)),
                hashed("st", MetaText(REGION)),
                hashed("zip", MetaZip),
                hashed("country", MetaCountry),
                hashed("doby", MetaBirthYear),
                hashed("dobm", MetaBirthMonth),
                hashed("dobd", MetaBirthDay),
                hashed("gen", MetaGender),
            ],
            Format::GoogleAds => vec![
                hashed("Email", GoogleText(EMAIL)),
                hashed("Phone", GooglePhone),
                hashed("First Name", GoogleText(FIRST_NAME)),
                hashed("Last Name", GoogleText(LAST_NAME)),
                col("Country", GoogleCountry, Text),
                col("Zip", GoogleZip, Text),
            ],
        };
        Ok(Layout {
            columns,
            extra_sql,
            needs_traits,
        })
    }

    pub fn has_hashed(&self) -> bool {
        self.columns.iter().any(|c| c.hashed)
    }

    /// The profile column `column` copies as stored (`id` for the profile
    /// id), if it copies one: what a pseudonymised export decides on.
    pub(crate) fn profile_column(&self, column: &Column) -> Option<&'static str> {
        match column.value {
            Value::Field(i) => Some(PROFILE_COLUMNS[i]),
            Value::Extra(i) if self.extra_sql.get(i).is_some_and(|s| s == "p.id") => Some("id"),
            _ => None,
        }
    }
}

impl Column {
    /// Writes the (normalised, not yet hashed) value into `out`, which is
    /// empty.
    pub fn render(&self, p: &ProfileView<'_, '_>, out: &mut String) {
        match self.value {
            Value::Field(i) => out.push_str(p.get(i)),
            Value::Extra(i) => match p.extra.get_ref(PROFILE_COLUMNS.len() + i) {
                Ok(ValueRef::Integer(n)) => out.push_str(itoa::Buffer::new().format(n)),
                Ok(ValueRef::Real(x)) => {
                    let _ = write!(out, "{x}");
                }
                Ok(ValueRef::Text(t)) => out.push_str(&String::from_utf8_lossy(t)),
                _ => {}
            },
            Value::MailchimpAddress => mailchimp_address(p, out),
            Value::MailchimpBirthday => {
                if let Some((_, m, d)) = birth_date(p.get(BIRTH_DATE)) {
                    out.push_str(m);
                    out.push('/');
                    out.push_str(d);
                }
            }
            Value::MetaEmail => out.push_str(&p.get(EMAIL).trim().to_lowercase()),
            Value::MetaPhone => {
                let phone = p.get(PHONE);
                if is_e164(phone) {
                    out.push_str(&phone[1..]);
                }
            }
            Value::MetaText(i) => meta_text(p.get(i), out),
            Value::MetaZip => meta_zip(p.get(POSTCODE), p.get(COUNTRY), out),
            Value::MetaCountry => {
                if let Some(c) = alpha2(p.get(COUNTRY)) {
                    out.extend(c.chars().map(|c| c.to_ascii_lowercase()));
                }
            }
            Value::MetaBirthYear | Value::MetaBirthMonth | Value::MetaBirthDay => {
                if let Some((y, m, d)) = birth_date(p.get(BIRTH_DATE)) {
                    out.push_str(match self.value {
                        Value::MetaBirthYear => y,
                        Value::MetaBirthMonth => m,
                        _ => d,
                    });
                }
            }
            Value::MetaGender => out.push_str(match p.get(GENDER) {
                "female" => "f",
                "male" => "m",
                _ => "",
            }),
            Value::GoogleText(i) => google_text(p.get(i), out),
            Value::GooglePhone => {
                let phone = p.get(PHONE);
                if is_e164(phone) {
                    out.push_str(phone);
                }
            }
            Value::GoogleCountry => {
                if let Some(c) = alpha2(p.get(COUNTRY)) {
                    out.extend(c.chars().map(|c| c.to_ascii_uppercase()));
                }
            }
            Value::GoogleZip => out.push_str(p.get(POSTCODE).trim()),
        }
    }
}

/// `street  city  region  postcode  country`, empty parts left out; no
/// address without a street.
fn mailchimp_address(p: &ProfileView<'_, '_>, out: &mut String) {
    if p.fields[ADDRESS1].is_none() {
        return;
    }
    for i in [ADDRESS1, CITY, REGION, POSTCODE, COUNTRY] {
        if let Some(v) = p.fields[i] {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push_str("  ");
            }
            // A double space inside a part would split it.
            let mut last_space = false;
            for c in v.chars() {
                let space = c.is_whitespace();
                if !(space && last_space) {
                    out.push(if space { ' ' } else { c });
                }
                last_space = space;
            }
        }
    }
}

/// `(YYYY, MM, DD)` of an ISO date (time part ignored).
pub(crate) fn birth_date(s: &str) -> Option<(&str, &str, &str)> {
    let b = s.as_bytes();
    let ok = b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    ok.then(|| (&s[0..4], &s[5..7], &s[8..10]))
}

/// Meta names, city, state: lowercase, letters and digits only (no
/// punctuation, no spaces); accented letters kept (UTF-8, as Meta asks).
pub(crate) fn meta_text(s: &str, out: &mut String) {
    for c in s.chars().filter(|c| c.is_alphanumeric()) {
        out.extend(c.to_lowercase());
    }
}

/// Meta zip: lowercase, no spaces or dashes; US: the first five digits.
pub(crate) fn meta_zip(zip: &str, country: &str, out: &mut String) {
    let start = out.len();
    for c in zip.chars().filter(|c| !c.is_whitespace() && *c != '-') {
        out.extend(c.to_lowercase());
    }
    if country.eq_ignore_ascii_case("US") && out.len() - start > 5 {
        let keep: String = out[start..].chars().take(5).collect();
        out.truncate(start);
        out.push_str(&keep);
    }
}

/// Google hashed text (email, names): lowercase, every whitespace removed.
pub(crate) fn google_text(s: &str, out: &mut String) {
    for c in s.chars().filter(|c| !c.is_whitespace()) {
        out.extend(c.to_lowercase());
    }
}

fn alpha2(s: &str) -> Option<&str> {
    let s = s.trim();
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())).then_some(s)
}

/// `s` cut to at most `max` bytes at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::super::safe_csv::sha256_hex;
    use super::*;

    fn meta(s: &str) -> String {
        let mut out = String::new();
        meta_text(s, &mut out);
        out
    }

    #[test]
    fn names_are_stable() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.as_str()));
        }
        assert!("excel".parse::<Format>().is_err());
    }

    #[test]
    fn meta_normalisation() {
        assert_eq!(meta("  Mary-Ann O'Neil "), "maryannoneil");
        assert_eq!(meta("Zoë"), "zoë");
        assert_eq!(meta("San Francisco"), "sanfrancisco");
        let mut z = String::new();
        meta_zip("94102-1234", "US", &mut z);
        assert_eq!(z, "94102");
        let mut z = String::new();
        meta_zip("SW1A 1AA", "GB", &mut z);
        assert_eq!(z, "sw1a1aa");
        assert_eq!(birth_date("1984-07-09"), Some(("1984", "07", "09")));
        assert_eq!(birth_date("1984-7-9"), None);
        // Meta's documented example: the hash of the normalised email.
        assert_eq!(
            sha256_hex("test@example.com"),
            "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
        );
    }

    #[test]
    fn google_normalisation() {
        let mut out = String::new();
        google_text(" Test @Example.COM ", &mut out);
        assert_eq!(out, "test@example.com");
        let mut out = String::new();
        google_text("Mary Ann", &mut out);
        assert_eq!(out, "maryann");
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate(&"x".repeat(300), 255).len(), 255);
    }

    #[test]
    fn headers_are_exact() {
        let conn = Connection::open_in_memory().unwrap();
        let headers = |f: Format, ch: Channel| -> Vec<String> {
            Layout::new(&conn, f, ch, &[])
                .unwrap()
                .columns
                .into_iter()
                .map(|c| c.header)
                .collect()
        };
        assert_eq!(
            headers(Format::Brevo, Channel::Email),
            ["EMAIL", "FIRSTNAME", "LASTNAME", "SMS"]
        );
        assert_eq!(
            headers(Format::Meta, Channel::Ads),
            [
                "email", "phone", "fn", "ln", "ct", "st", "zip", "country", "doby", "dobm", "dobd",
                "gen"
            ]
        );
        assert_eq!(
            headers(Format::GoogleAds, Channel::Ads),
            [
                "Email",
                "Phone",
                "First Name",
                "Last Name",
                "Country",
                "Zip"
            ]
        );
        assert_eq!(headers(Format::Klaviyo, Channel::Email)[0], "Email");
        assert_eq!(headers(Format::Klaviyo, Channel::Sms)[0], "Phone Number");
        assert_eq!(
            headers(Format::Mailchimp, Channel::Email)[0],
            "Email Address"
        );
    }
}
