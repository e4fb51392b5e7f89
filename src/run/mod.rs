//! Experiment tracking: `mlops track` runs a training command and records one
//! run per invocation on its own ref (`refs/mlops/runs/<run-id>`), so trainers
//! never contend with each other; `runs list|show|compare` read them back.

pub mod active;
pub mod artifacts;
pub mod child;
pub mod code;
pub mod dvclive;
pub mod environment;
pub mod filter;
pub mod fold;
pub mod index;
pub mod inputs;
pub mod metrics;
pub mod params;
pub mod query;
pub mod record;
pub mod slices;
pub mod sparkline;
pub mod track;

pub use record::{RunRecord, Status};
