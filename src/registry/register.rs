//! `mlops model register`: a version of a model, linked to the run that made
//! it, with the artifacts' hashes and the run's metrics and data copied in so
//! the version can be audited on its own.

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::record::{Draft, Record};
use crate::registry::records::{Inventory, ModelVersion, SCHEMA, VERSION};
use crate::registry::state::{semver_of, ModelState};
use crate::run::record::{Artifact, RunRecord};
use crate::store::{Entity, EntityKind, Store};

#[derive(Debug, Clone, Copy)]
pub enum Bump {
    Major,
    Minor,
    Patch,
}

pub struct RegisterOptions {
    pub model: String,
    pub run: Option<String>,
    pub artifacts: Vec<PathBuf>,
    pub version: Option<String>,
    pub bump: Option<Bump>,
    pub description: Option<String>,
    pub cwd: PathBuf,
    /// `--allow-outside`: artifacts may lead out of the repository.
    pub allow_outside: bool,
}

pub fn next_version(state: &ModelState, bump: Bump) -> semver::Version {
    match state
        .versions
        .iter()
        .map(|v| semver_of(&v.version.version))
        .max()
    {
        None => semver::Version::new(0, 1, 0),
        Some(v) => match bump {
            Bump::Major => semver::Version::new(v.major + 1, 0, 0),
            Bump::Minor => semver::Version::new(v.major, v.minor + 1, 0),
            Bump::Patch => semver::Version::new(v.major, v.minor, v.patch + 1),
        },
    }
}

pub fn register(
    store: &Store,
    config: &Config,
    opts: RegisterOptions,
) -> Result<(Record, ModelVersion)> {
    let entity = Entity::new(EntityKind::Model, &opts.model)?;
    let run: Option<(String, RunRecord)> = match &opts.run {
        Some(id) => {
            let run_id = crate::run::query::resolve(store, id)?;
            let view = crate::run::query::show(store, &run_id)?;
            Some((view.id, view.run))
        }
        None => None,
    };
    if run.is_none() && opts.artifacts.is_empty() {
        return Err(Error::invalid_with_hint(
            "a model version needs a run or an artifact",
            "pass `--run <run-id>` and/or `--artifact <path>`",
        ));
    }
    let root = store.root();
    let mut artifacts: Vec<Artifact> = Vec::new();
    for p in &opts.artifacts {
        artifacts.extend(hash_artifact(&opts.cwd, &root, p, opts.allow_outside)?);
    }
    if artifacts.is_empty() {
        if let Some((_, r)) = &run {
            artifacts = r.artifacts.clone();
        }
    }
    let explicit = match &opts.version {
        Some(v) => Some(
            semver::Version::parse(v.strip_prefix('v').unwrap_or(v)).map_err(|_| {
                Error::invalid_with_hint(
                    format!("`--version {v}` is not a semantic version"),
                    "versions look like `1.4.0`",
                )
            })?,
        ),
        None => None,
    };
    let inventory = Inventory::from_config(config.model(&opts.model));
    let mut chosen = String::new();
    let record = store.append(&entity, |tip| {
        let state = ModelState::from_history(&opts.model, &tip.history()?)?;
        let version = match &explicit {
            Some(v) => {
                if state
                    .versions
                    .iter()
                    .any(|i| i.version.version == v.to_string())
                {
                    return Err(Error::invalid_with_hint(
                        format!("model `{}` already has version `{v}`", opts.model),
                        "versions are immutable: register a new one (`--bump patch`)",
                    ));
                }
                v.clone()
            }
            None => next_version(&state, opts.bump.unwrap_or(Bump::Minor)),
        };
        chosen = version.to_string();
        let body = ModelVersion {
            model: opts.model.clone(),
            version: version.to_string(),
            run_id: run.as_ref().map(|(_, r)| r.run_id.clone()),
            run_record: run.as_ref().map(|(id, _)| id.clone()),
            artifacts: artifacts.clone(),
            metrics: run
                .as_ref()
                .map(|(_, r)| {
                    r.metrics
                        .iter()
                        .map(|(k, m)| (k.clone(), m.value))
                        .collect()
                })
                .unwrap_or_default(),
            datasets: run
                .as_ref()
                .map(|(_, r)| r.inputs.clone())
                .unwrap_or_default(),
            code_commit: run
                .as_ref()
                .and_then(|(_, r)| r.code.as_ref().and_then(|c| c.commit.clone())),
            inventory: inventory.clone(),
            description: opts.description.as_deref().map(crate::redact::free_text),
        };
        Draft::new(
            VERSION,
            SCHEMA,
            format!("register {}@{version}", opts.model),
        )
        .with_body(&body)
        .map(ControlFlow::<Infallible, _>::Continue)
    })?;
    let ControlFlow::Continue(record) = record;
    let body: ModelVersion = record.parse()?;
    debug_assert_eq!(body.version, chosen);
    Ok((record, body))
}

fn hash_artifact(cwd: &Path, root: &Path, p: &Path, allow_outside: bool) -> Result<Vec<Artifact>> {
    crate::run::artifacts::hash(cwd, root, p, allow_outside)?.ok_or_else(|| {
        Error::invalid_with_hint(
            format!("artifact `{}` does not exist", p.display()),
            "pass the path of the model file or folder",
        )
    })
}
