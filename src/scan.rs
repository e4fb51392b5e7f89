//! `mlops scan`: looks through every record already in the repository (and
//! the attachments records point to) for values that look like customer
//! identifiers or secrets — what a team runs before it pushes a repository
//! for the first time, or after changing its privacy settings. It reads; it
//! changes nothing (docs/privacy.md says what to do about a finding).

use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::record::{self, Record};
use crate::store::{layout, Store};

/// Fields that name the people who work on the repository (git identities,
/// owners, approvers, and the gate results that quote them): staff e-mail
/// addresses by design, not customer data.
const STAFF_FIELDS: [&str; 12] = [
    "actor",
    "approver",
    "statement",
    "signature",
    "owner",
    "who",
    "approved_by",
    "approvals",
    "gates",
    "pr_author",
    "email",
    "signer",
];

#[derive(Debug, Serialize)]
pub struct Finding {
    pub entity: String,
    pub record: String,
    /// Where in the record (or attachment): `params.api_key`, `columns[3].top[0][0]`.
    pub field: String,
    /// What it looks like: an identifier kind, or `secret`.
    pub looks_like: String,
    /// The value with all but its first two characters masked.
    pub masked: String,
}

#[derive(Debug, Serialize)]
pub struct Scan {
    pub records: usize,
    pub attachments: usize,
    pub findings: Vec<Finding>,
}

fn mask(s: &str) -> String {
    let head: String = s.chars().take(2).collect();
    format!(
        "{head}{}",
        "*".repeat(s.chars().count().saturating_sub(2).min(12))
    )
}

fn walk(
    v: &Value,
    path: &str,
    out: &mut Vec<(String, String, String)>,
    redactor: &crate::redact::Redactor,
) {
    match v {
        Value::String(s) => {
            // The whole value, or a word of free text (a note, a reason).
            let words = std::iter::once(s.as_str()).chain(
                s.split_whitespace()
                    .map(|w| w.trim_matches(|c: char| ",;:()[]<>\"'".contains(c))),
            );
            if let Some((word, kind)) = words
                .filter_map(|w| crate::privacy::identifier_kind(w).map(|k| (w, k)))
                .next()
            {
                out.push((path.to_string(), kind.to_string(), mask(word)));
            } else if s.len() >= 8 && redactor.text(s).is_some() {
                out.push((path.to_string(), "secret".into(), mask(s)));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, &format!("{path}[{i}]"), out, redactor);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                if STAFF_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if crate::redact::is_secret_name(k) {
                    if let Value::String(s) = x {
                        if s != "<redacted>" && !s.is_empty() {
                            out.push((p.clone(), "secret (by its name)".into(), mask(s)));
                            continue;
                        }
                    }
                }
                walk(x, &p, out, redactor);
            }
        }
        _ => {}
    }
}

/// Scans every chain: each entity, folded runs, checkpoints.
pub fn scan(store: &Store) -> Result<Scan> {
    let db = store.db();
    let redactor = crate::redact::Redactor::new(&[]);
    let mut out = Scan {
        records: 0,
        attachments: 0,
        findings: Vec::new(),
    };
    let mut chains: Vec<(String, gix::ObjectId)> = Vec::new();
    for (entity, tip) in store.tips(None)? {
        if let Ok(t) = gix::ObjectId::from_hex(tip.as_bytes()) {
            chains.push((entity.to_string(), t));
        }
    }
    if let Some(t) = db.read_ref(crate::checkpoint::REF)? {
        chains.push(("checkpoints".into(), t));
    }
    for (entity, tip) in chains {
        let tree = db.commit_info(tip)?.tree;
        for f in layout::files(db, tree)? {
            let bytes = db.blob(f.oid)?;
            let (id, value) = if f.folder == layout::ATTACHMENTS {
                out.attachments += 1;
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(v) => (format!("attachment {}", record::short(&f.name)), v),
                    Err(_) => continue,
                }
            } else {
                out.records += 1;
                let hex = f.name.strip_suffix(".json").unwrap_or(&f.name);
                match Record::from_bytes(&bytes, Some(hex)) {
                    Ok(r) => (record::short(r.id()).to_string(), r.value().clone()),
                    Err(_) => continue,
                }
            };
            let mut found = Vec::new();
            walk(&value, "", &mut found, &redactor);
            for (field, looks_like, masked) in found {
                out.findings.push(Finding {
                    entity: entity.clone(),
                    record: id.clone(),
                    field,
                    looks_like,
                    masked,
                });
            }
        }
    }
    Ok(out)
}
