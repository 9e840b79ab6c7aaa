//! ListStreamConsumers: a page of a stream's consumers, with NextToken.

use super::register_stream_consumer::{validate_stream_id, Consumer};
use crate::error::ApiError;
use crate::types::Timestamp;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    stream_creation_timestamp: Option<Timestamp>,
    stream_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    consumers: Vec<Consumer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    if v.required("streamARN", &input.stream_arn) {
        v.stream_arn("streamARN", &input.stream_arn);
    }
    if let Some(t) = &input.next_token {
        v.str_len("nextToken", t, 1, 1_048_576);
    }
    if let Some(m) = input.max_results {
        v.range_i64("maxResults", m, 1, 10000);
    }
    validate_stream_id(&mut v, &input.stream_id);
    v.finish()?;
    let (consumers, next_token) = svc.list_stream_consumers(
        input.stream_arn.as_deref().unwrap_or(""),
        input.next_token.as_deref(),
        input.max_results.map(|m| m as u32),
        input.stream_creation_timestamp.map(|t| t.0),
    )?;
    Ok(Output {
        consumers: consumers.into_iter().map(Consumer::from).collect(),
        next_token,
    })
}
