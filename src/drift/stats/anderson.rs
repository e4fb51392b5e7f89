//! k-sample Anderson–Darling test for k = 2, as Evidently calls it:
//! `scipy.stats.anderson_ksamp([reference, current])[2]`, i.e. the default `midrank` variant
//! (Scholz & Stephens 1987, eq. 7) and scipy's "significance level" — the p-value interpolated
//! (quadratic fit of log-significance on the critical values of their Table 2) and capped to
//! [0.001, 0.25]. O(n log n): one merge over the sorted samples.

use super::special::{polyfit2, polyval2};

/// Anderson–Darling significance level, or `None` with fewer than two distinct values or
/// fewer than four observations (scipy raises or divides by zero there).
pub(crate) fn anderson_ksamp_2(a: &[f64], b: &[f64]) -> Option<f64> {
    let (n1, n2) = (a.len(), b.len());
    let n = n1 + n2;
    if n1 == 0 || n2 == 0 || n < 4 {
        return None;
    }
    let nf = n as f64;
    let groups = super::ranks::tie_groups(a, b);
    if groups.len() < 2 {
        return None;
    }
    // A2akN, midrank variant
    let sizes = [n1 as f64, n2 as f64];
    let mut sums = [0.0f64; 2];
    let (mut below, mut below_a, mut below_b) = (0usize, 0usize, 0usize);
    for g in &groups {
        let lj = (g.in_a + g.in_b) as f64;
        let bj = below as f64 + lj / 2.0;
        let denom = bj * (nf - bj) - nf * lj / 4.0;
        let m = [
            (below_a + g.in_a) as f64 - g.in_a as f64 / 2.0,
            (below_b + g.in_b) as f64 - g.in_b as f64 / 2.0,
        ];
        for s in 0..2 {
            let d = nf * m[s] - bj * sizes[s];
            sums[s] += lj / nf * d * d / denom;
        }
        below += g.in_a + g.in_b;
        below_a += g.in_a;
        below_b += g.in_b;
    }
    let mut a2akn = sums[0] / sizes[0] + sums[1] / sizes[1];
    a2akn *= (nf - 1.0) / nf;

    let k = 2.0f64;
    let h_big = 1.0 / sizes[0] + 1.0 / sizes[1];
    // hs_cs = cumsum(1 / arange(N-1, 1, -1)); h = hs_cs[-1] + 1; g = sum(hs_cs / arange(2, N))
    let mut cum = 0.0;
    let mut g = 0.0;
    let count = n - 2; // len(arange(N-1, 1, -1)) == N - 2
    let mut hs = Vec::with_capacity(count);
    for idx in 0..count {
        cum += 1.0 / (n - 1 - idx) as f64;
        hs.push(cum);
    }
    for (idx, v) in hs.iter().enumerate() {
        g += v / (idx + 2) as f64;
    }
    let h = cum + 1.0;
    let aa = (4.0 * g - 6.0) * (k - 1.0) + (10.0 - 6.0 * g) * h_big;
    let bb = (2.0 * g - 4.0) * k * k + 8.0 * h * k + (2.0 * g - 14.0 * h - 4.0) * h_big - 8.0 * h
        + 4.0 * g
        - 6.0;
    let cc = (6.0 * h + 2.0 * g - 2.0) * k * k
        + (4.0 * h - 4.0 * g + 6.0) * k
        + (2.0 * h - 6.0) * h_big
        + 4.0 * h;
    let dd = (2.0 * h + 6.0) * k * k - 4.0 * h * k;
    let sigmasq =
        (aa * nf.powi(3) + bb * nf.powi(2) + cc * nf + dd) / ((nf - 1.0) * (nf - 2.0) * (nf - 3.0));
    let m = k - 1.0;
    let a2 = (a2akn - m) / sigmasq.sqrt();

    const B0: [f64; 7] = [0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085];
    const B1: [f64; 7] = [-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615];
    const B2: [f64; 7] = [-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154];
    const SIG: [f64; 7] = [0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001];
    let critical: Vec<f64> = (0..7)
        .map(|i| B0[i] + B1[i] / m.sqrt() + B2[i] / m)
        .collect();
    let cmin = critical.iter().cloned().fold(f64::INFINITY, f64::min);
    let cmax = critical.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if a2.is_nan() {
        return None;
    }
    let p = if a2 < cmin {
        0.25
    } else if a2 > cmax {
        0.001
    } else {
        let logsig: Vec<f64> = SIG.iter().map(|s| s.ln()).collect();
        let c = polyfit2(&critical, &logsig);
        polyval2(&c, a2).exp()
    };
    Some(p)
}
