//! The commit log: one file through which a commit round makes several shards' appends durable
//! with one write and one `fdatasync`, instead of one `fdatasync` per shard's segment.
//!
//! Every `fdatasync` ends in a device cache flush, and flushes in flight together cost more
//! than one: measured on the 2-core VM, 4 × 125 KiB segments synced in parallel p50 1.33 ms,
//! p90 2.7 ms, where the same bytes written to the segments' page cache plus one 500 KiB
//! log write and sync took p50 1.05 ms, p90 1.95 ms. So a round of several shards, each with
//! its bytes already in its segment, copies those bytes into the log as one record per shard and
//! syncs the log only; the segments are synced by the checkpoint thread before the log space is
//! reused. Rounds
//! the log cannot take (too large, a single shard, a commit thread that is never idle, no free
//! file) sync the segments as before; under sustained load the copy would cost throughput, so
//! only a round that found no appends waiting when the previous one ended uses the log.
//!
//! It is off by default ([`LocalLogOptions::commit_log_bytes`] 0), because end to end it has
//! not yet shown a gain. A logged round writes its records with one `pwritev` straight from the
//! appends' own buffers (each shard keeps its batches from the durable end on while the log is
//! on), so nothing is read back. Measured in the paced benchmark (10,000 records/s, 500 per call,
//! 4 shards, `weir_storage_commit_round_milliseconds` in `/metrics`): log rounds mean 0.82 ms,
//! 90% within 1 ms and 99.7% within 2 ms, against 1.02–1.08 ms, 62–64% and 97% for rounds that
//! sync four segments. Put→get p99 did not follow, because on the benchmark's VM it is set by
//! stalls of the host (`bench/cpu-check`), not by the round. Writing the log with `O_DIRECT`
//! was measured and does not help on this disk (no FUA: the direct write and the flush are two
//! round trips, as writeback and flush are; `bench/disk-check` p50 0.95–1.35 ms direct against
//! 0.64–1.10 ms buffered one day, and the reverse on another).
//!
//! ## Files
//!
//! `<dir>/commit-0.wal` and `<dir>/commit-1.wal`, [`LocalLogOptions::commit_log_bytes`] each,
//! zero-filled and synced once (by the checkpoint thread, at first start) so that a sync never
//! changes a file's size or allocates. The writer fills one from its start; when a round does
//! not fit it moves to the other, if that one's checkpoint is done, and asks for a checkpoint of
//! the one it left: every shard's active segment is synced up to its durable end, after which
//! nothing in the left file is needed any more.
//!
//! ## Records
//!
//! ```text
//!   0  magic         4   b"WLOG"
//!   4  crc32c        4   over bytes 8..48
//!   8  seq           8   one more than the record before it, across both files
//!  16  stream        8
//!  24  shard         4
//!  28  len           4   bytes of batches that follow
//!  32  segment base  8   the segment the batches are in
//!  40  pos           8   where in it they start
//!  48  batches     len   exactly as written in the segment (each carries its own CRC)
//! ```
//!
//! A file is read from its start for as long as records follow one another: the first record
//! whose header fails, or whose seq does not follow, ends it. What is left of an earlier pass
//! through a file never reads as a continuation: within a run of the store seqs only grow, and
//! a store starts its seqs more than two files' worth of records past the highest it read, so
//! not even the valid records of a torn round behind the end of the run can follow on. A
//! round whose write or sync fails is overwritten with zeros (and synced) before the log takes
//! another, so that appends reported failed cannot come back at the next start; if even that
//! fails, the store stops using the log until it restarts.
//!
//! ## Recovery
//!
//! Start-up reads both files and hands each shard its records in seq order; recovery applies
//! them to the shard's tail segment append-only (see [`super::recovery`]): a batch that lies
//! below the segment's valid end is already there, one that starts exactly at it and carries
//! the next offset is written, anything else ends that record. Replay therefore never
//! overwrites data, and replaying a record twice, or one whose segment was synced long ago, is
//! a no-op. Sealed segments need nothing: a roll syncs a segment before the next one starts.

use super::{Inner, Settings};
use crate::{Durability, ShardKey};
use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MAGIC: [u8; 4] = *b"WLOG";
pub(crate) const HEADER_LEN: usize = 48;
/// Files are zero-filled this much at a time.
const ZERO_PIECE: usize = 1 << 20;
/// A file is only prepared while the file system has this many times its size free: on a small
/// disk the log's fixed footprint would cost more room than its syncs are worth.
const ROOM_FACTOR: u64 = 64;

fn file_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("commit-{i}.wal"))
}

/// One record read back at start-up.
pub(crate) struct LogRecord {
    pub seq: u64,
    pub segment_base: u64,
    pub pos: u64,
    pub batches: Bytes,
}

/// What the commit log holds, per shard in seq order.
#[derive(Default)]
pub(crate) struct LogContents {
    pub shards: HashMap<ShardKey, Vec<LogRecord>>,
    /// The seq the next record gets.
    pub next_seq: u64,
}

/// Reads both files (either may be missing).
pub(crate) fn read(dir: &Path) -> io::Result<LogContents> {
    let mut out = LogContents::default();
    for i in 0..2 {
        let buf = match std::fs::read(file_path(dir, i)) {
            Ok(b) => Bytes::from(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for (key, rec) in records(&buf) {
            out.next_seq = out.next_seq.max(rec.seq + 1);
            out.shards.entry(key).or_default().push(rec);
        }
    }
    for recs in out.shards.values_mut() {
        recs.sort_by_key(|r| r.seq);
    }
    Ok(out)
}

/// The run of records from the start of one file's bytes.
fn records(buf: &Bytes) -> Vec<(ShardKey, LogRecord)> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut expect: Option<u64> = None;
    while buf.len() - at >= HEADER_LEN {
        let h = &buf[at..at + HEADER_LEN];
        if h[0..4] != MAGIC || u32_at(h, 4) != crc32c::crc32c(&h[8..]) {
            break;
        }
        let seq = u64_at(h, 8);
        if expect.is_some_and(|e| e != seq) {
            break;
        }
        let len = u32_at(h, 28) as usize;
        let start = at + HEADER_LEN;
        if buf.len() - start < len {
            break;
        }
        let key = ShardKey {
            stream: u64_at(h, 16),
            shard: u32_at(h, 24),
        };
        out.push((
            key,
            LogRecord {
                seq,
                segment_base: u64_at(h, 32),
                pos: u64_at(h, 40),
                batches: buf.slice(start..start + len),
            },
        ));
        expect = Some(seq + 1);
        at = start + len;
    }
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Removes the files of a store that no longer uses the log (recovery has applied them).
pub(crate) fn remove(dir: &Path) -> io::Result<()> {
    let mut removed = false;
    for i in 0..2 {
        match std::fs::remove_file(file_path(dir, i)) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if removed {
        super::sync_dir(dir)?;
    }
    Ok(())
}

/// Whether a store with these settings writes through the log.
pub(crate) fn enabled(s: &Settings) -> bool {
    s.options.commit_log_bytes > 0 && s.durability == Durability::Fsync
}

/// The two files, shared by the commit thread (which writes them) and the checkpoint thread
/// (which prepares and frees them).
pub(crate) struct LogFiles {
    dir: PathBuf,
    file_bytes: u64,
    /// One past the highest seq start-up read.
    read_seq: u64,
    files: [File; 2],
    /// The writer may (re)start the file from its beginning: it is prepared (written in full
    /// and synced) and nothing in it is needed any more.
    free: [AtomicBool; 2],
    tasks: Mutex<Tasks>,
    wake: Condvar,
}

#[derive(Default)]
struct Tasks {
    prepare: [bool; 2],
    checkpoint: Option<usize>,
    shutdown: bool,
}

impl LogFiles {
    /// Opens (creating) both files. Ones of the wrong size are left for the checkpoint thread
    /// to zero-fill; until then the writer does without them. Recovery has already applied
    /// whatever they held, up to seq `read_seq`.
    pub fn open(dir: &Path, file_bytes: u64, read_seq: u64) -> io::Result<LogFiles> {
        let mut tasks = Tasks::default();
        let open = |i: usize| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(file_path(dir, i))
        };
        let files = [open(0)?, open(1)?];
        let free = [AtomicBool::new(false), AtomicBool::new(false)];
        let mut reused = false;
        for i in 0..2 {
            if files[i].metadata()?.len() == file_bytes {
                // Its preparation may have been cut short before its syncs.
                files[i].sync_all()?;
                reused = true;
                free[i].store(true, Ordering::SeqCst);
            } else {
                tasks.prepare[i] = true;
            }
        }
        if reused {
            super::sync_dir(dir)?;
        }
        Ok(LogFiles {
            dir: dir.to_path_buf(),
            file_bytes,
            read_seq,
            files,
            free,
            tasks: Mutex::new(tasks),
            wake: Condvar::new(),
        })
    }

    pub fn shut_down(&self) {
        self.tasks.lock().shutdown = true;
        self.wake.notify_all();
    }

    /// Zero-fills file `i` and syncs it; `Ok(false)` if the disk has too little room for it.
    fn prepare(&self, i: usize) -> io::Result<bool> {
        let s = rustix::fs::statvfs(&self.dir)?;
        let free = s.f_bavail.saturating_mul(s.f_frsize);
        if free < self.file_bytes.saturating_mul(ROOM_FACTOR) {
            tracing::info!(
                free_bytes = free,
                "too little disk space for the commit log; commit rounds sync their segments"
            );
            return Ok(false);
        }
        let f = &self.files[i];
        f.set_len(0)?;
        let zeros = vec![0u8; ZERO_PIECE];
        let mut at = 0u64;
        while at < self.file_bytes {
            let n = (self.file_bytes - at).min(ZERO_PIECE as u64) as usize;
            if let Err(e) = f.write_all_at(&zeros[..n], at) {
                // Give the room back (a full disk, most likely).
                let _ = f.set_len(0);
                return Err(e);
            }
            at += n as u64;
        }
        f.sync_all()?;
        super::sync_dir(&self.dir)?;
        Ok(true)
    }
}

/// The commit thread's end of the log.
pub(crate) struct CommitLog {
    files: Arc<LogFiles>,
    current: Option<usize>,
    /// The file just left, whose checkpoint is yet to be asked for.
    left: Option<usize>,
    cursor: u64,
    seq: u64,
    buf: Vec<u8>,
    /// A failed round could not be wiped: no more rounds go through the log.
    broken: bool,
}

/// One shard's share of a logged round: `batches`, which lie from `pos` on in the segment
/// whose base offset is `segment_base`.
pub(crate) struct LogRange<'a> {
    pub key: ShardKey,
    pub segment_base: u64,
    pub pos: u64,
    pub batches: &'a [Bytes],
}

impl LogRange<'_> {
    /// Bytes of batches.
    pub fn len(&self) -> u64 {
        self.batches.iter().map(|b| b.len() as u64).sum()
    }
}

impl CommitLog {
    /// A writer whose seqs start two files' worth of records past what start-up read.
    pub fn new(files: Arc<LogFiles>) -> CommitLog {
        let per_file = files.file_bytes / HEADER_LEN as u64;
        let read_seq = files.read_seq;
        CommitLog {
            files,
            current: None,
            left: None,
            cursor: 0,
            seq: read_seq + 2 * per_file + 1,
            buf: Vec::new(),
            broken: false,
        }
    }

    /// The largest round the log takes; larger ones sync their segments.
    pub fn round_limit(&self) -> u64 {
        self.files.file_bytes / 4
    }

    /// Writes one record per range and syncs the log once. `None`: the log has no room (the
    /// other file's checkpoint is not done); the caller syncs the segments instead. After an
    /// error nothing advances, so the next round overwrites the failed one in place.
    pub fn write(
        &mut self,
        ranges: &[LogRange<'_>],
        fault: &dyn Fn() -> io::Result<()>,
    ) -> Option<io::Result<()>> {
        if self.broken {
            return None;
        }
        let total: u64 = ranges.iter().map(|r| HEADER_LEN as u64 + r.len()).sum();
        let file = self.room_for(total)?;
        let result = self.write_at(file, ranges, total, fault);
        if result.is_err() {
            self.wipe(file, total);
        }
        // Asked for only now, so that the checkpoint's syncs do not compete with this round's.
        if let Some(left) = self.left.take() {
            self.files.tasks.lock().checkpoint = Some(left);
            self.files.wake.notify_all();
        }
        Some(result)
    }

    /// The file to write `total` bytes to at the cursor, moving to the other one if need be.
    fn room_for(&mut self, total: u64) -> Option<usize> {
        let bytes = self.files.file_bytes;
        if total > bytes {
            return None;
        }
        if let Some(c) = self.current {
            if self.cursor + total <= bytes {
                return Some(c);
            }
        }
        let next = match self.current {
            Some(c) => 1 - c,
            None => usize::from(!self.files.free[0].load(Ordering::SeqCst)),
        };
        if !self.files.free[next].swap(false, Ordering::SeqCst) {
            return None;
        }
        self.left = self.current;
        self.current = Some(next);
        self.cursor = 0;
        Some(next)
    }

    /// Overwrites a failed round with zeros, so that none of its records can be read back.
    fn wipe(&mut self, file: usize, total: u64) {
        let f = &self.files.files[file];
        self.buf.clear();
        self.buf.resize(total as usize, 0);
        if let Err(e) = f
            .write_all_at(&self.buf, self.cursor)
            .and_then(|()| f.sync_data())
        {
            tracing::error!(error = %e, "could not wipe a failed commit-log round; rounds sync their segments from now on");
            self.broken = true;
        }
    }

    fn write_at(
        &mut self,
        file: usize,
        ranges: &[LogRange<'_>],
        total: u64,
        fault: &dyn Fn() -> io::Result<()>,
    ) -> io::Result<()> {
        // The headers, one after another; the batches are written from the shards' buffers.
        let headers = &mut self.buf;
        headers.clear();
        headers.resize(ranges.len() * HEADER_LEN, 0);
        for (i, (r, h)) in ranges
            .iter()
            .zip(headers.chunks_exact_mut(HEADER_LEN))
            .enumerate()
        {
            h[0..4].copy_from_slice(&MAGIC);
            h[8..16].copy_from_slice(&(self.seq + i as u64).to_le_bytes());
            h[16..24].copy_from_slice(&r.key.stream.to_le_bytes());
            h[24..28].copy_from_slice(&r.key.shard.to_le_bytes());
            h[28..32].copy_from_slice(&(r.len() as u32).to_le_bytes());
            h[32..40].copy_from_slice(&r.segment_base.to_le_bytes());
            h[40..48].copy_from_slice(&r.pos.to_le_bytes());
            let crc = crc32c::crc32c(&h[8..]);
            h[4..8].copy_from_slice(&crc.to_le_bytes());
        }
        let mut parts = Vec::with_capacity(ranges.iter().map(|r| 1 + r.batches.len()).sum());
        for (r, h) in ranges.iter().zip(headers.chunks_exact(HEADER_LEN)) {
            parts.push(IoSlice::new(h));
            parts.extend(r.batches.iter().map(|b| IoSlice::new(b)));
        }
        let f = &self.files.files[file];
        write_all_vectored_at(f, &mut parts, self.cursor)?;
        fault()?;
        f.sync_data()?;
        self.cursor += total;
        self.seq += ranges.len() as u64;
        Ok(())
    }
}

/// Writes every slice at `offset` on, with as few `pwritev` calls as the kernel allows.
fn write_all_vectored_at(f: &File, parts: &mut [IoSlice<'_>], mut offset: u64) -> io::Result<()> {
    // At most IOV_MAX (1024 on Linux) slices a call.
    const MAX_SLICES: usize = 1024;
    let mut parts = parts;
    while !parts.is_empty() {
        let n = parts.len().min(MAX_SLICES);
        let written = match rustix::io::pwritev(f, &parts[..n], offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(w) => w,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        offset += written as u64;
        IoSlice::advance_slices(&mut parts, written);
    }
    Ok(())
}

/// The checkpoint thread: zero-fills files that need it, and frees a file the writer left once
/// every shard's active segment is synced up to its durable end.
pub(crate) fn run(inner: Arc<Inner>) {
    let Some(files) = inner.log.clone() else {
        return;
    };
    loop {
        let (prepare, checkpoint) = {
            let mut t = files.tasks.lock();
            while !t.shutdown && !t.prepare.contains(&true) && t.checkpoint.is_none() {
                files.wake.wait(&mut t);
            }
            if t.shutdown {
                return;
            }
            (std::mem::take(&mut t.prepare), t.checkpoint.take())
        };
        for (i, _) in prepare.iter().enumerate().filter(|(_, p)| **p) {
            match files.prepare(i) {
                Ok(true) => files.free[i].store(true, Ordering::SeqCst),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not prepare a commit-log file; rounds sync their segments instead")
                }
            }
        }
        if let Some(i) = checkpoint {
            checkpoint_until_done(&inner, &files, i);
        }
    }
}

/// Syncs every shard's active segment up to its durable end, retrying failures, then frees
/// file `i`.
fn checkpoint_until_done(inner: &Inner, files: &LogFiles, i: usize) {
    loop {
        let shards: Vec<_> = inner.shards.read().values().cloned().collect();
        let mut failed = None;
        for s in shards {
            if let Err(e) = s.checkpoint() {
                failed = Some(e);
            }
        }
        let Some(e) = failed else {
            files.free[i].store(true, Ordering::SeqCst);
            return;
        };
        inner.note_sync(&Err(e));
        let mut t = files.tasks.lock();
        if t.shutdown {
            return;
        }
        files.wake.wait_for(&mut t, Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, shard: u32, batches: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC);
        h[8..16].copy_from_slice(&seq.to_le_bytes());
        h[16..24].copy_from_slice(&7u64.to_le_bytes());
        h[24..28].copy_from_slice(&shard.to_le_bytes());
        h[28..32].copy_from_slice(&(batches.len() as u32).to_le_bytes());
        h[40..48].copy_from_slice(&(100 * seq).to_le_bytes());
        let crc = crc32c::crc32c(&h[8..]);
        h[4..8].copy_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(batches);
        h
    }

    fn seqs(buf: Vec<u8>) -> Vec<u64> {
        records(&Bytes::from(buf))
            .iter()
            .map(|(_, r)| r.seq)
            .collect()
    }

    #[test]
    fn a_file_reads_as_the_run_of_records_from_its_start() {
        let mut buf = [record(5, 0, b"abc"), record(6, 1, b""), record(7, 0, b"xy")].concat();
        let parsed = records(&Bytes::from(buf.clone()));
        assert_eq!(parsed.len(), 3);
        assert_eq!(
            parsed[0].0,
            ShardKey {
                stream: 7,
                shard: 0
            }
        );
        assert_eq!(&parsed[2].1.batches[..], b"xy");
        assert_eq!(parsed[2].1.pos, 700);
        // What an earlier pass left behind: lower seqs, then zeros.
        buf.extend(record(3, 0, b"old"));
        buf.extend([0u8; 100]);
        assert_eq!(seqs(buf.clone()), vec![5, 6, 7]);
        // A torn header ends the run there.
        let second = HEADER_LEN + 3;
        buf[second + 9] ^= 1;
        assert_eq!(seqs(buf.clone()), vec![5]);
        // So does a record whose batches run past the end of the file.
        let one = record(9, 0, b"abcdef");
        assert!(seqs(one[..one.len() - 1].to_vec()).is_empty());
        assert!(seqs(Vec::new()).is_empty());
    }
}
