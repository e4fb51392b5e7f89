//! `mlops config`: validates `mlops.toml` and shows it as mlops reads it.

use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::config::{Config, FILE_NAME};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(g: &Globals, _args: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let root = store.root();
    let config = Config::load(&root)?;
    if g.json {
        print_json(&config)?;
    } else if !g.quiet {
        let exists = root.join(FILE_NAME).is_file();
        crate::outln!(
            "{FILE_NAME}: {} ({} model(s), {} monitor(s))",
            if exists {
                "valid"
            } else {
                "absent, defaults apply"
            },
            config.models.len(),
            config.monitors.len()
        );
        crate::out!("{}", toml::to_string_pretty(&config)?);
        crate::outln!("\nEffective policy (what `promote` checks, per model and stage):");
        crate::outln!(
            "{}",
            crate::term::table(&["model", "stage", "gates"], policy_rows(&config))
        );
        match crate::registry::policy::Policy::committed(&store) {
            Ok((_, true)) => crate::outln!(
                "note: {FILE_NAME} differs from the committed one; `promote` applies the committed one (commit this change, or pass --allow-uncommitted-policy)"
            ),
            Ok((p, false)) if p.source.commit.is_some() => crate::outln!(
                "{FILE_NAME} is committed (blob {})",
                p.source.blob.as_deref().map(|b| &b[..12.min(b.len())]).unwrap_or("none")
            ),
            _ => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One row per model and stage: the gates a promotion to it must pass.
fn policy_rows(config: &Config) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (name, m) in &config.models {
        for stage in &m.stages {
            let mut gates: Vec<String> = Vec::new();
            let Some(g) = m.gates.get(stage) else {
                rows.push(vec![name.clone(), stage.clone(), "stage order only".into()]);
                continue;
            };
            gates.extend(g.metrics.iter().cloned());
            gates.extend(g.slices.iter().map(|r| format!("slices {r}")));
            if g.wants_approvals() {
                let mut a = Vec::new();
                if g.approvals > 0 {
                    a.push(format!("{} approver(s)", g.approvals));
                }
                a.extend(g.roles.iter().map(|(r, n)| format!("{n} {r}")));
                gates.push(format!(
                    "approvals: {} ({})",
                    a.join(" + "),
                    if g.needs_signatures(stage) {
                        "signed"
                    } else {
                        "asserted accepted"
                    }
                ));
            }
            if let Some(d) = &g.drift_monitor {
                gates.push(format!("no drift in `{d}`"));
            }
            if let Some(sh) = &g.shadow {
                gates.push(format!(
                    "shadow: {} not worse than the version in `{stage}` by more than {} over ≥ {} labelled rows{}",
                    sh.metric,
                    sh.max_worse,
                    sh.min_rows,
                    if sh.bound.as_deref() == Some("interval") {
                        " (interval bound)"
                    } else {
                        ""
                    }
                ));
            }
            if g.data_quality {
                gates.push("training data passed its contract".into());
            }
            if !g.card.is_empty() {
                gates.push(format!("card: {}", g.card.join(", ")));
            }
            if !g.skip_stage_order {
                gates.push("stage order".into());
            }
            rows.push(vec![name.clone(), stage.clone(), gates.join("; ")]);
        }
    }
    rows
}
