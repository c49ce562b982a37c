//! The canonical fields a column can be mapped to, per record kind.
//!
//! One table drives mapping, standardisation and storage: a [`Field`] says
//! what its values are ([`ValueType`]), which table and column they land in,
//! and whether a row without it is rejected.

use serde::{Deserialize, Serialize};

/// What one import file holds. Shopify-style order exports (one row per line
/// item) are `Orders`: they fill both the orders and the order lines tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Contacts,
    Orders,
    OrderLines,
    Events,
    Products,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Contacts,
        Kind::Orders,
        Kind::OrderLines,
        Kind::Events,
        Kind::Products,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Contacts => "contacts",
            Kind::Orders => "orders",
            Kind::OrderLines => "order_lines",
            Kind::Events => "events",
            Kind::Products => "products",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        let s = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s || (s == "lines" && *k == Kind::OrderLines))
    }

    pub fn fields(self) -> &'static [Field] {
        match self {
            Kind::Contacts => CONTACT_FIELDS,
            Kind::Orders => ORDER_FIELDS,
            Kind::OrderLines => ORDER_LINE_FIELDS,
            Kind::Events => EVENT_FIELDS,
            Kind::Products => PRODUCT_FIELDS,
        }
    }

    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.name == name)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tables records are written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Contacts,
    Orders,
    OrderLines,
    Events,
    Products,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Contacts => "contacts",
            Table::Orders => "orders",
            Table::OrderLines => "order_lines",
            Table::Events => "events",
            Table::Products => "products",
        }
    }

    /// The JSON column that keeps unmapped columns.
    pub fn extra_column(self) -> &'static str {
        match self {
            Table::Events => "properties",
            _ => "attributes",
        }
    }
}

/// How a field's raw text is standardised and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// An identifier: trimmed, Excel's protective `'` removed, otherwise as is.
    Key,
    Text,
    /// A person's or place's name: trimmed, inner whitespace collapsed.
    Name,
    Email,
    Phone,
    Country,
    Date,
    DateTime,
    /// Integer minor units of the row's currency.
    Money,
    Integer,
    Boolean,
    Consent,
    /// A "has opted out" flag, stored as consent (true → denied).
    OptOut,
    Gender,
    Currency,
}

/// A canonical field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Stable id used in mappings and `--map col=field`.
    pub name: &'static str,
    /// What the UI shows.
    pub label: &'static str,
    pub ty: ValueType,
    pub table: Table,
    /// Column in `table`.
    pub column: &'static str,
    /// A row without a valid value for this field is rejected.
    pub required: bool,
    /// Header spellings (normalised: lowercase letters and digits only) that
    /// map to this field in a generic file.
    pub aliases: &'static [&'static str],
}

const fn f(
    name: &'static str,
    label: &'static str,
    ty: ValueType,
    table: Table,
    column: &'static str,
    aliases: &'static [&'static str],
) -> Field {
    Field {
        name,
        label,
        ty,
        table,
        column,
        required: false,
        aliases,
    }
}

const fn required(field: Field) -> Field {
    Field {
        required: true,
        ..field
    }
}

use Table as T;
use ValueType as V;

pub static CONTACT_FIELDS: &[Field] = &[
    f(
        "source_key",
        "Customer ID",
        V::Key,
        T::Contacts,
        "source_key",
        &[
            "id",
            "customerid",
            "contactid",
            "recordid",
            "externalid",
            "userid",
            "clientid",
            "customernumber",
            "memberid",
        ],
    ),
    f(
        "first_name",
        "First name",
        V::Name,
        T::Contacts,
        "first_name",
        &["firstname", "givenname", "forename", "fname", "first"],
    ),
    f(
        "last_name",
        "Last name",
        V::Name,
        T::Contacts,
        "last_name",
        &["lastname", "surname", "familyname", "lname", "last"],
    ),
    f(
        "full_name",
        "Full name",
        V::Name,
        T::Contacts,
        "full_name",
        &["name", "fullname", "customername", "contactname"],
    ),
    f(
        "email",
        "Email",
        V::Email,
        T::Contacts,
        "email",
        &["email", "emailaddress", "mail", "emailid"],
    ),
    f(
        "phone",
        "Phone",
        V::Phone,
        T::Contacts,
        "phone",
        &[
            "phone",
            "phonenumber",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "tel",
            "telephone",
            "cell",
            "sms",
        ],
    ),
    f(
        "birth_date",
        "Birth date",
        V::Date,
        T::Contacts,
        "birth_date",
        &["birthdate", "dateofbirth", "dob", "birthday"],
    ),
    f(
        "gender",
        "Gender",
        V::Gender,
        T::Contacts,
        "gender",
        &["gender", "sex"],
    ),
    f(
        "company",
        "Company",
        V::Name,
        T::Contacts,
        "company",
        &[
            "company",
            "companyname",
            "organization",
            "organisation",
            "account",
            "accountname",
        ],
    ),
    f(
        "job_title",
        "Job title",
        V::Name,
        T::Contacts,
        "job_title",
        &["jobtitle", "title", "position", "role"],
    ),
    f(
        "address1",
        "Address line 1",
        V::Name,
        T::Contacts,
        "address1",
        &[
            "address",
            "address1",
            "addressline1",
            "street",
            "streetaddress",
        ],
    ),
    f(
        "address2",
        "Address line 2",
        V::Name,
        T::Contacts,
        "address2",
        &["address2", "addressline2"],
    ),
    f(
        "city",
        "City",
        V::Name,
        T::Contacts,
        "city",
        &["city", "town", "locality"],
    ),
    f(
        "region",
        "Region",
        V::Name,
        T::Contacts,
        "region",
        &[
            "region",
            "state",
            "province",
            "county",
            "stateregion",
            "provincecode",
            "statecode",
        ],
    ),
    f(
        "postcode",
        "Postcode",
        V::Name,
        T::Contacts,
        "postcode",
        &["postcode", "zip", "zipcode", "postalcode", "postal"],
    ),
    f(
        "country",
        "Country",
        V::Country,
        T::Contacts,
        "country",
        &["country", "countrycode", "countryregion", "nation"],
    ),
    f(
        "consent_email",
        "Email consent",
        V::Consent,
        T::Contacts,
        "consent_email",
        &[
            "emailconsent",
            "acceptsemailmarketing",
            "emailmarketingconsent",
            "acceptsmarketing",
            "subscribed",
            "optin",
            "emailoptin",
            "newsletter",
        ],
    ),
    f(
        "email_opt_out",
        "Email opt-out",
        V::OptOut,
        T::Contacts,
        "consent_email",
        &[
            "emailoptout",
            "optout",
            "unsubscribed",
            "hasoptedoutofemail",
        ],
    ),
    f(
        "consent_sms",
        "SMS consent",
        V::Consent,
        T::Contacts,
        "consent_sms",
        &[
            "smsconsent",
            "acceptssmsmarketing",
            "smsmarketingconsent",
            "smsoptin",
        ],
    ),
    f(
        "consent_ads",
        "Ads consent",
        V::Consent,
        T::Contacts,
        "consent_ads",
        &["adsconsent", "adconsent", "advertisingconsent"],
    ),
    f(
        "created_at",
        "Created",
        V::DateTime,
        T::Contacts,
        "created_at",
        &[
            "createdat",
            "created",
            "createdate",
            "createddate",
            "signupdate",
            "datecreated",
            "registered",
        ],
    ),
    f(
        "updated_at",
        "Updated",
        V::DateTime,
        T::Contacts,
        "updated_at",
        &[
            "updatedat",
            "updated",
            "lastmodified",
            "modifiedat",
            "lastchanged",
            "lastmodifieddate",
        ],
    ),
];

pub static ORDER_FIELDS: &[Field] = &[
    required(f(
        "order_key",
        "Order number",
        V::Key,
        T::Orders,
        "source_key",
        &[
            "orderid",
            "ordernumber",
            "order",
            "orderno",
            "name",
            "id",
            "invoiceid",
            "transactionid",
        ],
    )),
    f(
        "customer_key",
        "Customer ID",
        V::Key,
        T::Orders,
        "customer_key",
        &["customerid", "userid", "clientid", "contactid"],
    ),
    f(
        "email",
        "Email",
        V::Email,
        T::Orders,
        "email",
        &["email", "emailaddress", "customeremail"],
    ),
    f(
        "phone",
        "Phone",
        V::Phone,
        T::Orders,
        "phone",
        &["phone", "phonenumber", "customerphone"],
    ),
    f(
        "ordered_at",
        "Ordered at",
        V::DateTime,
        T::Orders,
        "ordered_at",
        &[
            "orderedat",
            "orderdate",
            "createdat",
            "date",
            "created",
            "purchasedate",
            "datetime",
            "timestamp",
        ],
    ),
    f(
        "currency",
        "Currency",
        V::Currency,
        T::Orders,
        "currency",
        &["currency", "currencycode"],
    ),
    f(
        "subtotal",
        "Subtotal",
        V::Money,
        T::Orders,
        "subtotal",
        &["subtotal"],
    ),
    f(
        "shipping",
        "Shipping",
        V::Money,
        T::Orders,
        "shipping",
        &["shipping", "shippingcost", "delivery"],
    ),
    f(
        "tax",
        "Tax",
        V::Money,
        T::Orders,
        "tax",
        &["tax", "taxes", "vat"],
    ),
    f(
        "discount",
        "Discount",
        V::Money,
        T::Orders,
        "discount",
        &["discount", "discountamount"],
    ),
    f(
        "total",
        "Total",
        V::Money,
        T::Orders,
        "total",
        &[
            "total",
            "ordertotal",
            "amount",
            "revenue",
            "grandtotal",
            "totalprice",
        ],
    ),
    f(
        "refunded",
        "Refunded",
        V::Money,
        T::Orders,
        "refunded",
        &["refunded", "refundedamount", "refund"],
    ),
    f(
        "financial_status",
        "Payment status",
        V::Text,
        T::Orders,
        "financial_status",
        &["financialstatus", "paymentstatus", "status"],
    ),
    f(
        "fulfillment_status",
        "Fulfilment status",
        V::Text,
        T::Orders,
        "fulfillment_status",
        &["fulfillmentstatus", "fulfilmentstatus", "shippingstatus"],
    ),
    f(
        "discount_code",
        "Discount code",
        V::Text,
        T::Orders,
        "discount_code",
        &[
            "discountcode",
            "couponcode",
            "coupon",
            "promocode",
            "voucher",
        ],
    ),
    f(
        "cancelled_at",
        "Cancelled at",
        V::DateTime,
        T::Orders,
        "cancelled_at",
        &["cancelledat", "canceledat", "cancelled", "canceled"],
    ),
    f(
        "billing_name",
        "Billing name",
        V::Name,
        T::Orders,
        "billing_name",
        &["billingname"],
    ),
    f(
        "billing_city",
        "Billing city",
        V::Name,
        T::Orders,
        "billing_city",
        &["billingcity"],
    ),
    f(
        "billing_postcode",
        "Billing postcode",
        V::Name,
        T::Orders,
        "billing_postcode",
        &["billingzip", "billingpostcode", "billingpostalcode"],
    ),
    f(
        "billing_country",
        "Billing country",
        V::Country,
        T::Orders,
        "billing_country",
        &["billingcountry"],
    ),
    f(
        "shipping_city",
        "Shipping city",
        V::Name,
        T::Orders,
        "shipping_city",
        &["shippingcity"],
    ),
    f(
        "shipping_postcode",
        "Shipping postcode",
        V::Name,
        T::Orders,
        "shipping_postcode",
        &["shippingzip", "shippingpostcode", "shippingpostalcode"],
    ),
    f(
        "shipping_country",
        "Shipping country",
        V::Country,
        T::Orders,
        "shipping_country",
        &["shippingcountry", "country"],
    ),
    f(
        "line_sku",
        "Line item SKU",
        V::Key,
        T::OrderLines,
        "sku",
        &["sku", "lineitemsku", "productid", "itemid", "productsku"],
    ),
    f(
        "line_name",
        "Line item name",
        V::Name,
        T::OrderLines,
        "product_name",
        &["lineitemname", "productname", "itemname", "product"],
    ),
    f(
        "line_quantity",
        "Line item quantity",
        V::Integer,
        T::OrderLines,
        "quantity",
        &["quantity", "qty", "lineitemquantity"],
    ),
    f(
        "line_price",
        "Line item price",
        V::Money,
        T::OrderLines,
        "unit_price",
        &["price", "unitprice", "lineitemprice", "itemprice"],
    ),
    f(
        "line_discount",
        "Line item discount",
        V::Money,
        T::OrderLines,
        "discount",
        &["lineitemdiscount"],
    ),
    f(
        "line_vendor",
        "Line item brand",
        V::Name,
        T::OrderLines,
        "vendor",
        &["vendor", "brand"],
    ),
];

pub static ORDER_LINE_FIELDS: &[Field] = &[
    required(f(
        "order_key",
        "Order number",
        V::Key,
        T::OrderLines,
        "order_key",
        &[
            "orderid",
            "ordernumber",
            "order",
            "orderno",
            "invoiceid",
            "transactionid",
        ],
    )),
    f(
        "line_number",
        "Line number",
        V::Integer,
        T::OrderLines,
        "line_number",
        &["linenumber", "line", "lineno", "lineid", "position"],
    ),
    f(
        "sku",
        "SKU",
        V::Key,
        T::OrderLines,
        "sku",
        &["sku", "productid", "itemid", "productsku", "articlenumber"],
    ),
    f(
        "product_name",
        "Product name",
        V::Name,
        T::OrderLines,
        "product_name",
        &[
            "productname",
            "itemname",
            "product",
            "name",
            "title",
            "description",
        ],
    ),
    f(
        "quantity",
        "Quantity",
        V::Integer,
        T::OrderLines,
        "quantity",
        &["quantity", "qty", "units"],
    ),
    f(
        "unit_price",
        "Unit price",
        V::Money,
        T::OrderLines,
        "unit_price",
        &["unitprice", "price", "itemprice"],
    ),
    f(
        "discount",
        "Discount",
        V::Money,
        T::OrderLines,
        "discount",
        &["discount", "discountamount"],
    ),
    f(
        "currency",
        "Currency",
        V::Currency,
        T::OrderLines,
        "currency",
        &["currency", "currencycode"],
    ),
    f(
        "vendor",
        "Brand",
        V::Name,
        T::OrderLines,
        "vendor",
        &["vendor", "brand", "manufacturer"],
    ),
];

pub static EVENT_FIELDS: &[Field] = &[
    f(
        "event_id",
        "Event ID",
        V::Key,
        T::Events,
        "source_key",
        &["eventid", "id", "messageid"],
    ),
    f(
        "customer_key",
        "Customer ID",
        V::Key,
        T::Events,
        "customer_key",
        &["userid", "customerid", "contactid", "clientid"],
    ),
    f(
        "anonymous_id",
        "Device or cookie ID",
        V::Key,
        T::Events,
        "anonymous_id",
        &[
            "anonymousid",
            "userpseudoid",
            "deviceid",
            "cookieid",
            "visitorid",
            "sessionuser",
        ],
    ),
    f(
        "email",
        "Email",
        V::Email,
        T::Events,
        "email",
        &["email", "emailaddress"],
    ),
    required(f(
        "name",
        "Event name",
        V::Name,
        T::Events,
        "name",
        &["eventname", "event", "name", "action", "type", "eventtype"],
    )),
    required(f(
        "occurred_at",
        "Occurred at",
        V::DateTime,
        T::Events,
        "occurred_at",
        &[
            "occurredat",
            "eventtimestamp",
            "timestamp",
            "time",
            "datetime",
            "date",
            "eventtime",
            "createdat",
        ],
    )),
    f(
        "session_id",
        "Session ID",
        V::Key,
        T::Events,
        "session_id",
        &["sessionid", "gasessionid", "session"],
    ),
    f(
        "sku",
        "Product SKU",
        V::Key,
        T::Events,
        "sku",
        &["sku", "itemid", "productid"],
    ),
    f(
        "value",
        "Value",
        V::Money,
        T::Events,
        "value",
        &["value", "revenue", "amount"],
    ),
    f(
        "currency",
        "Currency",
        V::Currency,
        T::Events,
        "currency",
        &["currency", "currencycode"],
    ),
    f(
        "device",
        "Device",
        V::Name,
        T::Events,
        "device",
        &["device", "devicecategory", "devicetype"],
    ),
    f(
        "channel",
        "Channel",
        V::Name,
        T::Events,
        "channel",
        &["channel", "medium", "trafficsourcemedium", "utmmedium"],
    ),
    f(
        "country",
        "Country",
        V::Country,
        T::Events,
        "country",
        &["country", "geocountry"],
    ),
];

pub static PRODUCT_FIELDS: &[Field] = &[
    required(f(
        "sku",
        "SKU",
        V::Key,
        T::Products,
        "sku",
        &[
            "sku",
            "productid",
            "id",
            "itemid",
            "variantsku",
            "articlenumber",
        ],
    )),
    f(
        "title",
        "Title",
        V::Name,
        T::Products,
        "title",
        &["title", "name", "productname", "itemname"],
    ),
    f(
        "category",
        "Category",
        V::Name,
        T::Products,
        "category",
        &[
            "category",
            "productcategory",
            "type",
            "producttype",
            "itemcategory",
        ],
    ),
    f(
        "brand",
        "Brand",
        V::Name,
        T::Products,
        "brand",
        &["brand", "vendor", "manufacturer"],
    ),
    f(
        "price",
        "Price",
        V::Money,
        T::Products,
        "price",
        &["price", "unitprice", "variantprice", "listprice"],
    ),
    f(
        "currency",
        "Currency",
        V::Currency,
        T::Products,
        "currency",
        &["currency", "currencycode"],
    ),
    f(
        "in_stock",
        "In stock",
        V::Boolean,
        T::Products,
        "in_stock",
        &["instock", "available", "availability", "stock"],
    ),
];

/// Normalises a header for alias matching: lowercase ASCII letters and digits only.
pub fn normalise_header(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_unique_per_kind_and_every_kind_has_a_key() {
        for kind in Kind::ALL {
            let fields = kind.fields();
            let mut names: Vec<_> = fields.iter().map(|f| f.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), fields.len(), "{kind}");
            assert!(
                fields.iter().any(|f| f.ty == ValueType::Key),
                "{kind} has no key field"
            );
            for f in fields {
                for a in f.aliases {
                    assert_eq!(
                        normalise_header(a),
                        *a,
                        "alias {a} of {} is not normalised",
                        f.name
                    );
                }
            }
        }
    }

    #[test]
    fn kind_parses_its_own_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("Order-Lines"), Some(Kind::OrderLines));
        assert_eq!(Kind::parse("people"), None);
    }
}
