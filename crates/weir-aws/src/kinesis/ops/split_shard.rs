//! SplitShard: closes a shard and opens two children that divide its hash-key range at
//! NewStartingHashKey.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::kinesis::shapes::Addressing;
use crate::validate::{self, Violations};
use serde::Deserialize;
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(flatten)]
    at: Addressing,
    shard_to_split: Option<String>,
    new_starting_hash_key: Option<String>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    if v.required("newStartingHashKey", &input.new_starting_hash_key) {
        let k = input.new_starting_hash_key.as_deref().unwrap_or("");
        v.pattern(
            "newStartingHashKey",
            k,
            validate::is_hash_key_shape(k),
            validate::HASH_KEY_PATTERN,
        );
    }
    input.at.validate(&mut v);
    if v.required("shardToSplit", &input.shard_to_split) {
        v.shard_id("shardToSplit", &input.shard_to_split);
    }
    v.finish()?;
    let key = input.new_starting_hash_key.unwrap_or_default();
    let key = weir_core::HashKey::parse_decimal(&key).ok_or_else(|| {
        ApiError::invalid_argument(format!(
            "NewStartingHashKey {key} is not a hash key in the range [0, 2^128-1]."
        ))
    })?;
    svc.split_shard(
        &input.at.to_ref(),
        input.shard_to_split.as_deref().unwrap_or(""),
        key.0,
    )
    .await?;
    Ok(Empty {})
}
