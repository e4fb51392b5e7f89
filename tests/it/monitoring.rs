//! Production monitoring as the field runs it (docs/monitoring.md): labels
//! that arrive a month after the predictions, the automatic rollback they
//! trigger, one batch per monitor run, and `drift --all` as one unit.

use std::fmt::Write as _;

use crate::support::{capture, Out, Repo};

fn csv(repo: &Repo, rel: &str, header: &str, rows: impl IntoIterator<Item = String>) {
    let mut text = format!("{header}\n");
    for r in rows {
        writeln!(text, "{r}").unwrap();
    }
    repo.write(rel, &text);
}

/// `mlops` at a given instant (the record clock, `MLOPS_NOW`).
fn at(repo: &Repo, now: &str, args: &[&str]) -> Out {
    let mut cmd = repo.mlops_cmd(args);
    cmd.env("MLOPS_NOW", now);
    capture(cmd)
}

/// A model version whose run recorded `auc`.
fn version(repo: &Repo, model: &str, auc: f64) {
    repo.mlops(&[
        "track",
        "--",
        "sh",
        "-c",
        &format!(r#"echo '{{"auc": {auc}}}' >> "$MLOPS_METRICS""#),
    ])
    .ok();
    let run = repo.mlops(&["runs", "list", "--json"]).ok().json()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    repo.mlops(&["model", "register", model, "--run", &run])
        .ok();
}

fn production(repo: &Repo) -> String {
    repo.mlops(&["resolve", "churn@production", "--json"])
        .ok()
        .json()["version"]
        .as_str()
        .unwrap()
        .to_string()
}

const QUALITY: &str = r#"
[models.churn]
stages = ["production"]

[monitors.quality]
model = "churn"
predictions = "served/*.csv"
labels = "labels/*.csv"
key = "id"
prediction = "score"
label = "churned"
metric = "auc"
max_degradation = 0.05
on_breach = "rollback"
"#;

#[test]
fn labels_a_month_late_degrade_the_monitor_which_rolls_production_back_once() {
    let repo = Repo::new();
    repo.commit_file("mlops.toml", QUALITY);
    version(&repo, "churn", 0.86);
    version(&repo, "churn", 0.91);
    repo.mlops(&["promote", "churn@0.1.0", "--to", "production"])
        .ok();
    repo.mlops(&["promote", "churn@0.2.0", "--to", "production"])
        .ok();
    assert_eq!(production(&repo), "0.2.0");

    // October: 400 predictions served; no label yet.
    let ids: Vec<String> = (0..400).map(|i| format!("cust-{i:05}")).collect();
    csv(
        &repo,
        "served/2026-10.csv",
        "id,score",
        ids.iter()
            .enumerate()
            .map(|(i, id)| format!("{id},{:.3}", ((i * 37) % 100) as f64 / 100.0)),
    );
    let out = at(
        &repo,
        "2026-10-31T23:00:00Z",
        &["drift", "quality", "--json"],
    )
    .ok();
    let o = out.json();
    assert_eq!(o["late_labels"]["batches"][0]["status"], "joined");
    assert!(
        o["report"]["performance"]["note"]
            .as_str()
            .unwrap()
            .contains("no labels yet"),
        "{o}"
    );
    assert_eq!(production(&repo), "0.2.0");

    // A month later the truth arrives, and the scores knew little of it.
    csv(
        &repo,
        "labels/2026-11.csv",
        "id,churned",
        ids.iter()
            .enumerate()
            .filter(|(i, _)| i % 4 != 0)
            .map(|(i, id)| format!("{id},{}", u8::from((i * 53) % 7 < 3))),
    );
    let out = at(&repo, "2026-11-30T23:00:00Z", &["drift", "quality"]).code(1);
    assert!(
        out.stdout.contains("Model quality DEGRADED"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("300 labelled row(s)"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("rolled back production: 0.2.0 -> 0.1.0"),
        "{}",
        out.stderr
    );
    assert_eq!(production(&repo), "0.1.0");
    let events = repo.mlops(&["log", "model/churn", "--json"]).ok().json();
    assert_eq!(events[0]["kind"], "rollback");
    let history = repo
        .mlops(&["drift", "history", "quality", "--json"])
        .ok()
        .json();
    let latest = history.as_array().unwrap().last().unwrap();
    assert_eq!(latest["degraded"], true);
    assert_eq!(latest["rows"], 300);
    let report_id = latest["id"].as_str().unwrap().to_string();
    // The report names the batch by path and SHA-256 (`sha256sum` agrees),
    // first seen in October; the rollback names the report.
    let o = repo
        .mlops(&["drift", "quality", "--json", "--no-record"])
        .ok()
        .json();
    let batch = &o["late_labels"]["batches"][0];
    assert_eq!(batch["path"], "served/2026-10.csv");
    assert!(
        batch["first_seen"]
            .as_str()
            .unwrap()
            .starts_with("2026-10-31"),
        "{batch}"
    );
    // Served by 0.2.0 (its record), so it no longer judges 0.1.0.
    assert_eq!(batch["status"], "other-version", "{batch}");
    assert!(batch["served_by"].as_str().unwrap().starts_with("sha256:"));
    let sum = std::process::Command::new("sha256sum")
        .arg(repo.path.join("served/2026-10.csv"))
        .output()
        .unwrap();
    let sum = String::from_utf8(sum.stdout).unwrap();
    assert!(
        batch["sha256"]
            .as_str()
            .unwrap()
            .ends_with(sum.split(' ').next().unwrap()),
        "{batch} vs {sum}"
    );
    assert!(
        objects(&repo).contains(&format!(
            "monitor `quality` found the model's quality degraded (report {report_id})"
        )),
        "the rollback names the report"
    );

    // The audit report sees the degradation and the plan behind it.
    repo.mlops(&["report", "churn@production", "--out", "rep"])
        .ok();
    let report = repo.read("rep/report.md");
    assert!(report.contains("1 with the model degraded"), "{report}");
    assert!(report.contains("| **DEGRADED** |"), "{report}");
    assert!(
        report.contains("late labels — prediction batches"),
        "{report}"
    );
    assert!(
        report.contains("automatic rollback of \\`production\\`, once"),
        "{report}"
    );

    // October's batch was served by 0.2.0: it does not judge 0.1.0, which
    // has served nothing yet.
    let out = at(&repo, "2026-12-01T23:00:00Z", &["drift", "quality"]).ok();
    assert!(
        out.stdout.contains("no prediction batch served by 0.1.0"),
        "{}",
        out.stdout
    );
    // December: 0.1.0's own batch, and labels as bad for it — degraded
    // (0.86 recorded), but production is not rolled back a second time.
    csv(
        &repo,
        "served/2026-12.csv",
        "id,score",
        (0..200).map(|i| format!("dec-{i:05},{:.3}", ((i * 37) % 100) as f64 / 100.0)),
    );
    at(&repo, "2026-12-02T23:00:00Z", &["drift", "quality"]).ok();
    csv(
        &repo,
        "labels/2026-12.csv",
        "id,churned",
        (0..200).map(|i| format!("dec-{i:05},{}", u8::from((i * 53) % 7 < 3))),
    );
    let out = at(&repo, "2026-12-31T23:00:00Z", &["drift", "quality"]).code(1);
    assert!(out.stdout.contains("200 labelled row(s)"), "{}", out.stdout);
    assert!(
        out.stderr.contains("by an automatic rollback already"),
        "{}",
        out.stderr
    );
    assert_eq!(production(&repo), "0.1.0");
    let rollbacks = repo.mlops(&["log", "model/churn", "--json"]).ok().json();
    assert_eq!(
        rollbacks
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "rollback")
            .count(),
        1
    );

    // A batch rewritten after it was served is named and fails the run; a
    // batch that is gone is named.
    let served = repo.read("served/2026-10.csv");
    repo.write(
        "served/2026-10.csv",
        &served.replace("cust-00001,", "cust-00001,0.99"),
    );
    let out = at(&repo, "2027-01-02T23:00:00Z", &["drift", "quality"]).code(1);
    assert!(
        out.stderr
            .contains("`served/2026-10.csv` changed since it was first seen"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(repo.path.join("served/2026-10.csv")).unwrap();
    let out = at(&repo, "2027-01-03T23:00:00Z", &["drift", "quality"]).code(1);
    assert!(
        out.stderr
            .contains("`served/2026-10.csv` (first seen on 2026-10-31"),
        "{}",
        out.stderr
    );

    // No key reached any git object.
    let dump = objects(&repo);
    assert!(
        !dump.contains("cust-") && !dump.contains("dec-0"),
        "a customer key in a record"
    );
    assert!(dump.contains("served/2026-10.csv"));
}

/// Every object of the repository, as text.
fn objects(repo: &Repo) -> String {
    let all = repo
        .git(&["cat-file", "--batch-all-objects", "--batch-check"])
        .ok()
        .stdout;
    let mut dump = String::new();
    for line in all.lines() {
        let id = line.split(' ').next().unwrap();
        dump.push_str(&repo.git(&["cat-file", "-p", id]).stdout);
    }
    dump
}
#[test]
fn a_late_label_monitor_with_missing_settings_or_columns_is_exit_2() {
    let repo = Repo::new();
    repo.commit_file(
        "mlops.toml",
        "[monitors.q]\npredictions = \"served/*.csv\"\nlabels = \"labels/*.csv\"\n",
    );
    let out = repo.mlops(&["drift", "q"]).code(2);
    assert!(
        out.stderr.contains("[monitors.q]") && out.stderr.contains("key, prediction, label"),
        "{}",
        out.stderr
    );
    repo.commit_file(
        "mlops.toml",
        "[monitors.q]\npredictions = \"served/*.csv\"\nlabels = \"labels/*.csv\"\nkey = \"id\"\nprediction = \"score\"\nlabel = \"y\"\n",
    );
    csv(
        &repo,
        "served/a.csv",
        "customer,score",
        ["c1,0.5".to_string()],
    );
    csv(&repo, "labels/a.csv", "id,y", ["c1,1".to_string()]);
    let out = repo.mlops(&["drift", "q"]).code(2);
    assert!(
        out.stderr.contains("`served/a.csv` has no column `id`"),
        "{}",
        out.stderr
    );
    assert!(repo
        .git(&["rev-parse", "-q", "--verify", "refs/mlops/monitors/q"])
        .stdout
        .is_empty());
    // A misspelt metric and a flag that does not apply are exit 2 too.
    repo.commit_file(
        "mlops.toml",
        "[monitors.q]\npredictions = \"served/*.csv\"\nlabels = \"labels/*.csv\"\nkey = \"id\"\nprediction = \"score\"\nlabel = \"y\"\nmetric = \"acuracy\"\n",
    );
    let out = repo.mlops(&["drift", "q"]).code(2);
    assert!(
        out.stderr.contains("metric `acuracy` is not one of"),
        "{}",
        out.stderr
    );
    let out = repo
        .mlops(&["drift", "q", "--current", "served/a.csv"])
        .code(2);
    assert!(
        out.stderr.contains("`--current` does not apply"),
        "{}",
        out.stderr
    );
}

const INPUTS: &str = r#"
[monitors.inputs]
reference = "ref.csv"
current = ["incoming/*.csv"]
"#;

fn month(repo: &Repo, name: &str, shift: f64) {
    csv(
        repo,
        name,
        "income,segment",
        (0..300).map(|i| {
            format!(
                "{},{}",
                1000.0 + (i % 50) as f64 * 10.0 + shift,
                ["a", "b"][i % 2]
            )
        }),
    );
}

#[test]
fn a_monitor_reads_one_new_batch_per_run_and_a_fresh_clone_agrees() {
    let repo = Repo::new();
    month(&repo, "ref.csv", 0.0);
    month(&repo, "incoming/2026-09.csv", 0.0);
    month(&repo, "incoming/2026-10.csv", 400.0);
    repo.write("mlops.toml", INPUTS);
    repo.git(&["add", "-A"]).ok();
    repo.git(&["commit", "-qm", "data"]).ok();
    // The newest file by name, alone: October drifted; September does not
    // dilute it.
    let o = repo.mlops(&["drift", "inputs", "--json"]).code(1).json();
    assert_eq!(o["current"].as_array().unwrap().len(), 1);
    assert_eq!(o["current"][0]["path"], "incoming/2026-10.csv");
    // Nothing new: no second record, the finding stands (exit 1).
    let out = repo.mlops(&["drift", "inputs"]).code(1);
    assert!(out.stderr.contains("no new batch"), "{}", out.stderr);
    assert!(out.stderr.contains("still stands"), "{}", out.stderr);
    let n = |r: &Repo| {
        r.mlops(&["drift", "history", "inputs", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(n(&repo), 1);
    // A scheduled job asking for JSON gets JSON, in the file it names.
    repo.mlops(&["drift", "inputs", "--format", "json", "--out", "same.json"])
        .code(1);
    let same: serde_json::Value = serde_json::from_str(&repo.read("same.json")).unwrap();
    assert_eq!(same[0]["nothing_new"], true, "{same}");
    // A fresh clone (new file times) knows the batch by its content.
    let remote = repo.sibling("remote.git");
    repo.git(&["init", "-q", "--bare", remote.to_str().unwrap()])
        .ok();
    repo.git(&["remote", "add", "origin", remote.to_str().unwrap()])
        .ok();
    repo.git(&["push", "-q", "origin", "main", "refs/mlops/*:refs/mlops/*"])
        .ok();
    let clone = repo.sibling("clone");
    repo.git(&[
        "clone",
        "-q",
        "-b",
        "main",
        remote.to_str().unwrap(),
        clone.to_str().unwrap(),
    ])
    .ok();
    repo.git_in(
        &clone,
        &["fetch", "-q", "origin", "refs/mlops/*:refs/mlops/*"],
    )
    .ok();
    repo.git_in(&clone, &["config", "user.name", "CI"]).ok();
    repo.git_in(&clone, &["config", "user.email", "ci@example.com"])
        .ok();
    let out = repo.mlops_in(&clone, &["drift", "inputs"]).code(1);
    assert!(out.stderr.contains("no new batch"), "{}", out.stderr);
    // November arrives, back to normal: compared alone, no drift.
    month(&repo, "incoming/2026-11.csv", 0.0);
    let o = repo.mlops(&["drift", "inputs", "--json"]).ok().json();
    assert_eq!(o["current"][0]["path"], "incoming/2026-11.csv");
    assert_eq!(n(&repo), 2);
    // `batch = "all"` merges every file, as before.
    repo.write("mlops.toml", &format!("{INPUTS}batch = \"all\"\n"));
    let o = repo
        .mlops(&["drift", "inputs", "--json", "--no-record"])
        .json();
    assert_eq!(o["current"].as_array().unwrap().len(), 3);
    repo.write("mlops.toml", &format!("{INPUTS}batch = \"some\"\n"));
    let out = repo.mlops(&["drift", "inputs"]).code(2);
    assert!(
        out.stderr.contains("[monitors.inputs] batch"),
        "{}",
        out.stderr
    );
}

#[test]
fn drift_all_records_nothing_when_a_later_monitor_fails() {
    let repo = Repo::new();
    month(&repo, "ref.csv", 0.0);
    month(&repo, "incoming/2026-10.csv", 0.0);
    // `a-inputs` runs first and works; `b-broken` names a file that is not there.
    repo.write(
        "mlops.toml",
        "[monitors.a-inputs]\nreference = \"ref.csv\"\ncurrent = [\"incoming/*.csv\"]\n[monitors.b-broken]\nreference = \"ref.csv\"\ncurrent = [\"missing/*.csv\"]\n",
    );
    let out = repo.mlops(&["drift", "--all"]).code(2);
    assert!(out.stderr.contains("missing/*.csv"), "{}", out.stderr);
    let refs = repo
        .git(&["for-each-ref", "refs/mlops/monitors/"])
        .ok()
        .stdout;
    assert!(refs.is_empty(), "nothing recorded: {refs}");
    std::fs::create_dir_all(repo.path.join("missing")).unwrap();
    month(&repo, "missing/x.csv", 0.0);
    repo.mlops(&["drift", "--all"]).ok();
    let refs = repo
        .git(&["for-each-ref", "refs/mlops/monitors/"])
        .ok()
        .stdout;
    assert_eq!(refs.lines().count(), 2, "{refs}");
}

#[test]
fn a_ragged_csv_is_exit_2_naming_the_file_and_line_and_nothing_is_recorded() {
    let repo = Repo::new();
    month(&repo, "ref.csv", 0.0);
    let mut rows: Vec<String> = (0..300).map(|i| format!("{},a", 1000 + i)).collect();
    rows[150] = "1150".into(); // one field short: polars would fill a null
    csv(&repo, "incoming/short.csv", "income,segment", rows.clone());
    let out = repo
        .mlops(&[
            "drift",
            "--reference",
            "ref.csv",
            "--current",
            "incoming/short.csv",
        ])
        .code(2);
    assert!(
        out.stderr.contains("short.csv")
            && out
                .stderr
                .contains("line 152 has 1 field(s) where the header has 2"),
        "{}",
        out.stderr
    );
    rows[150] = "1150,a,extra".into();
    csv(&repo, "incoming/long.csv", "income,segment", rows);
    let out = repo
        .mlops(&[
            "drift",
            "--reference",
            "ref.csv",
            "--current",
            "incoming/long.csv",
        ])
        .code(2);
    assert!(
        out.stderr.contains("line 152 has 3 field(s)"),
        "{}",
        out.stderr
    );
    // A quoted separator or line break is one field.
    csv(
        &repo,
        "incoming/quoted.csv",
        "income,segment",
        (0..300).map(|i| format!("{},\"a, \nb\"", 1000 + i)),
    );
    repo.mlops(&[
        "drift",
        "--reference",
        "ref.csv",
        "--current",
        "incoming/quoted.csv",
        "--no-record",
    ])
    .code(1);
    assert!(repo
        .git(&["for-each-ref", "refs/mlops/monitors/"])
        .ok()
        .stdout
        .is_empty());
}

#[test]
fn a_column_gone_mostly_non_finite_has_drifted() {
    let repo = Repo::new();
    month(&repo, "ref.csv", 0.0);
    // Three rows in four NaN or ±inf; the finite quarter looks like the reference.
    csv(
        &repo,
        "today.csv",
        "income,segment",
        (0..300).map(|i| {
            let v = match i % 4 {
                0 => format!("{}", 1000.0 + (i % 50) as f64 * 10.0),
                1 => "NaN".into(),
                2 => "inf".into(),
                _ => "-inf".into(),
            };
            format!("{v},{}", ["a", "b"][i % 2])
        }),
    );
    let o = repo
        .mlops(&[
            "drift",
            "--reference",
            "ref.csv",
            "--current",
            "today.csv",
            "--json",
        ])
        .code(1)
        .json();
    let income = o["report"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "income")
        .unwrap()
        .clone();
    assert_eq!(income["drift"], true, "{income}");
    assert!((income["null_share"]["current"].as_f64().unwrap() - 0.75).abs() < 1e-9);
    // The threshold is the monitor's to set.
    repo.write(
        "mlops.toml",
        "[monitors.m]\nreference = \"ref.csv\"\ncurrent = [\"today.csv\"]\nnull_share_drift = 0.9\n",
    );
    let o = repo.mlops(&["drift", "m", "--json", "--no-record"]).json();
    assert_eq!(o["report"]["dataset_drift"], false, "{o}");
}

#[test]
fn nineteen_digit_keys_stay_distinct_in_the_join() {
    let repo = Repo::new();
    repo.commit_file(
        "mlops.toml",
        "[monitors.q]\npredictions = \"served/*.csv\"\nlabels = \"labels/*.csv\"\nkey = \"id\"\nprediction = \"score\"\nlabel = \"y\"\nmetric = \"auc\"\n",
    );
    // Transaction numbers above 2^53: as floats, neighbours would collide.
    let id = |i: u64| 9_007_199_254_740_993u64 + 2 * i;
    csv(
        &repo,
        "served/a.csv",
        "id,score",
        (0..200).map(|i| format!("{},{:.2}", id(i), (i % 100) as f64 / 100.0)),
    );
    csv(
        &repo,
        "labels/a.csv",
        "id,y",
        (0..200).map(|i| format!("{},{}", id(i), u8::from(i % 100 >= 50))),
    );
    let o = repo.mlops(&["drift", "q", "--json"]).ok().json();
    assert_eq!(o["late_labels"]["labelled_rows"], 200, "{o}");
    assert_eq!(o["late_labels"]["duplicate_label_keys"], 0, "{o}");
    assert_eq!(o["report"]["performance"]["current"], 1.0, "{o}");
}
