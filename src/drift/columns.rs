//! Column typing in Evidently's manner and schema comparison between reference and current.
//!
//! Evidently decides a column's kind from the **current** data: floats are numeric; integers
//! with at most 10 distinct values are categorical, other integers numeric; strings are
//! categorical, or text when more than half of the values are distinct (text is not tested
//! here: a per-row-unique column has no distribution to compare); booleans are categorical.

use serde::Serialize;

use super::load::Dtype;

/// How a column is treated by the drift tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Numeric,
    Categorical,
    Text,
    /// Dates, nested values…: compared by schema and null share only.
    Unsupported,
}

impl ColumnKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
            ColumnKind::Text => "text",
            ColumnKind::Unsupported => "unsupported",
        }
    }
}

/// Integers with at most this many distinct values are categorical (Evidently).
pub const INT_CATEGORICAL_MAX: usize = 10;

/// The kind of a column from its current dtype, non-missing count and distinct count.
pub fn classify(dtype: &Dtype, count: usize, distinct: usize) -> ColumnKind {
    match dtype {
        Dtype::Float => ColumnKind::Numeric,
        Dtype::Int if distinct <= INT_CATEGORICAL_MAX => ColumnKind::Categorical,
        Dtype::Int => ColumnKind::Numeric,
        Dtype::Bool => ColumnKind::Categorical,
        Dtype::Str if count > 0 && distinct * 2 > count => ColumnKind::Text,
        Dtype::Str => ColumnKind::Categorical,
        Dtype::Other(_) => ColumnKind::Unsupported,
    }
}

/// Sort numbers in the order of [`f64::total_cmp`] (the same result as
/// `v.sort_unstable_by(f64::total_cmp)`: equal keys are bit-identical values) with an LSD radix
/// sort over the order-preserving bit pattern: six passes of 11 bits, a pass skipped when every
/// value has the same digit there. About 5× faster than a comparison sort on a million values;
/// costs one scratch buffer of the same length. Short slices use the comparison sort.
pub fn sort_f64(v: &mut [f64]) {
    const BITS: u32 = 11;
    const PASSES: usize = 6;
    const BUCKETS: usize = 1 << BITS;
    let n = v.len();
    if n < 512 {
        v.sort_unstable_by(f64::total_cmp);
        return;
    }
    const SIGN: u64 = 1 << 63;
    // Order-preserving key: flip every bit of a negative number, only the sign of the rest.
    let key = |x: f64| -> u64 {
        let b = x.to_bits();
        if b & SIGN != 0 {
            !b
        } else {
            b | SIGN
        }
    };
    let unkey = |k: u64| -> f64 { f64::from_bits(if k & SIGN != 0 { k ^ SIGN } else { !k }) };
    // The keys live in `v` itself (as bit patterns: only copied, never used as numbers) and
    // in one scratch buffer, passes alternating between the two.
    let mut hist = vec![[0usize; BUCKETS]; PASSES];
    for x in v.iter_mut() {
        let k = key(*x);
        for (p, h) in hist.iter_mut().enumerate() {
            h[((k >> (p as u32 * BITS)) as usize) & (BUCKETS - 1)] += 1;
        }
        *x = f64::from_bits(k);
    }
    let mut scratch: Vec<u64> = vec![0; n];
    let mut in_scratch = false;
    for (p, h) in hist.iter_mut().enumerate() {
        if h.contains(&n) {
            continue; // every key has the same digit here
        }
        let mut sum = 0usize;
        for c in h.iter_mut() {
            let t = *c;
            *c = sum;
            sum += t;
        }
        let shift = p as u32 * BITS;
        let digit = |k: u64| ((k >> shift) as usize) & (BUCKETS - 1);
        if in_scratch {
            for &k in scratch.iter() {
                let d = digit(k);
                v[h[d]] = f64::from_bits(k);
                h[d] += 1;
            }
        } else {
            for x in v.iter() {
                let k = x.to_bits();
                let d = digit(k);
                scratch[h[d]] = k;
                h[d] += 1;
            }
        }
        in_scratch = !in_scratch;
    }
    if in_scratch {
        for (x, &k) in v.iter_mut().zip(&scratch) {
            *x = unkey(k);
        }
    } else {
        for x in v.iter_mut() {
            *x = unkey(x.to_bits());
        }
    }
}

/// A column whose kind differs between the data sets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Retyped {
    pub column: String,
    pub reference: String,
    pub current: String,
}

/// Columns missing from current, new in current, or of another kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SchemaChanges {
    /// In the reference, absent from the current data (reference order).
    pub missing: Vec<String>,
    /// In the current data only (current order); not tested.
    pub new: Vec<String>,
    pub retyped: Vec<Retyped>,
}

impl SchemaChanges {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.new.is_empty() && self.retyped.is_empty()
    }
}

/// Whether two dtypes count as a retyping (int ↔ float is a widening, not a change of kind).
fn retyped(a: &Dtype, b: &Dtype) -> bool {
    !(a == b || (a.is_numeric() && b.is_numeric()))
}

/// Compare the schemas (name, dtype) of reference and current.
pub fn compare_schemas(
    reference: &[(String, Dtype)],
    current: &[(String, Dtype)],
) -> SchemaChanges {
    let mut out = SchemaChanges::default();
    for (name, rt) in reference {
        match current.iter().find(|(n, _)| n == name) {
            None => out.missing.push(name.clone()),
            Some((_, ct)) if retyped(rt, ct) => out.retyped.push(Retyped {
                column: name.clone(),
                reference: rt.name(),
                current: ct.name(),
            }),
            Some(_) => {}
        }
    }
    for (name, _) in current {
        if !reference.iter().any(|(n, _)| n == name) {
            out.new.push(name.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidently_typing_rules() {
        assert_eq!(classify(&Dtype::Float, 100, 3), ColumnKind::Numeric);
        assert_eq!(classify(&Dtype::Int, 100, 10), ColumnKind::Categorical);
        assert_eq!(classify(&Dtype::Int, 100, 11), ColumnKind::Numeric);
        assert_eq!(classify(&Dtype::Str, 100, 50), ColumnKind::Categorical);
        assert_eq!(classify(&Dtype::Str, 100, 51), ColumnKind::Text);
        assert_eq!(classify(&Dtype::Bool, 100, 2), ColumnKind::Categorical);
        assert_eq!(
            classify(&Dtype::Other("date".into()), 10, 10),
            ColumnKind::Unsupported
        );
    }

    #[test]
    fn radix_sort_equals_total_cmp_sort() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for n in [0, 1, 5, 511, 512, 1000, 50_000] {
            let v: Vec<f64> = (0..n)
                .map(|i| match i % 7 {
                    0 => -0.0,
                    1 => 0.0,
                    2 => (next() % 10) as f64 - 5.0,
                    3 => f64::from_bits(next() >> 2) * if i % 2 == 0 { 1.0 } else { -1.0 },
                    4 => f64::MIN_POSITIVE / 3.0,
                    _ => (next() as f64 / u64::MAX as f64 - 0.5) * 1e6,
                })
                .filter(|x: &f64| x.is_finite())
                .collect();
            let mut a = v.clone();
            let mut b = v;
            a.sort_unstable_by(f64::total_cmp);
            sort_f64(&mut b);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "{n}");
        }
        let mut same = vec![2.5; 10_000];
        sort_f64(&mut same);
        assert!(same.iter().all(|&x| x == 2.5));
    }

    #[test]
    fn schema_changes() {
        let r = vec![
            ("a".to_string(), Dtype::Float),
            ("b".to_string(), Dtype::Int),
            ("c".to_string(), Dtype::Float),
        ];
        let c = vec![
            ("b".to_string(), Dtype::Float),
            ("c".to_string(), Dtype::Str),
            ("d".to_string(), Dtype::Bool),
        ];
        let s = compare_schemas(&r, &c);
        assert_eq!(s.missing, vec!["a"]);
        assert_eq!(s.new, vec!["d"]);
        assert_eq!(
            s.retyped,
            vec![Retyped {
                column: "c".into(),
                reference: "float".into(),
                current: "string".into()
            }]
        );
    }
}
