//! The `drift-report` record as one Rust type, shared by the writer
//! (`mlops drift`), the monitor's history, the promotion gate and the audit
//! report, so a field cannot be written under one name and read under
//! another with a silent default (docs/monitoring.md, "The record").
//!
//! The drift engine's full report is kept whole: the fields readers use are
//! typed, the rest travels in `rest` unchanged, so a record written by a
//! newer version loses nothing when an older one reads it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::labels::LateLabels;
use super::{CurrentFile, Judged, ReferenceInfo};
use crate::drift::{Performance, Report};
use crate::error::{Error, Result};

pub const KIND: &str = "drift-report";
/// 2: `late_labels` and `judged`; `reference` optional (a late-label
/// monitor compares with the model's recorded metric only). Whether the
/// model degraded is read from the report's performance, never stored twice.
pub const SCHEMA: u64 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriftRecord {
    pub monitor: String,
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceInfo>,
    #[serde(default)]
    pub current: Vec<CurrentFile>,
    /// The options the run used (thresholds, tests, privacy policy).
    #[serde(default)]
    pub config: Value,
    pub dataset_drift: bool,
    pub share: f64,
    pub drifted: u64,
    pub tested: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_labels: Option<LateLabels>,
    /// The model version the run judged, so a new version in the guarded
    /// stage is judged afresh on data an older one was judged on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged: Option<Judged>,
    pub report: RecordedReport,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedReport {
    /// Rows in the reference and the current data.
    #[serde(default)]
    pub rows: (u64, u64),
    #[serde(default)]
    pub columns: Vec<RecordedColumn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance: Option<Performance>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedColumn {
    pub column: String,
    #[serde(default)]
    pub test: Option<String>,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub drift: bool,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl DriftRecord {
    pub fn is_degraded(&self) -> bool {
        self.report.performance.as_ref().is_some_and(|p| p.degraded)
    }

    /// A finding that fails a run: drift, a degraded model, or a prediction
    /// batch rewritten after it was served (one definition for the exit
    /// code of a repeated run, the drift gate and the history).
    pub fn breached(&self) -> bool {
        self.dataset_drift || self.is_degraded() || self.tampered()
    }

    pub fn tampered(&self) -> bool {
        self.late_labels.as_ref().is_some_and(|l| l.tampered())
    }

    /// Every file the run read as today's data, by content: what the
    /// monitor has seen, whatever the files are called now or when.
    pub fn seen(&self) -> impl Iterator<Item = &str> {
        self.current.iter().map(|f| f.sha256.as_str())
    }
}

/// The engine's report as a record keeps it: the numbers, not the charts
/// (those are for the HTML page).
pub fn recorded(report: &Report) -> Result<RecordedReport> {
    let mut value = serde_json::to_value(report).map_err(|e| Error::invalid(e.to_string()))?;
    if let Some(cols) = value.get_mut("columns").and_then(|c| c.as_array_mut()) {
        for c in cols {
            if let Some(obj) = c.as_object_mut() {
                obj.remove("chart");
            }
        }
    }
    serde_json::from_value(value).map_err(|e| Error::invalid(e.to_string()))
}

/// The drift reports of a monitor's history, oldest first, typed. A record
/// of the kind that does not read is corrupt, not skipped: `verify` and the
/// gate must not see less than was written.
pub fn all(history: &crate::store::History) -> Result<Vec<(&crate::record::Record, DriftRecord)>> {
    history
        .of_kind(KIND)
        .map(|r| Ok((r, r.parse::<DriftRecord>()?)))
        .collect()
}
