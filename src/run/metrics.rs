//! The metrics protocol: a training script in any language appends JSON lines
//! to the file named by `MLOPS_METRICS`; no library is needed.
//!
//! ```text
//! {"step": 3, "loss": 0.41, "acc": 0.87}
//! {"params": {"lr": 0.01, "depth": 6}}
//! {"tags": {"model": "gbm"}}
//! ```
//!
//! A line may carry `"time"` (RFC 3339 or Unix seconds). Bad lines are reported
//! as warnings on the run and skipped: a typo in logging must not lose a
//! three-hour training run.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::SummaryRule;
use crate::run::record::MetricSummary;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Series {
    pub step: Vec<Option<i64>>,
    pub value: Vec<f64>,
    pub time: Vec<Option<String>>,
}

#[derive(Debug, Default)]
pub struct Collected {
    pub history: BTreeMap<String, Series>,
    pub params: BTreeMap<String, Value>,
    pub tags: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

impl Collected {
    pub fn push(&mut self, name: &str, step: Option<i64>, value: f64, time: Option<String>) {
        let s = self.history.entry(name.to_string()).or_default();
        s.step.push(step);
        s.value.push(value);
        s.time.push(time);
    }

    /// Reads a metrics file; a missing file is an empty one.
    pub fn read_file(&mut self, path: &Path) -> std::io::Result<()> {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        for (n, line) in reader.lines().enumerate() {
            let line = line?;
            self.read_line(n + 1, &line);
        }
        Ok(())
    }

    pub fn read_line(&mut self, number: usize, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let obj: Map<String, Value> = match serde_json::from_str(line) {
            Ok(Value::Object(o)) => o,
            Ok(_) => return self.warn(number, "not a JSON object"),
            Err(e) => {
                let why = if line.contains("NaN") || line.contains("Infinity") {
                    "NaN and Infinity are not JSON; log finite numbers".to_string()
                } else {
                    format!("not valid JSON ({e})")
                };
                return self.warn(number, &why);
            }
        };
        let step = match obj.get("step") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_i64() {
                Some(s) => Some(s),
                None => return self.warn(number, "`step` must be an integer"),
            },
        };
        let time = obj.get("time").and_then(|t| match t {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => n.as_f64().and_then(|secs| {
                chrono::DateTime::from_timestamp_millis((secs * 1000.0) as i64)
                    .map(crate::context::timestamp)
            }),
            _ => None,
        });
        for (key, value) in obj {
            match (key.as_str(), value) {
                ("step" | "time", _) => {}
                ("params", Value::Object(p)) => {
                    for (k, v) in p {
                        super::params::flatten_into(&k, v, &mut self.params);
                    }
                }
                ("tags", Value::Object(t)) => {
                    for (k, v) in t {
                        let v = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        self.tags.insert(k, v);
                    }
                }
                (_, Value::Number(n)) => match n.as_f64() {
                    Some(v) => self.push(&key, step, v, time.clone()),
                    None => self.warn(number, &format!("`{key}` is not a finite number")),
                },
                (_, Value::Bool(b)) => {
                    self.push(&key, step, if b { 1.0 } else { 0.0 }, time.clone())
                }
                (_, _) => self.warn(number, &format!("`{key}` is not a number")),
            }
        }
    }

    fn warn(&mut self, number: usize, why: &str) {
        // Cap the list: a script that logs garbage every step must not make
        // the record megabytes of warnings.
        if self.warnings.len() < 20 {
            self.warnings.push(format!("metrics line {number}: {why}"));
        } else if self.warnings.len() == 20 {
            self.warnings
                .push("further bad metrics lines were not listed".into());
        }
    }

    /// The summary of each metric under its rule.
    pub fn summaries(
        &self,
        rules: &BTreeMap<String, SummaryRule>,
    ) -> BTreeMap<String, MetricSummary> {
        self.history
            .iter()
            .filter(|(_, s)| !s.value.is_empty())
            .map(|(name, s)| {
                let rule = rules.get(name).copied().unwrap_or_default();
                (name.clone(), summarize(s, rule))
            })
            .collect()
    }

    /// The history as one canonical JSON blob (an attachment of the run).
    pub fn history_blob(&self) -> Option<Vec<u8>> {
        if self.history.is_empty() {
            return None;
        }
        let value = serde_json::json!({"schema": 1, "metrics": self.history});
        Some(crate::record::canonical_bytes(&value))
    }
}

pub fn summarize(s: &Series, rule: SummaryRule) -> MetricSummary {
    let last_i = s.value.len() - 1;
    let (mut min_i, mut max_i) = (0, 0);
    for (i, v) in s.value.iter().enumerate() {
        if *v < s.value[min_i] {
            min_i = i;
        }
        if *v > s.value[max_i] {
            max_i = i;
        }
    }
    let chosen = match rule {
        SummaryRule::Last => last_i,
        SummaryRule::Min => min_i,
        SummaryRule::Max => max_i,
    };
    MetricSummary {
        value: s.value[chosen],
        rule,
        step: s.step[chosen],
        last: s.value[last_i],
        min: s.value[min_i],
        max: s.value[max_i],
        count: s.value.len() as u64,
    }
}

/// Parses a history blob back.
pub fn parse_history(bytes: &[u8]) -> Option<BTreeMap<String, Series>> {
    #[derive(Deserialize)]
    struct Blob {
        metrics: BTreeMap<String, Series>,
    }
    serde_json::from_slice::<Blob>(bytes)
        .ok()
        .map(|b| b.metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_series_params_tags_and_warnings() {
        let mut c = Collected::default();
        c.read_line(1, r#"{"step": 0, "loss": 1.0, "acc": 0.5}"#);
        c.read_line(
            2,
            r#"{"step": 1, "loss": 0.5, "acc": 0.7, "time": "2026-01-01T00:00:00Z"}"#,
        );
        c.read_line(
            3,
            r#"{"params": {"lr": 0.1, "opt": {"name": "adam"}}, "tags": {"k": "v"}}"#,
        );
        c.read_line(4, "{not json");
        c.read_line(5, r#"{"loss": NaN}"#);
        c.read_line(6, r#"{"step": 1.5, "loss": 2}"#);
        assert_eq!(c.history["loss"].value, vec![1.0, 0.5]);
        assert_eq!(c.history["acc"].step, vec![Some(0), Some(1)]);
        assert_eq!(c.params["opt.name"], "adam");
        assert_eq!(c.tags["k"], "v");
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings[1].contains("NaN"));
        let mut rules = BTreeMap::new();
        rules.insert("loss".to_string(), SummaryRule::Min);
        let s = c.summaries(&rules);
        assert_eq!(s["loss"].value, 0.5);
        assert_eq!(s["acc"].value, 0.7);
        assert_eq!(s["acc"].count, 2);
        let blob = c.history_blob().unwrap();
        assert_eq!(parse_history(&blob).unwrap(), c.history);
    }
}
