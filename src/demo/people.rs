//! The people behind the records: who they are, where they live, how they
//! can be reached, and what they buy when.
//!
//! People are made one at a time (two for households), in order of
//! acquisition, so that every counter-based id (Shopify customer id, order
//! number, HubSpot record id, …) grows with time as it does in the real
//! systems, and nothing about earlier people needs to be remembered except a
//! compact bit set that keeps emails and phone numbers unique.
//!
//! ## Purchase process
//! Repeat buying follows the BG/NBD model (Fader, Hardie & Lee, 2005): each
//! buyer has a purchase rate λ ~ Gamma(r = 0.9, α = 0.3 per year), i.e. a
//! mean of 3 purchases a year while active, and a dropout probability
//! p ~ Beta(a = 0.6, b = 2.2), mean 0.21. The first purchase happens at
//! acquisition; after each purchase the customer drops out with probability
//! p, otherwise the next purchase follows an exponential wait of rate λ;
//! purchases stop at `as_of`. With acquisitions spread over three years and
//! growing (three times as many in the last month as in the first), this
//! gives about 2.9 orders per buyer on average, 47% one-time buyers and a
//! long tail (0.7% of buyers with 20 orders or more). 66% of people buy at
//! all; the others are newsletter subscribers, leads and browsers.

use std::fmt::Write;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};

use super::calendar::{civil_from_days, DAY, YEAR};
use super::catalogue::{categories, Catalogue};
use super::names::{self, email_token, zipf_index, Culture, Gender};
use super::places::{self, Address, Company, Country, Phone};
use super::Noise;

/// Gamma shape `r` of the purchase rate.
const RATE_SHAPE: f64 = 0.9;
/// Gamma rate `α` of the purchase rate, per year.
const RATE_ALPHA: f64 = 0.3;
/// Beta parameters of the dropout probability.
const DROPOUT_A: f64 = 0.6;
const DROPOUT_B: f64 = 2.2;
/// Share of people who ever buy.
const BUYER_SHARE: f64 = 0.66;
/// Acquisitions per day grow by this factor over the three-year window.
const GROWTH: f64 = 3.0;
/// Chance of a typo in a CRM or newsletter email per unit of noise above 1.
const EMAIL_TYPO_PER_NOISE: f64 = 0.01;
/// Bounds memory per person; never reached with the parameters above in practice.
const MAX_ORDERS: usize = 200;

/// One human being; every source record in the demo belongs to exactly one.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    /// 0-based position in acquisition order; `P000000001` is index 0.
    pub index: u64,
    pub gender: Gender,
    pub culture: Culture,
    pub first: &'static str,
    pub last: String,
    pub birth: (i32, u32, u32),
    pub home: Address,
    /// Where the person lived before moving, and when they moved.
    pub previous: Option<(Address, i64)>,
    /// Personal email, lower case, unique among people (except a shared
    /// household address, which is a deliberate trap).
    pub email: String,
    /// A work address or an older personal one.
    pub alt_email: Option<String>,
    pub phone: Phone,
    pub company: Option<Company>,
    pub job_title: Option<&'static str>,
    /// One or two favourite categories.
    pub prefs: Vec<usize>,
    /// When the shop first met the person (sign-up or first purchase).
    pub acquired: i64,
    pub accepts_email: bool,
    pub accepts_sms: bool,
    /// Shopify customer accounts: none, one, or two when the person also
    /// checked out with another email address.
    pub accounts: Vec<Account>,
    pub hubspot: Option<HubspotContact>,
    pub mailchimp: Option<MailchimpMember>,
    pub orders: Vec<Order>,
    pub devices: Vec<Device>,
    /// Only tests look at this: the files carry no hint of it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub household: Household,
}

/// Look-alike traps for identity resolution: different people that share
/// things a careless matcher would merge on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Household {
    Single,
    /// Lives with the next person; they share an address and maybe a phone
    /// or an email.
    HeadOfCouple {
        shared_phone: bool,
        shared_email: bool,
    },
    /// Lives with the previous person.
    Partner {
        shared_phone: bool,
        shared_email: bool,
    },
    /// Same first and last name and city as the previous person.
    Namesake,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    /// 13-digit Shopify customer id.
    pub id: u64,
    /// As the customer typed it; orders carry exactly this string.
    pub email: String,
}

#[derive(Debug, Clone)]
pub(crate) struct HubspotContact {
    pub record_id: u64,
    /// The address the contact is filed under in the CRM.
    pub email: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct MailchimpMember {
    pub leid: u64,
    /// Ten hex digits, unique.
    pub euid: String,
    pub email: String,
    pub unsubscribed: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Order {
    /// `#1001` …
    pub number: u64,
    /// 13-digit Shopify order id.
    pub id: u64,
    pub at: i64,
    /// Index into the person's accounts.
    pub account: usize,
    pub lines: Vec<Line>,
    pub discount_code: &'static str,
    pub discount_cents: i64,
    pub shipping_cents: i64,
    pub shipping_method: &'static str,
    pub tax_cents: i64,
    pub tax_bp: i64,
    pub refunded_cents: i64,
    pub financial_status: &'static str,
    pub payment_method: &'static str,
    /// Shipped to the address the person had before moving.
    pub to_previous_address: bool,
}

impl Order {
    pub(crate) fn gross_cents(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| l.price_cents * i64::from(l.qty))
            .sum()
    }
    /// Shopify's Subtotal: line items less discounts.
    pub(crate) fn subtotal_cents(&self) -> i64 {
        self.gross_cents() - self.discount_cents
    }
    pub(crate) fn total_cents(&self) -> i64 {
        self.subtotal_cents() + self.shipping_cents + self.tax_cents
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub product: u32,
    pub qty: u32,
    pub price_cents: i64,
    /// This line's share of the order discount.
    pub discount_cents: i64,
}

/// A browser or app install that Google Analytics knows by a pseudo id.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    /// The first part of `user_pseudo_id`; unique.
    pub client: u64,
    /// First visit; the second part of `user_pseudo_id`.
    pub since: i64,
    pub category: &'static str,
    pub platform: &'static str,
    pub source: &'static str,
    pub medium: &'static str,
}

impl Device {
    pub(crate) fn pseudo_id(&self) -> String {
        format!("{}.{}", self.client, self.since)
    }
}

/// Remembers which emails and phone numbers are taken, in one bit each:
/// the same string always hashes to the same bit, so a real duplicate is
/// always caught; an unrelated string on a set bit only costs a redraw.
#[derive(Debug)]
pub(crate) struct Taken {
    bits: Vec<u64>,
    mask: u64,
}

impl Taken {
    pub(crate) fn for_people(people: u64) -> Self {
        // ~2.5 claims per person, kept under 1/16 load.
        let nbits = (people.saturating_mul(40)).next_power_of_two().max(1 << 16);
        Self {
            bits: vec![0; (nbits / 64) as usize],
            mask: nbits - 1,
        }
    }

    /// Takes `key` (case-insensitively); false if it (or a colliding key) was taken.
    pub(crate) fn claim(&mut self, key: &str) -> bool {
        let bit = hash_lower(key) & self.mask;
        let (word, b) = ((bit / 64) as usize, bit % 64);
        let was = self.bits[word] >> b & 1 == 1;
        self.bits[word] |= 1 << b;
        !was
    }
}

/// FNV-1a over the lower-cased bytes with a final avalanche: stable across
/// Rust versions, unlike `DefaultHasher`, so output stays reproducible.
fn hash_lower(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// A bijection on `bits`-bit numbers: turns a counter into an id that
/// looks random but can never repeat.
pub(crate) fn scramble(x: u64, bits: u32, key: u64) -> u64 {
    let mask = (1_u64 << bits) - 1;
    let mut v = (x ^ key) & mask;
    v = v.wrapping_mul(0x9E37_79B9_7F4A_7C15) & mask;
    v ^= v >> (bits / 2);
    v = v.wrapping_mul(0xBF58_476D_1CE4_E5B9) & mask;
    v ^= v >> (bits / 3);
    v
}

/// The id counters of every system, advanced as people are made.
#[derive(Debug)]
struct Counters {
    shopify_customer: u64,
    shopify_order: u64,
    order_number: u64,
    hubspot: u64,
    leid: u64,
    euid: u64,
    device: u64,
}

/// Makes people one after another.
pub(crate) struct Population<'a> {
    catalogue: &'a Catalogue,
    people: u64,
    next_index: u64,
    window_start: i64,
    as_of: i64,
    taken: Taken,
    ids: Counters,
    euid_key: u64,
    device_key: u64,
    pending: Option<Person>,
    rate: Gamma<f64>,
    dropout: Beta<f64>,
    noise: Noise,
}

impl<'a> Population<'a> {
    pub(crate) fn new(
        catalogue: &'a Catalogue,
        people: u64,
        as_of: i64,
        seed: u64,
        noise: Noise,
    ) -> Self {
        Self {
            catalogue,
            people,
            next_index: 0,
            window_start: as_of - (3.0 * YEAR) as i64,
            as_of,
            taken: Taken::for_people(people),
            ids: Counters {
                shopify_customer: 6_104_270_000_000 + seed % 1_000_000,
                shopify_order: 5_021_530_000_000 + seed % 1_000_000,
                order_number: 1000,
                hubspot: 20_100_000_000 + seed % 100_000,
                leid: 100_000_000 + seed % 1_000_000,
                euid: 0,
                device: 0,
            },
            euid_key: mix(seed ^ 0xE0E0),
            device_key: mix(seed ^ 0xDE71CE),
            pending: None,
            rate: Gamma::new(RATE_SHAPE, 1.0 / RATE_ALPHA).expect("valid gamma"),
            dropout: Beta::new(DROPOUT_A, DROPOUT_B).expect("valid beta"),
            noise,
        }
    }

    /// The next person in acquisition order, `None` when all are made.
    pub(crate) fn next(&mut self, rng: &mut ChaCha8Rng) -> Option<Person> {
        if let Some(p) = self.pending.take() {
            return Some(p);
        }
        if self.next_index >= self.people {
            return None;
        }
        let index = self.next_index;
        let room_for_two = index + 1 < self.people;
        let roll = rng.random::<f64>();
        let household = if room_for_two && roll < 0.03 {
            Household::HeadOfCouple {
                shared_phone: rng.random_bool(0.5),
                shared_email: rng.random_bool(0.4),
            }
        } else if room_for_two && roll < 0.04 {
            Household::Namesake
        } else {
            Household::Single
        };
        let head = self.make(rng, index, household, None);
        self.next_index += 1;
        if household != Household::Single {
            let role = match household {
                Household::HeadOfCouple {
                    shared_phone,
                    shared_email,
                } => Household::Partner {
                    shared_phone,
                    shared_email,
                },
                other => other,
            };
            let partner = self.make(rng, index + 1, role, Some(&head));
            self.next_index += 1;
            self.pending = Some(partner);
        }
        Some(head)
    }

    fn make(
        &mut self,
        rng: &mut ChaCha8Rng,
        index: u64,
        household: Household,
        other: Option<&Person>,
    ) -> Person {
        let (country, culture, gender, first, last, home) = match (household, other) {
            (Household::Namesake, Some(o)) => {
                let home = Address::in_city(rng, o.home.country, o.home.city);
                (
                    o.home.country,
                    o.culture,
                    o.gender,
                    o.first,
                    o.last.clone(),
                    home,
                )
            }
            (Household::Partner { .. }, Some(o)) => {
                let gender = if rng.random_bool(0.85) {
                    flip(o.gender)
                } else {
                    o.gender
                };
                let culture = if rng.random_bool(0.8) {
                    o.culture
                } else {
                    places::pick_culture(rng, o.home.country)
                };
                let first = loop {
                    let f = names::first_name(rng, culture, gender);
                    if f != o.first {
                        break f;
                    }
                };
                let last = if rng.random_bool(0.75) {
                    o.last.clone()
                } else {
                    names::last_name(rng, culture)
                };
                (o.home.country, culture, gender, first, last, o.home.clone())
            }
            _ => {
                let country = places::pick_country(rng);
                let culture = places::pick_culture(rng, country);
                let gender = if rng.random_bool(0.5) {
                    Gender::Female
                } else {
                    Gender::Male
                };
                let first = names::first_name(rng, culture, gender);
                let last = names::last_name(rng, culture);
                (
                    country,
                    culture,
                    gender,
                    first,
                    last,
                    Address::random(rng, country),
                )
            }
        };
        let acquired = self.acquisition_time(rng, index);
        let birth = self.birth_date(rng);
        let previous = rng.random_bool(0.08).then(|| {
            let moved_at =
                acquired + ((self.as_of - acquired) as f64 * rng.random_range(0.1..0.9)) as i64;
            let before = if rng.random_bool(0.6) {
                Address::in_city(rng, country, home.city)
            } else {
                Address::random(rng, country)
            };
            (before, moved_at)
        });

        let phone = match (household, other) {
            (
                Household::Partner {
                    shared_phone: true, ..
                },
                Some(o),
            ) => o.phone.clone(),
            _ => self.unique_phone(rng, country, &home),
        };
        let company = rng.random_bool(0.35).then(|| places::company(rng, country));
        let job_title = (company.is_some() || rng.random_bool(0.3))
            .then(|| places::JOB_TITLES[rng.random_range(0..places::JOB_TITLES.len())]);
        let nick = names::nicknames(first);
        let nick = (!nick.is_empty()).then(|| nick[rng.random_range(0..nick.len())]);
        let email = match household {
            Household::HeadOfCouple {
                shared_email: true, ..
            } => self.household_email(rng, country, &last),
            _ => self.personal_email(rng, country, first, nick, &last, birth.0),
        };
        let alt_email = match &company {
            Some(c) => Some(self.work_email(rng, c, first, &last)),
            None => rng
                .random_bool(0.2)
                .then(|| self.personal_email(rng, country, first, nick, &last, birth.0)),
        };
        let mut prefs = vec![self.catalogue.pick_category(rng)];
        if rng.random_bool(0.5) {
            let second = self.catalogue.pick_category(rng);
            if second != prefs[0] {
                prefs.push(second);
            }
        }

        let buyer = rng.random_bool(BUYER_SHARE);
        let in_shopify = buyer || rng.random_bool(0.35);
        let mut in_hubspot = rng.random_bool(if company.is_some() { 0.75 } else { 0.5 });
        let mut in_mailchimp = rng.random_bool(if buyer { 0.75 } else { 0.6 });
        // The head of a couple sharing an email is left out of the CRM: the
        // partner is filed there under the shared address, and HubSpot keeps
        // one contact per email.
        match household {
            Household::HeadOfCouple {
                shared_email: true, ..
            } => in_hubspot = false,
            Household::Partner {
                shared_email: true, ..
            } => in_hubspot = true,
            _ => {}
        }
        if !in_shopify && !in_hubspot && !in_mailchimp {
            in_mailchimp = true;
        }
        let unsubscribed = in_mailchimp && rng.random_bool(0.1);
        let accepts_email = if in_mailchimp && !unsubscribed {
            rng.random_bool(0.92)
        } else {
            rng.random_bool(0.1)
        };
        let accepts_sms = rng.random_bool(0.15);

        let hubspot_email = match (household, other) {
            (
                Household::Partner {
                    shared_email: true, ..
                },
                Some(o),
            ) => Some(o.email.clone()),
            _ => {
                let email = match &alt_email {
                    Some(alt) if company.is_some() && rng.random_bool(0.5) => alt.clone(),
                    _ => email.clone(),
                };
                (!rng.random_bool(0.03)).then(|| case_variant(rng, &email, self.noise.p(0.05)))
            }
        }
        .map(|email| self.mistyped(rng, email));
        let hubspot = in_hubspot.then(|| {
            self.ids.hubspot += rng.random_range(1..=1500);
            HubspotContact {
                record_id: self.ids.hubspot,
                email: hubspot_email,
            }
        });
        let mailchimp = in_mailchimp.then(|| {
            self.ids.leid += rng.random_range(1..=40);
            let euid = format!("{:010x}", scramble(self.ids.euid, 40, self.euid_key));
            self.ids.euid += 1;
            let chosen = match &alt_email {
                Some(alt) if rng.random_bool(0.15) => alt.as_str(),
                _ => email.as_str(),
            };
            let email = case_variant(rng, chosen, self.noise.p(0.03));
            MailchimpMember {
                leid: self.ids.leid,
                euid,
                email: self.mistyped(rng, email),
                unsubscribed,
            }
        });

        let mut person = Person {
            index,
            gender,
            culture,
            first,
            last,
            birth,
            home,
            previous,
            email,
            alt_email,
            phone,
            company,
            job_title,
            prefs,
            acquired,
            accepts_email,
            accepts_sms,
            accounts: Vec::new(),
            hubspot,
            mailchimp,
            orders: Vec::new(),
            devices: Vec::new(),
            household,
        };
        if in_shopify {
            self.ids.shopify_customer += rng.random_range(1..=4096);
            let email = case_variant(rng, &person.email, self.noise.p(0.03));
            person.accounts.push(Account {
                id: self.ids.shopify_customer,
                email,
            });
        }
        if buyer {
            self.purchases(rng, &mut person);
        }
        let browses = rng.random_bool(if buyer { 0.82 } else { 0.5 });
        if browses {
            self.devices(rng, &mut person);
        }
        person
    }

    /// An email as a secondary system (CRM, newsletter) recorded it: above
    /// the usual noise, sometimes with a typo. Draws nothing at noise 1.
    fn mistyped(&self, rng: &mut ChaCha8Rng, email: String) -> String {
        match self.noise.extra(EMAIL_TYPO_PER_NOISE) {
            Some(p) if rng.random_bool(p) => email_typo(rng, &email),
            _ => email,
        }
    }

    /// Acquisition times follow the person's rank through a growing density:
    /// the share of acquisitions before time u (0..1 of the window) is
    /// (GROWTH^u − 1)/(GROWTH − 1).
    fn acquisition_time(&self, rng: &mut ChaCha8Rng, index: u64) -> i64 {
        let q = (index as f64 + rng.random::<f64>()) / self.people as f64;
        let u = (1.0 + q * (GROWTH - 1.0)).ln() / GROWTH.ln();
        let window = (self.as_of - self.window_start - DAY) as f64;
        let day = (self.window_start + (u * window) as i64).div_euclid(DAY);
        (day * DAY + time_of_day(rng)).min(self.as_of - 60)
    }

    fn birth_date(&self, rng: &mut ChaCha8Rng) -> (i32, u32, u32) {
        let age =
            18.0 + (rng.random::<f64>() + rng.random::<f64>()) * 25.0 + rng.random::<f64>() * 7.0;
        let days = self.as_of.div_euclid(DAY) - (age * 365.25) as i64;
        civil_from_days(days)
    }

    fn unique_phone(&mut self, rng: &mut ChaCha8Rng, country: &Country, home: &Address) -> Phone {
        let mut phone = Phone::mobile(rng, country, home.city);
        for _ in 0..8 {
            if self.taken.claim(&phone.e164()) {
                break;
            }
            phone = Phone::mobile(rng, country, home.city);
        }
        phone
    }

    fn personal_email(
        &mut self,
        rng: &mut ChaCha8Rng,
        country: &Country,
        first: &str,
        nick: Option<&str>,
        last: &str,
        birth_year: i32,
    ) -> String {
        let f = email_token(first);
        let l = email_token(last);
        let yy = birth_year.rem_euclid(100);
        let initial = &f[..f.char_indices().nth(1).map_or(f.len(), |(i, _)| i)];
        let base = match rng.random_range(0..100) {
            0..=27 => format!("{f}.{l}"),
            28..=39 => format!("{f}{l}"),
            40..=49 => format!("{initial}{l}"),
            50..=54 => format!("{f}_{l}"),
            55..=64 => format!("{f}.{l}{yy:02}"),
            65..=72 => format!("{f}{l}{yy:02}"),
            73..=77 => match nick {
                Some(n) => format!("{}.{l}", email_token(n)),
                None => format!("{f}.{l}"),
            },
            78..=81 => format!("{l}.{f}"),
            82..=86 => format!("{f}{birth_year}"),
            87..=91 => format!("{initial}.{l}"),
            _ => format!("{f}.{l}{}", rng.random_range(1..1000)),
        };
        self.claim_email(rng, &base, |rng| {
            country.email_domains[zipf_index(rng, country.email_domains.len(), 1.3)].to_string()
        })
    }

    fn work_email(
        &mut self,
        rng: &mut ChaCha8Rng,
        company: &Company,
        first: &str,
        last: &str,
    ) -> String {
        let f = email_token(first);
        let l = email_token(last);
        let base = match rng.random_range(0..4) {
            0 | 1 => format!("{f}.{l}"),
            2 => format!("{}{l}", &f[..1.min(f.len())]),
            _ => f,
        };
        let domain = company.domain.clone();
        self.claim_email(rng, &base, |_| domain.clone())
    }

    fn household_email(&mut self, rng: &mut ChaCha8Rng, country: &Country, last: &str) -> String {
        let l = email_token(last);
        let base = match rng.random_range(0..3) {
            0 => format!("the{l}s"),
            1 => format!("{l}family"),
            _ => format!("{l}.home"),
        };
        self.claim_email(rng, &base, |rng| {
            country.email_domains[zipf_index(rng, country.email_domains.len(), 1.3)].to_string()
        })
    }

    /// `base@domain` if free, else with a few digits added, until unique.
    fn claim_email(
        &mut self,
        rng: &mut ChaCha8Rng,
        base: &str,
        mut domain: impl FnMut(&mut ChaCha8Rng) -> String,
    ) -> String {
        let mut email = format!("{base}@{}", domain(rng));
        for attempt in 0..10 {
            if self.taken.claim(&email) {
                return email;
            }
            let digits = match attempt {
                0..=3 => rng.random_range(1..100),
                _ => rng.random_range(100..100_000),
            };
            email = format!("{base}{digits}@{}", domain(rng));
        }
        // Practically unreachable; the person index makes it unique anyway.
        format!("{base}.{}@{}", self.next_index, domain(rng))
    }

    /// Orders of one buyer under the BG/NBD process (see the module docs).
    fn purchases(&mut self, rng: &mut ChaCha8Rng, person: &mut Person) {
        let lambda = self.rate.sample(rng).max(1e-3);
        let p = self.dropout.sample(rng);
        let wait = Exp::new(lambda).expect("positive rate");
        let mut times = vec![person.acquired];
        let mut t = person.acquired;
        while times.len() < MAX_ORDERS && !rng.random_bool(p) {
            let gap: f64 = wait.sample(rng) * YEAR;
            let next = t + gap as i64;
            // Keep the date, redraw the hour: people shop in the evening.
            let next = (next.div_euclid(DAY) * DAY + time_of_day(rng)).max(t + 600);
            if next >= self.as_of {
                break;
            }
            times.push(next);
            t = next;
        }

        // Some repeat buyers check out once with their other address, which
        // makes Shopify open a second customer account for them.
        let second_from = match &person.alt_email {
            Some(alt) if times.len() >= 2 && rng.random_bool(0.2) => {
                self.ids.shopify_customer += rng.random_range(1..=4096);
                person.accounts.push(Account {
                    id: self.ids.shopify_customer,
                    email: alt.clone(),
                });
                Some(rng.random_range(1..times.len()))
            }
            _ => None,
        };

        for (k, &at) in times.iter().enumerate() {
            let account = match second_from {
                Some(from) if k == from || (k > from && rng.random_bool(0.5)) => 1,
                _ => 0,
            };
            let order = self.order(rng, person, k, at, account);
            person.orders.push(order);
        }
    }

    fn order(
        &mut self,
        rng: &mut ChaCha8Rng,
        person: &Person,
        k: usize,
        at: i64,
        account: usize,
    ) -> Order {
        let mut lines: Vec<Line> = Vec::with_capacity(4);
        let wanted = match rng.random_range(0..100) {
            0..=44 => 1,
            45..=74 => 2,
            75..=89 => 3,
            _ => 4,
        };
        let mut tries = 0;
        while lines.len() < wanted && tries < 12 {
            tries += 1;
            // Category affinity: mostly the person's favourites, else what
            // is popular shop-wide.
            let product = if rng.random_bool(0.7) {
                let cat = person.prefs[rng.random_range(0..person.prefs.len())];
                self.catalogue.pick_in_category(rng, cat)
            } else {
                self.catalogue.pick_popular(rng)
            };
            if lines.iter().any(|l| l.product == product) {
                continue;
            }
            push_line(rng, self.catalogue, &mut lines, product);
            if let Some(companion) = self.catalogue.product(product).companion {
                if lines.len() < 4
                    && rng.random_bool(0.4)
                    && !lines.iter().any(|l| l.product == companion)
                {
                    push_line(rng, self.catalogue, &mut lines, companion);
                }
            }
        }
        let gross: i64 = lines.iter().map(|l| l.price_cents * i64::from(l.qty)).sum();

        let (_, m, d) = civil_from_days(at.div_euclid(DAY));
        let (discount_code, discount_cents) = if k == 0 && rng.random_bool(0.2) {
            ("WELCOME10", gross / 10)
        } else if rng.random_bool(0.1) {
            if m == 11 && d >= 20 {
                ("BFCM25", gross / 4)
            } else {
                match rng.random_range(0..4) {
                    0 => ("SPRING15", gross * 15 / 100),
                    1 => ("SUMMER20", gross / 5),
                    2 => ("VIP15", gross * 15 / 100),
                    _ if gross >= 5000 => ("SAVE10", 1000),
                    _ => ("", 0),
                }
            }
        } else {
            ("", 0)
        };
        // Spread the discount over the lines, the remainder on the last one.
        if discount_cents > 0 {
            let mut left = discount_cents;
            let n = lines.len();
            for (i, line) in lines.iter_mut().enumerate() {
                let share = if i + 1 == n {
                    left
                } else {
                    discount_cents * line.price_cents * i64::from(line.qty) / gross
                };
                line.discount_cents = share;
                left -= share;
            }
        }
        let subtotal = gross - discount_cents;

        let to_previous_address = matches!(&person.previous, Some((_, moved)) if at < *moved);
        let address = match (&person.previous, to_previous_address) {
            (Some((a, _)), true) => a,
            _ => &person.home,
        };
        let (free_from, standard, intl) = match address.country.code {
            "US" => (7_500, 695, false),
            "CA" => (15_000, 1_295, true),
            _ => (20_000, 1_995, true),
        };
        let (shipping_method, shipping_cents) = if !intl && rng.random_bool(0.08) {
            ("Express Shipping", 1_995)
        } else if subtotal >= free_from {
            ("Free Shipping", 0)
        } else if intl {
            ("International Shipping", standard)
        } else {
            ("Standard Shipping", standard)
        };
        let tax_bp = if address.country.code == "US" {
            address.city.tax_bp
        } else {
            0
        };
        let tax_cents = (subtotal * tax_bp + 5_000) / 10_000;
        let total = subtotal + shipping_cents + tax_cents;
        let (financial_status, refunded_cents) = match rng.random_range(0..1000) {
            0..=19 => ("refunded", total),
            20..=44 => ("partially_refunded", total * rng.random_range(20..60) / 100),
            _ => ("paid", 0),
        };
        let payment_method = match rng.random_range(0..100) {
            0..=77 => "Shopify Payments",
            78..=97 => "PayPal Express Checkout",
            _ => "Gift Card",
        };
        self.ids.order_number += 1;
        self.ids.shopify_order += rng.random_range(1..=2048);
        Order {
            number: self.ids.order_number,
            id: self.ids.shopify_order,
            at,
            account,
            lines,
            discount_code,
            discount_cents,
            shipping_cents,
            shipping_method,
            tax_cents,
            tax_bp,
            refunded_cents,
            financial_status,
            payment_method,
            to_previous_address,
        }
    }

    fn devices(&mut self, rng: &mut ChaCha8Rng, person: &mut Person) {
        let count = match rng.random_range(0..100) {
            0..=54 => 1,
            55..=89 => 2,
            _ => 3,
        };
        let mut used: Vec<&'static str> = Vec::new();
        for k in 0..count {
            let category = loop {
                let c = match rng.random_range(0..100) {
                    0..=44 => "desktop",
                    45..=89 => "mobile",
                    _ => "tablet",
                };
                if !used.contains(&c) || used.len() >= 3 {
                    break c;
                }
            };
            used.push(category);
            let platform = match (category, rng.random_range(0..100)) {
                ("desktop", _) => "WEB",
                ("mobile", 0..=74) | ("tablet", 0..=79) => "WEB",
                ("mobile", 75..=87) | ("tablet", _) => "IOS",
                _ => "ANDROID",
            };
            // The first device was used to look around before the first
            // purchase or sign-up; later ones turn up afterwards.
            let since = if k == 0 {
                person.acquired - 3600 - rng.random_range(0..30 * DAY)
            } else {
                person.acquired
                    + ((self.as_of - person.acquired) as f64 * rng.random::<f64>() * 0.9) as i64
            };
            let (source, medium) = match rng.random_range(0..100) {
                0..=29 => ("google", "organic"),
                30..=51 => ("(direct)", "(none)"),
                52..=64 => ("google", "cpc"),
                65..=74 => ("newsletter", "email"),
                75..=84 => ("facebook", "paid_social"),
                85..=91 => ("instagram", "social"),
                92..=95 => ("bing", "organic"),
                _ => ("strava.com", "referral"),
            };
            let client = 1_000_000_000 + scramble(self.ids.device, 31, self.device_key);
            self.ids.device += 1;
            person.devices.push(Device {
                client,
                since,
                category,
                platform,
                source,
                medium,
            });
        }
    }
}

fn push_line(rng: &mut ChaCha8Rng, catalogue: &Catalogue, lines: &mut Vec<Line>, product: u32) {
    let p = catalogue.product(product);
    let max_qty = categories()[p.category].max_qty;
    let qty = match (max_qty, rng.random_range(0..100)) {
        (0 | 1, _) => 1,
        (2, 0..=84) => 1,
        (2, _) => 2,
        (_, 0..=49) => 1,
        (_, 50..=74) => 2,
        (m, _) => rng.random_range(3..=m),
    };
    lines.push(Line {
        product,
        qty,
        price_cents: p.price_cents,
        discount_cents: 0,
    });
}

fn flip(g: Gender) -> Gender {
    match g {
        Gender::Female => Gender::Male,
        Gender::Male => Gender::Female,
    }
}

/// Seconds after midnight UTC for an action in the shop's (US Eastern)
/// evening-heavy rhythm; five hours' offset is close enough for a demo.
pub(crate) fn time_of_day(rng: &mut ChaCha8Rng) -> i64 {
    const WEIGHTS: [f64; 24] = [
        1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 3.0, 3.5, 3.8, 4.0, 4.2, 4.0, 3.8, 3.8, 4.0, 4.5,
        5.5, 6.5, 7.0, 6.5, 4.5, 2.5,
    ];
    let total: f64 = WEIGHTS.iter().sum();
    let mut x = rng.random::<f64>() * total;
    let mut hour = 23;
    for (h, w) in WEIGHTS.iter().enumerate() {
        if x < *w {
            hour = h;
            break;
        }
        x -= w;
    }
    let local = hour as i64 * 3600 + rng.random_range(0..3600);
    (local + 5 * 3600) % DAY
}

/// The same address with different capitalisation, as some people type it:
/// `John.Smith@Gmail.com`.
pub(crate) fn case_variant(rng: &mut ChaCha8Rng, email: &str, p: f64) -> String {
    if !rng.random_bool(p) {
        return email.to_string();
    }
    if rng.random_bool(0.2) {
        return email.to_uppercase();
    }
    // Capitals at the start of each name part and of the domain only.
    let mut out = String::with_capacity(email.len());
    let mut start = true;
    let mut in_domain = false;
    for c in email.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        in_domain |= c == '@';
        start = c == '@' || (!in_domain && matches!(c, '.' | '_'));
    }
    out
}

/// One slip of the finger before the `@` (`jonh.smith@gmail.com`), keeping
/// the address valid: a slip that would double a dot or leave one at an end
/// is tried again, a few times, then given up.
pub(crate) fn email_typo(rng: &mut ChaCha8Rng, email: &str) -> String {
    let Some((local, domain)) = email.split_once('@') else {
        return email.to_string();
    };
    for _ in 0..4 {
        let t = names::typo(rng, local);
        if t != local && !t.contains("..") && !t.starts_with('.') && !t.ends_with('.') {
            return format!("{t}@{domain}");
        }
    }
    email.to_string()
}

/// `P000000123`
pub(crate) fn person_id(index: u64, out: &mut String) {
    let _ = write!(out, "P{:09}", index + 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn scramble_is_a_bijection() {
        let mut seen = std::collections::HashSet::new();
        for x in 0..(1 << 12) {
            assert!(seen.insert(scramble(x, 12, 77)));
        }
        assert!(seen.iter().all(|&v| v < 1 << 12));
    }

    #[test]
    fn taken_catches_duplicates_case_insensitively() {
        let mut t = Taken::for_people(10);
        assert!(t.claim("John.Smith@gmail.com"));
        assert!(!t.claim("john.smith@GMAIL.com"));
    }

    #[test]
    fn email_typos_keep_the_address_valid() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut changed = 0;
        for email in [
            "john.smith@gmail.com",
            "j.doe84@web.de",
            "ab.c@x.org",
            "abc@x.org",
        ] {
            for _ in 0..200 {
                let t = email_typo(&mut rng, email);
                let (local, domain) = t.split_once('@').unwrap();
                assert_eq!(domain, email.split_once('@').unwrap().1);
                assert!(!local.contains("..") && !local.starts_with('.') && !local.ends_with('.'));
                assert!(local.len().abs_diff(email.find('@').unwrap()) <= 1, "{t}");
                changed += usize::from(t != email);
            }
        }
        assert!(changed > 500, "{changed}");
    }

    /// People whose HubSpot or Mailchimp email is none of their own
    /// addresses, in any case.
    fn mistyped_emails(noise: f64) -> (usize, usize) {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut crng = ChaCha8Rng::seed_from_u64(10);
        let cat = Catalogue::build(&mut crng);
        let as_of = super::super::calendar::days_from_civil(2026, 11, 1) * DAY;
        let mut pop = Population::new(&cat, 5_000, as_of, 9, Noise::new(noise));
        let (mut emails, mut mistyped) = (0, 0);
        while let Some(p) = pop.next(&mut rng) {
            if matches!(
                p.household,
                Household::Partner {
                    shared_email: true,
                    ..
                }
            ) {
                continue;
            }
            let own = |e: &str| {
                e.eq_ignore_ascii_case(&p.email)
                    || p.alt_email
                        .as_deref()
                        .is_some_and(|a| e.eq_ignore_ascii_case(a))
            };
            let recorded = p.hubspot.iter().filter_map(|h| h.email.as_deref());
            for e in recorded.chain(p.mailchimp.iter().map(|m| m.email.as_str())) {
                emails += 1;
                mistyped += usize::from(!own(e));
            }
            for a in &p.accounts {
                assert!(own(&a.email), "Shopify keeps the address as typed");
            }
        }
        (emails, mistyped)
    }

    #[test]
    fn email_typos_only_above_the_usual_noise() {
        let (_, none) = mistyped_emails(1.0);
        assert_eq!(none, 0);
        let (emails, mistyped) = mistyped_emails(5.0);
        // 4% at noise 5, less the slips a short address cannot take.
        let share = mistyped as f64 / emails as f64;
        assert!((0.025..0.055).contains(&share), "{share}");
    }

    #[test]
    fn people_are_unique_and_consistent() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut crng = ChaCha8Rng::seed_from_u64(10);
        let cat = Catalogue::build(&mut crng);
        let as_of = super::super::calendar::days_from_civil(2026, 11, 1) * DAY;
        let mut pop = Population::new(&cat, 3_000, as_of, 9, Noise::new(1.0));
        let mut emails = std::collections::HashSet::new();
        let mut n = 0;
        let mut last_acq = 0;
        while let Some(p) = pop.next(&mut rng) {
            assert_eq!(p.index, n);
            n += 1;
            if !matches!(
                p.household,
                Household::Partner {
                    shared_email: true,
                    ..
                }
            ) {
                assert!(emails.insert(p.email.clone()), "duplicate {}", p.email);
            }
            assert!(p.acquired < as_of);
            assert!(p.acquired + DAY > last_acq, "acquisitions in order");
            last_acq = p.acquired;
            for o in &p.orders {
                assert!(o.at < as_of && o.at >= p.acquired);
                assert!(!o.lines.is_empty() && o.lines.len() <= 4);
                let d: i64 = o.lines.iter().map(|l| l.discount_cents).sum();
                assert_eq!(d, o.discount_cents);
                assert!(o.subtotal_cents() >= 0);
            }
            assert!(!p.accounts.is_empty() || p.hubspot.is_some() || p.mailchimp.is_some());
        }
        assert_eq!(n, 3_000);
    }
}
