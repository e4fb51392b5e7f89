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
//!
//! A line may carry a `"slice"`: every number on it is then that metric on
//! one group of the data, recorded as `<name>{key=value,...}`
//! ([`crate::run::slices`], docs/fairness.md):
//!
//! ```text
//! {"slice": {"gender": "F"}, "approval_rate": 0.31, "auc": 0.84}
//! ```
//!
//! Records are pushed and immutable, so a slice must name a group, never a
//! person: a line whose slice value looks like an identifier (an e-mail
//! address, a phone number, ...) is skipped with a warning that does not
//! repeat the value, and at most [`MAX_SLICES`] distinct slices of a metric
//! are kept. A metric name that already carries a slice is held to the
//! same rules.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::SummaryRule;
use crate::run::record::MetricSummary;
use crate::run::slices::{self, MAX_SLICES};

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
    /// Per metric, the slices kept so far (for the [`MAX_SLICES`] cap).
    slices_seen: BTreeMap<String, BTreeSet<String>>,
    slices_capped: BTreeSet<String>,
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
        let mut obj: Map<String, Value> = match serde_json::from_str(line) {
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
        let slice = match obj.remove("slice") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(labels)) => match line_slice(labels) {
                Ok(l) => l,
                Err(why) => return self.warn(number, &format!("{why}; line skipped")),
            },
            Some(_) => {
                return self.warn(
                    number,
                    "`slice` must be an object such as {\"gender\": \"F\"}; line skipped",
                )
            }
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
                    Some(v) => {
                        if let Some(name) = self.metric_name(number, &key, &slice) {
                            self.push(&name, step, v, time.clone())
                        }
                    }
                    None => self.warn(number, &format!("`{key}` is not a finite number")),
                },
                (_, Value::Bool(b)) => {
                    if let Some(name) = self.metric_name(number, &key, &slice) {
                        self.push(&name, step, if b { 1.0 } else { 0.0 }, time.clone())
                    }
                }
                (_, _) => self.warn(number, &format!("`{key}` is not a number")),
            }
        }
    }

    /// The name a number on a line is recorded under: its key, on the line's
    /// slice. `None` (with a warning) when the slice may not be kept.
    fn metric_name(
        &mut self,
        number: usize,
        key: &str,
        line_slice: &BTreeMap<String, String>,
    ) -> Option<String> {
        if line_slice.is_empty() && !key.contains(['{', '}']) {
            return Some(key.to_string());
        }
        let (base, mut labels) = match slices::parse(key) {
            Ok(parsed) => parsed,
            Err(why) => {
                self.warn(number, &format!("{why}; not recorded"));
                return None;
            }
        };
        if !labels.is_empty() && !line_slice.is_empty() {
            self.warn(
                number,
                &format!("`{base}` names a slice on a line with `slice`; not recorded"),
            );
            return None;
        }
        if labels.is_empty() {
            if let Err(why) = slices::check_base(&base) {
                self.warn(number, &format!("{why}; not recorded"));
                return None;
            }
            labels = line_slice.clone();
        }
        let text = slices::label_text(&labels);
        let seen = self.slices_seen.entry(base.clone()).or_default();
        if !seen.contains(&text) {
            if seen.len() >= MAX_SLICES {
                // Warned once per metric, not once per dropped point.
                if self.slices_capped.insert(base.clone()) {
                    self.warn(
                        number,
                        &format!(
                            "`{base}` has more than {MAX_SLICES} slices; further slices are not recorded (a slice is a group, not a person)"
                        ),
                    );
                }
                return None;
            }
            seen.insert(text);
        }
        Some(slices::format(&base, &labels))
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
                // A slice is summarised like its metric unless named itself.
                let rule = rules
                    .get(name)
                    .or_else(|| rules.get(name.split('{').next().unwrap_or(name)))
                    .copied()
                    .unwrap_or_default();
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

/// A line's `slice` object as labels; numbers and booleans read as text.
fn line_slice(labels: Map<String, Value>) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in labels {
        let v = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(format!("slice `{k}` is not a string or a number")),
        };
        slices::check_key(&k)?;
        slices::check_value(&k, &v)?;
        out.insert(k, v);
    }
    Ok(out)
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

    #[test]
    fn slice_lines_become_slice_metrics_and_identifiers_are_refused() {
        let mut c = Collected::default();
        c.read_line(
            1,
            r#"{"step": 1, "slice": {"gender": "F", "age": "18-25"}, "auc": 0.8, "ok": true}"#,
        );
        c.read_line(2, r#"{"slice": {"gender": "M"}, "approval_rate": 0.35}"#);
        c.read_line(3, r#"{"approval_rate{gender=F}": 0.25}"#);
        c.read_line(
            4,
            r#"{"slice": {"customer": "jane.doe@example.com"}, "approval_rate": 1}"#,
        );
        c.read_line(5, r#"{"slice": "F", "approval_rate": 1}"#);
        c.read_line(6, r#"{"slice": {"gender": "F"}, "x{a=b}": 1}"#);
        c.read_line(7, r#"{"auc{gender=F": 1}"#);
        assert_eq!(c.history["auc{age=18-25,gender=F}"].value, vec![0.8]);
        assert_eq!(c.history["auc{age=18-25,gender=F}"].step, vec![Some(1)]);
        assert_eq!(c.history["ok{age=18-25,gender=F}"].value, vec![1.0]);
        c.read_line(8, r#"{"slice": {"gender": "M"}, "approval_rate": 0.5}"#);
        let rules = BTreeMap::from([("approval_rate".to_string(), SummaryRule::Min)]);
        assert_eq!(c.summaries(&rules)["approval_rate{gender=M}"].value, 0.35);
        assert_eq!(c.history["approval_rate{gender=M}"].value, vec![0.35, 0.5]);
        assert_eq!(c.history["approval_rate{gender=F}"].value, vec![0.25]);
        assert_eq!(c.history.len(), 4, "{:?}", c.history.keys());
        assert_eq!(c.warnings.len(), 4, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("e-mail"), "{:?}", c.warnings);
        assert!(!c.warnings.iter().any(|w| w.contains("jane")));

        let mut c = Collected::default();
        for i in 0..(MAX_SLICES + 5) {
            c.read_line(
                i + 1,
                &format!(r#"{{"slice": {{"group": "g{i}"}}, "rate": 0.5}}"#),
            );
        }
        c.read_line(999, r#"{"slice": {"group": "g0"}, "rate": 0.6}"#);
        assert_eq!(c.history.len(), MAX_SLICES);
        assert_eq!(c.history["rate{group=g0}"].value, vec![0.5, 0.6]);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    }
}
