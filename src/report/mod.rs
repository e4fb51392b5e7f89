//! `mlops report`: a model's audit document rendered from templates —
//! `.mlops/templates/report.{md,html}.j2` in the user's repository when
//! present (installed by `mlops init`, theirs to edit), else the built-in
//! ones. HTML output is auto-escaped: a report is opened by regulators, and
//! every value in it came from a user.

pub mod charts;
mod explain;
pub mod frameworks;
pub mod pdf;
pub mod record;
pub mod sections;
mod view;

use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Store;

pub use view::{Report, Request};

const TEMPLATES: [&str; 2] = ["report.md.j2", "report.html.j2"];

/// The metric histories of the version's run, and each monitor's share of
/// drifted columns over its reports (with the dataset-drift threshold).
fn build_charts(config: &Config, report: &Report) -> Vec<charts::Chart> {
    let mut out = Vec::new();
    if let Some(run) = &report.run {
        for (metric, series) in run.history.iter().take(6) {
            let points: Vec<(f64, f64)> = series
                .value
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let step = series.step.get(i).copied().flatten().unwrap_or(i as i64);
                    (step as f64, *v)
                })
                .collect();
            out.extend(charts::line(
                &format!("{metric} during training (run {})", run.run_id),
                "step",
                metric,
                &points,
                None,
            ));
        }
    }
    for m in &report.monitoring {
        let mut rows: Vec<&crate::monitor::history::HistoryRow> = m.recent.iter().collect();
        rows.reverse();
        let points: Vec<(f64, f64)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| ((i + 1) as f64, r.share))
            .collect();
        out.extend(charts::line(
            &format!(
                "monitor {}: share of drifted columns, last {} reports",
                m.monitor,
                rows.len()
            ),
            "report",
            "drifted share",
            &points,
            Some(
                config
                    .monitors
                    .get(&m.monitor)
                    .and_then(|c| c.drift_share)
                    .unwrap_or(0.5),
            ),
        ));
    }
    out
}

/// The templates in use: the repository's override, else the built-in one.
fn template_texts(dir: &Path) -> Result<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    for name in TEMPLATES {
        let path = dir.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            // Only a template that is not there falls back to the built-in
            // one: an unreadable override is the user's to fix, not to skip.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::templates::builtin(&format!(".mlops/templates/{name}"))
                    .ok_or_else(|| Error::invalid(format!("no template `{name}`")))?
                    .to_string()
            }
            Err(e) => return Err(Error::io(format!("cannot read `{}`", path.display()), e)),
        };
        out.push((name, text));
    }
    Ok(out)
}

/// SHA-256 of each template in use, for the recorded report.
pub fn template_hashes(store: &Store, config: &Config) -> Result<Vec<(String, String)>> {
    use sha2::Digest;
    Ok(template_texts(&templates_dir(store, config))?
        .into_iter()
        .map(|(n, t)| {
            (
                n.to_string(),
                hex::encode(sha2::Sha256::digest(t.as_bytes())),
            )
        })
        .collect())
}

fn templates_dir(store: &Store, config: &Config) -> PathBuf {
    let root = store.root();
    config
        .report
        .templates
        .as_ref()
        .map(|d| root.join(d))
        .unwrap_or_else(|| root.join(".mlops/templates"))
}

/// Adds what needs the gathered facts: the verification of the refs read,
/// the re-check commands, the 24 sections and the framework matrices.
fn complete(store: &Store, config: &Config, req: &Request, report: &mut Report) -> Result<()> {
    let mut lines = Vec::new();
    let mut ok = true;
    for (refname, tip) in &report.integrity.refs {
        let Some(entity) = crate::store::Entity::from_refname(refname) else {
            continue;
        };
        let v = match crate::verify::verify(
            store,
            crate::verify::Options {
                only: Some(&entity),
                checkpoint: None,
                checkpoint_source: None,
            },
        ) {
            Ok(v) => v,
            Err(e) => {
                lines.push(format!("not checked {entity}: {e}"));
                continue;
            }
        };
        ok &= v.ok;
        for c in &v.entities {
            lines.push(format!(
                "{} {}: {} records, {} commits, head {}{}",
                if c.problems.is_empty() {
                    "ok"
                } else {
                    "ALTERED"
                },
                c.entity,
                c.records,
                c.commits,
                tip,
                if c.problems.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", c.problems.join("; "))
                }
            ));
        }
    }
    report.verified = ok;
    report.verification = lines.clone();
    report.recheck = report
        .integrity
        .refs
        .iter()
        .map(|(r, tip)| format!("test \"$(git rev-parse {r})\" = {tip}"))
        .chain(report.integrity.records.iter().take(200).map(|id| {
            let hex = id.trim_start_matches(crate::record::ID_PREFIX);
            format!(
                "git cat-file blob \"$(git ls-tree -r {} | grep {hex}.json | cut -f1 | cut -d' ' -f3)\" | sha256sum   # {hex}",
                report
                    .integrity
                    .refs
                    .first()
                    .map(|(r, _)| r.as_str())
                    .unwrap_or("HEAD")
            )
        }))
        .collect();
    let reqs = frameworks::requirements(&store.root(), &req.frameworks)?;
    let mut matrix_lines: Vec<String> = reqs
        .iter()
        .map(|(f, r)| {
            format!(
                "{f} — {}: sections {}",
                r.id,
                r.sections
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    if matrix_lines.is_empty() {
        matrix_lines.push(format!(
            "no framework chosen: `mlops report --framework` takes {}",
            frameworks::BUILT_IN.join(", ")
        ));
    }
    let mut integrity_lines = lines;
    integrity_lines.push(format!(
        "verification: {}",
        if ok {
            "every record hashes to its id and every history read is append-only"
        } else {
            "FAILED"
        }
    ));
    report.charts = build_charts(config, report);
    report.sections = sections::build(store, config, report, &integrity_lines, &matrix_lines)?;
    report.matrix = frameworks::matrix(&reqs, &report.sections);
    report.frameworks = req.frameworks.clone();
    let required: Vec<u8> = if reqs.is_empty() {
        (1..=24).collect()
    } else {
        let mut v: Vec<u8> = reqs
            .iter()
            .flat_map(|(_, r)| r.sections.iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    report.missing_required = report
        .sections
        .iter()
        .filter(|s| s.status == "MISSING" && required.contains(&s.number))
        .map(|s| s.number)
        .collect();
    Ok(())
}

/// Auto-escaping of `.md.j2` templates (with [`crate::markdown::escape`]),
/// as HTML's is for `.html.j2`: record values are user text.
const MARKDOWN: &str = "markdown";

/// Gathers the report's facts, renders both formats into `out` and returns
/// the files written with the facts (for `--json`).
pub fn write(
    store: &Store,
    config: &Config,
    req: &Request,
    out: &Path,
) -> Result<(Vec<PathBuf>, Report)> {
    let mut report = view::gather(store, config, req)?;
    complete(store, config, req, &mut report)?;
    report.document_id = {
        use sha2::Digest;
        let facts = serde_json::to_vec(&report).expect("the report serialises");
        hex::encode(sha2::Sha256::digest(&facts))
    };
    let ctx = minijinja::Value::from_serialize(&report);
    let dir = templates_dir(store, config);
    let template_error = |name: &str, e: minijinja::Error| {
        Error::invalid_with_hint(
            format!("template `{name}`: {e}"),
            "fix the template or delete it to use the built-in one",
        )
    };
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| match name.strip_suffix(".j2") {
        Some(n) if n.ends_with(".md") => AutoEscape::Custom(MARKDOWN),
        _ => minijinja::default_auto_escape_callback(name),
    });
    env.set_formatter(|out, state, value| match state.auto_escape() {
        AutoEscape::Custom(MARKDOWN) if !value.is_safe() => {
            out.write_str(&crate::markdown::escape(&value.to_string()))?;
            Ok(())
        }
        AutoEscape::Custom(MARKDOWN) => {
            out.write_str(&value.to_string())?;
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    for (name, text) in template_texts(&dir)? {
        env.add_template_owned(name.to_string(), text)
            .map_err(|e| template_error(name, e))?;
    }
    // Both documents are rendered before either is written: a broken
    // template leaves the previous report whole, not half replaced.
    let mut rendered = Vec::with_capacity(TEMPLATES.len());
    for name in TEMPLATES {
        let text = env
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| template_error(name, e))?;
        rendered.push((out.join(name.trim_end_matches(".j2")), text));
    }
    std::fs::create_dir_all(out)
        .map_err(|e| Error::io(format!("cannot create `{}`", out.display()), e))?;
    let mut written = Vec::new();
    // The evidence bundle, beside the documents.
    let mut json = serde_json::to_vec_pretty(&report).expect("the report serialises");
    json.push(b'\n');
    rendered.push((
        out.join("report.json"),
        String::from_utf8(json).expect("JSON is UTF-8"),
    ));
    for (file, text) in rendered {
        crate::templates::write_atomically(&file, text.as_bytes())
            .map_err(|e| Error::io(format!("cannot write `{}`", file.display()), e))?;
        written.push(file);
    }
    Ok((written, report))
}
