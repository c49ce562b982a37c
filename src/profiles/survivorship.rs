//! Survivorship: which of a person's records gives each profile field its
//! value.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Contribution, ProfileError};

/// The profile fields, in the order of the `profiles` columns.
pub const FIELDS: [&str; 13] = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "company",
    "job_title",
    "address1",
    "city",
    "region",
    "postcode",
    "country",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The value of the most recently updated record that has one.
    MostRecent,
    /// The value from the best source in the priority list.
    SourcePriority,
    /// The value most records agree on (case-insensitive).
    MostFrequent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurvivorshipRules {
    pub default: Rule,
    /// Field → rule, for fields that do not use the default.
    #[serde(default)]
    pub fields: BTreeMap<String, Rule>,
    /// Source names, best first; also breaks ties under the other rules.
    #[serde(default)]
    pub source_priority: Vec<String>,
}

impl Default for SurvivorshipRules {
    fn default() -> Self {
        // Names: what most records say (one typo in one system loses).
        // Everything else: the latest, because people move and change
        // addresses.
        SurvivorshipRules {
            default: Rule::MostRecent,
            fields: [
                ("first_name".to_string(), Rule::MostFrequent),
                ("last_name".to_string(), Rule::MostFrequent),
            ]
            .into_iter()
            .collect(),
            source_priority: Vec::new(),
        }
    }
}

impl SurvivorshipRules {
    pub fn rule(&self, field: &str) -> Rule {
        self.fields.get(field).copied().unwrap_or(self.default)
    }

    pub fn validate(&self) -> Result<(), ProfileError> {
        for f in self.fields.keys() {
            if !FIELDS.contains(&f.as_str()) {
                return Err(ProfileError::Rules(format!(
                    "there is no profile field `{f}`; the fields are {}",
                    FIELDS.join(", ")
                )));
            }
        }
        Ok(())
    }
}

const KEY: &str = "survivorship";

pub fn rules(conn: &Connection) -> Result<SurvivorshipRules, ProfileError> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [KEY], |r| {
            r.get(0)
        })
        .optional()?;
    match v {
        None => Ok(SurvivorshipRules::default()),
        Some(s) => serde_json::from_str(&s)
            .map_err(|e| ProfileError::Rules(format!("the stored rules are not valid: {e}"))),
    }
}

pub fn set_rules(conn: &Connection, rules: &SurvivorshipRules) -> Result<(), ProfileError> {
    rules.validate()?;
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![KEY, serde_json::to_string(rules).unwrap_or_default()],
    )?;
    Ok(())
}

/// The chosen value per field and, for each chosen field, the record it
/// came from.
pub(super) fn choose(
    rules: &SurvivorshipRules,
    priority: &HashMap<i64, usize>,
    group: &[Contribution],
) -> ([Option<String>; FIELDS.len()], BTreeMap<&'static str, i64>) {
    let mut values: [Option<String>; FIELDS.len()] = Default::default();
    let mut origins = BTreeMap::new();
    let rank = |c: &Contribution| priority.get(&c.source).copied().unwrap_or(usize::MAX);
    for (f, field) in FIELDS.iter().enumerate() {
        let candidates: Vec<&Contribution> =
            group.iter().filter(|c| c.values[f].is_some()).collect();
        if candidates.is_empty() {
            continue;
        }
        // Ties always end on the same record: better source, newer, lower id.
        let tie = |a: &Contribution, b: &Contribution| {
            rank(a)
                .cmp(&rank(b))
                .then_with(|| b.recency.cmp(&a.recency))
                .then_with(|| a.record.cmp(&b.record))
        };
        let best = match rules.rule(field) {
            Rule::MostRecent => candidates
                .iter()
                .min_by(|a, b| b.recency.cmp(&a.recency).then_with(|| tie(a, b))),
            Rule::SourcePriority => candidates.iter().min_by(|a, b| tie(a, b)),
            Rule::MostFrequent => {
                let mut counts: HashMap<String, usize> = HashMap::new();
                for c in &candidates {
                    *counts
                        .entry(c.values[f].as_deref().unwrap_or("").to_lowercase())
                        .or_default() += 1;
                }
                let count =
                    |c: &Contribution| counts[&c.values[f].as_deref().unwrap_or("").to_lowercase()];
                candidates
                    .iter()
                    .min_by(|a, b| count(b).cmp(&count(a)).then_with(|| tie(a, b)))
            }
        };
        if let Some(c) = best {
            values[f] = c.values[f].clone();
            origins.insert(*field, c.record);
        }
    }
    (values, origins)
}
