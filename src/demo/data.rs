//! A deterministic synthetic credit-default data set (seeded RNG): the same
//! bytes on every machine, so the demo's dataset ids are reproducible. The
//! "drifted" batch moves income down, debt up and adds a region never seen in
//! training — the shifts a monitor should catch.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const HEADER: &str = "age,income,debt_ratio,credit_lines,region,employment,default";
pub const REGIONS: [&str; 4] = ["north", "south", "east", "west"];
pub const EMPLOYMENT: [&str; 3] = ["employed", "self-employed", "unemployed"];

/// A standard normal draw (Box–Muller), to avoid a distributions dependency.
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `rows` applicants as CSV text; `drifted` shifts the population.
pub fn credit_csv(rows: usize, seed: u64, drifted: bool) -> String {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = String::with_capacity(rows * 48);
    out.push_str(HEADER);
    out.push('\n');
    for _ in 0..rows {
        let age = rng.random_range(21..70) as f64;
        let income_shift = if drifted { 0.75 } else { 1.0 };
        let income = ((10.6 + 0.35 * normal(&mut rng)).exp() * income_shift).round();
        let debt_shift = if drifted { 0.12 } else { 0.0 };
        let debt_ratio = (0.32 + debt_shift + 0.12 * normal(&mut rng)).clamp(0.0, 1.5);
        let credit_lines = rng.random_range(0..12);
        let region = if drifted && rng.random_bool(0.15) {
            "offshore"
        } else {
            REGIONS[rng.random_range(0..REGIONS.len())]
        };
        let employment = EMPLOYMENT[match rng.random_range(0..100) {
            0..=74 => 0,
            75..=91 => 1,
            _ => 2,
        }];
        let z = -1.6 + 9.0 * (debt_ratio - 0.32) - 2.4 * (income / 40000.0).ln()
            + 0.18 * credit_lines as f64
            - 0.04 * (age - 45.0)
            + if employment == "unemployed" { 1.8 } else { 0.0 };
        let p = 1.0 / (1.0 + (-z).exp());
        let default = u8::from(rng.random_bool(p.clamp(0.0, 1.0)));
        out.push_str(&format!(
            "{age},{income},{debt_ratio:.4},{credit_lines},{region},{employment},{default}\n"
        ));
    }
    out
}

/// `id,score` rows for the scores of a batch of applications, keyed by an
/// application id the way a serving system logs its predictions.
pub fn predictions_csv(prefix: &str, scores: &[f64]) -> String {
    let mut out = String::from("id,score\n");
    for (i, s) in scores.iter().enumerate() {
        out.push_str(&format!("{prefix}-{i:05},{s:.5}\n"));
    }
    out
}

/// `id,default` rows: the outcome of each application as it becomes known
/// months later. `labels` are the outcomes in row order.
pub fn labels_csv(prefix: &str, labels: impl Iterator<Item = u8>) -> String {
    let mut out = String::from("id,default\n");
    for (i, l) in labels.enumerate() {
        out.push_str(&format!("{prefix}-{i:05},{l}\n"));
    }
    out
}

/// The `default` column of a demo CSV.
pub fn defaults_of(csv: &str) -> Vec<u8> {
    csv.lines()
        .skip(1)
        .filter_map(|l| l.rsplit(',').next()?.parse().ok())
        .collect()
}

/// Defaults after the economy turned: they no longer follow what the model
/// learned (a concept shift no input drift test sees), so the model's AUC
/// on them falls to chance.
pub fn shifted_defaults(rows: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..rows).map(|_| u8::from(rng.random_bool(0.25))).collect()
}
