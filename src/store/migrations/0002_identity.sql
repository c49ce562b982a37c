-- Cohort workspace, schema version 2: identity resolution and profiles.
--
-- Every source record that can belong to a person (a contact, an order, a
-- device seen by web analytics) gets one row in identity_records, whose id
-- never changes: decisions, links and the audit log point at it. The
-- profile a record belongs to is identity_records.profile_id. identifiers
-- and blocking_keys are derived from the records and rebuilt by a full
-- resolution; they exist so that an import can be matched against what is
-- already there without reading everything.

CREATE TABLE identity_records (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind = 'contact' OR kind = 'order' OR kind = 'device'),
    source_id   INTEGER NOT NULL REFERENCES sources (id),
    source_key  TEXT NOT NULL,      -- contacts/orders source_key; a device's anonymous id
    row_id      INTEGER,            -- contacts.id or orders.id; NULL for a device
    fingerprint INTEGER NOT NULL,   -- hash of the fields matching reads: changes mean "look again"
    profile_id  INTEGER,            -- NULL until resolved
    UNIQUE (source_id, kind, source_key)
) STRICT;
CREATE INDEX identity_records_by_profile ON identity_records (profile_id);

-- Normalised identifiers: email, phone (E.164), customer_id, loyalty_id, device_id.
CREATE TABLE identifiers (
    kind      TEXT NOT NULL,
    value     TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    PRIMARY KEY (kind, value, record_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX identifiers_by_record ON identifiers (record_id);

-- Blocking keys for probabilistic matching: xxh3 of rule and value. Each
-- row carries the record's comparison fields (`Fields::encode`), so an
-- incremental run compares a new record with a whole block by reading the
-- block's rows, which sit together in key order, and looks up no record
-- unless the pair can matter. A full run keeps one record per block,
-- profile and fingerprint.
CREATE TABLE blocking_keys (
    key       INTEGER NOT NULL,
    record_id INTEGER NOT NULL,
    fields    TEXT NOT NULL,
    PRIMARY KEY (key, record_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX blocking_keys_by_record ON blocking_keys (record_id);

-- One row per person. Values are chosen by the survivorship rules from the
-- profile's records; origins says which record each value came from.
CREATE TABLE profiles (
    id          INTEGER PRIMARY KEY,
    first_name  TEXT,
    last_name   TEXT,
    email       TEXT,
    phone       TEXT,
    birth_date  TEXT,
    gender      TEXT,
    company     TEXT,
    job_title   TEXT,
    address1    TEXT,
    city        TEXT,
    region      TEXT,
    postcode    TEXT,
    country     TEXT,
    origins     TEXT NOT NULL DEFAULT '{}',  -- JSON {field: identity_records.id}
    records     INTEGER NOT NULL DEFAULT 0,
    first_seen  TEXT,
    last_seen   TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

-- Full-text search over profiles (rowid = profiles.id).
CREATE VIRTUAL TABLE profile_search USING fts5 (
    name, email, phone, ids,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Why records are together: the edges that joined them (a spanning forest).
CREATE TABLE profile_links (
    id       INTEGER PRIMARY KEY,
    record_a INTEGER NOT NULL,
    record_b INTEGER NOT NULL,
    reason   TEXT NOT NULL,   -- email, phone, customer_id, loyalty_id, device_id, match, accepted
    detail   TEXT,            -- the shared identifier, or the match probability
    weight   REAL             -- match weight (bits) for probabilistic links
) STRICT;
CREATE INDEX profile_links_by_a ON profile_links (record_a);
CREATE INDEX profile_links_by_b ON profile_links (record_b);

-- Scored pairs that were neither clearly the same person nor clearly not:
-- the review queue. levels is JSON [{comparison, level, a, b, weight}].
CREATE TABLE match_pairs (
    id          INTEGER PRIMARY KEY,
    record_a    INTEGER NOT NULL,
    record_b    INTEGER NOT NULL,
    weight      REAL NOT NULL,
    probability REAL NOT NULL,
    levels      TEXT NOT NULL,
    UNIQUE (record_a, record_b)
) STRICT;
CREATE INDEX match_pairs_by_weight ON match_pairs (weight DESC);

-- People's decisions, which win on every later resolution. record_a < record_b.
-- 'same': merge these two records; 'different': never put them in one profile.
CREATE TABLE identity_decisions (
    id         INTEGER PRIMARY KEY,
    record_a   INTEGER NOT NULL,
    record_b   INTEGER NOT NULL,
    decision   TEXT NOT NULL CHECK (decision = 'same' OR decision = 'different'),
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    note       TEXT,
    UNIQUE (record_a, record_b)
) STRICT;
CREATE INDEX identity_decisions_by_b ON identity_decisions (record_b);

-- Merges the guard rails refused, with the reason (rebuilt by a full run).
CREATE TABLE refused_merges (
    id       INTEGER PRIMARY KEY,
    reason   TEXT NOT NULL,   -- too_common, placeholder, names_differ, cap, decision, ambiguous_id
    kind     TEXT,            -- identifier kind, when an identifier was refused
    value    TEXT,
    records  INTEGER NOT NULL DEFAULT 0,
    record_a INTEGER,
    record_b INTEGER,
    detail   TEXT NOT NULL
) STRICT;

-- Who or what changed which profile, and why. Personal data stays out of
-- detail: it names records and identifiers by id and kind.
CREATE TABLE identity_log (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,   -- resolve, merge, accept, reject, split, unmerge, undo
    profile_id INTEGER,
    record_a   INTEGER,
    record_b   INTEGER,
    detail     TEXT NOT NULL    -- JSON
) STRICT;
CREATE INDEX identity_log_by_profile ON identity_log (profile_id);

-- A profile's timeline finds its events through its devices and customer ids;
-- resolution lists devices and their logins without reading every event.
CREATE INDEX events_by_device ON events (anonymous_id, source_id) WHERE anonymous_id IS NOT NULL;
CREATE INDEX events_by_customer ON events (customer_key) WHERE customer_key IS NOT NULL;
CREATE INDEX events_by_email ON events (email) WHERE email IS NOT NULL;
CREATE INDEX orders_by_customer ON orders (customer_key) WHERE customer_key IS NOT NULL;
-- An incremental resolution reads the contacts and orders of the imports
-- since the last run (new and updated rows) without scanning the others.
CREATE INDEX contacts_by_import ON contacts (import_id);
CREATE INDEX orders_by_import ON orders (import_id);
