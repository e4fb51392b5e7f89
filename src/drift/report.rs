//! The drift run: [`compare`] reads reference and current data a batch of columns at a time,
//! tests every column as Evidently's `DataDriftPreset` would, and gathers everything else a
//! reviewer needs (schema changes, null shares, unseen categories, out-of-range values, PSI
//! with its banking band, prediction drift and model quality) into one [`Report`].
//!
//! A column that cannot be tested never aborts the run: it is reported with the reason. The
//! report is `Serialize` and deterministic (columns in reference order, findings in column
//! order, no hash-map order), because it becomes the body of the `drift-report` record.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use super::columns::{classify, compare_schemas, sort_f64, ColumnKind, SchemaChanges};
use super::load::{plan_batches, Column, Dtype, LoadError, Table, Values};
use super::performance::{self, Cell, Performance};
use super::profile_ref::{self, ProfileSource};
use super::stats::{
    binned_proportions, default_test, psi_band, run_test, BinLabel, FeatureType, PsiBand, Sample,
    StatTest,
};
use crate::drift::profile::Profile;

/// Per-column settings from `mlops.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ColumnOverride {
    pub test: Option<StatTest>,
    pub threshold: Option<f64>,
    #[serde(default)]
    pub ignore: bool,
}

/// What to compare and how; `DriftOptions::default()` is Evidently's preset.
#[derive(Clone, Debug, Serialize)]
pub struct DriftOptions {
    /// Only these columns (each must exist); `None` = every reference column.
    pub columns: Option<Vec<String>>,
    pub overrides: BTreeMap<String, ColumnOverride>,
    /// Dataset drift when drifted / tested ≥ this (Evidently: 0.5).
    pub drift_share: f64,
    pub prediction: Option<String>,
    pub label: Option<String>,
    /// One of [`performance::METRICS`]; default `accuracy` for binary labels, else `rmse`.
    pub metric: Option<String>,
    /// The metric recorded at training/validation time.
    pub reference_metric: Option<f64>,
    pub max_degradation: Option<f64>,
    /// Bytes of column data held at once (both data sets); larger data is read in batches.
    pub memory_budget: u64,
    /// What a report may keep of the data (`[privacy]`, docs/privacy.md).
    pub privacy: crate::privacy::Policy,
    /// See [`NULL_SHARE_DRIFT`].
    pub null_share_drift: f64,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            columns: None,
            overrides: BTreeMap::new(),
            drift_share: 0.5,
            prediction: None,
            label: None,
            metric: None,
            reference_metric: None,
            max_degradation: None,
            memory_budget: DEFAULT_BUDGET,
            privacy: crate::privacy::Policy::default(),
            null_share_drift: NULL_SHARE_DRIFT,
        }
    }
}

/// 1.5 GiB of estimated column buffers (the estimate allows twice the 8 bytes a number
/// takes): 1e7 rows × 20 numeric columns × 2 data sets run in 5 batches of four columns at
/// about 0.75 GB of resident memory, well under 2 GB; 1e6 rows read in one pass.
pub const DEFAULT_BUDGET: u64 = 1536 << 20;

/// Null-share changes at least this large (absolute) become findings.
pub const NULL_SHARE_FINDING: f64 = 0.05;

/// A change this large in a column's share of missing values (null, NaN,
/// ±inf) is drift of that column, whatever its remaining values look like:
/// a feature that went 75 % NaN has drifted, even if the finite quarter
/// still matches the reference. `[monitors.<m>] null_share_drift`.
pub const NULL_SHARE_DRIFT: f64 = 0.1;

/// The data drift is measured against.
#[derive(Clone, Copy, Debug)]
pub enum Reference<'a> {
    Files(&'a [PathBuf]),
    Profile(&'a Profile),
}

/// Why a drift run could not happen at all.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("reference data: {0}")]
    Reference(LoadError),
    #[error("current data: {0}")]
    Current(LoadError),
    #[error("current data has no rows (`{0}`)")]
    EmptyCurrent(PathBuf),
    #[error("reference data has no rows")]
    EmptyReference,
    #[error("column `{column}` is not in the {side} data")]
    ColumnMissing { column: String, side: &'static str },
    #[error("{0}")]
    BadOption(String),
    /// A feed that cannot be compared must not pass as "no drift" (a wrong
    /// separator reads as one column that matches nothing).
    #[error("no column of {current} could be compared with the reference: check its separator, header and column names")]
    NothingComparable { current: String },
}

/// Role of a column in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Feature,
    Prediction,
    Label,
}

/// Null (and NaN/inf) shares of a column.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NullShare {
    pub reference: Option<f64>,
    pub current: Option<f64>,
    /// current − reference.
    pub change: Option<f64>,
}

/// A current value never seen in the reference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unseen {
    pub value: String,
    pub count: u64,
}

/// Current values outside the reference's [min, max].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutOfRange {
    pub reference_min: f64,
    pub reference_max: f64,
    pub current_min: f64,
    pub current_max: f64,
    pub below: u64,
    pub above: u64,
}

/// PSI of the column with its banking band.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PsiScore {
    pub score: f64,
    pub band: PsiBand,
}

/// The shares the test's binning saw, for charts (categorical: top 20 and the rest).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Chart {
    pub numeric: bool,
    pub bins: Vec<ChartBin>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChartBin {
    pub label: String,
    pub reference: f64,
    pub current: f64,
}

/// Everything known about one column.
#[derive(Clone, Debug, Serialize)]
pub struct ColumnResult {
    pub column: String,
    pub role: Role,
    pub kind: ColumnKind,
    /// Value kind in the reference and current data (`None` when absent).
    pub dtype: (Option<String>, Option<String>),
    /// Present (non-missing) values in each set.
    pub count: (u64, u64),
    pub test: Option<StatTest>,
    pub score: Option<f64>,
    pub threshold: Option<f64>,
    pub drift: bool,
    /// The test or threshold came from the configuration.
    pub overridden: bool,
    /// Why no test ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_tested: Option<String>,
    pub null_share: NullShare,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unseen: Vec<Unseen>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_range: Option<OutOfRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiScore>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart: Option<Chart>,
    /// Set when the reference was a profile: what came from it and what was substituted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_profile: Option<ProfileSource>,
}

/// Something a reviewer should look at besides the per-column verdicts.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    DatasetDrift {
        share: f64,
        drift_share: f64,
    },
    NothingTested,
    MissingColumn {
        column: String,
    },
    NewColumn {
        column: String,
    },
    Retyped {
        column: String,
        reference: String,
        current: String,
    },
    NotTested {
        column: String,
        reason: String,
    },
    NullShare {
        column: String,
        reference: f64,
        current: f64,
    },
    UnseenCategories {
        column: String,
        values: usize,
        rows: u64,
        examples: Vec<String>,
    },
    OutOfRange {
        column: String,
        below: u64,
        above: u64,
        share: f64,
    },
    Psi {
        column: String,
        score: f64,
        band: PsiBand,
    },
    Degradation {
        metric: String,
        reference: f64,
        current: f64,
        degradation: f64,
        max_degradation: f64,
    },
}

/// The result of one drift run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `files` or `profile`.
    pub reference_kind: &'static str,
    /// Rows in reference and current.
    pub rows: (u64, u64),
    pub columns: Vec<ColumnResult>,
    pub schema: SchemaChanges,
    pub drifted: usize,
    pub tested: usize,
    pub share: f64,
    pub drift_share: f64,
    pub dataset_drift: bool,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance: Option<Performance>,
}

impl Report {
    pub fn column(&self, name: &str) -> Option<&ColumnResult> {
        self.columns.iter().find(|c| c.column == name)
    }
}

/// The reference side: a file table or a profile.
enum RefSide<'a> {
    Files(Table),
    Profile(&'a Profile),
}

impl RefSide<'_> {
    fn schema(&self) -> Vec<(String, Dtype)> {
        match self {
            RefSide::Files(t) => t.schema().to_vec(),
            RefSide::Profile(p) => p
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.dtype.clone()))
                .collect(),
        }
    }

    fn rows(&self) -> u64 {
        match self {
            RefSide::Files(t) => t.rows(),
            RefSide::Profile(p) => p.rows,
        }
    }

    fn rows_estimate(&self) -> u64 {
        match self {
            RefSide::Files(t) => t.rows_estimate(),
            RefSide::Profile(p) => p.rows,
        }
    }

    fn has_rows(&self) -> Result<bool, LoadError> {
        match self {
            RefSide::Files(t) => t.has_rows(),
            RefSide::Profile(p) => Ok(p.rows > 0),
        }
    }
}

/// Compare current data with a reference; see the module documentation.
pub fn compare(
    reference: Reference,
    current: &[PathBuf],
    opts: &DriftOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Report, DriftError> {
    validate(opts)?;
    progress("reading schemas");
    let cur = Table::open(current).map_err(DriftError::Current)?;
    if !cur.has_rows().map_err(DriftError::Current)? {
        return Err(DriftError::EmptyCurrent(
            current.first().cloned().unwrap_or_default(),
        ));
    }
    let refside = match reference {
        Reference::Files(paths) => {
            RefSide::Files(Table::open(paths).map_err(DriftError::Reference)?)
        }
        Reference::Profile(p) => RefSide::Profile(p),
    };
    if !refside.has_rows().map_err(DriftError::Reference)? {
        return Err(DriftError::EmptyReference);
    }
    let ref_schema = refside.schema();
    let cur_schema = cur.schema().to_vec();
    let has = |schema: &[(String, Dtype)], n: &str| schema.iter().any(|(c, _)| c == n);

    // Which columns, in reference order, with their roles.
    let mut wanted: Vec<(String, Role)> = Vec::new();
    if let Some(list) = &opts.columns {
        for c in list {
            for (schema, side) in [(&ref_schema, "reference"), (&cur_schema, "current")] {
                if !has(schema, c) {
                    return Err(DriftError::ColumnMissing {
                        column: c.clone(),
                        side,
                    });
                }
            }
        }
    }
    for c in [&opts.prediction, &opts.label].into_iter().flatten() {
        if !has(&cur_schema, c) {
            return Err(DriftError::ColumnMissing {
                column: c.clone(),
                side: "current",
            });
        }
    }
    for (name, _) in &ref_schema {
        let role = if opts.prediction.as_deref() == Some(name) {
            Role::Prediction
        } else if opts.label.as_deref() == Some(name) {
            Role::Label
        } else {
            Role::Feature
        };
        let selected = match &opts.columns {
            Some(list) => list.contains(name) || role != Role::Feature,
            None => true,
        };
        let ignored = opts.overrides.get(name).is_some_and(|o| o.ignore);
        if selected && !ignored {
            wanted.push((name.clone(), role));
        }
    }
    let mut schema = compare_schemas(&ref_schema, &cur_schema);
    if opts.columns.is_some() {
        schema
            .missing
            .retain(|c| wanted.iter().any(|(w, _)| w == c));
        schema
            .retyped
            .retain(|r| wanted.iter().any(|(w, _)| *w == r.column));
    }

    // Columns that can be read on both sides; the rest are reported without data.
    let mut results: BTreeMap<usize, ColumnResult> = BTreeMap::new();
    let mut readable: Vec<(usize, Dtype)> = Vec::new();
    for (i, (name, role)) in wanted.iter().enumerate() {
        let rt = ref_schema.iter().find(|(n, _)| n == name).map(|(_, d)| d);
        let ct = cur_schema.iter().find(|(n, _)| n == name).map(|(_, d)| d);
        match (rt, ct) {
            (Some(_), Some(ct)) if schema.retyped.iter().all(|r| r.column != *name) => {
                readable.push((i, ct.clone()));
            }
            (rt, ct) => {
                let reason = if ct.is_none() {
                    "missing in the current data".to_string()
                } else {
                    format!(
                        "retyped: {} in the reference, {} in the current data",
                        rt.map(Dtype::name).unwrap_or_default(),
                        ct.map(Dtype::name).unwrap_or_default()
                    )
                };
                let mut r = empty_result(name, *role, rt, ct);
                r.not_tested = Some(reason);
                results.insert(i, r);
            }
        }
    }

    // An estimate for text files (counting a CSV's rows is a pass over all its bytes); the
    // exact counts are known once a batch has been read.
    let total_rows = refside.rows_estimate() + cur.rows_estimate();
    let batches = plan_batches(&readable, total_rows, opts.memory_budget);
    let n_batches = batches.len();
    for (b, batch) in batches.into_iter().enumerate() {
        let names: Vec<&str> = batch.iter().map(|(i, _)| wanted[*i].0.as_str()).collect();
        progress(&format!(
            "testing {} (batch {} of {n_batches})",
            names.join(", "),
            b + 1
        ));
        let cur_cols: Vec<(String, Dtype)> = batch
            .iter()
            .map(|(i, dt)| (wanted[*i].0.clone(), dt.clone()))
            .collect();
        // Both sides at once: each reader has sequential stretches (file reads, record
        // boundaries, appending) that the other fills.
        let read_ref = || -> Result<Vec<RefColumn>, DriftError> {
            Ok(match &refside {
                RefSide::Files(t) => {
                    let cols: Vec<(String, Dtype)> = cur_cols
                        .iter()
                        .map(|(n, _)| (n.clone(), t.dtype(n).cloned().unwrap_or(Dtype::Float)))
                        .collect();
                    t.read(&cols)
                        .map_err(DriftError::Reference)?
                        .into_iter()
                        .map(RefColumn::Data)
                        .collect()
                }
                RefSide::Profile(p) => cur_cols
                    .iter()
                    .map(|(n, _)| match p.column(n) {
                        Some(cp) => RefColumn::Profile(cp),
                        None => RefColumn::Absent,
                    })
                    .collect(),
            })
        };
        let (cur_data, ref_data) = rayon::join(|| cur.read(&cur_cols), read_ref);
        let cur_data = cur_data.map_err(DriftError::Current)?;
        let ref_data = ref_data?;
        let ref_rows = refside.rows();
        let cur_rows = cur.rows();
        let done: Vec<(usize, ColumnResult)> = batch
            .par_iter()
            .zip(cur_data.into_par_iter().zip(ref_data.into_par_iter()))
            .map(|((i, _), (c, r))| {
                let (name, role) = &wanted[*i];
                let ov = opts.overrides.get(name);
                let column = (name.as_str(), *role);
                (
                    *i,
                    analyze(column, r, ref_rows, c, cur_rows, ov, &opts.privacy),
                )
            })
            .collect();
        results.extend(done);
    }
    let columns: Vec<ColumnResult> = results.into_values().collect();

    let performance = match (&opts.prediction, &opts.label) {
        (Some(p), Some(l)) => {
            progress("computing model quality");
            Some(evaluate_performance(&cur, p, l, opts)?)
        }
        _ => None,
    };
    let report = assemble(
        match reference {
            Reference::Files(_) => "files",
            Reference::Profile(_) => "profile",
        },
        (refside.rows(), cur.rows()),
        columns,
        schema,
        (opts.drift_share, opts.null_share_drift),
        performance,
    );
    // Nothing actually compared (every column gone, unsupported or empty).
    if report.columns.iter().all(|c| c.score.is_none()) {
        let files: Vec<String> = cur.files().map(|p| format!("`{}`", p.display())).collect();
        return Err(DriftError::NothingComparable {
            current: files.join(", "),
        });
    }
    Ok(report)
}

fn validate(opts: &DriftOptions) -> Result<(), DriftError> {
    if !(0.0..=1.0).contains(&opts.drift_share) {
        return Err(DriftError::BadOption(format!(
            "drift share `{}` is not between 0 and 1",
            opts.drift_share
        )));
    }
    if !(opts.null_share_drift > 0.0 && opts.null_share_drift <= 1.0) {
        return Err(DriftError::BadOption(format!(
            "null_share_drift `{}` is not in (0, 1]",
            opts.null_share_drift
        )));
    }
    if let Some(m) = &opts.metric {
        if !performance::METRICS.contains(&m.as_str()) {
            return Err(DriftError::BadOption(format!(
                "unknown metric `{m}` (expected one of {})",
                performance::METRICS.join(", ")
            )));
        }
    }
    Ok(())
}

/// Reference data for one column.
pub(crate) enum RefColumn<'a> {
    Data(Column),
    Profile(&'a crate::drift::profile::ColumnProfile),
    Absent,
}

fn empty_result(name: &str, role: Role, rt: Option<&Dtype>, ct: Option<&Dtype>) -> ColumnResult {
    ColumnResult {
        column: name.to_string(),
        role,
        kind: ColumnKind::Unsupported,
        dtype: (rt.map(Dtype::name), ct.map(Dtype::name)),
        count: (0, 0),
        test: None,
        score: None,
        threshold: None,
        drift: false,
        overridden: false,
        not_tested: None,
        null_share: NullShare::default(),
        unseen: Vec::new(),
        out_of_range: None,
        psi: None,
        chart: None,
        from_profile: None,
    }
}

/// Whether a reference text column may be compared by value.
fn protection(c: &Column, policy: &crate::privacy::Policy) -> Option<crate::privacy::Protection> {
    match &c.values {
        Values::Cat { codes, dict } => {
            let mut counts = vec![0u64; dict.len()];
            for code in codes {
                counts[*code as usize] += 1;
            }
            let pairs: Vec<(&str, u64)> = dict
                .iter()
                .map(String::as_str)
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .collect();
            crate::privacy::protect_text(&c.name, &pairs, codes.len() as u64, policy)
        }
        Values::Num(v) => {
            let mut sorted = v.clone();
            crate::drift::columns::sort_f64(&mut sorted);
            let integers = matches!(c.dtype, Dtype::Int);
            crate::privacy::protect_numbers(&c.name, &sorted, integers, policy)
        }
    }
}

fn share(missing: u64, rows: u64) -> Option<f64> {
    (rows > 0).then(|| missing as f64 / rows as f64)
}

/// Test one column. Never fails: problems become `not_tested`.
fn analyze(
    (name, role): (&str, Role),
    reference: RefColumn,
    ref_rows: u64,
    mut current: Column,
    cur_rows: u64,
    ov: Option<&ColumnOverride>,
    policy: &crate::privacy::Policy,
) -> ColumnResult {
    let (reference, source) = match reference {
        RefColumn::Data(c) => {
            // A reference column that is identifier-like (or listed as pii
            // or excluded) is not compared by value: a report is recorded
            // and pushed, and must not carry customers' values.
            if let Some(p) = protection(&c, policy) {
                let mut r = empty_result(name, role, Some(&c.dtype), Some(&current.dtype));
                r.null_share = null_shares(c.missing, ref_rows, current.missing, cur_rows);
                r.not_tested = Some(format!(
                    "protected ({}): only the null share is compared",
                    p.reason
                ));
                return r;
            }
            (c, None)
        }
        RefColumn::Profile(cp) => match profile_ref::reference_column(cp, &mut current) {
            Ok((c, src)) => (c, Some(src)),
            Err(reason) => {
                let mut r = empty_result(name, role, Some(&cp.dtype), Some(&current.dtype));
                r.not_tested = Some(reason);
                r.null_share = null_shares(cp.missing, ref_rows, current.missing, cur_rows);
                return r;
            }
        },
        RefColumn::Absent => {
            let mut r = empty_result(name, role, None, Some(&current.dtype));
            r.not_tested = Some("missing in the reference".into());
            return r;
        }
    };
    let mut r = empty_result(name, role, Some(&reference.dtype), Some(&current.dtype));
    r.null_share = null_shares(reference.missing, ref_rows, current.missing, cur_rows);
    r.count = (reference.values.len() as u64, current.values.len() as u64);
    r.from_profile = source;

    let (mut rv, mut cv, names) = match to_numbers(reference.values, current.values) {
        Some(x) => x,
        None => {
            r.not_tested = Some("values are numbers on one side and text on the other".into());
            return r;
        }
    };
    // Columns already run in parallel: one sequential radix sort per side each.
    sort_f64(&mut rv);
    sort_f64(&mut cv);
    let cur_distinct = distinct_sorted(&cv);
    r.kind = classify(&current.dtype, cv.len(), cur_distinct);
    if cv.is_empty() {
        r.not_tested = Some("all values are missing in the current data".into());
        return r;
    }
    if rv.is_empty() {
        r.not_tested = Some("all values are missing in the reference data".into());
        return r;
    }
    let ft = match r.kind {
        ColumnKind::Numeric => FeatureType::Numeric,
        ColumnKind::Categorical => FeatureType::Categorical,
        ColumnKind::Text => {
            r.not_tested = Some(format!(
                "text column: {cur_distinct} of {} current values are distinct",
                cv.len()
            ));
            return r;
        }
        ColumnKind::Unsupported => {
            r.not_tested = Some(format!(
                "values of type `{}` are not tested",
                current.dtype.name()
            ));
            return r;
        }
    };
    let (rs, cs) = (Sample::Numeric(&rv), Sample::Numeric(&cv));
    let label = |l: &BinLabel| -> String {
        match (l, &names) {
            (BinLabel::Value(v), Some(n)) => n.get(*v as usize).cloned().unwrap_or_default(),
            (BinLabel::Value(v), None) => format!("{v}"),
            (BinLabel::Range { lo, hi }, _) => format!("{} – {}", short(*lo), short(*hi)),
            (BinLabel::Category(s), _) => s.clone(),
        }
    };

    if ft == FeatureType::Categorical {
        // A new value is named only when k rows hold it and it does not look
        // like an identifier; the rest are counted together.
        let (mut kept, mut pooled, mut pooled_rows) = (Vec::new(), 0u64, 0u64);
        for (v, count) in unseen(&rv, &cv) {
            let value = label(&BinLabel::Value(v));
            if crate::privacy::keep_category(&value, count, policy) {
                kept.push(Unseen { value, count });
            } else {
                pooled += 1;
                pooled_rows += count;
            }
        }
        if pooled > 0 {
            kept.push(Unseen {
                value: format!("({pooled} other values)"),
                count: pooled_rows,
            });
        }
        r.unseen = kept;
    } else {
        // Bounds are the k-th smallest and largest values, rounded: the
        // extremes themselves are single customers' values.
        let k = (policy.k.max(1) as usize).min(rv.len()).min(cv.len());
        let (rmin, rmax) = (rv[k - 1], rv[rv.len() - k]);
        let below = cv.partition_point(|&x| x < rmin) as u64;
        let above = (cv.len() - cv.partition_point(|&x| x <= rmax)) as u64;
        r.out_of_range = Some(OutOfRange {
            reference_min: crate::privacy::round4(rmin),
            reference_max: crate::privacy::round4(rmax),
            current_min: crate::privacy::round4(cv[k - 1]),
            current_max: crate::privacy::round4(cv[cv.len() - k]),
            below,
            above,
        });
    }

    let requested = ov.and_then(|o| o.test);
    let mut threshold = ov.and_then(|o| o.threshold);
    r.overridden = requested.is_some() || threshold.is_some();
    let mut test = requested.unwrap_or_else(|| choose_test(ft, &rv, &cv));
    if let Some(src) = r.from_profile.as_mut() {
        let used = profile_ref::substitute(test, ft, src);
        if used != test {
            // a threshold set for the requested test means nothing for its substitute
            threshold = None;
            test = used;
        }
    }
    match run_test(test, ft, &rs, &cs, threshold) {
        Ok(o) => {
            r.test = Some(o.test);
            r.score = Some(o.score);
            r.threshold = Some(o.threshold);
            r.drift = o.drift;
        }
        Err(e) => {
            r.test = Some(test);
            r.not_tested = Some(e.to_string());
        }
    }
    if let Ok(p) = run_test(StatTest::Psi, ft, &rs, &cs, None) {
        r.psi = Some(PsiScore {
            score: p.score,
            band: psi_band(p.score),
        });
    }
    if let Ok(b) = binned_proportions(ft, &rs, &cs, false) {
        let mut bins: Vec<ChartBin> = b
            .labels
            .iter()
            .zip(b.reference.iter().zip(&b.current))
            .map(|(l, (&r, &c))| ChartBin {
                label: label(l),
                reference: r,
                current: c,
            })
            .collect();
        if ft == FeatureType::Categorical {
            // Charts go into HTML reports people pass around: a category
            // held by fewer than k rows on both sides, or shaped like an
            // identifier, is shown pooled.
            let (nr, nc) = (rv.len() as f64, cv.len() as f64);
            let (rare, kept): (Vec<ChartBin>, Vec<ChartBin>) = bins.into_iter().partition(|b| {
                let rows = (b.reference * nr).max(b.current * nc).round() as u64;
                !crate::privacy::keep_category(&b.label, rows, policy)
            });
            bins = kept;
            if !rare.is_empty() {
                bins.push(ChartBin {
                    label: format!("({} rare values)", rare.len()),
                    reference: rare.iter().map(|b| b.reference).sum(),
                    current: rare.iter().map(|b| b.current).sum(),
                });
            }
        }
        if ft == FeatureType::Categorical && bins.len() > CHART_CATEGORIES {
            bins.sort_by(|a, b| (b.reference + b.current).total_cmp(&(a.reference + a.current)));
            let rest = bins.split_off(CHART_CATEGORIES);
            bins.push(ChartBin {
                label: format!("({} others)", rest.len()),
                reference: rest.iter().map(|b| b.reference).sum(),
                current: rest.iter().map(|b| b.current).sum(),
            });
        }
        r.chart = Some(Chart {
            numeric: ft == FeatureType::Numeric,
            bins,
        });
    }
    r
}

/// [`default_test`] without its cost on large columns: the rule only asks whether the union
/// of both samples has more than 5 (or 2) distinct values, which two sorted slices answer
/// with an early exit, whereas `default_test` tallies every distinct value (millions of them
/// for a continuous column). Below 6 distinct values `default_test` itself decides.
fn choose_test(ft: FeatureType, rv: &[f64], cv: &[f64]) -> StatTest {
    let (mut i, mut j, mut distinct) = (0, 0, 0);
    while distinct <= 5 && (i < rv.len() || j < cv.len()) {
        let x = match (rv.get(i), cv.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        while i < rv.len() && rv[i] == x {
            i += 1;
        }
        while j < cv.len() && cv[j] == x {
            j += 1;
        }
        distinct += 1;
    }
    if distinct <= 5 {
        return default_test(ft, &Sample::Numeric(rv), &Sample::Numeric(cv));
    }
    match (rv.len() <= 1000, ft) {
        (true, FeatureType::Numeric) => StatTest::Ks,
        (true, FeatureType::Categorical) => StatTest::Chisquare,
        (false, FeatureType::Numeric) => StatTest::Wasserstein,
        (false, FeatureType::Categorical) => StatTest::Jensenshannon,
    }
}

/// Categories shown per chart.
pub const CHART_CATEGORIES: usize = 20;

fn null_shares(rm: u64, rr: u64, cm: u64, cr: u64) -> NullShare {
    let (a, b) = (share(rm, rr), share(cm, cr));
    NullShare {
        reference: a,
        current: b,
        change: a.zip(b).map(|(a, b)| b - a),
    }
}

/// A number formatted with at most 4 significant digits.
pub fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor() as i32;
    if !(-4..6).contains(&mag) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - mag).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn distinct_sorted(v: &[f64]) -> usize {
    if v.is_empty() {
        0
    } else {
        1 + v.windows(2).filter(|w| w[0] != w[1]).count()
    }
}

/// Values of the sorted `cur` absent from the sorted `reference`, with their counts.
fn unseen(reference: &[f64], cur: &[f64]) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = Vec::new();
    for &x in cur {
        if reference.binary_search_by(|p| p.total_cmp(&x)).is_ok() {
            continue;
        }
        match out.last_mut() {
            Some((v, c)) if *v == x => *c += 1,
            _ => out.push((x, 1)),
        }
    }
    out
}

/// Reference values, current values, and category names by rank.
type Numbers = (Vec<f64>, Vec<f64>, Option<Vec<String>>);

/// Both sides as numbers: numbers stay numbers; categories become the rank of their string in
/// the byte-ordered union of both dictionaries, so the stats see the same category order (and
/// give the same values) as with the strings themselves, at 8 bytes a row. Returns the names
/// by rank for categories; `None` when one side is numeric and the other text.
fn to_numbers(r: Values, c: Values) -> Option<Numbers> {
    match (r, c) {
        (Values::Num(a), Values::Num(b)) => Some((a, b, None)),
        (
            Values::Cat {
                codes: rc,
                dict: rd,
            },
            Values::Cat {
                codes: cc,
                dict: cd,
            },
        ) => {
            let mut names: Vec<String> = rd.iter().chain(&cd).cloned().collect();
            names.sort_unstable();
            names.dedup();
            let rank = |d: &[String]| -> Vec<f64> {
                d.iter()
                    .map(|s| names.binary_search(s).unwrap_or(0) as f64)
                    .collect()
            };
            let (rr, cr) = (rank(&rd), rank(&cd));
            let a = rc.iter().map(|&k| rr[k as usize]).collect();
            let b = cc.iter().map(|&k| cr[k as usize]).collect();
            Some((a, b, Some(names)))
        }
        _ => None,
    }
}

fn evaluate_performance(
    cur: &Table,
    prediction: &str,
    label: &str,
    opts: &DriftOptions,
) -> Result<Performance, DriftError> {
    let cols: Vec<(String, Dtype)> = [prediction, label]
        .iter()
        .map(|n| (n.to_string(), cur.dtype(n).cloned().unwrap_or(Dtype::Str)))
        .collect();
    let rows = cur.read_rows(&cols).map_err(DriftError::Current)?;
    let (p, l) = (&rows[0], &rows[1]);
    let metric = opts.metric.clone().unwrap_or_else(|| {
        let mut distinct: Vec<&Cell> = Vec::new();
        for c in l.iter().flatten() {
            if !distinct.contains(&c) {
                distinct.push(c);
                if distinct.len() > 2 {
                    break;
                }
            }
        }
        if distinct.len() > 2 {
            "rmse".into()
        } else {
            "accuracy".into()
        }
    });
    Ok(Performance::judge(
        &metric,
        (prediction, label),
        (p, l),
        opts.reference_metric,
        opts.max_degradation,
    ))
}

/// A report that judges only the model's quality: a late-label monitor
/// compares no columns, but its verdict travels the same way (exit code,
/// record, drift gate, audit report) as a drift run's.
pub fn performance_only(performance: Performance) -> Report {
    let rows = performance.rows;
    let mut report = assemble(
        "labels",
        (0, rows),
        Vec::new(),
        SchemaChanges::default(),
        (1.0, NULL_SHARE_DRIFT),
        Some(performance),
    );
    report.findings.retain(|f| *f != Finding::NothingTested);
    report
}

fn assemble(
    reference_kind: &'static str,
    rows: (u64, u64),
    mut columns: Vec<ColumnResult>,
    schema: SchemaChanges,
    (drift_share, null_share_drift): (f64, f64),
    performance: Option<Performance>,
) -> Report {
    // A column the model was trained on that is gone or changed type in
    // today's data has drifted as far as a column can: it counts towards the
    // share (so the exit code, the record and the promotion gate all see it)
    // instead of silently leaving the denominator.
    for c in &mut columns {
        if schema.missing.contains(&c.column) || schema.retyped.iter().any(|r| r.column == c.column)
        {
            c.drift = true;
        }
        if c.null_share
            .change
            .is_some_and(|d| d.abs() >= null_share_drift)
        {
            c.drift = true;
        }
    }
    let tested = columns
        .iter()
        .filter(|c| c.score.is_some() || c.drift)
        .count();
    let drifted = columns.iter().filter(|c| c.drift).count();
    let share = if tested > 0 {
        drifted as f64 / tested as f64
    } else {
        0.0
    };
    let dataset_drift = tested > 0 && share >= drift_share;
    let mut findings = Vec::new();
    if dataset_drift {
        findings.push(Finding::DatasetDrift { share, drift_share });
    }
    if tested == 0 {
        findings.push(Finding::NothingTested);
    }
    findings.extend(
        schema
            .missing
            .iter()
            .map(|c| Finding::MissingColumn { column: c.clone() }),
    );
    findings.extend(schema.retyped.iter().map(|r| Finding::Retyped {
        column: r.column.clone(),
        reference: r.reference.clone(),
        current: r.current.clone(),
    }));
    findings.extend(
        schema
            .new
            .iter()
            .map(|c| Finding::NewColumn { column: c.clone() }),
    );
    for c in &columns {
        let col = c.column.clone();
        if let Some(reason) = &c.not_tested {
            let schema_reason = schema.missing.contains(&c.column)
                || schema.retyped.iter().any(|r| r.column == c.column);
            if !schema_reason {
                findings.push(Finding::NotTested {
                    column: col.clone(),
                    reason: reason.clone(),
                });
            }
        }
        if let (Some(a), Some(b)) = (c.null_share.reference, c.null_share.current) {
            if (b - a).abs() >= NULL_SHARE_FINDING {
                findings.push(Finding::NullShare {
                    column: col.clone(),
                    reference: a,
                    current: b,
                });
            }
        }
        if !c.unseen.is_empty() {
            findings.push(Finding::UnseenCategories {
                column: col.clone(),
                values: c.unseen.len(),
                rows: c.unseen.iter().map(|u| u.count).sum(),
                examples: c.unseen.iter().take(10).map(|u| u.value.clone()).collect(),
            });
        }
        if let Some(o) = &c.out_of_range {
            if o.below + o.above > 0 {
                findings.push(Finding::OutOfRange {
                    column: col.clone(),
                    below: o.below,
                    above: o.above,
                    share: (o.below + o.above) as f64 / c.count.1.max(1) as f64,
                });
            }
        }
        if let Some(p) = &c.psi {
            if p.band != PsiBand::Stable {
                findings.push(Finding::Psi {
                    column: col,
                    score: p.score,
                    band: p.band,
                });
            }
        }
    }
    if let Some(p) = &performance {
        if let (true, Some(r), Some(c), Some(d), Some(m)) = (
            p.degraded,
            p.reference,
            p.current,
            p.degradation,
            p.max_degradation,
        ) {
            findings.push(Finding::Degradation {
                metric: p.metric.clone(),
                reference: r,
                current: c,
                degradation: d,
                max_degradation: m,
            });
        }
    }
    Report {
        reference_kind,
        rows,
        columns,
        schema,
        drifted,
        tested,
        share,
        drift_share,
        dataset_drift,
        findings,
        performance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_test_equals_default_test() {
        let mk = |n: usize, k: usize| -> Vec<f64> {
            let mut v: Vec<f64> = (0..n).map(|i| ((i * 7919) % k) as f64).collect();
            v.sort_unstable_by(f64::total_cmp);
            v
        };
        for n in [10, 1000, 1001, 3000] {
            for k in [1, 2, 3, 5, 6, 7, 50] {
                for ft in [FeatureType::Numeric, FeatureType::Categorical] {
                    let (a, b) = (mk(n, k), mk(n / 2 + 1, k + 1));
                    let want = default_test(ft, &Sample::Numeric(&a), &Sample::Numeric(&b));
                    assert_eq!(choose_test(ft, &a, &b), want, "{n} {k} {ft:?}");
                }
            }
        }
    }
}
