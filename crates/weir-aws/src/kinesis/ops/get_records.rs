//! GetRecords: records from an iterator's position, the next iterator, and how far behind the
//! tip the reader is.

use crate::error::ApiError;
use crate::json_out;
use crate::kinesis::shapes::ChildShard;
use crate::metering;
use crate::types::{BlobOut, Timestamp};
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use weir_core::limits::GET_RECORDS_MAX_LIMIT;
use weir_core::{SequenceNumber, ShardId};
use weir_storage::StoredRecord;
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

/// GetRecords' answer: the stored records as read, encoded without copies per record.
#[derive(Debug)]
pub struct Output {
    shard: ShardId,
    records: Vec<StoredRecord>,
    next_shard_iterator: Option<String>,
    millis_behind_latest: i64,
    child_shards: Vec<weir_streams::ChildShard>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OutputView {
    records: Vec<Record>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_shard_iterator: Option<String>,
    millis_behind_latest: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_shards: Option<Vec<ChildShard>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Record {
    sequence_number: String,
    approximate_arrival_timestamp: Timestamp,
    data: BlobOut,
    partition_key: String,
}

impl Serialize for Output {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        OutputView {
            records: self
                .records
                .iter()
                .map(|r| Record {
                    sequence_number: SequenceNumber::new(self.shard, r.offset).to_string(),
                    approximate_arrival_timestamp: Timestamp(r.arrival_millis),
                    data: BlobOut(r.data.clone()),
                    partition_key: r.partition_key.clone(),
                })
                .collect(),
            next_shard_iterator: self.next_shard_iterator.clone(),
            millis_behind_latest: self.millis_behind_latest,
            child_shards: (!self.child_shards.is_empty()).then(|| {
                self.child_shards
                    .iter()
                    .cloned()
                    .map(ChildShard::from)
                    .collect()
            }),
        }
        .serialize(s)
    }
}

impl Output {
    /// An answer built from parts, without a service (benchmarks of the encoder).
    pub fn new(
        shard: ShardId,
        records: Vec<StoredRecord>,
        next_shard_iterator: Option<String>,
        millis_behind_latest: i64,
    ) -> Self {
        Self {
            shard,
            records,
            next_shard_iterator,
            millis_behind_latest,
            child_shards: Vec::new(),
        }
    }

    pub fn write_json(&self, out: &mut Vec<u8>) {
        let data: usize = self.records.iter().map(|r| r.data.len()).sum();
        out.reserve(128 + data / 3 * 4 + self.records.len() * 140);
        out.extend_from_slice(b"{\"Records\":[");
        for (i, r) in self.records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"SequenceNumber\":\"");
            SequenceNumber::new(self.shard, r.offset).write_to(out);
            out.extend_from_slice(b"\",\"ApproximateArrivalTimestamp\":");
            json_out::epoch_seconds(out, r.arrival_millis);
            out.extend_from_slice(b",\"Data\":");
            json_out::base64(out, &r.data);
            out.extend_from_slice(b",\"PartitionKey\":");
            json_out::string(out, &r.partition_key);
            out.push(b'}');
        }
        out.push(b']');
        if let Some(next) = &self.next_shard_iterator {
            out.extend_from_slice(b",\"NextShardIterator\":");
            json_out::string(out, next);
        }
        out.extend_from_slice(b",\"MillisBehindLatest\":");
        json_out::integer(out, self.millis_behind_latest);
        if !self.child_shards.is_empty() {
            let children: Vec<ChildShard> = self
                .child_shards
                .iter()
                .cloned()
                .map(ChildShard::from)
                .collect();
            out.extend_from_slice(b",\"ChildShards\":");
            let _ = serde_json::to_writer(&mut *out, &children);
        }
        out.push(b'}');
    }
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
    let (started, iterator) = (
        Instant::now(),
        input.shard_iterator.as_deref().unwrap_or(""),
    );
    let result = svc
        .get_records(
            iterator,
            input.limit.map_or(GET_RECORDS_MAX_LIMIT, |l| l as u32),
            input.stream_arn.as_deref(),
        )
        .await;
    metering::get_records(&svc, iterator, started, &result);
    let out = result?;
    Ok(Output {
        shard: out.shard,
        records: out.records,
        next_shard_iterator: out.next_shard_iterator,
        millis_behind_latest: out.millis_behind_latest,
        child_shards: out.child_shards,
    })
}
