//! A team's sweeps at a smaller N: 1,500 runs recorded by `mlops track`,
//! shared through a bare remote. Sync folds them into the runs archive, so
//! the remote holds a handful of refs, not one per run; a fresh clone lists
//! every run with the same rows; an incremental sync sends only what is new;
//! `log -n` shows exactly the newest events of the full log.

use std::process::Stdio;

use serde_json::Value;

use crate::support::Repo;

const N: usize = 1500;

/// `N` runs, two `mlops track` processes at a time, each with its own params
/// and metrics (the clock is the test's fixed one, advanced per run so the
/// runs have distinct times).
fn sweep(repo: &Repo, n: usize) {
    let mut i = 0;
    while i < n {
        let children: Vec<_> = (i..(i + 2).min(n))
            .map(|k| {
                let lr = [0.1, 0.03, 0.01][k % 3];
                let acc = 0.5 + (k as f64 * 7.0 % 500.0) / 1000.0;
                let mut cmd = repo.mlops_cmd(&[
                    "track",
                    "--quiet",
                    "--name",
                    &format!("sweep-{k}"),
                    "--param",
                    &format!("lr={lr}"),
                    "--",
                    "sh",
                    "-c",
                    &format!("echo '{{\"acc\": {acc}}}' >> \"$MLOPS_METRICS\""),
                ]);
                cmd.env(
                    "MLOPS_NOW",
                    format!("2026-03-01T09:{:02}:{:02}Z", (k / 60) % 60, k % 60),
                )
                // `track` asks `python3 --version`; a pyenv shim answers in
                // 0.2 s, which 1,500 runs do not need to wait for.
                .env("PATH", path_without_shims())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        i += 2;
    }
}

fn path_without_shims() -> String {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|p| !p.contains("pyenv"))
        .collect::<Vec<_>>()
        .join(":")
}

fn rows(repo: &Repo, dir: &std::path::Path) -> Vec<Value> {
    let mut list: Vec<Value> = repo
        .mlops_in(dir, &["runs", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .clone();
    list.sort_by(|a, b| a["run_id"].as_str().cmp(&b["run_id"].as_str()));
    list
}

fn refs(repo: &Repo, dir: &std::path::Path, prefix: &str) -> usize {
    repo.git_in(dir, &["for-each-ref", "--format=%(refname)", prefix])
        .ok()
        .stdout
        .lines()
        .count()
}

#[test]
fn a_sweep_is_shared_folded_listed_in_a_fresh_clone_and_synced_incrementally() {
    let repo = Repo::new();
    let origin = repo.sibling("origin.git");
    repo.git_in(
        repo.path.parent().unwrap(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    )
    .ok();
    repo.git(&["remote", "add", "origin", origin.to_str().unwrap()])
        .ok();
    sweep(&repo, N);
    assert_eq!(refs(&repo, &repo.path, "refs/mlops/runs/"), N);
    let before = rows(&repo, &repo.path);
    assert_eq!(before.len(), N);

    // The first sync folds every run into the archive and pushes that.
    let first = repo.mlops(&["sync", "--json"]).ok().json();
    assert_eq!(first["folded"], N);
    assert_eq!(refs(&repo, &repo.path, "refs/mlops/runs/"), 0);
    assert_eq!(refs(&repo, &origin, "refs/mlops/runs/"), 0);
    assert_eq!(refs(&repo, &origin, "refs/mlops/archive/"), 1);
    // The same runs, read back from the archive: rows identical but for
    // nothing (the tip of a folded run is the commit it was recorded at).
    assert_eq!(rows(&repo, &repo.path), before);
    repo.mlops(&["verify"]).ok();

    // A fresh clone: one archive ref to fetch, every run listed, the same
    // rows, whether or not the clone's own index exists.
    let clone = repo.sibling("clone");
    repo.git_in(
        repo.path.parent().unwrap(),
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    repo.git_in(&clone, &["config", "user.name", "Clone"]).ok();
    repo.git_in(&clone, &["config", "user.email", "clone@example.com"])
        .ok();
    repo.mlops_in(&clone, &["sync", "--no-push"]).ok();
    assert_eq!(rows(&repo, &clone), before);
    std::fs::remove_dir_all(clone.join(".git/mlops")).unwrap();
    assert_eq!(rows(&repo, &clone), before);
    repo.git_in(&clone, &["gc", "-q"]).ok();
    assert_eq!(rows(&repo, &clone), before);
    repo.mlops_in(&clone, &["verify"]).ok();

    // One new run: the next sync sends only the archive ref.
    sweep(&repo, 1);
    let next = repo.mlops(&["sync", "--json"]).ok().json();
    assert_eq!(next["folded"], 1);
    assert_eq!(
        next["updated_remote"],
        serde_json::json!(["refs/mlops/archive/runs"]),
        "{next}"
    );
    let pulled = repo.mlops_in(&clone, &["sync", "--json"]).ok().json();
    assert_eq!(
        pulled["fast_forwarded"],
        serde_json::json!(["refs/mlops/archive/runs"])
    );
    assert_eq!(rows(&repo, &clone), rows(&repo, &repo.path));
    assert_eq!(rows(&repo, &clone).len(), N + 1);

    // `log -n 10` shows exactly the first ten events of the full log, cold
    // (no cache) and warm.
    let full = repo.mlops(&["log", "--json"]).ok().json();
    let full: Vec<Value> = full.as_array().unwrap()[..10].to_vec();
    for _ in 0..2 {
        let top = repo
            .mlops_in(&clone, &["log", "-n", "10", "--json"])
            .ok()
            .json();
        assert_eq!(top.as_array().unwrap(), &full);
    }
    std::fs::remove_dir_all(clone.join(".git/mlops")).unwrap();
    let top = repo
        .mlops_in(&clone, &["log", "-n", "10", "--json"])
        .ok()
        .json();
    assert_eq!(top.as_array().unwrap(), &full);
}

/// Run refs pushed one by one (by an older mlops, or plain `git push`) are
/// folded by the next sync and removed from the remote, each only while it
/// still points where this clone saw it.
#[test]
fn run_refs_already_on_the_remote_are_folded_and_removed_there() {
    let repo = Repo::new();
    let origin = repo.sibling("origin.git");
    repo.git_in(
        repo.path.parent().unwrap(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    )
    .ok();
    repo.git(&["remote", "add", "origin", origin.to_str().unwrap()])
        .ok();
    sweep(&repo, 6);
    repo.git(&["push", "-q", "origin", "refs/mlops/*:refs/mlops/*"])
        .ok();
    assert_eq!(refs(&repo, &origin, "refs/mlops/runs/"), 6);
    let out = repo.mlops(&["sync", "--json"]).ok().json();
    assert_eq!(out["remote_refs_folded"], 6, "{out}");
    assert_eq!(refs(&repo, &origin, "refs/mlops/runs/"), 0);
    let clone = repo.sibling("clone");
    repo.git_in(
        repo.path.parent().unwrap(),
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    repo.git_in(&clone, &["config", "user.name", "Clone"]).ok();
    repo.git_in(&clone, &["config", "user.email", "clone@example.com"])
        .ok();
    repo.mlops_in(&clone, &["sync", "--no-push"]).ok();
    assert_eq!(rows(&repo, &clone).len(), 6);
}

/// An amendment to a folded run starts its ref again on the folded tip;
/// the next fold moves the archive's entry forward; both clones agree.
#[test]
fn an_amended_folded_run_is_refolded_and_verified() {
    let repo = Repo::new();
    sweep(&repo, 3);
    repo.mlops(&["runs", "fold"]).ok();
    let run = rows(&repo, &repo.path)[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    repo.mlops(&["runs", "amend", &run, "--metric", "auc=0.7"])
        .ok();
    assert_eq!(refs(&repo, &repo.path, "refs/mlops/runs/"), 1);
    let shown = repo.mlops(&["runs", "show", &run, "--json"]).ok().json();
    assert_eq!(
        shown["amendments"].as_array().map(|a| a.len()),
        Some(1),
        "{shown}"
    );
    repo.mlops(&["verify"]).ok();
    repo.mlops(&["runs", "fold"]).ok();
    assert_eq!(refs(&repo, &repo.path, "refs/mlops/runs/"), 0);
    let row = rows(&repo, &repo.path)
        .into_iter()
        .find(|r| r["run_id"] == run.as_str())
        .unwrap();
    assert_eq!(row["metrics"]["auc"], 0.7);
    let v = repo.mlops(&["verify", "--json"]).ok().json();
    assert_eq!(v["ok"], true, "{v}");
}

/// A fold that drops a run, or an index row that says something the
/// records do not, is caught by `verify`.
#[test]
fn verify_catches_a_fold_that_drops_a_run_or_forges_a_row() {
    let repo = Repo::new();
    sweep(&repo, 3);
    repo.mlops(&["runs", "fold"]).ok();
    let tip = repo
        .git(&["rev-parse", "refs/mlops/archive/runs"])
        .ok()
        .stdout
        .trim()
        .to_string();
    // Forge a fold on top whose tree lacks one run.
    let listing = repo
        .git(&["ls-tree", "-r", "refs/mlops/archive/runs"])
        .ok()
        .stdout;
    let mut lines: Vec<&str> = listing.lines().collect();
    let dropped = lines
        .iter()
        .position(|l| l.contains("160000 commit"))
        .unwrap();
    lines.remove(dropped);
    let index = repo.home.join("forge.index");
    let env_git = |args: &[&str]| {
        let mut cmd = std::process::Command::new("git");
        cmd.current_dir(&repo.path)
            .env("GIT_INDEX_FILE", &index)
            .env("HOME", &repo.home)
            .args(args);
        crate::support::capture(cmd).ok().stdout.trim().to_string()
    };
    env_git(&["read-tree", "--empty"]);
    for l in &lines {
        let (meta, path) = l.split_once('\t').unwrap();
        let parts: Vec<&str> = meta.split(' ').collect();
        env_git(&[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("{},{},{path}", parts[0], parts[2]),
        ]);
    }
    let tree = env_git(&["write-tree"]);
    let commit = repo
        .git(&["commit-tree", &tree, "-p", &tip, "-m", "tidy the archive"])
        .ok()
        .stdout
        .trim()
        .to_string();
    repo.git(&["update-ref", "refs/mlops/archive/runs", &commit])
        .ok();
    let out = repo.mlops(&["verify"]).code(1);
    assert!(out.stdout.contains("drops run"), "{}", out.stdout);

    // Back to the honest fold, then forge an index row.
    repo.git(&["update-ref", "refs/mlops/archive/runs", &tip])
        .ok();
    let day_file = lines
        .iter()
        .find(|l| l.contains("index/"))
        .unwrap()
        .split('\t')
        .nth(1)
        .unwrap()
        .to_string();
    let text = repo
        .git(&["cat-file", "blob", &format!("{tip}:{day_file}")])
        .ok()
        .stdout;
    let forged = text.replacen("\"acc\":", "\"acc\":9", 1);
    assert_ne!(forged, text);
    let path = repo.home.join("forged-rows.json");
    std::fs::write(&path, forged).unwrap();
    let blob = repo
        .git(&["hash-object", "-w", path.to_str().unwrap()])
        .ok()
        .stdout
        .trim()
        .to_string();
    env_git(&["read-tree", &tip]);
    env_git(&[
        "update-index",
        "--cacheinfo",
        &format!("100644,{blob},{day_file}"),
    ]);
    let tree = env_git(&["write-tree"]);
    let commit = repo
        .git(&["commit-tree", &tree, "-p", &tip, "-m", "better numbers"])
        .ok()
        .stdout
        .trim()
        .to_string();
    repo.git(&["update-ref", "refs/mlops/archive/runs", &commit])
        .ok();
    let out = repo.mlops(&["verify"]).code(1);
    assert!(
        out.stdout.contains("is not what its records say"),
        "{}",
        out.stdout
    );
}

#[test]
fn doctor_reports_the_state_and_the_fix_for_each_problem() {
    let repo = Repo::new();
    sweep(&repo, 4);
    let d = repo.mlops(&["doctor", "--json"]).ok().json();
    let find = |d: &Value, check: &str| -> Value {
        d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == check)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        find(&d, "runs")["value"],
        "4 on their own refs, 0 folded into refs/mlops/archive/runs"
    );
    repo.mlops(&["runs", "fold"]).ok();
    let d = repo.mlops(&["doctor", "--json"]).ok().json();
    assert_eq!(
        find(&d, "runs")["value"],
        "0 on their own refs, 4 folded into refs/mlops/archive/runs"
    );
    // A lock file left by a process that died.
    std::fs::create_dir_all(repo.path.join(".git/refs/mlops/models")).unwrap();
    std::fs::write(repo.path.join(".git/refs/mlops/models/m.lock"), "").unwrap();
    let out = repo.mlops(&["doctor", "--json"]).code(1);
    let lock = find(&out.json(), "ref locks");
    assert_eq!(lock["ok"], false);
    assert!(
        lock["value"].as_str().unwrap().ends_with("m.lock"),
        "{lock}"
    );
    assert!(lock["fix"].as_str().unwrap().contains("delete"), "{lock}");
}
