-- Cohort workspace, schema version 6: templates, content blocks, who got
-- which variant, and campaign results.

-- A message template: one or more variants (A/B), each with a subject,
-- preheader, HTML body and plain-text body (minijinja).
CREATE TABLE templates (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    variants   TEXT NOT NULL,   -- JSON: [{name, subject, preheader, html, text}]
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- Reusable content: a snippet, or a block whose content depends on the
-- segments the recipient is in (first matching rule wins, else fallback).
CREATE TABLE content_blocks (
    name       TEXT PRIMARY KEY,
    body       TEXT NOT NULL,   -- the snippet, or the fallback of a rule-based block
    rules      TEXT NOT NULL DEFAULT '[]',  -- JSON: [{segment_id, body}]
    updated_at TEXT NOT NULL
) STRICT;

-- Who a campaign export sent what: one row per recipient per export.
-- Holdout members are in campaign_holdout, never here.
CREATE TABLE campaign_sends (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    profile_id  INTEGER NOT NULL,
    variant     TEXT NOT NULL,   -- variant name; '' without a template
    export_id   INTEGER NOT NULL REFERENCES campaign_exports (id) ON DELETE CASCADE,
    sent_at     TEXT NOT NULL,
    PRIMARY KEY (campaign_id, profile_id)
) STRICT, WITHOUT ROWID;

-- Outcomes per recipient, imported from the email tool's report or
-- computed from orders after the send.
CREATE TABLE campaign_results (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    profile_id  INTEGER NOT NULL,
    delivered   INTEGER NOT NULL DEFAULT 0,
    opened      INTEGER NOT NULL DEFAULT 0,
    clicked     INTEGER NOT NULL DEFAULT 0,
    converted   INTEGER NOT NULL DEFAULT 0,
    revenue     INTEGER NOT NULL DEFAULT 0,   -- minor units of the workspace currency
    source      TEXT NOT NULL,                -- the results file, or 'orders'
    PRIMARY KEY (campaign_id, profile_id)
) STRICT, WITHOUT ROWID;
