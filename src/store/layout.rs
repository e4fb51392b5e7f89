//! Where records sit in an entity's tree (layout 2, docs/architecture.md).
//!
//! The root of every entity commit's tree holds one folder per record kind,
//! `attachments/` for large payloads, and the marker blob `mlops-layout`.
//! Inside a folder, files are named by their id (`<hex>.json` for records,
//! `<hex>` for attachments) and sharded by the id's hex digits with an
//! adaptive fan-out, as git-notes does: a folder with at most [`LEAF_MAX`]
//! files holds them directly; a bigger one holds sixteen subfolders `0`–`f`,
//! one per next hex digit, each shaped by the same rule. The shape is a pure
//! function of the set of ids, so two clones holding the same records hold
//! the same trees, and an append rewrites one small tree per level (a few
//! KiB at 100,000 records) instead of a folder that grows with the history.
//!
//! Layout 1 (flat `<kind>/<hex>.json`) is read as it is — a flat folder is
//! just a leaf that may be over the limit — and reshaped by the first append.
//! A tree whose marker names a layout newer than this mlops knows is refused
//! for writing, so an older mlops never appends in a shape it cannot keep.

use std::collections::BTreeMap;

use gix::ObjectId;

use super::gitdb::{GitDb, TreeEntry};
use crate::error::{Error, Result};

/// The blob at the root of every tree written in layout 2.
pub const MARKER: &str = "mlops-layout";
pub const LAYOUT: u64 = 2;
pub const MARKER_CONTENT: &[u8] = b"{\"layout\":2}\n";
/// The most files a folder holds before it splits into sixteen.
pub const LEAF_MAX: usize = 64;
pub const ATTACHMENTS: &str = "attachments";

/// One file of an entity's tree: the folder at the root it belongs to (a
/// record kind or `attachments`), its file name and its blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub folder: String,
    pub name: String,
    pub oid: ObjectId,
}

/// The id digits a file is sharded by.
fn key(name: &str) -> &str {
    name.strip_suffix(".json").unwrap_or(name)
}

pub fn digit(name: &str, depth: usize) -> Result<String> {
    key(name)
        .get(depth..depth + 1)
        .filter(|d| d.as_bytes()[0].is_ascii_hexdigit())
        .map(|d| d.to_ascii_lowercase())
        .ok_or_else(|| Error::CorruptRecord {
            id: name.to_string(),
            reason: "a file in a record tree is not named by its id".into(),
        })
}

/// The layout a root tree declares: 1 when it has no marker (the flat layout).
pub fn layout_of(db: &GitDb, root: &[TreeEntry]) -> Result<u64> {
    let Some(marker) = root.iter().find(|e| e.name == MARKER && !e.is_tree) else {
        return Ok(1);
    };
    if marker.oid == GitDb::blob_id(MARKER_CONTENT) {
        return Ok(LAYOUT);
    }
    let bytes = db.blob(marker.oid)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| Error::CorruptRecord {
            id: MARKER.into(),
            reason: "the layout marker is not JSON".into(),
        })?;
    value
        .get("layout")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| Error::CorruptRecord {
            id: MARKER.into(),
            reason: "the layout marker names no layout".into(),
        })
}

/// Refuses to write into a tree this mlops does not know how to keep.
pub fn check_writable(db: &GitDb, root: &[TreeEntry]) -> Result<()> {
    let layout = layout_of(db, root)?;
    if layout > LAYOUT {
        return Err(Error::invalid_with_hint(
            format!("this history is in layout {layout}, written by a newer mlops (this one writes layout {LAYOUT})"),
            "upgrade mlops before writing to this repository",
        ));
    }
    Ok(())
}

/// Adds files to a root tree (or an empty one) and returns the new root.
pub fn insert(db: &GitDb, root: Option<ObjectId>, files: Vec<File>) -> Result<ObjectId> {
    let mut entries = match root {
        Some(r) => db.read_tree(r)?,
        None => Vec::new(),
    };
    check_writable(db, &entries)?;
    let mut by_folder: BTreeMap<String, Vec<(String, ObjectId)>> = BTreeMap::new();
    for f in files {
        by_folder.entry(f.folder).or_default().push((f.name, f.oid));
    }
    for (folder, items) in by_folder {
        let existing = entries
            .iter()
            .find(|e| e.is_tree && e.name == folder)
            .map(|e| e.oid);
        let sub = insert_node(db, existing, 0, items)?;
        set(&mut entries, &folder, sub, true);
    }
    let marker = db.write_blob(MARKER_CONTENT)?;
    set(&mut entries, MARKER, marker, false);
    db.write_tree(&entries)
}

fn set(entries: &mut Vec<TreeEntry>, name: &str, oid: ObjectId, is_tree: bool) {
    entries.retain(|e| e.name != name);
    entries.push(if is_tree {
        TreeEntry::tree(name, oid)
    } else {
        TreeEntry::blob(name, oid)
    });
}

fn insert_node(
    db: &GitDb,
    node: Option<ObjectId>,
    depth: usize,
    mut items: Vec<(String, ObjectId)>,
) -> Result<ObjectId> {
    let mut entries = match node {
        Some(n) => db.read_tree(n)?,
        None => Vec::new(),
    };
    if !entries.iter().any(|e| e.is_tree) {
        for (name, oid) in items {
            set(&mut entries, &name, oid, false);
        }
        if entries.len() > LEAF_MAX {
            let files = entries.into_iter().map(|e| (e.name, e.oid)).collect();
            return build(db, files, depth);
        }
        return db.write_tree(&entries);
    }
    // A sharded folder. Files found loose beside its subfolders (written by
    // an mlops that only knew the flat layout) are moved down where they go.
    entries.retain(|e| {
        if e.is_tree {
            true
        } else {
            items.push((e.name.clone(), e.oid));
            false
        }
    });
    let mut groups: BTreeMap<String, Vec<(String, ObjectId)>> = BTreeMap::new();
    for (name, oid) in items {
        groups
            .entry(digit(&name, depth)?)
            .or_default()
            .push((name, oid));
    }
    for (d, group) in groups {
        let existing = entries.iter().find(|e| e.name == d).map(|e| e.oid);
        let sub = insert_node(db, existing, depth + 1, group)?;
        set(&mut entries, &d, sub, true);
    }
    db.write_tree(&entries)
}

/// The canonical folder for a set of files at a depth.
pub fn build(db: &GitDb, files: Vec<(String, ObjectId)>, depth: usize) -> Result<ObjectId> {
    if files.len() <= LEAF_MAX {
        let entries: Vec<TreeEntry> = files
            .into_iter()
            .map(|(name, oid)| TreeEntry::blob(name, oid))
            .collect();
        return db.write_tree(&entries);
    }
    let mut groups: BTreeMap<String, Vec<(String, ObjectId)>> = BTreeMap::new();
    for (name, oid) in files {
        groups
            .entry(digit(&name, depth)?)
            .or_default()
            .push((name, oid));
    }
    let mut entries = Vec::with_capacity(groups.len());
    for (d, group) in groups {
        entries.push(TreeEntry::tree(d, build(db, group, depth + 1)?));
    }
    db.write_tree(&entries)
}

/// A root tree holding exactly these files, in canonical shape.
pub fn build_root(db: &GitDb, files: Vec<File>) -> Result<ObjectId> {
    let mut by_folder: BTreeMap<String, Vec<(String, ObjectId)>> = BTreeMap::new();
    for f in files {
        by_folder.entry(f.folder).or_default().push((f.name, f.oid));
    }
    let mut entries = Vec::new();
    for (folder, items) in by_folder {
        let oid = build(db, items, 0)?;
        entries.push(TreeEntry::tree(folder, oid));
    }
    entries.push(TreeEntry::blob(MARKER, db.write_blob(MARKER_CONTENT)?));
    db.write_tree(&entries)
}

/// Every file of a root tree, folder by folder (any layout).
pub fn files(db: &GitDb, root: ObjectId) -> Result<Vec<File>> {
    let mut out = Vec::new();
    for e in db.tree(root)?.iter() {
        if e.is_tree {
            collect(db, e.oid, &e.name, &mut out)?;
        }
    }
    Ok(out)
}

/// Every file under one folder tree.
pub fn collect(db: &GitDb, tree: ObjectId, folder: &str, out: &mut Vec<File>) -> Result<()> {
    for e in db.tree(tree)?.iter() {
        if e.is_tree {
            collect(db, e.oid, folder, out)?;
        } else {
            out.push(File {
                folder: folder.to_string(),
                name: e.name.clone(),
                oid: e.oid,
            });
        }
    }
    Ok(())
}

/// The blob of one file, found by walking down its id's digits.
pub fn find(db: &GitDb, root: ObjectId, folder: &str, name: &str) -> Result<Option<ObjectId>> {
    let top = db.tree(root)?;
    let Some(mut node) = top
        .iter()
        .find(|e| e.is_tree && e.name == folder)
        .map(|e| e.oid)
    else {
        return Ok(None);
    };
    let mut depth = 0;
    loop {
        let entries = db.tree(node)?;
        if let Some(e) = entries.iter().find(|e| !e.is_tree && e.name == name) {
            return Ok(Some(e.oid));
        }
        let Ok(d) = digit(name, depth) else {
            return Ok(None);
        };
        match entries.iter().find(|e| e.is_tree && e.name == d) {
            Some(e) => node = e.oid,
            None => return Ok(None),
        }
        depth += 1;
    }
}

/// The record folders of a root tree (every folder but `attachments`).
pub fn record_folders(root: &[TreeEntry]) -> impl Iterator<Item = &TreeEntry> {
    root.iter().filter(|e| e.is_tree && e.name != ATTACHMENTS)
}

/// What a root tree adds to, removes from and rewrites in another, by
/// `(folder, name)`: a file that only moved because its folder split is in
/// neither list.
#[derive(Debug, Default)]
pub struct Delta {
    pub added: Vec<File>,
    pub removed: Vec<File>,
    /// The same file name with different content: `(old, new)`.
    pub changed: Vec<(File, File)>,
}

/// Compares two root trees, reading only the subtrees that differ (equal
/// subtree ids are skipped unread), so following a chain commit by commit
/// costs what each commit wrote, not the size of the history.
pub fn diff(db: &GitDb, old: Option<ObjectId>, new: ObjectId) -> Result<Delta> {
    let mut raw = Delta::default();
    let old_entries = match old {
        Some(o) => db.tree(o)?,
        None => Default::default(),
    };
    let new_entries = db.tree(new)?;
    let old_folders: BTreeMap<&str, ObjectId> = record_and_attachment_folders(&old_entries);
    let new_folders: BTreeMap<&str, ObjectId> = record_and_attachment_folders(&new_entries);
    for (name, &b) in &new_folders {
        match old_folders.get(name) {
            Some(&a) if a == b => {}
            Some(&a) => diff_node(db, name, a, b, &mut raw)?,
            None => collect(db, b, name, &mut raw.added)?,
        }
    }
    for (name, &a) in &old_folders {
        if !new_folders.contains_key(name) {
            collect(db, a, name, &mut raw.removed)?;
        }
    }
    // Pair up files that moved (same name and content) or were rewritten.
    let mut removed: BTreeMap<(String, String), File> = raw
        .removed
        .into_iter()
        .map(|f| ((f.folder.clone(), f.name.clone()), f))
        .collect();
    let mut delta = Delta {
        changed: raw.changed,
        ..Default::default()
    };
    for f in raw.added {
        match removed.remove(&(f.folder.clone(), f.name.clone())) {
            Some(old) if old.oid == f.oid => {}
            Some(old) => delta.changed.push((old, f)),
            None => delta.added.push(f),
        }
    }
    delta.removed = removed.into_values().collect();
    Ok(delta)
}

fn record_and_attachment_folders(entries: &[TreeEntry]) -> BTreeMap<&str, ObjectId> {
    entries
        .iter()
        .filter(|e| e.is_tree)
        .map(|e| (e.name.as_str(), e.oid))
        .collect()
}

fn diff_node(db: &GitDb, folder: &str, a: ObjectId, b: ObjectId, out: &mut Delta) -> Result<()> {
    let old_tree = db.tree(a)?;
    let old: BTreeMap<&str, &TreeEntry> = old_tree.iter().map(|e| (e.name.as_str(), e)).collect();
    let new = db.tree(b)?;
    let mut seen = std::collections::HashSet::new();
    for n in new.iter() {
        seen.insert(n.name.as_str());
        match old.get(n.name.as_str()) {
            Some(o) if o.oid == n.oid && o.is_tree == n.is_tree => {}
            Some(o) if o.is_tree && n.is_tree => diff_node(db, folder, o.oid, n.oid, out)?,
            Some(o) if !o.is_tree && !n.is_tree => out.changed.push((
                File {
                    folder: folder.into(),
                    name: o.name.clone(),
                    oid: o.oid,
                },
                File {
                    folder: folder.into(),
                    name: n.name.clone(),
                    oid: n.oid,
                },
            )),
            Some(o) => {
                flatten(db, folder, o, &mut out.removed)?;
                flatten(db, folder, n, &mut out.added)?;
            }
            None => flatten(db, folder, n, &mut out.added)?,
        }
    }
    for (name, o) in &old {
        if !seen.contains(name) {
            flatten(db, folder, o, &mut out.removed)?;
        }
    }
    Ok(())
}

fn flatten(db: &GitDb, folder: &str, e: &TreeEntry, out: &mut Vec<File>) -> Result<()> {
    if e.is_tree {
        collect(db, e.oid, folder, out)
    } else {
        out.push(File {
            folder: folder.to_string(),
            name: e.name.clone(),
            oid: e.oid,
        });
        Ok(())
    }
}
