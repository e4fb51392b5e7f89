//! Two-sample Cramér–von Mises test (Evidently's `_cvm_2samp`, a copy of scipy's
//! `cramervonmises_2samp` with `method="auto"`: exact when both samples have ≤ 20 values,
//! otherwise Anderson (1962)'s asymptotic distribution via Csörgő & Faraway (1996)'s series
//! with K_{1/4}). The exact path is the lattice-path recursion of Xiao, Gordon & Yakovlev
//! (2007) as scipy implements it.
//!
//! Evidently 0.7's own exact path crashes under numpy 2 (`UFuncTypeError` casting into an
//! unsigned dtype); the fixtures check this port against scipy's `cramervonmises_2samp` there.

use std::collections::HashMap;

use super::ranks::tie_groups;
use super::special::{floor_div, kv_quarter, ln_gamma};

/// p-value of the two-sample Cramér–von Mises test, `None` when a sample has < 2 values.
/// Samples must be **sorted**.
pub(crate) fn cramer_von_mises_2samp(a: &[f64], b: &[f64]) -> Option<f64> {
    let (nx, ny) = (a.len(), b.len());
    if nx <= 1 || ny <= 1 {
        return None;
    }
    let groups = tie_groups(a, b);
    // u = nx Σ (rx_i − i)² + ny Σ (ry_j − j)²
    let (mut ia, mut ib) = (0usize, 0usize);
    let (mut sa, mut sb) = (0.0f64, 0.0f64);
    for g in &groups {
        for _ in 0..g.in_a {
            ia += 1;
            let d = g.rank - ia as f64;
            sa += d * d;
        }
        for _ in 0..g.in_b {
            ib += 1;
            let d = g.rank - ib as f64;
            sb += d * d;
        }
    }
    let u = nx as f64 * sa + ny as f64 * sb;
    let (nxf, nyf) = (nx as f64, ny as f64);
    let k = nxf * nyf;
    let nn = nxf + nyf;
    let t = u / (k * nn) - (4.0 * k - 1.0) / (6.0 * nn);
    if nx.max(ny) <= 20 {
        return Some(exact_p(u, nx as u64, ny as u64));
    }
    let et = (1.0 + 1.0 / nn) / 6.0;
    let mut vt = (nn + 1.0) * (4.0 * k * nn - 3.0 * (nxf * nxf + nyf * nyf) - 2.0 * k);
    vt /= 45.0 * nn * nn * 4.0 * k;
    let tn = 1.0 / 6.0 + (t - et) / (45.0 * vt).sqrt();
    if tn < 0.003 {
        Some(1.0)
    } else {
        Some((1.0 - cdf_cvm_inf(tn)).max(0.0))
    }
}

/// CDF of the limiting Cramér–von Mises distribution (scipy `_cdf_cvm_inf`).
fn cdf_cvm_inf(x: f64) -> f64 {
    let pi15 = std::f64::consts::PI.powf(1.5);
    let mut tot = 0.0;
    let mut k = 0u32;
    loop {
        let kf = f64::from(k);
        let u = (ln_gamma(kf + 0.5) - ln_gamma(kf + 1.0)).exp() / (pi15 * x.sqrt());
        let y = 4.0 * kf + 1.0;
        let q = y * y / (16.0 * x);
        let z = u * y.sqrt() * (-q).exp() * kv_quarter(q);
        tot += z;
        if z.abs() < 1e-7 || k > 10_000 {
            break;
        }
        k += 1;
    }
    tot
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// scipy `_pval_cvm_2samp_exact(u, m, n)`: exact frequency table of the statistic.
fn exact_p(s: f64, m: u64, n: u64) -> f64 {
    let lcm = m / gcd(m, n) * n;
    let a = (lcm / m) as i64;
    let b = (lcm / n) as i64;
    let mn = (m * n) as f64;
    let zeta = floor_div(
        (lcm * lcm * (m + n)) as f64 * (6.0 * s - mn * (4.0 * mn - 1.0)),
        6.0 * mn * mn,
    );
    let combinations = super::location::binom((m + n) as usize, m as usize);
    let mut gs: Vec<HashMap<i64, u64>> = vec![HashMap::new(); m as usize + 1];
    gs[0].insert(0, 1);
    for u in 0..=n as i64 {
        let mut next: Vec<HashMap<i64, u64>> = Vec::with_capacity(gs.len());
        let mut tmp: HashMap<i64, u64> = HashMap::new();
        for (v, g) in gs.iter().enumerate() {
            for (&val, &freq) in g {
                *tmp.entry(val).or_insert(0) += freq;
            }
            let shift = (a * v as i64 - b * u).pow(2);
            tmp = tmp.into_iter().map(|(val, f)| (val + shift, f)).collect();
            next.push(tmp.clone());
        }
        gs = next;
    }
    let hits: u64 = gs[m as usize]
        .iter()
        .filter(|(&val, _)| val as f64 >= zeta)
        .map(|(_, &f)| f)
        .sum();
    hits as f64 / combinations
}
