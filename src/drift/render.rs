//! Renderers for a drift [`Report`]: rows for the terminal table, Markdown for pull-request
//! comments and CI step summaries, and one self-contained HTML page (inline CSS and SVG, no
//! script, no external asset) with a reference-vs-current chart per column drawn from the same
//! binning the tests used. Every user-supplied string (column names, category values, reasons)
//! goes through [`escape`]: reports are opened by reviewers and regulators.

use std::fmt::Write;

use super::report::{short, Chart, ColumnResult, Finding, Report};
use crate::markdown::escape as md;

/// Header of [`table_rows`].
pub const TABLE_HEADER: [&str; 6] = ["column", "type", "test", "score", "threshold", "drift"];

/// HTML-escape text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn verdict_cell(c: &ColumnResult) -> String {
    match (&c.not_tested, c.drift) {
        (_, true) => "DRIFT".into(),
        (Some(_), false) => "not tested".into(),
        (None, false) => "ok".into(),
    }
}

fn opt(x: Option<f64>) -> String {
    x.map(short).unwrap_or_else(|| "–".into())
}

/// One row per column: column, type, test, score, threshold, drift.
pub fn table_rows(report: &Report) -> Vec<Vec<String>> {
    report
        .columns
        .iter()
        .map(|c| {
            vec![
                c.column.clone(),
                c.kind.as_str().to_string(),
                c.test
                    .map(|t| t.name().to_string())
                    .unwrap_or_else(|| "–".into()),
                opt(c.score),
                opt(c.threshold),
                verdict_cell(c),
            ]
        })
        .collect()
}

/// One line per verdict: dataset drift or not, with the share.
pub fn verdict(report: &Report) -> String {
    let pct = |x: f64| format!("{}%", short(x * 100.0));
    if report.dataset_drift {
        format!(
            "Dataset drift: {} of {} tested columns drifted ({}, threshold {})",
            report.drifted,
            report.tested,
            pct(report.share),
            pct(report.drift_share)
        )
    } else {
        format!(
            "No dataset drift: {} of {} tested columns drifted ({}, threshold {})",
            report.drifted,
            report.tested,
            pct(report.share),
            pct(report.drift_share)
        )
    }
}

/// A finding as one plain-text sentence (not escaped).
pub fn finding_text(f: &Finding) -> String {
    match f {
        Finding::DatasetDrift { share, drift_share } => format!(
            "dataset drift: {}% of tested columns drifted (threshold {}%)",
            short(share * 100.0),
            short(drift_share * 100.0)
        ),
        Finding::NothingTested => "no column could be tested".into(),
        Finding::MissingColumn { column } => {
            format!("column `{column}` is missing from the current data")
        }
        Finding::NewColumn { column } => {
            format!("column `{column}` is new in the current data (not tested)")
        }
        Finding::Retyped {
            column,
            reference,
            current,
        } => format!("column `{column}` changed type: {reference} → {current}"),
        Finding::NotTested { column, reason } => {
            format!("column `{column}` not tested: {reason}")
        }
        Finding::NullShare {
            column,
            reference,
            current,
        } => format!(
            "column `{column}`: missing or non-finite values (null, NaN, ±inf) {}% → {}%",
            short(reference * 100.0),
            short(current * 100.0)
        ),
        Finding::UnseenCategories {
            column,
            values,
            rows,
            examples,
        } => format!(
            "column `{column}`: {values} categories unseen in the reference ({rows} rows), e.g. {}",
            examples
                .iter()
                .take(5)
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Finding::OutOfRange {
            column,
            below,
            above,
            share,
        } => format!(
            "column `{column}`: {} values outside the reference range ({below} below, {above} above; {}%)",
            below + above,
            short(share * 100.0)
        ),
        Finding::Psi {
            column,
            score,
            band,
        } => format!(
            "column `{column}`: PSI {} ({})",
            short(*score),
            match band {
                super::stats::PsiBand::Stable => "stable",
                super::stats::PsiBand::Watch => "watch: 0.1–0.25",
                super::stats::PsiBand::Act => "act: ≥ 0.25",
            }
        ),
        Finding::Degradation {
            metric,
            reference,
            current,
            degradation,
            max_degradation,
        } => format!(
            "model quality degraded: {metric} {} → {} (worse by {}, allowed {})",
            short(*reference),
            short(*current),
            short(*degradation),
            short(*max_degradation)
        ),
    }
}

/// Markdown: a verdict line, the table, the findings.
pub fn markdown(report: &Report) -> String {
    let mut s = String::new();
    let mark = if report.dataset_drift { "🔴" } else { "🟢" };
    let _ = writeln!(s, "**{mark} {}**\n", verdict(report));
    let _ = writeln!(
        s,
        "Reference: {} rows ({}), current: {} rows.\n",
        report.rows.0, report.reference_kind, report.rows.1
    );
    let _ = writeln!(s, "| {} | PSI |", TABLE_HEADER.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(TABLE_HEADER.len() + 1));
    for (c, row) in report.columns.iter().zip(table_rows(report)) {
        let mut cells: Vec<String> = row.iter().map(|x| md(x)).collect();
        if c.drift {
            cells[5] = "**DRIFT**".into();
        }
        let psi = c
            .psi
            .as_ref()
            .map(|p| short(p.score))
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(s, "| {} | {psi} |", cells.join(" | "));
    }
    if !report.findings.is_empty() {
        let _ = writeln!(s, "\n**Findings**\n");
        for f in &report.findings {
            let _ = writeln!(s, "- {}", md(&finding_text(f)));
        }
    }
    if let Some(p) = &report.performance {
        let _ = writeln!(
            s,
            "\nModel quality ({}): current {}, recorded {}.",
            md(&p.metric),
            opt(p.current),
            opt(p.reference)
        );
    }
    s
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}\
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}\
.drift{color:#b00020;font-weight:bold}.ok{color:#1b5e20}.muted{color:#777}\
.verdict{font-size:1.2rem;padding:.5rem 1rem;border-radius:4px}\
table.about th{background:#f4f4f4}code{font-size:12px;word-break:break-all}\
@page{size:A4;margin:15mm}@media print{body{margin:0}.card,svg,tr{break-inside:avoid}thead{display:table-header-group}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\
.verdict.bad{background:#fde7e9}.verdict.good{background:#e8f5e9}\
.cards{display:flex;flex-wrap:wrap;gap:1rem}.card{border:1px solid #ddd;border-radius:4px;padding:.5rem;width:340px}\
.card h3{margin:.2rem 0;font-size:1rem;word-break:break-all}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 8px}";

/// One self-contained HTML page.
/// What a drift report is about, for its header: a page handed on alone
/// must say which monitor, model and files it compared, and which record it is.
#[derive(Debug, Default)]
pub struct Provenance {
    pub monitor: String,
    pub model: Option<String>,
    /// `(path, sha256)` of the reference files (a dataset's or a profile's).
    pub reference: Vec<(String, String)>,
    pub current: Vec<(String, String)>,
    pub record: Option<String>,
    pub tool: String,
    pub generated_at: String,
}

pub fn html(report: &Report) -> String {
    html_with(report, None)
}

pub fn html_with(report: &Report, about: Option<&Provenance>) -> String {
    render_template(report, about, None).unwrap_or_else(|e| {
        // The built-in template cannot fail to render; an override can,
        // and the caller that passes one reports it.
        format!(
            "<!DOCTYPE html><p>drift template error: {}</p>",
            escape(&e.to_string())
        )
    })
}

/// Renders `drift.html.j2` — the repository's (in `dir`, the report
/// templates' folder) or the built-in one — with the report's parts, so a
/// team adds its header, disclaimers or styles as it does for the audit
/// report. The parts are HTML made here (escaped); the template places them.
pub fn render_template(
    report: &Report,
    about: Option<&Provenance>,
    dir: Option<&std::path::Path>,
) -> Result<String, minijinja::Error> {
    const NAME: &str = "drift.html.j2";
    let text = dir
        .map(|d| d.join(NAME))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .or_else(|| crate::templates::builtin(".mlops/templates/drift.html.j2").map(str::to_string))
        .unwrap_or_default();
    let mut env = minijinja::Environment::new();
    env.add_template_owned(NAME.to_string(), text)?;
    let parts = parts(report, about);
    let safe = minijinja::Value::from_safe_string;
    let ctx = minijinja::context! {
        title => parts.title,
        style => safe(STYLE.to_string()),
        about => safe(parts.about),
        verdict => verdict(report),
        drifted => report.dataset_drift,
        rows => safe(parts.rows),
        table => safe(parts.table),
        findings => parts.findings.into_iter().map(safe).collect::<Vec<_>>(),
        quality => safe(parts.quality),
        columns => safe(parts.columns),
    };
    env.get_template(NAME)?.render(ctx)
}

struct Parts {
    title: String,
    about: String,
    rows: String,
    table: String,
    findings: Vec<String>,
    quality: String,
    columns: String,
}

fn parts(report: &Report, about: Option<&Provenance>) -> Parts {
    let title = about
        .map(|a| format!("Drift report: {}", a.monitor))
        .unwrap_or_else(|| "Drift report".into());
    let mut about_html = String::new();
    if let Some(a) = about {
        let s = &mut about_html;
        let _ = writeln!(s, "<table class=\"about\">");
        let row = |s: &mut String, k: &str, v: &str| {
            let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", escape(k), v);
        };
        row(s, "monitor", &escape(&a.monitor));
        row(s, "model", &escape(a.model.as_deref().unwrap_or("—")));
        for (k, files) in [("reference", &a.reference), ("current", &a.current)] {
            let v = files
                .iter()
                .map(|(p, h)| {
                    format!(
                        "<code>{}</code> sha256 <code>{}</code>",
                        escape(p),
                        escape(h)
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>");
            row(s, k, &v);
        }
        row(
            s,
            "record",
            &a.record
                .as_deref()
                .map(|r| format!("<code>{}</code>", escape(r)))
                .unwrap_or_else(|| "not recorded (--no-record)".into()),
        );
        row(
            s,
            "generated",
            &escape(&format!("{} by {}", a.generated_at, a.tool)),
        );
        let _ = writeln!(s, "</table>");
    }
    let rows_html = format!(
        "Reference: {} rows ({}); current: {} rows.",
        report.rows.0,
        escape(report.reference_kind),
        report.rows.1
    );
    let mut table_html = String::new();
    {
        let s = &mut table_html;
        let _ = writeln!(s, "<table><thead><tr>");
        for h in TABLE_HEADER
            .iter()
            .chain(["PSI", "missing ref → cur"].iter())
        {
            let _ = write!(s, "<th>{}</th>", escape(h));
        }
        let _ = writeln!(s, "</tr></thead><tbody>");
        for (c, row) in report.columns.iter().zip(table_rows(report)) {
            let _ = write!(s, "<tr>");
            for (i, cell) in row.iter().enumerate() {
                let cls = match (i, c.drift, &c.not_tested) {
                    (5, true, _) => " class=\"drift\"",
                    (5, false, None) => " class=\"ok\"",
                    (5, _, Some(_)) => " class=\"muted\"",
                    _ => "",
                };
                let title = match (i, &c.not_tested) {
                    (5, Some(r)) => format!(" title=\"{}\"", escape(r)),
                    _ => String::new(),
                };
                let _ = write!(s, "<td{cls}{title}>{}</td>", escape(cell));
            }
            let psi = c
                .psi
                .as_ref()
                .map(|p| short(p.score))
                .unwrap_or_else(|| "–".into());
            let pct = |x: Option<f64>| {
                x.map(|v| format!("{}%", short(v * 100.0)))
                    .unwrap_or_else(|| "–".into())
            };
            let _ = writeln!(
                s,
                "<td>{}</td><td>{} → {}</td></tr>",
                escape(&psi),
                pct(c.null_share.reference),
                pct(c.null_share.current)
            );
        }
        let _ = writeln!(s, "</tbody></table>");
    }
    let findings: Vec<String> = report
        .findings
        .iter()
        .map(|f| code_spans(&finding_text(f)))
        .collect();
    let mut quality_html = String::new();
    if let Some(p) = &report.performance {
        let _ = writeln!(
            quality_html,
            "<h2>Model quality</h2><p>{} on {} rows: current {}, recorded {}{}</p>",
            escape(&p.metric),
            p.rows,
            opt(p.current),
            opt(p.reference),
            p.note
                .as_ref()
                .map(|n| format!(" ({})", escape(n)))
                .unwrap_or_default()
        );
    }
    let mut columns_html = String::new();
    let s = &mut columns_html;
    let _ = writeln!(
        s,
        "<h2>Columns</h2><p class=\"legend\"><span style=\"background:#5c7cfa\"></span>reference\
         <span style=\"background:#f08c00\"></span>current</p><div class=\"cards\">"
    );
    for c in &report.columns {
        let _ = writeln!(s, "<div class=\"card\"><h3>{}</h3>", escape(&c.column));
        let what = match (&c.not_tested, c.test) {
            (Some(r), _) => format!("not tested: {r}"),
            (None, Some(t)) => format!(
                "{} {} = {} (threshold {}){}",
                c.kind.as_str(),
                t.name(),
                opt(c.score),
                opt(c.threshold),
                if c.drift { " — drift" } else { "" }
            ),
            _ => String::new(),
        };
        let _ = writeln!(s, "<p class=\"muted\">{}</p>", escape(&what));
        if let Some(src) = &c.from_profile {
            let mut note = format!("reference from profile: {}", src.method);
            if let Some(sub) = &src.substituted {
                let _ = write!(note, "; {}", sub.reason);
            }
            let _ = writeln!(s, "<p class=\"muted\">{}</p>", escape(&note));
        }
        if let Some(chart) = &c.chart {
            s.push_str(&svg(chart));
        }
        let _ = writeln!(s, "</div>");
    }
    let _ = writeln!(s, "</div>");
    Parts {
        title,
        about: about_html,
        rows: rows_html,
        table: table_html,
        findings,
        quality: quality_html,
        columns: columns_html,
    }
}

/// Inline SVG bars: reference and current share per bin.
/// A finding's Markdown code spans (`column`) as `<code>`, everything
/// escaped: findings read the same in the Markdown and the HTML report.
fn code_spans(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return escape(text);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", escape(p))
            } else {
                escape(p)
            }
        })
        .collect()
}

fn svg(chart: &Chart) -> String {
    // Plot area right of a y-axis (share of rows, %), above the x labels:
    // numeric bins show the range's ends, categories their full label,
    // slanted so long ones still fit.
    const LEFT: f64 = 38.0;
    const W: f64 = 320.0;
    const H: f64 = 110.0;
    const TOP: f64 = 6.0;
    let bottom: f64 = if chart.numeric {
        24.0
    } else {
        let longest = chart
            .bins
            .iter()
            .map(|b| b.label.chars().count())
            .max()
            .unwrap_or(1);
        (longest.min(40) as f64 * 4.2 + 14.0).max(24.0)
    };
    let n = chart.bins.len().max(1) as f64;
    let max = chart
        .bins
        .iter()
        .map(|b| b.reference.max(b.current))
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let slot = W / n;
    let bar = (slot * 0.45).max(0.5);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\">",
        LEFT + W + 4.0,
        TOP + H + bottom
    );
    // The y-axis: 0, half and the top, as a share of rows.
    for k in 0..=2 {
        let v = max * k as f64 / 2.0;
        let y = TOP + H - v / max * H;
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.2}\" x2=\"{}\" y2=\"{y:.2}\" stroke=\"#eee\"/>\
             <text x=\"{}\" y=\"{:.2}\" font-size=\"9\" text-anchor=\"end\">{}%</text>",
            LEFT + W,
            LEFT - 3.0,
            y + 3.0,
            short(v * 100.0)
        );
    }
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{}\" stroke=\"#999\"/>",
        TOP + H
    );
    for (i, b) in chart.bins.iter().enumerate() {
        let x = LEFT + i as f64 * slot;
        for (k, (v, color)) in [(b.reference, "#5c7cfa"), (b.current, "#f08c00")]
            .into_iter()
            .enumerate()
        {
            let h = v / max * H;
            let _ = write!(
                s,
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{bar:.2}\" height=\"{h:.2}\" fill=\"{color}\">\
                 <title>{}: {} {}%</title></rect>",
                x + k as f64 * bar,
                TOP + H - h,
                escape(&b.label),
                if k == 0 { "reference" } else { "current" },
                short(v * 100.0)
            );
        }
    }
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>",
        TOP + H,
        LEFT + W,
        TOP + H
    );
    if chart.numeric {
        if let (Some(first), Some(last)) = (chart.bins.first(), chart.bins.last()) {
            let lo = first.label.split(" – ").next().unwrap_or("");
            let hi = last.label.split(" – ").last().unwrap_or("");
            let _ = write!(
                s,
                "<text x=\"{LEFT}\" y=\"{}\" font-size=\"10\">{}</text>\
                 <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
                TOP + H + 14.0,
                escape(lo),
                LEFT + W,
                TOP + H + 14.0,
                escape(hi)
            );
        }
    } else {
        for (i, b) in chart.bins.iter().enumerate() {
            let x = LEFT + i as f64 * slot + slot / 2.0;
            let y = TOP + H + 10.0;
            let _ = write!(
                s,
                "<text x=\"{x:.2}\" y=\"{y:.2}\" font-size=\"8\" text-anchor=\"end\" transform=\"rotate(-40 {x:.2} {y:.2})\">{}</text>",
                escape(&b.label)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_show_code_spans_and_stay_escaped() {
        assert_eq!(
            code_spans("column `<b>`: 3 values"),
            "column <code>&lt;b&gt;</code>: 3 values"
        );
        assert_eq!(code_spans("odd ` tick"), "odd ` tick");
    }

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<script>alert('x & \"y\"')</script>"),
            "&lt;script&gt;alert(&#39;x &amp; &quot;y&quot;&#39;)&lt;/script&gt;"
        );
        assert_eq!(md("a|b<i>"), "a\\|b&lt;i&gt;");
    }
}
