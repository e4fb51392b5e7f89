//! The runs archive: finished runs folded from their own refs into one
//! chain, as git folds loose refs into packed-refs (docs/architecture.md,
//! "Scale").
//!
//! A team's year of sweeps is 100,000 runs. One ref per run keeps trainers
//! from ever contending, but git pays per ref on every fetch and push: a
//! fresh clone spent 5.6 s in `git fetch` alone writing 10,000 run refs, and
//! a remote receives one ref file per run. So `mlops sync` folds runs into
//! `refs/mlops/archive/runs` before it pushes. A fold is one commit whose
//! first parent is the previous fold and whose other parents are the folded
//! runs' tips — so every folded commit stays reachable and travels with the
//! archive — and whose tree names each run's tip:
//!
//! ```text
//! mlops-archive                     {"archive":1}
//! runs/<YYYYMMDD>/<run-id>          gitlink (mode 160000) to the run's tip commit
//! index/<YYYYMMDD>.json             that day's rows of the runs index (derived)
//! ```
//!
//! The run refs are then deleted. Readers see a run in either place (a live
//! ref wins: it is newer); an amendment to a folded run starts its ref again
//! on top of the folded tip, and the next fold moves the entry forward.
//! `verify` walks every folded run's chain and checks each fold: what it adds
//! is exactly its parents, an entry only ever moves to a descendant, and the
//! index rows are what the records say.

use std::collections::BTreeMap;

use gix::ObjectId;

use super::gitdb::{GitDb, TreeEntry};
use crate::error::{Error, Result};

pub const REF: &str = "refs/mlops/archive/runs";
pub const MARKER: &str = "mlops-archive";
const MARKER_CONTENT: &[u8] = b"{\"archive\":1}\n";
const RUNS: &str = "runs";
const INDEX: &str = "index";

/// The folder a run sits in: the date its id starts with (`YYYYMMDD`), so
/// a fold of today's runs rewrites today's folder, not a growing one.
pub fn day(run: &str) -> &str {
    match run.get(..8) {
        Some(d) if d.bytes().all(|b| b.is_ascii_digit()) => d,
        _ => "other",
    }
}

/// The archive at a commit: every folded run's tip, and the index files.
#[derive(Debug, Default, Clone)]
pub struct Archive {
    pub runs: BTreeMap<String, ObjectId>,
    /// Day → the blob of its index rows.
    pub index: BTreeMap<String, ObjectId>,
}

pub fn read(db: &GitDb, commit: Option<ObjectId>) -> Result<Archive> {
    let Some(commit) = commit else {
        return Ok(Archive::default());
    };
    let root = db.tree(db.commit_info(commit)?.tree)?;
    let mut out = Archive::default();
    for e in root.iter() {
        match (e.name.as_str(), e.is_tree) {
            (RUNS, true) => {
                for d in db.tree(e.oid)?.iter().filter(|d| d.is_tree) {
                    for r in db.tree(d.oid)?.iter().filter(|r| r.is_link) {
                        out.runs.insert(r.name.clone(), r.oid);
                    }
                }
            }
            (INDEX, true) => {
                for f in db.tree(e.oid)?.iter().filter(|f| !f.is_tree) {
                    let day = f.name.strip_suffix(".json").unwrap_or(&f.name);
                    out.index.insert(day.to_string(), f.oid);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The day folders of an archive commit: day → the tree of its runs.
pub fn days(db: &GitDb, commit: ObjectId) -> Result<BTreeMap<String, ObjectId>> {
    let root = db.tree(db.commit_info(commit)?.tree)?;
    let Some(runs) = root.iter().find(|e| e.is_tree && e.name == RUNS) else {
        return Ok(BTreeMap::new());
    };
    Ok(db
        .tree(runs.oid)?
        .iter()
        .filter(|d| d.is_tree)
        .map(|d| (d.name.clone(), d.oid))
        .collect())
}

/// The runs of one day folder: run id → tip commit.
pub fn day_runs(db: &GitDb, folder: ObjectId) -> Result<BTreeMap<String, ObjectId>> {
    Ok(db
        .tree(folder)?
        .iter()
        .filter(|r| r.is_link)
        .map(|r| (r.name.clone(), r.oid))
        .collect())
}

/// One folded run's tip, found by its day folder (three small trees).
pub fn lookup(db: &GitDb, commit: ObjectId, run: &str) -> Result<Option<ObjectId>> {
    let root = db.tree(db.commit_info(commit)?.tree)?;
    let Some(runs) = root.iter().find(|e| e.is_tree && e.name == RUNS) else {
        return Ok(None);
    };
    let days = db.tree(runs.oid)?;
    let Some(d) = days.iter().find(|e| e.is_tree && e.name == day(run)) else {
        return Ok(None);
    };
    Ok(db
        .tree(d.oid)?
        .iter()
        .find(|e| e.is_link && e.name == run)
        .map(|e| e.oid))
}

/// Writes the tree of an archive: only the day folders in `touched` are
/// rewritten; the others are taken from `base` as they are.
pub fn write_tree(
    db: &GitDb,
    base: Option<ObjectId>,
    archive: &Archive,
    touched: &std::collections::BTreeSet<String>,
) -> Result<ObjectId> {
    let base_root = match base {
        Some(commit) => Some(db.tree(db.commit_info(commit)?.tree)?),
        None => None,
    };
    let base_folder = |name: &str| -> Result<BTreeMap<String, TreeEntry>> {
        let Some(root) = &base_root else {
            return Ok(BTreeMap::new());
        };
        match root.iter().find(|e| e.is_tree && e.name == name) {
            Some(e) => Ok(db
                .tree(e.oid)?
                .iter()
                .map(|x| (x.name.clone(), x.clone()))
                .collect()),
            None => Ok(BTreeMap::new()),
        }
    };
    let mut days = base_folder(RUNS)?;
    let mut by_day: BTreeMap<&str, Vec<TreeEntry>> = BTreeMap::new();
    for (run, commit) in &archive.runs {
        if touched.contains(day(run)) {
            by_day
                .entry(day(run))
                .or_default()
                .push(TreeEntry::link(run.clone(), *commit));
        }
    }
    for d in touched {
        match by_day.remove(d.as_str()) {
            Some(entries) => {
                days.insert(
                    d.clone(),
                    TreeEntry::tree(d.clone(), db.write_tree(&entries)?),
                );
            }
            None => {
                days.remove(d);
            }
        }
    }
    let mut index = base_folder(INDEX)?;
    for d in touched {
        let name = format!("{d}.json");
        match archive.index.get(d) {
            Some(blob) => {
                index.insert(name.clone(), TreeEntry::blob(name, *blob));
            }
            None => {
                index.remove(&name);
            }
        }
    }
    let days: Vec<TreeEntry> = days.into_values().collect();
    let index: Vec<TreeEntry> = index.into_values().collect();
    let root = vec![
        TreeEntry::blob(MARKER, db.write_blob(MARKER_CONTENT)?),
        TreeEntry::tree(RUNS, db.write_tree(&days)?),
        TreeEntry::tree(INDEX, db.write_tree(&index)?),
    ];
    db.write_tree(&root)
}

/// Checks an archive commit's tree is of a shape this mlops knows.
pub fn check_marker(db: &GitDb, commit: ObjectId) -> Result<()> {
    let root = db.tree(db.commit_info(commit)?.tree)?;
    match root.iter().find(|e| e.name == MARKER && !e.is_tree) {
        Some(m) if m.oid == GitDb::blob_id(MARKER_CONTENT) => Ok(()),
        _ => Err(Error::invalid_with_hint(
            format!("`{REF}` is not in a format this mlops knows"),
            "upgrade mlops",
        )),
    }
}
