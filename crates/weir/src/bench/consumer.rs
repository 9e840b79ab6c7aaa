//! Consumers: one GetRecords polling loop per shard, from LATEST, chaining NextShardIterator.

use super::client::Kinesis;
use super::report::Stats;
use super::samples::Samples;
use super::BenchArgs;
use bytes::Bytes;
use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Deserialize)]
struct Out<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<Record<'a>>,
    #[serde(rename = "NextShardIterator", borrow, default)]
    next: Option<&'a str>,
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "SequenceNumber", borrow)]
    seq: &'a str,
    #[serde(rename = "Data", borrow)]
    data: &'a str,
    #[serde(rename = "PartitionKey", borrow)]
    partition_key: &'a str,
}

pub async fn run(
    client: Kinesis,
    args: BenchArgs,
    shard: String,
    stats: Arc<Stats>,
    samples: Arc<Samples>,
    stop: Arc<AtomicBool>,
) {
    let kind = if args.start == "trim-horizon" {
        "TRIM_HORIZON"
    } else {
        "LATEST"
    };
    let mut iterator = match client.iterator(&args.stream, &shard, kind).await {
        Ok(it) => it,
        Err(e) => {
            eprintln!("consumer for {shard}: {e:#}");
            return;
        }
    };
    let idle = Duration::from_millis(args.poll_interval_ms);
    while !stop.load(Ordering::Relaxed) {
        let body = Bytes::from(format!(r#"{{"ShardIterator":"{iterator}","Limit":10000}}"#));
        let sent = Instant::now();
        let (status, bytes) = match client.call("GetRecords", body).await {
            Ok(r) => r,
            Err(_) => {
                stats.get_failed();
                tokio::time::sleep(idle).await;
                continue;
            }
        };
        let latency = sent.elapsed();
        if status != 200 {
            stats.get_failed();
            tokio::time::sleep(idle.max(Duration::from_millis(10))).await;
            continue;
        }
        let Ok(out) = serde_json::from_slice::<Out>(&bytes) else {
            stats.get_failed();
            continue;
        };
        let now = Instant::now();
        let mut data_bytes = 0u64;
        for r in &out.records {
            // base64 length → decoded length, without decoding.
            data_bytes += (r.data.len() / 4 * 3) as u64;
            if samples.is_candidate(r.partition_key) {
                if let Some(d) = samples.read(r.seq, now) {
                    stats.put_to_get(d);
                }
            }
        }
        stats.got(out.records.len() as u64, data_bytes, latency);
        match out.next {
            Some(next) => iterator = next.to_string(),
            None => break,
        }
        if out.records.is_empty() {
            pause(idle).await;
        }
    }
}

/// Sleeps for `d` to within tens of µs, blocking the consumer's own single-threaded runtime
/// (which has nothing else to do meanwhile). tokio's timer counts whole milliseconds and rounds
/// a deadline up to the next one, which made a 1 ms poll interval 1–2 ms in practice and added
/// that to every put→get figure; handing the sleep to tokio's blocking pool instead cost two
/// thread hand-offs per poll, 4,000 a second for four consumers on two cores.
async fn pause(d: Duration) {
    if d.is_zero() {
        tokio::task::yield_now().await;
    } else {
        std::thread::sleep(d);
    }
}
