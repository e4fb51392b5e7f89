//! A derived index of runs for fast listing: one row per run, keyed by the
//! run ref's commit id. A row is reused only while its ref still points at the
//! same commit (commits are content-addressed, so the row cannot be stale);
//! anything else is re-read from git. Deleting the file loses nothing but
//! speed — it is never a second truth.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::run::record::{Amendment, RunRecord, AMENDMENT, KIND};
use crate::store::{EntityKind, History, Store};

const FILE: &str = "runs-index.v2.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub run_id: String,
    pub name: Option<String>,
    pub experiment: String,
    pub status: String,
    pub started_at: String,
    pub ended_at: String,
    pub duration_s: f64,
    pub exit_code: Option<i32>,
    pub params: BTreeMap<String, Value>,
    /// Summary values, with amendments applied.
    pub metrics: BTreeMap<String, f64>,
    /// Metrics whose value comes from an amendment.
    #[serde(default)]
    pub amended: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub commit: Option<String>,
    pub record: String,
    /// The commit of the run's ref this row was built from.
    pub tip: String,
    /// When the run's newest record (the run, or its last amendment) was
    /// made: where `log -n` starts without reading the run.
    pub newest_at: String,
}

impl Row {
    pub fn from_history(history: &History, tip: String) -> Option<Row> {
        let record = history.of_kind(KIND).next()?;
        let run: RunRecord = record.parse().ok()?;
        let mut metrics: BTreeMap<String, f64> = run
            .metrics
            .iter()
            .map(|(k, m)| (k.clone(), m.value))
            .collect();
        let mut tags = run.tags.clone();
        let mut amended = Vec::new();
        for a in history.of_kind(AMENDMENT) {
            if let Ok(a) = a.parse::<Amendment>() {
                for (k, v) in a.metrics {
                    metrics.insert(k.clone(), v);
                    amended.push(k);
                }
                tags.extend(a.tags);
            }
        }
        amended.sort();
        amended.dedup();
        Some(Row {
            run_id: run.run_id,
            name: run.name,
            experiment: run.experiment,
            status: run.status.as_str().to_string(),
            started_at: run.started_at,
            ended_at: run.ended_at,
            duration_s: run.duration_s,
            exit_code: run.exit_code,
            params: run.params,
            metrics,
            amended,
            tags,
            commit: run.code.and_then(|c| c.commit),
            record: record.id().to_string(),
            tip,
            newest_at: history
                .records
                .last()
                .map(|r| r.created_at().to_string())
                .unwrap_or_default(),
        })
    }
}

fn path(store: &Store) -> PathBuf {
    store.git_dir().join("mlops").join(FILE)
}

/// The rows the index file holds, by run id, without checking them against
/// the refs (a caller that checks each row's `tip` itself).
pub fn cached_rows(store: &Store) -> std::collections::BTreeMap<String, Row> {
    std::fs::read(path(store))
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<Row>>(&b).ok())
        .map(|rows| rows.into_iter().map(|r| (r.run_id.clone(), r)).collect())
        .unwrap_or_default()
}

/// Every run, oldest first, using and refreshing the index.
pub fn rows(store: &Store) -> Result<Vec<Row>> {
    let tips = store.tips(Some(EntityKind::Run))?;
    let mut cached: HashMap<String, Row> = std::fs::read(path(store))
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<Row>>(&b).ok())
        .map(|rows| rows.into_iter().map(|r| (r.run_id.clone(), r)).collect())
        .unwrap_or_default();
    let mut out = Vec::with_capacity(tips.len());
    let mut changed = cached.len() != tips.len();
    let mut stale = Vec::new();
    for (entity, tip) in tips {
        match cached.remove(&entity.name) {
            Some(row) if row.tip == tip => out.push(row),
            _ => stale.push((entity, tip)),
        }
    }
    // A fresh clone or CI job has no index: the archive carries the rows of
    // every folded run (checked by `verify` against the records), and only
    // the runs it does not hold at that tip are read, on every core.
    if stale.len() > 64 {
        if let Some(tip) = store.db().read_ref(crate::store::archive::REF)? {
            let archived = crate::store::archive::read(store.db(), Some(tip))?;
            let rows = crate::run::fold::index_rows(store, &archived)?;
            stale.retain(|(entity, tip)| match rows.get(&entity.name) {
                Some(row) if &row.tip == tip => {
                    out.push(row.clone());
                    false
                }
                _ => true,
            });
            changed = true;
        }
    }
    if !stale.is_empty() {
        changed = true;
        let read = |store: &Store, (entity, tip): &(crate::store::Entity, String)| {
            Ok::<_, crate::error::Error>(Row::from_history(&store.history(entity)?, tip.clone()))
        };
        let rows: Vec<Option<Row>> = if stale.len() < 64 {
            stale
                .iter()
                .map(|e| read(store, e))
                .collect::<Result<_>>()?
        } else {
            use rayon::prelude::*;
            let shared = store.shared();
            stale
                .par_iter()
                .map_init(|| Store::from_shared(&shared), |s, e| read(s, e))
                .collect::<Result<_>>()?
        };
        out.extend(rows.into_iter().flatten());
    }
    out.sort_by(|a, b| (&a.started_at, &a.run_id).cmp(&(&b.started_at, &b.run_id)));
    if changed {
        // Best effort: a failed write only costs the next call some time.
        if let Ok(bytes) = serde_json::to_vec(&out) {
            let p = path(store);
            if let Some(dir) = p.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = crate::templates::write_atomically(&p, &bytes);
        }
    }
    Ok(out)
}
