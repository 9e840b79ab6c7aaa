//! The Firehose metrics CloudWatch serves: namespace `AWS/Firehose`, dimension
//! `DeliveryStreamName`. The pipelines and the put path record into this store through
//! [`weir_delivery::Recorder`]; GetMetricStatistics reads it back per Period, from 1-second
//! history (three minutes) or 1-minute history (three hours), like the Kinesis registry.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use weir_delivery::FirehoseMetric;
use weir_metrics::ring::Ring;
use weir_metrics::Stat;

pub const NAMESPACE: &str = "AWS/Firehose";
pub const DIMENSION: &str = "DeliveryStreamName";
/// Delivery streams tracked at most (memory stays bounded: about 4 KiB per metric).
const MAX_STREAMS: usize = 10_000;

struct History {
    seconds: Ring,
    minutes: Ring,
}

#[derive(Default)]
pub struct FirehoseMetrics {
    series: Mutex<HashMap<(String, FirehoseMetric), History>>,
}

impl std::fmt::Debug for FirehoseMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FirehoseMetrics")
    }
}

pub fn metric_of(name: &str) -> Option<FirehoseMetric> {
    FirehoseMetric::ALL
        .into_iter()
        .find(|m| m.cloudwatch_name() == name)
}

impl weir_delivery::Recorder for FirehoseMetrics {
    fn record(&self, stream: &str, now_millis: i64, samples: &[(FirehoseMetric, f64)]) {
        let mut series = self.series.lock();
        for (m, v) in samples {
            let key = (stream.to_string(), *m);
            if !series.contains_key(&key) && series.len() >= MAX_STREAMS * 6 {
                continue;
            }
            let h = series.entry(key).or_insert_with(|| History {
                seconds: Ring::new(1000, 180, false),
                minutes: Ring::new(60_000, 180, false),
            });
            h.seconds.add(now_millis, *v);
            h.minutes.add(now_millis, *v);
        }
    }
}

impl FirehoseMetrics {
    /// (period start in ms, statistics) for every period with samples in `[start, end)`.
    pub fn statistics(
        &self,
        metric: FirehoseMetric,
        stream: &str,
        start_ms: i64,
        end_ms: i64,
        period_s: u32,
        now_ms: i64,
    ) -> Vec<(i64, Stat)> {
        let series = self.series.lock();
        let Some(h) = series.get(&(stream.to_string(), metric)) else {
            return Vec::new();
        };
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
        let mut out: BTreeMap<i64, Stat> = BTreeMap::new();
        for (t, stat, _) in ring.slots_in(now_ms, origin, end_ms) {
            let at = origin + (t - origin).div_euclid(period_ms) * period_ms;
            out.entry(at).or_insert(Stat::EMPTY).merge(stat);
        }
        out.into_iter().collect()
    }

    /// Forgets delivery streams that no longer exist.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.series.lock().retain(|(s, _), _| keep(s));
    }
}
