//! Analyses over the trail, built on the readers of [`crate::trail`]: what
//! `anomalies` and `report` compute.
//!
//! - [`anomalies`]: one pass of per-file accumulators ([`anomalies::Tally`]),
//!   merged, judged into [`anomalies::Finding`]s; a second pass collects the
//!   `event_id`s behind each finding ([`anomalies::Finding::claims`]).
//! - [`report`]: the usage report's figures and its Markdown, JSON and HTML
//!   renderings; [`html`]: the escaping every HTML page uses.
//!
//! Memory is bounded by the groups kept (per tool and hour, per user and
//! minute, per tool's durations at 8 bytes each) and by
//! [`anomalies::MAX_IDS`] ids per finding.

pub mod anomalies;
pub mod compliance;
pub mod html;
mod judge;
pub mod report;
pub mod secrets;
