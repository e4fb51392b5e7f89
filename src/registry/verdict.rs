//! The pull-request verdict of a promotion: gates, candidate against the
//! version now in the stage, and the lineage. The first line is a hidden
//! marker, so a CI step can find and update its own comment in place.

use std::collections::BTreeSet;

use crate::markdown::escape as md_escape;
use crate::registry::promote::Evaluation;
use crate::run::query::{delta_text, short_number};

pub fn marker(model: &str, stage: &str) -> String {
    format!("<!-- mlops-verdict model={model} stage={stage} -->")
}

pub fn markdown(e: &Evaluation) -> String {
    let mut out = String::new();
    let v = &e.candidate.version;
    out.push_str(&marker(&e.model, &e.stage));
    out.push('\n');
    let failed = e.gates.iter().filter(|g| !g.pass).count();
    if e.pass {
        out.push_str(&format!(
            "## ✅ `{}@{}` can be promoted to `{}`\n\n",
            md_escape(&e.model),
            md_escape(&v.version),
            md_escape(&e.stage)
        ));
    } else {
        out.push_str(&format!(
            "## ❌ `{}@{}` cannot be promoted to `{}`: {failed} of {} gate(s) failed\n\n",
            md_escape(&e.model),
            md_escape(&v.version),
            md_escape(&e.stage),
            e.gates.len()
        ));
    }
    out.push_str("### Gates\n\n");
    if e.gates.is_empty() {
        out.push_str(&format!(
            "No gates are configured for `{}`.\n\n",
            md_escape(&e.stage)
        ));
    } else {
        out.push_str("| | gate | expected | actual |\n|---|---|---|---|\n");
        for g in &e.gates {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                if g.pass { "✅" } else { "❌" },
                md_escape(&g.gate),
                md_escape(&g.expected),
                md_escape(&g.actual)
            ));
        }
        out.push('\n');
    }
    out.push_str("### Candidate vs current\n\n");
    match &e.current {
        None => {
            if e.candidate.stages.contains(&e.stage) {
                out.push_str(&format!(
                    "`{}` already holds `{}`.\n\n",
                    md_escape(&v.version),
                    md_escape(&e.stage)
                ));
            } else {
                out.push_str(&format!(
                    "No version is in `{}` yet.\n\n",
                    md_escape(&e.stage)
                ));
            }
            if !v.metrics.is_empty() {
                out.push_str(&format!(
                    "| metric | {} |\n|---|---|\n",
                    md_escape(&v.version)
                ));
                for (k, x) in &v.metrics {
                    out.push_str(&format!("| {} | {} |\n", md_escape(k), short_number(*x)));
                }
                out.push('\n');
            }
        }
        Some(c) => {
            let cv = &c.version;
            out.push_str(&format!(
                "| metric | {} (current) | {} (candidate) | Δ |\n|---|---|---|---|\n",
                md_escape(&cv.version),
                md_escape(&v.version)
            ));
            let keys: BTreeSet<&String> = v.metrics.keys().chain(cv.metrics.keys()).collect();
            for k in keys {
                let a = cv.metrics.get(k);
                let b = v.metrics.get(k);
                let delta = match (a, b) {
                    (Some(a), Some(b)) => {
                        let d = b - a;
                        let pct = if *a != 0.0 {
                            format!(" ({:+.1}%)", 100.0 * d / a.abs())
                        } else {
                            String::new()
                        };
                        format!("{}{pct}", delta_text(d, None))
                    }
                    _ => "—".into(),
                };
                out.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    md_escape(k),
                    a.map(|x| short_number(*x)).unwrap_or_else(|| "—".into()),
                    b.map(|x| short_number(*x)).unwrap_or_else(|| "—".into()),
                    delta
                ));
            }
            out.push('\n');
        }
    }
    out.push_str("### Lineage\n\n");
    out.push_str(&format!("- version record: `{}`\n", e.candidate.record));
    if let Some(r) = &v.run_id {
        out.push_str(&format!("- run: `{}`\n", md_escape(r)));
    }
    if let Some(c) = &v.code_commit {
        out.push_str(&format!("- code commit: `{}`\n", md_escape(c)));
    }
    for d in &v.datasets {
        out.push_str(&format!(
            "- {} data: `{}` {}\n",
            md_escape(&d.role),
            md_escape(d.dataset.as_deref().unwrap_or(&d.path)),
            d.version
                .as_deref()
                .map(|x| format!("(`{x}`)"))
                .unwrap_or_else(|| format!("(root `{}`)", d.root))
        ));
    }
    for a in &v.artifacts {
        out.push_str(&format!(
            "- artifact `{}` sha256 `{}`\n",
            md_escape(&a.path),
            a.sha256
        ));
    }
    out.push_str("\n<sub>Generated by mlops. Re-check with `mlops promote ");
    out.push_str(&format!(
        "{}@{} --to {} --check`.</sub>\n",
        md_escape(&e.model),
        md_escape(&v.version),
        md_escape(&e.stage)
    ));
    out
}

/// Rows for the terminal table of gates.
pub fn gate_rows(e: &Evaluation) -> Vec<Vec<String>> {
    e.gates
        .iter()
        .map(|g| {
            vec![
                if g.pass { "pass".into() } else { "FAIL".into() },
                g.gate.clone(),
                g.expected.clone(),
                g.actual.clone(),
            ]
        })
        .collect()
}

/// The pull-request comment when the pull request requests no promotion:
/// the same marker, so the comment is updated in place when one is added.
pub fn no_request() -> String {
    "<!-- mlops-verdict requests -->\n## mlops: no promotion requested\n\nThis pull request changes no file under `.mlops/requests/`. To propose one, run `mlops promote <model>@<version> --to <stage> --request` and commit the file it writes.\n".to_string()
}
