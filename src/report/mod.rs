//! `mlops report`: a model's audit document rendered from templates —
//! `.mlops/templates/report.{md,html}.j2` in the user's repository when
//! present (installed by `mlops init`, theirs to edit), else the built-in
//! ones. HTML output is auto-escaped: a report is opened by regulators, and
//! every value in it came from a user.

mod explain;
mod view;

use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Store;

pub use view::{Report, Request};

const TEMPLATES: [&str; 2] = ["report.md.j2", "report.html.j2"];

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
    let report = view::gather(store, config, req)?;
    let ctx = minijinja::Value::from_serialize(&report);
    let root = store.root();
    let dir = config
        .report
        .templates
        .as_ref()
        .map(|d| root.join(d))
        .unwrap_or_else(|| root.join(".mlops/templates"));
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
    for (file, text) in rendered {
        crate::templates::write_atomically(&file, text.as_bytes())
            .map_err(|e| Error::io(format!("cannot write `{}`", file.display()), e))?;
        written.push(file);
    }
    Ok((written, report))
}
