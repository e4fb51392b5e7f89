//! Everything the audit report shows, gathered from the records into one
//! serialisable value: templates only lay it out, so a team that rewrites
//! them cannot get a number wrong, and `--json` gives the same facts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::Config;
use crate::context;
use crate::error::Result;
use crate::registry::gates::stages_of;
use crate::registry::promote::existing_state;
use crate::registry::records::{Approval, CiContext, GateResult, Inventory, PROMOTION, ROLLBACK};
use crate::registry::spec::Selector;
use crate::registry::state::{ModelState, VersionInfo};
use crate::run::query::RunView;
use crate::run::record::Artifact;
use crate::store::{Entity, EntityKind, Store};

use super::explain::{self, Explainability};

/// Inventory fields a regulator expects filled; each missing one is listed.
const REQUIRED: [&str; 5] = [
    "owner",
    "purpose",
    "intended_use",
    "limitations",
    "risk_tier",
];

#[derive(Serialize)]
pub struct Report {
    pub model: ModelView,
    /// The version the report is about (`None` when the model has no
    /// version that is not deprecated and none was named).
    pub version: Option<VersionInfo>,
    /// How that version was chosen: `named`, `stage <s>` or `latest`.
    pub selected_by: String,
    pub run: Option<RunSummary>,
    /// Why the run behind the version could not be shown, or how it differs
    /// from the record the version pinned: an auditor must see this.
    pub run_problem: Option<String>,
    /// Promotions and rollbacks of the featured version, oldest first.
    pub decisions: Vec<Decision>,
    pub comparison: Option<Comparison>,
    pub stages: BTreeMap<String, String>,
    pub versions: Vec<VersionRow>,
    pub events: Vec<EventView>,
    pub monitoring: Vec<MonitorView>,
    pub explainability: Option<Explainability>,
    pub integrity: Integrity,
    /// The 24 documentation sections, each with its status.
    pub sections: Vec<super::sections::Section>,
    /// The frameworks asked for (`--framework`) and their matrix.
    pub frameworks: Vec<String>,
    pub matrix: Vec<super::frameworks::Row>,
    /// `mlops verify` over the refs this report read, line by line.
    pub verification: Vec<String>,
    pub verified: bool,
    /// Per cited record, the command that re-checks it with git and sha256sum.
    pub recheck: Vec<String>,
    /// Sections the chosen frameworks require that are MISSING.
    pub missing_required: Vec<u8>,
    /// Inline SVG charts (metric histories, drift over time).
    pub charts: Vec<super::charts::Chart>,
    /// SHA-256 of the report's facts (this struct as JSON, without this
    /// field): the document's id on its cover.
    pub document_id: String,
    pub generated_at: String,
    pub tool: String,
    pub repository: String,
}

#[derive(Serialize)]
pub struct ModelView {
    pub name: String,
    #[serde(flatten)]
    pub inventory: Inventory,
    /// Required inventory fields left empty in mlops.toml.
    pub missing: Vec<String>,
}

/// The training run behind the version: what an auditor re-runs.
#[derive(Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub record: String,
    pub name: Option<String>,
    pub experiment: String,
    pub status: String,
    pub started_at: String,
    pub duration_s: f64,
    pub command: String,
    pub params: BTreeMap<String, serde_json::Value>,
    pub code: Option<crate::run::record::CodeInfo>,
    pub environment: crate::run::record::Environment,
    pub inputs: Vec<crate::run::record::Input>,
    pub artifacts: Vec<Artifact>,
    pub amendments: usize,
    /// Fields redacted before the run was recorded (never their values).
    pub redacted: Vec<String>,
    /// Metric histories, for the charts (read once, with the run).
    #[serde(skip)]
    pub history: BTreeMap<String, crate::run::metrics::Series>,
}

#[derive(Serialize)]
pub struct Decision {
    pub id: String,
    pub kind: String,
    pub created_at: String,
    pub actor: String,
    pub from_stage: Option<String>,
    pub to_stage: Option<String>,
    pub decision: String,
    pub is_override: bool,
    pub reason: Option<String>,
    pub gates: Vec<GateResult>,
    pub approvals: Vec<Approval>,
    pub ci: Option<CiContext>,
    /// The `mlops.toml` the gates were read from, as the promotion recorded it.
    pub policy: Option<crate::registry::policy::PolicyRef>,
}

/// The featured version against the one it replaced (or the one before it).
#[derive(Serialize)]
pub struct Comparison {
    pub against: String,
    /// Why that version: `replaced in <stage>` or `previous version`.
    pub basis: String,
    pub rows: Vec<MetricDelta>,
}

#[derive(Serialize)]
pub struct MetricDelta {
    pub metric: String,
    pub candidate: Option<f64>,
    pub previous: Option<f64>,
    pub delta: Option<f64>,
}

#[derive(Serialize)]
pub struct VersionRow {
    pub version: String,
    pub created_at: String,
    pub actor: String,
    pub stages: Vec<String>,
    pub deprecated: bool,
    pub record: String,
}

#[derive(Serialize)]
pub struct EventView {
    pub created_at: String,
    pub actor: String,
    pub kind: String,
    pub summary: String,
    pub id: String,
}

#[derive(Serialize)]
pub struct MonitorView {
    pub monitor: String,
    pub reports: usize,
    pub drifted_reports: usize,
    /// Reports that found the model's quality degraded (performance and
    /// late-label monitors).
    pub degraded_reports: usize,
    /// Newest first, at most [`MONITOR_ROWS`].
    pub recent: Vec<crate::monitor::history::HistoryRow>,
    /// Columns of the newest report, drifted first.
    pub latest_columns: Vec<ColumnView>,
    /// Why its history could not be read (the section says so instead of
    /// leaving the monitor out).
    pub error: Option<String>,
    /// The ref tip its reports were read at.
    #[serde(skip)]
    pub tip: String,
}

#[derive(Serialize)]
pub struct ColumnView {
    pub column: String,
    pub test: Option<String>,
    pub score: Option<f64>,
    pub drift: bool,
}

impl MonitorView {
    /// A monitor whose history cannot be read: the section says so instead
    /// of leaving the monitor out.
    fn unreadable(monitor: &str, e: &dyn std::fmt::Display, tip: String) -> MonitorView {
        MonitorView {
            monitor: monitor.to_string(),
            reports: 0,
            drifted_reports: 0,
            degraded_reports: 0,
            recent: Vec::new(),
            latest_columns: Vec::new(),
            error: Some(e.to_string()),
            tip,
        }
    }
}

const MONITOR_ROWS: usize = 12;

#[derive(Serialize)]
pub struct Integrity {
    /// Every ref the report draws on, with its tip commit.
    pub refs: Vec<(String, String)>,
    /// Every record id the report cites.
    pub records: Vec<String>,
}

pub struct Request<'a> {
    pub model: &'a str,
    /// `--framework`: the matrices to add.
    pub frameworks: Vec<String>,
    pub selector: Option<&'a Selector>,
    /// Overrides `[models.<name>] explainability`.
    pub explain: Option<PathBuf>,
}

pub fn gather(store: &Store, config: &Config, req: &Request) -> Result<Report> {
    // One read of the model's history serves its state, its timeline and
    // the tip the cited records were read at.
    let model_entity = Entity::new(EntityKind::Model, req.model)?;
    let history = store.history(&model_entity)?;
    let state = existing_state(req.model, &history)?;
    let model_cfg = config.model(req.model);
    let stage_order = stages_of(model_cfg);
    let (version, selected_by) = match req.selector {
        Some(sel) => (Some(state.resolve(sel)?.clone()), "named".to_string()),
        None => featured(&state, &stage_order),
    };
    let inventory = Inventory::from_config(model_cfg);
    let missing = REQUIRED
        .iter()
        .filter(|f| inventory.field(f).is_none())
        .map(|f| f.to_string())
        .collect();
    let mut refs = vec![(model_entity.refname(), tip_text(history.tip))];
    let mut records: Vec<String> = history.records.iter().map(|r| r.id().to_string()).collect();

    let mut run_problem = None;
    let run = match version
        .as_ref()
        .and_then(|v| v.version.run_id.as_deref().map(|id| (v, id)))
    {
        Some((v, id)) => match crate::run::query::show(store, id) {
            Ok(view) => {
                let entity = Entity::new(EntityKind::Run, id)?;
                refs.push((entity.refname(), view.tip.clone().unwrap_or_default()));
                records.push(view.id.clone());
                if let Some(pinned) = v.version.run_record.as_deref().filter(|p| *p != view.id) {
                    run_problem = Some(format!(
                        "the run's record is `{}`, but the version pinned `{pinned}`",
                        view.id
                    ));
                }
                Some(run_summary(view))
            }
            Err(e) => {
                run_problem = Some(format!("run `{id}` cannot be read: {e}"));
                None
            }
        },
        None => None,
    };
    let decisions = version
        .as_ref()
        .map(|v| decisions_of(&state, &v.version.version))
        .unwrap_or_default();
    let comparison = version
        .as_ref()
        .and_then(|v| compare(&state, v, &stage_order));

    let monitoring = monitors_of(store, config, req.model)?;
    for m in &monitoring {
        let entity = Entity::new(EntityKind::Monitor, &m.monitor)?;
        refs.push((entity.refname(), m.tip.clone()));
        records.extend(m.recent.iter().map(|r| r.id.clone()));
    }

    let explain_path = req.explain.clone().or_else(|| {
        model_cfg
            .and_then(|c| c.explainability.as_ref())
            .map(|p| store.root().join(p))
    });
    let explainability = match explain_path {
        Some(path) => {
            let mut artifacts: Vec<Artifact> = version
                .as_ref()
                .map(|v| v.version.artifacts.clone())
                .unwrap_or_default();
            if let Some(r) = &run {
                artifacts.extend(r.artifacts.iter().cloned());
            }
            let shown = crate::monitor::display_rel(&store.root(), &path);
            Some(explain::read(&path, &shown, &artifacts)?)
        }
        None => None,
    };

    Ok(Report {
        model: ModelView {
            name: req.model.to_string(),
            inventory,
            missing,
        },
        selected_by,
        run,
        run_problem,
        decisions,
        comparison,
        stages: state.stages.clone(),
        versions: state
            .versions
            .iter()
            .rev()
            .map(|v| VersionRow {
                version: v.version.version.clone(),
                created_at: v.created_at.clone(),
                actor: v.actor.clone(),
                stages: v.stages.clone(),
                deprecated: v.deprecated,
                record: v.record.clone(),
            })
            .collect(),
        events: history
            .records
            .iter()
            .map(|r| EventView {
                created_at: r.created_at().to_string(),
                actor: r.actor().to_string(),
                kind: r.kind().to_string(),
                summary: r.summary().to_string(),
                id: r.id().to_string(),
            })
            .collect(),
        monitoring,
        explainability,
        integrity: Integrity { refs, records },
        sections: Vec::new(),
        frameworks: Vec::new(),
        matrix: Vec::new(),
        verification: Vec::new(),
        verified: false,
        recheck: Vec::new(),
        missing_required: Vec::new(),
        document_id: String::new(),
        charts: Vec::new(),
        version,
        generated_at: context::now_timestamp(),
        tool: context::tool_version(),
        // The folder's name, not its absolute path (someone's home directory).
        repository: store
            .root()
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
    })
}

/// Without a selector the report is about what is live: the holder of the
/// last stage in promotion order that anyone holds, else the latest version.
fn featured(state: &ModelState, stage_order: &[String]) -> (Option<VersionInfo>, String) {
    for stage in stage_order.iter().rev() {
        if let Some(v) = state.in_stage(stage) {
            return (Some(v.clone()), format!("stage {stage}"));
        }
    }
    (state.latest().cloned(), "latest".into())
}

fn tip_text(tip: Option<gix::ObjectId>) -> String {
    tip.map(|id| id.to_string()).unwrap_or_default()
}

fn run_summary(view: RunView) -> RunSummary {
    let r = view.run;
    RunSummary {
        run_id: r.run_id,
        record: view.id,
        name: r.name,
        experiment: r.experiment,
        status: r.status.as_str().to_string(),
        started_at: r.started_at,
        duration_s: r.duration_s,
        // Quoted as a shell would need it, so the command can be re-run as
        // shown; empty when the run was tracked with `--no-command` (the
        // templates say so).
        command: shlex::try_join(r.command.iter().map(String::as_str))
            .unwrap_or_else(|_| r.command.join(" ")),
        params: r.params,
        code: r.code,
        environment: r.environment,
        inputs: r.inputs,
        artifacts: r.artifacts,
        amendments: view.amendments.len(),
        redacted: r.redacted,
        history: view.history,
    }
}

fn decisions_of(state: &ModelState, version: &str) -> Vec<Decision> {
    state
        .moves
        .iter()
        .filter(|(r, p)| p.version == version && (r.kind() == PROMOTION || r.kind() == ROLLBACK))
        .map(|(r, p)| Decision {
            id: r.id().to_string(),
            kind: r.kind().to_string(),
            created_at: r.created_at().to_string(),
            actor: r.actor().to_string(),
            from_stage: p.from_stage.clone(),
            to_stage: p.to_stage.clone(),
            decision: p.decision.clone(),
            is_override: p.is_override,
            reason: p.reason.clone(),
            gates: p.gates.clone(),
            approvals: p.approvals.clone(),
            ci: p.ci.clone(),
            policy: p.policy.clone(),
        })
        .collect()
}

/// Against the version the featured one displaced when it last entered its
/// highest stage (what a validator signs off: "better than what it
/// replaces", as the promotion recorded it), else the version before it.
fn compare(state: &ModelState, v: &VersionInfo, stage_order: &[String]) -> Option<Comparison> {
    let me = &v.record;
    let replaced = stage_order
        .iter()
        .rev()
        .filter(|s| v.stages_reached.contains(*s))
        .find_map(|stage| {
            let (_, last) = state.moves.iter().rev().find(|(r, p)| {
                &p.version_record == me
                    && p.to_stage.as_deref() == Some(stage.as_str())
                    && (r.kind() == PROMOTION || r.kind() == ROLLBACK)
            })?;
            // Promotions recorded before `replaces_record` existed name the
            // displaced version by its string only.
            let displaced = match &last.replaces_record {
                Some(r) => state.by_record(r),
                None => state.find_version(last.replaces.as_deref()?).ok().flatten(),
            }
            .filter(|h| &h.record != me)?;
            Some((displaced, format!("replaced in {stage}")))
        });
    let (other, basis) = replaced.or_else(|| {
        let at = state.versions.iter().position(|x| &x.record == me)?;
        let prev = state.versions[..at]
            .iter()
            .rev()
            .find(|x| !x.deprecated && x.superseded_by.is_none())?;
        Some((prev, "previous version".into()))
    })?;
    let mut names: Vec<&String> = v.version.metrics.keys().collect();
    names.extend(other.version.metrics.keys());
    names.sort();
    names.dedup();
    let rows = names
        .into_iter()
        .map(|m| {
            let candidate = v.version.metrics.get(m).copied();
            let previous = other.version.metrics.get(m).copied();
            MetricDelta {
                metric: m.clone(),
                candidate,
                previous,
                delta: candidate.zip(previous).map(|(a, b)| a - b),
            }
        })
        .collect::<Vec<_>>();
    if rows.is_empty() {
        return None;
    }
    Some(Comparison {
        against: other.version.version.clone(),
        basis,
        rows,
    })
}

/// Monitors watching the model: named so in mlops.toml, or whose recorded
/// reports say so (a monitor since removed from the config still counts).
fn monitors_of(store: &Store, config: &Config, model: &str) -> Result<Vec<MonitorView>> {
    let mut out = Vec::new();
    for entity in store.entities(Some(EntityKind::Monitor))? {
        let assigned = config
            .monitors
            .get(&entity.name)
            .and_then(|m| m.model.as_deref());
        if assigned.is_some_and(|m| m != model) {
            continue; // another model's monitor: its history is not read
        }
        let configured = assigned == Some(model);
        let history = match store.history(&entity) {
            Ok(h) => h,
            Err(e) => {
                if configured {
                    out.push(MonitorView::unreadable(&entity.name, &e, String::new()));
                }
                continue;
            }
        };
        let recorded = || {
            history
                .records
                .iter()
                .any(|r| r.str_field("model") == Some(model))
        };
        if !configured && !recorded() {
            continue;
        }
        // A report that does not read as a drift report is shown as an
        // error in the section, not a reason to write no report at all.
        let mut rows = match crate::monitor::history::rows(&history) {
            Ok(rows) => rows,
            Err(e) => {
                out.push(MonitorView::unreadable(
                    &entity.name,
                    &e,
                    tip_text(history.tip),
                ));
                continue;
            }
        };
        rows.reverse();
        let mut latest_columns: Vec<ColumnView> = rows
            .first()
            .map(|r| {
                r.columns
                    .iter()
                    .map(|(name, p)| ColumnView {
                        column: name.clone(),
                        test: p.test.clone(),
                        score: p.score,
                        drift: p.drift,
                    })
                    .collect()
            })
            .unwrap_or_default();
        latest_columns.sort_by(|a, b| b.drift.cmp(&a.drift).then(a.column.cmp(&b.column)));
        out.push(MonitorView {
            monitor: entity.name.clone(),
            reports: rows.len(),
            drifted_reports: rows.iter().filter(|r| r.dataset_drift).count(),
            degraded_reports: rows.iter().filter(|r| r.degraded).count(),
            recent: rows.into_iter().take(MONITOR_ROWS).collect(),
            latest_columns,
            error: None,
            tip: tip_text(history.tip),
        });
    }
    Ok(out)
}
