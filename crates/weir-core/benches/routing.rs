//! Routing a PutRecords call: MD5 of 500 partition keys and the shard lookup by hash range.
//! `cargo bench -p weir-core`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use weir_core::{HashKey, HashKeyRange};

fn routing(c: &mut Criterion) {
    let keys: Vec<String> = (0..500u64).map(|i| format!("pk-{i:016x}")).collect();
    let ranges = HashKeyRange::uniform(4);
    let starts: Vec<u128> = ranges.iter().map(|r| r.start).collect();
    let mut g = c.benchmark_group("routing");
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("md5_500_keys", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| HashKey::from_partition_key(black_box(k)).0)
                .fold(0u128, |a, h| a ^ h)
        })
    });
    g.bench_function("md5_and_shard_500_keys_4_shards", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| {
                    let h = HashKey::from_partition_key(black_box(k)).0;
                    starts.partition_point(|s| *s <= h) - 1
                })
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
