//! PutRecords: up to 500 records; each result says where its record went or why it failed.

use crate::error::ApiError;
use crate::kinesis::shapes::Addressing;
use crate::types::Blob;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
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

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    failed_record_count: usize,
    records: Vec<ResultEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_type: Option<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
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
    let results = svc.put_records(&at.to_ref(), &entries).await?;
    let mut failed = 0;
    let records = results
        .into_iter()
        .map(|r| match r {
            PutResult::Ok { shard, sequence } => ResultEntry {
                sequence_number: Some(sequence.to_string()),
                shard_id: Some(shard.to_string()),
                error_code: None,
                error_message: None,
            },
            PutResult::Failed { code, message } => {
                failed += 1;
                ResultEntry {
                    sequence_number: None,
                    shard_id: None,
                    error_code: Some(code),
                    error_message: Some(message),
                }
            }
        })
        .collect();
    Ok(Output {
        failed_record_count: failed,
        records,
        encryption_type: None,
    })
}
