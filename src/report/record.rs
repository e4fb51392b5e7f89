//! A report handed to a regulator is recorded (`mlops report --record`): a
//! `report` event on the model's history holding the SHA-256 of every file
//! written, of the templates used and the heads the report read. `mlops
//! verify --report <file>` then proves that a copy is exactly a file that
//! was generated — a one-byte change is a different hash. Previews (reports
//! written without `--record`) leave no trace.

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::Report;
use crate::error::{Error, Result};
use crate::record::Draft;
use crate::store::{Entity, EntityKind, Store};

pub const REPORT: &str = "report";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileHash {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportRecord {
    pub model: String,
    pub version: Option<String>,
    pub version_record: Option<String>,
    pub files: Vec<FileHash>,
    pub templates: Vec<FileHash>,
    /// `(ref, tip)` of every history the report read.
    pub heads: Vec<(String, String)>,
    pub frameworks: Vec<String>,
    /// Sections that were MISSING when it was generated.
    pub missing: Vec<u8>,
    pub verified: bool,
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::io(format!("cannot read `{}`", path.display()), e))?;
    Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

pub fn record(store: &Store, report: &Report, files: &[PathBuf]) -> Result<String> {
    let config = crate::registry::policy::Policy::committed(store)?.0.config;
    let body = ReportRecord {
        model: report.model.name.clone(),
        version: report.version.as_ref().map(|v| v.version.version.clone()),
        version_record: report.version.as_ref().map(|v| v.record.clone()),
        files: files
            .iter()
            .map(|f| {
                Ok(FileHash {
                    name: f
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default(),
                    sha256: sha256_file(f)?,
                })
            })
            .collect::<Result<_>>()?,
        templates: super::template_hashes(store, &config)?
            .into_iter()
            .map(|(name, sha256)| FileHash { name, sha256 })
            .collect(),
        heads: report.integrity.refs.clone(),
        frameworks: report.frameworks.clone(),
        missing: report
            .sections
            .iter()
            .filter(|s| s.status == "MISSING")
            .map(|s| s.number)
            .collect(),
        verified: report.verified,
    };
    let summary = format!(
        "report {}{} ({} files)",
        body.model,
        body.version
            .as_deref()
            .map(|v| format!("@{v}"))
            .unwrap_or_default(),
        body.files.len()
    );
    let draft = Draft::new(REPORT, crate::registry::records::SCHEMA, summary).with_body(&body)?;
    let entity = Entity::new(EntityKind::Model, &body.model)?;
    let appended = store.append(&entity, |_| {
        Ok(ControlFlow::<Infallible, _>::Continue(draft.clone()))
    })?;
    let ControlFlow::Continue(record) = appended;
    Ok(record.id().to_string())
}

/// A recorded report a file is exactly.
#[derive(Debug, Serialize)]
pub struct Match {
    pub record: String,
    pub created_at: String,
    pub actor: String,
    pub model: String,
    pub version: Option<String>,
    pub file: String,
    pub sha256: String,
}

/// Looks for the file's SHA-256 among every model's recorded reports.
pub fn find(store: &Store, path: &Path) -> Result<(String, Option<Match>)> {
    let sha = sha256_file(path)?;
    for entity in store.entities(Some(EntityKind::Model))? {
        for r in store
            .history(&entity)?
            .records
            .iter()
            .filter(|r| r.kind() == REPORT)
        {
            let body: ReportRecord = r.parse()?;
            if let Some(f) = body.files.iter().find(|f| f.sha256 == sha) {
                return Ok((
                    sha.clone(),
                    Some(Match {
                        record: r.id().to_string(),
                        created_at: r.created_at().to_string(),
                        actor: r.actor().to_string(),
                        model: body.model.clone(),
                        version: body.version.clone(),
                        file: f.name.clone(),
                        sha256: sha,
                    }),
                ));
            }
        }
    }
    Ok((sha, None))
}
