//! Location tests on two numeric samples: Student's t-test with pooled variance (scipy
//! `ttest_ind(x, y)`, Evidently `t_test`) and the Mann–Whitney U test (scipy
//! `mannwhitneyu(x=reference, y=current, alternative="less")`, Evidently `mannw`).

use super::ranks::tie_groups;
use super::special::{ndtr, t_sf};

/// Two-sided p-value of the equal-variance two-sample t-test.
///
/// Evidently/scipy return NaN when both samples have zero variance (0/0); here the p-value is
/// 1.0 when the means are equal and 0.0 when they differ. `None` when n1 + n2 < 3 (no degree of
/// freedom).
pub(crate) fn t_test(a: &[f64], b: &[f64]) -> Option<f64> {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let df = n1 + n2 - 2.0;
    if df <= 0.0 {
        return None;
    }
    let (m1, v1) = mean_var(a);
    let (m2, v2) = mean_var(b);
    let svar = ((n1 - 1.0) * v1 + (n2 - 1.0) * v2) / df;
    let denom = (svar * (1.0 / n1 + 1.0 / n2)).sqrt();
    let t = (m1 - m2) / denom;
    if t.is_nan() {
        return Some(if m1 == m2 { 1.0 } else { 0.0 });
    }
    Some((2.0 * t_sf(t.abs(), df)).clamp(0.0, 1.0))
}

/// Mean and sample variance (ddof = 1; 0 for a single value), two-pass like numpy.
pub(crate) fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return (mean, 0.0);
    }
    let ss: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
    (mean, ss / (n - 1.0))
}

/// Largest n1·n2/2 for which the exact null distribution is tabulated; beyond it (only
/// reachable when one sample has ≤ 8 values and the other millions) the normal approximation
/// is used instead of scipy's exact path, which would not finish either.
const MAX_EXACT_CELLS: usize = 20_000_000;

/// One-sided p-value P(U ≥ U2) of `mannwhitneyu(x=a, y=b, alternative="less")` with
/// `use_continuity=True, method="auto"` (exact when a sample has ≤ 8 values and there are
/// no ties, otherwise the tie-corrected normal approximation). Samples must be **sorted**.
pub(crate) fn mann_whitney_less(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len(), b.len());
    let groups = tie_groups(a, b);
    let r1: f64 = groups.iter().map(|g| g.in_a as f64 * g.rank).sum();
    let u1 = r1 - (n1 * (n1 + 1)) as f64 / 2.0;
    let u2 = (n1 * n2) as f64 - u1;
    let ties = groups.iter().any(|g| g.in_a + g.in_b > 1);
    let exact = !(ties || n1 > 8 && n2 > 8);
    let half_cells = n1 * n2 / 2;
    if exact && half_cells <= MAX_EXACT_CELLS {
        return mwu_exact_sf(n1, n2, u2 as i64).clamp(0.0, 1.0);
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let n = n1f + n2f;
    let tie_term: f64 = groups
        .iter()
        .map(|g| {
            let t = (g.in_a + g.in_b) as f64;
            t * t * t - t
        })
        .sum();
    let s = (n1f * n2f / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    let mu = n1f * n2f / 2.0;
    let z = (u2 - mu - 0.5) / s;
    ndtr(-z).clamp(0.0, 1.0)
}

/// P(U ≥ k) under H0 for sample sizes n1, n2 (no ties), scipy `_MWU.sf`:
/// for k < n1·n2 − k it is 1 − cdf(k) + pmf(k), otherwise cdf(n1·n2 − k).
///
/// The frequencies of U are the coefficients of the Gaussian binomial [n1+n2 choose m]_q,
/// m = min(n1, n2), built as Π_{i=1..m} (1 − q^{n+i}) / (1 − q^i) truncated at the degree
/// needed (Andrews, *The Theory of Partitions*, 3.3), O(m · k) operations.
fn mwu_exact_sf(n1: usize, n2: usize, k: i64) -> f64 {
    let cells = (n1 * n2) as i64;
    let kc = cells - k;
    let (target, complement) = if k < kc { (k, true) } else { (kc, false) };
    if target < 0 {
        return if complement { 1.0 } else { 0.0 };
    }
    let deg = target as usize;
    let (m, n) = if n1 <= n2 { (n1, n2) } else { (n2, n1) };
    let mut c = vec![0.0f64; deg + 1];
    c[0] = 1.0;
    for i in 1..=m {
        // multiply by (1 - q^{n+i})
        let s = n + i;
        if s <= deg {
            for d in (s..=deg).rev() {
                c[d] -= c[d - s];
            }
        }
        // divide by (1 - q^i)
        for d in i..=deg {
            c[d] += c[d - i];
        }
    }
    let total = binom(n1 + n2, m);
    let cdf: f64 = c.iter().map(|&x| x / total).sum();
    if complement {
        1.0 - cdf + c[deg] / total
    } else {
        cdf
    }
}

/// C(n, k) as f64.
pub(crate) fn binom(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    let mut r = 1.0f64;
    for i in 0..k {
        r = r * (n - i) as f64 / (i + 1) as f64;
    }
    r.round()
}
