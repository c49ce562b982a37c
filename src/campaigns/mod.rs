//! Campaigns: a segment sent on one channel (email, SMS, ads), with a
//! deterministic holdout kept back, suppression always applied, and exports
//! to the tools that send (Mailchimp, Klaviyo, HubSpot, Brevo) or advertise
//! (Meta custom audiences, Google Ads Customer Match), or a generic CSV.
//!
//! Code map:
//! - `mod.rs`: [`Campaign`], [`Channel`], CRUD and [`CampaignError`].
//! - `holdout.rs`: who is held back (hash of salt and profile id), stored
//!   on the first export.
//! - `suppression.rs`: why a member is not sent to, one reason each;
//!   importing suppression lists.
//! - `formats.rs`: the destinations' headers, normalisation and hashing.
//! - `pseudonymise.rs`: identifiers replaced by a keyed hash per
//!   workspace (HMAC-SHA256) for files shared with analysts.
//! - `safe_csv.rs`: spreadsheet-safe cells (OWASP CSV injection) and the
//!   hashing writer.
//! - `export.rs`: [`export`], [`preview`] and the export log.
//! - `results.rs`: results from the email tool or from orders, and the
//!   report against the holdout; `stats.rs`: the tests and intervals.
//!
//! **Architecture invariant:** the members of a campaign's segment are
//! evaluated by the caller and passed in (ascending profile ids); this
//! module never evaluates segment rules. Held-out profiles are never
//! written to a file.

pub mod export;
pub mod formats;
pub mod holdout;
pub mod pseudonymise;
pub mod results;
pub mod safe_csv;
pub mod stats;
pub mod suppression;

use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

pub use export::{
    export, export_with, exports, preview, Audience, ExportRecord, ExportRequest, ExportSummary,
    Personalisation,
};
pub use formats::Format;
pub use holdout::{holdout_members, is_held_out};
pub use suppression::{import_suppression_list, Reason, SuppressionImport};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CampaignError {
    #[error("a campaign needs a name")]
    EmptyName,
    #[error("there is already a campaign named “{0}”; pick another name")]
    NameTaken(String),
    #[error("the holdout must be at least 0% and less than 100%, not {0}%")]
    HoldoutOutOfRange(f64),
    #[error("there is no segment with id {0}")]
    UnknownSegment(i64),
    #[error("there is no campaign with id {0}")]
    NotFound(i64),
    #[error("campaign “{name}” has already been exported with a {percent}% holdout; the holdout is fixed from then on so results stay comparable (create a new campaign to change it)")]
    HoldoutLocked { name: String, percent: f64 },
    #[error("unknown channel `{0}`; use email, sms or ads")]
    UnknownChannel(String),
    #[error("unknown export format `{0}`; use one of csv, mailchimp, klaviyo, hubspot, brevo, meta, google_ads")]
    UnknownFormat(String),
    #[error("unknown column `{column}` for a CSV export; choose from: {known}")]
    UnknownColumn { column: String, known: String },
    #[error("{path}: cannot write the export: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot read the suppression list: {detail}")]
    ReadList { path: PathBuf, detail: String },
    #[error("{path}: no email or phone column (looked for “email”, “email address”, “e-mail”, “phone”, “phone number”, “mobile”); the columns are: {header}")]
    NoAddressColumn { path: PathBuf, header: String },
    /// A pseudonymised export that cannot be made (wrong destination,
    /// rendered content, a damaged key); the message says why.
    #[error("{0}")]
    Pseudonymise(String),
    /// The consent settings could not be read; the message says which.
    #[error("{0}")]
    Consent(String),
    #[error("could not {context}: {source}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// Personalised content (templates) that could not be rendered or
    /// written; the message names the variant, part, line and recipient.
    #[error("{message}")]
    Content { code: &'static str, message: String },
}

impl CampaignError {
    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            CampaignError::EmptyName
            | CampaignError::NameTaken(_)
            | CampaignError::HoldoutOutOfRange(_)
            | CampaignError::UnknownSegment(_)
            | CampaignError::HoldoutLocked { .. }
            | CampaignError::UnknownChannel(_)
            | CampaignError::UnknownFormat(_)
            | CampaignError::UnknownColumn { .. }
            | CampaignError::NoAddressColumn { .. }
            | CampaignError::Pseudonymise(_) => "invalid",
            CampaignError::NotFound(_) => "not_found",
            CampaignError::Write { .. } | CampaignError::ReadList { .. } => "io",
            CampaignError::Sql { .. } | CampaignError::Consent(_) => "store",
            CampaignError::Content { code, .. } => code,
        }
    }
}

pub type Result<T, E = CampaignError> = std::result::Result<T, E>;

pub(crate) fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> CampaignError {
    move |source| CampaignError::Sql { context, source }
}

/// Where a campaign is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "CampaignChannel")]
pub enum Channel {
    Email,
    Sms,
    Ads,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Ads];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Ads => "ads",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Channel {
    type Err = CampaignError;
    fn from_str(s: &str) -> Result<Channel> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| CampaignError::UnknownChannel(s.to_owned()))
    }
}

/// A saved campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub segment_id: i64,
    pub channel: Channel,
    /// Name of a template (templates issue), if any.
    pub template: Option<String>,
    /// Share of the segment kept back, 0 ≤ percent < 100.
    pub holdout_percent: f64,
    /// Makes holdout membership deterministic per campaign (hex).
    pub salt: String,
    pub created_at: String,
    pub updated_at: String,
}

/// What [`create`] needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCampaign {
    pub name: String,
    pub segment_id: i64,
    pub channel: Channel,
    pub template: Option<String>,
    pub holdout_percent: f64,
}

/// What [`update`] changes; `None` keeps the current value. `template:
/// Some(None)` removes the template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignUpdate {
    pub name: Option<String>,
    pub segment_id: Option<i64>,
    pub channel: Option<Channel>,
    pub template: Option<Option<String>>,
    pub holdout_percent: Option<f64>,
}

const SELECT: &str = "SELECT id, name, segment_id, channel, template, holdout_percent, salt, created_at, updated_at FROM campaigns";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Campaign> {
    let channel: String = r.get(3)?;
    Ok(Campaign {
        id: r.get(0)?,
        name: r.get(1)?,
        segment_id: r.get(2)?,
        // The CHECK constraint allows only the three channels.
        channel: channel.parse().unwrap_or(Channel::Email),
        template: r.get(4)?,
        holdout_percent: r.get(5)?,
        salt: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

fn check_name(conn: &Connection, name: &str, except: Option<i64>) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CampaignError::EmptyName);
    }
    let taken: Option<i64> = conn
        .query_row("SELECT id FROM campaigns WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql("check the campaign name"))?;
    match taken {
        Some(id) if Some(id) != except => Err(CampaignError::NameTaken(name.to_owned())),
        _ => Ok(name.to_owned()),
    }
}

fn check_percent(percent: f64) -> Result<f64> {
    if percent.is_finite() && (0.0..100.0).contains(&percent) {
        Ok(percent)
    } else {
        Err(CampaignError::HoldoutOutOfRange(percent))
    }
}

fn check_segment(conn: &Connection, segment_id: i64) -> Result<()> {
    let found = conn
        .query_row("SELECT 1 FROM segments WHERE id = ?1", [segment_id], |_| {
            Ok(())
        })
        .optional()
        .map_err(sql("look up the campaign's segment"))?;
    found.ok_or(CampaignError::UnknownSegment(segment_id))
}

fn clean_template(t: Option<String>) -> Option<String> {
    t.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Creates a campaign. The salt is the hex of SHA-256(name, now): it looks
/// random, differs between campaigns, and is stored so holdout membership
/// never changes afterwards.
pub fn create(conn: &Connection, new: NewCampaign, now: &str) -> Result<Campaign> {
    let name = check_name(conn, &new.name, None)?;
    let percent = check_percent(new.holdout_percent)?;
    check_segment(conn, new.segment_id)?;
    let salt = safe_csv::sha256_hex(&format!("{name}\u{1f}{now}"))[..32].to_owned();
    conn.execute(
        "INSERT INTO campaigns (name, segment_id, channel, template, holdout_percent, salt, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            name,
            new.segment_id,
            new.channel.as_str(),
            clean_template(new.template),
            percent,
            salt,
            now
        ],
    )
    .map_err(sql("save the campaign"))?;
    let id = conn.last_insert_rowid();
    get(conn, id)?.ok_or(CampaignError::NotFound(id))
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Campaign>> {
    conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id], from_row)
        .optional()
        .map_err(sql("read a campaign"))
}

/// Every campaign, newest first.
pub fn list(conn: &Connection) -> Result<Vec<Campaign>> {
    let mut stmt = conn
        .prepare(&format!("{SELECT} ORDER BY id DESC"))
        .map_err(sql("list campaigns"))?;
    let rows = stmt
        .query_map([], from_row)
        .map_err(sql("list campaigns"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("list campaigns"))?;
    Ok(rows)
}

/// Whether the campaign has been exported (its holdout is then fixed).
pub fn has_exports(conn: &Connection, id: i64) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM campaign_exports WHERE campaign_id = ?1)
             OR EXISTS (SELECT 1 FROM campaign_holdout WHERE campaign_id = ?1)",
        [id],
        |r| r.get(0),
    )
    .map_err(sql("read the campaign's exports"))
}

/// Changes a campaign. The holdout percentage cannot change once the
/// campaign has been exported: the stored holdout must stay the one the
/// hash gives, so later exports and the results measurement agree.
pub fn update(conn: &Connection, id: i64, change: CampaignUpdate, now: &str) -> Result<Campaign> {
    let current = get(conn, id)?.ok_or(CampaignError::NotFound(id))?;
    let name = match &change.name {
        Some(n) => check_name(conn, n, Some(id))?,
        None => current.name.clone(),
    };
    let percent = match change.holdout_percent {
        Some(p) => {
            let p = check_percent(p)?;
            if p != current.holdout_percent && has_exports(conn, id)? {
                return Err(CampaignError::HoldoutLocked {
                    name: current.name,
                    percent: current.holdout_percent,
                });
            }
            p
        }
        None => current.holdout_percent,
    };
    let segment_id = match change.segment_id {
        Some(s) => {
            check_segment(conn, s)?;
            s
        }
        None => current.segment_id,
    };
    let channel = change.channel.unwrap_or(current.channel);
    let template = match change.template {
        Some(t) => clean_template(t),
        None => current.template,
    };
    conn.execute(
        "UPDATE campaigns SET name = ?2, segment_id = ?3, channel = ?4, template = ?5,
                holdout_percent = ?6, updated_at = ?7
          WHERE id = ?1",
        params![
            id,
            name,
            segment_id,
            channel.as_str(),
            template,
            percent,
            now
        ],
    )
    .map_err(sql("update the campaign"))?;
    get(conn, id)?.ok_or(CampaignError::NotFound(id))
}

/// Deletes a campaign with its stored holdout and its export log (the
/// exported files stay where they were written).
pub fn delete(conn: &Connection, id: i64) -> Result<()> {
    let n = conn
        .execute("DELETE FROM campaigns WHERE id = ?1", [id])
        .map_err(sql("delete the campaign"))?;
    if n == 0 {
        return Err(CampaignError::NotFound(id));
    }
    Ok(())
}
