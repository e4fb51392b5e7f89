//! `mlops approve`: an approval made by the approver, under their own git
//! identity and signed with their own key (docs/governance.md).
//!
//! The record names the exact version *record* approved (not only its
//! version string), the stage, the role claimed and the evidence files by
//! their SHA-256; its `statement` — the canonical JSON of those fields — is
//! what the signature covers, so the approval stays valid whatever its place
//! in the chain (a lost compare-and-swap race re-appends it unchanged).

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::record::{Draft, Record};
use crate::registry::policy::Policy;
use crate::registry::promote::existing_state;
use crate::registry::records::{statement, ApprovalRecord, Evidence, APPROVAL, SCHEMA};
use crate::registry::spec::Selector;
use crate::signing::{normalise_email, APPROVAL_NAMESPACE};
use crate::store::{Entity, EntityKind, Store};

pub struct ApproveOptions {
    pub model: String,
    pub selector: Selector,
    pub stage: String,
    pub role: Option<String>,
    pub comment: Option<String>,
    pub evidence: Vec<PathBuf>,
    pub cwd: PathBuf,
    /// Record the approval without a signature (counts only where the gate
    /// does not ask for signed approvals).
    pub unsigned: bool,
}

fn evidence(cwd: &Path, root: &Path, files: &[PathBuf]) -> Result<Vec<Evidence>> {
    let mut out = Vec::new();
    for f in files {
        let hashed = crate::run::artifacts::hash(cwd, root, f, false)?.ok_or_else(|| {
            Error::invalid_with_hint(
                format!("evidence `{}` does not exist", f.display()),
                "pass the files the approval rests on (a validation report)",
            )
        })?;
        out.extend(hashed.into_iter().map(|a| Evidence {
            path: a.path,
            sha256: a.sha256,
        }));
    }
    Ok(out)
}

pub fn approve(
    store: &Store,
    policy: &Policy,
    opts: &ApproveOptions,
) -> Result<(Record, ApprovalRecord)> {
    let config = &policy.config;
    let approver = normalise_email(&store.identity()?);
    let stages = crate::registry::gates::stages_of(config.model(&opts.model));
    if !stages.contains(&opts.stage) {
        return Err(Error::invalid_with_hint(
            format!("model `{}` has no stage `{}`", opts.model, opts.stage),
            format!("its stages are {}", stages.join(", ")),
        ));
    }
    if let Some(role) = &opts.role {
        let r = config.roles.get(role).ok_or_else(|| {
            Error::invalid_with_hint(
                format!("`--role {role}`: no such role in mlops.toml"),
                format!(
                    "roles are defined under [roles.<name>]; defined: {}",
                    config.roles.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        if !r.members.iter().any(|m| normalise_email(m) == approver) {
            return Err(Error::invalid_with_hint(
                format!("you ({approver}) are not a member of role `{role}`"),
                format!("its members are listed under [roles.{role}] in the committed mlops.toml"),
            ));
        }
    }
    let evidence = evidence(&opts.cwd, &store.root(), &opts.evidence)?;
    let signer = match (store.signer(), opts.unsigned) {
        (_, true) => None,
        (Some(s), false) => Some(s),
        (None, false) => {
            return Err(Error::invalid_with_hint(
                "git is not configured to sign: an approval is signed with the approver's own key",
                "set `git config gpg.format ssh` and `git config user.signingkey <your key>` (docs/governance.md), or pass `--unsigned` (it will not satisfy a gate that needs signatures)",
            ))
        }
    };
    let entity = Entity::new(EntityKind::Model, &opts.model)?;
    // The version and the signature are settled before the append: the
    // statement names the version record, which a race cannot change.
    let state = existing_state(&opts.model, &store.history(&entity)?)?;
    let version = state.resolve(&opts.selector)?.clone();
    let text = statement(
        &opts.model,
        &version.version.version,
        &version.record,
        &opts.stage,
        &approver,
        opts.role.as_deref(),
        opts.comment.as_deref(),
        &evidence,
    );
    let signature = match &signer {
        Some(s) => Some(s.sign(text.as_bytes(), APPROVAL_NAMESPACE)?),
        None => None,
    };
    let body = ApprovalRecord {
        model: opts.model.clone(),
        version: version.version.version.clone(),
        version_record: version.record.clone(),
        stage: opts.stage.clone(),
        approver: approver.clone(),
        role: opts.role.clone(),
        comment: opts.comment.clone(),
        evidence,
        statement: text,
        signature,
    };
    // The approver is the record's actor: the summary does not repeat the
    // address (`mlops scan` treats summaries as free text).
    let summary = format!(
        "approve {}@{} for {}{} ({})",
        opts.model,
        version.version.version,
        opts.stage,
        opts.role
            .as_deref()
            .map(|r| format!(" as {r}"))
            .unwrap_or_default(),
        if body.signature.is_some() {
            "signed"
        } else {
            "unsigned"
        }
    );
    let draft = Draft::new(APPROVAL, SCHEMA, summary).with_body(&body)?;
    let appended = store.append(&entity, |_| {
        Ok(ControlFlow::<Infallible, _>::Continue(draft.clone()))
    })?;
    let ControlFlow::Continue(record) = appended;
    Ok((record, body))
}
