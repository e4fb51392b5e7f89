//! The proof of one chain: every commit of a ref's history compared with its
//! parents tree to tree.
//!
//! A commit with one parent must add exactly one record — the one its
//! `Mlops-Record:` trailer names, whose `prev` is the record its parent's
//! trailer names and whose `created_at` is not earlier than that record's —
//! plus any attachments, and must remove and rewrite nothing. A merge must
//! hold exactly the union of its parents and name one of their newest
//! records. The first commit adds one record with no `prev`. By induction the
//! tip holds exactly the records of its history, each checked once (hash,
//! canonical form, kind) when the commit that added it is checked.
//!
//! Every file of the tip is checked once, on every core. Then the chain is
//! walked forward: a commit that adds exactly the record its trailer names is
//! proven so by its tree id, computed from an in-memory copy of its parent's
//! tree ([`super::model`]) without reading any tree; any other commit is
//! diffed tree to tree (equal subtrees skipped unread), which names what it
//! removed, rewrote or added. Both are linear in the history.

use std::collections::{HashMap, HashSet};

use gix::ObjectId;
use rayon::prelude::*;

use super::model::Model;
use crate::error::Result;
use crate::record::{self, Record};
use crate::store::{layout, trailer, CommitInfo, GitDb, SharedDb};

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
    /// `(version, record)` of every model version, for conflicts.
    pub model_versions: Vec<(String, String)>,
    /// The `run_id` of every run record (a run must be filed under its id).
    pub run_ids: Vec<String>,
    /// The digest of a run's row of the runs index, as its records at the
    /// tip give it (a digest: 100,000 rows would not fit the memory budget).
    pub row: Option<[u8; 32]>,
    /// Commits that could not be proven by their tree id and were diffed
    /// tree to tree (merges, layout changes, and anything wrong).
    pub diffed: usize,
}

/// What the chain walk needs of a record, kept instead of the record itself
/// so that 100,000 of them fit in a few MiB.
#[derive(Debug, Clone)]
struct Facts {
    id: String,
    prev: Option<String>,
    created_at: String,
    version: Option<String>,
    run_id: Option<String>,
    links: Vec<Link>,
    /// The ids (hex) this record mentions, some of them its attachments.
    mentions: Vec<String>,
}

impl Facts {
    fn of(r: &Record) -> Facts {
        let mut mentions = Vec::new();
        mentioned_ids(r.value(), &mut mentions);
        Facts {
            mentions,
            id: r.id().to_string(),
            prev: r.prev().map(str::to_string),
            created_at: r.created_at().to_string(),
            version: (r.kind() == "model-version")
                .then(|| r.str_field("version").map(str::to_string))
                .flatten(),
            run_id: (r.kind() == "run")
                .then(|| r.str_field("run_id").map(str::to_string))
                .flatten(),
            links: super::links::of(r),
        }
    }
}

/// Every `sha256:<hex>` string inside a JSON value.
fn mentioned_ids(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => {
            if let Some(hex) = s.strip_prefix(record::ID_PREFIX) {
                if hex.len() == 64 {
                    out.push(hex.to_string());
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| mentioned_ids(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| mentioned_ids(x, out)),
        _ => {}
    }
}

/// One file of the tip's tree, checked on its own (hash, canonical form,
/// kind): what the fast path may take without reading it again.
struct TipFile {
    file: layout::File,
    /// `Some` for a valid record; attachments that hash right are `valid`.
    record: Option<Facts>,
    valid: bool,
    /// A run's records, kept to derive its index row once, here.
    run_record: Option<Record>,
    /// What is wrong inside a well-formed record (an approval whose
    /// signature does not verify).
    problem: Option<String>,
}

fn check_tip_file(db: &GitDb, file: layout::File) -> Result<TipFile> {
    let bytes = db.blob(file.oid)?;
    if file.folder == layout::ATTACHMENTS {
        let valid = record::hex_of(&record::content_id(&bytes)) == file.name;
        return Ok(TipFile {
            file,
            record: None,
            valid,
            run_record: None,
            problem: None,
        });
    }
    let parsed = file
        .name
        .strip_suffix(".json")
        .and_then(|hex| Record::from_bytes(&bytes, Some(hex)).ok())
        .filter(|r| r.kind() == file.folder);
    let record = parsed.as_ref().map(Facts::of);
    let problem = parsed
        .as_ref()
        .filter(|r| r.kind() == crate::registry::records::APPROVAL)
        .and_then(|r| {
            crate::registry::approvals::integrity(r)
                .map(|why| format!("approval {}: {why}", r.id()))
        });
    let run_record = parsed.filter(|r| r.kind() == "run" || r.kind() == "run-amendment");
    Ok(TipFile {
        valid: record.is_some(),
        file,
        record,
        run_record,
        problem,
    })
}

/// The tip's files by name, for the fast path.
struct Tip {
    files: Vec<TipFile>,
    records: HashMap<String, usize>,
    attachments: HashMap<String, usize>,
}

/// One commit compared with its parents: what the independent part found.
struct Compared {
    problems: Vec<String>,
    /// The records it adds (a single-parent or first commit).
    added: Vec<Facts>,
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

pub fn check(db: &GitDb, shared: &SharedDb, tip: ObjectId) -> Result<ChainFacts> {
    let mut facts = ChainFacts::default();
    let infos: HashMap<ObjectId, CommitInfo> = db.commits(tip)?.into_iter().collect();
    facts.commits = infos.keys().copied().collect();
    let order = topological(&infos, tip);
    // Every file at the tip, checked once, on every core.
    let files = layout::files(db, infos[&tip].tree)?;
    let checked: Vec<TipFile> = if files.len() < 64 {
        files
            .into_iter()
            .map(|f| check_tip_file(db, f))
            .collect::<Result<_>>()?
    } else {
        files
            .into_par_iter()
            .map_init(|| shared.open(), |db, f| check_tip_file(db, f))
            .collect::<Result<_>>()?
    };
    let mut checked = checked;
    facts
        .problems
        .extend(checked.iter_mut().filter_map(|f| f.problem.take()));
    let run_records: Vec<Record> = checked
        .iter_mut()
        .filter_map(|f| f.run_record.take())
        .collect();
    if run_records.iter().any(|r| r.kind() == "run") {
        let history = crate::store::History::from_records(run_records);
        facts.row =
            crate::run::index::Row::from_history(&history, tip.to_string()).map(|r| row_digest(&r));
    }
    let mut at_tip = Tip {
        records: HashMap::new(),
        attachments: HashMap::new(),
        files: checked,
    };
    for (i, f) in at_tip.files.iter().enumerate() {
        match &f.record {
            Some(r) => {
                at_tip.records.insert(r.id.clone(), i);
            }
            None if f.file.folder == layout::ATTACHMENTS => {
                at_tip.attachments.insert(f.file.name.clone(), i);
            }
            None => {}
        }
    }
    let mut model: Option<Model> = None;
    let mut newest: HashMap<ObjectId, Newest> = HashMap::new();
    for id in &order {
        let info = &infos[id];
        let named = trailer(&info.message);
        let (problems, added) = match fast(db, &mut model, id, info, named.as_deref(), &at_tip)? {
            Some(record) => (Vec::new(), vec![record]),
            None => {
                let c = compare(db, id, &infos)?;
                facts.diffed += 1;
                model = None;
                (c.problems, c.added)
            }
        };
        facts.problems.extend(problems);
        let n = if info.parents.len() > 1 {
            merge_newest(id, info, &newest, named, &mut facts)
        } else {
            let before = info
                .parents
                .first()
                .and_then(|p| newest.get(p))
                .cloned()
                .unwrap_or_default();
            follow(id, before, named, added, &mut facts)
        };
        newest.insert(*id, n);
    }
    Ok(facts)
}

/// Proves a single-parent commit adds exactly the record its trailer names
/// (and that record's new attachments) by the tree id it must then have;
/// `None` when it cannot (the diff then says what is wrong, if anything).
fn fast(
    db: &GitDb,
    model: &mut Option<Model>,
    id: &ObjectId,
    info: &CommitInfo,
    named: Option<&str>,
    tip: &Tip,
) -> Result<Option<Facts>> {
    if info.parents.len() > 1 {
        return Ok(None);
    }
    let Some(&i) = named.and_then(|n| tip.records.get(n)) else {
        return Ok(None);
    };
    let entry = &tip.files[i];
    let record = entry.record.as_ref().expect("indexed records are valid");
    let mut m = match (info.parents.first(), model.take()) {
        (None, _) => Model::empty(),
        (Some(p), Some(m)) if m.commit == *p => m,
        // The walk moved to another branch: start from the parent's tree.
        (Some(p), _) => Model::load(db, *p, db.commit_info(*p)?.tree)?,
    };
    if m.contains(&entry.file.folder, &entry.file.name) {
        return Ok(None);
    }
    let mut files = vec![entry.file.clone()];
    for hex in &record.mentions {
        if let Some(&a) = tip.attachments.get(hex) {
            if !tip.files[a].valid {
                return Ok(None);
            }
            if !m.contains(layout::ATTACHMENTS, hex) && !files.iter().any(|f| &f.name == hex) {
                files.push(tip.files[a].file.clone());
            }
        }
    }
    m.append(files)?;
    if m.root_id() != info.tree {
        return Ok(None);
    }
    m.commit = *id;
    *model = Some(m);
    Ok(Some(record.clone()))
}

/// What a row of the runs index is compared by.
pub fn row_digest(row: &crate::run::index::Row) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(serde_json::to_vec(row).unwrap_or_default()).into()
}

/// The sequential step of a single-parent commit: its one record must be
/// the one its trailer names and follow the parent's newest record.
fn follow(
    id: &ObjectId,
    before: Newest,
    named: Option<String>,
    mut added: Vec<Facts>,
    facts: &mut ChainFacts,
) -> Newest {
    let c = short_commit(id);
    let record = match added.len() {
        1 => added.pop().expect("one record"),
        0 => return before,
        n => {
            facts
                .problems
                .push(format!("commit {c} adds {n} records (a commit adds one)"));
            for r in added {
                note_record(r, facts);
            }
            return before;
        }
    };
    let short = record::short(&record.id).to_string();
    if named.as_deref() != Some(record.id.as_str()) {
        facts.problems.push(format!(
            "commit {c}: its `Mlops-Record:` trailer names {}, but the commit adds record {short}",
            named.as_deref().map(record::short).unwrap_or("nothing"),
        ));
    }
    if record.prev != before.id {
        facts.problems.push(match (&record.prev, &before.id) {
            (Some(p), Some(b)) => format!(
                "record {short} names {} as its previous record, but the record before it is {}",
                record::short(p),
                record::short(b)
            ),
            (Some(p), None) => format!(
                "record {short} names a previous record {} but is the first of its history",
                record::short(p)
            ),
            (None, Some(b)) => format!(
                "record {short} names no previous record, but follows {}",
                record::short(b)
            ),
            (None, None) => unreachable!("equal"),
        });
    }
    if let Some(t0) = &before.created_at {
        if record.created_at < *t0 {
            facts.problems.push(format!(
                "record {short} was made at {}, before the record it follows ({t0})",
                record.created_at
            ));
        }
    }
    let n = Newest {
        id: Some(record.id.clone()),
        created_at: Some(record.created_at.clone()),
    };
    note_record(record, facts);
    n
}

/// The independent part of one commit's check: its tree against its
/// parents', and every record and attachment it adds.
fn compare(db: &GitDb, id: &ObjectId, infos: &HashMap<ObjectId, CommitInfo>) -> Result<Compared> {
    let info = &infos[id];
    let c = short_commit(id);
    let mut out = Compared {
        problems: Vec::new(),
        added: Vec::new(),
    };
    check_root(db, info.tree, &c, &mut out.problems)?;
    if info.parents.len() > 1 {
        compare_merge(db, &c, info, infos, &mut out.problems)?;
        return Ok(out);
    }
    let parent = info.parents.first();
    let delta = layout::diff(db, parent.map(|p| infos[p].tree), info.tree)?;
    for f in &delta.removed {
        out.problems.push(format!(
            "commit {c} removes {} `{}`",
            what(&f.folder),
            id_of(&f.name)
        ));
    }
    for (old, _) in &delta.changed {
        out.problems.push(format!(
            "commit {c} rewrites {} `{}`",
            what(&old.folder),
            id_of(&old.name)
        ));
    }
    let mut records = 0;
    for f in &delta.added {
        let bytes = db.blob(f.oid)?;
        if f.folder == layout::ATTACHMENTS {
            if record::hex_of(&record::content_id(&bytes)) != f.name {
                out.problems.push(format!(
                    "commit {c}: attachment `{}` does not hash to its name",
                    f.name
                ));
            }
            continue;
        }
        records += 1;
        let Some(hex) = f.name.strip_suffix(".json") else {
            out.problems.push(format!(
                "commit {c}: `{}/{}` is not named `<sha256>.json`",
                f.folder, f.name
            ));
            continue;
        };
        match Record::from_bytes(&bytes, Some(hex)) {
            Ok(r) if r.kind() != f.folder => out.problems.push(format!(
                "record {}: a `{}` record filed under `{}`",
                record::short(hex),
                r.kind(),
                f.folder
            )),
            Ok(r) => out.added.push(Facts::of(&r)),
            Err(e) => out.problems.push(format!("commit {c}: {e}")),
        }
    }
    if records == 0 && delta.removed.is_empty() && delta.changed.is_empty() {
        out.problems.push(format!("commit {c} adds no record"));
    }
    Ok(out)
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
fn check_root(db: &GitDb, tree: ObjectId, c: &str, problems: &mut Vec<String>) -> Result<()> {
    let entries = db.tree(tree)?;
    for e in entries.iter() {
        if !e.is_tree && e.name != layout::MARKER {
            problems.push(format!(
                "commit {c} has an unexpected file `{}` at the top of its tree",
                e.name
            ));
        }
    }
    match layout::layout_of(db, &entries) {
        Ok(l) if l > layout::LAYOUT => problems.push(format!(
            "commit {c} is in layout {l}, newer than this mlops knows: upgrade mlops to verify it"
        )),
        Ok(_) => {}
        Err(e) => problems.push(format!("commit {c}: {e}")),
    }
    Ok(())
}

/// A merge holds every file of each parent, unchanged, and nothing else.
fn compare_merge(
    db: &GitDb,
    c: &str,
    info: &CommitInfo,
    infos: &HashMap<ObjectId, CommitInfo>,
    problems: &mut Vec<String>,
) -> Result<()> {
    for (i, p) in info.parents.iter().enumerate() {
        let delta = layout::diff(db, Some(infos[p].tree), info.tree)?;
        for f in &delta.removed {
            problems.push(format!(
                "merge commit {c} drops {} `{}`",
                what(&f.folder),
                id_of(&f.name)
            ));
        }
        for (old, _) in &delta.changed {
            problems.push(format!(
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
                problems.push(format!(
                    "merge commit {c} adds {} `{}`, which none of its parents holds",
                    what(&f.folder),
                    id_of(&f.name)
                ));
            }
        }
    }
    Ok(())
}

/// A merge names the newest record of one of its sides.
fn merge_newest(
    id: &ObjectId,
    info: &CommitInfo,
    newest: &HashMap<ObjectId, Newest>,
    named: Option<String>,
    facts: &mut ChainFacts,
) -> Newest {
    let candidates: Vec<&Newest> = info.parents.iter().filter_map(|p| newest.get(p)).collect();
    if let Some(n) = candidates.iter().find(|n| n.id.is_some() && n.id == named) {
        return (*n).clone();
    }
    facts.problems.push(format!(
        "merge commit {}: its `Mlops-Record:` trailer names {}, which is not the newest record of either side",
        short_commit(id),
        named.as_deref().map(record::short).unwrap_or("nothing")
    ));
    candidates
        .into_iter()
        .max_by(|a, b| a.created_at.cmp(&b.created_at))
        .cloned()
        .unwrap_or_default()
}

/// Parents before children, from the tip down (iterative: histories of
/// 100,000 commits must not overflow the stack).
fn topological(infos: &HashMap<ObjectId, CommitInfo>, tip: ObjectId) -> Vec<ObjectId> {
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
fn note_record(r: Facts, facts: &mut ChainFacts) {
    if let Some(v) = r.version {
        facts.model_versions.push((v, r.id.clone()));
    }
    if let Some(run) = r.run_id {
        facts.run_ids.push(run);
    }
    facts.records.insert(r.id);
    facts.links.extend(r.links);
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
