//! ListTagsForResource: every tag of the resource a ResourceARN names.

use crate::error::ApiError;
use crate::kinesis::shapes::Tag;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    tags: Vec<Tag>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    super::validate_resource_arn(&mut v, &input.resource_arn);
    v.finish()?;
    let r = svc.stream_for_resource(input.resource_arn.as_deref().unwrap_or(""))?;
    let (tags, _) = svc.list_tags(&r, None, Some(u32::MAX))?;
    Ok(Output {
        tags: tags
            .into_iter()
            .map(|(key, value)| Tag {
                key,
                value: Some(value),
            })
            .collect(),
    })
}
