//! The policy a decision is checked against is the *committed* `mlops.toml`
//! (docs/governance.md): gates, roles, the inventory and the signing set-up
//! are read from the commit the command runs at (`HEAD`, or `--policy-rev`:
//! in a pull request, the base branch's, so a pull request cannot weaken its
//! own gate), not from whatever the working tree holds. A working-tree file
//! that differs is refused with a hint — or applied with
//! `--allow-uncommitted-policy`, which the record keeps as an override.
//! Every promotion records which policy it was checked against (the blob id
//! and the commit, and the SHA-256 of the bytes, since pull-request commits
//! can disappear).

use serde::{Deserialize, Serialize};

use crate::config::{Config, FILE_NAME};
use crate::error::{Error, Result};
use crate::store::Store;

/// Which policy a decision used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyRef {
    /// The commit the policy was read at (`None`: no commit yet).
    pub commit: Option<String>,
    /// The git blob id of `mlops.toml` (`None`: no file, the defaults).
    pub blob: Option<String>,
    /// SHA-256 of the policy's bytes.
    pub sha256: Option<String>,
    /// The working tree's file was used although it differs from the commit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uncommitted: bool,
}

/// The policy in force, and where it came from.
#[derive(Clone, Debug)]
pub struct Policy {
    pub config: Config,
    pub source: PolicyRef,
    /// The commit's tree, for other policy files (allowed signers).
    rev: Option<String>,
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

impl Policy {
    /// The committed policy at `rev` (default `HEAD`).
    pub fn load(store: &Store, rev: Option<&str>, allow_uncommitted: bool) -> Result<Policy> {
        let root = store.root();
        let at = rev.unwrap_or("HEAD");
        let commit = store.db().resolve_rev(at)?;
        if commit.is_none() && rev.is_some() {
            return Err(Error::invalid_with_hint(
                format!("`--policy-rev {at}` names no commit"),
                "pass a branch, tag or commit id",
            ));
        }
        let committed = match commit {
            Some(c) => store.db().file_at(c, FILE_NAME)?,
            None => None,
        };
        let working = match std::fs::read(root.join(FILE_NAME)) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(format!("cannot read `{FILE_NAME}`"), e)),
        };
        let committed_bytes = committed.as_ref().map(|(_, b)| b.clone());
        let differs = working.is_some() && working != committed_bytes && rev.is_none();
        if differs && !allow_uncommitted {
            return Err(Error::invalid_with_hint(
                if commit.is_none() {
                    format!("`{FILE_NAME}` is not committed yet: decisions are checked against the committed policy")
                } else if committed.is_none() {
                    format!("`{FILE_NAME}` is not in the commit at {at}: decisions are checked against the committed policy")
                } else {
                    format!(
                        "`{FILE_NAME}` differs from the one committed at {at}: decisions are checked against the committed policy"
                    )
                },
                "commit it (the change is then reviewed like any other), or pass `--allow-uncommitted-policy` to apply it as a recorded override",
            ));
        }
        let (bytes, blob, uncommitted) = if differs {
            (
                working.clone().unwrap_or_default(),
                Some(
                    crate::store::GitDb::blob_id(working.as_deref().unwrap_or_default())
                        .to_string(),
                ),
                true,
            )
        } else {
            match &committed {
                Some((oid, b)) => (b.clone(), Some(oid.to_string()), false),
                None => (Vec::new(), None, false),
            }
        };
        let text = String::from_utf8(bytes.clone()).map_err(|_| Error::Config {
            path: FILE_NAME.into(),
            message: "not UTF-8".into(),
        })?;
        let config = if bytes.is_empty() {
            Config::default()
        } else {
            Config::parse(&text)?
        };
        Ok(Policy {
            config,
            source: PolicyRef {
                commit: commit.map(|c| c.to_string()),
                blob,
                sha256: (!bytes.is_empty()).then(|| sha256(&bytes)),
                uncommitted,
            },
            rev: if uncommitted {
                None
            } else {
                commit.map(|c| c.to_string())
            },
        })
    }

    /// The committed policy for readers that must not fail on a work in
    /// progress (the audit report): the one at `HEAD`, and whether the
    /// working tree's file differs from it; the working tree's before the
    /// first commit.
    pub fn committed(store: &Store) -> Result<(Policy, bool)> {
        if store.db().resolve_rev("HEAD")?.is_none() {
            return Ok((Policy::load(store, None, true)?, false));
        }
        let at_head = Policy::load(store, Some("HEAD"), false)?;
        let differs = match std::fs::read(store.root().join(FILE_NAME)) {
            Ok(b) => at_head.source.sha256.as_deref() != Some(sha256(&b).as_str()),
            Err(_) => at_head.source.sha256.is_some(),
        };
        Ok((at_head, differs))
    }

    /// Another policy file (the allowed signers) as committed beside
    /// `mlops.toml`; from the working tree when the policy itself is the
    /// working tree's.
    pub fn file(&self, store: &Store, path: &str) -> Result<Option<Vec<u8>>> {
        match &self.rev {
            Some(rev) => {
                let commit = store
                    .db()
                    .resolve_rev(rev)?
                    .ok_or_else(|| Error::invalid(format!("cannot read commit {rev}")))?;
                Ok(store.db().file_at(commit, path)?.map(|(_, b)| b))
            }
            None => match std::fs::read(store.root().join(path)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(format!("cannot read `{path}`"), e)),
            },
        }
    }

    /// The allowed signers the policy names (none when it names no file).
    pub fn allowed_signers(&self, store: &Store) -> Result<Vec<crate::signing::AllowedSigner>> {
        let Some(path) = &self.config.signing.allowed_signers else {
            return Ok(Vec::new());
        };
        let Some(bytes) = self.file(store, path)? else {
            return Err(Error::invalid_with_hint(
                format!("the allowed signers file `{path}` named in [signing] is not committed"),
                "commit it beside mlops.toml",
            ));
        };
        crate::signing::parse_allowed_signers(
            &String::from_utf8_lossy(&bytes),
            std::path::Path::new(path),
        )
    }
}
