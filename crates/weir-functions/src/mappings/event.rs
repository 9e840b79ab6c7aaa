//! The Lambda Kinesis event, field for field, and the on-failure record.

use serde_json::{json, Value};
use weir_core::{SequenceNumber, ShardId};
use weir_storage::StoredRecord;

/// What every record of one shard's events shares.
pub(crate) struct EventSource<'a> {
    pub shard: u32,
    pub stream_arn: &'a str,
    pub region: &'a str,
    pub role: &'a str,
}

pub(crate) fn sequence_number(shard: u32, offset: u64) -> String {
    SequenceNumber::new(ShardId(shard), offset).to_string()
}

/// One entry of `Records`.
pub(crate) fn record(src: &EventSource<'_>, r: &StoredRecord) -> Value {
    let seq = sequence_number(src.shard, r.offset);
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": r.partition_key,
            "sequenceNumber": seq,
            "data": base64_simd::STANDARD.encode_to_string(&r.data),
            "approximateArrivalTimestamp": r.arrival_millis as f64 / 1000.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("{}:{seq}", ShardId(src.shard)),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": src.role,
        "awsRegion": src.region,
        "eventSourceARN": src.stream_arn,
    })
}

/// The event for a batch (records already rendered by [`record`]).
pub(crate) fn batch(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

/// The event of a tumbling-window invocation.
pub(crate) fn window_batch(
    src: &EventSource<'_>,
    records: Vec<Value>,
    window: (i64, i64),
    state: &Value,
    is_final: bool,
) -> Value {
    json!({
        "Records": records,
        "window": {"start": iso8601(window.0, false), "end": iso8601(window.1, false)},
        "state": state,
        "shardId": ShardId(src.shard).to_string(),
        "eventSourceARN": src.stream_arn,
        "isFinalInvokeForWindow": is_final,
        "isWindowTerminatedEarly": false,
    })
}

/// The record sent to an on-failure destination (the records themselves are not included).
pub(crate) struct Failure<'a> {
    pub request_id: &'a str,
    pub function_arn: &'a str,
    /// `RetryAttemptsExhausted` or `RecordAgeExceeded`.
    pub condition: &'a str,
    pub invoke_count: u32,
    pub function_error: Option<&'a str>,
    pub now_millis: i64,
}

pub(crate) fn failure_record(
    src: &EventSource<'_>,
    f: &Failure<'_>,
    batch: &[StoredRecord],
) -> Value {
    let first = batch.first();
    let last = batch.last();
    let mut response = json!({"statusCode": 200, "executedVersion": "$LATEST"});
    if let Some(e) = f.function_error {
        response["functionError"] = json!(e);
    }
    json!({
        "requestContext": {
            "requestId": f.request_id,
            "functionArn": f.function_arn,
            "condition": f.condition,
            "approximateInvokeCount": f.invoke_count,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": iso8601(f.now_millis, true),
        "KinesisBatchInfo": {
            "shardId": ShardId(src.shard).to_string(),
            "startSequenceNumber": first.map(|r| sequence_number(src.shard, r.offset)),
            "endSequenceNumber": last.map(|r| sequence_number(src.shard, r.offset)),
            "approximateArrivalOfFirstRecord": first.map(|r| iso8601(r.arrival_millis, true)),
            "approximateArrivalOfLastRecord": last.map(|r| iso8601(r.arrival_millis, true)),
            "batchSize": batch.len(),
            "streamArn": src.stream_arn,
        },
    })
}

/// `2019-11-14T00:38:06.021Z` (with milliseconds) or `2020-07-30T17:00:00Z`.
pub(crate) fn iso8601(millis: i64, with_millis: bool) -> String {
    let t = crate::service::lambda_timestamp(millis);
    // lambda_timestamp writes `YYYY-MM-DDTHH:MM:SS.mmm+0000`.
    let (base, rest) = t.split_at(19);
    if with_millis {
        format!("{base}{}Z", &rest[..4])
    } else {
        format!("{base}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_has_every_field_of_lambdas_kinesis_event() {
        let src = EventSource {
            shard: 6,
            stream_arn: "arn:aws:kinesis:us-east-1:000000000000:stream/s",
            region: "us-east-1",
            role: "arn:aws:iam::000000000000:role/r",
        };
        let r = StoredRecord {
            offset: 3,
            arrival_millis: 1_545_084_650_987,
            partition_key: "pk".into(),
            explicit_hash_key: None,
            data: bytes::Bytes::from_static(b"Hello, this is a test."),
        };
        let v = record(&src, &r);
        let seq = sequence_number(6, 3);
        assert_eq!(v["kinesis"]["data"], "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==");
        assert_eq!(v["kinesis"]["approximateArrivalTimestamp"], 1545084650.987);
        assert_eq!(v["eventID"], format!("shardId-000000000006:{seq}"));
        assert_eq!(v["kinesis"]["sequenceNumber"], seq);
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "awsRegion",
                "eventID",
                "eventName",
                "eventSource",
                "eventSourceARN",
                "eventVersion",
                "invokeIdentityArn",
                "kinesis"
            ]
        );
        assert_eq!(iso8601(1_573_691_886_021, true), "2019-11-14T00:38:06.021Z");
        assert_eq!(iso8601(1_596_128_400_000, false), "2020-07-30T17:00:00Z");
    }
}
