//! `mlops drift` and `mlops drift history`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::config::Config;
use crate::drift::render;
use crate::monitor::{self, DriftOutcome, DriftRequest, MonitorRun};
use crate::term;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
    /// A monitor from mlops.toml (`[monitors.<name>]`); optional with --reference and --current.
    monitor: Option<String>,
    /// Every monitor in mlops.toml; exit 1 if any drifted.
    #[arg(long, conflicts_with = "monitor")]
    all: bool,
    /// The reference: a file, or a dataset `name[@version]`.
    #[arg(long)]
    reference: Option<String>,
    /// Today's data: files or globs (CSV, Parquet, NDJSON); repeatable.
    #[arg(long = "current", value_name = "FILE|GLOB")]
    current: Vec<String>,
    /// Only these columns, comma-separated.
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Output format.
    #[arg(long, default_value = "table", value_parser = ["table", "json", "md", "html"])]
    format: String,
    /// Write the formatted report to this file (stdout gets the verdict).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Record nothing: neither this run on the monitor's history nor an
    /// automatic rollback it would cause.
    #[arg(long)]
    no_record: bool,
    /// Record nothing and roll nothing back: say what an `on_breach`
    /// monitor would do.
    #[arg(long)]
    dry_run: bool,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Per-column scores of a monitor over time.
    History(HistoryArgs),
}

#[derive(clap::Args, Debug)]
struct HistoryArgs {
    monitor: String,
    /// At most this many runs, newest last.
    #[arg(long, short = 'n')]
    limit: Option<usize>,
}

pub fn run(g: &Globals, a: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    if let Some(Sub::History(h)) = a.sub {
        return history(g, &store, h);
    }
    let config = Config::load(&store.root())?;
    let monitors: Vec<Option<String>> = if a.all {
        if config.monitors.is_empty() {
            return Err(crate::Error::invalid_with_hint(
                "`--all`: mlops.toml defines no monitors",
                "add a `[monitors.<name>]` table",
            )
            .into());
        }
        config.monitors.keys().cloned().map(Some).collect()
    } else {
        vec![a.monitor.clone()]
    };
    if a.format == "html" && monitors.len() > 1 {
        return Err(crate::Error::invalid_with_hint(
            "`--format html` writes one self-contained page, and `--all` runs several monitors",
            "run `mlops drift <monitor> --format html` per monitor, or use `--format md`",
        )
        .into());
    }
    // Drift runs are recorded as they finish, so a report that cannot be
    // written must be found out before: a temporary file in the target
    // folder proves it exists and is writable.
    if let Some(out) = &a.out {
        let path = g.dir.join(out);
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => g.dir.clone(),
        };
        tempfile::NamedTempFile::new_in(&folder).map_err(|e| {
            crate::Error::io(
                format!(
                    "`--out {}`: cannot write in `{}`",
                    out.display(),
                    folder.display()
                ),
                e,
            )
        })?;
    }
    let bar = term::items_bar(0, "drift", g.quiet || g.json);
    let progress = |msg: &str| bar.set_message(msg.to_string());
    let metric_of = |model: &str, stage: &str, metric: Option<&str>| {
        crate::registry::promote::judged_version(&store, model, stage, metric)
    };
    // Every monitor runs before any is recorded: a monitor that cannot run
    // (bad file, bad config) leaves no earlier one of `--all` recorded
    // either, so the rerun after the fix does not find their batches
    // "already compared". (An append refused by the store itself can still
    // come after earlier ones; the next run then reports what is left.)
    let mut runs: Vec<MonitorRun> = Vec::new();
    for m in monitors {
        let req = DriftRequest {
            monitor: m,
            reference: a.reference.clone(),
            current: a.current.clone(),
            columns: a.columns.clone(),
            record: !a.no_record && !a.dry_run,
            cwd: g.dir.clone(),
        };
        runs.push(monitor::run(&store, &config, &req, &metric_of, &progress)?);
    }
    bar.finish_and_clear();
    let mut outcomes: Vec<DriftOutcome> = Vec::new();
    let mut nothing_new = Vec::new();
    for r in runs {
        match r {
            MonitorRun::Compared(o) => outcomes.push(*o),
            MonitorRun::NothingNew(n) => nothing_new.push(n),
        }
    }
    if !a.no_record && !a.dry_run {
        for o in &mut outcomes {
            monitor::record(&store, o)?;
        }
    }
    for n in &nothing_new {
        if !g.json {
            eprintln!(
                "{}: no new batch — `{}` was compared already{}{}",
                n.monitor,
                n.newest,
                n.reported_in
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                if n.still_breached {
                    "; its finding still stands"
                } else {
                    ""
                }
            );
        }
    }
    let still_breached = nothing_new.iter().any(|n| n.still_breached);
    // A breach already recorded whose automatic rollback did not happen
    // (the store refused it, the process died) is acted on again: the
    // rollback is idempotent, so a rerun finishes what the first began.
    for n in nothing_new.iter().filter(|n| n.still_degraded) {
        if let Some(cfg) = config.monitors.get(&n.monitor) {
            let action = crate::registry::autorollback::on_breach(
                &store,
                &config,
                &n.monitor,
                cfg,
                n.reported_in.as_deref(),
                a.dry_run || a.no_record,
            )?;
            if let Some(action) = action
                .filter(|a| !matches!(a, crate::registry::autorollback::Action::Skipped { .. }))
            {
                eprintln!("{}", describe(&action));
            }
        }
    }
    if outcomes.is_empty() {
        let format = if g.json { "json" } else { a.format.as_str() };
        if format == "json" && a.out.is_none() {
            print_json(&nothing_new)?;
        }
        // A scheduled job that reports with `--out` still gets its page.
        if let Some(path) = &a.out {
            let text: String = if format == "json" {
                serde_json::to_string_pretty(&nothing_new)?
            } else {
                nothing_new
                    .iter()
                    .map(|n| {
                        format!(
                            "## Drift: `{}`\n\nNo new batch: `{}` was compared in {}. {}\n",
                            n.monitor,
                            crate::markdown::escape(&n.newest),
                            n.reported_in.as_deref().unwrap_or("an earlier report"),
                            if n.still_breached {
                                "Its finding still stands."
                            } else {
                                "It found nothing."
                            }
                        )
                    })
                    .collect()
            };
            let path = g.dir.join(path);
            crate::templates::write_atomically(&path, text.as_bytes())
                .map_err(|e| crate::Error::io(format!("cannot write `{}`", path.display()), e))?;
        }
        return Ok(ExitCode::from(u8::from(still_breached)));
    }
    let drifted = outcomes.iter().any(|o| o.report.dataset_drift);
    let format = if g.json { "json" } else { a.format.as_str() };
    let text = match format {
        "json" => {
            serde_json::to_string_pretty(&if outcomes.len() == 1 && nothing_new.is_empty() {
                serde_json::to_value(&outcomes[0])?
            } else {
                let mut all = serde_json::to_value(&outcomes)?;
                if let Some(list) = all.as_array_mut() {
                    for n in &nothing_new {
                        list.push(serde_json::to_value(n)?);
                    }
                }
                all
            })?
        }
        "md" => outcomes.iter().map(markdown).collect::<Vec<_>>().join("\n"),
        "html" => {
            let o = &outcomes[0];
            let dir = store.root().join(
                config
                    .report
                    .templates
                    .as_deref()
                    .unwrap_or(".mlops/templates"),
            );
            render::render_template(
                &o.report,
                Some(&render::Provenance {
                    monitor: o.monitor.clone(),
                    model: o.model.clone(),
                    reference: o
                        .reference
                        .iter()
                        .flat_map(|r| &r.files)
                        .map(|f| (f.path.clone(), f.sha256.clone()))
                        .collect(),
                    current: o
                        .current
                        .iter()
                        .map(|f| (f.path.clone(), f.sha256.clone()))
                        .collect(),
                    record: o.record_id.clone(),
                    tool: crate::context::tool_version(),
                    generated_at: crate::context::now_timestamp(),
                }),
                Some(&dir),
            )
            .map_err(|e| {
                crate::Error::invalid_with_hint(
                    format!("template `drift.html.j2`: {e}"),
                    "fix the template or delete it to use the built-in one",
                )
            })?
        }
        _ => outcomes.iter().map(table).collect::<Vec<_>>().join("\n"),
    };
    match &a.out {
        Some(path) => {
            let path = g.dir.join(path);
            crate::templates::write_atomically(&path, text.as_bytes())
                .map_err(|e| crate::Error::io(format!("cannot write `{}`", path.display()), e))?;
            if !g.quiet {
                for o in &outcomes {
                    crate::outln!("{}: {}", o.monitor, verdict(o));
                }
                crate::outln!("report written to {}", path.display());
            }
        }
        None => crate::out!("{text}{}", if text.ends_with('\n') { "" } else { "\n" }),
    }
    for o in &outcomes {
        let action = match config.monitors.get(&o.monitor).filter(|_| o.degraded()) {
            Some(cfg) => crate::registry::autorollback::on_breach(
                &store,
                &config,
                &o.monitor,
                cfg,
                o.record_id.as_deref(),
                a.dry_run || a.no_record,
            )?
            .map(|a| describe(&a)),
            None => None,
        };
        if let Some(action) = &action {
            eprintln!("{action}");
        }
        if let Some(problems) = o.late_labels.as_ref().map(|l| l.problems()) {
            for p in problems {
                eprintln!("warning: {}: {p}", o.monitor);
            }
        }
        if let (Some(command), false) = (&config.alerts.command, a.dry_run) {
            alert(g, &store, command, o, action.as_deref())?;
        }
    }
    Ok(
        if drifted || still_breached || outcomes.iter().any(DriftOutcome::breached) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// What an `on_breach` monitor did about a degraded model, as one line.
fn describe(action: &crate::registry::autorollback::Action) -> String {
    use crate::registry::autorollback::Action;
    match action {
        Action::RolledBack {
            record,
            stage,
            from,
            to,
        } => format!(
            "rolled back {stage}: {from} -> {to} ({record}); serving follows `mlops resolve`"
        ),
        Action::WouldRollBack { stage, from, to } => {
            format!("dry run: would roll back {stage}: {from} -> {to}")
        }
        Action::Skipped { stage, why } => format!("no automatic rollback of {stage}: {why}"),
    }
}

/// The verdict line of a run: drift, or the model's quality over late labels.
fn verdict(o: &DriftOutcome) -> String {
    match (&o.late_labels, &o.report.performance) {
        (Some(late), Some(p)) => {
            let state = if p.degraded {
                "DEGRADED"
            } else if late.tampered() {
                "BATCH CHANGED"
            } else if p.note.is_some() {
                "not judged"
            } else {
                "ok"
            };
            format!(
                "Model quality {state}: {} {} on {} labelled row(s) from {} batch(es){}{}",
                p.metric,
                p.current
                    .map(crate::drift::report::short)
                    .unwrap_or_else(|| "n/a".into()),
                p.rows,
                late.batches
                    .iter()
                    .filter(|b| b.status == crate::monitor::labels::BatchStatus::Joined)
                    .count(),
                match (p.reference, p.degradation) {
                    (Some(r), Some(d)) => format!(
                        " (recorded {}, {} worse{})",
                        crate::drift::report::short(r),
                        crate::drift::report::short(d),
                        p.max_degradation
                            .map(|m| format!(", threshold {}", crate::drift::report::short(m)))
                            .unwrap_or_default()
                    ),
                    _ => String::new(),
                },
                p.note
                    .as_deref()
                    .map(|n| format!(" — {n}"))
                    .unwrap_or_default()
            )
        }
        _ => render::verdict(&o.report),
    }
}

/// The batches a late-label monitor joined, as table rows.
fn batch_rows(late: &crate::monitor::labels::LateLabels) -> Vec<Vec<String>> {
    late.batches
        .iter()
        .map(|b| {
            vec![
                b.path.clone(),
                b.first_seen.get(..10).unwrap_or(&b.first_seen).to_string(),
                serde_json::to_value(b.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                b.rows.to_string(),
                b.labelled.to_string(),
            ]
        })
        .collect()
}

const BATCH_HEADER: [&str; 5] = ["batch", "first seen", "status", "rows", "labelled"];

fn markdown(o: &DriftOutcome) -> String {
    match &o.late_labels {
        Some(late) => {
            let mut out = format!(
                "## Model quality: `{}`\n\n{}\n\n| {} |\n|{}\n",
                o.monitor,
                crate::markdown::escape(&verdict(o)),
                BATCH_HEADER.join(" | "),
                "---|".repeat(BATCH_HEADER.len())
            );
            for row in batch_rows(late) {
                let cells: Vec<String> = row.iter().map(|c| crate::markdown::escape(c)).collect();
                out.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
            for p in late.problems() {
                out.push_str(&format!("\n- {}", crate::markdown::escape(&p)));
            }
            out.push('\n');
            out
        }
        None => format!(
            "## Drift: `{}`\n\n{}",
            o.monitor,
            render::markdown(&o.report)
        ),
    }
}

/// Runs `[alerts] command` for a monitor that drifted or degraded. A
/// failing alert is reported but does not hide the finding (exit 1 stays).
fn alert(
    g: &Globals,
    store: &crate::store::Store,
    command: &str,
    o: &DriftOutcome,
    action: Option<&str>,
) -> anyhow::Result<()> {
    let degraded = o.degraded();
    if !o.breached() {
        return Ok(());
    }
    let report = tempfile::Builder::new()
        .prefix("mlops-alert-")
        .suffix(".md")
        .tempfile()?;
    std::fs::write(
        report.path(),
        format!(
            "{}{}",
            markdown(o),
            action
                .map(|a| format!("\n**{}**\n", crate::markdown::escape(a)))
                .unwrap_or_default()
        ),
    )?;
    let status = std::process::Command::new("sh")
        .args(["-c", command])
        .current_dir(store.root())
        .env("MLOPS_ALERT_MONITOR", &o.monitor)
        .env(
            "MLOPS_ALERT_KIND",
            if degraded && !o.report.dataset_drift {
                "degradation"
            } else {
                "drift"
            },
        )
        .env("MLOPS_ALERT_SUMMARY", verdict(o))
        .env("MLOPS_ALERT_ACTION", action.unwrap_or(""))
        .env("MLOPS_ALERT_REPORT", report.path())
        .stdin(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {
            if !g.quiet {
                eprintln!("alerted for {} ([alerts] command)", o.monitor);
            }
        }
        Ok(s) => eprintln!(
            "warning: the [alerts] command failed for {} ({s})",
            o.monitor
        ),
        Err(e) => eprintln!("warning: cannot run the [alerts] command: {e}"),
    }
    Ok(())
}

fn table(o: &DriftOutcome) -> String {
    let r = &o.report;
    let mut out = format!("monitor {}: {}\n", o.monitor, verdict(o));
    let Some(reference) = &o.reference else {
        if let Some(late) = &o.late_labels {
            out.push_str(&term::table(&BATCH_HEADER, batch_rows(late)));
            out.push('\n');
        }
        for f in &r.findings {
            out.push_str(&format!("- {}\n", render::finding_text(f)));
        }
        if let Some(id) = &o.record_id {
            out.push_str(&format!("recorded as {id}\n"));
        }
        return out;
    };
    out.push_str(&format!(
        "reference: {}{} · current: {} file(s), {} rows\n",
        reference
            .dataset
            .as_deref()
            .map(|d| format!("dataset {d}"))
            .unwrap_or_else(|| reference
                .files
                .first()
                .map(|f| f.path.clone())
                .unwrap_or_default()),
        if reference.kind == "profile" {
            " (from its recorded profile)"
        } else {
            ""
        },
        o.current.len(),
        r.rows.1
    ));
    out.push_str(&term::table(&render::TABLE_HEADER, render::table_rows(r)));
    out.push('\n');
    for f in &r.findings {
        out.push_str(&format!("- {}\n", render::finding_text(f)));
    }
    if let Some(id) = &o.record_id {
        out.push_str(&format!("recorded as {id}\n"));
    }
    out
}

fn history(g: &Globals, store: &crate::store::Store, h: HistoryArgs) -> anyhow::Result<ExitCode> {
    let mut rows = monitor::history::history(store, &h.monitor)?;
    if let Some(n) = h.limit {
        let skip = rows.len().saturating_sub(n);
        rows.drain(..skip);
    }
    if g.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut columns: Vec<String> = rows
        .iter()
        .flat_map(|r| r.columns.keys().cloned())
        .collect();
    columns.sort();
    columns.dedup();
    let mut headers = vec![
        "when".to_string(),
        "verdict".to_string(),
        "drifted".to_string(),
    ];
    headers.extend(columns.iter().cloned());
    let cells = rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.created_at.clone(),
                if r.dataset_drift {
                    "DRIFT".into()
                } else {
                    "ok".into()
                },
                format!("{}/{}", r.drifted, r.tested),
            ];
            for c in &columns {
                row.push(match r.columns.get(c) {
                    Some(p) => match p.score {
                        Some(s) => format!(
                            "{}{}",
                            crate::drift::report::short(s),
                            if p.drift { "*" } else { "" }
                        ),
                        None => "—".into(),
                    },
                    None => "—".into(),
                });
            }
            row
        })
        .collect();
    crate::outln!("{}", term::table(&headers, cells));
    crate::outln!("* drifted");
    Ok(ExitCode::SUCCESS)
}
