//! DisableEnhancedMonitoring: shard-level metrics on or off (`ALL` means all seven).

use crate::error::ApiError;
use crate::kinesis::shapes::Addressing;
use crate::validate::Violations;
use serde::Deserialize;
use weir_streams::StreamService;

pub use super::MonitoringOutput as Output;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(flatten)]
    at: Addressing,
    shard_level_metrics: Option<Vec<String>>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    if v.required("shardLevelMetrics", &input.shard_level_metrics) {
        super::validate_metrics(
            &mut v,
            input.shard_level_metrics.as_deref().unwrap_or_default(),
        );
    }
    input.at.validate(&mut v);
    v.finish()?;
    let change = svc.set_enhanced_monitoring(
        &input.at.to_ref(),
        &input.shard_level_metrics.unwrap_or_default(),
        false,
    )?;
    Ok(Output::from(change))
}
