//! Demo data: a small outdoor-sports shop with 1,000 to 10,000,000
//! customers, written as the CSV exports of the tools such a shop uses
//! (Shopify, HubSpot, Mailchimp, Google Analytics 4) so that the demo goes
//! through the same import path as a user's own files.
//!
//! **Deterministic:** the same [`DemoConfig`] gives byte-identical files.
//! Nothing reads the clock; "now" is [`DemoConfig::as_of`].
//!
//! **Streaming:** people are made and written one at a time into all open
//! files; only the product catalogue and a bit set of the emails and phones
//! already used (64 MB at 10M people) are kept.
//!
//! Each person appears in several sources, each with its own spelling of
//! the name, email, phone and address; some different people look alike
//! (namesakes in one city, couples sharing a phone or an email). Which record
//! belongs to whom is written to `ground_truth.csv`, for measuring identity
//! resolution. Every file also has a few broken rows (about 0.5%).
//!
//! [`DemoConfig::noise`] scales how often the systems record a person
//! wrongly (nicknames, typos, dropped accents, odd capitals, …), to test
//! identity resolution on messier data than it was tuned on. Life events
//! (moving house, couples, namesakes) and broken rows are not affected.
//!
//! GA4 rows are the BigQuery export flattened with `UNNEST(items)`: an event
//! with several items (`begin_checkout`, `purchase`) has one row per item,
//! each repeating the event's fields, `value` included. Revenue is
//! therefore summed over distinct `(user_pseudo_id, event_timestamp)`.

mod browsing;
mod calendar;
mod catalogue;
mod layouts;
mod names;
mod people;
mod places;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::progress::{Cancelled, Progress, Tick};

/// The smallest demo: enough people for every file to show its quirks.
pub const MIN_CUSTOMERS: u64 = 1_000;
/// The largest demo (tens of GB of CSV, several minutes to write).
pub const MAX_CUSTOMERS: u64 = 10_000_000;
/// The largest [`DemoConfig::noise`]: five times the usual error rate.
pub const MAX_NOISE: f64 = 5.0;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    /// Number of people, from [`MIN_CUSTOMERS`] to [`MAX_CUSTOMERS`].
    pub customers: u64,
    pub seed: u64,
    /// "Today" for the demo shop: activity spans the three years before it.
    pub as_of: NaiveDate,
    /// Multiplies the probability of every recording error (name drift,
    /// email capitals and typos, postcode and city spellings), each capped
    /// at 0.95; from 0 (none) to [`MAX_NOISE`]. 1 is the usual rate, and
    /// gives the same bytes as before this setting existed.
    pub noise: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            customers: 1_000,
            seed: 42,
            as_of: NaiveDate::from_ymd_opt(2026, 11, 1).expect("valid date"),
            noise: 1.0,
        }
    }
}

/// [`DemoConfig::noise`], applied to the generator's error probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Noise(f64);

impl Noise {
    /// No error probability goes above this, however noisy.
    const MAX_P: f64 = 0.95;

    pub(crate) fn new(noise: f64) -> Self {
        Self(noise)
    }

    /// `p` scaled by the noise. Exactly `p` at noise 1: every error
    /// probability in the generator is below the cap.
    pub(crate) fn p(self, p: f64) -> f64 {
        (p * self.0).min(Self::MAX_P)
    }

    /// Chance of an error that only exists above the usual rate, `per_unit`
    /// per unit of noise above 1; `None` at noise 1 or less, where no random
    /// number may be drawn for it (that would shift every later draw).
    pub(crate) fn extra(self, per_unit: f64) -> Option<f64> {
        (self.0 > 1.0).then(|| (per_unit * (self.0 - 1.0)).min(Self::MAX_P))
    }
}

/// One generated export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoFile {
    pub path: PathBuf,
    /// `products`, `contacts`, `orders` or `events`.
    pub kind: &'static str,
    /// What the file is, for people.
    pub description: &'static str,
    /// Data rows, header excluded, broken rows included.
    pub rows: u64,
}

/// Everything [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOutput {
    /// In the order they should be imported.
    pub files: Vec<DemoFile>,
    /// `file,source_key,person_id` for every keyed source record.
    pub ground_truth: PathBuf,
    /// Distinct people behind the records.
    pub people: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("could not write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not write {} as CSV: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    #[error("a demo needs at least {min} customers, not {requested}")]
    TooFew { requested: u64, min: u64 },
    #[error("a demo can have at most {max} customers, not {requested}")]
    TooMany { requested: u64, max: u64 },
    #[error("demo noise must be between 0 and {max} (1 is the usual error rate), not {requested}")]
    BadNoise { requested: f64, max: f64 },
}

/// What progress ticks are labelled with.
pub const STAGE: &str = "Generating demo data";

/// Writes the demo files into `out_dir` (created if needed), replacing any
/// earlier demo there. On error or cancellation the files written so far are
/// removed.
pub fn generate(
    config: &DemoConfig,
    out_dir: &Path,
    progress: &mut dyn Progress,
) -> Result<DemoOutput, DemoError> {
    if config.customers < MIN_CUSTOMERS {
        return Err(DemoError::TooFew {
            requested: config.customers,
            min: MIN_CUSTOMERS,
        });
    }
    if config.customers > MAX_CUSTOMERS {
        return Err(DemoError::TooMany {
            requested: config.customers,
            max: MAX_CUSTOMERS,
        });
    }
    if !(0.0..=MAX_NOISE).contains(&config.noise) {
        return Err(DemoError::BadNoise {
            requested: config.noise,
            max: MAX_NOISE,
        });
    }
    std::fs::create_dir_all(out_dir).map_err(|source| DemoError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let result = write_all(config, out_dir, progress);
    if result.is_err() {
        for name in ALL_FILES {
            // Best effort: the error being returned matters more.
            let _ = std::fs::remove_file(out_dir.join(name));
        }
    }
    result
}

/// How often progress is reported and cancellation polled.
const TICK_EVERY: u64 = 2_048;

const ALL_FILES: [&str; 8] = [
    layouts::PRODUCTS,
    layouts::SHOPIFY_CUSTOMERS,
    layouts::HUBSPOT_CONTACTS,
    layouts::MAILCHIMP_SUBSCRIBED,
    layouts::MAILCHIMP_UNSUBSCRIBED,
    layouts::SHOPIFY_ORDERS,
    layouts::GA4_EVENTS,
    layouts::GROUND_TRUTH,
];

fn write_all(
    config: &DemoConfig,
    out_dir: &Path,
    progress: &mut dyn Progress,
) -> Result<DemoOutput, DemoError> {
    let started = Instant::now();
    let total = config.customers;
    let tick = |progress: &mut dyn Progress, done: u64| -> Result<(), DemoError> {
        progress.tick(&Tick {
            stage: STAGE,
            done,
            total: Some(total),
            bytes: 0,
            total_bytes: None,
            elapsed: started.elapsed(),
        });
        if progress.is_cancelled() {
            return Err(Cancelled.into());
        }
        Ok(())
    };
    tick(progress, 0)?;

    let as_of = calendar::days_from_civil(
        config.as_of.year(),
        config.as_of.month(),
        config.as_of.day(),
    ) * calendar::DAY;
    // The catalogue has its own stream: the same seed gives the same shop
    // whatever the number of customers.
    let mut catalogue_rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5EED_CA7A_1065_0001);
    let catalogue = catalogue::Catalogue::build(&mut catalogue_rng);
    let (products_path, product_rows) = layouts::write_products(out_dir, &catalogue)?;

    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let noise = Noise::new(config.noise);
    let mut population = people::Population::new(&catalogue, total, as_of, config.seed, noise);
    let mut exports = layouts::Exports::create(out_dir, total, as_of, noise)?;
    let mut done = 0_u64;
    while let Some(person) = population.next(&mut rng) {
        exports.write_person(&person, &catalogue, &mut rng)?;
        done += 1;
        if done % TICK_EVERY == 0 {
            tick(progress, done)?;
        }
    }
    let written = exports.finish()?;
    tick(progress, done)?;

    let mut files = vec![DemoFile {
        path: products_path,
        kind: "products",
        description: "Product catalogue: SKU, title, category, brand, price, stock",
        rows: product_rows,
    }];
    let mut ground_truth = PathBuf::new();
    for (name, path, rows) in written {
        let (kind, description) = match name {
            layouts::SHOPIFY_CUSTOMERS => ("contacts", "Shopify customers export"),
            layouts::HUBSPOT_CONTACTS => ("contacts", "HubSpot contacts export"),
            layouts::MAILCHIMP_SUBSCRIBED => ("contacts", "Mailchimp audience export: subscribed"),
            layouts::MAILCHIMP_UNSUBSCRIBED => {
                ("contacts", "Mailchimp audience export: unsubscribed")
            }
            layouts::SHOPIFY_ORDERS => ("orders", "Shopify orders export, one row per line item"),
            layouts::GA4_EVENTS => (
                "events",
                "Google Analytics 4 events (BigQuery export as CSV)",
            ),
            _ => {
                ground_truth = path;
                continue;
            }
        };
        files.push(DemoFile {
            path,
            kind,
            description,
            rows,
        });
    }
    Ok(DemoOutput {
        files,
        ground_truth,
        people: done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;
    use std::collections::{BTreeMap, HashMap, HashSet};

    fn demo(customers: u64, seed: u64) -> (tempfile::TempDir, DemoOutput) {
        let dir = tempfile::tempdir().unwrap();
        let config = DemoConfig {
            customers,
            seed,
            ..DemoConfig::default()
        };
        let out = generate(&config, dir.path(), &mut Silent).unwrap();
        (dir, out)
    }

    fn noisy_demo(customers: u64, seed: u64, noise: f64) -> (tempfile::TempDir, DemoOutput) {
        let dir = tempfile::tempdir().unwrap();
        let config = DemoConfig {
            customers,
            seed,
            noise,
            ..DemoConfig::default()
        };
        let out = generate(&config, dir.path(), &mut Silent).unwrap();
        (dir, out)
    }

    fn all_paths(o: &DemoOutput) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = o.files.iter().map(|f| f.path.clone()).collect();
        v.push(o.ground_truth.clone());
        v
    }

    /// (people in both Shopify and HubSpot, of whom the first names differ
    /// other than in case).
    fn shopify_hubspot_first_names(out: &DemoOutput) -> (usize, usize) {
        let truth = truth(out);
        let (sh, shopify) = read(file(out, "shopify_customers.csv"));
        let (hh, hubspot) = read(file(out, "hubspot_contacts.csv"));
        let first_names = |header: &[String], rows: &[Vec<String>], key: &str, file: &str| {
            let k = header.iter().position(|h| h == key).unwrap();
            let f = header.iter().position(|h| h == "First Name").unwrap();
            let mut map: HashMap<String, String> = HashMap::new();
            for r in rows.iter().filter(|r| r.len() == header.len()) {
                if let Some(p) = truth[file].get(r[k].trim_start_matches('\'')) {
                    map.insert(p.clone(), r[f].clone());
                }
            }
            map
        };
        let a = first_names(&sh, &shopify, "Customer ID", "shopify_customers.csv");
        let b = first_names(&hh, &hubspot, "Record ID", "hubspot_contacts.csv");
        let both: Vec<_> = a.keys().filter(|p| b.contains_key(*p)).collect();
        let differ = both
            .iter()
            .filter(|p| !a[**p].eq_ignore_ascii_case(&b[**p]))
            .count();
        (both.len(), differ)
    }

    fn read(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
        let mut r = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .unwrap();
        let header = r.headers().unwrap().iter().map(str::to_string).collect();
        let rows = r
            .records()
            .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
            .collect();
        (header, rows)
    }

    fn file<'a>(out: &'a DemoOutput, name: &str) -> &'a Path {
        &out.files
            .iter()
            .find(|f| f.path.file_name().unwrap() == name)
            .unwrap()
            .path
    }

    /// file → key → person id.
    fn truth(out: &DemoOutput) -> HashMap<String, HashMap<String, String>> {
        let mut map: HashMap<String, HashMap<String, String>> = HashMap::new();
        for row in read(&out.ground_truth).1 {
            let previous = map
                .entry(row[0].clone())
                .or_default()
                .insert(row[1].clone(), row[2].clone());
            assert!(previous.is_none(), "duplicate ground-truth key {row:?}");
        }
        map
    }

    fn amount(s: &str) -> Option<i64> {
        let (whole, cents) = s.split_once('.')?;
        if cents.len() != 2 {
            return None;
        }
        Some(whole.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
    }

    fn valid_email(s: &str) -> bool {
        let Some((local, domain)) = s.split_once('@') else {
            return false;
        };
        !local.is_empty() && !domain.contains('@') && domain.contains('.') && !s.contains(' ')
    }

    fn valid_date(s: &str, format: &str) -> bool {
        chrono::NaiveDateTime::parse_from_str(s, format).is_ok()
            || chrono::DateTime::parse_from_str(s, format).is_ok()
    }

    const HEADERS: &[(&str, &str)] = &[
        ("products.csv", "sku,title,category,brand,price,currency,in_stock"),
        (
            "shopify_customers.csv",
            "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,\
             Default Address Address1,Default Address Address2,Default Address City,\
             Default Address Province Code,Default Address Country Code,Default Address Zip,\
             Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags",
        ),
        (
            "hubspot_contacts.csv",
            "Record ID,First Name,Last Name,Email,Phone Number,Job Title,Contact owner,Lifecycle Stage,\
             Create Date,Last Activity Date,Last Contacted,Company Name,Website URL,Lead Status,Original Source",
        ),
        (
            "mailchimp_subscribed.csv",
            "Email Address,First Name,Last Name,Address,Phone Number,Birthday,MEMBER_RATING,OPTIN_TIME,\
             OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,\
             LAST_CHANGED,LEID,EUID,NOTES,TAGS",
        ),
        (
            "mailchimp_unsubscribed.csv",
            "Email Address,First Name,Last Name,Address,Phone Number,Birthday,MEMBER_RATING,OPTIN_TIME,\
             OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,\
             LAST_CHANGED,LEID,EUID,NOTES,TAGS",
        ),
        (
            "shopify_orders.csv",
            "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,\
             Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,\
             Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,\
             Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,Billing Name,\
             Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,Billing Zip,\
             Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,\
             Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,\
             Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,\
             Payment Method,Payment Reference,Refunded Amount,Vendor,Outstanding Balance,Employee,\
             Location,Device ID,Id,Tags,Risk Level,Source,Lineitem discount,Tax 1 Name,Tax 1 Value,\
             Tax 2 Name,Tax 2 Value,Tax 3 Name,Tax 3 Value,Tax 4 Name,Tax 4 Value,Tax 5 Name,Tax 5 Value,\
             Phone,Receipt Number,Duties,Billing Province Name,Shipping Province Name,Payment ID,\
             Payment Terms Name,Next Payment Due At,Payment References",
        ),
        (
            "ga4_events.csv",
            "event_date,event_timestamp,event_name,user_pseudo_id,user_id,ga_session_id,page_location,\
             device.category,platform,geo.country,geo.city,traffic_source.source,traffic_source.medium,\
             item_id,item_name,item_category,price,quantity,currency,value",
        ),
        ("ground_truth.csv", "file,source_key,person_id"),
    ];

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let (_a, first) = demo(1_000, 7);
        let (_b, again) = demo(1_000, 7);
        let (_c, other) = demo(1_000, 8);
        for ((x, y), z) in all_paths(&first)
            .iter()
            .zip(all_paths(&again))
            .zip(all_paths(&other))
        {
            let bytes = std::fs::read(x).unwrap();
            assert!(
                bytes == std::fs::read(&y).unwrap(),
                "{} differs between runs",
                x.display()
            );
            assert!(
                bytes != std::fs::read(&z).unwrap(),
                "{} ignores the seed",
                x.display()
            );
        }
        let rows = |o: &DemoOutput| o.files.iter().map(|f| f.rows).collect::<Vec<_>>();
        assert_eq!(rows(&first), rows(&again));
        assert_eq!(first.people, again.people);
    }

    #[test]
    fn headers_are_exactly_the_vendor_layouts() {
        let (_d, out) = demo(1_000, 1);
        assert_eq!(out.files.len(), 7);
        let names: Vec<_> = out
            .files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(
            names,
            HEADERS[..7].iter().map(|h| h.0).collect::<Vec<_>>(),
            "import order"
        );
        let kinds: Vec<_> = out.files.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            ["products", "contacts", "contacts", "contacts", "contacts", "orders", "events"]
        );
        for (name, header) in HEADERS {
            let path = out.ground_truth.with_file_name(name);
            let text = std::fs::read_to_string(&path).unwrap();
            let first_line = text.lines().next().unwrap();
            let expected: String = header
                .split(',')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(",");
            assert_eq!(first_line, expected, "{name}");
            let data_lines = text.lines().count() as u64 - 1;
            if let Some(f) = out.files.iter().find(|f| f.path == path) {
                assert_eq!(f.rows, data_lines, "{name} row count");
            }
        }
        assert_eq!(out.people, 1_000);
    }

    #[test]
    fn ground_truth_covers_every_keyed_row() {
        let (_d, out) = demo(1_000, 2);
        let truth = truth(&out);
        let people: HashSet<&String> = truth.values().flat_map(|m| m.values()).collect();
        // Everyone has a record; a handful whose only record lost its key are
        // not in the ground truth.
        assert!(
            people.len() as u64 * 100 >= out.people * 99,
            "{} people",
            people.len()
        );
        let checks: &[(&str, &str)] = &[
            ("shopify_customers.csv", "Customer ID"),
            ("hubspot_contacts.csv", "Record ID"),
            ("mailchimp_subscribed.csv", "EUID"),
            ("mailchimp_unsubscribed.csv", "EUID"),
            ("shopify_orders.csv", "Name"),
            ("ga4_events.csv", "user_pseudo_id"),
        ];
        for (name, key_column) in checks {
            let (header, rows) = read(file(&out, name));
            let col = header.iter().position(|h| h == key_column).unwrap();
            let keys = &truth[*name];
            let mut seen = HashSet::new();
            for row in rows.iter().filter(|r| r.len() == header.len()) {
                let key = row[col].trim_start_matches('\'');
                if !key.is_empty() {
                    assert!(
                        keys.contains_key(key),
                        "{name}: {key} missing from ground truth"
                    );
                    seen.insert(key.to_string());
                }
            }
            // And the ground truth names no record that is not in the file.
            let all_keys: HashSet<String> = rows
                .iter()
                .flat_map(|r| r.iter().map(|f| f.trim_start_matches('\'').to_string()))
                .collect();
            for key in keys.keys() {
                assert!(
                    all_keys.contains(key),
                    "{name}: ground truth key {key} not in file"
                );
            }
            assert!(
                seen.len() * 100 >= keys.len() * 97,
                "{name}: {} of {}",
                seen.len(),
                keys.len()
            );
        }
    }

    #[test]
    fn orders_fill_order_columns_on_the_first_row_only_and_add_up() {
        let (_d, out) = demo(1_000, 3);
        let (header, rows) = read(file(&out, "shopify_orders.csv"));
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let line_columns: HashSet<usize> =
            layouts::ORDER_LINE_COLUMNS.iter().map(|c| col(c)).collect();
        let (name, subtotal, shipping, taxes, total) = (
            col("Name"),
            col("Subtotal"),
            col("Shipping"),
            col("Taxes"),
            col("Total"),
        );
        let (discount, qty, price, line_discount) = (
            col("Discount Amount"),
            col("Lineitem quantity"),
            col("Lineitem price"),
            col("Lineitem discount"),
        );
        let mut orders: BTreeMap<u64, Vec<&Vec<String>>> = BTreeMap::new();
        let mut broken = HashSet::new();
        let mut previous = 0;
        for row in rows.iter().filter(|r| !r[name].is_empty()) {
            let n: u64 = row[name].trim_start_matches('#').parse().unwrap();
            assert!(n >= previous, "order numbers increase");
            previous = n;
            if row.len() != header.len() {
                broken.insert(n);
            }
            orders.entry(n).or_default().push(row);
        }
        orders.retain(|n, _| !broken.contains(n));
        assert!(orders.len() > 500);
        let mut checked = 0;
        for lines in orders.values() {
            let first = lines[0];
            for c in [
                "Email",
                "Financial Status",
                "Currency",
                "Total",
                "Created at",
                "Billing Country",
            ] {
                assert!(!first[col(c)].is_empty(), "first row lacks {c}");
            }
            for row in &lines[1..] {
                for (i, v) in row.iter().enumerate() {
                    assert!(
                        line_columns.contains(&i) || v.is_empty(),
                        "{} repeated on a following row",
                        header[i]
                    );
                }
            }
            for row in lines {
                assert!(!row[col("Lineitem sku")].is_empty() && !row[qty].is_empty());
            }
            let Some(t) = amount(&first[total]) else {
                continue;
            };
            let gross: i64 = lines
                .iter()
                .map(|r| r[qty].parse::<i64>().unwrap() * amount(&r[price]).unwrap())
                .sum();
            let d = amount(&first[discount]).unwrap();
            let s = amount(&first[subtotal]).unwrap();
            assert_eq!(s, gross - d, "Subtotal = lines - discount");
            assert_eq!(
                t,
                s + amount(&first[shipping]).unwrap() + amount(&first[taxes]).unwrap()
            );
            let ld: i64 = lines
                .iter()
                .map(|r| amount(&r[line_discount]).unwrap())
                .sum();
            assert_eq!(ld, d, "line discounts add up");
            checked += 1;
        }
        assert!(checked * 100 >= orders.len() * 97);
        // SKUs and prices come from the catalogue.
        let (_, products) = read(file(&out, "products.csv"));
        let catalogue: HashMap<&str, &str> = products
            .iter()
            .filter(|p| p.len() == 7)
            .map(|p| (p[0].as_str(), p[4].as_str()))
            .collect();
        for row in rows.iter().filter(|r| r.len() == header.len()) {
            assert_eq!(
                catalogue.get(row[col("Lineitem sku")].as_str()),
                Some(&row[price].as_str())
            );
        }
    }

    #[test]
    fn customers_totals_match_their_orders() {
        let (_d, out) = demo(1_000, 4);
        let (oh, orders) = read(file(&out, "shopify_orders.csv"));
        let oc = |name: &str| oh.iter().position(|h| h == name).unwrap();
        let mut by_email: HashMap<&str, (u64, i64)> = HashMap::new();
        for row in orders
            .iter()
            .filter(|r| r.len() == oh.len() && !r[oc("Email")].is_empty())
        {
            let e = by_email.entry(row[oc("Email")].as_str()).or_default();
            e.0 += 1;
            e.1 += amount(&row[oc("Total")]).unwrap_or(0)
                - amount(&row[oc("Refunded Amount")]).unwrap_or(0);
        }
        let (ch, customers) = read(file(&out, "shopify_customers.csv"));
        let cc = |name: &str| ch.iter().position(|h| h == name).unwrap();
        let (mut matched, mut buyers) = (0, 0);
        for row in customers.iter().filter(|r| r.len() == ch.len()) {
            let count: u64 = row[cc("Total Orders")].parse().unwrap();
            if count == 0 {
                continue;
            }
            buyers += 1;
            if by_email.get(row[cc("Email")].as_str())
                == Some(&(count, amount(&row[cc("Total Spent")]).unwrap_or(-1)))
            {
                matched += 1;
            }
        }
        assert!(buyers > 500);
        assert!(matched * 100 >= buyers * 95, "{matched} of {buyers}");
    }

    /// Names what is wrong with a row (given the header), if anything.
    type RowCheck<'a> = dyn Fn(&[String], &[String]) -> Option<&'static str> + 'a;

    #[test]
    fn every_file_has_broken_rows() {
        for seed in [1, 2, 3] {
            let (_d, out) = demo(1_000, seed);
            let count = |name: &str, check: &RowCheck<'_>| {
                let (header, rows) = read(file(&out, name));
                let mut counts: HashMap<&'static str, usize> = HashMap::new();
                for row in &rows {
                    let kind = if row.len() != header.len() {
                        Some("fields")
                    } else {
                        check(&header, row)
                    };
                    if let Some(k) = kind {
                        *counts.entry(k).or_default() += 1;
                    }
                }
                let bad: usize = counts.values().sum();
                assert!(
                    bad * 100 <= rows.len() * 20 || rows.len() < 200,
                    "{name}: too many bad rows"
                );
                counts
            };
            let get = |h: &[String], r: &[String], c: &str| {
                r[h.iter().position(|x| x == c).unwrap()].clone()
            };
            let products = count("products.csv", &|h, r| {
                if get(h, r, "sku").is_empty() {
                    Some("key")
                } else if amount(&get(h, r, "price")).is_none() {
                    Some("amount")
                } else {
                    None
                }
            });
            let customers = count("shopify_customers.csv", &|h, r| {
                if get(h, r, "Customer ID").is_empty() {
                    Some("key")
                } else if !valid_email(&get(h, r, "Email")) {
                    Some("email")
                } else if amount(&get(h, r, "Total Spent")).is_none() {
                    Some("amount")
                } else {
                    None
                }
            });
            let hubspot = count("hubspot_contacts.csv", &|h, r| {
                let email = get(h, r, "Email");
                if get(h, r, "Record ID").is_empty() {
                    Some("key")
                } else if !email.is_empty() && !valid_email(&email) {
                    Some("email")
                } else if !valid_date(&get(h, r, "Create Date"), "%Y-%m-%d %H:%M") {
                    Some("date")
                } else {
                    None
                }
            });
            let mailchimp = |name: &str| {
                count(name, &|h, r| {
                    if get(h, r, "EUID").is_empty() {
                        Some("key")
                    } else if !valid_email(&get(h, r, "Email Address")) {
                        Some("email")
                    } else if !valid_date(&get(h, r, "OPTIN_TIME"), "%Y-%m-%d %H:%M:%S") {
                        Some("date")
                    } else {
                        None
                    }
                })
            };
            let subscribed = mailchimp("mailchimp_subscribed.csv");
            let unsubscribed = mailchimp("mailchimp_unsubscribed.csv");
            let orders = count("shopify_orders.csv", &|h, r| {
                let email = get(h, r, "Email");
                if get(h, r, "Name").is_empty() {
                    Some("key")
                } else if email.is_empty() {
                    None // a following row
                } else if !valid_email(&email) {
                    Some("email")
                } else if !valid_date(&get(h, r, "Created at"), "%Y-%m-%d %H:%M:%S %z") {
                    Some("date")
                } else if amount(&get(h, r, "Total")).is_none() {
                    Some("amount")
                } else {
                    None
                }
            });
            let events = count("ga4_events.csv", &|h, r| {
                let value = get(h, r, "value");
                if get(h, r, "user_pseudo_id").is_empty() {
                    Some("key")
                } else if chrono::NaiveDate::parse_from_str(&get(h, r, "event_date"), "%Y%m%d")
                    .is_err()
                {
                    Some("date")
                } else if !value.is_empty() && amount(&value).is_none() {
                    Some("amount")
                } else {
                    None
                }
            });
            let expect = |counts: &HashMap<&str, usize>, kinds: &[&str], name: &str| {
                for k in kinds {
                    assert!(
                        counts.get(k).copied().unwrap_or(0) >= 3,
                        "seed {seed}, {name}: {k}: {counts:?}"
                    );
                }
            };
            expect(&products, &["key", "amount", "fields"], "products");
            expect(
                &customers,
                &["key", "email", "amount", "fields"],
                "customers",
            );
            expect(&hubspot, &["key", "email", "date", "fields"], "hubspot");
            expect(
                &subscribed,
                &["key", "email", "date", "fields"],
                "subscribed",
            );
            expect(
                &unsubscribed,
                &["key", "email", "date", "fields"],
                "unsubscribed",
            );
            // Missing keys blank every row of an order; count orders, not rows.
            expect(&orders, &["email", "date", "amount", "fields"], "orders");
            assert!(orders.get("key").copied().unwrap_or(0) >= 3);
            expect(&events, &["key", "date", "amount", "fields"], "events");
        }
    }

    #[test]
    fn bad_rows_settle_at_half_a_percent() {
        let (_d, out) = demo(10_000, 5);
        let (header, rows) = read(file(&out, "ga4_events.csv"));
        let bad = rows
            .iter()
            .filter(|r| r.len() != header.len() || r[3].is_empty())
            .count() as f64;
        // Two of the four kinds are counted here: about 0.25%.
        let share = bad / rows.len() as f64;
        assert!((0.001..0.006).contains(&share), "{share}");
    }

    #[test]
    fn cancelling_stops_and_cleans_up() {
        struct CancelAfter(u32);
        impl Progress for CancelAfter {
            fn tick(&mut self, _: &Tick<'_>) {
                self.0 = self.0.saturating_sub(1);
            }
            fn is_cancelled(&self) -> bool {
                self.0 == 0
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let config = DemoConfig {
            customers: 10_000,
            ..DemoConfig::default()
        };
        for after in [1, 2] {
            let err = generate(&config, dir.path(), &mut CancelAfter(after)).unwrap_err();
            assert!(matches!(err, DemoError::Cancelled(_)), "{err}");
            assert_eq!(
                std::fs::read_dir(dir.path()).unwrap().count(),
                0,
                "partial files removed"
            );
        }
    }

    #[test]
    fn sizes_outside_the_range_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let small = DemoConfig {
            customers: 999,
            ..DemoConfig::default()
        };
        assert!(matches!(
            generate(&small, dir.path(), &mut Silent),
            Err(DemoError::TooFew { .. })
        ));
        let big = DemoConfig {
            customers: MAX_CUSTOMERS + 1,
            ..DemoConfig::default()
        };
        assert!(matches!(
            generate(&big, dir.path(), &mut Silent),
            Err(DemoError::TooMany { .. })
        ));
    }

    #[test]
    fn usual_noise_gives_the_default_bytes() {
        assert_eq!(DemoConfig::default().noise, 1.0);
        let (_a, default) = demo(1_000, 21);
        let (_b, usual) = noisy_demo(1_000, 21, 1.0);
        for (x, y) in all_paths(&default).iter().zip(all_paths(&usual)) {
            assert!(
                std::fs::read(x).unwrap() == std::fs::read(&y).unwrap(),
                "{} differs at noise 1",
                x.display()
            );
        }
        // Every error probability is below the cap, so noise 1 keeps it
        // exactly and draws no extra random numbers.
        let one = Noise::new(1.0);
        for p in [0.0, 0.01, 0.03, 0.05, 0.1, 0.25, 0.4] {
            assert_eq!(one.p(p), p);
        }
        assert_eq!(one.extra(0.01), None);
        assert_eq!(Noise::new(5.0).p(0.4), 0.95);
        assert_eq!(Noise::new(3.0).extra(0.01), Some(0.02));
    }

    #[test]
    fn more_noise_more_name_variation() {
        let (_a, usual) = noisy_demo(3_000, 22, 1.0);
        let (_b, noisy) = noisy_demo(3_000, 22, 3.0);
        let (_c, clean) = noisy_demo(3_000, 22, 0.0);
        let (both, usual_differ) = shopify_hubspot_first_names(&usual);
        let usual_share = usual_differ as f64 / both as f64;
        let (both, noisy_differ) = shopify_hubspot_first_names(&noisy);
        let noisy_share = noisy_differ as f64 / both as f64;
        assert!(both > 500);
        assert!(
            noisy_share > 1.5 * usual_share,
            "first names differ for {noisy_share} of people at noise 3, {usual_share} at noise 1"
        );
        let (both, clean_differ) = shopify_hubspot_first_names(&clean);
        assert!(both > 500);
        assert_eq!(clean_differ, 0, "no drift at noise 0");
    }

    #[test]
    fn noise_outside_the_range_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for noise in [-0.1, 5.01, f64::NAN, f64::INFINITY] {
            let config = DemoConfig {
                noise,
                ..DemoConfig::default()
            };
            let err = generate(&config, dir.path(), &mut Silent).unwrap_err();
            assert!(matches!(err, DemoError::BadNoise { .. }), "{noise}: {err}");
            assert!(err.to_string().contains("noise"), "{err}");
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing written"
        );
        for noise in [0.0, MAX_NOISE] {
            let config = DemoConfig {
                noise,
                ..DemoConfig::default()
            };
            assert!(
                generate(&config, dir.path(), &mut Silent).is_ok(),
                "{noise}"
            );
        }
    }

    #[test]
    fn purchase_process_and_browsing_look_like_a_real_shop() {
        let (_d, out) = demo(5_000, 11);
        let truth = truth(&out);
        let mut orders_per_person: HashMap<&str, u32> = HashMap::new();
        for person in truth["shopify_orders.csv"].values() {
            *orders_per_person.entry(person).or_default() += 1;
        }
        let buyers = orders_per_person.len() as f64;
        let mean = orders_per_person.values().sum::<u32>() as f64 / buyers;
        let share = buyers / out.people as f64;
        let max = orders_per_person.values().copied().max().unwrap();
        let one_timers = orders_per_person.values().filter(|&&n| n == 1).count() as f64 / buyers;
        assert!((2.0..4.0).contains(&mean), "mean orders per buyer {mean}");
        assert!((0.58..0.74).contains(&share), "share of buyers {share}");
        assert!(
            (0.35..0.6).contains(&one_timers),
            "one-time buyers {one_timers}"
        );
        assert!(max >= 15, "long tail: max {max}");

        // GA4: 15–30 events per person with a device (an event with several
        // items has several rows); ~70% of people browse.
        let devices = &truth["ga4_events.csv"];
        let browsers: HashSet<&String> = devices.values().collect();
        let (header, events) = read(file(&out, "ga4_events.csv"));
        let distinct: HashSet<(&str, &str, &str)> = events
            .iter()
            .filter(|r| r.len() == header.len())
            .map(|r| (r[1].as_str(), r[2].as_str(), r[3].as_str()))
            .collect();
        let per_browser = distinct.len() as f64 / browsers.len() as f64;
        assert!(
            (15.0..30.0).contains(&per_browser),
            "{per_browser} events per browser"
        );
        let browse_share = browsers.len() as f64 / out.people as f64;
        assert!((0.6..0.8).contains(&browse_share), "{browse_share}");

        // A logged-in user_id is the Shopify customer id of the device's owner.
        let customers = &truth["shopify_customers.csv"];
        let (mut anonymous_then_known, mut with_user) = (HashSet::new(), 0);
        let mut anonymous_devices = HashSet::new();
        for row in events
            .iter()
            .filter(|r| r.len() == header.len() && !r[3].is_empty())
        {
            if row[4].is_empty() {
                anonymous_devices.insert(row[3].clone());
                continue;
            }
            with_user += 1;
            if let Some(owner) = customers.get(&row[4]) {
                assert_eq!(
                    owner, &devices[&row[3]],
                    "user_id belongs to the device's owner"
                );
            }
            if anonymous_devices.contains(&row[3]) {
                anonymous_then_known.insert(row[3].clone());
            }
        }
        assert!(with_user > events.len() / 5);
        assert!(
            anonymous_then_known.len() > 100,
            "devices to stitch: {}",
            anonymous_then_known.len()
        );
        // Purchases happen at the time of one of the person's orders.
        let (oh, orders) = read(file(&out, "shopify_orders.csv"));
        let mut order_times: HashMap<&String, HashSet<i64>> = HashMap::new();
        let mut baskets: HashMap<&str, Vec<&str>> = HashMap::new();
        for row in orders
            .iter()
            .filter(|r| r.len() == oh.len() && !r[0].is_empty())
        {
            baskets
                .entry(row[0].as_str())
                .or_default()
                .push(row[20].as_str());
            let Ok(at) = chrono::DateTime::parse_from_str(&row[15], "%Y-%m-%d %H:%M:%S %z") else {
                continue;
            };
            if let Some(person) = truth["shopify_orders.csv"].get(&row[0]) {
                order_times
                    .entry(person)
                    .or_default()
                    .insert(at.timestamp());
            }
        }
        let (mut purchases, mut unmatched) = (0, 0);
        for row in events
            .iter()
            .filter(|r| r.len() == header.len() && r[2] == "purchase" && !r[3].is_empty())
        {
            let at = row[1].parse::<i64>().unwrap() / 1_000_000;
            let person = &devices[&row[3]];
            purchases += 1;
            if !order_times.get(person).is_some_and(|t| t.contains(&at)) {
                unmatched += 1; // the order's row is one of the broken ones
            }
        }
        assert!(purchases > 5_000);
        assert!(
            unmatched * 100 < purchases,
            "{unmatched} of {purchases} purchases match no order"
        );

        // Co-purchase signal: socks come with running shoes far more often
        // than in the average basket.
        let with = |b: &Vec<&str>, prefix: &str| b.iter().any(|sku| sku.starts_with(prefix));
        let shoes: Vec<_> = baskets.values().filter(|b| with(b, "RUN-")).collect();
        let socks_with_shoes =
            shoes.iter().filter(|b| with(b, "SOC-")).count() as f64 / shoes.len() as f64;
        let socks =
            baskets.values().filter(|b| with(b, "SOC-")).count() as f64 / baskets.len() as f64;
        assert!(
            socks_with_shoes > 2.0 * socks,
            "lift {socks_with_shoes} vs {socks}"
        );
    }

    #[test]
    fn look_alikes_stay_different_people() {
        let (_d, out) = demo(5_000, 12);
        let truth = truth(&out);
        let (header, rows) = read(file(&out, "shopify_customers.csv"));
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let mut by_phone: HashMap<&str, HashSet<&String>> = HashMap::new();
        let mut by_name_city: HashMap<(String, String, &str), HashSet<&String>> = HashMap::new();
        for row in rows
            .iter()
            .filter(|r| r.len() == header.len() && !r[0].is_empty())
        {
            let person = &truth["shopify_customers.csv"][row[0].trim_start_matches('\'')];
            let phone = row[col("Phone")].trim_start_matches('\'');
            if !phone.is_empty() {
                by_phone.entry(phone).or_default().insert(person);
            }
            let city = row[col("Default Address City")].as_str();
            if !city.is_empty() {
                let key = (
                    row[col("First Name")].to_lowercase(),
                    row[col("Last Name")].to_lowercase(),
                    city,
                );
                by_name_city.entry(key).or_default().insert(person);
            }
        }
        let shared_phones = by_phone.values().filter(|p| p.len() > 1).count();
        let namesakes = by_name_city.values().filter(|p| p.len() > 1).count();
        assert!(
            shared_phones >= 5,
            "couples sharing a phone: {shared_phones}"
        );
        assert!(namesakes >= 5, "namesakes in one city: {namesakes}");
    }

    #[test]
    fn same_person_varies_across_sources() {
        let (_d, out) = demo(5_000, 13);
        let (both, differ) = shopify_hubspot_first_names(&out);
        let share = differ as f64 / both as f64;
        assert!(both > 1_000);
        assert!(
            (0.1..0.5).contains(&share),
            "first names differ for {share} of people in both"
        );
    }

    #[test]
    fn phones_in_shopify_are_valid_e164() {
        let (_d, out) = demo(2_000, 14);
        let (header, rows) = read(file(&out, "shopify_customers.csv"));
        let col = header.iter().position(|h| h == "Phone").unwrap();
        let mut n = 0;
        for row in rows.iter().filter(|r| r.len() == header.len()) {
            let phone = row[col].trim_start_matches('\'');
            if phone.is_empty() {
                continue;
            }
            let parsed = phonenumber::parse(None, phone).unwrap_or_else(|e| panic!("{phone}: {e}"));
            assert!(
                phonenumber::is_valid(&parsed),
                "{phone} is not a valid number"
            );
            n += 1;
        }
        assert!(n > 500);
    }
}
