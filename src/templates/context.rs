//! What a template sees for one recipient, and how it is read in bulk.
//!
//! The context of a render:
//!
//! | name | what |
//! |---|---|
//! | `profile` | profile attributes and traits, flattened: `profile.first_name`, `profile.rfm_segment`, `profile.orders`, `profile.clv` (money in minor units: `{{ profile.clv \| money }}`), plus `profile.full_name` |
//! | `segments` | names of the saved segments the recipient is in |
//! | `cluster` | name of the recipient's cluster in the latest clustering run, or none |
//! | `consent` | `{email, sms, ads}`: true when the consent ledger says granted (or has no evidence and the channel needs no opt-in) |
//! | `recommendations` | list of `{rank, sku, title, category, brand, price, currency, reason}` |
//! | `campaign` | `{name, channel, variant}` |
//! | `now` | when the render happens (ISO 8601, UTC) |
//! | `currency` | the workspace currency (ISO 4217), the default of `money` |
//!
//! A missing value is `none`, which prints as nothing; a name that is not
//! in the context is undefined, which fails when printed (lint reports it).
//!
//! [`ContextLoader`] reads contexts for ascending profile ids a chunk at a
//! time with one range scan per table (profiles joined with traits,
//! recommendations, consent, cluster members), reading only the columns
//! and tables the templates refer to ([`Needs`]). Products, the popular
//! fallback list and segment memberships are read once per loader. That,
//! not the template engine, is what decides how many recipients a second
//! an export reaches.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::Value;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::{sql, Result};

/// Profile columns a template can use (all text but `id` and `records`).
pub const PROFILE_FIELDS: [&str; 19] = [
    "id",
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
    "records",
    "first_seen",
    "last_seen",
    "created_at",
    "updated_at",
];

/// Computed from other fields.
pub const DERIVED_FIELDS: [&str; 1] = ["full_name"];

/// Trait columns in minor units of the workspace currency.
pub const MONEY_TRAITS: [&str; 5] = [
    "revenue",
    "average_order_value",
    "refunded",
    "expected_order_value",
    "clv",
];

/// Trait columns holding JSON (read as maps).
const JSON_TRAITS: [&str; 2] = ["category_views", "category_spend"];

/// Keys of a recommendation.
pub const RECOMMENDATION_FIELDS: [&str; 8] = [
    "rank", "sku", "title", "category", "brand", "price", "currency", "reason",
];

/// The names a template's context has at the top level.
pub const TOP_LEVEL: [&str; 8] = [
    "profile",
    "segments",
    "cluster",
    "consent",
    "recommendations",
    "campaign",
    "now",
    "currency",
];

/// Which parts of the context a set of templates refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// None: every profile field (the template uses `profile` as a whole).
    pub profile: Option<BTreeSet<String>>,
    pub recommendations: bool,
    pub segments: bool,
    pub cluster: bool,
    pub consent: bool,
}

impl Needs {
    /// Everything (previews of unsaved drafts use what they refer to, too;
    /// this is for callers that want the whole context).
    pub fn all() -> Needs {
        Needs {
            profile: None,
            recommendations: true,
            segments: true,
            cluster: true,
            consent: true,
        }
    }

    /// From the variables templates refer to (`profile.first_name`,
    /// `recommendations`, …, as minijinja's `undeclared_variables(true)`
    /// lists them).
    pub fn from_variables<'a>(vars: impl IntoIterator<Item = &'a str>) -> Needs {
        let mut needs = Needs {
            profile: Some(BTreeSet::new()),
            ..Needs::default()
        };
        for v in vars {
            let (root, rest) = match v.split_once('.') {
                Some((r, rest)) => (r, Some(rest)),
                None => (v, None),
            };
            match root {
                "profile" => match (rest, &mut needs.profile) {
                    (Some(rest), Some(set)) => {
                        let field = rest.split('.').next().unwrap_or(rest);
                        set.insert(field.to_owned());
                    }
                    (None, _) => needs.profile = None,
                    _ => {}
                },
                "recommendations" => needs.recommendations = true,
                "segments" => needs.segments = true,
                "cluster" => needs.cluster = true,
                "consent" => needs.consent = true,
                _ => {}
            }
        }
        needs
    }

    /// The names a template's tags mention, read from the source: a
    /// safety net under minijinja's `undeclared_variables`, which does not
    /// see every expression (a slice such as `recommendations[:3]`).
    /// Mentioning is enough; over-reading costs a little time, under-reading
    /// would print nothing.
    pub fn from_source(source: &str) -> Needs {
        let mut vars: Vec<String> = Vec::new();
        for piece in super::syntax::pieces(source) {
            if !matches!(
                piece.kind,
                super::syntax::PieceKind::Expr | super::syntax::PieceKind::Stmt
            ) {
                continue;
            }
            let b = piece.inner.as_bytes();
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    q @ (b'"' | b'\'') => {
                        i += 1;
                        while i < b.len() && b[i] != q {
                            i += if b[i] == b'\\' { 2 } else { 1 };
                        }
                        i += 1;
                    }
                    c if c.is_ascii_alphabetic() || c == b'_' => {
                        let start = i;
                        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                            i += 1;
                        }
                        // An attribute (`x.profile`) is not the name `profile`.
                        if start > 0 && b[start - 1] == b'.' {
                            continue;
                        }
                        let word = &piece.inner[start..i];
                        let attr = (b.get(i) == Some(&b'.'))
                            .then(|| {
                                let s = i + 1;
                                let mut e = s;
                                while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'_')
                                {
                                    e += 1;
                                }
                                &piece.inner[s..e]
                            })
                            .filter(|a| !a.is_empty());
                        vars.push(match attr {
                            Some(a) => format!("{word}.{a}"),
                            None => word.to_owned(),
                        });
                    }
                    _ => i += 1,
                }
            }
        }
        Needs::from_variables(vars.iter().map(String::as_str))
    }

    pub fn merge(&mut self, other: &Needs) {
        self.profile = match (self.profile.take(), &other.profile) {
            (Some(mut a), Some(b)) => {
                a.extend(b.iter().cloned());
                Some(a)
            }
            _ => None,
        };
        self.recommendations |= other.recommendations;
        self.segments |= other.segments;
        self.cluster |= other.cluster;
        self.consent |= other.consent;
    }
}

/// The campaign a render is for (a preview has a stand-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignInfo {
    pub name: String,
    pub channel: String,
}

impl CampaignInfo {
    pub fn preview() -> CampaignInfo {
        CampaignInfo {
            name: "Preview".into(),
            channel: "email".into(),
        }
    }
}

/// One recipient's context, ready to render for any variant.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub id: i64,
    /// For the message headers (To:), whatever the template uses.
    pub email: Option<String>,
    pub full_name: String,
    data: Arc<Data>,
}

#[derive(Debug)]
struct Data {
    profile: Value,
    segments: Value,
    cluster: Value,
    consent: Value,
    recommendations: Value,
    /// One `campaign` value per variant (its `variant` differs).
    campaign: Arc<[Value]>,
    now: Value,
    currency: Value,
    /// Whether the recommendation list is empty (lint).
    no_recommendations: bool,
}

impl Recipient {
    /// The root value a template of variant `variant` renders with.
    pub fn context(&self, variant: usize) -> Value {
        Value::from_object(Root {
            data: self.data.clone(),
            variant,
        })
    }

    pub fn has_recommendations(&self) -> bool {
        !self.data.no_recommendations
    }

    /// The names of the segments the recipient is in (those loaded).
    pub fn segment_names(&self) -> Vec<String> {
        self.data
            .segments
            .try_iter()
            .map(|it| it.filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct Root {
    data: Arc<Data>,
    variant: usize,
}

impl Object for Root {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        let d = &self.data;
        Some(match key {
            "profile" => d.profile.clone(),
            "segments" => d.segments.clone(),
            "cluster" => d.cluster.clone(),
            "consent" => d.consent.clone(),
            "recommendations" => d.recommendations.clone(),
            "campaign" => d.campaign.get(self.variant)?.clone(),
            "now" => d.now.clone(),
            "currency" => d.currency.clone(),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&TOP_LEVEL)
    }
}

/// Field names → positions, shared by every profile a loader reads.
#[derive(Debug)]
struct Keys {
    names: Vec<String>,
    index: FxHashMap<String, usize>,
}

/// A profile: values in the loader's column order.
struct ProfileObject {
    keys: Arc<Keys>,
    values: Box<[Value]>,
}

impl fmt::Debug for ProfileObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.keys.names.iter().zip(self.values.iter()))
            .finish()
    }
}

impl Object for ProfileObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.keys.index.get(key).map(|&i| self.values[i].clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.keys
                .names
                .iter()
                .map(|n| Value::from(n.as_str()))
                .collect(),
        )
    }
}

/// A product as recommendations show it, shared by every recipient.
#[derive(Debug)]
struct Product {
    sku: Value,
    title: Value,
    category: Value,
    brand: Value,
    price: Value,
    currency: Value,
}

#[derive(Debug)]
struct Recommendation {
    rank: i64,
    reason: Value,
    product: Arc<Product>,
}

impl Object for Recommendation {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        let p = &self.product;
        Some(match key {
            "rank" => Value::from(self.rank),
            "sku" => p.sku.clone(),
            "title" => p.title.clone(),
            "category" => p.category.clone(),
            "brand" => p.brand.clone(),
            "price" => p.price.clone(),
            "currency" => p.currency.clone(),
            "reason" => self.reason.clone(),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&RECOMMENDATION_FIELDS)
    }
}

/// A small object with fixed keys (consent, campaign).
#[derive(Debug)]
struct Fixed {
    keys: &'static [&'static str],
    values: Vec<Value>,
}

impl Object for Fixed {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        let i = self.keys.iter().position(|k| *k == key)?;
        self.values.get(i).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(self.keys)
    }
}

const CONSENT_KEYS: [&str; 3] = ["email", "sms", "ads"];
const CAMPAIGN_KEYS: [&str; 3] = ["name", "channel", "variant"];

/// Where a selected column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Profile,
    Trait,
    /// A trait holding JSON, read as a map.
    TraitJson,
    FullName,
}

/// Reads recipient contexts in bulk; see the module doc.
pub struct ContextLoader {
    needs: Needs,
    /// Selected columns; the SQL selects `p.id` first, then these.
    columns: Vec<(String, Source)>,
    keys: Arc<Keys>,
    /// Positions of email, first and last name among `columns`.
    email_at: usize,
    first_at: usize,
    last_at: usize,
    profile_range_sql: String,
    profile_point_sql: String,
    products: HashMap<String, Arc<Product>>,
    popular: Vec<(String, String)>,
    /// (name, ascending members) of every saved segment.
    segments: Vec<(Value, Vec<i64>)>,
    /// The latest clustering run with members, and its cluster names.
    cluster: Option<(i64, HashMap<i64, Value>)>,
    campaign: Arc<[Value]>,
    now: Value,
    currency: Value,
}

/// Sparse selections (a sample, a small segment spread over a large
/// workspace) read by id; dense ones by range.
fn is_sparse(ids: &[i64]) -> bool {
    match (ids.first(), ids.last()) {
        (Some(a), Some(b)) => (b - a) as u128 + 1 > 16 * ids.len() as u128 + 256,
        _ => false,
    }
}

/// The trait columns of this workspace (`profile_traits` minus its key).
pub fn trait_columns(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info('profile_traits') WHERE name <> 'profile_id' ORDER BY cid")
        .map_err(sql("list the trait columns"))?;
    let names = stmt
        .query_map([], |r| r.get(0))
        .map_err(sql("list the trait columns"))?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(sql("list the trait columns"))?;
    Ok(names)
}

/// SQLite value → template value (text kept, numbers as numbers).
fn to_value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null | ValueRef::Blob(_) => Value::from(()),
        ValueRef::Integer(n) => Value::from(n),
        ValueRef::Real(x) => Value::from(x),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Value::from(s),
            Err(_) => Value::from(String::from_utf8_lossy(t).into_owned()),
        },
    }
}

/// JSON (trait maps) → template value.
pub(crate) fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => Value::from(a.iter().map(json_value).collect::<Vec<_>>()),
        serde_json::Value::Object(o) => Value::from(
            o.iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        _ => None,
    }
}

impl ContextLoader {
    /// A loader for templates that need `needs`, rendered for `campaign`
    /// with these variant names, at `now` (ISO 8601).
    pub fn new(
        conn: &Connection,
        needs: &Needs,
        campaign: &CampaignInfo,
        variant_names: &[String],
        now: &str,
    ) -> Result<ContextLoader> {
        let traits = trait_columns(conn)?;
        let mut columns: Vec<(String, Source)> = Vec::new();
        let wanted = |name: &str| match &needs.profile {
            None => true,
            Some(set) => set.contains(name),
        };
        // Names and email are always read: messages are addressed with them.
        for f in PROFILE_FIELDS.iter().skip(1) {
            if wanted(f) || matches!(*f, "email" | "first_name" | "last_name") {
                columns.push((f.to_string(), Source::Profile));
            }
        }
        for t in &traits {
            if wanted(t) {
                let source = if JSON_TRAITS.contains(&t.as_str()) {
                    Source::TraitJson
                } else {
                    Source::Trait
                };
                columns.push((t.clone(), source));
            }
        }
        if wanted("full_name") {
            columns.push(("full_name".into(), Source::FullName));
        }
        let position = |name: &str| {
            columns
                .iter()
                .position(|(c, _)| c == name)
                .expect("names are always selected")
        };
        let (email_at, first_at, last_at) = (
            position("email"),
            position("first_name"),
            position("last_name"),
        );
        let mut names: Vec<String> = vec!["id".into()];
        names.extend(columns.iter().map(|(c, _)| c.clone()));
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let keys = Arc::new(Keys { names, index });
        let needs_traits = columns
            .iter()
            .any(|(_, s)| matches!(s, Source::Trait | Source::TraitJson));
        // Column names come from PROFILE_FIELDS and the table's own columns.
        let select: Vec<String> = columns
            .iter()
            .map(|(c, s)| match s {
                Source::Profile => format!("p.\"{c}\""),
                Source::Trait | Source::TraitJson => format!("t.\"{c}\""),
                Source::FullName => "NULL".into(),
            })
            .collect();
        let join = if needs_traits {
            "LEFT JOIN profile_traits t ON t.profile_id = p.id"
        } else {
            ""
        };
        let base = format!("SELECT p.id, {} FROM profiles p {join}", select.join(", "));
        let profile_range_sql = format!("{base} WHERE p.id BETWEEN ?1 AND ?2 ORDER BY p.id");
        let profile_point_sql = format!("{base} WHERE p.id = ?1");

        let mut products = HashMap::new();
        let mut popular = Vec::new();
        if needs.recommendations {
            let mut stmt = conn
                .prepare("SELECT sku, title, category, brand, price, currency FROM products WHERE sku IS NOT NULL ORDER BY id")
                .map_err(sql("read the products"))?;
            let mut rows = stmt.query([]).map_err(sql("read the products"))?;
            // Later rows win, as `recommend::for_profile` takes the newest.
            while let Some(r) = rows.next().map_err(sql("read the products"))? {
                let Some(sku) = text(r.get_ref(0).map_err(sql("read the products"))?) else {
                    continue;
                };
                let get = |i| r.get_ref(i).map(to_value).map_err(sql("read the products"));
                let product = Product {
                    sku: Value::from(sku.as_str()),
                    title: get(1)?,
                    category: get(2)?,
                    brand: get(3)?,
                    price: get(4)?,
                    currency: get(5)?,
                };
                products.insert(sku, Arc::new(product));
            }
            let json: Option<String> = conn
                .query_row(
                    "SELECT popular FROM recommendation_runs ORDER BY id DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("read the training runs"))?;
            popular = json
                .and_then(|j| serde_json::from_str(&j).ok())
                .unwrap_or_default();
        }

        let mut segments = Vec::new();
        if needs.segments {
            let currency = crate::segments::compile::workspace_currency(conn)
                .map_err(sql("read the currency"))?;
            let scale = crate::segments::compile::scale_of(&currency);
            for s in crate::segments::list(conn)? {
                let mut members = crate::segments::members_of(conn, s.id, now, scale)?;
                members.sort_unstable();
                segments.push((Value::from(s.name), members));
            }
            // Listed by name, so `segments` reads the same for everyone.
            segments.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
        }

        let mut cluster = None;
        if needs.cluster {
            let run = crate::cluster::runs::latest(conn).map_err(|e| match e {
                crate::cluster::runs::RunError::Sql { context, source } => {
                    super::TemplateError::Sql { context, source }
                }
                other => super::TemplateError::Invalid(other.to_string()),
            })?;
            if let Some(run) = run {
                let names = run
                    .result
                    .clusters
                    .iter()
                    .map(|c| (i64::from(c.id), Value::from(c.name.as_str())))
                    .collect();
                cluster = Some((run.id, names));
            }
        }

        let channel = Value::from(campaign.channel.as_str());
        let name = Value::from(campaign.name.as_str());
        let campaign: Arc<[Value]> = variant_names
            .iter()
            .map(|v| {
                Value::from_object(Fixed {
                    keys: &CAMPAIGN_KEYS,
                    values: vec![name.clone(), channel.clone(), Value::from(v.as_str())],
                })
            })
            .collect();
        let currency = crate::store::setting_of(conn, crate::store::setting::DEFAULT_CURRENCY)
            .map_err(sql("read the currency"))?;
        Ok(ContextLoader {
            needs: needs.clone(),
            columns,
            keys,
            email_at,
            first_at,
            last_at,
            profile_range_sql,
            profile_point_sql,
            products,
            popular,
            segments,
            cluster,
            campaign,
            now: Value::from(now),
            currency: Value::from(currency),
        })
    }

    /// The contexts of `ids` (ascending, distinct) that have a profile, in
    /// order.
    pub fn load(&self, conn: &Connection, ids: &[i64]) -> Result<Vec<Recipient>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let sparse = is_sparse(ids);
        let n = self.columns.len();

        // Profiles (with traits): which ids exist, and their values. Trait
        // text (RFM segment, top category, …) takes few values: one copy
        // per chunk is shared by every profile.
        let mut found: Vec<(usize, Vec<Value>)> = Vec::with_capacity(ids.len());
        let mut shared: HashMap<Vec<u8>, Value> = HashMap::new();
        let mut read_profile = |i: usize, r: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
            let mut values = Vec::with_capacity(n + 1);
            values.push(Value::from(ids[i]));
            for (c, (_, source)) in self.columns.iter().enumerate() {
                let v = r.get_ref(c + 1)?;
                values.push(match (source, v) {
                    (Source::TraitJson, ValueRef::Text(t)) => serde_json::from_slice(t)
                        .map(|j| json_value(&j))
                        .unwrap_or(Value::from(())),
                    (Source::TraitJson, _) => Value::from(()),
                    (Source::Trait, ValueRef::Text(t)) => match shared.get(t) {
                        Some(v) => v.clone(),
                        None => {
                            let value = to_value(v);
                            shared.insert(t.to_vec(), value.clone());
                            value
                        }
                    },
                    _ => to_value(v),
                });
            }
            found.push((i, values));
            Ok(())
        };
        each_row(
            conn,
            &self.profile_range_sql,
            &self.profile_point_sql,
            ids,
            sparse,
            &mut read_profile,
        )?;

        // Recommendations: (index in ids) → list, best first.
        let mut recs: Vec<Vec<Value>> = Vec::new();
        if self.needs.recommendations {
            recs = vec![Vec::new(); ids.len()];
            // A handful of reasons repeat across everyone: shared per chunk.
            let mut reasons: HashMap<Vec<u8>, Value> = HashMap::new();
            each_row(
                conn,
                "SELECT profile_id, rank, sku, reason FROM recommendations
                  WHERE profile_id BETWEEN ?1 AND ?2 ORDER BY profile_id, rank",
                "SELECT profile_id, rank, sku, reason FROM recommendations
                  WHERE profile_id = ?1 ORDER BY rank",
                ids,
                sparse,
                &mut |i, r| {
                    let rank: i64 = r.get(1)?;
                    let sku = r.get_ref(2)?.as_str()?;
                    let reason_bytes = r.get_ref(3)?.as_bytes()?;
                    let reason = match reasons.get(reason_bytes) {
                        Some(v) => v.clone(),
                        None => {
                            let v = to_value(r.get_ref(3)?);
                            reasons.insert(reason_bytes.to_vec(), v.clone());
                            v
                        }
                    };
                    recs[i].push(self.recommendation(rank, sku, reason));
                    Ok(())
                },
            )?;
        }

        // Consent: per channel, whether the person may be contacted as the
        // consent ledger says (granted; or no evidence where the channel
        // needs no opt-in).
        let mut consent: Vec<[bool; 3]> = Vec::new();
        if self.needs.consent {
            let opt_in = crate::privacy::consent::settings(conn)
                .map_err(|e| super::TemplateError::Consent(e.to_string()))?
                .opt_in;
            let channels = crate::campaigns::Channel::ALL;
            let no_evidence = channels.map(|c| !opt_in.required(c));
            consent = vec![no_evidence; ids.len()];
            let select = "SELECT profile_id, channel, status FROM profile_consent WHERE";
            each_row(
                conn,
                &format!("{select} profile_id BETWEEN ?1 AND ?2 ORDER BY profile_id"),
                &format!("{select} profile_id = ?1"),
                ids,
                sparse,
                &mut |i, r| {
                    let channel = r.get_ref(1)?.as_str()?;
                    if let Some(c) = channels.iter().position(|c| c.as_str() == channel) {
                        consent[i][c] = r.get_ref(2)?.as_str()? == "granted";
                    }
                    Ok(())
                },
            )?;
        }

        // Cluster of the latest run.
        let mut clusters: Vec<Option<i64>> = Vec::new();
        if let Some((run, _)) = &self.cluster {
            clusters = vec![None; ids.len()];
            // The run id is a number read from the workspace, not user text.
            each_row(
                conn,
                &format!("SELECT profile_id, cluster FROM cluster_members WHERE run_id = {run} AND profile_id BETWEEN ?1 AND ?2 ORDER BY profile_id"),
                &format!("SELECT profile_id, cluster FROM cluster_members WHERE run_id = {run} AND profile_id = ?1"),
                ids,
                sparse,
                &mut |i, r| {
                    clusters[i] = Some(r.get(1)?);
                    Ok(())
                },
            )?;
        }

        let mut out = Vec::with_capacity(found.len());
        let mut seg_cursor = vec![0usize; self.segments.len()];
        for (i, mut values) in found {
            let id = ids[i];
            let text_at = |values: &[Value], at: usize| {
                values[at + 1]
                    .as_str()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            let first = text_at(&values, self.first_at);
            let last = text_at(&values, self.last_at);
            let full_name = match (&first, &last) {
                (Some(f), Some(l)) => format!("{f} {l}"),
                (Some(f), None) => f.clone(),
                (None, Some(l)) => l.clone(),
                (None, None) => String::new(),
            };
            let email = text_at(&values, self.email_at);
            for (c, (_, source)) in self.columns.iter().enumerate() {
                if *source == Source::FullName {
                    values[c + 1] = if full_name.is_empty() {
                        Value::from(())
                    } else {
                        Value::from(full_name.as_str())
                    };
                }
            }
            let profile = Value::from_object(ProfileObject {
                keys: self.keys.clone(),
                values: values.into_boxed_slice(),
            });
            // Members are ascending like ids: a cursor per segment.
            let mut names = Vec::new();
            for (s, (name, members)) in self.segments.iter().enumerate() {
                let cur = &mut seg_cursor[s];
                while *cur < members.len() && members[*cur] < id {
                    *cur += 1;
                }
                if members.get(*cur) == Some(&id) {
                    names.push(name.clone());
                }
            }
            let mut list = if self.needs.recommendations {
                std::mem::take(&mut recs[i])
            } else {
                Vec::new()
            };
            if self.needs.recommendations && list.is_empty() {
                // Profiles created since the training get the popular list.
                list = self
                    .popular
                    .iter()
                    .enumerate()
                    .map(|(k, (sku, reason))| {
                        self.recommendation(k as i64 + 1, sku, Value::from(reason.as_str()))
                    })
                    .collect();
            }
            let consent_value = if self.needs.consent {
                let [e, s, a] = consent[i];
                Value::from_object(Fixed {
                    keys: &CONSENT_KEYS,
                    values: vec![Value::from(e), Value::from(s), Value::from(a)],
                })
            } else {
                Value::from(())
            };
            let cluster = match (&self.cluster, clusters.get(i).copied().flatten()) {
                (Some((_, names)), Some(c)) => names.get(&c).cloned().unwrap_or(Value::from(())),
                _ => Value::from(()),
            };
            out.push(Recipient {
                id,
                email,
                full_name,
                data: Arc::new(Data {
                    profile,
                    segments: Value::from(names),
                    cluster,
                    consent: consent_value,
                    no_recommendations: list.is_empty(),
                    recommendations: Value::from(list),
                    campaign: self.campaign.clone(),
                    now: self.now.clone(),
                    currency: self.currency.clone(),
                }),
            });
        }
        Ok(out)
    }

    fn recommendation(&self, rank: i64, sku: &str, reason: Value) -> Value {
        let product = match self.products.get(sku) {
            Some(p) => p.clone(),
            None => Arc::new(Product {
                sku: Value::from(sku),
                title: Value::from(()),
                category: Value::from(()),
                brand: Value::from(()),
                price: Value::from(()),
                currency: Value::from(()),
            }),
        };
        Value::from_object(Recommendation {
            rank,
            reason,
            product,
        })
    }
}

/// Runs `range_sql` (`?1`, `?2`: the first and last id) or, for sparse
/// ids, `point_sql` (`?1`: one id) and calls `f(index in ids, row)` for
/// each row whose first column is one of `ids`. Rows come in id order.
fn each_row(
    conn: &Connection,
    range_sql: &str,
    point_sql: &str,
    ids: &[i64],
    sparse: bool,
    f: &mut dyn FnMut(usize, &rusqlite::Row<'_>) -> rusqlite::Result<()>,
) -> Result<()> {
    let context = "read the recipients' data";
    if sparse {
        let mut stmt = conn.prepare_cached(point_sql).map_err(sql(context))?;
        for (i, id) in ids.iter().enumerate() {
            let mut rows = stmt.query([id]).map_err(sql(context))?;
            while let Some(r) = rows.next().map_err(sql(context))? {
                f(i, r).map_err(sql(context))?;
            }
        }
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(range_sql).map_err(sql(context))?;
    let mut rows = stmt
        .query([ids[0], ids[ids.len() - 1]])
        .map_err(sql(context))?;
    let mut j = 0usize;
    while let Some(r) = rows.next().map_err(sql(context))? {
        let id: i64 = r.get(0).map_err(sql(context))?;
        while j < ids.len() && ids[j] < id {
            j += 1;
        }
        if j == ids.len() {
            break;
        }
        if ids[j] == id {
            f(j, r).map_err(sql(context))?;
        }
    }
    Ok(())
}

/// Loads `ids` (ascending) a chunk at a time on this thread while a second
/// thread runs `work` on the previous chunk (rendering, usually on rayon),
/// so reading SQLite and rendering overlap; `sink` gets each chunk's
/// recipients and result in order, on this thread.
pub fn pipeline<R: Send>(
    conn: &Connection,
    loader: &ContextLoader,
    ids: &[i64],
    chunk: usize,
    work: impl Fn(&[Recipient]) -> R + Sync,
    mut sink: impl FnMut(Vec<Recipient>, R) -> Result<()>,
) -> Result<()> {
    let chunk = chunk.max(1);
    std::thread::scope(|scope| {
        let (to_work, inbox) = std::sync::mpsc::sync_channel::<Vec<Recipient>>(1);
        let (outbox, from_work) = std::sync::mpsc::sync_channel::<(Vec<Recipient>, R)>(1);
        let work = &work;
        scope.spawn(move || {
            for batch in inbox {
                let r = work(&batch);
                if outbox.send((batch, r)).is_err() {
                    break;
                }
            }
        });
        let mut in_flight = 0usize;
        for ids in ids.chunks(chunk) {
            let batch = loader.load(conn, ids)?;
            if to_work.send(batch).is_err() {
                break;
            }
            in_flight += 1;
            if in_flight == 2 {
                let (batch, r) = from_work.recv().expect("the render thread answers");
                in_flight -= 1;
                sink(batch, r)?;
            }
        }
        drop(to_work);
        for (batch, r) in from_work.iter().take(in_flight) {
            sink(batch, r)?;
        }
        Ok(())
    })
}

/// A variable the template editor offers.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Variable {
    /// As written in a template: `profile.first_name`.
    pub path: String,
    /// What a marketer calls it: "First name".
    pub label: String,
    /// `text`, `number`, `money`, `date`, `list`, `boolean`, `map`.
    pub kind: String,
    /// An example value (from this workspace where it has one).
    pub example: String,
    /// What to insert: `{{ profile.first_name | default("there") }}`.
    pub snippet: String,
    /// Profile, Traits, Segments, Recommendations, Campaign, Other.
    pub group: String,
}

/// "first_name" → "First name".
pub fn label_of(field: &str) -> String {
    let words = field.replace('_', " ");
    let special = match field {
        "rfm_segment" => Some("RFM segment"),
        "rfm_recency" => Some("RFM recency score"),
        "rfm_frequency" => Some("RFM frequency score"),
        "rfm_monetary" => Some("RFM monetary score"),
        "clv" => Some("Customer lifetime value"),
        "p_alive" => Some("Probability still a customer"),
        "address1" => Some("Address"),
        "id" => Some("Profile id"),
        "orders" => Some("Number of orders"),
        _ => None,
    };
    if let Some(s) = special {
        return s.to_owned();
    }
    // "last_order_at" → "Last order date".
    if let Some(stem) = field.strip_suffix("_at") {
        return label_of(&format!("{stem} date"));
    }
    let mut c = words.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn field_kind(field: &str) -> &'static str {
    if MONEY_TRAITS.contains(&field) {
        "money"
    } else if field.ends_with("_at")
        || matches!(field, "birth_date" | "first_seen" | "last_seen" | "as_of")
    {
        "date"
    } else if JSON_TRAITS.contains(&field) {
        "map"
    } else {
        "text"
    }
}

/// Every variable a template of this workspace can use, for the editor's
/// picker: profile fields, traits (with an example from the workspace),
/// segments, cluster, consent, recommendations, campaign, now.
pub fn variables(conn: &Connection) -> Result<Vec<Variable>> {
    let mut out = Vec::new();
    let static_examples: HashMap<&str, &str> = [
        ("id", "1042"),
        ("first_name", "Anna"),
        ("last_name", "Smith"),
        ("full_name", "Anna Smith"),
        ("email", "anna@example.com"),
        ("phone", "+14155552671"),
        ("birth_date", "1984-07-09"),
        ("gender", "female"),
        ("company", "Acme"),
        ("job_title", "Buyer"),
        ("address1", "1 Main St"),
        ("city", "San Francisco"),
        ("region", "CA"),
        ("postcode", "94102"),
        ("country", "US"),
        ("records", "3"),
    ]
    .into_iter()
    .collect();
    let mut profile_fields: Vec<&str> = PROFILE_FIELDS.to_vec();
    profile_fields.insert(3, "full_name");
    for f in profile_fields {
        let kind = match f {
            "id" | "records" => "number",
            other => field_kind(other),
        };
        let snippet = match f {
            "first_name" => "{{ profile.first_name | default(\"there\") }}".to_owned(),
            _ if kind == "date" => format!("{{{{ profile.{f} | date(\"%-d %B %Y\") }}}}"),
            _ => format!("{{{{ profile.{f} }}}}"),
        };
        out.push(Variable {
            path: format!("profile.{f}"),
            label: label_of(f),
            kind: kind.into(),
            example: static_examples.get(f).copied().unwrap_or("").to_owned(),
            snippet,
            group: "Profile".into(),
        });
    }
    for t in trait_columns(conn)? {
        if t == "as_of" {
            continue;
        }
        // The column comes from the table's own schema.
        let example: Option<String> = conn
            .query_row(
                // Looks at the first 10,000 rows only: an example, not a search.
                &format!("SELECT CAST(\"{t}\" AS TEXT) FROM (SELECT \"{t}\" FROM profile_traits LIMIT 10000) WHERE \"{t}\" IS NOT NULL LIMIT 1"),
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("read an example trait"))?;
        let kind = match field_kind(&t) {
            "text" => {
                let numeric = example.as_deref().is_some_and(|e| e.parse::<f64>().is_ok());
                if numeric {
                    "number"
                } else {
                    "text"
                }
            }
            k => k,
        };
        let snippet = match kind {
            "money" => format!("{{{{ profile.{t} | money }}}}"),
            "date" => format!("{{{{ profile.{t} | ago }}}}"),
            _ if t == "rfm_segment" => {
                "{% if profile.rfm_segment == \"Champions\" %}…{% endif %}".to_owned()
            }
            _ => format!("{{{{ profile.{t} }}}}"),
        };
        out.push(Variable {
            path: format!("profile.{t}"),
            label: label_of(&t),
            kind: kind.into(),
            example: example.unwrap_or_default(),
            snippet,
            group: "Traits".into(),
        });
    }
    let segment_example: Option<String> = conn
        .query_row("SELECT name FROM segments ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql("read a segment name"))?;
    let seg = segment_example.unwrap_or_else(|| "VIP".into());
    let mut push =
        |path: &str, label: &str, kind: &str, example: &str, snippet: String, group: &str| {
            out.push(Variable {
                path: path.into(),
                label: label.into(),
                kind: kind.into(),
                example: example.into(),
                snippet,
                group: group.into(),
            })
        };
    push(
        "segments",
        "Segments the recipient is in",
        "list",
        &seg,
        format!(
            "{{% if \"{}\" in segments %}}…{{% endif %}}",
            seg.replace('"', "\\\"")
        ),
        "Segments",
    );
    push(
        "cluster",
        "Cluster (latest clustering)",
        "text",
        "Loyal regulars",
        "{{ cluster | default(\"\") }}".into(),
        "Segments",
    );
    for (ch, label) in [("email", "Email"), ("sms", "SMS"), ("ads", "Ads")] {
        push(
            &format!("consent.{ch}"),
            &format!("{label} consent"),
            "boolean",
            "true",
            format!("{{% if consent.{ch} %}}…{{% endif %}}"),
            "Consent",
        );
    }
    push(
        "recommendations",
        "Recommended products",
        "list",
        "",
        "{% for item in recommendations[:3] %}{{ item.title }} – {{ item.price | money(item.currency) }}\n{% endfor %}".into(),
        "Recommendations",
    );
    for (f, label, kind, example) in [
        ("rank", "Rank", "number", "1"),
        ("sku", "SKU", "text", "TENT-2P"),
        ("title", "Product title", "text", "Trail tent"),
        ("category", "Category", "text", "Tents"),
        ("brand", "Brand", "text", "Northwind"),
        ("price", "Price", "money", "12900"),
        ("currency", "Currency", "text", "USD"),
        (
            "reason",
            "Why it is recommended",
            "text",
            "Bought with Trail stove",
        ),
    ] {
        push(
            &format!("recommendations[].{f}"),
            label,
            kind,
            example,
            if f == "price" {
                "{{ item.price | money(item.currency) }}".into()
            } else {
                format!("{{{{ item.{f} }}}}")
            },
            "Recommendations",
        );
    }
    for (f, label, example) in [
        ("name", "Campaign name", "Spring sale"),
        ("channel", "Channel", "email"),
        ("variant", "A/B variant", "A"),
    ] {
        push(
            &format!("campaign.{f}"),
            label,
            "text",
            example,
            format!("{{{{ campaign.{f} }}}}"),
            "Campaign",
        );
    }
    push(
        "now",
        "Now (when the message is rendered)",
        "date",
        "2026-11-01T12:00:00Z",
        "{{ now | date(\"%B %Y\") }}".into(),
        "Other",
    );
    push(
        "currency",
        "Workspace currency",
        "text",
        "USD",
        "{{ currency }}".into(),
        "Other",
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_from_variables() {
        let n = Needs::from_variables([
            "profile.first_name",
            "profile.clv",
            "recommendations",
            "campaign.variant",
        ]);
        assert_eq!(
            n.profile,
            Some(
                ["clv", "first_name"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            )
        );
        assert!(n.recommendations && !n.segments && !n.cluster && !n.consent);
        let n = Needs::from_variables(["profile", "segments", "consent.sms"]);
        assert_eq!(n.profile, None);
        assert!(n.segments && n.consent);
    }

    #[test]
    fn needs_from_source_see_slices() {
        let n = Needs::from_source(
            "{% for item in recommendations[:2] %}{{ item.profile }}{% endfor %}{{ 'segments' }}{{ profile.first_name }}",
        );
        assert!(n.recommendations);
        assert!(!n.segments, "text in quotes is not a name");
        assert_eq!(n.profile, Some(["first_name".to_string()].into()));
        let n = Needs::from_source("{% for k, v in profile | items %}{% endfor %}");
        assert_eq!(n.profile, None);
    }

    #[test]
    fn sparse_or_dense() {
        assert!(!is_sparse(&[1, 2, 3, 10]));
        assert!(is_sparse(&[1, 1_000_000]));
        assert!(!is_sparse(&(0..10_000).map(|i| i * 10).collect::<Vec<_>>()));
    }

    #[test]
    fn labels() {
        assert_eq!(label_of("first_name"), "First name");
        assert_eq!(label_of("rfm_segment"), "RFM segment");
    }
}
