//! Append throughput of the local engine in fsync mode.
//!
//! `cargo run --release -p weir-storage --example append_bench -- [DIR] [APPENDS_PER_TASK]`
//!
//! 4 shards, 8 concurrent appenders (two per shard), 500 records of 1 KiB per append, every
//! append awaited until durable. DIR defaults to a temporary directory under the current one
//! (not /tmp, which may be tmpfs).

use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_core::SystemClock;
use weir_storage::log::LocalLog;
use weir_storage::{Durability, RecordIn, ShardKey, StreamStore};

const SHARDS: u32 = 4;
const TASKS: usize = 8;
const RECORDS: usize = 500;
const RECORD_BYTES: usize = 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| ".".into());
    let per_task: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100);
    let dir = tempfile::tempdir_in(base)?;
    let (log, _) = LocalLog::open(dir.path(), Durability::Fsync, Arc::new(SystemClock))?;
    let log = Arc::new(log);
    for shard in 0..SHARDS {
        log.create_shard(ShardKey { stream: 1, shard })?;
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let key = ShardKey {
                stream: 1,
                shard: (t as u32) % SHARDS,
            };
            let data = vec![t as u8; RECORD_BYTES];
            let pks: Vec<String> = (0..RECORDS).map(|i| format!("pk-{i}")).collect();
            let recs: Vec<RecordIn<'_>> = pks
                .iter()
                .map(|pk| RecordIn {
                    partition_key: pk,
                    explicit_hash_key: None,
                    data: &data,
                })
                .collect();
            let mut latencies = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let t0 = Instant::now();
                let appended = log.append(key, &recs)?;
                appended.durable.wait().await?;
                latencies.push(t0.elapsed());
            }
            Ok::<_, weir_storage::Error>(latencies)
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let appends = latencies.len();
    let records = (appends * RECORDS) as f64;
    let bytes = records * RECORD_BYTES as f64;
    let pct =
        |p: f64| latencies[((appends as f64 * p) as usize).min(appends - 1)].as_secs_f64() * 1e3;
    println!(
        "{appends} appends, {records} records in {elapsed:.2}s: {:.0} records/s, {:.1} MB/s, {} sync rounds, \
         append latency p50 {:.2} ms p99 {:.2} ms",
        records / elapsed,
        bytes / elapsed / 1e6,
        log.sync_rounds(),
        pct(0.5),
        pct(0.99),
    );
    Ok(())
}
