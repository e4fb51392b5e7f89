//! `mlops doctor`: the state of the repository as mlops uses it, each finding
//! with the command that fixes it. Nothing here changes anything.

use serde::Serialize;

use crate::error::Result;
use crate::gitcli;
use crate::store::{archive, Store, REF_ROOT};

#[derive(Debug, Serialize)]
pub struct Finding {
    pub check: String,
    pub value: String,
    pub ok: bool,
    /// What to run when it is not.
    pub fix: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Doctor {
    pub findings: Vec<Finding>,
    pub ok: bool,
}

fn finding(check: &str, value: String, ok: bool, fix: Option<&str>) -> Finding {
    Finding {
        check: check.into(),
        value,
        ok,
        fix: (!ok).then(|| fix.map(str::to_string)).flatten(),
    }
}

/// Live run refs past this are worth folding before the next push.
const UNFOLDED: usize = 1000;

pub fn examine(store: &Store) -> Result<Doctor> {
    let root = store.root();
    let mut findings = Vec::new();
    // git itself: `mlops sync` needs `git fetch --porcelain` (2.41).
    let version = gitcli::version().unwrap_or_else(|| "not found".into());
    let numbers: Vec<u32> = version
        .split_whitespace()
        .nth(2)
        .unwrap_or("")
        .split('.')
        .filter_map(|p| p.parse().ok())
        .collect();
    let recent = numbers.len() >= 2 && (numbers[0], numbers[1]) >= (2, 41);
    findings.push(finding(
        "git version",
        version,
        recent,
        Some("install git 2.41 or newer (mlops sync reads `git fetch --porcelain`)"),
    ));
    // Objects: git's own count.
    let counts = gitcli::output(&root, &["count-objects", "-v"]).unwrap_or_default();
    let field = |name: &str| -> u64 {
        counts
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let loose = field("count");
    findings.push(finding(
        "loose objects",
        format!(
            "{loose} ({} KiB); {} in packs",
            field("size"),
            field("in-pack")
        ),
        loose <= 6700,
        Some("git gc"),
    ));
    // Refs under refs/mlops: loose files cost a file each on every listing.
    let refs = store.db().refs_with_prefix(REF_ROOT)?;
    let loose_refs = refs
        .iter()
        .filter(|(r, _)| store.db().common_dir().join(r).is_file())
        .count();
    findings.push(finding(
        "record refs",
        format!("{} ({loose_refs} loose)", refs.len()),
        loose_refs <= 1000,
        Some("git pack-refs --all"),
    ));
    let live_runs = refs
        .iter()
        .filter(|(r, _)| r.starts_with(&format!("{REF_ROOT}runs/")))
        .count();
    let folded = archive::read(store.db(), store.db().read_ref(archive::REF)?)?
        .runs
        .len();
    findings.push(finding(
        "runs",
        format!(
            "{live_runs} on their own refs, {folded} folded into {}",
            archive::REF
        ),
        live_runs <= UNFOLDED,
        Some("mlops runs fold (mlops sync folds before it pushes)"),
    ));
    // Locks left behind.
    let mut stale_locks = Vec::new();
    for entry in walkdir::WalkDir::new(store.db().common_dir().join("refs/mlops"))
        .into_iter()
        .flatten()
    {
        if entry.file_name().to_string_lossy().ends_with(".lock") {
            stale_locks.push(entry.path().display().to_string());
        }
    }
    findings.push(finding(
        "ref locks",
        if stale_locks.is_empty() {
            "none".into()
        } else {
            stale_locks.join(", ")
        },
        stale_locks.is_empty(),
        Some("if no mlops or git process is running, delete the files named"),
    ));
    // Derived caches: missing ones cost the next command time, nothing else.
    let mlops_dir = store.git_dir().join("mlops");
    for (name, what) in [
        ("runs-index.v1.json", "runs index"),
        ("tips.v1", "log index"),
    ] {
        let present = mlops_dir.join(name).is_file();
        findings.push(finding(
            what,
            if present { "present" } else { "not built yet" }.into(),
            true,
            None,
        ));
    }
    let reflogs = store
        .db()
        .common_dir()
        .join("logs")
        .join("refs/mlops")
        .is_dir();
    findings.push(finding(
        "reflogs of refs/mlops",
        if reflogs { "kept" } else { "none yet" }.into(),
        true,
        None,
    ));
    let ok = findings.iter().all(|f| f.ok);
    Ok(Doctor { findings, ok })
}
