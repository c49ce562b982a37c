-- Schema v8: the consent ledger. Every piece of evidence about a person's
-- consent for a channel, oldest kept: imports (consent columns, Mailchimp
-- unsubscribed/cleaned, Salesforce Email Opt Out), suppression lists and
-- changes made by hand. A profile's consent is derived from its evidence
-- (latest wins, then source priority); nothing else stores consent.
CREATE TABLE consent_ledger (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'ads')),
    status      TEXT NOT NULL CHECK (status IN ('granted', 'denied')),
    reason      TEXT,              -- e.g. 'unsubscribed', 'cleaned', 'opt_out', 'suppression list', 'manual'
    -- What the evidence is about: a source record, an address (normalised
    -- email or E.164 phone, for lists) or a profile (changes made by hand).
    contact_id  INTEGER REFERENCES contacts (id) ON DELETE CASCADE,
    address     TEXT,
    profile_id  INTEGER,
    source      TEXT NOT NULL,     -- source name, suppression file name or 'manual'
    at          TEXT NOT NULL,     -- when consent was given or withdrawn, if the evidence says; else when it was recorded
    import_id   INTEGER REFERENCES imports (id),
    row_number  INTEGER,
    recorded_at TEXT NOT NULL,
    CHECK (contact_id IS NOT NULL OR address IS NOT NULL OR profile_id IS NOT NULL)
) STRICT;
CREATE INDEX consent_ledger_by_contact ON consent_ledger (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX consent_ledger_by_address ON consent_ledger (address) WHERE address IS NOT NULL;
CREATE INDEX consent_ledger_by_profile ON consent_ledger (profile_id) WHERE profile_id IS NOT NULL;
