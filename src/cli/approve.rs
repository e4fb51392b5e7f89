//! `mlops approve`: the approver's own, signed sign-off on a version.

use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::registry::approve::{approve, ApproveOptions};
use crate::registry::policy::Policy;
use crate::registry::spec;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `name@version` (or `name@latest`, `name@<stage>`, `name@sha256:<record>`).
    spec: String,
    /// The stage the approval is for.
    #[arg(long)]
    stage: String,
    /// The role you approve in (a `[roles.<name>]` of the committed mlops.toml).
    #[arg(long)]
    role: Option<String>,
    /// What you checked, recorded with the approval.
    #[arg(long)]
    comment: Option<String>,
    /// A file the approval rests on (a validation report): recorded by its
    /// SHA-256; repeatable.
    #[arg(long, value_name = "FILE")]
    evidence: Vec<std::path::PathBuf>,
    /// Record the approval without a signature; it counts only where the
    /// gate does not ask for signed approvals.
    #[arg(long)]
    unsigned: bool,
    /// Read roles and stages at this commit instead of `HEAD`.
    #[arg(long, value_name = "REV")]
    policy_rev: Option<String>,
}

pub fn run(g: &Globals, a: Args) -> anyhow::Result<ExitCode> {
    let s = spec::parse(&a.spec, None)?;
    crate::names::validate(&a.stage)?;
    let store = g.store()?;
    // Roles come from the reviewed policy: an uncommitted edit adding
    // oneself to a role must not make one an approver.
    let policy = Policy::load(&store, a.policy_rev.as_deref(), false)?;
    let (record, body) = approve(
        &store,
        &policy,
        &ApproveOptions {
            model: s.model,
            selector: s.selector,
            stage: a.stage,
            role: a.role,
            comment: a.comment,
            evidence: a.evidence,
            cwd: g.dir.clone(),
            unsigned: a.unsigned,
        },
    )?;
    if g.json {
        print_json(&serde_json::json!({"id": record.id(), "approval": body}))?;
    } else if !g.quiet {
        crate::outln!("{} ({})", record.summary(), record.id());
    }
    Ok(ExitCode::SUCCESS)
}
