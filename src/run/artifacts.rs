//! Hashing the files a run produces or a model version ships, so that a
//! deploy script (`mlops resolve`) and an auditor can check the exact bytes.
//!
//! Paths stay inside the repository (crate::outside): an artifact that is, or
//! goes through, a symlink out of the repository, or that lies outside the
//! work tree, is refused unless `--allow-outside`. Allowed, the first is
//! recorded at the path written (`models/best.pkl`, marked `symlink`), the
//! second as `outside/<name>` (marked `path`); never with an absolute path.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::outside::{self, Outside, FLAG, PREFIX};
use crate::run::record::Artifact;

/// Where an artifact path leads.
#[derive(Debug)]
enum Place {
    /// Inside the repository: files are shown where they resolve to.
    Inside,
    /// Written inside the repository, led out by the symlink `link` (the
    /// path itself or a folder on the way) to `target`; shown as `written`.
    Through {
        written: String,
        link: String,
        target: PathBuf,
    },
    /// Outside the work tree; shown as `outside/<name>`.
    Outside { name: String },
}

/// Where `path` (relative to `cwd`) leads. A path that does not exist yet
/// is placed by its deepest existing folder, which is where it will be.
fn place(cwd: &Path, root: &Path, path: &Path) -> Place {
    let canonical_root = root.canonicalize().unwrap_or(root.to_path_buf());
    let written = outside::lexical(cwd, path);
    let resolved = cwd
        .join(path)
        .canonicalize()
        .unwrap_or_else(|_| resolve_existing(&written));
    if resolved.starts_with(&canonical_root) {
        return Place::Inside;
    }
    if let Some(below) = outside::below(&written, root, &canonical_root) {
        if let Some((link, target)) = outside::escaping_link(&canonical_root, below) {
            return Place::Through {
                written: outside::slash_path(below),
                link,
                target,
            };
        }
    }
    let name = written
        .file_name()
        .or(resolved.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Place::Outside { name }
}

/// `path` with its deepest existing ancestor resolved and the rest appended.
fn resolve_existing(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut at = path;
    loop {
        if let Ok(resolved) = at.canonicalize() {
            return rest.iter().rev().fold(resolved, |p, name| p.join(name));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                at = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The refusal of `place` for the artifact written `shown`, unless allowed.
fn refuse(place: &Place, shown: &Path, root: &Path, allow_outside: bool) -> Result<()> {
    if allow_outside {
        return Ok(());
    }
    let shown = shown.display();
    match place {
        Place::Inside => Ok(()),
        Place::Through {
            written,
            link,
            target,
        } => {
            let message = match link == written {
                true => format!(
                    "artifact `{shown}` is a symlink to `{}`, outside the repository",
                    target.display()
                ),
                false => format!(
                    "artifact `{shown}` goes through the symlink `{link}` to `{}`, outside the repository",
                    target.display()
                ),
            };
            Err(Error::invalid_with_hint(message, outside::link_hint()))
        }
        Place::Outside { name } => Err(Error::invalid_with_hint(
            format!(
                "artifact `{shown}` is outside the repository `{}`",
                root.display()
            ),
            format!(
                "write it inside the repository, or pass `{FLAG}` to record it as `{PREFIX}/{name}` (where it lies is not recorded)"
            ),
        )),
    }
}

/// Refuses, before anything runs or is recorded, an artifact path that leads
/// out of the repository, unless `allow_outside`. The path need not exist.
pub fn check(cwd: &Path, root: &Path, path: &Path, allow_outside: bool) -> Result<()> {
    refuse(&place(cwd, root, path), path, root, allow_outside)
}

/// Every file of `path` (a file, or a folder walked in name order, symlinks
/// inside it left out), with paths relative to the repository root. A missing
/// path is `Ok(None)`, so the caller decides whether that is a warning or an
/// error; one that leads out of the repository is an error unless
/// `allow_outside`.
pub fn hash(
    cwd: &Path,
    root: &Path,
    path: &Path,
    allow_outside: bool,
) -> Result<Option<Vec<Artifact>>> {
    let abs = cwd.join(path);
    if !abs.exists() {
        return Ok(None);
    }
    let place = place(cwd, root, path);
    refuse(&place, path, root, allow_outside)?;
    let files: Vec<PathBuf> = if abs.is_dir() {
        walkdir::WalkDir::new(&abs)
            .sort_by_file_name()
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect()
    } else {
        vec![abs.clone()]
    };
    let canonical_root = root.canonicalize().unwrap_or(root.to_path_buf());
    files
        .into_iter()
        .map(|f| {
            let (sha256, size) = crate::dataset::hash::sha256_file(&f)
                .map_err(|e| Error::io(format!("cannot hash artifact `{}`", f.display()), e))?;
            // Below the path as written, for the two kinds that are shown so.
            let under = |prefix: &str| {
                let sub = f.strip_prefix(&abs).map(outside::slash_path);
                match sub.as_deref() {
                    Ok("") | Err(_) => prefix.to_string(),
                    Ok(sub) => format!("{prefix}/{sub}"),
                }
            };
            let (shown, kind) = match &place {
                Place::Inside => {
                    let canon = f.canonicalize().unwrap_or(f.clone());
                    match canon.strip_prefix(&canonical_root) {
                        Ok(rel) => (rel.to_string_lossy().replace('\\', "/"), None),
                        // Moved out while it was hashed: never shown where.
                        Err(_) => {
                            return Err(Error::invalid(format!(
                                "artifact `{}` left the repository while it was hashed",
                                path.display()
                            )))
                        }
                    }
                }
                Place::Through { written, .. } => (under(written), Some(Outside::Symlink)),
                Place::Outside { name } => {
                    (under(&format!("{PREFIX}/{name}")), Some(Outside::Path))
                }
            };
            Ok(Artifact {
                path: shown,
                sha256,
                size,
                outside: kind,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The files a tracked run produced at `path`, after it ran. Found missing,
/// or leading out of the repository though it did not before the run (the
/// run made the link), it is left out with a warning instead of losing the
/// run; the warning names no target.
pub fn hash_produced(
    cwd: &Path,
    root: &Path,
    path: &Path,
    allow_outside: bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<Artifact>> {
    if !cwd.join(path).exists() {
        warnings.push(format!(
            "artifact `{}` does not exist after the run",
            path.display()
        ));
        return Ok(Vec::new());
    }
    if !allow_outside && !matches!(place(cwd, root, path), Place::Inside) {
        warnings.push(format!(
            "artifact `{}` leads out of the repository and was not recorded: pass `{FLAG}` to record its content",
            path.display()
        ));
        return Ok(Vec::new());
    }
    Ok(hash(cwd, root, path, allow_outside)?.unwrap_or_default())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Fixture {
        _dir: tempfile::TempDir,
        root: PathBuf,
        out: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("repo");
        let out = base.join("elsewhere");
        std::fs::create_dir_all(root.join("models")).unwrap();
        std::fs::create_dir_all(out.join("weights")).unwrap();
        std::fs::write(out.join("model.pkl"), b"m").unwrap();
        std::fs::write(out.join("weights/a.bin"), b"a").unwrap();
        std::fs::write(root.join("models/in.pkl"), b"i").unwrap();
        Fixture {
            _dir: dir,
            root,
            out,
        }
    }

    fn paths(found: &[Artifact]) -> Vec<(&str, Option<Outside>)> {
        found.iter().map(|a| (a.path.as_str(), a.outside)).collect()
    }

    #[test]
    fn outside_paths_are_refused_or_recorded_by_name() {
        let f = fixture();
        let abs = f.out.join("model.pkl");
        let err = hash(&f.root, &f.root, &abs, false).unwrap_err();
        assert!(
            err.to_string().contains("is outside the repository"),
            "{err}"
        );
        assert!(err.hint().unwrap().contains("`outside/model.pkl`"));
        let found = hash(&f.root, &f.root, &abs, true).unwrap().unwrap();
        assert_eq!(paths(&found), [("outside/model.pkl", Some(Outside::Path))]);
        let found = hash(
            &f.root.join("models"),
            &f.root,
            Path::new("../../elsewhere/weights"),
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            paths(&found),
            [("outside/weights/a.bin", Some(Outside::Path))]
        );
        // Not there yet: placed by where it would be.
        assert!(check(&f.root, &f.root, Path::new("../new/x.pkl"), false).is_err());
        assert!(check(&f.root, &f.root, Path::new("models/new/x.pkl"), false).is_ok());
    }

    #[test]
    fn links_out_are_refused_or_recorded_at_the_written_path() {
        let f = fixture();
        symlink(f.out.join("model.pkl"), f.root.join("models/link.pkl")).unwrap();
        symlink(&f.out, f.root.join("mnt")).unwrap();
        let err = hash(&f.root, &f.root, Path::new("models/link.pkl"), false).unwrap_err();
        assert!(err.to_string().contains("is a symlink to"), "{err}");
        let err = check(&f.root, &f.root, Path::new("mnt/weights/later.bin"), false).unwrap_err();
        assert!(
            err.to_string().contains("goes through the symlink `mnt`"),
            "{err}"
        );
        let found = hash(&f.root, &f.root, Path::new("models/link.pkl"), true)
            .unwrap()
            .unwrap();
        assert_eq!(paths(&found), [("models/link.pkl", Some(Outside::Symlink))]);
        let found = hash(&f.root, &f.root, Path::new("mnt/weights"), true)
            .unwrap()
            .unwrap();
        assert_eq!(
            paths(&found),
            [("mnt/weights/a.bin", Some(Outside::Symlink))]
        );
        // A folder holding the link: the link is not followed.
        let found = hash(&f.root, &f.root, Path::new("models"), false)
            .unwrap()
            .unwrap();
        assert_eq!(paths(&found), [("models/in.pkl", None)]);
    }
}
