//! Terminal sparklines of a metric history.
//!
//! A table of runs shows one number per metric, which hides whether a loss was
//! still falling or had diverged at the end. A one-line sparkline next to the
//! number shows the curve's shape at a glance, in any terminal, without a
//! plotting dependency: it is made of the eight Unicode block elements
//! `▁▂▃▄▅▆▇█`, which every monospace font draws at the same width as a letter.

/// The eight levels, lowest first.
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The level a flat series is drawn at: a line at the bottom would read as
/// "dropped to the minimum" and one at the top as "peaked", while a flat line
/// in the middle reads as "nothing happened", which is the truth.
const MID: char = LEVELS[3];

/// Draws `values` as at most `width` block characters.
///
/// Choices, and why:
/// - A history longer than `width` is cut into `width` contiguous buckets of
///   near-equal size and each bucket is drawn at its **mean**. Metric
///   histories are noisy step-to-step; the mean keeps the trend of each
///   stretch, where taking the last value of a bucket would alias (a
///   zig-zagging loss could be drawn as flat or as a sawtooth depending on
///   where the bucket edges fall).
/// - A history no longer than `width` is drawn one character per value; it is
///   never stretched, so the sparkline's length tells how many points exist.
/// - Levels are scaled between the smallest and largest drawn value, so the
///   shape is visible whatever the metric's units; a constant series (or a
///   single point) is a line at the middle level.
/// - NaN and infinite values carry no position on the scale, so they are left
///   out of bucket means and of the scale; a bucket with no finite value is
///   drawn as a space, making the gap visible instead of inventing a value.
/// - An empty history, or `width == 0`, gives an empty string.
pub fn sparkline(values: &[f64], width: usize) -> String {
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let points = bucket_means(values, width);
    let finite = points.iter().flatten();
    let min = finite.clone().copied().fold(f64::INFINITY, f64::min);
    let max = finite.copied().fold(f64::NEG_INFINITY, f64::max);
    let span = max - min;
    points
        .iter()
        .map(|p| match p {
            None => ' ',
            // `span` is not normal when every finite value is equal (0) or
            // when the range overflows f64 (inf); neither gives a scale.
            Some(_) if !span.is_normal() => MID,
            Some(v) => {
                let scaled = ((v - min) / span * (LEVELS.len() - 1) as f64).round();
                LEVELS[(scaled as usize).min(LEVELS.len() - 1)]
            }
        })
        .collect()
}

/// Means of the finite values of `width` contiguous buckets (or the values
/// themselves when there are no more than `width`); `None` where a bucket
/// holds no finite value.
fn bucket_means(values: &[f64], width: usize) -> Vec<Option<f64>> {
    let n = values.len();
    if n <= width {
        return values.iter().map(|v| v.is_finite().then_some(*v)).collect();
    }
    // Bucket i covers [i*n/width, (i+1)*n/width): sizes differ by at most one
    // and, as n > width, none is empty.
    (0..width)
        .map(|i| {
            let bucket = &values[i * n / width..(i + 1) * n / width];
            let (sum, count) = bucket
                .iter()
                .filter(|v| v.is_finite())
                .fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
            (count > 0).then(|| sum / count as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_history_or_zero_width_is_empty() {
        assert_eq!(sparkline(&[], 10), "");
        assert_eq!(sparkline(&[1.0, 2.0], 0), "");
    }

    #[test]
    fn rising_series_uses_every_level() {
        let v: Vec<f64> = (0..8).map(f64::from).collect();
        assert_eq!(sparkline(&v, 8), "▁▂▃▄▅▆▇█");
        assert_eq!(
            sparkline(&v, 20),
            "▁▂▃▄▅▆▇█",
            "short histories are not stretched"
        );
    }

    #[test]
    fn falling_loss_and_scale_independence() {
        assert_eq!(sparkline(&[1.0, 0.5, 0.25, 0.0], 10), "█▅▃▁");
        assert_eq!(sparkline(&[1000.0, 500.0, 250.0, 0.0], 10), "█▅▃▁");
        assert_eq!(sparkline(&[-3.0, -1.0], 10), "▁█");
    }

    #[test]
    fn constant_series_is_a_mid_level_line() {
        assert_eq!(sparkline(&[0.7; 5], 10), "▄▄▄▄▄");
        assert_eq!(sparkline(&[42.0], 10), "▄");
        assert_eq!(sparkline(&[0.7; 50], 10), "▄".repeat(10));
    }

    #[test]
    fn long_histories_are_bucketed_by_mean() {
        // 16 points into 4 buckets of 4: means 1.5, 5.5, 9.5, 13.5.
        let v: Vec<f64> = (0..16).map(f64::from).collect();
        let s = sparkline(&v, 4);
        assert_eq!(s.chars().count(), 4);
        assert_eq!(s, "▁▃▆█");
        // A zig-zag averages out to a flat line instead of aliasing.
        let zigzag: Vec<f64> = (0..100).map(|i| (i % 2) as f64).collect();
        assert_eq!(sparkline(&zigzag, 10), "▄".repeat(10));
    }

    #[test]
    fn uneven_buckets_cover_every_value() {
        let v: Vec<f64> = (0..10).map(f64::from).collect();
        let s = sparkline(&v, 3);
        assert_eq!(s.chars().count(), 3);
        assert!(s.starts_with('▁') && s.ends_with('█'), "{s}");
        // 1001 points into 7 buckets: the width is exact.
        let v: Vec<f64> = (0..1001).map(|i| (i as f64).sin()).collect();
        assert_eq!(sparkline(&v, 7).chars().count(), 7);
    }

    #[test]
    fn non_finite_values_are_gaps_not_levels() {
        assert_eq!(sparkline(&[0.0, f64::NAN, 1.0], 10), "▁ █");
        assert_eq!(sparkline(&[0.0, f64::INFINITY, 1.0], 10), "▁ █");
        assert_eq!(sparkline(&[f64::NAN, f64::NAN], 10), "  ");
        // In a bucket, NaN is skipped rather than poisoning the mean.
        assert_eq!(sparkline(&[0.0, f64::NAN, 1.0, 1.0], 2), "▁█");
        // A range too wide for f64 falls back to the flat line.
        assert_eq!(sparkline(&[-f64::MAX, f64::MAX], 10), "▄▄");
    }
}
