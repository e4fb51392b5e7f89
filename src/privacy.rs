//! What may be kept about a column of customer data (docs/privacy.md).
//!
//! Records are immutable and pushed to the team's git host, so a profile or a
//! drift report that holds a customer's name, e-mail address or income can
//! never be taken back. The rules, applied wherever mlops summarises data:
//!
//! - a raw value is kept only for a **low-cardinality categorical** column
//!   (at most [`Policy::max_categories`] distinct values, and not most of its
//!   rows distinct), only for categories with **at least k rows**
//!   (k-anonymity, [`Policy::k`], default 5), and never when the value looks
//!   like an identifier, whatever its count;
//! - a column that is **identifier-like** — listed as `pii`, with values
//!   that look like e-mail addresses, phone numbers, HKIDs, SSNs, IBANs,
//!   card numbers (Luhn-checked) or IP addresses, or with most of its values
//!   distinct — keeps only non-identifying statistics: counts, null share,
//!   the distribution of value lengths; a column listed as `exclude` keeps
//!   counts and null share only;
//! - numbers keep no individual value: quantiles only where at least k rows
//!   lie on either side, rounded to four significant digits, and bins.
//!
//! Identifier detection looks at text columns only: a float column is not an
//! identifier because its values are distinct.

use std::net::IpAddr;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// The privacy settings (`[privacy]` in mlops.toml).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// A stored category, bin or quantile stands for at least this many rows.
    pub k: u64,
    /// Text columns with more distinct values than this keep no values.
    pub max_categories: usize,
    /// Columns that hold personal data: counts, null share and lengths only.
    pub pii: Vec<String>,
    /// Columns that keep nothing but counts and null share.
    pub exclude: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            k: 5,
            max_categories: 50,
            pii: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

/// Why a column keeps no values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protection {
    /// `excluded`, `pii` or `identifier`.
    pub level: String,
    pub reason: String,
}

impl Protection {
    pub fn excluded(&self) -> bool {
        self.level == "excluded"
    }
}

fn patterns() -> &'static [(&'static str, Regex)] {
    static P: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    P.get_or_init(|| {
        [
            (
                "e-mail addresses",
                r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$",
            ),
            ("US social security numbers", r"^\d{3}-\d{2}-\d{4}$"),
            ("HKIDs", r"^[A-Z]{1,2}\d{6}\s*\(?[0-9A]\)?$"),
            ("phone numbers", r"^\+?[\d(][\d\s().\-]{6,20}\d$"),
        ]
        .into_iter()
        .map(|(k, p)| (k, Regex::new(p).expect("a valid pattern")))
        .collect()
    })
}

/// What kind of identifier a value looks like, if any.
pub fn identifier_kind(value: &str) -> Option<&'static str> {
    let v = value.trim();
    if v.len() < 6 || v.len() > 64 {
        return None;
    }
    let digits: String = v.chars().filter(|c| c.is_ascii_digit()).collect();
    let compact: String = v.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if (13..=19).contains(&digits.len())
        && compact.chars().all(|c| c.is_ascii_digit())
        && luhn(&digits)
    {
        return Some("card numbers");
    }
    if iban(&compact) {
        return Some("IBANs");
    }
    if v.parse::<IpAddr>().is_ok() {
        return Some("IP addresses");
    }
    // Dates and times are not identifiers, though their digits and dashes
    // look like a phone number's.
    if date_like(v) {
        return None;
    }
    for (kind, re) in patterns() {
        if re.is_match(v) {
            match *kind {
                "HKIDs" if !hkid(v) => continue,
                "phone numbers" if !(8..=15).contains(&digits.len()) => continue,
                _ => return Some(kind),
            }
        }
    }
    None
}

fn date_like(v: &str) -> bool {
    static D: OnceLock<Regex> = OnceLock::new();
    D.get_or_init(|| {
        Regex::new(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
            .expect("a valid pattern")
    })
    .is_match(v)
}

fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let mut d = c.to_digit(10).unwrap_or(0);
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

fn iban(s: &str) -> bool {
    let s = s.to_ascii_uppercase();
    if !(15..=34).contains(&s.len())
        || !s[..2].chars().all(|c| c.is_ascii_alphabetic())
        || !s[2..4].chars().all(|c| c.is_ascii_digit())
        || !s.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return false;
    }
    let rearranged = format!("{}{}", &s[4..], &s[..4]);
    let mut rem: u32 = 0;
    for c in rearranged.chars() {
        let v = c.to_digit(36).unwrap_or(0);
        for d in v.to_string().chars() {
            rem = (rem * 10 + d.to_digit(10).unwrap_or(0)) % 97;
        }
    }
    rem == 1
}

/// The HKID check digit: weights 9..2 over the letters (space = 36) and
/// digits, mod 11.
fn hkid(v: &str) -> bool {
    let s: String = v.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let (body, check) = s.split_at(s.len() - 1);
    let letters = body.len() - 6;
    let mut chars: Vec<u32> = Vec::new();
    if letters == 1 {
        chars.push(36);
    }
    for c in body.chars() {
        chars.push(if c.is_ascii_digit() {
            c.to_digit(10).unwrap_or(0)
        } else {
            c as u32 - 'A' as u32 + 10
        });
    }
    let sum: u32 = chars
        .iter()
        .enumerate()
        .map(|(i, v)| v * (9 - i as u32))
        .sum();
    let expected = (11 - sum % 11) % 11;
    let expected = if expected == 10 {
        'A'
    } else {
        char::from_digit(expected, 10).unwrap_or('?')
    };
    check.starts_with(expected)
}

/// How a text column may be summarised: `None` when its frequent values may
/// be kept (each still subject to k and to [`identifier_kind`]).
///
/// `values` are the column's distinct values with their counts; `present` is
/// the number of non-missing rows.
pub fn protect_text(
    name: &str,
    values: &[(&str, u64)],
    present: u64,
    policy: &Policy,
) -> Option<Protection> {
    if policy.exclude.iter().any(|c| c == name) {
        return Some(Protection {
            level: "excluded".into(),
            reason: "listed under `exclude` in mlops.toml".into(),
        });
    }
    if policy.pii.iter().any(|c| c == name) {
        return Some(Protection {
            level: "pii".into(),
            reason: "listed under `pii` in mlops.toml".into(),
        });
    }
    // Identifier patterns, over the rows.
    let mut matched: std::collections::BTreeMap<&str, u64> = Default::default();
    for (v, n) in values {
        if let Some(kind) = identifier_kind(v) {
            *matched.entry(kind).or_default() += n;
        }
    }
    if let Some((kind, n)) = matched.iter().max_by_key(|(_, n)| **n) {
        if present > 0 && *n * 2 >= present {
            return Some(Protection {
                level: "identifier".into(),
                reason: format!(
                    "values look like {kind} ({:.0}% of rows)",
                    *n as f64 * 100.0 / present as f64
                ),
            });
        }
    }
    let distinct = values.len() as u64;
    if distinct as usize > policy.max_categories {
        return Some(Protection {
            level: "identifier".into(),
            reason: format!(
                "{distinct} distinct values (more than {} keep none)",
                policy.max_categories
            ),
        });
    }
    if present >= 2 * policy.k && distinct * 2 > present {
        return Some(Protection {
            level: "identifier".into(),
            reason: format!("identifier-like: {distinct} distinct values in {present} rows"),
        });
    }
    None
}

/// How a column of numbers may be summarised. Numbers keep no individual
/// value anyway (rounded k-anonymous quantiles), but an integer column of
/// card numbers or of long account or phone numbers is an identifier and
/// keeps counts only. `sorted` holds the present values in order.
pub fn protect_numbers(
    name: &str,
    sorted: &[f64],
    integers: bool,
    policy: &Policy,
) -> Option<Protection> {
    if let Some(p) = protect_text(
        name,
        &[],
        0,
        &Policy {
            max_categories: usize::MAX,
            ..policy.clone()
        },
    ) {
        return Some(p);
    }
    if !integers || sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let cards = sorted
        .iter()
        .filter(|x| (1e12..1e19).contains(*x) && luhn(&format!("{}", **x as u64)))
        .count() as u64;
    if cards * 2 >= n && n >= 2 {
        return Some(Protection {
            level: "identifier".into(),
            reason: format!(
                "values look like card numbers ({:.0}% of rows)",
                cards as f64 * 100.0 / n as f64
            ),
        });
    }
    let long = sorted.iter().filter(|x| x.abs() >= 1e8).count() as u64;
    let distinct = 1 + sorted.windows(2).filter(|w| w[0] != w[1]).count() as u64;
    if long * 2 >= n && distinct * 2 > n && n >= 2 * policy.k {
        return Some(Protection {
            level: "identifier".into(),
            reason: format!(
                "identifier-like: {distinct} distinct numbers of 9 or more digits in {n} rows"
            ),
        });
    }
    None
}

/// Whether a single category may be stored as a value.
pub fn keep_category(value: &str, count: u64, policy: &Policy) -> bool {
    count >= policy.k && identifier_kind(value).is_none()
}

/// A number rounded to four significant digits: what a profile keeps of a
/// quantile, so that no stored figure is one customer's exact value.
pub fn round4(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = 4 - 1 - x.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    let r = (x * scale).round() / scale;
    // Rounding can print as 0.30000000000000004: take the shortest form.
    format!("{r:.*}", digits.max(0) as usize)
        .parse()
        .unwrap_or(r)
}

/// The distribution of value lengths (0..=64, longer ones in the last bin):
/// what a protected text column keeps.
pub fn lengths<'a>(values: impl Iterator<Item = (&'a str, u64)>) -> Vec<u64> {
    let mut out = vec![0u64; 65];
    for (v, n) in values {
        out[v.chars().count().min(64)] += n;
    }
    while out.len() > 1 && out.last() == Some(&0) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_recognised_and_ordinary_values_are_not() {
        for (v, kind) in [
            ("alice.tan@bank.example", "e-mail addresses"),
            ("078-05-1120", "US social security numbers"),
            ("A123456(3)", "HKIDs"),
            ("+852 9123 4567", "phone numbers"),
            ("4111 1111 1111 1111", "card numbers"),
            ("GB82WEST12345698765432", "IBANs"),
            ("192.168.10.24", "IP addresses"),
            ("2001:db8::1", "IP addresses"),
        ] {
            assert_eq!(identifier_kind(v), Some(kind), "{v}");
        }
        for v in [
            "Hong Kong",
            "retail",
            "A123456(4)",
            "4111 1111 1111 1112",
            "GB82WEST12345698765433",
            "2026-03-01",
            "12.5",
            "approved",
        ] {
            assert_eq!(identifier_kind(v), None, "{v}");
        }
    }

    #[test]
    fn columns_are_protected_for_the_right_reason() {
        let p = Policy {
            pii: vec!["name".into()],
            ..Policy::default()
        };
        let regions = [("north", 40u64), ("south", 60)];
        assert_eq!(protect_text("region", &regions, 100, &p), None);
        assert_eq!(
            protect_text("name", &regions, 100, &p).unwrap().level,
            "pii"
        );
        let emails: Vec<(String, u64)> = (0..30).map(|i| (format!("u{i}@x.example"), 1)).collect();
        let emails: Vec<(&str, u64)> = emails.iter().map(|(v, n)| (v.as_str(), *n)).collect();
        assert!(protect_text("contact", &emails, 30, &p)
            .unwrap()
            .reason
            .contains("e-mail"));
        let ids: Vec<(String, u64)> = (0..40).map(|i| (format!("cust{i}"), 1)).collect();
        let ids: Vec<(&str, u64)> = ids.iter().map(|(v, n)| (v.as_str(), *n)).collect();
        assert!(protect_text("customer", &ids, 40, &p)
            .unwrap()
            .reason
            .contains("identifier-like"));
    }

    #[test]
    fn rounding_keeps_four_significant_digits() {
        assert_eq!(round4(123456.0), 123500.0);
        assert_eq!(round4(0.000123456), 0.0001235);
        assert_eq!(round4(-98.7654), -98.77);
        assert_eq!(round4(0.3), 0.3);
    }
}
