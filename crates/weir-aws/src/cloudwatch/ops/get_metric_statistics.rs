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
    let dims = shapes::exact_dimensions(i, "Dimensions")?;
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

    let (unit, points) = match super::read_series(
        ctx,
        namespace,
        metric_name,
        &dims,
        unit,
        (start, end, period),
    ) {
        Some(a) => (a.unit.as_str(), a.datapoints),
        None => ("", Vec::new()),
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
        .map(|p| {
            let mut fields = vec![("Timestamp", Doc::Time(p.timestamp_ms))];
            for (name, s) in &order {
                if stats.contains(s) {
                    fields.push((*name, Doc::Num(s.of(p).unwrap_or(0.0))));
                }
            }
            fields.push(("Unit", Doc::Str(unit.into())));
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
