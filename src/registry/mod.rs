//! The model registry: versions, promotions, rollbacks and deprecations of a
//! model as events on `refs/mlops/models/<name>`. Which version is in which
//! stage is derived from those events every time (`state`), never stored as a
//! second truth.

pub mod approvals;
pub mod approve;
pub mod autorollback;
pub mod ci;
pub mod gates;
pub mod policy;
pub mod promote;
pub mod records;
pub mod register;
pub mod requests;
pub mod shadow_gate;
pub mod shadow_record;
pub mod slices;
pub mod spec;
pub mod state;
pub mod supersede;
pub mod verdict;

pub use records::{ModelVersion, Promotion};
pub use state::ModelState;
