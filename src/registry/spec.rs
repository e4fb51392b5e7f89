//! `name@version`, `name@stage`, `name@latest`: how a model version is named on
//! the command line.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Latest,
    Version(semver::Version),
    Stage(String),
    /// `name@sha256:<hex prefix>`: one version record, whatever its version
    /// string says (the way to name one side of a conflict).
    Record(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub model: String,
    pub selector: Selector,
}

/// Parses `name[@selector]`; without `@` the selector is `default`.
pub fn parse(s: &str, default: Option<Selector>) -> Result<ModelSpec> {
    let (model, sel) = match s.split_once('@') {
        Some((m, v)) => (m, Some(v)),
        None => (s, None),
    };
    crate::names::validate(model)?;
    let selector = match sel {
        None => default.ok_or_else(|| {
            Error::invalid_with_hint(
                format!("`{s}` does not name a version"),
                format!("write `{model}@1.2.0`, `{model}@latest`, `{model}@<stage>` or `{model}@sha256:<record>`"),
            )
        })?,
        Some("latest") => Selector::Latest,
        Some(r) if r.starts_with(crate::record::ID_PREFIX) => {
            let hex = crate::record::hex_of(r);
            if hex.len() < 6 || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::invalid_with_hint(
                    format!("`{r}` in `{s}` is not a record id"),
                    "write `sha256:` and at least 6 hex digits of the version record's id",
                ));
            }
            Selector::Record(format!("{}{}", crate::record::ID_PREFIX, hex.to_ascii_lowercase()))
        }
        Some(v) => {
            let trimmed = v.strip_prefix('v').unwrap_or(v);
            match semver::Version::parse(trimmed) {
                Ok(ver) => Selector::Version(ver),
                Err(_) if v.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                    return Err(Error::invalid_with_hint(
                        format!("`{v}` in `{s}` is not a semantic version"),
                        "versions look like `1.4.0`",
                    ))
                }
                Err(_) => {
                    crate::names::validate(v)?;
                    Selector::Stage(v.to_string())
                }
            }
        }
    };
    Ok(ModelSpec {
        model: model.to_string(),
        selector,
    })
}
