//! A stand-in for a CI runner, to run the templates `mlops init` installs as
//! GitHub Actions and GitLab CI would: every `run:` step (or `script:` line)
//! in order, with the environment a runner provides (event payload,
//! `GITHUB_STEP_SUMMARY`, `GITHUB_OUTPUT`, no git identity, an empty HOME),
//! `${{ }}` expressions and `if:` conditions evaluated. Only the hosting
//! service is stood in for: `gh` and `curl` on PATH are recording fakes that
//! keep comments, notes and issues in a JSON file. Everything mlops and git
//! do runs for real.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

/// The fake `gh api`: GET (with `--jq`), POST, PATCH on a JSON state file
/// keyed by API path (query string dropped). Every call is logged.
const FAKE_GH: &str = r#"#!/usr/bin/env bash
set -euo pipefail
echo "gh $*" >> "$FAKE_API_LOG"
[ "$1" = api ] || { echo "fake gh: only 'gh api' is stood in for" >&2; exit 3; }
shift
method=GET; jqexpr=""; path=""; fields=()
while [ $# -gt 0 ]; do
  case "$1" in
    -X) method="$2"; shift 2 ;;
    --paginate) shift ;;
    --jq) jqexpr="$2"; shift 2 ;;
    -F|-f) fields+=("$2"); shift 2 ;;
    *) path="$1"; shift ;;
  esac
done
key="${path%%\?*}"
state="$FAKE_API_STATE"
[ -f "$state" ] || echo '{}' > "$state"
obj='{}'
for f in "${fields[@]+"${fields[@]}"}"; do
  k="${f%%=*}"; v="${f#*=}"
  if [ "${v#@}" != "$v" ]; then v="$(cat "${v#@}")"; fi
  obj=$(jq -c --arg k "$k" --arg v "$v" '. + {($k): $v}' <<< "$obj")
done
case "$method" in
  GET)
    out=$(jq -c --arg k "$key" '.[$k] // []' "$state")
    if [ -n "$jqexpr" ]; then jq -r "$jqexpr" <<< "$out"; else echo "$out"; fi ;;
  POST)
    id=$(jq '[.. | objects | .id? // empty] | max // 0 | . + 1' "$state")
    jq --arg k "$key" --argjson o "$obj" --argjson id "$id" \
      '.[$k] = ((.[$k] // []) + [$o + {id: $id, number: $id}])' "$state" > "$state.new"
    mv "$state.new" "$state"; echo "{\"id\": $id}" ;;
  PATCH)
    id="${key##*/}"
    jq --argjson id "$id" --argjson o "$obj" \
      'with_entries(.value |= map(if .id == $id then . + $o else . end))' "$state" > "$state.new"
    mv "$state.new" "$state"; echo '{}' ;;
esac
"#;

/// The fake `curl` for GitLab's API: the same state, GitLab's verbs.
const FAKE_CURL: &str = r#"#!/usr/bin/env bash
set -euo pipefail
echo "curl $*" >> "$FAKE_API_LOG"
method=GET; url=""; fields=(); get=0
while [ $# -gt 0 ]; do
  case "$1" in
    -X) method="$2"; shift 2 ;;
    --header|-H) shift 2 ;;
    --get|-G) get=1; shift ;;
    --data-urlencode|--data|-d) fields+=("$2"); shift 2 ;;
    -*) shift ;;
    *) url="$1"; shift ;;
  esac
done
[ "$get" = 1 ] && method=GET
[ "$method" = GET ] && [ "${#fields[@]}" -gt 0 ] && [ "$get" = 0 ] && method=POST
key="${url#*://*/api/v4/}"; key="${key%%\?*}"
state="$FAKE_API_STATE"
[ -f "$state" ] || echo '{}' > "$state"
obj='{}'
for f in "${fields[@]+"${fields[@]}"}"; do
  eq="${f%%=*}"; at="${f%%@*}"
  if [ "${#at}" -lt "${#eq}" ]; then k="$at"; v="$(cat "${f#*@}")"; else k="$eq"; v="${f#*=}"; fi
  obj=$(jq -c --arg k "$k" --arg v "$v" '. + {($k): $v}' <<< "$obj")
done
case "$method" in
  GET) jq -c --arg k "$key" '.[$k] // []' "$state" ;;
  POST)
    id=$(jq '[.. | objects | .id? // empty] | max // 0 | . + 1' "$state")
    jq --arg k "$key" --argjson o "$obj" --argjson id "$id" \
      '.[$k] = ((.[$k] // []) + [$o + {id: $id, iid: $id}])' "$state" > "$state.new"
    mv "$state.new" "$state"; echo "{\"id\": $id}" ;;
  PUT)
    id="${key##*/}"; parent="${key%/*}"
    jq --arg k "$parent" --argjson id "$id" --argjson o "$obj" \
      '.[$k] |= map(if .id == $id then . + $o else . end)' "$state" > "$state.new"
    mv "$state.new" "$state"; echo '{}' ;;
esac
"#;

/// What a job left behind.
#[derive(Debug)]
pub struct JobRun {
    pub ran: bool,
    pub success: bool,
    /// `(step name, exit code)` of every step that ran.
    pub steps: Vec<(String, i32)>,
    pub log: String,
    pub summary: String,
}

/// A runner: a temp area with the stand-ins, the API state and the log.
pub struct Runner {
    pub dir: PathBuf,
    bin: PathBuf,
}

impl Runner {
    pub fn new(dir: &Path) -> Runner {
        let bin = dir.join("runner-bin");
        std::fs::create_dir_all(&bin).unwrap();
        for (name, text) in [("gh", FAKE_GH), ("curl", FAKE_CURL)] {
            let p = bin.join(name);
            std::fs::write(&p, text).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // mlops itself, as the setup action would put it on PATH (the
        // installer is tested against a local server in install.rs).
        let mlops = assert_cmd::cargo::cargo_bin("mlops");
        std::os::unix::fs::symlink(&mlops, bin.join("mlops")).unwrap();
        Runner {
            dir: dir.to_path_buf(),
            bin,
        }
    }

    pub fn state(&self) -> Value {
        std::fs::read_to_string(self.dir.join("api-state.json"))
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or(json!({}))
    }

    pub fn api_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("api-log")).unwrap_or_default()
    }

    /// The environment every step gets: no identity, an empty HOME.
    fn base_env(&self, home: &Path) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        env.insert("PATH".into(), path);
        env.insert("HOME".into(), home.display().to_string());
        env.insert("GIT_CONFIG_NOSYSTEM".into(), "1".into());
        env.insert("LC_ALL".into(), "C".into());
        env.insert("CI".into(), "true".into());
        env.insert(
            "FAKE_API_STATE".into(),
            self.dir.join("api-state.json").display().to_string(),
        );
        env.insert(
            "FAKE_API_LOG".into(),
            self.dir.join("api-log").display().to_string(),
        );
        env
    }

    /// Clones `origin` at `rev` as the job's checkout (actions/checkout with
    /// fetch-depth 0, or GitLab's GIT_DEPTH 0).
    fn checkout(
        &self,
        origin: &Path,
        rev: &str,
        job: &str,
        env: &BTreeMap<String, String>,
    ) -> PathBuf {
        let work = self.dir.join(format!("work-{job}-{}", unique()));
        git(
            env,
            &self.dir,
            &[
                "clone",
                "-q",
                origin.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        git(env, &work, &["checkout", "-q", rev]);
        work
    }

    /// Runs one job of a GitHub workflow for an event.
    #[allow(clippy::too_many_arguments)] // a runner is given all of these
    pub fn github_job(
        &self,
        workflow: &Path,
        job: &str,
        origin: &Path,
        event_name: &str,
        event: &Value,
        checkout_rev: &str,
        inputs: &Value,
    ) -> JobRun {
        let doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(workflow).unwrap()).unwrap();
        let doc: Value = serde_json::to_value(doc).unwrap();
        let home = self.dir.join(format!("home-{}", unique()));
        std::fs::create_dir_all(&home).unwrap();
        let event_path = self.dir.join(format!("event-{}.json", unique()));
        std::fs::write(&event_path, event.to_string()).unwrap();
        let summary = self.dir.join(format!("summary-{}.md", unique()));
        std::fs::write(&summary, "").unwrap();
        let mut env = self.base_env(&home);
        let sha = event["after"]
            .as_str()
            .or(event["pull_request"]["head"]["sha"].as_str())
            .unwrap_or(checkout_rev)
            .to_string();
        for (k, v) in [
            ("GITHUB_ACTIONS", "true".to_string()),
            ("GITHUB_EVENT_NAME", event_name.to_string()),
            ("GITHUB_EVENT_PATH", event_path.display().to_string()),
            ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
            ("GITHUB_REPOSITORY", "bank/fraud".into()),
            ("GITHUB_SERVER_URL", "https://github.com".into()),
            ("GITHUB_RUN_ID", "4242".into()),
            ("GITHUB_ACTOR", "octocat".into()),
            ("GITHUB_ACTOR_ID", "583231".into()),
            ("GITHUB_SHA", sha.clone()),
        ] {
            env.insert(k.into(), v);
        }
        let mut ctx = json!({
            "github": {
                "event_name": event_name,
                "event": event,
                "repository": "bank/fraud",
                "sha": sha,
                "ref": format!("refs/heads/{}", "main"),
                "token": "fake-token",
            },
            "inputs": inputs,
            "runner": {"os": "Linux", "arch": "X64", "temp": self.dir.display().to_string()},
            "steps": {},
        });
        let job_doc = &doc["jobs"][job];
        assert!(
            !job_doc.is_null(),
            "no job `{job}` in {}",
            workflow.display()
        );
        if let Some(cond) = job_doc["if"].as_str() {
            if !truthy(&eval(cond, &ctx, true)) {
                return JobRun {
                    ran: false,
                    success: true,
                    steps: Vec::new(),
                    log: String::new(),
                    summary: String::new(),
                };
            }
        }
        let mut workflow_env = BTreeMap::new();
        for scope in [&doc["env"], &job_doc["env"]] {
            if let Some(m) = scope.as_object() {
                for (k, v) in m {
                    workflow_env.insert(k.clone(), render(&scalar(v), &ctx));
                }
            }
        }
        let mut work: Option<PathBuf> = None;
        let mut failed = false;
        let mut steps = Vec::new();
        let mut log = String::new();
        for (i, step) in job_doc["steps"].as_array().unwrap().iter().enumerate() {
            let name = step["name"]
                .as_str()
                .or(step["uses"].as_str())
                .unwrap_or("step")
                .to_string();
            let cond = step["if"].as_str().unwrap_or("success()");
            let should = match cond {
                c if c.contains("always()") => true,
                c if c.contains("failure()") => failed,
                c => !failed && truthy(&eval(c, &ctx, true)),
            };
            if !should {
                continue;
            }
            if let Some(uses) = step["uses"].as_str() {
                if uses.starts_with("actions/checkout") {
                    work = Some(self.checkout(origin, checkout_rev, job, &env));
                } else if uses == "./.github/actions/setup-mlops" {
                    // mlops is on PATH already (see `Runner::new`).
                    let wd = work.as_ref().expect("checkout before setup-mlops");
                    assert!(
                        wd.join(".mlops/install.sh").is_file(),
                        "the action runs the installer from the checkout"
                    );
                } else {
                    assert!(
                        uses.starts_with("actions/upload-artifact")
                            || uses.starts_with("actions/cache"),
                        "a step the harness does not know: {uses}"
                    );
                }
                steps.push((name, 0));
                continue;
            }
            let script = step["run"].as_str().expect("a step runs or uses");
            assert!(
                !script.contains("${{"),
                "step `{name}` of {} puts an expression in its script: pass it through env",
                workflow.display()
            );
            let output = self.dir.join(format!("output-{}", unique()));
            std::fs::write(&output, "").unwrap();
            let mut step_env = env.clone();
            step_env.extend(workflow_env.clone());
            if let Some(m) = step["env"].as_object() {
                for (k, v) in m {
                    step_env.insert(k.clone(), render(&scalar(v), &ctx));
                }
            }
            step_env.insert("GITHUB_OUTPUT".into(), output.display().to_string());
            let file = self.dir.join(format!("step-{}.sh", unique()));
            std::fs::write(&file, script).unwrap();
            let wd = work.clone().expect("a checkout before the first run step");
            let out = Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&file)
                .current_dir(&wd)
                .env_clear()
                .envs(&step_env)
                .output()
                .unwrap();
            let code = out.status.code().unwrap_or(-1);
            log.push_str(&format!(
                "== {name} (exit {code})\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
            let mut outputs = serde_json::Map::new();
            for line in std::fs::read_to_string(&output).unwrap().lines() {
                if let Some((k, v)) = line.split_once('=') {
                    outputs.insert(k.to_string(), json!(v));
                }
            }
            if let Some(id) = step["id"].as_str() {
                ctx["steps"][id] = json!({ "outputs": outputs, "outcome": if code == 0 { "success" } else { "failure" } });
            }
            steps.push((name, code));
            let _ = i;
            if code != 0 {
                failed = true;
            }
        }
        JobRun {
            ran: true,
            success: !failed,
            steps,
            log,
            summary: std::fs::read_to_string(&summary).unwrap(),
        }
    }

    /// Runs one job of the GitLab file: `before_script` then `script`, each
    /// line in one shell (as GitLab's runner does), with its variables.
    pub fn gitlab_job(
        &self,
        file: &Path,
        job: &str,
        origin: &Path,
        checkout_rev: &str,
        variables: &[(&str, &str)],
    ) -> JobRun {
        let doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let doc: Value = serde_json::to_value(doc).unwrap();
        let job_doc = &doc[job];
        assert!(!job_doc.is_null(), "no job `{job}`");
        let base = job_doc["extends"]
            .as_str()
            .map(|b| doc[b].clone())
            .unwrap_or(Value::Null);
        let home = self.dir.join(format!("home-{}", unique()));
        std::fs::create_dir_all(&home).unwrap();
        let mut env = self.base_env(&home);
        env.insert("GITLAB_CI".into(), "true".into());
        env.insert("GITLAB_USER_LOGIN".into(), "riya".into());
        env.insert("GITLAB_USER_EMAIL".into(), "riya@bank.example".into());
        env.insert("CI_SERVER_HOST".into(), "gitlab.example".into());
        env.insert("CI_PROJECT_PATH".into(), "bank/fraud".into());
        env.insert("CI_PROJECT_ID".into(), "7".into());
        env.insert(
            "CI_API_V4_URL".into(),
            "https://gitlab.example/api/v4".into(),
        );
        env.insert(
            "CI_PIPELINE_URL".into(),
            "https://gitlab.example/bank/fraud/-/pipelines/9".into(),
        );
        env.insert("MLOPS_PUSH_TOKEN".into(), "fake-token".into());
        for scope in [&doc["variables"], &base["variables"], &job_doc["variables"]] {
            if let Some(m) = scope.as_object() {
                for (k, v) in m {
                    env.insert(k.clone(), scalar(v));
                }
            }
        }
        for (k, v) in variables {
            env.insert(k.to_string(), v.to_string());
        }
        let work = self.checkout(origin, checkout_rev, job, &env);
        env.insert("CI_PROJECT_DIR".into(), work.display().to_string());
        // The image's packages are the runner's; the installer is tested in
        // install.rs; the remote stays the local bare repository.
        let lines: Vec<String> = [
            &base["before_script"],
            &job_doc["before_script"],
            &job_doc["script"],
        ]
        .iter()
        .filter_map(|v| v.as_array())
        .flatten()
        .map(|l| l.as_str().unwrap().to_string())
        .filter(|l| {
            !l.starts_with("apt-get")
                && !l.contains("sh .mlops/install.sh")
                && !l.starts_with("git remote set-url")
        })
        .collect();
        let mut script = String::from("set -e\n");
        for l in &lines {
            script.push_str(l);
            script.push('\n');
        }
        let file_sh = self.dir.join(format!("gitlab-{}.sh", unique()));
        std::fs::write(&file_sh, script).unwrap();
        let out = Command::new("bash")
            .args(["--noprofile", "--norc"])
            .arg(&file_sh)
            .current_dir(&work)
            .env_clear()
            .envs(&env)
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        JobRun {
            ran: true,
            success: code == 0,
            steps: vec![(job.to_string(), code)],
            log: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            summary: String::new(),
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn git(env: &BTreeMap<String, String>, dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Replaces each `${{ expr }}` in a string.
fn render(text: &str, ctx: &Value) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("a closed expression") + start;
        out.push_str(&scalar(&eval(rest[start + 3..end].trim(), ctx, false)));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The subset of GitHub's expression language the templates use: context
/// paths, string literals, `||`, `==`, `!=`, `success()`.
fn eval(expr: &str, ctx: &Value, _cond: bool) -> Value {
    let expr = expr
        .trim()
        .trim_start_matches("${{")
        .trim_end_matches("}}")
        .trim();
    if let Some((a, b)) = expr.split_once("||") {
        let left = eval(a, ctx, false);
        return if truthy(&left) {
            left
        } else {
            eval(b, ctx, false)
        };
    }
    for op in ["==", "!="] {
        if let Some((a, b)) = expr.split_once(op) {
            let eq = scalar(&eval(a, ctx, false)) == scalar(&eval(b, ctx, false));
            return json!(if op == "==" { eq } else { !eq });
        }
    }
    if expr == "success()" {
        return json!(true);
    }
    if let Some(lit) = expr.strip_prefix('\'').and_then(|e| e.strip_suffix('\'')) {
        return json!(lit);
    }
    let mut v = ctx;
    for part in expr.split('.') {
        v = &v[part];
    }
    v.clone()
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
        _ => true,
    }
}
