//! What can go wrong when clustering. Problems in the data that can be worked
//! around (missing values, a previous run with other features) are not errors:
//! they are reported in [`super::Clustering::notes`] and
//! [`super::Prepared::missing`].

use crate::progress::Cancelled;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No feature columns were given.
    #[error("choose at least one trait to cluster on")]
    NoFeatures,
    /// A feature column does not have one value per profile.
    #[error("trait `{feature}` has {actual} values, expected {expected} (one per profile)")]
    LengthMismatch {
        feature: String,
        expected: usize,
        actual: usize,
    },
    /// A feature has no value at all, so it can be neither scaled nor imputed.
    #[error("trait `{feature}` has no value for any profile")]
    NoValues { feature: String },
    /// Fewer usable profiles than the algorithm needs.
    #[error("{rows} profiles can be clustered, at least {needed} are needed")]
    TooFewRows { rows: usize, needed: usize },
    /// A setting is out of range (k of 1, a negative eps...).
    #[error("{0}")]
    InvalidConfig(String),
    /// The underlying algorithm failed (for example a Gaussian mixture whose
    /// covariance collapsed).
    #[error("{algorithm} failed: {message}")]
    Fit {
        algorithm: &'static str,
        message: String,
    },
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl ClusterError {
    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ClusterError::NoFeatures => "no_features",
            ClusterError::LengthMismatch { .. } => "length_mismatch",
            ClusterError::NoValues { .. } => "no_values",
            ClusterError::TooFewRows { .. } => "too_few_rows",
            ClusterError::InvalidConfig(_) => "invalid_config",
            ClusterError::Fit { .. } => "fit_failed",
            ClusterError::Cancelled(_) => "cancelled",
        }
    }
}

pub type Result<T, E = ClusterError> = std::result::Result<T, E>;
