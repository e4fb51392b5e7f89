//! Reading runs back: filtering and sorting for `runs list`, prefix
//! resolution of run ids (like git's abbreviated hashes), the detail of one
//! run, and side-by-side comparison with deltas.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::record::Record;
use crate::run::filter::{self, Expr, Field, Scope, SortKey};
use crate::run::index::Row;
use crate::run::metrics::{parse_history, Series};
use crate::run::record::{Amendment, RunRecord, AMENDMENT, KIND};
use crate::store::{Entity, EntityKind, Store};

/// A filter error as the CLI shows it: one line, with the caret as the hint.
pub fn filter_error(flag: &str, e: filter::FilterError) -> Error {
    Error::Invalid {
        message: format!("`{flag}`: {e}"),
        hint: Some(e.caret().replace('\n', "\n      ")),
    }
}

/// A run's value for a filter, sort or column field.
pub fn lookup(row: &Row, field: &Field) -> Option<filter::Value> {
    match field.scope {
        Scope::Metric => row.metrics.get(&field.key).map(|v| filter::Value::Num(*v)),
        Scope::Param => row.params.get(&field.key).and_then(json_to_filter),
        Scope::Tag => row
            .tags
            .get(&field.key)
            .map(|v| filter::Value::Str(v.clone())),
        Scope::Attribute => match field.key.as_str() {
            "run_id" => Some(filter::Value::Str(row.run_id.clone())),
            "run_name" | "name" => row.name.clone().map(filter::Value::Str),
            "status" => Some(filter::Value::Str(row.status.clone())),
            "experiment" => Some(filter::Value::Str(row.experiment.clone())),
            "start_time" => Some(filter::Value::Str(row.started_at.clone())),
            "end_time" => Some(filter::Value::Str(row.ended_at.clone())),
            "duration" => Some(filter::Value::Num(row.duration_s)),
            "exit_code" => row.exit_code.map(|c| filter::Value::Num(c as f64)),
            _ => None,
        },
    }
}

fn json_to_filter(v: &Value) -> Option<filter::Value> {
    match v {
        Value::Number(n) => n.as_f64().map(filter::Value::Num),
        Value::String(s) => Some(filter::Value::Str(s.clone())),
        Value::Bool(b) => Some(filter::Value::Bool(*b)),
        _ => None,
    }
}

pub struct ListQuery {
    pub experiment: Option<String>,
    pub filter: Option<Expr>,
    pub sort: Vec<SortKey>,
    pub limit: Option<usize>,
}

/// Filters and sorts; without `--sort`, newest first.
pub fn select(rows: Vec<Row>, q: &ListQuery) -> Vec<Row> {
    let mut out: Vec<Row> = rows
        .into_iter()
        .filter(|r| q.experiment.as_ref().is_none_or(|e| &r.experiment == e))
        .filter(|r| {
            q.filter
                .as_ref()
                .is_none_or(|f| f.eval(&|field| lookup(r, field)))
        })
        .collect();
    if q.sort.is_empty() {
        out.reverse();
    } else {
        out.sort_by(|a, b| {
            for key in &q.sort {
                let ord = key.compare(
                    lookup(a, &key.field).as_ref(),
                    lookup(b, &key.field).as_ref(),
                );
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            b.started_at.cmp(&a.started_at)
        });
    }
    if let Some(n) = q.limit {
        out.truncate(n);
    }
    out
}

/// The default columns: the run, then the metrics and params most runs share.
pub fn default_columns(rows: &[Row]) -> Vec<Field> {
    let mut fields = vec![
        Field {
            scope: Scope::Attribute,
            key: "run_id".into(),
        },
        Field {
            scope: Scope::Attribute,
            key: "run_name".into(),
        },
        Field {
            scope: Scope::Attribute,
            key: "experiment".into(),
        },
        Field {
            scope: Scope::Attribute,
            key: "status".into(),
        },
        Field {
            scope: Scope::Attribute,
            key: "start_time".into(),
        },
        Field {
            scope: Scope::Attribute,
            key: "duration".into(),
        },
    ];
    let mut metric_counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut param_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        for k in r.metrics.keys() {
            *metric_counts.entry(k).or_default() += 1;
        }
        for k in r.params.keys() {
            *param_counts.entry(k).or_default() += 1;
        }
    }
    let top = |counts: BTreeMap<&str, usize>, n: usize| {
        let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut keys: Vec<String> = v.into_iter().take(n).map(|(k, _)| k.to_string()).collect();
        keys.sort();
        keys
    };
    for k in top(metric_counts, 6) {
        fields.push(Field {
            scope: Scope::Metric,
            key: k,
        });
    }
    for k in top(param_counts, 4) {
        fields.push(Field {
            scope: Scope::Param,
            key: k,
        });
    }
    fields
}

/// A cell's text: numbers in a short form, missing as `—`.
pub fn cell(row: &Row, field: &Field) -> String {
    match lookup(row, field) {
        None => "—".into(),
        Some(filter::Value::Num(n))
            if field.scope == Scope::Attribute && field.key == "duration" =>
        {
            format!("{n:.1}s")
        }
        Some(filter::Value::Num(n)) => {
            let amended = field.scope == Scope::Metric && row.amended.contains(&field.key);
            format!("{}{}", short_number(n), if amended { "*" } else { "" })
        }
        Some(filter::Value::Str(s)) => s,
        Some(filter::Value::Bool(b)) => b.to_string(),
    }
}

pub fn short_number(n: f64) -> String {
    if n == n.trunc() && n.abs() < 1e12 {
        format!("{}", n as i64)
    } else if n.abs() >= 1e-3 && n.abs() < 1e6 {
        let s = format!("{n:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{n:.4e}")
    }
}

/// A change as people read it: `+0.12, +14.8%`, or `+0.12` when the base is zero.
pub fn delta_text(delta: f64, pct: Option<f64>) -> String {
    let sign = if delta >= 0.0 { "+" } else { "" };
    match pct {
        Some(p) => format!("{sign}{}, {p:+.1}%", short_number(delta)),
        None => format!("{sign}{}", short_number(delta)),
    }
}

pub fn column_name(f: &Field) -> String {
    match f.scope {
        Scope::Attribute => f.key.clone(),
        _ => f.to_string(),
    }
}

/// Resolves a unique prefix (or, failing that, a unique suffix) of a run id.
pub fn resolve(store: &Store, prefix: &str) -> Result<String> {
    let prefix = prefix.trim();
    if prefix.is_empty() {
        return Err(Error::invalid("empty run id"));
    }
    let all: Vec<String> = store
        .entities(Some(EntityKind::Run))?
        .into_iter()
        .map(|e| e.name)
        .collect();
    // Ids start with their time, so a unique prefix is rarely short; the
    // random suffix (what people copy from a table) resolves too.
    let mut matches: Vec<String> = all
        .iter()
        .filter(|n| n.starts_with(prefix))
        .cloned()
        .collect();
    if matches.is_empty() && prefix.len() >= 4 {
        matches = all
            .iter()
            .filter(|n| n.ends_with(prefix))
            .cloned()
            .collect();
    }
    match matches.len() {
        0 => Err(Error::invalid_with_hint(
            format!("no run matches `{prefix}`"),
            "`mlops runs list` shows the run ids",
        )),
        1 => Ok(matches.into_iter().next().expect("one")),
        n => Err(Error::invalid_with_hint(
            format!(
                "`{prefix}` matches {n} runs: {}",
                matches
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "give more characters of the run id",
        )),
    }
}

#[derive(Debug, Serialize)]
pub struct RunView {
    pub id: String,
    pub run: RunRecord,
    pub amendments: Vec<AmendmentView>,
    /// Every metric's history (step, value, time).
    pub history: BTreeMap<String, Series>,
    pub events: usize,
    /// The run's ref tip these records were read at (for citing them).
    #[serde(skip)]
    pub tip: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AmendmentView {
    pub id: String,
    pub created_at: String,
    pub actor: String,
    #[serde(flatten)]
    pub amendment: Amendment,
}

pub fn show(store: &Store, run_id: &str) -> Result<RunView> {
    let entity = Entity::new(EntityKind::Run, run_id)?;
    let history = store.history(&entity)?;
    let record: &Record = history
        .of_kind(KIND)
        .next()
        .ok_or_else(|| Error::NotFound(format!("run `{run_id}`")))?;
    let run: RunRecord = record.parse()?;
    let hist = match &run.metric_history {
        Some(id) => parse_history(&store.attachment(&history, id)?).unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let amendments = history
        .of_kind(AMENDMENT)
        .filter_map(|r| {
            Some(AmendmentView {
                id: r.id().to_string(),
                created_at: r.created_at().to_string(),
                actor: r.actor().to_string(),
                amendment: r.parse().ok()?,
            })
        })
        .collect();
    Ok(RunView {
        id: record.id().to_string(),
        run,
        amendments,
        history: hist,
        events: history.records.len(),
        tip: history.tip.map(|t| t.to_string()),
    })
}

#[derive(Debug, Serialize)]
pub struct Comparison {
    pub runs: Vec<String>,
    pub names: Vec<Option<String>>,
    pub params: Vec<CompareRow>,
    /// Each metric's slices (`auc{gender=F}`) follow it.
    pub metrics: Vec<CompareRow>,
    /// Per sliced metric and set of slice keys, its spread in each run
    /// (`None` where the run has no such slices).
    pub slices: Vec<CompareSlices>,
}

#[derive(Debug, Serialize)]
pub struct CompareSlices {
    pub metric: String,
    /// The slice keys, comma-joined (`gender`, `age,gender`).
    pub by: String,
    pub spreads: Vec<Option<crate::run::slices::Spread>>,
}

impl CompareSlices {
    /// `min 0.25 (gender=F) · max 0.35 (gender=M) · gap 0.1 · ratio 0.7143`.
    pub fn cell(&self, i: usize) -> String {
        match &self.spreads[i] {
            None => "—".into(),
            Some(s) => format!(
                "min {} ({}) · max {} ({}) · gap {} · ratio {}",
                short_number(s.min.value),
                s.min.slice,
                short_number(s.max.value),
                s.max.slice,
                short_number(s.gap),
                s.ratio.map(short_number).unwrap_or_else(|| "—".into())
            ),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CompareRow {
    pub key: String,
    pub values: Vec<Option<Value>>,
    /// Against the first run: `value - base`, for numbers present in both.
    pub delta: Vec<Option<f64>>,
    /// `100 * delta / |base|`, when the base is not zero.
    pub delta_pct: Vec<Option<f64>>,
    /// Whether the values differ across runs.
    pub differs: bool,
}

/// Params and metrics of several runs side by side; the first is the baseline.
pub fn compare(rows: &[Row]) -> Comparison {
    let build = |keys: BTreeSet<String>, get: &dyn Fn(&Row, &str) -> Option<Value>| {
        keys.into_iter()
            .map(|key| {
                let values: Vec<Option<Value>> = rows.iter().map(|r| get(r, &key)).collect();
                let base = values.first().cloned().flatten().and_then(|v| v.as_f64());
                let delta: Vec<Option<f64>> = values
                    .iter()
                    .map(|v| match (base, v.as_ref().and_then(Value::as_f64)) {
                        (Some(b), Some(x)) => Some(x - b),
                        _ => None,
                    })
                    .collect();
                let delta_pct = delta
                    .iter()
                    .map(|d| match (d, base) {
                        (Some(d), Some(b)) if b != 0.0 => Some(100.0 * d / b.abs()),
                        _ => None,
                    })
                    .collect();
                let differs = values.windows(2).any(|w| w[0] != w[1]);
                CompareRow {
                    key,
                    values,
                    delta,
                    delta_pct,
                    differs,
                }
            })
            .collect::<Vec<_>>()
    };
    let param_keys: BTreeSet<String> = rows.iter().flat_map(|r| r.params.keys().cloned()).collect();
    let metric_keys: BTreeSet<String> = rows
        .iter()
        .flat_map(|r| r.metrics.keys().cloned())
        .collect();
    let mut metrics = build(metric_keys, &|r, k| {
        r.metrics.get(k).map(|v| Value::from(*v))
    });
    metrics.sort_by_cached_key(|r| crate::run::slices::sort_key(&r.key));
    let groups: BTreeSet<(String, String)> = rows
        .iter()
        .flat_map(|r| crate::run::slices::groups(&r.metrics))
        .map(|s| (s.metric, s.by.unwrap_or_default()))
        .collect();
    let slices = groups
        .into_iter()
        .map(|(metric, by)| CompareSlices {
            spreads: rows
                .iter()
                .map(|r| {
                    let found = crate::run::slices::slices_of(&r.metrics, &metric, Some(&by));
                    crate::run::slices::spread(&metric, Some(&by), found)
                })
                .collect(),
            metric,
            by,
        })
        .collect();
    Comparison {
        runs: rows.iter().map(|r| r.run_id.clone()).collect(),
        names: rows.iter().map(|r| r.name.clone()).collect(),
        params: build(param_keys, &|r, k| r.params.get(k).cloned()),
        metrics,
        slices,
    }
}

/// The comparison as a Markdown table, for a pull request.
pub fn compare_markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let headers: Vec<String> = c
        .runs
        .iter()
        .zip(&c.names)
        .enumerate()
        .map(|(i, (id, name))| {
            let label = name.clone().unwrap_or_else(|| id.clone());
            if i == 0 {
                format!("{label} (base)")
            } else {
                label
            }
        })
        .collect();
    out.push_str(&format!("| | {} |\n", headers.join(" | ")));
    out.push_str(&format!("|---|{}\n", "---|".repeat(headers.len())));
    let fmt_v = |v: &Option<Value>| match v {
        None => "—".to_string(),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(short_number)
            .unwrap_or_else(|| n.to_string()),
        Some(Value::String(s)) => crate::markdown::escape(s),
        Some(other) => other.to_string(),
    };
    for (section, rows) in [("params", &c.params), ("metrics", &c.metrics)] {
        for r in rows.iter() {
            let cells: Vec<String> = r
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let base = fmt_v(v);
                    match (i, r.delta[i], r.delta_pct[i]) {
                        (0, _, _) => base,
                        (_, Some(d), p) if section == "metrics" => {
                            format!("{base} ({})", delta_text(d, p))
                        }
                        _ => base,
                    }
                })
                .collect();
            out.push_str(&format!(
                "| {section}.{} | {} |\n",
                crate::markdown::escape(&r.key),
                cells.join(" | ")
            ));
        }
    }
    for g in &c.slices {
        let cells: Vec<String> = (0..c.runs.len())
            .map(|i| crate::markdown::escape(&g.cell(i)))
            .collect();
        out.push_str(&format!(
            "| slices.{} by {} | {} |\n",
            crate::markdown::escape(&g.metric),
            crate::markdown::escape(&g.by),
            cells.join(" | ")
        ));
    }
    out
}
