//! `mlops model supersede`: the documented way out of a version conflict.
//!
//! Two clones that registered the same version string independently both
//! keep their records after a sync (records are immutable); every reader then
//! refuses to choose between them. A supersede event names the record that
//! is the version from now on; the others stay in the history, resolvable by
//! record id (`model@sha256:<prefix>`) and shown as superseded.

use std::convert::Infallible;
use std::ops::ControlFlow;

use crate::error::{Error, Result};
use crate::record::{self, Draft, Record};
use crate::registry::promote::existing_state;
use crate::registry::records::{Supersede, SCHEMA, SUPERSEDE};
use crate::registry::spec::{self, Selector};
use crate::store::{Entity, EntityKind, Store};

pub fn supersede(
    store: &Store,
    model: &str,
    version: &str,
    keep: &str,
    reason: &str,
) -> Result<(Record, Supersede)> {
    if reason.trim().is_empty() {
        return Err(Error::invalid_with_hint(
            "a supersede needs a reason",
            "add `--reason \"...\"` (which clone's version is kept, and why)",
        ));
    }
    let keep_sel = spec::parse(&format!("{model}@{keep}"), None)?.selector;
    if !matches!(keep_sel, Selector::Record(_)) {
        return Err(Error::invalid_with_hint(
            format!("`--keep {keep}` does not name a version record"),
            format!("name the record to keep by its id: `--keep sha256:<prefix>` (`mlops model show {model}` lists them)"),
        ));
    }
    let entity = Entity::new(EntityKind::Model, model)?;
    let appended = store.append(&entity, |tip| {
        let state = existing_state(model, &tip.history()?)?;
        let kept = state.resolve(&keep_sel)?;
        if kept.version.version != version {
            return Err(Error::invalid(format!(
                "record {} is version `{}`, not `{version}`",
                record::short(&kept.record),
                kept.version.version
            )));
        }
        let superseded: Vec<String> = state
            .versions
            .iter()
            .filter(|v| {
                v.version.version == version && v.record != kept.record && v.superseded_by.is_none()
            })
            .map(|v| v.record.clone())
            .collect();
        if superseded.is_empty() {
            return Err(Error::invalid_with_hint(
                format!("version `{version}` of model `{model}` is not in conflict"),
                "only a version string claimed by several records needs a supersede",
            ));
        }
        let body = Supersede {
            model: model.to_string(),
            version: version.to_string(),
            kept: kept.record.clone(),
            superseded: superseded.clone(),
            reason: crate::redact::free_text(reason),
        };
        let summary = format!(
            "supersede {model}@{version}: keep {}, retire {}",
            record::short(&kept.record),
            superseded
                .iter()
                .map(|s| record::short(s).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Draft::new(SUPERSEDE, SCHEMA, summary)
            .with_body(&body)
            .map(ControlFlow::<Infallible, _>::Continue)
    })?;
    let ControlFlow::Continue(record) = appended;
    let body = record.parse()?;
    Ok((record, body))
}
