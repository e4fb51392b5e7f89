//! Late labels (docs/monitoring.md, "Late labels"): the truth about a
//! prediction often arrives weeks after it was served — a loan defaults, a
//! customer churns. A late-label monitor joins the labels that have arrived
//! to the prediction batches the team keeps, by a key, over a window, and
//! judges the model's metric on the joined rows against the value recorded
//! at training time.
//!
//! The batches stay the team's files; the monitor records only their paths
//! and SHA-256 (never a row or a key, docs/privacy.md). What it has seen it
//! knows from its own records, by content — not from file times, which a
//! fresh CI clone resets — so a batch that changed or disappeared since it
//! was first seen is reported by name, and never silently re-joined.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{display_rel, CurrentFile};
use crate::config::MonitorConfig;
use crate::drift::load::{key_text, Cell, Dtype, Table};
use crate::drift::{Performance, Report};
use crate::error::{Error, Result};

/// Batches first seen longer ago than this are out of the window.
pub const DEFAULT_WINDOW_DAYS: u32 = 90;
/// Fewer labelled rows than this are reported, not judged: a metric over a
/// handful of early labels would roll production back on noise.
pub const DEFAULT_MIN_ROWS: u64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LateLabels {
    pub key: String,
    pub window_days: u32,
    pub min_rows: u64,
    pub batches: Vec<Batch>,
    /// The label files read this run.
    pub labels: Vec<CurrentFile>,
    /// Prediction rows that found their label.
    pub labelled_rows: u64,
    /// Keys that appear more than once among the labels (the first wins).
    pub duplicate_label_keys: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Batch {
    pub path: String,
    /// The content first seen under this path.
    pub sha256: String,
    pub first_seen: String,
    pub status: BatchStatus,
    #[serde(default)]
    pub rows: u64,
    #[serde(default)]
    pub labelled: u64,
    /// A changed batch: what is on disk now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// The version record in the guarded stage when the batch was first
    /// seen — the version that served it. Only a version's own batches
    /// judge it: after a rollback, the batches the bad version served do not
    /// count against the one put back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BatchStatus {
    Joined,
    OutsideWindow,
    /// Its bytes differ from the ones first seen: left out, and reported.
    Changed,
    /// Seen before, gone now (within the window): reported.
    Missing,
    /// Served by another version than the one judged now.
    OtherVersion,
}

impl LateLabels {
    /// Batches the team must look at, as sentences naming them.
    pub fn problems(&self) -> Vec<String> {
        self.batches
            .iter()
            .filter_map(|b| match b.status {
                BatchStatus::Changed => Some(format!(
                    "prediction batch `{}` changed since it was first seen on {} (sha256 {} then, {} now); it was left out",
                    b.path,
                    b.first_seen,
                    b.sha256,
                    b.found.as_deref().unwrap_or("?")
                )),
                BatchStatus::Missing => Some(format!(
                    "prediction batch `{}` (first seen on {}) is gone",
                    b.path, b.first_seen
                )),
                _ => None,
            })
            .collect()
    }

    /// A changed batch is evidence that predictions were rewritten after
    /// they were served: it fails the run like a degradation does.
    pub fn tampered(&self) -> bool {
        self.batches
            .iter()
            .any(|b| b.status == BatchStatus::Changed)
    }
}

/// One batch's labelled rows: predictions, labels, and its row count.
type Joined = (Vec<Option<Cell>>, Vec<Option<Cell>>, u64);

pub struct LabelRun {
    pub report: Report,
    pub late: LateLabels,
    pub current: Vec<CurrentFile>,
}

fn config_error(monitor: &str, message: String) -> Error {
    Error::Config {
        path: crate::config::FILE_NAME.into(),
        message: format!("[monitors.{monitor}] {message}"),
    }
}

/// Whether a monitor joins late labels.
pub fn wanted(cfg: &MonitorConfig) -> bool {
    cfg.labels.is_some() || cfg.predictions.is_some()
}

/// What a late-label monitor needs, checked before anything is read.
pub fn validate(monitor: &str, cfg: &MonitorConfig) -> Result<()> {
    let missing: Vec<&str> = [
        ("predictions", cfg.predictions.is_none()),
        ("labels", cfg.labels.is_none()),
        ("key", cfg.key.is_none()),
        ("prediction", cfg.prediction.is_none()),
        ("label", cfg.label.is_none()),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(n, _)| n)
    .collect();
    if !missing.is_empty() {
        return Err(config_error(
            monitor,
            format!(
                "a late-label monitor needs {} (predictions and labels are globs, key/prediction/label column names)",
                missing.join(", ")
            ),
        ));
    }
    if !cfg.current.is_empty() {
        return Err(config_error(
            monitor,
            "`current` and `predictions` do not mix: a late-label monitor reads its prediction batches; put a drift check in a monitor of its own".into(),
        ));
    }
    if let Some(m) = &cfg.metric {
        if !crate::drift::performance::METRICS.contains(&m.as_str()) {
            return Err(config_error(
                monitor,
                format!(
                    "metric `{m}` is not one of {}",
                    crate::drift::performance::METRICS.join(", ")
                ),
            ));
        }
    }
    if cfg.window_days == Some(0) {
        return Err(config_error(
            monitor,
            "window_days must be at least 1".into(),
        ));
    }
    Ok(())
}

fn glob_files(root: &Path, pattern: &str) -> Result<Vec<PathBuf>> {
    let text = root.join(pattern).to_string_lossy().to_string();
    let mut hits: Vec<PathBuf> = glob::glob(&text)
        .map_err(|e| Error::invalid(format!("`{pattern}` is not a valid glob: {e}")))?
        .filter_map(|r| r.ok())
        .filter(|p| p.is_file())
        .collect();
    hits.sort();
    Ok(hits)
}

/// Reads `columns` of one file, which must have them (named if not).
fn read(paths: &[PathBuf], columns: &[&str], root: &Path) -> Result<Vec<Vec<Option<Cell>>>> {
    let table = Table::open(paths).map_err(|e| Error::invalid(e.to_string()))?;
    for c in columns {
        if table.dtype(c).is_none() {
            let file = paths
                .first()
                .map(|p| display_rel(root, p))
                .unwrap_or_default();
            return Err(Error::invalid_with_hint(
                format!("`{file}` has no column `{c}`"),
                "set the monitor's key, prediction and label to the files' column names",
            ));
        }
    }
    // The first column is the key (see `key_dtype`).
    let cols: Vec<(String, Dtype)> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let dtype = table.dtype(c).cloned().unwrap_or(Dtype::Str);
            let dtype = if i == 0 {
                crate::drift::load::key_dtype(dtype)
            } else {
                dtype
            };
            (c.to_string(), dtype)
        })
        .collect();
    table
        .read_rows(&cols)
        .map_err(|e| Error::invalid(e.to_string()))
}

/// What the monitor's records say of each batch path when it was first
/// seen: its content, the time, and the version that served it.
struct FirstSeen {
    sha256: String,
    at: String,
    served_by: Option<String>,
}

fn seen(prior: &[super::record::DriftRecord]) -> BTreeMap<String, FirstSeen> {
    let mut out = BTreeMap::new();
    for r in prior {
        let Some(late) = &r.late_labels else { continue };
        for b in &late.batches {
            out.entry(b.path.clone()).or_insert_with(|| FirstSeen {
                sha256: b.sha256.clone(),
                at: b.first_seen.clone(),
                served_by: b.served_by.clone(),
            });
        }
    }
    out
}

pub fn run(
    root: &Path,
    monitor: &str,
    cfg: &MonitorConfig,
    prior: &[super::record::DriftRecord],
    judged: Option<&super::Judged>,
    now: DateTime<Utc>,
) -> Result<LabelRun> {
    let reference_metric = judged.and_then(|j| j.metric);
    let judged_record = judged.map(|j| j.record.clone());
    validate(monitor, cfg)?;
    let (Some(pred_glob), Some(label_glob), Some(key), Some(prediction), Some(label)) = (
        &cfg.predictions,
        &cfg.labels,
        &cfg.key,
        &cfg.prediction,
        &cfg.label,
    ) else {
        unreachable!("validated above");
    };
    let window_days = cfg.window_days.unwrap_or(DEFAULT_WINDOW_DAYS);
    let min_rows = cfg.min_rows.unwrap_or(DEFAULT_MIN_ROWS);
    let now_text = crate::context::timestamp(now);
    let since = now - chrono::Duration::days(i64::from(window_days));
    let in_window = |first_seen: &str| {
        DateTime::parse_from_rfc3339(first_seen)
            .map(|t| t.with_timezone(&Utc) >= since)
            .unwrap_or(true)
    };

    let on_disk = glob_files(root, pred_glob)?;
    let hashed: Vec<(PathBuf, CurrentFile)> = on_disk
        .par_iter()
        .map(|p| Ok((p.clone(), super::hash_file(root, p)?)))
        .collect::<Result<_>>()?;
    let known = seen(prior);
    let mut batches: Vec<(Batch, Option<PathBuf>)> = Vec::new();
    for (path, file) in &hashed {
        let first = known.get(&file.path);
        let (sha256, first_seen, served_by) = match first {
            Some(f) => (f.sha256.clone(), f.at.clone(), f.served_by.clone()),
            None => (file.sha256.clone(), now_text.clone(), judged_record.clone()),
        };
        // The window first: a batch older than it is history, whatever
        // happened to its file since.
        let status = if !in_window(&first_seen) {
            BatchStatus::OutsideWindow
        } else if sha256 != file.sha256 {
            BatchStatus::Changed
        } else if served_by.is_some() && served_by != judged_record {
            BatchStatus::OtherVersion
        } else {
            BatchStatus::Joined
        };
        batches.push((
            Batch {
                path: file.path.clone(),
                found: (status == BatchStatus::Changed).then(|| file.sha256.clone()),
                sha256,
                first_seen,
                status,
                rows: 0,
                labelled: 0,
                served_by,
            },
            Some(path.clone()),
        ));
    }
    for (path, f) in &known {
        if hashed.iter().any(|(_, h)| h.path == *path) || !in_window(&f.at) {
            continue;
        }
        batches.push((
            Batch {
                path: path.clone(),
                sha256: f.sha256.clone(),
                first_seen: f.at.clone(),
                status: BatchStatus::Missing,
                rows: 0,
                labelled: 0,
                found: None,
                served_by: f.served_by.clone(),
            },
            None,
        ));
    }
    batches.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    if batches.is_empty() {
        return Err(Error::invalid_with_hint(
            format!("[monitors.{monitor}] predictions `{pred_glob}` match no file"),
            "keep each served batch of predictions (key and prediction columns) where the glob finds it",
        ));
    }

    let label_files = glob_files(root, label_glob)?;
    let label_hashes: Vec<CurrentFile> = label_files
        .par_iter()
        .map(|p| super::hash_file(root, p))
        .collect::<Result<_>>()?;
    let mut truth: HashMap<String, Cell> = HashMap::new();
    let mut duplicate_label_keys = 0u64;
    // Each label file read on its own, so one without the key or the label
    // column is named instead of contributing empty rows.
    for file in &label_files {
        let cols = read(std::slice::from_ref(file), &[key, label], root)?;
        for (k, l) in cols[0].iter().zip(&cols[1]) {
            let (Some(k), Some(l)) = (k, l) else { continue };
            match truth.entry(key_text(k)) {
                std::collections::hash_map::Entry::Occupied(_) => duplicate_label_keys += 1,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(l.clone());
                }
            }
        }
    }
    // Each batch read on its own: a batch missing a column is named.
    let joined: Vec<Joined> = batches
        .par_iter()
        .map(|(b, path)| match (b.status, path) {
            (BatchStatus::Joined, Some(path)) => {
                let cols = read(std::slice::from_ref(path), &[key, prediction], root)?;
                let rows = cols[0].len() as u64;
                let (mut p, mut l) = (Vec::new(), Vec::new());
                for (k, pred) in cols[0].iter().zip(&cols[1]) {
                    if let Some(t) = k.as_ref().and_then(|k| truth.get(&key_text(k))) {
                        p.push(pred.clone());
                        l.push(Some(t.clone()));
                    }
                }
                Ok((p, l, rows))
            }
            _ => Ok((Vec::new(), Vec::new(), 0)),
        })
        .collect::<Result<_>>()?;
    let (mut pred, mut truth_rows) = (Vec::new(), Vec::new());
    for ((b, _), (p, l, rows)) in batches.iter_mut().zip(joined) {
        b.rows = rows;
        b.labelled = p.len() as u64;
        pred.extend(p);
        truth_rows.extend(l);
    }
    let metric = cfg.metric.clone().unwrap_or_else(|| "accuracy".into());
    let mut performance = Performance::judge(
        &metric,
        (prediction, label),
        (&pred, &truth_rows),
        reference_metric,
        cfg.max_degradation,
    );
    let own = batches
        .iter()
        .filter(|(b, _)| b.status == BatchStatus::Joined)
        .count();
    if own == 0 {
        performance.degraded = false;
        performance.note = Some(match judged {
            Some(j) => format!(
                "no prediction batch served by {} in the window yet",
                j.version
            ),
            None => "no prediction batch in the window".into(),
        });
    } else if label_files.is_empty() {
        performance.note = Some(format!("no labels yet (`{label_glob}` matches no file)"));
    } else if performance.rows < min_rows {
        // Reported, not judged.
        performance.degraded = false;
        performance.note = Some(format!(
            "{} labelled row(s), fewer than min_rows = {min_rows}: not judged yet",
            performance.rows
        ));
    }
    let late = LateLabels {
        key: key.clone(),
        window_days,
        min_rows,
        labelled_rows: performance.rows,
        batches: batches.into_iter().map(|(b, _)| b).collect(),
        labels: label_hashes.clone(),
        duplicate_label_keys,
    };
    Ok(LabelRun {
        report: crate::drift::report::performance_only(performance),
        late,
        current: label_hashes,
    })
}
