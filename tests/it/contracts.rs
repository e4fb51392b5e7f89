//! Data contracts (docs/monitoring.md): `data check`, `data add` and
//! `track --data` refusing data that breaks one, and the `data_quality` gate.

use crate::support::Repo;

const CONTRACT: &str = r#"
[datasets.applications.contract]
min_rows = 10
[datasets.applications.contract.columns.id]
unique = true
[datasets.applications.contract.columns.income]
type = "float"
min = 0
nullable = false
[datasets.applications.contract.columns.region]
allowed = ["north", "south"]
[datasets.applications.contract.columns.flag]
allowed = ["0", "1"]
[datasets.applications.contract.columns.age]
max_null_share = 0.2
severity = "warn"

[models.credit]
stages = ["production"]
[models.credit.gates.production]
data_quality = true
"#;

fn rows(bad: bool) -> String {
    let mut s = String::from("id,income,region,age,flag\n");
    for i in 0..40 {
        let income = if bad && i == 3 {
            "-5".to_string()
        } else if bad && i == 4 {
            String::new()
        } else {
            format!("{}", 1000 + i * 10)
        };
        let region = if bad && i == 5 {
            "mars"
        } else if i % 2 == 0 {
            "north"
        } else {
            "south"
        };
        let id = if bad && i == 6 { 1 } else { i };
        let age = if i % 3 == 0 {
            String::new()
        } else {
            (20 + i).to_string()
        };
        let flag = if bad && i == 7 { 2 } else { i % 2 };
        s.push_str(&format!("{id},{income},{region},{age},{flag}\n"));
    }
    s
}

#[test]
fn contracts_stop_bad_data_before_it_is_recorded_or_trained_on_and_gate_promotion() {
    let repo = Repo::new();
    repo.commit_file("mlops.toml", CONTRACT);
    repo.write("data/app.csv", &rows(false));
    // Good data: recorded, with its check; age's nulls are a warning.
    let out = repo
        .mlops(&["data", "add", "data/app.csv", "--name", "applications"])
        .ok();
    assert!(out.stderr.contains("max_null_share"), "{}", out.stderr);
    let out = repo.mlops(&["data", "check", "applications"]).ok();
    assert!(
        out.stdout.contains("0 error(s), 1 warning(s)"),
        "{}",
        out.stdout
    );

    // Bad data: each rule named with counts, no value shown, nothing recorded.
    repo.write("bad.csv", &rows(true));
    let out = repo
        .mlops(&[
            "data",
            "check",
            "bad.csv",
            "--contract",
            "applications",
            "--json",
        ])
        .code(1)
        .json();
    let rules: Vec<String> = out["check"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{}:{}",
                v["column"].as_str().unwrap_or(""),
                v["rule"].as_str().unwrap()
            )
        })
        .collect();
    for r in [
        "income:min",
        "income:nullable",
        "region:allowed",
        "id:unique",
    ] {
        assert!(rules.contains(&r.to_string()), "{rules:?}");
    }
    assert!(
        !out.to_string().contains("mars"),
        "a value never appears: {out}"
    );
    let before = repo
        .git(&["rev-parse", "refs/mlops/datasets/applications"])
        .ok()
        .stdout;
    repo.write("data/app.csv", &rows(true));
    let out = repo
        .mlops(&["data", "add", "data/app.csv", "--name", "applications"])
        .code(1);
    assert!(out.stderr.contains("breaks its contract"), "{}", out.stderr);
    assert!(out.stderr.contains("income"), "{}", out.stderr);
    assert_eq!(
        repo.git(&["rev-parse", "refs/mlops/datasets/applications"])
            .ok()
            .stdout,
        before,
        "nothing recorded"
    );
    // Training on it is refused before the command runs.
    let out = repo
        .mlops(&[
            "track",
            "--data",
            "train=applications",
            "--",
            "touch",
            "trained",
        ])
        .code(1);
    assert!(out.stderr.contains("breaks its contract"), "{}", out.stderr);
    assert!(!repo.path.join("trained").exists());

    // The gate: a version trained on checked data passes it...
    repo.write("data/app.csv", &rows(false));
    let run = repo
        .mlops(&[
            "track",
            "--json",
            "--data",
            "train=applications",
            "--",
            "true",
        ])
        .ok()
        .json()["run"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    repo.mlops(&[
        "model",
        "register",
        "credit",
        "--run",
        &run,
        "--version",
        "1.0.0",
    ])
    .ok();
    let eval = repo
        .mlops(&[
            "promote",
            "credit@1.0.0",
            "--to",
            "production",
            "--check",
            "--json",
        ])
        .ok()
        .json();
    let gate = eval["evaluation"]["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "data quality")
        .cloned()
        .unwrap();
    assert_eq!(gate["pass"], true, "{gate}");

    // ...one trained on data recorded before its contract existed does not.
    let repo2 = Repo::new();
    repo2.write("data/app.csv", &rows(true));
    repo2
        .mlops(&["data", "add", "data/app.csv", "--name", "applications"])
        .ok();
    repo2.write("data/app.csv", &rows(true));
    repo2.commit_file("mlops.toml", CONTRACT);
    let run = repo2
        .mlops(&[
            "track",
            "--json",
            "--data",
            "train=applications",
            "--",
            "true",
        ])
        .code(1);
    assert!(run.stderr.contains("breaks its contract"));
    let out = repo2.mlops(&["data", "check", "applications"]).code(1);
    assert!(
        out.stdout
            .contains("error: `data/app.csv` column `income` min"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_misspelt_contract_or_monitor_rule_is_a_config_error_not_a_weaker_rule() {
    let repo = Repo::new();
    for (toml, expected) in [
        (
            "[datasets.d.contract.columns.x]\nseverity = \"Error\"\n",
            "[datasets.d.contract.columns.x] severity: `Error` is not one of error, warn",
        ),
        (
            "[datasets.d.contract.columns.x]\ntype = \"integer\"\n",
            "type: `integer` is not one of int, float, string, bool",
        ),
        (
            "[datasets.d.contract.columns.x]\ntype = \"string\"\nmin = 0\n",
            "min and max apply to int and float columns only",
        ),
        (
            "[models.m]\nstages = [\"production\"]\n[monitors.q]\nmodel = \"m\"\nguards = \"prod\"\n",
            "[monitors.q] guards: `prod` is not a stage of model `m`",
        ),
    ] {
        repo.write("mlops.toml", toml);
        let out = repo.mlops(&["config"]).code(2);
        assert!(out.stderr.contains(expected), "{toml}: {}", out.stderr);
    }
    // Checking a folder or a non-data file is not a pass that checked nothing.
    repo.write("mlops.toml", "[datasets.d.contract]\nmin_rows = 1\n");
    repo.write("notes/readme.txt", "hello");
    for target in ["notes", "notes/readme.txt"] {
        let out = repo
            .mlops(&["data", "check", target, "--contract", "d"])
            .code(2);
        assert!(
            out.stderr
                .contains("is not a CSV, TSV, Parquet or NDJSON file"),
            "{}",
            out.stderr
        );
    }
}
