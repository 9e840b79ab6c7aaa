//! UntagResource: RemoveTagsFromStream addressed by ResourceARN.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::validate::Violations;
use serde::Deserialize;
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    if v.required("tagKeys", &input.tag_keys) {
        super::validate_tag_keys(
            &mut v,
            "tagKeys",
            input.tag_keys.as_deref().unwrap_or_default(),
        );
    }
    super::validate_resource_arn(&mut v, &input.resource_arn);
    v.finish()?;
    let r = svc.stream_for_resource(input.resource_arn.as_deref().unwrap_or(""))?;
    svc.remove_tags(&r, &input.tag_keys.unwrap_or_default())?;
    Ok(Empty {})
}
