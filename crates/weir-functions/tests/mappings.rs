//! Event-source mapping semantics, one test each, against a real stream service (local log,
//! manual clock) and an HTTP function whose behaviour each test chooses.

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weir_core::ManualClock;
use weir_functions::mappings::{CreateMapping, EventSourceMappings};
use weir_functions::{Code, CreateFunction, FunctionService, FunctionsConfig};
use weir_storage::metadata::MemoryMetadata;
use weir_storage::MetadataStore;
use weir_streams::{CreateStream, PutEntry, ServiceConfig, StreamMode, StreamRef, StreamService};

const START: i64 = 1_800_000_000_000;

type Behaviour = Arc<dyn Fn(&Value) -> Value + Send + Sync>;

/// An HTTP function that records every event and answers what `behaviour` says.
struct Function {
    url: String,
    events: Arc<Mutex<Vec<Value>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

async fn function(delay: Duration, behaviour: Behaviour) -> Function {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let events: Arc<Mutex<Vec<Value>>> = Arc::default();
    let in_flight: Arc<AtomicUsize> = Arc::default();
    let max_in_flight: Arc<AtomicUsize> = Arc::default();
    let (ev, inf, maxf) = (events.clone(), in_flight.clone(), max_in_flight.clone());
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let (ev, inf, maxf, behaviour) =
                (ev.clone(), inf.clone(), maxf.clone(), behaviour.clone());
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (ev, inf, maxf, behaviour) =
                            (ev.clone(), inf.clone(), maxf.clone(), behaviour.clone());
                        async move {
                            let n = inf.fetch_add(1, Ordering::SeqCst) + 1;
                            maxf.fetch_max(n, Ordering::SeqCst);
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let event: Value = serde_json::from_slice(&body).unwrap();
                            tokio::time::sleep(delay).await;
                            let answer = behaviour(&event);
                            ev.lock().push(event);
                            inf.fetch_sub(1, Ordering::SeqCst);
                            let status = if answer.get("errorType").is_some() {
                                500
                            } else {
                                200
                            };
                            let mut resp = http::Response::new(http_body_util::Full::new(
                                Bytes::from(answer.to_string()),
                            ));
                            *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    Function {
        url,
        events,
        in_flight,
        max_in_flight,
    }
}

struct World {
    streams: StreamService,
    functions: FunctionService,
    mappings: EventSourceMappings,
    meta: Arc<dyn MetadataStore>,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(START));
    let (log, _) = weir_storage::LocalLog::open(
        &dir.path().join("streams"),
        weir_storage::Durability::None,
        clock.clone(),
    )
    .unwrap();
    let meta: Arc<dyn MetadataStore> = Arc::new(MemoryMetadata::new());
    let (streams, _) = StreamService::open(
        Arc::new(log),
        meta.clone(),
        clock.clone(),
        ServiceConfig {
            creating_delay: Duration::ZERO,
            deleting_delay: Duration::ZERO,
            throughput_limits: false,
            ..ServiceConfig::default()
        },
    )
    .unwrap();
    let functions = FunctionService::new(
        meta.clone(),
        clock.clone(),
        FunctionsConfig {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            code_dir: dir.path().join("functions"),
            python: "python3".into(),
            node_ric: "aws-lambda-ric".into(),
            endpoint: None,
        },
    );
    let mappings = EventSourceMappings::open(
        meta.clone(),
        functions.clone(),
        streams.clone(),
        clock.clone(),
        dir.path().join("s3"),
    )
    .unwrap();
    World {
        streams,
        functions,
        mappings,
        meta,
        clock,
        dir,
    }
}

impl World {
    fn stream(&self, name: &str, shards: u32) -> String {
        self.streams
            .create_stream(CreateStream {
                name: name.into(),
                shard_count: Some(shards),
                mode: StreamMode::Provisioned,
                tags: Default::default(),
                max_record_size_kib: None,
                warm_throughput_mibps: None,
            })
            .unwrap();
        self.streams.stream_arn(name)
    }

    async fn put(&self, stream: &str, key: &str, data: &str) -> String {
        let (_, seq) = self
            .streams
            .put_record(
                &StreamRef::name(stream),
                PutEntry {
                    partition_key: key,
                    explicit_hash_key: None,
                    data: data.as_bytes(),
                },
                None,
            )
            .await
            .unwrap();
        seq.to_string()
    }

    async fn http_function(&self, name: &str, f: &Function) {
        self.functions
            .create(CreateFunction {
                name: name.into(),
                role: "arn:aws:iam::000000000000:role/r".into(),
                timeout_secs: Some(30),
                code: Some(Code::Http { url: f.url.clone() }),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    fn map(
        &self,
        function: &str,
        stream_arn: &str,
        tune: impl FnOnce(&mut CreateMapping),
    ) -> String {
        let mut req = CreateMapping {
            function_name: function.into(),
            event_source_arn: stream_arn.into(),
            starting_position: Some("TRIM_HORIZON".into()),
            ..Default::default()
        };
        tune(&mut req);
        self.mappings.create(req).unwrap().uuid
    }

    /// On-failure records written under the bucket directory `bucket`.
    fn failures_in(&self, bucket: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let root = self.dir.path().join("s3").join(bucket);
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if !p.file_name().unwrap().to_string_lossy().starts_with('.') {
                    out.push(serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap());
                }
            }
        }
        out
    }
}

fn datas(event: &Value) -> Vec<String> {
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let b = base64_simd::STANDARD
                .decode_to_vec(r["kinesis"]["data"].as_str().unwrap().as_bytes())
                .unwrap();
            String::from_utf8(b).unwrap()
        })
        .collect()
}

async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..400 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn ok() -> Behaviour {
    Arc::new(|_| json!({}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batching_window_waits_for_a_fuller_batch() {
    let w = world();
    let arn = w.stream("window", 1);
    let f = function(Duration::ZERO, ok()).await;
    w.http_function("f", &f).await;
    w.map("f", &arn, |m| {
        m.batch_size = Some(10);
        m.max_batching_window_secs = Some(5);
    });
    for i in 0..3 {
        w.put("window", "k", &format!("r{i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        f.events.lock().is_empty(),
        "invoked before the window closed"
    );
    w.clock.advance(5_000);
    let events = eventually("the batch", || {
        let e = f.events.lock();
        (!e.is_empty()).then(|| e.clone())
    })
    .await;
    assert_eq!(datas(&events[0]), ["r0", "r1", "r2"]);
    // A full batch does not wait.
    for i in 0..10 {
        w.put("window", "k", &format!("s{i}")).await;
    }
    let events = eventually("the full batch", || {
        let e = f.events.lock();
        (e.len() == 2).then(|| e.clone())
    })
    .await;
    assert_eq!(datas(&events[1]).len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bisection_isolates_a_poison_record() {
    let w = world();
    let arn = w.stream("bisect", 1);
    let f = function(
        Duration::ZERO,
        Arc::new(|e| {
            if datas(e).iter().any(|d| d == "poison") {
                json!({"errorType": "Poison", "errorMessage": "poison"})
            } else {
                json!({})
            }
        }),
    )
    .await;
    w.http_function("f", &f).await;
    let mut seqs = Vec::new();
    for i in 0..10 {
        let d = if i == 6 {
            "poison".to_string()
        } else {
            format!("ok{i}")
        };
        seqs.push(w.put("bisect", &format!("k{i}"), &d).await);
    }
    w.map("f", &arn, |m| {
        m.batch_size = Some(10);
        m.bisect_on_error = Some(true);
        m.max_retry_attempts = Some(5);
        m.on_failure = Some("arn:aws:s3:::dlq".into());
    });
    let failures = eventually("the on-failure record", || {
        let f = w.failures_in("dlq");
        (!f.is_empty()).then_some(f)
    })
    .await;
    assert_eq!(failures.len(), 1);
    let info = &failures[0]["KinesisBatchInfo"];
    assert_eq!(info["batchSize"], 1, "{}", failures[0]);
    assert_eq!(info["startSequenceNumber"], seqs[6].as_str());
    assert_eq!(info["endSequenceNumber"], seqs[6].as_str());
    assert_eq!(
        failures[0]["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(datas(&failures[0]["payload"]), ["poison"]);
    // The records after the poison one are delivered once it has gone to the
    // on-failure destination, so they may still be on their way.
    let want: std::collections::BTreeSet<String> = (0..10)
        .filter(|i| *i != 6)
        .map(|i| format!("ok{i}"))
        .collect();
    let delivered = || -> std::collections::BTreeSet<String> {
        f.events
            .lock()
            .iter()
            .filter(|e| !datas(e).contains(&"poison".to_string()))
            .flat_map(datas)
            .collect()
    };
    eventually("every good record", || (delivered() == want).then_some(())).await;
    assert_eq!(delivered(), want, "every good record got through");
    assert_eq!(
        w.failures_in("dlq").len(),
        1,
        "the poison record failed once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_send_lambdas_failure_record_to_a_stream() {
    let w = world();
    let arn = w.stream("src", 1);
    let dlq = w.stream("dlq", 1);
    let f = function(
        Duration::ZERO,
        Arc::new(|_| json!({"errorType": "E", "errorMessage": "no"})),
    )
    .await;
    w.http_function("f", &f).await;
    let s0 = w.put("src", "a", "one").await;
    let s1 = w.put("src", "b", "two").await;
    let uuid = w.map("f", &arn, |m| {
        m.max_retry_attempts = Some(2);
        m.on_failure = Some(dlq.clone());
    });
    let lineage = w.streams.lineage("dlq").unwrap();
    let record = eventually("the failure record in the destination stream", || {
        let r = w
            .streams
            .read_shard(lineage.stream_uid, 0, 0, 10, 1 << 20)
            .unwrap();
        r.records
            .first()
            .map(|r| serde_json::from_slice::<Value>(&r.data).unwrap())
    })
    .await;
    assert_eq!(f.events.lock().len(), 3, "one call and two retries");
    let rc = &record["requestContext"];
    assert_eq!(rc["condition"], "RetryAttemptsExhausted");
    assert_eq!(rc["approximateInvokeCount"], 3);
    assert_eq!(
        rc["functionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:f"
    );
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    assert_eq!(record["version"], "1.0");
    let info = &record["KinesisBatchInfo"];
    assert_eq!(info["shardId"], "shardId-000000000000");
    assert_eq!(info["startSequenceNumber"], s0.as_str());
    assert_eq!(info["endSequenceNumber"], s1.as_str());
    assert_eq!(info["batchSize"], 2);
    assert_eq!(info["streamArn"], arn.as_str());
    assert!(info["approximateArrivalOfFirstRecord"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert!(
        record.get("payload").is_none(),
        "stream destinations carry no records"
    );
    // The shard moved on: a later record is delivered (and fails) on its own.
    w.put("src", "c", "three").await;
    eventually("the next batch", || {
        let e = f.events.lock();
        e.iter().any(|e| datas(e) == ["three"]).then_some(())
    })
    .await;
    assert!(w.mappings.get(&uuid).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_older_than_the_maximum_age_are_skipped_to_the_destination() {
    let w = world();
    let arn = w.stream("age", 1);
    let f = function(
        Duration::ZERO,
        Arc::new(|_| json!({"errorType": "E", "errorMessage": "no"})),
    )
    .await;
    w.http_function("f", &f).await;
    w.put("age", "a", "old").await;
    w.map("f", &arn, |m| {
        m.max_record_age_secs = Some(60);
        m.on_failure = Some("arn:aws:s3:::aged".into());
    });
    eventually("a first failing call", || {
        (!f.events.lock().is_empty()).then_some(())
    })
    .await;
    assert!(w.failures_in("aged").is_empty(), "not expired yet");
    w.clock.advance(61_000);
    let failures = eventually("the age failure", || {
        let f = w.failures_in("aged");
        (!f.is_empty()).then_some(f)
    })
    .await;
    assert_eq!(
        failures[0]["requestContext"]["condition"],
        "RecordAgeExceeded"
    );
    assert_eq!(datas(&failures[0]["payload"]), ["old"]);
    // The shard is unblocked: a fresh record is invoked.
    w.put("age", "b", "fresh").await;
    eventually("the fresh record", || {
        f.events
            .lock()
            .iter()
            .any(|e| datas(e) == ["fresh"])
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_batch_failures_retry_from_the_lowest_failed_record() {
    let w = world();
    let arn = w.stream("partial", 1);
    let failed_once = Arc::new(Mutex::new(false));
    let flag = failed_once.clone();
    let f = function(
        Duration::ZERO,
        Arc::new(move |e| {
            let mut done = flag.lock();
            let failures: Vec<Value> = e["Records"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| {
                    let d = base64_simd::STANDARD
                        .decode_to_vec(r["kinesis"]["data"].as_str().unwrap().as_bytes())
                        .unwrap();
                    !*done && (d == b"r3" || d == b"r5")
                })
                .map(|r| json!({"itemIdentifier": r["kinesis"]["sequenceNumber"]}))
                .collect();
            if !failures.is_empty() {
                *done = true;
            }
            json!({"batchItemFailures": failures})
        }),
    )
    .await;
    w.http_function("f", &f).await;
    for i in 0..8 {
        w.put("partial", "k", &format!("r{i}")).await;
    }
    w.map("f", &arn, |m| {
        m.batch_size = Some(8);
        m.function_response_types = vec!["ReportBatchItemFailures".into()];
    });
    let events = eventually("the retry", || {
        let e = f.events.lock();
        (e.len() >= 2).then(|| e.clone())
    })
    .await;
    assert_eq!(
        datas(&events[0]),
        (0..8).map(|i| format!("r{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        datas(&events[1]),
        ["r3", "r4", "r5", "r6", "r7"],
        "retried from the lowest failure"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(f.events.lock().len(), 2, "nothing repeated after success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallelization_keeps_order_per_partition_key() {
    let w = world();
    let arn = w.stream("par", 1);
    let f = function(Duration::from_millis(30), ok()).await;
    w.http_function("f", &f).await;
    for i in 0..200 {
        w.put(
            "par",
            &format!("key-{}", i % 10),
            &format!("{}:{i}", i % 10),
        )
        .await;
    }
    w.map("f", &arn, |m| {
        m.batch_size = Some(10);
        m.parallelization_factor = Some(4);
    });
    let events = eventually("every record", || {
        let e = f.events.lock();
        (e.iter().map(|e| datas(e).len()).sum::<usize>() >= 200).then(|| e.clone())
    })
    .await;
    let mut per_key: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for e in &events {
        for d in datas(e) {
            let (k, n) = d.split_once(':').unwrap();
            per_key
                .entry(k.into())
                .or_default()
                .push(n.parse().unwrap());
        }
    }
    assert_eq!(per_key.len(), 10);
    for (k, ns) in &per_key {
        assert_eq!(ns.len(), 20, "key {k}");
        assert!(
            ns.windows(2).all(|w| w[0] < w[1]),
            "key {k} out of order: {ns:?}"
        );
    }
    assert!(
        f.max_in_flight.load(Ordering::SeqCst) >= 2,
        "batches ran in parallel"
    );
    assert!(f.max_in_flight.load(Ordering::SeqCst) <= 4);
    assert_eq!(f.in_flight.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_criteria_pass_only_matching_records() {
    let w = world();
    let arn = w.stream("filter", 1);
    let f = function(Duration::ZERO, ok()).await;
    w.http_function("f", &f).await;
    w.put("filter", "a", r#"{"type":"order","n":1}"#).await;
    w.put("filter", "a", r#"{"type":"refund","n":2}"#).await;
    w.put("filter", "a", "not json").await;
    w.put("filter", "a", r#"{"type":"order","n":3}"#).await;
    w.map("f", &arn, |m| {
        m.filters = Some(vec![json!({"data": {"type": ["order"]}}).to_string()]);
    });
    let events = eventually("the filtered batch", || {
        let e = f.events.lock();
        (!e.is_empty()).then(|| e.clone())
    })
    .await;
    assert_eq!(
        datas(&events[0]),
        [r#"{"type":"order","n":1}"#, r#"{"type":"order","n":3}"#]
    );
    assert!(w
        .mappings
        .create(CreateMapping {
            function_name: "f".into(),
            event_source_arn: arn.clone(),
            starting_position: Some("LATEST".into()),
            filters: Some(vec!["{not json".into()]),
            ..Default::default()
        })
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tumbling_windows_carry_state_and_end_with_a_final_invocation() {
    let w = world();
    let arn = w.stream("tumble", 1);
    let f = function(
        Duration::ZERO,
        Arc::new(|e| {
            let before = e["state"]["count"].as_u64().unwrap_or(0);
            json!({"state": {"count": before + e["Records"].as_array().unwrap().len() as u64}})
        }),
    )
    .await;
    w.http_function("f", &f).await;
    w.map("f", &arn, |m| {
        m.tumbling_window_secs = Some(30);
        m.batch_size = Some(2);
    });
    // START is a multiple of 30 s, so all of these fall in one window.
    for i in 0..5 {
        w.put("tumble", "k", &format!("r{i}")).await;
    }
    eventually("the window's batches", || {
        let n: usize = f.events.lock().iter().map(|e| datas(e).len()).sum();
        (n == 5).then_some(())
    })
    .await;
    w.clock.advance(31_000);
    let events = eventually("the final invocation", || {
        let e = f.events.lock();
        e.iter()
            .any(|e| e["isFinalInvokeForWindow"] == true)
            .then(|| e.clone())
    })
    .await;
    let last = events
        .iter()
        .find(|e| e["isFinalInvokeForWindow"] == true)
        .unwrap();
    assert_eq!(
        last["state"]["count"], 5,
        "state carried across invocations: {last}"
    );
    assert_eq!(last["Records"].as_array().unwrap().len(), 0);
    assert_eq!(last["shardId"], "shardId-000000000000");
    assert_eq!(last["eventSourceARN"], arn.as_str());
    assert_eq!(last["isWindowTerminatedEarly"], false);
    let start = (START / 30_000) * 30_000;
    assert_eq!(last["window"]["start"], weir_iso(start));
    assert_eq!(last["window"]["end"], weir_iso(start + 30_000));
    assert_eq!(events[0]["state"], json!({}));
    assert_eq!(events[1]["state"]["count"], 2);
}

/// ISO-8601 of a time within the first hour after START (2027-01-15T08:00:00Z).
fn weir_iso(millis: i64) -> String {
    let offset = (millis - START) / 1000;
    format!("2027-01-15T08:{:02}:{:02}Z", offset / 60, offset % 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_mapping_resumes_from_its_checkpoint_and_follows_a_reshard() {
    let w = world();
    let arn = w.stream("resume", 1);
    let f = function(Duration::ZERO, ok()).await;
    w.http_function("f", &f).await;
    w.map("f", &arn, |m| m.batch_size = Some(5));
    for i in 0..20 {
        w.put("resume", &format!("k{}", i % 3), &format!("a{i}"))
            .await;
    }
    eventually("the first records", || {
        (f.events
            .lock()
            .iter()
            .map(|e| datas(e).len())
            .sum::<usize>()
            == 20)
            .then_some(())
    })
    .await;
    w.mappings.shutdown().await;
    // While the mapping is down: more records, and a reshard.
    for i in 0..10 {
        w.put("resume", &format!("k{}", i % 3), &format!("b{i}"))
            .await;
    }
    w.streams
        .update_shard_count(&StreamRef::name("resume"), 2)
        .await
        .unwrap();
    for i in 0..10 {
        w.put("resume", &format!("k{}", i % 3), &format!("c{i}"))
            .await;
    }
    let reopened = EventSourceMappings::open(
        w.meta.clone(),
        w.functions.clone(),
        w.streams.clone(),
        w.clock.clone(),
        w.dir.path().join("s3"),
    )
    .unwrap();
    eventually("every record", || {
        (f.events
            .lock()
            .iter()
            .map(|e| datas(e).len())
            .sum::<usize>()
            >= 40)
            .then_some(())
    })
    .await;
    let all: Vec<String> = f.events.lock().iter().flat_map(datas).collect();
    assert_eq!(all.len(), 40, "nothing lost, nothing repeated: {all:?}");
    let pos = |d: &str| all.iter().position(|x| x == d).unwrap();
    for i in 0..10 {
        assert!(
            pos(&format!("b{i}")) < pos(&format!("c{i}")),
            "parents before children"
        );
    }
    reopened.shutdown().await;
}
