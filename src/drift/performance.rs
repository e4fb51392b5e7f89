//! Model quality on the current data, from a prediction column and a label column, compared
//! with the value recorded at training time: a drop larger than `max_degradation` becomes a
//! `degradation` finding (the registry uses it to suggest a rollback).
//!
//! Binary metrics (`accuracy`, `precision`, `recall`, `f1`, `auc`) need labels with two values:
//! numbers 0/1 (or any two numbers: the larger is positive), booleans (`true` is positive) or two
//! strings (the later in byte order is positive, and the report names it). A numeric prediction
//! with values in [0, 1] that are not all 0/1 is a score: the class is `score ≥ 0.5`, and `auc`
//! uses the score itself. Regression metrics (`rmse`, `mae`) need numbers on both sides.

use serde::{Deserialize, Serialize};

pub use super::load::Cell;

/// The metric on current data and how it compares with the recorded value.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Performance {
    pub metric: String,
    pub prediction: String,
    pub label: String,
    /// Rows where both prediction and label are present.
    pub rows: u64,
    pub current: Option<f64>,
    pub reference: Option<f64>,
    pub max_degradation: Option<f64>,
    /// How much worse the current value is (positive = worse), for either metric direction.
    pub degradation: Option<f64>,
    pub degraded: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Performance {
    /// The metric on aligned prediction/label rows, judged against the
    /// value recorded at training time: the one judgement a performance
    /// monitor and a late-label monitor share.
    pub fn judge(
        metric: &str,
        (prediction, label): (&str, &str),
        (pred, truth): (&[Option<Cell>], &[Option<Cell>]),
        reference: Option<f64>,
        max_degradation: Option<f64>,
    ) -> Performance {
        let rows = pred
            .iter()
            .zip(truth)
            .filter(|(a, b)| a.is_some() && b.is_some())
            .count() as u64;
        let mut out = Performance {
            metric: metric.to_string(),
            prediction: prediction.to_string(),
            label: label.to_string(),
            rows,
            current: None,
            reference,
            max_degradation,
            degradation: None,
            degraded: false,
            positive_label: None,
            note: None,
        };
        match evaluate(metric, pred, truth) {
            Ok((v, pos)) => {
                out.current = Some(v);
                out.positive_label = pos;
                if let Some(rm) = reference {
                    let d = degradation(metric, rm, v);
                    out.degradation = Some(d);
                    out.degraded = max_degradation.is_some_and(|m| d > m);
                }
            }
            Err(e) => out.note = Some(e),
        }
        out
    }
}

pub const METRICS: [&str; 7] = [
    "accuracy",
    "precision",
    "recall",
    "f1",
    "auc",
    "rmse",
    "mae",
];

/// Whether lower is better.
pub fn is_error_metric(metric: &str) -> bool {
    matches!(metric, "rmse" | "mae")
}

/// Metric value on aligned rows, or a reason why it cannot be computed.
pub fn evaluate(
    metric: &str,
    pred: &[Option<Cell>],
    label: &[Option<Cell>],
) -> Result<(f64, Option<String>), String> {
    let rows: Vec<(&Cell, &Cell)> = pred
        .iter()
        .zip(label)
        .filter_map(|(p, l)| Some((p.as_ref()?, l.as_ref()?)))
        .collect();
    if rows.is_empty() {
        return Err("no row has both a prediction and a label".into());
    }
    if is_error_metric(metric) {
        let mut se = 0.0;
        let mut ae = 0.0;
        for (p, l) in &rows {
            let (Cell::Num(p), Cell::Num(l)) = (p, l) else {
                return Err(format!("`{metric}` needs numeric predictions and labels"));
            };
            se += (p - l) * (p - l);
            ae += (p - l).abs();
        }
        let n = rows.len() as f64;
        let v = if metric == "rmse" {
            (se / n).sqrt()
        } else {
            ae / n
        };
        return Ok((v, None));
    }
    let (positive, pos_name) = positive_label(rows.iter().map(|r| r.1))?;
    let truth: Vec<bool> = rows.iter().map(|(_, l)| *l == &positive).collect();
    let scores: Vec<f64> = rows
        .iter()
        .map(|(p, _)| match (p, &positive) {
            (Cell::Num(x), _) => *x,
            (Cell::Text(s), Cell::Text(pos)) => f64::from(u8::from(s == pos)),
            (Cell::Text(s), Cell::Num(pos)) => {
                f64::from(u8::from(s.parse::<f64>().ok() == Some(*pos)))
            }
        })
        .collect();
    // Numbers outside 0..1 are class labels compared with the positive value.
    let is_score = scores.iter().all(|s| (0.0..=1.0).contains(s));
    let predicted: Vec<bool> = match (&positive, is_score) {
        (_, true) => scores.iter().map(|&s| s >= 0.5).collect(),
        (Cell::Num(pos), false) => scores.iter().map(|s| s == pos).collect(),
        (Cell::Text(_), false) => return Err("predictions do not match the labels' values".into()),
    };
    let (mut tp, mut fp, mut tn, mut fn_) = (0f64, 0f64, 0f64, 0f64);
    for (&t, &p) in truth.iter().zip(&predicted) {
        match (t, p) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (false, false) => tn += 1.0,
            (true, false) => fn_ += 1.0,
        }
    }
    let div = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
    let v = match metric {
        "accuracy" => (tp + tn) / (tp + tn + fp + fn_),
        "precision" => div(tp, tp + fp),
        "recall" => div(tp, tp + fn_),
        "f1" => div(2.0 * tp, 2.0 * tp + fp + fn_),
        "auc" => {
            let s: Vec<f64> = if is_score {
                scores
            } else {
                predicted.iter().map(|&p| f64::from(u8::from(p))).collect()
            };
            auc(&s, &truth).ok_or("auc needs both classes among the labels")?
        }
        other => return Err(format!("unknown metric `{other}`")),
    };
    Ok((v, pos_name))
}

/// The positive class and, when it was chosen among strings, its name for the report.
pub(crate) fn positive_label<'a>(
    labels: impl Iterator<Item = &'a Cell>,
) -> Result<(Cell, Option<String>), String> {
    let mut nums: Vec<f64> = Vec::new();
    let mut texts: Vec<&str> = Vec::new();
    for l in labels {
        match l {
            Cell::Num(x) if !nums.contains(x) => nums.push(*x),
            Cell::Text(s) if !texts.contains(&s.as_str()) => texts.push(s),
            _ => {}
        }
        if nums.len() + texts.len() > 2 {
            return Err("binary metrics need labels with at most two values".into());
        }
    }
    if !texts.is_empty() && !nums.is_empty() {
        return Err("labels mix numbers and text".into());
    }
    if !nums.is_empty() {
        let pos = if nums.contains(&1.0) {
            1.0
        } else {
            nums.iter().copied().fold(f64::MIN, f64::max)
        };
        return Ok((Cell::Num(pos), None));
    }
    texts.sort_unstable();
    let pos = if texts.contains(&"true") {
        "true"
    } else {
        texts.last().ok_or("no labels")?
    };
    Ok((Cell::Text(pos.to_string()), Some(pos.to_string())))
}

/// ROC AUC by the rank-sum formula with average ranks for ties (sklearn's value).
pub(crate) fn auc(scores: &[f64], truth: &[bool]) -> Option<f64> {
    let n_pos = truth.iter().filter(|&&t| t).count() as f64;
    let n_neg = truth.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += idx[i..=j].iter().filter(|&&k| truth[k]).count() as f64 * avg;
        i = j + 1;
    }
    Some((rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Degradation (positive = worse) of `current` against `reference` for `metric`.
pub fn degradation(metric: &str, reference: f64, current: f64) -> f64 {
    if is_error_metric(metric) {
        current - reference
    } else {
        reference - current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: &[f64]) -> Vec<Option<Cell>> {
        v.iter().map(|&x| Some(Cell::Num(x))).collect()
    }

    #[test]
    fn binary_metrics() {
        let label = n(&[1.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        let pred = n(&[0.9, 0.2, 0.4, 0.8, 0.6, 0.1]);
        let get = |m| evaluate(m, &pred, &label).expect(m).0;
        assert!((get("accuracy") - 4.0 / 6.0).abs() < 1e-12);
        assert!((get("precision") - 2.0 / 3.0).abs() < 1e-12);
        assert!((get("recall") - 2.0 / 3.0).abs() < 1e-12);
        assert!((get("f1") - 2.0 / 3.0).abs() < 1e-12);
        // sklearn roc_auc_score([1,0,1,1,0,0],[.9,.2,.4,.8,.6,.1]) = 0.8888…
        assert!((get("auc") - 8.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn string_labels_and_regression() {
        let label: Vec<Option<Cell>> = ["yes", "no", "yes", "no"]
            .iter()
            .map(|s| Some(Cell::Text(s.to_string())))
            .collect();
        let pred = label.clone();
        let (v, pos) = evaluate("accuracy", &pred, &label).expect("acc");
        assert_eq!((v, pos.as_deref()), (1.0, Some("yes")));
        let (r, _) = evaluate("rmse", &n(&[1.0, 2.0, 3.0]), &n(&[1.0, 2.0, 5.0])).expect("rmse");
        assert!((r - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(degradation("rmse", 1.0, 1.5), 0.5);
        assert_eq!(degradation("auc", 0.9, 0.8), 0.9 - 0.8);
        assert!(evaluate("auc", &n(&[0.1, 0.2]), &n(&[1.0, 1.0])).is_err());
    }
}
