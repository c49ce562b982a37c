//! The consent ledger: every piece of evidence about a person's consent per
//! channel (email, SMS, ads), kept forever (until the person is erased),
//! and the one place consent is read from.
//!
//! Evidence comes from
//! - imports: each stored contact whose consent column is granted or denied
//!   and differs (status or reason) from that record's latest entry for the
//!   channel ([`record_import`], set-based, inside the import's transaction;
//!   an unchanged re-import adds nothing);
//! - suppression lists: each newly listed address, denied
//!   ([`record_suppression`]);
//! - people: [`set`], recorded against the profile and audited.
//!
//! A profile's consent for a channel is derived, never stored: among the
//! evidence of its contact records, of the emails and phones any of its
//! records carries, and of the profile itself, the latest `at` wins; on a
//! tie, the source listed first in the priority setting; then denied over
//! granted. The SQL is the `profile_consent` view (migration 0008), which
//! every reader uses: segments (compile and index), campaign suppression,
//! templates and the profile page.
//!
//! What "no evidence" means is a setting per channel: when the channel
//! requires opt-in (the default for all three) it is no consent; when it
//! does not, it is consent. Segment rules test the ledger's status as it is
//! (`granted`, `denied`, `unknown` = no evidence); campaign exports and
//! templates apply the setting ([`ConsentState::may_contact`]).

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::audit::{self, Action};
use crate::campaigns::Channel;
use crate::store::setting_of;

/// Whether email needs an explicit opt-in ("yes") or only the absence of
/// an opt-out ("no").
pub const OPT_IN_EMAIL: (&str, &str) = ("consent_opt_in_email", "yes");
pub const OPT_IN_SMS: (&str, &str) = ("consent_opt_in_sms", "yes");
pub const OPT_IN_ADS: (&str, &str) = ("consent_opt_in_ads", "yes");
/// JSON array of source names, highest priority first. The key and the
/// default are repeated in the `profile_consent` view, which reads the
/// setting itself so that every reader ranks alike.
pub const SOURCE_PRIORITY: (&str, &str) = ("consent_source_priority", r#"["manual"]"#);
/// The source of changes made by hand.
pub const MANUAL: &str = "manual";

/// The view with one row per profile and channel that has evidence:
/// `(profile_id, channel, status, reason, source, at, ledger_id)`; a profile
/// without a row for a channel has no evidence for it. Use it as a table:
/// `SELECT profile_id FROM profile_consent WHERE channel = ?1 AND status = ?2`.
pub const PROFILE_CONSENT: &str = "profile_consent";

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("cannot {what}: {source}")]
    Sql {
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("there is no profile {0} (see `cohort profiles`)")]
    NoProfile(i64),
    #[error("there is no channel “{0}” (use email, sms or ads)")]
    UnknownChannel(String),
    #[error("there is no consent status “{0}” (use granted or denied)")]
    UnknownStatus(String),
    #[error("“{0}” is not a time in ISO 8601 with a zone, e.g. 2026-11-01T12:00:00Z")]
    BadTime(String),
    #[error("the consent setting {key} holds “{value}”, which is not {expected}; set it again with `cohort consent settings`")]
    BadSetting {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("a source priority needs at least one source name")]
    EmptyPriority,
}

pub type Result<T> = std::result::Result<T, ConsentError>;

fn sql(what: &'static str) -> impl Fn(rusqlite::Error) -> ConsentError {
    move |source| ConsentError::Sql { what, source }
}

/// A piece of evidence says one of these; "unknown" is the absence of
/// evidence, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "ConsentStatus")]
pub enum Status {
    Granted,
    Denied,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Granted => "granted",
            Status::Denied => "denied",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = ConsentError;
    fn from_str(s: &str) -> Result<Status> {
        match s.trim().to_ascii_lowercase().as_str() {
            "granted" => Ok(Status::Granted),
            "denied" => Ok(Status::Denied),
            _ => Err(ConsentError::UnknownStatus(s.to_owned())),
        }
    }
}

/// A channel by name, with this module's error.
pub fn channel(s: &str) -> Result<Channel> {
    s.parse()
        .map_err(|_| ConsentError::UnknownChannel(s.to_owned()))
}

/// Per channel: does it need an explicit opt-in?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "ConsentOptIn")]
pub struct OptIn {
    pub email: bool,
    pub sms: bool,
    pub ads: bool,
}

impl OptIn {
    pub fn required(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email,
            Channel::Sms => self.sms,
            Channel::Ads => self.ads,
        }
    }

    pub fn set(&mut self, channel: Channel, required: bool) {
        match channel {
            Channel::Email => self.email = required,
            Channel::Sms => self.sms = required,
            Channel::Ads => self.ads = required,
        }
    }
}

/// The consent settings of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "ConsentSettings")]
pub struct Settings {
    pub opt_in: OptIn,
    /// Source names, highest priority first; breaks ties between evidence
    /// with the same time. Unlisted sources come after listed ones.
    pub priority: Vec<String>,
}

fn opt_in_setting(conn: &Connection, key: (&'static str, &'static str)) -> Result<bool> {
    let v = setting_of(conn, key).map_err(sql("read the consent settings"))?;
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Ok(true),
        "no" | "false" | "0" => Ok(false),
        _ => Err(ConsentError::BadSetting {
            key: key.0,
            value: v,
            expected: "yes or no",
        }),
    }
}

/// The workspace's consent settings, with their defaults.
pub fn settings(conn: &Connection) -> Result<Settings> {
    let opt_in = OptIn {
        email: opt_in_setting(conn, OPT_IN_EMAIL)?,
        sms: opt_in_setting(conn, OPT_IN_SMS)?,
        ads: opt_in_setting(conn, OPT_IN_ADS)?,
    };
    let text = setting_of(conn, SOURCE_PRIORITY).map_err(sql("read the consent settings"))?;
    let priority: Vec<String> =
        serde_json::from_str(&text).map_err(|_| ConsentError::BadSetting {
            key: SOURCE_PRIORITY.0,
            value: text.clone(),
            expected: "a JSON list of source names",
        })?;
    Ok(Settings { opt_in, priority })
}

/// Stores the settings (audited, without personal data: source names and
/// flags). The caller owns the transaction if it wants one with other work.
pub fn save_settings(conn: &Connection, s: &Settings, at: &str) -> Result<()> {
    let mut priority: Vec<String> = Vec::new();
    for name in s.priority.iter().map(|n| n.trim()) {
        if !name.is_empty() && !priority.iter().any(|p| p == name) {
            priority.push(name.to_owned());
        }
    }
    if priority.is_empty() {
        return Err(ConsentError::EmptyPriority);
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let put = |key: &str, value: &str| {
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )
        .map_err(sql("save the consent settings"))
    };
    put(OPT_IN_EMAIL.0, yes_no(s.opt_in.email))?;
    put(OPT_IN_SMS.0, yes_no(s.opt_in.sms))?;
    put(OPT_IN_ADS.0, yes_no(s.opt_in.ads))?;
    let json = serde_json::to_string(&priority).expect("strings serialise");
    put(SOURCE_PRIORITY.0, &json)?;
    audit::record(
        conn,
        Action::SettingChange,
        at,
        Some("consent settings"),
        &serde_json::json!({"opt_in": s.opt_in, "priority": priority}),
    )
    .map_err(sql("audit the consent settings"))?;
    Ok(())
}

/// True when an import with this plan can carry consent (a consent or
/// opt-out column is mapped, or the file name gives it), so imports
/// without any skip the ledger query.
pub fn import_carries_consent(plan: &crate::ingest::Plan) -> bool {
    const FIELDS: [&str; 4] = [
        "consent_email",
        "consent_sms",
        "consent_ads",
        "email_opt_out",
    ];
    plan.kind == crate::ingest::Kind::Contacts
        && (plan
            .mapping
            .iter()
            .any(|m| m.field.as_deref().is_some_and(|f| FIELDS.contains(&f)))
            || plan
                .constants
                .iter()
                .any(|(f, _)| FIELDS.contains(&f.as_str())))
}

/// Records the consent evidence of the contacts import `import_id` wrote
/// (inserted or updated rows carry its id), in one statement: a record's
/// value for a channel becomes an entry unless its latest entry for that
/// channel already says the same (status and reason). Call it in the
/// import's transaction after the rows are written. Returns the entries
/// added.
pub fn record_import(
    conn: &Connection,
    import_id: i64,
    recorded_at: &str,
) -> rusqlite::Result<u64> {
    let n = conn.execute(
        "INSERT INTO consent_ledger (channel, status, reason, contact_id, source, at, import_id, row_number, recorded_at)
         SELECT e.channel, e.status, e.reason, e.contact_id, e.source, coalesce(e.at, ?2),
                e.import_id, e.row_number, ?2
           FROM contact_consent_evidence e
          WHERE e.import_id = ?1
            AND (SELECT l.status || '/' || coalesce(l.reason, '') FROM consent_ledger l
                  WHERE l.contact_id = e.contact_id AND l.channel = e.channel
                  ORDER BY l.id DESC LIMIT 1)
                IS NOT e.status || '/' || coalesce(e.reason, '')
          ORDER BY e.contact_id, e.channel",
        params![import_id, recorded_at],
    )?;
    Ok(n as u64)
}

/// Records an address newly put on a suppression list: denied for the
/// channel the address reaches (email → email, E.164 phone → SMS), with
/// the list's reason, its file name as the source and the row it was on.
pub fn record_suppression(
    conn: &Connection,
    kind: &str,
    address: &str,
    reason: &str,
    source: &str,
    at: &str,
    row_number: u64,
) -> rusqlite::Result<()> {
    let channel = if kind == "email" { "email" } else { "sms" };
    conn.execute(
        "INSERT INTO consent_ledger (channel, status, reason, address, source, at, row_number, recorded_at)
         VALUES (?1, 'denied', ?2, ?3, ?4, ?5, ?6, ?5)",
        params![channel, reason, address, source, at, row_number as i64],
    )?;
    Ok(())
}

/// `at` as `YYYY-MM-DDTHH:MM:SSZ` (UTC), the form every entry has, so that
/// evidence compares as text.
fn normalise_time(at: &str) -> Result<String> {
    chrono::DateTime::parse_from_rfc3339(at.trim())
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .map_err(|_| ConsentError::BadTime(at.to_owned()))
}

fn profile_exists(conn: &Connection, profile_id: i64) -> Result<()> {
    let found: Option<i64> = conn
        .query_row("SELECT id FROM profiles WHERE id = ?1", [profile_id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql("find the profile"))?;
    found.map(|_| ()).ok_or(ConsentError::NoProfile(profile_id))
}

/// Records consent given or withdrawn by hand (a phone call, a form)
/// against the profile, at `at` (when it happened; usually now), and
/// audits the change without personal data. Returns the entry's id.
pub fn set(
    conn: &Connection,
    profile_id: i64,
    channel: Channel,
    status: Status,
    source: &str,
    at: &str,
    note: Option<&str>,
) -> Result<i64> {
    profile_exists(conn, profile_id)?;
    let at = normalise_time(at)?;
    let source = match source.trim() {
        "" => MANUAL,
        s => s,
    };
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    conn.execute(
        "INSERT INTO consent_ledger (channel, status, reason, profile_id, source, at, recorded_at, note)
         VALUES (?1, ?2, 'manual', ?3, ?4, ?5, ?5, ?6)",
        params![channel.as_str(), status.as_str(), profile_id, source, at, note],
    )
    .map_err(sql("record the consent change"))?;
    let id = conn.last_insert_rowid();
    audit::record(
        conn,
        Action::ConsentChange,
        &at,
        Some(&format!("profile {profile_id}")),
        &serde_json::json!({"channel": channel.as_str(), "status": status.as_str(), "source": source}),
    )
    .map_err(sql("audit the consent change"))?;
    Ok(id)
}

/// A profile's consent for one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ConsentState {
    pub channel: Channel,
    /// `granted`, `denied`, or `unknown` (no evidence).
    pub status: String,
    /// Whether the channel needs an explicit opt-in (setting).
    pub opt_in_required: bool,
    /// Whether a campaign may reach the person on this channel as far as
    /// consent goes: granted, or no evidence where no opt-in is required.
    pub may_contact: bool,
    /// The winning evidence, when there is some.
    pub source: Option<String>,
    pub at: Option<String>,
    pub reason: Option<String>,
    #[ts(type = "number | null")]
    pub ledger_id: Option<i64>,
    pub import_file: Option<String>,
    #[ts(type = "number | null")]
    pub row_number: Option<i64>,
}

/// Whether `status` (from `profile_consent`, `None` = no evidence) allows
/// contact on a channel whose opt-in requirement is `opt_in_required`.
pub fn may_contact(status: Option<&str>, opt_in_required: bool) -> bool {
    match status {
        Some("granted") => true,
        Some(_) => false,
        None => !opt_in_required,
    }
}

/// The effective consent of profile `profile_id` per channel, in the order
/// email, SMS, ads.
pub fn effective(conn: &Connection, profile_id: i64) -> Result<[ConsentState; 3]> {
    profile_exists(conn, profile_id)?;
    let s = settings(conn)?;
    let mut out = Channel::ALL.map(|channel| {
        let opt_in_required = s.opt_in.required(channel);
        ConsentState {
            channel,
            status: "unknown".into(),
            opt_in_required,
            may_contact: may_contact(None, opt_in_required),
            source: None,
            at: None,
            reason: None,
            ledger_id: None,
            import_file: None,
            row_number: None,
        }
    });
    const WHAT: &str = "read the profile's consent";
    let mut stmt = conn
        .prepare(
            "SELECT pc.channel, pc.status, pc.source, pc.at, pc.reason, pc.ledger_id,
                    im.file_name, l.row_number
               FROM profile_consent pc
               JOIN consent_ledger l ON l.id = pc.ledger_id
               LEFT JOIN imports im ON im.id = l.import_id
              WHERE pc.profile_id = ?1",
        )
        .map_err(sql(WHAT))?;
    let mut rows = stmt.query([profile_id]).map_err(sql(WHAT))?;
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        let ch: String = r.get(0).map_err(sql(WHAT))?;
        let Some(state) = out.iter_mut().find(|s| s.channel.as_str() == ch) else {
            continue;
        };
        state.status = r.get(1).map_err(sql(WHAT))?;
        state.may_contact = may_contact(Some(&state.status), state.opt_in_required);
        state.source = r.get(2).map_err(sql(WHAT))?;
        state.at = r.get(3).map_err(sql(WHAT))?;
        state.reason = r.get(4).map_err(sql(WHAT))?;
        state.ledger_id = r.get(5).map_err(sql(WHAT))?;
        state.import_file = r.get(6).map_err(sql(WHAT))?;
        state.row_number = r.get(7).map_err(sql(WHAT))?;
    }
    Ok(out)
}

/// One piece of evidence about a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ConsentEvidence {
    #[ts(type = "number")]
    pub ledger_id: i64,
    pub channel: String,
    pub status: String,
    pub reason: Option<String>,
    /// Source name, suppression list file, or `manual`.
    pub source: String,
    pub at: String,
    pub recorded_at: String,
    /// How it concerns the profile: `record` (one of its contact records),
    /// `address` (an email or phone it carries), `profile` (set by hand).
    pub via: String,
    #[ts(type = "number | null")]
    pub import_id: Option<i64>,
    /// The imported file's name, and the row (the header is row 1).
    pub import_file: Option<String>,
    #[ts(type = "number | null")]
    pub row_number: Option<i64>,
    pub note: Option<String>,
    /// True for the entry that decides the channel now.
    pub effective: bool,
}

/// Every piece of evidence about profile `profile_id`, newest first (by
/// `at`, then by when it was recorded).
pub fn history(conn: &Connection, profile_id: i64) -> Result<Vec<ConsentEvidence>> {
    profile_exists(conn, profile_id)?;
    const WHAT: &str = "read the profile's consent history";
    let mut stmt = conn
        .prepare(
            "SELECT e.ledger_id, e.channel, e.status, e.reason, e.source, e.at, e.recorded_at,
                    e.via, e.import_id, im.file_name, e.row_number, e.note,
                    e.ledger_id IN (SELECT ledger_id FROM profile_consent WHERE profile_id = ?1)
               FROM consent_evidence e LEFT JOIN imports im ON im.id = e.import_id
              WHERE e.profile_id = ?1
              ORDER BY e.at DESC, e.ledger_id DESC",
        )
        .map_err(sql(WHAT))?;
    let rows = stmt
        .query_map([profile_id], |r| {
            Ok(ConsentEvidence {
                ledger_id: r.get(0)?,
                channel: r.get(1)?,
                status: r.get(2)?,
                reason: r.get(3)?,
                source: r.get(4)?,
                at: r.get(5)?,
                recorded_at: r.get(6)?,
                via: r.get(7)?,
                import_id: r.get(8)?,
                import_file: r.get(9)?,
                row_number: r.get(10)?,
                note: r.get(11)?,
                effective: r.get(12)?,
            })
        })
        .map_err(sql(WHAT))?;
    rows.collect::<rusqlite::Result<_>>().map_err(sql(WHAT))
}

/// Profiles per status for one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "ConsentChannelOverview")]
pub struct ChannelOverview {
    pub channel: Channel,
    pub opt_in_required: bool,
    #[ts(type = "number")]
    pub granted: u64,
    #[ts(type = "number")]
    pub denied: u64,
    #[ts(type = "number")]
    pub no_evidence: u64,
    /// Granted, plus no evidence when no opt-in is required.
    #[ts(type = "number")]
    pub may_contact: u64,
}

/// The whole base at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "ConsentOverview")]
pub struct Overview {
    #[ts(type = "number")]
    pub profiles: u64,
    /// Entries in the ledger (the history of everyone).
    #[ts(type = "number")]
    pub entries: u64,
    pub channels: Vec<ChannelOverview>,
    pub priority: Vec<String>,
}

/// Counts per channel and status over every profile.
pub fn overview(conn: &Connection) -> Result<Overview> {
    const WHAT: &str = "count consent per channel";
    let s = settings(conn)?;
    let (profiles, entries): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM profiles), (SELECT count(*) FROM consent_ledger)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(sql(WHAT))?;
    let mut channels: Vec<ChannelOverview> = Channel::ALL
        .into_iter()
        .map(|channel| ChannelOverview {
            channel,
            opt_in_required: s.opt_in.required(channel),
            granted: 0,
            denied: 0,
            no_evidence: profiles as u64,
            may_contact: 0,
        })
        .collect();
    // Only existing profiles: manual entries may outlive a profile id that
    // a later resolution retired.
    let mut stmt = conn
        .prepare(
            "SELECT pc.channel, pc.status, count(*) FROM profile_consent pc
              WHERE pc.profile_id IN (SELECT id FROM profiles)
              GROUP BY pc.channel, pc.status",
        )
        .map_err(sql(WHAT))?;
    let mut rows = stmt.query([]).map_err(sql(WHAT))?;
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        let ch: String = r.get(0).map_err(sql(WHAT))?;
        let status: String = r.get(1).map_err(sql(WHAT))?;
        let n = r.get::<_, i64>(2).map_err(sql(WHAT))? as u64;
        let Some(c) = channels.iter_mut().find(|c| c.channel.as_str() == ch) else {
            continue;
        };
        match status.as_str() {
            "granted" => c.granted += n,
            _ => c.denied += n,
        }
        c.no_evidence = c.no_evidence.saturating_sub(n);
    }
    for c in &mut channels {
        c.may_contact = c.granted + if c.opt_in_required { 0 } else { c.no_evidence };
    }
    Ok(Overview {
        profiles: profiles as u64,
        entries: entries as u64,
        channels,
        priority: s.priority,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;
    use crate::store::Workspace;

    const SHOPIFY_HEADER: &str = "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Tax Exempt\n";
    const MAILCHIMP_HEADER: &str =
        "Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,CONFIRM_TIME,LAST_CHANGED,LEID,EUID,UNSUB_TIME\n";

    struct Fixture {
        dir: tempfile::TempDir,
        ws: Workspace,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let ws = Workspace::open(dir.path().join("w.cohort")).unwrap();
            Fixture { dir, ws }
        }

        /// Imports `text` as file `name` at `now` (forced, so the same
        /// content can come twice), then resolves identities.
        fn import(&mut self, name: &str, text: &str, now: &str) -> crate::ingest::ImportReport {
            let path = self.dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let mut options = crate::ingest::ImportOptions::new(now.parse().unwrap());
            options.force = true;
            let report = crate::ingest::import(&mut self.ws, &path, &options, &mut Silent).unwrap();
            crate::identity::resolve(
                &mut self.ws,
                &crate::identity::ResolveOptions {
                    full: true,
                    settings: Default::default(),
                    now: now.into(),
                    actor: "test".into(),
                },
                &mut Silent,
            )
            .unwrap();
            report
        }

        fn conn(&self) -> &Connection {
            self.ws.conn()
        }

        fn profile_of(&self, email: &str) -> i64 {
            self.conn()
                .query_row(
                    "SELECT ir.profile_id FROM identifiers i JOIN identity_records ir ON ir.id = i.record_id
                      WHERE i.kind = 'email' AND i.value = ?1 LIMIT 1",
                    [email],
                    |r| r.get(0),
                )
                .unwrap()
        }

        fn entries(&self) -> i64 {
            self.conn()
                .query_row("SELECT count(*) FROM consent_ledger", [], |r| r.get(0))
                .unwrap()
        }
    }

    fn shopify(rows: &[&str]) -> String {
        let mut s = SHOPIFY_HEADER.to_string();
        for r in rows {
            s.push_str(r);
            s.push('\n');
        }
        s
    }

    #[test]
    fn latest_evidence_wins_and_history_is_kept() {
        let mut f = Fixture::new();
        f.import(
            "customers.csv",
            &shopify(&[
                "1,Ada,Lovelace,ada@mailbox.org,yes,+447911123456,no,10.00,1,no",
                "2,Bob,Stone,bob@mailbox.org,no,,,0.00,0,no",
            ]),
            "2026-01-01T09:00:00Z",
        );
        let ada = f.profile_of("ada@mailbox.org");
        let e = effective(f.conn(), ada).unwrap();
        assert_eq!(e[0].status, "granted");
        assert_eq!(e[0].source.as_deref(), Some("Shopify customers"));
        assert_eq!(e[0].at.as_deref(), Some("2026-01-01T09:00:00Z"));
        assert_eq!(e[0].import_file.as_deref(), Some("customers.csv"));
        assert_eq!(e[0].row_number, Some(2));
        assert!(e[0].may_contact);
        assert_eq!(e[1].status, "denied");
        assert_eq!(e[2].status, "unknown");
        assert!(!e[2].may_contact, "ads needs opt-in by default");

        // Mailchimp says Ada unsubscribed later (UNSUB_TIME).
        let mut text = MAILCHIMP_HEADER.to_string();
        text.push_str("ada@mailbox.org,Ada,Lovelace,2,2025-01-01 10:00:00,2025-01-01 10:05:00,2026-03-01 08:00:00,11,e1,2026-02-15 07:30:00\n");
        f.import("members_unsubscribed.csv", &text, "2026-04-01T09:00:00Z");
        assert_eq!(f.profile_of("ada@mailbox.org"), ada, "profile ids stay");
        let e = effective(f.conn(), ada).unwrap();
        assert_eq!(
            e[0].status,
            "denied",
            "{:#?}",
            history(f.conn(), ada).unwrap()
        );
        assert_eq!(e[0].source.as_deref(), Some("Mailchimp audience"));
        assert_eq!(
            e[0].at.as_deref(),
            Some("2026-02-15T07:30:00Z"),
            "the unsubscribe time"
        );
        assert_eq!(e[0].reason.as_deref(), Some("unsubscribed"));
        assert!(!e[0].may_contact);
        let h = history(f.conn(), ada).unwrap();
        let email: Vec<&ConsentEvidence> = h.iter().filter(|x| x.channel == "email").collect();
        assert_eq!(email.len(), 2, "{h:?}");
        assert_eq!(email[0].status, "denied");
        assert!(email[0].effective && !email[1].effective);
        assert_eq!(
            email[0].import_file.as_deref(),
            Some("members_unsubscribed.csv")
        );
        assert_eq!(email[0].row_number, Some(2));
        assert_eq!(email[1].import_file.as_deref(), Some("customers.csv"));

        // A newer Shopify export (no dates: its import time counts) that
        // still says yes is newer evidence and wins again; the history
        // keeps all three.
        f.import(
            "customers-2.csv",
            &shopify(&["1,Ada,Lovelace,ada@mailbox.org,yes,+447911123456,no,12.00,2,no"]),
            "2026-05-01T09:00:00Z",
        );
        // The record's consent did not change: nothing new.
        assert_eq!(history(f.conn(), ada).unwrap().len(), h.len());
        let e = effective(f.conn(), ada).unwrap();
        assert_eq!(
            e[0].status, "denied",
            "unchanged evidence is not new evidence"
        );
        f.import(
            "customers-3.csv",
            &shopify(&["1,Ada,Lovelace,ada@mailbox.org,no,+447911123456,no,12.00,2,no"]),
            "2026-06-01T09:00:00Z",
        );
        f.import(
            "customers-4.csv",
            &shopify(&["1,Ada,Lovelace,ada@mailbox.org,yes,+447911123456,no,12.00,2,no"]),
            "2026-07-01T09:00:00Z",
        );
        let e = effective(f.conn(), ada).unwrap();
        assert_eq!(e[0].status, "granted");
        assert_eq!(e[0].import_file.as_deref(), Some("customers-4.csv"));
        let email = history(f.conn(), ada)
            .unwrap()
            .into_iter()
            .filter(|x| x.channel == "email")
            .count();
        assert_eq!(email, 4);
    }

    #[test]
    fn an_unchanged_reimport_adds_nothing() {
        let mut f = Fixture::new();
        let text = shopify(&[
            "1,Ada,Lovelace,ada@mailbox.org,yes,,no,10.00,1,no",
            "2,Bob,Stone,bob@mailbox.org,no,,,0.00,0,no",
        ]);
        f.import("customers.csv", &text, "2026-01-01T09:00:00Z");
        let n = f.entries();
        assert_eq!(n, 3, "Ada email + SMS, Bob email");
        f.import("customers.csv", &text, "2026-02-01T09:00:00Z");
        assert_eq!(f.entries(), n);
        // A changed row that keeps its consent adds nothing either.
        f.import(
            "customers.csv",
            &shopify(&[
                "1,Ada,Byron,ada@mailbox.org,yes,,no,10.00,1,no",
                "2,Bob,Stone,bob@mailbox.org,no,,,0.00,0,no",
            ]),
            "2026-03-01T09:00:00Z",
        );
        assert_eq!(f.entries(), n);
    }

    #[test]
    fn priority_breaks_ties_then_denied_wins() {
        let mut f = Fixture::new();
        f.import(
            "customers.csv",
            &shopify(&["1,Ada,Lovelace,ada@mailbox.org,yes,,,10.00,1,no"]),
            "2026-01-01T09:00:00Z",
        );
        let ada = f.profile_of("ada@mailbox.org");
        // Same time as the Shopify evidence: manual comes first by default.
        set(
            f.conn(),
            ada,
            Channel::Email,
            Status::Denied,
            MANUAL,
            "2026-01-01T09:00:00Z",
            Some("asked by phone"),
        )
        .unwrap();
        assert_eq!(effective(f.conn(), ada).unwrap()[0].status, "denied");
        let mut s = settings(f.conn()).unwrap();
        assert_eq!(s.priority, vec!["manual".to_string()]);
        s.priority = vec!["Shopify customers".into(), "manual".into()];
        save_settings(f.conn(), &s, "2026-01-02T00:00:00Z").unwrap();
        let e = effective(f.conn(), ada).unwrap();
        assert_eq!(e[0].status, "granted");
        assert_eq!(e[0].source.as_deref(), Some("Shopify customers"));
        // A full tie (same time, both unlisted): denied wins.
        s.priority = vec!["Klaviyo".into()];
        save_settings(f.conn(), &s, "2026-01-02T00:00:00Z").unwrap();
        assert_eq!(effective(f.conn(), ada).unwrap()[0].status, "denied");
        // A later manual grant wins over both, whatever the priority.
        set(
            f.conn(),
            ada,
            Channel::Email,
            Status::Granted,
            MANUAL,
            "2026-01-03T10:00:00+01:00",
            None,
        )
        .unwrap();
        let e = effective(f.conn(), ada).unwrap();
        assert_eq!(e[0].status, "granted");
        assert_eq!(e[0].at.as_deref(), Some("2026-01-03T09:00:00Z"));
        assert_eq!(e[0].source.as_deref(), Some("manual"));
        assert!(matches!(
            save_settings(
                f.conn(),
                &Settings {
                    opt_in: s.opt_in,
                    priority: vec![" ".into()]
                },
                "2026-01-02T00:00:00Z"
            ),
            Err(ConsentError::EmptyPriority)
        ));
    }

    #[test]
    fn opt_in_setting_decides_what_no_evidence_means() {
        let mut f = Fixture::new();
        f.import(
            "customers.csv",
            &shopify(&[
                "1,Ada,Lovelace,ada@mailbox.org,yes,,,10.00,1,no",
                "2,Bob,Stone,bob@mailbox.org,,,,0.00,0,no",
            ]),
            "2026-01-01T09:00:00Z",
        );
        let bob = f.profile_of("bob@mailbox.org");
        let e = effective(f.conn(), bob).unwrap();
        assert!(e.iter().all(|s| s.status == "unknown" && !s.may_contact));
        let o = overview(f.conn()).unwrap();
        assert_eq!(o.profiles, 2);
        assert_eq!(
            (
                o.channels[0].granted,
                o.channels[0].denied,
                o.channels[0].no_evidence
            ),
            (1, 0, 1)
        );
        assert_eq!(o.channels[0].may_contact, 1);
        let mut s = settings(f.conn()).unwrap();
        s.opt_in.set(Channel::Email, false);
        save_settings(f.conn(), &s, "2026-01-02T00:00:00Z").unwrap();
        let e = effective(f.conn(), bob).unwrap();
        assert_eq!(e[0].status, "unknown");
        assert!(e[0].may_contact && !e[0].opt_in_required);
        assert!(!e[1].may_contact);
        assert_eq!(overview(f.conn()).unwrap().channels[0].may_contact, 2);
        f.conn()
            .execute(
                "UPDATE settings SET value = 'perhaps' WHERE key = ?1",
                [OPT_IN_SMS.0],
            )
            .unwrap();
        let e = settings(f.conn()).unwrap_err().to_string();
        assert!(e.contains("perhaps") && e.contains("yes or no"), "{e}");
    }

    #[test]
    fn a_manual_change_is_audited_without_personal_data() {
        let mut f = Fixture::new();
        f.import(
            "customers.csv",
            &shopify(&["1,Ada,Lovelace,ada@mailbox.org,,,,10.00,1,no"]),
            "2026-01-01T09:00:00Z",
        );
        let ada = f.profile_of("ada@mailbox.org");
        set(
            f.conn(),
            ada,
            Channel::Sms,
            Status::Granted,
            MANUAL,
            "2026-02-01T09:00:00Z",
            Some("form at the shop"),
        )
        .unwrap();
        let log = audit::list(f.conn(), Some("consent_change"), 10, 0).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(
            log[0].subject.as_deref(),
            Some(format!("profile {ada}").as_str())
        );
        assert_eq!(log[0].detail["channel"], "sms");
        assert_eq!(log[0].detail["status"], "granted");
        assert!(!log[0].detail.to_string().contains("ada@"));
        let h = history(f.conn(), ada).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].via, "profile");
        assert_eq!(h[0].note.as_deref(), Some("form at the shop"));
        assert!(matches!(
            set(
                f.conn(),
                999,
                Channel::Sms,
                Status::Granted,
                MANUAL,
                "2026-02-01T09:00:00Z",
                None
            ),
            Err(ConsentError::NoProfile(999))
        ));
        assert!(matches!(
            set(
                f.conn(),
                ada,
                Channel::Sms,
                Status::Granted,
                MANUAL,
                "yesterday",
                None
            ),
            Err(ConsentError::BadTime(_))
        ));
        assert!("maybe".parse::<Status>().is_err());
        assert!(channel("fax").is_err());
    }

    #[test]
    fn suppression_lists_and_cleaned_addresses_are_evidence() {
        let mut f = Fixture::new();
        f.import(
            "customers.csv",
            &shopify(&[
                "1,Ada,Lovelace,ada@mailbox.org,yes,+447911123456,yes,10.00,1,no",
                "2,Bob,Stone,bob@mailbox.org,yes,,,0.00,0,no",
            ]),
            "2026-01-01T09:00:00Z",
        );
        let list = f.dir.path().join("blocked.csv");
        std::fs::write(&list, "email,phone\nADA@Mailbox.org,\n,+44 7911 123456\n").unwrap();
        let r = crate::campaigns::import_suppression_list(
            f.ws.conn_mut(),
            &list,
            "complaint",
            "2026-02-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(r.added, 2);
        let ada = f.profile_of("ada@mailbox.org");
        let e = effective(f.conn(), ada).unwrap();
        assert_eq!(e[0].status, "denied");
        assert_eq!(e[0].reason.as_deref(), Some("complaint"));
        assert_eq!(e[0].source.as_deref(), Some("blocked.csv"));
        assert_eq!(e[0].row_number, Some(2));
        assert_eq!(e[1].status, "denied", "the phone is on the list too");
        // The list's consent changes are audited, by counts only.
        let log = audit::list(f.conn(), Some("consent_change"), 10, 0).unwrap();
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].subject.as_deref(), Some("suppression list"));
        assert_eq!(log[0].detail["denied"]["email"], 1);
        assert_eq!(log[0].detail["denied"]["sms"], 1);
        let text = log[0].detail.to_string();
        assert!(!text.contains("mailbox") && !text.contains("7911") && !text.contains("blocked"));
        // The import before it says how much consent evidence it brought.
        let imports = audit::list(f.conn(), Some("import"), 10, 0).unwrap();
        assert_eq!(
            imports[0].detail["consent_evidence"], 3,
            "{:?}",
            imports[0].detail
        );

        let mut text = MAILCHIMP_HEADER.to_string();
        text.push_str(
            "bob@mailbox.org,Bob,Stone,2,2025-01-01 10:00:00,,2026-03-01 08:00:00,12,e2,\n",
        );
        f.import("members_cleaned.csv", &text, "2026-04-01T09:00:00Z");
        let bob = f.profile_of("bob@mailbox.org");
        let e = effective(f.conn(), bob).unwrap();
        assert_eq!(e[0].status, "denied");
        assert_eq!(e[0].reason.as_deref(), Some("cleaned"));
        assert_eq!(
            e[0].at.as_deref(),
            Some("2026-03-01T08:00:00Z"),
            "LAST_CHANGED"
        );
    }

    /// A workspace from before the ledger (schema 7) keeps its consent on
    /// upgrade: the migration turns the contacts' columns and the
    /// suppression lists into evidence.
    #[test]
    fn the_migration_backfills_older_workspaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.cohort");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in [
                include_str!("../store/migrations/0001_foundation.sql"),
                include_str!("../store/migrations/0002_identity.sql"),
                include_str!("../store/migrations/0003_traits.sql"),
                include_str!("../store/migrations/0004_segments_campaigns.sql"),
                include_str!("../store/migrations/0005_recommendations.sql"),
                include_str!("../store/migrations/0006_templates_results.sql"),
                include_str!("../store/migrations/0007_results_by_source.sql"),
            ] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 7;
                 INSERT INTO sources (id, name, kind, preset, created_at)
                 VALUES (1, 'Shopify customers', 'contacts', 'shopify_customers', '2025-01-01T00:00:00Z');
                 INSERT INTO imports (id, source_id, file_name, file_path, file_size, content_hash, kind, preset, mapping, detected, started_at, finished_at)
                 VALUES (1, 1, 'customers.csv', '/x/customers.csv', 1, 'h', 'contacts', 'shopify_customers', '[]', '{}', '2025-01-01T00:00:00Z', '2025-01-01T00:00:01Z');
                 INSERT INTO contacts (id, source_id, source_key, import_id, row_number, row_hash, email, consent_email, consent_sms, consent_ads, updated_at)
                 VALUES (1, 1, '1', 1, 2, 0, 'ada@mailbox.org', 'granted', 'denied', 'unknown', NULL),
                        (2, 1, '2', 1, 3, 0, 'bob@mailbox.org', 'unknown', NULL, 'granted', '2024-06-01');
                 INSERT INTO suppressions (kind, value, reason, source, added_at)
                 VALUES ('email', 'eve@mailbox.org', 'suppression list', 'list.csv', '2025-02-01T00:00:00Z');",
            )
            .unwrap();
        }
        let ws = Workspace::open(&path).unwrap();
        let rows: Vec<(i64, String, String, String, String)> = ws
            .conn()
            .prepare(
                "SELECT coalesce(contact_id, 0), channel, status, source, at FROM consent_ledger ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let shopify = "Shopify customers".to_string();
        assert_eq!(
            rows,
            vec![
                (
                    1,
                    "email".into(),
                    "granted".into(),
                    shopify.clone(),
                    "2025-01-01T00:00:00Z".into()
                ),
                (
                    1,
                    "sms".into(),
                    "denied".into(),
                    shopify.clone(),
                    "2025-01-01T00:00:00Z".into()
                ),
                (
                    2,
                    "ads".into(),
                    "granted".into(),
                    shopify,
                    "2024-06-01T00:00:00Z".into()
                ),
                (
                    0,
                    "email".into(),
                    "denied".into(),
                    "list.csv".into(),
                    "2025-02-01T00:00:00Z".into()
                ),
            ]
        );
    }
}
