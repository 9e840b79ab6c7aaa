//! DeleteResourcePolicy: removes the stored policy.

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
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    super::validate_resource_arn(&mut v, &input.resource_arn);
    v.finish()?;
    svc.delete_resource_policy(input.resource_arn.as_deref().unwrap_or(""))?;
    Ok(Empty {})
}
