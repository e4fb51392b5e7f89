//! Shadow mode and champion–challenger comparisons (docs/shadow.md).
//!
//! A challenger version scores the same traffic as the champion (shadow
//! mode: both prediction files hold the same keys) or its own share of it
//! (an A/B split, `--ab`). The comparison — agreement, the shift between the
//! two prediction distributions, and with labels each metric for both models
//! with the difference and a bootstrap interval — is recorded on the model's
//! history as a `shadow-comparison`, which the `shadow` promotion gate reads.

pub mod bootstrap;
pub mod fast;
pub mod join;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Config, ShadowGateConfig};
use crate::drift::load::Cell;
use crate::drift::performance::{self, METRICS};
use crate::drift::stats::{self, FeatureType, Sample, StatTest};
use crate::error::{Error, Result};
use crate::record::Draft;
use crate::registry::gates::stages_of;
use crate::registry::records::GateResult;
use crate::registry::spec::Selector;
use crate::registry::state::VersionInfo;
use crate::store::{Entity, EntityKind, Store};

use crate::registry::shadow_record::{
    self as record, Agreement, Bootstrap, Counts, FileRef, Files, Interval, MetricComparison,
    ShadowComparison, Shift, Side, SliceResult, Slices,
};
use join::Keyed;

pub use crate::registry::shadow_record::KIND;

/// What `mlops shadow` was asked.
#[derive(Debug, Clone)]
pub struct ShadowOptions {
    pub model: String,
    pub challenger: Selector,
    /// `--against`: a stage (default `production`) or a version.
    pub champion: Selector,
    /// Absolute paths: champion's and challenger's predictions.
    pub predictions: [PathBuf; 2],
    pub labels: Option<PathBuf>,
    pub key: String,
    pub prediction: String,
    pub label: String,
    /// Empty: the default (see [`default_metrics`]).
    pub metrics: Vec<String>,
    pub slice: Option<String>,
    pub ab: bool,
    pub record: bool,
}

/// The comparison, where it was recorded, and the gate's verdict when the
/// champion's stage has a `shadow` gate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShadowOutcome {
    pub comparison: ShadowComparison,
    pub record: Option<String>,
    pub gate: Option<GateResult>,
}

impl ShadowOutcome {
    /// Whether the gate (if any) passed.
    pub fn pass(&self) -> bool {
        self.gate.as_ref().is_none_or(|g| g.pass)
    }
}

/// The stage the champion stands for: the one it was named by, else the
/// highest (in promotion order) it holds.
fn champion_stage(sel: &Selector, champion: &VersionInfo, order: &[String]) -> Option<String> {
    if let Selector::Stage(s) = sel {
        return Some(s.clone());
    }
    order
        .iter()
        .rev()
        .find(|s| champion.stages.contains(s))
        .cloned()
}

/// The metrics compared by default: those recorded with either version that
/// mlops can compute, else `auc` for two-valued labels and `rmse` otherwise.
fn default_metrics(versions: [&VersionInfo; 2], labels: &[Option<Cell>]) -> Vec<String> {
    let known: Vec<String> = METRICS
        .iter()
        .filter(|m| versions.iter().any(|v| v.version.metrics.contains_key(**m)))
        .map(|m| m.to_string())
        .collect();
    if !known.is_empty() {
        return known;
    }
    let mut distinct: Vec<&Cell> = Vec::new();
    for c in labels.iter().flatten() {
        if !distinct.contains(&c) {
            distinct.push(c);
            if distinct.len() > 2 {
                return vec!["rmse".into()];
            }
        }
    }
    vec!["auc".into()]
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Num(x) => crate::run::query::short_number(*x),
    }
}

/// Agreement over rows both models scored. Scores in [0, 1] agree when
/// they fall on the same side of 0.5 (the class `performance` derives);
/// text classes when equal; other numbers (a regression) when within
/// 1e-6 relative: |a − b| ≤ 1e-6 · max(1, |a|).
pub fn agreement(pairs: &[(&Cell, &Cell)]) -> Option<Agreement> {
    if pairs.is_empty() {
        return None;
    }
    let numeric = pairs
        .iter()
        .all(|(a, b)| matches!((a, b), (Cell::Num(_), Cell::Num(_))));
    let scores = numeric
        && pairs.iter().all(|(a, b)| match (a, b) {
            (Cell::Num(x), Cell::Num(y)) => (0.0..=1.0).contains(x) && (0.0..=1.0).contains(y),
            _ => false,
        });
    let agree = |a: &Cell, b: &Cell| match (a, b) {
        (Cell::Num(x), Cell::Num(y)) if scores => (*x >= 0.5) == (*y >= 0.5),
        (Cell::Num(x), Cell::Num(y)) => (x - y).abs() <= 1e-6 * x.abs().max(1.0),
        _ => cell_text(a) == cell_text(b),
    };
    let agreeing = pairs.iter().filter(|(a, b)| agree(a, b)).count() as u64;
    let rows = pairs.len() as u64;
    Some(Agreement {
        rule: if numeric && !scores { "value" } else { "class" }.into(),
        rows,
        agreeing,
        rate: agreeing as f64 / rows as f64,
    })
}

/// PSI between the two prediction distributions (numeric when both are
/// numbers, else over the predicted classes).
fn shift(a: &[&Cell], b: &[&Cell]) -> Option<Shift> {
    let numeric = a.iter().chain(b).all(|c| matches!(c, Cell::Num(_)));
    let test = StatTest::Psi;
    let outcome = if numeric {
        let nums = |v: &[&Cell]| -> Vec<f64> {
            v.iter()
                .filter_map(|c| match c {
                    Cell::Num(x) => Some(*x),
                    Cell::Text(_) => None,
                })
                .collect()
        };
        let (x, y) = (nums(a), nums(b));
        stats::run_test(
            test,
            FeatureType::Numeric,
            &Sample::Numeric(&x),
            &Sample::Numeric(&y),
            None,
        )
    } else {
        let texts = |v: &[&Cell]| -> Vec<String> { v.iter().map(|c| cell_text(c)).collect() };
        let (x, y) = (texts(a), texts(b));
        stats::run_test(
            test,
            FeatureType::Categorical,
            &Sample::Categorical(&x),
            &Sample::Categorical(&y),
            None,
        )
    }
    .ok()?;
    Some(Shift {
        statistic: test.name().into(),
        score: outcome.score,
        threshold: outcome.threshold,
        drift: outcome.drift,
    })
}

/// Predictions and labels of the labelled rows of one arm (paired: both
/// models on the same rows, so `pred[0]` and `pred[1]` share `label`).
struct Labelled {
    pred: [Vec<Option<Cell>>; 2],
    /// One label vector per arm (paired: equal).
    label: [Vec<Option<Cell>>; 2],
    paired: bool,
}

impl Labelled {
    fn rows(&self, arm: usize) -> usize {
        self.label[arm].len()
    }

    fn subset(&self, pick: [&[usize]; 2]) -> Labelled {
        let take =
            |v: &[Option<Cell>], rows: &[usize]| rows.iter().map(|&i| v[i].clone()).collect();
        Labelled {
            pred: [take(&self.pred[0], pick[0]), take(&self.pred[1], pick[1])],
            label: [take(&self.label[0], pick[0]), take(&self.label[1], pick[1])],
            paired: self.paired,
        }
    }
}

/// One metric for both arms, its difference and its bootstrap interval.
fn compare(metric: &str, d: &Labelled) -> (MetricComparison, Option<String>) {
    let champ = performance::evaluate(metric, &d.pred[0], &d.label[0]);
    let chall = performance::evaluate(metric, &d.pred[1], &d.label[1]);
    let positive = champ
        .as_ref()
        .ok()
        .and_then(|r| r.1.clone())
        .or_else(|| chall.as_ref().ok().and_then(|r| r.1.clone()));
    let note = match (&champ, &chall) {
        (Err(e), _) => Some(format!("champion: {e}")),
        (_, Err(e)) => Some(format!("challenger: {e}")),
        _ => None,
    };
    let (c0, c1) = (champ.ok().map(|r| r.0), chall.ok().map(|r| r.0));
    let difference = c0.zip(c1).map(|(a, b)| b - a);
    let worse_by = c0
        .zip(c1)
        .map(|(a, b)| performance::degradation(metric, a, b));
    // The interval resamples row weights over rows decoded once (`fast`).
    let prepared = [0, 1].map(|arm| fast::prepare(metric, &d.pred[arm], &d.label[arm]));
    let ci = match (&prepared, difference) {
        ([Some(f0), Some(f1)], Some(_)) if d.paired => {
            let n = d.rows(0);
            bootstrap::paired(n, |w| Some(f1.value(metric, w)? - f0.value(metric, w)?))
        }
        ([Some(f0), Some(f1)], Some(_)) => {
            let n = [d.rows(0), d.rows(1)];
            bootstrap::independent(n, |arm, w| [f0, f1][arm].value(metric, w))
        }
        _ => None,
    };
    (
        MetricComparison {
            metric: metric.to_string(),
            rows: d.rows(0) as u64,
            challenger_rows: (!d.paired).then_some(d.rows(1) as u64),
            champion: c0,
            challenger: c1,
            difference,
            worse_by,
            ci: ci.map(|i: bootstrap::Interval| Interval {
                low: i.low,
                high: i.high,
            }),
            note,
        },
        positive,
    )
}

/// How a file is named: relative to the repository, never an absolute path.
fn shown(root: &std::path::Path, p: &std::path::Path) -> String {
    crate::monitor::display_rel(root, p)
}

fn file_ref(root: &std::path::Path, k: &Keyed) -> Result<FileRef> {
    let (sha256, _) = crate::dataset::hash::sha256_file(&k.path)
        .map_err(|e| Error::io(format!("cannot read `{}`", shown(root, &k.path)), e))?;
    Ok(FileRef {
        path: shown(root, &k.path),
        sha256,
        rows: k.rows,
    })
}

/// Runs the comparison, records it unless asked not to, and judges it by
/// the champion stage's `shadow` gate when there is one.
pub fn run(store: &Store, config: &Config, opts: &ShadowOptions) -> Result<ShadowOutcome> {
    let root = store.root();
    let state = crate::registry::promote::model_state(store, &opts.model)?;
    let challenger = state.resolve(&opts.challenger)?.clone();
    let champion = state.resolve(&opts.champion)?.clone();
    if challenger.record == champion.record {
        return Err(Error::invalid_with_hint(
            format!(
                "the challenger and the champion are the same version ({})",
                challenger.label()
            ),
            "name another version, or another stage with `--against`",
        ));
    }
    let model_cfg = config.model(&opts.model);
    let stage = champion_stage(&opts.champion, &champion, &stages_of(model_cfg));
    let gate_cfg: Option<&ShadowGateConfig> = stage
        .as_ref()
        .and_then(|s| model_cfg?.gates.get(s)?.shadow.as_ref());
    if let (Some(g), Some(s)) = (gate_cfg, &stage) {
        crate::registry::shadow_gate::check(g, &opts.model, s)?;
    }
    for m in &opts.metrics {
        if !METRICS.contains(&m.as_str()) {
            return Err(Error::invalid_with_hint(
                format!("`--metric {m}`: not a metric mlops can compute"),
                format!("use one of {}", METRICS.join(", ")),
            ));
        }
    }
    if let Some(s) = &opts.slice {
        if *s == opts.key {
            return Err(Error::invalid_with_hint(
                format!("`--slice {s}` is the key column: every slice would be one row"),
                "slice by a category such as a region or a segment",
            ));
        }
        if opts.labels.is_none() {
            return Err(Error::invalid_with_hint(
                format!("`--slice {s}` needs `--labels`: slices compare metrics"),
                "pass the labels file with `--labels`",
            ));
        }
    }

    let slice = opts.slice.as_deref();
    let [champ_path, chall_path] = &opts.predictions;
    let read_pred = |p: &PathBuf| {
        join::read(
            p,
            &shown(&root, p),
            &opts.key,
            &opts.prediction,
            "prediction",
            slice,
        )
    };
    let champ = read_pred(champ_path)?;
    let chall = read_pred(chall_path)?;
    let labels = match &opts.labels {
        Some(p) => Some(join::read(
            p,
            &shown(&root, p),
            &opts.key,
            &opts.label,
            "label",
            slice,
        )?),
        None => None,
    };

    let mut counts = Counts {
        champion: champ.len() as u64,
        challenger: chall.len() as u64,
        without_key: champ.no_key + chall.no_key + labels.as_ref().map_or(0, |l| l.no_key),
        ..Counts::default()
    };
    let (agreement_v, shift_v, labelled, slice_of);
    if opts.ab {
        agreement_v = None;
        shift_v = shift(&present(&champ), &present(&chall));
        // Each arm's labelled rows, with their slice value.
        let mut arms: [Arm; 2] = Default::default();
        if let Some(l) = &labels {
            for (arm, k) in [&champ, &chall].into_iter().enumerate() {
                for (i, key) in k.keys.iter().enumerate() {
                    let Some(j) = l.find(key) else { continue };
                    let (Some(p), Some(y)) = (&k.values[i], &l.values[j]) else {
                        continue;
                    };
                    arms[arm].0.push(Some(p.clone()));
                    arms[arm].1.push(Some(y.clone()));
                    arms[arm]
                        .2
                        .push(slice_value(l, j).or_else(|| slice_value(k, i)));
                }
            }
            counts.labelled_champion = Some(arms[0].0.len() as u64);
            counts.labelled_challenger = Some(arms[1].0.len() as u64);
        }
        let [a0, a1] = arms;
        slice_of = [a0.2, a1.2];
        labelled = Labelled {
            pred: [a0.0, a1.0],
            label: [a0.1, a1.1],
            paired: false,
        };
    } else {
        let pairs = join::inner(&champ, &chall);
        if pairs.is_empty() {
            return Err(Error::invalid_with_hint(
                format!(
                    "no key of `{}` is in `{}` (column `{}`): nothing to compare row by row",
                    shown(&root, champ_path),
                    shown(&root, chall_path),
                    opts.key
                ),
                "use --ab for split traffic (each model scored its own share)",
            ));
        }
        counts.joined = Some(pairs.len() as u64);
        counts.unmatched_champion = Some((champ.len() - pairs.len()) as u64);
        counts.unmatched_challenger = Some((chall.len() - pairs.len()) as u64);
        let both: Vec<(&Cell, &Cell)> = pairs
            .iter()
            .filter_map(|&(i, j)| Some((champ.values[i].as_ref()?, chall.values[j].as_ref()?)))
            .collect();
        agreement_v = agreement(&both);
        let (a, b): (Vec<&Cell>, Vec<&Cell>) = both.iter().copied().unzip();
        shift_v = shift(&a, &b);
        let mut d = Labelled {
            pred: Default::default(),
            label: Default::default(),
            paired: true,
        };
        let mut slices = Vec::new();
        if let Some(l) = &labels {
            for &(i, j) in &pairs {
                let Some(li) = l.find(&champ.keys[i]) else {
                    continue;
                };
                let (Some(p0), Some(p1), Some(y)) =
                    (&champ.values[i], &chall.values[j], &l.values[li])
                else {
                    continue;
                };
                d.pred[0].push(Some(p0.clone()));
                d.pred[1].push(Some(p1.clone()));
                d.label[0].push(Some(y.clone()));
                slices.push(
                    slice_value(l, li)
                        .or_else(|| slice_value(&champ, i))
                        .or_else(|| slice_value(&chall, j)),
                );
            }
            d.label[1] = d.label[0].clone();
            counts.labelled_champion = Some(d.label[0].len() as u64);
            counts.labelled_challenger = Some(d.label[0].len() as u64);
        }
        slice_of = [slices.clone(), slices];
        labelled = d;
    }

    let metrics_wanted: Vec<String> = if labels.is_none() {
        Vec::new()
    } else {
        let mut m = if opts.metrics.is_empty() {
            default_metrics([&challenger, &champion], &labelled.label[0])
        } else {
            opts.metrics.clone()
        };
        if let Some(g) = gate_cfg {
            if !m.contains(&g.metric) {
                m.push(g.metric.clone());
            }
        }
        m
    };
    let mut positive_label = None;
    let mut metrics = Vec::new();
    for m in &metrics_wanted {
        let (c, pos) = compare(m, &labelled);
        positive_label = positive_label.or(pos);
        metrics.push(c);
    }

    let slices = match &opts.slice {
        Some(column) => Some(slices(
            config,
            column,
            &labelled,
            &slice_of,
            &metrics_wanted,
            [&champ, &chall, labels.as_ref().unwrap_or(&champ)],
            &root,
        )?),
        None => None,
    };

    let files = Files {
        champion: file_ref(&root, &champ)?,
        challenger: file_ref(&root, &chall)?,
        labels: labels.as_ref().map(|l| file_ref(&root, l)).transpose()?,
    };
    let comparison = ShadowComparison {
        model: opts.model.clone(),
        challenger: Side {
            version: challenger.version.version.clone(),
            record: challenger.record.clone(),
        },
        champion: Side {
            version: champion.version.version.clone(),
            record: champion.record.clone(),
        },
        stage: stage.clone(),
        mode: if opts.ab { "ab" } else { "shadow" }.into(),
        key: opts.key.clone(),
        prediction: opts.prediction.clone(),
        label: labels.as_ref().map(|_| opts.label.clone()),
        files,
        counts,
        agreement: agreement_v,
        shift: shift_v,
        bootstrap: (!metrics.is_empty()).then(|| Bootstrap {
            method: if opts.ab { "independent" } else { "paired" }.into(),
            resamples: bootstrap::RESAMPLES as u64,
            level: bootstrap::LEVEL,
            seed: bootstrap::SEED,
        }),
        metrics,
        positive_label,
        slices,
    };
    let gate = match (gate_cfg, &stage) {
        (Some(g), Some(s)) => Some(crate::registry::shadow_gate::judge(
            g,
            &opts.model,
            s,
            Some(&crate::registry::shadow_gate::Evidence {
                champion: Some((champion.version.version.clone(), champion.record.clone())),
                comparison: Some((String::new(), comparison.clone())),
            }),
        )?),
        _ => None,
    };
    let record = if opts.record {
        let entity = Entity::new(EntityKind::Model, &opts.model)?;
        let draft = Draft::new(record::KIND, record::SCHEMA, summary(&comparison))
            .with_body(&comparison)?;
        Some(store.append_draft(&entity, &draft)?.id().to_string())
    } else {
        None
    };
    Ok(ShadowOutcome {
        comparison,
        record,
        gate,
    })
}

/// One A/B arm's labelled rows: predictions, labels, slice values.
type Arm = (Vec<Option<Cell>>, Vec<Option<Cell>>, Vec<Option<String>>);

fn present(k: &Keyed) -> Vec<&Cell> {
    k.values.iter().flatten().collect()
}

fn slice_value(k: &Keyed, row: usize) -> Option<String> {
    k.slice.as_ref()?.get(row).cloned().flatten()
}

/// Metrics per slice value; slices with fewer than the privacy policy's k
/// labelled rows (in either arm) are dropped and counted; a value shaped
/// like an identifier is refused (it would put customer data in a record).
fn slices(
    config: &Config,
    column: &str,
    d: &Labelled,
    slice_of: &[Vec<Option<String>>; 2],
    metrics: &[String],
    files: [&Keyed; 3],
    root: &std::path::Path,
) -> Result<Slices> {
    if files.iter().all(|k| k.slice.is_none()) {
        return Err(Error::invalid_with_hint(
            format!(
                "`--slice {column}`: no column `{column}` in {}",
                files
                    .iter()
                    .map(|k| format!("`{}`", shown(root, &k.path)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "name a column of the labels file or of the predictions files",
        ));
    }
    let k = config.privacy.k;
    // value → rows of each arm
    let mut groups: BTreeMap<&str, [Vec<usize>; 2]> = BTreeMap::new();
    for (arm, values) in slice_of.iter().enumerate() {
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                groups.entry(v.as_str()).or_default()[arm].push(i);
            }
        }
    }
    if let Some((v, kind)) = groups
        .keys()
        .find_map(|v| crate::privacy::identifier_kind(v).map(|kind| (v, kind)))
    {
        let _ = v; // the value itself is customer data: not in the message
        return Err(Error::invalid_with_hint(
            format!("`--slice {column}`: its values look like {kind}, not categories"),
            "slice by a category (region, segment, channel); identifiers never enter a record",
        ));
    }
    // The same limits as logged slice metrics (docs/fairness.md): a value a
    // slice label may not carry, or more slices than a category column has,
    // means the column is not a category — refused, never recorded.
    if groups.len() > crate::run::slices::MAX_SLICES {
        return Err(Error::invalid_with_hint(
            format!(
                "`--slice {column}` has {} values, more than the {} slices a comparison keeps",
                groups.len(),
                crate::run::slices::MAX_SLICES
            ),
            "slice by a category (region, segment, channel)",
        ));
    }
    if let Some(why) = groups
        .keys()
        .find_map(|v| crate::run::slices::check_value(column, v).err())
    {
        return Err(Error::invalid_with_hint(
            format!("`--slice {column}`: {why}"),
            "slice by a category (region, segment, channel)",
        ));
    }
    let mut dropped = 0u64;
    let mut values = Vec::new();
    for (value, rows) in &groups {
        if rows.iter().any(|r| (r.len() as u64) < k) {
            dropped += 1;
            continue;
        }
        let sub = d.subset([&rows[0], &rows[1]]);
        values.push(SliceResult {
            value: value.to_string(),
            metrics: metrics.iter().map(|m| compare(m, &sub).0).collect(),
        });
    }
    Ok(Slices {
        column: column.to_string(),
        k,
        dropped,
        values,
    })
}

/// The record's one-line summary.
fn summary(c: &ShadowComparison) -> String {
    let num = crate::run::query::short_number;
    let mut s = format!(
        "{} {} {} vs {}{}",
        if c.mode == "ab" { "A/B" } else { "shadow" },
        c.model,
        c.challenger.version,
        c.champion.version,
        c.stage
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    );
    if let Some(a) = &c.agreement {
        s.push_str(&format!(": agreement {:.1}%", a.rate * 100.0));
    }
    for m in &c.metrics {
        if let Some(d) = m.difference {
            s.push_str(&format!(
                ", {} {}{}",
                m.metric,
                if d >= 0.0 { "+" } else { "" },
                num(d)
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agree(a: &[Cell], b: &[Cell]) -> Agreement {
        let pairs: Vec<(&Cell, &Cell)> = a.iter().zip(b).collect();
        agreement(&pairs).expect("rows")
    }

    #[test]
    fn agreement_by_class_or_value() {
        let n = |v: &[f64]| v.iter().map(|&x| Cell::Num(x)).collect::<Vec<_>>();
        // scores: the same side of 0.5
        let a = agree(&n(&[0.1, 0.6, 0.49, 0.5]), &n(&[0.4, 0.9, 0.51, 0.7]));
        assert_eq!((a.rule.as_str(), a.agreeing, a.rows), ("class", 3, 4));
        // a regression: equal within 1e-6 relative
        let a = agree(&n(&[10.0, 2e6, 3.0]), &n(&[10.000_000_1, 2e6 + 1.0, 3.1]));
        assert_eq!((a.rule.as_str(), a.agreeing), ("value", 2));
        // text classes
        let t = |v: &[&str]| {
            v.iter()
                .map(|s| Cell::Text(s.to_string()))
                .collect::<Vec<_>>()
        };
        let a = agree(&t(&["yes", "no"]), &t(&["yes", "yes"]));
        assert_eq!((a.rule.as_str(), a.agreeing), ("class", 1));
        assert!(agreement(&[]).is_none());
    }
}
