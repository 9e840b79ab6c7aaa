//! The local segment log: appending a 500 × 1 KiB batch and reading it back, without fsync
//! (Durability::None) so that the numbers are the log's own work. `cargo bench -p weir-storage`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_core::{Clock, SystemClock};
use weir_storage::{Durability, LocalLog, RecordIn, ShardKey, StreamStore};

const RECORDS: usize = 500;
const SIZE: usize = 1024;

fn log(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (log, _) = LocalLog::open(dir.path(), Durability::None, clock).unwrap();
    let key = ShardKey {
        stream: 1,
        shard: 0,
    };
    log.create_shard(key).unwrap();
    let data = vec![7u8; SIZE];
    let keys: Vec<String> = (0..RECORDS).map(|i| format!("pk-{i:016x}")).collect();
    let batch: Vec<RecordIn<'_>> = keys
        .iter()
        .map(|k| RecordIn {
            partition_key: k,
            explicit_hash_key: None,
            data: &data,
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    let mut g = c.benchmark_group("local_log");
    g.throughput(Throughput::Bytes((RECORDS * SIZE) as u64));
    // Timed appends only; every 1,000 appends (500 MiB) the shard is deleted and created
    // again so that the benchmark does not fill the disk.
    let mut key = key;
    let mut appended_since_reset = 0;
    g.bench_function("append_500x1KiB_durability_none", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                if appended_since_reset == 1_000 {
                    log.delete_stream(key.stream).unwrap();
                    key.stream += 1;
                    log.create_shard(key).unwrap();
                    appended_since_reset = 0;
                }
                let started = Instant::now();
                let appended = log.append(key, black_box(&batch)).unwrap();
                rt.block_on(appended.durable.wait()).unwrap();
                spent += started.elapsed();
                appended_since_reset += 1;
            }
            spent
        })
    });
    let end = log.bounds(key).unwrap().end_offset;
    let from = end.saturating_sub(RECORDS as u64);
    g.bench_function("read_500x1KiB", |b| {
        b.iter(|| {
            let r = log.read(key, black_box(from), RECORDS, 10 << 20).unwrap();
            assert_eq!(r.records.len(), RECORDS);
            r
        })
    });
    g.finish();
}

criterion_group!(benches, log);
criterion_main!(benches);
