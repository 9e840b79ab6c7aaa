//! PutRecordBatch: up to 500 records and 4 MiB, each acknowledged or failed on its own.

use super::put_record::{RecordIn, MAX_RECORD_BYTES};
use crate::error::ApiError;
use crate::firehose::shapes;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_delivery::DeliveryService;

pub const MAX_RECORDS: usize = 500;
pub const MAX_BATCH_BYTES: usize = 4 << 20;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    delivery_stream_name: Option<String>,
    records: Option<Vec<RecordIn>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    #[serde(skip_serializing_if = "Option::is_none")]
    record_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    failed_put_count: usize,
    encrypted: bool,
    request_responses: Vec<Entry>,
}

pub async fn handle(svc: DeliveryService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    shapes::delivery_stream_name(&mut v, &input.delivery_stream_name);
    if v.required("records", &input.records) {
        let records = input.records.as_deref().unwrap_or(&[]);
        v.list_len(
            "records",
            records.len(),
            1,
            MAX_RECORDS,
            &format!("{} records", records.len()),
        );
        for (i, r) in records.iter().enumerate() {
            let path = format!("records.{}.member.data", i + 1);
            if v.required(&path, &r.data) {
                v.blob_len(
                    &path,
                    r.data.as_ref().map_or(0, |d| d.0.len()),
                    MAX_RECORD_BYTES,
                );
            }
        }
    }
    v.finish()?;
    let records = input.records.unwrap_or_default();
    let total: usize = records
        .iter()
        .map(|r| r.data.as_ref().map_or(0, |d| d.0.len()))
        .sum();
    if total > MAX_BATCH_BYTES {
        // AWS's text, as producers have logged it.
        return Err(ApiError::invalid_argument(
            "Records size exceeds 4 MB limit",
        ));
    }
    let name = input.delivery_stream_name.unwrap_or_default();
    let data: Vec<&[u8]> = records
        .iter()
        .map(|r| r.data.as_ref().map_or(&[][..], |d| d.0.as_slice()))
        .collect();
    let outcomes = svc.put_records(&name, &data).await?;
    let mut failed = 0;
    let request_responses = outcomes
        .into_iter()
        .map(|o| match o {
            Ok(id) => Entry {
                record_id: Some(id),
                error_code: None,
                error_message: None,
            },
            Err((code, message)) => {
                failed += 1;
                Entry {
                    record_id: None,
                    error_code: Some(code),
                    error_message: Some(message),
                }
            }
        })
        .collect();
    Ok(Output {
        failed_put_count: failed,
        encrypted: svc.encrypted(&name),
        request_responses,
    })
}
