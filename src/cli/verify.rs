//! `mlops verify`.

use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::store::Entity;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this entity (`model/fraud`); default: every entity.
    entity: Option<String>,
}

pub fn run(g: &Globals, a: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let only = a.entity.as_deref().map(Entity::parse).transpose()?;
    if let Some(e) = &only {
        store.require(e)?;
    }
    let v = crate::verify::verify(&store, only.as_ref())?;
    if g.json {
        print_json(&v)?;
    } else {
        for c in &v.entities {
            let status = if c.problems.is_empty() {
                "ok"
            } else {
                "ALTERED"
            };
            println!(
                "{status:<8} {} ({} records, {} commits)",
                c.entity, c.records, c.commits
            );
            for p in &c.problems {
                println!("  problem: {p}");
            }
            for w in &c.warnings {
                println!("  warning: {w}");
            }
        }
        if v.ok {
            println!("verified {} records in {} entities: every record hashes to its id and every history is append-only", v.records, v.entities.len());
        } else {
            println!("verification FAILED: see the problems above");
        }
    }
    Ok(if v.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
