//! ListTagsForDeliveryStream: tags in key order, `Limit` (1–50, default 50) at a time.

use crate::error::ApiError;
use crate::firehose::shapes::{self, TagIn};
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_delivery::DeliveryService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    delivery_stream_name: Option<String>,
    exclusive_start_tag_key: Option<String>,
    limit: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    tags: Vec<TagIn>,
    has_more_tags: bool,
}

pub async fn handle(svc: DeliveryService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    shapes::delivery_stream_name(&mut v, &input.delivery_stream_name);
    if let Some(l) = input.limit {
        v.range_i64("limit", l, 1, 50);
    }
    if let Some(k) = &input.exclusive_start_tag_key {
        v.str_len("exclusiveStartTagKey", k, 1, 128);
    }
    v.finish()?;
    let (tags, more) = svc.list_tags(
        input.delivery_stream_name.as_deref().unwrap_or(""),
        input.exclusive_start_tag_key.as_deref(),
        input.limit.unwrap_or(50) as usize,
    )?;
    Ok(Output {
        tags: tags
            .into_iter()
            .map(|(k, v)| TagIn {
                key: Some(k),
                value: Some(v),
            })
            .collect(),
        has_more_tags: more,
    })
}
