//! The `dataset-version` record (schema 1) and how its manifest and profiles
//! are stored: inline when small, otherwise as attachments beside the record
//! (content-addressed blobs on the same ref), so a 20,000-file dataset does
//! not make a megabyte-sized record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dataset::manifest::FileEntry;
use crate::drift::profile::Profile;
use crate::error::{Error, Result};
use crate::record::Record;
use crate::store::{History, Store};

pub const KIND: &str = "dataset-version";
pub const SCHEMA: u64 = 1;
/// Manifests with more entries than this go into an attachment.
pub const INLINE_FILES: usize = 200;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfileSummary {
    pub path: String,
    pub rows: u64,
    pub columns: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatasetVersion {
    pub name: String,
    /// The paths given to `data add`, relative to the repository root.
    pub paths: Vec<String>,
    pub file_count: u64,
    pub bytes: u64,
    /// SHA-256 of the `sha256sum` listing of the files (see `manifest::merkle_root`).
    pub root: String,
    /// The files, when few.
    pub manifest: Option<Vec<FileEntry>>,
    /// Attachment id of `{"files": [...]}` when the manifest is large.
    pub manifest_blob: Option<String>,
    /// Per tabular file: rows and columns (the full profiles are an attachment).
    pub profiles: Vec<ProfileSummary>,
    /// Attachment id of `{"profiles": {path: profile}}`.
    pub profiles_blob: Option<String>,
    pub source: Option<String>,
    /// Paths that were skipped (symlinks to folders, dangling links).
    #[serde(default)]
    pub skipped: Vec<String>,
    /// The data contract's check when the version was added (absent: the
    /// dataset had no contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<crate::dataset::contract::Checked>,
}

#[derive(Serialize, Deserialize)]
struct ManifestBlob {
    files: Vec<FileEntry>,
}

#[derive(Serialize, Deserialize)]
struct ProfilesBlob {
    profiles: BTreeMap<String, Profile>,
}

pub fn manifest_bytes(files: &[FileEntry]) -> Vec<u8> {
    crate::record::canonical_bytes(
        &serde_json::to_value(ManifestBlob {
            files: files.to_vec(),
        })
        .expect("JSON"),
    )
}

pub fn profiles_bytes(profiles: &BTreeMap<String, Profile>) -> Result<Vec<u8>> {
    let v = serde_json::to_value(ProfilesBlob {
        profiles: profiles.clone(),
    })
    .map_err(|e| Error::invalid(format!("cannot encode profiles: {e}")))?;
    Ok(crate::record::canonical_bytes(&v))
}

/// One version as read back, with the record it came from.
#[derive(Debug, Clone)]
pub struct Version {
    pub record: Record,
    pub body: DatasetVersion,
}

impl Version {
    pub fn manifest(&self, store: &Store, history: &History) -> Result<Vec<FileEntry>> {
        if let Some(m) = &self.body.manifest {
            return Ok(m.clone());
        }
        let id = self
            .body
            .manifest_blob
            .as_ref()
            .ok_or_else(|| Error::CorruptRecord {
                id: self.record.id().to_string(),
                reason: "a dataset version without a manifest".into(),
            })?;
        let bytes = store.attachment(history, id)?;
        let m: ManifestBlob = serde_json::from_slice(&bytes).map_err(|e| Error::CorruptRecord {
            id: id.clone(),
            reason: format!("manifest: {e}"),
        })?;
        Ok(m.files)
    }

    pub fn profiles(&self, store: &Store, history: &History) -> Result<BTreeMap<String, Profile>> {
        match &self.body.profiles_blob {
            None => Ok(BTreeMap::new()),
            Some(id) => {
                let bytes = store.attachment(history, id)?;
                let p: ProfilesBlob =
                    serde_json::from_slice(&bytes).map_err(|e| Error::CorruptRecord {
                        id: id.clone(),
                        reason: format!("profiles: {e}"),
                    })?;
                Ok(p.profiles)
            }
        }
    }
}

/// The versions of a dataset, oldest first.
pub fn versions(history: &History) -> Result<Vec<Version>> {
    history
        .of_kind(KIND)
        .map(|r| {
            Ok(Version {
                record: r.clone(),
                body: r.parse()?,
            })
        })
        .collect()
}

/// `latest`, a full or abbreviated record id (`sha256:ab12…` or `ab12…`), or
/// a 1-based version number (`3`, `v3`).
pub fn select<'a>(
    name: &str,
    versions: &'a [Version],
    selector: Option<&str>,
) -> Result<&'a Version> {
    let hint = format!("`mlops data show {name}` lists its versions");
    let Some(sel) = selector.filter(|s| *s != "latest") else {
        return versions.last().ok_or_else(|| {
            Error::invalid_with_hint(format!("dataset `{name}` has no versions"), hint)
        });
    };
    let n = sel.strip_prefix('v').unwrap_or(sel);
    if let Ok(i) = n.parse::<usize>() {
        if i >= 1 && i <= versions.len() && n.len() < 6 {
            return Ok(&versions[i - 1]);
        }
    }
    let hex = crate::record::hex_of(sel);
    let hits: Vec<&Version> = versions
        .iter()
        .filter(|v| v.record.hex().starts_with(hex))
        .collect();
    match hits.len() {
        1 => Ok(hits[0]),
        0 => Err(Error::invalid_with_hint(
            format!("dataset `{name}` has no version `{sel}`"),
            hint,
        )),
        _ => Err(Error::invalid_with_hint(
            format!("`{sel}` matches several versions of `{name}`"),
            "give more characters",
        )),
    }
}
