//! `mlops demo`: a complete walk through the tool in a throwaway repository,
//! printing every command as a user would type it, with its real output. Each
//! capability adds its step here, so the demo always shows the whole tool.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context as _};

use crate::cli::Globals;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Build the demo repository here (must be empty or not exist); kept afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the throwaway repository (and its report) instead of deleting it.
    #[arg(long)]
    keep: bool,
}

/// Runs commands in the demo repository and prints them as a transcript.
struct Transcript {
    dir: PathBuf,
    exe: PathBuf,
    /// PATH with the mlops executable's folder first, so `mlops` in a
    /// tracked command resolves to this binary.
    path: std::ffi::OsString,
}

impl Transcript {
    fn section(&self, title: &str, why: &str) {
        crate::outln!("\n── {title} ──");
        if !why.is_empty() {
            crate::outln!("{why}");
        }
    }

    /// Runs `mlops <args>`; `expect` is the exit code the step should have.
    fn mlops(&self, args: &[&str], expect: i32) -> anyhow::Result<String> {
        self.run_program(&self.exe, "mlops", args, expect, &[])
    }

    /// Runs `mlops <args>` as another person: their identity and, when
    /// they have one, their signing key (git's own configuration, passed
    /// the way `git -c` would).
    fn mlops_as(&self, who: &Person, args: &[&str], expect: i32) -> anyhow::Result<String> {
        crate::outln!("\n  ({} <{}> at their own machine)", who.name, who.email);
        let mut env: Vec<(String, String)> = vec![
            ("GIT_AUTHOR_NAME".into(), who.name.into()),
            ("GIT_AUTHOR_EMAIL".into(), who.email.into()),
            ("GIT_COMMITTER_NAME".into(), who.name.into()),
            ("GIT_COMMITTER_EMAIL".into(), who.email.into()),
        ];
        if let Some(key) = &who.key {
            env.extend([
                ("GIT_CONFIG_COUNT".into(), "2".into()),
                ("GIT_CONFIG_KEY_0".into(), "gpg.format".into()),
                ("GIT_CONFIG_VALUE_0".into(), "ssh".into()),
                ("GIT_CONFIG_KEY_1".into(), "user.signingkey".into()),
                ("GIT_CONFIG_VALUE_1".into(), key.display().to_string()),
            ]);
        }
        self.run_program(&self.exe, "mlops", args, expect, &env)
    }

    /// Runs `mlops <args>` for the demo's own bookkeeping, without printing it.
    fn quietly(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(&self.exe)
            .args(args)
            .current_dir(&self.dir)
            .env("PATH", &self.path)
            .output()
            .with_context(|| format!("cannot run `mlops {}`", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "demo step `mlops {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }

    fn git(&self, args: &[&str]) -> anyhow::Result<String> {
        self.run_program(Path::new("git"), "git", args, 0, &[])
    }

    fn run_program(
        &self,
        program: &Path,
        shown: &str,
        args: &[&str],
        expect: i32,
        env: &[(String, String)],
    ) -> anyhow::Result<String> {
        let shown_args: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') || a.contains('>') || a.contains('*') {
                    format!("'{a}'")
                } else {
                    a.to_string()
                }
            })
            .collect();
        crate::outln!("\n$ {shown} {}", shown_args.join(" "));
        let out = Command::new(program)
            .args(args)
            .current_dir(&self.dir)
            .env("MLOPS_DEMO", "1")
            .env("PATH", &self.path)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .with_context(|| format!("cannot run `{shown}`"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        for line in stdout.lines().chain(stderr.lines()) {
            crate::outln!("  {line}");
        }
        let code = out.status.code().unwrap_or(-1);
        if code != expect {
            bail!(
                "demo step `{shown} {}` exited with {code}, expected {expect}",
                args.join(" ")
            );
        }
        if expect != 0 {
            crate::outln!("  (exit code {code})");
        }
        Ok(stdout)
    }
}

/// Someone other than the data scientist who runs the demo.
struct Person {
    name: &'static str,
    email: &'static str,
    /// Their SSH signing key, when `ssh-keygen` is there to make one.
    key: Option<PathBuf>,
}

/// A fresh ed25519 key for one of the demo's people, kept in the throwaway
/// repository's `.git` (never committed); `None` without `ssh-keygen`.
fn demo_key(dir: &Path, email: &str) -> Option<(PathBuf, String)> {
    let keys = dir.join(".git/demo-keys");
    std::fs::create_dir_all(&keys).ok()?;
    let key = keys.join(email.split('@').next().unwrap_or("key"));
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", email, "-f"])
        .arg(&key)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?
        .status
        .success();
    let public = std::fs::read_to_string(key.with_extension("pub")).ok()?;
    ok.then(|| (key, public.trim().to_string()))
}

pub fn run(_g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let (dir, _guard) = match &args.dir {
        Some(d) => {
            if d.exists() && std::fs::read_dir(d)?.next().is_some() {
                return Err(crate::Error::invalid_with_hint(
                    format!("`--dir {}` is not empty", d.display()),
                    "pass a new or empty directory",
                )
                .into());
            }
            std::fs::create_dir_all(d)?;
            (d.canonicalize()?, None)
        }
        None => {
            let t = tempfile::Builder::new().prefix("mlops-demo-").tempdir()?;
            let path = t.path().to_path_buf();
            if args.keep {
                (t.keep(), None)
            } else {
                (path, Some(t))
            }
        }
    };
    let exe = std::env::current_exe().context("cannot find the mlops executable")?;
    let mut paths = vec![exe.parent().map(Path::to_path_buf).unwrap_or_default()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let t = Transcript {
        dir: dir.clone(),
        exe,
        path: std::env::join_paths(paths)?,
    };
    crate::outln!("mlops demo in {}", dir.display());

    t.section(
        "A git repository",
        "mlops keeps everything in the team's own git repository.",
    );
    t.git(&["init", "-q", "-b", "main"])?;
    t.git(&["config", "user.name", "Dana Scientist"])?;
    t.git(&["config", "user.email", "dana@bank.example"])?;

    t.section(
        "Set up",
        "`mlops init` writes mlops.toml (configuration and policy), CI workflows and report templates.",
    );
    t.mlops(&["init"], 0)?;
    t.git(&["add", "-A"])?;
    t.git(&["commit", "-q", "-m", "Set up mlops"])?;

    t.section(
        "Policy",
        "mlops.toml holds the model inventory entry and the promotion gates, reviewed like code.",
    );
    let signing = demo_key(&dir, RISK_OFFICER);
    let developer = demo_key(&dir, DEVELOPER);
    let config = match (&signing, &developer) {
        (Some((_, public)), Some((dev_key, dev_public))) => {
            std::fs::create_dir_all(dir.join(".mlops"))?;
            let lines = format!(
                "{RISK_OFFICER} namespaces=\"mlops-approval,git\" {public}\n{DEVELOPER} namespaces=\"mlops-approval,git\" {dev_public}\n"
            );
            std::fs::write(dir.join(".mlops/allowed_signers"), &lines)?;
            crate::outln!(
                "\n$ cat .mlops/allowed_signers   # who may sign, with which key\n{}",
                indent(&lines)
            );
            crate::outln!("\nThe developer signs commits with her SSH key, as git does; mlops signs its record commits the same way:");
            t.git(&["config", "gpg.format", "ssh"])?;
            t.git(&["config", "user.signingkey", &dev_key.display().to_string()])?;
            t.git(&["config", "commit.gpgsign", "true"])?;
            t.git(&[
                "config",
                "gpg.ssh.allowedSignersFile",
                ".mlops/allowed_signers",
            ])?;
            DEMO_CONFIG.to_string()
        }
        _ => {
            crate::outln!("\n(ssh-keygen is not installed: the demo's approval is recorded unsigned, and its production gate says `signed = false`)");
            DEMO_CONFIG.replace(
                "roles = { risk = 1 }",
                "roles = { risk = 1 }\nsigned = false",
            )
        }
    };
    let risk_officer = Person {
        name: "Riya Risk",
        email: RISK_OFFICER,
        key: signing.map(|(k, _)| k),
    };
    std::fs::write(dir.join("mlops.toml"), &config)?;
    crate::outln!("\n$ cat mlops.toml\n{}", indent(&config));
    // The sections of the audit report that people write, versioned beside
    // the model like code (docs/report.md).
    let card = dir.join("models/credit-risk/card");
    std::fs::create_dir_all(&card)?;
    for (file, text) in CARD {
        std::fs::write(card.join(file), text)?;
    }
    crate::outln!(
        "\nThe model card's human sections are Markdown files in models/credit-risk/card/: {}",
        CARD.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
    );
    t.mlops(&["config"], 0)?;

    t.section(
        "Data",
        "The training data is hashed (SHA-256, re-checkable with sha256sum), profiled, recorded and pinned in mlops.lock.",
    );
    std::fs::create_dir_all(dir.join("data/incoming"))?;
    std::fs::write(
        dir.join("data/credit.csv"),
        crate::demo::data::credit_csv(4000, 7, false),
    )?;
    std::fs::write(dir.join(".gitignore"), "data/\nmodels/\n")?;
    t.mlops(
        &[
            "data",
            "add",
            "data/credit.csv",
            "--name",
            "credit",
            "--source",
            "synthetic applications 2025 (mlops demo)",
        ],
        0,
    )?;
    t.mlops(&["data", "show", "credit@latest"], 0)?;
    crate::outln!("\nThe data contract of mlops.toml holds (a broken rule would stop `data add` and `track --data`):");
    t.mlops(&["data", "check", "credit"], 0)?;
    t.git(&["add", "-A"])?;
    t.git(&["commit", "-q", "-m", "Policy and training data"])?;
    crate::outln!("\nSomeone edits the data by hand; `data status` notices (exit 1), and restoring it makes it clean again:");
    let original = std::fs::read(dir.join("data/credit.csv"))?;
    let mut edited = original.clone();
    edited.extend_from_slice(b"44,61000,0.2900,3,north,employed,0\n");
    std::fs::write(dir.join("data/credit.csv"), &edited)?;
    t.mlops(&["data", "status"], 1)?;
    std::fs::write(dir.join("data/credit.csv"), &original)?;
    t.mlops(&["data", "status"], 0)?;

    t.section(
        "Training runs",
        "`mlops track` runs the training command, streams its output and records params, per-epoch metrics, the data version, the code commit and the model file.",
    );
    for (lr, epochs) in [("0.1", "30"), ("1.0", "80"), ("4.0", "80")] {
        let out = format!("models/logreg-lr{lr}.json");
        let importance = format!("models/logreg-lr{lr}.importance.csv");
        t.mlops(
            &[
                "track",
                "--name",
                &format!("logreg-lr{lr}"),
                "--experiment",
                "credit-risk",
                "--param",
                &format!("lr={lr}"),
                "--param",
                &format!("epochs={epochs}"),
                "--data",
                "train=credit",
                "--artifact",
                &out,
                "--artifact",
                &importance,
                "--",
                "mlops",
                "demo-train",
                "--data",
                "data/credit.csv",
                "--lr",
                lr,
                "--epochs",
                epochs,
                "--out",
                &out,
                "--importance",
                &importance,
            ],
            0,
        )?;
    }
    t.mlops(
        &[
            "runs",
            "list",
            "--columns",
            "run_name,status,metrics.auc,metrics.accuracy,metrics.val_loss,params.lr",
        ],
        0,
    )?;
    let best = t.quietly(&[
        "runs",
        "list",
        "--sort",
        "-metrics.auc",
        "--limit",
        "2",
        "--json",
    ])?;
    let (ids, names): (Vec<String>, Vec<String>) =
        serde_json::from_str::<serde_json::Value>(&best)?
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| {
                        Some((
                            r["run_id"].as_str()?.to_string(),
                            r["name"].as_str()?.to_string(),
                        ))
                    })
                    .unzip()
            })
            .unwrap_or_default();
    if ids.len() < 2 {
        bail!("the demo runs were not recorded");
    }
    t.mlops(&["runs", "compare", &ids[1], &ids[0]], 0)?;
    t.mlops(&["runs", "show", &ids[0]], 0)?;

    t.section(
        "Registry and promotion",
        "The best run becomes a model version; promotion checks the gates of mlops.toml and records who promoted what, why, and with whose approval.",
    );
    t.mlops(
        &[
            "model",
            "register",
            "credit-risk",
            "--run",
            &ids[1],
            "-m",
            "second best run, first release",
        ],
        0,
    )?;
    t.mlops(&["promote", "credit-risk@0.1.0", "--to", "staging"], 0)?;
    let unsigned: &[&str] = if risk_officer.key.is_some() {
        &[]
    } else {
        &["--unsigned"]
    };
    crate::outln!(
        "\nThe risk officer approves under their own identity, signed with their own key:"
    );
    let mut approve = vec![
        "approve",
        "credit-risk@0.1.0",
        "--stage",
        "production",
        "--role",
        "risk",
        "--comment",
        "validation report reviewed",
    ];
    approve.extend_from_slice(unsigned);
    t.mlops_as(&risk_officer, &approve, 0)?;
    t.mlops(
        &[
            "promote",
            "credit-risk@0.1.0",
            "--to",
            "production",
            "--reason",
            "quarterly release",
        ],
        0,
    )?;
    t.mlops(
        &[
            "model",
            "register",
            "credit-risk",
            "--run",
            &ids[0],
            "-m",
            "tuned learning rate",
        ],
        0,
    )?;
    t.mlops(&["promote", "credit-risk@0.2.0", "--to", "staging"], 0)?;
    crate::outln!("\nThe pull-request verdict (what CI posts as a comment):");
    t.mlops(
        &[
            "promote",
            "credit-risk@0.2.0",
            "--to",
            "production",
            "--check",
            "--format",
            "md",
        ],
        1,
    )?;
    crate::outln!("\nTyping the risk officer's name does not count as their approval:");
    t.mlops(
        &[
            "promote",
            "credit-risk@0.2.0",
            "--to",
            "production",
            "--approved-by",
            "risk:risk-officer@bank.example",
            "--check",
        ],
        1,
    )?;
    t.section(
        "Shadow: champion and challenger on the same traffic",
        "Before 0.2.0 replaces 0.1.0 both score the same applications; the comparison (with a bootstrap confidence interval) is recorded, and the production gate reads it.",
    );
    std::fs::create_dir_all(dir.join("data/shadow"))?;
    let applications = crate::demo::data::credit_csv(2000, 10, false);
    std::fs::write(dir.join("data/shadow/applications.csv"), &applications)?;
    for (who, name) in [("champion", &names[1]), ("challenger", &names[0])] {
        let scores = crate::demo::train::score(
            &dir.join(format!("models/{name}.json")),
            &dir.join("data/shadow/applications.csv"),
        )?;
        std::fs::write(
            dir.join(format!("data/shadow/{who}.csv")),
            crate::demo::data::predictions_csv("app", &scores),
        )?;
    }
    std::fs::write(
        dir.join("data/shadow/labels.csv"),
        crate::demo::data::labels_csv(
            "app",
            crate::demo::data::defaults_of(&applications).into_iter(),
        ),
    )?;
    crate::outln!(
        "
(the serving system logged both models' scores on 2,000 applications, by application id)"
    );
    t.mlops(
        &[
            "shadow",
            "credit-risk@0.2.0",
            "--against",
            "@production",
            "--predictions",
            "data/shadow/champion.csv",
            "data/shadow/challenger.csv",
            "--labels",
            "data/shadow/labels.csv",
            "--key",
            "id",
            "--prediction",
            "score",
            "--label",
            "default",
            "--metric",
            "auc",
        ],
        0,
    )?;
    let mut approve = vec![
        "approve",
        "credit-risk@0.2.0",
        "--stage",
        "production",
        "--role",
        "risk",
        "--comment",
        "back-test on 2025 Q4 reviewed",
    ];
    approve.extend_from_slice(unsigned);
    t.mlops_as(&risk_officer, &approve, 0)?;
    t.mlops(
        &[
            "promote",
            "credit-risk@0.2.0",
            "--to",
            "production",
            "--reason",
            "better AUC on the same data",
        ],
        0,
    )?;
    t.mlops(&["model", "list"], 0)?;

    t.section(
        "Drift",
        "Each month's applications are compared with the training data, per column; a drifted batch exits 1 so a scheduled job pages someone.",
    );
    std::fs::write(
        dir.join("data/incoming/2026-01.csv"),
        crate::demo::data::credit_csv(3000, 8, false),
    )?;
    t.mlops(&["drift", "credit-inputs"], 0)?;
    std::fs::remove_file(dir.join("data/incoming/2026-01.csv"))?;
    std::fs::write(
        dir.join("data/incoming/2026-02.csv"),
        crate::demo::data::credit_csv(3000, 9, true),
    )?;
    t.mlops(
        &[
            "drift",
            "credit-inputs",
            "--format",
            "html",
            "--out",
            "drift-2026-02.html",
        ],
        1,
    )?;
    t.mlops(&["drift", "credit-inputs"], 1)?;
    t.mlops(&["drift", "history", "credit-inputs"], 0)?;

    t.section(
        "Late labels and automatic rollback",
        "Production's scores are kept per batch; when the outcomes arrive a month later the quality monitor joins them by application id. Quality worse than its threshold exits 1, alerts, and rolls production back to the previous version, once.",
    );
    std::fs::create_dir_all(dir.join("data/applications"))?;
    std::fs::create_dir_all(dir.join("data/served"))?;
    std::fs::create_dir_all(dir.join("data/labels"))?;
    std::fs::write(
        dir.join("data/applications/2026-02.csv"),
        crate::demo::data::credit_csv(3000, 12, false),
    )?;
    let served = crate::demo::train::score(
        &dir.join(format!("models/{}.json", names[0])),
        &dir.join("data/applications/2026-02.csv"),
    )?;
    std::fs::write(
        dir.join("data/served/2026-02.csv"),
        crate::demo::data::predictions_csv("feb", &served),
    )?;
    crate::outln!(
        "
(production, 0.2.0, scored February's 3,000 applications: data/served/2026-02.csv)"
    );
    t.mlops(&["drift", "credit-quality"], 0)?;
    crate::outln!("
A month later the outcomes arrive — and the economy has turned: defaults no longer follow what the model learned:");
    std::fs::write(
        dir.join("data/labels/2026-03.csv"),
        crate::demo::data::labels_csv(
            "feb",
            crate::demo::data::shifted_defaults(3000, 13).into_iter(),
        ),
    )?;
    t.mlops(&["drift", "credit-quality"], 1)?;
    t.mlops(&["resolve", "credit-risk@production"], 0)?;
    t.mlops(&["model", "history", "credit-risk"], 0)?;

    t.section(
        "Audit trail",
        "Every event above is a commit under refs/mlops/: plain git reads it, `git push` shares it, and `mlops verify` proves nothing was altered.",
    );
    t.mlops(&["log", "--limit", "12"], 0)?;
    t.git(&["log", "--format=%h %an %s", "refs/mlops/models/credit-risk"])?;
    t.git(&["for-each-ref", "--format=%(refname)", "refs/mlops/"])?;
    t.mlops(&["verify"], 0)?;
    if developer.is_some() {
        crate::outln!("\nWho signed what (record commits with the developer's key, approvals with the risk officer's):");
        t.mlops(&["verify", "--signatures", "--require-signatures"], 0)?;
        t.git(&["verify-commit", "refs/mlops/models/credit-risk"])?;
    }

    t.section(
        "Audit report",
        "The document a regulator asks for: 24 sections (computed from the records, written by people in models/credit-risk/card/, or flagged MISSING), a requirement matrix per framework, the verification transcript, recorded so a handed-over copy can be proven exact.",
    );
    // After the rollback production holds 0.1.0, registered from the second-best run.
    let explain = format!("models/{}.importance.csv", names[1]);
    t.mlops(
        &[
            "report",
            "credit-risk@production",
            "--out",
            "report",
            "--explain",
            &explain,
            "--framework",
            "sr11-7",
            "--framework",
            "eu-ai-act",
            "--record",
        ],
        0,
    )?;
    t.mlops(&["verify", "--report", "report/report.html"], 0)?;

    crate::outln!();
    if args.keep || args.dir.is_some() {
        crate::outln!("demo repository kept at {}", dir.display());
        crate::outln!("audit report: {}", dir.join("report/report.html").display());
        crate::outln!("drift report: {}", dir.join("drift-2026-02.html").display());
    } else {
        crate::outln!(
            "demo finished; the throwaway repository was removed (rerun with --keep to explore it)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The demo's policy: an inventory entry, gates per stage and a monitor.
/// The demo's human-written report sections and validation findings.
const CARD: [(&str, &str); 6] = [
    ("methodology.md", "Logistic regression on standardised features, chosen over gradient boosting for its exact explanations (coefficients) and stable behaviour under small shifts. Learning rates 0.25-4.0 were compared; the selected run is the one with the best validation loss.\n"),
    ("fairness.md", "Applicants are compared by region and employment status: approval-rate ratios stay within 0.8-1.25 on the 2025 hold-out. Protected characteristics are not model inputs.\n"),
    ("robustness.md", "Scores were recomputed with each numeric feature shifted by one standard deviation: AUC moves by less than 0.02. Income outliers are capped before scoring.\n"),
    ("outcomes.md", "Back-testing against realised defaults starts after six months of production; until then the monitoring of inputs (section 16) is the early warning.\n"),
    ("oversight.md", "Every decline recommended by the model is reviewed by an underwriter, who can override it. If the model is unavailable or rolled back, applications fall back to the manual scorecard.\n"),
    ("findings.toml", "validator = \"risk-officer@bank.example\"\nvalidated_at = \"2026-03-01\"\nconclusion = \"Fit for purpose as decision support, with the conditions below.\"\n\n[[finding]]\nid = \"VAL-1\"\nseverity = \"medium\"\nstatus = \"open\"\nowner = \"retail-credit-models@bank.example\"\ndue = \"2026-06-30\"\ntitle = \"Add an out-of-time test set from 2026 Q1\"\n\n[[finding]]\nid = \"VAL-2\"\nseverity = \"low\"\nstatus = \"closed\"\ntitle = \"Document the income cap\"\n"),
];

const RISK_OFFICER: &str = "risk-officer@bank.example";
const DEVELOPER: &str = "dana@bank.example";

const DEMO_CONFIG: &str = r#"[project]
name = "credit-risk-demo"

[tracking]
summary = { val_loss = "min" }

[models.credit-risk]
owner = "retail-credit-models@bank.example"
purpose = "Probability of default for unsecured consumer loan applications"
intended_use = "Decision support for underwriters; not for automated rejection"
limitations = "Trained on synthetic 2025 applications; not validated for business loans"
risk_tier = "high"
stages = ["staging", "production"]

[models.credit-risk.gates.staging]
metrics = ["auc >= 0.70", "accuracy >= 0.70"]

[models.credit-risk.gates.production]
metrics = ["auc >= current - 0.01"]
roles = { risk = 1 }
card = ["purpose", "intended_use", "limitations"]
# Not worse than the version in production by more than 0.01 AUC, on at
# least 500 labelled applications both scored (`mlops shadow`).
shadow = { metric = "auc", max_worse = 0.01, min_rows = 500 }
# The four-fifths rule on approval rates across regions.
slices = ["ratio(approval_rate by region) >= 0.8"]

# Who may approve: people by their git e-mail address; an approval must be
# independent of the promoter, the run's developer and the code's authors.
[roles.risk]
members = ["risk-officer@bank.example"]

[signing]
allowed_signers = ".mlops/allowed_signers"

# What the training data must look like: `data add` and `track --data`
# refuse data that breaks it.
[datasets.credit.contract]
min_rows = 1000
[datasets.credit.contract.columns.income]
type = "int"
min = 0
nullable = false
[datasets.credit.contract.columns.region]
allowed = ["north", "south", "east", "west"]
[datasets.credit.contract.columns.default]
allowed = ["0", "1"]

[monitors.credit-inputs]
reference = "credit"
current = ["data/incoming/*.csv"]
model = "credit-risk"
drift_share = 0.3

[monitors.credit-inputs.column.income]
test = "psi"
threshold = 0.2

# Model quality once the outcomes are known: production's scores, kept per
# batch, joined to the labels that arrive later by application id.
[monitors.credit-quality]
model = "credit-risk"
predictions = "data/served/*.csv"
labels = "data/labels/*.csv"
key = "id"
prediction = "score"
label = "default"
metric = "auc"
max_degradation = 0.05
on_breach = "rollback"

[alerts]
# Any command (a chat webhook, a pager); it gets the verdict and what was done.
command = "echo \"ALERT $MLOPS_ALERT_MONITOR: $MLOPS_ALERT_SUMMARY $MLOPS_ALERT_ACTION\""
"#;

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// The demo's CSV.
    #[arg(long)]
    data: PathBuf,
    #[arg(long, default_value_t = 0.5)]
    lr: f64,
    #[arg(long, default_value_t = 60)]
    epochs: usize,
    #[arg(long, default_value_t = 0.001)]
    l2: f64,
    /// Where the model (JSON) is written.
    #[arg(long)]
    out: PathBuf,
    /// Where mean |SHAP| per feature (CSV) is written, for the audit report.
    #[arg(long)]
    importance: Option<PathBuf>,
}

/// `mlops demo-train`: the demo's training script, run under `mlops track`.
pub fn train(g: &Globals, a: TrainArgs) -> anyhow::Result<ExitCode> {
    let metrics = crate::context::var("MLOPS_METRICS").map(PathBuf::from);
    let model = crate::demo::train::train(
        &g.dir.join(&a.data),
        &crate::demo::train::TrainConfig {
            lr: a.lr,
            epochs: a.epochs,
            l2: a.l2,
        },
        metrics.as_deref(),
    )?;
    let out = g.dir.join(&a.out);
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, serde_json::to_vec_pretty(&model)?)?;
    if let Some(path) = &a.importance {
        let mut csv = String::from("feature,mean_abs_shap\n");
        for (f, v) in &model.importance {
            csv.push_str(&format!("{f},{v:.6}\n"));
        }
        std::fs::write(g.dir.join(path), csv)?;
    }
    crate::outln!(
        "trained logistic regression: {} epochs, validation auc {:.3}, accuracy {:.3}",
        a.epochs,
        model.metrics.auc,
        model.metrics.accuracy
    );
    Ok(ExitCode::SUCCESS)
}
