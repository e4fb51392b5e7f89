//! `mlops track`, `track log` and `runs list|show|compare|amend`.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::Repo;

/// A shell one-liner that appends metrics lines the way any script would.
fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

/// Runs are ordered by their real start time, so tracking uses the real clock
/// (run records hold durations and random ids: they are never reproducible).
fn track(repo: &Repo, flags: &[&str], cmd: &[String]) -> crate::support::Out {
    let mut args: Vec<&str> = vec!["track"];
    args.extend_from_slice(flags);
    args.push("--");
    args.extend(cmd.iter().map(String::as_str));
    let mut c = repo.mlops_cmd(&args);
    c.env_remove("MLOPS_NOW");
    crate::support::capture(c)
}

fn runs(repo: &Repo) -> Vec<Value> {
    repo.mlops(&["runs", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

fn show(repo: &Repo, id: &str) -> Value {
    repo.mlops(&["runs", "show", id, "--json"]).ok().json()
}

#[test]
fn a_real_child_reports_metrics_params_and_tags_through_the_metrics_file() {
    let repo = Repo::new();
    let script = r#"
        for i in 0 1 2 3; do
          echo "{\"step\": $i, \"loss\": 0.$((9 - i)), \"acc\": 0.$((5 + i))}" >> "$MLOPS_METRICS"
        done
        echo '{"params": {"optimizer": {"name": "adam"}}, "tags": {"team": "risk"}}' >> "$MLOPS_METRICS"
        echo "run id is $MLOPS_RUN_ID"
    "#;
    let out = track(
        &repo,
        &[
            "--name",
            "baseline",
            "--experiment",
            "credit",
            "--param",
            "lr=0.01",
            "--param",
            "deep=true",
        ],
        &sh(script),
    )
    .ok();
    assert!(
        out.stdout.contains("run id is 20"),
        "child output is streamed through: {}",
        out.stdout
    );
    assert!(out.stderr.contains("finished"), "{}", out.stderr);
    let list = runs(&repo);
    assert_eq!(list.len(), 1);
    let id = list[0]["run_id"].as_str().unwrap();
    let run = show(&repo, id);
    let r = &run["run"];
    assert_eq!(r["status"], "finished");
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["name"], "baseline");
    assert_eq!(r["experiment"], "credit");
    assert_eq!(r["params"]["lr"], 0.01);
    assert_eq!(r["params"]["deep"], true);
    assert_eq!(r["params"]["optimizer.name"], "adam");
    assert_eq!(r["tags"]["team"], "risk");
    assert_eq!(r["metrics"]["acc"]["value"], 0.8);
    assert_eq!(r["metrics"]["acc"]["count"], 4);
    assert_eq!(r["metrics"]["loss"]["min"], 0.6);
    assert_eq!(
        run["history"]["loss"]["value"],
        serde_json::json!([0.9, 0.8, 0.7, 0.6])
    );
    assert_eq!(
        run["history"]["loss"]["step"],
        serde_json::json!([0, 1, 2, 3])
    );
    assert_eq!(r["command"], serde_json::json!(["sh", "-c", script]));
    // One run, one ref, readable with plain git.
    let refs = repo
        .git(&["for-each-ref", "--format=%(refname)", "refs/mlops/runs/"])
        .ok()
        .stdout;
    assert_eq!(refs.trim(), format!("refs/mlops/runs/{id}"));
    // The scratch metrics file is gone; the working tree is untouched.
    assert!(!repo.path.join(".git/mlops/runs").join(id).exists());
    assert!(repo.git(&["status", "--porcelain"]).ok().stdout.is_empty());
}

#[test]
fn the_summary_rule_comes_from_mlops_toml() {
    let repo = Repo::new();
    repo.write("mlops.toml", "[tracking]\nsummary = { loss = \"min\" }\n");
    track(
        &repo,
        &[],
        &sh(r#"for v in 0.5 0.2 0.4; do echo "{\"loss\": $v}" >> "$MLOPS_METRICS"; done"#),
    )
    .ok();
    let r = &runs(&repo)[0];
    assert_eq!(r["metrics"]["loss"], 0.2);
}

#[test]
fn a_failing_command_is_recorded_as_failed_and_its_exit_code_is_kept() {
    let repo = Repo::new();
    let out = track(
        &repo,
        &[],
        &sh(r#"echo '{"acc": 0.4}' >> "$MLOPS_METRICS"; echo oops >&2; exit 3"#),
    )
    .code(3);
    assert!(out.stderr.contains("oops"));
    let r = &runs(&repo)[0];
    assert_eq!(r["status"], "failed");
    assert_eq!(r["exit_code"], 3);
    assert_eq!(r["metrics"]["acc"], 0.4);
}

#[test]
fn a_missing_program_is_a_clear_error_and_records_nothing() {
    let repo = Repo::new();
    let out = track(&repo, &[], &["no-such-trainer".to_string()]).code(2);
    assert!(
        out.stderr.contains("cannot start `no-such-trainer`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
    assert!(repo
        .git(&["for-each-ref", "refs/mlops/"])
        .ok()
        .stdout
        .is_empty());
    let out = repo.mlops(&["track"]).code(2);
    assert!(out.stderr.contains("no command to track"), "{}", out.stderr);
}

#[test]
fn a_killed_run_forwards_the_signal_and_is_recorded_as_killed() {
    let repo = Repo::new();
    let marker = repo.path.join("started");
    let mut cmd = repo.mlops_cmd(&[
        "track",
        "--",
        "sh",
        "-c",
        &format!(
            "echo '{{\"step\": 0, \"loss\": 1.0}}' >> \"$MLOPS_METRICS\"; touch {}; exec sleep 30",
            marker.display()
        ),
    ]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !marker.exists() {
        assert!(
            Instant::now() < deadline,
            "the tracked command never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Sent to mlops alone (as a scheduler would), not to the process group.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the child was not stopped"
    );
    assert_eq!(
        out.status.code(),
        Some(128 + libc::SIGTERM),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = &runs(&repo)[0];
    assert_eq!(r["status"], "killed");
    assert_eq!(
        r["metrics"]["loss"], 1.0,
        "metrics logged before the kill are kept"
    );
    let full = show(&repo, r["run_id"].as_str().unwrap());
    assert_eq!(full["run"]["signal"], libc::SIGTERM);
}

#[test]
fn dvclive_output_is_read_without_code_changes() {
    let repo = Repo::new();
    let script = r#"
        mkdir -p dvclive/plots/metrics/train
        printf 'step\tloss\n0\t0.9\n1\t0.5\n2\t0.3\n' > dvclive/plots/metrics/train/loss.tsv
        printf 'timestamp\tstep\tacc\n1700000000000\t0\t0.7\n1700000001000\t1\t0.8\n' > dvclive/plots/metrics/acc.tsv
        printf '{"train": {"loss": 0.3}, "acc": 0.8, "step": 2}' > dvclive/metrics.json
        printf 'lr: 0.05\nmodel:\n  depth: 4\n' > dvclive/params.yaml
    "#;
    track(&repo, &[], &sh(script)).ok();
    let r = show(&repo, runs(&repo)[0]["run_id"].as_str().unwrap());
    assert_eq!(
        r["history"]["train/loss"]["value"],
        serde_json::json!([0.9, 0.5, 0.3])
    );
    assert_eq!(r["history"]["acc"]["step"], serde_json::json!([0, 1]));
    assert_eq!(
        r["history"]["acc"]["time"][0],
        "2023-11-14T22:13:20.000000Z"
    );
    assert_eq!(r["run"]["metrics"]["train/loss"]["value"], 0.3);
    assert_eq!(r["run"]["params"]["lr"], 0.05);
    assert_eq!(r["run"]["params"]["model.depth"], 4);
}

#[test]
fn stale_dvclive_output_from_an_earlier_run_is_ignored() {
    let repo = Repo::new();
    repo.write("dvclive/metrics.json", r#"{"acc": 0.99}"#);
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(repo.path.join("dvclive/metrics.json"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    track(&repo, &[], &sh("true")).ok();
    assert!(runs(&repo)[0]["metrics"].as_object().unwrap().is_empty());

    // Written an instant before the run (same coarse mtime tick as its
    // start): still not the run's, because the run did not change it.
    repo.write("dvclive/metrics.json", r#"{"acc": 0.98}"#);
    track(&repo, &[], &sh("true")).ok();
    assert!(runs(&repo)[0]["metrics"].as_object().unwrap().is_empty());

    // Rewritten by the run at once after its start: the run's.
    track(
        &repo,
        &[],
        &sh(r#"printf '{"acc": 0.5}' > dvclive/metrics.json"#),
    )
    .ok();
    let acc: Vec<_> = runs(&repo)
        .iter()
        .filter_map(|r| r["metrics"]["acc"].as_f64())
        .collect();
    assert_eq!(acc, [0.5]);
}

#[test]
fn secrets_are_never_captured_from_the_environment() {
    let repo = Repo::new();
    let mut cmd = repo.mlops_cmd(&[
        "track",
        "--env",
        "DEPLOY_API_KEY",
        "--env",
        "TEAM_NAME",
        "--",
        "true",
    ]);
    cmd.env("GITHUB_TOKEN", "ghp_secret")
        .env("AWS_SECRET_ACCESS_KEY", "aws_secret")
        .env("DB_PASSWORD", "hunter2")
        .env("DEPLOY_API_KEY", "k")
        .env("CUDA_VISIBLE_DEVICES", "0,1")
        .env("TEAM_NAME", "risk");
    assert!(cmd.output().unwrap().status.success());
    let id = runs(&repo)[0]["run_id"].as_str().unwrap().to_string();
    let vars = show(&repo, &id)["run"]["environment"]["vars"].clone();
    assert_eq!(vars["CUDA_VISIBLE_DEVICES"], "0,1");
    assert_eq!(vars["TEAM_NAME"], "risk");
    for secret in [
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "DB_PASSWORD",
        "DEPLOY_API_KEY",
    ] {
        assert!(vars.get(secret).is_none(), "{secret} was captured");
    }
    // Not anywhere in the stored record either.
    let raw = repo
        .git(&["log", "-p", &format!("refs/mlops/runs/{id}")])
        .ok()
        .stdout;
    let blob = repo
        .git(&["cat-file", "-p", &format!("refs/mlops/runs/{id}^{{tree}}")])
        .ok()
        .stdout;
    let _ = blob;
    let all = repo.git(&[
        "grep",
        "-I",
        "-e",
        "ghp_secret",
        "-e",
        "hunter2",
        "-e",
        "aws_secret",
        &format!("refs/mlops/runs/{id}"),
    ]);
    assert_eq!(
        all.code, 1,
        "a secret value is in the record: {}",
        all.stdout
    );
    assert!(!raw.contains("ghp_secret"));
}

#[test]
fn code_state_is_recorded_with_the_diff_hash_of_uncommitted_changes() {
    let repo = Repo::new();
    repo.write("train.sh", "echo v1\n");
    repo.git(&["add", "."]).ok();
    repo.git(&["commit", "-qm", "first"]).ok();
    let head = repo
        .git(&["rev-parse", "HEAD"])
        .ok()
        .stdout
        .trim()
        .to_string();
    track(&repo, &[], &sh("true")).ok();
    repo.write("train.sh", "echo v2\n");
    track(&repo, &[], &sh("true")).ok();
    let list = runs(&repo);
    let clean = show(&repo, list[1]["run_id"].as_str().unwrap());
    let dirty = show(&repo, list[0]["run_id"].as_str().unwrap());
    assert_eq!(clean["run"]["code"]["commit"], head);
    assert_eq!(clean["run"]["code"]["branch"], "main");
    assert_eq!(clean["run"]["code"]["dirty"], false);
    assert!(clean["run"]["code"]["diff_sha256"].is_null());
    assert_eq!(dirty["run"]["code"]["dirty"], true);
    // The recorded hash is of the diff in git's plain form, so anyone can
    // recompute it from the same trees.
    let diff = repo
        .git(&[
            "diff",
            "HEAD",
            "--binary",
            "--full-index",
            "--no-ext-diff",
            "--no-textconv",
            "--no-color",
        ])
        .ok()
        .stdout;
    let expected = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(diff.as_bytes()))
    };
    assert_eq!(dirty["run"]["code"]["diff_sha256"], expected);

    // A user's git configuration changes what `git diff` prints (colours,
    // prefixes, an external diff program, a textconv filter, more context),
    // but not the hash mlops records for the same trees.
    let attributes = repo.home.join("attributes");
    std::fs::write(&attributes, "*.sh diff=shout\n").unwrap();
    let external = repo.home.join("extdiff.sh");
    std::fs::write(&external, "#!/bin/sh\necho external diff says hi\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&external, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for (key, value) in [
        ("color.diff", "always"),
        ("color.ui", "always"),
        ("diff.noprefix", "true"),
        ("diff.mnemonicPrefix", "true"),
        ("diff.context", "10"),
        ("diff.external", external.to_str().unwrap()),
        ("core.attributesFile", attributes.to_str().unwrap()),
        ("diff.shout.textconv", "tr a-z A-Z <"),
    ] {
        repo.git(&["config", key, value]).ok();
    }
    let hostile = repo.git(&["diff", "HEAD"]).ok().stdout;
    assert!(hostile.contains("external diff says hi"), "{hostile}");
    track(&repo, &[], &sh("true")).ok();
    let again = show(&repo, runs(&repo)[0]["run_id"].as_str().unwrap());
    assert_eq!(again["run"]["code"]["diff_sha256"], expected);
}

#[test]
fn params_files_in_yaml_json_and_toml_are_flattened_and_the_command_line_wins() {
    let repo = Repo::new();
    repo.write("p.yaml", "lr: 0.1\nmodel:\n  depth: 3\n  kind: gbm\n");
    repo.write("p.json", r#"{"lr": 0.2, "layers": [64, 32]}"#);
    repo.write("p.toml", "lr = 0.3\n[model]\ndepth = 5\n");
    for (file, lr) in [("p.yaml", 0.1), ("p.json", 0.2), ("p.toml", 0.3)] {
        track(&repo, &["--params-file", file], &sh("true")).ok();
        let r = &runs(&repo)[0];
        assert_eq!(r["params"]["lr"], lr, "{file}");
    }
    let r = &runs(&repo);
    assert_eq!(r[2]["params"]["model.kind"], "gbm");
    assert_eq!(r[1]["params"]["layers"], "[64,32]");
    assert_eq!(r[0]["params"]["model.depth"], 5);
    track(
        &repo,
        &["--params-file", "p.yaml", "--param", "lr=0.9"],
        &sh("true"),
    )
    .ok();
    assert_eq!(runs(&repo)[0]["params"]["lr"], 0.9);
    repo.write("bad.yaml", "lr: [unclosed\n");
    let out = track(&repo, &["--params-file", "bad.yaml"], &sh("touch ran")).code(2);
    assert!(out.stderr.contains("bad.yaml"), "{}", out.stderr);
    assert!(
        !repo.path.join("ran").exists(),
        "the command must not run on bad input"
    );
    let out = track(&repo, &["--param", "novalue"], &sh("touch ran")).code(2);
    assert!(
        out.stderr.contains("`--param novalue` is not `key=value`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_identity_is_caught_before_the_command_runs() {
    let dir = Repo::bare_dir();
    dir.git(&["init", "-q"]).ok();
    let out = dir.mlops(&["track", "--", "sh", "-c", "touch ran"]).code(2);
    assert!(out.stderr.contains("identity"), "{}", out.stderr);
    assert!(!dir.path.join("ran").exists());
}

#[test]
fn track_log_appends_from_a_shell_script_and_refuses_outside_a_run() {
    let repo = Repo::new();
    let exe = assert_cmd::cargo::cargo_bin("mlops");
    let script = format!(
        "{m} track log --metric acc=0.5 --step 1 && {m} track log --metric acc=0.75 --step 2 --param seed=7",
        m = exe.display()
    );
    track(&repo, &[], &sh(&script)).ok();
    let r = show(&repo, runs(&repo)[0]["run_id"].as_str().unwrap());
    assert_eq!(r["history"]["acc"]["value"], serde_json::json!([0.5, 0.75]));
    assert_eq!(r["run"]["params"]["seed"], 7);
    let out = repo.mlops(&["track", "log", "--metric", "acc=1"]).code(2);
    assert!(
        out.stderr.contains("only inside a tracked run"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_metric_lines_become_warnings_not_lost_runs() {
    let repo = Repo::new();
    let out = track(&repo, &[], &sh(r#"echo '{"loss": NaN}' >> "$MLOPS_METRICS"; echo 'garbage' >> "$MLOPS_METRICS"; echo '{"loss": 0.5}' >> "$MLOPS_METRICS""#)).ok();
    assert!(
        out.stderr.contains("warning: metrics line 1: NaN"),
        "{}",
        out.stderr
    );
    let r = show(&repo, runs(&repo)[0]["run_id"].as_str().unwrap());
    assert_eq!(r["run"]["metrics"]["loss"]["value"], 0.5);
    assert_eq!(r["run"]["warnings"].as_array().unwrap().len(), 2);
}

#[test]
fn artifacts_are_hashed_after_the_run() {
    let repo = Repo::new();
    track(
        &repo,
        &["--artifact", "out/model.bin", "--artifact", "missing.bin"],
        &sh("mkdir -p out && printf 'weights' > out/model.bin"),
    )
    .ok();
    let r = show(&repo, runs(&repo)[0]["run_id"].as_str().unwrap());
    let arts = r["run"]["artifacts"].as_array().unwrap();
    assert_eq!(arts.len(), 1);
    assert_eq!(arts[0]["path"], "out/model.bin");
    assert_eq!(arts[0]["size"], 7);
    let expected = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"weights"))
    };
    assert_eq!(arts[0]["sha256"], expected);
    assert!(r["run"]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("missing.bin"));
}

#[test]
fn input_data_is_pinned_by_dataset_version_or_by_hash() {
    let repo = Repo::new();
    repo.write("data/train.csv", "x,y\n1,2\n3,4\n");
    repo.write("data/extra.csv", "x\n5\n");
    let added = repo
        .mlops(&["data", "add", "data/train.csv", "--name", "train", "--json"])
        .ok()
        .json();
    track(
        &repo,
        &["--data", "train=train", "--data", "val=data/extra.csv"],
        &sh("true"),
    )
    .ok();
    let r = show(&repo, runs(&repo)[0]["run_id"].as_str().unwrap());
    let inputs = r["run"]["inputs"].as_array().unwrap();
    assert_eq!(inputs[0]["role"], "train");
    assert_eq!(inputs[0]["dataset"], "train");
    assert_eq!(inputs[0]["version"], added["id"]);
    assert_eq!(inputs[1]["role"], "val");
    assert!(inputs[1]["dataset"].is_null());
    assert_eq!(inputs[1]["path"], "data/extra.csv");
    assert_eq!(inputs[1]["files"], 1);
    // Changed data is recorded as a new version before the run points at it.
    repo.write("data/train.csv", "x,y\n1,2\n3,5\n");
    track(&repo, &["--data", "data/train.csv"], &sh("true")).ok();
    let r = show(&repo, runs(&repo)[0]["run_id"].as_str().unwrap());
    let v = r["run"]["inputs"][0]["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(v, added["id"].as_str().unwrap());
    let versions = repo.mlops(&["data", "show", "train", "--json"]).ok().json();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[1]["id"], v);
    let out = track(&repo, &["--data", "nonexistent"], &sh("touch ran")).code(2);
    assert!(
        out.stderr
            .contains("neither a tracked dataset nor an existing path"),
        "{}",
        out.stderr
    );
    assert!(!repo.path.join("ran").exists());
}

fn three_runs(repo: &Repo) -> Vec<String> {
    for (lr, acc, name) in [
        ("0.1", "0.81", "a"),
        ("0.01", "0.93", "b"),
        ("0.001", "0.88", "c"),
    ] {
        track(
            repo,
            &[
                "--name",
                name,
                "--param",
                &format!("lr={lr}"),
                "--experiment",
                if name == "c" { "other" } else { "main" },
            ],
            &sh(&format!(
                r#"echo '{{"acc": {acc}, "loss": 0.{}}}' >> "$MLOPS_METRICS""#,
                9 - name.len()
            )),
        )
        .ok();
    }
    runs(repo)
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn runs_list_filters_sorts_limits_and_picks_columns() {
    let repo = Repo::new();
    three_runs(&repo);
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["runs", "list", "--json"];
        a.extend_from_slice(args);
        repo.mlops(&a)
            .ok()
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&[]), ["c", "b", "a"], "newest first");
    assert_eq!(names(&["--filter", "metrics.acc > 0.85"]), ["c", "b"]);
    assert_eq!(
        names(&["--filter", "metrics.acc > 0.85 and params.lr = 0.01"]),
        ["b"]
    );
    assert_eq!(
        names(&[
            "--filter",
            "(params.lr = 0.1 or params.lr = 0.001) and metrics.acc < 0.9"
        ]),
        ["c", "a"]
    );
    assert_eq!(
        names(&["--filter", "not attributes.status = 'finished'"]),
        Vec::<String>::new()
    );
    assert_eq!(names(&["--filter", "run_name like 'b%'"]), ["b"]);
    assert_eq!(names(&["--sort", "-metrics.acc"]), ["b", "c", "a"]);
    assert_eq!(names(&["--sort", "params.lr"]), ["c", "b", "a"]);
    assert_eq!(names(&["--sort", "-metrics.acc", "--limit", "1"]), ["b"]);
    assert_eq!(names(&["--experiment", "main"]), ["b", "a"]);
    let csv = repo
        .mlops(&[
            "runs",
            "list",
            "--csv",
            "--columns",
            "run_name,metrics.acc,params.lr",
            "--sort",
            "run_name",
        ])
        .ok()
        .stdout;
    assert_eq!(
        csv,
        "run_name,metrics.acc,params.lr\na,0.81,0.1\nb,0.93,0.01\nc,0.88,0.001\n"
    );
    let table = repo.mlops(&["runs", "list"]).ok().stdout;
    assert!(
        table.contains("metrics.acc") && table.contains("0.93"),
        "{table}"
    );
}

#[test]
fn filter_syntax_errors_are_one_line_with_a_caret_and_exit_2() {
    let repo = Repo::new();
    three_runs(&repo);
    for (filter, expect) in [
        ("metrics.acc >", "expected a value"),
        ("metrik.acc > 1", "metrik"),
        ("metrics.acc > 0.9 and", "column"),
        ("params.lr = 'unterminated", "column"),
        ("(metrics.acc > 1", "column"),
    ] {
        let out = repo.mlops(&["runs", "list", "--filter", filter]).code(2);
        let first = out.stderr.lines().next().unwrap();
        assert!(
            first.starts_with("error: `--filter`: invalid filter at column"),
            "{filter}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(expect), "{filter}: {}", out.stderr);
        assert!(
            out.stderr.contains('^'),
            "{filter}: a caret points at the column: {}",
            out.stderr
        );
    }
    let out = repo.mlops(&["runs", "list", "--sort", "metrics."]).code(2);
    assert!(out.stderr.contains("--sort"), "{}", out.stderr);
}

#[test]
fn run_ids_resolve_by_unique_prefix_or_suffix() {
    let repo = Repo::new();
    let ids = three_runs(&repo);
    let full = &ids[0];
    assert_eq!(show(&repo, full)["run"]["run_id"], full.as_str());
    assert_eq!(
        show(&repo, &full[full.len() - 6..])["run"]["run_id"],
        full.as_str()
    );
    let out = repo.mlops(&["runs", "show", "2"]).code(2);
    assert!(out.stderr.contains("matches 3 runs"), "{}", out.stderr);
    let out = repo.mlops(&["runs", "show", "zzzzzz"]).code(2);
    assert!(
        out.stderr.contains("no run matches `zzzzzz`"),
        "{}",
        out.stderr
    );
}

#[test]
fn compare_shows_deltas_and_missing_metrics() {
    let repo = Repo::new();
    let ids = three_runs(&repo);
    track(
        &repo,
        &["--name", "d", "--param", "lr=0.1"],
        &sh(r#"echo '{"f1": 0.5}' >> "$MLOPS_METRICS""#),
    )
    .ok();
    let d = runs(&repo)[0]["run_id"].as_str().unwrap().to_string();
    let a = &ids[2];
    let b = &ids[1];
    let c = repo
        .mlops(&["runs", "compare", a, b, &d, "--json"])
        .ok()
        .json();
    let acc = c["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "acc")
        .unwrap();
    assert_eq!(acc["values"], serde_json::json!([0.81, 0.93, null]));
    let delta = acc["delta"][1].as_f64().unwrap();
    assert!((delta - 0.12).abs() < 1e-9, "{delta}");
    assert!((acc["delta_pct"][1].as_f64().unwrap() - 14.814814814).abs() < 1e-6);
    assert!(acc["delta"][2].is_null());
    let f1 = c["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "f1")
        .unwrap();
    assert_eq!(f1["values"], serde_json::json!([null, null, 0.5]));
    let md = repo.mlops(&["runs", "compare", a, b, "--md"]).ok().stdout;
    assert!(
        md.starts_with("| | a (base) | b |\n|---|---|---|\n"),
        "{md}"
    );
    assert!(
        md.contains("| metrics.acc | 0.81 | 0.93 (+0.12, +14.8%) |"),
        "{md}"
    );
    let table = repo.mlops(&["runs", "compare", a, &d]).ok().stdout;
    assert!(
        table.contains('—'),
        "missing values are shown as —: {table}"
    );
    repo.mlops(&["runs", "compare", a]).code(2);
}

#[test]
fn a_finished_run_is_amended_by_a_new_event_never_rewritten() {
    let repo = Repo::new();
    let ids = three_runs(&repo);
    let id = &ids[0];
    let before = repo
        .git(&["rev-parse", &format!("refs/mlops/runs/{id}")])
        .ok()
        .stdout;
    let original = show(&repo, id)["id"].clone();
    repo.mlops(&[
        "runs",
        "amend",
        id,
        "--metric",
        "acc=0.99",
        "--tag",
        "reviewed=yes",
        "--note",
        "holdout set",
    ])
    .ok();
    let view = show(&repo, id);
    assert_eq!(view["id"], original, "the run record itself is unchanged");
    assert_eq!(view["run"]["metrics"]["acc"]["value"], 0.88);
    assert_eq!(view["amendments"][0]["metrics"]["acc"], 0.99);
    assert_eq!(view["amendments"][0]["note"], "holdout set");
    let row = runs(&repo)
        .into_iter()
        .find(|r| r["run_id"] == id.as_str())
        .unwrap();
    assert_eq!(row["metrics"]["acc"], 0.99);
    assert_eq!(row["amended"], serde_json::json!(["acc"]));
    assert_eq!(row["tags"]["reviewed"], "yes");
    let log = repo
        .git(&["log", "--format=%s", &format!("refs/mlops/runs/{id}")])
        .ok()
        .stdout;
    assert!(log.starts_with("amend run"), "{log}");
    assert_ne!(
        repo.git(&["rev-parse", &format!("refs/mlops/runs/{id}")])
            .ok()
            .stdout,
        before
    );
    let text = repo.mlops(&["runs", "show", id]).ok().stdout;
    assert!(
        text.contains("amended") && text.contains("metric acc = 0.99"),
        "{text}"
    );
    repo.mlops(&["runs", "amend", id]).code(2);
}

#[test]
fn the_runs_index_is_derived_and_rebuilt_when_deleted_or_stale() {
    let repo = Repo::new();
    three_runs(&repo);
    let first = runs(&repo);
    let index = repo.path.join(".git/mlops/runs-index.v2.json");
    assert!(index.exists());
    std::fs::write(&index, b"{ corrupt").unwrap();
    assert_eq!(runs(&repo), first);
    std::fs::remove_file(&index).unwrap();
    assert_eq!(runs(&repo), first);
}

#[test]
fn the_python_example_helper_reports_metrics() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("python3 is not installed; skipping");
        return;
    }
    let repo = Repo::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("examples/python/train.py");
    let out = track(
        &repo,
        &["--artifact", "model.json"],
        &[
            "python3".into(),
            script.display().to_string(),
            "--epochs".into(),
            "5".into(),
        ],
    )
    .ok();
    assert!(out.stdout.contains("trained:"), "{}", out.stdout);
    let r = show(&repo, runs(&repo)[0]["run_id"].as_str().unwrap());
    assert_eq!(
        r["history"]["mse"]["step"],
        serde_json::json!([0, 1, 2, 3, 4])
    );
    assert_eq!(r["run"]["params"]["model.kind"], "linear");
    assert_eq!(r["run"]["tags"]["framework"], "pure-python");
    assert!(r["run"]["environment"]["python"]
        .as_str()
        .unwrap()
        .starts_with("Python 3"));
    assert_eq!(r["run"]["artifacts"][0]["path"], "model.json");
}

#[test]
fn active_runs_show_live_metrics_and_an_interrupted_run_is_not_lost() {
    let repo = Repo::new();
    let marker = repo.path.join("started");
    // The command writes its pid (`exec` keeps it for `sleep`), so the test
    // can stop exactly the two processes it started: no group-wide signal
    // that could reach another test's processes.
    let mut cmd = repo.mlops_cmd(&[
        "track",
        "--name",
        "long",
        "--",
        "sh",
        "-c",
        &format!(
            "echo '{{\"step\": 7, \"loss\": 0.25}}' >> \"$MLOPS_METRICS\"; echo $$ > {}.tmp; mv {0}.tmp {0}; exec sleep 30",
            marker.display()
        ),
    ]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !marker.exists() {
        assert!(
            Instant::now() < deadline,
            "the tracked command never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sleeper: i32 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let active = |repo: &Repo| repo.mlops(&["runs", "active", "--json"]).ok().json();
    let live = active(&repo);
    let run = &live["runs"][0];
    assert_eq!(run["status"], "running");
    assert_eq!(run["name"], "long");
    assert_eq!(run["metrics"]["loss"]["last"], 0.25);
    assert_eq!(run["metrics"]["loss"]["step"], 7);
    assert!(runs(&repo).is_empty(), "nothing is recorded before the end");
    let listed = repo.mlops(&["runs", "list"]).ok();
    assert!(
        listed
            .stderr
            .contains("1 run(s) not recorded yet (1 running)"),
        "{}",
        listed.stderr
    );

    // mlops itself is killed outright: no record, but not silently lost.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();
    // Orphaned but alive (its pid cannot have been reused): stop it too.
    unsafe {
        libc::kill(sleeper, libc::SIGKILL);
    }
    let after = active(&repo);
    assert_eq!(after["runs"][0]["status"], "interrupted");
    assert_eq!(after["runs"][0]["metrics"]["loss"]["last"], 0.25);
    let table = repo.mlops(&["runs", "active"]).ok().stdout;
    assert!(
        table.contains("interrupted") && table.contains("loss=0.25"),
        "{table}"
    );

    let pruned = repo
        .mlops(&["runs", "active", "--prune", "--json"])
        .ok()
        .json();
    assert_eq!(pruned["pruned"][0], run["run_id"]);
    assert_eq!(
        repo.mlops(&["runs", "active"]).ok().stdout.trim(),
        "no active runs"
    );
}

#[test]
fn tags_keep_their_text_and_a_command_that_cannot_start_leaves_no_active_run() {
    let repo = Repo::new();
    track(
        &repo,
        &["--tag", "build=007", "--tag", "ver=1.10"],
        &sh("true"),
    )
    .ok();
    let tags = &runs(&repo)[0]["tags"];
    assert_eq!(
        (tags["build"].as_str(), tags["ver"].as_str()),
        (Some("007"), Some("1.10"))
    );
    let out = track(&repo, &[], &["no-such-command-xyz".to_string()]);
    assert_ne!(out.code, 0);
    assert_eq!(
        repo.mlops(&["runs", "active"]).ok().stdout.trim(),
        "no active runs"
    );
}
