//! The record store: records as git blobs, one ref per entity, one commit per
//! event (DESIGN.md, "Storage model").
//!
//! `refs/mlops/<kind>/<name>` points at a commit whose tree holds every record of
//! the entity as `<kind>/<hex>.json` and every attachment as `attachments/<hex>`;
//! each new event is a commit on top of the previous tip, so `git log`,
//! `git push` and `git fetch` work on the history unchanged. Objects are written
//! before the ref moves, and the ref moves by compare-and-swap, so a crash or a
//! lost race leaves at most unreachable objects, never a half-written history.

mod gitdb;
pub mod order;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gix::ObjectId;
use rand::Rng;

use crate::context;
use crate::error::{Error, Result};
use crate::names;
use crate::record::{self, Draft, Envelope, Record};
pub use gitdb::{GitDb, Swap};

pub const REF_ROOT: &str = "refs/mlops/";
/// The trailer that names the newest record in a commit message, so an append
/// learns `prev` from one commit instead of reading the whole history.
const TRAILER: &str = "Mlops-Record: ";
const ATTACHMENTS: &str = "attachments";

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
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind.singular(), self.name)
    }
}

/// The current tip of an entity, read once per append attempt.
pub struct Tip<'s> {
    store: &'s Store,
    pub entity: Entity,
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
}

/// An entity's records, oldest first, and where its attachments are.
#[derive(Debug, Default)]
pub struct History {
    pub records: Vec<Record>,
    pub tip: Option<ObjectId>,
    tree: Option<ObjectId>,
}

impl History {
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

/// Where a record lives in its entity's tree.
fn record_path(record: &Record) -> String {
    format!("{}/{}.json", record.kind(), record.hex())
}

impl Store {
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

    /// Every entity that has a history, optionally of one kind, sorted by name.
    pub fn entities(&self, kind: Option<EntityKind>) -> Result<Vec<Entity>> {
        let prefix = match kind {
            Some(k) => format!("{REF_ROOT}{}/", k.plural()),
            None => REF_ROOT.to_string(),
        };
        let mut out: Vec<Entity> = self
            .db
            .refs_with_prefix(&prefix)?
            .into_iter()
            .filter_map(|(name, _)| {
                let rest = name.strip_prefix(REF_ROOT)?;
                let (k, n) = rest.split_once('/')?;
                Some(Entity {
                    kind: EntityKind::parse(k)?,
                    name: n.to_string(),
                })
            })
            .collect();
        out.sort();
        Ok(out)
    }

    pub fn tip(&self, entity: &Entity) -> Result<Tip<'_>> {
        let commit = self.db.read_ref(&entity.refname())?;
        let (tree, latest) = match commit {
            Some(c) => {
                let info = self.db.commit_info(c)?;
                let latest = info
                    .message
                    .lines()
                    .rev()
                    .find_map(|l| l.strip_prefix(TRAILER))
                    .map(|s| s.trim().to_string());
                (Some(info.tree), latest)
            }
            None => (None, None),
        };
        Ok(Tip {
            store: self,
            entity: entity.clone(),
            commit,
            tree,
            latest,
        })
    }

    /// The underlying object database, for whole-history checks (`verify`).
    pub fn db(&self) -> &GitDb {
        &self.db
    }

    pub fn exists(&self, entity: &Entity) -> Result<bool> {
        Ok(self.db.read_ref(&entity.refname())?.is_some())
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
        let tip = self.db.read_ref(&entity.refname())?;
        self.history_at(tip)
    }

    fn history_at(&self, tip: Option<ObjectId>) -> Result<History> {
        let Some(commit) = tip else {
            return Ok(History::default());
        };
        let tree = self.db.commit_info(commit)?.tree;
        let mut records = Vec::new();
        for (folder, file, bytes) in self.db.read_tree_files(tree, &[ATTACHMENTS])? {
            if folder == ATTACHMENTS {
                continue;
            }
            let hex = file.strip_suffix(".json").unwrap_or(&file);
            let record = Record::from_bytes(&bytes, Some(hex)).map_err(|e| match e {
                Error::CorruptRecord { reason, .. } => Error::CorruptRecord {
                    id: format!("{folder}/{file}"),
                    reason,
                },
                other => other,
            })?;
            if record.kind() != folder {
                return Err(Error::CorruptRecord {
                    id: format!("{folder}/{file}"),
                    reason: format!("a `{}` record filed under `{folder}`", record.kind()),
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
        let tree = history
            .tree
            .ok_or_else(|| Error::NotFound(format!("attachment `{id}`")))?;
        let path = format!("{ATTACHMENTS}/{}", record::hex_of(id));
        let bytes = self
            .db
            .read_tree_file(tree, &path)?
            .ok_or_else(|| Error::NotFound(format!("attachment `{id}`")))?;
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
    /// `build` sees the current tip and returns the draft to append, or an
    /// error to refuse (e.g. a gate that no longer passes). If another writer
    /// moves the ref first, the tip is re-read and `build` runs again, so the
    /// decision is always made against the state the event extends. Appending
    /// a record that is already in the history is a no-op that returns it.
    pub fn append<F>(&self, entity: &Entity, mut build: F) -> Result<Record>
    where
        F: FnMut(&Tip) -> Result<Draft>,
    {
        let actor = self.identity()?;
        let tool = context::tool_version();
        let refname = entity.refname();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut rng = rand::rng();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let tip = self.tip(entity)?;
            let draft = build(&tip)?;
            let created_at = context::now_timestamp();
            let record = draft.seal(&Envelope {
                created_at: &created_at,
                actor: &actor,
                tool: &tool,
                prev: tip.latest.as_deref(),
            })?;
            let mut files: Vec<(String, &[u8])> = vec![(record_path(&record), record.bytes())];
            let attachment_paths: Vec<String> = draft
                .attachments
                .iter()
                .map(|a| format!("{ATTACHMENTS}/{}", record::hex_of(&record::content_id(a))))
                .collect();
            for (path, bytes) in attachment_paths.iter().zip(&draft.attachments) {
                files.push((path.clone(), bytes.as_slice()));
            }
            let tree = self.db.tree_with(tip.tree, &files)?;
            // An unchanged tree means the record is already in the history
            // (appends are idempotent); checking here avoids a second parse
            // of a large tree.
            if Some(tree) == tip.tree {
                return Ok(record);
            }
            let message = format!("{}\n\n{TRAILER}{}\n", one_line(&draft.summary), record.id());
            let parents: Vec<ObjectId> = tip.commit.into_iter().collect();
            let commit = self.db.commit(&message, tree, &parents)?;
            let reflog = format!("mlops: {}", one_line(&draft.summary));
            match self
                .db
                .compare_and_swap(&refname, tip.commit, commit, &reflog)?
            {
                Swap::Done => return Ok(record),
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
    /// Every entity of a kind with the commit its ref points at (hex), for
    /// caches keyed by content.
    pub fn tips(&self, kind: EntityKind) -> Result<Vec<(Entity, String)>> {
        let prefix = format!("{REF_ROOT}{}/", kind.plural());
        let mut out: Vec<(Entity, String)> = self
            .db
            .refs_with_prefix(&prefix)?
            .into_iter()
            .filter_map(|(name, id)| {
                let n = name.strip_prefix(&prefix)?;
                Some((
                    Entity {
                        kind,
                        name: n.to_string(),
                    },
                    id.to_string(),
                ))
            })
            .collect();
        out.sort();
        Ok(out)
    }
}
