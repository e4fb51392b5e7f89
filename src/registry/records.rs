//! Record shapes of the registry (schema 1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::run::record::{Artifact, Input};

pub const VERSION: &str = "model-version";
pub const PROMOTION: &str = "promotion";
pub const ROLLBACK: &str = "rollback";
pub const DEPRECATION: &str = "deprecation";
pub const SUPERSEDE: &str = "supersede";
pub const SCHEMA: u64 = 1;

/// The inventory entry of `mlops.toml` as it stood when the event happened.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Inventory {
    pub owner: Option<String>,
    pub purpose: Option<String>,
    pub intended_use: Option<String>,
    pub limitations: Option<String>,
    pub risk_tier: Option<String>,
    #[serde(default)]
    pub card: BTreeMap<String, String>,
}

impl Inventory {
    pub fn from_config(c: Option<&crate::config::ModelConfig>) -> Inventory {
        match c {
            Some(c) => Inventory {
                owner: c.owner.clone(),
                purpose: c.purpose.clone(),
                intended_use: c.intended_use.clone(),
                limitations: c.limitations.clone(),
                risk_tier: c.risk_tier.clone(),
                card: c.card.clone(),
            },
            None => Inventory::default(),
        }
    }

    /// A model-card field by name: the named fields first, then `card`.
    pub fn field(&self, name: &str) -> Option<&str> {
        let v = match name {
            "owner" => self.owner.as_deref(),
            "purpose" => self.purpose.as_deref(),
            "intended_use" => self.intended_use.as_deref(),
            "limitations" => self.limitations.as_deref(),
            "risk_tier" => self.risk_tier.as_deref(),
            other => self.card.get(other).map(String::as_str),
        };
        v.filter(|s| !s.trim().is_empty())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelVersion {
    pub model: String,
    pub version: String,
    pub run_id: Option<String>,
    /// The run record's id: the lineage link to data and code.
    pub run_record: Option<String>,
    pub artifacts: Vec<Artifact>,
    /// The run's metric summary values, copied so the version stands alone.
    pub metrics: BTreeMap<String, f64>,
    pub datasets: Vec<Input>,
    pub code_commit: Option<String>,
    pub inventory: Inventory,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GateResult {
    pub gate: String,
    pub expected: String,
    pub actual: String,
    pub pass: bool,
}

/// An approval as a promotion records it: who, in which role, how it was
/// given (`signed`: an approval record signed by the approver;
/// `asserted`: typed by the promoter with `--approved-by`), and whether the
/// gate counted it, with the reason when not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Approval {
    pub who: String,
    pub role: Option<String>,
    pub when: String,
    #[serde(default = "asserted")]
    pub source: String,
    /// The approval record, for a signed approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The signing key's fingerprint, for a signed approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default = "yes")]
    pub counted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_counted: Option<String>,
}

fn asserted() -> String {
    "asserted".into()
}

fn yes() -> bool {
    true
}

pub const APPROVAL: &str = "approval";

/// A file the approver's decision rests on (a validation report), pinned by
/// its hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Evidence {
    pub path: String,
    pub sha256: String,
}

/// `mlops approve`: an approval made by the approver, on the model's chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApprovalRecord {
    pub model: String,
    pub version: String,
    /// The exact version record approved.
    pub version_record: String,
    pub stage: String,
    /// The approver's e-mail address (normalised).
    pub approver: String,
    pub role: Option<String>,
    pub comment: Option<String>,
    pub evidence: Vec<Evidence>,
    /// The signed bytes: the canonical JSON of the fields above and the
    /// signing namespace. What a signature covers — not the record's place
    /// in the chain, so an approval survives losing a race to another writer.
    pub statement: String,
    /// `None` for an approval made with `--unsigned`.
    pub signature: Option<crate::signing::Signature>,
}

impl ApprovalRecord {
    /// The statement these fields make (what must have been signed).
    pub fn expected_statement(&self) -> String {
        statement(
            &self.model,
            &self.version,
            &self.version_record,
            &self.stage,
            &self.approver,
            self.role.as_deref(),
            self.comment.as_deref(),
            &self.evidence,
        )
    }
}

/// The canonical statement an approval signs.
#[allow(clippy::too_many_arguments)]
pub fn statement(
    model: &str,
    version: &str,
    version_record: &str,
    stage: &str,
    approver: &str,
    role: Option<&str>,
    comment: Option<&str>,
    evidence: &[Evidence],
) -> String {
    let value = serde_json::json!({
        "approval": {
            "model": model,
            "version": version,
            "version_record": version_record,
            "stage": stage,
            "approver": approver,
            "role": role,
            "comment": comment,
            "evidence": evidence,
            "namespace": crate::signing::APPROVAL_NAMESPACE,
        }
    });
    String::from_utf8(crate::record::canonical_bytes(&value)).expect("JSON is UTF-8")
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CiContext {
    pub provider: String,
    pub run_url: Option<String>,
    pub pull_request: Option<String>,
    pub pr_author: Option<String>,
    pub actor: Option<String>,
    pub commit: Option<String>,
}

/// A promotion, rollback or deprecation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Promotion {
    pub model: String,
    pub version: String,
    /// The version record being moved.
    pub version_record: String,
    /// The stage the version was in before (its highest), if any.
    pub from_stage: Option<String>,
    /// The stage it enters; `None` for a deprecation.
    pub to_stage: Option<String>,
    /// The version that held `to_stage` before, replaced by this event.
    pub replaces: Option<String>,
    /// Its record (absent in promotions recorded before mlops 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_record: Option<String>,
    /// `promoted`, `overridden`, `rolled-back` or `deprecated`.
    pub decision: String,
    pub gates: Vec<GateResult>,
    pub approvals: Vec<Approval>,
    pub reason: Option<String>,
    #[serde(rename = "override")]
    pub is_override: bool,
    pub code_commit: Option<String>,
    pub ci: Option<CiContext>,
    pub inventory: Inventory,
    /// The policy the gates were read from (absent before mlops 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::registry::policy::PolicyRef>,
}

/// Settles a version string claimed by several records (two clones that
/// registered the same version independently): `kept` is the version from
/// now on; the others stay in the history, resolvable only by record id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Supersede {
    pub model: String,
    pub version: String,
    pub kept: String,
    pub superseded: Vec<String>,
    pub reason: String,
}
