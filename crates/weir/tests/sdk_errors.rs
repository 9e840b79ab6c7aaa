//! Error responses: validation and semantic errors through the SDK (where the SDK lets the
//! request through), and protocol-level errors with raw HTTP requests.

mod common;

use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use common::*;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NOT_FOUND: &str = "Stream nope under account 000000000000 not found.";

fn entry(key: &str) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(key)
        .data(Blob::new(b"x".to_vec()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn put_record_validation_errors_name_the_member() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "val", 1).await;

    let long_key = "a".repeat(257);
    let msg = expect_code(
        client
            .put_record()
            .stream_name("val")
            .partition_key(&long_key)
            .data(Blob::new(b"x".to_vec()))
            .send()
            .await,
        "ValidationException",
    );
    assert_eq!(
        msg,
        format!("1 validation error detected: Value '{long_key}' at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256")
    );
    // 256 characters is fine (characters, not bytes: 256 two-byte characters too).
    client
        .put_record()
        .stream_name("val")
        .partition_key("a".repeat(256))
        .data(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap();
    client
        .put_record()
        .stream_name("val")
        .partition_key("é".repeat(256))
        .data(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap();

    let msg = expect_code(
        client
            .put_record()
            .stream_name("val")
            .partition_key("")
            .data(Blob::new(b"x".to_vec()))
            .send()
            .await,
        "ValidationException",
    );
    assert_eq!(msg, "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1");

    // ExplicitHashKey: not a decimal number → pattern; ≥ 2^128 → InvalidArgumentException.
    let msg = expect_code(
        client
            .put_record()
            .stream_name("val")
            .partition_key("k")
            .explicit_hash_key("12ab")
            .data(Blob::new(b"x".to_vec()))
            .send()
            .await,
        "ValidationException",
    );
    assert_eq!(msg, "1 validation error detected: Value '12ab' at 'explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})");
    let too_big = "340282366920938463463374607431768211456";
    let msg = expect_code(
        client
            .put_record()
            .stream_name("val")
            .partition_key("k")
            .explicit_hash_key(too_big)
            .data(Blob::new(b"x".to_vec()))
            .send()
            .await,
        "InvalidArgumentException",
    );
    assert_eq!(msg, format!("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {too_big}"));
    // In PutRecords one bad ExplicitHashKey fails the whole request.
    expect_code(
        client
            .put_records()
            .stream_name("val")
            .records(entry("k"))
            .records(
                PutRecordsRequestEntry::builder()
                    .partition_key("k")
                    .explicit_hash_key(too_big)
                    .data(Blob::new(b"x".to_vec()))
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
        "InvalidArgumentException",
    );

    // PutRecords with too many / too few records.
    let msg = expect_code(
        client
            .put_records()
            .stream_name("val")
            .set_records(Some((0..501).map(|i| entry(&format!("k{i}"))).collect()))
            .send()
            .await,
        "ValidationException",
    );
    assert!(msg.contains("at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"), "{msg}");
    let msg = expect_code(
        client
            .put_records()
            .stream_name("val")
            .set_records(Some(Vec::new()))
            .send()
            .await,
        "ValidationException",
    );
    assert!(msg.contains("Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1"), "{msg}");
    let msg = expect_code(
        client
            .put_records()
            .stream_name("val")
            .records(entry("ok"))
            .records(entry(""))
            .send()
            .await,
        "ValidationException",
    );
    assert!(
        msg.contains("Value '' at 'records.2.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"),
        "{msg}"
    );

    // Nothing was written by the failed requests.
    let read = read_shard(&client, "val", &shard_id(0)).await;
    assert_eq!(read.len(), 2);
}

#[tokio::test]
async fn stream_name_and_shard_count_validation() {
    let server = Server::start();
    let client = server.client();

    let msg = expect_code(
        client
            .create_stream()
            .stream_name("bad name!")
            .shard_count(1)
            .send()
            .await,
        "ValidationException",
    );
    assert_eq!(msg, "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    let long = "s".repeat(129);
    let msg = expect_code(
        client
            .create_stream()
            .stream_name(&long)
            .shard_count(1)
            .send()
            .await,
        "ValidationException",
    );
    assert_eq!(msg, format!("1 validation error detected: Value '{long}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128"));

    // The Rust SDK does not check ranges: ShardCount 0 reaches the server.
    let msg = expect_code(
        client
            .create_stream()
            .stream_name("zero")
            .shard_count(0)
            .send()
            .await,
        "ValidationException",
    );
    assert_eq!(msg, "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1");

    // Pattern checks apply to every operation that takes a StreamName, ARN-in-name included.
    let arn = stream_arn("x");
    let msg = expect_code(
        client.describe_stream().stream_name(&arn).send().await,
        "ValidationException",
    );
    assert_eq!(msg, format!("1 validation error detected: Value '{arn}' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"));
    let msg = expect_code(
        client
            .put_record()
            .stream_name("a/b")
            .partition_key("k")
            .data(Blob::new(b"x".to_vec()))
            .send()
            .await,
        "ValidationException",
    );
    assert!(msg.contains("at 'streamName'"), "{msg}");

    let listed = client.list_streams().send().await.unwrap();
    assert!(listed.stream_names().is_empty());
}

#[tokio::test]
async fn several_violations_are_listed_in_aws_order() {
    let server = Server::start();
    let client = server.client();
    // Counted, numeric members first, and within one member pattern before length
    // (kinesalite's exact string, captured from AWS).
    let msg = expect_code(
        client
            .create_stream()
            .stream_name("")
            .shard_count(0)
            .send()
            .await,
        "ValidationException",
    );
    assert_eq!(msg, "3 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1");
}

#[tokio::test]
async fn unknown_streams_and_shards() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "one", 1).await;

    let msg = expect_code(
        client
            .put_record()
            .stream_name("nope")
            .partition_key("k")
            .data(Blob::new(b"x".to_vec()))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert_eq!(msg, NOT_FOUND);
    let msg = expect_code(
        client
            .put_records()
            .stream_name("nope")
            .records(entry("k"))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert_eq!(msg, NOT_FOUND);
    let msg = expect_code(
        client
            .describe_stream_summary()
            .stream_name("nope")
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert_eq!(msg, NOT_FOUND);

    let msg = expect_code(
        client
            .get_shard_iterator()
            .stream_name("one")
            .shard_id(shard_id(9))
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert_eq!(
        msg,
        "Shard shardId-000000000009 in stream one under account 000000000000 does not exist"
    );
    let msg = expect_code(
        client
            .get_shard_iterator()
            .stream_name("one")
            .shard_id("garbage")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert_eq!(
        msg,
        "Could not find shard garbage in stream one under account 000000000000."
    );
    // Short shard ids are accepted and normalised.
    client
        .get_shard_iterator()
        .stream_name("one")
        .shard_id("shardId-0")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn get_shard_iterator_on_an_unknown_stream_names_the_shard() {
    let server = Server::start();
    let client = server.client();
    // AWS answers with the shard, in canonical form, not with "Stream ... not found.".
    let msg = expect_code(
        client
            .get_shard_iterator()
            .stream_name("nope")
            .shard_id("shardId-0")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert_eq!(
        msg,
        "Shard shardId-000000000000 in stream nope under account 000000000000 does not exist"
    );
    // An unparseable shard id is reported as given, even for an unknown stream.
    let msg = expect_code(
        client
            .get_shard_iterator()
            .stream_name("nope")
            .shard_id("ABKLFD8")
            .shard_iterator_type(ShardIteratorType::Latest)
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert_eq!(
        msg,
        "Could not find shard ABKLFD8 in stream nope under account 000000000000."
    );
}

#[tokio::test]
async fn data_operations_on_a_creating_stream_are_not_found() {
    let server = Server::start_with(&["--creating-delay-ms", "3000"]);
    let client = server.client();
    client
        .create_stream()
        .stream_name("slow")
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let msg = expect_code(
        client
            .put_record()
            .stream_name("slow")
            .partition_key("k")
            .data(Blob::new(b"x".to_vec()))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert_eq!(msg, "Stream slow under account 000000000000 not found.");
}

#[tokio::test]
async fn shard_iterator_and_get_records_errors() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "its", 2).await;
    // A record in each shard.
    let mut seq_of = std::collections::HashMap::new();
    for key in ["pk", "1", "2", "3", "4", "5"] {
        let out = client
            .put_record()
            .stream_name("its")
            .partition_key(key)
            .data(Blob::new(b"x".to_vec()))
            .send()
            .await
            .unwrap();
        seq_of
            .entry(out.shard_id().to_string())
            .or_insert(out.sequence_number().to_string());
    }
    assert_eq!(seq_of.len(), 2, "keys should hit both shards");
    let seq0 = seq_of[&shard_id(0)].clone();
    let seq1 = seq_of[&shard_id(1)].clone();

    let base = |ty: ShardIteratorType| {
        client
            .get_shard_iterator()
            .stream_name("its")
            .shard_id(shard_id(0))
            .shard_iterator_type(ty)
    };
    let msg = expect_code(
        base(ShardIteratorType::AtSequenceNumber).send().await,
        "InvalidArgumentException",
    );
    assert_eq!(msg, "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.");
    let msg = expect_code(
        base(ShardIteratorType::TrimHorizon)
            .starting_sequence_number(&seq0)
            .send()
            .await,
        "InvalidArgumentException",
    );
    assert_eq!(msg, "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified TRIM_HORIZON and also a StartingSequenceNumber.");
    let msg = expect_code(
        base(ShardIteratorType::AtTimestamp).send().await,
        "InvalidArgumentException",
    );
    assert_eq!(msg, "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.");
    let msg = expect_code(
        base(ShardIteratorType::AfterSequenceNumber)
            .starting_sequence_number(&seq1)
            .send()
            .await,
        "InvalidArgumentException",
    );
    assert_eq!(msg, "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a shard with shardId-000000000000");
    let msg = expect_code(
        base(ShardIteratorType::AtSequenceNumber)
            .starting_sequence_number("12345")
            .send()
            .await,
        "InvalidArgumentException",
    );
    // How a foreign number is judged depends on its (opaque) layout; it must name itself.
    assert!(
        msg.starts_with("StartingSequenceNumber ")
            || msg.starts_with("Invalid StartingSequenceNumber."),
        "{msg}"
    );
    let msg = expect_code(
        base(ShardIteratorType::AtSequenceNumber)
            .starting_sequence_number("12x")
            .send()
            .await,
        "ValidationException",
    );
    assert!(msg.contains("at 'startingSequenceNumber'"), "{msg}");
    // A valid timestamp works (sanity check for the error cases above).
    base(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_secs(1_000_000_000))
        .send()
        .await
        .unwrap();

    let msg = expect_code(
        client
            .get_records()
            .shard_iterator("bm90IGFuIGl0ZXJhdG9y")
            .send()
            .await,
        "InvalidArgumentException",
    );
    assert_eq!(msg, "Invalid ShardIterator.");

    let it = base(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_string();
    // A tampered iterator is rejected, not followed.
    let mut tampered = it.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let err = client
        .get_records()
        .shard_iterator(&tampered)
        .send()
        .await
        .expect_err("a tampered iterator must be rejected");
    use aws_sdk_kinesis::error::ProvideErrorMetadata;
    assert!(
        matches!(
            err.code(),
            Some("InvalidArgumentException") | Some("ResourceNotFoundException")
        ),
        "{}",
        fmt_err(&err)
    );

    let msg = expect_code(
        client
            .get_records()
            .shard_iterator(&it)
            .limit(0)
            .send()
            .await,
        "ValidationException",
    );
    assert_eq!(msg, "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1");
    let msg = expect_code(
        client
            .get_records()
            .shard_iterator(&it)
            .limit(10_001)
            .send()
            .await,
        "ValidationException",
    );
    assert_eq!(msg, "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000");
    let page = client
        .get_records()
        .shard_iterator(&it)
        .limit(10_000)
        .send()
        .await
        .unwrap();
    assert!(!page.records().is_empty());

    // After the stream is deleted, an old iterator finds nothing.
    client
        .delete_stream()
        .stream_name("its")
        .send()
        .await
        .unwrap();
    wait_gone(&client, "its").await;
    expect_code(
        client.get_records().shard_iterator(&it).send().await,
        "ResourceNotFoundException",
    );
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP

/// Checks the envelope of an awsJson error and returns (type, message).
fn json_error(resp: &RawResponse, status: u16) -> (String, String) {
    assert_eq!(resp.status.as_u16(), status, "body: {}", resp.text());
    assert!(
        resp.header("x-amzn-requestid")
            .is_some_and(|v| !v.is_empty()),
        "no x-amzn-RequestId: {:?}",
        resp.headers
    );
    assert_eq!(resp.header("content-type"), Some(JSON));
    let v = resp.json();
    let ty = v["__type"]
        .as_str()
        .unwrap_or_else(|| panic!("no __type in {v}"))
        .to_string();
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some(ty.as_str()),
        "x-amzn-ErrorType must match __type"
    );
    let msg = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_string();
    (ty, msg)
}

#[tokio::test]
async fn unknown_operations() {
    let server = Server::start();
    let raw = raw_http1();
    let ep = server.endpoint();

    let resp = RawRequest::json("FooBar", &json!({})).send(&raw, &ep).await;
    assert_eq!(json_error(&resp, 400).0, "UnknownOperationException");

    let mut req = RawRequest::json("ListStreams", &json!({}));
    req.target = Some("Firehose_20150804.ListStreams".into());
    let resp = req.send(&raw, &ep).await;
    assert_eq!(json_error(&resp, 400).0, "UnknownOperationException");

    // No X-Amz-Target at all (and no auth either: the unknown operation wins).
    let mut req = RawRequest::json("ListStreams", &json!({})).no_auth();
    req.target = None;
    let resp = req.send(&raw, &ep).await;
    assert_eq!(json_error(&resp, 400).0, "UnknownOperationException");
}

#[tokio::test]
async fn missing_authentication_is_a_400_json_error() {
    let server = Server::start();
    let raw = raw_http1();
    let resp = RawRequest::json("ListStreams", &json!({}))
        .no_auth()
        .send(&raw, &server.endpoint())
        .await;
    // kinesalite's connection tests (captured from AWS): 400, JSON body.
    let (ty, msg) = json_error(&resp, 400);
    assert_eq!(ty, "MissingAuthenticationTokenException");
    assert_eq!(msg, "Missing Authentication Token");
}

#[tokio::test]
async fn incomplete_authentication() {
    let server = Server::start();
    let raw = raw_http1();
    let ep = server.endpoint();

    let resp = RawRequest::json("ListStreams", &json!({}))
        .no_auth()
        .header("authorization", "X")
        .send(&raw, &ep)
        .await;
    let (ty, msg) = json_error(&resp, 400);
    assert_eq!(ty, "IncompleteSignatureException");
    assert_eq!(msg, "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=X");

    // With credentials the same request works.
    let resp = RawRequest::json("ListStreams", &json!({}))
        .send(&raw, &ep)
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.header("x-amzn-requestid").is_some());
    assert_eq!(resp.json()["StreamNames"], json!([]));
}

#[tokio::test]
async fn malformed_and_mistyped_json() {
    let server = Server::start();
    let raw = raw_http1();
    let ep = server.endpoint();

    for body in [&b"{not json"[..], b"hello", b"null"] {
        let resp = RawRequest::new("ListStreams", JSON, body.to_vec())
            .send(&raw, &ep)
            .await;
        assert_eq!(
            json_error(&resp, 400).0,
            "SerializationException",
            "body {:?}",
            String::from_utf8_lossy(body)
        );
    }
    // An empty body with a valid target.
    let resp = RawRequest::new("ListStreams", JSON, Vec::new())
        .send(&raw, &ep)
        .await;
    assert_eq!(json_error(&resp, 400).0, "SerializationException");

    let cases = [
        (
            "CreateStream",
            json!({"StreamName": "s", "ShardCount": "x"}),
            "class java.lang.String can not be converted to an Integer",
        ),
        (
            "CreateStream",
            json!({"StreamName": true, "ShardCount": 1}),
            "class java.lang.Boolean can not be converted to an String",
        ),
        (
            "CreateStream",
            json!({"StreamName": 23, "ShardCount": 1}),
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String",
        ),
        (
            "CreateStream",
            json!({"StreamName": ["s"], "ShardCount": 1}),
            "Start of list found where not expected",
        ),
        (
            "CreateStream",
            json!({"StreamName": {}, "ShardCount": 1}),
            "Start of structure or map found where not expected.",
        ),
        (
            "PutRecords",
            json!({"StreamName": "s", "Records": "x"}),
            "Expected list or null",
        ),
        (
            "AddTagsToStream",
            json!({"StreamName": "s", "Tags": "x"}),
            "Expected map or null",
        ),
        (
            "PutRecord",
            json!({"StreamName": "s", "PartitionKey": "k", "Data": true}),
            "class java.lang.Boolean can not be converted to a Blob",
        ),
    ];
    for (op, body, want) in cases {
        let resp = RawRequest::json(op, &body).send(&raw, &ep).await;
        let (ty, msg) = json_error(&resp, 400);
        assert_eq!(ty, "SerializationException", "{op} {body}");
        assert_eq!(msg, want, "{op} {body}");
    }

    // Nothing was created by the mistyped CreateStream calls.
    let resp = RawRequest::json("ListStreams", &json!({}))
        .send(&raw, &ep)
        .await;
    assert_eq!(resp.json()["StreamNames"], json!([]));
}

#[tokio::test]
async fn bad_base64_in_data() {
    let server = Server::start();
    let raw = raw_http1();
    let ep = server.endpoint();
    let cases = [
        (
            "23456",
            "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5",
        ),
        (
            "=+/=",
            "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='",
        ),
    ];
    for (data, want) in cases {
        let resp = RawRequest::json(
            "PutRecord",
            &json!({"StreamName": "s", "PartitionKey": "k", "Data": data}),
        )
        .send(&raw, &ep)
        .await;
        let (ty, msg) = json_error(&resp, 400);
        assert_eq!(ty, "SerializationException", "Data {data:?}");
        assert_eq!(msg, want, "Data {data:?}");
    }
    // Inside PutRecords too.
    let resp = RawRequest::json(
        "PutRecords",
        &json!({"StreamName": "s", "Records": [{"PartitionKey": "k", "Data": "abc"}]}),
    )
    .send(&raw, &ep)
    .await;
    assert_eq!(json_error(&resp, 400).0, "SerializationException");
}

#[tokio::test]
async fn oversized_body_is_refused_without_hanging() {
    let server = Server::start();
    let mut sock = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: {JSON}\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\nAuthorization: {FAKE_AUTH}\r\nX-Amz-Date: 20240101T000000Z\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        17 * 1024 * 1024
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(b"{\"Records\": [").await.unwrap();
    // The server must answer without waiting for the 17 MiB it was promised.
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf))
        .await
        .expect("no response within 5 s to an oversized Content-Length")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    assert!(
        (400..500).contains(&status),
        "status {status} for an oversized body: {text}"
    );
    assert!(
        text.to_ascii_lowercase().contains("x-amzn-requestid"),
        "{text}"
    );

    // The server is still fine afterwards.
    let raw = raw_http1();
    let resp = RawRequest::json("ListStreams", &json!({}))
        .send(&raw, &server.endpoint())
        .await;
    assert_eq!(resp.status, 200);
}

#[tokio::test]
async fn non_post_requests_are_access_denied() {
    let server = Server::start();
    let raw = raw_http1();
    let req = http::Request::builder()
        .method(http::Method::GET)
        .uri(format!("{}/", server.endpoint()))
        .header("authorization", FAKE_AUTH)
        .header("x-amz-date", "20240101T000000Z")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let resp = send_raw(&raw, req).await;
    assert_eq!(resp.status, 403);
    assert!(
        resp.text().contains("<AccessDeniedException>"),
        "{}",
        resp.text()
    );
    assert!(resp.header("x-amzn-requestid").is_some());
}

#[tokio::test]
async fn every_response_has_a_request_id() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "rid", 1).await;
    let raw = raw_http1();
    let ep = server.endpoint();
    let requests = [
        RawRequest::json("ListStreams", &json!({})),
        RawRequest::json("DescribeStream", &json!({"StreamName": "rid"})),
        RawRequest::json(
            "PutRecord",
            &json!({"StreamName": "rid", "PartitionKey": "k", "Data": "aGVsbG8A"}),
        ),
        RawRequest::json(
            "AddTagsToStream",
            &json!({"StreamName": "rid", "Tags": {"a": "b"}}),
        ),
        RawRequest::json("DescribeStream", &json!({"StreamName": "nope"})),
        RawRequest::json("Nope", &json!({})),
        RawRequest::new("ListStreams", JSON, b"{".to_vec()),
    ];
    let mut ids = std::collections::HashSet::new();
    for req in requests {
        let target = req.target.clone();
        let resp = req.send(&raw, &ep).await;
        let id = resp
            .header("x-amzn-requestid")
            .unwrap_or_else(|| panic!("{target:?}: no x-amzn-RequestId"))
            .to_string();
        assert!(!id.is_empty());
        assert!(ids.insert(id.clone()), "request id {id} reused");
        if resp.status.is_success() {
            assert_eq!(resp.header("content-type"), Some(JSON), "{target:?}");
            assert!(resp.header("x-amzn-errortype").is_none());
        } else {
            assert_eq!(resp.status, 400, "{target:?}");
            json_error(&resp, 400);
        }
    }
    // An error from the data plane, checked in detail.
    let resp = RawRequest::json("DescribeStream", &json!({"StreamName": "nope"}))
        .send(&raw, &ep)
        .await;
    let (ty, msg) = json_error(&resp, 400);
    assert_eq!(ty, "ResourceNotFoundException");
    assert_eq!(msg, NOT_FOUND);
    assert_eq!(
        resp.json(),
        json!({"__type": "ResourceNotFoundException", "message": NOT_FOUND})
    );
}
