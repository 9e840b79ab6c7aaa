//! DecreaseStreamRetentionPeriod: between 24 and 8760 hours, and not above the current value.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::kinesis::shapes::Addressing;
use crate::validate::Violations;
use serde::Deserialize;
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(flatten)]
    at: Addressing,
    retention_period_hours: Option<i64>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    if v.required("retentionPeriodHours", &input.retention_period_hours) {
        v.min_i64(
            "retentionPeriodHours",
            input.retention_period_hours.unwrap_or(0),
            1,
        );
    }
    input.at.validate(&mut v);
    v.finish()?;
    svc.decrease_retention(
        &input.at.to_ref(),
        input.retention_period_hours.unwrap_or(0),
    )?;
    Ok(Empty {})
}
