//! `mlops log`.

use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::store::{Entity, EntityKind};
use crate::term;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this entity (`model/fraud`, `dataset/train`, ...).
    entity: Option<String>,
    /// Only entities of this kind: dataset, run, model, monitor.
    #[arg(long)]
    kind: Option<String>,
    /// At most this many events.
    #[arg(long, short = 'n')]
    limit: Option<usize>,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let entity = args.entity.as_deref().map(Entity::parse).transpose()?;
    let kind = match args.kind.as_deref() {
        Some(k) => Some(EntityKind::parse(k).ok_or_else(|| {
            crate::Error::invalid_with_hint(
                format!("`--kind {k}` is not an entity kind"),
                "use one of dataset, run, model, monitor",
            )
        })?),
        None => None,
    };
    if let Some(e) = &entity {
        store.require(e)?;
    }
    let events = crate::log::events(&store, entity.as_ref(), kind, args.limit)?;
    if g.json {
        print_json(&events)?;
        return Ok(ExitCode::SUCCESS);
    }
    if events.is_empty() {
        crate::outln!("no events yet");
        if let Some(h) = store.empty_hint() {
            eprintln!("{h}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows = events
        .iter()
        .map(|e| {
            vec![
                e.created_at.clone(),
                e.entity.clone(),
                e.kind.clone(),
                term::clip(&e.summary, 60),
                e.actor.clone(),
                crate::record::short(&e.id).to_string(),
            ]
        })
        .collect();
    crate::outln!(
        "{}",
        term::table(&["when", "entity", "event", "summary", "who", "id"], rows)
    );
    Ok(ExitCode::SUCCESS)
}
