//! `mlops demo`: a complete walk through the tool in a throwaway repository,
//! printing every command as a user would type it, with its real output. Each
//! capability adds its step here, so the demo always shows the whole tool.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context as _};

use crate::cli::Globals;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Build the demo repository here (must be empty or not exist); kept afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the throwaway repository (and its report) instead of deleting it.
    #[arg(long)]
    keep: bool,
}

/// Runs commands in the demo repository and prints them as a transcript.
struct Transcript {
    dir: PathBuf,
    exe: PathBuf,
}

impl Transcript {
    fn section(&self, title: &str, why: &str) {
        println!("\n── {title} ──");
        if !why.is_empty() {
            println!("{why}");
        }
    }

    /// Runs `mlops <args>`; `expect` is the exit code the step should have.
    fn mlops(&self, args: &[&str], expect: i32) -> anyhow::Result<String> {
        self.run_program(&self.exe, "mlops", args, expect)
    }

    fn git(&self, args: &[&str]) -> anyhow::Result<String> {
        self.run_program(Path::new("git"), "git", args, 0)
    }

    fn run_program(
        &self,
        program: &Path,
        shown: &str,
        args: &[&str],
        expect: i32,
    ) -> anyhow::Result<String> {
        let shown_args: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') || a.contains('>') || a.contains('*') {
                    format!("'{a}'")
                } else {
                    a.to_string()
                }
            })
            .collect();
        println!("\n$ {shown} {}", shown_args.join(" "));
        let out = Command::new(program)
            .args(args)
            .current_dir(&self.dir)
            .env("MLOPS_DEMO", "1")
            .output()
            .with_context(|| format!("cannot run `{shown}`"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        for line in stdout.lines().chain(stderr.lines()) {
            println!("  {line}");
        }
        let code = out.status.code().unwrap_or(-1);
        if code != expect {
            bail!(
                "demo step `{shown} {}` exited with {code}, expected {expect}",
                args.join(" ")
            );
        }
        if expect != 0 {
            println!("  (exit code {code})");
        }
        Ok(stdout)
    }
}

pub fn run(_g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let (dir, _guard) = match &args.dir {
        Some(d) => {
            if d.exists() && std::fs::read_dir(d)?.next().is_some() {
                return Err(crate::Error::invalid_with_hint(
                    format!("`--dir {}` is not empty", d.display()),
                    "pass a new or empty directory",
                )
                .into());
            }
            std::fs::create_dir_all(d)?;
            (d.canonicalize()?, None)
        }
        None => {
            let t = tempfile::Builder::new().prefix("mlops-demo-").tempdir()?;
            let path = t.path().to_path_buf();
            if args.keep {
                (t.keep(), None)
            } else {
                (path, Some(t))
            }
        }
    };
    let t = Transcript {
        dir: dir.clone(),
        exe: std::env::current_exe().context("cannot find the mlops executable")?,
    };
    println!("mlops demo in {}", dir.display());

    t.section(
        "A git repository",
        "mlops keeps everything in the team's own git repository.",
    );
    t.git(&["init", "-q", "-b", "main"])?;
    t.git(&["config", "user.name", "Dana Scientist"])?;
    t.git(&["config", "user.email", "dana@bank.example"])?;

    t.section(
        "Set up",
        "`mlops init` writes mlops.toml (configuration and policy), CI workflows and report templates.",
    );
    t.mlops(&["init"], 0)?;
    t.git(&["add", "-A"])?;
    t.git(&["commit", "-q", "-m", "Set up mlops"])?;

    t.section(
        "Records in git",
        "Every event is a content-addressed record on a ref under refs/mlops/.",
    );
    t.mlops(
        &[
            "note",
            "model/credit-risk",
            "-m",
            "Model development approved by the risk committee",
        ],
        0,
    )?;
    t.mlops(&["log"], 0)?;
    t.git(&["log", "--format=%h %an %s", "refs/mlops/models/credit-risk"])?;

    println!();
    if args.keep || args.dir.is_some() {
        println!("demo repository kept at {}", dir.display());
    } else {
        println!(
            "demo finished; the throwaway repository was removed (rerun with --keep to explore it)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
