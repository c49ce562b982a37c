//! Reading orders, order lines and events once each and folding them into
//! per-profile accumulators.
//!
//! A full run reads each table in storage order (one sequential pass, no
//! lookups per row): orders through their identity record to find the
//! profile, order lines through a hash of their order's key, events through
//! hashes of their device and customer ids. A scoped run (the profiles an
//! import touched) reads only those profiles' rows through the indexes.

// Keys here are our own (hashes, SKUs, ids), not attacker-chosen, and the
// maps are hit once per row of tens of millions: Fx hashing is several
// times cheaper than SipHash.
use rustc_hash::FxHashMap as HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::Connection;
use xxhash_rust::xxh3::xxh3_64;

use crate::progress::{Cancelled, Progress, Tick};

use super::TraitsError;

/// Rows between progress ticks and cancellation checks.
const TICK_EVERY: u64 = 1 << 16;

/// One order of a profile, reduced to what traits need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderFacts {
    pub profile: u32,
    /// Seconds since the Unix epoch.
    pub at: i64,
    /// Total in minor units, `None` when in another currency than the
    /// workspace's (counted, but left out of money figures).
    pub total: Option<i64>,
    pub refunded: i64,
    pub discounted: bool,
    pub cancelled: bool,
}

/// Interned strings (categories, brands, devices, channels): traits keep
/// small integer ids in the hot loops and names only at the end.
#[derive(Debug, Default)]
pub(crate) struct Names {
    ids: HashMap<String, u16>,
    pub names: Vec<String>,
}

impl Names {
    pub fn id(&mut self, name: &str) -> u16 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len().min(u16::MAX as usize) as u16;
        if self.names.len() < u16::MAX as usize {
            self.names.push(name.to_owned());
            self.ids.insert(name.to_owned(), id);
        }
        id
    }
}

/// What events say about one profile.
#[derive(Debug, Clone, Default)]
pub(crate) struct Engagement {
    pub events: u32,
    pub sessions: u32,
    last_session: u64,
    pub product_views: u32,
    pub add_to_carts: u32,
    pub last_seen: Option<i64>,
    /// Product views in the last 7, 30 and 90 days.
    pub views: [u32; 3],
    /// (category, views in the last 7/30/90 days).
    pub category_views: Vec<(u16, [u32; 3])>,
    pub devices: Vec<(u16, u32)>,
    pub channels: Vec<(u16, u32)>,
    pub hours: [u32; 24],
    pub weekdays: [u32; 7],
}

/// Spend per category and brand from order lines.
#[derive(Debug, Clone, Default)]
pub(crate) struct Baskets {
    pub categories: Vec<(u16, i64)>,
    pub brands: Vec<(u16, i64)>,
}

fn bump<T: Copy + PartialEq, V: std::ops::AddAssign + Copy>(v: &mut Vec<(T, V)>, key: T, by: V) {
    match v.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += by,
        None => v.push((key, by)),
    }
}

/// SKU → (category, brand).
pub(crate) type Catalogue = HashMap<String, (Option<u16>, Option<u16>)>;

/// Everything the scans gathered, indexed like `profiles`.
pub(crate) struct Gathered {
    pub orders: Vec<OrderFacts>,
    pub baskets: Vec<Baskets>,
    pub engagement: Vec<Engagement>,
    pub categories: Names,
    pub brands: Names,
    pub devices: Names,
    pub channels: Names,
    /// Orders left out of money figures because of their currency.
    pub other_currency_orders: u64,
}

/// The profiles in scope and their dense indexes.
pub(crate) struct ProfileIndex {
    pub ids: Vec<i64>,
    index: HashMap<i64, u32>,
}

impl ProfileIndex {
    pub fn new(mut ids: Vec<i64>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        ProfileIndex { ids, index }
    }
    pub fn get(&self, id: i64) -> Option<u32> {
        self.index.get(&id).copied()
    }
}

/// Seconds since the Unix epoch of an ISO 8601 UTC time as Cohort stores it
/// (`YYYY-MM-DDTHH:MM:SS[.ffffff]Z`, or a bare date). Written by hand
/// because it runs once per event (tens of millions) and a general parser
/// costs several times more; anything else gives `None`.
pub(crate) fn epoch_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let mut n = 0i64;
        for &c in b.get(from..from + len)? {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(c - b'0');
        }
        Some(n)
    };
    let (y, m, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let (hh, mm, ss) = if b.len() >= 19 && b[10] == b'T' {
        (num(11, 2)?, num(14, 2)?, num(17, 2)?)
    } else {
        (0, 0, 0)
    };
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An order's key as order lines refer to it.
fn order_key(source: i64, key: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(key.as_bytes(), source as u64)
}

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> TraitsError {
    move |source| TraitsError::Sql { context, source }
}

/// What kind of event a name is, across the vendors' vocabularies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EventKind {
    ProductView,
    AddToCart,
    Other,
}

fn event_kind(name: &str) -> EventKind {
    // The exact GA4 names first: this runs once per event.
    match name {
        "view_item" => return EventKind::ProductView,
        "add_to_cart" => return EventKind::AddToCart,
        "page_view" | "session_start" | "purchase" | "begin_checkout" | "scroll" => {
            return EventKind::Other
        }
        _ => {}
    }
    match name.to_ascii_lowercase().replace([' ', '-'], "_").as_str() {
        "view_item" | "product_view" | "product_viewed" | "viewed_product" | "view_product" => {
            EventKind::ProductView
        }
        "add_to_cart" | "added_to_cart" | "product_added" | "add_to_basket" => EventKind::AddToCart,
        _ => EventKind::Other,
    }
}

pub(crate) struct Scanner<'a> {
    pub conn: &'a Connection,
    pub profiles: &'a ProfileIndex,
    /// `None`: every profile (sequential scans); `Some`: the temp table
    /// `traits_scope` holds the profile ids.
    pub scoped: bool,
    /// The workspace file: a full run reads events on a second connection.
    pub path: Option<std::path::PathBuf>,
    pub currency: String,
    pub now: i64,
}

impl Scanner<'_> {
    pub fn gather(&self, progress: &mut dyn Progress) -> Result<Gathered, TraitsError> {
        let started = std::time::Instant::now();
        let n = self.profiles.ids.len();
        let mut g = Gathered {
            orders: Vec::new(),
            baskets: vec![Baskets::default(); n],
            engagement: vec![Engagement::default(); n],
            categories: Names::default(),
            brands: Names::default(),
            devices: Names::default(),
            channels: Names::default(),
            other_currency_orders: 0,
        };
        let mut tick = |stage: &str, done: u64| -> Result<(), TraitsError> {
            progress.tick(&Tick {
                stage,
                done,
                total: None,
                bytes: 0,
                total_bytes: None,
                elapsed: started.elapsed(),
            });
            if progress.is_cancelled() {
                return Err(Cancelled.into());
            }
            Ok(())
        };

        // Products: SKU → category and brand.
        let mut catalogue: Catalogue = HashMap::default();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT sku, category, brand FROM products")
                .map_err(sql("read the catalogue"))?;
            let mut rows = stmt.query([]).map_err(sql("read the catalogue"))?;
            while let Some(r) = rows.next().map_err(sql("read the catalogue"))? {
                let sku: String = r.get(0).map_err(sql("read the catalogue"))?;
                let cat: Option<String> = r.get(1).map_err(sql("read the catalogue"))?;
                let brand: Option<String> = r.get(2).map_err(sql("read the catalogue"))?;
                let cat = cat.filter(|c| !c.is_empty()).map(|c| g.categories.id(&c));
                let brand = brand.filter(|b| !b.is_empty()).map(|b| g.brands.id(&b));
                catalogue.insert(sku, (cat, brand));
            }
        }

        let cancel = AtomicBool::new(false);
        let facts = std::thread::scope(|scope| -> Result<EventFacts, TraitsError> {
            let (profiles, now, catalogue, cancel) = (self.profiles, self.now, &catalogue, &cancel);
            let reader = match (&self.path, self.scoped) {
                (Some(path), false) => Some(scope.spawn(move || {
                    let conn = crate::store::crypt::open_reader(path)
                        .map_err(sql("open the workspace to read events"))?;
                    conn.pragma_update(None, "cache_size", -262_144)
                        .map_err(sql("open the workspace to read events"))?;
                    events(&conn, false, profiles, catalogue, now, cancel)
                })),
                _ => None,
            };
            let scanned = self.orders_and_lines(&mut g, catalogue, &mut tick);
            let facts = match reader {
                Some(handle) => {
                    if scanned.is_err() {
                        cancel.store(true, Ordering::Relaxed);
                    }
                    while !handle.is_finished() {
                        if tick("Reading events", 0).is_err() {
                            cancel.store(true, Ordering::Relaxed);
                        }
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    handle.join().expect("the events reader does not panic")
                }
                // The orders' error is the one returned (below).
                None if scanned.is_err() => Err(Cancelled.into()),
                None => events(
                    self.conn,
                    self.scoped,
                    self.profiles,
                    catalogue,
                    self.now,
                    cancel,
                ),
            };
            scanned?;
            facts
        })?;
        g.engagement = facts.engagement;
        g.devices = facts.devices;
        g.channels = facts.channels;

        Ok(g)
    }
}

impl Scanner<'_> {
    /// Orders (through their identity record) and their lines (through a
    /// hash of their order's key) into `g`.
    fn orders_and_lines(
        &self,
        g: &mut Gathered,
        catalogue: &Catalogue,
        tick: &mut dyn FnMut(&str, u64) -> Result<(), TraitsError>,
    ) -> Result<(), TraitsError> {
        // Orders, through their identity record.
        let mut order_profiles: HashMap<u64, u32> = HashMap::default();
        {
            const WHAT: &str = "read the orders of profiles";
            let filter = if self.scoped {
                "AND r.profile_id IN (SELECT id FROM temp.traits_scope)"
            } else {
                ""
            };
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT r.profile_id, o.source_id, o.source_key, o.ordered_at, o.currency,
                        o.total, o.refunded, o.discount, o.discount_code, o.cancelled_at,
                        o.financial_status
                   FROM identity_records r JOIN orders o ON o.id = r.row_id
                  WHERE r.kind = 'order' AND r.profile_id IS NOT NULL {filter}"
                ))
                .map_err(sql(WHAT))?;
            let mut rows = stmt.query([]).map_err(sql(WHAT))?;
            let mut done = 0u64;
            while let Some(r) = rows.next().map_err(sql(WHAT))? {
                done += 1;
                if done % TICK_EVERY == 0 {
                    tick("Reading orders", done)?;
                }
                let Some(profile) = self.profiles.get(r.get(0).map_err(sql(WHAT))?) else {
                    continue;
                };
                let source: i64 = r.get(1).map_err(sql(WHAT))?;
                let key = order_key(
                    source,
                    r.get_ref(2).map_err(sql(WHAT))?.as_str().unwrap_or(""),
                );
                let at = r
                    .get_ref(3)
                    .map_err(sql(WHAT))?
                    .as_str_or_null()
                    .ok()
                    .flatten();
                let Some(at) = at.and_then(epoch_seconds) else {
                    continue; // an order without a time says nothing about when people buy
                };
                let currency: Option<String> = r.get(4).map_err(sql(WHAT))?;
                let total: Option<i64> = r.get(5).map_err(sql(WHAT))?;
                let same_currency = currency.as_deref().is_none_or(|c| c == self.currency);
                if !same_currency {
                    g.other_currency_orders += 1;
                }
                let refunded: Option<i64> = r.get(6).map_err(sql(WHAT))?;
                let discount: Option<i64> = r.get(7).map_err(sql(WHAT))?;
                let code: Option<String> = r.get(8).map_err(sql(WHAT))?;
                let cancelled_at: Option<String> = r.get(9).map_err(sql(WHAT))?;
                let status: Option<String> = r.get(10).map_err(sql(WHAT))?;
                let status = status.unwrap_or_default().to_ascii_lowercase();
                let cancelled = cancelled_at.is_some_and(|c| !c.is_empty())
                    || status == "voided"
                    || status == "cancelled";
                // The lines of a cancelled order were never bought.
                if !cancelled {
                    order_profiles.insert(key, profile);
                }
                g.orders.push(OrderFacts {
                    profile,
                    at,
                    total: if same_currency {
                        Some(total.unwrap_or(0))
                    } else {
                        None
                    },
                    refunded: if same_currency {
                        refunded.unwrap_or(0).max(0)
                    } else {
                        0
                    },
                    discounted: discount.unwrap_or(0) > 0
                        || code.is_some_and(|c| !c.trim().is_empty()),
                    cancelled,
                });
            }
        }

        // Order lines: spend per category and brand.
        {
            const WHAT: &str = "read the order lines of profiles";
            let query = if self.scoped {
                // The lines of the scoped orders: source_key is
                // "{order_key}/{line}", so a range on the unique index finds
                // an order's lines ('0' is the character after '/').
                "SELECT l.source_id, l.order_key, l.sku, l.quantity, l.unit_price, l.vendor
               FROM temp.traits_scope s
               JOIN identity_records r ON r.profile_id = s.id AND r.kind = 'order'
               JOIN order_lines l ON l.source_id = r.source_id
                AND l.source_key >= r.source_key || '/' AND l.source_key < r.source_key || '0'"
            } else {
                "SELECT source_id, order_key, sku, quantity, unit_price, vendor FROM order_lines"
            };
            let mut stmt = self.conn.prepare(query).map_err(sql(WHAT))?;
            let mut rows = stmt.query([]).map_err(sql(WHAT))?;
            let mut done = 0u64;
            while let Some(r) = rows.next().map_err(sql(WHAT))? {
                done += 1;
                if done % TICK_EVERY == 0 {
                    tick("Reading order lines", done)?;
                }
                let source: i64 = r.get(0).map_err(sql(WHAT))?;
                let key = r.get_ref(1).map_err(sql(WHAT))?.as_str().unwrap_or("");
                let Some(&profile) = order_profiles.get(&order_key(source, key)) else {
                    continue;
                };
                let sku = r
                    .get_ref(2)
                    .map_err(sql(WHAT))?
                    .as_str_or_null()
                    .ok()
                    .flatten();
                let quantity: Option<i64> = r.get(3).map_err(sql(WHAT))?;
                let price: Option<i64> = r.get(4).map_err(sql(WHAT))?;
                let vendor = r
                    .get_ref(5)
                    .map_err(sql(WHAT))?
                    .as_str_or_null()
                    .ok()
                    .flatten();
                let spend = quantity.unwrap_or(1).max(0) * price.unwrap_or(0).max(0);
                let (cat, brand) = sku
                    .and_then(|s| catalogue.get(s))
                    .copied()
                    .unwrap_or((None, None));
                let brand = match vendor.filter(|v| !v.is_empty()) {
                    Some(v) => Some(g.brands.id(v)),
                    None => brand,
                };
                let b = &mut g.baskets[profile as usize];
                if let Some(c) = cat {
                    bump(&mut b.categories, c, spend);
                }
                if let Some(br) = brand {
                    bump(&mut b.brands, br, spend);
                }
            }
        }
        drop(order_profiles);
        Ok(())
    }
}

/// What events say, per profile, with the devices and channels they name.
pub(crate) struct EventFacts {
    pub engagement: Vec<Engagement>,
    pub devices: Names,
    pub channels: Names,
}

/// Reads the events of the profiles (all, or those in `temp.traits_scope`)
/// and folds them per profile. Stops with `Cancelled` when `cancel` is set.
fn events(
    conn: &Connection,
    scoped: bool,
    profiles: &ProfileIndex,
    catalogue: &Catalogue,
    now: i64,
    cancel: &AtomicBool,
) -> Result<EventFacts, TraitsError> {
    let mut engagement = vec![Engagement::default(); profiles.ids.len()];
    let mut devices_names = Names::default();
    let mut channels_names = Names::default();
    const WHAT: &str = "read the events of profiles";
    let hash = |source: i64, key: &str| order_key(source, key);
    let mut devices: HashMap<u64, u32> = HashMap::default();
    // A customer id shared by contacts of different profiles (two
    // sources numbering customers alike) says nothing: left out.
    let mut customers: HashMap<u64, Option<u32>> = HashMap::default();
    let query = if scoped {
        "SELECT r.kind, r.source_id, r.source_key, r.profile_id
               FROM temp.traits_scope s JOIN identity_records r ON r.profile_id = s.id
              WHERE r.kind = 'device' OR r.kind = 'contact'"
    } else {
        "SELECT kind, source_id, source_key, profile_id FROM identity_records
              WHERE (kind = 'device' OR kind = 'contact') AND profile_id IS NOT NULL"
    };
    let mut stmt = conn.prepare(query).map_err(sql(WHAT))?;
    let mut rows = stmt.query([]).map_err(sql(WHAT))?;
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        let Some(profile) = profiles.get(r.get(3).map_err(sql(WHAT))?) else {
            continue;
        };
        let kind = r.get_ref(0).map_err(sql(WHAT))?.as_str().unwrap_or("");
        let source: i64 = r.get(1).map_err(sql(WHAT))?;
        let key = r.get_ref(2).map_err(sql(WHAT))?.as_str().unwrap_or("");
        if kind == "device" {
            devices.insert(hash(source, key), profile);
        } else {
            customers
                .entry(hash(0, key))
                .and_modify(|p| {
                    if *p != Some(profile) {
                        *p = None
                    }
                })
                .or_insert(Some(profile));
        }
    }
    drop(rows);
    drop(stmt);

    let select = "e.source_id, e.anonymous_id, e.customer_key, e.name, e.occurred_at,
                      e.session_id, e.sku, e.device, e.channel";
    let query = if scoped {
        format!(
            "SELECT {select} FROM events e WHERE e.id IN (
                   SELECT e.id FROM temp.traits_scope s
                     JOIN identity_records r ON r.profile_id = s.id AND r.kind = 'device'
                     JOIN events e ON e.anonymous_id = r.source_key AND e.source_id = r.source_id
                   UNION
                   SELECT e.id FROM temp.traits_scope s
                     JOIN identity_records r ON r.profile_id = s.id AND r.kind = 'contact'
                     JOIN events e ON e.customer_key = r.source_key)"
        )
    } else {
        format!("SELECT {select} FROM events e")
    };
    let mut stmt = conn.prepare(&query).map_err(sql(WHAT))?;
    let mut rows = stmt.query([]).map_err(sql(WHAT))?;
    let mut done = 0u64;
    let windows = [7 * 86_400, 30 * 86_400, 90 * 86_400];
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        done += 1;
        if done % TICK_EVERY == 0 && cancel.load(Ordering::Relaxed) {
            return Err(Cancelled.into());
        }
        let source: i64 = r.get(0).map_err(sql(WHAT))?;
        let anon = r
            .get_ref(1)
            .map_err(sql(WHAT))?
            .as_str_or_null()
            .ok()
            .flatten();
        let customer = r
            .get_ref(2)
            .map_err(sql(WHAT))?
            .as_str_or_null()
            .ok()
            .flatten();
        let by_customer = customer
            .filter(|c| !c.is_empty())
            .and_then(|c| customers.get(&hash(0, c)).copied().flatten());
        let profile = match by_customer {
            Some(p) => p,
            None => match anon.and_then(|a| devices.get(&hash(source, a))) {
                Some(&p) => p,
                None => continue,
            },
        };
        let name = r.get_ref(3).map_err(sql(WHAT))?.as_str().unwrap_or("");
        let Some(at) = r
            .get_ref(4)
            .map_err(sql(WHAT))?
            .as_str()
            .ok()
            .and_then(epoch_seconds)
        else {
            continue;
        };
        let session = r
            .get_ref(5)
            .map_err(sql(WHAT))?
            .as_str_or_null()
            .ok()
            .flatten();
        let sku = r
            .get_ref(6)
            .map_err(sql(WHAT))?
            .as_str_or_null()
            .ok()
            .flatten();
        let device = r
            .get_ref(7)
            .map_err(sql(WHAT))?
            .as_str_or_null()
            .ok()
            .flatten();
        let channel = r
            .get_ref(8)
            .map_err(sql(WHAT))?
            .as_str_or_null()
            .ok()
            .flatten();
        let device = device
            .filter(|d| !d.is_empty())
            .map(|d| devices_names.id(d));
        let channel = channel
            .filter(|c| !c.is_empty())
            .map(|c| channels_names.id(c));
        let e = &mut engagement[profile as usize];
        e.events += 1;
        // Events of one session arrive together (exports are in time
        // order), so a change of session id is a new session.
        if let Some(s) = session.filter(|s| !s.is_empty()) {
            let h = xxh3_64(s.as_bytes()) | 1;
            if h != e.last_session {
                e.last_session = h;
                e.sessions += 1;
            }
        }
        e.last_seen = Some(e.last_seen.map_or(at, |l| l.max(at)));
        let day = at.div_euclid(86_400);
        e.hours[(at.rem_euclid(86_400) / 3600) as usize] += 1;
        // 1970-01-01 was a Thursday: index 0 = Monday.
        e.weekdays[((day + 3).rem_euclid(7)) as usize] += 1;
        if let Some(d) = device {
            bump(&mut e.devices, d, 1);
        }
        if let Some(c) = channel {
            bump(&mut e.channels, c, 1);
        }
        match event_kind(name) {
            EventKind::ProductView => {
                e.product_views += 1;
                let age = now - at;
                let inside = windows.map(|w| u32::from(age >= 0 && age < w));
                for (v, i) in e.views.iter_mut().zip(inside) {
                    *v += i;
                }
                if inside[2] > 0 {
                    if let Some(c) = sku.and_then(|s| catalogue.get(s)).and_then(|c| c.0) {
                        match e.category_views.iter_mut().find(|(k, _)| *k == c) {
                            Some((_, n)) => {
                                for (v, i) in n.iter_mut().zip(inside) {
                                    *v += i;
                                }
                            }
                            None => e.category_views.push((c, inside)),
                        }
                    }
                }
            }
            EventKind::AddToCart => e.add_to_carts += 1,
            EventKind::Other => {}
        }
    }

    Ok(EventFacts {
        engagement,
        devices: devices_names,
        channels: channels_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_of_stored_times() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2000-03-01"), Some(951_868_800));
        assert_eq!(
            epoch_seconds("2023-10-17T08:12:33.909169Z"),
            Some(1_697_530_353)
        );
        assert_eq!(epoch_seconds("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        assert_eq!(epoch_seconds("17/10/2023"), None);
        assert_eq!(epoch_seconds("2023-13-01"), None);
        assert_eq!(epoch_seconds(""), None);
    }

    #[test]
    fn vendors_event_names() {
        assert!(event_kind("view_item") == EventKind::ProductView);
        assert!(event_kind("Viewed Product") == EventKind::ProductView);
        assert!(event_kind("add_to_cart") == EventKind::AddToCart);
        assert!(event_kind("Added to Cart") == EventKind::AddToCart);
        assert!(event_kind("page_view") == EventKind::Other);
    }
}
