//! `mlops verify`: proof that no record was altered (docs/reliability.md).
//!
//! Every chain under `refs/mlops/` is walked once ([`chain`]): each record
//! hashes to its name and is canonical, each commit adds exactly the record
//! its trailer names, `prev` and `created_at` follow the chain, nothing is
//! removed or rewritten. Then what no single chain can show: links between
//! records resolve ([`links`]) — an error when the target's entity is here,
//! a warning with a `mlops sync` hint when it was not fetched; the reflog
//! shows no rewind; no version string is claimed by two records; and every
//! head pinned by the newest checkpoint (or one given with `--checkpoint`) is
//! still in its chain, which is what catches a consistent rewrite, a
//! truncation or a deleted ref.

mod archive;
pub mod chain;
pub mod links;
mod model;
pub mod signatures;

use std::collections::{BTreeMap, HashMap};

use gix::ObjectId;
use serde::Serialize;

use crate::checkpoint::{self, Pinned};
use crate::error::Result;
use crate::record;
use crate::store::{Entity, Store, REF_ROOT};

#[derive(Debug, Serialize)]
pub struct EntityCheck {
    pub entity: String,
    pub commits: usize,
    /// Commits checked by a tree-to-tree diff rather than by their tree id.
    pub diffed: usize,
    pub records: usize,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CheckpointUse {
    pub id: String,
    pub created_at: String,
    pub heads: usize,
    /// Where it came from: `refs/mlops/checkpoints` or the file given.
    pub source: String,
}

#[derive(Debug, Serialize)]
pub struct Verification {
    pub entities: Vec<EntityCheck>,
    pub records: usize,
    pub checkpoint: Option<CheckpointUse>,
    pub ok: bool,
}

pub struct Options<'a> {
    pub only: Option<&'a Entity>,
    /// A checkpoint kept outside the repository.
    pub checkpoint: Option<Pinned>,
    pub checkpoint_source: Option<String>,
}

/// The display name of a chain's ref: `model/fraud`, or `checkpoints`.
fn display(refname: &str) -> String {
    let rest = refname.strip_prefix(REF_ROOT).unwrap_or(refname);
    match rest.split_once('/') {
        Some((kind, name)) => match crate::store::EntityKind::parse(kind) {
            Some(k) => format!("{}/{name}", k.singular()),
            None => rest.to_string(),
        },
        None => rest.to_string(),
    }
}

pub fn verify(store: &Store, opts: Options) -> Result<Verification> {
    let db = store.db();
    let all: BTreeMap<String, ObjectId> = db.refs_with_prefix(REF_ROOT)?.into_iter().collect();
    // Folded runs are checked from the tips the archive names; a run that
    // also has a ref (amended since it was folded) from its ref, which must
    // descend from the folded tip.
    let archive_tip = all.get(crate::store::archive::REF).copied();
    let folded = crate::store::archive::read(db, archive_tip)?.runs;
    let mut chains: BTreeMap<String, ObjectId> = all
        .iter()
        .filter(|(r, _)| r.as_str() != crate::store::archive::REF)
        .map(|(r, t)| (r.clone(), *t))
        .collect();
    let mut folded_problems: Vec<(String, String)> = Vec::new();
    for (run, commit) in &folded {
        let refname = format!("{REF_ROOT}runs/{run}");
        match chains.get(&refname) {
            None => {
                chains.insert(refname, *commit);
            }
            Some(live) if db.is_ancestor(*commit, *live)? => {}
            Some(live) => folded_problems.push((
                refname,
                format!(
                    "its ref ({}) does not descend from the tip the archive holds ({})",
                    &live.to_string()[..12],
                    &commit.to_string()[..12]
                ),
            )),
        }
    }
    let selected: Vec<(String, ObjectId)> = match opts.only {
        Some(e) => chains
            .get(&e.refname())
            .map(|t| vec![(e.refname(), *t)])
            .unwrap_or_default(),
        None => chains.into_iter().collect(),
    };
    let common = db.common_dir();
    let mut checks: Vec<EntityCheck> = Vec::new();
    let mut facts: HashMap<String, chain::ChainFacts> = HashMap::new();
    let shared = db.shared();
    let check = |db: &crate::store::GitDb, refname: &String, tip: &ObjectId| {
        let mut f = chain::check(db, &shared, *tip)?;
        let reflog = chain::reflog_problems(&common, refname, &f.commits);
        f.problems.extend(reflog);
        Ok::<_, crate::error::Error>((refname.clone(), f))
    };
    // Many small chains (one per run) are checked on every core; one long
    // chain parallelises inside `chain::check` instead.
    let checked: Vec<(String, chain::ChainFacts)> = if selected.len() < 64 {
        selected
            .iter()
            .map(|(r, t)| check(db, r, t))
            .collect::<Result<_>>()?
    } else {
        use rayon::prelude::*;
        selected
            .par_iter()
            .map_init(|| shared.open(), |db, (r, t)| check(db, r, t))
            .collect::<Result<_>>()?
    };
    facts.extend(checked);
    let mut extra: HashMap<String, (Vec<String>, Vec<String>)> = HashMap::new();
    for (r, p) in folded_problems {
        extra.entry(r).or_default().0.push(p);
    }
    if let (Some(tip), None) = (archive_tip, opts.only) {
        let runs_prefix = format!("{REF_ROOT}runs/");
        let rows: HashMap<String, (ObjectId, Option<[u8; 32]>)> = selected
            .iter()
            .filter_map(|(r, t)| {
                let run = r.strip_prefix(&runs_prefix)?;
                Some((run.to_string(), (*t, facts.get(r)?.row)))
            })
            .collect();
        let problems = archive::check(store, tip, &rows)?;
        extra
            .entry(crate::store::archive::REF.to_string())
            .or_default()
            .0
            .extend(problems);
    }
    // A run is filed under its own id: a run record under another run's ref
    // (or archive entry) would be shown as that run.
    let runs_prefix = format!("{REF_ROOT}runs/");
    for (refname, f) in &facts {
        if let Some(run) = refname.strip_prefix(&runs_prefix) {
            for id in &f.run_ids {
                if id != run {
                    extra
                        .entry(refname.clone())
                        .or_default()
                        .0
                        .push(format!("holds the record of run `{id}`, not of `{run}`"));
                }
            }
        }
    }
    // Links: the target must be in the entity the record names, when that
    // entity is here; otherwise it may simply not have been fetched.
    let mut link_problems: HashMap<String, (Vec<String>, Vec<String>)> = extra;
    for (refname, f) in &facts {
        for l in &f.links {
            let target_ref = l.target_ref.clone().unwrap_or_else(|| refname.clone());
            let holder = facts.get(&target_ref);
            let (problems, warnings) = link_problems.entry(refname.clone()).or_default();
            match holder {
                Some(h) if h.records.contains(&l.target) => {}
                Some(_) => problems.push(format!(
                    "record {} links `{}` to {}, which `{}` does not hold",
                    record::short(&l.from),
                    l.field,
                    record::short(&l.target),
                    display(&target_ref)
                )),
                None if all.contains_key(&target_ref) => {}
                None => warnings.push(format!(
                    "record {} links `{}` to {} in `{}`, which is not in this repository (run `mlops sync` to fetch it)",
                    record::short(&l.from),
                    l.field,
                    record::short(&l.target),
                    display(&target_ref)
                )),
            }
        }
    }
    // A version string claimed by two records that no supersede settled.
    for (refname, f) in &facts {
        if !refname.starts_with(&format!("{REF_ROOT}models/")) || f.model_versions.len() < 2 {
            continue;
        }
        let name = &refname[format!("{REF_ROOT}models/").len()..];
        let history = store.history_of_ref(refname)?;
        if let Ok(state) = crate::registry::state::ModelState::from_history(name, &history) {
            for c in &state.conflicts {
                link_problems
                    .entry(refname.clone())
                    .or_default()
                    .0
                    .push(c.describe(name));
            }
        }
    }
    // Checkpoints: the one given, else the newest recorded here.
    let (pinned, source) = match opts.checkpoint {
        Some(p) => (Some(p), opts.checkpoint_source.unwrap_or_default()),
        None => match checkpoint::latest(store) {
            Ok(p) => (p, checkpoint::REF.to_string()),
            Err(e) => {
                link_problems
                    .entry(checkpoint::REF.to_string())
                    .or_default()
                    .0
                    .push(format!("the newest checkpoint cannot be read: {e}"));
                (None, String::new())
            }
        },
    };
    if let Some(p) = &pinned {
        let short = record::short(&p.id).to_string();
        for head in &p.heads {
            if opts.only.is_some_and(|e| e.refname() != head.refname) {
                continue;
            }
            let problem = match facts.get(&head.refname) {
                None if head.refname == crate::store::archive::REF => {
                    let pinned = ObjectId::from_hex(head.commit.as_bytes()).ok();
                    let kept = match (pinned, archive_tip) {
                        (Some(p), Some(t)) => db.has_object(p) && db.is_ancestor(p, t)?,
                        _ => false,
                    };
                    (!kept).then(|| format!(
                        "the runs archive no longer contains commit {} pinned by checkpoint {short}: it was rewritten or truncated",
                        &head.commit[..12.min(head.commit.len())]
                    ))
                }
                None => Some(format!(
                    "the ref was deleted since checkpoint {short} pinned it at commit {}",
                    &head.commit[..12.min(head.commit.len())]
                )),
                Some(f) => {
                    let commit = ObjectId::from_hex(head.commit.as_bytes()).ok();
                    let in_chain = commit.is_some_and(|c| f.commits.contains(&c));
                    let has_record = head.record.as_ref().is_none_or(|r| f.records.contains(r));
                    (!in_chain || !has_record).then(|| format!(
                        "its history no longer contains commit {} (record {}) pinned by checkpoint {short}: it was rewritten or truncated",
                        &head.commit[..12.min(head.commit.len())],
                        head.record.as_deref().map(record::short).unwrap_or("-")
                    ))
                }
            };
            if let Some(p) = problem {
                link_problems
                    .entry(head.refname.clone())
                    .or_default()
                    .0
                    .push(p);
            }
        }
    }
    let mut names: Vec<String> = facts.keys().cloned().collect();
    if archive_tip.is_some() && opts.only.is_none() {
        names.push(crate::store::archive::REF.to_string());
    }
    for r in link_problems.keys() {
        if !facts.contains_key(r) {
            names.push(r.clone());
        }
    }
    names.sort();
    names.dedup();
    for refname in names {
        let f = facts.remove(&refname).unwrap_or_default();
        let (mut problems, mut warnings) = (f.problems, f.warnings);
        if let Some((p, w)) = link_problems.remove(&refname) {
            problems.extend(p);
            warnings.extend(w);
        }
        checks.push(EntityCheck {
            entity: display(&refname),
            commits: f.commits.len(),
            diffed: f.diffed,
            records: f.records.len(),
            problems,
            warnings,
        });
    }
    let ok = checks.iter().all(|c| c.problems.is_empty());
    let records = checks.iter().map(|c| c.records).sum();
    Ok(Verification {
        entities: checks,
        records,
        checkpoint: pinned.map(|p| CheckpointUse {
            id: p.id.clone(),
            created_at: p.created_at.clone(),
            heads: p.heads.len(),
            source,
        }),
        ok,
    })
}
