//! Service-level tests of delivery: buffering by size and interval (a ManualClock moves time),
//! one object per partition, Firehose's keys, compression, error output, and resuming from the
//! checkpoint after a restart.

use serde_json::json;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use weir_core::{Clock, ManualClock};
use weir_delivery::model::DeliveryStreamType;
use weir_delivery::pipeline::{NoConversion, NoMetrics};
use weir_delivery::sink::Buckets;
use weir_delivery::transform::{BoxFuture, HttpInvoker, Invoker};
use weir_delivery::{CreateRequest, DeliveryConfig, DeliveryService, DestinationConfig, Shared};
use weir_storage::{MemoryMetadata, MemoryStore, MetadataStore, StreamStore};

/// 2026-03-04T05:06:07Z
const T0: i64 = 1_772_600_767_000;

struct Env {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    store: Arc<dyn StreamStore>,
    meta: Arc<dyn MetadataStore>,
}

impl Env {
    fn new() -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        Self {
            dir: tempfile::tempdir().unwrap(),
            store: Arc::new(MemoryStore::new(clock.clone())),
            meta: Arc::new(MemoryMetadata::default()),
            clock,
        }
    }

    fn open(&self) -> DeliveryService {
        self.open_with(Arc::new(HttpInvoker::new(BTreeMap::new())))
    }

    fn open_with(&self, invoker: Arc<dyn Invoker>) -> DeliveryService {
        let clock: Arc<dyn Clock> = self.clock.clone();
        let shared = Arc::new(Shared {
            clock,
            buckets: Arc::new(Buckets::new(self.dir.path(), BTreeMap::new())),
            invoker,
            conversion: Arc::new(NoConversion),
            recorder: Arc::new(NoMetrics),
            region: "us-east-1".into(),
        });
        DeliveryService::open(
            self.store.clone(),
            self.meta.clone(),
            None,
            shared,
            DeliveryConfig {
                creating_delay: Duration::ZERO,
                // Steps are driven by the tests.
                poll_interval: Duration::from_secs(3600),
                ..DeliveryConfig::default()
            },
        )
        .unwrap()
    }

    fn bucket(&self) -> PathBuf {
        self.dir.path().join("s3").join("bucket")
    }
}

fn create(svc: &DeliveryService, name: &str, s3: serde_json::Value) {
    svc.create(CreateRequest {
        name: name.into(),
        stream_type: DeliveryStreamType::DirectPut,
        kinesis_source: None,
        throughput_hint_mbs: None,
        destination: DestinationConfig::ExtendedS3(s3),
        tags: vec![],
        encryption: None,
    })
    .unwrap();
}

fn base(size: u64, interval: u64) -> serde_json::Value {
    json!({
        "RoleARN": "arn:aws:iam::000000000000:role/firehose",
        "BucketARN": "arn:aws:s3:::bucket",
        "BufferingHints": {"SizeInMBs": size, "IntervalInSeconds": interval},
    })
}

/// Every object under `root`: (key relative to root, bytes), sorted by key.
/// A file being written: object_store's staging name (`<key>#<n>`) or a dot-file.
fn is_staging(name: &str) -> bool {
    name.starts_with('.')
        || name
            .rsplit_once('#')
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn objects(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if !is_staging(&p.file_name().unwrap().to_string_lossy()) {
                // A staging file may be renamed into place between listing and reading.
                if let Ok(body) = std::fs::read(&p) {
                    let key = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
                    out.push((key, body));
                }
            }
        }
    }
    walk(root, root, &mut out);
    out.sort();
    out
}

async fn put(svc: &DeliveryService, name: &str, records: &[&[u8]]) {
    let out = svc.put_records(name, records).await.unwrap();
    assert!(out.iter().all(|r| r.is_ok()), "{out:?}");
}

#[tokio::test]
async fn interval_trigger_writes_one_object_with_firehose_key() {
    let env = Env::new();
    let svc = env.open();
    create(&svc, "orders", base(5, 60));
    put(&svc, "orders", &[b"{\"a\":1}\n", b"{\"a\":2}\n"]).await;
    svc.step("orders", false).await.unwrap();
    assert!(
        objects(&env.bucket()).is_empty(),
        "written before the interval"
    );
    env.clock.advance(59_000);
    svc.step("orders", false).await.unwrap();
    assert!(
        objects(&env.bucket()).is_empty(),
        "written before the interval"
    );
    env.clock.advance(1_000);
    svc.step("orders", false).await.unwrap();
    let objs = objects(&env.bucket());
    assert_eq!(objs.len(), 1, "{objs:?}");
    let (key, body) = &objs[0];
    assert_eq!(body, b"{\"a\":1}\n{\"a\":2}\n");
    // yyyy/MM/dd/HH/ of the oldest record, then name-version-yyyy-MM-dd-HH-mm-ss-uuid.
    assert!(
        key.starts_with("2026/03/04/05/orders-1-2026-03-04-05-06-07-"),
        "{key}"
    );
    let uuid = &key["2026/03/04/05/orders-1-2026-03-04-05-06-07-".len()..];
    assert_eq!(uuid.len(), 36, "{key}");
    // Nothing more to write.
    env.clock.advance(600_000);
    svc.step("orders", false).await.unwrap();
    assert_eq!(objects(&env.bucket()).len(), 1);
}

/// A failed delivery is tried again every 5 seconds, as Firehose does, not at every step.
#[tokio::test]
async fn a_failed_delivery_is_retried_after_five_seconds() {
    let env = Env::new();
    let svc = env.open();
    create(&svc, "retry", base(5, 0));
    // A file where the bucket's directory should be: every write to the bucket fails.
    std::fs::create_dir_all(env.bucket().parent().unwrap()).unwrap();
    std::fs::write(env.bucket(), b"not a directory").unwrap();
    put(&svc, "retry", &[b"kept\n"]).await;
    svc.step("retry", false).await.unwrap();
    std::fs::remove_file(env.bucket()).unwrap();
    // More records and steps within the 5 s do not retry.
    put(&svc, "retry", &[b"more\n"]).await;
    env.clock.advance(4_999);
    svc.step("retry", false).await.unwrap();
    assert!(objects(&env.bucket()).is_empty(), "retried before 5 s");
    env.clock.advance(1);
    svc.step("retry", false).await.unwrap();
    let objs = objects(&env.bucket());
    assert_eq!(objs.len(), 1, "{objs:?}");
    assert_eq!(objs[0].1, b"kept\nmore\n");
}

#[tokio::test]
async fn size_trigger_writes_without_waiting() {
    let env = Env::new();
    let svc = env.open();
    create(&svc, "big", base(1, 900));
    let record = vec![b'x'; 300 * 1024];
    for _ in 0..4 {
        put(&svc, "big", &[&record]).await;
    }
    svc.step("big", false).await.unwrap();
    let objs = objects(&env.bucket());
    assert_eq!(objs.len(), 1, "one object once 1 MiB is buffered");
    assert_eq!(objs[0].1.len(), 4 * 300 * 1024);
    // The fifth record waits for its own trigger.
    put(&svc, "big", &[&record]).await;
    svc.step("big", false).await.unwrap();
    assert_eq!(objects(&env.bucket()).len(), 1);
    env.clock.advance(900_000);
    svc.step("big", false).await.unwrap();
    assert_eq!(objects(&env.bucket()).len(), 2);
}

#[tokio::test]
async fn gzip_objects_decompress_to_the_records() {
    let env = Env::new();
    let svc = env.open();
    let mut s3 = base(5, 0);
    s3["CompressionFormat"] = json!("GZIP");
    s3["Prefix"] = json!("logs/");
    create(&svc, "gz", s3);
    put(&svc, "gz", &[b"one\n", b"two\n"]).await;
    svc.step("gz", false).await.unwrap();
    let objs = objects(&env.bucket());
    assert_eq!(objs.len(), 1);
    assert!(
        objs[0].0.starts_with("logs/2026/03/04/05/gz-1-"),
        "{}",
        objs[0].0
    );
    assert!(objs[0].0.ends_with(".gz"), "{}", objs[0].0);
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&objs[0].1[..])
        .read_to_end(&mut text)
        .unwrap();
    assert_eq!(text, b"one\ntwo\n");
}

#[tokio::test]
async fn dynamic_partitioning_one_object_per_partition_and_errors_to_the_error_prefix() {
    let env = Env::new();
    let svc = env.open();
    let mut s3 = base(64, 60);
    s3["Prefix"] = json!("customer=!{partitionKeyFromQuery:c}/");
    s3["ErrorOutputPrefix"] = json!("errors/!{firehose:error-output-type}/");
    s3["DynamicPartitioningConfiguration"] = json!({"Enabled": true});
    s3["ProcessingConfiguration"] = json!({"Enabled": true, "Processors": [
        {"Type": "MetadataExtraction", "Parameters": [
            {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{c: .customer}"},
            {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]},
        {"Type": "AppendDelimiterToRecord", "Parameters": []}
    ]});
    create(&svc, "parts", s3);
    put(
        &svc,
        "parts",
        &[
            br#"{"customer":"a","n":1}"#,
            br#"{"customer":"b","n":2}"#,
            br#"{"customer":"a","n":3}"#,
            b"not json",
        ],
    )
    .await;
    env.clock.advance(60_000);
    svc.step("parts", false).await.unwrap();
    let objs = objects(&env.bucket());
    assert_eq!(
        objs.len(),
        3,
        "{:?}",
        objs.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    let a = objs
        .iter()
        .find(|o| o.0.starts_with("customer=a/"))
        .unwrap();
    let b = objs
        .iter()
        .find(|o| o.0.starts_with("customer=b/"))
        .unwrap();
    assert_eq!(
        a.1,
        b"{\"customer\":\"a\",\"n\":1}\n{\"customer\":\"a\",\"n\":3}\n"
    );
    assert_eq!(b.1, b"{\"customer\":\"b\",\"n\":2}\n");
    let err = objs.iter().find(|o| o.0.starts_with("errors/")).unwrap();
    let line: serde_json::Value =
        serde_json::from_slice(err.1.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["rawData"], json!("bm90IGpzb24="));
    assert_eq!(line["arrivalTimestamp"], json!(T0));
    assert!(line["errorCode"]
        .as_str()
        .unwrap()
        .starts_with("DynamicPartitioning."));
}

#[tokio::test]
async fn restart_delivers_what_was_acknowledged_and_not_written() {
    let env = Env::new();
    {
        let svc = env.open();
        create(&svc, "durable", base(5, 300));
        put(&svc, "durable", &[b"r1\n", b"r2\n"]).await;
        svc.step("durable", false).await.unwrap();
        // Crash: the buffer is lost with the process; nothing was written.
        drop(svc);
    }
    assert!(objects(&env.bucket()).is_empty());
    let svc = env.open();
    put(&svc, "durable", &[b"r3\n"]).await;
    env.clock.advance(300_000);
    svc.step("durable", false).await.unwrap();
    let objs = objects(&env.bucket());
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0].1, b"r1\nr2\nr3\n");
    // Delivered records are checkpointed: a third start writes nothing again.
    drop(svc);
    let svc = env.open();
    env.clock.advance(300_000);
    svc.step("durable", true).await.unwrap();
    assert_eq!(objects(&env.bucket()).len(), 1);
}

#[tokio::test]
async fn shutdown_writes_every_buffer() {
    let env = Env::new();
    let svc = env.open();
    create(&svc, "bye", base(5, 900));
    put(&svc, "bye", &[b"last\n"]).await;
    svc.shutdown().await;
    let objs = objects(&env.bucket());
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0].1, b"last\n");
}

#[tokio::test]
async fn backup_enabled_writes_source_records() {
    let env = Env::new();
    let svc = env.open();
    let mut s3 = base(5, 0);
    s3["S3BackupMode"] = json!("Enabled");
    s3["S3BackupConfiguration"] = json!({
        "RoleARN": "arn:aws:iam::000000000000:role/firehose",
        "BucketARN": "arn:aws:s3:::backup",
        "Prefix": "source/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
    });
    s3["ProcessingConfiguration"] = json!({"Enabled": true, "Processors": [
        {"Type": "AppendDelimiterToRecord", "Parameters": []}]});
    create(&svc, "bk", s3);
    put(&svc, "bk", &[b"x", b"y"]).await;
    svc.step("bk", false).await.unwrap();
    assert_eq!(objects(&env.bucket())[0].1, b"x\ny\n");
    let backup = objects(&env.dir.path().join("s3").join("backup"));
    assert_eq!(backup.len(), 1);
    assert!(backup[0].0.starts_with("source/2026/03/04/05/bk-1-"));
    assert_eq!(backup[0].1, b"xy");
}

/// A transform function: upper-cases records, drops "drop", fails "fail", and partitions by
/// the first letter.
struct Upper;

impl Invoker for Upper {
    fn invoke<'a>(
        &'a self,
        _function: &'a str,
        payload: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, String>> {
        Box::pin(async move {
            let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            assert!(event["deliveryStreamArn"]
                .as_str()
                .unwrap()
                .ends_with(":deliverystream/lam"));
            let b64 = base64_simd::STANDARD;
            let records: Vec<serde_json::Value> = event["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let data = b64.decode_to_vec(r["data"].as_str().unwrap()).unwrap();
                    let text = String::from_utf8(data).unwrap();
                    let id = r["recordId"].clone();
                    match text.as_str() {
                        "drop" => json!({"recordId": id, "result": "Dropped"}),
                        "fail" => json!({"recordId": id, "result": "ProcessingFailed"}),
                        t => json!({"recordId": id, "result": "Ok",
                            "data": b64.encode_to_string(t.to_uppercase()),
                            "metadata": {"partitionKeys": {"first": &t[..1]}}}),
                    }
                })
                .collect();
            Ok(serde_json::to_vec(&json!({ "records": records })).unwrap())
        })
    }
}

#[tokio::test]
async fn lambda_transform_then_partition_by_lambda_keys_and_failed_records_to_errors() {
    let env = Env::new();
    let svc = env.open_with(Arc::new(Upper));
    let mut s3 = base(64, 0);
    s3["Prefix"] = json!("first=!{partitionKeyFromLambda:first}/");
    s3["ErrorOutputPrefix"] = json!("failed/!{firehose:error-output-type}/");
    s3["DynamicPartitioningConfiguration"] = json!({"Enabled": true});
    s3["ProcessingConfiguration"] = json!({"Enabled": true, "Processors": [
        {"Type": "Lambda", "Parameters": [
            {"ParameterName": "LambdaArn", "ParameterValue": "arn:aws:lambda:us-east-1:000000000000:function:upper"}]},
        {"Type": "AppendDelimiterToRecord", "Parameters": []}
    ]});
    create(&svc, "lam", s3);
    put(
        &svc,
        "lam",
        &[b"apple", b"drop", b"avocado", b"banana", b"fail"],
    )
    .await;
    svc.step("lam", false).await.unwrap();
    let objs = objects(&env.bucket());
    let keys: Vec<&String> = objs.iter().map(|o| &o.0).collect();
    assert_eq!(objs.len(), 3, "{keys:?}");
    let a = objs.iter().find(|o| o.0.starts_with("first=a/")).unwrap();
    assert_eq!(a.1, b"APPLE\nAVOCADO\n");
    let b = objs.iter().find(|o| o.0.starts_with("first=b/")).unwrap();
    assert_eq!(b.1, b"BANANA\n");
    let f = objs
        .iter()
        .find(|o| o.0.starts_with("failed/processing-failed/"))
        .unwrap();
    let line: serde_json::Value = serde_json::from_slice(f.1.trim_ascii_end()).unwrap();
    assert_eq!(line["rawData"], json!("ZmFpbA=="));
    assert_eq!(
        line["lambdaArn"],
        json!("arn:aws:lambda:us-east-1:000000000000:function:upper")
    );
    assert!(line["errorCode"].as_str().unwrap().starts_with("Lambda."));
}

#[tokio::test]
async fn partitions_past_the_active_limit_go_to_the_error_output() {
    let env = Env::new();
    let svc = env.open();
    let mut s3 = base(64, 60);
    s3["Prefix"] = json!("p=!{partitionKeyFromQuery:p}/");
    s3["ErrorOutputPrefix"] = json!("err/!{firehose:error-output-type}/");
    s3["DynamicPartitioningConfiguration"] = json!({"Enabled": true});
    s3["ProcessingConfiguration"] = json!({"Enabled": true, "Processors": [
        {"Type": "MetadataExtraction", "Parameters": [
            {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{p: .p}"},
            {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]});
    create(&svc, "many", s3);
    let records: Vec<Vec<u8>> = (0..502)
        .map(|i| format!("{{\"p\":{i}}}").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
    put(&svc, "many", &refs).await;
    env.clock.advance(60_000);
    svc.step("many", false).await.unwrap();
    let objs = objects(&env.bucket());
    let errors: Vec<_> = objs
        .iter()
        .filter(|o| o.0.starts_with("err/activePartitionExceeded/"))
        .collect();
    assert_eq!(objs.len() - errors.len(), 500);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].1.iter().filter(|b| **b == b'\n').count(), 2);
}
