//! Dataset versions: the exact bytes a model was trained on, hashed with
//! SHA-256 (re-checkable with `sha256sum`), recorded on
//! `refs/mlops/datasets/<name>` and pinned in `mlops.lock`, with a statistical
//! profile of every tabular file so drift can be measured even after the raw
//! data is gone.

pub mod contract;
pub mod hash;
pub mod lock;
pub mod manifest;
pub mod ops;
pub mod scan;
pub mod statcache;
pub mod version;
