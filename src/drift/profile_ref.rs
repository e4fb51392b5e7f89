//! Drift against a dataset **profile** instead of the raw reference files (DESIGN.md: the
//! training data may be gone from the machine).
//!
//! The profile's column is turned back into a reference sample and the ordinary tests run on
//! it, so the file-based and profile-based paths share every line of statistics code:
//! - **exact** when the profile holds exact value counts (numbers with ≤ 100 distinct values,
//!   none held by fewer than k rows), every category's frequency, or — in a layout-1 profile —
//!   every value: every test, Evidently's binning and PSI give the same numbers as the raw file;
//! - **from the quantile sketch** otherwise: the sample is the sketch's piecewise-linear
//!   quantile function (merged with the histogram's edges, see `NumericProfile::knots`) at
//!   `i / (n − 1)` for the recorded `n`, so the min, max, row count and
//!   therefore Evidently's Sturges bins over the combined range are the raw data's. Distances
//!   (normed Wasserstein, PSI, Jensen–Shannon, KL, energy) are then within about 1% of the
//!   file-based values. Rank and p-value tests (KS, Anderson–Darling, Cramér–von Mises,
//!   Mann–Whitney, t-test, and the numeric Hellinger which bins distinct values) would turn a
//!   sketch's interpolation error into confident p-values, so they are replaced by normed
//!   Wasserstein with its default threshold, and the result says so;
//! - categories beyond the profile's top 50 are pooled as `(other values)` on both sides; a
//!   current value outside the top 50 cannot be told from a rare reference value, so unseen
//!   categories are only reported when the profile is complete.

use serde::Serialize;

use super::load::{Column, Values};
use super::stats::{FeatureType, StatTest};
use crate::drift::profile::{interpolate, ColumnProfile};

/// The label of the pooled rare categories.
pub const OTHER: &str = "(other values)";

/// How the reference side of a column was rebuilt from the profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProfileSource {
    /// Whether the rebuilt reference equals the raw data's values.
    pub exact: bool,
    /// Where the reference values came from.
    pub method: &'static str,
    /// Statistics taken from the profile as recorded.
    pub recorded: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substituted: Option<Substitution>,
}

/// A test replaced because it needs the raw reference values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Substitution {
    pub requested: StatTest,
    pub used: StatTest,
    pub reason: String,
}

fn empty(cp: &ColumnProfile, numeric: bool) -> Column {
    Column {
        name: cp.name.clone(),
        dtype: cp.dtype.clone(),
        values: if numeric {
            Values::Num(Vec::new())
        } else {
            Values::Cat {
                codes: Vec::new(),
                dict: Vec::new(),
            }
        },
        missing: cp.missing,
    }
}

/// The reference column rebuilt from its profile; `current` is adjusted when categories have
/// to be pooled. `Err` holds the reason the column cannot be tested.
pub(crate) fn reference_column(
    cp: &ColumnProfile,
    current: &mut Column,
) -> Result<(Column, ProfileSource), String> {
    let recorded = vec!["null share", "row count"];
    if let Some(p) = &cp.protected {
        return Err(format!(
            "protected ({}): the profile keeps no values, only the null share is compared",
            p.reason
        ));
    }
    match &mut current.values {
        Values::Num(_) => {
            let Some(np) = &cp.numeric else {
                if cp.categories.is_some() {
                    return Err(
                        "the profile holds text for this column, the current data numbers".into(),
                    );
                }
                let src = ProfileSource {
                    exact: true,
                    method: "no values recorded",
                    recorded,
                    substituted: None,
                };
                return Ok((empty(cp, true), src));
            };
            let mut recorded = recorded;
            recorded.extend(["min", "max", "mean", "std"]);
            let complete_counts = np
                .value_counts
                .as_ref()
                .filter(|_| np.value_counts_other == 0);
            let (values, exact, method) = if let Some(vc) = complete_counts {
                let mut v = Vec::with_capacity(np.count as usize);
                for &(x, c) in vc {
                    v.extend(std::iter::repeat_n(x, c as usize));
                }
                (v, true, "exact value counts")
            } else if np.sketch.exact {
                (np.sketch.values.clone(), true, "every value")
            } else {
                let n = np.count as usize;
                let v = if n == 1 {
                    vec![np.min]
                } else {
                    let knots = np.knots();
                    let step = 1.0 / (n - 1) as f64;
                    (0..n)
                        .map(|i| interpolate(&knots, i as f64 * step))
                        .collect()
                };
                (v, false, "quantile sketch")
            };
            let mut col = empty(cp, true);
            col.values = Values::Num(values);
            Ok((
                col,
                ProfileSource {
                    exact,
                    method,
                    recorded,
                    substituted: None,
                },
            ))
        }
        Values::Cat { dict, .. } => {
            if let Some(p) = &cp.protected {
                return Err(format!(
                    "protected ({}): the profile keeps no values, only the null share is compared",
                    p.reason
                ));
            }
            let Some(cats) = &cp.categories else {
                if cp.numeric.is_some() {
                    return Err(
                        "the profile holds numbers for this column, the current data text".into(),
                    );
                }
                let src = ProfileSource {
                    exact: true,
                    method: "no values recorded",
                    recorded,
                    substituted: None,
                };
                return Ok((empty(cp, false), src));
            };
            let mut names: Vec<String> = cats.top.iter().map(|(s, _)| s.clone()).collect();
            let mut codes: Vec<u32> = Vec::with_capacity(cats.count as usize);
            for (k, (_, c)) in cats.top.iter().enumerate() {
                codes.extend(std::iter::repeat_n(k as u32, *c as usize));
            }
            let exact = cats.is_complete();
            if !exact {
                codes.extend(std::iter::repeat_n(names.len() as u32, cats.other as usize));
                names.push(OTHER.to_string());
                let mut known: Vec<&str> = cats.top.iter().map(|(s, _)| s.as_str()).collect();
                known.sort_unstable();
                for d in dict.iter_mut() {
                    if known.binary_search(&d.as_str()).is_err() {
                        *d = OTHER.to_string();
                    }
                }
            }
            let mut col = empty(cp, false);
            col.values = Values::Cat { codes, dict: names };
            Ok((
                col,
                ProfileSource {
                    exact,
                    method: if exact {
                        "category frequencies"
                    } else {
                        "top-50 category frequencies, the rest pooled"
                    },
                    recorded: vec!["null share", "row count", "category frequencies"],
                    substituted: None,
                },
            ))
        }
    }
}

/// The test to run on a profile-based reference: `test` itself when the reference is exact or
/// the test only needs binned shares or the quantile function; otherwise normed Wasserstein.
pub(crate) fn substitute(test: StatTest, ft: FeatureType, src: &mut ProfileSource) -> StatTest {
    if src.exact || ft == FeatureType::Categorical {
        return test;
    }
    let from_sketch = matches!(
        test,
        StatTest::Wasserstein
            | StatTest::Psi
            | StatTest::Jensenshannon
            | StatTest::KlDiv
            | StatTest::EnergyDist
    );
    if from_sketch {
        return test;
    }
    src.substituted = Some(Substitution {
        requested: test,
        used: StatTest::Wasserstein,
        reason: format!(
            "`{}` needs the raw reference values; the profile keeps a quantile sketch",
            test.name()
        ),
    });
    StatTest::Wasserstein
}
