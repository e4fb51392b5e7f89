//! Distances between the empirical distributions of two numeric samples, from their CDFs:
//! scipy's `_cdf_distance` with p = 1 (`wasserstein_distance`, which Evidently divides by the
//! reference's population std, floored at 0.001) and p = 2 (`energy_distance` = √2·l₂).
//! A single O(n1 + n2) merge over the sorted samples — no O(n²) pairwise sums.

/// ∫|U − V|^p over the real line for p ∈ {1, 2} (returns the p = 1 integral and the
/// p = 2 integral before the square root). Samples must be **sorted** and non-empty.
fn cdf_integrals(u: &[f64], v: &[f64]) -> (f64, f64) {
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut l1, mut l2) = (0.0, 0.0);
    // Walk the pooled sorted values; between consecutive pooled values the CDFs are constant.
    let mut prev: Option<f64> = None;
    let mut prev_diff = 0.0f64;
    while i < u.len() || j < v.len() {
        let x = match (u.get(i), v.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        if let Some(p) = prev {
            let delta = x - p;
            l1 += prev_diff.abs() * delta;
            l2 += prev_diff * prev_diff * delta;
        }
        while i < u.len() && u[i] <= x {
            i += 1;
        }
        while j < v.len() && v[j] <= x {
            j += 1;
        }
        prev_diff = i as f64 / nu - j as f64 / nv;
        prev = Some(x);
    }
    (l1, l2)
}

/// scipy `wasserstein_distance(u, v)` (1-D, unweighted).
pub(crate) fn wasserstein(u: &[f64], v: &[f64]) -> f64 {
    cdf_integrals(u, v).0
}

/// scipy `energy_distance(u, v)` (1-D, unweighted).
pub(crate) fn energy(u: &[f64], v: &[f64]) -> f64 {
    std::f64::consts::SQRT_2 * cdf_integrals(u, v).1.sqrt()
}

/// Population standard deviation (numpy `std`, ddof = 0), two-pass.
pub(crate) fn pop_std(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
}

/// Evidently's normed Wasserstein distance: W1 / max(std_ref, 0.001).
pub(crate) fn wasserstein_norm(reference: &[f64], current: &[f64]) -> f64 {
    wasserstein(reference, current) / pop_std(reference).max(0.001)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scipy_docstring_examples() {
        assert!((wasserstein(&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0]) - 5.0).abs() < 1e-12);
        assert!((energy(&[0.0], &[2.0]) - 2.0).abs() < 1e-12);
    }
}
