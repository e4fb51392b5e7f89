//! The only module that talks to gix. It knows git objects and refs, nothing
//! about what records mean: write a blob, add it to a tree, commit on top of a
//! tip, and move a ref with compare-and-swap.

use gix::bstr::ByteSlice;
use gix::objs::tree::EntryKind;
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};
use gix::ObjectId;

use crate::error::{Error, Result};

/// An open repository.
pub struct GitDb {
    repo: gix::Repository,
}

/// The outcome of a compare-and-swap.
pub enum Swap {
    Done,
    /// Another writer moved the ref, or holds its lock: re-read and retry.
    Lost,
}

/// One commit on an entity's chain, as far as the store cares.
pub struct CommitInfo {
    pub tree: ObjectId,
    pub parents: Vec<ObjectId>,
    pub message: String,
}

impl GitDb {
    pub fn discover(dir: &std::path::Path) -> Result<GitDb> {
        let repo = gix::discover(dir).map_err(|_| Error::NotARepo(dir.to_path_buf()))?;
        Ok(GitDb { repo })
    }

    /// The working tree's root, or the git dir for a bare repository.
    pub fn root(&self) -> std::path::PathBuf {
        self.repo
            .workdir()
            .unwrap_or_else(|| self.repo.git_dir())
            .to_path_buf()
    }

    pub fn git_dir(&self) -> std::path::PathBuf {
        self.repo.git_dir().to_path_buf()
    }

    pub fn is_bare(&self) -> bool {
        self.repo.workdir().is_none()
    }

    /// `Name <email>` from git's identity resolution (environment, config).
    /// Audit records must be attributable, so there is no fallback identity.
    pub fn identity(&self) -> Result<String> {
        match self.repo.committer() {
            Some(Ok(sig)) => Ok(format!("{} <{}>", sig.name, sig.email)),
            Some(Err(e)) => Err(Error::git(e)),
            None => Err(Error::NoIdentity),
        }
    }

    pub fn read_ref(&self, name: &str) -> Result<Option<ObjectId>> {
        match self.repo.try_find_reference(name).map_err(Error::git)? {
            Some(mut r) => Ok(Some(r.peel_to_id().map_err(Error::git)?.detach())),
            None => Ok(None),
        }
    }

    /// All refs under a prefix, with their targets.
    pub fn refs_with_prefix(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>> {
        let platform = self.repo.references().map_err(Error::git)?;
        let mut out = Vec::new();
        for r in platform.prefixed(prefix).map_err(Error::git)? {
            let mut r = r.map_err(|e| Error::Git(e.to_string()))?;
            let name = r.name().as_bstr().to_str_lossy().into_owned();
            // Record refs point straight at commits: take the target without
            // peeling, which would open every commit object (10,000 runs =
            // 10,000 object reads just to list them).
            let id = match r.target().try_id() {
                Some(id) => id.to_owned(),
                None => r.peel_to_id().map_err(Error::git)?.detach(),
            };
            out.push((name, id));
        }
        Ok(out)
    }

    pub fn commit_info(&self, id: ObjectId) -> Result<CommitInfo> {
        let commit = self.repo.find_commit(id).map_err(Error::git)?;
        Ok(CommitInfo {
            tree: commit.tree_id().map_err(Error::git)?.detach(),
            parents: commit.parent_ids().map(|p| p.detach()).collect(),
            message: commit.message_raw_sloppy().to_str_lossy().into_owned(),
        })
    }

    /// The blobs of a tree, one level of folders deep: `(folder, file name, bytes)`,
    /// leaving out the folders named in `skip` without reading their blobs.
    pub fn read_tree_files(
        &self,
        tree: ObjectId,
        skip: &[&str],
    ) -> Result<Vec<(String, String, Vec<u8>)>> {
        let tree = self.repo.find_tree(tree).map_err(Error::git)?;
        let mut out = Vec::new();
        for entry in tree.iter() {
            let entry = entry.map_err(Error::git)?;
            if !entry.mode().is_tree() {
                continue;
            }
            let folder = entry.filename().to_str_lossy().into_owned();
            if skip.contains(&folder.as_str()) {
                continue;
            }
            let sub = self.repo.find_tree(entry.oid()).map_err(Error::git)?;
            for file in sub.iter() {
                let file = file.map_err(Error::git)?;
                if !file.mode().is_blob() {
                    continue;
                }
                let blob = self.repo.find_blob(file.oid()).map_err(Error::git)?;
                out.push((
                    folder.clone(),
                    file.filename().to_str_lossy().into_owned(),
                    blob.data.clone(),
                ));
            }
        }
        Ok(out)
    }

    /// Every commit reachable from `tip` (all parents), with its parents and tree.
    pub fn commits(&self, tip: ObjectId) -> Result<Vec<(ObjectId, CommitInfo)>> {
        let walk = self.repo.rev_walk([tip]).all().map_err(Error::git)?;
        let mut out = Vec::new();
        for info in walk {
            let info = info.map_err(|e| Error::Git(e.to_string()))?;
            out.push((info.id, self.commit_info(info.id)?));
        }
        Ok(out)
    }

    /// The blob entries of a tree, one level of folders deep: `(folder/name, blob id)`.
    pub fn tree_listing(&self, tree: ObjectId) -> Result<Vec<(String, ObjectId)>> {
        let tree = self.repo.find_tree(tree).map_err(Error::git)?;
        let mut out = Vec::new();
        for entry in tree.iter() {
            let entry = entry.map_err(Error::git)?;
            let folder = entry.filename().to_str_lossy().into_owned();
            if !entry.mode().is_tree() {
                out.push((folder, entry.oid().to_owned()));
                continue;
            }
            let sub = self.repo.find_tree(entry.oid()).map_err(Error::git)?;
            for file in sub.iter() {
                let file = file.map_err(Error::git)?;
                out.push((
                    format!("{folder}/{}", file.filename().to_str_lossy()),
                    file.oid().to_owned(),
                ));
            }
        }
        Ok(out)
    }

    pub fn blob(&self, id: ObjectId) -> Result<Vec<u8>> {
        Ok(self.repo.find_blob(id).map_err(Error::git)?.data.clone())
    }

    /// One file of a tree by its path, or `None`.
    pub fn read_tree_file(&self, tree: ObjectId, path: &str) -> Result<Option<Vec<u8>>> {
        let tree = self.repo.find_tree(tree).map_err(Error::git)?;
        match tree.lookup_entry_by_path(path).map_err(Error::git)? {
            Some(entry) => {
                let blob = self.repo.find_blob(entry.oid()).map_err(Error::git)?;
                Ok(Some(blob.data.clone()))
            }
            None => Ok(None),
        }
    }

    /// Writes blobs at the given paths on top of `base` (or an empty tree) and
    /// returns the new tree.
    pub fn tree_with(&self, base: Option<ObjectId>, files: &[(String, &[u8])]) -> Result<ObjectId> {
        let mut entries = Vec::with_capacity(files.len());
        for (path, bytes) in files {
            let blob = self.repo.write_blob(bytes).map_err(Error::git)?;
            entries.push((path.as_str(), blob.detach()));
        }
        self.upsert(base, &entries)
    }

    /// Adds existing blobs at the given paths on top of `base`.
    pub fn tree_with_blobs(
        &self,
        base: ObjectId,
        files: &[(String, ObjectId)],
    ) -> Result<ObjectId> {
        let entries: Vec<_> = files.iter().map(|(p, id)| (p.as_str(), *id)).collect();
        self.upsert(Some(base), &entries)
    }

    /// Puts blobs at `/`-separated paths into `base`, rewriting only the trees
    /// on those paths. gix's tree editor would also check that every entry of
    /// every rewritten tree exists — one `stat` per record already in the
    /// entity's history, which made an append O(history) in system calls. The
    /// entries of a tree we read back from the object database exist by
    /// construction, and the new blobs were written just before.
    fn upsert(&self, base: Option<ObjectId>, files: &[(&str, ObjectId)]) -> Result<ObjectId> {
        let mut tree = match base {
            Some(id) if !id.is_empty_tree() => {
                let tree = self.repo.find_tree(id).map_err(Error::git)?;
                tree.decode().map_err(Error::git)?.into()
            }
            _ => gix::objs::Tree::empty(),
        };
        let mut folders: std::collections::BTreeMap<&str, Vec<(&str, ObjectId)>> =
            Default::default();
        for (path, id) in files {
            match path.split_once('/') {
                Some((folder, rest)) => folders.entry(folder).or_default().push((rest, *id)),
                None => set_entry(&mut tree, path, EntryKind::Blob, *id)?,
            }
        }
        for (folder, inner) in folders {
            let existing = tree
                .entries
                .iter()
                .find(|e| e.mode.is_tree() && e.filename == folder.as_bytes())
                .map(|e| e.oid);
            let sub = self.upsert(existing, &inner)?;
            set_entry(&mut tree, folder, EntryKind::Tree, sub)?;
        }
        tree.entries.sort();
        Ok(self.repo.write_object(&tree).map_err(Error::git)?.detach())
    }

    /// Writes a commit (author = committer = the git identity) without moving any ref.
    pub fn commit(&self, message: &str, tree: ObjectId, parents: &[ObjectId]) -> Result<ObjectId> {
        let sig = match self.repo.committer() {
            Some(Ok(sig)) => sig,
            Some(Err(e)) => return Err(Error::git(e)),
            None => return Err(Error::NoIdentity),
        };
        let author = match self.repo.author() {
            Some(Ok(a)) => a,
            _ => sig,
        };
        let commit = self
            .repo
            .new_commit_as(sig, author, message, tree, parents.iter().copied())
            .map_err(Error::git)?;
        Ok(commit.id)
    }

    /// Moves `name` from `expected` (`None`: must not exist) to `new`.
    pub fn compare_and_swap(
        &self,
        name: &str,
        expected: Option<ObjectId>,
        new: ObjectId,
        reflog: &str,
    ) -> Result<Swap> {
        let full: FullName = name
            .try_into()
            .map_err(|e| Error::Git(format!("invalid ref `{name}`: {e}")))?;
        let expected = match expected {
            Some(old) => PreviousValue::MustExistAndMatch(Target::Object(old)),
            None => PreviousValue::MustNotExist,
        };
        let edit = RefEdit {
            change: Change::Update {
                log: LogChange {
                    mode: RefLog::AndReference,
                    force_create_reflog: false,
                    message: reflog.into(),
                },
                expected,
                new: Target::Object(new),
            },
            name: full,
            deref: false,
        };
        let e = match self.repo.edit_reference(edit) {
            Ok(_) => return Ok(Swap::Done),
            Err(e) => e,
        };
        if let Some(lock) = self.stale_lock(name) {
            return Err(Error::invalid_with_hint(
                format!(
                    "`{}` is left over from a writer that stopped",
                    lock.display()
                ),
                "if no mlops or git process is running, delete that file",
            ));
        }
        match e {
            e if e.is_conflict() || e.can_retry() => Ok(Swap::Lost),
            e => {
                // A lost race can also surface as a lock or mismatch error that
                // gix does not classify; the caller re-reads the tip and decides.
                let text = format!("{e:#}");
                if text.contains("lock") || text.contains("expected") || text.contains("exist") {
                    Ok(Swap::Lost)
                } else {
                    Err(Error::Git(text))
                }
            }
        }
    }
}

/// A ref lock older than this is not a writer at work (one holds it for
/// milliseconds) but one that died: waiting out the retry deadline for it
/// would only hang every writer of the entity for a minute.
const STALE_LOCK: std::time::Duration = std::time::Duration::from_secs(10);

impl GitDb {
    fn stale_lock(&self, refname: &str) -> Option<std::path::PathBuf> {
        let git_dir = self.git_dir();
        [
            git_dir.join(format!("{refname}.lock")),
            git_dir.join("packed-refs.lock"),
        ]
        .into_iter()
        .find(|lock| {
            std::fs::metadata(lock)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_LOCK)
        })
    }
}

/// Replaces or adds the entry `name` of `tree` (sorted later, by the caller).
fn set_entry(tree: &mut gix::objs::Tree, name: &str, kind: EntryKind, id: ObjectId) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['\0', '/']) {
        return Err(Error::Git(format!("invalid tree entry name `{name}`")));
    }
    tree.entries.retain(|e| e.filename != name.as_bytes());
    tree.entries.push(gix::objs::tree::Entry {
        mode: kind.into(),
        filename: name.into(),
        oid: id,
    });
    Ok(())
}
