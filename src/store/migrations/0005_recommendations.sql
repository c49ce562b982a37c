-- Cohort workspace, schema version 5: product recommendations.
--
-- A training run stores its settings, evaluation and the model it chose;
-- only the latest run's lists are kept (a new run replaces them in one
-- transaction), so templates and exports always read one consistent set.

CREATE TABLE recommendation_runs (
    id           INTEGER PRIMARY KEY,
    created_at   TEXT NOT NULL,
    model        TEXT NOT NULL,
    settings     TEXT NOT NULL,   -- JSON: recommend::Settings, tuned
    evaluation   TEXT,            -- JSON: recommend::Evaluation
    popular      TEXT NOT NULL,   -- JSON: the fallback list for profiles created since
    profiles     INTEGER NOT NULL,
    products     INTEGER NOT NULL,
    interactions INTEGER NOT NULL,
    seconds      REAL NOT NULL
) STRICT;

-- Each profile's top N, best first, with why.
CREATE TABLE recommendations (
    profile_id  INTEGER NOT NULL,
    rank        INTEGER NOT NULL,
    sku         TEXT NOT NULL,
    score       REAL NOT NULL,
    reason      TEXT NOT NULL,
    because_sku TEXT,
    PRIMARY KEY (profile_id, rank)
) STRICT, WITHOUT ROWID;

-- Each product's most similar products, best first.
CREATE TABLE product_neighbours (
    sku       TEXT NOT NULL,
    rank      INTEGER NOT NULL,
    neighbour TEXT NOT NULL,
    score     REAL NOT NULL,
    reason    TEXT NOT NULL,
    PRIMARY KEY (sku, rank)
) STRICT, WITHOUT ROWID;
