//! ListMetrics: the metrics that have data in the retained history of every namespace, filtered
//! by namespace, name and dimensions, 500 per page (namespaces in name order, so a page token
//! stays valid while nothing new appears).

use crate::cloudwatch::shapes;
use crate::cloudwatch::wire::{Doc, Input};
use crate::cloudwatch::{Ctx, CwError};
use weir_metrics::ListedMetric;

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
    let mut matching = Vec::new();
    for ns in ctx
        .namespaces
        .iter()
        .filter(|ns| namespace.is_none_or(|n| n == ns.name()))
    {
        for l in ns.metrics(ctx.now_ms) {
            let named = metric_name.is_none_or(|n| n == l.metric_name);
            let dimensioned = filters.iter().all(|(name, value)| {
                l.dimensions
                    .iter()
                    .any(|(n, v)| n == name && value.is_none_or(|want| want == v))
            });
            if named && dimensioned {
                matching.push(listed(ns.name(), l));
            }
        }
    }
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

fn listed(namespace: &'static str, l: ListedMetric) -> Doc {
    let dimensions = l
        .dimensions
        .into_iter()
        .map(|(n, v)| Doc::Struct(vec![("Name", Doc::Str(n.into())), ("Value", Doc::Str(v))]))
        .collect();
    Doc::Struct(vec![
        ("Namespace", Doc::Str(namespace.into())),
        ("MetricName", Doc::Str(l.metric_name.into())),
        ("Dimensions", Doc::List(dimensions)),
    ])
}
