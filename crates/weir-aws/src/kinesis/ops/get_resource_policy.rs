//! GetResourcePolicy: the stored policy, or `{}` when there is none.

use crate::error::ApiError;
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
    policy: String,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    super::validate_resource_arn(&mut v, &input.resource_arn);
    v.finish()?;
    Ok(Output {
        policy: svc.get_resource_policy(input.resource_arn.as_deref().unwrap_or(""))?,
    })
}
