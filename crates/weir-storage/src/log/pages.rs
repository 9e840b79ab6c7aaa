//! What the log does about the file system under its tail: zero-filled preallocation ahead of
//! the write position, and handing the page cache of cold log back to the kernel.
//!
//! ## Preallocation
//!
//! An `fdatasync` of an append that grows its file must also commit the file's new size and
//! block allocation through the file system's journal; one that overwrites blocks that are
//! already allocated, written and durable is only a data flush. (`fallocate` does not help on
//! ext4: it leaves *unwritten* extents whose conversion is again a journal commit.) So one
//! background thread per store, `weir-prealloc`, keeps each active segment written with zeros
//! and synced [`LocalLogOptions::preallocate_bytes`](super::LocalLogOptions) past its write
//! position (never past `segment_bytes`). Appends then overwrite zeros; one that outruns the
//! thread simply grows the file, as without preallocation. In fsync mode a shard that needs
//! zeros is handed to the thread only after the commit round of the append that noticed it, so
//! that the zeros' writeback and journal commit fall between rounds instead of into one.
//!
//! The zeros are written only at or past the shard's write position, so they can never land on
//! data: the thread reserves a piece under the shard's lock (`ShardState::zeroing`) and writes
//! it outside, and an append that would reach a reserved piece, or anything that cuts the file,
//! waits for it. The write is outside the lock because the first write to a fresh page-cache
//! page can take milliseconds on a virtual machine (below), and under the lock that stalled the
//! shard's appends and reads with it (measured: 0.5–1 ms per 256 KiB piece, up to 13 ms).
//!
//! ## Rolling ahead
//!
//! Sealing a segment cuts its zero tail, syncs it, writes its index, creates the next file and
//! syncs the directory: 1–3.5 ms, measured, and it used to run inside the append that found the
//! segment full, so that one put in every few hundred of the paced benchmark waited for it. An
//! append that leaves less than [`roll_ahead_bytes`] free queues the shard here instead, and
//! this thread rolls the segment on its next visit (after the commit round in fsync mode); an
//! append that still finds the segment full rolls it itself. Under the lock a roll now only
//! syncs the sealed segment if the last commit round left anything of it unsynced, and creates
//! the next file (readers and appends of the shard waited for the rest too, 2–4 ms with all
//! four shards of the benchmark rolling within two seconds of each other). The cut and the
//! index follow outside the lock, on the same visit or, after an append's roll, on the next
//! ([`Shard::finish_sealing`]), and the new file's directory entry is synced by its first
//! commit round, before any record in it counts as durable.
//!
//! Recovery reads a tail of zeros after the last batch as the end of data and keeps it (see
//! [`super::recovery`]); a sealed segment with one, left by a crash before its cut reached the
//! disk, is cut there.
//!
//! ## Page cache
//!
//! On a virtual machine whose free memory is handed back to the host (free-page reporting,
//! ballooning), the first write to a page-cache page that was never used costs the host a page
//! fault, which makes `pwrite` into fresh pages an order of magnitude slower than into pages
//! the guest already holds (measured on the project machine: ~0.4 GB/s against ~4–5 GB/s).
//! Left alone, a log that only appends takes a fresh page for every 4 KiB it writes. So after
//! each sync the store hands back the pages of durable log more than
//! [`LocalLogOptions::cached_tail_bytes`](super::LocalLogOptions) behind a shard's end
//! (`posix_fadvise(DONTNEED)`, which drops clean pages only); the next appends reuse them.
//! Consumers near the tail still read from memory; older reads go to disk.

use super::segment::Segment;
use super::shard::{Shard, ShardState};
use super::{Inner, Settings};
use std::io;
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Zeros are written in pieces of this size, each under the shard lock.
pub(crate) const ZERO_PIECE: usize = 256 << 10;
static ZEROS: [u8; ZERO_PIECE] = [0; ZERO_PIECE];

/// Page-cache releases smaller than this wait for more (one syscall per MiB, not per append).
const RELEASE_MIN: u64 = 1 << 20;

#[derive(Default)]
pub(crate) struct PreallocQueue {
    pub shards: Vec<Arc<Shard>>,
    pub shutdown: bool,
}

/// The preallocation thread: zero-fills queued shards until shutdown.
pub(crate) fn run(inner: Arc<Inner>) {
    let mut batch = Vec::new();
    loop {
        {
            let mut q = inner.prealloc.lock();
            while q.shards.is_empty() && !q.shutdown {
                inner.prealloc_wake.wait(&mut q);
            }
            if q.shutdown {
                return;
            }
            std::mem::swap(&mut q.shards, &mut batch);
        }
        for shard in batch.drain(..) {
            // An append may ask for a roll after this visit passed that point: one more visit
            // then (not more: a roll that keeps failing is left to the appends).
            for _ in 0..2 {
                if let Err(e) = shard.preallocate(&inner.settings) {
                    tracing::debug!(shard = ?shard.key, error = %e, "preallocating a segment failed");
                }
                if !shard.state.lock().roll_ahead {
                    break;
                }
            }
        }
    }
}

impl Inner {
    pub(crate) fn queue_prealloc(&self, shard: &Arc<Shard>) {
        let mut q = self.prealloc.lock();
        q.shards.push(shard.clone());
        self.prealloc_wake.notify_one();
    }
}

/// Writes zeros over `[from, to)` of `seg`.
pub(crate) fn write_zeros(seg: &Segment, from: u64, to: u64) -> std::io::Result<()> {
    let mut pos = from;
    while pos < to {
        let n = ((to - pos) as usize).min(ZERO_PIECE);
        seg.file.write_all_at(&ZEROS[..n], pos)?;
        pos += n as u64;
    }
    Ok(())
}

/// Whether `[from, to)` of `seg` holds only zeros.
pub(crate) fn is_zero(seg: &Segment, from: u64, to: u64) -> std::io::Result<bool> {
    let mut buf = vec![0u8; ZERO_PIECE];
    let mut pos = from;
    while pos < to {
        let n = ((to - pos) as usize).min(ZERO_PIECE);
        seg.file.read_exact_at(&mut buf[..n], pos)?;
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        pos += n as u64;
    }
    Ok(true)
}

/// Hands `[from, to)` of `seg`'s page cache back to the kernel (clean pages only).
pub(crate) fn release(seg: &Segment, from: u64, to: u64) {
    let Some(len) = NonZeroU64::new(to.saturating_sub(from)) else {
        return;
    };
    match rustix::fs::fadvise(&seg.file, from, Some(len), rustix::fs::Advice::DontNeed) {
        Ok(()) => seg.released_to.fetch_max(to, Ordering::Relaxed),
        Err(e) => {
            tracing::debug!(path = %seg.path.display(), error = %e, "posix_fadvise failed");
            0
        }
    };
}

/// The page-cache ranges of a shard's segments (newest last) that lie more than `keep` bytes
/// behind `tail_pos`, the durable end in the newest segment, and are not yet released.
pub(crate) fn cold_ranges(
    segments: &[Arc<Segment>],
    tail_pos: u64,
    keep: u64,
) -> Vec<(Arc<Segment>, u64, u64)> {
    let mut out = Vec::new();
    let mut newer = 0u64;
    for (i, seg) in segments.iter().enumerate().rev() {
        let sealed = i + 1 < segments.len();
        let len = if sealed {
            seg.meta.read().len
        } else {
            tail_pos
        };
        let released = seg.released_to.load(Ordering::Relaxed);
        if sealed && released >= len {
            break;
        }
        let warm = keep.saturating_sub(newer);
        let cold_end = len.saturating_sub(warm);
        let whole = sealed && cold_end == len;
        if cold_end > released && (whole || cold_end - released >= RELEASE_MIN) {
            out.push((seg.clone(), released, cold_end));
        }
        newer += len;
    }
    out
}

/// How close to `segment_bytes` the active segment may get before the preallocation thread
/// rolls it: a sixteenth of a segment, so segments still end within 94 % of their size.
pub(crate) fn roll_ahead_bytes(s: &Settings) -> u64 {
    s.options.segment_bytes / 16
}

/// Whether an append ending at `write_end` leaves the segment close enough to full to be rolled
/// ahead (only where the preallocation thread runs).
pub(crate) fn should_roll_ahead(s: &Settings, write_end: u64) -> bool {
    s.preallocating() && write_end + roll_ahead_bytes(s) > s.options.segment_bytes
}

impl Shard {
    /// Rolls the active segment if an append asked for it and it is still close to full.
    fn roll_ahead(&self, s: &Settings) {
        let mut st = self.state.lock();
        if !std::mem::take(&mut st.roll_ahead) || st.deleted || st.poisoned() || st.sealed {
            return;
        }
        let Some(len) = st.segments.last().map(|a| a.meta.read().len) else {
            return;
        };
        if len > 0 && should_roll_ahead(s, len) {
            if let Err(e) = self.roll(&mut st, s) {
                // The append that finds the segment full rolls it (and reports the error).
                tracing::debug!(shard = ?self.key, error = %e, "rolling a segment ahead failed");
            }
        }
    }

    /// Zero-fills the active segment up to `preallocate_bytes` past its write position (never
    /// past `segment_bytes`), then syncs it so that the zeros' blocks and the file size are
    /// durable before appends reach them. Run by the preallocation thread.
    pub fn preallocate(&self, s: &Settings) -> io::Result<()> {
        self.roll_ahead(s);
        self.finish_sealing();
        let mut written: Option<Arc<Segment>> = None;
        let result = loop {
            // Piece by piece, each reserved under the lock at or past the write position and
            // written outside it.
            let mut st = self.state.lock();
            if st.deleted || st.poisoned() || st.sealed {
                break Ok(());
            }
            let Some(seg) = st.segments.last().cloned() else {
                break Ok(());
            };
            if written.as_ref().is_some_and(|w| !Arc::ptr_eq(w, &seg)) {
                break Ok(()); // rolled meanwhile; the next append queues the new segment
            }
            let pos = seg.meta.read().len;
            let target = (pos + s.options.preallocate_bytes).min(s.options.segment_bytes);
            let start = st.zeroed_to.max(pos);
            if start >= target {
                break Ok(());
            }
            let end = (start + ZERO_PIECE as u64).min(target);
            st.zeroing = Some(start);
            drop(st);
            let wrote = write_zeros(&seg, start, end);
            let mut st = self.state.lock();
            st.zeroing = None;
            self.zeros_written.notify_all();
            if let Err(e) = wrote {
                break Err(e);
            }
            // Nothing could cut or roll the segment meanwhile (they wait for the piece).
            st.zeroed_to = end;
            written = Some(seg);
        };
        let synced = match &written {
            Some(seg) => seg.file.sync_data(),
            None => Ok(()),
        };
        self.state.lock().prealloc_queued = false;
        result.and(synced)
    }
}

/// Whether the active segment should be zero-filled further: preallocation is on and the zeros
/// end less than half of `preallocate_bytes` past `write_end` (and short of `segment_bytes`).
pub(crate) fn needs_zeros(st: &ShardState, s: &Settings, write_end: u64) -> bool {
    let ahead = s.options.preallocate_bytes;
    s.preallocating()
        && !st.sealed
        && st.zeroed_to < (write_end + ahead / 2).min(s.options.segment_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn segment(dir: &std::path::Path, base: u64, len: u64) -> Arc<Segment> {
        let seg = Segment::create(dir, base).unwrap();
        seg.meta.write().len = len;
        Arc::new(seg)
    }

    #[test]
    fn cold_ranges_keep_the_tail_warm_and_release_each_range_once() {
        let dir = tempfile::tempdir().unwrap();
        let segs = vec![
            segment(dir.path(), 0, 10 * MIB),
            segment(dir.path(), 100, 10 * MIB),
            segment(dir.path(), 200, 0),
        ];
        let spans = |tail, keep| -> Vec<(u64, u64, u64)> {
            cold_ranges(&segs, tail, keep)
                .into_iter()
                .map(|(s, from, to)| (s.base_offset, from, to))
                .collect()
        };
        // 8 MiB kept behind a tail 3 MiB into the active segment: 5 MiB of the segment before
        // it stay warm, the oldest goes whole.
        assert_eq!(
            spans(3 * MIB, 8 * MIB),
            vec![(100, 0, 5 * MIB), (0, 0, 10 * MIB)]
        );
        for (seg, from, to) in cold_ranges(&segs, 3 * MIB, 8 * MIB) {
            release(&seg, from, to);
        }
        // Released ranges are not released again; less than a MiB more waits.
        assert_eq!(spans(3 * MIB + 1000, 8 * MIB), vec![]);
        assert_eq!(
            spans(9 * MIB, 8 * MIB),
            vec![(200, 0, MIB), (100, 5 * MIB, 10 * MIB)]
        );
    }

    #[test]
    fn zeros_are_written_and_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let seg = segment(dir.path(), 0, 0);
        seg.file.write_all_at(b"data", 0).unwrap();
        write_zeros(&seg, 4, 4 + ZERO_PIECE as u64 + 10).unwrap();
        assert_eq!(seg.file.metadata().unwrap().len(), 14 + ZERO_PIECE as u64);
        assert!(is_zero(&seg, 4, 14 + ZERO_PIECE as u64).unwrap());
        assert!(!is_zero(&seg, 3, 14 + ZERO_PIECE as u64).unwrap());
    }
}
