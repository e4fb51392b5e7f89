//! What the run ran on. Variables are captured from an allowlist of exact
//! names that describe the compute (devices, thread counts, determinism
//! switches, the Python environment, the CI or batch job), extended by
//! `[tracking] env` in `mlops.toml` and by `--env NAME`. It used to be a list
//! of prefixes, and a prefix lets in whatever shares it (`OMP_PASSPHRASE`,
//! `CUDA_API_TOK`): records are pushed to shared remotes, so nothing is
//! captured that nobody named. Even a named variable is dropped when its name
//! looks like a secret or its value holds a credential (a token shape, a URL
//! with a password): a CI runner can put anything in `SLURM_JOB_ID`.

use std::collections::BTreeMap;
use std::process::Command;

use crate::context;
use crate::redact::{self, Redactor};
use crate::run::record::Environment;

/// Captured without being asked for: each says how the run computed.
pub const ALLOWED: [&str; 27] = [
    // Which devices, in which order.
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "NVIDIA_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    // Thread pools: the same code gives other timings and, for reductions,
    // other floating-point results.
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    // Determinism switches.
    "PYTHONHASHSEED",
    "CUBLAS_WORKSPACE_CONFIG",
    "CUDA_LAUNCH_BLOCKING",
    "TF_DETERMINISTIC_OPS",
    "TF_CUDNN_DETERMINISTIC",
    // Which Python environment.
    "VIRTUAL_ENV",
    "CONDA_DEFAULT_ENV",
    // Distributed training: this process's place in the job.
    "WORLD_SIZE",
    "RANK",
    "LOCAL_RANK",
    // The batch or CI job that ran it, to find its logs.
    "SLURM_JOB_ID",
    "SLURM_ARRAY_TASK_ID",
    "GITHUB_SHA",
    "GITHUB_RUN_ID",
    "GITHUB_WORKFLOW",
    "CI_PIPELINE_ID",
    "CI_JOB_ID",
    "CI_COMMIT_SHA",
];

/// The environment, and what was left out of it on purpose.
pub struct Captured {
    pub environment: Environment,
    /// `environment.vars.NAME` of each allowed or requested variable that was
    /// dropped (never its value).
    pub redacted: Vec<String>,
    pub warnings: Vec<String>,
}

/// `requested`: the names from `[tracking] env` and `--env`.
pub fn capture(requested: &[String], redactor: &Redactor) -> Captured {
    let mut vars = BTreeMap::new();
    let mut redacted = Vec::new();
    let mut warnings = Vec::new();
    for (k, v) in context::vars() {
        let asked = requested.contains(&k);
        if !asked && !ALLOWED.contains(&k.as_str()) {
            continue;
        }
        let why = if redact::is_secret_env_name(&k) {
            "its name looks like a secret"
        } else if redactor.text(&v).is_some() {
            "its value holds a credential"
        } else {
            vars.insert(k, v);
            continue;
        };
        warnings.push(format!(
            "environment variable `{k}` was not recorded: {why}"
        ));
        redacted.push(format!("environment.vars.{k}"));
    }
    let (python, git) = std::thread::scope(|s| {
        let py = s.spawn(python_version);
        let git = s.spawn(crate::gitcli::version);
        (py.join().ok().flatten(), git.join().ok().flatten())
    });
    let environment = Environment {
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
    };
    redacted.sort();
    warnings.sort();
    Captured {
        environment,
        redacted,
        warnings,
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
    fn the_allowlist_holds_no_secret_name() {
        for n in super::ALLOWED {
            assert!(!crate::redact::is_secret_env_name(n), "{n}");
        }
    }
}
