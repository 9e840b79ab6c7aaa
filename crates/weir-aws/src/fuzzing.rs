//! Entry points for the fuzz targets in `fuzz/` (and their regression corpus, replayed by
//! `cargo test`). Not part of the API.
//!
//! `kinesis` feeds arbitrary bytes as the body of any Kinesis operation, in JSON or CBOR, to the
//! real dispatcher over an in-memory service: whatever the bytes, the answer is a value or a 4xx
//! AWS error — never a panic, never a 500. `eventstream` feeds arbitrary bytes to the event
//! stream decoder: a message or an error, and a decoded message re-encodes to the same bytes.

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

struct Target {
    svc: StreamService,
    rt: tokio::runtime::Runtime,
}

fn target() -> &'static Target {
    static T: OnceLock<Target> = OnceLock::new();
    T.get_or_init(|| {
        let clock = Arc::new(weir_core::ManualClock::new(1_700_000_000_000));
        let store = Arc::new(weir_storage::memory::MemoryStore::new(clock.clone()));
        let meta = Arc::new(weir_storage::metadata::MemoryMetadata::new());
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
            .block_on(async { StreamService::open(store, meta, clock, config) })
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
        Target { svc, rt }
    })
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
    let result = t.rt.block_on(kinesis::dispatch(&t.svc, op, enc, body));
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
