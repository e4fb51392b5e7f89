//! `mlops.lock`: the dataset versions the code at this commit expects, like a
//! package lock file. It lives in the working tree and is committed by the
//! user, so a pull request that changes training data shows it in the diff.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const FILE_NAME: &str = "mlops.lock";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    #[serde(default)]
    pub datasets: BTreeMap<String, Pin>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub paths: Vec<String>,
    pub version: String,
    pub root: String,
    pub files: u64,
    pub bytes: u64,
}

const HEADER: &str = "# mlops.lock: the dataset versions this commit expects.\n# Written by `mlops data add`; commit it with the code that uses the data.\n\n";

impl Lock {
    pub fn load(root: &Path) -> Result<Lock> {
        let path = root.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| Error::Config {
                path: FILE_NAME.into(),
                message: e.message().trim().to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
            Err(e) => Err(Error::io(format!("cannot read `{FILE_NAME}`"), e)),
        }
    }

    pub fn save(&self, root: &Path) -> Result<()> {
        let text = format!(
            "{HEADER}{}",
            toml::to_string(self)
                .map_err(|e| Error::invalid(format!("cannot write `{FILE_NAME}`: {e}")))?
        );
        crate::templates::write_atomically(&root.join(FILE_NAME), text.as_bytes())
            .map_err(|e| Error::io(format!("cannot write `{FILE_NAME}`"), e))
    }
}

/// Runs `f` on the lock file while holding an exclusive lock, so two `data add`
/// at once both land in `mlops.lock`.
pub fn update<T>(root: &Path, git_dir: &Path, f: impl FnOnce(&mut Lock) -> Result<T>) -> Result<T> {
    let dir = git_dir.join("mlops");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create .git/mlops", e))?;
    let guard = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lockfile.flock"))
        .map_err(|e| Error::io("cannot open the lock of mlops.lock", e))?;
    guard
        .lock()
        .map_err(|e| Error::io("cannot lock mlops.lock", e))?;
    let mut lock = Lock::load(root)?;
    let out = f(&mut lock)?;
    lock.save(root)?;
    drop(guard);
    Ok(out)
}
