//! Entity names become git ref components (`refs/mlops/models/<name>`), so they
//! are validated before anything is written: a name git would reject, or one that
//! could escape its namespace (`..`, `/`), never reaches the ref store.

use crate::error::{Error, Result};

pub const MAX_LEN: usize = 100;

/// Checks a model, dataset, monitor or run name.
pub fn validate(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_LEN {
        return bad("it is longer than 100 characters");
    }
    if name.contains("..") {
        return bad("it contains `..`");
    }
    if !name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return bad("it must start with a letter or digit");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return if c == '/' {
            bad("it contains `/`")
        } else {
            bad("it contains a character other than letters, digits, `.`, `_` and `-`")
        };
    }
    if name.ends_with(".lock") || name.ends_with('.') {
        return bad("it ends with `.lock` or `.`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_ordinary_names() {
        for n in ["fraud", "fraud-v2", "credit_risk.2026", "A1"] {
            validate(n).unwrap();
        }
    }

    #[test]
    fn rejects_names_git_or_namespaces_would_not_survive() {
        for n in [
            "", "..", "a..b", "a/b", "-x", ".hidden", "x.lock", "x.", "sp ace", "ü", "a:b", "a~1",
            "a^", "a*",
        ] {
            assert!(validate(n).is_err(), "{n:?} should be rejected");
        }
        assert!(validate(&"a".repeat(101)).is_err());
    }
}
