//! `mlops config`: validates `mlops.toml` and shows it as mlops reads it.

use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::config::{Config, FILE_NAME};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(g: &Globals, _args: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let root = store.root();
    let config = Config::load(&root)?;
    if g.json {
        print_json(&config)?;
    } else if !g.quiet {
        let exists = root.join(FILE_NAME).is_file();
        crate::outln!(
            "{FILE_NAME}: {} ({} model(s), {} monitor(s))",
            if exists {
                "valid"
            } else {
                "absent, defaults apply"
            },
            config.models.len(),
            config.monitors.len()
        );
        crate::out!("{}", toml::to_string_pretty(&config)?);
    }
    Ok(ExitCode::SUCCESS)
}
