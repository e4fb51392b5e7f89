//! `mlops doctor`.

use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::term;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(g: &Globals, _a: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let d = crate::doctor::examine(&store)?;
    if g.json {
        print_json(&d)?;
    } else {
        let rows = d
            .findings
            .iter()
            .map(|f| {
                vec![
                    if f.ok { "ok" } else { "FIX" }.to_string(),
                    f.check.clone(),
                    f.value.clone(),
                    f.fix.clone().unwrap_or_default(),
                ]
            })
            .collect();
        crate::outln!("{}", term::table(&["", "check", "state", "fix"], rows));
    }
    Ok(if d.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
