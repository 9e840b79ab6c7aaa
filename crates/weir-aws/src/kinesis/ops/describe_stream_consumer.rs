//! DescribeStreamConsumer: one consumer, named by its ARN or by stream ARN and name.

use super::register_stream_consumer::{
    validate_consumer_arn, validate_consumer_name, validate_stream_id,
};
use crate::error::ApiError;
use crate::types::Timestamp;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_streams::{ConsumerRef, StreamService};

/// The addressing DescribeStreamConsumer and DeregisterStreamConsumer share.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "StreamARN")]
    pub(crate) stream_arn: Option<String>,
    pub(crate) consumer_name: Option<String>,
    #[serde(rename = "ConsumerARN")]
    pub(crate) consumer_arn: Option<String>,
    pub(crate) stream_id: Option<String>,
}

impl Input {
    pub(crate) fn validate(&self) -> Result<ConsumerRef, ApiError> {
        let mut v = Violations::new();
        v.stream_arn("streamARN", &self.stream_arn);
        validate_consumer_name(&mut v, &self.consumer_name);
        validate_consumer_arn(&mut v, &self.consumer_arn);
        validate_stream_id(&mut v, &self.stream_id);
        v.finish()?;
        Ok(ConsumerRef {
            consumer_arn: self.consumer_arn.clone(),
            stream_arn: self.stream_arn.clone(),
            consumer_name: self.consumer_name.clone(),
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConsumerDescription {
    consumer_name: String,
    #[serde(rename = "ConsumerARN")]
    consumer_arn: String,
    consumer_status: &'static str,
    consumer_creation_timestamp: Timestamp,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    consumer_description: ConsumerDescription,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let r = input.validate()?;
    let c = svc.describe_stream_consumer(&r)?;
    Ok(Output {
        consumer_description: ConsumerDescription {
            consumer_name: c.name,
            consumer_arn: c.arn,
            consumer_status: c.status.as_str(),
            consumer_creation_timestamp: Timestamp(c.created_millis),
            stream_arn: c.stream_arn,
        },
    })
}
