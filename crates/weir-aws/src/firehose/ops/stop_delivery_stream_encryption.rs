//! StopDeliveryStreamEncryption: server-side encryption off.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::firehose::shapes;
use crate::validate::Violations;
use serde::Deserialize;
use weir_delivery::DeliveryService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    delivery_stream_name: Option<String>,
}

pub async fn handle(svc: DeliveryService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    shapes::delivery_stream_name(&mut v, &input.delivery_stream_name);
    v.finish()?;
    svc.stop_encryption(input.delivery_stream_name.as_deref().unwrap_or(""))?;
    Ok(Empty {})
}
