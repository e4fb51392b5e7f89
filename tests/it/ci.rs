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
