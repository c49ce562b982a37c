//! What a person's devices send to Google Analytics: browsing sessions
//! concentrated on the person's favourite categories, and a checkout session
//! ending in a `purchase` at the exact time of each tracked order.
//!
//! `user_id` is the Shopify customer id, sent only while the visitor is
//! logged in: a device starts anonymous, and once its owner logs in (at
//! checkout, or now and then when browsing) it usually stays logged in. The
//! anonymous hits before that share the device's `user_pseudo_id` with the
//! logged-in ones, which is what lets identity resolution stitch them.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::calendar::DAY;
use super::catalogue::Catalogue;
use super::people::{time_of_day, Person};

/// One row of the flattened export: an event, or one item of an event that
/// carries several (`begin_checkout` and `purchase` repeat the event's
/// fields, `value` included, on each item's row, as `UNNEST(items)` does).
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub at_us: i64,
    pub name: &'static str,
    /// Index into the person's devices.
    pub device: usize,
    pub user_id: Option<u64>,
    /// `ga_session_id`: the session's start, in seconds.
    pub session: i64,
    pub page: Page,
    /// Product index and quantity.
    pub item: Option<(u32, u32)>,
    pub value_cents: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    Home,
    Collection(usize),
    Product(u32),
    Cart,
    Checkout(u64),
    ThankYou(u64),
}

struct Visit {
    start: i64,
    device: usize,
    order: Option<usize>,
}

/// Appends the person's hits, in time order, to `out` (which is cleared).
pub(crate) fn hits(
    person: &Person,
    catalogue: &Catalogue,
    as_of: i64,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Hit>,
) {
    out.clear();
    if person.devices.is_empty() {
        return;
    }
    let devices = &person.devices;
    let mut visits = Vec::new();
    // A look around before signing up or buying, on the first device.
    if rng.random_bool(0.5) {
        visits.push(Visit {
            start: devices[0].since,
            device: 0,
            order: None,
        });
    }
    // Every later device shows up with a first visit of its own.
    for (device, d) in devices.iter().enumerate().skip(1) {
        if d.since < as_of - 2 * 3600 {
            visits.push(Visit {
                start: d.since,
                device,
                order: None,
            });
        }
    }
    // Most orders are tracked; ad blockers and declined consent hide the rest.
    for (k, order) in person.orders.iter().enumerate() {
        if !rng.random_bool(0.75) {
            continue;
        }
        let usable: Vec<usize> = (0..devices.len())
            .filter(|&d| devices[d].since + 3600 <= order.at)
            .collect();
        let device = if usable.len() > 1 && rng.random_bool(0.5) {
            usable[rng.random_range(0..usable.len())]
        } else {
            usable.first().copied().unwrap_or(0)
        };
        visits.push(Visit {
            start: order.at,
            device,
            order: Some(k),
        });
    }
    let browse_mean = if person.orders.is_empty() {
        0.8
    } else {
        0.2 + 0.15 * person.orders.len() as f64
    };
    let mut browses = Poisson::new(browse_mean)
        .expect("positive mean")
        .sample(rng) as usize;
    if person.orders.is_empty() {
        browses += 1;
    }
    for _ in 0..browses {
        let device = rng.random_range(0..devices.len());
        let lo = devices[device].since;
        let hi = as_of - 2 * 3600;
        if lo >= hi {
            continue;
        }
        let at = lo + ((hi - lo) as f64 * rng.random::<f64>()) as i64;
        let start = (at.div_euclid(DAY) * DAY + time_of_day(rng)).clamp(lo, hi);
        visits.push(Visit {
            start,
            device,
            order: None,
        });
    }
    visits.sort_by_key(|v| v.start);

    let mut logged_in: Vec<Option<u64>> = vec![None; devices.len()];
    for visit in &visits {
        match visit.order {
            Some(k) => purchase_visit(person, k, visit.device, &mut logged_in, rng, out),
            None => browse_visit(person, catalogue, visit, &mut logged_in, rng, out),
        }
    }
    out.sort_by_key(|h| h.at_us);
}

fn browse_visit(
    person: &Person,
    catalogue: &Catalogue,
    visit: &Visit,
    logged_in: &mut [Option<u64>],
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Hit>,
) {
    let d = visit.device;
    let user_id = match logged_in[d] {
        // Sessions expire now and then; the device stays known.
        Some(id) => rng.random_bool(0.9).then_some(id),
        None if visit.start >= person.acquired
            && !person.accounts.is_empty()
            && rng.random_bool(0.12) =>
        {
            logged_in[d] = Some(person.accounts[0].id);
            logged_in[d]
        }
        None => None,
    };
    let mut t = visit.start * 1_000_000 + rng.random_range(0..1_000_000);
    let session = visit.start;
    let favourite = person.prefs[rng.random_range(0..person.prefs.len())];
    let landing = if rng.random_bool(0.5) {
        Page::Home
    } else {
        Page::Collection(favourite)
    };
    let hit = |out: &mut Vec<Hit>, t: i64, name, page, item: Option<(u32, u32)>, value| {
        out.push(Hit {
            at_us: t,
            name,
            device: d,
            user_id,
            session,
            page,
            item,
            value_cents: value,
        });
    };
    hit(out, t, "session_start", landing, None, None);
    hit(out, t + 1_000, "page_view", landing, None, None);
    let views = match rng.random_range(0..100) {
        0..=24 => 0,
        25..=59 => 1,
        60..=84 => 2,
        _ => 3,
    };
    let mut last = None;
    for _ in 0..views {
        t += rng.random_range(8..120) * 1_000_000;
        let product = if rng.random_bool(0.75) {
            let category = person.prefs[rng.random_range(0..person.prefs.len())];
            catalogue.pick_in_category(rng, category)
        } else {
            catalogue.pick_popular(rng)
        };
        let price = catalogue.product(product).price_cents;
        hit(out, t, "page_view", Page::Product(product), None, None);
        hit(
            out,
            t + 350_000,
            "view_item",
            Page::Product(product),
            Some((product, 1)),
            Some(price),
        );
        last = Some((product, price));
    }
    if let Some((product, price)) = last {
        if rng.random_bool(0.15) {
            t += rng.random_range(5..60) * 1_000_000;
            hit(
                out,
                t,
                "add_to_cart",
                Page::Product(product),
                Some((product, 1)),
                Some(price),
            );
            if rng.random_bool(0.5) {
                hit(
                    out,
                    t + rng.random_range(3..30) * 1_000_000,
                    "page_view",
                    Page::Cart,
                    None,
                    None,
                );
            }
        }
    }
}

fn purchase_visit(
    person: &Person,
    k: usize,
    d: usize,
    logged_in: &mut [Option<u64>],
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Hit>,
) {
    let order = &person.orders[k];
    let account = person.accounts.get(order.account).map(|a| a.id);
    // Anonymous until checkout unless the device remembers the login; most
    // account holders log in to check out, the rest check out as guests.
    let (before, after) = match (logged_in[d], account) {
        (Some(id), Some(acct)) => (Some(id), Some(acct)),
        (None, Some(acct)) if rng.random_bool(0.7) => (None, Some(acct)),
        (remembered, _) => (remembered, remembered),
    };
    if after.is_some() {
        logged_in[d] = after;
    }
    // Built with times relative to the session start (in microseconds),
    // then shifted so that the purchase lands on the order's timestamp.
    let first = out.len();
    let mut t = 0_i64;
    let step = |out: &mut Vec<Hit>, at_us, name, page, item, value_cents, user_id| {
        out.push(Hit {
            at_us,
            name,
            device: d,
            user_id,
            session: 0,
            page,
            item,
            value_cents,
        });
    };
    let landing = if rng.random_bool(0.6) {
        Page::Home
    } else {
        Page::Collection(person.prefs[0])
    };
    step(out, t, "session_start", landing, None, None, before);
    step(out, t + 1_000, "page_view", landing, None, None, before);
    for line in &order.lines {
        t += rng.random_range(10..150) * 1_000_000;
        let page = Page::Product(line.product);
        step(
            out,
            t,
            "view_item",
            page,
            Some((line.product, 1)),
            Some(line.price_cents),
            before,
        );
        t += rng.random_range(5..90) * 1_000_000;
        let value = line.price_cents * i64::from(line.qty);
        step(
            out,
            t,
            "add_to_cart",
            page,
            Some((line.product, line.qty)),
            Some(value),
            before,
        );
    }
    let token = order.id ^ 0x5A5A_5A5A;
    t += rng.random_range(20..200) * 1_000_000;
    for line in &order.lines {
        let item = Some((line.product, line.qty));
        step(
            out,
            t,
            "begin_checkout",
            Page::Checkout(token),
            item,
            Some(order.subtotal_cents()),
            after,
        );
    }
    t += rng.random_range(60..400) * 1_000_000;
    for line in &order.lines {
        let item = Some((line.product, line.qty));
        step(
            out,
            t,
            "purchase",
            Page::ThankYou(token),
            item,
            Some(order.total_cents()),
            after,
        );
    }
    let shift = order.at * 1_000_000 + rng.random_range(0..1_000_000) - t;
    let session = shift.div_euclid(1_000_000);
    for hit in &mut out[first..] {
        hit.at_us += shift;
        hit.session = session;
    }
}
