//! Schedules against a manual clock: rate, cron (with L, W and #) and at rules invoke their
//! function targets with EventBridge's Scheduled Event, once per due time.

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use weir_core::ManualClock;
use weir_functions::schedules::{Schedules, Target};
use weir_functions::{Code, CreateFunction, FunctionService, FunctionsConfig};
use weir_storage::metadata::MemoryMetadata;

/// 2026-11-30T00:00:00Z, a Monday.
const START: i64 = 1_796_000_000_000 - 1_796_000_000_000 % 86_400_000;

async fn recorder() -> (String, Arc<Mutex<Vec<Value>>>) {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let g = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let g = g.clone();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let g = g.clone();
                        async move {
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            g.lock().push(serde_json::from_slice(&body).unwrap());
                            Ok::<_, std::convert::Infallible>(http::Response::new(
                                http_body_util::Full::new(Bytes::from_static(b"{}")),
                            ))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    (url, got)
}

async fn setup() -> (Schedules, Arc<ManualClock>, Arc<Mutex<Vec<Value>>>) {
    let clock = Arc::new(ManualClock::new(START));
    let meta = Arc::new(MemoryMetadata::new());
    let dir = tempfile::tempdir().unwrap();
    let functions = FunctionService::new(
        meta.clone(),
        clock.clone(),
        FunctionsConfig {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            code_dir: dir.path().join("f"),
            python: "python3".into(),
            node_ric: "aws-lambda-ric".into(),
            endpoint: None,
        },
    );
    let (url, got) = recorder().await;
    functions
        .create(CreateFunction {
            name: "tick".into(),
            role: "r".into(),
            code: Some(Code::Http { url }),
            ..Default::default()
        })
        .await
        .unwrap();
    let schedules = Schedules::open(meta, functions, clock.clone()).unwrap();
    (schedules, clock, got)
}

fn target(input: Option<&str>) -> Vec<Target> {
    vec![Target {
        id: "1".into(),
        arn: "arn:aws:lambda:us-east-1:000000000000:function:tick".into(),
        input: input.map(str::to_string),
    }]
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}

/// Advances the clock to `at` (ms since START) and runs the scheduler.
async fn at(s: &Schedules, clock: &ManualClock, offset: i64) {
    clock.set(START + offset);
    s.tick();
    settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_rule_fires_every_period_with_the_scheduled_event() {
    let (s, clock, got) = setup().await;
    s.put_rule("every5", "rate(5 minutes)", true, None).unwrap();
    s.put_targets("every5", target(None)).unwrap();
    at(&s, &clock, 299_000).await;
    assert!(got.lock().is_empty());
    at(&s, &clock, 300_000).await;
    at(&s, &clock, 301_000).await;
    assert_eq!(got.lock().len(), 1, "once per due time");
    at(&s, &clock, 600_000).await;
    let events = got.lock().clone();
    assert_eq!(events.len(), 2);
    let e = &events[0];
    assert_eq!(e["detail-type"], "Scheduled Event");
    assert_eq!(e["source"], "aws.events");
    assert_eq!(e["version"], "0");
    assert_eq!(e["account"], "000000000000");
    assert_eq!(e["region"], "us-east-1");
    assert_eq!(e["time"], "2026-11-30T00:05:00Z");
    assert_eq!(
        e["resources"][0],
        "arn:aws:events:us-east-1:000000000000:rule/every5"
    );
    assert_eq!(e["detail"], serde_json::json!({}));
    assert_eq!(e["id"].as_str().unwrap().len(), 36);
    assert_eq!(events[1]["time"], "2026-11-30T00:10:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_rules_with_l_w_and_hash_fire_on_their_days() {
    let (s, clock, got) = setup().await;
    // Last day of the month at 12:00, the weekday nearest the 5th (a Saturday in December 2026,
    // so Friday the 4th), and the first Monday (2 = MON).
    s.put_rule("last", "cron(0 12 L * ? *)", true, None)
        .unwrap();
    s.put_rule("nearest", "cron(0 9 5W * ? *)", true, None)
        .unwrap();
    s.put_rule("first-monday", "cron(30 7 ? * 2#1 *)", true, None)
        .unwrap();
    for r in ["last", "nearest", "first-monday"] {
        s.put_targets(r, target(Some(&format!("{{\"rule\":\"{r}\"}}"))))
            .unwrap();
    }
    let day = 86_400_000;
    let hour = 3_600_000;
    // Nov 30 12:00 is November's last day.
    at(&s, &clock, 12 * hour).await;
    // Dec 4 09:00 (nearest weekday to Saturday the 5th).
    at(&s, &clock, 4 * day + 9 * hour).await;
    // Dec 7 07:30, the first Monday of December.
    at(&s, &clock, 7 * day + 7 * hour + 30 * 60_000).await;
    // Dec 31 12:00.
    at(&s, &clock, 31 * day + 12 * hour).await;
    let rules: Vec<String> = got
        .lock()
        .iter()
        .map(|e| e["rule"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        rules,
        ["last", "nearest", "first-monday", "last"],
        "targets got their Input"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_at_rule_fires_once_and_a_disabled_rule_not_at_all() {
    let (s, clock, got) = setup().await;
    s.put_rule("once", "at(2026-11-30T01:00:00)", true, None)
        .unwrap();
    s.put_targets("once", target(None)).unwrap();
    s.put_rule("off", "rate(1 minute)", false, None).unwrap();
    s.put_targets("off", target(Some("{\"off\":true}")))
        .unwrap();
    at(&s, &clock, 3_600_000).await;
    at(&s, &clock, 7_200_000).await;
    let events = got.lock().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["time"], "2026-11-30T01:00:00Z");
    assert!(
        s.delete_rule("once").is_err(),
        "a rule with targets cannot be deleted"
    );
    s.remove_targets("once", &["1".into()]).unwrap();
    s.delete_rule("once").unwrap();
    assert!(s.put_rule("bad", "cron(0 12 * * * *)", true, None).is_err());
}
