//! StopStreamEncryption: back to EncryptionType NONE.

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
    encryption_type: Option<String>,
    key_id: Option<String>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    if v.required("encryptionType", &input.encryption_type) {
        v.one_of(
            "encryptionType",
            input.encryption_type.as_deref().unwrap_or(""),
            &["NONE", "KMS"],
        );
    }
    if v.required("keyId", &input.key_id) {
        v.str_len("keyId", input.key_id.as_deref().unwrap_or(""), 1, 2048);
    }
    input.at.validate(&mut v);
    v.finish()?;
    if input.encryption_type.as_deref() != Some("KMS") {
        return Err(ApiError::invalid_argument(
            "KMS is the only valid EncryptionType for this request.",
        ));
    }
    svc.stop_encryption(&input.at.to_ref())?;
    Ok(Empty {})
}
