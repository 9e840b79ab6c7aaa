//! PutRecord: one record, routed by partition key (or ExplicitHashKey), acknowledged once durable.

use crate::error::ApiError;
use crate::kinesis::shapes::Addressing;
use crate::metering;
use crate::types::Blob;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use weir_core::HashKey;
use weir_streams::{PutEntry, StreamService};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    data: Option<Blob>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
    sequence_number_for_ordering: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    shard_id: String,
    sequence_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_type: Option<&'static str>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let at = Addressing {
        stream_name: input.stream_name,
        stream_arn: input.stream_arn,
        stream_id: input.stream_id,
    };
    let mut v = Violations::new();
    v.sequence_number(
        "sequenceNumberForOrdering",
        &input.sequence_number_for_ordering,
    );
    if v.required("partitionKey", &input.partition_key) {
        v.str_len(
            "partitionKey",
            input.partition_key.as_deref().unwrap_or(""),
            1,
            256,
        );
    }
    let explicit = super::explicit_hash_key(&mut v, "explicitHashKey", &input.explicit_hash_key);
    if v.required("data", &input.data) {
        v.blob_len(
            "data",
            input.data.as_ref().map_or(0, |d| d.0.len()),
            weir_core::limits::MAX_DATA_BYTES,
        );
    }
    at.validate(&mut v);
    v.finish()?;
    let explicit = explicit?;
    let data = input.data.unwrap_or_default();
    let pk = input.partition_key.unwrap_or_default();
    let entry = PutEntry {
        partition_key: &pk,
        explicit_hash_key: explicit,
        data: &data.0,
    };
    let (started, stream) = (Instant::now(), at.to_ref());
    let result = svc
        .put_record(
            &stream,
            entry,
            input.sequence_number_for_ordering.as_deref(),
        )
        .await;
    metering::put_record(&svc, &stream, &entry, started, &result);
    let (shard, seq) = result?;
    Ok(Output {
        shard_id: shard.to_string(),
        sequence_number: seq.to_string(),
        encryption_type: None,
    })
}

/// Parses an ExplicitHashKey that passed the pattern check.
pub(crate) fn parse_hash_key(s: &str) -> Result<HashKey, ApiError> {
    HashKey::parse_decimal(s).ok_or_else(|| {
        ApiError::invalid_argument(format!(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {s}"
        ))
    })
}
