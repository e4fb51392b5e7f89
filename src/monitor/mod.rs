//! Monitors: named drift checks from `mlops.toml` (`[monitors.<name>]`), run by
//! `mlops drift <name>` on a schedule. This module resolves what to compare —
//! a reference file, a tracked dataset version (checked against its recorded
//! hashes), or that version's profile when the raw data is gone — runs the
//! drift engine, and records each run on `refs/mlops/monitors/<name>`.

pub mod history;
pub mod reference;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Config, MonitorConfig};
use crate::drift::stats::StatTest;
use crate::drift::{self, ColumnOverride, DriftOptions, Report};
use crate::error::{Error, Result};
use crate::record::{Draft, Record};
use crate::store::{Entity, EntityKind, Store};
pub use reference::{ReferenceInfo, ResolvedReference};

pub const KIND: &str = "drift-report";
pub const SCHEMA: u64 = 1;

/// What the command line asks for; empty fields fall back to the monitor's config.
#[derive(Default)]
pub struct DriftRequest {
    pub monitor: Option<String>,
    pub reference: Option<String>,
    pub current: Vec<String>,
    pub columns: Option<Vec<String>>,
    pub record: bool,
    pub cwd: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct CurrentFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct DriftOutcome {
    pub monitor: String,
    pub model: Option<String>,
    pub reference: ReferenceInfo,
    pub current: Vec<CurrentFile>,
    pub report: Report,
    #[serde(skip)]
    pub record: Option<Record>,
    pub record_id: Option<String>,
}

/// Expands files and globs (relative to `base`) into sorted, de-duplicated paths.
pub fn expand(base: &Path, patterns: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in patterns {
        let full = base.join(p);
        let text = full.to_string_lossy().to_string();
        if p.contains(['*', '?', '[']) {
            let mut hits: Vec<PathBuf> = glob::glob(&text)
                .map_err(|e| Error::invalid(format!("`{p}` is not a valid glob: {e}")))?
                .filter_map(|r| r.ok())
                .filter(|p| p.is_file())
                .collect();
            if hits.is_empty() {
                return Err(Error::invalid_with_hint(
                    format!("`{p}` matches no file"),
                    "check the path of today's data",
                ));
            }
            hits.sort();
            out.extend(hits);
        } else if full.is_file() {
            out.push(full);
        } else {
            return Err(Error::invalid_with_hint(
                format!("current data `{p}` does not exist"),
                "pass files or globs with `--current`",
            ));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn overrides(name: &str, cfg: &MonitorConfig) -> Result<BTreeMap<String, ColumnOverride>> {
    cfg.column
        .iter()
        .map(|(col, c)| {
            let test = match &c.test {
                Some(t) => Some(StatTest::from_name(t).ok_or_else(|| Error::Config {
                    path: crate::config::FILE_NAME.into(),
                    message: format!(
                        "[monitors.{name}.column.{col}] test `{t}` is unknown; use one of {}",
                        StatTest::ALL.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
                    ),
                })?),
                None => None,
            };
            if let Some(th) = c.threshold {
                if !th.is_finite() || th < 0.0 {
                    return Err(Error::Config {
                        path: crate::config::FILE_NAME.into(),
                        message: format!("[monitors.{name}.column.{col}] threshold must be a non-negative number"),
                    });
                }
            }
            Ok((col.clone(), ColumnOverride { test, threshold: c.threshold, ignore: c.ignore }))
        })
        .collect()
}

/// A monitor name for an ad-hoc run: the reference dataset's or file's name.
fn adhoc_name(reference: &ReferenceInfo) -> String {
    let base = reference
        .dataset
        .clone()
        .or_else(|| {
            reference.files.first().and_then(|f| {
                Path::new(&f.path)
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
            })
        })
        .unwrap_or_else(|| "adhoc".into());
    crate::names::from_path_component(&base).unwrap_or_else(|| "adhoc".into())
}

/// The model's recorded value of the monitor's metric (production, else latest).
fn reference_metric(store: &Store, model: &str, metric: &str) -> Option<f64> {
    let state = crate::registry::promote::model_state(store, model).ok()?;
    let v = state.in_stage("production").or_else(|| state.latest())?;
    v.version.metrics.get(metric).copied()
}

pub fn run(
    store: &Store,
    config: &Config,
    req: &DriftRequest,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<DriftOutcome> {
    let root = store.root();
    let empty = MonitorConfig::default();
    let (name, cfg) = match &req.monitor {
        Some(m) => {
            crate::names::validate(m)?;
            match config.monitors.get(m) {
                Some(c) => (Some(m.clone()), c),
                None if req.reference.is_some() && !req.current.is_empty() => {
                    (Some(m.clone()), &empty)
                }
                None => {
                    let known: Vec<&String> = config.monitors.keys().collect();
                    return Err(Error::invalid_with_hint(
                        format!("no monitor `{m}` in `{}`", crate::config::FILE_NAME),
                        if known.is_empty() {
                            "define `[monitors.<name>]` in mlops.toml, or pass `--reference` and `--current`".to_string()
                        } else {
                            format!(
                                "monitors: {}",
                                known
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        },
                    ));
                }
            }
        }
        None => (None, &empty),
    };
    // Paths on the command line are relative to where the user stands; paths
    // in mlops.toml to the repository root.
    let (ref_spec, ref_base) =
        match (&req.reference, &cfg.reference) {
            (Some(r), _) => (r.clone(), req.cwd.clone()),
            (None, Some(r)) => (r.clone(), root.clone()),
            (None, None) => return Err(Error::invalid_with_hint(
                "no reference data",
                "pass `--reference <file | dataset[@version]>` or set `reference` in the monitor",
            )),
        };
    let (current_specs, cur_base) = if !req.current.is_empty() {
        (req.current.clone(), req.cwd.clone())
    } else if !cfg.current.is_empty() {
        (cfg.current.clone(), root.clone())
    } else {
        return Err(Error::invalid_with_hint(
            "no current data",
            "pass `--current <file or glob>` or set `current` in the monitor",
        ));
    };
    let resolved = reference::resolve(store, &ref_base, &ref_spec)?;
    let current = expand(&cur_base, &current_specs)?;
    let monitor = name.unwrap_or_else(|| adhoc_name(&resolved.info));
    crate::names::validate(&monitor)?;
    let mut opts = DriftOptions {
        columns: req.columns.clone().or_else(|| cfg.columns.clone()),
        overrides: overrides(&monitor, cfg)?,
        drift_share: cfg.drift_share.unwrap_or(0.5),
        prediction: cfg.prediction.clone(),
        label: cfg.label.clone(),
        metric: cfg.metric.clone(),
        reference_metric: None,
        max_degradation: cfg.max_degradation,
        privacy: crate::config::Config::load(&store.root())?.privacy,
        ..DriftOptions::default()
    };
    if !(0.0..=1.0).contains(&opts.drift_share) {
        return Err(Error::Config {
            path: crate::config::FILE_NAME.into(),
            message: format!("[monitors.{monitor}] drift_share must be between 0 and 1"),
        });
    }
    if let (Some(model), Some(metric)) = (&cfg.model, &cfg.metric) {
        opts.reference_metric = reference_metric(store, model, metric);
    }
    // Hashing today's files (for the record) runs beside the comparison:
    // both read the same bytes, and the hash alone is ~15% of a large run.
    let (current_files, report) = std::thread::scope(|s| {
        let hashing = s.spawn(|| {
            current
                .iter()
                .map(|p| {
                    let (sha256, size) = crate::dataset::hash::sha256_file(p)
                        .map_err(|e| Error::io(format!("cannot read `{}`", p.display()), e))?;
                    Ok(CurrentFile {
                        path: display_rel(&root, p),
                        sha256,
                        size,
                    })
                })
                .collect::<Result<Vec<CurrentFile>>>()
        });
        let report = match &resolved.source {
            reference::Source::Files(files) => {
                drift::compare(drift::Reference::Files(files), &current, &opts, progress)
            }
            reference::Source::Profile(p) => {
                drift::compare(drift::Reference::Profile(p), &current, &opts, progress)
            }
        }
        .map_err(|e| Error::invalid(e.to_string()));
        let files = hashing
            .join()
            .unwrap_or_else(|_| Err(Error::invalid("hashing the current data failed")));
        (files, report)
    });
    let report = report?;
    let current_files = current_files?;
    let mut outcome = DriftOutcome {
        monitor: monitor.clone(),
        model: cfg.model.clone(),
        reference: resolved.info.clone(),
        current: current_files,
        report,
        record: None,
        record_id: None,
    };
    if req.record {
        let record = record(store, &outcome, &opts)?;
        outcome.record_id = Some(record.id().to_string());
        outcome.record = Some(record);
    }
    Ok(outcome)
}

/// A file as a record names it: relative to the repository, or — for a
/// file outside it — `outside/<name>`, never an absolute path (which names
/// someone's home directory, docs/privacy.md).
pub fn display_rel(root: &Path, p: &Path) -> String {
    let canon = p.canonicalize().unwrap_or(p.to_path_buf());
    let root = root.canonicalize().unwrap_or(root.to_path_buf());
    canon
        .strip_prefix(&root)
        .map(|r| r.to_string_lossy().replace('\\', "/"))
        .unwrap_or_else(|_| {
            format!(
                "outside/{}",
                canon
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default()
            )
        })
}

fn record(store: &Store, o: &DriftOutcome, opts: &DriftOptions) -> Result<Record> {
    let entity = Entity::new(EntityKind::Monitor, &o.monitor)?;
    let mut report = serde_json::to_value(&o.report).map_err(|e| Error::invalid(e.to_string()))?;
    // Charts are for the HTML page; the record keeps the numbers.
    if let Some(cols) = report.get_mut("columns").and_then(|c| c.as_array_mut()) {
        for c in cols {
            if let Some(obj) = c.as_object_mut() {
                obj.remove("chart");
            }
        }
    }
    let summary = format!(
        "drift {}: {} ({} of {} columns drifted)",
        o.monitor,
        if o.report.dataset_drift {
            "DRIFT"
        } else {
            "no drift"
        },
        o.report.drifted,
        o.report.tested
    );
    let body = serde_json::json!({
        "monitor": o.monitor,
        "model": o.model,
        "reference": o.reference,
        "current": o.current,
        "config": opts,
        "dataset_drift": o.report.dataset_drift,
        "share": o.report.share,
        "drifted": o.report.drifted,
        "tested": o.report.tested,
        "report": report,
    });
    let draft = Draft::new(KIND, SCHEMA, summary).with_body(&body)?;
    store.append_draft(&entity, &draft)
}
