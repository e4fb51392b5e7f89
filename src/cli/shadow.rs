//! `mlops shadow`: compare a challenger with the champion on the same (or
//! split) traffic; exit 1 when the champion stage's `shadow` gate fails.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::config::Config;
use crate::markdown::escape;
use crate::registry::shadow_record::{MetricComparison, ShadowComparison};
use crate::registry::spec;
use crate::run::query::short_number as num;
use crate::shadow::{ShadowOptions, ShadowOutcome};
use crate::term;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The challenger: `name@version` (or `name@<stage>`, `name@sha256:<record>`).
    spec: String,
    /// The champion: `@<stage>` or a version of the same model.
    #[arg(long, default_value = "@production", value_name = "@STAGE|VERSION")]
    against: String,
    /// The champion's and the challenger's predictions (CSV, TSV, Parquet, NDJSON).
    #[arg(long, num_args = 2, value_names = ["CHAMPION", "CHALLENGER"], required = true)]
    predictions: Vec<PathBuf>,
    /// The column both files (and the labels) are joined on.
    #[arg(long, value_name = "COL")]
    key: String,
    /// Labels by key: each metric for both models, with a confidence interval.
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// The prediction column of both predictions files.
    #[arg(long, default_value = "prediction", value_name = "COL")]
    prediction: String,
    /// The label column of the labels file.
    #[arg(long, default_value = "label", value_name = "COL")]
    label: String,
    /// Metrics to compare (accuracy, precision, recall, f1, auc, rmse, mae);
    /// repeatable or comma-separated. Default: the model's recorded ones.
    #[arg(long = "metric", value_name = "M", value_delimiter = ',')]
    metrics: Vec<String>,
    /// Metrics per value of this column (labels or predictions file).
    #[arg(long, value_name = "COL")]
    slice: Option<String>,
    /// A/B split: each file is its arm's own traffic (keys need not overlap).
    #[arg(long)]
    ab: bool,
    /// Record nothing.
    #[arg(long)]
    no_record: bool,
    /// Output format.
    #[arg(long, default_value = "table", value_parser = ["table", "json", "md"])]
    format: String,
}

pub fn run(g: &Globals, a: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    // The gate is judged as `promote` will judge it: by the committed policy.
    let (policy, differs) = crate::registry::policy::Policy::committed(&store)?;
    if differs && !g.quiet {
        eprintln!(
            "note: {} differs from HEAD; the shadow gate is the committed one",
            crate::config::FILE_NAME
        );
    }
    let config: Config = policy.config;
    let challenger = spec::parse(&a.spec, None)?;
    let against = a.against.trim();
    let champion = match against.strip_prefix('@') {
        Some(rest) => spec::parse(&format!("{}@{rest}", challenger.model), None)?,
        None if against.contains('@') => spec::parse(against, None)?,
        None => spec::parse(&format!("{}@{against}", challenger.model), None)?,
    };
    if champion.model != challenger.model {
        return Err(crate::Error::invalid_with_hint(
            format!(
                "`--against {against}` names model `{}`, not `{}`",
                champion.model, challenger.model
            ),
            "the champion is a version of the same model: `--against @production` or `--against 1.2.0`",
        )
        .into());
    }
    let [champ, chall]: [PathBuf; 2] = a
        .predictions
        .iter()
        .map(|p| g.dir.join(p))
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| anyhow::anyhow!("`--predictions` takes two files"))?;
    let opts = ShadowOptions {
        model: challenger.model.clone(),
        challenger: challenger.selector,
        champion: champion.selector,
        predictions: [champ, chall],
        labels: a.labels.as_ref().map(|p| g.dir.join(p)),
        key: a.key.clone(),
        prediction: a.prediction.clone(),
        label: a.label.clone(),
        metrics: a.metrics.iter().map(|m| m.trim().to_string()).collect(),
        slice: a.slice.clone(),
        ab: a.ab,
        record: !a.no_record,
    };
    let outcome = crate::shadow::run(&store, &config, &opts)?;
    let format = if g.json { "json" } else { a.format.as_str() };
    match format {
        "json" => print_json(&outcome)?,
        "md" => crate::out!("{}", markdown(&outcome)),
        _ if g.quiet => crate::outln!(
            "{}",
            verdict(&outcome).unwrap_or_else(|| "no shadow gate for this stage".into())
        ),
        _ => crate::out!("{}", table(&outcome)),
    }
    Ok(if outcome.pass() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_else(|| "—".into())
}

fn signed(v: Option<f64>) -> String {
    match v {
        Some(d) if d > 0.0 => format!("+{}", num(d)),
        Some(d) => num(d),
        None => "—".into(),
    }
}

fn ci(m: &MetricComparison) -> String {
    m.ci.as_ref()
        .map(|c| format!("[{}, {}]", signed(Some(c.low)), signed(Some(c.high))))
        .unwrap_or_else(|| "—".into())
}

fn metric_rows(ms: &[MetricComparison]) -> Vec<Vec<String>> {
    ms.iter()
        .map(|m| {
            vec![
                m.metric.clone(),
                opt(m.champion),
                opt(m.challenger),
                signed(m.difference),
                ci(m),
                signed(m.worse_by),
                match m.challenger_rows {
                    Some(c) => format!("{} / {c}", m.rows),
                    None => m.rows.to_string(),
                },
            ]
        })
        .collect()
}

const HEADERS: [&str; 7] = [
    "metric",
    "champion",
    "challenger",
    "difference",
    "95% CI",
    "worse by",
    "rows",
];

/// The lines every format shares: who against whom, counts, agreement, shift.
fn facts(c: &ShadowComparison) -> Vec<String> {
    let mut out = vec![format!(
        "{} {}: challenger {} against champion {}{}, {} on `{}`",
        if c.mode == "ab" {
            "A/B comparison"
        } else {
            "shadow comparison"
        },
        c.model,
        c.challenger.version,
        c.champion.version,
        c.stage
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default(),
        if c.mode == "ab" {
            "each arm its own traffic"
        } else {
            "paired"
        },
        c.key
    )];
    let n = &c.counts;
    let mut rows = format!("rows: champion {}, challenger {}", n.champion, n.challenger);
    if let Some(j) = n.joined {
        rows.push_str(&format!(
            ", joined {j} (unmatched {} / {})",
            n.unmatched_champion.unwrap_or(0),
            n.unmatched_challenger.unwrap_or(0)
        ));
    }
    match (n.labelled_champion, n.labelled_challenger, c.mode.as_str()) {
        (Some(l), _, "shadow") => rows.push_str(&format!(", labelled {l}")),
        (Some(a), Some(b), _) => rows.push_str(&format!(", labelled {a} / {b}")),
        _ => {}
    }
    if n.without_key > 0 {
        rows.push_str(&format!(", {} without a key", n.without_key));
    }
    out.push(rows);
    if let Some(a) = &c.agreement {
        out.push(format!(
            "agreement: {:.1}% ({} of {} rows, same {})",
            a.rate * 100.0,
            a.agreeing,
            a.rows,
            if a.rule == "class" { "class" } else { "value" }
        ));
    }
    if let Some(s) = &c.shift {
        out.push(format!(
            "prediction shift ({}): {}{}",
            s.statistic,
            num(s.score),
            if s.drift { " — shifted" } else { "" }
        ));
    }
    out
}

fn verdict(o: &ShadowOutcome) -> Option<String> {
    o.gate.as_ref().map(|g| {
        format!(
            "gate {}: {} — {} (expected {})",
            g.gate,
            if g.pass { "PASS" } else { "FAIL" },
            g.actual,
            g.expected
        )
    })
}

fn table(o: &ShadowOutcome) -> String {
    let c = &o.comparison;
    let mut s = facts(c).join("\n");
    s.push('\n');
    if !c.metrics.is_empty() {
        s.push_str(&term::table(&HEADERS, metric_rows(&c.metrics)));
        s.push('\n');
    }
    if let Some(sl) = &c.slices {
        s.push_str(&format!(
            "by `{}` ({} slice(s) with fewer than {} rows not shown):\n",
            sl.column, sl.dropped, sl.k
        ));
        let (headers, rows) = slice_rows(sl);
        s.push_str(&term::table(&headers, rows));
        s.push('\n');
    }
    if let Some(id) = &o.record {
        s.push_str(&format!("recorded: {id}\n"));
    }
    s.push_str(&verdict(o).unwrap_or_else(|| "no shadow gate for this stage".into()));
    s.push('\n');
    s
}

/// The per-slice metric rows, for the table and the Markdown alike.
fn slice_rows(
    sl: &crate::registry::shadow_record::Slices,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut headers = vec!["slice"];
    headers.extend(HEADERS);
    let rows = sl
        .values
        .iter()
        .flat_map(|v| {
            metric_rows(&v.metrics).into_iter().map(|mut r| {
                r.insert(0, v.value.clone());
                r
            })
        })
        .collect();
    (headers, rows)
}

fn md_table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut s = format!(
        "| {} |\n|{}\n",
        headers.join(" | "),
        "---|".repeat(headers.len())
    );
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| escape(c)).collect();
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s
}

fn markdown(o: &ShadowOutcome) -> String {
    let c = &o.comparison;
    let mut s = format!(
        "## Shadow: `{}` {} vs {}\n\n",
        c.model, c.challenger.version, c.champion.version
    );
    for line in facts(c) {
        s.push_str(&format!("- {}\n", escape(&line)));
    }
    s.push('\n');
    if !c.metrics.is_empty() {
        s.push_str(&md_table(&HEADERS, metric_rows(&c.metrics)));
        s.push('\n');
    }
    if let Some(sl) = &c.slices {
        s.push_str(&format!(
            "By `{}` ({} slice(s) with fewer than {} rows not shown):\n\n",
            sl.column, sl.dropped, sl.k
        ));
        let (headers, rows) = slice_rows(sl);
        s.push_str(&md_table(&headers, rows));
        s.push('\n');
    }
    s.push_str(&format!(
        "**{}**\n",
        escape(&verdict(o).unwrap_or_else(|| "no shadow gate for this stage".into()))
    ));
    s
}
