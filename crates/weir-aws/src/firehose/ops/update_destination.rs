//! UpdateDestination: compare-and-set on CurrentDeliveryStreamVersionId; VersionId + 1.

use crate::codec::Empty;
use crate::error::ApiError;
use crate::firehose::shapes::{self, Check};
use crate::validate::Violations;
use serde::Deserialize;
use serde_json::Value;
use weir_delivery::{DeliveryService, DestinationUpdate};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    delivery_stream_name: Option<String>,
    current_delivery_stream_version_id: Option<String>,
    destination_id: Option<String>,
    s3_destination_update: Option<Value>,
    #[serde(rename = "ExtendedS3DestinationUpdate")]
    extended_s3_destination_update: Option<Value>,
    http_endpoint_destination_update: Option<Value>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

fn version_id_ok(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

pub async fn handle(svc: DeliveryService, input: Input) -> Result<Empty, ApiError> {
    let mut v = Violations::new();
    shapes::delivery_stream_name(&mut v, &input.delivery_stream_name);
    if v.required(
        "currentDeliveryStreamVersionId",
        &input.current_delivery_stream_version_id,
    ) {
        let s = input
            .current_delivery_stream_version_id
            .as_deref()
            .unwrap_or("");
        v.pattern(
            "currentDeliveryStreamVersionId",
            s,
            version_id_ok(s),
            "[0-9]+",
        );
        v.str_len("currentDeliveryStreamVersionId", s, 1, 50);
    }
    if v.required("destinationId", &input.destination_id) {
        let s = input.destination_id.as_deref().unwrap_or("");
        v.str_len("destinationId", s, 1, 100);
    }
    if let Some(s) = &input.s3_destination_update {
        Check::object(s)?;
        shapes::s3_configuration(&mut Check::new(&mut v, "s3DestinationUpdate"), s, true)?;
    }
    if let Some(s) = &input.extended_s3_destination_update {
        Check::object(s)?;
        shapes::extended_s3(
            &mut Check::new(&mut v, "extendedS3DestinationUpdate"),
            s,
            true,
        )?;
    }
    if let Some(h) = &input.http_endpoint_destination_update {
        Check::object(h)?;
        shapes::http_endpoint(
            &mut Check::new(&mut v, "httpEndpointDestinationUpdate"),
            h,
            true,
        )?;
    }
    v.finish()?;
    let mut updates = Vec::new();
    if let Some(s) = input.s3_destination_update {
        updates.push(DestinationUpdate::S3(s));
    }
    if let Some(s) = input.extended_s3_destination_update {
        updates.push(DestinationUpdate::ExtendedS3(s));
    }
    if let Some(h) = input.http_endpoint_destination_update {
        updates.push(DestinationUpdate::HttpEndpoint(h));
    }
    let others = input
        .other
        .iter()
        .filter(|(k, x)| k.ends_with("DestinationUpdate") && !x.is_null())
        .count();
    if updates.len() + others != 1 {
        return Err(ApiError::invalid_argument(
            "Exactly one destination update is supported for a Firehose",
        ));
    }
    let Some(update) = updates.pop() else {
        return Err(ApiError::invalid_argument(
            "Changing the destination type to or from an unsupported destination is not supported at this time.",
        ));
    };
    svc.update_destination(
        input.delivery_stream_name.as_deref().unwrap_or(""),
        input
            .current_delivery_stream_version_id
            .as_deref()
            .unwrap_or(""),
        input.destination_id.as_deref().unwrap_or(""),
        update,
    )
    .await?;
    Ok(Empty {})
}
