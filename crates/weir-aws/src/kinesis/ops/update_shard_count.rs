//! UpdateShardCount: UNIFORM_SCALING to a target between half and double the open shards.

use crate::error::ApiError;
use crate::kinesis::shapes::Addressing;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(flatten)]
    at: Addressing,
    target_shard_count: Option<i64>,
    scaling_type: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    stream_name: String,
    current_shard_count: u32,
    target_shard_count: u32,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    if v.required("scalingType", &input.scaling_type) {
        v.one_of(
            "scalingType",
            input.scaling_type.as_deref().unwrap_or(""),
            &["UNIFORM_SCALING"],
        );
    }
    input.at.validate(&mut v);
    if v.required("targetShardCount", &input.target_shard_count) {
        v.min_i64("targetShardCount", input.target_shard_count.unwrap_or(0), 1);
    }
    v.finish()?;
    let target = input.target_shard_count.unwrap_or(1).min(u32::MAX as i64) as u32;
    let u = svc.update_shard_count(&input.at.to_ref(), target).await?;
    Ok(Output {
        stream_name: u.stream_name,
        current_shard_count: u.current,
        target_shard_count: u.target,
        stream_arn: u.stream_arn,
    })
}
