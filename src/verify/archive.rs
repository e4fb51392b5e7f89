//! The proof of the runs archive (`store::archive`): every fold commit adds
//! exactly the runs it has as parents, an entry only ever moves to a
//! descendant of its run's earlier tip, nothing is dropped, and the index
//! rows are what the runs' records say. The folded runs' own chains are
//! checked like any other (by `verify`, from the tips the archive names).

use std::collections::{BTreeMap, HashMap, HashSet};

use gix::ObjectId;

use crate::error::Result;
use crate::run::index::Row;
use crate::store::{archive, GitDb, Store};

fn short(c: &ObjectId) -> String {
    c.to_string()[..12].to_string()
}

/// Problems of the archive chain whose tip is `tip`.
pub fn check(
    store: &Store,
    tip: ObjectId,
    rows: &HashMap<String, (ObjectId, Option<[u8; 32]>)>,
) -> Result<Vec<String>> {
    let db = store.db();
    let mut problems = Vec::new();
    // Fold commits are the ones whose tree is an archive; their other
    // parents are run tips.
    let mut folds: Vec<ObjectId> = Vec::new();
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let mut todo = vec![tip];
    let mut parents_of: HashMap<ObjectId, Vec<ObjectId>> = HashMap::new();
    while let Some(c) = todo.pop() {
        if !seen.insert(c) {
            continue;
        }
        if archive::check_marker(db, c).is_err() {
            problems.push(format!("commit {} is not an archive commit", short(&c)));
            continue;
        }
        let parents = db.commit_info(c)?.parents;
        for p in &parents {
            if is_archive(db, *p)? {
                todo.push(*p);
            }
        }
        parents_of.insert(c, parents);
        folds.push(c);
    }
    for c in &folds {
        let now = archive::read(db, Some(*c))?;
        let mut arch_parents = Vec::new();
        let mut run_parents: HashSet<ObjectId> = HashSet::new();
        for p in &parents_of[c] {
            if is_archive(db, *p)? {
                arch_parents.push(archive::read(db, Some(*p))?);
            } else {
                run_parents.insert(*p);
            }
        }
        // What the parents hold, each run at the newest of its tips.
        let mut before: BTreeMap<String, ObjectId> = BTreeMap::new();
        for a in &arch_parents {
            for (run, commit) in &a.runs {
                match before.get(run) {
                    Some(b) if db.is_ancestor(*commit, *b)? => {}
                    _ => {
                        before.insert(run.clone(), *commit);
                    }
                }
            }
        }
        for (run, old) in &before {
            match now.runs.get(run) {
                None => problems.push(format!("fold commit {} drops run `{run}`", short(c))),
                Some(new) if new == old => {}
                Some(new) => {
                    if !db.is_ancestor(*old, *new)? {
                        problems.push(format!(
                            "fold commit {} moves run `{run}` from {} to {}, which does not descend from it",
                            short(c),
                            short(old),
                            short(new)
                        ));
                    }
                    if !run_parents.contains(new) {
                        problems.push(format!(
                            "fold commit {} moves run `{run}` to {} without it as a parent",
                            short(c),
                            short(new)
                        ));
                    }
                }
            }
        }
        let mut added: HashSet<ObjectId> = HashSet::new();
        for (run, new) in &now.runs {
            if before.get(run) == Some(new) {
                continue;
            }
            added.insert(*new);
            if !before.contains_key(run) && !run_parents.contains(new) {
                problems.push(format!(
                    "fold commit {} adds run `{run}` at {} without it as a parent",
                    short(c),
                    short(new)
                ));
            }
        }
        for p in &run_parents {
            if !added.contains(p) {
                problems.push(format!(
                    "fold commit {} has {} as a parent but names it for no run",
                    short(c),
                    short(p)
                ));
            }
        }
    }
    problems.extend(check_index(store, tip, rows)?);
    Ok(problems)
}

fn is_archive(db: &GitDb, commit: ObjectId) -> Result<bool> {
    Ok(archive::check_marker(db, commit).is_ok())
}

/// The index rows at the tip must be exactly the rows the runs' records
/// give: the index is derived, and a forged row would mislead `runs list`.
fn check_index(
    store: &Store,
    tip: ObjectId,
    rows_seen: &HashMap<String, (ObjectId, Option<[u8; 32]>)>,
) -> Result<Vec<String>> {
    let db = store.db();
    let a = archive::read(db, Some(tip))?;
    let mut problems = Vec::new();
    let mut by_day: BTreeMap<&str, Vec<(&String, &ObjectId)>> = BTreeMap::new();
    for (run, commit) in &a.runs {
        by_day
            .entry(archive::day(run))
            .or_default()
            .push((run, commit));
    }
    for (day, runs) in &by_day {
        let Some(blob) = a.index.get(*day) else {
            problems.push(format!("the archive has no index rows for day {day}"));
            continue;
        };
        let rows: BTreeMap<String, Row> = crate::run::fold::parse_rows(&db.blob(*blob)?)?
            .into_iter()
            .map(|r| (r.run_id.clone(), r))
            .collect();
        for (run, commit) in runs {
            // The row the chain check derived, when it checked this same
            // tip; a run amended since its fold is read again at that tip.
            let expected = match rows_seen.get(*run) {
                Some((t, row)) if t == *commit => *row,
                _ => Row::from_history(&store.history_at(Some(**commit))?, commit.to_string())
                    .map(|r| super::chain::row_digest(&r)),
            };
            if rows.get(*run).map(super::chain::row_digest) != expected {
                problems.push(format!(
                    "the archive's index row of run `{run}` is not what its records say"
                ));
            }
        }
        if rows.len() != runs.len() {
            problems.push(format!(
                "the archive's index for day {day} lists {} runs, the archive holds {}",
                rows.len(),
                runs.len()
            ));
        }
    }
    Ok(problems)
}
