//! `mlops report`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::registry::spec::{self, Selector};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `name@version|stage`; a bare `name` reports the version in the last
    /// stage anyone holds (e.g. production), else the latest.
    spec: String,
    /// The folder to write report.md and report.html into.
    #[arg(long, default_value = "report")]
    out: PathBuf,
    /// Feature importances (CSV `feature,importance` or JSON) for the
    /// explainability section; default: `explainability` in mlops.toml.
    #[arg(long, value_name = "FILE")]
    explain: Option<PathBuf>,
}

pub fn run(g: &Globals, a: Args) -> anyhow::Result<ExitCode> {
    let s = spec::parse(&a.spec, Some(Selector::Latest))?;
    let selector = a.spec.contains('@').then_some(&s.selector);
    let store = g.store()?;
    // The inventory and gates as reviewed: the committed mlops.toml.
    let (policy, differs) = crate::registry::policy::Policy::committed(&store)?;
    if differs && !g.quiet {
        eprintln!("warning: mlops.toml differs from the committed one; the report uses the committed one (commit the change to report it)");
    }
    let config = policy.config;
    let req = crate::report::Request {
        model: &s.model,
        selector,
        explain: a.explain.map(|p| g.dir.join(p)),
    };
    let (files, report) = crate::report::write(&store, &config, &req, &g.dir.join(&a.out))?;
    if g.json {
        print_json(&serde_json::json!({ "files": files, "report": report }))?;
    } else if !g.quiet {
        for f in &files {
            crate::outln!("report written to {}", f.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
