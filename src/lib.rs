//! `mlops` keeps a machine-learning model's whole life — data versions, training
//! runs, model versions, promotions, drift reports — as content-addressed records in
//! the team's own git repository, so that no server is needed and git history is
//! the audit trail.
//!
//! The library does the work; `cli` only parses arguments and prints results.

pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod context;
pub mod dataset;
pub mod demo;
pub mod doctor;
pub mod drift;
pub mod error;
pub mod gitcli;
pub mod log;
pub mod markdown;
pub mod monitor;
pub mod names;
pub mod note;
pub mod outside;
pub mod privacy;
pub mod record;
pub mod redact;
pub mod registry;
pub mod report;
pub mod run;
pub mod scan;
pub mod shadow;
pub mod signing;
pub mod store;
pub mod sync;
pub mod templates;
pub mod term;
pub mod tipindex;
pub mod verify;

pub use error::{Error, Result};
