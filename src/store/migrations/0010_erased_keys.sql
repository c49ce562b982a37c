-- Schema v10: the erased list also holds the ids a source gave an erased
-- person (customer ids) and their devices' anonymous ids, so re-importing
-- events or orders keyed only by those does not bring the person back.
-- SQLite cannot widen a CHECK in place: the table is copied.
CREATE TABLE erased_identifiers_v10 (
    kind      TEXT NOT NULL CHECK (kind IN ('email', 'phone', 'customer_id', 'device')),
    hash      TEXT NOT NULL,     -- hex SHA-256 of salt, kind and value
    erased_at TEXT NOT NULL,
    PRIMARY KEY (kind, hash)
) STRICT, WITHOUT ROWID;
INSERT INTO erased_identifiers_v10 (kind, hash, erased_at)
    SELECT kind, hash, erased_at FROM erased_identifiers;
DROP TABLE erased_identifiers;
ALTER TABLE erased_identifiers_v10 RENAME TO erased_identifiers;
