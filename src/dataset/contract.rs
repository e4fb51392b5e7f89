//! Data contracts (docs/monitoring.md): what a dataset must look like before
//! anything trains on it — columns and their types, nullability, ranges,
//! allowed categories, uniqueness, row counts. `mlops data check` runs one;
//! `data add` and `track --data` refuse data that breaks an error-level
//! rule and warn on the rest, and the check's outcome is recorded with the
//! dataset version for the `data_quality` promotion gate.
//!
//! A violation names the file, the column and the rule with counts, never a
//! value: the data may be customers' (docs/privacy.md).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::drift::load::{Format, Table, Values};
use crate::error::{Error, Result};

#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub min_rows: Option<u64>,
    pub max_rows: Option<u64>,
    /// Columns that must be there, and their rules.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnRule>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ColumnRule {
    /// `int`, `float` (ints accepted), `string`, `bool`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `false`: no missing value at all.
    pub nullable: Option<bool>,
    /// Largest share of missing (null, NaN, ±inf) values.
    pub max_null_share: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The only categories allowed.
    pub allowed: Option<Vec<String>>,
    pub unique: Option<bool>,
    /// `error` (default: refuses the data) or `warn`.
    pub severity: Option<String>,
}

/// One broken rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Violation {
    pub file: String,
    pub column: Option<String>,
    pub rule: String,
    pub detail: String,
    /// `error` or `warn`.
    pub severity: String,
}

impl Violation {
    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }

    pub fn line(&self) -> String {
        format!(
            "{}: `{}`{} {}: {}",
            self.severity,
            self.file,
            self.column
                .as_deref()
                .map(|c| format!(" column `{c}`"))
                .unwrap_or_default(),
            self.rule,
            self.detail
        )
    }
}

/// The outcome recorded with a dataset version.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Checked {
    pub errors: usize,
    pub warnings: usize,
    pub violations: Vec<Violation>,
}

impl Checked {
    pub fn of(violations: Vec<Violation>) -> Checked {
        Checked {
            errors: violations.iter().filter(|v| v.is_error()).count(),
            warnings: violations.iter().filter(|v| !v.is_error()).count(),
            violations,
        }
    }

    /// The check as a gate: error-level violations refuse the data
    /// (exit 1, each rule named); warnings are the caller's to show.
    pub fn or_refuse(self, dataset: &str) -> Result<Checked> {
        if self.errors == 0 {
            return Ok(self);
        }
        Err(Error::ContractViolated {
            dataset: dataset.to_string(),
            violations: self
                .violations
                .iter()
                .filter(|v| v.is_error())
                .map(Violation::line)
                .collect(),
        })
    }
}

fn share(n: u64, of: u64) -> String {
    format!(
        "{n} of {of} rows ({:.1}%)",
        100.0 * n as f64 / of.max(1) as f64
    )
}

/// Checks every tabular file of `files` (shown as `shown[i]`) against the contract.
pub fn check(files: &[(PathBuf, String)], contract: &Contract) -> Result<Vec<Violation>> {
    let mut out = Vec::new();
    for (path, shown) in files.iter().filter(|(p, _)| Format::of(p).is_some()) {
        check_file(path, shown, contract, &mut out)?;
    }
    Ok(out)
}

fn check_file(
    path: &Path,
    shown: &str,
    contract: &Contract,
    out: &mut Vec<Violation>,
) -> Result<()> {
    let table = Table::open(&[path.to_path_buf()])
        .map_err(|e| Error::invalid(format!("cannot read `{shown}`: {e}")))?;
    let rows = table
        .try_rows()
        .map_err(|e| Error::invalid(format!("cannot read `{shown}`: {e}")))?;
    let file_rule = |rule: &str, detail: String| Violation {
        file: shown.to_string(),
        column: None,
        rule: rule.to_string(),
        detail,
        severity: "error".into(),
    };
    if let Some(min) = contract.min_rows.filter(|m| rows < *m) {
        out.push(file_rule(
            "min_rows",
            format!("{rows} rows, at least {min} required"),
        ));
    }
    if let Some(max) = contract.max_rows.filter(|m| rows > *m) {
        out.push(file_rule(
            "max_rows",
            format!("{rows} rows, at most {max} allowed"),
        ));
    }
    let mut wanted = Vec::new();
    for (name, rule) in &contract.columns {
        let severity = rule.severity.clone().unwrap_or_else(|| "error".into());
        let v = |rule_name: &str, detail: String| Violation {
            file: shown.to_string(),
            column: Some(name.clone()),
            rule: rule_name.to_string(),
            detail,
            severity: severity.clone(),
        };
        let Some(dtype) = table.dtype(name) else {
            out.push(v("present", "the column is missing".into()));
            continue;
        };
        if let Some(kind) = &rule.kind {
            let have = dtype.name();
            let ok = have == *kind || (kind == "float" && have == "int");
            if !ok {
                out.push(v("type", format!("is {have}, must be {kind}")));
            }
        }
    }
    // In the file's column order, as the chunked reader takes them.
    for (name, dtype) in table.schema() {
        if contract.columns.contains_key(name) {
            wanted.push((name.clone(), dtype.clone()));
        }
    }
    for column in table
        .read(&wanted)
        .map_err(|e| Error::invalid(format!("cannot read `{shown}`: {e}")))?
    {
        let rule = &contract.columns[&column.name];
        let severity = rule.severity.clone().unwrap_or_else(|| "error".into());
        let v = |rule_name: &str, detail: String| Violation {
            file: shown.to_string(),
            column: Some(column.name.clone()),
            rule: rule_name.to_string(),
            detail,
            severity: severity.clone(),
        };
        if rule.nullable == Some(false) && column.missing > 0 {
            out.push(v(
                "nullable",
                format!("{} missing", share(column.missing, rows)),
            ));
        }
        if let Some(m) = rule.max_null_share {
            if rows > 0 && column.missing as f64 / rows as f64 > m {
                out.push(v(
                    "max_null_share",
                    format!(
                        "{} missing, at most {:.1}% allowed",
                        share(column.missing, rows),
                        m * 100.0
                    ),
                ));
            }
        }
        match &column.values {
            Values::Num(values) => {
                if let Some(min) = rule.min {
                    let n = values.iter().filter(|x| **x < min).count() as u64;
                    if n > 0 {
                        out.push(v("min", format!("{} below {min}", share(n, rows))));
                    }
                }
                if let Some(max) = rule.max {
                    let n = values.iter().filter(|x| **x > max).count() as u64;
                    if n > 0 {
                        out.push(v("max", format!("{} above {max}", share(n, rows))));
                    }
                }
                if let Some(allowed) = &rule.allowed {
                    // Codes such as 0/1 are read as numbers: compared as written.
                    let ok: HashSet<&str> = allowed.iter().map(String::as_str).collect();
                    let text = |x: f64| {
                        if x.fract() == 0.0 && x.abs() < 1e15 {
                            format!("{}", x as i64)
                        } else {
                            x.to_string()
                        }
                    };
                    let n = values
                        .iter()
                        .filter(|x| !ok.contains(text(**x).as_str()))
                        .count() as u64;
                    if n > 0 {
                        out.push(v(
                            "allowed",
                            format!("{} not among the allowed values", share(n, rows)),
                        ));
                    }
                }
                if rule.unique == Some(true) {
                    let mut seen = HashSet::with_capacity(values.len());
                    let dups = values.iter().filter(|x| !seen.insert(x.to_bits())).count() as u64;
                    if dups > 0 {
                        out.push(v(
                            "unique",
                            format!("{} repeat an earlier value", share(dups, rows)),
                        ));
                    }
                }
            }
            Values::Cat { codes, dict } => {
                if let Some(allowed) = &rule.allowed {
                    let ok: HashSet<&str> = allowed.iter().map(String::as_str).collect();
                    let bad_codes: HashSet<u32> = dict
                        .iter()
                        .enumerate()
                        .filter(|(_, d)| !ok.contains(d.as_str()))
                        .map(|(i, _)| i as u32)
                        .collect();
                    let n = codes.iter().filter(|c| bad_codes.contains(c)).count() as u64;
                    if n > 0 {
                        // Counts only: an unexpected category may be a customer's value.
                        out.push(v(
                            "allowed",
                            format!(
                                "{} in {} categor(ies) not allowed",
                                share(n, rows),
                                bad_codes.len()
                            ),
                        ));
                    }
                }
                if rule.unique == Some(true) {
                    let mut seen = HashSet::with_capacity(codes.len());
                    let dups = codes.iter().filter(|c| !seen.insert(**c)).count() as u64;
                    if dups > 0 {
                        out.push(v(
                            "unique",
                            format!("{} repeat an earlier value", share(dups, rows)),
                        ));
                    }
                }
                if rule.min.is_some() || rule.max.is_some() {
                    out.push(v("type", "a range needs a numeric column".into()));
                }
            }
        }
    }
    Ok(())
}

/// The contract of a dataset, when `mlops.toml` has one.
pub fn of<'c>(config: &'c crate::config::Config, dataset: &str) -> Option<&'c Contract> {
    config
        .datasets
        .get(dataset)
        .and_then(|d| d.contract.as_ref())
}
