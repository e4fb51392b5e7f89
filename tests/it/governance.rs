//! Approvals and policy (docs/governance.md): `mlops approve` signed with
//! real SSH keys made by `ssh-keygen`, checked by mlops and by
//! `ssh-keygen -Y verify`; approvals that do not stand and why; the policy
//! read from the commit; record commits signed as `git commit` signs.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::history::{tip_record, Forge};
use crate::support::{capture, Out, Repo};

/// A fresh ed25519 key pair in the test's home: `(private key, public line)`.
fn keygen(repo: &Repo, name: &str, comment: &str) -> (PathBuf, String) {
    let key = repo.home.join(format!("{name}_ed25519"));
    let mut cmd = std::process::Command::new("ssh-keygen");
    cmd.args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(&key);
    capture(cmd).ok();
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_string())
}

/// `mlops <args>` run by someone else, at their own machine: their identity
/// and, if they have one, their SSH signing key, through git's configuration.
fn as_person(repo: &Repo, email: &str, key: Option<&Path>, args: &[&str]) -> Out {
    let mut cmd = repo.mlops_cmd(args);
    let name = email.split('@').next().unwrap();
    cmd.env("GIT_AUTHOR_NAME", name)
        .env("GIT_AUTHOR_EMAIL", email)
        .env("GIT_COMMITTER_NAME", name)
        .env("GIT_COMMITTER_EMAIL", email);
    if let Some(k) = key {
        cmd.env("GIT_CONFIG_COUNT", "2")
            .env("GIT_CONFIG_KEY_0", "gpg.format")
            .env("GIT_CONFIG_VALUE_0", "ssh")
            .env("GIT_CONFIG_KEY_1", "user.signingkey")
            .env("GIT_CONFIG_VALUE_1", k);
    }
    capture(cmd)
}

const POLICY: &str = r#"
[models.fraud]
stages = ["production"]
[models.fraud.gates.production]
roles = { risk = 1 }

[roles.risk]
members = ["riya@bank.example", "test@example.com"]

[signing]
allowed_signers = ".mlops/allowed_signers"
"#;

struct Team {
    repo: Repo,
    riya: PathBuf,
    /// The developer's (test@example.com) key, also an allowed signer.
    dev: PathBuf,
    /// A key nobody allowed.
    mallory: PathBuf,
}

/// A repository with the policy and allowed signers committed, and
/// `fraud@1.0.0` from a run tracked by the developer (test@example.com).
fn team() -> Team {
    let repo = Repo::new();
    let (riya, riya_pub) = keygen(&repo, "riya", "riya@bank.example");
    let (dev, dev_pub) = keygen(&repo, "dev", "test@example.com");
    let (mallory, _) = keygen(&repo, "mallory", "mallory@evil.example");
    repo.write(
        ".mlops/allowed_signers",
        &format!("riya@bank.example {riya_pub}\ntest@example.com {dev_pub}\n"),
    );
    repo.git(&["add", ".mlops/allowed_signers"]).ok();
    repo.commit_file("mlops.toml", POLICY);
    repo.write("model.bin", "weights");
    let run = repo
        .mlops(&[
            "track",
            "--json",
            "--artifact",
            "model.bin",
            "--",
            "sh",
            "-c",
            r#"echo '{"auc": 0.9}' >> "$MLOPS_METRICS""#,
        ])
        .ok()
        .json()["run"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    repo.mlops(&[
        "model",
        "register",
        "fraud",
        "--run",
        &run,
        "--version",
        "1.0.0",
    ])
    .ok();
    Team {
        repo,
        riya,
        dev,
        mallory,
    }
}

fn approvals_gate(eval: &Value) -> Value {
    eval["evaluation"]["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "approvals")
        .cloned()
        .unwrap_or_else(|| panic!("no approvals gate in {eval:#}"))
}

fn check(repo: &Repo, who: &str, code: i32) -> Value {
    as_person(
        repo,
        who,
        None,
        &[
            "promote",
            "fraud@1.0.0",
            "--to",
            "production",
            "--check",
            "--json",
        ],
    )
    .code(code)
    .json()
}

#[test]
fn a_signed_approval_counts_a_typed_name_does_not_and_ssh_keygen_verifies_it() {
    let t = team();
    let repo = &t.repo;
    // The promoter typing the risk officer's address is not her approval.
    let typed = repo
        .mlops(&[
            "promote",
            "fraud@1.0.0",
            "--to",
            "production",
            "--approved-by",
            "risk:riya@bank.example",
            "--json",
        ])
        .code(1)
        .json();
    let g = approvals_gate(&typed);
    assert!(
        g["actual"].as_str().unwrap().contains("asserted approval"),
        "{g}"
    );

    // She approves herself, with evidence, signed with her key.
    repo.write("validation.md", "# Validation\nAUC holds on 2025 Q4.\n");
    let approved = as_person(
        repo,
        "riya@bank.example",
        Some(&t.riya),
        &[
            "approve",
            "fraud@1.0.0",
            "--stage",
            "production",
            "--role",
            "risk",
            "--comment",
            "validation reviewed",
            "--evidence",
            "validation.md",
            "--json",
        ],
    )
    .ok()
    .json();
    let body = &approved["approval"];
    let version_record = repo
        .mlops(&["resolve", "fraud@1.0.0", "--json"])
        .ok()
        .json()["record"]
        .clone();
    assert_eq!(body["version_record"], version_record);
    assert_eq!(body["approver"], "riya@bank.example");
    {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(repo.read("validation.md").as_bytes()));
        assert_eq!(body["evidence"][0]["sha256"], digest);
    }
    // Anyone can check it with the standard tool, against the committed
    // allowed signers.
    let statement = repo.home.join("statement.json");
    let sig = repo.home.join("statement.json.sig");
    std::fs::write(&statement, body["statement"].as_str().unwrap()).unwrap();
    std::fs::write(&sig, body["signature"]["armored"].as_str().unwrap()).unwrap();
    let mut cmd = std::process::Command::new("ssh-keygen");
    cmd.args(["-Y", "verify", "-f"])
        .arg(repo.path.join(".mlops/allowed_signers"))
        .args(["-I", "riya@bank.example", "-n", "mlops-approval", "-s"])
        .arg(&sig)
        .stdin(std::fs::File::open(&statement).unwrap());
    let out = capture(cmd).ok();
    assert!(
        out.stdout.contains("Good \"mlops-approval\" signature"),
        "{}",
        out.stdout
    );

    // Now the promotion passes, and records whose approval counted.
    repo.mlops(&["promote", "fraud@1.0.0", "--to", "production"])
        .ok();
    let p = tip_record(repo, "model/fraud");
    assert_eq!(p["kind"], "promotion");
    let a = &p["approvals"][0];
    assert_eq!(a["source"], "signed");
    assert_eq!(a["counted"], true);
    assert_eq!(a["record"], approved["id"]);
    assert!(a["key"].as_str().unwrap().starts_with("SHA256:"));
    repo.mlops(&["verify"]).ok();
}

#[test]
fn an_edited_approval_fails_verify() {
    let t = team();
    let repo = &t.repo;
    as_person(
        repo,
        "riya@bank.example",
        Some(&t.riya),
        &[
            "approve",
            "fraud@1.0.0",
            "--stage",
            "production",
            "--role",
            "risk",
            "--comment",
            "reviewed",
        ],
    )
    .ok();
    repo.mlops(&["verify"]).ok();
    // Copy her approval, change what it says (statement included), and append
    // it as a new record: the chain is well-formed, the signature is not.
    let mut forged = tip_record(repo, "model/fraud");
    let id = repo.mlops(&["log", "model/fraud", "--json"]).ok().json()[0]["id"].clone();
    forged["prev"] = id;
    forged["comment"] = "waived".into();
    let statement = forged["statement"]
        .as_str()
        .unwrap()
        .replace("\"reviewed\"", "\"waived\"");
    forged["statement"] = statement.into();
    Forge { repo }.append("refs/mlops/models/fraud", &forged, None);
    let out = repo.mlops(&["verify"]).code(1);
    assert!(
        out.stdout
            .contains("the signature does not match the statement"),
        "{}",
        out.stdout
    );
}

#[test]
fn approvals_that_do_not_stand_are_kept_and_say_why() {
    let t = team();
    let repo = &t.repo;
    // Mallory sets her e-mail to Riya's and signs with her own key.
    as_person(
        repo,
        "riya@bank.example",
        Some(&t.mallory),
        &[
            "approve",
            "fraud@1.0.0",
            "--stage",
            "production",
            "--role",
            "risk",
        ],
    )
    .ok();
    let g = approvals_gate(&check(repo, "pat@bank.example", 1));
    assert!(
        g["actual"]
            .as_str()
            .unwrap()
            .contains("is not in allowed_signers"),
        "{g}"
    );

    // The developer (who tracked the run) is in the role and has an allowed
    // key, but is not independent of their own work.
    as_person(
        repo,
        "test@example.com",
        Some(&t.dev),
        &[
            "approve",
            "fraud@1.0.0",
            "--stage",
            "production",
            "--role",
            "risk",
        ],
    )
    .ok();
    let g = approvals_gate(&check(repo, "pat@bank.example", 1));
    assert!(
        g["actual"]
            .as_str()
            .unwrap()
            .contains("tracked the run this version comes from"),
        "{g}"
    );

    // Riya twice, in two spellings of her address: one approval.
    for email in ["riya@bank.example", "RIYA@Bank.Example"] {
        as_person(
            repo,
            email,
            Some(&t.riya),
            &[
                "approve",
                "fraud@1.0.0",
                "--stage",
                "production",
                "--role",
                "risk",
            ],
        )
        .ok();
    }
    let eval = check(repo, "pat@bank.example", 0);
    let g = approvals_gate(&eval);
    let actual = g["actual"].as_str().unwrap();
    assert!(
        actual.starts_with("1 counted: riya@bank.example (risk, signed)"),
        "{actual}"
    );
    assert!(actual.contains("counted once already"), "{actual}");
    let counted: Vec<&Value> = eval["evaluation"]["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["counted"] == true)
        .collect();
    assert_eq!(counted.len(), 1);

    // Someone outside the role cannot approve in it; nobody approves without
    // a key unless they say `--unsigned`, and that does not count here.
    let out = as_person(
        repo,
        "pat@bank.example",
        None,
        &[
            "approve",
            "fraud@1.0.0",
            "--stage",
            "production",
            "--role",
            "risk",
        ],
    )
    .code(2);
    assert!(
        out.stderr.contains("not a member of role `risk`"),
        "{}",
        out.stderr
    );
    let out = as_person(
        repo,
        "pat@bank.example",
        None,
        &["approve", "fraud@1.0.0", "--stage", "production"],
    )
    .code(2);
    assert!(
        out.stderr.contains("git is not configured to sign"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
    let out = as_person(
        repo,
        "pat@bank.example",
        None,
        &["approve", "fraud@1.0.0", "--stage", "prodution"],
    )
    .code(2);
    assert!(
        out.stderr.contains("no stage `prodution`"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_policy_is_the_committed_one_and_an_override_is_recorded() {
    let t = team();
    let repo = &t.repo;
    let before = repo
        .git(&["rev-parse", "refs/mlops/models/fraud"])
        .ok()
        .stdout;
    // Dropping the approval gate without committing does not let it through.
    repo.write("mlops.toml", "[models.fraud]\nstages = [\"production\"]\n");
    let out = repo
        .mlops(&["promote", "fraud@1.0.0", "--to", "production"])
        .code(2);
    assert!(
        out.stderr.contains("differs from the one committed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--allow-uncommitted-policy"),
        "{}",
        out.stderr
    );
    assert_eq!(
        repo.git(&["rev-parse", "refs/mlops/models/fraud"])
            .ok()
            .stdout,
        before
    );
    // `--policy-rev` reads the committed one: the gate is there.
    let eval = repo
        .mlops(&[
            "promote",
            "fraud@1.0.0",
            "--to",
            "production",
            "--check",
            "--json",
            "--policy-rev",
            "HEAD",
        ])
        .code(1)
        .json();
    assert_eq!(approvals_gate(&eval)["pass"], false);
    // Applied as an override, it says so and the record keeps it.
    let out = repo
        .mlops(&[
            "promote",
            "fraud@1.0.0",
            "--to",
            "production",
            "--allow-uncommitted-policy",
        ])
        .ok();
    assert!(out.stderr.contains("not committed"), "{}", out.stderr);
    let p = tip_record(repo, "model/fraud");
    assert_eq!(p["policy"]["uncommitted"], true);
    assert!(p["policy"]["sha256"].as_str().unwrap().len() == 64);
    // The report shows it (and reads the committed policy itself).
    let out = repo
        .mlops(&["report", "fraud@1.0.0", "--out", "report"])
        .ok();
    assert!(
        out.stderr.contains("differs from the committed one"),
        "{}",
        out.stderr
    );
    let md = repo.read("report/report.md");
    assert!(
        md.contains("Applied from an uncommitted `mlops.toml`"),
        "{md}"
    );
    let html = repo.read("report/report.html");
    assert!(
        html.contains("Applied from an uncommitted mlops.toml"),
        "{html}"
    );

    // A misspelt stage is an error, not a gate silently never applied.
    repo.commit_file(
        "mlops.toml",
        "[models.fraud]\nstages = [\"staging\", \"production\"]\n[models.fraud.gates.prodution]\napprovals = 1\n",
    );
    let out = repo.mlops(&["config"]).code(2);
    assert!(
        out.stderr.contains("`prodution` is not a stage"),
        "{}",
        out.stderr
    );
}

fn approve_as_riya(t: &Team) {
    as_person(
        &t.repo,
        "riya@bank.example",
        Some(&t.riya),
        &[
            "approve",
            "fraud@1.0.0",
            "--stage",
            "production",
            "--role",
            "risk",
        ],
    )
    .ok();
}

#[test]
fn record_commits_are_signed_when_git_signs_commits() {
    // Unsigned promotion: `--require-signatures` fails on it, naming it;
    // the approval is vouched for by its own signature.
    let t = team();
    approve_as_riya(&t);
    t.repo.mlops(&["verify", "--require-signatures"]).ok();
    t.repo
        .mlops(&["promote", "fraud@1.0.0", "--to", "production"])
        .ok();
    let out = t.repo.mlops(&["verify", "--require-signatures"]).code(1);
    assert!(
        out.stdout
            .contains("signature unsigned     model/fraud promotion"),
        "{}",
        out.stdout
    );

    // The promoter signs commits: every record commit is signed, git and
    // mlops both accept it.
    let t = team();
    let repo = &t.repo;
    let signers = repo.path.join(".mlops/allowed_signers");
    repo.git(&["config", "gpg.format", "ssh"]).ok();
    repo.git(&["config", "user.signingkey", t.dev.to_str().unwrap()])
        .ok();
    repo.git(&["config", "commit.gpgsign", "true"]).ok();
    repo.git(&[
        "config",
        "gpg.ssh.allowedSignersFile",
        signers.to_str().unwrap(),
    ])
    .ok();
    approve_as_riya(&t);
    repo.mlops(&["promote", "fraud@1.0.0", "--to", "production"])
        .ok();
    let out = repo
        .git(&["verify-commit", "-v", "refs/mlops/models/fraud"])
        .ok();
    assert!(
        out.stderr
            .contains("Good \"git\" signature for test@example.com"),
        "{}",
        out.stderr
    );
    // The registration, before signing was configured, is unsigned: git
    // tells them apart, and so does mlops.
    repo.git(&["verify-commit", "refs/mlops/models/fraud~2"])
        .code(1);
    let v = repo
        .mlops(&["verify", "--require-signatures", "--json"])
        .ok()
        .json();
    let statuses: Vec<(String, String)> = v["signatures"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["entity"] == "model/fraud")
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&("promotion".into(), "good".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("approval".into(), "good".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("model-version".into(), "unsigned".into())),
        "{statuses:?}"
    );
}
