//! The commit log: rounds of several shards made durable by one log sync, and start-up writing
//! back what the segments lost. A crash that takes a segment's unsynced pages is simulated on a
//! copy of the data directory taken while the store runs (the page cache's view: everything
//! written), by zeroing or deleting segment files whose every write went through the log.

mod common;

use common::{key, read_all};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_core::ManualClock;
use weir_storage::log::{LocalLog, LocalLogOptions};
use weir_storage::{Durability, RecordIn, RecoveryReport, ShardKey, StreamStore};

const SHARDS: u32 = 4;

fn options(commit_log_bytes: u64) -> LocalLogOptions {
    LocalLogOptions {
        segment_bytes: 1 << 20,
        index_interval_bytes: 4096,
        preallocate_bytes: 256 << 10,
        cached_tail_bytes: 64 << 20,
        commit_log_bytes,
    }
}

/// Opens a store whose every round the log can take goes through it.
fn open(dir: &Path, commit_log_bytes: u64) -> (LocalLog, RecoveryReport) {
    let (log, report) = LocalLog::open_with(
        dir,
        options(commit_log_bytes),
        Durability::Fsync,
        Arc::new(ManualClock::new(5_000)),
    )
    .expect("open");
    log.log_every_round();
    (log, report)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn shard_dir(dir: &Path, k: ShardKey) -> PathBuf {
    dir.join(format!("{:016x}", k.stream))
        .join(format!("{:08x}", k.shard))
}

fn logs_of(dir: &Path, k: ShardKey) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(shard_dir(dir, k))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

/// The record data of round `round`, shard `shard`, record `r`.
fn datum(round: usize, shard: u32, r: usize, size: usize) -> Vec<u8> {
    let mut d = vec![(round * 7 + shard as usize * 3 + r) as u8; size];
    d[..8].copy_from_slice(&(round as u64).to_le_bytes());
    d
}

/// One PutRecords-like append of 3 records to each shard of `stream`, waited for; returns
/// whether the round went through the commit log.
async fn round(log: &LocalLog, stream: u64, round: usize, size: usize) -> bool {
    let (logged, durable) = try_round(log, stream, round, size).await;
    assert!(durable, "round {round} is durable");
    logged
}

/// [`round`], returning whether it went through the log and whether every append was durable.
async fn try_round(log: &LocalLog, stream: u64, round: usize, size: usize) -> (bool, bool) {
    let keys: Vec<String> = (0..3).map(|i| format!("pk-{i}")).collect();
    let data: Vec<Vec<Vec<u8>>> = (0..SHARDS)
        .map(|s| (0..3).map(|r| datum(round, s, r, size)).collect())
        .collect();
    let recs: Vec<Vec<RecordIn<'_>>> = data
        .iter()
        .map(|rs| {
            rs.iter()
                .zip(&keys)
                .map(|(d, k)| RecordIn {
                    partition_key: k,
                    explicit_hash_key: None,
                    data: d,
                })
                .collect()
        })
        .collect();
    let appends: Vec<(ShardKey, &[RecordIn<'_>])> = (0..SHARDS)
        .map(|s| (key(stream, s), recs[s as usize].as_slice()))
        .collect();
    let before = log.log_rounds();
    let mut durable = true;
    for a in log.append_all(&appends) {
        durable &= a.expect("append").durable.wait().await.is_ok();
    }
    (log.log_rounds() > before, durable)
}

/// Waits until rounds go through the log (its files are zero-filled in the background at first
/// start), using stream 1.
async fn warm_up(log: &LocalLog) {
    for s in 0..SHARDS {
        log.create_shard(key(1, s)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while !round(log, 1, n, 100).await {
        assert!(Instant::now() < deadline, "no round went through the log");
        n += 1;
    }
}

/// Runs `rounds` rounds on stream 2 (created after the warm-up, so every write its segments
/// ever saw went through the log), asserting each was logged; then copies the data directory
/// as it stands, with the store still open.
fn logged_rounds(dir: &Path, copy: &Path, commit_log_bytes: u64, rounds: usize, size: usize) {
    let rt = runtime();
    let (log, _) = open(dir, commit_log_bytes);
    rt.block_on(async {
        warm_up(&log).await;
        for s in 0..SHARDS {
            log.create_shard(key(2, s)).unwrap();
        }
        for n in 0..rounds {
            assert!(
                round(&log, 2, n, size).await,
                "round {n} went through the log"
            );
        }
    });
    copy_dir(dir, copy);
    drop(log);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The crash took every page the segments of stream 2 had not synced: all of them (every write
/// they saw went through the log).
fn lose_stream_2(dir: &Path) {
    for s in 0..SHARDS {
        for path in logs_of(dir, key(2, s)) {
            let len = std::fs::metadata(&path).unwrap().len();
            std::fs::write(&path, vec![0u8; len as usize]).unwrap();
        }
    }
}

fn expect_stream_2(log: &LocalLog, rounds: usize, size: usize) {
    expect_rounds(log, &(0..rounds).collect::<Vec<_>>(), size);
}

/// Stream 2 holds exactly the records of `rounds`, in order.
fn expect_rounds(log: &LocalLog, rounds: &[usize], size: usize) {
    for s in 0..SHARDS {
        let got: Vec<Vec<u8>> = read_all(log, key(2, s), 0)
            .into_iter()
            .map(|r| r.data.to_vec())
            .collect();
        let want: Vec<Vec<u8>> = rounds
            .iter()
            .flat_map(|&n| (0..3).map(move |r| datum(n, s, r, size)))
            .collect();
        assert_eq!(
            got.len(),
            want.len(),
            "shard {s}: every acknowledged record"
        );
        assert!(got == want, "shard {s}: the records, in order");
    }
}

#[test]
fn rounds_of_several_shards_survive_segments_that_lost_every_unsynced_page() {
    let (dir, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (rounds, size) = (30, 1000);
    logged_rounds(dir.path(), copy.path(), 1 << 20, rounds, size);
    lose_stream_2(copy.path());
    let (log, report) = open(copy.path(), 1 << 20);
    let per_shard = rounds as u64 * 3 * (11 + 4 + size as u64) + rounds as u64 * 44;
    assert_eq!(report.replayed_bytes, u64::from(SHARDS) * per_shard);
    expect_stream_2(&log, rounds, size);
    // Appends go on after the written-back batches.
    let rt = runtime();
    rt.block_on(round(&log, 2, rounds, size));
    expect_stream_2(&log, rounds + 1, size);
    drop(log);
    // Replaying again finds everything in place.
    let (log, report) = open(copy.path(), 1 << 20);
    assert_eq!(report.replayed_bytes, 0);
    assert_eq!(report.truncated_bytes, 0);
    expect_stream_2(&log, rounds + 1, size);
}

#[test]
fn a_rolled_segment_whose_directory_entry_was_lost_is_rebuilt_from_the_log() {
    let (dir, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // 3 × 40 KB per shard and round roll each 1 MiB segment after about 8 rounds; 16 MiB files
    // hold all 12 rounds, so no checkpoint syncs the new segments.
    let (rounds, size) = (12, 40_000);
    logged_rounds(dir.path(), copy.path(), 16 << 20, rounds, size);
    for s in 0..SHARDS {
        let logs = logs_of(copy.path(), key(2, s));
        assert_eq!(logs.len(), 2, "shard {s} rolled once");
        std::fs::remove_file(logs.last().unwrap()).unwrap();
    }
    let (log, report) = open(copy.path(), 16 << 20);
    assert!(report.replayed_bytes > 0);
    expect_stream_2(&log, rounds, size);
    for s in 0..SHARDS {
        assert_eq!(logs_of(copy.path(), key(2, s)).len(), 2, "recreated");
    }
}

#[test]
fn a_store_opened_without_the_log_applies_and_removes_it() {
    let (dir, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (rounds, size) = (10, 500);
    logged_rounds(dir.path(), copy.path(), 1 << 20, rounds, size);
    lose_stream_2(copy.path());
    let (log, report) = open(copy.path(), 0);
    assert!(report.replayed_bytes > 0);
    expect_stream_2(&log, rounds, size);
    for i in 0..2 {
        assert!(!copy.path().join(format!("commit-{i}.wal")).exists());
    }
}

#[test]
fn records_of_a_deleted_stream_are_dropped() {
    let (dir, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    logged_rounds(dir.path(), copy.path(), 1 << 20, 5, 500);
    std::fs::remove_dir_all(copy.path().join(format!("{:016x}", 2))).unwrap();
    let (log, report) = open(copy.path(), 1 << 20);
    assert_eq!(report.replayed_bytes, 0);
    assert!(log.shards().iter().all(|k| k.stream == 1));
}

#[test]
fn the_log_stays_correct_across_file_switches_and_checkpoints() {
    // 1 MiB files and 4 × 3 × 5 KB rounds: a switch every 17 rounds, each asking for a
    // checkpoint; every acknowledged record reads back, and after a clean close nothing is
    // left to replay.
    let dir = tempfile::tempdir().unwrap();
    let (rounds, size) = (120, 5_000);
    let rt = runtime();
    let (log, _) = open(dir.path(), 1 << 20);
    let logged = rt.block_on(async {
        warm_up(&log).await;
        for s in 0..SHARDS {
            log.create_shard(key(2, s)).unwrap();
        }
        let mut logged = 0;
        for n in 0..rounds {
            logged += usize::from(round(&log, 2, n, size).await);
        }
        logged
    });
    assert!(
        logged > rounds / 2,
        "most rounds went through the log: {logged}"
    );
    expect_stream_2(&log, rounds, size);
    drop(log);
    let (log, report) = open(dir.path(), 1 << 20);
    assert_eq!(report.replayed_bytes, 0);
    expect_stream_2(&log, rounds, size);
}

#[test]
fn a_round_whose_log_sync_failed_never_comes_back() {
    let (dir, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let size = 700;
    let rt = runtime();
    let (log, _) = open(dir.path(), 1 << 20);
    rt.block_on(async {
        warm_up(&log).await;
        for s in 0..SHARDS {
            log.create_shard(key(2, s)).unwrap();
        }
        for n in 0..3 {
            assert!(round(&log, 2, n, size).await);
        }
        log.inject_sync_failures(1);
        assert_eq!(
            try_round(&log, 2, 3, size).await,
            (true, false),
            "the round went through the log, and its appends failed"
        );
        // A smaller round takes the failed one's place in the log.
        assert!(round(&log, 2, 4, size / 2).await);
    });
    copy_dir(dir.path(), copy.path());
    drop(log);
    lose_stream_2(copy.path());
    let (log, _) = open(copy.path(), 1 << 20);
    for s in 0..SHARDS {
        let got: Vec<Vec<u8>> = read_all(&log, key(2, s), 0)
            .into_iter()
            .map(|r| r.data.to_vec())
            .collect();
        let mut want: Vec<Vec<u8>> = (0..3)
            .flat_map(|n| (0..3).map(move |r| datum(n, s, r, size)))
            .collect();
        want.extend((0..3).map(|r| datum(4, s, r, size / 2)));
        assert!(
            got == want,
            "shard {s}: rounds 0–2 and 4, not the failed round 3"
        );
    }
}
