//! Tests of tracking.
