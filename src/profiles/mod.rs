//! Unified profiles: one row per person, built from the source records that
//! identity resolution put together (`identity_records.profile_id`).
//!
//! - [`survivorship`]: which record gives each field its value (most recent
//!   non-empty, source priority, most frequent), configurable per field and
//!   stored in the workspace settings.
//! - [`rebuild`] (`materialise.rs`): writes `profiles` and the
//!   `profile_search` index for all profiles or the ones a resolution
//!   touched, in one streaming pass over the records.
//! - [`search`]: what a marketer types → an FTS5 query, ranked by bm25.
//! - [`detail`]: everything behind one profile: values and their origins,
//!   records, identities, links and the timeline of orders and events.
//!
//! **Invariant:** a profile holds nothing its records do not: rebuilding
//! from the records gives the same rows (only `updated_at` moves).
//!
//! **Invariant:** nothing here begins or commits a transaction; the caller
//! (a resolution run, a review decision) owns it, so a failed or cancelled
//! rebuild leaves the profiles as they were.

mod detail;
mod materialise;
pub mod search;
pub mod survivorship;

pub use detail::{
    detail, record_view, ChosenValue, Identity, Link, ProfileDetail, RecordView, TimelineEntry,
};
pub use materialise::rebuild;
pub use search::{search, ProfileSummary, SearchResult};
pub use survivorship::{rules, set_rules, Rule, SurvivorshipRules, FIELDS};

use crate::progress::Cancelled;

/// Which profiles [`rebuild`] writes.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every profile: after a full resolution or a change of survivorship
    /// rules.
    All,
    /// These profile ids: the ones an incremental resolution, a merge or a
    /// split touched. An id whose records all moved away is deleted.
    Profiles(&'a [i64]),
}

/// What a [`rebuild`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RebuildReport {
    /// Profiles written (new or rewritten).
    pub written: u64,
    /// Profiles deleted because none of their records belong to them any more.
    pub deleted: u64,
    /// Source records read.
    pub records: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A query failed; `context` says what Cohort was doing.
    #[error("could not {context}: {source}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// Survivorship rules that name a field profiles do not have.
    #[error("survivorship rules: there is no profile field `{field}`; the fields are {}", FIELDS.join(", "))]
    UnknownField { field: String },
    /// Stored survivorship rules that cannot be read.
    #[error(
        "survivorship rules: the stored rules are not valid JSON rules ({detail}); save them again"
    )]
    BadRules { detail: String },
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    /// The profile's consent could not be read (the consent ledger).
    #[error(transparent)]
    Consent(#[from] crate::privacy::consent::ConsentError),
}

impl ProfileError {
    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ProfileError::Sql { .. } => "store",
            ProfileError::UnknownField { .. } | ProfileError::BadRules { .. } => {
                "survivorship_rules"
            }
            ProfileError::Cancelled(_) => "cancelled",
            ProfileError::Consent(_) => "store",
        }
    }
}

/// Adds what Cohort was doing to a SQLite error.
pub(crate) trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, ProfileError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, context: &'static str) -> Result<T, ProfileError> {
        self.map_err(|source| ProfileError::Sql { context, source })
    }
}

/// "Anna" + "Smith" → "Anna Smith"; either alone when the other is missing.
pub(crate) fn full_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    match (first, last) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n.to_string()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests;
