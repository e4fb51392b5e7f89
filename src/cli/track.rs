//! `mlops track` and `mlops track log`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::config::Config;
use crate::run::params;
use crate::run::track::{self, TrackOptions};

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
    /// A name for the run.
    #[arg(long)]
    name: Option<String>,
    /// The experiment the run belongs to.
    #[arg(long, default_value = "default")]
    experiment: String,
    /// A parameter, `key=value` (typed: number, bool or string); repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// A YAML, JSON or TOML file of parameters (nested keys become `a.b`).
    #[arg(long)]
    params_file: Option<PathBuf>,
    /// Input data: a tracked dataset name or a path, optionally `role=` first
    /// (`train=data/train.csv`); repeatable.
    #[arg(long = "data", value_name = "[ROLE=]DATASET|PATH")]
    data: Vec<String>,
    /// A file or folder the run produces, hashed after it ends; repeatable.
    #[arg(long = "artifact", value_name = "PATH")]
    artifacts: Vec<PathBuf>,
    /// Let `--artifact` and `--data` lead out of the repository: symlinks out
    /// are recorded at the link's path, artifacts outside as `outside/<name>`;
    /// never with the absolute path.
    #[arg(long)]
    allow_outside: bool,
    /// A tag, `key=value`; repeatable.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// A note on the run.
    #[arg(long)]
    note: Option<String>,
    /// Also record this environment variable (never one whose name looks like
    /// a secret or whose value holds a credential); repeatable.
    #[arg(long = "env", value_name = "NAME")]
    env: Vec<String>,
    /// Record no command line at all, for commands whose arguments hold
    /// secrets redaction cannot recognise (secret-looking values are redacted
    /// without it).
    #[arg(long)]
    no_command: bool,
    /// The training command, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Log metrics or params from a shell script running inside a tracked run.
    Log(LogArgs),
}

#[derive(clap::Args, Debug)]
struct LogArgs {
    /// A metric, `key=value`; repeatable.
    #[arg(long = "metric", value_name = "KEY=VALUE")]
    metrics: Vec<String>,
    /// The slice these metrics were measured on, `key=value` (`gender=F`);
    /// repeatable. Each metric is recorded as `name{gender=F}` (docs/fairness.md).
    #[arg(long = "slice", value_name = "KEY=VALUE")]
    slices: Vec<String>,
    /// The step the metrics belong to.
    #[arg(long)]
    step: Option<i64>,
    /// A parameter, `key=value`; repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    if let Some(Sub::Log(l)) = args.sub {
        return log(l);
    }
    let mut p = Vec::new();
    for s in &args.params {
        p.push(params::parse_assignment("--param", s)?);
    }
    let mut tags = BTreeMap::new();
    for s in &args.tags {
        let (k, v) = params::parse_tag("--tag", s)?;
        tags.insert(k, v);
    }
    let data = args
        .data
        .iter()
        .map(|d| match d.split_once('=') {
            Some((role, spec)) if !role.contains('/') => (role.to_string(), spec.to_string()),
            _ => ("input".to_string(), d.clone()),
        })
        .collect();
    let store = g.store()?;
    let config = Config::load(&store.root())?;
    let tracked = track::track(
        &store,
        &config,
        TrackOptions {
            name: args.name,
            experiment: args.experiment,
            params: p,
            params_file: args.params_file,
            data,
            artifacts: args.artifacts,
            tags,
            note: args.note,
            env: args.env,
            command: args.command,
            no_command: args.no_command,
            cwd: g.dir.clone(),
            quiet: g.quiet,
            allow_outside: args.allow_outside,
        },
    )?;
    if g.json {
        print_json(&serde_json::json!({"id": tracked.record.id(), "run": tracked.run}))?;
    }
    if !g.quiet {
        let r = &tracked.run;
        let metrics: Vec<String> = r
            .metrics
            .iter()
            .take(6)
            .map(|(k, m)| format!("{k}={}", crate::run::query::short_number(m.value)))
            .collect();
        eprintln!(
            "mlops: run {} {} in {:.1}s{}",
            r.run_id,
            r.status.as_str(),
            r.duration_s,
            if metrics.is_empty() {
                String::new()
            } else {
                format!(" ({})", metrics.join(", "))
            }
        );
        for w in &r.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(ExitCode::from(tracked.exit_code.clamp(0, 255) as u8))
}

fn log(args: LogArgs) -> anyhow::Result<ExitCode> {
    let slice = crate::run::slices::parse_flags("--slice", &args.slices)?;
    let mut metrics = Vec::new();
    for s in &args.metrics {
        let (name, value) = params::parse_metric("--metric", s)?;
        crate::run::slices::check_base(&name)
            .map_err(|why| crate::Error::invalid(format!("`--metric {s}`: {why}")))?;
        metrics.push((crate::run::slices::format(&name, &slice), value));
    }
    if !slice.is_empty() && metrics.is_empty() {
        return Err(crate::Error::invalid_with_hint(
            "`--slice` needs a metric to apply to",
            "pass `--metric k=v` with it",
        )
        .into());
    }
    let mut p = Vec::new();
    for s in &args.params {
        p.push(params::parse_assignment("--param", s)?);
    }
    if metrics.is_empty() && p.is_empty() {
        return Err(crate::Error::invalid_with_hint(
            "nothing to log",
            "pass `--metric k=v` or `--param k=v`",
        )
        .into());
    }
    track::log_line(&metrics, args.step, &p)?;
    Ok(ExitCode::SUCCESS)
}
