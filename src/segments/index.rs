//! Live counts: an in-memory index of profiles, traits, consent, events and
//! orders that answers a segment definition with compressed bitmaps
//! (`roaring`) in milliseconds, where SQLite needs hundreds (three-way ORs,
//! 90-day behaviour windows over many profiles).
//!
//! Why by hand: no embeddable engine answers these over our SQLite file
//! without copying it; the index is the copy, kept columnar and small.
//!
//! Shape: profiles are numbered by position in ascending id order and every
//! condition becomes a bitmap of positions; AND/OR/NOT are bitmap algebra.
//! Text and date columns are dictionary-encoded with the dictionary sorted
//! by byte order (SQLite's BINARY collation), so a date comparison is a
//! rank comparison and a text test runs once per distinct value. Events and
//! orders are kept per name, sorted by UTC day, so a window is a suffix and
//! a count is one pass over it. Custom event properties (the export's own
//! columns, kept as JSON) are parsed once at build time into one interned
//! column per event name and key. Sequences read per-profile timelines:
//! for every event name, each profile's event times in seconds, sorted, so
//! "A and then (not) B within N hours" is a merge scan of two short sorted
//! lists. Orders keep the SKU codes of their lines, so an order condition
//! with a product or category is one pass over the orders too. Only a
//! workspace with event times outside 1970–2106 (which u32 seconds cannot
//! hold) sends sequences to the SQL compiler.
//!
//! Every fast path is checked against `compile` in tests: the semantics
//! are the ones documented in `rules`.

use std::collections::HashMap;
use std::sync::Mutex;

use roaring::RoaringBitmap;
use rusqlite::{Connection, OptionalExtension};
use rustc_hash::FxHashMap;

use super::compile;
use super::fields::{self, FieldType, FIELDS};
use super::rules::{
    Condition, Count, CountOp, Definition, EventCondition, FieldCondition, Group, Match, Op,
    OrderCondition, OrderMetric, PropertyFilter, SequenceCondition,
};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("could not {context}: {source}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Invalid(#[from] compile::InvalidDefinition),
    #[error("segment {0} does not exist")]
    NoSegment(i64),
}

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> IndexError {
    move |source| IndexError::Sql { context, source }
}

/// What the index was built from: when any part changes, it is stale.
/// Imports, identity runs and profile ids cover records and profiles;
/// the settings hold the traits model (rewritten by every traits run), the
/// survivorship rules and the consent source priority; the consent ledger
/// also changes without an import (by hand, suppression lists); an
/// erasure removes a profile and its memberships without either.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fingerprint {
    last_import: i64,
    last_identity_change: i64,
    last_profile: i64,
    settings: u64,
    consent: i64,
    last_erasure: i64,
}

impl Fingerprint {
    /// Cheap: a few indexed aggregates and the small settings table.
    pub fn read(conn: &Connection) -> Result<Fingerprint, IndexError> {
        const WHAT: &str = "check whether the segment index is current";
        let (last_import, last_identity_change, last_profile, settings, consent, last_erasure): (
            i64,
            i64,
            i64,
            Option<String>,
            i64,
            i64,
        ) = conn
            .query_row(
                "SELECT (SELECT coalesce(max(id), 0) FROM imports),
                        (SELECT coalesce(max(id), 0) FROM identity_log),
                        (SELECT coalesce(max(id), 0) FROM profiles),
                        (SELECT group_concat(key || '=' || value, char(10))
                           FROM (SELECT key, value FROM settings ORDER BY key)),
                        (SELECT coalesce(max(id), 0) FROM consent_ledger),
                        (SELECT coalesce(max(id), 0) FROM audit_log WHERE action = 'erase')",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .map_err(sql(WHAT))?;
        Ok(Fingerprint {
            last_import,
            last_identity_change,
            last_profile,
            settings: xxhash_rust::xxh3::xxh3_64(settings.unwrap_or_default().as_bytes()),
            consent,
            last_erasure,
        })
    }
}

/// A dictionary-encoded text column: `codes[pos]` is 0 for NULL, else
/// 1 + the rank of the value in `values` (sorted by bytes).
#[derive(Debug, Default)]
struct Dict {
    codes: Vec<u32>,
    values: Vec<String>,
    /// The values lower-cased and joined, built with the index: one SIMD
    /// search over a contiguous buffer instead of a million
    /// small ones over scattered strings.
    blob: std::sync::OnceLock<Blob>,
}

/// `\0v0\0v1\0…`: value `i` starts at `starts[i]`.
#[derive(Debug, Default)]
struct Blob {
    bytes: Vec<u8>,
    starts: Vec<usize>,
}

/// Builds a [`Dict`] row by row, keeping each distinct value once (a
/// million rows of a column with a few hundred cities cost a few hundred
/// strings, not a million).
#[derive(Default)]
struct DictBuilder {
    seen: FxHashMap<Box<str>, u32>,
    codes: Vec<u32>,
}

impl DictBuilder {
    fn with_rows(n: usize) -> DictBuilder {
        DictBuilder {
            seen: FxHashMap::default(),
            codes: vec![0; n],
        }
    }

    fn set(&mut self, pos: usize, v: &str) {
        let next = self.seen.len() as u32 + 1;
        let code = match self.seen.get(v) {
            Some(&c) => c,
            None => {
                self.seen.insert(v.into(), next);
                next
            }
        };
        self.codes[pos] = code;
    }

    /// Renumbers by sorted value.
    fn finish(self) -> Dict {
        let mut values: Vec<(Box<str>, u32)> = self.seen.into_iter().collect();
        values.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut rank = vec![0u32; values.len() + 1];
        for (i, (_, code)) in values.iter().enumerate() {
            rank[*code as usize] = i as u32 + 1;
        }
        let codes = self.codes.into_iter().map(|c| rank[c as usize]).collect();
        Dict {
            codes,
            values: values.into_iter().map(|(v, _)| v.into_string()).collect(),
            blob: Default::default(),
        }
    }
}

impl Dict {
    fn blob(&self) -> &Blob {
        self.blob.get_or_init(|| {
            let mut b = Blob {
                bytes: Vec::with_capacity(
                    self.values.iter().map(|v| v.len() + 1).sum::<usize>() + 1,
                ),
                starts: Vec::with_capacity(self.values.len()),
            };
            for v in &self.values {
                b.bytes.push(0);
                b.starts.push(b.bytes.len());
                b.bytes.extend(v.bytes().map(|c| c.to_ascii_lowercase()));
            }
            b.bytes.push(0);
            b
        })
    }

    /// Positions whose value contains (or starts with) `needle`, ignoring
    /// ASCII case. A value without NUL bytes keeps matches inside it.
    fn select_substring(&self, needle: &str, starts_with: bool) -> RoaringBitmap {
        let needle = needle.to_ascii_lowercase();
        let mut ok = vec![false; self.values.len() + 1];
        if needle.is_empty() {
            ok[1..].iter_mut().for_each(|o| *o = true);
        } else {
            let blob = self.blob();
            let pattern: Vec<u8> = if starts_with {
                std::iter::once(0).chain(needle.bytes()).collect()
            } else {
                needle.into_bytes()
            };
            for at in memchr::memmem::find_iter(&blob.bytes, &pattern) {
                let at = if starts_with { at + 1 } else { at };
                // The value the match begins in.
                let i = blob.starts.partition_point(|&s| s <= at).saturating_sub(1);
                ok[i + 1] = true;
            }
        }
        bitmap_where(self.codes.len(), |pos| ok[self.codes[pos] as usize])
    }

    /// Positions whose value is at index `from..to` of the sorted values.
    fn select_range(&self, from: usize, to: usize) -> RoaringBitmap {
        let (lo, hi) = (from as u32, to as u32);
        bitmap_where(self.codes.len(), |pos| {
            let c = self.codes[pos];
            c > lo && c <= hi
        })
    }

    /// Positions whose value passes `keep` (run once per distinct value).
    fn select(&self, keep: impl Fn(&str) -> bool, missing: bool) -> RoaringBitmap {
        let mut ok = Vec::with_capacity(self.values.len() + 1);
        ok.push(missing);
        ok.extend(self.values.iter().map(|v| keep(v)));
        bitmap_where(self.codes.len(), |pos| ok[self.codes[pos] as usize])
    }
}

#[derive(Debug)]
enum Column {
    Dict(Dict),
    /// NaN for missing.
    Number(Vec<f64>),
}

/// One event name's occurrences, sorted by day.
#[derive(Debug, Default)]
struct EventLog {
    day: Vec<u32>,
    /// Seconds since 1970 in read order; moved into the name's
    /// [`Timeline`] when the build finishes (not kept twice).
    secs: Vec<u32>,
    /// Custom properties: per key, the interned value of every event of
    /// the name (`SegmentIndex::prop_values`; 0 when the event lacks the
    /// key or it is JSON null, which SQL's `json_each` treats alike). Only
    /// keys that occur in this name's events get a column.
    props: Vec<(String, Vec<u32>)>,
    pos: Vec<u32>,
    sku: Vec<u32>,
    device: Vec<u32>,
    channel: Vec<u32>,
    country: Vec<u32>,
    /// Minor units; `i64::MIN` for missing; empty when no event of the
    /// name has a value (most: page views, product views).
    value: Vec<i64>,
}

/// Orders that count (not cancelled, with a time), sorted by day.
#[derive(Debug, Default)]
struct OrderLog {
    day: Vec<u32>,
    pos: Vec<u32>,
    /// Total less refunds in the workspace currency; `None` in another one.
    net: Vec<Option<i64>>,
    /// The orders (ascending, so by day) with a line of SKU code `c` (in
    /// `skus`; lines without a SKU are left out: no product or category
    /// condition holds for them) are `sku_orders[sku_start[c]..sku_start[c + 1]]`. A product
    /// or category condition reads its SKUs' lists instead of testing the
    /// lines of every order in the window (4.4 million on the benchmark).
    sku_start: Vec<u32>,
    sku_orders: Vec<u32>,
    skus: Names,
    /// Per code in `skus`: the category of its product (highest id).
    sku_category: Vec<Option<String>>,
}

/// One event name's times per profile: profile `pos`'s events are
/// `at[starts[pos]..starts[pos + 1]]`, seconds since 1970, ascending. Four
/// bytes an event and four a profile, for sequences only.
#[derive(Debug, Default)]
struct Timeline {
    starts: Vec<u32>,
    at: Vec<u32>,
}

impl Timeline {
    /// Buckets `(pos, secs)` by profile (a counting sort) and sorts each
    /// profile's few times.
    fn build(n: usize, pos: &[u32], secs: &[u32]) -> Timeline {
        let mut starts = vec![0u32; n + 1];
        for &p in pos {
            starts[p as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut at = vec![0u32; pos.len()];
        for (&p, &t) in pos.iter().zip(secs) {
            let slot = &mut next[p as usize];
            at[*slot as usize] = t;
            *slot += 1;
        }
        for w in starts.windows(2) {
            at[w[0] as usize..w[1] as usize].sort_unstable();
        }
        Timeline { starts, at }
    }

    fn of(&self, pos: usize) -> &[u32] {
        match (self.starts.get(pos), self.starts.get(pos + 1)) {
            (Some(&a), Some(&b)) => &self.at[a as usize..b as usize],
            _ => &[],
        }
    }
}

/// Interned strings of one event property; code 0 is NULL.
#[derive(Debug, Default)]
struct Names {
    ids: FxHashMap<String, u32>,
    values: Vec<String>,
    /// The last code handed out: events come in runs of one device,
    /// channel and country, so most lookups end here without hashing.
    last: u32,
}

impl Names {
    fn id(&mut self, v: Option<&str>) -> u32 {
        let Some(v) = v else { return 0 };
        if self.last != 0 && self.values[self.last as usize - 1] == v {
            return self.last;
        }
        let id = match self.ids.get(v) {
            Some(&id) => id,
            None => {
                self.values.push(v.to_owned());
                let id = self.values.len() as u32;
                self.ids.insert(v.to_owned(), id);
                id
            }
        };
        self.last = id;
        id
    }

    /// Codes (index = code) whose value passes `keep`; code 0 (NULL)
    /// passes when `missing` does.
    fn matching(&self, keep: impl Fn(&str) -> bool, missing: bool) -> Vec<bool> {
        let mut ok = vec![missing];
        ok.extend(self.values.iter().map(|v| keep(v)));
        ok
    }
}

/// The index of one workspace at one moment.
#[derive(Debug)]
pub struct SegmentIndex {
    pub fingerprint: Fingerprint,
    ids: Vec<i64>,
    columns: HashMap<&'static str, Column>,
    /// Per channel (email, sms, ads): 0 unknown, 1 granted, 2 denied.
    consent: [Vec<u8>; 3],
    events: HashMap<String, EventLog>,
    skus: Names,
    devices: Names,
    channels: Names,
    countries: Names,
    /// Per SKU code: the category and brand of its product (highest id).
    sku_category: Vec<Option<String>>,
    sku_brand: Vec<Option<String>>,
    orders: OrderLog,
    /// Per event name, the profiles' event times (sequences).
    timelines: HashMap<String, Timeline>,
    /// Interned values of custom event properties; code 0 is missing.
    prop_values: Names,
    /// Some event time fell outside what u32 seconds hold: sequences then
    /// go to SQL rather than answer from clamped times.
    times_out_of_range: bool,
    currency_scale: f64,
    /// Answers of conditions the index does not hold, by condition + day.
    sql_answers: Mutex<HashMap<String, RoaringBitmap>>,
    /// The latest clustering run's clusters: a run is saved without an
    /// import, so this is checked against `cluster_runs` on every use
    /// (one indexed row) and read again when a new run replaced it.
    clusters: Mutex<Clusters>,
    /// Static segments' members by segment id, each with the row (times,
    /// rule version) that says it is still the saved snapshot. Reading a
    /// few hundred thousand members from SQLite took 100+ ms a count.
    snapshots: Mutex<HashMap<i64, (String, RoaringBitmap)>>,
    pub build_seconds: f64,
    /// Seconds per stage of the build, for benchmarks.
    pub build_stages: Vec<(&'static str, f64)>,
}

/// Positions that pass `keep`: a plain bitset first (a tight loop with no
/// branches on the result), handed to roaring in one go.
#[inline(always)]
fn bitmap_where(n: usize, keep: impl Fn(usize) -> bool) -> RoaringBitmap {
    let mut bytes = vec![0u8; n.div_ceil(8)];
    let full = n / 8;
    for (i, b) in bytes[..full].iter_mut().enumerate() {
        let base = i * 8;
        let mut v = 0u8;
        for bit in 0..8 {
            v |= (keep(base + bit) as u8) << bit;
        }
        *b = v;
    }
    for pos in full * 8..n {
        if keep(pos) {
            bytes[full] |= 1 << (pos - full * 8);
        }
    }
    RoaringBitmap::from_lsb0_bytes(0, &bytes)
}

/// Days since 1970-01-01 of an ISO 8601 date or timestamp.
fn day_of(s: &str) -> Option<u32> {
    crate::traits::scan::epoch_seconds(s).map(|t| t.div_euclid(86_400) as u32)
}

const TRAIT_FIELDS_SQL_WHAT: &str = "read profiles and traits for the segment index";

impl SegmentIndex {
    /// Reads everything the index holds. Seconds on a million profiles;
    /// callers build it off the request path and answer with SQL meanwhile.
    pub fn build(conn: &Connection) -> Result<SegmentIndex, IndexError> {
        let started = std::time::Instant::now();
        let fingerprint = Fingerprint::read(conn)?;
        let currency = crate::store::setting_of(conn, crate::store::setting::DEFAULT_CURRENCY)
            .map_err(sql("read the workspace currency"))?;
        let currency_scale = crate::traits::currency_scale(&currency);

        let mut stages = Vec::new();
        let mut clock = std::time::Instant::now();
        let mut lap = |stages: &mut Vec<(&'static str, f64)>, stage: &'static str| {
            stages.push((stage, clock.elapsed().as_secs_f64()));
            clock = std::time::Instant::now();
        };
        // Positions first: both readers below number profiles by them.
        let ids: Vec<i64> = {
            let mut stmt = conn
                .prepare("SELECT id FROM profiles ORDER BY id")
                .map_err(sql(TRAIT_FIELDS_SQL_WHAT))?;
            let ids = stmt
                .query_map([], |r| r.get(0))
                .map_err(sql(TRAIT_FIELDS_SQL_WHAT))?
                .collect::<rusqlite::Result<Vec<i64>>>()
                .map_err(sql(TRAIT_FIELDS_SQL_WHAT))?;
            ids
        };
        let position: FxHashMap<i64, u32> = ids
            .iter()
            .enumerate()
            .map(|(pos, &id)| (id, pos as u32))
            .collect();
        lap(&mut stages, "profile ids");

        // Events are most of the work: read them on a second connection
        // while this one reads profiles, traits, consent and orders.
        let path = conn
            .path()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from);
        let n = ids.len();
        let (columns, consent, orders, events) = std::thread::scope(|scope| {
            let events = path.map(|path| {
                let position = &position;
                scope.spawn(move || -> Result<EventsPart, IndexError> {
                    let c = crate::store::crypt::open_reader(&path)
                        .map_err(sql("open the workspace for the segment index"))?;
                    let _ = c.busy_timeout(std::time::Duration::from_secs(30));
                    let (customers, devices) = record_owners(&c, position)?;
                    read_events(&c, &customers, &devices, n)
                })
            });
            let columns = read_columns(conn, &position, ids.len());
            let consent = columns
                .as_ref()
                .ok()
                .map(|_| read_consent(conn, &position, ids.len()));
            let orders = read_orders(conn, &position, &currency);
            let events = match events {
                Some(handle) => handle.join().expect("the events reader does not panic"),
                None => record_owners(conn, &position)
                    .and_then(|(customers, devices)| read_events(conn, &customers, &devices, n)),
            };
            (columns, consent, orders, events)
        });
        let columns = columns?;
        let consent = consent.expect("read when the columns were")?;
        let orders = orders?;
        let events = events?;
        lap(&mut stages, "profiles, traits, consent, orders ∥ events");

        let mut index = SegmentIndex {
            fingerprint,
            ids,
            columns,
            consent,
            events: events.logs,
            skus: events.skus,
            devices: events.devices,
            channels: events.channels,
            countries: events.countries,
            sku_category: Vec::new(),
            sku_brand: Vec::new(),
            orders,
            timelines: events.timelines,
            prop_values: events.prop_values,
            times_out_of_range: events.out_of_range,
            currency_scale,
            sql_answers: Mutex::new(HashMap::new()),
            clusters: Mutex::new(Clusters::default()),
            snapshots: Mutex::new(HashMap::new()),
            build_seconds: 0.0,
            build_stages: Vec::new(),
        };
        index.read_products(conn)?;
        lap(&mut stages, "products");
        index.read_memberships(conn)?;
        lap(&mut stages, "clusters and static segments");
        // "Contains" and "starts with" search the lower-cased values; build
        // them now rather than in the first count that asks.
        for column in index.columns.values() {
            if let Column::Dict(d) = column {
                d.blob();
            }
        }
        lap(&mut stages, "text search");
        index.build_stages = stages;
        index.build_seconds = started.elapsed().as_secs_f64();
        Ok(index)
    }

    pub fn profiles(&self) -> u64 {
        self.ids.len() as u64
    }

    /// Approximate heap bytes of the big parts (vectors' lengths, not
    /// capacities; interned strings left out), for benchmarks.
    pub fn memory(&self) -> Vec<(&'static str, usize)> {
        fn v<T>(x: &[T]) -> usize {
            std::mem::size_of_val(x)
        }
        let columns: usize = self
            .columns
            .values()
            .map(|c| match c {
                Column::Dict(d) => v(&d.codes),
                Column::Number(x) => v(x),
            })
            .sum();
        let events: usize = self
            .events
            .values()
            .map(|l| {
                v(&l.day)
                    + v(&l.pos)
                    + v(&l.sku)
                    + v(&l.device)
                    + v(&l.channel)
                    + v(&l.country)
                    + v(&l.value)
            })
            .sum();
        let properties: usize = self
            .events
            .values()
            .flat_map(|l| l.props.iter().map(|(_, c)| v(c)))
            .sum();
        let timelines: usize = self
            .timelines
            .values()
            .map(|t| v(&t.starts) + v(&t.at))
            .sum();
        let o = &self.orders;
        vec![
            (
                "profile columns",
                columns + v(&self.ids) + 3 * self.ids.len(),
            ),
            ("events", events),
            ("event timelines", timelines),
            ("custom properties", properties),
            (
                "orders",
                v(&o.day) + v(&o.pos) + v(&o.net) + v(&o.sku_start) + v(&o.sku_orders),
            ),
        ]
    }

    /// Profile ids of positions, ascending.
    pub fn ids_of<'a>(&'a self, set: &'a RoaringBitmap) -> impl Iterator<Item = i64> + 'a {
        set.iter().map(|pos| self.ids[pos as usize])
    }

    fn positions_of(&self, ids: &[i64]) -> RoaringBitmap {
        let mut b = RoaringBitmap::new();
        for id in ids {
            if let Ok(pos) = self.ids.binary_search(id) {
                b.insert(pos as u32);
            }
        }
        b
    }

    fn everyone(&self) -> RoaringBitmap {
        let mut b = RoaringBitmap::new();
        if !self.ids.is_empty() {
            b.insert_range(0..self.ids.len() as u32);
        }
        b
    }

    /// The members of `def` as positions. The definition must have passed
    /// `compile` (which validates); `now` is ISO 8601 UTC.
    pub fn evaluate(
        &self,
        conn: &Connection,
        def: &Definition,
        now: &str,
    ) -> Result<RoaringBitmap, IndexError> {
        let today = day_of(now).unwrap_or(0);
        let mut seen = Vec::new();
        self.group(conn, &def.root, now, today, &mut seen)
    }

    /// The number of members and up to `sample` of their ids.
    pub fn count(
        &self,
        conn: &Connection,
        def: &Definition,
        now: &str,
        sample: usize,
    ) -> Result<(u64, Vec<i64>), IndexError> {
        let set = self.evaluate(conn, def, now)?;
        Ok((set.len(), self.ids_of(&set).take(sample).collect()))
    }

    fn group(
        &self,
        conn: &Connection,
        g: &Group,
        now: &str,
        today: u32,
        seen: &mut Vec<i64>,
    ) -> Result<RoaringBitmap, IndexError> {
        let mut acc: Option<RoaringBitmap> = None;
        for c in &g.conditions {
            let b = self.condition(conn, c, now, today, seen)?;
            acc = Some(match (acc, g.match_) {
                (None, _) => b,
                (Some(a), Match::All) => a & b,
                (Some(a), Match::Any) => a | b,
            });
            if g.match_ == Match::All && acc.as_ref().is_some_and(|a| a.is_empty()) {
                break;
            }
        }
        let set = acc.unwrap_or_else(|| match g.match_ {
            Match::All => self.everyone(),
            Match::Any => RoaringBitmap::new(),
        });
        Ok(if g.negate { self.everyone() - set } else { set })
    }

    fn condition(
        &self,
        conn: &Connection,
        c: &Condition,
        now: &str,
        today: u32,
        seen: &mut Vec<i64>,
    ) -> Result<RoaringBitmap, IndexError> {
        Ok(match c {
            Condition::Group(g) => self.group(conn, g, now, today, seen)?,
            Condition::Field(f) => self.field(f, today),
            Condition::Event(e) => self.event(e, today),
            Condition::Order(o) => self.order(o, today),
            Condition::Sequence(_) if self.times_out_of_range => {
                self.by_sql(conn, c, now, today)?
            }
            Condition::Sequence(q) => self.sequence(q, today),
            Condition::Segment(s) => {
                let set = self.segment(conn, s.segment, now, today, seen)?;
                if s.negate {
                    self.everyone() - set
                } else {
                    set
                }
            }
            Condition::Cluster(k) => {
                let set = self.cluster(conn, k.cluster)?;
                if k.negate {
                    self.everyone() - set
                } else {
                    set
                }
            }
            Condition::Consent(k) => {
                let channel = fields::CHANNELS
                    .iter()
                    .position(|c| *c == k.channel)
                    .unwrap_or(0);
                let want = match k.status.as_str() {
                    "granted" => 1,
                    "denied" => 2,
                    _ => 0,
                };
                let column = &self.consent[channel];
                bitmap_where(column.len(), |pos| column[pos] == want)
            }
        })
    }

    /// The members of saved segment `id` now (a static segment's stored
    /// members, a dynamic one's rule), ascending profile ids.
    pub fn segment_members(
        &self,
        conn: &Connection,
        id: i64,
        now: &str,
    ) -> Result<Vec<i64>, IndexError> {
        let today = day_of(now).unwrap_or(0);
        let set = self.segment(conn, id, now, today, &mut Vec::new())?;
        Ok(self.ids_of(&set).collect())
    }

    fn segment(
        &self,
        conn: &Connection,
        id: i64,
        now: &str,
        today: u32,
        seen: &mut Vec<i64>,
    ) -> Result<RoaringBitmap, IndexError> {
        const WHAT: &str = "read a segment for the segment index";
        let (kind, definition, snapshot): (String, Option<String>, String) = conn
            .query_row(
                "SELECT kind, definition,
                        created_at || char(31) || updated_at || char(31)
                          || coalesce(snapshot_at, '') || char(31)
                          || coalesce((SELECT max(version) FROM segment_versions
                                        WHERE segment_id = s.id), 0)
                   FROM segments s WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => IndexError::NoSegment(id),
                e => IndexError::Sql {
                    context: WHAT,
                    source: e,
                },
            })?;
        match (kind.as_str(), definition) {
            ("dynamic", Some(text)) if !seen.contains(&id) => {
                let def = Definition::from_json(&text).map_err(|_| IndexError::NoSegment(id))?;
                seen.push(id);
                let set = self.group(conn, &def.root, now, today, seen);
                seen.pop();
                set
            }
            (_, definition) => {
                // The rule is part of the key: a segment deleted and saved
                // again under the same id at the same second differs there.
                let key = format!(
                    "{kind}\u{1f}{snapshot}\u{1f}{:x}",
                    xxhash_rust::xxh3::xxh3_64(definition.unwrap_or_default().as_bytes())
                );
                let mut held = self.snapshots.lock().expect("snapshot cache lock");
                if let Some((k, set)) = held.get(&id) {
                    if *k == key {
                        return Ok(set.clone());
                    }
                }
                let mut stmt = conn
                    .prepare_cached("SELECT profile_id FROM segment_members WHERE segment_id = ?1")
                    .map_err(sql(WHAT))?;
                let ids = stmt
                    .query_map([id], |r| r.get::<_, i64>(0))
                    .map_err(sql(WHAT))?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(sql(WHAT))?;
                let set = self.positions_of(&ids);
                held.insert(id, (key, set.clone()));
                Ok(set)
            }
        }
    }

    /// Members of `cluster` in the latest clustering run.
    fn cluster(&self, conn: &Connection, cluster: i64) -> Result<RoaringBitmap, IndexError> {
        let run = latest_run(conn)?;
        let mut held = self.clusters.lock().expect("cluster cache lock");
        if held.run != run || held.of.len() != self.ids.len() {
            *held = self.read_clusters(conn, run)?;
        }
        if cluster == NO_CLUSTER {
            return Ok(RoaringBitmap::new());
        }
        let of = &held.of;
        Ok(bitmap_where(of.len(), |pos| of[pos] == cluster))
    }

    fn read_clusters(
        &self,
        conn: &Connection,
        run: Option<(i64, String)>,
    ) -> Result<Clusters, IndexError> {
        const WHAT: &str = "read cluster members for the segment index";
        let mut of = vec![NO_CLUSTER; self.ids.len()];
        if let Some((id, _)) = &run {
            let mut stmt = conn
                .prepare_cached("SELECT profile_id, cluster FROM cluster_members WHERE run_id = ?1")
                .map_err(sql(WHAT))?;
            let mut rows = stmt.query([id]).map_err(sql(WHAT))?;
            while let Some(r) = rows.next().map_err(sql(WHAT))? {
                let profile: i64 = r.get(0).map_err(sql(WHAT))?;
                if let Ok(pos) = self.ids.binary_search(&profile) {
                    of[pos] = r.get(1).map_err(sql(WHAT))?;
                }
            }
        }
        Ok(Clusters { run, of })
    }

    /// Reads the latest clustering run and every static segment's members
    /// while the index is built (off the request path), so that the first
    /// count using one does not wait for SQLite.
    fn read_memberships(&mut self, conn: &Connection) -> Result<(), IndexError> {
        const WHAT: &str = "read static segments for the segment index";
        let run = latest_run(conn)?;
        let clusters = self.read_clusters(conn, run)?;
        *self.clusters.get_mut().expect("cluster cache lock") = clusters;
        let statics: Vec<i64> = conn
            .prepare("SELECT id FROM segments WHERE kind = 'static' ORDER BY id")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
            })
            .map_err(sql(WHAT))?;
        for id in statics {
            self.segment(conn, id, "", 0, &mut Vec::new())?;
        }
        Ok(())
    }

    /// A condition the index does not hold: its SQL answer, cached per day.
    fn by_sql(
        &self,
        conn: &Connection,
        c: &Condition,
        now: &str,
        today: u32,
    ) -> Result<RoaringBitmap, IndexError> {
        let key = format!("{today}:{}", serde_json::to_string(c).unwrap_or_default());
        if let Some(hit) = self.sql_answers.lock().expect("cache lock").get(&key) {
            return Ok(hit.clone());
        }
        let one = Definition {
            version: super::rules::VERSION,
            root: Group {
                match_: Match::All,
                negate: false,
                conditions: vec![c.clone()],
            },
        };
        let compiled = compile::compile(conn, &one, now, self.currency_scale as i64)?;
        let ids = compile::members(conn, &compiled).map_err(sql("evaluate a condition in SQL"))?;
        let set = self.positions_of(&ids);
        self.sql_answers
            .lock()
            .expect("cache lock")
            .insert(key, set.clone());
        Ok(set)
    }

    fn field(&self, f: &FieldCondition, today: u32) -> RoaringBitmap {
        let Some(field) = fields::field(&f.field) else {
            return RoaringBitmap::new();
        };
        match self.columns.get(field.name) {
            Some(Column::Number(values)) => {
                let scale = if field.kind == FieldType::Money {
                    self.currency_scale
                } else {
                    1.0
                };
                // Money in rules is major units, rounded to minor units as
                // the compiler binds it.
                let num = |v: &serde_json::Value| {
                    v.as_f64()
                        .map(|x| if scale == 1.0 { x } else { (x * scale).round() })
                };
                number_bitmap(values, number_test(f.op, &f.value, num))
            }
            Some(Column::Dict(dict)) => {
                if field.kind == FieldType::Date {
                    self.date_field(dict, f, today, field.name == "birth_date")
                } else if let (Op::Contains | Op::StartsWith, Some(needle)) =
                    (f.op, text_value(&f.value))
                {
                    dict.select_substring(&needle, f.op == Op::StartsWith)
                } else {
                    let (keep, missing) = text_test(f.op, &f.value);
                    dict.select(keep, missing)
                }
            }
            None => RoaringBitmap::new(),
        }
    }

    /// Dates as the compiler compares them: a date-only value (or any
    /// value on a date-only column) against the column's first ten
    /// characters, a moment against the whole text; windows by day.
    fn date_field(
        &self,
        dict: &Dict,
        f: &FieldCondition,
        today: u32,
        date_only: bool,
    ) -> RoaringBitmap {
        fn day(v: &str) -> &str {
            v.get(..10).unwrap_or(v)
        }
        // (compare the day part?, bound)
        let bound = |v: &serde_json::Value| -> Option<(bool, String)> {
            let s = v.as_str()?.trim();
            if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
                return Some((true, s.to_owned()));
            }
            let m = chrono::DateTime::parse_from_rfc3339(s)
                .ok()?
                .with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            Some(if date_only {
                (true, m[..10].to_owned())
            } else {
                (false, m)
            })
        };
        type Keep = Box<dyn Fn(&str) -> bool>;
        let side = |op: Op, v: &serde_json::Value| -> Option<Keep> {
            let (by_day, b) = bound(v)?;
            Some(Box::new(move |x: &str| {
                let x = if by_day { day(x) } else { x };
                match op {
                    Op::Lt => x < b.as_str(),
                    Op::Le => x <= b.as_str(),
                    Op::Gt => x > b.as_str(),
                    Op::Ge => x >= b.as_str(),
                    _ => false,
                }
            }))
        };
        let window = |v: &serde_json::Value| -> Option<String> {
            let days = v.as_u64()? as u32;
            Some(window_start_text(today, days)[..10].to_owned())
        };
        // The values are sorted, and so are their first ten characters:
        // every comparison holds on one run of them, found by bisection.
        let values = &dict.values;
        let first_true = |keep: &dyn Fn(&str) -> bool| values.partition_point(|v| !keep(v));
        let last_true = |keep: &dyn Fn(&str) -> bool| values.partition_point(|v| keep(v));
        let all = values.len();
        let range = match f.op {
            Op::IsEmpty => return dict.select(|v: &str| v.is_empty(), true),
            Op::IsSet => return dict.select(|v: &str| !v.is_empty(), false),
            Op::InLastDays => {
                window(&f.value).map(|c| (first_true(&|v| day(v) >= c.as_str()), all))
            }
            Op::MoreThanDaysAgo => {
                window(&f.value).map(|c| (0, last_true(&|v| day(v) < c.as_str())))
            }
            Op::Between => f.value.as_array().and_then(|a| {
                let lo = side(Op::Ge, a.first()?)?;
                let hi = side(Op::Le, a.get(1)?)?;
                Some((first_true(&*lo), last_true(&*hi)))
            }),
            Op::Gt | Op::Ge => side(f.op, &f.value).map(|k| (first_true(&*k), all)),
            Op::Lt | Op::Le => side(f.op, &f.value).map(|k| (0, last_true(&*k))),
            _ => None,
        };
        match range {
            Some((from, to)) if from < to => dict.select_range(from, to),
            _ => RoaringBitmap::new(),
        }
    }

    fn event(&self, e: &EventCondition, today: u32) -> RoaringBitmap {
        let counts = self.event_counts(e, today);
        counted(e.did, e.count, &counts)
    }

    /// Matching events per position (dense: a million counters are 4 MB
    /// and faster to bump than a hash map).
    fn event_counts(&self, e: &EventCondition, today: u32) -> Vec<u32> {
        let mut counts = vec![0u32; self.ids.len()];
        let Some(log) = self.events.get(&e.event) else {
            return counts;
        };
        let from = e
            .within_days
            .map(|d| {
                log.day
                    .partition_point(|&day| day < window_start_day(today, d))
            })
            .unwrap_or(0);
        let filters: Vec<Filter> = e.filters.iter().map(|f| self.filter(log, f)).collect();
        if filters.is_empty() {
            for &pos in &log.pos[from..] {
                counts[pos as usize] += 1;
            }
            return counts;
        }
        // One tight pass per filter over its column (a table lookup per
        // event), then one over the survivors: several times faster than
        // testing every filter of one event before the next.
        let mut pass = vec![true; log.day.len() - from];
        for f in &filters {
            match f {
                Filter::Codes(column, ok) => {
                    for (p, &c) in pass.iter_mut().zip(&column[from..]) {
                        *p &= ok[c as usize];
                    }
                }
                Filter::Always(true) => {}
                Filter::Always(false) => return counts,
                Filter::Value(test) => {
                    for (i, p) in pass.iter_mut().enumerate() {
                        let v = log.value.get(from + i).copied().unwrap_or(i64::MIN);
                        *p &= test.test(if v == i64::MIN { f64::NAN } else { v as f64 });
                    }
                }
            }
        }
        for (&p, &pos) in pass.iter().zip(&log.pos[from..]) {
            if p {
                counts[pos as usize] += 1;
            }
        }
        counts
    }

    /// "Did `first` and then (did not do) `then` within N hours", from the
    /// two names' timelines: per profile, a merge of two sorted lists. A
    /// `then` event counts from the `first` event's second to N hours
    /// later, both ends included, and is never the `first` event itself
    /// (when both names are one, another event of it at the same second
    /// or after), as the compiler says.
    fn sequence(&self, q: &SequenceCondition, today: u32) -> RoaringBitmap {
        let Some(first) = self.timelines.get(&q.first) else {
            return RoaringBitmap::new();
        };
        let then = self.timelines.get(&q.then);
        let same = q.first == q.then;
        let gap = u64::from(q.within_hours) * 3600;
        let from = q
            .in_last_days
            .map(|d| u64::from(window_start_day(today, d)) * 86_400)
            .unwrap_or(0);
        let mut members = Vec::new();
        for pos in 0..self.ids.len() {
            let a = first.of(pos);
            if a.is_empty() {
                continue;
            }
            let start = a.partition_point(|&t| u64::from(t) < from);
            let b = if same {
                a
            } else {
                then.map(|t| t.of(pos)).unwrap_or(&[])
            };
            let mut j = 0;
            let hit = (start..a.len()).any(|i| {
                let t = u64::from(a[i]);
                let followed = if same {
                    (i + 1 < a.len() && u64::from(a[i + 1]) - t <= gap)
                        || (i > 0 && a[i - 1] == a[i])
                } else {
                    while j < b.len() && u64::from(b[j]) < t {
                        j += 1;
                    }
                    j < b.len() && u64::from(b[j]) - t <= gap
                };
                followed == q.then_did
            });
            if hit {
                members.push(pos as u32);
            }
        }
        RoaringBitmap::from_sorted_iter(members).expect("ascending")
    }

    fn filter<'a>(&self, log: &'a EventLog, f: &PropertyFilter) -> Filter<'a> {
        let (keep, missing) = text_test(f.op, &f.value);
        if let Some(key) = fields::custom_property(&f.property) {
            // No event of the name has the key: every value is missing.
            return match log.props.iter().find(|(k, _)| k == key) {
                Some((_, column)) => {
                    Filter::Codes(column, self.prop_values.matching(&keep, missing))
                }
                None => Filter::Always(missing),
            };
        }
        match f.property.as_str() {
            "sku" => Filter::Codes(&log.sku, self.skus.matching(&keep, missing)),
            "category" | "brand" => {
                let of = if f.property == "category" {
                    &self.sku_category
                } else {
                    &self.sku_brand
                };
                // No SKU, no product or no category: a missing value.
                let mut ok = vec![missing];
                ok.extend(of.iter().map(|v| match v {
                    Some(v) => keep(v),
                    None => missing,
                }));
                Filter::Codes(&log.sku, ok)
            }
            "device" => Filter::Codes(&log.device, self.devices.matching(&keep, missing)),
            "channel" => Filter::Codes(&log.channel, self.channels.matching(&keep, missing)),
            "country" => Filter::Codes(&log.country, self.countries.matching(&keep, missing)),
            _ => {
                let scale = self.currency_scale;
                Filter::Value(number_test(f.op, &f.value, move |v| {
                    v.as_f64().map(|x| (x * scale).round())
                }))
            }
        }
    }

    /// Which line SKU codes satisfy an order condition's product and
    /// category (`None` when it has neither), as the compiler tests one
    /// line: the SKU ignoring ASCII case, the category of the SKU's
    /// product ignoring ASCII case, both on the same line.
    fn line_test(&self, o: &OrderCondition) -> Option<Vec<bool>> {
        let trimmed = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let (sku, category) = (trimmed(&o.sku), trimmed(&o.category));
        if sku.is_none() && category.is_none() {
            return None;
        }
        let log = &self.orders;
        let mut ok = vec![false];
        ok.extend(log.skus.values.iter().enumerate().map(|(i, v)| {
            sku.as_deref().is_none_or(|s| v.eq_ignore_ascii_case(s))
                && category.as_deref().is_none_or(|c| {
                    log.sku_category[i]
                        .as_deref()
                        .is_some_and(|v| v.eq_ignore_ascii_case(c))
                })
        }));
        Some(ok)
    }

    fn order(&self, o: &OrderCondition, today: u32) -> RoaringBitmap {
        let n = self.ids.len();
        let log = &self.orders;
        let from = o
            .within_days
            .map(|d| {
                log.day
                    .partition_point(|&day| day < window_start_day(today, d))
            })
            .unwrap_or(0);
        // Orders in the window that have a matching line (all of them
        // without a product or category), ascending; walked once, so not
        // collected where a range or a list already says it.
        let kept: Box<dyn Iterator<Item = usize> + '_> = match self.line_test(o) {
            None => Box::new(from..log.day.len()),
            Some(ok) => {
                let lists: Vec<&[u32]> = ok
                    .iter()
                    .enumerate()
                    .filter(|(_, &ok)| ok)
                    .map(|(c, _)| {
                        let all = &log.sku_orders
                            [log.sku_start[c] as usize..log.sku_start[c + 1] as usize];
                        &all[all.partition_point(|&i| (i as usize) < from)..]
                    })
                    .collect();
                match lists.as_slice() {
                    // The list lives in the index, not in `lists`.
                    &[one] => Box::new(one.iter().map(|&i| i as usize)),
                    _ => {
                        // Several SKUs (a category): an order with lines of
                        // two of them counts once.
                        let mut seen = vec![0u64; log.day.len().div_ceil(64)];
                        for &i in lists.iter().flat_map(|l| l.iter()) {
                            seen[i as usize / 64] |= 1 << (i % 64);
                        }
                        let mut kept = Vec::new();
                        for (w, &bits) in seen.iter().enumerate().skip(from / 64) {
                            let mut bits = bits;
                            while bits != 0 {
                                kept.push(w * 64 + bits.trailing_zeros() as usize);
                                bits &= bits - 1;
                            }
                        }
                        Box::new(kept.into_iter())
                    }
                }
            }
        };
        match o.metric {
            OrderMetric::Count => {
                let mut counts = vec![0u32; n];
                for i in kept {
                    counts[log.pos[i] as usize] += 1;
                }
                counted(o.did, o.count, &counts)
            }
            // "Did not order" is about orders, whatever the metric.
            OrderMetric::Total if !o.did => {
                let mut any: Vec<u32> = kept.map(|i| log.pos[i]).collect();
                any.sort_unstable();
                any.dedup();
                self.everyone() - RoaringBitmap::from_sorted_iter(any).expect("sorted")
            }
            OrderMetric::Total => {
                // A profile without orders in the window spent 0.
                let mut totals = vec![0i64; n];
                for i in kept {
                    totals[log.pos[i] as usize] += log.net[i].unwrap_or(0);
                }
                let scale = self.currency_scale;
                let test = number_test(o.op.unwrap_or(Op::Gt), &o.value, move |v| {
                    v.as_f64().map(|x| (x * scale).round())
                });
                // A profile without orders in the window spent 0.
                bitmap_where(n, |pos| test.test(totals[pos] as f64))
            }
        }
    }
}

/// Every event with an owner, per name, sorted by day.
fn read_events(
    conn: &Connection,
    customers: &FxHashMap<String, Option<u32>>,
    devices: &FxHashMap<(i64, String), u32>,
    n: usize,
) -> Result<EventsPart, IndexError> {
    let mut part = EventsPart {
        logs: HashMap::new(),
        skus: Names::default(),
        devices: Names::default(),
        channels: Names::default(),
        countries: Names::default(),
        timelines: HashMap::new(),
        prop_values: Names::default(),
        out_of_range: false,
    };
    const WHAT: &str = "read events for the segment index";
    let mut stmt = conn
        .prepare(
            "SELECT source_id, anonymous_id, customer_key, name, occurred_at, sku, device,
                        channel, country, value, properties
                   FROM events",
        )
        .map_err(sql(WHAT))?;
    let mut rows = stmt.query([]).map_err(sql(WHAT))?;
    let mut device_key = (0i64, String::new());
    // Events come in runs (one device's visit, one day, one name):
    // remember the last answer of each lookup before hashing.
    let mut last_device: Option<u32> = None;
    let mut last_date = (String::new(), 0u32);
    let mut names: Vec<(String, EventLog)> = Vec::new();
    let mut last_name = usize::MAX;
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        let text = |i: usize| -> Result<Option<&str>, IndexError> {
            Ok(r.get_ref(i)
                .map_err(sql(WHAT))?
                .as_str_or_null()
                .ok()
                .flatten())
        };
        let by_customer = text(2)?
            .filter(|c| !c.is_empty())
            .and_then(|c| customers.get(c).copied().flatten());
        let pos = match by_customer {
            Some(p) => p,
            None => {
                let Some(anon) = text(1)? else { continue };
                let source: i64 = r.get(0).map_err(sql(WHAT))?;
                if source != device_key.0 || anon != device_key.1 {
                    device_key.0 = source;
                    device_key.1.clear();
                    device_key.1.push_str(anon);
                    last_device = devices.get(&device_key).copied();
                }
                match last_device {
                    Some(p) => p,
                    None => continue,
                }
            }
        };
        let Some(at) = text(4)? else { continue };
        let date = at.get(..10).unwrap_or(at);
        let day = if !last_date.0.is_empty() && date == last_date.0 && at.len() >= 10 {
            last_date.1
        } else {
            let Some(day) = day_of(at) else { continue };
            last_date.0.clear();
            last_date.0.push_str(date);
            last_date.1 = day;
            day
        };
        // The time of day as `epoch_seconds` (and SQLite's `unixepoch`)
        // read it: whole seconds, nothing after them.
        let secs = i64::from(day) * 86_400 + time_of_day(at);
        // A day before 1970 wrapped round in `day_of`: either way the
        // seconds do not fit and sequences are left to SQL.
        let secs = u32::try_from(secs).unwrap_or_else(|_| {
            part.out_of_range = true;
            0
        });
        let name = text(3)?.unwrap_or("");
        if names.get(last_name).is_none_or(|(n, _)| n != name) {
            last_name = match names.iter().position(|(n, _)| n == name) {
                Some(i) => i,
                None => {
                    names.push((name.to_owned(), EventLog::default()));
                    names.len() - 1
                }
            };
        }
        let sku = part.skus.id(text(5)?);
        let device = part.devices.id(text(6)?);
        let channel = part.channels.id(text(7)?);
        let country = part.countries.id(text(8)?);
        let value: Option<i64> = r.get(9).map_err(sql(WHAT))?;
        let log = &mut names[last_name].1;
        log.secs.push(secs);
        log.pos.push(pos);
        log.sku.push(sku);
        log.device.push(device);
        log.channel.push(channel);
        log.country.push(country);
        log.value.push(value.unwrap_or(i64::MIN));
        log.day.push(day);
        let properties = text(10)?;
        read_properties(conn, log, properties, &mut part.prop_values)?;
    }
    for (name, mut log) in names {
        let secs = std::mem::take(&mut log.secs);
        part.timelines
            .insert(name.clone(), Timeline::build(n, &log.pos, &secs));
        drop(secs);
        sort_by_day(&mut log);
        part.logs.insert(name, log);
    }
    Ok(part)
}

/// Seconds into the day of an ISO 8601 timestamp (`…THH:MM:SS…`), 0 for
/// a date alone: what `traits::scan::epoch_seconds` adds to the day.
fn time_of_day(at: &str) -> i64 {
    let b = at.as_bytes();
    if b.len() < 19 || b[10] != b'T' {
        return 0;
    }
    let two = |i: usize| -> Option<i64> {
        let (x, y) = (b[i], b[i + 1]);
        (x.is_ascii_digit() && y.is_ascii_digit())
            .then(|| i64::from(x - b'0') * 10 + i64::from(y - b'0'))
    };
    match (two(11), two(14), two(17)) {
        (Some(h), Some(m), Some(s)) => h * 3600 + m * 60 + s,
        _ => 0,
    }
}

/// Appends the custom properties of the event just pushed to `log` (one
/// code per key column; new keys get a column of missing values first).
///
/// The values are what the compiler's `json_each(e.properties)` compares
/// as text: strings as they are, integers in decimal, `true`/`false` as
/// 1/0, JSON null as missing; anything else (reals, nested objects,
/// arrays, huge integers) is rendered by SQLite itself, so its number
/// formatting is matched exactly. Text that is not a JSON object has no
/// properties, as `json_valid` and `json_each` give none. (A key repeated
/// inside one object keeps its last value here; SQLite would see both.)
fn read_properties(
    conn: &Connection,
    log: &mut EventLog,
    properties: Option<&str>,
    values: &mut Names,
) -> Result<(), IndexError> {
    let len = log.pos.len();
    let map = properties
        .filter(|p| p.trim_start().starts_with('{'))
        .and_then(|p| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(p).ok());
    for (_, column) in log.props.iter_mut() {
        column.push(0);
    }
    let Some(map) = map else { return Ok(()) };
    for (key, value) in &map {
        use serde_json::Value;
        let rendered: Option<std::borrow::Cow<str>> = match value {
            Value::Null => None,
            Value::String(s) => Some(s.as_str().into()),
            Value::Bool(b) => Some(if *b { "1" } else { "0" }.into()),
            Value::Number(n) if n.is_i64() => Some(n.to_string().into()),
            _ => {
                const WHAT: &str = "read a custom event property";
                conn.prepare_cached(
                    "SELECT CAST(value AS TEXT) FROM json_each(?1) WHERE key = ?2 LIMIT 1",
                )
                .and_then(|mut s| {
                    s.query_row(rusqlite::params![properties, key], |r| {
                        r.get::<_, Option<String>>(0)
                    })
                })
                .map_err(sql(WHAT))?
                .map(Into::into)
            }
        };
        let code = values.id(rendered.as_deref());
        match log.props.iter_mut().find(|(k, _)| k == key) {
            Some((_, column)) => *column.last_mut().expect("pushed above") = code,
            None => {
                let mut column = vec![0u32; len];
                column[len - 1] = code;
                log.props.push((key.clone(), column));
            }
        }
    }
    Ok(())
}

impl SegmentIndex {
    fn read_products(&mut self, conn: &Connection) -> Result<(), IndexError> {
        const WHAT: &str = "read products for the segment index";
        let mut by_sku: FxHashMap<String, (Option<String>, Option<String>)> = FxHashMap::default();
        let mut stmt = conn
            .prepare("SELECT sku, category, brand FROM products ORDER BY id")
            .map_err(sql(WHAT))?;
        let mut rows = stmt.query([]).map_err(sql(WHAT))?;
        while let Some(r) = rows.next().map_err(sql(WHAT))? {
            // Ascending ids: the highest id is written last and wins, as in the
            // traits scan.
            by_sku.insert(
                r.get(0).map_err(sql(WHAT))?,
                (r.get(1).map_err(sql(WHAT))?, r.get(2).map_err(sql(WHAT))?),
            );
        }
        self.sku_category = Vec::with_capacity(self.skus.values.len());
        self.sku_brand = Vec::with_capacity(self.skus.values.len());
        for sku in &self.skus.values {
            let (c, b) = by_sku.get(sku).cloned().unwrap_or_default();
            self.sku_category.push(c);
            self.sku_brand.push(b);
        }
        // Order lines name SKUs exactly as the compiler's product lookup
        // does (`pr.sku = l.sku`, case and all).
        self.orders.sku_category = self
            .orders
            .skus
            .values
            .iter()
            .map(|sku| by_sku.get(sku).and_then(|(c, _)| c.clone()))
            .collect();
        Ok(())
    }
}

/// Orders that count, by position, sorted by day.
fn read_orders(
    conn: &Connection,
    position: &FxHashMap<i64, u32>,
    currency: &str,
) -> Result<OrderLog, IndexError> {
    const WHAT: &str = "read orders for the segment index";
    let mut stmt = conn
        .prepare(
            "SELECT r.profile_id, o.ordered_at, o.currency, o.total, o.refunded,
                        o.cancelled_at, o.financial_status,
                        (SELECT group_concat(l.sku, char(31)) FROM order_lines l
                          WHERE l.source_id = o.source_id AND l.order_key = o.source_key
                            AND l.sku IS NOT NULL)
                   FROM identity_records r JOIN orders o ON o.id = r.row_id
                  WHERE r.kind = 'order' AND r.profile_id IS NOT NULL",
        )
        .map_err(sql(WHAT))?;
    let mut rows = stmt.query([]).map_err(sql(WHAT))?;
    let mut log = OrderLog::default();
    // Lines in read order; permuted with the orders below.
    let mut lines: Vec<Vec<u32>> = Vec::new();
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        let Some(&pos) = position.get(&r.get::<_, i64>(0).map_err(sql(WHAT))?) else {
            continue;
        };
        let at: Option<String> = r.get(1).map_err(sql(WHAT))?;
        let Some(day) = at.as_deref().and_then(day_of) else {
            continue;
        };
        let order_currency: Option<String> = r.get(2).map_err(sql(WHAT))?;
        let total: Option<i64> = r.get(3).map_err(sql(WHAT))?;
        let refunded: Option<i64> = r.get(4).map_err(sql(WHAT))?;
        let cancelled_at: Option<String> = r.get(5).map_err(sql(WHAT))?;
        let status: Option<String> = r.get(6).map_err(sql(WHAT))?;
        if is_cancelled(cancelled_at.as_deref(), status.as_deref()) {
            continue;
        }
        let same = order_currency.as_deref().is_none_or(|c| c == currency);
        log.day.push(day);
        log.pos.push(pos);
        log.net
            .push(same.then(|| total.unwrap_or(0) - refunded.unwrap_or(0).max(0)));
        // SKUs joined with the unit separator, which no SKU contains.
        let skus = r
            .get_ref(7)
            .map_err(sql(WHAT))?
            .as_str_or_null()
            .ok()
            .flatten();
        let mut codes: Vec<u32> = skus
            .map(|s| s.split('\u{1f}').map(|k| log.skus.id(Some(k))).collect())
            .unwrap_or_default();
        codes.sort_unstable();
        codes.dedup();
        lines.push(codes);
    }
    let order = counting_order(&log.day);
    log.day = order.iter().map(|&i| log.day[i as usize]).collect();
    log.pos = order.iter().map(|&i| log.pos[i as usize]).collect();
    log.net = order.iter().map(|&i| log.net[i as usize]).collect();
    // Codes are 1-based; a counting sort of (code, order) by code keeps
    // each list in order order.
    log.sku_start = vec![0u32; log.skus.values.len() + 2];
    for codes in &lines {
        for &c in codes {
            log.sku_start[c as usize + 1] += 1;
        }
    }
    for c in 1..log.sku_start.len() {
        log.sku_start[c] += log.sku_start[c - 1];
    }
    let mut next = log.sku_start.clone();
    log.sku_orders = vec![0u32; *log.sku_start.last().unwrap_or(&0) as usize];
    for (rank, &i) in order.iter().enumerate() {
        for &c in &lines[i as usize] {
            let slot = &mut next[c as usize];
            log.sku_orders[*slot as usize] = rank as u32;
            *slot += 1;
        }
    }
    Ok(log)
}

/// Every field of every profile, by position. A profile that appeared
/// after the positions were read is left out (the index is then already
/// stale and will be rebuilt).
fn read_columns(
    conn: &Connection,
    position: &FxHashMap<i64, u32>,
    n: usize,
) -> Result<HashMap<&'static str, Column>, IndexError> {
    let select: Vec<String> = FIELDS
        .iter()
        .map(|f| format!("{}.{}", f.table, f.column))
        .collect();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT p.id, t.profile_id IS NOT NULL, {} FROM profiles p
               LEFT JOIN profile_traits t ON t.profile_id = p.id",
            select.join(", ")
        ))
        .map_err(sql(TRAIT_FIELDS_SQL_WHAT))?;
    let mut texts: Vec<DictBuilder> = FIELDS
        .iter()
        .map(|f| match f.kind {
            FieldType::Number | FieldType::Money => DictBuilder::default(),
            _ => DictBuilder::with_rows(n),
        })
        .collect();
    let mut numbers: Vec<Vec<f64>> = FIELDS
        .iter()
        .map(|f| match f.kind {
            FieldType::Number | FieldType::Money if f.zero_when_missing => vec![0.0; n],
            FieldType::Number | FieldType::Money => vec![f64::NAN; n],
            _ => Vec::new(),
        })
        .collect();
    let mut rows = stmt.query([]).map_err(sql(TRAIT_FIELDS_SQL_WHAT))?;
    while let Some(r) = rows.next().map_err(sql(TRAIT_FIELDS_SQL_WHAT))? {
        let id: i64 = r.get(0).map_err(sql(TRAIT_FIELDS_SQL_WHAT))?;
        let Some(&pos) = position.get(&id) else {
            continue;
        };
        let pos = pos as usize;
        let has_traits: bool = r.get(1).map_err(sql(TRAIT_FIELDS_SQL_WHAT))?;
        for (i, f) in FIELDS.iter().enumerate() {
            let v = r.get_ref(i + 2).map_err(sql(TRAIT_FIELDS_SQL_WHAT))?;
            match f.kind {
                FieldType::Number | FieldType::Money => {
                    numbers[i][pos] = match v {
                        rusqlite::types::ValueRef::Integer(n) => n as f64,
                        rusqlite::types::ValueRef::Real(x) => x,
                        _ if f.zero_when_missing && !has_traits => 0.0,
                        _ => f64::NAN,
                    };
                }
                _ => match v {
                    rusqlite::types::ValueRef::Text(t) => {
                        texts[i].set(pos, &String::from_utf8_lossy(t))
                    }
                    rusqlite::types::ValueRef::Integer(n) => texts[i].set(pos, &n.to_string()),
                    _ => {}
                },
            }
        }
    }
    let mut columns = HashMap::new();
    for (i, f) in FIELDS.iter().enumerate() {
        let column = match f.kind {
            FieldType::Number | FieldType::Money => Column::Number(std::mem::take(&mut numbers[i])),
            _ => Column::Dict(std::mem::take(&mut texts[i]).finish()),
        };
        columns.insert(f.name, column);
    }
    Ok(columns)
}

/// What the events reader gathers.
struct EventsPart {
    logs: HashMap<String, EventLog>,
    skus: Names,
    devices: Names,
    channels: Names,
    countries: Names,
    timelines: HashMap<String, Timeline>,
    prop_values: Names,
    out_of_range: bool,
}

/// The traits' rule: a cancellation time, or a voided or cancelled status.
pub(crate) fn is_cancelled(cancelled_at: Option<&str>, status: Option<&str>) -> bool {
    cancelled_at.is_some_and(|c| !c.is_empty())
        || status.is_some_and(|s| {
            s.eq_ignore_ascii_case("voided") || s.eq_ignore_ascii_case("cancelled")
        })
}

enum Filter<'a> {
    /// An interned column of the log (SKU, device, channel, country, a
    /// custom property) and which of its codes pass.
    Codes(&'a [u32], Vec<bool>),
    Value(NumTest),
    /// A custom property no event of the name has: missing for all.
    Always(bool),
}

/// Sorts a log by day with a counting sort: days span a few thousand
/// values, so this is two passes instead of a comparison sort of millions.
fn sort_by_day(log: &mut EventLog) {
    let order = counting_order(&log.day);
    fn permute<T: Copy>(v: &[T], order: &[u32]) -> Vec<T> {
        order.iter().map(|&i| v[i as usize]).collect()
    }
    log.day = permute(&log.day, &order);
    log.pos = permute(&log.pos, &order);
    log.sku = permute(&log.sku, &order);
    log.device = permute(&log.device, &order);
    log.channel = permute(&log.channel, &order);
    log.country = permute(&log.country, &order);
    log.value = if log.value.iter().all(|&v| v == i64::MIN) {
        Vec::new()
    } else {
        permute(&log.value, &order)
    };
    for (_, column) in log.props.iter_mut() {
        *column = permute(column, &order);
    }
}

/// The stable order of `days` ascending.
fn counting_order(days: &[u32]) -> Vec<u32> {
    let (Some(&lo), Some(&hi)) = (days.iter().min(), days.iter().max()) else {
        return Vec::new();
    };
    let mut starts = vec![0u32; (hi - lo) as usize + 2];
    for &d in days {
        starts[(d - lo) as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut order = vec![0u32; days.len()];
    for (i, &d) in days.iter().enumerate() {
        let slot = &mut starts[(d - lo) as usize];
        order[*slot as usize] = i as u32;
        *slot += 1;
    }
    order
}

/// The first day of "the last `days` days": today and the `days − 1`
/// before it (see `rules`).
fn window_start_day(today: u32, days: u32) -> u32 {
    today.saturating_sub(days.saturating_sub(1))
}

fn window_start_text(today: u32, days: u32) -> String {
    let day = window_start_day(today, days) as i64;
    let date = chrono::DateTime::from_timestamp(day * 86_400, 0)
        .unwrap_or_default()
        .date_naive();
    format!("{}T00:00:00Z", date.format("%Y-%m-%d"))
}

/// Profiles by how many matching events or orders they have. "Did not"
/// is "none"; "at most N" and "exactly 0" include profiles with none.
fn counted(did: bool, count: Count, counts: &[u32]) -> RoaringBitmap {
    let n = counts.len();
    let k = count.value;
    match (did, count.op) {
        (false, _) => bitmap_where(n, |pos| counts[pos] == 0),
        (true, CountOp::AtLeast) => bitmap_where(n, |pos| counts[pos] >= k),
        (true, CountOp::AtMost) => bitmap_where(n, |pos| counts[pos] <= k),
        (true, CountOp::Exactly) => bitmap_where(n, |pos| counts[pos] == k),
    }
}

/// A numeric comparison; missing (NaN) passes only `is_empty`, `ne` and
/// `not_in`. An enum rather than a closure so that the scan over a million
/// values is one tight, inlined loop.
#[derive(Debug, Clone)]
enum NumTest {
    /// One of the values (a list is a few values a marketer typed: a
    /// linear search beats hashing).
    In(Vec<f64>),
    NotIn(Vec<f64>),
    Never,
    Missing,
    Present,
    Between(f64, f64),
    Eq(f64),
    Ne(f64),
    Lt(f64),
    Le(f64),
    Gt(f64),
    Ge(f64),
}

impl NumTest {
    #[inline(always)]
    fn test(&self, v: f64) -> bool {
        match *self {
            NumTest::In(ref xs) => xs.contains(&v),
            NumTest::NotIn(ref xs) => v.is_nan() || !xs.contains(&v),
            NumTest::Never => false,
            NumTest::Missing => v.is_nan(),
            NumTest::Present => !v.is_nan(),
            NumTest::Between(lo, hi) => v >= lo && v <= hi,
            NumTest::Eq(x) => v == x,
            NumTest::Ne(x) => v.is_nan() || v != x,
            NumTest::Lt(x) => v < x,
            NumTest::Le(x) => v <= x,
            NumTest::Gt(x) => v > x,
            NumTest::Ge(x) => v >= x,
        }
    }
}

fn number_test(
    op: Op,
    value: &serde_json::Value,
    num: impl Fn(&serde_json::Value) -> Option<f64>,
) -> NumTest {
    let one = num(value);
    let pair = value
        .as_array()
        .and_then(|a| Some((num(a.first()?)?, num(a.get(1)?)?)));
    let list = || -> Option<Vec<f64>> { value.as_array()?.iter().map(&num).collect() };
    match (op, one, pair) {
        (Op::In, _, _) => list().map_or(NumTest::Never, NumTest::In),
        (Op::NotIn, _, _) => list().map_or(NumTest::Never, NumTest::NotIn),
        (Op::IsEmpty, _, _) => NumTest::Missing,
        (Op::IsSet, _, _) => NumTest::Present,
        (Op::Between, _, Some((lo, hi))) => NumTest::Between(lo, hi),
        (Op::Eq, Some(x), _) => NumTest::Eq(x),
        (Op::Ne, Some(x), _) => NumTest::Ne(x),
        (Op::Lt, Some(x), _) => NumTest::Lt(x),
        (Op::Le, Some(x), _) => NumTest::Le(x),
        (Op::Gt, Some(x), _) => NumTest::Gt(x),
        (Op::Ge, Some(x), _) => NumTest::Ge(x),
        _ => NumTest::Never,
    }
}

/// A numeric column scanned with one test, monomorphised per test kind.
fn number_bitmap(values: &[f64], t: NumTest) -> RoaringBitmap {
    macro_rules! scan {
        ($f:expr) => {
            bitmap_where(values.len(), |pos| $f(values[pos]))
        };
    }
    match t {
        NumTest::In(xs) => scan!(|v: f64| xs.contains(&v)),
        NumTest::NotIn(xs) => scan!(|v: f64| v.is_nan() || !xs.contains(&v)),
        NumTest::Never => RoaringBitmap::new(),
        NumTest::Missing => scan!(|v: f64| v.is_nan()),
        NumTest::Present => scan!(|v: f64| !v.is_nan()),
        NumTest::Between(lo, hi) => scan!(|v: f64| v >= lo && v <= hi),
        NumTest::Eq(x) => scan!(|v: f64| v == x),
        NumTest::Ne(x) => scan!(|v: f64| v.is_nan() || v != x),
        NumTest::Lt(x) => scan!(|v: f64| v < x),
        NumTest::Le(x) => scan!(|v: f64| v <= x),
        NumTest::Gt(x) => scan!(|v: f64| v > x),
        NumTest::Ge(x) => scan!(|v: f64| v >= x),
    }
}

/// A text test ignoring ASCII case, and whether a missing value passes.
/// A rule's value as text (numbers as written).
fn text_value(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A test on one text value.
type TextTest = Box<dyn Fn(&str) -> bool>;

fn text_test(op: Op, value: &serde_json::Value) -> (TextTest, bool) {
    let lower = |v: &serde_json::Value| -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.to_ascii_lowercase()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let list: Vec<String> = match value {
        serde_json::Value::Array(a) => a.iter().filter_map(lower).collect(),
        v => lower(v).into_iter().collect(),
    };
    let one = list.first().cloned().unwrap_or_default();
    match op {
        Op::Eq => (Box::new(move |v: &str| v.eq_ignore_ascii_case(&one)), false),
        Op::Ne => (Box::new(move |v: &str| !v.eq_ignore_ascii_case(&one)), true),
        Op::In => (
            Box::new(move |v: &str| list.iter().any(|x| v.eq_ignore_ascii_case(x))),
            false,
        ),
        Op::NotIn => (
            Box::new(move |v: &str| !list.iter().any(|x| v.eq_ignore_ascii_case(x))),
            true,
        ),
        // Without allocating: this runs once per distinct value, which for
        // emails is once per profile.
        Op::Contains => {
            // Most stored text (emails above all) is lower case already:
            // search it directly; fold only values with capitals.
            let finder = memchr::memmem::Finder::new(one.as_bytes()).into_owned();
            (
                Box::new(move |v: &str| {
                    let h = v.as_bytes();
                    if h.iter().any(u8::is_ascii_uppercase) {
                        finder.find(h.to_ascii_lowercase().as_slice()).is_some()
                    } else {
                        finder.find(h).is_some()
                    }
                }),
                false,
            )
        }
        Op::StartsWith => (
            Box::new(move |v: &str| {
                v.as_bytes()
                    .get(..one.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(one.as_bytes()))
            }),
            false,
        ),
        Op::IsEmpty => (Box::new(|v: &str| v.is_empty()), true),
        Op::IsSet => (Box::new(|v: &str| !v.is_empty()), false),
        _ => (Box::new(|_: &str| false), false),
    }
}

/// Per channel, the consent ledger's status (`profile_consent`, the view the
/// SQL compiler reads too): 1 granted, 2 denied, 0 no evidence.
fn read_consent(
    conn: &Connection,
    position: &FxHashMap<i64, u32>,
    n: usize,
) -> Result<[Vec<u8>; 3], IndexError> {
    const WHAT: &str = "read consent for the segment index";
    let mut consent = [vec![0u8; n], vec![0u8; n], vec![0u8; n]];
    let mut stmt = conn
        .prepare("SELECT profile_id, channel, status FROM profile_consent")
        .map_err(sql(WHAT))?;
    let mut rows = stmt.query([]).map_err(sql(WHAT))?;
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        let Some(&pos) = position.get(&r.get::<_, i64>(0).map_err(sql(WHAT))?) else {
            continue;
        };
        let channel = match r.get_ref(1).map_err(sql(WHAT))?.as_str() {
            Ok("email") => 0,
            Ok("sms") => 1,
            _ => 2,
        };
        consent[channel][pos as usize] = match r.get_ref(2).map_err(sql(WHAT))?.as_str() {
            Ok("granted") => 1,
            _ => 2,
        };
    }
    Ok(consent)
}

/// Customer keys (to one profile, or `None` when several share the key)
/// and devices `(source, anonymous id)`, to positions.
type Owners = (
    FxHashMap<String, Option<u32>>,
    FxHashMap<(i64, String), u32>,
);

/// Who events belong to, as the traits scan decides: a customer key that
/// names exactly one profile's contacts, else the device's profile.
fn record_owners(conn: &Connection, position: &FxHashMap<i64, u32>) -> Result<Owners, IndexError> {
    const WHAT: &str = "read identity records for the segment index";
    let mut customers: FxHashMap<String, Option<u32>> = FxHashMap::default();
    let mut devices: FxHashMap<(i64, String), u32> = FxHashMap::default();
    let mut stmt = conn
        .prepare(
            "SELECT kind, source_id, source_key, profile_id FROM identity_records
              WHERE (kind = 'device' OR kind = 'contact') AND profile_id IS NOT NULL",
        )
        .map_err(sql(WHAT))?;
    let mut rows = stmt.query([]).map_err(sql(WHAT))?;
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        let Some(&pos) = position.get(&r.get::<_, i64>(3).map_err(sql(WHAT))?) else {
            continue;
        };
        let kind: String = r.get(0).map_err(sql(WHAT))?;
        let source: i64 = r.get(1).map_err(sql(WHAT))?;
        let key: String = r.get(2).map_err(sql(WHAT))?;
        if kind == "device" {
            devices.insert((source, key), pos);
        } else {
            customers
                .entry(key)
                .and_modify(|p| {
                    if *p != Some(pos) {
                        *p = None
                    }
                })
                .or_insert(Some(pos));
        }
    }
    Ok((customers, devices))
}

/// A position in no cluster of the run (profiles newer than the run).
const NO_CLUSTER: i64 = i64::MIN;

/// The latest clustering run's cluster per position.
#[derive(Debug, Default)]
struct Clusters {
    /// Id and creation time of the run, `None` before any run.
    run: Option<(i64, String)>,
    of: Vec<i64>,
}

/// The run cluster conditions are about (the compiler's
/// `(SELECT max(id) FROM cluster_runs)`), with its creation time: ids may
/// be reused after the latest run is deleted.
fn latest_run(conn: &Connection) -> Result<Option<(i64, String)>, IndexError> {
    conn.prepare_cached("SELECT id, created_at FROM cluster_runs ORDER BY id DESC LIMIT 1")
        .and_then(|mut stmt| {
            stmt.query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(sql("read the latest clustering run for the segment index"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segments::testkit::{self, NOW};
    use rusqlite::params;
    use serde_json::{json, Value};
    use std::collections::HashMap;

    fn def(root: Value) -> Definition {
        Definition::from_value(json!({"version": 1, "root": root})).unwrap()
    }

    fn all(conditions: Vec<Value>) -> Definition {
        def(json!({"match": "all", "conditions": conditions}))
    }

    /// The SQL answer and the index answer, which must be equal.
    fn both(conn: &Connection, index: &SegmentIndex, d: &Definition) -> (Vec<i64>, Vec<i64>) {
        let scale = compile::scale_of(&compile::workspace_currency(conn).unwrap());
        let compiled = compile::compile(conn, d, NOW, scale)
            .unwrap_or_else(|e| panic!("{}: {}", serde_json::to_string(d).unwrap(), e.message));
        let sql = compile::members(conn, &compiled).unwrap();
        let fast: Vec<i64> = index
            .ids_of(&index.evaluate(conn, d, NOW).unwrap())
            .collect();
        (sql, fast)
    }

    fn top(conn: &Connection, sql: &str) -> Value {
        use rusqlite::OptionalExtension;
        conn.query_row(sql, [], |r| {
            Ok(match r.get_ref(0)? {
                rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                rusqlite::types::ValueRef::Integer(n) => json!(n),
                rusqlite::types::ValueRef::Real(x) => json!(x),
                _ => Value::Null,
            })
        })
        .optional()
        .unwrap()
        .unwrap_or(Value::Null)
    }

    /// Every field with every operator its type allows, on values taken
    /// from the data, plus behaviour, orders, sequences, consent, clusters,
    /// segments and nesting: the index and SQL agree on every one.
    #[test]
    fn the_index_answers_exactly_what_sql_answers() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        let index = SegmentIndex::build(conn).unwrap();
        assert_eq!(index.profiles() as usize, testkit::all_profiles(conn).len());
        let mut cases: Vec<Definition> = Vec::new();
        for f in FIELDS {
            let table = if f.table == 'p' {
                "profiles"
            } else {
                "profile_traits"
            };
            let col = f.column;
            let common = top(
                conn,
                &format!(
                    "SELECT {col} FROM {table} WHERE {col} IS NOT NULL
                      GROUP BY {col} ORDER BY count(*) DESC, {col} LIMIT 1"
                ),
            );
            let median = top(
                conn,
                &format!(
                    "SELECT {col} FROM {table} WHERE {col} IS NOT NULL ORDER BY {col}
                      LIMIT 1 OFFSET (SELECT count({col}) / 2 FROM {table})"
                ),
            );
            for &op in f.kind.ops() {
                if common.is_null() && !matches!(op, Op::IsEmpty | Op::IsSet) {
                    continue;
                }
                let money = |v: &Value| match (f.kind, v) {
                    (FieldType::Money, Value::Number(n)) => json!(n.as_f64().unwrap() / 100.0),
                    _ => v.clone(),
                };
                let value = match op {
                    Op::IsEmpty | Op::IsSet => Value::Null,
                    Op::InLastDays | Op::MoreThanDaysAgo => json!(90),
                    Op::Between => json!([money(&median), money(&common)]),
                    Op::In | Op::NotIn
                        if matches!(f.kind, FieldType::Number | FieldType::Money) =>
                    {
                        json!([money(&common), money(&median)])
                    }
                    Op::In | Op::NotIn => json!([common.clone(), "zz-none"]),
                    Op::Contains | Op::StartsWith => match &common {
                        Value::String(s) => {
                            json!(s.chars().take(2).collect::<String>().to_uppercase())
                        }
                        v => v.clone(),
                    },
                    _ if f.kind == FieldType::Date => match &median {
                        Value::String(s) => json!(s[..10.min(s.len())]),
                        v => v.clone(),
                    },
                    _ => money(&common),
                };
                if value.is_null() && !matches!(op, Op::IsEmpty | Op::IsSet) {
                    continue;
                }
                if op == Op::Between && (value[0].is_null() || value[1].is_null()) {
                    continue;
                }
                let mut c = json!({"type": "field", "field": f.name, "op": op, "value": value});
                if op == Op::Between {
                    // From ≤ to.
                    let (a, b) = (c["value"][0].clone(), c["value"][1].clone());
                    let swap = match (&a, &b) {
                        (Value::Number(x), Value::Number(y)) => x.as_f64() > y.as_f64(),
                        (Value::String(x), Value::String(y)) => x > y,
                        _ => false,
                    };
                    if swap {
                        c["value"] = json!([b, a]);
                    }
                }
                cases.push(all(vec![c]));
            }
        }
        let events = [
            json!({"type": "event", "did": true, "event": "view_item", "within_days": 90}),
            json!({"type": "event", "did": false, "event": "view_item", "within_days": 30}),
            json!({"type": "event", "did": true, "event": "page_view", "count": {"op": "at_least", "value": 3}}),
            json!({"type": "event", "did": true, "event": "page_view", "count": {"op": "at_most", "value": 2}, "within_days": 365}),
            json!({"type": "event", "did": true, "event": "add_to_cart", "count": {"op": "exactly", "value": 1}}),
            json!({"type": "event", "did": true, "event": "add_to_cart", "count": {"op": "exactly", "value": 0}, "within_days": 60}),
            json!({"type": "event", "did": true, "event": "view_item", "filters": [
                {"property": "category", "op": "eq", "value": top(conn, "SELECT category FROM products GROUP BY category ORDER BY count(*) DESC LIMIT 1")}]}),
            json!({"type": "event", "did": true, "event": "view_item", "filters": [
                {"property": "category", "op": "ne", "value": top(conn, "SELECT category FROM products GROUP BY category ORDER BY count(*) DESC LIMIT 1")}]}),
            json!({"type": "event", "did": true, "event": "view_item", "filters": [
                {"property": "brand", "op": "in", "value": [top(conn, "SELECT brand FROM products GROUP BY brand ORDER BY count(*) DESC LIMIT 1")]}]}),
            json!({"type": "event", "did": true, "event": "page_view", "filters": [
                {"property": "device", "op": "eq", "value": top(conn, "SELECT device FROM events WHERE device IS NOT NULL GROUP BY device ORDER BY count(*) DESC LIMIT 1")}], "within_days": 180}),
            json!({"type": "event", "did": true, "event": "session_start", "filters": [
                {"property": "channel", "op": "ne", "value": "ORGANIC"}]}),
            json!({"type": "event", "did": true, "event": "page_view", "filters": [
                {"property": "country", "op": "is_empty"}], "within_days": 365}),
            json!({"type": "event", "did": true, "event": "view_item", "filters": [
                {"property": "category", "op": "not_in", "value": ["zz"]}, {"property": "device", "op": "is_set"}]}),
            json!({"type": "event", "did": true, "event": "purchase", "filters": [
                {"property": "value", "op": "gt", "value": 50}]}),
            json!({"type": "event", "did": true, "event": "view_item", "filters": [
                {"property": "properties.item_category", "op": "eq", "value": top(conn, "SELECT json_extract(properties, '$.item_category') FROM events WHERE name = 'view_item' LIMIT 1")}],
                "count": {"op": "at_least", "value": 2}}),
            json!({"type": "event", "did": true, "event": "page_view", "filters": [
                {"property": "properties.geo.city", "op": "ne", "value": top(conn, "SELECT json_extract(properties, '$.\"geo.city\"') FROM events LIMIT 1")}], "within_days": 365}),
            json!({"type": "event", "did": false, "event": "page_view", "filters": [
                {"property": "properties.page_location", "op": "contains", "value": "PRODUCTS"}]}),
            json!({"type": "event", "did": true, "event": "view_item", "filters": [
                {"property": "sku", "op": "starts_with", "value": top(conn, "SELECT substr(sku, 1, 3) FROM events WHERE sku IS NOT NULL LIMIT 1")}]}),
            json!({"type": "order", "did": true, "metric": "count", "count": {"op": "at_least", "value": 2}, "within_days": 365}),
            json!({"type": "order", "did": false, "metric": "count", "within_days": 90}),
            json!({"type": "order", "did": true, "metric": "count", "count": {"op": "at_most", "value": 1}}),
            json!({"type": "order", "did": true, "metric": "total", "op": "gt", "value": 100, "within_days": 365}),
            json!({"type": "order", "did": true, "metric": "total", "op": "lt", "value": 50}),
            json!({"type": "order", "did": true, "metric": "total", "op": "between", "value": [20, 200]}),
            json!({"type": "order", "did": false, "metric": "total", "op": "ge", "value": 100}),
            json!({"type": "order", "did": true, "metric": "count", "category": top(conn, "SELECT category FROM products GROUP BY category ORDER BY count(*) DESC LIMIT 1")}),
            json!({"type": "sequence", "first": "add_to_cart", "then": "purchase", "then_did": false, "within_hours": 24}),
            json!({"type": "sequence", "first": "view_item", "then": "add_to_cart", "then_did": true, "within_hours": 1, "in_last_days": 365}),
            // Sequences the index answers from its timelines: both
            // directions, windows, a gap of 0 (the same second), and one
            // name followed by itself.
            json!({"type": "sequence", "first": "add_to_cart", "then": "purchase", "then_did": true, "within_hours": 24, "in_last_days": 90}),
            json!({"type": "sequence", "first": "add_to_cart", "then": "purchase", "then_did": false, "within_hours": 2, "in_last_days": 30}),
            json!({"type": "sequence", "first": "view_item", "then": "add_to_cart", "then_did": false, "within_hours": 0}),
            json!({"type": "sequence", "first": "view_item", "then": "add_to_cart", "then_did": true, "within_hours": 0}),
            json!({"type": "sequence", "first": "page_view", "then": "page_view", "then_did": true, "within_hours": 1, "in_last_days": 180}),
            json!({"type": "sequence", "first": "page_view", "then": "page_view", "then_did": false, "within_hours": 0}),
            json!({"type": "sequence", "first": "view_item", "then": "no_such_event", "then_did": false, "within_hours": 5}),
            json!({"type": "sequence", "first": "no_such_event", "then": "view_item", "then_did": false, "within_hours": 5}),
            // Orders with a product or a category, from the order lines.
            json!({"type": "order", "did": true, "metric": "count", "sku": top(conn, "SELECT lower(sku) FROM order_lines WHERE sku IS NOT NULL GROUP BY sku ORDER BY count(*) DESC LIMIT 1")}),
            json!({"type": "order", "did": false, "metric": "count", "within_days": 365, "category": top(conn, "SELECT upper(category) FROM products GROUP BY category ORDER BY count(*) DESC LIMIT 1")}),
            json!({"type": "order", "did": true, "metric": "total", "op": "gt", "value": 60, "within_days": 730, "category": top(conn, "SELECT category FROM products GROUP BY category ORDER BY count(*) ASC LIMIT 1")}),
            json!({"type": "order", "did": true, "metric": "total", "op": "lt", "value": 40, "category": top(conn, "SELECT category FROM products GROUP BY category ORDER BY count(*) DESC LIMIT 1")}),
            json!({"type": "order", "did": true, "metric": "count", "count": {"op": "at_least", "value": 2},
                   "sku": top(conn, "SELECT l.sku FROM order_lines l JOIN products p ON p.sku = l.sku GROUP BY l.sku ORDER BY count(*) DESC LIMIT 1"),
                   "category": top(conn, "SELECT p.category FROM order_lines l JOIN products p ON p.sku = l.sku GROUP BY l.sku ORDER BY count(*) DESC LIMIT 1")}),
            json!({"type": "order", "did": true, "metric": "count", "sku": top(conn, "SELECT sku FROM order_lines WHERE sku IS NOT NULL LIMIT 1"), "category": "zz-none"}),
            json!({"type": "order", "did": true, "metric": "count", "count": {"op": "at_most", "value": 1}, "category": "  "}),
            // Custom properties with every text operator, and a key no
            // event of the name has.
            json!({"type": "event", "did": true, "event": "view_item", "filters": [
                {"property": "properties.item_category", "op": "in", "value": [top(conn, "SELECT upper(json_extract(properties, '$.item_category')) FROM events WHERE name = 'view_item' LIMIT 1"), "zz"]}],
                "within_days": 120}),
            json!({"type": "event", "did": true, "event": "view_item", "filters": [
                {"property": "properties.item_category", "op": "not_in", "value": [top(conn, "SELECT json_extract(properties, '$.item_category') FROM events WHERE name = 'view_item' LIMIT 1")]}]}),
            json!({"type": "event", "did": true, "event": "view_item", "filters": [
                {"property": "properties.item_category", "op": "starts_with", "value": top(conn, "SELECT substr(json_extract(properties, '$.item_category'), 1, 2) FROM events WHERE name = 'view_item' LIMIT 1")}],
                "count": {"op": "exactly", "value": 1}}),
            json!({"type": "event", "did": true, "event": "page_view", "filters": [
                {"property": "properties.page_location", "op": "is_set"}], "count": {"op": "at_least", "value": 5}}),
            json!({"type": "event", "did": true, "event": "page_view", "filters": [
                {"property": "properties.page_location", "op": "is_empty"}]}),
            json!({"type": "event", "did": true, "event": "page_view", "filters": [
                {"property": "properties.no_such_key", "op": "ne", "value": "x"}], "within_days": 30}),
            json!({"type": "event", "did": true, "event": "page_view", "filters": [
                {"property": "properties.no_such_key", "op": "eq", "value": "x"}]}),
            json!({"type": "consent", "channel": "email", "status": "granted"}),
            json!({"type": "consent", "channel": "email", "status": "denied"}),
            json!({"type": "consent", "channel": "sms", "status": "unknown"}),
            json!({"type": "cluster", "cluster": top(conn, "SELECT cluster FROM cluster_members GROUP BY cluster ORDER BY count(*) DESC LIMIT 1")}),
            json!({"type": "cluster", "cluster": top(conn, "SELECT cluster FROM cluster_members GROUP BY cluster ORDER BY count(*) DESC LIMIT 1"), "negate": true}),
        ];
        for e in &events {
            cases.push(all(vec![e.clone()]));
        }
        // Nesting and negation.
        cases.push(def(json!({"match": "any", "negate": true, "conditions": [
            events[0].clone(), {"type": "field", "field": "country", "op": "eq", "value": "GB"}]})));
        cases.push(def(json!({"match": "all", "conditions": [
            {"type": "group", "match": "any", "conditions": [events[2].clone(), events[13].clone()]},
            {"type": "group", "match": "all", "negate": true, "conditions": [events[23].clone()]}]})));
        cases.push(def(json!({"match": "any", "conditions": []})));
        cases.push(def(json!({"match": "all", "conditions": []})));

        let mut nonempty = 0;
        for d in &cases {
            let (sql, fast) = both(conn, &index, d);
            if !sql.is_empty() {
                nonempty += 1;
            }
            assert_eq!(
                fast.len(),
                sql.len(),
                "{}: index {} vs SQL {}",
                serde_json::to_string(&d.root.conditions).unwrap(),
                fast.len(),
                sql.len()
            );
            assert_eq!(fast, sql, "{}", serde_json::to_string(&d.root).unwrap());
        }
        // Every condition above was answered by the index itself: nothing
        // went to the SQL fallback.
        assert!(
            index.sql_answers.lock().unwrap().is_empty(),
            "answered by SQL: {:?}",
            index.sql_answers.lock().unwrap().keys().collect::<Vec<_>>()
        );
        assert!(cases.len() > 150, "{} cases", cases.len());
        assert!(
            nonempty > cases.len() / 2,
            "{nonempty} of {} non-empty",
            cases.len()
        );
    }

    /// Custom event properties (columns of the export kept as JSON) give
    /// what a scan in Rust gives.
    #[test]
    fn custom_event_properties_match_a_count_in_rust() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        let props: HashMap<i64, Value> = {
            let mut stmt = conn
                .prepare("SELECT id, properties FROM events WHERE properties IS NOT NULL")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .unwrap()
                .map(|r| r.unwrap())
                .map(|(id, text)| (id, serde_json::from_str(&text).unwrap()))
                .collect()
        };
        let events = testkit::events(conn);
        let category = events
            .iter()
            .filter(|e| e.name == "view_item")
            .find_map(|e| props.get(&e.id)?.get("item_category")?.as_str())
            .expect("the demo's product views carry a category")
            .to_owned();
        let mut views: HashMap<i64, u32> = HashMap::new();
        for e in &events {
            let Some(p) = e.profile else { continue };
            let cat = props
                .get(&e.id)
                .and_then(|v| v.get("item_category"))
                .and_then(|v| v.as_str());
            if e.name == "view_item" && cat.is_some_and(|c| c.eq_ignore_ascii_case(&category)) {
                *views.entry(p).or_default() += 1;
            }
        }
        let mut expected: Vec<i64> = views
            .iter()
            .filter(|(_, &n)| n >= 2)
            .map(|(&p, _)| p)
            .collect();
        expected.sort_unstable();
        assert!(!expected.is_empty());
        let d = all(vec![
            json!({"type": "event", "did": true, "event": "view_item",
            "filters": [{"property": "properties.item_category", "op": "eq",
                         "value": category.to_uppercase()}],
            "count": {"op": "at_least", "value": 2}}),
        ]);
        let index = SegmentIndex::build(conn).unwrap();
        let (sql, fast) = both(conn, &index, &d);
        assert_eq!(sql, expected);
        assert_eq!(fast, expected);
        let sentence = crate::segments::describe::describe(conn, &d, "USD");
        assert!(sentence.contains("item_category"), "{sentence}");
    }

    /// Edges the demo data rarely has: custom property values of every
    /// JSON type (numbers as SQLite writes them, booleans, nested objects,
    /// null, text that is not JSON), events at the very same second, and
    /// a `then` event exactly at the end of the gap. The index agrees with
    /// SQL on all of them, without asking SQL.
    #[test]
    fn timelines_and_custom_properties_agree_with_sql_on_edge_cases() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        let props = [
            r#"{"x": 2.5, "y": "Big"}"#,
            r#"{"x": 7, "y": true}"#,
            r#"{"x": 1e20, "y": false}"#,
            r#"{"x": {"b": 1, "a": [1, 2]}, "y": null}"#,
            r#"{"x": null}"#,
            r#"{"x": ""}"#,
            r#"not json"#,
            r#"[1, 2]"#,
            r#"{"x": 10000000000000000000000}"#,
        ];
        for (k, p) in props.iter().enumerate() {
            conn.execute(
                "UPDATE events SET properties = ?1 WHERE name = 'page_view' AND id % 10 = ?2",
                rusqlite::params![p, k as i64],
            )
            .unwrap();
        }
        // Ties: some page views moved to their device's first one.
        conn.execute_batch(
            "UPDATE events SET occurred_at = coalesce((SELECT min(e2.occurred_at) FROM events e2
                  WHERE e2.name = events.name AND e2.source_id = events.source_id
                    AND e2.anonymous_id = events.anonymous_id), occurred_at)
              WHERE name = 'page_view' AND id % 7 = 0;
             UPDATE events SET occurred_at = coalesce((SELECT strftime('%Y-%m-%dT%H:%M:%SZ',
                     max(a.occurred_at), '+2 hours') FROM events a
                  WHERE a.name = 'add_to_cart' AND a.source_id = events.source_id
                    AND a.anonymous_id = events.anonymous_id), occurred_at)
              WHERE name = 'purchase' AND id % 3 = 0;",
        )
        .unwrap();
        let index = SegmentIndex::build(conn).unwrap();
        let mut cases = Vec::new();
        for (op, value) in [
            ("eq", json!("2.5")),
            ("eq", json!("1.0e+20")),
            ("eq", json!(7)),
            ("eq", json!("1")),
            ("eq", json!("0")),
            ("contains", json!("\"b\":1")),
            ("starts_with", json!("{")),
            ("ne", json!("2.5")),
            ("in", json!(["7", "big"])),
            ("not_in", json!(["7"])),
            ("is_empty", Value::Null),
            ("is_set", Value::Null),
        ] {
            for key in ["properties.x", "properties.y"] {
                cases.push(all(vec![
                    json!({"type": "event", "did": true, "event": "page_view",
                    "filters": [{"property": key, "op": op, "value": value}]}),
                ]));
            }
        }
        for (first, then, did, hours) in [
            ("page_view", "page_view", true, 0),
            ("page_view", "page_view", false, 0),
            ("add_to_cart", "purchase", true, 2),
            ("add_to_cart", "purchase", false, 2),
            ("add_to_cart", "purchase", true, 1),
        ] {
            cases.push(all(vec![
                json!({"type": "sequence", "first": first, "then": then,
                "then_did": did, "within_hours": hours}),
            ]));
        }
        let mut nonempty = 0;
        for d in &cases {
            let (sql, fast) = both(conn, &index, d);
            nonempty += usize::from(!sql.is_empty());
            assert_eq!(fast, sql, "{}", serde_json::to_string(&d.root).unwrap());
        }
        assert!(nonempty > cases.len() / 2, "{nonempty} of {}", cases.len());
        assert!(index.sql_answers.lock().unwrap().is_empty());
    }

    /// Event times outside what u32 seconds hold send sequences to SQL
    /// (and the answer is still SQL's).
    #[test]
    fn sequences_fall_back_to_sql_for_times_out_of_range() {
        let (_dir, ws) = testkit::demo();
        let conn = ws.conn();
        conn.execute(
            "UPDATE events SET occurred_at = '2150-01-01T00:00:00Z'
              WHERE id = (SELECT min(id) FROM events WHERE name = 'purchase')",
            [],
        )
        .unwrap();
        let index = SegmentIndex::build(conn).unwrap();
        assert!(index.times_out_of_range);
        let d = all(vec![json!({"type": "sequence", "first": "add_to_cart",
            "then": "purchase", "then_did": false, "within_hours": 24})]);
        let (sql, fast) = both(conn, &index, &d);
        assert_eq!(fast, sql);
        assert_eq!(index.sql_answers.lock().unwrap().len(), 1);
    }

    /// Segment conditions: static members, a dynamic segment's rule, and
    /// a dynamic segment that refers to another.
    #[test]
    fn segment_membership_agrees_with_sql() {
        let (_dir, mut ws) = testkit::demo();
        let gb = all(vec![
            json!({"type": "field", "field": "country", "op": "eq", "value": "GB"}),
        ]);
        let inner = crate::segments::save_dynamic(ws.conn_mut(), "GB", &gb, None, NOW).unwrap();
        let buyers = all(vec![
            json!({"type": "field", "field": "orders", "op": "ge", "value": 1}),
        ]);
        let snap =
            crate::segments::save_static_from_rule(ws.conn_mut(), "Buyers", &buyers, None, NOW)
                .unwrap();
        let outer = all(vec![
            json!({"type": "segment", "segment": inner.id}),
            json!({"type": "segment", "segment": snap.id, "negate": true}),
        ]);
        let conn = ws.conn();
        let index = SegmentIndex::build(conn).unwrap();
        let (sql, fast) = both(conn, &index, &outer);
        assert!(!sql.is_empty());
        assert_eq!(fast, sql);
    }

    /// Saves a clustering run at `created_at` that puts each profile in
    /// cluster `id % clusters`.
    fn add_run(conn: &Connection, created_at: &str, clusters: i64) {
        conn.execute(
            "INSERT INTO cluster_runs (created_at, algorithm, features, params, result)
                  VALUES (?1, 'kmeans', '[]', '{}', '{}')",
            params![created_at],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO cluster_members (run_id, profile_id, cluster)
                  SELECT last_insert_rowid(), id, id % ?1 FROM profiles",
            params![clusters],
        )
        .unwrap();
    }

    /// Clustering runs and static snapshots are saved without an import,
    /// so the index (not rebuilt: its fingerprint still holds) must notice
    /// a new run or a new snapshot and answer from it, as SQL does.
    #[test]
    fn held_clusters_and_snapshots_follow_new_runs_and_snapshots() {
        let (_dir, mut ws) = testkit::demo();
        let buyers = all(vec![
            json!({"type": "field", "field": "orders", "op": "ge", "value": 1}),
        ]);
        let snap =
            crate::segments::save_static_from_rule(ws.conn_mut(), "Buyers", &buyers, None, NOW)
                .unwrap();
        add_run(ws.conn(), "2026-01-01T00:00:00Z", 2);
        let rule = all(vec![
            json!({"type": "group", "match": "any", "conditions": [
                {"type": "segment", "segment": snap.id},
                {"type": "cluster", "cluster": 1},
            ]}),
            json!({"type": "cluster", "cluster": 0, "negate": true}),
        ]);
        let index = SegmentIndex::build(ws.conn()).unwrap();
        let (sql, fast) = both(ws.conn(), &index, &rule);
        assert!(!sql.is_empty());
        assert_eq!(fast, sql);

        // A new run with three clusters, a new snapshot of a narrower rule.
        add_run(ws.conn(), "2026-01-02T00:00:00Z", 3);
        let big_buyers = all(vec![
            json!({"type": "field", "field": "orders", "op": "ge", "value": 3}),
        ]);
        crate::segments::update_definition(ws.conn_mut(), snap.id, &big_buyers, NOW).unwrap();
        assert_eq!(Fingerprint::read(ws.conn()).unwrap(), index.fingerprint);
        let (sql_after, fast_after) = both(ws.conn(), &index, &rule);
        assert_ne!(
            sql_after, sql,
            "the run and the snapshot changed the answer"
        );
        assert_eq!(fast_after, sql_after);

        // The latest run deleted: its predecessor counts again.
        ws.conn()
            .execute_batch(
                "DELETE FROM cluster_members WHERE run_id = (SELECT max(id) FROM cluster_runs);
                 DELETE FROM cluster_runs WHERE id = (SELECT max(id) FROM cluster_runs);",
            )
            .unwrap();
        let (sql_back, fast_back) = both(ws.conn(), &index, &rule);
        assert_eq!(fast_back, sql_back);
    }

    /// A refresh of dynamic segments through the index leaves exactly the
    /// members the SQL refresh would: the SQL refresh after it finds no
    /// one to move.
    #[test]
    fn a_refresh_through_the_index_agrees_with_sql() {
        let (_dir, mut ws) = testkit::demo();
        let rules = [
            all(vec![
                json!({"type": "event", "did": true, "event": "view_item", "within_days": 120}),
            ]),
            all(vec![
                json!({"type": "order", "did": true, "metric": "total", "op": "gt", "value": 80}),
                json!({"type": "consent", "channel": "email", "status": "granted"}),
            ]),
        ];
        for (i, rule) in rules.iter().enumerate() {
            let empty = def(json!({"match": "any", "conditions": []}));
            crate::segments::save_dynamic(ws.conn_mut(), &format!("S{i}"), &empty, None, NOW)
                .unwrap();
            let id: i64 = ws
                .conn()
                .query_row("SELECT max(id) FROM segments", [], |r| r.get(0))
                .unwrap();
            ws.conn()
                .execute(
                    "UPDATE segments SET definition = ?1 WHERE id = ?2",
                    rusqlite::params![serde_json::to_string(rule).unwrap(), id],
                )
                .unwrap();
        }
        let index = SegmentIndex::build(ws.conn()).unwrap();
        let fast =
            crate::segments::refresh_dynamic_with(ws.conn_mut(), NOW, None, Some(&index)).unwrap();
        assert_eq!(fast.refreshed.len(), 2);
        assert!(fast.refreshed.iter().all(|r| r.entered > 0), "{fast:?}");
        let again = crate::segments::refresh_dynamic(ws.conn_mut(), NOW, None).unwrap();
        assert!(
            again
                .refreshed
                .iter()
                .all(|r| r.entered == 0 && r.exited == 0),
            "{again:?}"
        );
    }

    /// Live counts answer with SQL while the index builds, then with the
    /// index, and notice when the workspace changes.
    #[test]
    fn live_counts_fall_back_to_sql_and_then_use_a_current_index() {
        let (dir, ws) = testkit::demo();
        let path = dir.path().join("w.cohort");
        let live = super::super::live::LiveCounts::new();
        let d = all(vec![
            json!({"type": "event", "did": true, "event": "view_item", "within_days": 365}),
        ]);
        let first = live.count(ws.conn(), &path, &d, NOW, 5).unwrap();
        assert_eq!(first.engine, "sql");
        let mut engine = first.engine;
        for _ in 0..600 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let again = live.count(ws.conn(), &path, &d, NOW, 5).unwrap();
            assert_eq!(again.count, first.count);
            assert_eq!(again.sample.len(), first.sample.len());
            engine = again.engine;
            if engine == "index" {
                break;
            }
        }
        assert_eq!(engine, "index", "the background build finished");
        // A change to the settings (as a traits run makes) makes it stale.
        ws.conn()
            .execute("INSERT INTO settings (key, value) VALUES ('x', 'y')", [])
            .unwrap();
        assert_eq!(
            live.count(ws.conn(), &path, &d, NOW, 5).unwrap().engine,
            "sql"
        );
    }
}
