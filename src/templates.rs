//! The files `mlops init` installs: `.mlops-template/` of this repository,
//! embedded at build time so the binary is all a user needs.
//!
//! A file the user has changed is never overwritten without `--force`: the
//! template only seeds a file, after that the user's copy is the truth.

use std::path::Path;

use include_dir::{include_dir, Dir, DirEntry};
use serde::Serialize;

use crate::error::{Error, Result};

static TEMPLATE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/.mlops-template");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The file did not exist and was written.
    Created,
    /// The file already has the template's content.
    Unchanged,
    /// The file differs from the template and was left alone.
    Kept,
    /// The file differed and `--force` replaced it.
    Overwritten,
}

#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    pub path: String,
    pub action: Action,
}

/// Every template file as `(repo-relative path, contents)`, sorted.
pub fn files() -> Vec<(String, &'static [u8])> {
    fn walk(dir: &'static Dir<'static>, out: &mut Vec<(String, &'static [u8])>) {
        for entry in dir.entries() {
            match entry {
                DirEntry::Dir(d) => walk(d, out),
                DirEntry::File(f) => {
                    out.push((f.path().to_string_lossy().replace('\\', "/"), f.contents()))
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&TEMPLATE, &mut out);
    out.sort();
    out
}

/// A built-in template's text by its path (e.g. `.mlops/templates/report.md.j2`).
pub fn builtin(path: &str) -> Option<&'static str> {
    TEMPLATE
        .get_file(path)
        .and_then(|f| std::str::from_utf8(f.contents()).ok())
}

/// Installs the templates under `root`.
pub fn install(root: &Path, force: bool) -> Result<Vec<Installed>> {
    let mut report = Vec::new();
    for (rel, contents) in files() {
        let path = root.join(&rel);
        let action = match std::fs::read(&path) {
            Ok(existing) if existing == contents => Action::Unchanged,
            Ok(_) if !force => Action::Kept,
            Ok(_) => Action::Overwritten,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Action::Created,
            Err(e) => return Err(Error::io(format!("cannot read `{rel}`"), e)),
        };
        if matches!(action, Action::Created | Action::Overwritten) {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::io(format!("cannot create the folder of `{rel}`"), e))?;
            }
            write_atomically(&path, contents)
                .map_err(|e| Error::io(format!("cannot write `{rel}`"), e))?;
        }
        report.push(Installed { path: rel, action });
    }
    Ok(report)
}

/// Writes through a temporary file and a rename, so a crash never leaves a
/// half-written file behind.
///
/// The file gets mode `0666 & !umask`, as git gives the files it writes (and
/// as `std::fs::write` would): the temporary file is opened with mode 0666 and
/// the kernel applies the process umask, atomically, at creation. Reading the
/// umask instead (`umask(2)` can only be read by setting it, which races with
/// other threads creating files) is never needed. A `tempfile` alone would be
/// 0600, which locks teammates on a shared machine out of `mlops.toml`.
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    std::io::Write::write_all(&mut tmp, contents)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
