//! Turning the values people typed into forms that compare well: folded
//! names, phonetic codes, email local parts, phone suffixes, address tokens.
//!
//! Everything here is pure and cheap: it runs once per record per
//! resolution, on millions of records.

/// Lower case, accents removed, German umlauts folded the way Germans write
/// them without a keyboard for them (`ü` → `ue` and `ü` → `u` both occur, so
/// `ue` is also folded to `u`), everything but letters and digits dropped.
/// `"Müller-Lüdenscheidt"` → `"mullerludenscheidt"`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        for l in c.to_lowercase() {
            match l {
                'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ą' | 'ā' => out.push('a'),
                'é' | 'è' | 'ê' | 'ë' | 'ę' | 'ė' | 'ē' | 'ě' => out.push('e'),
                'í' | 'ì' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => out.push('i'),
                'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ō' | 'ő' => out.push('o'),
                'ú' | 'ù' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => out.push('u'),
                'ý' | 'ÿ' => out.push('y'),
                'ç' | 'ć' | 'č' => out.push('c'),
                'ñ' | 'ń' | 'ň' => out.push('n'),
                'ś' | 'š' | 'ş' => out.push('s'),
                'ź' | 'ż' | 'ž' => out.push('z'),
                'ł' => out.push('l'),
                'ř' => out.push('r'),
                'ď' => out.push('d'),
                'ť' => out.push('t'),
                'ß' => out.push_str("ss"),
                'æ' => out.push_str("ae"),
                'œ' => out.push_str("oe"),
                l if l.is_alphanumeric() => out.push(l),
                _ => {}
            }
        }
    }
    // "Mueller" and "Muller" are the same name typed on different keyboards.
    if out.contains("ae") || out.contains("oe") || out.contains("ue") {
        out = out.replace("ae", "a").replace("oe", "o").replace("ue", "u");
    }
    out
}

/// The name's words, folded: `"García López"` → `["garcia", "lopez"]`.
pub fn name_tokens(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == '-')
        .map(fold)
        .filter(|t| !t.is_empty())
        .collect()
}

/// American Soundex of a folded name (`"robert"` → `"R163"`), for blocking:
/// names that sound alike share a code, so typos land in the same block.
/// Written here because it is ten lines and the crates that offer it bring
/// a dozen algorithms we do not use.
pub fn soundex(folded: &str) -> String {
    fn code(c: char) -> u8 {
        match c {
            'b' | 'f' | 'p' | 'v' => b'1',
            'c' | 'g' | 'j' | 'k' | 'q' | 's' | 'x' | 'z' => b'2',
            'd' | 't' => b'3',
            'l' => b'4',
            'm' | 'n' => b'5',
            'r' => b'6',
            'h' | 'w' => b'h',
            _ => b'0',
        }
    }
    let mut chars = folded.chars().filter(|c| c.is_ascii_alphabetic());
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut out = vec![first.to_ascii_uppercase() as u8];
    let mut last = code(first);
    for c in chars {
        let k = code(c);
        if k == b'h' {
            continue; // h and w do not separate equal codes
        }
        if k != b'0' && k != last {
            out.push(k);
            if out.len() == 4 {
                break;
            }
        }
        last = k;
    }
    while out.len() < 4 {
        out.push(b'0');
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The part of an email before the `@`, without dots and `+tags`, lower
/// case: `"Anna.Smith+shop@gmail.com"` → `"annasmith"`.
pub fn email_local(email: &str) -> Option<String> {
    let (local, domain) = email.rsplit_once('@')?;
    let local = local.split('+').next().unwrap_or(local);
    // Only Gmail ignores dots: elsewhere `j.doe` and `jdoe` are two mailboxes.
    let gmail =
        domain.eq_ignore_ascii_case("gmail.com") || domain.eq_ignore_ascii_case("googlemail.com");
    let l: String = local
        .chars()
        .filter(|c| !gmail || *c != '.')
        .flat_map(char::to_lowercase)
        .collect();
    (!l.is_empty()).then_some(l)
}

/// Whether an email's local part is made only of the person's (folded)
/// names or their initials, with separators and digits ignored:
/// `jean.dubois71`, `j_dubois`, `duboisjean`, `jean`.
pub fn local_is_name(local: &str, first: &str, last: &str) -> bool {
    let letters: String = local
        .chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect();
    let letters = fold(&letters);
    if letters.is_empty() {
        return true;
    }
    // The surname anywhere (`thomas.neumann`, `neumann.t`), or the first
    // name (`tom`, `annasmith`): a formal first name in the address and a
    // nickname on the record still count.
    (last.len() >= 3 && letters.contains(last))
        || (first.len() >= 3 && letters.contains(first))
        || {
            let f1: String = first.chars().take(1).collect();
            !f1.is_empty() && letters == format!("{f1}{last}")
        }
}

/// The last `n` digits of a phone number, so that a number stored with the
/// wrong country code still meets its twin.
pub fn phone_suffix(phone: &str, n: usize) -> Option<String> {
    let digits: Vec<u8> = phone.bytes().filter(u8::is_ascii_digit).collect();
    (digits.len() >= n).then(|| String::from_utf8_lossy(&digits[digits.len() - n..]).into_owned())
}

/// `YYYY-MM-DD…` → (year, month, day).
pub fn parse_date(s: &str) -> Option<(u16, u8, u8)> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = s[0..4].parse().ok()?;
    let m = s[5..7].parse().ok()?;
    let d = s[8..10].parse().ok()?;
    Some((y, m, d))
}

/// Postcodes compare without spaces and case: `"sw1a 1aa"` = `"SW1A1AA"`.
pub fn postcode(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Address words, folded, with the common street-type abbreviations spelled
/// out, so `"12 Main St."` and `"12 main street"` share every token.
pub fn address_tokens(s: &str) -> Vec<String> {
    let mut out: Vec<String> = s
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
        .map(fold)
        .filter(|t| !t.is_empty())
        .map(|t| {
            match t.as_str() {
                "st" | "str" => "street",
                "ave" | "av" => "avenue",
                "rd" => "road",
                "dr" => "drive",
                "ln" => "lane",
                "blvd" => "boulevard",
                "ct" => "court",
                "pl" => "place",
                "apt" | "unit" | "no" | "nr" => "",
                _ => return t,
            }
            .to_string()
        })
        .filter(|t| !t.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Jaccard similarity of two sorted, deduplicated token lists.
pub fn jaccard(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    both as f64 / (a.len() + b.len() - both) as f64
}

/// Placeholder emails people type when a form insists: `test@test.com`,
/// `noemail@…`, `none@…`, anything at example domains.
pub fn is_placeholder_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return true;
    };
    const LOCALS: &[&str] = &[
        "test",
        "noemail",
        "no-email",
        "no_email",
        "none",
        "no",
        "na",
        "n/a",
        "null",
        "unknown",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "nomail",
        "asdf",
        "xxx",
        "abc",
        "email",
        "sample",
        "fake",
        "dummy",
    ];
    const DOMAINS: &[&str] = &[
        "example.com",
        "example.org",
        "example.net",
        "test.com",
        "test.de",
        "none.com",
        "noemail.com",
        "nomail.com",
        "email.invalid",
        "invalid",
        "mailinator.com",
    ];
    let local = local.to_ascii_lowercase();
    let domain = domain.to_ascii_lowercase();
    LOCALS.contains(&local.as_str())
        || DOMAINS.contains(&domain.as_str())
        || domain.ends_with(".invalid")
        || domain.ends_with(".example")
}

/// Placeholder phone numbers: one digit repeated, or a run like 1234567.
pub fn is_placeholder_phone(phone: &str) -> bool {
    let digits: Vec<u8> = phone.bytes().filter(u8::is_ascii_digit).collect();
    if digits.len() < 6 {
        return true;
    }
    // Ignore the country code: look at the last seven digits.
    let tail = &digits[digits.len() - 7.min(digits.len())..];
    let same = tail.iter().all(|d| *d == tail[0]);
    let run_up = tail.windows(2).all(|w| w[1] == w[0] + 1);
    let run_down = tail.windows(2).all(|w| w[0] == w[1] + 1);
    same || run_up || run_down
}

/// Whether two folded first names are the same name in different forms:
/// a nickname, a diminutive or an initial.
pub fn nickname_of(a: &str, b: &str) -> bool {
    if a.len() == 1 || b.len() == 1 {
        return a.chars().next() == b.chars().next();
    }
    // A name may sit in more than one group (Alex: Alexander, Alexandra).
    let theirs = nickname_groups(b);
    nickname_groups(a).iter().any(|g| theirs.contains(g))
}

/// Every name in the nickname groups of `name`, itself included.
pub fn nickname_forms(name: &str) -> impl Iterator<Item = &'static str> + '_ {
    nickname_groups(name)
        .iter()
        .flat_map(|g| NICKNAMES[*g as usize].iter().copied())
}

/// The groups of [`NICKNAMES`] a folded first name is in. Looked up in a
/// map built once: every compared pair asks, and scanning the table took
/// two thirds of the comparison time.
fn nickname_groups(name: &str) -> &'static [u16] {
    static BY_NAME: std::sync::OnceLock<std::collections::HashMap<&'static str, Vec<u16>>> =
        std::sync::OnceLock::new();
    BY_NAME
        .get_or_init(|| {
            let mut by_name: std::collections::HashMap<&'static str, Vec<u16>> =
                std::collections::HashMap::new();
            for (i, group) in NICKNAMES.iter().enumerate() {
                for name in group.iter() {
                    by_name.entry(*name).or_default().push(i as u16);
                }
            }
            by_name
        })
        .get(name)
        .map_or(&[], Vec::as_slice)
}

/// Groups of first names that are one name: the formal form first, then the
/// short forms people use on forms and that sales staff write down. Folded
/// (lower case, no accents). Hand-written: no maintained crate has such a
/// table, and the list only needs the names our users' customers have.
static NICKNAMES: &[&[&str]] = &[
    &["robert", "bob", "rob", "bobby", "robbie", "bert"],
    &["william", "bill", "will", "billy", "willy", "liam"],
    &["richard", "rick", "dick", "rich", "ricky", "richie"],
    &["james", "jim", "jimmy", "jamie"],
    &["john", "jack", "johnny", "jon"],
    &["jonathan", "jon", "jonny", "nathan"],
    &["joseph", "joe", "joey", "jo"],
    &["thomas", "tom", "tommy"],
    &["michael", "mike", "mick", "mikey", "micky"],
    &["christopher", "chris", "kit", "topher"],
    &["christian", "chris", "christ"],
    &[
        "christine",
        "chris",
        "chrissy",
        "christina",
        "tina",
        "kristin",
    ],
    &["daniel", "dan", "danny"],
    &["david", "dave", "davey"],
    &["matthew", "matt", "matty"],
    &["anthony", "tony", "ant"],
    &["andrew", "andy", "drew"],
    &["edward", "ed", "eddie", "ted", "ned"],
    &["benjamin", "ben", "benny", "benji"],
    &["samuel", "sam", "sammy"],
    &["samantha", "sam", "sammy"],
    &["alexander", "alex", "al", "sasha", "xander", "sandro"],
    &["alexandra", "alex", "sandra", "lexi", "sasha"],
    &["nicholas", "nick", "nicky", "nico"],
    &["nicole", "nicky", "nikki", "nic"],
    &["patrick", "pat", "paddy"],
    &["patricia", "pat", "patty", "trish", "tricia"],
    &[
        "elizabeth",
        "liz",
        "beth",
        "betty",
        "lizzie",
        "eliza",
        "libby",
        "elisabeth",
        "lisa",
    ],
    &[
        "katherine",
        "kate",
        "kathy",
        "katie",
        "kat",
        "cat",
        "catherine",
        "kathryn",
        "cathy",
        "kitty",
    ],
    &["margaret", "maggie", "meg", "peggy", "marge", "greta"],
    &["jennifer", "jen", "jenny"],
    &["jessica", "jess", "jessie"],
    &["rebecca", "becky", "becca"],
    &["susan", "sue", "susie", "suzanne"],
    &["deborah", "deb", "debbie"],
    &["victoria", "vicky", "tori"],
    &["stephanie", "steph"],
    &["steven", "steve", "stephen"],
    &["timothy", "tim", "timmy"],
    &["kenneth", "ken", "kenny"],
    &["charles", "charlie", "chuck"],
    &["charlotte", "charlie", "lottie"],
    &["gregory", "greg"],
    &["jeffrey", "jeff"],
    &["joshua", "josh"],
    &["jacob", "jake", "jakob"],
    &["nathaniel", "nate", "nathan"],
    &["zachary", "zach", "zack"],
    &["ronald", "ron", "ronnie"],
    &["donald", "don", "donnie"],
    &["raymond", "ray"],
    &["lawrence", "larry"],
    &["frederick", "fred", "freddie"],
    &["henry", "harry", "hank"],
    &["harold", "harry"],
    &["peter", "pete"],
    &["philip", "phil"],
    &["gerald", "gerry", "jerry"],
    &["abigail", "abby", "gail"],
    &["amanda", "mandy", "manda"],
    &["melissa", "mel", "missy"],
    &["sandra", "sandy"],
    &["kathleen", "kathy", "kate", "kath"],
    &["barbara", "barb", "babs", "barbie"],
    &["cynthia", "cindy"],
    &["dorothy", "dot", "dottie"],
    &["eleanor", "ellie", "nora"],
    &["emily", "em", "emmy"],
    &["emma", "em"],
    &["gabriel", "gabe"],
    &["gabriella", "gabby", "ella"],
    &["isabella", "bella", "izzy", "isabel"],
    &["josephine", "josie", "jo"],
    &["judith", "judy"],
    &["kimberly", "kim"],
    &["madeline", "maddie", "madeleine"],
    &["natalie", "nat"],
    &["olivia", "liv", "livvy"],
    &["pamela", "pam"],
    &["penelope", "penny"],
    &["sophia", "sophie"],
    &["theodore", "theo", "ted", "teddy"],
    &["vincent", "vince", "vinny"],
    &["walter", "walt"],
    &["johannes", "hans", "jo", "johann"],
    &["wolfgang", "wolf"],
    &["friedrich", "fritz"],
    &["katharina", "kathi", "katja", "kati"],
    &["elisabeth", "lisa", "elise", "sissi", "liesl"],
    &["maximilian", "max", "maxi"],
    &["sebastian", "basti"],
    &["stefan", "steffi"],
    &["stefanie", "steffi"],
    &["franziska", "franzi"],
    &["johanna", "hanna", "hanne", "jo"],
    &["thorsten", "torsten"],
    &["francesco", "franco", "cesco"],
    &["giuseppe", "peppe", "beppe", "pino"],
    &["giovanni", "gianni", "nanni"],
    &["alessandro", "sandro", "ale"],
    &["alejandro", "alex", "ale", "alejo"],
    &["javier", "javi"],
    &["fernando", "nando", "fer"],
    &["mercedes", "merche", "mecha"],
    &["antonio", "toni", "tonio", "tono", "tonino"],
    &["francisco", "paco", "pancho", "fran", "curro"],
    &["jose", "pepe"],
    &["manuel", "manolo", "manu"],
    &["dolores", "lola"],
    &["guadalupe", "lupe"],
    &["ignacio", "nacho"],
    &["enrique", "quique"],
    &["jean", "jeannot"],
    &["francois", "franck"],
    &["guillaume", "guigui"],
    &["frederic", "fred"],
    &["mathieu", "math", "mat", "matthieu"],
    &["sebastien", "seb", "sebastian"],
    &["christophe", "chris"],
    &["nicolas", "nico", "nick"],
    &["dominique", "dom"],
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_removes_case_accents_and_punctuation() {
        assert_eq!(fold("Müller-Lüdenscheidt"), "mullerludenscheidt");
        assert_eq!(fold("Mueller"), fold("Müller"));
        assert_eq!(fold("José"), "jose");
        assert_eq!(fold("O'Brien"), "obrien");
        assert_eq!(fold("Straße"), "strasse");
    }

    #[test]
    fn soundex_matches_the_textbook_codes() {
        assert_eq!(soundex("robert"), "R163");
        assert_eq!(soundex("rupert"), "R163");
        assert_eq!(soundex("ashcraft"), "A261");
        assert_eq!(soundex("tymczak"), "T522");
        assert_eq!(soundex("pfister"), "P236");
        assert_eq!(soundex("lee"), "L000");
        assert_eq!(soundex(""), "");
    }

    #[test]
    fn email_and_phone_parts() {
        assert_eq!(
            email_local("Anna.Smith+shop@gmail.com").as_deref(),
            Some("annasmith")
        );
        assert_eq!(
            email_local("Anna.Smith@web.de").as_deref(),
            Some("anna.smith")
        );
        assert_eq!(email_local("nope"), None);
        assert!(local_is_name("jean.dubois71", "jean", "dubois"));
        assert!(local_is_name("jdubois", "jean", "dubois"));
        assert!(!local_is_name("sunnyhiker", "jean", "dubois"));
        assert_eq!(
            phone_suffix("+4915204571819", 7).as_deref(),
            Some("4571819")
        );
        assert_eq!(phone_suffix("+49", 7), None);
    }

    #[test]
    fn placeholders_are_recognised() {
        assert!(is_placeholder_email("test@test.com"));
        assert!(is_placeholder_email("noemail@shop.de"));
        assert!(is_placeholder_email("anna@example.com"));
        assert!(!is_placeholder_email("anna.test@gmail.com"));
        assert!(is_placeholder_phone("+11111111111"));
        assert!(is_placeholder_phone("+441234567"));
        assert!(!is_placeholder_phone("+14155550123"));
    }

    #[test]
    fn nicknames_and_initials() {
        assert!(nickname_of("robert", "bob"));
        assert!(nickname_of("bob", "robbie"));
        assert!(nickname_of("j", "john"));
        assert!(!nickname_of("robert", "william"));
        assert!(nickname_of("katherine", "kate"));
        // A short form of two names matches both, the two names not each other.
        assert!(nickname_of("alex", "alexander") && nickname_of("alexandra", "alex"));
        assert!(nickname_of("sasha", "alexandra"));
        assert!(!nickname_of("alexander", "alexandra"));
        assert!(
            !nickname_of("zebedee", "zebedee"),
            "names outside the table are not nicknames"
        );
    }

    #[test]
    fn addresses_compare_by_tokens() {
        let a = address_tokens("12 Main St.");
        let b = address_tokens("12 main street");
        assert_eq!(a, b);
        assert!(jaccard(&a, &address_tokens("14 Main Street")) > 0.3);
        assert_eq!(jaccard(&a, &[]), 0.0);
    }
}
