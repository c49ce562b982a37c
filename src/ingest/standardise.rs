//! Standardising raw CSV cell text from marketing exports (Shopify, HubSpot,
//! Mailchimp, Salesforce, Klaviyo, GA4 and files that went through Excel) into
//! canonical values.
//!
//! Every function here is pure and cheap: the import runs several of them per
//! row at hundreds of thousands of rows a second, so they parse by hand, avoid
//! allocating where they can, and build their lookup tables once. The caller
//! keeps the raw text beside the clean value, so a function only returns the
//! clean value or an [`Invalid`] saying why there is none.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, Timelike, Utc};
use phonenumber::metadata::{Metadata, DATABASE};
use regex::{Regex, RegexBuilder};

/// Why a raw value could not be standardised. `code` is a stable slug used to
/// count problems per reason ("email_syntax"); `message` is for people and
/// quotes the offending value, e.g. "`john@` has no domain".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}

/// A person's name: trimmed, with inner runs of whitespace (tabs, NBSP,
/// newlines from multi-line cells) collapsed to one space. Case is kept: we
/// cannot know that "McDonald" or "van der Berg" should not be re-cased.
pub fn name(raw: &str) -> String {
    let trimmed = raw.trim();
    let mut out = String::with_capacity(trimmed.len());
    let mut gap = false;
    for c in trimmed.chars() {
        if c.is_whitespace() {
            gap = true;
        } else {
            if gap {
                out.push(' ');
                gap = false;
            }
            out.push(c);
        }
    }
    out
}

/// A lower-cased, syntax-checked email address.
///
/// Accepts the wrappers exports put around addresses: `<jane@x.com>`,
/// `Jane Doe <jane@x.com>`, `mailto:jane@x.com` and a trailing `.`/`,`/`;`
/// left over from a pasted list. Code: `email_syntax`.
pub fn email(raw: &str) -> Result<String, Invalid> {
    let shown = raw.trim();
    let mut s = shown;
    if let Some(inner) = s.strip_suffix('>') {
        if let Some(open) = inner.rfind('<') {
            s = inner[open + 1..].trim();
        }
    } else if let Some(inner) = s.strip_prefix('<') {
        s = inner.trim();
    }
    if s.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
    {
        s = &s[7..];
        // mailto: links may carry ?subject=... after the address
        if let Some(q) = s.find('?') {
            s = &s[..q];
        }
    }
    s = s.trim_end_matches(['.', ',', ';']).trim();
    let address = if s.is_ascii() {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Owned(s.to_lowercase())
    };
    check_email(&address)
        .map_err(|why| Invalid::new("email_syntax", format!("`{shown}` {why}")))?;
    Ok(address.into_owned())
}

/// A phone number in E.164 form (`+447911123456`), read with
/// `default_region`'s dialling plan when it has no country code.
///
/// Handles Shopify's leading `'`, `+`, `00` and the region's own international
/// prefix (`011` in NANPA, `0011` in Australia...), the `(0)` trunk in
/// `+44 (0)20 ...`, spaces, dots, dashes, slashes and parentheses, extensions
/// (`x123`, `ext. 123`, `#123`, dropped from the result) and numbers Excel
/// turned into floats (`4.47911123456E+11`, `447911123456.0`, which have lost
/// their `+`).
///
/// Validity is exactly phonenumber's `is_valid` (the same metadata patterns),
/// but the common digits-and-punctuation inputs are parsed here and checked
/// with regexes compiled once per region: ~0.15–0.3 µs a number, where the
/// crate's parse + `is_valid` + format costs ~6 µs and, with numbers from
/// many countries, thrashes its 100-entry regex cache (over 1 ms a number).
/// Inputs with letters or unusual characters still go through
/// `phonenumber::parse`.
///
/// Where the crate finds a valid number we give the same one (a test checks
/// this on every region's example numbers). Where it does not, we also try:
/// a `+` number without the default region's national prefix (the crate turns
/// `+39 06 ...` into an invalid number when the default region is GB); the
/// national prefix stripped once, not twice (RU `8 812 ...`); a national number
/// that starts with its own calling code (RW `250 123 456`); bare digits of 10
/// or more as an international number that lost its `+`; and `00` + number
/// in regions whose international prefix is another.
///
/// Codes: `phone_syntax` (no number in the text), `phone_invalid` (not a
/// number that exists in the numbering plan).
pub fn phone(raw: &str, default_region: phonenumber::country::Id) -> Result<String, Invalid> {
    let shown = raw.trim();
    let text = excel_guard_strip(shown).trim();
    let tables = phone_tables();
    let home = tables
        .by_id
        .get(default_region.as_ref())
        .map(|&i| &tables.regions[i]);
    let digits = match scan_phone(text) {
        PhoneScan::Digits(d) => d,
        PhoneScan::Empty => {
            return Err(Invalid::new(
                "phone_syntax",
                format!("`{shown}` has no digits"),
            ))
        }
        PhoneScan::Unusual => return phone_via_crate(shown, text, default_region),
    };
    if digits.len < 3 {
        return Err(Invalid::new(
            "phone_syntax",
            format!("`{shown}` has too few digits for a phone number"),
        ));
    }
    match e164_from_digits(tables, home, &digits) {
        Some(e164) => Ok(e164),
        None => Err(Invalid::new(
            "phone_invalid",
            format!("`{shown}` is not a valid phone number"),
        )),
    }
}

/// ISO 3166-1 alpha-2 code (`"GB"`) for a country written as an alpha-2,
/// alpha-3 or numeric code, an English short or official name, or a common
/// variant or local name (`USA`, `UK`, `England`, `Deutschland`, `Côte
/// d'Ivoire`, `Korea, Republic of`, ...). Case, accents, spaces and
/// punctuation are ignored. Kosovo gives the user-assigned `XK` that Shopify
/// and Stripe use. Code: `country_unknown`.
pub fn country(raw: &str) -> Result<&'static str, Invalid> {
    let shown = raw.trim();
    let unknown = || {
        Invalid::new(
            "country_unknown",
            format!("`{shown}` is not a country we know"),
        )
    };
    let mut key = KeyBuf::new();
    if !key.push_folded(shown) || key.is_empty() {
        return Err(unknown());
    }
    let tables = country_tables();
    let k = key.as_str();
    if k.bytes().all(|b| b.is_ascii_digit()) {
        // A numeric code is written as digits and nothing else: `=1+2` is not 012.
        if !shown.bytes().all(|b| b.is_ascii_digit()) {
            return Err(unknown());
        }
        return match k.parse::<u16>() {
            Ok(n) if k.len() <= 3 => tables.by_numeric.get(&n).copied().ok_or_else(unknown),
            _ => Err(unknown()),
        };
    }
    if let Some(&code) = tables.by_key.get(k) {
        return Ok(code);
    }
    // Official names: "Kingdom of Spain", "The Gambia", "Republic of Albania".
    let mut rest = k;
    while let Some(stripped) = OFFICIAL_PREFIXES.iter().find_map(|p| rest.strip_prefix(p)) {
        if let Some(&code) = tables.by_key.get(stripped) {
            return Ok(code);
        }
        rest = stripped;
    }
    Err(unknown())
}

/// Which number comes first in a numeric date such as `03/05/2024`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    MonthFirst,
    DayFirst,
}

/// What one value says about a column's date order (see [`date_evidence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateEvidence {
    /// Not a numeric `a/b/yyyy` date (ISO, text month, a plain number, ...).
    NotNumericDate,
    MonthFirst,
    DayFirst,
    /// Both numbers are 12 or less.
    Ambiguous,
}

/// A standardised point in time: a calendar date when the value had no time
/// of day, otherwise an instant in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

impl Timestamp {
    /// `2024-03-05`, or `2024-03-05T19:23:11Z`. Sub-second precision is kept
    /// when the value had it (`.123Z`, `.123456Z`): GA4 event times are in µs.
    pub fn to_iso(&self) -> String {
        // Written digit by digit: this runs for every date of every import,
        // and `format!` costs several times as much.
        fn pad(out: &mut String, n: u32, width: usize) {
            let mut buf = itoa::Buffer::new();
            let digits = buf.format(n);
            for _ in digits.len()..width {
                out.push('0');
            }
            out.push_str(digits);
        }
        let mut out = String::with_capacity(30);
        let date = self.date();
        // Years are validated to 1900..=2200 (epochs to a few centuries), never negative.
        pad(&mut out, date.year().max(0) as u32, 4);
        out.push('-');
        pad(&mut out, date.month(), 2);
        out.push('-');
        pad(&mut out, date.day(), 2);
        if let Timestamp::DateTime(t) = self {
            out.push('T');
            pad(&mut out, t.hour(), 2);
            out.push(':');
            pad(&mut out, t.minute(), 2);
            out.push(':');
            pad(&mut out, t.second(), 2);
            let nanos = t.timestamp_subsec_nanos();
            if nanos != 0 {
                out.push('.');
                if nanos % 1_000_000 == 0 {
                    pad(&mut out, nanos / 1_000_000, 3);
                } else if nanos % 1_000 == 0 {
                    pad(&mut out, nanos / 1_000, 6);
                } else {
                    pad(&mut out, nanos, 9);
                }
            }
            out.push('Z');
        }
        out
    }

    /// The calendar date (in UTC for date-times).
    pub fn date(&self) -> NaiveDate {
        match self {
            Timestamp::Date(d) => *d,
            Timestamp::DateTime(t) => t.date_naive(),
        }
    }
}

/// Which order a numeric `a/b/yyyy` date (separators `/`, `.` or `-`, year
/// last, optionally followed by a time) implies: `DayFirst` if a > 12,
/// `MonthFirst` if b > 12, `Ambiguous` if both are 12 or less. Anything else,
/// including impossible pairs like `13/13/2024`, is `NotNumericDate`. The
/// pipeline samples a column with this and picks one order per column.
pub fn date_evidence(raw: &str) -> DateEvidence {
    let mut c = Cursor::new(raw.trim().as_bytes());
    let Some((a, b, _year)) = numeric_date_fields(&mut c) else {
        return DateEvidence::NotNumericDate;
    };
    if !(c.done() || matches!(c.peek(), Some(b' ' | b'T' | b't' | b','))) {
        return DateEvidence::NotNumericDate;
    }
    match (a, b) {
        (0, _) | (_, 0) => DateEvidence::NotNumericDate,
        (13..=31, 1..=12) => DateEvidence::DayFirst,
        (1..=12, 13..=31) => DateEvidence::MonthFirst,
        (1..=12, 1..=12) => DateEvidence::Ambiguous,
        _ => DateEvidence::NotNumericDate,
    }
}

/// A date or date-time from any of the forms exports use:
///
/// * ISO 8601: `2024-03-05`, `2024-03-05T14:23:11`, with `Z`, `+02:00`,
///   `+0200`, fractional seconds, or a space instead of `T`; Shopify's
///   `2024-03-05 14:23:11 -0500`; `UTC`/`GMT` suffixes;
/// * numeric `MM/DD/YYYY` or `DD/MM/YYYY` as `order` says (also `.` and `-`),
///   with 2-digit years (00–69 → 20xx, 70–99 → 19xx) and an optional time
///   (`14:23`, `14:23:11`, `2:23 PM`);
/// * text months: `Mar 5, 2024`, `5 March 2024`, `05-Mar-2024`,
///   `March 5th 2024`, `Tue, 05 Mar 2024 14:23:11 +0000`;
/// * Excel serial dates 20000–80000 (1954–2119), with a fraction for the time
///   of day (45356 = 2024-03-05);
/// * Unix epochs by magnitude: 9–10 digits seconds, 12–13 milliseconds, 15–16
///   microseconds (GA4's `event_timestamp`), 18–19 nanoseconds;
/// * compact `20240305`.
///
/// Offsets are converted to UTC; a date-time without one is taken as UTC.
/// Codes: `date_invalid` for dates that cannot exist (`31/02/2024`, month 13,
/// years outside 1900–2200), `date_syntax` for anything unrecognised.
pub fn datetime(raw: &str, order: DateOrder) -> Result<Timestamp, Invalid> {
    let shown = raw.trim();
    parse_timestamp(shown, order).map_err(|e| match e {
        DateError::Syntax => Invalid::new(
            "date_syntax",
            format!("`{shown}` is not a date we recognise"),
        ),
        DateError::Impossible => Invalid::new(
            "date_invalid",
            format!("`{shown}` is not a possible date or time"),
        ),
    })
}

/// An amount of money in minor units (cents) of `currency`, or of a
/// 2-decimal currency when the value names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub currency: Option<&'static str>,
}

/// An amount from how exports and spreadsheets write money: `$1,234.50`,
/// `1.234,50 €`, `1 234,50 €` (space, NBSP or narrow NBSP thousands),
/// `1'234.50`, `(12.00)`, `-12.00`, `12.00-`, `USD 12.00`, `12.00 EUR`,
/// `€12`, `£0.99`, `¥1200`, `12,- €`, `1.2345E+03`.
///
/// A single comma followed by exactly three digits, with no other separator,
/// is a thousands separator (`1,234` = 1234); otherwise a lone comma is the
/// decimal point (`1,5` = 1.5). A lone dot is always a decimal point.
///
/// `minor` is in the minor units of the currency found (`¥1200` → 1200, JPY
/// has none), or in hundredths when there is none; extra decimals are rounded
/// half away from zero. `$` alone is read as USD and `¥` as JPY: the pipeline
/// may override them with a per-column currency. Codes: `money_syntax`,
/// `money_overflow`.
pub fn money(raw: &str) -> Result<Money, Invalid> {
    let shown = raw.trim();
    parse_money(shown).map_err(|e| match e {
        MoneyError::Syntax => Invalid::new(
            "money_syntax",
            format!("`{shown}` is not an amount of money"),
        ),
        MoneyError::Overflow => Invalid::new(
            "money_overflow",
            format!("`{shown}` is too large an amount"),
        ),
        MoneyError::Currency(tok) => Invalid::new(
            "money_syntax",
            format!("`{shown}` has `{tok}`, which is not a currency we know"),
        ),
        MoneyError::TwoCurrencies => Invalid::new(
            "money_syntax",
            format!("`{shown}` names two different currencies"),
        ),
    })
}

/// ISO 4217 code for a currency code (any case) or symbol: `"usd"`, `"EUR"`,
/// `"€"`, `"US$"`, `"£"`, `"R$"`, `"zł"`. `$` is USD and `¥` is JPY;
/// ambiguous symbols like `kr` give `None`.
pub fn currency_code(raw: &str) -> Option<&'static str> {
    match currency_token(raw.trim()) {
        CurrencyToken::Code(code, _) => Some(code),
        CurrencyToken::Ambiguous | CurrencyToken::Unknown => None,
    }
}

/// Decimal places of a currency's minor unit (ISO 4217): 2 for most, 0 for
/// JPY, KRW, ISK, CLP, VND..., 3 for BHD, KWD, OMR, JOD, TND..., 4 for CLF.
/// Unknown codes get 2.
pub fn minor_unit_exponent(code: &str) -> u32 {
    iso_currency(code).map_or(2, |(_, exp)| u32::from(exp))
}

/// Converts an amount in minor units between exponents (e.g. a value read
/// with 2 decimals into JPY's 0), rounding half away from zero. Results
/// beyond `i64` saturate.
pub fn rescale(minor: i64, from_exp: u32, to_exp: u32) -> i64 {
    let value = i128::from(minor);
    let out = if to_exp >= from_exp {
        match pow10_u128(to_exp - from_exp) {
            Some(f) => value.saturating_mul(f as i128),
            None if minor == 0 => 0,
            None => value.signum() * i128::MAX,
        }
    } else {
        match pow10_u128(from_exp - to_exp) {
            Some(p) => {
                let p = p as i128;
                let (q, r) = (value / p, value % p);
                if r.abs() * 2 >= p {
                    q + value.signum()
                } else {
                    q
                }
            }
            None => 0,
        }
    };
    out.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// `yes`/`no`, `y`/`n`, `true`/`false`, `t`/`f`, `1`/`0` (also Excel's
/// `1.0`/`0.0`), `on`/`off`, and `x` (a ticked box), in any case.
/// Code: `boolean_syntax`.
pub fn boolean(raw: &str) -> Result<bool, Invalid> {
    let s = raw.trim();
    if TRUE_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        Ok(true)
    } else if FALSE_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        Ok(false)
    } else {
        Err(Invalid::new(
            "boolean_syntax",
            format!("`{s}` is not yes or no"),
        ))
    }
}

/// Marketing consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Granted,
    Denied,
    Unknown,
}

impl Consent {
    pub fn as_str(&self) -> &'static str {
        match self {
            Consent::Granted => "granted",
            Consent::Denied => "denied",
            Consent::Unknown => "unknown",
        }
    }
}

/// Consent from booleans (true = granted) and the statuses platforms export:
/// Mailchimp's `subscribed`/`unsubscribed`/`cleaned`/`pending`/`transactional`,
/// HubSpot's `Subscribed`/`Not subscribed`, Shopify's `yes`/`no` and
/// `subscribed`/`not_subscribed`/`pending`/`unsubscribed`/`redacted`,
/// `opted in`/`opted out`, `never subscribed`. Empty is `Unknown`; cleaned
/// (bounced) addresses are `Denied`. Code: `consent_syntax`.
pub fn consent(raw: &str) -> Result<Consent, Invalid> {
    let shown = raw.trim();
    if shown.is_empty() {
        return Ok(Consent::Unknown);
    }
    let mut key = KeyBuf::new();
    if key.push_folded(shown) {
        let k = key.as_str();
        if CONSENT_GRANTED.contains(&k) {
            return Ok(Consent::Granted);
        }
        if CONSENT_DENIED.contains(&k) {
            return Ok(Consent::Denied);
        }
        if CONSENT_UNKNOWN.contains(&k) {
            return Ok(Consent::Unknown);
        }
    }
    Err(Invalid::new(
        "consent_syntax",
        format!("`{shown}` is not a consent status we know"),
    ))
}

/// `"female"`, `"male"` or `"other"` from `F`/`M`, `female`/`male`,
/// `woman`/`man`, `W`, salutations (`Mrs`, `Ms`, `Mr`, `Frau`, `Herr`, `Mme`,
/// `M.`...), `non-binary`, `divers`, `x`, `other` and a few common local words.
/// Values such as `unknown` or `prefer not to say` are errors, so the raw text
/// is kept. Code: `gender_unknown`.
pub fn gender(raw: &str) -> Result<&'static str, Invalid> {
    let shown = raw.trim();
    let mut key = KeyBuf::new();
    if key.push_folded(shown) {
        let k = key.as_str();
        if GENDER_FEMALE.contains(&k) {
            return Ok("female");
        }
        if GENDER_MALE.contains(&k) {
            return Ok("male");
        }
        if GENDER_OTHER.contains(&k) {
            return Ok("other");
        }
    }
    Err(Invalid::new(
        "gender_unknown",
        format!("`{shown}` is not a gender we recognise"),
    ))
}

/// The text without one leading `'`: Shopify (and people) prefix IDs and phone
/// numbers with it so Excel keeps them as text.
pub fn excel_guard_strip(raw: &str) -> &str {
    raw.trim_start().strip_prefix('\'').unwrap_or(raw)
}

// ===================================================================== email

/// Characters RFC 5322 allows unquoted before the @, besides letters and
/// digits. Quoted local parts ("john doe"@x.com) are not accepted: no
/// marketing tool sends to them.
const EMAIL_LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-.";

/// Syntax check of a lower-cased address; the error completes "`value` ...".
fn check_email(address: &str) -> Result<(), Cow<'static, str>> {
    if address.is_empty() {
        return Err("is empty".into());
    }
    if address.chars().any(char::is_whitespace) {
        return Err("contains a space".into());
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Err("has no @".into());
    };
    if domain.contains('@') {
        return Err("has more than one @".into());
    }
    if local.is_empty() {
        return Err("has nothing before the @".into());
    }
    if domain.is_empty() {
        return Err("has no domain".into());
    }
    if local.len() > 64 {
        return Err("has more than 64 characters before the @".into());
    }
    if address.len() > 254 {
        return Err("is longer than 254 characters".into());
    }
    if address.contains("..") {
        return Err("has two dots in a row".into());
    }
    if local.starts_with('.') || local.ends_with('.') {
        return Err("starts or ends the part before the @ with a dot".into());
    }
    if let Some(c) = local
        .chars()
        .find(|&c| c.is_ascii() && !c.is_ascii_alphanumeric() && !EMAIL_LOCAL_SPECIALS.contains(c))
    {
        return Err(format!("has `{c}`, which is not allowed before the @").into());
    }
    if !domain.contains('.') {
        return Err(format!("has no dot in its domain `{domain}`").into());
    }
    if domain.starts_with('.') {
        return Err("has a domain starting with a dot".into());
    }
    for label in domain.split('.') {
        if label.len() > 63 {
            return Err("has a domain part longer than 63 characters".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(
                format!("has a domain part `{label}` starting or ending with a hyphen").into(),
            );
        }
        if let Some(c) = label.chars().find(|&c| !(c.is_alphanumeric() || c == '-')) {
            return Err(format!("has `{c}`, which is not allowed in a domain").into());
        }
    }
    let tld = domain.rsplit('.').next().unwrap_or("");
    // Internationalised top-level domains travel as punycode ("xn--p1ai").
    let tld_ok = tld.starts_with("xn--")
        || (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    if !tld_ok {
        return Err(format!("has `.{tld}`, which is not a top-level domain").into());
    }
    Ok(())
}

// ===================================================================== phone

/// phonenumber's metadata, indexed our way, with the regexes we need compiled
/// by us: once per region, on first use, outside the crate's shared
/// 100-entry LRU cache (which recompiles patterns when numbers come from many
/// countries, and takes a global lock on every match).
struct PhoneTables {
    regions: Vec<PhoneRegion>,
    /// Calling code → the regions sharing it, in the order phonenumber's
    /// `source_for` tries them (main country first).
    by_code: HashMap<u16, Vec<usize>>,
    by_id: HashMap<&'static str, usize>,
}

struct PhoneRegion {
    meta: &'static Metadata,
    code: u16,
    code_digits: String,
    rules: OnceLock<RegionRules>,
}

struct RegionRules {
    general: NumberPattern,
    /// Fixed line and mobile first: they are what nearly all numbers are.
    kinds: Vec<NumberPattern>,
    leading_digits: Option<Regex>,
    international_prefix: Option<Regex>,
    national_prefix_for_parsing: Option<Regex>,
}

/// One metadata descriptor: a pattern and the lengths it allows.
struct NumberPattern {
    regex: Option<Regex>,
    lengths: &'static [u16],
}

/// The digits of a phone number as written, whether a `+` led them, and
/// whether they stood alone (no spaces or punctuation, as systems and Excel
/// write numbers; people format what they type).
struct PhoneDigits {
    plus: bool,
    bare: bool,
    buf: [u8; 24],
    len: usize,
}

enum PhoneScan {
    Digits(PhoneDigits),
    /// Letters or symbols we do not read ourselves (vanity numbers, two
    /// numbers in one cell, ...): phonenumber's parser decides.
    Unusual,
    Empty,
}

/// Result of phonenumber's `validator::length` for the general descriptor.
enum LengthCheck {
    Possible,
    TooShort,
    Other,
}

fn phone_tables() -> &'static PhoneTables {
    static TABLES: OnceLock<PhoneTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let db = &*DATABASE;
        let mut t = PhoneTables {
            regions: Vec::new(),
            by_code: HashMap::new(),
            by_id: HashMap::new(),
        };
        // The database has no list of calling codes (1 to 3 digits), so ask for each.
        for code in 1..1000u16 {
            let Some(metas) = db.by_code(&code) else {
                continue;
            };
            let mut members = Vec::with_capacity(metas.len());
            for meta in metas {
                let i = t.regions.len();
                // "001" is the id of every non-geographic entity (+800, +882...).
                if meta.id() != "001" {
                    t.by_id.entry(meta.id()).or_insert(i);
                }
                t.regions.push(PhoneRegion {
                    meta,
                    code,
                    code_digits: code.to_string(),
                    rules: OnceLock::new(),
                });
                members.push(i);
            }
            t.by_code.insert(code, members);
        }
        t
    })
}

impl PhoneTables {
    /// phonenumber's `source_for`: which region's rules apply to a national
    /// number of a calling code several regions share (+1, +7, +44...).
    fn region_for(&self, code: u16, national: &str) -> Option<&PhoneRegion> {
        let members = self.by_code.get(&code)?;
        if let [only] = members.as_slice() {
            return Some(&self.regions[*only]);
        }
        members.iter().map(|&i| &self.regions[i]).find(|r| {
            let rules = r.rules();
            match &rules.leading_digits {
                Some(re) => re.is_match(national),
                None => rules.is_valid(national),
            }
        })
    }

    /// phonenumber's `is_valid` for a calling code and national significant number.
    fn is_valid(&self, code: u16, national: &str) -> bool {
        self.region_for(code, national)
            .is_some_and(|r| r.rules().is_valid(national))
    }

    /// E.164 for digits that start with a calling code, if they make a valid
    /// number: first as phonenumber reads them (the national prefix of the
    /// number's own region stripped, as in `+44 (0)20 ...`), then as written.
    fn international(&self, digits: &str) -> Option<String> {
        if digits.starts_with('0') {
            return None;
        }
        let (code_digits, national) = (1..=3)
            .filter(|&n| n < digits.len())
            .map(|n| digits.split_at(n))
            .find(|(cc, _)| {
                cc.parse::<u16>()
                    .is_ok_and(|code| self.by_code.contains_key(&code))
            })?;
        let code: u16 = code_digits.parse().ok()?;
        if national.len() <= 2 {
            return None;
        }
        if let Some(region) = self.region_for(code, national.trim_start_matches('0')) {
            let n = strip_national_prefix(region, national);
            if self.is_valid(code, &n) {
                return Some(e164(code_digits, &n));
            }
        }
        self.is_valid(code, national)
            .then(|| e164(code_digits, national))
    }

    /// E.164 for digits without a calling code, read as phonenumber reads a
    /// national number of `home`.
    fn national(&self, home: &PhoneRegion, digits: &str) -> Option<String> {
        let rules = home.rules();
        // Written with the region's own calling code but no '+' (447911123456 in
        // a GB file): phonenumber drops the code when the whole is no number.
        let rest = match digits.strip_prefix(home.code_digits.as_str()) {
            Some(rest)
                if !rules.general.matches(digits)
                    || !matches!(length_check(home.meta, digits.len()), LengthCheck::Possible) =>
            {
                rest
            }
            _ => digits,
        };
        let n = strip_national_prefix(home, rest);
        if self.is_valid(home.code, &n) {
            return Some(e164(&home.code_digits, &n));
        }
        // phonenumber strips the national prefix twice and drops a leading
        // calling code even when the digits are a national number, so it
        // rejects RU "8 812 ..." and IT mobiles "393 ...". Try the simpler
        // readings it skipped.
        // Digits that start with the national prefix are never a national
        // number as written.
        let prefix = home.meta.national_prefix().filter(|p| !p.is_empty());
        let candidate = match prefix.and_then(|p| digits.strip_prefix(p)) {
            Some(once) => once,
            None => digits,
        };
        self.is_valid(home.code, candidate)
            .then(|| e164(&home.code_digits, candidate))
    }
}

impl PhoneRegion {
    fn rules(&self) -> &RegionRules {
        self.rules.get_or_init(|| RegionRules::compile(self.meta))
    }
}

impl RegionRules {
    fn compile(meta: &'static Metadata) -> Self {
        let d = meta.descriptors();
        let pattern = |desc: &'static phonenumber::metadata::Descriptor| NumberPattern {
            regex: anchored(desc.national_number().as_str()),
            lengths: desc.possible_length(),
        };
        let kinds = [
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ];
        RegionRules {
            general: pattern(d.general()),
            kinds: kinds.into_iter().flatten().map(pattern).collect(),
            leading_digits: meta.leading_digits().and_then(|r| anchored(r.as_str())),
            international_prefix: meta
                .international_prefix()
                .and_then(|r| anchored(r.as_str())),
            national_prefix_for_parsing: meta
                .national_prefix_for_parsing()
                .and_then(|r| anchored(r.as_str())),
        }
    }

    /// phonenumber's `number_type(..) != Unknown`: the general pattern and one
    /// of the kinds it counts (fixed line, mobile, toll free, ...) match.
    fn is_valid(&self, national: &str) -> bool {
        self.general.matches(national) && self.kinds.iter().any(|k| k.matches(national))
    }
}

impl NumberPattern {
    /// phonenumber's `Descriptor::is_match`: an allowed length and a match
    /// that starts at the beginning (it does not require one to the end).
    fn matches(&self, national: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
            && self.regex.as_ref().is_some_and(|re| re.is_match(national))
    }
}

/// The metadata's patterns are written for ignore-whitespace mode, and
/// phonenumber only accepts matches starting at the beginning of the text.
fn anchored(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{pattern})"))
        .ignore_whitespace(true)
        .build()
        .ok()
}

impl PhoneDigits {
    fn new() -> Self {
        PhoneDigits {
            plus: false,
            bare: true,
            buf: [0; 24],
            len: 0,
        }
    }

    fn push(&mut self, digit: u8) -> bool {
        if self.len == self.buf.len() {
            return false;
        }
        self.buf[self.len] = digit;
        self.len += 1;
        true
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// The digits of a phone number written with the usual punctuation, with any
/// extension dropped.
fn scan_phone(text: &str) -> PhoneScan {
    if let Some(d) = excel_float_digits(text) {
        return PhoneScan::Digits(d);
    }
    let mut d = PhoneDigits::new();
    for (i, c) in text.char_indices() {
        match c {
            '0'..='9' => {
                if !d.push(c as u8) {
                    return PhoneScan::Unusual;
                }
            }
            '+' | '\u{ff0b}' if d.len == 0 && !d.plus => d.plus = true,
            ' ' | '\t' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '-' | '\u{2010}' | '\u{2011}'
            | '\u{2013}' | '\u{2014}' | '.' | '(' | ')' | '/' => d.bare = false,
            _ if d.len > 0 && is_extension(&text[i..]) => {
                d.bare = false;
                break;
            }
            _ => return PhoneScan::Unusual,
        }
    }
    if d.len == 0 {
        PhoneScan::Empty
    } else {
        PhoneScan::Digits(d)
    }
}

/// `x123`, `ext. 123`, `extension 123`, `#123`, `;ext=123`, `, ext 123`.
fn is_extension(rest: &str) -> bool {
    let r = rest.trim_start_matches([',', ';', ' ']);
    let Some(marker) = ["extension", "ext", "x", "#"].iter().find(|m| {
        r.get(..m.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(m))
    }) else {
        return false;
    };
    let digits = r[marker.len()..]
        .trim_start_matches(['.', ':', '=', ' ', '#'])
        .trim_end();
    !digits.is_empty() && digits.len() <= 10 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Digits of a number Excel stored as a float: `4.47700900123E+11` or
/// `447700900123.0`. Such numbers have lost any `+` and leading zeros.
fn excel_float_digits(text: &str) -> Option<PhoneDigits> {
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mut d = PhoneDigits::new();
    if let Some((mantissa, exponent)) = text.split_once(['e', 'E']) {
        let exponent: usize = exponent.parse().ok()?;
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.len() != 1
            || !all_digits(int)
            || !all_digits(frac)
            || frac.len() > exponent
            || exponent > 20
        {
            return None;
        }
        for &b in int.as_bytes().iter().chain(frac.as_bytes()) {
            d.push(b).then_some(())?;
        }
        for _ in frac.len()..exponent {
            d.push(b'0').then_some(())?;
        }
        return Some(d);
    }
    let (int, frac) = text.split_once('.')?;
    if int.len() < 6 || !all_digits(int) || frac.is_empty() || !frac.bytes().all(|b| b == b'0') {
        return None;
    }
    for &b in int.as_bytes() {
        d.push(b).then_some(())?;
    }
    Some(d)
}

fn e164_from_digits(
    t: &PhoneTables,
    home: Option<&PhoneRegion>,
    digits: &PhoneDigits,
) -> Option<String> {
    let d = digits.as_str();
    if digits.plus {
        // "+0044 ..." happens: people add a '+' to an 00 number.
        return t
            .international(d)
            .or_else(|| d.strip_prefix("00").and_then(|rest| t.international(rest)));
    }
    if let Some(home) = home {
        if let Some(m) = home
            .rules()
            .international_prefix
            .as_ref()
            .and_then(|re| re.find(d))
        {
            // phonenumber: an international prefix followed by 0 is no prefix.
            if !d[m.end()..].starts_with('0') {
                return t.international(&d[m.end()..]);
            }
        }
        if let Some(found) = t.national(home, d) {
            return Some(found);
        }
    }
    // A '+' lost on the way: Excel turned the number into a number, or a
    // system stored E.164 without it. Only for bare digits: a formatted
    // number was typed in national form, and reading a mistyped one as
    // international turns "(201) 555-01237" into an Egyptian number.
    if digits.bare && d.len() >= 10 {
        if let Some(found) = t.international(d) {
            return Some(found);
        }
    }
    // 00 is the international prefix nearly everywhere (0044 ... in a US
    // file). 011 is only NANPA's, which the region's own pattern covers: in
    // trunk-0 countries it starts national numbers.
    d.strip_prefix("00").and_then(|rest| t.international(rest))
}

/// phonenumber's `national_number` (national prefix and carrier code
/// stripped, transform rules applied) followed by the second national-prefix
/// strip and the too-short guard that its `parse_with` applies.
fn strip_national_prefix<'a>(region: &PhoneRegion, digits: &'a str) -> Cow<'a, str> {
    let meta = region.meta;
    let rules = region.rules();
    let mut n = Cow::Borrowed(digits);
    match &rules.national_prefix_for_parsing {
        None => {
            if let Some(rest) = meta.national_prefix().and_then(|p| digits.strip_prefix(p)) {
                n = Cow::Borrowed(rest);
            }
        }
        Some(re) => {
            if let Some(caps) = re.captures(digits) {
                let end = caps.get(0).map_or(0, |m| m.end());
                match (
                    meta.national_prefix_transform_rule(),
                    caps.get(caps.len() - 1),
                ) {
                    (Some(rule), Some(_)) => {
                        let transformed = re.replace(digits, rule);
                        if !rules.general.matches(digits) || rules.general.matches(&transformed) {
                            n = Cow::Owned(transformed.into_owned());
                        }
                    }
                    _ => n = Cow::Borrowed(&digits[end..]),
                }
            }
        }
    }
    if let Some(p) = meta.national_prefix() {
        if n.starts_with(p) {
            n = match n {
                Cow::Borrowed(s) => Cow::Borrowed(&s[p.len()..]),
                Cow::Owned(s) => Cow::Owned(s[p.len()..].to_string()),
            };
        }
    }
    if matches!(length_check(meta, n.len()), LengthCheck::TooShort) {
        Cow::Borrowed(digits)
    } else {
        n
    }
}

/// phonenumber's `validator::length(meta, number, Type::Unknown)`.
fn length_check(meta: &Metadata, len: usize) -> LengthCheck {
    let general = meta.descriptors().general();
    let possible = general.possible_length();
    let len = len as u16;
    let (Some(&min), Some(&max)) = (possible.first(), possible.last()) else {
        return LengthCheck::Other;
    };
    if general.possible_local_length().contains(&len) || len == min {
        LengthCheck::Possible
    } else if len < min {
        LengthCheck::TooShort
    } else if len <= max && possible.contains(&len) {
        LengthCheck::Possible
    } else {
        LengthCheck::Other
    }
}

fn e164(code_digits: &str, national: &str) -> String {
    let mut s = String::with_capacity(1 + code_digits.len() + national.len());
    s.push('+');
    s.push_str(code_digits);
    s.push_str(national);
    s
}

/// phonenumber's own parser, for text we do not read ourselves; validity is
/// still checked with our compiled patterns (the same as the crate's).
fn phone_via_crate(
    shown: &str,
    text: &str,
    region: phonenumber::country::Id,
) -> Result<String, Invalid> {
    // With a '+' the default region must not be passed: phonenumber would
    // strip that region's national prefix from the foreign number.
    let region = (!text.starts_with(['+', '\u{ff0b}'])).then_some(region);
    let number = phonenumber::parse(region, text)
        .map_err(|_| Invalid::new("phone_syntax", format!("`{shown}` is not a phone number")))?;
    let code = number.code().value();
    let national = number.national().to_string();
    if phone_tables().is_valid(code, &national) {
        Ok(e164(&code.to_string(), &national))
    } else {
        Err(Invalid::new(
            "phone_invalid",
            format!("`{shown}` is not a valid phone number"),
        ))
    }
}

// ================================================================= countries

struct CountryTables {
    by_key: HashMap<Box<str>, &'static str>,
    by_numeric: HashMap<u16, &'static str>,
}

fn country_tables() -> &'static CountryTables {
    static TABLES: OnceLock<CountryTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut by_key = HashMap::with_capacity(ISO_COUNTRIES.len() * 3 + COUNTRY_ALIASES.len());
        let mut by_numeric = HashMap::with_capacity(ISO_COUNTRIES.len());
        let mut add = |text: &str, code: &'static str| {
            let mut key = KeyBuf::new();
            if key.push_folded(text) && !key.is_empty() {
                // The ISO table goes in first, so an alias can never hide a code.
                by_key.entry(Box::from(key.as_str())).or_insert(code);
            }
        };
        for &(alpha2, alpha3, _, name) in ISO_COUNTRIES {
            add(alpha2, alpha2);
            add(alpha3, alpha2);
            add(name, alpha2);
        }
        for &(alias, alpha2) in COUNTRY_ALIASES {
            add(alias, alpha2);
        }
        for &(alpha2, _, numeric, _) in ISO_COUNTRIES {
            by_numeric.insert(numeric, alpha2);
        }
        CountryTables { by_key, by_numeric }
    })
}

/// Leading words of official names ("Kingdom of Spain"), as normalised keys;
/// tried only when the whole name is not known.
const OFFICIAL_PREFIXES: &[&str] = &[
    "the",
    "republicof",
    "kingdomof",
    "stateof",
    "federalrepublicof",
    "islamicrepublicof",
    "unitedrepublicof",
    "commonwealthof",
    "principalityof",
    "grandduchyof",
    "sultanateof",
    "socialistrepublicof",
    "independentstateof",
    "orientalrepublicof",
    "arabrepublicof",
    "hashemitekingdomof",
    "federaldemocraticrepublicof",
    "democraticsocialistrepublicof",
    "cooperativerepublicof",
    "plurinationalstateof",
    "bolivarianrepublicof",
];

/// ISO 3166-1: alpha-2, alpha-3, numeric, English short name (2024 edition).
/// Written out rather than taken from a crate: `celes` 3 needs a newer Rust,
/// `celes` 2 uses made-up names ("Coted Ivoire") and maps "Samoa" to American
/// Samoa, `rust_iso3166` compiles ~56,000 lines of ISO 3166-2 tables we do not
/// need, and `isocountry` still says Swaziland and Turkey. The rows were
/// generated from `rust_iso3166` and checked against `celes`; they change
/// about once a decade.
const ISO_COUNTRIES: &[(&str, &str, u16, &str)] = &[
    ("AD", "AND", 20, "Andorra"),
    ("AE", "ARE", 784, "United Arab Emirates"),
    ("AF", "AFG", 4, "Afghanistan"),
    ("AG", "ATG", 28, "Antigua and Barbuda"),
    ("AI", "AIA", 660, "Anguilla"),
    ("AL", "ALB", 8, "Albania"),
    ("AM", "ARM", 51, "Armenia"),
    ("AO", "AGO", 24, "Angola"),
    ("AQ", "ATA", 10, "Antarctica"),
    ("AR", "ARG", 32, "Argentina"),
    ("AS", "ASM", 16, "American Samoa"),
    ("AT", "AUT", 40, "Austria"),
    ("AU", "AUS", 36, "Australia"),
    ("AW", "ABW", 533, "Aruba"),
    ("AX", "ALA", 248, "Åland Islands"),
    ("AZ", "AZE", 31, "Azerbaijan"),
    ("BA", "BIH", 70, "Bosnia and Herzegovina"),
    ("BB", "BRB", 52, "Barbados"),
    ("BD", "BGD", 50, "Bangladesh"),
    ("BE", "BEL", 56, "Belgium"),
    ("BF", "BFA", 854, "Burkina Faso"),
    ("BG", "BGR", 100, "Bulgaria"),
    ("BH", "BHR", 48, "Bahrain"),
    ("BI", "BDI", 108, "Burundi"),
    ("BJ", "BEN", 204, "Benin"),
    ("BL", "BLM", 652, "Saint Barthélemy"),
    ("BM", "BMU", 60, "Bermuda"),
    ("BN", "BRN", 96, "Brunei Darussalam"),
    ("BO", "BOL", 68, "Bolivia (Plurinational State of)"),
    ("BQ", "BES", 535, "Bonaire, Sint Eustatius and Saba"),
    ("BR", "BRA", 76, "Brazil"),
    ("BS", "BHS", 44, "Bahamas"),
    ("BT", "BTN", 64, "Bhutan"),
    ("BV", "BVT", 74, "Bouvet Island"),
    ("BW", "BWA", 72, "Botswana"),
    ("BY", "BLR", 112, "Belarus"),
    ("BZ", "BLZ", 84, "Belize"),
    ("CA", "CAN", 124, "Canada"),
    ("CC", "CCK", 166, "Cocos (Keeling) Islands"),
    ("CD", "COD", 180, "Congo (Democratic Republic of the)"),
    ("CF", "CAF", 140, "Central African Republic"),
    ("CG", "COG", 178, "Congo"),
    ("CH", "CHE", 756, "Switzerland"),
    ("CI", "CIV", 384, "Côte d'Ivoire"),
    ("CK", "COK", 184, "Cook Islands"),
    ("CL", "CHL", 152, "Chile"),
    ("CM", "CMR", 120, "Cameroon"),
    ("CN", "CHN", 156, "China"),
    ("CO", "COL", 170, "Colombia"),
    ("CR", "CRI", 188, "Costa Rica"),
    ("CU", "CUB", 192, "Cuba"),
    ("CV", "CPV", 132, "Cabo Verde"),
    ("CW", "CUW", 531, "Curaçao"),
    ("CX", "CXR", 162, "Christmas Island"),
    ("CY", "CYP", 196, "Cyprus"),
    ("CZ", "CZE", 203, "Czechia"),
    ("DE", "DEU", 276, "Germany"),
    ("DJ", "DJI", 262, "Djibouti"),
    ("DK", "DNK", 208, "Denmark"),
    ("DM", "DMA", 212, "Dominica"),
    ("DO", "DOM", 214, "Dominican Republic"),
    ("DZ", "DZA", 12, "Algeria"),
    ("EC", "ECU", 218, "Ecuador"),
    ("EE", "EST", 233, "Estonia"),
    ("EG", "EGY", 818, "Egypt"),
    ("EH", "ESH", 732, "Western Sahara"),
    ("ER", "ERI", 232, "Eritrea"),
    ("ES", "ESP", 724, "Spain"),
    ("ET", "ETH", 231, "Ethiopia"),
    ("FI", "FIN", 246, "Finland"),
    ("FJ", "FJI", 242, "Fiji"),
    ("FK", "FLK", 238, "Falkland Islands (Malvinas)"),
    ("FM", "FSM", 583, "Micronesia (Federated States of)"),
    ("FO", "FRO", 234, "Faroe Islands"),
    ("FR", "FRA", 250, "France"),
    ("GA", "GAB", 266, "Gabon"),
    (
        "GB",
        "GBR",
        826,
        "United Kingdom of Great Britain and Northern Ireland",
    ),
    ("GD", "GRD", 308, "Grenada"),
    ("GE", "GEO", 268, "Georgia"),
    ("GF", "GUF", 254, "French Guiana"),
    ("GG", "GGY", 831, "Guernsey"),
    ("GH", "GHA", 288, "Ghana"),
    ("GI", "GIB", 292, "Gibraltar"),
    ("GL", "GRL", 304, "Greenland"),
    ("GM", "GMB", 270, "Gambia"),
    ("GN", "GIN", 324, "Guinea"),
    ("GP", "GLP", 312, "Guadeloupe"),
    ("GQ", "GNQ", 226, "Equatorial Guinea"),
    ("GR", "GRC", 300, "Greece"),
    (
        "GS",
        "SGS",
        239,
        "South Georgia and the South Sandwich Islands",
    ),
    ("GT", "GTM", 320, "Guatemala"),
    ("GU", "GUM", 316, "Guam"),
    ("GW", "GNB", 624, "Guinea-Bissau"),
    ("GY", "GUY", 328, "Guyana"),
    ("HK", "HKG", 344, "Hong Kong"),
    ("HM", "HMD", 334, "Heard Island and McDonald Islands"),
    ("HN", "HND", 340, "Honduras"),
    ("HR", "HRV", 191, "Croatia"),
    ("HT", "HTI", 332, "Haiti"),
    ("HU", "HUN", 348, "Hungary"),
    ("ID", "IDN", 360, "Indonesia"),
    ("IE", "IRL", 372, "Ireland"),
    ("IL", "ISR", 376, "Israel"),
    ("IM", "IMN", 833, "Isle of Man"),
    ("IN", "IND", 356, "India"),
    ("IO", "IOT", 86, "British Indian Ocean Territory"),
    ("IQ", "IRQ", 368, "Iraq"),
    ("IR", "IRN", 364, "Iran (Islamic Republic of)"),
    ("IS", "ISL", 352, "Iceland"),
    ("IT", "ITA", 380, "Italy"),
    ("JE", "JEY", 832, "Jersey"),
    ("JM", "JAM", 388, "Jamaica"),
    ("JO", "JOR", 400, "Jordan"),
    ("JP", "JPN", 392, "Japan"),
    ("KE", "KEN", 404, "Kenya"),
    ("KG", "KGZ", 417, "Kyrgyzstan"),
    ("KH", "KHM", 116, "Cambodia"),
    ("KI", "KIR", 296, "Kiribati"),
    ("KM", "COM", 174, "Comoros"),
    ("KN", "KNA", 659, "Saint Kitts and Nevis"),
    ("KP", "PRK", 408, "Korea (Democratic People's Republic of)"),
    ("KR", "KOR", 410, "Korea (Republic of)"),
    ("KW", "KWT", 414, "Kuwait"),
    ("KY", "CYM", 136, "Cayman Islands"),
    ("KZ", "KAZ", 398, "Kazakhstan"),
    ("LA", "LAO", 418, "Lao People's Democratic Republic"),
    ("LB", "LBN", 422, "Lebanon"),
    ("LC", "LCA", 662, "Saint Lucia"),
    ("LI", "LIE", 438, "Liechtenstein"),
    ("LK", "LKA", 144, "Sri Lanka"),
    ("LR", "LBR", 430, "Liberia"),
    ("LS", "LSO", 426, "Lesotho"),
    ("LT", "LTU", 440, "Lithuania"),
    ("LU", "LUX", 442, "Luxembourg"),
    ("LV", "LVA", 428, "Latvia"),
    ("LY", "LBY", 434, "Libya"),
    ("MA", "MAR", 504, "Morocco"),
    ("MC", "MCO", 492, "Monaco"),
    ("MD", "MDA", 498, "Moldova (Republic of)"),
    ("ME", "MNE", 499, "Montenegro"),
    ("MF", "MAF", 663, "Saint Martin (French part)"),
    ("MG", "MDG", 450, "Madagascar"),
    ("MH", "MHL", 584, "Marshall Islands"),
    ("MK", "MKD", 807, "North Macedonia"),
    ("ML", "MLI", 466, "Mali"),
    ("MM", "MMR", 104, "Myanmar"),
    ("MN", "MNG", 496, "Mongolia"),
    ("MO", "MAC", 446, "Macao"),
    ("MP", "MNP", 580, "Northern Mariana Islands"),
    ("MQ", "MTQ", 474, "Martinique"),
    ("MR", "MRT", 478, "Mauritania"),
    ("MS", "MSR", 500, "Montserrat"),
    ("MT", "MLT", 470, "Malta"),
    ("MU", "MUS", 480, "Mauritius"),
    ("MV", "MDV", 462, "Maldives"),
    ("MW", "MWI", 454, "Malawi"),
    ("MX", "MEX", 484, "Mexico"),
    ("MY", "MYS", 458, "Malaysia"),
    ("MZ", "MOZ", 508, "Mozambique"),
    ("NA", "NAM", 516, "Namibia"),
    ("NC", "NCL", 540, "New Caledonia"),
    ("NE", "NER", 562, "Niger"),
    ("NF", "NFK", 574, "Norfolk Island"),
    ("NG", "NGA", 566, "Nigeria"),
    ("NI", "NIC", 558, "Nicaragua"),
    ("NL", "NLD", 528, "Netherlands (Kingdom of the)"),
    ("NO", "NOR", 578, "Norway"),
    ("NP", "NPL", 524, "Nepal"),
    ("NR", "NRU", 520, "Nauru"),
    ("NU", "NIU", 570, "Niue"),
    ("NZ", "NZL", 554, "New Zealand"),
    ("OM", "OMN", 512, "Oman"),
    ("PA", "PAN", 591, "Panama"),
    ("PE", "PER", 604, "Peru"),
    ("PF", "PYF", 258, "French Polynesia"),
    ("PG", "PNG", 598, "Papua New Guinea"),
    ("PH", "PHL", 608, "Philippines"),
    ("PK", "PAK", 586, "Pakistan"),
    ("PL", "POL", 616, "Poland"),
    ("PM", "SPM", 666, "Saint Pierre and Miquelon"),
    ("PN", "PCN", 612, "Pitcairn"),
    ("PR", "PRI", 630, "Puerto Rico"),
    ("PS", "PSE", 275, "Palestine (State of)"),
    ("PT", "PRT", 620, "Portugal"),
    ("PW", "PLW", 585, "Palau"),
    ("PY", "PRY", 600, "Paraguay"),
    ("QA", "QAT", 634, "Qatar"),
    ("RE", "REU", 638, "Réunion"),
    ("RO", "ROU", 642, "Romania"),
    ("RS", "SRB", 688, "Serbia"),
    ("RU", "RUS", 643, "Russian Federation"),
    ("RW", "RWA", 646, "Rwanda"),
    ("SA", "SAU", 682, "Saudi Arabia"),
    ("SB", "SLB", 90, "Solomon Islands"),
    ("SC", "SYC", 690, "Seychelles"),
    ("SD", "SDN", 729, "Sudan"),
    ("SE", "SWE", 752, "Sweden"),
    ("SG", "SGP", 702, "Singapore"),
    (
        "SH",
        "SHN",
        654,
        "Saint Helena, Ascension and Tristan da Cunha",
    ),
    ("SI", "SVN", 705, "Slovenia"),
    ("SJ", "SJM", 744, "Svalbard and Jan Mayen"),
    ("SK", "SVK", 703, "Slovakia"),
    ("SL", "SLE", 694, "Sierra Leone"),
    ("SM", "SMR", 674, "San Marino"),
    ("SN", "SEN", 686, "Senegal"),
    ("SO", "SOM", 706, "Somalia"),
    ("SR", "SUR", 740, "Suriname"),
    ("SS", "SSD", 728, "South Sudan"),
    ("ST", "STP", 678, "Sao Tome and Principe"),
    ("SV", "SLV", 222, "El Salvador"),
    ("SX", "SXM", 534, "Sint Maarten (Dutch part)"),
    ("SY", "SYR", 760, "Syrian Arab Republic"),
    ("SZ", "SWZ", 748, "Eswatini"),
    ("TC", "TCA", 796, "Turks and Caicos Islands"),
    ("TD", "TCD", 148, "Chad"),
    ("TF", "ATF", 260, "French Southern Territories"),
    ("TG", "TGO", 768, "Togo"),
    ("TH", "THA", 764, "Thailand"),
    ("TJ", "TJK", 762, "Tajikistan"),
    ("TK", "TKL", 772, "Tokelau"),
    ("TL", "TLS", 626, "Timor-Leste"),
    ("TM", "TKM", 795, "Turkmenistan"),
    ("TN", "TUN", 788, "Tunisia"),
    ("TO", "TON", 776, "Tonga"),
    ("TR", "TUR", 792, "Türkiye"),
    ("TT", "TTO", 780, "Trinidad and Tobago"),
    ("TV", "TUV", 798, "Tuvalu"),
    ("TW", "TWN", 158, "Taiwan (Province of China)"),
    ("TZ", "TZA", 834, "Tanzania (United Republic of)"),
    ("UA", "UKR", 804, "Ukraine"),
    ("UG", "UGA", 800, "Uganda"),
    ("UM", "UMI", 581, "United States Minor Outlying Islands"),
    ("US", "USA", 840, "United States of America"),
    ("UY", "URY", 858, "Uruguay"),
    ("UZ", "UZB", 860, "Uzbekistan"),
    ("VA", "VAT", 336, "Holy See"),
    ("VC", "VCT", 670, "Saint Vincent and the Grenadines"),
    ("VE", "VEN", 862, "Venezuela (Bolivarian Republic of)"),
    ("VG", "VGB", 92, "Virgin Islands (British)"),
    ("VI", "VIR", 850, "Virgin Islands (U.S.)"),
    ("VN", "VNM", 704, "Viet Nam"),
    ("VU", "VUT", 548, "Vanuatu"),
    ("WF", "WLF", 876, "Wallis and Futuna"),
    ("WS", "WSM", 882, "Samoa"),
    ("YE", "YEM", 887, "Yemen"),
    ("YT", "MYT", 175, "Mayotte"),
    ("ZA", "ZAF", 710, "South Africa"),
    ("ZM", "ZMB", 894, "Zambia"),
    ("ZW", "ZWE", 716, "Zimbabwe"),
];

/// Common variants, former names, abbreviations and local names, mapped to
/// alpha-2. Written naturally; they are normalised like the input.
const COUNTRY_ALIASES: &[(&str, &str)] = &[
    // United States
    ("USA", "US"),
    ("U.S.A.", "US"),
    ("U.S.", "US"),
    ("United States", "US"),
    ("America", "US"),
    ("Estados Unidos", "US"),
    ("États-Unis", "US"),
    ("Vereinigte Staaten", "US"),
    ("Stati Uniti", "US"),
    // United Kingdom
    ("UK", "GB"),
    ("U.K.", "GB"),
    ("United Kingdom", "GB"),
    ("Great Britain", "GB"),
    ("Britain", "GB"),
    ("England", "GB"),
    ("Scotland", "GB"),
    ("Wales", "GB"),
    ("Cymru", "GB"),
    ("Northern Ireland", "GB"),
    ("Royaume-Uni", "GB"),
    ("Vereinigtes Königreich", "GB"),
    ("Großbritannien", "GB"),
    ("Reino Unido", "GB"),
    ("Regno Unito", "GB"),
    ("Verenigd Koninkrijk", "GB"),
    // Europe
    ("Deutschland", "DE"),
    ("Allemagne", "DE"),
    ("Alemania", "DE"),
    ("Germania", "DE"),
    ("Duitsland", "DE"),
    ("Tyskland", "DE"),
    ("Niemcy", "DE"),
    ("Bundesrepublik Deutschland", "DE"),
    ("España", "ES"),
    ("Spanien", "ES"),
    ("Espagne", "ES"),
    ("Spagna", "ES"),
    ("Spanje", "ES"),
    ("Italia", "IT"),
    ("Italien", "IT"),
    ("Italie", "IT"),
    ("Italië", "IT"),
    ("Frankreich", "FR"),
    ("Francia", "FR"),
    ("Frankrijk", "FR"),
    ("République française", "FR"),
    ("Nederland", "NL"),
    ("Netherlands", "NL"),
    ("Holland", "NL"),
    ("Niederlande", "NL"),
    ("Pays-Bas", "NL"),
    ("Países Bajos", "NL"),
    ("Paesi Bassi", "NL"),
    ("België", "BE"),
    ("Belgique", "BE"),
    ("Belgien", "BE"),
    ("Belgio", "BE"),
    ("Luxemburg", "LU"),
    ("Lëtzebuerg", "LU"),
    ("Österreich", "AT"),
    ("Oesterreich", "AT"),
    ("Autriche", "AT"),
    ("Schweiz", "CH"),
    ("Suisse", "CH"),
    ("Svizzera", "CH"),
    ("Svizra", "CH"),
    ("Suiza", "CH"),
    ("Helvetia", "CH"),
    ("Confoederatio Helvetica", "CH"),
    ("Swiss Confederation", "CH"),
    ("Sverige", "SE"),
    ("Schweden", "SE"),
    ("Suède", "SE"),
    ("Norge", "NO"),
    ("Noreg", "NO"),
    ("Norwegen", "NO"),
    ("Norvège", "NO"),
    ("Danmark", "DK"),
    ("Dänemark", "DK"),
    ("Danemark", "DK"),
    ("Suomi", "FI"),
    ("Finnland", "FI"),
    ("Ísland", "IS"),
    ("Éire", "IE"),
    ("Irland", "IE"),
    ("Irlanda", "IE"),
    ("Republic of Ireland", "IE"),
    ("Polska", "PL"),
    ("Polen", "PL"),
    ("Pologne", "PL"),
    ("Czech Republic", "CZ"),
    ("Česko", "CZ"),
    ("Česká republika", "CZ"),
    ("Tschechien", "CZ"),
    ("Slovensko", "SK"),
    ("Slovak Republic", "SK"),
    ("Slowakei", "SK"),
    ("Slovenija", "SI"),
    ("Slowenien", "SI"),
    ("Magyarország", "HU"),
    ("Ungarn", "HU"),
    ("Hrvatska", "HR"),
    ("Kroatien", "HR"),
    ("Srbija", "RS"),
    ("România", "RO"),
    ("Rumänien", "RO"),
    ("Bălgarija", "BG"),
    ("Hellas", "GR"),
    ("Ellada", "GR"),
    ("Ελλάδα", "GR"),
    ("Hellenic Republic", "GR"),
    ("Griechenland", "GR"),
    ("Grèce", "GR"),
    ("Grecia", "GR"),
    ("Türkiye", "TR"),
    ("Turkey", "TR"),
    ("Türkei", "TR"),
    ("Turquie", "TR"),
    ("Turquía", "TR"),
    ("Russia", "RU"),
    ("Rossiya", "RU"),
    ("Россия", "RU"),
    ("Russland", "RU"),
    ("Ukraina", "UA"),
    ("Україна", "UA"),
    ("Moldova", "MD"),
    ("Macedonia", "MK"),
    ("FYROM", "MK"),
    ("Vatican", "VA"),
    ("Vatican City", "VA"),
    ("Kosovo", "XK"),
    ("XK", "XK"),
    ("XKX", "XK"),
    ("Åland", "AX"),
    ("Faroes", "FO"),
    // Americas
    ("México", "MX"),
    ("Mexique", "MX"),
    ("Mexiko", "MX"),
    ("United Mexican States", "MX"),
    ("Estados Unidos Mexicanos", "MX"),
    ("Brasil", "BR"),
    ("Brésil", "BR"),
    ("Brasilien", "BR"),
    ("Bolivia", "BO"),
    ("Venezuela", "VE"),
    ("Perú", "PE"),
    ("Falklands", "FK"),
    ("Falkland Islands", "FK"),
    ("Malvinas", "FK"),
    ("Bahamas", "BS"),
    ("British Virgin Islands", "VG"),
    ("BVI", "VG"),
    ("US Virgin Islands", "VI"),
    ("St Kitts and Nevis", "KN"),
    ("Saint Kitts", "KN"),
    ("St Kitts", "KN"),
    ("St Lucia", "LC"),
    ("St Vincent and the Grenadines", "VC"),
    ("Saint Vincent", "VC"),
    ("St Vincent", "VC"),
    ("St Pierre and Miquelon", "PM"),
    ("St Barthélemy", "BL"),
    ("St Barts", "BL"),
    ("St Barths", "BL"),
    ("Saint Martin", "MF"),
    ("St Martin", "MF"),
    ("Sint Maarten", "SX"),
    ("St Maarten", "SX"),
    ("Curacao", "CW"),
    ("Bonaire", "BQ"),
    ("Caribbean Netherlands", "BQ"),
    ("Trinidad", "TT"),
    // Asia and Oceania
    ("South Korea", "KR"),
    ("Korea, South", "KR"),
    ("Korea (South)", "KR"),
    ("Republic of Korea", "KR"),
    ("Korea, Republic of", "KR"),
    ("Korea", "KR"),
    ("대한민국", "KR"),
    ("North Korea", "KP"),
    ("Korea, North", "KP"),
    ("Korea (North)", "KP"),
    ("DPRK", "KP"),
    ("Democratic People's Republic of Korea", "KP"),
    ("People's Republic of China", "CN"),
    ("PRC", "CN"),
    ("Mainland China", "CN"),
    ("China Mainland", "CN"),
    ("Zhongguo", "CN"),
    ("中国", "CN"),
    ("Taiwan", "TW"),
    ("Republic of China", "TW"),
    ("Chinese Taipei", "TW"),
    ("台灣", "TW"),
    ("台湾", "TW"),
    ("Hong Kong SAR", "HK"),
    ("Hong Kong, China", "HK"),
    ("香港", "HK"),
    ("Macau", "MO"),
    ("Macao SAR", "MO"),
    ("Japon", "JP"),
    ("Nippon", "JP"),
    ("Nihon", "JP"),
    ("日本", "JP"),
    ("Vietnam", "VN"),
    ("Laos", "LA"),
    ("Burma", "MM"),
    ("Brunei", "BN"),
    ("East Timor", "TL"),
    ("Iran", "IR"),
    ("Persia", "IR"),
    ("Syria", "SY"),
    ("Palestine", "PS"),
    ("Palestinian Territories", "PS"),
    ("UAE", "AE"),
    ("U.A.E.", "AE"),
    ("Emirates", "AE"),
    ("KSA", "SA"),
    ("Bharat", "IN"),
    ("Micronesia", "FM"),
    ("Aotearoa", "NZ"),
    // Africa
    ("Ivory Coast", "CI"),
    ("Cote d'Ivoire", "CI"),
    ("Elfenbeinküste", "CI"),
    ("Cape Verde", "CV"),
    ("Swaziland", "SZ"),
    ("Tanzania", "TZ"),
    ("DRC", "CD"),
    ("DR Congo", "CD"),
    ("Congo-Kinshasa", "CD"),
    ("Congo, Democratic Republic of the", "CD"),
    ("Democratic Republic of the Congo", "CD"),
    ("Democratic Republic of Congo", "CD"),
    ("Congo-Brazzaville", "CG"),
    ("Republic of the Congo", "CG"),
    ("Gambia", "GM"),
    ("RSA", "ZA"),
    ("Suid-Afrika", "ZA"),
    ("Saint Helena", "SH"),
    ("St Helena", "SH"),
    ("Sao Tome", "ST"),
    ("Maroc", "MA"),
    ("Algérie", "DZ"),
    ("Tunisie", "TN"),
    ("Misr", "EG"),
];

// ===================================================================== dates

enum DateError {
    Syntax,
    Impossible,
}

/// A byte cursor for hand-parsing dates without allocating.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a [u8]) -> Self {
        Cursor { s, i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Eats `word` (lower-case ASCII) in any case.
    fn eat_ci(&mut self, word: &[u8]) -> bool {
        match self.s.get(self.i..self.i + word.len()) {
            Some(head) if head.eq_ignore_ascii_case(word) => {
                self.i += word.len();
                true
            }
            _ => false,
        }
    }

    /// Spaces, tabs and NBSPs; returns how many bytes it skipped.
    fn spaces(&mut self) -> usize {
        let start = self.i;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.i += 1,
                Some(0xC2) if self.s.get(self.i + 1) == Some(&0xA0) => self.i += 2,
                _ => return self.i - start,
            }
        }
    }

    /// A run of up to 9 digits: (value, how many digits). `None` when there
    /// are none or too many.
    fn number(&mut self) -> Option<(u32, usize)> {
        let start = self.i;
        let mut value: u32 = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            if self.i - start == 9 {
                self.i = start;
                return None;
            }
            value = value * 10 + u32::from(b - b'0');
            self.i += 1;
        }
        (self.i > start).then_some((value, self.i - start))
    }

    /// A number of at most `max` digits.
    fn small_number(&mut self, max: usize) -> Option<u32> {
        match self.number()? {
            (v, len) if len <= max => Some(v),
            _ => None,
        }
    }

    /// A word of ASCII letters (and UTF-8 bytes, for "März" or "août").
    fn word(&mut self) -> &'a [u8] {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphabetic() || b >= 0x80)
        {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    /// "st", "nd", "rd" or "th" after a day number.
    fn ordinal_suffix(&mut self) {
        let start = self.i;
        if [b"st", b"nd", b"rd", b"th"].iter().any(|s| self.eat_ci(*s))
            && self.peek().is_some_and(|b| b.is_ascii_alphabetic())
        {
            self.i = start;
        }
    }

    /// "AM", "pm", "a.m.", "P.M." → Some(is_pm).
    fn meridiem(&mut self) -> Option<bool> {
        let start = self.i;
        let pm = match self.peek()? {
            b'a' | b'A' => false,
            b'p' | b'P' => true,
            _ => return None,
        };
        self.i += 1;
        self.eat(b'.');
        if !(self.eat(b'm') || self.eat(b'M')) {
            self.i = start;
            return None;
        }
        self.eat(b'.');
        if self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.i = start;
            return None;
        }
        Some(pm)
    }
}

fn parse_timestamp(s: &str, order: DateOrder) -> Result<Timestamp, DateError> {
    let b = s.as_bytes();
    if b.first().is_some_and(u8::is_ascii_digit)
        && b.iter().all(|&c| c.is_ascii_digit() || c == b'.')
        && b.iter().filter(|&&c| c == b'.').count() <= 1
    {
        return numeric_timestamp(s);
    }
    let mut c = Cursor::new(b);
    let (year, month, day) = date_fields(&mut c, order).ok_or(DateError::Syntax)?;
    let date = calendar_date(year, month, day)?;
    let spaced = c.spaces() > 0;
    if c.done() {
        return Ok(Timestamp::Date(date));
    }
    if spaced || !(c.eat(b'T') || c.eat(b't')) {
        // "Mar 5, 2024, 2:23 PM", "5 March 2024 at 14:23"
        let comma = c.eat(b',');
        if !(spaced || comma) {
            return Err(DateError::Syntax);
        }
        c.spaces();
        if c.eat_ci(b"at ") {
            c.spaces();
        }
    }
    let (hour, minute, second, nano) = time_fields(&mut c)?;
    c.spaces();
    let offset = offset_seconds(&mut c)?;
    c.spaces();
    // JavaScript's Date.toString() ends with "(Central European Standard Time)".
    if c.eat(b'(') {
        while !c.done() && !c.eat(b')') {
            c.i += 1;
        }
        c.spaces();
    }
    if !c.done() {
        return Err(DateError::Syntax);
    }
    let local = date
        .and_hms_nano_opt(hour, minute, second, nano)
        .ok_or(DateError::Impossible)?;
    let utc = local
        .checked_sub_signed(TimeDelta::seconds(i64::from(offset)))
        .ok_or(DateError::Impossible)?;
    Ok(Timestamp::DateTime(utc.and_utc()))
}

/// (year, month, day) of the date at the start of the text.
fn date_fields(c: &mut Cursor, order: DateOrder) -> Option<(i32, u32, u32)> {
    loop {
        match c.peek()? {
            b'0'..=b'9' => return day_or_year_first(c, order),
            b if b.is_ascii_alphabetic() => {
                let word = c.word();
                if is_weekday(word) {
                    // "Tue, 05 Mar 2024", "Tuesday, March 5, 2024", "Tue Mar 05 2024"
                    c.eat(b'.');
                    c.eat(b',');
                    c.spaces();
                    continue;
                }
                return month_first_text(c, month_from_word(word)?);
            }
            _ => return None,
        }
    }
}

/// Dates starting with a number: numeric `a/b/y` per `order`, ISO `y-m-d`,
/// or a day before a text month.
fn day_or_year_first(c: &mut Cursor, order: DateOrder) -> Option<(i32, u32, u32)> {
    let start = c.i;
    if let Some((a, b, year)) = numeric_date_fields(c) {
        return Some(match order {
            DateOrder::MonthFirst => (year, a, b),
            DateOrder::DayFirst => (year, b, a),
        });
    }
    c.i = start;
    let (first, len) = c.number()?;
    if len == 4 {
        // 2024-03-05, 2024/03/05, 2024.03.05
        let sep = c.peek().filter(|b| matches!(b, b'-' | b'/' | b'.'))?;
        c.i += 1;
        let month = c.small_number(2)?;
        if !c.eat(sep) {
            return None;
        }
        let day = c.small_number(2)?;
        return Some((first as i32, month, day));
    }
    if len > 2 {
        return None;
    }
    // 05-Mar-2024, 5 March 2024, 5th March 2024, 5. März 2024
    c.ordinal_suffix();
    if !(c.eat(b'-') || c.eat(b'/') || c.eat(b'.') || c.spaces() > 0) {
        return None;
    }
    c.spaces();
    let month = month_from_word(c.word())?;
    c.eat(b'.');
    let comma = c.eat(b',');
    if !(c.eat(b'-') || c.eat(b'/') || c.spaces() > 0 || comma) {
        return None;
    }
    let year = year_field(c)?;
    Some((year, month, first))
}

/// `a sep b sep year` with sep one of `/ . -` used twice, a and b of 1–2
/// digits and a 2- or 4-digit year.
fn numeric_date_fields(c: &mut Cursor) -> Option<(u32, u32, i32)> {
    let a = c.small_number(2)?;
    let sep = c.peek().filter(|b| matches!(b, b'-' | b'/' | b'.'))?;
    c.i += 1;
    let b = c.small_number(2)?;
    if !c.eat(sep) {
        return None;
    }
    Some((a, b, year_field(c)?))
}

/// A 4-digit year, or a 2-digit one pivoted: 00–69 → 20xx, 70–99 → 19xx.
fn year_field(c: &mut Cursor) -> Option<i32> {
    match c.number()? {
        (y, 4) => Some(y as i32),
        (y, 2) => Some(if y < 70 {
            2000 + y as i32
        } else {
            1900 + y as i32
        }),
        _ => None,
    }
}

/// `Mar 5, 2024`, `March 5th 2024`, `Mar. 5 2024`, `Mar-05-2024`, after the
/// month word.
fn month_first_text(c: &mut Cursor, month: u32) -> Option<(i32, u32, u32)> {
    c.eat(b'.');
    if !(c.spaces() > 0 || c.eat(b'-') || c.eat(b'/')) {
        return None;
    }
    let day = c.small_number(2)?;
    c.ordinal_suffix();
    let comma = c.eat(b',');
    if !(c.spaces() > 0 || comma || c.eat(b'-') || c.eat(b'/')) {
        return None;
    }
    match c.number()? {
        (year, 4) => Some((year as i32, month, day)),
        _ => None,
    }
}

fn month_from_word(word: &[u8]) -> Option<u32> {
    const ENGLISH: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    // Exports also carry German, French and Spanish month names now and then.
    const OTHER: &[(&str, u32)] = &[
        ("januar", 1),
        ("jänner", 1),
        ("janvier", 1),
        ("enero", 1),
        ("februar", 2),
        ("février", 2),
        ("fevrier", 2),
        ("febrero", 2),
        ("märz", 3),
        ("mär", 3),
        ("mrz", 3),
        ("mars", 3),
        ("marzo", 3),
        ("avril", 4),
        ("abril", 4),
        ("mai", 5),
        ("mayo", 5),
        ("juni", 6),
        ("juin", 6),
        ("junio", 6),
        ("juli", 7),
        ("juillet", 7),
        ("julio", 7),
        ("août", 8),
        ("aout", 8),
        ("agosto", 8),
        ("septiembre", 9),
        ("okt", 10),
        ("oktober", 10),
        ("octobre", 10),
        ("octubre", 10),
        ("novembre", 11),
        ("noviembre", 11),
        ("dez", 12),
        ("dezember", 12),
        ("décembre", 12),
        ("decembre", 12),
        ("diciembre", 12),
    ];
    // Any prefix of 3+ letters of an English month: "Mar", "Sept", "Janu".
    if word.len() >= 3 {
        if let Some(i) = ENGLISH.iter().position(|m| {
            word.len() <= m.len() && m.as_bytes()[..word.len()].eq_ignore_ascii_case(word)
        }) {
            return Some(i as u32 + 1);
        }
    }
    OTHER
        .iter()
        .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(word))
        .map(|&(_, m)| m)
}

fn is_weekday(word: &[u8]) -> bool {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    word.len() >= 3
        && DAYS
            .iter()
            .any(|d| word.len() <= d.len() && d.as_bytes()[..word.len()].eq_ignore_ascii_case(word))
}

/// `14:23`, `14:23:11`, `14:23:11.123456`, `2:23 PM`, `2 pm` → (h, m, s, ns).
fn time_fields(c: &mut Cursor) -> Result<(u32, u32, u32, u32), DateError> {
    let hour = c.small_number(2).ok_or(DateError::Syntax)?;
    let (mut minute, mut second, mut nano) = (0, 0, 0);
    let has_minutes = c.eat(b':');
    if has_minutes {
        minute = two_digits(c)?;
        if c.eat(b':') {
            second = two_digits(c)?;
            if matches!(c.peek(), Some(b'.' | b','))
                && c.s.get(c.i + 1).is_some_and(u8::is_ascii_digit)
            {
                c.i += 1;
                nano = fraction_nanos(c);
            }
        }
    }
    let before = c.i;
    c.spaces();
    let meridiem = c.meridiem();
    if meridiem.is_none() {
        c.i = before;
        if !has_minutes {
            return Err(DateError::Syntax);
        }
    }
    let hour = match meridiem {
        Some(pm) if (1..=12).contains(&hour) => hour % 12 + if pm { 12 } else { 0 },
        Some(_) => return Err(DateError::Impossible),
        None => hour,
    };
    if hour > 23 || minute > 59 || second > 59 {
        return Err(DateError::Impossible);
    }
    Ok((hour, minute, second, nano))
}

fn two_digits(c: &mut Cursor) -> Result<u32, DateError> {
    match c.number() {
        Some((v, 2)) => Ok(v),
        _ => Err(DateError::Syntax),
    }
}

/// Digits after a decimal point as nanoseconds (digits past the 9th ignored).
fn fraction_nanos(c: &mut Cursor) -> u32 {
    let mut nanos = 0;
    let mut scale = 100_000_000;
    while let Some(b @ b'0'..=b'9') = c.peek() {
        nanos += u32::from(b - b'0') * scale;
        scale /= 10;
        c.i += 1;
    }
    nanos
}

/// `Z`, `+02:00`, `+0200`, `-05`, `UTC`, `GMT+0100`, `UTC+2` → seconds east
/// of UTC; none is UTC.
fn offset_seconds(c: &mut Cursor) -> Result<i32, DateError> {
    if c.eat(b'Z') || c.eat(b'z') {
        return Ok(0);
    }
    // `||` short-circuits: at most one of the names is eaten.
    let _named = c.eat_ci(b"utc") || c.eat_ci(b"gmt");
    let negative = if c.eat(b'+') {
        false
    } else if c.eat(b'-') || c.eat_ci("\u{2212}".as_bytes()) {
        true
    } else {
        return Ok(0);
    };
    let (hours, minutes) = match c.number() {
        Some((v, 4)) => (v / 100, v % 100),
        Some((v, 1 | 2)) => (v, if c.eat(b':') { two_digits(c)? } else { 0 }),
        _ => return Err(DateError::Syntax),
    };
    if hours > 23 || minutes > 59 {
        return Err(DateError::Impossible);
    }
    let seconds = (hours * 3600 + minutes * 60) as i32;
    Ok(if negative { -seconds } else { seconds })
}

fn calendar_date(year: i32, month: u32, day: u32) -> Result<NaiveDate, DateError> {
    if !(1900..=2200).contains(&year) {
        return Err(DateError::Impossible);
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or(DateError::Impossible)
}

/// A plain number: compact `YYYYMMDD`, an Excel serial date or a Unix epoch
/// (by digit count).
fn numeric_timestamp(s: &str) -> Result<Timestamp, DateError> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    match int.len() {
        8 if frac.is_empty() => {
            let field = |r: std::ops::Range<usize>| int[r].parse::<u32>().unwrap_or(0);
            let (year, month, day) = (field(0..4) as i32, field(4..6), field(6..8));
            if !(1900..=2200).contains(&year) || !(1..=12).contains(&month) {
                return Err(DateError::Syntax);
            }
            calendar_date(year, month, day).map(Timestamp::Date)
        }
        5 => match int.parse::<u32>() {
            Ok(days @ 20_000..=80_000) => excel_serial(days, frac),
            _ => Err(DateError::Syntax),
        },
        9 | 10 => epoch(int, frac, 1_000_000_000),
        12 | 13 => epoch(int, frac, 1_000_000),
        15 | 16 => epoch(int, frac, 1_000),
        18 | 19 => epoch(int, frac, 1),
        _ => Err(DateError::Syntax),
    }
}

/// Unix time in units of `unit_nanos` nanoseconds, with an optional fraction
/// of a unit.
fn epoch(int: &str, frac: &str, unit_nanos: i64) -> Result<Timestamp, DateError> {
    let whole: i64 = int.parse().map_err(|_| DateError::Syntax)?;
    let per_second = 1_000_000_000 / unit_nanos;
    let mut nanos = (whole % per_second) * unit_nanos;
    // Fraction digits that still fit in whole nanoseconds.
    let mut scale = unit_nanos / 10;
    for b in frac.bytes() {
        if scale == 0 {
            break;
        }
        nanos += i64::from(b - b'0') * scale;
        scale /= 10;
    }
    DateTime::from_timestamp(whole / per_second, nanos as u32)
        .map(Timestamp::DateTime)
        .ok_or(DateError::Impossible)
}

/// An Excel serial day, with the fraction as the time of day.
fn excel_serial(days: u32, frac: &str) -> Result<Timestamp, DateError> {
    let date = excel_date(days).ok_or(DateError::Impossible)?;
    if frac.bytes().all(|b| b == b'0') {
        return Ok(Timestamp::Date(date));
    }
    let mut fraction = 0.0f64;
    let mut scale = 0.1f64;
    for b in frac.bytes() {
        fraction += f64::from(b - b'0') * scale;
        scale /= 10.0;
    }
    let seconds = (fraction * 86_400.0).round() as u32;
    let (date, seconds) = if seconds >= 86_400 {
        (date.succ_opt().ok_or(DateError::Impossible)?, 0)
    } else {
        (date, seconds)
    };
    let local = date
        .and_hms_opt(seconds / 3600, seconds / 60 % 60, seconds % 60)
        .ok_or(DateError::Impossible)?;
    Ok(Timestamp::DateTime(local.and_utc()))
}

/// Excel's 1900 date system: serial 1 is 1900-01-01 and serial 60 is the
/// 29 February 1900 that Lotus 1-2-3 invented and Excel kept, so from 61 on
/// serials run one day ahead of a true count.
fn excel_date(serial: u32) -> Option<NaiveDate> {
    let (base, days) = match serial {
        0 | 60 => return None,
        1..=59 => (NaiveDate::from_ymd_opt(1899, 12, 31)?, serial),
        _ => (NaiveDate::from_ymd_opt(1899, 12, 30)?, serial),
    };
    base.checked_add_days(Days::new(u64::from(days)))
}

// ===================================================================== money

enum MoneyError {
    Syntax,
    Overflow,
    Currency(String),
    TwoCurrencies,
}

impl From<DecimalError> for MoneyError {
    fn from(e: DecimalError) -> Self {
        match e {
            DecimalError::Syntax => MoneyError::Syntax,
            DecimalError::Overflow => MoneyError::Overflow,
        }
    }
}

enum DecimalError {
    Syntax,
    Overflow,
}

/// `mantissa × 10^-scale`, exact.
struct Decimal {
    mantissa: u128,
    scale: i32,
}

enum CurrencyToken {
    /// An ISO code, and whether it came from a symbol several currencies use
    /// (`$`, `¥`), which a code elsewhere in the value overrides.
    Code(&'static str, bool),
    /// A real currency sign that does not say which (`kr`, `¤`).
    Ambiguous,
    Unknown,
}

/// Signs, parentheses and currency found around the digits.
#[derive(Default)]
struct Affixes {
    minus: bool,
    open: bool,
    close: bool,
    currency: Option<(&'static str, bool)>,
}

fn parse_money(s: &str) -> Result<Money, MoneyError> {
    let b = s.as_bytes();
    let first = b
        .iter()
        .position(u8::is_ascii_digit)
        .ok_or(MoneyError::Syntax)?;
    let end = b
        .iter()
        .rposition(u8::is_ascii_digit)
        .map_or(first, |i| i + 1);
    // ".99", "$.99"
    let start = if first > 0 && matches!(b[first - 1], b'.' | b',') {
        first - 1
    } else {
        first
    };
    let mut affixes = Affixes::default();
    affixes.read(&s[..start])?;
    let mut suffix = &s[end..];
    // "12,- €", Swiss "12.–", or a sentence-final "12."
    if let Some(rest) = [",-", ".-", ",\u{2013}", ".\u{2013}"]
        .iter()
        .find_map(|p| suffix.strip_prefix(p))
    {
        suffix = rest;
    } else if let Some(rest) = suffix
        .strip_prefix('.')
        .filter(|r| r.is_empty() || r.starts_with(char::is_whitespace))
    {
        suffix = rest;
    }
    affixes.read(suffix)?;
    if affixes.open != affixes.close {
        return Err(MoneyError::Syntax);
    }
    let amount = parse_amount(&s[start..end])?;
    let currency = affixes.currency.map(|(code, _)| code);
    let magnitude = amount
        .to_minor(currency.map_or(2, minor_unit_exponent))
        .ok_or(MoneyError::Overflow)?;
    let magnitude = i64::try_from(magnitude).map_err(|_| MoneyError::Overflow)?;
    let negative = affixes.minus || affixes.open;
    Ok(Money {
        minor: if negative { -magnitude } else { magnitude },
        currency,
    })
}

impl Affixes {
    fn read(&mut self, text: &str) -> Result<(), MoneyError> {
        const SIGNS: [char; 6] = ['(', ')', '-', '+', '\u{2212}', '\u{2013}'];
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            match c {
                c if c.is_whitespace() => {}
                '(' if !self.open => self.open = true,
                ')' if !self.close => self.close = true,
                '-' | '\u{2212}' | '\u{2013}' if !self.minus => self.minus = true,
                '+' => {}
                '(' | ')' | '-' | '\u{2212}' | '\u{2013}' => return Err(MoneyError::Syntax),
                _ => {
                    let len = rest
                        .find(|c: char| c.is_whitespace() || SIGNS.contains(&c))
                        .unwrap_or(rest.len());
                    self.add_currency(&rest[..len])?;
                    rest = &rest[len..];
                    continue;
                }
            }
            rest = &rest[c.len_utf8()..];
        }
        Ok(())
    }

    fn add_currency(&mut self, token: &str) -> Result<(), MoneyError> {
        let (code, generic) = match currency_token(token) {
            CurrencyToken::Code(code, generic) => (code, generic),
            CurrencyToken::Ambiguous => return Ok(()),
            CurrencyToken::Unknown => return Err(MoneyError::Currency(token.to_string())),
        };
        self.currency = match self.currency {
            None => Some((code, generic)),
            Some((seen, seen_generic)) if seen == code => Some((code, seen_generic && generic)),
            // "$12 CAD": the code says which dollar.
            Some((_, true)) if !generic => Some((code, false)),
            Some((seen, false)) if generic => Some((seen, false)),
            Some(_) => return Err(MoneyError::TwoCurrencies),
        };
        Ok(())
    }
}

/// The number between the affixes: digits with thousands separators and a
/// decimal point, or Excel's scientific notation.
fn parse_amount(body: &str) -> Result<Decimal, DecimalError> {
    if body.contains(['e', 'E']) {
        return parse_scientific(body);
    }
    let (mut dots, mut commas, mut spaced) = (0, 0, false);
    let (mut last_dot, mut last_comma) = (0, 0);
    for (i, c) in body.char_indices() {
        match c {
            '0'..='9' => {}
            '.' => {
                dots += 1;
                last_dot = i;
            }
            ',' => {
                commas += 1;
                last_comma = i;
            }
            c if is_group_separator(c) => spaced = true,
            _ => return Err(DecimalError::Syntax),
        }
    }
    let point = match (dots, commas) {
        (0, 0) => None,
        (1, 0) => Some(last_dot),
        (_, 0) => None,
        // "1,234" is a thousand and more; "1,5", "1,50", "0,125" and
        // "1 234,500" (other separators present) have a decimal comma.
        (0, 1) => {
            let thousands = body.len() - last_comma - 1 == 3 && !spaced && !body.starts_with('0');
            (!thousands).then_some(last_comma)
        }
        (0, _) => None,
        (1, _) if last_dot > last_comma => Some(last_dot),
        (_, 1) if last_comma > last_dot => Some(last_comma),
        _ => return Err(DecimalError::Syntax),
    };
    let (int, frac) = match point {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, ""),
    };
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (int.is_empty() && frac.is_empty()) {
        return Err(DecimalError::Syntax);
    }
    check_grouping(int)?;
    let mut d = Decimal {
        mantissa: 0,
        scale: frac.len() as i32,
    };
    for b in int.bytes().chain(frac.bytes()).filter(u8::is_ascii_digit) {
        d.push_digit(b)?;
    }
    Ok(d)
}

/// Thousands groups: the first of 1–3 digits, the rest of 3 (or 2 in the
/// Indian lakh style, `1,23,456`), the last of 3.
fn check_grouping(int: &str) -> Result<(), DecimalError> {
    let mut groups = int.split(|c: char| !c.is_ascii_digit());
    let first = groups.next().unwrap_or("");
    let mut last = None;
    for g in groups {
        if !(2..=3).contains(&g.len()) {
            return Err(DecimalError::Syntax);
        }
        last = Some(g.len());
    }
    match last {
        None => Ok(()),
        Some(3) if (1..=3).contains(&first.len()) => Ok(()),
        Some(_) => Err(DecimalError::Syntax),
    }
}

/// `1.2345E+03`, `5E-1`, `1,5E+2` (Excel in a decimal-comma locale).
fn parse_scientific(body: &str) -> Result<Decimal, DecimalError> {
    let (mantissa, exponent) = body.split_once(['e', 'E']).ok_or(DecimalError::Syntax)?;
    let exponent: i32 = exponent.parse().map_err(|_| DecimalError::Syntax)?;
    let (int, frac) = mantissa.split_once(['.', ',']).unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(DecimalError::Syntax);
    }
    let mut d = Decimal {
        mantissa: 0,
        scale: 0,
    };
    for b in int.bytes().chain(frac.bytes()) {
        d.push_digit(b)?;
    }
    if d.mantissa == 0 || exponent < -100 {
        return Ok(Decimal {
            mantissa: 0,
            scale: 0,
        });
    }
    if exponent > 100 {
        return Err(DecimalError::Overflow);
    }
    d.scale = frac.len() as i32 - exponent;
    Ok(d)
}

impl Decimal {
    fn push_digit(&mut self, b: u8) -> Result<(), DecimalError> {
        self.mantissa = self
            .mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(u128::from(b - b'0')))
            .ok_or(DecimalError::Overflow)?;
        Ok(())
    }

    /// The value in units of 10^-exp, rounded half away from zero; `None`
    /// when it does not fit.
    fn to_minor(&self, exp: u32) -> Option<u128> {
        if self.mantissa == 0 {
            return Some(0);
        }
        let shift = exp as i32 - self.scale;
        if shift >= 0 {
            return self.mantissa.checked_mul(pow10_u128(shift as u32)?);
        }
        let Some(p) = pow10_u128(shift.unsigned_abs()) else {
            // Below 10^-38 of a minor unit: rounds to nothing.
            return Some(0);
        };
        let (q, r) = (self.mantissa / p, self.mantissa % p);
        Some(if r >= p - r { q + 1 } else { q })
    }
}

fn pow10_u128(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

/// Thousands separators other than `.` and `,`: spaces (ordinary, NBSP,
/// narrow NBSP, thin) and Swiss apostrophes.
fn is_group_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\'' | '\u{2019}'
    )
}

fn currency_token(token: &str) -> CurrencyToken {
    if let Some(&(_, code, generic)) = CURRENCY_SYMBOLS
        .iter()
        .find(|(s, ..)| s.eq_ignore_ascii_case(token))
    {
        return match code {
            Some(code) => CurrencyToken::Code(code, generic),
            None => CurrencyToken::Ambiguous,
        };
    }
    match iso_currency(token) {
        Some((code, _)) => CurrencyToken::Code(code, false),
        None => CurrencyToken::Unknown,
    }
}

/// The ISO 4217 entry for a code in any case.
fn iso_currency(code: &str) -> Option<(&'static str, u8)> {
    let b = code.as_bytes();
    if b.len() != 3 {
        return None;
    }
    let key = [
        b[0].to_ascii_uppercase(),
        b[1].to_ascii_uppercase(),
        b[2].to_ascii_uppercase(),
    ];
    ISO_CURRENCIES
        .binary_search_by(|(c, _)| c.as_bytes().cmp(&key[..]))
        .ok()
        .map(|i| ISO_CURRENCIES[i])
}

/// Symbols and local abbreviations (matched ignoring ASCII case) → ISO code,
/// and whether the symbol is shared by several currencies.
const CURRENCY_SYMBOLS: &[(&str, Option<&str>, bool)] = &[
    ("$", Some("USD"), true),
    ("US$", Some("USD"), false),
    ("U$S", Some("USD"), false),
    ("€", Some("EUR"), false),
    ("euro", Some("EUR"), false),
    ("euros", Some("EUR"), false),
    ("£", Some("GBP"), false),
    ("¥", Some("JPY"), true),
    ("JP¥", Some("JPY"), false),
    ("円", Some("JPY"), false),
    ("CN¥", Some("CNY"), false),
    ("RMB", Some("CNY"), false),
    ("元", Some("CNY"), false),
    ("₹", Some("INR"), false),
    ("₩", Some("KRW"), false),
    ("₽", Some("RUB"), false),
    ("₺", Some("TRY"), false),
    ("₪", Some("ILS"), false),
    ("₫", Some("VND"), false),
    ("₱", Some("PHP"), false),
    ("฿", Some("THB"), false),
    ("₴", Some("UAH"), false),
    ("₦", Some("NGN"), false),
    ("₡", Some("CRC"), false),
    ("₲", Some("PYG"), false),
    ("₸", Some("KZT"), false),
    ("₼", Some("AZN"), false),
    ("₾", Some("GEL"), false),
    ("₵", Some("GHS"), false),
    ("zł", Some("PLN"), false),
    ("ZŁ", Some("PLN"), false),
    ("Kč", Some("CZK"), false),
    ("KČ", Some("CZK"), false),
    ("Ft", Some("HUF"), false),
    ("lei", Some("RON"), false),
    ("R$", Some("BRL"), false),
    ("C$", Some("CAD"), false),
    ("CA$", Some("CAD"), false),
    ("CAN$", Some("CAD"), false),
    ("A$", Some("AUD"), false),
    ("AU$", Some("AUD"), false),
    ("NZ$", Some("NZD"), false),
    ("HK$", Some("HKD"), false),
    ("S$", Some("SGD"), false),
    ("SG$", Some("SGD"), false),
    ("MX$", Some("MXN"), false),
    ("NT$", Some("TWD"), false),
    ("Fr.", Some("CHF"), false),
    ("SFr.", Some("CHF"), false),
    ("SFr", Some("CHF"), false),
    ("R", Some("ZAR"), false),
    ("kr", None, false),
    ("kr.", None, false),
    ("¤", None, false),
];

/// ISO 4217 codes in use (and HRK, common in older exports) with their
/// minor-unit exponent, sorted by code for binary search.
const ISO_CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HRK", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SLL", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
    ("ZWL", 2),
];

// ============================================================ words and keys

const TRUE_WORDS: &[&str] = &["true", "t", "yes", "y", "1", "on", "x", "1.0"];
const FALSE_WORDS: &[&str] = &["false", "f", "no", "n", "0", "off", "0.0"];

// Consent and gender words as normalised keys (see `KeyBuf`): "Opted in" and
// "opted_in" are both "optedin".
const CONSENT_GRANTED: &[&str] = &[
    "true",
    "t",
    "yes",
    "y",
    "1",
    "on",
    "x",
    "subscribed",
    "optedin",
    "optin",
    "granted",
    "consented",
    "confirmed",
    "singleoptin",
    "doubleoptin",
    "confirmedoptin",
    "accepted",
];
const CONSENT_DENIED: &[&str] = &[
    "false",
    "f",
    "no",
    "n",
    "0",
    "off",
    "unsubscribed",
    "notsubscribed",
    "optedout",
    "optout",
    "cleaned",
    "denied",
    "revoked",
    "withdrawn",
    "declined",
    "redacted",
];
const CONSENT_UNKNOWN: &[&str] = &[
    "unknown",
    "pending",
    "neversubscribed",
    "nonsubscribed",
    "transactional",
    "archived",
    "none",
    "null",
    "na",
];

const GENDER_FEMALE: &[&str] = &[
    "f",
    "female",
    "woman",
    "women",
    "w",
    "girl",
    "lady",
    "frau",
    "fr",
    "mrs",
    "ms",
    "miss",
    "mme",
    "mlle",
    "madame",
    "mademoiselle",
    "weiblich",
    "femme",
    "feminin",
    "femenino",
    "feminino",
    "mujer",
    "sra",
    "srta",
    "signora",
    "donna",
    "vrouw",
    "mevrouw",
    "mevr",
    "kvinna",
    "kvinde",
    "kobieta",
];
const GENDER_MALE: &[&str] = &[
    "m",
    "male",
    "man",
    "men",
    "boy",
    "herr",
    "hr",
    "mr",
    "mister",
    "monsieur",
    "mannlich",
    "maennlich",
    "homme",
    "masculin",
    "masculino",
    "hombre",
    "sr",
    "signor",
    "signore",
    "uomo",
    "heer",
    "dhr",
    "mand",
    "mezczyzna",
];
const GENDER_OTHER: &[&str] = &[
    "x",
    "other",
    "o",
    "nonbinary",
    "nb",
    "enby",
    "mx",
    "divers",
    "d",
    "diverse",
    "genderqueer",
    "genderfluid",
    "agender",
    "andere",
    "autre",
    "otro",
];

/// A short lookup key built on the stack: lower case, Latin accents folded to
/// ASCII, only letters and digits kept ("Côte d'Ivoire" → "cotedivoire").
struct KeyBuf {
    buf: [u8; 64],
    len: usize,
}

impl KeyBuf {
    fn new() -> Self {
        KeyBuf {
            buf: [0; 64],
            len: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    fn push_bytes(&mut self, bytes: &[u8]) -> bool {
        let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) else {
            return false;
        };
        dst.copy_from_slice(bytes);
        self.len += bytes.len();
        true
    }

    /// Appends the key form of `text`; false when it does not fit.
    fn push_folded(&mut self, text: &str) -> bool {
        for c in text.chars() {
            let ok = if c.is_ascii() {
                !c.is_ascii_alphanumeric() || self.push_bytes(&[c.to_ascii_lowercase() as u8])
            } else if let Some(folded) = fold_latin(c) {
                self.push_bytes(folded.as_bytes())
            } else if c.is_alphanumeric() {
                c.to_lowercase()
                    .all(|l| self.push_bytes(l.encode_utf8(&mut [0; 4]).as_bytes()))
            } else {
                true
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

/// ASCII spelling of a Latin letter with a diacritic ('É' → "e", 'ß' → "ss").
fn fold_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'à'..='å' | 'À'..='Å' | 'ā' | 'Ā' | 'ă' | 'Ă' | 'ą' | 'Ą' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' | 'ć' | 'Ć' | 'ĉ' | 'Ĉ' | 'ċ' | 'Ċ' | 'č' | 'Č' => "c",
        'ď' | 'Ď' | 'đ' | 'Đ' | 'ð' | 'Ð' => "d",
        'è'..='ë' | 'È'..='Ë' | 'ē' | 'Ē' | 'ĕ' | 'Ĕ' | 'ė' | 'Ė' | 'ę' | 'Ę' | 'ě' | 'Ě' => {
            "e"
        }
        'ĝ' | 'Ĝ' | 'ğ' | 'Ğ' | 'ġ' | 'Ġ' | 'ģ' | 'Ģ' => "g",
        'ĥ' | 'Ĥ' | 'ħ' | 'Ħ' => "h",
        'ì'..='ï' | 'Ì'..='Ï' | 'ĩ' | 'Ĩ' | 'ī' | 'Ī' | 'ĭ' | 'Ĭ' | 'į' | 'Į' | 'ı' | 'İ' => {
            "i"
        }
        'ĵ' | 'Ĵ' => "j",
        'ķ' | 'Ķ' => "k",
        'ĺ' | 'Ĺ' | 'ļ' | 'Ļ' | 'ľ' | 'Ľ' | 'ŀ' | 'Ŀ' | 'ł' | 'Ł' => "l",
        'ñ' | 'Ñ' | 'ń' | 'Ń' | 'ņ' | 'Ņ' | 'ň' | 'Ň' => "n",
        'ò'..='ö' | 'Ò'..='Ö' | 'ø' | 'Ø' | 'ō' | 'Ō' | 'ŏ' | 'Ŏ' | 'ő' | 'Ő' => "o",
        'œ' | 'Œ' => "oe",
        'ŕ' | 'Ŕ' | 'ŗ' | 'Ŗ' | 'ř' | 'Ř' => "r",
        'ś' | 'Ś' | 'ŝ' | 'Ŝ' | 'ş' | 'Ş' | 'š' | 'Š' | 'ș' | 'Ș' => "s",
        'ß' => "ss",
        'ţ' | 'Ţ' | 'ť' | 'Ť' | 'ŧ' | 'Ŧ' | 'ț' | 'Ț' => "t",
        'þ' | 'Þ' => "th",
        'ù'..='ü'
        | 'Ù'..='Ü'
        | 'ũ'
        | 'Ũ'
        | 'ū'
        | 'Ū'
        | 'ŭ'
        | 'Ŭ'
        | 'ů'
        | 'Ů'
        | 'ű'
        | 'Ű'
        | 'ų'
        | 'Ų' => "u",
        'ŵ' | 'Ŵ' => "w",
        'ý' | 'Ý' | 'ÿ' | 'Ÿ' | 'ŷ' | 'Ŷ' => "y",
        'ź' | 'Ź' | 'ż' | 'Ż' | 'ž' | 'Ž' => "z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use phonenumber::country::Id;

    fn code_of<T: fmt::Debug>(r: Result<T, Invalid>) -> &'static str {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e.code,
        }
    }

    fn ymd(y: i32, m: u32, d: u32) -> Timestamp {
        Timestamp::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    fn iso(raw: &str, order: DateOrder) -> String {
        datetime(raw, order)
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
            .to_iso()
    }

    fn amount(raw: &str) -> (i64, Option<&'static str>) {
        let m = money(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        (m.minor, m.currency)
    }

    // ------------------------------------------------------------ Invalid

    #[test]
    fn invalid_displays_its_message() {
        let e = email("john@").unwrap_err();
        assert_eq!(e.code, "email_syntax");
        assert_eq!(e.to_string(), "`john@` has no domain");
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert_eq!(boxed.to_string(), "`john@` has no domain");
    }

    // --------------------------------------------------------------- name

    #[test]
    fn name_trims_and_collapses_whitespace() {
        assert_eq!(name("  Jane   Doe "), "Jane Doe");
        assert_eq!(name("Jane\tDoe"), "Jane Doe");
        assert_eq!(name("Jane\u{a0}\u{a0}Doe"), "Jane Doe");
        assert_eq!(name("Mary\r\nAnn  O'Neil"), "Mary Ann O'Neil");
        assert_eq!(name("van der Berg"), "van der Berg");
        assert_eq!(name("McDONALD"), "McDONALD");
        assert_eq!(name("José  Ñúñez"), "José Ñúñez");
        assert_eq!(name("Prince"), "Prince");
        assert_eq!(name("   "), "");
        assert_eq!(name(""), "");
    }

    // -------------------------------------------------------------- email

    #[test]
    fn email_normalises_wrappers_and_case() {
        assert_eq!(
            email("John.Doe@Example.COM").unwrap(),
            "john.doe@example.com"
        );
        assert_eq!(email("  <jane@x.co.uk>  ").unwrap(), "jane@x.co.uk");
        assert_eq!(email("Jane Doe <Jane@X.com>").unwrap(), "jane@x.com");
        assert_eq!(email("mailto:Sales@Shop.io").unwrap(), "sales@shop.io");
        assert_eq!(email("MAILTO:a@b.io?subject=Hi").unwrap(), "a@b.io");
        assert_eq!(email("a@b.com.").unwrap(), "a@b.com");
        assert_eq!(email("a@b.com,").unwrap(), "a@b.com");
        assert_eq!(
            email("o'brien+news@mail.example.org").unwrap(),
            "o'brien+news@mail.example.org"
        );
        assert_eq!(
            email("first_last-1@sub-domain.example.travel").unwrap(),
            "first_last-1@sub-domain.example.travel"
        );
        assert_eq!(email("Jörg@Bücher.DE").unwrap(), "jörg@bücher.de");
        assert_eq!(
            email("user@example.xn--p1ai").unwrap(),
            "user@example.xn--p1ai"
        );
    }

    #[test]
    fn email_rejects_bad_syntax_with_reasons() {
        let why = |raw: &str| email(raw).unwrap_err().message;
        assert_eq!(why("john@"), "`john@` has no domain");
        assert_eq!(why("john.example.com"), "`john.example.com` has no @");
        assert_eq!(why("a@b@c.com"), "`a@b@c.com` has more than one @");
        assert_eq!(
            why("@example.com"),
            "`@example.com` has nothing before the @"
        );
        assert_eq!(
            why("jo hn@example.com"),
            "`jo hn@example.com` contains a space"
        );
        assert_eq!(
            why("john@localhost"),
            "`john@localhost` has no dot in its domain `localhost`"
        );
        assert_eq!(
            why("john..doe@example.com"),
            "`john..doe@example.com` has two dots in a row"
        );
        assert_eq!(
            why("john@example..com"),
            "`john@example..com` has two dots in a row"
        );
        assert_eq!(
            why(".john@example.com"),
            "`.john@example.com` starts or ends the part before the @ with a dot"
        );
        assert_eq!(
            why("john@-example.com"),
            "`john@-example.com` has a domain part `-example` starting or ending with a hyphen"
        );
        assert_eq!(
            why("john@example.c"),
            "`john@example.c` has `.c`, which is not a top-level domain"
        );
        assert_eq!(
            why("john@example.c0m"),
            "`john@example.c0m` has `.c0m`, which is not a top-level domain"
        );
        assert_eq!(
            why("john@exa_mple.com"),
            "`john@exa_mple.com` has `_`, which is not allowed in a domain"
        );
        assert_eq!(
            why("jo(h)n@example.com"),
            "`jo(h)n@example.com` has `(`, which is not allowed before the @"
        );
        let long = format!("{}@example.com", "a".repeat(65));
        assert_eq!(code_of(email(&long)), "email_syntax");
        assert!(email(&format!("{}@example.com", "a".repeat(64))).is_ok());
        assert_eq!(code_of(email("   ")), "email_syntax");
    }

    // -------------------------------------------------------------- phone

    #[test]
    fn phone_reads_common_formats() {
        use phonenumber::country::Id::*;
        let cases: &[(&str, Id, &str)] = &[
            ("'+44 7911 123456", GB, "+447911123456"),
            ("'07911 123456", GB, "+447911123456"),
            ("+44 (0)20 7946 0958", GB, "+442079460958"),
            ("+44 020 7946 0958", US, "+442079460958"),
            ("020 7946 0958", GB, "+442079460958"),
            ("(415) 555-0132", US, "+14155550132"),
            ("415.555.0132", US, "+14155550132"),
            ("1-415-555-0132", US, "+14155550132"),
            ("+1 (613) 555-0199", GB, "+16135550199"),
            ("0151 23456789", DE, "+4915123456789"),
            ("0151/23456789", DE, "+4915123456789"),
            ("0049 151 23456789", DE, "+4915123456789"),
            ("0044 20 7946 0958", US, "+442079460958"),
            ("011 44 20 7946 0958", US, "+442079460958"),
            ("0011 44 20 7946 0958", AU, "+442079460958"),
            ("04 1234 5678", AU, "+61412345678"),
            ("06 1234 5678", IT, "+390612345678"),
            ("+39 06 1234 5678", GB, "+390612345678"),
            ("01 23 45 67 89", FR, "+33123456789"),
            ("+33 6 12 34 56 78", DE, "+33612345678"),
            ("03-1234-5678", JP, "+81312345678"),
            ("011 15-2345-6789", AR, "+5491123456789"),
            ("8 (912) 123-45-67", RU, "+79121234567"),
            ("8 (812) 123-45-67", RU, "+78121234567"),
            ("+7 812 123 45 67", RU, "+78121234567"),
        ];
        for &(raw, region, want) in cases {
            assert_eq!(
                phone(raw, region).as_deref(),
                Ok(want),
                "{raw} in {region:?}"
            );
        }
    }

    #[test]
    fn phone_drops_extensions() {
        use phonenumber::country::Id::*;
        for raw in [
            "(415) 555-0132 x123",
            "415-555-0132x123",
            "415-555-0132 ext. 123",
            "415-555-0132 Ext 123",
            "415-555-0132 extension 123",
            "415-555-0132 #123",
            "415-555-0132;ext=123",
            "415-555-0132, ext. 9",
        ] {
            assert_eq!(phone(raw, US).as_deref(), Ok("+14155550132"), "{raw}");
        }
    }

    #[test]
    fn phone_reads_excel_floats_and_lost_plus() {
        use phonenumber::country::Id::*;
        assert_eq!(
            phone("4.47911123456E+11", GB).as_deref(),
            Ok("+447911123456")
        );
        assert_eq!(
            phone("4.47911123456e11", US).as_deref(),
            Ok("+447911123456")
        );
        assert_eq!(phone("447911123456.0", GB).as_deref(), Ok("+447911123456"));
        assert_eq!(phone("447911123456", GB).as_deref(), Ok("+447911123456"));
        // Excel also drops the trunk 0 of national numbers.
        assert_eq!(phone("7911123456", GB).as_deref(), Ok("+447911123456"));
        assert_eq!(phone("4915123456789", US).as_deref(), Ok("+4915123456789"));
        assert_eq!(phone("14155550132", GB).as_deref(), Ok("+14155550132"));
    }

    #[test]
    fn phone_uses_phonenumber_for_letters() {
        use phonenumber::country::Id::*;
        assert_eq!(phone("1-800-FLOWERS", US).as_deref(), Ok("+18003569377"));
        assert_eq!(
            phone("tel:+1-415-555-0132", GB).as_deref(),
            Ok("+14155550132")
        );
    }

    #[test]
    fn phone_rejects_with_codes() {
        use phonenumber::country::Id::*;
        // Ofcom's drama range: the metadata marks it as not a real number.
        assert_eq!(code_of(phone("+447700900123", GB)), "phone_invalid");
        assert_eq!(code_of(phone("+44 20 7946", GB)), "phone_invalid");
        assert_eq!(code_of(phone("(415) 555-013", US)), "phone_invalid");
        assert_eq!(code_of(phone("000 000 0000", US)), "phone_invalid");
        assert_eq!(code_of(phone("+999 1234 5678", US)), "phone_invalid");
        assert_eq!(code_of(phone("n/a", US)), "phone_syntax");
        assert_eq!(code_of(phone("call me", GB)), "phone_syntax");
        assert_eq!(code_of(phone("12", US)), "phone_syntax");
        assert_eq!(code_of(phone("()", US)), "phone_syntax");
        assert_eq!(code_of(phone("", US)), "phone_syntax");
        assert_eq!(
            phone("+44 20 7946", GB).unwrap_err().message,
            "`+44 20 7946` is not a valid phone number"
        );
    }

    /// Our parser must give phonenumber's answer wherever phonenumber finds a
    /// valid number, for every region's example numbers in every format.
    #[test]
    fn phone_agrees_with_phonenumber_on_metadata_examples() {
        use phonenumber::Mode;
        fn crate_only(text: &str, region: Option<Id>) -> Option<String> {
            let region = if text.starts_with('+') { None } else { region };
            let n = phonenumber::parse(region, text).ok()?;
            phonenumber::is_valid(&n).then(|| n.format().mode(Mode::E164).to_string())
        }
        let tables = phone_tables();
        let mut compared = 0;
        let (mut rescued, mut disagreements) = (Vec::new(), Vec::new());
        for region in &tables.regions {
            let d = region.meta.descriptors();
            let home: Option<Id> = region.meta.id().parse().ok();
            let kinds = [
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.voip(),
                d.uan(),
            ];
            for example in kinds.into_iter().flatten().filter_map(|k| k.example()) {
                let Ok(number) = phonenumber::parse(None, format!("+{} {example}", region.code))
                else {
                    continue;
                };
                let national = number.format().mode(Mode::National).to_string();
                let international = number.format().mode(Mode::International).to_string();
                let e164 = number.format().mode(Mode::E164).to_string();
                let mut forms = vec![(international.clone(), home.unwrap_or(Id::GB))];
                if let Some(home) = home {
                    forms.push((national.clone(), home));
                    forms.push((format!("00{}", &e164[1..]), home));
                    forms.push((e164[1..].to_string(), home));
                    // Corrupted versions must be rejected alike.
                    forms.push((format!("{national}7"), home));
                    forms.push((national[..national.len() - 1].to_string(), home));
                }
                forms.push((format!("{international}7"), Id::US));
                for (text, home) in forms {
                    let theirs = crate_only(&text, Some(home));
                    let ours = phone(&text, home).ok();
                    compared += 1;
                    match (&theirs, &ours) {
                        (Some(a), Some(b)) if a == b => {}
                        (None, None) => {}
                        // We read 00 as international in every region; the
                        // crate only reads the region's own prefix (810, 0011...).
                        (None, Some(_)) if text.starts_with("00") => {}
                        (None, Some(_)) => {
                            rescued.push(format!("{text} in {home:?}: ours {ours:?}"))
                        }
                        _ => disagreements.push(format!(
                            "{text} in {home:?}: phonenumber {theirs:?}, ours {ours:?}"
                        )),
                    }
                }
            }
        }
        assert!(compared > 5000, "only {compared} numbers compared");
        // Only the crate's misreadings of national numbers that start with
        // their calling code (RW "250 123 456", +7 "7001234567"), which it
        // strips as if they were an international number without '+'.
        assert!(
            rescued.len() <= 3,
            "{} accepted only by us:\n{}",
            rescued.len(),
            rescued.join("\n")
        );
        assert!(
            disagreements.is_empty(),
            "{} disagreements:\n{}",
            disagreements.len(),
            disagreements.join("\n")
        );
    }

    // ------------------------------------------------------------ country

    #[test]
    fn country_reads_codes() {
        let cases = [
            ("GB", "GB"),
            ("gb", "GB"),
            (" de ", "DE"),
            ("DEU", "DE"),
            ("usa", "US"),
            ("CHE", "CH"),
            ("826", "GB"),
            ("276", "DE"),
            ("76", "BR"),
            ("076", "BR"),
            ("4", "AF"),
            ("XK", "XK"),
        ];
        for (raw, want) in cases {
            assert_eq!(country(raw), Ok(want), "{raw}");
        }
    }

    #[test]
    fn country_reads_names_variants_and_local_names() {
        let cases = [
            ("United States", "US"),
            ("United States of America", "US"),
            ("U.S.A.", "US"),
            ("U.S.", "US"),
            ("UK", "GB"),
            ("u.k.", "GB"),
            ("United Kingdom", "GB"),
            ("United Kingdom of Great Britain and Northern Ireland", "GB"),
            ("Great Britain", "GB"),
            ("England", "GB"),
            ("SCOTLAND", "GB"),
            ("Wales", "GB"),
            ("Northern Ireland", "GB"),
            ("Deutschland", "DE"),
            ("España", "ES"),
            ("Espana", "ES"),
            ("Italia", "IT"),
            ("Nederland", "NL"),
            ("Holland", "NL"),
            ("The Netherlands", "NL"),
            ("Netherlands (Kingdom of the)", "NL"),
            ("Österreich", "AT"),
            ("Osterreich", "AT"),
            ("Schweiz", "CH"),
            ("Suisse", "CH"),
            ("Sverige", "SE"),
            ("Norge", "NO"),
            ("Danmark", "DK"),
            ("Polska", "PL"),
            ("Brasil", "BR"),
            ("México", "MX"),
            ("Mexico", "MX"),
            ("Türkiye", "TR"),
            ("Turkey", "TR"),
            ("Czechia", "CZ"),
            ("Czech Republic", "CZ"),
            ("South Korea", "KR"),
            ("Korea, Republic of", "KR"),
            ("Korea (Republic of)", "KR"),
            ("North Korea", "KP"),
            ("Russia", "RU"),
            ("Russian Federation", "RU"),
            ("Ivory Coast", "CI"),
            ("Côte d'Ivoire", "CI"),
            ("COTE D’IVOIRE", "CI"),
            ("UAE", "AE"),
            ("United Arab Emirates", "AE"),
            ("Viet Nam", "VN"),
            ("Vietnam", "VN"),
            ("Bolivia (Plurinational State of)", "BO"),
            ("Bolivia, Plurinational State of", "BO"),
            ("Virgin Islands (U.S.)", "VI"),
            ("Virgin Islands, British", "VG"),
            ("Curaçao", "CW"),
            ("Réunion", "RE"),
            ("Åland Islands", "AX"),
            ("Saint Barthélemy", "BL"),
            ("St. Lucia", "LC"),
            ("Guinea-Bissau", "GW"),
            ("Timor-Leste", "TL"),
            ("Democratic Republic of the Congo", "CD"),
            ("Republic of the Congo", "CG"),
            ("Congo", "CG"),
            ("Samoa", "WS"),
            ("American Samoa", "AS"),
            ("日本", "JP"),
            ("Россия", "RU"),
        ];
        for (raw, want) in cases {
            assert_eq!(country(raw), Ok(want), "{raw}");
        }
    }

    #[test]
    fn country_reads_official_names() {
        assert_eq!(country("Kingdom of Spain"), Ok("ES"));
        assert_eq!(country("Federal Republic of Germany"), Ok("DE"));
        assert_eq!(country("Republic of Albania"), Ok("AL"));
        assert_eq!(country("The Gambia"), Ok("GM"));
        assert_eq!(country("the Bahamas"), Ok("BS"));
        assert_eq!(country("Commonwealth of Australia"), Ok("AU"));
        assert_eq!(country("Hellenic Republic"), Ok("GR"));
        assert_eq!(country("Swiss Confederation"), Ok("CH"));
        assert_eq!(country("People's Republic of China"), Ok("CN"));
        assert_eq!(country("Democratic People's Republic of Korea"), Ok("KP"));
    }

    #[test]
    fn country_rejects_unknowns() {
        let e = country("Narnia").unwrap_err();
        assert_eq!(e.code, "country_unknown");
        assert_eq!(e.message, "`Narnia` is not a country we know");
        for raw in [
            "",
            "   ",
            "ZZ",
            "ABC",
            "999",
            "0",
            "1234",
            "U",
            "-",
            "Republic of",
            "United",
            "x".repeat(200).as_str(),
        ] {
            assert_eq!(code_of(country(raw)), "country_unknown", "{raw}");
        }
    }

    #[test]
    fn country_table_is_complete_and_consistent() {
        assert_eq!(ISO_COUNTRIES.len(), 249);
        let mut alpha2: Vec<_> = ISO_COUNTRIES.iter().map(|c| c.0).collect();
        alpha2.sort_unstable();
        alpha2.dedup();
        assert_eq!(alpha2.len(), 249);
        let mut numeric: Vec<_> = ISO_COUNTRIES.iter().map(|c| c.2).collect();
        numeric.sort_unstable();
        numeric.dedup();
        assert_eq!(numeric.len(), 249);
        for &(a2, a3, num, name) in ISO_COUNTRIES {
            assert_eq!(country(a2), Ok(a2));
            assert_eq!(country(a3), Ok(a2), "{a3}");
            assert_eq!(country(&format!("{num:03}")), Ok(a2), "{num}");
            assert_eq!(country(name), Ok(a2), "{name}");
        }
        // No alias is hidden by a code or another country's name.
        for &(alias, a2) in COUNTRY_ALIASES {
            assert_eq!(country(alias), Ok(a2), "{alias}");
        }
    }

    // -------------------------------------------------------------- dates

    #[test]
    fn date_evidence_classifies_numeric_dates() {
        use DateEvidence::*;
        assert_eq!(date_evidence("25/03/2024"), DayFirst);
        assert_eq!(date_evidence("03/25/2024"), MonthFirst);
        assert_eq!(date_evidence("03/05/2024"), Ambiguous);
        assert_eq!(date_evidence("12.12.24"), Ambiguous);
        assert_eq!(date_evidence("31-01-2024"), DayFirst);
        assert_eq!(date_evidence("1/31/2024 2:23 PM"), MonthFirst);
        assert_eq!(date_evidence(" 13.5.2024 14:00 "), DayFirst);
        assert_eq!(date_evidence("2024-03-05"), NotNumericDate);
        assert_eq!(date_evidence("Mar 5, 2024"), NotNumericDate);
        assert_eq!(date_evidence("05-Mar-2024"), NotNumericDate);
        assert_eq!(date_evidence("45356"), NotNumericDate);
        assert_eq!(date_evidence("13/13/2024"), NotNumericDate);
        assert_eq!(date_evidence("0/5/2024"), NotNumericDate);
        assert_eq!(date_evidence("3/5/2024x"), NotNumericDate);
        assert_eq!(date_evidence(""), NotNumericDate);
    }

    #[test]
    fn datetime_reads_iso_8601() {
        use DateOrder::*;
        assert_eq!(datetime("2024-03-05", MonthFirst).unwrap(), ymd(2024, 3, 5));
        assert_eq!(iso("2024-03-05T14:23:11", DayFirst), "2024-03-05T14:23:11Z");
        assert_eq!(
            iso("2024-03-05T14:23:11Z", DayFirst),
            "2024-03-05T14:23:11Z"
        );
        assert_eq!(
            iso("2024-03-05T14:23:11+02:00", DayFirst),
            "2024-03-05T12:23:11Z"
        );
        assert_eq!(
            iso("2024-03-05T14:23:11+0200", DayFirst),
            "2024-03-05T12:23:11Z"
        );
        assert_eq!(
            iso("2024-03-05T14:23:11-05", DayFirst),
            "2024-03-05T19:23:11Z"
        );
        assert_eq!(
            iso("2024-03-05T14:23:11.123Z", DayFirst),
            "2024-03-05T14:23:11.123Z"
        );
        assert_eq!(
            iso("2024-03-05T14:23:11.000+0000", DayFirst),
            "2024-03-05T14:23:11Z"
        );
        assert_eq!(
            iso("2024-03-05 14:23:11.123456", DayFirst),
            "2024-03-05T14:23:11.123456Z"
        );
        assert_eq!(iso("2024-03-05 14:23", DayFirst), "2024-03-05T14:23:00Z");
        assert_eq!(
            iso("2024-03-05 14:23:11 UTC", DayFirst),
            "2024-03-05T14:23:11Z"
        );
        assert_eq!(
            iso("2024-03-05 23:30:00+00:00", DayFirst),
            "2024-03-05T23:30:00Z"
        );
        // Offsets move the date too.
        assert_eq!(
            iso("2024-03-05T01:00:00+02:00", DayFirst),
            "2024-03-04T23:00:00Z"
        );
        assert_eq!(iso("2024/03/05", DayFirst), "2024-03-05");
        assert_eq!(iso("2024-3-5", DayFirst), "2024-03-05");
        assert_eq!(iso("20240305", DayFirst), "2024-03-05");
    }

    #[test]
    fn country_numeric_codes_are_digits_only() {
        assert_eq!(country("012"), Ok("DZ"));
        assert_eq!(country("=1+2").unwrap_err().code, "country_unknown");
        assert_eq!(country("1-2").unwrap_err().code, "country_unknown");
    }

    #[test]
    fn datetime_reads_shopify_and_platform_formats() {
        use DateOrder::*;
        assert_eq!(
            iso("2024-03-05 14:23:11 -0500", DayFirst),
            "2024-03-05T19:23:11Z"
        );
        assert_eq!(
            iso("2024-03-05 14:23:11 +0100", MonthFirst),
            "2024-03-05T13:23:11Z"
        );
        assert_eq!(
            iso("Tue, 05 Mar 2024 14:23:11 +0000", DayFirst),
            "2024-03-05T14:23:11Z"
        );
        assert_eq!(
            iso(
                "Tue Mar 05 2024 14:23:11 GMT+0100 (Central European Standard Time)",
                DayFirst
            ),
            "2024-03-05T13:23:11Z"
        );
        assert_eq!(
            iso("2024-03-05T14:23:11 UTC+2", DayFirst),
            "2024-03-05T12:23:11Z"
        );
    }

    #[test]
    fn datetime_reads_numeric_dates_by_order() {
        use DateOrder::*;
        assert_eq!(iso("03/05/2024", MonthFirst), "2024-03-05");
        assert_eq!(iso("03/05/2024", DayFirst), "2024-05-03");
        assert_eq!(iso("3/5/2024", MonthFirst), "2024-03-05");
        assert_eq!(iso("05.03.2024", DayFirst), "2024-03-05");
        assert_eq!(iso("05-03-2024", DayFirst), "2024-03-05");
        assert_eq!(iso("03/05/24", MonthFirst), "2024-03-05");
        assert_eq!(iso("03/05/69", MonthFirst), "2069-03-05");
        assert_eq!(iso("03/05/70", MonthFirst), "1970-03-05");
        assert_eq!(iso("12/31/99", MonthFirst), "1999-12-31");
        assert_eq!(iso("1/1/00", MonthFirst), "2000-01-01");
        assert_eq!(iso("03/05/2024 14:23", MonthFirst), "2024-03-05T14:23:00Z");
        assert_eq!(
            iso("03/05/2024 14:23:11", MonthFirst),
            "2024-03-05T14:23:11Z"
        );
        assert_eq!(iso("3/5/2024 2:23 PM", MonthFirst), "2024-03-05T14:23:00Z");
        assert_eq!(
            iso("3/5/2024 2:23:11 pm", MonthFirst),
            "2024-03-05T14:23:11Z"
        );
        assert_eq!(iso("3/5/2024 12:05 AM", MonthFirst), "2024-03-05T00:05:00Z");
        assert_eq!(
            iso("3/5/2024 12:05 p.m.", MonthFirst),
            "2024-03-05T12:05:00Z"
        );
        assert_eq!(iso("05.03.2024 14:23", DayFirst), "2024-03-05T14:23:00Z");
        assert_eq!(iso("5/3/2024, 9 am", DayFirst), "2024-03-05T09:00:00Z");
    }

    #[test]
    fn datetime_reads_text_months() {
        use DateOrder::*;
        for raw in [
            "Mar 5, 2024",
            "March 5, 2024",
            "March 5 2024",
            "Mar. 5, 2024",
            "march 5th, 2024",
            "5 March 2024",
            "5th March 2024",
            "05 Mar 2024",
            "05-Mar-2024",
            "5-mar-24",
            "05-MAR-2024",
            "Tuesday, March 5, 2024",
            "5. März 2024",
            "5 mars 2024",
            "Sept 5, 2024",
        ] {
            let want = if raw.starts_with("Sept") {
                ymd(2024, 9, 5)
            } else {
                ymd(2024, 3, 5)
            };
            assert_eq!(datetime(raw, MonthFirst).ok(), Some(want), "{raw}");
            assert_eq!(datetime(raw, DayFirst).ok(), Some(want), "{raw}");
        }
        assert_eq!(
            iso("Mar 5, 2024 2:23 PM", MonthFirst),
            "2024-03-05T14:23:00Z"
        );
        assert_eq!(
            iso("March 5, 2024 at 2:23 pm", MonthFirst),
            "2024-03-05T14:23:00Z"
        );
        assert_eq!(
            iso("5 March 2024 14:23:11", MonthFirst),
            "2024-03-05T14:23:11Z"
        );
    }

    #[test]
    fn datetime_reads_excel_serials() {
        use DateOrder::*;
        assert_eq!(datetime("45356", DayFirst).unwrap(), ymd(2024, 3, 5));
        assert_eq!(datetime("45356.0", DayFirst).unwrap(), ymd(2024, 3, 5));
        assert_eq!(iso("45356.5", DayFirst), "2024-03-05T12:00:00Z");
        assert_eq!(iso("45356.75", DayFirst), "2024-03-05T18:00:00Z");
        assert_eq!(iso("45356.999999", DayFirst), "2024-03-06T00:00:00Z");
        assert_eq!(datetime("20000", DayFirst).unwrap(), ymd(1954, 10, 3));
        assert_eq!(datetime("80000", DayFirst).unwrap(), ymd(2119, 1, 11));
        assert_eq!(code_of(datetime("19999", DayFirst)), "date_syntax");
        assert_eq!(code_of(datetime("80001", DayFirst)), "date_syntax");
        // The 1900 leap-year bug, below the range datetime accepts.
        assert_eq!(excel_date(1), NaiveDate::from_ymd_opt(1900, 1, 1));
        assert_eq!(excel_date(59), NaiveDate::from_ymd_opt(1900, 2, 28));
        assert_eq!(excel_date(60), None);
        assert_eq!(excel_date(61), NaiveDate::from_ymd_opt(1900, 3, 1));
        assert_eq!(excel_date(45356), NaiveDate::from_ymd_opt(2024, 3, 5));
    }

    #[test]
    fn datetime_reads_unix_epochs_by_magnitude() {
        use DateOrder::*;
        assert_eq!(iso("1709666591", DayFirst), "2024-03-05T19:23:11Z");
        assert_eq!(iso("1709666591.5", DayFirst), "2024-03-05T19:23:11.500Z");
        assert_eq!(iso("999999999", DayFirst), "2001-09-09T01:46:39Z");
        assert_eq!(iso("1709666591123", DayFirst), "2024-03-05T19:23:11.123Z");
        assert_eq!(iso("1709666591000", DayFirst), "2024-03-05T19:23:11Z");
        assert_eq!(
            iso("1709666591123456", DayFirst),
            "2024-03-05T19:23:11.123456Z"
        );
        assert_eq!(
            iso("1709666591123456789", DayFirst),
            "2024-03-05T19:23:11.123456789Z"
        );
        assert_eq!(code_of(datetime("17096665911", DayFirst)), "date_syntax");
        assert_eq!(code_of(datetime("12345678901234", DayFirst)), "date_syntax");
    }

    #[test]
    fn datetime_rejects_impossible_and_unknown() {
        use DateOrder::*;
        let invalid =
            |raw: &str, order| assert_eq!(code_of(datetime(raw, order)), "date_invalid", "{raw}");
        invalid("31/02/2024", DayFirst);
        invalid("02/31/2024", MonthFirst);
        invalid("29/02/2023", DayFirst);
        invalid("13/05/2024", MonthFirst);
        invalid("2024-13-01", DayFirst);
        invalid("2024-02-30", DayFirst);
        invalid("2024-03-05T25:00:00", DayFirst);
        invalid("2024-03-05 14:61", DayFirst);
        invalid("3/5/2024 13:00 PM", MonthFirst);
        invalid("1899-12-31", DayFirst);
        invalid("2201-01-01", DayFirst);
        invalid("20240231", DayFirst);
        assert_eq!(datetime("29/02/2024", DayFirst).unwrap(), ymd(2024, 2, 29));
        let syntax =
            |raw: &str| assert_eq!(code_of(datetime(raw, DayFirst)), "date_syntax", "{raw}");
        syntax("yesterday");
        syntax("2024");
        syntax("2024-03");
        syntax("03/05");
        syntax("2024-03-05T");
        syntax("2024-03-05 14");
        syntax("2024-03-05 14:23 EST");
        syntax("Smarch 5, 2024");
        syntax("5/3/202");
        syntax("12345");
        syntax("");
        assert_eq!(
            datetime("31/02/2024", DayFirst).unwrap_err().message,
            "`31/02/2024` is not a possible date or time"
        );
    }

    #[test]
    fn timestamp_date_and_iso() {
        let t = datetime("2024-03-05T23:30:00-02:00", DateOrder::DayFirst).unwrap();
        assert_eq!(t.to_iso(), "2024-03-06T01:30:00Z");
        assert_eq!(t.date(), NaiveDate::from_ymd_opt(2024, 3, 6).unwrap());
        assert_eq!(
            ymd(2024, 3, 5).date(),
            NaiveDate::from_ymd_opt(2024, 3, 5).unwrap()
        );
        assert_eq!(ymd(1999, 1, 2).to_iso(), "1999-01-02");
    }

    // -------------------------------------------------------------- money

    #[test]
    fn money_reads_separators_and_signs() {
        assert_eq!(amount("$1,234.50"), (123450, Some("USD")));
        assert_eq!(amount("1.234,50 €"), (123450, Some("EUR")));
        assert_eq!(amount("1 234,50 €"), (123450, Some("EUR")));
        assert_eq!(amount("1\u{a0}234,50\u{a0}€"), (123450, Some("EUR")));
        assert_eq!(amount("1\u{202f}234,50 €"), (123450, Some("EUR")));
        assert_eq!(amount("1'234.50"), (123450, None));
        assert_eq!(amount("CHF 1’234.50"), (123450, Some("CHF")));
        assert_eq!(amount("1,234,567.89"), (123456789, None));
        assert_eq!(amount("1.234.567"), (123456700, None));
        assert_eq!(amount("1,23,456.00"), (12345600, None));
        assert_eq!(amount("(12.00)"), (-1200, None));
        assert_eq!(amount("($12.00)"), (-1200, Some("USD")));
        assert_eq!(amount("-12.00"), (-1200, None));
        assert_eq!(amount("12.00-"), (-1200, None));
        assert_eq!(amount("−12.00"), (-1200, None));
        assert_eq!(amount("-$12"), (-1200, Some("USD")));
        assert_eq!(amount("$-12"), (-1200, Some("USD")));
        assert_eq!(amount("+12"), (1200, None));
    }

    #[test]
    fn money_reads_currencies() {
        assert_eq!(amount("USD 12.00"), (1200, Some("USD")));
        assert_eq!(amount("12.00 EUR"), (1200, Some("EUR")));
        assert_eq!(amount("12.00 eur"), (1200, Some("EUR")));
        assert_eq!(amount("€12"), (1200, Some("EUR")));
        assert_eq!(amount("£0.99"), (99, Some("GBP")));
        assert_eq!(amount("¥1200"), (1200, Some("JPY")));
        assert_eq!(amount("JPY 1,200"), (1200, Some("JPY")));
        assert_eq!(amount("KWD 1.234"), (1234, Some("KWD")));
        assert_eq!(amount("US$5"), (500, Some("USD")));
        assert_eq!(amount("R$ 10,50"), (1050, Some("BRL")));
        assert_eq!(amount("10,50 zł"), (1050, Some("PLN")));
        assert_eq!(amount("$12 CAD"), (1200, Some("CAD")));
        assert_eq!(amount("12,- €"), (1200, Some("EUR")));
        assert_eq!(amount("100 kr"), (10000, None));
        assert_eq!(amount("USD12"), (1200, Some("USD")));
    }

    #[test]
    fn money_reads_plain_and_scientific_numbers() {
        assert_eq!(amount("1,234"), (123400, None));
        assert_eq!(amount("1,5"), (150, None));
        assert_eq!(amount("1,50"), (150, None));
        assert_eq!(amount("0,125"), (13, None));
        assert_eq!(amount("1 234,500"), (123450, None));
        assert_eq!(amount("12.5"), (1250, None));
        assert_eq!(amount("12"), (1200, None));
        assert_eq!(amount(".99"), (99, None));
        assert_eq!(amount("$.99"), (99, Some("USD")));
        assert_eq!(amount("12."), (1200, None));
        assert_eq!(amount("1.2345E+03"), (123450, None));
        assert_eq!(amount("1.5E+2"), (15000, None));
        assert_eq!(amount("5E-1"), (50, None));
        assert_eq!(amount("1.23456789E+05"), (12345679, None));
    }

    #[test]
    fn money_rounds_half_away_from_zero() {
        assert_eq!(amount("0.995"), (100, None));
        assert_eq!(amount("0.994"), (99, None));
        assert_eq!(amount("-0.995"), (-100, None));
        assert_eq!(amount("0.125"), (13, None));
        assert_eq!(amount("¥1200.5"), (1201, Some("JPY")));
        assert_eq!(amount("BHD 1.2345"), (1235, Some("BHD")));
    }

    #[test]
    fn money_rejects_with_codes() {
        assert_eq!(code_of(money("abc")), "money_syntax");
        assert_eq!(code_of(money("")), "money_syntax");
        assert_eq!(code_of(money("12%")), "money_syntax");
        assert_eq!(code_of(money("12 34")), "money_syntax");
        assert_eq!(code_of(money("1.2.3,4,5")), "money_syntax");
        assert_eq!(code_of(money("(12.00")), "money_syntax");
        assert_eq!(code_of(money("--12")), "money_syntax");
        assert_eq!(code_of(money("12 USD EUR")), "money_syntax");
        assert_eq!(code_of(money("1-2")), "money_syntax");
        assert_eq!(code_of(money("12 abc")), "money_syntax");
        assert_eq!(
            money("12 XYZ").unwrap_err().message,
            "`12 XYZ` has `XYZ`, which is not a currency we know"
        );
        assert_eq!(code_of(money("99999999999999999.99")), "money_overflow");
        assert_eq!(code_of(money("1E+30")), "money_overflow");
        assert_eq!(
            code_of(money("1234567890123456789012345678901234567890")),
            "money_overflow"
        );
        assert_eq!(amount("92233720368547758.07"), (i64::MAX, None));
    }

    #[test]
    fn currency_codes_and_exponents() {
        assert_eq!(currency_code("usd"), Some("USD"));
        assert_eq!(currency_code(" EUR "), Some("EUR"));
        assert_eq!(currency_code("€"), Some("EUR"));
        assert_eq!(currency_code("US$"), Some("USD"));
        assert_eq!(currency_code("$"), Some("USD"));
        assert_eq!(currency_code("£"), Some("GBP"));
        assert_eq!(currency_code("¥"), Some("JPY"));
        assert_eq!(currency_code("R$"), Some("BRL"));
        assert_eq!(currency_code("chf"), Some("CHF"));
        assert_eq!(currency_code("kr"), None);
        assert_eq!(currency_code("XYZ"), None);
        assert_eq!(currency_code(""), None);
        assert_eq!(minor_unit_exponent("USD"), 2);
        assert_eq!(minor_unit_exponent("eur"), 2);
        for zero in ["JPY", "KRW", "ISK", "CLP", "VND"] {
            assert_eq!(minor_unit_exponent(zero), 0, "{zero}");
        }
        for three in ["BHD", "KWD", "OMR", "JOD", "TND"] {
            assert_eq!(minor_unit_exponent(three), 3, "{three}");
        }
        assert_eq!(minor_unit_exponent("CLF"), 4);
        assert_eq!(minor_unit_exponent("???"), 2);
        assert!(
            ISO_CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0),
            "ISO_CURRENCIES must stay sorted"
        );
    }

    #[test]
    fn rescale_rounds_half_away_from_zero() {
        assert_eq!(rescale(1234, 2, 2), 1234);
        assert_eq!(rescale(1234, 2, 3), 12340);
        assert_eq!(rescale(1250, 2, 0), 13);
        assert_eq!(rescale(1249, 2, 0), 12);
        assert_eq!(rescale(-1250, 2, 0), -13);
        assert_eq!(rescale(-1249, 2, 0), -12);
        assert_eq!(rescale(5, 3, 2), 1);
        assert_eq!(rescale(1200, 0, 2), 120000);
        assert_eq!(rescale(i64::MAX, 0, 2), i64::MAX);
        assert_eq!(rescale(i64::MIN, 0, 2), i64::MIN);
        assert_eq!(rescale(7, 0, 60), i64::MAX);
        assert_eq!(rescale(7, 60, 0), 0);
    }

    // ------------------------------------------------ booleans and friends

    #[test]
    fn boolean_words() {
        for t in ["yes", "Y", "TRUE", "t", "1", "on", "x", "X", " Yes ", "1.0"] {
            assert_eq!(boolean(t), Ok(true), "{t}");
        }
        for f in ["no", "N", "false", "F", "0", "OFF", "0.0"] {
            assert_eq!(boolean(f), Ok(false), "{f}");
        }
        for bad in ["", "maybe", "2", "yes please", "opted in", "-1"] {
            assert_eq!(code_of(boolean(bad)), "boolean_syntax", "{bad}");
        }
        assert_eq!(
            boolean("maybe").unwrap_err().message,
            "`maybe` is not yes or no"
        );
    }

    #[test]
    fn consent_statuses() {
        use Consent::*;
        let cases = [
            ("yes", Granted),
            ("TRUE", Granted),
            ("1", Granted),
            ("subscribed", Granted),
            ("Subscribed", Granted),
            ("opted in", Granted),
            ("Opted-In", Granted),
            ("opt_in", Granted),
            ("no", Denied),
            ("false", Denied),
            ("unsubscribed", Denied),
            ("Not subscribed", Denied),
            ("not_subscribed", Denied),
            ("cleaned", Denied),
            ("opted out", Denied),
            ("redacted", Denied),
            ("never subscribed", Unknown),
            ("pending", Unknown),
            ("transactional", Unknown),
            ("", Unknown),
            ("   ", Unknown),
        ];
        for (raw, want) in cases {
            assert_eq!(consent(raw), Ok(want), "{raw}");
        }
        assert_eq!(code_of(consent("maybe later")), "consent_syntax");
        assert_eq!(code_of(consent("-")), "consent_syntax");
        assert_eq!(Granted.as_str(), "granted");
        assert_eq!(Denied.as_str(), "denied");
        assert_eq!(Unknown.as_str(), "unknown");
    }

    #[test]
    fn gender_words() {
        let cases = [
            ("F", "female"),
            ("female", "female"),
            ("Woman", "female"),
            ("w", "female"),
            ("Frau", "female"),
            ("Mrs.", "female"),
            ("Ms", "female"),
            ("Mme", "female"),
            ("M", "male"),
            ("MALE", "male"),
            ("man", "male"),
            ("Herr", "male"),
            ("Mr.", "male"),
            ("männlich", "male"),
            ("non-binary", "other"),
            ("Non Binary", "other"),
            ("x", "other"),
            ("other", "other"),
            ("divers", "other"),
        ];
        for (raw, want) in cases {
            assert_eq!(gender(raw), Ok(want), "{raw}");
        }
        for bad in ["", "unknown", "prefer not to say", "U", "42"] {
            assert_eq!(code_of(gender(bad)), "gender_unknown", "{bad}");
        }
    }

    #[test]
    fn excel_guard_strip_removes_one_quote() {
        assert_eq!(excel_guard_strip("'0123"), "0123");
        assert_eq!(excel_guard_strip("'+44 20 7946 0958"), "+44 20 7946 0958");
        assert_eq!(excel_guard_strip("''x"), "'x");
        assert_eq!(excel_guard_strip(" '123"), "123");
        assert_eq!(excel_guard_strip("123"), "123");
        assert_eq!(excel_guard_strip("O'Brien"), "O'Brien");
        assert_eq!(excel_guard_strip(""), "");
        assert_eq!(excel_guard_strip("'"), "");
    }

    #[test]
    fn key_folding() {
        let key = |s: &str| {
            let mut k = KeyBuf::new();
            assert!(k.push_folded(s));
            k.as_str().to_string()
        };
        assert_eq!(key("Côte d'Ivoire"), "cotedivoire");
        assert_eq!(key("ÖSTERREICH"), "osterreich");
        assert_eq!(key("Straße"), "strasse");
        assert_eq!(key("Łódź"), "lodz");
        assert_eq!(key("U.S.A."), "usa");
        assert_eq!(key("Россия"), "россия");
        let mut k = KeyBuf::new();
        assert!(!k.push_folded(&"a".repeat(65)));
    }
}
