//! The registry: series keyed by stream, then by shard or consumer, with caps on how many are
//! tracked so that label cardinality — and memory — stay bounded whatever clients do.
//!
//! Recording takes the registry's read lock (a hash lookup by stream name) and one mutex per
//! stream, held for a few dozen arithmetic operations; nothing allocates after a series' first
//! samples. A stream's entry remembers the incarnation (`uid`) it belongs to, so a stream deleted
//! and created again under the same name starts from empty series.

use crate::names::{Level, Metric, ShardMetrics};
use crate::series::{HistoryConfig, Series};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU16, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// Caps on what the registry tracks. Past a cap, new series are not created (their samples are
/// dropped and counted); existing ones keep recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_streams: usize,
    /// Shard series over all streams (only streams with enhanced monitoring have them).
    pub max_shard_series: usize,
    /// Consumer series over all streams.
    pub max_consumer_series: usize,
    pub history: HistoryConfig,
}

impl Default for Limits {
    /// With the default history a stream series holding every stream-level metric takes about
    /// 300 KiB and a shard series with every shard-level metric about 100 KiB, so the worst case
    /// is about 75 MiB for streams and 100 MiB for shards; a stream only pays for the metrics
    /// it produces.
    fn default() -> Self {
        Self {
            max_streams: 256,
            max_shard_series: 1024,
            max_consumer_series: 256,
            history: HistoryConfig::default(),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub shard_series: AtomicUsize,
    pub consumer_series: AtomicUsize,
    pub dropped_samples: AtomicU64,
}

/// The series of one stream incarnation.
#[derive(Debug)]
pub struct StreamSeries {
    pub name: String,
    pub uid: u64,
    shard_metrics: AtomicU16,
    shard_metrics_checked_ms: AtomicI64,
    limits: Limits,
    counts: Arc<Counts>,
    pub(crate) stream: Mutex<Series>,
    pub(crate) shards: Mutex<BTreeMap<u32, Series>>,
    pub(crate) consumers: Mutex<BTreeMap<String, Series>>,
}

impl StreamSeries {
    /// Records stream-level samples taken at `at_ms`.
    pub fn record(&self, at_ms: i64, samples: &[(Metric, f64)]) {
        let mut s = self.stream.lock();
        for &(m, v) in samples {
            debug_assert!(m.at(Level::Stream), "{m} is not a stream-level metric");
            s.record(&self.limits.history, m, at_ms, v);
        }
    }

    /// Records shard-level samples: only the metrics the stream has enabled (see
    /// [`StreamSeries::set_shard_metrics`]) are kept.
    pub fn record_shard(&self, shard: u32, at_ms: i64, samples: &[(Metric, f64)]) {
        let enabled = self.shard_metrics();
        if !samples.iter().any(|(m, _)| enabled.contains(*m)) {
            return;
        }
        let mut shards = self.shards.lock();
        let series = match shards.get_mut(&shard) {
            Some(s) => s,
            None => {
                if !reserve(&self.counts.shard_series, self.limits.max_shard_series) {
                    self.counts.dropped_samples.fetch_add(1, Relaxed);
                    return;
                }
                shards.entry(shard).or_default()
            }
        };
        for &(m, v) in samples {
            if enabled.contains(m) {
                series.record(&self.limits.history, m, at_ms, v);
            }
        }
    }

    /// Records samples of an enhanced fan-out consumer of this stream.
    pub fn record_consumer(&self, consumer: &str, at_ms: i64, samples: &[(Metric, f64)]) {
        let mut consumers = self.consumers.lock();
        if !consumers.contains_key(consumer) {
            if !reserve(
                &self.counts.consumer_series,
                self.limits.max_consumer_series,
            ) {
                self.counts.dropped_samples.fetch_add(1, Relaxed);
                return;
            }
            consumers.insert(consumer.to_string(), Series::default());
        }
        let series = consumers.get_mut(consumer).expect("inserted above");
        for &(m, v) in samples {
            debug_assert!(m.at(Level::Consumer), "{m} is not a consumer metric");
            series.record(&self.limits.history, m, at_ms, v);
        }
    }

    /// Forgets a consumer's series (it was deregistered).
    pub fn forget_consumer(&self, consumer: &str) {
        if self.consumers.lock().remove(consumer).is_some() {
            self.counts.consumer_series.fetch_sub(1, Relaxed);
        }
    }

    pub fn shard_metrics(&self) -> ShardMetrics {
        ShardMetrics(self.shard_metrics.load(Relaxed))
    }

    /// When the shard-level metric set was last refreshed ([`StreamSeries::set_shard_metrics`]).
    pub fn shard_metrics_checked_ms(&self) -> i64 {
        self.shard_metrics_checked_ms.load(Relaxed)
    }

    /// Sets which shard-level metrics are recorded (the stream's enhanced monitoring), as of
    /// `now_ms`. Shard series of metrics turned off keep their history until it ages out.
    pub fn set_shard_metrics(&self, m: ShardMetrics, now_ms: i64) {
        self.shard_metrics.store(m.0, Relaxed);
        self.shard_metrics_checked_ms.store(now_ms, Relaxed);
    }

    fn release(&self) {
        let shards = std::mem::take(&mut *self.shards.lock()).len();
        self.counts.shard_series.fetch_sub(shards, Relaxed);
        let consumers = std::mem::take(&mut *self.consumers.lock()).len();
        self.counts.consumer_series.fetch_sub(consumers, Relaxed);
    }
}

fn reserve(count: &AtomicUsize, max: usize) -> bool {
    count
        .fetch_update(Relaxed, Relaxed, |n| (n < max).then_some(n + 1))
        .is_ok()
}

/// Every series weir records. Cheap to share (`Arc<Registry>`).
#[derive(Debug, Default)]
pub struct Registry {
    limits: Limits,
    counts: Arc<Counts>,
    streams: RwLock<HashMap<String, Arc<StreamSeries>>>,
}

impl Registry {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The series of stream `name`, incarnation `uid`, created on first use; a different `uid`
    /// replaces the old incarnation's series. `None` when the stream cap is reached.
    pub fn stream(&self, name: &str, uid: u64) -> Option<Arc<StreamSeries>> {
        if let Some(s) = self.streams.read().get(name) {
            if s.uid == uid {
                return Some(s.clone());
            }
        }
        let mut streams = self.streams.write();
        match streams.get(name) {
            Some(s) if s.uid == uid => return Some(s.clone()),
            Some(_) => {
                if let Some(old) = streams.remove(name) {
                    old.release();
                }
            }
            None if streams.len() >= self.limits.max_streams => {
                self.counts.dropped_samples.fetch_add(1, Relaxed);
                return None;
            }
            None => {}
        }
        let s = Arc::new(StreamSeries {
            name: name.to_string(),
            uid,
            shard_metrics: AtomicU16::new(0),
            shard_metrics_checked_ms: AtomicI64::new(i64::MIN),
            limits: self.limits,
            counts: self.counts.clone(),
            stream: Mutex::new(Series::default()),
            shards: Mutex::new(BTreeMap::new()),
            consumers: Mutex::new(BTreeMap::new()),
        });
        streams.insert(name.to_string(), s.clone());
        Some(s)
    }

    /// The series of stream `name` if it is tracked (any incarnation).
    pub fn get(&self, name: &str) -> Option<Arc<StreamSeries>> {
        self.streams.read().get(name).cloned()
    }

    /// Drops the series of every stream for which `keep(name, uid)` is false (deleted streams).
    pub fn retain_streams(&self, mut keep: impl FnMut(&str, u64) -> bool) {
        let gone: Vec<String> = self
            .streams
            .read()
            .values()
            .filter(|s| !keep(&s.name, s.uid))
            .map(|s| s.name.clone())
            .collect();
        if gone.is_empty() {
            return;
        }
        let mut streams = self.streams.write();
        for name in gone {
            if let Some(s) = streams.remove(&name) {
                s.release();
            }
        }
    }

    /// Every tracked stream, sorted by name.
    pub fn streams(&self) -> Vec<Arc<StreamSeries>> {
        let mut v: Vec<_> = self.streams.read().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// `(streams, shard series, consumer series)` tracked now.
    pub fn series_counts(&self) -> (usize, usize, usize) {
        (
            self.streams.read().len(),
            self.counts.shard_series.load(Relaxed),
            self.counts.consumer_series.load(Relaxed),
        )
    }

    /// Samples dropped because a cap was reached.
    pub fn dropped_samples(&self) -> u64 {
        self.counts.dropped_samples.load(Relaxed)
    }

    /// Heap bytes held by all histories.
    pub fn heap_bytes(&self) -> usize {
        self.streams()
            .iter()
            .map(|s| {
                s.stream.lock().heap_bytes()
                    + s.shards
                        .lock()
                        .values()
                        .map(Series::heap_bytes)
                        .sum::<usize>()
                    + s.consumers
                        .lock()
                        .values()
                        .map(Series::heap_bytes)
                        .sum::<usize>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Metric::*;

    fn small() -> Limits {
        Limits {
            max_streams: 2,
            max_shard_series: 2,
            max_consumer_series: 1,
            history: HistoryConfig {
                second_slots: 10,
                minute_slots: 10,
            },
        }
    }

    #[test]
    fn caps_streams_and_counts_what_it_drops() {
        let r = Registry::new(small());
        assert!(r.stream("a", 1).is_some());
        assert!(r.stream("b", 1).is_some());
        assert!(r.stream("c", 1).is_none());
        assert_eq!(r.dropped_samples(), 1);
        // The same stream again is the same series.
        assert!(Arc::ptr_eq(
            &r.stream("a", 1).unwrap(),
            &r.stream("a", 1).unwrap()
        ));
        r.retain_streams(|name, _| name != "a");
        assert_eq!(r.series_counts().0, 1);
        assert!(r.stream("c", 1).is_some());
    }

    #[test]
    fn a_new_incarnation_starts_empty() {
        let r = Registry::new(small());
        let a = r.stream("a", 1).unwrap();
        a.record(1_000, &[(IncomingRecords, 5.0)]);
        let a2 = r.stream("a", 2).unwrap();
        assert!(a2.stream.lock().get(IncomingRecords).is_none());
        assert_eq!(r.get("a").unwrap().uid, 2);
    }

    #[test]
    fn shard_series_only_for_enabled_metrics_and_capped() {
        let r = Registry::new(small());
        let a = r.stream("a", 1).unwrap();
        a.record_shard(0, 1_000, &[(IncomingBytes, 10.0)]);
        assert!(a.shards.lock().is_empty(), "enhanced monitoring is off");
        a.set_shard_metrics(ShardMetrics::from_names(["IncomingBytes"]), 1_000);
        assert_eq!(a.shard_metrics_checked_ms(), 1_000);
        a.record_shard(0, 1_000, &[(IncomingBytes, 10.0), (IncomingRecords, 1.0)]);
        a.record_shard(1, 1_000, &[(IncomingBytes, 10.0)]);
        a.record_shard(2, 1_000, &[(IncomingBytes, 10.0)]);
        {
            let shards = a.shards.lock();
            assert_eq!(shards.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
            assert!(shards[&0].get(IncomingBytes).is_some());
            assert!(shards[&0].get(IncomingRecords).is_none());
        }
        assert_eq!(r.series_counts(), (1, 2, 0));
        // Deleting the stream frees its shard series for others.
        r.retain_streams(|_, _| false);
        assert_eq!(r.series_counts(), (0, 0, 0));
    }

    #[test]
    fn consumer_series_are_capped_and_forgettable() {
        let r = Registry::new(small());
        let a = r.stream("a", 1).unwrap();
        a.record_consumer("c1", 0, &[(SubscribeToShardEventRecords, 3.0)]);
        a.record_consumer("c2", 0, &[(SubscribeToShardEventRecords, 3.0)]);
        assert_eq!(r.series_counts().2, 1);
        a.forget_consumer("c1");
        a.record_consumer("c2", 0, &[(SubscribeToShardEventRecords, 3.0)]);
        assert_eq!(a.consumers.lock().keys().collect::<Vec<_>>(), vec!["c2"]);
        assert!(r.heap_bytes() > 0);
    }
}
