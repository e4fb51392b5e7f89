//! `mlops runs list|show|compare|amend|active`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::run::{filter, index, params, query, sparkline};
use crate::term;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    sub: Sub,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// One row per run: filter, sort and pick columns.
    List(ListArgs),
    /// Everything about one run, with a sparkline of each metric.
    Show(ShowArgs),
    /// Params and metrics of runs side by side, with Δ against the first.
    Compare(CompareArgs),
    /// Add a metric, tag or note to a finished run (recorded as its own event).
    Amend(AmendArgs),
    /// Runs not recorded yet: live ones with their latest metrics, and
    /// interrupted ones (their `mlops track` was killed) whose metrics are on disk.
    Active(ActiveArgs),
    /// Fold finished runs from their own refs into the runs archive
    /// (`mlops sync` does this before it pushes).
    Fold,
}

#[derive(clap::Args, Debug)]
struct ListArgs {
    /// Only runs of this experiment.
    #[arg(long)]
    experiment: Option<String>,
    /// MLflow search_runs syntax, plus `or`, `not` and parentheses:
    /// `metrics.acc > 0.9 and params.lr = 0.01`.
    #[arg(long)]
    filter: Option<String>,
    /// Sort keys, `-` for descending: `-metrics.acc,params.lr`.
    #[arg(long, allow_hyphen_values = true)]
    sort: Option<String>,
    /// At most this many runs.
    #[arg(long, short = 'n')]
    limit: Option<usize>,
    /// Columns: `run_id,metrics.acc,params.lr` (default: the common ones).
    #[arg(long)]
    columns: Option<String>,
    /// Print CSV instead of a table.
    #[arg(long)]
    csv: bool,
}

#[derive(clap::Args, Debug)]
struct ShowArgs {
    /// A run id or a unique prefix of one.
    run: String,
}

#[derive(clap::Args, Debug)]
struct CompareArgs {
    /// Two or more run ids (or unique prefixes); the first is the baseline.
    #[arg(num_args = 2.., required = true)]
    runs: Vec<String>,
    /// Print a Markdown table (for a pull request).
    #[arg(long)]
    md: bool,
    /// Show every param and metric, not only those that differ.
    #[arg(long)]
    all: bool,
}

#[derive(clap::Args, Debug)]
struct AmendArgs {
    /// A run id or a unique prefix of one.
    run: String,
    /// A metric, `key=value`; repeatable.
    #[arg(long = "metric", value_name = "KEY=VALUE")]
    metrics: Vec<String>,
    /// A tag, `key=value`; repeatable.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// A note.
    #[arg(long)]
    note: Option<String>,
}

#[derive(clap::Args, Debug)]
struct ActiveArgs {
    /// Delete the work files of interrupted runs (they were never recorded).
    #[arg(long)]
    prune: bool,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    match args.sub {
        Sub::List(a) => list(g, a),
        Sub::Show(a) => show(g, a),
        Sub::Compare(a) => compare(g, a),
        Sub::Amend(a) => amend(g, a),
        Sub::Active(a) => active(g, a),
        Sub::Fold => {
            let store = g.store()?;
            store.identity()?;
            let report = crate::run::fold::fold(&store)?;
            if g.json {
                crate::cli::print_json(&report)?;
            } else if !g.quiet {
                crate::outln!(
                    "folded {} run(s) into {} in {} commit(s); {} run ref(s) removed",
                    report.folded,
                    crate::store::archive::REF,
                    report.commits,
                    report.refs_removed
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(g: &Globals, a: ListArgs) -> anyhow::Result<ExitCode> {
    let filter = match &a.filter {
        Some(f) => Some(filter::parse(f).map_err(|e| query::filter_error("--filter", e))?),
        None => None,
    };
    let sort = match &a.sort {
        Some(s) => filter::parse_sort(s).map_err(|e| query::filter_error("--sort", e))?,
        None => Vec::new(),
    };
    let columns = match &a.columns {
        Some(c) => Some(
            c.split(',')
                .map(|f| {
                    filter::parse_field(f.trim()).map_err(|e| query::filter_error("--columns", e))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let store = g.store()?;
    let rows = index::rows(&store)?;
    let rows = query::select(
        rows,
        &query::ListQuery {
            experiment: a.experiment,
            filter,
            sort,
            limit: a.limit,
        },
    );
    if g.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let columns = columns.unwrap_or_else(|| query::default_columns(&rows));
    let headers: Vec<String> = columns.iter().map(query::column_name).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| query::cell(r, c)).collect())
        .collect();
    if a.csv {
        crate::out!("{}", to_csv(&headers, &cells));
    } else if rows.is_empty() {
        crate::outln!("no runs");
        if let Some(h) = store.empty_hint() {
            eprintln!("{h}");
        }
    } else {
        crate::outln!("{}", term::table(&headers, cells));
        if rows.iter().any(|r| !r.amended.is_empty()) {
            crate::outln!("* amended after the run");
        }
    }
    // Runs are recorded when they end; say that others are under way.
    if !a.csv && !g.quiet {
        let (total, running) = crate::run::active::count(&store.git_dir())?;
        if total > 0 {
            eprintln!("{total} run(s) not recorded yet ({running} running): `mlops runs active`");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn to_csv(headers: &[String], rows: &[Vec<String>]) -> String {
    let esc = |s: &str| {
        let s = if s == "—" { "" } else { s };
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = headers.iter().map(|h| esc(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

fn show(g: &Globals, a: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let id = query::resolve(&store, &a.run)?;
    let view = query::show(&store, &id)?;
    if g.json {
        print_json(&view)?;
        return Ok(ExitCode::SUCCESS);
    }
    let r = &view.run;
    crate::outln!("run         {}", r.run_id);
    if let Some(n) = &r.name {
        crate::outln!("name        {n}");
    }
    crate::outln!("experiment  {}", r.experiment);
    crate::outln!(
        "status      {}{}",
        r.status.as_str(),
        match (r.exit_code, r.signal) {
            (_, Some(s)) => format!(" (signal {s})"),
            (Some(c), None) if c != 0 => format!(" (exit code {c})"),
            _ => String::new(),
        }
    );
    crate::outln!("started     {}  ({:.1}s)", r.started_at, r.duration_s);
    if r.command.is_empty() {
        crate::outln!("command     (not recorded: tracked with --no-command)");
    } else {
        crate::outln!("command     {}", r.command.join(" "));
    }
    if let Some(c) = &r.code {
        crate::outln!(
            "code        {}{}{}",
            c.commit
                .as_deref()
                .map(|s| &s[..s.len().min(12)])
                .unwrap_or("(no commit)"),
            c.branch
                .as_deref()
                .map(|b| format!(" on {b}"))
                .unwrap_or_default(),
            if c.dirty {
                " + uncommitted changes"
            } else {
                ""
            }
        );
    }
    crate::outln!("record      {}", view.id);
    if !r.params.is_empty() {
        crate::outln!("\nparams");
        for (k, v) in &r.params {
            crate::outln!(
                "  {k} = {}",
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            );
        }
    }
    if !r.metrics.is_empty() {
        crate::outln!("\nmetrics");
        let rows = r
            .metrics
            .iter()
            .map(|(k, m)| {
                let spark = view
                    .history
                    .get(k)
                    .map(|s| sparkline::sparkline(&s.value, 30))
                    .unwrap_or_default();
                vec![
                    k.clone(),
                    query::short_number(m.value),
                    format!("{:?}", m.rule).to_lowercase(),
                    query::short_number(m.min),
                    query::short_number(m.max),
                    m.count.to_string(),
                    spark,
                ]
            })
            .collect();
        crate::outln!(
            "{}",
            term::table(
                &["metric", "value", "rule", "min", "max", "steps", "history"],
                rows
            )
        );
    }
    if !r.inputs.is_empty() {
        crate::outln!("\ninputs");
        for i in &r.inputs {
            crate::outln!(
                "  {:<6} {} ({} files, {} bytes) {}",
                i.role,
                i.dataset.as_deref().unwrap_or(&i.path),
                i.files,
                i.bytes,
                i.version.as_deref().unwrap_or(&i.root)
            );
        }
    }
    if !r.artifacts.is_empty() {
        crate::outln!("\nartifacts");
        for f in &r.artifacts {
            crate::outln!("  {}  {}  {} bytes", f.sha256, f.path, f.size);
        }
    }
    if !r.tags.is_empty() {
        crate::outln!("\ntags");
        for (k, v) in &r.tags {
            crate::outln!("  {k} = {v}");
        }
    }
    if let Some(n) = &r.notes {
        crate::outln!("\nnotes\n  {n}");
    }
    for am in &view.amendments {
        crate::outln!("\namended {} by {}", am.created_at, am.actor);
        for (k, v) in &am.amendment.metrics {
            crate::outln!("  metric {k} = {}", query::short_number(*v));
        }
        for (k, v) in &am.amendment.tags {
            crate::outln!("  tag {k} = {v}");
        }
        if let Some(n) = &am.amendment.note {
            crate::outln!("  note: {n}");
        }
    }
    if !r.redacted.is_empty() {
        crate::outln!("\nredacted before recording: {}", r.redacted.join(", "));
    }
    for w in &r.warnings {
        crate::outln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(g: &Globals, a: CompareArgs) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let ids: Vec<String> = a
        .runs
        .iter()
        .map(|p| query::resolve(&store, p))
        .collect::<Result<_, _>>()?;
    let all = index::rows(&store)?;
    let rows: Vec<index::Row> = ids
        .iter()
        .filter_map(|id| all.iter().find(|r| &r.run_id == id).cloned())
        .collect();
    let mut c = query::compare(&rows);
    if !a.all {
        c.params.retain(|r| r.differs);
        c.metrics
            .retain(|r| r.differs || r.values.iter().any(Option::is_none));
    }
    if g.json {
        print_json(&c)?;
    } else if a.md {
        crate::out!("{}", query::compare_markdown(&c));
    } else {
        let mut headers = vec!["".to_string()];
        headers.extend(
            c.runs
                .iter()
                .zip(&c.names)
                .map(|(id, n)| n.clone().unwrap_or_else(|| id.clone())),
        );
        let mut rows = Vec::new();
        for (section, list) in [("params", &c.params), ("metrics", &c.metrics)] {
            for r in list {
                let mut row = vec![format!("{section}.{}", r.key)];
                for (i, v) in r.values.iter().enumerate() {
                    let text = match v {
                        None => "—".to_string(),
                        Some(serde_json::Value::Number(n)) => {
                            query::short_number(n.as_f64().unwrap_or(0.0))
                        }
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(o) => o.to_string(),
                    };
                    let delta = match (i, r.delta[i], r.delta_pct[i]) {
                        (0, _, _) => String::new(),
                        (_, Some(d), p) => format!(" (Δ {})", query::delta_text(d, p)),
                        _ => String::new(),
                    };
                    row.push(format!("{text}{delta}"));
                }
                rows.push(row);
            }
        }
        for s in &c.slices {
            let mut row = vec![format!("slices.{} by {}", s.metric, s.by)];
            row.extend((0..c.runs.len()).map(|i| s.cell(i)));
            rows.push(row);
        }
        if rows.is_empty() {
            crate::outln!("the runs have the same params and metrics (--all shows them)");
        } else {
            crate::outln!("{}", term::table(&headers, rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn amend(g: &Globals, a: AmendArgs) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let id = query::resolve(&store, &a.run)?;
    let mut metrics = BTreeMap::new();
    for s in &a.metrics {
        let (k, x) = params::parse_metric("--metric", s)?;
        metrics.insert(k, x);
    }
    let mut tags = BTreeMap::new();
    for s in &a.tags {
        let (k, v) = params::parse_tag("--tag", s)?;
        tags.insert(k, v);
    }
    let record = crate::run::track::amend(
        &store,
        &id,
        crate::run::record::Amendment {
            run_id: id.clone(),
            metrics,
            tags,
            note: a.note,
            redacted: Vec::new(),
        },
    )?;
    if g.json {
        print_json(&serde_json::json!({"run": id, "id": record.id()}))?;
    } else if !g.quiet {
        crate::outln!("amended run {id}: {}", record.id());
    }
    Ok(ExitCode::SUCCESS)
}

fn active(g: &Globals, a: ActiveArgs) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let config = crate::config::Config::load(&store.root())?;
    let runs = crate::run::active::list(&store.git_dir(), &config.tracking.summary)?;
    let pruned = if a.prune {
        crate::run::active::prune(&runs)?
    } else {
        Vec::new()
    };
    if g.json {
        print_json(&serde_json::json!({"runs": runs, "pruned": pruned}))?;
        return Ok(ExitCode::SUCCESS);
    }
    if g.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        crate::outln!("no active runs");
        return Ok(ExitCode::SUCCESS);
    }
    let rows = runs
        .iter()
        .map(|r| {
            let metrics = r
                .metrics
                .iter()
                .map(|(k, m)| format!("{k}={}", query::short_number(m.last)))
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                r.marker.run_id.clone(),
                r.marker.name.clone().unwrap_or_default(),
                r.marker.experiment.clone(),
                r.status.to_string(),
                r.marker.started_at.clone(),
                r.points.to_string(),
                metrics,
            ]
        })
        .collect();
    crate::outln!(
        "{}",
        term::table(
            &[
                "run",
                "name",
                "experiment",
                "status",
                "started",
                "points",
                "latest metrics"
            ],
            rows
        )
    );
    for id in &pruned {
        crate::outln!("removed the work files of interrupted run {id}");
    }
    Ok(ExitCode::SUCCESS)
}
