-- Schema v8: the consent ledger. Every piece of evidence about a person's
-- consent for a channel, oldest kept: imports (consent columns, Mailchimp
-- unsubscribed/cleaned, Salesforce Email Opt Out), suppression lists and
-- changes made by hand. A profile's consent is derived from its evidence
-- (latest wins, then source priority); nothing else stores consent. The
-- contacts' consent columns stay as the standardised source record; readers
-- go through the `profile_consent` view below. See `privacy::consent`.
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
    note        TEXT,              -- what the person who changed it by hand wrote; never personal data of others
    CHECK (contact_id IS NOT NULL OR address IS NOT NULL OR profile_id IS NOT NULL)
) STRICT;
-- (contact, channel, id): an import compares each record with its latest
-- entry for the channel without reading the others.
CREATE INDEX consent_ledger_by_contact ON consent_ledger (contact_id, channel, id) WHERE contact_id IS NOT NULL;
CREATE INDEX consent_ledger_by_address ON consent_ledger (address) WHERE address IS NOT NULL;
CREATE INDEX consent_ledger_by_profile ON consent_ledger (profile_id) WHERE profile_id IS NOT NULL;

-- The consent evidence a contact record carries: one row per channel whose
-- standardised value is granted or denied. `at` is the consent time the row
-- gives (Mailchimp UNSUB_TIME/CLEAN_TIME for a withdrawal, CONFIRM_TIME for
-- a subscription, both kept as unmapped attributes), else the record's
-- updated or created time, else when it was imported; always normalised to
-- `YYYY-MM-DDTHH:MM:SSZ` so that evidence compares as text. `reason` for a
-- denial: `cleaned` (the address bounced: the raw text says cleaned or
-- bounced, or the row came from a Mailchimp export whose file name says
-- cleaned), `opt_out` (an opt-out flag such as Salesforce Email Opt Out),
-- else `unsubscribed`. Imports insert from this view for their own rows
-- (`WHERE import_id = ?`, pushed into each arm); the backfill below for all.
CREATE VIEW contact_consent_evidence AS
SELECT c.id AS contact_id, 'email' AS channel, c.consent_email AS status,
       CASE WHEN c.consent_email = 'denied' THEN
            CASE WHEN coalesce(
                        (SELECT t LIKE '%clean%' OR t LIKE '%bounce%'
                           FROM (SELECT CASE WHEN json_valid(c.raw)
                                             THEN json_extract(c.raw, '$.consent_email') END AS t)),
                        im.preset = 'mailchimp_audience' AND lower(im.file_name) LIKE '%cleaned%')
                 THEN 'cleaned'
                 WHEN json_valid(c.raw) AND json_extract(c.raw, '$.email_opt_out') IS NOT NULL THEN 'opt_out'
                 ELSE 'unsubscribed'
            END
       END AS reason,
       s.name AS source,
       coalesce(
           CASE WHEN im.preset = 'mailchimp_audience' AND json_valid(c.attributes) THEN
                CASE WHEN c.consent_email = 'denied'
                     THEN coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', json_extract(c.attributes, '$.UNSUB_TIME')),
                                   strftime('%Y-%m-%dT%H:%M:%SZ', json_extract(c.attributes, '$.CLEAN_TIME')))
                     ELSE strftime('%Y-%m-%dT%H:%M:%SZ', json_extract(c.attributes, '$.CONFIRM_TIME'))
                END
           END,
           strftime('%Y-%m-%dT%H:%M:%SZ', c.updated_at),
           strftime('%Y-%m-%dT%H:%M:%SZ', c.created_at),
           strftime('%Y-%m-%dT%H:%M:%SZ', im.started_at)) AS at,
       c.import_id, c.row_number
  FROM contacts c JOIN sources s ON s.id = c.source_id JOIN imports im ON im.id = c.import_id
 WHERE c.consent_email = 'granted' OR c.consent_email = 'denied'
UNION ALL
SELECT c.id, 'sms', c.consent_sms,
       CASE WHEN c.consent_sms = 'denied' THEN 'unsubscribed' END,
       s.name,
       coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', c.updated_at),
                strftime('%Y-%m-%dT%H:%M:%SZ', c.created_at),
                strftime('%Y-%m-%dT%H:%M:%SZ', im.started_at)),
       c.import_id, c.row_number
  FROM contacts c JOIN sources s ON s.id = c.source_id JOIN imports im ON im.id = c.import_id
 WHERE c.consent_sms = 'granted' OR c.consent_sms = 'denied'
UNION ALL
SELECT c.id, 'ads', c.consent_ads,
       CASE WHEN c.consent_ads = 'denied' THEN 'unsubscribed' END,
       s.name,
       coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', c.updated_at),
                strftime('%Y-%m-%dT%H:%M:%SZ', c.created_at),
                strftime('%Y-%m-%dT%H:%M:%SZ', im.started_at)),
       c.import_id, c.row_number
  FROM contacts c JOIN sources s ON s.id = c.source_id JOIN imports im ON im.id = c.import_id
 WHERE c.consent_ads = 'granted' OR c.consent_ads = 'denied';

-- Every piece of evidence that concerns a profile, with how it reaches it
-- (`via`): a contact record of the profile, an email or phone any of its
-- records carries (suppression lists), or the profile itself (by hand).
CREATE VIEW consent_evidence AS
SELECT ir.profile_id, l.id AS ledger_id, l.channel, l.status, l.reason, l.source, l.at,
       l.import_id, l.row_number, l.recorded_at, l.note, 'record' AS via
  FROM consent_ledger l JOIN identity_records ir ON ir.kind = 'contact' AND ir.row_id = l.contact_id
 WHERE ir.profile_id IS NOT NULL
UNION ALL
SELECT DISTINCT ir.profile_id, l.id, l.channel, l.status, l.reason, l.source, l.at,
       l.import_id, l.row_number, l.recorded_at, l.note, 'address'
  FROM consent_ledger l
  JOIN identifiers i ON i.kind = (CASE WHEN l.address LIKE '+%' THEN 'phone' ELSE 'email' END)
                    AND i.value = l.address
  JOIN identity_records ir ON ir.id = i.record_id
 WHERE l.address IS NOT NULL AND ir.profile_id IS NOT NULL
UNION ALL
SELECT l.profile_id, l.id, l.channel, l.status, l.reason, l.source, l.at,
       l.import_id, l.row_number, l.recorded_at, l.note, 'profile'
  FROM consent_ledger l
 WHERE l.profile_id IS NOT NULL;

-- THE consent of a profile for a channel, for every reader (segments,
-- the live-count index, campaign suppression, templates, profile detail):
-- one row per profile and channel with evidence; no row = no evidence.
-- Latest `at` wins; on equal times the source listed first in the setting
-- `consent_source_priority` (a JSON array of source names, default
-- ["manual"]; unlisted sources come after listed ones), then denied over
-- granted, then the entry recorded last.
CREATE VIEW profile_consent AS
SELECT profile_id, channel, status, reason, source, at, ledger_id
  FROM (SELECT e.profile_id, e.channel, e.status, e.reason, e.source, e.at, e.ledger_id,
               row_number() OVER (PARTITION BY e.profile_id, e.channel
                                  ORDER BY e.at DESC, coalesce(pr.rank, 1000000000),
                                           e.status = 'denied' DESC, e.ledger_id DESC) AS rn
          FROM consent_evidence e
          LEFT JOIN (SELECT j.value AS source, j.key AS rank
                       FROM json_each(coalesce((SELECT value FROM settings
                                                 WHERE key = 'consent_source_priority'),
                                               '["manual"]')) j) pr
                 ON pr.source = e.source)
 WHERE rn = 1;

-- Backfill: workspaces from before the ledger held consent only in the
-- contacts' columns and the suppression lists; both become evidence so
-- nothing is lost on upgrade.
INSERT INTO consent_ledger (channel, status, reason, contact_id, source, at, import_id, row_number, recorded_at)
SELECT channel, status, reason, contact_id, source,
       coalesce(at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')), import_id, row_number,
       strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
  FROM contact_consent_evidence
 ORDER BY contact_id, channel;
INSERT INTO consent_ledger (channel, status, reason, address, source, at, recorded_at)
SELECT CASE kind WHEN 'email' THEN 'email' ELSE 'sms' END, 'denied', reason, value, source,
       coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', added_at), strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
       strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
  FROM suppressions
 ORDER BY kind, value;
