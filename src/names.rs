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

/// Turns a file or folder name into a valid entity name (other characters
/// become `-`), or `None` when nothing usable is left.
pub fn from_path_component(s: &str) -> Option<String> {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .trim_end_matches('.')
        .to_string();
    validate(&clean).is_ok().then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::{from_path_component, validate};

    #[test]
    fn path_components_become_names() {
        assert_eq!(
            from_path_component("train set (v2)").as_deref(),
            Some("train-set--v2-")
        );
        assert_eq!(from_path_component("__x").as_deref(), Some("x"));
        assert_eq!(from_path_component("..."), None);
    }

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
