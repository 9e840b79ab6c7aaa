//! PutRecord: one record, acknowledged once durable in weir.

use crate::error::ApiError;
use crate::firehose::shapes;
use crate::types::Blob;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_delivery::DeliveryService;

/// AWS's per-record limit: 1,000 KiB before base64.
pub const MAX_RECORD_BYTES: usize = 1_024_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordIn {
    pub data: Option<Blob>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    delivery_stream_name: Option<String>,
    record: Option<RecordIn>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    record_id: String,
    encrypted: bool,
}

pub async fn handle(svc: DeliveryService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    shapes::delivery_stream_name(&mut v, &input.delivery_stream_name);
    if v.required("record", &input.record) {
        let r = input.record.as_ref();
        let data = r.and_then(|r| r.data.as_ref());
        if v.required("record.data", &data) {
            v.blob_len(
                "record.data",
                data.map_or(0, |d| d.0.len()),
                MAX_RECORD_BYTES,
            );
        }
    }
    v.finish()?;
    let name = input.delivery_stream_name.unwrap_or_default();
    let data = input.record.and_then(|r| r.data).unwrap_or_default();
    let mut out = svc.put_records(&name, &[&data.0]).await?;
    match out.pop() {
        Some(Ok(id)) => Ok(Output {
            record_id: id,
            encrypted: svc.encrypted(&name),
        }),
        Some(Err((code, message))) if code == "ServiceUnavailableException" => {
            Err(ApiError::new("ServiceUnavailableException", message))
        }
        _ => Err(ApiError::internal("")),
    }
}
