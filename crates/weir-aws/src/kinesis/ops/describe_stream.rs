//! DescribeStream: the stream and a page of its shards (Limit, ExclusiveStartShardId).

use crate::error::ApiError;
use crate::kinesis::shapes::{Addressing, EnhancedMetrics, Shard, StreamModeDetails};
use crate::types::Timestamp;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_streams::{StreamService, StreamStatus};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(flatten)]
    at: Addressing,
    limit: Option<i64>,
    exclusive_start_shard_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    stream_description: StreamDescription,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StreamDescription {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_status: &'static str,
    stream_mode_details: StreamModeDetails,
    shards: Vec<Shard>,
    has_more_shards: bool,
    retention_period_hours: u32,
    stream_creation_timestamp: Timestamp,
    enhanced_monitoring: Vec<EnhancedMetrics>,
    encryption_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    if let Some(l) = input.limit {
        v.range_i64("limit", l, 1, 10000);
    }
    v.shard_id("exclusiveStartShardId", &input.exclusive_start_shard_id);
    input.at.validate(&mut v);
    v.finish()?;
    let d = svc.describe_stream(
        &input.at.to_ref(),
        input.limit.map(|l| l as u32),
        input.exclusive_start_shard_id.as_deref(),
    )?;
    let m = d.meta;
    let transitional = matches!(m.status, StreamStatus::Creating | StreamStatus::Deleting);
    Ok(Output {
        stream_description: StreamDescription {
            stream_name: m.name,
            stream_arn: d.arn,
            stream_status: m.status.as_str(),
            stream_mode_details: StreamModeDetails {
                stream_mode: m.mode.as_str(),
            },
            shards: if transitional {
                Vec::new()
            } else {
                d.shards.into_iter().map(Shard::from).collect()
            },
            has_more_shards: !transitional && d.has_more_shards,
            retention_period_hours: m.retention_hours,
            stream_creation_timestamp: Timestamp(m.created_millis),
            enhanced_monitoring: vec![EnhancedMetrics {
                shard_level_metrics: m.enhanced_metrics,
            }],
            encryption_type: m
                .encryption
                .as_ref()
                .map(|e| e.encryption_type.clone())
                .unwrap_or_else(|| "NONE".into()),
            key_id: m.encryption.and_then(|e| e.key_id),
        },
    })
}
