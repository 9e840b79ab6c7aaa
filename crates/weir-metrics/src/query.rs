//! Reading the history back as CloudWatch does: datapoints of one metric of one dimension set,
//! aggregated per `Period`, and the list of metrics that have data.
//!
//! A period that is a multiple of 60 s reads the 1-minute rings; a shorter one (1, 5, 10, 20, 30
//! s) reads the 1-second rings, which reach back only a few minutes — like CloudWatch's
//! high-resolution data, which also ages out first.

use crate::names::{Level, Metric};
use crate::registry::Registry;
use crate::series::{MetricHistory, Series};
use crate::stat::{Histogram, Stat};
use std::collections::BTreeMap;

/// Which dimension set of a stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Stream,
    Shard(u32),
    Consumer(String),
}

impl Scope {
    pub fn level(&self) -> Level {
        match self {
            Scope::Stream => Level::Stream,
            Scope::Shard(_) => Level::Shard,
            Scope::Consumer(_) => Level::Consumer,
        }
    }
}

/// One aggregated period.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    /// Start of the period, epoch milliseconds.
    pub timestamp_ms: i64,
    pub stat: Stat,
    /// Buckets of the period's samples (latency metrics at 1-minute resolution only).
    pub histogram: Option<Histogram>,
}

/// One metric of one dimension set that has data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listed {
    pub stream: String,
    pub scope: Scope,
    pub metric: Metric,
}

impl Registry {
    /// Datapoints of `metric` for `stream`/`scope` whose periods start in `[start_ms, end_ms)`,
    /// oldest first, with periods of `period_s` seconds counted from `start_ms` rounded down to
    /// the resolution read. Periods without samples are left out, as CloudWatch leaves them out.
    pub fn statistics(
        &self,
        metric: Metric,
        stream: &str,
        scope: &Scope,
        start_ms: i64,
        end_ms: i64,
        period_s: u32,
        now_ms: i64,
    ) -> Vec<Datapoint> {
        let Some(s) = self.get(stream) else {
            return Vec::new();
        };
        if !metric.at(scope.level()) {
            return Vec::new();
        }
        let read = |series: &Series| -> Vec<Datapoint> {
            series
                .get(metric)
                .map(|h| aggregate(h, start_ms, end_ms, period_s, now_ms))
                .unwrap_or_default()
        };
        match scope {
            Scope::Stream => read(&s.stream.lock()),
            Scope::Shard(i) => s.shards.lock().get(i).map(read).unwrap_or_default(),
            Scope::Consumer(c) => s.consumers.lock().get(c).map(read).unwrap_or_default(),
        }
    }

    /// Every (stream, dimension set, metric) with samples in the retained history, sorted.
    pub fn list(&self, now_ms: i64) -> Vec<Listed> {
        let mut out = Vec::new();
        for s in self.streams() {
            let mut push = |scope: Scope, series: &Series| {
                for (metric, h) in series.iter() {
                    if h.has_data(now_ms) {
                        out.push(Listed {
                            stream: s.name.clone(),
                            scope: scope.clone(),
                            metric,
                        });
                    }
                }
            };
            push(Scope::Stream, &s.stream.lock());
            for (i, series) in s.shards.lock().iter() {
                push(Scope::Shard(*i), series);
            }
            for (c, series) in s.consumers.lock().iter() {
                push(Scope::Consumer(c.clone()), series);
            }
        }
        out.sort();
        out
    }
}

/// The datapoints of one metric's history whose periods start in `[start_ms, end_ms)`, oldest
/// first (see [`Registry::statistics`]).
pub(crate) fn aggregate(
    h: &MetricHistory,
    start_ms: i64,
    end_ms: i64,
    period_s: u32,
    now_ms: i64,
) -> Vec<Datapoint> {
    if period_s == 0 {
        return Vec::new();
    }
    let ring = if period_s.is_multiple_of(60) {
        &h.minutes
    } else {
        &h.seconds
    };
    let width = ring.width_ms();
    let origin = start_ms.div_euclid(width) * width;
    let period_ms = period_s as i64 * 1000;
    let mut periods: BTreeMap<i64, Datapoint> = BTreeMap::new();
    for (t, stat, hist) in ring.slots_in(now_ms, origin, end_ms) {
        let at = origin + (t - origin).div_euclid(period_ms) * period_ms;
        let p = periods.entry(at).or_insert_with(|| Datapoint {
            timestamp_ms: at,
            stat: Stat::EMPTY,
            histogram: hist.map(|_| Histogram::default()),
        });
        p.stat.merge(stat);
        if let (Some(acc), Some(h)) = (p.histogram.as_mut(), hist) {
            acc.merge(h);
        }
    }
    periods.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Metric::*;
    use crate::names::ShardMetrics;
    use crate::registry::Limits;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z, a whole hour

    #[test]
    fn sums_per_period_from_the_minute_history() {
        let r = Registry::new(Limits::default());
        let s = r.stream("s", 7).unwrap();
        // Three puts in minute 0, one in minute 1, one in minute 5.
        for (at, n) in [(T0 + 1_000, 10.0), (T0 + 2_000, 20.0), (T0 + 59_999, 30.0)] {
            s.record(at, &[(IncomingRecords, n)]);
        }
        s.record(T0 + 60_000, &[(IncomingRecords, 5.0)]);
        s.record(T0 + 300_000, &[(IncomingRecords, 1.0)]);
        let now = T0 + 360_000;
        let d = r.statistics(IncomingRecords, "s", &Scope::Stream, T0, now, 60, now);
        let got: Vec<_> = d
            .iter()
            .map(|p| ((p.timestamp_ms - T0) / 1000, p.stat.count, p.stat.sum))
            .collect();
        assert_eq!(got, vec![(0, 3, 60.0), (60, 1, 5.0), (300, 1, 1.0)]);
        assert_eq!(d[0].stat.min, 10.0);
        assert_eq!(d[0].stat.max, 30.0);
        // One 5-minute period starting at the (rounded) start time holds the first four.
        let d = r.statistics(
            IncomingRecords,
            "s",
            &Scope::Stream,
            T0 + 30_000,
            now,
            300,
            now,
        );
        let got: Vec<_> = d
            .iter()
            .map(|p| ((p.timestamp_ms - T0) / 1000, p.stat.sum))
            .collect();
        assert_eq!(got, vec![(0, 65.0), (300, 1.0)]);
        // End is exclusive; unknown streams and wrong levels are empty.
        assert!(r
            .statistics(IncomingRecords, "s", &Scope::Stream, T0, T0, 60, now)
            .is_empty());
        assert!(r
            .statistics(IncomingRecords, "nope", &Scope::Stream, T0, now, 60, now)
            .is_empty());
        assert!(r
            .statistics(
                IteratorAgeMilliseconds,
                "s",
                &Scope::Stream,
                T0,
                now,
                60,
                now
            )
            .is_empty());
    }

    #[test]
    fn short_periods_read_the_second_history() {
        let r = Registry::new(Limits::default());
        let s = r.stream("s", 1).unwrap();
        for i in 0..20 {
            s.record(
                T0 + i * 500,
                &[(GetRecordsIteratorAgeMilliseconds, i as f64)],
            );
        }
        let now = T0 + 10_000;
        let d = r.statistics(
            GetRecordsIteratorAgeMilliseconds,
            "s",
            &Scope::Stream,
            T0,
            now,
            5,
            now,
        );
        let got: Vec<_> = d
            .iter()
            .map(|p| ((p.timestamp_ms - T0) / 1000, p.stat.count, p.stat.max))
            .collect();
        assert_eq!(got, vec![(0, 10, 9.0), (5, 10, 19.0)]);
        // Long after, the second history is gone but the minute history remains.
        let later = T0 + 3_600_000;
        assert!(r
            .statistics(
                GetRecordsIteratorAgeMilliseconds,
                "s",
                &Scope::Stream,
                T0,
                later,
                5,
                later
            )
            .is_empty());
        let d = r.statistics(
            GetRecordsIteratorAgeMilliseconds,
            "s",
            &Scope::Stream,
            T0,
            later,
            60,
            later,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].stat.count, 20);
    }

    #[test]
    fn latency_periods_carry_histograms() {
        let r = Registry::new(Limits::default());
        let s = r.stream("s", 1).unwrap();
        for v in [0.2, 0.3, 0.4, 9.0] {
            s.record(T0, &[(PutRecordsLatency, v)]);
        }
        let d = r.statistics(
            PutRecordsLatency,
            "s",
            &Scope::Stream,
            T0,
            T0 + 60_000,
            60,
            T0,
        );
        let h = d[0].histogram.unwrap();
        let p99 = h.quantile(0.99, &d[0].stat).unwrap();
        assert!(p99 > 5.0 && p99 <= 9.0, "{p99}");
    }

    #[test]
    fn lists_what_has_data() {
        let r = Registry::new(Limits::default());
        let s = r.stream("s", 1).unwrap();
        s.set_shard_metrics(ShardMetrics::from_names(["IncomingBytes"]), T0);
        s.record(T0, &[(IncomingBytes, 1.0), (IncomingRecords, 1.0)]);
        s.record_shard(3, T0, &[(IncomingBytes, 1.0), (IncomingRecords, 1.0)]);
        s.record_consumer("c", T0, &[(SubscribeToShardSuccess, 1.0)]);
        let got: Vec<_> = r
            .list(T0)
            .into_iter()
            .map(|l| (l.scope, l.metric))
            .collect();
        assert_eq!(
            got,
            vec![
                (Scope::Stream, IncomingBytes),
                (Scope::Stream, IncomingRecords),
                (Scope::Shard(3), IncomingBytes),
                (Scope::Consumer("c".into()), SubscribeToShardSuccess),
            ]
        );
        assert!(r.list(T0 + 4 * 3_600_000).is_empty(), "aged out");
    }
}
