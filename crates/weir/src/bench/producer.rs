//! Producers: each loops sending pre-encoded PutRecords (or PutRecord) bodies on its own
//! keep-alive connection, optionally paced to a share of `--rate`.

use super::client::Kinesis;
use super::report::Stats;
use super::samples::Samples;
use super::BenchArgs;
use bytes::Bytes;
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BODIES: usize = 32;

/// A rotating set of request bodies, encoded once, and the partition keys of their first
/// records (the records sampled for put→get latency).
pub struct Bodies {
    pub bodies: Vec<Bytes>,
    pub sample_keys: HashSet<String>,
}

pub fn encode_bodies(args: &BenchArgs) -> Bodies {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let data: Vec<u8> = (0..args.record_size).map(|i| (i % 251) as u8).collect();
    let data_b64 = base64_simd::STANDARD.encode_to_string(&data);
    let mut sample_keys = HashSet::new();
    let bodies = (0..BODIES)
        .map(|_| {
            let key = |n: u64| {
                if args.keys == "hot" {
                    "hot-key".to_string()
                } else {
                    format!("pk-{n:016x}")
                }
            };
            let first = key(next());
            sample_keys.insert(first.clone());
            let body = if args.api == "put-record" {
                format!(
                    r#"{{"StreamName":"{}","PartitionKey":"{}","Data":"{}"}}"#,
                    args.stream, first, data_b64
                )
            } else {
                let mut s = format!(r#"{{"StreamName":"{}","Records":["#, args.stream);
                for i in 0..args.records_per_call {
                    if i > 0 {
                        s.push(',');
                    }
                    let k = if i == 0 { first.clone() } else { key(next()) };
                    s.push_str(&format!(r#"{{"PartitionKey":"{k}","Data":"{data_b64}"}}"#));
                }
                s.push_str("]}");
                s
            };
            Bytes::from(body)
        })
        .collect();
    Bodies {
        bodies,
        sample_keys,
    }
}

#[derive(Deserialize)]
struct PutRecordsOut<'a> {
    #[serde(rename = "FailedRecordCount", default)]
    failed: u64,
    #[serde(rename = "Records", borrow)]
    records: Vec<Entry<'a>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(rename = "SequenceNumber", borrow, default)]
    seq: Option<&'a str>,
    #[serde(rename = "ErrorCode", borrow, default)]
    error: Option<&'a str>,
}

#[derive(Deserialize)]
struct PutRecordOut<'a> {
    #[serde(rename = "SequenceNumber", borrow)]
    seq: &'a str,
}

pub async fn run(
    client: Kinesis,
    args: BenchArgs,
    index: usize,
    bodies: Arc<Vec<Bytes>>,
    stats: Arc<Stats>,
    samples: Arc<Samples>,
    stop: Arc<AtomicBool>,
) {
    let (op, per_call) = if args.api == "put-record" {
        ("PutRecord", 1)
    } else {
        ("PutRecords", args.records_per_call)
    };
    let interval = (args.rate > 0).then(|| {
        let calls_per_sec = args.rate as f64 / per_call as f64 / args.producers as f64;
        Duration::from_secs_f64(1.0 / calls_per_sec.max(1e-3))
    });
    // Paced producers are staggered over one interval, so a target rate is a steady stream of
    // calls rather than every producer's call at the same instant.
    let mut next_send = Instant::now()
        + interval.map_or(Duration::ZERO, |iv| {
            iv.mul_f64(index as f64 / args.producers.max(1) as f64)
        });
    let mut i = index;
    while !stop.load(Ordering::Relaxed) {
        if let Some(iv) = interval {
            let now = Instant::now();
            if next_send > now {
                tokio::time::sleep(next_send - now).await;
            }
            next_send += iv;
        }
        let body = bodies[i % bodies.len()].clone();
        i += 1;
        let sent = Instant::now();
        let result = client.call(op, body).await;
        let latency = sent.elapsed();
        match result {
            Ok((200, bytes)) => {
                let (ok, failed, first_seq) = if per_call == 1 {
                    match serde_json::from_slice::<PutRecordOut>(&bytes) {
                        Ok(o) => (1, 0, Some(o.seq.to_string())),
                        Err(_) => (0, 1, None),
                    }
                } else {
                    match serde_json::from_slice::<PutRecordsOut>(&bytes) {
                        Ok(o) => {
                            let throttled = o
                                .records
                                .iter()
                                .filter(|r| {
                                    r.error == Some("ProvisionedThroughputExceededException")
                                })
                                .count() as u64;
                            stats.throttled_records(throttled);
                            let first = o.records.iter().find_map(|r| r.seq).map(str::to_string);
                            (per_call as u64 - o.failed, o.failed, first)
                        }
                        Err(_) => (0, per_call as u64, None),
                    }
                };
                if args.consume {
                    if let Some(d) = first_seq.and_then(|seq| samples.sent(seq, sent)) {
                        stats.put_to_get(d);
                    }
                }
                stats.put_ok(ok, ok * args.record_size as u64, failed, latency);
            }
            Ok((status, bytes)) => {
                let throttled =
                    String::from_utf8_lossy(&bytes).contains("ProvisionedThroughputExceeded");
                stats.put_failed(status, throttled);
            }
            Err(_) => stats.put_failed(0, false),
        }
    }
}
