//! Notes: free-text events on any entity's history ("reviewed with the model
//! risk committee", "retired the feed"). They give reviewers and auditors a
//! place to write into the same hash chain the tool writes, attributed by git
//! identity like every other record.

use crate::error::{Error, Result};
use crate::record::{Draft, Record};
use crate::store::{Entity, Store};

pub const KIND: &str = "note";

pub fn add(store: &Store, entity: &Entity, text: &str) -> Result<Record> {
    let scrubbed = crate::redact::free_text(text);
    let text = scrubbed.trim();
    if text.is_empty() {
        return Err(Error::invalid_with_hint(
            "the note is empty",
            "pass the text with `-m \"...\"`",
        ));
    }
    let first = text.lines().next().unwrap_or_default();
    let draft = Draft::new(KIND, 1, format!("note: {first}"))
        .set("entity", entity.to_string())
        .set("text", text);
    store.append_draft(entity, &draft)
}
