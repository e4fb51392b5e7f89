//! `mlops scan`.

use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::term;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(g: &Globals, _a: Args) -> anyhow::Result<ExitCode> {
    let mut store = g.store()?;
    store.for_bulk_reads();
    let s = crate::scan::scan(&store)?;
    if g.json {
        print_json(&s)?;
    } else {
        if !s.findings.is_empty() {
            let rows = s
                .findings
                .iter()
                .map(|f| {
                    vec![
                        f.entity.clone(),
                        f.record.clone(),
                        f.field.clone(),
                        f.looks_like.clone(),
                        f.masked.clone(),
                    ]
                })
                .collect();
            crate::outln!(
                "{}",
                term::table(&["entity", "record", "field", "looks like", "value"], rows)
            );
        }
        crate::outln!(
            "scanned {} records and {} attachments: {} finding(s){}",
            s.records,
            s.attachments,
            s.findings.len(),
            if s.findings.is_empty() {
                ""
            } else {
                " — see docs/privacy.md, \"When something leaked\""
            }
        );
    }
    Ok(if s.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
