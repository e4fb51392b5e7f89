//! Hashing the files a run produces or a model version ships, so that a
//! deploy script (`mlops resolve`) and an auditor can check the exact bytes.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::run::record::Artifact;

/// Every file of `path` (a file, or a folder walked in name order), with paths
/// shown relative to the repository root when inside it. A missing path is
/// `Ok(None)`, so the caller decides whether that is a warning or an error.
pub fn hash(cwd: &Path, root: &Path, path: &Path) -> Result<Option<Vec<Artifact>>> {
    let abs = cwd.join(path);
    if !abs.exists() {
        return Ok(None);
    }
    let files: Vec<PathBuf> = if abs.is_dir() {
        walkdir::WalkDir::new(&abs)
            .sort_by_file_name()
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect()
    } else {
        vec![abs]
    };
    let root = root.canonicalize().unwrap_or(root.to_path_buf());
    files
        .into_iter()
        .map(|f| {
            let (sha256, size) = crate::dataset::hash::sha256_file(&f)
                .map_err(|e| Error::io(format!("cannot hash artifact `{}`", f.display()), e))?;
            let canon = f.canonicalize().unwrap_or(f.clone());
            let shown = canon
                .strip_prefix(&root)
                .map(Path::to_path_buf)
                .unwrap_or(canon);
            Ok(Artifact {
                path: shown.to_string_lossy().replace('\\', "/"),
                sha256,
                size,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}
