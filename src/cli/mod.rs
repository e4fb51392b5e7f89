//! The command line: parse arguments, resolve them into plain settings, call
//! the library, print. Nothing here decides what a record contains.

mod approve;
mod checkpoint;
mod config;
mod data;
mod demo;
mod doctor;
mod drift;
mod init;
mod log;
mod model;
mod note;
mod promote;
mod report;
mod runs;
mod scan;
mod shadow;
mod sync;
mod track;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::store::Store;

#[derive(Parser, Debug)]
#[command(
    name = "mlops",
    version,
    about = "Git-native MLOps: track runs, version data, promote models, watch drift, write audit reports — in your own git repository",
    propagate_version = true
)]
pub struct Cli {
    /// Run as if started in this directory (like `git -C`).
    #[arg(short = 'C', global = true, value_name = "PATH", id = "chdir")]
    pub chdir: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but results and errors; no progress bars.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Set up mlops in this git repository: `mlops.toml`, CI workflows, report templates.
    Init(init::Args),
    /// Version data: add, status, diff, list, show, verify.
    Data(data::Args),
    /// Run a training command and record it: params, metrics, data, code, artifacts.
    Track(track::Args),
    /// List, show, compare and amend tracked runs.
    Runs(runs::Args),
    /// The model registry: register versions, the inventory, history.
    Model(model::Args),
    /// Check a model version against its stage's gates and record the promotion.
    Promote(promote::Args),
    /// Compare today's data with the training data, per column; exit 1 on drift.
    Drift(drift::Args),
    /// Champion vs challenger on shadow or A/B traffic; exit 1 if its shadow gate fails.
    Shadow(shadow::Args),
    /// Write a model's audit report (Markdown and HTML) from the report templates.
    Report(report::Args),
    /// Approve a model version for a stage, under your own identity, signed
    /// with your own key (git's signing configuration).
    Approve(approve::Args),
    /// Put the previous (or a named) version back in a stage.
    Rollback(promote::RollbackArgs),
    /// Print the artifacts (paths and SHA-256) of `name@stage|version`, for deploy scripts.
    Resolve(promote::ResolveArgs),
    /// Share records with a git remote: fetch, merge divergent histories, push.
    Sync(sync::Args),
    /// The audit trail of every entity, newest first.
    Log(log::Args),
    /// Prove that no record was altered: hashes, canonical form, append-only histories.
    Verify(verify::Args),
    /// Pin the head of every history, so a later rewrite is caught by `verify`.
    Checkpoint(checkpoint::Args),
    /// The repository's state as mlops uses it (objects, refs, folded runs,
    /// locks, caches), each finding with the command that fixes it.
    Doctor(doctor::Args),
    /// Look through every record for values shaped like customer identifiers
    /// or secrets (before a first push); exit 1 on a finding.
    Scan(scan::Args),
    /// Check `mlops.toml` and show the configuration as mlops reads it.
    Config(config::Args),
    /// Add a note to an entity's history.
    Note(note::Args),
    /// Walk through the whole tool in a throwaway repository.
    Demo(demo::Args),
    /// The demo's training script (a small logistic regression), run under `mlops track`.
    #[command(hide = true)]
    DemoTrain(demo::TrainArgs),
}

/// Global options, resolved.
pub struct Globals {
    pub dir: PathBuf,
    pub json: bool,
    pub quiet: bool,
}

impl Globals {
    pub fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.dir)?)
    }
}

pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let dir = match cli.chdir {
        Some(d) => {
            if !d.is_dir() {
                return Err(crate::Error::invalid_with_hint(
                    format!("`-C {}`: no such directory", d.display()),
                    "pass an existing directory",
                )
                .into());
            }
            d
        }
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let g = Globals {
        dir,
        json: cli.json,
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Init(a) => init::run(&g, a),
        Command::Data(a) => data::run(&g, a),
        Command::Track(a) => track::run(&g, a),
        Command::Runs(a) => runs::run(&g, a),
        Command::Model(a) => model::run(&g, a),
        Command::Promote(a) => promote::run(&g, a),
        Command::Rollback(a) => promote::rollback(&g, a),
        Command::Approve(a) => approve::run(&g, a),
        Command::Drift(a) => drift::run(&g, a),
        Command::Shadow(a) => shadow::run(&g, a),
        Command::Report(a) => report::run(&g, a),
        Command::Resolve(a) => promote::resolve(&g, a),
        Command::Log(a) => log::run(&g, a),
        Command::Note(a) => note::run(&g, a),
        Command::Config(a) => config::run(&g, a),
        Command::Verify(a) => verify::run(&g, a),
        Command::Checkpoint(a) => checkpoint::run(&g, a),
        Command::Doctor(a) => doctor::run(&g, a),
        Command::Scan(a) => scan::run(&g, a),
        Command::Sync(a) => sync::run(&g, a),
        Command::Demo(a) => demo::run(&g, a),
        Command::DemoTrain(a) => demo::train(&g, a),
    }
}

/// Prints `error: ...` and, when the library knows what to do about it, `hint: ...`.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err:#}");
    if let Some(hint) = err
        .chain()
        .find_map(|e| e.downcast_ref::<crate::Error>())
        .and_then(crate::Error::hint)
    {
        eprintln!("hint: {hint}");
    }
}

/// Prints a value as pretty JSON on stdout.
/// Prints a value as pretty JSON on stdout, streamed (100,000 runs are
/// 50 MB of JSON: no need to build it in memory first).
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(e.into()),
    }
}
