//! The metrics a delivery stream records, and where they go.
//!
//! The names are [`weir_metrics`]' `AWS/Firehose` table; the server records them into a
//! [`weir_metrics::Table`], which CloudWatch and `/metrics` read.

pub use weir_metrics::FirehoseMetric;

/// Where metric samples go (the server's metrics table; nothing in unit tests).
pub trait Recorder: Send + Sync + 'static {
    fn record(&self, delivery_stream: &str, now_millis: i64, samples: &[(FirehoseMetric, f64)]);
}

pub struct NoMetrics;
impl Recorder for NoMetrics {
    fn record(&self, _: &str, _: i64, _: &[(FirehoseMetric, f64)]) {}
}

impl Recorder for weir_metrics::Table<FirehoseMetric> {
    fn record(&self, delivery_stream: &str, now_millis: i64, samples: &[(FirehoseMetric, f64)]) {
        weir_metrics::Table::record(self, Some(delivery_stream), now_millis, samples);
    }
}
