//! `mlops sync` between clones through a shared remote, with plain git underneath.

use crate::support::Repo;

fn clone(repo: &Repo, origin: &std::path::Path, name: &str) -> std::path::PathBuf {
    let path = repo.sibling(name);
    repo.git_in(
        origin.parent().unwrap(),
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            path.to_str().unwrap(),
        ],
    )
    .ok();
    repo.git_in(&path, &["config", "user.name", &format!("User {name}")])
        .ok();
    repo.git_in(
        &path,
        &["config", "user.email", &format!("{name}@example.com")],
    )
    .ok();
    path
}

fn summaries(repo: &Repo, dir: &std::path::Path) -> Vec<String> {
    let mut s: Vec<String> = repo
        .mlops_in(dir, &["log", "model/m", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect();
    s.sort();
    s
}

#[test]
fn two_clones_that_appended_independently_converge_without_losing_a_record() {
    let repo = Repo::new();
    let origin = repo.sibling("origin.git");
    repo.git_in(
        repo.path.parent().unwrap(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    )
    .ok();
    let a = clone(&repo, &origin, "a");
    let b = clone(&repo, &origin, "b");

    repo.mlops_in(&a, &["note", "model/m", "-m", "a1"]).ok();
    let out = repo.mlops_in(&a, &["sync"]).ok();
    assert!(out.stdout.contains("pushed"), "{}", out.stdout);
    let got = repo.mlops_in(&b, &["sync", "--json"]).ok().json();
    assert_eq!(got["created"], serde_json::json!(["refs/mlops/models/m"]));

    // Both append while apart.
    repo.mlops_in(&a, &["note", "model/m", "-m", "a2"]).ok();
    repo.mlops_in(&b, &["note", "model/m", "-m", "b1"]).ok();
    repo.mlops_in(&a, &["sync"]).ok();
    let merged = repo.mlops_in(&b, &["sync", "--json"]).ok().json();
    assert_eq!(merged["merged"], serde_json::json!(["refs/mlops/models/m"]));
    let ff = repo.mlops_in(&a, &["sync", "--json"]).ok().json();
    assert_eq!(
        ff["fast_forwarded"],
        serde_json::json!(["refs/mlops/models/m"])
    );

    let expected = vec!["note: a1", "note: a2", "note: b1"];
    assert_eq!(summaries(&repo, &a), expected);
    assert_eq!(summaries(&repo, &b), expected);
    let tip_a = repo
        .git_in(&a, &["rev-parse", "refs/mlops/models/m"])
        .ok()
        .stdout;
    let tip_b = repo
        .git_in(&b, &["rev-parse", "refs/mlops/models/m"])
        .ok()
        .stdout;
    assert_eq!(tip_a, tip_b);
    assert_eq!(
        repo.git_in(
            &a,
            &["rev-list", "--merges", "--count", "refs/mlops/models/m"]
        )
        .ok()
        .stdout
        .trim(),
        "1"
    );
    repo.mlops_in(&a, &["verify"]).ok();
    // The next event after the merge names the merged chain's newest record.
    let next = repo
        .mlops_in(&a, &["note", "model/m", "-m", "after", "--json"])
        .ok()
        .json();
    let log = repo.mlops_in(&a, &["log", "model/m", "--json"]).ok().json();
    assert_eq!(log[0]["id"], next["id"]);
    assert!(log[0]["prev"].is_string());
    // Nothing was force-pushed: the remote holds the same history.
    repo.mlops_in(&a, &["sync"]).ok();
    let remote_tip = repo
        .git_in(&origin, &["rev-parse", "refs/mlops/models/m"])
        .ok()
        .stdout;
    assert_eq!(
        remote_tip,
        repo.git_in(&a, &["rev-parse", "refs/mlops/models/m"])
            .ok()
            .stdout
    );
}

#[test]
fn an_unknown_remote_is_a_clear_error() {
    let repo = Repo::new();
    let out = repo.mlops(&["sync", "--remote", "nowhere"]).code(2);
    assert!(
        out.stderr.contains("no git remote `nowhere`"),
        "{}",
        out.stderr
    );
}
