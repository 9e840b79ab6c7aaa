//! Durability across restarts: a graceful restart (SIGTERM) and a crash (SIGKILL) with fsync
//! durability keep every stream, shard, tag, setting and acknowledged record; and a second
//! process cannot open a data directory that is in use.

mod common;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    MetricsName, PutRecordsRequestEntry, StreamMode, StreamModeDetails, StreamStatus,
};
use aws_sdk_kinesis::Client;
use common::*;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

/// (sequence number, partition key, data, arrival ms) of one record.
type RecordState = (String, String, Vec<u8>, i64);
/// (id, start hash, end hash, starting sequence number, ending sequence number) of one shard.
type ShardState = (String, String, String, String, Option<String>);

/// Everything observable about the server's state, in comparable form.
#[derive(Debug, PartialEq)]
struct Snapshot {
    streams: Vec<String>,
    /// stream → (status, mode, retention, open shards, enhanced metrics, tags, shards)
    details: BTreeMap<String, StreamState>,
    /// (stream, shard) → records as (sequence number, partition key, data, arrival ms)
    records: BTreeMap<(String, String), Vec<RecordState>>,
}

#[derive(Debug, PartialEq)]
struct StreamState {
    arn: String,
    status: StreamStatus,
    mode: Option<StreamMode>,
    retention: i32,
    open_shards: i32,
    created_ms: i64,
    metrics: Vec<String>,
    tags: Vec<(String, String)>,
    /// (id, start hash, end hash, starting sequence number, ending sequence number)
    shards: Vec<ShardState>,
}

async fn snapshot(client: &Client) -> Snapshot {
    let streams = client
        .list_streams()
        .send()
        .await
        .unwrap()
        .stream_names()
        .to_vec();
    let mut details = BTreeMap::new();
    let mut records = BTreeMap::new();
    for name in &streams {
        let s = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .unwrap();
        let s = s.stream_description_summary().unwrap();
        let shards = client.list_shards().stream_name(name).send().await.unwrap();
        let tags = client
            .list_tags_for_stream()
            .stream_name(name)
            .send()
            .await
            .unwrap();
        let mut metrics: Vec<String> = s
            .enhanced_monitoring()
            .iter()
            .flat_map(|m| m.shard_level_metrics())
            .map(|m| m.as_str().to_string())
            .collect();
        metrics.sort();
        let state = StreamState {
            arn: s.stream_arn().to_string(),
            status: s.stream_status().clone(),
            mode: s.stream_mode_details().map(|m| m.stream_mode().clone()),
            retention: s.retention_period_hours(),
            open_shards: s.open_shard_count(),
            created_ms: s.stream_creation_timestamp().to_millis().unwrap(),
            metrics,
            tags: tags
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
                .collect(),
            shards: shards
                .shards()
                .iter()
                .map(|sh| {
                    let h = sh.hash_key_range().unwrap();
                    let q = sh.sequence_number_range().unwrap();
                    (
                        sh.shard_id().to_string(),
                        h.starting_hash_key().to_string(),
                        h.ending_hash_key().to_string(),
                        q.starting_sequence_number().to_string(),
                        q.ending_sequence_number().map(str::to_string),
                    )
                })
                .collect(),
        };
        for sh in &state.shards {
            let recs = read_shard(client, name, &sh.0).await;
            records.insert(
                (name.clone(), sh.0.clone()),
                recs.iter()
                    .map(|r| {
                        (
                            r.sequence_number().to_string(),
                            r.partition_key().unwrap_or("").to_string(),
                            r.data().as_ref().to_vec(),
                            r.approximate_arrival_timestamp()
                                .map(|t| t.to_millis().unwrap())
                                .unwrap_or(0),
                        )
                    })
                    .collect(),
            );
        }
        details.insert(name.clone(), state);
    }
    Snapshot {
        streams,
        details,
        records,
    }
}

/// Streams of every kind with tags, settings and records; returns the acknowledged
/// (stream, shard, sequence number, data) of every record put.
async fn populate(client: &Client) -> Vec<(String, String, String, Vec<u8>)> {
    client
        .create_stream()
        .stream_name("durable")
        .shard_count(3)
        .tags("team", "storage")
        .send()
        .await
        .unwrap();
    client
        .create_stream()
        .stream_name("durable-od")
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    create_active(client, "doomed", 1).await;
    wait_active(client, "durable").await;
    wait_active(client, "durable-od").await;

    client
        .add_tags_to_stream()
        .stream_name("durable")
        .tags("env", "ci")
        .send()
        .await
        .unwrap();
    client
        .increase_stream_retention_period()
        .stream_name("durable")
        .retention_period_hours(72)
        .send()
        .await
        .unwrap();
    client
        .enable_enhanced_monitoring()
        .stream_name("durable-od")
        .shard_level_metrics(MetricsName::IncomingBytes)
        .shard_level_metrics(MetricsName::OutgoingRecords)
        .send()
        .await
        .unwrap();
    client
        .delete_stream()
        .stream_name("doomed")
        .send()
        .await
        .unwrap();
    wait_gone(client, "doomed").await;

    let mut acked = Vec::new();
    for i in 0..30u32 {
        let data: Vec<u8> = (0..(i * 37 % 300)).map(|b| (b * i) as u8).collect();
        let out = client
            .put_record()
            .stream_name("durable")
            .partition_key(format!("key-{i}"))
            .data(Blob::new(data.clone()))
            .send()
            .await
            .unwrap();
        acked.push((
            "durable".to_string(),
            out.shard_id().to_string(),
            out.sequence_number().to_string(),
            data,
        ));
    }
    let entries: Vec<PutRecordsRequestEntry> = (0..100u32)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("od-{i}"))
                .data(Blob::new(i.to_be_bytes().to_vec()))
                .build()
                .unwrap()
        })
        .collect();
    let out = client
        .put_records()
        .stream_name("durable-od")
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_record_count(), Some(0));
    for (i, r) in out.records().iter().enumerate() {
        acked.push((
            "durable-od".to_string(),
            r.shard_id().unwrap().to_string(),
            r.sequence_number().unwrap().to_string(),
            (i as u32).to_be_bytes().to_vec(),
        ));
    }
    acked
}

async fn check_after_restart(
    client: &Client,
    before: &Snapshot,
    acked: &[(String, String, String, Vec<u8>)],
) {
    let after = snapshot(client).await;
    assert_eq!(after.streams, vec!["durable", "durable-od"]);
    assert_eq!(&after, before, "state changed across the restart");

    // Spot checks against what the puts acknowledged.
    let d = &after.details["durable"];
    assert_eq!(d.retention, 72);
    assert_eq!(
        d.tags,
        vec![
            ("env".to_string(), "ci".to_string()),
            ("team".to_string(), "storage".to_string())
        ]
    );
    assert_eq!(d.shards.len(), 3);
    assert_eq!(after.details["durable-od"].open_shards, 4);
    assert_eq!(
        after.details["durable-od"].metrics,
        vec!["IncomingBytes", "OutgoingRecords"]
    );
    for (stream, shard, seq, data) in acked {
        let recs = &after.records[&(stream.clone(), shard.clone())];
        let found = recs
            .iter()
            .find(|r| &r.0 == seq)
            .unwrap_or_else(|| panic!("acknowledged record {stream}/{shard}/{seq} lost"));
        assert_eq!(&found.2, data, "record {seq} changed");
    }
    let total: usize = after.records.values().map(Vec::len).sum();
    assert_eq!(total, acked.len(), "records appeared or vanished");

    // The deleted stream stays deleted.
    expect_code(
        client.describe_stream().stream_name("doomed").send().await,
        "ResourceNotFoundException",
    );

    // New records continue each shard's sequence.
    for ((stream, shard), recs) in &after.records {
        let Some(last) = recs.last() else { continue };
        let hash = after.details[stream]
            .shards
            .iter()
            .find(|s| &s.0 == shard)
            .unwrap()
            .1
            .clone();
        let out = client
            .put_record()
            .stream_name(stream)
            .partition_key("after")
            .explicit_hash_key(hash)
            .data(Blob::new(b"after restart".to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.shard_id(), shard);
        assert_eq!(
            dec_cmp(&last.0, out.sequence_number()),
            Ordering::Less,
            "{stream}/{shard}: sequence number after restart {} is not above {}",
            out.sequence_number(),
            last.0
        );
    }
    // And the new name space still works.
    create_active(client, "after-restart", 1).await;
}

#[tokio::test]
async fn everything_survives_a_graceful_restart() {
    let mut server = Server::start_with(&["--durability", "fsync"]);
    let client = server.client();
    let acked = populate(&client).await;
    let before = snapshot(&client).await;
    drop(client);

    server.restart();
    assert!(
        server.stderr().contains("listening on"),
        "{}",
        server.stderr()
    );
    let client = server.client();
    check_after_restart(&client, &before, &acked).await;

    // A second restart right after writes, too.
    let before = snapshot(&client).await;
    server.restart();
    let client = server.client();
    assert_eq!(snapshot(&client).await, before);
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9_with_fsync() {
    let mut server = Server::start_with(&["--durability", "fsync"]);
    let client = server.client();
    let acked = populate(&client).await;
    let before = snapshot(&client).await;
    drop(client);

    server.kill9_restart();
    let client = server.client();
    check_after_restart(&client, &before, &acked).await;

    // Writes racing a crash: whatever was acknowledged must be there afterwards.
    let mut acked_late = Vec::new();
    for i in 0..50u32 {
        let out = client
            .put_record()
            .stream_name("durable")
            .partition_key(format!("late-{i}"))
            .data(Blob::new(format!("late-{i}").into_bytes()))
            .send()
            .await
            .unwrap();
        acked_late.push((
            out.shard_id().to_string(),
            out.sequence_number().to_string(),
        ));
    }
    server.kill9_restart();
    let client = server.client();
    for (shard, seq) in acked_late {
        let recs = read_shard(&client, "durable", &shard).await;
        assert!(
            recs.iter().any(|r| r.sequence_number() == seq),
            "acknowledged record {shard}/{seq} lost after kill -9"
        );
    }
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "locked", 1).await;

    let out = server.run_second_on_same_dir(Duration::from_secs(10));
    assert!(
        !out.status.success(),
        "a second weir on the same data dir exited with {}",
        out.status
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        stderr.contains("lock") || stderr.contains("in use"),
        "the error should explain the lock: {stderr}"
    );
    assert!(
        stderr.contains(&server.data_dir().display().to_string().to_lowercase()),
        "the error should name the directory: {stderr}"
    );

    // The first server is unaffected.
    let listed = client.list_streams().send().await.unwrap();
    assert_eq!(listed.stream_names(), ["locked"]);
    client
        .put_record()
        .stream_name("locked")
        .partition_key("k")
        .data(Blob::new(b"still mine".to_vec()))
        .send()
        .await
        .unwrap();
}
