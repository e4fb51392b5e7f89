//! Promotion gates: the policy in `mlops.toml` evaluated against a candidate
//! version. Each result carries what was expected and what was found, so the
//! verdict in a pull request and the record of the promotion explain
//! themselves.

use chrono::{DateTime, Utc};

use crate::config::{GateConfig, ModelConfig};
use crate::error::{Error, Result};
use crate::registry::records::{Approval, GateResult, Inventory};
use crate::registry::state::{ModelState, VersionInfo};

/// A metric rule: `auc >= 0.9` or `auc >= current - 0.005`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRule {
    pub metric: String,
    pub op: String,
    /// `None`: compared with the version now in the stage.
    pub against_current: bool,
    pub offset: f64,
}

pub fn parse_rule(rule: &str) -> Result<MetricRule> {
    let bad = |why: &str| Error::Config {
        path: crate::config::FILE_NAME.into(),
        message: format!("gate `{rule}`: {why}"),
    };
    let ops = [">=", "<=", "==", "!=", ">", "<"];
    let (pos, op) = ops
        .iter()
        .filter_map(|op| rule.find(op).map(|p| (p, *op)))
        .min_by_key(|(p, op)| (*p, std::cmp::Reverse(op.len())))
        .ok_or_else(|| {
            bad("expected `<metric> <op> <value>` with op one of >=, >, <=, <, ==, !=")
        })?;
    let metric = rule[..pos].trim();
    let rhs = rule[pos + op.len()..].trim();
    if metric.is_empty() {
        return Err(bad("the metric name is missing"));
    }
    let (against_current, offset) = if let Some(rest) = rhs.strip_prefix("current") {
        let rest: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
        if rest.is_empty() {
            (true, 0.0)
        } else {
            let (sign, num) = rest.split_at(1);
            let n: f64 = num
                .parse()
                .map_err(|_| bad("expected `current + <number>` or `current - <number>`"))?;
            match sign {
                "+" => (true, n),
                "-" => (true, -n),
                _ => return Err(bad("expected `current + <number>` or `current - <number>`")),
            }
        }
    } else {
        let n: f64 = rhs
            .parse()
            .map_err(|_| bad("the right-hand side is neither a number nor `current`"))?;
        (false, n)
    };
    Ok(MetricRule {
        metric: metric.to_string(),
        op: op.to_string(),
        against_current,
        offset,
    })
}

pub(crate) fn holds(a: f64, op: &str, b: f64) -> bool {
    match op {
        ">=" => a >= b,
        "<=" => a <= b,
        ">" => a > b,
        "<" => a < b,
        "==" => (a - b).abs() <= f64::EPSILON * a.abs().max(b.abs()).max(1.0),
        "!=" => a != b,
        _ => false,
    }
}

/// The latest drift report of a monitor, as the drift gate needs it.
pub struct DriftStatus {
    pub drifted: bool,
    pub degraded: bool,
    pub created_at: String,
}

pub struct GateInput<'a> {
    pub state: &'a ModelState,
    pub candidate: &'a VersionInfo,
    pub stage: &'a str,
    pub config: Option<&'a ModelConfig>,
    pub approvals: &'a [Approval],
    pub actor: &'a str,
    pub drift: Option<DriftStatus>,
    /// For a `data_quality` gate: why each training dataset does not pass
    /// its contract (empty: all do).
    pub data_quality: Option<Vec<String>>,
    /// For a `shadow` gate: the newest comparison against the champion.
    pub shadow: Option<crate::registry::shadow_gate::Evidence>,
    pub now: DateTime<Utc>,
}

/// The stages of a model: from `mlops.toml`, or the default pair.
pub fn stages_of(config: Option<&ModelConfig>) -> Vec<String> {
    config
        .map(|c| c.stages.clone())
        .unwrap_or_else(|| vec!["staging".into(), "production".into()])
}

fn num(v: f64) -> String {
    crate::run::query::short_number(v)
}

pub fn evaluate(input: &GateInput) -> Result<Vec<GateResult>> {
    let stages = stages_of(input.config);
    let Some(index) = stages.iter().position(|s| s == input.stage) else {
        return Err(Error::invalid_with_hint(
            format!(
                "model `{}` has no stage `{}`",
                input.state.name, input.stage
            ),
            format!(
                "its stages are {} (set `stages` in [models.{}] of mlops.toml)",
                stages.join(", "),
                input.state.name
            ),
        ));
    };
    let default_gate = GateConfig::default();
    let gate = input
        .config
        .and_then(|c| c.gates.get(input.stage))
        .unwrap_or(&default_gate);
    let mut out = Vec::new();

    if input.candidate.deprecated {
        out.push(GateResult {
            gate: "not deprecated".into(),
            expected: "an active version".into(),
            actual: "deprecated".into(),
            pass: false,
        });
    }

    // Stage order: a version enters a stage only after the one before it.
    if index > 0 && !gate.skip_stage_order {
        let previous = &stages[index - 1];
        let ok = input.candidate.stages_reached.contains(previous);
        out.push(GateResult {
            gate: "stage order".into(),
            expected: format!("was in `{previous}` before `{}`", input.stage),
            actual: if ok {
                format!("was in `{previous}`")
            } else {
                format!("never in `{previous}`")
            },
            pass: ok,
        });
    }

    let current = input
        .state
        .in_stage(input.stage)
        .filter(|c| c.version.version != input.candidate.version.version);
    for rule_text in &gate.metrics {
        let rule = parse_rule(rule_text)?;
        let actual = input.candidate.version.metrics.get(&rule.metric).copied();
        let (expected_value, expected_text) = if rule.against_current {
            match current.and_then(|c| c.version.metrics.get(&rule.metric).copied()) {
                Some(cur) => {
                    let t = cur + rule.offset;
                    (
                        Some(t),
                        format!(
                            "{} {} {} (v{} {}{})",
                            rule.metric,
                            rule.op,
                            num(t),
                            current.map(|c| c.version.version.as_str()).unwrap_or(""),
                            num(cur),
                            if rule.offset != 0.0 {
                                format!(" {:+}", rule.offset)
                            } else {
                                String::new()
                            }
                        ),
                    )
                }
                None => (
                    None,
                    format!(
                        "{} (no current version in `{}`)",
                        rule_text.trim(),
                        input.stage
                    ),
                ),
            }
        } else {
            (
                Some(rule.offset),
                format!("{} {} {}", rule.metric, rule.op, num(rule.offset)),
            )
        };
        let (pass, actual_text) = match (actual, expected_value) {
            (None, _) => (false, format!("{} missing", rule.metric)),
            (Some(a), None) => (true, num(a)),
            (Some(a), Some(e)) => (holds(a, &rule.op, e), num(a)),
        };
        out.push(GateResult {
            gate: format!("metric {}", rule.metric),
            expected: expected_text,
            actual: actual_text,
            pass,
        });
    }

    out.extend(crate::registry::slices::evaluate(
        &input.state.name,
        input.stage,
        &gate.slices,
        &input.candidate.version.metrics,
    )?);

    if gate.wants_approvals() {
        // The approvals were judged one by one before (signature, role,
        // independence: `registry::approvals`); here they are counted.
        let (pass, expected, actual) =
            crate::registry::approvals::gate_result(input.approvals, gate, input.stage);
        out.push(GateResult {
            gate: "approvals".into(),
            expected,
            actual,
            pass,
        });
    }

    if let Some(problems) = &input.data_quality {
        out.push(GateResult {
            gate: "data quality".into(),
            expected: "every training dataset passed its contract".into(),
            actual: if problems.is_empty() {
                "all passed".into()
            } else {
                problems.join("; ")
            },
            pass: problems.is_empty(),
        });
    }
    if let Some(monitor) = &gate.drift_monitor {
        let max_age = gate.drift_max_age_days;
        let (pass, actual) = match &input.drift {
            None => (false, "no drift report".to_string()),
            Some(d) => {
                let age_days = DateTime::parse_from_rfc3339(&d.created_at)
                    .map(|t| (input.now - t.with_timezone(&Utc)).num_seconds() as f64 / 86400.0)
                    .unwrap_or(f64::INFINITY);
                let fresh = max_age.is_none_or(|m| age_days <= m as f64);
                let verdict = match (d.drifted, d.degraded) {
                    (_, true) => "model quality degraded",
                    (true, false) => "drift",
                    (false, false) => "no drift",
                };
                (
                    !d.drifted && !d.degraded && fresh,
                    format!("{verdict}, {:.1} day(s) old", age_days.max(0.0)),
                )
            }
        };
        out.push(GateResult {
            gate: format!("drift {monitor}"),
            expected: match max_age {
                Some(m) => format!("no drift in a report at most {m} day(s) old"),
                None => "no drift in the latest report".into(),
            },
            actual,
            pass,
        });
    }

    if !gate.card.is_empty() {
        let inventory = Inventory::from_config(input.config);
        let missing: Vec<&String> = gate
            .card
            .iter()
            .filter(|f| inventory.field(f).is_none())
            .collect();
        out.push(GateResult {
            gate: "model card".into(),
            expected: format!("filled: {}", gate.card.join(", ")),
            actual: if missing.is_empty() {
                "all filled".into()
            } else {
                format!(
                    "missing: {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            pass: missing.is_empty(),
        });
    }

    if let Some(shadow) = &gate.shadow {
        out.push(crate::registry::shadow_gate::judge(
            shadow,
            &input.state.name,
            input.stage,
            input.shadow.as_ref(),
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse() {
        let r = parse_rule("auc >= current - 0.005").unwrap();
        assert!(r.against_current);
        assert_eq!(r.offset, -0.005);
        assert_eq!(r.op, ">=");
        let r = parse_rule("loss<0.3").unwrap();
        assert_eq!(
            (r.metric.as_str(), r.op.as_str(), r.offset),
            ("loss", "<", 0.3)
        );
        assert!(parse_rule("auc 0.9").is_err());
        assert!(parse_rule("auc >= high").is_err());
        assert!(parse_rule(">= 0.9").is_err());
    }
}
