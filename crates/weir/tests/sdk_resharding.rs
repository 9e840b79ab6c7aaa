//! Resharding with aws-sdk-kinesis against a real server: producers write while the stream is
//! split and merged repeatedly, and a reader that follows ChildShards as the KCL does (a shard
//! only after its parents are finished) reads every acknowledged record exactly once, with
//! per-partition-key order kept.

mod common;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardFilter, ShardFilterType};
use common::{create_active, wait_active, Server};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcl_style_reader_sees_every_record_once_across_repeated_reshards() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "rs", 2).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut producers = Vec::new();
    for p in 0..3 {
        let client = client.clone();
        let stop = stop.clone();
        producers.push(tokio::spawn(async move {
            let mut acked: Vec<(String, u64)> = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let entries: Vec<PutRecordsRequestEntry> = (0..25)
                    .map(|k| {
                        PutRecordsRequestEntry::builder()
                            .partition_key(format!("p{p}-k{k}"))
                            .data(Blob::new(format!("{}", n + k).into_bytes()))
                            .build()
                            .unwrap()
                    })
                    .collect();
                let out = client
                    .put_records()
                    .stream_name("rs")
                    .set_records(Some(entries))
                    .send()
                    .await
                    .expect("PutRecords");
                for (k, r) in out.records().iter().enumerate() {
                    if r.error_code().is_none() {
                        acked.push((format!("p{p}-k{k}"), n + k as u64));
                    }
                }
                n += 25;
            }
            acked
        }));
    }
    let open = |client: aws_sdk_kinesis::Client| async move {
        let mut shards = client
            .list_shards()
            .stream_name("rs")
            .shard_filter(
                ShardFilter::builder()
                    .r#type(ShardFilterType::AtLatest)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .shards
            .unwrap_or_default();
        shards.sort_by_key(|s| {
            s.hash_key_range()
                .unwrap()
                .starting_hash_key()
                .parse::<u128>()
                .unwrap()
        });
        shards
    };
    for round in 0..4 {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let shards = open(client.clone()).await;
        if round % 2 == 0 {
            let s = &shards[0];
            let r = s.hash_key_range().unwrap();
            let (lo, hi): (u128, u128) = (
                r.starting_hash_key().parse().unwrap(),
                r.ending_hash_key().parse().unwrap(),
            );
            client
                .split_shard()
                .stream_name("rs")
                .shard_to_split(s.shard_id())
                .new_starting_hash_key((lo + (hi - lo) / 2).to_string())
                .send()
                .await
                .expect("SplitShard");
        } else {
            client
                .merge_shards()
                .stream_name("rs")
                .shard_to_merge(shards[0].shard_id())
                .adjacent_shard_to_merge(shards[1].shard_id())
                .send()
                .await
                .expect("MergeShards");
        }
        wait_active(&client, "rs").await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    stop.store(true, Ordering::SeqCst);
    let mut acked = Vec::new();
    for p in producers {
        acked.extend(p.await.unwrap());
    }
    assert!(
        acked.len() > 200,
        "too few records written: {}",
        acked.len()
    );

    let all = client
        .list_shards()
        .stream_name("rs")
        .send()
        .await
        .unwrap()
        .shards
        .unwrap_or_default();
    let parents: HashMap<String, Vec<String>> = all
        .iter()
        .map(|s| {
            let mut p = Vec::new();
            p.extend(s.parent_shard_id().map(str::to_string));
            p.extend(s.adjacent_parent_shard_id().map(str::to_string));
            (s.shard_id().to_string(), p)
        })
        .collect();
    let open_ids: HashSet<String> = open(client.clone())
        .await
        .iter()
        .map(|s| s.shard_id().to_string())
        .collect();
    let mut finished: HashSet<String> = HashSet::new();
    let mut queue: Vec<String> = all
        .iter()
        .filter(|s| s.parent_shard_id().is_none())
        .map(|s| s.shard_id().to_string())
        .collect();
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut seen = 0usize;
    while let Some(shard) = queue.pop() {
        if finished.contains(&shard) {
            continue;
        }
        assert!(
            parents[&shard].iter().all(|p| finished.contains(p)),
            "{shard} before its parents"
        );
        let mut it = common::shard_iterator(
            &client,
            "rs",
            &shard,
            aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon,
        )
        .await;
        loop {
            let out = client
                .get_records()
                .shard_iterator(&it)
                .send()
                .await
                .expect("GetRecords");
            for r in out.records() {
                let n: u64 = std::str::from_utf8(r.data().as_ref())
                    .unwrap()
                    .parse()
                    .unwrap();
                per_key
                    .entry(r.partition_key().unwrap_or_default().to_string())
                    .or_default()
                    .push(n);
                seen += 1;
            }
            match out.next_shard_iterator() {
                Some(next)
                    if !(open_ids.contains(&shard)
                        && out.records().is_empty()
                        && out.millis_behind_latest() == Some(0)) =>
                {
                    it = next.to_string()
                }
                Some(_) => break,
                None => {
                    let children = out.child_shards();
                    assert!(
                        !children.is_empty(),
                        "a null NextShardIterator comes with ChildShards"
                    );
                    for c in children {
                        if parents[c.shard_id()]
                            .iter()
                            .all(|p| finished.contains(p) || *p == shard)
                        {
                            queue.push(c.shard_id().to_string());
                        }
                    }
                    break;
                }
            }
        }
        finished.insert(shard);
    }
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
        "every acknowledged record read exactly once"
    );
    assert_eq!(per_key, expected, "per-key order kept");
}
