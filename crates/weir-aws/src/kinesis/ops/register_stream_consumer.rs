//! RegisterStreamConsumer: a named enhanced fan-out consumer of a stream (CREATING, then ACTIVE),
//! plus the consumer shapes and model checks the other consumer operations share.

use crate::error::ApiError;
use crate::types::Timestamp;
use crate::validate::{self, Violations};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use weir_streams::{ConsumerView, StreamService};

pub(crate) const CONSUMER_ARN_PATTERN: &str = "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    consumer_name: Option<String>,
    stream_id: Option<String>,
    tags: Option<HashMap<String, String>>,
}

/// The model's `Consumer`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Consumer {
    consumer_name: String,
    #[serde(rename = "ConsumerARN")]
    consumer_arn: String,
    consumer_status: &'static str,
    consumer_creation_timestamp: Timestamp,
}

impl From<ConsumerView> for Consumer {
    fn from(c: ConsumerView) -> Self {
        Consumer {
            consumer_name: c.name,
            consumer_arn: c.arn,
            consumer_status: c.status.as_str(),
            consumer_creation_timestamp: Timestamp(c.created_millis),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    consumer: Consumer,
}

/// `^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+`
pub(crate) fn is_consumer_arn_shape(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:aws") else {
        return false;
    };
    let Some(k) = rest.find(":kinesis:") else {
        return false;
    };
    let after = &rest[k + ":kinesis:".len()..];
    let has_account = after
        .split(':')
        .skip(1)
        .any(|p| p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()));
    let Some(at) = after.rfind("stream/") else {
        return false;
    };
    let tail = &after[at + "stream/".len()..];
    let Some((stream, rest)) = tail.split_once("/consumer/") else {
        return false;
    };
    let Some((name, secs)) = rest.rsplit_once(':') else {
        return false;
    };
    has_account
        && validate::is_stream_name(stream)
        && validate::is_stream_name(name)
        && !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn validate_consumer_arn(v: &mut Violations, arn: &Option<String>) {
    if let Some(a) = arn {
        v.pattern(
            "consumerARN",
            a,
            is_consumer_arn_shape(a),
            CONSUMER_ARN_PATTERN,
        );
        v.str_len("consumerARN", a, 1, 2048);
    }
}

pub(crate) fn validate_consumer_name(v: &mut Violations, name: &Option<String>) {
    v.stream_name("consumerName", name);
}

pub(crate) fn validate_stream_id(v: &mut Violations, id: &Option<String>) {
    if let Some(id) = id {
        v.str_len("streamId", id, 1, 24);
    }
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    if v.required("streamARN", &input.stream_arn) {
        v.stream_arn("streamARN", &input.stream_arn);
    }
    if v.required("consumerName", &input.consumer_name) {
        validate_consumer_name(&mut v, &input.consumer_name);
    }
    validate_stream_id(&mut v, &input.stream_id);
    if let Some(tags) = &input.tags {
        super::validate_tag_map(&mut v, "tags", tags, 1);
    }
    v.finish()?;
    let c = svc.register_stream_consumer(
        input.stream_arn.as_deref().unwrap_or(""),
        input.consumer_name.as_deref().unwrap_or(""),
    )?;
    Ok(Output { consumer: c.into() })
}
