//! Property tests of the request decoders: whatever bytes or JSON/CBOR trees a client sends to
//! whichever operation, the front end answers with a value or a 4xx AWS error — never a panic,
//! never a 500 — and well-formed requests decode to exactly what was sent.

use proptest::prelude::*;
use std::sync::Arc;
use weir_aws::codec::Encoding;
use weir_aws::kinesis;
use weir_core::ManualClock;
use weir_storage::memory::MemoryStore;
use weir_storage::metadata::MemoryMetadata;
use weir_streams::{ServiceConfig, StreamService};

const OPS: &[&str] = &[
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
    "PutRecord",
    "PutRecords",
    "RemoveTagsFromStream",
    "TagResource",
    "UpdateMaxRecordSize",
    "UpdateStreamMode",
];

fn service() -> StreamService {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let meta = Arc::new(MemoryMetadata::new());
    let config = ServiceConfig {
        creating_delay: std::time::Duration::ZERO,
        deleting_delay: std::time::Duration::ZERO,
        ..ServiceConfig::default()
    };
    let (svc, _) = StreamService::open(store, meta, clock, config).unwrap();
    svc.create_stream(weir_streams::CreateStream {
        name: "s".into(),
        shard_count: Some(2),
        mode: weir_streams::StreamMode::Provisioned,
        tags: Default::default(),
        max_record_size_kib: None,
        warm_throughput_mibps: None,
    })
    .unwrap();
    svc
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Member names the operations use, so random trees hit real fields with wrong values.
fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("StreamName".to_string()),
        Just("StreamARN".to_string()),
        Just("ShardCount".to_string()),
        Just("ShardId".to_string()),
        Just("ShardIteratorType".to_string()),
        Just("ShardIterator".to_string()),
        Just("StartingSequenceNumber".to_string()),
        Just("Timestamp".to_string()),
        Just("Records".to_string()),
        Just("Data".to_string()),
        Just("PartitionKey".to_string()),
        Just("ExplicitHashKey".to_string()),
        Just("Limit".to_string()),
        Just("Tags".to_string()),
        Just("TagKeys".to_string()),
        Just("ShardFilter".to_string()),
        Just("Type".to_string()),
        Just("RetentionPeriodHours".to_string()),
        Just("NextToken".to_string()),
        Just("StreamModeDetails".to_string()),
        Just("StreamMode".to_string()),
        Just("ShardLevelMetrics".to_string()),
        Just("MaxRecordSizeInKiB".to_string()),
        "[A-Za-z]{1,12}",
    ]
}

fn json_tree() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::json!(f)),
        prop_oneof![
            Just("s".to_string()),
            Just("shardId-000000000000".to_string()),
            Just("TRIM_HORIZON".to_string()),
            Just("aGVsbG8=".to_string()),
            Just("49000000000000000000000000000000".to_string()),
            ".{0,40}",
        ]
        .prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(member_name(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object_tree() -> impl Strategy<Value = serde_json::Value> {
    prop::collection::btree_map(member_name(), json_tree(), 0..8)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
}

fn to_cbor(v: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

fn assert_client_error_or_ok(
    result: Result<Vec<u8>, weir_aws::ApiError>,
) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(e.status < 500, "server error {e:?}");
        prop_assert!(!e.code.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(op in prop::sample::select(OPS), body in prop::collection::vec(any::<u8>(), 0..256), cbor in any::<bool>()) {
        let svc = service();
        let enc = if cbor { Encoding::Cbor } else { Encoding::Json };
        let result = rt().block_on(kinesis::dispatch(&svc, op, enc, &body));
        assert_client_error_or_ok(result)?;
    }

    #[test]
    fn arbitrary_json_and_cbor_trees_get_aws_errors(op in prop::sample::select(OPS), tree in object_tree()) {
        let svc = service();
        let json = serde_json::to_vec(&tree).unwrap();
        let r = rt().block_on(kinesis::dispatch(&svc, op, Encoding::Json, &json));
        assert_client_error_or_ok(r)?;
        let r = rt().block_on(kinesis::dispatch(&svc, op, Encoding::Cbor, &to_cbor(&tree)));
        assert_client_error_or_ok(r)?;
    }

    #[test]
    fn deeply_nested_input_is_refused_not_overflowed(depth in 100usize..3000) {
        let svc = service();
        let body = format!("{{\"Records\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        let r = rt().block_on(kinesis::dispatch(&svc, "PutRecords", Encoding::Json, body.as_bytes()));
        prop_assert!(r.is_err());
        assert_client_error_or_ok(r)?;
    }

    /// A well-formed PutRecords in JSON and in CBOR stores exactly the bytes and keys sent.
    #[test]
    fn put_records_round_trips_in_both_encodings(
        records in prop::collection::vec((".{1,40}", prop::collection::vec(any::<u8>(), 0..300)), 1..20),
        cbor in any::<bool>(),
    ) {
        let svc = service();
        let body = if cbor {
            let entries: Vec<ciborium::Value> = records.iter().map(|(pk, data)| ciborium::Value::Map(vec![
                (ciborium::Value::Text("PartitionKey".into()), ciborium::Value::Text(pk.clone())),
                (ciborium::Value::Text("Data".into()), ciborium::Value::Bytes(data.clone())),
            ])).collect();
            let v = ciborium::Value::Map(vec![
                (ciborium::Value::Text("StreamName".into()), ciborium::Value::Text("s".into())),
                (ciborium::Value::Text("Records".into()), ciborium::Value::Array(entries)),
            ]);
            let mut out = Vec::new();
            ciborium::into_writer(&v, &mut out).unwrap();
            out
        } else {
            let entries: Vec<serde_json::Value> = records.iter().map(|(pk, data)| serde_json::json!({
                "PartitionKey": pk,
                "Data": base64_simd::STANDARD.encode_to_string(data),
            })).collect();
            serde_json::to_vec(&serde_json::json!({"StreamName": "s", "Records": entries})).unwrap()
        };
        let enc = if cbor { Encoding::Cbor } else { Encoding::Json };
        let rt = rt();
        rt.block_on(kinesis::dispatch(&svc, "PutRecords", enc, &body)).unwrap();
        let mut seen = Vec::new();
        for shard in ["shardId-000000000000", "shardId-000000000001"] {
            let it = svc.get_shard_iterator(&weir_streams::StreamRef::name("s"), shard, weir_streams::StartingPosition::TrimHorizon).unwrap();
            let out = rt.block_on(svc.get_records(&it, 10_000, None)).unwrap();
            for r in out.records {
                seen.push((r.partition_key, r.data.to_vec()));
            }
        }
        let mut expected = records.clone();
        expected.sort();
        seen.sort();
        prop_assert_eq!(seen, expected);
    }
}
