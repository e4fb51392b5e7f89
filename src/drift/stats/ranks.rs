//! Average ("midrank") ranks of two sorted samples pooled together, as scipy's
//! `rankdata(method="average")` assigns them; shared by Mann–Whitney and Cramér–von Mises.
//! One O(n1 + n2) merge instead of a pooled sort.

/// One run of equal values in the pooled sample.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TieGroup {
    /// How many of the run come from the first sample.
    pub in_a: usize,
    /// How many of the run come from the second sample.
    pub in_b: usize,
    /// Average 1-based rank of the run.
    pub rank: f64,
}

/// Runs of equal values, in increasing order, for two **sorted** samples.
pub(crate) fn tie_groups(a: &[f64], b: &[f64]) -> Vec<TieGroup> {
    let (mut i, mut j) = (0usize, 0usize);
    let mut seen = 0usize;
    let mut out = Vec::new();
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        let (i0, j0) = (i, j);
        while i < a.len() && a[i] == v {
            i += 1;
        }
        while j < b.len() && b[j] == v {
            j += 1;
        }
        let t = (i - i0) + (j - j0);
        // ranks seen+1 ..= seen+t, average = seen + (t + 1) / 2
        let rank = seen as f64 + (t as f64 + 1.0) / 2.0;
        out.push(TieGroup {
            in_a: i - i0,
            in_b: j - j0,
            rank,
        });
        seen += t;
    }
    out
}
