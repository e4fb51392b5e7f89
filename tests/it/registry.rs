//! The model registry: `model register|list|show|history|deprecate`,
//! `promote` (every gate kind, `--check`, `--force`, concurrency, CI context,
//! tags), `rollback`, `resolve`, the markdown verdict and the CI workflows that
//! `mlops init` installs.

use std::process::Stdio;

use serde_json::Value;

use crate::support::{Out, Repo};

// ---------------------------------------------------------------------------
// helpers: state goes in through the CLI, as a user would put it there

/// A repository with this `mlops.toml`.
fn repo_with(toml: &str) -> Repo {
    let repo = Repo::new();
    repo.commit_file("mlops.toml", toml);
    repo
}

/// A tracked run whose script reports `acc`; returns the run id.
fn train(repo: &Repo, acc: f64) -> String {
    let script = format!(r#"echo "{{\"acc\": {acc}}}" >> "$MLOPS_METRICS""#);
    let out = repo
        .mlops(&[
            "track", "--param", "lr=0.1", "--json", "--", "sh", "-c", &script,
        ])
        .ok()
        .json();
    out["run"]["run_id"].as_str().unwrap().to_string()
}

/// Trains a run with `acc` and registers it as `model@version`.
fn version(repo: &Repo, model: &str, ver: &str, acc: f64) {
    let run = train(repo, acc);
    repo.mlops(&["model", "register", model, "--run", &run, "--version", ver])
        .ok();
}

fn promote(repo: &Repo, args: &[&str]) -> Out {
    let mut all = vec!["promote"];
    all.extend_from_slice(args);
    repo.mlops(&all)
}

/// The model's ref, or `None` when it does not exist.
fn tip(repo: &Repo, model: &str) -> Option<String> {
    let out = repo.git(&[
        "rev-parse",
        "--verify",
        "-q",
        &format!("refs/mlops/models/{model}"),
    ]);
    (out.code == 0).then(|| out.stdout.trim().to_string())
}

/// Every record of an entity ref in chain order (oldest first), read with
/// plain git: each commit adds exactly one `<kind>/<hex>.json`.
fn chain(repo: &Repo, refname: &str) -> Vec<Value> {
    let commits = repo
        .git(&["rev-list", "--reverse", "--first-parent", refname])
        .ok()
        .stdout;
    commits
        .lines()
        .map(|c| {
            let files = repo
                .git(&[
                    "diff-tree",
                    "-r",
                    "--root",
                    "--no-commit-id",
                    "--name-only",
                    "--diff-filter=A",
                    c,
                ])
                .ok()
                .stdout;
            // Records only: not the layout marker, not attachments.
            let added: Vec<&str> = files
                .lines()
                .filter(|f| f.ends_with(".json") && !f.starts_with("attachments/"))
                .collect();
            assert_eq!(added.len(), 1, "one record per commit: {added:?}");
            let blob = repo
                .git(&["cat-file", "blob", &format!("{c}:{}", added[0])])
                .ok()
                .stdout;
            serde_json::from_str(&blob).unwrap()
        })
        .collect()
}

/// The promotion, rollback and deprecation records of a model, oldest first.
fn moves(repo: &Repo, model: &str) -> Vec<Value> {
    chain(repo, &format!("refs/mlops/models/{model}"))
        .into_iter()
        .filter(|r| r["kind"] != "model-version")
        .collect()
}

fn gate<'a>(eval: &'a Value, name: &str) -> &'a Value {
    eval["evaluation"]["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == name)
        .unwrap_or_else(|| panic!("no gate `{name}` in {eval:#}"))
}

fn resolve_version(repo: &Repo, spec: &str) -> Out {
    repo.mlops(&["resolve", spec, "--json"])
}

#[track_caller]
fn assert_one_line_error(out: &Out, needle: &str) {
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line:\n{}", out.stderr);
    assert!(errors[0].contains(needle), "{needle}:\n{}", out.stderr);
    assert!(
        out.stderr.lines().any(|l| l.starts_with("hint: ")),
        "a hint:\n{}",
        out.stderr
    );
}

/// A command with extra environment (CI variables), captured.
fn run_with_env(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = repo.mlops_cmd(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    crate::support::capture(cmd)
}

const STAGING_090: &str = r#"
[models.fraud]
owner = "risk@bank.example"
[models.fraud.gates.staging]
metrics = ["acc >= 0.9"]
"#;

// ---------------------------------------------------------------------------
// gates

#[test]
fn metric_threshold_gate_passes_and_fails_and_check_records_nothing() {
    let repo = repo_with(STAGING_090);
    version(&repo, "fraud", "1.0.0", 0.91);
    version(&repo, "fraud", "1.1.0", 0.85);
    let before = tip(&repo, "fraud").unwrap();

    let pass = promote(
        &repo,
        &["fraud@1.0.0", "--to", "staging", "--check", "--json"],
    )
    .code(0)
    .json();
    assert_eq!(pass["evaluation"]["pass"], true);
    assert!(pass["recorded"].is_null());
    let g = gate(&pass, "metric acc");
    assert_eq!(g["expected"], "acc >= 0.9");
    assert_eq!(g["actual"], "0.91");
    assert_eq!(g["pass"], true);

    let fail = promote(
        &repo,
        &["fraud@1.1.0", "--to", "staging", "--check", "--json"],
    )
    .code(1)
    .json();
    assert_eq!(fail["evaluation"]["pass"], false);
    assert_eq!(gate(&fail, "metric acc")["actual"], "0.85");
    assert_eq!(gate(&fail, "metric acc")["pass"], false);
    // The table form says so too, and still exits 1.
    let table = promote(&repo, &["fraud@1.1.0", "--to", "staging", "--check"]).code(1);
    assert!(table.stdout.contains("FAIL"), "{}", table.stdout);
    assert!(
        table.stdout.contains("cannot be promoted"),
        "{}",
        table.stdout
    );
    assert_eq!(
        tip(&repo, "fraud").unwrap(),
        before,
        "--check records nothing"
    );

    // A refused promotion exits 1, says why, and records nothing.
    let refused = promote(&repo, &["fraud@1.1.0", "--to", "staging"]).code(1);
    assert!(
        refused
            .stderr
            .contains("error: promotion refused: 1 gate(s) failed"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("hint: "), "{}", refused.stderr);
    assert_eq!(tip(&repo, "fraud").unwrap(), before);

    let ok = promote(&repo, &["fraud@1.0.0", "--to", "staging", "--json"])
        .ok()
        .json();
    assert!(ok["recorded"].as_str().unwrap().starts_with("sha256:"));
    let recorded = moves(&repo, "fraud");
    assert_eq!(recorded.len(), 1);
    let p = &recorded[0];
    assert_eq!(p["kind"], "promotion");
    assert_eq!(p["version"], "1.0.0");
    assert_eq!(p["to_stage"], "staging");
    assert!(p["from_stage"].is_null());
    assert!(p["replaces"].is_null());
    assert_eq!(p["decision"], "promoted");
    assert_eq!(p["override"], false);
    assert_eq!(p["actor"], "Test User <test@example.com>");
    assert_eq!(p["inventory"]["owner"], "risk@bank.example");
    assert_eq!(p["gates"][0]["gate"], "metric acc");
    assert_eq!(p["gates"][0]["expected"], "acc >= 0.9");
    assert_eq!(p["gates"][0]["actual"], "0.91");
    assert_eq!(p["gates"][0]["pass"], true);
    // `--check` of a version that already passed a promotion still records nothing.
    let t = tip(&repo, "fraud");
    promote(&repo, &["fraud@1.0.0", "--to", "staging", "--check"]).ok();
    assert_eq!(tip(&repo, "fraud"), t);
    // Promoting again to the stage it holds is a no-op, not a second record.
    let again = promote(&repo, &["fraud@1.0.0", "--to", "staging"]).ok();
    assert!(again.stderr.contains("already holds"), "{}", again.stderr);
    assert_eq!(tip(&repo, "fraud"), t);
}

#[test]
fn a_metric_the_version_does_not_have_fails_its_gate() {
    let repo =
        repo_with("[models.fraud.gates.staging]\nmetrics = [\"auc >= 0.5\", \"acc < 0.95\"]\n");
    version(&repo, "fraud", "1.0.0", 0.91);
    let out = promote(
        &repo,
        &["fraud@1.0.0", "--to", "staging", "--check", "--json"],
    )
    .code(1)
    .json();
    assert_eq!(gate(&out, "metric auc")["actual"], "auc missing");
    assert_eq!(gate(&out, "metric auc")["pass"], false);
    assert_eq!(gate(&out, "metric acc")["pass"], true);
}

#[test]
fn current_relative_gate_compares_with_the_version_in_the_stage() {
    let repo = repo_with(
        r#"
[models.fraud]
stages = ["production"]
[models.fraud.gates.production]
metrics = ["acc >= current - 0.01"]
"#,
    );
    version(&repo, "fraud", "1.0.0", 0.91);
    version(&repo, "fraud", "1.1.0", 0.905);
    version(&repo, "fraud", "1.2.0", 0.89);

    // Nothing in the stage yet: the relative gate has nothing to compare with and passes.
    let first = promote(&repo, &["fraud@1.0.0", "--to", "production", "--json"])
        .ok()
        .json();
    let g = gate(&first, "metric acc");
    assert!(
        g["expected"]
            .as_str()
            .unwrap()
            .contains("no current version in `production`"),
        "{g}"
    );
    assert_eq!(g["pass"], true);

    // 0.89 < 0.91 - 0.01: fails, and says against which version.
    let worse = promote(
        &repo,
        &["fraud@1.2.0", "--to", "production", "--check", "--json"],
    )
    .code(1)
    .json();
    let g = gate(&worse, "metric acc");
    assert_eq!(g["expected"], "acc >= 0.9 (v1.0.0 0.91 -0.01)");
    assert_eq!(g["actual"], "0.89");
    assert_eq!(worse["evaluation"]["current"]["version"], "1.0.0");

    // 0.905 is within the margin: passes and replaces 1.0.0.
    promote(&repo, &["fraud@1.1.0", "--to", "production"]).ok();
    let m = moves(&repo, "fraud");
    assert_eq!(m.len(), 2);
    assert_eq!(m[1]["version"], "1.1.0");
    assert_eq!(m[1]["replaces"], "1.0.0");
    // Now measured against 1.1.0 (0.905 - 0.01 = 0.895): 1.2.0 still fails.
    let g2 = promote(
        &repo,
        &["fraud@1.2.0", "--to", "production", "--check", "--json"],
    )
    .code(1)
    .json();
    assert_eq!(
        gate(&g2, "metric acc")["expected"],
        "acc >= 0.895 (v1.1.0 0.905 -0.01)"
    );
}

#[test]
fn stage_order_requires_the_previous_stage_unless_skipped() {
    let repo = repo_with("[models.fraud]\nowner = \"risk\"\n");
    version(&repo, "fraud", "1.0.0", 0.91);
    let out = promote(&repo, &["fraud@1.0.0", "--to", "production", "--json"])
        .code(1)
        .json();
    let g = gate(&out, "stage order");
    assert_eq!(g["expected"], "was in `staging` before `production`");
    assert_eq!(g["actual"], "never in `staging`");
    assert!(moves(&repo, "fraud").is_empty());

    promote(&repo, &["fraud@1.0.0", "--to", "staging"]).ok();
    // By stage name: the version now in staging goes to production.
    let out = promote(&repo, &["fraud@staging", "--to", "production", "--json"])
        .ok()
        .json();
    assert_eq!(gate(&out, "stage order")["pass"], true);
    let m = moves(&repo, "fraud");
    assert_eq!(m[1]["from_stage"], "staging");
    assert_eq!(m[1]["to_stage"], "production");

    // A custom order with the check switched off for one stage.
    let repo = repo_with(
        r#"
[models.fraud]
stages = ["dev", "staging", "production"]
[models.fraud.gates.staging]
skip_stage_order = true
"#,
    );
    version(&repo, "fraud", "1.0.0", 0.91);
    promote(&repo, &["fraud@1.0.0", "--to", "staging"]).ok();
    promote(&repo, &["fraud@1.0.0", "--to", "production"]).ok();
    let out = promote(&repo, &["fraud@latest", "--to", "dev", "--json"])
        .ok()
        .json();
    assert!(
        out["evaluation"]["gates"].as_array().unwrap().is_empty(),
        "the first stage has no order gate"
    );
}

#[test]
fn approvals_count_distinct_allowed_approvers_and_never_the_promoter() {
    // Asserted approvals (`--approved-by`) count only where the gate says
    // `signed = false`; signed ones are tested in governance.rs.
    let repo = repo_with(
        r#"
[models.fraud]
stages = ["production"]
[models.fraud.gates.production]
approvals = 2
signed = false
approvers = ["alice@bank.example", "bob@bank.example", "test@example.com"]
"#,
    );
    version(&repo, "fraud", "1.0.0", 0.91);

    let none = promote(
        &repo,
        &["fraud@1.0.0", "--to", "production", "--check", "--json"],
    )
    .code(1)
    .json();
    let g = gate(&none, "approvals");
    assert_eq!(
        g["expected"],
        "2 of alice@bank.example, bob@bank.example, test@example.com"
    );
    assert_eq!(g["actual"], "0 counted");

    // The promoter (test@example.com, the git identity) approving themself is
    // not counted, nor is someone outside the list, nor a repeated approver
    // (in whatever case it is typed), nor an empty name.
    let out = promote(
        &repo,
        &[
            "fraud@1.0.0",
            "--to",
            "production",
            "--approved-by",
            "test@example.com",
            "--approved-by",
            "Mallory <mallory@bank.example>",
            "--approved-by",
            "alice@bank.example",
            "--approved-by",
            "ALICE@bank.example",
            "--approved-by",
            "",
            "--json",
        ],
    )
    .code(1)
    .json();
    let g = gate(&out, "approvals");
    assert_eq!(g["pass"], false);
    let actual = g["actual"].as_str().unwrap();
    assert!(
        actual.starts_with("1 counted: alice@bank.example (asserted)"),
        "{actual}"
    );
    assert!(
        actual.contains("test@example.com — the promoter cannot approve their own promotion"),
        "{actual}"
    );
    assert!(
        actual.contains("mallory@bank.example — not on the gate's list of approvers"),
        "{actual}"
    );
    assert!(
        actual.contains("alice@bank.example — counted once already"),
        "{actual}"
    );
    assert!(tip(&repo, "fraud").is_some() && moves(&repo, "fraud").is_empty());

    // Two distinct allowed approvers, one given with a display name.
    promote(
        &repo,
        &[
            "fraud@1.0.0",
            "--to",
            "production",
            "--approved-by",
            "Alice <alice@bank.example>",
            "--approved-by",
            "bob@bank.example",
            "--reason",
            "quarterly release",
        ],
    )
    .ok();
    let p = &moves(&repo, "fraud")[0];
    assert_eq!(p["reason"], "quarterly release");
    let approvals = p["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 2);
    assert_eq!(approvals[0]["who"], "alice@bank.example");
    assert_eq!(approvals[0]["source"], "asserted");
    assert_eq!(approvals[0]["counted"], true);
    assert_eq!(approvals[0]["when"], "2026-03-01T09:00:00.000000Z");
    assert_eq!(approvals[1]["who"], "bob@bank.example");
    assert_eq!(p["gates"][0]["pass"], true);
    // The promotion names the policy it was checked against: the committed
    // mlops.toml's blob.
    let blob = repo.git(&["rev-parse", "HEAD:mlops.toml"]).ok().stdout;
    assert_eq!(p["policy"]["blob"], blob.trim());
}

#[test]
fn approvals_without_a_list_accept_anyone_but_the_promoter() {
    let repo = repo_with(
        "[models.fraud]\nstages = [\"production\"]\n[models.fraud.gates.production]\napprovals = 1\nsigned = false\n",
    );
    version(&repo, "fraud", "1.0.0", 0.91);
    let own = promote(
        &repo,
        &[
            "fraud@1.0.0",
            "--to",
            "production",
            "--approved-by",
            "Test User <TEST@example.com>",
            "--check",
            "--json",
        ],
    )
    .code(1)
    .json();
    assert_eq!(gate(&own, "approvals")["pass"], false);
    let other = promote(
        &repo,
        &[
            "fraud@1.0.0",
            "--to",
            "production",
            "--approved-by",
            "carol@anywhere.example",
            "--check",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(gate(&other, "approvals")["pass"], true);
}

#[test]
fn model_card_gate_needs_the_listed_fields_filled_in() {
    let toml = |limitations: &str| {
        format!(
            r#"
[models.fraud]
purpose = "flag card fraud for review"
limitations = "{limitations}"
card = {{ training_data = "transactions 2025" }}
stages = ["production"]
[models.fraud.gates.production]
card = ["purpose", "limitations", "training_data"]
"#
        )
    };
    let repo = repo_with(&toml("  "));
    version(&repo, "fraud", "1.0.0", 0.91);
    let out = promote(&repo, &["fraud@1.0.0", "--to", "production", "--json"])
        .code(1)
        .json();
    let g = gate(&out, "model card");
    assert_eq!(g["expected"], "filled: purpose, limitations, training_data");
    assert_eq!(g["actual"], "missing: limitations");
    assert!(moves(&repo, "fraud").is_empty());

    repo.commit_file("mlops.toml", &toml("not for corporate cards"));
    let out = promote(&repo, &["fraud@1.0.0", "--to", "production", "--json"])
        .ok()
        .json();
    assert_eq!(gate(&out, "model card")["actual"], "all filled");
    let p = &moves(&repo, "fraud")[0];
    assert_eq!(p["inventory"]["limitations"], "not for corporate cards");
    assert_eq!(p["inventory"]["card"]["training_data"], "transactions 2025");
}

// ---------------------------------------------------------------------------
// override, rollback, deprecation, resolve

#[test]
fn force_needs_a_reason_and_is_recorded_as_an_override() {
    let repo = repo_with(STAGING_090);
    version(&repo, "fraud", "1.0.0", 0.85);
    let before = tip(&repo, "fraud");

    let out = promote(&repo, &["fraud@1.0.0", "--to", "staging", "--force"]).code(2);
    assert_one_line_error(&out, "`--force` needs a `--reason`");
    let out = promote(
        &repo,
        &["fraud@1.0.0", "--to", "staging", "--force", "--reason", " "],
    )
    .code(2);
    assert_one_line_error(&out, "`--force` needs a `--reason`");
    assert_eq!(tip(&repo, "fraud"), before);

    let out = promote(
        &repo,
        &[
            "fraud@1.0.0",
            "--to",
            "staging",
            "--force",
            "--reason",
            "hotfix INC-1234",
        ],
    )
    .ok();
    assert!(out.stdout.contains("OVERRIDE"), "{}", out.stdout);
    let p = &moves(&repo, "fraud")[0];
    assert_eq!(p["override"], true);
    assert_eq!(p["decision"], "overridden");
    assert_eq!(p["reason"], "hotfix INC-1234");
    assert_eq!(p["gates"][0]["pass"], false, "the failed gate is kept");
    let history = repo
        .mlops(&["model", "history", "fraud", "--json"])
        .ok()
        .json();
    assert!(history[0]["summary"]
        .as_str()
        .unwrap()
        .starts_with("override: promote fraud@1.0.0 to staging"));
    assert_eq!(history[0]["reason"], "hotfix INC-1234");

    // `--force` when the gates pass is an ordinary promotion.
    version(&repo, "fraud", "1.1.0", 0.95);
    promote(
        &repo,
        &["fraud@1.1.0", "--to", "staging", "--force", "--reason", "x"],
    )
    .ok();
    let p = &moves(&repo, "fraud")[1];
    assert_eq!(p["override"], false);
    assert_eq!(p["decision"], "promoted");
}

#[test]
fn rollback_to_the_previous_and_to_a_named_version() {
    let repo = repo_with("[models.fraud]\nowner = \"risk\"\n");
    for (v, acc) in [("1.0.0", 0.9), ("1.1.0", 0.91), ("1.2.0", 0.92)] {
        version(&repo, "fraud", v, acc);
    }
    // Nothing in the stage: nothing to roll back.
    let out = repo
        .mlops(&["rollback", "fraud", "--stage", "staging", "--reason", "x"])
        .code(2);
    assert_one_line_error(&out, "no version of model `fraud` is in stage `staging`");
    promote(&repo, &["fraud@1.0.0", "--to", "staging"]).ok();
    // One version only: nothing earlier.
    let before = tip(&repo, "fraud");
    let out = repo
        .mlops(&["rollback", "fraud", "--stage", "staging", "--reason", "x"])
        .code(2);
    assert_one_line_error(&out, "has no earlier version to roll back to");
    assert_eq!(tip(&repo, "fraud"), before);

    promote(&repo, &["fraud@1.1.0", "--to", "staging"]).ok();
    promote(&repo, &["fraud@1.2.0", "--to", "staging"]).ok();
    let out = repo
        .mlops(&[
            "rollback",
            "fraud",
            "--stage",
            "staging",
            "--reason",
            "latency regression",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(out["rollback"]["version"], "1.1.0");
    let v = resolve_version(&repo, "fraud@staging").ok().json();
    assert_eq!(v["version"], "1.1.0");
    let m = moves(&repo, "fraud");
    let r = m.last().unwrap();
    assert_eq!(r["kind"], "rollback");
    assert_eq!(r["decision"], "rolled-back");
    assert_eq!(r["to_stage"], "staging");
    assert_eq!(r["replaces"], "1.2.0");
    assert_eq!(r["reason"], "latency regression");

    // To a named version.
    repo.mlops(&[
        "rollback", "fraud", "--stage", "staging", "--to", "1.0.0", "--reason", "audit",
    ])
    .ok();
    assert_eq!(
        resolve_version(&repo, "fraud@staging").ok().json()["version"],
        "1.0.0"
    );
    let r = moves(&repo, "fraud").pop().unwrap();
    assert_eq!(r["replaces"], "1.1.0");

    // Named version errors: unknown, or the one already there.
    let before = tip(&repo, "fraud");
    let out = repo
        .mlops(&[
            "rollback", "fraud", "--stage", "staging", "--to", "9.9.9", "--reason", "x",
        ])
        .code(2);
    assert_one_line_error(&out, "model `fraud` has no version `9.9.9`");
    let out = repo
        .mlops(&[
            "rollback", "fraud", "--stage", "staging", "--to", "1.0.0", "--reason", "x",
        ])
        .code(2);
    assert!(out.stderr.contains("already holds"), "{}", out.stderr);
    let out = repo
        .mlops(&["rollback", "fraud", "--stage", "qa", "--reason", "x"])
        .code(2);
    assert!(out.stderr.contains("has no stage `qa`"), "{}", out.stderr);
    assert_eq!(tip(&repo, "fraud"), before);
}

#[test]
fn repeated_rollbacks_walk_further_back_instead_of_undoing_themselves() {
    let repo = repo_with("[models.fraud]\nowner = \"risk\"\n");
    for (v, acc) in [("1.0.0", 0.9), ("1.1.0", 0.91), ("1.2.0", 0.92)] {
        version(&repo, "fraud", v, acc);
        promote(&repo, &[&format!("fraud@{v}"), "--to", "staging"]).ok();
    }
    let rollback = |repo: &Repo| {
        repo.mlops(&[
            "rollback", "fraud", "--stage", "staging", "--reason", "bad", "--json",
        ])
    };
    assert_eq!(rollback(&repo).ok().json()["rollback"]["version"], "1.1.0");
    // The version just rolled back from is not "the previous one".
    assert_eq!(rollback(&repo).ok().json()["rollback"]["version"], "1.0.0");
    let out = rollback(&repo).code(2);
    assert_one_line_error(&out, "has no earlier version to roll back to");
}

#[test]
fn deprecate_leaves_the_stage_is_skipped_by_latest_and_cannot_be_promoted() {
    let repo = repo_with("[models.fraud]\nowner = \"risk\"\n");
    version(&repo, "fraud", "1.0.0", 0.9);
    version(&repo, "fraud", "1.1.0", 0.91);
    promote(&repo, &["fraud@1.1.0", "--to", "staging"]).ok();
    assert_eq!(
        resolve_version(&repo, "fraud@latest").ok().json()["version"],
        "1.1.0"
    );

    let out = repo
        .mlops(&[
            "model",
            "deprecate",
            "fraud@1.1.0",
            "--reason",
            "leaks labels",
        ])
        .ok();
    assert!(out.stdout.contains("leaves staging"), "{}", out.stdout);
    let d = moves(&repo, "fraud").pop().unwrap();
    assert_eq!(d["kind"], "deprecation");
    assert_eq!(d["decision"], "deprecated");
    assert_eq!(d["from_stage"], "staging");
    assert!(d["to_stage"].is_null());
    assert_eq!(d["reason"], "leaks labels");

    let out = resolve_version(&repo, "fraud@staging").code(2);
    assert_one_line_error(&out, "no version of model `fraud` is in stage `staging`");
    assert_eq!(
        resolve_version(&repo, "fraud@latest").ok().json()["version"],
        "1.0.0"
    );
    let list = repo.mlops(&["model", "list", "--json"]).ok().json();
    assert_eq!(list[0]["latest"], "1.0.0");
    assert_eq!(list[0]["stages"], serde_json::json!({}));
    let show = repo
        .mlops(&["model", "show", "fraud@1.1.0", "--json"])
        .ok()
        .json();
    assert_eq!(show["deprecated"], true);
    assert_eq!(show["stages"], serde_json::json!([]));

    let before = tip(&repo, "fraud");
    let out = promote(&repo, &["fraud@1.1.0", "--to", "staging", "--json"])
        .code(1)
        .json();
    assert_eq!(gate(&out, "not deprecated")["pass"], false);
    assert_eq!(tip(&repo, "fraud"), before);
    let out = repo.mlops(&["model", "deprecate", "fraud@1.1.0"]).code(2);
    assert!(out.stderr.contains("already deprecated"), "{}", out.stderr);
    let out = repo.mlops(&["model", "deprecate", "fraud@staging"]).code(2);
    assert!(
        out.stderr.contains("does not name a version"),
        "{}",
        out.stderr
    );
}

#[test]
fn resolve_prints_artifact_hashes_for_deploy_scripts() {
    let repo = repo_with("[models.fraud]\nstages = [\"production\"]\n");
    repo.write("model/weights.bin", "weights v1");
    repo.write("model/config.json", "{}");
    let run = train(&repo, 0.9);
    repo.mlops(&[
        "model",
        "register",
        "fraud",
        "--run",
        &run,
        "--artifact",
        "model",
        "--version",
        "2.0.0",
    ])
    .ok();
    promote(&repo, &["fraud@2.0.0", "--to", "production"]).ok();
    let sha = |s: &str| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(s.as_bytes()))
    };
    let text = repo.mlops(&["resolve", "fraud@production"]).ok().stdout;
    assert_eq!(
        text,
        format!(
            "{}  model/config.json\n{}  model/weights.bin\n",
            sha("{}"),
            sha("weights v1")
        )
    );
    let j = resolve_version(&repo, "fraud@production").ok().json();
    assert_eq!(j["model"], "fraud");
    assert_eq!(j["version"], "2.0.0");
    assert!(j["record"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(j["artifacts"][1]["path"], "model/weights.bin");
    assert_eq!(j["artifacts"][1]["sha256"], sha("weights v1"));
    assert_eq!(j["artifacts"][1]["size"], 10);
    // A version or `latest` resolves the same way; the bare name means latest.
    assert_eq!(resolve_version(&repo, "fraud@2.0.0").ok().json(), j);
    assert_eq!(resolve_version(&repo, "fraud").ok().json(), j);
}

#[test]
fn unknown_model_version_or_stage_is_exit_2_with_a_hint() {
    let repo = repo_with(STAGING_090);
    for args in [
        &["promote", "nope@1.0.0", "--to", "staging"][..],
        &["promote", "nope@1.0.0", "--to", "staging", "--check"],
        &["resolve", "nope@production"],
        &["model", "show", "nope"],
        &["model", "history", "nope"],
        &["rollback", "nope", "--stage", "staging", "--reason", "x"],
        &["model", "deprecate", "nope@1.0.0"],
    ] {
        let out = repo.mlops(args).code(2);
        assert_one_line_error(&out, "model `nope` does not exist");
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    version(&repo, "fraud", "1.0.0", 0.95);
    let before = tip(&repo, "fraud");
    let out = promote(&repo, &["fraud@1.4.0", "--to", "staging"]).code(2);
    assert_one_line_error(&out, "model `fraud` has no version `1.4.0`");
    assert!(
        out.stderr.contains("hint: `mlops model show fraud`"),
        "{}",
        out.stderr
    );
    let out = repo.mlops(&["model", "show", "fraud@1.4.0"]).code(2);
    assert_one_line_error(&out, "model `fraud` has no version `1.4.0`");
    let out = promote(&repo, &["fraud@1.0.0", "--to", "qa"]).code(2);
    assert_one_line_error(&out, "model `fraud` has no stage `qa`");
    assert!(out.stderr.contains("staging, production"), "{}", out.stderr);
    let out = promote(&repo, &["fraud@1.0.0", "--to", "qa", "--check"]).code(2);
    assert_one_line_error(&out, "model `fraud` has no stage `qa`");
    let out = promote(&repo, &["fraud@production", "--to", "staging"]).code(2);
    assert_one_line_error(&out, "no version of model `fraud` is in stage `production`");
    let out = promote(&repo, &["fraud", "--to", "staging"]).code(2);
    assert_one_line_error(&out, "`fraud` does not name a version");
    let out = promote(&repo, &["fraud@1.x", "--to", "staging"]).code(2);
    assert_one_line_error(&out, "is not a semantic version");
    let out = repo
        .mlops(&["model", "register", "fraud", "--artifact", "missing.bin"])
        .code(2);
    assert_one_line_error(&out, "artifact `missing.bin` does not exist");
    repo.write("m.bin", "x");
    let out = repo
        .mlops(&[
            "model",
            "register",
            "fraud",
            "--artifact",
            "m.bin",
            "--version",
            "1.0.0",
        ])
        .code(2);
    assert_one_line_error(&out, "model `fraud` already has version `1.0.0`");
    assert_eq!(tip(&repo, "fraud"), before, "nothing was written");
}

// ---------------------------------------------------------------------------
// reading: list, show, history

#[test]
fn list_show_and_history_as_tables_and_json() {
    let repo = repo_with(
        r#"
[models.fraud]
owner = "risk@bank.example"
risk_tier = "high"
purpose = "flag card fraud"
[models.churn]
owner = "growth"
"#,
    );
    assert!(repo.mlops(&["model", "list", "--json"]).ok().json()[0]["versions"] == 0);
    version(&repo, "fraud", "1.0.0", 0.9);
    let run = train(&repo, 0.93);
    repo.mlops(&[
        "model",
        "register",
        "fraud",
        "--run",
        &run,
        "-m",
        "more data",
    ])
    .ok();
    promote(&repo, &["fraud@1.0.0", "--to", "staging"]).ok();
    promote(&repo, &["fraud@1.0.0", "--to", "production"]).ok();
    promote(
        &repo,
        &["fraud@1.1.0", "--to", "staging", "--reason", "retrained"],
    )
    .ok();

    let list = repo.mlops(&["model", "list", "--json"]).ok().json();
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2, "models from the config are listed too");
    assert_eq!(rows[0]["model"], "churn");
    assert_eq!(rows[0]["versions"], 0);
    assert!(rows[0]["latest"].is_null());
    let f = &rows[1];
    assert_eq!(f["model"], "fraud");
    assert_eq!(f["owner"], "risk@bank.example");
    assert_eq!(f["risk_tier"], "high");
    assert_eq!(f["purpose"], "flag card fraud");
    assert_eq!(f["versions"], 2);
    assert_eq!(f["latest"], "1.1.0", "--bump minor by default");
    assert_eq!(
        f["stages"],
        serde_json::json!({"production": "1.0.0", "staging": "1.1.0"})
    );
    let table = repo.mlops(&["model", "list"]).ok().stdout;
    assert!(table.contains("production=1.0.0 staging=1.1.0"), "{table}");
    assert!(table.contains("risk@bank.example"), "{table}");

    let show = repo
        .mlops(&["model", "show", "fraud", "--json"])
        .ok()
        .json();
    let versions = show.as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["version"], "1.0.0");
    assert_eq!(versions[0]["stages"], serde_json::json!(["production"]));
    assert_eq!(
        versions[0]["stages_reached"],
        serde_json::json!(["production", "staging"])
    );
    assert_eq!(versions[1]["metrics"]["acc"], 0.93);
    assert_eq!(versions[1]["run_id"], run.as_str());
    assert_eq!(versions[1]["description"], "more data");
    assert_eq!(versions[1]["inventory"]["risk_tier"], "high");
    let one = repo
        .mlops(&["model", "show", "fraud@production", "--json"])
        .ok()
        .json();
    assert_eq!(one["version"], "1.0.0");
    assert_eq!(one["actor"], "Test User <test@example.com>");
    let text = repo.mlops(&["model", "show", "fraud@1.1.0"]).ok().stdout;
    assert!(text.contains("model       fraud@1.1.0"), "{text}");
    assert!(text.contains(&format!("run         {run}")), "{text}");
    assert!(text.contains("acc = 0.93"), "{text}");

    let history = repo
        .mlops(&["model", "history", "fraud", "--json"])
        .ok()
        .json();
    let events: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "promote fraud@1.1.0 to staging (replaces 1.0.0)",
            "promote fraud@1.0.0 to production",
            "promote fraud@1.0.0 to staging",
            "register fraud@1.1.0",
            "register fraud@1.0.0",
        ],
        "newest first"
    );
    assert_eq!(history[0]["reason"], "retrained");
    assert_eq!(history[0]["kind"], "promotion");
    assert_eq!(history[0]["actor"], "Test User <test@example.com>");
    assert_eq!(history[0]["created_at"], "2026-03-01T09:00:00.000000Z");
    let table = repo.mlops(&["model", "history", "fraud"]).ok().stdout;
    assert!(table.contains("retrained"), "{table}");
}

// ---------------------------------------------------------------------------
// CI

#[test]
fn ci_context_lands_in_the_record_and_the_step_summary_gets_the_verdict() {
    let repo = repo_with(STAGING_090);
    version(&repo, "fraud", "1.0.0", 0.95);
    let summary = repo.home.join("step-summary.md");
    std::fs::write(&summary, "# earlier step\n").unwrap();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "bank/fraud-model"),
        ("GITHUB_RUN_ID", "987654321"),
        ("GITHUB_REF", "refs/pull/42/merge"),
        ("GITHUB_ACTOR", "octocat"),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    // The pull request's check: a verdict in the summary, nothing recorded.
    let before = tip(&repo, "fraud");
    run_with_env(
        &repo,
        &[
            "promote",
            "fraud@1.0.0",
            "--to",
            "staging",
            "--check",
            "--format",
            "md",
        ],
        &env,
    )
    .ok();
    assert_eq!(tip(&repo, "fraud"), before);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.starts_with("# earlier step\n"),
        "appended, not replaced"
    );
    assert!(
        text.contains("<!-- mlops-verdict model=fraud stage=staging -->"),
        "{text}"
    );
    assert!(text.contains("can be promoted to `staging`"), "{text}");

    run_with_env(&repo, &["promote", "fraud@1.0.0", "--to", "staging"], &env).ok();
    let text = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(text.matches("<!-- mlops-verdict").count(), 2, "{text}");

    // Read the record with plain git.
    let p = &moves(&repo, "fraud")[0];
    let ci = &p["ci"];
    assert_eq!(ci["provider"], "github-actions");
    assert_eq!(
        ci["run_url"],
        "https://github.com/bank/fraud-model/actions/runs/987654321"
    );
    assert_eq!(ci["pull_request"], "42");
    assert_eq!(ci["pr_author"], "octocat");
    assert_eq!(ci["actor"], "octocat");
    assert_eq!(ci["commit"], "0123456789abcdef0123456789abcdef01234567");

    // A failing check in CI: exit 1, and the summary says so.
    version(&repo, "fraud", "1.1.0", 0.5);
    run_with_env(
        &repo,
        &["promote", "fraud@1.1.0", "--to", "staging", "--check"],
        &env,
    )
    .code(1);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.contains("## ❌ `fraud@1.1.0` cannot be promoted to `staging`: 1 of 1 gate(s) failed"),
        "{text}"
    );

    // Outside CI there is no context.
    version(&repo, "fraud", "1.2.0", 0.97);
    promote(&repo, &["fraud@1.2.0", "--to", "staging"]).ok();
    assert!(moves(&repo, "fraud").pop().unwrap()["ci"].is_null());
}

#[test]
fn gitlab_ci_context_is_recorded() {
    let repo = repo_with("");
    version(&repo, "fraud", "1.0.0", 0.95);
    run_with_env(
        &repo,
        &["promote", "fraud@1.0.0", "--to", "staging"],
        &[
            ("GITLAB_CI", "true"),
            (
                "CI_PIPELINE_URL",
                "https://gitlab.example/bank/fraud/-/pipelines/7",
            ),
            ("CI_MERGE_REQUEST_IID", "17"),
            ("GITLAB_USER_LOGIN", "dana"),
        ],
    )
    .ok();
    let ci = &moves(&repo, "fraud")[0]["ci"];
    assert_eq!(ci["provider"], "gitlab-ci");
    assert_eq!(
        ci["run_url"],
        "https://gitlab.example/bank/fraud/-/pipelines/7"
    );
    assert_eq!(ci["pull_request"], "17");
    assert_eq!(ci["actor"], "dana");
}

#[test]
fn tags_are_created_only_when_asked_and_never_pushed() {
    let repo = repo_with("");
    let remote = repo.sibling("origin.git");
    repo.git(&["init", "-q", "--bare", remote.to_str().unwrap()])
        .ok();
    repo.git(&["remote", "add", "origin", remote.to_str().unwrap()])
        .ok();
    repo.write("train.py", "print('hi')\n");
    repo.git(&["add", "train.py", "mlops.toml"]).ok();
    repo.git(&["commit", "-q", "-m", "train"]).ok();
    let head = repo
        .git(&["rev-parse", "HEAD"])
        .ok()
        .stdout
        .trim()
        .to_string();

    version(&repo, "fraud", "1.0.0", 0.9);
    promote(&repo, &["fraud@1.0.0", "--to", "staging"]).ok();
    assert!(
        repo.git(&["tag", "-l"]).ok().stdout.is_empty(),
        "no tag unless asked"
    );

    let run = train(&repo, 0.91);
    repo.mlops(&[
        "model",
        "register",
        "fraud",
        "--run",
        &run,
        "--version",
        "1.1.0",
        "--tag",
    ])
    .ok();
    promote(&repo, &["fraud@1.1.0", "--to", "staging", "--tag"]).ok();
    let tags = repo.git(&["tag", "-l"]).ok().stdout;
    assert_eq!(tags, "mlops/fraud/staging\nmlops/fraud/v1.1.0\n");
    for t in ["mlops/fraud/staging", "mlops/fraud/v1.1.0"] {
        let at = repo
            .git(&["rev-parse", &format!("{t}^{{commit}}")])
            .ok()
            .stdout;
        assert_eq!(at.trim(), head, "{t} points at the code commit");
    }
    // A refused promotion moves no tag.
    version(&repo, "fraud", "1.2.0", 0.92);
    promote(&repo, &["fraud@1.2.0", "--to", "production", "--tag"]).code(1);
    assert!(!repo.git(&["tag", "-l"]).ok().stdout.contains("production"));
    // Nothing left the machine.
    let remote_refs = repo.git(&["ls-remote", "origin"]).ok().stdout;
    assert!(remote_refs.is_empty(), "{remote_refs}");
}

// ---------------------------------------------------------------------------
// concurrency

fn spawn_promote(repo: &Repo, spec: &str, stage: &str) -> std::process::Child {
    let mut cmd = repo.mlops_cmd(&["promote", spec, "--to", stage, "--json"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().expect("spawn a promotion")
}

#[test]
fn two_concurrent_promotions_to_one_stage_form_one_chain() {
    for _ in 0..3 {
        let repo = repo_with("");
        version(&repo, "fraud", "1.0.0", 0.9);
        version(&repo, "fraud", "1.1.0", 0.91);
        let a = spawn_promote(&repo, "fraud@1.0.0", "staging");
        let b = spawn_promote(&repo, "fraud@1.1.0", "staging");
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let refname = "refs/mlops/models/fraud";
        assert!(repo
            .git(&["rev-list", "--merges", refname])
            .ok()
            .stdout
            .is_empty());
        assert_eq!(
            repo.git(&["rev-list", "--count", refname])
                .ok()
                .stdout
                .trim(),
            "4"
        );
        let m = moves(&repo, "fraud");
        assert_eq!(m.len(), 2, "exactly two promotions");
        assert!(m[0]["replaces"].is_null());
        assert_eq!(
            m[1]["replaces"], m[0]["version"],
            "the second replaces the first"
        );
        assert_ne!(m[0]["version"], m[1]["version"]);
        // Each record names the one before it.
        let all = chain(&repo, refname);
        for pair in all.windows(2) {
            let hex = {
                use sha2::Digest;
                let bytes = serde_json::to_vec(&pair[0]).unwrap();
                hex::encode(sha2::Sha256::digest(bytes))
            };
            assert_eq!(pair[1]["prev"], format!("sha256:{hex}"));
        }
        let now = resolve_version(&repo, "fraud@staging").ok().json();
        assert_eq!(now["version"], m[1]["version"]);
    }
}

#[test]
fn the_loser_of_a_race_is_re_evaluated_against_the_winner() {
    // 1.0.0 (0.80) holds production. 1.1.0 (0.90) and 1.2.0 (0.85) both beat
    // it, but once 1.1.0 is in, 1.2.0 no longer beats `current`.
    for _ in 0..4 {
        let repo = repo_with(
            r#"
[models.fraud]
stages = ["production"]
[models.fraud.gates.production]
metrics = ["acc >= current"]
"#,
        );
        version(&repo, "fraud", "1.0.0", 0.8);
        version(&repo, "fraud", "1.1.0", 0.9);
        version(&repo, "fraud", "1.2.0", 0.85);
        promote(&repo, &["fraud@1.0.0", "--to", "production"]).ok();
        let better = spawn_promote(&repo, "fraud@1.1.0", "production");
        let good = spawn_promote(&repo, "fraud@1.2.0", "production");
        let better = better.wait_with_output().unwrap();
        let good = good.wait_with_output().unwrap();
        assert!(
            better.status.success(),
            "1.1.0 passes whatever the order: {}",
            String::from_utf8_lossy(&better.stderr)
        );
        let m = moves(&repo, "fraud");
        let recorded: Vec<&str> = m[1..]
            .iter()
            .map(|p| p["version"].as_str().unwrap())
            .collect();
        match good.status.code() {
            // 1.1.0 won: 1.2.0 was re-evaluated against it and refused.
            Some(1) => {
                assert_eq!(recorded, ["1.1.0"]);
                assert_eq!(m[1]["replaces"], "1.0.0");
                let out: Value = serde_json::from_slice(&good.stdout).unwrap();
                assert_eq!(out["evaluation"]["current"]["version"], "1.1.0");
                assert!(out["recorded"].is_null());
            }
            // 1.2.0 won: 1.1.0 still beats it and replaces it.
            Some(0) => {
                assert_eq!(recorded, ["1.2.0", "1.1.0"]);
                assert_eq!(m[1]["replaces"], "1.0.0");
                assert_eq!(m[2]["replaces"], "1.2.0");
                assert_eq!(m[2]["gates"][0]["expected"], "acc >= 0.85 (v1.2.0 0.85)");
            }
            other => panic!(
                "unexpected exit {other:?}: {}",
                String::from_utf8_lossy(&good.stderr)
            ),
        }
        // Whatever the order, every recorded gate held against what it replaced.
        for p in &m[1..] {
            assert_eq!(p["decision"], "promoted");
            assert_eq!(p["gates"][0]["pass"], true);
        }
        assert_eq!(
            resolve_version(&repo, "fraud@production").ok().json()["version"],
            "1.1.0"
        );
    }
}

// ---------------------------------------------------------------------------
// the markdown verdict

#[test]
fn markdown_verdict_snapshot() {
    let repo = repo_with(
        r#"
[models.fraud]
owner = "risk@bank.example"
purpose = "flag card fraud"
[models.fraud.gates.staging]
metrics = ["acc >= 0.85"]
[models.fraud.gates.production]
metrics = ["acc >= 0.9", "acc >= current + 0.01"]
approvals = 1
card = ["purpose", "limitations"]
"#,
    );
    repo.write("model.bin", "weights");
    let run = train(&repo, 0.9);
    repo.mlops(&[
        "model",
        "register",
        "fraud",
        "--run",
        &run,
        "--artifact",
        "model.bin",
        "--version",
        "1.0.0",
    ])
    .ok();
    let run = train(&repo, 0.905);
    repo.mlops(&[
        "model",
        "register",
        "fraud",
        "--run",
        &run,
        "--artifact",
        "model.bin",
        "--version",
        "1.1.0",
    ])
    .ok();
    promote(&repo, &["fraud@1.0.0", "--to", "staging"]).ok();
    promote(
        &repo,
        &[
            "fraud@1.0.0",
            "--to",
            "production",
            "--force",
            "--reason",
            "first release",
        ],
    )
    .ok();
    const FILTERS: [(&str, &str); 4] = [
        (r"sha256:[0-9a-f]{64}", "sha256:[ID]"),
        (r"\b[0-9a-f]{64}\b", "[SHA256]"),
        (r"\b[0-9a-f]{40}\b", "[COMMIT]"),
        (r"\b\d{8}-\d{6}-[0-9a-f]{6}\b", "[RUN-ID]"),
    ];
    let check = |args: &[&str], code: i32| {
        let mut all = args.to_vec();
        all.extend(["--check", "--format", "md"]);
        promote(&repo, &all).code(code).stdout
    };

    // Passing, against the version now in staging.
    let pass = check(&["fraud@1.1.0", "--to", "staging"], 0);
    promote(&repo, &["fraud@1.1.0", "--to", "staging"]).ok();
    // Failing two of five gates, with the current production version to compare.
    let fail = check(
        &[
            "fraud@1.1.0",
            "--to",
            "production",
            "--approved-by",
            "alice@bank.example",
        ],
        1,
    );
    assert!(fail.starts_with("<!-- mlops-verdict model=fraud stage=production -->\n"));
    insta::with_settings!({filters => FILTERS.to_vec()}, {
        insta::assert_snapshot!("markdown_verdict", fail);
        insta::assert_snapshot!("markdown_verdict_pass", pass);
    });

    // A version that already holds the stage says so, not "no version yet".
    let again = check(&["fraud@1.1.0", "--to", "staging"], 0);
    assert!(
        again.contains("`1.1.0` already holds `staging`."),
        "{again}"
    );
    assert!(!again.contains("No version is in"), "{again}");
}

#[test]
fn verdict_escapes_user_supplied_text() {
    let repo = repo_with("[models.fraud.gates.staging]\nmetrics = [\"acc >= 0.5\"]\n");
    repo.write("a|b<script>.bin", "x");
    repo.mlops(&[
        "model",
        "register",
        "fraud",
        "--artifact",
        "a|b<script>.bin",
        "--version",
        "1.0.0",
    ])
    .ok();
    let md = promote(
        &repo,
        &[
            "fraud@1.0.0",
            "--to",
            "staging",
            "--check",
            "--format",
            "md",
        ],
    )
    .code(1)
    .stdout;
    assert!(!md.contains("<script>"), "{md}");
    assert!(!md.contains("a|b"), "a pipe would break the table: {md}");
}

// ---------------------------------------------------------------------------
// the drift gate
//
// The first test writes the monitor's chain with git plumbing, in the store's
// format (a commit whose tree holds `drift-report/<sha256>.json`, the record in
// canonical JSON whose SHA-256 is its file name): that is the only way to get a
// report with a chosen age under a fixed clock. The second creates the reports
// through `mlops drift`, as a user would.

fn git_stdin(repo: &Repo, args: &[&str], input: &str) -> String {
    let out = repo.git_stdin(args, input);
    assert_eq!(out.code, 0, "git {args:?}: {}", out.stderr);
    out.stdout.trim().to_string()
}

/// Appends a drift report to `refs/mlops/monitors/<monitor>`; returns its id.
fn write_drift_report(
    repo: &Repo,
    monitor: &str,
    created_at: &str,
    drifted: bool,
    prev: Option<&str>,
) -> String {
    let mut record = serde_json::json!({
        "kind": "drift-report",
        "schema": 1,
        "created_at": created_at,
        "actor": "Test User <test@example.com>",
        "tool": "mlops test",
        "summary": format!("drift {monitor}"),
        "monitor": monitor,
        "dataset_drift": drifted,
        "share": if drifted { 0.75 } else { 0.0 },
        "drifted": if drifted { 3 } else { 0 },
        "tested": 4,
        "model": null,
        "report": {"rows": [100, 100], "columns": []},
    });
    if let Some(p) = prev {
        record["prev"] = Value::String(p.to_string());
    }
    // serde_json's map is sorted and `to_string` is compact: the canonical form.
    let bytes = serde_json::to_string(&record).unwrap();
    let hex = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(bytes.as_bytes()))
    };
    let refname = format!("refs/mlops/monitors/{monitor}");
    let parent = repo.git(&["rev-parse", "--verify", "-q", &refname]);
    let parent = (parent.code == 0).then(|| parent.stdout.trim().to_string());
    // Keep the records already there: the tree holds every record of the chain.
    let mut entries = match &parent {
        Some(p) => {
            repo.git(&["ls-tree", &format!("{p}:drift-report")])
                .ok()
                .stdout
        }
        None => String::new(),
    };
    let blob = git_stdin(repo, &["hash-object", "-w", "--stdin"], &bytes);
    entries.push_str(&format!("100644 blob {blob}\t{hex}.json\n"));
    let sub = git_stdin(repo, &["mktree"], &entries);
    let root = git_stdin(
        repo,
        &["mktree"],
        &format!("040000 tree {sub}\tdrift-report\n"),
    );
    let mut args = vec!["commit-tree", root.as_str(), "-m", "drift report"];
    if let Some(p) = &parent {
        args.extend(["-p", p.as_str()]);
    }
    let commit = git_stdin(repo, &args, "");
    repo.git(&["update-ref", &refname, &commit]).ok();
    format!("sha256:{hex}")
}

#[test]
fn drift_gate_needs_a_recent_report_without_drift() {
    let repo = repo_with(
        r#"
[models.fraud]
stages = ["production"]
[models.fraud.gates.production]
drift_monitor = "fraud-inputs"
drift_max_age_days = 7
[monitors.fraud-inputs]
model = "fraud"
"#,
    );
    version(&repo, "fraud", "1.0.0", 0.9);
    let check = |repo: &Repo| {
        promote(
            repo,
            &["fraud@1.0.0", "--to", "production", "--check", "--json"],
        )
        .json()
    };
    // No report at all.
    let out = check(&repo);
    let g = gate(&out, "drift fraud-inputs");
    assert_eq!(g["pass"], false);
    assert_eq!(g["actual"], "no drift report");
    assert_eq!(g["expected"], "no drift in a report at most 7 day(s) old");

    // A report that found drift.
    let first = write_drift_report(
        &repo,
        "fraud-inputs",
        "2026-02-28T09:00:00.000000Z",
        true,
        None,
    );
    // The plumbing wrote a record mlops accepts.
    let log = repo
        .mlops(&["log", "monitor/fraud-inputs", "--json"])
        .ok()
        .json();
    assert_eq!(log[0]["id"], first.as_str());
    let out = check(&repo);
    let g = gate(&out, "drift fraud-inputs");
    assert_eq!(g["pass"], false);
    assert_eq!(g["actual"], "drift, 1.0 day(s) old");
    let list = repo.mlops(&["model", "list", "--json"]).ok().json();
    assert_eq!(list[0]["drift"], "drift (fraud-inputs, 2026-02-28)");
    promote(&repo, &["fraud@1.0.0", "--to", "production"]).code(1);
    assert!(moves(&repo, "fraud").is_empty());

    // The latest report passed: the gate passes.
    let second = write_drift_report(
        &repo,
        "fraud-inputs",
        "2026-02-28T21:00:00.000000Z",
        false,
        Some(&first),
    );
    let out = check(&repo);
    let g = gate(&out, "drift fraud-inputs");
    assert_eq!(g["pass"], true, "{g}");
    assert_eq!(g["actual"], "no drift, 0.5 day(s) old");

    // A clean report that is too old does not count.
    let repo_old = repo_with(&repo.read("mlops.toml"));
    version(&repo_old, "fraud", "1.0.0", 0.9);
    write_drift_report(
        &repo_old,
        "fraud-inputs",
        "2026-02-01T09:00:00.000000Z",
        false,
        None,
    );
    let out = check(&repo_old);
    let g = gate(&out, "drift fraud-inputs");
    assert_eq!(g["pass"], false);
    assert_eq!(g["actual"], "no drift, 28.0 day(s) old");

    // And the passing one is what a promotion records.
    promote(&repo, &["fraud@1.0.0", "--to", "production"]).ok();
    let p = &moves(&repo, "fraud")[0];
    assert_eq!(p["gates"][0]["gate"], "drift fraud-inputs");
    assert_eq!(p["gates"][0]["pass"], true);
    let _ = second;
}

#[test]
fn drift_gate_follows_the_reports_mlops_drift_records() {
    let repo = repo_with(
        r#"
[models.fraud]
stages = ["production"]
[models.fraud.gates.production]
drift_monitor = "fraud-inputs"
[monitors.fraud-inputs]
reference = "data/train.csv"
current = ["data/today.csv"]
model = "fraud"
"#,
    );
    let csv = |shift: i64| {
        let mut s = String::from("amount,channel\n");
        for i in 0..400 {
            let channel = ["web", "pos", "atm"][i % 3];
            s.push_str(&format!("{},{channel}\n", (i % 97) as i64 + shift));
        }
        s
    };
    repo.write("data/train.csv", &csv(0));
    repo.write("data/today.csv", &csv(0));
    version(&repo, "fraud", "1.0.0", 0.9);
    version(&repo, "fraud", "1.1.0", 0.91);

    repo.mlops(&["drift", "fraud-inputs", "-q"]).ok();
    let out = promote(&repo, &["fraud@1.0.0", "--to", "production", "--json"])
        .ok()
        .json();
    let g = gate(&out, "drift fraud-inputs");
    assert_eq!(g["actual"], "no drift, 0.0 day(s) old");

    // Today's data moved: `mlops drift` says so (exit 1), and the gate follows.
    repo.write("data/today.csv", &csv(1000));
    repo.mlops(&["drift", "fraud-inputs", "-q"]).code(1);
    let before = tip(&repo, "fraud");
    let out = promote(&repo, &["fraud@1.1.0", "--to", "production", "--json"])
        .code(1)
        .json();
    let g = gate(&out, "drift fraud-inputs");
    assert_eq!(g["pass"], false);
    assert_eq!(g["actual"], "drift, 0.0 day(s) old");
    assert_eq!(tip(&repo, "fraud"), before);
    let list = repo.mlops(&["model", "list", "--json"]).ok().json();
    assert_eq!(list[0]["drift"], "drift (fraud-inputs, 2026-03-01)");
}

/// Contention forced, not hoped for: the test hook pauses the promotion of
/// 1.2.0 after it read the tip and evaluated its gates; 1.1.0 lands
/// meanwhile. The swap of 1.2.0 is lost, the tip re-read and the gates
/// evaluated again against 1.1.0, which it no longer beats: refused.
#[test]
fn a_promotion_paused_before_its_swap_is_re_evaluated_against_the_winner() {
    let repo = repo_with(
        r#"
[models.fraud]
stages = ["production"]
[models.fraud.gates.production]
metrics = ["acc >= current"]
"#,
    );
    version(&repo, "fraud", "1.0.0", 0.8);
    version(&repo, "fraud", "1.1.0", 0.9);
    version(&repo, "fraud", "1.2.0", 0.85);
    promote(&repo, &["fraud@1.0.0", "--to", "production"]).ok();
    let mut slow = repo.mlops_cmd(&["promote", "fraud@1.2.0", "--to", "production", "--json"]);
    slow.env("MLOPS_TEST_HOOKS", "pause-before-swap=2500")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let slow = slow.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    promote(&repo, &["fraud@1.1.0", "--to", "production"]).ok();
    let out = slow.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let eval: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(eval["evaluation"]["current"]["version"], "1.1.0");
    assert!(eval["recorded"].is_null());
    let recorded: Vec<String> = moves(&repo, "fraud")
        .iter()
        .map(|p| p["version"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(recorded, ["1.0.0", "1.1.0"]);
}
