//! PutResourcePolicy: stores a stream's resource policy (enforced by later security work).

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
    policy: Option<String>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    v.required("policy", &input.policy);
    super::validate_resource_arn(&mut v, &input.resource_arn);
    v.finish()?;
    svc.put_resource_policy(
        input.resource_arn.as_deref().unwrap_or(""),
        input.policy.as_deref().unwrap_or(""),
    )?;
    Ok(Empty {})
}
