//! The local segment-log engine: the embedded default [`StreamStore`].
//!
//! ## Layout
//!
//! ```text
//! <dir>/<stream:016x>/<shard:08x>/<base_offset:020>.log   batches, see [`batch`]
//!                                 <base_offset:020>.idx   sparse index of a sealed segment
//! <dir>/commit-0.wal, commit-1.wal                        the commit log, see [`commit_log`]
//! ```
//!
//! Each shard is a sequence of segment files named by the offset of their first record. Only the
//! newest (active) segment is ever written; it is sealed and a new one started once it is within
//! a sixteenth of [`LocalLogOptions::segment_bytes`] of full (by the preallocation thread, off
//! the request path, see [`pages`]), or at the latest when the next batch would take it past
//! that size. Sealing writes the segment's sparse index next to it, so that start-up reads a
//! small index file per sealed segment and scans (and, if torn, truncates) only the active one.
//!
//! ## Writes and group commit
//!
//! An append encodes its records into a thread-local buffer and checksums them outside any lock,
//! then, under the shard's lock, assigns offsets and an arrival time, seals the header and writes
//! the batch with one positional write. In [`Durability::Fsync`] mode it then queues the shard
//! for the single commit thread of the store and returns a [`DurableWait`]. The commit thread
//! takes the whole queue at once, `fdatasync`s each queued shard's file, and then publishes the
//! new durable end of each shard: the waiting appends resolve and readers (and `watch_end`) see
//! the records. Appends that arrive while a round is syncing form the next round, so many
//! concurrent appends across all shards share one round of syncs. With the [`commit_log`] on
//! (opt-in), a round of several shards on an otherwise idle store is instead copied into it
//! and made durable by one sync of it; the segments are synced behind it.
//!
//! A failed sync fails every waiting append of that shard with a retryable error and cuts their
//! bytes off the file again (see [`shard`]); reads go on. In `Interval` mode the commit thread
//! syncs the written shards on a timer and appends resolve at once; in `None` mode only
//! [`StreamStore::sync_all`] syncs.
//!
//! ## The file system under the tail
//!
//! Active segments are kept zero-filled and durable ahead of their write position, so that a
//! commit's `fdatasync` is a data flush and not also a journal commit for a growing file; and
//! the page cache of durable log further behind a shard's end is handed back to the kernel, so
//! that appends reuse warm pages. Both are described in [`pages`].
//!
//! ## Reads
//!
//! Reads snapshot the shard's segment list and readable end under its lock, then read without it
//! with positional reads (`pread`) from the page cache, starting at the index entry below the
//! requested offset. A trimmed segment stays readable by readers that already hold it: its file
//! is unlinked, not closed.

mod batch;
mod commit;
mod commit_log;
mod health;
mod pages;
mod recovery;
mod segment;
mod shard;

use crate::{
    Appended, Durability, Error, ReadBatch, RecordIn, RecoveryReport, Result, ShardBounds,
    ShardKey, StreamStore,
};
use commit::CommitQueue;
use health::{FaultLog, SpaceGuard};
pub use health::{RoundTimes, WriteHealth, ROUND_BOUNDS_MS, SPACE_CHECK_EVERY_MS};
use parking_lot::{Condvar, Mutex, RwLock};
use segment::Segment;
use shard::Shard;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;
use weir_core::Clock;

/// Tunables of the local engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalLogOptions {
    /// A segment is sealed once it is within a sixteenth of this size of full, or the next batch
    /// would take it past this size (64 MiB).
    pub segment_bytes: u64,
    /// One sparse-index entry per this many bytes of log (4 KiB).
    pub index_interval_bytes: u64,
    /// Keep the active segment written with zeros and synced this far past its write position
    /// (8 MiB; 0 = off, and always off with [`Durability::None`]). See [`pages`].
    pub preallocate_bytes: u64,
    /// Hand the page cache of durable log further than this behind a shard's end back to the
    /// kernel (64 MiB; 0 = leave it to the kernel). See [`pages`].
    pub cached_tail_bytes: u64,
    /// Size of each of the two commit-log files through which an idle store's rounds of
    /// several shards make them durable with one sync (0 = off, the default; only with
    /// [`Durability::Fsync`]; 8 MiB is a good size). See [`commit_log`] for why it is off.
    pub commit_log_bytes: u64,
}

impl Default for LocalLogOptions {
    fn default() -> Self {
        LocalLogOptions {
            segment_bytes: 64 << 20,
            index_interval_bytes: 4 << 10,
            preallocate_bytes: 8 << 20,
            cached_tail_bytes: 64 << 20,
            commit_log_bytes: 0,
        }
    }
}

pub(crate) struct Settings {
    pub options: LocalLogOptions,
    pub durability: Durability,
}

impl Settings {
    /// Whether the preallocation thread runs: zeros are kept ahead of the active segments,
    /// segments are rolled ahead of need, and rolls leave their cut and index to it.
    pub fn preallocating(&self) -> bool {
        self.options.preallocate_bytes > 0 && self.durability != Durability::None
    }
}

/// The local segment-log engine. Dropping it (or [`LocalLog::close`]) drains and joins the
/// commit and preallocation threads.
pub struct LocalLog {
    inner: Arc<Inner>,
    committer: Mutex<Option<JoinHandle<()>>>,
    preallocator: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<Option<JoinHandle<()>>>,
}

pub(crate) struct Inner {
    dir: PathBuf,
    settings: Settings,
    clock: Arc<dyn Clock>,
    shards: RwLock<HashMap<ShardKey, Arc<Shard>>>,
    create_lock: Mutex<()>,
    queue: Mutex<CommitQueue>,
    wake: Condvar,
    prealloc: Mutex<pages::PreallocQueue>,
    prealloc_wake: Condvar,
    closed: AtomicBool,
    /// Held by every round of syncs (the commit thread's and `sync_all`'s), so that a roll-back
    /// after a failed sync cannot cut bytes another round is copying into the commit log.
    rounds: Mutex<()>,
    /// The commit log's files, when rounds may go through it.
    log: Option<Arc<commit_log::LogFiles>>,
    /// Test hook: rounds go through the log even when they follow each other closely.
    log_always: AtomicBool,
    sync_rounds: AtomicU64,
    log_rounds: AtomicU64,
    segment_round_times: health::RoundClock,
    log_round_times: health::RoundClock,
    fail_syncs: AtomicU32,
    faults: FaultLog,
    space: SpaceGuard,
}

thread_local! {
    static ENCODE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's reusable encode buffer, so that appends do not allocate.
fn with_encode_buf<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    ENCODE_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            let r = f(&mut buf);
            if buf.capacity() > 8 << 20 {
                *buf = Vec::new();
            }
            r
        }
        Err(_) => f(&mut Vec::new()),
    })
}

/// Starts one of the store's background threads.
fn spawn_worker(inner: &Arc<Inner>, name: &str, run: fn(Arc<Inner>)) -> io::Result<JoinHandle<()>> {
    let worker = inner.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || run(worker))
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl LocalLog {
    /// Opens (creating if needed) a store in `dir` with default options, recovering what is there.
    pub fn open(
        dir: &Path,
        durability: Durability,
        clock: Arc<dyn Clock>,
    ) -> Result<(LocalLog, RecoveryReport)> {
        Self::open_with(dir, LocalLogOptions::default(), durability, clock)
    }

    pub fn open_with(
        dir: &Path,
        options: LocalLogOptions,
        durability: Durability,
        clock: Arc<dyn Clock>,
    ) -> Result<(LocalLog, RecoveryReport)> {
        if options.segment_bytes == 0 || options.index_interval_bytes == 0 {
            return Err(Error::Invalid(
                "segment_bytes and index_interval_bytes must be positive".into(),
            ));
        }
        let started = Instant::now();
        let settings = Settings {
            options,
            durability,
        };
        std::fs::create_dir_all(dir)?;
        let mut logged = commit_log::read(dir)?;
        let (shards, mut report) = recovery::recover(dir, &settings, &mut logged.shards)?;
        // Recovery applied and synced what the log held; its files can be reused or go.
        let log = if commit_log::enabled(&settings) {
            Some(Arc::new(commit_log::LogFiles::open(
                dir,
                settings.options.commit_log_bytes,
                logged.next_seq,
            )?))
        } else {
            commit_log::remove(dir)?;
            None
        };
        report.elapsed = started.elapsed();
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            settings,
            clock,
            shards: RwLock::new(shards),
            create_lock: Mutex::new(()),
            queue: Mutex::new(CommitQueue::default()),
            wake: Condvar::new(),
            prealloc: Mutex::new(pages::PreallocQueue::default()),
            prealloc_wake: Condvar::new(),
            closed: AtomicBool::new(false),
            rounds: Mutex::new(()),
            log,
            log_always: AtomicBool::new(false),
            sync_rounds: AtomicU64::new(0),
            log_rounds: AtomicU64::new(0),
            segment_round_times: health::RoundClock::default(),
            log_round_times: health::RoundClock::default(),
            fail_syncs: AtomicU32::new(0),
            faults: FaultLog::default(),
            space: SpaceGuard::new(dir.to_path_buf()),
        });
        let committer = if durability == Durability::None {
            inner.queue.lock().exited = true;
            None
        } else {
            Some(spawn_worker(&inner, "weir-commit", commit::run)?)
        };
        let checkpointer = inner
            .log
            .is_some()
            .then(|| spawn_worker(&inner, "weir-checkpoint", commit_log::run))
            .transpose()?;
        let preallocator = inner
            .settings
            .preallocating()
            .then(|| spawn_worker(&inner, "weir-prealloc", pages::run))
            .transpose()?;
        tracing::info!(dir = %dir.display(), shards = report.shards, segments = report.segments, records = report.records,
            truncated_bytes = report.truncated_bytes, replayed_bytes = report.replayed_bytes, elapsed_ms = report.elapsed.as_millis() as u64, "storage recovered");
        Ok((
            LocalLog {
                inner,
                committer: Mutex::new(committer),
                preallocator: Mutex::new(preallocator),
                checkpointer: Mutex::new(checkpointer),
            },
            report,
        ))
    }

    /// Rounds of syncs the commit thread has run (each covers every shard queued at its start).
    pub fn sync_rounds(&self) -> u64 {
        self.inner.sync_rounds.load(Ordering::Relaxed)
    }

    /// Rounds the commit thread made durable through the commit log (one sync for all their
    /// shards) rather than by syncing each shard's segment.
    pub fn log_rounds(&self) -> u64 {
        self.inner.log_rounds.load(Ordering::Relaxed)
    }

    /// Refuse appends (with a retryable error) while the data file system has fewer than
    /// `bytes` available, so that metadata and recovery keep room; 0 turns the guard off.
    pub fn set_min_free_bytes(&self, bytes: u64) {
        self.inner.space.set_min_free(bytes);
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Stops taking appends, makes everything written durable, and joins the commit thread.
    /// Idempotent; dropping the store does the same.
    pub fn close(&self) -> Result<()> {
        self.inner.closed.store(true, Ordering::SeqCst);
        {
            let mut q = self.inner.queue.lock();
            q.shutdown = true;
            self.inner.wake.notify_all();
        }
        if let Some(handle) = self.committer.lock().take() {
            if handle.join().is_err() {
                tracing::error!("the commit thread panicked");
            }
        }
        if let Some(log) = &self.inner.log {
            log.shut_down();
        }
        if let Some(handle) = self.checkpointer.lock().take() {
            if handle.join().is_err() {
                tracing::error!("the checkpoint thread panicked");
            }
        }
        {
            let mut q = self.inner.prealloc.lock();
            q.shutdown = true;
            self.inner.prealloc_wake.notify_all();
        }
        if let Some(handle) = self.preallocator.lock().take() {
            if handle.join().is_err() {
                tracing::error!("the preallocation thread panicked");
            }
        }
        // Rolls whose cut and index the preallocation thread did not get to.
        let shards: Vec<Arc<Shard>> = self.inner.shards.read().values().cloned().collect();
        for shard in shards {
            shard.finish_sealing();
        }
        self.inner.sync_all()
    }

    /// Test hook: every round the commit log can take goes through it, however closely rounds
    /// follow each other (a loaded machine can make a test's rounds look back to back).
    #[doc(hidden)]
    pub fn log_every_round(&self) {
        self.inner.log_always.store(true, Ordering::SeqCst);
    }

    /// Test hook: the next `n` fdatasync calls of the commit path fail with an I/O error.
    #[doc(hidden)]
    pub fn inject_sync_failures(&self, n: u32) {
        self.inner.fail_syncs.store(n, Ordering::SeqCst);
    }
}

impl Drop for LocalLog {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(error = %e, "final sync at shutdown failed");
        }
    }
}

impl Inner {
    fn shard(&self, key: ShardKey) -> Result<Arc<Shard>> {
        self.shards
            .read()
            .get(&key)
            .cloned()
            .ok_or(Error::NoSuchShard(key))
    }

    fn fault(&self) -> io::Result<()> {
        let n = self.fail_syncs.load(Ordering::SeqCst);
        if n > 0
            && self
                .fail_syncs
                .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            return Err(io::Error::other("injected fdatasync failure"));
        }
        Ok(())
    }

    fn shard_dir(&self, key: ShardKey) -> PathBuf {
        self.dir
            .join(format!("{:016x}", key.stream))
            .join(format!("{:08x}", key.shard))
    }

    fn create_shard(&self, key: ShardKey) -> Result<()> {
        if self.shards.read().contains_key(&key) {
            return Ok(());
        }
        let _one_at_a_time = self.create_lock.lock();
        if self.shards.read().contains_key(&key) {
            return Ok(());
        }
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        let dir = self.shard_dir(key);
        std::fs::create_dir_all(&dir)?;
        let seg = Segment::create(&dir, 0)?;
        if self.settings.durability != Durability::None {
            sync_dir(&dir)?;
            if let Some(stream_dir) = dir.parent() {
                sync_dir(stream_dir)?;
            }
            sync_dir(&self.dir)?;
        }
        let shard = Arc::new(Shard::new(key, dir, vec![Arc::new(seg)]));
        self.shards.write().insert(key, shard);
        Ok(())
    }

    fn append(&self, key: ShardKey, records: &[RecordIn<'_>]) -> Result<Appended> {
        let mut commit = Vec::with_capacity(1);
        let appended = self.write(key, records, &mut commit);
        self.enqueue(&commit);
        appended
    }

    fn append_all(&self, appends: &[(ShardKey, &[RecordIn<'_>])]) -> Vec<Result<Appended>> {
        let mut commit = Vec::with_capacity(appends.len());
        let out = appends
            .iter()
            .map(|(key, records)| self.write(*key, records, &mut commit))
            .collect();
        self.enqueue(&commit);
        out
    }

    /// Writes one shard's append, noting in `commit` the shard if it now needs a sync round.
    fn write(
        &self,
        key: ShardKey,
        records: &[RecordIn<'_>],
        commit: &mut Vec<Arc<Shard>>,
    ) -> Result<Appended> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        let shard = self.shard(key)?;
        if let Err(msg) = self.space.check() {
            self.faults.failure(true, &msg);
            return Err(Error::Io(io::Error::new(io::ErrorKind::StorageFull, msg)));
        }
        let now = self.clock.now_millis();
        with_encode_buf(|buf| {
            let mut enc = batch::encode_payload(buf, records).map_err(Error::Invalid)?;
            let (appended, queue) = match shard.append(&self.settings, now, &mut enc) {
                Ok(a) => a,
                Err(e) => {
                    if let Error::Io(io) = &e {
                        self.faults.failure(false, io);
                    }
                    return Err(e);
                }
            };
            if self.settings.durability == Durability::None {
                self.faults.success();
            }
            if queue.prealloc && self.settings.preallocating() {
                self.queue_prealloc(&shard);
            }
            if queue.commit {
                commit.push(shard);
            }
            Ok(appended)
        })
    }

    /// Notes the outcome of one shard's sync for the fault log.
    pub(crate) fn note_sync(&self, result: &io::Result<()>) {
        match result {
            Ok(()) => self.faults.success(),
            Err(e) => self.faults.failure(false, e),
        }
    }

    fn write_health(&self) -> WriteHealth {
        WriteHealth {
            refusing: self.space.check().err(),
            low_space_refusals: self.faults.low_space_refusals.load(Ordering::Relaxed),
            write_failures: self.faults.write_failures.load(Ordering::Relaxed),
            free_bytes: self.space.last_free(),
            segment_rounds: self.segment_round_times.snapshot(),
            log_rounds: self.log_round_times.snapshot(),
        }
    }

    fn delete_stream(&self, stream: u64) -> Result<()> {
        let removed: Vec<Arc<Shard>> = {
            let mut map = self.shards.write();
            let keys: Vec<ShardKey> = map.keys().filter(|k| k.stream == stream).copied().collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        for s in &removed {
            s.mark_deleted();
        }
        let dir = self.dir.join(format!("{stream:016x}"));
        if dir.exists() {
            // Renamed first so that a crash midway leaves a tombstone that start-up finishes off,
            // never a half-deleted stream that looks alive.
            let tomb = self.dir.join(format!("{stream:016x}.deleted"));
            std::fs::rename(&dir, &tomb)?;
            std::fs::remove_dir_all(&tomb)?;
        }
        Ok(())
    }

    fn trim(&self, key: ShardKey, before_millis: i64) -> Result<u64> {
        let (start, dropped) = self.shard(key)?.trim(before_millis)?;
        for seg in dropped {
            for path in [seg.path.clone(), seg.idx_path()] {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "could not delete a trimmed segment")
                    }
                }
            }
        }
        Ok(start)
    }

    fn sync_all(&self) -> Result<()> {
        let _round = self.rounds.lock();
        let shards: Vec<Arc<Shard>> = self.shards.read().values().cloned().collect();
        let mut first_err = None;
        for s in shards {
            if let Some(job) = s.begin_sync() {
                let r = job.sync(&|| Ok(()));
                self.note_sync(&r);
                if let Err(e) = &r {
                    first_err
                        .get_or_insert_with(|| Error::Io(io::Error::new(e.kind(), e.to_string())));
                }
                s.finish_sync(job, r, &self.settings, false);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl StreamStore for LocalLog {
    fn create_shard(&self, shard: ShardKey) -> Result<()> {
        self.inner.create_shard(shard)
    }

    fn append(&self, shard: ShardKey, records: &[RecordIn<'_>]) -> Result<Appended> {
        self.inner.append(shard, records)
    }

    fn append_all(&self, appends: &[(ShardKey, &[RecordIn<'_>])]) -> Vec<Result<Appended>> {
        self.inner.append_all(appends)
    }

    fn read(
        &self,
        shard: ShardKey,
        from_offset: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<ReadBatch> {
        self.inner
            .shard(shard)?
            .read(from_offset, max_records, max_bytes)
    }

    fn bounds(&self, shard: ShardKey) -> Result<ShardBounds> {
        self.inner.shard(shard)?.bounds()
    }

    fn offset_at_timestamp(&self, shard: ShardKey, at_millis: i64) -> Result<u64> {
        self.inner.shard(shard)?.offset_at_timestamp(at_millis)
    }

    fn watch_end(&self, shard: ShardKey) -> Result<tokio::sync::watch::Receiver<u64>> {
        Ok(self.inner.shard(shard)?.end_tx.subscribe())
    }

    fn trim(&self, shard: ShardKey, before_millis: i64) -> Result<u64> {
        self.inner.trim(shard, before_millis)
    }

    fn seal(&self, shard: ShardKey) -> Result<u64> {
        self.inner.shard(shard)?.seal()
    }

    fn unseal(&self, shard: ShardKey) -> Result<()> {
        self.inner.shard(shard)?.state.lock().sealed = false;
        Ok(())
    }

    fn delete_stream(&self, stream: u64) -> Result<()> {
        self.inner.delete_stream(stream)
    }

    fn shards(&self) -> Vec<ShardKey> {
        let mut keys: Vec<ShardKey> = self.inner.shards.read().keys().copied().collect();
        keys.sort();
        keys
    }

    fn sync_all(&self) -> Result<()> {
        self.inner.sync_all()
    }

    fn write_health(&self) -> WriteHealth {
        self.inner.write_health()
    }
}

/// For the fuzz targets: decodes one batch from arbitrary bytes; returns its record count and
/// its records.
#[doc(hidden)]
pub fn fuzz_decode_batch(data: &[u8], fix_crc: bool) -> Result<(u64, Vec<crate::StoredRecord>)> {
    let mut raw = data.to_vec();
    if fix_crc {
        batch::fix_crc(&mut raw);
    }
    batch::decode_batch(&bytes::Bytes::from(raw))
        .map(|(h, records)| (h.record_count as u64, records))
        .map_err(|e| Error::Invalid(format!("{e:?}")))
}
