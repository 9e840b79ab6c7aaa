//! TagResource: AddTagsToStream addressed by ResourceARN.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::validate::Violations;
use serde::Deserialize;
use std::collections::HashMap;
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<HashMap<String, String>>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    if v.required("tags", &input.tags) {
        super::validate_tag_map(
            &mut v,
            "tags",
            input.tags.as_ref().unwrap_or(&HashMap::new()),
            1,
        );
    }
    super::validate_resource_arn(&mut v, &input.resource_arn);
    v.finish()?;
    let arn = input.resource_arn.unwrap_or_default();
    let r = svc.stream_for_resource(&arn)?;
    let tags = input.tags.unwrap_or_default();
    super::check_tag_chars(tags.iter())?;
    svc.add_tags(&r, tags.into_iter().collect())?;
    Ok(Empty {})
}
