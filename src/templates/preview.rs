//! Previews: a draft's variants rendered side by side for chosen profiles
//! (one profile, or a seeded random sample of a segment or of everyone).
//! The app shows the HTML in a sandboxed iframe; this only renders.

use rand::seq::IndexedRandom;
use rand::SeedableRng;
use rusqlite::Connection;
use serde::Serialize;

use super::context::{CampaignInfo, ContextLoader};
use super::render::{Options, TemplateSet};
use super::{Result, Variant};

/// One variant as one recipient would get it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct PreviewVariant {
    pub name: String,
    pub subject: String,
    pub preheader: String,
    pub html: String,
    pub text: String,
    /// Parts that could not be rendered (they are empty above), with the
    /// part, line and cause.
    pub error: Option<String>,
}

/// One recipient with every variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct PreviewRecipient {
    pub profile_id: i64,
    /// The recipient's name (or email) for the picker.
    pub name: String,
    pub email: Option<String>,
    pub segments: Vec<String>,
    pub variants: Vec<PreviewVariant>,
}

/// Most recipients one preview renders.
pub const MAX_SAMPLE: usize = 50;

/// A seeded random sample of `n` of `ids`, ascending.
pub fn sample(ids: &[i64], n: usize, seed: u64) -> Vec<i64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out: Vec<i64> = ids
        .choose_multiple(&mut rng, n.min(ids.len()))
        .copied()
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Renders every variant of `variants` (saved or a draft) for the profiles
/// `ids` (those that exist). `campaign` gives `campaign.*`; a preview
/// without one reads "Preview" / email.
pub fn preview(
    conn: &Connection,
    variants: &[Variant],
    ids: &[i64],
    campaign: Option<&crate::campaigns::Campaign>,
    now: &str,
) -> Result<Vec<PreviewRecipient>> {
    let variants = super::clean_variants(variants)?;
    let set = TemplateSet::for_workspace(conn, &variants, &Options::default())?;
    let info = match campaign {
        Some(c) => CampaignInfo {
            name: c.name.clone(),
            channel: c.channel.as_str().to_owned(),
        },
        None => CampaignInfo::preview(),
    };
    // Previews show segments too, whatever the template uses.
    let mut needs = set.needs();
    needs.segments = true;
    let loader = ContextLoader::new(conn, &needs, &info, set.variant_names(), now)?;
    let mut ids: Vec<i64> = ids.iter().copied().take(MAX_SAMPLE).collect();
    ids.sort_unstable();
    ids.dedup();
    let recipients = loader.load(conn, &ids)?;
    Ok(recipients
        .iter()
        .map(|r| PreviewRecipient {
            profile_id: r.id,
            name: if r.full_name.is_empty() {
                r.email
                    .clone()
                    .unwrap_or_else(|| format!("Profile #{}", r.id))
            } else {
                r.full_name.clone()
            },
            email: r.email.clone(),
            segments: r.segment_names(),
            variants: (0..variants.len())
                .map(|v| {
                    let (out, errors) = set.render_each(v, r);
                    PreviewVariant {
                        name: variants[v].name.clone(),
                        subject: out.subject,
                        preheader: out.preheader,
                        html: out.html,
                        text: out.text,
                        error: (!errors.is_empty()).then(|| {
                            errors
                                .iter()
                                .map(|e| e.to_string())
                                .collect::<Vec<_>>()
                                .join("; ")
                        }),
                    }
                })
                .collect(),
        })
        .collect())
}

/// All profile ids, ascending (for samples of everyone).
pub fn all_profiles(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn
        .prepare("SELECT id FROM profiles ORDER BY id")
        .map_err(super::sql("list the profiles"))?;
    let ids = stmt
        .query_map([], |r| r.get(0))
        .map_err(super::sql("list the profiles"))?
        .collect::<rusqlite::Result<Vec<i64>>>()
        .map_err(super::sql("list the profiles"))?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_seeded_and_sorted() {
        let ids: Vec<i64> = (1..=1000).collect();
        let a = sample(&ids, 5, 7);
        assert_eq!(a, sample(&ids, 5, 7));
        assert_ne!(a, sample(&ids, 5, 8));
        assert_eq!(a.len(), 5);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample(&ids[..3], 10, 1), vec![1, 2, 3]);
    }
}
