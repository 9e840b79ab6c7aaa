//! CreateStream: a provisioned stream with ShardCount shards, or an on-demand one with four.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::kinesis::shapes::{StreamModeDetailsIn, STREAM_MODES};
use crate::validate::Violations;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use weir_streams::{CreateStream, StreamMode, StreamService};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    shard_count: Option<i64>,
    stream_mode_details: Option<StreamModeDetailsIn>,
    tags: Option<HashMap<String, String>>,
    warm_throughput_mi_bps: Option<i64>,
    max_record_size_in_ki_b: Option<i64>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    if let Some(n) = input.shard_count {
        v.min_i64("shardCount", n, 1);
    }
    if let Some(kib) = input.max_record_size_in_ki_b {
        v.range_i64("maxRecordSizeInKiB", kib, 1024, 10240);
    }
    if let Some(w) = input.warm_throughput_mi_bps {
        v.min_i64("warmThroughputMiBps", w, 0);
    }
    if let Some(mode) = &input.stream_mode_details {
        match &mode.stream_mode {
            None => {
                v.required("streamModeDetails.streamMode", &mode.stream_mode);
            }
            Some(m) => v.one_of("streamModeDetails.streamMode", m, &STREAM_MODES),
        }
    }
    if let Some(tags) = &input.tags {
        super::validate_tag_map(&mut v, "tags", tags, 0);
    }
    if v.required("streamName", &input.stream_name) {
        v.stream_name("streamName", &input.stream_name);
    }
    v.finish()?;

    if let Some(tags) = &input.tags {
        super::check_tag_chars(tags.iter())?;
    }
    let mode = match input
        .stream_mode_details
        .as_ref()
        .and_then(|m| m.stream_mode.as_deref())
    {
        Some("ON_DEMAND") => StreamMode::OnDemand,
        Some(_) => StreamMode::Provisioned,
        // Without ShardCount and without a mode, AWS creates an on-demand-sized stream.
        None if input.shard_count.is_none() => StreamMode::OnDemand,
        None => StreamMode::Provisioned,
    };
    if mode == StreamMode::OnDemand && input.shard_count.is_some() {
        let explicit = input.stream_mode_details.is_some();
        if explicit {
            return Err(ApiError::validation(
                "ShardCount must not be specified for streams in ON_DEMAND mode.",
            ));
        }
    }
    svc.create_stream(CreateStream {
        name: input.stream_name.unwrap_or_default(),
        shard_count: input.shard_count.map(|n| n.min(u32::MAX as i64) as u32),
        mode,
        tags: input
            .tags
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        max_record_size_kib: input.max_record_size_in_ki_b.map(|k| k as u32),
        warm_throughput_mibps: input.warm_throughput_mi_bps.map(|w| w as u32),
    })?;
    Ok(Empty {})
}
