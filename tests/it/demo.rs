//! `mlops demo`: the whole tool end to end, as the README's first command runs it.

use crate::support::Repo;

#[test]
fn the_demo_walks_through_every_capability_and_cleans_up() {
    let dir = Repo::bare_dir();
    let target = dir.path.join("demo");
    let out = dir.mlops(&["demo", "--dir", target.to_str().unwrap()]).ok();
    for step in [
        "$ mlops init",
        "$ mlops data add data/credit.csv",
        "$ mlops data status",
        "$ mlops track --name logreg-lr4.0",
        "$ mlops runs compare",
        "$ mlops promote credit-risk@0.2.0 --to production --check --format md",
        "$ mlops data check credit",
        "$ mlops shadow credit-risk@0.2.0 --against @production",
        "$ mlops drift credit-inputs",
        "$ mlops drift credit-quality",
        "$ mlops drift history credit-inputs",
        "$ mlops verify",
        "$ mlops report credit-risk@production --out report",
    ] {
        assert!(
            out.stdout.contains(step),
            "the demo lacks `{step}`:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("Dataset drift"), "{}", out.stdout);
    // The shadow comparison passes its gate; the late labels degrade the
    // model, which rolls production back to 0.1.0 with an alert.
    assert!(
        out.stdout.contains("gate shadow auc: PASS"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("slices ratio(approval_rate by region)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Model quality DEGRADED"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("rolled back production: 0.2.0 -> 0.1.0"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("ALERT credit-quality"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("drift report: "), "{}", out.stdout);
    assert!(target.join("drift-2026-02.html").is_file());
    assert!(out.stdout.contains("audit report: "), "{}", out.stdout);
    assert!(target.join("report/report.html").is_file());
    // The demo's repository is a real one: records are visible to git and verify.
    let refs = dir
        .git_in(
            &target,
            &["for-each-ref", "--format=%(refname)", "refs/mlops/"],
        )
        .ok()
        .stdout;
    assert!(refs.contains("refs/mlops/models/credit-risk"), "{refs}");
    dir.mlops_in(&target, &["verify"]).ok();
    let production = dir
        .mlops_in(&target, &["resolve", "credit-risk@production", "--json"])
        .ok()
        .json();
    assert_eq!(production["version"], "0.1.0");

    let again = dir
        .mlops(&["demo", "--dir", target.to_str().unwrap()])
        .code(2);
    assert!(again.stderr.contains("is not empty"), "{}", again.stderr);
}
