//! `mlops init`.

use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::templates::{self, Action};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Overwrite files that differ from the templates.
    #[arg(long)]
    force: bool,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    if store.is_bare() {
        return Err(crate::Error::invalid_with_hint(
            "`mlops init` needs a working tree, and this repository is bare",
            "run it in a clone with a working tree",
        )
        .into());
    }
    let root = store.root();
    let installed = templates::install(&root, args.force)?;
    let refspecs = crate::sync::configure_fetch(&store)?;
    if g.json {
        print_json(&installed)?;
    } else if !g.quiet {
        for f in &installed {
            let what = match f.action {
                Action::Created => "created",
                Action::Unchanged => "unchanged",
                Action::Kept => "kept (differs from the template; --force replaces it)",
                Action::Overwritten => "overwritten",
            };
            crate::outln!("{:<10} {}", what.split(' ').next().unwrap_or(what), f.path);
            if f.action == Action::Kept {
                eprintln!("note: kept your `{}` (--force replaces it)", f.path);
            }
        }
        for (remote, spec) in &refspecs {
            crate::outln!("fetch      remote.{remote}.fetch += {spec} (git fetch brings records; mlops sync merges them)");
        }
        crate::outln!("mlops is set up in {}", root.display());
    }
    Ok(ExitCode::SUCCESS)
}
