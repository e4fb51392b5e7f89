//! `mlops report`: the audit document from the (overridable) templates.

use crate::support::Repo;

fn model_with_history(repo: &Repo, owner: &str) {
    repo.write(
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
    repo.mlops(&["report", "nope"]).code(2);
}
