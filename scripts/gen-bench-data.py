#!/usr/bin/env python3
"""Writes the benchmark CSVs: realistic, messy, deterministic (seeded).

usage: gen-bench-data.py contacts|order_lines ROWS OUT.csv
"""
import random
import sys

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Zoë", "José",
         "Lukas", "Émilie", "Sofía", "Oliver", "Amelia", "Jürgen", "Chloé", "Mateo", "Isla", "Noah"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Müller", "Schmidt",
        "Martin", "Bernard", "López", "Martínez", "Taylor", "Wilson", "O'Brien", "Nguyen", "Kim", "Rossi"]
COUNTRIES = [("US", "United States"), ("US", "USA"), ("GB", "United Kingdom"), ("DE", "Germany"),
             ("FR", "France"), ("ES", "Spain"), ("CA", "Canada"), ("AU", "Australia")]
CITIES = ["Boston", "Austin", "Leeds", "Berlin", "Lyon", "Madrid", "Toronto", "Perth"]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "example.com", "web.de", "orange.fr"]


def phone(rng, cc):
    n = rng.randrange(10_000_000)
    if cc in ("US", "CA"):
        area = rng.choice(["212", "415", "617", "312", "512", "416"])
        fmt = rng.randrange(3)
        line = f"{2 + n % 8}{n // 10 % 100:02d}"
        last = f"{n // 1000 % 10000:04d}"
        return [f"({area}) {line}-{last}", f"+1 {area}-{line}-{last}", f"{area}{line}{last}"][fmt]
    if cc == "GB":
        return f"07{rng.randrange(400, 999)} {n % 1_000_000:06d}"
    if cc == "DE":
        return f"+49 151 {n % 100_000_000:08d}"
    if cc == "FR":
        return f"06 {n % 100:02d} {n // 100 % 100:02d} {n // 10_000 % 100:02d} {n // 1_000_000 % 10:01d}{n % 10}"
    return f"+{rng.choice(['34 612', '61 412'])} {n % 1_000_000:06d}"


def contacts(rows, out, rng):
    out.write("customer_id,email,first_name,last_name,phone,birth_date,city,postcode,country,created_at,accepts_marketing,notes\n")
    for i in range(rows):
        f, l = rng.choice(FIRST), rng.choice(LAST)
        cc, cname = rng.choice(COUNTRIES)
        local = f"{f}.{l}{i}".replace("'", "").replace(" ", "")
        email = f"{local}@{rng.choice(DOMAINS)}"
        if rng.random() < 0.3:
            email = " " + email.upper()
        country = cname if rng.random() < 0.5 else cc
        dob = f"{rng.randrange(1950, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        created = f"{rng.randrange(2019, 2026)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} {rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        notes = "" if rng.random() < 0.8 else '"likes ""trail"" shoes, size 42"'
        out.write(f"C{i:07d},{email},{f},{l},{phone(rng, cc)},{dob},{rng.choice(CITIES)},{rng.randrange(10000, 99999)},{country},{created},{rng.choice(['yes', 'no'])},{notes}\n")


def order_lines(rows, out, rng):
    out.write("order_id,line_number,sku,product_name,quantity,unit_price,currency\n")
    order, line = 1000, 0
    for _ in range(rows):
        if line == 0 or rng.random() < 0.45:
            order += 1
            line = 0
        line += 1
        sku = rng.randrange(1, 600)
        price = f"{rng.randrange(5, 400)}.{rng.choice(['00', '50', '99'])}"
        out.write(f"#{order},{line},SKU-{sku:04d},Product {sku},{rng.choice([1, 1, 1, 2, 3])},{price},USD\n")


def main():
    kind, rows, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = random.Random(42)
    with open(path, "w", encoding="utf-8", newline="") as out:
        {"contacts": contacts, "order_lines": order_lines}[kind](rows, out, rng)


if __name__ == "__main__":
    main()
