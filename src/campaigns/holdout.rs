//! The holdout: members kept back from a campaign so its effect can be
//! measured against them.
//!
//! Membership is a pure function of the campaign's salt and the profile id:
//! xxh3-64 of `salt ‖ id` (little-endian), its top 53 bits read as a number
//! in [0, 1), held out when below `percent / 100`. xxh3 passes SMHasher, so
//! the share held out is `percent` up to sampling noise, and no one can
//! steer who is held out without the salt.
//!
//! The holdout is drawn from the members who could be sent to: an export
//! classifies suppression first, and only a member with no suppression
//! reason is tested against the hash. A suppressed person in the holdout
//! would be compared with recipients though no one could have reached
//! them, and would be missing from the suppression counts.
//!
//! The first export stores the held-out members in `campaign_holdout`, and
//! every later export adds the new ones it hashes. A profile in the stored
//! set stays held out even if it would not hash in; since the percentage is
//! locked after the first export ([`super::update`]) and the salt never
//! changes, a profile decided "not held out" hashes the same way again.

use std::collections::HashSet;

use rusqlite::{params, Connection};
use xxhash_rust::xxh3::Xxh3;

use super::{sql, Campaign, Result};

/// Whether profile `id` is in the holdout of a campaign with this salt and
/// percentage, by hash alone.
pub fn is_held_out(salt: &str, percent: f64, id: i64) -> bool {
    if percent <= 0.0 {
        return false;
    }
    unit(salt, id) < percent / 100.0
}

/// The A/B variant (index into `variants`) a recipient who is not held
/// out gets: a second hash of the salt and id, independent of the
/// holdout's, so the variants split the non-held-out members evenly.
pub fn variant_of(salt: &str, variants: usize, id: i64) -> usize {
    if variants <= 1 {
        return 0;
    }
    let mut h = Xxh3::new();
    h.update(salt.as_bytes());
    h.update(b"/variant/");
    h.update(&id.to_le_bytes());
    ((h.digest() >> 11) as f64 / (1u64 << 53) as f64 * variants as f64) as usize % variants
}

/// The hash of salt and profile id as a number in [0, 1).
fn unit(salt: &str, id: i64) -> f64 {
    let mut h = Xxh3::new();
    h.update(salt.as_bytes());
    h.update(&id.to_le_bytes());
    (h.digest() >> 11) as f64 / (1u64 << 53) as f64
}

/// The held-out members stored for `campaign_id` (empty before its first
/// export).
pub fn stored(conn: &Connection, campaign_id: i64) -> Result<HashSet<i64>> {
    let mut stmt = conn
        .prepare_cached("SELECT profile_id FROM campaign_holdout WHERE campaign_id = ?1")
        .map_err(sql("read the campaign's holdout"))?;
    let ids = stmt
        .query_map([campaign_id], |r| r.get(0))
        .map_err(sql("read the campaign's holdout"))?
        .collect::<rusqlite::Result<HashSet<i64>>>()
        .map_err(sql("read the campaign's holdout"))?;
    Ok(ids)
}

/// Decides holdout membership for a campaign: the stored set, plus the hash
/// for everyone else.
pub(crate) struct Holdout<'a> {
    stored: HashSet<i64>,
    salt: &'a str,
    percent: f64,
}

impl<'a> Holdout<'a> {
    pub fn load(conn: &Connection, campaign: &'a Campaign) -> Result<Holdout<'a>> {
        Ok(Holdout {
            stored: stored(conn, campaign.id)?,
            salt: &campaign.salt,
            percent: campaign.holdout_percent,
        })
    }

    pub fn contains(&self, id: i64) -> bool {
        self.stored.contains(&id) || is_held_out(self.salt, self.percent, id)
    }

    /// Whether `id` is held out but not yet stored.
    pub fn is_new(&self, id: i64) -> bool {
        !self.stored.contains(&id) && is_held_out(self.salt, self.percent, id)
    }
}

/// The members of `members` held out of `campaign`, ascending: the ones
/// an export would hold out, i.e. not suppressed on the campaign's channel
/// and held out by the stored set or the hash.
pub fn holdout_members(
    conn: &Connection,
    campaign: &Campaign,
    members: &[i64],
) -> Result<Vec<i64>> {
    super::export::held_out(conn, campaign, members)
}

/// Stores newly held-out members (inside the export's transaction).
pub(crate) fn store(conn: &Connection, campaign_id: i64, ids: &[i64]) -> Result<()> {
    let mut insert = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO campaign_holdout (campaign_id, profile_id) VALUES (?1, ?2)",
        )
        .map_err(sql("store the campaign's holdout"))?;
    for id in ids {
        insert
            .execute(params![campaign_id, id])
            .map_err(sql("store the campaign's holdout"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_salted() {
        let a: Vec<bool> = (1..=1000).map(|i| is_held_out("salt-a", 20.0, i)).collect();
        let again: Vec<bool> = (1..=1000).map(|i| is_held_out("salt-a", 20.0, i)).collect();
        let b: Vec<bool> = (1..=1000).map(|i| is_held_out("salt-b", 20.0, i)).collect();
        assert_eq!(a, again);
        assert_ne!(a, b, "another salt holds out other people");
    }

    #[test]
    fn proportion_close_to_percent() {
        for percent in [1.0, 10.0, 25.0, 50.0, 99.0] {
            let n = (1..=10_000)
                .filter(|&i| is_held_out("3f9a0c", percent, i))
                .count() as f64;
            let expected = 10_000.0 * percent / 100.0;
            // Binomial standard deviation; 4 sigma.
            let sd = (10_000.0 * percent / 100.0 * (1.0 - percent / 100.0)).sqrt();
            assert!(
                (n - expected).abs() <= 4.0 * sd + 1.0,
                "{percent}%: {n} held out of 10,000"
            );
        }
        assert!(!(1..=10_000).any(|i| is_held_out("3f9a0c", 0.0, i)));
    }

    #[test]
    fn larger_percent_holds_out_a_superset() {
        for i in 1..=5000 {
            if is_held_out("s", 10.0, i) {
                assert!(is_held_out("s", 20.0, i));
            }
        }
    }

    #[test]
    fn variants_split_evenly_and_independently_of_the_holdout() {
        let mut counts = [[0u32; 3]; 2];
        for id in 0..30_000 {
            let held = is_held_out("salt", 20.0, id) as usize;
            counts[held][variant_of("salt", 3, id)] += 1;
        }
        for row in counts {
            let total: u32 = row.iter().sum();
            for c in row {
                let share = f64::from(c) / f64::from(total);
                assert!((share - 1.0 / 3.0).abs() < 0.02, "{counts:?}");
            }
        }
        assert_eq!(variant_of("salt", 1, 7), 0);
        assert_eq!(variant_of("salt", 3, 7), variant_of("salt", 3, 7));
    }
}
