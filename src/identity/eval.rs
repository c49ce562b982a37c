//! Measuring a resolution against ground truth: a CSV of
//! `file,source_key,person_id` (what the demo generator writes), where
//! `file` is the name of the imported file the record came from.
//!
//! Pairwise figures count pairs of records: a true pair is two records of
//! one person, a predicted pair two records in one profile. Cluster figures
//! count people reproduced exactly as one profile.
//!
//! Records that carry no identity at all — a web-analytics device that
//! never logged in — cannot be linked to anyone by any method; the headline
//! figures leave them out (their count is reported), and `all_records`
//! gives the figures with them.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{sql, IdentityError, Result};
use crate::store::Workspace;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Evaluation {
    /// Rows of the truth file.
    pub truth_rows: u64,
    /// Truth rows whose record is in the workspace and resolved.
    pub records: u64,
    /// Truth rows whose file was never imported or whose record is missing.
    pub missing: u64,
    pub people: u64,
    pub profiles: u64,
    pub true_pairs: u64,
    pub predicted_pairs: u64,
    pub correct_pairs: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Share of people whose records form exactly one profile, alone.
    pub exact_people: f64,
    /// Truth records left out of the figures above because they carry no
    /// identity (anonymous devices).
    pub anonymous: u64,
    /// Pairwise precision, recall and F1 counting anonymous records too.
    pub all_records: (f64, f64, f64),
    /// Profiles holding records of more than one person.
    pub over_merged_profiles: u64,
    /// People whose records are spread over more than one profile.
    pub split_people: u64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

pub fn evaluate(ws: &Workspace, truth: &Path) -> Result<Evaluation> {
    let bad = |detail: String| IdentityError::Truth {
        path: truth.display().to_string(),
        detail,
    };
    // File name → source, from the imports.
    let mut sources: HashMap<String, i64> = HashMap::new();
    {
        let mut st = ws
            .conn()
            .prepare("SELECT file_name, source_id FROM imports ORDER BY id")
            .map_err(sql(ws))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(sql(ws))?;
        for row in rows {
            let (f, s) = row.map_err(sql(ws))?;
            sources.insert(f, s);
        }
    }
    let mut profile_of: HashMap<(i64, String), i64> = HashMap::new();
    {
        let mut st = ws
            .conn()
            .prepare("SELECT source_id, source_key, profile_id FROM identity_records WHERE profile_id IS NOT NULL")
            .map_err(sql(ws))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(sql(ws))?;
        for row in rows {
            let (s, k, p) = row.map_err(sql(ws))?;
            profile_of.insert((s, k), p);
        }
    }
    // Devices with nothing but their own id.
    let mut anonymous: std::collections::HashSet<(i64, String)> = std::collections::HashSet::new();
    {
        let mut st = ws
            .conn()
            .prepare(
                "SELECT source_id, source_key FROM identity_records r WHERE kind = 'device'
                 AND NOT EXISTS (SELECT 1 FROM identifiers i WHERE i.record_id = r.id AND i.kind <> 'device_id')",
            )
            .map_err(sql(ws))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(sql(ws))?;
        for row in rows {
            anonymous.insert(row.map_err(sql(ws))?);
        }
    }
    let mut reader = csv::Reader::from_path(truth).map_err(|e| bad(e.to_string()))?;
    let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            bad(format!(
                "it has no `{name}` column (expected file,source_key,person_id)"
            ))
        })
    };
    let (cf, ck, cp) = (col("file")?, col("source_key")?, col("person_id")?);
    let mut e = Evaluation::default();
    let mut person_ids: HashMap<String, u32> = HashMap::new();
    let mut cells: HashMap<(u32, i64), u64> = HashMap::new();
    let mut all_cells: HashMap<(u32, i64), u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(|err| {
        bad(format!(
            "row {}: {err}",
            record.position().map_or(0, |p| p.line())
        ))
    })? {
        e.truth_rows += 1;
        let file = &record[cf];
        let Some(source) = sources.get(file) else {
            e.missing += 1;
            continue;
        };
        let key = (*source, record[ck].to_string());
        let Some(profile) = profile_of.get(&key) else {
            e.missing += 1;
            continue;
        };
        let n = person_ids.len() as u32;
        let person = *person_ids.entry(record[cp].to_string()).or_insert(n);
        *all_cells.entry((person, *profile)).or_default() += 1;
        if anonymous.contains(&key) {
            e.anonymous += 1;
            continue;
        }
        *cells.entry((person, *profile)).or_default() += 1;
        e.records += 1;
    }
    let all = pairwise(&all_cells);
    e.all_records = (all.0, all.1, all.2);
    let mut per_person: HashMap<u32, (u64, u32)> = HashMap::new();
    let mut per_profile: HashMap<i64, (u64, u32)> = HashMap::new();
    for ((person, profile), n) in &cells {
        e.correct_pairs += pairs(*n);
        let p = per_person.entry(*person).or_default();
        p.0 += n;
        p.1 += 1;
        let q = per_profile.entry(*profile).or_default();
        q.0 += n;
        q.1 += 1;
    }
    e.people = per_person.len() as u64;
    e.profiles = per_profile.len() as u64;
    e.true_pairs = per_person.values().map(|(n, _)| pairs(*n)).sum();
    e.predicted_pairs = per_profile.values().map(|(n, _)| pairs(*n)).sum();
    e.precision = if e.predicted_pairs == 0 {
        1.0
    } else {
        e.correct_pairs as f64 / e.predicted_pairs as f64
    };
    e.recall = if e.true_pairs == 0 {
        1.0
    } else {
        e.correct_pairs as f64 / e.true_pairs as f64
    };
    e.f1 = if e.precision + e.recall == 0.0 {
        0.0
    } else {
        2.0 * e.precision * e.recall / (e.precision + e.recall)
    };
    e.over_merged_profiles = per_profile.values().filter(|(_, k)| *k > 1).count() as u64;
    e.split_people = per_person.values().filter(|(_, k)| *k > 1).count() as u64;
    let exact = cells
        .iter()
        .filter(|((person, profile), _)| per_person[person].1 == 1 && per_profile[profile].1 == 1)
        .count();
    e.exact_people = if e.people == 0 {
        0.0
    } else {
        exact as f64 / e.people as f64
    };
    Ok(e)
}

/// (precision, recall, F1) of person × profile cell counts.
fn pairwise(cells: &HashMap<(u32, i64), u64>) -> (f64, f64, f64) {
    let mut per_person: HashMap<u32, u64> = HashMap::new();
    let mut per_profile: HashMap<i64, u64> = HashMap::new();
    let mut correct = 0;
    for ((person, profile), n) in cells {
        correct += pairs(*n);
        *per_person.entry(*person).or_default() += n;
        *per_profile.entry(*profile).or_default() += n;
    }
    let truth: u64 = per_person.values().map(|n| pairs(*n)).sum();
    let predicted: u64 = per_profile.values().map(|n| pairs(*n)).sum();
    let p = if predicted == 0 {
        1.0
    } else {
        correct as f64 / predicted as f64
    };
    let r = if truth == 0 {
        1.0
    } else {
        correct as f64 / truth as f64
    };
    let f = if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    };
    (p, r, f)
}
