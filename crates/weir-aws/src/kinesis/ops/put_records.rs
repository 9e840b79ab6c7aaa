//! PutRecords: up to 500 records; each result says where its record went or why it failed.
//!
//! The hottest request weir takes, so its input is read without a copy per record: partition
//! keys borrow from the body, and the base64 data of every record is decoded into one buffer
//! for the whole request ([`Records`]) instead of one allocation per record.

use crate::codec::{self, Encoding};
use crate::error::ApiError;
use crate::json_out;
use crate::kinesis::shapes::Addressing;
use crate::metering;
use crate::types::{Blob, RawBlob};
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::ops::Range;
use std::time::Instant;
use weir_core::limits::{MAX_DATA_BYTES, MAX_PUT_RECORDS_ENTRIES};
use weir_streams::{PutEntry, PutResult, StreamService};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input<'a> {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    #[serde(borrow)]
    records: Option<Vec<Entry<'a>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry<'a> {
    #[serde(borrow)]
    data: Option<RawBlob<'a>>,
    #[serde(borrow)]
    partition_key: Option<Cow<'a, str>>,
    explicit_hash_key: Option<String>,
}

/// The CBOR twin of [`Input`]: ciborium only decodes into owned values (and CBOR blobs arrive
/// as bytes, with nothing to decode).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CborInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    records: Option<Vec<CborEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CborEntry {
    data: Option<Blob>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
}

impl From<CborInput> for Input<'static> {
    fn from(c: CborInput) -> Self {
        Input {
            stream_name: c.stream_name,
            stream_arn: c.stream_arn,
            stream_id: c.stream_id,
            records: c.records.map(|rs| {
                rs.into_iter()
                    .map(|r| Entry {
                        data: r.data.map(|b| RawBlob::Bytes(b.0)),
                        partition_key: r.partition_key.map(Cow::Owned),
                        explicit_hash_key: r.explicit_hash_key,
                    })
                    .collect()
            }),
        }
    }
}

/// The records of a request with their data decoded into one buffer.
struct Records<'a> {
    entries: Vec<Entry<'a>>,
    data: Vec<u8>,
    /// Where each entry's data lies in `data` (`None`: the entry had no data).
    spans: Vec<Option<Range<usize>>>,
}

impl<'a> Records<'a> {
    /// Decodes every record's data, failing on the first bad base64 string as AWS does.
    fn decode(entries: Vec<Entry<'a>>) -> Result<Self, ApiError> {
        let capacity = entries
            .iter()
            .filter_map(|e| e.data.as_ref())
            .map(RawBlob::max_decoded_len)
            .sum();
        let mut data = Vec::with_capacity(capacity);
        let mut spans = Vec::with_capacity(entries.len());
        for e in &entries {
            spans.push(match &e.data {
                Some(blob) => {
                    let start = data.len();
                    blob.decode_into(&mut data)
                        .map_err(|msg| codec::decode_error(&msg))?;
                    Some(start..data.len())
                }
                None => None,
            });
        }
        Ok(Records {
            entries,
            data,
            spans,
        })
    }

    fn data(&self, i: usize) -> Option<&[u8]> {
        self.spans[i].clone().map(|r| &self.data[r])
    }
}

/// Decodes a PutRecords body (its records' data stays base64 until [`handle`]).
pub fn decode(enc: Encoding, body: &[u8]) -> Result<Input<'_>, ApiError> {
    Ok(match enc {
        Encoding::Json => codec::decode_json(body)?,
        Encoding::Cbor => codec::decode::<CborInput>(enc, body)?.into(),
    })
}

/// Decodes a PutRecords body, runs it and encodes the answer (JSON by hand, see [`Output`]).
pub async fn call(svc: &StreamService, enc: Encoding, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let output = handle(svc.clone(), decode(enc, body)?).await?;
    Ok(match enc {
        Encoding::Json => {
            let mut out = Vec::new();
            output.write_json(&mut out);
            out
        }
        Encoding::Cbor => codec::encode(enc, &output),
    })
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
fn entry_is_valid(r: &Entry<'_>, data: Option<&[u8]>) -> bool {
    let pk_ok = r
        .partition_key
        .as_deref()
        .is_some_and(|pk| !pk.is_empty() && (pk.len() <= 256 || pk.chars().count() <= 256));
    let data_ok = data.is_some_and(|d| d.len() <= MAX_DATA_BYTES);
    let key_ok = r
        .explicit_hash_key
        .as_deref()
        .is_none_or(crate::validate::is_hash_key_shape);
    pk_ok && data_ok && key_ok
}

pub async fn handle(svc: StreamService, input: Input<'_>) -> Result<Output, ApiError> {
    let at = Addressing {
        stream_name: input.stream_name,
        stream_arn: input.stream_arn,
        stream_id: input.stream_id,
    };
    let given = input.records.is_some();
    let records = Records::decode(input.records.unwrap_or_default())?;
    let mut v = Violations::new();
    let mut explicit = Vec::new();
    let count = records.entries.len();
    if v.required("records", &given.then_some(()))
        && !(1..=MAX_PUT_RECORDS_ENTRIES).contains(&count)
    {
        // Only an out-of-range list is shown, as AWS shows it (Java's default toString).
        let shown = format!(
            "[{}]",
            (0..count)
                .map(|i| format!(
                    "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@{:x}",
                    i + 1
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        v.list_len("records", count, 1, MAX_PUT_RECORDS_ENTRIES, &shown);
    }
    if given {
        for (i, r) in records.entries.iter().enumerate() {
            let data = records.data(i);
            if entry_is_valid(r, data) {
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
            if v.required(&format!("{base}.data"), &data) {
                v.blob_len(
                    &format!("{base}.data"),
                    data.map_or(0, <[u8]>::len),
                    MAX_DATA_BYTES,
                );
            }
        }
    }
    at.validate(&mut v);
    v.finish()?;

    let mut entries = Vec::with_capacity(records.entries.len());
    for (i, (r, hk)) in records.entries.iter().zip(explicit).enumerate() {
        entries.push(PutEntry {
            partition_key: r.partition_key.as_deref().unwrap_or(""),
            explicit_hash_key: hk?,
            data: records.data(i).unwrap_or_default(),
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
