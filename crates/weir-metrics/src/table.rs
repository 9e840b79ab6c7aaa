//! A [`Table`]: the series of a namespace keyed by one dimension — a delivery stream's
//! (`AWS/Firehose`), a function's (`AWS/Lambda`) — and, for namespaces that publish one, the
//! aggregate without dimensions. It keeps the same histories as the Kinesis [`Registry`]
//! (running totals, 1-second and 1-minute rings) and is read back the same way; only the keying
//! differs, because these namespaces have one dimension set where Kinesis has three.
//!
//! One mutex covers the table: recording is a map lookup and a few arithmetic operations, and
//! the callers (a put, a delivered object, an invocation) are far slower than that. A cap on keys
//! bounds memory and label cardinality as the registry's caps do.
//!
//! [`Registry`]: crate::Registry

use crate::names::KeyedMetric;
use crate::query::{aggregate, Datapoint};
use crate::series::{HistoryConfig, Series};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Keys a table tracks at most by default. A series holding all six metrics of a namespace
/// takes about 85 KiB, so the worst case is about 85 MiB.
pub const DEFAULT_MAX_KEYS: usize = 1024;

/// The series of one namespace `M`, by the value of its dimension.
#[derive(Debug)]
pub struct Table<M: KeyedMetric> {
    history: HistoryConfig,
    max_keys: usize,
    series: Mutex<Keyed<M>>,
    dropped_samples: AtomicU64,
}

#[derive(Debug)]
struct Keyed<M: KeyedMetric> {
    /// The aggregate without dimensions; recorded only where a caller records it.
    all: Series<M>,
    by_key: BTreeMap<String, Series<M>>,
}

impl<M: KeyedMetric> Default for Table<M> {
    fn default() -> Self {
        Self::new(HistoryConfig::default(), DEFAULT_MAX_KEYS)
    }
}

impl<M: KeyedMetric> Table<M> {
    pub fn new(history: HistoryConfig, max_keys: usize) -> Self {
        Self {
            history,
            max_keys,
            series: Mutex::new(Keyed {
                all: Series::default(),
                by_key: BTreeMap::new(),
            }),
            dropped_samples: AtomicU64::new(0),
        }
    }

    /// Records samples taken at `at_ms` for dimension value `key`, or, with `None`, for the
    /// aggregate without dimensions. Past the key cap a new key's samples are dropped (and
    /// counted).
    pub fn record(&self, key: Option<&str>, at_ms: i64, samples: &[(M, f64)]) {
        let mut t = self.series.lock();
        let cap_reached = t.by_key.len() >= self.max_keys;
        let series = match key {
            None => &mut t.all,
            Some(k) => match t.by_key.get_mut(k) {
                Some(s) => s,
                None if cap_reached => {
                    self.dropped_samples.fetch_add(1, Relaxed);
                    return;
                }
                None => t.by_key.entry(k.to_string()).or_default(),
            },
        };
        for &(m, v) in samples {
            series.record(&self.history, m, at_ms, v);
        }
    }

    /// Datapoints of `metric` for `key` (`None`: the aggregate) whose periods start in
    /// `[start_ms, end_ms)`, oldest first; see [`crate::Registry::statistics`].
    pub fn statistics(
        &self,
        metric: M,
        key: Option<&str>,
        start_ms: i64,
        end_ms: i64,
        period_s: u32,
        now_ms: i64,
    ) -> Vec<Datapoint> {
        let t = self.series.lock();
        let series = match key {
            None => Some(&t.all),
            Some(k) => t.by_key.get(k),
        };
        series
            .and_then(|s| s.get(metric))
            .map(|h| aggregate(h, start_ms, end_ms, period_s, now_ms))
            .unwrap_or_default()
    }

    /// Every (key, metric) with samples in the retained history: the aggregate's first, then by
    /// key, each in the namespace's metric order.
    pub fn list(&self, now_ms: i64) -> Vec<(Option<String>, M)> {
        let t = self.series.lock();
        let keyed = t.by_key.iter().map(|(k, s)| (Some(k), s));
        std::iter::once((None, &t.all))
            .chain(keyed)
            .flat_map(|(k, s)| {
                s.iter()
                    .filter(|(_, h)| h.has_data(now_ms))
                    .map(move |(m, _)| (k.cloned(), m))
            })
            .collect()
    }

    /// Calls `f` with every keyed series, in key order (the aggregate is left out: it is the
    /// sum a Prometheus query computes).
    pub fn for_each(&self, mut f: impl FnMut(&str, &Series<M>)) {
        for (k, s) in self.series.lock().by_key.iter() {
            f(k, s);
        }
    }

    /// Drops the series of every key for which `keep` is false (deleted resources).
    pub fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        self.series.lock().by_key.retain(|k, _| keep(k));
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.series.lock().by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples dropped because the key cap was reached.
    pub fn dropped_samples(&self) -> u64 {
        self.dropped_samples.load(Relaxed)
    }

    /// Heap bytes held by the table's histories.
    pub fn heap_bytes(&self) -> usize {
        let t = self.series.lock();
        t.all.heap_bytes() + t.by_key.values().map(Series::heap_bytes).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::FirehoseMetric;
    use crate::names::LambdaMetric::{self, *};

    const T0: i64 = 1_767_225_600_000;

    fn small<M: KeyedMetric>() -> Table<M> {
        Table::new(
            HistoryConfig {
                second_slots: 10,
                minute_slots: 10,
            },
            2,
        )
    }

    #[test]
    fn keys_and_the_aggregate_are_separate_series() {
        let t: Table<LambdaMetric> = small();
        t.record(Some("f"), T0, &[(Invocations, 1.0), (Duration, 2.5)]);
        t.record(Some("f"), T0 + 61_000, &[(Invocations, 1.0)]);
        t.record(None, T0, &[(Invocations, 1.0)]);
        let now = T0 + 120_000;
        let sums = |key| -> Vec<(i64, f64)> {
            t.statistics(Invocations, key, T0, now, 60, now)
                .iter()
                .map(|p| ((p.timestamp_ms - T0) / 1000, p.stat.sum))
                .collect()
        };
        assert_eq!(sums(Some("f")), vec![(0, 1.0), (60, 1.0)]);
        assert_eq!(sums(None), vec![(0, 1.0)]);
        assert!(sums(Some("g")).is_empty());
        assert_eq!(
            t.list(now),
            vec![
                (None, Invocations),
                (Some("f".into()), Invocations),
                (Some("f".into()), Duration),
            ]
        );
        // Latencies keep buckets, for percentiles.
        let d = t.statistics(Duration, Some("f"), T0, now, 60, now);
        assert!(d[0].histogram.is_some());
        assert!(t.list(T0 + 11 * 60_000).is_empty(), "aged out");
    }

    #[test]
    fn caps_keys_and_forgets_deleted_ones() {
        let t: Table<FirehoseMetric> = small();
        for k in ["a", "b", "c"] {
            t.record(Some(k), T0, &[(FirehoseMetric::IncomingRecords, 1.0)]);
        }
        assert_eq!((t.len(), t.dropped_samples()), (2, 1));
        // Known keys keep recording past the cap; the aggregate is not a key.
        t.record(Some("a"), T0, &[(FirehoseMetric::IncomingRecords, 1.0)]);
        t.record(None, T0, &[(FirehoseMetric::IncomingRecords, 1.0)]);
        assert_eq!(t.dropped_samples(), 1);
        let mut seen = Vec::new();
        t.for_each(|k, s| {
            seen.push((
                k.to_string(),
                s.get(FirehoseMetric::IncomingRecords).unwrap().total.sum,
            ))
        });
        assert_eq!(seen, vec![("a".into(), 2.0), ("b".into(), 1.0)]);
        t.retain(|k| k != "a");
        assert_eq!(t.len(), 1);
        assert!(t.heap_bytes() > 0);
        assert!(!t.is_empty());
    }
}
