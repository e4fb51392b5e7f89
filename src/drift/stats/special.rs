//! Special functions behind the p-values: normal, chi-square and Student-t tails, the
//! modified Bessel function K_{1/4} (Cramér–von Mises limit distribution) and the small
//! quadratic least-squares fit used by scipy's Anderson–Darling interpolation.
//!
//! The incomplete gamma/beta functions and erfc come from `statrs` (built without its
//! `nalgebra` feature); everything here is a thin, documented wrapper so the statistics
//! modules never call `statrs` directly.

use statrs::function::{beta, erf, gamma};

/// Standard normal CDF Φ(x) (scipy `special.ndtr`), via erfc for accuracy in both tails.
pub(crate) fn ndtr(x: f64) -> f64 {
    0.5 * erf::erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal survival function 1 − Φ(x), accurate in the upper tail.
pub(crate) fn norm_sf(x: f64) -> f64 {
    0.5 * erf::erfc(x / std::f64::consts::SQRT_2)
}

/// Chi-square survival function with `k` degrees of freedom: Q(k/2, x/2), the regularized
/// upper incomplete gamma function (scipy `chdtrc`).
pub(crate) fn chi2_sf(x: f64, k: f64) -> f64 {
    if x.is_nan() || k.is_nan() || k <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    gamma::gamma_ur(k / 2.0, x / 2.0)
}

/// Student-t survival function P(T > t) with `df` degrees of freedom (scipy `stdtr(df, -t)`),
/// from the regularized incomplete beta function: P(T > t) = ½ I_{df/(df+t²)}(df/2, ½), t ≥ 0.
pub(crate) fn t_sf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 0.0 } else { 1.0 };
    }
    if t < 0.0 {
        return 1.0 - t_sf(-t, df);
    }
    if t == 0.0 {
        return 0.5;
    }
    let x = df / (df + t * t);
    0.5 * beta::beta_reg(df / 2.0, 0.5, x)
}

/// Natural log of Γ(x).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    gamma::ln_gamma(x)
}

/// Modified Bessel function of the second kind of order ¼, K_{1/4}(x) for x > 0 (scipy `kv`).
///
/// Uses the integral representation K_ν(x) = ∫₀^∞ exp(−x cosh t) cosh(νt) dt (Abramowitz &
/// Stegun 9.6.24) with the trapezoidal rule: the integrand is analytic in the strip
/// |Im t| < π/2 and decays double-exponentially, so the trapezoidal error is of order
/// exp(−π²/h) (Trefethen & Weideman, SIAM Review 2014), i.e. far below f64 precision at h = 0.05.
pub(crate) fn kv_quarter(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::INFINITY;
    }
    const H: f64 = 0.05;
    let mut sum = 0.5 * (-x).exp();
    let mut k = 1u32;
    loop {
        let t = H * f64::from(k);
        let f = (-x * t.cosh()).exp() * (0.25 * t).cosh();
        sum += f;
        if f <= sum * 1e-18 || k > 100_000 {
            break;
        }
        k += 1;
    }
    sum * H
}

/// Least-squares fit of a degree-2 polynomial, returning `[c2, c1, c0]` like `numpy.polyfit(x, y, 2)`.
///
/// As numpy does, the Vandermonde columns are scaled to unit norm before solving; the 3×3
/// normal equations are then well conditioned for the 7 interpolation points scipy uses.
pub(crate) fn polyfit2(x: &[f64], y: &[f64]) -> [f64; 3] {
    let cols = |x: f64| [x * x, x, 1.0];
    let mut scale = [0.0f64; 3];
    for &xi in x {
        let c = cols(xi);
        for j in 0..3 {
            scale[j] += c[j] * c[j];
        }
    }
    for s in scale.iter_mut() {
        *s = s.sqrt();
    }
    let mut ata = [[0.0f64; 3]; 3];
    let mut aty = [0.0f64; 3];
    for (&xi, &yi) in x.iter().zip(y) {
        let c = cols(xi);
        let c = [c[0] / scale[0], c[1] / scale[1], c[2] / scale[2]];
        for r in 0..3 {
            aty[r] += c[r] * yi;
            for s in 0..3 {
                ata[r][s] += c[r] * c[s];
            }
        }
    }
    let sol = solve3(ata, aty);
    [sol[0] / scale[0], sol[1] / scale[1], sol[2] / scale[2]]
}

/// Gaussian elimination with partial pivoting for a 3×3 system.
fn solve3(mut a: [[f64; 3]; 3], mut b: [f64; 3]) -> [f64; 3] {
    for col in 0..3 {
        let piv = (col..3)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..3 {
            let f = a[row][col] / a[col][col];
            let pivot_row = a[col];
            for (x, p) in a[row].iter_mut().zip(pivot_row).skip(col) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0f64; 3];
    for row in (0..3).rev() {
        let mut s = b[row];
        for k in row + 1..3 {
            s -= a[row][k] * x[k];
        }
        x[row] = s / a[row][row];
    }
    x
}

/// Evaluate `c[0]·x² + c[1]·x + c[2]` (Horner, like `numpy.polyval`).
pub(crate) fn polyval2(c: &[f64; 3], x: f64) -> f64 {
    (c[0] * x + c[1]) * x + c[2]
}

/// Python/numpy floor division of two floats (`a // b`), including numpy's rounding fix-up.
pub(crate) fn floor_div(a: f64, b: f64) -> f64 {
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut fl = div.floor();
        if div - fl > 0.5 {
            fl += 1.0;
        }
        fl
    } else {
        (0.0f64).copysign(a / b)
    }
}

/// `x · 2^e` without intermediate overflow (C `ldexp`).
pub(crate) fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: &serde_json::Value) -> f64 {
        match v {
            serde_json::Value::String(s) if s == "inf" => f64::INFINITY,
            serde_json::Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
            serde_json::Value::String(_) => f64::NAN,
            v => v.as_f64().expect("number"),
        }
    }

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got == want) || (got - want).abs() <= rel * want.abs() || (got - want).abs() <= 1e-12
    }

    #[test]
    fn matches_scipy_special_functions() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/drift/special.json"))
                .expect("special.json");
        for row in v["chi2_sf"].as_array().expect("chi2") {
            let (k, x, want) = (num(&row[0]), num(&row[1]), num(&row[2]));
            let got = chi2_sf(x, k);
            assert!(
                close(got, want, 1e-9),
                "chi2_sf({x},{k}) = {got}, scipy {want}"
            );
        }
        for row in v["t_sf"].as_array().expect("t") {
            let (df, t, want) = (num(&row[0]), num(&row[1]), num(&row[2]));
            let got = t_sf(t, df);
            assert!(
                close(got, want, 1e-9),
                "t_sf({t},{df}) = {got}, scipy {want}"
            );
        }
        // statrs' erfc is good to ~5e-11 relative: far inside the 1e-6 target.
        for row in v["ndtr"].as_array().expect("ndtr") {
            let (x, want) = (num(&row[0]), num(&row[1]));
            assert!(
                close(ndtr(x), want, 1e-9),
                "ndtr({x}) = {:e} vs {want:e}",
                ndtr(x)
            );
        }
        for row in v["kv_quarter"].as_array().expect("kv") {
            let (x, want) = (num(&row[0]), num(&row[1]));
            let got = kv_quarter(x);
            assert!(
                close(got, want, 1e-12),
                "kv(0.25,{x}) = {got}, scipy {want}"
            );
        }
    }

    #[test]
    fn floor_div_matches_python() {
        assert_eq!(floor_div(7.0, 2.0), 3.0);
        assert_eq!(floor_div(-7.0, 2.0), -4.0);
        assert_eq!(floor_div(-0.5, 3.0), -1.0);
    }
}
