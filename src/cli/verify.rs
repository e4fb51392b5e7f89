//! `mlops verify`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::store::Entity;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this entity (`model/fraud`); default: every entity.
    entity: Option<String>,
    /// Check the heads against this checkpoint (the output of `mlops
    /// checkpoint --json`, or an audit report's `report.json`) instead of the
    /// newest one recorded in the repository: a copy kept out of reach of
    /// whoever can push is what catches a consistent rewrite.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Also report who signed each record (good, bad, unknown key,
    /// unsigned), checked against the committed allowed signers.
    #[arg(long)]
    signatures: bool,
    /// Exit 1 when a record of a kind the policy requires signed
    /// (`[signing] require`; default approvals and production promotions)
    /// is not signed by an allowed key. Implies `--signatures`.
    #[arg(long)]
    require_signatures: bool,
    /// Prove that a handed-over report file (report.html, .md or .json) is
    /// exactly one recorded with `mlops report --record`; exit 1 if not.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

pub fn run(g: &Globals, a: Args) -> anyhow::Result<ExitCode> {
    let mut store = g.store()?;
    store.for_bulk_reads();
    if let Some(file) = &a.report {
        let (sha, found) = crate::report::record::find(&store, &g.dir.join(file))?;
        if g.json {
            print_json(&serde_json::json!({"file": file, "sha256": sha, "recorded": found}))?;
        } else {
            match &found {
                Some(m) => crate::outln!(
                    "{} is {} of the report on {}{} recorded {} by {} ({}), sha256 {}",
                    file.display(),
                    m.file,
                    m.model,
                    m.version.as_deref().map(|v| format!("@{v}")).unwrap_or_default(),
                    m.created_at,
                    m.actor,
                    m.record,
                    m.sha256
                ),
                None => crate::outln!(
                    "{}: sha256 {sha} matches no recorded report: it was altered, or never recorded (`mlops report --record`)",
                    file.display()
                ),
            }
        }
        return Ok(ExitCode::from(u8::from(found.is_none())));
    }
    let only = a.entity.as_deref().map(Entity::parse).transpose()?;
    if let Some(e) = &only {
        store.require(e)?;
    }
    let checkpoint = a
        .checkpoint
        .as_deref()
        .map(crate::checkpoint::from_file)
        .transpose()?;
    let v = crate::verify::verify(
        &store,
        crate::verify::Options {
            only: only.as_ref(),
            checkpoint,
            checkpoint_source: a.checkpoint.map(|p| p.display().to_string()),
        },
    )?;
    let signatures = if a.signatures || a.require_signatures {
        let (policy, _) = crate::registry::policy::Policy::committed(&store)?;
        let allowed = policy.allowed_signers(&store)?;
        let require = policy
            .config
            .signing
            .require
            .clone()
            .unwrap_or_else(crate::verify::signatures::default_required);
        Some(crate::verify::signatures::check(
            &store,
            only.as_ref(),
            &allowed,
            &require,
        )?)
    } else {
        None
    };
    let unsigned_fail = a.require_signatures && signatures.as_ref().is_some_and(|s| s.failing > 0);
    if g.json {
        print_json(&serde_json::json!({
            "entities": v.entities,
            "records": v.records,
            "checkpoint": v.checkpoint,
            "ok": v.ok && !unsigned_fail,
            "signatures": signatures,
        }))?;
        return Ok(ExitCode::from(u8::from(!v.ok || unsigned_fail)));
    } else {
        if let Some(s) = &signatures {
            for r in s
                .records
                .iter()
                .filter(|r| r.status != "good" && (r.required || r.status == "bad"))
            {
                crate::outln!(
                    "signature {:<12} {} {} {}{}{}",
                    r.status,
                    r.entity,
                    r.kind,
                    crate::record::short(&r.record),
                    if r.required { " (required)" } else { "" },
                    r.detail
                        .as_deref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                );
            }
            crate::outln!(
                "signatures: {}",
                s.counts
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if unsigned_fail {
                crate::outln!(
                    "{} record(s) the policy requires signed are not signed by an allowed key",
                    s.failing
                );
            }
        }
        for c in &v.entities {
            let status = if c.problems.is_empty() {
                "ok"
            } else {
                "ALTERED"
            };
            if g.quiet && c.problems.is_empty() {
                continue;
            }
            crate::outln!(
                "{status:<8} {} ({} records, {} commits)",
                c.entity,
                c.records,
                c.commits
            );
            for p in &c.problems {
                crate::outln!("  problem: {} {p}", c.entity);
            }
            for w in &c.warnings {
                crate::outln!("  warning: {} {w}", c.entity);
            }
        }
        match &v.checkpoint {
            Some(cp) => crate::outln!(
                "checked against checkpoint {} ({} heads, {}, from {})",
                crate::record::short(&cp.id),
                cp.heads,
                cp.created_at,
                cp.source
            ),
            None => crate::outln!(
                "no checkpoint: a consistent rewrite of the whole history cannot be told from the original (`mlops checkpoint` pins the heads)"
            ),
        }
        if v.ok {
            crate::outln!("verified {} records in {} chains: every record hashes to its id and every history is append-only", v.records, v.entities.len());
        } else {
            crate::outln!("verification FAILED: see the problems above");
        }
    }
    Ok(if v.ok && !unsigned_fail {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
