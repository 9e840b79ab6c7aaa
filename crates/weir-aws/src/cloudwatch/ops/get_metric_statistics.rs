//! GetMetricStatistics: one metric of one dimension set, aggregated per Period.

use crate::cloudwatch::shapes::{self, Statistic, MAX_DATAPOINTS, STATISTICS};
use crate::cloudwatch::wire::{Doc, Input};
use crate::cloudwatch::{Ctx, CwError};

/// Percentiles per call, as AWS limits them.
const MAX_EXTENDED_STATISTICS: usize = 10;

pub fn handle(ctx: &Ctx<'_>, i: &Input<'_>) -> Result<Doc, CwError> {
    let namespace = i.required_str("Namespace")?;
    let metric_name = i.required_str("MetricName")?;
    let start = i.required_time("StartTime")?;
    let end = i.required_time("EndTime")?;
    let period = shapes::period(i.int("Period")?, "Period")?;
    let dims = shapes::dimensions(i, "Dimensions", true)?;
    let unit = i.str("Unit")?;
    let mut stats = Vec::new();
    for (n, s) in i.str_list("Statistics")?.into_iter().enumerate() {
        stats.push(Statistic::basic(s).ok_or_else(|| {
            CwError::invalid_value(format!(
                "The parameter Statistics.member.{} must be a value in the set [ {} ].",
                n + 1,
                STATISTICS.join(", ")
            ))
        })?);
    }
    let extended = i.str_list("ExtendedStatistics")?;
    if extended.len() > MAX_EXTENDED_STATISTICS {
        return Err(CwError::invalid_value(format!(
            "The collection ExtendedStatistics must not have a size greater than {MAX_EXTENDED_STATISTICS}."
        )));
    }
    let mut percentiles = Vec::new();
    for s in &extended {
        percentiles.push(Statistic::percentile(s).ok_or_else(|| {
            CwError::invalid_value(format!(
                "The value {s} for parameter ExtendedStatistics is not supported."
            ))
        })?);
    }
    if stats.is_empty() && percentiles.is_empty() {
        return Err(CwError::combination(
            "Must specify either Statistics or ExtendedStatistics.",
        ));
    }
    shapes::time_range(start, end)?;
    let period_ms = period as i64 * 1000;
    let requested = (end - start + period_ms - 1) / period_ms;
    if requested > MAX_DATAPOINTS {
        return Err(CwError::combination(format!(
            "You have requested up to {requested} datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        )));
    }

    if namespace == crate::firehose::metrics::NAMESPACE {
        return Ok(firehose_statistics(
            ctx,
            metric_name,
            &dims,
            unit,
            &stats,
            start,
            end,
            period,
        ));
    }
    let points = match shapes::series(namespace, metric_name, &dims) {
        Some((metric, _, _)) if unit.is_some_and(|u| u != metric.unit().as_str()) => Vec::new(),
        Some((metric, stream, scope)) => ctx
            .metrics
            .registry
            .statistics(metric, &stream, &scope, start, end, period, ctx.now_ms)
            .into_iter()
            .map(|p| (metric, p))
            .collect(),
        None => Vec::new(),
    };
    // Members in the model's order, whatever order the statistics were asked in.
    let order = [
        ("SampleCount", Statistic::SampleCount),
        ("Average", Statistic::Average),
        ("Sum", Statistic::Sum),
        ("Minimum", Statistic::Minimum),
        ("Maximum", Statistic::Maximum),
    ];
    let datapoints = points
        .iter()
        .map(|(metric, p)| {
            let mut fields = vec![("Timestamp", Doc::Time(p.timestamp_ms))];
            for (name, s) in &order {
                if stats.contains(s) {
                    fields.push((*name, Doc::Num(s.of(p).unwrap_or(0.0))));
                }
            }
            fields.push(("Unit", Doc::Str(metric.unit().as_str().into())));
            let ext: Vec<(String, Doc)> = percentiles
                .iter()
                .filter_map(|s| match s {
                    Statistic::Percentile { label, .. } => {
                        s.of(p).map(|v| (label.clone(), Doc::Num(v)))
                    }
                    _ => None,
                })
                .collect();
            if !ext.is_empty() {
                fields.push(("ExtendedStatistics", Doc::Map(ext)));
            }
            Doc::Struct(fields)
        })
        .collect();
    Ok(Doc::Struct(vec![
        ("Label", Doc::Str(metric_name.to_string())),
        ("Datapoints", Doc::List(datapoints)),
    ]))
}

/// `AWS/Firehose` datapoints, dimension `DeliveryStreamName`.
fn firehose_statistics(
    ctx: &Ctx<'_>,
    metric_name: &str,
    dims: &[(&str, Option<&str>)],
    unit: Option<&str>,
    stats: &[Statistic],
    start: i64,
    end: i64,
    period: u32,
) -> Doc {
    use crate::firehose::metrics::{metric_of, DIMENSION};
    let stream = match dims {
        [(DIMENSION, Some(s))] => Some(*s),
        _ => None,
    };
    let points = match (metric_of(metric_name), stream) {
        (Some(m), Some(s)) if unit.is_none_or(|u| u == m.unit()) => ctx
            .metrics
            .firehose
            .statistics(m, s, start, end, period, ctx.now_ms)
            .into_iter()
            .map(|p| (m, p))
            .collect(),
        _ => Vec::new(),
    };
    let order = [
        ("SampleCount", Statistic::SampleCount),
        ("Average", Statistic::Average),
        ("Sum", Statistic::Sum),
        ("Minimum", Statistic::Minimum),
        ("Maximum", Statistic::Maximum),
    ];
    let datapoints = points
        .iter()
        .map(|(m, (at, stat))| {
            let p = weir_metrics::Datapoint {
                timestamp_ms: *at,
                stat: *stat,
                histogram: None,
            };
            let mut fields = vec![("Timestamp", Doc::Time(*at))];
            for (name, s) in &order {
                if stats.contains(s) {
                    fields.push((*name, Doc::Num(s.of(&p).unwrap_or(0.0))));
                }
            }
            fields.push(("Unit", Doc::Str(m.unit().into())));
            Doc::Struct(fields)
        })
        .collect();
    Doc::Struct(vec![
        ("Label", Doc::Str(metric_name.to_string())),
        ("Datapoints", Doc::List(datapoints)),
    ])
}
