-- Schema v3: computed traits per profile, clustering runs, saved segments.

-- One row per profile with orders or events (or both), recomputed after each
-- import for the profiles it touched and in full by `cohort traits`. Money is
-- in minor units of the workspace currency; times are ISO 8601 UTC text;
-- "days since" figures are relative to `as_of`, the moment of the run.
CREATE TABLE profile_traits (
    profile_id            INTEGER PRIMARY KEY,
    as_of                 TEXT NOT NULL,
    -- orders
    orders                INTEGER NOT NULL DEFAULT 0,
    revenue               INTEGER NOT NULL DEFAULT 0,   -- totals less refunds, cancelled orders excluded
    average_order_value   INTEGER,
    first_order_at        TEXT,
    last_order_at         TEXT,
    days_since_last_order INTEGER,
    purchase_interval     REAL,                         -- mean days between distinct purchase days
    top_category          TEXT,
    top_brand             TEXT,
    discount_share        REAL,                         -- share of orders with a discount
    returns               INTEGER NOT NULL DEFAULT 0,   -- orders with a refund
    refunded              INTEGER NOT NULL DEFAULT 0,
    -- engagement
    sessions              INTEGER NOT NULL DEFAULT 0,
    product_views         INTEGER NOT NULL DEFAULT 0,
    add_to_carts          INTEGER NOT NULL DEFAULT 0,
    last_seen_at          TEXT,
    views_7d              INTEGER NOT NULL DEFAULT 0,
    views_30d             INTEGER NOT NULL DEFAULT 0,
    views_90d             INTEGER NOT NULL DEFAULT 0,
    category_views        TEXT,                         -- JSON {category: [7d, 30d, 90d]}
    preferred_device      TEXT,
    preferred_channel     TEXT,
    preferred_hour        INTEGER,                      -- 0..23 UTC
    preferred_weekday     INTEGER,                      -- 1 = Monday .. 7 = Sunday
    -- RFM (1..5 by quintile of the workspace's buyers; NULL without orders)
    rfm_recency           INTEGER,
    rfm_frequency         INTEGER,
    rfm_monetary          INTEGER,
    rfm_segment           TEXT,
    -- predictions (BG/NBD + Gamma-Gamma, see `traits::predict`)
    expected_purchases    REAL,                         -- over the horizon in `trait_model`
    p_alive               REAL,
    churn_risk            REAL,
    expected_order_value  INTEGER,
    clv                   INTEGER,
    category_spend        TEXT                          -- JSON {category: minor units} from order lines
) STRICT;
CREATE INDEX profile_traits_by_segment ON profile_traits (rfm_segment);

-- A clustering run: what was asked and how good the result is. Only the
-- latest run per feature set keeps its assignments.
CREATE TABLE cluster_runs (
    id          INTEGER PRIMARY KEY,
    created_at  TEXT NOT NULL,
    algorithm   TEXT NOT NULL,
    features    TEXT NOT NULL,   -- JSON list of trait names
    params      TEXT NOT NULL,   -- JSON
    result      TEXT NOT NULL    -- JSON: clusters, quality, charts data
) STRICT;

CREATE TABLE cluster_members (
    run_id     INTEGER NOT NULL REFERENCES cluster_runs (id) ON DELETE CASCADE,
    profile_id INTEGER NOT NULL,
    cluster    INTEGER NOT NULL,
    PRIMARY KEY (run_id, profile_id)
) STRICT, WITHOUT ROWID;

-- Segments: a named group of profiles. A static segment lists its members;
-- a dynamic one (next schema) keeps its rule and is evaluated when used.
CREATE TABLE segments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind = 'static' OR kind = 'dynamic'),
    description TEXT,
    origin      TEXT,            -- JSON: where it came from, e.g. a cluster of a run
    definition  TEXT,            -- JSON rule of a dynamic segment
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE segment_members (
    segment_id INTEGER NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    profile_id INTEGER NOT NULL,
    PRIMARY KEY (segment_id, profile_id)
) STRICT, WITHOUT ROWID;

-- Traits are refreshed for the profiles an import touched: find the rows of
-- the imports since the last refresh without scanning the others.
CREATE INDEX events_by_import ON events (import_id);
CREATE INDEX order_lines_by_import ON order_lines (import_id);
