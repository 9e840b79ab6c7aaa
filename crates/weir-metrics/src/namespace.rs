//! [`Namespace`]: the one shape in which the CloudWatch API sees what weir publishes. Each
//! namespace answers the three questions the operations ask — the datapoints of one metric under
//! one exact dimension set, the metrics that have data, and its `/metrics` families — so
//! GetMetricStatistics, GetMetricData and ListMetrics treat `AWS/Kinesis`, `AWS/Firehose` and
//! `AWS/Lambda` alike, and a new namespace is one more implementation rather than a branch in
//! every operation.
//!
//! The Kinesis [`Registry`] resolves its three dimension sets (stream, shard, consumer); a
//! [`Table`] resolves its one dimension, or none for its aggregate.

use crate::names::{KeyedMetric, Metric, Unit, KINESIS_NAMESPACE};
use crate::query::{Datapoint, Scope};
use crate::registry::Registry;
use crate::table::Table;
use weir_core::ShardId;

/// One metric of one exact dimension set, over a time range, per period.
#[derive(Debug, Clone, Copy)]
pub struct SeriesQuery<'a> {
    pub metric_name: &'a str,
    /// `(Name, Value)`, in the order the caller gave them.
    pub dimensions: &'a [(&'a str, &'a str)],
    pub start_ms: i64,
    pub end_ms: i64,
    pub period_s: u32,
    pub now_ms: i64,
}

/// The datapoints of a series weir publishes, with the metric's unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub unit: Unit,
    pub datapoints: Vec<Datapoint>,
}

/// A metric with data, as ListMetrics lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMetric {
    pub metric_name: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
}

/// A CloudWatch namespace weir publishes.
pub trait Namespace: Send + Sync {
    /// `AWS/Kinesis`, `AWS/Firehose`, `AWS/Lambda`.
    fn name(&self) -> &'static str;

    /// The datapoints the query names; `None` when this namespace publishes no such metric
    /// under exactly those dimensions (CloudWatch then answers with no datapoints, not an
    /// error).
    fn datapoints(&self, q: &SeriesQuery<'_>) -> Option<Answer>;

    /// Every metric and dimension set with data in the retained history, in a stable order.
    fn metrics(&self, now_ms: i64) -> Vec<ListedMetric>;

    /// Appends this namespace's families to `/metrics` text.
    fn write_prometheus(&self, out: &mut String);
}

impl Namespace for Registry {
    fn name(&self) -> &'static str {
        KINESIS_NAMESPACE
    }

    fn datapoints(&self, q: &SeriesQuery<'_>) -> Option<Answer> {
        let (metric, stream, scope) = kinesis_series(q.metric_name, q.dimensions)?;
        Some(Answer {
            unit: metric.unit(),
            datapoints: self.statistics(
                metric, stream, &scope, q.start_ms, q.end_ms, q.period_s, q.now_ms,
            ),
        })
    }

    fn metrics(&self, now_ms: i64) -> Vec<ListedMetric> {
        self.list(now_ms)
            .into_iter()
            .map(|l| ListedMetric {
                metric_name: l.metric.cloudwatch_name(),
                dimensions: kinesis_dimensions(&l.stream, &l.scope),
            })
            .collect()
    }

    fn write_prometheus(&self, out: &mut String) {
        crate::prometheus::write_registry(out, self);
    }
}

impl<M: KeyedMetric> Namespace for Table<M> {
    fn name(&self) -> &'static str {
        M::NAMESPACE
    }

    fn datapoints(&self, q: &SeriesQuery<'_>) -> Option<Answer> {
        let metric = M::from_cloudwatch_name(q.metric_name)?;
        let key = match q.dimensions {
            [] => None,
            [(name, value)] if *name == M::DIMENSION => Some(*value),
            _ => return None,
        };
        Some(Answer {
            unit: metric.unit(),
            datapoints: self.statistics(metric, key, q.start_ms, q.end_ms, q.period_s, q.now_ms),
        })
    }

    fn metrics(&self, now_ms: i64) -> Vec<ListedMetric> {
        self.list(now_ms)
            .into_iter()
            .map(|(key, m)| ListedMetric {
                metric_name: m.cloudwatch_name(),
                dimensions: key.map(|k| vec![(M::DIMENSION, k)]).unwrap_or_default(),
            })
            .collect()
    }

    fn write_prometheus(&self, out: &mut String) {
        crate::prometheus::write_table(out, self);
    }
}

/// The Kinesis series a metric name and exact dimension set name.
fn kinesis_series<'a>(
    metric_name: &str,
    dims: &[(&str, &'a str)],
) -> Option<(Metric, &'a str, Scope)> {
    let metric = Metric::from_cloudwatch_name(metric_name)?;
    let get = |name: &str| dims.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let stream = get("StreamName")?;
    let scope = match dims.len() {
        1 => Scope::Stream,
        2 => {
            if let Some(shard) = get("ShardId") {
                Scope::Shard(ShardId::parse(shard)?.0)
            } else {
                Scope::Consumer(get("ConsumerName")?.to_string())
            }
        }
        _ => return None,
    };
    metric.at(scope.level()).then_some((metric, stream, scope))
}

/// The dimensions of a Kinesis series, as CloudWatch lists them.
fn kinesis_dimensions(stream: &str, scope: &Scope) -> Vec<(&'static str, String)> {
    let mut d = vec![("StreamName", stream.to_string())];
    match scope {
        Scope::Stream => {}
        Scope::Shard(i) => d.push(("ShardId", ShardId(*i).to_string())),
        Scope::Consumer(c) => d.push(("ConsumerName", c.clone())),
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{FirehoseMetric, LambdaMetric};
    use crate::registry::Limits;

    const T0: i64 = 1_767_225_600_000;

    fn query<'a>(metric_name: &'a str, dimensions: &'a [(&'a str, &'a str)]) -> SeriesQuery<'a> {
        SeriesQuery {
            metric_name,
            dimensions,
            start_ms: T0,
            end_ms: T0 + 300_000,
            period_s: 60,
            now_ms: T0 + 120_000,
        }
    }

    fn sums(ns: &dyn Namespace, metric: &str, dims: &[(&str, &str)]) -> Option<Vec<f64>> {
        ns.datapoints(&query(metric, dims))
            .map(|a| a.datapoints.iter().map(|p| p.stat.sum).collect())
    }

    /// The behaviour every namespace shares, written once and run against each.
    fn behaves_like_a_namespace(ns: &dyn Namespace, metric: &str, dims: &[(&str, &str)], sum: f64) {
        assert_eq!(sums(ns, metric, dims), Some(vec![sum]), "{}", ns.name());
        // An unknown metric, or dimensions the namespace does not publish it under, is no
        // series at all rather than an empty one.
        assert_eq!(sums(ns, "Nope", dims), None);
        let mut extra = dims.to_vec();
        extra.push(("Extra", "x"));
        assert_eq!(sums(ns, metric, &extra), None);
        // What has data is listed, with its dimensions.
        let listed = ns.metrics(T0 + 120_000);
        let want: Vec<_> = dims.iter().map(|(n, v)| (*n, v.to_string())).collect();
        assert!(
            listed
                .iter()
                .any(|l| l.metric_name == metric && l.dimensions == want),
            "{listed:?}"
        );
        let mut text = String::new();
        ns.write_prometheus(&mut text);
        assert!(
            text.contains(&format!("CloudWatch {} {metric},", ns.name())),
            "{text}"
        );
    }

    #[test]
    fn every_namespace_answers_the_same_way() {
        let kinesis = Registry::new(Limits::default());
        kinesis
            .stream("orders", 1)
            .unwrap()
            .record(T0, &[(Metric::IncomingRecords, 5.0)]);
        behaves_like_a_namespace(
            &kinesis,
            "IncomingRecords",
            &[("StreamName", "orders")],
            5.0,
        );

        let firehose = Table::<FirehoseMetric>::default();
        firehose.record(Some("ds"), T0, &[(FirehoseMetric::IncomingRecords, 7.0)]);
        behaves_like_a_namespace(
            &firehose,
            "IncomingRecords",
            &[("DeliveryStreamName", "ds")],
            7.0,
        );

        let lambda = Table::<LambdaMetric>::default();
        lambda.record(Some("f"), T0, &[(LambdaMetric::Invocations, 1.0)]);
        lambda.record(None, T0, &[(LambdaMetric::Invocations, 1.0)]);
        behaves_like_a_namespace(&lambda, "Invocations", &[("FunctionName", "f")], 1.0);
        behaves_like_a_namespace(&lambda, "Invocations", &[], 1.0);
        assert_eq!(
            sums(&lambda, "Invocations", &[("DeliveryStreamName", "f")]),
            None
        );
        let a = lambda.datapoints(&query("Duration", &[])).unwrap();
        assert_eq!((a.unit, a.datapoints.len()), (Unit::Milliseconds, 0));
    }

    #[test]
    fn kinesis_dimensions_pick_the_series() {
        let s = |m: &str, d: &[(&'static str, &'static str)]| kinesis_series(m, d);
        assert_eq!(
            s("IncomingRecords", &[("StreamName", "a")]),
            Some((Metric::IncomingRecords, "a", Scope::Stream))
        );
        assert_eq!(
            s(
                "IncomingRecords",
                &[("ShardId", "shardId-000000000002"), ("StreamName", "a")]
            ),
            Some((Metric::IncomingRecords, "a", Scope::Shard(2)))
        );
        assert_eq!(
            s(
                "SubscribeToShardEvent.Bytes",
                &[("StreamName", "a"), ("ConsumerName", "c")]
            ),
            Some((
                Metric::SubscribeToShardEventBytes,
                "a",
                Scope::Consumer("c".into())
            ))
        );
        // Not published at that level, unknown names, missing or extra dimensions.
        assert_eq!(
            s(
                "PutRecord.Latency",
                &[("StreamName", "a"), ("ShardId", "1")]
            ),
            None
        );
        assert_eq!(s("Nope", &[("StreamName", "a")]), None);
        assert_eq!(s("IncomingRecords", &[]), None);
        assert_eq!(
            s(
                "IncomingRecords",
                &[("StreamName", "a"), ("ShardId", "1"), ("X", "y")]
            ),
            None
        );
        assert_eq!(
            kinesis_dimensions("a", &Scope::Shard(2)),
            vec![
                ("StreamName", "a".into()),
                ("ShardId", "shardId-000000000002".into())
            ]
        );
    }
}
