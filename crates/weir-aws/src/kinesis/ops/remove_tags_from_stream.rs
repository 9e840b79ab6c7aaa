//! RemoveTagsFromStream: removes tags by key; absent keys are ignored.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::kinesis::shapes::Addressing;
use crate::validate::Violations;
use serde::Deserialize;
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(flatten)]
    at: Addressing,
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
    input.at.validate(&mut v);
    v.finish()?;
    let keys = input.tag_keys.unwrap_or_default();
    svc.remove_tags(&input.at.to_ref(), &keys)?;
    Ok(Empty {})
}
