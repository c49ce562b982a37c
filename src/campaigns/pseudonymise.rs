//! Pseudonymised exports: a file an analyst can join and count on without
//! learning who anyone is.
//!
//! Identifiers (profile id, email, phone) are replaced by a keyed hash,
//! HMAC-SHA256 under a random 32-byte key kept in the workspace's settings
//! (`pseudonym_key`, hex), created the first time one is needed. The same
//! person therefore gets the same pseudonym in every export of the same
//! workspace (analysts can join files), another workspace gives other
//! pseudonyms, and nobody without the workspace can recompute them from a
//! list of addresses (an unkeyed SHA-256 of an email is a lookup away from
//! the address). Each kind of identifier is hashed under its own label, so
//! an email and a phone never share a pseudonym. Columns that identify a
//! person directly but are not join keys (names, street address, postcode,
//! birth date) are left out of the file, with a warning.
//!
//! Only the generic CSV can be pseudonymised: the email tools need real
//! addresses to send to, and the ad platforms' lists are already hashed
//! the way the platform matches them (a keyed hash would match nobody).
//! Rendered content (subjects, bodies, .eml files) carries names and
//! addresses and is refused too.

use hmac::{Hmac, Mac};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension};
use sha2::Sha256;

use super::formats::{Format, Layout};
use super::safe_csv::hex;
use super::{sql, CampaignError, Result};

/// The settings key of the workspace's pseudonymisation key (64 hex digits).
pub const KEY_SETTING: &str = "pseudonym_key";

/// What an identifier is; each is hashed under its own label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Profile,
    Email,
    Phone,
}

impl Kind {
    fn label(self) -> &'static [u8] {
        match self {
            Kind::Profile => b"profile",
            Kind::Email => b"email",
            Kind::Phone => b"phone",
        }
    }
}

/// What a pseudonymised export does with a profile column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Written as is (not personal on its own: country, traits, …).
    Keep,
    /// Replaced by its pseudonym.
    Pseudonymise(Kind),
    /// Left out of the file.
    Drop,
}

/// The treatment of the profile column `column` (as in `PROFILE_COLUMNS`,
/// `id` for the profile id); anything else (traits, recommendations) is
/// kept.
pub fn treatment(column: &str) -> Treatment {
    match column {
        "id" => Treatment::Pseudonymise(Kind::Profile),
        "email" => Treatment::Pseudonymise(Kind::Email),
        "phone" => Treatment::Pseudonymise(Kind::Phone),
        "first_name" | "last_name" | "address1" | "postcode" | "birth_date" => Treatment::Drop,
        _ => Treatment::Keep,
    }
}

/// Refuses the destinations that cannot be pseudonymised, saying why.
pub fn check_format(format: Format) -> Result<()> {
    let why = match format {
        Format::Csv => return Ok(()),
        Format::Meta | Format::GoogleAds => {
            "its identifiers are already hashed the way the platform matches them; a keyed hash would match nobody"
        }
        Format::Mailchimp | Format::Klaviyo | Format::Hubspot | Format::Brevo => {
            "an email tool needs real addresses to send to"
        }
    };
    Err(CampaignError::Pseudonymise(format!(
        "{} files cannot be pseudonymised: {why}. Pseudonymise a generic CSV (format csv) for analysts instead",
        format.label()
    )))
}

/// The keyed hash of one workspace.
#[derive(Clone)]
pub struct Pseudonymiser {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.write_str("Pseudonymiser { .. }")
    }
}

impl Pseudonymiser {
    pub fn from_key(key: &[u8; 32]) -> Pseudonymiser {
        Pseudonymiser {
            mac: Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length"),
        }
    }

    /// The workspace's pseudonymiser: its stored key, or a new random key
    /// stored now (kept for every later export).
    pub fn for_workspace(conn: &Connection) -> Result<Pseudonymiser> {
        let read = |conn: &Connection| -> Result<Option<String>> {
            conn.query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [KEY_SETTING],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("read the pseudonymisation key"))
        };
        let stored = match read(conn)? {
            Some(v) => v,
            None => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                // Another writer may have stored one meanwhile: theirs wins.
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                    [KEY_SETTING, &hex(&key)],
                )
                .map_err(sql("store the pseudonymisation key"))?;
                read(conn)?.unwrap_or_default()
            }
        };
        let key = parse_key(&stored).ok_or_else(|| {
            CampaignError::Pseudonymise(format!(
                "the workspace's `{KEY_SETTING}` setting is not 64 hexadecimal digits; it was changed outside Cohort, and replacing it would change every pseudonym, so nothing was exported"
            ))
        })?;
        Ok(Pseudonymiser::from_key(&key))
    }

    /// The pseudonym of `value` (empty stays empty): 64 lowercase hex
    /// digits. Emails are trimmed and lowercased, phones keep `+` and
    /// digits only, so spelling differences do not split a person.
    pub fn pseudonym(&self, kind: Kind, value: &str) -> String {
        let value = value.trim();
        if value.is_empty() {
            return String::new();
        }
        let mut mac = self.mac.clone();
        mac.update(kind.label());
        mac.update(b"\0");
        match kind {
            Kind::Email => mac.update(value.to_lowercase().as_bytes()),
            Kind::Phone => {
                let kept: String = value
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == '+')
                    .collect();
                mac.update(kept.as_bytes())
            }
            Kind::Profile => mac.update(value.as_bytes()),
        }
        hex(&mac.finalize().into_bytes())
    }
}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

/// Applies the treatments to an export's layout: drops the columns that
/// go, and returns the columns (by their new position) to pseudonymise and
/// the headers of the dropped ones.
pub(crate) fn apply(layout: &mut Layout) -> (Vec<(usize, Kind)>, Vec<String>) {
    let mut dropped = Vec::new();
    let mut kept = Vec::with_capacity(layout.columns.len());
    let mut hashed = Vec::new();
    let columns = std::mem::take(&mut layout.columns);
    for column in columns {
        let t = layout
            .profile_column(&column)
            .map(treatment)
            .unwrap_or(Treatment::Keep);
        match t {
            Treatment::Keep => kept.push(column),
            Treatment::Drop => dropped.push(column.header),
            Treatment::Pseudonymise(kind) => {
                hashed.push((kept.len(), kind));
                kept.push(column);
            }
        }
    }
    layout.columns = kept;
    (hashed, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaigns::Channel;
    use crate::store::Workspace;

    fn workspace(dir: &tempfile::TempDir, name: &str) -> Workspace {
        Workspace::open(dir.path().join(name)).unwrap()
    }

    #[test]
    fn the_key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(&dir, "a.cohort");
        let stored = |ws: &Workspace| -> Option<String> {
            ws.conn()
                .query_row(
                    "SELECT value FROM settings WHERE key = ?1",
                    [KEY_SETTING],
                    |r| r.get(0),
                )
                .optional()
                .unwrap()
        };
        assert_eq!(stored(&ws), None);
        let first = Pseudonymiser::for_workspace(ws.conn()).unwrap();
        let key = stored(&ws).expect("the key is stored on first use");
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        let again = Pseudonymiser::for_workspace(ws.conn()).unwrap();
        assert_eq!(stored(&ws).as_deref(), Some(key.as_str()));
        assert_eq!(
            first.pseudonym(Kind::Email, "ada@example.com"),
            again.pseudonym(Kind::Email, "ada@example.com")
        );
        // Reopened: the same key, the same pseudonyms.
        let path = ws.path().to_path_buf();
        drop(ws);
        let ws = Workspace::open(&path).unwrap();
        let reopened = Pseudonymiser::for_workspace(ws.conn()).unwrap();
        assert_eq!(
            first.pseudonym(Kind::Profile, "42"),
            reopened.pseudonym(Kind::Profile, "42")
        );
    }

    #[test]
    fn pseudonyms_are_stable_normalised_and_differ_between_workspaces() {
        let dir = tempfile::tempdir().unwrap();
        let a = Pseudonymiser::for_workspace(workspace(&dir, "a.cohort").conn()).unwrap();
        let b = Pseudonymiser::for_workspace(workspace(&dir, "b.cohort").conn()).unwrap();
        let p = a.pseudonym(Kind::Email, "Ada@Example.com ");
        assert_eq!(p.len(), 64);
        assert!(p.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(p, a.pseudonym(Kind::Email, "ada@example.com"));
        assert_ne!(p, b.pseudonym(Kind::Email, "ada@example.com"));
        assert_eq!(
            a.pseudonym(Kind::Phone, "+44 7700 900123"),
            a.pseudonym(Kind::Phone, "+447700900123")
        );
        // Kinds are separated: the same text as an id and as a phone differ.
        assert_ne!(
            a.pseudonym(Kind::Profile, "447700900123"),
            a.pseudonym(Kind::Phone, "447700900123")
        );
        assert_eq!(a.pseudonym(Kind::Email, "  "), "");
        // Not the unkeyed hash an ad platform would use.
        use sha2::Digest;
        assert_ne!(p, hex(&Sha256::digest(b"ada@example.com")));
    }

    #[test]
    fn a_damaged_key_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(&dir, "a.cohort");
        ws.conn()
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, 'not hex')",
                [KEY_SETTING],
            )
            .unwrap();
        let err = Pseudonymiser::for_workspace(ws.conn()).unwrap_err();
        assert_eq!(err.code(), "invalid");
        let kept: String = ws
            .conn()
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [KEY_SETTING],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, "not hex");
    }

    #[test]
    fn only_the_generic_csv_can_be_pseudonymised() {
        assert!(check_format(Format::Csv).is_ok());
        for f in Format::ALL.into_iter().filter(|f| *f != Format::Csv) {
            let err = check_format(f).unwrap_err();
            assert_eq!(err.code(), "invalid", "{f}");
            let text = err.to_string();
            assert!(text.contains("cannot be pseudonymised"), "{text}");
            if f.is_hashed() {
                assert!(text.contains("already hashed"), "{text}");
            } else {
                assert!(text.contains("real addresses"), "{text}");
            }
        }
    }

    #[test]
    fn identifiers_are_hashed_and_names_dropped_from_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(&dir, "a.cohort");
        let chosen: Vec<String> = [
            "profile_id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "country",
            "postcode",
        ]
        .map(String::from)
        .to_vec();
        let mut layout = Layout::new(ws.conn(), Format::Csv, Channel::Email, &chosen).unwrap();
        let (hashed, dropped) = apply(&mut layout);
        let headers: Vec<&str> = layout.columns.iter().map(|c| c.header.as_str()).collect();
        assert_eq!(headers, ["profile_id", "email", "phone", "country"]);
        assert_eq!(
            hashed,
            [(0, Kind::Profile), (1, Kind::Email), (2, Kind::Phone)]
        );
        assert_eq!(dropped, ["first_name", "last_name", "postcode"]);
    }
}
