-- Cohort workspace, schema version 11: each record's comparison fields
-- stored once.
--
-- blocking_keys carried the record's comparison fields on every key row,
-- five or six copies per record: on a million records that was 700 MB of
-- the file and most of a full run's writing. The fields now live in
-- match_fields, one row per record that has blocking keys; blocking_keys
-- keeps (key, record) and an incremental run joins the two.

CREATE TABLE match_fields (
    record_id INTEGER PRIMARY KEY,
    fields    TEXT NOT NULL
) STRICT;
INSERT OR REPLACE INTO match_fields (record_id, fields)
    SELECT record_id, fields FROM blocking_keys;

CREATE TABLE blocking_keys_by_key (
    key       INTEGER NOT NULL,
    record_id INTEGER NOT NULL,
    PRIMARY KEY (key, record_id)
) STRICT, WITHOUT ROWID;
INSERT INTO blocking_keys_by_key (key, record_id) SELECT key, record_id FROM blocking_keys;
DROP TABLE blocking_keys;
ALTER TABLE blocking_keys_by_key RENAME TO blocking_keys;
CREATE INDEX blocking_keys_by_record ON blocking_keys (record_id);
