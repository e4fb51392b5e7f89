//! Drift between a reference and a current data set: Evidently-equivalent tests per column
//! (in [`stats`]), schema and data-quality checks, prediction drift and model quality, and
//! renderers for the terminal, Markdown and a self-contained HTML page.
//!
//! [`compare`] is the entry point; [`Report`] is what it returns and what gets recorded.

pub mod columns;
pub mod load;
pub mod performance;
pub mod profile;
pub mod profile_ref;
pub mod render;
pub mod report;
pub mod stats;

pub use columns::{ColumnKind, Retyped, SchemaChanges};
pub use load::{Dtype, Format, LoadError};
pub use performance::Performance;
pub use profile_ref::{ProfileSource, Substitution};
pub use report::{
    compare, Chart, ChartBin, ColumnOverride, ColumnResult, DriftError, DriftOptions, Finding,
    NullShare, OutOfRange, PsiScore, Reference, Report, Role, Unseen,
};

#[cfg(test)]
mod engine_tests;
