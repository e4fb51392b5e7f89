//! The one place that reads the process environment and the clock.
//!
//! Record ids hash `created_at`, so tests and reproducible demos need a fixed
//! clock: `MLOPS_NOW` (RFC 3339) pins it, the way `GIT_COMMITTER_DATE` pins git's.
//! Keeping every `std::env::var` here also makes it auditable which variables
//! can influence a record.

use chrono::{DateTime, SecondsFormat, Utc};

/// The current time, or `MLOPS_NOW` when it is set (tests, demos).
pub fn now() -> DateTime<Utc> {
    if let Some(fixed) = var("MLOPS_NOW") {
        if let Ok(t) = DateTime::parse_from_rfc3339(&fixed) {
            return t.with_timezone(&Utc);
        }
    }
    Utc::now()
}

/// Timestamps in records: fixed width (microseconds, `Z`), so that sorting the
/// strings sorts the instants.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn now_timestamp() -> String {
    timestamp(now())
}

/// A variable's value, treating an empty one as unset.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// All variables, for the run's environment capture (filtered by the caller).
pub fn vars() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// The version recorded in every record's `tool` field.
pub fn tool_version() -> String {
    format!("mlops {}", env!("CARGO_PKG_VERSION"))
}

/// A test hook named in `MLOPS_TEST_HOOKS` (comma-separated `name` or
/// `name=value`), with its value. Tests use them to force the interleavings
/// that volume alone hits once in thousands of runs (a pause between reading a
/// tip and swapping it, a writer killed while it holds a ref lock); nothing
/// else sets the variable.
pub fn test_hook(name: &str) -> Option<String> {
    let hooks = var("MLOPS_TEST_HOOKS")?;
    hooks.split(',').find_map(|h| match h.split_once('=') {
        Some((n, v)) if n.trim() == name => Some(v.trim().to_string()),
        None if h.trim() == name => Some(String::new()),
        _ => None,
    })
}
