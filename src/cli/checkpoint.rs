//! `mlops checkpoint`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::{print_json, Globals};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Also write the checkpoint (record and heads) to this file, to keep
    /// outside the repository; `mlops verify --checkpoint FILE` checks
    /// against it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(g: &Globals, a: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    store.identity()?;
    // A checkpoint vouches for the history it pins: record one only over a
    // history that verifies.
    let v = crate::verify::verify(
        &store,
        crate::verify::Options {
            only: None,
            checkpoint: None,
            checkpoint_source: None,
        },
    )?;
    if !v.ok {
        let problems: usize = v.entities.iter().map(|e| e.problems.len()).sum();
        eprintln!(
            "error: `mlops verify` finds {problems} problem(s): a checkpoint would vouch for them"
        );
        eprintln!("hint: run `mlops verify` and settle them first");
        return Ok(ExitCode::from(1));
    }
    let pinned = crate::checkpoint::record(&store)?;
    if let Some(out) = &a.out {
        let text = serde_json::to_string_pretty(&pinned)?;
        crate::templates::write_atomically(out, text.as_bytes())
            .with_context(|| format!("cannot write `{}`", out.display()))?;
    }
    if g.json {
        print_json(&pinned)?;
    } else if !g.quiet {
        crate::outln!("checkpoint {} pins {} heads", pinned.id, pinned.heads.len());
        crate::outln!("share it with `mlops sync`; keep a copy out of reach (`--out FILE`) to verify against later");
    }
    Ok(ExitCode::SUCCESS)
}
