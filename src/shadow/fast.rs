//! The metrics of `drift::performance` on a bootstrap resample, computed from
//! row weights (how often each row was drawn) instead of copied rows: the
//! rows are decoded once — classes, scores, the score order for AUC — and
//! each of the 1,000 resamples is one O(n) pass with no allocation beyond
//! the weights. The point estimates in a record still come from
//! `performance::evaluate`; a unit test holds the two to the same values.
//!
//! The class rules are `performance`'s (docs/performance.md): the positive
//! label is `1` (or the larger of two numbers), `true` (or the later of two
//! strings); numeric predictions all in [0, 1] are scores, classed at 0.5.
//! They are decided once on all rows, so every resample judges a row the
//! same way.

use crate::drift::load::Cell;
use crate::drift::performance::is_error_metric;

pub enum Prepared {
    Binary {
        truth: Vec<bool>,
        predicted: Vec<bool>,
        /// Rows by ascending AUC score, flat (one allocation, read in
        /// order: a list per tie group missed the cache at a million rows).
        order: Vec<u32>,
        /// Whether each row of `order` is a positive, in that order.
        sorted_truth: Vec<bool>,
        /// Where each group of equal scores ends in `order`.
        ends: Vec<u32>,
    },
    Regression {
        pred: Vec<f64>,
        label: Vec<f64>,
    },
}

/// The positive class, chosen as `performance::evaluate` chooses it, so the
/// fast path and the reference agree on every label set.
fn positive(labels: &[&Cell]) -> Option<Cell> {
    crate::drift::performance::positive_label(labels.iter().copied())
        .ok()
        .map(|(c, _)| c)
}

/// Decodes rows where both cells are present (as `evaluate` uses them);
/// `None` when `evaluate` would refuse the metric on them.
pub fn prepare(metric: &str, pred: &[Option<Cell>], label: &[Option<Cell>]) -> Option<Prepared> {
    let rows: Vec<(&Cell, &Cell)> = pred
        .iter()
        .zip(label)
        .filter_map(|(p, l)| Some((p.as_ref()?, l.as_ref()?)))
        .collect();
    if rows.len() != pred.len() || rows.is_empty() {
        // weights are per input row: every row must count
        return None;
    }
    if is_error_metric(metric) {
        let mut p = Vec::with_capacity(rows.len());
        let mut l = Vec::with_capacity(rows.len());
        for (a, b) in rows {
            let (Cell::Num(a), Cell::Num(b)) = (a, b) else {
                return None;
            };
            p.push(*a);
            l.push(*b);
        }
        return Some(Prepared::Regression { pred: p, label: l });
    }
    let labels: Vec<&Cell> = rows.iter().map(|r| r.1).collect();
    let pos = positive(&labels)?;
    let truth: Vec<bool> = labels.iter().map(|l| **l == pos).collect();
    let scores: Vec<f64> = rows
        .iter()
        .map(|(p, _)| match (p, &pos) {
            (Cell::Num(x), _) => *x,
            (Cell::Text(s), Cell::Text(q)) => f64::from(u8::from(s == q)),
            (Cell::Text(s), Cell::Num(q)) => f64::from(u8::from(s.parse::<f64>().ok() == Some(*q))),
        })
        .collect();
    let is_score = scores.iter().all(|s| (0.0..=1.0).contains(s));
    let predicted: Vec<bool> = match (&pos, is_score) {
        (_, true) => scores.iter().map(|&s| s >= 0.5).collect(),
        (Cell::Num(q), false) => scores.iter().map(|s| s == q).collect(),
        (Cell::Text(_), false) => return None,
    };
    let auc_scores: Vec<f64> = if is_score {
        scores
    } else {
        predicted.iter().map(|&p| f64::from(u8::from(p))).collect()
    };
    let mut order: Vec<u32> = (0..auc_scores.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| auc_scores[a as usize].total_cmp(&auc_scores[b as usize]));
    let mut ends: Vec<u32> = Vec::new();
    for j in 1..order.len() {
        if auc_scores[order[j] as usize] != auc_scores[order[j - 1] as usize] {
            ends.push(j as u32);
        }
    }
    if !order.is_empty() {
        ends.push(order.len() as u32);
    }
    let sorted_truth = order.iter().map(|&i| truth[i as usize]).collect();
    Some(Prepared::Binary {
        truth,
        predicted,
        order,
        sorted_truth,
        ends,
    })
}

impl Prepared {
    /// The metric with row `i` counted `w[i]` times; `None` where it is
    /// undefined (AUC with one class drawn).
    pub fn value(&self, metric: &str, w: &[u32]) -> Option<f64> {
        match self {
            Prepared::Regression { pred, label } => {
                let (mut se, mut ae, mut n) = (0.0, 0.0, 0.0);
                for ((p, l), &k) in pred.iter().zip(label).zip(w) {
                    let k = f64::from(k);
                    se += k * (p - l) * (p - l);
                    ae += k * (p - l).abs();
                    n += k;
                }
                if n == 0.0 {
                    return None;
                }
                Some(if metric == "rmse" {
                    (se / n).sqrt()
                } else {
                    ae / n
                })
            }
            Prepared::Binary {
                truth,
                predicted,
                order,
                sorted_truth,
                ends,
            } => {
                if metric == "auc" {
                    // Mann–Whitney: each positive beats the negatives below
                    // it and half of those tied with it (average ranks).
                    let (mut below_neg, mut wins, mut pos_total) = (0.0, 0.0, 0.0);
                    let mut start = 0usize;
                    for &end in ends {
                        let end = end as usize;
                        let (mut p, mut n) = (0.0, 0.0);
                        for (&i, &t) in order[start..end].iter().zip(&sorted_truth[start..end]) {
                            let k = f64::from(w[i as usize]);
                            if t {
                                p += k;
                            } else {
                                n += k;
                            }
                        }
                        wins += p * (below_neg + n / 2.0);
                        below_neg += n;
                        pos_total += p;
                        start = end;
                    }
                    if pos_total == 0.0 || below_neg == 0.0 {
                        return None;
                    }
                    return Some(wins / (pos_total * below_neg));
                }
                let (mut tp, mut fp, mut tn, mut fn_) = (0.0, 0.0, 0.0, 0.0);
                for ((&t, &p), &k) in truth.iter().zip(predicted).zip(w) {
                    let k = f64::from(k);
                    match (t, p) {
                        (true, true) => tp += k,
                        (false, true) => fp += k,
                        (false, false) => tn += k,
                        (true, false) => fn_ += k,
                    }
                }
                let div = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
                match metric {
                    "accuracy" => Some(div(tp + tn, tp + tn + fp + fn_)),
                    "precision" => Some(div(tp, tp + fp)),
                    "recall" => Some(div(tp, tp + fn_)),
                    "f1" => Some(div(2.0 * tp, 2.0 * tp + fp + fn_)),
                    _ => None,
                }
            }
        }
    }
}

/// How often each of `n` rows appears in a resample (the tests' way to
/// hold the weighted metrics to `evaluate` on rows written out).
#[cfg(test)]
pub fn weights(n: usize, rows: &[usize]) -> Vec<u32> {
    let mut w = vec![0u32; n];
    for &i in rows {
        w[i] += 1;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::performance::{evaluate, METRICS};

    fn cells(v: &[f64]) -> Vec<Option<Cell>> {
        v.iter().map(|&x| Some(Cell::Num(x))).collect()
    }

    /// The weighted value equals `evaluate` on the rows written out.
    fn same(metric: &str, pred: &[Option<Cell>], label: &[Option<Cell>], rows: &[usize]) {
        let p = prepare(metric, pred, label).expect("prepared");
        let fast = p.value(metric, &weights(pred.len(), rows));
        let pick = |v: &[Option<Cell>]| rows.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
        let slow = evaluate(metric, &pick(pred), &pick(label))
            .ok()
            .map(|r| r.0);
        match (fast, slow) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-12, "{metric}: {a} vs {b}"),
            other => panic!("{metric}: {other:?}"),
        }
    }

    #[test]
    fn weighted_metrics_match_evaluate() {
        let label = cells(&[1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
        let score = cells(&[0.9, 0.2, 0.4, 0.8, 0.6, 0.1, 0.4, 0.4]);
        let all: Vec<usize> = (0..8).collect();
        let drawn = [0, 0, 1, 2, 4, 4, 4, 6, 7, 7];
        for m in METRICS {
            same(m, &score, &label, &all);
            same(m, &score, &label, &drawn);
        }
        // text classes
        let t = |v: &[&str]| {
            v.iter()
                .map(|s| Some(Cell::Text(s.to_string())))
                .collect::<Vec<_>>()
        };
        let label = t(&["yes", "no", "yes", "no", "no"]);
        let pred = t(&["yes", "yes", "no", "no", "no"]);
        for m in ["accuracy", "f1", "auc"] {
            same(m, &pred, &label, &[0, 1, 2, 3, 4]);
            same(m, &pred, &label, &[0, 0, 1, 3, 2]);
        }
        // one class drawn: no AUC
        let p = prepare("auc", &score, &label_one()).map(|p| p.value("auc", &[1; 8]));
        assert_eq!(p, Some(None));
    }

    fn label_one() -> Vec<Option<Cell>> {
        cells(&[1.0; 8])
    }
}
