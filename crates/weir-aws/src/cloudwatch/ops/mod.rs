//! One module per CloudWatch operation, each `read input → validate → query → Doc`.

pub mod get_metric_data;
pub mod get_metric_statistics;
pub mod list_metrics;

use super::wire::{Doc, Input};
use super::{Ctx, CwError};
use weir_metrics::{Answer, SeriesQuery};

const OPERATIONS: [&str; 3] = ["GetMetricData", "GetMetricStatistics", "ListMetrics"];

pub fn is_operation(op: &str) -> bool {
    OPERATIONS.contains(&op)
}

pub fn dispatch(ctx: &Ctx<'_>, op: &str, input: &Input<'_>) -> Result<Doc, CwError> {
    match op {
        "GetMetricStatistics" => get_metric_statistics::handle(ctx, input),
        "GetMetricData" => get_metric_data::handle(ctx, input),
        "ListMetrics" => list_metrics::handle(ctx, input),
        _ => Err(CwError::validation(format!("Unknown operation {op}."))),
    }
}

/// The datapoints of `metric_name` under exactly `dimensions` in `namespace`, with the metric's
/// unit: `None` when weir publishes no such series, or when `unit` asks for another unit than
/// the metric's — CloudWatch answers both with no datapoints, not an error.
fn read_series(
    ctx: &Ctx<'_>,
    namespace: &str,
    metric_name: &str,
    dimensions: &[(&str, &str)],
    unit: Option<&str>,
    (start_ms, end_ms, period_s): (i64, i64, u32),
) -> Option<Answer> {
    let answer = ctx.namespace(namespace)?.datapoints(&SeriesQuery {
        metric_name,
        dimensions,
        start_ms,
        end_ms,
        period_s,
        now_ms: ctx.now_ms,
    })?;
    unit.is_none_or(|u| u == answer.unit.as_str())
        .then_some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use weir_metrics::{FirehoseMetric, LambdaMetric, Metric, Registry, Table};

    const T0: i64 = 1_767_225_600_000;

    /// One source per namespace, as the server has them.
    #[derive(Default)]
    struct Metrics {
        kinesis: Registry,
        firehose: Table<FirehoseMetric>,
        lambda: Table<LambdaMetric>,
    }

    fn metrics() -> Metrics {
        let m = Metrics::default();
        let s = m.kinesis.stream("orders", 1).unwrap();
        s.record(T0 + 1_000, &[(Metric::IncomingRecords, 500.0)]);
        s.record(T0 + 2_000, &[(Metric::IncomingRecords, 100.0)]);
        s.record(T0 + 61_000, &[(Metric::IncomingRecords, 7.0)]);
        m.firehose.record(
            Some("orders"),
            T0 + 1_000,
            &[(FirehoseMetric::IncomingRecords, 3.0)],
        );
        for (key, errors) in [(Some("f"), 1.0), (None, 1.0)] {
            m.lambda.record(
                key,
                T0 + 1_000,
                &[
                    (LambdaMetric::Invocations, 1.0),
                    (LambdaMetric::Errors, errors),
                ],
            );
        }
        m
    }

    fn call(m: &Metrics, op: &str, input: serde_json::Value) -> Result<Doc, CwError> {
        let ctx = Ctx {
            namespaces: vec![&m.firehose, &m.kinesis, &m.lambda],
            now_ms: T0 + 120_000,
        };
        dispatch(&ctx, op, &Input::root(&input))
    }

    /// `MetricDataResults[0]` of a GetMetricData of one query, as its members.
    fn first_result(
        m: &Metrics,
        metric: serde_json::Value,
        stat: &str,
    ) -> Vec<(&'static str, Doc)> {
        let doc = call(
            m,
            "GetMetricData",
            json!({"StartTime": T0 / 1000, "EndTime": T0 / 1000 + 300,
                   "MetricDataQueries": [{"Id": "m1", "MetricStat": {
                       "Metric": metric, "Period": 60, "Stat": stat}}]}),
        )
        .unwrap();
        let Doc::Struct(mut top) = doc else { panic!() };
        let Doc::List(mut results) = top.swap_remove(0).1 else {
            panic!()
        };
        let Doc::Struct(r) = results.swap_remove(0) else {
            panic!()
        };
        r
    }

    /// Its `Values`.
    fn values(m: &Metrics, metric: serde_json::Value, stat: &str) -> Doc {
        first_result(m, metric, stat).swap_remove(3).1
    }

    /// `(Namespace, MetricName, dimension count)` of every metric a ListMetrics returns.
    fn listed(m: &Metrics, input: serde_json::Value) -> Vec<(String, String, usize)> {
        let Doc::Struct(top) = call(m, "ListMetrics", input).unwrap() else {
            panic!()
        };
        let Doc::List(metrics) = &top[0].1 else {
            panic!()
        };
        metrics
            .iter()
            .map(|d| match d {
                Doc::Struct(f) => match (&f[0].1, &f[1].1, &f[2].1) {
                    (Doc::Str(ns), Doc::Str(name), Doc::List(dims)) => {
                        (ns.clone(), name.clone(), dims.len())
                    }
                    _ => panic!(),
                },
                _ => panic!(),
            })
            .collect()
    }

    fn stream_dims() -> serde_json::Value {
        json!([{"Name": "StreamName", "Value": "orders"}])
    }

    #[test]
    fn get_metric_statistics_answers_per_period_in_model_order() {
        let m = metrics();
        let doc = call(
            &m,
            "GetMetricStatistics",
            json!({"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords",
                   "Dimensions": stream_dims(), "StartTime": T0 / 1000,
                   "EndTime": T0 / 1000 + 300, "Period": 60,
                   "Statistics": ["Sum", "SampleCount"]}),
        )
        .unwrap();
        let point = |t: i64, n: f64, sum: f64| {
            Doc::Struct(vec![
                ("Timestamp", Doc::Time(t)),
                ("SampleCount", Doc::Num(n)),
                ("Sum", Doc::Num(sum)),
                ("Unit", Doc::Str("Count".into())),
            ])
        };
        assert_eq!(
            doc,
            Doc::Struct(vec![
                ("Label", Doc::Str("IncomingRecords".into())),
                (
                    "Datapoints",
                    Doc::List(vec![point(T0, 2.0, 600.0), point(T0 + 60_000, 1.0, 7.0)])
                ),
            ])
        );
        // Another unit, another stream: no datapoints, no error.
        for (unit, stream) in [("Bytes", "orders"), ("Count", "other")] {
            let doc = call(
                &m,
                "GetMetricStatistics",
                json!({"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords",
                       "Dimensions": [{"Name": "StreamName", "Value": stream}],
                       "StartTime": T0 / 1000, "EndTime": T0 / 1000 + 300, "Period": 60,
                       "Statistics": ["Sum"], "Unit": unit}),
            )
            .unwrap();
            assert!(matches!(&doc, Doc::Struct(f) if f[1].1 == Doc::List(vec![])));
        }
    }

    #[test]
    fn get_metric_data_scans_newest_first_by_default() {
        let m = metrics();
        let r = first_result(
            &m,
            json!({"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords",
                   "Dimensions": stream_dims()}),
            "Maximum",
        );
        assert_eq!(
            r[2].1,
            Doc::List(vec![Doc::Time(T0 + 60_000), Doc::Time(T0)])
        );
        assert_eq!(r[3].1, Doc::List(vec![Doc::Num(7.0), Doc::Num(500.0)]));
        let dup = call(
            &m,
            "GetMetricData",
            json!({"StartTime": 0, "EndTime": 1,
                   "MetricDataQueries": [{"Id": "a", "Expression": "1"}, {"Id": "a"}]}),
        );
        assert_eq!(dup.unwrap_err().code, "ValidationError");
    }

    #[test]
    fn every_namespace_is_read_the_same_way() {
        let m = metrics();
        let firehose = json!({"Namespace": "AWS/Firehose", "MetricName": "IncomingRecords",
                              "Dimensions": [{"Name": "DeliveryStreamName", "Value": "orders"}]});
        assert_eq!(values(&m, firehose, "Sum"), Doc::List(vec![Doc::Num(3.0)]));
        let lambda = json!({"Namespace": "AWS/Lambda", "MetricName": "Errors",
                            "Dimensions": [{"Name": "FunctionName", "Value": "f"}]});
        assert_eq!(values(&m, lambda, "Sum"), Doc::List(vec![Doc::Num(1.0)]));
        let account = json!({"Namespace": "AWS/Lambda", "MetricName": "Invocations"});
        assert_eq!(
            values(&m, account, "SampleCount"),
            Doc::List(vec![Doc::Num(1.0)])
        );
        // A namespace's dimension in another namespace names nothing.
        let wrong = json!({"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                           "Dimensions": [{"Name": "StreamName", "Value": "orders"}]});
        assert_eq!(values(&m, wrong, "Sum"), Doc::List(vec![]));
        let s = |ns: &str, name: &str, n| (ns.to_string(), name.to_string(), n);
        assert_eq!(
            listed(&m, json!({"MetricName": "IncomingRecords"})),
            vec![
                s("AWS/Firehose", "IncomingRecords", 1),
                s("AWS/Kinesis", "IncomingRecords", 1)
            ]
        );
        assert_eq!(
            listed(&m, json!({"Namespace": "AWS/Lambda"})),
            vec![
                s("AWS/Lambda", "Invocations", 0),
                s("AWS/Lambda", "Errors", 0),
                s("AWS/Lambda", "Invocations", 1),
                s("AWS/Lambda", "Errors", 1)
            ]
        );
        assert_eq!(
            listed(
                &m,
                json!({"Dimensions": [{"Name": "FunctionName", "Value": "f"}]})
            )
            .len(),
            2
        );
    }

    #[test]
    fn list_metrics_filters_and_pages() {
        let m = metrics();
        assert_eq!(
            listed(
                &m,
                json!({"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords"})
            )
            .len(),
            1
        );
        let none = call(
            &m,
            "ListMetrics",
            json!({"Dimensions": [{"Name": "ShardId"}]}),
        )
        .unwrap();
        assert!(matches!(&none, Doc::Struct(f) if f[0].1 == Doc::List(vec![])));
        let bad = call(&m, "ListMetrics", json!({"NextToken": "x"}));
        assert_eq!(bad.unwrap_err().code, "InvalidNextToken");
    }
}
