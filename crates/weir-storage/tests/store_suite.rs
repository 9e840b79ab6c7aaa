//! The `StreamStore` contract, written once and run against every backend.

mod common;

use common::{key, put, read_all, Harness};
use std::time::Duration;
use weir_storage::{Durability, Error, RecordIn};

async fn round_trip(h: &Harness) {
    let s = &*h.store;
    let k = key(1, 0);
    s.create_shard(k).unwrap();
    let recs = [
        RecordIn {
            partition_key: "alpha",
            explicit_hash_key: None,
            data: b"hello",
        },
        RecordIn {
            partition_key: "βeta",
            explicit_hash_key: Some(u128::MAX - 7),
            data: b"",
        },
        RecordIn {
            partition_key: "",
            explicit_hash_key: Some(0),
            data: &[0u8; 3000],
        },
    ];
    let a = s.append(k, &recs).unwrap();
    assert_eq!(a.first_offset, 0);
    assert_eq!(a.arrival_millis, 1_000_000);
    a.durable.wait().await.unwrap();
    let got = read_all(s, k, 0);
    assert_eq!(got.len(), 3);
    for (i, (r, g)) in recs.iter().zip(&got).enumerate() {
        assert_eq!(g.offset, i as u64);
        assert_eq!(g.arrival_millis, 1_000_000);
        assert_eq!(g.partition_key, r.partition_key);
        assert_eq!(g.explicit_hash_key, r.explicit_hash_key);
        assert_eq!(&g.data[..], r.data);
    }
}

async fn offsets_are_contiguous(h: &Harness) {
    let s = &*h.store;
    let k = key(1, 0);
    s.create_shard(k).unwrap();
    let mut expected = 0;
    for n in 1..=25usize {
        let payload = vec![n as u8; n * 37];
        let data: Vec<&[u8]> = (0..n % 5 + 1).map(|_| payload.as_slice()).collect();
        assert_eq!(put(s, k, &data).await, expected);
        expected += data.len() as u64;
    }
    let all = read_all(s, k, 0);
    assert_eq!(all.len() as u64, expected);
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.offset, i as u64);
    }
    // Reading from every offset returns that offset first.
    for from in [0, 1, 7, expected / 2, expected - 1] {
        assert_eq!(
            s.read(k, from, 1, usize::MAX).unwrap().records[0].offset,
            from
        );
    }
}

async fn read_limits(h: &Harness) {
    let s = &*h.store;
    let k = key(1, 0);
    s.create_shard(k).unwrap();
    let d = [7u8; 100];
    put(s, k, &[&d[..]; 10]).await;
    // billed_len = 100 data + 4 key ("pk-0")
    let b = s.read(k, 0, 3, usize::MAX).unwrap();
    assert_eq!((b.records.len(), b.next_offset), (3, 3));
    let b = s.read(k, 2, 100, 250).unwrap();
    assert_eq!(
        b.records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(b.next_offset, 4);
    let b = s.read(k, 5, 100, 1).unwrap();
    assert_eq!(
        b.records.len(),
        1,
        "at least one record even over max_bytes"
    );
    assert_eq!(b.next_offset, 6);
    let b = s.read(k, 10, 100, 1000).unwrap();
    assert!(b.records.is_empty());
    assert_eq!(b.next_offset, 10);
    let b = s.read(k, 99, 100, 1000).unwrap();
    assert!(b.records.is_empty());
}

async fn bounds_track_appends(h: &Harness) {
    let s = &*h.store;
    let k = key(3, 9);
    s.create_shard(k).unwrap();
    let b = s.bounds(k).unwrap();
    assert_eq!(
        (b.start_offset, b.end_offset, b.last_arrival_millis),
        (0, 0, None)
    );
    put(s, k, &[b"a", b"b"]).await;
    h.clock.advance(5);
    put(s, k, &[b"c"]).await;
    let b = s.bounds(k).unwrap();
    assert_eq!(
        (b.start_offset, b.end_offset, b.last_arrival_millis),
        (0, 3, Some(1_000_005))
    );
}

async fn timestamps(h: &Harness) {
    let s = &*h.store;
    let k = key(1, 0);
    s.create_shard(k).unwrap();
    h.clock.set(1_000);
    put(s, k, &[b"a", b"b", b"c"]).await;
    h.clock.set(2_000);
    put(s, k, &[b"d", b"e", b"f"]).await;
    h.clock.set(3_000);
    put(s, k, &[b"g", b"h", b"i"]).await;
    for (at, want) in [
        (0, 0),
        (1_000, 0),
        (1_001, 3),
        (2_000, 3),
        (2_500, 6),
        (3_000, 6),
        (3_001, 9),
    ] {
        assert_eq!(s.offset_at_timestamp(k, at).unwrap(), want, "at {at}");
    }
    // The clock going back does not make arrival times go back.
    h.clock.set(500);
    let recs = [RecordIn {
        partition_key: "k",
        explicit_hash_key: None,
        data: b"j",
    }];
    let a = s.append(k, &recs).unwrap();
    assert_eq!(a.arrival_millis, 3_000);
    a.durable.wait().await.unwrap();
    assert_eq!(read_all(s, k, 9)[0].arrival_millis, 3_000);
}

async fn timestamps_across_many_batches(h: &Harness) {
    let s = &*h.store;
    let k = key(1, 0);
    s.create_shard(k).unwrap();
    let d = [1u8; 300];
    for i in 0..60 {
        h.clock.set(10_000 + i * 10);
        put(s, k, &[&d[..], &d[..]]).await;
    }
    for i in 0..60 {
        assert_eq!(
            s.offset_at_timestamp(k, 10_000 + i * 10).unwrap(),
            i as u64 * 2
        );
        assert_eq!(
            s.offset_at_timestamp(k, 10_000 + i * 10 - 5).unwrap(),
            i as u64 * 2
        );
    }
    assert_eq!(s.offset_at_timestamp(k, 99_999).unwrap(), 120);
}

async fn trim_drops_old_records(h: &Harness) {
    let s = &*h.store;
    let k = key(1, 0);
    s.create_shard(k).unwrap();
    let d = [9u8; 500];
    for i in 0..40 {
        h.clock.set(100_000 + i * 1000);
        put(s, k, &[&d[..], &d[..]]).await;
    }
    let cut = 100_000 + 20 * 1000;
    let start = s.trim(k, cut).unwrap();
    assert!(start > 0, "something was trimmed");
    assert!(start <= 40, "nothing at or after the cut-off was trimmed");
    let b = s.bounds(k).unwrap();
    assert_eq!((b.start_offset, b.end_offset), (start, 80));
    let rest = read_all(s, k, 0);
    assert_eq!(rest.first().unwrap().offset, start);
    assert_eq!(rest.len() as u64, 80 - start);
    assert_eq!(
        s.read(k, 0, 1, usize::MAX).unwrap().records[0].offset,
        start
    );
    assert!(s.offset_at_timestamp(k, 0).unwrap() >= start);
    // Trimming everything keeps the newest records readable.
    let start = s.trim(k, i64::MAX).unwrap();
    assert!(start < 80);
    assert_eq!(read_all(s, k, 0).last().unwrap().offset, 79);
    assert_eq!(put(s, k, &[b"after"]).await, 80);
}

async fn delete_stream(h: &Harness) {
    let s = &*h.store;
    for k in [key(1, 0), key(1, 1), key(2, 0)] {
        s.create_shard(k).unwrap();
        put(s, k, &[b"x"]).await;
    }
    s.delete_stream(1).unwrap();
    assert_eq!(s.shards(), vec![key(2, 0)]);
    let recs = [RecordIn {
        partition_key: "k",
        explicit_hash_key: None,
        data: b"y",
    }];
    assert!(matches!(
        s.append(key(1, 0), &recs),
        Err(Error::NoSuchShard(_))
    ));
    assert!(matches!(
        s.read(key(1, 1), 0, 10, 10),
        Err(Error::NoSuchShard(_))
    ));
    assert!(matches!(s.bounds(key(1, 1)), Err(Error::NoSuchShard(_))));
    assert_eq!(read_all(s, key(2, 0), 0).len(), 1);
    s.delete_stream(1).unwrap();
    s.delete_stream(77).unwrap();
}

async fn watch_end_notifies(h: &Harness) {
    let s = &*h.store;
    let k = key(1, 0);
    s.create_shard(k).unwrap();
    let mut rx = s.watch_end(k).unwrap();
    assert_eq!(*rx.borrow_and_update(), 0);
    let store = h.store.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        put(&*store, k, &[b"a", b"b"]).await;
    });
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*rx.borrow_and_update(), 2);
    writer.await.unwrap();
    put(s, k, &[b"c"]).await;
    tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|&e| e == 3))
        .await
        .unwrap()
        .unwrap();
}

async fn many_shards(h: &Harness) {
    let s = &*h.store;
    let keys: Vec<_> = (0..64u32).map(|i| key(5 + u64::from(i % 3), i)).collect();
    for &k in &keys {
        s.create_shard(k).unwrap();
        s.create_shard(k).unwrap();
    }
    for round in 0..3u8 {
        for (i, &k) in keys.iter().enumerate() {
            let d = [round, i as u8];
            put(s, k, &[&d]).await;
        }
    }
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(s.shards(), sorted);
    for (i, &k) in keys.iter().enumerate() {
        let got = read_all(s, k, 0);
        let want: Vec<Vec<u8>> = (0..3u8).map(|r| vec![r, i as u8]).collect();
        assert_eq!(
            got.iter().map(|r| r.data.to_vec()).collect::<Vec<_>>(),
            want
        );
    }
}

async fn errors(h: &Harness) {
    let s = &*h.store;
    let k = key(1, 0);
    assert!(matches!(s.read(k, 0, 1, 1), Err(Error::NoSuchShard(_))));
    assert!(matches!(s.watch_end(k), Err(Error::NoSuchShard(_))));
    assert!(matches!(s.trim(k, 0), Err(Error::NoSuchShard(_))));
    s.create_shard(k).unwrap();
    assert!(matches!(s.append(k, &[]), Err(Error::Invalid(_))));
    assert_eq!(s.read(k, 0, 0, 100).unwrap().records.len(), 0);
}

async fn seal_closes_a_shard_to_appends(h: &Harness) {
    let s = &*h.store;
    let k = key(1, 0);
    s.create_shard(k).unwrap();
    put(s, k, &[b"a", b"b", b"c"]).await;
    assert_eq!(s.seal(k).unwrap(), 3);
    assert!(matches!(
        s.append(
            k,
            &[RecordIn {
                partition_key: "p",
                explicit_hash_key: None,
                data: b"late"
            }]
        ),
        Err(Error::Sealed(_))
    ));
    // Idempotent, and everything before the seal stays readable.
    assert_eq!(s.seal(k).unwrap(), 3);
    assert_eq!(read_all(s, k, 0).len(), 3);
    assert_eq!(s.bounds(k).unwrap().end_offset, 3);
    assert!(matches!(s.seal(key(9, 9)), Err(Error::NoSuchShard(_))));
    s.unseal(k).unwrap();
    assert_eq!(put(s, k, &[b"d"]).await, 3);
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name(&super::common::memory()).await } )*
        }
        mod local_fsync {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(&super::common::local(super::Durability::Fsync)).await } )*
        }
        mod local_none {
            $( #[tokio::test] async fn $name() { super::$name(&super::common::local(super::Durability::None)).await } )*
        }
        mod local_interval {
            $( #[tokio::test] async fn $name() {
                super::$name(&super::common::local(super::Durability::Interval(std::time::Duration::from_millis(5)))).await
            } )*
        }
    };
}

suite!(
    round_trip,
    offsets_are_contiguous,
    read_limits,
    bounds_track_appends,
    timestamps,
    timestamps_across_many_batches,
    trim_drops_old_records,
    delete_stream,
    watch_end_notifies,
    many_shards,
    errors,
    seal_closes_a_shard_to_appends,
);
