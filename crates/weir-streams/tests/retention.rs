//! Retention with an injectable clock: expired records leave reads (TRIM_HORIZON moves
//! forward), their segments leave the disk, closed shards whose records all expired leave
//! ListShards, and a decreased retention applies at once.

mod common;

use common::{create, harness_with};
use weir_streams::{ListShards, PutEntry, ShardFilter, StartingPosition, StreamRef};

const HOUR: i64 = 3_600_000;

fn segment_files(dir: &std::path::Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "log") {
                n += 1;
            }
        }
    }
    n
}

async fn put_many(h: &common::Harness, tag: &str, n: usize) {
    let data = vec![7u8; 900];
    for i in 0..n {
        let pk = format!("{tag}-{i}");
        h.svc
            .put_record(
                &StreamRef::name("s"),
                PutEntry {
                    partition_key: &pk,
                    explicit_hash_key: None,
                    data: &data,
                },
                None,
            )
            .await
            .unwrap();
    }
}

async fn read_keys(h: &common::Harness, shard: &str) -> Vec<String> {
    let it = h
        .svc
        .get_shard_iterator(&StreamRef::name("s"), shard, StartingPosition::TrimHorizon)
        .unwrap();
    let out = h.svc.get_records(&it, 10_000, None).await.unwrap();
    out.records.into_iter().map(|r| r.partition_key).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_records_leave_reads_and_disk() {
    let h = harness_with(8 << 10, false);
    create(&h.svc, "s", 1);
    put_many(&h, "old", 60).await;
    let files_before = segment_files(h.dir.path());
    assert!(files_before > 3, "small segments roll: {files_before}");
    h.clock.advance(25 * HOUR);
    put_many(&h, "new", 30).await;
    h.svc.enforce_retention();
    let keys = read_keys(&h, "shardId-000000000000").await;
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k.starts_with("new-")),
        "only unexpired records are read: {:?}",
        &keys[..3]
    );
    assert_eq!(keys.len(), 30);
    let files_after = segment_files(h.dir.path());
    assert!(
        files_after < files_before,
        "expired segments are deleted ({files_before} -> {files_after})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decreasing_retention_applies_at_once() {
    let h = harness_with(8 << 10, false);
    create(&h.svc, "s", 1);
    h.svc.increase_retention(&StreamRef::name("s"), 72).unwrap();
    put_many(&h, "old", 40).await;
    h.clock.advance(30 * HOUR);
    put_many(&h, "new", 10).await;
    h.svc.enforce_retention();
    assert_eq!(
        read_keys(&h, "shardId-000000000000").await.len(),
        50,
        "within 72 h all stay"
    );
    h.svc.decrease_retention(&StreamRef::name("s"), 24).unwrap();
    let keys = read_keys(&h, "shardId-000000000000").await;
    assert_eq!(
        keys.len(),
        10,
        "a 24 h retention hides the 30 h old records at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_closed_shards_leave_list_shards() {
    let h = harness_with(8 << 10, false);
    create(&h.svc, "s", 1);
    put_many(&h, "old", 5).await;
    h.svc
        .split_shard(&StreamRef::name("s"), "shardId-000000000000", 1 << 127)
        .await
        .unwrap();
    let ids = |h: &common::Harness| -> Vec<String> {
        h.svc
            .list_shards(ListShards {
                stream: StreamRef::name("s"),
                ..Default::default()
            })
            .unwrap()
            .0
            .into_iter()
            .map(|s| s.shard_id)
            .collect()
    };
    assert_eq!(ids(&h).len(), 3);
    h.clock.advance(25 * HOUR);
    assert_eq!(ids(&h), ["shardId-000000000001", "shardId-000000000002"]);
    // The children are now at the trim horizon.
    let at_horizon: Vec<String> = h
        .svc
        .list_shards(ListShards {
            stream: StreamRef::name("s"),
            filter: Some(ShardFilter::AtTrimHorizon),
            ..Default::default()
        })
        .unwrap()
        .0
        .into_iter()
        .map(|s| s.shard_id)
        .collect();
    assert_eq!(at_horizon, ["shardId-000000000001", "shardId-000000000002"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_timestamp_is_right_across_resharding_and_trimming() {
    let h = harness_with(8 << 10, false);
    create(&h.svc, "s", 1);
    put_many(&h, "a", 10).await;
    h.clock.advance(1000);
    let t = h.clock_now();
    put_many(&h, "b", 10).await;
    h.svc
        .split_shard(&StreamRef::name("s"), "shardId-000000000000", 1 << 127)
        .await
        .unwrap();
    h.clock.advance(1000);
    put_many(&h, "c", 10).await;
    let it = h
        .svc
        .get_shard_iterator(
            &StreamRef::name("s"),
            "shardId-000000000000",
            StartingPosition::AtTimestamp(t),
        )
        .unwrap();
    let out = h.svc.get_records(&it, 100, None).await.unwrap();
    assert_eq!(out.records.len(), 10);
    assert!(out
        .records
        .iter()
        .all(|r| r.partition_key.starts_with("b-")));
    assert!(out.next_shard_iterator.is_none() && out.child_shards.len() == 2);
    // After the parent's records expire, AT_TIMESTAMP before them starts at the children's data.
    h.clock.advance(25 * HOUR);
    put_many(&h, "d", 4).await;
    h.svc.enforce_retention();
    let mut got = 0;
    for child in ["shardId-000000000001", "shardId-000000000002"] {
        let it = h
            .svc
            .get_shard_iterator(
                &StreamRef::name("s"),
                child,
                StartingPosition::AtTimestamp(t),
            )
            .unwrap();
        let out = h.svc.get_records(&it, 100, None).await.unwrap();
        assert!(out
            .records
            .iter()
            .all(|r| r.partition_key.starts_with("d-")));
        got += out.records.len();
    }
    assert_eq!(got, 4);
}
