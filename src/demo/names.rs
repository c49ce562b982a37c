//! Embedded name tables and the small text distortions that make one person
//! look different in different systems (nicknames, typos, lost accents).
//!
//! Lists are ordered from common to rare: names are drawn with a Zipf law
//! over the position, so "James Smith" is frequent enough for look-alikes to
//! happen by chance, as they do in real customer bases.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Culture {
    English,
    German,
    French,
    Spanish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gender {
    Female,
    Male,
}

/// Draws a position in a list of `len` items, favouring the front.
pub(crate) fn zipf_index(rng: &mut ChaCha8Rng, len: usize, s: f64) -> usize {
    debug_assert!(len > 0);
    if len == 1 {
        return 0;
    }
    let z = Zipf::new(len as f64, s).expect("valid Zipf parameters");
    (z.sample(rng) as usize).clamp(1, len) - 1
}

pub(crate) fn first_name(rng: &mut ChaCha8Rng, culture: Culture, gender: Gender) -> &'static str {
    let list = match (culture, gender) {
        (Culture::English, Gender::Male) => ENGLISH_MALE,
        (Culture::English, Gender::Female) => ENGLISH_FEMALE,
        (Culture::German, Gender::Male) => GERMAN_MALE,
        (Culture::German, Gender::Female) => GERMAN_FEMALE,
        (Culture::French, Gender::Male) => FRENCH_MALE,
        (Culture::French, Gender::Female) => FRENCH_FEMALE,
        (Culture::Spanish, Gender::Male) => SPANISH_MALE,
        (Culture::Spanish, Gender::Female) => SPANISH_FEMALE,
    };
    list[zipf_index(rng, list.len(), 0.7)]
}

pub(crate) fn last_name(rng: &mut ChaCha8Rng, culture: Culture) -> String {
    let list = match culture {
        Culture::English => ENGLISH_LAST,
        Culture::German => GERMAN_LAST,
        Culture::French => FRENCH_LAST,
        Culture::Spanish => SPANISH_LAST,
    };
    let first = list[zipf_index(rng, list.len(), 0.8)];
    // Spanish speakers usually carry both family names; systems keep one or both.
    if culture == Culture::Spanish && rng.random_bool(0.35) {
        let second = list[zipf_index(rng, list.len(), 0.8)];
        if second != first {
            return format!("{first} {second}");
        }
    }
    first.to_string()
}

/// The short forms people give instead of their registered first name.
pub(crate) fn nicknames(first: &str) -> &'static [&'static str] {
    NICKNAMES
        .iter()
        .find(|(formal, _)| *formal == first)
        .map_or(&[], |(_, n)| n)
}

/// One slip of the keyboard: two neighbouring letters swapped, one dropped,
/// or one doubled. The first letter is kept, as it usually is in real typos.
pub(crate) fn typo(rng: &mut ChaCha8Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() < 4 {
        return s.to_string();
    }
    let i = rng.random_range(1..chars.len() - 1);
    match rng.random_range(0..3) {
        0 => chars.swap(i, i + 1),
        1 => {
            chars.remove(i);
        }
        _ => chars.insert(i, chars[i]),
    }
    chars.into_iter().collect()
}

/// How a system without accents stores a name: `Müller` → `Muller`,
/// `José` → `Jose`. German umlauts are transliterated (`ü` → `ue`) when
/// `german` is set, as Germans do themselves.
pub(crate) fn strip_accents(s: &str, german: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'ä' if german => out.push_str("ae"),
            'ö' if german => out.push_str("oe"),
            'ü' if german => out.push_str("ue"),
            'Ä' if german => out.push_str("Ae"),
            'Ö' if german => out.push_str("Oe"),
            'Ü' if german => out.push_str("Ue"),
            'ß' => out.push_str("ss"),
            'á' | 'à' | 'â' | 'ä' | 'ã' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'í' | 'ì' | 'î' | 'ï' => out.push('i'),
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => out.push('o'),
            'ú' | 'ù' | 'û' | 'ü' => out.push('u'),
            'ñ' => out.push('n'),
            'ç' => out.push('c'),
            'Á' | 'À' | 'Â' | 'Ä' => out.push('A'),
            'É' | 'È' | 'Ê' => out.push('E'),
            'Í' | 'Î' => out.push('I'),
            'Ó' | 'Ô' | 'Ö' => out.push('O'),
            'Ú' | 'Ü' => out.push('U'),
            'Ñ' => out.push('N'),
            'Ç' => out.push('C'),
            'œ' => out.push_str("oe"),
            _ => out.push(c),
        }
    }
    out
}

/// A name as the local part of an email address: ASCII, lower case, no
/// spaces or apostrophes (`O'Brien` → `obrien`, `García López` → `garcialopez`).
pub(crate) fn email_token(s: &str) -> String {
    strip_accents(s, true)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// `john` → `John`, for names typed in lower case.
pub(crate) fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

static ENGLISH_MALE: &[&str] = &[
    "James",
    "John",
    "Robert",
    "Michael",
    "William",
    "David",
    "Richard",
    "Joseph",
    "Thomas",
    "Charles",
    "Christopher",
    "Daniel",
    "Matthew",
    "Anthony",
    "Mark",
    "Steven",
    "Paul",
    "Andrew",
    "Joshua",
    "Kenneth",
    "Kevin",
    "Brian",
    "George",
    "Timothy",
    "Ronald",
    "Edward",
    "Jason",
    "Jeffrey",
    "Ryan",
    "Jacob",
    "Gary",
    "Nicholas",
    "Eric",
    "Jonathan",
    "Stephen",
    "Justin",
    "Scott",
    "Brandon",
    "Benjamin",
    "Samuel",
    "Gregory",
    "Alexander",
    "Patrick",
    "Frank",
    "Raymond",
    "Jack",
    "Dennis",
    "Tyler",
    "Aaron",
    "Henry",
    "Adam",
    "Nathan",
    "Zachary",
    "Oliver",
    "Harry",
    "Charlie",
    "Liam",
    "Noah",
    "Ethan",
    "Lucas",
    "Owen",
    "Connor",
    "Callum",
    "Rhys",
];

static ENGLISH_FEMALE: &[&str] = &[
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Barbara",
    "Susan",
    "Jessica",
    "Sarah",
    "Karen",
    "Lisa",
    "Nancy",
    "Margaret",
    "Sandra",
    "Ashley",
    "Kimberly",
    "Emily",
    "Donna",
    "Michelle",
    "Carol",
    "Amanda",
    "Melissa",
    "Deborah",
    "Stephanie",
    "Rebecca",
    "Sharon",
    "Laura",
    "Cynthia",
    "Kathleen",
    "Amy",
    "Angela",
    "Anna",
    "Brenda",
    "Pamela",
    "Emma",
    "Nicole",
    "Helen",
    "Samantha",
    "Katherine",
    "Christine",
    "Rachel",
    "Catherine",
    "Heather",
    "Diane",
    "Olivia",
    "Sophie",
    "Charlotte",
    "Amelia",
    "Lucy",
    "Hannah",
    "Victoria",
    "Abigail",
    "Megan",
    "Grace",
    "Chloe",
    "Ella",
    "Isla",
    "Ava",
    "Mia",
    "Zoe",
    "Natalie",
    "Jenny",
    "Claire",
    "Fiona",
];

static GERMAN_MALE: &[&str] = &[
    "Thomas",
    "Michael",
    "Andreas",
    "Stefan",
    "Christian",
    "Markus",
    "Daniel",
    "Tobias",
    "Sebastian",
    "Florian",
    "Jan",
    "Matthias",
    "Alexander",
    "Lukas",
    "Leon",
    "Finn",
    "Jonas",
    "Paul",
    "Felix",
    "Maximilian",
    "Elias",
    "Noah",
    "Ben",
    "Klaus",
    "Jürgen",
    "Wolfgang",
    "Uwe",
    "Dirk",
    "Frank",
    "Sven",
    "Jörg",
    "Niklas",
    "Moritz",
    "Tim",
    "Philipp",
    "Dominik",
    "Björn",
];

static GERMAN_FEMALE: &[&str] = &[
    "Anna",
    "Lena",
    "Laura",
    "Julia",
    "Lea",
    "Sarah",
    "Hannah",
    "Katharina",
    "Sabine",
    "Claudia",
    "Susanne",
    "Petra",
    "Andrea",
    "Stefanie",
    "Nicole",
    "Melanie",
    "Sandra",
    "Christina",
    "Monika",
    "Ursula",
    "Birgit",
    "Jana",
    "Johanna",
    "Marie",
    "Sophie",
    "Emilia",
    "Mia",
    "Charlotte",
    "Franziska",
    "Anja",
    "Katrin",
    "Lisa",
    "Kerstin",
    "Heike",
    "Annika",
    "Jessica",
];

static FRENCH_MALE: &[&str] = &[
    "Jean",
    "Pierre",
    "Michel",
    "Philippe",
    "Alain",
    "Nicolas",
    "François",
    "Thomas",
    "Julien",
    "Antoine",
    "Louis",
    "Hugo",
    "Lucas",
    "Mathieu",
    "Sébastien",
    "Olivier",
    "Christophe",
    "Laurent",
    "Guillaume",
    "Maxime",
    "Théo",
    "Arthur",
    "Romain",
    "Benoît",
    "Étienne",
    "Gabriel",
    "Raphaël",
    "Jules",
    "Léo",
    "Clément",
    "Vincent",
    "Alexandre",
];

static FRENCH_FEMALE: &[&str] = &[
    "Marie",
    "Nathalie",
    "Isabelle",
    "Sylvie",
    "Catherine",
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Julie",
    "Sophie",
    "Céline",
    "Élodie",
    "Aurélie",
    "Claire",
    "Émilie",
    "Inès",
    "Louise",
    "Juliette",
    "Margaux",
    "Amélie",
    "Sandrine",
    "Valérie",
    "Hélène",
    "Anaïs",
    "Emma",
    "Jade",
    "Alice",
    "Lucie",
    "Pauline",
    "Charlotte",
    "Mathilde",
];

static SPANISH_MALE: &[&str] = &[
    "José",
    "Antonio",
    "Manuel",
    "Francisco",
    "Juan",
    "David",
    "Javier",
    "Daniel",
    "Carlos",
    "Miguel",
    "Alejandro",
    "Rafael",
    "Pablo",
    "Sergio",
    "Jorge",
    "Luis",
    "Álvaro",
    "Diego",
    "Adrián",
    "Fernando",
    "Alberto",
    "Raúl",
    "Iván",
    "Rubén",
    "Mario",
    "Hugo",
    "Marcos",
    "Andrés",
    "Enrique",
    "Ramón",
];

static SPANISH_FEMALE: &[&str] = &[
    "María",
    "Carmen",
    "Ana",
    "Isabel",
    "Laura",
    "Lucía",
    "Cristina",
    "Marta",
    "Elena",
    "Paula",
    "Sara",
    "Raquel",
    "Rosa",
    "Pilar",
    "Beatriz",
    "Silvia",
    "Andrea",
    "Sofía",
    "Alba",
    "Irene",
    "Patricia",
    "Nuria",
    "Teresa",
    "Mercedes",
    "Claudia",
    "Dolores",
    "Guadalupe",
    "Julia",
    "Natalia",
    "Rocío",
];

static ENGLISH_LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Hill",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
    "Mitchell",
    "Roberts",
    "Turner",
    "Phillips",
    "Campbell",
    "Parker",
    "Evans",
    "Edwards",
    "Collins",
    "Stewart",
    "Morris",
    "Murphy",
    "Cook",
    "Rogers",
    "Morgan",
    "Cooper",
    "Peterson",
    "Reed",
    "Bailey",
    "Bell",
    "Kelly",
    "Howard",
    "Ward",
    "Cox",
    "Richardson",
    "Wood",
    "Watson",
    "Brooks",
    "Bennett",
    "Gray",
    "Hughes",
    "Price",
    "Sanders",
    "Patel",
    "Khan",
    "O'Brien",
    "Hall",
    "Walsh",
    "Davies",
    "Jenkins",
    "O'Connor",
    "McDonald",
    "MacLeod",
    "Nguyen",
    "Kim",
    "Chen",
    "Singh",
    "Fitzgerald",
    "Sullivan",
    "Foster",
    "Hayes",
    "Russell",
    "Griffin",
    "Palmer",
    "Fletcher",
];

static GERMAN_LAST: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Meier",
    "Lehmann",
    "Schmid",
    "Schulze",
    "Maier",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "Mayer",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Lang",
    "Scholz",
    "Möller",
    "Weiß",
    "Jung",
    "Hahn",
    "Vogel",
    "Friedrich",
];

static FRENCH_LAST: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefèvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clément",
];

static SPANISH_LAST: &[&str] = &[
    "García",
    "Rodríguez",
    "González",
    "Fernández",
    "López",
    "Martínez",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Martín",
    "Jiménez",
    "Ruiz",
    "Hernández",
    "Díaz",
    "Moreno",
    "Muñoz",
    "Álvarez",
    "Romero",
    "Alonso",
    "Gutiérrez",
    "Navarro",
    "Torres",
    "Domínguez",
    "Vázquez",
    "Ramos",
    "Gil",
    "Ramírez",
    "Serrano",
    "Blanco",
    "Molina",
    "Morales",
    "Suárez",
    "Ortega",
    "Delgado",
    "Castro",
    "Ortiz",
    "Rubio",
    "Marín",
    "Sanz",
    "Iglesias",
];

static NICKNAMES: &[(&str, &[&str])] = &[
    ("Robert", &["Bob", "Rob", "Bobby"]),
    ("William", &["Bill", "Will", "Billy"]),
    ("Elizabeth", &["Liz", "Beth", "Lizzie", "Betty"]),
    ("Katherine", &["Kate", "Katie", "Kathy"]),
    ("Catherine", &["Cathy", "Kate", "Cat"]),
    ("Kathleen", &["Kathy", "Kate"]),
    ("Michael", &["Mike", "Mick"]),
    ("Alexander", &["Alex", "Xander"]),
    ("Margaret", &["Maggie", "Peggy", "Meg"]),
    ("James", &["Jim", "Jimmy", "Jamie"]),
    ("Richard", &["Rick", "Rich", "Dick"]),
    ("Thomas", &["Tom", "Tommy"]),
    ("Christopher", &["Chris", "Kit"]),
    ("Daniel", &["Dan", "Danny"]),
    ("Matthew", &["Matt"]),
    ("Anthony", &["Tony"]),
    ("Joseph", &["Joe", "Joey"]),
    ("Andrew", &["Andy", "Drew"]),
    ("Nicholas", &["Nick", "Nicky"]),
    ("Jonathan", &["Jon", "Johnny"]),
    ("John", &["Johnny", "Jack"]),
    ("Stephen", &["Steve"]),
    ("Steven", &["Steve"]),
    ("Benjamin", &["Ben", "Benji"]),
    ("Samuel", &["Sam", "Sammy"]),
    ("Edward", &["Ed", "Ted", "Eddie"]),
    ("Patrick", &["Pat", "Paddy"]),
    ("Timothy", &["Tim"]),
    ("Kenneth", &["Ken", "Kenny"]),
    ("Gregory", &["Greg"]),
    ("Jeffrey", &["Jeff"]),
    ("Zachary", &["Zach", "Zack"]),
    ("Jacob", &["Jake"]),
    ("Henry", &["Harry", "Hank"]),
    ("Charles", &["Charlie", "Chuck"]),
    ("Ronald", &["Ron", "Ronnie"]),
    ("Raymond", &["Ray"]),
    ("Joshua", &["Josh"]),
    ("Jennifer", &["Jen", "Jenny"]),
    ("Jessica", &["Jess", "Jessie"]),
    ("Rebecca", &["Becky", "Becca"]),
    ("Patricia", &["Pat", "Patty", "Trish"]),
    ("Susan", &["Sue", "Susie"]),
    ("Deborah", &["Debbie", "Deb"]),
    ("Stephanie", &["Steph"]),
    ("Samantha", &["Sam", "Sammy"]),
    ("Victoria", &["Vicky", "Tori"]),
    ("Abigail", &["Abby"]),
    ("Kimberly", &["Kim"]),
    ("Pamela", &["Pam"]),
    ("Christine", &["Chris", "Chrissy"]),
    ("Nicole", &["Nikki"]),
    ("Amanda", &["Mandy"]),
    ("Melissa", &["Mel", "Missy"]),
    ("Cynthia", &["Cindy"]),
    ("Barbara", &["Barb", "Babs"]),
    ("Sandra", &["Sandy"]),
    ("Maximilian", &["Max"]),
    ("Johanna", &["Hanna"]),
    ("Franziska", &["Franzi"]),
    ("Katharina", &["Kathi", "Katja"]),
    ("Sebastian", &["Basti"]),
    ("Christian", &["Chris"]),
    ("Stefanie", &["Steffi"]),
    ("Wolfgang", &["Wolf"]),
    ("Nicolas", &["Nico"]),
    ("Sébastien", &["Seb"]),
    ("Christophe", &["Chris"]),
    ("Guillaume", &["Guigui"]),
    ("Mathieu", &["Mat"]),
    ("José", &["Pepe"]),
    ("Francisco", &["Paco", "Fran"]),
    ("Manuel", &["Manolo", "Manu"]),
    ("Antonio", &["Toni", "Toño"]),
    ("Alejandro", &["Álex", "Alex"]),
    ("Javier", &["Javi"]),
    ("Guadalupe", &["Lupe"]),
    ("Dolores", &["Lola"]),
    ("Mercedes", &["Merche"]),
    ("Fernando", &["Nando"]),
];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn typos_differ_by_one_edit_and_keep_the_first_letter() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let t = typo(&mut rng, "Katherine");
            assert_ne!(t, "Katherine");
            assert!(t.starts_with('K'));
            assert!((8..=10).contains(&t.chars().count()));
        }
    }

    #[test]
    fn tokens_and_accents() {
        assert_eq!(email_token("O'Brien"), "obrien");
        assert_eq!(email_token("García López"), "garcialopez");
        assert_eq!(email_token("Müller"), "mueller");
        assert_eq!(strip_accents("Müller", false), "Muller");
        assert_eq!(strip_accents("Weiß", false), "Weiss");
        assert_eq!(nicknames("Robert"), &["Bob", "Rob", "Bobby"]);
        assert!(nicknames("Zoe").is_empty());
    }

    #[test]
    fn zipf_favours_the_front_and_stays_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut counts = [0_u32; 10];
        for _ in 0..10_000 {
            counts[zipf_index(&mut rng, 10, 0.8)] += 1;
        }
        assert!(counts[0] > counts[9] * 3);
        assert!(counts.iter().all(|&c| c > 0));
    }
}
