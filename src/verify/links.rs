//! The links records make to each other — the Merkle DAG of promotion →
//! model version → run → dataset versions — and where each target must be.

use serde_json::Value;

use super::chain::Link;
use crate::record::{Record, ID_PREFIX};
use crate::store::{EntityKind, REF_ROOT};

fn entity_ref(kind: EntityKind, name: &str) -> String {
    format!("{REF_ROOT}{}/{name}", kind.plural())
}

fn id(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| s.starts_with(ID_PREFIX))
        .map(str::to_string)
}

/// Links to dataset versions from a list of inputs (`{dataset, version}`).
fn dataset_inputs(r: &Record, field: &'static str, out: &mut Vec<Link>) {
    let Some(items) = r.field(field).and_then(Value::as_array) else {
        return;
    };
    for item in items {
        if let Some(target) = id(item.get("version")) {
            out.push(Link {
                from: r.id().to_string(),
                field,
                target_ref: item
                    .get("dataset")
                    .and_then(Value::as_str)
                    .map(|d| entity_ref(EntityKind::Dataset, d)),
                target,
            });
        }
    }
}

/// Every link a record makes.
pub fn of(r: &Record) -> Vec<Link> {
    let mut out = Vec::new();
    let model_ref = r
        .str_field("model")
        .map(|m| entity_ref(EntityKind::Model, m));
    let same_model = |field: &'static str, out: &mut Vec<Link>| {
        if let Some(target) = id(r.field(field)) {
            out.push(Link {
                from: r.id().to_string(),
                field,
                target_ref: model_ref.clone(),
                target,
            });
        }
    };
    match r.kind() {
        "run" => dataset_inputs(r, "inputs", &mut out),
        "model-version" => {
            if let Some(target) = id(r.field("run_record")) {
                out.push(Link {
                    from: r.id().to_string(),
                    field: "run_record",
                    target_ref: r
                        .str_field("run_id")
                        .map(|run| entity_ref(EntityKind::Run, run)),
                    target,
                });
            }
            dataset_inputs(r, "datasets", &mut out);
        }
        "promotion" | "rollback" | "deprecation" => same_model("version_record", &mut out),
        "supersede" => {
            same_model("kept", &mut out);
            if let Some(items) = r.field("superseded").and_then(Value::as_array) {
                for item in items {
                    if let Some(target) = id(Some(item)) {
                        out.push(Link {
                            from: r.id().to_string(),
                            field: "superseded",
                            target_ref: model_ref.clone(),
                            target,
                        });
                    }
                }
            }
        }
        "shadow-comparison" => {
            // Both sides of a comparison are versions of the same model.
            for (side, field) in [
                ("challenger", "challenger.record"),
                ("champion", "champion.record"),
            ] {
                if let Some(target) = id(r.field(side).and_then(|s| s.get("record"))) {
                    out.push(Link {
                        from: r.id().to_string(),
                        field,
                        target_ref: model_ref.clone(),
                        target,
                    });
                }
            }
        }
        "drift-report" => {
            // The model version a monitor judged.
            if let Some(target) = id(r.field("judged").and_then(|j| j.get("record"))) {
                out.push(Link {
                    from: r.id().to_string(),
                    field: "judged.record",
                    target_ref: model_ref.clone(),
                    target,
                });
            }
            if let Some(reference) = r.field("reference") {
                if let Some(target) = id(reference.get("version")) {
                    out.push(Link {
                        from: r.id().to_string(),
                        field: "reference.version",
                        target_ref: reference
                            .get("dataset")
                            .and_then(Value::as_str)
                            .map(|d| entity_ref(EntityKind::Dataset, d)),
                        target,
                    });
                }
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(value: Value) -> Vec<(String, Option<String>, String)> {
        of(&Record::from_value(value).expect("a record"))
            .into_iter()
            .map(|l| (l.field.to_string(), l.target_ref, l.target))
            .collect()
    }

    #[test]
    fn comparisons_and_monitor_reports_link_the_versions_they_judged() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let shadow = targets(serde_json::json!({
            "kind": "shadow-comparison", "schema": 1, "model": "churn",
            "challenger": {"version": "0.2.0", "record": a},
            "champion": {"version": "0.1.0", "record": b},
        }));
        let model = Some("refs/mlops/models/churn".to_string());
        assert_eq!(
            shadow,
            vec![
                ("challenger.record".into(), model.clone(), a.clone()),
                ("champion.record".into(), model.clone(), b.clone()),
            ]
        );
        let report = targets(serde_json::json!({
            "kind": "drift-report", "schema": 2, "model": "churn",
            "judged": {"version": "0.1.0", "record": b, "metric": 0.9},
        }));
        assert_eq!(report, vec![("judged.record".into(), model, b)]);
    }
}
