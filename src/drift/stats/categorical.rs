//! Frequency tests on category counts: Pearson's chi-square goodness-of-fit of current counts
//! against reference proportions (Evidently `chisquare`, via scipy `chisquare`) and the
//! two-proportion z-test (Evidently `z`).
//!
//! **Deviation from Evidently (deliberate):** Evidently builds the expected counts over the
//! union of categories, so a category the reference never saw gets an expected count of 0,
//! the statistic becomes infinite and the p-value 0 whatever the rest of the data says.
//! Here the chi-square test runs over the categories the reference knows: current rows in
//! unseen categories are set aside (the caller reports them via
//! [`super::unseen_categories`]) and the expected counts are scaled to the remaining current
//! rows. When no current row falls in a known category the p-value is 0 (total drift); with a
//! single known category the known rows match it trivially and the p-value is 1 (Evidently
//! returns NaN there: zero degrees of freedom). Without unseen categories the result is
//! Evidently's.

use super::binning::Tally;
use super::special::{chi2_sf, norm_sf};

/// Chi-square p-value over the categories present in the reference.
pub(crate) fn chisquare_known(t: &Tally, n_ref: usize) -> f64 {
    let known: Vec<usize> = (0..t.len()).filter(|&i| t.reference[i] > 0).collect();
    let n_cur_known: usize = known.iter().map(|&i| t.current[i]).sum();
    if n_cur_known == 0 {
        return 0.0;
    }
    if known.len() < 2 {
        return 1.0;
    }
    let k_norm = n_cur_known as f64 / n_ref as f64;
    let mut stat = 0.0;
    for &i in &known {
        let exp = t.reference[i] as f64 * k_norm;
        let d = t.current[i] as f64 - exp;
        stat += d * d / exp;
    }
    chi2_sf(stat, (known.len() - 1) as f64)
}

/// Two-sided two-proportion z-test p-value, the proportions being the shares of values other
/// than the smallest key (Evidently `_z_stat_test`). Both samples constant on the same value
/// gives 1.0.
pub(crate) fn z_test(t: &Tally, n_ref: usize, n_cur: usize) -> f64 {
    let ref_unique = t.reference.iter().filter(|&&c| c > 0).count();
    let cur_unique = t.current.iter().filter(|&&c| c > 0).count();
    if ref_unique == 1 && cur_unique == 1 {
        let same = (0..t.len()).any(|i| t.reference[i] > 0 && t.current[i] > 0);
        if same {
            return 1.0;
        }
    }
    let (n1, n2) = (n_ref as f64, n_cur as f64);
    let p1 = (n_ref - t.reference[0]) as f64 / n1;
    let p2 = (n_cur - t.current[0]) as f64 / n2;
    let pp = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pp * (1.0 - pp) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if z.is_nan() {
        return 1.0;
    }
    // Evidently: 2 * (1 - norm.cdf(|z|)); the survival function avoids the cancellation.
    (2.0 * norm_sf(z.abs())).clamp(0.0, 1.0)
}
