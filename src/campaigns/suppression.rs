//! Suppression: the members a campaign must not reach, each counted under
//! one reason, in this priority:
//!
//! 1. `suppression_list`: an email or phone of the person is in an imported
//!    suppression list (`suppressions`).
//! 2. `bounced` (email channel): the evidence that decides the person's
//!    email consent says the address bounced (Mailchimp "cleaned": reason
//!    `cleaned` in the consent ledger, from raw text `cleaned`/`bounced` or a
//!    Mailchimp export whose file name says cleaned).
//! 3. `unsubscribed`: consent for the channel is denied.
//! 4. `no_consent`: no evidence for the channel, which requires opt-in.
//! 5. `missing_address`: no valid email (email), no E.164 phone (SMS), or
//!    neither (ads) on the profile.
//!
//! Consent per person and channel is the consent ledger's
//! (`privacy::consent`, the `profile_consent` view: latest evidence wins,
//! then source priority); with no evidence, the channel's opt-in setting
//! decides.
//!
//! The evidence comes from two set-based queries over the whole workspace
//! (the ledger's consent of all profiles, then suppression-list matches
//! through the `identifiers` index), folded into one byte per member;
//! nothing is looked up per profile.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use super::safe_csv::is_e164;
use super::{sql, CampaignError, Channel, Result};
use crate::ingest::standardise;

/// Why a member is not exported (holding out is counted separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    SuppressionList,
    Bounced,
    Unsubscribed,
    NoConsent,
    MissingAddress,
}

impl Reason {
    /// In priority order.
    pub const ALL: [Reason; 5] = [
        Reason::SuppressionList,
        Reason::Bounced,
        Reason::Unsubscribed,
        Reason::NoConsent,
        Reason::MissingAddress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SuppressionList => "suppression_list",
            Reason::Bounced => "bounced",
            Reason::Unsubscribed => "unsubscribed",
            Reason::NoConsent => "no_consent",
            Reason::MissingAddress => "missing_address",
        }
    }
}

// Evidence bits, one byte per member.
const EMAIL_GRANTED: u8 = 1;
const EMAIL_DENIED: u8 = 1 << 1;
const SMS_GRANTED: u8 = 1 << 2;
const SMS_DENIED: u8 = 1 << 3;
const ADS_GRANTED: u8 = 1 << 4;
const ADS_DENIED: u8 = 1 << 5;
const BOUNCED: u8 = 1 << 6;
const LISTED: u8 = 1 << 7;

/// What the workspace says about each member's consent and suppression,
/// indexed like the (ascending) members.
pub(crate) struct Evidence {
    flags: Vec<u8>,
    emails: HashSet<String>,
    phones: HashSet<String>,
}

/// The ledger's consent of every profile: one row per profile and channel
/// with evidence. `cleaned` is the ledger's reason for a bounced address.
const CONSENT_SQL: &str = "
SELECT profile_id, channel, status, reason IS 'cleaned' FROM profile_consent";

/// Per member and channel (email, SMS, ads): `(granted, cleaned)` of the
/// winning evidence, `None` without evidence.
pub(crate) type Latest = Vec<[Option<(bool, bool)>; 3]>;

/// For `members` (ascending ids), the consent the `profile_consent` view
/// decides.
///
/// Why not read the view: its window function sorts every piece of
/// evidence in the workspace before picking one per profile and channel;
/// on 100,000 profiles that was 4 of the 8.5 s of an export's preview, and
/// it grows with the workspace, not the segment. Here the ledger and the
/// contact records are each read once in table order and the same rule
/// (latest `at`, then the source first in `consent_source_priority`, then
/// denied, then the last recorded) is a running maximum per member and
/// channel; only evidence by address goes through the view's own join.
/// `None` when some `at` is not the normalised `YYYY-MM-DDTHH:MM:SSZ` the
/// ledger writes (text order could then differ from time order): the
/// caller reads the view instead. Tested against the view.
pub(crate) fn latest_consent(conn: &Connection, members: &[i64]) -> Result<Option<Latest>> {
    const WHAT: &str = "read consent";
    let mut latest: Latest = vec![[None; 3]; members.len()];
    if members.is_empty() {
        return Ok(Some(latest));
    }
    let member = |id: i64| members.binary_search(&id).ok();
    // Source → rank (first place in the list; unlisted after all).
    let mut rank: HashMap<String, i64> = HashMap::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT CAST(j.value AS TEXT), min(j.key)
                   FROM json_each(coalesce((SELECT value FROM settings
                                             WHERE key = 'consent_source_priority'), '[\"manual\"]')) j
                  GROUP BY 1",
            )
            .map_err(sql(WHAT))?;
        let rows = stmt
            .query_map([], |r| {
                // A rank that is not an array index (a settings object,
                // never written by Cohort) sorts after every listed source.
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, i64>(1).unwrap_or(1_000_000_000),
                ))
            })
            .map_err(sql(WHAT))?;
        for row in rows {
            if let (Some(source), at) = row.map_err(sql(WHAT))? {
                rank.insert(source, at);
            }
        }
    }
    // Contact row → members, sorted by contact (a contact may, in
    // principle, back more than one record).
    let mut by_contact: Vec<(i64, u32)> = Vec::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT row_id, profile_id FROM identity_records
                  WHERE kind = 'contact' AND profile_id IS NOT NULL AND row_id IS NOT NULL",
            )
            .map_err(sql(WHAT))?;
        let mut rows = stmt.query([]).map_err(sql(WHAT))?;
        while let Some(r) = rows.next().map_err(sql(WHAT))? {
            if let Some(i) = member(r.get(1).map_err(sql(WHAT))?) {
                by_contact.push((r.get(0).map_err(sql(WHAT))?, i as u32));
            }
        }
        by_contact.sort_unstable();
    }
    // Ledger row → members, for evidence about an address: the view's join.
    let mut by_address: Vec<(i64, u32)> = Vec::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT DISTINCT l.id, ir.profile_id
                   FROM consent_ledger l
                   JOIN identifiers i ON i.kind = (CASE WHEN l.address LIKE '+%' THEN 'phone' ELSE 'email' END)
                                     AND i.value = l.address
                   JOIN identity_records ir ON ir.id = i.record_id
                  WHERE l.address IS NOT NULL AND ir.profile_id IS NOT NULL",
            )
            .map_err(sql(WHAT))?;
        let mut rows = stmt.query([]).map_err(sql(WHAT))?;
        while let Some(r) = rows.next().map_err(sql(WHAT))? {
            if let Some(i) = member(r.get(1).map_err(sql(WHAT))?) {
                by_address.push((r.get(0).map_err(sql(WHAT))?, i as u32));
            }
        }
        by_address.sort_unstable();
    }
    fn range(v: &[(i64, u32)], key: i64) -> impl Iterator<Item = u32> + '_ {
        let from = v.partition_point(|&(k, _)| k < key);
        v[from..]
            .iter()
            .take_while(move |&&(k, _)| k == key)
            .map(|&(_, i)| i)
    }
    // The winning evidence's sort key per member and channel: (time,
    // −rank, denied, ledger id), larger wins.
    type Key = (i64, i64, bool, i64);
    let mut best: Vec<[Option<Key>; 3]> = vec![[None; 3]; members.len()];
    let mut stmt = conn
        .prepare(
            "SELECT id, channel, status, reason IS 'cleaned', contact_id, address, profile_id,
                    source, at
               FROM consent_ledger",
        )
        .map_err(sql(WHAT))?;
    let mut rows = stmt.query([]).map_err(sql(WHAT))?;
    let mut targets: Vec<u32> = Vec::new();
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        let id: i64 = r.get(0).map_err(sql(WHAT))?;
        let channel = match r.get_ref(1).map_err(sql(WHAT))?.as_str() {
            Ok("email") => 0,
            Ok("sms") => 1,
            _ => 2,
        };
        let denied = r.get_ref(2).map_err(sql(WHAT))?.as_str() != Ok("granted");
        let cleaned: bool = r.get(3).map_err(sql(WHAT))?;
        let contact: Option<i64> = r.get(4).map_err(sql(WHAT))?;
        let has_address = r.get_ref(5).map_err(sql(WHAT))?.as_str().is_ok();
        let profile: Option<i64> = r.get(6).map_err(sql(WHAT))?;
        targets.clear();
        if let Some(c) = contact {
            targets.extend(range(&by_contact, c));
        }
        if has_address {
            targets.extend(range(&by_address, id));
        }
        if let Some(i) = profile.and_then(member) {
            targets.push(i as u32);
        }
        if targets.is_empty() {
            continue;
        }
        let source = r.get_ref(7).map_err(sql(WHAT))?.as_str().unwrap_or("");
        let Some(at) = r
            .get_ref(8)
            .map_err(sql(WHAT))?
            .as_str()
            .ok()
            .and_then(normalised_seconds)
        else {
            return Ok(None);
        };
        let key: Key = (
            at,
            -rank.get(source).copied().unwrap_or(1_000_000_000),
            denied,
            id,
        );
        for &i in &targets {
            let slot = &mut best[i as usize][channel];
            if slot.is_none_or(|b| key > b) {
                *slot = Some(key);
                latest[i as usize][channel] = Some((!denied, cleaned));
            }
        }
    }
    Ok(Some(latest))
}

/// Seconds of `YYYY-MM-DDTHH:MM:SSZ` exactly (the ledger's form), whose
/// order is then the text's order; `None` for any other text.
fn normalised_seconds(at: &str) -> Option<i64> {
    let b = at.as_bytes();
    let shape = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    // Digits compared field by field from the most significant: a plain
    // number with the same order as the text.
    shape.then(|| {
        b.iter()
            .filter(|c| c.is_ascii_digit())
            .fold(0i64, |n, &c| n * 10 + i64::from(c - b'0'))
    })
}

/// Profiles with an email or phone (any record's, through `identifiers`) on
/// a suppression list.
const LISTED_SQL: &str = "
SELECT DISTINCT ir.profile_id
  FROM suppressions s
  JOIN identifiers i ON i.kind = s.kind AND i.value = s.value
  JOIN identity_records ir ON ir.id = i.record_id
 WHERE ir.profile_id IS NOT NULL";

impl Evidence {
    /// Reads the evidence for `members` (ascending, distinct).
    pub fn load(conn: &Connection, members: &[i64]) -> Result<Evidence> {
        let mut flags = vec![0u8; members.len()];
        let index = |id: i64| members.binary_search(&id).ok();
        if let Some(latest) = latest_consent(conn, members)? {
            for (i, channels) in latest.iter().enumerate() {
                for (c, decided) in channels.iter().enumerate() {
                    let Some((granted, cleaned)) = *decided else {
                        continue;
                    };
                    let (g, d) = [
                        (EMAIL_GRANTED, EMAIL_DENIED),
                        (SMS_GRANTED, SMS_DENIED),
                        (ADS_GRANTED, ADS_DENIED),
                    ][c];
                    flags[i] |= if granted { g } else { d };
                    if !granted && cleaned && c == 0 {
                        flags[i] |= BOUNCED;
                    }
                }
            }
        } else if !members.is_empty() {
            let mut stmt = conn.prepare(CONSENT_SQL).map_err(sql("read consent"))?;
            let mut rows = stmt.query([]).map_err(sql("read consent"))?;
            while let Some(r) = rows.next().map_err(sql("read consent"))? {
                let Some(i) = index(r.get(0).map_err(sql("read consent"))?) else {
                    continue;
                };
                let channel = r.get_ref(1).map_err(sql("read consent"))?;
                let granted = r.get_ref(2).map_err(sql("read consent"))?.as_str() == Ok("granted");
                let cleaned: bool = r.get(3).map_err(sql("read consent"))?;
                let (g, d) = match channel.as_str() {
                    Ok("email") => (EMAIL_GRANTED, EMAIL_DENIED),
                    Ok("sms") => (SMS_GRANTED, SMS_DENIED),
                    _ => (ADS_GRANTED, ADS_DENIED),
                };
                flags[i] |= if granted { g } else { d };
                if !granted && cleaned && g == EMAIL_GRANTED {
                    flags[i] |= BOUNCED;
                }
            }
        }
        if !members.is_empty() {
            // No evidence on a channel that needs no opt-in counts as consent.
            let opt_in = crate::privacy::consent::settings(conn)
                .map_err(|e| CampaignError::Consent(e.to_string()))?
                .opt_in;
            for (channel, g, d) in [
                (Channel::Email, EMAIL_GRANTED, EMAIL_DENIED),
                (Channel::Sms, SMS_GRANTED, SMS_DENIED),
                (Channel::Ads, ADS_GRANTED, ADS_DENIED),
            ] {
                if !opt_in.required(channel) {
                    for f in flags.iter_mut().filter(|f| **f & (g | d) == 0) {
                        *f |= g;
                    }
                }
            }
        }
        let mut emails = HashSet::new();
        let mut phones = HashSet::new();
        {
            let mut stmt = conn
                .prepare("SELECT kind, value FROM suppressions")
                .map_err(sql("read the suppression lists"))?;
            let mut rows = stmt.query([]).map_err(sql("read the suppression lists"))?;
            while let Some(r) = rows.next().map_err(sql("read the suppression lists"))? {
                let kind: String = r.get(0).map_err(sql("read the suppression lists"))?;
                let value: String = r.get(1).map_err(sql("read the suppression lists"))?;
                if kind == "email" {
                    emails.insert(value);
                } else {
                    phones.insert(value);
                }
            }
        }
        if !(emails.is_empty() && phones.is_empty()) {
            let mut stmt = conn
                .prepare(LISTED_SQL)
                .map_err(sql("match the suppression lists"))?;
            let ids = stmt
                .query_map([], |r| r.get::<_, i64>(0))
                .map_err(sql("match the suppression lists"))?;
            for id in ids {
                if let Some(i) = index(id.map_err(sql("match the suppression lists"))?) {
                    flags[i] |= LISTED;
                }
            }
        }
        Ok(Evidence {
            flags,
            emails,
            phones,
        })
    }

    /// Why member number `i` (with the profile's email and phone) is not
    /// sent to on `channel`, or `None` when it may be.
    pub fn reason(
        &self,
        i: usize,
        channel: Channel,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Option<Reason> {
        let listed = email.is_some_and(|e| self.emails.contains(e))
            || phone.is_some_and(|p| self.phones.contains(p));
        let flags = self.flags[i] | if listed { LISTED } else { 0 };
        classify(flags, channel, email, phone)
    }
}

/// The one reason, by priority, from the evidence bits and the profile's
/// addresses.
fn classify(
    flags: u8,
    channel: Channel,
    email: Option<&str>,
    phone: Option<&str>,
) -> Option<Reason> {
    if flags & LISTED != 0 {
        return Some(Reason::SuppressionList);
    }
    if channel == Channel::Email && flags & BOUNCED != 0 {
        return Some(Reason::Bounced);
    }
    let (granted, denied) = match channel {
        Channel::Email => (EMAIL_GRANTED, EMAIL_DENIED),
        Channel::Sms => (SMS_GRANTED, SMS_DENIED),
        Channel::Ads => (ADS_GRANTED, ADS_DENIED),
    };
    if flags & denied != 0 {
        return Some(Reason::Unsubscribed);
    }
    if flags & granted == 0 {
        return Some(Reason::NoConsent);
    }
    let email_ok = || email.is_some_and(valid_email);
    let phone_ok = || phone.is_some_and(is_e164);
    let reachable = match channel {
        Channel::Email => email_ok(),
        Channel::Sms => phone_ok(),
        Channel::Ads => email_ok() || phone_ok(),
    };
    if reachable {
        None
    } else {
        Some(Reason::MissingAddress)
    }
}

/// A stored email that is a valid, already normalised address.
pub(crate) fn valid_email(e: &str) -> bool {
    standardise::email(e).is_ok_and(|clean| clean == e)
}

/// What [`import_suppression_list`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SuppressionImport {
    /// Data rows read.
    pub rows: u64,
    /// Addresses added to the list.
    pub added: u64,
    /// Addresses that were already on a list.
    pub already_listed: u64,
    /// Rows that gave nothing: (row number as a spreadsheet shows it, the
    /// header being row 1; why).
    pub skipped_invalid: Vec<(u64, String)>,
}

const EMAIL_HEADERS: [&str; 4] = ["email", "emailaddress", "e-mail", "e-mailaddress"];
const PHONE_HEADERS: [&str; 6] = [
    "phone",
    "phonenumber",
    "mobile",
    "mobilenumber",
    "mobilephone",
    "mobilephonenumber",
];

/// A header folded for matching: lowercase, without spaces and underscores.
fn fold_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Imports a suppression list: a CSV with an email and/or a phone column
/// (found by header, case-insensitive: email / email address / e-mail,
/// phone / phone number / mobile). Emails are trimmed and lowercased (and
/// syntax-checked), phones read into E.164 with the workspace's default
/// region; rows with neither are reported, not fatal. One transaction.
pub fn import_suppression_list(
    conn: &mut Connection,
    path: &Path,
    reason: &str,
    now: &str,
) -> Result<SuppressionImport> {
    let read_err = |detail: String| CampaignError::ReadList {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0,
    };
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| first_line.bytes().filter(|b| b == d).count())
        .unwrap_or(b',');
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| read_err(e.to_string()))?
        .iter()
        .map(str::to_owned)
        .collect();
    let folded: Vec<String> = header.iter().map(|h| fold_header(h)).collect();
    let email_col = folded
        .iter()
        .position(|h| EMAIL_HEADERS.contains(&h.as_str()));
    let phone_col = folded
        .iter()
        .position(|h| PHONE_HEADERS.contains(&h.as_str()));
    if email_col.is_none() && phone_col.is_none() {
        return Err(CampaignError::NoAddressColumn {
            path: path.to_path_buf(),
            header: header.join(", "),
        });
    }
    let region: String = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [crate::store::setting::DEFAULT_REGION.0],
            |r| r.get(0),
        )
        .unwrap_or_else(|_| crate::store::setting::DEFAULT_REGION.1.to_owned());
    let region: phonenumber::country::Id = region.parse().unwrap_or(phonenumber::country::Id::US);
    let reason = match reason.trim() {
        "" => "suppression list",
        r => r,
    };
    let source = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let mut report = SuppressionImport::default();
    // Consent evidence written per channel, for the audit log.
    let (mut email_denied, mut sms_denied) = (0u64, 0u64);
    let tx = conn
        .transaction()
        .map_err(sql("import the suppression list"))?;
    {
        let mut insert = tx
            .prepare(
                "INSERT OR IGNORE INTO suppressions (kind, value, reason, source, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sql("import the suppression list"))?;
        let mut record = csv::StringRecord::new();
        let mut row = 1u64;
        loop {
            match rdr.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(read_err(format!("row {}: {e}", row + 1))),
            }
            row += 1;
            report.rows += 1;
            let cell = |c: Option<usize>| {
                c.and_then(|c| record.get(c))
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
            };
            let mut values: Vec<(&str, String)> = Vec::with_capacity(2);
            let mut problems: Vec<String> = Vec::new();
            if let Some(e) = cell(email_col) {
                match standardise::email(e) {
                    Ok(clean) => values.push(("email", clean)),
                    Err(invalid) => problems.push(invalid.message),
                }
            }
            if let Some(p) = cell(phone_col) {
                match standardise::phone(p, region) {
                    Ok(clean) => values.push(("phone", clean)),
                    Err(invalid) => problems.push(invalid.message),
                }
            }
            if values.is_empty() && problems.is_empty() {
                problems.push("no email or phone".into());
            }
            if !problems.is_empty() {
                report.skipped_invalid.push((row, problems.join("; ")));
            }
            for (kind, value) in values {
                let n = insert
                    .execute(params![kind, value, reason, source, now])
                    .map_err(sql("import the suppression list"))?;
                if n == 1 {
                    report.added += 1;
                    // A listed address is consent withdrawn: the ledger
                    // keeps it as evidence (the list still suppresses on
                    // its own, whatever later evidence says).
                    crate::privacy::consent::record_suppression(
                        &tx, kind, &value, reason, &source, now, row,
                    )
                    .map_err(sql("record the suppression list as consent evidence"))?;
                    match kind {
                        "email" => email_denied += 1,
                        _ => sms_denied += 1,
                    }
                } else {
                    report.already_listed += 1;
                }
            }
        }
    }
    // Consent withdrawn by a list is a consent change like one made by
    // hand: audited, by counts only (never an address or the file name,
    // which may carry one).
    crate::privacy::audit::record(
        &tx,
        crate::privacy::audit::Action::ConsentChange,
        now,
        Some("suppression list"),
        &serde_json::json!({
            "rows": report.rows,
            "added": report.added,
            "already_listed": report.already_listed,
            "skipped_invalid": report.skipped_invalid.len(),
            "denied": {"email": email_denied, "sms": sms_denied},
        }),
    )
    .map_err(sql("audit the suppression list"))?;
    tx.commit().map_err(sql("import the suppression list"))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass fold decides exactly what the `profile_consent` view
    /// decides, for every profile and channel, with ties on time broken by
    /// source priority and status, manual entries, evidence by address,
    /// and for a subset of the profiles as members.
    #[test]
    fn latest_consent_is_the_views() {
        let (_dir, ws) = crate::segments::testkit::demo();
        let conn = ws.conn();
        conn.execute_batch(
            "INSERT INTO consent_ledger (channel, status, reason, profile_id, source, at, recorded_at)
               SELECT 'email', CASE WHEN p.id % 2 = 0 THEN 'denied' ELSE 'granted' END, 'manual',
                      p.id, 'manual', (SELECT max(l.at) FROM consent_ledger l), 'x'
                 FROM profiles p WHERE p.id % 5 = 0;
             INSERT INTO consent_ledger (channel, status, reason, address, source, at, recorded_at)
               SELECT 'email', 'denied', 'cleaned', i.value, 'list.csv', '2099-01-01T00:00:00Z', 'x'
                 FROM identifiers i WHERE i.kind = 'email' AND i.record_id % 4 = 0;
             INSERT INTO consent_ledger (channel, status, reason, contact_id, source, at, recorded_at)
               SELECT channel, CASE status WHEN 'granted' THEN 'denied' ELSE 'granted' END,
                      'cleaned', contact_id, 'Other', at, 'x'
                 FROM consent_ledger WHERE contact_id IS NOT NULL AND id % 3 = 0;
             INSERT OR REPLACE INTO settings (key, value)
               VALUES ('consent_source_priority', '[\"Other\", \"manual\"]');",
        )
        .unwrap();
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM profiles ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let mut view: HashMap<(i64, usize), (bool, bool)> = HashMap::new();
        let mut stmt = conn.prepare(CONSENT_SQL).unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let channel = match r.get::<_, String>(1).unwrap().as_str() {
                "email" => 0,
                "sms" => 1,
                _ => 2,
            };
            let granted = r.get::<_, String>(2).unwrap() == "granted";
            view.insert((r.get(0).unwrap(), channel), (granted, r.get(3).unwrap()));
        }
        let kinds: HashSet<(bool, bool)> = view.values().copied().collect();
        assert!(
            kinds.len() >= 3,
            "granted, denied and cleaned evidence: {kinds:?}"
        );
        for members in [ids.clone(), ids.iter().copied().step_by(3).collect()] {
            let latest = latest_consent(conn, &members)
                .unwrap()
                .expect("normalised times");
            for (id, channels) in members.iter().zip(&latest) {
                for (c, decided) in channels.iter().enumerate() {
                    assert_eq!(
                        *decided,
                        view.get(&(*id, c)).copied(),
                        "profile {id} channel {c}"
                    );
                }
            }
        }
        // A time in another form: the view decides instead.
        conn.execute(
            "UPDATE consent_ledger SET at = '2024-05-01 10:00:00' WHERE id = (SELECT min(id) FROM consent_ledger)",
            [],
        )
        .unwrap();
        assert!(latest_consent(conn, &ids).unwrap().is_none());
    }

    #[test]
    fn reasons_follow_priority() {
        use Channel::*;
        use Reason::*;
        let e = Some("a@example.com");
        let p = Some("+447911123456");
        let all = EMAIL_DENIED | EMAIL_GRANTED | BOUNCED | LISTED;
        assert_eq!(classify(all, Email, e, p), Some(SuppressionList));
        assert_eq!(classify(all & !LISTED, Email, e, p), Some(Bounced));
        // Bounced is an email fact; on SMS the SMS consent decides.
        assert_eq!(classify(BOUNCED | SMS_GRANTED, Sms, e, p), None);
        assert_eq!(
            classify(EMAIL_DENIED | EMAIL_GRANTED, Email, e, p),
            Some(Unsubscribed),
            "denied wins over granted"
        );
        assert_eq!(classify(0, Email, e, p), Some(NoConsent));
        assert_eq!(classify(SMS_GRANTED, Email, e, p), Some(NoConsent));
        assert_eq!(
            classify(EMAIL_GRANTED, Email, None, p),
            Some(MissingAddress)
        );
        assert_eq!(
            classify(EMAIL_GRANTED, Email, Some("not an email"), p),
            Some(MissingAddress)
        );
        assert_eq!(classify(EMAIL_GRANTED, Email, e, None), None);
        assert_eq!(
            classify(SMS_GRANTED, Sms, e, Some("07911 123456")),
            Some(MissingAddress)
        );
        assert_eq!(classify(SMS_GRANTED, Sms, None, p), None);
        assert_eq!(classify(ADS_GRANTED, Ads, None, p), None);
        assert_eq!(classify(ADS_GRANTED, Ads, e, None), None);
        assert_eq!(classify(ADS_GRANTED, Ads, None, None), Some(MissingAddress));
        // No consent comes before a missing address.
        assert_eq!(classify(0, Sms, None, None), Some(NoConsent));
    }

    #[test]
    fn headers_fold() {
        assert!(EMAIL_HEADERS.contains(&fold_header(" Email Address ").as_str()));
        assert!(EMAIL_HEADERS.contains(&fold_header("E-mail").as_str()));
        assert!(EMAIL_HEADERS.contains(&fold_header("\u{feff}EMAIL").as_str()));
        assert!(PHONE_HEADERS.contains(&fold_header("Phone Number").as_str()));
        assert!(PHONE_HEADERS.contains(&fold_header("mobile_phone").as_str()));
    }
}
