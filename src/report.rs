//! `mlops report`: a model's audit document rendered from templates —
//! `.mlops/templates/report.{md,html}.j2` in the user's repository when
//! present (installed by `mlops init`, theirs to edit), else the built-in
//! ones. HTML output is auto-escaped: a report is opened by regulators, and
//! every value in it came from a user.

use std::path::{Path, PathBuf};

use minijinja::Environment;
use serde::Serialize;

use crate::config::Config;
use crate::context;
use crate::error::{Error, Result};
use crate::registry::promote::model_state;
use crate::registry::records::Inventory;
use crate::registry::spec::Selector;
use crate::store::{Entity, EntityKind, Store};

const TEMPLATES: [&str; 2] = ["report.md.j2", "report.html.j2"];

#[derive(Serialize)]
struct ModelView {
    name: String,
    #[serde(flatten)]
    inventory: Inventory,
}

#[derive(Serialize)]
struct EventView {
    created_at: String,
    actor: String,
    kind: String,
    summary: String,
    id: String,
}

/// Renders both formats into `out` and returns the files written.
/// `selector` picks one version to feature; `None` reports the whole model.
pub fn write(
    store: &Store,
    config: &Config,
    model: &str,
    selector: Option<&Selector>,
    out: &Path,
) -> Result<Vec<PathBuf>> {
    let state = model_state(store, model)?;
    let version = selector.map(|sel| state.resolve(sel)).transpose()?;
    let history = store.history(&Entity::new(EntityKind::Model, model)?)?;
    let events: Vec<EventView> = history
        .records
        .iter()
        .map(|r| EventView {
            created_at: r.created_at().to_string(),
            actor: r.actor().to_string(),
            kind: r.kind().to_string(),
            summary: r.summary().to_string(),
            id: r.id().to_string(),
        })
        .collect();
    let ctx = minijinja::context! {
        model => ModelView { name: model.to_string(), inventory: Inventory::from_config(config.model(model)) },
        version => version.map(|v| &v.version),
        stages => &state.stages,
        versions => &state.versions,
        events => events,
        generated_at => context::now_timestamp(),
        tool => context::tool_version(),
        repository => store.root().display().to_string(),
    };
    let root = store.root();
    let dir = config
        .report
        .templates
        .as_ref()
        .map(|d| root.join(d))
        .unwrap_or_else(|| root.join(".mlops/templates"));
    let mut env = Environment::new();
    for name in TEMPLATES {
        let text = match std::fs::read_to_string(dir.join(name)) {
            Ok(t) => t,
            Err(_) => crate::templates::builtin(&format!(".mlops/templates/{name}"))
                .ok_or_else(|| Error::invalid(format!("no template `{name}`")))?
                .to_string(),
        };
        env.add_template_owned(name.to_string(), text)
            .map_err(|e| {
                Error::invalid_with_hint(
                    format!("template `{name}`: {e}"),
                    "fix the template or delete it to use the built-in one",
                )
            })?;
    }
    std::fs::create_dir_all(out)
        .map_err(|e| Error::io(format!("cannot create `{}`", out.display()), e))?;
    let mut written = Vec::new();
    for name in TEMPLATES {
        let rendered = env
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| {
                Error::invalid_with_hint(
                    format!("template `{name}`: {e}"),
                    "fix the template or delete it to use the built-in one",
                )
            })?;
        let file = out.join(name.trim_end_matches(".j2"));
        crate::templates::write_atomically(&file, rendered.as_bytes())
            .map_err(|e| Error::io(format!("cannot write `{}`", file.display()), e))?;
        written.push(file);
    }
    Ok(written)
}
