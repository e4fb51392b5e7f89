//! The `shadow-comparison` record (schema 1), appended to the model's
//! history. Counts, rates and metrics only: no key, no prediction, no label
//! (docs/shadow.md, docs/privacy.md).

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::record::Record;

pub const KIND: &str = "shadow-comparison";
pub const SCHEMA: u64 = 1;

/// One side of the comparison: a version and the record that is it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Side {
    pub version: String,
    pub record: String,
}

/// A data file as the record names it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileRef {
    /// Relative to the repository (or `outside/<name>`).
    pub path: String,
    pub sha256: String,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Files {
    pub champion: FileRef,
    pub challenger: FileRef,
    #[serde(default)]
    pub labels: Option<FileRef>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    /// Rows with a key in each predictions file.
    pub champion: u64,
    pub challenger: u64,
    /// Paired mode: keys in both files.
    #[serde(default)]
    pub joined: Option<u64>,
    #[serde(default)]
    pub unmatched_champion: Option<u64>,
    #[serde(default)]
    pub unmatched_challenger: Option<u64>,
    /// Rows with a label (paired: joined rows; A/B: each arm's rows).
    #[serde(default)]
    pub labelled_champion: Option<u64>,
    #[serde(default)]
    pub labelled_challenger: Option<u64>,
    /// Rows whose key cell was empty (never joined).
    #[serde(default)]
    pub without_key: u64,
}

/// How often both models predicted the same thing on the same rows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Agreement {
    /// `class` (same predicted class) or `value` (equal numbers, within
    /// 1e-6 relative).
    pub rule: String,
    pub rows: u64,
    pub agreeing: u64,
    pub rate: f64,
}

/// The shift between the two models' prediction distributions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Shift {
    /// A statistic of `drift::stats` (its name there).
    pub statistic: String,
    pub score: f64,
    pub threshold: f64,
    pub drift: bool,
}

/// A 95 % bootstrap interval of the difference (challenger − champion).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// One metric for both models on the same (paired) or each arm's own
/// (A/B) labelled rows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetricComparison {
    pub metric: String,
    /// Labelled rows the champion's value is computed on (paired: both).
    pub rows: u64,
    /// A/B: the challenger arm's labelled rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenger_rows: Option<u64>,
    pub champion: Option<f64>,
    pub challenger: Option<f64>,
    /// challenger − champion.
    pub difference: Option<f64>,
    /// How much worse the challenger is (positive = worse), whichever way
    /// the metric points.
    pub worse_by: Option<f64>,
    #[serde(default)]
    pub ci: Option<Interval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl MetricComparison {
    /// `worse_by` at the interval's pessimistic end (the challenger as bad
    /// as the interval allows).
    pub fn worse_by_bound(&self) -> Option<f64> {
        let ci = self.ci.as_ref()?;
        Some(
            if crate::drift::performance::is_error_metric(&self.metric) {
                ci.high
            } else {
                -ci.low
            },
        )
    }
}

/// Metrics per value of a slice column.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SliceResult {
    pub value: String,
    pub metrics: Vec<MetricComparison>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Slices {
    pub column: String,
    /// Slices with fewer labelled rows than this were dropped.
    pub k: u64,
    pub dropped: u64,
    pub values: Vec<SliceResult>,
}

/// How the intervals were drawn.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bootstrap {
    /// `paired` (same rows for both) or `independent` (each arm its own).
    pub method: String,
    pub resamples: u64,
    pub level: f64,
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShadowComparison {
    pub model: String,
    pub challenger: Side,
    pub champion: Side,
    /// The stage the champion was named by (or holds), if any.
    pub stage: Option<String>,
    /// `shadow` (both models scored the same traffic) or `ab`.
    pub mode: String,
    pub key: String,
    pub prediction: String,
    pub label: Option<String>,
    pub files: Files,
    pub counts: Counts,
    pub agreement: Option<Agreement>,
    pub shift: Option<Shift>,
    pub metrics: Vec<MetricComparison>,
    #[serde(default)]
    pub positive_label: Option<String>,
    #[serde(default)]
    pub bootstrap: Option<Bootstrap>,
    #[serde(default)]
    pub slices: Option<Slices>,
}

impl ShadowComparison {
    pub fn metric(&self, name: &str) -> Option<&MetricComparison> {
        self.metrics.iter().find(|m| m.metric == name)
    }

    /// Labelled rows behind a metric (A/B: the smaller arm).
    pub fn labelled_rows(&self, m: &MetricComparison) -> u64 {
        m.challenger_rows.map_or(m.rows, |c| c.min(m.rows))
    }
}

/// The newest comparison in a model's history (oldest first) of this
/// challenger record against this champion record.
pub fn latest(
    records: &[Record],
    challenger: &str,
    champion: &str,
) -> Result<Option<(Record, ShadowComparison)>> {
    for r in records.iter().rev().filter(|r| r.kind() == KIND) {
        let c: ShadowComparison = r.parse()?;
        if c.challenger.record == challenger && c.champion.record == champion {
            return Ok(Some((r.clone(), c)));
        }
    }
    Ok(None)
}
