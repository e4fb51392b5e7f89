//! The only module that talks to gix. It knows git objects and refs, nothing
//! about what records mean: read and write blobs and trees, commit on top of
//! a tip, and move a ref with compare-and-swap.
//!
//! The swap is where correctness lives (docs/reliability.md). gix's ref
//! transaction takes its packed-refs snapshot *before* it locks and reads the
//! loose ref, so with `git pack-refs` running beside it (what `git gc` does)
//! it could compare against a stale packed value and accept a swap from a tip
//! that another writer had already moved: an acknowledged write lost. So the
//! swap runs under mlops's own lock ([`super::lock`]), re-reads the ref itself
//! in the order git writes it (loose file first, then a fresh packed-refs),
//! and only then hands the edit to gix; under the lock no other mlops writer
//! can move the ref, and `pack-refs` never changes a ref's value, so a stale
//! snapshot inside gix can only cause a spurious retry, never a lost write.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use gix::bstr::ByteSlice;
use gix::objs::tree::EntryKind;
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};
use gix::ObjectId;

use super::lock::{self, SwapLock};
use crate::context;
use crate::error::{Error, Result};

/// Writes an object, again if the first attempt failed. `git gc` and
/// `git prune-packed` remove empty `objects/xx/` folders, and gix, unlike
/// git, does not recreate the folder when it vanishes between its `mkdir` and
/// the rename of the finished object into it. Objects are content-addressed,
/// so writing one twice is harmless.
fn beside_gc<T>(mut write: impl FnMut() -> Result<T>) -> Result<T> {
    let mut attempt = 0;
    loop {
        match write() {
            Ok(v) => return Ok(v),
            Err(_) if attempt < 4 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(attempt));
            }
            Err(e) => return Err(e),
        }
    }
}

/// An open repository.
pub struct GitDb {
    repo: gix::Repository,
    /// Decoded trees by id. Walking a chain reads each commit's trees right
    /// after its parent's, which share all but one path of them; keeping the
    /// decoded entries halves the object reads of `verify`.
    trees: RefCell<HashMap<ObjectId, Rc<Vec<TreeEntry>>>>,
}

/// A git tree object of these entries, sorted as git requires.
fn to_tree(entries: &[TreeEntry]) -> Result<gix::objs::Tree> {
    let mut tree = gix::objs::Tree::empty();
    for e in entries {
        if e.name.is_empty() || e.name == "." || e.name == ".." || e.name.contains(['\0', '/']) {
            return Err(Error::Git(format!("invalid tree entry name `{}`", e.name)));
        }
        let kind = if e.is_tree {
            EntryKind::Tree
        } else if e.is_link {
            EntryKind::Commit
        } else {
            EntryKind::Blob
        };
        tree.entries.push(gix::objs::tree::Entry {
            mode: kind.into(),
            filename: e.name.as_str().into(),
            oid: e.oid,
        });
    }
    tree.entries.sort();
    Ok(tree)
}

/// A repository that threads can each open (see [`GitDb::shared`]).
#[derive(Clone)]
pub struct SharedDb(gix::ThreadSafeRepository);

impl SharedDb {
    /// A `GitDb` for this thread, set up for bulk reads (that is what
    /// threads are used for).
    pub fn open(&self) -> GitDb {
        let mut db = GitDb {
            repo: self.0.to_thread_local(),
            trees: RefCell::new(HashMap::new()),
        };
        db.for_bulk_reads();
        db
    }
}

/// Trees kept decoded before the cache starts over (a few MiB).
const TREE_CACHE: usize = 4096;

/// The outcome of a compare-and-swap.
#[derive(Debug, PartialEq, Eq)]
pub enum Swap {
    Done,
    /// Another writer moved the ref, or git holds its lock: re-read and retry.
    Lost,
}

/// One commit on an entity's chain, as far as the store cares.
pub struct CommitInfo {
    pub tree: ObjectId,
    pub parents: Vec<ObjectId>,
    pub message: String,
}

/// One entry of a tree: a blob or a subtree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    pub name: String,
    pub oid: ObjectId,
    pub is_tree: bool,
    /// A gitlink (mode 160000): names a commit, as the runs archive does.
    pub is_link: bool,
}

impl TreeEntry {
    pub fn blob(name: impl Into<String>, oid: ObjectId) -> TreeEntry {
        TreeEntry {
            name: name.into(),
            oid,
            is_tree: false,
            is_link: false,
        }
    }

    pub fn tree(name: impl Into<String>, oid: ObjectId) -> TreeEntry {
        TreeEntry {
            is_tree: true,
            ..TreeEntry::blob(name, oid)
        }
    }

    pub fn link(name: impl Into<String>, commit: ObjectId) -> TreeEntry {
        TreeEntry {
            is_link: true,
            ..TreeEntry::blob(name, commit)
        }
    }
}

/// Whether an I/O "not found" is anywhere in an error's causes.
fn io_not_found(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
        {
            return true;
        }
        cause = c.source();
    }
    false
}

impl GitDb {
    /// git's own lock protocol, through gix: lock `<ref>.lock`, check the
    /// expected value, write the new one and its reflog line, rename.
    fn swap_under_lock(
        &self,
        name: FullName,
        expected: Option<ObjectId>,
        new: ObjectId,
        reflog: &str,
    ) -> Result<Swap> {
        // Every chain keeps a reflog, so a rewind shows in `git reflog` and
        // `verify` — except run refs: a run is written once, is folded into
        // the archive soon after, and 100,000 reflog files cost more to
        // create and delete than they could ever tell.
        let keep_reflog = !name.as_bstr().starts_with(b"refs/mlops/runs/");
        let edit = RefEdit {
            change: Change::Update {
                log: LogChange {
                    mode: RefLog::AndReference,
                    force_create_reflog: keep_reflog,
                    message: reflog.into(),
                },
                expected: match expected {
                    Some(old) => PreviousValue::MustExistAndMatch(Target::Object(old)),
                    None => PreviousValue::MustNotExist,
                },
                new: Target::Object(new),
            },
            name,
            deref: false,
        };
        let committer = self.repo.committer().transpose().map_err(Error::git)?;
        let fail = gix::lock::acquire::Fail::Immediately;
        let prepared = match self.repo.refs.transaction().prepare([edit], fail, fail) {
            Ok(p) => p,
            Err(e) if e.is_conflict() || e.can_retry() => return Ok(Swap::Lost),
            // `git pack-refs --prune` removes a ref folder it emptied, between
            // gix creating it and creating `<ref>.lock` inside it: git itself
            // retries that (raceproof_create_file); so do we, under the
            // append's deadline (docs/reliability.md).
            Err(e) if e.is_not_found() || io_not_found(&e) => return Ok(Swap::Lost),
            Err(e) => return Err(Error::git(e)),
        };
        if context::test_hook("die-holding-ref-lock").is_some() {
            // A writer killed while git's lock file exists (tests only).
            // SAFETY: raising a signal on our own process.
            unsafe {
                libc::raise(libc::SIGKILL);
            }
        }
        match prepared.commit(committer) {
            Ok(_) => Ok(Swap::Done),
            Err(e) if e.is_conflict() || e.can_retry() => Ok(Swap::Lost),
            Err(e) => Err(Error::git(e)),
        }
    }

    pub fn discover(dir: &Path) -> Result<GitDb> {
        let mut repo = gix::discover(dir).map_err(|_| Error::NotARepo(dir.to_path_buf()))?;
        // A CI runner has no git identity: its records are the CI actor's
        // (docs/ci.md). Outside CI a missing identity stays an error.
        if repo.committer().is_none() {
            if let Some((name, email)) = crate::registry::ci::identity() {
                let mut config = repo.config_snapshot_mut();
                config
                    .set_value(&gix::config::tree::User::NAME, name.as_str())
                    .map_err(Error::git)?;
                config
                    .set_value(&gix::config::tree::User::EMAIL, email.as_str())
                    .map_err(Error::git)?;
                config.commit().map_err(Error::git)?;
            }
        }
        Ok(GitDb {
            repo,
            trees: RefCell::new(HashMap::new()),
        })
    }

    /// Caches for reading many objects (a whole history, every run): decoded
    /// objects, and delta bases of packs, which consecutive commits' trees
    /// share. Not set for short commands: gix's default static pack cache
    /// alone cost ~5 ms per process, more than an append.
    pub fn for_bulk_reads(&mut self) {
        self.repo.object_cache_size(2 * 1024 * 1024);
        self.repo.objects.set_pack_cache(|| {
            Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
                16 * 1024 * 1024,
            ))
        });
    }

    /// Whether git's own estimate of loose objects (the files in
    /// `objects/17/`, times 256) is past `gc.auto` (default 6,700): the
    /// point at which `git gc --auto` would pack them. mlops writes objects
    /// through gix, which never triggers git's maintenance itself.
    pub fn wants_gc(&self) -> bool {
        let limit = self
            .repo
            .config_snapshot()
            .integer("gc.auto")
            .unwrap_or(6700);
        if limit <= 0 {
            return false;
        }
        let dir = self.repo.objects.store_ref().path().join("17");
        let count = std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0) as i64;
        if count * 256 <= limit {
            return false;
        }
        // A gc under way (it holds `gc.pid` while it runs, which takes a
        // while on a big repository): starting another per append would
        // only pile up processes that find the lock and exit.
        let pid = self.common_dir().join("gc.pid");
        let running = std::fs::metadata(&pid)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < std::time::Duration::from_secs(12 * 3600));
        !running
    }

    /// The commit a revision names (`HEAD`, a branch, an id), `None` when it
    /// names nothing (no commit yet).
    pub fn resolve_rev(&self, rev: &str) -> Result<Option<ObjectId>> {
        // git's own revision grammar (gix is built without it): `HEAD`,
        // `origin/main`, `v1.2^`, ids.
        let spec = format!("{rev}^{{commit}}");
        match crate::gitcli::try_output(&self.root(), &["rev-parse", "--verify", "-q", &spec]) {
            Some(hex) => ObjectId::from_hex(hex.trim().as_bytes())
                .map(Some)
                .map_err(|e| Error::Git(e.to_string())),
            None => Ok(None),
        }
    }

    /// A file of a commit's tree by its path: its blob id and bytes.
    pub fn file_at(&self, commit: ObjectId, path: &str) -> Result<Option<(ObjectId, Vec<u8>)>> {
        let tree = self
            .repo
            .find_commit(commit)
            .map_err(Error::git)?
            .tree()
            .map_err(Error::git)?;
        match tree.lookup_entry_by_path(path).map_err(Error::git)? {
            Some(entry) if entry.mode().is_blob() => {
                let blob = self.repo.find_blob(entry.oid()).map_err(Error::git)?;
                Ok(Some((entry.oid().to_owned(), blob.data.clone())))
            }
            _ => Ok(None),
        }
    }

    /// A commit's `gpgsig` signature and the bytes it signs (the commit
    /// without that header), or `None` for an unsigned commit.
    pub fn commit_signature(&self, id: ObjectId) -> Result<Option<(String, Vec<u8>)>> {
        let commit = self.repo.find_commit(id).map_err(Error::git)?;
        let signed = commit.signature().map_err(Error::git)?;
        Ok(signed.map(|(sig, data)| (sig.to_string(), data.to_bstring().to_vec())))
    }

    /// The author's and committer's e-mail addresses of a commit (normalised).
    pub fn commit_people(&self, id: &str) -> Result<Vec<String>> {
        let oid = ObjectId::from_hex(id.as_bytes()).map_err(|e| Error::Git(e.to_string()))?;
        let commit = self.repo.find_commit(oid).map_err(Error::git)?;
        let mut out = Vec::new();
        if let Ok(a) = commit.author() {
            out.push(crate::signing::normalise_email(&a.email.to_string()));
        }
        if let Ok(c) = commit.committer() {
            out.push(crate::signing::normalise_email(&c.email.to_string()));
        }
        out.dedup();
        Ok(out)
    }

    /// A value of git's configuration (repository, user, system, environment).
    pub fn config_string(&self, key: &str) -> Option<String> {
        self.repo
            .config_snapshot()
            .string(key)
            .map(|v| v.to_string())
    }

    /// How git is configured to sign, if it is.
    pub fn signer(&self) -> Option<crate::signing::Signer> {
        crate::signing::Signer::from_git(|k| self.config_string(k))
    }

    /// A handle another thread can open its own `GitDb` from (gix
    /// repositories are not shared between threads).
    pub fn shared(&self) -> SharedDb {
        SharedDb(self.repo.clone().into_sync())
    }

    /// The working tree's root, or the git dir for a bare repository.
    pub fn root(&self) -> PathBuf {
        self.repo
            .workdir()
            .unwrap_or_else(|| self.repo.git_dir())
            .to_path_buf()
    }

    pub fn git_dir(&self) -> PathBuf {
        self.repo.git_dir().to_path_buf()
    }

    /// Where refs, reflogs and objects live (shared by all worktrees).
    pub fn common_dir(&self) -> PathBuf {
        self.repo.common_dir().to_path_buf()
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

    /// A ref's target as gix sees it (fast; may lag a concurrent `pack-refs`
    /// by a moment, which the swap re-checks under the lock).
    pub fn read_ref(&self, name: &str) -> Result<Option<ObjectId>> {
        match self.repo.try_find_reference(name).map_err(Error::git)? {
            Some(mut r) => Ok(Some(r.peel_to_id().map_err(Error::git)?.detach())),
            None => Ok(None),
        }
    }

    /// A ref's target read the way git writes it, bypassing every cache: the
    /// loose file first and, only when there is none, a freshly opened
    /// packed-refs (git writes packed-refs before it prunes a loose ref, so
    /// this order never misses a value).
    pub fn read_ref_fresh(&self, name: &str) -> Result<Option<ObjectId>> {
        let loose = self.common_dir().join(name);
        match std::fs::read(&loose) {
            Ok(bytes) => {
                let text = bytes.trim();
                return ObjectId::from_hex(text).map(Some).map_err(|_| {
                    Error::Git(format!("`{}` does not hold an object id", loose.display()))
                });
            }
            // No loose ref, or a folder of refs where it would be.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory
                ) => {}
            Err(e) => return Err(Error::io(format!("cannot read `{}`", loose.display()), e)),
        }
        if !self.repo.refs.packed_refs_path().is_file() {
            return Ok(None);
        }
        self.repo
            .refs
            .force_refresh_packed_buffer()
            .map_err(Error::git)?;
        let Some(packed) = self.repo.refs.cached_packed_buffer().map_err(Error::git)? else {
            return Ok(None);
        };
        let found = packed
            .try_find(name)
            .map_err(|e| Error::Git(format!("{e:#}")))?;
        Ok(found.map(|r| r.target()))
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

    /// Every commit reachable from `tip` (all parents), each read once.
    pub fn commits(&self, tip: ObjectId) -> Result<Vec<(ObjectId, CommitInfo)>> {
        let mut out = Vec::new();
        let mut seen: std::collections::HashSet<ObjectId> = std::collections::HashSet::new();
        let mut todo = vec![tip];
        seen.insert(tip);
        while let Some(id) = todo.pop() {
            let info = self.commit_info(id)?;
            for p in &info.parents {
                if seen.insert(*p) {
                    todo.push(*p);
                }
            }
            out.push((id, info));
        }
        Ok(out)
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: ObjectId, descendant: ObjectId) -> Result<bool> {
        if ancestor == descendant {
            return Ok(true);
        }
        let walk = self.repo.rev_walk([descendant]).all().map_err(Error::git)?;
        for info in walk {
            if info.map_err(|e| Error::Git(e.to_string()))?.id == ancestor {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub fn has_object(&self, id: ObjectId) -> bool {
        self.repo.has_object(id)
    }

    pub fn blob(&self, id: ObjectId) -> Result<Vec<u8>> {
        Ok(self.repo.find_blob(id).map_err(Error::git)?.data.clone())
    }

    /// The id git gives a blob of these bytes, without writing it.
    pub fn blob_id(bytes: &[u8]) -> ObjectId {
        gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, bytes)
            .expect("SHA-1 hashing does not fail")
    }

    pub fn write_blob(&self, bytes: &[u8]) -> Result<ObjectId> {
        beside_gc(|| Ok(self.repo.write_blob(bytes).map_err(Error::git)?.detach()))
    }

    /// The entries of one tree (not recursive), shared from the cache.
    pub fn tree(&self, id: ObjectId) -> Result<Rc<Vec<TreeEntry>>> {
        if let Some(t) = self.trees.borrow().get(&id) {
            return Ok(Rc::clone(t));
        }
        let entries = Rc::new(self.decode_tree(id)?);
        let mut cache = self.trees.borrow_mut();
        if cache.len() >= TREE_CACHE {
            cache.clear();
        }
        cache.insert(id, Rc::clone(&entries));
        Ok(entries)
    }

    /// The entries of one tree, to change and write back.
    pub fn read_tree(&self, id: ObjectId) -> Result<Vec<TreeEntry>> {
        Ok(self.tree(id)?.as_ref().clone())
    }

    fn decode_tree(&self, id: ObjectId) -> Result<Vec<TreeEntry>> {
        let tree = self.repo.find_tree(id).map_err(Error::git)?;
        let mut out = Vec::new();
        for entry in tree.iter() {
            let entry = entry.map_err(Error::git)?;
            out.push(TreeEntry {
                name: entry.filename().to_str_lossy().into_owned(),
                oid: entry.oid().to_owned(),
                is_tree: entry.mode().is_tree(),
                is_link: entry.mode().is_commit(),
            });
        }
        Ok(out)
    }

    /// The id git gives a tree of these entries, without writing it:
    /// `(name, id, is_tree)`, encoded as git encodes a tree (entries sorted by
    /// name, a folder's name compared as if it ended in `/`).
    pub fn tree_id(entries: &mut [(&str, ObjectId, bool)], buf: &mut Vec<u8>) -> ObjectId {
        entries.sort_by(|a, b| {
            let ka =
                a.0.as_bytes()
                    .iter()
                    .chain(if a.2 { &b"/"[..] } else { &[] });
            let kb =
                b.0.as_bytes()
                    .iter()
                    .chain(if b.2 { &b"/"[..] } else { &[] });
            ka.cmp(kb)
        });
        buf.clear();
        for (name, oid, is_tree) in entries.iter() {
            buf.extend_from_slice(if *is_tree { b"40000 " } else { b"100644 " });
            buf.extend_from_slice(name.as_bytes());
            buf.push(0);
            buf.extend_from_slice(oid.as_bytes());
        }
        gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Tree, buf)
            .expect("SHA-1 hashing does not fail")
    }

    /// Writes a tree of these entries (sorted here, as git requires). Entries
    /// are taken as they are: they come from trees read back from the object
    /// database or from objects written just before, so gix's editor's check
    /// that each exists — one `stat` per entry — is not repeated.
    pub fn write_tree(&self, entries: &[TreeEntry]) -> Result<ObjectId> {
        let tree = to_tree(entries)?;
        beside_gc(|| Ok(self.repo.write_object(&tree).map_err(Error::git)?.detach()))
    }

    /// Writes a commit (author = committer = the git identity) without moving
    /// any ref. With `commit.gpgsign` and a signing key configured, the
    /// commit is signed as `git commit` would sign it (a `gpgsig` header over
    /// the rest of the commit; SSH signatures in the `git` namespace), so
    /// `git verify-commit` and `git log --show-signature` accept it.
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
        let mut commit = gix::objs::Commit {
            message: message.into(),
            tree,
            author: author.into(),
            committer: sig.into(),
            encoding: None,
            parents: parents.iter().copied().collect(),
            extra_headers: Vec::new(),
        };
        if let Some(signer) = self.signer().filter(|s| s.sign_commits) {
            let mut payload = Vec::new();
            gix::objs::WriteTo::write_to(&commit, &mut payload)
                .map_err(|e| Error::Git(e.to_string()))?;
            let signature = signer.sign(&payload, "git")?;
            commit
                .extra_headers
                .push(("gpgsig".into(), signature.armored.trim_end().into()));
        }
        beside_gc(|| {
            Ok(self
                .repo
                .write_object(&commit)
                .map_err(Error::git)?
                .detach())
        })
    }

    /// Sets many refs in one transaction written straight into packed-refs
    /// (one file, not one per ref: a fresh clone creates 100,000 run refs).
    /// `expected: None` means the ref must not exist yet; `Some(id)` that it
    /// may hold anything (refs only mlops keeps, such as the remote tips a
    /// sync saw). Returns `false` and changes nothing when a ref that must
    /// be new exists.
    pub fn set_refs_packed(
        &self,
        refs: &[(String, ObjectId)],
        must_be_new: bool,
        reflog: &str,
    ) -> Result<bool> {
        if refs.is_empty() {
            return Ok(true);
        }
        let mut edits = Vec::with_capacity(refs.len());
        for (name, id) in refs {
            edits.push(RefEdit {
                change: Change::Update {
                    log: LogChange {
                        mode: RefLog::AndReference,
                        force_create_reflog: false,
                        message: reflog.into(),
                    },
                    expected: if must_be_new {
                        PreviousValue::MustNotExist
                    } else {
                        PreviousValue::Any
                    },
                    new: Target::Object(*id),
                },
                name: name
                    .as_str()
                    .try_into()
                    .map_err(|e| Error::Git(format!("invalid ref `{name}`: {e}")))?,
                deref: false,
            });
        }
        let committer = self.repo.committer().transpose().map_err(Error::git)?;
        let fail =
            gix::lock::acquire::Fail::AfterDurationWithBackoff(std::time::Duration::from_secs(5));
        let prepared = self
            .repo
            .refs
            .transaction()
            .packed_refs(
                gix::refs::file::transaction::PackedRefs::DeletionsAndNonSymbolicUpdatesRemoveLooseSourceReference(
                    Box::new(self.repo.objects.clone()),
                ),
            )
            .prepare(edits, fail, fail);
        let prepared = match prepared {
            Ok(p) => p,
            Err(e) if e.is_conflict() => return Ok(false),
            Err(e) => return Err(Error::git(e)),
        };
        match prepared.commit(committer) {
            Ok(_) => Ok(true),
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(Error::git(e)),
        }
    }

    /// Deletes refs that must still point where the caller saw them, in one
    /// `git update-ref --stdin` transaction (git's files backend deletes
    /// 20,000 packed refs in 1.5 s where gix took 5: it locks and rewrites
    /// packed-refs once). When one moved meanwhile the transaction changes
    /// nothing; each is then tried on its own and the moved ones are kept.
    /// Returns how many were deleted.
    pub fn delete_refs(&self, refs: &[(String, ObjectId)]) -> Result<usize> {
        if refs.is_empty() {
            return Ok(0);
        }
        let dir = self.root();
        let script: String = refs
            .iter()
            .map(|(name, id)| format!("delete {name} {id}\n"))
            .collect();
        if crate::gitcli::update_refs(&dir, &script)? {
            return Ok(refs.len());
        }
        let mut deleted = 0;
        for (name, id) in refs {
            if crate::gitcli::update_refs(&dir, &format!("delete {name} {id}\n"))? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Moves `name` from `expected` (`None`: must not exist) to `new`, under
    /// mlops's lock for the ref (see the module comment). The reflog is kept
    /// for every ref under `refs/mlops/`, so a rewind shows in `git reflog`
    /// and `mlops verify`.
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
        let common = self.common_dir();
        let mut guard = SwapLock::acquire(&common, name)?;
        if self.read_ref_fresh(name)? != expected {
            return Ok(Swap::Lost);
        }
        if lock::git_lock_held(&common, name, &mut guard)? {
            return Ok(Swap::Lost);
        }
        guard.mark_swapping(name)?;
        let result = self.swap_under_lock(full, expected, new, reflog);
        guard.mark_idle()?;
        if result? == Swap::Lost {
            return Ok(Swap::Lost);
        }
        // Read back: under the lock nobody else can have moved it, so anything
        // but our commit means the swap did not happen as git sees it.
        match self.read_ref_fresh(name)? {
            Some(now) if now == new => Ok(Swap::Done),
            other => Err(Error::Git(format!(
                "`{name}` reads back as {} right after it was set to {new}",
                other
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "missing".into())
            ))),
        }
    }
}
