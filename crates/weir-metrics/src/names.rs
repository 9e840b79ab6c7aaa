//! Every metric weir publishes, one table per CloudWatch namespace: its CloudWatch name and unit,
//! the dimension sets it is published under, how it is aggregated, and its Prometheus name. Code
//! records a typed metric, never a string, so a name cannot drift between `/metrics`, the
//! CloudWatch API and the recording sites.
//!
//! `AWS/Kinesis` ([`Metric`], below) has three dimension sets and its own registry;
//! `AWS/Firehose` ([`FirehoseMetric`]) and `AWS/Lambda` ([`LambdaMetric`]) are keyed by one
//! dimension each and kept in a [`crate::Table`]. What all three share is [`MetricName`].

use std::fmt;
use std::hash::Hash;

mod firehose;
mod lambda;

pub use firehose::FirehoseMetric;
pub use lambda::LambdaMetric;

/// CloudWatch namespace of the Kinesis Data Streams metrics.
pub const KINESIS_NAMESPACE: &str = "AWS/Kinesis";

/// A CloudWatch standard unit, as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Bytes => "Bytes",
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// How a metric's samples are exposed to Prometheus (CloudWatch keeps the same statistics —
/// SampleCount, Sum, Minimum, Maximum — for all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A count of something (bytes, records, operations): a Prometheus counter of the sum.
    Counter,
    /// A duration: a Prometheus histogram; the history keeps buckets for percentiles.
    Latency,
    /// A level (iterator age): a Prometheus gauge of the latest sample.
    Gauge,
}

/// A metric of some namespace, as the registry, the CloudWatch API and `/metrics` see it.
pub trait MetricName: Copy + Eq + Ord + Hash + fmt::Debug + Send + Sync + 'static {
    /// The CloudWatch namespace the metric is published in.
    const NAMESPACE: &'static str;
    /// Every metric of the namespace, in exposition order; [`MetricName::index`] is the
    /// position in it.
    const ALL: &'static [Self];
    fn index(self) -> usize;
    /// The name CloudWatch (and the AWS guides) use.
    fn cloudwatch_name(self) -> &'static str;
    fn unit(self) -> Unit;
    fn kind(self) -> Kind;
    /// The Prometheus metric family name.
    fn prometheus_name(self) -> &'static str;
    /// One line of `# HELP`.
    fn help(self) -> &'static str;

    /// Looks a metric up by its CloudWatch name.
    fn from_cloudwatch_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.cloudwatch_name() == name)
    }
}

/// A metric of a namespace whose series are keyed by one dimension (`DeliveryStreamName`,
/// `FunctionName`), plus, where the namespace has one, an aggregate without dimensions.
pub trait KeyedMetric: MetricName {
    /// The CloudWatch dimension name.
    const DIMENSION: &'static str;
    /// The same dimension as a Prometheus label.
    const LABEL: &'static str;
}

/// Defines the metric table of a namespace keyed by one dimension.
macro_rules! keyed_metrics {
    (
        $(#[$meta:meta])*
        $name:ident in $ns:literal, by $dim:literal as $label:literal {
            $( #[doc = $doc:literal] $variant:ident = $cw:literal, $unit:ident, $kind:ident, $prom:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name {
            $( #[doc = $doc] $variant, )*
        }

        impl $crate::names::MetricName for $name {
            const NAMESPACE: &'static str = $ns;
            const ALL: &'static [Self] = &[$($name::$variant),*];
            fn index(self) -> usize {
                self as usize
            }
            fn cloudwatch_name(self) -> &'static str {
                match self { $($name::$variant => $cw,)* }
            }
            fn unit(self) -> $crate::names::Unit {
                match self { $($name::$variant => $crate::names::Unit::$unit,)* }
            }
            fn kind(self) -> $crate::names::Kind {
                match self { $($name::$variant => $crate::names::Kind::$kind,)* }
            }
            fn prometheus_name(self) -> &'static str {
                match self { $($name::$variant => $prom,)* }
            }
            fn help(self) -> &'static str {
                match self { $($name::$variant => $doc.trim_ascii(),)* }
            }
        }

        impl $crate::names::KeyedMetric for $name {
            const DIMENSION: &'static str = $dim;
            const LABEL: &'static str = $label;
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::names::MetricName::cloudwatch_name(*self))
            }
        }
    };
}
pub(crate) use keyed_metrics;

/// The dimension sets a metric is published under, as CloudWatch names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// `StreamName`.
    Stream,
    /// `StreamName`, `ShardId` — only for the shard-level metrics the stream has enabled with
    /// EnableEnhancedMonitoring.
    Shard,
    /// `StreamName`, `ConsumerName` — enhanced fan-out consumers.
    Consumer,
}

const STREAM: u8 = 1;
const SHARD: u8 = 2;
const CONSUMER: u8 = 4;

impl Level {
    fn bit(self) -> u8 {
        match self {
            Level::Stream => STREAM,
            Level::Shard => SHARD,
            Level::Consumer => CONSUMER,
        }
    }
}

macro_rules! metrics {
    ($( #[doc = $doc:literal] $variant:ident = $cw:literal, $unit:ident, $kind:ident, $levels:expr, $prom:literal; )*) => {
        /// A Kinesis metric. Discriminants index per-series arrays.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Metric {
            $( #[doc = $doc] $variant, )*
        }

        impl Metric {
            /// Every metric, in exposition order.
            pub const ALL: &'static [Metric] = &[$(Metric::$variant),*];

            /// The name CloudWatch (and the AWS guides) use.
            pub fn cloudwatch_name(self) -> &'static str {
                match self { $(Metric::$variant => $cw,)* }
            }

            pub fn unit(self) -> Unit {
                match self { $(Metric::$variant => Unit::$unit,)* }
            }

            pub fn kind(self) -> Kind {
                match self { $(Metric::$variant => Kind::$kind,)* }
            }

            /// The Prometheus metric family name.
            pub fn prometheus_name(self) -> &'static str {
                match self { $(Metric::$variant => $prom,)* }
            }

            fn levels(self) -> u8 {
                match self { $(Metric::$variant => $levels,)* }
            }

            /// One line of `# HELP`, from the doc comment above.
            pub fn help(self) -> &'static str {
                match self { $(Metric::$variant => $doc.trim_ascii(),)* }
            }
        }
    };
}

metrics! {
    /// Bytes put successfully with PutRecord and PutRecords.
    IncomingBytes = "IncomingBytes", Bytes, Counter, STREAM | SHARD, "weir_kinesis_incoming_bytes_total";
    /// Records put successfully with PutRecord and PutRecords.
    IncomingRecords = "IncomingRecords", Count, Counter, STREAM | SHARD, "weir_kinesis_incoming_records_total";
    /// Bytes put with PutRecord.
    PutRecordBytes = "PutRecord.Bytes", Bytes, Counter, STREAM, "weir_kinesis_put_record_bytes_total";
    /// Time taken per PutRecord operation.
    PutRecordLatency = "PutRecord.Latency", Milliseconds, Latency, STREAM, "weir_kinesis_put_record_latency_milliseconds";
    /// Successful PutRecord operations (Average is the success rate).
    PutRecordSuccess = "PutRecord.Success", Count, Counter, STREAM, "weir_kinesis_put_record_success_total";
    /// Bytes put successfully with PutRecords.
    PutRecordsBytes = "PutRecords.Bytes", Bytes, Counter, STREAM, "weir_kinesis_put_records_bytes_total";
    /// Time taken per PutRecords operation.
    PutRecordsLatency = "PutRecords.Latency", Milliseconds, Latency, STREAM, "weir_kinesis_put_records_latency_milliseconds";
    /// PutRecords operations where at least one record succeeded.
    PutRecordsSuccess = "PutRecords.Success", Count, Counter, STREAM, "weir_kinesis_put_records_success_total";
    /// Records sent in PutRecords operations.
    PutRecordsTotalRecords = "PutRecords.TotalRecords", Count, Counter, STREAM, "weir_kinesis_put_records_total_records_total";
    /// Records that PutRecords stored.
    PutRecordsSuccessfulRecords = "PutRecords.SuccessfulRecords", Count, Counter, STREAM, "weir_kinesis_put_records_successful_records_total";
    /// Records PutRecords rejected for an internal failure.
    PutRecordsFailedRecords = "PutRecords.FailedRecords", Count, Counter, STREAM, "weir_kinesis_put_records_failed_records_total";
    /// Records PutRecords rejected for exceeding the shard's throughput.
    PutRecordsThrottledRecords = "PutRecords.ThrottledRecords", Count, Counter, STREAM, "weir_kinesis_put_records_throttled_records_total";
    /// Records rejected for exceeding a shard's write throughput (PutRecord and PutRecords).
    WriteProvisionedThroughputExceeded = "WriteProvisionedThroughputExceeded", Count, Counter, STREAM | SHARD, "weir_kinesis_write_provisioned_throughput_exceeded_total";
    /// Bytes returned by GetRecords.
    GetRecordsBytes = "GetRecords.Bytes", Bytes, Counter, STREAM, "weir_kinesis_get_records_bytes_total";
    /// Records returned by GetRecords.
    GetRecordsRecords = "GetRecords.Records", Count, Counter, STREAM, "weir_kinesis_get_records_records_total";
    /// Time taken per GetRecords operation.
    GetRecordsLatency = "GetRecords.Latency", Milliseconds, Latency, STREAM, "weir_kinesis_get_records_latency_milliseconds";
    /// Successful GetRecords operations (Average is the success rate).
    GetRecordsSuccess = "GetRecords.Success", Count, Counter, STREAM, "weir_kinesis_get_records_success_total";
    /// Age of the last record a GetRecords call returned; 0 when the reader is caught up.
    GetRecordsIteratorAgeMilliseconds = "GetRecords.IteratorAgeMilliseconds", Milliseconds, Gauge, STREAM, "weir_kinesis_get_records_iterator_age_milliseconds";
    /// GetRecords calls refused for exceeding a shard's read throughput.
    ReadProvisionedThroughputExceeded = "ReadProvisionedThroughputExceeded", Count, Counter, STREAM | SHARD, "weir_kinesis_read_provisioned_throughput_exceeded_total";
    /// Bytes read from the stream (GetRecords).
    OutgoingBytes = "OutgoingBytes", Bytes, Counter, STREAM | SHARD, "weir_kinesis_outgoing_bytes_total";
    /// Records read from the stream (GetRecords).
    OutgoingRecords = "OutgoingRecords", Count, Counter, STREAM | SHARD, "weir_kinesis_outgoing_records_total";
    /// Age of the last record read from a shard.
    IteratorAgeMilliseconds = "IteratorAgeMilliseconds", Milliseconds, Gauge, SHARD, "weir_kinesis_iterator_age_milliseconds";
    /// SubscribeToShard calls refused for exceeding the per-consumer rate.
    SubscribeToShardRateExceeded = "SubscribeToShard.RateExceeded", Count, Counter, CONSUMER, "weir_kinesis_subscribe_to_shard_rate_exceeded_total";
    /// Successful SubscribeToShard calls.
    SubscribeToShardSuccess = "SubscribeToShard.Success", Count, Counter, CONSUMER, "weir_kinesis_subscribe_to_shard_success_total";
    /// Bytes pushed to an enhanced fan-out consumer.
    SubscribeToShardEventBytes = "SubscribeToShardEvent.Bytes", Bytes, Counter, CONSUMER, "weir_kinesis_subscribe_to_shard_event_bytes_total";
    /// Records pushed to an enhanced fan-out consumer.
    SubscribeToShardEventRecords = "SubscribeToShardEvent.Records", Count, Counter, CONSUMER, "weir_kinesis_subscribe_to_shard_event_records_total";
    /// How far behind the tip an enhanced fan-out consumer's last event was.
    SubscribeToShardEventMillisBehindLatest = "SubscribeToShardEvent.MillisBehindLatest", Milliseconds, Gauge, CONSUMER, "weir_kinesis_subscribe_to_shard_event_millis_behind_latest";
    /// Events pushed successfully to an enhanced fan-out consumer.
    SubscribeToShardEventSuccess = "SubscribeToShardEvent.Success", Count, Counter, CONSUMER, "weir_kinesis_subscribe_to_shard_event_success_total";
}

impl Metric {
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether this metric is published under `level`'s dimension set.
    pub fn at(self, level: Level) -> bool {
        self.levels() & level.bit() != 0
    }

    /// Looks a metric up by its CloudWatch name.
    pub fn from_cloudwatch_name(name: &str) -> Option<Metric> {
        Metric::ALL
            .iter()
            .copied()
            .find(|m| m.cloudwatch_name() == name)
    }

    /// Shard-level metrics carry the names EnableEnhancedMonitoring takes; this is the bit of
    /// `name` in [`ShardMetrics`].
    fn shard_bit(self) -> Option<u16> {
        SHARD_LEVEL
            .iter()
            .position(|m| *m == self)
            .map(|i| 1u16 << i)
    }
}

/// The shard-level metrics, in the order (and with the names) of EnableEnhancedMonitoring.
pub const SHARD_LEVEL: [Metric; 7] = [
    Metric::IncomingBytes,
    Metric::IncomingRecords,
    Metric::OutgoingBytes,
    Metric::OutgoingRecords,
    Metric::WriteProvisionedThroughputExceeded,
    Metric::ReadProvisionedThroughputExceeded,
    Metric::IteratorAgeMilliseconds,
];

/// Which shard-level metrics a stream has enabled (EnableEnhancedMonitoring), as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShardMetrics(pub u16);

impl ShardMetrics {
    pub const NONE: ShardMetrics = ShardMetrics(0);

    /// From the metric names a stream's enhanced monitoring lists (unknown names are ignored).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut bits = 0;
        for n in names {
            if let Some(b) = Metric::from_cloudwatch_name(n).and_then(Metric::shard_bit) {
                bits |= b;
            }
        }
        ShardMetrics(bits)
    }

    pub fn contains(self, m: Metric) -> bool {
        m.shard_bit().is_some_and(|b| self.0 & b != 0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl MetricName for Metric {
    const NAMESPACE: &'static str = KINESIS_NAMESPACE;
    const ALL: &'static [Self] = Metric::ALL;
    fn index(self) -> usize {
        Metric::index(self)
    }
    fn cloudwatch_name(self) -> &'static str {
        Metric::cloudwatch_name(self)
    }
    fn unit(self) -> Unit {
        Metric::unit(self)
    }
    fn kind(self) -> Kind {
        Metric::kind(self)
    }
    fn prometheus_name(self) -> &'static str {
        Metric::prometheus_name(self)
    }
    fn help(self) -> &'static str {
        Metric::help(self)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cloudwatch_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_valid_prometheus_names() {
        let mut cw = HashSet::new();
        let mut prom = HashSet::new();
        for (i, m) in Metric::ALL.iter().enumerate() {
            assert_eq!(m.index(), i);
            assert!(cw.insert(m.cloudwatch_name()), "{m} twice");
            let p = m.prometheus_name();
            assert!(prom.insert(p), "{p} twice");
            assert!(p.starts_with("weir_kinesis_"));
            assert!(p
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            assert_eq!(p.ends_with("_total"), m.kind() == Kind::Counter, "{p}");
            assert!(!m.help().is_empty());
            assert!(
                m.at(Level::Stream) || m.at(Level::Shard) || m.at(Level::Consumer),
                "{m} has no level"
            );
        }
        assert_eq!(
            Metric::from_cloudwatch_name("GetRecords.IteratorAgeMilliseconds"),
            Some(Metric::GetRecordsIteratorAgeMilliseconds)
        );
        assert_eq!(Metric::from_cloudwatch_name("Nope"), None);
    }

    #[test]
    fn shard_level_names_match_enhanced_monitoring() {
        // The names EnableEnhancedMonitoring accepts (weir-streams' ALL_METRICS).
        let names = [
            "IncomingBytes",
            "IncomingRecords",
            "OutgoingBytes",
            "OutgoingRecords",
            "WriteProvisionedThroughputExceeded",
            "ReadProvisionedThroughputExceeded",
            "IteratorAgeMilliseconds",
        ];
        let all = ShardMetrics::from_names(names);
        for m in SHARD_LEVEL {
            assert!(m.at(Level::Shard), "{m}");
            assert!(all.contains(m));
        }
        let some = ShardMetrics::from_names(["IncomingBytes", "Bogus"]);
        assert!(some.contains(Metric::IncomingBytes));
        assert!(!some.contains(Metric::IncomingRecords));
        assert!(!some.contains(Metric::PutRecordLatency));
        assert!(ShardMetrics::NONE.is_empty());
    }
}
