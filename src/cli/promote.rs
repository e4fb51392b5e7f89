//! `mlops promote`, `mlops rollback` and `mlops resolve`.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::config::Config;
use crate::context;
use crate::registry::policy::Policy;
use crate::registry::promote::{self, Outcome, PromoteOptions, RollbackOptions};
use crate::registry::requests;
use crate::registry::spec::{self, Selector};
use crate::registry::verdict;
use crate::term;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `name@version`, `name@latest` or `name@<stage>`.
    #[arg(required_unless_present = "requests")]
    spec: Option<String>,
    /// The stage to promote to.
    #[arg(long, required_unless_present = "requests")]
    to: Option<String>,
    /// Write the promotion request for a pull request instead
    /// (`.mlops/requests/<model>-<stage>.json`: the exact version record),
    /// to be committed so reviewers see in the diff what is proposed.
    #[arg(long, conflicts_with_all = ["check", "force", "requests"])]
    request: bool,
    /// Check (`--check`) or carry out the promotion requests committed in
    /// `.mlops/requests/`: those changed since `--since`, or all of them.
    #[arg(long, conflicts_with_all = ["spec", "to"])]
    requests: bool,
    /// With `--requests`: only requests changed between this revision and
    /// `HEAD` (a pull request's base; the merge's first parent), and the
    /// policy read at this revision unless `--policy-rev` says otherwise.
    #[arg(long, value_name = "REV", requires = "requests")]
    since: Option<String>,
    /// Why: recorded with the promotion.
    #[arg(long)]
    reason: Option<String>,
    /// An approver (`who` or `role:who`); repeatable.
    #[arg(long = "approved-by", value_name = "WHO")]
    approved_by: Vec<String>,
    /// Evaluate the gates and print the verdict; record nothing. Exit 1 if a gate fails.
    #[arg(long)]
    check: bool,
    /// Promote although gates fail (needs --reason; recorded as an override).
    #[arg(long)]
    force: bool,
    /// Output: `table` (default) or `md` (the pull-request verdict).
    #[arg(long, default_value = "table", value_parser = ["table", "md"])]
    format: String,
    /// Also move the git tag `mlops/<name>/<stage>` (never pushed).
    #[arg(long)]
    tag: bool,
    /// Read the policy (`mlops.toml`, allowed signers) at this commit
    /// instead of `HEAD`; in a pull request, the base branch's.
    #[arg(long, value_name = "REV")]
    policy_rev: Option<String>,
    /// Apply the working tree's `mlops.toml` although it differs from the
    /// committed one (recorded with the promotion as an override).
    #[arg(long)]
    allow_uncommitted_policy: bool,
}

pub fn run(g: &Globals, a: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    if a.request {
        return write_request(g, &store, &a);
    }
    let policy_rev = a
        .policy_rev
        .clone()
        .or_else(|| if a.requests { a.since.clone() } else { None });
    let policy = Policy::load(&store, policy_rev.as_deref(), a.allow_uncommitted_policy)?;
    if policy.source.uncommitted && !g.quiet {
        eprintln!(
            "warning: applying the working tree's mlops.toml, which is not committed; the promotion records it as an override"
        );
    }
    let allowed = policy.allowed_signers(&store)?;
    let checked = promote::Checked {
        policy: &policy,
        allowed: &allowed,
    };
    let wanted: Vec<(String, String)> = if a.requests {
        requests::changed(&store, a.since.as_deref())?
            .into_iter()
            .map(|r| (format!("{}@{}", r.model, r.version_record), r.stage))
            .collect()
    } else {
        vec![(
            a.spec.clone().unwrap_or_default(),
            a.to.clone().unwrap_or_default(),
        )]
    };
    if wanted.is_empty() {
        let md = verdict::no_request();
        summary(&md);
        if g.json {
            print_json(&serde_json::json!({"requests": []}))?;
        } else if a.format == "md" {
            crate::out!("{md}");
        } else if !g.quiet {
            crate::outln!("no promotion requested (no change under .mlops/requests/)");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut code = 0;
    let mut all = Vec::new();
    let mut mds = Vec::new();
    for (spec_text, stage) in wanted {
        let (eval, recorded, c) = one(g, &store, &checked, &a, &spec_text, &stage)?;
        code = code.max(c);
        mds.push(verdict::markdown(&eval));
        if !g.json && a.format != "md" {
            print_table(&eval, recorded.as_ref(), a.check);
        }
        if c == 1 && !a.check && !g.quiet {
            eprintln!(
                "error: promotion refused: {} gate(s) failed",
                eval.gates.iter().filter(|g| !g.pass).count()
            );
            eprintln!(
                "hint: fix the failing gates, or pass `--force --reason \"...\"` to record an override"
            );
        }
        if a.tag && recorded.is_some() {
            let name = format!("mlops/{}/{}", eval.model, eval.stage);
            promote::tag(&store, &name, eval.candidate.version.code_commit.as_deref())?;
        }
        all.push(serde_json::json!({
            "evaluation": eval,
            "recorded": recorded.as_ref().map(|r| r.id()),
        }));
    }
    let md = mds.join("\n");
    summary(&md);
    if g.json {
        if a.requests {
            print_json(&serde_json::json!({ "requests": all }))?;
        } else {
            print_json(&all[0])?;
        }
    } else if a.format == "md" {
        crate::out!("{md}");
    }
    Ok(ExitCode::from(code))
}

/// The verdict goes to the job summary as well, where CI shows it.
fn summary(md: &str) {
    if let Some(path) = context::var("GITHUB_STEP_SUMMARY") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
        {
            let _ = writeln!(f, "{md}");
        }
    }
}

/// Checks or records one promotion: the evaluation, the record, the exit code.
fn one(
    g: &Globals,
    store: &crate::store::Store,
    checked: &promote::Checked,
    a: &Args,
    spec_text: &str,
    stage: &str,
) -> anyhow::Result<(promote::Evaluation, Option<crate::record::Record>, u8)> {
    let s = spec::parse(spec_text, None)?;
    crate::names::validate(stage)?;
    let opts = PromoteOptions {
        model: s.model.clone(),
        selector: s.selector,
        stage: stage.to_string(),
        reason: a.reason.clone(),
        approved_by: a.approved_by.clone(),
        force: a.force,
    };
    Ok(if a.check {
        let e = promote::check(store, checked, &opts)?;
        let code = if e.pass { 0 } else { 1 };
        (e, None, code)
    } else {
        match promote::promote(store, checked, &opts)? {
            Outcome::Recorded(e, r) => (e, Some(r), 0),
            Outcome::Refused(e) => (e, None, 1),
            Outcome::AlreadyThere(e) => {
                if !g.quiet {
                    eprintln!(
                        "{}@{} already holds `{}`; nothing recorded",
                        e.model, e.candidate.version.version, e.stage
                    );
                }
                (e, None, 0)
            }
        }
    })
}

fn print_table(eval: &promote::Evaluation, recorded: Option<&crate::record::Record>, check: bool) {
    let v = &eval.candidate.version.version;
    if !eval.gates.is_empty() {
        crate::outln!(
            "{}",
            term::table(
                &["", "gate", "expected", "actual"],
                verdict::gate_rows(eval)
            )
        );
    }
    match (recorded, check, eval.pass) {
        (Some(r), _, true) => {
            crate::outln!("promoted {}@{v} to {} ({})", eval.model, eval.stage, r.id())
        }
        (Some(r), _, false) => crate::outln!(
            "OVERRIDE: promoted {}@{v} to {} despite failed gates ({})",
            eval.model,
            eval.stage,
            r.id()
        ),
        (None, true, true) => {
            crate::outln!("{}@{v} can be promoted to {}", eval.model, eval.stage)
        }
        (None, _, false) => crate::outln!(
            "{}@{v} cannot be promoted to {}: gates failed",
            eval.model,
            eval.stage
        ),
        (None, false, true) => {}
    }
}

/// `--request`: the file a pull request commits to propose a promotion.
fn write_request(g: &Globals, store: &crate::store::Store, a: &Args) -> anyhow::Result<ExitCode> {
    let s = spec::parse(a.spec.as_deref().unwrap_or_default(), None)?;
    let stage = a.to.clone().unwrap_or_default();
    crate::names::validate(&stage)?;
    let (path, request) = requests::write(store, &s.model, &s.selector, &stage)?;
    if g.json {
        print_json(&serde_json::json!({"path": path, "request": request}))?;
    } else if !g.quiet {
        crate::outln!(
            "requested {}@{} ({}) for `{}` in {}: commit it in your pull request",
            request.model,
            request.version,
            crate::record::short(&request.version_record),
            request.stage,
            path
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    /// The model.
    name: String,
    /// The stage to roll back.
    #[arg(long)]
    stage: String,
    /// The version to put back (default: the one that held the stage before).
    #[arg(long)]
    to: Option<String>,
    /// Why: required, recorded.
    #[arg(long)]
    reason: String,
}

pub fn rollback(g: &Globals, a: RollbackArgs) -> anyhow::Result<ExitCode> {
    crate::names::validate(&a.name)?;
    let store = g.store()?;
    let config = Config::load(&store.root())?;
    let (record, p) = promote::rollback(
        &store,
        &config,
        &RollbackOptions {
            model: a.name,
            stage: a.stage,
            to: a.to,
            reason: a.reason,
        },
    )?;
    if g.json {
        print_json(&serde_json::json!({"id": record.id(), "rollback": p}))?;
    } else if !g.quiet {
        crate::outln!("{} ({})", record.summary(), record.id());
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args, Debug)]
pub struct ResolveArgs {
    /// `name@stage`, `name@version` or `name@latest`.
    spec: String,
}

pub fn resolve(g: &Globals, a: ResolveArgs) -> anyhow::Result<ExitCode> {
    let s = spec::parse(&a.spec, Some(Selector::Latest))?;
    let store = g.store()?;
    let state = promote::model_state(&store, &s.model)?;
    let v = state.resolve(&s.selector)?;
    if g.json {
        print_json(&serde_json::json!({
            "model": v.version.model,
            "version": v.version.version,
            "record": v.record,
            "artifacts": v.version.artifacts,
        }))?;
    } else {
        for art in &v.version.artifacts {
            crate::outln!("{}  {}", art.sha256, art.path);
        }
    }
    Ok(ExitCode::SUCCESS)
}
