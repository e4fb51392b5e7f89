//! Promotion requests (docs/ci.md): records live in `refs/mlops/*`, not in
//! a pull request's diff, so a pull request proposes a promotion by
//! committing a small file naming the exact version record and the stage.
//! The pull request's check evaluates the requests it changed; the merge
//! carries out exactly those — the record, not "latest", which may have
//! moved since the check.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gitcli;
use crate::registry::promote::model_state;
use crate::registry::spec::Selector;
use crate::store::Store;

/// Where requests are committed.
pub const DIR: &str = ".mlops/requests";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub model: String,
    pub stage: String,
    /// The version string, for reviewers; the record decides.
    pub version: String,
    pub version_record: String,
}

/// Writes `.mlops/requests/<model>-<stage>.json` for the version selected.
pub fn write(
    store: &Store,
    model: &str,
    selector: &Selector,
    stage: &str,
) -> Result<(String, Request)> {
    let state = model_state(store, model)?;
    let stages =
        crate::registry::gates::stages_of(crate::config::Config::load(&store.root())?.model(model));
    if !stages.iter().any(|s| s == stage) {
        return Err(Error::invalid_with_hint(
            format!("model `{model}` has no stage `{stage}`"),
            format!("its stages are {}", stages.join(", ")),
        ));
    }
    let v = state.resolve(selector)?;
    let request = Request {
        model: model.to_string(),
        stage: stage.to_string(),
        version: v.version.version.clone(),
        version_record: v.record.clone(),
    };
    let rel = format!("{DIR}/{model}-{stage}.json");
    let mut text = serde_json::to_string_pretty(&request).expect("a request serialises");
    text.push('\n');
    let path = store.root().join(&rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create `{DIR}`"), e))?;
    }
    crate::templates::write_atomically(&path, text.as_bytes())
        .map_err(|e| Error::io(format!("cannot write `{rel}`"), e))?;
    Ok((rel, request))
}

fn read(root: &Path, rel: &str) -> Result<Request> {
    let bytes =
        std::fs::read(root.join(rel)).map_err(|e| Error::io(format!("cannot read `{rel}`"), e))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::invalid_with_hint(
            format!("`{rel}` is not a promotion request: {e}"),
            "write it with `mlops promote <model>@<version> --to <stage> --request`",
        )
    })
}

/// The requests changed between `since` and `HEAD` (added or modified, in
/// name order), or every request when `since` is `None`.
pub fn changed(store: &Store, since: Option<&str>) -> Result<Vec<Request>> {
    let root = store.root();
    let names: Vec<String> = match since {
        Some(rev) => {
            if store.db().resolve_rev(rev)?.is_none() {
                return Err(Error::invalid_with_hint(
                    format!("`--since {rev}` names no commit"),
                    "fetch the base branch first (actions/checkout with fetch-depth: 0)",
                ));
            }
            gitcli::output(
                &root,
                &[
                    "diff",
                    "--name-only",
                    "--diff-filter=AM",
                    rev,
                    "HEAD",
                    "--",
                    DIR,
                ],
            )?
            .lines()
            .map(str::to_string)
            .collect()
        }
        None => match std::fs::read_dir(root.join(DIR)) {
            Ok(d) => d
                .filter_map(|e| e.ok())
                .map(|e| format!("{DIR}/{}", e.file_name().to_string_lossy()))
                .collect(),
            Err(_) => Vec::new(),
        },
    };
    let mut names: Vec<String> = names.into_iter().filter(|n| n.ends_with(".json")).collect();
    names.sort();
    names.iter().map(|n| read(&root, n)).collect()
}
