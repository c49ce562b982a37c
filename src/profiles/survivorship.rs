//! Survivorship: which of a person's records gives each profile field its
//! value, and the rules a workspace keeps for it.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Context, ProfileError};

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

/// Positions in [`FIELDS`], for code that fills a record's values.
pub(crate) mod field {
    pub const FIRST_NAME: usize = 0;
    pub const LAST_NAME: usize = 1;
    pub const EMAIL: usize = 2;
    pub const PHONE: usize = 3;
    pub const CITY: usize = 9;
    pub const POSTCODE: usize = 11;
    pub const COUNTRY: usize = 12;
}

/// How a field picks its value among the records that have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The value of the most recently updated record.
    MostRecent,
    /// The value from the best source in [`SurvivorshipRules::source_priority`].
    SourcePriority,
    /// The value most records agree on (ignoring case).
    MostFrequent,
}

/// The workspace's survivorship rules. Ties under every rule are broken the
/// same way: better source, then more recent record, then lower record id,
/// so a rebuild always gives the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurvivorshipRules {
    /// The rule of every field not listed in `fields`.
    pub default: Rule,
    /// Field → rule, for fields that do not use the default.
    #[serde(default)]
    pub fields: BTreeMap<String, Rule>,
    /// Source names, best first. Sources not listed rank after all listed ones.
    #[serde(default)]
    pub source_priority: Vec<String>,
}

impl Default for SurvivorshipRules {
    fn default() -> Self {
        // Names: what most records say, so one system's typo loses.
        // Everything else: the latest, because people move, marry and
        // change jobs, and the newest record knows.
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

    /// Refuses rules for fields profiles do not have, naming the field.
    pub fn validate(&self) -> Result<(), ProfileError> {
        match self.fields.keys().find(|f| !FIELDS.contains(&f.as_str())) {
            Some(f) => Err(ProfileError::UnknownField { field: f.clone() }),
            None => Ok(()),
        }
    }
}

/// The `settings` key the rules are stored under, as JSON.
const SETTING: &str = "survivorship";

/// The workspace's rules, or the defaults when none were saved.
pub fn rules(conn: &Connection) -> Result<SurvivorshipRules, ProfileError> {
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [SETTING],
            |r| r.get(0),
        )
        .optional()
        .context("read the survivorship rules")?;
    let Some(json) = stored else {
        return Ok(SurvivorshipRules::default());
    };
    let rules: SurvivorshipRules =
        serde_json::from_str(&json).map_err(|e| ProfileError::BadRules {
            detail: e.to_string(),
        })?;
    rules.validate()?;
    Ok(rules)
}

/// Saves the rules after checking them. Profiles keep their values until
/// the next [`super::rebuild`].
pub fn set_rules(conn: &Connection, rules: &SurvivorshipRules) -> Result<(), ProfileError> {
    rules.validate()?;
    let json = serde_json::to_string(rules).expect("rules serialise");
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![SETTING, json],
    )
    .context("save the survivorship rules")?;
    Ok(())
}

/// One record's say in its profile.
#[derive(Debug, Default)]
pub(crate) struct Contribution {
    pub record: i64,
    /// Position of the record's source in the priority list (`usize::MAX`
    /// when unlisted).
    pub rank: usize,
    /// ISO 8601 of the record's latest change; empty when unknown, which
    /// sorts oldest.
    pub recency: String,
    /// Non-empty values by [`FIELDS`] position.
    pub values: [Option<String>; FIELDS.len()],
}

/// The rules resolved to one rule per field position, so the hot loop does
/// no map lookups.
pub(crate) struct Chooser {
    rules: [Rule; FIELDS.len()],
}

impl Chooser {
    pub fn new(rules: &SurvivorshipRules) -> Chooser {
        Chooser {
            rules: FIELDS.map(|f| rules.rule(f)),
        }
    }

    /// For each field, the index in `group` of the record whose value wins.
    pub fn choose(&self, group: &[Contribution]) -> [Option<usize>; FIELDS.len()] {
        std::array::from_fn(|f| self.winner(f, group))
    }

    fn winner(&self, f: usize, group: &[Contribution]) -> Option<usize> {
        let mut candidates = group
            .iter()
            .enumerate()
            .filter(|(_, c)| c.values[f].is_some());
        let first = candidates.next()?;
        // Most profiles have one record with the value: nothing to weigh.
        if candidates.next().is_none() {
            return Some(first.0);
        }
        let candidates = group
            .iter()
            .enumerate()
            .filter(|(_, c)| c.values[f].is_some());
        let best = match self.rules[f] {
            Rule::MostRecent => candidates
                .min_by(|(_, a), (_, b)| b.recency.cmp(&a.recency).then_with(|| tie_break(a, b))),
            Rule::SourcePriority => candidates.min_by(|(_, a), (_, b)| tie_break(a, b)),
            Rule::MostFrequent => {
                let counts = agreement(f, group);
                candidates.min_by(|(i, a), (j, b)| {
                    counts[*j].cmp(&counts[*i]).then_with(|| tie_break(a, b))
                })
            }
        };
        best.map(|(i, _)| i)
    }
}

/// Better source, then newer, then the lower (older) record id.
fn tie_break(a: &Contribution, b: &Contribution) -> std::cmp::Ordering {
    a.rank
        .cmp(&b.rank)
        .then_with(|| b.recency.cmp(&a.recency))
        .then_with(|| a.record.cmp(&b.record))
}

/// For each record, how many records of the group hold the same value of
/// field `f` (ignoring case); 0 for records without one.
fn agreement(f: usize, group: &[Contribution]) -> Vec<usize> {
    let values = || group.iter().map(|c| c.values[f].as_deref());
    // Pairwise for the usual handful of records; a map for the rare
    // profile with hundreds, where pairwise would be quadratic.
    if group.len() <= 32 {
        return values()
            .map(|a| match a {
                None => 0,
                Some(a) => values().flatten().filter(|b| same(a, b)).count(),
            })
            .collect();
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    for v in values().flatten() {
        *counts.entry(v.to_lowercase()).or_default() += 1;
    }
    values()
        .map(|v| v.map_or(0, |v| counts[&v.to_lowercase()]))
        .collect()
}

/// Equal ignoring case, without allocating.
fn same(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(record: i64, rank: usize, recency: &str, first_name: Option<&str>) -> Contribution {
        let mut c = Contribution {
            record,
            rank,
            recency: recency.into(),
            ..Default::default()
        };
        c.values[field::FIRST_NAME] = first_name.map(str::to_string);
        c
    }

    fn winner(rule: Rule, group: &[Contribution]) -> Option<i64> {
        let rules = SurvivorshipRules {
            default: rule,
            fields: BTreeMap::new(),
            source_priority: Vec::new(),
        };
        Chooser::new(&rules).choose(group)[field::FIRST_NAME].map(|i| group[i].record)
    }

    #[test]
    fn each_rule_picks_its_record_and_ties_are_deterministic() {
        let group = [
            record(1, 1, "2024-01-01", Some("Zoë")),
            record(2, 0, "2023-01-01", Some("Zoe")),
            record(3, 2, "2026-01-01", Some("ZOË")),
            record(4, 0, "2027-01-01", None),
        ];
        assert_eq!(winner(Rule::MostRecent, &group), Some(3));
        assert_eq!(winner(Rule::SourcePriority, &group), Some(2));
        // "Zoë" twice (case ignored); of the two, the better source wins.
        assert_eq!(winner(Rule::MostFrequent, &group), Some(1));
        // Same date, same source: the lower record id.
        let tied = [
            record(9, 0, "2024-01-01", Some("A")),
            record(5, 0, "2024-01-01", Some("B")),
        ];
        assert_eq!(winner(Rule::MostRecent, &tied), Some(5));
        assert_eq!(winner(Rule::MostFrequent, &tied), Some(5));
        assert_eq!(winner(Rule::MostRecent, &[record(1, 0, "", None)]), None);
    }

    #[test]
    fn most_frequent_counts_large_groups_the_same_way() {
        let mut group: Vec<Contribution> = (0..40)
            .map(|i| {
                record(
                    i,
                    0,
                    "2024-01-01",
                    Some(if i % 3 == 0 { "ANNA" } else { "Ann" }),
                )
            })
            .collect();
        group.push(record(100, 0, "2030-01-01", Some("anna")));
        assert_eq!(agreement(field::FIRST_NAME, &group)[0], 15);
        assert_eq!(winner(Rule::MostFrequent, &group), Some(1), "Ann: 26 of 41");
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let mut rules = SurvivorshipRules::default();
        rules.fields.insert("shoe_size".into(), Rule::MostRecent);
        let e = rules.validate().unwrap_err();
        assert_eq!(e.code(), "survivorship_rules");
        assert!(e.to_string().contains("`shoe_size`"), "{e}");
        let json = serde_json::to_string(&SurvivorshipRules::default()).unwrap();
        assert!(json.contains("\"first_name\":\"most_frequent\""), "{json}");
    }
}
