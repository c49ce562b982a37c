//! Cohort's engine: everything the desktop app, `cohort serve` and the CLI
//! do, as plain functions over a [`store::Workspace`].
//!
//! **Architecture invariant:** nothing here knows about Tauri, HTTP or the
//! terminal. Long work takes a [`progress::Progress`] and "now" is passed in.

pub mod api;
pub mod campaigns;
pub mod charts;
pub mod cluster;
pub mod demo;
pub mod identity;
pub mod ingest;
pub mod privacy;
pub mod profiles;
pub mod progress;
pub mod recommend;
pub mod segments;
pub mod store;
pub mod templates;
pub mod traits;
