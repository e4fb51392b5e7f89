//! `mlops note`.

use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::store::Entity;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The entity: `model/fraud`, `dataset/train`, `run/<id>`, `monitor/<name>`.
    entity: String,
    /// The note's text.
    #[arg(long, short = 'm')]
    message: String,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let entity = Entity::parse(&args.entity)?;
    let store = g.store()?;
    let record = crate::note::add(&store, &entity, &args.message)?;
    if g.json {
        print_json(&serde_json::json!({"entity": entity.to_string(), "id": record.id()}))?;
    } else if !g.quiet {
        crate::outln!("noted on {entity}: {}", record.id());
    }
    Ok(ExitCode::SUCCESS)
}
