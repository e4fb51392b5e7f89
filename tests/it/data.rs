//! `mlops data add|status|diff|list|show|verify` on real trees and real
//! CSV, Parquet and NDJSON files.

use std::os::unix::fs::symlink;
use std::path::Path;

use mlops::drift::load::{frame, write_table, TestValues};
use sha2::{Digest, Sha256};

use crate::support::Repo;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The root as an auditor recomputes it: `sha256sum` lines sorted by path.
fn expected_root(repo: &Repo, files: &[&str]) -> String {
    let mut sorted: Vec<&&str> = files.iter().collect();
    sorted.sort();
    let listing: String = sorted
        .iter()
        .map(|f| format!("{}  {f}\n", sha(&std::fs::read(repo.path.join(f)).unwrap())))
        .collect();
    sha(listing.as_bytes())
}

fn tree(repo: &Repo) -> Vec<&'static str> {
    let files = [
        "data/a.txt",
        "data/sub/b.txt",
        "data/sub/deeper/c.bin",
        "data/empty.txt",
    ];
    repo.write(files[0], "alpha\n");
    repo.write(files[1], "beta\n");
    repo.write(files[2], "\u{0}\u{1}\u{2}");
    repo.write(files[3], "");
    files.to_vec()
}

#[test]
fn add_records_a_version_whose_root_sha256sum_can_recompute() {
    let repo = Repo::new();
    let files = tree(&repo);
    let out = repo
        .mlops(&[
            "data",
            "add",
            "data",
            "--name",
            "raw",
            "--source",
            "vendor drop 2026-03",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(out["name"], "raw");
    assert_eq!(out["unchanged"], false);
    let v = &out["version"];
    assert_eq!(v["file_count"], 4);
    assert_eq!(v["bytes"], 6 + 5 + 3);
    assert_eq!(v["root"], expected_root(&repo, &files));
    assert_eq!(v["paths"], serde_json::json!(["data"]));
    assert_eq!(v["source"], "vendor drop 2026-03");
    let manifest = v["manifest"].as_array().unwrap();
    let empty = manifest
        .iter()
        .find(|e| e["path"] == "data/empty.txt")
        .unwrap();
    assert_eq!(empty["sha256"], sha(b""), "empty files are recorded");
    // The same root through the shell, as the docs tell an auditor.
    let shell = std::process::Command::new("sh")
        .arg("-c")
        .arg("find data -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1")
        .current_dir(&repo.path)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&shell.stdout).trim(),
        v["root"].as_str().unwrap()
    );
    // Pinned in mlops.lock; the record is on its ref.
    let lock = repo.read("mlops.lock");
    assert!(
        lock.contains("[datasets.raw]") && lock.contains(out["id"].as_str().unwrap()),
        "{lock}"
    );
    let subject = repo
        .git(&["log", "--format=%s", "refs/mlops/datasets/raw"])
        .ok()
        .stdout;
    assert!(subject.starts_with("dataset raw: 4 file(s)"), "{subject}");
}

#[test]
fn adding_an_unchanged_tree_records_nothing_and_says_so() {
    let repo = Repo::new();
    tree(&repo);
    repo.mlops(&["data", "add", "data", "--name", "raw"]).ok();
    let tip = repo
        .git(&["rev-parse", "refs/mlops/datasets/raw"])
        .ok()
        .stdout;
    let out = repo.mlops(&["data", "add", "data", "--name", "raw"]).ok();
    assert!(out.stdout.contains("unchanged"), "{}", out.stdout);
    assert_eq!(
        repo.git(&["rev-parse", "refs/mlops/datasets/raw"])
            .ok()
            .stdout,
        tip
    );
}

#[test]
fn status_compares_the_working_files_with_the_lock() {
    let repo = Repo::new();
    tree(&repo);
    repo.mlops(&["data", "add", "data", "--name", "raw"]).ok();
    let out = repo.mlops(&["data", "status"]).ok();
    assert_eq!(out.stdout.trim(), "raw: clean");
    repo.write("data/new.txt", "new\n");
    std::fs::remove_file(repo.path.join("data/sub/b.txt")).unwrap();
    // Same size, different bytes: the stat cache must not hide it.
    repo.write("data/a.txt", "ALPHA\n");
    let out = repo.mlops(&["data", "status"]).code(1);
    assert!(
        out.stdout.contains("added:    data/new.txt"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("removed:  data/sub/b.txt"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("modified: data/a.txt"),
        "{}",
        out.stdout
    );
    let json = repo
        .mlops(&["data", "status", "raw", "--json"])
        .code(1)
        .json();
    assert_eq!(json[0]["clean"], false);
    assert_eq!(json[0]["added"][0]["path"], "data/new.txt");
    // A removed folder means every file was removed.
    std::fs::remove_dir_all(repo.path.join("data")).unwrap();
    let json = repo.mlops(&["data", "status", "--json"]).code(1).json();
    assert_eq!(json[0]["removed"].as_array().unwrap().len(), 4);
    let out = repo.mlops(&["data", "status", "nope"]).code(2);
    assert!(out.stderr.contains("not pinned"), "{}", out.stderr);
}

#[test]
fn a_warm_status_is_served_from_the_stat_cache() {
    let repo = Repo::new();
    for i in 0..200 {
        repo.write(&format!("data/f{i:03}.txt"), &format!("file {i}\n"));
    }
    repo.mlops(&["data", "add", "data", "--name", "many"]).ok();
    // Wait out the racy-timestamp window (2 s) so the cache may trust the stamps.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    repo.mlops(&["data", "status"]).ok();
    let warm = repo
        .mlops(&["data", "add", "data", "--name", "many", "--json"])
        .ok()
        .json();
    assert_eq!(warm["unchanged"], true);
    assert_eq!(warm["hashed_files"], 0, "every file came from the cache");
    assert_eq!(warm["cached_files"], 200);
    // A corrupt cache costs speed, never correctness.
    std::fs::write(repo.path.join(".git/mlops/statcache"), b"garbage").unwrap();
    let cold = repo
        .mlops(&["data", "add", "data", "--name", "many", "--json"])
        .ok()
        .json();
    assert_eq!(cold["unchanged"], true);
    assert_eq!(cold["hashed_files"], 200);
}

#[test]
fn verify_rehashes_every_byte_and_names_each_bad_file() {
    let repo = Repo::new();
    tree(&repo);
    repo.mlops(&["data", "add", "data", "--name", "raw"]).ok();
    let ok = repo.mlops(&["data", "verify", "raw"]).ok();
    assert!(ok.stdout.contains("all 4 file(s) match"), "{}", ok.stdout);
    repo.write("data/sub/b.txt", "BETA\n");
    std::fs::remove_file(repo.path.join("data/a.txt")).unwrap();
    let bad = repo.mlops(&["data", "verify", "raw"]).code(1);
    assert!(
        bad.stdout.contains("MISMATCH data/sub/b.txt"),
        "{}",
        bad.stdout
    );
    assert!(bad.stdout.contains("MISSING  data/a.txt"), "{}", bad.stdout);
    let json = repo
        .mlops(&["data", "verify", "raw", "--json"])
        .code(1)
        .json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["mismatches"].as_array().unwrap().len(), 2);
    repo.mlops(&["data", "verify", "nope"]).code(2);
}

fn write_tables(dir: &Path, rows: usize, shift: f64) {
    std::fs::create_dir_all(dir).unwrap();
    let x: Vec<Option<f64>> = (0..rows)
        .map(|i| {
            if i % 10 == 0 {
                None
            } else {
                Some(i as f64 * 0.5 + shift)
            }
        })
        .collect();
    let k: Vec<Option<i64>> = (0..rows).map(|i| Some((i % 4) as i64)).collect();
    let c: Vec<Option<String>> = (0..rows)
        .map(|i| Some(["red", "green", "blue"][i % 3].to_string()))
        .collect();
    for name in ["t.csv", "t.parquet", "t.ndjson"] {
        let mut df = frame(vec![
            ("x", TestValues::F64(x.clone())),
            ("k", TestValues::I64(k.clone())),
            ("color", TestValues::Str(c.clone())),
        ]);
        write_table(&dir.join(name), &mut df).unwrap();
    }
}

#[test]
fn tabular_files_get_compact_profiles_in_every_format() {
    let repo = Repo::new();
    write_tables(&repo.path.join("tables"), 1000, 0.0);
    repo.write("tables/readme.txt", "not a table\n");
    let out = repo
        .mlops(&["data", "add", "tables", "--name", "tables"])
        .ok();
    assert!(out.stdout.contains("4 file(s)"), "{}", out.stdout);
    let show = repo
        .mlops(&["data", "show", "tables@latest", "--json"])
        .ok()
        .json();
    let profiles = show["profiles"].as_object().unwrap();
    assert_eq!(
        profiles.len(),
        3,
        "csv, parquet and ndjson: {:?}",
        profiles.keys()
    );
    for (path, p) in profiles {
        assert_eq!(p["rows"], 1000, "{path}");
        let x = p["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "x")
            .unwrap();
        assert!(
            (x["null_share"].as_f64().unwrap() - 0.1).abs() < 1e-12,
            "{path}: {x}"
        );
        let color = p["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "color")
            .unwrap();
        assert_eq!(color["distinct"], 3, "{path}");
        let text = serde_json::to_string(p).unwrap();
        assert!(
            text.len() < 64 * 1024,
            "{path}: a profile is kilobytes, got {}",
            text.len()
        );
    }
    let summary = show["version"]["profiles"].as_array().unwrap();
    assert_eq!(summary.len(), 3);
    let table = repo.mlops(&["data", "show", "tables@1"]).ok().stdout;
    assert!(table.contains("tables/t.parquet: 1000 rows"), "{table}");
}

#[test]
fn diff_lists_file_changes_and_row_and_column_changes() {
    let repo = Repo::new();
    write_tables(&repo.path.join("tables"), 500, 0.0);
    repo.mlops(&["data", "add", "tables", "--name", "t"]).ok();
    std::fs::remove_file(repo.path.join("tables/t.ndjson")).unwrap();
    let rows = 800;
    let mut df = frame(vec![
        (
            "x",
            TestValues::F64((0..rows).map(|i| Some(i as f64)).collect()),
        ),
        (
            "extra",
            TestValues::Str((0..rows).map(|_| Some("e".to_string())).collect()),
        ),
    ]);
    write_table(&repo.path.join("tables/t.csv"), &mut df).unwrap();
    repo.write("tables/new.txt", "n\n");
    repo.mlops(&["data", "add", "tables", "--name", "t"]).ok();
    let d = repo.mlops(&["data", "diff", "t", "--json"]).ok().json();
    assert_eq!(d["added"][0]["path"], "tables/new.txt");
    assert_eq!(d["removed"][0]["path"], "tables/t.ndjson");
    assert_eq!(d["modified"][0][0]["path"], "tables/t.csv");
    let t = &d["tables"]["tables/t.csv"];
    assert_eq!(t["rows"], serde_json::json!([500, 800]));
    assert_eq!(t["added"], serde_json::json!(["extra"]));
    assert_eq!(t["removed"], serde_json::json!(["k", "color"]));
    let text = repo.mlops(&["data", "diff", "t@1", "t@2"]).ok().stdout;
    assert!(
        text.contains("table tables/t.csv: rows 500 → 800"),
        "{text}"
    );
    let first = repo.mlops(&["data", "diff", "t@1"]).code(2);
    assert!(first.stderr.contains("first version"), "{}", first.stderr);
}

#[test]
fn list_and_show() {
    let repo = Repo::new();
    tree(&repo);
    repo.mlops(&["data", "add", "data/a.txt", "--name", "a"])
        .ok();
    repo.mlops(&["data", "add", "data/sub"]).ok();
    let list = repo.mlops(&["data", "list", "--json"]).ok().json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["a", "sub"],
        "the name defaults to the path's last component"
    );
    assert_eq!(list[0]["pinned"], list[0]["latest"]);
    let versions = repo.mlops(&["data", "show", "sub", "--json"]).ok().json();
    assert_eq!(versions.as_array().unwrap().len(), 1);
    let out = repo.mlops(&["data", "show", "sub@v9"]).code(2);
    assert!(out.stderr.contains("has no version"), "{}", out.stderr);
    repo.mlops(&["data", "show", "nope"]).code(2);
}

#[test]
fn symlinks_follow_files_and_skip_folders() {
    let repo = Repo::new();
    tree(&repo);
    std::fs::create_dir_all(repo.path.join("linked")).unwrap();
    symlink(
        repo.path.join("data/a.txt"),
        repo.path.join("linked/to-file"),
    )
    .unwrap();
    symlink(repo.path.join("data/sub"), repo.path.join("linked/to-dir")).unwrap();
    symlink(repo.path.join("nowhere"), repo.path.join("linked/dangling")).unwrap();
    let out = repo.mlops(&["data", "add", "linked", "--json"]).ok().json();
    let m = out["version"]["manifest"].as_array().unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["path"], "linked/to-file");
    assert_eq!(
        m[0]["sha256"],
        sha(b"alpha\n"),
        "hashed as its target, like sha256sum"
    );
    let warnings = out["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let dangling = repo.mlops(&["data", "add", "linked/dangling"]).code(2);
    assert!(dangling.stderr.contains("dangling"), "{}", dangling.stderr);
}

#[test]
fn bad_paths_are_refused_with_exit_2_and_nothing_written() {
    let repo = Repo::new();
    tree(&repo);
    let outside = Repo::bare_dir();
    outside.write("x.txt", "x");
    std::fs::create_dir_all(repo.path.join("empty/inner")).unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["missing.csv".into()], "does not exist"),
        (
            vec![outside.path.join("x.txt").display().to_string()],
            "outside the repository",
        ),
        (
            vec!["../".into(), "--name".into(), "up".into()],
            "outside the repository",
        ),
        (vec!["empty".into()], "no files under"),
        (vec![".git".into(), "--name".into(), "g".into()], ".git"),
    ];
    for (args, expect) in cases {
        let mut a = vec!["data", "add"];
        a.extend(args.iter().map(String::as_str));
        let out = repo.mlops(&a).code(2);
        assert!(out.stderr.contains(expect), "{args:?}: {}", out.stderr);
        assert_eq!(
            out.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1
        );
    }
    let bad_name = repo
        .mlops(&["data", "add", "data", "--name", "a/b"])
        .code(2);
    assert!(
        bad_name.stderr.contains("invalid name"),
        "{}",
        bad_name.stderr
    );
    assert!(repo
        .git(&["for-each-ref", "refs/mlops/"])
        .ok()
        .stdout
        .is_empty());
    assert!(!repo.path.join("mlops.lock").exists());
}

#[test]
fn non_utf8_file_names_are_refused_with_a_rename_hint() {
    use std::os::unix::ffi::OsStrExt;
    let repo = Repo::new();
    let name = std::ffi::OsStr::from_bytes(b"data/bad\xffname.csv");
    std::fs::create_dir_all(repo.path.join("data")).unwrap();
    if std::fs::write(repo.path.join(name), "x").is_err() {
        eprintln!("the file system refuses non-UTF-8 names; skipping");
        return;
    }
    let out = repo.mlops(&["data", "add", "data"]).code(2);
    assert!(out.stderr.contains("not valid utf-8"), "{}", out.stderr);
    assert!(out.stderr.contains("rename"), "{}", out.stderr);
}

#[test]
fn an_unreadable_file_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let repo = Repo::new();
    tree(&repo);
    let p = repo.path.join("data/a.txt");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&p).is_ok() {
        // Running as root: permissions do not stop reads. A FIFO is not a file.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let fifo = repo.path.join("data/pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !made {
            return;
        }
        let out = repo.mlops(&["data", "add", "data/pipe"]).code(2);
        assert!(out.stderr.contains("data/pipe"), "{}", out.stderr);
        return;
    }
    let out = repo.mlops(&["data", "add", "data"]).code(2);
    assert!(out.stderr.contains("data/a.txt"), "{}", out.stderr);
    assert!(repo
        .git(&["for-each-ref", "refs/mlops/"])
        .ok()
        .stdout
        .is_empty());
}

#[test]
fn concurrent_adds_of_different_datasets_all_land_in_the_lock() {
    let repo = Repo::new();
    for i in 0..6 {
        repo.write(&format!("d{i}/f.txt"), &format!("{i}\n"));
    }
    let children: Vec<_> = (0..6)
        .map(|i| {
            let mut c = repo.mlops_cmd(&["data", "add", &format!("d{i}")]);
            c.stdout(std::process::Stdio::null());
            c.spawn().unwrap()
        })
        .collect();
    for c in children {
        assert!(c.wait_with_output().unwrap().status.success());
    }
    let lock = repo.read("mlops.lock");
    for i in 0..6 {
        assert!(lock.contains(&format!("[datasets.d{i}]")), "{lock}");
    }
}

#[test]
fn status_of_a_dataset_with_several_paths_when_one_folder_is_emptied() {
    let repo = Repo::new();
    repo.write("p/a.txt", "a\n");
    repo.write("q/b.txt", "b\n");
    repo.mlops(&["data", "add", "p", "q", "--name", "pq"]).ok();
    std::fs::remove_file(repo.path.join("q/b.txt")).unwrap();
    let json = repo.mlops(&["data", "status", "--json"]).code(1).json();
    let removed: Vec<&str> = json[0]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().or_else(|| v["path"].as_str()).unwrap())
        .collect();
    assert_eq!(removed, ["q/b.txt"], "{json}");
    assert!(json[0]["modified"].as_array().unwrap().is_empty());
}

#[test]
fn concurrent_adds_of_the_same_files_record_one_version() {
    let repo = Repo::new();
    repo.write("same/f.txt", "same bytes\n");
    let children: Vec<_> = (0..6)
        .map(|_| {
            let mut c = repo.mlops_cmd(&["data", "add", "same", "--name", "same"]);
            c.stdout(std::process::Stdio::null());
            c.spawn().unwrap()
        })
        .collect();
    for c in children {
        assert!(c.wait_with_output().unwrap().status.success());
    }
    let log = repo.mlops(&["log", "dataset/same", "--json"]).ok().json();
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
}
