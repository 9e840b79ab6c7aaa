//! AddTagsToStream: adds or overwrites up to 50 tags.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::kinesis::shapes::Addressing;
use crate::validate::Violations;
use serde::Deserialize;
use std::collections::HashMap;
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(flatten)]
    at: Addressing,
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
    input.at.validate(&mut v);
    v.finish()?;
    let tags = input.tags.unwrap_or_default();
    super::check_tag_chars(tags.iter())?;
    svc.add_tags(&input.at.to_ref(), tags.into_iter().collect())?;
    Ok(Empty {})
}
