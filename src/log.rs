//! The audit trail across every entity: what `mlops log` prints. It is derived
//! from the entity histories on each call, never stored, so it cannot disagree
//! with them.

use serde::Serialize;

use crate::error::Result;
use crate::store::{Entity, EntityKind, Store};

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub entity: String,
    pub id: String,
    pub kind: String,
    pub created_at: String,
    pub actor: String,
    pub summary: String,
    pub prev: Option<String>,
}

/// Every event of the selected entities, newest first.
pub fn events(
    store: &Store,
    only: Option<&Entity>,
    kind: Option<EntityKind>,
    limit: Option<usize>,
) -> Result<Vec<Event>> {
    let entities = match only {
        Some(e) => vec![e.clone()],
        None => store.entities(kind)?,
    };
    // (created_at, entity index, position in chain) keeps each chain's causal
    // order even when two events carry the same timestamp.
    let mut all: Vec<(String, usize, usize, Event)> = Vec::new();
    let push = |ei: usize, entity: &Entity, all: &mut Vec<(String, usize, usize, Event)>| {
        let history = store.history(entity)?;
        for (pos, r) in history.records.iter().enumerate() {
            all.push((
                r.created_at().to_string(),
                ei,
                pos,
                Event {
                    entity: entity.to_string(),
                    id: r.id().to_string(),
                    kind: r.kind().to_string(),
                    created_at: r.created_at().to_string(),
                    actor: r.actor().to_string(),
                    summary: r.summary().to_string(),
                    prev: r.prev().map(str::to_string),
                },
            ));
        }
        Ok::<_, crate::error::Error>(())
    };
    let key = |a: &(String, usize, usize, Event)| (a.0.clone(), a.1, a.2);
    match limit {
        None => {
            for (ei, entity) in entities.iter().enumerate() {
                push(ei, entity, &mut all)?;
            }
        }
        Some(0) => {}
        Some(n) => {
            // Newest first, reading only what is shown: entities in order of
            // their newest record, until the next one's newest record is
            // older than the n-th event found so far (every later event of
            // it, and of every entity after it, is older still).
            let newest = crate::tipindex::newest(store, &entities)?;
            let mut order: Vec<(String, usize)> = newest
                .into_iter()
                .enumerate()
                .filter_map(|(i, at)| at.map(|at| (at, i)))
                .collect();
            order.sort_by(|a, b| b.cmp(a));
            for (at, ei) in order {
                if all.len() >= n {
                    all.sort_by_key(|e| std::cmp::Reverse(key(e)));
                    all.truncate(n);
                    if at < all[n - 1].0 {
                        break;
                    }
                }
                push(ei, &entities[ei], &mut all)?;
            }
        }
    }
    all.sort_by(|a, b| (&b.0, b.1, b.2).cmp(&(&a.0, a.1, a.2)));
    let mut out: Vec<Event> = all.into_iter().map(|(_, _, _, e)| e).collect();
    if let Some(n) = limit {
        out.truncate(n);
    }
    Ok(out)
}
