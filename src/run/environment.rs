//! What the run ran on. Variables are captured only from a short list of
//! prefixes that describe the compute (CUDA, threads, CI, Python environment)
//! plus those the user names with `--env`, and a name that looks like a secret
//! is dropped whatever asked for it: records are pushed to shared remotes.

use std::collections::BTreeMap;
use std::process::Command;

use crate::context;
use crate::run::record::Environment;

/// Name fragments that mark a secret (DESIGN.md: TOKEN, SECRET, PASSWORD, KEY),
/// plus the obvious relatives.
const SECRET_MARKERS: [&str; 8] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "KEY",
    "PASSWD",
    "CREDENTIAL",
    "AUTH",
    "COOKIE",
];

const CAPTURED_PREFIXES: [&str; 12] = [
    "CUDA_",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "PYTHONHASHSEED",
    "VIRTUAL_ENV",
    "CONDA_DEFAULT_ENV",
    "SLURM_JOB_ID",
    "GITHUB_SHA",
    "GITHUB_RUN_ID",
    "CI_PIPELINE_ID",
    "CI_COMMIT_SHA",
];

pub fn is_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|m| upper.contains(m))
}

pub fn capture(extra: &[String]) -> Environment {
    let mut vars = BTreeMap::new();
    for (k, v) in context::vars() {
        let wanted = CAPTURED_PREFIXES.iter().any(|p| k.starts_with(p)) || extra.contains(&k);
        if wanted && !is_secret(&k) {
            vars.insert(k, v);
        }
    }
    let (python, git) = std::thread::scope(|s| {
        let py = s.spawn(python_version);
        let git = s.spawn(crate::gitcli::version);
        (py.join().ok().flatten(), git.join().ok().flatten())
    });
    Environment {
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(1),
        hostname: std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| context::var("HOSTNAME")),
        mlops: context::tool_version(),
        python,
        git,
        vars,
    }
}

fn python_version() -> Option<String> {
    for exe in ["python3", "python"] {
        if let Ok(out) = Command::new(exe).arg("--version").output() {
            if out.status.success() {
                let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let text = if text.is_empty() {
                    String::from_utf8_lossy(&out.stderr).trim().to_string()
                } else {
                    text
                };
                return Some(text);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_recognised() {
        use super::is_secret;
        for n in [
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASSWORD",
            "api_key",
            "MY_AUTH",
        ] {
            assert!(is_secret(n), "{n}");
        }
        for n in ["CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "HOME"] {
            assert!(!is_secret(n), "{n}");
        }
    }
}
