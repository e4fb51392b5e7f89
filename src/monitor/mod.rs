//! Monitors: named drift checks from `mlops.toml` (`[monitors.<name>]`), run by
//! `mlops drift <name>` on a schedule. This module resolves what to compare —
//! a reference file, a tracked dataset version (checked against its recorded
//! hashes), or that version's profile when the raw data is gone — runs the
//! drift engine, and records each run on `refs/mlops/monitors/<name>`.

pub mod history;
pub mod labels;
pub mod record;
pub mod reference;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Config, MonitorConfig};
use crate::drift::stats::StatTest;
use crate::drift::{self, ColumnOverride, DriftOptions, Report};
use crate::error::{Error, Result};
use crate::record::{Draft, Record};
use crate::store::{Entity, EntityKind, Store};
pub use reference::{ReferenceInfo, ResolvedReference};

pub use record::{DriftRecord, KIND, SCHEMA};

/// What the command line asks for; empty fields fall back to the monitor's config.
#[derive(Default)]
pub struct DriftRequest {
    pub monitor: Option<String>,
    pub reference: Option<String>,
    pub current: Vec<String>,
    pub columns: Option<Vec<String>>,
    /// The run will be recorded: only then does "seen before" skip a batch.
    pub record: bool,
    pub cwd: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurrentFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct DriftOutcome {
    pub monitor: String,
    pub model: Option<String>,
    /// `None` for a late-label monitor (it compares with the model's
    /// recorded metric, not with reference data).
    pub reference: Option<ReferenceInfo>,
    pub current: Vec<CurrentFile>,
    pub report: Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late_labels: Option<labels::LateLabels>,
    /// The model version this run judged (a monitor with a `model`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged: Option<Judged>,
    #[serde(skip)]
    pub record: Option<Record>,
    pub record_id: Option<String>,
    /// What the run used, kept for its record (written only once every
    /// monitor of a `drift --all` has run, so a failing one leaves none).
    #[serde(skip)]
    options: Option<DriftOptions>,
}

impl DriftOutcome {
    /// The model's quality fell beyond its threshold.
    pub fn degraded(&self) -> bool {
        self.report.performance.as_ref().is_some_and(|p| p.degraded)
    }

    /// A finding that fails the run: drift, degradation, or a prediction
    /// batch rewritten after it was served.
    pub fn breached(&self) -> bool {
        self.report.dataset_drift
            || self.degraded()
            || self.late_labels.as_ref().is_some_and(|l| l.tampered())
    }
}

/// What one monitor run came to: a comparison, or nothing new to compare.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum MonitorRun {
    Compared(Box<DriftOutcome>),
    NothingNew(NothingNew),
}

/// Every file the glob matches was compared before (by content).
#[derive(Debug, Serialize)]
pub struct NothingNew {
    pub monitor: String,
    pub nothing_new: bool,
    /// The newest matching file and the record that already reported it.
    pub newest: String,
    pub reported_in: Option<String>,
    /// What the monitor's latest report found still stands: the run exits
    /// as it did (1 while drift or degradation is unresolved), without a
    /// second record or a second alert.
    pub still_breached: bool,
    /// … and it was the model's quality (an `on_breach` rollback applies).
    pub still_degraded: bool,
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

/// The model version a monitor judges — the one in the stage it guards
/// (default production), else the latest — and its recorded value of the
/// monitor's metric. Asked of whoever owns models (the registry): monitors
/// do not read the registry themselves, so the layers depend one way
/// (docs/architecture.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub version: String,
    pub record: String,
    pub metric: Option<f64>,
}

/// `(model, stage, metric)` → what the registry holds.
pub type MetricLookup<'a> = &'a dyn Fn(&str, &str, Option<&str>) -> Option<Judged>;

/// The batch to compare, or the newest file and the record that reported it.
/// The batch comes with its hash, which the record needs: the file is read
/// once.
type Picked = std::result::Result<Option<(PathBuf, CurrentFile)>, (String, Option<String>)>;

/// One batch per run (docs/monitoring.md, "One batch per run"): of the
/// files a configured glob matches, the newest by name — unless this
/// monitor compared it already, known by content from its own records, not
/// by file times (which a fresh CI clone resets). Older files are history:
/// a month that was skipped is not compared after a newer one.
fn pick_batch(
    root: &Path,
    mut files: Vec<PathBuf>,
    prior: &[&(String, DriftRecord)],
) -> Result<Picked> {
    let Some(newest) = files.pop() else {
        return Ok(Ok(None));
    };
    let file = hash_file(root, &newest)?;
    match prior
        .iter()
        .rev()
        .find(|(_, r)| r.seen().any(|s| s == file.sha256))
    {
        Some((id, _)) => Ok(Err((file.path, Some(id.clone())))),
        None => Ok(Ok(Some((newest, file)))),
    }
}

pub fn run(
    store: &Store,
    config: &Config,
    req: &DriftRequest,
    metric_of: MetricLookup,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<MonitorRun> {
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
    if cfg
        .batch
        .as_deref()
        .is_some_and(|b| b != "newest" && b != "all")
    {
        return Err(Error::Config {
            path: crate::config::FILE_NAME.into(),
            message: format!(
                "[monitors.{}] batch must be \"newest\" (one new file per run) or \"all\" (every matching file as one)",
                name.as_deref().unwrap_or("?")
            ),
        });
    }
    let prior: Vec<(String, DriftRecord)> = match &name {
        Some(m) => {
            let h = store.history(&Entity::new(EntityKind::Monitor, m)?)?;
            record::all(&h)?
                .into_iter()
                .map(|(r, d)| (r.id().to_string(), d))
                .collect()
        }
        None => Vec::new(),
    };
    // A late-label monitor's metric defaults to accuracy, and the recorded
    // value it is compared with must be of the same metric.
    let metric = cfg
        .metric
        .as_deref()
        .or(labels::wanted(cfg).then_some("accuracy"));
    let judged = cfg
        .model
        .as_deref()
        .and_then(|model| metric_of(model, cfg.guards.as_deref().unwrap_or("production"), metric));
    let reference_metric = judged.as_ref().and_then(|j| j.metric);
    if let (Some(monitor), true) = (&name, labels::wanted(cfg)) {
        let flag = if req.reference.is_some() {
            Some("--reference")
        } else if !req.current.is_empty() {
            Some("--current")
        } else if req.columns.is_some() {
            Some("--columns")
        } else {
            None
        };
        if let Some(flag) = flag {
            return Err(Error::invalid_with_hint(
                format!("`{flag}` does not apply to `{monitor}`, a late-label monitor"),
                "it reads the batches of its `predictions` glob and the files of its `labels` glob",
            ));
        }
        let prior_records: Vec<DriftRecord> = prior.into_iter().map(|(_, r)| r).collect();
        progress("joining labels");
        let run = labels::run(
            &root,
            monitor,
            cfg,
            &prior_records,
            judged.as_ref(),
            crate::context::now(),
        )?;
        return Ok(MonitorRun::Compared(Box::new(DriftOutcome {
            monitor: monitor.clone(),
            model: cfg.model.clone(),
            reference: None,
            current: run.current,
            report: run.report,
            late_labels: Some(run.late),
            judged,
            record: None,
            record_id: None,
            options: Some(DriftOptions {
                prediction: cfg.prediction.clone(),
                label: cfg.label.clone(),
                metric: cfg.metric.clone(),
                reference_metric,
                max_degradation: cfg.max_degradation,
                ..DriftOptions::default()
            }),
        })));
    }
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
    let from_config = req.current.is_empty();
    let (current_specs, cur_base) = if !from_config {
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
    let mut current = expand(&cur_base, &current_specs)?;
    let monitor = name.unwrap_or_else(|| adhoc_name(&resolved.info));
    crate::names::validate(&monitor)?;
    let overrides = overrides(&monitor, cfg)?;
    let mut hashed: Option<Vec<CurrentFile>> = None;
    if from_config && cfg.batch.as_deref() != Some("all") {
        // Looking without recording compares the newest file, seen or not;
        // a new version in the guarded stage, or a new reference, is judged
        // on it afresh.
        let seen: Vec<&(String, DriftRecord)> = prior
            .iter()
            .filter(|(_, r)| {
                req.record
                    && r.judged == judged
                    && r.reference.as_ref().is_some_and(|x| {
                        x.files.iter().map(|f| &f.sha256).eq(resolved
                            .info
                            .files
                            .iter()
                            .map(|f| &f.sha256))
                    })
            })
            .collect();
        match pick_batch(&root, current, &seen)? {
            Ok(batch) => {
                current = batch.iter().map(|(p, _)| p.clone()).collect();
                hashed = batch.map(|(_, f)| vec![f]);
            }
            Err((newest, reported_in)) => {
                let still_breached = seen.last().is_some_and(|(_, r)| r.breached());
                let still_degraded = seen.last().is_some_and(|(_, r)| r.is_degraded());
                return Ok(MonitorRun::NothingNew(NothingNew {
                    monitor,
                    nothing_new: true,
                    newest,
                    reported_in,
                    still_breached,
                    still_degraded,
                }));
            }
        }
    }
    let mut opts = DriftOptions {
        columns: req.columns.clone().or_else(|| cfg.columns.clone()),
        overrides,
        drift_share: cfg.drift_share.unwrap_or(0.5),
        prediction: cfg.prediction.clone(),
        label: cfg.label.clone(),
        metric: cfg.metric.clone(),
        reference_metric: None,
        max_degradation: cfg.max_degradation,
        privacy: config.privacy.clone(),
        null_share_drift: cfg
            .null_share_drift
            .unwrap_or(crate::drift::report::NULL_SHARE_DRIFT),
        ..DriftOptions::default()
    };
    if !(0.0..=1.0).contains(&opts.drift_share) {
        return Err(Error::Config {
            path: crate::config::FILE_NAME.into(),
            message: format!("[monitors.{monitor}] drift_share must be between 0 and 1"),
        });
    }
    if !(opts.null_share_drift > 0.0 && opts.null_share_drift <= 1.0) {
        return Err(Error::Config {
            path: crate::config::FILE_NAME.into(),
            message: format!(
                "[monitors.{monitor}] null_share_drift must be more than 0 and at most 1"
            ),
        });
    }
    if cfg.metric.is_some() {
        opts.reference_metric = reference_metric;
    }
    // Hashing today's files (for the record) runs beside the comparison:
    // both read the same bytes, and the hash alone is ~15% of a large run.
    let (current_files, report) = std::thread::scope(|s| {
        let hashing = s.spawn(|| match hashed {
            Some(files) => Ok(files),
            None => current
                .iter()
                .map(|p| hash_file(&root, p))
                .collect::<Result<Vec<CurrentFile>>>(),
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
    Ok(MonitorRun::Compared(Box::new(DriftOutcome {
        monitor: monitor.clone(),
        model: cfg.model.clone(),
        reference: Some(resolved.info.clone()),
        current: current_files,
        report,
        late_labels: None,
        judged,
        record: None,
        record_id: None,
        options: Some(opts),
    })))
}

/// A file as a record names it, with its SHA-256 and size.
pub(crate) fn hash_file(root: &Path, p: &Path) -> Result<CurrentFile> {
    let (sha256, size) = crate::dataset::hash::sha256_file(p)
        .map_err(|e| Error::io(format!("cannot read `{}`", p.display()), e))?;
    Ok(CurrentFile {
        path: display_rel(root, p),
        sha256,
        size,
    })
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

/// Appends the run to the monitor's history (`refs/mlops/monitors/<name>`).
pub fn record(store: &Store, o: &mut DriftOutcome) -> Result<()> {
    let entity = Entity::new(EntityKind::Monitor, &o.monitor)?;
    let degraded = o.degraded();
    let tampered = o.late_labels.as_ref().is_some_and(|l| l.tampered());
    let verdict = match (o.report.dataset_drift, degraded, tampered) {
        (_, true, _) => "DEGRADED",
        (_, false, true) => "BATCH CHANGED",
        (true, false, false) => "DRIFT",
        (false, false, false) => "no drift",
    };
    let summary = match &o.report.performance {
        Some(p) if o.late_labels.is_some() => format!(
            "drift {}: {verdict} ({} {} on {} labelled rows)",
            o.monitor,
            p.metric,
            p.current
                .map(drift::report::short)
                .unwrap_or_else(|| "n/a".into()),
            p.rows
        ),
        _ => format!(
            "drift {}: {verdict} ({} of {} columns drifted)",
            o.monitor, o.report.drifted, o.report.tested
        ),
    };
    let body = DriftRecord {
        monitor: o.monitor.clone(),
        model: o.model.clone(),
        reference: o.reference.clone(),
        current: o.current.clone(),
        config: serde_json::to_value(&o.options).map_err(|e| Error::invalid(e.to_string()))?,
        dataset_drift: o.report.dataset_drift,
        share: o.report.share,
        drifted: o.report.drifted as u64,
        tested: o.report.tested as u64,
        late_labels: o.late_labels.clone(),
        judged: o.judged.clone(),
        report: record::recorded(&o.report)?,
    };
    let draft = Draft::new(KIND, SCHEMA, summary).with_body(&body)?;
    let rec = store.append_draft(&entity, &draft)?;
    o.record_id = Some(rec.id().to_string());
    o.record = Some(rec);
    Ok(())
}
