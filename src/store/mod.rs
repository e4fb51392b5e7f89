//! The record store: records as git blobs, one ref per entity, one commit per
//! event (DESIGN.md, "Storage model").
//!
//! `refs/mlops/<kind>/<name>` points at a commit whose tree holds every record of
//! the entity as `<kind>/<hex>.json` and every attachment as `attachments/<hex>`;
//! each new event is a commit on top of the previous tip, so `git log`,
//! `git push` and `git fetch` work on the history unchanged. Objects are written
//! before the ref moves, and the ref moves by compare-and-swap, so a crash or a
//! lost race leaves at most unreachable objects, never a half-written history.

pub mod archive;
mod gitdb;
pub mod layout;
mod lock;
pub mod order;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gix::ObjectId;
use rand::Rng;

use crate::context;
use crate::error::{Error, Result};
use crate::names;
use crate::record::{self, Draft, Envelope, Record};
pub use gitdb::{CommitInfo, GitDb, SharedDb, Swap, TreeEntry};
use layout::ATTACHMENTS;

pub const REF_ROOT: &str = "refs/mlops/";
/// The trailer that names the newest record in a commit message, so an append
/// learns `prev` from one commit instead of reading the whole history.
pub const TRAILER: &str = "Mlops-Record: ";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Dataset,
    Run,
    Model,
    Monitor,
}

impl EntityKind {
    pub const ALL: [EntityKind; 4] = [
        EntityKind::Dataset,
        EntityKind::Run,
        EntityKind::Model,
        EntityKind::Monitor,
    ];

    /// The ref folder: `refs/mlops/<plural>/`.
    pub fn plural(self) -> &'static str {
        match self {
            EntityKind::Dataset => "datasets",
            EntityKind::Run => "runs",
            EntityKind::Model => "models",
            EntityKind::Monitor => "monitors",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            EntityKind::Dataset => "dataset",
            EntityKind::Run => "run",
            EntityKind::Model => "model",
            EntityKind::Monitor => "monitor",
        }
    }

    pub fn parse(s: &str) -> Option<EntityKind> {
        EntityKind::ALL
            .into_iter()
            .find(|k| k.plural() == s || k.singular() == s)
    }
}

/// One entity: a dataset, run, model or monitor, by name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entity {
    pub kind: EntityKind,
    pub name: String,
}

impl Entity {
    pub fn new(kind: EntityKind, name: &str) -> Result<Entity> {
        names::validate(name)?;
        Ok(Entity {
            kind,
            name: name.to_string(),
        })
    }

    /// `dataset/train`, `model/fraud`: how entities are named on the command line.
    pub fn parse(spec: &str) -> Result<Entity> {
        let (kind, name) = spec.split_once('/').ok_or_else(|| {
            Error::invalid_with_hint(
                format!("`{spec}` does not name an entity"),
                "write `<kind>/<name>`, with kind one of dataset, run, model, monitor",
            )
        })?;
        let kind = EntityKind::parse(kind).ok_or_else(|| {
            Error::invalid_with_hint(
                format!("unknown entity kind `{kind}` in `{spec}`"),
                "use one of dataset, run, model, monitor",
            )
        })?;
        Entity::new(kind, name)
    }

    pub fn refname(&self) -> String {
        format!("{REF_ROOT}{}/{}", self.kind.plural(), self.name)
    }

    /// The entity a `refs/mlops/<kinds>/<name>` ref holds.
    pub fn from_refname(refname: &str) -> Option<Entity> {
        let (kind, name) = refname.strip_prefix(REF_ROOT)?.split_once('/')?;
        Entity::new(EntityKind::parse(kind)?, name).ok()
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind.singular(), self.name)
    }
}

/// The current tip of an entity, read once per append attempt.
pub struct Tip<'s> {
    store: &'s Store,
    pub commit: Option<ObjectId>,
    tree: Option<ObjectId>,
    /// The newest record, from the tip commit's trailer.
    pub latest: Option<String>,
}

impl Tip<'_> {
    /// The whole history at this tip (only read when a writer needs it, e.g.
    /// to re-check promotion gates against the state it is about to extend).
    pub fn history(&self) -> Result<History> {
        self.store.history_at(self.commit)
    }

    /// When the newest record was made: an append never records an earlier
    /// time (one record file read, found by its id).
    fn latest_created_at(&self) -> Result<Option<String>> {
        match (self.tree, &self.latest) {
            (Some(tree), Some(latest)) => self.store.created_at_in(tree, latest),
            _ => Ok(None),
        }
    }
}

/// An entity's records, oldest first, and where its attachments are.
#[derive(Debug, Default)]
pub struct History {
    pub records: Vec<Record>,
    pub tip: Option<ObjectId>,
    tree: Option<ObjectId>,
}

impl History {
    /// A history of records read some other way (in causal order here).
    pub fn from_records(records: Vec<Record>) -> History {
        History {
            records: order::causal(records),
            tip: None,
            tree: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.records.iter().filter(move |r| r.kind() == kind)
    }
}

pub struct Store {
    db: GitDb,
}

/// A record's file name in its kind's folder.
pub fn record_file(record: &Record) -> String {
    format!("{}.json", record.hex())
}

impl Store {
    /// A handle from which other threads open their own `Store`.
    pub fn shared(&self) -> SharedDb {
        self.db.shared()
    }

    /// A store on this thread from a shared handle.
    pub fn from_shared(shared: &SharedDb) -> Store {
        Store { db: shared.open() }
    }

    /// Opens the repository that contains `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        Ok(Store {
            db: GitDb::discover(dir)?,
        })
    }

    pub fn root(&self) -> PathBuf {
        self.db.root()
    }

    pub fn git_dir(&self) -> PathBuf {
        self.db.git_dir()
    }

    pub fn is_bare(&self) -> bool {
        self.db.is_bare()
    }

    pub fn identity(&self) -> Result<String> {
        self.db.identity()
    }

    /// Git's signing set-up (`gpg.format`, `user.signingkey`, ...), if any.
    pub fn signer(&self) -> Option<crate::signing::Signer> {
        self.db.signer()
    }

    /// Every entity that has a history, optionally of one kind, sorted by name
    /// (runs folded into the archive included).
    pub fn entities(&self, kind: Option<EntityKind>) -> Result<Vec<Entity>> {
        let mut out: Vec<Entity> = self
            .tips(kind)?
            .into_iter()
            .map(|(entity, _)| entity)
            .collect();
        out.sort();
        Ok(out)
    }

    pub fn tip(&self, entity: &Entity) -> Result<Tip<'_>> {
        let commit = self.tip_commit(entity)?;
        self.tip_at(commit)
    }

    /// An entity's newest commit: its ref, or, for a run folded into the
    /// archive (and not amended since), the tip the archive names.
    pub fn tip_commit(&self, entity: &Entity) -> Result<Option<ObjectId>> {
        if let Some(c) = self.db.read_ref(&entity.refname())? {
            return Ok(Some(c));
        }
        self.folded_tip(entity)
    }

    fn folded_tip(&self, entity: &Entity) -> Result<Option<ObjectId>> {
        if entity.kind != EntityKind::Run {
            return Ok(None);
        }
        match self.db.read_ref(archive::REF)? {
            Some(a) => archive::lookup(&self.db, a, &entity.name),
            None => Ok(None),
        }
    }

    fn tip_at(&self, commit: Option<ObjectId>) -> Result<Tip<'_>> {
        let (tree, latest) = match commit {
            Some(c) => {
                let info = self.db.commit_info(c)?;
                (Some(info.tree), trailer(&info.message))
            }
            None => (None, None),
        };
        Ok(Tip {
            store: self,
            commit,
            tree,
            latest,
        })
    }

    /// The `created_at` of one record of a tree, found by its id.
    pub fn created_at_in(&self, tree: ObjectId, id: &str) -> Result<Option<String>> {
        let name = format!("{}.json", record::hex_of(id));
        let root = self.db.tree(tree)?;
        for folder in layout::record_folders(&root) {
            if let Some(oid) = layout::find(&self.db, tree, &folder.name, &name)? {
                let record = Record::from_bytes(&self.db.blob(oid)?, Some(id))?;
                return Ok(Some(record.created_at().to_string()));
            }
        }
        Ok(None)
    }

    /// The newest record of the chain at a commit, as `(created_at, id)`.
    pub fn latest_at(&self, commit: ObjectId) -> Result<Option<(String, String)>> {
        let info = self.db.commit_info(commit)?;
        let Some(id) = trailer(&info.message) else {
            return Ok(None);
        };
        Ok(self.created_at_in(info.tree, &id)?.map(|at| (at, id)))
    }

    /// Sets the object caches for a command that reads many objects.
    pub fn for_bulk_reads(&mut self) {
        self.db.for_bulk_reads();
    }

    /// The underlying object database, for whole-history checks (`verify`).
    pub fn db(&self) -> &GitDb {
        &self.db
    }

    pub fn exists(&self, entity: &Entity) -> Result<bool> {
        Ok(self.tip_commit(entity)?.is_some())
    }

    /// An entity named on the command line must exist (`log`, `verify`).
    pub fn require(&self, entity: &Entity) -> Result<()> {
        match self.exists(entity)? {
            true => Ok(()),
            false => Err(Error::NotFound(format!("`{entity}`"))),
        }
    }

    /// The entity's history, oldest first; an unknown entity has an empty one.
    pub fn history(&self, entity: &Entity) -> Result<History> {
        self.history_at(self.tip_commit(entity)?)
    }

    /// The history of any record chain by its ref.
    pub fn history_of_ref(&self, refname: &str) -> Result<History> {
        let tip = self.db.read_ref(refname)?;
        self.history_at(tip)
    }

    /// The history at a given commit of an entity's chain.
    pub fn history_at(&self, tip: Option<ObjectId>) -> Result<History> {
        let Some(commit) = tip else {
            return Ok(History::default());
        };
        let tree = self.db.commit_info(commit)?.tree;
        let mut records = Vec::new();
        for file in layout::files(&self.db, tree)? {
            if file.folder == ATTACHMENTS {
                continue;
            }
            let shown = format!("{}/{}", file.folder, file.name);
            let hex = file.name.strip_suffix(".json").unwrap_or(&file.name);
            let record =
                Record::from_bytes(&self.db.blob(file.oid)?, Some(hex)).map_err(|e| match e {
                    Error::CorruptRecord { reason, .. } => Error::CorruptRecord {
                        id: shown.clone(),
                        reason,
                    },
                    other => other,
                })?;
            if record.kind() != file.folder {
                return Err(Error::CorruptRecord {
                    id: shown,
                    reason: format!("a `{}` record filed under `{}`", record.kind(), file.folder),
                });
            }
            records.push(record);
        }
        Ok(History {
            records: order::causal(records),
            tip: Some(commit),
            tree: Some(tree),
        })
    }

    /// An attachment of the entity, checked against its id.
    pub fn attachment(&self, history: &History, id: &str) -> Result<Vec<u8>> {
        let missing = || Error::NotFound(format!("attachment `{id}`"));
        let tree = history.tree.ok_or_else(missing)?;
        let oid =
            layout::find(&self.db, tree, ATTACHMENTS, record::hex_of(id))?.ok_or_else(missing)?;
        let bytes = self.db.blob(oid)?;
        if record::hex_of(&record::content_id(&bytes)) != record::hex_of(id) {
            return Err(Error::CorruptRecord {
                id: id.to_string(),
                reason: "attachment content does not match its id".into(),
            });
        }
        Ok(bytes)
    }

    /// Appends one event to an entity's chain.
    ///
    /// `build` sees the current tip and returns the draft to append, or
    /// `Break` with its own result to stop without appending (a gate that no
    /// longer passes, a version a concurrent writer already recorded). If
    /// another writer moves the ref first, the tip is re-read and `build`
    /// runs again, so the decision is always made against the state the
    /// event extends. Appending a record that is already in the history is a
    /// no-op that returns it.
    pub fn append<T, F>(&self, entity: &Entity, build: F) -> Result<ControlFlow<T, Record>>
    where
        F: FnMut(&Tip) -> Result<ControlFlow<T, Draft>>,
    {
        // A folded run has no ref: its next event goes on top of the tip the
        // archive names, and its ref starts again there.
        self.append_with_base(&entity.refname(), || self.folded_tip(entity), build)
    }

    /// [`Store::append`] for a chain that is not an entity's (the checkpoints).
    pub fn append_to_ref<T, F>(&self, refname: &str, build: F) -> Result<ControlFlow<T, Record>>
    where
        F: FnMut(&Tip) -> Result<ControlFlow<T, Draft>>,
    {
        self.append_with_base(refname, || Ok(None), build)
    }

    fn append_with_base<T, F, B>(
        &self,
        refname: &str,
        base: B,
        mut build: F,
    ) -> Result<ControlFlow<T, Record>>
    where
        F: FnMut(&Tip) -> Result<ControlFlow<T, Draft>>,
        B: Fn() -> Result<Option<ObjectId>>,
    {
        let actor = self.identity()?;
        let tool = context::tool_version();
        let refname = refname.to_string();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut rng = rand::rng();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let on_disk = self.db.read_ref_fresh(&refname)?;
            let tip = match on_disk {
                Some(c) => self.tip_at(Some(c))?,
                None => self.tip_at(base()?)?,
            };
            let draft = match build(&tip)? {
                ControlFlow::Break(stop) => return Ok(ControlFlow::Break(stop)),
                ControlFlow::Continue(draft) => draft,
            };
            // A clock behind the previous record's (another clone's, or a
            // pinned `MLOPS_NOW`) must not make the chain go back in time:
            // the record takes its predecessor's time and keeps the reading.
            let reading = context::now_timestamp();
            let (created_at, clock) = match tip.latest_created_at()? {
                Some(prev) if prev > reading => (prev, Some(reading.as_str())),
                _ => (reading.clone(), None),
            };
            let record = draft.seal(&Envelope {
                created_at: &created_at,
                actor: &actor,
                tool: &tool,
                prev: tip.latest.as_deref(),
                clock,
            })?;
            if let Some(tree) = tip.tree {
                if layout::find(&self.db, tree, record.kind(), &record_file(&record))?.is_some() {
                    return Ok(ControlFlow::Continue(record));
                }
            }
            let mut files = vec![layout::File {
                folder: record.kind().to_string(),
                name: record_file(&record),
                oid: self.db.write_blob(record.bytes())?,
            }];
            for bytes in &draft.attachments {
                files.push(layout::File {
                    folder: ATTACHMENTS.to_string(),
                    name: record::hex_of(&record::content_id(bytes)).to_string(),
                    oid: self.db.write_blob(bytes)?,
                });
            }
            let tree = layout::insert(&self.db, tip.tree, files)?;
            let message = commit_message(&draft.summary, record.id());
            let parents: Vec<ObjectId> = tip.commit.into_iter().collect();
            let commit = self.db.commit(&message, tree, &parents)?;
            if attempts == 1 {
                if let Some(ms) = context::test_hook("pause-before-swap") {
                    std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(500)));
                }
            }
            let reflog = format!("mlops: {}", one_line(&draft.summary));
            match self
                .db
                .compare_and_swap(&refname, on_disk, commit, &reflog)?
            {
                Swap::Done => {
                    if self.db.wants_gc() {
                        crate::gitcli::gc_auto_in_background(&self.root());
                    }
                    return Ok(ControlFlow::Continue(record));
                }
                Swap::Lost if Instant::now() < deadline => {
                    let cap = 2u64.pow(attempts.min(6)) * 2;
                    std::thread::sleep(Duration::from_millis(rng.random_range(1..=cap)));
                }
                Swap::Lost => {
                    return Err(Error::Contended {
                        reference: refname,
                        attempts,
                    })
                }
            }
        }
    }

    /// Appends a draft that does not depend on the state it extends (a note,
    /// a run, a drift report).
    pub fn append_draft(&self, entity: &Entity, draft: &Draft) -> Result<Record> {
        match self.append(entity, |_| {
            Ok(ControlFlow::<(), _>::Continue(draft.clone()))
        })? {
            ControlFlow::Continue(record) => Ok(record),
            ControlFlow::Break(()) => unreachable!("the draft is always appended"),
        }
    }
}

impl Store {
    /// Remotes whose records were fetched into `refs/remotes/<r>/mlops/*`
    /// (by `git fetch` with the refspec `mlops init` sets) but not merged:
    /// what a reader that finds nothing local should point at. No network.
    pub fn unmerged_remotes(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .db
            .refs_with_prefix("refs/remotes/")
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(name, _)| {
                let rest = name.strip_prefix("refs/remotes/")?;
                let (remote, tail) = rest.split_once('/')?;
                tail.starts_with("mlops/").then(|| remote.to_string())
            })
            .collect();
        out.dedup();
        out
    }

    /// The hint for an empty listing: records fetched but not merged.
    pub fn empty_hint(&self) -> Option<String> {
        let remotes = self.unmerged_remotes();
        let first = remotes.first()?;
        Some(format!(
            "hint: records fetched from `{first}` are not merged yet: run `mlops sync --no-push{}`",
            if first == "origin" {
                String::new()
            } else {
                format!(" --remote {first}")
            }
        ))
    }
}

/// The record a commit names in its `Mlops-Record:` trailer.
pub fn trailer(message: &str) -> Option<String> {
    message
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(TRAILER))
        .map(|s| s.trim().to_string())
}

/// A commit message for a record: its one-line summary and the trailer;
/// made in CI, also the run that made it (`Mlops-CI-Run:`), so `git log`
/// leads from a record to its pipeline.
pub fn commit_message(summary: &str, record_id: &str) -> String {
    match crate::registry::ci::run_url() {
        Some(url) => format!(
            "{}\n\nMlops-CI-Run: {}\n{TRAILER}{record_id}\n",
            one_line(summary),
            one_line(&url)
        ),
        None => format!("{}\n\n{TRAILER}{record_id}\n", one_line(summary)),
    }
}

fn one_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        "mlops event".to_string()
    } else {
        line.chars().take(200).collect()
    }
}

impl Store {
    /// Every entity (of a kind, or all) with the commit it is at (hex), for
    /// caches keyed by content: its ref, or the archive's entry for a folded
    /// run (a live ref wins: it is the newer).
    pub fn tips(&self, kind: Option<EntityKind>) -> Result<Vec<(Entity, String)>> {
        let prefix = match kind {
            Some(k) => format!("{REF_ROOT}{}/", k.plural()),
            None => REF_ROOT.to_string(),
        };
        let mut out: BTreeMap<Entity, String> = BTreeMap::new();
        for (name, id) in self.db.refs_with_prefix(&prefix)? {
            let Some(rest) = name.strip_prefix(REF_ROOT) else {
                continue;
            };
            let Some((k, n)) = rest.split_once('/') else {
                continue;
            };
            let Some(k) = EntityKind::parse(k) else {
                continue;
            };
            out.insert(
                Entity {
                    kind: k,
                    name: n.to_string(),
                },
                id.to_string(),
            );
        }
        if kind.is_none_or(|k| k == EntityKind::Run) {
            if let Some(a) = self.db.read_ref(archive::REF)? {
                for (run, commit) in archive::read(&self.db, Some(a))?.runs {
                    out.entry(Entity {
                        kind: EntityKind::Run,
                        name: run,
                    })
                    .or_insert_with(|| commit.to_string());
                }
            }
        }
        Ok(out.into_iter().collect())
    }
}
