//! `mlops report`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::registry::spec::{self, Selector};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `name@version|stage`; a bare `name` reports the version in the last
    /// stage anyone holds (e.g. production), else the latest.
    spec: String,
    /// The folder to write report.md and report.html into.
    #[arg(long, default_value = "report")]
    out: PathBuf,
    /// Feature importances (CSV `feature,importance` or JSON) for the
    /// explainability section; default: `explainability` in mlops.toml.
    #[arg(long, value_name = "FILE")]
    explain: Option<PathBuf>,
    /// Add a requirement → section matrix: sr11-7, hkma, eu-ai-act,
    /// model-card, or a `.mlops/frameworks/<name>.toml` of your own;
    /// repeatable.
    #[arg(long, value_name = "NAME")]
    framework: Vec<String>,
    /// Exit 1 when a section the chosen frameworks require (all 24 without
    /// `--framework`) is MISSING, naming each (the report is still written).
    #[arg(long)]
    strict: bool,
    /// Record the report on the model's history (the hashes of every file
    /// written, the templates' and the heads read), so `mlops verify
    /// --report <file>` later proves a handed-over file is exactly this.
    #[arg(long)]
    record: bool,
    /// Also print report.pdf with a local headless Chromium.
    #[arg(long)]
    pdf: bool,
}

pub fn run(g: &Globals, a: Args) -> anyhow::Result<ExitCode> {
    let s = spec::parse(&a.spec, Some(Selector::Latest))?;
    let selector = a.spec.contains('@').then_some(&s.selector);
    let store = g.store()?;
    // The inventory and gates as reviewed: the committed mlops.toml.
    let (policy, differs) = crate::registry::policy::Policy::committed(&store)?;
    if differs && !g.quiet {
        eprintln!("warning: mlops.toml differs from the committed one; the report uses the committed one (commit the change to report it)");
    }
    let config = policy.config;
    let req = crate::report::Request {
        model: &s.model,
        selector,
        explain: a.explain.map(|p| g.dir.join(p)),
        frameworks: a.framework.clone(),
    };
    // A recorded report needs an attributable record: checked before any
    // file is written, so a refusal leaves nothing half-done.
    if a.record {
        store.identity()?;
    }
    // Found before anything is written: no report without its PDF.
    let browser = if a.pdf {
        Some(crate::report::pdf::browser()?)
    } else {
        None
    };
    let (mut files, report) = crate::report::write(&store, &config, &req, &g.dir.join(&a.out))?;
    if let Some(b) = &browser {
        let html = g.dir.join(&a.out).join("report.html");
        let pdf = g.dir.join(&a.out).join("report.pdf");
        crate::report::pdf::print(b, &html, &pdf)?;
        files.push(pdf);
    }
    let recorded = if a.record {
        Some(crate::report::record::record(&store, &report, &files)?)
    } else {
        None
    };
    if g.json {
        print_json(&serde_json::json!({ "files": files, "report": report, "recorded": recorded }))?;
    } else if !g.quiet {
        for f in &files {
            crate::outln!("report written to {}", f.display());
        }
        let missing = report
            .sections
            .iter()
            .filter(|s| s.status == "MISSING")
            .count();
        crate::outln!(
            "{} of 24 sections filled, {missing} MISSING; verification {}",
            24 - missing,
            if report.verified { "passed" } else { "FAILED" }
        );
        if let Some(id) = &recorded {
            crate::outln!(
                "recorded as {id}: `mlops verify --report <file>` proves a copy is this report"
            );
        }
    }
    if a.strict && !report.missing_required.is_empty() {
        eprintln!(
            "error: --strict: required section(s) MISSING: {}",
            report
                .sections
                .iter()
                .filter(|s| report.missing_required.contains(&s.number))
                .map(|s| format!("{} {}", s.number, s.title))
                .collect::<Vec<_>>()
                .join("; ")
        );
        eprintln!("hint: each section's `todo` in report.json says what fills it");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
