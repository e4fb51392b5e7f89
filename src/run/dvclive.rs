//! DVCLive compatibility: a script that logs with DVCLive is tracked with no
//! code change. After the command, mlops reads what DVCLive wrote during the
//! run — `dvclive/plots/metrics/**/*.tsv` (full histories), else
//! `dvclive/metrics.json` (last values), and `dvclive/params.yaml` /
//! `params.yaml` — ignoring files older than the run, so a stale `dvclive/`
//! folder from yesterday is not mistaken for today's results.

use std::path::Path;
use std::time::SystemTime;

use serde_json::Value;

use crate::run::metrics::Collected;
use crate::run::params;

fn fresh(path: &Path, since: SystemTime) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| t >= since)
        .unwrap_or(false)
}

/// Adds DVCLive's output under `dir` (the command's working directory) to `c`.
pub fn read(dir: &Path, since: SystemTime, c: &mut Collected) {
    let live = dir.join("dvclive");
    let plots = live.join("plots").join("metrics");
    let mut from_tsv = false;
    if plots.is_dir() {
        let mut files: Vec<_> = walkdir::WalkDir::new(&plots)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "tsv"))
            .map(|e| e.into_path())
            .filter(|p| fresh(p, since))
            .collect();
        files.sort();
        for path in files {
            let name = path
                .strip_prefix(&plots)
                .unwrap_or(&path)
                .with_extension("")
                .to_string_lossy()
                .replace('\\', "/");
            if let Ok(text) = std::fs::read_to_string(&path) {
                from_tsv |= read_tsv(&name, &text, c);
            }
        }
    }
    let summary = live.join("metrics.json");
    if !from_tsv && fresh(&summary, since) {
        if let Ok(Value::Object(obj)) = std::fs::read_to_string(&summary)
            .map_err(|_| ())
            .and_then(|t| serde_json::from_str(&t).map_err(|_| ()))
        {
            let step = obj.get("step").and_then(Value::as_i64);
            let mut flat = std::collections::BTreeMap::new();
            for (k, v) in obj {
                if k != "step" {
                    params::flatten_into(&k, v, &mut flat);
                }
            }
            for (k, v) in flat {
                if let Some(x) = v.as_f64() {
                    c.push(&k.replace('.', "/"), step, x, None);
                }
            }
        }
    }
    for p in [live.join("params.yaml"), dir.join("params.yaml")] {
        if p.is_file() && (p.starts_with(&live) && fresh(&p, since) || !p.starts_with(&live)) {
            if let Ok(values) = params::read_file(&p) {
                for (k, v) in values {
                    c.params.entry(k).or_insert(v);
                }
            }
        }
    }
}

/// DVCLive's TSV: a header with `step`, the metric's name and optionally
/// `timestamp`; one row per logged step.
fn read_tsv(name: &str, text: &str, c: &mut Collected) -> bool {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return false;
    };
    let cols: Vec<&str> = header.split('\t').collect();
    let step_i = cols.iter().position(|h| *h == "step");
    let time_i = cols.iter().position(|h| *h == "timestamp");
    let leaf = name.rsplit('/').next().unwrap_or(name);
    let Some(value_i) = cols
        .iter()
        .position(|h| *h == leaf)
        .or_else(|| cols.iter().position(|h| *h != "step" && *h != "timestamp"))
    else {
        return false;
    };
    let mut any = false;
    for line in lines {
        let cells: Vec<&str> = line.split('\t').collect();
        let Some(v) = cells
            .get(value_i)
            .and_then(|v| v.trim().parse::<f64>().ok())
        else {
            continue;
        };
        if !v.is_finite() {
            continue;
        }
        let step = step_i
            .and_then(|i| cells.get(i))
            .and_then(|s| s.trim().parse::<i64>().ok());
        let time = time_i
            .and_then(|i| cells.get(i))
            .and_then(|s| s.trim().parse::<f64>().ok())
            .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64))
            .map(crate::context::timestamp);
        c.push(name, step, v, time);
        any = true;
    }
    any
}
