//! weir's storage: bytes on disk and nothing else.
//!
//! Two traits are the seam between the services and the disk:
//!
//! * [`StreamStore`] holds the records of every shard as an append-only, offset-addressed log.
//!   The local engine ([`log::LocalLog`]) keeps per-shard segment files of CRC32C-checked batches,
//!   a sparse offset/time index, and one group-commit thread that makes concurrent appends to all
//!   shards durable with one round of `fdatasync`. [`memory::MemoryStore`] is the same contract
//!   in memory, for tests.
//! * [`MetadataStore`] is a small transactional key-value store with compare-and-set versions
//!   (streams, shards and lineage, tags, consumers, ...). It is shaped so that it can move to
//!   PostgreSQL when several weir nodes share one cluster.
//!
//! The store knows nothing of Kinesis semantics: shards are opened, appended to, read, trimmed and
//! deleted by key. Offsets start at 0 per shard and grow by one per record; arrival timestamps are
//! assigned by the store from its [`Clock`](weir_core::Clock) and never decrease within a shard.

pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod log;
pub mod memory;
pub mod metadata;

use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use error::{Error, Result};
pub use log::{LocalLog, LocalLogOptions};
pub use memory::MemoryStore;
pub use metadata::{Expect, MemoryMetadata, MetaOp, MetadataStore, RedbMetadata, Versioned};

/// One shard of one stream incarnation. `stream` is an internal id that is never reused, so a
/// stream deleted and created again under the same name never sees the old records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardKey {
    pub stream: u64,
    pub shard: u32,
}

/// A record as a producer hands it in.
#[derive(Debug, Clone, Copy)]
pub struct RecordIn<'a> {
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<u128>,
    pub data: &'a [u8],
}

/// A record as the store returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub offset: u64,
    pub arrival_millis: i64,
    pub partition_key: String,
    pub explicit_hash_key: Option<u128>,
    pub data: Bytes,
}

impl StoredRecord {
    /// Bytes the record counts against read limits (data + partition key), as AWS counts them.
    pub fn billed_len(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }
}

/// How an append becomes durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledge only after `fdatasync`; concurrent appends share one sync (group commit).
    /// Readers see only durable records.
    Fsync,
    /// Sync every interval; acknowledge as soon as the bytes are written.
    Interval(Duration),
    /// Never sync explicitly; the OS writes back when it likes.
    None,
}

/// The result of an append: where the records went, and a handle that resolves when they are
/// durable under the store's [`Durability`].
pub struct Appended {
    /// Offset of the first appended record; the others follow contiguously.
    pub first_offset: u64,
    /// Arrival time the store gave every record of the append.
    pub arrival_millis: i64,
    pub durable: DurableWait,
}

/// Resolves once an append is durable (or failed to become so).
pub struct DurableWait(pub Pin<Box<dyn Future<Output = Result<()>> + Send>>);

impl DurableWait {
    pub fn ready() -> Self {
        Self(Box::pin(async { Ok(()) }))
    }
    pub async fn wait(self) -> Result<()> {
        self.0.await
    }
}

/// What a read returns.
#[derive(Debug, Clone, Default)]
pub struct ReadBatch {
    pub records: Vec<StoredRecord>,
    /// The offset to continue from: one past the last returned record, or the (possibly
    /// trim-adjusted) starting offset when nothing was returned.
    pub next_offset: u64,
}

/// The readable extent of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardBounds {
    /// The oldest retained offset (TRIM_HORIZON).
    pub start_offset: u64,
    /// One past the newest readable offset (LATEST). Equal to `start_offset` when empty.
    pub end_offset: u64,
    /// Arrival time of the newest readable record, if any.
    pub last_arrival_millis: Option<i64>,
}

/// What start-up found and repaired.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    pub shards: usize,
    pub segments: usize,
    pub records: u64,
    pub bytes: u64,
    /// Bytes cut from torn tails.
    pub truncated_bytes: u64,
    /// Bytes of batches the commit log held that the segments had lost, written back.
    pub replayed_bytes: u64,
    pub elapsed: Duration,
}

/// The record log of every shard.
pub trait StreamStore: Send + Sync + 'static {
    /// Makes a shard ready for appends. Idempotent.
    fn create_shard(&self, shard: ShardKey) -> Result<()>;

    /// Appends records to one shard, in order. The write is visible to readers once durable
    /// (fsync mode) or at once (other modes). An empty `records` is an error.
    fn append(&self, shard: ShardKey, records: &[RecordIn<'_>]) -> Result<Appended>;

    /// Appends to several shards as one commit, a result per shard in order: every shard's
    /// records are written before any is queued for its sync, so with fsync durability they
    /// share a round and the caller waits for one round rather than one per shard (a
    /// PutRecords call across four shards would otherwise wait for the first shard's round,
    /// which starts as soon as that shard is queued, and then for the other three's).
    fn append_all(&self, appends: &[(ShardKey, &[RecordIn<'_>])]) -> Vec<Result<Appended>> {
        appends.iter().map(|(k, r)| self.append(*k, r)).collect()
    }

    /// Reads from `from_offset` (moved up to the trim point if below it) at most `max_records`
    /// records and — always returning at least one record if any is readable — stopping before
    /// `max_bytes` of [`StoredRecord::billed_len`] would be exceeded.
    fn read(
        &self,
        shard: ShardKey,
        from_offset: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<ReadBatch>;

    fn bounds(&self, shard: ShardKey) -> Result<ShardBounds>;

    /// The first readable offset whose arrival time is `>= at_millis`, or `end_offset` if none.
    fn offset_at_timestamp(&self, shard: ShardKey, at_millis: i64) -> Result<u64>;

    /// A receiver of the shard's `end_offset`, updated whenever new records become readable.
    fn watch_end(&self, shard: ShardKey) -> Result<tokio::sync::watch::Receiver<u64>>;

    /// Deletes whole segments all of whose records arrived before `before_millis`; returns the new
    /// `start_offset`. The newest segment is never deleted while it is being written.
    fn trim(&self, shard: ShardKey, before_millis: i64) -> Result<u64>;

    /// Closes a shard to appends (resharding): every later `append` fails with
    /// [`Error::Sealed`]. Returns one past the last offset ever assigned, which becomes readable
    /// once the appends in flight are durable. Idempotent; not persisted (the owner of the shard
    /// map records the closure).
    fn seal(&self, shard: ShardKey) -> Result<u64>;

    /// Reopens a sealed shard to appends (a reshard that failed before publishing its map).
    fn unseal(&self, shard: ShardKey) -> Result<()>;

    /// Removes every shard of a stream incarnation, on disk and in memory.
    fn delete_stream(&self, stream: u64) -> Result<()>;

    /// Every shard the store holds (after recovery, this is what was found on disk).
    fn shards(&self) -> Vec<ShardKey>;

    /// Makes everything written so far durable (used at shutdown).
    fn sync_all(&self) -> Result<()>;

    /// Whether appends are accepted right now and how many were refused or failed (a full
    /// disk, I/O errors). Engines without a disk are always healthy.
    fn write_health(&self) -> log::WriteHealth {
        log::WriteHealth::default()
    }
}
