//! The one module that runs the user's `git` executable: for what gix does not
//! do (push, fetch) and where the user's own git configuration must apply
//! (credentials, hooks), and for what needs the working tree as git sees it
//! (the diff of uncommitted changes).

use std::path::Path;
use std::process::{Command, Output};

use crate::error::{Error, Result};

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir);
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Result<Output> {
    git(dir).args(args).output().map_err(|e| {
        Error::invalid_with_hint(
            format!("cannot run `git {}`: {e}", args.join(" ")),
            "install git and make sure it is on PATH",
        )
    })
}

/// Runs git and returns its trimmed stdout, or an error with its stderr.
pub fn output(dir: &Path, args: &[&str]) -> Result<String> {
    let out = output_bytes(dir, args)?;
    Ok(String::from_utf8_lossy(&out).trim_end().to_string())
}

/// Like [`output`], but `None` when git says no (no HEAD yet, no remote...).
pub fn try_output(dir: &Path, args: &[&str]) -> Option<String> {
    output(dir, args).ok()
}

/// Raw stdout bytes (for hashing a diff exactly as git prints it).
pub fn output_bytes(dir: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = run(dir, args)?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(Error::Git(format!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The `git --version` line, when git is installed.
pub fn version() -> Option<String> {
    Command::new("git")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}
