//! `/metrics`: every namespace's series and the process in the Prometheus text exposition format
//! (0.0.4).
//!
//! Counters show the running sum of their samples, latencies a histogram in milliseconds,
//! gauges their latest sample. Labels are the CloudWatch dimensions in Prometheus spelling:
//! `stream_name`, `shard_id`, `consumer_name`, `delivery_stream_name`, `function_name`.

use crate::names::{KeyedMetric, Kind, MetricName};
use crate::namespace::Namespace;
use crate::process::ProcessStats;
use crate::registry::Registry;
use crate::series::{MetricHistory, Series};
use crate::stat::{Histogram, Stat, LATENCY_BOUNDS_MS};
use crate::table::Table;
use std::fmt::Write;

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

struct Row<M> {
    metric: M,
    labels: String,
    total: Stat,
    histogram: Histogram,
    last: f64,
}

fn label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(k);
        s.push_str("=\"");
        label_value(&mut s, v);
        s.push('"');
    }
    s
}

fn collect<M: MetricName>(rows: &mut Vec<Row<M>>, labels: &str, series: &Series<M>) {
    for (metric, h) in series.iter() {
        let MetricHistory {
            total,
            total_histogram,
            last,
            ..
        } = h;
        rows.push(Row {
            metric,
            labels: labels.to_string(),
            total: *total,
            histogram: *total_histogram,
            last: *last,
        });
    }
}

fn number(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v}");
    } else if v.is_nan() {
        out.push_str("NaN");
    } else if v > 0.0 {
        out.push_str("+Inf");
    } else {
        out.push_str("-Inf");
    }
}

/// The Kinesis families: every stream's series, its shards' and its consumers'.
pub(crate) fn write_registry(out: &mut String, registry: &Registry) {
    let mut rows = Vec::new();
    for s in registry.streams() {
        let stream = [("stream_name", s.name.as_str())];
        collect(&mut rows, &labels(&stream), &s.stream.lock());
        for (shard, series) in s.shards.lock().iter() {
            let id = weir_core::ShardId(*shard).to_string();
            let l = labels(&[stream[0], ("shard_id", &id)]);
            collect(&mut rows, &l, series);
        }
        for (consumer, series) in s.consumers.lock().iter() {
            let l = labels(&[stream[0], ("consumer_name", consumer)]);
            collect(&mut rows, &l, series);
        }
    }
    write_families(out, rows);
}

/// The families of a keyed namespace, one series per key.
pub(crate) fn write_table<M: KeyedMetric>(out: &mut String, table: &Table<M>) {
    let mut rows = Vec::new();
    table.for_each(|key, series| collect(&mut rows, &labels(&[(M::LABEL, key)]), series));
    write_families(out, rows);
}

/// One `# HELP`/`# TYPE` per metric, then its rows.
fn write_families<M: MetricName>(out: &mut String, mut rows: Vec<Row<M>>) {
    rows.sort_by_key(|r| r.metric);
    let mut current = None;
    for r in &rows {
        let name = r.metric.prometheus_name();
        if current != Some(r.metric) {
            current = Some(r.metric);
            let ty = match r.metric.kind() {
                Kind::Counter => "counter",
                Kind::Latency => "histogram",
                Kind::Gauge => "gauge",
            };
            let _ = writeln!(
                out,
                "# HELP {name} {} (CloudWatch {} {}, {}).",
                r.metric.help().trim_end_matches('.'),
                M::NAMESPACE,
                r.metric.cloudwatch_name(),
                r.metric.unit().as_str()
            );
            let _ = writeln!(out, "# TYPE {name} {ty}");
        }
        match r.metric.kind() {
            Kind::Counter => {
                let _ = write!(out, "{name}{{{}}} ", r.labels);
                number(out, r.total.sum);
                out.push('\n');
            }
            Kind::Gauge => {
                let _ = write!(out, "{name}{{{}}} ", r.labels);
                number(out, r.last);
                out.push('\n');
            }
            Kind::Latency => {
                let mut cumulative = 0u64;
                for (i, c) in r.histogram.0.iter().enumerate() {
                    cumulative += *c as u64;
                    let _ = write!(out, "{name}_bucket{{{},le=\"", r.labels);
                    match LATENCY_BOUNDS_MS.get(i) {
                        Some(b) => number(out, *b),
                        None => out.push_str("+Inf"),
                    }
                    let _ = writeln!(out, "\"}} {cumulative}");
                }
                let _ = write!(out, "{name}_sum{{{}}} ", r.labels);
                number(out, r.total.sum);
                let _ = writeln!(out, "\n{name}_count{{{}}} {}", r.labels, r.total.count);
            }
        }
    }
}

/// Renders every namespace's series, then the registry's own bookkeeping and `process`.
pub fn render(
    namespaces: &[&dyn Namespace],
    registry: &Registry,
    process: &ProcessStats,
) -> String {
    let mut out = String::with_capacity(4096);
    for ns in namespaces {
        ns.write_prometheus(&mut out);
    }
    let (streams, shards, consumers) = registry.series_counts();
    out.push_str("# HELP weir_metrics_series Series the metrics registry tracks, by level.\n");
    out.push_str("# TYPE weir_metrics_series gauge\n");
    let _ = writeln!(out, "weir_metrics_series{{level=\"stream\"}} {streams}");
    let _ = writeln!(out, "weir_metrics_series{{level=\"shard\"}} {shards}");
    let _ = writeln!(out, "weir_metrics_series{{level=\"consumer\"}} {consumers}");
    out.push_str("# HELP weir_metrics_dropped_samples_total Samples not recorded because a series cap was reached.\n");
    out.push_str("# TYPE weir_metrics_dropped_samples_total counter\n");
    let _ = writeln!(
        out,
        "weir_metrics_dropped_samples_total {}",
        registry.dropped_samples()
    );
    out.push_str("# HELP weir_metrics_history_bytes Heap bytes of the in-memory metric history.\n");
    out.push_str("# TYPE weir_metrics_history_bytes gauge\n");
    let _ = writeln!(out, "weir_metrics_history_bytes {}", registry.heap_bytes());
    render_process(&mut out, process);
    out
}

fn render_process(out: &mut String, p: &ProcessStats) {
    let mut gauge = |name: &str, ty: &str, help: &str, v: Option<f64>| {
        if let Some(v) = v {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {ty}");
            out.push_str(name);
            out.push(' ');
            number(out, v);
            out.push('\n');
        }
    };
    gauge(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        p.cpu_seconds,
    );
    gauge(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        p.resident_bytes.map(|v| v as f64),
    );
    gauge(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        p.virtual_bytes.map(|v| v as f64),
    );
    gauge(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        p.open_fds.map(|v| v as f64),
    );
    gauge(
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        p.max_fds.map(|v| v as f64),
    );
    gauge(
        "process_threads",
        "gauge",
        "Number of OS threads in the process.",
        p.threads.map(|v| v as f64),
    );
    gauge(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch in seconds.",
        Some(p.start_time_seconds),
    );
    gauge(
        "weir_uptime_seconds",
        "gauge",
        "Seconds since weir started.",
        Some(p.uptime_seconds),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Metric::*;
    use crate::names::ShardMetrics;
    use crate::registry::Limits;

    #[test]
    fn renders_counters_histograms_gauges_and_process() {
        let r = Registry::new(Limits::default());
        let s = r.stream("orders", 1).unwrap();
        s.set_shard_metrics(ShardMetrics::from_names(["IncomingRecords"]), 0);
        s.record(
            1_000,
            &[
                (IncomingRecords, 500.0),
                (PutRecordsLatency, 0.8),
                (GetRecordsIteratorAgeMilliseconds, 1500.0),
            ],
        );
        s.record(2_000, &[(IncomingRecords, 250.0), (PutRecordsLatency, 3.0)]);
        s.record_shard(1, 2_000, &[(IncomingRecords, 250.0)]);
        let text = render(
            &[&r],
            &r,
            &ProcessStats {
                resident_bytes: Some(4096),
                start_time_seconds: 1.0,
                uptime_seconds: 2.5,
                ..ProcessStats::default()
            },
        );
        for line in [
            "# TYPE weir_kinesis_incoming_records_total counter",
            "weir_kinesis_incoming_records_total{stream_name=\"orders\"} 750",
            "weir_kinesis_incoming_records_total{stream_name=\"orders\",shard_id=\"shardId-000000000001\"} 250",
            "# TYPE weir_kinesis_put_records_latency_milliseconds histogram",
            "weir_kinesis_put_records_latency_milliseconds_bucket{stream_name=\"orders\",le=\"1\"} 1",
            "weir_kinesis_put_records_latency_milliseconds_bucket{stream_name=\"orders\",le=\"5\"} 2",
            "weir_kinesis_put_records_latency_milliseconds_bucket{stream_name=\"orders\",le=\"+Inf\"} 2",
            "weir_kinesis_put_records_latency_milliseconds_sum{stream_name=\"orders\"} 3.8",
            "weir_kinesis_put_records_latency_milliseconds_count{stream_name=\"orders\"} 2",
            "weir_kinesis_get_records_iterator_age_milliseconds{stream_name=\"orders\"} 1500",
            "weir_metrics_series{level=\"shard\"} 1",
            "process_resident_memory_bytes 4096",
            "weir_uptime_seconds 2.5",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        // One HELP/TYPE per family, even with several series.
        assert_eq!(
            text.matches("# TYPE weir_kinesis_incoming_records_total")
                .count(),
            1
        );
        assert!(
            !text.contains("process_open_fds"),
            "unknown values are left out"
        );
    }

    #[test]
    fn renders_keyed_namespaces_under_their_labels() {
        use crate::names::{FirehoseMetric, LambdaMetric};
        let firehose = Table::<FirehoseMetric>::default();
        firehose.record(Some("ds"), 1_000, &[(FirehoseMetric::IncomingRecords, 7.0)]);
        let lambda = Table::<LambdaMetric>::default();
        lambda.record(
            Some("f"),
            1_000,
            &[
                (LambdaMetric::Invocations, 1.0),
                (LambdaMetric::Duration, 3.0),
            ],
        );
        lambda.record(None, 1_000, &[(LambdaMetric::Invocations, 1.0)]);
        let r = Registry::new(Limits::default());
        let text = render(&[&r, &firehose, &lambda], &r, &ProcessStats::default());
        for line in [
            "# HELP weir_firehose_incoming_records_total Records put with PutRecord and PutRecordBatch (CloudWatch AWS/Firehose IncomingRecords, Count).",
            "weir_firehose_incoming_records_total{delivery_stream_name=\"ds\"} 7",
            "weir_lambda_invocations_total{function_name=\"f\"} 1",
            "# TYPE weir_lambda_duration_milliseconds histogram",
            "weir_lambda_duration_milliseconds_count{function_name=\"f\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        // The aggregate is what a query sums; it is not a series of its own here.
        assert_eq!(text.matches("weir_lambda_invocations_total{").count(), 1);
    }

    #[test]
    fn escapes_label_values() {
        let mut s = String::new();
        label_value(&mut s, "a\"b\\c\nd");
        assert_eq!(s, "a\\\"b\\\\c\\nd");
    }
}
