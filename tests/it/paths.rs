//! Paths stay inside the repository and the files mlops writes honour the
//! umask (docs/privacy.md, "Paths").

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::{capture, Out, Repo};

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
