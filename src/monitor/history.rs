//! `mlops drift history`: per-column scores of a monitor over time, read from
//! its recorded reports.

use std::collections::BTreeMap;

use serde::Serialize;

use super::record::DriftRecord;
use crate::error::{Error, Result};
use crate::store::{Entity, EntityKind, Store};

#[derive(Debug, Serialize)]
pub struct HistoryRow {
    pub id: String,
    pub created_at: String,
    pub actor: String,
    pub dataset_drift: bool,
    pub share: f64,
    pub drifted: u64,
    pub tested: u64,
    pub rows: Option<u64>,
    /// The model's quality fell beyond `max_degradation` (a performance
    /// monitor): as blocking for a promotion as dataset drift.
    pub degraded: bool,
    /// A late-label monitor found a prediction batch rewritten after it was
    /// served: the metric cannot be trusted, so it blocks too.
    pub tampered: bool,
    /// The metric a performance or late-label monitor judged, and its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<(String, Option<f64>)>,
    /// Column → (test, score, drift).
    pub columns: BTreeMap<String, ColumnPoint>,
}

#[derive(Debug, Serialize)]
pub struct ColumnPoint {
    pub test: Option<String>,
    pub score: Option<f64>,
    pub drift: bool,
}

/// Every recorded run of a monitor, oldest first.
pub fn history(store: &Store, monitor: &str) -> Result<Vec<HistoryRow>> {
    let entity = Entity::new(EntityKind::Monitor, monitor)?;
    let h = store.history(&entity)?;
    if h.is_empty() {
        return Err(Error::invalid_with_hint(
            format!("monitor `{monitor}` has no recorded drift reports"),
            format!("run `mlops drift {monitor}` first"),
        ));
    }
    rows(&h)
}

/// The drift reports of a monitor's history, oldest first.
pub fn rows(h: &crate::store::History) -> Result<Vec<HistoryRow>> {
    Ok(super::record::all(h)?
        .into_iter()
        .map(|(r, d)| row(r, &d))
        .collect())
}

fn row(r: &crate::record::Record, d: &DriftRecord) -> HistoryRow {
    HistoryRow {
        id: r.id().to_string(),
        created_at: r.created_at().to_string(),
        actor: r.actor().to_string(),
        dataset_drift: d.dataset_drift,
        share: d.share,
        drifted: d.drifted,
        tested: d.tested,
        rows: match &d.late_labels {
            Some(l) => Some(l.labelled_rows),
            None => Some(d.report.rows.1),
        },
        degraded: d.is_degraded(),
        tampered: d.tampered(),
        metric: d
            .report
            .performance
            .as_ref()
            .map(|p| (p.metric.clone(), p.current)),
        columns: d
            .report
            .columns
            .iter()
            .map(|c| {
                (
                    c.column.clone(),
                    ColumnPoint {
                        test: c.test.clone(),
                        score: c.score,
                        drift: c.drift,
                    },
                )
            })
            .collect(),
    }
}
