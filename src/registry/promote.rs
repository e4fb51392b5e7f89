//! Promotions, rollbacks and deprecations.
//!
//! A promotion is decided inside the store's compare-and-swap loop: if another
//! promotion of the same model lands first, the tip is re-read and the gates
//! are evaluated again against the new state (the version now in the stage
//! may have changed, and with it every `current`-relative gate).

use std::convert::Infallible;
use std::ops::ControlFlow;

use serde::Serialize;

use crate::config::Config;
use crate::context;
use crate::error::{Error, Result};
use crate::gitcli;
use crate::record::{Draft, Record};
use crate::registry::approvals::Parties;
use crate::registry::ci;
use crate::registry::gates::{self, DriftStatus, GateInput};
use crate::registry::records::{
    Approval, GateResult, Inventory, Promotion, DEPRECATION, PROMOTION, ROLLBACK, SCHEMA,
};
use crate::registry::spec::Selector;
use crate::registry::state::{ModelState, VersionInfo};
use crate::store::{Entity, EntityKind, Store};

pub struct PromoteOptions {
    pub model: String,
    pub selector: Selector,
    pub stage: String,
    pub reason: Option<String>,
    pub approved_by: Vec<String>,
    pub force: bool,
}

/// What gates are checked against: the committed policy, and the keys it
/// trusts.
pub struct Checked<'a> {
    pub policy: &'a crate::registry::policy::Policy,
    pub allowed: &'a [crate::signing::AllowedSigner],
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub model: String,
    pub stage: String,
    pub candidate: VersionInfo,
    pub current: Option<VersionInfo>,
    pub gates: Vec<GateResult>,
    /// Every approval considered, counted or not and why.
    pub approvals: Vec<Approval>,
    pub pass: bool,
}

pub fn model_state(store: &Store, model: &str) -> Result<ModelState> {
    let entity = Entity::new(EntityKind::Model, model)?;
    existing_state(model, &store.history(&entity)?)
}

/// The state of a model that must already exist (promotions, rollbacks and
/// deprecations decide on the tip they extend, inside the store's CAS loop;
/// the report derives it from the history it also lists).
pub fn existing_state(model: &str, history: &crate::store::History) -> Result<ModelState> {
    if history.is_empty() {
        return Err(Error::invalid_with_hint(
            format!("model `{model}` does not exist"),
            "`mlops model list` shows the models; `mlops model register` creates one",
        ));
    }
    ModelState::from_history(model, history)
}

/// The version a monitor judges — the one in `stage`, else the latest — and
/// its recorded value of `metric`: what today's quality is compared with.
pub fn judged_version(
    store: &Store,
    model: &str,
    stage: &str,
    metric: Option<&str>,
) -> Option<crate::monitor::Judged> {
    let state = model_state(store, model).ok()?;
    let v = state.in_stage(stage).or_else(|| state.latest())?;
    Some(crate::monitor::Judged {
        version: v.version.version.clone(),
        record: v.record.clone(),
        metric: metric.and_then(|m| v.version.metrics.get(m).copied()),
    })
}

/// The latest drift report of a monitor.
pub fn drift_status(store: &Store, monitor: &str) -> Result<Option<DriftStatus>> {
    let entity = Entity::new(EntityKind::Monitor, monitor)?;
    let history = store.history(&entity)?;
    Ok(crate::monitor::history::rows(&history)?
        .pop()
        .map(|r| DriftStatus {
            drifted: r.dataset_drift,
            // A rewritten prediction batch leaves the metric untrusted.
            degraded: r.degraded || r.tampered,
            created_at: r.created_at,
        }))
}

/// Why the candidate's training datasets do not pass their contracts, as
/// recorded when each version was added (empty: they all do).
fn data_quality(store: &Store, config: &Config, candidate: &VersionInfo) -> Result<Vec<String>> {
    let Some(run_id) = &candidate.version.run_id else {
        return Ok(vec![
            "the version has no tracked run, so no known training data".into(),
        ]);
    };
    let run = crate::run::query::show(store, run_id)?;
    let mut problems = Vec::new();
    let mut checked_any = false;
    for input in &run.run.inputs {
        let Some(name) = &input.dataset else { continue };
        if crate::dataset::contract::of(config, name).is_none() {
            continue;
        }
        checked_any = true;
        let entity = Entity::new(EntityKind::Dataset, name)?;
        let versions = crate::dataset::version::versions(&store.history(&entity)?)?;
        let v = versions
            .iter()
            .find(|v| Some(v.record.id()) == input.version.as_deref());
        match v.and_then(|v| v.body.contract.as_ref()) {
            Some(c) if c.errors == 0 => {}
            Some(c) => problems.push(format!("`{name}`: {} contract error(s)", c.errors)),
            None => problems.push(format!(
                "`{name}`: the version trained on was not checked against its contract (added before it existed?)"
            )),
        }
    }
    if !checked_any {
        problems.push("no training dataset has a contract in mlops.toml".into());
    }
    Ok(problems)
}

/// Who the approvals must be independent of.
fn parties(store: &Store, candidate: &VersionInfo, promoter: &str) -> Result<Parties> {
    let developer = match &candidate.version.run_id {
        Some(run) => {
            let entity = Entity::new(EntityKind::Run, run)?;
            store
                .history(&entity)?
                .records
                .first()
                .map(|r| crate::signing::normalise_email(r.actor()))
        }
        None => None,
    };
    let authors = match &candidate.version.code_commit {
        Some(c) => store.db().commit_people(c).unwrap_or_default(),
        None => Vec::new(),
    };
    Ok(Parties {
        promoter: crate::signing::normalise_email(promoter),
        developer,
        authors,
    })
}

fn evaluate_on(
    store: &Store,
    checked: &Checked,
    state: &ModelState,
    records: &[Record],
    opts: &PromoteOptions,
    actor: &str,
) -> Result<Evaluation> {
    let config = &checked.policy.config;
    let candidate = state.resolve(&opts.selector)?.clone();
    let model_cfg = config.model(&opts.model);
    let default_gate = crate::config::GateConfig::default();
    let gate = model_cfg
        .and_then(|c| c.gates.get(&opts.stage))
        .unwrap_or(&default_gate);
    let drift = match &gate.drift_monitor {
        Some(m) => drift_status(store, m)?,
        None => None,
    };
    let when = context::now_timestamp();
    let mut approvals =
        crate::registry::approvals::recorded(records, &candidate, &opts.stage, checked.allowed);
    approvals.extend(
        opts.approved_by
            .iter()
            .filter_map(|w| crate::registry::approvals::asserted(w, &when)),
    );
    crate::registry::approvals::judge(
        &mut approvals,
        gate,
        &opts.stage,
        config,
        &parties(store, &candidate, actor)?,
    );
    let gates = gates::evaluate(&GateInput {
        state,
        candidate: &candidate,
        stage: &opts.stage,
        config: model_cfg,
        approvals: &approvals,
        actor,
        drift,
        data_quality: if gate.data_quality {
            Some(data_quality(store, config, &candidate)?)
        } else {
            None
        },
        shadow: match &gate.shadow {
            Some(_) => Some(crate::registry::shadow_gate::evidence(
                records,
                state,
                &candidate,
                &opts.stage,
            )?),
            None => None,
        },
        now: context::now(),
    })?;
    let pass = gates.iter().all(|g| g.pass);
    let current = state
        .in_stage(&opts.stage)
        .filter(|c| c.record != candidate.record)
        .cloned();
    Ok(Evaluation {
        model: opts.model.clone(),
        stage: opts.stage.clone(),
        candidate,
        current,
        gates,
        approvals,
        pass,
    })
}

/// Evaluates the gates without recording anything (`--check`).
pub fn check(store: &Store, checked: &Checked, opts: &PromoteOptions) -> Result<Evaluation> {
    let entity = Entity::new(EntityKind::Model, &opts.model)?;
    let history = store.history(&entity)?;
    let state = existing_state(&opts.model, &history)?;
    let actor = store.identity().unwrap_or_default();
    evaluate_on(store, checked, &state, &history.records, opts, &actor)
}

pub enum Outcome {
    Recorded(Evaluation, Record),
    /// Gates failed and there was no `--force`.
    Refused(Evaluation),
    /// The version already holds the stage.
    AlreadyThere(Evaluation),
}

pub fn promote(store: &Store, checked: &Checked, opts: &PromoteOptions) -> Result<Outcome> {
    let config = &checked.policy.config;
    if opts.force && opts.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(Error::invalid_with_hint(
            "`--force` needs a `--reason`",
            "an override is recorded with its justification: add `--reason \"...\"`",
        ));
    }
    let actor = store.identity()?;
    let entity = Entity::new(EntityKind::Model, &opts.model)?;
    // What does not depend on the model's state is taken once, not again
    // on every compare-and-swap retry.
    let code_commit = gitcli::try_output(&store.root(), &["rev-parse", "--verify", "-q", "HEAD"]);
    let ci = ci::detect();
    let mut last: Option<Evaluation> = None;
    let result = store.append(&entity, |tip| {
        let history = tip.history()?;
        let state = existing_state(&opts.model, &history)?;
        let eval = evaluate_on(store, checked, &state, &history.records, opts, &actor)?;
        if eval.candidate.stages.contains(&opts.stage) {
            return Ok(ControlFlow::Break(Outcome::AlreadyThere(eval)));
        }
        if !eval.pass && !opts.force {
            return Ok(ControlFlow::Break(Outcome::Refused(eval)));
        }
        last = Some(eval.clone());
        let from_stage = eval.candidate.stages.last().cloned();
        let body = Promotion {
            model: opts.model.clone(),
            version: eval.candidate.version.version.clone(),
            version_record: eval.candidate.record.clone(),
            from_stage,
            to_stage: Some(opts.stage.clone()),
            replaces: eval.current.as_ref().map(|c| c.version.version.clone()),
            replaces_record: eval.current.as_ref().map(|c| c.record.clone()),
            decision: if eval.pass {
                "promoted".into()
            } else {
                "overridden".into()
            },
            gates: eval.gates.clone(),
            approvals: eval.approvals.clone(),
            reason: opts.reason.as_deref().map(crate::redact::free_text),
            is_override: !eval.pass,
            code_commit: code_commit.clone(),
            ci: ci.clone(),
            inventory: Inventory::from_config(config.model(&opts.model)),
            policy: Some(checked.policy.source.clone()),
        };
        let summary = format!(
            "{} {}@{} to {}{}",
            if eval.pass {
                "promote"
            } else {
                "override: promote"
            },
            opts.model,
            body.version,
            opts.stage,
            body.replaces
                .as_ref()
                .map(|r| format!(" (replaces {r})"))
                .unwrap_or_default()
        );
        Draft::new(PROMOTION, SCHEMA, summary)
            .with_body(&body)
            .map(ControlFlow::Continue)
    })?;
    Ok(match result {
        ControlFlow::Break(outcome) => outcome,
        ControlFlow::Continue(record) => Outcome::Recorded(
            last.expect("a promotion is recorded only after its evaluation"),
            record,
        ),
    })
}

pub struct RollbackOptions {
    pub model: String,
    pub stage: String,
    pub to: Option<String>,
    pub reason: String,
}

/// Puts the previous (or the named) version back in a stage.
pub fn rollback(
    store: &Store,
    config: &Config,
    opts: &RollbackOptions,
) -> Result<(Record, Promotion)> {
    if opts.reason.trim().is_empty() {
        return Err(Error::invalid_with_hint(
            "a rollback needs a reason",
            "add `--reason \"...\"`",
        ));
    }
    let entity = Entity::new(EntityKind::Model, &opts.model)?;
    let record = store.append(&entity, |tip| {
        let state = existing_state(&opts.model, &tip.history()?)?;
        let stages = gates::stages_of(config.model(&opts.model));
        if !stages.contains(&opts.stage) {
            return Err(Error::invalid_with_hint(
                format!("model `{}` has no stage `{}`", opts.model, opts.stage),
                format!("its stages are {}", stages.join(", ")),
            ));
        }
        let current = state.in_stage(&opts.stage).cloned().ok_or_else(|| {
            Error::invalid_with_hint(
                format!(
                    "no version of model `{}` is in stage `{}`",
                    opts.model, opts.stage
                ),
                format!(
                    "there is nothing to roll back; `mlops model show {}` lists its stages",
                    opts.model
                ),
            )
        })?;
        let target: &VersionInfo = match &opts.to {
            Some(v) => {
                let spec = crate::registry::spec::parse(&format!("{}@{v}", opts.model), None)?;
                state.resolve(&spec.selector)?
            }
            None => fallback_stack(&state, &opts.stage)
                .iter()
                .rev()
                .filter(|r| **r != current.record)
                .filter_map(|r| state.by_record(r))
                .find(|v| !v.deprecated)
                .ok_or_else(|| {
                    Error::invalid_with_hint(
                        format!(
                            "stage `{}` of model `{}` has no earlier version to roll back to",
                            opts.stage, opts.model
                        ),
                        "name one with `--to <version>`",
                    )
                })?,
        };
        if target.record == current.record {
            return Err(Error::invalid(format!(
                "version `{}` already holds `{}`",
                current.version.version, opts.stage
            )));
        }
        if target.deprecated {
            return Err(Error::invalid(format!(
                "version `{}` is deprecated",
                target.version.version
            )));
        }
        let body = Promotion {
            model: opts.model.clone(),
            version: target.version.version.clone(),
            version_record: target.record.clone(),
            from_stage: target.stages.last().cloned(),
            to_stage: Some(opts.stage.clone()),
            replaces: Some(current.version.version.clone()),
            replaces_record: Some(current.record.clone()),
            decision: "rolled-back".into(),
            gates: Vec::new(),
            approvals: Vec::new(),
            reason: Some(crate::redact::free_text(&opts.reason)),
            is_override: false,
            code_commit: gitcli::try_output(
                &store.root(),
                &["rev-parse", "--verify", "-q", "HEAD"],
            ),
            ci: ci::detect(),
            inventory: Inventory::from_config(config.model(&opts.model)),
            policy: None,
        };
        let summary = format!(
            "rollback {} {}: {} -> {}",
            opts.model, opts.stage, current.version.version, body.version
        );
        Draft::new(ROLLBACK, SCHEMA, summary)
            .with_body(&body)
            .map(ControlFlow::<Infallible, _>::Continue)
    })?;
    let ControlFlow::Continue(record) = record;
    let body = record.parse()?;
    Ok((record, body))
}

/// The version records a stage falls back to, newest last. A promotion
/// pushes; a rollback to a version already on the stack pops back to it, so
/// a second rollback walks further back instead of returning to the version
/// the first one removed.
pub fn fallback_stack(state: &ModelState, stage: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    for (record, p) in &state.moves {
        if p.to_stage.as_deref() != Some(stage) {
            continue;
        }
        if record.kind() == ROLLBACK {
            if let Some(i) = stack.iter().rposition(|v| *v == p.version_record) {
                stack.truncate(i + 1);
                continue;
            }
        }
        stack.push(p.version_record.clone());
    }
    stack
}

/// Marks a version deprecated; it leaves every stage it held.
pub fn deprecate(
    store: &Store,
    config: &Config,
    model: &str,
    version: &str,
    reason: Option<String>,
) -> Result<(Record, Promotion)> {
    let entity = Entity::new(EntityKind::Model, model)?;
    let record = store.append(&entity, |tip| {
        let state = existing_state(model, &tip.history()?)?;
        let spec = crate::registry::spec::parse(&format!("{model}@{version}"), None)?;
        let v = state.resolve(&spec.selector)?;
        if v.deprecated {
            return Err(Error::invalid(format!(
                "version `{version}` is already deprecated"
            )));
        }
        let body = Promotion {
            model: model.to_string(),
            version: v.version.version.clone(),
            version_record: v.record.clone(),
            from_stage: v.stages.last().cloned(),
            to_stage: None,
            replaces: None,
            replaces_record: None,
            decision: "deprecated".into(),
            gates: Vec::new(),
            approvals: Vec::new(),
            reason: reason.as_deref().map(crate::redact::free_text),
            is_override: false,
            code_commit: None,
            ci: ci::detect(),
            inventory: Inventory::from_config(config.model(model)),
            policy: None,
        };
        let mut summary = format!("deprecate {model}@{version}");
        if !v.stages.is_empty() {
            summary.push_str(&format!(" (leaves {})", v.stages.join(", ")));
        }
        Draft::new(DEPRECATION, SCHEMA, summary)
            .with_body(&body)
            .map(ControlFlow::<Infallible, _>::Continue)
    })?;
    let ControlFlow::Continue(record) = record;
    let body = record.parse()?;
    Ok((record, body))
}

/// Projects a stage or version onto a git tag for CI triggers (only when
/// asked; never pushed by mlops).
pub fn tag(store: &Store, name: &str, commit: Option<&str>) -> Result<String> {
    let root = store.root();
    let target = match commit {
        Some(c) => c.to_string(),
        None => gitcli::output(&root, &["rev-parse", "--verify", "HEAD"]).map_err(|_| {
            Error::invalid_with_hint(
                format!("cannot create tag `{name}`: the repository has no commit to point it at"),
                "commit first, or leave out `--tag`",
            )
        })?,
    };
    gitcli::output(&root, &["tag", "-f", name, &target])?;
    Ok(target)
}
