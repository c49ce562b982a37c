//! Where the demo customers live: countries, cities, street addresses,
//! postcodes and phone numbers that look right for each country.
//!
//! Phone numbers are drawn from ranges that libphonenumber accepts as valid
//! mobiles (North American numbers from real area codes with a valid
//! exchange), so that the import pipeline's phone normalisation is exercised
//! on numbers that pass, not on fiction ranges like 555-01xx.

use std::fmt::Write;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::names::{email_token, zipf_index, Culture};

/// How a country numbers its mobile phones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberPlan {
    /// US and Canada: area code, exchange, line.
    Nanp,
    Gb,
    De,
    Fr,
    Es,
    Au,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreetStyle {
    /// `123 Maple Ave`
    American,
    /// `12 High Street`
    British,
    /// `Hauptstraße 12`
    German,
    /// `12 rue Victor Hugo`
    French,
    /// `Calle Mayor, 12`
    Spanish,
}

#[derive(Debug)]
pub(crate) enum Postcodes {
    /// Numeric codes from `lo` to `hi` in steps, zero-padded to `width`.
    Range {
        lo: u32,
        hi: u32,
        step: u32,
        width: usize,
    },
    /// British: an outward code from the list, then `9AA`.
    Outward(&'static [&'static str]),
    /// Canadian: a forward sortation area from the list, then `9A9`.
    Fsa(&'static [&'static str]),
}

#[derive(Debug)]
pub(crate) struct City {
    pub name: &'static str,
    /// The English name Google Analytics reports (`Munich` for `München`).
    pub english: &'static str,
    pub region_code: &'static str,
    pub region_name: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Mailchimp's GMTOFF/DSTOFF/TIMEZONE columns.
    pub gmtoff: &'static str,
    pub dstoff: &'static str,
    pub timezone: &'static str,
    pub postcodes: Postcodes,
    /// North American area codes; empty elsewhere.
    pub area_codes: &'static [u16],
    pub weight: f64,
    /// Sales tax in basis points (US only; exports abroad are tax-free).
    pub tax_bp: i64,
}

#[derive(Debug)]
pub(crate) struct Country {
    /// ISO 3166-1 alpha-2, as Shopify and Mailchimp write it.
    pub code: &'static str,
    /// The English name, as Google Analytics writes it.
    pub name: &'static str,
    /// Other ways people and tools write the country.
    pub spellings: &'static [&'static str],
    pub dial: &'static str,
    pub weight: f64,
    pub cultures: &'static [(Culture, f64)],
    pub cities: &'static [City],
    pub street_style: StreetStyle,
    pub plan: NumberPlan,
    /// Whether Shopify keeps a province code for addresses in this country.
    pub shopify_provinces: bool,
    /// Free-mail domains, most used first.
    pub email_domains: &'static [&'static str],
    pub tld: &'static str,
    pub company_suffixes: &'static [&'static str],
    /// First octets of consumer IP ranges, for Mailchimp's OPTIN_IP.
    pub ip_octets: &'static [u8],
}

pub(crate) fn pick_country(rng: &mut ChaCha8Rng) -> &'static Country {
    let total: f64 = COUNTRIES.iter().map(|c| c.weight).sum();
    let mut x = rng.random::<f64>() * total;
    for c in COUNTRIES {
        if x < c.weight {
            return c;
        }
        x -= c.weight;
    }
    &COUNTRIES[0]
}

pub(crate) fn pick_culture(rng: &mut ChaCha8Rng, country: &Country) -> Culture {
    let mut x = rng.random::<f64>();
    for &(culture, p) in country.cultures {
        if x < p {
            return culture;
        }
        x -= p;
    }
    country.cultures[0].0
}

pub(crate) fn pick_city(rng: &mut ChaCha8Rng, country: &'static Country) -> &'static City {
    let total: f64 = country.cities.iter().map(|c| c.weight).sum();
    let mut x = rng.random::<f64>() * total;
    for c in country.cities {
        if x < c.weight {
            return c;
        }
        x -= c.weight;
    }
    &country.cities[0]
}

/// A postal address, kept in parts so that each source can write it its own way.
#[derive(Debug, Clone)]
pub(crate) struct Address {
    pub country: &'static Country,
    pub city: &'static City,
    number: u32,
    street: &'static str,
    kind: (&'static str, &'static str),
    /// Address line 2 (flat, suite, floor); often empty.
    pub unit: String,
    pub zip: String,
}

impl Address {
    pub(crate) fn random(rng: &mut ChaCha8Rng, country: &'static Country) -> Self {
        let city = pick_city(rng, country);
        Self::in_city(rng, country, city)
    }

    pub(crate) fn in_city(
        rng: &mut ChaCha8Rng,
        country: &'static Country,
        city: &'static City,
    ) -> Self {
        let (names, kinds, unit_p) = streets(country.street_style);
        let street = names[rng.random_range(0..names.len())];
        let kind = kinds[zipf_index(rng, kinds.len(), 1.0)];
        let number = match country.street_style {
            StreetStyle::American => rng.random_range(1..=9_899),
            _ => rng.random_range(1..=180),
        };
        let unit = if rng.random_bool(unit_p) {
            unit(rng, country.street_style)
        } else {
            String::new()
        };
        let zip = postcode(rng, &city.postcodes);
        Self {
            country,
            city,
            number,
            street,
            kind,
            unit,
            zip,
        }
    }

    /// The first address line, spelled out (`Maple Avenue`) or abbreviated
    /// (`Maple Ave`). Americans abbreviate by habit, Europeans spell out.
    pub(crate) fn line1(&self, abbreviated: bool) -> String {
        let kind = if abbreviated {
            self.kind.1
        } else {
            self.kind.0
        };
        let n = self.number;
        let s = self.street;
        match self.country.street_style {
            StreetStyle::American | StreetStyle::British => format!("{n} {s} {kind}"),
            StreetStyle::German => format!("{s}{kind} {n}"),
            StreetStyle::French => format!("{n} {kind} {s}"),
            StreetStyle::Spanish => {
                if abbreviated {
                    format!("{kind} {s} {n}")
                } else {
                    format!("{kind} {s}, {n}")
                }
            }
        }
    }

    /// The line as the customer usually types it.
    pub(crate) fn usual_line1(&self) -> String {
        self.line1(self.country.street_style == StreetStyle::American)
    }

    /// The Shopify province code, where Shopify keeps one.
    pub(crate) fn province_code(&self) -> &'static str {
        if self.country.shopify_provinces {
            self.city.region_code
        } else {
            ""
        }
    }

    /// The postcode as some people type it: British and Canadian codes
    /// without the space or in lower case, US ZIP+4.
    pub(crate) fn zip_variant(&self, rng: &mut ChaCha8Rng) -> String {
        match self.city.postcodes {
            Postcodes::Outward(_) | Postcodes::Fsa(_) => {
                if rng.random_bool(0.5) {
                    self.zip.replace(' ', "")
                } else {
                    self.zip.to_lowercase()
                }
            }
            Postcodes::Range { width: 5, .. } if self.country.code == "US" => {
                format!("{}-{:04}", self.zip, rng.random_range(0..10_000))
            }
            Postcodes::Range { .. } => self.zip.clone(),
        }
    }
}

/// A phone number: the digits after the country code, without trunk prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Phone {
    pub plan: NumberPlan,
    pub dial: &'static str,
    pub national: String,
}

/// How many ways [`Phone::written`] knows to write a number.
pub(crate) const PHONE_STYLES: usize = 7;

impl Phone {
    pub(crate) fn mobile(rng: &mut ChaCha8Rng, country: &Country, city: &City) -> Self {
        let mut national = String::with_capacity(12);
        let digits = |rng: &mut ChaCha8Rng, out: &mut String, n: usize| {
            for _ in 0..n {
                out.push(char::from(b'0' + rng.random_range(0..10u8)));
            }
        };
        match country.plan {
            NumberPlan::Nanp => {
                let area = city.area_codes[rng.random_range(0..city.area_codes.len())];
                // Exchanges run 200–999; N11 codes are service numbers and
                // 555 is mostly reserved for fiction.
                let exchange = loop {
                    let e = rng.random_range(200..=999_u16);
                    if e % 100 != 11 && e != 555 {
                        break e;
                    }
                };
                let _ = write!(
                    national,
                    "{area}{exchange}{:04}",
                    rng.random_range(0..10_000)
                );
            }
            NumberPlan::Gb => {
                national
                    .push_str(GB_MOBILE_PREFIXES[rng.random_range(0..GB_MOBILE_PREFIXES.len())]);
                digits(rng, &mut national, 6);
            }
            NumberPlan::De => {
                let prefix = DE_MOBILE_PREFIXES[rng.random_range(0..DE_MOBILE_PREFIXES.len())];
                national.push_str(prefix);
                let count = if prefix.starts_with("15") {
                    8
                } else {
                    rng.random_range(7..=8)
                };
                digits(rng, &mut national, count);
            }
            NumberPlan::Fr => {
                if rng.random_bool(0.7) {
                    // 063x and 069x are only partly allocated; skip them.
                    national.push('6');
                    national.push(char::from(b"01245678"[rng.random_range(0..8)]));
                    digits(rng, &mut national, 7);
                } else {
                    national.push('7');
                    national.push(char::from(b'0' + rng.random_range(3..=9u8)));
                    digits(rng, &mut national, 7);
                }
            }
            NumberPlan::Es => {
                if rng.random_bool(0.8) {
                    national.push('6');
                    digits(rng, &mut national, 8);
                } else {
                    national.push('7');
                    national.push(char::from(b'0' + rng.random_range(1..=4u8)));
                    digits(rng, &mut national, 7);
                }
            }
            NumberPlan::Au => {
                national.push('4');
                national.push(char::from(b'0' + rng.random_range(0..=3u8)));
                digits(rng, &mut national, 7);
            }
        }
        Self {
            plan: country.plan,
            dial: country.dial,
            national,
        }
    }

    /// `+14155550132`: what Shopify stores in its `Phone` column.
    pub(crate) fn e164(&self) -> String {
        format!("+{}{}", self.dial, self.national)
    }

    /// The number as people write it; `style` picks one of [`PHONE_STYLES`]
    /// national or international habits (`(415) 555 0132`, `001 415…`, …).
    pub(crate) fn written(&self, style: usize) -> String {
        let n = self.national.as_str();
        match self.plan {
            NumberPlan::Nanp => {
                let (a, e, l) = (&n[..3], &n[3..6], &n[6..]);
                match style % PHONE_STYLES {
                    0 => format!("+1 {a}-{e}-{l}"),
                    1 => format!("({a}) {e}-{l}"),
                    2 => format!("({a}) {e} {l}"),
                    3 => n.to_string(),
                    4 => format!("001 {a} {e} {l}"),
                    5 => format!("{a}.{e}.{l}"),
                    _ => format!("1-{a}-{e}-{l}"),
                }
            }
            NumberPlan::Gb => {
                let (a, b) = (&n[..4], &n[4..]);
                match style % PHONE_STYLES {
                    0 => format!("+44 {a} {b}"),
                    1 => format!("0{a} {b}"),
                    2 => format!("+44{n}"),
                    3 => format!("0{n}"),
                    4 => format!("0044 {a} {b}"),
                    5 => format!("+44 (0){a} {b}"),
                    _ => format!("0{a} {} {}", &b[..3], &b[3..]),
                }
            }
            NumberPlan::De => {
                let (a, b) = (&n[..3], &n[3..]);
                match style % PHONE_STYLES {
                    0 => format!("+49 {a} {b}"),
                    1 => format!("0{a} {b}"),
                    2 => format!("+49{n}"),
                    3 => format!("0{n}"),
                    4 => format!("0049 {a} {b}"),
                    5 => format!("0{a}/{b}"),
                    _ => format!("(0{a}) {b}"),
                }
            }
            NumberPlan::Fr => {
                let pairs = format!("{} {} {} {}", &n[1..3], &n[3..5], &n[5..7], &n[7..9]);
                let f = &n[..1];
                match style % PHONE_STYLES {
                    0 => format!("+33 {f} {pairs}"),
                    1 => format!("0{f} {pairs}"),
                    2 => format!("+33{n}"),
                    3 => format!("0{n}"),
                    4 => format!("0033 {f} {pairs}"),
                    5 => format!("0{f}.{}", pairs.replace(' ', ".")),
                    _ => format!("+33 (0){f} {pairs}"),
                }
            }
            NumberPlan::Es => {
                let (a, b, c, e) = (&n[..3], &n[3..5], &n[5..7], &n[7..]);
                match style % PHONE_STYLES {
                    0 => format!("+34 {a} {b} {c} {e}"),
                    1 => format!("{a} {b} {c} {e}"),
                    2 => format!("+34{n}"),
                    3 => n.to_string(),
                    4 => format!("0034 {a} {} {}", &n[3..6], &n[6..]),
                    5 => format!("{a} {} {}", &n[3..6], &n[6..]),
                    _ => format!("(+34) {n}"),
                }
            }
            NumberPlan::Au => {
                let (a, b, c) = (&n[..3], &n[3..6], &n[6..]);
                match style % PHONE_STYLES {
                    0 => format!("+61 {a} {b} {c}"),
                    1 => format!("0{a} {b} {c}"),
                    2 => format!("+61{n}"),
                    3 => format!("0{n}"),
                    4 => format!("0{} {} {}", &n[..1], &n[1..5], &n[5..]),
                    5 => format!("+61 (0){a} {b} {c}"),
                    _ => format!("(0{}) {} {}", &n[..1], &n[1..5], &n[5..]),
                }
            }
        }
    }
}

/// A random but plausible consumer IPv4 address in the country.
pub(crate) fn ip_address(rng: &mut ChaCha8Rng, country: &Country) -> String {
    let first = country.ip_octets[rng.random_range(0..country.ip_octets.len())];
    format!(
        "{first}.{}.{}.{}",
        rng.random_range(0..=255u8),
        rng.random_range(0..=255u8),
        rng.random_range(1..=254u8)
    )
}

/// An employer: a display name and the domain its staff's email uses.
#[derive(Debug, Clone)]
pub(crate) struct Company {
    pub name: String,
    pub domain: String,
}

pub(crate) fn company(rng: &mut ChaCha8Rng, country: &Country) -> Company {
    let word = COMPANY_WORDS[rng.random_range(0..COMPANY_WORDS.len())];
    let trade = COMPANY_TRADES[rng.random_range(0..COMPANY_TRADES.len())];
    let suffix = country.company_suffixes[rng.random_range(0..country.company_suffixes.len())];
    let name = if suffix.is_empty() {
        format!("{word} {trade}")
    } else {
        format!("{word} {trade} {suffix}")
    };
    let domain = format!(
        "{}{}.{}",
        email_token(word),
        email_token(trade),
        country.tld
    );
    Company { name, domain }
}

pub(crate) static JOB_TITLES: &[&str] = &[
    "Marketing Manager",
    "Software Engineer",
    "Teacher",
    "Nurse",
    "Accountant",
    "Project Manager",
    "Sales Director",
    "Graphic Designer",
    "Consultant",
    "Physiotherapist",
    "Operations Manager",
    "Product Manager",
    "Data Analyst",
    "Owner",
    "CEO",
    "HR Manager",
    "Architect",
    "Pharmacist",
    "Lawyer",
    "Personal Trainer",
    "Coach",
    "Office Manager",
    "Engineer",
    "Student",
];

fn streets(
    style: StreetStyle,
) -> (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    f64,
) {
    match style {
        StreetStyle::American => (
            &[
                "Maple",
                "Oak",
                "Pine",
                "Cedar",
                "Elm",
                "Washington",
                "Lincoln",
                "Park",
                "Lake",
                "Hill",
                "Main",
                "Church",
                "Highland",
                "Sunset",
                "Franklin",
                "Jefferson",
                "Madison",
                "Spring",
                "River",
                "Walnut",
                "Chestnut",
                "Willow",
                "Adams",
                "Jackson",
                "Ridge",
                "Meadow",
                "Forest",
                "Valley",
                "Mill",
                "Union",
                "King",
                "Queen",
                "Bloor",
                "Yonge",
            ],
            &[
                ("Street", "St"),
                ("Avenue", "Ave"),
                ("Road", "Rd"),
                ("Drive", "Dr"),
                ("Boulevard", "Blvd"),
                ("Lane", "Ln"),
                ("Court", "Ct"),
                ("Place", "Pl"),
            ],
            0.25,
        ),
        StreetStyle::British => (
            &[
                "High",
                "Station",
                "Church",
                "Victoria",
                "Park",
                "Green",
                "Manor",
                "Kings",
                "Queens",
                "Mill",
                "Albert",
                "York",
                "Grove",
                "London",
                "Chapel",
                "Windsor",
                "Springfield",
                "Richmond",
                "Priory",
                "George",
                "Pitt",
                "Bourke",
                "Collins",
                "Flinders",
                "Oxford",
            ],
            &[
                ("Street", "St"),
                ("Road", "Rd"),
                ("Lane", "Ln"),
                ("Avenue", "Ave"),
                ("Close", "Cl"),
                ("Gardens", "Gdns"),
                ("Crescent", "Cres"),
                ("Terrace", "Tce"),
                ("Parade", "Pde"),
            ],
            0.18,
        ),
        StreetStyle::German => (
            &[
                "Haupt",
                "Bahnhof",
                "Schiller",
                "Goethe",
                "Garten",
                "Linden",
                "Berg",
                "Kirch",
                "Wald",
                "Mozart",
                "Schul",
                "Ring",
                "Friedrich",
                "Blumen",
                "Sonnen",
                "Rosen",
                "Dorf",
                "Markt",
                "Wiesen",
                "Eichen",
            ],
            &[
                ("straße", "str."),
                ("weg", "weg"),
                ("allee", "allee"),
                ("platz", "pl."),
            ],
            0.08,
        ),
        StreetStyle::French => (
            &[
                "de la République",
                "Victor Hugo",
                "Jean Jaurès",
                "de la Paix",
                "Pasteur",
                "du Général Leclerc",
                "des Lilas",
                "Gambetta",
                "Voltaire",
                "de la Gare",
                "Émile Zola",
                "Saint-Michel",
                "des Écoles",
                "du Moulin",
                "Carnot",
            ],
            &[
                ("rue", "r."),
                ("avenue", "av."),
                ("boulevard", "bd"),
                ("place", "pl."),
                ("allée", "all."),
            ],
            0.2,
        ),
        StreetStyle::Spanish => (
            &[
                "Mayor",
                "de Alcalá",
                "Gran Vía",
                "del Sol",
                "de la Constitución",
                "San Vicente",
                "Real",
                "de Colón",
                "de la Princesa",
                "de Goya",
                "Serrano",
                "de Atocha",
                "del Prado",
                "Nueva",
                "de la Paz",
            ],
            &[
                ("Calle", "C/"),
                ("Avenida", "Avda."),
                ("Paseo", "Pº"),
                ("Plaza", "Pza."),
            ],
            0.45,
        ),
    }
}

fn unit(rng: &mut ChaCha8Rng, style: StreetStyle) -> String {
    let n = rng.random_range(1..=40);
    let letter = char::from(b'A' + rng.random_range(0..6u8));
    match style {
        StreetStyle::American => match rng.random_range(0..4) {
            0 => format!("Apt {n}{letter}"),
            1 => format!("Suite {}", n * 10),
            2 => format!("Unit {n}"),
            _ => format!("#{n}"),
        },
        StreetStyle::British => format!("Flat {n}"),
        StreetStyle::German => format!("{}. OG", n % 6 + 1),
        StreetStyle::French => {
            if rng.random_bool(0.5) {
                format!("Appt {n}")
            } else {
                format!("Bât. {letter}")
            }
        }
        StreetStyle::Spanish => match rng.random_range(0..3) {
            0 => format!("{}º {letter}", n % 9 + 1),
            1 => format!("{}º Izq.", n % 9 + 1),
            _ => format!("{}º Dcha.", n % 9 + 1),
        },
    }
}

fn postcode(rng: &mut ChaCha8Rng, postcodes: &Postcodes) -> String {
    const GB_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
    const CA_LETTERS: &[u8] = b"ABCEGHJKLMNPRSTVWXYZ";
    let letter = |rng: &mut ChaCha8Rng, set: &[u8]| char::from(set[rng.random_range(0..set.len())]);
    match *postcodes {
        Postcodes::Range {
            lo,
            hi,
            step,
            width,
        } => {
            let v = lo + step * rng.random_range(0..=(hi - lo) / step);
            format!("{v:0width$}")
        }
        Postcodes::Outward(codes) => {
            let out = codes[rng.random_range(0..codes.len())];
            format!(
                "{out} {}{}{}",
                rng.random_range(0..10),
                letter(rng, GB_LETTERS),
                letter(rng, GB_LETTERS)
            )
        }
        Postcodes::Fsa(codes) => {
            let fsa = codes[rng.random_range(0..codes.len())];
            format!(
                "{fsa} {}{}{}",
                rng.random_range(0..10),
                letter(rng, CA_LETTERS),
                rng.random_range(0..10)
            )
        }
    }
}

/// Mobile prefixes (after the trunk 0) inside ranges libphonenumber accepts
/// as GB mobiles; 07700 900xxx, the fiction range, is avoided.
static GB_MOBILE_PREFIXES: &[&str] = &[
    "7412", "7423", "7432", "7440", "7481", "7507", "7533", "7588", "7711", "7723", "7747", "7766",
    "7801", "7815", "7840", "7868", "7900", "7922", "7946", "7970", "7983",
];

static DE_MOBILE_PREFIXES: &[&str] = &[
    "151", "152", "157", "160", "170", "171", "172", "173", "175", "176", "177", "178",
];

static COMPANY_WORDS: &[&str] = &[
    "Blue Harbor",
    "Summit",
    "Northstar",
    "Cedar",
    "Brightline",
    "Keystone",
    "Silverline",
    "Redwood",
    "Evergreen",
    "Ironwood",
    "Atlas",
    "Pioneer",
    "Lakeside",
    "Granite",
    "Meridian",
    "Vertex",
    "Horizon",
    "Bluebird",
    "Oakridge",
    "Clearwater",
    "Stonebridge",
    "Lighthouse",
];

static COMPANY_TRADES: &[&str] = &[
    "Consulting",
    "Logistics",
    "Health",
    "Software",
    "Design",
    "Analytics",
    "Dental",
    "Legal",
    "Capital",
    "Media",
    "Engineering",
    "Foods",
    "Realty",
    "Labs",
    "Partners",
    "Systems",
    "Solutions",
    "Clinic",
    "Studio",
    "Group",
];

const fn range(lo: u32, hi: u32) -> Postcodes {
    Postcodes::Range {
        lo,
        hi,
        step: 1,
        width: 5,
    }
}

const fn hundreds(lo: u32, hi: u32) -> Postcodes {
    Postcodes::Range {
        lo,
        hi,
        step: 100,
        width: 5,
    }
}

const fn four(lo: u32, hi: u32) -> Postcodes {
    Postcodes::Range {
        lo,
        hi,
        step: 1,
        width: 4,
    }
}

#[allow(clippy::too_many_arguments)]
const fn city(
    name: &'static str,
    english: &'static str,
    region: (&'static str, &'static str),
    at: (f64, f64),
    tz: (&'static str, &'static str, &'static str),
    postcodes: Postcodes,
    area_codes: &'static [u16],
    weight: f64,
    tax_bp: i64,
) -> City {
    City {
        name,
        english,
        region_code: region.0,
        region_name: region.1,
        lat: at.0,
        lon: at.1,
        gmtoff: tz.0,
        dstoff: tz.1,
        timezone: tz.2,
        postcodes,
        area_codes,
        weight,
        tax_bp,
    }
}

const NY: (&str, &str, &str) = ("-5", "-4", "America/New_York");
const CHI: (&str, &str, &str) = ("-6", "-5", "America/Chicago");
const DEN: (&str, &str, &str) = ("-7", "-6", "America/Denver");
const LA: (&str, &str, &str) = ("-8", "-7", "America/Los_Angeles");
const LON: (&str, &str, &str) = ("0", "1", "Europe/London");
const BER: (&str, &str, &str) = ("1", "2", "Europe/Berlin");
const PAR: (&str, &str, &str) = ("1", "2", "Europe/Paris");
const MAD: (&str, &str, &str) = ("1", "2", "Europe/Madrid");

static US_CITIES: &[City] = &[
    city(
        "New York",
        "New York",
        ("NY", "New York"),
        (40.7128, -74.0060),
        NY,
        range(10001, 10040),
        &[212, 646, 917],
        10.0,
        888,
    ),
    city(
        "Brooklyn",
        "New York",
        ("NY", "New York"),
        (40.6782, -73.9442),
        NY,
        range(11201, 11239),
        &[718, 347, 929],
        6.0,
        888,
    ),
    city(
        "Los Angeles",
        "Los Angeles",
        ("CA", "California"),
        (34.0522, -118.2437),
        LA,
        range(90001, 90068),
        &[213, 310, 323],
        9.0,
        950,
    ),
    city(
        "San Francisco",
        "San Francisco",
        ("CA", "California"),
        (37.7749, -122.4194),
        LA,
        range(94102, 94134),
        &[415, 628],
        5.0,
        863,
    ),
    city(
        "Chicago",
        "Chicago",
        ("IL", "Illinois"),
        (41.8781, -87.6298),
        CHI,
        range(60601, 60661),
        &[312, 773, 872],
        7.0,
        1025,
    ),
    city(
        "Boston",
        "Boston",
        ("MA", "Massachusetts"),
        (42.3601, -71.0589),
        NY,
        range(2108, 2137),
        &[617, 857],
        4.0,
        625,
    ),
    city(
        "Seattle",
        "Seattle",
        ("WA", "Washington"),
        (47.6062, -122.3321),
        LA,
        range(98101, 98199),
        &[206],
        4.0,
        1025,
    ),
    city(
        "Austin",
        "Austin",
        ("TX", "Texas"),
        (30.2672, -97.7431),
        CHI,
        range(78701, 78759),
        &[512, 737],
        3.0,
        825,
    ),
    city(
        "Denver",
        "Denver",
        ("CO", "Colorado"),
        (39.7392, -104.9903),
        DEN,
        range(80202, 80239),
        &[303, 720],
        3.0,
        881,
    ),
    city(
        "Atlanta",
        "Atlanta",
        ("GA", "Georgia"),
        (33.7490, -84.3880),
        NY,
        range(30303, 30350),
        &[404, 470, 678],
        3.0,
        890,
    ),
    city(
        "Miami",
        "Miami",
        ("FL", "Florida"),
        (25.7617, -80.1918),
        NY,
        range(33125, 33190),
        &[305, 786],
        3.0,
        700,
    ),
    city(
        "Portland",
        "Portland",
        ("OR", "Oregon"),
        (45.5152, -122.6784),
        LA,
        range(97201, 97239),
        &[503, 971],
        3.0,
        0,
    ),
    city(
        "Minneapolis",
        "Minneapolis",
        ("MN", "Minnesota"),
        (44.9778, -93.2650),
        CHI,
        range(55401, 55455),
        &[612],
        2.0,
        803,
    ),
    city(
        "Phoenix",
        "Phoenix",
        ("AZ", "Arizona"),
        (33.4484, -112.0740),
        ("-7", "-7", "America/Phoenix"),
        range(85003, 85054),
        &[602, 480],
        3.0,
        860,
    ),
    city(
        "Philadelphia",
        "Philadelphia",
        ("PA", "Pennsylvania"),
        (39.9526, -75.1652),
        NY,
        range(19102, 19154),
        &[215, 267],
        4.0,
        800,
    ),
];

static GB_CITIES: &[City] = &[
    city(
        "London",
        "London",
        ("ENG", "England"),
        (51.5074, -0.1278),
        LON,
        Postcodes::Outward(&[
            "SW1A", "SW3", "SW11", "E1", "E14", "N1", "N7", "NW1", "NW3", "SE1", "SE10", "W1",
            "W2", "W11", "EC1", "WC2",
        ]),
        &[],
        12.0,
        0,
    ),
    city(
        "Manchester",
        "Manchester",
        ("ENG", "England"),
        (53.4808, -2.2426),
        LON,
        Postcodes::Outward(&["M1", "M3", "M4", "M14", "M20", "M21"]),
        &[],
        4.0,
        0,
    ),
    city(
        "Birmingham",
        "Birmingham",
        ("ENG", "England"),
        (52.4862, -1.8904),
        LON,
        Postcodes::Outward(&["B1", "B5", "B13", "B15", "B29"]),
        &[],
        4.0,
        0,
    ),
    city(
        "Leeds",
        "Leeds",
        ("ENG", "England"),
        (53.8008, -1.5491),
        LON,
        Postcodes::Outward(&["LS1", "LS6", "LS7", "LS8"]),
        &[],
        3.0,
        0,
    ),
    city(
        "Bristol",
        "Bristol",
        ("ENG", "England"),
        (51.4545, -2.5879),
        LON,
        Postcodes::Outward(&["BS1", "BS6", "BS7", "BS8"]),
        &[],
        3.0,
        0,
    ),
    city(
        "Edinburgh",
        "Edinburgh",
        ("SCT", "Scotland"),
        (55.9533, -3.1883),
        LON,
        Postcodes::Outward(&["EH1", "EH3", "EH6", "EH10"]),
        &[],
        3.0,
        0,
    ),
    city(
        "Glasgow",
        "Glasgow",
        ("SCT", "Scotland"),
        (55.8642, -4.2518),
        LON,
        Postcodes::Outward(&["G1", "G3", "G11", "G12"]),
        &[],
        3.0,
        0,
    ),
    city(
        "Cardiff",
        "Cardiff",
        ("WLS", "Wales"),
        (51.4816, -3.1791),
        LON,
        Postcodes::Outward(&["CF10", "CF11", "CF14", "CF24"]),
        &[],
        2.0,
        0,
    ),
];

static DE_CITIES: &[City] = &[
    city(
        "Berlin",
        "Berlin",
        ("BE", "Berlin"),
        (52.5200, 13.4050),
        BER,
        range(10115, 14199),
        &[],
        8.0,
        0,
    ),
    city(
        "München",
        "Munich",
        ("BY", "Bayern"),
        (48.1351, 11.5820),
        BER,
        range(80331, 81929),
        &[],
        6.0,
        0,
    ),
    city(
        "Hamburg",
        "Hamburg",
        ("HH", "Hamburg"),
        (53.5511, 9.9937),
        BER,
        range(20095, 22769),
        &[],
        5.0,
        0,
    ),
    city(
        "Köln",
        "Cologne",
        ("NW", "Nordrhein-Westfalen"),
        (50.9375, 6.9603),
        BER,
        range(50667, 51149),
        &[],
        4.0,
        0,
    ),
    city(
        "Frankfurt am Main",
        "Frankfurt",
        ("HE", "Hessen"),
        (50.1109, 8.6821),
        BER,
        range(60306, 60599),
        &[],
        3.0,
        0,
    ),
    city(
        "Stuttgart",
        "Stuttgart",
        ("BW", "Baden-Württemberg"),
        (48.7758, 9.1829),
        BER,
        range(70173, 70619),
        &[],
        3.0,
        0,
    ),
    city(
        "Leipzig",
        "Leipzig",
        ("SN", "Sachsen"),
        (51.3397, 12.3731),
        BER,
        range(4103, 4357),
        &[],
        2.0,
        0,
    ),
    city(
        "Düsseldorf",
        "Dusseldorf",
        ("NW", "Nordrhein-Westfalen"),
        (51.2277, 6.7735),
        BER,
        range(40210, 40629),
        &[],
        2.0,
        0,
    ),
];

static FR_CITIES: &[City] = &[
    city(
        "Paris",
        "Paris",
        ("IDF", "Île-de-France"),
        (48.8566, 2.3522),
        PAR,
        range(75001, 75020),
        &[],
        8.0,
        0,
    ),
    city(
        "Lyon",
        "Lyon",
        ("ARA", "Auvergne-Rhône-Alpes"),
        (45.7640, 4.8357),
        PAR,
        range(69001, 69009),
        &[],
        3.0,
        0,
    ),
    city(
        "Marseille",
        "Marseille",
        ("PAC", "Provence-Alpes-Côte d'Azur"),
        (43.2965, 5.3698),
        PAR,
        range(13001, 13016),
        &[],
        3.0,
        0,
    ),
    city(
        "Toulouse",
        "Toulouse",
        ("OCC", "Occitanie"),
        (43.6047, 1.4442),
        PAR,
        hundreds(31000, 31500),
        &[],
        2.0,
        0,
    ),
    city(
        "Bordeaux",
        "Bordeaux",
        ("NAQ", "Nouvelle-Aquitaine"),
        (44.8378, -0.5792),
        PAR,
        hundreds(33000, 33800),
        &[],
        2.0,
        0,
    ),
    city(
        "Nantes",
        "Nantes",
        ("PDL", "Pays de la Loire"),
        (47.2184, -1.5536),
        PAR,
        hundreds(44000, 44300),
        &[],
        2.0,
        0,
    ),
    city(
        "Lille",
        "Lille",
        ("HDF", "Hauts-de-France"),
        (50.6292, 3.0573),
        PAR,
        hundreds(59000, 59800),
        &[],
        2.0,
        0,
    ),
];

static ES_CITIES: &[City] = &[
    city(
        "Madrid",
        "Madrid",
        ("M", "Comunidad de Madrid"),
        (40.4168, -3.7038),
        MAD,
        range(28001, 28055),
        &[],
        6.0,
        0,
    ),
    city(
        "Barcelona",
        "Barcelona",
        ("B", "Cataluña"),
        (41.3874, 2.1686),
        MAD,
        range(8001, 8042),
        &[],
        5.0,
        0,
    ),
    city(
        "Valencia",
        "Valencia",
        ("V", "Comunidad Valenciana"),
        (39.4699, -0.3763),
        MAD,
        range(46001, 46026),
        &[],
        2.0,
        0,
    ),
    city(
        "Sevilla",
        "Seville",
        ("SE", "Andalucía"),
        (37.3891, -5.9845),
        MAD,
        range(41001, 41020),
        &[],
        2.0,
        0,
    ),
    city(
        "Bilbao",
        "Bilbao",
        ("BI", "País Vasco"),
        (43.2630, -2.9350),
        MAD,
        range(48001, 48015),
        &[],
        1.0,
        0,
    ),
    city(
        "Málaga",
        "Malaga",
        ("MA", "Andalucía"),
        (36.7213, -4.4214),
        MAD,
        range(29001, 29018),
        &[],
        1.0,
        0,
    ),
];

static CA_CITIES: &[City] = &[
    city(
        "Toronto",
        "Toronto",
        ("ON", "Ontario"),
        (43.6532, -79.3832),
        ("-5", "-4", "America/Toronto"),
        Postcodes::Fsa(&["M4C", "M4K", "M5A", "M5V", "M6G", "M6P"]),
        &[416, 647, 437],
        5.0,
        0,
    ),
    city(
        "Vancouver",
        "Vancouver",
        ("BC", "British Columbia"),
        (49.2827, -123.1207),
        ("-8", "-7", "America/Vancouver"),
        Postcodes::Fsa(&["V5K", "V5L", "V6B", "V6K"]),
        &[604, 778],
        3.0,
        0,
    ),
    city(
        "Montréal",
        "Montreal",
        ("QC", "Quebec"),
        (45.5017, -73.5673),
        ("-5", "-4", "America/Toronto"),
        Postcodes::Fsa(&["H2J", "H2T", "H2X", "H3A"]),
        &[514, 438],
        3.0,
        0,
    ),
    city(
        "Calgary",
        "Calgary",
        ("AB", "Alberta"),
        (51.0447, -114.0719),
        ("-7", "-6", "America/Edmonton"),
        Postcodes::Fsa(&["T2P", "T2R", "T2S", "T3A"]),
        &[403, 587],
        2.0,
        0,
    ),
    city(
        "Ottawa",
        "Ottawa",
        ("ON", "Ontario"),
        (45.4215, -75.6972),
        ("-5", "-4", "America/Toronto"),
        Postcodes::Fsa(&["K1N", "K1P", "K1R", "K2P"]),
        &[613, 343],
        2.0,
        0,
    ),
];

static AU_CITIES: &[City] = &[
    city(
        "Sydney",
        "Sydney",
        ("NSW", "New South Wales"),
        (-33.8688, 151.2093),
        ("10", "11", "Australia/Sydney"),
        four(2000, 2234),
        &[],
        5.0,
        0,
    ),
    city(
        "Melbourne",
        "Melbourne",
        ("VIC", "Victoria"),
        (-37.8136, 144.9631),
        ("10", "11", "Australia/Melbourne"),
        four(3000, 3207),
        &[],
        4.0,
        0,
    ),
    city(
        "Brisbane",
        "Brisbane",
        ("QLD", "Queensland"),
        (-27.4698, 153.0251),
        ("10", "10", "Australia/Brisbane"),
        four(4000, 4179),
        &[],
        2.0,
        0,
    ),
    city(
        "Perth",
        "Perth",
        ("WA", "Western Australia"),
        (-31.9505, 115.8605),
        ("8", "8", "Australia/Perth"),
        four(6000, 6176),
        &[],
        2.0,
        0,
    ),
    city(
        "Adelaide",
        "Adelaide",
        ("SA", "South Australia"),
        (-34.9285, 138.6007),
        ("9.5", "10.5", "Australia/Adelaide"),
        four(5000, 5173),
        &[],
        1.0,
        0,
    ),
];

pub(crate) static COUNTRIES: &[Country] = &[
    Country {
        code: "US",
        name: "United States",
        spellings: &[
            "United States",
            "USA",
            "US",
            "United States of America",
            "U.S.A.",
        ],
        dial: "1",
        weight: 0.45,
        cultures: &[
            (Culture::English, 0.82),
            (Culture::Spanish, 0.14),
            (Culture::French, 0.02),
            (Culture::German, 0.02),
        ],
        cities: US_CITIES,
        street_style: StreetStyle::American,
        plan: NumberPlan::Nanp,
        shopify_provinces: true,
        email_domains: &[
            "gmail.com",
            "yahoo.com",
            "hotmail.com",
            "outlook.com",
            "icloud.com",
            "aol.com",
            "comcast.net",
            "msn.com",
        ],
        tld: "com",
        company_suffixes: &["Inc.", "LLC", ""],
        ip_octets: &[
            24, 50, 64, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99, 107, 108, 173,
            174,
        ],
    },
    Country {
        code: "GB",
        name: "United Kingdom",
        spellings: &["United Kingdom", "UK", "Great Britain", "England", "GB"],
        dial: "44",
        weight: 0.15,
        cultures: &[
            (Culture::English, 0.93),
            (Culture::French, 0.03),
            (Culture::Spanish, 0.02),
            (Culture::German, 0.02),
        ],
        cities: GB_CITIES,
        street_style: StreetStyle::British,
        plan: NumberPlan::Gb,
        shopify_provinces: false,
        email_domains: &[
            "gmail.com",
            "hotmail.co.uk",
            "yahoo.co.uk",
            "outlook.com",
            "btinternet.com",
            "icloud.com",
            "sky.com",
            "live.co.uk",
        ],
        tld: "co.uk",
        company_suffixes: &["Ltd", ""],
        ip_octets: &[2, 5, 31, 51, 62, 77, 78, 80, 81, 82, 86, 90, 109],
    },
    Country {
        code: "DE",
        name: "Germany",
        spellings: &["Germany", "Deutschland", "DE"],
        dial: "49",
        weight: 0.12,
        cultures: &[
            (Culture::German, 0.92),
            (Culture::English, 0.04),
            (Culture::Spanish, 0.02),
            (Culture::French, 0.02),
        ],
        cities: DE_CITIES,
        street_style: StreetStyle::German,
        plan: NumberPlan::De,
        shopify_provinces: false,
        email_domains: &[
            "gmail.com",
            "gmx.de",
            "web.de",
            "t-online.de",
            "yahoo.de",
            "outlook.de",
            "freenet.de",
            "icloud.com",
        ],
        tld: "de",
        company_suffixes: &["GmbH", "AG", "GmbH & Co. KG"],
        ip_octets: &[46, 77, 78, 79, 80, 84, 85, 87, 88, 89, 91, 93, 95],
    },
    Country {
        code: "FR",
        name: "France",
        spellings: &["France", "FR", "République française"],
        dial: "33",
        weight: 0.09,
        cultures: &[
            (Culture::French, 0.93),
            (Culture::Spanish, 0.03),
            (Culture::English, 0.02),
            (Culture::German, 0.02),
        ],
        cities: FR_CITIES,
        street_style: StreetStyle::French,
        plan: NumberPlan::Fr,
        shopify_provinces: false,
        email_domains: &[
            "gmail.com",
            "orange.fr",
            "hotmail.fr",
            "yahoo.fr",
            "free.fr",
            "laposte.net",
            "sfr.fr",
            "outlook.fr",
        ],
        tld: "fr",
        company_suffixes: &["SAS", "SARL", "SA"],
        ip_octets: &[2, 5, 37, 78, 79, 80, 81, 82, 83, 86, 88, 90, 92, 109],
    },
    Country {
        code: "ES",
        name: "Spain",
        spellings: &["Spain", "España", "ES", "Espana"],
        dial: "34",
        weight: 0.07,
        cultures: &[
            (Culture::Spanish, 0.95),
            (Culture::English, 0.03),
            (Culture::French, 0.02),
        ],
        cities: ES_CITIES,
        street_style: StreetStyle::Spanish,
        plan: NumberPlan::Es,
        shopify_provinces: true,
        email_domains: &[
            "gmail.com",
            "hotmail.com",
            "yahoo.es",
            "outlook.es",
            "telefonica.net",
            "icloud.com",
        ],
        tld: "es",
        company_suffixes: &["S.L.", "S.A."],
        ip_octets: &[2, 5, 31, 77, 79, 80, 81, 83, 85, 88, 95],
    },
    Country {
        code: "CA",
        name: "Canada",
        spellings: &["Canada", "CA", "CAN"],
        dial: "1",
        weight: 0.07,
        cultures: &[
            (Culture::English, 0.75),
            (Culture::French, 0.22),
            (Culture::Spanish, 0.03),
        ],
        cities: CA_CITIES,
        street_style: StreetStyle::American,
        plan: NumberPlan::Nanp,
        shopify_provinces: true,
        email_domains: &[
            "gmail.com",
            "hotmail.com",
            "yahoo.ca",
            "outlook.com",
            "shaw.ca",
            "rogers.com",
            "icloud.com",
        ],
        tld: "ca",
        company_suffixes: &["Inc.", "Ltd.", ""],
        ip_octets: &[24, 64, 66, 67, 69, 70, 74, 99, 142, 173, 174],
    },
    Country {
        code: "AU",
        name: "Australia",
        spellings: &["Australia", "AU", "AUS"],
        dial: "61",
        weight: 0.05,
        cultures: &[(Culture::English, 0.97), (Culture::Spanish, 0.03)],
        cities: AU_CITIES,
        street_style: StreetStyle::British,
        plan: NumberPlan::Au,
        shopify_provinces: true,
        email_domains: &[
            "gmail.com",
            "hotmail.com",
            "bigpond.com",
            "outlook.com",
            "yahoo.com.au",
            "icloud.com",
            "optusnet.com.au",
        ],
        tld: "com.au",
        company_suffixes: &["Pty Ltd", ""],
        ip_octets: &[1, 14, 27, 49, 58, 101, 110, 121, 124, 144, 203],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_city_can_make_addresses_and_phones() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for country in COUNTRIES {
            assert_eq!(
                country.plan == NumberPlan::Nanp,
                country.cities.iter().all(|c| !c.area_codes.is_empty())
            );
            for city in country.cities {
                let a = Address::in_city(&mut rng, country, city);
                assert!(!a.zip.is_empty());
                assert!(!a.usual_line1().is_empty());
                let p = Phone::mobile(&mut rng, country, city);
                assert!(p.national.bytes().all(|b| b.is_ascii_digit()));
                for style in 0..PHONE_STYLES {
                    let w = p.written(style);
                    let digits: String = w.chars().filter(char::is_ascii_digit).collect();
                    assert!(digits.ends_with(&p.national[p.national.len() - 4..]), "{w}");
                }
            }
        }
    }

    #[test]
    fn postcodes_look_national() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let boston = &US_CITIES[5];
        assert_eq!(boston.name, "Boston");
        let a = Address::in_city(&mut rng, &COUNTRIES[0], boston);
        assert!(a.zip.starts_with("021"), "{}", a.zip);
        let london = Address::in_city(&mut rng, &COUNTRIES[1], &GB_CITIES[0]);
        assert!(london.zip.contains(' '));
        let toronto = Address::in_city(&mut rng, &COUNTRIES[5], &CA_CITIES[0]);
        assert!(
            toronto.zip.starts_with('M') && toronto.zip.len() == 7,
            "{}",
            toronto.zip
        );
    }
}
