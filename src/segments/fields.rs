//! The fields a segment condition can test: profile attributes and computed
//! traits, with their type (which operators apply) and where they live.
//! One table drives validation, SQL, the in-memory index, the description
//! and the UI's field picker.

use serde::Serialize;

/// What kind of value a field holds; decides the operators allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FieldType {
    /// Free text (names, email, city).
    Text,
    /// Text from a small set of values (country, RFM segment, device):
    /// the UI offers the values found in the data.
    Choice,
    /// A number (scores, counts, rates, probabilities).
    Number,
    /// Money in minor units of the workspace currency; rules say major units.
    Money,
    /// ISO 8601 date or timestamp text.
    Date,
}

impl FieldType {
    /// The operators that make sense for the type.
    pub fn ops(self) -> &'static [super::rules::Op] {
        use super::rules::Op::*;
        match self {
            FieldType::Text => &[Eq, Ne, In, NotIn, Contains, StartsWith, IsEmpty, IsSet],
            FieldType::Choice => &[Eq, Ne, In, NotIn, IsEmpty, IsSet],
            // `in`/`not_in` for scores and counts a marketer picks a few
            // of ("RFM recency 4 or 5", "weekday 6 or 7").
            FieldType::Number | FieldType::Money => {
                &[Eq, Ne, Lt, Le, Gt, Ge, Between, In, NotIn, IsEmpty, IsSet]
            }
            FieldType::Date => &[
                Lt,
                Le,
                Gt,
                Ge,
                Between,
                InLastDays,
                MoreThanDaysAgo,
                IsEmpty,
                IsSet,
            ],
        }
    }
}

/// One field a condition can name.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Field {
    /// The name in definitions, e.g. `days_since_last_order`.
    pub name: &'static str,
    /// What the UI shows and descriptions say.
    pub label: &'static str,
    /// The picker's group: Profile, Orders, Engagement, RFM, Predicted.
    pub group: &'static str,
    pub kind: FieldType,
    /// `p` (profiles) or `t` (profile_traits).
    pub table: char,
    /// The column in that table.
    pub column: &'static str,
    /// Counts that mean 0 when a profile has no traits row.
    pub zero_when_missing: bool,
}

const fn f(
    name: &'static str,
    label: &'static str,
    group: &'static str,
    kind: FieldType,
    table: char,
    zero_when_missing: bool,
) -> Field {
    Field {
        name,
        label,
        group,
        kind,
        table,
        column: name,
        zero_when_missing,
    }
}

use FieldType::*;

/// Every field, in picker order.
pub const FIELDS: &[Field] = &[
    f("first_name", "First name", "Profile", Text, 'p', false),
    f("last_name", "Last name", "Profile", Text, 'p', false),
    f("email", "Email", "Profile", Text, 'p', false),
    f("phone", "Phone", "Profile", Text, 'p', false),
    f("birth_date", "Birth date", "Profile", Date, 'p', false),
    f("gender", "Gender", "Profile", Choice, 'p', false),
    f("company", "Company", "Profile", Text, 'p', false),
    f("job_title", "Job title", "Profile", Text, 'p', false),
    f("city", "City", "Profile", Text, 'p', false),
    f("region", "Region", "Profile", Choice, 'p', false),
    f("postcode", "Postcode", "Profile", Text, 'p', false),
    f("country", "Country", "Profile", Choice, 'p', false),
    f("records", "Source records", "Profile", Number, 'p', false),
    f("first_seen", "First seen", "Profile", Date, 'p', false),
    f("last_seen", "Last seen", "Profile", Date, 'p', false),
    f("orders", "Orders", "Orders", Number, 't', true),
    f("revenue", "Revenue", "Orders", Money, 't', true),
    f(
        "average_order_value",
        "Average order value",
        "Orders",
        Money,
        't',
        false,
    ),
    f("first_order_at", "First order", "Orders", Date, 't', false),
    f("last_order_at", "Last order", "Orders", Date, 't', false),
    f(
        "days_since_last_order",
        "Days since last order",
        "Orders",
        Number,
        't',
        false,
    ),
    f(
        "purchase_interval",
        "Days between purchases",
        "Orders",
        Number,
        't',
        false,
    ),
    f("top_category", "Top category", "Orders", Choice, 't', false),
    f("top_brand", "Top brand", "Orders", Choice, 't', false),
    f(
        "discount_share",
        "Share of orders with a discount",
        "Orders",
        Number,
        't',
        false,
    ),
    f("returns", "Orders refunded", "Orders", Number, 't', true),
    f("refunded", "Refunded", "Orders", Money, 't', true),
    f("sessions", "Sessions", "Engagement", Number, 't', true),
    f(
        "product_views",
        "Product views",
        "Engagement",
        Number,
        't',
        true,
    ),
    f(
        "add_to_carts",
        "Add-to-carts",
        "Engagement",
        Number,
        't',
        true,
    ),
    f(
        "last_seen_at",
        "Last seen on the site",
        "Engagement",
        Date,
        't',
        false,
    ),
    f(
        "views_7d",
        "Product views, last 7 days",
        "Engagement",
        Number,
        't',
        true,
    ),
    f(
        "views_30d",
        "Product views, last 30 days",
        "Engagement",
        Number,
        't',
        true,
    ),
    f(
        "views_90d",
        "Product views, last 90 days",
        "Engagement",
        Number,
        't',
        true,
    ),
    f(
        "preferred_device",
        "Preferred device",
        "Engagement",
        Choice,
        't',
        false,
    ),
    f(
        "preferred_channel",
        "Preferred channel",
        "Engagement",
        Choice,
        't',
        false,
    ),
    f(
        "preferred_hour",
        "Preferred hour (UTC)",
        "Engagement",
        Number,
        't',
        false,
    ),
    f(
        "preferred_weekday",
        "Preferred weekday (1 = Monday)",
        "Engagement",
        Number,
        't',
        false,
    ),
    f("rfm_recency", "Recency score", "RFM", Number, 't', false),
    f(
        "rfm_frequency",
        "Frequency score",
        "RFM",
        Number,
        't',
        false,
    ),
    f("rfm_monetary", "Monetary score", "RFM", Number, 't', false),
    f("rfm_segment", "RFM segment", "RFM", Choice, 't', false),
    f(
        "expected_purchases",
        "Expected purchases",
        "Predicted",
        Number,
        't',
        false,
    ),
    f(
        "p_alive",
        "Probability active",
        "Predicted",
        Number,
        't',
        false,
    ),
    f("churn_risk", "Churn risk", "Predicted", Number, 't', false),
    f(
        "expected_order_value",
        "Expected order value",
        "Predicted",
        Money,
        't',
        false,
    ),
    f(
        "clv",
        "Predicted lifetime value",
        "Predicted",
        Money,
        't',
        false,
    ),
];

/// The field named `name`.
pub fn field(name: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.name == name)
}

/// Event properties a behaviour filter can test, and their type.
pub const EVENT_PROPERTIES: &[(&str, &str, FieldType)] = &[
    ("sku", "Product (SKU)", Text),
    ("category", "Category", Choice),
    ("brand", "Brand", Choice),
    ("device", "Device", Choice),
    ("channel", "Channel", Choice),
    ("country", "Country", Choice),
    ("value", "Value", Money),
];

/// How a filter names a property the export carried in its own column,
/// kept in the event's `properties` JSON: `properties.geo.city`.
pub const CUSTOM_PROPERTY: &str = "properties.";

/// The key of a custom property filter (`properties.KEY` → `KEY`).
pub fn custom_property(name: &str) -> Option<&str> {
    name.strip_prefix(CUSTOM_PROPERTY)
        .filter(|k| !k.trim().is_empty())
}

/// The type of an event property, if it is one: the canonical columns
/// above, or any custom property (compared as text).
pub fn event_property(name: &str) -> Option<FieldType> {
    EVENT_PROPERTIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, t)| *t)
        .or_else(|| custom_property(name).map(|_| Text))
}

pub const CHANNELS: &[&str] = &["email", "sms", "ads"];
pub const CONSENT_STATUSES: &[&str] = &["granted", "denied", "unknown"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_columns_exist_in_the_schema() {
        let mut names: Vec<_> = FIELDS.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FIELDS.len());
        let dir = tempfile::tempdir().unwrap();
        let ws = crate::store::Workspace::open(dir.path().join("w.cohort")).unwrap();
        for f in FIELDS {
            let table = if f.table == 'p' {
                "profiles"
            } else {
                "profile_traits"
            };
            ws.conn()
                .prepare(&format!("SELECT {} FROM {table}", f.column))
                .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        }
    }
}
