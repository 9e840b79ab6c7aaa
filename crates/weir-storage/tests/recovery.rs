//! Start-up recovery of the local engine: torn tails, lost and damaged index files, corruption.

mod common;

use common::{key, put, read_all, unpreallocated_options};
use proptest::prelude::*;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use weir_core::ManualClock;
use weir_storage::log::LocalLog;
use weir_storage::{Durability, Error, RecoveryReport, ShardKey, StreamStore};

/// Opens without preallocation, so that each log file ends at its last batch (preallocated
/// tails have their own tests below).
fn open(dir: &Path) -> (LocalLog, RecoveryReport) {
    LocalLog::open_with(
        dir,
        unpreallocated_options(),
        Durability::Fsync,
        Arc::new(ManualClock::new(5_000)),
    )
    .expect("open")
}

fn shard_dir(dir: &Path, k: ShardKey) -> PathBuf {
    dir.join(format!("{:016x}", k.stream))
        .join(format!("{:08x}", k.shard))
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// Writes `batches` appends of 3 records each; returns every record's data.
fn write_batches(dir: &Path, k: ShardKey, batches: usize, size: usize) -> Vec<Vec<u8>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (log, _) = open(dir);
    log.create_shard(k).unwrap();
    let mut all = Vec::new();
    rt.block_on(async {
        for b in 0..batches {
            let data: Vec<Vec<u8>> = (0..3).map(|r| vec![(b * 3 + r) as u8; size]).collect();
            let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
            put(&log, k, &refs).await;
            all.extend(data);
        }
    });
    all
}

fn data_of(log: &LocalLog, k: ShardKey) -> Vec<Vec<u8>> {
    read_all(log, k, 0)
        .into_iter()
        .map(|r| r.data.to_vec())
        .collect()
}

#[test]
fn reopen_keeps_everything_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, 2);
    let written = write_batches(dir.path(), k, 30, 200);
    let (log, report) = open(dir.path());
    assert_eq!(report.shards, 1);
    assert!(report.segments > 1, "small segments rolled");
    assert_eq!(report.records, 90);
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(log.shards(), vec![k]);
    assert_eq!(data_of(&log, k), written);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(put(&log, k, &[b"next"])), 90);
    assert_eq!(log.bounds(k).unwrap().last_arrival_millis, Some(5_000));
}

#[test]
fn garbage_after_the_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, 0);
    let written = write_batches(dir.path(), k, 5, 100);
    let tail = files(&shard_dir(dir.path(), k), "log").pop().unwrap();
    let before = std::fs::metadata(&tail).unwrap().len();
    let garbage = b"WEIR\x01garbage that is not a batch";
    OpenOptions::new()
        .append(true)
        .open(&tail)
        .unwrap()
        .write_all(garbage)
        .unwrap();
    let (log, report) = open(dir.path());
    assert_eq!(report.truncated_bytes, garbage.len() as u64);
    assert_eq!(std::fs::metadata(&tail).unwrap().len(), before);
    assert_eq!(data_of(&log, k), written);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(put(&log, k, &[b"x"])), 15);
    drop(log);
    let (log, report) = open(dir.path());
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(read_all(&log, k, 15)[0].data.as_ref(), b"x");
}

#[test]
fn a_batch_cut_mid_write_is_removed_once() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, 0);
    let written = write_batches(dir.path(), k, 4, 100);
    let tail = files(&shard_dir(dir.path(), k), "log").pop().unwrap();
    let len = std::fs::metadata(&tail).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&tail)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let (log, report) = open(dir.path());
    assert!(report.truncated_bytes > 0);
    assert_eq!(data_of(&log, k), written[..written.len() - 3]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(put(&log, k, &[b"again"])),
        written.len() as u64 - 3
    );
    let all = data_of(&log, k);
    assert_eq!(all.last().unwrap(), b"again");
    assert_eq!(all.len(), written.len() - 2);
}

#[test]
fn zero_filled_tail_is_end_of_data() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, 0);
    let written = write_batches(dir.path(), k, 3, 50);
    let tail = files(&shard_dir(dir.path(), k), "log").pop().unwrap();
    let len = std::fs::metadata(&tail).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&tail)
        .unwrap()
        .set_len(len + 4096)
        .unwrap();
    // Zeros after the last batch are a (preallocated) tail, not a batch: kept, not cut.
    let (log, report) = open(dir.path());
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(std::fs::metadata(&tail).unwrap().len(), len + 4096);
    assert_eq!(data_of(&log, k), written);
    // The next append overwrites the zeros at the true end of data.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(put(&log, k, &[b"after"])), 9);
    drop(log);
    let (log, report) = open(dir.path());
    assert_eq!(report.truncated_bytes, 0);
    let all = data_of(&log, k);
    assert_eq!(all[..9], written[..]);
    assert_eq!(all[9], b"after");
}

/// A log whose active segment is preallocated: 1 MiB segments, zeros kept 256 KiB ahead.
fn open_preallocated(dir: &Path) -> (LocalLog, RecoveryReport) {
    LocalLog::open_with(
        dir,
        weir_storage::LocalLogOptions {
            segment_bytes: 1 << 20,
            index_interval_bytes: 4096,
            preallocate_bytes: 256 << 10,
            cached_tail_bytes: 64 << 10,
            ..weir_storage::LocalLogOptions::default()
        },
        Durability::Fsync,
        Arc::new(ManualClock::new(5_000)),
    )
    .expect("open")
}

/// Writes `batches` appends of 3 records of `size` bytes into a preallocated log and waits for
/// the zero tail; returns the records' data and the position where the data ends.
fn write_preallocated(dir: &Path, k: ShardKey, batches: usize, size: usize) -> (Vec<Vec<u8>>, u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (log, _) = open_preallocated(dir);
    log.create_shard(k).unwrap();
    let mut all = Vec::new();
    rt.block_on(async {
        for b in 0..batches {
            let data: Vec<Vec<u8>> = (0..3).map(|r| vec![(b * 3 + r) as u8; size]).collect();
            let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
            put(&log, k, &refs).await;
            all.extend(data);
        }
    });
    // Each batch: 44-byte header, then per record 11 bytes, the key ("pk-<i>") and the data.
    let data_end = (batches * (44 + 3 * (11 + 4 + size))) as u64;
    let tail = files(&shard_dir(dir, k), "log").pop().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&tail).unwrap().len() <= data_end {
        assert!(
            std::time::Instant::now() < deadline,
            "no preallocated tail appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop(log);
    (all, data_end)
}

#[test]
fn a_preallocated_zero_tail_survives_restarts_and_is_written_over() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, 0);
    let (written, data_end) = write_preallocated(dir.path(), k, 5, 1000);
    let tail = files(&shard_dir(dir.path(), k), "log").pop().unwrap();
    let file_len = std::fs::metadata(&tail).unwrap().len();
    let original = std::fs::read(&tail).unwrap();
    assert!(original[data_end as usize..].iter().all(|&b| b == 0));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (log, report) = open_preallocated(dir.path());
    assert_eq!(
        report.truncated_bytes, 0,
        "the zero tail is not a torn batch"
    );
    assert_eq!(report.records, 15);
    assert_eq!(std::fs::metadata(&tail).unwrap().len(), file_len, "kept");
    assert_eq!(data_of(&log, k), written);
    assert_eq!(rt.block_on(put(&log, k, &[b"more"])), 15);
    drop(log);
    let (log, report) = open_preallocated(dir.path());
    assert_eq!(report.truncated_bytes, 0);
    let all = data_of(&log, k);
    assert_eq!(all.len(), 16);
    assert_eq!(all[15], b"more");
}

#[test]
fn a_torn_batch_in_a_preallocated_segment_is_still_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, 0);
    let (written, data_end) = write_preallocated(dir.path(), k, 4, 1000);
    let tail = files(&shard_dir(dir.path(), k), "log").pop().unwrap();
    // The last batch's second half never reached the disk: zeros where its records were.
    let batch = 44 + 3 * (11 + 4 + 1000);
    let f = OpenOptions::new().write(true).open(&tail).unwrap();
    std::os::unix::fs::FileExt::write_all_at(
        &f,
        &vec![0u8; batch / 2],
        data_end - batch as u64 / 2,
    )
    .unwrap();
    drop(f);
    let (log, report) = open_preallocated(dir.path());
    assert!(report.truncated_bytes > 0, "the torn batch is cut off");
    assert_eq!(
        std::fs::metadata(&tail).unwrap().len(),
        data_end - batch as u64
    );
    assert_eq!(data_of(&log, k), written[..9]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(put(&log, k, &[b"again"])), 9);
    drop(log);
    let (log, report) = open_preallocated(dir.path());
    assert_eq!(report.truncated_bytes, 0);
    let all = data_of(&log, k);
    assert_eq!(all[..9], written[..9]);
    assert_eq!(all[9], b"again");
}

#[test]
fn garbage_behind_a_zero_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, 0);
    let (written, data_end) = write_preallocated(dir.path(), k, 3, 500);
    let tail = files(&shard_dir(dir.path(), k), "log").pop().unwrap();
    OpenOptions::new()
        .append(true)
        .open(&tail)
        .unwrap()
        .write_all(b"WEIR\x01 stray bytes behind the zeros")
        .unwrap();
    let (log, report) = open_preallocated(dir.path());
    assert!(report.truncated_bytes > 0);
    assert_eq!(std::fs::metadata(&tail).unwrap().len(), data_end);
    assert_eq!(data_of(&log, k), written);
}

/// Writes 120 batches of 3 × 10 kB into a preallocated log of 1 MiB segments, one at a time:
/// several rolls, each by the preallocation thread ahead of need. Returns the batch length.
fn write_rolling(dir: &Path, k: ShardKey) -> u64 {
    let (log, _) = open_preallocated(dir);
    log.create_shard(k).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for b in 0..120u8 {
        let data = [vec![b; 10_000], vec![b; 10_000], vec![b; 10_000]];
        let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
        rt.block_on(put(&log, k, &refs));
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(log);
    (44 + 3 * (11 + 4 + 10_000)) as u64
}

/// A roll leaves cutting the sealed segment's zeros and writing its index to the preallocation
/// thread, outside the lock; by a clean shutdown both are done, and the index matches.
#[test]
fn sealed_segments_carry_no_zero_tail() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, 0);
    let batch = write_rolling(dir.path(), k);
    let logs = files(&shard_dir(dir.path(), k), "log");
    assert!(logs.len() >= 3, "{logs:?}");
    for sealed in &logs[..logs.len() - 1] {
        let len = std::fs::metadata(sealed).unwrap().len();
        assert_eq!(len % batch, 0, "{} ends in a zero tail", sealed.display());
        let idx = std::fs::read(sealed.with_extension("idx")).expect("an index file");
        let indexed = u64::from_le_bytes(idx[12..20].try_into().unwrap());
        assert_eq!(indexed, len, "{}'s index describes it", sealed.display());
    }
    let (log, report) = open_preallocated(dir.path());
    assert_eq!((report.truncated_bytes, report.records), (0, 360));
    assert_eq!(read_all(&log, k, 0).len(), 360);
}

/// A crash after a roll and before its deferred cut reached the disk: a sealed segment whose
/// last batch is followed by preallocated zeros, and no index. Start-up cuts the zeros, keeps
/// every record, and rebuilds the index.
#[test]
fn a_zero_tail_behind_a_sealed_segment_is_cut_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, 0);
    let batch = write_rolling(dir.path(), k);
    let logs = files(&shard_dir(dir.path(), k), "log");
    assert!(logs.len() >= 3, "{logs:?}");
    let sealed = &logs[logs.len() - 2];
    let len = std::fs::metadata(sealed).unwrap().len();
    std::fs::remove_file(sealed.with_extension("idx")).unwrap();
    OpenOptions::new()
        .append(true)
        .open(sealed)
        .unwrap()
        .write_all(&vec![0u8; 300_000])
        .unwrap();
    let (log, report) = open_preallocated(dir.path());
    assert_eq!((report.truncated_bytes, report.records), (0, 360));
    assert_eq!(std::fs::metadata(sealed).unwrap().len(), len, "cut back");
    assert_eq!(len % batch, 0);
    assert!(sealed.with_extension("idx").exists(), "index rebuilt");
    let all = read_all(&log, k, 0);
    assert_eq!(all.len(), 360);
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, r)| r.data[0] == (i / 3) as u8));
    drop(log);
    let (_, report) = open_preallocated(dir.path());
    assert_eq!((report.truncated_bytes, report.records), (0, 360));
}

#[test]
fn missing_and_corrupt_index_files_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, 0);
    let written = write_batches(dir.path(), k, 40, 150);
    let sdir = shard_dir(dir.path(), k);
    let idx = files(&sdir, "idx");
    assert!(idx.len() >= 3, "sealed segments have index files: {idx:?}");
    std::fs::remove_file(&idx[0]).unwrap();
    std::fs::write(&idx[1], b"not an index").unwrap();
    let mut bytes = std::fs::read(&idx[2]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&idx[2], bytes).unwrap();
    let (log, report) = open(dir.path());
    assert_eq!(report.records, 120);
    assert_eq!(data_of(&log, k), written);
    assert_eq!(files(&sdir, "idx"), idx, "index files rewritten");
    let fresh = std::fs::read(&idx[1]).unwrap();
    assert!(fresh.starts_with(b"WIDX"));
    // Seeks through rebuilt indexes land on the right record.
    for from in [0u64, 17, 64, 119] {
        assert_eq!(
            log.read(k, from, 1, 1).unwrap().records[0].data[0],
            from as u8
        );
    }
}

#[test]
fn corruption_in_a_sealed_segment_is_an_error_not_data() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, 0);
    let written = write_batches(dir.path(), k, 40, 150);
    let sdir = shard_dir(dir.path(), k);
    let logs = files(&sdir, "log");
    let victim = &logs[1];
    let mut bytes = std::fs::read(victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(victim, bytes).unwrap();
    let (log, _) = open(dir.path());
    let victim_base: u64 = victim
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let next_base: u64 = logs[2]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut saw_corrupt = false;
    for from in victim_base..next_base {
        match log.read(k, from, 1, usize::MAX) {
            Ok(b) => assert_eq!(b.records[0].data.to_vec(), written[from as usize]),
            Err(Error::Corrupt { .. }) => saw_corrupt = true,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(saw_corrupt);
    // Other segments stay readable.
    assert_eq!(
        log.read(k, 0, 1, 1).unwrap().records[0].data.to_vec(),
        written[0]
    );
    assert_eq!(
        log.read(k, next_base, 1, 1).unwrap().records[0]
            .data
            .to_vec(),
        written[next_base as usize]
    );
    // A read spanning the damage returns the good prefix, then the error.
    let b = log.read(k, victim_base, 1000, usize::MAX).unwrap();
    assert!(b.next_offset < next_base);
}

#[test]
fn interrupted_delete_is_finished_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    write_batches(dir.path(), key(3, 0), 1, 10);
    std::fs::rename(
        dir.path().join(format!("{:016x}", 3)),
        dir.path().join(format!("{:016x}.deleted", 3)),
    )
    .unwrap();
    let (log, report) = open(dir.path());
    assert_eq!(report.shards, 0);
    assert!(log.shards().is_empty());
    assert!(!dir.path().join(format!("{:016x}.deleted", 3)).exists());
}

#[test]
fn deleted_streams_stay_deleted() {
    let dir = tempfile::tempdir().unwrap();
    write_batches(dir.path(), key(3, 0), 2, 10);
    {
        let (log, _) = open(dir.path());
        log.create_shard(key(4, 0)).unwrap();
        log.delete_stream(3).unwrap();
    }
    let (log, _) = open(dir.path());
    assert_eq!(log.shards(), vec![key(4, 0)]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever single byte of the tail segment is damaged, or wherever it is cut, start-up
    /// returns a prefix of what was written (never altered data, never a record twice).
    #[test]
    fn tail_damage_leaves_an_exact_prefix(cut in any::<prop::sample::Index>(), flip in proptest::option::of(1u8..=255)) {
        let dir = tempfile::tempdir().unwrap();
        let k = key(1, 0);
        let written = write_batches(dir.path(), k, 6, 40);
        let tail = files(&shard_dir(dir.path(), k), "log").pop().unwrap();
        let mut bytes = std::fs::read(&tail).unwrap();
        let at = cut.index(bytes.len());
        match flip {
            Some(x) => bytes[at] ^= x,
            None => bytes.truncate(at),
        }
        std::fs::write(&tail, &bytes).unwrap();
        let (log, report) = open(dir.path());
        let got = data_of(&log, k);
        prop_assert!(got.len() < written.len());
        // A cut exactly between two batches leaves nothing torn to remove.
        prop_assert!(report.truncated_bytes > 0 || flip.is_none());
        prop_assert_eq!(got.len() % 3, 0);
        prop_assert_eq!(&got[..], &written[..got.len()]);
    }
}
