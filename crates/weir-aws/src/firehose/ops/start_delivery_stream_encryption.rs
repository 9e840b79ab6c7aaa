//! StartDeliveryStreamEncryption: server-side encryption on (records are already at rest in
//! weir's store; the status is what clients observe).

use crate::codec::Empty;
use crate::error::ApiError;
use crate::firehose::shapes::{self, Check};
use crate::validate::Violations;
use serde::Deserialize;
use serde_json::Value;
use weir_delivery::DeliveryService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    delivery_stream_name: Option<String>,
    delivery_stream_encryption_configuration_input: Option<Value>,
}

pub async fn handle(svc: DeliveryService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    shapes::delivery_stream_name(&mut v, &input.delivery_stream_name);
    let (mut key_type, mut key_arn) = (None, None);
    if let Some(e) = &input.delivery_stream_encryption_configuration_input {
        Check::object(e)?;
        let mut c = Check::new(&mut v, "deliveryStreamEncryptionConfigurationInput");
        key_type = c
            .enumeration(
                e,
                "KeyType",
                true,
                &["AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK"],
            )?
            .map(str::to_string);
        key_arn = c
            .string(
                e,
                "KeyARN",
                false,
                1,
                512,
                Some((shapes::is_kms_arn, shapes::KMS_ARN_PATTERN)),
            )?
            .map(str::to_string);
    }
    v.finish()?;
    if key_type.as_deref() == Some("CUSTOMER_MANAGED_CMK") && key_arn.is_none() {
        return Err(ApiError::invalid_argument(
            "KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.",
        ));
    }
    if key_type.as_deref() == Some("AWS_OWNED_CMK") && key_arn.is_some() {
        return Err(ApiError::invalid_argument(
            "KeyARN must not be specified when KeyType is AWS_OWNED_CMK.",
        ));
    }
    svc.start_encryption(
        input.delivery_stream_name.as_deref().unwrap_or(""),
        key_type,
        key_arn,
    )?;
    Ok(Empty {})
}
