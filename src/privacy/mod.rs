//! Privacy and data governance: the consent ledger, erasing and exporting a
//! person, masking and pseudonymisation, retention, backups and the audit
//! log.
//!
//! **Invariant:** personal data (addresses, names, phone numbers) never goes
//! into the audit log or the erased-identifier list; the latter keeps only
//! salted hashes.

pub mod audit;
pub mod consent;
pub mod erase;
pub mod files;
pub mod person;
pub mod retention;
