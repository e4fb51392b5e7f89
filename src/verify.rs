//! `mlops verify`: proof that no record was altered.
//!
//! For every entity it walks the whole commit history, not just the tip:
//! every record blob must hash to its file name and be canonical JSON of the
//! kind its folder names; every attachment must hash to its name; every commit
//! must keep all of its parents' records unchanged (append-only — a record
//! rewritten or removed in a later commit is found even if the tip looks
//! consistent); every `prev` must name a record of the same entity. Links to
//! other entities (a model version's run, a run's dataset version) that are
//! not in this repository are reported as warnings, since they may simply not
//! have been fetched.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::error::Result;
use crate::record::{self, Record};
use crate::store::{Entity, Store};

#[derive(Debug, Serialize)]
pub struct EntityCheck {
    pub entity: String,
    pub commits: usize,
    pub records: usize,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Verification {
    pub entities: Vec<EntityCheck>,
    pub records: usize,
    pub ok: bool,
}

pub fn verify(store: &Store, only: Option<&Entity>) -> Result<Verification> {
    let entities = match only {
        Some(e) => vec![e.clone()],
        None => store.entities(None)?,
    };
    let db = store.db();
    let mut all_ids: HashSet<String> = HashSet::new();
    let mut checks = Vec::new();
    let mut links: Vec<(usize, String, String)> = Vec::new();
    for entity in &entities {
        let mut check = EntityCheck {
            entity: entity.to_string(),
            commits: 0,
            records: 0,
            problems: Vec::new(),
            warnings: Vec::new(),
        };
        let Some(tip) = db.read_ref(&entity.refname())? else {
            check.problems.push("the ref does not exist".into());
            checks.push(check);
            continue;
        };
        let commits = db.commits(tip)?;
        check.commits = commits.len();
        let mut listings: HashMap<gix::ObjectId, BTreeMap<String, gix::ObjectId>> = HashMap::new();
        for (id, info) in &commits {
            listings.insert(*id, db.tree_listing(info.tree)?.into_iter().collect());
        }
        // Append-only: each commit keeps every entry of each parent, unchanged.
        for (id, info) in &commits {
            let mine = &listings[id];
            for parent in &info.parents {
                let Some(theirs) = listings.get(parent) else {
                    continue;
                };
                for (path, oid) in theirs {
                    match mine.get(path) {
                        None => check
                            .problems
                            .push(format!("commit {} removes `{path}`", &id.to_string()[..12])),
                        Some(o) if o != oid => check.problems.push(format!(
                            "commit {} rewrites `{path}`",
                            &id.to_string()[..12]
                        )),
                        _ => {}
                    }
                }
            }
        }
        // Every blob ever written on the chain, checked once.
        let mut seen: HashSet<gix::ObjectId> = HashSet::new();
        let mut ids: HashSet<String> = HashSet::new();
        let mut prevs: Vec<(String, String)> = Vec::new();
        for listing in listings.values() {
            for (path, oid) in listing {
                if !seen.insert(*oid) {
                    continue;
                }
                let bytes = db.blob(*oid)?;
                let (folder, file) = path.split_once('/').unwrap_or(("", path));
                if folder == "attachments" {
                    if record::hex_of(&record::content_id(&bytes)) != file {
                        check
                            .problems
                            .push(format!("attachment `{path}` does not hash to its name"));
                    }
                    continue;
                }
                let hex = file.strip_suffix(".json").unwrap_or(file);
                match Record::from_bytes(&bytes, Some(hex)) {
                    Ok(r) => {
                        if r.kind() != folder {
                            check
                                .problems
                                .push(format!("`{path}` holds a `{}` record", r.kind()));
                        }
                        if let Some(p) = r.prev() {
                            prevs.push((r.id().to_string(), p.to_string()));
                        }
                        for link in ["run_record", "version_record", "version"] {
                            if let Some(target) = r
                                .str_field(link)
                                .filter(|t| t.starts_with(record::ID_PREFIX))
                            {
                                links.push((checks.len(), path.clone(), target.to_string()));
                            }
                        }
                        ids.insert(r.id().to_string());
                    }
                    Err(e) => check.problems.push(format!("`{path}`: {e}")),
                }
            }
        }
        for (id, prev) in prevs {
            if !ids.contains(&prev) {
                check.problems.push(format!(
                    "record {} names a previous record {} that is not in its history",
                    record::short(&id),
                    record::short(&prev)
                ));
            }
        }
        check.records = ids.len();
        all_ids.extend(ids);
        checks.push(check);
    }
    for (i, path, target) in links {
        if !all_ids.contains(&target) {
            checks[i].warnings.push(format!(
                "`{path}` links to {target}, which is not in this repository (not fetched?)"
            ));
        }
    }
    let ok = checks.iter().all(|c| c.problems.is_empty());
    let records = checks.iter().map(|c| c.records).sum();
    Ok(Verification {
        entities: checks,
        records,
        ok,
    })
}
