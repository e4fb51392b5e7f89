//! Trustworthy history, tested as an adversary would: git's own maintenance
//! running beside the writers, forced interleavings, killed writers, records
//! forged and rewritten with plain git plumbing, force-pushes between clones.

use std::path::Path;
use std::process::Stdio;

use serde_json::{json, Value};

use crate::support::{Out, Repo};

/// A record forged the way anyone with write access could: canonical JSON,
/// its blob, a tree with it added, a commit with the usual trailer.
pub(crate) struct Forge<'a> {
    pub(crate) repo: &'a Repo,
}

impl Forge<'_> {
    fn git(&self, args: &[&str]) -> String {
        self.repo.git(args).ok().stdout.trim().to_string()
    }

    fn git_env(&self, env: &[(&str, &str)], args: &[&str]) -> String {
        let mut cmd = std::process::Command::new("git");
        cmd.current_dir(&self.repo.path)
            .env("HOME", &self.repo.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", crate::support::GIT_DATE)
            .env("GIT_COMMITTER_DATE", crate::support::GIT_DATE)
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = crate::support::capture(cmd).ok();
        out.stdout.trim().to_string()
    }

    fn blob(&self, bytes: &[u8]) -> String {
        let path = self.repo.home.join("forged.blob");
        std::fs::write(&path, bytes).unwrap();
        self.git(&["hash-object", "-w", path.to_str().unwrap()])
    }

    /// The record as canonical bytes and its id.
    fn record(value: &Value) -> (Vec<u8>, String) {
        use sha2::Digest;
        let bytes = serde_json::to_vec(value).unwrap();
        let hex = hex::encode(sha2::Sha256::digest(&bytes));
        (bytes, hex)
    }

    /// A tree: `base` (or empty) with files added at paths.
    fn tree(&self, base: Option<&str>, files: &[(String, String)]) -> String {
        let index = self.repo.home.join("forge.index");
        let _ = std::fs::remove_file(&index);
        let env = [("GIT_INDEX_FILE", index.to_str().unwrap())];
        match base {
            Some(t) => {
                self.git_env(&env, &["read-tree", t]);
            }
            None => {
                self.git_env(&env, &["read-tree", "--empty"]);
            }
        }
        for (path, blob) in files {
            self.git_env(
                &env,
                &[
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    &format!("100644,{blob},{path}"),
                ],
            );
        }
        self.git_env(&env, &["write-tree"])
    }

    fn commit(&self, tree: &str, parent: Option<&str>, message: &str) -> String {
        let mut args = vec!["commit-tree", tree, "-m", message];
        if let Some(p) = parent {
            args.extend(["-p", p]);
        }
        self.git(&args)
    }

    /// Appends a forged record on top of `refname` (or starts it) and moves
    /// the ref; returns the record id. `trailer` overrides the trailer.
    pub(crate) fn append(&self, refname: &str, value: &Value, trailer: Option<&str>) -> String {
        let (bytes, hex) = Self::record(value);
        let blob = self.blob(&bytes);
        let parent = self
            .repo
            .git(&["rev-parse", "--verify", "-q", refname])
            .stdout
            .trim()
            .to_string();
        let parent = (!parent.is_empty()).then_some(parent);
        let base = parent.as_ref().map(|p| format!("{p}^{{tree}}"));
        let kind = value["kind"].as_str().unwrap();
        let mut files = vec![(format!("{kind}/{hex}.json"), blob)];
        if base.is_none() {
            files.push(("mlops-layout".into(), self.blob(b"{\"layout\":2}\n")));
        }
        let tree = self.tree(base.as_deref(), &files);
        let named = trailer
            .map(str::to_string)
            .unwrap_or_else(|| format!("sha256:{hex}"));
        let commit = self.commit(
            &tree,
            parent.as_deref(),
            &format!("forged\n\nMlops-Record: {named}"),
        );
        self.git(&["update-ref", refname, &commit]);
        format!("sha256:{hex}")
    }
}

/// The newest record of a ref, parsed.
pub(crate) fn tip_record(repo: &Repo, entity: &str) -> Value {
    let log = repo.mlops(&["log", entity, "--json"]).ok().json();
    let id = log[0]["id"].as_str().unwrap().to_string();
    let kind = log[0]["kind"].as_str().unwrap().to_string();
    let refname = format!(
        "refs/mlops/{}s/{}",
        entity.split('/').next().unwrap(),
        entity.split('/').nth(1).unwrap()
    );
    let text = repo
        .git(&[
            "cat-file",
            "blob",
            &format!("{refname}:{kind}/{}.json", &id["sha256:".len()..]),
        ])
        .ok()
        .stdout;
    serde_json::from_str(&text).unwrap()
}

fn note(repo: &Repo, entity: &str, text: &str) -> Out {
    repo.mlops(&["note", entity, "-m", text])
}

fn verify_fails_with(repo: &Repo, needle: &str) {
    let out = repo.mlops(&["verify"]).code(1);
    assert!(
        out.stdout.contains(needle),
        "expected `{needle}` in:\n{}",
        out.stdout
    );
}

// ---------------------------------------------------------------------------
// No lost writes

/// Writers and git's maintenance at once: every note that exited 0 is in the
/// chain afterwards. `git pack-refs --all` is what `git gc` and `gc --auto`
/// do to refs; it used to make the compare-and-swap accept a stale tip.
#[test]
fn concurrent_writers_beside_pack_refs_and_gc_lose_no_acknowledged_write() {
    let repo = Repo::new();
    repo.git(&["config", "gc.auto", "1"]).ok();
    repo.git(&["config", "gc.autoDetach", "false"]).ok();
    // The fixed test clock dates reflog entries months back; keep them.
    repo.git(&["config", "gc.reflogExpire", "never"]).ok();
    note(&repo, "model/hot", "seed").ok();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let maint = {
        let stop = stop.clone();
        let path = repo.path.clone();
        let home = repo.home.clone();
        std::thread::spawn(move || {
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for args in [
                    &["pack-refs", "--all"][..],
                    &["gc", "--auto", "--quiet"][..],
                    &["pack-refs", "--all", "--prune"][..],
                ] {
                    let _ = std::process::Command::new("git")
                        .current_dir(&path)
                        .env("HOME", &home)
                        .env("GIT_CONFIG_NOSYSTEM", "1")
                        .args(args)
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
                rounds += 1;
            }
            rounds
        })
    };
    let mut acknowledged = Vec::new();
    for round in 0..8 {
        let children: Vec<_> = (0..25)
            .map(|i| {
                let text = format!("r{round}w{i}");
                let mut cmd = repo.mlops_cmd(&["note", "model/hot", "-m", &text]);
                cmd.stdout(Stdio::null()).stderr(Stdio::piped());
                (text, cmd.spawn().unwrap())
            })
            .collect();
        for (text, child) in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            acknowledged.push(format!("note: {text}"));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let rounds = maint.join().unwrap();
    assert!(rounds > 0, "maintenance ran beside the writers");
    let log = repo.mlops(&["log", "model/hot", "--json"]).ok().json();
    let present: std::collections::HashSet<String> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|a| !present.contains(*a))
        .collect();
    assert!(lost.is_empty(), "lost {} writes: {lost:?}", lost.len());
    assert_eq!(present.len(), acknowledged.len() + 1);
    repo.mlops(&["verify"]).ok();
    // The reflog keeps every move of the ref.
    let reflog = repo
        .git(&["reflog", "show", "--format=%H", "refs/mlops/models/hot"])
        .ok()
        .stdout;
    assert_eq!(reflog.lines().count(), acknowledged.len() + 1);
}

/// The lost write, forced: writer A reads the tip from packed-refs and is
/// paused; B appends; `git pack-refs` packs B's tip and prunes the loose ref;
/// packed-refs gets back its old modification time, as a rewrite within one
/// tick of a coarse file-system clock leaves it. A compare-and-swap against a
/// cached packed-refs snapshot then saw A's stale tip as current and dropped
/// B's record. A must notice, re-read and extend B's record.
#[test]
fn a_stale_packed_refs_snapshot_cannot_hide_a_newer_tip() {
    let repo = Repo::new();
    note(&repo, "model/hot", "first").ok();
    repo.git(&["pack-refs", "--all"]).ok();
    let packed = repo.path.join(".git/packed-refs");
    let mtime = std::fs::metadata(&packed).unwrap().modified().unwrap();
    let mut slow = repo.mlops_cmd(&["note", "model/hot", "-m", "slow"]);
    slow.env("MLOPS_TEST_HOOKS", "pause-before-swap=2000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let slow = slow.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(600));
    note(&repo, "model/hot", "fast").ok();
    repo.git(&["pack-refs", "--all"]).ok();
    assert!(!repo.path.join(".git/refs/mlops/models/hot").exists());
    std::fs::File::options()
        .write(true)
        .open(&packed)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let out = slow.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = repo.mlops(&["log", "model/hot", "--json"]).ok().json();
    let texts: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["note: slow", "note: fast", "note: first"]);
    repo.mlops(&["verify"]).ok();
}

/// Every command that writes, at once, beside `git gc --auto` and
/// `pack-refs`: notes, tracked runs, data versions, registrations and
/// promotions all land.
#[test]
fn mixed_writers_beside_maintenance_lose_nothing() {
    let repo = Repo::new();
    repo.git(&["config", "gc.auto", "1"]).ok();
    repo.git(&["config", "gc.autoDetach", "false"]).ok();
    repo.commit_file(
        "mlops.toml",
        "[models.m]\nstages = [\"staging\", \"production\"]\n",
    );
    repo.write("data/a.csv", "x,y\n1,2\n3,4\n");
    repo.write("model.bin", "weights");
    repo.mlops(&[
        "model",
        "register",
        "m",
        "--artifact",
        "model.bin",
        "--version",
        "1.0.0",
    ])
    .ok();
    for v in ["1.1.0", "1.2.0", "1.3.0"] {
        repo.mlops(&[
            "model",
            "register",
            "m",
            "--artifact",
            "model.bin",
            "--version",
            v,
        ])
        .ok();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let maint = {
        let stop = stop.clone();
        let path = repo.path.clone();
        let home = repo.home.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for args in [
                    &["pack-refs", "--all"][..],
                    &["gc", "--auto", "--quiet"][..],
                ] {
                    let _ = std::process::Command::new("git")
                        .current_dir(&path)
                        .env("HOME", &home)
                        .env("GIT_CONFIG_NOSYSTEM", "1")
                        .args(args)
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
            }
        })
    };
    let mut cmds: Vec<Vec<String>> = Vec::new();
    for i in 0..6 {
        cmds.push(vec![
            "note".into(),
            "model/m".into(),
            "-m".into(),
            format!("n{i}"),
        ]);
        cmds.push(vec![
            "track".into(),
            "--name".into(),
            format!("t{i}"),
            "--".into(),
            "true".into(),
        ]);
    }
    cmds.push(vec![
        "data".into(),
        "add".into(),
        "data/a.csv".into(),
        "--name".into(),
        "a".into(),
    ]);
    for v in ["1.0.0", "1.1.0", "1.2.0", "1.3.0"] {
        cmds.push(vec![
            "promote".into(),
            format!("m@{v}"),
            "--to".into(),
            "staging".into(),
        ]);
    }
    let children: Vec<_> = cmds
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut cmd = repo.mlops_cmd(&args);
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for (args, child) in cmds.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    maint.join().unwrap();
    let log = repo.mlops(&["log", "--json"]).ok().json();
    let summaries: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect();
    for i in 0..6 {
        assert!(summaries.contains(&format!("note: n{i}")), "{summaries:?}");
    }
    let runs = repo.mlops(&["runs", "list", "--json"]).ok().json();
    assert_eq!(runs.as_array().unwrap().len(), 6);
    let promotions = summaries
        .iter()
        .filter(|s| s.starts_with("promote m@"))
        .count();
    assert_eq!(promotions, 4, "{summaries:?}");
    let datasets = repo.mlops(&["data", "list", "--json"]).ok().json();
    assert_eq!(datasets.as_array().unwrap().len(), 1, "{datasets}");
    repo.mlops(&["verify"]).ok();
}

/// A writer killed while it holds git's lock of the ref leaves the lock file;
/// its mlops lock record names it, so the next writer takes it over at once.
#[test]
fn a_writer_killed_holding_the_ref_lock_is_taken_over_at_once() {
    let repo = Repo::new();
    note(&repo, "model/z", "a").ok();
    let mut cmd = repo.mlops_cmd(&["note", "model/z", "-m", "killed"]);
    cmd.env("MLOPS_TEST_HOOKS", "die-holding-ref-lock");
    let killed = crate::support::capture(cmd);
    assert_eq!(killed.code, 128 + 9, "{}", killed.stderr);
    assert!(repo.path.join(".git/refs/mlops/models/z.lock").exists());
    let started = std::time::Instant::now();
    let out = note(&repo, "model/z", "b").ok();
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert!(
        out.stderr
            .contains("warning: took over the lock of `refs/mlops/models/z`"),
        "{}",
        out.stderr
    );
    assert!(!repo.path.join(".git/refs/mlops/models/z.lock").exists());
    let log = repo.mlops(&["log", "model/z", "--json"]).ok().json();
    let texts: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["note: b", "note: a"]);
    repo.mlops(&["verify"]).ok();
}

// ---------------------------------------------------------------------------
// A finished run is always recorded

/// The end-of-run race, forced: signal-hook's wake-up byte goes to a pipe
/// whose reader is gone. With SIGPIPE at its default this killed mlops (141)
/// after the child ended and before the run was recorded.
#[test]
fn a_finished_run_is_recorded_when_the_signal_pipe_reader_is_gone() {
    let repo = Repo::new();
    for code in [0, 3] {
        let mut cmd = repo.mlops_cmd(&["track", "--", "sh", "-c", &format!("exit {code}")]);
        cmd.env("MLOPS_TEST_HOOKS", "track-close-race");
        let out = crate::support::capture(cmd);
        assert_eq!(out.code, code, "{}", out.stderr);
    }
    let runs = repo.mlops(&["runs", "list", "--json"]).ok().json();
    assert_eq!(runs.as_array().unwrap().len(), 2);
}

/// A thousand short commands, two at a time: each exits with its child's
/// code, and every run is recorded.
#[test]
fn a_thousand_short_tracked_commands_are_all_recorded() {
    let repo = Repo::new();
    let total = 1000;
    let mut codes = Vec::new();
    let mut i = 0;
    while i < total {
        let pair: Vec<_> = (0..2)
            .map(|k| {
                let code = (i + k) % 3;
                let mut cmd = repo.mlops_cmd(&[
                    "track",
                    "--quiet",
                    "--",
                    if code == 0 { "true" } else { "sh" },
                    "-c",
                    &format!("exit {code}"),
                ]);
                if code == 0 {
                    cmd = repo.mlops_cmd(&["track", "--quiet", "--", "true"]);
                }
                cmd.stdout(Stdio::null()).stderr(Stdio::piped());
                (code, cmd.spawn().unwrap())
            })
            .collect();
        for (code, child) in pair {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(code as i32),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            codes.push(code);
        }
        i += 2;
    }
    let refs = repo
        .git(&["for-each-ref", "--format=%(refname)", "refs/mlops/runs/"])
        .ok()
        .stdout;
    assert_eq!(refs.lines().count(), total);
}

// ---------------------------------------------------------------------------
// Histories that scale: the sharded layout

#[test]
fn a_long_history_is_sharded_and_reads_back_whole() {
    let repo = Repo::new();
    for i in 0..150 {
        note(&repo, "monitor/long", &format!("event {i}")).ok();
    }
    // More than 64 notes: `note/` splits into folders by the ids' first digit.
    let listing = repo
        .git(&["ls-tree", "refs/mlops/monitors/long:note"])
        .ok()
        .stdout;
    assert!(listing.lines().all(|l| l.contains(" tree ")), "{listing}");
    assert!(listing.lines().count() > 1);
    let all = repo
        .git(&["ls-tree", "-r", "--name-only", "refs/mlops/monitors/long"])
        .ok()
        .stdout;
    assert_eq!(all.lines().filter(|l| l.starts_with("note/")).count(), 150);
    let log = repo.mlops(&["log", "monitor/long", "--json"]).ok().json();
    assert_eq!(log.as_array().unwrap().len(), 150);
    let v = repo.mlops(&["verify", "--json"]).ok().json();
    assert_eq!(v["records"], 150);
    // Every commit was proven by the tree id its parent's tree and its record
    // give, the fast path: none needed a tree-to-tree diff.
    assert_eq!(v["entities"][0]["diffed"], 0, "{v}");
}

/// A history written by an older mlops (flat `<kind>/<hex>.json`, no layout
/// marker) is read as it is, and the first append reshapes it without
/// `verify` taking the move for a removal.
#[test]
fn a_flat_history_from_an_older_mlops_is_read_and_appended_to() {
    let repo = Repo::new();
    let forge = Forge { repo: &repo };
    let mut parent: Option<String> = None;
    let mut prev: Option<String> = None;
    let mut tree: Option<String> = None;
    for i in 0..70 {
        let mut value = json!({
            "kind": "note", "schema": 1, "summary": format!("note: old {i}"),
            "created_at": format!("2026-01-01T00:00:{:02}.000000Z", i % 60),
            "actor": "Old <old@example.com>", "tool": "mlops 0.1.0",
            "entity": "model/legacy", "text": format!("old {i}"),
        });
        if i >= 60 {
            value["created_at"] = json!(format!("2026-01-01T00:01:{:02}.000000Z", i - 60));
        }
        if let Some(p) = &prev {
            value["prev"] = json!(p);
        }
        let (bytes, hex) = Forge::record(&value);
        let blob = forge.blob(&bytes);
        let t = forge.tree(tree.as_deref(), &[(format!("note/{hex}.json"), blob)]);
        let c = forge.commit(
            &t,
            parent.as_deref(),
            &format!("note: old {i}\n\nMlops-Record: sha256:{hex}"),
        );
        parent = Some(c);
        tree = Some(t);
        prev = Some(format!("sha256:{hex}"));
    }
    repo.git(&[
        "update-ref",
        "refs/mlops/models/legacy",
        parent.as_deref().unwrap(),
    ])
    .ok();
    repo.mlops(&["verify"]).ok();
    assert_eq!(
        repo.mlops(&["log", "model/legacy", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        70
    );
    note(&repo, "model/legacy", "new").ok();
    let log = repo.mlops(&["log", "model/legacy", "--json"]).ok().json();
    assert_eq!(log.as_array().unwrap().len(), 71);
    assert_eq!(log[0]["prev"], json!(prev.unwrap()));
    // Reshaped: sharded folders and the layout marker.
    let root = repo
        .git(&["ls-tree", "refs/mlops/models/legacy"])
        .ok()
        .stdout;
    assert!(root.contains("mlops-layout"), "{root}");
    let v = repo.mlops(&["verify", "--json"]).ok().json();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["records"], 71);
    // The flat commits follow the flat rule; only the first (which has no
    // layout marker) and the reshaping one are diffed.
    assert_eq!(v["entities"][0]["diffed"], 2, "{v}");
}

#[test]
fn a_layout_newer_than_this_mlops_is_not_written_to() {
    let repo = Repo::new();
    note(&repo, "model/new", "a").ok();
    let forge = Forge { repo: &repo };
    let marker = forge.blob(b"{\"layout\":3}\n");
    let tree = forge.tree(
        Some("refs/mlops/models/new^{tree}"),
        &[("mlops-layout".into(), marker)],
    );
    let tip = forge.git(&["rev-parse", "refs/mlops/models/new"]);
    let log = forge.git(&["log", "-1", "--format=%B", "refs/mlops/models/new"]);
    let commit = forge.commit(&tree, Some(&tip), &log);
    forge.git(&["update-ref", "refs/mlops/models/new", &commit]);
    let out = note(&repo, "model/new", "b").code(2);
    assert!(out.stderr.contains("layout 3"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: upgrade mlops"), "{}", out.stderr);
    assert_eq!(
        repo.git(&["rev-parse", "refs/mlops/models/new"])
            .ok()
            .stdout
            .trim(),
        commit
    );
}

// ---------------------------------------------------------------------------
// Time never goes backwards

#[test]
fn a_clock_behind_the_previous_record_is_held_at_its_time_and_kept_beside() {
    let repo = Repo::new();
    note(&repo, "model/t", "first").ok();
    let mut cmd = repo.mlops_cmd(&["note", "model/t", "-m", "from a slow clock"]);
    cmd.env("MLOPS_NOW", "2025-01-01T00:00:00Z");
    crate::support::capture(cmd).ok();
    let r = tip_record(&repo, "model/t");
    assert_eq!(r["created_at"], "2026-03-01T09:00:00.000000Z");
    assert_eq!(r["clock"], "2025-01-01T00:00:00.000000Z");
    repo.mlops(&["verify"]).ok();
}

// ---------------------------------------------------------------------------
// A verify that catches rewrites: one tamper per case

#[test]
fn verify_catches_a_record_back_dated_before_its_predecessor() {
    let repo = Repo::new();
    note(&repo, "model/t", "first").ok();
    let prev = repo.mlops(&["log", "model/t", "--json"]).ok().json()[0]["id"].clone();
    Forge { repo: &repo }.append(
        "refs/mlops/models/t",
        &json!({"kind": "note", "schema": 1, "summary": "note: back-dated",
                "created_at": "2020-01-01T00:00:00.000000Z", "actor": "M <m@x>",
                "tool": "mlops 0.1.0", "prev": prev, "entity": "model/t", "text": "x"}),
        None,
    );
    verify_fails_with(&repo, "before the record it follows");
}

#[test]
fn verify_catches_a_prev_that_skips_a_record() {
    let repo = Repo::new();
    note(&repo, "model/t", "first").ok();
    note(&repo, "model/t", "second").ok();
    let log = repo.mlops(&["log", "model/t", "--json"]).ok().json();
    let first = log[1]["id"].clone();
    Forge { repo: &repo }.append(
        "refs/mlops/models/t",
        &json!({"kind": "note", "schema": 1, "summary": "note: skip",
                "created_at": "2026-03-01T09:00:00.000000Z", "actor": "M <m@x>",
                "tool": "mlops 0.1.0", "prev": first, "entity": "model/t", "text": "x"}),
        None,
    );
    verify_fails_with(&repo, "as its previous record, but the record before it is");
}

#[test]
fn verify_catches_a_forged_trailer() {
    let repo = Repo::new();
    note(&repo, "model/t", "first").ok();
    let log = repo.mlops(&["log", "model/t", "--json"]).ok().json();
    let first = log[0]["id"].as_str().unwrap().to_string();
    Forge { repo: &repo }.append(
        "refs/mlops/models/t",
        &json!({"kind": "note", "schema": 1, "summary": "note: second",
                "created_at": "2026-03-01T09:00:00.000000Z", "actor": "M <m@x>",
                "tool": "mlops 0.1.0", "prev": first, "entity": "model/t", "text": "x"}),
        // The trailer names the first record again, so the next append's
        // `prev` would skip this one.
        Some(&first),
    );
    verify_fails_with(&repo, "trailer names");
}

#[test]
fn verify_catches_a_deleted_promotion() {
    let repo = Repo::new();
    repo.write("model.bin", "w");
    repo.mlops(&["model", "register", "m", "--artifact", "model.bin"])
        .ok();
    repo.mlops(&["promote", "m@0.1.0", "--to", "staging"]).ok();
    note(&repo, "model/m", "after").ok();
    // A commit that drops the promotion record from the tree.
    let forge = Forge { repo: &repo };
    let listing = forge.git(&["ls-tree", "-r", "refs/mlops/models/m"]);
    let kept: Vec<(String, String)> = listing
        .lines()
        .filter(|l| !l.contains("\tpromotion/"))
        .map(|l| {
            let (meta, path) = l.split_once('\t').unwrap();
            (
                path.to_string(),
                meta.split(' ').nth(2).unwrap().to_string(),
            )
        })
        .collect();
    let tree = forge.tree(None, &kept);
    let tip = forge.git(&["rev-parse", "refs/mlops/models/m"]);
    let commit = forge.commit(&tree, Some(&tip), "tidy");
    forge.git(&["update-ref", "refs/mlops/models/m", &commit]);
    verify_fails_with(&repo, "removes `promotion` record");
}

#[test]
fn verify_catches_a_ref_moved_back_to_drop_a_rollback() {
    let repo = Repo::new();
    repo.write("model.bin", "w");
    repo.mlops(&["model", "register", "m", "--artifact", "model.bin"])
        .ok();
    repo.mlops(&["model", "register", "m", "--artifact", "model.bin"])
        .ok();
    repo.mlops(&["promote", "m@0.1.0", "--to", "staging"]).ok();
    repo.mlops(&["promote", "m@0.2.0", "--to", "staging"]).ok();
    repo.mlops(&["rollback", "m", "--stage", "staging", "--reason", "bad"])
        .ok();
    repo.git(&["update-ref", "refs/mlops/models/m", "refs/mlops/models/m~1"])
        .ok();
    verify_fails_with(&repo, "the reflog shows the ref moved from");
}

/// The whole chain re-hashed consistently (a record's text changed, every
/// later id and `prev` recomputed) and the reflog removed: nothing inside the
/// chain tells. A checkpoint does, and so does a copy kept outside.
#[test]
fn a_consistent_rewrite_passes_without_a_checkpoint_and_fails_with_one() {
    let repo = Repo::new();
    for t in ["approved by the committee", "second", "third"] {
        note(&repo, "model/m", t).ok();
    }
    let kept = repo.sibling("checkpoint.json");
    let cp = repo
        .mlops(&["checkpoint", "--json", "--out", kept.to_str().unwrap()])
        .ok()
        .json();
    assert_eq!(cp["heads"].as_array().unwrap().len(), 1);
    // Rewrite: same chain, first text changed, everything re-derived.
    let log = repo.mlops(&["log", "model/m", "--json"]).ok().json();
    let mut records: Vec<Value> = log
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            let id = e["id"].as_str().unwrap();
            let text = repo
                .git(&[
                    "cat-file",
                    "blob",
                    &format!("refs/mlops/models/m:note/{}.json", &id[7..]),
                ])
                .ok()
                .stdout;
            serde_json::from_str(&text).unwrap()
        })
        .collect();
    records[0]["text"] = json!("rejected by the committee");
    records[0]["summary"] = json!("note: rejected by the committee");
    let forge = Forge { repo: &repo };
    let marker = forge.blob(b"{\"layout\":2}\n");
    let mut prev: Option<String> = None;
    let mut parent: Option<String> = None;
    let mut files = vec![("mlops-layout".to_string(), marker)];
    for r in &mut records {
        match &prev {
            Some(p) => r["prev"] = json!(p),
            None => {
                r.as_object_mut().unwrap().remove("prev");
            }
        }
        let (bytes, hex) = Forge::record(r);
        files.push((format!("note/{hex}.json"), forge.blob(&bytes)));
        let tree = forge.tree(None, &files);
        let c = forge.commit(
            &tree,
            parent.as_deref(),
            &format!(
                "{}\n\nMlops-Record: sha256:{hex}",
                r["summary"].as_str().unwrap()
            ),
        );
        parent = Some(c);
        prev = Some(format!("sha256:{hex}"));
    }
    // The checkpoint chain is rewritten away too, and the reflogs deleted.
    forge.git(&["update-ref", "-d", "refs/mlops/checkpoints"]);
    forge.git(&[
        "update-ref",
        "refs/mlops/models/m",
        parent.as_deref().unwrap(),
    ]);
    std::fs::remove_dir_all(repo.path.join(".git/logs/refs/mlops")).unwrap();
    // Nothing inside the repository tells any more: the documented limit.
    repo.mlops(&["verify"]).ok();
    // The copy kept outside does.
    let out = repo
        .mlops(&["verify", "--checkpoint", kept.to_str().unwrap()])
        .code(1);
    assert!(
        out.stdout.contains("no longer contains commit"),
        "{}",
        out.stdout
    );
}

#[test]
fn verify_against_the_recorded_checkpoint_catches_a_deleted_ref() {
    let repo = Repo::new();
    note(&repo, "model/m", "a").ok();
    repo.mlops(&["track", "--quiet", "--", "true"]).ok();
    repo.mlops(&["checkpoint"]).ok();
    let run_ref = repo
        .git(&["for-each-ref", "--format=%(refname)", "refs/mlops/runs/"])
        .ok()
        .stdout
        .trim()
        .to_string();
    repo.git(&["update-ref", "-d", &run_ref]).ok();
    verify_fails_with(&repo, "the ref was deleted since checkpoint");
}

#[test]
fn a_checkpoint_is_refused_over_a_history_that_does_not_verify() {
    let repo = Repo::new();
    note(&repo, "model/t", "first").ok();
    Forge { repo: &repo }.append(
        "refs/mlops/models/t",
        &json!({"kind": "note", "schema": 1, "summary": "note: x",
                "created_at": "2026-03-01T09:00:00.000000Z", "actor": "M <m@x>",
                "tool": "mlops 0.1.0", "entity": "model/t", "text": "no prev"}),
        None,
    );
    let out = repo.mlops(&["checkpoint"]).code(1);
    assert!(out.stderr.contains("problem"), "{}", out.stderr);
    assert!(repo
        .git(&["rev-parse", "--verify", "-q", "refs/mlops/checkpoints"])
        .stdout
        .is_empty());
}

#[test]
fn verify_catches_a_run_whose_inputs_name_a_missing_dataset_version() {
    let repo = Repo::new();
    repo.write("data/a.csv", "x\n1\n");
    repo.mlops(&["data", "add", "data/a.csv", "--name", "a"])
        .ok();
    let forge = Forge { repo: &repo };
    let missing = format!("sha256:{}", "0".repeat(64));
    forge.append(
        "refs/mlops/runs/20260301-090000-abcdef",
        &json!({"kind": "run", "schema": 1, "summary": "run x",
                "created_at": "2026-03-01T09:00:00.000000Z", "actor": "M <m@x>",
                "tool": "mlops 0.1.0", "run_id": "20260301-090000-abcdef",
                "inputs": [{"role": "train", "dataset": "a", "version": missing,
                            "path": "data/a.csv", "root": "", "files": 1, "bytes": 4}]}),
        None,
    );
    verify_fails_with(&repo, "which `dataset/a` does not hold");
    // A link into an entity that is not here is only a warning: it may not
    // have been fetched.
    forge.git(&["update-ref", "-d", "refs/mlops/datasets/a"]);
    let out = repo.mlops(&["verify"]).ok();
    assert!(
        out.stdout.contains("run `mlops sync` to fetch it"),
        "{}",
        out.stdout
    );
}

#[test]
fn verify_catches_a_dangling_run_record_link() {
    let repo = Repo::new();
    repo.mlops(&["track", "--quiet", "--", "true"]).ok();
    let run = repo.mlops(&["runs", "list", "--json"]).ok().json()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let forge = Forge { repo: &repo };
    forge.append(
        "refs/mlops/models/m",
        &json!({"kind": "model-version", "schema": 1, "summary": "register m@1.0.0",
                "created_at": "2026-03-01T09:00:00.000000Z", "actor": "M <m@x>",
                "tool": "mlops 0.1.0", "model": "m", "version": "1.0.0",
                "run_id": run, "run_record": format!("sha256:{}", "1".repeat(64)),
                "artifacts": [], "metrics": {}, "datasets": [], "code_commit": null,
                "inventory": {}, "description": null}),
        None,
    );
    verify_fails_with(&repo, &format!("which `run/{run}` does not hold"));
}

// ---------------------------------------------------------------------------
// Sync that never silently forks

fn clone(repo: &Repo, origin: &Path, name: &str) -> std::path::PathBuf {
    let path = repo.sibling(name);
    repo.git_in(
        origin.parent().unwrap(),
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            path.to_str().unwrap(),
        ],
    )
    .ok();
    repo.git_in(&path, &["config", "user.name", &format!("User {name}")])
        .ok();
    repo.git_in(
        &path,
        &["config", "user.email", &format!("{name}@example.com")],
    )
    .ok();
    path
}

fn origin(repo: &Repo) -> std::path::PathBuf {
    let origin = repo.sibling("origin.git");
    repo.git_in(
        repo.path.parent().unwrap(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    )
    .ok();
    origin
}

/// Two clones register the same version of a model independently; one
/// promotes it. After both sync, the version string names two records:
/// every reader says so instead of picking one, until a supersede.
#[test]
fn two_clones_registering_one_version_is_a_conflict_every_reader_reports() {
    let repo = Repo::new();
    let origin = origin(&repo);
    let a = clone(&repo, &origin, "a");
    let b = clone(&repo, &origin, "b");
    std::fs::write(a.join("model.bin"), "from a").unwrap();
    std::fs::write(b.join("model.bin"), "from b").unwrap();
    repo.mlops_in(
        &a,
        &[
            "model",
            "register",
            "m",
            "--artifact",
            "model.bin",
            "--version",
            "1.2.0",
        ],
    )
    .ok();
    // b registers later (so its clock is later), same version string.
    let mut cmd = repo.mlops_cmd_in(
        &b,
        &[
            "model",
            "register",
            "m",
            "--artifact",
            "model.bin",
            "--version",
            "1.2.0",
        ],
    );
    cmd.env("MLOPS_NOW", "2026-03-01T10:00:00Z");
    crate::support::capture(cmd).ok();
    repo.mlops_in(&a, &["promote", "m@1.2.0", "--to", "staging"])
        .ok();
    repo.mlops_in(&a, &["sync"]).ok();
    let synced = repo.mlops_in(&b, &["sync"]).ok();
    assert!(
        synced
            .stderr
            .contains("conflict: version `1.2.0` of model `m` is claimed by 2 records"),
        "{}",
        synced.stderr
    );
    repo.mlops_in(&a, &["sync"]).ok();
    for dir in [&a, &b] {
        let show = repo.mlops_in(dir, &["model", "show", "m"]).ok();
        assert!(show.stderr.contains("conflict:"), "{}", show.stderr);
        assert!(show.stdout.contains("CONFLICT"), "{}", show.stdout);
        let resolve = repo.mlops_in(dir, &["resolve", "m@1.2.0"]).code(2);
        assert!(
            resolve.stderr.contains("claimed by 2 records"),
            "{}",
            resolve.stderr
        );
        let staged = repo.mlops_in(dir, &["resolve", "m@staging"]).code(2);
        assert!(
            staged.stderr.contains("claimed by 2 records"),
            "{}",
            staged.stderr
        );
        let promote = repo
            .mlops_in(dir, &["promote", "m@1.2.0", "--to", "production"])
            .code(2);
        assert!(
            promote.stderr.contains("claimed by 2 records"),
            "{}",
            promote.stderr
        );
        let verify = repo.mlops_in(dir, &["verify"]).code(1);
        assert!(
            verify.stdout.contains("claimed by 2 records"),
            "{}",
            verify.stdout
        );
    }
    // The stage holds a's record, whatever the version string says.
    let versions = repo
        .mlops_in(&a, &["model", "show", "m", "--json"])
        .ok()
        .json();
    let staged: Vec<&Value> = versions
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["stages"] == json!(["staging"]))
        .collect();
    assert_eq!(staged.len(), 1);
    assert_eq!(staged[0]["actor"], "User a <a@example.com>");
    let a_record = staged[0]["record"].as_str().unwrap().to_string();
    // Settled: a's record is kept.
    repo.mlops_in(
        &b,
        &[
            "model",
            "supersede",
            "m@1.2.0",
            "--keep",
            &a_record[..20],
            "--reason",
            "a's was promoted",
        ],
    )
    .ok();
    repo.mlops_in(&b, &["sync"]).ok();
    repo.mlops_in(&a, &["sync"]).ok();
    for dir in [&a, &b] {
        let r = repo
            .mlops_in(dir, &["resolve", "m@staging", "--json"])
            .ok()
            .json();
        assert_eq!(r["record"], a_record.as_str());
        let r = repo
            .mlops_in(dir, &["resolve", "m@1.2.0", "--json"])
            .ok()
            .json();
        assert_eq!(r["record"], a_record.as_str());
        repo.mlops_in(dir, &["verify"]).ok();
    }
}

/// Someone force-pushes a rewritten chain. A clone that saw the old one
/// refuses it: exit 1 naming the ref, nothing merged, nothing pushed.
#[test]
fn a_force_pushed_rewrite_is_refused_by_sync_and_nothing_is_pushed() {
    let repo = Repo::new();
    let origin = origin(&repo);
    let a = clone(&repo, &origin, "a");
    let b = clone(&repo, &origin, "b");
    for t in ["one", "two"] {
        repo.mlops_in(&a, &["note", "model/m", "-m", t]).ok();
    }
    repo.mlops_in(&a, &["sync"]).ok();
    repo.mlops_in(&b, &["sync"]).ok();
    // a rewrites: drops "two" and appends a forged record, force-pushes.
    repo.git_in(
        &a,
        &["update-ref", "refs/mlops/models/m", "refs/mlops/models/m~1"],
    )
    .ok();
    repo.mlops_in(&a, &["note", "model/m", "-m", "forged"]).ok();
    repo.git_in(
        &a,
        &[
            "push",
            "-q",
            "--force",
            "origin",
            "refs/mlops/models/m:refs/mlops/models/m",
        ],
    )
    .ok();
    let forced = repo
        .git_in(&origin, &["rev-parse", "refs/mlops/models/m"])
        .ok()
        .stdout;
    // b has new records of its own to share.
    repo.mlops_in(&b, &["note", "model/other", "-m", "b's work"])
        .ok();
    let out = repo.mlops_in(&b, &["sync"]).code(1);
    assert!(
        out.stderr
            .contains("`refs/mlops/models/m` on `origin` was rewritten"),
        "{}",
        out.stderr
    );
    // Nothing pushed: the remote has neither b's note nor a merge.
    assert_eq!(
        repo.git_in(&origin, &["rev-parse", "refs/mlops/models/m"])
            .ok()
            .stdout,
        forced
    );
    assert!(repo
        .git_in(
            &origin,
            &["rev-parse", "--verify", "-q", "refs/mlops/models/other"]
        )
        .stdout
        .is_empty());
    // Nothing merged: b still has "two" and not "forged".
    let log = repo.mlops_in(&b, &["log", "model/m", "--json"]).ok().json();
    let texts: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["note: two", "note: one"]);
    // Still refused on the next sync.
    repo.mlops_in(&b, &["sync"]).code(1);
}

#[test]
fn no_forced_refspec_is_used_anywhere() {
    // Templates and docs never fetch or push with a leading `+`.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut offenders = Vec::new();
    for dir in ["src", ".mlops-template", "docs", "README.md", "examples"] {
        for entry in walkdir::WalkDir::new(root.join(dir)).into_iter().flatten() {
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            for (n, line) in text.lines().enumerate() {
                if line.contains("'+refs/mlops")
                    || line.contains("\"+refs/mlops")
                    || line.contains(" +refs/mlops")
                    || line.contains("+{REF_ROOT}")
                {
                    offenders.push(format!("{}:{}: {line}", entry.path().display(), n + 1));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}
