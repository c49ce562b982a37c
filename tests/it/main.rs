//! Whole flows through the real engine, the real SQLite file and the real
//! `cohort` binary. One test binary, one module per area.

mod support;

mod bad_input;
mod cli;
mod consent;
mod demo;
mod encodings;
mod identity;
mod insights;
mod kill;
mod presets;
mod privacy;
mod recommend;
mod reimport;
mod segments;
mod serve;
mod store;
mod traits;
