//! The export layouts, exactly as the vendors write them, and how one person
//! is shown in each: every system keeps its own spelling of the name, its
//! own email, its own phone format.
//!
//! Each file also receives a few broken rows (missing key, invalid email,
//! unparsable date or amount, wrong number of fields), as real exports do:
//! about 0.5% of rows, and at least three of each kind even in the smallest
//! demo, so that import diagnostics always have something to show.

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::browsing::{self, Hit, Page};
use super::calendar::{
    push_compact_date, push_minutes, push_money, push_seconds_utc, push_shopify_time, DAY,
};
use super::catalogue::{categories, Catalogue};
use super::names::{capitalise, strip_accents, typo, Culture};
use super::people::{person_id, Person};
use super::places::{ip_address, Address, PHONE_STYLES};
use super::{DemoError, Noise};

pub(crate) const PRODUCTS: &str = "products.csv";
pub(crate) const SHOPIFY_CUSTOMERS: &str = "shopify_customers.csv";
pub(crate) const HUBSPOT_CONTACTS: &str = "hubspot_contacts.csv";
pub(crate) const MAILCHIMP_SUBSCRIBED: &str = "mailchimp_subscribed.csv";
pub(crate) const MAILCHIMP_UNSUBSCRIBED: &str = "mailchimp_unsubscribed.csv";
pub(crate) const SHOPIFY_ORDERS: &str = "shopify_orders.csv";
pub(crate) const GA4_EVENTS: &str = "ga4_events.csv";
pub(crate) const GROUND_TRUTH: &str = "ground_truth.csv";

pub(crate) const PRODUCTS_HEADER: &[&str] = &[
    "sku", "title", "category", "brand", "price", "currency", "in_stock",
];

pub(crate) const SHOPIFY_CUSTOMERS_HEADER: &[&str] = &[
    "Customer ID",
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "Default Address Company",
    "Default Address Address1",
    "Default Address Address2",
    "Default Address City",
    "Default Address Province Code",
    "Default Address Country Code",
    "Default Address Zip",
    "Default Address Phone",
    "Phone",
    "Accepts SMS Marketing",
    "Total Spent",
    "Total Orders",
    "Note",
    "Tax Exempt",
    "Tags",
];

pub(crate) const HUBSPOT_HEADER: &[&str] = &[
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Job Title",
    "Contact owner",
    "Lifecycle Stage",
    "Create Date",
    "Last Activity Date",
    "Last Contacted",
    "Company Name",
    "Website URL",
    "Lead Status",
    "Original Source",
];

pub(crate) const MAILCHIMP_HEADER: &[&str] = &[
    "Email Address",
    "First Name",
    "Last Name",
    "Address",
    "Phone Number",
    "Birthday",
    "MEMBER_RATING",
    "OPTIN_TIME",
    "OPTIN_IP",
    "CONFIRM_TIME",
    "CONFIRM_IP",
    "LATITUDE",
    "LONGITUDE",
    "GMTOFF",
    "DSTOFF",
    "TIMEZONE",
    "CC",
    "REGION",
    "LAST_CHANGED",
    "LEID",
    "EUID",
    "NOTES",
    "TAGS",
];

pub(crate) const SHOPIFY_ORDERS_HEADER: &[&str] = &[
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Billing Name",
    "Billing Street",
    "Billing Address1",
    "Billing Address2",
    "Billing Company",
    "Billing City",
    "Billing Zip",
    "Billing Province",
    "Billing Country",
    "Billing Phone",
    "Shipping Name",
    "Shipping Street",
    "Shipping Address1",
    "Shipping Address2",
    "Shipping Company",
    "Shipping City",
    "Shipping Zip",
    "Shipping Province",
    "Shipping Country",
    "Shipping Phone",
    "Notes",
    "Note Attributes",
    "Cancelled at",
    "Payment Method",
    "Payment Reference",
    "Refunded Amount",
    "Vendor",
    "Outstanding Balance",
    "Employee",
    "Location",
    "Device ID",
    "Id",
    "Tags",
    "Risk Level",
    "Source",
    "Lineitem discount",
    "Tax 1 Name",
    "Tax 1 Value",
    "Tax 2 Name",
    "Tax 2 Value",
    "Tax 3 Name",
    "Tax 3 Value",
    "Tax 4 Name",
    "Tax 4 Value",
    "Tax 5 Name",
    "Tax 5 Value",
    "Phone",
    "Receipt Number",
    "Duties",
    "Billing Province Name",
    "Shipping Province Name",
    "Payment ID",
    "Payment Terms Name",
    "Next Payment Due At",
    "Payment References",
];

/// Columns of an order that Shopify repeats on every line-item row; all
/// others are order-level and filled on the order's first row only.
#[cfg(test)]
pub(crate) const ORDER_LINE_COLUMNS: &[&str] = &[
    "Name",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Vendor",
    "Lineitem discount",
];

pub(crate) const GA4_HEADER: &[&str] = &[
    "event_date",
    "event_timestamp",
    "event_name",
    "user_pseudo_id",
    "user_id",
    "ga_session_id",
    "page_location",
    "device.category",
    "platform",
    "geo.country",
    "geo.city",
    "traffic_source.source",
    "traffic_source.medium",
    "item_id",
    "item_name",
    "item_category",
    "price",
    "quantity",
    "currency",
    "value",
];

pub(crate) const GROUND_TRUTH_HEADER: &[&str] = &["file", "source_key", "person_id"];

const SHOP_URL: &str = "https://www.ridgeline-outfitters.example";
const CURRENCY: &str = "USD";

/// The ways a row can be broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadKind {
    MissingKey,
    InvalidEmail,
    BadDate,
    WrongFieldCount,
    BadAmount,
}

/// Decides which rows of a file are broken: every `period`-th row, cycling
/// through the file's kinds. The period starts short enough that each kind
/// occurs three times within the expected row count of even a small file,
/// then settles at one row in 200 (0.5%).
#[derive(Debug)]
pub(crate) struct BadRows {
    kinds: &'static [BadKind],
    early_period: u64,
    since: u64,
    emitted: u64,
}

impl BadRows {
    pub(crate) fn new(kinds: &'static [BadKind], expected_rows: f64) -> Self {
        let k = kinds.len() as f64;
        // 0.6: the row count is an estimate; aim to be done well before it.
        let early_period = ((0.6 * expected_rows / (3.0 * k + 1.0)) as u64).clamp(2, 200);
        Self {
            kinds,
            early_period,
            since: 0,
            emitted: 0,
        }
    }

    pub(crate) fn next(&mut self) -> Option<BadKind> {
        if self.kinds.is_empty() {
            return None;
        }
        self.since += 1;
        let period = if self.emitted < 3 * self.kinds.len() as u64 {
            self.early_period
        } else {
            200
        };
        if self.since < period {
            return None;
        }
        self.since = 0;
        let kind = self.kinds[(self.emitted % self.kinds.len() as u64) as usize];
        self.emitted += 1;
        Some(kind)
    }
}

/// Which columns of a layout the bad-row kinds damage.
#[derive(Debug, Clone, Copy)]
struct Cols {
    key: usize,
    email: usize,
    date: usize,
    amount: usize,
}

/// A reusable row: field strings keep their capacity between rows, so
/// writing millions of rows allocates almost nothing.
#[derive(Debug, Default)]
pub(crate) struct Record {
    fields: Vec<String>,
    len: usize,
}

impl Record {
    fn clear(&mut self) {
        self.len = 0;
    }

    /// The next field, empty, to write into.
    fn next(&mut self) -> &mut String {
        if self.len == self.fields.len() {
            self.fields.push(String::new());
        }
        let f = &mut self.fields[self.len];
        f.clear();
        self.len += 1;
        f
    }

    fn push(&mut self, s: &str) {
        self.next().push_str(s);
    }

    fn push_if(&mut self, cond: bool, s: &str) {
        let f = self.next();
        if cond {
            f.push_str(s);
        }
    }

    fn empty(&mut self, n: usize) {
        for _ in 0..n {
            self.next();
        }
    }

    fn fields(&self) -> &[String] {
        &self.fields[..self.len]
    }

    fn set(&mut self, i: usize, s: &str) {
        self.fields[i].clear();
        self.fields[i].push_str(s);
    }

    fn get(&self, i: usize) -> &str {
        &self.fields[i]
    }

    /// Damages the row the way `kind` says; `n` varies the damage.
    fn corrupt(&mut self, kind: BadKind, cols: Cols, n: u64) {
        match kind {
            BadKind::MissingKey => self.set(cols.key, ""),
            BadKind::InvalidEmail => {
                let email = self.get(cols.email).to_string();
                let (local, domain) = email.split_once('@').unwrap_or(("john.smith", "gmail.com"));
                let broken = match n % 4 {
                    0 => format!("{local}@"),
                    1 => {
                        // A space inside the address: `john smith@gmail.com`.
                        let mid = local
                            .char_indices()
                            .nth(local.chars().count() / 2)
                            .map_or(0, |(i, _)| i);
                        format!("{} {}@{domain}", &local[..mid], &local[mid..])
                    }
                    2 => format!("{local}.{domain}"),
                    _ => format!("{local}@@{domain}"),
                };
                self.set(cols.email, &broken);
            }
            BadKind::BadDate => {
                self.set(
                    cols.date,
                    ["31/02/2024", "not a date", "2024-13-45 25:61", "0000-00-00"]
                        [(n % 4) as usize],
                );
            }
            BadKind::BadAmount => self.set(
                cols.amount,
                ["12,5O", "N/A", "4O.00", "--"][(n % 4) as usize],
            ),
            BadKind::WrongFieldCount => {
                if n % 2 == 0 {
                    // A line cut short, as when a file was truncated mid-write.
                    self.len -= 3;
                } else {
                    // An unquoted comma splits a field in two (`Smith, Jr.`).
                    self.fields.insert(3, " Jr.".to_string());
                    self.len += 1;
                }
            }
        }
    }
}

/// One csv file being written.
pub(crate) struct Sink {
    pub name: &'static str,
    pub path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    pub rows: u64,
    bad: BadRows,
    cols: Cols,
    bad_seen: u64,
}

impl Sink {
    fn create(
        dir: &Path,
        name: &'static str,
        header: &[&str],
        bad: BadRows,
        cols: Cols,
    ) -> Result<Self, DemoError> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|source| DemoError::Io {
            path: path.clone(),
            source,
        })?;
        // Flexible: the wrong-field-count rows are deliberate.
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(BufWriter::with_capacity(1 << 20, file));
        writer
            .write_record(header)
            .map_err(|source| DemoError::Csv {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            name,
            path,
            writer,
            rows: 0,
            bad,
            cols,
            bad_seen: 0,
        })
    }

    fn next_bad(&mut self) -> Option<BadKind> {
        self.bad.next()
    }

    /// Writes the row, damaged if `bad` says so. Returns whether the row's
    /// key can still be read at its column, i.e. whether the row belongs in
    /// the ground truth.
    fn write(&mut self, rec: &mut Record, bad: Option<BadKind>) -> Result<bool, DemoError> {
        let mut keyed = true;
        if let Some(kind) = bad {
            let fields = rec.len;
            rec.corrupt(kind, self.cols, self.bad_seen);
            self.bad_seen += 1;
            keyed = match kind {
                BadKind::MissingKey => false,
                // Cut off before the key, or the key pushed one column right.
                BadKind::WrongFieldCount => {
                    rec.len > self.cols.key && (rec.len < fields || self.cols.key < 3)
                }
                _ => true,
            };
        }
        self.write_fields(rec.fields())?;
        Ok(keyed && !rec.get(self.cols.key).is_empty())
    }

    fn write_fields<I, T>(&mut self, fields: I) -> Result<(), DemoError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.rows += 1;
        self.writer
            .write_record(fields)
            .map_err(|source| DemoError::Csv {
                path: self.path.clone(),
                source,
            })
    }

    pub(crate) fn finish(self) -> Result<(PathBuf, u64), DemoError> {
        let path = self.path;
        let inner = self.writer.into_inner().map_err(|e| DemoError::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        inner.into_inner().map_err(|e| DemoError::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        Ok((path, self.rows))
    }
}

/// Writes `products.csv`, with a few broken extra rows that no order uses.
pub(crate) fn write_products(
    dir: &Path,
    catalogue: &Catalogue,
) -> Result<(PathBuf, u64), DemoError> {
    const KINDS: &[BadKind] = &[
        BadKind::MissingKey,
        BadKind::BadAmount,
        BadKind::WrongFieldCount,
    ];
    let cols = Cols {
        key: 0,
        email: 0,
        date: 0,
        amount: 4,
    };
    // The schedule is fixed: three of each kind spread through the file.
    let mut sink = Sink::create(
        dir,
        PRODUCTS,
        PRODUCTS_HEADER,
        BadRows::new(KINDS, 0.0),
        cols,
    )?;
    let cats = categories();
    let n = catalogue.products.len();
    let every = n / 10;
    let mut rec = Record::default();
    let mut bad_index = 0_u64;
    for (i, p) in catalogue.products.iter().enumerate() {
        rec.clear();
        rec.push(&p.sku);
        rec.push(&p.title);
        rec.push(cats[p.category].name);
        rec.push(p.brand);
        push_money(rec.next(), p.price_cents);
        rec.push(CURRENCY);
        rec.push(if p.in_stock { "true" } else { "false" });
        sink.write(&mut rec, None)?;
        if i % every == every / 2 && bad_index < 9 {
            let kind = KINDS[(bad_index % 3) as usize];
            rec.clear();
            let prefix = p.sku.split('-').next().unwrap_or("SKU");
            let _ = write!(rec.next(), "{prefix}-9{:03}", bad_index);
            let _ = write!(rec.next(), "{} (discontinued)", p.title);
            rec.push(cats[p.category].name);
            rec.push(p.brand);
            push_money(rec.next(), p.price_cents);
            rec.push(CURRENCY);
            rec.push("false");
            sink.write(&mut rec, Some(kind))?;
            bad_index += 1;
        }
    }
    sink.finish()
}

/// All the people-bearing files and the ground truth, open for writing.
pub(crate) struct Exports {
    customers: Sink,
    hubspot: Sink,
    subscribed: Sink,
    unsubscribed: Sink,
    orders: Sink,
    events: Sink,
    truth: Sink,
    rec: Record,
    pid: String,
    hits: Vec<Hit>,
    as_of: i64,
    noise: Noise,
    /// The systems' [`NameDrift`]s, scaled by the noise.
    shopify_names: NameDrift,
    hubspot_names: NameDrift,
    mailchimp_names: NameDrift,
    billing_names: NameDrift,
}

/// Expected rows per person, for the bad-row schedule (measured).
const CUSTOMER_ROWS: f64 = 0.78;
const HUBSPOT_ROWS: f64 = 0.58;
const SUBSCRIBED_ROWS: f64 = 0.63;
const UNSUBSCRIBED_ROWS: f64 = 0.07;
const ORDERS_PER_PERSON: f64 = 1.9;
const EVENT_ROWS: f64 = 16.0;

impl Exports {
    pub(crate) fn create(
        dir: &Path,
        people: u64,
        as_of: i64,
        noise: Noise,
    ) -> Result<Self, DemoError> {
        use BadKind::*;
        let n = people as f64;
        let people_cols = |key, email, date, amount| Cols {
            key,
            email,
            date,
            amount,
        };
        Ok(Self {
            customers: Sink::create(
                dir,
                SHOPIFY_CUSTOMERS,
                SHOPIFY_CUSTOMERS_HEADER,
                BadRows::new(
                    &[MissingKey, InvalidEmail, WrongFieldCount, BadAmount],
                    CUSTOMER_ROWS * n,
                ),
                people_cols(0, 3, 0, 15),
            )?,
            hubspot: Sink::create(
                dir,
                HUBSPOT_CONTACTS,
                HUBSPOT_HEADER,
                BadRows::new(
                    &[MissingKey, InvalidEmail, BadDate, WrongFieldCount],
                    HUBSPOT_ROWS * n,
                ),
                people_cols(0, 3, 8, 0),
            )?,
            subscribed: Sink::create(
                dir,
                MAILCHIMP_SUBSCRIBED,
                MAILCHIMP_HEADER,
                BadRows::new(
                    &[MissingKey, InvalidEmail, BadDate, WrongFieldCount],
                    SUBSCRIBED_ROWS * n,
                ),
                people_cols(20, 0, 7, 0),
            )?,
            unsubscribed: Sink::create(
                dir,
                MAILCHIMP_UNSUBSCRIBED,
                MAILCHIMP_HEADER,
                BadRows::new(
                    &[MissingKey, InvalidEmail, BadDate, WrongFieldCount],
                    UNSUBSCRIBED_ROWS * n,
                ),
                people_cols(20, 0, 7, 0),
            )?,
            orders: Sink::create(
                dir,
                SHOPIFY_ORDERS,
                SHOPIFY_ORDERS_HEADER,
                BadRows::new(
                    &[
                        MissingKey,
                        InvalidEmail,
                        BadDate,
                        WrongFieldCount,
                        BadAmount,
                    ],
                    ORDERS_PER_PERSON * n,
                ),
                people_cols(0, 1, 15, 11),
            )?,
            events: Sink::create(
                dir,
                GA4_EVENTS,
                GA4_HEADER,
                BadRows::new(
                    &[MissingKey, BadDate, WrongFieldCount, BadAmount],
                    EVENT_ROWS * n,
                ),
                people_cols(3, 0, 0, 19),
            )?,
            truth: Sink::create(
                dir,
                GROUND_TRUTH,
                GROUND_TRUTH_HEADER,
                BadRows::new(&[], 0.0),
                people_cols(0, 0, 0, 0),
            )?,
            rec: Record::default(),
            pid: String::new(),
            hits: Vec::new(),
            as_of,
            noise,
            shopify_names: SHOPIFY_NAMES.scaled(noise),
            hubspot_names: HUBSPOT_NAMES.scaled(noise),
            mailchimp_names: MAILCHIMP_NAMES.scaled(noise),
            billing_names: BILLING_NAMES.scaled(noise),
        })
    }

    /// Writes every record the person has, in every file.
    pub(crate) fn write_person(
        &mut self,
        p: &Person,
        catalogue: &Catalogue,
        rng: &mut ChaCha8Rng,
    ) -> Result<(), DemoError> {
        self.pid.clear();
        person_id(p.index, &mut self.pid);
        self.shopify_customers(p, rng)?;
        self.hubspot_contact(p, rng)?;
        self.mailchimp_member(p, rng)?;
        self.shopify_orders(p, catalogue, rng)?;
        self.ga4_events(p, catalogue, rng)?;
        Ok(())
    }

    /// Closes every file; returns (name, path, rows) in import order, then
    /// the ground truth.
    pub(crate) fn finish(self) -> Result<Vec<(&'static str, PathBuf, u64)>, DemoError> {
        let mut out = Vec::new();
        for sink in [
            self.customers,
            self.hubspot,
            self.subscribed,
            self.unsubscribed,
            self.orders,
            self.events,
            self.truth,
        ] {
            let name = sink.name;
            let (path, rows) = sink.finish()?;
            out.push((name, path, rows));
        }
        Ok(out)
    }

    fn truth(&mut self, file: &str, key: &str) -> Result<(), DemoError> {
        let pid = self.pid.as_str();
        self.truth.rows += 1;
        self.truth
            .writer
            .write_record([file, key, pid])
            .map_err(|source| DemoError::Csv {
                path: self.truth.path.clone(),
                source,
            })
    }

    fn shopify_customers(&mut self, p: &Person, rng: &mut ChaCha8Rng) -> Result<(), DemoError> {
        for (ai, account) in p.accounts.iter().enumerate() {
            let bad = self.customers.next_bad();
            let (first, last) = shown_name(p, rng, &self.shopify_names);
            let orders = p.orders.iter().filter(|o| o.account == ai);
            let (count, spent) = orders.fold((0_u64, 0_i64), |(n, s), o| {
                (n + 1, s + o.total_cents() - o.refunded_cents)
            });
            let has_address = count > 0 || rng.random_bool(0.3);
            let home = &p.home;
            let r = &mut self.rec;
            r.clear();
            let id = account.id.to_string();
            // Shopify puts a quote before long numbers so Excel keeps them.
            if rng.random_bool(0.1) {
                let _ = write!(r.next(), "'{id}");
            } else {
                r.push(&id);
            }
            r.push(&first);
            r.push(&last);
            r.push(&account.email);
            r.push(yes_no(p.accepts_email));
            match (&p.company, has_address && rng.random_bool(0.25)) {
                (Some(c), true) => r.push(&c.name),
                _ => r.push(""),
            }
            if has_address {
                r.push(&address_line(home, rng));
                r.push(&home.unit);
                r.push(&city_name(home, rng, self.noise));
                r.push(home.province_code());
                r.push(home.country.code);
                if rng.random_bool(self.noise.p(0.1)) {
                    r.push(&home.zip_variant(rng));
                } else {
                    r.push(&home.zip);
                }
                let phone = rng
                    .random_bool(0.5)
                    .then(|| p.phone.written(rng.random_range(0..PHONE_STYLES)));
                r.push(&quoted_phone(phone, rng));
            } else {
                r.empty(7);
            }
            let e164 = rng.random_bool(0.55).then(|| p.phone.e164());
            r.push(&quoted_phone(e164, rng));
            r.push(yes_no(p.accepts_sms));
            push_money(r.next(), spent);
            let _ = write!(r.next(), "{count}");
            r.push_if(
                rng.random_bool(0.03),
                NOTES[rng.random_range(0..NOTES.len())],
            );
            r.push(if rng.random_bool(0.005) { "yes" } else { "no" });
            let tags = r.next();
            for (cond, tag) in [
                (spent >= 100_000, "VIP"),
                (p.accepts_email, "newsletter"),
                (count >= 3, "repeat"),
            ] {
                if cond {
                    if !tags.is_empty() {
                        tags.push_str(", ");
                    }
                    tags.push_str(tag);
                }
            }
            if self.customers.write(&mut self.rec, bad)? {
                self.truth(SHOPIFY_CUSTOMERS, &id)?;
            }
        }
        Ok(())
    }

    fn hubspot_contact(&mut self, p: &Person, rng: &mut ChaCha8Rng) -> Result<(), DemoError> {
        let Some(contact) = &p.hubspot else {
            return Ok(());
        };
        let bad = self.hubspot.next_bad();
        let (first, last) = shown_name(p, rng, &self.hubspot_names);
        let as_of = self.as_of;
        let r = &mut self.rec;
        r.clear();
        let id = contact.record_id.to_string();
        r.push(&id);
        r.push(&first);
        r.push(&last);
        r.push(contact.email.as_deref().unwrap_or(""));
        let phone = rng
            .random_bool(0.6)
            .then(|| p.phone.written(rng.random_range(0..PHONE_STYLES)));
        r.push(phone.as_deref().unwrap_or(""));
        r.push_if(rng.random_bool(0.7), p.job_title.unwrap_or(""));
        r.push_if(
            rng.random_bool(0.75),
            OWNERS[rng.random_range(0..OWNERS.len())],
        );
        let stage = if p.orders.len() >= 5 && rng.random_bool(0.3) {
            "Evangelist"
        } else if !p.orders.is_empty() {
            "Customer"
        } else {
            match rng.random_range(0..100) {
                0..=34 => "Subscriber",
                35..=69 => "Lead",
                70..=84 => "Marketing Qualified Lead",
                85..=92 => "Sales Qualified Lead",
                _ => "Opportunity",
            }
        };
        r.push(stage);
        let created = (p.acquired + rng.random_range(-45 * DAY..30 * DAY)).min(as_of - 3600);
        push_minutes(r.next(), created);
        let activity = |rng: &mut ChaCha8Rng| {
            created + ((as_of - created) as f64 * rng.random::<f64>()) as i64
        };
        let f = r.next();
        if rng.random_bool(0.7) {
            push_minutes(f, activity(rng));
        }
        let f = r.next();
        if rng.random_bool(0.3) {
            push_minutes(f, activity(rng));
        }
        match &p.company {
            Some(c) if rng.random_bool(0.8) => r.push(&c.name),
            _ => r.push(""),
        }
        let f = r.next();
        if let Some(c) = &p.company {
            match rng.random_range(0..5) {
                0 | 1 => {
                    let _ = write!(f, "https://www.{}", c.domain);
                }
                2 => f.push_str(&c.domain),
                3 => {
                    let _ = write!(f, "http://{}/", c.domain);
                }
                _ => {}
            }
        }
        r.push_if(
            rng.random_bool(0.6),
            LEAD_STATUSES[rng.random_range(0..LEAD_STATUSES.len())],
        );
        r.push(ORIGINAL_SOURCES[rng.random_range(0..ORIGINAL_SOURCES.len())]);
        if self.hubspot.write(&mut self.rec, bad)? {
            self.truth(HUBSPOT_CONTACTS, &id)?;
        }
        Ok(())
    }

    fn mailchimp_member(&mut self, p: &Person, rng: &mut ChaCha8Rng) -> Result<(), DemoError> {
        let Some(member) = &p.mailchimp else {
            return Ok(());
        };
        let sink = if member.unsubscribed {
            &mut self.unsubscribed
        } else {
            &mut self.subscribed
        };
        let bad = sink.next_bad();
        let (first, last) = shown_name(p, rng, &self.mailchimp_names);
        let as_of = self.as_of;
        let r = &mut self.rec;
        r.clear();
        r.push(&member.email);
        r.push(&first);
        r.push(&last);
        // Mailchimp's address field: parts separated by two spaces. Those
        // who moved often never updated it here.
        let f = r.next();
        if rng.random_bool(0.35) {
            let a = match &p.previous {
                Some((old, _)) if rng.random_bool(0.5) => old,
                _ => &p.home,
            };
            let spelling = a.country.spellings[rng.random_range(0..a.country.spellings.len())];
            let _ = write!(
                f,
                "{}  {}  {}  {}  {}  {}",
                a.usual_line1(),
                a.unit,
                a.city.name,
                a.city.region_code,
                a.zip,
                spelling
            );
        }
        let phone = rng
            .random_bool(0.3)
            .then(|| p.phone.written(rng.random_range(0..PHONE_STYLES)));
        r.push(phone.as_deref().unwrap_or(""));
        let f = r.next();
        if rng.random_bool(0.3) {
            let _ = write!(f, "{:02}/{:02}", p.birth.1, p.birth.2);
        }
        let rating = if p.orders.is_empty() {
            rng.random_range(1..=3)
        } else {
            rng.random_range(2..=5)
        };
        let _ = write!(r.next(), "{rating}");
        let optin = (p.acquired + rng.random_range(-20 * DAY..20 * DAY)).min(as_of - 7200);
        push_seconds_utc(r.next(), optin);
        let ip = ip_address(rng, p.home.country);
        r.push(&ip);
        if rng.random_bool(0.8) {
            push_seconds_utc(r.next(), optin + rng.random_range(30..3600));
            r.push(&ip);
        } else {
            r.empty(2);
        }
        if rng.random_bool(0.85) {
            let city = p.home.city;
            let _ = write!(r.next(), "{:.7}", city.lat + rng.random_range(-0.05..0.05));
            let _ = write!(r.next(), "{:.7}", city.lon + rng.random_range(-0.05..0.05));
            r.push(city.gmtoff);
            r.push(city.dstoff);
            r.push(city.timezone);
            r.push(p.home.country.code);
            r.push(city.region_code);
        } else {
            r.empty(7);
        }
        let changed = optin + ((as_of - optin) as f64 * rng.random::<f64>()) as i64;
        push_seconds_utc(r.next(), changed);
        let _ = write!(r.next(), "{}", member.leid);
        r.push(&member.euid);
        r.push_if(
            rng.random_bool(0.02),
            NOTES[rng.random_range(0..NOTES.len())],
        );
        let tags = r.next();
        let mut tag = |t: &str| {
            if !tags.is_empty() {
                tags.push(',');
            }
            let _ = write!(tags, "\"{t}\"");
        };
        if !p.orders.is_empty() {
            tag("Customer");
        }
        if rng.random_bool(0.5) {
            tag(categories()[p.prefs[0]].name);
        }
        if p.orders.len() >= 5 {
            tag("VIP");
        }
        let sink = if member.unsubscribed {
            &mut self.unsubscribed
        } else {
            &mut self.subscribed
        };
        let file = sink.name;
        if sink.write(&mut self.rec, bad)? {
            self.truth(file, &member.euid)?;
        }
        Ok(())
    }

    fn shopify_orders(
        &mut self,
        p: &Person,
        catalogue: &Catalogue,
        rng: &mut ChaCha8Rng,
    ) -> Result<(), DemoError> {
        if p.orders.is_empty() {
            return Ok(());
        }
        // The checkout form is prefilled from the account, so the billing
        // name is one spelling for all of a person's orders.
        let (first, last) = shown_name(p, rng, &self.billing_names);
        let billing_name = format!("{first} {last}").trim().to_string();
        let phone = rng
            .random_bool(0.5)
            .then(|| p.phone.written(rng.random_range(0..PHONE_STYLES)));
        let phone = phone.unwrap_or_default();
        let company = match &p.company {
            Some(c) if rng.random_bool(0.15) => c.name.as_str(),
            _ => "",
        };
        let mut number = String::new();
        let mut street = String::new();
        for order in &p.orders {
            let bad = self.orders.next_bad();
            let account = &p.accounts[order.account];
            let address = match (&p.previous, order.to_previous_address) {
                (Some((a, _)), true) => a,
                _ => &p.home,
            };
            let line1 = address.usual_line1();
            street.clear();
            street.push_str(&line1);
            if !address.unit.is_empty() {
                street.push_str(", ");
                street.push_str(&address.unit);
            }
            number.clear();
            let _ = write!(number, "#{}", order.number);
            let fulfilled_at = order.at + rng.random_range(DAY..4 * DAY);
            let fulfilled = fulfilled_at < self.as_of;
            let paid_at = order.at + rng.random_range(2..40);
            let reference = format!("c{}.1", order.id % 100_000_000_000 + 20_000_000_000);
            let note = rng
                .random_bool(0.02)
                .then(|| NOTES[rng.random_range(0..NOTES.len())]);
            let risk = if rng.random_bool(0.03) {
                "Medium"
            } else {
                "Low"
            };
            let source = if rng.random_bool(0.04) {
                "580111"
            } else {
                "web"
            };
            let order_phone = rng.random_bool(0.2);
            let mut keyed = bad != Some(BadKind::MissingKey);
            for (li, line) in order.lines.iter().enumerate() {
                let first_row = li == 0;
                let product = catalogue.product(line.product);
                let r = &mut self.rec;
                r.clear();
                let o = first_row; // order-level columns only on the first row
                r.push(if bad == Some(BadKind::MissingKey) {
                    ""
                } else {
                    &number
                });
                r.push_if(o, &account.email);
                r.push_if(o, order.financial_status);
                let f = r.next();
                if o {
                    push_shopify_time(f, paid_at);
                }
                r.push_if(
                    o,
                    if fulfilled {
                        "fulfilled"
                    } else {
                        "unfulfilled"
                    },
                );
                let f = r.next();
                if o && fulfilled {
                    push_shopify_time(f, fulfilled_at);
                }
                r.push_if(o, yes_no(p.accepts_email));
                r.push_if(o, CURRENCY);
                for cents in [
                    order.subtotal_cents(),
                    order.shipping_cents,
                    order.tax_cents,
                    order.total_cents(),
                ] {
                    let f = r.next();
                    if o {
                        push_money(f, cents);
                    }
                }
                r.push_if(o, order.discount_code);
                let f = r.next();
                if o {
                    push_money(f, order.discount_cents);
                }
                r.push_if(o, order.shipping_method);
                let f = r.next();
                if o {
                    push_shopify_time(f, order.at);
                }
                let _ = write!(r.next(), "{}", line.qty);
                r.push(&product.title);
                push_money(r.next(), line.price_cents);
                let f = r.next();
                if let Some(c) = product.compare_at_cents {
                    push_money(f, c);
                }
                r.push(&product.sku);
                r.push("true");
                r.push("true");
                r.push(if fulfilled { "fulfilled" } else { "pending" });
                // Billing, then shipping: the same address here.
                for _ in 0..2 {
                    r.push_if(o, &billing_name);
                    r.push_if(o, &street);
                    r.push_if(o, &line1);
                    r.push_if(o, &address.unit);
                    r.push_if(o, company);
                    r.push_if(o, address.city.name);
                    r.push_if(o, &address.zip);
                    r.push_if(o, address.province_code());
                    r.push_if(o, address.country.code);
                    r.push_if(o, &phone);
                }
                r.push_if(o, note.unwrap_or(""));
                r.empty(2); // Note Attributes, Cancelled at
                r.push_if(o, order.payment_method);
                r.push_if(o, &reference);
                let f = r.next();
                if o {
                    push_money(f, order.refunded_cents);
                }
                r.push(product.brand);
                r.push_if(o, "0.00");
                r.empty(3); // Employee, Location, Device ID
                let f = r.next();
                if o {
                    let _ = write!(f, "{}", order.id);
                }
                r.empty(1); // Tags
                r.push_if(o, risk);
                r.push_if(o, source);
                push_money(r.next(), line.discount_cents);
                let f = r.next();
                if o && order.tax_cents > 0 {
                    let bp = order.tax_bp;
                    let _ = write!(
                        f,
                        "{} Sales Tax {}.{:02}%",
                        address.city.region_code,
                        bp / 100,
                        bp % 100
                    );
                }
                let f = r.next();
                if o && order.tax_cents > 0 {
                    push_money(f, order.tax_cents);
                }
                r.empty(8); // Tax 2–5
                let e164 = p.phone.e164();
                r.push_if(o && order_phone, &e164);
                r.empty(2); // Receipt Number, Duties
                r.push_if(o, address.city.region_name);
                r.push_if(o, address.city.region_name);
                r.empty(3); // Payment ID, Payment Terms Name, Next Payment Due At
                r.push_if(o, &reference);
                let damage = match bad {
                    Some(BadKind::MissingKey) | None => None,
                    Some(kind) if first_row => Some(kind),
                    Some(_) => None,
                };
                let row_keyed = self.orders.write(&mut self.rec, damage)?;
                keyed = keyed && row_keyed;
            }
            if keyed {
                self.truth(SHOPIFY_ORDERS, &number)?;
            }
        }
        Ok(())
    }

    fn ga4_events(
        &mut self,
        p: &Person,
        catalogue: &Catalogue,
        rng: &mut ChaCha8Rng,
    ) -> Result<(), DemoError> {
        if p.devices.is_empty() {
            return Ok(());
        }
        let mut hits = std::mem::take(&mut self.hits);
        browsing::hits(p, catalogue, self.as_of, rng, &mut hits);
        let cats = categories();
        let pseudo: Vec<String> = p.devices.iter().map(|d| d.pseudo_id()).collect();
        let mut keyed = vec![false; p.devices.len()];
        let country = if rng.random_bool(0.97) {
            p.home.country.name
        } else {
            "(not set)"
        };
        let city = if rng.random_bool(0.95) {
            p.home.city.english
        } else {
            "(not set)"
        };
        for hit in &hits {
            let bad = self.events.next_bad();
            let device = &p.devices[hit.device];
            let r = &mut self.rec;
            r.clear();
            push_compact_date(r.next(), hit.at_us.div_euclid(1_000_000));
            let _ = write!(r.next(), "{}", hit.at_us);
            r.push(hit.name);
            r.push(&pseudo[hit.device]);
            let f = r.next();
            if let Some(id) = hit.user_id {
                let _ = write!(f, "{id}");
            }
            let _ = write!(r.next(), "{}", hit.session);
            let f = r.next();
            // Apps report screens, not URLs.
            if device.platform == "WEB" {
                page_url(f, hit.page, catalogue);
            }
            r.push(device.category);
            r.push(device.platform);
            r.push(country);
            r.push(city);
            r.push(device.source);
            r.push(device.medium);
            match hit.item {
                Some((product, qty)) => {
                    let product = catalogue.product(product);
                    r.push(&product.sku);
                    r.push(&product.title);
                    r.push(cats[product.category].name);
                    push_money(r.next(), product.price_cents);
                    let _ = write!(r.next(), "{qty}");
                    r.push(CURRENCY);
                }
                None => r.empty(6),
            }
            let f = r.next();
            if let Some(v) = hit.value_cents {
                push_money(f, v);
            }
            if self.events.write(&mut self.rec, bad)? {
                keyed[hit.device] = true;
            }
        }
        for (d, key) in pseudo.iter().enumerate() {
            if keyed[d] {
                self.truth(GA4_EVENTS, key)?;
            }
        }
        self.hits = hits;
        Ok(())
    }
}

/// How freely a system lets a person's name drift from the registered one.
/// Every field is a recording error, scaled by [`Noise`].
struct NameDrift {
    nickname: f64,
    typo: f64,
    swap: f64,
    strip_accents: f64,
    lower: f64,
    drop_first: f64,
    drop_last: f64,
}

impl NameDrift {
    fn scaled(&self, noise: Noise) -> Self {
        Self {
            nickname: noise.p(self.nickname),
            typo: noise.p(self.typo),
            swap: noise.p(self.swap),
            strip_accents: noise.p(self.strip_accents),
            lower: noise.p(self.lower),
            drop_first: noise.p(self.drop_first),
            drop_last: noise.p(self.drop_last),
        }
    }
}

/// Customers type their own name at checkout: mostly right.
const SHOPIFY_NAMES: NameDrift = NameDrift {
    nickname: 0.08,
    typo: 0.02,
    swap: 0.0,
    strip_accents: 0.25,
    lower: 0.03,
    drop_first: 0.0,
    drop_last: 0.01,
};
/// Sales staff type what they heard: nicknames, typos, swapped fields.
const HUBSPOT_NAMES: NameDrift = NameDrift {
    nickname: 0.12,
    typo: 0.04,
    swap: 0.02,
    strip_accents: 0.4,
    lower: 0.0,
    drop_first: 0.03,
    drop_last: 0.02,
};
/// Newsletter forms: names are optional and often skipped.
const MAILCHIMP_NAMES: NameDrift = NameDrift {
    nickname: 0.1,
    typo: 0.03,
    swap: 0.0,
    strip_accents: 0.2,
    lower: 0.05,
    drop_first: 0.05,
    drop_last: 0.2,
};
const BILLING_NAMES: NameDrift = NameDrift {
    nickname: 0.05,
    typo: 0.01,
    swap: 0.0,
    strip_accents: 0.2,
    lower: 0.02,
    drop_first: 0.0,
    drop_last: 0.0,
};

fn shown_name(p: &Person, rng: &mut ChaCha8Rng, drift: &NameDrift) -> (String, String) {
    let nicks = super::names::nicknames(p.first);
    let mut first = if !nicks.is_empty() && rng.random_bool(drift.nickname) {
        nicks[rng.random_range(0..nicks.len())].to_string()
    } else {
        p.first.to_string()
    };
    let mut last = p.last.clone();
    // Many systems keep only the first of two Spanish family names.
    if p.culture == Culture::Spanish && rng.random_bool(0.3) {
        if let Some((one, _)) = last.split_once(' ') {
            last = one.to_string();
        }
    }
    if rng.random_bool(drift.strip_accents) {
        let german = p.culture == Culture::German && rng.random_bool(0.5);
        first = strip_accents(&first, german);
        last = strip_accents(&last, german);
    }
    if rng.random_bool(drift.typo) {
        if rng.random_bool(0.5) {
            first = typo(rng, &first);
        } else {
            last = typo(rng, &last);
        }
    }
    if rng.random_bool(drift.lower) {
        first = first.to_lowercase();
        last = last.to_lowercase();
    } else if first.chars().next().is_some_and(char::is_lowercase) {
        first = capitalise(&first);
    }
    if rng.random_bool(drift.swap) {
        std::mem::swap(&mut first, &mut last);
    }
    if rng.random_bool(drift.drop_first) {
        first.clear();
    }
    if rng.random_bool(drift.drop_last) {
        last.clear();
    }
    (first, last)
}

fn address_line(a: &Address, rng: &mut ChaCha8Rng) -> String {
    if rng.random_bool(0.15) {
        a.line1(a.country.street_style != super::places::StreetStyle::American)
    } else {
        a.usual_line1()
    }
}

/// The city, its accents sometimes lost (a recording error: scaled by the noise).
fn city_name(a: &Address, rng: &mut ChaCha8Rng, noise: Noise) -> String {
    if rng.random_bool(noise.p(0.1)) {
        strip_accents(a.city.name, false)
    } else {
        a.city.name.to_string()
    }
}

/// Shopify quotes phone numbers that start with `+` so Excel keeps them.
fn quoted_phone(phone: Option<String>, rng: &mut ChaCha8Rng) -> String {
    match phone {
        Some(p) if p.starts_with('+') && rng.random_bool(0.3) => format!("'{p}"),
        Some(p) => p,
        None => String::new(),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn page_url(out: &mut String, page: Page, catalogue: &Catalogue) {
    out.push_str(SHOP_URL);
    let _ = match page {
        Page::Home => write!(out, "/"),
        Page::Collection(c) => write!(out, "/collections/{}", categories()[c].handle),
        Page::Product(p) => write!(out, "/products/{}", catalogue.product(p).handle),
        Page::Cart => write!(out, "/cart"),
        Page::Checkout(token) => write!(out, "/checkouts/cn/{token:x}"),
        Page::ThankYou(token) => write!(out, "/checkouts/cn/{token:x}/thank-you"),
    };
}

static OWNERS: &[&str] = &[
    "Dana Whitfield",
    "Marcus Lee",
    "Priya Raman",
    "Tom Becker",
    "Sofia Alvarez",
    "Hannah Cole",
];

static LEAD_STATUSES: &[&str] = &[
    "New",
    "Open",
    "In Progress",
    "Open Deal",
    "Unqualified",
    "Attempted to Contact",
    "Connected",
    "Bad Timing",
];

static ORIGINAL_SOURCES: &[&str] = &[
    "Organic Search",
    "Direct Traffic",
    "Paid Search",
    "Email Marketing",
    "Social Media",
    "Referrals",
    "Paid Social",
    "Offline Sources",
    "Other Campaigns",
];

static NOTES: &[&str] = &[
    "Prefers email contact",
    "Please leave parcels at the back door",
    "Gift - no invoice in the box please",
    "Call before delivery",
    "Met at the spring trail run expo",
    "Asked about team discounts",
];
