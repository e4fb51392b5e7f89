//! Runs that have not ended. A run is recorded when its command ends, so a
//! three-hour training would be invisible until then — and one whose `mlops`
//! was killed outright (SIGKILL, a lost machine) would vanish without a
//! trace. `mlops track` therefore leaves a marker in its work folder
//! (`.git/mlops/runs/<id>/active.json`, local and never a record) next to the
//! metrics file the command appends to; `mlops runs active` reads both: the
//! live runs with their latest metrics, and the interrupted ones, whose
//! metrics are still on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::SummaryRule;
use crate::error::{Error, Result};
use crate::run::metrics::Collected;
use crate::run::record::MetricSummary;

const MARKER: &str = "active.json";

/// What `mlops track` writes before the command starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Marker {
    pub run_id: String,
    pub name: Option<String>,
    pub experiment: String,
    pub started_at: String,
    pub command: Vec<String>,
    /// Of the `mlops track` process, to tell a live run from an interrupted one.
    pub pid: u32,
}

#[derive(Debug, Serialize)]
pub struct ActiveRun {
    #[serde(flatten)]
    pub marker: Marker,
    /// `running`, or `interrupted` when the `mlops track` process is gone
    /// without having recorded the run.
    pub status: &'static str,
    pub metrics: BTreeMap<String, MetricSummary>,
    /// Metric lines read so far (all metrics).
    pub points: usize,
    #[serde(skip)]
    pub folder: PathBuf,
}

/// The folder of every run's work files.
pub fn runs_dir(git_dir: &Path) -> PathBuf {
    git_dir.join("mlops").join("runs")
}

pub fn write_marker(work: &Path, marker: &Marker) -> Result<()> {
    let bytes = serde_json::to_vec(marker).map_err(|e| Error::invalid(e.to_string()))?;
    crate::templates::write_atomically(&work.join(MARKER), &bytes)
        .map_err(|e| Error::io("cannot write the run's marker in .git/mlops", e))
}

/// Every run with a marker, oldest first, with its metrics so far.
pub fn list(git_dir: &Path, rules: &BTreeMap<String, SummaryRule>) -> Result<Vec<ActiveRun>> {
    let mut out: Vec<ActiveRun> = markers(git_dir)?
        .into_iter()
        .map(|(folder, marker)| {
            let mut collected = Collected::default();
            let _ = collected.read_file(&folder.join("metrics.jsonl"));
            ActiveRun {
                status: status_of(&marker),
                points: collected.history.values().map(|s| s.value.len()).sum(),
                metrics: collected.summaries(rules),
                marker,
                folder,
            }
        })
        .collect();
    out.sort_by(|a, b| a.marker.started_at.cmp(&b.marker.started_at));
    Ok(out)
}

/// How many runs are not recorded yet, and how many of them are running:
/// markers only, no metrics read (for the hint of `runs list`).
pub fn count(git_dir: &Path) -> Result<(usize, usize)> {
    let found = markers(git_dir)?;
    let running = found
        .iter()
        .filter(|(_, m)| status_of(m) == "running")
        .count();
    Ok((found.len(), running))
}

/// The run folders with a readable marker. Folders without one (an older
/// mlops, or a half-created folder) are left out.
fn markers(git_dir: &Path) -> Result<Vec<(PathBuf, Marker)>> {
    let dir = runs_dir(git_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("cannot read `{}`", dir.display()), e)),
    };
    Ok(entries
        .flatten()
        .filter_map(|entry| {
            let folder = entry.path();
            let marker = std::fs::read(folder.join(MARKER))
                .ok()
                .and_then(|b| serde_json::from_slice::<Marker>(&b).ok())?;
            Some((folder, marker))
        })
        .collect())
}

fn status_of(marker: &Marker) -> &'static str {
    if alive(marker.pid) {
        "running"
    } else {
        "interrupted"
    }
}

/// Removes the work folders of interrupted runs; returns their ids.
pub fn prune(runs: &[ActiveRun]) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for r in runs.iter().filter(|r| r.status == "interrupted") {
        std::fs::remove_dir_all(&r.folder)
            .map_err(|e| Error::io(format!("cannot remove `{}`", r.folder.display()), e))?;
        removed.push(r.marker.run_id.clone());
    }
    Ok(removed)
}

/// Whether the `mlops track` of a marker still runs. A recycled pid would
/// make a dead run look alive, so on Linux the process must also be a
/// `track` (its command line is checked).
#[cfg(target_os = "linux")]
fn alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == b"track"))
}

#[cfg(all(unix, not(target_os = "linux")))]
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // Signal 0 checks existence; EPERM means it exists under another user.
    // SAFETY: kill with signal 0 sends nothing.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn alive(_pid: u32) -> bool {
    true
}
