//! Paths stay inside the repository (docs/privacy.md, "Paths"): symlinks out
//! of it and files outside the work tree are refused unless `--allow-outside`
//! is given, and even then no absolute path reaches a record; and the files
//! mlops writes honour the umask.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{capture, Out, Repo};

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every ref mlops writes, with its target: a refusal must leave it as it was.
fn mlops_refs(repo: &Repo) -> String {
    repo.git(&["for-each-ref", "refs/mlops/"]).ok().stdout
}

/// The text of every object in the repository (`git cat-file -p` of each).
fn all_objects(repo: &Repo) -> String {
    let listing = repo
        .git(&["cat-file", "--batch-all-objects", "--batch-check"])
        .ok()
        .stdout;
    let mut text = String::new();
    for line in listing.lines() {
        let id = line.split_whitespace().next().unwrap();
        text.push_str(&repo.git(&["cat-file", "-p", id]).ok().stdout);
        text.push('\n');
    }
    assert!(!text.trim().is_empty(), "the repository holds objects");
    text
}

/// Neither the HOME nor the outside folder, as written or canonical, is in
/// any object of the repository, nor in the lock file that gets committed.
#[track_caller]
fn assert_nothing_leaked(repo: &Repo, outside: &[&Path]) {
    let objects = all_objects(repo);
    let lock = std::fs::read_to_string(repo.path.join("mlops.lock")).unwrap_or_default();
    let mut needles: Vec<PathBuf> = vec![repo.home.clone()];
    needles.extend(outside.iter().map(|p| p.to_path_buf()));
    for needle in needles.clone() {
        if let Ok(canon) = needle.canonicalize() {
            needles.push(canon);
        }
    }
    for needle in &needles {
        let needle = needle.display().to_string();
        assert!(!objects.contains(&needle), "`{needle}` is in a git object");
        assert!(!lock.contains(&needle), "`{needle}` is in mlops.lock");
    }
}

/// Exit 2 with one `error:` line naming `needles` and a hint naming the flag.
#[track_caller]
fn assert_refused(out: Out, needles: &[&str]) {
    let out = out.code(2);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    for needle in needles {
        assert!(errors[0].contains(needle), "{needle}: {}", out.stderr);
    }
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("hint:") && l.contains("`--allow-outside`")),
        "{}",
        out.stderr
    );
}

/// A private file in the HOME and another in a folder beside the repository.
fn outside_files(repo: &Repo) -> (PathBuf, PathBuf) {
    let home_file = repo.home.join("private/secret.csv");
    std::fs::create_dir_all(home_file.parent().unwrap()).unwrap();
    std::fs::write(&home_file, "income,name\n91000,alice\n").unwrap();
    let beside = repo.sibling("outside").join("datasets/shared.csv");
    std::fs::create_dir_all(beside.parent().unwrap()).unwrap();
    std::fs::write(&beside, "x,y\n1,2\n3,4\n").unwrap();
    (home_file, beside)
}

/// `mlops track` with the real clock, as tracking.rs runs it.
fn track(repo: &Repo, flags: &[&str], script: &str) -> Out {
    let mut args: Vec<&str> = vec!["track"];
    args.extend_from_slice(flags);
    args.extend(["--", "sh", "-c", script]);
    let mut c = repo.mlops_cmd(&args);
    c.env_remove("MLOPS_NOW");
    capture(c)
}

fn manifest_entry<'a>(out: &'a Value, path: &str) -> &'a Value {
    out["version"]["manifest"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("`{path}` is in the manifest: {out}"))
}

#[test]
fn a_symlink_out_of_a_data_folder_is_refused_and_nothing_is_recorded() {
    let repo = Repo::new();
    let (secret, _) = outside_files(&repo);
    repo.write("data/d/ok.csv", "a\n1\n");
    symlink(&secret, repo.path.join("data/d/innocent.csv")).unwrap();
    let before = mlops_refs(&repo);

    // Met while walking the folder, and named directly.
    let walked = repo.mlops(&["data", "add", "data/d"]);
    assert_refused(
        walked,
        &["`data/d/innocent.csv`", &secret.display().to_string()],
    );
    let named = repo.mlops(&["data", "add", "data/d/innocent.csv", "--name", "d"]);
    assert_refused(named, &["`data/d/innocent.csv`"]);
    // Through `mlops track --data`, which records a dataset version too.
    let tracked = track(&repo, &["--data", "data/d"], "touch ran");
    assert_refused(tracked, &["`data/d/innocent.csv`"]);
    assert!(
        !repo.path.join("ran").exists(),
        "refused before the command"
    );

    assert_eq!(mlops_refs(&repo), before);
    assert!(!repo.path.join("mlops.lock").exists());
}

#[test]
fn an_allowed_symlink_out_is_hashed_profiled_and_marked_without_its_target() {
    let repo = Repo::new();
    let (secret, beside) = outside_files(&repo);
    repo.write("data/d/ok.csv", "a\n1\n");
    symlink(&secret, repo.path.join("data/d/innocent.csv")).unwrap();
    // A relative link is resolved the same way.
    symlink(
        "../../../outside/datasets/shared.csv",
        repo.path.join("data/d/rel.csv"),
    )
    .unwrap();

    let out = repo
        .mlops(&["data", "add", "data/d", "--allow-outside", "--json"])
        .ok()
        .json();
    let link = manifest_entry(&out, "data/d/innocent.csv");
    assert_eq!(link["sha256"], sha(b"income,name\n91000,alice\n"));
    assert_eq!(link["outside"], "symlink");
    assert_eq!(manifest_entry(&out, "data/d/rel.csv")["outside"], "symlink");
    let plain = manifest_entry(&out, "data/d/ok.csv");
    assert!(plain.get("outside").is_none(), "{plain}");
    let profiled: Vec<&str> = out["version"]["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert!(profiled.contains(&"data/d/innocent.csv"), "{profiled:?}");
    assert_eq!(out["version"]["paths"], serde_json::json!(["data/d"]));

    // The version pins the bytes: status is clean, then sees the target change.
    repo.mlops(&["data", "status"]).ok();
    repo.mlops(&["data", "verify", "d"]).ok();
    assert_nothing_leaked(&repo, &[&secret, beside.parent().unwrap()]);
    std::fs::write(&secret, "income,name\n1,bob\n").unwrap();
    let changed = repo.mlops(&["data", "status"]).code(1);
    assert!(
        changed.stdout.contains("modified: data/d/innocent.csv"),
        "{}",
        changed.stdout
    );
}

#[test]
fn a_folder_linked_in_from_outside_needs_the_flag_and_records_repository_paths() {
    let repo = Repo::new();
    let (_, beside) = outside_files(&repo);
    let mount = beside.parent().unwrap();
    symlink(mount, repo.path.join("mnt")).unwrap();
    let before = mlops_refs(&repo);

    let named = repo.mlops(&["data", "add", "mnt"]);
    assert_refused(named, &["`mnt`", &mount.display().to_string()]);
    let through = repo.mlops(&["data", "add", "mnt/shared.csv"]);
    assert_refused(through, &["`mnt/shared.csv`", "`mnt`"]);
    assert_eq!(mlops_refs(&repo), before);

    let out = repo
        .mlops(&["data", "add", "mnt", "--allow-outside", "--json"])
        .ok()
        .json();
    assert_eq!(out["version"]["paths"], serde_json::json!(["mnt"]));
    assert_eq!(manifest_entry(&out, "mnt/shared.csv")["outside"], "symlink");
    let one = repo
        .mlops(&[
            "data",
            "add",
            "mnt/shared.csv",
            "--name",
            "one",
            "--allow-outside",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(
        one["version"]["paths"],
        serde_json::json!(["mnt/shared.csv"])
    );
    assert_eq!(manifest_entry(&one, "mnt/shared.csv")["outside"], "symlink");
    repo.mlops(&["data", "status"]).ok();
    assert_nothing_leaked(&repo, &[mount]);
}

#[test]
fn data_named_outside_the_work_tree_is_refused_even_with_the_flag() {
    let repo = Repo::new();
    let (secret, _) = outside_files(&repo);
    let before = mlops_refs(&repo);
    let shown = secret.display().to_string();
    for flags in [&[][..], &["--allow-outside"][..]] {
        let mut args = vec!["data", "add", shown.as_str()];
        args.extend_from_slice(flags);
        let out = repo.mlops(&args).code(2);
        assert!(
            out.stderr.contains("outside the repository"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("hint: "), "{}", out.stderr);
        assert!(out.stderr.contains("ln -s"), "{}", out.stderr);
    }
    assert_eq!(mlops_refs(&repo), before);
}

#[test]
fn symlinks_that_stay_inside_the_repository_work_as_before() {
    let repo = Repo::new();
    repo.write("real/a.csv", "a\n1\n");
    repo.write("models/real.pkl", "weights");
    std::fs::create_dir_all(repo.path.join("data")).unwrap();
    symlink("../real/a.csv", repo.path.join("data/link.csv")).unwrap();
    symlink(
        repo.path.join("models/real.pkl"),
        repo.path.join("best.pkl"),
    )
    .unwrap();
    let out = repo.mlops(&["data", "add", "data", "--json"]).ok().json();
    let link = manifest_entry(&out, "data/link.csv");
    assert_eq!(link["sha256"], sha(b"a\n1\n"));
    assert!(link.get("outside").is_none(), "{link}");
    let run = track(&repo, &["--artifact", "best.pkl", "--json"], "true")
        .ok()
        .json();
    let artifacts = run["run"]["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1);
    assert_eq!(artifacts[0]["sha256"], sha(b"weights"));
    assert!(artifacts[0].get("outside").is_none(), "{}", artifacts[0]);
}

#[test]
fn a_tracked_artifact_outside_is_refused_before_the_command_and_recorded_by_name_when_allowed() {
    let repo = Repo::new();
    let outside = repo.sibling("outside");
    let model = outside.join("model.pkl");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(&model, "pickle").unwrap();
    let before = mlops_refs(&repo);
    let abs = model.display().to_string();

    let out = track(&repo, &["--artifact", &abs], "touch ran");
    assert_refused(out, &[&abs, "outside the repository"]);
    // Not there yet, but it would be outside: refused all the same.
    let out = track(&repo, &["--artifact", "../outside/later.pkl"], "touch ran");
    assert_refused(out, &["../outside/later.pkl"]);
    assert!(
        !repo.path.join("ran").exists(),
        "refused before the command"
    );
    assert_eq!(mlops_refs(&repo), before);

    let run = track(
        &repo,
        &["--artifact", &abs, "--allow-outside", "--json"],
        "true",
    )
    .ok()
    .json();
    let artifacts = run["run"]["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1);
    assert_eq!(artifacts[0]["path"], "outside/model.pkl");
    assert_eq!(artifacts[0]["outside"], "path");
    assert_eq!(artifacts[0]["sha256"], sha(b"pickle"));
    assert_nothing_leaked(&repo, &[&outside]);
}

#[test]
fn a_tracked_artifact_symlink_out_is_refused_and_recorded_at_the_link_when_allowed() {
    let repo = Repo::new();
    let (secret, _) = outside_files(&repo);
    std::fs::create_dir_all(repo.path.join("models")).unwrap();
    symlink(&secret, repo.path.join("models/best.pkl")).unwrap();
    let before = mlops_refs(&repo);
    let out = track(&repo, &["--artifact", "models/best.pkl"], "touch ran");
    assert_refused(out, &["`models/best.pkl`", &secret.display().to_string()]);
    // A folder holding it is walked without following links: nothing outside.
    let out = track(&repo, &["--artifact", "models", "--json"], "true")
        .ok()
        .json();
    assert_eq!(out["run"]["artifacts"], serde_json::json!([]));
    assert!(!repo.path.join("ran").exists());
    assert_eq!(
        mlops_refs(&repo).lines().count(),
        before.lines().count() + 1
    );

    let run = track(
        &repo,
        &["--artifact", "models/best.pkl", "--allow-outside", "--json"],
        "true",
    )
    .ok()
    .json();
    let artifacts = run["run"]["artifacts"].as_array().unwrap();
    assert_eq!(artifacts[0]["path"], "models/best.pkl");
    assert_eq!(artifacts[0]["outside"], "symlink");
    assert_eq!(artifacts[0]["sha256"], sha(b"income,name\n91000,alice\n"));

    // A link the command itself makes is only found after it ran: the run
    // is kept, the link is left out with a warning that names no target.
    // (`$HOME`, not the path itself: the command line is part of the record.)
    let script = "ln -s \"$HOME/private/secret.csv\" models/made.pkl";
    let run = track(&repo, &["--artifact", "models/made.pkl", "--json"], script)
        .ok()
        .json();
    assert_eq!(run["run"]["artifacts"], serde_json::json!([]));
    let warnings = run["run"]["warnings"].to_string();
    assert!(warnings.contains("models/made.pkl"), "{warnings}");
    assert!(warnings.contains("--allow-outside"), "{warnings}");
    assert_nothing_leaked(&repo, &[secret.parent().unwrap()]);
}

#[test]
fn model_register_refuses_artifacts_outside_unless_allowed() {
    let repo = Repo::new();
    let (secret, beside) = outside_files(&repo);
    symlink(&secret, repo.path.join("linked.pkl")).unwrap();
    let before = mlops_refs(&repo);
    let abs = beside.display().to_string();
    let out = repo.mlops(&["model", "register", "fraud", "--artifact", &abs]);
    assert_refused(out, &[&abs]);
    let out = repo.mlops(&["model", "register", "fraud", "--artifact", "linked.pkl"]);
    assert_refused(out, &["`linked.pkl`", &secret.display().to_string()]);
    assert_eq!(mlops_refs(&repo), before);

    let out = repo
        .mlops(&[
            "model",
            "register",
            "fraud",
            "--artifact",
            &abs,
            "--artifact",
            "linked.pkl",
            "--artifact",
            beside.parent().unwrap().to_str().unwrap(),
            "--allow-outside",
            "--json",
        ])
        .ok()
        .json();
    let paths: Vec<(&str, &str)> = out["version"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["path"].as_str().unwrap(), a["outside"].as_str().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            ("outside/shared.csv", "path"),
            ("linked.pkl", "symlink"),
            ("outside/datasets/shared.csv", "path"),
        ]
    );
    assert_nothing_leaked(&repo, &[&secret, beside.parent().unwrap()]);
}

/// `mlops args` with the given umask set in the child before it starts.
fn under_umask(repo: &Repo, umask: u32, args: &[&str]) -> Out {
    use std::os::unix::process::CommandExt;
    let mut cmd = repo.mlops_cmd(args);
    // SAFETY: umask is async-signal-safe and touches nothing but the child.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(umask as libc::mode_t);
            Ok(())
        });
    }
    capture(cmd)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn files_mlops_writes_honour_the_umask() {
    for (umask, expected) in [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)] {
        let repo = Repo::new();
        under_umask(&repo, umask, &["init"]).ok();
        repo.write("data/a.csv", "x\n1\n");
        under_umask(&repo, umask, &["data", "add", "data/a.csv"]).ok();
        for file in ["mlops.toml", "mlops.lock"] {
            assert_eq!(
                mode(&repo.path.join(file)),
                expected,
                "{file} under umask {umask:03o}"
            );
        }
        // Rewritten in place, the mode is the umask's again.
        repo.write("data/a.csv", "x\n2\n");
        under_umask(&repo, umask, &["data", "add", "data/a.csv"]).ok();
        assert_eq!(mode(&repo.path.join("mlops.lock")), expected);
        // Every file `init` installed, too.
        let installed = repo.mlops(&["init", "--json"]).ok().json();
        for file in installed.as_array().unwrap() {
            let path = file["path"].as_str().unwrap();
            assert_eq!(mode(&repo.path.join(path)), expected, "{path}");
        }
    }
}
