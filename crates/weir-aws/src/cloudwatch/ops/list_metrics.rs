//! ListMetrics: the metrics that have data in the retained history, filtered by namespace,
//! name and dimensions, 500 per page.

use crate::cloudwatch::shapes;
use crate::cloudwatch::wire::{Doc, Input};
use crate::cloudwatch::{Ctx, CwError};
use weir_metrics::KINESIS_NAMESPACE;

const PAGE: usize = 500;
const MAX_DIMENSION_FILTERS: usize = 10;
const TOKEN_PREFIX: &str = "weir-metrics-";

pub fn handle(ctx: &Ctx<'_>, i: &Input<'_>) -> Result<Doc, CwError> {
    let namespace = i.str("Namespace")?;
    let metric_name = i.str("MetricName")?;
    let filters = shapes::dimensions(i, "Dimensions", false)?;
    if filters.len() > MAX_DIMENSION_FILTERS {
        return Err(CwError::invalid_value(format!(
            "The collection Dimensions must not have a size greater than {MAX_DIMENSION_FILTERS}."
        )));
    }
    if let Some(r) = i.str("RecentlyActive")? {
        if r != "PT3H" {
            return Err(CwError::invalid_value(format!(
                "The value {r} for parameter RecentlyActive is not valid. The only valid value is PT3H."
            )));
        }
    }
    let skip = match i.str("NextToken")? {
        None => 0,
        Some(t) => t
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                CwError::invalid_next_token("The service couldn't process the NextToken.")
            })?,
    };
    // Everything listed has data within the 1-minute history (three hours): RecentlyActive
    // filters nothing more.
    let matching: Vec<Doc> = ctx
        .metrics
        .registry
        .list(ctx.now_ms)
        .into_iter()
        .filter(|_| namespace.is_none_or(|n| n == KINESIS_NAMESPACE))
        .filter(|l| metric_name.is_none_or(|n| n == l.metric.cloudwatch_name()))
        .filter_map(|l| {
            let dims = shapes::dimensions_of(&l.stream, &l.scope);
            let keep = filters.iter().all(|(name, value)| {
                dims.iter()
                    .any(|(n, v)| n == name && value.is_none_or(|want| want == v))
            });
            keep.then(|| {
                Doc::Struct(vec![
                    ("Namespace", Doc::Str(KINESIS_NAMESPACE.into())),
                    ("MetricName", Doc::Str(l.metric.cloudwatch_name().into())),
                    (
                        "Dimensions",
                        Doc::List(
                            dims.into_iter()
                                .map(|(n, v)| {
                                    Doc::Struct(vec![
                                        ("Name", Doc::Str(n.into())),
                                        ("Value", Doc::Str(v)),
                                    ])
                                })
                                .collect(),
                        ),
                    ),
                ])
            })
        })
        .collect();
    let total = matching.len();
    let page: Vec<Doc> = matching.into_iter().skip(skip).take(PAGE).collect();
    let mut out = vec![("Metrics", Doc::List(page))];
    if skip + PAGE < total {
        out.push((
            "NextToken",
            Doc::Str(format!("{TOKEN_PREFIX}{}", skip + PAGE)),
        ));
    }
    Ok(Doc::Struct(out))
}
