//! CI as shipped (docs/ci.md): a runner's identity, the fetch refspec
//! `mlops init` sets, and the templates' steps run as a runner would.

use crate::support::Repo;

#[test]
fn a_runner_without_identity_records_as_the_ci_actor_and_names_the_run() {
    let repo = Repo::bare_dir();
    repo.git(&["init", "-q", "-b", "main"]).ok();
    // Outside CI: still an error.
    let out = repo.mlops(&["note", "model/m", "-m", "x"]).code(2);
    assert!(
        out.stderr.contains("git identity is not configured"),
        "{}",
        out.stderr
    );
    // GitHub Actions.
    let mut cmd = repo.mlops_cmd(&["note", "model/m", "-m", "from a workflow"]);
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", "octocat")
        .env("GITHUB_ACTOR_ID", "583231")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "bank/fraud")
        .env("GITHUB_RUN_ID", "42");
    crate::support::capture(cmd).ok();
    let log = repo
        .git(&["log", "-1", "--format=%an <%ae>%n%B", "refs/mlops/models/m"])
        .ok()
        .stdout;
    assert!(
        log.starts_with("octocat <583231+octocat@users.noreply.github.com>"),
        "{log}"
    );
    assert!(
        log.contains("Mlops-CI-Run: https://github.com/bank/fraud/actions/runs/42"),
        "{log}"
    );
    // GitLab CI.
    let mut cmd = repo.mlops_cmd(&["note", "model/m", "-m", "from a pipeline"]);
    cmd.env("GITLAB_CI", "true")
        .env("GITLAB_USER_LOGIN", "riya")
        .env("GITLAB_USER_EMAIL", "riya@bank.example")
        .env(
            "CI_PIPELINE_URL",
            "https://gitlab.example/bank/fraud/-/pipelines/9",
        );
    crate::support::capture(cmd).ok();
    let log = repo
        .git(&["log", "-1", "--format=%an <%ae>%n%B", "refs/mlops/models/m"])
        .ok()
        .stdout;
    assert!(log.starts_with("riya <riya@bank.example>"), "{log}");
    assert!(
        log.contains("Mlops-CI-Run: https://gitlab.example/bank/fraud/-/pipelines/9"),
        "{log}"
    );
    repo.mlops(&["verify"]).code(0);
}

#[test]
fn init_fetches_records_beside_branches_and_readers_point_at_them() {
    // A team repository with records on its remote.
    let team = Repo::new();
    let origin = team.sibling("origin.git");
    team.git(&["init", "-q", "--bare", origin.to_str().unwrap()])
        .ok();
    team.git(&["remote", "add", "origin", origin.to_str().unwrap()])
        .ok();
    team.commit_file("README.md", "fraud model\n");
    team.write("model.bin", "weights");
    team.mlops(&["model", "register", "fraud", "--artifact", "model.bin"])
        .ok();
    team.mlops(&["track", "-q", "--", "true"]).ok();
    team.git(&["push", "-q", "origin", "main"]).ok();
    team.mlops(&["sync"]).ok();

    // A fresh clone has no records; `mlops init` adds the refspec, and a
    // plain `git fetch` brings the records beside the branches.
    let clone = team.sibling("clone");
    team.git(&[
        "clone",
        "-q",
        origin.to_str().unwrap(),
        clone.to_str().unwrap(),
    ])
    .ok();
    team.git_in(&clone, &["config", "user.name", "New Hire"])
        .ok();
    team.git_in(&clone, &["config", "user.email", "new@bank.example"])
        .ok();
    let out = team.mlops_in(&clone, &["init"]).ok();
    assert!(
        out.stdout
            .contains("remote.origin.fetch += refs/mlops/*:refs/remotes/origin/mlops/*"),
        "{}",
        out.stdout
    );
    let specs = team
        .git_in(&clone, &["config", "--get-all", "remote.origin.fetch"])
        .ok()
        .stdout;
    assert!(!specs.contains("+refs/mlops"), "never forced: {specs}");
    // Idempotent.
    let again = team.mlops_in(&clone, &["init"]).ok();
    assert!(
        !again.stdout.contains("remote.origin.fetch +="),
        "{}",
        again.stdout
    );
    team.git_in(&clone, &["fetch", "-q", "origin"]).ok();
    let tracking = team
        .git_in(
            &clone,
            &[
                "for-each-ref",
                "--format=%(refname)",
                "refs/remotes/origin/mlops/",
            ],
        )
        .ok()
        .stdout;
    assert!(
        tracking.contains("refs/remotes/origin/mlops/models/fraud"),
        "{tracking}"
    );
    assert!(
        team.git_in(&clone, &["for-each-ref", "refs/mlops/"])
            .ok()
            .stdout
            .is_empty(),
        "nothing lands on the local refs"
    );
    // Readers say what to do, without a network call.
    let out = team.mlops_in(&clone, &["model", "list"]).ok();
    assert!(out.stdout.contains("no models"));
    assert!(
        out.stderr.contains("mlops sync --no-push"),
        "{}",
        out.stderr
    );
    let out = team.mlops_in(&clone, &["log"]).ok();
    assert!(out.stderr.contains("not merged yet"), "{}", out.stderr);
    team.mlops_in(&clone, &["sync", "--no-push"]).ok();
    let out = team
        .mlops_in(&clone, &["model", "list", "--json"])
        .ok()
        .json();
    assert_eq!(out[0]["model"], "fraud", "{out:#}");
}

// ---------------------------------------------------------------------------
// The templates, run step by step as a runner would (tests/it/runner.rs).

use crate::runner::Runner;
use serde_json::{json, Value};
use std::path::PathBuf;

const VERSION: &str = env!("CARGO_PKG_VERSION");

struct Team {
    dev: Repo,
    origin: PathBuf,
    runner: Runner,
}

fn rows(shift: f64) -> String {
    let mut s = String::from("income,age\n");
    for i in 0..400 {
        s.push_str(&format!(
            "{},{}\n",
            f64::from(i % 97) * 100.0 + shift,
            20 + i % 43
        ));
    }
    s
}

/// A team repository after `mlops init`, with a model (1.0.0 passes the
/// production gate, 1.1.0 does not) and a monitor, shared on a bare remote.
fn team() -> Team {
    let dev = Repo::new();
    let origin = dev.sibling("origin.git");
    dev.git(&["init", "-q", "--bare", origin.to_str().unwrap()])
        .ok();
    dev.git(&["remote", "add", "origin", origin.to_str().unwrap()])
        .ok();
    dev.mlops(&["init"]).ok();
    let toml = dev.read("mlops.toml");
    assert!(
        toml.contains(&format!("mlops_version = \"{VERSION}\"")),
        "the template pins this version"
    );
    dev.write(
        "mlops.toml",
        &format!(
            "[ci]\nmlops_version = \"{VERSION}\"\n\n[models.fraud]\nstages = [\"production\"]\n[models.fraud.gates.production]\nmetrics = [\"auc >= 0.8\"]\n\n[monitors.inputs]\nreference = \"data/ref.csv\"\ncurrent = [\"data/today.csv\"]\n"
        ),
    );
    dev.write("data/ref.csv", &rows(0.0));
    dev.write("data/today.csv", &rows(0.0));
    dev.git(&["add", "-A"]).ok();
    dev.git(&["commit", "-q", "-m", "mlops set up"]).ok();
    dev.git(&["push", "-q", "origin", "main"]).ok();
    for (auc, version) in [(0.9, "1.0.0"), (0.7, "1.1.0")] {
        dev.write("model.bin", &format!("weights {auc}"));
        let run = dev
            .mlops(&[
                "track",
                "--json",
                "--artifact",
                "model.bin",
                "--",
                "sh",
                "-c",
                &format!("echo '{{\"auc\": {auc}}}' >> \"$MLOPS_METRICS\""),
            ])
            .ok()
            .json()["run"]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        dev.mlops(&[
            "model",
            "register",
            "fraud",
            "--run",
            &run,
            "--version",
            version,
        ])
        .ok();
    }
    dev.mlops(&["sync"]).ok();
    let runner = Runner::new(dev.path.parent().unwrap());
    Team {
        dev,
        origin,
        runner,
    }
}

fn rev(repo: &Repo, r: &str) -> String {
    repo.git(&["rev-parse", r]).ok().stdout.trim().to_string()
}

/// A pull request branch with `change` committed; returns its event.
fn pull_request(t: &Team, number: u64, branch: &str, change: impl Fn(&Repo)) -> (Value, String) {
    let dev = &t.dev;
    dev.git(&["checkout", "-q", "-b", branch, "main"]).ok();
    change(dev);
    dev.git(&["add", "-A"]).ok();
    dev.git(&["commit", "-q", "-m", branch]).ok();
    dev.git(&["push", "-q", "origin", branch]).ok();
    let head = rev(dev, "HEAD");
    dev.git(&["checkout", "-q", "main"]).ok();
    let event = json!({
        "number": number,
        "pull_request": {"number": number, "base": {"sha": rev(dev, "main")}, "head": {"sha": head}},
    });
    (event, head)
}

fn workflow(t: &Team, name: &str) -> PathBuf {
    t.dev.path.join(".github/workflows").join(name)
}

fn comments(t: &Team, pr: u64) -> Vec<Value> {
    t.runner.state()[format!("repos/bank/fraud/issues/{pr}/comments")]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_github_promote_workflow_checks_pull_requests_and_promotes_on_merge() {
    let t = team();
    let promote = workflow(&t, "mlops-promote.yml");
    // A pull request requesting 1.0.0: the verdict passes, one comment.
    let (event, head) = pull_request(&t, 1, "release-1.0.0", |r| {
        r.mlops(&["promote", "fraud@1.0.0", "--to", "production", "--request"])
            .ok();
    });
    let run = t.runner.github_job(
        &promote,
        "check",
        &t.origin,
        "pull_request",
        &event,
        &head,
        &json!({}),
    );
    assert!(run.success, "{}", run.log);
    let c = comments(&t, 1);
    assert_eq!(c.len(), 1, "{}", run.log);
    let body = c[0]["body"].as_str().unwrap();
    assert!(body.starts_with("<!-- mlops-verdict"), "{body}");
    assert!(
        body.contains("✅ `fraud@1.0.0` can be promoted to `production`"),
        "{body}"
    );
    assert!(run.summary.contains("can be promoted"), "{}", run.summary);
    // Pushed again: the same comment is updated, not a second one.
    let again = t.runner.github_job(
        &promote,
        "check",
        &t.origin,
        "pull_request",
        &event,
        &head,
        &json!({}),
    );
    assert!(again.success, "{}", again.log);
    assert_eq!(comments(&t, 1).len(), 1);
    assert!(
        t.runner
            .api_log()
            .contains("-X PATCH repos/bank/fraud/issues/comments/"),
        "{}",
        t.runner.api_log()
    );
    // The merge job does not run on a pull request.
    let skipped = t.runner.github_job(
        &promote,
        "promote",
        &t.origin,
        "pull_request",
        &event,
        &head,
        &json!({}),
    );
    assert!(!skipped.ran);

    // A pull request requesting 1.1.0 fails its gate, and only then.
    let (event2, head2) = pull_request(&t, 2, "release-1.1.0", |r| {
        r.mlops(&["promote", "fraud@1.1.0", "--to", "production", "--request"])
            .ok();
    });
    let run = t.runner.github_job(
        &promote,
        "check",
        &t.origin,
        "pull_request",
        &event2,
        &head2,
        &json!({}),
    );
    assert!(!run.success, "{}", run.log);
    assert_eq!(
        run.steps.last().unwrap().0,
        "Fail on a failed gate",
        "{:?}",
        run.steps
    );
    assert!(comments(&t, 2)[0]["body"].as_str().unwrap().contains("❌"));

    // A pull request without a request passes and says so.
    let (event3, head3) = pull_request(&t, 3, "docs", |r| {
        r.write("README.md", "docs only\n");
    });
    let run = t.runner.github_job(
        &promote,
        "check",
        &t.origin,
        "pull_request",
        &event3,
        &head3,
        &json!({}),
    );
    assert!(run.success, "{}", run.log);
    assert!(comments(&t, 3)[0]["body"]
        .as_str()
        .unwrap()
        .contains("no promotion requested"));

    // Merge pull request 1: exactly its version record is promoted, by the
    // CI actor, against the policy before the merge, and pushed.
    let before = rev(&t.dev, "main");
    t.dev
        .git(&[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge release-1.0.0",
            "release-1.0.0",
        ])
        .ok();
    t.dev.git(&["push", "-q", "origin", "main"]).ok();
    let after = rev(&t.dev, "main");
    let push = json!({"before": before, "after": after});
    let run = t.runner.github_job(
        &promote,
        "promote",
        &t.origin,
        "push",
        &push,
        &after,
        &json!({}),
    );
    assert!(run.success, "{}", run.log);
    t.dev.mlops(&["sync", "--no-push"]).ok();
    let v = t
        .dev
        .mlops(&["resolve", "fraud@production", "--json"])
        .ok()
        .json();
    assert_eq!(v["version"], "1.0.0");
    let p = crate::history::tip_record(&t.dev, "model/fraud");
    assert_eq!(p["kind"], "promotion");
    assert_eq!(
        p["actor"],
        "octocat <583231+octocat@users.noreply.github.com>"
    );
    assert_eq!(p["policy"]["commit"], before);
    assert_eq!(p["reason"], format!("merged {after}"));
    assert_eq!(
        p["ci"]["run_url"],
        "https://github.com/bank/fraud/actions/runs/4242"
    );
}

#[test]
fn the_github_drift_workflow_records_shares_and_opens_one_issue_per_monitor() {
    let t = team();
    let drift = workflow(&t, "mlops-drift.yml");
    let main = rev(&t.dev, "main");
    let run = t.runner.github_job(
        &drift,
        "drift",
        &t.origin,
        "schedule",
        &json!({}),
        &main,
        &json!({}),
    );
    assert!(run.success, "{}", run.log);
    assert!(
        t.runner.state()["repos/bank/fraud/issues"].is_null(),
        "no drift, no issue"
    );
    t.dev.mlops(&["sync", "--no-push"]).ok();
    let history = t
        .dev
        .mlops(&["drift", "history", "inputs", "--json"])
        .ok()
        .json();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");

    // Today's data moves: the job fails, one issue with the report.
    t.dev.write("data/today.csv", &rows(5000.0));
    t.dev.git(&["commit", "-q", "-am", "today"]).ok();
    t.dev.git(&["push", "-q", "origin", "main"]).ok();
    let main = rev(&t.dev, "main");
    let run = t.runner.github_job(
        &drift,
        "drift",
        &t.origin,
        "schedule",
        &json!({}),
        &main,
        &json!({}),
    );
    assert!(!run.success, "{}", run.log);
    assert_eq!(run.steps.last().unwrap().0, "Fail on drift");
    let issues = t.runner.state()["repos/bank/fraud/issues"].clone();
    assert_eq!(issues.as_array().unwrap().len(), 1, "{issues}");
    assert_eq!(issues[0]["title"], "mlops: drift in inputs");
    assert!(
        issues[0]["body"].as_str().unwrap().contains("income"),
        "{issues}"
    );
    assert!(run.summary.contains("Drift"), "{}", run.summary);
    // The next day: the same issue gets a comment.
    let run = t.runner.github_job(
        &drift,
        "drift",
        &t.origin,
        "schedule",
        &json!({}),
        &main,
        &json!({}),
    );
    assert!(!run.success);
    let state = t.runner.state();
    assert_eq!(
        state["repos/bank/fraud/issues"].as_array().unwrap().len(),
        1
    );
    let n = issues[0]["number"].as_u64().unwrap();
    assert_eq!(
        state[format!("repos/bank/fraud/issues/{n}/comments")]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The same data the next day is not compared twice: the finding still
    // stands (the job fails, the comment says so) and nothing new is recorded.
    let comment = &state[format!("repos/bank/fraud/issues/{n}/comments")][0];
    assert!(comment.to_string().contains("still stands"), "{comment}");
    t.dev.mlops(&["sync", "--no-push"]).ok();
    let history = t
        .dev
        .mlops(&["drift", "history", "inputs", "--json"])
        .ok()
        .json();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
}

#[test]
fn the_github_report_workflow_passes_its_input_through_the_environment() {
    let t = team();
    let report = workflow(&t, "mlops-report.yml");
    let main = rev(&t.dev, "main");
    // A hostile input stays a string.
    let run = t.runner.github_job(
        &report,
        "report",
        &t.origin,
        "workflow_dispatch",
        &json!({}),
        &main,
        &json!({"model": "fraud; touch pwned"}),
    );
    assert!(!run.success, "an invalid model name fails the job");
    assert!(run.log.contains("fraud; touch pwned"), "{}", run.log);
    assert!(!t
        .runner
        .dir
        .read_dir()
        .unwrap()
        .any(|e| e.unwrap().path().join("pwned").exists()));
    let run = t.runner.github_job(
        &report,
        "report",
        &t.origin,
        "workflow_dispatch",
        &json!({}),
        &main,
        &json!({"model": "fraud"}),
    );
    assert!(run.success, "{}", run.log);
}

#[test]
fn the_gitlab_jobs_note_the_verdict_promote_and_report_drift() {
    let t = team();
    let file = t.dev.path.join(".gitlab/mlops.gitlab-ci.yml");
    let (_, head) = pull_request(&t, 1, "release-1.0.0", |r| {
        r.mlops(&["promote", "fraud@1.0.0", "--to", "production", "--request"])
            .ok();
    });
    let mr = [
        ("CI_PIPELINE_SOURCE", "merge_request_event"),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
        ("CI_MERGE_REQUEST_IID", "1"),
    ];
    let run = t
        .runner
        .gitlab_job(&file, "mlops-check", &t.origin, &head, &mr);
    assert!(run.success, "{}", run.log);
    let notes = t.runner.state()["projects/7/merge_requests/1/notes"].clone();
    assert_eq!(notes.as_array().unwrap().len(), 1, "{}", run.log);
    assert!(notes[0]["body"]
        .as_str()
        .unwrap()
        .contains("can be promoted"));
    let run = t
        .runner
        .gitlab_job(&file, "mlops-check", &t.origin, &head, &mr);
    assert!(run.success, "{}", run.log);
    assert_eq!(
        t.runner.state()["projects/7/merge_requests/1/notes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let before = rev(&t.dev, "main");
    t.dev
        .git(&["merge", "-q", "--no-ff", "-m", "Merge", "release-1.0.0"])
        .ok();
    t.dev.git(&["push", "-q", "origin", "main"]).ok();
    let after = rev(&t.dev, "main");
    let run = t.runner.gitlab_job(
        &file,
        "mlops-promote",
        &t.origin,
        &after,
        &[
            ("CI_COMMIT_BEFORE_SHA", before.as_str()),
            ("CI_COMMIT_SHA", after.as_str()),
        ],
    );
    assert!(run.success, "{}", run.log);
    t.dev.mlops(&["sync", "--no-push"]).ok();
    let p = crate::history::tip_record(&t.dev, "model/fraud");
    assert_eq!(p["actor"], "riya <riya@bank.example>");
    assert_eq!(p["ci"]["provider"], "gitlab-ci");

    t.dev.write("data/today.csv", &rows(5000.0));
    t.dev.git(&["commit", "-q", "-am", "today"]).ok();
    t.dev.git(&["push", "-q", "origin", "main"]).ok();
    let main = rev(&t.dev, "main");
    let run = t.runner.gitlab_job(
        &file,
        "mlops-drift",
        &t.origin,
        &main,
        &[("CI_PIPELINE_SOURCE", "schedule")],
    );
    assert!(!run.success, "drift fails the job: {}", run.log);
    let issues = t.runner.state()["projects/7/issues"].clone();
    assert_eq!(issues[0]["title"], "mlops: drift in inputs", "{}", run.log);
    t.dev.mlops(&["sync", "--no-push"]).ok();
    let history = t
        .dev
        .mlops(&["drift", "history", "inputs", "--json"])
        .ok()
        .json();
    assert_eq!(
        history.as_array().unwrap().len(),
        1,
        "the report was pushed before the job failed"
    );
}

#[test]
fn no_template_pushes_raw_or_forces_or_builds_from_source() {
    let repo = Repo::new();
    repo.mlops(&["init"]).ok();
    for f in [
        ".github/workflows/mlops-promote.yml",
        ".github/workflows/mlops-drift.yml",
        ".github/workflows/mlops-report.yml",
        ".github/actions/setup-mlops/action.yml",
        ".gitlab/mlops.gitlab-ci.yml",
    ] {
        let text = repo.read(f);
        // Records are shared with `mlops sync` (merge, never force); a raw
        // push would lose a record on rejection.
        assert!(!text.contains("git push"), "{f}");
        assert!(!text.contains("+refs/"), "{f}");
        assert!(
            !text.contains("cargo install"),
            "{f}: installs a release, never builds per job"
        );
        assert!(
            !text.contains("after_script"),
            "{f}: a failure there is silent"
        );
    }
}
