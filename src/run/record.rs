//! The shape of a `run` record (schema 1) and of a `run-amendment`.
//!
//! A finished run is immutable: what is learnt later (a metric computed on a
//! holdout, a tag, a note) is a `run-amendment` record on the same ref, shown
//! as such. MLflow overwrites a finished run's metric in place; an audit trail
//! cannot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::SummaryRule;

pub const KIND: &str = "run";
pub const AMENDMENT: &str = "run-amendment";
pub const SCHEMA: u64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Finished,
    Failed,
    Killed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Finished => "finished",
            Status::Failed => "failed",
            Status::Killed => "killed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetricSummary {
    /// The value `runs list` shows, chosen by `rule`.
    pub value: f64,
    pub rule: SummaryRule,
    pub step: Option<i64>,
    pub last: f64,
    pub min: f64,
    pub max: f64,
    pub count: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CodeInfo {
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub dirty: bool,
    /// SHA-256 of `git diff HEAD --binary`: the exact uncommitted change.
    pub diff_sha256: Option<String>,
    pub untracked_files: u64,
    pub remote: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    pub os: String,
    pub arch: String,
    pub cpus: u64,
    pub hostname: Option<String>,
    pub mlops: String,
    pub python: Option<String>,
    pub git: Option<String>,
    /// Allowed and requested variables (`run::environment`), never one whose
    /// name looks like a secret or whose value holds a credential.
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Input {
    /// `train`, `val`, `test` or `input`.
    pub role: String,
    /// A tracked dataset's name, when the input is one.
    pub dataset: Option<String>,
    /// The dataset version record id.
    pub version: Option<String>,
    pub path: String,
    /// Merkle root of the files, so an untracked input is pinned too.
    pub root: String,
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Artifact {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// How the file leads out of the repository (`--allow-outside`): `symlink`
    /// (the path is the link's, the content its target's) or `path` (named
    /// outside the work tree, recorded as `outside/<name>`). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside: Option<crate::outside::Outside>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub run_id: String,
    pub name: Option<String>,
    pub experiment: String,
    pub status: Status,
    pub started_at: String,
    pub ended_at: String,
    pub duration_s: f64,
    /// The argv, secrets redacted; empty when tracked with `--no-command`.
    pub command: Vec<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Typed values: number, string or bool.
    pub params: BTreeMap<String, Value>,
    pub metrics: BTreeMap<String, MetricSummary>,
    /// Attachment id of the full history (`step`, `value`, `time` per metric).
    pub metric_history: Option<String>,
    pub code: Option<CodeInfo>,
    pub environment: Environment,
    pub inputs: Vec<Input>,
    pub artifacts: Vec<Artifact>,
    pub tags: BTreeMap<String, String>,
    pub notes: Option<String>,
    /// Problems met while collecting (bad metric lines, missing artifacts).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The fields whose values were replaced by `<redacted>` (`command[3]`,
    /// `params.db.password`, `notes`) or, for `environment.vars.NAME`, left
    /// out, because they held or looked like secrets; never the values.
    /// Absent when nothing was redacted, so records without it read the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Amendment {
    pub run_id: String,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub note: Option<String>,
    /// As on the run: `tags.NAME` and `note` when redacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}
