//! Framework matrices: which requirement of SR 11-7, the HKMA principles,
//! EU AI Act Annex IV or Model Cards each report section answers. The
//! mapping is data — `.mlops/frameworks/<name>.toml` in the repository
//! (installed by `mlops init`, the user's to extend), else the built-in
//! copy — so a bank adds its own policy's requirements without a release.

use serde::{Deserialize, Serialize};

use super::sections::Section;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    #[serde(default)]
    requirement: Vec<Requirement>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub text: String,
    pub sections: Vec<u8>,
}

/// One row of a matrix: a requirement, its sections, and whether they are
/// all there.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub framework: String,
    pub requirement: String,
    pub text: String,
    pub sections: Vec<u8>,
    /// `answered` or `MISSING`.
    pub status: String,
    pub missing: Vec<u8>,
}

/// The names `--framework` accepts out of the box.
pub const BUILT_IN: [&str; 4] = ["sr11-7", "hkma", "eu-ai-act", "model-card"];

/// Reads a framework: the repository's file first, else the built-in one.
fn load(root: &std::path::Path, name: &str) -> Result<File> {
    let rel = format!(".mlops/frameworks/{name}.toml");
    let text = match std::fs::read_to_string(root.join(&rel)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => crate::templates::builtin(&rel)
            .ok_or_else(|| {
                Error::invalid_with_hint(
                    format!("`--framework {name}`: no such framework"),
                    format!(
                        "built in: {}; or add `{rel}` with [[requirement]] id, text, sections",
                        BUILT_IN.join(", ")
                    ),
                )
            })?
            .to_string(),
        Err(e) => return Err(Error::io(format!("cannot read `{rel}`"), e)),
    };
    let file: File = toml::from_str(&text).map_err(|e| Error::Config {
        path: rel.clone(),
        message: e.message().to_string(),
    })?;
    if let Some(bad) = file
        .requirement
        .iter()
        .flat_map(|r| r.sections.iter())
        .find(|s| !(1..=24).contains(*s))
    {
        return Err(Error::Config {
            path: rel,
            message: format!("section {bad} does not exist (sections are 1 to 24)"),
        });
    }
    Ok(file)
}

/// The requirement rows of the named frameworks (before the sections are
/// known: the regulatory-mapping section lists them).
pub fn requirements(
    root: &std::path::Path,
    names: &[String],
) -> Result<Vec<(String, Requirement)>> {
    let mut out = Vec::new();
    for n in names {
        let f = load(root, n)?;
        out.extend(f.requirement.into_iter().map(|r| (f.name.clone(), r)));
    }
    Ok(out)
}

/// The matrix over the built sections.
pub fn matrix(reqs: &[(String, Requirement)], sections: &[Section]) -> Vec<Row> {
    reqs.iter()
        .map(|(framework, r)| {
            let missing: Vec<u8> = r
                .sections
                .iter()
                .copied()
                .filter(|n| {
                    sections
                        .iter()
                        .find(|s| s.number == *n)
                        .is_none_or(|s| s.status == "MISSING")
                })
                .collect();
            Row {
                framework: framework.clone(),
                requirement: r.id.clone(),
                text: r.text.clone(),
                sections: r.sections.clone(),
                status: if missing.is_empty() {
                    "answered"
                } else {
                    "MISSING"
                }
                .into(),
                missing,
            }
        })
        .collect()
}
