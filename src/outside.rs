//! Paths stay inside the repository (docs/privacy.md, "Paths").
//!
//! Records are pushed to shared remotes and never rewritten, so a path that
//! leads out of the repository must not take its location along: not
//! `/home/alice/...` nor `/mnt/datasets/...`. A file reached through a symlink
//! whose target is outside the repository, or named outside the work tree, is
//! refused unless the user passes [`FLAG`]; then its content is hashed (the
//! record pins the bytes) and the entry is marked with an [`Outside`] kind,
//! under a path that names nothing outside:
//!
//! - through a symlink: the path inside the repository the user named or the
//!   walk met (`data/train.csv` for `data -> /mnt/datasets`);
//! - named outside the work tree (artifacts only): `outside/<file name>`,
//!   and for a folder `outside/<folder name>/<path inside it>`.
//!
//! The absolute target is shown in the error on the terminal, never stored.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The one flag, with the same name on `data add`, `track` and `model register`.
pub const FLAG: &str = "--allow-outside";

/// The path recorded for a file named outside the work tree.
pub const PREFIX: &str = "outside";

/// How an entry of a manifest or an artifact list leads out of the repository
/// (`"outside": "symlink"` or `"outside": "path"`; absent for the usual file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outside {
    /// The path is inside the repository but is, or goes through, a symlink
    /// whose target is outside it; the content is the target's.
    Symlink,
    /// The file was named outside the work tree; it is recorded as
    /// `outside/<file name>`.
    Path,
}

/// `path` made absolute against `cwd` and with `.` and `..` resolved by name,
/// as a shell's `cd` does, without touching the file system.
pub fn lexical(cwd: &Path, path: &Path) -> PathBuf {
    let joined = cwd.join(path);
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` below `root`, or below the canonical form of `root`.
pub fn below<'a>(path: &'a Path, root: &Path, canonical_root: &Path) -> Option<&'a Path> {
    path.strip_prefix(canonical_root)
        .or_else(|_| path.strip_prefix(root))
        .ok()
}

/// `rel`'s components joined with `/`.
pub fn slash_path(rel: &Path) -> String {
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The first symlink along `rel` (a path below `root`, which is canonical),
/// from the root down, whose target lies outside `root`: its path below the
/// root and its canonical target. A component that does not exist ends the
/// search.
pub fn escaping_link(root: &Path, rel: &Path) -> Option<(String, PathBuf)> {
    let mut at = root.to_path_buf();
    let mut below = PathBuf::new();
    for component in rel.components() {
        let Component::Normal(name) = component else {
            continue;
        };
        at.push(name);
        below.push(name);
        let meta = std::fs::symlink_metadata(&at).ok()?;
        if meta.file_type().is_symlink() {
            let target = std::fs::canonicalize(&at).ok()?;
            if !target.starts_with(root) {
                return Some((slash_path(&below), target));
            }
        }
    }
    None
}

/// The hint of a refused symlink.
pub fn link_hint() -> String {
    format!(
        "pass `{FLAG}` to record the target's content under the link's path (where it points is not recorded), or copy the file into the repository"
    )
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn lexical_resolves_dots_by_name() {
        let cwd = Path::new("/repo/sub");
        assert_eq!(lexical(cwd, Path::new("../a/./b")), Path::new("/repo/a/b"));
        assert_eq!(lexical(cwd, Path::new("/x/../../y")), Path::new("/y"));
        assert_eq!(lexical(cwd, Path::new(".")), Path::new("/repo/sub"));
    }

    #[test]
    fn finds_the_first_link_out_of_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let root = base.join("repo");
        let outside = base.join("mnt");
        std::fs::create_dir_all(root.join("in")).unwrap();
        std::fs::create_dir_all(outside.join("sets")).unwrap();
        symlink(&outside, root.join("in/mnt")).unwrap();
        // A link to a link out counts as out, where the first one is.
        symlink(root.join("in/mnt"), root.join("hop")).unwrap();
        symlink(root.join("in"), root.join("inner")).unwrap();
        assert_eq!(
            escaping_link(&root, Path::new("in/mnt/sets/x.csv")),
            Some(("in/mnt".to_string(), outside.clone()))
        );
        assert_eq!(
            escaping_link(&root, Path::new("hop/sets")),
            Some(("hop".to_string(), outside.clone()))
        );
        assert_eq!(escaping_link(&root, Path::new("inner")), None);
        assert_eq!(escaping_link(&root, Path::new("missing/x")), None);
    }

    #[test]
    fn kinds_are_recorded_in_lowercase() {
        assert_eq!(
            serde_json::to_string(&Outside::Symlink).unwrap(),
            "\"symlink\""
        );
        assert_eq!(serde_json::to_string(&Outside::Path).unwrap(), "\"path\"");
    }
}
