//! Reading prediction and label files keyed by an id column, and joining
//! them on it. Keys are compared as text (an integer id read from CSV and the
//! same id read from Parquet give the same text); they stay in memory only
//! and never reach a record (docs/shadow.md).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::drift::load::{key_text, Cell, Dtype, Table};
use crate::error::{Error, Result};

/// One file's rows: key, a value column (prediction or label), and the
/// slice column when asked for and present.
#[derive(Debug)]
pub struct Keyed {
    pub path: PathBuf,
    /// Rows in the file (those without a key included).
    pub rows: u64,
    /// Rows whose key is empty: never joined.
    pub no_key: u64,
    pub keys: Vec<String>,
    pub values: Vec<Option<Cell>>,
    pub slice: Option<Vec<Option<String>>>,
    index: HashMap<String, usize>,
}

impl Keyed {
    /// Row of a key.
    pub fn find(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn open(path: &Path) -> Result<Table> {
    Table::open(&[path.to_path_buf()]).map_err(|e| {
        Error::invalid_with_hint(e.to_string(), "pass a CSV, TSV, Parquet or NDJSON file")
    })
}

/// Reads `key`, `value` and (if present in this file) `slice` from `path`.
/// `shown` is how the file is named in messages. A missing key or value
/// column, or a key on two rows, is an error naming the file and column.
pub fn read(
    path: &Path,
    shown: &str,
    key: &str,
    value: &str,
    value_what: &str,
    slice: Option<&str>,
) -> Result<Keyed> {
    let table = open(path)?;
    let missing = |col: &str, what: &str| {
        // A file without a header has its first row for column names: a
        // name that looks like a value is counted, never printed.
        let all: Vec<&str> = table.schema().iter().map(|(n, _)| n.as_str()).collect();
        let mut names: Vec<&str> = all
            .iter()
            .copied()
            .filter(|n| n.parse::<f64>().is_err() && crate::privacy::identifier_kind(n).is_none())
            .collect();
        let hidden = all.len() - names.len();
        let note = format!("{hidden} that look like values: does the file have a header?");
        if hidden > 0 {
            names.push(&note);
        }
        Error::invalid_with_hint(
            format!("`{shown}` has no {what} column `{col}`"),
            format!(
                "its columns are {}; name the column with `--{}`",
                names.join(", "),
                if what == "key" { "key" } else { value_what }
            ),
        )
    };
    let key_dtype = table
        .dtype(key)
        .cloned()
        .ok_or_else(|| missing(key, "key"))?;
    let value_dtype = table
        .dtype(value)
        .cloned()
        .ok_or_else(|| missing(value, value_what))?;
    let mut cols = vec![
        (key.to_string(), crate::drift::load::key_dtype(key_dtype)),
        (value.to_string(), value_dtype),
    ];
    let slice = slice.filter(|s| table.dtype(s).is_some());
    if let Some(s) = slice {
        cols.push((s.to_string(), Dtype::Str));
    }
    let mut read = table
        .read_rows(&cols)
        .map_err(|e| Error::invalid(e.to_string()))?;
    let slice_cells = (read.len() == 3).then(|| read.pop().unwrap_or_default());
    let values_all = read.pop().unwrap_or_default();
    let keys_all = read.pop().unwrap_or_default();
    let rows = keys_all.len() as u64;
    let mut keys = Vec::with_capacity(keys_all.len());
    let mut values = Vec::with_capacity(keys_all.len());
    let mut slices = slice_cells
        .as_ref()
        .map(|_| Vec::with_capacity(keys_all.len()));
    let mut index = HashMap::with_capacity(keys_all.len());
    let (mut no_key, mut duplicates) = (0u64, 0u64);
    for (i, (k, v)) in keys_all.into_iter().zip(values_all).enumerate() {
        let Some(k) = k.as_ref().map(key_text).filter(|k| !k.trim().is_empty()) else {
            no_key += 1;
            continue;
        };
        if index.contains_key(&k) {
            duplicates += 1;
            continue;
        }
        index.insert(k.clone(), keys.len());
        keys.push(k);
        values.push(v);
        if let (Some(out), Some(cells)) = (slices.as_mut(), slice_cells.as_ref()) {
            out.push(cells.get(i).cloned().flatten().map(|c| key_text(&c)));
        }
    }
    if duplicates > 0 {
        return Err(Error::invalid_with_hint(
            format!("`{shown}`: {duplicates} row(s) repeat a key already seen in column `{key}`"),
            "each row must have its own key: deduplicate the file, or name another `--key`",
        ));
    }
    Ok(Keyed {
        path: path.to_path_buf(),
        rows,
        no_key,
        keys,
        values,
        slice: slices,
        index,
    })
}

/// Rows of `a` and `b` with the same key, in `a`'s order.
pub fn inner(a: &Keyed, b: &Keyed) -> Vec<(usize, usize)> {
    a.keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| b.find(k).map(|j| (i, j)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_on_text_keys_and_refuses_duplicates() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = dir.path().join("a.csv");
        let b = dir.path().join("b.csv");
        std::fs::write(
            &a,
            "id,prediction,region\n1,0.9,north\n2,0.1,south\n3,0.5,north\n,0.7,x\n",
        )
        .expect("write");
        std::fs::write(&b, "prediction,id\n0.8,3\n0.2,1\n0.4,9\n").expect("write");
        let ka = read(
            &a,
            "a.csv",
            "id",
            "prediction",
            "prediction",
            Some("region"),
        )
        .expect("a");
        let kb = read(
            &b,
            "b.csv",
            "id",
            "prediction",
            "prediction",
            Some("region"),
        )
        .expect("b");
        assert_eq!((ka.rows, ka.no_key, ka.len()), (4, 1, 3));
        assert_eq!(
            ka.slice.as_ref().map(|s| s[2].clone()),
            Some(Some("north".to_string()))
        );
        assert!(kb.slice.is_none(), "b has no slice column");
        let j = inner(&ka, &kb);
        assert_eq!(j, vec![(0, 1), (2, 0)]);
        assert_eq!(kb.values[j[0].1], Some(Cell::Num(0.2)));

        let d = dir.path().join("d.csv");
        std::fs::write(&d, "id,prediction\n1,0.1\n1,0.2\n2,0.3\n2,0.3\n").expect("write");
        let e = read(&d, "d.csv", "id", "prediction", "prediction", None)
            .expect_err("duplicates")
            .to_string();
        assert!(
            e.contains("`d.csv`: 2 row(s) repeat a key") && e.contains("`id`"),
            "{e}"
        );
        let e = read(&d, "d.csv", "cust", "prediction", "prediction", None)
            .expect_err("no key")
            .to_string();
        assert_eq!(e, "`d.csv` has no key column `cust`");
    }
}
