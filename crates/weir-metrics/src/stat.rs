//! What weir keeps about a set of samples: CloudWatch's statistic set (SampleCount, Sum,
//! Minimum, Maximum — Average follows) and, for latencies, a fixed-bucket histogram from which
//! Prometheus buckets and approximate percentiles come.

/// CloudWatch's statistic set of some samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Default for Stat {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Stat {
    pub const EMPTY: Stat = Stat {
        count: 0,
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };

    pub fn of(v: f64) -> Stat {
        Stat {
            count: 1,
            sum: v,
            min: v,
            max: v,
        }
    }

    pub fn add(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, o: &Stat) {
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn average(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// Upper bounds (inclusive, milliseconds) of the latency buckets; a last, unbounded bucket
/// follows. Sub-millisecond resolution matters: weir's puts take well under a millisecond.
pub const LATENCY_BOUNDS_MS: [f64; 15] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10000.0,
];

/// Number of histogram buckets, the unbounded one included.
pub const BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// Counts of samples per latency bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Histogram(pub [u32; BUCKETS]);

impl Histogram {
    pub fn add(&mut self, v: f64) {
        let i = LATENCY_BOUNDS_MS.partition_point(|b| *b < v);
        self.0[i] = self.0[i].saturating_add(1);
    }

    pub fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    /// The `q`-quantile (0..=1), interpolated linearly inside its bucket and clamped to the
    /// observed minimum and maximum; `None` without samples.
    pub fn quantile(&self, q: f64, stat: &Stat) -> Option<f64> {
        let total: u64 = self.0.iter().map(|c| *c as u64).sum();
        if total == 0 {
            return None;
        }
        if q <= 0.0 {
            return Some(stat.min);
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut seen = 0u64;
        for (i, c) in self.0.iter().enumerate() {
            let c = *c as u64;
            if c == 0 {
                continue;
            }
            if (seen + c) as f64 >= rank {
                let lo = if i == 0 {
                    stat.min.min(LATENCY_BOUNDS_MS[0])
                } else {
                    LATENCY_BOUNDS_MS[i - 1]
                };
                let hi = LATENCY_BOUNDS_MS.get(i).copied().unwrap_or(stat.max);
                let frac = (rank - seen as f64) / c as f64;
                let v = lo + (hi - lo) * frac;
                return Some(v.clamp(stat.min, stat.max));
            }
            seen += c;
        }
        Some(stat.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_aggregates_like_cloudwatch() {
        let mut s = Stat::EMPTY;
        assert!(s.is_empty());
        assert_eq!(s.average(), 0.0);
        for v in [3.0, 1.0, 2.0] {
            s.add(v);
        }
        assert_eq!((s.count, s.sum, s.min, s.max), (3, 6.0, 1.0, 3.0));
        assert_eq!(s.average(), 2.0);
        let mut t = Stat::of(10.0);
        t.merge(&s);
        t.merge(&Stat::EMPTY);
        assert_eq!((t.count, t.sum, t.min, t.max), (4, 16.0, 1.0, 10.0));
    }

    #[test]
    fn histogram_buckets_and_quantiles() {
        let mut h = Histogram::default();
        let mut s = Stat::EMPTY;
        for v in [0.05, 0.3, 0.3, 0.4, 7.0, 20000.0] {
            h.add(v);
            s.add(v);
        }
        assert_eq!(h.0[0], 1); // ≤ 0.1
        assert_eq!(h.0[2], 3); // (0.25, 0.5]
        assert_eq!(h.0[6], 1); // (5, 10]
        assert_eq!(h.0[BUCKETS - 1], 1); // > 10 s
        let p50 = h.quantile(0.5, &s).unwrap();
        assert!((0.25..=0.5).contains(&p50), "{p50}");
        assert_eq!(h.quantile(1.0, &s), Some(20000.0));
        assert_eq!(h.quantile(0.0, &s), Some(0.05));
        assert_eq!(Histogram::default().quantile(0.5, &Stat::EMPTY), None);
        // A bound belongs to its own bucket.
        let mut b = Histogram::default();
        b.add(1.0);
        assert_eq!(b.0[3], 1);
    }
}
