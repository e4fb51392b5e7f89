//! `mlops verify --signatures`: who signed each record (docs/governance.md).
//!
//! A record is vouched for by the signature on the commit that added it
//! (`commit.gpgsign`, or a CI bot key) and, for an approval, by the
//! signature inside the record. SSH signatures are checked in process
//! against the committed `allowed_signers` (spawning `ssh-keygen` per record
//! would take minutes over 100,000 records); an OpenPGP signature is
//! reported as `unchecked`. `--require-signatures` makes anything but
//! `good` an error for the record kinds the policy names
//! (`[signing] require`, by default approvals and promotions to production).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Result;
use crate::registry::records::{ApprovalRecord, Promotion, APPROVAL, PROMOTION};
use crate::signing::{normalise_email, verify_ssh, AllowedSigner};
use crate::store::{trailer, Entity, Store};

/// One record's signature status.
#[derive(Debug, Clone, Serialize)]
pub struct Signed {
    pub entity: String,
    pub record: String,
    pub kind: String,
    /// `good`, `bad`, `unknown-key`, `wrong-signer`, `unsigned` or
    /// `unchecked` (OpenPGP).
    pub status: String,
    /// Who the allowed signers say signed (for `good`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Whether the policy requires this record to be signed.
    pub required: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub records: Vec<Signed>,
    pub counts: BTreeMap<String, usize>,
    /// Required records whose status is not `good`.
    pub failing: usize,
}

/// The status of an SSH or OpenPGP signature over `payload`, made by `actor`.
fn judge(
    armored: &str,
    payload: &[u8],
    namespace: &str,
    actor: &str,
    allowed: &[AllowedSigner],
) -> (String, Option<String>, Option<String>) {
    if !armored.contains("BEGIN SSH SIGNATURE") {
        return (
            "unchecked".into(),
            None,
            Some("OpenPGP: check with `git verify-commit`".into()),
        );
    }
    match verify_ssh(payload, armored, namespace, allowed) {
        Ok(v) => {
            let who = normalise_email(actor);
            if v.principals.contains(&who) {
                ("good".into(), Some(who), None)
            } else {
                (
                    "wrong-signer".into(),
                    v.principals.first().cloned(),
                    Some(format!(
                        "recorded by {who}, signed with a key of {}",
                        v.principals.join(", ")
                    )),
                )
            }
        }
        Err(why) if why.contains("not in allowed_signers") => {
            ("unknown-key".into(), None, Some(why))
        }
        Err(why) => ("bad".into(), None, Some(why)),
    }
}

/// Whether the policy requires a record of this kind to be signed.
fn required(kinds: &[String], record: &crate::record::Record) -> bool {
    kinds.iter().any(|k| match k.split_once(':') {
        // `promotion:production`: promotions to that stage only.
        Some((kind, stage)) => {
            record.kind() == kind
                && record
                    .parse::<Promotion>()
                    .ok()
                    .and_then(|p| p.to_stage)
                    .is_some_and(|s| s == stage)
        }
        None => record.kind() == k,
    })
}

pub fn check(
    store: &Store,
    only: Option<&Entity>,
    allowed: &[AllowedSigner],
    require: &[String],
) -> Result<Report> {
    let mut report = Report::default();
    let entities: Vec<Entity> = match only {
        Some(e) => vec![e.clone()],
        None => store.entities(None)?,
    };
    for entity in entities {
        let history = store.history(&entity)?;
        let Some(tip) = history.tip else { continue };
        let by_id: BTreeMap<&str, &crate::record::Record> =
            history.records.iter().map(|r| (r.id(), r)).collect();
        for (commit, info) in store.db().commits(tip)? {
            let Some(id) = trailer(&info.message) else {
                continue;
            };
            let Some(record) = by_id.get(id.as_str()) else {
                continue;
            };
            let mut status = match store.db().commit_signature(commit)? {
                Some((sig, payload)) => judge(&sig, &payload, "git", record.actor(), allowed),
                None => ("unsigned".into(), None, None),
            };
            // An approval carries its approver's own signature.
            if record.kind() == APPROVAL && status.0 != "good" {
                if let Ok(a) = record.parse::<ApprovalRecord>() {
                    if let Some(sig) = &a.signature {
                        status = judge(
                            &sig.armored,
                            a.statement.as_bytes(),
                            crate::signing::APPROVAL_NAMESPACE,
                            &a.approver,
                            allowed,
                        );
                    }
                }
            }
            let is_required = required(require, record);
            if is_required && status.0 != "good" {
                report.failing += 1;
            }
            *report.counts.entry(status.0.clone()).or_default() += 1;
            report.records.push(Signed {
                entity: entity.to_string(),
                record: id,
                kind: record.kind().to_string(),
                status: status.0,
                signer: status.1,
                detail: status.2,
                required: is_required,
            });
        }
    }
    Ok(report)
}

/// The kinds signed by default: approvals, and promotions to production.
pub fn default_required() -> Vec<String> {
    vec![APPROVAL.to_string(), format!("{PROMOTION}:production")]
}
