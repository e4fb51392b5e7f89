//! Secrets never recorded: a corpus of credentials planted everywhere a run
//! takes text from (the command line, `--param`, a params file, params and
//! tags the script logs, `--tag`, `--note`, the environment) must reach no git
//! object at all, while the ordinary values around them are still recorded.

use std::path::Path;

use crate::support::Repo;

/// Every byte of every object in the repository (reachable or not), as text:
/// `git cat-file --batch` over `--batch-all-objects`.
fn all_objects(repo: &Repo) -> String {
    let names = repo
        .git(&[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname) %(objecttype)",
        ])
        .ok()
        .stdout;
    assert!(!names.trim().is_empty(), "the repository has objects");
    let ids: String = names
        .lines()
        .map(|l| format!("{}\n", l.split(' ').next().unwrap()))
        .collect();
    repo.git_stdin(&["cat-file", "--batch"], &ids).ok().stdout
}

/// Every file under `.git` outside `objects/` (refs, logs, mlops caches and
/// work folders), as text.
fn git_dir_files(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "objects") {
                continue;
            }
            git_dir_files(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}

/// The secrets of `corpus` found in `haystack`, with where each was planted.
fn leaked<'a>(corpus: &[(&'a str, &'a str)], haystack: &str) -> Vec<&'a str> {
    corpus
        .iter()
        .filter(|(_, s)| haystack.contains(s))
        .map(|(w, _)| *w)
        .collect()
}

const PEM_BODY: &str =
    "MIIEpQIBAAKCAQEAWk8JzFalHlsZfYcMMDktXP/tKsf2rcDkdfrUnW5gcF+Ha6ili8GjHEAD6/Wj9Kfz";

/// (where it is planted, the secret). Every secret is unique, so a leak names
/// its source.
const CORPUS: &[(&str, &str)] = &[
    ("command --token X", "u8jzPde0IgxLd6Gncf"),
    ("command --password=X", "BAepfJBd0Kh8oOOL8d"),
    ("command --api-key X", "KLzdocJ2isAjIhKtJ0"),
    ("command -H Authorization: Bearer", "RlgLKOmxgJTeKdNnFR"),
    ("command --header X-Api-Key:", "IBXuDL7DxtpYlSXpfK"),
    ("command -H Cookie:", "tHF4vUCsMehGAkWvj7"),
    ("command https://user:pass@", "FAc9QeWJKY40uvSwMF"),
    ("command postgres://u:p@", "LZDe1f8rESQedUStPK"),
    ("command ?sig=", "R0CsTy4Qwb8DwkNhFd"),
    ("command &access_token=", "nXsiVpzz63FfkCzJr4"),
    ("command AWS_SECRET_ACCESS_KEY=", "i0B3JrTAwR4y9ojflj"),
    ("command db.password=", "oQoaF1LlqsajAIxNKu"),
    ("command GitHub token", "ghp_VvVqE1SkHbn88HxjSI6bWHtP3fS2qHx6kwXo"),
    ("command AWS access key id", "AKIAJ3J4WJ99IBAG7I1M"),
    (
        "command Slack token",
        "xoxb-682828807290-2227918058887-YXg4JdpmrcXgGCJbW56eCuNG",
    ),
    (
        "command JWT",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJtOtHWnsCGRlrwZbqcabUGJmGEp7CgQ.3_YNBDRzrZSgqbjG3uhkWKFLf6xuI5aHUQPFeNBTxaQ",
    ),
    ("command private key block", PEM_BODY),
    ("command Google API key", "AIzazJ59FHz5r1pY4OjE2jBMptUsGr7CmY-uCu3"),
    ("command Stripe key", "sk_live_GzvAmwufUxbvJDCTbyvHNsG9"),
    ("command inside sh -c: --db-password X", "ZJzzzzgEOzdmenCkhv"),
    ("--param db_password=", "8iS2G8NPRVdD53X83R"),
    ("--param clientSecret=", "MdgaKjIg8xNbe3nNyj"),
    (
        "--param with a fine-grained GitHub token value",
        "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",
    ),
    ("params file database.password", "Oq9wMxEhh2FDEEtfjg"),
    ("params file s3.secretAccessKey", "C3J27XDCG2LmlZGEON"),
    ("params file hf token value", "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"),
    ("logged param api_key", "YlgCtjfIZ4SOcMz9CP"),
    ("logged param wandb.token", "VNPkNa1Hedcm4pMbXD"),
    ("logged param URL credentials", "uCL1mHoOsFaQfDPrAJ"),
    ("logged tag with a Slack token", "xoxp-69091111465-697778188049-fEbo9ShFXNQ6Fq5axtjRNmHk"),
    ("--tag with a GitHub OAuth token", "gho_8bOfZqfM2oeq3hDavJA76rNicHTp8hkqdlm7"),
    ("--note with an AWS access key id", "AKIANBQNS6PUQ80IDW37"),
    ("env OMP_PASSPHRASE", "71fTquWoGsbeKXgzg2"),
    ("env CUDA_API_TOK", "sye9b2Rann76dEyTzA"),
    ("env GITHUB_TOKEN", "eKOmXRrvftva9AW7hi"),
    ("env SLURM_JOB_ID (allowed) holding a token", "AIzajJBAciI05FhfwKVqlUr5Qrec8TNecj9iNOr"),
    ("env --env MY_DSN with URL credentials", "pTgadDZFlRJmCGmUXi"),
    ("env --env DEPLOY_API_KEY", "APyhzAnar3ZLt4bnlz"),
    ("env WANDB_API_KEY listed in mlops.toml", "2MPKgcjnCqaXNv1sye"),
    ("env HF_TOKEN named by --env", "efnLOpaMxxNDi9LE1K"),
    (
        "command bare argument, the value of env DB_PASSWORD",
        "VTzqA05MFsHl7UeioE",
    ),
];

fn secret(place: &str) -> &'static str {
    CORPUS
        .iter()
        .find(|(w, _)| *w == place)
        .unwrap_or_else(|| panic!("no secret planted as `{place}`"))
        .1
}

#[test]
fn a_corpus_of_secrets_reaches_no_git_object_and_the_rest_is_recorded() {
    let unique: std::collections::BTreeSet<_> = CORPUS.iter().map(|(_, s)| *s).collect();
    assert_eq!(unique.len(), CORPUS.len(), "every secret is unique");
    assert!(CORPUS.len() >= 20);

    let repo = Repo::new();
    repo.write(
        "mlops.toml",
        "[tracking]\nenv = [\"TEAM_NAME\", \"WANDB_API_KEY\"]\n",
    );
    repo.write(
        "params.yaml",
        &format!(
            "optimizer:\n  lr: 0.1\n  name: adam\ndatabase:\n  host: db.internal\n  password: {}\n\
             s3:\n  bucket: models\n  secretAccessKey: {}\nhub:\n  repo: org/model\n  auth: {}\nepochs: 3\n",
            secret("params file database.password"),
            secret("params file s3.secretAccessKey"),
            secret("params file hf token value"),
        ),
    );
    // The script copies its lines from a file: written in the script's own
    // text they would be on the command line, which is free text.
    repo.write(
        "logged.jsonl",
        &format!(
            "{}\n{}\n",
            serde_json::json!({"params": {
                "api_key": secret("logged param api_key"),
                "wandb": {"token": secret("logged param wandb.token"), "project": "churn"},
                "endpoint": format!("https://svc:{}@models.example.com/v1", secret("logged param URL credentials")),
                "batch": 32,
                "pad_token": "<pad>",
            }}),
            serde_json::json!({"tags": {"hub": secret("logged tag with a Slack token")}, "loss": 0.5}),
        ),
    );
    let script = format!(
        "cat logged.jsonl >> \"$MLOPS_METRICS\"; \
         cp \"$(dirname \"$MLOPS_METRICS\")/active.json\" marker-copy.json; \
         true --db-password {} --epochs 3",
        secret("command inside sh -c: --db-password X")
    );
    let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----");
    let cmd: Vec<String> = vec![
        "sh".into(),
        "-c".into(),
        script,
        "sh".into(),
        "--epochs".into(),
        "3".into(),
        "--token".into(),
        secret("command --token X").into(),
        format!("--password={}", secret("command --password=X")),
        "--api-key".into(),
        secret("command --api-key X").into(),
        "-H".into(),
        format!(
            "Authorization: Bearer {}",
            secret("command -H Authorization: Bearer")
        ),
        "--header".into(),
        format!("X-Api-Key: {}", secret("command --header X-Api-Key:")),
        "-H".into(),
        format!("Cookie: sessionid={}", secret("command -H Cookie:")),
        "--data-url".into(),
        format!(
            "https://alice:{}@example.com/data.csv",
            secret("command https://user:pass@")
        ),
        format!(
            "postgres://etl:{}@db.internal:5432/warehouse",
            secret("command postgres://u:p@")
        ),
        format!(
            "https://store.example.com/b/f.parquet?sv=2022-11-02&sig={}&se=2030-01-01",
            secret("command ?sig=")
        ),
        format!(
            "https://api.example.com/v1?page=2&access_token={}",
            secret("command &access_token=")
        ),
        format!(
            "AWS_SECRET_ACCESS_KEY={}",
            secret("command AWS_SECRET_ACCESS_KEY=")
        ),
        format!("db.password={}", secret("command db.password=")),
        secret("command GitHub token").into(),
        "--aws-id".into(),
        secret("command AWS access key id").into(),
        "--slack".into(),
        secret("command Slack token").into(),
        "--claims".into(),
        secret("command JWT").into(),
        pem,
        format!("--maps={}", secret("command Google API key")),
        "--billing".into(),
        secret("command Stripe key").into(),
        // No hint, no shape: only known as the value of a secret-named variable.
        "--connect-with".into(),
        secret("command bare argument, the value of env DB_PASSWORD").into(),
        "lr=0.1".into(),
        "--tokenizer".into(),
        "bert-base-uncased".into(),
        "-p".into(),
        "8080".into(),
    ];

    let mut args: Vec<String> = [
        "track",
        "--json",
        "--name",
        "corpus",
        "--params-file",
        "params.yaml",
        "--param",
        "lr=0.1",
        "--param",
        "tokenizer=bert-base-uncased",
        "--param",
        "max_tokens=512",
    ]
    .map(String::from)
    .to_vec();
    for a in [
        format!("db_password={}", secret("--param db_password=")),
        format!("clientSecret={}", secret("--param clientSecret=")),
        format!(
            "source={}",
            secret("--param with a fine-grained GitHub token value")
        ),
    ] {
        args.push("--param".into());
        args.push(a);
    }
    args.extend([
        "--tag".into(),
        "team=risk".into(),
        "--tag".into(),
        format!("deploy={}", secret("--tag with a GitHub OAuth token")),
        "--note".into(),
        format!(
            "uploaded with {} then rotated",
            secret("--note with an AWS access key id")
        ),
        "--env".into(),
        "MY_DSN".into(),
        "--env".into(),
        "DEPLOY_API_KEY".into(),
        "--env".into(),
        "HF_TOKEN".into(),
        "--env".into(),
        "BUILD_LABEL".into(),
        "--".into(),
    ]);
    args.extend(cmd);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = repo.mlops_cmd(&argv);
    c.env_remove("MLOPS_NOW")
        .env("OMP_PASSPHRASE", secret("env OMP_PASSPHRASE"))
        .env("CUDA_API_TOK", secret("env CUDA_API_TOK"))
        .env("GITHUB_TOKEN", secret("env GITHUB_TOKEN"))
        .env(
            "SLURM_JOB_ID",
            secret("env SLURM_JOB_ID (allowed) holding a token"),
        )
        .env(
            "MY_DSN",
            format!(
                "postgresql://train:{}@db.internal/features",
                secret("env --env MY_DSN with URL credentials")
            ),
        )
        .env("DEPLOY_API_KEY", secret("env --env DEPLOY_API_KEY"))
        .env(
            "WANDB_API_KEY",
            secret("env WANDB_API_KEY listed in mlops.toml"),
        )
        .env("HF_TOKEN", secret("env HF_TOKEN named by --env"))
        .env(
            "DB_PASSWORD",
            secret("command bare argument, the value of env DB_PASSWORD"),
        )
        .env("CUDA_VISIBLE_DEVICES", "0,1")
        .env("OMP_NUM_THREADS", "4")
        .env("TEAM_NAME", "risk")
        .env("BUILD_LABEL", "nightly");
    let out = crate::support::capture(c).ok();
    let shown = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(
        leaked(CORPUS, &shown),
        Vec::<&str>::new(),
        "printed by mlops track:\n{shown}"
    );
    let id = out.json()["run"]["run_id"].as_str().unwrap().to_string();

    // Nothing in any object, nor anywhere else under .git.
    let objects = all_objects(&repo);
    assert_eq!(
        leaked(CORPUS, &objects),
        Vec::<&str>::new(),
        "secrets found in git objects"
    );
    let mut files = String::new();
    git_dir_files(&repo.path.join(".git"), &mut files);
    assert_eq!(
        leaked(CORPUS, &files),
        Vec::<&str>::new(),
        "secrets found in files under .git"
    );
    // The marker `runs active` reads while the run is under way.
    let marker = repo.read("marker-copy.json");
    assert!(marker.contains("--epochs"), "{marker}");
    assert_eq!(
        leaked(CORPUS, &marker),
        Vec::<&str>::new(),
        "in the active-run marker"
    );

    // The ordinary values are still there, the structure kept.
    let shown = repo.mlops(&["runs", "show", &id, "--json"]).ok().json();
    let r = &shown["run"];
    let command: Vec<&str> = r["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        command,
        [
            "sh",
            "-c",
            "cat logged.jsonl >> \"$MLOPS_METRICS\"; \
             cp \"$(dirname \"$MLOPS_METRICS\")/active.json\" marker-copy.json; \
             true --db-password <redacted> --epochs 3",
            "sh",
            "--epochs",
            "3",
            "--token",
            "<redacted>",
            "--password=<redacted>",
            "--api-key",
            "<redacted>",
            "-H",
            "Authorization: <redacted>",
            "--header",
            "X-Api-Key: <redacted>",
            "-H",
            "Cookie: <redacted>",
            "--data-url",
            "https://<redacted>@example.com/data.csv",
            "postgres://<redacted>@db.internal:5432/warehouse",
            "https://store.example.com/b/f.parquet?sv=2022-11-02&sig=<redacted>&se=2030-01-01",
            "https://api.example.com/v1?page=2&access_token=<redacted>",
            "AWS_SECRET_ACCESS_KEY=<redacted>",
            "db.password=<redacted>",
            "<redacted>",
            "--aws-id",
            "<redacted>",
            "--slack",
            "<redacted>",
            "--claims",
            "<redacted>",
            "<redacted>",
            "--maps=<redacted>",
            "--billing",
            "<redacted>",
            "--connect-with",
            "<redacted>",
            "lr=0.1",
            "--tokenizer",
            "bert-base-uncased",
            "-p",
            "8080",
        ]
    );
    let p = &r["params"];
    assert_eq!(p["lr"], 0.1);
    assert_eq!(p["tokenizer"], "bert-base-uncased");
    assert_eq!(p["max_tokens"], 512);
    assert_eq!(p["optimizer.lr"], 0.1);
    assert_eq!(p["optimizer.name"], "adam");
    assert_eq!(p["database.host"], "db.internal");
    assert_eq!(p["s3.bucket"], "models");
    assert_eq!(p["hub.repo"], "org/model");
    assert_eq!(p["epochs"], 3);
    assert_eq!(p["batch"], 32);
    assert_eq!(p["pad_token"], "<pad>");
    assert_eq!(p["wandb.project"], "churn");
    assert_eq!(
        p["endpoint"], "https://<redacted>@models.example.com/v1",
        "URL credentials in a value go, the URL stays"
    );
    for k in [
        "db_password",
        "clientSecret",
        "source",
        "database.password",
        "s3.secretAccessKey",
        "hub.auth",
        "api_key",
        "wandb.token",
    ] {
        assert_eq!(p[k], "<redacted>", "params.{k}");
    }
    assert_eq!(r["tags"]["team"], "risk");
    assert_eq!(r["tags"]["deploy"], "<redacted>");
    assert_eq!(r["tags"]["hub"], "<redacted>");
    assert_eq!(r["notes"], "uploaded with <redacted> then rotated");
    assert_eq!(r["metrics"]["loss"]["value"], 0.5);

    let vars = &r["environment"]["vars"];
    assert_eq!(vars["CUDA_VISIBLE_DEVICES"], "0,1");
    assert_eq!(vars["OMP_NUM_THREADS"], "4");
    assert_eq!(vars["TEAM_NAME"], "risk", "listed in [tracking] env");
    assert_eq!(vars["BUILD_LABEL"], "nightly", "named by --env");
    for gone in [
        "OMP_PASSPHRASE",
        "CUDA_API_TOK",
        "GITHUB_TOKEN",
        "SLURM_JOB_ID",
        "MY_DSN",
        "DEPLOY_API_KEY",
        "WANDB_API_KEY",
        "HF_TOKEN",
    ] {
        assert!(vars.get(gone).is_none(), "{gone} was recorded: {vars}");
    }

    // The record says what was redacted, never the values.
    let redacted: Vec<&str> = r["redacted"]
        .as_array()
        .unwrap_or_else(|| panic!("no `redacted` list: {r}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for field in [
        "command[2]",
        "command[7]",
        "command[8]",
        "command[12]",
        "command[31]",
        "params.db_password",
        "params.database.password",
        "params.source",
        "params.endpoint",
        "params.wandb.token",
        "tags.deploy",
        "tags.hub",
        "notes",
        "environment.vars.SLURM_JOB_ID",
        "environment.vars.MY_DSN",
        "environment.vars.DEPLOY_API_KEY",
        "environment.vars.WANDB_API_KEY",
        "environment.vars.HF_TOKEN",
    ] {
        assert!(redacted.contains(&field), "{field} not in {redacted:?}");
    }
    for kept in ["command[4]", "command[5]", "params.lr", "tags.team"] {
        assert!(!redacted.contains(&kept), "{kept} in {redacted:?}");
    }
    // Variables that were never asked for are not listed.
    assert!(
        !redacted.iter().any(|f| f.contains("GITHUB_TOKEN")),
        "{redacted:?}"
    );
    let text = repo.mlops(&["runs", "show", &id]).ok().stdout;
    assert!(text.contains("redacted"), "{text}");
}

#[test]
fn no_command_records_no_command_line_and_readers_cope() {
    let repo = Repo::new();
    repo.write(
        "mlops.toml",
        "[models.churn]\nowner = \"risk@bank.example\"\n",
    );
    let free_text = "hunter2-in-a-free-form-argument";
    let out = repo
        .mlops(&[
            "track",
            "--json",
            "--no-command",
            "--param",
            "api_key=k-2f9Qz7",
            "--artifact",
            "model.bin",
            "--",
            "sh",
            "-c",
            "echo weights > model.bin",
            "sh",
            "--connect",
            free_text,
        ])
        .ok();
    let id = out.json()["run"]["run_id"].as_str().unwrap().to_string();
    let r = repo.mlops(&["runs", "show", &id, "--json"]).ok().json();
    assert_eq!(r["run"]["command"], serde_json::json!([]));
    let text = repo.mlops(&["runs", "show", &id]).ok().stdout;
    assert!(text.contains("not recorded"), "{text}");
    assert!(!all_objects(&repo).contains(free_text));
    assert!(!all_objects(&repo).contains("--connect"));

    // The audit report says so rather than showing an empty command.
    repo.mlops(&[
        "model",
        "register",
        "churn",
        "--run",
        &id,
        "--version",
        "1.0.0",
    ])
    .ok();
    repo.mlops(&["report", "churn", "--out", "audit"]).ok();
    let mut rendered = String::new();
    for entry in std::fs::read_dir(repo.path.join("audit"))
        .unwrap()
        .flatten()
    {
        rendered.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    assert!(rendered.contains("not recorded"), "{rendered}");
    assert!(!rendered.contains("Command: ``"), "{rendered}");
    assert!(
        rendered.contains("Redacted before recording: params.api_key."),
        "{rendered}"
    );
    assert!(!rendered.contains("k-2f9Qz7"), "{rendered}");
}

#[test]
fn amended_tags_and_notes_are_scrubbed_too() {
    let repo = Repo::new();
    let out = repo.mlops(&["track", "--json", "--", "true"]).ok();
    let id = out.json()["run"]["run_id"].as_str().unwrap().to_string();
    let token = "ghp_Q2w3E4r5T6y7U8i9O0pAsDfGhJkLzXcVbNm1";
    repo.mlops(&[
        "runs",
        "amend",
        &id,
        "--tag",
        &format!("deployed_with={token}"),
        "--tag",
        "reviewed=yes",
        "--note",
        &format!("pushed with {token}"),
    ])
    .ok();
    assert!(!all_objects(&repo).contains(token));
    let log = repo
        .git(&["log", "-p", &format!("refs/mlops/runs/{id}")])
        .ok()
        .stdout;
    assert!(log.contains("reviewed"), "{log}");
}

#[test]
fn a_wrong_env_list_in_mlops_toml_names_the_key() {
    let repo = Repo::new();
    repo.write("mlops.toml", "[tracking]\nenv = \"TEAM_NAME\"\n");
    let out = repo.mlops(&["track", "--", "true"]).code(2);
    assert!(out.stderr.contains("line 2"), "{}", out.stderr);
}
