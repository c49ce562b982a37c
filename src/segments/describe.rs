//! A segment definition in one plain-English sentence, from the same model
//! the compiler reads: "Profiles in GB who viewed a Shoes product at least
//! 3 times in the last 30 days and did not place an order in the last 90
//! days". Never fails: an invalid condition is described with the names it
//! uses (the compiler says what is wrong with it).

use rusqlite::{Connection, OptionalExtension};

use super::fields::{self, FieldType};
use super::rules::{
    ClusterCondition, Condition, ConsentCondition, Count, CountOp, Definition, EventCondition,
    FieldCondition, Group, Match, Op, OrderCondition, OrderMetric, PropertyFilter,
    SegmentCondition, SequenceCondition,
};

/// The sentence for `def`; `currency` is the workspace's ISO 4217 code.
pub fn describe(conn: &Connection, def: &Definition, currency: &str) -> String {
    let d = Describer { conn, currency };
    let root = &def.root;
    if root.conditions.is_empty() {
        return match (root.match_, root.negate) {
            (Match::All, false) | (Match::Any, true) => "All profiles".into(),
            _ => "No profiles".into(),
        };
    }
    let inner = d.joined(root);
    if root.negate {
        format!("Profiles except those {inner}")
    } else {
        format!("Profiles {inner}")
    }
}

/// One condition as a phrase that follows "Profiles", e.g. "in GB" or
/// "who placed at least 2 orders in the last 90 days".
pub fn describe_condition(conn: &Connection, cond: &Condition, currency: &str) -> String {
    Describer { conn, currency }.condition(cond)
}

/// An amount in major units with the currency's symbol: "$1,250",
/// "€19.99", "CHF 5".
pub fn money(amount: f64, currency: &str) -> String {
    let decimals = if amount.fract() == 0.0 {
        0
    } else {
        crate::ingest::standardise::minor_unit_exponent(currency).max(2) as usize
    };
    let text = format!("{:.*}", decimals, amount.abs());
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w.to_owned(), format!(".{f}")),
        None => (text.clone(), String::new()),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if amount < 0.0 { "−" } else { "" };
    let symbol = match currency {
        "USD" => "$".to_owned(),
        "EUR" => "€".to_owned(),
        "GBP" => "£".to_owned(),
        "JPY" => "¥".to_owned(),
        other => format!("{other} "),
    };
    format!("{sign}{symbol}{grouped}{frac}")
}

struct Describer<'a> {
    conn: &'a Connection,
    currency: &'a str,
}

/// A label as it reads inside a sentence: "Country" → "country", but
/// "RFM segment" stays.
fn lower_label(label: &str) -> String {
    let mut chars = label.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase() => {
            a.to_lowercase().chain(label.chars().skip(1)).collect()
        }
        _ => label.to_owned(),
    }
}

fn number(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => format!("{f}"),
        None => value_text(v),
    }
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "…".into(),
        other => other.to_string(),
    }
}

/// "A, B or C".
fn either(items: &[String], last: &str) -> String {
    match items {
        [] => "…".into(),
        [one] => one.clone(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

fn times(count: Count) -> String {
    let n = match count.value {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    };
    match count.op {
        CountOp::AtLeast if count.value <= 1 => String::new(),
        CountOp::AtLeast => format!(" at least {n}"),
        CountOp::AtMost if count.value == 0 => " never".into(),
        CountOp::AtMost => format!(" at most {n}"),
        CountOp::Exactly if count.value == 0 => " never".into(),
        CountOp::Exactly => format!(" exactly {n}"),
    }
}

fn window(days: Option<u32>) -> String {
    match days {
        None => String::new(),
        Some(1) => " today".into(),
        Some(n) => format!(" in the last {n} days"),
    }
}

/// What an event name means as a verb: (past, base, object).
fn action(event: &str) -> (String, String, Option<&'static str>) {
    let (past, base, object): (&str, &str, Option<&'static str>) = match event {
        "view_item" => ("viewed", "view", Some("product")),
        "add_to_cart" => ("added", "add", Some("product to the cart")),
        "purchase" => ("purchased", "purchase", None),
        "begin_checkout" => ("began checkout", "begin checkout", None),
        "page_view" => ("viewed a page", "view a page", None),
        "session_start" => ("started a session", "start a session", None),
        other => {
            let name = if other.trim().is_empty() {
                "…"
            } else {
                other
            };
            return (format!("did “{name}”"), format!("do “{name}”"), None);
        }
    };
    (past.to_owned(), base.to_owned(), object)
}

impl Describer<'_> {
    /// The conditions of a group as one phrase. In an "all" group, places
    /// and memberships come first, then one "who …" clause: "in GB who
    /// viewed a product and did not place an order".
    fn joined(&self, g: &Group) -> String {
        let parts: Vec<String> = g.conditions.iter().map(|c| self.condition(c)).collect();
        if g.match_ == Match::Any {
            return parts.join(" or ");
        }
        let mut places = Vec::new();
        let mut who = Vec::new();
        let mut rest = Vec::new();
        for p in parts {
            if p.starts_with("in ") || p.starts_with("not in ") {
                places.push(p);
            } else if let Some(w) = p.strip_prefix("who ") {
                who.push(w.to_owned());
            } else {
                rest.push(p);
            }
        }
        let mut tail = Vec::new();
        if !who.is_empty() {
            tail.push(format!("who {}", who.join(" and ")));
        }
        tail.extend(rest);
        match (places.is_empty(), tail.is_empty()) {
            (false, false) => format!("{} {}", places.join(" and "), tail.join(" and ")),
            (false, true) => places.join(" and "),
            _ => tail.join(" and "),
        }
    }

    fn condition(&self, cond: &Condition) -> String {
        match cond {
            Condition::Group(g) => {
                if g.conditions.is_empty() {
                    let everyone = (g.match_ == Match::All) != g.negate;
                    return if everyone { "(everyone)" } else { "(no one)" }.into();
                }
                let inner = self.joined(g);
                let inner = if g.conditions.len() > 1 {
                    format!("({inner})")
                } else {
                    inner
                };
                if g.negate {
                    format!("not {inner}")
                } else {
                    inner
                }
            }
            Condition::Field(c) => self.field(c),
            Condition::Event(c) => self.event(c),
            Condition::Order(c) => self.order(c),
            Condition::Sequence(c) => self.sequence(c),
            Condition::Segment(c) => self.segment(c),
            Condition::Cluster(c) => self.cluster(c),
            Condition::Consent(c) => self.consent(c),
        }
    }

    /// The value of a comparison as it reads: quoted free text, plain
    /// choices, numbers, money with its symbol, dates.
    fn shown(&self, kind: FieldType, v: &serde_json::Value) -> String {
        match kind {
            FieldType::Text => format!("“{}”", value_text(v)),
            FieldType::Choice | FieldType::Date => value_text(v),
            FieldType::Number => number(v),
            FieldType::Money => match v.as_f64() {
                Some(f) => money(f, self.currency),
                None => value_text(v),
            },
        }
    }

    /// "is GB", "is more than 3", "is in the last 30 days", …
    fn comparison(&self, kind: FieldType, op: Op, v: &serde_json::Value) -> String {
        let date = kind == FieldType::Date;
        let list = |last: &str| {
            let items: Vec<String> = v
                .as_array()
                .map(|a| a.iter().map(|x| self.shown(kind, x)).collect())
                .unwrap_or_default();
            either(&items, last)
        };
        match op {
            Op::Eq => format!("is {}", self.shown(kind, v)),
            Op::Ne => format!("is not {}", self.shown(kind, v)),
            Op::Lt if date => format!("is before {}", self.shown(kind, v)),
            Op::Le if date => format!("is on or before {}", self.shown(kind, v)),
            Op::Gt if date => format!("is after {}", self.shown(kind, v)),
            Op::Ge if date => format!("is on or after {}", self.shown(kind, v)),
            Op::Lt => format!("is less than {}", self.shown(kind, v)),
            Op::Le => format!("is at most {}", self.shown(kind, v)),
            Op::Gt => format!("is more than {}", self.shown(kind, v)),
            Op::Ge => format!("is at least {}", self.shown(kind, v)),
            Op::Between => match v.as_array().map(Vec::as_slice) {
                Some([a, b]) => format!(
                    "is between {} and {}",
                    self.shown(kind, a),
                    self.shown(kind, b)
                ),
                _ => "is between …".into(),
            },
            Op::In => format!("is {}", list("or")),
            Op::NotIn => format!("is not {}", list("or")),
            Op::Contains => format!("contains {}", self.shown(FieldType::Text, v)),
            Op::StartsWith => format!("starts with {}", self.shown(FieldType::Text, v)),
            Op::IsEmpty => "is empty".into(),
            Op::IsSet => "is set".into(),
            Op::InLastDays => match v.as_u64() {
                Some(1) => "is today".into(),
                _ => format!("is in the last {} days", number(v)),
            },
            Op::MoreThanDaysAgo => format!("is more than {} days ago", number(v)),
        }
    }

    fn field(&self, c: &FieldCondition) -> String {
        let Some(f) = fields::field(&c.field) else {
            return format!(
                "whose “{}” {}",
                c.field,
                self.comparison(FieldType::Text, c.op, &c.value)
            );
        };
        if f.name == "country" {
            match c.op {
                Op::Eq => return format!("in {}", value_text(&c.value)),
                Op::In => {
                    let items: Vec<String> = c
                        .value
                        .as_array()
                        .map(|a| a.iter().map(value_text).collect())
                        .unwrap_or_default();
                    return format!("in {}", either(&items, "or"));
                }
                Op::Ne => return format!("not in {}", value_text(&c.value)),
                _ => {}
            }
        }
        format!(
            "whose {} {}",
            lower_label(f.label),
            self.comparison(f.kind, c.op, &c.value)
        )
    }

    fn event(&self, c: &EventCondition) -> String {
        let (past, base, object) = action(&c.event);
        // A category or brand "is" filter reads best inside the object:
        // "viewed a Shoes product".
        let mut adjective: Option<String> = None;
        let mut rest: Vec<&PropertyFilter> = Vec::new();
        for f in &c.filters {
            let absorbed = object.is_some()
                && adjective.is_none()
                && f.op == Op::Eq
                && (f.property == "category" || f.property == "brand")
                && f.value.is_string();
            if absorbed {
                adjective = Some(value_text(&f.value));
            } else {
                rest.push(f);
            }
        }
        let object = match (object, adjective) {
            (Some(o), Some(a)) => {
                let article = if a.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                format!(" {article} {a} {o}")
            }
            (Some(o), None) => format!(" a {o}"),
            (None, _) => String::new(),
        };
        let filters = if rest.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = rest
                .iter()
                .map(|f| {
                    let (label, kind) = fields::EVENT_PROPERTIES
                        .iter()
                        .find(|p| p.0 == f.property)
                        .map_or(
                            (
                                fields::custom_property(&f.property)
                                    .unwrap_or(&f.property)
                                    .to_owned(),
                                FieldType::Text,
                            ),
                            |p| (lower_label(p.1), p.2),
                        );
                    format!("{label} {}", self.comparison(kind, f.op, &f.value))
                })
                .collect();
            format!(" where {}", parts.join(" and "))
        };
        if c.did {
            let count = times(c.count);
            if count == " never" {
                format!(
                    "who did not {base}{object}{filters}{}",
                    window(c.within_days)
                )
            } else {
                format!(
                    "who {past}{object}{filters}{count}{}",
                    window(c.within_days)
                )
            }
        } else {
            format!(
                "who did not {base}{object}{filters}{}",
                window(c.within_days)
            )
        }
    }

    fn order(&self, c: &OrderCondition) -> String {
        let mut with = String::new();
        if let Some(cat) = c.category.as_deref().filter(|s| !s.trim().is_empty()) {
            with.push_str(&format!(" with a {cat} product"));
        }
        if let Some(sku) = c.sku.as_deref().filter(|s| !s.trim().is_empty()) {
            with.push_str(if with.is_empty() { " with " } else { " and " });
            with.push_str(&format!("SKU “{sku}”"));
        }
        let win = window(c.within_days);
        if !c.did {
            return format!("who did not place an order{with}{win}");
        }
        match c.metric {
            OrderMetric::Count => {
                let n = c.count.value;
                let orders = if n == 1 { "order" } else { "orders" };
                match (c.count.op, n) {
                    (CountOp::AtLeast, 0 | 1) => format!("who placed an order{with}{win}"),
                    (CountOp::AtMost, 0) | (CountOp::Exactly, 0) => {
                        format!("who did not place an order{with}{win}")
                    }
                    (CountOp::AtLeast, n) => format!("who placed at least {n} {orders}{with}{win}"),
                    (CountOp::AtMost, n) => format!("who placed at most {n} {orders}{with}{win}"),
                    (CountOp::Exactly, n) => format!("who placed exactly {n} {orders}{with}{win}"),
                }
            }
            OrderMetric::Total => {
                let amount = |v: &serde_json::Value| match v.as_f64() {
                    Some(f) => money(f, self.currency),
                    None => value_text(v),
                };
                let how = match c.op {
                    Some(Op::Gt) => format!("more than {}", amount(&c.value)),
                    Some(Op::Ge) => format!("at least {}", amount(&c.value)),
                    Some(Op::Lt) => format!("less than {}", amount(&c.value)),
                    Some(Op::Le) => format!("at most {}", amount(&c.value)),
                    Some(Op::Eq) => format!("exactly {}", amount(&c.value)),
                    Some(Op::Between) => match c.value.as_array().map(Vec::as_slice) {
                        Some([a, b]) => format!("between {} and {}", amount(a), amount(b)),
                        _ => "between …".into(),
                    },
                    _ => "…".into(),
                };
                let on = if with.is_empty() {
                    String::new()
                } else {
                    format!(" on orders{with}")
                };
                format!("who spent {how}{on}{win}")
            }
        }
    }

    fn sequence(&self, c: &SequenceCondition) -> String {
        let (first, _, first_object) = action(&c.first);
        let (then_past, then_base, then_object) = action(&c.then);
        let first_object = first_object.map_or(String::new(), |o| format!(" a {o}"));
        let then_object = then_object.map_or(String::new(), |o| format!(" a {o}"));
        let hours = if c.within_hours == 1 {
            "1 hour".to_owned()
        } else {
            format!("{} hours", c.within_hours)
        };
        let then = if c.then_did {
            format!("then {then_past}{then_object}")
        } else {
            format!("did not {then_base}{then_object}")
        };
        let win = match c.in_last_days {
            None => String::new(),
            Some(n) => format!(",{}", window(Some(n))),
        };
        format!("who {first}{first_object} and {then} within {hours}{win}")
    }

    fn segment_name(&self, id: i64) -> String {
        self.conn
            .query_row("SELECT name FROM segments WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .ok()
            .flatten()
            .map_or_else(
                || format!("segment #{id}"),
                |n| format!("the segment “{n}”"),
            )
    }

    fn segment(&self, c: &SegmentCondition) -> String {
        let name = self.segment_name(c.segment);
        if c.negate {
            format!("not in {name}")
        } else {
            format!("in {name}")
        }
    }

    fn cluster_name(&self, id: i64) -> Option<String> {
        let result: String = self
            .conn
            .query_row(
                "SELECT result FROM cluster_runs ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .ok()??;
        let v: serde_json::Value = serde_json::from_str(&result).ok()?;
        let clusters = v
            .pointer("/result/clusters")
            .or_else(|| v.get("clusters"))?;
        clusters
            .as_array()?
            .iter()
            .find(|k| k.get("id").and_then(|i| i.as_i64()) == Some(id))
            .and_then(|k| k.get("name")?.as_str().map(str::to_owned))
            .filter(|n| !n.is_empty())
    }

    fn cluster(&self, c: &ClusterCondition) -> String {
        let name = match self.cluster_name(c.cluster) {
            Some(n) => format!("the cluster “{n}”"),
            None => format!("cluster {}", c.cluster),
        };
        if c.negate {
            format!("not in {name}")
        } else {
            format!("in {name}")
        }
    }

    fn consent(&self, c: &ConsentCondition) -> String {
        let channel = match c.channel.as_str() {
            "sms" => "SMS",
            other => other,
        };
        format!("whose {channel} consent is {}", c.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(root: serde_json::Value) -> Definition {
        Definition::from_value(serde_json::json!({"version": 1, "root": root})).unwrap()
    }

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE segments (id INTEGER PRIMARY KEY, name TEXT);
             INSERT INTO segments VALUES (4, 'VIP');
             CREATE TABLE cluster_runs (id INTEGER PRIMARY KEY, result TEXT);
             INSERT INTO cluster_runs VALUES (1, '{\"result\": {\"clusters\": [{\"id\": 2, \"name\": \"Big spenders\"}]}}');",
        )
        .unwrap();
        conn
    }

    #[test]
    fn the_sentence_reads_like_the_example() {
        let d = def(serde_json::json!({"match": "all", "conditions": [
            {"type": "field", "field": "country", "op": "eq", "value": "GB"},
            {"type": "event", "did": true, "event": "view_item",
             "filters": [{"property": "category", "op": "eq", "value": "Shoes"}],
             "count": {"op": "at_least", "value": 3}, "within_days": 30},
            {"type": "order", "did": false, "metric": "count", "within_days": 90}
        ]}));
        assert_eq!(
            describe(&conn(), &d, "GBP"),
            "Profiles in GB who viewed a Shoes product at least 3 times in the last 30 days \
             and did not place an order in the last 90 days"
        );
    }

    #[test]
    fn every_kind_of_condition_has_words() {
        let d = def(serde_json::json!({"match": "all", "conditions": [
            {"type": "field", "field": "revenue", "op": "gt", "value": 1250},
            {"type": "field", "field": "rfm_segment", "op": "in", "value": ["Champions", "Loyal"]},
            {"type": "group", "match": "any", "negate": true, "conditions": [
                {"type": "order", "did": true, "metric": "total", "op": "between", "value": [10, 19.5], "within_days": 365},
                {"type": "sequence", "first": "add_to_cart", "then": "purchase", "then_did": false, "within_hours": 24, "in_last_days": 7}
            ]},
            {"type": "segment", "segment": 4},
            {"type": "cluster", "cluster": 2, "negate": true},
            {"type": "consent", "channel": "sms", "status": "granted"},
            {"type": "field", "field": "first_seen", "op": "in_last_days", "value": 14}
        ]}));
        assert_eq!(
            describe(&conn(), &d, "EUR"),
            "Profiles in the segment “VIP” and not in the cluster “Big spenders” \
             whose revenue is more than €1,250 and whose RFM segment is Champions or Loyal \
             and not (who spent between €10 and €19.50 in the last 365 days or who added a \
             product to the cart and did not purchase within 24 hours, in the last 7 days) \
             and whose SMS consent is granted and whose first seen is in the last 14 days"
        );
        assert_eq!(
            describe(&conn(), &Definition::everyone(), "USD"),
            "All profiles"
        );
        let nobody = def(serde_json::json!({"match": "any", "conditions": []}));
        assert_eq!(describe(&conn(), &nobody, "USD"), "No profiles");
        let except = def(
            serde_json::json!({"match": "all", "negate": true, "conditions": [
                {"type": "segment", "segment": 9}
            ]}),
        );
        assert_eq!(
            describe(&conn(), &except, "USD"),
            "Profiles except those in segment #9"
        );
    }

    #[test]
    fn money_has_its_symbol_and_separators() {
        assert_eq!(money(1250.0, "USD"), "$1,250");
        assert_eq!(money(19.5, "EUR"), "€19.50");
        assert_eq!(money(1234567.891, "GBP"), "£1,234,567.89");
        assert_eq!(money(5.0, "CHF"), "CHF 5");
        assert_eq!(money(-3.0, "JPY"), "−¥3");
    }
}
