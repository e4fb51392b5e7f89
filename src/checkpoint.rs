//! Checkpoints: a record that pins the head of every chain, so that a later
//! rewrite — a consistently re-hashed history, a truncated chain, a deleted
//! ref — is caught by `mlops verify` wherever a copy of the checkpoint lives
//! outside the rewriter's reach (pushed to the team's remote, written into an
//! audit report, handed to a regulator). Without one, someone with push
//! rights can rewrite history consistently; docs/reliability.md says so.
//!
//! Checkpoints form their own chain on `refs/mlops/checkpoints`. A checkpoint
//! is only recorded when `verify` passes, including against the previous
//! checkpoint, so each one vouches for every earlier one.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::{self, Draft, Record};
use crate::store::{trailer, Store, REF_ROOT};

pub const REF: &str = "refs/mlops/checkpoints";
pub const KIND: &str = "checkpoint";
const SCHEMA: u64 = 1;
/// More heads than this go into an attachment instead of the record.
const INLINE_HEADS: usize = 200;

/// One pinned head: a chain's ref, its commit and the newest record there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Head {
    pub refname: String,
    pub commit: String,
    pub record: Option<String>,
}

/// The body of a checkpoint record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    pub count: usize,
    /// SHA-256 of the canonical JSON list of heads, wherever they are kept.
    pub digest: String,
    pub heads: Option<Vec<Head>>,
    /// Attachment id of the heads list when it is long.
    pub heads_blob: Option<String>,
}

/// A checkpoint with its heads, as `mlops checkpoint --json` prints it and as
/// audit reports embed it: everything `verify --checkpoint FILE` needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pinned {
    pub id: String,
    pub created_at: String,
    pub actor: String,
    pub heads: Vec<Head>,
    /// The checkpoint record itself, canonical, so its id can be re-derived.
    pub record: serde_json::Value,
}

fn digest(heads: &[Head]) -> Result<(Vec<u8>, String)> {
    let bytes = serde_json::to_vec(heads).map_err(|e| Error::invalid(e.to_string()))?;
    let id = record::content_id(&bytes);
    Ok((bytes, id))
}

/// The heads of every chain now (the checkpoints' own ref excepted).
pub fn current_heads(store: &Store) -> Result<Vec<Head>> {
    let db = store.db();
    let mut heads = Vec::new();
    for (refname, commit) in db.refs_with_prefix(REF_ROOT)? {
        if refname == REF {
            continue;
        }
        let message = db.commit_info(commit)?.message;
        heads.push(Head {
            refname,
            commit: commit.to_string(),
            record: trailer(&message),
        });
    }
    heads.sort();
    Ok(heads)
}

/// Records a checkpoint of the current heads.
pub fn record(store: &Store) -> Result<Pinned> {
    let heads = current_heads(store)?;
    if heads.is_empty() {
        return Err(Error::invalid_with_hint(
            "there is nothing to checkpoint: the repository has no records",
            "record something first (`mlops track`, `mlops data add`, ...)",
        ));
    }
    let (bytes, digest) = digest(&heads)?;
    let mut draft = Draft::new(KIND, SCHEMA, format!("checkpoint of {} heads", heads.len()));
    let body = if heads.len() <= INLINE_HEADS {
        Checkpoint {
            count: heads.len(),
            digest,
            heads: Some(heads.clone()),
            heads_blob: None,
        }
    } else {
        Checkpoint {
            count: heads.len(),
            digest,
            heads: None,
            heads_blob: Some(draft.attach(bytes)),
        }
    };
    let draft = draft.with_body(&body)?;
    let appended = store.append_to_ref(REF, |_| {
        Ok(ControlFlow::<std::convert::Infallible, _>::Continue(
            draft.clone(),
        ))
    })?;
    let ControlFlow::Continue(record) = appended;
    Ok(pinned(&record, heads))
}

fn pinned(record: &Record, heads: Vec<Head>) -> Pinned {
    Pinned {
        id: record.id().to_string(),
        created_at: record.created_at().to_string(),
        actor: record.actor().to_string(),
        heads,
        record: record.value().clone(),
    }
}

/// The heads a checkpoint record pins, checked against its digest.
fn heads_of(store: &Store, history: &crate::store::History, r: &Record) -> Result<Vec<Head>> {
    let body: Checkpoint = r.parse()?;
    let heads = match (&body.heads, &body.heads_blob) {
        (Some(h), _) => h.clone(),
        (None, Some(blob)) => {
            let bytes = store.attachment(history, blob)?;
            serde_json::from_slice(&bytes).map_err(|e| Error::CorruptRecord {
                id: blob.clone(),
                reason: format!("not a list of heads: {e}"),
            })?
        }
        (None, None) => Vec::new(),
    };
    check_digest(r.id(), &body, &heads)?;
    Ok(heads)
}

fn check_digest(id: &str, body: &Checkpoint, heads: &[Head]) -> Result<()> {
    if digest(heads)?.1 != body.digest || heads.len() != body.count {
        return Err(Error::CorruptRecord {
            id: id.to_string(),
            reason: "its heads do not match its digest".into(),
        });
    }
    Ok(())
}

/// The newest checkpoint of this repository, if any.
pub fn latest(store: &Store) -> Result<Option<Pinned>> {
    let history = store.history_of_ref(REF)?;
    let Some(r) = history.records.iter().rev().find(|r| r.kind() == KIND) else {
        return Ok(None);
    };
    let heads = heads_of(store, &history, r)?;
    Ok(Some(pinned(r, heads)))
}

/// A checkpoint kept outside the repository (`mlops checkpoint --json`
/// output, or the copy in an audit report's `report.json`), checked to be
/// exactly what was recorded: the record hashes to its id and the heads to
/// the record's digest.
pub fn from_file(path: &std::path::Path) -> Result<Pinned> {
    let bad = |reason: String| {
        Error::invalid_with_hint(
            format!("`{}` is not a checkpoint: {reason}", path.display()),
            "pass the output of `mlops checkpoint --json` or an audit report's `report.json`",
        )
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read `{}`", path.display()), e))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON ({e})")))?;
    // An audit report's evidence bundle carries it under `checkpoint`.
    let value = value.get("checkpoint").cloned().unwrap_or(value);
    let pinned: Pinned =
        serde_json::from_value(value).map_err(|e| bad(format!("unexpected shape ({e})")))?;
    let record = Record::from_value(pinned.record.clone()).map_err(|e| bad(e.to_string()))?;
    if record.id() != pinned.id || record.kind() != KIND {
        return Err(bad(format!(
            "its record hashes to {}, not to the id it gives ({})",
            record.id(),
            pinned.id
        )));
    }
    let body: Checkpoint = record.parse()?;
    check_digest(record.id(), &body, &pinned.heads).map_err(|e| bad(e.to_string()))?;
    Ok(pinned)
}
