//! The resolution itself, over a batch of records in memory: deterministic
//! stitching on shared identifiers, then probabilistic matching of the
//! components that remain apart. A full run puts every record in the batch;
//! an incremental run puts the new records plus the existing profiles they
//! might touch.

use std::collections::HashSet;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use rustc_hash::{FxHashMap as HashMap, FxHashSet};
use xxhash_rust::xxh3::xxh3_64;

use super::compare::{compare, names_compatible, Fields, Levels};
use super::graph::{Graph, Refusal};
use super::model::{self, Histogram, MatchModel, Session};
use super::normalise::{is_placeholder_email, is_placeholder_phone};
use super::records::{id_kind_name, Record, RecordKind, CUSTOMER_ID, EMAIL, PHONE, RULES};
use crate::progress::{Cancelled, Progress, Tick};

/// Knobs of a resolution, with defaults that suit shop data.
#[derive(Debug, Clone)]
pub struct Settings {
    /// An identifier carried by more people than this (counted by
    /// incompatible names) is too common to link anyone.
    pub max_people_per_identifier: usize,
    /// An identifier on more records than this is refused outright.
    pub max_records_per_identifier: usize,
    /// Most distinct emails (and, separately, phones) one profile may hold.
    pub max_ids_per_kind: usize,
    /// Blocks larger than this are skipped (counted in the report).
    pub max_block: usize,
    /// Merge threshold; None: chosen from the fitted model.
    pub auto_merge_at: Option<f64>,
    /// Review band lower bound; None: 16× lower odds than the threshold.
    pub review_from: Option<f64>,
    /// Random pairs drawn to estimate u.
    pub random_pairs: usize,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_people_per_identifier: 2,
            max_records_per_identifier: 1000,
            max_ids_per_kind: 5,
            max_block: 100,
            auto_merge_at: None,
            review_from: None,
            random_pairs: 300_000,
            seed: 20261124,
        }
    }
}

/// Why two records are in one profile.
#[derive(Debug, Clone)]
pub struct Link {
    pub a: u32,
    pub b: u32,
    pub reason: &'static str,
    pub detail: Option<String>,
    pub weight: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Refused {
    pub reason: &'static str,
    pub kind: Option<&'static str>,
    pub value: Option<String>,
    pub records: u64,
    pub a: Option<u32>,
    pub b: Option<u32>,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct ReviewCandidate {
    pub a: u32,
    pub b: u32,
    pub weight: f64,
    pub probability: f64,
    pub levels: Levels,
}

/// A decision by a person, on batch positions.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub a: u32,
    pub b: u32,
    pub same: bool,
}

pub struct Outcome {
    pub graph: Graph,
    pub links: Vec<Link>,
    pub refused: Vec<Refused>,
    pub review: Vec<ReviewCandidate>,
    pub model: MatchModel,
    pub auto_merge_at: f64,
    /// The fitted model's best expected F1 threshold, before the floor.
    pub model_best: f64,
    pub review_from: f64,
    pub candidate_pairs: u64,
    pub pairs_compared: u64,
    pub skipped_blocks: u64,
    /// Matches above the threshold that a guard rail refused.
    pub refused_matches: u64,
    pub merged_by_identifier: u64,
    pub merged_by_match: u64,
    pub merged_by_decision: u64,
    pub stages: Vec<(&'static str, f64)>,
}

pub struct Batch<'a> {
    pub records: &'a [Record],
    /// Records this run is about (all on a full run). Pairs and groups that
    /// touch none of them are left as they are.
    pub fresh: &'a [bool],
    /// Identifiers known (from the workspace) to be on too many records.
    pub too_common: &'a HashSet<(u8, Box<str>)>,
    pub decisions: &'a [Decision],
    /// The model of the last full run, for incremental runs.
    pub model: Option<&'a MatchModel>,
}

const STAGE: &str = "Resolving identities";

/// Share of true matches that shared identifiers are assumed to find, for
/// the prior (Splink's default assumption is the same order).
const IDENTIFIER_RECALL: f64 = 0.8;

/// Blocks with more members than this plus one are compared by sorted
/// neighbourhood: each member with its next `WINDOW` in two orders, so a
/// record is paired with at most 8 others per blocking key (2 on either
/// side in each order) and the pairs grow with the records, not with the
/// square of block sizes.
/// On a synthetic million records (`scripts/bench-identity-synthetic`) 2
/// found as many matches as 3 and 6 (F1 0.9247, 0.9246, 0.9256) with
/// 2.9M pairs instead of 3.6M and 4.9M; on the 220,000-customer demo F1
/// was 0.9842 with 2.4M pairs, against 0.9841 with 5.1M at 6.
pub const WINDOW: usize = 2;

/// The automatic merge threshold never goes below this probability: a
/// wrong merge costs more than a missed one, and the pairs just below go
/// to review.
pub const AUTO_FLOOR: f64 = 0.9998;

/// The match weight (bits) of a compared pair: the model's weight of its
/// levels, adjusted for how common agreeing names are.
pub fn weight_of_pair(model: &MatchModel, a: &Fields, b: &Fields, l: &Levels) -> f64 {
    let mut w = model.weight(l);
    if l[0] == 1 && a.first == b.first {
        w += model.name_adjustment(0, &a.first);
    }
    if l[1] == 1 && a.last == b.last {
        w += model.name_adjustment(1, &a.last);
    }
    w
}

/// The lowest weight a pair of this run can need to be looked at (review
/// band or merge), whatever threshold the run ends up choosing: the
/// automatic threshold is never below [`AUTO_FLOOR`] and the review band
/// starts 4 bits under it. An incremental run uses it to skip neighbours
/// that cannot matter before loading their whole profiles.
pub fn lowest_interesting_weight(settings: &Settings) -> f64 {
    let mut w = model::weight_of(AUTO_FLOOR) - 4.0;
    if let Some(a) = settings.auto_merge_at {
        w = w.min(model::weight_of(a) - 4.0);
    }
    if let Some(r) = settings.review_from {
        w = w.min(model::weight_of(r));
    }
    w
}

fn capped_id(kind: u8, value: &str) -> u64 {
    ((kind as u64) << 56) | (xxh3_64(value.as_bytes()) & 0x00ff_ffff_ffff_ffff)
}

pub fn run(
    batch: &Batch<'_>,
    settings: &Settings,
    progress: &mut dyn Progress,
) -> Result<Outcome, Cancelled> {
    let started = Instant::now();
    let recs = batch.records;
    let n = recs.len();
    let mut stages = Vec::new();
    let mut stage_clock = Instant::now();
    let mut lap = |stages: &mut Vec<(&'static str, f64)>, name: &'static str| {
        stages.push((name, stage_clock.elapsed().as_secs_f64()));
        stage_clock = Instant::now();
    };
    let tick = |progress: &mut dyn Progress, done: u64, total: u64| -> Result<(), Cancelled> {
        progress.tick(&Tick {
            stage: STAGE,
            done,
            total: Some(total),
            bytes: 0,
            total_bytes: None,
            elapsed: started.elapsed(),
        });
        if progress.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    };
    tick(progress, 0, 100)?;

    let name = |i: u32| recs[i as usize].first_last();
    let compatible = |x: u32, y: u32| names_compatible(name(x), name(y));

    let mut graph = Graph::new(n, settings.max_ids_per_kind);
    for (i, r) in recs.iter().enumerate() {
        let has_name = !r.first_last().0.is_empty();
        graph.seed(
            i as u32,
            has_name,
            r.ids
                .iter()
                .filter(|(k, _)| *k == EMAIL || *k == PHONE)
                .map(|(k, v)| capped_id(*k, v)),
        );
    }
    let mut links = Vec::new();
    let mut refused = Vec::new();
    let (mut by_id, mut by_match, mut by_decision) = (0u64, 0u64, 0u64);

    // Existing profiles stay together (incremental runs): no new links.
    let mut first_of_profile: HashMap<i64, u32> = HashMap::default();
    for (i, r) in recs.iter().enumerate() {
        if batch.fresh[i] {
            continue;
        }
        if let Some(p) = r.profile {
            match first_of_profile.get(&p) {
                Some(&j) => {
                    let _ = graph.force(j, i as u32);
                }
                None => {
                    first_of_profile.insert(p, i as u32);
                }
            }
        }
    }

    // People's decisions first: they win over everything that follows.
    for d in batch.decisions.iter().filter(|d| !d.same) {
        graph.forbid(d.a, d.b);
    }
    for d in batch.decisions.iter().filter(|d| d.same) {
        if let Ok(true) = graph.force(d.a, d.b) {
            by_decision += 1;
            links.push(Link {
                a: d.a,
                b: d.b,
                reason: "accepted",
                detail: None,
                weight: None,
            });
        }
    }

    // ---- deterministic stitching ---------------------------------------
    let mut groups: HashMap<(u8, &str), Vec<u32>> = HashMap::default();
    for (i, r) in recs.iter().enumerate() {
        for (k, v) in &r.ids {
            groups.entry((*k, v)).or_default().push(i as u32);
        }
    }
    let mut keys: Vec<(u8, &str)> = groups
        .iter()
        .filter(|(_, members)| {
            members.len() > 1 && members.iter().any(|m| batch.fresh[*m as usize])
        })
        .map(|(k, _)| *k)
        .collect();
    // Issued ids before typed ones; then a fixed order, so reruns agree.
    keys.sort_unstable();
    for (kind, value) in keys {
        let members = &groups[&(kind, value)];
        let placeholder = match kind {
            EMAIL => is_placeholder_email(value),
            PHONE => is_placeholder_phone(value),
            _ => false,
        };
        let common = members.len() > settings.max_records_per_identifier
            || batch.too_common.contains(&(kind, value.into()));
        if placeholder || common {
            refused.push(Refused {
                reason: if placeholder {
                    "placeholder"
                } else {
                    "too_common"
                },
                kind: Some(id_kind_name(kind)),
                value: Some(value.to_string()),
                records: members.len() as u64,
                a: None,
                b: None,
                detail: format!(
                    "{} {} is on {} records{}; it links no one",
                    id_kind_name(kind),
                    value,
                    members.len(),
                    if placeholder {
                        " and looks like a placeholder"
                    } else {
                        ""
                    }
                ),
            });
            continue;
        }
        if kind == CUSTOMER_ID {
            // A customer id is only meaningful inside the system that
            // issued it: the same number in two CRMs is two people.
            let owners: FxHashSet<i64> = members
                .iter()
                .filter(|m| recs[**m as usize].kind == RecordKind::Contact)
                .map(|m| recs[*m as usize].source)
                .collect();
            if owners.len() > 1 {
                let contacts = members
                    .iter()
                    .filter(|m| recs[**m as usize].kind == RecordKind::Contact);
                let mut it = contacts;
                if let (Some(a), Some(b)) = (it.next(), it.next()) {
                    refused.push(Refused {
                        reason: "ambiguous_id",
                        kind: Some("customer_id"),
                        value: Some(value.to_string()),
                        records: members.len() as u64,
                        a: Some(*a),
                        b: Some(*b),
                        detail: format!(
                            "customer id {value} exists in {} sources; records that refer to it are not linked",
                            owners.len()
                        ),
                    });
                }
                continue;
            }
        }
        // Bucket the named members into people by name compatibility.
        let mut buckets: Vec<Vec<u32>> = Vec::new();
        let mut nameless = Vec::new();
        for &m in members {
            if name(m).0.is_empty() {
                nameless.push(m);
                continue;
            }
            match buckets.iter_mut().find(|b| compatible(b[0], m)) {
                Some(b) => b.push(m),
                None => buckets.push(vec![m]),
            }
        }
        if buckets.len() > settings.max_people_per_identifier {
            refused.push(Refused {
                reason: "too_common",
                kind: Some(id_kind_name(kind)),
                value: Some(value.to_string()),
                records: members.len() as u64,
                a: None,
                b: None,
                detail: format!(
                    "{} {} is used by {} people with different names; it links no one",
                    id_kind_name(kind),
                    value,
                    buckets.len()
                ),
            });
            continue;
        }
        if buckets.len() > 1 {
            let (a, b) = (buckets[0][0], buckets[1][0]);
            refused.push(Refused {
                reason: "names_differ",
                kind: Some(id_kind_name(kind)),
                value: Some(value.to_string()),
                records: members.len() as u64,
                a: Some(a),
                b: Some(b),
                detail: format!(
                    "{} {} is shared by records with different first names; they are kept apart{}",
                    id_kind_name(kind),
                    value,
                    if nameless.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", and {} record(s) without a name stay unlinked",
                            nameless.len()
                        )
                    }
                ),
            });
        } else if buckets.is_empty() {
            buckets.push(Vec::new());
        }
        let single = buckets.len() == 1;
        for bucket in &mut buckets {
            if single {
                bucket.extend(nameless.iter().copied());
            }
            let Some((&head, rest)) = bucket.split_first() else {
                continue;
            };
            for &m in rest {
                match graph.union(head, m, &compatible) {
                    Ok(true) => {
                        by_id += 1;
                        links.push(Link {
                            a: head,
                            b: m,
                            reason: id_kind_name(kind),
                            detail: Some(value.to_string()),
                            weight: None,
                        });
                    }
                    Ok(false) => {}
                    Err(why) => refused.push(refusal(why, head, m, Some((kind, value)))),
                }
            }
            graph.dedupe_names(head, &|x, y| name(x) == name(y));
        }
    }
    lap(&mut stages, "deterministic");
    tick(progress, 30, 100)?;

    // ---- probabilistic matching ----------------------------------------
    // One representative per component and spelling: a customer's fifty
    // identical orders need comparing once.
    let mut reps: Vec<u32> = Vec::new();
    let mut rep_fresh: Vec<bool> = Vec::new();
    {
        let mut seen: HashMap<(u32, i64), usize> = HashMap::default();
        for (i, r) in recs.iter().enumerate() {
            let Some(f) = &r.fields else { continue };
            if !f.is_matchable() {
                continue;
            }
            let root = graph.find(i as u32);
            match seen.get(&(root, r.fingerprint)) {
                Some(&k) => rep_fresh[k] |= batch.fresh[i],
                None => {
                    seen.insert((root, r.fingerprint), reps.len());
                    reps.push(i as u32);
                    rep_fresh.push(batch.fresh[i]);
                }
            }
        }
    }
    let mut blocks: HashMap<i64, (u8, Vec<u32>)> = HashMap::default();
    for (k, &i) in reps.iter().enumerate() {
        for (rule, key) in recs[i as usize].blocking_keys_by_rule() {
            blocks
                .entry(key)
                .or_insert_with(|| (rule, Vec::new()))
                .1
                .push(k as u32);
        }
    }
    let mut skipped_blocks = 0u64;
    // (pair, bit set of the rules that produced it)
    let mut pairs: Vec<(u64, u8)> = Vec::new();
    for (rule, members) in blocks.values() {
        if members.len() < 2 {
            continue;
        }
        if members.len() > settings.max_block {
            skipped_blocks += 1;
            continue;
        }
        let mut push = |a: u32, b: u32| {
            if !rep_fresh[a as usize] && !rep_fresh[b as usize] {
                return;
            }
            let (ra, rb) = (reps[a as usize], reps[b as usize]);
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            pairs.push((((lo as u64) << 32) | hi as u64, 1 << rule));
        };
        if members.len() <= WINDOW + 1 {
            for (x, &a) in members.iter().enumerate() {
                for &b in &members[x + 1..] {
                    push(a, b);
                }
            }
            continue;
        }
        // A larger block (a common name, a busy postcode) is compared by
        // sorted neighbourhood: each record with the next WINDOW in two
        // orders, by name and then place, and by email and phone. All pairs
        // of a block grow with its square, and blocks grow with the data.
        let fields_of = |k: u32| {
            recs[reps[k as usize] as usize]
                .fields
                .as_deref()
                .expect("representatives have fields")
        };
        let mut sorted = members.clone();
        for by_contact in [false, true] {
            sorted.sort_by(|&x, &y| {
                let (a, b) = (fields_of(x), fields_of(y));
                let order = if by_contact {
                    (
                        a.email_local.as_deref(),
                        a.phone.as_deref(),
                        &a.last,
                        &a.first,
                    )
                        .cmp(&(
                            b.email_local.as_deref(),
                            b.phone.as_deref(),
                            &b.last,
                            &b.first,
                        ))
                } else {
                    (&a.last, &a.first, &a.postcode, a.birth, &a.city).cmp(&(
                        &b.last,
                        &b.first,
                        &b.postcode,
                        b.birth,
                        &b.city,
                    ))
                };
                order.then(x.cmp(&y))
            });
            for (x, &a) in sorted.iter().enumerate() {
                for &b in sorted[x + 1..].iter().take(WINDOW) {
                    push(a, b);
                }
            }
        }
    }
    drop(blocks);
    pairs.par_sort_unstable();
    pairs.dedup_by(|next, kept| {
        if next.0 == kept.0 {
            kept.1 |= next.1;
            true
        } else {
            false
        }
    });
    let candidate_pairs = pairs.len() as u64;
    lap(&mut stages, "blocking");
    tick(progress, 40, 100)?;

    let fields = |i: u32| {
        recs[i as usize]
            .fields
            .as_deref()
            .expect("representatives have fields")
    };
    // Every candidate pair is compared, also those already linked by an
    // identifier: they are the clearest matches the model can learn from.
    let compared: Vec<(u64, u8, Levels)> = pairs
        .par_iter()
        .map(|(p, rules)| {
            (
                *p,
                *rules,
                compare(fields((p >> 32) as u32), fields(*p as u32)),
            )
        })
        .collect();
    drop(pairs);
    let scored: Vec<(u64, Levels)> = compared
        .iter()
        .filter(|(p, _, _)| !graph.same((p >> 32) as u32, *p as u32))
        .map(|(p, _, l)| (*p, *l))
        .collect();
    let pairs_compared = compared.len() as u64;
    let mut histogram = Histogram::default();
    for (_, l) in &scored {
        *histogram.entry(*l).or_default() += 1;
    }
    lap(&mut stages, "comparing");
    tick(progress, 60, 100)?;

    let model = match batch.model {
        Some(m) => m.clone(),
        None => {
            // u from random pairs of representatives, seeded.
            let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
            let mut random = Histogram::default();
            let draws = if reps.len() >= 2 {
                settings.random_pairs
            } else {
                0
            };
            let sample: Vec<(u32, u32)> = (0..draws)
                .map(|_| {
                    (
                        reps[rng.random_range(0..reps.len())],
                        reps[rng.random_range(0..reps.len())],
                    )
                })
                .filter(|(a, b)| a != b)
                .collect();
            let levels: Vec<Levels> = sample
                .par_iter()
                .map(|(a, b)| compare(fields(*a), fields(*b)))
                .collect();
            for l in levels {
                *random.entry(l).or_default() += 1;
            }
            // Training sessions by the kind of blocking that made the pairs.
            let session = |rules: &[usize]| {
                let mask: u8 = rules.iter().map(|r| 1u8 << r).fold(0, |a, b| a | b);
                let mut fixed = [false; 8];
                for r in rules {
                    for c in RULES[*r].fixes {
                        fixed[*c] = true;
                    }
                }
                let mut pairs = Histogram::default();
                for (_, rules, l) in &compared {
                    if rules & mask != 0 {
                        *pairs.entry(*l).or_default() += 1;
                    }
                }
                Session { pairs, fixed }
            };
            let sessions = [session(&[0, 4, 5]), session(&[2, 3]), session(&[1])];
            // The chance two random records match, from the identifier
            // links: pairs already together, scaled up because identifiers
            // find only part of the matches (Splink assumes the same).
            let mut per_component: HashMap<u32, u64> = HashMap::default();
            for &r in &reps {
                *per_component.entry(graph.find(r)).or_default() += 1;
            }
            let linked: f64 = per_component
                .values()
                .map(|k| (k * k.saturating_sub(1) / 2) as f64)
                .sum();
            let all = (reps.len() as f64) * (reps.len() as f64 - 1.0) / 2.0;
            let lambda =
                (all > 0.0).then(|| ((linked / IDENTIFIER_RECALL).max(1.0) / all).min(0.5));
            let mut m = MatchModel::fit_sessions(
                &sessions,
                &histogram,
                model::estimate_u(&random),
                draws as u64,
                lambda,
            );
            for &r in &reps {
                let f = fields(r);
                if !f.first.is_empty() {
                    *m.first_names.entry(f.first.to_string()).or_default() += 1;
                }
                if !f.last.is_empty() {
                    *m.last_names.entry(f.last.to_string()).or_default() += 1;
                }
            }
            // Names seen once say nothing a default would not: keep the
            // table small.
            m.first_names.retain(|_, n| *n > 1);
            m.last_names.retain(|_, n| *n > 1);
            m.name_total = reps.len() as u64;
            m
        }
    };
    drop(compared);
    let weight = |p: u64, l: &Levels| -> f64 {
        weight_of_pair(&model, fields((p >> 32) as u32), fields(p as u32), l)
    };
    let mut weighted: Vec<(f64, u64, Levels)> = scored
        .into_par_iter()
        .map(|(p, l)| (weight(p, &l), p, l))
        .collect();
    // Strongest first: the order merging needs, and the order the threshold
    // search walks (without a copy of ten million pairs).
    weighted.par_sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    // Where the fitted model expects the best F1, before the floor: shown
    // beside the threshold so people see what the model would choose.
    let model_best = model::auto_threshold_sorted(
        || {
            weighted
                .iter()
                .map(|(w, _, _)| (model::probability(*w), 1.0))
        },
        0.0,
    );
    let auto_merge_at = settings
        .auto_merge_at
        .unwrap_or_else(|| model_best.clamp(AUTO_FLOOR, 0.999_999));
    let review_from = settings
        .review_from
        .unwrap_or_else(|| model::probability(model::weight_of(auto_merge_at) - 4.0))
        .min(auto_merge_at);
    lap(&mut stages, "training");

    let merge_weight = model::weight_of(auto_merge_at);
    let review_weight = model::weight_of(review_from);
    let mut review = Vec::new();
    let mut refused_matches = 0u64;
    for (w, p, l) in &weighted {
        let (a, b) = ((p >> 32) as u32, *p as u32);
        if *w >= merge_weight {
            match graph.union(a, b, &compatible) {
                Ok(true) => {
                    by_match += 1;
                    links.push(Link {
                        a,
                        b,
                        reason: "match",
                        detail: Some(format!("{:.4}", model::probability(*w))),
                        weight: Some(*w),
                    });
                }
                Ok(false) => {}
                Err(why) => {
                    refused_matches += 1;
                    let mut r = refusal(why, a, b, None);
                    r.detail = format!(
                        "a match (probability {:.4}) was not merged: {}",
                        model::probability(*w),
                        r.detail
                    );
                    refused.push(r);
                }
            }
        } else if *w >= review_weight {
            review.push(ReviewCandidate {
                a,
                b,
                weight: *w,
                probability: model::probability(*w),
                levels: *l,
            });
        } else {
            break;
        }
    }
    // A pair whose records ended up together anyway needs no review; of
    // several pairs between the same two profiles, the strongest is enough.
    let mut seen_components = FxHashSet::default();
    review.retain(|c| {
        let (ra, rb) = (graph.find(c.a), graph.find(c.b));
        ra != rb && seen_components.insert((ra.min(rb), ra.max(rb)))
    });
    lap(&mut stages, "merging");
    tick(progress, 70, 100)?;

    Ok(Outcome {
        graph,
        links,
        refused,
        review,
        model,
        auto_merge_at,
        model_best,
        review_from,
        candidate_pairs,
        pairs_compared,
        skipped_blocks,
        refused_matches,
        merged_by_identifier: by_id,
        merged_by_match: by_match,
        merged_by_decision: by_decision,
        stages,
    })
}

fn refusal(why: Refusal, a: u32, b: u32, id: Option<(u8, &str)>) -> Refused {
    // For a name conflict, the records listed are the two whose names
    // clash, which may be others in the two profiles than the pair that
    // asked to be joined: that is what a reviewer needs to see.
    let (a, b) = match why {
        Refusal::NamesDiffer { a: x, b: y } => (x, y),
        _ => (a, b),
    };
    let (reason, detail) = match why {
        Refusal::NamesDiffer { .. } => (
            "names_differ",
            "the two sides carry first names that cannot be one person's".to_string(),
        ),
        Refusal::Cap { kind } => (
            "cap",
            format!(
                "the profile would hold more {}s than the cap allows",
                id_kind_name(((kind as u64) & 0xff) as u8)
            ),
        ),
        Refusal::Decision { .. } => (
            "decision",
            "someone decided these records are different people".to_string(),
        ),
    };
    Refused {
        reason,
        kind: id.map(|(k, _)| id_kind_name(k)),
        value: id.map(|(_, v)| v.to_string()),
        records: 2,
        a: Some(a),
        b: Some(b),
        detail,
    }
}
