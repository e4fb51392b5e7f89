//! `mlops sync`.

use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::config::Config;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The git remote (default: `project.remote` in mlops.toml, else `origin`).
    #[arg(long)]
    remote: Option<String>,
    /// Only fetch and merge; do not push.
    #[arg(long)]
    no_push: bool,
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
    if g.json {
        print_json(&report)?;
    } else if !g.quiet {
        for r in &report.created {
            println!("new       {r}");
        }
        for r in &report.fast_forwarded {
            println!("updated   {r}");
        }
        for r in &report.merged {
            println!("merged    {r} (both sides had new events)");
        }
        println!(
            "synced with {remote}{}",
            if report.pushed {
                ": fetched, merged and pushed"
            } else {
                ": fetched and merged"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
