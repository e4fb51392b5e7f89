//! Resolving a drift reference. A file path is used as is — but when the file
//! belongs to a tracked dataset, its bytes are checked against the recorded
//! SHA-256 first, so drift is never silently measured against data that has
//! changed since training. A dataset (`name[@version]`) uses its tabular files
//! when they are on disk and intact, and otherwise its recorded profile.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::{ops, version};
use crate::drift::profile::Profile;
use crate::drift::Format;
use crate::error::{Error, Result};
use crate::store::{EntityKind, Store};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefFile {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceInfo {
    /// `file`, `dataset` or `profile`.
    pub kind: String,
    pub dataset: Option<String>,
    /// The dataset version record.
    pub version: Option<String>,
    pub files: Vec<RefFile>,
    /// Why the profile was used instead of the files.
    pub note: Option<String>,
}

pub enum Source {
    Files(Vec<PathBuf>),
    Profile(Box<Profile>),
}

pub struct ResolvedReference {
    pub info: ReferenceInfo,
    pub source: Source,
}

fn rel(root: &Path, p: &Path) -> String {
    super::display_rel(root, p)
}

pub fn resolve(store: &Store, base: &Path, spec: &str) -> Result<ResolvedReference> {
    let root = store.root();
    let path = base.join(spec);
    if path.is_file() {
        let (sha256, _) = crate::dataset::hash::sha256_file(&path)
            .map_err(|e| Error::io(format!("cannot read reference `{spec}`"), e))?;
        let relp = rel(&root, &path);
        let mut info = ReferenceInfo {
            kind: "file".into(),
            dataset: None,
            version: None,
            files: vec![RefFile {
                path: relp.clone(),
                sha256: sha256.clone(),
            }],
            note: None,
        };
        // Is it a tracked dataset's file? Then it must still be the recorded bytes.
        for e in store.entities(Some(EntityKind::Dataset))? {
            let (history, versions) = ops::versions_of(store, &e.name)?;
            let Some(latest) = versions.last() else {
                continue;
            };
            // Only a dataset added from this file or a folder above it can
            // hold it: skip inflating every other dataset's manifest.
            let covers = latest
                .body
                .paths
                .iter()
                .any(|p| p == "." || relp == *p || relp.starts_with(&format!("{p}/")));
            if !covers {
                continue;
            }
            let manifest = latest.manifest(store, &history)?;
            if let Some(entry) = manifest.iter().find(|f| f.path == relp) {
                if entry.sha256 != sha256 {
                    return Err(Error::invalid_with_hint(
                        format!(
                            "reference `{spec}` differs from its recorded version in dataset `{}` (sha256 {} expected, {} found)",
                            e.name, entry.sha256, sha256
                        ),
                        format!("restore the file, record it with `mlops data add`, or pass `--reference {}@<version>`", e.name),
                    ));
                }
                info.dataset = Some(e.name.clone());
                info.version = Some(latest.record.id().to_string());
                break;
            }
        }
        return Ok(ResolvedReference {
            info,
            source: Source::Files(vec![path]),
        });
    }
    let (name, selector) = ops::split_spec(spec);
    if crate::names::validate(name).is_err()
        || !store.exists(&crate::store::Entity::new(EntityKind::Dataset, name)?)?
    {
        return Err(Error::invalid_with_hint(
            format!("reference `{spec}` is neither a file nor a tracked dataset"),
            "pass a CSV/Parquet/NDJSON file or a dataset name (`mlops data list`)",
        ));
    }
    let (history, versions) = ops::versions_of(store, name)?;
    let v = version::select(name, &versions, selector)?;
    let manifest = v.manifest(store, &history)?;
    let tabular: Vec<_> = manifest
        .iter()
        .filter(|f| Format::of(Path::new(&f.path)).is_some())
        .collect();
    if tabular.is_empty() {
        return Err(Error::invalid(format!(
            "dataset `{name}` has no CSV, Parquet or NDJSON file to compare with"
        )));
    }
    let mut broken = Vec::new();
    for f in &tabular {
        match crate::dataset::hash::sha256_file(&root.join(&f.path)) {
            Ok((h, _)) if h == f.sha256 => {}
            Ok(_) => broken.push(format!("`{}` changed", f.path)),
            Err(_) => broken.push(format!("`{}` is missing", f.path)),
        }
    }
    let files: Vec<RefFile> = tabular
        .iter()
        .map(|f| RefFile {
            path: f.path.clone(),
            sha256: f.sha256.clone(),
        })
        .collect();
    if broken.is_empty() {
        return Ok(ResolvedReference {
            info: ReferenceInfo {
                kind: "dataset".into(),
                dataset: Some(name.to_string()),
                version: Some(v.record.id().to_string()),
                files,
                note: None,
            },
            source: Source::Files(tabular.iter().map(|f| root.join(&f.path)).collect()),
        });
    }
    let mut profiles = v.profiles(store, &history)?;
    if tabular.len() != 1 || profiles.len() != 1 {
        return Err(Error::invalid_with_hint(
            format!("the files of `{spec}` are not on disk as recorded ({}), and a drift from several profiles is not supported", broken.join(", ")),
            "restore the files (e.g. `dvc pull`, a copy from the archive) or use a dataset with one tabular file",
        ));
    }
    let (_, profile) = profiles.pop_first().expect("one profile");
    Ok(ResolvedReference {
        info: ReferenceInfo {
            kind: "profile".into(),
            dataset: Some(name.to_string()),
            version: Some(v.record.id().to_string()),
            files,
            note: Some(format!("the raw reference data is not on disk as recorded ({}); statistics come from the profile recorded with the version", broken.join(", "))),
        },
        source: Source::Profile(Box::new(profile)),
    })
}
