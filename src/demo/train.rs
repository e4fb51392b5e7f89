//! A small logistic-regression trainer for the demo: full-batch gradient
//! descent on the credit data, validation on the last 20% of rows, and
//! per-epoch metrics written through the same `MLOPS_METRICS` protocol any
//! training script uses.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::drift::load::{Cell, Dtype, Table};
use crate::error::{Error, Result};

use super::data::{EMPLOYMENT, REGIONS};

pub struct TrainConfig {
    pub lr: f64,
    pub epochs: usize,
    pub l2: f64,
}

#[derive(Debug, Serialize)]
pub struct Model {
    pub kind: &'static str,
    pub features: Vec<String>,
    pub weights: Vec<f64>,
    pub bias: f64,
    pub metrics: Metrics,
    /// Mean |SHAP value| per feature on the validation rows, in log-odds.
    #[serde(skip)]
    pub importance: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Metrics {
    pub train_loss: f64,
    pub val_loss: f64,
    pub accuracy: f64,
    pub auc: f64,
}

fn feature_names() -> Vec<String> {
    let mut f: Vec<String> = ["age", "log_income", "debt_ratio", "credit_lines"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    f.extend(REGIONS.iter().map(|r| format!("region={r}")));
    f.extend(EMPLOYMENT.iter().map(|e| format!("employment={e}")));
    f
}

/// Reads the demo CSV into a feature matrix and labels.
pub fn load(path: &Path) -> Result<(Vec<Vec<f64>>, Vec<f64>)> {
    let table = Table::open(&[path.to_path_buf()]).map_err(|e| Error::invalid(e.to_string()))?;
    let cols: Vec<(String, Dtype)> = [
        "age",
        "income",
        "debt_ratio",
        "credit_lines",
        "region",
        "employment",
        "default",
    ]
    .iter()
    .map(|c| {
        table
            .dtype(c)
            .cloned()
            .map(|d| (c.to_string(), d))
            .ok_or_else(|| Error::invalid(format!("`{}` has no column `{c}`", path.display())))
    })
    .collect::<Result<_>>()?;
    let data = table
        .read_rows(&cols)
        .map_err(|e| Error::invalid(e.to_string()))?;
    let n = data[0].len();
    let num = |c: &Option<Cell>| match c {
        Some(Cell::Num(x)) => *x,
        Some(Cell::Text(t)) => t.parse().unwrap_or(0.0),
        None => 0.0,
    };
    let text = |c: &Option<Cell>| match c {
        Some(Cell::Text(t)) => t.clone(),
        Some(Cell::Num(x)) => x.to_string(),
        None => String::new(),
    };
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    #[allow(clippy::needless_range_loop)] // rows across seven parallel columns
    for i in 0..n {
        let mut row = vec![
            num(&data[0][i]) / 80.0,
            (num(&data[1][i]).max(1.0).ln() - 10.6) / 0.5,
            num(&data[2][i]),
            num(&data[3][i]) / 12.0,
        ];
        let region = text(&data[4][i]);
        row.extend(REGIONS.iter().map(|r| f64::from(u8::from(region == *r))));
        let emp = text(&data[5][i]);
        row.extend(EMPLOYMENT.iter().map(|e| f64::from(u8::from(emp == *e))));
        x.push(row);
        y.push(num(&data[6][i]));
    }
    Ok((x, y))
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn predict(w: &[f64], b: f64, x: &[f64]) -> f64 {
    sigmoid(b + w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>())
}

fn log_loss(w: &[f64], b: f64, x: &[Vec<f64>], y: &[f64]) -> f64 {
    let eps = 1e-12;
    x.iter()
        .zip(y)
        .map(|(xi, yi)| {
            let p = predict(w, b, xi).clamp(eps, 1.0 - eps);
            -(yi * p.ln() + (1.0 - yi) * (1.0 - p).ln())
        })
        .sum::<f64>()
        / x.len().max(1) as f64
}

fn evaluate(w: &[f64], b: f64, x: &[Vec<f64>], y: &[f64]) -> (f64, f64, f64) {
    let scores: Vec<f64> = x.iter().map(|xi| predict(w, b, xi)).collect();
    let acc = scores
        .iter()
        .zip(y)
        .filter(|(p, l)| (**p >= 0.5) == (**l > 0.5))
        .count() as f64
        / y.len().max(1) as f64;
    let truth: Vec<bool> = y.iter().map(|l| *l > 0.5).collect();
    let auc = crate::drift::performance::auc(&scores, &truth).unwrap_or(0.5);
    (log_loss(w, b, x, y), acc, auc)
}

/// Trains, appending one metrics line per epoch to `metrics` when given.
pub fn train(data: &Path, cfg: &TrainConfig, metrics: Option<&Path>) -> Result<Model> {
    let (x, y) = load(data)?;
    if x.len() < 10 {
        return Err(Error::invalid(format!(
            "`{}` has too few rows to train on",
            data.display()
        )));
    }
    let split = x.len() * 4 / 5;
    let (xt, xv) = x.split_at(split);
    let (yt, yv) = y.split_at(split);
    let d = xt[0].len();
    let (mut w, mut b) = (vec![0.0; d], 0.0);
    let mut sink = match metrics {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(p)
                .map_err(|e| Error::io("cannot open the metrics file", e))?,
        ),
        None => None,
    };
    let mut last = Metrics {
        train_loss: 0.0,
        val_loss: 0.0,
        accuracy: 0.0,
        auc: 0.5,
    };
    for epoch in 0..cfg.epochs {
        let mut gw = vec![0.0; d];
        let mut gb = 0.0;
        for (xi, yi) in xt.iter().zip(yt) {
            let err = predict(&w, b, xi) - yi;
            for (g, v) in gw.iter_mut().zip(xi) {
                *g += err * v;
            }
            gb += err;
        }
        let n = xt.len() as f64;
        for (wi, g) in w.iter_mut().zip(&gw) {
            *wi -= cfg.lr * (g / n + cfg.l2 * *wi);
        }
        b -= cfg.lr * gb / n;
        let train_loss = log_loss(&w, b, xt, yt);
        let (val_loss, accuracy, auc) = evaluate(&w, b, xv, yv);
        last = Metrics {
            train_loss,
            val_loss,
            accuracy,
            auc,
        };
        if let Some(f) = sink.as_mut() {
            let line = serde_json::json!({"step": epoch, "train_loss": train_loss, "val_loss": val_loss, "accuracy": accuracy, "auc": auc});
            writeln!(f, "{line}").map_err(|e| Error::io("cannot write the metrics file", e))?;
        }
    }
    if let Some(f) = sink.as_mut() {
        // Approval rate (predicted non-default) per region on the validation
        // rows: the slice metrics a fairness gate reads (docs/fairness.md).
        for (k, region) in REGIONS.iter().enumerate() {
            let rows: Vec<&Vec<f64>> = xv.iter().filter(|r| r[4 + k] > 0.5).collect();
            if rows.is_empty() {
                continue;
            }
            let approved = rows.iter().filter(|r| predict(&w, b, r) < 0.5).count();
            let rate = approved as f64 / rows.len() as f64;
            let line = serde_json::json!({"approval_rate": rate, "slice": {"region": region}});
            writeln!(f, "{line}").map_err(|e| Error::io("cannot write the metrics file", e))?;
        }
    }
    let importance = feature_names()
        .into_iter()
        .zip(mean_abs_shap(&w, xv))
        .collect();
    Ok(Model {
        kind: "logistic-regression",
        features: feature_names(),
        weights: w,
        bias: b,
        metrics: last,
        importance,
    })
}

/// For a linear model the SHAP value of feature j on row x is exactly
/// w_j (x_j − E[x_j]) (Lundberg & Lee 2017, linear explainer with
/// independent features), so the demo's explainability numbers are the real
/// thing, not an illustration.
fn mean_abs_shap(w: &[f64], x: &[Vec<f64>]) -> Vec<f64> {
    let n = x.len().max(1) as f64;
    (0..w.len())
        .map(|j| {
            let mean = x.iter().map(|r| r[j]).sum::<f64>() / n;
            x.iter().map(|r| (w[j] * (r[j] - mean)).abs()).sum::<f64>() / n
        })
        .collect()
}

/// A trained model's scores (probability of default) for every row of a
/// demo CSV: what the demo's "serving system" writes as predictions.
pub fn score(model: &Path, data: &Path) -> Result<Vec<f64>> {
    #[derive(serde::Deserialize)]
    struct Saved {
        weights: Vec<f64>,
        bias: f64,
    }
    let bytes = std::fs::read(model)
        .map_err(|e| Error::io(format!("cannot read `{}`", model.display()), e))?;
    let saved: Saved = serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(format!("`{}`: {e}", model.display())))?;
    let (x, _) = load(data)?;
    Ok(x.iter()
        .map(|xi| predict(&saved.weights, saved.bias, xi))
        .collect())
}
