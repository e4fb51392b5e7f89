//! The embedded default for `mlops demo`: a synthetic credit-risk data set and
//! a small logistic-regression trainer, so the demo trains a real model with
//! real metrics and needs nothing but the binary.

pub mod data;
pub mod train;
