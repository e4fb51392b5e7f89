//! The explainability section of the audit report: feature importances the
//! team computed (mean |SHAP|, permutation importance, standardised
//! coefficients...). mlops does not compute them — that needs the model
//! runtime — but it pins the file by hash and says whether that hash is an
//! artifact recorded with the version, which is what an auditor needs to
//! trust the numbers.

use std::path::Path;

use crate::drift::load::{Cell, Dtype, Table};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::run::record::Artifact;

/// Columns taken for the importance, by preference, before any numeric column.
const VALUE_COLUMNS: [&str; 4] = ["importance", "mean_abs_shap", "shap", "value"];

#[derive(Debug, Serialize)]
pub struct Explainability {
    /// As given (repository-relative when it came from mlops.toml).
    pub file: String,
    pub sha256: String,
    /// The artifact of the version (or its run) with the same bytes, if any.
    pub recorded_as: Option<String>,
    /// Name of the value column, shown as the table's header.
    pub measure: String,
    /// Largest first.
    pub features: Vec<Feature>,
}

#[derive(Debug, Serialize)]
pub struct Feature {
    pub feature: String,
    pub importance: f64,
    /// Share of the largest absolute importance, 0–100, for bars.
    pub percent: f64,
}

/// Reads `path` (CSV with a header, or JSON: `{"feature": value}` or
/// `[{"feature": .., "importance": ..}]`) and matches it against `artifacts`.
pub fn read(path: &Path, shown: &str, artifacts: &[Artifact]) -> Result<Explainability> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::invalid_with_hint(
            format!("explainability file `{shown}`: {e}"),
            "fix `explainability` in mlops.toml or the --explain flag",
        )
    })?;
    let bad = |why: String| {
        Error::invalid_with_hint(
            format!("explainability file `{shown}`: {why}"),
            "write CSV `feature,importance` or JSON {\"feature\": importance}",
        )
    };
    let (measure, mut pairs) = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => ("importance".to_string(), from_json(&bytes).map_err(bad)?),
        _ => from_table(path).map_err(bad)?,
    };
    if pairs.is_empty() {
        return Err(bad("no features".into()));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some((dup, _)) = pairs.iter().find(|(name, _)| !seen.insert(name.as_str())) {
        return Err(bad(format!("feature `{dup}` is listed twice")));
    }
    pairs.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    let top = pairs[0].1.abs();
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok(Explainability {
        file: shown.to_string(),
        recorded_as: artifacts
            .iter()
            .find(|a| a.sha256 == sha256)
            .map(|a| a.path.clone()),
        sha256,
        measure,
        features: pairs
            .into_iter()
            .map(|(feature, importance)| Feature {
                percent: if top > 0.0 {
                    100.0 * importance.abs() / top
                } else {
                    0.0
                },
                feature,
                importance,
            })
            .collect(),
    })
}

fn from_json(bytes: &[u8]) -> std::result::Result<Vec<(String, f64)>, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let number = |v: &serde_json::Value, what: &str| {
        v.as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("`{what}` is not a finite number"))
    };
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), number(v, k)?)))
            .collect(),
        serde_json::Value::Array(rows) => rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let name = row
                    .get("feature")
                    .and_then(|f| f.as_str())
                    .ok_or_else(|| format!("item {i} has no string `feature`"))?;
                let v = VALUE_COLUMNS
                    .iter()
                    .find_map(|c| row.get(*c))
                    .ok_or_else(|| format!("item {i} has no `importance`"))?;
                Ok((name.to_string(), number(v, name)?))
            })
            .collect(),
        _ => Err("expected an object or an array".into()),
    }
}

/// A table (CSV, or Parquet/NDJSON) read through the one module that talks
/// to polars: a text column naming the features (`feature` by name first)
/// and a numeric column with the importances.
fn from_table(path: &Path) -> std::result::Result<(String, Vec<(String, f64)>), String> {
    let table = Table::open(&[path.to_path_buf()]).map_err(|e| e.to_string())?;
    let schema = table.schema();
    let named = |name: &str| schema.iter().find(|(n, _)| n == name);
    let feature = match named("feature") {
        Some(c) if c.1 == Dtype::Str => c,
        Some(_) => return Err("column `feature` is not text".into()),
        None => schema
            .iter()
            .find(|(_, d)| *d == Dtype::Str)
            .ok_or("no text column naming the features")?,
    };
    // A preferred column that is there but not numeric is an error, not a
    // reason to fall back to whatever number comes next (a rank, a count).
    let value = match VALUE_COLUMNS.iter().find_map(|name| named(name)) {
        Some(c) if c.1.is_numeric() => c,
        Some(c) => return Err(format!("column `{}` is not numeric", c.0)),
        None => schema
            .iter()
            .find(|(_, d)| d.is_numeric())
            .ok_or("no numeric column with the importances")?,
    };
    let rows = table
        .read_rows(&[feature.clone(), value.clone()])
        .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(rows[0].len());
    for (i, (name, v)) in rows[0].iter().zip(&rows[1]).enumerate() {
        match (name, v) {
            (Some(Cell::Text(name)), Some(Cell::Num(v))) => out.push((name.clone(), *v)),
            _ => return Err(format!("row {} has an empty or non-finite cell", i + 2)),
        }
    }
    Ok((value.0.clone(), out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(sha256: &str) -> Artifact {
        Artifact {
            path: "models/shap.csv".into(),
            sha256: sha256.into(),
            size: 1,
            outside: None,
        }
    }

    #[test]
    fn csv_is_sorted_by_magnitude_and_matched_to_a_recorded_artifact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shap.csv");
        let text = "feature,mean_abs_shap,rank\nincome,0.2,2\nage,-0.5,1\nregion,0.05,3\n";
        std::fs::write(&path, text).unwrap();
        let sha = hex::encode(Sha256::digest(text.as_bytes()));
        let e = read(&path, "shap.csv", &[artifact(&sha)]).unwrap();
        assert_eq!(e.measure, "mean_abs_shap");
        let order: Vec<_> = e.features.iter().map(|f| f.feature.as_str()).collect();
        assert_eq!(order, ["age", "income", "region"]);
        assert_eq!(e.features[1].percent, 40.0);
        assert_eq!(e.recorded_as.as_deref(), Some("models/shap.csv"));
        let other = read(&path, "shap.csv", &[artifact("00")]).unwrap();
        assert!(other.recorded_as.is_none());
    }

    #[test]
    fn the_feature_column_is_taken_by_name_before_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imp.csv");
        std::fs::write(
            &path,
            "model,feature,importance\nm1,age,0.3\nm1,income,0.6\n",
        )
        .unwrap();
        let e = read(&path, "imp.csv", &[]).unwrap();
        let names: Vec<_> = e.features.iter().map(|f| f.feature.as_str()).collect();
        assert_eq!(names, ["income", "age"]);
    }

    #[test]
    fn json_object_and_array_forms_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, r#"{"x": 1.5, "y": 3}"#).unwrap();
        let e = read(&a, "a.json", &[]).unwrap();
        assert_eq!(e.features[0].feature, "y");
        let b = dir.path().join("b.json");
        std::fs::write(&b, r#"[{"feature": "x", "importance": 2}]"#).unwrap();
        assert_eq!(read(&b, "b.json", &[]).unwrap().features[0].importance, 2.0);
    }

    #[test]
    fn unusable_files_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, "feature,importance\nx,abc\n").unwrap();
        let msg = read(&p, "bad.csv", &[]).unwrap_err().to_string();
        assert!(msg.contains("bad.csv") && msg.contains("numeric"), "{msg}");
        let j = dir.path().join("bad.json");
        std::fs::write(&j, r#"{"x": "high"}"#).unwrap();
        let msg = read(&j, "bad.json", &[]).unwrap_err().to_string();
        assert!(msg.contains("`x` is not a finite number"), "{msg}");
        // A non-numeric `importance` is refused, not replaced by the next number.
        std::fs::write(&p, "feature,importance,rank\nx,high,1\n").unwrap();
        let msg = read(&p, "bad.csv", &[]).unwrap_err().to_string();
        assert!(msg.contains("column `importance` is not numeric"), "{msg}");
        std::fs::write(&p, "feature,importance\nx,1\nx,2\n").unwrap();
        let msg = read(&p, "bad.csv", &[]).unwrap_err().to_string();
        assert!(msg.contains("`x` is listed twice"), "{msg}");
        let missing = read(&dir.path().join("none.csv"), "none.csv", &[]).unwrap_err();
        assert!(missing.to_string().contains("none.csv"));
    }
}
