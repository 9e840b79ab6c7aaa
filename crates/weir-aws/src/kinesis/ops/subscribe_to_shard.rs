//! SubscribeToShard: an `application/vnd.amazon.eventstream` response that stays open for the
//! subscription's lifetime and carries SubscribeToShardEvent messages as records become durable.
//!
//! Everything AWS checks before streaming (model, consumer, shard, position, a second
//! subscription) is answered as an ordinary error response. After that the answer is 200 and
//! the body is a sequence of event-stream messages: `initial-response` first, then events; an
//! error inside the stream is an `:message-type exception` message, after which the body ends.
//! Payloads use the request's encoding (JSON or CBOR).
//!
//! One task per subscription moves events from the [`Subscription`] into a channel of one
//! message that the response body drains. A client that stops reading stops the body, so the
//! channel stays full and the task stops reading the store: memory per subscription is bounded
//! by a couple of events, and producers never wait on consumers.

use crate::codec::{self, Encoding};
use crate::error::ApiError;
use crate::eventstream;
use crate::json_out;
use crate::kinesis::shapes::ChildShard;
use crate::server::Body;
use crate::types::{BlobOut, Timestamp};
use crate::validate::Violations;
use bytes::Bytes;
use http::{HeaderValue, Response};
use http_body_util::BodyExt;
use hyper::body::Frame;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use weir_core::SequenceNumber;
use weir_streams::{ShardEvent, StartingPosition, StreamService, Subscription};

use super::register_stream_consumer::{validate_consumer_arn, validate_stream_id};

pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// ShardIteratorType, in the order AWS prints it.
const POSITION_TYPES: [&str; 5] = [
    "AFTER_SEQUENCE_NUMBER",
    "LATEST",
    "AT_TIMESTAMP",
    "AT_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "ConsumerARN")]
    consumer_arn: Option<String>,
    shard_id: Option<String>,
    starting_position: Option<StartingPositionIn>,
    stream_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartingPositionIn {
    #[serde(rename = "Type")]
    kind: Option<String>,
    sequence_number: Option<String>,
    timestamp: Option<Timestamp>,
}

const MUST_EITHER: &str = "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and SequenceNumber or (2) TRIM_HORIZON, LATEST or AT_TIMESTAMP and no SequenceNumber.";

/// Validates the request and starts the subscription.
pub fn handle(svc: &StreamService, input: Input) -> Result<Subscription, ApiError> {
    let mut v = Violations::new();
    if v.required("consumerARN", &input.consumer_arn) {
        validate_consumer_arn(&mut v, &input.consumer_arn);
    }
    if v.required("shardId", &input.shard_id) {
        v.shard_id("shardId", &input.shard_id);
    }
    if v.required("startingPosition", &input.starting_position) {
        let p = input.starting_position.as_ref().expect("checked");
        if v.required("startingPosition.type", &p.kind) {
            v.one_of(
                "startingPosition.type",
                p.kind.as_deref().unwrap_or(""),
                &POSITION_TYPES,
            );
        }
        v.sequence_number("startingPosition.sequenceNumber", &p.sequence_number);
    }
    validate_stream_id(&mut v, &input.stream_id);
    v.finish()?;
    let p = input.starting_position.expect("checked");
    let kind = p.kind.unwrap_or_default();
    let position = match (kind.as_str(), p.sequence_number) {
        ("AT_SEQUENCE_NUMBER", Some(s)) => StartingPosition::AtSequenceNumber(s),
        ("AFTER_SEQUENCE_NUMBER", Some(s)) => StartingPosition::AfterSequenceNumber(s),
        ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => {
            return Err(ApiError::invalid_argument(format!(
                "{MUST_EITHER} Request specified {kind} and no SequenceNumber."
            )))
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid_argument(format!(
                "{MUST_EITHER} Request specified {kind} and also a SequenceNumber."
            )))
        }
        ("TRIM_HORIZON", None) => StartingPosition::TrimHorizon,
        ("LATEST", None) => StartingPosition::Latest,
        (_, None) => match p.timestamp {
            Some(t) => StartingPosition::AtTimestamp(t.0),
            None => {
                return Err(ApiError::invalid_argument(
                    "Must specify timestampInMillis parameter for subscription of type AT_TIMESTAMP. Current request has no timestamp parameter.",
                ))
            }
        },
    };
    Ok(svc.subscribe_to_shard(
        input.consumer_arn.as_deref().unwrap_or(""),
        input.shard_id.as_deref().unwrap_or(""),
        position,
    )?)
}

/// Decodes, validates and starts a subscription; the 200 response streams its events.
pub async fn respond(
    svc: &StreamService,
    enc: Encoding,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let input: Input = codec::decode(enc, body)?;
    let sub = handle(svc, input)?;
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(pump(sub, enc, tx));
    let mut resp = Response::new(EventStreamBody { rx }.boxed());
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE),
    );
    Ok(resp)
}

/// Moves events into the body until the subscription ends or the client goes away.
async fn pump(mut sub: Subscription, enc: Encoding, tx: mpsc::Sender<Bytes>) {
    let content_type = enc.content_type();
    let initial = eventstream::event(
        "initial-response",
        content_type,
        &codec::encode(enc, &codec::Empty {}),
    );
    // A client that stops reading holds the send; past the lifetime, or at shutdown, weir
    // gives up on it.
    let deadline = sub.deadline();
    let shutdown = sub.shutdown_signal();
    let send = |frame: Bytes| {
        let tx = tx.clone();
        let mut shutdown = shutdown.clone();
        async move {
            tokio::select! {
                sent = tx.send(frame) => sent.is_ok(),
                _ = tokio::time::sleep_until(deadline) => false,
                _ = shutdown.wait_for(|stop| *stop) => false,
            }
        }
    };
    if send(initial).await {
        loop {
            let item = tokio::select! {
                item = sub.next() => item,
                _ = tx.closed() => break,
            };
            let frame = match item {
                None => break,
                Some(Ok(event)) => eventstream::event(
                    "SubscribeToShardEvent",
                    content_type,
                    &encode_event(enc, &event),
                ),
                Some(Err(e)) => {
                    let e = ApiError::from(e);
                    let payload = codec::encode(
                        enc,
                        &ExceptionBody {
                            message: &e.message,
                        },
                    );
                    let _ = send(eventstream::exception(e.code, content_type, &payload)).await;
                    break;
                }
            };
            if !send(frame).await {
                break;
            }
        }
    }
    // Unregister before the body ends, so that a client resubscribing at once is not refused.
    drop(sub);
    drop(tx);
}

#[derive(Serialize)]
struct ExceptionBody<'a> {
    message: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EventView {
    records: Vec<RecordView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_sequence_number: Option<String>,
    millis_behind_latest: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_shards: Option<Vec<ChildShard>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RecordView {
    sequence_number: String,
    approximate_arrival_timestamp: Timestamp,
    data: BlobOut,
    partition_key: String,
}

fn child_shards(e: &ShardEvent) -> Option<Vec<ChildShard>> {
    (!e.child_shards.is_empty()).then(|| {
        e.child_shards
            .iter()
            .cloned()
            .map(ChildShard::from)
            .collect()
    })
}

/// One event's payload: hand-written JSON (no per-record allocation), serde for CBOR.
pub fn encode_event(enc: Encoding, e: &ShardEvent) -> Vec<u8> {
    match enc {
        Encoding::Json => {
            let data: usize = e.records.iter().map(|r| r.data.len()).sum();
            let mut out = Vec::with_capacity(128 + data / 3 * 4 + e.records.len() * 140);
            out.extend_from_slice(b"{\"Records\":[");
            for (i, r) in e.records.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"SequenceNumber\":\"");
                SequenceNumber::new(e.shard, r.offset).write_to(&mut out);
                out.extend_from_slice(b"\",\"ApproximateArrivalTimestamp\":");
                json_out::epoch_seconds(&mut out, r.arrival_millis);
                out.extend_from_slice(b",\"Data\":");
                json_out::base64(&mut out, &r.data);
                out.extend_from_slice(b",\"PartitionKey\":");
                json_out::string(&mut out, &r.partition_key);
                out.push(b'}');
            }
            out.push(b']');
            if let Some(c) = &e.continuation_sequence_number {
                out.extend_from_slice(b",\"ContinuationSequenceNumber\":");
                json_out::string(&mut out, c);
            }
            out.extend_from_slice(b",\"MillisBehindLatest\":");
            json_out::integer(&mut out, e.millis_behind_latest);
            if let Some(children) = child_shards(e) {
                out.extend_from_slice(b",\"ChildShards\":");
                let _ = serde_json::to_writer(&mut out, &children);
            }
            out.push(b'}');
            out
        }
        Encoding::Cbor => codec::encode(
            enc,
            &EventView {
                records: e
                    .records
                    .iter()
                    .map(|r| RecordView {
                        sequence_number: SequenceNumber::new(e.shard, r.offset).to_string(),
                        approximate_arrival_timestamp: Timestamp(r.arrival_millis),
                        data: BlobOut(r.data.clone()),
                        partition_key: r.partition_key.clone(),
                    })
                    .collect(),
                continuation_sequence_number: e.continuation_sequence_number.clone(),
                millis_behind_latest: e.millis_behind_latest,
                child_shards: child_shards(e),
            },
        ),
    }
}

/// The response body: event-stream messages as the pump produces them (HTTP/1.1 chunked or
/// HTTP/2 DATA frames; hyper picks by the connection).
struct EventStreamBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for EventStreamBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}
