//! Put → delivered-to-subscriber latency with one and with ten enhanced fan-out consumers.
//! Prints figures; run in release:
//!
//! ```text
//! cargo test --release -p weir --test fanout_latency -- --ignored --nocapture
//! ```

mod common;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{ShardIteratorType, StartingPosition, SubscribeToShardEventStream};
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RECORDS: usize = 1000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(durability: &str, consumers: usize) {
    let server = Server::start_with(&["--durability", durability]);
    let client = server.client();
    let stream = unique_name("lat");
    create_active(&client, &stream, 1).await;
    let base = Arc::new(Instant::now());
    let mut readers = Vec::new();
    for c in 0..consumers {
        let arn = client
            .register_stream_consumer()
            .stream_arn(stream_arn(&stream))
            .consumer_name(format!("c{c}"))
            .send()
            .await
            .unwrap()
            .consumer()
            .unwrap()
            .consumer_arn()
            .to_string();
        tokio::time::sleep(Duration::from_millis(80)).await;
        let mut sub = client
            .subscribe_to_shard()
            .consumer_arn(&arn)
            .shard_id(shard_id(0))
            .starting_position(
                StartingPosition::builder()
                    .r#type(ShardIteratorType::Latest)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .event_stream;
        let base = base.clone();
        readers.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(RECORDS);
            while lat.len() < RECORDS {
                match sub.recv().await.unwrap() {
                    Some(SubscribeToShardEventStream::SubscribeToShardEvent(e)) => {
                        let now = base.elapsed();
                        for r in e.records() {
                            let sent =
                                u64::from_be_bytes(r.data().as_ref()[..8].try_into().unwrap());
                            lat.push(now - Duration::from_nanos(sent));
                        }
                    }
                    Some(_) => {}
                    None => panic!("subscription ended early"),
                }
            }
            lat
        }));
    }
    let mut acks = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let sent = base.elapsed();
        let mut data = (sent.as_nanos() as u64).to_be_bytes().to_vec();
        data.extend_from_slice(&[0u8; 100]);
        client
            .put_record()
            .stream_name(&stream)
            .partition_key(format!("k{i}"))
            .data(Blob::new(data))
            .send()
            .await
            .unwrap();
        acks.push(base.elapsed() - sent);
        // ~500 records/s, so the figure is latency, not queueing.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut all = Vec::new();
    for r in readers {
        all.extend(r.await.unwrap());
    }
    all.sort();
    acks.sort();
    println!(
        "durability={durability:<6} consumers={consumers:>2}: put→delivered p50 {:?} p99 {:?} max {:?} ({} samples); put ack p50 {:?} p99 {:?}",
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        all.last().unwrap(),
        all.len(),
        percentile(&acks, 0.50),
        percentile(&acks, 0.99),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
async fn put_to_subscriber_latency() {
    for durability in ["fsync", "none"] {
        for consumers in [1, 10] {
            measure(durability, consumers).await;
        }
    }
}
