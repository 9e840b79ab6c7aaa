//! Resharding through the service: lineage and hash ranges, routing after a reshard, the errors
//! AWS gives, and a reader that follows ChildShards as the KCL does while producers write and
//! the stream is split and merged repeatedly.

mod common;

use common::{create, harness};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use weir_core::{HashKey, HashKeyRange};
use weir_streams::{
    Error, ListShards, PutEntry, PutResult, ShardFilter, ShardView, StartingPosition, StreamRef,
    StreamService, StreamStatus,
};

fn r(name: &str) -> StreamRef {
    StreamRef::name(name)
}

fn shards(svc: &StreamService, name: &str, filter: Option<ShardFilter>) -> Vec<ShardView> {
    svc.list_shards(ListShards {
        stream: r(name),
        filter,
        ..Default::default()
    })
    .unwrap()
    .0
}

async fn settle(svc: &StreamService, name: &str) {
    for _ in 0..1000 {
        if svc.describe_stream_summary(&r(name)).unwrap().meta.status == StreamStatus::Active {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    panic!("stream {name} did not return to ACTIVE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_then_merge_lineage_and_ranges() {
    let h = harness();
    create(&h.svc, "s", 2);
    let half = 1u128 << 126;
    h.svc
        .split_shard(&r("s"), "shardId-000000000000", half)
        .await
        .unwrap();
    settle(&h.svc, "s").await;
    let all = shards(&h.svc, "s", None);
    assert_eq!(all.len(), 4);
    let parent = &all[0];
    assert!(
        parent.ending_sequence_number.is_some(),
        "the split parent is closed"
    );
    let (c1, c2) = (&all[2], &all[3]);
    assert_eq!(c1.shard_id, "shardId-000000000002");
    assert_eq!(c1.parent_shard_id.as_deref(), Some("shardId-000000000000"));
    assert_eq!(c1.starting_hash_key, "0");
    assert_eq!(c1.ending_hash_key, (half - 1).to_string());
    assert_eq!(c2.starting_hash_key, half.to_string());
    assert_eq!(c2.ending_hash_key, parent.ending_hash_key);
    // Children's sequence numbers are larger than the parent's.
    assert!(c1.starting_sequence_number > *parent.ending_sequence_number.as_ref().unwrap());

    h.svc
        .merge_shards(&r("s"), "shardId-000000000002", "shardId-000000000003")
        .await
        .unwrap();
    settle(&h.svc, "s").await;
    let open = shards(&h.svc, "s", Some(ShardFilter::AtLatest));
    let ids: Vec<&str> = open.iter().map(|s| s.shard_id.as_str()).collect();
    assert_eq!(ids, ["shardId-000000000001", "shardId-000000000004"]);
    let merged = &open[1];
    assert_eq!(
        merged.parent_shard_id.as_deref(),
        Some("shardId-000000000002")
    );
    assert_eq!(
        merged.adjacent_parent_shard_id.as_deref(),
        Some("shardId-000000000003")
    );
    assert_eq!(merged.starting_hash_key, "0");
    // The filters across lineage.
    let at_horizon: Vec<String> = shards(&h.svc, "s", Some(ShardFilter::AtTrimHorizon))
        .into_iter()
        .map(|s| s.shard_id)
        .collect();
    assert_eq!(at_horizon, ["shardId-000000000000", "shardId-000000000001"]);
    let after: Vec<String> = shards(
        &h.svc,
        "s",
        Some(ShardFilter::AfterShardId("shardId-000000000002".into())),
    )
    .into_iter()
    .map(|s| s.shard_id)
    .collect();
    assert_eq!(after, ["shardId-000000000003", "shardId-000000000004"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_route_to_children_and_the_parent_ends_with_child_shards() {
    let h = harness();
    create(&h.svc, "s", 1);
    let put = |pk: &'static str, data: &'static [u8]| {
        let svc = h.svc.clone();
        async move {
            svc.put_record(
                &r("s"),
                PutEntry {
                    partition_key: pk,
                    explicit_hash_key: None,
                    data,
                },
                None,
            )
            .await
            .unwrap()
        }
    };
    put("a", b"before").await;
    let mid = 1u128 << 127;
    h.svc
        .split_shard(&r("s"), "shardId-000000000000", mid)
        .await
        .unwrap();
    let (shard, _) = put("a", b"after").await;
    let expected = if HashKey::from_partition_key("a").0 < mid {
        1
    } else {
        2
    };
    assert_eq!(shard.0, expected);
    // Reading the parent: the old record, then no iterator and the children.
    let it = h
        .svc
        .get_shard_iterator(
            &r("s"),
            "shardId-000000000000",
            StartingPosition::TrimHorizon,
        )
        .unwrap();
    let out = h.svc.get_records(&it, 100, None).await.unwrap();
    assert_eq!(out.records.len(), 1);
    assert!(out.next_shard_iterator.is_none());
    let children: Vec<&str> = out
        .child_shards
        .iter()
        .map(|c| c.shard_id.as_str())
        .collect();
    assert_eq!(children, ["shardId-000000000001", "shardId-000000000002"]);
    assert_eq!(out.child_shards[0].parent_shards, ["shardId-000000000000"]);
    // LATEST on a closed shard leads straight to the children too.
    let it = h
        .svc
        .get_shard_iterator(&r("s"), "shardId-000000000000", StartingPosition::Latest)
        .unwrap();
    let out = h.svc.get_records(&it, 100, None).await.unwrap();
    assert!(
        out.records.is_empty() && out.next_shard_iterator.is_none() && !out.child_shards.is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reshard_errors_are_aws_errors() {
    let h = harness();
    create(&h.svc, "s", 2);
    let err = h
        .svc
        .split_shard(&r("s"), "shardId-000000000009", 5)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ResourceNotFound(m) if m == "Could not find shard shardId-000000000009 in stream s under account 000000000000."),
        "{err:?}"
    );
    let err = h
        .svc
        .split_shard(&r("s"), "shardId-000000000000", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.starts_with("NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream s under account 000000000000 is not both greater than one plus the shard's StartingHashKey 0")),
        "{err:?}"
    );
    let err = h
        .svc
        .merge_shards(&r("s"), "shardId-000000000000", "shardId-000000000000")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains("are not an adjacent pair of shards eligible for merging")),
        "{err:?}"
    );
    h.svc
        .split_shard(&r("s"), "shardId-000000000000", 1 << 100)
        .await
        .unwrap();
    settle(&h.svc, "s").await;
    let err = h
        .svc
        .split_shard(&r("s"), "shardId-000000000000", 1 << 90)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m == "Shard shardId-000000000000 in stream s under account 000000000000 has already been merged or split, and thus is not eligible for merging or splitting."),
        "{err:?}"
    );
    let err = h.svc.update_shard_count(&r("s"), 7).await.unwrap_err();
    assert!(
        matches!(&err, Error::LimitExceeded(m) if m.starts_with("UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 3, Target shard count: 7")),
        "{err:?}"
    );
    let err = h.svc.update_shard_count(&r("s"), 1).await.unwrap_err();
    assert!(
        matches!(&err, Error::LimitExceeded(m) if m.starts_with("UpdateShardCount cannot scale down below half")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_reshard_while_updating_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(weir_core::ManualClock::new(common::START));
    let store = std::sync::Arc::new(weir_storage::memory::MemoryStore::new(clock.clone()));
    let config = weir_streams::ServiceConfig {
        creating_delay: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let (svc, _) = StreamService::open(
        store,
        std::sync::Arc::new(weir_storage::metadata::MemoryMetadata::new()),
        clock,
        config,
    )
    .unwrap();
    drop(dir);
    create(&svc, "s", 2);
    settle(&svc, "s").await;
    svc.split_shard(&r("s"), "shardId-000000000000", 1 << 100)
        .await
        .unwrap();
    assert_eq!(
        svc.describe_stream_summary(&r("s")).unwrap().meta.status,
        StreamStatus::Updating
    );
    let err = svc
        .split_shard(&r("s"), "shardId-000000000001", u128::MAX - 5)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ResourceInUse(m) if m == "Stream s under account 000000000000 not ACTIVE, instead in state UPDATING"),
        "{err:?}"
    );
    // Writes and reads go on while UPDATING.
    svc.put_record(
        &r("s"),
        PutEntry {
            partition_key: "x",
            explicit_hash_key: None,
            data: b"x",
        },
        None,
    )
    .await
    .unwrap();
    settle(&svc, "s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_shard_count_reaches_uniform_ranges() {
    let h = harness();
    create(&h.svc, "s", 3);
    for target in [5u32, 8, 4, 2, 3] {
        let u = h.svc.update_shard_count(&r("s"), target).await.unwrap();
        assert_eq!(u.target, target);
        settle(&h.svc, "s").await;
        let mut open: Vec<(u128, u128)> = shards(&h.svc, "s", Some(ShardFilter::AtLatest))
            .into_iter()
            .map(|s| {
                (
                    s.starting_hash_key.parse().unwrap(),
                    s.ending_hash_key.parse().unwrap(),
                )
            })
            .collect();
        open.sort_unstable();
        let goal: Vec<(u128, u128)> = HashKeyRange::uniform(target)
            .into_iter()
            .map(|g| (g.start, g.end))
            .collect();
        assert_eq!(open, goal, "after UpdateShardCount to {target}");
    }
    // Ten per rolling day.
    let mut last = Ok(());
    for i in 0..10 {
        let target = if i % 2 == 0 { 4 } else { 3 };
        last = h.svc.update_shard_count(&r("s"), target).await.map(|_| ());
        if last.is_err() {
            break;
        }
        settle(&h.svc, "s").await;
    }
    assert!(matches!(last, Err(Error::LimitExceeded(_))), "{last:?}");
}

/// The acceptance scenario: producers write continuously while the stream is split and merged
/// again and again; a reader that follows ChildShards (parents before children, as the KCL
/// does) reads every acknowledged record exactly once, in order per partition key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lineage_following_reader_sees_every_record_once_across_reshards() {
    let h = harness();
    create(&h.svc, "s", 2);
    let stop = Arc::new(AtomicBool::new(false));
    let mut producers = Vec::new();
    for p in 0..4u32 {
        let svc = h.svc.clone();
        let stop = stop.clone();
        producers.push(tokio::spawn(async move {
            let mut acked: Vec<(String, u64)> = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let keys: Vec<String> = (0..20).map(|k| format!("p{p}-k{k}")).collect();
                let datas: Vec<Vec<u8>> = (0..20)
                    .map(|k| format!("{p}:{k}:{}", n + k as u64).into_bytes())
                    .collect();
                let entries: Vec<PutEntry> = keys
                    .iter()
                    .zip(&datas)
                    .map(|(k, d)| PutEntry {
                        partition_key: k,
                        explicit_hash_key: None,
                        data: d,
                    })
                    .collect();
                let results = svc
                    .put_records(&StreamRef::name("s"), &entries)
                    .await
                    .unwrap();
                for (i, res) in results.iter().enumerate() {
                    if matches!(res, PutResult::Ok { .. }) {
                        acked.push((keys[i].clone(), n + i as u64));
                    }
                }
                n += 20;
                tokio::task::yield_now().await;
            }
            acked
        }));
    }
    // Reshard repeatedly: split every open shard, then merge pairs back.
    for round in 0..6 {
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        let open = shards(&h.svc, "s", Some(ShardFilter::AtLatest));
        if round % 2 == 0 {
            for s in open.iter().take(2) {
                let start: u128 = s.starting_hash_key.parse().unwrap();
                let end: u128 = s.ending_hash_key.parse().unwrap();
                h.svc
                    .split_shard(&r("s"), &s.shard_id, start + (end - start) / 2)
                    .await
                    .unwrap();
                settle(&h.svc, "s").await;
            }
        } else {
            for pair in open.chunks(2) {
                if let [a, b] = pair {
                    h.svc
                        .merge_shards(&r("s"), &a.shard_id, &b.shard_id)
                        .await
                        .unwrap();
                    settle(&h.svc, "s").await;
                }
            }
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    stop.store(true, Ordering::SeqCst);
    let mut acked: Vec<(String, u64)> = Vec::new();
    for p in producers {
        acked.extend(p.await.unwrap());
    }
    assert!(
        acked.len() > 1000,
        "producers wrote too little: {}",
        acked.len()
    );

    // Read as the KCL does: a shard only after all its parents are finished.
    let all = shards(&h.svc, "s", None);
    let parents: HashMap<String, Vec<String>> = all
        .iter()
        .map(|s| {
            (
                s.shard_id.clone(),
                s.parent_shard_id
                    .iter()
                    .chain(s.adjacent_parent_shard_id.iter())
                    .cloned()
                    .collect(),
            )
        })
        .collect();
    let mut finished: HashSet<String> = HashSet::new();
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut seen = 0usize;
    let mut queue: Vec<String> = all
        .iter()
        .filter(|s| s.parent_shard_id.is_none())
        .map(|s| s.shard_id.clone())
        .collect();
    while let Some(shard) = queue.pop() {
        if finished.contains(&shard) {
            continue;
        }
        assert!(
            parents[&shard].iter().all(|p| finished.contains(p)),
            "{shard} read before its parents"
        );
        let mut it = h
            .svc
            .get_shard_iterator(&r("s"), &shard, StartingPosition::TrimHorizon)
            .unwrap();
        loop {
            let out = h.svc.get_records(&it, 1000, None).await.unwrap();
            for rec in &out.records {
                let text = String::from_utf8(rec.data.to_vec()).unwrap();
                let n: u64 = text.rsplit(':').next().unwrap().parse().unwrap();
                per_key
                    .entry(rec.partition_key.clone())
                    .or_default()
                    .push(n);
                seen += 1;
            }
            match out.next_shard_iterator {
                Some(next)
                    if !(out.records.is_empty()
                        && out.millis_behind_latest == 0
                        && is_open(&all, &shard)) =>
                {
                    it = next
                }
                Some(_) => break,
                None => {
                    assert!(
                        !out.child_shards.is_empty(),
                        "a null iterator comes with ChildShards"
                    );
                    for c in out.child_shards {
                        let ready = parents[&c.shard_id]
                            .iter()
                            .all(|p| finished.contains(p) || *p == shard);
                        if ready {
                            queue.push(c.shard_id);
                        }
                    }
                    break;
                }
            }
        }
        finished.insert(shard);
    }
    // Exactly once, and in order per partition key.
    let mut expected: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (k, n) in &acked {
        expected.entry(k.clone()).or_default().push(*n);
    }
    for v in expected.values_mut() {
        v.sort_unstable();
    }
    assert_eq!(
        seen,
        acked.len(),
        "every acknowledged record is read exactly once"
    );
    assert_eq!(per_key, expected, "per-key order is kept");
}

fn is_open(all: &[ShardView], id: &str) -> bool {
    all.iter()
        .any(|s| s.shard_id == id && s.ending_sequence_number.is_none())
}
