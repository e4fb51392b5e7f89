//! `mlops drift history`: per-column scores of a monitor over time, read from
//! its recorded reports.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

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
    #[serde(default)]
    pub degraded: bool,
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
    Ok(rows(&h))
}

/// The drift reports of a monitor's history, oldest first.
pub fn rows(h: &crate::store::History) -> Vec<HistoryRow> {
    h.of_kind(super::KIND)
        .map(|r| {
            let v = r.value();
            let columns = v
                .pointer("/report/columns")
                .and_then(Value::as_array)
                .map(|cols| {
                    cols.iter()
                        .filter_map(|c| {
                            Some((
                                c.get("column")?.as_str()?.to_string(),
                                ColumnPoint {
                                    test: c.get("test").and_then(Value::as_str).map(str::to_string),
                                    score: c.get("score").and_then(Value::as_f64),
                                    drift: c.get("drift").and_then(Value::as_bool).unwrap_or(false),
                                },
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            HistoryRow {
                id: r.id().to_string(),
                created_at: r.created_at().to_string(),
                actor: r.actor().to_string(),
                // A report that does not say is not a pass (the promotion
                // gate reads this too).
                dataset_drift: v
                    .get("dataset_drift")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                share: v.get("share").and_then(Value::as_f64).unwrap_or(0.0),
                drifted: v.get("drifted").and_then(Value::as_u64).unwrap_or(0),
                tested: v.get("tested").and_then(Value::as_u64).unwrap_or(0),
                rows: v.pointer("/report/rows/1").and_then(Value::as_u64),
                degraded: v
                    .pointer("/report/performance/degraded")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                columns,
            }
        })
        .collect()
}
