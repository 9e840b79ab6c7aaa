//! On-demand streams scale: a shard that sustains more than its write capacity is split, and
//! cold adjacent shards are merged back (with a scaled-down policy and a manual clock).

mod common;

use common::harness_config;
use std::time::Duration;
use weir_streams::autoscale::{Decision, OnDemandPolicy, ScalerState};
use weir_streams::{CreateStream, ListShards, PutEntry, ShardFilter, StreamMode, StreamRef};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_shard_splits_and_cold_shards_merge() {
    let h = harness_config(64 << 20, |c| {
        c.on_demand = OnDemandPolicy {
            tick: Duration::from_secs(1),
            split_above: 0.8,
            hot_for: Duration::from_secs(3),
            merge_below: 0.1,
            cold_for: Duration::from_secs(30),
            min_shards: 4,
        }
    });
    h.svc
        .create_stream(CreateStream {
            name: "od".into(),
            shard_count: None,
            mode: StreamMode::OnDemand,
            tags: Default::default(),
            max_record_size_kib: None,
            warm_throughput_mibps: None,
        })
        .unwrap();
    let open = |h: &common::Harness| {
        h.svc
            .list_shards(ListShards {
                stream: StreamRef::name("od"),
                filter: Some(ShardFilter::AtLatest),
                ..Default::default()
            })
            .unwrap()
            .0
            .len()
    };
    assert_eq!(open(&h), 4);
    let mut state = ScalerState::default();
    h.svc.autoscale_tick(&mut state).await;
    let data = [0u8; 100];
    let mut decisions = Vec::new();
    // 900 records/s spread over the first shard's range: 90 % of its 1,000 records/s.
    let first_shard_end = u128::MAX / 4;
    for _ in 0..8 {
        h.clock.advance(1000);
        for _ in 0..9 {
            let entries: Vec<PutEntry> = (0..100u128)
                .map(|i| PutEntry {
                    partition_key: "k",
                    explicit_hash_key: Some(weir_core::HashKey(first_shard_end / 100 * i)),
                    data: &data,
                })
                .collect();
            h.svc
                .put_records(&StreamRef::name("od"), &entries)
                .await
                .unwrap();
        }
        decisions.extend(h.svc.autoscale_tick(&mut state).await);
    }
    assert!(
        matches!(decisions.as_slice(), [(_, Decision::Split { .. })]),
        "the hot shard split once (each half then runs at 45 %): {decisions:?}"
    );
    assert_eq!(open(&h), 5);
    // A single hot key cannot be helped by splitting, and is left alone.
    for _ in 0..6 {
        h.clock.advance(1000);
        for _ in 0..9 {
            let entries: Vec<PutEntry> = (0..100)
                .map(|_| PutEntry {
                    partition_key: "one-key",
                    explicit_hash_key: None,
                    data: &data,
                })
                .collect();
            h.svc
                .put_records(&StreamRef::name("od"), &entries)
                .await
                .unwrap();
        }
        decisions.extend(h.svc.autoscale_tick(&mut state).await);
    }
    let splits = decisions
        .iter()
        .filter(|(_, d)| matches!(d, Decision::Split { .. }))
        .count();
    assert_eq!(splits, 1, "{decisions:?}");
    // Then silence: the cold adjacent shards merge back down to the floor of four.
    let mut merged = Vec::new();
    for _ in 0..40 {
        h.clock.advance(1000);
        merged.extend(h.svc.autoscale_tick(&mut state).await);
    }
    assert!(
        merged
            .iter()
            .any(|(_, d)| matches!(d, Decision::Merge { .. })),
        "{merged:?}"
    );
    assert_eq!(open(&h), 4, "never below the floor");
}
