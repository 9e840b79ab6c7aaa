//! DeleteStream: the stream turns DELETING, then disappears with its records.

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
    enforce_consumer_deletion: Option<bool>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    input.at.validate(&mut v);
    v.finish()?;
    svc.delete_stream(
        &input.at.to_ref(),
        input.enforce_consumer_deletion.unwrap_or(false),
    )?;
    Ok(Empty {})
}
