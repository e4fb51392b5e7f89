//! The **profile** of a tabular file, recorded with each dataset version so that drift can be
//! measured against the training data after the raw files are gone (DESIGN.md, Datasets).
//!
//! **Profiles hold no personal data** (layout 2; `crate::privacy` and docs/privacy.md): no
//! individual numeric value (the sketch keeps quantiles only where at least k rows lie on either
//! side, rounded to four significant digits; `min` and `max` are the k-th smallest and largest
//! values, rounded; exact value counts only for values shared by k rows), no category held by
//! fewer than k rows or shaped like an identifier, and for identifier-like or `pii` text columns
//! only counts, null share and the distribution of value lengths. Layout-1 profiles, written
//! before, are still read.
//!
//! A profile is compact — a few kilobytes per column whatever the row count — and holds what
//! the drift tests need:
//! - schema, row count, and per column the missing share (null, NaN and ±inf, which drift drops
//!   before testing) and the exact distinct count (free once the column is sorted);
//! - numbers: the k-th smallest and largest values (rounded), mean, population and sample std,
//!   a 100-bin histogram between those two (charts, `data show`, and empty regions for the
//!   sketch) with the rows beyond them counted, and a **quantile sketch**: the quantiles
//!   (numpy's linear rule, rounded to four significant digits) at those of 223 levels — steps
//!   of 0.005 over 0.01–0.99 and geometric steps (1, 2, 5 × 10⁻ᵏ down to 10⁻⁶) in each tail —
//!   that have at least k rows on either side. Piecewise-linear interpolation between those
//!   knots reproduces the normed Wasserstein distance within a few percent of the exact value
//!   (docs/privacy.md gives the tolerance and `engine_tests` checks it);
//! - numbers with at most [`VALUE_COUNTS_MAX`] distinct values also keep the exact counts of
//!   the values held by at least k rows, so every test — including Evidently's
//!   one-bin-per-value binning — is exact when no value is rarer than that;
//! - strings and booleans: the [`TOP_K`] most frequent values held by at least k rows and not
//!   shaped like an identifier, and the count (and number of distinct values) of the rest;
//!   identifier-like columns: the distribution of value lengths only.
//!
//! Values are computed in one sort per column (parallel over columns), after polars has read a
//! batch of columns with its multi-threaded reader. No NaN or infinity is ever stored (JSON has
//! none): undefined statistics are `None`.

use std::collections::BTreeSet;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::drift::load::{plan_batches, Column, Dtype, Format, LoadError, Table, Values};
use crate::privacy::{self, Policy, Protection};

/// Numeric columns with at most this many distinct values keep exact value counts.
pub const VALUE_COUNTS_MAX: usize = 100;
/// Category frequencies kept per column.
pub const TOP_K: usize = 50;
/// Histogram bins over min..max.
pub const HIST_BINS: usize = 100;
/// Memory budget for the column buffers while profiling.
const BUDGET: u64 = 1 << 30;

/// Why a file could not be profiled.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ProfileError(#[from] LoadError);

/// Profile of one tabular file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Layout version of this structure.
    pub version: u32,
    pub format: Format,
    pub rows: u64,
    /// Columns in file order.
    pub columns: Vec<ColumnProfile>,
    /// The privacy settings the profile was made under (layout 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<Policy>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    pub dtype: Dtype,
    /// Values that are null, NaN or ±infinity.
    pub missing: u64,
    /// `missing / rows`; `None` for a file without rows.
    pub null_share: Option<f64>,
    /// Exact number of distinct present values.
    pub distinct: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<CategoryProfile>,
    /// Why this column keeps no values (identifier-like, `pii`, `exclude`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<Protection>,
    /// For a protected text column: how many values have each length
    /// (0..=64 characters, longer ones in the last bin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lengths: Option<Vec<u64>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumericProfile {
    /// Present values (rows − missing).
    pub count: u64,
    /// The k-th smallest value, rounded to four significant digits (layout 1: the minimum).
    pub min: f64,
    /// The k-th largest value, rounded likewise (layout 1: the maximum).
    pub max: f64,
    pub mean: f64,
    pub std_pop: f64,
    /// `None` with a single value.
    pub std_sample: Option<f64>,
    pub sketch: Sketch,
    pub histogram: Histogram,
    /// Exact (value, count) pairs, ascending, when there are ≤ [`VALUE_COUNTS_MAX`] distinct
    /// values; only values held by at least k rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_counts: Option<Vec<(f64, u64)>>,
    /// Rows whose value was held by fewer than k rows, left out of `value_counts`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value_counts_other: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Quantiles of the sorted column: `values[i]` is the quantile at `levels[i]` (numpy's linear
/// rule); when `exact`, `values` is the whole sorted column and `levels` is empty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sketch {
    pub exact: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<f64>,
    pub values: Vec<f64>,
}

/// Equal-width bins over `lo..hi` (the last bin closed, as numpy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<u64>,
    /// Values below `lo` and above `hi` (layout 2: the k-th smallest and largest).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub below: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub above: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryProfile {
    pub count: u64,
    /// Most frequent values, by count descending then value.
    pub top: Vec<(String, u64)>,
    /// Rows holding a value outside `top`, and how many distinct values those are.
    pub other: u64,
    pub other_distinct: u64,
}

impl Profile {
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl CategoryProfile {
    /// Whether `top` holds every category (no `other`).
    pub fn is_complete(&self) -> bool {
        self.other == 0
    }
}

impl Sketch {
    /// The sketch's quantile function at `u ∈ [0, 1]`: exact for an exact sketch, linear
    /// between the knots otherwise.
    pub fn quantile(&self, u: f64) -> f64 {
        if self.exact {
            return quantile_sorted(&self.values, u);
        }
        let k = self.levels.partition_point(|&l| l <= u);
        if k == 0 {
            return self.values[0];
        }
        if k >= self.levels.len() {
            return self.values[self.values.len() - 1];
        }
        let (l0, l1) = (self.levels[k - 1], self.levels[k]);
        let (v0, v1) = (self.values[k - 1], self.values[k]);
        v0 + (u - l0) / (l1 - l0) * (v1 - v0)
    }
}

impl NumericProfile {
    /// The column's quantile function as knots `(u, x)`, increasing in both, for
    /// piecewise-linear interpolation ([`interpolate`]). The sketch's knots are merged with the
    /// histogram's edges (an edge with `k` values below it sits at `u = (k − ½)/(n − 1)`), so a
    /// gap between two modes, where the histogram is empty, stays empty instead of being
    /// filled by interpolating across it.
    pub fn knots(&self) -> Vec<(f64, f64)> {
        let n = self.count as f64;
        if self.sketch.exact {
            let m = self.sketch.values.len();
            let d = (m.max(2) - 1) as f64;
            return self
                .sketch
                .values
                .iter()
                .enumerate()
                .map(|(i, &x)| (i as f64 / d, x))
                .collect();
        }
        let mut knots: Vec<(f64, f64)> = self
            .sketch
            .levels
            .iter()
            .copied()
            .zip(self.sketch.values.iter().copied())
            .collect();
        let h = &self.histogram;
        let bins = h.counts.len();
        let width = (h.hi - h.lo) / bins as f64;
        let mut below = h.below;
        for (j, c) in h.counts.iter().enumerate().take(bins.saturating_sub(1)) {
            below += c;
            let edge = h.lo + (j + 1) as f64 * width;
            let u = ((below as f64 - 0.5) / (n - 1.0)).clamp(0.0, 1.0);
            knots.push((u, edge));
        }
        knots.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.total_cmp(&b.0)));
        let mut max_u = 0.0f64;
        for k in knots.iter_mut() {
            max_u = max_u.max(k.0);
            k.0 = max_u;
        }
        knots
    }
}

/// Piecewise-linear quantile function through `knots` (from [`NumericProfile::knots`]).
pub fn interpolate(knots: &[(f64, f64)], u: f64) -> f64 {
    let k = knots.partition_point(|&(l, _)| l <= u);
    if k == 0 {
        return knots[0].1;
    }
    if k >= knots.len() {
        return knots[knots.len() - 1].1;
    }
    let ((u0, x0), (u1, x1)) = (knots[k - 1], knots[k]);
    if u1 == u0 {
        return x0;
    }
    x0 + (u - u0) / (u1 - u0) * (x1 - x0)
}

/// numpy `quantile(sorted, u)` with the default linear rule.
pub fn quantile_sorted(sorted: &[f64], u: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let h = u * (n - 1) as f64;
    let lo = (h.floor() as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The 223 sketch levels: 0, 1, geometric tails down to 1e-6, steps of 0.005 in the body.
pub fn sketch_levels() -> Vec<f64> {
    let mut tail = Vec::new();
    for k in (3..=6).rev() {
        for m in [1.0, 2.0, 5.0] {
            tail.push(m / 10f64.powi(k));
        }
    }
    let mut levels = vec![0.0];
    levels.extend(&tail);
    levels.extend((2..=198).map(|i| i as f64 / 200.0));
    levels.extend(tail.iter().rev().map(|t| 1.0 - t));
    levels.push(1.0);
    levels
}

/// The layout of profiles this mlops writes.
pub const LAYOUT: u32 = 2;

/// Profile a tabular file; `None` when the extension is not a tabular format.
pub fn profile_file(path: &Path, policy: &Policy) -> Result<Option<Profile>, ProfileError> {
    let Some(format) = Format::of(path) else {
        return Ok(None);
    };
    let table = Table::open(&[path.to_path_buf()])?;
    let mut columns = Vec::with_capacity(table.schema().len());
    // An estimate for text files until the first batch is read; then exact.
    for batch in plan_batches(table.schema(), table.rows_estimate(), BUDGET) {
        let read = table.read(&batch)?;
        let rows = table.rows();
        let mut done: Vec<ColumnProfile> = read
            .into_par_iter()
            .map(|c| profile_column(c, rows, policy))
            .collect();
        columns.append(&mut done);
    }
    let rows = table.try_rows()?;
    Ok(Some(Profile {
        version: LAYOUT,
        format,
        rows,
        columns,
        privacy: Some(policy.clone()),
    }))
}

/// Profile of one loaded column (`rows` = rows of the file).
pub fn profile_column(column: Column, rows: u64, policy: &Policy) -> ColumnProfile {
    let Column {
        name,
        dtype,
        values,
        missing,
    } = column;
    let null_share = (rows > 0).then(|| missing as f64 / rows as f64);
    let mut out = ColumnProfile {
        name,
        dtype,
        missing,
        null_share,
        distinct: 0,
        numeric: None,
        categories: None,
        protected: None,
        lengths: None,
    };
    if policy.exclude.iter().any(|c| c == &out.name) {
        out.protected = privacy::protect_text(&out.name, &[], 0, policy);
        return out;
    }
    match values {
        Values::Num(mut v) => {
            crate::drift::columns::sort_f64(&mut v);
            out.distinct = distinct_sorted(&v) as u64;
            let integers = matches!(out.dtype, Dtype::Int);
            if let Some(p) = privacy::protect_numbers(&out.name, &v, integers, policy) {
                out.protected = Some(p);
                return out;
            }
            out.numeric = numeric_profile(&v, out.distinct as usize, policy.k.max(1) as usize);
        }
        Values::Cat { codes, dict } => {
            let mut counts = vec![0u64; dict.len()];
            for c in &codes {
                counts[*c as usize] += 1;
            }
            out.distinct = dict.len() as u64;
            let present = codes.len() as u64;
            let mut pairs: Vec<(String, u64)> = dict.into_iter().zip(counts).collect();
            let borrowed: Vec<(&str, u64)> = pairs.iter().map(|(v, n)| (v.as_str(), *n)).collect();
            if let Some(p) = privacy::protect_text(&out.name, &borrowed, present, policy) {
                if !p.excluded() {
                    out.lengths = Some(privacy::lengths(borrowed.iter().copied()));
                }
                out.protected = Some(p);
                return out;
            }
            pairs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            type Counted = Vec<(String, u64)>;
            let (mut top, mut rest): (Counted, Counted) = pairs
                .into_iter()
                .partition(|(v, n)| privacy::keep_category(v, *n, policy));
            rest.extend(top.split_off(top.len().min(TOP_K)));
            out.categories = Some(CategoryProfile {
                count: present,
                top,
                other: rest.iter().map(|p| p.1).sum(),
                other_distinct: rest.len() as u64,
            });
        }
    }
    out
}

fn distinct_sorted(v: &[f64]) -> usize {
    if v.is_empty() {
        0
    } else {
        1 + v.windows(2).filter(|w| w[0] != w[1]).count()
    }
}

fn numeric_profile(v: &[f64], distinct: usize, k: usize) -> Option<NumericProfile> {
    let n = v.len();
    // Fewer rows than k: any figure would describe a handful of people.
    if n == 0 || n < k {
        return None;
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let ss: f64 = v.iter().map(|x| (x - mean) * (x - mean)).sum();
    // The k-th smallest and largest: at least k rows at or beyond each.
    let (lo, hi) = (v[k - 1], v[n - k]);
    let first = (k - 1) as f64;
    let last = (n - k) as f64;
    let span = (n.max(2) - 1) as f64;
    let (levels, values): (Vec<f64>, Vec<f64>) = sketch_levels()
        .into_iter()
        .filter(|&u| u * span >= first - 1e-9 && u * span <= last + 1e-9)
        .map(|u| (u, privacy::round4(quantile_sorted(v, u))))
        .unzip();
    let (levels, values) = if levels.is_empty() {
        // Too few rows for any sketch level inside the k-anonymous range.
        (vec![first / span], vec![privacy::round4(lo)])
    } else {
        (levels, values)
    };
    let sketch = Sketch {
        exact: false,
        levels,
        values,
    };
    let mut other = 0u64;
    let value_counts = (distinct <= VALUE_COUNTS_MAX).then(|| {
        let mut all: Vec<(f64, u64)> = Vec::with_capacity(distinct);
        for &x in v {
            match all.last_mut() {
                Some((last, c)) if *last == x => *c += 1,
                _ => all.push((x + 0.0, 1)),
            }
        }
        all.retain(|&(_, c)| {
            let keep = c as usize >= k;
            if !keep {
                other += c;
            }
            keep
        });
        all
    });
    Some(NumericProfile {
        count: n as u64,
        min: privacy::round4(lo),
        max: privacy::round4(hi),
        mean,
        std_pop: (ss / n as f64).sqrt(),
        std_sample: (n > 1).then(|| (ss / (n - 1) as f64).sqrt()),
        sketch,
        histogram: histogram(v, lo, hi),
        value_counts,
        value_counts_other: other,
    })
}

/// Equal-width bins over `[lo, hi]` (the k-th smallest and largest values;
/// edges stored rounded), with the rows beyond them counted apart.
fn histogram(sorted: &[f64], lo: f64, hi: f64) -> Histogram {
    let bins = if lo == hi { 1 } else { HIST_BINS };
    let width = (hi - lo) / bins as f64;
    let below = sorted.partition_point(|&x| x < lo);
    let end = sorted.partition_point(|&x| x <= hi);
    let mut cum: Vec<usize> = (0..bins)
        .map(|i| {
            sorted
                .partition_point(|&x| x < lo + i as f64 * width)
                .max(below)
        })
        .collect();
    cum.push(end);
    Histogram {
        lo: privacy::round4(lo),
        hi: privacy::round4(hi),
        counts: cum.windows(2).map(|w| (w[1] - w[0]) as u64).collect(),
        below: below as u64,
        above: (sorted.len() - end) as u64,
    }
}

/// What changed between two profiles (`mlops data diff`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProfileDiff {
    pub rows: (u64, u64),
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub retyped: Vec<(String, Dtype, Dtype)>,
    /// Columns present in both, in the new file's order.
    pub columns: Vec<ColumnDiff>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnDiff {
    pub name: String,
    pub null_share: (Option<f64>, Option<f64>),
    pub mean: (Option<f64>, Option<f64>),
    /// New mean − old mean, in old standard deviations when that is non-zero.
    pub mean_shift_std: Option<f64>,
    pub distinct: (u64, u64),
}

/// Compare two profiles.
pub fn diff(old: &Profile, new: &Profile) -> ProfileDiff {
    let old_names: BTreeSet<&str> = old.columns.iter().map(|c| c.name.as_str()).collect();
    let new_names: BTreeSet<&str> = new.columns.iter().map(|c| c.name.as_str()).collect();
    let mut out = ProfileDiff {
        rows: (old.rows, new.rows),
        added: new
            .columns
            .iter()
            .filter(|c| !old_names.contains(c.name.as_str()))
            .map(|c| c.name.clone())
            .collect(),
        removed: old
            .columns
            .iter()
            .filter(|c| !new_names.contains(c.name.as_str()))
            .map(|c| c.name.clone())
            .collect(),
        retyped: Vec::new(),
        columns: Vec::new(),
    };
    for n in &new.columns {
        let Some(o) = old.column(&n.name) else {
            continue;
        };
        if o.dtype != n.dtype {
            out.retyped
                .push((n.name.clone(), o.dtype.clone(), n.dtype.clone()));
        }
        let mean = |c: &ColumnProfile| c.numeric.as_ref().map(|p| p.mean);
        let (om, nm) = (mean(o), mean(n));
        let shift = match (om, nm, o.numeric.as_ref()) {
            (Some(a), Some(b), Some(p)) if p.std_pop > 0.0 => Some((b - a) / p.std_pop),
            _ => None,
        };
        out.columns.push(ColumnDiff {
            name: n.name.clone(),
            null_share: (o.null_share, n.null_share),
            mean: (om, nm),
            mean_shift_std: shift,
            distinct: (o.distinct, n.distinct),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::load::{frame, write_table, TestValues};

    fn normal(n: usize, seed: u64, shift: f64) -> Vec<f64> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                // Box–Muller
                let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
                (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() + shift
            })
            .collect()
    }

    #[test]
    fn levels_are_sorted_and_counted() {
        let l = sketch_levels();
        assert_eq!(l.len(), 223);
        assert!(l.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((l[0], l[222]), (0.0, 1.0));
    }

    #[test]
    fn profile_of_a_csv() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("d.csv");
        let n = 5000;
        let x: Vec<Option<f64>> = normal(n, 1, 0.0)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i % 10 != 0).then_some(v))
            .collect();
        let k: Vec<Option<i64>> = (0..n as i64).map(|i| Some(i % 4)).collect();
        let s: Vec<Option<String>> = (0..n).map(|i| Some(format!("c{}", i % 60))).collect();
        // 40 categories, and one value held by 3 rows only.
        let t: Vec<Option<String>> = (0..n)
            .map(|i| {
                Some(if i < 3 {
                    "rare".to_string()
                } else {
                    format!("t{}", i % 40)
                })
            })
            .collect();
        let mut df = frame(vec![
            ("x", TestValues::F64(x)),
            ("k", TestValues::I64(k)),
            ("s", TestValues::Str(s)),
            ("t", TestValues::Str(t)),
        ]);
        write_table(&p, &mut df).expect("write");
        let prof = profile_file(&p, &crate::privacy::Policy::default())
            .expect("profile")
            .expect("tabular");
        assert_eq!(prof.rows, n as u64);
        let x = prof.column("x").expect("x");
        assert_eq!(x.missing, 500);
        assert_eq!(x.null_share, Some(0.1));
        let num = x.numeric.as_ref().expect("numeric");
        assert!(!num.sketch.exact);
        assert!(num.mean.abs() < 0.1 && (num.std_pop - 1.0).abs() < 0.1);
        let h = &num.histogram;
        assert_eq!(h.counts.iter().sum::<u64>() + h.below + h.above, 4500);
        // No individual value: the bounds are the 5th smallest and largest.
        assert!(h.below < 5 && h.above < 5, "{h:?}");
        let k = prof.column("k").expect("k");
        assert_eq!(k.dtype, Dtype::Int);
        let vc = k.numeric.as_ref().and_then(|p| p.value_counts.clone());
        assert_eq!(
            vc,
            Some(vec![(0.0, 1250), (1.0, 1250), (2.0, 1250), (3.0, 1250)])
        );
        // More than 50 categories: no values kept, only their lengths.
        let s = prof.column("s").expect("s");
        assert!(s.categories.is_none());
        assert!(s
            .protected
            .as_ref()
            .expect("protected")
            .reason
            .contains("60 distinct"));
        assert_eq!(
            s.lengths.as_ref().expect("lengths")[2..4]
                .iter()
                .sum::<u64>(),
            5000
        );
        assert_eq!(s.distinct, 60);
        // A category held by fewer than k = 5 rows is pooled, not named.
        let t = prof.column("t").expect("t");
        let cats = t.categories.as_ref().expect("cats");
        assert_eq!(cats.top.len(), 40);
        assert!(cats.top.iter().all(|(v, _)| v != "rare"));
        assert_eq!((cats.other, cats.other_distinct), (3, 1));
        // round-trips through JSON (serde_json parses the last digit of some doubles one ulp
        // off unless its `float_roundtrip` feature is on)
        let json = serde_json::to_string(&prof).expect("json");
        let back: Profile = serde_json::from_str(&json).expect("parse");
        assert_eq!(back.columns.len(), prof.columns.len());
        let (a, b) = (
            back.columns[0].numeric.as_ref().expect("num"),
            prof.columns[0].numeric.as_ref().expect("num"),
        );
        for (x, y) in a.sketch.values.iter().zip(&b.sketch.values) {
            assert!((x - y).abs() <= 1e-15 * y.abs().max(1.0));
        }
        assert_eq!(back.columns[2], prof.columns[2]);
        assert!(profile_file(
            &dir.path().join("notes.txt"),
            &crate::privacy::Policy::default()
        )
        .expect("ok")
        .is_none());
    }

    #[test]
    fn profile_stays_small_at_a_million_rows() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("big.parquet");
        let n = 1_000_000;
        let x: Vec<Option<f64>> = normal(n, 2, 0.0).into_iter().map(Some).collect();
        let y: Vec<Option<f64>> = normal(n, 3, 5.0)
            .into_iter()
            .map(|v| Some(v.exp()))
            .collect();
        let s: Vec<Option<String>> = (0..n).map(|i| Some(format!("id{}", i % 5000))).collect();
        let mut df = frame(vec![
            ("x", TestValues::F64(x)),
            ("y", TestValues::F64(y)),
            ("s", TestValues::Str(s)),
        ]);
        write_table(&p, &mut df).expect("write");
        let start = std::time::Instant::now();
        let prof = profile_file(&p, &crate::privacy::Policy::default())
            .expect("profile")
            .expect("tabular");
        let took = start.elapsed();
        let json = serde_json::to_string(&prof).expect("json");
        for c in &prof.columns {
            let one = serde_json::to_string(c).expect("json").len();
            assert!(one < 8 * 1024, "column {} is {one} bytes", c.name);
        }
        assert!(json.len() < 24 * 1024, "profile is {} bytes", json.len());
        assert!(took.as_secs() < 20, "took {took:?}");
    }

    #[test]
    fn diff_reports_changes() {
        let mk = |cols: Vec<(&str, Dtype, Option<f64>)>, rows| Profile {
            version: 1,
            format: Format::Csv,
            rows,
            columns: cols
                .into_iter()
                .map(|(n, d, mean)| ColumnProfile {
                    name: n.into(),
                    dtype: d,
                    missing: 0,
                    null_share: Some(0.0),
                    distinct: 3,
                    numeric: mean.map(|m| NumericProfile {
                        count: rows,
                        min: 0.0,
                        max: 1.0,
                        mean: m,
                        std_pop: 2.0,
                        std_sample: None,
                        sketch: Sketch {
                            exact: true,
                            levels: vec![],
                            values: vec![0.0],
                        },
                        histogram: Histogram {
                            lo: 0.0,
                            hi: 1.0,
                            counts: vec![1],
                            below: 0,
                            above: 0,
                        },
                        value_counts: None,
                        value_counts_other: 0,
                    }),
                    categories: None,
                    protected: None,
                    lengths: None,
                })
                .collect(),
            privacy: None,
        };
        let a = mk(
            vec![
                ("x", Dtype::Float, Some(1.0)),
                ("gone", Dtype::Int, None),
                ("t", Dtype::Int, None),
            ],
            10,
        );
        let b = mk(
            vec![
                ("x", Dtype::Float, Some(2.0)),
                ("t", Dtype::Str, None),
                ("new", Dtype::Bool, None),
            ],
            12,
        );
        let d = diff(&a, &b);
        assert_eq!(d.rows, (10, 12));
        assert_eq!(d.added, vec!["new"]);
        assert_eq!(d.removed, vec!["gone"]);
        assert_eq!(d.retyped, vec![("t".into(), Dtype::Int, Dtype::Str)]);
        assert_eq!(d.columns[0].mean_shift_std, Some(0.5));
    }
}
