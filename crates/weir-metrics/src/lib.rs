//! weir's metrics: what the server measures, kept where both `/metrics` and the CloudWatch API
//! read it.
//!
//! The design choice is a small registry of its own rather than the `metrics`/`prometheus`
//! crates: CloudWatch's API needs *history* (SampleCount, Sum, Minimum, Maximum per period, for
//! hours), which those crates do not keep, and the series have a fixed, typed shape. So:
//!
//! - [`names`] is the one table of metric names — CloudWatch name, unit, dimension sets,
//!   Prometheus name — and recording sites pass a [`Metric`], never a string.
//! - A [`Registry`] holds one [`registry::StreamSeries`] per stream incarnation, with a series
//!   for the stream and, when the stream has enhanced monitoring on, per shard; enhanced fan-out
//!   consumers get their own. Caps ([`Limits`]) bound how many are tracked, so label
//!   cardinality and memory stay bounded; deleted streams are dropped
//!   ([`Registry::retain_streams`]).
//! - Each metric of a series keeps running totals and two [`ring::Ring`]s: 1-second intervals
//!   for a few minutes, 1-minute intervals for a few hours (with latency histograms, for
//!   percentiles). Memory is fixed per metric and allocated on its first sample.
//! - The namespaces keyed by one dimension (`AWS/Firehose` by delivery stream, `AWS/Lambda` by
//!   function, plus its account-wide aggregate) keep the same histories in a [`Table`].
//! - [`query`] reads the rings back as CloudWatch datapoints; [`Namespace`] is the one shape in
//!   which the CloudWatch operations see the registry and every table; [`prometheus`] renders
//!   totals and [`process`] metrics as Prometheus text.
//!
//! Time is passed in by the caller (epoch milliseconds), so tests drive it and the server uses
//! the same clock as its streams.

pub mod names;
pub mod namespace;
pub mod process;
pub mod prometheus;
pub mod query;
pub mod registry;
pub mod ring;
pub mod series;
pub mod stat;
pub mod table;

pub use names::{
    FirehoseMetric, KeyedMetric, Kind, LambdaMetric, Level, Metric, MetricName, ShardMetrics, Unit,
    KINESIS_NAMESPACE,
};
pub use namespace::{Answer, ListedMetric, Namespace, SeriesQuery};
pub use query::{Datapoint, Listed, Scope};
pub use registry::{Limits, Registry, StreamSeries};
pub use stat::{Histogram, Stat};
pub use table::Table;
