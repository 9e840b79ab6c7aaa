//! GetShardIterator: a position in a shard (TRIM_HORIZON, LATEST, AT/AFTER_SEQUENCE_NUMBER,
//! AT_TIMESTAMP) as an opaque iterator valid for five minutes.

use crate::error::ApiError;
use crate::kinesis::shapes::Addressing;
use crate::types::Timestamp;
use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_streams::{StartingPosition, StreamService};

/// The order AWS prints this enum in (not the model's order).
const ITERATOR_TYPES: [&str; 5] = [
    "AFTER_SEQUENCE_NUMBER",
    "LATEST",
    "AT_TIMESTAMP",
    "AT_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    shard_id: Option<String>,
    shard_iterator_type: Option<String>,
    starting_sequence_number: Option<String>,
    timestamp: Option<Timestamp>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    shard_iterator: String,
}

const MUST_EITHER: &str = "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber.";

pub async fn handle(svc: StreamService, input: Input) -> Result<Output, ApiError> {
    let at = Addressing {
        stream_name: input.stream_name,
        stream_arn: input.stream_arn,
        stream_id: input.stream_id,
    };
    let mut v = Violations::new();
    if v.required("shardId", &input.shard_id) {
        v.str_len("shardId", input.shard_id.as_deref().unwrap_or(""), 1, 128);
    }
    if v.required("shardIteratorType", &input.shard_iterator_type) {
        v.one_of(
            "shardIteratorType",
            input.shard_iterator_type.as_deref().unwrap_or(""),
            &ITERATOR_TYPES,
        );
    }
    v.sequence_number("startingSequenceNumber", &input.starting_sequence_number);
    at.validate(&mut v);
    v.finish()?;

    let kind = input.shard_iterator_type.unwrap_or_default();
    let seq = input.starting_sequence_number;
    let position = match (kind.as_str(), seq) {
        ("AT_SEQUENCE_NUMBER", Some(s)) => StartingPosition::AtSequenceNumber(s),
        ("AFTER_SEQUENCE_NUMBER", Some(s)) => StartingPosition::AfterSequenceNumber(s),
        ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => {
            return Err(ApiError::invalid_argument(format!(
                "{MUST_EITHER} Request specified {kind} and no StartingSequenceNumber."
            )))
        }
        ("TRIM_HORIZON" | "LATEST", Some(_)) => {
            return Err(ApiError::invalid_argument(format!(
                "{MUST_EITHER} Request specified {kind} and also a StartingSequenceNumber."
            )))
        }
        ("TRIM_HORIZON", None) => StartingPosition::TrimHorizon,
        ("LATEST", None) => StartingPosition::Latest,
        (_, _) => match input.timestamp {
            Some(t) => StartingPosition::AtTimestamp(t.0),
            None => {
                return Err(ApiError::invalid_argument(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.",
                ))
            }
        },
    };
    let shard_iterator = svc.get_shard_iterator(
        &at.to_ref(),
        input.shard_id.as_deref().unwrap_or(""),
        position,
    )?;
    Ok(Output { shard_iterator })
}
