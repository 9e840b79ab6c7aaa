//! CreateDeliveryStream: DirectPut or KinesisStreamAsSource, into an (Extended)S3 or HTTP
//! endpoint destination. The stream is CREATING for a moment, then ACTIVE.

use crate::error::ApiError;
use crate::firehose::shapes::{self, Check, TagIn};
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use weir_delivery::model::DeliveryStreamType;
use weir_delivery::{CreateRequest, DeliveryService, DestinationConfig};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    delivery_stream_name: Option<String>,
    delivery_stream_type: Option<String>,
    direct_put_source_configuration: Option<Value>,
    kinesis_stream_source_configuration: Option<Value>,
    delivery_stream_encryption_configuration_input: Option<Value>,
    s3_destination_configuration: Option<Value>,
    #[serde(rename = "ExtendedS3DestinationConfiguration")]
    extended_s3_destination_configuration: Option<Value>,
    http_endpoint_destination_configuration: Option<Value>,
    tags: Option<Vec<TagIn>>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    #[serde(rename = "DeliveryStreamARN")]
    delivery_stream_arn: String,
}

/// Destinations of the model that weir does not deliver to.
const UNSUPPORTED: &[&str] = &[
    "RedshiftDestinationConfiguration",
    "ElasticsearchDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration",
    "SplunkDestinationConfiguration",
    "AmazonOpenSearchServerlessDestinationConfiguration",
    "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
];

pub async fn handle(svc: DeliveryService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    shapes::delivery_stream_name(&mut v, &input.delivery_stream_name);
    let ty = input.delivery_stream_type.clone();
    if let Some(t) = &ty {
        v.one_of(
            "deliveryStreamType",
            t,
            &[
                "DirectPut",
                "KinesisStreamAsSource",
                "MSKAsSource",
                "DatabaseAsSource",
            ],
        );
    }
    if let Some(k) = &input.kinesis_stream_source_configuration {
        Check::object(k)?;
        let mut c = Check::new(&mut v, "kinesisStreamSourceConfiguration");
        c.string(
            k,
            "KinesisStreamARN",
            true,
            1,
            512,
            Some((shapes::is_kinesis_arn, shapes::KINESIS_ARN_PATTERN)),
        )?;
        c.string(
            k,
            "RoleARN",
            true,
            1,
            512,
            Some((shapes::is_role_arn, shapes::ROLE_ARN_PATTERN)),
        )?;
    }
    let mut hint = None;
    if let Some(d) = &input.direct_put_source_configuration {
        Check::object(d)?;
        hint = Check::new(&mut v, "directPutSourceConfiguration").int(
            d,
            "ThroughputHintInMBs",
            true,
            1,
            100,
        )?;
    }
    let mut encryption = None;
    if let Some(e) = &input.delivery_stream_encryption_configuration_input {
        Check::object(e)?;
        let mut c = Check::new(&mut v, "deliveryStreamEncryptionConfigurationInput");
        let kt = c.enumeration(
            e,
            "KeyType",
            true,
            &["AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK"],
        )?;
        let ka = c.string(
            e,
            "KeyARN",
            false,
            1,
            512,
            Some((shapes::is_kms_arn, shapes::KMS_ARN_PATTERN)),
        )?;
        encryption = kt.map(|k| (k.to_string(), ka.map(str::to_string)));
    }
    if let Some(s) = &input.s3_destination_configuration {
        Check::object(s)?;
        shapes::s3_configuration(
            &mut Check::new(&mut v, "s3DestinationConfiguration"),
            s,
            false,
        )?;
    }
    if let Some(s) = &input.extended_s3_destination_configuration {
        Check::object(s)?;
        shapes::extended_s3(
            &mut Check::new(&mut v, "extendedS3DestinationConfiguration"),
            s,
            false,
        )?;
    }
    if let Some(h) = &input.http_endpoint_destination_configuration {
        Check::object(h)?;
        shapes::http_endpoint(
            &mut Check::new(&mut v, "httpEndpointDestinationConfiguration"),
            h,
            false,
        )?;
    }
    if let Some(tags) = &input.tags {
        shapes::tags(&mut v, "tags", tags, 1);
    }
    v.finish()?;
    let name = input.delivery_stream_name.unwrap_or_default();
    let stream_type = match ty.as_deref() {
        None | Some("DirectPut") => DeliveryStreamType::DirectPut,
        Some("KinesisStreamAsSource") => DeliveryStreamType::KinesisStreamAsSource,
        Some(other) => {
            return Err(ApiError::invalid_argument(format!(
                "DeliveryStreamType {other} is not supported by this server."
            )))
        }
    };
    let mut given = Vec::new();
    if let Some(s) = input.s3_destination_configuration {
        given.push(DestinationConfig::S3(s));
    }
    if let Some(s) = input.extended_s3_destination_configuration {
        given.push(DestinationConfig::ExtendedS3(s));
    }
    if let Some(h) = input.http_endpoint_destination_configuration {
        given.push(DestinationConfig::HttpEndpoint(h));
    }
    let unsupported: Vec<&str> = UNSUPPORTED
        .iter()
        .copied()
        .filter(|k| input.other.get(*k).is_some_and(|x| !x.is_null()))
        .collect();
    if given.len() + unsupported.len() > 1 {
        return Err(ApiError::invalid_argument(
            "Exactly one destination configuration is supported for a Firehose",
        ));
    }
    if let Some(u) = unsupported.first() {
        return Err(ApiError::invalid_argument(format!(
            "{u} is not supported by this server; use ExtendedS3DestinationConfiguration or HttpEndpointDestinationConfiguration."
        )));
    }
    let Some(destination) = given.pop() else {
        return Err(ApiError::invalid_argument(
            "Exactly one destination configuration is supported for a Firehose",
        ));
    };
    let kinesis_source = input.kinesis_stream_source_configuration.map(|k| {
        (
            k.get("KinesisStreamARN")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            k.get("RoleARN")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )
    });
    let tags = input
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    let arn = svc.create(CreateRequest {
        name,
        stream_type,
        kinesis_source,
        throughput_hint_mbs: hint.map(|h| h as u32),
        destination,
        tags,
        encryption,
    })?;
    Ok(Output {
        delivery_stream_arn: arn,
    })
}
