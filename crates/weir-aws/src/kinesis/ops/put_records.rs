//! PutRecords: up to 500 records; each result says where its record went or why it failed.

use crate::error::ApiError;
use crate::json_out;
use crate::kinesis::shapes::Addressing;
use crate::metering;
use crate::types::Blob;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use weir_core::limits::{MAX_DATA_BYTES, MAX_PUT_RECORDS_ENTRIES};
use weir_streams::{PutEntry, PutResult, StreamService};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    records: Option<Vec<Entry>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    data: Option<Blob>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
}

/// PutRecords' answer. Serialized through serde for CBOR; JSON is written by hand
/// ([`Output::write_json`]) because this is the hottest response weir sends.
#[derive(Debug)]
pub struct Output {
    failed_record_count: usize,
    records: Vec<PutResult>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OutputView<'a> {
    failed_record_count: usize,
    records: Vec<ResultEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResultEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
}

impl Serialize for Output {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        OutputView {
            failed_record_count: self.failed_record_count,
            records: self
                .records
                .iter()
                .map(|r| match r {
                    PutResult::Ok { shard, sequence } => ResultEntry {
                        sequence_number: Some(sequence.to_string()),
                        shard_id: Some(shard.to_string()),
                        error_code: None,
                        error_message: None,
                    },
                    PutResult::Failed { code, message } => ResultEntry {
                        sequence_number: None,
                        shard_id: None,
                        error_code: Some(code),
                        error_message: Some(message),
                    },
                })
                .collect(),
        }
        .serialize(s)
    }
}

impl Output {
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.reserve(40 + self.records.len() * 90);
        out.extend_from_slice(b"{\"FailedRecordCount\":");
        json_out::integer(out, self.failed_record_count as i64);
        out.extend_from_slice(b",\"Records\":[");
        for (i, r) in self.records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match r {
                PutResult::Ok { shard, sequence } => {
                    out.extend_from_slice(b"{\"SequenceNumber\":\"");
                    sequence.write_to(out);
                    out.extend_from_slice(b"\",\"ShardId\":\"");
                    shard.write_to(out);
                    out.extend_from_slice(b"\"}");
                }
                PutResult::Failed { code, message } => {
                    out.extend_from_slice(b"{\"ErrorCode\":");
                    json_out::string(out, code);
                    out.extend_from_slice(b",\"ErrorMessage\":");
                    json_out::string(out, message);
                    out.push(b'}');
                }
            }
        }
        out.extend_from_slice(b"]}");
    }
}

/// The common case, checked without building any error path.
fn entry_is_valid(r: &Entry) -> bool {
    let pk_ok = r
        .partition_key
        .as_deref()
        .is_some_and(|pk| !pk.is_empty() && (pk.len() <= 256 || pk.chars().count() <= 256));
    let data_ok = r.data.as_ref().is_some_and(|d| d.0.len() <= MAX_DATA_BYTES);
    let key_ok = r
        .explicit_hash_key
        .as_deref()
        .is_none_or(crate::validate::is_hash_key_shape);
    pk_ok && data_ok && key_ok
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let at = Addressing {
        stream_name: input.stream_name,
        stream_arn: input.stream_arn,
        stream_id: input.stream_id,
    };
    let mut v = Violations::new();
    let mut explicit = Vec::new();
    if v.required("records", &input.records) {
        let records = input.records.as_deref().unwrap_or_default();
        let shown = format!(
            "[{}]",
            records
                .iter()
                .enumerate()
                .map(|(i, _)| format!(
                    "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@{:x}",
                    i + 1
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        v.list_len("records", records.len(), 1, MAX_PUT_RECORDS_ENTRIES, &shown);
        for (i, r) in records.iter().enumerate() {
            if entry_is_valid(r) {
                explicit.push(match &r.explicit_hash_key {
                    Some(k) => super::put_record::parse_hash_key(k).map(Some),
                    None => Ok(None),
                });
                continue;
            }
            let base = format!("records.{}.member", i + 1);
            if v.required(&format!("{base}.partitionKey"), &r.partition_key) {
                v.str_len(
                    &format!("{base}.partitionKey"),
                    r.partition_key.as_deref().unwrap_or(""),
                    1,
                    256,
                );
            }
            explicit.push(super::explicit_hash_key(
                &mut v,
                &format!("{base}.explicitHashKey"),
                &r.explicit_hash_key,
            ));
            if v.required(&format!("{base}.data"), &r.data) {
                v.blob_len(
                    &format!("{base}.data"),
                    r.data.as_ref().map_or(0, |d| d.0.len()),
                    MAX_DATA_BYTES,
                );
            }
        }
    }
    at.validate(&mut v);
    v.finish()?;

    let records = input.records.unwrap_or_default();
    let mut entries = Vec::with_capacity(records.len());
    for (r, hk) in records.iter().zip(explicit) {
        entries.push(PutEntry {
            partition_key: r.partition_key.as_deref().unwrap_or(""),
            explicit_hash_key: hk?,
            data: r.data.as_ref().map_or(&[][..], |d| &d.0),
        });
    }
    let (started, stream) = (Instant::now(), at.to_ref());
    let result = svc.put_records(&stream, &entries).await;
    metering::put_records(&svc, &stream, &entries, started, &result);
    let records = result?;
    Ok(Output {
        failed_record_count: records
            .iter()
            .filter(|r| matches!(r, PutResult::Failed { .. }))
            .count(),
        records,
    })
}
