//! DescribeDeliveryStream: the full DeliveryStreamDescription.

use crate::error::ApiError;
use crate::firehose::shapes;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_delivery::DeliveryService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    delivery_stream_name: Option<String>,
    limit: Option<i64>,
    exclusive_start_destination_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    delivery_stream_description: serde_json::Value,
}

pub async fn handle(svc: DeliveryService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    shapes::delivery_stream_name(&mut v, &input.delivery_stream_name);
    if let Some(l) = input.limit {
        v.range_i64("limit", l, 1, 10_000);
    }
    if let Some(d) = &input.exclusive_start_destination_id {
        v.str_len("exclusiveStartDestinationId", d, 1, 100);
    }
    v.finish()?;
    let d = svc.describe(
        input.delivery_stream_name.as_deref().unwrap_or(""),
        input.exclusive_start_destination_id.as_deref(),
    )?;
    Ok(Output {
        delivery_stream_description: d,
    })
}
