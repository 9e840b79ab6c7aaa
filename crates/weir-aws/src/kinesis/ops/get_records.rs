//! GetRecords: records from an iterator's position, the next iterator, and how far behind the
//! tip the reader is.

use crate::error::ApiError;
use crate::kinesis::shapes::ChildShard;
use crate::types::{BlobOut, Timestamp};
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_core::limits::GET_RECORDS_MAX_LIMIT;
use weir_core::SequenceNumber;
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    shard_iterator: Option<String>,
    limit: Option<i64>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[allow(dead_code)]
    stream_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    records: Vec<Record>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_shard_iterator: Option<String>,
    millis_behind_latest: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_shards: Option<Vec<ChildShard>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Record {
    sequence_number: String,
    approximate_arrival_timestamp: Timestamp,
    data: BlobOut,
    partition_key: String,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    if let Some(l) = input.limit {
        v.range_i64("limit", l, 1, GET_RECORDS_MAX_LIMIT as i64);
    }
    if v.required("shardIterator", &input.shard_iterator) {
        v.str_len(
            "shardIterator",
            input.shard_iterator.as_deref().unwrap_or(""),
            1,
            512,
        );
    }
    v.stream_arn("streamARN", &input.stream_arn);
    v.finish()?;
    let out = svc
        .get_records(
            input.shard_iterator.as_deref().unwrap_or(""),
            input.limit.map_or(GET_RECORDS_MAX_LIMIT, |l| l as u32),
            input.stream_arn.as_deref(),
        )
        .await?;
    let shard = out.shard;
    Ok(Output {
        records: out
            .records
            .into_iter()
            .map(|r| Record {
                sequence_number: SequenceNumber::new(shard, r.offset).to_string(),
                approximate_arrival_timestamp: Timestamp(r.arrival_millis),
                data: BlobOut(r.data),
                partition_key: r.partition_key,
            })
            .collect(),
        next_shard_iterator: out.next_shard_iterator,
        millis_behind_latest: out.millis_behind_latest,
        child_shards: (!out.child_shards.is_empty())
            .then(|| out.child_shards.into_iter().map(ChildShard::from).collect()),
    })
}
