//! Comparing two records field by field, each comparison giving a *level*
//! (exact, similar, different…). Fellegi–Sunter weighs each level by how
//! much more often it happens for true matches than for random pairs.

use strsim::jaro_winkler;

use super::normalise::{jaccard, nickname_of};

/// The matching view of one record: folded, ready to compare.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    pub first: Box<str>,
    pub last: Box<str>,
    /// Every word of the last name, for double surnames.
    pub last_tokens: Vec<Box<str>>,
    pub email: Option<Box<str>>,
    pub email_local: Option<Box<str>>,
    /// The email's local part is only the person's name (`jean.dubois`,
    /// `jdubois71`): many namesakes have one like it at other providers, so
    /// it proves nothing unless the whole address is the same.
    pub email_is_name: bool,
    pub phone: Option<Box<str>>,
    pub birth: Option<(u16, u8, u8)>,
    pub postcode: Box<str>,
    pub city: Box<str>,
    pub address: Vec<String>,
}

/// Separates the parts of [`Fields::encode`]: folded values never hold it.
const SEP: char = '\u{1f}';

impl Fields {
    /// A compact text form, stored beside each blocking key so incremental
    /// runs compare without reloading and re-normalising the record.
    /// Hand-written rather than JSON: it is decoded hundreds of thousands of
    /// times per run and is eleven flat values.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(96);
        self.encode_into(&mut out);
        out
    }

    /// [`Fields::encode`] into a buffer the caller reuses.
    pub fn encode_into(&self, out: &mut String) {
        use std::fmt::Write as _;
        out.clear();
        fn opt(v: &Option<Box<str>>) -> &str {
            v.as_deref().unwrap_or("")
        }
        let words = |out: &mut String, ws: &mut dyn Iterator<Item = &str>| {
            for (i, w) in ws.enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(w);
            }
        };
        out.push_str(&self.first);
        out.push(SEP);
        out.push_str(&self.last);
        out.push(SEP);
        words(out, &mut self.last_tokens.iter().map(|t| &**t));
        out.push(SEP);
        out.push_str(opt(&self.email));
        out.push(SEP);
        out.push_str(opt(&self.email_local));
        out.push(SEP);
        if self.email_is_name {
            out.push('1');
        }
        out.push(SEP);
        out.push_str(opt(&self.phone));
        out.push(SEP);
        if let Some((y, m, d)) = self.birth {
            let _ = write!(out, "{y}-{m}-{d}");
        }
        out.push(SEP);
        out.push_str(&self.postcode);
        out.push(SEP);
        out.push_str(&self.city);
        out.push(SEP);
        words(out, &mut self.address.iter().map(String::as_str));
    }

    /// The inverse of [`Fields::encode`]; `None` for text it did not write.
    pub fn decode(text: &str) -> Option<Fields> {
        let mut parts = text.split(SEP);
        let mut next = || parts.next();
        let boxed = |s: &str| -> Option<Box<str>> { (!s.is_empty()).then(|| s.into()) };
        let words = |s: &str| -> Vec<String> {
            s.split(' ')
                .filter(|w| !w.is_empty())
                .map(String::from)
                .collect()
        };
        let first = next()?.into();
        let last = next()?.into();
        let last_tokens = words(next()?).into_iter().map(Into::into).collect();
        let email = boxed(next()?);
        let email_local = boxed(next()?);
        let email_is_name = next()? == "1";
        let phone = boxed(next()?);
        let birth = match next()? {
            "" => None,
            b => {
                let mut it = b.split('-');
                Some((
                    it.next()?.parse().ok()?,
                    it.next()?.parse().ok()?,
                    it.next()?.parse().ok()?,
                ))
            }
        };
        let postcode = next()?.into();
        let city = next()?.into();
        let address = words(next()?);
        Some(Fields {
            first,
            last,
            last_tokens,
            email,
            email_local,
            email_is_name,
            phone,
            birth,
            postcode,
            city,
            address,
        })
    }

    /// Enough to compare at all: a name, an email or a phone.
    pub fn is_matchable(&self) -> bool {
        !self.last.is_empty() || self.email.is_some() || self.phone.is_some()
    }
}

/// The comparisons, in the order of [`Levels`].
pub const COMPARISONS: [Comparison; 8] = [
    Comparison::FirstName,
    Comparison::LastName,
    Comparison::Email,
    Comparison::Phone,
    Comparison::BirthDate,
    Comparison::Postcode,
    Comparison::City,
    Comparison::Address,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    FirstName,
    LastName,
    Email,
    Phone,
    BirthDate,
    Postcode,
    City,
    Address,
}

/// Level 0 is always "missing on one side": it carries no evidence.
pub const MISSING: u8 = 0;

impl Comparison {
    pub fn name(self) -> &'static str {
        match self {
            Comparison::FirstName => "first_name",
            Comparison::LastName => "last_name",
            Comparison::Email => "email",
            Comparison::Phone => "phone",
            Comparison::BirthDate => "birth_date",
            Comparison::Postcode => "postcode",
            Comparison::City => "city",
            Comparison::Address => "address",
        }
    }

    /// The names of the levels, index = level.
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            Comparison::FirstName => &[
                "missing",
                "exact",
                "nickname",
                "similar",
                "close",
                "different",
            ],
            Comparison::LastName => &[
                "missing",
                "exact",
                "shared word",
                "similar",
                "close",
                "different",
            ],
            Comparison::Email => &[
                "missing",
                "exact",
                "same name, other domain",
                "similar",
                "different",
            ],
            Comparison::Phone => &["missing", "exact", "same last 7 digits", "different"],
            Comparison::BirthDate => &[
                "missing",
                "exact",
                "day and month swapped",
                "one part different",
                "different",
            ],
            Comparison::Postcode => &["missing", "exact", "same area", "different"],
            Comparison::City => &["missing", "exact", "similar", "different"],
            Comparison::Address => &["missing", "same", "similar", "different"],
        }
    }

    pub fn level_count(self) -> usize {
        self.levels().len()
    }
}

pub type Levels = [u8; 8];

/// Whether the names were written the other way round (`Smith Anna`).
pub fn swapped(a: &Fields, b: &Fields) -> bool {
    !a.first.is_empty()
        && !a.last.is_empty()
        && a.first == b.last
        && a.last == b.first
        && a.first != a.last
}

/// The comparison vector γ of a pair.
pub fn compare(a: &Fields, b: &Fields) -> Levels {
    let swap = swapped(a, b);
    [
        if swap {
            1
        } else {
            first_name(&a.first, &b.first)
        },
        if swap { 1 } else { last_name(a, b) },
        email(a, b),
        phone(a, b),
        birth(a.birth, b.birth),
        postcode(&a.postcode, &b.postcode),
        // A postcode already says the city: counting both would count one
        // piece of evidence twice. The city speaks only without postcodes.
        if a.postcode.is_empty() || b.postcode.is_empty() {
            city(&a.city, &b.city)
        } else {
            MISSING
        },
        address(&a.address, &b.address),
    ]
}

fn first_name(a: &str, b: &str) -> u8 {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    if a == b {
        return 1;
    }
    if nickname_of(a, b) {
        return 2;
    }
    let s = jaro_winkler(a, b);
    if s >= 0.92 {
        3
    } else if s >= 0.8 {
        4
    } else {
        5
    }
}

fn last_name(a: &Fields, b: &Fields) -> u8 {
    if a.last.is_empty() || b.last.is_empty() {
        return MISSING;
    }
    if a.last == b.last {
        return 1;
    }
    if (a.last_tokens.len() > 1 || b.last_tokens.len() > 1)
        && a.last_tokens.iter().any(|t| b.last_tokens.contains(t))
    {
        return 2;
    }
    let s = jaro_winkler(&a.last, &b.last);
    if s >= 0.92 {
        3
    } else if s >= 0.8 {
        4
    } else {
        5
    }
}

fn email(a: &Fields, b: &Fields) -> u8 {
    let (Some(x), Some(y)) = (&a.email, &b.email) else {
        return MISSING;
    };
    if x == y {
        return 1;
    }
    if a.email_is_name && b.email_is_name {
        return MISSING;
    }
    match (&a.email_local, &b.email_local) {
        (Some(l), Some(m)) if l == m && l.len() >= 4 => 2,
        // `anna.smith71` and `anna.smith43` are two people: the digits
        // people add to a taken address tell them apart.
        (Some(l), Some(m)) if same_digits(l, m) && jaro_winkler(l, m) >= 0.92 => 3,
        _ => 4,
    }
}

fn same_digits(a: &str, b: &str) -> bool {
    a.chars()
        .filter(char::is_ascii_digit)
        .eq(b.chars().filter(char::is_ascii_digit))
}

fn phone(a: &Fields, b: &Fields) -> u8 {
    let (Some(x), Some(y)) = (&a.phone, &b.phone) else {
        return MISSING;
    };
    if x == y {
        return 1;
    }
    let tail = |s: &str| s.len() >= 7 && x.len() >= 7 && y.len() >= 7;
    if tail(x) && x[x.len() - 7..] == y[y.len() - 7..] {
        2
    } else {
        3
    }
}

fn birth(a: Option<(u16, u8, u8)>, b: Option<(u16, u8, u8)>) -> u8 {
    let (Some(x), Some(y)) = (a, b) else {
        return MISSING;
    };
    if x == y {
        1
    } else if x.0 == y.0 && x.1 == y.2 && x.2 == y.1 {
        2
    } else if (x.0 == y.0) as u8 + (x.1 == y.1) as u8 + (x.2 == y.2) as u8 == 2 {
        3
    } else {
        4
    }
}

fn postcode(a: &str, b: &str) -> u8 {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    if a == b {
        1
    } else if a.len() >= 4 && b.len() >= 4 && a[..3] == b[..3] {
        2
    } else {
        3
    }
}

fn city(a: &str, b: &str) -> u8 {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    if a == b {
        1
    } else if jaro_winkler(a, b) >= 0.9 {
        2
    } else {
        3
    }
}

fn address(a: &[String], b: &[String]) -> u8 {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    // Neighbours share the street, not the house number.
    let number = |t: &[String]| {
        t.iter()
            .find(|x| x.chars().any(|c| c.is_ascii_digit()))
            .cloned()
    };
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        if x != y {
            return 3;
        }
    }
    let j = jaccard(a, b);
    if j >= 0.8 {
        1
    } else if j >= 0.4 {
        2
    } else {
        3
    }
}

/// Whether two first names can belong to one person (same, nickname,
/// initial, a typo away) — the guard that stops an email shared by a couple
/// from fusing them. Unknown names never conflict.
///
/// Names are folded and their words joined, so the tests also allow for
/// what systems do to a whole name: first and last swapped, and a billing
/// name "Ana García Pérez" cut at its last space (first "anagarcia") where
/// the CRM has first "Ana", last "García Pérez".
pub fn names_compatible(a: (&str, &str), b: (&str, &str)) -> bool {
    let (af, bf) = (a.0, b.0);
    if af.is_empty() || bf.is_empty() {
        return true;
    }
    if first_names_agree(af, bf) {
        return true;
    }
    // Written the other way round, perhaps with a typo or a nickname; or
    // one side has only the name the other holds as its surname.
    let swapped = |(xf, xl): (&str, &str), (yf, yl): (&str, &str)| {
        !xl.is_empty() && first_names_agree(xl, yf) && (yl.is_empty() || first_names_agree(xf, yl))
    };
    if swapped(a, b) || swapped(b, a) {
        return true;
    }
    let (a_swapped, b_swapped) = ((a.1, a.0), (b.1, b.0));
    cut_elsewhere(a, b)
        || cut_elsewhere(b, a)
        || cut_elsewhere(a, b_swapped)
        || cut_elsewhere(b, a_swapped)
}

/// Same first name, a nickname of it, or a typo of either.
fn first_names_agree(a: &str, b: &str) -> bool {
    a == b
        || nickname_of(a, b)
        || jaro_winkler(a, b) >= 0.85
        || nickname_typo(a, b)
        || nickname_typo(b, a)
}

/// `typed` is a typo of a nickname (or formal form) of `name`: "manyd"
/// for Amanda through Mandy. Only close typos (Jaro–Winkler ≥ 0.9), so
/// the wider net stays narrow.
fn nickname_typo(name: &str, typed: &str) -> bool {
    super::normalise::nickname_forms(name).any(|form| jaro_winkler(form, typed) >= 0.9)
}

/// One name split at another space, as a billing name cut at its last
/// space does to a double surname: "anagonzalez jimenez" against "ana
/// gonzalezjimenez", "merchegonzalez alonso" against "mercedes gonzalez".
/// What is left of `a`'s first name must agree with `b`'s.
fn cut_elsewhere((af, al): (&str, &str), (bf, bl): (&str, &str)) -> bool {
    let head_agrees = |moved: &str| {
        !moved.is_empty()
            && af
                .strip_suffix(moved)
                .is_some_and(|head| !head.is_empty() && first_names_agree(head, bf))
    };
    // `a`'s first name ends with the start of `b`'s surname...
    let start = (!al.is_empty())
        .then(|| bl.strip_suffix(al))
        .flatten()
        .is_some_and(head_agrees);
    // ...or with all of it (`a` has a second surname `b` lacks).
    start || head_agrees(bl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::normalise::{address_tokens, fold};

    fn person(first: &str, last: &str, email: &str) -> Fields {
        Fields {
            first: fold(first).into(),
            last: fold(last).into(),
            last_tokens: last.split(' ').map(|t| fold(t).into()).collect(),
            email: (!email.is_empty()).then(|| email.into()),
            email_local: crate::identity::normalise::email_local(email).map(Into::into),
            address: address_tokens("1 High Street"),
            ..Default::default()
        }
    }

    #[test]
    fn encoded_fields_compare_exactly_like_the_originals() {
        let mut a = person("Zoë", "García López", "zoe.garcia@gmail.com");
        a.phone = Some("+447700900123".into());
        a.birth = Some((1987, 3, 9));
        a.postcode = "sw1a1aa".into();
        a.city = "london".into();
        a.email_is_name = true;
        let empty = Fields::default();
        let mut b = person("Zoe", "Garcia", "");
        b.birth = Some((1987, 9, 3));
        for f in [&a, &b, &empty] {
            let back = Fields::decode(&f.encode()).expect("decodes");
            assert_eq!(format!("{back:?}"), format!("{f:?}"));
            for g in [&a, &b, &empty] {
                assert_eq!(compare(&back, g), compare(f, g));
            }
        }
        assert!(Fields::decode("not encoded").is_none());
    }

    #[test]
    fn levels_for_typical_variations() {
        let a = person("Robert", "García López", "rob.garcia@gmail.com");
        let b = person("Bob", "García", "robgarcia@work.com");
        let l = compare(&a, &b);
        assert_eq!(l[0], 2, "nickname");
        assert_eq!(l[1], 2, "shared surname word");
        assert_eq!(l[2], 2, "same local part");
        assert_eq!(l[3], MISSING);
        assert_eq!(l[7], 1);
        let c = person("García", "Robert", "");
        let d = person("Robert", "García", "");
        assert_eq!(&compare(&c, &d)[..2], &[1, 1]);
    }

    #[test]
    fn dates_one_off_and_transposed() {
        assert_eq!(birth(Some((1980, 3, 4)), Some((1980, 4, 3))), 2);
        assert_eq!(birth(Some((1980, 3, 4)), Some((1981, 3, 4))), 3);
        assert_eq!(birth(Some((1980, 3, 4)), Some((1971, 5, 9))), 4);
        assert_eq!(birth(None, Some((1971, 5, 9))), MISSING);
    }

    #[test]
    fn couples_do_not_have_compatible_names() {
        assert!(!names_compatible(("anna", "smith"), ("ben", "smith")));
        assert!(names_compatible(("anna", "smith"), ("ana", "smith")));
        assert!(names_compatible(("robert", "x"), ("bob", "x")));
        assert!(names_compatible(("", "smith"), ("ben", "smith")));
        assert!(names_compatible(("smith", "anna"), ("anna", "smith")));
    }

    #[test]
    fn names_as_systems_mangle_them_stay_compatible() {
        // Swapped with a typo, or swapped against a first name alone.
        assert!(names_compatible(("amy", "davis"), ("dais", "amy")));
        assert!(names_compatible(("adams", "ronald"), ("ronald", "")));
        // A billing name cut at its last space.
        assert!(names_compatible(
            ("ana", "gonzalezjimenez"),
            ("anagonzalez", "jimenez")
        ));
        assert!(names_compatible(("ana", "garcia"), ("anagarcia", "perez")));
        assert!(names_compatible(
            ("pepe", "martinlopez"),
            ("josemartin", "lopez")
        ));
        assert!(names_compatible(
            ("mercedes", "gonzalez"),
            ("merchegonzalez", "alonso")
        ));
        assert!(names_compatible(
            ("daid", "martinmartinez"),
            ("davidmartin", "martinez")
        ));
        assert!(names_compatible(
            ("fernandezrodriguez", "cristina"),
            ("cristinafernandez", "rodriguez")
        ));
        // A typo of a nickname.
        assert!(names_compatible(
            ("amanda", "anderson"),
            ("manyd", "anderson")
        ));
        assert!(names_compatible(
            ("abigail", "miller"),
            ("abiigail", "miller")
        ));
        assert!(names_compatible(("antonio", "garcia"), ("tonno", "garcia")));
        // Still apart: couples.
        assert!(!names_compatible(
            ("sophie", "adams"),
            ("kimberly", "adams")
        ));
        assert!(!names_compatible(
            ("ronald", "adams"),
            ("patricia", "adams")
        ));
        assert!(!names_compatible(("daniel", "smith"), ("maria", "smith")));
    }
}
