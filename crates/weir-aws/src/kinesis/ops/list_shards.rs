//! ListShards: a page of a stream's shards, optionally filtered (ShardFilter), with NextToken.

use crate::error::ApiError;
use crate::kinesis::shapes::{Addressing, Shard};
use crate::types::Timestamp;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_streams::{ListShards, ShardFilter, StreamService};

const FILTER_TYPES: [&str; 6] = [
    "AFTER_SHARD_ID",
    "AT_TRIM_HORIZON",
    "FROM_TRIM_HORIZON",
    "AT_LATEST",
    "AT_TIMESTAMP",
    "FROM_TIMESTAMP",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    next_token: Option<String>,
    exclusive_start_shard_id: Option<String>,
    max_results: Option<i64>,
    stream_creation_timestamp: Option<Timestamp>,
    shard_filter: Option<ShardFilterIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ShardFilterIn {
    #[serde(rename = "Type")]
    kind: Option<String>,
    shard_id: Option<String>,
    timestamp: Option<Timestamp>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    shards: Vec<Shard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let at = Addressing {
        stream_name: input.stream_name,
        stream_arn: input.stream_arn,
        stream_id: input.stream_id,
    };
    let mut v = Violations::new();
    if let Some(m) = input.max_results {
        v.range_i64("maxResults", m, 1, 10000);
    }
    v.shard_id("exclusiveStartShardId", &input.exclusive_start_shard_id);
    at.validate(&mut v);
    if let Some(t) = &input.next_token {
        v.str_len("nextToken", t, 1, 1_048_576);
    }
    if let Some(f) = &input.shard_filter {
        if v.required("shardFilter.type", &f.kind) {
            v.one_of(
                "shardFilter.type",
                f.kind.as_deref().unwrap_or(""),
                &FILTER_TYPES,
            );
        }
        v.shard_id("shardFilter.shardId", &f.shard_id);
    }
    v.finish()?;

    if input.next_token.is_some() {
        for (given, member) in [
            (at.stream_name.is_some(), "StreamName"),
            (at.stream_arn.is_some(), "StreamARN"),
            (
                input.exclusive_start_shard_id.is_some(),
                "ExclusiveStartShardId",
            ),
            (
                input.stream_creation_timestamp.is_some(),
                "StreamCreationTimestamp",
            ),
            (input.shard_filter.is_some(), "ShardFilter"),
        ] {
            if given {
                return Err(ApiError::invalid_argument(format!(
                    "NextToken and {member} cannot be provided together."
                )));
            }
        }
    } else if at.stream_name.is_none() && at.stream_arn.is_none() {
        return Err(ApiError::invalid_argument(
            "Either NextToken or StreamName should be provided.",
        ));
    }
    let filter = match input.shard_filter {
        None => None,
        Some(f) => Some(match f.kind.as_deref().unwrap_or("") {
            "AFTER_SHARD_ID" => ShardFilter::AfterShardId(f.shard_id.ok_or_else(|| {
                ApiError::invalid_argument(
                    "ShardId must be supplied in a ShardFilter with a Type of AFTER_SHARD_ID.",
                )
            })?),
            "AT_TRIM_HORIZON" => ShardFilter::AtTrimHorizon,
            "FROM_TRIM_HORIZON" => ShardFilter::FromTrimHorizon,
            "AT_LATEST" => ShardFilter::AtLatest,
            kind => {
                let t = f.timestamp.ok_or_else(|| {
                    ApiError::invalid_argument(
                        "Timestamp must be supplied in a ShardFilter with a Type of AT_TIMESTAMP or FROM_TIMESTAMP.",
                    )
                })?;
                if kind == "AT_TIMESTAMP" {
                    ShardFilter::AtTimestamp(t.0)
                } else {
                    ShardFilter::FromTimestamp(t.0)
                }
            }
        }),
    };
    let (shards, next_token) = svc.list_shards(ListShards {
        stream: at.to_ref(),
        next_token: input.next_token,
        exclusive_start_shard_id: input.exclusive_start_shard_id,
        max_results: input.max_results.map(|m| m as u32),
        stream_creation_timestamp: input.stream_creation_timestamp.map(|t| t.0),
        filter,
    })?;
    Ok(Output {
        shards: shards.into_iter().map(Shard::from).collect(),
        next_token,
    })
}
