-- Cohort workspace, schema version 1: sources, imports and the canonical
-- records they bring in. Every record table has the same spine:
--   source_id + source_key   the record's identity inside its source (upsert key)
--   import_id, row_number    where its current values came from
--   row_hash                 hash of the raw row, so re-imports can tell "unchanged"
--   raw                      JSON {field: raw text} for each value that standardisation changed
--   attributes               JSON {column: text} for columns that were not mapped
-- CHECK constraints are written with OR, not IN (...): SQLite evaluates an IN
-- list through a temporary index on every insert.
-- Clean values live in typed columns; dates are ISO 8601 text (UTC), money is
-- integer minor units with an ISO 4217 currency beside it.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE sources (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('contacts', 'orders', 'order_lines', 'events', 'products')),
    preset     TEXT,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE imports (
    id             INTEGER PRIMARY KEY,
    source_id      INTEGER NOT NULL REFERENCES sources (id),
    file_name      TEXT NOT NULL,
    file_path      TEXT NOT NULL,
    file_size      INTEGER NOT NULL,
    content_hash   TEXT NOT NULL,
    kind           TEXT NOT NULL,
    preset         TEXT,
    mapping        TEXT NOT NULL,  -- JSON: [{column, field}] in file column order
    detected       TEXT NOT NULL,  -- JSON: encoding, delimiter, line endings, date orders
    rows_read      INTEGER NOT NULL DEFAULT 0,
    rows_inserted  INTEGER NOT NULL DEFAULT 0,
    rows_updated   INTEGER NOT NULL DEFAULT 0,
    rows_unchanged INTEGER NOT NULL DEFAULT 0,
    rows_rejected  INTEGER NOT NULL DEFAULT 0,
    values_flagged INTEGER NOT NULL DEFAULT 0,
    table_counts   TEXT NOT NULL DEFAULT '[]',  -- JSON: [{table, inserted, updated, unchanged}]
    started_at     TEXT NOT NULL,
    finished_at    TEXT NOT NULL
) STRICT;
CREATE INDEX imports_by_hash ON imports (content_hash);

CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY,
    source_id     INTEGER NOT NULL REFERENCES sources (id),
    source_key    TEXT NOT NULL,
    import_id     INTEGER NOT NULL REFERENCES imports (id),
    row_number    INTEGER NOT NULL,
    row_hash      INTEGER NOT NULL,
    first_name    TEXT,
    last_name     TEXT,
    full_name     TEXT,
    email         TEXT,
    phone         TEXT,
    birth_date    TEXT,
    gender        TEXT,
    company       TEXT,
    job_title     TEXT,
    address1      TEXT,
    address2      TEXT,
    city          TEXT,
    region        TEXT,
    postcode      TEXT,
    country       TEXT,
    consent_email TEXT CHECK (consent_email = 'granted' OR consent_email = 'denied' OR consent_email = 'unknown'),
    consent_sms   TEXT CHECK (consent_sms = 'granted' OR consent_sms = 'denied' OR consent_sms = 'unknown'),
    consent_ads   TEXT CHECK (consent_ads = 'granted' OR consent_ads = 'denied' OR consent_ads = 'unknown'),
    created_at    TEXT,
    updated_at    TEXT,
    raw           TEXT,
    attributes    TEXT,
    UNIQUE (source_id, source_key)
) STRICT;

CREATE TABLE orders (
    id                 INTEGER PRIMARY KEY,
    source_id          INTEGER NOT NULL REFERENCES sources (id),
    source_key         TEXT NOT NULL,   -- the order number or id in its source
    import_id          INTEGER NOT NULL REFERENCES imports (id),
    row_number         INTEGER NOT NULL,
    row_hash           INTEGER NOT NULL,
    customer_key       TEXT,            -- the source's customer id, when the export has one
    email              TEXT,
    phone              TEXT,
    ordered_at         TEXT,
    currency           TEXT,
    subtotal           INTEGER,
    shipping           INTEGER,
    tax                INTEGER,
    discount           INTEGER,
    total              INTEGER,
    refunded           INTEGER,
    financial_status   TEXT,
    fulfillment_status TEXT,
    discount_code      TEXT,
    cancelled_at       TEXT,
    billing_name       TEXT,
    billing_city       TEXT,
    billing_postcode   TEXT,
    billing_country    TEXT,
    shipping_city      TEXT,
    shipping_postcode  TEXT,
    shipping_country   TEXT,
    raw                TEXT,
    attributes         TEXT,
    UNIQUE (source_id, source_key)
) STRICT;

-- Order lines point at their order by (source_id, order_key) rather than by a
-- foreign key: a shop may export lines and orders as separate files, in either
-- order. source_key is "{order_key}/{line_number}".
CREATE TABLE order_lines (
    id           INTEGER PRIMARY KEY,
    source_id    INTEGER NOT NULL REFERENCES sources (id),
    source_key   TEXT NOT NULL,
    import_id    INTEGER NOT NULL REFERENCES imports (id),
    row_number   INTEGER NOT NULL,
    row_hash     INTEGER NOT NULL,
    order_key    TEXT NOT NULL,
    line_number  INTEGER NOT NULL,
    sku          TEXT,
    product_name TEXT,
    quantity     INTEGER,
    unit_price   INTEGER,
    discount     INTEGER,
    currency     TEXT,
    vendor       TEXT,
    raw          TEXT,
    attributes   TEXT,
    UNIQUE (source_id, source_key)
) STRICT;

CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    source_id    INTEGER NOT NULL REFERENCES sources (id),
    source_key   TEXT NOT NULL,   -- the event id, or a hash of the row when the export has none
    import_id    INTEGER NOT NULL REFERENCES imports (id),
    row_number   INTEGER NOT NULL,
    row_hash     INTEGER NOT NULL,
    customer_key TEXT,            -- the logged-in customer id (GA4 user_id)
    anonymous_id TEXT,            -- the device or cookie id (GA4 user_pseudo_id)
    email        TEXT,
    name         TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    session_id   TEXT,
    sku          TEXT,
    value        INTEGER,
    currency     TEXT,
    device       TEXT,
    channel      TEXT,
    country      TEXT,
    raw          TEXT,
    properties   TEXT,            -- JSON: every other column of the event
    UNIQUE (source_id, source_key)
) STRICT;

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES sources (id),
    source_key  TEXT NOT NULL,
    import_id   INTEGER NOT NULL REFERENCES imports (id),
    row_number  INTEGER NOT NULL,
    row_hash    INTEGER NOT NULL,
    sku         TEXT NOT NULL,
    title       TEXT,
    category    TEXT,
    brand       TEXT,
    price       INTEGER,
    currency    TEXT,
    in_stock    INTEGER CHECK (in_stock = 0 OR in_stock = 1),
    raw         TEXT,
    attributes  TEXT,
    UNIQUE (source_id, source_key)
) STRICT;

-- Rows that could not be stored, with the reason. One row per problem: a row
-- rejected for two reasons appears twice.
CREATE TABLE rejected_rows (
    id          INTEGER PRIMARY KEY,
    import_id   INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row_number  INTEGER NOT NULL,
    column_name TEXT,
    raw_value   TEXT,
    reason_code TEXT NOT NULL,
    reason      TEXT NOT NULL,
    record      TEXT NOT NULL    -- JSON array: the row's fields as read
) STRICT;
CREATE INDEX rejected_rows_by_import ON rejected_rows (import_id, row_number);

-- Values that could not be standardised in rows that were stored anyway: the
-- clean column is NULL and the raw text is in the record's `raw`.
CREATE TABLE value_warnings (
    id          INTEGER PRIMARY KEY,
    import_id   INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row_number  INTEGER NOT NULL,
    column_name TEXT NOT NULL,
    raw_value   TEXT NOT NULL,
    reason_code TEXT NOT NULL,
    reason      TEXT NOT NULL
) STRICT;
CREATE INDEX value_warnings_by_import ON value_warnings (import_id, row_number);
