//! The one module that runs the user's `git` executable: for what gix does not
//! do (push, fetch) and where the user's own git configuration must apply
//! (credentials, hooks), and for what needs the working tree as git sees it
//! (the diff of uncommitted changes).
//!
//! git is treated as a foreign API: a fixed locale (`LC_ALL=C`, no
//! `LANGUAGE`) so nothing depends on a translation, stdin closed so it never
//! waits for input, and machine-readable output (`--porcelain`) wherever mlops
//! reads a result; an English message is never matched.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .env("LC_ALL", "C")
        .env_remove("LANGUAGE")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    cmd
}

/// Runs git and returns whatever it did, success or not.
pub fn run(dir: &Path, args: &[&str]) -> Result<Output> {
    git(dir).args(args).output().map_err(|e| {
        Error::invalid_with_hint(
            format!("cannot run `git {}`: {e}", args.join(" ")),
            "install git and make sure it is on PATH",
        )
    })
}

/// The error for a git command that failed, with what it said.
pub fn failure(args: &[&str], out: &Output) -> Error {
    Error::Git(format!(
        "`git {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    ))
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

/// Raw stdout bytes.
pub fn output_bytes(dir: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = run(dir, args)?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(failure(args, &out))
    }
}

/// The bytes of `git diff HEAD --binary`, the same on every machine for the
/// same trees: the user's configuration shapes a diff (colours, prefixes,
/// external diff programs, textconv filters, context size, rename
/// detection), so every such setting is pinned here, and the hash recorded
/// for a dirty working tree does not depend on who ran the command.
pub fn stable_diff_of_worktree(dir: &Path) -> Result<Vec<u8>> {
    const PINNED: &[&str] = &[
        "-c",
        "color.ui=false",
        "-c",
        "color.diff=false",
        "-c",
        "diff.noprefix=false",
        "-c",
        "diff.mnemonicPrefix=false",
        "-c",
        "diff.relative=false",
        "-c",
        "diff.renames=false",
        "-c",
        "diff.suppressBlankEmpty=false",
        "-c",
        "diff.context=3",
        "-c",
        "diff.interHunkContext=0",
        "-c",
        "diff.algorithm=myers",
        "-c",
        "diff.indentHeuristic=true",
        "-c",
        "core.quotePath=true",
        "-c",
        "diff.submodule=short",
        "-c",
        "diff.ignoreSubmodules=none",
    ];
    let mut args: Vec<&str> = PINNED.to_vec();
    args.extend([
        "diff",
        "HEAD",
        "--binary",
        "--full-index",
        "--no-ext-diff",
        "--no-textconv",
        "--no-color",
        "--no-renames",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "--unified=3",
        "--inter-hunk-context=0",
        "--diff-algorithm=myers",
        "--ignore-submodules=none",
        "-O/dev/null",
        "--",
    ]);
    let out = git(dir)
        .env_remove("GIT_EXTERNAL_DIFF")
        .env_remove("GIT_DIFF_OPTS")
        .args(&args)
        .output()
        .map_err(|e| {
            Error::invalid_with_hint(
                format!("cannot run `git diff`: {e}"),
                "install git and make sure it is on PATH",
            )
        })?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(failure(&["diff", "HEAD"], &out))
    }
}

/// Runs a `git update-ref --stdin` script as one transaction: `true` when it
/// applied, `false` when git refused it (a ref did not hold the value the
/// script expected), an error when git could not run.
pub fn update_refs(dir: &Path, script: &str) -> Result<bool> {
    use std::io::Write;
    let mut child = git(dir)
        .args(["update-ref", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::invalid_with_hint(
                format!("cannot run `git update-ref`: {e}"),
                "install git and make sure it is on PATH",
            )
        })?;
    child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(script.as_bytes())
        .map_err(|e| Error::io("cannot send refs to `git update-ref`", e))?;
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("cannot wait for `git update-ref`", e))?;
    Ok(out.status.success())
}

/// Starts `git gc --auto` and does not wait for it: git packs loose objects
/// and refs in the background (detached, as it does after a commit), which
/// is safe beside mlops' writers (docs/reliability.md).
pub fn gc_auto_in_background(dir: &Path) {
    let _ = git(dir)
        .args(["gc", "--auto", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// The `git --version` line, when git is installed.
pub fn version() -> Option<String> {
    Command::new("git")
        .arg("--version")
        .env("LC_ALL", "C")
        .env_remove("LANGUAGE")
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// One line of `git push --porcelain` or `git fetch --porcelain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefStatus {
    /// git's flag: ` ` fast-forward, `+` forced, `-` deleted, `*` new,
    /// `!` rejected, `=` up to date, `t` tag.
    pub flag: char,
    /// The local ref (fetch: the ref updated here; push: the source).
    pub local: String,
    /// The remote ref (push only).
    pub remote: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl RefStatus {
    pub fn rejected(&self) -> bool {
        self.flag == '!'
    }
}

/// Parses `git push --porcelain`: `<flag>\t<from>:<to>\t<summary>`.
pub fn parse_push_porcelain(stdout: &str) -> Vec<RefStatus> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let flag = parts.next()?;
            let refs = parts.next()?;
            let flag = flag.chars().next().filter(|_| flag.len() == 1)?;
            let (from, to) = refs.split_once(':')?;
            Some(RefStatus {
                flag,
                local: from.to_string(),
                remote: Some(to.to_string()),
                old: None,
                new: None,
            })
        })
        .collect()
}

/// Parses `git fetch --porcelain`: `<flag> <old> <new> <local ref>`.
pub fn parse_fetch_porcelain(stdout: &str) -> Vec<RefStatus> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut chars = line.chars();
            let flag = chars.next()?;
            let rest = chars.as_str().strip_prefix(' ')?;
            let mut parts = rest.splitn(3, ' ');
            let old = parts.next()?;
            let new = parts.next()?;
            let local = parts.next()?;
            Some(RefStatus {
                flag,
                local: local.to_string(),
                remote: None,
                old: Some(old.to_string()),
                new: Some(new.to_string()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_lines_parse() {
        let push = "To /tmp/o.git\n!\trefs/mlops/models/m:refs/mlops/models/m\t[rejected] (fetch first)\n=\trefs/mlops/runs/r:refs/mlops/runs/r\t[up to date]\nDone\n";
        let got = parse_push_porcelain(push);
        assert_eq!(got.len(), 2);
        assert!(got[0].rejected());
        assert_eq!(got[1].flag, '=');
        let z = "0".repeat(40);
        let a = "a".repeat(40);
        let fetch = format!("* {z} {a} refs/remotes/origin/mlops/models/m\n! {a} {a} refs/remotes/origin/mlops/runs/x\n");
        let got = parse_fetch_porcelain(&fetch);
        assert_eq!(got[0].flag, '*');
        assert_eq!(got[0].local, "refs/remotes/origin/mlops/models/m");
        assert!(got[1].rejected());
    }
}
