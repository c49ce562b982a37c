-- Schema v4: rule-based segments (versioned definitions, dynamic membership
-- history), campaigns, their holdouts and exports, suppression lists.

-- Every saved definition of a segment, oldest first; `segments.definition`
-- is the latest. An export records the version it used.
CREATE TABLE segment_versions (
    segment_id  INTEGER NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,   -- JSON, see `segments::rules`
    description TEXT NOT NULL,   -- the plain-English sentence of that version
    created_at  TEXT NOT NULL,
    PRIMARY KEY (segment_id, version)
) STRICT;

-- When a static segment's members were taken; NULL for dynamic segments.
ALTER TABLE segments ADD COLUMN snapshot_at TEXT;

-- A dynamic segment's last evaluated members live in `segment_members`;
-- each evaluation after an import records who entered and who left.
CREATE TABLE segment_changes (
    id         INTEGER PRIMARY KEY,
    segment_id INTEGER NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    import_id  INTEGER,          -- the import that triggered it, if any
    members    INTEGER NOT NULL, -- size after the change
    entered    INTEGER NOT NULL,
    exited     INTEGER NOT NULL
) STRICT;
CREATE INDEX segment_changes_by_segment ON segment_changes (segment_id, at);

CREATE TABLE segment_change_members (
    change_id  INTEGER NOT NULL REFERENCES segment_changes (id) ON DELETE CASCADE,
    profile_id INTEGER NOT NULL,
    entered    INTEGER NOT NULL CHECK (entered = 0 OR entered = 1),
    PRIMARY KEY (change_id, profile_id)
) STRICT, WITHOUT ROWID;

-- Events and order lines reach profiles through these lookups. `kind`
-- comes second: with it first, SQLite would pick these indexes for every
-- "kind = ?" scan and stop using identity_records_by_profile.
CREATE INDEX identity_records_by_key ON identity_records (source_key, kind);
CREATE INDEX identity_records_by_row ON identity_records (row_id, kind);
CREATE INDEX products_by_sku ON products (sku);
CREATE INDEX events_by_name_time ON events (name, occurred_at);
CREATE INDEX order_lines_by_order ON order_lines (source_id, order_key);

-- A campaign: a segment sent on one channel, with a holdout kept back.
CREATE TABLE campaigns (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    segment_id      INTEGER NOT NULL REFERENCES segments (id),
    channel         TEXT NOT NULL CHECK (channel = 'email' OR channel = 'sms' OR channel = 'ads'),
    template        TEXT,            -- name of a template (templates issue), optional
    holdout_percent REAL NOT NULL DEFAULT 0 CHECK (holdout_percent >= 0 AND holdout_percent < 100),
    salt            TEXT NOT NULL,   -- makes holdout membership deterministic per campaign
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

-- Who was held back, fixed the first time a campaign is exported so later
-- exports and the results measurement agree.
CREATE TABLE campaign_holdout (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    profile_id  INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, profile_id)
) STRICT, WITHOUT ROWID;

-- Every export written: what, when, how many, and the file's SHA-256.
CREATE TABLE campaign_exports (
    id                 INTEGER PRIMARY KEY,
    campaign_id        INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    at                 TEXT NOT NULL,
    format             TEXT NOT NULL,
    path               TEXT NOT NULL,
    segment_id         INTEGER NOT NULL,
    segment_version    INTEGER,
    definition         TEXT,         -- JSON of the segment definition used
    members            INTEGER NOT NULL,
    held_out           INTEGER NOT NULL,
    suppressed         INTEGER NOT NULL,
    suppressed_reasons TEXT NOT NULL, -- JSON {reason: count}
    exported           INTEGER NOT NULL,
    file_sha256        TEXT NOT NULL,
    bytes              INTEGER NOT NULL
) STRICT;
CREATE INDEX campaign_exports_by_campaign ON campaign_exports (campaign_id, at);

-- Imported suppression lists: addresses never to be exported.
CREATE TABLE suppressions (
    kind     TEXT NOT NULL CHECK (kind = 'email' OR kind = 'phone'),
    value    TEXT NOT NULL,      -- normalised: lowercased email, E.164 phone
    reason   TEXT NOT NULL,      -- e.g. "suppression list", "bounced"
    source   TEXT NOT NULL,      -- file name it came from
    added_at TEXT NOT NULL,
    PRIMARY KEY (kind, value)
) STRICT, WITHOUT ROWID;
