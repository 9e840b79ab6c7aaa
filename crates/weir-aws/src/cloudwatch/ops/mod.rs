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
