//! Reading tabular files (CSV, TSV, Parquet, NDJSON) into plain column buffers: the one module
//! that talks to polars, so the drift engine and the dataset profiles work on `Vec<f64>` and
//! dictionary codes and never see a `DataFrame`.
//!
//! Memory is bounded by reading **a batch of columns at a time**: [`Table::open`] learns the
//! schema of every file (and a Parquet file's row count from its footer) without reading data,
//! and [`plan_batches`] splits the wanted columns so that one batch of both data sets fits a
//! byte budget. A numeric column costs 8 bytes a row once loaded, a string column its
//! dictionary codes (4 bytes a row) plus the distinct strings; the estimate allows twice that.
//! For CSV and NDJSON the planner uses [`Table::rows_estimate`] (file size over the mean line
//! length of three samples): counting the rows would be a full pass over the bytes, so the
//! exact count is taken from the first read instead. At 1e7 rows × 20 numeric columns × 2
//! data sets (3.2 GB of doubles) the default 1.5 GiB budget gives batches of four columns; at
//! 1e6 rows everything is one batch and each file is parsed once.
//!
//! Within a batch nothing holds a whole file: a CSV is parsed in chunks of 4 MiB cut at record
//! boundaries (quote-aware) and appended to the column buffers chunk by chunk; Parquet and
//! NDJSON go through polars' streaming engine batch by batch (Parquet a few columns per scan,
//! since it decodes a row group of every selected column at once). The column buffers are
//! sized once from the row estimate, so they never leave freed copies in the allocator.
//!
//! Files of several formats can be mixed (a glob expanded by the caller); their columns are
//! appended in the order given. NaN, ±infinity and nulls are dropped per column (as Evidently
//! does before any test) and counted in [`Column::missing`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use polars::prelude::*;

/// File formats read by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Tsv,
    Parquet,
    Ndjson,
}

impl Format {
    /// The format of a path from its extension (`.csv`, `.tsv`, `.parquet`/`.pq`,
    /// `.ndjson`/`.jsonl`), case-insensitive; `None` for anything else.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "tsv" => Some(Format::Tsv),
            "parquet" | "pq" => Some(Format::Parquet),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            _ => None,
        }
    }
}

/// Why data could not be read; each message is one line naming the file or column.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("file `{0}` does not exist")]
    Missing(PathBuf),
    #[error("`{0}` is not a supported data file (expected .csv, .tsv, .parquet, .pq, .ndjson or .jsonl)")]
    Unsupported(PathBuf),
    #[error("cannot read `{path}`: {message}")]
    Read { path: PathBuf, message: String },
    #[error("no input files were given")]
    NoFiles,
}

/// The value kind of a column, unified over all files of a data set.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    Float,
    Int,
    Bool,
    Str,
    /// Dates, times, nested types…: reported, never tested.
    Other(String),
}

impl Dtype {
    fn from_polars(dt: &DataType) -> Dtype {
        match dt {
            DataType::Float32 | DataType::Float64 => Dtype::Float,
            DataType::Boolean => Dtype::Bool,
            DataType::String => Dtype::Str,
            // An all-null CSV column comes back as String or Null: treat it as numeric-less.
            DataType::Null => Dtype::Other("null".into()),
            d if d.is_integer() => Dtype::Int,
            d => Dtype::Other(d.to_string()),
        }
    }

    /// The kind two files with these kinds give together (an int column that is float in one
    /// file is float; anything mixed with text is text; a null-only column takes the other).
    fn unify(&self, other: &Dtype) -> Dtype {
        use Dtype::*;
        match (self, other) {
            (a, b) if a == b => a.clone(),
            (Other(n), b) | (b, Other(n)) if n == "null" => b.clone(),
            (Float, Int) | (Int, Float) => Float,
            (Str, _) | (_, Str) => Str,
            (Other(a), _) | (_, Other(a)) => Other(a.clone()),
            _ => Str,
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Dtype::Float | Dtype::Int)
    }

    /// Short name used in reports and profiles.
    pub fn name(&self) -> String {
        match self {
            Dtype::Float => "float".into(),
            Dtype::Int => "int".into(),
            Dtype::Bool => "bool".into(),
            Dtype::Str => "string".into(),
            Dtype::Other(s) => s.clone(),
        }
    }
}

/// One column of one data set with NaN/±inf/null removed.
#[derive(Debug)]
pub struct Column {
    pub name: String,
    pub dtype: Dtype,
    pub values: Values,
    /// Rows whose value was null, NaN or ±infinity (dropped from `values`).
    pub missing: u64,
}

impl Column {
    /// A column with no values yet, of the kind its dtype reads into.
    pub fn empty(name: &str, dtype: &Dtype) -> Column {
        Column {
            name: name.to_string(),
            dtype: dtype.clone(),
            values: if dtype.is_numeric() {
                Values::Num(Vec::new())
            } else {
                Values::Cat {
                    codes: Vec::new(),
                    dict: Vec::new(),
                }
            },
            missing: 0,
        }
    }
}

/// Column values: numbers as `f64` (integers too), everything else as dictionary codes into
/// `dict` (first-seen order; booleans are `false`/`true`).
#[derive(Debug)]
pub enum Values {
    Num(Vec<f64>),
    Cat { codes: Vec<u32>, dict: Vec<String> },
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Num(v) => v.len(),
            Values::Cat { codes, .. } => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Part {
    path: PathBuf,
    format: Format,
    schema: Vec<(String, Dtype)>,
    /// The schema polars inferred (CSV: from the first 10,000 rows).
    polars_schema: Option<SchemaRef>,
    /// Known from metadata (Parquet), from the first read of a column, or counted on demand:
    /// counting the rows of a CSV is a full pass over its bytes, so it is only done when
    /// nothing else gives the number.
    rows: OnceLock<u64>,
}

impl Part {
    /// Exact row count, counting the file if it is not known yet.
    fn rows(&self) -> Result<u64, LoadError> {
        if let Some(&n) = self.rows.get() {
            return Ok(n);
        }
        let n = count_rows(&self.path, self.format)?;
        Ok(*self.rows.get_or_init(|| n))
    }

    /// The exact count when known, else an estimate from the file size and the mean length of
    /// lines sampled at its start, middle and end (exact for files under 4 MiB).
    fn rows_estimate(&self) -> u64 {
        if let Some(&n) = self.rows.get() {
            return n;
        }
        estimate_lines(&self.path, self.format != Format::Ndjson).unwrap_or(0)
    }
}

/// polars' row count of one file (a full pass over a CSV or NDJSON file).
fn count_rows(path: &Path, format: Format) -> Result<u64, LoadError> {
    let lf = scan(path, format, false).map_err(|e| read_err(path, e))?;
    let rows = lf
        .select([len()])
        .collect()
        .map_err(|e| read_err(path, e))?;
    Ok(rows
        .columns()
        .first()
        .and_then(|c| c.get(0).ok())
        .and_then(|v| v.extract::<u64>())
        .unwrap_or(0))
}

/// Lines in a text file (less a header line), counted in files up to 4 MiB and estimated from
/// three 512 KiB samples in larger ones (×1.1, so that an estimate errs towards more batches).
fn estimate_lines(path: &Path, header: bool) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    const SAMPLE: u64 = 512 << 10;
    let mut f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    let lines = |buf: &[u8]| buf.iter().filter(|&&b| b == b'\n').count() as u64;
    if size <= 8 * SAMPLE {
        let mut buf = Vec::with_capacity(size as usize);
        f.read_to_end(&mut buf)?;
        let mut n = lines(&buf);
        if buf.last().is_some_and(|&b| b != b'\n') {
            n += 1;
        }
        return Ok(n.saturating_sub(u64::from(header)));
    }
    let (mut bytes, mut seen) = (0u64, 0u64);
    for at in [0, size / 2 - SAMPLE / 2, size - SAMPLE] {
        let mut buf = vec![0u8; SAMPLE as usize];
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut buf)?;
        bytes += SAMPLE;
        seen += lines(&buf);
    }
    let est = (size as f64 * seen.max(1) as f64 / bytes as f64 * 1.1).ceil() as u64;
    Ok(est.saturating_sub(u64::from(header)))
}

/// Whether a file has at least one data row: read from metadata (Parquet), or a non-blank
/// line after the header in the first 64 KiB of a CSV (a non-blank line in NDJSON); anything
/// less clear-cut is counted.
fn has_rows(part: &Part) -> Result<bool, LoadError> {
    use std::io::Read;
    if let Some(&n) = part.rows.get() {
        return Ok(n > 0);
    }
    let mut buf = Vec::with_capacity(64 << 10);
    std::fs::File::open(&part.path)
        .and_then(|f| f.take(64 << 10).read_to_end(&mut buf))
        .map_err(|e| read_err(&part.path, e))?;
    let skip = usize::from(part.format != Format::Ndjson);
    let mut lines = buf.split(|&b| b == b'\n').skip(skip);
    // only complete lines count: the last piece may be cut by the 64 KiB limit
    let complete = buf.iter().filter(|&&b| b == b'\n').count();
    if complete > skip
        && lines
            .by_ref()
            .take(complete - skip)
            .any(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
    {
        return Ok(true);
    }
    Ok(part.rows()? > 0)
}

/// A data set: one or more files read as one table.
pub struct Table {
    parts: Vec<Part>,
    schema: Vec<(String, Dtype)>,
}

fn read_err(path: &Path, e: impl std::fmt::Display) -> LoadError {
    let msg = e.to_string();
    let first = msg.lines().next().unwrap_or("").trim().to_string();
    LoadError::Read {
        path: path.to_path_buf(),
        message: first,
    }
}

/// polars' lazy scan of one file, all columns, nothing read yet.
fn scan(path: &Path, format: Format, infer_all: bool) -> PolarsResult<LazyFrame> {
    let p = PlRefPath::try_from_path(path)?;
    match format {
        Format::Csv | Format::Tsv => LazyCsvReader::new(p)
            .with_glob(false)
            .with_separator(if format == Format::Tsv { b'\t' } else { b',' })
            .with_has_header(true)
            // 10,000 rows settle most columns; a parse error triggers a full-file inference.
            .with_infer_schema_length(if infer_all { None } else { Some(10_000) })
            .finish(),
        Format::Parquet => LazyFrame::scan_parquet(
            p,
            ScanArgsParquet {
                glob: false,
                ..Default::default()
            },
        ),
        Format::Ndjson => LazyJsonLineReader::new(p)
            .with_infer_schema_length(if infer_all {
                None
            } else {
                std::num::NonZeroUsize::new(10_000)
            })
            // polars always globs NDJSON paths (`finish_no_glob` is unimplemented there)
            .finish(),
    }
}

impl Table {
    /// Learn the schema of every file, and the row count of Parquet files from their metadata
    /// (no column data is read; CSV and NDJSON rows are counted when first read).
    pub fn open(paths: &[PathBuf]) -> Result<Table, LoadError> {
        if paths.is_empty() {
            return Err(LoadError::NoFiles);
        }
        let mut parts = Vec::with_capacity(paths.len());
        for path in paths {
            if !path.exists() {
                return Err(LoadError::Missing(path.clone()));
            }
            let format = Format::of(path).ok_or_else(|| LoadError::Unsupported(path.clone()))?;
            if matches!(format, Format::Csv | Format::Tsv) {
                check_fields(path, if format == Format::Tsv { b'\t' } else { b',' })?;
            }
            let lf = scan(path, format, false).map_err(|e| read_err(path, e))?;
            let schema = lf.clone().collect_schema().map_err(|e| read_err(path, e))?;
            let rows = OnceLock::new();
            if format == Format::Parquet {
                // from the footer: no data read
                let _ = rows.set(count_rows(path, format)?);
            }
            parts.push(Part {
                path: path.clone(),
                format,
                schema: schema
                    .iter()
                    .map(|(n, dt)| (n.to_string(), Dtype::from_polars(dt)))
                    .collect(),
                polars_schema: Some(schema),
                rows,
            });
        }
        let mut schema: Vec<(String, Dtype)> = Vec::new();
        for part in &parts {
            for (name, dt) in &part.schema {
                match schema.iter_mut().find(|(n, _)| n == name) {
                    Some((_, have)) => *have = have.unify(dt),
                    None => schema.push((name.clone(), dt.clone())),
                }
            }
        }
        Ok(Table { parts, schema })
    }

    /// Columns in file order (first file first), with their unified kinds.
    pub fn schema(&self) -> &[(String, Dtype)] {
        &self.schema
    }

    pub fn dtype(&self, name: &str) -> Option<&Dtype> {
        self.schema.iter().find(|(n, _)| n == name).map(|(_, d)| d)
    }

    /// Total rows over all files. Known without a pass over the data for Parquet and after
    /// [`Table::read`]; otherwise the files are counted now (0 for a file that cannot be read,
    /// which reading reports). [`Table::try_rows`] returns the error instead.
    pub fn rows(&self) -> u64 {
        self.parts.iter().map(|p| p.rows().unwrap_or(0)).sum()
    }

    /// Total rows over all files, counting them if needed.
    pub fn try_rows(&self) -> Result<u64, LoadError> {
        self.parts.iter().map(Part::rows).sum()
    }

    /// Total rows if known, else an estimate from file sizes (for planning batches; exact
    /// for Parquet, after a read, and for text files under 4 MiB).
    pub fn rows_estimate(&self) -> u64 {
        self.parts.iter().map(Part::rows_estimate).sum()
    }

    /// Whether any file has a data row, without counting all rows where avoidable.
    pub fn has_rows(&self) -> Result<bool, LoadError> {
        for part in &self.parts {
            if has_rows(part)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.parts.iter().map(|p| p.path.as_path())
    }

    /// Read the named columns of every file (missing in a file → all-missing rows there).
    /// `as_kind` forces a kind per column (e.g. text when the other data set has text).
    pub fn read(&self, columns: &[(String, Dtype)]) -> Result<Vec<Column>, LoadError> {
        let mut out: Vec<Column> = columns
            .iter()
            .map(|(name, dt)| Column::empty(name, dt))
            .collect();
        // Sized once from the (estimated) row count: growing by doubling would leave freed
        // copies behind in the allocator.
        let est = self.rows_estimate() as usize;
        for c in &mut out {
            match &mut c.values {
                Values::Num(v) => v.reserve_exact(est),
                Values::Cat { codes, .. } => codes.reserve_exact(est),
            }
        }
        let mut lookups: Vec<HashMap<String, u32>> = vec![HashMap::new(); columns.len()];
        for part in &self.parts {
            self.read_part(part, columns, &mut out, &mut lookups)?;
        }
        Ok(out)
    }

    fn read_part(
        &self,
        part: &Part,
        columns: &[(String, Dtype)],
        out: &mut [Column],
        lookups: &mut [HashMap<String, u32>],
    ) -> Result<(), LoadError> {
        let present: Vec<usize> = (0..columns.len())
            .filter(|&i| part.schema.iter().any(|(n, _)| *n == columns[i].0))
            .collect();
        let mut df = None;
        if !present.is_empty() {
            // CSV: in chunks of whole records, so that neither the file nor a frame of all its
            // rows is ever in memory at once; anything unusual falls back to polars' scan.
            let chunked = matches!(part.format, Format::Csv | Format::Tsv)
                && guarded(&present, out, lookups, |out, lookups| {
                    read_csv_chunks(part, columns, &present, out, lookups)
                })
                .is_ok();
            // Otherwise polars' streaming scan, appending each batch as it arrives (a frame of
            // all rows would double the peak); the one-frame read is the last resort.
            let streamed = chunked
                || guarded(&present, out, lookups, |out, lookups| {
                    // Parquet decodes a row group of all selected columns at once: a few
                    // columns per scan keep that transient copy small (each column chunk
                    // is still decoded once).
                    let per_scan = match (part.format, part.rows.get()) {
                        (Format::Parquet, Some(&rows)) => {
                            ((PARQUET_SCAN_BYTES / rows.max(1).saturating_mul(8)) as usize).max(1)
                        }
                        _ => present.len(),
                    };
                    for group in present.chunks(per_scan) {
                        read_streamed(part, columns, group, out, lookups)?;
                    }
                    Ok(())
                })
                .is_ok();
            if !streamed {
                let d = fetch(part, present.iter().map(|&i| &columns[i]))?;
                let _ = part.rows.set(d.height() as u64);
                df = Some(d);
            }
        }
        if present.len() < columns.len() {
            let rows = part.rows()?;
            for (i, col) in out.iter_mut().enumerate() {
                if !present.contains(&i) {
                    col.missing += rows;
                }
            }
        }
        let Some(df) = df else {
            return Ok(());
        };
        for (&i, column) in present.iter().zip(df.into_columns()) {
            let series = column.take_materialized_series();
            append(&mut out[i], &mut lookups[i], &series).map_err(|e| read_err(&part.path, e))?;
        }
        Ok(())
    }
}

/// Bytes of decoded Parquet columns per scan (see `read_part`).
const PARQUET_SCAN_BYTES: u64 = 16 << 20;

/// Bytes of CSV parsed at a time by [`read_csv_chunks`].
const CSV_CHUNK: usize = 4 << 20;

/// The polars type a column is cast to after parsing (see [`fetch`]).
fn target_type(dt: &Dtype) -> DataType {
    match dt {
        Dtype::Float | Dtype::Int => DataType::Float64,
        Dtype::Bool => DataType::Boolean,
        _ => DataType::String,
    }
}

/// End of the last complete record in `buf` (just past its newline), given whether the bytes
/// before `buf` left a quoted field open: a newline ends a record when the number of quote
/// characters before it is even (an escaped `""` counts twice, so parity is exact).
fn last_record_end(buf: &[u8], quoted: bool) -> Option<usize> {
    if !quoted && !buf.contains(&b'"') {
        return buf.iter().rposition(|&b| b == b'\n').map(|p| p + 1);
    }
    let (mut inside, mut end) = (quoted, None);
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'"' => inside = !inside,
            b'\n' if !inside => end = Some(i + 1),
            _ => {}
        }
    }
    end
}

/// Every record of a CSV/TSV file has as many fields as its header. polars
/// fills a short row with nulls and, read in chunks, can shift a long one
/// into the next column: either way a broken file would pass as data (and
/// as drift), so it is refused up front naming the line. One pass over the
/// bytes, quote-aware, a few tens of milliseconds per 100 MB.
fn check_fields(path: &Path, sep: u8) -> Result<(), LoadError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| read_err(path, e))?;
    let mut check = FieldCheck {
        sep,
        quoted: false,
        fields: 1,
        line: 1,
        len: 0,
        header: None,
    };
    let mut buf = vec![0u8; 1 << 22];
    let mut filled = 0;
    loop {
        let n = file
            .read(&mut buf[filled..])
            .map_err(|e| read_err(path, e))?;
        filled += n;
        let whole = if n == 0 {
            filled
        } else {
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(p) => p + 1,
                None if filled < buf.len() => continue,
                None => filled,
            }
        };
        check
            .feed(&buf[..whole])
            .map_err(|message| LoadError::Read {
                path: path.to_path_buf(),
                message,
            })?;
        buf.copy_within(whole..filled, 0);
        filled -= whole;
        if n == 0 {
            break;
        }
    }
    check.end().map_err(|message| LoadError::Read {
        path: path.to_path_buf(),
        message,
    })
}

/// The state of [`check_fields`] between buffers.
struct FieldCheck {
    sep: u8,
    quoted: bool,
    fields: usize,
    line: u64,
    len: usize,
    header: Option<usize>,
}

impl FieldCheck {
    fn end_line(&mut self) -> Result<(), String> {
        if self.len > 0 {
            match self.header {
                None => self.header = Some(self.fields),
                Some(h) if h != self.fields => {
                    return Err(format!(
                        "line {} has {} field(s) where the header has {h}: fix the row, or quote a value that holds the separator",
                        self.line, self.fields
                    ))
                }
                Some(_) => {}
            }
        }
        self.line += 1;
        self.fields = 1;
        self.len = 0;
        Ok(())
    }

    /// Whole lines (the last may be unfinished only at the end of the file).
    fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        // The common case — no quote anywhere — line by line, counting
        // separators with a loop the compiler vectorises.
        if !self.quoted && memchr::memchr(b'"', bytes).is_none() {
            let mut start = 0;
            let sep = self.sep;
            for nl in memchr::memchr_iter(b'\n', bytes) {
                let line = &bytes[start..nl];
                self.fields += line.iter().map(|&b| usize::from(b == sep)).sum::<usize>();
                self.len += line.len() - usize::from(line.last() == Some(&b'\r'));
                self.end_line()?;
                start = nl + 1;
            }
            let rest = &bytes[start..];
            self.fields += rest.iter().map(|&b| usize::from(b == sep)).sum::<usize>();
            self.len += rest.len() - usize::from(rest.last() == Some(&b'\r'));
            return Ok(());
        }
        for &b in bytes {
            if b == b'"' {
                self.quoted = !self.quoted;
                self.len += 1;
            } else if self.quoted {
                // A line break inside quotes: the record goes on, the
                // line count (for the message) too.
                if b == b'\n' {
                    self.line += 1;
                }
                self.len += 1;
            } else if b == self.sep {
                self.fields += 1;
                self.len += 1;
            } else if b == b'\n' {
                self.end_line()?;
            } else if b != b'\r' {
                self.len += 1;
            }
        }
        Ok(())
    }

    fn end(mut self) -> Result<(), String> {
        if self.len > 0 {
            self.end_line()?;
        }
        Ok(())
    }
}

/// Run a read that appends to the `present` columns of `out`; on error, undo its appends so
/// that the caller can fall back to another reader.
fn guarded(
    present: &[usize],
    out: &mut [Column],
    lookups: &mut [HashMap<String, u32>],
    read: impl FnOnce(&mut [Column], &mut [HashMap<String, u32>]) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let marks: Vec<(usize, usize, u64)> = present
        .iter()
        .map(|&i| {
            let c = &out[i];
            let dict = match &c.values {
                Values::Cat { dict, .. } => dict.len(),
                Values::Num(_) => 0,
            };
            (c.values.len(), dict, c.missing)
        })
        .collect();
    let res = read(out, lookups);
    if res.is_err() {
        for (&i, &(len, dict_len, missing)) in present.iter().zip(&marks) {
            let c = &mut out[i];
            c.missing = missing;
            match &mut c.values {
                Values::Num(v) => v.truncate(len),
                Values::Cat { codes, dict } => {
                    codes.truncate(len);
                    for s in dict.drain(dict_len..) {
                        lookups[i].remove(&s);
                    }
                }
            }
        }
    }
    res
}

/// Append the `present` columns of one file to `out` batch by batch, as polars' streaming
/// engine produces them (in order), each cast as [`fetch`] casts.
fn read_streamed(
    part: &Part,
    columns: &[(String, Dtype)],
    present: &[usize],
    out: &mut [Column],
    lookups: &mut [HashMap<String, u32>],
) -> Result<(), LoadError> {
    use std::sync::{Arc, Mutex};
    type State = (Vec<(Column, HashMap<String, u32>)>, u64, Option<String>);
    let err = |e: &dyn std::fmt::Display| read_err(&part.path, e);
    let exprs: Vec<Expr> = present
        .iter()
        .map(|&i| col(columns[i].0.as_str()).cast(target_type(&columns[i].1)))
        .collect();
    let taken: Vec<(Column, HashMap<String, u32>)> = present
        .iter()
        .map(|&i| {
            let placeholder = Column::empty("", &Dtype::Float);
            (
                std::mem::replace(&mut out[i], placeholder),
                std::mem::take(&mut lookups[i]),
            )
        })
        .collect();
    let state: Arc<Mutex<State>> = Arc::new(Mutex::new((taken, 0, None)));
    let sink = state.clone();
    let callback = PlanCallback::new(move |df: DataFrame| -> PolarsResult<bool> {
        let mut guard = sink.lock().unwrap_or_else(|p| p.into_inner());
        let (cols, rows, failed) = &mut *guard;
        *rows += df.height() as u64;
        for ((c, lookup), column) in cols.iter_mut().zip(df.into_columns()) {
            if let Err(e) = append(c, lookup, &column.take_materialized_series()) {
                *failed = Some(e.to_string());
                return Ok(true); // stop
            }
        }
        Ok(false)
    });
    let res = scan(&part.path, part.format, false)
        .and_then(|lf| lf.select(exprs).sink_batches(callback, true, None))
        .and_then(|lf| lf.collect_with_engine(Engine::Streaming));
    let mut guard = state.lock().unwrap_or_else(|p| p.into_inner());
    let (cols, rows, failed) = &mut *guard;
    for (&i, (c, lookup)) in present.iter().zip(cols.drain(..)) {
        out[i] = c;
        lookups[i] = lookup;
    }
    res.map_err(|e| err(&e))?;
    if let Some(e) = failed.take() {
        return Err(err(&e));
    }
    let _ = part.rows.set(*rows);
    Ok(())
}

/// Read the `present` columns of a CSV part into `out` in chunks of about [`CSV_CHUNK`] bytes
/// cut at record boundaries, each parsed by polars' multi-threaded reader with the schema
/// inferred when the table was opened, then cast as [`fetch`] casts. Peak memory is one chunk
/// and its frame besides the column buffers (polars' scan builds a frame of all rows). On
/// error the caller ([`guarded`]) undoes the appends and falls back to another reader.
fn read_csv_chunks(
    part: &Part,
    columns: &[(String, Dtype)],
    present: &[usize],
    out: &mut [Column],
    lookups: &mut [HashMap<String, u32>],
) -> Result<(), LoadError> {
    use std::io::Read;
    let err = |e: &dyn std::fmt::Display| read_err(&part.path, e);
    let schema: Schema = part
        .polars_schema
        .as_ref()
        .ok_or_else(|| err(&"no schema"))?
        .as_ref()
        .clone();
    let schema = Arc::new(schema);
    let names: Arc<[PlSmallStr]> = present
        .iter()
        .map(|&i| PlSmallStr::from(columns[i].0.as_str()))
        .collect();
    let sep = if part.format == Format::Tsv {
        b'\t'
    } else {
        b','
    };
    let mut file = std::fs::File::open(&part.path).map_err(|e| err(&e))?;
    let mut buf: Vec<u8> = Vec::with_capacity(CSV_CHUNK + (1 << 20));
    let (mut first, mut quoted, mut eof, mut rows) = (true, false, false, 0u64);
    while !eof || !buf.is_empty() {
        // fill up to a chunk
        while !eof && buf.len() < CSV_CHUNK {
            let at = buf.len();
            buf.resize(at.max(CSV_CHUNK), 0);
            let n = file.read(&mut buf[at..]).map_err(|e| err(&e))?;
            buf.truncate(at + n);
            if n == 0 {
                eof = true;
            }
        }
        let end = if eof {
            buf.len()
        } else {
            match last_record_end(&buf, quoted) {
                Some(e) => e,
                None => {
                    // one record longer than a chunk: read on
                    buf.reserve(CSV_CHUNK);
                    let at = buf.len();
                    buf.resize(at + CSV_CHUNK, 0);
                    let n = file.read(&mut buf[at..]).map_err(|e| err(&e))?;
                    buf.truncate(at + n);
                    eof = n == 0;
                    continue;
                }
            }
        };
        let rest = buf.split_off(end);
        let chunk = std::mem::replace(&mut buf, rest);
        quoted ^= chunk.iter().filter(|&&b| b == b'"').count() % 2 == 1;
        if chunk.iter().all(|b| b.is_ascii_whitespace()) {
            first = false;
            continue;
        }
        let df = CsvReadOptions::default()
            .with_has_header(first)
            .with_schema(Some(schema.clone()))
            .with_columns(Some(names.clone()))
            .with_parse_options(CsvParseOptions::default().with_separator(sep))
            .into_reader_with_file_handle(std::io::Cursor::new(chunk))
            .finish()
            .map_err(|e| err(&e))?;
        first = false;
        rows += df.height() as u64;
        let cols = df.into_columns();
        for (&i, column) in present.iter().zip(cols) {
            let s = column
                .take_materialized_series()
                .cast(&target_type(&columns[i].1))
                .map_err(|e| err(&e))?;
            append(&mut out[i], &mut lookups[i], &s).map_err(|e| err(&e))?;
        }
    }
    let _ = part.rows.set(rows);
    Ok(())
}

/// Read the given columns of one file as a frame, each cast to its unified kind.
fn fetch<'a>(
    part: &Part,
    columns: impl Iterator<Item = &'a (String, Dtype)>,
) -> Result<DataFrame, LoadError> {
    let exprs: Vec<Expr> = columns
        .map(|(name, dt)| col(name.as_str()).cast(target_type(dt)))
        .collect();
    let collect = |infer_all: bool| -> PolarsResult<DataFrame> {
        scan(&part.path, part.format, infer_all)?
            .select(exprs.clone())
            .collect_with_engine(Engine::Streaming)
            .map(|r| r.unwrap_single())
    };
    // A CSV whose type changes after the inferred prefix fails to parse: infer on all rows.
    match collect(false) {
        Ok(df) => Ok(df),
        Err(_) if part.format != Format::Parquet => {
            collect(true).map_err(|e| read_err(&part.path, e))
        }
        Err(e) => Err(read_err(&part.path, e)),
    }
}

/// A join key as text, so `42`, `42.0` and `"42"` in different files meet.
pub fn key_text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Num(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", *x as i64),
        Cell::Num(x) => x.to_string(),
    }
}

/// How a join key is read: integers as text, so 19-digit ids (above 2^53)
/// stay distinct instead of meeting as the same float; other kinds as
/// they are (a float key is normalised by the caller).
pub fn key_dtype(dtype: Dtype) -> Dtype {
    match dtype {
        Dtype::Int => Dtype::Str,
        other => other,
    }
}

/// One value of a row-aligned read (see [`Table::read_rows`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Num(f64),
    Text(String),
}

impl Table {
    /// Read columns keeping row alignment (missing, NaN and ±inf as `None`): for prediction and
    /// label columns, whose rows must stay paired.
    pub fn read_rows(
        &self,
        columns: &[(String, Dtype)],
    ) -> Result<Vec<Vec<Option<Cell>>>, LoadError> {
        let mut out: Vec<Vec<Option<Cell>>> = vec![Vec::new(); columns.len()];
        for part in &self.parts {
            let present: Vec<usize> = (0..columns.len())
                .filter(|&i| part.schema.iter().any(|(n, _)| *n == columns[i].0))
                .collect();
            let df = if present.is_empty() {
                None
            } else {
                let df = fetch(part, present.iter().map(|&i| &columns[i]))?;
                let _ = part.rows.set(df.height() as u64);
                Some(df)
            };
            if present.len() < columns.len() {
                let rows = part.rows()? as usize;
                for (i, o) in out.iter_mut().enumerate() {
                    if !present.contains(&i) {
                        o.extend(std::iter::repeat_n(None, rows));
                    }
                }
            }
            let Some(df) = df else {
                continue;
            };
            for (&i, column) in present.iter().zip(df.into_columns()) {
                let s = column.take_materialized_series();
                let err = |e| read_err(&part.path, e);
                if let Ok(ca) = s.f64() {
                    out[i].extend(
                        ca.iter()
                            .map(|v| v.filter(|x| x.is_finite()).map(Cell::Num)),
                    );
                } else if let Ok(ca) = s.bool() {
                    out[i].extend(ca.iter().map(|v| v.map(|b| Cell::Text(b.to_string()))));
                } else {
                    let ca = s.str().map_err(err)?;
                    out[i].extend(ca.iter().map(|v| v.map(|x| Cell::Text(x.to_string()))));
                }
            }
        }
        Ok(out)
    }
}

/// Append one file's values of a column, dropping (and counting) null, NaN and ±inf.
fn append(out: &mut Column, lookup: &mut HashMap<String, u32>, s: &Series) -> PolarsResult<()> {
    match &mut out.values {
        Values::Num(v) => {
            let ca = s.f64()?;
            v.reserve(ca.len() - ca.null_count());
            let before = v.len();
            for arr in ca.downcast_iter() {
                if arr.validity().is_none_or(|b| b.unset_bits() == 0) {
                    v.extend(arr.values().iter().copied().filter(|x| x.is_finite()));
                } else {
                    v.extend(arr.iter().flatten().copied().filter(|x| x.is_finite()));
                }
            }
            out.missing += (ca.len() - (v.len() - before)) as u64;
        }
        Values::Cat { codes, dict } => {
            let mut code_of = |key: &str, codes: &mut Vec<u32>| {
                let code = match lookup.get(key) {
                    Some(&c) => c,
                    None => {
                        let c = dict.len() as u32;
                        dict.push(key.to_string());
                        lookup.insert(key.to_string(), c);
                        c
                    }
                };
                codes.push(code);
            };
            if let Ok(ca) = s.bool() {
                for v in ca.iter() {
                    match v {
                        Some(b) => code_of(if b { "true" } else { "false" }, codes),
                        None => out.missing += 1,
                    }
                }
            } else {
                let ca = s.str()?;
                codes.reserve(ca.len());
                for v in ca.iter() {
                    match v {
                        Some(x) => code_of(x, codes),
                        None => out.missing += 1,
                    }
                }
            }
        }
    }
    Ok(())
}

/// Bytes one row of a column costs while a batch is read (parse buffers included).
fn row_cost(dt: &Dtype) -> u64 {
    if dt.is_numeric() {
        16
    } else {
        // dictionary code + polars' string view while parsing
        24
    }
}

/// Split `columns` into batches whose estimated footprint over `rows` (both data sets
/// together) stays under `budget` bytes; every batch holds at least one column.
pub fn plan_batches<T: Clone>(
    columns: &[(T, Dtype)],
    rows: u64,
    budget: u64,
) -> Vec<Vec<(T, Dtype)>> {
    let mut batches: Vec<Vec<(T, Dtype)>> = Vec::new();
    let mut current: Vec<(T, Dtype)> = Vec::new();
    let mut used = 0u64;
    for c in columns {
        let cost = row_cost(&c.1).saturating_mul(rows);
        if !current.is_empty() && used.saturating_add(cost) > budget {
            batches.push(std::mem::take(&mut current));
            used = 0;
        }
        used = used.saturating_add(cost);
        current.push(c.clone());
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Write a table to `path` in the format its extension names (tests and fixtures).
pub fn write_table(path: &Path, df: &mut DataFrame) -> Result<(), LoadError> {
    let format = Format::of(path).ok_or_else(|| LoadError::Unsupported(path.to_path_buf()))?;
    let file = std::fs::File::create(path).map_err(|e| read_err(path, e))?;
    let res = match format {
        Format::Csv => CsvWriter::new(file).finish(df),
        Format::Tsv => CsvWriter::new(file).with_separator(b'\t').finish(df),
        Format::Parquet => ParquetWriter::new(file).finish(df).map(|_| ()),
        Format::Ndjson => JsonWriter::new(file)
            .with_json_format(JsonFormat::JsonLines)
            .finish(df),
    };
    res.map_err(|e| read_err(path, e))
}

/// Build a frame from named columns of optional doubles / strings (tests and fixtures).
pub fn frame(columns: Vec<(&str, TestValues)>) -> DataFrame {
    let cols: Vec<polars::prelude::Column> = columns
        .into_iter()
        .map(|(name, v)| match v {
            TestValues::F64(v) => Series::new(name.into(), v).into(),
            TestValues::I64(v) => Series::new(name.into(), v).into(),
            TestValues::Str(v) => Series::new(name.into(), v).into(),
            TestValues::Bool(v) => Series::new(name.into(), v).into(),
        })
        .collect();
    DataFrame::new_infer_height(cols).expect("columns of equal length")
}

/// Column values for [`frame`].
pub enum TestValues {
    F64(Vec<Option<f64>>),
    I64(Vec<Option<i64>>),
    Str(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_all_formats_and_counts_missing() {
        let dir = tempfile::tempdir().expect("tmp");
        for ext in ["csv", "tsv", "parquet", "ndjson"] {
            let path = dir.path().join(format!("t.{ext}"));
            let mut df = frame(vec![
                (
                    "x",
                    TestValues::F64(vec![Some(1.0), None, Some(f64::NAN), Some(4.0)]),
                ),
                (
                    "s",
                    TestValues::Str(vec![
                        Some("a".into()),
                        Some("b".into()),
                        None,
                        Some("a".into()),
                    ]),
                ),
            ]);
            write_table(&path, &mut df).expect("write");
            let t = Table::open(std::slice::from_ref(&path)).expect("open");
            assert_eq!(t.rows(), 4, "{ext}");
            let cols = t.read(t.schema()).expect("read");
            // CSV writes NaN as "NaN", which parses back as NaN: dropped either way.
            assert_eq!(cols[0].missing, 2, "{ext}");
            assert!(matches!(&cols[0].values, Values::Num(v) if v == &vec![1.0, 4.0]));
            assert_eq!(cols[1].missing, 1, "{ext}");
            match &cols[1].values {
                Values::Cat { codes, dict } => {
                    assert_eq!(codes, &vec![0, 1, 0]);
                    assert_eq!(dict, &vec!["a".to_string(), "b".to_string()]);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// Values of a column as comparable text (numbers by bits).
    fn dump(c: &Column) -> (Vec<String>, u64) {
        let v = match &c.values {
            Values::Num(v) => v.iter().map(|x| x.to_bits().to_string()).collect(),
            Values::Cat { codes, dict } => {
                codes.iter().map(|&k| dict[k as usize].clone()).collect()
            }
        };
        (v, c.missing)
    }

    /// The chunked CSV reader against polars' one-frame read of the same file.
    fn same_as_one_frame(path: &Path) -> u64 {
        let t = Table::open(&[path.to_path_buf()]).expect("open");
        let cols = t.read(t.schema()).expect("read");
        let df = fetch(&t.parts[0], t.schema().iter()).expect("fetch");
        let mut want: Vec<Column> = t
            .schema()
            .iter()
            .map(|(name, dt)| Column::empty(name, dt))
            .collect();
        for (c, s) in want.iter_mut().zip(df.into_columns()) {
            append(c, &mut HashMap::new(), &s.take_materialized_series()).expect("append");
        }
        for (a, b) in cols.iter().zip(&want) {
            assert_eq!(dump(a), dump(b), "{}", a.name);
        }
        // and the chunked reader itself succeeded (no silent fallback)
        let mut direct: Vec<Column> = t.read(&[]).expect("none");
        for (name, dt) in t.schema() {
            let mut c = t
                .read(&[(name.clone(), dt.clone())])
                .expect("one")
                .remove(0);
            match &mut c.values {
                Values::Num(v) => v.clear(),
                Values::Cat { codes, dict } => {
                    codes.clear();
                    dict.clear();
                }
            }
            c.missing = 0;
            direct.push(c);
        }
        let all: Vec<usize> = (0..direct.len()).collect();
        let mut lookups = vec![HashMap::new(); direct.len()];
        read_csv_chunks(&t.parts[0], t.schema(), &all, &mut direct, &mut lookups).expect("chunked");
        for (a, b) in direct.iter().zip(&want) {
            assert_eq!(dump(a), dump(b), "{}", a.name);
        }
        assert!(t.has_rows().expect("has rows"));
        t.rows()
    }

    #[test]
    fn chunked_csv_reads_like_polars() {
        let dir = tempfile::tempdir().expect("tmp");
        // quoted separators, quotes and newlines across several 4 MiB chunks, nulls, NaN
        let path = dir.path().join("q.csv");
        let mut text = String::from("x,\"s, t\",n\n");
        let n = 600_000;
        for i in 0..n {
            let s = match i % 5 {
                0 => format!("\"line\nbreak {}\"", i % 7),
                1 => "\"say \"\"hi\"\", ok\"".to_string(),
                2 => String::new(),
                _ => format!("plain{}", i % 3),
            };
            let x = if i % 11 == 0 {
                "NaN".to_string()
            } else {
                format!("{}.25", i % 1000)
            };
            text.push_str(&format!("{x},{s},{}\n", i % 13));
        }
        std::fs::write(&path, &text).expect("write");
        assert!(text.len() > 2 * CSV_CHUNK);
        assert_eq!(same_as_one_frame(&path), n);
        // an integer column that turns float after the inferred prefix: the fallback reader
        let path = dir.path().join("late.csv");
        let mut text = String::from("a,b\n");
        for i in 0..400_000 {
            let a = if i == 399_990 {
                "2.5".to_string()
            } else {
                (i % 17).to_string()
            };
            text.push_str(&format!("{a},{}\n", i % 5));
        }
        std::fs::write(&path, &text).expect("write");
        let t = Table::open(std::slice::from_ref(&path)).expect("open");
        let cols = t.read(t.schema()).expect("read");
        assert_eq!(t.rows(), 400_000);
        match &cols[0].values {
            Values::Num(v) => {
                assert_eq!(v.len(), 400_000);
                assert_eq!(v[399_990], 2.5);
                assert_eq!(v[399_991], (399_991 % 17) as f64);
            }
            other => panic!("{other:?}"),
        }
        // header only, and no trailing newline
        let path = dir.path().join("h.csv");
        std::fs::write(&path, "a,b\n").expect("write");
        let t = Table::open(std::slice::from_ref(&path)).expect("open");
        assert!(!t.has_rows().expect("has rows"));
        assert_eq!(t.rows(), 0);
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "a,b\n1,x\n2,y").expect("write");
        assert_eq!(same_as_one_frame(&path), 2);
    }

    #[test]
    fn batches_respect_budget() {
        let cols: Vec<(String, Dtype)> = (0..20).map(|i| (format!("c{i}"), Dtype::Float)).collect();
        assert_eq!(plan_batches(&cols, 2_000_000, 768 << 20).len(), 1);
        let b = plan_batches(&cols, 20_000_000, 768 << 20);
        assert_eq!(b.len(), 10);
        assert_eq!(plan_batches(&cols, u64::MAX / 4, 1).len(), 20);
    }

    #[test]
    fn missing_and_unsupported_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("nope.csv");
        let e = Table::open(std::slice::from_ref(&p))
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("does not exist"));
        let q = dir.path().join("x.txt");
        std::fs::write(&q, "a\n1\n").expect("write");
        let e = Table::open(std::slice::from_ref(&q))
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("not a supported data file"));
    }
}
