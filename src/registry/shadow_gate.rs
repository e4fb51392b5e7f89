//! The `shadow` promotion gate (docs/shadow.md): the candidate may enter a
//! stage only if its newest shadow comparison against the version now in
//! that stage shows it not worse than `max_worse` on the gate's metric.

use crate::config::ShadowGateConfig;
use crate::error::{Error, Result};
use crate::record::Record;
use crate::registry::records::GateResult;
use crate::registry::state::{ModelState, VersionInfo};

use super::shadow_record::{self as record, ShadowComparison};

/// What the gate judges: the champion now in the stage, and the newest
/// comparison of the candidate against it.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The version and record in the stage (`None`: the stage is empty).
    pub champion: Option<(String, String)>,
    pub comparison: Option<(String, ShadowComparison)>,
}

/// Reads the evidence from a model's history (oldest first).
pub fn evidence(
    records: &[Record],
    state: &ModelState,
    candidate: &VersionInfo,
    stage: &str,
) -> Result<Evidence> {
    let champion = state
        .in_stage(stage)
        .filter(|c| c.record != candidate.record);
    let comparison = match champion {
        Some(c) => record::latest(records, &candidate.record, &c.record)?
            .map(|(r, body)| (r.id().to_string(), body)),
        None => None,
    };
    Ok(Evidence {
        champion: champion.map(|c| (c.version.version.clone(), c.record.clone())),
        comparison,
    })
}

/// A misconfigured gate is a configuration error naming its table.
pub fn check(cfg: &ShadowGateConfig, model: &str, stage: &str) -> Result<()> {
    let bad = |why: String| Error::Config {
        path: crate::config::FILE_NAME.into(),
        message: format!("[models.{model}.gates.{stage}] shadow: {why}"),
    };
    if !crate::drift::performance::METRICS.contains(&cfg.metric.as_str()) {
        return Err(bad(format!(
            "`{}` is not a metric mlops can compute (one of {})",
            cfg.metric,
            crate::drift::performance::METRICS.join(", ")
        )));
    }
    if !cfg.max_worse.is_finite() || cfg.max_worse < 0.0 {
        return Err(bad(format!(
            "max_worse = {} must be a number ≥ 0 (how much worse the challenger may be)",
            cfg.max_worse
        )));
    }
    match cfg.bound.as_deref() {
        None | Some("point") | Some("interval") => Ok(()),
        Some(other) => Err(bad(format!(
            "bound = \"{other}\" is not one of point, interval"
        ))),
    }
}

fn num(v: f64) -> String {
    crate::run::query::short_number(v)
}

/// The gate's result for this evidence.
pub fn judge(
    cfg: &ShadowGateConfig,
    model: &str,
    stage: &str,
    evidence: Option<&Evidence>,
) -> Result<GateResult> {
    check(cfg, model, stage)?;
    let interval = cfg.bound.as_deref() == Some("interval");
    let gate = format!("shadow {}", cfg.metric);
    let champion = evidence.and_then(|e| e.champion.as_ref());
    let expected = format!(
        "{} not worse than {} by more than {}{} over ≥ {} labelled rows",
        cfg.metric,
        champion.map_or_else(
            || format!("the version in `{stage}`"),
            |c| format!("v{}", c.0)
        ),
        num(cfg.max_worse),
        if interval {
            " (95% interval bound)"
        } else {
            ""
        },
        cfg.min_rows
    );
    let result = |pass: bool, actual: String| GateResult {
        gate: gate.clone(),
        expected: expected.clone(),
        actual,
        pass,
    };
    let Some(champion) = champion else {
        return Ok(result(true, format!("no champion in `{stage}`")));
    };
    let Some((_, c)) = evidence.and_then(|e| e.comparison.as_ref()) else {
        return Ok(result(
            false,
            format!(
                "no shadow comparison against v{} (run `mlops shadow {model}@<version> --against @{stage} ...`)",
                champion.0
            ),
        ));
    };
    let Some(m) = c.metric(&cfg.metric) else {
        return Ok(result(
            false,
            format!("{} missing in the comparison", cfg.metric),
        ));
    };
    let rows = c.labelled_rows(m);
    if rows < cfg.min_rows {
        return Ok(result(false, format!("{rows} labelled rows")));
    }
    let (Some(champ), Some(chall), Some(point)) = (m.champion, m.challenger, m.worse_by) else {
        return Ok(result(
            false,
            format!(
                "{} missing in the comparison{}",
                cfg.metric,
                m.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
        ));
    };
    let judged = if interval {
        match m.worse_by_bound() {
            Some(b) => b,
            None => {
                return Ok(result(
                    false,
                    format!("no confidence interval for {}", cfg.metric),
                ))
            }
        }
    } else {
        point
    };
    let pass = judged <= cfg.max_worse;
    let by = if point > 0.0 {
        format!("worse by {}", num(point))
    } else {
        format!("not worse (better by {})", num(-point))
    };
    let mut actual = format!(
        "{} {} vs {} over {rows} rows: {by}",
        cfg.metric,
        num(chall),
        num(champ),
    );
    if interval {
        actual.push_str(&format!(", at most {}", num(judged)));
    }
    Ok(result(pass, actual))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::shadow_record::{
        Counts, FileRef, Files, Interval, MetricComparison, ShadowComparison, Side,
    };

    fn comparison(champion: f64, challenger: f64, ci: (f64, f64), rows: u64) -> ShadowComparison {
        let file = FileRef {
            path: "p.csv".into(),
            sha256: "0".repeat(64),
            rows,
        };
        let side = |v: &str| Side {
            version: v.into(),
            record: format!("sha256:{v}"),
        };
        ShadowComparison {
            model: "m".into(),
            challenger: side("2.0.0"),
            champion: side("1.0.0"),
            stage: Some("production".into()),
            mode: "shadow".into(),
            key: "id".into(),
            prediction: "prediction".into(),
            label: Some("label".into()),
            files: Files {
                champion: file.clone(),
                challenger: file,
                labels: None,
            },
            counts: Counts::default(),
            agreement: None,
            shift: None,
            metrics: vec![MetricComparison {
                metric: "auc".into(),
                rows,
                challenger_rows: None,
                champion: Some(champion),
                challenger: Some(challenger),
                difference: Some(challenger - champion),
                worse_by: Some(champion - challenger),
                ci: Some(Interval {
                    low: ci.0,
                    high: ci.1,
                }),
                note: None,
            }],
            positive_label: None,
            bootstrap: None,
            slices: None,
        }
    }

    fn gate(bound: Option<&str>) -> ShadowGateConfig {
        ShadowGateConfig {
            metric: "auc".into(),
            max_worse: 0.01,
            min_rows: 100,
            bound: bound.map(str::to_string),
        }
    }

    fn judged(cfg: &ShadowGateConfig, c: Option<ShadowComparison>) -> GateResult {
        let e = Evidence {
            champion: Some(("1.0.0".into(), "sha256:1.0.0".into())),
            comparison: c.map(|c| (String::new(), c)),
        };
        judge(cfg, "m", "production", Some(&e)).expect("a valid gate")
    }

    #[test]
    fn point_and_interval_bounds() {
        // 0.005 worse: within 0.01 by the point, but the interval allows 0.03 worse.
        let c = comparison(0.80, 0.795, (-0.03, 0.02), 400);
        assert!(judged(&gate(None), Some(c.clone())).pass);
        let r = judged(&gate(Some("interval")), Some(c));
        assert!(!r.pass);
        assert_eq!(
            r.actual,
            "auc 0.795 vs 0.8 over 400 rows: worse by 0.005, at most 0.03"
        );
        // 0.02 worse fails by the point; better passes.
        assert!(!judged(&gate(None), Some(comparison(0.80, 0.78, (-0.04, 0.0), 400))).pass);
        assert!(judged(&gate(None), Some(comparison(0.80, 0.85, (0.01, 0.09), 400))).pass);
        // too few rows, no comparison, no champion
        let few = judged(&gate(None), Some(comparison(0.8, 0.9, (0.0, 0.2), 50)));
        assert_eq!((few.pass, few.actual.as_str()), (false, "50 labelled rows"));
        assert!(!judged(&gate(None), None).pass);
        let empty = Evidence {
            champion: None,
            comparison: None,
        };
        let r = judge(&gate(None), "m", "production", Some(&empty)).expect("valid");
        assert_eq!(
            (r.pass, r.actual.as_str()),
            (true, "no champion in `production`")
        );
    }

    #[test]
    fn bad_gates_are_config_errors() {
        let mut g = gate(None);
        g.metric = "logloss".into();
        let e = check(&g, "m", "production").unwrap_err().to_string();
        assert!(
            e.contains("[models.m.gates.production] shadow: `logloss`"),
            "{e}"
        );
        let mut g = gate(Some("worst"));
        assert!(check(&g, "m", "production").is_err());
        g.bound = None;
        g.max_worse = -0.1;
        assert!(check(&g, "m", "production").is_err());
    }
}
