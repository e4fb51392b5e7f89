//! `mlops report`: the audit document from the (overridable) templates.

use crate::support::Repo;

fn model_with_history(repo: &Repo, owner: &str) {
    repo.commit_file(
        "mlops.toml",
        &format!("[models.fraud]\nowner = \"{owner}\"\npurpose = \"flag fraud\"\n"),
    );
    repo.write("model.bin", "weights");
    repo.mlops(&[
        "model",
        "register",
        "fraud",
        "--artifact",
        "model.bin",
        "--version",
        "1.0.0",
        "-m",
        "first <b>release</b>",
    ])
    .ok();
    repo.mlops(&[
        "promote",
        "fraud@1.0.0",
        "--to",
        "staging",
        "--reason",
        "ok",
    ])
    .ok();
}

#[test]
fn the_report_covers_inventory_version_timeline_and_integrity_and_escapes_html() {
    let repo = Repo::new();
    model_with_history(&repo, "<script>alert(1)</script>");
    let out = repo
        .mlops(&["report", "fraud@staging", "--out", "audit"])
        .ok();
    assert!(out.stdout.contains("audit/report.html"), "{}", out.stdout);
    let md = repo.read("audit/report.md");
    for part in [
        "# Model report: fraud @ 1.0.0",
        "| purpose | flag fraud |",
        "**missing**",
        "promote fraud@1.0.0 to staging",
        "sha256sum",
        "mlops verify model/fraud",
        "artifact `model.bin`",
    ] {
        assert!(md.contains(part), "`{part}` missing from:\n{md}");
    }
    // Markdown is escaped too: no raw tag, no table row split by a `|`.
    assert!(!md.contains("<script>"), "{md}");
    assert!(
        md.contains("| owner | &lt;script&gt;alert(1)&lt;/script&gt; |"),
        "{md}"
    );
    let html = repo.read("audit/report.html");
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "user data must be escaped"
    );
    assert!(html.contains("&lt;script&gt;"));
    assert!(!html.contains("<b>release</b>"));
    // Every record id of the model is listed for re-verification.
    let log = repo.mlops(&["log", "model/fraud", "--json"]).ok().json();
    for e in log.as_array().unwrap() {
        assert!(md.contains(e["id"].as_str().unwrap()));
    }
}

#[test]
fn templates_in_the_repository_override_the_built_in_ones() {
    let repo = Repo::new();
    model_with_history(&repo, "risk team");
    repo.write(
        ".mlops/templates/report.md.j2",
        "custom report for {{ model.name }} owned by {{ model.owner }}\n",
    );
    repo.mlops(&["report", "fraud"]).ok();
    assert_eq!(
        repo.read("report/report.md"),
        "custom report for fraud owned by risk team"
    );
    repo.write(".mlops/templates/report.md.j2", "{% broken");
    let out = repo.mlops(&["report", "fraud"]).code(2);
    assert!(out.stderr.contains("report.md.j2"), "{}", out.stderr);
    // A template that only fails while rendering: the earlier report stays whole.
    repo.write(".mlops/templates/report.md.j2", "new report\n");
    repo.write(
        ".mlops/templates/report.html.j2",
        "{{ no_such_function() }}",
    );
    let out = repo.mlops(&["report", "fraud"]).code(2);
    assert!(out.stderr.contains("report.html.j2"), "{}", out.stderr);
    assert_eq!(
        repo.read("report/report.md"),
        "custom report for fraud owned by risk team"
    );
    repo.mlops(&["report", "nope"]).code(2);
}

/// A model with the whole chain behind it: a tracked run on a tracked
/// dataset that writes its model and its importances, two versions, gated
/// promotions with an approval, and a drift monitor with two reports.
fn full_history(repo: &Repo) {
    repo.commit_file(
        "mlops.toml",
        r#"[models.churn]
owner = "crm-models@bank.example"
purpose = "rank customers by churn risk"
stages = ["staging", "production"]
explainability = "out/importance.csv"

[models.churn.gates.production]
metrics = ["auc >= 0.6"]
approvals = 1
signed = false

[monitors.churn-inputs]
reference = "train.csv"
current = ["today.csv"]
model = "churn"
"#,
    );
    let rows = |shift: f64| {
        let mut s = String::from("tenure,spend\n");
        for i in 0..200 {
            s.push_str(&format!("{},{}\n", i % 37, f64::from(i % 53) + shift));
        }
        s
    };
    repo.write("train.csv", &rows(0.0));
    repo.mlops(&["data", "add", "train.csv", "--name", "churn-train"])
        .ok();
    repo.git(&["add", "-A"]).ok();
    repo.git(&["commit", "-qm", "data and policy"]).ok();
    for (auc, v) in [("0.7", "1.0.0"), ("0.75", "1.1.0")] {
        train_and_promote(repo, auc, v);
    }
    repo.write("today.csv", &rows(0.0));
    repo.mlops(&["drift", "churn-inputs"]).ok();
    repo.write("today.csv", &rows(40.0));
    repo.mlops(&["drift", "churn-inputs"]).code(1);
}

/// A tracked run on the `churn-train` dataset with metric `auc`, registered
/// as `version` and promoted through staging to production.
fn train_and_promote(repo: &Repo, auc: &str, version: &str) {
    let script = format!(
        "mkdir -p out && echo weights-{auc} > out/model.bin && \
         printf 'feature,mean_abs_shap\\ntenure,0.{v_digit}\\nspend,0.9\\n' > out/importance.csv && \
         echo '{{\"auc\": {auc}}}' >> \"$MLOPS_METRICS\"",
        v_digit = &version[2..3]
    );
    let run = repo
        .mlops(&[
            "track",
            "--param",
            "depth=3",
            "--data",
            "train=churn-train",
            "--artifact",
            "out/model.bin",
            "--artifact",
            "out/importance.csv",
            "--json",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .ok();
    let run_id = run.json()["run"]["run_id"].as_str().unwrap().to_string();
    repo.mlops(&[
        "model",
        "register",
        "churn",
        "--run",
        &run_id,
        "--version",
        version,
    ])
    .ok();
    repo.mlops(&["promote", &format!("churn@{version}"), "--to", "staging"])
        .ok();
    repo.mlops(&[
        "promote",
        &format!("churn@{version}"),
        "--to",
        "production",
        "--approved-by",
        "cro@bank.example",
    ])
    .ok();
}

#[test]
fn the_report_shows_lineage_validation_monitoring_and_pinned_explainability() {
    let repo = Repo::new();
    full_history(&repo);
    // No version named: the report is about what production holds.
    let out = repo.mlops(&["report", "churn", "--json"]).ok().json();
    let r = &out["report"];
    assert_eq!(r["version"]["version"], "1.1.0");
    assert_eq!(r["selected_by"], "stage production");
    assert_eq!(r["run"]["params"]["depth"], 3);
    assert_eq!(r["run"]["inputs"][0]["dataset"], "churn-train");
    let head = repo
        .git(&["rev-parse", "HEAD"])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(r["run"]["code"]["commit"], head.as_str());
    assert_eq!(
        r["model"]["missing"],
        serde_json::json!(["intended_use", "limitations", "risk_tier"])
    );
    // Validation: the recorded gates and the approval of each promotion.
    let prod = r["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["to_stage"] == "production")
        .unwrap();
    assert!(prod["gates"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["pass"] == true));
    assert_eq!(prod["approvals"][0]["who"], "cro@bank.example");
    // Compared with the version it displaced in production.
    assert_eq!(r["comparison"]["against"], "1.0.0");
    assert_eq!(r["comparison"]["basis"], "replaced in production");
    let auc = &r["comparison"]["rows"][0];
    assert_eq!(auc["metric"], "auc");
    assert!((auc["delta"].as_f64().unwrap() - 0.05).abs() < 1e-9);
    // Monitoring: both drift reports, newest (drifted) first.
    let m = &r["monitoring"][0];
    assert_eq!(m["monitor"], "churn-inputs");
    assert_eq!(
        (m["reports"].as_u64(), m["drifted_reports"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(m["recent"][0]["dataset_drift"], true);
    // Explainability: the file of mlops.toml is this version's artifact.
    let e = &r["explainability"];
    assert_eq!(e["recorded_as"], "out/importance.csv");
    assert_eq!(e["features"][0]["feature"], "spend");
    // Every ref the report draws on is listed with its tip, as git sees it.
    for pair in r["integrity"]["refs"].as_array().unwrap() {
        let tip = repo.git(&["rev-parse", pair[0].as_str().unwrap()]).ok();
        assert_eq!(tip.stdout.trim(), pair[1].as_str().unwrap());
    }

    let md = repo.read("report/report.md");
    for part in [
        "# Model report: churn @ 1.1.0",
        "selected by stage production",
        "**Inventory incomplete:** intended_use, limitations, risk_tier",
        "train data `churn-train`",
        "| depth | 3 |",
        "| metric auc | auc &gt;= 0.6 |",
        "cro@bank.example",
        "### Against version 1.0.0 (replaced in production)",
        "### Monitor `churn-inputs`: 2 report(s), 1 with drift",
        "identical to the artifact `out/importance.csv` recorded with this version",
        "refs/mlops/monitors/churn-inputs",
    ] {
        assert!(md.contains(part), "`{part}` missing from:\n{md}");
    }

    // The older version's report, with a file that is not its artifact.
    let older = repo.mlops(&["report", "churn@1.0.0", "--json"]).ok().json();
    assert!(older["report"]["explainability"]["recorded_as"].is_null());
    assert!(repo
        .read("report/report.md")
        .contains("**not among the artifacts recorded with this version**"));
}

#[test]
fn a_bad_explainability_file_is_exit_2_naming_it_and_writes_nothing() {
    let repo = Repo::new();
    model_with_history(&repo, "risk team");
    repo.write("imp.csv", "feature,importance\nage,high\n");
    let out = repo
        .mlops(&["report", "fraud", "--explain", "imp.csv"])
        .code(2);
    assert!(out.stderr.contains("imp.csv"), "{}", out.stderr);
    let out = repo
        .mlops(&["report", "fraud", "--explain", "nope.json"])
        .code(2);
    assert!(out.stderr.contains("nope.json"), "{}", out.stderr);
    assert!(!repo.path.join("report").exists(), "nothing half-written");
}

#[test]
fn the_comparison_follows_what_the_promotion_recorded_as_replaced() {
    let repo = Repo::new();
    full_history(&repo);
    // 1.1.0 is withdrawn (it leaves production); 1.2.0 then enters an empty
    // stage: it displaced nothing, so it is compared with the version before
    // it that is still in service, not with the withdrawn one.
    repo.mlops(&["model", "deprecate", "churn@1.1.0", "--reason", "leak"])
        .ok();
    train_and_promote(&repo, "0.8", "1.2.0");
    let r = repo.mlops(&["report", "churn@1.2.0", "--json"]).ok().json();
    let c = &r["report"]["comparison"];
    assert_eq!(
        (c["against"].as_str(), c["basis"].as_str()),
        (Some("1.0.0"), Some("previous version"))
    );
}

#[test]
fn a_run_that_cannot_be_read_is_said_in_the_report_not_hidden() {
    let repo = Repo::new();
    full_history(&repo);
    let run = repo.mlops(&["report", "churn", "--json"]).ok().json()["report"]["run"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    repo.git(&["update-ref", "-d", &format!("refs/mlops/runs/{run}")])
        .ok();
    let r = repo.mlops(&["report", "churn", "--json"]).ok().json();
    assert!(r["report"]["run"].is_null());
    let problem = r["report"]["run_problem"].as_str().unwrap();
    assert!(problem.contains(&run), "{problem}");
    // In Markdown, as escaped text (its backticks are the record's, not markup).
    let escaped = problem.replace('`', "\\`");
    assert!(
        repo.read("report/report.md").contains(&escaped),
        "{escaped}"
    );
}

// ---------------------------------------------------------------------------
// The 24 sections, framework matrices, --strict and recorded reports.

fn section(report: &serde_json::Value, n: u64) -> serde_json::Value {
    report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["number"] == n)
        .cloned()
        .unwrap()
}

fn json_report(repo: &Repo, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["report", "churn", "--out", "report"];
    args.extend_from_slice(extra);
    repo.mlops(&args).ok();
    serde_json::from_str(&repo.read("report/report.json")).unwrap()
}

#[test]
fn every_section_is_computed_human_or_missing_and_strict_names_the_missing() {
    let repo = Repo::new();
    full_history(&repo);
    let r = json_report(&repo, &[]);
    assert_eq!(r["sections"].as_array().unwrap().len(), 24);
    // Computed from the records.
    let s4 = section(&r, 4);
    assert_eq!(s4["status"], "computed");
    assert!(
        s4["facts"][0].as_str().unwrap().starts_with("code commit"),
        "{s4}"
    );
    assert_eq!(section(&r, 16)["status"], "computed");
    assert_eq!(section(&r, 23)["status"], "computed");
    assert!(r["verified"].as_bool().unwrap());
    // Charts, drawn as inline SVG: the monitor's drift over its reports.
    let charts = r["charts"].as_array().unwrap();
    assert!(
        charts.iter().any(|c| c["title"]
            .as_str()
            .unwrap()
            .starts_with("monitor churn-inputs")),
        "{charts:?}"
    );
    assert!(repo.read("report/report.html").contains("<svg"));
    // Absent: MISSING, with what fills it.
    let s19 = section(&r, 19);
    assert_eq!(s19["status"], "MISSING");
    assert_eq!(s19["todo"][0], "write `models/churn/card/oversight.md`");
    let md = repo.read("report/report.md");
    assert!(
        md.contains("### 19. Human oversight and fallback — **MISSING**"),
        "{md}"
    );
    // --strict: exit 1, naming each missing section; the report is written.
    let out = repo
        .mlops(&["report", "churn", "--out", "strict", "--strict"])
        .code(1);
    assert!(
        out.stderr.contains("19 Human oversight and fallback"),
        "{}",
        out.stderr
    );
    assert!(repo.path.join("strict/report.html").is_file());

    // A human file fills it, cited by its git blob id and SHA-256.
    repo.commit_file(
        "models/churn/card/oversight.md",
        "Underwriters review every *decline*.\n",
    );
    let r = json_report(&repo, &[]);
    let s19 = section(&r, 19);
    assert_eq!(s19["status"], "human");
    let blob = repo
        .git(&["rev-parse", "HEAD:models/churn/card/oversight.md"])
        .ok()
        .stdout;
    assert_eq!(s19["human"]["blob"], blob.trim());
    assert_eq!(s19["human"]["uncommitted"], false);
    assert!(repo
        .read("report/report.md")
        .contains("Underwriters review every *decline*."));
    let html = repo.read("report/report.html");
    assert!(html.contains(blob.trim()), "the HTML cites the blob");
    // Edited, not committed: flagged as not reviewed.
    repo.write(
        "models/churn/card/oversight.md",
        "Nobody reviews anything.\n",
    );
    let r = json_report(&repo, &[]);
    assert_eq!(section(&r, 19)["human"]["uncommitted"], true);

    // Validation findings from their file; open ones in the next review.
    repo.commit_file(
        "models/churn/card/findings.toml",
        "validator = \"val@bank.example\"\nvalidated_at = \"2026-03-01\"\nconclusion = \"fit\"\n[[finding]]\nid = \"F-1\"\nseverity = \"high\"\nstatus = \"open\"\ntitle = \"no out-of-time test\"\n",
    );
    let r = json_report(&repo, &[]);
    let s24 = section(&r, 24);
    assert_eq!(s24["status"], "computed");
    let facts = s24["facts"].to_string();
    assert!(facts.contains("next review due 2027-03-01"), "{facts}");
    assert!(facts.contains("F-1 [high] no out-of-time test"), "{facts}");
}

#[test]
fn framework_matrices_map_requirements_to_sections_and_strict_follows_them() {
    let repo = Repo::new();
    full_history(&repo);
    let r = json_report(
        &repo,
        &["--framework", "sr11-7", "--framework", "model-card"],
    );
    let matrix = r["matrix"].as_array().unwrap();
    assert!(matrix.iter().any(|m| m["framework"] == "SR 11-7"));
    assert!(matrix.iter().any(|m| m["framework"] == "Model Card"));
    let validation = matrix
        .iter()
        .find(|m| m["requirement"] == "SR 11-7 §V validation")
        .unwrap();
    assert_eq!(validation["sections"], serde_json::json!([12]));
    let html = repo.read("report/report.html");
    assert!(html.contains("Framework matrix"));
    // A bank's own framework, from the repository.
    repo.write(
        ".mlops/frameworks/bank.toml",
        "name = \"Bank policy MRM-7\"\n[[requirement]]\nid = \"MRM-7.1\"\ntext = \"explainability\"\nsections = [10]\n",
    );
    let r = json_report(&repo, &["--framework", "bank"]);
    assert_eq!(r["matrix"][0]["status"], "answered", "{}", r["matrix"]);
    repo.mlops(&[
        "report",
        "churn",
        "--out",
        "b",
        "--framework",
        "bank",
        "--strict",
    ])
    .ok();
    // A requirement on a section that is MISSING fails --strict.
    repo.write(
        ".mlops/frameworks/bank.toml",
        "name = \"Bank\"\n[[requirement]]\nid = \"MRM-9\"\ntext = \"oversight\"\nsections = [19]\n",
    );
    repo.mlops(&[
        "report",
        "churn",
        "--out",
        "b",
        "--framework",
        "bank",
        "--strict",
    ])
    .code(1);
    // Unknown names and sections are errors.
    let out = repo
        .mlops(&["report", "churn", "--framework", "basel"])
        .code(2);
    assert!(
        out.stderr.contains("sr11-7, hkma, eu-ai-act, model-card"),
        "{}",
        out.stderr
    );
    repo.write(
        ".mlops/frameworks/bank.toml",
        "name = \"Bank\"\n[[requirement]]\nid = \"X\"\ntext = \"x\"\nsections = [25]\n",
    );
    let out = repo
        .mlops(&["report", "churn", "--framework", "bank"])
        .code(2);
    assert!(
        out.stderr.contains("section 25 does not exist"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_recorded_report_is_proven_exact_and_a_one_byte_change_is_caught() {
    let repo = Repo::new();
    full_history(&repo);
    // A preview leaves no trace.
    let before = repo
        .git(&["rev-parse", "refs/mlops/models/churn"])
        .ok()
        .stdout;
    repo.mlops(&["report", "churn", "--out", "preview"]).ok();
    assert_eq!(
        repo.git(&["rev-parse", "refs/mlops/models/churn"])
            .ok()
            .stdout,
        before
    );
    repo.mlops(&["verify", "--report", "preview/report.html"])
        .code(1);
    // The handed-over one is recorded.
    let out = repo
        .mlops(&["report", "churn", "--out", "handover", "--record", "--json"])
        .ok()
        .json();
    let id = out["recorded"].as_str().unwrap().to_string();
    for f in ["report.html", "report.md", "report.json"] {
        let v = repo
            .mlops(&["verify", "--report", &format!("handover/{f}"), "--json"])
            .ok()
            .json();
        assert_eq!(v["recorded"]["record"], id.as_str());
        assert_eq!(v["recorded"]["file"], f);
    }
    // Its hash is what sha256sum says.
    let mut cmd = std::process::Command::new("sha256sum");
    cmd.arg(repo.path.join("handover/report.html"));
    let sum = crate::support::capture(cmd).ok().stdout;
    let v = repo
        .mlops(&["verify", "--report", "handover/report.html", "--json"])
        .ok()
        .json();
    assert!(sum.starts_with(v["sha256"].as_str().unwrap()));
    // One byte changed: caught.
    let mut bytes = std::fs::read(repo.path.join("handover/report.html")).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 1;
    std::fs::write(repo.path.join("handover/report.html"), &bytes).unwrap();
    let out = repo
        .mlops(&["verify", "--report", "handover/report.html"])
        .code(1);
    assert!(
        out.stdout.contains("matches no recorded report"),
        "{}",
        out.stdout
    );
    // The report event is part of the verified history.
    repo.mlops(&["verify"]).ok();
}

#[test]
fn pdf_is_printed_by_a_local_chromium_or_refused_before_anything_is_written() {
    let repo = Repo::new();
    full_history(&repo);
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .any(|b| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .any(|d| d.join(b).is_file())
        });
    // Without a browser on PATH: exit 2 with the hint, and no report at all.
    let mut cmd = repo.mlops_cmd(&["report", "churn", "--out", "nobrowser", "--pdf"]);
    cmd.env("PATH", "/nonexistent");
    let out = crate::support::capture(cmd).code(2);
    assert!(
        out.stderr.contains("apt-get install chromium"),
        "{}",
        out.stderr
    );
    assert!(!repo.path.join("nobrowser").exists());
    if chromium {
        let out = repo
            .mlops(&[
                "report", "churn", "--out", "printed", "--pdf", "--record", "--json",
            ])
            .ok()
            .json();
        let pdf = std::fs::read(repo.path.join("printed/report.pdf")).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        assert!(out["files"].to_string().contains("report.pdf"));
        // The PDF is part of the recorded report.
        repo.mlops(&["verify", "--report", "printed/report.pdf"])
            .ok();
        // The cover names the document by the hash of its facts.
        let html = repo.read("printed/report.html");
        let facts: serde_json::Value =
            serde_json::from_str(&repo.read("printed/report.json")).unwrap();
        assert!(html.contains(facts["document_id"].as_str().unwrap()));
    }
}

#[test]
fn a_report_that_cannot_be_recorded_writes_nothing() {
    let repo = Repo::new();
    full_history(&repo);
    repo.git(&["config", "--unset", "user.email"]).ok();
    repo.git(&["config", "--unset", "user.name"]).ok();
    let out = repo
        .mlops(&["report", "churn", "--out", "handover", "--record"])
        .code(2);
    assert!(out.stderr.contains("git identity"), "{}", out.stderr);
    assert!(!repo.path.join("handover").exists());
}
