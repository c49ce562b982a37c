-- Cohort workspace, schema version 7: campaign results kept per source.
--
-- A recipient has two kinds of outcome: what the email tool reported
-- (delivered, opened, clicked, and its own conversions) and what the
-- orders imported after the send show (converted, revenue). The holdout
-- only has the second. Keeping both side by side (one row per source)
-- lets variants be compared on the tool's figures and every group,
-- holdout included, on orders, without one overwriting the other.
-- (Version 6 keyed results by campaign and profile only; nothing wrote
-- them yet, but any rows are carried over.)

CREATE TABLE campaign_results_v7 (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    source      TEXT NOT NULL CHECK (source = 'email_tool' OR source = 'orders'),
    profile_id  INTEGER NOT NULL,
    delivered   INTEGER NOT NULL DEFAULT 0,
    opened      INTEGER NOT NULL DEFAULT 0,
    clicked     INTEGER NOT NULL DEFAULT 0,
    converted   INTEGER NOT NULL DEFAULT 0,
    revenue     INTEGER NOT NULL DEFAULT 0,   -- minor units of the workspace currency
    PRIMARY KEY (campaign_id, source, profile_id)
) STRICT, WITHOUT ROWID;

INSERT INTO campaign_results_v7
    (campaign_id, source, profile_id, delivered, opened, clicked, converted, revenue)
SELECT campaign_id, CASE WHEN source = 'orders' THEN 'orders' ELSE 'email_tool' END,
       profile_id, delivered, opened, clicked, converted, revenue
  FROM campaign_results;

DROP TABLE campaign_results;
ALTER TABLE campaign_results_v7 RENAME TO campaign_results;

-- The latest results of each source per campaign: the file imported (and
-- what became of its rows) or the attribution window used with orders.
-- Replaced, with the rows in campaign_results, each time.
CREATE TABLE campaign_result_sources (
    campaign_id    INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    source         TEXT NOT NULL CHECK (source = 'email_tool' OR source = 'orders'),
    at             TEXT NOT NULL,
    file           TEXT,             -- email_tool: the results file's path
    columns        TEXT,             -- email_tool: JSON {metric: column header} read from it
    window_days    INTEGER,          -- orders: attribution window after the send
    orders_through TEXT,             -- orders: the latest order time in the workspace then
    rows           INTEGER NOT NULL, -- email_tool: data rows read; orders: orders attributed
    stored         INTEGER NOT NULL, -- profiles with a stored result row
    PRIMARY KEY (campaign_id, source)
) STRICT;
