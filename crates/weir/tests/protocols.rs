//! Wire encodings and HTTP versions other than the SDK's default: CBOR bodies
//! (`application/x-amz-cbor-1.1`, as the AWS SDK for Java and KCL send them) and cleartext
//! HTTP/2 with prior knowledge (the Java v2 async client's default).

mod common;

use ciborium::Value;
use common::*;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (text(k), v)).collect())
}

fn cbor(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

/// The same map as `map(pairs)`, but with an indefinite-length header (0xBF ... 0xFF), as
/// Jackson's CBOR generator writes it.
fn indefinite_map(pairs: Vec<(&str, Value)>) -> Vec<u8> {
    let mut out = vec![0xbf];
    for (k, v) in pairs {
        out.extend(cbor(&text(k)));
        out.extend(cbor(&v));
    }
    out.push(0xff);
    out
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    get(v, key).unwrap_or_else(|| panic!("no {key} in {v:?}"))
}

fn as_text<'a>(v: &'a Value, key: &str) -> &'a str {
    match field(v, key) {
        Value::Text(t) => t,
        other => panic!("{key} is not a text string: {other:?}"),
    }
}

fn as_int(v: &Value) -> i128 {
    match v {
        Value::Integer(i) => i128::from(*i),
        other => panic!("not an integer: {other:?}"),
    }
}

/// An epoch-millis timestamp: a bare integer or tag 1 around an integer.
fn as_millis(v: &Value) -> i64 {
    match v {
        Value::Integer(i) => i128::from(*i) as i64,
        Value::Tag(1, inner) => as_millis(inner),
        other => panic!("not an epoch-millis timestamp: {other:?}"),
    }
}

async fn cbor_call(raw: &RawClient, ep: &str, op: &str, body: Vec<u8>) -> (RawResponse, Value) {
    let resp = RawRequest::new(op, CBOR, body).send(raw, ep).await;
    assert!(
        resp.header("x-amzn-requestid").is_some(),
        "{op}: no x-amzn-RequestId"
    );
    assert_eq!(
        resp.header("content-type"),
        Some(CBOR),
        "{op}: a CBOR request gets a CBOR response"
    );
    let value = if resp.body.is_empty() {
        Value::Map(Vec::new())
    } else {
        ciborium::from_reader(&resp.body[..])
            .unwrap_or_else(|e| panic!("{op}: response is not CBOR ({e}): {:?}", resp.body))
    };
    (resp, value)
}

async fn cbor_ok(raw: &RawClient, ep: &str, op: &str, body: Vec<u8>) -> Value {
    let (resp, value) = cbor_call(raw, ep, op, body).await;
    assert_eq!(resp.status, 200, "{op}: {value:?}");
    value
}

#[tokio::test]
async fn cbor_create_put_get_at_timestamp() {
    let server = Server::start();
    let raw = raw_http1();
    let ep = server.endpoint();
    let client = server.client();

    cbor_ok(
        &raw,
        &ep,
        "CreateStream",
        cbor(&map(vec![
            ("StreamName", text("cbor")),
            ("ShardCount", Value::Integer(1.into())),
        ])),
    )
    .await;
    wait_active(&client, "cbor").await;

    let summary = cbor_ok(
        &raw,
        &ep,
        "DescribeStreamSummary",
        cbor(&map(vec![("StreamName", text("cbor"))])),
    )
    .await;
    let s = field(&summary, "StreamDescriptionSummary");
    assert_eq!(as_text(s, "StreamStatus"), "ACTIVE");
    assert_eq!(as_int(field(s, "OpenShardCount")), 1);
    let created = as_millis(field(s, "StreamCreationTimestamp"));
    assert!(
        (created - now_millis()).abs() < 60_000,
        "StreamCreationTimestamp {created} is not epoch millis near now"
    );

    // One record before the timestamp, one after; the data is raw bytes, not base64.
    let before: Vec<u8> = vec![0, 1, 2, 0xff, b'a'];
    let after: Vec<u8> = (0..=255u8).collect();
    let put = |data: Vec<u8>| {
        cbor(&map(vec![
            ("StreamName", text("cbor")),
            ("PartitionKey", text("pk")),
            ("Data", Value::Bytes(data)),
        ]))
    };
    let first = cbor_ok(&raw, &ep, "PutRecord", put(before.clone())).await;
    assert_eq!(as_text(&first, "ShardId"), shard_id(0));
    let first_seq = as_text(&first, "SequenceNumber").to_string();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let between = now_millis();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let second = cbor_ok(&raw, &ep, "PutRecord", put(after.clone())).await;
    let second_seq = as_text(&second, "SequenceNumber").to_string();
    assert_eq!(dec_cmp(&first_seq, &second_seq), std::cmp::Ordering::Less);

    // AT_TIMESTAMP with the timestamp as tag 1 + epoch milliseconds.
    let it = cbor_ok(
        &raw,
        &ep,
        "GetShardIterator",
        cbor(&map(vec![
            ("StreamName", text("cbor")),
            ("ShardId", text(&shard_id(0))),
            ("ShardIteratorType", text("AT_TIMESTAMP")),
            (
                "Timestamp",
                Value::Tag(1, Box::new(Value::Integer(between.into()))),
            ),
        ])),
    )
    .await;
    let iterator = as_text(&it, "ShardIterator").to_string();
    let page = cbor_ok(
        &raw,
        &ep,
        "GetRecords",
        cbor(&map(vec![("ShardIterator", text(&iterator))])),
    )
    .await;
    let Value::Array(records) = field(&page, "Records") else {
        panic!("Records is not an array: {page:?}");
    };
    assert_eq!(
        records.len(),
        1,
        "only the record after the timestamp: {page:?}"
    );
    let r = &records[0];
    assert_eq!(field(r, "Data"), &Value::Bytes(after.clone()));
    assert_eq!(as_text(r, "PartitionKey"), "pk");
    assert_eq!(as_text(r, "SequenceNumber"), second_seq);
    let arrival = as_millis(field(r, "ApproximateArrivalTimestamp"));
    assert!(
        arrival >= between && arrival - now_millis() < 5_000,
        "ApproximateArrivalTimestamp {arrival} is not epoch millis after {between}"
    );
    assert!(matches!(field(&page, "NextShardIterator"), Value::Text(_)));
    assert_eq!(as_int(field(&page, "MillisBehindLatest")), 0);

    // TRIM_HORIZON over CBOR returns both, and JSON clients see the same bytes.
    let it = cbor_ok(
        &raw,
        &ep,
        "GetShardIterator",
        cbor(&map(vec![
            ("StreamName", text("cbor")),
            ("ShardId", text(&shard_id(0))),
            ("ShardIteratorType", text("TRIM_HORIZON")),
        ])),
    )
    .await;
    let page = cbor_ok(
        &raw,
        &ep,
        "GetRecords",
        cbor(&map(vec![
            ("ShardIterator", text(as_text(&it, "ShardIterator"))),
            ("Limit", Value::Integer(10.into())),
        ])),
    )
    .await;
    let Value::Array(records) = field(&page, "Records") else {
        panic!("Records is not an array");
    };
    let got: Vec<&Value> = records.iter().map(|r| field(r, "Data")).collect();
    assert_eq!(
        got,
        vec![&Value::Bytes(before.clone()), &Value::Bytes(after.clone())]
    );
    let sdk = read_shard(&client, "cbor", &shard_id(0)).await;
    assert_eq!(sdk[0].data().as_ref(), &before[..]);
    assert_eq!(sdk[1].data().as_ref(), &after[..]);
}

#[tokio::test]
async fn cbor_errors_are_cbor() {
    let server = Server::start();
    let raw = raw_http1();
    let ep = server.endpoint();

    let (resp, v) = cbor_call(
        &raw,
        &ep,
        "DescribeStream",
        cbor(&map(vec![("StreamName", text("nope"))])),
    )
    .await;
    assert_eq!(resp.status, 400);
    assert_eq!(as_text(&v, "__type"), "ResourceNotFoundException");
    assert_eq!(
        as_text(&v, "message"),
        "Stream nope under account 000000000000 not found."
    );
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );

    // A validation error, too.
    let (resp, v) = cbor_call(
        &raw,
        &ep,
        "CreateStream",
        cbor(&map(vec![
            ("StreamName", text("x")),
            ("ShardCount", Value::Integer(0.into())),
        ])),
    )
    .await;
    assert_eq!(resp.status, 400);
    assert_eq!(as_text(&v, "__type"), "ValidationException");
    assert!(as_text(&v, "message").contains("'shardCount'"), "{v:?}");

    // A body that is not CBOR at all.
    let (resp, v) = cbor_call(&raw, &ep, "ListStreams", vec![0xff, 0x00, 0x13]).await;
    assert_eq!(resp.status, 400);
    assert_eq!(as_text(&v, "__type"), "SerializationException");

    // Data given as a text string instead of a byte string.
    let (resp, v) = cbor_call(
        &raw,
        &ep,
        "PutRecord",
        cbor(&map(vec![
            ("StreamName", text("nope")),
            ("PartitionKey", text("k")),
            ("Data", Value::Integer(5.into())),
        ])),
    )
    .await;
    assert_eq!(resp.status, 400);
    assert_eq!(as_text(&v, "__type"), "SerializationException");
}

#[tokio::test]
async fn cbor_indefinite_length_maps() {
    let server = Server::start();
    let raw = raw_http1();
    let ep = server.endpoint();
    let client = server.client();
    cbor_ok(
        &raw,
        &ep,
        "CreateStream",
        indefinite_map(vec![
            ("StreamName", text("indef")),
            ("ShardCount", Value::Integer(2.into())),
        ]),
    )
    .await;
    wait_active(&client, "indef").await;
    let out = cbor_ok(
        &raw,
        &ep,
        "PutRecord",
        indefinite_map(vec![
            ("StreamName", text("indef")),
            ("PartitionKey", text("1")),
            ("Data", Value::Bytes(b"indefinite".to_vec())),
        ]),
    )
    .await;
    // MD5("1") lands in the upper half.
    assert_eq!(as_text(&out, "ShardId"), shard_id(1));
    let listed = cbor_ok(&raw, &ep, "ListStreams", indefinite_map(vec![])).await;
    assert_eq!(
        field(&listed, "StreamNames"),
        &Value::Array(vec![text("indef")])
    );
    assert_eq!(field(&listed, "HasMoreStreams"), &Value::Bool(false));
    let read = read_shard(&client, "indef", &shard_id(1)).await;
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].data().as_ref(), b"indefinite");
}

#[tokio::test]
async fn http2_prior_knowledge_json() {
    let server = Server::start();
    let h2 = raw_http2();
    let ep = server.endpoint();
    let client = server.client();
    create_active(&client, "h2", 1).await;

    let resp = RawRequest::json("ListStreams", &json!({}))
        .send(&h2, &ep)
        .await;
    assert_eq!(resp.version, http::Version::HTTP_2);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.header("x-amzn-requestid").is_some());
    assert_eq!(resp.header("content-type"), Some(JSON));
    assert_eq!(resp.json()["StreamNames"], json!(["h2"]));

    // Several PutRecords multiplexed on the one connection.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let h2 = h2.clone();
        let ep = ep.clone();
        tasks.push(tokio::spawn(async move {
            let data = base64_simd::STANDARD.encode_to_string(format!("h2-{i}"));
            RawRequest::json(
                "PutRecord",
                &json!({"StreamName": "h2", "PartitionKey": format!("k{i}"), "Data": data}),
            )
            .send(&h2, &ep)
            .await
        }));
    }
    for t in tasks {
        let resp = t.await.unwrap();
        assert_eq!(resp.version, http::Version::HTTP_2);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let v = resp.json();
        assert_eq!(v["ShardId"], json!(shard_id(0)));
        assert!(v["SequenceNumber"].is_string());
    }

    // An error over HTTP/2 keeps its envelope.
    let resp = RawRequest::json("DescribeStream", &json!({"StreamName": "nope"}))
        .send(&h2, &ep)
        .await;
    assert_eq!(resp.version, http::Version::HTTP_2);
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
    assert_eq!(resp.json()["__type"], json!("ResourceNotFoundException"));

    // CBOR over HTTP/2 as well (KCL's combination).
    let resp = RawRequest::new(
        "ListStreams",
        CBOR,
        cbor(&map(vec![("Limit", Value::Integer(5.into()))])),
    )
    .send(&h2, &ep)
    .await;
    assert_eq!(resp.version, http::Version::HTTP_2);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some(CBOR));

    let mut got: Vec<String> = read_shard(&client, "h2", &shard_id(0))
        .await
        .iter()
        .map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap())
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..8).map(|i| format!("h2-{i}")).collect();
    want.sort();
    assert_eq!(got, want);
}
