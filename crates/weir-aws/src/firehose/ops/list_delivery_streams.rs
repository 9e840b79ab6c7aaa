//! ListDeliveryStreams: names in order, `Limit` (default 10) at a time, filtered by type.

use crate::error::ApiError;
use crate::firehose::shapes;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_delivery::model::DeliveryStreamType;
use weir_delivery::DeliveryService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    limit: Option<i64>,
    delivery_stream_type: Option<String>,
    exclusive_start_delivery_stream_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    delivery_stream_names: Vec<String>,
    has_more_delivery_streams: bool,
}

pub async fn handle(svc: DeliveryService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    if let Some(l) = input.limit {
        v.range_i64("limit", l, 1, 10_000);
    }
    if let Some(t) = &input.delivery_stream_type {
        v.one_of(
            "deliveryStreamType",
            t,
            &[
                "DirectPut",
                "KinesisStreamAsSource",
                "MSKAsSource",
                "DatabaseAsSource",
            ],
        );
    }
    if let Some(n) = &input.exclusive_start_delivery_stream_name {
        v.pattern(
            "exclusiveStartDeliveryStreamName",
            n,
            shapes::is_name(n),
            shapes::NAME_PATTERN,
        );
        v.str_len("exclusiveStartDeliveryStreamName", n, 1, 64);
    }
    v.finish()?;
    let ty = match input.delivery_stream_type.as_deref() {
        Some("DirectPut") => Some(Some(DeliveryStreamType::DirectPut)),
        Some("KinesisStreamAsSource") => Some(Some(DeliveryStreamType::KinesisStreamAsSource)),
        Some(_) => None,
        None => Some(None),
    };
    let Some(ty) = ty else {
        // A source type weir has no streams of.
        return Ok(Output {
            delivery_stream_names: Vec::new(),
            has_more_delivery_streams: false,
        });
    };
    let (names, more) = svc.list(
        input.limit.unwrap_or(10) as usize,
        ty,
        input.exclusive_start_delivery_stream_name.as_deref(),
    );
    Ok(Output {
        delivery_stream_names: names,
        has_more_delivery_streams: more,
    })
}
