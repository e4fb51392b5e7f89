//! Parameters: typed values (number, string, bool) from `--param k=v`, a
//! params file (YAML, JSON or TOML) or the metrics stream. Nested tables are
//! flattened with dots (`optimizer.lr`), the way MLflow and DVC show them.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// `k=v` with `v` typed: `true`/`false`, a number, otherwise a string.
pub fn parse_assignment(flag: &str, s: &str) -> Result<(String, Value)> {
    let (k, v) = s.split_once('=').ok_or_else(|| {
        Error::invalid_with_hint(
            format!("`{flag} {s}` is not `key=value`"),
            format!("write it as `{flag} lr=0.01`"),
        )
    })?;
    let k = k.trim();
    if k.is_empty() {
        return Err(Error::invalid(format!("`{flag} {s}` has an empty key")));
    }
    Ok((k.to_string(), typed(v)))
}

/// `k=v` for a tag: the value is kept as written (`build=007` stays `007`).
pub fn parse_tag(flag: &str, s: &str) -> Result<(String, String)> {
    let (k, _) = parse_assignment(flag, s)?;
    let v = s.split_once('=').map(|(_, v)| v).unwrap_or_default();
    Ok((k, v.to_string()))
}

/// `k=v` for a metric: the value must be a number.
pub fn parse_metric(flag: &str, s: &str) -> Result<(String, f64)> {
    let (k, v) = parse_assignment(flag, s)?;
    let x = v
        .as_f64()
        .ok_or_else(|| Error::invalid(format!("`{flag} {s}`: the value is not a number")))?;
    Ok((k, x))
}

pub fn typed(v: &str) -> Value {
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => {
            if let Ok(i) = v.parse::<i64>() {
                return Value::from(i);
            }
            match v.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::from(f),
                _ => Value::String(v.to_string()),
            }
        }
    }
}

/// Flattens nested objects into dotted keys; arrays and nulls are kept as
/// their JSON text so a param is always a scalar.
pub fn flatten_into(prefix: &str, value: Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten_into(&format!("{prefix}.{k}"), v, out);
            }
        }
        Value::Array(_) | Value::Null => {
            out.insert(prefix.to_string(), Value::String(value.to_string()));
        }
        Value::Number(n) if n.as_f64().is_some_and(|f| !f.is_finite()) => {
            out.insert(prefix.to_string(), Value::String(n.to_string()));
        }
        other => {
            out.insert(prefix.to_string(), other);
        }
    }
}

/// Reads a params file by its extension.
pub fn read_file(path: &Path) -> Result<BTreeMap<String, Value>> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read params file `{shown}`"), e))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let value: Value = match ext.as_str() {
        "yaml" | "yml" => serde_yaml_ng::from_str(&text)
            .map_err(|e| Error::invalid(format!("params file `{shown}` is not valid YAML: {e}")))?,
        "json" => serde_json::from_str(&text)
            .map_err(|e| Error::invalid(format!("params file `{shown}` is not valid JSON: {e}")))?,
        "toml" => {
            let t: toml::Value = toml::from_str(&text).map_err(|e| {
                Error::invalid(format!(
                    "params file `{shown}` is not valid TOML: {}",
                    e.message()
                ))
            })?;
            serde_json::to_value(t).map_err(|e| Error::invalid(e.to_string()))?
        }
        _ => {
            return Err(Error::invalid_with_hint(
                format!("params file `{shown}` has an unknown extension"),
                "use .yaml, .yml, .json or .toml",
            ))
        }
    };
    let mut out = BTreeMap::new();
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten_into(&k, v, &mut out);
            }
        }
        Value::Null => {}
        _ => {
            return Err(Error::invalid(format!(
                "params file `{shown}` must hold a mapping of names to values"
            )))
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed() {
        assert_eq!(
            parse_assignment("--param", "lr=0.01").unwrap().1,
            Value::from(0.01)
        );
        assert_eq!(
            parse_assignment("--param", "n=3").unwrap().1,
            Value::from(3)
        );
        assert_eq!(
            parse_assignment("--param", "x=true").unwrap().1,
            Value::Bool(true)
        );
        assert_eq!(
            parse_assignment("--param", "m=gbm").unwrap().1,
            Value::from("gbm")
        );
        assert_eq!(
            parse_assignment("--param", "m=nan").unwrap().1,
            Value::from("nan")
        );
        assert!(parse_assignment("--param", "novalue").is_err());
        assert!(parse_assignment("--param", "=1").is_err());
    }

    #[test]
    fn nested_values_flatten() {
        let mut out = BTreeMap::new();
        flatten_into(
            "train",
            serde_json::json!({"lr": 0.1, "layers": [1, 2]}),
            &mut out,
        );
        assert_eq!(out["train.lr"], Value::from(0.1));
        assert_eq!(out["train.layers"], Value::from("[1,2]"));
    }
}
