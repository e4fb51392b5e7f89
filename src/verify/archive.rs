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
        let mut arch_parents = Vec::new();
        let mut run_parents: HashSet<ObjectId> = HashSet::new();
        for p in &parents_of[c] {
            if is_archive(db, *p)? {
                arch_parents.push(*p);
            } else {
                run_parents.insert(*p);
            }
        }
        problems.extend(check_fold(db, c, &arch_parents, &run_parents)?);
    }
    problems.extend(check_index(store, tip, rows)?);
    Ok(problems)
}

/// One fold (or merge of archives) against its archive parents, reading
/// only the day folders that differ: 100 folds of a 100,000-run archive
/// touch a few hundred folders, not 100 × 100,000 entries.
fn check_fold(
    db: &GitDb,
    c: &ObjectId,
    arch_parents: &[ObjectId],
    run_parents: &HashSet<ObjectId>,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let now_days = archive::days(db, *c)?;
    let base_days = match arch_parents.first() {
        Some(p) => archive::days(db, *p)?,
        None => BTreeMap::new(),
    };
    // Days that differ from the first archive parent, in this commit or in
    // another archive parent (a merge).
    let mut touched: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let differ = |a: &BTreeMap<String, ObjectId>, b: &BTreeMap<String, ObjectId>| {
        a.keys()
            .chain(b.keys())
            .filter(|d| a.get(*d) != b.get(*d))
            .cloned()
            .collect::<Vec<_>>()
    };
    touched.extend(differ(&base_days, &now_days));
    let mut other_days = Vec::new();
    for p in arch_parents.iter().skip(1) {
        let d = archive::days(db, *p)?;
        touched.extend(differ(&base_days, &d));
        other_days.push(d);
    }
    let mut explained: HashSet<ObjectId> = HashSet::new();
    for day in &touched {
        let read = |folder: Option<&ObjectId>| -> Result<BTreeMap<String, ObjectId>> {
            match folder {
                Some(f) => archive::day_runs(db, *f),
                None => Ok(BTreeMap::new()),
            }
        };
        // What the parents hold this day, each run at the newest of its tips.
        let mut before = read(base_days.get(day))?;
        for d in &other_days {
            for (run, commit) in read(d.get(day))? {
                match before.get(&run) {
                    Some(b) if db.is_ancestor(commit, *b)? => {}
                    _ => {
                        before.insert(run, commit);
                    }
                }
            }
        }
        let now = read(now_days.get(day))?;
        for (run, old) in &before {
            match now.get(run) {
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
                    if run_parents.contains(new) {
                        explained.insert(*new);
                    } else {
                        problems.push(format!(
                            "fold commit {} moves run `{run}` to {} without it as a parent",
                            short(c),
                            short(new)
                        ));
                    }
                }
            }
        }
        for (run, new) in &now {
            if before.contains_key(run) {
                continue;
            }
            if run_parents.contains(new) {
                explained.insert(*new);
            } else {
                problems.push(format!(
                    "fold commit {} adds run `{run}` at {} without it as a parent",
                    short(c),
                    short(new)
                ));
            }
        }
    }
    for p in run_parents {
        if !explained.contains(p) {
            problems.push(format!(
                "fold commit {} has {} as a parent but names it for no run",
                short(c),
                short(p)
            ));
        }
    }
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
    use rayon::prelude::*;
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
    // (day, its runs, the bytes of its index file)
    type DayFile<'a> = (&'a str, Vec<(&'a String, &'a ObjectId)>, Vec<u8>);
    let mut files: Vec<DayFile> = Vec::new();
    for (day, runs) in by_day {
        match a.index.get(day) {
            Some(blob) => files.push((day, runs, db.blob(*blob)?)),
            None => problems.push(format!("the archive has no index rows for day {day}")),
        }
    }
    // Parsing and hashing 100,000 rows is the work here: every core.
    let found: Vec<Result<DayCheck>> = files
        .par_iter()
        .map(|(day, runs, bytes)| {
            let rows: BTreeMap<String, [u8; 32]> = crate::run::fold::parse_rows(bytes)?
                .iter()
                .map(|r| (r.run_id.clone(), super::chain::row_digest(r)))
                .collect();
            let mut out = Vec::new();
            let mut stale = Vec::new();
            for (run, commit) in runs {
                match rows_seen.get(*run) {
                    Some((t, row)) if t == *commit => {
                        if rows.get(*run) != row.as_ref() {
                            out.push(format!(
                                "the archive's index row of run `{run}` is not what its records say"
                            ));
                        }
                    }
                    _ => stale.push((*run, **commit)),
                }
            }
            if rows.len() != runs.len() {
                out.push(format!(
                    "the archive's index for day {day} lists {} runs, the archive holds {}",
                    rows.len(),
                    runs.len()
                ));
            }
            Ok(DayCheck {
                problems: out,
                stale: stale.into_iter().map(|(r, c)| (r.clone(), c)).collect(),
            })
        })
        .collect();
    // Runs amended since their fold: their folded tip's row, read again.
    for f in found {
        let f = f?;
        problems.extend(f.problems);
        for (run, commit) in f.stale {
            let expected = Row::from_history(&store.history_at(Some(commit))?, commit.to_string())
                .map(|r| super::chain::row_digest(&r));
            let listed = match a.index.get(archive::day(&run)) {
                Some(blob) => crate::run::fold::parse_rows(&db.blob(*blob)?)?
                    .into_iter()
                    .find(|r| r.run_id == run)
                    .map(|r| super::chain::row_digest(&r)),
                None => None,
            };
            if listed != expected {
                problems.push(format!(
                    "the archive's index row of run `{run}` is not what its records say"
                ));
            }
        }
    }
    Ok(problems)
}

/// What checking one day's index file found.
struct DayCheck {
    problems: Vec<String>,
    /// Runs whose chain was checked at another tip (amended since the fold).
    stale: Vec<(String, ObjectId)>,
}
