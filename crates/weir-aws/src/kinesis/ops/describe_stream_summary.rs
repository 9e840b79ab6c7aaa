//! DescribeStreamSummary: the stream without its shard list.

use crate::error::ApiError;
use crate::kinesis::shapes::{Addressing, EnhancedMetrics, StreamModeDetails};
use crate::types::Timestamp;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(flatten)]
    at: Addressing,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    stream_description_summary: Summary,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct WarmThroughput {
    target_mi_bps: u32,
    current_mi_bps: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_status: &'static str,
    stream_mode_details: StreamModeDetails,
    retention_period_hours: u32,
    stream_creation_timestamp: Timestamp,
    enhanced_monitoring: Vec<EnhancedMetrics>,
    encryption_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    open_shard_count: usize,
    consumer_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    warm_throughput: Option<WarmThroughput>,
    max_record_size_in_ki_b: u32,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    input.at.validate(&mut v);
    v.finish()?;
    let s = svc.describe_stream_summary(&input.at.to_ref())?;
    let m = s.meta;
    Ok(Output {
        stream_description_summary: Summary {
            stream_name: m.name,
            stream_arn: s.arn,
            stream_status: m.status.as_str(),
            stream_mode_details: StreamModeDetails {
                stream_mode: m.mode.as_str(),
            },
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
            open_shard_count: s.open_shard_count,
            consumer_count: s.consumer_count,
            warm_throughput: m.warm_throughput_mibps.map(|w| WarmThroughput {
                target_mi_bps: w,
                current_mi_bps: w,
            }),
            max_record_size_in_ki_b: m.max_record_size_kib,
        },
    })
}
