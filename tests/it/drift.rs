//! `mlops drift` and `drift history` through the real binary on real CSV,
//! Parquet and NDJSON files; scores cross-checked against Evidently's own
//! values (tests/fixtures/drift, made by make_fixtures.py).

use std::fmt::Write as _;

use mlops::drift::load::{frame, write_table, TestValues};
use serde_json::Value;

use crate::support::Repo;

fn csv(repo: &Repo, rel: &str, header: &str, rows: impl IntoIterator<Item = String>) {
    let mut text = format!("{header}\n");
    for r in rows {
        writeln!(text, "{r}").unwrap();
    }
    repo.write(rel, &text);
}

/// Deterministic pseudo-random numbers (an LCG), so the data is the same everywhere.
fn noise(seed: u64, n: usize) -> Vec<f64> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 11) as f64) / ((1u64 << 53) as f64)
        })
        .collect()
}

/// Runs `mlops drift --format json`; `code` is the expected exit code (`None`: 0 or 1).
fn drift_json(repo: &Repo, args: &[&str], code: impl Into<Option<i32>>) -> Value {
    let mut a = vec!["drift", "--format", "json"];
    a.extend_from_slice(args);
    let out = repo.mlops(&a);
    match code.into() {
        Some(c) => out.code(c).json(),
        None => {
            assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
            out.json()
        }
    }
}

fn column<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["report"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == name)
        .unwrap_or_else(|| panic!("no column {name} in {report}"))
}

#[test]
fn identical_data_does_not_drift_and_a_shift_does() {
    let repo = Repo::new();
    let u = noise(1, 3000);
    csv(
        &repo,
        "ref.csv",
        "x,y",
        u.iter().map(|v| format!("{v},{}", v * 2.0)),
    );
    csv(
        &repo,
        "same.csv",
        "x,y",
        u.iter().map(|v| format!("{v},{}", v * 2.0)),
    );
    csv(
        &repo,
        "shifted.csv",
        "x,y",
        u.iter().map(|v| format!("{},{}", v + 0.5, v * 2.0)),
    );
    let same = drift_json(
        &repo,
        &["--reference", "ref.csv", "--current", "same.csv"],
        0,
    );
    assert_eq!(same["report"]["dataset_drift"], false);
    assert_eq!(column(&same, "x")["score"], 0.0);
    let shifted = drift_json(
        &repo,
        &["--reference", "ref.csv", "--current", "shifted.csv"],
        1,
    );
    let x = column(&shifted, "x");
    assert_eq!(x["test"], "wasserstein", "more than 1,000 reference rows");
    assert_eq!(x["drift"], true);
    assert_eq!(column(&shifted, "y")["drift"], false);
    assert_eq!(shifted["report"]["drifted"], 1);
    assert_eq!(shifted["report"]["dataset_drift"], true, "1 of 2 ≥ 0.5");
    let table = repo
        .mlops(&[
            "drift",
            "--reference",
            "ref.csv",
            "--current",
            "shifted.csv",
            "--no-record",
        ])
        .code(1)
        .stdout;
    assert!(
        table.contains("wasserstein") && table.contains("DRIFT"),
        "{table}"
    );
}

#[test]
fn the_test_is_chosen_at_evidently_boundaries() {
    let repo = Repo::new();
    let check = |rows: usize, distinct: usize, expect: &str| {
        let vals = noise(rows as u64 + distinct as u64, rows);
        let value = |v: f64| ((v * distinct as f64).floor() + 0.5) / 7.0;
        csv(
            &repo,
            "r.csv",
            "x",
            vals.iter().map(|v| format!("{}", value(*v))),
        );
        csv(
            &repo,
            "c.csv",
            "x",
            vals.iter().rev().map(|v| format!("{}", value(*v))),
        );
        let out = drift_json(
            &repo,
            &["--reference", "r.csv", "--current", "c.csv", "--no-record"],
            0,
        );
        assert_eq!(
            column(&out, "x")["test"],
            expect,
            "{rows} rows, {distinct} values"
        );
    };
    check(1000, 50, "ks");
    check(1001, 50, "wasserstein");
    check(1000, 6, "ks");
    check(1000, 5, "chisquare");
    check(1000, 2, "z");
    check(1001, 5, "jensenshannon");
}

#[test]
fn nulls_are_counted_and_dropped_and_an_all_null_column_does_not_abort() {
    let repo = Repo::new();
    let u = noise(3, 500);
    csv(
        &repo,
        "r.csv",
        "x,empty,z",
        u.iter().enumerate().map(|(i, v)| {
            format!(
                "{},,{v}",
                // 5 % missing: under the share change that is drift itself
                if i % 20 == 0 {
                    String::new()
                } else {
                    v.to_string()
                }
            )
        }),
    );
    csv(
        &repo,
        "c.csv",
        "x,empty,z",
        u.iter().map(|v| format!("{v},,{v}")),
    );
    let out = drift_json(&repo, &["--reference", "r.csv", "--current", "c.csv"], 0);
    let x = column(&out, "x");
    assert!(
        (x["null_share"]["reference"].as_f64().unwrap() - 0.05).abs() < 1e-12,
        "{x}"
    );
    assert_eq!(x["null_share"]["current"], 0.0);
    assert_eq!(x["count"], serde_json::json!([475, 500]));
    let empty = column(&out, "empty");
    assert!(
        empty["not_tested"].as_str().unwrap().contains("missing"),
        "{empty}"
    );
    assert_eq!(
        column(&out, "z")["drift"],
        false,
        "the other columns still ran"
    );
}

#[test]
fn bad_inputs_are_exit_2_with_a_message_naming_them() {
    let repo = Repo::new();
    csv(&repo, "r.csv", "x,y", (0..50).map(|i| format!("{i},{i}")));
    repo.write("empty.csv", "x,y\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--reference", "r.csv", "--current", "empty.csv"],
            "no rows",
        ),
        (
            vec![
                "--reference",
                "r.csv",
                "--current",
                "r.csv",
                "--columns",
                "x,nope",
            ],
            "`nope`",
        ),
        (
            vec!["--reference", "missing.csv", "--current", "r.csv"],
            "missing.csv",
        ),
        (
            vec!["--reference", "r.csv", "--current", "none-*.csv"],
            "matches no file",
        ),
        (vec!["--reference", "r.csv"], "no current data"),
        (vec!["nomonitor"], "no monitor `nomonitor`"),
    ];
    for (args, expect) in cases {
        let mut a = vec!["drift"];
        a.extend_from_slice(&args);
        let out = repo.mlops(&a).code(2);
        assert!(
            out.stderr.starts_with("error: "),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(expect), "{args:?}: {}", out.stderr);
    }
    assert!(
        repo.git(&["for-each-ref", "refs/mlops/"])
            .ok()
            .stdout
            .is_empty(),
        "nothing recorded"
    );
}

#[test]
fn retyped_missing_new_columns_and_unseen_categories_are_findings() {
    let repo = Repo::new();
    csv(
        &repo,
        "r.csv",
        "amount,region,gone",
        (0..200).map(|i| format!("{},{},{i}", i as f64 * 1.5, ["north", "south"][i % 2])),
    );
    csv(
        &repo,
        "c.csv",
        "amount,region,fresh",
        (0..200).map(|i| {
            format!(
                "{},{},{i}",
                if i == 0 {
                    "n/a".to_string()
                } else {
                    (i as f64 * 1.5).to_string()
                },
                ["north", "south", "offshore"][i % 3]
            )
        }),
    );
    let out = drift_json(
        &repo,
        &["--reference", "r.csv", "--current", "c.csv", "--no-record"],
        None,
    );
    let kinds: Vec<&str> = out["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for k in [
        "retyped",
        "missing_column",
        "new_column",
        "unseen_categories",
    ] {
        assert!(kinds.contains(&k), "{k} not in {kinds:?}");
    }
    let region = column(&out, "region");
    assert_eq!(region["unseen"][0]["value"], "offshore");
    assert_eq!(region["unseen"][0]["count"], 66);
    assert!(
        region["score"].as_f64().unwrap().is_finite(),
        "unseen categories do not make the score infinite"
    );
    assert!(column(&out, "amount")["not_tested"].is_string());
}

#[test]
fn several_current_files_by_glob_are_one_data_set() {
    let repo = Repo::new();
    let u = noise(9, 900);
    csv(&repo, "r.csv", "x", u.iter().map(|v| v.to_string()));
    csv(
        &repo,
        "all.csv",
        "x",
        u.iter().map(|v| (v + 0.1).to_string()),
    );
    csv(
        &repo,
        "parts/a.csv",
        "x",
        u[..300].iter().map(|v| (v + 0.1).to_string()),
    );
    csv(
        &repo,
        "parts/b.csv",
        "x",
        u[300..].iter().map(|v| (v + 0.1).to_string()),
    );
    let one = drift_json(
        &repo,
        &[
            "--reference",
            "r.csv",
            "--current",
            "all.csv",
            "--no-record",
        ],
        1,
    );
    let glob = drift_json(
        &repo,
        &[
            "--reference",
            "r.csv",
            "--current",
            "parts/*.csv",
            "--no-record",
        ],
        1,
    );
    assert_eq!(column(&one, "x")["score"], column(&glob, "x")["score"]);
    assert_eq!(glob["current"].as_array().unwrap().len(), 2);
    assert_eq!(glob["report"]["rows"], serde_json::json!([900, 900]));
}

#[test]
fn parquet_and_ndjson_give_the_same_scores_as_csv() {
    let repo = Repo::new();
    let u = noise(11, 1500);
    let mut scores = Vec::new();
    for ext in ["csv", "parquet", "ndjson"] {
        for (name, shift) in [("r", 0.0), ("c", 0.05)] {
            let mut df = frame(vec![
                (
                    "x",
                    TestValues::F64(u.iter().map(|v| Some(v + shift)).collect()),
                ),
                (
                    "k",
                    TestValues::Str(
                        u.iter()
                            .map(|v| Some(format!("k{}", (v * 4.0) as u32)))
                            .collect(),
                    ),
                ),
            ]);
            write_table(&repo.path.join(format!("{name}.{ext}")), &mut df).unwrap();
        }
        let out = drift_json(
            &repo,
            &[
                "--reference",
                &format!("r.{ext}"),
                "--current",
                &format!("c.{ext}"),
                "--no-record",
            ],
            None,
        );
        scores.push((
            column(&out, "x")["score"].clone(),
            column(&out, "k")["score"].clone(),
        ));
    }
    assert_eq!(scores[0], scores[1]);
    assert_eq!(scores[0], scores[2]);
}

#[test]
fn a_dataset_reference_falls_back_to_its_profile_when_the_files_are_gone() {
    let repo = Repo::new();
    let u = noise(5, 5000);
    csv(
        &repo,
        "data/train.csv",
        "x,cat",
        u.iter()
            .map(|v| format!("{v},{}", if *v < 0.3 { "a" } else { "b" })),
    );
    csv(
        &repo,
        "today.csv",
        "x,cat",
        u.iter()
            .map(|v| format!("{},{}", v * 1.3, if *v < 0.6 { "a" } else { "b" })),
    );
    repo.mlops(&["data", "add", "data/train.csv", "--name", "train"])
        .ok();
    let from_files = drift_json(
        &repo,
        &[
            "--reference",
            "train",
            "--current",
            "today.csv",
            "--no-record",
        ],
        1,
    );
    assert_eq!(from_files["reference"]["kind"], "dataset");
    std::fs::remove_file(repo.path.join("data/train.csv")).unwrap();
    let from_profile = drift_json(
        &repo,
        &[
            "--reference",
            "train",
            "--current",
            "today.csv",
            "--no-record",
        ],
        1,
    );
    assert_eq!(from_profile["reference"]["kind"], "profile");
    assert!(from_profile["reference"]["note"]
        .as_str()
        .unwrap()
        .contains("profile"));
    let (a, b) = (column(&from_files, "x"), column(&from_profile, "x"));
    assert_eq!(a["test"], b["test"]);
    let (sa, sb) = (a["score"].as_f64().unwrap(), b["score"].as_f64().unwrap());
    assert!(
        (sa - sb).abs() / sa < 0.01,
        "wasserstein from the profile within 1%: {sa} vs {sb}"
    );
    assert_eq!(
        column(&from_files, "cat")["score"],
        column(&from_profile, "cat")["score"],
        "category frequencies are exact"
    );
    assert!(!b["from_profile"].is_null());
    // A reference file that belongs to a dataset must still be the recorded bytes.
    csv(
        &repo,
        "data/train.csv",
        "x,cat",
        u.iter().map(|v| format!("{v},c")),
    );
    let out = repo
        .mlops(&[
            "drift",
            "--reference",
            "data/train.csv",
            "--current",
            "today.csv",
        ])
        .code(2);
    assert!(
        out.stderr.contains("differs from its recorded version"),
        "{}",
        out.stderr
    );
}

#[test]
fn monitors_run_from_mlops_toml_are_recorded_and_have_a_history() {
    let repo = Repo::new();
    let u = noise(21, 2000);
    csv(
        &repo,
        "data/ref.csv",
        "income,score",
        u.iter().map(|v| format!("{},{v}", 30000.0 + v * 50000.0)),
    );
    csv(
        &repo,
        "incoming/2026-01.csv",
        "income,score",
        u.iter().map(|v| format!("{},{v}", 30000.0 + v * 50000.0)),
    );
    repo.write(
        "mlops.toml",
        r#"
[monitors.inputs]
reference = "data/ref.csv"
current = ["incoming/*.csv"]
drift_share = 0.5
[monitors.inputs.column.income]
test = "psi"
threshold = 0.2
[monitors.inputs.column.score]
ignore = true
"#,
    );
    let ok = repo.mlops(&["drift", "inputs"]).code(0);
    assert!(ok.stdout.contains("No dataset drift"), "{}", ok.stdout);
    std::fs::remove_file(repo.path.join("incoming/2026-01.csv")).unwrap();
    csv(
        &repo,
        "incoming/2026-02.csv",
        "income,score",
        u.iter().map(|v| format!("{},{v}", 20000.0 + v * 40000.0)),
    );
    let bad = drift_json(&repo, &["inputs"], 1);
    let income = column(&bad, "income");
    assert_eq!(income["test"], "psi");
    assert_eq!(income["threshold"], 0.2);
    assert!(
        bad["report"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["column"] != "score"),
        "ignored column"
    );
    let hist = repo
        .mlops(&["drift", "history", "inputs", "--json"])
        .ok()
        .json();
    let rows = hist.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["dataset_drift"], false);
    assert_eq!(rows[1]["dataset_drift"], true);
    assert!(rows[1]["columns"]["income"]["score"].as_f64().unwrap() > 0.2);
    let table = repo.mlops(&["drift", "history", "inputs"]).ok().stdout;
    assert!(
        table.contains("DRIFT") && table.contains("income"),
        "{table}"
    );
    // The record names the exact bytes compared.
    let rec = repo
        .git(&["log", "-1", "--format=%s", "refs/mlops/monitors/inputs"])
        .ok()
        .stdout;
    assert!(rec.starts_with("drift inputs: DRIFT"), "{rec}");
    assert_eq!(bad["current"][0]["path"], "incoming/2026-02.csv");
    assert_eq!(bad["current"][0]["sha256"].as_str().unwrap().len(), 64);
    // --all runs every monitor; a bad test name is a config error naming it.
    repo.mlops(&["drift", "--all", "--no-record"]).code(1);
    repo.write("mlops.toml", "[monitors.inputs]\nreference = \"data/ref.csv\"\ncurrent = [\"incoming/*.csv\"]\n[monitors.inputs.column.income]\ntest = \"kolmogorov\"\n");
    let out = repo.mlops(&["drift", "inputs"]).code(2);
    assert!(
        out.stderr.contains("kolmogorov") && out.stderr.contains("income"),
        "{}",
        out.stderr
    );
}

#[test]
fn markdown_and_html_reports_escape_user_data() {
    let repo = Repo::new();
    csv(
        &repo,
        "r.csv",
        "<script>alert(1)</script>,ok",
        (0..100).map(|i| format!("{i},{}", ["a", "b"][i % 2])),
    );
    csv(
        &repo,
        "c.csv",
        "<script>alert(1)</script>,ok",
        (0..100).map(|i| format!("{},{}", i + 40, ["a", "<b>"][i % 2])),
    );
    let out = repo.mlops(&[
        "drift",
        "--reference",
        "r.csv",
        "--current",
        "c.csv",
        "--format",
        "html",
        "--out",
        "report.html",
        "--no-record",
    ]);
    assert!(out.code == 0 || out.code == 1);
    let html = repo.read("report.html");
    assert!(
        html.starts_with("<!doctype html>") || html.starts_with("<!DOCTYPE html>"),
        "{}",
        &html[..50]
    );
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "unescaped column name in HTML"
    );
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("<svg"), "a chart per column");
    // It says what it compared: the files with their SHA-256, the tool, not
    // recorded.
    use sha2::Digest;
    let sha = |f: &str| hex::encode(sha2::Sha256::digest(repo.read(f).as_bytes()));
    assert!(
        html.contains(&sha("r.csv")) && html.contains(&sha("c.csv")),
        "{html}"
    );
    assert!(html.contains("not recorded (--no-record)"));
    assert!(html.contains("@page"), "print rules");
    // The page comes from a template the repository can override.
    repo.write(
        ".mlops/templates/drift.html.j2",
        "<!DOCTYPE html><h1>Bank of Examples</h1><h2>{{ title }}</h2>{{ about }}{{ table }}<p>{{ verdict }}</p>",
    );
    let run = |out: &str| {
        repo.mlops(&[
            "drift",
            "--reference",
            "r.csv",
            "--current",
            "c.csv",
            "--format",
            "html",
            "--out",
            out,
            "--no-record",
        ])
    };
    let code = run("custom.html").code;
    assert!(code == 0 || code == 1);
    let custom = repo.read("custom.html");
    assert!(custom.contains("<h1>Bank of Examples</h1>"), "{custom}");
    assert!(custom.contains(&sha("r.csv")));
    assert!(
        !custom.contains("<script>alert(1)</script>"),
        "parts stay escaped"
    );
    repo.write(".mlops/templates/drift.html.j2", "{% if %}");
    let out = run("broken.html").code(2);
    assert!(out.stderr.contains("drift.html.j2"), "{}", out.stderr);
    for external in ["<link", "src=\"http", "src='http", "@import", "url(http"] {
        assert!(
            !html.contains(external),
            "self-contained: no external assets ({external})"
        );
    }
    let md = repo
        .mlops(&[
            "drift",
            "--reference",
            "r.csv",
            "--current",
            "c.csv",
            "--format",
            "md",
            "--no-record",
        ])
        .stdout;
    assert!(md.contains("| column |"), "{md}");
    assert!(!md.contains("<script>"), "{md}");
}

#[test]
fn scores_match_evidently_on_its_own_fixtures() {
    let fixtures: Value =
        serde_json::from_str(include_str!("../fixtures/drift/cases.json")).unwrap();
    let repo = Repo::new();
    let mut checked = 0;
    for case in fixtures["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let numeric = case["feature_type"] == "numeric";
        let fmt = |v: &Value| {
            if numeric {
                format!("{:?}", v.as_f64().unwrap())
            } else {
                v.as_str().unwrap().to_string()
            }
        };
        csv(
            &repo,
            "r.csv",
            "x",
            case["reference"].as_array().unwrap().iter().map(fmt),
        );
        csv(
            &repo,
            "c.csv",
            "x",
            case["current"].as_array().unwrap().iter().map(fmt),
        );
        for (test, expected) in case["results"].as_object().unwrap() {
            let Some(mut want) = expected.get("score").and_then(Value::as_f64) else {
                continue;
            };
            let mut want_drift = expected["drift"].clone();
            if test == "chisquare" {
                // A documented deviation: categories unseen in the reference are
                // reported as findings, and chi-square runs over the known ones.
                if let Some(known) = case["extra"]["chisquare_known_categories"].as_f64() {
                    want = known;
                    want_drift = Value::Bool(known < 0.05);
                } else if name == "categorical_unseen_in_reference" {
                    continue;
                }
            }
            if !want.is_finite() {
                continue;
            }
            repo.write("mlops.toml", &format!("[monitors.m]\nreference = \"r.csv\"\ncurrent = [\"c.csv\"]\n[monitors.m.column.x]\ntest = \"{test}\"\n"));
            let out = repo.mlops(&["drift", "m", "--format", "json", "--no-record"]);
            if out.code == 2 {
                continue; // not applicable to this type here (e.g. a numeric-only test on strings)
            }
            let got = column(&out.json(), "x").clone();
            if got["test"] != test.as_str() {
                continue;
            }
            let Some(score) = got["score"].as_f64() else {
                continue;
            };
            let tol = 1e-6 * want.abs().max(1e-6);
            assert!(
                (score - want).abs() <= tol,
                "{name}/{test}: mlops {score}, Evidently {want}"
            );
            assert_eq!(got["drift"], want_drift, "{name}/{test}");
            checked += 1;
        }
    }
    assert!(checked > 150, "only {checked} scores were compared");
}

#[test]
fn prediction_drift_and_a_quality_drop_against_the_registered_model() {
    let repo = Repo::new();
    // A model version whose run recorded accuracy 0.9.
    repo.mlops(&[
        "track",
        "--",
        "sh",
        "-c",
        r#"echo '{"accuracy": 0.9}' >> "$MLOPS_METRICS""#,
    ])
    .ok();
    let run = repo.mlops(&["runs", "list", "--json"]).ok().json()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    repo.mlops(&["model", "register", "scorer", "--run", &run])
        .ok();
    let u = noise(33, 1200);
    // Reference: predictions agree with labels 90% of the time; today 60%.
    csv(
        &repo,
        "ref.csv",
        "feature,score,label",
        u.iter().enumerate().map(|(i, v)| {
            let label = u8::from(*v > 0.5);
            let score = if i % 10 == 0 {
                1.0 - f64::from(label)
            } else {
                f64::from(label) * 0.8 + 0.1
            };
            format!("{v},{score},{label}")
        }),
    );
    csv(
        &repo,
        "today.csv",
        "feature,score,label",
        u.iter().enumerate().map(|(i, v)| {
            let label = u8::from(*v > 0.5);
            let score = if i % 10 < 4 {
                1.0 - f64::from(label)
            } else {
                f64::from(label) * 0.8 + 0.1
            };
            format!("{v},{score},{label}")
        }),
    );
    repo.write(
        "mlops.toml",
        r#"
[monitors.scoring]
reference = "ref.csv"
current = ["today.csv"]
model = "scorer"
prediction = "score"
label = "label"
metric = "accuracy"
max_degradation = 0.05
"#,
    );
    let out = drift_json(&repo, &["scoring"], None);
    let perf = &out["report"]["performance"];
    assert_eq!(perf["metric"], "accuracy");
    assert_eq!(
        perf["reference"], 0.9,
        "the registered model's recorded value"
    );
    assert!(
        (perf["current"].as_f64().unwrap() - 0.6).abs() < 0.01,
        "{perf}"
    );
    assert_eq!(perf["degraded"], true);
    let kinds: Vec<&str> = out["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"degradation"), "{kinds:?}");
    let score = column(&out, "score");
    assert_eq!(score["role"], "prediction");
    assert!(
        score["score"].is_number(),
        "prediction drift is tested like a column: {score}"
    );
    // A degraded model exits 1 and blocks a promotion gated on its monitor.
    repo.mlops(&["drift", "scoring"]).code(1);
    let toml = repo.read("mlops.toml");
    repo.commit_file(
        "mlops.toml",
        &format!("{toml}\n[models.scorer]\nstages = [\"production\"]\n[models.scorer.gates.production]\ndrift_monitor = \"scoring\"\n"),
    );
    let out = repo
        .mlops(&["promote", "scorer@latest", "--to", "production", "--check"])
        .code(1);
    assert!(
        out.stdout.contains("model quality degraded"),
        "{}",
        out.stdout
    );
    // on_breach = "rollback": production goes back to the previous version,
    // once, and a dry run only says so.
    repo.commit_file(
        "mlops.toml",
        &format!("{toml}on_breach = \"rollback\"\n[models.scorer]\nstages = [\"production\"]\n"),
    );
    repo.mlops(&["promote", "scorer@0.1.0", "--to", "production"])
        .ok();
    repo.mlops(&["model", "register", "scorer", "--run", &run])
        .ok();
    repo.mlops(&["promote", "scorer@0.2.0", "--to", "production"])
        .ok();
    let resolve = |repo: &Repo| {
        repo.mlops(&["resolve", "scorer@production", "--json"])
            .ok()
            .json()["version"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let out = repo.mlops(&["drift", "scoring", "--dry-run"]).code(1);
    assert!(
        out.stderr
            .contains("would roll back production: 0.2.0 -> 0.1.0"),
        "{} ||| {}",
        out.stderr,
        out.stdout
    );
    assert_eq!(resolve(&repo), "0.2.0");
    let out = repo.mlops(&["drift", "scoring"]).code(1);
    assert!(
        out.stderr
            .contains("rolled back production: 0.2.0 -> 0.1.0"),
        "{}",
        out.stderr
    );
    assert_eq!(resolve(&repo), "0.1.0");
    let log = repo.mlops(&["log", "model/scorer", "--json"]).ok().json();
    assert_eq!(log[0]["kind"], "rollback");
    // The same batch is not judged twice for the same version …
    let out = repo.mlops(&["drift", "scoring"]).code(1);
    assert!(out.stderr.contains("no new batch"), "{}", out.stderr);
    // … and tomorrow's, as bad, does not roll back again.
    let today = repo.read("today.csv");
    let last = today.lines().last().unwrap().to_string();
    repo.write("today.csv", &format!("{today}{last}\n"));
    let out = repo.mlops(&["drift", "scoring"]).code(1);
    assert!(
        out.stderr.contains("by an automatic rollback already"),
        "{}",
        out.stderr
    );
    assert_eq!(resolve(&repo), "0.1.0");
    let events = repo.mlops(&["log", "model/scorer", "--json"]).ok().json();
    assert_eq!(
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "rollback")
            .count(),
        1,
        "exactly once"
    );
    // A rule that cannot work is a config error.
    repo.write(
        "mlops.toml",
        "[monitors.x]\nreference = \"ref.csv\"\ncurrent = [\"today.csv\"]\non_breach = \"rollback\"\n",
    );
    let out = repo.mlops(&["config"]).code(2);
    assert!(
        out.stderr.contains("needs `model` and `max_degradation`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_feed_that_cannot_be_compared_is_an_error_and_a_lost_column_is_drift() {
    let repo = Repo::new();
    let u = noise(11, 300);
    csv(
        &repo,
        "r.csv",
        "a,b,c",
        u.iter().map(|v| format!("{v},{v},{v}")),
    );
    // Same data, wrong separator: one column that matches nothing.
    csv(
        &repo,
        "semi.csv",
        "a;b;c",
        u.iter().map(|v| format!("{v};{v};{v}")),
    );
    let out = repo
        .mlops(&[
            "drift",
            "--reference",
            "r.csv",
            "--current",
            "semi.csv",
            "--no-record",
        ])
        .code(2);
    assert!(
        out.stderr.contains("semi.csv") && out.stderr.contains("separator"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1
    );

    // One column unchanged, two gone: 2 of 3 drifted, over the default 0.5 share.
    csv(&repo, "lost.csv", "a", u.iter().map(|v| format!("{v}")));
    let report = drift_json(
        &repo,
        &[
            "--reference",
            "r.csv",
            "--current",
            "lost.csv",
            "--no-record",
        ],
        1,
    );
    assert_eq!(
        (
            report["report"]["drifted"].as_u64(),
            report["report"]["tested"].as_u64()
        ),
        (Some(2), Some(3))
    );
    assert_eq!(column(&report, "c")["drift"], true);
    assert_eq!(column(&report, "a")["drift"], false);
}

#[test]
fn an_unwritable_out_path_fails_before_anything_is_recorded() {
    let repo = Repo::new();
    let u = noise(5, 100);
    csv(&repo, "r.csv", "a", u.iter().map(|v| format!("{v}")));
    let out = repo
        .mlops(&[
            "drift",
            "--reference",
            "r.csv",
            "--current",
            "r.csv",
            "--out",
            "no/such/dir/x.html",
        ])
        .code(2);
    assert!(
        out.stderr.contains("--out no/such/dir/x.html"),
        "{}",
        out.stderr
    );
    let refs = repo
        .git(&["for-each-ref", "refs/mlops/monitors"])
        .ok()
        .stdout;
    assert!(refs.is_empty(), "recorded despite the failure: {refs}");
    // The same run with a writable path is recorded.
    repo.mlops(&[
        "drift",
        "--reference",
        "r.csv",
        "--current",
        "r.csv",
        "--out",
        "x.txt",
    ])
    .ok();
    assert!(!repo
        .git(&["for-each-ref", "refs/mlops/monitors"])
        .ok()
        .stdout
        .is_empty());
}
