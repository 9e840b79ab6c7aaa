//! Behaviour specific to the local engine: group commit, sync failures, durability modes,
//! reads racing appends.

mod common;

use common::{key, put, read_all};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weir_core::{ManualClock, SystemClock};
use weir_storage::log::{LocalLog, LocalLogOptions};
use weir_storage::{Durability, RecordIn, ShardKey, StreamStore};

fn open(dir: &std::path::Path, durability: Durability) -> LocalLog {
    LocalLog::open_with(
        dir,
        LocalLogOptions {
            segment_bytes: 256 << 10,
            index_interval_bytes: 4096,
            ..LocalLogOptions::default()
        },
        durability,
        Arc::new(SystemClock),
    )
    .expect("open")
    .0
}

/// An fsync-mode log with shards 0..n of `stream`.
fn open_with_shards(dir: &std::path::Path, stream: u64, n: u32) -> (LocalLog, Vec<ShardKey>) {
    let log = open(dir, Durability::Fsync);
    let shards: Vec<_> = (0..n).map(|i| key(stream, i)).collect();
    for &k in &shards {
        log.create_shard(k).unwrap();
    }
    (log, shards)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_sync_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path(), Durability::Fsync));
    let shards: Vec<_> = (0..4).map(|i| key(1, i)).collect();
    for &k in &shards {
        log.create_shard(k).unwrap();
    }
    let (tasks, per_task) = (32usize, 25usize);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let log = log.clone();
        let k = shards[t % shards.len()];
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                let data = vec![t as u8; 100 + i];
                let recs = [RecordIn {
                    partition_key: "pk",
                    explicit_hash_key: None,
                    data: &data,
                }];
                let a = log.append(k, &recs).unwrap();
                a.durable.wait().await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let appends = (tasks * per_task) as u64;
    let rounds = log.sync_rounds();
    eprintln!("{rounds} sync rounds for {appends} appends");
    assert!(
        rounds * 3 < appends,
        "{rounds} sync rounds for {appends} appends"
    );
    let total: u64 = shards
        .iter()
        .map(|&k| log.bounds(k).unwrap().end_offset)
        .sum();
    assert_eq!(total, appends);
    for &k in &shards {
        let recs = read_all(&*log, k, 0);
        assert!(recs.iter().enumerate().all(|(i, r)| r.offset == i as u64));
    }
}

/// A PutRecords spread over four shards waits for one round: appending to each shard in turn
/// let the first shard's round start before the others were written, and the call waited for
/// two rounds one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_to_several_shards_at_once_share_one_round() {
    let dir = tempfile::tempdir().unwrap();
    let (log, shards) = open_with_shards(dir.path(), 1, 4);
    let data: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 1000]).collect();
    let recs: Vec<[RecordIn<'_>; 1]> = data
        .iter()
        .map(|d| {
            [RecordIn {
                partition_key: "pk",
                explicit_hash_key: None,
                data: d,
            }]
        })
        .collect();
    for round in 1..=3u64 {
        let appends: Vec<_> = shards
            .iter()
            .zip(&recs)
            .map(|(&k, r)| (k, &r[..]))
            .collect();
        let results = log.append_all(&appends);
        assert_eq!(results.len(), 4);
        for r in results {
            let a = r.unwrap();
            assert_eq!(a.first_offset, round - 1);
            a.durable.wait().await.unwrap();
        }
        assert_eq!(log.sync_rounds(), round, "one round per call");
    }
    for (&k, d) in shards.iter().zip(&data) {
        let got = read_all(&log, k, 0);
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|r| r.data[..] == d[..]));
    }
    // A failing shard fails alone; the others are still appended.
    let mut appends: Vec<_> = shards
        .iter()
        .zip(&recs)
        .map(|(&k, r)| (k, &r[..]))
        .collect();
    appends[1].0 = key(9, 9);
    let results = log.append_all(&appends);
    assert!(results[1].is_err());
    for r in [&results[0], &results[2], &results[3]] {
        assert_eq!(r.as_ref().unwrap().first_offset, 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_fails_the_append_and_rolls_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), Durability::Fsync);
    let k = key(1, 0);
    log.create_shard(k).unwrap();
    put(&log, k, &[b"kept"]).await;
    log.inject_sync_failures(1);
    let recs = [RecordIn {
        partition_key: "pk",
        explicit_hash_key: None,
        data: b"lost",
    }];
    let a = log.append(k, &recs).unwrap();
    assert_eq!(a.first_offset, 1);
    let err = a.durable.wait().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(log.bounds(k).unwrap().end_offset, 1);
    assert_eq!(
        read_all(&log, k, 0).len(),
        1,
        "reads keep working and never see the failed append"
    );
    // The retry gets the same offset and succeeds.
    assert_eq!(put(&log, k, &[b"retried"]).await, 1);
    let all: Vec<_> = read_all(&log, k, 0)
        .into_iter()
        .map(|r| r.data.to_vec())
        .collect();
    assert_eq!(all, vec![b"kept".to_vec(), b"retried".to_vec()]);
    drop(log);
    let log = open(dir.path(), Durability::Fsync);
    assert_eq!(read_all(&log, k, 0).len(), 2);
}

#[tokio::test]
async fn fsync_mode_hides_records_until_durable() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), Durability::Fsync);
    let k = key(1, 0);
    log.create_shard(k).unwrap();
    let recs = [RecordIn {
        partition_key: "pk",
        explicit_hash_key: None,
        data: b"x",
    }];
    let a = log.append(k, &recs).unwrap();
    // The commit thread may or may not have synced yet; once resolved, the record is visible.
    a.durable.wait().await.unwrap();
    assert_eq!(log.bounds(k).unwrap().end_offset, 1);
    assert!(log.sync_rounds() >= 1);
}

#[tokio::test]
async fn interval_mode_is_visible_at_once_and_syncs_on_a_timer() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), Durability::Interval(Duration::from_millis(10)));
    let k = key(1, 0);
    log.create_shard(k).unwrap();
    let recs = [RecordIn {
        partition_key: "pk",
        explicit_hash_key: None,
        data: b"x",
    }];
    let a = log.append(k, &recs).unwrap();
    assert_eq!(log.bounds(k).unwrap().end_offset, 1);
    a.durable.wait().await.unwrap();
    for _ in 0..200 {
        if log.sync_rounds() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the interval sync never ran");
}

#[tokio::test]
async fn none_mode_never_syncs_but_sync_all_works() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), Durability::None);
    let k = key(1, 0);
    log.create_shard(k).unwrap();
    put(&log, k, &[b"a", b"b"]).await;
    assert_eq!(log.bounds(k).unwrap().end_offset, 2);
    log.sync_all().unwrap();
    assert_eq!(log.sync_rounds(), 0);
    log.close().unwrap();
    let recs = [RecordIn {
        partition_key: "pk",
        explicit_hash_key: None,
        data: b"x",
    }];
    assert!(matches!(
        log.append(k, &recs),
        Err(weir_storage::Error::Closed)
    ));
}

#[test]
fn reads_race_appends_and_rolls_safely() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = LocalLog::open_with(
        dir.path(),
        LocalLogOptions {
            segment_bytes: 8192,
            index_interval_bytes: 512,
            ..LocalLogOptions::default()
        },
        Durability::None,
        Arc::new(ManualClock::new(0)),
    )
    .unwrap();
    let log = Arc::new(log);
    let k = key(9, 9);
    log.create_shard(k).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (log, done) = (log.clone(), done.clone());
            std::thread::spawn(move || {
                let mut next = 0u64;
                while !done.load(Ordering::SeqCst) || next < log.bounds(k).unwrap().end_offset {
                    let b = log.read(k, next, 50, 1 << 20).unwrap();
                    for r in &b.records {
                        assert_eq!(r.offset, next);
                        assert_eq!(r.data.as_ref(), (r.offset as u32).to_le_bytes().repeat(20));
                        next += 1;
                    }
                }
                next
            })
        })
        .collect();
    let mut offset = 0u32;
    for i in 0..2000u32 {
        let datas: Vec<Vec<u8>> = (0..i % 4 + 1)
            .map(|j| (offset + j).to_le_bytes().repeat(20))
            .collect();
        let recs: Vec<_> = datas
            .iter()
            .map(|d| RecordIn {
                partition_key: "p",
                explicit_hash_key: None,
                data: d,
            })
            .collect();
        let a = log.append(k, &recs).unwrap();
        assert_eq!(a.first_offset, u64::from(offset));
        offset += recs.len() as u32;
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        assert_eq!(r.join().unwrap(), u64::from(offset));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_in_a_parallel_round_fails_only_its_shards_appends() {
    let dir = tempfile::tempdir().unwrap();
    let (log, shards) = open_with_shards(dir.path(), 3, 8);
    // One append per shard before any is waited for, so that rounds span many dirty shards
    // and run on the commit thread's helper threads. Returns how many failed.
    let append_to_all = |data: &[u8]| {
        shards
            .iter()
            .map(|&k| {
                let rec = RecordIn {
                    partition_key: "pk",
                    explicit_hash_key: None,
                    data,
                };
                log.append(k, &[rec]).unwrap()
            })
            .collect::<Vec<_>>()
    };
    async fn failures(pending: Vec<weir_storage::Appended>) -> usize {
        let mut failed = 0;
        for a in pending {
            failed += usize::from(a.durable.wait().await.is_err());
        }
        failed
    }
    for round in 0..5u8 {
        assert_eq!(failures(append_to_all(&[round])).await, 0);
    }
    log.inject_sync_failures(1);
    let failed = failures(append_to_all(b"maybe")).await;
    assert!(failed >= 1, "the injected failure failed an append");
    let ends: Vec<u64> = shards
        .iter()
        .map(|&k| log.bounds(k).unwrap().end_offset)
        .collect();
    assert_eq!(ends.iter().filter(|&&e| e == 5).count(), failed);
    assert!(ends.iter().all(|&e| e == 5 || e == 6), "{ends:?}");
    drop(log);
    // Closing joined the helpers; everything acknowledged is there after reopening.
    let log = open(dir.path(), Durability::Fsync);
    for (&k, &end) in shards.iter().zip(&ends) {
        assert_eq!(read_all(&log, k, 0).len() as u64, end);
    }
}

/// The preallocation thread writes its zeros outside the shard's lock; appends that reach its
/// piece, and rolls (which cut the file), must wait for it. Four writers on one shard, with
/// segments of a few preallocation pieces, roll many times through zeros being written: every
/// record must read back in order, before and after a restart. Zeros kept only 64 KiB ahead
/// make the writers catch up with the piece being written again and again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_and_rolls_racing_preallocation_keep_every_record() {
    for _ in 0..10 {
        race_appends_with_preallocation().await;
    }
}

async fn race_appends_with_preallocation() {
    let dir = tempfile::tempdir().unwrap();
    let options = LocalLogOptions {
        segment_bytes: 1 << 20,
        index_interval_bytes: 4096,
        preallocate_bytes: 64 << 10,
        cached_tail_bytes: 256 << 10,
        ..LocalLogOptions::default()
    };
    let open = || {
        LocalLog::open_with(
            dir.path(),
            options.clone(),
            Durability::Fsync,
            Arc::new(SystemClock),
        )
        .expect("open")
        .0
    };
    let log = Arc::new(open());
    let k = key(7, 0);
    log.create_shard(k).unwrap();
    let writers: Vec<_> = (0..4u8)
        .map(|w| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                for i in 0..150u32 {
                    // 1–24 KiB per record, so batches land at every alignment to the pieces.
                    let len = 1024 * (1 + (i as usize * 7 + w as usize) % 24);
                    let data = vec![w ^ (i as u8); len];
                    let rec = [RecordIn {
                        partition_key: "p",
                        explicit_hash_key: None,
                        data: &data,
                    }];
                    let a = log.append(k, &rec).unwrap();
                    let offset = a.first_offset;
                    a.durable.wait().await.unwrap();
                    mine.push((offset, data));
                }
                mine
            })
        })
        .collect();
    let mut expected = Vec::new();
    for w in writers {
        expected.extend(w.await.unwrap());
    }
    expected.sort();
    let check = |log: &LocalLog| {
        let got = read_all(log, k, 0);
        assert_eq!(got.len(), expected.len());
        for (r, (offset, data)) in got.iter().zip(&expected) {
            assert_eq!(r.offset, *offset);
            assert!(
                r.data.as_ref() == data.as_slice(),
                "record {offset} differs"
            );
        }
    };
    check(&log);
    drop(log);
    let log = open();
    check(&log);
}
