//! The metrics a delivery stream records, and where they go.

/// The Firehose metrics the pipeline and the put path record (CloudWatch namespace
/// `AWS/Firehose`, dimension `DeliveryStreamName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FirehoseMetric {
    IncomingRecords,
    IncomingBytes,
    DeliveryToS3Records,
    DeliveryToS3Bytes,
    DeliveryToS3Success,
    DeliveryToS3DataFreshness,
}

impl FirehoseMetric {
    pub const ALL: [FirehoseMetric; 6] = [
        FirehoseMetric::IncomingRecords,
        FirehoseMetric::IncomingBytes,
        FirehoseMetric::DeliveryToS3Records,
        FirehoseMetric::DeliveryToS3Bytes,
        FirehoseMetric::DeliveryToS3Success,
        FirehoseMetric::DeliveryToS3DataFreshness,
    ];
    pub fn cloudwatch_name(self) -> &'static str {
        match self {
            FirehoseMetric::IncomingRecords => "IncomingRecords",
            FirehoseMetric::IncomingBytes => "IncomingBytes",
            FirehoseMetric::DeliveryToS3Records => "DeliveryToS3.Records",
            FirehoseMetric::DeliveryToS3Bytes => "DeliveryToS3.Bytes",
            FirehoseMetric::DeliveryToS3Success => "DeliveryToS3.Success",
            FirehoseMetric::DeliveryToS3DataFreshness => "DeliveryToS3.DataFreshness",
        }
    }
    pub fn unit(self) -> &'static str {
        match self {
            FirehoseMetric::IncomingBytes | FirehoseMetric::DeliveryToS3Bytes => "Bytes",
            FirehoseMetric::DeliveryToS3DataFreshness => "Seconds",
            _ => "Count",
        }
    }
}

/// Where metric samples go (the server's CloudWatch store; nothing in unit tests).
pub trait Recorder: Send + Sync + 'static {
    fn record(&self, delivery_stream: &str, now_millis: i64, samples: &[(FirehoseMetric, f64)]);
}

pub struct NoMetrics;
impl Recorder for NoMetrics {
    fn record(&self, _: &str, _: i64, _: &[(FirehoseMetric, f64)]) {}
}
