//! Binning shared by PSI, KL divergence, Jensen–Shannon and Hellinger, and reusable by the
//! HTML charts: Evidently's `get_binned_data` (legacy/calculations/stattests/utils.py).
//!
//! Numeric columns with more than 20 distinct *reference* values get equal-width bins over the
//! combined (reference + current) range, the bin count from numpy's
//! `histogram_bin_edges(combined, bins="sturges")`; everything else gets one bin per distinct
//! value of the union of both samples. Proportions are counts divided by the sample size.
//! PSI and KL then replace empty bins by 0.0001 — or by (smallest non-zero share)/10⁶ when
//! that share is itself ≤ 0.0001 — while Jensen–Shannon keeps the zeros.

use std::collections::HashMap;

/// What one bin stands for.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BinLabel {
    /// Equal-width numeric bin `[lo, hi)` (the last bin is closed: `[lo, hi]`).
    Range { lo: f64, hi: f64 },
    /// One distinct numeric value.
    Value(f64),
    /// One distinct category.
    Category(String),
}

/// Per-bin shares of the reference and current samples, in bin order.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Binned {
    pub labels: Vec<BinLabel>,
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
}

/// Per-category counts of both samples, keys sorted (numbers ascending, strings by byte order,
/// which is Python's code-point order).
#[derive(Clone, Debug)]
pub(crate) struct Tally {
    pub labels: Vec<BinLabel>,
    pub reference: Vec<usize>,
    pub current: Vec<usize>,
}

impl Tally {
    /// Number of distinct values in the union of both samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
}

/// Counts per distinct value for two **sorted** numeric samples (−0.0 counts as 0.0).
pub(crate) fn tally_numeric(a: &[f64], b: &[f64]) -> Tally {
    let (mut i, mut j) = (0usize, 0usize);
    let mut t = Tally {
        labels: Vec::new(),
        reference: Vec::new(),
        current: Vec::new(),
    };
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        let (i0, j0) = (i, j);
        while i < a.len() && a[i] == v {
            i += 1;
        }
        while j < b.len() && b[j] == v {
            j += 1;
        }
        t.labels.push(BinLabel::Value(v + 0.0));
        t.reference.push(i - i0);
        t.current.push(j - j0);
    }
    t
}

/// Counts per distinct string of two samples.
pub(crate) fn tally_strings(a: &[String], b: &[String]) -> Tally {
    let mut map: HashMap<&str, (usize, usize)> = HashMap::new();
    for s in a {
        map.entry(s.as_str()).or_default().0 += 1;
    }
    for s in b {
        map.entry(s.as_str()).or_default().1 += 1;
    }
    let mut keys: Vec<(&str, (usize, usize))> = map.into_iter().collect();
    keys.sort_unstable_by(|x, y| x.0.cmp(y.0));
    Tally {
        labels: keys
            .iter()
            .map(|(k, _)| BinLabel::Category((*k).to_string()))
            .collect(),
        reference: keys.iter().map(|(_, c)| c.0).collect(),
        current: keys.iter().map(|(_, c)| c.1).collect(),
    }
}

/// numpy `histogram_bin_edges(data, bins="sturges")` for data with `n` values in `[min, max]`.
pub(crate) fn sturges_edges(min: f64, max: f64, n: usize) -> Vec<f64> {
    let (mut first, mut last) = (min, max);
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let width = (max - min) / ((n as f64).log2() + 1.0);
    let n_bins = if width != 0.0 && n > 0 {
        ((last - first) / width).ceil() as usize
    } else {
        1
    };
    linspace(first, last, n_bins.max(1) + 1)
}

/// numpy `linspace(start, stop, num)` (endpoint included): `i·step + start`, last = stop.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let div = (num - 1) as f64;
    let step = (stop - start) / div;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    if let Some(l) = v.last_mut() {
        *l = stop;
    }
    v
}

/// numpy `histogram(sorted, bins=edges)[0]`: bin i holds `edges[i] <= x < edges[i+1]`, the last
/// bin also holds `x == edges[last]`; values outside the edges are not counted.
pub(crate) fn histogram_counts(sorted: &[f64], edges: &[f64]) -> Vec<usize> {
    let mut cum: Vec<usize> = edges[..edges.len() - 1]
        .iter()
        .map(|&e| sorted.partition_point(|&x| x < e))
        .collect();
    let last = edges[edges.len() - 1];
    cum.push(sorted.partition_point(|&x| x <= last));
    cum.windows(2).map(|w| w[1].saturating_sub(w[0])).collect()
}

/// Evidently's `get_binned_data` for numeric samples (**sorted**, non-empty) treated as numeric.
pub(crate) fn bin_numeric(a: &[f64], b: &[f64], fill_zeroes: bool) -> Binned {
    let ref_distinct = distinct_sorted(a);
    if ref_distinct > 20 {
        let min = a[0].min(b[0]);
        let max = a[a.len() - 1].max(b[b.len() - 1]);
        let edges = sturges_edges(min, max, a.len() + b.len());
        let rc = histogram_counts(a, &edges);
        let cc = histogram_counts(b, &edges);
        let labels = edges
            .windows(2)
            .map(|w| BinLabel::Range { lo: w[0], hi: w[1] })
            .collect();
        finish(labels, &rc, &cc, a.len(), b.len(), fill_zeroes)
    } else {
        from_tally(tally_numeric(a, b), a.len(), b.len(), fill_zeroes)
    }
}

/// Evidently's `get_binned_data` for the one-bin-per-value path.
pub(crate) fn from_tally(t: Tally, n_ref: usize, n_cur: usize, fill_zeroes: bool) -> Binned {
    finish(
        t.labels,
        &t.reference,
        &t.current,
        n_ref,
        n_cur,
        fill_zeroes,
    )
}

fn finish(
    labels: Vec<BinLabel>,
    rc: &[usize],
    cc: &[usize],
    n_ref: usize,
    n_cur: usize,
    fill_zeroes: bool,
) -> Binned {
    let mut reference: Vec<f64> = rc.iter().map(|&c| c as f64 / n_ref as f64).collect();
    let mut current: Vec<f64> = cc.iter().map(|&c| c as f64 / n_cur as f64).collect();
    if fill_zeroes {
        fill_zero_shares(&mut reference);
        fill_zero_shares(&mut current);
    }
    Binned {
        labels,
        reference,
        current,
    }
}

/// Replace empty bins the way Evidently does (`feel_zeroes=True`).
pub(crate) fn fill_zero_shares(p: &mut [f64]) {
    let min_nz = p
        .iter()
        .copied()
        .filter(|&x| x != 0.0)
        .fold(f64::INFINITY, f64::min);
    if !min_nz.is_finite() {
        return;
    }
    let repl = if min_nz <= 0.0001 {
        min_nz / 1e6
    } else {
        0.0001
    };
    for x in p.iter_mut() {
        if *x == 0.0 {
            *x = repl;
        }
    }
}

/// Number of distinct values in a sorted slice.
pub(crate) fn distinct_sorted(a: &[f64]) -> usize {
    if a.is_empty() {
        return 0;
    }
    1 + a.windows(2).filter(|w| w[0] != w[1]).count()
}

/// scipy `special.rel_entr(x, y)`.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Population Stability Index: Σ (r − c)·ln(r / c) over bins (Evidently `_psi`).
pub(crate) fn psi(r: &[f64], c: &[f64]) -> f64 {
    r.iter().zip(c).map(|(&r, &c)| (r - c) * (r / c).ln()).sum()
}

/// KL divergence of reference from current, scipy `stats.entropy(r, c)` (natural log; both
/// vectors normalised to sum 1 first).
pub(crate) fn kl_div(r: &[f64], c: &[f64]) -> f64 {
    let (sr, sc): (f64, f64) = (r.iter().sum(), c.iter().sum());
    r.iter()
        .zip(c)
        .map(|(&r, &c)| rel_entr(r / sr, c / sc))
        .sum()
}

/// Jensen–Shannon *distance* (natural log), scipy `spatial.distance.jensenshannon(r, c)`.
pub(crate) fn jensenshannon(r: &[f64], c: &[f64]) -> f64 {
    let (sr, sc): (f64, f64) = (r.iter().sum(), c.iter().sum());
    let mut left = 0.0;
    let mut right = 0.0;
    for (&r, &c) in r.iter().zip(c) {
        let (p, q) = (r / sr, c / sc);
        let m = (p + q) / 2.0;
        left += rel_entr(p, m);
        right += rel_entr(q, m);
    }
    ((left + right) / 2.0).sqrt()
}

/// Hellinger distance over categories (Evidently `_hellinger_distance`, categorical branch).
pub(crate) fn hellinger_tally(t: &Tally, n_ref: usize, n_cur: usize) -> f64 {
    let mut s = 0.0;
    for (&r, &c) in t.reference.iter().zip(&t.current) {
        let p1 = r as f64 / n_ref as f64;
        let p2 = c as f64 / n_cur as f64;
        s += (p1 * p2).sqrt();
    }
    (1.0 - s.clamp(0.0, 1.0)).sqrt()
}

/// Hellinger distance for numeric data (Evidently's numeric branch): Sturges bins over the
/// *distinct* values of both samples, density histograms, Σ √(h1·h2)·width.
pub(crate) fn hellinger_numeric(a: &[f64], b: &[f64]) -> f64 {
    let keys = tally_numeric(a, b);
    let nk = keys.len();
    let (kmin, kmax) = match (keys.labels.first(), keys.labels.last()) {
        (Some(BinLabel::Value(lo)), Some(BinLabel::Value(hi))) => (*lo, *hi),
        _ => return f64::NAN,
    };
    let edges = sturges_edges(kmin, kmax, nk);
    let density = |sorted: &[f64]| -> Vec<f64> {
        let counts = histogram_counts(sorted, &edges);
        let total: usize = counts.iter().sum();
        counts
            .iter()
            .zip(edges.windows(2))
            .map(|(&c, w)| c as f64 / (w[1] - w[0]) / total as f64)
            .collect()
    };
    let (h1, h2) = (density(a), density(b));
    let bin_width = (edges[edges.len() - 1] - edges[0]) / (edges.len() - 1) as f64;
    let mut s = 0.0;
    for (p1, p2) in h1.iter().zip(&h2) {
        s += (p1 * p2).sqrt() * bin_width;
    }
    (1.0 - s.clamp(0.0, 1.0)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sturges_matches_numpy_shape() {
        // numpy: histogram_bin_edges(np.arange(100.), 'sturges') has 9 edges (8 bins)
        let e = sturges_edges(0.0, 99.0, 100);
        assert_eq!(e.len(), 9);
        assert_eq!(e[0], 0.0);
        assert_eq!(e[8], 99.0);
    }

    #[test]
    fn histogram_last_bin_closed() {
        let c = histogram_counts(&[0.0, 0.5, 1.0, 2.0], &[0.0, 1.0, 2.0]);
        assert_eq!(c, vec![2, 2]);
    }

    #[test]
    fn zero_fill_rule() {
        let mut p = vec![0.5, 0.0, 0.5];
        fill_zero_shares(&mut p);
        assert_eq!(p[1], 0.0001);
        let mut q = vec![0.99995, 0.0, 0.00005];
        fill_zero_shares(&mut q);
        assert_eq!(q[1], 0.00005 / 1e6);
    }
}
