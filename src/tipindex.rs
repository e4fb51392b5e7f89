//! The time of every chain's newest record, by its tip commit: a derived
//! cache (`.git/mlops/tips.v1`) so that `mlops log -n 10` over 100,000 runs
//! reads the ten events it shows, not every history. A line is reused only
//! while its ref still points at the same commit (commits are
//! content-addressed, so it cannot be stale); anything else is read again
//! from git, on every core. Deleting the file loses nothing but speed.

use std::collections::HashMap;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::error::Result;
use crate::store::{Entity, EntityKind, Store};

const FILE: &str = "tips.v1";

fn path(store: &Store) -> PathBuf {
    store.git_dir().join("mlops").join(FILE)
}

/// The `created_at` of each entity's newest record (`None`: no such ref).
pub fn newest(store: &Store, entities: &[Entity]) -> Result<Vec<Option<String>>> {
    // Every chain's tip, by the entity's ref name, for the kinds asked about.
    let mut kinds: Vec<crate::store::EntityKind> = entities.iter().map(|e| e.kind).collect();
    kinds.sort();
    kinds.dedup();
    let mut refs: HashMap<String, gix::ObjectId> = HashMap::new();
    for kind in kinds {
        for (e, tip) in store.tips(Some(kind))? {
            if let Ok(id) = gix::ObjectId::from_hex(tip.as_bytes()) {
                refs.insert(e.refname(), id);
            }
        }
    }
    let text = std::fs::read_to_string(path(store)).unwrap_or_default();
    let mut cached: HashMap<&str, (&str, &str)> = HashMap::new();
    for line in text.lines() {
        let mut parts = line.split(' ');
        if let (Some(r), Some(t), Some(at)) = (parts.next(), parts.next(), parts.next()) {
            cached.insert(r, (t, at));
        }
    }
    let mut out: Vec<Option<String>> = vec![None; entities.len()];
    let mut stale: Vec<(usize, gix::ObjectId)> = Vec::new();
    for (i, e) in entities.iter().enumerate() {
        let Some(tip) = refs.get(&e.refname()) else {
            continue;
        };
        match cached.get(e.refname().as_str()) {
            Some((t, at)) if gix::ObjectId::from_hex(t.as_bytes()).ok() == Some(*tip) => {
                out[i] = Some(at.to_string())
            }
            _ => stale.push((i, *tip)),
        }
    }
    if stale.is_empty() {
        return Ok(out);
    }
    // Many runs not seen yet (a fresh clone): their times come from the runs
    // index, which a fresh clone builds from the archive's rows without
    // reading 100,000 runs.
    if stale
        .iter()
        .filter(|(i, _)| entities[*i].kind == EntityKind::Run)
        .count()
        > 64
    {
        let rows: HashMap<String, (String, String)> = crate::run::index::rows(store)?
            .into_iter()
            .map(|r| (r.run_id, (r.tip, r.newest_at)))
            .collect();
        stale.retain(|(i, tip)| {
            let e = &entities[*i];
            match rows.get(&e.name) {
                Some((t, at))
                    if e.kind == EntityKind::Run
                        && gix::ObjectId::from_hex(t.as_bytes()).ok() == Some(*tip) =>
                {
                    out[*i] = Some(at.clone());
                    false
                }
                _ => true,
            }
        });
    }
    let read = |store: &Store, (i, tip): &(usize, gix::ObjectId)| {
        Ok::<_, crate::error::Error>((*i, store.latest_at(*tip)?.map(|(at, _)| at)))
    };
    let found: Vec<(usize, Option<String>)> = if stale.len() < 64 {
        stale
            .iter()
            .map(|s| read(store, s))
            .collect::<Result<_>>()?
    } else {
        let shared = store.shared();
        stale
            .par_iter()
            .map_init(|| Store::from_shared(&shared), |s, x| read(s, x))
            .collect::<Result<_>>()?
    };
    for (i, at) in found {
        out[i] = at;
    }
    // Best effort: a failed write only costs the next call some time.
    let mut lines = String::with_capacity(entities.len() * 100);
    for (e, at) in entities.iter().zip(&out) {
        if let (Some(tip), Some(at)) = (refs.get(&e.refname()), at) {
            lines.push_str(&format!("{} {tip} {at}\n", e.refname()));
        }
    }
    let p = path(store);
    if let Some(dir) = p.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = crate::templates::write_atomically(&p, lines.as_bytes());
    Ok(out)
}
