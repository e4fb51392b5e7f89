//! An in-memory copy of a chain's tree, for checking commits without
//! reading their trees.
//!
//! Walking a chain forward, the model holds the parent's tree; applying the
//! files a commit claims to add (the record its trailer names, and the
//! attachments that record refers to) and hashing the changed path gives the
//! tree id that commit must have if it adds exactly those files and changes
//! nothing else. Equal ids prove it as a tree-to-tree diff would — tree ids
//! are hashes of their content — at the cost of hashing a few small trees
//! instead of inflating them from the object database. Any difference sends
//! that commit through the diff ([`super::chain`]), which says what differs,
//! and the model is reloaded from the commit's real tree.
//!
//! The model follows the writer's shaping rule (`store::layout`) exactly:
//! a folder holds at most `LEAF_MAX` files before it splits by the next hex
//! digit; stray files beside subfolders move down; a layout-1 (flat) tree is
//! kept flat, since only a layout-2 writer reshapes it.

use std::collections::BTreeMap;

use gix::ObjectId;

use crate::error::Result;
use crate::store::{layout, GitDb};

#[derive(Default, Clone)]
struct Node {
    files: BTreeMap<String, ObjectId>,
    subs: BTreeMap<String, Node>,
    /// The node's tree id, while nothing below it changed.
    oid: Option<ObjectId>,
}

impl Node {
    fn load(db: &GitDb, tree: ObjectId) -> Result<Node> {
        let mut node = Node {
            oid: Some(tree),
            ..Default::default()
        };
        for e in db.tree(tree)?.iter() {
            if e.is_tree {
                node.subs.insert(e.name.clone(), Node::load(db, e.oid)?);
            } else {
                node.files.insert(e.name.clone(), e.oid);
            }
        }
        Ok(node)
    }

    fn insert(&mut self, depth: usize, items: Vec<(String, ObjectId)>, shaped: bool) -> Result<()> {
        self.oid = None;
        if self.subs.is_empty() {
            for (name, oid) in items {
                self.files.insert(name, oid);
            }
            if shaped && self.files.len() > layout::LEAF_MAX {
                let files: Vec<(String, ObjectId)> =
                    std::mem::take(&mut self.files).into_iter().collect();
                *self = Node::build(files, depth)?;
            }
            return Ok(());
        }
        let mut items = items;
        items.extend(std::mem::take(&mut self.files));
        let mut groups: BTreeMap<String, Vec<(String, ObjectId)>> = BTreeMap::new();
        for (name, oid) in items {
            groups
                .entry(layout::digit(&name, depth)?)
                .or_default()
                .push((name, oid));
        }
        for (d, group) in groups {
            self.subs
                .entry(d)
                .or_default()
                .insert(depth + 1, group, shaped)?;
        }
        Ok(())
    }

    fn build(files: Vec<(String, ObjectId)>, depth: usize) -> Result<Node> {
        let mut node = Node::default();
        if files.len() <= layout::LEAF_MAX {
            node.files = files.into_iter().collect();
            return Ok(node);
        }
        let mut groups: BTreeMap<String, Vec<(String, ObjectId)>> = BTreeMap::new();
        for (name, oid) in files {
            groups
                .entry(layout::digit(&name, depth)?)
                .or_default()
                .push((name, oid));
        }
        for (d, group) in groups {
            node.subs.insert(d, Node::build(group, depth + 1)?);
        }
        Ok(node)
    }

    fn id(&mut self, buf: &mut Vec<u8>) -> ObjectId {
        if let Some(oid) = self.oid {
            return oid;
        }
        let mut subs: Vec<(&str, ObjectId)> = Vec::with_capacity(self.subs.len());
        for (name, sub) in self.subs.iter_mut() {
            subs.push((name.as_str(), sub.id(buf)));
        }
        let mut entries: Vec<(&str, ObjectId, bool)> = subs
            .into_iter()
            .map(|(n, o)| (n, o, true))
            .chain(self.files.iter().map(|(n, o)| (n.as_str(), *o, false)))
            .collect();
        let oid = GitDb::tree_id(&mut entries, buf);
        self.oid = Some(oid);
        oid
    }

    fn contains(&self, depth: usize, name: &str) -> bool {
        if self.files.contains_key(name) {
            return true;
        }
        match layout::digit(name, depth) {
            Ok(d) => self
                .subs
                .get(&d)
                .is_some_and(|s| s.contains(depth + 1, name)),
            Err(_) => false,
        }
    }
}

/// The tree of one commit of a chain, in memory.
pub struct Model {
    /// The commit whose tree this is.
    pub commit: ObjectId,
    root: Node,
    shaped: bool,
}

impl Model {
    /// The model of a commit's real tree.
    pub fn load(db: &GitDb, commit: ObjectId, tree: ObjectId) -> Result<Model> {
        let root = Node::load(db, tree)?;
        let shaped = root.files.contains_key(layout::MARKER);
        Ok(Model {
            commit,
            root,
            shaped,
        })
    }

    /// The model before the first commit: an empty tree a layout-2 writer
    /// starts from.
    pub fn empty() -> Model {
        Model {
            commit: ObjectId::null(gix::hash::Kind::Sha1),
            root: Node::default(),
            shaped: true,
        }
    }

    pub fn contains(&self, folder: &str, name: &str) -> bool {
        self.root
            .subs
            .get(folder)
            .is_some_and(|f| f.contains(0, name))
    }

    /// Applies what a layout-2 append writes: the files, and the marker.
    pub fn append(&mut self, files: Vec<layout::File>) -> Result<()> {
        self.root.oid = None;
        let mut by_folder: BTreeMap<String, Vec<(String, ObjectId)>> = BTreeMap::new();
        for f in files {
            by_folder.entry(f.folder).or_default().push((f.name, f.oid));
        }
        for (folder, items) in by_folder {
            self.root
                .subs
                .entry(folder)
                .or_default()
                .insert(0, items, self.shaped)?;
        }
        if self.shaped {
            self.root.files.insert(
                layout::MARKER.into(),
                GitDb::blob_id(layout::MARKER_CONTENT),
            );
        }
        Ok(())
    }

    pub fn root_id(&mut self) -> ObjectId {
        let mut buf = Vec::with_capacity(8192);
        self.root.id(&mut buf)
    }
}
