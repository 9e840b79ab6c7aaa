//! UpdateMaxRecordSize: the stream's record size limit, 1024–10240 KiB.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::kinesis::shapes::Addressing;
use crate::validate::Violations;
use serde::Deserialize;
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(flatten)]
    at: Addressing,
    max_record_size_in_ki_b: Option<i64>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    if v.required("maxRecordSizeInKiB", &input.max_record_size_in_ki_b) {
        v.range_i64(
            "maxRecordSizeInKiB",
            input.max_record_size_in_ki_b.unwrap_or(0),
            1024,
            10240,
        );
    }
    input.at.validate(&mut v);
    v.finish()?;
    svc.update_max_record_size(
        &input.at.to_ref(),
        input.max_record_size_in_ki_b.unwrap_or(1024) as u32,
    )?;
    Ok(Empty {})
}
