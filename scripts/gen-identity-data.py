#!/usr/bin/env python3
"""Writes a contacts export with known duplicates, for identity benchmarks.

usage: gen-identity-data.py RECORDS DUPLICATE_SHARE SEED OUT.csv TRUTH.csv

RECORDS rows in one CRM export (generic contacts layout): people first,
then DUPLICATE_SHARE of the rows as second or third records of some of
them, each recorded with the errors real CRMs hold (typos, nicknames,
swapped or cut names, another email or none, a phone in another format or
none, birth dates off by a field or transposed, postcodes and cities
spelled differently). Names follow a long-tailed distribution, so common
names make big blocks as they do in real data. Every record has its own
customer id: nothing but the person's details can link duplicates.

TRUTH.csv is `file,source_key,person_id`, the format `cohort eval identity
--truth` reads (the demo generator's).
"""
import random
import sys

FIRST = """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara
Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Nancy Daniel Lisa Matthew Betty
Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle
Kenneth Dorothy Kevin Carol Brian Amanda George Melissa Edward Deborah Ronald Stephanie Timothy
Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Shirley Eric Angela
Jonathan Helen Stephen Anna Larry Brenda Justin Pamela Scott Nicole Brandon Emma Benjamin Samantha
Samuel Katherine Gregory Christine Frank Debra Alexander Rachel Raymond Catherine Patrick Carolyn
Jack Janet Dennis Ruth Jerry Maria Tyler Heather Aaron Diane Jose Virginia Adam Julie Henry Joyce
Nathan Victoria Douglas Olivia Zachary Kelly Peter Christina Kyle Lauren Walter Joan Ethan Evelyn
Jeremy Judith Harold Megan Keith Cheryl Christian Andrea Roger Hannah Noah Martha Gerald Jacqueline
Carl Frances Terry Gloria Sean Ann Austin Teresa Arthur Kathryn Lawrence Sara Jesse Janice Dylan
Jean Bryan Alice Joe Madison Jordan Doris Billy Abigail Bruce Julia Albert Judy Willie Grace Gabriel
Denise Logan Amber Alan Marilyn Juan Beverly Wayne Danielle Roy Theresa Ralph Sophia Randy Marie
Eugene Diana Vincent Brittany Russell Natalie Elijah Isabella Louis Charlotte Bobby Rose Philip
Alexis Johnny Kayla Lukas Leonie Jonas Mia Finn Lea Felix Lena Maximilian Hanna Paul Lina Elias
Clara Luca Emilia Ben Marie Hugo Chloé Louis Camille Jules Manon Gabriel Inès Léo Jade Arthur Louise
Mateo Lucía Hugo Sofía Martín Martina Pablo Valeria Alejandro Paula Daniel Julia Álvaro Carmen
Oliver Amelia Harry Isla George Ava Oscar Ivy Charlie Freya Archie Florence Alfie Poppy Freddie
Willow Thomas Evie Theo Ella Leo Elsie Arlo Rosie Henry Daisy""".split()

NICK = {"William": "Bill", "Robert": "Bob", "Richard": "Dick", "James": "Jim", "John": "Jack",
        "Michael": "Mike", "Elizabeth": "Liz", "Jennifer": "Jen", "Thomas": "Tom", "Christopher": "Chris",
        "Daniel": "Dan", "Matthew": "Matt", "Anthony": "Tony", "Joseph": "Joe", "Margaret": "Maggie",
        "Katherine": "Kate", "Catherine": "Cathy", "Alexander": "Alex", "Benjamin": "Ben", "Samuel": "Sam",
        "Nicholas": "Nick", "Edward": "Ed", "Stephen": "Steve", "Steven": "Steve", "Patricia": "Pat",
        "Susan": "Sue", "Rebecca": "Becky", "Jacqueline": "Jackie", "Victoria": "Vicky", "Andrew": "Andy",
        "Jonathan": "Jon", "Timothy": "Tim", "Kenneth": "Ken", "Gregory": "Greg", "Ronald": "Ron",
        "Donald": "Don", "Raymond": "Ray", "Lawrence": "Larry", "Deborah": "Debbie", "Pamela": "Pam",
        "Kimberly": "Kim", "Samantha": "Sam", "Gabriel": "Gabe", "Zachary": "Zach", "Maximilian": "Max",
        "Alejandro": "Alex", "Charlotte": "Lottie", "Florence": "Flo", "Frederick": "Fred"}

COMMON_LAST = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez
Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams
Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Müller Schmidt Schneider Fischer Weber
Meyer Wagner Becker Schulz Hoffmann Bernard Dubois Durand Leroy Moreau Simon Laurent Lefebvre Michel
Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Martín Jiménez Evans Davies Wilson
Thomas Roberts Walker Wright Robinson Thompson Hughes Edwards Green Hall Wood Harris Lewis Martin
Jackson Clarke O'Brien Murphy Kelly O'Connor Walsh Byrne Ryan""".split()

SYL1 = ["Ab", "Bar", "Bel", "Bran", "Car", "Col", "Dal", "Dun", "El", "Fair", "Gal", "Gold", "Hal",
        "Hart", "Ing", "Kel", "Lang", "Lind", "Mar", "Mont", "Nor", "Oak", "Pem", "Quin", "Ros", "Sal",
        "Stan", "Thorn", "Ul", "Vard", "Wes", "Win", "York", "Ash", "Black", "Brook", "Cross", "Fen"]
SYL2 = ["bury", "by", "den", "field", "ford", "gate", "ham", "holt", "ley", "man", "mere", "more",
        "ridge", "son", "ston", "ton", "well", "wick", "worth", "er", "ett", "ing", "ock", "an"]
SYL3 = ["", "", "", "e", "s", "er", "en"]

CITIES = {
    "GB": ["London", "Manchester", "Leeds", "Bristol", "Glasgow", "Cardiff", "York", "Brighton"],
    "US": ["New York", "Boston", "Austin", "Seattle", "Chicago", "Denver", "Portland", "Atlanta"],
    "DE": ["Berlin", "München", "Hamburg", "Köln", "Frankfurt", "Leipzig", "Dresden", "Bremen"],
    "FR": ["Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Lille", "Bordeaux", "Nice"],
    "ES": ["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Málaga", "Zaragoza", "Murcia"],
}
CITY_VARIANT = {"München": "Munich", "Köln": "Cologne", "Sevilla": "Seville", "Málaga": "Malaga",
                "New York": "NYC", "Marseille": "Marseilles"}
COUNTRY_WEIGHTS = [("GB", 30), ("US", 30), ("DE", 15), ("FR", 13), ("ES", 12)]
DOMAINS = ["gmail.com"] * 8 + ["yahoo.com"] * 3 + ["outlook.com"] * 3 + ["hotmail.com"] * 2 + \
          ["icloud.com", "gmx.de", "web.de", "orange.fr", "free.fr", "btinternet.com", "aol.com"]
STREETS = ["High Street", "Station Road", "Main Street", "Church Lane", "Park Avenue", "Mill Road",
           "Hauptstraße", "Bahnhofstraße", "Rue de la Paix", "Avenue Victor Hugo", "Calle Mayor",
           "Gran Vía", "Oak Street", "Maple Avenue", "Elm Road", "Victoria Road"]


def zipf_weights(n, s=1.05):
    return [1.0 / (k + 1) ** s for k in range(n)]


def cumulative(weights):
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def surnames(rng):
    names = list(dict.fromkeys(COMMON_LAST))
    seen = set(names)
    while len(names) < 20000:
        # 38 × 24 × 7 plain combinations are too few: some get a middle
    # (about 27,000 distinct in all).
        middle = rng.choice(["", "", "", "er", "an", "el", "ing", "or"])
        n = rng.choice(SYL1) + middle + rng.choice(SYL2) + rng.choice(SYL3)
        if n not in seen:
            seen.add(n)
            names.append(n)
    return names


def postcode(rng, cc):
    if cc == "GB":
        return f"{rng.choice('BELMNSWY')}{rng.choice('ABCDEHLNRST')}{rng.randrange(1, 20)} {rng.randrange(1, 10)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
    if cc == "US":
        return f"{rng.randrange(10000, 99999)}"
    return f"{rng.randrange(10000, 99999):05d}"


def phone(rng, cc):
    n = rng.randrange(10_000_000, 99_999_999)
    if cc == "GB":
        return f"+447{n:09d}"[:13]
    if cc == "US":
        return f"+1{rng.choice(['212', '415', '617', '312', '512', '303'])}{rng.randrange(200, 999)}{n % 10000:04d}"
    if cc == "DE":
        return f"+49151{n:08d}"
    if cc == "FR":
        return f"+336{n:08d}"
    return f"+346{n:08d}"


def shown_phone(rng, p, cc):
    """The same number as people type it."""
    r = rng.random()
    if r < 0.5:
        return p
    if cc == "GB" and p.startswith("+44"):
        return "0" + p[3:7] + " " + p[7:]
    if cc == "US" and p.startswith("+1"):
        return f"({p[2:5]}) {p[5:8]}-{p[8:]}"
    return p[:3] + " " + p[3:6] + " " + p[6:]


def typo(rng, s):
    if len(s) < 3:
        return s
    i = rng.randrange(1, len(s) - 1)
    r = rng.random()
    if r < 0.3:
        return s[:i] + s[i + 1:]                      # dropped letter
    if r < 0.6:
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]    # swapped letters
    if r < 0.8:
        return s[:i] + s[i] + s[i:]                   # doubled letter
    return s[:i] + rng.choice("aeiou") + s[i + 1:]    # wrong vowel


def strip_accents(s):
    return s.translate(str.maketrans("áéíóúüöäñçèàÁÉÖÜ", "aeiouuoanceaAEOU"))


def person(rng, firsts, first_cdf, lasts, last_cdf):
    cc = rng.choices([c for c, _ in COUNTRY_WEIGHTS], [w for _, w in COUNTRY_WEIGHTS])[0]
    first = rng.choices(firsts, cum_weights=first_cdf)[0]
    last = rng.choices(lasts, cum_weights=last_cdf)[0]
    local = strip_accents(rng.choice([
        f"{first}.{last}", f"{first[0]}{last}{rng.randrange(1, 99)}", f"{first}{last}{rng.randrange(1950, 2005)}",
        f"{first}_{last[:3]}{rng.randrange(100, 999)}", f"{last}.{first[0]}{rng.randrange(1, 999)}",
    ])).lower().replace("'", "").replace(" ", "")
    return {
        "cc": cc,
        "first": first,
        "last": last,
        "email": f"{local}@{rng.choice(DOMAINS)}" if rng.random() < 0.9 else "",
        "phone": phone(rng, cc) if rng.random() < 0.75 else "",
        "dob": (rng.randrange(1945, 2006), rng.randrange(1, 13), rng.randrange(1, 29)) if rng.random() < 0.6 else None,
        "street": f"{rng.randrange(1, 200)} {rng.choice(STREETS)}" if rng.random() < 0.8 else "",
        "city": rng.choice(CITIES[cc]),
        "postcode": postcode(rng, cc) if rng.random() < 0.85 else "",
    }


def copy_with_errors(rng, p):
    """A second record of the same person, as another form or agent typed it."""
    q = dict(p)
    r = rng.random()
    if r < 0.12:
        q["first"] = typo(rng, q["first"])
    elif r < 0.20 and q["first"] in NICK:
        q["first"] = NICK[q["first"]]
    elif r < 0.24:
        q["first"], q["last"] = q["last"], q["first"]
    elif r < 0.27:
        q["first"] = q["first"][0] + "."
    if rng.random() < 0.12:
        q["last"] = typo(rng, q["last"])
    if rng.random() < 0.1:
        q["first"], q["last"] = strip_accents(q["first"]), strip_accents(q["last"])
    r = rng.random()
    if r < 0.25:
        q["email"] = ""
    elif r < 0.45 and q["email"]:
        local = q["email"].split("@")[0]
        q["email"] = f"{local}@{rng.choice(DOMAINS)}" if rng.random() < 0.5 else \
            f"{strip_accents(q['first']).lower()}{rng.randrange(1, 999)}@{rng.choice(DOMAINS)}"
    elif r < 0.55 and q["email"]:
        q["email"] = q["email"].upper()
    r = rng.random()
    if r < 0.3:
        q["phone"] = ""
    elif r < 0.4:
        q["phone"] = phone(rng, q["cc"])
    if q["dob"]:
        y, m, d = q["dob"]
        r = rng.random()
        if r < 0.25:
            q["dob"] = None
        elif r < 0.30 and d <= 12:
            q["dob"] = (y, d, m)
        elif r < 0.35:
            q["dob"] = (y + rng.choice([-1, 1]), m, d)
    r = rng.random()
    if r < 0.15:
        q["postcode"] = ""
    elif r < 0.25:
        q["postcode"] = q["postcode"].replace(" ", "").lower()
    elif r < 0.3:
        q["postcode"], q["street"], q["city"] = postcode(rng, q["cc"]), \
            f"{rng.randrange(1, 200)} {rng.choice(STREETS)}", rng.choice(CITIES[q["cc"]])
    if rng.random() < 0.1:
        q["city"] = CITY_VARIANT.get(q["city"], q["city"].upper())
    if rng.random() < 0.2:
        q["street"] = ""
    return q


def row(key, p, rng):
    dob = ""
    if p["dob"]:
        y, m, d = p["dob"]
        dob = f"{y}-{m:02d}-{d:02d}"
    fields = [key, p["email"], p["first"], p["last"], shown_phone(rng, p["phone"], p["cc"]) if p["phone"] else "",
              dob, p["street"], p["city"], p["postcode"], p["cc"]]
    return ",".join(f'"{v}"' if ("," in v or '"' in v) else v for v in fields)


def main():
    records, share, seed, out_path, truth_path = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), \
        sys.argv[4], sys.argv[5]
    rng = random.Random(seed)
    firsts = list(dict.fromkeys(FIRST))
    first_cdf = cumulative(zipf_weights(len(firsts), 0.8))
    lasts = surnames(rng)
    last_cdf = cumulative(zipf_weights(len(lasts), 1.0))
    duplicates = int(records * share)
    people_n = records - duplicates
    file_name = out_path.rsplit("/", 1)[-1]
    people = []
    with open(out_path, "w", encoding="utf-8", newline="") as out, \
            open(truth_path, "w", encoding="utf-8", newline="") as truth:
        out.write("customer_id,email,first_name,last_name,phone,birth_date,address1,city,postcode,country\n")
        truth.write("file,source_key,person_id\n")
        key = 0
        # An address belongs to one person: a second John Miller at
        # gmail gets a number, as Gmail would make him choose.
        taken = set()
        for pid in range(people_n):
            p = person(rng, firsts, first_cdf, lasts, last_cdf)
            while p["email"] in taken:
                local, domain = p["email"].split("@")
                p["email"] = f"{local}{rng.randrange(1, 9999)}@{domain}"
            if p["email"]:
                taken.add(p["email"])
            people.append(p)
            key += 1
            out.write(row(f"C{key:08d}", p, rng) + "\n")
            truth.write(f"{file_name},C{key:08d},P{pid}\n")
        for _ in range(duplicates):
            # Some people have two or three extra records.
            pid = rng.randrange(people_n) if rng.random() < 0.8 else rng.randrange(max(1, people_n // 20))
            q = copy_with_errors(rng, people[pid])
            if q["email"] and q["email"].lower() != people[pid]["email"] and q["email"].lower() in taken:
                q["email"] = ""
            key += 1
            out.write(row(f"C{key:08d}", q, rng) + "\n")
            truth.write(f"{file_name},C{key:08d},P{pid}\n")


if __name__ == "__main__":
    main()
