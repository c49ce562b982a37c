//! The segment definition: a versioned JSON model of nested AND/OR/NOT
//! groups of conditions. One model feeds three readers that must agree:
//! the SQL compiler (`compile`, the reference answer and what exports use),
//! the plain-English description (`describe`), and the in-memory evaluator
//! behind live counts (`index`), which tests check against the SQL.
//!
//! Semantics shared by every reader (documented here once):
//! - Text comparisons (`eq`, `ne`, `in`, `not_in`, `contains`,
//!   `starts_with`) ignore ASCII case, as SQLite's `lower()` does.
//! - A condition on a missing value is false, except `is_empty`, `ne` and
//!   `not_in` (a profile with no country "is not GB").
//! - Count traits (orders, revenue, sessions, …) are 0 for a profile with
//!   no traits row.
//! - Money values in a rule are in major units of the workspace currency
//!   (`100` = €100.00); the compiler scales them to minor units.
//! - "In the last N days" means on or after 00:00 UTC of the day N − 1
//!   days before today (N = 1 is today); "more than N days ago" is before
//!   that moment. Windows are whole UTC days so that per-day aggregates
//!   answer them exactly.
//! - Consent for a channel is the consent ledger's (`privacy::consent`,
//!   the `profile_consent` view): the latest evidence of the profile's
//!   records, addresses and manual changes wins (then source priority, then
//!   denied); `unknown` means no evidence, whatever the channel's opt-in
//!   setting (which campaign exports apply, not rules).

use serde::{Deserialize, Serialize};

/// The version of the model this build writes; older versions are
/// upgraded when read.
pub const VERSION: u32 = 1;

/// A whole segment definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Definition {
    pub version: u32,
    pub root: Group,
}

/// AND (`all`) or OR (`any`) of conditions; `negate` makes it NOT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Group {
    #[serde(rename = "match")]
    pub match_: Match,
    #[serde(default)]
    pub negate: bool,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Match {
    All,
    Any,
}

/// One condition. Tagged by `type` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum Condition {
    /// A nested group.
    Group(Group),
    /// A profile attribute or trait compared with a value.
    Field(FieldCondition),
    /// Did / did not do an event N times in a window.
    Event(EventCondition),
    /// Orders in a window: how many, or how much.
    Order(OrderCondition),
    /// Did `first` and then (did not) do `then` within a gap.
    Sequence(SequenceCondition),
    /// Member (or not) of another saved segment.
    Segment(SegmentCondition),
    /// Member (or not) of a cluster of the latest clustering run.
    Cluster(ClusterCondition),
    /// Consent status for a channel.
    Consent(ConsentCondition),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct FieldCondition {
    /// A name from `fields::FIELDS`, e.g. `country`, `rfm_segment`, `clv`.
    pub field: String,
    pub op: Op,
    /// A number, a string (text or ISO date), a list (`in`, `not_in`), a
    /// pair (`between`, inclusive), N days (`in_last_days`,
    /// `more_than_days_ago`) or nothing (`is_empty`, `is_set`).
    #[serde(default)]
    #[ts(type = "unknown")]
    pub value: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Between,
    In,
    NotIn,
    Contains,
    StartsWith,
    IsEmpty,
    IsSet,
    InLastDays,
    MoreThanDaysAgo,
}

/// How many times: at least / at most / exactly `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Count {
    pub op: CountOp,
    pub value: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CountOp {
    AtLeast,
    AtMost,
    Exactly,
}

impl Default for Count {
    /// "At least once".
    fn default() -> Count {
        Count {
            op: CountOp::AtLeast,
            value: 1,
        }
    }
}

/// "did / did not do EVENT [where property OP value] at least / at most /
/// exactly N times in the last N days". `did: false` means "never did it
/// (with those properties) in the window"; `count` is then ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct EventCondition {
    pub did: bool,
    /// The event name as imported, e.g. `view_item`, `add_to_cart`.
    pub event: String,
    #[serde(default)]
    pub filters: Vec<PropertyFilter>,
    #[serde(default)]
    pub count: Count,
    /// `None`: ever.
    #[serde(default)]
    pub within_days: Option<u32>,
}

/// A filter on one property of an event: `sku`, `category`, `brand` (the
/// last two from the catalogue through the SKU), `device`, `channel`,
/// `country`, or `value` (money, major units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct PropertyFilter {
    pub property: String,
    /// `eq`, `ne`, `in`, `contains`, `starts_with` for text; `eq`, `ne`,
    /// `lt`, `le`, `gt`, `ge` for `value`.
    pub op: Op,
    #[serde(default)]
    #[ts(type = "unknown")]
    pub value: serde_json::Value,
}

/// Orders in a window. `metric: count` compares the number of orders with
/// `count`; `metric: total` compares the money spent (major units) with
/// `op`/`value`. `sku`/`category` keep only orders with such a line.
/// Cancelled orders never count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct OrderCondition {
    pub did: bool,
    pub metric: OrderMetric,
    #[serde(default)]
    pub count: Count,
    /// For `total`: `gt`, `ge`, `lt`, `le`, `eq`, `between`.
    #[serde(default)]
    pub op: Option<Op>,
    #[serde(default)]
    #[ts(type = "unknown")]
    pub value: serde_json::Value,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub within_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum OrderMetric {
    Count,
    Total,
}

/// "did `first` and then did (not) do `then` within `within_hours`", for a
/// `first` event in the last `in_last_days` days (ever when `None`). With
/// `then_did: false` (the abandoned-cart case), a profile qualifies when
/// at least one `first` event has no `then` event in the following
/// `within_hours` hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SequenceCondition {
    pub first: String,
    pub then: String,
    pub then_did: bool,
    pub within_hours: u32,
    #[serde(default)]
    pub in_last_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SegmentCondition {
    pub segment: i64,
    #[serde(default)]
    pub negate: bool,
}

/// A cluster (by id) of the latest clustering run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ClusterCondition {
    pub cluster: i64,
    #[serde(default)]
    pub negate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ConsentCondition {
    /// `email`, `sms` or `ads`.
    pub channel: String,
    /// `granted`, `denied` or `unknown`.
    pub status: String,
}

impl Definition {
    /// Reads a definition from JSON, upgrading older versions. The error
    /// says where the JSON is wrong (serde's line and column).
    pub fn from_json(text: &str) -> Result<Definition, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        Definition::from_value(value)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Definition, String> {
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version > u64::from(VERSION) {
            return Err(format!(
                "this segment was written by a newer Cohort (model version {version}; this one reads up to {VERSION})"
            ));
        }
        if version == 0 {
            return Err("a segment definition needs `version` and `root`".into());
        }
        serde_json::from_value(value).map_err(|e| format!("not a segment definition: {e}"))
    }

    /// Whether answering the rule reads events or orders (or another
    /// segment, which might): what SQL is slow at in a large workspace.
    pub fn reads_behaviour(&self) -> bool {
        fn group(g: &Group) -> bool {
            g.conditions.iter().any(|c| match c {
                Condition::Group(g) => group(g),
                Condition::Event(_)
                | Condition::Order(_)
                | Condition::Sequence(_)
                | Condition::Segment(_) => true,
                Condition::Field(_) | Condition::Cluster(_) | Condition::Consent(_) => false,
            })
        }
        group(&self.root)
    }

    /// An empty "all of" group: every profile.
    pub fn everyone() -> Definition {
        Definition {
            version: VERSION,
            root: Group {
                match_: Match::All,
                negate: false,
                conditions: Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_model_round_trips() {
        let text = r#"{"version":1,"root":{"match":"all","conditions":[
            {"type":"field","field":"country","op":"eq","value":"GB"},
            {"type":"group","match":"any","negate":true,"conditions":[
                {"type":"event","did":true,"event":"view_item",
                 "filters":[{"property":"category","op":"eq","value":"Shoes"}],
                 "count":{"op":"at_least","value":3},"within_days":30},
                {"type":"order","did":true,"metric":"total","op":"gt","value":100,"within_days":365},
                {"type":"sequence","first":"add_to_cart","then":"purchase","then_did":false,"within_hours":24,"in_last_days":7},
                {"type":"segment","segment":4},
                {"type":"cluster","cluster":2,"negate":true},
                {"type":"consent","channel":"email","status":"granted"}
            ]}
        ]}}"#;
        let d = Definition::from_json(text).unwrap();
        assert_eq!(d.root.conditions.len(), 2);
        let back = Definition::from_value(serde_json::to_value(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        assert!(d.reads_behaviour());
        let plain = Definition::from_json(
            r#"{"version":1,"root":{"match":"any","conditions":[
                {"type":"group","match":"all","conditions":[
                    {"type":"field","field":"country","op":"eq","value":"GB"}]},
                {"type":"consent","channel":"sms","status":"granted"}]}}"#,
        )
        .unwrap();
        assert!(!plain.reads_behaviour());
        assert!(Definition::from_json(r#"{"version":9,"root":{}}"#)
            .unwrap_err()
            .contains("newer Cohort"));
        assert!(Definition::from_json(r#"{"root":{}}"#).is_err());
    }
}
