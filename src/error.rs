//! The library's error type. Every variant is something the user can act on, so
//! each one can carry a `hint`; the CLI prints the message and the hint and exits
//! with code 2 (DESIGN.md: 2 is "bad input or environment").

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{}` is not inside a git repository", .0.display())]
    NotARepo(PathBuf),

    #[error("git identity is not configured: records must be attributable")]
    NoIdentity,

    #[error("invalid name `{name}`: {reason}")]
    InvalidName { name: String, reason: &'static str },

    #[error("`{path}`: {message}")]
    Config { path: String, message: String },

    #[error("record `{id}` is corrupt: {reason}")]
    CorruptRecord { id: String, reason: String },

    #[error("{0} does not exist")]
    NotFound(String),

    #[error(
        "could not update `{reference}` after {attempts} attempts: other writers kept winning"
    )]
    Contended { reference: String, attempts: u32 },

    /// Data broke its contract: a check said no (exit 1), naming each rule.
    #[error("dataset `{dataset}` breaks its contract: {}", .violations.join("; "))]
    ContractViolated {
        dataset: String,
        violations: Vec<String>,
    },

    #[error("{message}")]
    Invalid {
        message: String,
        hint: Option<String>,
    },

    #[error("git: {0}")]
    Git(String),

    /// The cause is part of the message, not a `source`: the CLI prints the
    /// whole error chain, which would name it twice.
    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },
}

impl Error {
    /// What the user can do about it, printed on its own `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::NotARepo(_) => Some("run `git init` first, or point `-C` at a repository".into()),
            Error::NoIdentity => Some(
                "set it with `git config user.name \"Your Name\"` and `git config user.email you@example.com`"
                    .into(),
            ),
            Error::InvalidName { .. } => Some(
                "names use letters, digits, `.`, `_` and `-`, start with a letter or digit, and are at most 100 characters"
                    .into(),
            ),
            Error::CorruptRecord { .. } => {
                Some("run `mlops verify` to list every damaged record".into())
            }
            Error::Invalid { hint, .. } => hint.clone(),
            _ => None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid {
            message: message.into(),
            hint: None,
        }
    }

    pub fn invalid_with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Invalid {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            cause: source,
        }
    }

    pub fn git(err: impl std::fmt::Display) -> Self {
        Error::Git(format!("{err:#}"))
    }
}
