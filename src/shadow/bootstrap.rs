//! Bootstrap confidence intervals for the difference of a metric between two
//! models (docs/shadow.md).
//!
//! The generator is SplitMix64 with a fixed seed, written out here rather
//! than taken from `rand`: `rand`'s `StdRng` may change its algorithm between
//! releases, and a record must be reproducible from its inputs by any later
//! mlops — the same files give the same interval, bit for bit. Each resample
//! draws from its own stream (seeded from the resample's index), so the
//! resamples can run in parallel and still give the same answer.

use rayon::prelude::*;

/// Resamples per interval.
pub const RESAMPLES: usize = 1000;
/// The seed every interval starts from.
pub const SEED: u64 = 0x5eed_2026_0014;
/// The interval's coverage.
pub const LEVEL: f64 = 0.95;

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and fixed forever.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (Lemire's multiply-shift; the bias at
    /// n ≪ 2⁶⁴ is far below what a bootstrap can see).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// The stream of resample `i`.
    fn stream(i: usize) -> SplitMix64 {
        let mut s = SplitMix64::new(SEED ^ (i as u64).wrapping_mul(0xd134_2543_de82_ef95));
        s.next_u64();
        s
    }
}

/// A percentile interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The `q`-quantile of sorted values, linear between order statistics
/// (numpy's default `percentile`).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn interval(mut diffs: Vec<f64>) -> Option<Interval> {
    diffs.retain(|d| d.is_finite());
    // Resamples where the metric cannot be computed (one class only) are
    // left out; if most are, the interval means nothing.
    if diffs.len() < RESAMPLES / 2 {
        return None;
    }
    diffs.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - LEVEL) / 2.0;
    Some(Interval {
        low: quantile(&diffs, tail),
        high: quantile(&diffs, 1.0 - tail),
    })
}

/// Paired bootstrap: the same rows are drawn for both models (shadow
/// traffic, where both scored every row). `diff(w)` is the difference of
/// the metric on the resample given as row weights (challenger − champion), `None` where it
/// cannot be computed.
pub fn paired<F>(n: usize, diff: F) -> Option<Interval>
where
    F: Fn(&[u32]) -> Option<f64> + Sync,
{
    if n == 0 {
        return None;
    }
    let diffs: Vec<f64> = (0..RESAMPLES)
        .into_par_iter()
        .map_init(
            || vec![0u32; n],
            |w, i| {
                draw(w, &mut SplitMix64::stream(i));
                diff(w).unwrap_or(f64::NAN)
            },
        )
        .collect();
    interval(diffs)
}

/// One resample as row weights — how often each of `w.len()` rows was
/// drawn — into a buffer each thread reuses: the same draws, in the same
/// order, as listing the rows, without the list (8 MB a resample at a
/// million rows) or a fresh buffer.
fn draw(w: &mut [u32], rng: &mut SplitMix64) {
    w.fill(0);
    let n = w.len();
    for _ in 0..n {
        w[rng.below(n)] += 1;
    }
}

/// Independent bootstrap: each arm's rows are drawn from its own traffic
/// (an A/B split). `metric(arm, w)` is the metric of arm 0 (champion) or
/// 1 (challenger) on that arm's resample as row weights; the difference is
/// arm 1 − arm 0.
pub fn independent<F>(n: [usize; 2], metric: F) -> Option<Interval>
where
    F: Fn(usize, &[u32]) -> Option<f64> + Sync,
{
    if n[0] == 0 || n[1] == 0 {
        return None;
    }
    let diffs: Vec<f64> = (0..RESAMPLES)
        .into_par_iter()
        .map_init(
            || (vec![0u32; n[0]], vec![0u32; n[1]]),
            |(a, b), i| {
                let mut rng = SplitMix64::stream(i);
                draw(a, &mut rng);
                draw(b, &mut rng);
                match (metric(0, a), metric(1, b)) {
                    (Some(x), Some(y)) => y - x,
                    _ => f64::NAN,
                }
            },
        )
        .collect();
    interval(diffs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // Reference values of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        let mut r = SplitMix64::new(7);
        assert!((0..10_000).all(|_| r.below(10) < 10));
    }

    /// The weighted mean: each row counted as often as it was drawn.
    fn mean(v: &[f64], w: &[u32]) -> f64 {
        let n: u32 = w.iter().sum();
        v.iter().zip(w).map(|(x, &k)| x * f64::from(k)).sum::<f64>() / f64::from(n)
    }

    #[test]
    fn paired_interval_is_deterministic_and_covers_the_difference() {
        let champion: Vec<f64> = (0..400).map(|i| f64::from(i % 7) / 7.0).collect();
        let challenger: Vec<f64> = champion.iter().map(|x| x + 0.1).collect();
        let diff = |w: &[u32]| Some(mean(&challenger, w) - mean(&champion, w));
        let a = paired(400, diff).expect("an interval");
        let b = paired(400, diff).expect("an interval");
        assert_eq!(a, b, "same inputs, same interval");
        // a constant shift: every resample sees exactly +0.1
        assert!((a.low - 0.1).abs() < 1e-12 && (a.high - 0.1).abs() < 1e-12);
    }

    #[test]
    fn independent_interval_contains_the_point_difference() {
        let a: Vec<f64> = (0..300).map(|i| f64::from(i % 10)).collect();
        let b: Vec<f64> = (0..200).map(|i| f64::from(i % 10) + 1.0).collect();
        let point = mean(&b, &[1; 200]) - mean(&a, &[1; 300]);
        let ci = independent([300, 200], |arm, w| {
            Some(if arm == 0 { mean(&a, w) } else { mean(&b, w) })
        })
        .expect("an interval");
        assert!(ci.low < point && point < ci.high, "{ci:?} around {point}");
        assert!(ci.high - ci.low < 1.5, "{ci:?}");
        assert_eq!(
            ci,
            independent([300, 200], |arm, w| {
                Some(if arm == 0 { mean(&a, w) } else { mean(&b, w) })
            })
            .expect("again")
        );
        // nothing computable: no interval
        assert!(paired(50, |_| None).is_none());
    }
}
