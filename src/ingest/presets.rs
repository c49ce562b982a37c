//! Presets: the column layouts of the exports marketers bring, recognised by
//! their header, each with a mapping to canonical fields.
//!
//! Vendor presets map only the columns they name; every other column of a
//! vendor file is kept as an attribute, because vendor files are full of
//! look-alike columns (Shopify orders have both `Name` and `Id`) that alias
//! matching would get wrong. Generic presets map by header aliases.

use serde::{Deserialize, Serialize};

use super::fields::{normalise_header, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub id: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    /// Headers that identify the layout; `min_signature` of them must be present.
    pub signature: &'static [&'static str],
    pub min_signature: usize,
    /// Header → field. Several headers may feed one field (older and newer
    /// layouts, or a fallback column): the first non-empty value in file
    /// order wins and differing others are kept as attributes.
    pub columns: &'static [(&'static str, &'static str)],
    /// Mailchimp exports one file per status; the status is consent evidence.
    pub consent_from_file_name: bool,
}

impl Preset {
    pub fn is_generic(&self) -> bool {
        self.signature.is_empty()
    }
}

/// One column of a file and what it maps to. `field: None` keeps the column
/// as an attribute (JSON) on the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMapping {
    pub column: String,
    pub field: Option<String>,
}

pub static PRESETS: &[Preset] = &[
    Preset {
        id: "shopify_customers",
        label: "Shopify customers",
        kind: Kind::Contacts,
        signature: &[
            "First Name",
            "Last Name",
            "Email",
            "Accepts Email Marketing",
            "Total Spent",
            "Total Orders",
            "Tax Exempt",
        ],
        min_signature: 5,
        columns: &[
            ("Customer ID", "source_key"),
            ("First Name", "first_name"),
            ("Last Name", "last_name"),
            ("Email", "email"),
            ("Accepts Email Marketing", "consent_email"),
            ("Default Address Company", "company"),
            ("Company", "company"),
            ("Default Address Address1", "address1"),
            ("Address1", "address1"),
            ("Default Address Address2", "address2"),
            ("Address2", "address2"),
            ("Default Address City", "city"),
            ("City", "city"),
            ("Default Address Province Code", "region"),
            ("Province Code", "region"),
            ("Province", "region"),
            ("Default Address Country Code", "country"),
            ("Country Code", "country"),
            ("Country", "country"),
            ("Default Address Zip", "postcode"),
            ("Zip", "postcode"),
            ("Phone", "phone"),
            ("Default Address Phone", "phone"),
            ("Accepts SMS Marketing", "consent_sms"),
        ],
        consent_from_file_name: false,
    },
    Preset {
        id: "shopify_orders",
        label: "Shopify orders",
        kind: Kind::Orders,
        signature: &[
            "Name",
            "Email",
            "Financial Status",
            "Lineitem quantity",
            "Lineitem name",
            "Lineitem price",
            "Lineitem sku",
            "Created at",
        ],
        min_signature: 5,
        columns: &[
            ("Name", "order_key"),
            ("Email", "email"),
            ("Phone", "phone"),
            ("Created at", "ordered_at"),
            ("Currency", "currency"),
            ("Subtotal", "subtotal"),
            ("Shipping", "shipping"),
            ("Taxes", "tax"),
            ("Total", "total"),
            ("Discount Amount", "discount"),
            ("Refunded Amount", "refunded"),
            ("Financial Status", "financial_status"),
            ("Fulfillment Status", "fulfillment_status"),
            ("Discount Code", "discount_code"),
            ("Cancelled at", "cancelled_at"),
            ("Billing Name", "billing_name"),
            ("Billing City", "billing_city"),
            ("Billing Zip", "billing_postcode"),
            ("Billing Country", "billing_country"),
            ("Shipping City", "shipping_city"),
            ("Shipping Zip", "shipping_postcode"),
            ("Shipping Country", "shipping_country"),
            ("Lineitem sku", "line_sku"),
            ("Lineitem name", "line_name"),
            ("Lineitem quantity", "line_quantity"),
            ("Lineitem price", "line_price"),
            ("Lineitem discount", "line_discount"),
            ("Vendor", "line_vendor"),
        ],
        consent_from_file_name: false,
    },
    Preset {
        id: "mailchimp_audience",
        label: "Mailchimp audience",
        kind: Kind::Contacts,
        signature: &[
            "Email Address",
            "MEMBER_RATING",
            "OPTIN_TIME",
            "CONFIRM_TIME",
            "LEID",
            "EUID",
            "LAST_CHANGED",
        ],
        min_signature: 4,
        columns: &[
            ("EUID", "source_key"),
            ("Email Address", "email"),
            ("First Name", "first_name"),
            ("Last Name", "last_name"),
            ("Phone Number", "phone"),
            ("Address", "address1"),
            ("OPTIN_TIME", "created_at"),
            ("LAST_CHANGED", "updated_at"),
            ("CC", "country"),
            ("REGION", "region"),
        ],
        consent_from_file_name: true,
    },
    Preset {
        id: "hubspot_contacts",
        label: "HubSpot contacts",
        kind: Kind::Contacts,
        signature: &[
            "Record ID",
            "First Name",
            "Last Name",
            "Email",
            "Contact owner",
            "Lifecycle Stage",
            "Create Date",
            "Last Activity Date",
        ],
        min_signature: 5,
        columns: &[
            ("Record ID", "source_key"),
            ("First Name", "first_name"),
            ("Last Name", "last_name"),
            ("Email", "email"),
            ("Phone Number", "phone"),
            ("Mobile Phone Number", "phone"),
            ("Job Title", "job_title"),
            ("Company Name", "company"),
            ("Street Address", "address1"),
            ("City", "city"),
            ("State/Region", "region"),
            ("Postal Code", "postcode"),
            ("Country/Region", "country"),
            ("Create Date", "created_at"),
            ("Last Modified Date", "updated_at"),
        ],
        consent_from_file_name: false,
    },
    Preset {
        id: "salesforce_contacts",
        label: "Salesforce contacts (report)",
        kind: Kind::Contacts,
        signature: &[
            "Contact ID",
            "First Name",
            "Last Name",
            "Email",
            "Mailing Street",
            "Mailing City",
            "Mailing Country",
            "Email Opt Out",
        ],
        min_signature: 5,
        columns: &[
            ("Contact ID", "source_key"),
            ("First Name", "first_name"),
            ("Last Name", "last_name"),
            ("Email", "email"),
            ("Phone", "phone"),
            ("Mobile", "phone"),
            ("Mailing Street", "address1"),
            ("Mailing City", "city"),
            ("Mailing State/Province", "region"),
            ("Mailing Zip/Postal Code", "postcode"),
            ("Mailing Country", "country"),
            ("Email Opt Out", "email_opt_out"),
            ("Birthdate", "birth_date"),
            ("Title", "job_title"),
            ("Account Name", "company"),
            ("Created Date", "created_at"),
        ],
        consent_from_file_name: false,
    },
    Preset {
        id: "salesforce_contacts_api",
        label: "Salesforce contacts (Data Loader)",
        kind: Kind::Contacts,
        signature: &[
            "Id",
            "FirstName",
            "LastName",
            "Email",
            "MailingStreet",
            "MailingCity",
            "MailingCountry",
            "HasOptedOutOfEmail",
            "AccountId",
        ],
        min_signature: 5,
        columns: &[
            ("Id", "source_key"),
            ("FirstName", "first_name"),
            ("LastName", "last_name"),
            ("Email", "email"),
            ("Phone", "phone"),
            ("MobilePhone", "phone"),
            ("MailingStreet", "address1"),
            ("MailingCity", "city"),
            ("MailingState", "region"),
            ("MailingPostalCode", "postcode"),
            ("MailingCountry", "country"),
            ("HasOptedOutOfEmail", "email_opt_out"),
            ("Birthdate", "birth_date"),
            ("Title", "job_title"),
            ("CreatedDate", "created_at"),
            ("LastModifiedDate", "updated_at"),
        ],
        consent_from_file_name: false,
    },
    Preset {
        id: "klaviyo_profiles",
        label: "Klaviyo profiles",
        kind: Kind::Contacts,
        signature: &[
            "Email Marketing Consent",
            "SMS Marketing Consent",
            "Klaviyo ID",
            "Profile Created On",
        ],
        min_signature: 1,
        columns: &[
            ("Klaviyo ID", "source_key"),
            ("Email", "email"),
            ("Email Address", "email"),
            ("Phone Number", "phone"),
            ("First Name", "first_name"),
            ("Last Name", "last_name"),
            ("Organization", "company"),
            ("Title", "job_title"),
            ("Address", "address1"),
            ("Address 1", "address1"),
            ("Address 2", "address2"),
            ("City", "city"),
            ("Region", "region"),
            ("State / Region", "region"),
            ("Zip Code", "postcode"),
            ("Country", "country"),
            ("Email Marketing Consent", "consent_email"),
            ("SMS Marketing Consent", "consent_sms"),
            ("Profile Created On", "created_at"),
            ("Date Added", "created_at"),
            ("Last Updated", "updated_at"),
        ],
        consent_from_file_name: false,
    },
    Preset {
        id: "ga4_events",
        label: "GA4 events (flattened export)",
        kind: Kind::Events,
        signature: &[
            "event_date",
            "event_timestamp",
            "event_name",
            "user_pseudo_id",
        ],
        min_signature: 3,
        columns: &[
            ("event_timestamp", "occurred_at"),
            ("event_name", "name"),
            ("user_id", "customer_key"),
            ("user_pseudo_id", "anonymous_id"),
            ("ga_session_id", "session_id"),
            ("event_params.ga_session_id", "session_id"),
            ("item_id", "sku"),
            ("items.item_id", "sku"),
            ("value", "value"),
            ("ecommerce.purchase_revenue", "value"),
            ("currency", "currency"),
            ("device.category", "device"),
            ("device_category", "device"),
            ("traffic_source.medium", "channel"),
            ("traffic_source_medium", "channel"),
            ("geo.country", "country"),
            ("geo_country", "country"),
        ],
        consent_from_file_name: false,
    },
    generic("generic_contacts", "Contacts (generic)", Kind::Contacts),
    generic("generic_orders", "Orders (generic)", Kind::Orders),
    generic(
        "generic_order_lines",
        "Order lines (generic)",
        Kind::OrderLines,
    ),
    generic("generic_events", "Events (generic)", Kind::Events),
    generic("generic_products", "Products (generic)", Kind::Products),
];

const fn generic(id: &'static str, label: &'static str, kind: Kind) -> Preset {
    Preset {
        id,
        label,
        kind,
        signature: &[],
        min_signature: 0,
        columns: &[],
        consent_from_file_name: false,
    }
}

pub fn find(id: &str) -> Option<&'static Preset> {
    PRESETS
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(id.trim()))
}

pub fn generic_for(kind: Kind) -> &'static Preset {
    PRESETS
        .iter()
        .find(|p| p.is_generic() && p.kind == kind)
        .expect("every kind has a generic preset")
}

pub fn ids() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.id).collect()
}

fn same_header(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// How many of a vendor preset's signature headers `header` has.
fn signature_hits(preset: &Preset, header: &[String]) -> usize {
    preset
        .signature
        .iter()
        .filter(|s| header.iter().any(|h| same_header(h, s)))
        .count()
}

/// Recognises the layout of a header. `kind`, when given, restricts the
/// choice to presets of that kind. Returns the best vendor preset whose
/// signature is present, or else the generic preset of the kind whose aliases
/// map the most columns (None when nothing maps and no kind was given).
pub fn detect(header: &[String], kind: Option<Kind>) -> Option<&'static Preset> {
    let vendor = PRESETS
        .iter()
        .filter(|p| !p.is_generic() && kind.is_none_or(|k| k == p.kind))
        .map(|p| (p, signature_hits(p, header)))
        .filter(|(p, hits)| *hits >= p.min_signature)
        // Highest share of the signature, then most columns mapped.
        .max_by(|(a, ha), (b, hb)| {
            let sa = *ha as f64 / a.signature.len() as f64;
            let sb = *hb as f64 / b.signature.len() as f64;
            sa.total_cmp(&sb)
                .then_with(|| mapped_count(a, header).cmp(&mapped_count(b, header)))
        })
        .map(|(p, _)| p);
    if vendor.is_some() {
        return vendor;
    }
    if let Some(kind) = kind {
        return Some(generic_for(kind));
    }
    // Generic: the kind whose required fields are all present and which maps most columns.
    Kind::ALL
        .into_iter()
        .map(|k| {
            let preset = generic_for(k);
            let mapping = map_columns(preset, header);
            let mapped: Vec<&str> = mapping.iter().filter_map(|m| m.field.as_deref()).collect();
            let has_required = k
                .fields()
                .iter()
                .filter(|f| f.required)
                .all(|f| mapped.contains(&f.name));
            let has_key = k
                .fields()
                .iter()
                .any(|f| f.ty == super::fields::ValueType::Key && mapped.contains(&f.name))
                || (k == Kind::Contacts && mapped.contains(&"email"));
            (preset, has_required && has_key, mapped.len())
        })
        .filter(|(_, ok, n)| *ok && *n >= 2)
        .max_by_key(|(_, _, n)| *n)
        .map(|(p, _, _)| p)
}

fn mapped_count(preset: &Preset, header: &[String]) -> usize {
    map_columns(preset, header)
        .iter()
        .filter(|m| m.field.is_some())
        .count()
}

/// The preset's mapping for this header, one entry per column in file order.
pub fn map_columns(preset: &Preset, header: &[String]) -> Vec<ColumnMapping> {
    let fields = preset.kind.fields();
    let mut taken: Vec<&str> = Vec::new();
    header
        .iter()
        .map(|column| {
            let field = if preset.is_generic() {
                // First field whose alias matches, each field once: a generic
                // file with both `Phone` and `Mobile` keeps the second as an attribute.
                let norm = normalise_header(column);
                fields
                    .iter()
                    .find(|f| {
                        (f.name == norm || f.aliases.contains(&norm.as_str()))
                            && !taken.contains(&f.name)
                    })
                    .map(|f| f.name)
            } else {
                preset
                    .columns
                    .iter()
                    .find(|(h, _)| same_header(h, column))
                    .map(|(_, f)| *f)
            };
            if let Some(f) = field {
                taken.push(f);
            }
            ColumnMapping {
                column: column.clone(),
                field: field.map(str::to_string),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &str) -> Vec<String> {
        s.split(", ").map(str::to_string).collect()
    }

    #[test]
    fn every_vendor_preset_maps_only_fields_of_its_kind_and_its_signature_detects_it() {
        for p in PRESETS.iter().filter(|p| !p.is_generic()) {
            for (h, f) in p.columns {
                assert!(
                    p.kind.field(f).is_some(),
                    "{}: column {h} maps to unknown field {f}",
                    p.id
                );
            }
            let h: Vec<String> = p.signature.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                detect(&h, None).map(|d| d.id),
                Some(p.id),
                "signature of {} detects another preset",
                p.id
            );
        }
    }

    #[test]
    fn shopify_customers_current_and_older_layouts() {
        let current = header("Customer ID, First Name, Last Name, Email, Accepts Email Marketing, Default Address Company, Default Address Address1, Default Address Address2, Default Address City, Default Address Province Code, Default Address Country Code, Default Address Zip, Default Address Phone, Phone, Accepts SMS Marketing, Total Spent, Total Orders, Note, Tax Exempt, Tags");
        let older = header("First Name, Last Name, Email, Accepts Email Marketing, Company, Address1, Address2, City, Province, Province Code, Country, Country Code, Zip, Phone, Accepts SMS Marketing, Total Spent, Total Orders, Tags, Note, Tax Exempt");
        for h in [&current, &older] {
            let p = detect(h, None).unwrap();
            assert_eq!(p.id, "shopify_customers");
            let m = map_columns(p, h);
            let field = |c: &str| m.iter().find(|x| x.column == c).unwrap().field.clone();
            assert_eq!(field("Email").as_deref(), Some("email"));
            assert_eq!(field("Total Spent"), None, "kept as attribute");
        }
    }

    #[test]
    fn generic_files_are_recognised_by_aliases() {
        let h = header("E-Mail Address, Given Name, Surname, Mobile");
        let p = detect(&h, None).unwrap();
        assert_eq!(p.id, "generic_contacts");
        let fields: Vec<_> = map_columns(p, &h)
            .into_iter()
            .map(|m| m.field.unwrap())
            .collect();
        assert_eq!(fields, ["email", "first_name", "last_name", "phone"]);

        let h = header("sku, title, category, brand, price, currency, in_stock");
        assert_eq!(detect(&h, None).unwrap().id, "generic_products");
        let h = header("order_id, line_number, sku, product_name, quantity, unit_price, currency");
        assert_eq!(detect(&h, None).unwrap().id, "generic_order_lines");
        let h = header("timestamp, event, user_id, sku");
        assert_eq!(detect(&h, None).unwrap().id, "generic_events");
        assert_eq!(detect(&header("foo, bar, baz"), None), None);
        assert_eq!(
            detect(&header("foo, bar, baz"), Some(Kind::Events))
                .unwrap()
                .id,
            "generic_events"
        );
    }
}
