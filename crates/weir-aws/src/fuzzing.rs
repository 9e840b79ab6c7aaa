//! Entry points for the fuzz targets in `fuzz/` (and their regression corpus, replayed by
//! `cargo test`). Not part of the API.
//!
//! `kinesis` feeds arbitrary bytes as the body of any Kinesis operation, in JSON or CBOR, to the
//! real dispatcher over an in-memory service: whatever the bytes, the answer is a value or a 4xx
//! AWS error — never a panic, never a 500. `eventstream` feeds arbitrary bytes to the event
//! stream decoder: a message or an error, and a decoded message re-encodes to the same bytes.
//! `http` feeds arbitrary bytes as everything a client sends on one connection to the real
//! listener stack — HTTP/1.1 or HTTP/2 (sniffed), admission control, routing, every operation:
//! the connection ends by itself, nothing panics, and no answer is a 500.

use crate::codec::Encoding;
use crate::kinesis;
use std::sync::{Arc, OnceLock};
use weir_streams::{ServiceConfig, StreamService};

/// Operations the Kinesis target picks from (by the input's second byte).
pub const OPERATIONS: &[&str] = &[
    "AddTagsToStream",
    "CreateStream",
    "DecreaseStreamRetentionPeriod",
    "DeleteStream",
    "DescribeStream",
    "DescribeStreamSummary",
    "EnableEnhancedMonitoring",
    "GetRecords",
    "GetShardIterator",
    "IncreaseStreamRetentionPeriod",
    "ListShards",
    "ListStreams",
    "ListTagsForStream",
    "MergeShards",
    "PutRecord",
    "PutRecords",
    "RegisterStreamConsumer",
    "RemoveTagsFromStream",
    "SplitShard",
    "TagResource",
    "UpdateShardCount",
    "UpdateStreamMode",
];

/// Firehose operations the Firehose target picks from (by the input's first byte).
pub const FIREHOSE_OPERATIONS: &[&str] = &[
    "CreateDeliveryStream",
    "DeleteDeliveryStream",
    "DescribeDeliveryStream",
    "ListDeliveryStreams",
    "UpdateDestination",
    "PutRecord",
    "PutRecordBatch",
    "TagDeliveryStream",
    "UntagDeliveryStream",
    "ListTagsForDeliveryStream",
    "StartDeliveryStreamEncryption",
    "StopDeliveryStreamEncryption",
];

struct Target {
    svc: StreamService,
    delivery: weir_delivery::DeliveryService,
    router: Arc<crate::Router>,
    rt: tokio::runtime::Runtime,
}

fn target() -> &'static Target {
    static T: OnceLock<Target> = OnceLock::new();
    T.get_or_init(|| {
        let clock = Arc::new(weir_core::ManualClock::new(1_700_000_000_000));
        let store = Arc::new(weir_storage::memory::MemoryStore::new(clock.clone()));
        let meta: Arc<dyn weir_storage::MetadataStore> =
            Arc::new(weir_storage::metadata::MemoryMetadata::new());
        let config = ServiceConfig {
            creating_delay: std::time::Duration::ZERO,
            deleting_delay: std::time::Duration::ZERO,
            ..ServiceConfig::default()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (svc, _) = rt
            .block_on(async { StreamService::open(store, meta.clone(), clock.clone(), config) })
            .expect("service");
        rt.block_on(async {
            let _ = svc.create_stream(weir_streams::CreateStream {
                name: "s".into(),
                shard_count: Some(2),
                mode: weir_streams::StreamMode::Provisioned,
                tags: Default::default(),
                max_record_size_kib: None,
                warm_throughput_mibps: None,
            });
        });
        // Firehose, Glue and EventBridge behind the same router (functions stay out: a fuzzed
        // CreateFunction could start processes or call out to the network).
        // Objects of fuzzed delivery streams go to a scratch directory of this process.
        let objects = std::env::temp_dir().join(format!("weir-fuzz-{}", std::process::id()));
        let shared = Arc::new(weir_delivery::Shared {
            clock: clock.clone(),
            buckets: Arc::new(weir_delivery::sink::Buckets::new(
                &objects,
                Default::default(),
            )),
            invoker: Arc::new(weir_delivery::transform::HttpInvoker::new(
                Default::default(),
            )),
            conversion: Arc::new(weir_delivery::pipeline::NoConversion),
            recorder: Arc::new(weir_delivery::pipeline::NoMetrics),
            region: "us-east-1".into(),
        });
        let delivery_store = Arc::new(weir_storage::memory::MemoryStore::new(clock.clone()));
        let delivery = rt
            .block_on(async {
                weir_delivery::DeliveryService::open(
                    delivery_store,
                    meta.clone(),
                    Some(svc.clone()),
                    shared,
                    weir_delivery::DeliveryConfig {
                        creating_delay: std::time::Duration::ZERO,
                        poll_interval: std::time::Duration::from_secs(3600),
                        ..Default::default()
                    },
                )
            })
            .expect("delivery service");
        let catalog = weir_formats::Catalog::open_with(meta.clone(), clock.clone(), "000000000000")
            .expect("catalog");
        let functions = weir_functions::FunctionService::new(
            meta.clone(),
            clock.clone(),
            weir_functions::FunctionsConfig {
                region: "us-east-1".into(),
                account_id: "000000000000".into(),
                code_dir: objects.join("functions"),
                python: "python3".into(),
                node_ric: "aws-lambda-ric".into(),
                endpoint: None,
            },
        );
        let schedules =
            weir_functions::schedules::Schedules::open(meta, functions, clock).expect("schedules");
        let router = Arc::new(
            crate::Router::new(svc.clone())
                .with_delivery(delivery.clone(), Default::default())
                .with_glue(Arc::new(catalog))
                .with_schedules(schedules),
        );
        Target {
            svc,
            delivery,
            router,
            rt,
        }
    })
}

impl Target {
    /// Runs one input to completion. One at a time: when `cargo test` replays inputs from several
    /// threads, the thread that drives the runtime's tasks must be the one waiting for them.
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.rt.block_on(f)
    }
}

/// Byte 0 picks the encoding, byte 1 the operation; the rest is the request body.
pub fn kinesis(data: &[u8]) {
    let [enc, op, body @ ..] = data else { return };
    let enc = if enc % 2 == 0 {
        Encoding::Json
    } else {
        Encoding::Cbor
    };
    let op = OPERATIONS[*op as usize % OPERATIONS.len()];
    let t = target();
    let result = t.block_on(kinesis::dispatch(&t.svc, op, enc, body));
    if let Err(e) = result {
        assert!(e.status < 500, "{op}: a 5xx for client input: {e:?}");
        assert!(!e.code.is_empty());
    }
}

/// Byte 0 picks the Firehose operation; the rest is its JSON body.
pub fn firehose(data: &[u8]) {
    let [op, body @ ..] = data else { return };
    let op = FIREHOSE_OPERATIONS[*op as usize % FIREHOSE_OPERATIONS.len()];
    let t = target();
    let result = t.block_on(crate::firehose::dispatch(
        &t.delivery,
        op,
        Encoding::Json,
        body,
    ));
    if let Err(e) = result {
        assert!(e.status < 500, "{op}: a 5xx for client input: {e:?}");
        assert!(!e.code.is_empty());
    }
}

/// Decodes a sequence of event-stream messages from arbitrary bytes.
pub fn eventstream(data: &[u8]) {
    let mut rest = data;
    while let Ok(Some((message, used))) = crate::eventstream::decode(rest) {
        assert!(used > 0 && used <= rest.len());
        let again = crate::eventstream::encode(&message.headers, &message.payload)
            .expect("a decoded message re-encodes");
        assert_eq!(&again[..], &rest[..used], "decode/encode round trip");
        rest = &rest[used..];
    }
}

/// How long one connection may take before the target calls it a hang.
const HTTP_HANG: std::time::Duration = std::time::Duration::from_secs(3);

/// How many quiet yields to the server count as settled, and the most the client waits.
const HTTP_SETTLE_YIELDS: usize = 64;
const HTTP_SETTLE_MAX_YIELDS: usize = 20_000;

/// One client connection that sends `data` and then closes its sending side; returns what the
/// server sent back.
pub fn http(data: &[u8]) -> Vec<u8> {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = target();
    let router = t.router.clone();
    let panics_before = router
        .admission
        .counters
        .handler_panics
        .load(Ordering::Relaxed);
    let response = t.block_on(async {
        let (client, server) = tokio::io::duplex(1 << 16);
        let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 1));
        let activity = crate::admission::Activity::new();
        let service = crate::server::connection_service(router.clone(), peer, activity.clone());
        let builder = crate::server::connection_builder(&router.admission.limits);
        let connection = tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(server);
            let _ = builder.serve_connection(io, service).await;
        });
        let (mut from_server, mut to_server) = tokio::io::split(client);
        let reader = tokio::spawn(async move {
            let mut out = Vec::new();
            let _ = from_server.read_to_end(&mut out).await;
            out
        });
        let _ = to_server.write_all(data).await;
        // Let the server answer what it has read before it sees the end of the input: HTTP/2
        // treats a closed transport as the end of every stream. Settled = no request in flight
        // and none started for a while; counted in yields to this thread's other tasks, not time.
        let (mut seen, mut quiet) = (activity.requests().0, 0);
        for _ in 0..HTTP_SETTLE_MAX_YIELDS {
            tokio::task::yield_now().await;
            let (started, inflight) = activity.requests();
            if inflight == 0 && started == seen {
                quiet += 1;
                if quiet == HTTP_SETTLE_YIELDS {
                    break;
                }
            } else {
                (seen, quiet) = (started, 0);
            }
        }
        let _ = to_server.shutdown().await;
        let out = tokio::time::timeout(HTTP_HANG, reader)
            .await
            .expect("the connection ends once the client has sent everything")
            .expect("reading the answer");
        tokio::time::timeout(HTTP_HANG, connection)
            .await
            .expect("the connection task ends")
            .expect("the connection task does not panic");
        out
    });
    assert_eq!(
        router
            .admission
            .counters
            .handler_panics
            .load(Ordering::Relaxed),
        panics_before,
        "an operation panicked"
    );
    assert!(
        !response.windows(12).any(|w| w == b"HTTP/1.1 500"),
        "a 500 for client input"
    );
    response
}
