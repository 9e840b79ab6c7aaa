//! GetMetricData: several metric queries in one call, each answered as parallel lists of
//! timestamps and values. Metric math and Metrics Insights expressions are not evaluated.

use crate::cloudwatch::shapes::{self, Statistic};
use crate::cloudwatch::wire::{Doc, Input};
use crate::cloudwatch::{Ctx, CwError};
use std::collections::HashSet;

const MAX_QUERIES: usize = 500;
const DEFAULT_MAX_DATAPOINTS: i64 = 100_800;

fn valid_id(id: &str) -> bool {
    let mut b = id.bytes();
    id.len() <= 255
        && b.next().is_some_and(|c| c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

struct Query {
    id: String,
    label: String,
    values: Vec<(i64, f64)>,
}

fn run_query(ctx: &Ctx<'_>, q: &Input<'_>, start: i64, end: i64) -> Result<Option<Query>, CwError> {
    let id = q.required_str("Id")?;
    if !valid_id(id) {
        return Err(CwError::validation(format!(
            "The value {id} for parameter {}.Id is not valid. It must start with a lowercase letter and contain only letters, numbers and underscores.",
            q.path()
        )));
    }
    if q.str("Expression")?.is_some() {
        return Err(CwError::validation(format!(
            "{}.Expression: metric math and Metrics Insights expressions are not supported; use MetricStat.",
            q.path()
        )));
    }
    let stat_in = q.object("MetricStat")?.ok_or_else(|| {
        CwError::validation(format!(
            "{}: exactly one of MetricStat and Expression must be specified.",
            q.path()
        ))
    })?;
    let metric = stat_in
        .object("Metric")?
        .ok_or_else(|| CwError::missing(&format!("{}.Metric", stat_in.path())))?;
    let namespace = metric.str("Namespace")?.unwrap_or("");
    let metric_name = metric.required_str("MetricName")?;
    let dims = shapes::exact_dimensions(&metric, "Dimensions")?;
    let period = shapes::period(
        stat_in.int("Period")?,
        &format!("{}.Period", stat_in.path()),
    )?;
    let stat_name = stat_in.required_str("Stat")?;
    let stat = Statistic::parse(stat_name).ok_or_else(|| {
        CwError::validation(format!(
            "The value {stat_name} for parameter {}.Stat is not a valid statistic.",
            stat_in.path()
        ))
    })?;
    let unit = stat_in.str("Unit")?;
    if q.bool("ReturnData")? == Some(false) {
        return Ok(None);
    }
    let values = super::read_series(
        ctx,
        namespace,
        metric_name,
        &dims,
        unit,
        (start, end, period),
    )
    .map(|a| {
        a.datapoints
            .iter()
            .filter_map(|p| stat.of(p).map(|v| (p.timestamp_ms, v)))
            .collect()
    })
    .unwrap_or_default();
    Ok(Some(Query {
        id: id.to_string(),
        label: q.str("Label")?.unwrap_or(metric_name).to_string(),
        values,
    }))
}

pub fn handle(ctx: &Ctx<'_>, i: &Input<'_>) -> Result<Doc, CwError> {
    let queries = i.list("MetricDataQueries")?;
    if queries.is_empty() {
        return Err(CwError::missing("MetricDataQueries"));
    }
    if queries.len() > MAX_QUERIES {
        return Err(CwError::validation(format!(
            "The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
        )));
    }
    let start = i.required_time("StartTime")?;
    let end = i.required_time("EndTime")?;
    shapes::time_range(start, end)?;
    let ascending = match i.str("ScanBy")? {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(other) => {
            return Err(CwError::validation(format!(
                "The value {other} for parameter ScanBy is not valid. Valid values are TimestampDescending and TimestampAscending."
            )))
        }
    };
    let mut budget = match i.int("MaxDatapoints")? {
        None => DEFAULT_MAX_DATAPOINTS,
        Some(n) if n >= 1 => n,
        Some(n) => {
            return Err(CwError::validation(format!(
                "The value {n} for parameter MaxDatapoints must be at least 1."
            )))
        }
    };
    let mut ids = HashSet::new();
    let mut results = Vec::new();
    for q in &queries {
        let id = q.required_str("Id")?;
        if !ids.insert(id) {
            return Err(CwError::validation(format!(
                "The value {id} for parameter MetricDataQueries is not unique."
            )));
        }
        let Some(mut r) = run_query(ctx, q, start, end)? else {
            continue;
        };
        if !ascending {
            r.values.reverse();
        }
        let complete = (r.values.len() as i64) <= budget;
        r.values.truncate(budget.max(0) as usize);
        budget -= r.values.len() as i64;
        results.push(Doc::Struct(vec![
            ("Id", Doc::Str(r.id)),
            ("Label", Doc::Str(r.label)),
            (
                "Timestamps",
                Doc::List(r.values.iter().map(|(t, _)| Doc::Time(*t)).collect()),
            ),
            (
                "Values",
                Doc::List(r.values.iter().map(|(_, v)| Doc::Num(*v)).collect()),
            ),
            (
                "StatusCode",
                Doc::Str(if complete { "Complete" } else { "PartialData" }.into()),
            ),
            ("Messages", Doc::List(Vec::new())),
        ]));
    }
    Ok(Doc::Struct(vec![
        ("MetricDataResults", Doc::List(results)),
        ("Messages", Doc::List(Vec::new())),
    ]))
}
