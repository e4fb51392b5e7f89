//! The record store, `init`, `log`, `note`, `config` and the global conventions.

use std::process::Stdio;

use crate::support::Repo;

#[test]
fn init_installs_the_templates_in_a_fresh_repository_without_commits() {
    let repo = Repo::new();
    let out = repo.mlops(&["init"]).ok();
    assert!(
        out.stdout.contains("created    mlops.toml"),
        "{}",
        out.stdout
    );
    for f in [
        "mlops.toml",
        ".github/workflows/mlops-promote.yml",
        ".github/workflows/mlops-drift.yml",
        ".github/workflows/mlops-report.yml",
        ".gitlab/mlops.gitlab-ci.yml",
        ".mlops/templates/report.html.j2",
        ".mlops/templates/report.md.j2",
    ] {
        assert!(repo.path.join(f).is_file(), "{f} was not installed");
    }
    // The installed skeleton is valid configuration.
    repo.mlops(&["config"]).ok();
    // Nothing was committed or staged on the user's behalf.
    assert_eq!(repo.git(&["rev-parse", "--verify", "-q", "HEAD"]).code, 1);
    assert!(repo
        .git(&["diff", "--cached", "--name-only"])
        .ok()
        .stdout
        .is_empty());
}

#[test]
fn init_is_idempotent_and_keeps_files_the_user_changed() {
    let repo = Repo::new();
    repo.mlops(&["init"]).ok();
    let again = repo.mlops(&["init", "--json"]).ok().json();
    assert!(again
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["action"] == "unchanged"));

    repo.write("mlops.toml", "[project]\nname = \"mine\"\n");
    let kept = repo.mlops(&["init", "--json"]).ok().json();
    let toml = kept
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "mlops.toml")
        .unwrap();
    assert_eq!(toml["action"], "kept");
    assert_eq!(repo.read("mlops.toml"), "[project]\nname = \"mine\"\n");

    let forced = repo.mlops(&["init", "--force", "--json"]).ok().json();
    let toml = forced
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "mlops.toml")
        .unwrap();
    assert_eq!(toml["action"], "overwritten");
    assert!(repo.read("mlops.toml").contains("[project]\n# name"));
}

#[test]
fn outside_a_repository_is_a_clear_error() {
    let dir = Repo::bare_dir();
    for args in [&["init"][..], &["log"], &["note", "model/x", "-m", "hi"]] {
        let out = dir.mlops(args).code(2);
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
        assert!(
            out.stderr.contains("not inside a git repository"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("hint: run `git init`"),
            "{}",
            out.stderr
        );
    }
    assert!(
        !dir.path.join("mlops.toml").exists(),
        "nothing half-written"
    );
}

#[test]
fn dash_c_runs_in_another_directory_and_rejects_a_missing_one() {
    let repo = Repo::new();
    let elsewhere = Repo::bare_dir();
    let path = repo.path.to_str().unwrap();
    elsewhere.mlops(&["-C", path, "init"]).ok();
    assert!(repo.path.join("mlops.toml").is_file());
    let out = elsewhere.mlops(&["-C", "/no/such/dir", "log"]).code(2);
    assert!(out.stderr.contains("no such directory"), "{}", out.stderr);
}

#[test]
fn a_record_is_a_git_blob_whose_sha256_is_its_id() {
    let repo = Repo::new();
    let out = repo
        .mlops(&["note", "model/fraud", "-m", "planned for Q3", "--json"])
        .ok()
        .json();
    let id = out["id"].as_str().unwrap();
    let hex = id.strip_prefix("sha256:").unwrap();

    // Visible to plain git: ref, commit message, tree layout, blob content.
    let refs = repo
        .git(&["for-each-ref", "--format=%(refname)", "refs/mlops/"])
        .ok();
    assert_eq!(refs.stdout.trim(), "refs/mlops/models/fraud");
    let subject = repo
        .git(&["log", "--format=%s|%an <%ae>", "refs/mlops/models/fraud"])
        .ok();
    assert_eq!(
        subject.stdout.trim(),
        "note: planned for Q3|Test User <test@example.com>"
    );
    let blob = repo
        .git(&[
            "cat-file",
            "-p",
            &format!("refs/mlops/models/fraud:note/{hex}.json"),
        ])
        .ok()
        .stdout;
    let record: serde_json::Value = serde_json::from_str(&blob).unwrap();
    assert_eq!(record["kind"], "note");
    assert_eq!(record["schema"], 1);
    assert_eq!(record["text"], "planned for Q3");
    assert_eq!(record["actor"], "Test User <test@example.com>");
    assert_eq!(record["created_at"], "2026-03-01T09:00:00.000000Z");
    // An auditor re-derives the id with standard tools.
    let sha = repo
        .git(&[
            "cat-file",
            "blob",
            &format!("refs/mlops/models/fraud:note/{hex}.json"),
        ])
        .ok();
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(sha.stdout.as_bytes()))
    };
    assert_eq!(digest, hex);
    // The working tree, index and HEAD are untouched.
    assert!(repo.git(&["status", "--porcelain"]).ok().stdout.is_empty());
    assert_eq!(repo.git(&["rev-parse", "--verify", "-q", "HEAD"]).code, 1);
}

#[test]
fn ids_are_reproducible_with_a_fixed_clock_and_identity() {
    let a = Repo::new();
    let b = Repo::new();
    let ida = a
        .mlops(&["note", "dataset/x", "-m", "same", "--json"])
        .ok()
        .json();
    let idb = b
        .mlops(&["note", "dataset/x", "-m", "same", "--json"])
        .ok()
        .json();
    assert_eq!(ida["id"], idb["id"]);
    let ca = a.git(&["rev-parse", "refs/mlops/datasets/x"]).ok().stdout;
    let cb = b.git(&["rev-parse", "refs/mlops/datasets/x"]).ok().stdout;
    assert_eq!(ca, cb, "commit ids are stable too");
}

#[test]
fn each_event_is_a_commit_on_a_linear_chain_with_prev_links() {
    let repo = Repo::new();
    for i in 0..3 {
        repo.mlops(&["note", "monitor/m", "-m", &format!("event {i}")])
            .ok();
    }
    let log = repo.mlops(&["log", "monitor/m", "--json"]).ok().json();
    let events = log.as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["summary"], "note: event 2", "newest first");
    assert_eq!(events[0]["prev"], events[1]["id"]);
    assert_eq!(events[1]["prev"], events[2]["id"]);
    assert!(events[2]["prev"].is_null());
    let count = repo
        .git(&["rev-list", "--count", "refs/mlops/monitors/m"])
        .ok();
    assert_eq!(count.stdout.trim(), "3");
    assert!(repo
        .git(&["rev-list", "--merges", "refs/mlops/monitors/m"])
        .ok()
        .stdout
        .is_empty());

    // mlops builds its trees itself (not with gix's editor): each one must be
    // exactly the tree git builds from the same entries.
    for tree in [
        "refs/mlops/monitors/m^{tree}",
        "refs/mlops/monitors/m^{tree}:note",
    ] {
        let id = repo
            .git(&["rev-parse", tree])
            .ok()
            .stdout
            .trim()
            .to_string();
        let listing = repo.git(&["ls-tree", &id]).ok().stdout;
        assert_eq!(
            listing.lines().count(),
            // `note/` and the layout marker at the root.
            if tree.ends_with("note") { 3 } else { 2 }
        );
        let rebuilt = repo.git_stdin(&["mktree"], &listing).ok();
        assert_eq!(rebuilt.stdout.trim(), id, "{tree}");
    }
}

#[test]
fn twenty_concurrent_writers_lose_nothing() {
    let repo = Repo::new();
    let children: Vec<_> = (0..20)
        .map(|i| {
            let mut cmd = repo.mlops_cmd(&["note", "model/race", "-m", &format!("writer {i}")]);
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
            cmd.spawn().expect("spawn a writer")
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
    let log = repo.mlops(&["log", "model/race", "--json"]).ok().json();
    let events = log.as_array().unwrap();
    assert_eq!(events.len(), 20);
    let mut texts: Vec<String> = events
        .iter()
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect();
    texts.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("note: writer {i}")).collect();
    expected.sort();
    assert_eq!(texts, expected);
    // One linear chain: 20 commits, no merges, each record names the one before.
    let count = repo
        .git(&["rev-list", "--count", "refs/mlops/models/race"])
        .ok();
    assert_eq!(count.stdout.trim(), "20");
    assert!(repo
        .git(&["rev-list", "--merges", "refs/mlops/models/race"])
        .ok()
        .stdout
        .is_empty());
    for pair in events.windows(2) {
        assert_eq!(pair[0]["prev"], pair[1]["id"]);
    }
}

#[test]
fn records_survive_gc_and_a_mirror_clone() {
    let repo = Repo::new();
    repo.mlops(&["note", "dataset/train", "-m", "one"]).ok();
    repo.mlops(&["note", "dataset/train", "-m", "two"]).ok();
    let before = repo.mlops(&["log", "--json"]).ok().json();

    repo.git(&["gc", "--prune=now", "-q"]).ok();
    assert!(repo
        .git(&["count-objects", "-v"])
        .ok()
        .stdout
        .contains("count: 0"));
    assert_eq!(repo.mlops(&["log", "--json"]).ok().json(), before);
    repo.git(&["fsck", "--strict", "--no-dangling"]).ok();

    let mirror = repo.sibling("mirror.git");
    repo.git(&[
        "clone",
        "-q",
        "--mirror",
        repo.path.to_str().unwrap(),
        mirror.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(
        repo.mlops_in(&mirror, &["log", "--json"]).ok().json(),
        before
    );
    // Appending after gc works on packed refs and packed objects.
    repo.mlops(&["note", "dataset/train", "-m", "three"]).ok();
    assert_eq!(
        repo.mlops(&["log", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn bad_names_are_refused_with_exit_2_and_nothing_written() {
    let repo = Repo::new();
    for spec in [
        "model/..",
        "model/a..b",
        "model/-x",
        "model/a b",
        "model/a/b",
        "gizmo/x",
        "model",
    ] {
        let out = repo.mlops(&["note", spec, "-m", "x"]).code(2);
        assert!(out.stderr.starts_with("error: "), "{spec}: {}", out.stderr);
        assert_eq!(
            out.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1
        );
    }
    assert!(repo
        .git(&["for-each-ref", "refs/mlops/"])
        .ok()
        .stdout
        .is_empty());
}

#[test]
fn a_missing_identity_is_an_error_not_a_fallback() {
    let dir = Repo::bare_dir();
    dir.git(&["init", "-q"]).ok();
    let out = dir.mlops(&["note", "model/x", "-m", "who am i"]).code(2);
    assert!(
        out.stderr.contains("git identity is not configured"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hint: set it with `git config user.name"),
        "{}",
        out.stderr
    );
    assert!(dir
        .git(&["for-each-ref", "refs/mlops/"])
        .ok()
        .stdout
        .is_empty());
}

#[test]
fn a_tampered_record_is_rejected_on_read() {
    let repo = Repo::new();
    let id = repo
        .mlops(&["note", "model/x", "-m", "original", "--json"])
        .ok()
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hex = id.strip_prefix("sha256:").unwrap();
    // Forge: same path, altered content, committed on top with plain git plumbing.
    let blob = repo
        .git(&[
            "cat-file",
            "blob",
            &format!("refs/mlops/models/x:note/{hex}.json"),
        ])
        .ok()
        .stdout
        .replace("original", "forged");
    let forged = repo.path.join("forged.json");
    std::fs::write(&forged, blob).unwrap();
    let new_blob = repo
        .git(&["hash-object", "-w", forged.to_str().unwrap()])
        .ok()
        .stdout;
    let sub = repo
        .git_stdin(
            &["mktree"],
            &format!("100644 blob {}\t{hex}.json\n", new_blob.trim()),
        )
        .ok()
        .stdout;
    let root = repo
        .git_stdin(&["mktree"], &format!("040000 tree {}\tnote\n", sub.trim()))
        .ok()
        .stdout;
    let commit = repo
        .git(&[
            "commit-tree",
            root.trim(),
            "-p",
            "refs/mlops/models/x",
            "-m",
            "forged",
        ])
        .ok()
        .stdout;
    repo.git(&["update-ref", "refs/mlops/models/x", commit.trim()])
        .ok();
    let out = repo.mlops(&["log", "model/x"]).code(2);
    assert!(out.stderr.contains("is corrupt"), "{}", out.stderr);
    assert!(out.stderr.contains(hex), "{}", out.stderr);
}

#[test]
fn config_errors_name_the_key_and_the_line() {
    let repo = Repo::new();
    repo.write(
        "mlops.toml",
        "[models.fraud]\nowner = \"risk\"\nrisk_teir = \"high\"\n",
    );
    let out = repo.mlops(&["config"]).code(2);
    assert!(out.stderr.contains("mlops.toml"), "{}", out.stderr);
    assert!(out.stderr.contains("line 3"), "{}", out.stderr);
    assert!(out.stderr.contains("risk_teir"), "{}", out.stderr);

    repo.write(
        "mlops.toml",
        "[models.fraud.gates.production]\napprovals = -1\n",
    );
    let out = repo.mlops(&["config"]).code(2);
    assert!(out.stderr.contains("line 2"), "{}", out.stderr);

    repo.write("mlops.toml", "[models.fraud]\nowner = \"risk\"\n");
    let cfg = repo.mlops(&["config", "--json"]).ok().json();
    assert_eq!(
        cfg["models"]["fraud"]["stages"],
        serde_json::json!(["staging", "production"])
    );
}

#[test]
fn log_table_and_empty_log() {
    let repo = Repo::new();
    assert_eq!(repo.mlops(&["log"]).ok().stdout.trim(), "no events yet");
    repo.mlops(&["note", "model/fraud", "-m", "hello"]).ok();
    let table = repo.mlops(&["log"]).ok().stdout;
    assert!(table.contains("model/fraud"), "{table}");
    assert!(table.contains("note: hello"), "{table}");
    assert!(table.contains("Test User <test@example.com>"), "{table}");
    let out = repo.mlops(&["log", "model/nope"]).code(2);
    assert!(
        out.stderr.contains("`model/nope` does not exist"),
        "{}",
        out.stderr
    );
}

#[test]
fn help_reference_is_stable() {
    // The whole interface in one snapshot, so any change to it shows in review.
    let repo = Repo::new();
    let mut reference = repo.mlops(&["--help"]).ok().stdout;
    let commands = [
        "init",
        "data add",
        "data status",
        "data diff",
        "data list",
        "data show",
        "data verify",
        "track",
        "track log",
        "runs list",
        "runs show",
        "runs compare",
        "runs amend",
        "runs active",
        "runs fold",
        "model register",
        "model list",
        "model show",
        "model history",
        "model deprecate",
        "model supersede",
        "promote",
        "rollback",
        "resolve",
        "drift",
        "drift history",
        "report",
        "sync",
        "log",
        "verify",
        "checkpoint",
        "doctor",
        "scan",
        "config",
        "note",
        "demo",
    ];
    for c in commands {
        let mut args: Vec<&str> = c.split(' ').collect();
        args.push("--help");
        reference.push_str(&format!("\n===== mlops {c} =====\n"));
        reference.push_str(&repo.mlops(&args).ok().stdout);
    }
    insta::assert_snapshot!("help", reference);
}

#[test]
fn verify_passes_on_intact_histories_and_names_a_rewritten_record() {
    let repo = Repo::new();
    repo.mlops(&["note", "model/x", "-m", "first"]).ok();
    repo.mlops(&["note", "model/x", "-m", "second"]).ok();
    repo.mlops(&["note", "dataset/d", "-m", "other"]).ok();
    let ok = repo.mlops(&["verify", "--json"]).ok().json();
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["records"], 3);
    // Rewrite history: drop the first record from the tip's tree in a new
    // commit. The tip alone still looks consistent; the chain does not.
    let tree = repo
        .git(&["rev-parse", "refs/mlops/models/x^{tree}"])
        .ok()
        .stdout;
    let listing = repo.git(&["ls-tree", "-r", tree.trim()]).ok().stdout;
    let first = repo
        .git(&["log", "--format=%b", "refs/mlops/models/x~1"])
        .ok()
        .stdout;
    let first_hex = first
        .trim()
        .strip_prefix("Mlops-Record: sha256:")
        .unwrap()
        .to_string();
    let kept: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains("\tnote/") && !l.contains(&first_hex))
        .collect();
    assert_eq!(kept.len(), 1);
    let blob = kept[0].split_whitespace().nth(2).unwrap().to_string();
    let name = kept[0]
        .split('\t')
        .nth(1)
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let mktree = |input: String| {
        repo.git_stdin(&["mktree"], &input)
            .ok()
            .stdout
            .trim()
            .to_string()
    };
    let marker = repo
        .git(&["rev-parse", "refs/mlops/models/x:mlops-layout"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let sub = mktree(format!("100644 blob {blob}\t{name}\n"));
    let root = mktree(format!(
        "040000 tree {sub}\tnote\n100644 blob {marker}\tmlops-layout\n"
    ));
    let commit = repo
        .git(&[
            "commit-tree",
            &root,
            "-p",
            "refs/mlops/models/x",
            "-m",
            "tidy up",
        ])
        .ok()
        .stdout;
    repo.git(&["update-ref", "refs/mlops/models/x", commit.trim()])
        .ok();
    let bad = repo.mlops(&["verify"]).code(1);
    assert!(bad.stdout.contains("ALTERED  model/x"), "{}", bad.stdout);
    assert!(
        bad.stdout
            .contains(&format!("removes `note` record `{}`", &first_hex[..12])),
        "{}",
        bad.stdout
    );
    assert!(bad.stdout.contains("ok       dataset/d"), "{}", bad.stdout);
    repo.mlops(&["verify", "dataset/d"]).ok();
}

/// The store's own cost of an append, without process start-up (1.3 ms) or
/// the per-process set-up every command pays once. A benchmark, not a check:
/// `cargo test --release --test it -- --ignored --nocapture append_cost`.
#[test]
#[ignore = "benchmark"]
fn append_cost_in_process() {
    use mlops::record::Draft;
    use mlops::store::{Entity, EntityKind, Store};
    use std::time::{Duration, Instant};
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Bench"]).ok();
    repo.git(&["config", "user.email", "bench@example.com"])
        .ok();
    let store = Store::open(&repo.path).unwrap();
    let entity = Entity::new(EntityKind::Model, "bench").unwrap();
    let n = 1000;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let draft = Draft::new("note", 1, format!("event {i}")).set("text", format!("event {i}"));
        let t = Instant::now();
        store.append_draft(&entity, &draft).unwrap();
        times.push(t.elapsed());
    }
    let median = |s: &[Duration]| {
        let mut v = s.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "append, in process: median {:?} over events 1-100, {:?} over events 901-1000",
        median(&times[..100]),
        median(&times[900..])
    );
    assert_eq!(store.history(&entity).unwrap().records.len(), n);
}

#[test]
fn verify_reports_a_crafted_record_with_a_malformed_prev_instead_of_crashing() {
    let repo = Repo::new();
    // A canonical record whose `prev` is not an id, committed with plain git.
    let bytes = r#"{"kind":"note","prev":"x","schema":1}"#;
    let hex = mlops::record::hex_of(&mlops::record::content_id(bytes.as_bytes())).to_string();
    let blob = repo
        .git_stdin(&["hash-object", "-w", "--stdin"], bytes)
        .ok()
        .stdout;
    let mktree = |input: String| {
        repo.git_stdin(&["mktree"], &input)
            .ok()
            .stdout
            .trim()
            .to_string()
    };
    let sub = mktree(format!("100644 blob {}\t{hex}.json\n", blob.trim()));
    let root = mktree(format!("040000 tree {sub}\tnote\n"));
    let commit = repo
        .git(&["commit-tree", &root, "-m", "crafted"])
        .ok()
        .stdout;
    repo.git(&["update-ref", "refs/mlops/models/z", commit.trim()])
        .ok();
    let out = repo.mlops(&["verify"]).code(1);
    assert!(
        out.stdout.contains("names a previous record x"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_lock_left_by_a_dead_writer_is_named_at_once_not_waited_out() {
    let repo = Repo::new();
    repo.mlops(&["note", "model/z", "-m", "a"]).ok();
    let lock = repo.path.join(".git/refs/mlops/models/z.lock");
    std::fs::write(&lock, "").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let started = std::time::Instant::now();
    let out = repo.mlops(&["note", "model/z", "-m", "b"]).code(2);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(
        out.stderr.contains("z.lock") && out.stderr.contains("hint: if no git process"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(&lock).unwrap();
    repo.mlops(&["note", "model/z", "-m", "b"]).ok();
}
