//! `mlops model register|list|show|history|deprecate|supersede`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{print_json, Globals};
use crate::config::Config;
use crate::registry::promote::{self, model_state};
use crate::registry::register::{self, Bump, RegisterOptions};
use crate::registry::spec::{self, Selector};
use crate::store::EntityKind;
use crate::term;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    sub: Sub,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Register a model version from a run and/or artifact files.
    Register(RegisterArgs),
    /// The model inventory: owner, risk tier, latest version, stages, drift.
    List,
    /// A model's versions and stages, or one version in detail (`name@1.2.0`).
    Show(ShowArgs),
    /// Every event of a model: who, when, why.
    History(HistoryArgs),
    /// Mark a version deprecated; it leaves every stage it held.
    Deprecate(DeprecateArgs),
    /// Settle a version claimed by two records (two clones registered it
    /// independently): keep one record, retire the others.
    Supersede(SupersedeArgs),
}

#[derive(clap::Args, Debug)]
struct SupersedeArgs {
    /// `name@version`: the version in conflict.
    spec: String,
    /// The record to keep, `sha256:<prefix>` (`mlops model show <name>` lists them).
    #[arg(long)]
    keep: String,
    /// Why this record is kept.
    #[arg(long)]
    reason: String,
}

#[derive(clap::Args, Debug)]
struct RegisterArgs {
    /// The model's name.
    name: String,
    /// The run that trained it (id or unique prefix).
    #[arg(long)]
    run: Option<String>,
    /// A model file or folder (hashed); defaults to the run's artifacts.
    #[arg(long = "artifact", value_name = "PATH")]
    artifacts: Vec<PathBuf>,
    /// Let `--artifact` lead out of the repository: a symlink out is recorded
    /// at the link's path, a file outside as `outside/<name>`; never with the
    /// absolute path.
    #[arg(long)]
    allow_outside: bool,
    /// An explicit semantic version.
    #[arg(long, conflicts_with = "bump")]
    version: Option<String>,
    /// Bump the highest version: major, minor (default) or patch.
    #[arg(long, value_parser = ["major", "minor", "patch"])]
    bump: Option<String>,
    /// A description of this version.
    #[arg(long, short = 'm')]
    description: Option<String>,
    /// Also create the git tag `mlops/<name>/v<version>` (never pushed).
    #[arg(long)]
    tag: bool,
}

#[derive(clap::Args, Debug)]
struct ShowArgs {
    /// `name` or `name@version|stage|latest`.
    spec: String,
}

#[derive(clap::Args, Debug)]
struct HistoryArgs {
    name: String,
}

#[derive(clap::Args, Debug)]
struct DeprecateArgs {
    /// `name@version`.
    spec: String,
    #[arg(long)]
    reason: Option<String>,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let config = Config::load(&store.root())?;
    match args.sub {
        Sub::Register(a) => {
            let bump = a.bump.as_deref().map(|b| match b {
                "major" => Bump::Major,
                "patch" => Bump::Patch,
                _ => Bump::Minor,
            });
            let (record, v) = register::register(
                &store,
                &config,
                RegisterOptions {
                    model: a.name.clone(),
                    run: a.run,
                    artifacts: a.artifacts,
                    version: a.version,
                    bump,
                    description: a.description,
                    cwd: g.dir.clone(),
                    allow_outside: a.allow_outside,
                },
            )?;
            if a.tag {
                let name = format!("mlops/{}/v{}", v.model, v.version);
                promote::tag(&store, &name, v.code_commit.as_deref())?;
            }
            if g.json {
                print_json(&serde_json::json!({"id": record.id(), "version": v}))?;
            } else if !g.quiet {
                crate::outln!("registered {}@{} ({})", v.model, v.version, record.id());
            }
        }
        Sub::List => list(g, &store, &config)?,
        Sub::Show(a) => show(g, &store, &a.spec)?,
        Sub::History(a) => history(g, &store, &a.name)?,
        Sub::Supersede(a) => {
            let s = spec::parse(&a.spec, None)?;
            let Selector::Version(v) = &s.selector else {
                return Err(crate::Error::invalid_with_hint(
                    format!("`{}` does not name a version", a.spec),
                    "write `name@1.2.0`",
                )
                .into());
            };
            let (record, body) = crate::registry::supersede::supersede(
                &store,
                &s.model,
                &v.to_string(),
                &a.keep,
                &a.reason,
            )?;
            if g.json {
                print_json(&serde_json::json!({"id": record.id(), "supersede": body}))?;
            } else if !g.quiet {
                crate::outln!("{}", record.summary());
            }
        }
        Sub::Deprecate(a) => {
            let s = spec::parse(&a.spec, None)?;
            if matches!(s.selector, Selector::Latest | Selector::Stage(_)) {
                return Err(crate::Error::invalid_with_hint(
                    format!("`{}` does not name a version", a.spec),
                    "write `name@1.2.0` or `name@sha256:<record>`",
                )
                .into());
            }
            let version = a.spec.split_once('@').map(|(_, v)| v).unwrap_or_default();
            let (record, _) = promote::deprecate(&store, &config, &s.model, version, a.reason)?;
            if g.json {
                print_json(&serde_json::json!({"id": record.id()}))?;
            } else if !g.quiet {
                crate::outln!("{}", record.summary());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct InventoryRow {
    model: String,
    owner: Option<String>,
    risk_tier: Option<String>,
    purpose: Option<String>,
    versions: usize,
    latest: Option<String>,
    stages: std::collections::BTreeMap<String, String>,
    drift: Option<String>,
}

fn list(g: &Globals, store: &crate::store::Store, config: &Config) -> anyhow::Result<()> {
    let mut names: Vec<String> = store
        .entities(Some(EntityKind::Model))?
        .into_iter()
        .map(|e| e.name)
        .collect();
    for n in config.models.keys() {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    names.sort();
    let mut rows = Vec::new();
    for name in names {
        let state = model_state(store, &name).ok();
        let cfg = config.model(&name);
        let mut drift = None;
        for (m, mc) in &config.monitors {
            if mc.model.as_deref() == Some(name.as_str()) {
                if let Some(d) = promote::drift_status(store, m)? {
                    drift = Some(format!(
                        "{} ({m}, {})",
                        if d.drifted { "drift" } else { "ok" },
                        &d.created_at[..10]
                    ));
                }
            }
        }
        rows.push(InventoryRow {
            model: name.clone(),
            owner: cfg.and_then(|c| c.owner.clone()),
            risk_tier: cfg.and_then(|c| c.risk_tier.clone()),
            purpose: cfg.and_then(|c| c.purpose.clone()),
            versions: state.as_ref().map(|s| s.versions.len()).unwrap_or(0),
            latest: state
                .as_ref()
                .and_then(|s| s.latest().map(|v| v.version.version.clone())),
            stages: state.map(|s| s.stages).unwrap_or_default(),
            drift,
        });
    }
    if g.json {
        print_json(&rows)?;
    } else if rows.is_empty() {
        crate::outln!("no models");
        if let Some(h) = store.empty_hint() {
            eprintln!("{h}");
        }
    } else {
        let cells = rows
            .iter()
            .map(|r| {
                vec![
                    r.model.clone(),
                    r.owner.clone().unwrap_or_else(|| "—".into()),
                    r.risk_tier.clone().unwrap_or_else(|| "—".into()),
                    r.latest.clone().unwrap_or_else(|| "—".into()),
                    if r.stages.is_empty() {
                        "—".into()
                    } else {
                        r.stages
                            .iter()
                            .map(|(s, v)| format!("{s}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    },
                    r.drift.clone().unwrap_or_else(|| "—".into()),
                ]
            })
            .collect();
        crate::outln!(
            "{}",
            term::table(
                &[
                    "model",
                    "owner",
                    "risk tier",
                    "latest",
                    "stages",
                    "last drift"
                ],
                cells
            )
        );
    }
    Ok(())
}

fn show(g: &Globals, store: &crate::store::Store, spec_text: &str) -> anyhow::Result<()> {
    let s = spec::parse(spec_text, Some(Selector::Latest))?;
    let state = model_state(store, &s.model)?;
    for c in &state.conflicts {
        eprintln!("conflict: {}", c.describe(&s.model));
        eprintln!("hint: {}", c.hint(&s.model));
    }
    if !spec_text.contains('@') {
        if g.json {
            print_json(&state.versions)?;
            return Ok(());
        }
        let cells = state
            .versions
            .iter()
            .map(|v| {
                vec![
                    v.version.version.clone(),
                    crate::record::short(&v.record).to_string(),
                    v.created_at.clone(),
                    v.actor.clone(),
                    v.version.run_id.clone().unwrap_or_else(|| "—".into()),
                    if let Some(k) = &v.superseded_by {
                        format!("superseded by {}", crate::record::short(k))
                    } else if v.in_conflict {
                        "CONFLICT".into()
                    } else if v.deprecated {
                        "deprecated".into()
                    } else {
                        v.stages.join(", ")
                    },
                    v.version
                        .metrics
                        .iter()
                        .take(4)
                        .map(|(k, x)| format!("{k}={}", crate::run::query::short_number(*x)))
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            })
            .collect();
        crate::outln!("model {}", s.model);
        crate::outln!(
            "{}",
            term::table(
                &["version", "record", "created", "by", "run", "stages", "metrics"],
                cells
            )
        );
        return Ok(());
    }
    let v = state.resolve(&s.selector)?;
    if g.json {
        print_json(v)?;
        return Ok(());
    }
    let mv = &v.version;
    crate::outln!("model       {}@{}", mv.model, mv.version);
    crate::outln!("record      {}", v.record);
    crate::outln!("created     {} by {}", v.created_at, v.actor);
    crate::outln!(
        "stages      {}",
        if v.deprecated {
            "deprecated".to_string()
        } else if v.stages.is_empty() {
            "—".into()
        } else {
            v.stages.join(", ")
        }
    );
    if let Some(r) = &mv.run_id {
        crate::outln!("run         {r}");
    }
    if let Some(c) = &mv.code_commit {
        crate::outln!("code        {c}");
    }
    if let Some(d) = &mv.description {
        crate::outln!("description {d}");
    }
    if !mv.metrics.is_empty() {
        crate::outln!("\nmetrics");
        for (k, x) in &mv.metrics {
            crate::outln!("  {k} = {}", crate::run::query::short_number(*x));
        }
    }
    if !mv.artifacts.is_empty() {
        crate::outln!("\nartifacts");
        for a in &mv.artifacts {
            crate::outln!("  {}  {}  {} bytes", a.sha256, a.path, a.size);
        }
    }
    if !mv.datasets.is_empty() {
        crate::outln!("\ndata");
        for d in &mv.datasets {
            crate::outln!(
                "  {:<6} {} {}",
                d.role,
                d.dataset.as_deref().unwrap_or(&d.path),
                d.version.as_deref().unwrap_or(&d.root)
            );
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct HistoryRow {
    created_at: String,
    actor: String,
    kind: String,
    summary: String,
    reason: Option<String>,
    id: String,
}

fn history(g: &Globals, store: &crate::store::Store, name: &str) -> anyhow::Result<()> {
    crate::names::validate(name)?;
    let entity = crate::store::Entity::new(EntityKind::Model, name)?;
    let h = store.history(&entity)?;
    if h.is_empty() {
        return Err(crate::Error::invalid_with_hint(
            format!("model `{name}` does not exist"),
            "`mlops model list` shows the models",
        )
        .into());
    }
    let rows: Vec<HistoryRow> = h
        .records
        .iter()
        .rev()
        .map(|r| HistoryRow {
            created_at: r.created_at().to_string(),
            actor: r.actor().to_string(),
            kind: r.kind().to_string(),
            summary: r.summary().to_string(),
            reason: r
                .str_field("reason")
                .or_else(|| r.str_field("text"))
                .map(str::to_string),
            id: r.id().to_string(),
        })
        .collect();
    if g.json {
        print_json(&rows)?;
    } else {
        let cells = rows
            .iter()
            .map(|r| {
                vec![
                    r.created_at.clone(),
                    r.actor.clone(),
                    r.summary.clone(),
                    r.reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        crate::outln!("{}", term::table(&["when", "who", "event", "why"], cells));
    }
    Ok(())
}
