//! The proof of one chain: every commit of a ref's history, parents before
//! children, compared with its parents tree to tree.
//!
//! A commit with one parent must add exactly one record — the one its
//! `Mlops-Record:` trailer names, whose `prev` is the record its parent's
//! trailer names and whose `created_at` is not earlier than that record's —
//! plus any attachments, and must remove and rewrite nothing. A merge must
//! hold exactly the union of its parents and name one of their newest
//! records. The first commit adds one record with no `prev`. By induction the
//! tip holds exactly the records of its history, each checked once (hash,
//! canonical form, kind) when the commit that added it is checked. Equal
//! subtrees are skipped unread, so the work is what each commit wrote: linear
//! in the history, whatever its length.

use std::collections::{HashMap, HashSet};

use gix::ObjectId;

use crate::error::Result;
use crate::record::{self, Record};
use crate::store::{layout, trailer, GitDb};

/// A link from a record to a record of another (or the same) entity.
#[derive(Debug, Clone)]
pub struct Link {
    pub from: String,
    pub field: &'static str,
    /// The ref the target must be in, when the record says.
    pub target_ref: Option<String>,
    pub target: String,
}

/// What one chain's check found.
#[derive(Debug, Default)]
pub struct ChainFacts {
    pub commits: HashSet<ObjectId>,
    pub records: HashSet<String>,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub links: Vec<Link>,
    /// `(kind, record)` of every record, for checks that need the content
    /// of a few kinds (model versions, for conflicts).
    pub model_versions: Vec<(String, String)>,
}

/// Per commit: the record its trailer names and that record's time.
#[derive(Clone, Default)]
struct Newest {
    id: Option<String>,
    created_at: Option<String>,
}

fn short_commit(c: &ObjectId) -> String {
    c.to_string()[..12].to_string()
}

pub fn check(db: &GitDb, tip: ObjectId) -> Result<ChainFacts> {
    let mut facts = ChainFacts::default();
    let commits = db.commits(tip)?;
    let infos: HashMap<ObjectId, crate::store::CommitInfo> = commits.into_iter().collect();
    facts.commits = infos.keys().copied().collect();
    let mut newest: HashMap<ObjectId, Newest> = HashMap::new();
    for id in topological(&infos, tip) {
        let info = &infos[&id];
        let c = short_commit(&id);
        check_root(db, info.tree, &c, &mut facts)?;
        let named = trailer(&info.message);
        if info.parents.len() > 1 {
            let n = check_merge(db, &id, info, &infos, &newest, named, &mut facts)?;
            newest.insert(id, n);
            continue;
        }
        let parent = info.parents.first();
        let before = parent
            .and_then(|p| newest.get(p))
            .cloned()
            .unwrap_or_default();
        let delta = layout::diff(db, parent.map(|p| infos[p].tree), info.tree)?;
        for f in &delta.removed {
            facts.problems.push(format!(
                "commit {c} removes {} `{}`",
                what(&f.folder),
                id_of(&f.name)
            ));
        }
        for (old, _) in &delta.changed {
            facts.problems.push(format!(
                "commit {c} rewrites {} `{}`",
                what(&old.folder),
                id_of(&old.name)
            ));
        }
        let mut added: Vec<Record> = Vec::new();
        for f in &delta.added {
            let bytes = db.blob(f.oid)?;
            if f.folder == layout::ATTACHMENTS {
                if record::hex_of(&record::content_id(&bytes)) != f.name {
                    facts.problems.push(format!(
                        "commit {c}: attachment `{}` does not hash to its name",
                        f.name
                    ));
                }
                continue;
            }
            let Some(hex) = f.name.strip_suffix(".json") else {
                facts.problems.push(format!(
                    "commit {c}: `{}/{}` is not named `<sha256>.json`",
                    f.folder, f.name
                ));
                continue;
            };
            match Record::from_bytes(&bytes, Some(hex)) {
                Ok(r) if r.kind() != f.folder => facts.problems.push(format!(
                    "record {}: a `{}` record filed under `{}`",
                    record::short(hex),
                    r.kind(),
                    f.folder
                )),
                Ok(r) => added.push(r),
                Err(e) => facts.problems.push(format!("commit {c}: {e}")),
            }
        }
        let record = match added.len() {
            1 => added.pop().expect("one record"),
            0 if delta.removed.is_empty() && delta.changed.is_empty() => {
                facts.problems.push(format!("commit {c} adds no record"));
                newest.insert(id, before);
                continue;
            }
            0 => {
                newest.insert(id, before);
                continue;
            }
            n => {
                facts
                    .problems
                    .push(format!("commit {c} adds {n} records (a commit adds one)"));
                for r in &added {
                    note_record(r, &mut facts);
                }
                newest.insert(id, before);
                continue;
            }
        };
        if named.as_deref() != Some(record.id()) {
            facts.problems.push(format!(
                "commit {c}: its `Mlops-Record:` trailer names {}, but the commit adds record {}",
                named.as_deref().map(record::short).unwrap_or("nothing"),
                record.short_id()
            ));
        }
        if record.prev() != before.id.as_deref() {
            facts.problems.push(match (record.prev(), &before.id) {
                (Some(p), Some(b)) => format!(
                    "record {} names {} as its previous record, but the record before it is {}",
                    record.short_id(),
                    record::short(p),
                    record::short(b)
                ),
                (Some(p), None) => format!(
                    "record {} names a previous record {} but is the first of its history",
                    record.short_id(),
                    record::short(p)
                ),
                (None, Some(b)) => format!(
                    "record {} names no previous record, but follows {}",
                    record.short_id(),
                    record::short(b)
                ),
                (None, None) => unreachable!("equal"),
            });
        }
        if let Some(t0) = &before.created_at {
            if record.created_at() < t0.as_str() {
                facts.problems.push(format!(
                    "record {} was made at {}, before the record it follows ({t0})",
                    record.short_id(),
                    record.created_at()
                ));
            }
        }
        note_record(&record, &mut facts);
        newest.insert(
            id,
            Newest {
                id: Some(record.id().to_string()),
                created_at: Some(record.created_at().to_string()),
            },
        );
    }
    Ok(facts)
}

fn what(folder: &str) -> String {
    if folder == layout::ATTACHMENTS {
        "attachment".into()
    } else {
        format!("`{folder}` record")
    }
}

fn id_of(name: &str) -> &str {
    record::short(name.strip_suffix(".json").unwrap_or(name))
}

/// Only folders and the layout marker belong at the top of a record tree.
fn check_root(db: &GitDb, tree: ObjectId, c: &str, facts: &mut ChainFacts) -> Result<()> {
    let entries = db.read_tree(tree)?;
    for e in &entries {
        if !e.is_tree && e.name != layout::MARKER {
            facts.problems.push(format!(
                "commit {c} has an unexpected file `{}` at the top of its tree",
                e.name
            ));
        }
    }
    match layout::layout_of(db, &entries) {
        Ok(l) if l > layout::LAYOUT => facts.problems.push(format!(
            "commit {c} is in layout {l}, newer than this mlops knows: upgrade mlops to verify it"
        )),
        Ok(_) => {}
        Err(e) => facts.problems.push(format!("commit {c}: {e}")),
    }
    Ok(())
}

fn check_merge(
    db: &GitDb,
    id: &ObjectId,
    info: &crate::store::CommitInfo,
    infos: &HashMap<ObjectId, crate::store::CommitInfo>,
    newest: &HashMap<ObjectId, Newest>,
    named: Option<String>,
    facts: &mut ChainFacts,
) -> Result<Newest> {
    let c = short_commit(id);
    for (i, p) in info.parents.iter().enumerate() {
        let delta = layout::diff(db, Some(infos[p].tree), info.tree)?;
        for f in &delta.removed {
            facts.problems.push(format!(
                "merge commit {c} drops {} `{}`",
                what(&f.folder),
                id_of(&f.name)
            ));
        }
        for (old, _) in &delta.changed {
            facts.problems.push(format!(
                "merge commit {c} rewrites {} `{}`",
                what(&old.folder),
                id_of(&old.name)
            ));
        }
        if i > 0 {
            continue;
        }
        // What the merge adds to its first parent must come from another.
        for f in &delta.added {
            let mut found = false;
            for other in &info.parents[1..] {
                if layout::find(db, infos[other].tree, &f.folder, &f.name)? == Some(f.oid) {
                    found = true;
                    break;
                }
            }
            if !found {
                facts.problems.push(format!(
                    "merge commit {c} adds {} `{}`, which none of its parents holds",
                    what(&f.folder),
                    id_of(&f.name)
                ));
            }
        }
    }
    let candidates: Vec<&Newest> = info.parents.iter().filter_map(|p| newest.get(p)).collect();
    match candidates.iter().find(|n| n.id.is_some() && n.id == named) {
        Some(n) => Ok((*n).clone()),
        None => {
            facts.problems.push(format!(
                "merge commit {c}: its `Mlops-Record:` trailer names {}, which is not the newest record of either side",
                named.as_deref().map(record::short).unwrap_or("nothing")
            ));
            Ok(candidates
                .into_iter()
                .max_by(|a, b| a.created_at.cmp(&b.created_at))
                .cloned()
                .unwrap_or_default())
        }
    }
}

/// Parents before children, from the tip down (iterative: histories of
/// 100,000 commits must not overflow the stack).
fn topological(
    infos: &HashMap<ObjectId, crate::store::CommitInfo>,
    tip: ObjectId,
) -> Vec<ObjectId> {
    let mut order = Vec::with_capacity(infos.len());
    let mut done: HashSet<ObjectId> = HashSet::with_capacity(infos.len());
    let mut stack: Vec<(ObjectId, bool)> = vec![(tip, false)];
    while let Some((id, expanded)) = stack.pop() {
        if done.contains(&id) {
            continue;
        }
        if expanded {
            done.insert(id);
            order.push(id);
            continue;
        }
        stack.push((id, true));
        if let Some(info) = infos.get(&id) {
            for p in info.parents.iter().rev() {
                if !done.contains(p) && infos.contains_key(p) {
                    stack.push((*p, false));
                }
            }
        }
    }
    order
}

/// Remembers a record and the links it makes to other records.
fn note_record(r: &Record, facts: &mut ChainFacts) {
    facts.records.insert(r.id().to_string());
    if r.kind() == "model-version" {
        if let Some(v) = r.str_field("version") {
            facts
                .model_versions
                .push((v.to_string(), r.id().to_string()));
        }
    }
    facts.links.extend(super::links::of(r));
}

/// Every move of the ref that its reflog remembers must be in its history:
/// a ref set back to an older commit (dropping the records after it) or onto
/// a rewritten chain leaves a reflog line naming a commit that is not.
pub fn reflog_problems(
    common_dir: &std::path::Path,
    refname: &str,
    commits: &HashSet<ObjectId>,
) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(common_dir.join("logs").join(refname)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.split(' ');
        let (Some(old), Some(new)) = (parts.next(), parts.next()) else {
            continue;
        };
        let when = line
            .split_once('>')
            .map(|(_, rest)| rest.split('\t').next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        for (label, hex) in [("from", old), ("to", new)] {
            let Ok(oid) = ObjectId::from_hex(hex.as_bytes()) else {
                continue;
            };
            if oid.is_null() || commits.contains(&oid) {
                continue;
            }
            out.push(format!(
                "the reflog shows the ref moved {label} {}, which is not in its history now (rewritten or set back; reflog entry at {when})",
                &hex[..12.min(hex.len())]
            ));
            break;
        }
    }
    out
}
