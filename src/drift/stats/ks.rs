//! Two-sample Kolmogorov–Smirnov test, a port of scipy's `ks_2samp(x, y)` with its defaults
//! (`alternative='two-sided'`, `method='auto'`), which Evidently's `ks` stattest calls.
//!
//! 'auto' means: exact p-value when both samples have at most 10,000 values (Hodges 1958's
//! lattice-path counts — `_compute_prob_outside_square` for n1 = n2, Viehmann's numerically
//! stable "outer probability, inside method" otherwise), falling back to the asymptotic
//! `kstwo.sf(d, round(n1·n2/(n1+n2)))` when the exact computation fails or a sample is larger.
//! The statistic itself is a single O(n1 + n2) merge over the two sorted samples.

use super::kolmogorov::kstwo_sf;

const MAX_AUTO_N: usize = 10_000;

/// Two-sided KS p-value for two **sorted, non-empty** samples.
pub(crate) fn ks_2samp(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len(), b.len());
    let d = ks_statistic(a, b);
    let g = gcd(n1 as u64, n2 as u64);
    if n1.max(n2) <= MAX_AUTO_N {
        if let Some(p) = exact_p(n1 as u64, n2 as u64, g, d) {
            return p.clamp(0.0, 1.0);
        }
    }
    let (m, n) = if n1 >= n2 {
        (n1 as f64, n2 as f64)
    } else {
        (n2 as f64, n1 as f64)
    };
    let en = m * n / (m + n);
    let p = kstwo_sf(d, en.round_ties_even() as u64);
    p.clamp(0.0, 1.0)
}

/// sup |F1 − F2| exactly as scipy computes it: right-continuous ECDFs `count/n` evaluated at
/// every observation; the larger of max(F1−F2) and max(F2−F1).
fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut max_s, mut min_s) = (f64::NEG_INFINITY, f64::INFINITY);
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        max_s = max_s.max(diff);
        min_s = min_s.min(diff);
    }
    let min_s = (-min_s).clamp(0.0, 1.0);
    if min_s > max_s {
        min_s
    } else {
        max_s
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// scipy `_attempt_exact_2kssamp` (two-sided): `Some(p)` on success.
fn exact_p(n1: u64, n2: u64, g: u64, d: f64) -> Option<f64> {
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    if h == 0 {
        return Some(1.0);
    }
    let p = if n1 == n2 {
        prob_outside_square(n1, h)
    } else {
        outer_prob_inside_method(n1, n2, g, h)
    };
    if p.is_finite() && (0.0..=1.0).contains(&p) {
        Some(p)
    } else {
        None
    }
}

/// Pr(D_{n,n} ≥ h/n), scipy `_compute_prob_outside_square`: the alternating binomial sum
/// 2·Σ_k (−1)^k C(2n, n−kh)/C(2n, n) evaluated Horner-style to avoid cancellation.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0;
    let mut k = n / h;
    loop {
        let mut p1 = 1.0;
        for j in 0..h {
            p1 = (n as f64 - (k * h) as f64 - j as f64) * p1 / ((n + k * h + j + 1) as f64);
        }
        p = p1 * (1.0 - p);
        if k == 0 {
            break;
        }
        k -= 1;
    }
    2.0 * p
}

/// 1 − (proportion of lattice paths from (0,0) to (m,n) staying strictly inside
/// |x/m − y/n| < h/lcm(m,n)), scipy `_compute_outer_prob_inside_method` (Hodges 1958,
/// with Viehmann 2021's recursion for 1 − p). O(m · window) time, O(n) memory.
fn outer_prob_inside_method(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (m, n, g, h) = (m as i64, n as i64, g as i64, h as i64);
    let mg = m / g;
    let ng = n / g;
    let mut minj: i64 = 0;
    let mut maxj: i64 = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a];
    for x in a.iter_mut().take(maxj as usize).skip(minj as usize) {
        *x = 0.0;
    }
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = ((((ng * i - h) as f64) / mg as f64).floor() as i64 + 1).max(0);
        minj = minj.min(n);
        maxj = ((((ng * i + h) as f64) / mg as f64).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        let fi = i as f64;
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            val = (a[(jj + minj - lastminj) as usize] * fi + val * j as f64) / (fi + j as f64);
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = (maxj - minj) as usize;
            let end = (start + (lastlen - curlen) as usize).min(a.len());
            for x in &mut a[start..end] {
                *x = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}
