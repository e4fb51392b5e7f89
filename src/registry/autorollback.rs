//! Automatic rollback (docs/monitoring.md): a monitor with
//! `on_breach = "rollback"` whose run finds the model's quality degraded
//! records a rollback of the stage it guards to the previous version,
//! naming the monitor's report as the reason. Once: a version that an
//! automatic rollback put in the stage is not rolled back automatically
//! again (a person decides), so two bad versions never oscillate, and a
//! deprecated version is never the target. The record moves; serving
//! follows `mlops resolve <model>@<stage>`.

use serde::Serialize;

use crate::config::{Config, MonitorConfig};
use crate::error::Result;
use crate::registry::promote::{self, fallback_stack, RollbackOptions};
use crate::registry::records::ROLLBACK;

/// The reason every automatic rollback starts with.
const AUTOMATIC: &str = "automatic rollback";

#[derive(Debug, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    RolledBack {
        record: String,
        stage: String,
        from: String,
        to: String,
    },
    WouldRollBack {
        stage: String,
        from: String,
        to: String,
    },
    Skipped {
        stage: String,
        why: String,
    },
}

pub fn on_breach(
    store: &crate::store::Store,
    config: &Config,
    monitor: &str,
    cfg: &MonitorConfig,
    report: Option<&str>,
    dry_run: bool,
) -> Result<Option<Action>> {
    if cfg.on_breach.as_deref() != Some("rollback") {
        return Ok(None);
    }
    let Some(model) = cfg.model.as_deref() else {
        return Ok(None);
    };
    let stage = cfg.guards.clone().unwrap_or_else(|| "production".into());
    let state = promote::model_state(store, model)?;
    let skip = |why: String| {
        Ok(Some(Action::Skipped {
            stage: stage.clone(),
            why,
        }))
    };
    let Some(current) = state.in_stage(&stage).cloned() else {
        return skip(format!("no version of `{model}` is in `{stage}`"));
    };
    let last_move = state
        .moves
        .iter()
        .rev()
        .find(|(_, p)| p.to_stage.as_deref() == Some(stage.as_str()));
    if let Some((r, p)) = last_move {
        if r.kind() == ROLLBACK
            && p.reason
                .as_deref()
                .is_some_and(|x| x.starts_with(AUTOMATIC))
        {
            return skip(format!(
                "{}@{} is in `{stage}` by an automatic rollback already: a person decides what comes next",
                model, current.version.version
            ));
        }
    }
    let target = fallback_stack(&state, &stage)
        .iter()
        .rev()
        .filter(|r| **r != current.record)
        .filter_map(|r| state.by_record(r))
        .find(|v| !v.deprecated)
        .cloned();
    let Some(target) = target else {
        return skip(format!(
            "`{stage}` has no earlier version of `{model}` to roll back to"
        ));
    };
    if dry_run {
        return Ok(Some(Action::WouldRollBack {
            stage,
            from: current.version.version.clone(),
            to: target.version.version.clone(),
        }));
    }
    let (record, _) = promote::rollback(
        store,
        config,
        &RollbackOptions {
            model: model.to_string(),
            stage: stage.clone(),
            to: Some(target.version.version.clone()),
            reason: format!(
                "{AUTOMATIC}: monitor `{monitor}` found the model's quality degraded{}",
                report.map(|r| format!(" (report {r})")).unwrap_or_default()
            ),
        },
    )?;
    Ok(Some(Action::RolledBack {
        record: record.id().to_string(),
        stage,
        from: current.version.version.clone(),
        to: target.version.version.clone(),
    }))
}
