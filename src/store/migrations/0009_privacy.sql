-- Schema v9: privacy and governance.

-- Who did what, when, with counts. Personal data never goes here: subjects
-- are named by kind and internal id, details are counts and settings.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,     -- ISO 8601 UTC
    actor   TEXT NOT NULL,     -- the OS user
    action  TEXT NOT NULL,     -- see privacy::audit::Action
    subject TEXT,              -- e.g. "campaign 3", "import 12"; never an address or a name
    detail  TEXT NOT NULL      -- JSON: counts and options
) STRICT;
CREATE INDEX audit_log_by_action ON audit_log (action, id);

-- People erased on request, so a later import of an old export does not
-- bring them back. Only a salted SHA-256 of each normalised identifier is
-- kept (the salt is per workspace, in settings): the list can answer "was
-- this address erased?" but cannot be read back into addresses.
CREATE TABLE erased_identifiers (
    kind      TEXT NOT NULL CHECK (kind = 'email' OR kind = 'phone'),
    hash      TEXT NOT NULL,     -- hex SHA-256 of salt, kind and value
    erased_at TEXT NOT NULL,
    PRIMARY KEY (kind, hash)
) STRICT, WITHOUT ROWID;
