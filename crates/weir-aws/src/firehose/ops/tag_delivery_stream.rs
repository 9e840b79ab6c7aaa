//! TagDeliveryStream: adds or overwrites tags, at most 50 on a stream.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::firehose::shapes::{self, TagIn};
use crate::validate::Violations;
use serde::Deserialize;
use weir_delivery::DeliveryService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    delivery_stream_name: Option<String>,
    tags: Option<Vec<TagIn>>,
}

pub async fn handle(svc: DeliveryService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    shapes::delivery_stream_name(&mut v, &input.delivery_stream_name);
    if v.required("tags", &input.tags) {
        shapes::tags(&mut v, "tags", input.tags.as_deref().unwrap_or(&[]), 1);
    }
    v.finish()?;
    let tags = input
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    svc.tag(input.delivery_stream_name.as_deref().unwrap_or(""), tags)?;
    Ok(Empty {})
}
