//! One series: everything recorded under one dimension set (a stream, a shard of a stream, a
//! consumer of a stream, a delivery stream, a function), per metric — running totals for Prometheus and two rings of history
//! (1-second and 1-minute intervals) for the CloudWatch API.

use crate::names::{Kind, Metric, MetricName};
use crate::ring::Ring;
use crate::stat::{Histogram, Stat};

/// How much history each metric of each series keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryConfig {
    /// 1-second intervals kept (Period < 60 queries).
    pub second_slots: usize,
    /// 1-minute intervals kept (Period = n × 60 queries).
    pub minute_slots: usize,
}

impl Default for HistoryConfig {
    /// Three minutes at 1-second resolution, three hours at 1-minute resolution: about 14 KiB
    /// per metric of a series.
    fn default() -> Self {
        Self {
            second_slots: 180,
            minute_slots: 180,
        }
    }
}

/// One metric of one series.
#[derive(Debug, Clone)]
pub struct MetricHistory {
    /// Every sample since the series started.
    pub total: Stat,
    /// Every sample since the series started, bucketed (latency metrics only).
    pub total_histogram: Histogram,
    /// The latest sample (what a gauge shows).
    pub last: f64,
    pub seconds: Ring,
    pub minutes: Ring,
}

impl MetricHistory {
    fn new(kind: Kind, cfg: &HistoryConfig) -> Self {
        let hist = kind == Kind::Latency;
        Self {
            total: Stat::EMPTY,
            total_histogram: Histogram::default(),
            last: 0.0,
            seconds: Ring::new(1000, cfg.second_slots, false),
            minutes: Ring::new(60_000, cfg.minute_slots, hist),
        }
    }

    fn add(&mut self, kind: Kind, at_ms: i64, v: f64) {
        self.total.add(v);
        if kind == Kind::Latency {
            self.total_histogram.add(v);
        }
        self.last = v;
        self.seconds.add(at_ms, v);
        self.minutes.add(at_ms, v);
    }

    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.seconds.heap_bytes() + self.minutes.heap_bytes()
    }

    /// Whether any sample is still in the retained history (what ListMetrics lists).
    pub fn has_data(&self, now_ms: i64) -> bool {
        self.minutes.has_data(now_ms) || self.seconds.has_data(now_ms)
    }
}

/// All metrics of one dimension set of namespace `M`; a metric's history is allocated on its
/// first sample.
#[derive(Debug)]
pub struct Series<M: MetricName = Metric> {
    metrics: Box<[Option<Box<MetricHistory>>]>,
    namespace: std::marker::PhantomData<M>,
}

impl<M: MetricName> Default for Series<M> {
    fn default() -> Self {
        Self {
            metrics: M::ALL.iter().map(|_| None).collect(),
            namespace: std::marker::PhantomData,
        }
    }
}

impl<M: MetricName> Series<M> {
    pub fn record(&mut self, cfg: &HistoryConfig, metric: M, at_ms: i64, v: f64) {
        self.metrics[metric.index()]
            .get_or_insert_with(|| Box::new(MetricHistory::new(metric.kind(), cfg)))
            .add(metric.kind(), at_ms, v);
    }

    pub fn get(&self, metric: M) -> Option<&MetricHistory> {
        self.metrics[metric.index()].as_deref()
    }

    /// The metrics that have samples, with their histories.
    pub fn iter(&self) -> impl Iterator<Item = (M, &MetricHistory)> {
        M::ALL
            .iter()
            .zip(self.metrics.iter())
            .filter_map(|(m, h)| h.as_deref().map(|h| (*m, h)))
    }

    pub fn heap_bytes(&self) -> usize {
        self.iter().map(|(_, h)| h.heap_bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_per_metric_on_first_sample() {
        let cfg = HistoryConfig::default();
        let mut s = Series::default();
        assert_eq!(s.heap_bytes(), 0);
        s.record(&cfg, Metric::IncomingRecords, 1_000, 10.0);
        s.record(&cfg, Metric::IncomingRecords, 2_000, 5.0);
        s.record(&cfg, Metric::PutRecordsLatency, 2_000, 0.7);
        let h = s.get(Metric::IncomingRecords).unwrap();
        assert_eq!((h.total.count, h.total.sum, h.last), (2, 15.0, 5.0));
        assert!(s.get(Metric::GetRecordsBytes).is_none());
        let lat = s.get(Metric::PutRecordsLatency).unwrap();
        assert_eq!(lat.total_histogram.0.iter().sum::<u32>(), 1);
        assert_eq!(
            s.iter().map(|(m, _)| m).collect::<Vec<_>>(),
            vec![Metric::IncomingRecords, Metric::PutRecordsLatency]
        );
        // About 14 KiB per counter, a little more for latencies (minute histograms).
        let bytes = s.heap_bytes();
        assert!((20_000..60_000).contains(&bytes), "{bytes}");
    }
}
