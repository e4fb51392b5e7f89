//! End-to-end tests of [`compare`] on real CSV, Parquet and NDJSON files written by polars.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};

use super::load::{frame, write_table, TestValues};
use super::report::{
    compare, ColumnOverride, DriftError, DriftOptions, Finding, Reference, Report,
};
use super::stats::{run_test, FeatureType, Sample, StatTest};
use crate::drift::profile::profile_file;

fn normal(n: usize, seed: u64, shift: f64, scale: f64) -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
            shift + scale * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect()
}

fn some(v: Vec<f64>) -> TestValues {
    TestValues::F64(v.into_iter().map(Some).collect())
}

fn strs(v: impl IntoIterator<Item = String>) -> TestValues {
    TestValues::Str(v.into_iter().map(Some).collect())
}

fn write(dir: &Path, name: &str, cols: Vec<(&str, TestValues)>) -> PathBuf {
    let p = dir.join(name);
    let mut df = frame(cols);
    write_table(&p, &mut df).expect("write");
    p
}

fn run(r: &Path, c: &[PathBuf], opts: &DriftOptions) -> Result<Report, DriftError> {
    compare(Reference::Files(&[r.to_path_buf()]), c, opts, &|_: &str| {})
}

fn quiet() -> DriftOptions {
    DriftOptions::default()
}

#[test]
fn identical_data_has_no_drift() {
    let d = tempfile::tempdir().expect("tmp");
    let cols = || {
        vec![
            ("x", some(normal(2000, 1, 0.0, 1.0))),
            ("c", strs((0..2000).map(|i| format!("k{}", i % 7)))),
        ]
    };
    let r = write(d.path(), "r.csv", cols());
    let c = write(d.path(), "c.csv", cols());
    let rep = run(&r, &[c], &quiet()).expect("report");
    assert_eq!(rep.tested, 2);
    assert_eq!(rep.drifted, 0);
    assert!(!rep.dataset_drift);
    let x = rep.column("x").expect("x");
    assert_eq!(x.test, Some(StatTest::Wasserstein));
    assert_eq!(x.score, Some(0.0));
    assert_eq!(
        rep.column("c").expect("c").test,
        Some(StatTest::Jensenshannon)
    );
}

#[test]
fn shifted_column_uses_ks_up_to_1000_rows_and_wasserstein_above() {
    let d = tempfile::tempdir().expect("tmp");
    for (n, want) in [(1000, StatTest::Ks), (1001, StatTest::Wasserstein)] {
        let r = write(
            d.path(),
            &format!("r{n}.parquet"),
            vec![("x", some(normal(n, 2, 0.0, 1.0)))],
        );
        let c = write(
            d.path(),
            &format!("c{n}.parquet"),
            vec![("x", some(normal(800, 3, 0.5, 1.0)))],
        );
        let rep = run(&r, &[c], &quiet()).expect("report");
        let x = rep.column("x").expect("x");
        assert_eq!(x.test, Some(want), "{n} rows");
        assert!(x.drift, "{n} rows: {x:?}");
        assert!(rep.dataset_drift);
    }
}

#[test]
fn five_distinct_values_use_chisquare_six_use_ks() {
    let d = tempfile::tempdir().expect("tmp");
    for (k, want) in [(5, StatTest::Chisquare), (6, StatTest::Ks)] {
        let vals = |n: usize, off: usize| {
            (0..n)
                .map(|i| ((i + off) % k) as f64 + 0.5)
                .collect::<Vec<_>>()
        };
        let r = write(
            d.path(),
            &format!("r{k}.csv"),
            vec![("x", some(vals(300, 0)))],
        );
        let c = write(
            d.path(),
            &format!("c{k}.csv"),
            vec![("x", some(vals(200, 1)))],
        );
        let rep = run(&r, &[c], &quiet()).expect("report");
        assert_eq!(rep.column("x").expect("x").test, Some(want), "{k} values");
    }
}

#[test]
fn nulls_are_counted_and_dropped_before_testing() {
    let d = tempfile::tempdir().expect("tmp");
    let rv = normal(500, 4, 0.0, 1.0);
    let cv = normal(400, 5, 0.2, 1.0);
    let with_gaps = |v: &[f64], every: usize| -> TestValues {
        TestValues::F64(
            v.iter()
                .enumerate()
                .map(|(i, &x)| match i % every {
                    0 => None,
                    1 if i % (every * 2) == 1 => Some(f64::NAN),
                    _ => Some(x),
                })
                .collect(),
        )
    };
    let r = write(d.path(), "r.parquet", vec![("x", with_gaps(&rv, 10))]);
    let c = write(d.path(), "c.parquet", vec![("x", with_gaps(&cv, 4))]);
    let rep = run(&r, &[c], &quiet()).expect("report");
    let x = rep.column("x").expect("x");
    let clean = |v: &[f64], every: usize| -> Vec<f64> {
        v.iter()
            .enumerate()
            .filter(|(i, _)| !(i % every == 0 || (i % every == 1 && i % (every * 2) == 1)))
            .map(|(_, &x)| x)
            .collect()
    };
    let (rc, cc) = (clean(&rv, 10), clean(&cv, 4));
    assert_eq!(x.count, (rc.len() as u64, cc.len() as u64));
    assert_eq!(
        x.null_share.reference,
        Some((500 - rc.len()) as f64 / 500.0)
    );
    assert_eq!(x.null_share.current, Some((400 - cc.len()) as f64 / 400.0));
    let want = run_test(
        StatTest::Ks,
        FeatureType::Numeric,
        &Sample::Numeric(&rc),
        &Sample::Numeric(&cc),
        None,
    )
    .expect("ks");
    assert_eq!(x.score, Some(want.score));
    assert!(rep
        .findings
        .iter()
        .any(|f| matches!(f, Finding::NullShare { column, .. } if column == "x")));
}

#[test]
fn all_null_column_is_reported_and_the_rest_runs() {
    let d = tempfile::tempdir().expect("tmp");
    let r = write(
        d.path(),
        "r.parquet",
        vec![
            ("x", some(normal(300, 6, 0.0, 1.0))),
            ("empty", some(normal(300, 7, 0.0, 1.0))),
        ],
    );
    let c = write(
        d.path(),
        "c.parquet",
        vec![
            ("x", some(normal(300, 8, 0.0, 1.0))),
            ("empty", TestValues::F64(vec![None; 300])),
        ],
    );
    let rep = run(&r, &[c], &quiet()).expect("report");
    let e = rep.column("empty").expect("empty");
    assert_eq!(
        e.not_tested.as_deref(),
        Some("all values are missing in the current data")
    );
    assert_eq!(e.null_share.current, Some(1.0));
    assert!(rep.column("x").expect("x").score.is_some());
    // No test ran on it, but a column gone entirely missing has drifted
    // (NULL_SHARE_DRIFT) and counts towards the share.
    assert!(e.drift);
    assert_eq!(rep.tested, 2);
}

#[test]
fn unseen_categories_are_reported_with_counts() {
    let d = tempfile::tempdir().expect("tmp");
    let r = write(
        d.path(),
        "r.csv",
        vec![(
            "c",
            strs((0..300).map(|i| ["a", "b", "c"][i % 3].to_string())),
        )],
    );
    let c = write(
        d.path(),
        "c.csv",
        vec![(
            "c",
            strs((0..300).map(|i| ["a", "b", "c", "zz", "yy", "zz"][i % 6].to_string())),
        )],
    );
    let rep = run(&r, &[c], &quiet()).expect("report");
    let col = rep.column("c").expect("c");
    assert_eq!(col.test, Some(StatTest::Chisquare));
    let unseen: Vec<(&str, u64)> = col
        .unseen
        .iter()
        .map(|u| (u.value.as_str(), u.count))
        .collect();
    assert_eq!(unseen, vec![("yy", 50), ("zz", 100)]);
    assert!(rep.findings.iter().any(|f| matches!(
        f,
        Finding::UnseenCategories {
            values: 2,
            rows: 150,
            ..
        }
    )));
}

#[test]
fn empty_current_file_is_a_clear_error() {
    let d = tempfile::tempdir().expect("tmp");
    let r = write(d.path(), "r.csv", vec![("x", some(vec![1.0, 2.0]))]);
    let c = d.path().join("c.csv");
    std::fs::write(&c, "x\n").expect("write");
    let e = run(&r, &[c], &quiet())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.starts_with("current data has no rows"), "{e}");
    assert!(e.contains("c.csv"), "{e}");
}

#[test]
fn requested_missing_column_is_a_clear_error() {
    let d = tempfile::tempdir().expect("tmp");
    let r = write(
        d.path(),
        "r.csv",
        vec![("x", some(vec![1.0, 2.0])), ("y", some(vec![1.0, 2.0]))],
    );
    let c = write(d.path(), "c.csv", vec![("x", some(vec![1.0, 2.0]))]);
    let opts = DriftOptions {
        columns: Some(vec!["y".into()]),
        ..quiet()
    };
    let e = run(&r, std::slice::from_ref(&c), &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(e, "column `y` is not in the current data");
    // Without a column list the missing column is a finding, not an error.
    let rep = run(&r, &[c], &quiet()).expect("report");
    assert_eq!(rep.schema.missing, vec!["y"]);
    assert!(rep.column("y").expect("y").not_tested.is_some());
}

#[test]
fn retyped_column_is_reported_not_tested() {
    let d = tempfile::tempdir().expect("tmp");
    let r = write(
        d.path(),
        "r.parquet",
        vec![
            ("x", some(vec![1.0, 2.0, 3.0])),
            ("k", some(vec![1.0, 2.0, 3.0])),
        ],
    );
    let c = write(
        d.path(),
        "c.parquet",
        vec![
            ("x", strs(["a", "b", "c"].map(String::from))),
            ("k", some(vec![1.0, 2.0, 3.0])),
        ],
    );
    let rep = run(&r, &[c], &quiet()).expect("report");
    assert_eq!(rep.schema.retyped.len(), 1);
    let x = rep.column("x").expect("x");
    assert!(x
        .not_tested
        .as_deref()
        .unwrap_or("")
        .starts_with("retyped: float"));
    assert!(rep.column("k").expect("k").score.is_some());
}

#[test]
fn several_current_files_equal_one_file() {
    let d = tempfile::tempdir().expect("tmp");
    let r = write(
        d.path(),
        "r.csv",
        vec![("x", some(normal(3000, 9, 0.0, 1.0)))],
    );
    let all = normal(3000, 10, 0.3, 1.0);
    let one = write(d.path(), "one.parquet", vec![("x", some(all.clone()))]);
    let parts = vec![
        write(d.path(), "p1.csv", vec![("x", some(all[..1000].to_vec()))]),
        write(
            d.path(),
            "p2.parquet",
            vec![("x", some(all[1000..2000].to_vec()))],
        ),
        write(
            d.path(),
            "p3.ndjson",
            vec![("x", some(all[2000..].to_vec()))],
        ),
    ];
    let a = run(&r, &[one], &quiet()).expect("one");
    let b = run(&r, &parts, &quiet()).expect("parts");
    assert_eq!(a.rows, b.rows);
    assert_eq!(
        a.column("x").expect("x").score,
        b.column("x").expect("x").score
    );
}

#[test]
fn batches_give_the_same_report_as_one_pass() {
    let d = tempfile::tempdir().expect("tmp");
    let cols = |seed: u64, shift: f64| -> Vec<(&'static str, TestValues)> {
        vec![
            ("a", some(normal(2000, seed, shift, 1.0))),
            ("b", some(normal(2000, seed + 1, 0.0, 2.0))),
            (
                "c",
                strs((0..2000).map(|i| format!("v{}", (i as u64 * seed) % 5))),
            ),
        ]
    };
    let r = write(d.path(), "r.csv", cols(11, 0.0));
    let c = write(d.path(), "c.csv", cols(13, 0.5));
    let one = run(&r, std::slice::from_ref(&c), &quiet()).expect("one");
    let tiny = DriftOptions {
        memory_budget: 1,
        ..quiet()
    };
    let many = run(&r, &[c], &tiny).expect("batched");
    assert_eq!(
        serde_json::to_string(&one).expect("json"),
        serde_json::to_string(&many).expect("json")
    );
}

#[test]
fn overrides_and_ignore() {
    let d = tempfile::tempdir().expect("tmp");
    let r = write(
        d.path(),
        "r.csv",
        vec![
            ("a", some(normal(500, 1, 0.0, 1.0))),
            ("b", some(normal(500, 2, 0.0, 1.0))),
        ],
    );
    let c = write(
        d.path(),
        "c.csv",
        vec![
            ("a", some(normal(500, 3, 0.0, 1.0))),
            ("b", some(normal(500, 4, 0.0, 1.0))),
        ],
    );
    let mut overrides = BTreeMap::new();
    overrides.insert(
        "a".to_string(),
        ColumnOverride {
            test: Some(StatTest::Psi),
            threshold: Some(0.2),
            ignore: false,
        },
    );
    overrides.insert(
        "b".to_string(),
        ColumnOverride {
            ignore: true,
            ..Default::default()
        },
    );
    let rep = run(
        &r,
        &[c],
        &DriftOptions {
            overrides,
            ..quiet()
        },
    )
    .expect("report");
    let a = rep.column("a").expect("a");
    assert_eq!(
        (a.test, a.threshold, a.overridden),
        (Some(StatTest::Psi), Some(0.2), true)
    );
    assert!(rep.column("b").is_none());
}

/// Evidently's values through the whole file path (Parquet keeps every double exactly).
#[test]
fn matches_evidently_fixtures_through_files() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/fixtures/drift/cases.json")).expect("json");
    let d = tempfile::tempdir().expect("tmp");
    let mut checked = 0;
    for case in v["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        if ![
            "normal_vs_shifted",
            "ref_1000_rows",
            "ref_1001_rows",
            "large_asymptotic_ks",
            "over_20_distinct_binning",
            "five_values",
            "six_values",
        ]
        .contains(&name)
        {
            continue;
        }
        let nums = |k: &str| -> Vec<f64> {
            case[k]
                .as_array()
                .expect("values")
                .iter()
                .map(|x| x.as_f64().expect("f64"))
                .collect()
        };
        let r = write(
            d.path(),
            &format!("{name}_r.parquet"),
            vec![("x", some(nums("reference")))],
        );
        let c = write(
            d.path(),
            &format!("{name}_c.parquet"),
            vec![("x", some(nums("current")))],
        );
        let rep = run(&r, &[c], &quiet()).expect("report");
        let x = rep.column("x").expect("x");
        let want_test = case["default_test"].as_str().expect("test");
        assert_eq!(x.test.map(|t| t.name()), Some(want_test), "{name}");
        let want = case["results"][want_test]["score"].as_f64().expect("score");
        let got = x.score.expect("score");
        assert!(
            (got - want).abs() <= 1e-6 * want.abs().max(1e-12),
            "{name}: {got} vs {want}"
        );
        assert_eq!(
            Some(x.drift),
            case["results"][want_test]["drift"].as_bool(),
            "{name}"
        );
        if let Some(psi) = case["results"]["psi"]["score"].as_f64() {
            let got = x.psi.as_ref().expect("psi").score;
            assert!(
                (got - psi).abs() <= 1e-6 * psi.abs().max(1e-9),
                "{name} psi: {got} vs {psi}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 7);
}

#[test]
fn profile_reference_agrees_with_files() {
    let d = tempfile::tempdir().expect("tmp");
    let n = 20_000;
    // normal, log-normal and bimodal numeric columns, a 7-valued integer-like column,
    // a low-cardinality category and a high-cardinality one (top-50 pooling).
    let bimodal = |seed, shift| -> Vec<f64> {
        let a = normal(n / 2, seed, shift, 1.0);
        let b = normal(n / 2, seed + 100, 6.0 + shift, 0.5);
        a.into_iter().chain(b).collect()
    };
    let cols = |seed: u64, shift: f64| -> Vec<(&'static str, TestValues)> {
        vec![
            ("norm", some(normal(n, seed, shift, 1.0))),
            (
                "lognorm",
                some(
                    normal(n, seed + 1, shift, 0.8)
                        .into_iter()
                        .map(f64::exp)
                        .collect(),
                ),
            ),
            ("bimodal", some(bimodal(seed + 2, shift))),
            (
                "small_int",
                some(
                    (0..n)
                        .map(|i| ((i as u64 * (seed + 3)) % 7) as f64)
                        .collect(),
                ),
            ),
            (
                "cat",
                strs((0..n).map(|i| format!("c{}", (i as u64 * (seed + 5)) % 9))),
            ),
        ]
    };
    let r = write(d.path(), "r.parquet", cols(21, 0.0));
    let c = write(d.path(), "c.parquet", cols(31, 0.3));
    let prof = profile_file(&r, &crate::privacy::Policy::default())
        .expect("profile")
        .expect("tabular");
    let files = run(&r, std::slice::from_ref(&c), &quiet()).expect("files");
    let from_prof =
        compare(Reference::Profile(&prof), &[c], &quiet(), &|_: &str| {}).expect("profile");
    assert_eq!(from_prof.reference_kind, "profile");
    for name in ["norm", "lognorm", "bimodal", "small_int", "cat"] {
        let a = files.column(name).expect("col");
        let b = from_prof.column(name).expect("col");
        let src = b.from_profile.as_ref().expect("source");
        assert_eq!(a.test, b.test, "{name}");
        let (sa, sb) = (a.score.expect("score"), b.score.expect("score"));
        let (pa, pb) = (
            a.psi.as_ref().expect("psi").score,
            b.psi.as_ref().expect("psi").score,
        );
        eprintln!("{name}: {} test {sa} vs {sb}, psi {pa} vs {pb}", src.method);
        if src.exact {
            assert_eq!(sa, sb, "{name}");
            assert_eq!(pa, pb, "{name}");
        } else {
            // The documented tolerance of a privacy-safe profile
            // (docs/privacy.md): its sketch keeps no value beyond the k-th
            // smallest and largest, and rounds quantiles to four digits.
            assert!(
                (sa - sb).abs() <= 0.03 * sa,
                "{name}: wasserstein {sb} vs {sa}"
            );
            assert!((pa - pb).abs() <= 0.01, "{name}: psi {pb} vs {pa}");
        }
        assert_eq!(a.null_share, b.null_share, "{name}");
    }
    // KS is replaced by Wasserstein on a sketch, and the report says so.
    let mut overrides = BTreeMap::new();
    overrides.insert(
        "norm".to_string(),
        ColumnOverride {
            test: Some(StatTest::Ks),
            ..Default::default()
        },
    );
    let c2 = d.path().join("c.parquet");
    let rep = compare(
        Reference::Profile(&prof),
        &[c2],
        &DriftOptions {
            overrides,
            ..quiet()
        },
        &|_: &str| {},
    )
    .expect("report");
    let norm = rep.column("norm").expect("norm");
    assert_eq!(norm.test, Some(StatTest::Wasserstein));
    let sub = norm
        .from_profile
        .as_ref()
        .and_then(|s| s.substituted.as_ref())
        .expect("substituted");
    assert_eq!(sub.requested, StatTest::Ks);
}

#[test]
fn prediction_drift_and_degradation() {
    let d = tempfile::tempdir().expect("tmp");
    let n = 400;
    let label: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
    let good: Vec<f64> = label
        .iter()
        .map(|&l| if l == 1.0 { 0.8 } else { 0.2 })
        .collect();
    let bad: Vec<f64> = (0..n).map(|i| if i % 3 == 0 { 0.9 } else { 0.1 }).collect();
    let r = write(
        d.path(),
        "r.csv",
        vec![("pred", some(good)), ("y", some(label.clone()))],
    );
    let c = write(
        d.path(),
        "c.csv",
        vec![("pred", some(bad)), ("y", some(label))],
    );
    let opts = DriftOptions {
        prediction: Some("pred".into()),
        label: Some("y".into()),
        metric: Some("accuracy".into()),
        reference_metric: Some(0.95),
        max_degradation: Some(0.05),
        ..quiet()
    };
    let rep = run(&r, &[c], &opts).expect("report");
    let p = rep.performance.as_ref().expect("performance");
    assert!(p.current.expect("acc") < 0.9);
    assert!(p.degraded);
    assert!(rep
        .findings
        .iter()
        .any(|f| matches!(f, Finding::Degradation { .. })));
    assert_eq!(
        rep.column("pred").expect("pred").role,
        super::report::Role::Prediction
    );
    assert!(rep.column("pred").expect("pred").drift);
}

#[test]
fn html_escapes_user_strings() {
    let d = tempfile::tempdir().expect("tmp");
    let evil = "<script>alert(1)</script>";
    let r = write(
        d.path(),
        "r.csv",
        vec![(evil, strs((0..50).map(|i| format!("a{}", i % 3))))],
    );
    let c = write(
        d.path(),
        "c.csv",
        vec![(
            evil,
            strs((0..50).map(|i| {
                if i % 5 == 0 {
                    evil.to_string()
                } else {
                    format!("a{}", i % 3)
                }
            })),
        )],
    );
    let rep = run(&r, &[c], &quiet()).expect("report");
    let html = super::render::html(&rep);
    assert!(!html.contains("<script"), "unescaped script tag");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("<svg"));
    let md = super::render::markdown(&rep);
    assert!(!md.contains("<script"));
    assert_eq!(super::render::table_rows(&rep)[0][0], evil);
}
