//! The order of an entity's events.
//!
//! Every record names its predecessor (`prev`), so the records form a chain;
//! when two clones appended independently and their chains were merged, they
//! form a small DAG. Events are ordered causally (a record always comes after
//! the one it names), and records that are concurrent are ordered by
//! `(created_at, id)`, as DESIGN.md asks for derived state. Clocks therefore
//! only break ties; they can never put an event before its cause.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::record::Record;

/// Sorts records oldest first.
pub fn causal(records: Vec<Record>) -> Vec<Record> {
    let index: HashMap<String, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id().to_string(), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); records.len()];
    let mut waiting: Vec<usize> = vec![0; records.len()];
    for (i, r) in records.iter().enumerate() {
        if let Some(&p) = r.prev().and_then(|p| index.get(p)) {
            children[p].push(i);
            waiting[i] += 1;
        }
    }
    let key = |i: usize| {
        (
            records[i].created_at().to_string(),
            records[i].id().to_string(),
            i,
        )
    };
    let mut ready: BinaryHeap<Reverse<(String, String, usize)>> = (0..records.len())
        .filter(|&i| waiting[i] == 0)
        .map(|i| Reverse(key(i)))
        .collect();
    let mut order = Vec::with_capacity(records.len());
    while let Some(Reverse((_, _, i))) = ready.pop() {
        order.push(i);
        for &c in &children[i] {
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.push(Reverse(key(c)));
            }
        }
    }
    let mut slots: Vec<Option<Record>> = records.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| slots[i].take().expect("each record is placed once"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::causal;
    use crate::record::{Draft, Envelope};

    fn rec(n: u32, at: &str, prev: Option<&str>) -> crate::record::Record {
        Draft::new("note", 1, format!("n{n}"))
            .seal(&Envelope {
                created_at: at,
                actor: "a <a@x>",
                tool: "t",
                prev,
                clock: None,
            })
            .unwrap()
    }

    #[test]
    fn cause_comes_first_even_when_the_clock_says_otherwise() {
        let a = rec(1, "2026-01-02T00:00:00.000000Z", None);
        let b = rec(2, "2026-01-01T00:00:00.000000Z", Some(a.id()));
        let c = rec(3, "2026-01-01T00:00:00.000000Z", Some(b.id()));
        let sorted = causal(vec![c.clone(), b.clone(), a.clone()]);
        assert_eq!(sorted, vec![a, b, c]);
    }

    #[test]
    fn concurrent_branches_interleave_by_time() {
        let a = rec(1, "2026-01-01T00:00:00.000000Z", None);
        let x = rec(2, "2026-01-03T00:00:00.000000Z", Some(a.id()));
        let y = rec(3, "2026-01-02T00:00:00.000000Z", Some(a.id()));
        let sorted = causal(vec![x.clone(), y.clone(), a.clone()]);
        assert_eq!(sorted, vec![a, y, x]);
    }
}
