//! ListTagsForStream: tags in key order after ExclusiveStartTagKey, at most Limit (≤ 50).

use crate::error::ApiError;
use crate::kinesis::shapes::{Addressing, Tag};
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(flatten)]
    at: Addressing,
    exclusive_start_tag_key: Option<String>,
    limit: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    tags: Vec<Tag>,
    has_more_tags: bool,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    if let Some(l) = input.limit {
        v.range_i64("limit", l, 1, 50);
    }
    if let Some(k) = &input.exclusive_start_tag_key {
        v.str_len("exclusiveStartTagKey", k, 1, 128);
    }
    input.at.validate(&mut v);
    v.finish()?;
    let (tags, more) = svc.list_tags(
        &input.at.to_ref(),
        input.exclusive_start_tag_key.as_deref(),
        input.limit.map(|l| l as u32),
    )?;
    Ok(Output {
        tags: tags
            .into_iter()
            .map(|(key, value)| Tag {
                key,
                value: Some(value),
            })
            .collect(),
        has_more_tags: more,
    })
}
