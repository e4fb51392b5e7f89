//! Folding runs into the archive (`store::archive`): what `mlops sync` does
//! before it pushes, and `mlops runs fold` on demand.
//!
//! Each fold commit takes up to [`BATCH`] runs whose refs are new or moved
//! (amended) since the archive last named them; it is appended to the
//! archive by compare-and-swap like any other event, then the folded refs
//! are deleted with compare-and-swap too, so a run amended during the fold
//! keeps its ref (the next fold takes the newer tip). Trainers never wait:
//! `mlops track` writes its own run ref as before.

use std::collections::{BTreeMap, BTreeSet};

use gix::ObjectId;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::run::index::Row;
use crate::store::{archive, Store, Swap, REF_ROOT};

/// Runs per fold commit: the commit names each as a parent, and 1,000
/// parents keep it under 50 KiB.
pub const BATCH: usize = 1000;

#[derive(Debug, Default, Serialize)]
pub struct Folded {
    /// Runs folded into the archive.
    pub folded: usize,
    /// Run refs deleted because the archive holds them (this fold's, and
    /// ones another clone folded).
    pub refs_removed: usize,
    pub commits: usize,
}

fn runs_prefix() -> String {
    format!("{REF_ROOT}runs/")
}

/// Every row of an archive's index, by run id.
pub fn index_rows(store: &Store, a: &archive::Archive) -> Result<BTreeMap<String, Row>> {
    let mut out = BTreeMap::new();
    for blob in a.index.values() {
        for row in parse_rows(&store.db().blob(*blob)?)? {
            out.insert(row.run_id.clone(), row);
        }
    }
    Ok(out)
}

pub fn parse_rows(bytes: &[u8]) -> Result<Vec<Row>> {
    serde_json::from_slice(bytes).map_err(|e| Error::CorruptRecord {
        id: archive::REF.into(),
        reason: format!("an index file is not a list of run rows: {e}"),
    })
}

/// The canonical bytes of one day's rows (sorted by run id).
pub fn rows_bytes(rows: &BTreeMap<String, Row>) -> Result<Vec<u8>> {
    let list: Vec<&Row> = rows.values().collect();
    let value = serde_json::to_value(&list).map_err(|e| Error::invalid(e.to_string()))?;
    Ok(crate::record::canonical_bytes(&value))
}

/// The runs of an archive and the rows of the days `touched`, rewritten
/// from the runs' histories: what a fold or a merge of archives writes.
pub fn with_runs(
    store: &Store,
    base: &archive::Archive,
    runs: &BTreeMap<String, ObjectId>,
) -> Result<(archive::Archive, BTreeSet<String>)> {
    with_known_rows(store, base, runs, &BTreeMap::new())
}

/// [`with_runs`], taking a run's row from `known` (the runs index) when it
/// was built from the same tip; the others are read, on every core.
pub fn with_known_rows(
    store: &Store,
    base: &archive::Archive,
    runs: &BTreeMap<String, ObjectId>,
    known: &BTreeMap<String, Row>,
) -> Result<(archive::Archive, BTreeSet<String>)> {
    use rayon::prelude::*;
    let missing: Vec<(&String, &ObjectId)> = runs
        .iter()
        .filter(|(r, c)| known.get(*r).is_none_or(|row| row.tip != c.to_string()))
        .collect();
    let read = |store: &Store, (run, commit): &(&String, &ObjectId)| {
        let history = store.history_at(Some(**commit))?;
        Ok::<_, Error>((
            (*run).clone(),
            Row::from_history(&history, commit.to_string()),
        ))
    };
    let fresh: BTreeMap<String, Option<Row>> = if missing.len() < 64 {
        missing
            .iter()
            .map(|m| read(store, m))
            .collect::<Result<_>>()?
    } else {
        let shared = store.shared();
        missing
            .par_iter()
            .map_init(|| Store::from_shared(&shared), |s, m| read(s, m))
            .collect::<Result<_>>()?
    };
    let row_of = |run: &String| -> Option<Row> {
        match fresh.get(run) {
            Some(r) => r.clone(),
            None => known.get(run).cloned(),
        }
    };
    let mut next = base.clone();
    let touched: BTreeSet<String> = runs.keys().map(|r| archive::day(r).to_string()).collect();
    for (run, commit) in runs {
        next.runs.insert(run.clone(), *commit);
    }
    for day in &touched {
        let mut rows: BTreeMap<String, Row> = match base.index.get(day) {
            Some(blob) => parse_rows(&store.db().blob(*blob)?)?
                .into_iter()
                .map(|r| (r.run_id.clone(), r))
                .collect(),
            None => BTreeMap::new(),
        };
        for (run, _) in runs.iter().filter(|(r, _)| archive::day(r) == day) {
            match row_of(run) {
                Some(row) => {
                    rows.insert(run.clone(), row);
                }
                None => {
                    rows.remove(run);
                }
            }
        }
        let blob = store.db().write_blob(&rows_bytes(&rows)?)?;
        next.index.insert(day.clone(), blob);
    }
    Ok((next, touched))
}

/// Folds every run ref the archive does not hold at its tip.
pub fn fold(store: &Store) -> Result<Folded> {
    let db = store.db();
    let mut report = Folded::default();
    // The live run refs, listed once (listing 100,000 loose refs per batch
    // was most of a fold's time).
    let live: Vec<(String, ObjectId)> = db
        .refs_with_prefix(&runs_prefix())?
        .into_iter()
        .map(|(refname, commit)| (refname[runs_prefix().len()..].to_string(), commit))
        .collect();
    let mut next_run = 0;
    // Rows the runs index already holds (a warm index spares reading every
    // run again).
    let known: BTreeMap<String, Row> = if live.is_empty() {
        BTreeMap::new()
    } else {
        crate::run::index::cached_rows(store)
    };
    loop {
        let base_tip = db.read_ref_fresh(archive::REF)?;
        if let Some(t) = base_tip {
            archive::check_marker(db, t)?;
        }
        let base = archive::read(db, base_tip)?;
        let mut batch: BTreeMap<String, ObjectId> = BTreeMap::new();
        let mut cursor = next_run;
        while cursor < live.len() && batch.len() < BATCH {
            let (run, commit) = &live[cursor];
            if base.runs.get(run) != Some(commit) {
                batch.insert(run.clone(), *commit);
            }
            cursor += 1;
        }
        if batch.is_empty() {
            break;
        }
        let (next, touched) = with_known_rows(store, &base, &batch, &known)?;
        let tree = archive::write_tree(db, base_tip, &next, &touched)?;
        let mut parents: Vec<ObjectId> = base_tip.into_iter().collect();
        parents.extend(batch.values().copied());
        let message = format!(
            "fold {} run(s) into the archive\n\nThe runs' own refs are removed; their history is here.\n",
            batch.len()
        );
        let commit = db.commit(&message, tree, &parents)?;
        match db.compare_and_swap(
            archive::REF,
            base_tip,
            commit,
            &format!("mlops: fold {} runs", batch.len()),
        )? {
            Swap::Done => {
                report.folded += batch.len();
                report.commits += 1;
                next_run = cursor;
            }
            // Another fold (or a sync) moved the archive: this batch again,
            // on top of it.
            Swap::Lost => continue,
        }
    }
    report.refs_removed += remove_folded_refs(store)?;
    Ok(report)
}

/// Deletes the run refs whose tip the archive holds (or a descendant of it:
/// a run amended elsewhere and folded there). A ref that moved meanwhile is
/// left alone.
pub fn remove_folded_refs(store: &Store) -> Result<usize> {
    let db = store.db();
    let Some(tip) = db.read_ref(archive::REF)? else {
        return Ok(0);
    };
    let archived = archive::read(db, Some(tip))?;
    let mut gone: Vec<(String, ObjectId)> = Vec::new();
    for (refname, commit) in db.refs_with_prefix(&runs_prefix())? {
        let run = &refname[runs_prefix().len()..];
        if let Some(a) = archived.runs.get(run) {
            if *a == commit || db.is_ancestor(commit, *a)? {
                gone.push((refname, commit));
            }
        }
    }
    db.delete_refs(&gone)
}
