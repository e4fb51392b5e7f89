//! DVCLive compatibility: a script that logs with DVCLive is tracked with no
//! code change. After the command, mlops reads what DVCLive wrote during the
//! run — `dvclive/plots/metrics/**/*.tsv` (full histories), else
//! `dvclive/metrics.json` (last values), and `dvclive/params.yaml` /
//! `params.yaml` — ignoring files the run did not write, so a stale `dvclive/`
//! folder from yesterday is not mistaken for today's results.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

use crate::run::metrics::Collected;
use crate::run::params;

/// What `dvclive/` held before the command started. Comparing mtimes with
/// the wall clock is not enough: the kernel stamps files with a coarse clock
/// (ticks of a few ms), so a file written right after the start can carry
/// an mtime *before* it. A file is the run's when it is new or changed.
#[derive(Debug, Default)]
pub struct Before(HashMap<PathBuf, Stamp>);

/// What tells a rewritten file from an untouched one: a rewrite within the
/// same mtime tick still moves ctime, a replacement by rename changes the
/// inode. Symlinks are followed (stamped by their target).
type Stamp = (Option<SystemTime>, u64, u64, i64, i64);

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let (ino, ctime, ctime_ns) = {
        use std::os::unix::fs::MetadataExt;
        (m.ino(), m.ctime(), m.ctime_nsec())
    };
    #[cfg(not(unix))]
    let (ino, ctime, ctime_ns) = (0, 0, 0);
    Some((m.modified().ok(), m.len(), ino, ctime, ctime_ns))
}

impl Before {
    pub fn take(dir: &Path) -> Before {
        let live = dir.join("dvclive");
        if !live.is_dir() {
            return Before::default();
        }
        Before(
            walkdir::WalkDir::new(&live)
                .follow_links(true)
                .into_iter()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_file())
                .filter_map(|e| {
                    let s = stamp(e.path())?;
                    Some((e.into_path(), s))
                })
                .collect(),
        )
    }

    fn fresh(&self, path: &Path) -> bool {
        match stamp(path) {
            Some(now) => self.0.get(path) != Some(&now),
            None => false,
        }
    }
}

/// Adds DVCLive's output under `dir` (the command's working directory) to `c`.
pub fn read(dir: &Path, before: &Before, c: &mut Collected) {
    let live = dir.join("dvclive");
    let plots = live.join("plots").join("metrics");
    let mut from_tsv = false;
    if plots.is_dir() {
        let mut files: Vec<_> = walkdir::WalkDir::new(&plots)
            .follow_links(true)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "tsv"))
            .map(|e| e.into_path())
            .filter(|p| before.fresh(p))
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
    if !from_tsv && before.fresh(&summary) {
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
        if p.is_file() && (p.starts_with(&live) && before.fresh(&p) || !p.starts_with(&live)) {
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
