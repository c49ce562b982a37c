//! Campaign results: what the people a campaign was sent to did afterwards,
//! measured against the holdout, who were sent nothing.
//!
//! Results come from two sources, kept side by side in `campaign_results`
//! (one row per campaign, source and profile):
//! - `email_tool`: the email tool's per-recipient report, imported with
//!   [`import_results`]: delivered, opened, clicked and, when the tool
//!   tracks them, converted and revenue. Only recipients have these.
//! - `orders`: conversions and revenue from the orders in the workspace,
//!   computed with [`results_from_orders`]: a person converted when they
//!   placed at least one counting order within `window_days` of the send
//!   (their own `campaign_sends.sent_at`; for the holdout, the time of the
//!   campaign's first export). Rows are stored for people who converted;
//!   everyone else in the campaign counts as 0.
//!
//! [`report`] compares the variants with each other on the tool's figures
//! (opens, clicks, the tool's conversions) and on orders, and every group
//! of recipients with the holdout on orders only: the holdout has no email
//! results, and comparing a tool's click-attributed conversions with
//! orders would compare two different measurements. One variant (or none:
//! a campaign without a template) is reported as "All recipients"; with
//! several, the first (by name) is the baseline the others are compared
//! with, and "All recipients" is their sum.
//!
//! Rates are per recipient (the people the export sent the campaign to),
//! not per delivered email: one denominator for every metric and group
//! keeps the groups as comparable as the random split made them (a variant
//! that bounces more is not flattered). Tools that divide by delivered
//! emails show slightly higher rates.
//!
//! Orders count as everywhere else (see `segments::compile`): cancelled
//! orders (`cancelled_at` set, or financial status voided/cancelled) and
//! orders without a time are left out; an order's money is `total −
//! max(refunded, 0)`; an order in another currency than the workspace's
//! counts as a conversion but adds no revenue. A person is followed
//! through the profile id they had when the campaign was sent.
//!
//! The statistics are in [`super::stats`].
//!
//! **Invariant:** an import or a computation is one transaction that
//! replaces the previous results of the same source for the campaign; a
//! file that cannot be read changes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::stats::{self, Rate, Sample};
use crate::charts::{Bar, BarChart, BarColors, ChartOptions, ChartSpec, Unit};
use crate::ingest::standardise::{self, DateOrder};
use crate::ingest::{sniff, ImportError, ImportErrorKind};
use crate::traits::scan::epoch_seconds;
use crate::traits::NamedChart;

/// Attribution window for conversions from orders, unless chosen.
pub const DEFAULT_WINDOW_DAYS: u32 = 14;
/// The longest attribution window accepted.
pub const MAX_WINDOW_DAYS: u32 = 365;
/// Confidence level of intervals and tests, unless chosen.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;
/// Seed of the revenue bootstrap, unless chosen: the same report every time.
pub const DEFAULT_SEED: u64 = 20_240_601;
/// How many unknown, not-sent and rejected rows an import lists (all are
/// counted).
pub const LISTED_PROBLEMS: usize = 50;

/// The name of the group of people held back.
pub const HOLDOUT: &str = "Holdout";
/// The name of the group of everyone sent the campaign.
pub const ALL_RECIPIENTS: &str = "All recipients";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResultsError {
    #[error("there is no campaign with id {0}")]
    NotFound(i64),
    #[error("campaign “{0}” has not been exported yet, so nobody was sent it: there are no results to measure")]
    NotExported(String),
    #[error("campaign “{0}” was exported before Cohort recorded who was sent what; export it again to measure its results")]
    NoRecipients(String),
    /// The file could not be read (missing, empty, not CSV, broken at a row).
    #[error(transparent)]
    File(#[from] ImportError),
    #[error("{path}: no recipient column (looked for {looked_for}); the columns are: {header}; nothing was imported")]
    NoRecipientColumn {
        path: String,
        looked_for: String,
        header: String,
    },
    #[error("{path}: no results column (looked for delivered, bounced, opened, clicked, converted or revenue under their usual names); the columns are: {header}; nothing was imported")]
    NoResultColumns { path: String, header: String },
    #[error("{path}: none of the {rows} rows is a recipient of campaign “{campaign}” ({unknown} unknown, {not_sent} not sent it, {rejected} with bad values); is it the right file? Nothing was imported")]
    NothingMatched {
        path: String,
        campaign: String,
        rows: u64,
        unknown: u64,
        not_sent: u64,
        rejected: u64,
    },
    #[error("the attribution window must be 1 to {MAX_WINDOW_DAYS} days, not {0}")]
    Window(u32),
    #[error("the confidence level must be between 0.5 and 0.999 (e.g. 0.95 for 95%), not {0}")]
    Confidence(f64),
    #[error("could not {context}: {source}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
}

impl ResultsError {
    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ResultsError::NotFound(_) => "not_found",
            ResultsError::NotExported(_) => "not_exported",
            ResultsError::NoRecipients(_) => "no_recipients",
            ResultsError::File(e) => e.code(),
            ResultsError::NoRecipientColumn { .. } => "no_recipient_column",
            ResultsError::NoResultColumns { .. } => "no_results_columns",
            ResultsError::NothingMatched { .. } => "nothing_matched",
            ResultsError::Window(_) | ResultsError::Confidence(_) => "invalid",
            ResultsError::Sql { .. } => "store",
        }
    }
}

pub type Result<T, E = ResultsError> = std::result::Result<T, E>;

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> ResultsError {
    move |source| ResultsError::Sql { context, source }
}

/// The campaign readers this module uses fail only in SQL.
fn from_campaign(e: super::CampaignError) -> ResultsError {
    match e {
        super::CampaignError::Sql { context, source } => ResultsError::Sql { context, source },
        super::CampaignError::NotFound(id) => ResultsError::NotFound(id),
        other => ResultsError::Sql {
            context: "read the campaign",
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(other)),
        },
    }
}

/// Where results came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "ResultSource")]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The email tool's report of each recipient.
    EmailTool,
    /// Orders placed within the attribution window after the send.
    Orders,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::EmailTool => "email_tool",
            Source::Orders => "orders",
        }
    }
}

/// What a rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "ResultMetric")]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Open,
    Click,
    Conversion,
}

impl Metric {
    fn noun(self) -> &'static str {
        match self {
            Metric::Open => "open rate",
            Metric::Click => "click rate",
            Metric::Conversion => "conversion",
        }
    }
}

// ---------------------------------------------------------------------------
// Importing the email tool's results
// ---------------------------------------------------------------------------

/// A row of a results file that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RowProblem {
    /// The row as a spreadsheet numbers it (the header is row 1).
    pub row: u64,
    /// The column's header.
    pub column: String,
    /// The cell as written (cut at 100 characters).
    pub value: String,
    pub reason: String,
}

/// What [`import_results`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ResultsImport {
    pub campaign_id: i64,
    pub file: String,
    /// The columns read, by what they hold (`recipient`, `delivered`,
    /// `bounced`, `opened`, `clicked`, `converted`, `revenue`) → header.
    pub columns: BTreeMap<String, String>,
    /// Data rows read.
    pub rows: u64,
    /// Rows stored as a recipient's results.
    pub matched: u64,
    /// Recipients with results (rows repeating a recipient are combined:
    /// yes wins, revenue adds up).
    pub recipients: u64,
    /// Recipients of the campaign with no row in the file (they count as
    /// nothing delivered, opened, clicked or converted).
    pub recipients_without_results: u64,
    /// Rows whose email or phone belongs to no profile.
    pub unknown_recipients: u64,
    /// Rows of people who were not sent the campaign (not in its exports,
    /// or in its holdout).
    pub not_sent: u64,
    /// Rows with a value that cannot be read.
    pub rejected_rows: u64,
    /// The first [`LISTED_PROBLEMS`] unknown recipients.
    pub unknown: Vec<RowProblem>,
    /// The first [`LISTED_PROBLEMS`] rows of people not sent the campaign.
    pub not_sent_rows: Vec<RowProblem>,
    /// The first [`LISTED_PROBLEMS`] bad values (one per cell).
    pub rejected: Vec<RowProblem>,
    /// Email-tool results of the campaign that this import replaced.
    pub replaced: u64,
}

/// What a column of a results file can hold, with the headers it goes by
/// (folded: lowercase letters and digits only), most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Email,
    Phone,
    Delivered,
    Bounced,
    Opened,
    Clicked,
    Converted,
    Revenue,
}

impl Column {
    const ALL: [Column; 8] = [
        Column::Email,
        Column::Phone,
        Column::Delivered,
        Column::Bounced,
        Column::Opened,
        Column::Clicked,
        Column::Converted,
        Column::Revenue,
    ];

    fn key(self) -> &'static str {
        match self {
            Column::Email | Column::Phone => "recipient",
            Column::Delivered => "delivered",
            Column::Bounced => "bounced",
            Column::Opened => "opened",
            Column::Clicked => "clicked",
            Column::Converted => "converted",
            Column::Revenue => "revenue",
        }
    }

    /// Headers, folded. Mailchimp: "Email Address", "Opens", "Clicks";
    /// Klaviyo: "Email", "Received", "Opened", "Clicked", "Placed Order",
    /// "Revenue"; generic: recipient, delivered, opened, clicked,
    /// converted, revenue.
    fn headers(self) -> &'static [&'static str] {
        match self {
            Column::Email => &[
                "email",
                "emailaddress",
                "recipient",
                "recipientemail",
                "recipientemailaddress",
                "subscriberemail",
                "subscriber",
                "contactemail",
                "to",
            ],
            Column::Phone => &[
                "phone",
                "phonenumber",
                "mobile",
                "mobilenumber",
                "mobilephone",
                "recipientphone",
                "smsnumber",
            ],
            Column::Delivered => &["delivered", "received", "isdelivered", "wasdelivered"],
            Column::Bounced => &["bounced", "bounce", "bounces", "hardbounce"],
            Column::Opened => &[
                "opened",
                "opens",
                "open",
                "uniqueopens",
                "totalopens",
                "opencount",
                "emailopened",
            ],
            Column::Clicked => &[
                "clicked",
                "clicks",
                "click",
                "uniqueclicks",
                "totalclicks",
                "clickcount",
                "emailclicked",
            ],
            Column::Converted => &[
                "converted",
                "conversion",
                "conversions",
                "placedorder",
                "placedorders",
                "ordered",
                "orders",
                "purchased",
                "purchase",
                "purchases",
            ],
            Column::Revenue => &[
                "revenue",
                "placedordervalue",
                "ordervalue",
                "conversionvalue",
                "attributedrevenue",
                "revenueattributed",
                "sales",
            ],
        }
    }
}

/// A header folded for matching: lowercase letters and digits only
/// ("E-mail Address" → "emailaddress").
fn fold(h: &str) -> String {
    h.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Which column (index) holds what, by the headers' usual names.
fn find_columns(header: &[String]) -> HashMap<usize, Column> {
    let folded: Vec<String> = header.iter().map(|h| fold(h)).collect();
    let mut found = HashMap::new();
    let mut taken = HashSet::new();
    for column in Column::ALL {
        for name in column.headers() {
            if let Some(i) = folded.iter().position(|h| h == name) {
                if taken.insert(i) {
                    found.insert(i, column);
                }
                break;
            }
        }
    }
    found
}

/// A yes/no result cell: yes/no words and 1/0, a count (more than 0 is
/// yes), or a date and time (when it happened). Empty is no.
fn flag(raw: &str) -> std::result::Result<bool, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(false);
    }
    if let Ok(b) = standardise::boolean(t) {
        return Ok(b);
    }
    let number: String = t.chars().filter(|c| *c != ',' && *c != '_').collect();
    if let Ok(n) = number.parse::<f64>() {
        if n.is_finite() && n >= 0.0 {
            return Ok(n > 0.0);
        }
    }
    if standardise::datetime(t, DateOrder::MonthFirst).is_ok() {
        return Ok(true);
    }
    Err(format!("`{t}` is not yes or no, a count or a date"))
}

/// A revenue cell in major units, with an optional currency symbol or
/// code, into minor units of the workspace currency.
fn revenue(raw: &str, currency: &str) -> std::result::Result<i64, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(0);
    }
    let money = standardise::money(t).map_err(|e| e.message)?;
    if let Some(c) = money.currency {
        // A bare `$` reads as USD; a dollar workspace (CAD, AUD…) means its own.
        let bare_dollar =
            c == "USD" && t.contains('$') && !t.chars().any(|ch| ch.is_ascii_alphabetic());
        if c != currency && !(bare_dollar && currency.ends_with('D')) {
            return Err(format!(
                "`{t}` is in {c}, but this workspace counts money in {currency}"
            ));
        }
    }
    let from = money
        .currency
        .filter(|c| *c == currency)
        .map_or(2, standardise::minor_unit_exponent);
    let minor = standardise::rescale(
        money.minor,
        from,
        standardise::minor_unit_exponent(currency),
    );
    if minor < 0 {
        return Err(format!("`{t}` is negative"));
    }
    Ok(minor)
}

fn cut(s: &str) -> String {
    if s.chars().count() <= 100 {
        s.to_owned()
    } else {
        let mut c: String = s.chars().take(99).collect();
        c.push('…');
        c
    }
}

fn push_listed(list: &mut Vec<RowProblem>, p: RowProblem) {
    if list.len() < LISTED_PROBLEMS {
        list.push(p);
    }
}

/// A recipient address's kind in `identifiers`.
const EMAIL: &str = "email";
const PHONE: &str = "phone";

/// Recipient profile ids by (kind, normalised address).
type ByAddress = HashMap<(&'static str, String), Vec<i64>>;

/// The people of a campaign: recipients by address, and the holdout.
struct Audience {
    /// The addresses the export wrote (the profiles' own).
    exported: ByAddress,
    /// Every address of the recipients' records (a second email, say).
    records: ByAddress,
    recipients: u64,
    holdout: HashSet<i64>,
}

impl Audience {
    fn load(conn: &Connection, campaign_id: i64) -> Result<Audience> {
        const WHAT: &str = "read the campaign's recipients";
        let read = |query: &str| -> Result<ByAddress> {
            let mut map: ByAddress = HashMap::new();
            let mut stmt = conn.prepare(query).map_err(sql(WHAT))?;
            let mut rows = stmt.query([campaign_id]).map_err(sql(WHAT))?;
            while let Some(r) = rows.next().map_err(sql(WHAT))? {
                let kind: String = r.get(0).map_err(sql(WHAT))?;
                let kind = if kind == EMAIL { EMAIL } else { PHONE };
                let ids = map.entry((kind, r.get(1).map_err(sql(WHAT))?)).or_default();
                let id: i64 = r.get(2).map_err(sql(WHAT))?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Ok(map)
        };
        let records = read(
            "SELECT i.kind, i.value, s.profile_id
               FROM campaign_sends s
               JOIN identity_records r ON r.profile_id = s.profile_id
               JOIN identifiers i ON i.record_id = r.id AND i.kind IN ('email', 'phone')
              WHERE s.campaign_id = ?1",
        )?;
        let exported = read(
            "SELECT 'email', lower(p.email), s.profile_id
               FROM campaign_sends s JOIN profiles p ON p.id = s.profile_id
              WHERE s.campaign_id = ?1 AND p.email IS NOT NULL
             UNION ALL
             SELECT 'phone', p.phone, s.profile_id
               FROM campaign_sends s JOIN profiles p ON p.id = s.profile_id
              WHERE s.campaign_id = ?1 AND p.phone IS NOT NULL",
        )?;
        let recipients = conn
            .query_row(
                "SELECT count(*) FROM campaign_sends WHERE campaign_id = ?1",
                [campaign_id],
                |r| r.get::<_, i64>(0),
            )
            .map_err(sql(WHAT))? as u64;
        let holdout = super::holdout::stored(conn, campaign_id).map_err(from_campaign)?;
        Ok(Audience {
            exported,
            records,
            recipients,
            holdout,
        })
    }

    /// The recipients an address was sent to: those the export wrote it
    /// for, else those with it on a record. Several when profiles share
    /// an address (the tool sent that mailbox one email; each counts it).
    fn recipients_of(&self, kind: &'static str, value: &str) -> Option<&[i64]> {
        let key = (kind, value.to_owned());
        self.exported
            .get(&key)
            .or_else(|| self.records.get(&key))
            .map(Vec::as_slice)
    }
}

/// The campaign, and the time of its first export (when it was first sent
/// and its holdout fixed).
fn campaign_and_first_send(
    conn: &Connection,
    campaign_id: i64,
) -> Result<(super::Campaign, String)> {
    let campaign = super::get(conn, campaign_id)
        .map_err(from_campaign)?
        .ok_or(ResultsError::NotFound(campaign_id))?;
    let first: Option<String> = conn
        .query_row(
            "SELECT min(at) FROM campaign_exports WHERE campaign_id = ?1",
            [campaign_id],
            |r| r.get(0),
        )
        .map_err(sql("read the campaign's exports"))?;
    let first = first.ok_or_else(|| ResultsError::NotExported(campaign.name.clone()))?;
    let sends: i64 = conn
        .query_row(
            "SELECT count(*) FROM campaign_sends WHERE campaign_id = ?1",
            [campaign_id],
            |r| r.get(0),
        )
        .map_err(sql("read the campaign's recipients"))?;
    if sends == 0 {
        return Err(ResultsError::NoRecipients(campaign.name));
    }
    Ok((campaign, first))
}

/// Imports the email tool's per-recipient results for campaign
/// `campaign_id` from the CSV at `path`, replacing the campaign's previous
/// email-tool results, in one transaction.
///
/// Columns are found by their usual headers, case and punctuation aside
/// (see [`Column::headers`]): a recipient column (email, else phone) and at
/// least one of delivered (or bounced), opened, clicked, converted,
/// revenue. Yes/no cells take yes/no, true/false, 1/0, counts (more than
/// 0 is yes) or a date; revenue is in major units, with or without a
/// currency symbol, and must be in the workspace currency. Without a
/// delivered or bounced column every row counts as delivered.
///
/// Rows are not stored, and are counted and listed, when a value cannot
/// be read (`rejected`), the address is nobody's (`unknown`), or its
/// person was not sent the campaign (`not_sent`: not exported, or held
/// out). A file that cannot be read, has no usable columns or matches no
/// recipient changes nothing.
pub fn import_results(
    conn: &mut Connection,
    campaign_id: i64,
    path: &Path,
    now: &str,
) -> Result<ResultsImport> {
    let (campaign, _) = campaign_and_first_send(conn, campaign_id)?;
    let shown = path.display().to_string();
    let detected = sniff::sniff(path)?;
    let header = detected.header.clone();
    let columns = find_columns(&header);
    let find = |c: Column| columns.iter().find(|(_, k)| **k == c).map(|(i, _)| *i);
    let (email_col, phone_col) = (find(Column::Email), find(Column::Phone));
    if email_col.is_none() && phone_col.is_none() {
        return Err(ResultsError::NoRecipientColumn {
            path: shown,
            looked_for: "“Email”, “Email Address”, “Recipient”, “Phone”, “Mobile”".into(),
            header: header.join(", "),
        });
    }
    let metric_cols: Vec<(usize, Column)> = {
        let mut v: Vec<(usize, Column)> = columns
            .iter()
            .filter(|(_, c)| !matches!(c, Column::Email | Column::Phone))
            .map(|(i, c)| (*i, *c))
            .collect();
        v.sort_unstable_by_key(|(i, _)| *i);
        v
    };
    if metric_cols.is_empty() {
        return Err(ResultsError::NoResultColumns {
            path: shown,
            header: header.join(", "),
        });
    }
    let mut read_columns = BTreeMap::new();
    for (i, c) in &columns {
        let key = match c {
            Column::Phone if email_col.is_some() => "recipient_phone",
            _ => c.key(),
        };
        read_columns.insert(key.to_owned(), header[*i].clone());
    }
    let currency = crate::segments::compile::workspace_currency(conn)
        .map_err(sql("read the workspace currency"))?;
    let region: phonenumber::country::Id =
        crate::store::setting_of(conn, crate::store::setting::DEFAULT_REGION)
            .map_err(sql("read the default region"))?
            .parse()
            .unwrap_or(phonenumber::country::Id::US);
    let audience = Audience::load(conn, campaign_id)?;
    let has_delivery = find(Column::Delivered).is_some() || find(Column::Bounced).is_some();

    let (reader, _) = sniff::open_decoded(path, &detected)?;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(detected.delimiter as u8)
        .has_headers(true)
        .flexible(true)
        .from_reader(reader);

    let mut out = ResultsImport {
        campaign_id,
        file: shown.clone(),
        columns: read_columns,
        rows: 0,
        matched: 0,
        recipients: 0,
        recipients_without_results: 0,
        unknown_recipients: 0,
        not_sent: 0,
        rejected_rows: 0,
        unknown: Vec::new(),
        not_sent_rows: Vec::new(),
        rejected: Vec::new(),
        replaced: 0,
    };
    let tx = conn.transaction().map_err(sql("import the results"))?;
    out.replaced = tx
        .execute(
            "DELETE FROM campaign_results WHERE campaign_id = ?1 AND source = 'email_tool'",
            [campaign_id],
        )
        .map_err(sql("replace the previous results"))? as u64;
    let mut seen: HashSet<i64> = HashSet::new();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO campaign_results
                     (campaign_id, source, profile_id, delivered, opened, clicked, converted, revenue)
                 VALUES (?1, 'email_tool', ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (campaign_id, source, profile_id) DO UPDATE SET
                     delivered = max(delivered, excluded.delivered),
                     opened = max(opened, excluded.opened),
                     clicked = max(clicked, excluded.clicked),
                     converted = max(converted, excluded.converted),
                     revenue = revenue + excluded.revenue",
            )
            .map_err(sql("store the results"))?;
        let mut lookup = tx
            .prepare(
                "SELECT DISTINCT r.profile_id
                   FROM identifiers i JOIN identity_records r ON r.id = i.record_id
                  WHERE i.kind = ?1 AND i.value = ?2 AND r.profile_id IS NOT NULL",
            )
            .map_err(sql("look up recipients"))?;
        let mut record = csv::StringRecord::new();
        loop {
            let row = out.rows + 2;
            match rdr.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    return Err(ImportError::new(
                        path,
                        ImportErrorKind::Csv {
                            row,
                            detail: e.to_string(),
                        },
                    )
                    .into())
                }
            }
            out.rows += 1;
            let cell = |i: usize| record.get(i).unwrap_or("");
            let problem = |i: usize, reason: String| RowProblem {
                row,
                column: header[i].clone(),
                value: cut(cell(i).trim()),
                reason,
            };

            // Who: the email, else the phone.
            let mut address: Option<(&'static str, String, usize)> = None;
            let mut bad: Vec<RowProblem> = Vec::new();
            if let Some(i) = email_col.filter(|&i| !cell(i).trim().is_empty()) {
                match standardise::email(cell(i)) {
                    Ok(e) => address = Some((EMAIL, e, i)),
                    Err(invalid) => bad.push(problem(i, invalid.message)),
                }
            }
            if address.is_none() && bad.is_empty() {
                if let Some(i) = phone_col.filter(|&i| !cell(i).trim().is_empty()) {
                    match standardise::phone(cell(i), region) {
                        Ok(p) => address = Some((PHONE, p, i)),
                        Err(invalid) => bad.push(problem(i, invalid.message)),
                    }
                }
            }
            if address.is_none() && bad.is_empty() {
                let i = email_col.or(phone_col).unwrap_or(0);
                bad.push(problem(
                    i,
                    if email_col.is_some() {
                        "no email address".to_owned()
                    } else {
                        "no phone number".to_owned()
                    },
                ));
            }

            // What happened.
            let mut values = [i64::from(!has_delivery), 0, 0, 0, 0];
            for &(i, column) in &metric_cols {
                let parsed = match column {
                    Column::Revenue => revenue(cell(i), &currency),
                    _ => flag(cell(i)).map(i64::from),
                };
                match parsed {
                    Ok(v) => match column {
                        Column::Delivered => values[0] = v,
                        Column::Bounced => {
                            if find(Column::Delivered).is_none() {
                                values[0] = 1 - v;
                            }
                        }
                        Column::Opened => values[1] = v,
                        Column::Clicked => values[2] = v,
                        Column::Converted => values[3] = v,
                        Column::Revenue => values[4] = v,
                        Column::Email | Column::Phone => {}
                    },
                    Err(reason) => bad.push(problem(i, reason)),
                }
            }
            if !bad.is_empty() {
                out.rejected_rows += 1;
                for p in bad {
                    push_listed(&mut out.rejected, p);
                }
                continue;
            }
            let Some((kind, value, col)) = address else {
                continue;
            };
            // An opened or clicked email was delivered; revenue means a conversion
            // when the tool says nothing else.
            if values[1] > 0 || values[2] > 0 {
                values[0] = 1;
            }
            if values[4] > 0 && find(Column::Converted).is_none() {
                values[3] = 1;
            }

            let Some(profiles) = audience.recipients_of(kind, &value) else {
                let ids: Vec<i64> = lookup
                    .query_map(params![kind, value], |r| r.get(0))
                    .and_then(|rows| rows.collect())
                    .map_err(sql("look up recipients"))?;
                let what = if kind == EMAIL { "email" } else { "phone" };
                if ids.is_empty() {
                    out.unknown_recipients += 1;
                    push_listed(
                        &mut out.unknown,
                        problem(col, format!("no profile has this {what}")),
                    );
                } else {
                    out.not_sent += 1;
                    let reason = match ids.iter().find(|id| audience.holdout.contains(id)) {
                        Some(id) => format!("profile #{id} is in the holdout, which is never sent the campaign; its results are not counted"),
                        None => format!(
                            "profile #{} was not sent this campaign (not in its exports)",
                            ids[0]
                        ),
                    };
                    push_listed(&mut out.not_sent_rows, problem(col, reason));
                }
                continue;
            };
            for &profile in profiles {
                insert
                    .execute(params![
                        campaign_id,
                        profile,
                        values[0],
                        values[1],
                        values[2],
                        values[3],
                        values[4]
                    ])
                    .map_err(sql("store the results"))?;
                seen.insert(profile);
            }
            out.matched += 1;
        }
    }
    out.recipients = seen.len() as u64;
    out.recipients_without_results = audience.recipients.saturating_sub(out.recipients);
    if out.matched == 0 {
        return Err(ResultsError::NothingMatched {
            path: shown,
            campaign: campaign.name,
            rows: out.rows,
            unknown: out.unknown_recipients,
            not_sent: out.not_sent,
            rejected: out.rejected_rows,
        });
    }
    tx.execute(
        "INSERT OR REPLACE INTO campaign_result_sources
             (campaign_id, source, at, file, columns, window_days, orders_through, rows, stored)
         VALUES (?1, 'email_tool', ?2, ?3, ?4, NULL, NULL, ?5, ?6)",
        params![
            campaign_id,
            now,
            shown,
            serde_json::to_string(&out.columns).expect("a map of strings serialises"),
            out.rows as i64,
            out.recipients as i64
        ],
    )
    .map_err(sql("log the results import"))?;
    tx.commit().map_err(sql("import the results"))?;
    Ok(out)
}

// ---------------------------------------------------------------------------
// Conversions from orders
// ---------------------------------------------------------------------------

/// What [`results_from_orders`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct OrdersAttribution {
    pub campaign_id: i64,
    pub window_days: u32,
    /// The campaign's first export: where the holdout's window starts.
    pub first_sent_at: String,
    /// When the last recipient's window ends.
    pub window_ends: String,
    /// The latest order time in the workspace (`None`: no orders).
    pub orders_through: Option<String>,
    pub recipients: u64,
    pub holdout: u64,
    /// Recipients who placed an order within their window.
    pub recipients_converted: u64,
    /// Holdout members who placed an order within the window.
    pub holdout_converted: u64,
    /// Orders attributed (recipients and holdout).
    pub orders: u64,
    /// Of those, orders in another currency: conversions without revenue.
    pub other_currency_orders: u64,
    /// Revenue of the recipients' attributed orders, minor units.
    pub recipients_revenue: i64,
    /// Revenue of the holdout's attributed orders, minor units.
    pub holdout_revenue: i64,
    pub currency: String,
}

fn iso(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Computes conversions and revenue from orders for every recipient and
/// holdout member of campaign `campaign_id`: the counting orders each
/// placed from their send (the holdout: the first export) to `window_days`
/// later (start included, end excluded). Replaces the campaign's previous
/// results from orders, in one transaction.
pub fn results_from_orders(
    conn: &mut Connection,
    campaign_id: i64,
    window_days: u32,
    now: &str,
) -> Result<OrdersAttribution> {
    if !(1..=MAX_WINDOW_DAYS).contains(&window_days) {
        return Err(ResultsError::Window(window_days));
    }
    let (_, first) = campaign_and_first_send(conn, campaign_id)?;
    let currency = crate::segments::compile::workspace_currency(conn)
        .map_err(sql("read the workspace currency"))?;
    let window = i64::from(window_days) * 86_400;

    // profile → (holdout?, converted orders, revenue)
    let mut people: HashMap<i64, (bool, u64, i64)> = HashMap::new();
    let mut other_currency = 0u64;
    let mut window_ends = epoch_seconds(&first).unwrap_or(0) + window;
    {
        const WHAT: &str = "read the orders after the send";
        let mut stmt = conn
            .prepare(
                "WITH members (profile_id, start, held_out) AS (
                     SELECT profile_id, sent_at, 0 FROM campaign_sends WHERE campaign_id = ?1
                     UNION ALL
                     SELECT profile_id, ?2, 1 FROM campaign_holdout WHERE campaign_id = ?1)
                 SELECT m.profile_id, m.start, m.held_out, o.ordered_at, o.currency,
                        coalesce(o.total, 0) - max(coalesce(o.refunded, 0), 0)
                   FROM members m
                   JOIN identity_records r ON r.profile_id = m.profile_id AND r.kind = 'order'
                   JOIN orders o ON o.id = r.row_id
                  WHERE o.ordered_at IS NOT NULL AND coalesce(o.cancelled_at, '') = ''
                    AND lower(coalesce(o.financial_status, '')) NOT IN ('voided', 'cancelled')",
            )
            .map_err(sql(WHAT))?;
        let mut rows = stmt.query(params![campaign_id, first]).map_err(sql(WHAT))?;
        while let Some(r) = rows.next().map_err(sql(WHAT))? {
            let profile: i64 = r.get(0).map_err(sql(WHAT))?;
            let start: String = r.get(1).map_err(sql(WHAT))?;
            let held_out: bool = r.get(2).map_err(sql(WHAT))?;
            let at: String = r.get(3).map_err(sql(WHAT))?;
            let (Some(start), Some(at)) = (epoch_seconds(&start), epoch_seconds(&at)) else {
                continue;
            };
            if at < start || at >= start + window {
                continue;
            }
            let order_currency: Option<String> = r.get(4).map_err(sql(WHAT))?;
            let money: i64 = r.get(5).map_err(sql(WHAT))?;
            let same = order_currency.as_deref().is_none_or(|c| c == currency);
            if !same {
                other_currency += 1;
            }
            let e = people.entry(profile).or_insert((held_out, 0, 0));
            e.1 += 1;
            if same {
                e.2 += money;
            }
        }
        let last_send: Option<String> = conn
            .query_row(
                "SELECT max(sent_at) FROM campaign_sends WHERE campaign_id = ?1",
                [campaign_id],
                |r| r.get(0),
            )
            .map_err(sql(WHAT))?;
        if let Some(t) = last_send.as_deref().and_then(epoch_seconds) {
            window_ends = window_ends.max(t + window);
        }
    }
    let orders_through: Option<String> = conn
        .query_row(
            "SELECT max(ordered_at) FROM orders o
              WHERE o.ordered_at IS NOT NULL AND coalesce(o.cancelled_at, '') = ''",
            [],
            |r| r.get(0),
        )
        .map_err(sql("read the latest order"))?;
    let (recipients, holdout): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM campaign_sends WHERE campaign_id = ?1),
                    (SELECT count(*) FROM campaign_holdout WHERE campaign_id = ?1)",
            [campaign_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(sql("count the campaign's people"))?;

    let mut out = OrdersAttribution {
        campaign_id,
        window_days,
        first_sent_at: first,
        window_ends: iso(window_ends),
        orders_through,
        recipients: recipients as u64,
        holdout: holdout as u64,
        recipients_converted: 0,
        holdout_converted: 0,
        orders: 0,
        other_currency_orders: other_currency,
        recipients_revenue: 0,
        holdout_revenue: 0,
        currency,
    };
    let tx = conn.transaction().map_err(sql("store the results"))?;
    tx.execute(
        "DELETE FROM campaign_results WHERE campaign_id = ?1 AND source = 'orders'",
        [campaign_id],
    )
    .map_err(sql("replace the previous results"))?;
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO campaign_results (campaign_id, source, profile_id, converted, revenue)
                 VALUES (?1, 'orders', ?2, 1, ?3)",
            )
            .map_err(sql("store the results"))?;
        let mut ids: Vec<&i64> = people.keys().collect();
        ids.sort_unstable();
        for id in ids {
            let (held_out, orders, money) = people[id];
            insert
                .execute(params![campaign_id, id, money])
                .map_err(sql("store the results"))?;
            out.orders += orders;
            if held_out {
                out.holdout_converted += 1;
                out.holdout_revenue += money;
            } else {
                out.recipients_converted += 1;
                out.recipients_revenue += money;
            }
        }
    }
    tx.execute(
        "INSERT OR REPLACE INTO campaign_result_sources
             (campaign_id, source, at, file, columns, window_days, orders_through, rows, stored)
         VALUES (?1, 'orders', ?2, NULL, NULL, ?3, ?4, ?5, ?6)",
        params![
            campaign_id,
            now,
            window_days,
            out.orders_through,
            out.orders as i64,
            people.len() as i64
        ],
    )
    .map_err(sql("log the computation"))?;
    tx.commit().map_err(sql("store the results"))?;
    Ok(out)
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

/// What kind of group a report line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "ResultGroupKind")]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// The recipients of one variant (A/B).
    Variant,
    /// Everyone sent the campaign (the only recipient group of a campaign
    /// without variants; the sum of the variants otherwise).
    AllRecipients,
    Holdout,
}

/// What the email tool reported for a group, per recipient of the group.
/// A figure is `None` when the file had no column for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct EmailFigures {
    /// Recipients with a row in the results file.
    pub with_results: u64,
    pub delivered: Option<Rate>,
    pub opened: Option<Rate>,
    pub clicked: Option<Rate>,
    /// Conversions as the tool attributes them.
    pub converted: Option<Rate>,
    /// Revenue the tool attributes, minor units of the workspace currency.
    pub revenue: Option<i64>,
    /// That revenue per recipient of the group, major units (e.g. dollars).
    pub revenue_per_recipient: Option<f64>,
}

/// Conversions and revenue from orders within the attribution window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct OrderFigures {
    pub converted: Rate,
    /// Minor units of the workspace currency.
    pub revenue: i64,
    /// Major units of the workspace currency (e.g. dollars).
    pub revenue_per_recipient: f64,
}

/// One group of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ReportGroup {
    /// The variant's name ("A", "B"), "All recipients" or "Holdout".
    pub name: String,
    pub kind: GroupKind,
    /// People in the group: sent the campaign, or (holdout) held back.
    pub recipients: u64,
    /// `None` for the holdout, and until the tool's results are imported.
    pub email: Option<EmailFigures>,
    /// `None` until conversions are computed from orders.
    pub orders: Option<OrderFigures>,
}

/// One group's rate against another's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RateComparison {
    pub group: String,
    /// "Holdout", or the baseline variant.
    pub against: String,
    pub metric: Metric,
    pub source: Source,
    /// The group's rate, a fraction (0.041 = 4.1%).
    pub rate: f64,
    pub baseline_rate: f64,
    /// Difference in percentage points (1.8 = 1.8 points).
    pub uplift_points: f64,
    /// Relative difference, a fraction (0.78 = 78% more); `None` when the
    /// baseline rate is 0.
    pub uplift_relative: Option<f64>,
    /// Interval of the relative difference (Katz), fractions; `None` when
    /// either group has none.
    pub relative_ci_low: Option<f64>,
    pub relative_ci_high: Option<f64>,
    /// Interval of the difference, percentage points.
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-sided p-value of the two-proportion z-test.
    pub p_value: f64,
    /// `p_value` below 1 − confidence.
    pub significant: bool,
}

/// One group's revenue per recipient against another's: from orders
/// (variants and the holdout), or as the email tool attributes it (between
/// variants; the holdout got no email, so the tool knows nothing of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RevenueComparison {
    pub group: String,
    pub against: String,
    pub source: Source,
    /// Major units of the workspace currency.
    pub per_recipient: f64,
    pub baseline_per_recipient: f64,
    pub difference_per_recipient: f64,
    /// Bootstrap percentile interval of the difference.
    pub ci_low: f64,
    pub ci_high: f64,
    /// The interval leaves out 0.
    pub significant: bool,
}

/// Where one source's results came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ResultSourceInfo {
    pub source: Source,
    /// When they were imported or computed.
    pub at: String,
    /// Email tool: the file.
    pub file: Option<String>,
    /// Email tool: what was read from which column.
    pub columns: BTreeMap<String, String>,
    /// Orders: the attribution window.
    pub window_days: Option<u32>,
    /// Orders: the latest order time in the workspace then.
    pub orders_through: Option<String>,
}

/// A campaign's results: groups, comparisons, a verdict and a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CampaignReport {
    pub campaign_id: i64,
    pub campaign_name: String,
    /// The first export: when the campaign was first sent.
    pub sent_at: String,
    /// Attribution window of the orders results, if computed.
    pub window_days: Option<u32>,
    /// Of intervals and tests (0.95).
    pub confidence: f64,
    /// The workspace currency (ISO 4217).
    pub currency: String,
    pub email_tool: Option<ResultSourceInfo>,
    pub orders: Option<ResultSourceInfo>,
    /// Variants (by name), "All recipients", then "Holdout".
    pub groups: Vec<ReportGroup>,
    pub comparisons: Vec<RateComparison>,
    pub revenue: Vec<RevenueComparison>,
    /// In plain language: did the campaign work?
    pub verdict: String,
    /// What to keep in mind (an attribution window still open, recipients
    /// the tool reported nothing for…).
    pub notes: Vec<String>,
    /// Conversion rate per group, as SVG (`None` with nothing to draw).
    pub chart_svg: Option<String>,
}

/// Sums of one group from one source.
#[derive(Debug, Default, Clone)]
struct Sums {
    rows: u64,
    delivered: u64,
    opened: u64,
    clicked: u64,
    converted: u64,
    revenue: i64,
    /// Non-zero revenues, major units (for the bootstrap).
    spend: Vec<f64>,
}

impl Sums {
    fn add(&mut self, other: &Sums) {
        self.rows += other.rows;
        self.delivered += other.delivered;
        self.opened += other.opened;
        self.clicked += other.clicked;
        self.converted += other.converted;
        self.revenue += other.revenue;
        self.spend.extend_from_slice(&other.spend);
    }
}

fn source_info(
    conn: &Connection,
    campaign_id: i64,
    source: Source,
) -> Result<Option<ResultSourceInfo>> {
    conn.query_row(
        "SELECT at, file, columns, window_days, orders_through
           FROM campaign_result_sources WHERE campaign_id = ?1 AND source = ?2",
        params![campaign_id, source.as_str()],
        |r| {
            let columns: Option<String> = r.get(2)?;
            Ok(ResultSourceInfo {
                source,
                at: r.get(0)?,
                file: r.get(1)?,
                columns: columns
                    .and_then(|c| serde_json::from_str(&c).ok())
                    .unwrap_or_default(),
                window_days: r.get(3)?,
                orders_through: r.get(4)?,
            })
        },
    )
    .optional()
    .map_err(sql("read where the results came from"))
}

/// The report of campaign `campaign_id`: every group's figures, the
/// comparisons (at `confidence`, e.g. 0.95; the revenue bootstrap seeded
/// with `seed`), a verdict in plain language and a chart.
pub fn report(
    conn: &Connection,
    campaign_id: i64,
    confidence: f64,
    seed: u64,
) -> Result<CampaignReport> {
    if !(0.5..=0.999).contains(&confidence) {
        return Err(ResultsError::Confidence(confidence));
    }
    let (campaign, first) = campaign_and_first_send(conn, campaign_id)?;
    let currency = crate::segments::compile::workspace_currency(conn)
        .map_err(sql("read the workspace currency"))?;
    let scale = crate::segments::compile::scale_of(&currency) as f64;
    let email_info = source_info(conn, campaign_id, Source::EmailTool)?;
    let orders_info = source_info(conn, campaign_id, Source::Orders)?;

    // Recipients per variant, and the holdout's size.
    let mut variants: BTreeMap<String, u64> = BTreeMap::new();
    {
        const WHAT: &str = "count the recipients";
        let mut stmt = conn
            .prepare("SELECT variant, count(*) FROM campaign_sends WHERE campaign_id = ?1 GROUP BY variant")
            .map_err(sql(WHAT))?;
        let rows = stmt
            .query_map([campaign_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(sql(WHAT))?;
        for row in rows {
            let (v, n) = row.map_err(sql(WHAT))?;
            variants.insert(v, n as u64);
        }
    }
    let held_out: u64 = conn
        .query_row(
            "SELECT count(*) FROM campaign_holdout WHERE campaign_id = ?1",
            [campaign_id],
            |r| r.get::<_, i64>(0),
        )
        .map_err(sql("count the holdout"))? as u64;

    // Sums per variant (and for the holdout, key None) and source.
    let mut sums: HashMap<(Option<String>, Source), Sums> = HashMap::new();
    {
        const WHAT: &str = "read the results";
        let mut stmt = conn
            .prepare(
                "SELECT s.variant, r.source, r.delivered, r.opened, r.clicked, r.converted, r.revenue
                   FROM campaign_results r
                   JOIN campaign_sends s ON s.campaign_id = r.campaign_id AND s.profile_id = r.profile_id
                  WHERE r.campaign_id = ?1
                 UNION ALL
                 SELECT NULL, r.source, r.delivered, r.opened, r.clicked, r.converted, r.revenue
                   FROM campaign_results r
                   JOIN campaign_holdout h ON h.campaign_id = r.campaign_id AND h.profile_id = r.profile_id
                  WHERE r.campaign_id = ?1 AND r.source = 'orders'",
            )
            .map_err(sql(WHAT))?;
        let mut rows = stmt.query([campaign_id]).map_err(sql(WHAT))?;
        while let Some(r) = rows.next().map_err(sql(WHAT))? {
            let variant: Option<String> = r.get(0).map_err(sql(WHAT))?;
            let source: String = r.get(1).map_err(sql(WHAT))?;
            let source = if source == "orders" {
                Source::Orders
            } else {
                Source::EmailTool
            };
            let s = sums.entry((variant, source)).or_default();
            let get = |i: usize| r.get::<_, i64>(i).map_err(sql(WHAT));
            s.rows += 1;
            s.delivered += u64::from(get(2)? > 0);
            s.opened += u64::from(get(3)? > 0);
            s.clicked += u64::from(get(4)? > 0);
            s.converted += u64::from(get(5)? > 0);
            let revenue = get(6)?;
            s.revenue += revenue;
            if revenue != 0 {
                s.spend.push(revenue as f64 / scale);
            }
        }
    }

    let measured = |key: &str| {
        email_info
            .as_ref()
            .is_some_and(|i| i.columns.contains_key(key))
    };
    let has_delivery = measured("delivered") || measured("bounced");
    let (has_open, has_click) = (measured("opened"), measured("clicked"));
    let has_tool_conversion = measured("converted") || measured("revenue");
    let has_tool_revenue = measured("revenue");
    let email_figures = |n: u64, s: Option<&Sums>| -> Option<EmailFigures> {
        email_info.as_ref()?;
        let empty = Sums::default();
        let s = s.unwrap_or(&empty);
        let rate = |on: bool, count: u64| on.then(|| Rate::new(count, n, confidence));
        Some(EmailFigures {
            with_results: s.rows,
            delivered: Some(Rate::new(s.delivered, n, confidence)).filter(|_| has_delivery),
            opened: rate(has_open, s.opened),
            clicked: rate(has_click, s.clicked),
            converted: rate(has_tool_conversion, s.converted),
            revenue: has_tool_revenue.then_some(s.revenue),
            revenue_per_recipient: has_tool_revenue.then(|| {
                if n == 0 {
                    0.0
                } else {
                    s.revenue as f64 / scale / n as f64
                }
            }),
        })
    };
    let order_figures = |n: u64, s: Option<&Sums>| -> Option<OrderFigures> {
        orders_info.as_ref()?;
        let empty = Sums::default();
        let s = s.unwrap_or(&empty);
        Some(OrderFigures {
            converted: Rate::new(s.converted, n, confidence),
            revenue: s.revenue,
            revenue_per_recipient: if n == 0 {
                0.0
            } else {
                s.revenue as f64 / scale / n as f64
            },
        })
    };

    // The groups, with the sums behind them (for the comparisons).
    struct Line {
        group: ReportGroup,
        tool: Sums,
        orders: Sums,
    }
    let several = variants.len() > 1;
    let mut lines: Vec<Line> = Vec::new();
    let mut all = (0u64, Sums::default(), Sums::default());
    for (variant, &n) in &variants {
        let tool = sums
            .remove(&(Some(variant.clone()), Source::EmailTool))
            .unwrap_or_default();
        let orders = sums
            .remove(&(Some(variant.clone()), Source::Orders))
            .unwrap_or_default();
        all.0 += n;
        all.1.add(&tool);
        all.2.add(&orders);
        let (name, kind) = if !several {
            (ALL_RECIPIENTS.to_owned(), GroupKind::AllRecipients)
        } else if variant.is_empty() {
            ("No variant".to_owned(), GroupKind::Variant)
        } else {
            (variant.clone(), GroupKind::Variant)
        };
        lines.push(Line {
            group: ReportGroup {
                name,
                kind,
                recipients: n,
                email: email_figures(n, Some(&tool)),
                orders: order_figures(n, Some(&orders)),
            },
            tool,
            orders,
        });
    }
    if several {
        let (n, tool, orders) = all;
        lines.push(Line {
            group: ReportGroup {
                name: ALL_RECIPIENTS.to_owned(),
                kind: GroupKind::AllRecipients,
                recipients: n,
                email: email_figures(n, Some(&tool)),
                orders: order_figures(n, Some(&orders)),
            },
            tool,
            orders,
        });
    }
    if held_out > 0 {
        let orders = sums.remove(&(None, Source::Orders)).unwrap_or_default();
        lines.push(Line {
            group: ReportGroup {
                name: HOLDOUT.to_owned(),
                kind: GroupKind::Holdout,
                recipients: held_out,
                email: None,
                orders: order_figures(held_out, Some(&orders)),
            },
            tool: Sums::default(),
            orders,
        });
    }

    // Comparisons: every recipient group against the holdout on orders;
    // the variants against the first one on everything measured.
    let mut comparisons = Vec::new();
    let mut revenue = Vec::new();
    let compare = |a: &Line, b: &Line, metric: Metric, source: Source| -> Option<RateComparison> {
        let pick = |l: &Line| match (metric, source) {
            (Metric::Open, _) => l.tool.opened,
            (Metric::Click, _) => l.tool.clicked,
            (Metric::Conversion, Source::EmailTool) => l.tool.converted,
            (Metric::Conversion, Source::Orders) => l.orders.converted,
        };
        let t = stats::compare_proportions(
            pick(a),
            a.group.recipients,
            pick(b),
            b.group.recipients,
            confidence,
        )?;
        Some(RateComparison {
            group: a.group.name.clone(),
            against: b.group.name.clone(),
            metric,
            source,
            rate: t.p1,
            baseline_rate: t.p2,
            uplift_points: t.difference * 100.0,
            uplift_relative: t.relative,
            relative_ci_low: t.relative_ci.map(|c| c.0),
            relative_ci_high: t.relative_ci.map(|c| c.1),
            ci_low: t.ci_low * 100.0,
            ci_high: t.ci_high * 100.0,
            p_value: t.p_value,
            significant: t.p_value < 1.0 - confidence,
        })
    };
    let mut bootstraps = 0u64;
    let mut compare_revenue = |a: &Line, b: &Line, source: Source| -> Option<RevenueComparison> {
        // Every recipient is a sample: those without revenue count as 0.
        let sample = |l: &Line| Sample {
            n: l.group.recipients,
            nonzero: match source {
                Source::Orders => l.orders.spend.clone(),
                Source::EmailTool => l.tool.spend.clone(),
            },
        };
        let (sa, sb) = (sample(a), sample(b));
        bootstraps += 1;
        let d = stats::bootstrap_mean_difference(
            &sa,
            &sb,
            confidence,
            stats::DEFAULT_RESAMPLES,
            seed.wrapping_add(bootstraps),
        )?;
        Some(RevenueComparison {
            group: a.group.name.clone(),
            against: b.group.name.clone(),
            source,
            per_recipient: sa.mean(),
            baseline_per_recipient: sb.mean(),
            difference_per_recipient: d.difference,
            ci_low: d.ci_low,
            ci_high: d.ci_high,
            significant: d.ci_low > 0.0 || d.ci_high < 0.0,
        })
    };
    let holdout_line = lines.iter().find(|l| l.group.kind == GroupKind::Holdout);
    let recipient_lines: Vec<&Line> = lines
        .iter()
        .filter(|l| l.group.kind != GroupKind::Holdout)
        .collect();
    if let (Some(h), Some(_)) = (holdout_line, &orders_info) {
        for l in &recipient_lines {
            comparisons.extend(compare(l, h, Metric::Conversion, Source::Orders));
            revenue.extend(compare_revenue(l, h, Source::Orders));
        }
    }
    let variant_lines: Vec<&Line> = lines
        .iter()
        .filter(|l| l.group.kind == GroupKind::Variant)
        .collect();
    if let Some((base, others)) = variant_lines.split_first() {
        for l in others {
            if email_info.is_some() {
                for (on, metric) in [
                    (has_open, Metric::Open),
                    (has_click, Metric::Click),
                    (has_tool_conversion, Metric::Conversion),
                ] {
                    if on {
                        comparisons.extend(compare(l, base, metric, Source::EmailTool));
                    }
                }
            }
            if orders_info.is_some() {
                comparisons.extend(compare(l, base, Metric::Conversion, Source::Orders));
                revenue.extend(compare_revenue(l, base, Source::Orders));
            }
        }
        // The tool's revenue last, so the orders' bootstrap seeds stay
        // those of earlier reports.
        if email_info.is_some() && has_tool_revenue {
            for l in others {
                revenue.extend(compare_revenue(l, base, Source::EmailTool));
            }
        }
    }

    let groups: Vec<ReportGroup> = lines.into_iter().map(|l| l.group).collect();
    let mut report = CampaignReport {
        campaign_id,
        campaign_name: campaign.name,
        sent_at: first,
        window_days: orders_info.as_ref().and_then(|i| i.window_days),
        confidence,
        currency,
        email_tool: email_info,
        orders: orders_info,
        groups,
        comparisons,
        revenue,
        verdict: String::new(),
        notes: Vec::new(),
        chart_svg: None,
    };
    report.verdict = verdict(&report);
    report.notes = notes(conn, &report)?;
    report.chart_svg = chart(&report)
        .and_then(|c| crate::charts::to_svg(&c.spec, &c.options).ok())
        .map(|c| c.svg);
    Ok(report)
}

// ---------------------------------------------------------------------------
// Words and pictures
// ---------------------------------------------------------------------------

/// "1 day", "14 days".
fn days(n: u32) -> String {
    format!("{n} day{}", if n == 1 { "" } else { "s" })
}

/// A count with thousands separators: "1,048".
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "95%", "97.5%".
fn percent_label(confidence: f64) -> String {
    let p = confidence * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A number with one decimal (two below 0.1), a true minus sign.
fn number(v: f64) -> String {
    let decimals = if v != 0.0 && v.abs() < 0.095 { 2 } else { 1 };
    let s = format!("{:.*}", decimals, v.abs());
    if v < 0.0 && s.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        format!("\u{2212}{s}")
    } else {
        s
    }
}

/// A rate (fraction) as a percentage: "4.1%".
fn pct(rate: f64) -> String {
    format!("{}%", number(rate * 100.0))
}

/// "0.9–2.7", or "−0.5 to 0.9" when a bound is negative.
fn range(lo: f64, hi: f64, show: impl Fn(f64) -> String) -> String {
    if lo < 0.0 || hi < 0.0 {
        format!("{} to {}", show(lo), show(hi))
    } else {
        format!("{}–{}", show(lo), show(hi))
    }
}

/// "p = 0.0004", "p = 0.41", "p < 0.0001".
fn p_text(p: f64) -> String {
    if p < 1e-4 {
        "p < 0.0001".to_owned()
    } else if p >= 0.995 {
        "p = 1".to_owned()
    } else {
        let decimals = (1 - p.log10().floor() as i32).max(2) as usize;
        format!("p = {p:.decimals$}")
    }
}

/// An amount in major units with two decimals and its currency:
/// "$1.20", "€1,234.50", "−£0.40", "12.00 CHF".
pub fn money_text(v: f64, currency: &str) -> String {
    let body = format!("{:.2}", v.abs());
    let (int, frac) = body.split_once('.').unwrap_or((&body, "00"));
    let mut grouped = String::with_capacity(int.len() + 4);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let (prefix, suffix) = match currency {
        "USD" => ("$", String::new()),
        "EUR" => ("€", String::new()),
        "GBP" => ("£", String::new()),
        "JPY" => ("¥", String::new()),
        "INR" => ("₹", String::new()),
        other => ("", format!(" {other}")),
    };
    let sign = if v < 0.0 && body.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        "\u{2212}"
    } else {
        ""
    };
    format!("{sign}{prefix}{grouped}.{frac}{suffix}")
}

/// How a group is named in a sentence.
fn who(report: &CampaignReport, name: &str) -> String {
    let variants = report
        .groups
        .iter()
        .filter(|g| g.kind == GroupKind::Variant)
        .count();
    if name == ALL_RECIPIENTS {
        if variants > 0 {
            "All variants together".to_owned()
        } else {
            "Recipients".to_owned()
        }
    } else if name == HOLDOUT {
        "the holdout".to_owned()
    } else {
        format!("Variant {name}")
    }
}

/// "beat the holdout by 1.8 points (conversion 4.1% vs 2.3%), 95% CI
/// 0.9–2.7, p = 0.0004".
fn evidence(c: &RateComparison, conf: &str) -> String {
    format!(
        "({} {} vs {}), {conf} CI {} points, {}",
        c.metric.noun(),
        pct(c.rate),
        pct(c.baseline_rate),
        range(c.ci_low, c.ci_high, number),
        p_text(c.p_value)
    )
}

/// The verdict: against the holdout, in revenue, between variants.
fn verdict(r: &CampaignReport) -> String {
    let conf = percent_label(r.confidence);
    let mut sentences: Vec<String> = Vec::new();
    let has_holdout = r.groups.iter().any(|g| g.kind == GroupKind::Holdout);
    let variants = r
        .groups
        .iter()
        .filter(|g| g.kind == GroupKind::Variant)
        .count();
    if r.email_tool.is_none() && r.orders.is_none() {
        return "No results yet: import the email tool's results file, or compute conversions from the orders placed since the send.".to_owned();
    }

    // Against the holdout: each variant (or the recipients as a whole).
    let mut best_group: Option<String> = None;
    if !has_holdout {
        sentences.push("This campaign has no holdout, so its effect cannot be measured against people who were not sent it; only the variants can be compared.".to_owned());
    } else if r.orders.is_none() {
        sentences.push("The holdout was sent nothing, so it has no email results: compute conversions from orders to measure the campaign against it.".to_owned());
    } else if r
        .groups
        .iter()
        .all(|g| g.orders.as_ref().is_none_or(|o| o.converted.count == 0))
    {
        sentences.push(format!(
            "Nobody has placed an order within {} of the send yet, recipients or holdout: there is nothing to compare.",
            days(r.window_days.unwrap_or(DEFAULT_WINDOW_DAYS))
        ));
    } else {
        let against: Vec<&RateComparison> = r
            .comparisons
            .iter()
            .filter(|c| {
                c.against == HOLDOUT
                    && (variants == 0
                        || r.groups
                            .iter()
                            .any(|g| g.name == c.group && g.kind == GroupKind::Variant))
            })
            .collect();
        let by_uplift = |a: &&&RateComparison, b: &&&RateComparison| {
            a.uplift_points.total_cmp(&b.uplift_points)
        };
        let winner = against
            .iter()
            .filter(|c| c.significant && c.uplift_points > 0.0)
            .max_by(by_uplift);
        let loser = against
            .iter()
            .filter(|c| c.significant && c.uplift_points < 0.0)
            .min_by(by_uplift);
        if let Some(c) = winner {
            sentences.push(format!(
                "{} beat the holdout by {} points {}.",
                who(r, &c.group),
                number(c.uplift_points),
                evidence(c, &conf)
            ));
            best_group = Some(c.group.clone());
        } else if let Some(c) = loser {
            sentences.push(format!(
                "{} did worse than the holdout by {} points {}.",
                who(r, &c.group),
                number(-c.uplift_points),
                evidence(c, &conf)
            ));
            best_group = Some(c.group.clone());
        } else if let Some(c) = against.iter().max_by(by_uplift) {
            let subject = if variants > 0 {
                format!(
                    "No variant did measurably better than the holdout yet (best: {}, ",
                    who(r, &c.group)
                )
            } else {
                "Recipients did not do measurably better than the holdout yet (".to_owned()
            };
            sentences.push(format!(
                "{subject}{} {} vs {}, {conf} CI {} points, {}).",
                c.metric.noun(),
                pct(c.rate),
                pct(c.baseline_rate),
                range(c.ci_low, c.ci_high, number),
                p_text(c.p_value)
            ));
            best_group = Some(c.group.clone());
        }
        if let Some(g) = &best_group {
            if let Some(m) = r
                .revenue
                .iter()
                .find(|m| &m.group == g && m.against == HOLDOUT && m.source == Source::Orders)
            {
                let show = |v: f64| money_text(v, &r.currency);
                sentences.push(format!(
                    "Revenue per recipient: {} vs {} for the holdout (difference {}, {conf} CI {}{}).",
                    show(m.per_recipient),
                    show(m.baseline_per_recipient),
                    show(m.difference_per_recipient),
                    range(m.ci_low, m.ci_high, show),
                    if m.significant { "" } else { ", not a measurable difference" }
                ));
            }
        }
    }

    // Between variants.
    if variants > 1 {
        let between: Vec<&RateComparison> = r
            .comparisons
            .iter()
            .filter(|c| c.against != HOLDOUT)
            .collect();
        let order = [
            (Metric::Conversion, Source::Orders),
            (Metric::Conversion, Source::EmailTool),
            (Metric::Click, Source::EmailTool),
            (Metric::Open, Source::EmailTool),
        ];
        let found = order.iter().find_map(|(m, s)| {
            between
                .iter()
                .filter(|c| c.metric == *m && c.source == *s && c.significant)
                .max_by(|a, b| a.uplift_points.abs().total_cmp(&b.uplift_points.abs()))
        });
        match found {
            Some(c) => {
                let (winner, loser) = if c.uplift_points > 0.0 {
                    (&c.group, &c.against)
                } else {
                    (&c.against, &c.group)
                };
                let what = match (c.metric, c.source) {
                    (Metric::Conversion, Source::Orders) => "conversion (from orders)",
                    (Metric::Conversion, Source::EmailTool) => {
                        "conversion (as the email tool reports it)"
                    }
                    (m, _) => m.noun(),
                };
                sentences.push(format!(
                    "Between variants, {} beat {} on {what} by {} points ({} vs {}, {conf} CI {} points, {}).",
                    who(r, winner),
                    who(r, loser),
                    number(c.uplift_points.abs()),
                    pct(if c.uplift_points > 0.0 { c.rate } else { c.baseline_rate }),
                    pct(if c.uplift_points > 0.0 { c.baseline_rate } else { c.rate }),
                    if c.uplift_points > 0.0 {
                        range(c.ci_low, c.ci_high, number)
                    } else {
                        range(-c.ci_high, -c.ci_low, number)
                    },
                    p_text(c.p_value)
                ));
            }
            None if !between.is_empty() => {
                sentences
                    .push("The variants did not differ measurably from each other.".to_owned());
            }
            None => {}
        }
    }
    sentences.join(" ")
}

/// What to keep in mind when reading the report.
fn notes(conn: &Connection, r: &CampaignReport) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    if let Some(info) = &r.orders {
        let window = i64::from(info.window_days.unwrap_or(DEFAULT_WINDOW_DAYS)) * 86_400;
        let last_send: Option<String> = conn
            .query_row(
                "SELECT max(sent_at) FROM campaign_sends WHERE campaign_id = ?1",
                [r.campaign_id],
                |row| row.get(0),
            )
            .map_err(sql("read the campaign's sends"))?;
        let ends = last_send
            .as_deref()
            .and_then(epoch_seconds)
            .map(|t| t + window);
        let through = info.orders_through.as_deref().and_then(epoch_seconds);
        if let Some(ends) = ends {
            if through.is_none_or(|t| t < ends) {
                let window = info.window_days.unwrap_or(DEFAULT_WINDOW_DAYS);
                let ends = iso(ends);
                notes.push(match info.orders_through.as_deref() {
                    Some(t) => format!(
                        "The {window}-day attribution window runs to {}, but the orders imported end on {}: import newer orders and compute again for the full picture.",
                        &ends[..10],
                        &t[..t.len().min(10)]
                    ),
                    None => format!(
                        "The {window}-day attribution window runs to {}, but no orders are imported yet: import them and compute again.",
                        &ends[..10]
                    ),
                });
            }
        }
        let newer: Option<String> = conn
            .query_row(
                "SELECT max(finished_at) FROM imports WHERE kind = 'orders'",
                [],
                |row| row.get(0),
            )
            .map_err(sql("read the imports"))?;
        if newer.is_some_and(|n| n > info.at) {
            notes.push("Orders were imported after conversions were computed: compute them again to include them.".to_owned());
        }
    }
    // Recipients the tool said nothing about, once for the whole campaign.
    if let Some(g) = r.groups.iter().find(|g| g.kind == GroupKind::AllRecipients) {
        if let Some(e) = &g.email {
            let missing = g.recipients.saturating_sub(e.with_results);
            if missing > 0 {
                notes.push(format!(
                    "The results file has no row for {} of the {} recipients; they count as not delivered, opened, clicked or converted.",
                    grouped(missing),
                    grouped(g.recipients)
                ));
            }
        }
    }
    if r.comparisons.iter().any(|c| c.significant) {
        let tests = r.comparisons.len();
        if tests > 3 {
            notes.push(format!(
                "{tests} comparisons were tested at {}: with many comparisons, one can look significant by chance.",
                percent_label(r.confidence)
            ));
        }
    }
    Ok(notes)
}

/// The report's chart: conversion rate per group (from orders when
/// computed, else as the email tool reports it, else the click or open
/// rate); the holdout in grey. `None` with nothing to draw.
pub fn chart(r: &CampaignReport) -> Option<NamedChart> {
    let variants = r.groups.iter().any(|g| g.kind == GroupKind::Variant);
    let shown: Vec<&ReportGroup> = r
        .groups
        .iter()
        .filter(|g| !(variants && g.kind == GroupKind::AllRecipients))
        .collect();
    type Pick = fn(&ReportGroup) -> Option<f64>;
    let choices: [(&str, String, Pick); 4] = [
        (
            "Conversion rate",
            format!(
                "Placed an order within {} of the send",
                days(r.window_days.unwrap_or(DEFAULT_WINDOW_DAYS))
            ),
            |g| g.orders.as_ref().map(|o| o.converted.rate),
        ),
        (
            "Conversion rate",
            "Conversions reported by the email tool".to_owned(),
            |g| g.email.as_ref()?.converted.map(|c| c.rate),
        ),
        (
            "Click rate",
            "Clicks reported by the email tool, per recipient".to_owned(),
            |g| g.email.as_ref()?.clicked.map(|c| c.rate),
        ),
        (
            "Open rate",
            "Opens reported by the email tool, per recipient".to_owned(),
            |g| g.email.as_ref()?.opened.map(|c| c.rate),
        ),
    ];
    let (label, subtitle, pick) = choices
        .into_iter()
        .find(|(_, _, pick)| shown.iter().any(|g| pick(g).is_some()))?;
    let sizes: Vec<String> = shown
        .iter()
        .map(|g| match g.kind {
            GroupKind::Holdout => format!("{} held out", grouped(g.recipients)),
            GroupKind::Variant => format!("{} {}", grouped(g.recipients), g.name),
            GroupKind::AllRecipients => format!("{} recipients", grouped(g.recipients)),
        })
        .collect();
    let subtitle = format!("{subtitle} · {}", sizes.join(", "));
    let bars: Vec<Bar> = shown
        .iter()
        .filter_map(|g| {
            let v = pick(g)?;
            let name = match g.kind {
                GroupKind::Variant => format!("Variant {}", g.name),
                _ => g.name.clone(),
            };
            let bar = Bar::new(name, v);
            Some(if g.kind == GroupKind::Holdout {
                bar.with_color("#8C8C8C")
            } else {
                bar
            })
        })
        .collect();
    Some(NamedChart {
        name: "campaign_results",
        spec: ChartSpec::Bar(
            BarChart::new(bars, "Group", label, Unit::Percent).colors(BarColors::Categorical),
        ),
        options: ChartOptions::new(format!("{label} by group — {}", r.campaign_name))
            .with_subtitle(subtitle),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Workspace;

    const SENT: &str = "2026-11-02T09:00:00Z";

    /// A workspace with 1,000 profiles (pN@example.com), campaign 1 sent
    /// on SENT to profiles 1–800 (variants A and B alternating) with
    /// profiles 801–1000 held out.
    struct Fixture {
        _dir: tempfile::TempDir,
        dir: std::path::PathBuf,
        ws: Workspace,
    }

    impl Fixture {
        fn new(variants: bool) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let ws = Workspace::open(dir.path().join("ws.cohort")).unwrap();
            let c = ws.conn();
            c.execute_batch(
                "INSERT INTO sources (id, name, kind, created_at) VALUES (1, 'Shop', 'orders', '2026-01-01T00:00:00Z');
                 INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, mapping, detected, started_at, finished_at)
                      VALUES (1, 1, 'orders.csv', 'orders.csv', 0, 'x', 'orders', '[]', '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
                 INSERT INTO segments (id, name, kind, created_at, updated_at) VALUES (1, 'Everyone', 'static', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');",
            )
            .unwrap();
            let campaign = super::super::create(
                c,
                super::super::NewCampaign {
                    name: "Spring sale".into(),
                    segment_id: 1,
                    channel: super::super::Channel::Email,
                    template: None,
                    holdout_percent: 20.0,
                },
                "2026-11-01T00:00:00Z",
            )
            .unwrap();
            assert_eq!(campaign.id, 1);
            c.execute(
                "INSERT INTO campaign_exports (id, campaign_id, at, format, path, segment_id, members, held_out,
                     suppressed, suppressed_reasons, exported, file_sha256, bytes)
                 VALUES (1, 1, ?1, 'mailchimp', 'out.csv', 1, 1000, 200, 0, '{}', 800, 'x', 0)",
                [SENT],
            )
            .unwrap();
            let tx = c.unchecked_transaction().unwrap();
            for id in 1..=1000i64 {
                tx.execute(
                    "INSERT INTO profiles (id, email, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                    params![id, format!("p{id}@example.com"), SENT],
                )
                .unwrap();
                tx.execute(
                    "INSERT INTO identity_records (id, kind, source_id, source_key, fingerprint, profile_id)
                     VALUES (?1, 'contact', 1, ?2, 0, ?1)",
                    params![id, format!("c{id}")],
                )
                .unwrap();
                tx.execute(
                    "INSERT INTO identifiers (kind, value, record_id) VALUES ('email', ?1, ?2)",
                    params![format!("p{id}@example.com"), id],
                )
                .unwrap();
                if id <= 800 {
                    let variant = match (variants, id % 2) {
                        (false, _) => "",
                        (true, 1) => "A",
                        (true, _) => "B",
                    };
                    tx.execute(
                        "INSERT INTO campaign_sends (campaign_id, profile_id, variant, export_id, sent_at)
                         VALUES (1, ?1, ?2, 1, ?3)",
                        params![id, variant, SENT],
                    )
                    .unwrap();
                } else {
                    tx.execute(
                        "INSERT INTO campaign_holdout (campaign_id, profile_id) VALUES (1, ?1)",
                        [id],
                    )
                    .unwrap();
                }
            }
            // A person nobody sent anything: profile 1001, not in the campaign.
            tx.execute_batch(
                "INSERT INTO profiles (id, email, created_at, updated_at) VALUES (1001, 'stranger@example.com', '', '');
                 INSERT INTO identity_records (id, kind, source_id, source_key, fingerprint, profile_id)
                      VALUES (1001, 'contact', 1, 'c1001', 0, 1001);
                 INSERT INTO identifiers (kind, value, record_id) VALUES ('email', 'stranger@example.com', 1001);",
            )
            .unwrap();
            tx.commit().unwrap();
            Fixture {
                dir: dir.path().to_path_buf(),
                _dir: dir,
                ws,
            }
        }

        fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
            let p = self.dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        }

        /// An order of `profile` at `at` for `total` cents.
        fn order(&self, n: i64, profile: i64, at: &str, total: i64, extra: &str) {
            let c = self.ws.conn();
            c.execute(
                &format!(
                    "INSERT INTO orders (id, source_id, source_key, import_id, row_number, row_hash, ordered_at,
                         total, currency, refunded, financial_status, cancelled_at)
                     VALUES (?1, 1, ?2, 1, 1, 0, ?3, ?4, {extra})"
                ),
                params![n, format!("#{n}"), at, total],
            )
            .unwrap();
            c.execute(
                "INSERT INTO identity_records (id, kind, source_id, source_key, row_id, fingerprint, profile_id)
                 VALUES (?1, 'order', 1, ?2, ?3, 0, ?4)",
                params![100_000 + n, format!("#{n}"), n, profile],
            )
            .unwrap();
        }

        fn stored(&self, source: &str) -> Vec<(i64, i64, i64, i64, i64, i64)> {
            let c = self.ws.conn();
            let mut st = c
                .prepare(
                    "SELECT profile_id, delivered, opened, clicked, converted, revenue FROM campaign_results
                      WHERE campaign_id = 1 AND source = ?1 ORDER BY profile_id",
                )
                .unwrap();
            st.query_map([source], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
        }
    }

    const NOW: &str = "2026-11-20T00:00:00Z";

    #[test]
    fn imports_a_mailchimp_style_report() {
        let mut f = Fixture::new(false);
        let file = f.write(
            "results.csv",
            "\u{feff}Email Address,Opens,Clicks,Revenue\n\
             P1@Example.com,3,1,$12.50\n\
             p2@example.com,0,0,\n\
             p3@example.com,1,0,abc\n\
             nobody@example.com,1,1,\n\
             p900@example.com,1,0,\n\
             stranger@example.com,1,0,\n\
             ,1,0,\n\
             p1@example.com,1,1,2.00\n\
             p4@example.com,yes,no,€3\n",
        );
        let r = import_results(f.ws.conn_mut(), 1, &file, NOW).unwrap();
        assert_eq!(r.rows, 9);
        assert_eq!(r.matched, 3, "{r:#?}");
        assert_eq!(r.recipients, 2);
        assert_eq!(r.recipients_without_results, 798);
        assert_eq!(r.unknown_recipients, 1);
        assert_eq!(r.unknown[0].row, 5);
        assert_eq!(r.unknown[0].column, "Email Address");
        assert_eq!(r.not_sent, 2);
        assert!(r.not_sent_rows[0].reason.contains("holdout"), "{r:#?}");
        assert!(r.not_sent_rows[1].reason.contains("not sent"), "{r:#?}");
        assert_eq!(r.rejected_rows, 3);
        let bad_revenue = &r.rejected[0];
        assert_eq!(
            (bad_revenue.row, bad_revenue.column.as_str()),
            (4, "Revenue")
        );
        assert!(
            bad_revenue.reason.contains("not an amount"),
            "{bad_revenue:?}"
        );
        assert_eq!(r.rejected[1].row, 8);
        assert!(r.rejected[1].reason.contains("no email"));
        assert!(r.rejected[2].reason.contains("EUR"), "{:?}", r.rejected[2]);
        assert_eq!(r.columns["recipient"], "Email Address");
        assert_eq!(r.columns["opened"], "Opens");
        // p1's two rows are combined: opened, clicked, 12.50 + 2.00; no
        // delivered column: every row counts as delivered.
        assert_eq!(
            f.stored("email_tool"),
            vec![(1, 1, 1, 1, 1, 1450), (2, 1, 0, 0, 0, 0)]
        );
    }

    #[test]
    fn a_new_import_replaces_and_a_bad_file_changes_nothing() {
        let mut f = Fixture::new(false);
        let first = f.write(
            "a.csv",
            "Email,Opened\np1@example.com,1\np2@example.com,1\n",
        );
        import_results(f.ws.conn_mut(), 1, &first, NOW).unwrap();
        let second = f.write("b.csv", "email;delivered;opened\np3@example.com;1;0\n");
        let r = import_results(f.ws.conn_mut(), 1, &second, NOW).unwrap();
        assert_eq!(r.replaced, 2);
        assert_eq!(f.stored("email_tool"), vec![(3, 1, 0, 0, 0, 0)]);

        let before = f.stored("email_tool");
        // No recipient column.
        let file = f.write("c.csv", "Name,Opens\nAnn,1\n");
        let e = import_results(f.ws.conn_mut(), 1, &file, NOW).unwrap_err();
        assert_eq!(e.code(), "no_recipient_column", "{e}");
        assert!(e.to_string().contains("Name, Opens"), "{e}");
        // No results column.
        let file = f.write("d.csv", "Email,Name\np1@example.com,Ann\n");
        let e = import_results(f.ws.conn_mut(), 1, &file, NOW).unwrap_err();
        assert_eq!(e.code(), "no_results_columns", "{e}");
        // Not a CSV file, or an empty one.
        let binary = f.dir.join("e.csv");
        std::fs::write(
            &binary,
            b"PK\x03\x04\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x01\x02",
        )
        .unwrap();
        let e = import_results(f.ws.conn_mut(), 1, &binary, NOW).unwrap_err();
        assert!(matches!(e, ResultsError::File(_)), "{e:?}");
        let empty = f.write("empty.csv", "");
        let e = import_results(f.ws.conn_mut(), 1, &empty, NOW).unwrap_err();
        assert_eq!(e.code(), "empty_file", "{e}");
        // Nobody matched: the wrong file.
        let file = f.write("f.csv", "Email,Opened\nx@y.com,1\n");
        let e = import_results(f.ws.conn_mut(), 1, &file, NOW).unwrap_err();
        assert_eq!(e.code(), "nothing_matched", "{e}");
        // Missing file.
        let file = f.dir.join("missing.csv");
        let e = import_results(f.ws.conn_mut(), 1, &file, NOW).unwrap_err();
        assert!(e.to_string().contains("missing.csv"), "{e}");
        assert_eq!(f.stored("email_tool"), before);
    }

    #[test]
    fn klaviyo_headers_and_cells() {
        let header: Vec<String> = [
            "Email",
            "Received",
            "Opened",
            "Clicked",
            "Placed Order",
            "Revenue",
        ]
        .map(String::from)
        .to_vec();
        let found = find_columns(&header);
        assert_eq!(found[&0], Column::Email);
        assert_eq!(found[&1], Column::Delivered);
        assert_eq!(found[&4], Column::Converted);
        assert_eq!(found[&5], Column::Revenue);
        assert_eq!(flag("TRUE"), Ok(true));
        assert_eq!(flag("no"), Ok(false));
        assert_eq!(flag("2"), Ok(true));
        assert_eq!(flag("0"), Ok(false));
        assert_eq!(flag(""), Ok(false));
        assert_eq!(flag("2026-11-02 10:00:00"), Ok(true));
        assert!(flag("maybe").is_err());
        assert_eq!(revenue("$1,234.50", "USD"), Ok(123_450));
        assert_eq!(revenue("12", "USD"), Ok(1200));
        assert_eq!(revenue("$12", "CAD"), Ok(1200));
        assert_eq!(revenue("1200", "JPY"), Ok(1200));
        assert!(revenue("12 EUR", "USD").unwrap_err().contains("EUR"));
        assert!(revenue("-3", "USD").unwrap_err().contains("negative"));
    }

    #[test]
    fn conversions_from_orders_within_the_window() {
        let mut f = Fixture::new(false);
        let usd = "'USD', 0, 'paid', NULL";
        // In the window: profiles 1–80 (10% of recipients), 801–804 (2% of the holdout).
        let mut n = 0;
        for p in (1..=80).chain(801..=804) {
            n += 1;
            f.order(n, p, "2026-11-05T10:00:00Z", 5000, usd);
        }
        // Not counted: before the send, after 14 days, cancelled, voided.
        f.order(1001, 81, "2026-11-01T10:00:00Z", 5000, usd);
        f.order(1002, 82, "2026-11-16T09:00:00Z", 5000, usd);
        f.order(
            1003,
            83,
            "2026-11-05T10:00:00Z",
            5000,
            "'USD', 0, 'paid', '2026-11-06T00:00:00Z'",
        );
        f.order(
            1004,
            84,
            "2026-11-05T10:00:00Z",
            5000,
            "'USD', 0, 'voided', NULL",
        );
        // Counted without revenue: another currency; refunds subtract.
        f.order(
            1005,
            85,
            "2026-11-05T10:00:00Z",
            5000,
            "'EUR', 0, 'paid', NULL",
        );
        f.order(
            1006,
            1,
            "2026-11-06T10:00:00Z",
            3000,
            "'USD', 1000, 'paid', NULL",
        );
        let a = results_from_orders(f.ws.conn_mut(), 1, 14, NOW).unwrap();
        assert_eq!(a.recipients, 800);
        assert_eq!(a.holdout, 200);
        assert_eq!(a.recipients_converted, 81);
        assert_eq!(a.holdout_converted, 4);
        assert_eq!(a.orders, 86);
        assert_eq!(a.other_currency_orders, 1);
        assert_eq!(a.recipients_revenue, 80 * 5000 + 2000);
        assert_eq!(a.holdout_revenue, 4 * 5000);
        assert_eq!(a.window_ends, "2026-11-16T09:00:00Z");
        assert_eq!(f.stored("orders").len(), 85);

        let r = report(f.ws.conn(), 1, 0.95, DEFAULT_SEED).unwrap();
        let names: Vec<&str> = r.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, [ALL_RECIPIENTS, HOLDOUT]);
        let all = r.groups[0].orders.as_ref().unwrap();
        assert_eq!((all.converted.count, all.converted.of), (81, 800));
        assert!((all.revenue_per_recipient - 4020.0 / 800.0).abs() < 1e-9);
        let c = &r.comparisons[0];
        assert_eq!(
            (c.group.as_str(), c.against.as_str()),
            (ALL_RECIPIENTS, HOLDOUT)
        );
        assert!((c.uplift_points - (81.0 / 800.0 - 0.02) * 100.0).abs() < 1e-9);
        assert!(c.significant && c.p_value < 0.001, "{c:?}");
        assert!(
            r.verdict.starts_with(
                "Recipients beat the holdout by 8.1 points (conversion 10.1% vs 2.0%), 95% CI"
            ),
            "{}",
            r.verdict
        );
        assert!(
            r.verdict.contains(
                "Revenue per recipient: $5.03 vs $1.00 for the holdout (difference $4.03, 95% CI $"
            ),
            "{}",
            r.verdict
        );
        assert!(r.chart_svg.as_deref().is_some_and(|s| s.contains("<svg")));
        // The latest order is at the window's end: the window is complete.
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        // Same seed, same report.
        assert_eq!(report(f.ws.conn(), 1, 0.95, DEFAULT_SEED).unwrap(), r);

        // A second computation replaces the first.
        let a = results_from_orders(f.ws.conn_mut(), 1, 1, NOW).unwrap();
        assert_eq!(a.recipients_converted, 0);
        assert!(f.stored("orders").is_empty());
        let r = report(f.ws.conn(), 1, 0.95, DEFAULT_SEED).unwrap();
        assert_eq!(
            r.verdict,
            "Nobody has placed an order within 1 day of the send yet, recipients or holdout: there is nothing to compare."
        );
        assert!(matches!(
            results_from_orders(f.ws.conn_mut(), 1, 0, NOW),
            Err(ResultsError::Window(0))
        ));
    }

    #[test]
    fn variants_are_compared_with_each_other_and_the_holdout() {
        let mut f = Fixture::new(true);
        // The tool: B (even ids) clicks far more than A.
        let mut csv = String::from("Email,Delivered,Opened,Clicked\n");
        for id in 1..=800 {
            let clicked = if id % 2 == 0 {
                id % 5 == 0
            } else {
                id % 25 == 1
            };
            csv.push_str(&format!(
                "p{id}@example.com,1,{},{}\n",
                u8::from(id % 3 == 0),
                u8::from(clicked)
            ));
        }
        let file = f.write("klaviyo.csv", &csv);
        import_results(f.ws.conn_mut(), 1, &file, NOW).unwrap();
        let r = report(f.ws.conn(), 1, 0.95, DEFAULT_SEED).unwrap();
        let names: Vec<&str> = r.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["A", "B", ALL_RECIPIENTS, HOLDOUT]);
        let b = r.groups[1].email.as_ref().unwrap();
        assert_eq!(b.clicked.unwrap().count, 80);
        assert_eq!(b.delivered.unwrap().rate, 1.0);
        assert!(b.converted.is_none());
        assert!(r.groups[3].email.is_none());
        let click = r
            .comparisons
            .iter()
            .find(|c| c.metric == Metric::Click)
            .unwrap();
        assert_eq!((click.group.as_str(), click.against.as_str()), ("B", "A"));
        assert!(click.significant);
        assert!(
            r.verdict.contains("compute conversions from orders"),
            "{}",
            r.verdict
        );
        assert!(
            r.verdict.contains("Between variants, Variant B beat Variant A on click rate by 16.0 points (20.0% vs 4.0%"),
            "{}",
            r.verdict
        );

        // Orders: nobody converts more than the holdout.
        let usd = "'USD', 0, 'paid', NULL";
        for (n, p) in [(1, 1), (2, 2), (3, 801)] {
            f.order(n, p, "2026-11-20T10:00:00Z", 2000, usd);
        }
        results_from_orders(f.ws.conn_mut(), 1, 30, NOW).unwrap();
        let r = report(f.ws.conn(), 1, 0.95, DEFAULT_SEED).unwrap();
        assert!(
            r.verdict.starts_with(
                "No variant did measurably better than the holdout yet (best: Variant"
            ),
            "{}",
            r.verdict
        );
        assert_eq!(r.window_days, Some(30));
        // The orders end on 2026-11-20, before the 30-day window closes.
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("runs to 2026-12-02") && n.contains("end on 2026-11-20")),
            "{:?}",
            r.notes
        );
        let against_holdout: Vec<&str> = r
            .comparisons
            .iter()
            .filter(|c| c.against == HOLDOUT)
            .map(|c| c.group.as_str())
            .collect();
        assert_eq!(against_holdout, ["A", "B", ALL_RECIPIENTS]);
        assert_eq!(r.revenue.len(), 4);
        assert!(r.revenue.iter().all(|m| m.source == Source::Orders));

        // The tool's revenue: a quarter of B spends $50 (every 4th id), a
        // tenth of that share in A (every 20th).
        let mut csv = String::from("Email,Revenue\n");
        for id in 1..=800 {
            let paid = if id % 2 == 0 {
                id % 4 == 0
            } else {
                id % 20 == 1
            };
            let cell = if paid { "50.00" } else { "" };
            csv.push_str(&format!("p{id}@example.com,{cell}\n"));
        }
        let file = f.write("revenue.csv", &csv);
        import_results(f.ws.conn_mut(), 1, &file, NOW).unwrap();
        let r = report(f.ws.conn(), 1, 0.95, DEFAULT_SEED).unwrap();
        let (a, b) = (&r.groups[0], &r.groups[1]);
        assert_eq!(a.email.as_ref().unwrap().revenue, Some(40 * 5000));
        assert_eq!(a.email.as_ref().unwrap().revenue_per_recipient, Some(5.0));
        assert_eq!(b.email.as_ref().unwrap().revenue_per_recipient, Some(25.0));
        let tool: Vec<&RevenueComparison> = r
            .revenue
            .iter()
            .filter(|m| m.source == Source::EmailTool)
            .collect();
        assert_eq!(tool.len(), 1, "{:?}", r.revenue);
        let m = tool[0];
        assert_eq!((m.group.as_str(), m.against.as_str()), ("B", "A"));
        assert!((m.per_recipient - 25.0).abs() < 1e-9);
        assert!((m.baseline_per_recipient - 5.0).abs() < 1e-9);
        assert!((m.difference_per_recipient - 20.0).abs() < 1e-9);
        // $20 more per recipient; the interval is around it and above 0.
        assert!(m.ci_low > 10.0 && m.ci_low < 20.0, "{m:?}");
        assert!(m.ci_high > 20.0 && m.ci_high < 30.0, "{m:?}");
        assert!(m.significant);
        // The orders' comparisons (and their seeds) are as before.
        assert_eq!(r.revenue.len(), 5);
        // Same seed, same interval.
        let again = report(f.ws.conn(), 1, 0.95, DEFAULT_SEED).unwrap();
        assert_eq!(again.revenue, r.revenue);
    }

    #[test]
    fn without_a_holdout_only_variants_compare() {
        let mut f = Fixture::new(false);
        f.ws.conn()
            .execute_batch("DELETE FROM campaign_holdout")
            .unwrap();
        results_from_orders(f.ws.conn_mut(), 1, 14, NOW).unwrap();
        let r = report(f.ws.conn(), 1, 0.95, DEFAULT_SEED).unwrap();
        assert_eq!(r.groups.len(), 1);
        assert!(r.comparisons.is_empty());
        assert!(
            r.verdict.starts_with("This campaign has no holdout"),
            "{}",
            r.verdict
        );
        assert!(r.chart_svg.is_some());
    }

    #[test]
    fn campaigns_without_sends_are_explained() {
        let mut f = Fixture::new(false);
        f.ws.conn()
            .execute_batch("DELETE FROM campaign_sends")
            .unwrap();
        let e = report(f.ws.conn(), 1, 0.95, 1).unwrap_err();
        assert_eq!(e.code(), "no_recipients");
        f.ws.conn()
            .execute_batch("DELETE FROM campaign_exports")
            .unwrap();
        let e = results_from_orders(f.ws.conn_mut(), 1, 14, NOW).unwrap_err();
        assert_eq!(e.code(), "not_exported");
        assert_eq!(
            report(f.ws.conn(), 7, 0.95, 1).unwrap_err().code(),
            "not_found"
        );
        assert_eq!(
            report(f.ws.conn(), 1, 1.5, 1).unwrap_err().code(),
            "invalid"
        );
    }

    #[test]
    fn words() {
        assert_eq!(p_text(0.000_04), "p < 0.0001");
        assert_eq!(p_text(0.000_41), "p = 0.00041");
        assert_eq!(p_text(0.003_256), "p = 0.0033");
        assert_eq!(p_text(0.41), "p = 0.41");
        assert_eq!(p_text(0.022_2), "p = 0.022");
        assert_eq!(range(0.9, 2.7, number), "0.9–2.7");
        assert_eq!(range(-0.5, 0.9, number), "\u{2212}0.5 to 0.9");
        assert_eq!(number(0.04), "0.04");
        assert_eq!(number(-0.0001), "0.00");
        assert_eq!(pct(0.041), "4.1%");
        assert_eq!(percent_label(0.95), "95%");
        assert_eq!(percent_label(0.975), "97.5%");
        assert_eq!(money_text(1.2, "USD"), "$1.20");
        assert_eq!(money_text(-0.5, "EUR"), "\u{2212}€0.50");
        assert_eq!(money_text(1234.5, "CHF"), "1,234.50 CHF");
        assert_eq!(money_text(-0.001, "USD"), "$0.00");
    }
}
