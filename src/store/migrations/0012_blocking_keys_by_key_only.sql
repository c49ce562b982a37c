-- Cohort workspace, schema version 12: blocking keys without an index by
-- record.
--
-- Building blocking_keys_by_record took 14 s of an 82 s full resolution of
-- a million records (five million key rows), and every incremental key
-- insert paid for it again. A record's keys are a function of its
-- comparison fields, stored beside them in match_fields: the resolution
-- finds them again from there and deletes them by primary key. Erasure and
-- retention, which must not leave a key behind whatever made it, delete
-- all of a request's records' keys in one pass over the table.

DROP INDEX IF EXISTS blocking_keys_by_record;
