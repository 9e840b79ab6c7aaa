//! Firehose's Lambda transform contract against a real HTTP function endpoint.

mod dlib_support;

use std::collections::BTreeMap;

use dlib_support::{json_answer, TestServer};
use serde_json::{json, Value};
use weir_delivery::transform::{
    error_code, transform, HttpInvoker, KinesisRecordMetadata, TransformRecord, TransformResult,
};

const STREAM_ARN: &str = "arn:aws:firehose:us-east-1:123456789012:deliverystream/ds";
const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:upper:$LATEST";

fn records() -> Vec<TransformRecord> {
    vec![
        TransformRecord {
            record_id: "r0".into(),
            arrival_millis: 1_507_217_624_302,
            data: b"hello".to_vec(),
            kinesis: None,
        },
        TransformRecord {
            record_id: "r1".into(),
            arrival_millis: 1_507_217_624_303,
            data: b"drop me".to_vec(),
            kinesis: Some(KinesisRecordMetadata {
                shard_id: "shardId-000000000000".into(),
                partition_key: "pk".into(),
                sequence_number: "4959".into(),
                sub_sequence_number: 2,
                arrival_millis: 1_507_217_624_000,
            }),
        },
        TransformRecord {
            record_id: "r2".into(),
            arrival_millis: 1_507_217_624_304,
            data: b"fail".to_vec(),
            kinesis: None,
        },
    ]
}

fn b64d(s: &str) -> Vec<u8> {
    base64_simd::STANDARD.decode_to_vec(s.as_bytes()).unwrap()
}
fn b64e(b: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(b)
}

/// A function that upper-cases "hello", drops "drop me", fails "fail"; answers in reverse order.
fn upper(req: &Value) -> Value {
    let mut out = Vec::new();
    for r in req["records"].as_array().unwrap().iter().rev() {
        let data = b64d(r["data"].as_str().unwrap());
        let id = r["recordId"].clone();
        out.push(match &data[..] {
            b"drop me" => json!({"recordId": id, "result": "Dropped"}),
            b"fail" => json!({"recordId": id, "result": "ProcessingFailed", "data": r["data"]}),
            _ => json!({"recordId": id, "result": "Ok", "data": b64e(&data.to_ascii_uppercase()),
                        "metadata": {"partitionKeys": {"k": "v", "n": 7}}}),
        });
    }
    json!({ "records": out })
}

fn invoker(server: &TestServer) -> HttpInvoker {
    HttpInvoker::new(BTreeMap::from([(
        "upper".to_string(),
        server.url("/invoke"),
    )]))
}

#[tokio::test]
async fn dlib_transform_request_and_results() {
    let server = TestServer::start(|_, r| {
        let req: Value = serde_json::from_slice(&r.body).unwrap();
        json_answer(200, upper(&req))
    })
    .await;
    let inv = invoker(&server);
    let src = "arn:aws:kinesis:us-east-1:123456789012:stream/src";
    let results = transform(
        &inv,
        FUNCTION,
        3,
        STREAM_ARN,
        "us-east-1",
        Some(src),
        &records(),
    )
    .await
    .unwrap();
    assert_eq!(
        results,
        vec![
            TransformResult::Ok {
                data: b"HELLO".to_vec(),
                partition_keys: BTreeMap::from([
                    ("k".into(), "v".into()),
                    ("n".into(), "7".into())
                ]),
            },
            TransformResult::Dropped,
            match &results[2] {
                TransformResult::ProcessingFailed { message } => {
                    assert_eq!(error_code(message), "Lambda.ProcessingFailed");
                    results[2].clone()
                }
                other => panic!("{other:?}"),
            },
        ]
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].headers["content-type"], "application/json");
    let req: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert!(uuid::Uuid::parse_str(req["invocationId"].as_str().unwrap()).is_ok());
    assert_eq!(req["deliveryStreamArn"], STREAM_ARN);
    assert_eq!(req["region"], "us-east-1");
    assert_eq!(req["sourceKinesisStreamArn"], src);
    assert_eq!(
        req["records"][0],
        json!({"recordId": "r0", "approximateArrivalTimestamp": 1_507_217_624_302i64, "data": "aGVsbG8="})
    );
    assert_eq!(
        req["records"][1]["kinesisRecordMetadata"],
        json!({"shardId": "shardId-000000000000", "partitionKey": "pk", "approximateArrivalTimestamp": 1_507_217_624_000i64,
               "sequenceNumber": "4959", "subsequenceNumber": 2})
    );
    assert!(req["records"][0].get("kinesisRecordMetadata").is_none());
}

#[tokio::test]
async fn dlib_transform_direct_put_has_no_source_arn() {
    let server = TestServer::start(|_, r| {
        json_answer(200, upper(&serde_json::from_slice(&r.body).unwrap()))
    })
    .await;
    transform(
        &invoker(&server),
        "upper",
        0,
        STREAM_ARN,
        "us-east-1",
        None,
        &records(),
    )
    .await
    .unwrap();
    let req: Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert!(req.get("sourceKinesisStreamArn").is_none());
}

#[tokio::test]
async fn dlib_transform_retries_invocation_failures() {
    // Two failures (HTTP 500, then a function error), then success: 3 attempts with retries=3.
    let server = TestServer::start(|n, r| match n {
        0 => (500, vec![], b"boom".to_vec()),
        1 => (
            200,
            vec![("x-amz-function-error", "Unhandled".into())],
            br#"{"errorMessage":"x"}"#.to_vec(),
        ),
        _ => json_answer(200, upper(&serde_json::from_slice(&r.body).unwrap())),
    })
    .await;
    let results = transform(
        &invoker(&server),
        FUNCTION,
        3,
        STREAM_ARN,
        "us-east-1",
        None,
        &records(),
    )
    .await
    .unwrap();
    assert_eq!(results.len(), 3);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    let ids: Vec<Value> = reqs
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["invocationId"].clone())
        .collect();
    assert_ne!(ids[0], ids[1], "each invocation has its own invocationId");
}

#[tokio::test]
async fn dlib_transform_gives_up_after_retries() {
    let server = TestServer::start(|_, _| (503, vec![], vec![])).await;
    let err = transform(
        &invoker(&server),
        FUNCTION,
        2,
        STREAM_ARN,
        "us-east-1",
        None,
        &records(),
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(&err), "Lambda.FunctionError");
    assert_eq!(server.requests().len(), 3, "1 attempt + 2 retries");
}

async fn violation(answer: Value) -> String {
    let server = TestServer::start(move |_, _| json_answer(200, answer.clone())).await;
    transform(
        &invoker(&server),
        FUNCTION,
        0,
        STREAM_ARN,
        "us-east-1",
        None,
        &records(),
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn dlib_transform_contract_violations() {
    let ok = |id: &str| json!({"recordId": id, "result": "Ok", "data": "eA=="});
    let err = violation(json!({"records": [ok("r0"), ok("r1")]})).await;
    assert_eq!(error_code(&err), "Lambda.MissingRecordId", "{err}");
    let err = violation(json!({"records": [ok("r0"), ok("r1"), ok("r1"), ok("r2")]})).await;
    assert_eq!(error_code(&err), "Lambda.DuplicatedRecordId", "{err}");
    let err = violation(json!({"records": [ok("r0"), ok("r1"), ok("zzz")]})).await;
    assert_eq!(error_code(&err), "Lambda.MissingRecordId", "{err}");
    let err = violation(json!({"records": [ok("r0"), ok("r1"), {"recordId": "r2", "result": "Maybe", "data": "eA=="}]})).await;
    assert_eq!(error_code(&err), "Lambda.JsonProcessingException", "{err}");
    let err =
        violation(json!({"records": [ok("r0"), ok("r1"), {"recordId": "r2", "result": "Ok"}]}))
            .await;
    assert_eq!(error_code(&err), "Lambda.JsonProcessingException", "{err}");
    let err = violation(
        json!({"records": [ok("r0"), ok("r1"), {"recordId": "r2", "result": "Ok", "data": "!!"}]}),
    )
    .await;
    assert_eq!(error_code(&err), "Lambda.JsonProcessingException", "{err}");
    let err = violation(json!({"nope": 1})).await;
    assert_eq!(error_code(&err), "Lambda.JsonProcessingException", "{err}");
}

#[tokio::test]
async fn dlib_transform_unknown_function() {
    let inv = HttpInvoker::new(BTreeMap::new());
    let err = transform(
        &inv,
        "missing",
        0,
        STREAM_ARN,
        "us-east-1",
        None,
        &records(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        "Lambda.ResourceNotFound: The specified Lambda function does not exist. Use a different function that does exist."
    );
}

#[tokio::test]
async fn dlib_transform_documented_error_texts() {
    let ok = |id: &str| json!({"recordId": id, "result": "Ok", "data": "eA=="});
    assert_eq!(
        violation(json!({"records": [ok("r0"), ok("r1")]})).await,
        "Lambda.MissingRecordId: One or more record IDs were not returned. Ensure that the Lambda function returns all received record IDs."
    );
    assert_eq!(
        violation(json!({"records": [ok("r0"), ok("r0"), ok("r2")]})).await,
        "Lambda.DuplicatedRecordId: Multiple records were returned with the same record ID. Ensure that the Lambda function returns unique record IDs for each record."
    );
    assert_eq!(
        violation(json!([])).await,
        "Lambda.JsonProcessingException: There was an error parsing returned records from the Lambda function. Ensure that the returned records follow the status model required by Firehose."
    );
}

#[tokio::test]
async fn dlib_transform_http_statuses_map_to_lambda_codes() {
    for (status, code) in [
        (429, "Lambda.InvokeLimitExceeded"),
        (403, "Lambda.InvokeAccessDenied"),
        (404, "Lambda.ResourceNotFound"),
    ] {
        let server = TestServer::start(move |_, _| (status, vec![], vec![])).await;
        let err = transform(
            &invoker(&server),
            FUNCTION,
            1,
            STREAM_ARN,
            "us-east-1",
            None,
            &records(),
        )
        .await
        .unwrap_err();
        assert_eq!(error_code(&err), code, "{status}: {err}");
        assert_eq!(server.requests().len(), 2, "retried once");
    }
}
