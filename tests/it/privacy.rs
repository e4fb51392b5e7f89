//! Nothing private enters the history: a customer file with names, HKIDs
//! (valid check digits), e-mail addresses, card numbers (Luhn-valid) and SSNs
//! goes through `data add`, `drift`, `track --data`, `model register` and
//! `report`; then every object under refs/mlops/* is read with plain git and
//! searched for each identifier. Drift on the non-identifying columns still
//! works, and gives the same verdicts from the profile as from the file.

use serde_json::Value;

use crate::support::Repo;

/// A HKID with a valid check digit for `n` (one letter, six digits).
fn hkid(n: u32) -> String {
    let letter = (b'A' + (n % 26) as u8) as char;
    let digits = format!("{:06}", 100_000 + n * 7919 % 900_000);
    let mut sum = 36 * 9 + (letter as u32 - 'A' as u32 + 10) * 8;
    for (i, d) in digits.chars().enumerate() {
        sum += d.to_digit(10).unwrap() * (7 - i as u32);
    }
    let check = (11 - sum % 11) % 11;
    let check = if check == 10 {
        "A".to_string()
    } else {
        check.to_string()
    };
    format!("{letter}{digits}({check})")
}

/// A 16-digit card number passing the Luhn check.
fn card(n: u64) -> String {
    let body = format!("4{:014}", 31_415_926_535_u64 + n * 2_718_281);
    let mut sum = 0;
    for (i, c) in body.chars().rev().enumerate() {
        let mut d = c.to_digit(10).unwrap();
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    format!("{body}{}", (10 - sum % 10) % 10)
}

const FIRST: [&str; 10] = [
    "Wing", "Siu", "Ka", "Mei", "Chun", "Hoi", "Yan", "Tsz", "Lok", "Pui",
];
const LAST: [&str; 10] = [
    "Chan", "Wong", "Lee", "Cheung", "Lau", "Ho", "Ng", "Leung", "Yip", "Tang",
];

struct Customers {
    csv: String,
    identifiers: Vec<String>,
}

/// `rows` customers: identifying columns and modelling columns.
fn customers(rows: usize, shift: f64) -> Customers {
    let mut csv = String::from("name,hkid,email,card,ssn,income,region,age\n");
    let mut identifiers = Vec::new();
    for i in 0..rows {
        let name = format!(
            "{} {} {}",
            FIRST[i % 10],
            LAST[(i / 10) % 10],
            ["Ming", "Fai", "Kit", "Wai", "Yee"][(i / 100) % 5]
        );
        let id = hkid(i as u32 + (shift * 1000.0) as u32);
        let email = format!("customer{}.{}@bank-mail.example", i, (shift * 10.0) as u32);
        let cc = card(i as u64 + (shift * 1000.0) as u64);
        let ssn = format!("{:03}-{:02}-{:04}", 100 + i % 600, 10 + i % 89, 1000 + i);
        let income = 20_000.0 + ((i * 7919) % 1000) as f64 * 97.0 + shift * 15_000.0;
        let region = ["north", "south", "east", "west"][i % 4];
        let age = 25 + (i * 13) % 40;
        csv.push_str(&format!(
            "{name},{id},{email},{cc},{ssn},{income},{region},{age}\n"
        ));
        identifiers.extend([name, id, email, cc, ssn]);
    }
    Customers { csv, identifiers }
}

/// Every byte of every object reachable from refs/mlops/*, as git stores it
/// (decompressed), concatenated.
fn every_object(repo: &Repo) -> String {
    let list = repo
        .git(&[
            "rev-list",
            "--objects",
            "--glob=refs/mlops/*",
            "--no-object-names",
        ])
        .ok()
        .stdout;
    let mut all = String::new();
    for oid in list.lines() {
        let out = repo.git(&["cat-file", "-p", oid]);
        all.push_str(&out.stdout);
        all.push('\n');
    }
    all
}

#[test]
fn customer_identifiers_never_reach_a_record() {
    let repo = Repo::new();
    let train = customers(500, 0.0);
    repo.write("data/customers.csv", &train.csv);
    let later = customers(500, 1.0);
    repo.write("data/incoming.csv", &later.csv);
    repo.write("model.bin", "weights");
    repo.write(
        "mlops.toml",
        "[monitors.customers]\nreference = \"customers\"\ncurrent = [\"data/incoming.csv\"]\n",
    );
    repo.git(&["add", "mlops.toml"]).ok();
    repo.git(&["commit", "-qm", "config"]).ok();

    repo.mlops(&["data", "add", "data/customers.csv", "--name", "customers"])
        .ok();
    // Drift against the dataset (its files) and, with the file gone,
    // against its profile: the same verdicts on the modelling columns.
    let from_files = repo.mlops(&["drift", "customers", "--json"]).json();
    std::fs::rename(
        repo.path.join("data/customers.csv"),
        repo.path.join("customers.bak"),
    )
    .unwrap();
    let from_profile = repo
        .mlops(&["drift", "customers", "--json", "--no-record"])
        .json();
    std::fs::rename(
        repo.path.join("customers.bak"),
        repo.path.join("data/customers.csv"),
    )
    .unwrap();
    let col = |r: &Value, name: &str| -> Value {
        r["report"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["column"] == name)
            .cloned()
            .unwrap()
    };
    for name in ["income", "region", "age"] {
        let (a, b) = (col(&from_files, name), col(&from_profile, name));
        assert_eq!(a["drift"], b["drift"], "{name}: {a} vs {b}");
        assert!(a["score"].is_number(), "{name} is tested: {a}");
    }
    assert_eq!(col(&from_files, "income")["drift"], true);
    // The identifying columns are protected, and say why.
    for (name, why) in [
        ("hkid", "HKIDs"),
        ("email", "e-mail"),
        ("card", "card numbers"),
        ("ssn", "social security"),
        ("name", "distinct"),
    ] {
        for r in [&from_files, &from_profile] {
            let c = col(r, name);
            let reason = c["not_tested"].as_str().unwrap_or_default();
            assert!(
                reason.contains("protected") && reason.contains(why),
                "{name}: {c}"
            );
            assert!(c["null_share"]["reference"].is_number(), "{name}: {c}");
        }
    }

    // A run trained on the dataset, a model version, the audit report.
    repo.mlops(&[
        "track",
        "--data",
        "train=customers",
        "--artifact",
        "model.bin",
        "--",
        "true",
    ])
    .ok();
    let run = repo.mlops(&["runs", "list", "--json"]).ok().json()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    repo.mlops(&["model", "register", "scorer", "--run", &run])
        .ok();
    repo.mlops(&["report", "scorer", "--out", "audit"]).ok();

    let objects = every_object(&repo);
    assert!(objects.len() > 10_000, "the records were read");
    let leaked: Vec<&String> = train
        .identifiers
        .iter()
        .chain(&later.identifiers)
        .filter(|id| objects.contains(id.as_str()))
        .collect();
    assert!(
        leaked.is_empty(),
        "{} identifiers in git objects, e.g. {:?}",
        leaked.len(),
        &leaked[..leaked.len().min(5)]
    );
    // Non-identifying summaries are still there: the regions, by name.
    assert!(objects.contains("\"north\""));
    // And the report says which columns were protected, and why.
    let report = repo.read("audit/report.md");
    assert!(!train
        .identifiers
        .iter()
        .any(|id| report.contains(id.as_str())));
}

#[test]
fn pii_and_exclude_columns_are_honoured_and_rare_categories_pooled() {
    let repo = Repo::new();
    let mut csv = String::from("branch,segment,notes,score\n");
    for i in 0..200 {
        // `branch` has 12 values; one is held by 2 rows only.
        let branch = if i < 2 {
            "Tai Po Kau Lane".to_string()
        } else {
            format!("branch-{}", i % 11)
        };
        csv.push_str(&format!(
            "{branch},seg-{},free text {i},{}\n",
            i % 3,
            i as f64 * 0.5
        ));
    }
    repo.write("data/d.csv", &csv);
    repo.write(
        "mlops.toml",
        "[privacy]\nk = 5\npii = [\"segment\"]\nexclude = [\"score\"]\n",
    );
    repo.mlops(&["data", "add", "data/d.csv", "--name", "d"])
        .ok();
    let objects = every_object(&repo);
    assert!(!objects.contains("Tai Po Kau Lane"), "a category of 2 rows");
    assert!(objects.contains("branch-3"));
    assert!(!objects.contains("seg-1"), "pii column values");
    assert!(!objects.contains("free text 17"), "identifier-like column");
    let show = repo
        .mlops(&["data", "show", "d@latest", "--json"])
        .ok()
        .json();
    let text = show.to_string();
    assert!(text.contains("listed under `pii`"), "{text}");
    assert!(text.contains("listed under `exclude`"), "{text}");
}

/// `mlops scan` finds what an older mlops (or a careless note) put into a
/// record, without printing it, and passes a clean repository.
#[test]
fn scan_finds_identifiers_and_secrets_already_in_records() {
    let repo = Repo::new();
    repo.write(
        "data/d.csv",
        "region,x\nnorth,1\nsouth,2\nnorth,3\nsouth,4\nnorth,5\n",
    );
    repo.mlops(&["data", "add", "data/d.csv", "--name", "d"])
        .ok();
    repo.mlops(&["note", "model/m", "-m", "reviewed"]).ok();
    let clean = repo.mlops(&["scan", "--json"]).ok().json();
    assert_eq!(clean["findings"].as_array().unwrap().len(), 0, "{clean}");
    assert!(clean["records"].as_u64().unwrap() >= 2);
    // A note that holds a customer's e-mail and a token.
    repo.mlops(&[
        "note",
        "model/m",
        "-m",
        "ask wing.chan@customer-mail.example",
    ])
    .ok();
    let out = repo.mlops(&["scan", "--json"]).code(1);
    let findings = out.json()["findings"].as_array().unwrap().clone();
    assert!(
        findings
            .iter()
            .any(|f| f["entity"] == "model/m" && f["looks_like"] == "e-mail addresses"),
        "{findings:?}"
    );
    assert!(!out.stdout.contains("wing.chan@customer-mail.example"));
}

/// A token pasted into a note, a promotion reason or a data source is
/// redacted like one on a command line.
#[test]
fn secrets_typed_into_notes_and_reasons_are_redacted() {
    let repo = Repo::new();
    let token = "ghp_Zq7TnB2xK9mR4vW8yL1cD6fH3jP0sA5eG2uN";
    repo.mlops(&["note", "model/m", "-m", &format!("deploy key is {token}")])
        .ok();
    repo.write("data/d.csv", "x\n1\n2\n3\n4\n5\n");
    repo.mlops(&[
        "data",
        "add",
        "data/d.csv",
        "--name",
        "d",
        "--source",
        &format!("https://etl:{token}@warehouse.example/export"),
    ])
    .ok();
    repo.write("model.bin", "w");
    repo.mlops(&["model", "register", "m", "--artifact", "model.bin"])
        .ok();
    repo.mlops(&[
        "promote",
        "m@0.1.0",
        "--to",
        "staging",
        "--force",
        "--reason",
        &format!("hotfix, token {token}"),
    ])
    .ok();
    let objects = every_object(&repo);
    assert!(!objects.contains(token), "the token reached a record");
    assert!(objects.contains("<redacted>"));
    repo.mlops(&["scan"]).ok();
}
