//! `mlops report`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::config::Config;
use crate::registry::spec::{self, Selector};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `name` (the whole model) or `name@version|stage`.
    spec: String,
    /// The folder to write report.md and report.html into.
    #[arg(long, default_value = "report")]
    out: PathBuf,
}

pub fn run(g: &Globals, a: Args) -> anyhow::Result<ExitCode> {
    let s = spec::parse(&a.spec, Some(Selector::Latest))?;
    let selector = a.spec.contains('@').then_some(&s.selector);
    let store = g.store()?;
    let config = Config::load(&store.root())?;
    let files = crate::report::write(&store, &config, &s.model, selector, &g.dir.join(&a.out))?;
    if g.json {
        print_json(&files)?;
    } else if !g.quiet {
        for f in &files {
            println!("report written to {}", f.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
