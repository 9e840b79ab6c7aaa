//! Hostile input: every class of malformed request — deep nesting, huge numbers, invalid UTF-8,
//! nulls where values belong, a wrong type for every member of the data-plane and control-plane
//! operations, truncated and garbage bodies, clients that vanish mid-body — gets an AWS-style 4xx
//! with the right error type (or a clean close), and afterwards the server is healthy: `/health`
//! answers, a normal write and read work, and no operation panicked.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

/// Sends a raw body to `op` and returns (status, `__type`).
async fn send(server: &Server, raw: &RawClient, op: &str, body: Vec<u8>) -> (u16, String) {
    let resp = RawRequest::new(op, JSON, body)
        .send(raw, &server.endpoint())
        .await;
    let kind = resp
        .header("x-amzn-errortype")
        .map(str::to_string)
        .unwrap_or_default();
    (resp.status.as_u16(), kind)
}

async fn expect(server: &Server, raw: &RawClient, op: &str, body: Vec<u8>, want: &str) {
    let shown = String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned();
    let (status, kind) = send(server, raw, op, body).await;
    assert_eq!(
        (status, kind.as_str()),
        (400, want),
        "{op} with {shown:?}: expected a 400 {want}"
    );
}

/// The server still answers, still takes a write and returns it, and nothing has panicked.
async fn assert_healthy(server: &Server, raw: &RawClient, stream: &str) {
    let health = raw
        .get(format!("{}/health", server.endpoint()).parse().unwrap())
        .await
        .expect("/health answers");
    assert_eq!(health.status(), 200);
    let put = RawRequest::json(
        "PutRecord",
        &json!({"StreamName": stream, "PartitionKey": "pk", "Data": "aGVhbHRoeQ=="}),
    )
    .send(raw, &server.endpoint())
    .await;
    assert_eq!(put.status, 200, "a normal PutRecord: {}", put.text());
    let text = get_text(raw, &format!("{}/metrics", server.endpoint())).await;
    let panics = text
        .lines()
        .find(|l| l.starts_with("weir_request_handler_panics_total "))
        .expect("the panic counter is exported");
    assert!(panics.ends_with(" 0"), "an operation panicked: {panics}");
}

async fn get_text(raw: &RawClient, url: &str) -> String {
    use http_body_util::BodyExt;
    let resp = raw.get(url.parse().unwrap()).await.expect("GET");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

/// A valid body for each operation; the wrong-type sweep replaces one member at a time.
fn valid_bodies(stream: &str) -> Vec<(&'static str, Value)> {
    let arn = stream_arn(stream);
    vec![
        (
            "PutRecord",
            json!({"StreamName": stream, "PartitionKey": "pk", "Data": "eA==",
                   "ExplicitHashKey": "1", "SequenceNumberForOrdering": "1"}),
        ),
        (
            "PutRecords",
            json!({"StreamName": stream,
                   "Records": [{"PartitionKey": "pk", "Data": "eA==", "ExplicitHashKey": "1"}]}),
        ),
        (
            "CreateStream",
            json!({"StreamName": "hostile-new", "ShardCount": 1,
                   "StreamModeDetails": {"StreamMode": "PROVISIONED"}, "Tags": {"k": "v"}}),
        ),
        (
            "GetShardIterator",
            json!({"StreamName": stream, "ShardId": "shardId-000000000000",
                   "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": "1",
                   "Timestamp": 1.5}),
        ),
        (
            "GetRecords",
            json!({"ShardIterator": "AAAA", "Limit": 10, "StreamARN": arn}),
        ),
        (
            "ListShards",
            json!({"StreamName": stream, "MaxResults": 5,
                   "ShardFilter": {"Type": "AT_TRIM_HORIZON", "ShardId": "shardId-000000000000",
                                   "Timestamp": 1.5}}),
        ),
        (
            "DescribeStream",
            json!({"StreamName": stream, "Limit": 1, "ExclusiveStartShardId": "shardId-0"}),
        ),
        (
            "ListStreams",
            json!({"Limit": 1, "ExclusiveStartStreamName": "a", "NextToken": "x"}),
        ),
        (
            "SplitShard",
            json!({"StreamName": stream, "ShardToSplit": "shardId-000000000000",
                   "NewStartingHashKey": "100"}),
        ),
        (
            "UpdateShardCount",
            json!({"StreamName": stream, "TargetShardCount": 2, "ScalingType": "UNIFORM_SCALING"}),
        ),
        (
            "AddTagsToStream",
            json!({"StreamName": stream, "Tags": {"k": "v"}}),
        ),
        (
            "RemoveTagsFromStream",
            json!({"StreamName": stream, "TagKeys": ["k"]}),
        ),
        (
            "IncreaseStreamRetentionPeriod",
            json!({"StreamName": stream, "RetentionPeriodHours": 48}),
        ),
        (
            "EnableEnhancedMonitoring",
            json!({"StreamName": stream, "ShardLevelMetrics": ["IncomingBytes"]}),
        ),
        (
            "RegisterStreamConsumer",
            json!({"StreamARN": arn, "ConsumerName": "c"}),
        ),
    ]
}

/// A value of another JSON type than `v`'s (objects and arrays get a scalar, scalars a container).
fn wrong_types(v: &Value) -> Vec<Value> {
    match v {
        Value::String(_) => vec![json!(12), json!(true), json!({"a": 1}), json!(["x"])],
        Value::Number(_) => vec![json!("12x"), json!(true), json!({"a": 1}), json!([1])],
        Value::Bool(_) => vec![json!("true"), json!(1), json!([true])],
        Value::Array(_) => vec![json!("x"), json!(1), json!({"a": 1})],
        Value::Object(_) => vec![json!("x"), json!(1), json!([1])],
        Value::Null => vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_aws_errors_and_leave_the_server_healthy() {
    let server = Server::start();
    let client = server.client();
    let raw = raw_http1();
    let stream = unique_name("hostile");
    create_active(&client, &stream, 1).await;
    assert_healthy(&server, &raw, &stream).await;

    // Deep nesting, in a member and at the top level.
    let deep = format!(
        "{{\"StreamName\": {}\"x\"{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    expect(
        &server,
        &raw,
        "PutRecord",
        deep.into_bytes(),
        "SerializationException",
    )
    .await;
    // An unknown member is ignored, as AWS ignores it, however deep it nests.
    let deep_objects = "{\"a\":".repeat(50_000) + "1" + &"}".repeat(50_000);
    let (status, _) = send(&server, &raw, "ListStreams", deep_objects.into_bytes()).await;
    assert_eq!(status, 200, "a deeply nested unknown member");

    // Huge numbers: beyond i32/i64, beyond f64, and with thousands of digits.
    for n in [
        "1e400",
        "99999999999999999999999999",
        &"9".repeat(5_000),
        "-1e309",
    ] {
        let body = format!("{{\"StreamName\": \"{stream}\", \"ShardCount\": {n}}}");
        expect(
            &server,
            &raw,
            "CreateStream",
            body.into_bytes(),
            "SerializationException",
        )
        .await;
    }
    let limit = format!("{{\"Limit\": {}}}", "1".repeat(400));
    expect(
        &server,
        &raw,
        "ListStreams",
        limit.into_bytes(),
        "SerializationException",
    )
    .await;

    // Invalid UTF-8 inside a string, and a lone surrogate escape.
    let mut bad_utf8 = format!("{{\"StreamName\": \"{stream}\", \"PartitionKey\": \"").into_bytes();
    bad_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    bad_utf8.extend_from_slice(b"\", \"Data\": \"eA==\"}");
    expect(
        &server,
        &raw,
        "PutRecord",
        bad_utf8,
        "SerializationException",
    )
    .await;
    let surrogate = format!(
        "{{\"StreamName\": \"{stream}\", \"PartitionKey\": \"\\ud800\", \"Data\": \"eA==\"}}"
    );
    expect(
        &server,
        &raw,
        "PutRecord",
        surrogate.into_bytes(),
        "SerializationException",
    )
    .await;

    // Nulls where values belong: AWS treats them as absent members.
    let nulls = json!({"StreamName": stream, "PartitionKey": null, "Data": "eA=="});
    expect(
        &server,
        &raw,
        "PutRecord",
        serde_json::to_vec(&nulls).unwrap(),
        "ValidationException",
    )
    .await;
    let null_record = json!({"StreamName": stream, "Records": [null]});
    let (status, _) = send(
        &server,
        &raw,
        "PutRecords",
        serde_json::to_vec(&null_record).unwrap(),
    )
    .await;
    assert_eq!(status, 400, "a null record entry");

    // Not an object, truncated, trailing garbage, binary garbage, bad base64.
    for body in [
        &b"[]"[..],
        b"\"x\"",
        b"17",
        b"{\"StreamName\": \"s\"",
        b"{\"StreamName\": \"s\"} {}",
        b"\x00\x01\x02\xff",
        b"{\"StreamName\": \"s\", \"StreamName\": }",
    ] {
        expect(
            &server,
            &raw,
            "DescribeStream",
            body.to_vec(),
            "SerializationException",
        )
        .await;
    }
    let bad_base64 = json!({"StreamName": stream, "PartitionKey": "pk", "Data": "not base64!"});
    expect(
        &server,
        &raw,
        "PutRecord",
        serde_json::to_vec(&bad_base64).unwrap(),
        "SerializationException",
    )
    .await;

    // A wrong type for every member of every operation above.
    let mut cases = 0;
    for (op, valid) in valid_bodies(&stream) {
        let Value::Object(members) = &valid else {
            unreachable!()
        };
        for (name, value) in members {
            for wrong in wrong_types(value) {
                let mut body = members.clone();
                body.insert(name.clone(), wrong.clone());
                let body = serde_json::to_vec(&Value::Object(body)).unwrap();
                let (status, kind) = send(&server, &raw, op, body).await;
                assert_eq!(
                    (status, kind.as_str()),
                    (400, "SerializationException"),
                    "{op}.{name} = {wrong}"
                );
                cases += 1;
            }
        }
    }
    assert!(cases > 150, "only {cases} wrong-type cases");
    assert_healthy(&server, &raw, &stream).await;

    // Clients that vanish mid-body, mid-headers, and after a declared huge body.
    let addr = server.endpoint().trim_start_matches("http://").to_string();
    for partial in [
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\n\
             Content-Type: {JSON}\r\nAuthorization: {FAKE_AUTH}\r\nContent-Length: 1000\r\n\r\n\
             {{\"StreamName\": \"{stream}\", \"Parti"
        ),
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Tar".to_string(),
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\n\
             Content-Type: {JSON}\r\nAuthorization: {FAKE_AUTH}\r\nTransfer-Encoding: chunked\r\n\r\n\
             ffff\r\n{{\"Records\": ["
        ),
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04".to_string(),
    ] {
        let mut tcp = std::net::TcpStream::connect(&addr).expect("connect");
        tcp.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        tcp.write_all(partial.as_bytes()).expect("send the partial request");
        drop(tcp);
    }
    // Nothing half-written reached the stream: only the health checks' records are there.
    assert_healthy(&server, &raw, &stream).await;
    let iterator = shard_iterator(
        &client,
        &stream,
        "shardId-000000000000",
        aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon,
    )
    .await;
    let records = drain(&client, iterator).await;
    assert_eq!(
        records.len(),
        3,
        "one record per health check and nothing else"
    );
    assert!(records.iter().all(|r| r.data().as_ref() == b"healthy"));
}
