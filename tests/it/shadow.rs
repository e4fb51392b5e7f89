//! `mlops shadow`: champion–challenger comparisons on shadow (paired) and
//! A/B (split) traffic, the `shadow-comparison` record, and the `shadow`
//! promotion gate that reads it (docs/shadow.md).

use mlops::drift::load::{frame, write_table, TestValues};
use serde_json::Value;

use crate::support::{Out, Repo};

const POLICY: &str = r#"
[models.churn]
stages = ["production"]
[models.churn.gates.production]
shadow = { metric = "auc", max_worse = 0.01, min_rows = 300 }
"#;

const ROWS: usize = 400;

/// A repository with `mlops.toml` committed and versions 1.0.0 (in
/// production), 2.0.0 and 3.0.0 registered, each from a run reporting `auc`.
fn registry(policy: &str) -> Repo {
    let repo = Repo::new();
    repo.commit_file("mlops.toml", policy);
    for (v, auc) in [("1.0.0", 0.8), ("2.0.0", 0.79), ("3.0.0", 0.83)] {
        let script = format!(r#"echo "{{\"auc\": {auc}}}" >> "$MLOPS_METRICS""#);
        let run = repo
            .mlops(&["track", "--json", "--", "sh", "-c", &script])
            .ok()
            .json()["run"]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        repo.mlops(&["model", "register", "churn", "--run", &run, "--version", v])
            .ok();
    }
    repo.mlops(&["promote", "churn@1.0.0", "--to", "production"])
        .ok();
    repo
}

/// A fixed pseudo-random stream in [0, 1) (a test needs no better).
fn noise(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

fn key(i: usize) -> String {
    format!("cust-{i:06}")
}

fn labels(n: usize) -> Vec<u8> {
    noise(1, n).iter().map(|u| u8::from(*u < 0.4)).collect()
}

/// Scores that separate the classes by `gap`, with noise of width `spread`.
fn scores(seed: u64, gap: f64, spread: f64) -> Vec<f64> {
    labels(ROWS)
        .iter()
        .zip(noise(seed, ROWS))
        .map(|(&y, u)| {
            let centre = if y == 1 {
                0.5 + gap / 2.0
            } else {
                0.5 - gap / 2.0
            };
            (centre + (u - 0.5) * spread).clamp(0.0, 1.0)
        })
        .collect()
}

/// `id,prediction` for keys `range`, in reverse order (the join must not
/// depend on row order).
fn predictions(repo: &Repo, name: &str, s: &[f64], range: std::ops::Range<usize>) {
    let mut text = String::from("id,prediction\n");
    for i in range.rev() {
        text.push_str(&format!("{},{:.6}\n", key(i), s[i]));
    }
    repo.write(name, &text);
}

fn write_labels(repo: &Repo) {
    let mut text = String::from("id,label,region\n");
    for (i, y) in labels(ROWS).iter().enumerate() {
        // three regions, and one of 3 rows (below k = 5: never reported)
        let region = match i {
            0..=2 => "islands",
            _ if i % 2 == 0 => "north",
            _ => "south",
        };
        text.push_str(&format!("{},{y},{region}\n", key(i)));
    }
    repo.write("labels.csv", &text);
}

fn shadow(repo: &Repo, args: &[&str]) -> Out {
    let mut all = vec!["shadow"];
    all.extend_from_slice(args);
    repo.mlops(&all)
}

fn auc(out: &Value) -> &Value {
    out["comparison"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "auc")
        .unwrap_or_else(|| panic!("no auc in {out:#}"))
}

fn shadow_gate(promotion: &Value) -> &Value {
    promotion["evaluation"]["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "shadow auc")
        .unwrap_or_else(|| panic!("no shadow gate in {promotion:#}"))
}

fn tip(repo: &Repo) -> String {
    repo.git(&["rev-parse", "refs/mlops/models/churn"])
        .ok()
        .stdout
}

/// Every byte of every object in the repository, as text.
fn all_objects(repo: &Repo) -> String {
    let names = repo
        .git(&[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname)",
        ])
        .ok()
        .stdout;
    repo.git_stdin(&["cat-file", "--batch"], &names).ok().stdout
}

#[test]
fn a_worse_challenger_fails_its_gate_and_a_better_one_passes() {
    let repo = registry(POLICY);
    let champion = scores(10, 0.3, 0.8);
    predictions(&repo, "champion.csv", &champion, 0..ROWS);
    predictions(&repo, "worse.csv", &scores(20, 0.1, 0.9), 0..ROWS);
    predictions(&repo, "better.csv", &scores(30, 0.5, 0.6), 0..ROWS);
    write_labels(&repo);

    // Before any comparison the gate has nothing to go on.
    let none = repo
        .mlops(&[
            "promote",
            "churn@2.0.0",
            "--to",
            "production",
            "--check",
            "--json",
        ])
        .code(1)
        .json();
    let g = shadow_gate(&none);
    assert_eq!(g["pass"], false);
    assert!(
        g["actual"]
            .as_str()
            .unwrap()
            .contains("no shadow comparison against v1.0.0"),
        "{g}"
    );

    // The worse challenger: `mlops shadow` exits 1 and says why.
    let worse = shadow(
        &repo,
        &[
            "churn@2.0.0",
            "--predictions",
            "champion.csv",
            "worse.csv",
            "--labels",
            "labels.csv",
            "--key",
            "id",
            "--json",
        ],
    )
    .code(1)
    .json();
    let c = &worse["comparison"];
    assert_eq!(c["mode"], "shadow");
    assert_eq!(c["stage"], "production");
    assert_eq!(c["champion"]["version"], "1.0.0");
    assert_eq!(c["challenger"]["version"], "2.0.0");
    assert_eq!(c["counts"]["joined"], ROWS);
    assert_eq!(c["counts"]["labelled_champion"], ROWS);
    assert_eq!(c["shift"]["statistic"], "psi");
    let rate = c["agreement"]["rate"].as_f64().unwrap();
    assert!(rate > 0.3 && rate < 1.0, "{rate}");
    let m = auc(&worse);
    let (d, lo, hi) = (
        m["difference"].as_f64().unwrap(),
        m["ci"]["low"].as_f64().unwrap(),
        m["ci"]["high"].as_f64().unwrap(),
    );
    assert!(d < -0.05, "clearly worse: {d}");
    assert!(lo <= d && d <= hi, "the interval [{lo}, {hi}] contains {d}");
    assert!((m["worse_by"].as_f64().unwrap() + d).abs() < 1e-12);
    assert!(
        (m["challenger"].as_f64().unwrap() - m["champion"].as_f64().unwrap() - d).abs() < 1e-12
    );
    assert_eq!(worse["gate"]["pass"], false);
    let id = worse["record"].as_str().unwrap().to_string();

    // The same again: the record is reproducible (same interval).
    let again = shadow(
        &repo,
        &[
            "churn@2.0.0",
            "--predictions",
            "champion.csv",
            "worse.csv",
            "--labels",
            "labels.csv",
            "--key",
            "id",
            "--json",
            "--no-record",
        ],
    )
    .code(1)
    .json();
    assert_eq!(auc(&again)["ci"], m["ci"]);

    // The promotion reads that record and refuses.
    let refused = repo
        .mlops(&["promote", "churn@2.0.0", "--to", "production", "--json"])
        .code(1)
        .json();
    let g = shadow_gate(&refused);
    assert_eq!(g["pass"], false);
    assert!(g["actual"].as_str().unwrap().contains("worse by"), "{g}");
    assert!(g["expected"].as_str().unwrap().contains("v1.0.0"), "{g}");

    // The better challenger passes both.
    let table = shadow(
        &repo,
        &[
            "churn@3.0.0",
            "--against",
            "@production",
            "--predictions",
            "champion.csv",
            "better.csv",
            "--labels",
            "labels.csv",
            "--key",
            "id",
        ],
    )
    .ok()
    .stdout;
    assert!(table.contains("agreement:"), "{table}");
    assert!(table.contains("gate shadow auc: PASS"), "{table}");
    let promoted = repo
        .mlops(&["promote", "churn@3.0.0", "--to", "production", "--json"])
        .ok()
        .json();
    let g = shadow_gate(&promoted);
    assert_eq!(g["pass"], true, "{g}");
    assert!(g["actual"].as_str().unwrap().contains("not worse"), "{g}");

    // The history shows the comparisons, verify accepts them, and no key
    // or score is in any object.
    let log = repo.mlops(&["log", "model/churn", "--json"]).ok().stdout;
    assert!(log.contains("shadow-comparison"), "{log}");
    assert!(log.contains(&id), "{log}");
    repo.mlops(&["verify"]).ok();
    repo.mlops(&["model", "show", "churn"]).ok();
    let objects = all_objects(&repo);
    assert!(objects.contains("shadow-comparison"));
    assert!(!objects.contains("cust-000123"), "a key reached a record");
    assert!(
        !objects.contains(&format!("{:.6}", champion[123])),
        "a score reached a record"
    );
}

#[test]
fn ab_mode_compares_each_arms_own_traffic() {
    let repo = registry(POLICY);
    // Disjoint halves: keys 0..200 went to the champion, 200..400 to the challenger.
    predictions(&repo, "a.csv", &scores(10, 0.3, 0.8), 0..200);
    let s = scores(30, 0.5, 0.6);
    let mut df = frame(vec![
        (
            "id",
            TestValues::Str((200..ROWS).map(|i| Some(key(i))).collect()),
        ),
        (
            "prediction",
            TestValues::F64((200..ROWS).map(|i| Some(s[i])).collect()),
        ),
    ]);
    write_table(&repo.path.join("b.parquet"), &mut df).unwrap();
    write_labels(&repo);
    let args = [
        "churn@3.0.0",
        "--predictions",
        "a.csv",
        "b.parquet",
        "--labels",
        "labels.csv",
        "--key",
        "id",
        "--metric",
        "auc,accuracy",
        "--no-record",
    ];

    // Paired mode finds nothing to pair and says what to do.
    let paired = shadow(&repo, &args).code(2);
    assert!(paired.stderr.contains("use --ab"), "{}", paired.stderr);

    let mut ab = args.to_vec();
    ab.extend(["--ab", "--json"]);
    let out = shadow(&repo, &ab).code(1).json();
    let c = &out["comparison"];
    assert_eq!(c["mode"], "ab");
    assert!(c["agreement"].is_null());
    assert_eq!(c["counts"]["labelled_champion"], 200);
    assert_eq!(c["counts"]["labelled_challenger"], 200);
    assert_eq!(c["bootstrap"]["method"], "independent");
    assert_eq!(c["files"]["challenger"]["path"], "b.parquet");
    assert_eq!(c["files"]["challenger"]["rows"], 200);
    let m = auc(&out);
    assert_eq!(m["rows"], 200);
    assert_eq!(m["challenger_rows"], 200);
    let (d, lo, hi) = (
        m["difference"].as_f64().unwrap(),
        m["ci"]["low"].as_f64().unwrap(),
        m["ci"]["high"].as_f64().unwrap(),
    );
    assert!(d > 0.0 && lo <= d && d <= hi, "{m}");
    assert_eq!(c["metrics"].as_array().unwrap().len(), 2);
    // 200 labelled rows per arm are fewer than the gate's 300: it fails on that.
    assert_eq!(out["gate"]["actual"], "200 labelled rows");
}

#[test]
fn slices_report_k_rows_or_more_and_refuse_identifiers() {
    let repo = registry(POLICY);
    predictions(&repo, "champion.csv", &scores(10, 0.3, 0.8), 0..ROWS);
    predictions(&repo, "better.csv", &scores(30, 0.5, 0.6), 0..ROWS);
    write_labels(&repo);
    let out = shadow(
        &repo,
        &[
            "churn@3.0.0",
            "--predictions",
            "champion.csv",
            "better.csv",
            "--labels",
            "labels.csv",
            "--key",
            "id",
            "--slice",
            "region",
            "--json",
        ],
    )
    .ok()
    .json();
    let sl = &out["comparison"]["slices"];
    assert_eq!(sl["column"], "region");
    assert_eq!(sl["k"], 5);
    assert_eq!(sl["dropped"], 1, "the 3-row slice is not reported: {sl}");
    let names: Vec<&str> = sl["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["north", "south"]);
    assert!(!all_objects(&repo).contains("islands"));

    // The champion named by version (it holds production: that stage's gate
    // applies); Markdown ends with the verdict.
    let md = shadow(
        &repo,
        &[
            "churn@3.0.0",
            "--against",
            "1.0.0",
            "--predictions",
            "champion.csv",
            "better.csv",
            "--labels",
            "labels.csv",
            "--key",
            "id",
            "--format",
            "md",
            "--no-record",
        ],
    )
    .ok()
    .stdout;
    assert!(md.starts_with("## Shadow: `churn` 3.0.0 vs 1.0.0"), "{md}");
    assert!(md.trim_end().ends_with("**"), "{md}");
    assert!(md.contains("**gate shadow auc: PASS"), "{md}");
    assert!(md.contains("| auc |"), "{md}");

    // A slice column of e-mail addresses is refused.
    let mut text = String::from("id,label,email\n");
    for (i, y) in labels(ROWS).iter().enumerate() {
        text.push_str(&format!("{},{y},user{}@example.com\n", key(i), i % 4));
    }
    repo.write("labels_email.csv", &text);
    let before = tip(&repo);
    let refused = shadow(
        &repo,
        &[
            "churn@3.0.0",
            "--predictions",
            "champion.csv",
            "better.csv",
            "--labels",
            "labels_email.csv",
            "--key",
            "id",
            "--slice",
            "email",
        ],
    )
    .code(2);
    assert!(
        refused.stderr.contains("look like e-mail addresses"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("example.com"),
        "{}",
        refused.stderr
    );
    assert_eq!(tip(&repo), before);
}

#[test]
fn bad_input_is_exit_2_naming_the_file_and_column_and_no_record_writes_nothing() {
    let repo = registry(POLICY);
    predictions(&repo, "champion.csv", &scores(10, 0.3, 0.8), 0..ROWS);
    repo.write("nokey.csv", "customer,prediction\ncust-000001,0.5\n");
    repo.write(
        "dup.csv",
        "id,prediction\ncust-000001,0.5\ncust-000001,0.6\ncust-000002,0.1\n",
    );
    write_labels(&repo);
    let before = tip(&repo);
    let run = |chall: &str, extra: &[&str]| {
        let mut args = vec![
            "churn@3.0.0",
            "--predictions",
            "champion.csv",
            chall,
            "--key",
            "id",
        ];
        args.extend_from_slice(extra);
        shadow(&repo, &args)
    };
    let e = run("nokey.csv", &[]).code(2);
    assert!(
        e.stderr.contains("`nokey.csv` has no key column `id`"),
        "{}",
        e.stderr
    );
    let e = run("dup.csv", &[]).code(2);
    assert!(
        e.stderr.contains("`dup.csv`: 1 row(s) repeat a key"),
        "{}",
        e.stderr
    );
    let e = run("champion.csv", &["--labels", "labels.csv", "--label", "y"]).code(2);
    assert!(
        e.stderr.contains("`labels.csv` has no label column `y`"),
        "{}",
        e.stderr
    );
    let e = shadow(
        &repo,
        &[
            "churn@9.9.9",
            "--predictions",
            "champion.csv",
            "champion.csv",
            "--key",
            "id",
        ],
    )
    .code(2);
    assert!(e.stderr.contains("no version `9.9.9`"), "{}", e.stderr);
    let e = run("champion.csv", &["--against", "@staging"]).code(2);
    assert!(e.stderr.contains("stage `staging`"), "{}", e.stderr);
    assert_eq!(tip(&repo), before, "nothing recorded on errors");

    // --no-record: a full comparison, nothing written.
    let out = run(
        "champion.csv",
        &["--labels", "labels.csv", "--no-record", "--json"],
    )
    .ok()
    .json();
    assert!(out["record"].is_null());
    assert_eq!(out["comparison"]["agreement"]["rate"], 1.0);
    assert_eq!(auc(&out)["difference"], 0.0);
    assert_eq!(tip(&repo), before);
}

#[test]
fn a_misconfigured_shadow_gate_is_a_config_error() {
    let repo = registry("[models.churn]\nstages = [\"production\"]\n");
    repo.commit_file(
        "mlops.toml",
        "[models.churn]\nstages = [\"production\"]\n[models.churn.gates.production]\nshadow = { metric = \"bogus\", max_worse = 0.01 }\n",
    );
    let e = repo.mlops(&["config"]).code(2);
    assert!(
        e.stderr
            .contains("[models.churn.gates.production] shadow: `bogus` is not a metric"),
        "{}",
        e.stderr
    );
    repo.commit_file(
        "mlops.toml",
        "[models.churn]\nstages = [\"production\"]\n[models.churn.gates.production]\nshadow = { metric = \"auc\", max_worse = -1 }\n",
    );
    let e = repo
        .mlops(&["promote", "churn@2.0.0", "--to", "production", "--check"])
        .code(2);
    assert!(
        e.stderr
            .contains("[models.churn.gates.production] shadow: max_worse = -1"),
        "{}",
        e.stderr
    );
}
