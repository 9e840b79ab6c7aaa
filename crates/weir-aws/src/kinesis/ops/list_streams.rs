//! ListStreams: stream names in order, with StreamSummaries and NextToken paging.

use crate::error::ApiError;
use crate::kinesis::shapes::StreamModeDetails;
use crate::types::Timestamp;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_streams::StreamService;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    limit: Option<i64>,
    exclusive_start_stream_name: Option<String>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    stream_names: Vec<String>,
    has_more_streams: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    stream_summaries: Vec<Summary>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_status: &'static str,
    stream_mode_details: StreamModeDetails,
    stream_creation_timestamp: Timestamp,
}

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let mut v = Violations::new();
    if let Some(l) = input.limit {
        v.range_i64("limit", l, 1, 10000);
    }
    v.stream_name(
        "exclusiveStartStreamName",
        &input.exclusive_start_stream_name,
    );
    if let Some(t) = &input.next_token {
        v.str_len("nextToken", t, 1, 1_048_576);
    }
    v.finish()?;
    if input.next_token.is_some() && input.exclusive_start_stream_name.is_some() {
        return Err(ApiError::invalid_argument(
            "NextToken and ExclusiveStartStreamName cannot be provided together.",
        ));
    }
    let l = svc.list_streams(
        input.limit.map(|l| l as u32),
        input.exclusive_start_stream_name.as_deref(),
        input.next_token.as_deref(),
    )?;
    Ok(Output {
        stream_names: l.names,
        has_more_streams: l.has_more,
        next_token: l.next_token,
        stream_summaries: l
            .summaries
            .into_iter()
            .map(|(name, arn, status, mode, created)| Summary {
                stream_name: name,
                stream_arn: arn,
                stream_status: status.as_str(),
                stream_mode_details: StreamModeDetails {
                    stream_mode: mode.as_str(),
                },
                stream_creation_timestamp: Timestamp(created),
            })
            .collect(),
    })
}
