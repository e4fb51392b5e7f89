//! Fairness gates: rules on a metric's slices (docs/fairness.md), such as
//! the four-fifths rule `ratio(approval_rate by gender) >= 0.8`, the worst
//! slice `worst(auc) >= 0.70` or the spread `gap(auc) <= 0.05`.
//!
//! A gate on the overall metric can pass while one group is served far
//! worse; these rules judge the groups themselves. Each result names the
//! slices its number came from, so a failed promotion says who is behind.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::registry::records::GateResult;
use crate::run::slices::{self, SliceValue, Spread};

/// What a rule computes over the slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Min,
    Max,
    /// The lowest slice, or the highest for an error metric.
    Worst,
    /// `max - min`.
    Gap,
    /// `min / max`.
    Ratio,
}

const FUNCTIONS: &str = "min, max, worst, gap, ratio";

/// `ratio(approval_rate by gender) >= 0.8`.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceRule {
    pub function: Function,
    pub metric: String,
    /// Only slices whose label keys are exactly this one.
    pub by: Option<String>,
    pub op: String,
    pub threshold: f64,
}

impl SliceRule {
    /// `ratio(approval_rate by gender)`: the gate's name after `slices `.
    pub fn subject(&self) -> String {
        let f = match self.function {
            Function::Min => "min",
            Function::Max => "max",
            Function::Worst => "worst",
            Function::Gap => "gap",
            Function::Ratio => "ratio",
        };
        match &self.by {
            Some(by) => format!("{f}({} by {by})", self.metric),
            None => format!("{f}({})", self.metric),
        }
    }
}

/// Parses one rule; the error says what is wrong with it.
pub fn parse_rule(rule: &str) -> std::result::Result<SliceRule, String> {
    let shape = "expected `<function>(<metric> [by <key>]) <op> <number>`, e.g. `ratio(approval_rate by gender) >= 0.8`";
    let text = rule.trim();
    let (open, close) = match (text.find('('), text.find(')')) {
        (Some(o), Some(c)) if o < c => (o, c),
        _ => return Err(shape.into()),
    };
    let function = match text[..open].trim() {
        "min" => Function::Min,
        "max" => Function::Max,
        "worst" => Function::Worst,
        "gap" => Function::Gap,
        "ratio" => Function::Ratio,
        "" => return Err(shape.into()),
        other => return Err(format!("`{other}` is not a function (one of {FUNCTIONS})")),
    };
    let inner: Vec<&str> = text[open + 1..close].split_whitespace().collect();
    let (metric, by) = match inner.as_slice() {
        [m] => (*m, None),
        [m, "by", key] => (*m, Some(key.to_string())),
        _ => return Err(shape.into()),
    };
    slices::check_base(metric)?;
    if let Some(k) = &by {
        slices::check_key(k)?;
    }
    let rest = text[close + 1..].trim();
    let op = [">=", "<=", "==", "!=", ">", "<"]
        .into_iter()
        .find(|op| rest.starts_with(op))
        .ok_or_else(|| format!("{shape}; the operator is one of >=, >, <=, <, ==, !="))?;
    let threshold: f64 = rest[op.len()..]
        .trim()
        .parse()
        .map_err(|_| format!("the right-hand side is not a number; {shape}"))?;
    if !threshold.is_finite() {
        return Err("the threshold is not a finite number".into());
    }
    Ok(SliceRule {
        function,
        metric: metric.to_string(),
        by,
        op: op.to_string(),
        threshold,
    })
}

/// A rule of `[models.<model>.gates.<stage>] slices`, or the config error
/// naming that table.
pub fn parse_configured(model: &str, stage: &str, rule: &str) -> Result<SliceRule> {
    parse_rule(rule).map_err(|why| Error::Config {
        path: crate::config::FILE_NAME.into(),
        message: format!(
            "[models.{model}.gates.{stage}] slices: `{}`: {why}",
            rule.trim()
        ),
    })
}

fn num(v: f64) -> String {
    crate::run::query::short_number(v)
}

fn one(s: &SliceValue) -> String {
    format!("{} {}", s.slice, num(s.value))
}

/// The rule's value on a spread and the text naming where it came from.
fn value_of(rule: &SliceRule, s: &Spread) -> (Option<f64>, String) {
    let pick = |v: &SliceValue| (Some(v.value), format!("{} ({})", num(v.value), v.slice));
    match rule.function {
        Function::Min => pick(&s.min),
        Function::Max => pick(&s.max),
        Function::Worst if slices::lower_is_better(&rule.metric) => pick(&s.max),
        Function::Worst => pick(&s.min),
        Function::Gap => (
            Some(s.gap),
            format!("{} ({} − {})", num(s.gap), one(&s.max), one(&s.min)),
        ),
        Function::Ratio => match s.ratio {
            Some(r) => (
                Some(r),
                format!("{} ({} / {})", num(r), one(&s.min), one(&s.max)),
            ),
            None => (
                None,
                format!(
                    "undefined: a ratio needs non-negative values and a positive maximum ({} / {})",
                    one(&s.min),
                    one(&s.max)
                ),
            ),
        },
    }
}

/// Evaluates the slice rules of a stage against a version's metrics.
pub fn evaluate(
    model: &str,
    stage: &str,
    rules: &[String],
    metrics: &BTreeMap<String, f64>,
) -> Result<Vec<GateResult>> {
    let mut out = Vec::new();
    for text in rules {
        let rule = parse_configured(model, stage, text)?;
        let found = slices::slices_of(metrics, &rule.metric, rule.by.as_deref());
        let (pass, actual) = if found.len() < 2 {
            (
                false,
                format!(
                    "needs ≥ 2 slices, found {}{}",
                    found.len(),
                    match &rule.by {
                        Some(by) => format!(" of `{}` by `{by}`", rule.metric),
                        None => format!(" of `{}`", rule.metric),
                    }
                ),
            )
        } else {
            let spread =
                slices::spread(&rule.metric, rule.by.as_deref(), found).expect("two slices");
            match value_of(&rule, &spread) {
                (Some(v), text) => (
                    crate::registry::gates::holds(v, &rule.op, rule.threshold),
                    text,
                ),
                (None, text) => (false, text),
            }
        };
        out.push(GateResult {
            gate: format!("slices {}", rule.subject()),
            expected: format!("{} {}", rule.op, num(rule.threshold)),
            actual,
            pass,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn rules_parse_and_bad_ones_say_why() {
        let r = parse_rule("ratio(approval_rate by gender) >= 0.8").unwrap();
        assert_eq!(r.function, Function::Ratio);
        assert_eq!(r.metric, "approval_rate");
        assert_eq!(r.by.as_deref(), Some("gender"));
        assert_eq!((r.op.as_str(), r.threshold), (">=", 0.8));
        assert_eq!(r.subject(), "ratio(approval_rate by gender)");
        let r = parse_rule("  gap( auc )<=0.05").unwrap();
        assert_eq!(
            (r.function, r.by, r.op.as_str()),
            (Function::Gap, None, "<=")
        );
        assert!(parse_rule("mean(auc) >= 0.7")
            .unwrap_err()
            .contains("`mean`"));
        for bad in [
            "auc >= 0.7",
            "worst(auc) 0.7",
            "worst(auc) >= high",
            "worst() >= 0.7",
            "worst(auc per gender) >= 0.7",
            "worst(auc by) >= 0.7",
            "(auc) >= 0.7",
            "worst(auc{gender=F}) >= 0.7",
        ] {
            assert!(parse_rule(bad).is_err(), "{bad}");
        }
        let e = parse_configured("credit", "production", "avg(auc) > 1").unwrap_err();
        assert!(
            e.to_string()
                .contains("[models.credit.gates.production] slices"),
            "{e}"
        );
    }

    #[test]
    fn rules_judge_the_slices_and_name_them() {
        let m = metrics(&[
            ("approval_rate", 0.3),
            ("approval_rate{gender=F}", 0.25),
            ("approval_rate{gender=M}", 0.35),
            ("approval_rate{age=old}", 0.05),
            ("rmse{gender=F}", 2.0),
            ("rmse{gender=M}", 1.0),
        ]);
        let rules: Vec<String> = [
            "ratio(approval_rate by gender) >= 0.8",
            "ratio(approval_rate by gender) >= 0.7",
            "worst(rmse) <= 1.5",
            "gap(approval_rate) <= 0.5",
            "min(auc) >= 0.5",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = evaluate("m", "production", &rules, &m).unwrap();
        assert_eq!(r[0].gate, "slices ratio(approval_rate by gender)");
        assert_eq!(r[0].expected, ">= 0.8");
        assert!(!r[0].pass);
        assert_eq!(
            r[0].actual, "0.7143 (gender=F 0.25 / gender=M 0.35)",
            "{:?}",
            r[0]
        );
        assert!(r[1].pass);
        assert!(!r[2].pass, "the worst rmse is the highest: {:?}", r[2]);
        assert!(r[2].actual.contains("gender=F"), "{:?}", r[2]);
        assert!(r[3].pass, "{:?}", r[3]);
        assert!(r[3].actual.contains("age=old"), "all slices without `by`");
        assert!(!r[4].pass);
        assert!(
            r[4].actual.contains("needs ≥ 2 slices, found 0"),
            "{:?}",
            r[4]
        );
    }
}
