//! `mlops sync`.

use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::config::Config;
use crate::store::REF_ROOT;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The git remote (default: `project.remote` in mlops.toml, else `origin`).
    #[arg(long)]
    remote: Option<String>,
    /// Only fetch and merge; do not push.
    #[arg(long)]
    no_push: bool,
}

#[derive(serde::Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    report: &'a crate::sync::SyncReport,
    conflicts: Vec<String>,
}

pub fn run(g: &Globals, a: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    store.identity()?;
    let config = Config::load(&store.root())?;
    let remote = a
        .remote
        .or(config.project.remote)
        .unwrap_or_else(|| "origin".into());
    let report = crate::sync::sync(&store, &remote, !a.no_push)?;
    // Records merged from two clones can claim one version string twice.
    let mut conflicts = Vec::new();
    let models = format!("{REF_ROOT}models/");
    for r in report.changed() {
        if let Some(model) = r.strip_prefix(&models) {
            if let Ok(state) = crate::registry::promote::model_state(&store, model) {
                for c in &state.conflicts {
                    conflicts.push((c.describe(model), c.hint(model)));
                }
            }
        }
    }
    if g.json {
        print_json(&Output {
            report: &report,
            conflicts: conflicts.iter().map(|(c, _)| c.clone()).collect(),
        })?;
    } else if !g.quiet {
        for r in &report.created {
            crate::outln!("new       {r}");
        }
        for r in &report.fast_forwarded {
            crate::outln!("updated   {r}");
        }
        for r in &report.merged {
            crate::outln!("merged    {r} (both sides had new events)");
        }
        if report.refused.is_empty() {
            crate::outln!(
                "synced with {remote}{}",
                if report.pushed {
                    ": fetched, merged and pushed"
                } else {
                    ": fetched and merged"
                }
            );
        }
    }
    for (c, hint) in &conflicts {
        eprintln!("conflict: {c}");
        eprintln!("hint: {hint}");
    }
    for r in &report.refused {
        eprintln!(
            "error: `{}` on `{remote}` was rewritten: its tip {} does not contain {}, which this clone saw there; nothing was merged from it and nothing was pushed",
            r.refname,
            &r.remote_tip[..12.min(r.remote_tip.len())],
            &r.seen[..12.min(r.seen.len())]
        );
    }
    if !report.refused.is_empty() {
        eprintln!("hint: someone force-pushed over the audit trail; compare with `git log {}` and restore it from a clone that has it (`mlops verify` there)", report.refused[0].refname);
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
