//! One module per CloudWatch operation, each `read input → validate → query → Doc`.

pub mod get_metric_data;
pub mod get_metric_statistics;
pub mod list_metrics;

use super::wire::{Doc, Input};
use super::{Ctx, CwError};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::Metrics;
    use serde_json::json;
    use weir_metrics::{Metric, Registry};

    const T0: i64 = 1_767_225_600_000;

    fn metrics() -> Metrics {
        let m = Metrics::new(Registry::default());
        let s = m.registry.stream("orders", 1).unwrap();
        s.record(T0 + 1_000, &[(Metric::IncomingRecords, 500.0)]);
        s.record(T0 + 2_000, &[(Metric::IncomingRecords, 100.0)]);
        s.record(T0 + 61_000, &[(Metric::IncomingRecords, 7.0)]);
        m
    }

    fn call(m: &Metrics, op: &str, input: serde_json::Value) -> Result<Doc, CwError> {
        let ctx = Ctx {
            metrics: m,
            now_ms: T0 + 120_000,
        };
        dispatch(&ctx, op, &Input::root(&input))
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
        let doc = call(
            &m,
            "GetMetricData",
            json!({"StartTime": T0 / 1000, "EndTime": T0 / 1000 + 300,
                   "MetricDataQueries": [{"Id": "m1", "MetricStat": {
                       "Metric": {"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords",
                                  "Dimensions": stream_dims()},
                       "Period": 60, "Stat": "Maximum"}}]}),
        )
        .unwrap();
        let Doc::Struct(top) = doc else { panic!() };
        let Doc::List(results) = &top[0].1 else {
            panic!()
        };
        let Doc::Struct(r) = &results[0] else {
            panic!()
        };
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
    fn list_metrics_filters_and_pages() {
        let m = metrics();
        let doc = call(&m, "ListMetrics", json!({"MetricName": "IncomingRecords"})).unwrap();
        let Doc::Struct(top) = doc else { panic!() };
        assert!(matches!(&top[0].1, Doc::List(l) if l.len() == 1));
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
