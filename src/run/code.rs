//! The code a run was trained with: HEAD commit, branch, whether the working
//! tree was dirty, and the SHA-256 of the uncommitted diff — so a run trained
//! on uncommitted changes is identifiable, not silently attributed to HEAD.
//! The diff is taken in a pinned form (`gitcli::stable_diff_of_worktree`), so
//! the same trees hash the same under anyone's git configuration.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::gitcli;
use crate::run::record::CodeInfo;

pub fn capture(root: &Path) -> CodeInfo {
    let commit = gitcli::try_output(root, &["rev-parse", "--verify", "-q", "HEAD"]);
    let branch = gitcli::try_output(root, &["symbolic-ref", "--short", "-q", "HEAD"]);
    let status = gitcli::try_output(
        root,
        &[
            "status",
            "--porcelain=v1",
            "--untracked-files=normal",
            "--ignore-submodules=none",
        ],
    )
    .unwrap_or_default();
    let untracked = status.lines().filter(|l| l.starts_with("??")).count() as u64;
    let dirty = status.lines().any(|l| !l.starts_with("??"));
    let diff_sha256 = match (&commit, dirty) {
        (Some(_), true) => gitcli::stable_diff_of_worktree(root)
            .ok()
            .map(|d| hex::encode(Sha256::digest(&d))),
        _ => None,
    };
    let remote = gitcli::try_output(root, &["remote", "get-url", "origin"]).map(|u| redact_url(&u));
    CodeInfo {
        commit,
        branch,
        dirty,
        diff_sha256,
        untracked_files: untracked,
        remote,
    }
}

/// Drops credentials from a remote URL (`https://user:token@host/x` → `https://host/x`):
/// records are pushed, and a token in a remote URL is a secret.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.split_once('@') {
            if !creds.contains('/') {
                return format!("{scheme}://{host}");
            }
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_are_removed_from_remote_urls() {
        use super::redact_url;
        assert_eq!(
            redact_url("https://u:tok@github.com/a/b.git"),
            "https://github.com/a/b.git"
        );
        assert_eq!(
            redact_url("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
        assert_eq!(
            redact_url("https://github.com/a/b"),
            "https://github.com/a/b"
        );
    }
}
