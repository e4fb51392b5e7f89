//! A hermetic repository for each test: its own temp dir, `HOME` and git
//! config inside it, a cleared environment, a fixed identity and a fixed clock,
//! so record and commit ids are the same on every run and every machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

pub const NOW: &str = "2026-03-01T09:00:00Z";
pub const GIT_DATE: &str = "2026-03-01T09:00:00+00:00";

pub struct Repo {
    _tmp: tempfile::TempDir,
    pub path: PathBuf,
    pub home: PathBuf,
}

/// Runs a command and captures its outcome.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    #[track_caller]
    pub fn ok(self) -> Out {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Out {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

pub fn capture(mut cmd: Command) -> Out {
    use std::os::unix::process::ExitStatusExt;
    let out = cmd.output().expect("the command runs");
    Out {
        // Killed by a signal: 128 + its number, as a shell reports it.
        code: out
            .status
            .code()
            .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0)),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Repo {
    /// A fresh repository with no commits and a configured identity.
    pub fn new() -> Repo {
        let repo = Repo::bare_dir();
        repo.git(&["init", "-q", "-b", "main"]).ok();
        repo.git(&["config", "user.name", "Test User"]).ok();
        repo.git(&["config", "user.email", "test@example.com"]).ok();
        repo
    }

    /// A temp dir that is not (yet) a repository.
    pub fn bare_dir() -> Repo {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let path = tmp.path().join("repo");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&path).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        Repo {
            _tmp: tmp,
            path,
            home,
        }
    }

    /// A second repository in the same temp dir (for clones).
    pub fn sibling(&self, name: &str) -> PathBuf {
        self.path.parent().unwrap().join(name)
    }

    fn hermetic(&self, cmd: &mut Command, dir: &Path) {
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", GIT_DATE)
            .env("GIT_COMMITTER_DATE", GIT_DATE)
            .env("MLOPS_NOW", NOW)
            .env("LC_ALL", "C");
    }

    pub fn mlops_cmd(&self, args: &[&str]) -> Command {
        self.mlops_cmd_in(&self.path, args)
    }

    pub fn mlops_cmd_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("mlops").expect("the mlops binary is built");
        self.hermetic(&mut cmd, dir);
        cmd.args(args);
        cmd
    }

    pub fn mlops(&self, args: &[&str]) -> Out {
        capture(self.mlops_cmd(args))
    }

    pub fn mlops_in(&self, dir: &Path, args: &[&str]) -> Out {
        capture(self.mlops_cmd_in(dir, args))
    }

    pub fn git(&self, args: &[&str]) -> Out {
        self.git_in(&self.path, args)
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> Out {
        let mut cmd = Command::new("git");
        self.hermetic(&mut cmd, dir);
        cmd.args(args);
        capture(cmd)
    }

    /// Runs git with `input` on its stdin (plumbing such as `mktree`).
    pub fn git_stdin(&self, args: &[&str], input: &str) -> Out {
        use std::io::Write;
        let mut cmd = Command::new("git");
        self.hermetic(&mut cmd, &self.path);
        cmd.args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("git runs");
        child
            .stdin
            .take()
            .expect("a stdin pipe")
            .write_all(input.as_bytes())
            .expect("git reads its input");
        let out = child.wait_with_output().expect("git finishes");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let p = self.path.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// Writes and commits a file (the policy in `mlops.toml` is read from
    /// the commit, as a reviewed change).
    pub fn commit_file(&self, rel: &str, contents: &str) -> PathBuf {
        let p = self.write(rel, contents);
        self.git(&["add", rel]).ok();
        self.git(&["commit", "-q", "-m", rel]).ok();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path.join(rel)).unwrap()
    }
}
