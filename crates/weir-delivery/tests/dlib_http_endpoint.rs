//! The HttpEndpoint destination's request/response contract against a local endpoint.

mod dlib_support;

use std::io::Read;
use std::time::{Duration, Instant};

use dlib_support::{json_answer, Received, TestServer};
use serde_json::{json, Value};
use weir_core::{ManualClock, SystemClock};
use weir_delivery::http_endpoint::{
    deliver, deliver_with, Backoff, DeliveryError, HttpEndpointTarget,
};

const SOURCE: &str = "arn:aws:firehose:us-east-1:123456789012:deliverystream/ds";

fn fast() -> Backoff {
    Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        ..Backoff::default()
    }
}

fn target(server: &TestServer, gzip: bool, retry: Duration) -> HttpEndpointTarget {
    HttpEndpointTarget {
        url: server.url("/ingest"),
        name: Some("test".into()),
        access_key: Some("secret-key".into()),
        common_attributes: vec![
            ("env".into(), "prod".into()),
            ("team".into(), "data".into()),
        ],
        gzip,
        retry_duration: retry,
    }
}

fn body_json(r: &Received) -> Value {
    let raw = if r
        .headers
        .get("content-encoding")
        .map(|v| v == "gzip")
        .unwrap_or(false)
    {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&r.body[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        r.body.clone()
    };
    serde_json::from_slice(&raw).unwrap()
}

/// An endpoint that answers as the contract says.
fn echo(r: &Received) -> dlib_support::Answer {
    let v = body_json(r);
    json_answer(200, json!({"requestId": v["requestId"], "timestamp": 1}))
}

#[tokio::test]
async fn dlib_http_endpoint_request_shape() {
    let server = TestServer::start(|_, r| echo(r)).await;
    let clock = ManualClock::new(1_578_090_901_599);
    deliver_with(
        &target(&server, false, Duration::from_secs(5)),
        SOURCE,
        &[b"one", b"{\"two\":2}"],
        &fast(),
        &clock,
    )
    .await
    .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/ingest");
    let h = &r.headers;
    assert_eq!(h["x-amz-firehose-protocol-version"], "1.0");
    assert_eq!(h["x-amz-firehose-source-arn"], SOURCE);
    assert_eq!(h["x-amz-firehose-access-key"], "secret-key");
    assert_eq!(h["content-type"], "application/json");
    assert!(h.get("content-encoding").is_none());
    let attrs: Value =
        serde_json::from_str(h["x-amz-firehose-common-attributes"].to_str().unwrap()).unwrap();
    assert_eq!(
        attrs,
        json!({"commonAttributes": {"env": "prod", "team": "data"}})
    );
    let v = body_json(r);
    assert_eq!(
        v["requestId"],
        h["x-amz-firehose-request-id"].to_str().unwrap()
    );
    assert_eq!(v["timestamp"], 1_578_090_901_599i64);
    assert_eq!(h["user-agent"], "Amazon Kinesis Data Firehose Agent/1.0");
    assert_eq!(
        v["records"],
        json!([{"data": "b25l"}, {"data": "eyJ0d28iOjJ9"}])
    );
}

#[tokio::test]
async fn dlib_http_endpoint_gzip() {
    let server = TestServer::start(|_, r| echo(r)).await;
    deliver_with(
        &target(&server, true, Duration::from_secs(5)),
        SOURCE,
        &[b"zipped"],
        &fast(),
        &SystemClock,
    )
    .await
    .unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert_eq!(body_json(r)["records"], json!([{"data": "emlwcGVk"}]));
}

#[tokio::test]
async fn dlib_http_endpoint_retries_with_same_request_id() {
    // 500, a 200 with the wrong requestId, a 200 that is not JSON, then success.
    let server = TestServer::start(|n, r| match n {
        0 => (500, vec![], vec![]),
        1 => json_answer(200, json!({"requestId": "other", "timestamp": 1})),
        2 => (200, vec![], b"ok".to_vec()),
        _ => echo(r),
    })
    .await;
    deliver_with(
        &target(&server, false, Duration::from_secs(10)),
        SOURCE,
        &[b"x"],
        &fast(),
        &SystemClock,
    )
    .await
    .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4);
    let ids: Vec<_> = reqs
        .iter()
        .map(|r| r.headers["x-amz-firehose-request-id"].clone())
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "same request id on every retry"
    );
    let bodies: Vec<_> = reqs
        .iter()
        .map(|r| body_json(r)["requestId"].clone())
        .collect();
    assert!(bodies.iter().all(|b| *b == bodies[0]));
}

#[tokio::test]
async fn dlib_http_endpoint_413_is_permanent() {
    let server = TestServer::start(|_, _| (413, vec![], vec![])).await;
    let err = deliver_with(
        &target(&server, false, Duration::from_secs(30)),
        SOURCE,
        &[b"x"],
        &fast(),
        &SystemClock,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, DeliveryError::PayloadTooLarge(m) if m.contains("413")),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn dlib_http_endpoint_gives_up_after_retry_duration() {
    let server = TestServer::start(|_, _| (503, vec![], vec![])).await;
    let started = Instant::now();
    let err = deliver_with(
        &target(&server, false, Duration::from_millis(500)),
        SOURCE,
        &[b"x"],
        &fast(),
        &SystemClock,
    )
    .await
    .unwrap_err()
    .to_string();
    let elapsed = started.elapsed();
    assert!(err.contains("503"), "{err}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let n = server.requests().len();
    // 20, 40, 80, 160 ms waits (±15 %) fit in 500 ms; the next (200) does not: about 5 attempts.
    assert!((3..=7).contains(&n), "{n} attempts");
}

#[tokio::test]
async fn dlib_http_endpoint_zero_retry_duration_tries_once() {
    let server = TestServer::start(|_, _| (500, vec![], vec![])).await;
    deliver_with(
        &target(&server, false, Duration::ZERO),
        SOURCE,
        &[b"x"],
        &fast(),
        &SystemClock,
    )
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn dlib_http_endpoint_connection_refused_is_retried_then_given_up() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let t = HttpEndpointTarget {
        url,
        name: None,
        access_key: None,
        common_attributes: vec![],
        gzip: false,
        retry_duration: Duration::from_millis(100),
    };
    let err = deliver_with(&t, SOURCE, &[b"x"], &fast(), &SystemClock)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("request failed"), "{err}");
}

#[tokio::test]
async fn dlib_http_endpoint_nonconforming_answers_are_retried() {
    // A redirect (not followed), a 200 without Content-Type application/json, a 200 without
    // timestamp, then success.
    let server = TestServer::start(|n, r| {
        let v = body_json(r);
        match n {
            0 => (
                302,
                vec![("location", "http://127.0.0.1:1/".to_string())],
                vec![],
            ),
            1 => (
                200,
                vec![],
                json!({"requestId": v["requestId"], "timestamp": 1})
                    .to_string()
                    .into_bytes(),
            ),
            2 => json_answer(200, json!({"requestId": v["requestId"]})),
            _ => echo(r),
        }
    })
    .await;
    deliver_with(
        &target(&server, false, Duration::from_secs(10)),
        SOURCE,
        &[b"x"],
        &fast(),
        &SystemClock,
    )
    .await
    .unwrap();
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn dlib_http_endpoint_last_error_message_is_kept() {
    let server = TestServer::start(|_, r| {
        let v = body_json(r);
        json_answer(500, json!({"requestId": v["requestId"], "timestamp": 1, "errorMessage": "Unable to deliver records due to unknown error."}))
    })
    .await;
    let err = deliver_with(
        &target(&server, false, Duration::from_millis(100)),
        SOURCE,
        &[b"x"],
        &fast(),
        &SystemClock,
    )
    .await
    .unwrap_err();
    match err {
        DeliveryError::RetriesExhausted(m) => {
            assert!(
                m.contains("HTTP 500: Unable to deliver records due to unknown error."),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn dlib_http_endpoint_default_deliver_succeeds_first_time() {
    let server = TestServer::start(|_, r| echo(r)).await;
    deliver(
        &target(&server, true, Duration::from_secs(300)),
        SOURCE,
        &[b"a", b"b"],
    )
    .await
    .unwrap();
    assert_eq!(server.requests().len(), 1);
    deliver(
        &target(&server, true, Duration::from_secs(300)),
        SOURCE,
        &[],
    )
    .await
    .unwrap();
    assert_eq!(server.requests().len(), 1, "an empty batch sends nothing");
}

#[tokio::test]
async fn dlib_http_endpoint_splits_at_10000_records() {
    let server = TestServer::start(|_, r| echo(r)).await;
    let data: Vec<&[u8]> = vec![b"r"; 10_001];
    deliver_with(
        &target(&server, false, Duration::from_secs(5)),
        SOURCE,
        &data,
        &fast(),
        &SystemClock,
    )
    .await
    .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        body_json(&reqs[0])["records"].as_array().unwrap().len(),
        10_000
    );
    assert_eq!(body_json(&reqs[1])["records"].as_array().unwrap().len(), 1);
    assert_ne!(
        reqs[0].headers["x-amz-firehose-request-id"],
        reqs[1].headers["x-amz-firehose-request-id"]
    );
}
