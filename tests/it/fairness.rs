//! Slices and fairness (docs/fairness.md): metrics logged per slice, the
//! slice gates (the four-fifths rule, the worst slice, the gap), privacy of
//! slice values, and `runs compare` and the report showing them.

use serde_json::Value;

use crate::support::Repo;

const POLICY: &str = r#"
[models.credit]
stages = ["production"]
[models.credit.gates.production]
slices = ["ratio(approval_rate by gender) >= 0.8"]
"#;

/// A tracked run that logs approval rates for women and men (and an
/// overall rate, which no slice gate looks at); returns the run id.
fn train(repo: &Repo, women: f64, men: f64) -> String {
    let script = format!(
        r#"echo '{{"approval_rate": 0.4}}' >> "$MLOPS_METRICS"; echo '{{"slice": {{"gender": "F"}}, "approval_rate": {women}, "auc": 0.8}}' >> "$MLOPS_METRICS"; echo '{{"slice": {{"gender": "M"}}, "approval_rate": {men}, "auc": 0.72, "rmse": 1.5}}' >> "$MLOPS_METRICS""#
    );
    let out = repo
        .mlops(&["track", "--json", "--", "sh", "-c", &script])
        .ok()
        .json();
    out["run"]["run_id"].as_str().unwrap().to_string()
}

fn register(repo: &Repo, run: &str, version: &str) {
    repo.mlops(&[
        "model",
        "register",
        "credit",
        "--run",
        run,
        "--version",
        version,
    ])
    .ok();
}

fn gate<'a>(eval: &'a Value, name: &str) -> &'a Value {
    eval["evaluation"]["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == name)
        .unwrap_or_else(|| panic!("no gate `{name}` in {eval:#}"))
}

#[test]
fn a_fairness_gate_fails_on_a_disparate_impact_ratio_below_four_fifths() {
    let repo = Repo::new();
    repo.commit_file("mlops.toml", POLICY);
    let unfair = train(&repo, 0.35, 0.5);
    let fair = train(&repo, 0.45, 0.5);
    register(&repo, &unfair, "1.0.0");
    register(&repo, &fair, "1.1.0");

    // 0.35 / 0.5 = 0.7: refused, and the verdict names both slices.
    let out = repo
        .mlops(&["promote", "credit@1.0.0", "--to", "production"])
        .code(1);
    assert!(
        out.stdout.contains("0.7 (gender=F 0.35 / gender=M 0.5)"),
        "{}",
        out.stdout
    );
    let eval = repo
        .mlops(&[
            "promote",
            "credit@1.0.0",
            "--to",
            "production",
            "--check",
            "--json",
        ])
        .code(1)
        .json();
    let g = gate(&eval, "slices ratio(approval_rate by gender)");
    assert_eq!(g["pass"], false);
    assert_eq!(g["expected"], ">= 0.8");
    // Nothing was promoted.
    repo.mlops(&["resolve", "credit@production", "--json"])
        .code(2);

    // 0.45 / 0.5 = 0.9: promoted.
    let out = repo
        .mlops(&["promote", "credit@1.1.0", "--to", "production", "--json"])
        .ok()
        .json();
    let g = gate(&out, "slices ratio(approval_rate by gender)");
    assert_eq!(g["pass"], true, "{out:#}");
    assert_eq!(g["actual"], "0.9 (gender=F 0.45 / gender=M 0.5)");
    let resolved = repo
        .mlops(&["resolve", "credit@production", "--json"])
        .ok()
        .stdout;
    assert!(resolved.contains("1.1.0"), "{resolved}");

    // The comparison of the two runs groups each metric's slices and
    // shows their spread.
    let out = repo
        .mlops(&["runs", "compare", &unfair, &fair, "--all"])
        .ok();
    assert!(
        out.stdout.contains("slices.approval_rate by gender"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("ratio 0.7 "), "{}", out.stdout);
    assert!(out.stdout.contains("ratio 0.9 "), "{}", out.stdout);
    let text = &out.stdout;
    let (overall, f, m) = (
        text.find("metrics.approval_rate ").unwrap(),
        text.find("metrics.approval_rate{gender=F}").unwrap(),
        text.find("metrics.approval_rate{gender=M}").unwrap(),
    );
    assert!(overall < f && f < m, "slices follow their metric:\n{text}");
    let json = repo
        .mlops(&["runs", "compare", &unfair, &fair, "--json"])
        .ok()
        .json();
    let s = json["slices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "approval_rate" && s["by"] == "gender")
        .unwrap_or_else(|| panic!("{json:#}"));
    let ratio = s["spreads"][0]["ratio"].as_f64().unwrap();
    assert!((ratio - 0.7).abs() < 1e-9, "{s:#}");
    assert_eq!(s["spreads"][1]["min"]["slice"], "gender=F");
    let md = repo
        .mlops(&["runs", "compare", &unfair, &fair, "--md"])
        .ok()
        .stdout;
    assert!(md.contains("| slices.approval_rate by gender |"), "{md}");

    // The audit report's section 9 has the table and the gate.
    repo.mlops(&["report", "credit@production", "--out", "audit"])
        .ok();
    let report = repo.read("audit/report.md");
    let section = &report[report
        .find("### 9. Per-slice and fairness results")
        .expect("section 9")..];
    let section = &section[..section[4..].find("### ").map(|i| i + 4).unwrap()];
    for line in [
        "approval_rate · gender=F · 0.45",
        "approval_rate · gender=M · 0.5",
        "approval_rate by gender: gap 0.05 (gender=M 0.5 − gender=F 0.45), ratio 0.9",
        "gate slices ratio(approval_rate by gender) for production: passed",
    ] {
        assert!(section.contains(line), "{line}:\n{section}");
    }
    assert!(section.contains("— computed"), "{section}");
}

#[test]
fn worst_and_gap_gates_and_bad_rules() {
    let repo = Repo::new();
    repo.commit_file(
        "mlops.toml",
        r#"
[models.credit]
stages = ["production"]
[models.credit.gates.production]
slices = ["worst(auc) >= 0.70", "gap(auc) <= 0.05", "worst(rmse) <= 2", "min(precision) >= 0.5"]
"#,
    );
    let run = train(&repo, 0.45, 0.5);
    register(&repo, &run, "1.0.0");
    let eval = repo
        .mlops(&[
            "promote",
            "credit@1.0.0",
            "--to",
            "production",
            "--check",
            "--json",
        ])
        .code(1)
        .json();
    // auc: F 0.8, M 0.72.
    let worst = gate(&eval, "slices worst(auc)");
    assert_eq!(worst["pass"], true, "{worst}");
    assert_eq!(worst["actual"], "0.72 (gender=M)");
    let g = gate(&eval, "slices gap(auc)");
    assert_eq!(g["pass"], false, "{g}");
    assert_eq!(g["actual"], "0.08 (gender=F 0.8 − gender=M 0.72)");
    // One slice has no spread to judge.
    let one = gate(&eval, "slices worst(rmse)");
    assert_eq!(one["pass"], false, "{one}");
    assert!(
        one["actual"]
            .as_str()
            .unwrap()
            .contains("needs ≥ 2 slices, found 1"),
        "{one}"
    );
    let none = gate(&eval, "slices min(precision)");
    assert!(
        none["actual"].as_str().unwrap().contains("found 0"),
        "{none}"
    );

    // `mlops config` lists the rules as the policy.
    let out = repo.mlops(&["config"]).ok();
    assert!(
        out.stdout.contains("slices gap(auc) <= 0.05"),
        "{}",
        out.stdout
    );

    // A rule that does not parse is a configuration error naming its table:
    // when the configuration is read and when a promotion is checked.
    for bad in ["mean(auc) >= 0.7", "ratio(approval_rate per gender) >= 0.8"] {
        repo.commit_file(
            "mlops.toml",
            &format!(
                "[models.credit]\nstages = [\"production\"]\n[models.credit.gates.production]\nslices = [\"{bad}\"]\n"
            ),
        );
        for args in [
            vec!["config"],
            vec!["promote", "credit@1.0.0", "--to", "production", "--check"],
        ] {
            let out = repo.mlops(&args).code(2);
            let errors: Vec<&str> = out
                .stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .collect();
            assert_eq!(errors.len(), 1, "{}", out.stderr);
            assert!(
                errors[0].contains("[models.credit.gates.production] slices")
                    && errors[0].contains(bad),
                "{args:?}: {}",
                out.stderr
            );
        }
    }
}

#[test]
fn a_slice_that_names_a_person_is_never_recorded() {
    let repo = Repo::new();
    let email = "jane.doe@example.com";
    // The script lives outside the repository, so neither the recorded
    // command nor the code snapshot holds the address.
    let outside = repo.sibling("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let script = outside.join("train.sh");
    std::fs::write(
        &script,
        format!(
            "echo '{{\"slice\": {{\"customer\": \"{email}\"}}, \"approval_rate\": 1}}' >> \"$MLOPS_METRICS\"\n\
             echo '{{\"approval_rate{{customer={email}}}\": 1}}' >> \"$MLOPS_METRICS\"\n\
             echo '{{\"slice\": {{\"gender\": \"F\"}}, \"approval_rate\": 0.3}}' >> \"$MLOPS_METRICS\"\n\
             '{bin}' track log --metric approval_rate=0.5 --slice gender=M\n\
             '{bin}' track log --metric approval_rate=1 --slice customer={email} 2> \"{err}\" || true\n",
            bin = env!("CARGO_BIN_EXE_mlops"),
            err = outside.join("log.err").display(),
        ),
    )
    .unwrap();
    let out = repo
        .mlops(&["track", "--json", "--", "sh", script.to_str().unwrap()])
        .ok();
    let run = out.json()["run"].clone();
    let metrics: Vec<&String> = run["metrics"].as_object().unwrap().keys().collect();
    assert_eq!(
        metrics,
        ["approval_rate{gender=F}", "approval_rate{gender=M}"],
        "{run:#}"
    );
    let warnings = run["warnings"].to_string();
    assert!(warnings.contains("e-mail"), "{warnings}");
    assert!(!warnings.contains("jane"), "{warnings}");
    // `track log --slice` refuses it outright (exit 2).
    let err = std::fs::read_to_string(outside.join("log.err")).unwrap();
    assert!(err.contains("looks like an identifier"), "{err}");

    let objects = repo
        .git(&["cat-file", "--batch-all-objects", "--batch"])
        .ok()
        .stdout;
    assert!(
        objects.contains("approval_rate{gender=F}"),
        "the run is recorded"
    );
    assert!(!objects.contains("jane"), "no git object holds the address");
}
