//! MergeShards: closes two adjacent shards and opens one child covering both ranges.

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
    shard_to_merge: Option<String>,
    adjacent_shard_to_merge: Option<String>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    if v.required("shardToMerge", &input.shard_to_merge) {
        v.shard_id("shardToMerge", &input.shard_to_merge);
    }
    if v.required("adjacentShardToMerge", &input.adjacent_shard_to_merge) {
        v.shard_id("adjacentShardToMerge", &input.adjacent_shard_to_merge);
    }
    input.at.validate(&mut v);
    v.finish()?;
    svc.merge_shards(
        &input.at.to_ref(),
        input.shard_to_merge.as_deref().unwrap_or(""),
        input.adjacent_shard_to_merge.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(Empty {})
}
