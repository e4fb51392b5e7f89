//! The data a run reads (`mlops track --data`). A tracked dataset is recorded
//! by the version whose bytes are on disk when the run starts — if the files
//! changed since the last version, a new version is recorded first, so a run
//! can never point at data it did not see. An untracked path is hashed on the
//! fly and pinned in the run by its Merkle root.

use std::path::{Path, PathBuf};

use crate::dataset::lock::Lock;
use crate::dataset::{manifest, ops, version};
use crate::error::{Error, Result};
use crate::run::record::Input;
use crate::store::{Entity, EntityKind, Store};

/// Refuses, before any input records a dataset version, data whose files are,
/// or go through, symlinks out of the repository, unless `allow_outside`
/// (docs/privacy.md, "Paths"). Only a scan, no hashing; anything else wrong
/// with `spec` is left to [`resolve`] to tell.
pub fn check(store: &Store, cwd: &Path, spec: &str, allow_outside: bool) -> Result<()> {
    let root = store.root();
    let name = crate::names::validate(spec)
        .ok()
        .and_then(|_| Entity::new(EntityKind::Dataset, spec).ok())
        .filter(|e| store.exists(e).unwrap_or(false));
    let dataset = name.as_ref().map(|_| spec.to_string());
    let paths: Vec<PathBuf> = match name {
        Some(entity) => {
            let lock = match store.is_bare() {
                true => Lock::default(),
                false => Lock::load(&root)?,
            };
            match lock.datasets.get(spec) {
                Some(pin) => pin.paths.iter().map(|p| root.join(p)).collect(),
                None => match version::versions(&store.history(&entity)?)?.pop() {
                    Some(v) => v.body.paths.iter().map(|p| root.join(p)).collect(),
                    None => return Ok(()),
                },
            }
        }
        None if cwd.join(spec).exists() => vec![cwd.join(spec)],
        None => return Ok(()),
    };
    let options = crate::dataset::scan::Options { allow_outside };
    let scanned =
        crate::dataset::scan::scan_with_options(&root, &paths, options).map_err(ops::scan_error)?;
    // Nothing trains on data that breaks its contract (docs/monitoring.md).
    if let Some(dataset) = dataset {
        let config = crate::config::Config::load(&root)?;
        if let Some(c) = crate::dataset::contract::of(&config, &dataset) {
            let files: Vec<(PathBuf, String)> = scanned
                .files
                .iter()
                .map(|f| (f.abs_path.clone(), f.rel_path.clone()))
                .collect();
            let checked =
                crate::dataset::contract::Checked::of(crate::dataset::contract::check(&files, c)?)
                    .or_refuse(&dataset)?;
            for w in &checked.violations {
                eprintln!("warning: contract: {}", w.line());
            }
        }
    }
    Ok(())
}

/// `allow_outside` (`track --allow-outside`) lets the data's files be, or go
/// through, symlinks out of the repository, as `data add --allow-outside` does.
pub fn resolve(
    store: &Store,
    cwd: &Path,
    role: &str,
    spec: &str,
    allow_outside: bool,
    quiet: bool,
) -> Result<Input> {
    let root = store.root();
    let lock = if store.is_bare() {
        Lock::default()
    } else {
        Lock::load(&root)?
    };
    let as_dataset = crate::names::validate(spec).is_ok()
        && store.exists(&Entity::new(EntityKind::Dataset, spec)?)?;
    // A path: either the single path a pinned dataset was added from, or an
    // untracked input (`rel`, relative to the repository root).
    let (dataset_name, rel) = if as_dataset {
        (Some(spec.to_string()), String::new())
    } else {
        let abs = cwd.join(spec);
        if !abs.exists() {
            return Err(Error::invalid_with_hint(
                format!("`--data {spec}` is neither a tracked dataset nor an existing path"),
                "`mlops data list` shows the datasets",
            ));
        }
        let rel = ops::rel_to_root(&root, cwd, Path::new(spec));
        let pinned = lock
            .datasets
            .iter()
            .find(|(_, pin)| pin.paths.len() == 1 && pin.paths[0] == rel)
            .map(|(n, _)| n.clone());
        (pinned, rel)
    };
    match dataset_name {
        Some(name) => {
            let entity = Entity::new(EntityKind::Dataset, &name)?;
            let history = store.history(&entity)?;
            let versions = version::versions(&history)?;
            let paths: Vec<PathBuf> = match (lock.datasets.get(&name), versions.last()) {
                (Some(pin), _) => pin.paths.iter().map(PathBuf::from).collect(),
                (None, Some(v)) => v.body.paths.iter().map(PathBuf::from).collect(),
                (None, None) => {
                    return Err(Error::invalid(format!("dataset `{name}` has no versions")))
                }
            };
            let (_, report) = ops::hash_paths(store, &root, &paths, allow_outside, quiet)?;
            let now_root = manifest::merkle_root(&report.entries);
            let (id, body) = match versions.iter().rev().find(|v| v.body.root == now_root) {
                Some(v) => (v.record.id().to_string(), v.body.clone()),
                None => {
                    let out = ops::add(
                        store,
                        &root,
                        &paths,
                        Some(&name),
                        Some(
                            "recorded by `mlops track`: the files changed since the last version"
                                .into(),
                        ),
                        allow_outside,
                        quiet,
                    )?;
                    (out.id, out.version)
                }
            };
            Ok(Input {
                role: role.to_string(),
                dataset: Some(name),
                version: Some(id),
                path: body.paths.join(","),
                root: body.root,
                files: body.file_count,
                bytes: body.bytes,
            })
        }
        None => {
            let (_, report) =
                ops::hash_paths(store, cwd, &[PathBuf::from(spec)], allow_outside, quiet)?;
            Ok(Input {
                role: role.to_string(),
                dataset: None,
                version: None,
                path: rel,
                root: manifest::merkle_root(&report.entries),
                files: report.entries.len() as u64,
                bytes: report.entries.iter().map(|e| e.size).sum(),
            })
        }
    }
}
