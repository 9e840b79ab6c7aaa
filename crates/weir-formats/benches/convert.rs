//! JSON → Parquet (and ORC) conversion speed for 1 KiB records on one core, Snappy.
//! `cargo bench -p weir-formats`. The reference figure for JSON → Arrow → Parquet with snappy is
//! ~242 k records/s per core (shared/reference/crates.md).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use std::hint::black_box;
use weir_formats::{Converter, Table};

const RECORDS: usize = 10_000;

/// A 1 KiB event: a dozen typical fields and a free-text payload.
fn records() -> Vec<Vec<u8>> {
    (0..RECORDS)
        .map(|i| {
            let mut r = serde_json::to_vec(&json!({
                "id": i as i64 * 7919,
                "user_id": format!("user-{:08}", i % 5000),
                "event": (["click", "view", "purchase", "scroll"][i % 4]),
                "ts": format!("2026-11-30T12:{:02}:{:02}.{:03}Z", (i / 60) % 60, i % 60, i % 1000),
                "amount": (i % 1000) as f64 * 1.25,
                "quantity": (i % 17) as i64,
                "ok": i % 3 == 0,
                "country": (["DE", "US", "JP", "BR"][i % 4]),
                "device": "ios-17.2",
                "session": format!("{:032x}", i as u128 * 0x9e3779b97f4a7c15),
                "referrer": "https://example.com/some/landing/page?utm_source=newsletter",
                "payload": "",
            }))
            .unwrap();
            let pad = 1024usize.saturating_sub(r.len());
            let mut v: serde_json::Value = serde_json::from_slice(&r).unwrap();
            v["payload"] = json!("x".repeat(pad));
            r = serde_json::to_vec(&v).unwrap();
            r
        })
        .collect()
}

fn table() -> Table {
    Table::from_column_spec(
        "events",
        "id:bigint,user_id:string,event:string,ts:timestamp,amount:double,quantity:int,ok:boolean,\
         country:string,device:string,session:string,referrer:string,payload:string",
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let recs = records();
    let avg = recs.iter().map(Vec::len).sum::<usize>() / recs.len();
    eprintln!("{} records of {avg} bytes on average", recs.len());
    let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
    let mut g = c.benchmark_group("json_to");
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.sample_size(20);
    for (name, serializer) in [
        (
            "parquet_snappy",
            json!({"ParquetSerDe": {"Compression": "SNAPPY"}}),
        ),
        ("orc_snappy", json!({"OrcSerDe": {"Compression": "SNAPPY"}})),
    ] {
        let conv = Converter::new(
            &json!({"OutputFormatConfiguration": {"Serializer": serializer}}),
            &table(),
        )
        .unwrap();
        let out = conv.convert(&refs).unwrap();
        assert!(out.failed.is_empty(), "{:?}", &out.failed[..1]);
        eprintln!("{name}: {} bytes for {} rows", out.file.len(), out.rows);
        g.bench_function(name, |b| {
            b.iter(|| black_box(conv.convert(black_box(&refs)).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
