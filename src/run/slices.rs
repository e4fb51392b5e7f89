//! Slice metrics: a metric measured on one group of the data (a gender, an
//! age band, a region) is an ordinary metric whose name carries the group in
//! label syntax, `approval_rate{gender=F}`, keys sorted: `auc{age=18-25,gender=F}`.
//!
//! Keeping the slice in the name lets a slice metric flow unchanged through
//! run summaries, run records, model versions and gates, which all key
//! metrics by name; only the places that reason about fairness (the slice
//! gates, `runs compare`, the report) parse it back. There is no escaping:
//! `{ } = ,` and control characters are refused in keys and values, so a
//! name has exactly one reading (docs/fairness.md).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};

/// At most this many distinct slices per metric are kept: a slice is a group
/// of people, and a metric sliced thousands of ways is sliced per customer.
pub const MAX_SLICES: usize = 100;

/// Label keys: a letter, then letters, digits, `_`, `-` or `.`.
pub fn check_key(key: &str) -> std::result::Result<(), String> {
    let mut chars = key.chars();
    match chars.next() {
        None => return Err("a slice key is empty".into()),
        Some(c) if !c.is_ascii_alphabetic() => {
            return Err(format!("slice key `{key}` does not start with a letter"))
        }
        _ => {}
    }
    if key.len() > 64 {
        return Err(format!("slice key `{key}` is longer than 64 characters"));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(format!(
            "slice key `{key}` may hold only letters, digits, `_`, `-` and `.`"
        ));
    }
    Ok(())
}

/// Label values: any text up to 64 characters without `{ } = ,` or control
/// characters. The message never repeats the value: it may be the very
/// thing that must not be kept.
pub fn check_value(key: &str, value: &str) -> std::result::Result<(), String> {
    if value.is_empty() {
        return Err(format!("slice `{key}` has an empty value"));
    }
    if value.chars().count() > 64 {
        return Err(format!(
            "slice `{key}` has a value longer than 64 characters"
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() || matches!(c, '{' | '}' | '=' | ','))
    {
        return Err(format!(
            "slice `{key}` has a value with `{{`, `}}`, `=`, `,` or a control character"
        ));
    }
    if value.trim() != value {
        return Err(format!(
            "slice `{key}` has a value with leading or trailing spaces"
        ));
    }
    if let Some(kind) = crate::privacy::identifier_kind(value) {
        return Err(format!(
            "slice `{key}` has a value that looks like an identifier ({kind}): a slice is a group, not a person"
        ));
    }
    Ok(())
}

/// A metric's base name: what a slice name starts with.
pub fn check_base(name: &str) -> std::result::Result<(), String> {
    if name.trim().is_empty() {
        return Err("the metric name is empty".into());
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '{' | '}' | '=' | ','))
    {
        return Err(format!(
            "metric `{name}` has `{{`, `}}`, `=`, `,` or a control character in its name"
        ));
    }
    Ok(())
}

/// The canonical name of `base` on the slice `labels`; `base` alone when
/// there are no labels.
pub fn format(base: &str, labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return base.to_string();
    }
    format!("{base}{{{}}}", label_text(labels))
}

/// `age=18-25,gender=F`: how a slice is shown.
pub fn label_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Splits a metric name into its base and its slice labels (empty for an
/// unsliced metric). Keys may come in any order; [`format`] gives the
/// canonical name back. The error says what is wrong, without the value.
pub fn parse(name: &str) -> std::result::Result<(String, BTreeMap<String, String>), String> {
    let Some(open) = name.find('{') else {
        if name.contains('}') {
            return Err(format!("metric `{name}` has `}}` without `{{`"));
        }
        return Ok((name.to_string(), BTreeMap::new()));
    };
    let base = &name[..open];
    let Some(inner) = name[open + 1..].strip_suffix('}') else {
        return Err(format!(
            "metric `{base}`: a slice is written `{base}{{key=value,...}}` and ends the name"
        ));
    };
    check_base(base)?;
    let mut labels = BTreeMap::new();
    for part in inner.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("metric `{base}`: each slice label is `key=value`"));
        };
        check_key(k)?;
        check_value(k, v)?;
        if labels.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("metric `{base}`: slice key `{k}` appears twice"));
        }
    }
    Ok((base.to_string(), labels))
}

/// Slice labels from `key=value` flags (`mlops track log --slice gender=F`).
pub fn parse_flags(flag: &str, items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for s in items {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            Error::invalid_with_hint(
                format!("`{flag}`: a slice is `key=value`"),
                format!("write it as `{flag} gender=F`"),
            )
        })?;
        let bad = |why: String| {
            Error::invalid_with_hint(
                format!("`{flag}`: {why}"),
                "slices are groups (docs/fairness.md): short labels such as `gender=F` or `age=18-25`",
            )
        };
        check_key(k).map_err(bad)?;
        check_value(k, v).map_err(bad)?;
        if labels.insert(k.to_string(), v.to_string()).is_some() {
            return Err(bad(format!("slice key `{k}` is given twice")));
        }
    }
    Ok(labels)
}

/// Whether a smaller value is better: error metrics (`rmse`, `mae`, names
/// holding `loss` or `error`), for which the worst slice is the highest.
pub fn lower_is_better(metric: &str) -> bool {
    let m = metric.to_ascii_lowercase();
    matches!(m.as_str(), "rmse" | "mae" | "mse") || m.contains("loss") || m.contains("error")
}

/// One slice's value: `gender=F` and its number.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SliceValue {
    pub slice: String,
    pub value: f64,
}

/// A sliced metric's spread across its slices: what a fairness gate and
/// the report judge.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Spread {
    pub metric: String,
    /// The label keys of its slices (`gender`), or `None`: every slice of
    /// the metric whatever its keys.
    pub by: Option<String>,
    pub slices: Vec<SliceValue>,
    pub min: SliceValue,
    pub max: SliceValue,
    /// `max - min`.
    pub gap: f64,
    /// `min / max` (the four-fifths rule for selection rates); `None` when
    /// the maximum is not positive or a value is negative.
    pub ratio: Option<f64>,
}

/// The slices of `metric` in `metrics`: those whose label keys are exactly
/// `by` (comma-joined, as [`groups`] names them), or all with `None`.
pub fn slices_of(
    metrics: &BTreeMap<String, f64>,
    metric: &str,
    by: Option<&str>,
) -> Vec<SliceValue> {
    metrics
        .iter()
        .filter_map(|(name, v)| {
            let (base, labels) = parse(name).ok()?;
            if base != metric || labels.is_empty() {
                return None;
            }
            if let Some(by) = by {
                let keys = labels.keys().cloned().collect::<Vec<_>>().join(",");
                if keys != by {
                    return None;
                }
            }
            Some(SliceValue {
                slice: label_text(&labels),
                value: *v,
            })
        })
        .collect()
}

/// The spread of some slices; `None` for fewer than two, which have none.
pub fn spread(metric: &str, by: Option<&str>, slices: Vec<SliceValue>) -> Option<Spread> {
    if slices.len() < 2 {
        return None;
    }
    let first = slices[0].clone();
    let (mut min, mut max) = (first.clone(), first);
    for s in &slices {
        if s.value < min.value {
            min = s.clone();
        }
        if s.value > max.value {
            max = s.clone();
        }
    }
    let ratio = (max.value > 0.0 && min.value >= 0.0).then(|| min.value / max.value);
    Some(Spread {
        metric: metric.to_string(),
        by: by.map(str::to_string),
        gap: max.value - min.value,
        ratio,
        slices,
        min,
        max,
    })
}

/// Every sliced metric of `metrics`, one spread per metric and set of label
/// keys (`approval_rate` by `gender`, `auc` by `age,gender`) that has at
/// least two slices.
pub fn groups(metrics: &BTreeMap<String, f64>) -> Vec<Spread> {
    let mut keys: BTreeMap<(String, String), ()> = BTreeMap::new();
    for name in metrics.keys() {
        if let Ok((base, labels)) = parse(name) {
            if !labels.is_empty() {
                let by = labels.keys().cloned().collect::<Vec<_>>().join(",");
                keys.insert((base, by), ());
            }
        }
    }
    keys.into_keys()
        .filter_map(|(base, by)| spread(&base, Some(&by), slices_of(metrics, &base, Some(&by))))
        .collect()
}

/// Orders metric names so each metric's slices follow it (plain byte order
/// would put `auc_pr` between `auc` and `auc{gender=F}`).
pub fn sort_key(name: &str) -> (String, String) {
    match parse(name) {
        Ok((base, labels)) => (base, label_text(&labels)),
        Err(_) => (name.to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_format_canonically_and_parse_back() {
        let l = labels(&[("gender", "F"), ("age", "18-25")]);
        let name = format("auc", &l);
        assert_eq!(name, "auc{age=18-25,gender=F}");
        assert_eq!(parse(&name).unwrap(), ("auc".to_string(), l.clone()));
        // Any key order reads; the canonical name is sorted.
        let (base, back) = parse("auc{gender=F,age=18-25}").unwrap();
        assert_eq!(format(&base, &back), name);
        assert_eq!(parse("loss").unwrap(), ("loss".into(), BTreeMap::new()));
        assert_eq!(format("loss", &BTreeMap::new()), "loss");
    }

    #[test]
    fn malformed_and_identifying_slices_are_refused() {
        for bad in [
            "auc{gender}",
            "auc{gender=F",
            "auc{gender=F}x",
            "auc}",
            "auc{=F}",
            "auc{gender=}",
            "auc{gender=F,gender=M}",
            "auc{1x=F}",
            "auc{g=a=b}",
            "{gender=F}",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let err = parse("auc{customer=jane.doe@example.com}").unwrap_err();
        assert!(err.contains("e-mail"), "{err}");
        assert!(!err.contains("jane"), "the value is never repeated: {err}");
        assert!(check_value("g", "F\n").is_err());
        assert!(check_value("g", " F").is_err());
        assert!(check_value("age", "18-25").is_ok());
        assert!(parse_flags("--slice", &["gender=F".into(), "age=18-25".into()]).is_ok());
        assert!(parse_flags("--slice", &["gender".into()]).is_err());
        assert!(parse_flags("--slice", &["who=+852 9123 4567".into()]).is_err());
    }

    #[test]
    fn spreads_group_slices_by_their_keys() {
        let mut m = BTreeMap::new();
        m.insert("rate".to_string(), 0.3);
        m.insert("rate{gender=F}".to_string(), 0.25);
        m.insert("rate{gender=M}".to_string(), 0.35);
        m.insert("rate{age=old,gender=F}".to_string(), 0.1);
        m.insert("rate_pr".to_string(), 0.1);
        let g = groups(&m);
        assert_eq!(g.len(), 1, "a single slice has no spread: {g:?}");
        let by_gender = g
            .iter()
            .find(|s| s.by.as_deref() == Some("gender"))
            .unwrap();
        assert_eq!(by_gender.min.slice, "gender=F");
        assert_eq!(by_gender.max.slice, "gender=M");
        assert!((by_gender.gap - 0.1).abs() < 1e-12);
        assert!((by_gender.ratio.unwrap() - 0.25 / 0.35).abs() < 1e-12);
        assert_eq!(slices_of(&m, "rate", None).len(), 3);
        let mut names: Vec<&String> = m.keys().collect();
        names.sort_by_key(|n| sort_key(n));
        assert_eq!(names.last().unwrap().as_str(), "rate_pr");
        assert!(lower_is_better("val_loss") && lower_is_better("rmse"));
        assert!(!lower_is_better("auc"));
    }
}
