//! Records: immutable JSON documents whose id is the SHA-256 of their canonical
//! bytes.
//!
//! Canonical form is what makes an id reproducible by anyone, with any JSON
//! library: UTF-8, object keys sorted by byte order, no insignificant white
//! space, numbers as the shortest round-trip form, no NaN or infinity (JSON has
//! none, and a metric that is NaN is refused at the input). A record read back
//! is re-hashed and re-canonicalised, and rejected if either differs, so a
//! hand-edited blob cannot pass as the original.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const ID_PREFIX: &str = "sha256:";

/// Fields every record carries; a body may not set them itself.
pub const ENVELOPE_FIELDS: [&str; 8] = [
    "kind",
    "schema",
    "created_at",
    "actor",
    "tool",
    "prev",
    "summary",
    "clock",
];

/// `sha256:<hex>` of some bytes: the id scheme for records and attachments.
pub fn content_id(bytes: &[u8]) -> String {
    format!("{ID_PREFIX}{}", hex::encode(Sha256::digest(bytes)))
}

/// The hex part of an id (`sha256:abc…` → `abc…`).
pub fn hex_of(id: &str) -> &str {
    id.strip_prefix(ID_PREFIX).unwrap_or(id)
}

/// The canonical bytes of a JSON value. `serde_json`'s map is a `BTreeMap`
/// (the `preserve_order` feature is off), so keys come out sorted.
/// The first 12 hex digits of an id, for people. Ids read from inside a
/// record (`prev`, a dataset version) are user data until checked, so a
/// short or malformed one is shown whole rather than sliced.
pub fn short(id: &str) -> &str {
    let hex = hex_of(id);
    hex.get(..12).unwrap_or(hex)
}

pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a JSON value always serialises")
}

#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    value: Value,
    bytes: Vec<u8>,
    id: String,
}

impl Record {
    /// Seals a JSON object into a record. It must have a string `kind` and an
    /// integer `schema`.
    pub fn from_value(value: Value) -> Result<Record> {
        let corrupt = |reason: &str| Error::CorruptRecord {
            id: "(new)".into(),
            reason: reason.into(),
        };
        let obj = value
            .as_object()
            .ok_or_else(|| corrupt("not a JSON object"))?;
        if !obj.get("kind").is_some_and(Value::is_string) {
            return Err(corrupt("missing string field `kind`"));
        }
        if !obj.get("schema").is_some_and(Value::is_u64) {
            return Err(corrupt("missing integer field `schema`"));
        }
        let bytes = canonical_bytes(&value);
        let id = content_id(&bytes);
        Ok(Record { value, bytes, id })
    }

    /// Parses stored bytes, checking that they are canonical and, when the id
    /// they were stored under is known, that they hash to it.
    pub fn from_bytes(bytes: &[u8], expected_id: Option<&str>) -> Result<Record> {
        let shown = expected_id.unwrap_or("(unknown)").to_string();
        let corrupt = |reason: String| Error::CorruptRecord {
            id: shown.clone(),
            reason,
        };
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| corrupt(format!("not valid JSON: {e}")))?;
        let record = Record::from_value(value).map_err(|e| match e {
            Error::CorruptRecord { reason, .. } => corrupt(reason),
            other => other,
        })?;
        if record.bytes != bytes {
            return Err(corrupt("bytes are not in canonical form".into()));
        }
        if let Some(expected) = expected_id {
            if hex_of(expected) != hex_of(&record.id) {
                return Err(corrupt(format!("content hashes to `{}`", record.id)));
            }
        }
        Ok(record)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn hex(&self) -> &str {
        hex_of(&self.id)
    }

    /// The first 12 hex digits, for tables.
    pub fn short_id(&self) -> &str {
        short(self.id())
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    pub fn field(&self, name: &str) -> Option<&Value> {
        self.value.get(name)
    }

    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.value.get(name).and_then(Value::as_str)
    }

    pub fn kind(&self) -> &str {
        self.str_field("kind").unwrap_or_default()
    }

    pub fn created_at(&self) -> &str {
        self.str_field("created_at").unwrap_or_default()
    }

    pub fn actor(&self) -> &str {
        self.str_field("actor").unwrap_or_default()
    }

    pub fn summary(&self) -> &str {
        self.str_field("summary").unwrap_or_default()
    }

    pub fn prev(&self) -> Option<&str> {
        self.str_field("prev")
    }

    /// Reads the record into a typed view (unknown fields are ignored, so old
    /// readers survive new fields).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.value.clone()).map_err(|e| Error::CorruptRecord {
            id: self.id.clone(),
            reason: format!("unexpected shape for a `{}` record: {e}", self.kind()),
        })
    }
}

/// A record before the store seals it: the store adds the envelope (time,
/// actor, tool, `prev`) at the moment it appends, because `prev` is only known
/// once the tip has been read, and changes if another writer wins the race.
#[derive(Clone, Debug)]
pub struct Draft {
    pub kind: String,
    pub schema: u64,
    pub summary: String,
    pub body: Map<String, Value>,
    /// Large payloads (manifests, metric histories) stored as their own blobs
    /// beside the record and referenced from the body by `content_id`.
    pub attachments: Vec<Vec<u8>>,
}

/// What the store knows at append time.
pub struct Envelope<'a> {
    pub created_at: &'a str,
    pub actor: &'a str,
    pub tool: &'a str,
    pub prev: Option<&'a str>,
    /// The clock's reading when it was behind the previous record's time and
    /// `created_at` was held at that time instead (see `Store::append`).
    pub clock: Option<&'a str>,
}

impl Draft {
    pub fn new(kind: &str, schema: u64, summary: impl Into<String>) -> Draft {
        Draft {
            kind: kind.into(),
            schema,
            summary: summary.into(),
            body: Map::new(),
            attachments: Vec::new(),
        }
    }

    /// Adds the fields of a serialisable body (a struct or a map).
    pub fn with_body<T: serde::Serialize>(mut self, body: &T) -> Result<Draft> {
        let value = serde_json::to_value(body)
            .map_err(|e| Error::invalid(format!("cannot encode `{}` record: {e}", self.kind)))?;
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    self.body.insert(k, v);
                }
                Ok(self)
            }
            _ => Err(Error::invalid("a record body must be a JSON object")),
        }
    }

    pub fn set(mut self, key: &str, value: impl Into<Value>) -> Draft {
        self.body.insert(key.into(), value.into());
        self
    }

    /// Adds an attachment and returns its id for the body to reference.
    pub fn attach(&mut self, bytes: Vec<u8>) -> String {
        let id = content_id(&bytes);
        self.attachments.push(bytes);
        id
    }

    pub fn seal(&self, env: &Envelope) -> Result<Record> {
        let mut obj = self.body.clone();
        for reserved in ENVELOPE_FIELDS {
            obj.remove(reserved);
        }
        obj.insert("kind".into(), self.kind.clone().into());
        obj.insert("schema".into(), self.schema.into());
        obj.insert("summary".into(), self.summary.clone().into());
        obj.insert("created_at".into(), env.created_at.into());
        obj.insert("actor".into(), env.actor.into());
        obj.insert("tool".into(), env.tool.into());
        if let Some(prev) = env.prev {
            obj.insert("prev".into(), prev.into());
        }
        if let Some(clock) = env.clock {
            obj.insert("clock".into(), clock.into());
        }
        Record::from_value(Value::Object(obj))
    }
}

/// Refuses NaN and infinity at the input, since JSON cannot carry them and a
/// silent `null` would make a metric disappear.
pub fn finite(name: &str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::invalid_with_hint(
            format!("`{name}` is {v}, which a record cannot hold"),
            "log a finite number (NaN and infinity are not valid JSON)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_compact() {
        let r =
            Record::from_value(json!({"schema": 1, "kind": "x", "b": [1, 2.5], "a": "é"})).unwrap();
        assert_eq!(
            std::str::from_utf8(r.bytes()).unwrap(),
            r#"{"a":"é","b":[1,2.5],"kind":"x","schema":1}"#
        );
        assert_eq!(r.id(), content_id(r.bytes()));
    }

    #[test]
    fn non_canonical_or_tampered_bytes_are_rejected() {
        let r = Record::from_value(json!({"kind": "x", "schema": 1})).unwrap();
        Record::from_bytes(r.bytes(), Some(r.id())).unwrap();
        let spaced = br#"{"kind": "x","schema":1}"#;
        assert!(Record::from_bytes(spaced, None).is_err());
        let other = Record::from_value(json!({"kind": "y", "schema": 1})).unwrap();
        assert!(Record::from_bytes(other.bytes(), Some(r.id())).is_err());
    }

    #[test]
    fn envelope_fields_cannot_be_forged_by_the_body() {
        let d = Draft::new("note", 1, "s")
            .set("actor", "mallory")
            .set("text", "hi");
        let r = d
            .seal(&Envelope {
                created_at: "2026-01-01T00:00:00.000000Z",
                actor: "Alice <a@x>",
                tool: "mlops test",
                prev: None,
                clock: None,
            })
            .unwrap();
        assert_eq!(r.actor(), "Alice <a@x>");
        assert!(r.prev().is_none());
    }

    #[test]
    fn nan_is_refused() {
        assert!(finite("loss", f64::NAN).is_err());
        assert!(finite("loss", f64::INFINITY).is_err());
        assert_eq!(finite("loss", 0.5).unwrap(), 0.5);
    }
}
