//! A fixed-size history of one metric at one resolution: slot `k` holds the samples of the time
//! interval `[k·width, (k+1)·width)`, stored at index `k mod len`.
//!
//! Slots are claimed lazily by the write that finds an older interval in them, so no timer has
//! to roll the ring forward and an idle metric costs nothing; readers ignore slots older than
//! `len` intervals. Memory is fixed at creation.

use crate::stat::{Histogram, Stat};

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Interval number (`time / width`); `i64::MIN` when never written.
    key: i64,
    stat: Stat,
}

const EMPTY: Slot = Slot {
    key: i64::MIN,
    stat: Stat::EMPTY,
};

#[derive(Debug, Clone)]
pub struct Ring {
    width_ms: i64,
    slots: Box<[Slot]>,
    /// Parallel to `slots` for latency metrics, empty otherwise.
    hist: Box<[Histogram]>,
}

impl Ring {
    pub fn new(width_ms: i64, len: usize, with_histogram: bool) -> Self {
        assert!(width_ms > 0 && len > 0);
        Self {
            width_ms,
            slots: vec![EMPTY; len].into_boxed_slice(),
            hist: if with_histogram {
                vec![Histogram::default(); len].into_boxed_slice()
            } else {
                Box::default()
            },
        }
    }

    pub fn width_ms(&self) -> i64 {
        self.width_ms
    }

    /// How far back this ring remembers, in milliseconds.
    pub fn span_ms(&self) -> i64 {
        self.width_ms * self.slots.len() as i64
    }

    /// Bytes this ring holds on the heap.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.slots) + std::mem::size_of_val(&*self.hist)
    }

    pub fn add(&mut self, at_ms: i64, v: f64) {
        let key = at_ms.div_euclid(self.width_ms);
        let i = key.rem_euclid(self.slots.len() as i64) as usize;
        let slot = &mut self.slots[i];
        if slot.key != key {
            if slot.key > key {
                // A sample older than the ring's memory (a clock step backwards): drop it.
                return;
            }
            *slot = Slot {
                key,
                stat: Stat::EMPTY,
            };
            if let Some(h) = self.hist.get_mut(i) {
                *h = Histogram::default();
            }
        }
        slot.stat.add(v);
        if let Some(h) = self.hist.get_mut(i) {
            h.add(v);
        }
    }

    /// The live intervals that start in `[start_ms, end_ms)`, as `(interval start in ms, stat,
    /// histogram)`, in no particular order. "Live" is judged against `now_ms`.
    pub fn slots_in(
        &self,
        now_ms: i64,
        start_ms: i64,
        end_ms: i64,
    ) -> impl Iterator<Item = (i64, &Stat, Option<&Histogram>)> + '_ {
        let oldest = now_ms.div_euclid(self.width_ms) - self.slots.len() as i64 + 1;
        self.slots.iter().enumerate().filter_map(move |(i, s)| {
            let t = s.key.checked_mul(self.width_ms)?;
            (s.key >= oldest && t >= start_ms && t < end_ms && !s.stat.is_empty())
                .then(|| (t, &s.stat, self.hist.get(i)))
        })
    }

    /// Whether any live interval holds samples.
    pub fn has_data(&self, now_ms: i64) -> bool {
        self.slots_in(now_ms, i64::MIN, i64::MAX).next().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(r: &Ring, now: i64, start: i64, end: i64) -> Vec<(i64, u64, f64)> {
        let mut v: Vec<_> = r
            .slots_in(now, start, end)
            .map(|(t, s, _)| (t, s.count, s.sum))
            .collect();
        v.sort_by_key(|x| x.0);
        v
    }

    #[test]
    fn buckets_by_interval_and_forgets_after_len_intervals() {
        let mut r = Ring::new(1000, 4, false);
        r.add(10_000, 1.0);
        r.add(10_999, 2.0);
        r.add(11_000, 5.0);
        assert_eq!(
            collect(&r, 11_500, 0, i64::MAX),
            vec![(10_000, 2, 3.0), (11_000, 1, 5.0)]
        );
        // The range is by interval start: [10_500, 12_000) holds only 11_000.
        assert_eq!(collect(&r, 11_500, 10_500, 12_000), vec![(11_000, 1, 5.0)]);
        // Four intervals later 10_000 is gone even though nothing overwrote its slot.
        assert_eq!(collect(&r, 14_000, 0, i64::MAX), vec![(11_000, 1, 5.0)]);
        assert!(!r.has_data(15_000));
        // Writing the interval that maps to the same slot replaces it.
        r.add(14_000, 7.0);
        let live = vec![(11_000, 1, 5.0), (14_000, 1, 7.0)];
        assert_eq!(collect(&r, 14_000, 0, i64::MAX), live);
        // A sample from before the slot's interval is dropped, not mixed in.
        r.add(10_000, 100.0);
        assert_eq!(collect(&r, 14_000, 0, i64::MAX), live);
        assert_eq!(r.span_ms(), 4000);
    }

    #[test]
    fn histograms_follow_their_slots() {
        let mut r = Ring::new(60_000, 3, true);
        r.add(0, 0.3);
        r.add(1, 0.3);
        r.add(60_000, 50.0);
        let mut seen: Vec<_> = r
            .slots_in(60_000, 0, i64::MAX)
            .map(|(t, _, h)| (t, h.unwrap().0.iter().sum::<u32>()))
            .collect();
        seen.sort();
        assert_eq!(seen, vec![(0, 2), (60_000, 1)]);
        r.add(180_000, 1.0); // reuses slot 0
        let h: Vec<_> = r
            .slots_in(180_000, 180_000, i64::MAX)
            .map(|(_, _, h)| h.unwrap().0.iter().sum::<u32>())
            .collect();
        assert_eq!(h, vec![1]);
        assert!(r.heap_bytes() > 0);
    }
}
