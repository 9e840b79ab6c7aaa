//! Shared helpers for the storage integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use weir_core::ManualClock;
use weir_storage::log::{LocalLog, LocalLogOptions};
use weir_storage::memory::MemoryStore;
use weir_storage::{Durability, RecordIn, ShardKey, StoredRecord, StreamStore};

pub struct Harness {
    pub store: Arc<dyn StreamStore>,
    pub clock: Arc<ManualClock>,
    pub dir: Option<tempfile::TempDir>,
}

/// Tiny segments (with preallocation and page-cache release on, as by default).
pub fn small_options() -> LocalLogOptions {
    LocalLogOptions {
        segment_bytes: 4096,
        index_interval_bytes: 256,
        ..LocalLogOptions::default()
    }
}

/// [`small_options`] without preallocation: a log file ends at its last batch, for tests that
/// damage the end of a file.
pub fn unpreallocated_options() -> LocalLogOptions {
    LocalLogOptions {
        preallocate_bytes: 0,
        ..small_options()
    }
}

pub fn local(durability: Durability) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(1_000_000));
    let (log, _) =
        LocalLog::open_with(dir.path(), small_options(), durability, clock.clone()).expect("open");
    Harness {
        store: Arc::new(log),
        clock,
        dir: Some(dir),
    }
}

pub fn memory() -> Harness {
    let clock = Arc::new(ManualClock::new(1_000_000));
    Harness {
        store: Arc::new(MemoryStore::new(clock.clone())),
        clock,
        dir: None,
    }
}

pub fn key(stream: u64, shard: u32) -> ShardKey {
    ShardKey { stream, shard }
}

/// Appends records `data` (partition key "pk-<i>") and waits until they are durable.
pub async fn put(store: &dyn StreamStore, shard: ShardKey, data: &[&[u8]]) -> u64 {
    let keys: Vec<String> = (0..data.len()).map(|i| format!("pk-{i}")).collect();
    let recs: Vec<RecordIn<'_>> = data
        .iter()
        .zip(&keys)
        .map(|(d, k)| RecordIn {
            partition_key: k,
            explicit_hash_key: None,
            data: d,
        })
        .collect();
    let a = store.append(shard, &recs).expect("append");
    a.durable.wait().await.expect("durable");
    a.first_offset
}

pub fn read_all(store: &dyn StreamStore, shard: ShardKey, from: u64) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut next = from;
    loop {
        let b = store.read(shard, next, 1000, 10 << 20).expect("read");
        if b.records.is_empty() {
            return out;
        }
        next = b.next_offset;
        out.extend(b.records);
    }
}
