//! The wire hot paths: decoding a 500 × 1 KiB PutRecords request (JSON and CBOR) and encoding
//! a 500-record GetRecords answer. `cargo bench -p weir-aws`.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use weir_aws::codec::{self, Encoding};
use weir_aws::kinesis::ops::{get_records, put_records};
use weir_core::ShardId;
use weir_storage::StoredRecord;

const RECORDS: usize = 500;
const SIZE: usize = 1024;

fn json_body() -> Vec<u8> {
    let data = base64_simd::STANDARD.encode_to_string(vec![7u8; SIZE]);
    let records: Vec<String> = (0..RECORDS)
        .map(|i| format!(r#"{{"PartitionKey":"pk-{i:016x}","Data":"{data}"}}"#))
        .collect();
    format!(
        r#"{{"StreamName":"bench","Records":[{}]}}"#,
        records.join(",")
    )
    .into_bytes()
}

fn cbor_body() -> Vec<u8> {
    use ciborium::Value as C;
    let records = (0..RECORDS)
        .map(|i| {
            C::Map(vec![
                (
                    C::Text("PartitionKey".into()),
                    C::Text(format!("pk-{i:016x}")),
                ),
                (C::Text("Data".into()), C::Bytes(vec![7u8; SIZE])),
            ])
        })
        .collect();
    let body = C::Map(vec![
        (C::Text("StreamName".into()), C::Text("bench".into())),
        (C::Text("Records".into()), C::Array(records)),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&body, &mut out).unwrap();
    out
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("put_records_decode");
    g.throughput(Throughput::Elements(RECORDS as u64));
    let json = json_body();
    // JSON: parsing only; the base64 data is decoded afterwards, into one buffer per request.
    g.bench_function("json_500x1KiB", |b| {
        b.iter(|| put_records::decode(Encoding::Json, black_box(&json)).unwrap())
    });
    let cbor = cbor_body();
    g.bench_function("cbor_500x1KiB", |b| {
        b.iter(|| put_records::decode(Encoding::Cbor, black_box(&cbor)).unwrap())
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let records: Vec<StoredRecord> = (0..RECORDS as u64)
        .map(|i| StoredRecord {
            offset: 1_000_000 + i,
            arrival_millis: 1_767_225_600_000 + i as i64,
            partition_key: format!("pk-{i:016x}"),
            explicit_hash_key: None,
            data: Bytes::from(vec![7u8; SIZE]),
        })
        .collect();
    let out = get_records::Output::new(ShardId(3), records, Some("A".repeat(64)), 0);
    let mut g = c.benchmark_group("get_records_encode");
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("json_500x1KiB", |b| {
        b.iter(|| {
            let mut buf = Vec::new();
            black_box(&out).write_json(&mut buf);
            buf
        })
    });
    g.bench_function("cbor_500x1KiB", |b| {
        b.iter(|| codec::encode(Encoding::Cbor, black_box(&out)))
    });
    g.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
