//! DescribeLimits: the account's shard quota and usage.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
pub struct Input {}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    shard_limit: u32,
    open_shard_count: u32,
    on_demand_stream_count: u32,
    on_demand_stream_count_limit: u32,
}

pub async fn handle(svc: StreamService, _: Input) -> Result<Output, ApiError> {
    let l = svc.describe_limits();
    Ok(Output {
        shard_limit: l.shard_limit,
        open_shard_count: l.open_shard_count,
        on_demand_stream_count: l.on_demand_stream_count,
        on_demand_stream_count_limit: l.on_demand_stream_count_limit,
    })
}
