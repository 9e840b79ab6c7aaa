//! One shard's log: its segments, its write position and its readable (durable) end.
//!
//! Invariants, all kept under `Shard::state`:
//! * `segments` is never empty, sorted by base offset, contiguous; the last one is active.
//! * `visible_end <= durable_end <= next_offset` in fsync mode (`visible_end == next_offset`
//!   otherwise); readers never look past `visible_end`, so they never see a batch that is only
//!   half written or not yet durable.
//! * `pending` holds, in offset order, the appends that wait for durability; each is resolved
//!   exactly once: `Ok` after an fdatasync covering it, `Err` if that sync failed (the bytes are
//!   then cut off again so that a later sync can never make them durable behind the caller's back).
//! * A sealed segment is fully synced before the next one is created (fsync and interval modes),
//!   so a crash can only tear the tail segment (whose logged part the commit log restores). Its
//!   preallocated zeros may still follow its last batch until `finish_sealing` cuts them;
//!   recovery cuts them too.
//! * `synced_pos <= durable_pos`: the active segment's own file is synced up to `synced_pos`;
//!   up to `durable_pos` the commit log holds the rest.
//! * No record of a segment a roll created is durable before the directory entry naming the
//!   file is ([`Segment::sync_data`] syncs both).
//! * The active segment's file holds only zeros from its write position to `zeroed_to` (or to
//!   its end, if shorter). Zeros are only ever written at or past the write position, into a
//!   range reserved under the lock (`zeroing`) and written outside it; nothing else writes to
//!   or cuts the file at or past a reserved range until it is released (see [`super::pages`]).

use super::batch::{self, BatchHeader, EncodedBatch};
use super::pages;
use super::segment::{Segment, SegmentReader};
use super::Settings;
use crate::{Appended, Durability, DurableWait, Error, ReadBatch, Result, ShardBounds, ShardKey};
use bytes::Bytes;
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::collections::VecDeque;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

pub(crate) struct Shard {
    pub key: ShardKey,
    pub dir: PathBuf,
    pub state: Mutex<ShardState>,
    pub end_tx: watch::Sender<u64>,
    /// Signalled when the preallocation thread releases its reserved range (`zeroing`).
    pub zeros_written: Condvar,
}

struct Pending {
    end: u64,
    millis: i64,
    tx: oneshot::Sender<Result<()>>,
}

pub(crate) struct ShardState {
    pub segments: Vec<Arc<Segment>>,
    pub next_offset: u64,
    pub last_millis: Option<i64>,
    pub visible_end: u64,
    pub visible_last_millis: Option<i64>,
    pub durable_end: u64,
    /// Position in the active segment up to which it is durable.
    pub durable_pos: u64,
    /// Position in the active segment up to which its own file is synced; what lies between
    /// here and `durable_pos` is durable through the commit log (see [`super::commit_log`]).
    pub synced_pos: u64,
    pending: VecDeque<Pending>,
    /// With the commit log on: the batches of the active segment from `durable_pos` on, each
    /// with its position, so that a logged round writes them from memory rather than reading
    /// them back from the segment.
    log_tail: VecDeque<(u64, Bytes)>,
    /// Segments written since their last sync.
    pub unsynced: Vec<Arc<Segment>>,
    /// Whether the shard sits in the commit queue.
    pub queued: bool,
    pub deleted: bool,
    /// Closed to appends by resharding (not persisted: the shard map records it).
    pub sealed: bool,
    /// Set when a failed write or sync could not be cut off the file again; appends are refused
    /// until a later append manages the cut (see [`Shard::heal`]).
    poisoned: Option<Poison>,
    /// Bumped by every roll-back, so that a sync taken before it cannot publish truncated bytes.
    epoch: u64,
    /// The active segment is written with zeros up to here (see [`super::pages`]).
    pub zeroed_to: u64,
    /// Start of the range the preallocation thread is writing zeros into, outside the lock
    /// (it ends at most one `ZERO_PIECE` later): writes that would reach it, and cuts of the
    /// file, wait until it is released.
    pub zeroing: Option<u64>,
    /// Whether the shard sits in the preallocation queue (or, with `zeros_after_sync`, is
    /// about to).
    pub prealloc_queued: bool,
    /// The shard needs zeros and goes to the preallocation queue after its next commit round
    /// (fsync mode): zero-filling megabytes and syncing them alongside the round that commits
    /// the very append which asked for them made that round wait for the zeros' writeback and
    /// journal commit — measured, 4–9 ms instead of ~1 ms for every eighth put of the paced
    /// benchmark, which was its whole put p99.
    pub zeros_after_sync: bool,
    /// The active segment is within [`pages::roll_ahead_bytes`] of full: the preallocation
    /// thread rolls it at its next visit, off the request path (see `pages`).
    pub roll_ahead: bool,
    /// Segments a roll sealed whose zero tail (if the flag says there is one) and index the
    /// preallocation thread has yet to see to ([`Shard::finish_sealing`]).
    pub sealing: Vec<(Arc<Segment>, bool)>,
}

impl ShardState {
    /// Whether appends are refused until a failed write or sync is cut off (see `heal`).
    pub fn poisoned(&self) -> bool {
        self.poisoned.is_some()
    }
}

/// Which background threads an append must hand its shard to.
pub(crate) struct Queue {
    pub commit: bool,
    pub prealloc: bool,
}

/// Why a shard refuses appends, and what cut makes it whole again.
struct Poison {
    reason: String,
    /// Cut back to the durable end (a failed sync) rather than to the end of the last whole
    /// batch (a failed write).
    to_durable: bool,
}

/// What one commit round syncs for a shard.
pub(crate) struct SyncJob {
    files: Vec<Arc<Segment>>,
    target_end: u64,
    /// The active segment's durable length when the job was taken, and its length.
    from_pos: u64,
    target_pos: u64,
    active_base: u64,
    epoch: u64,
    /// The batches of `[from_pos, target_pos)`, when the shard kept them all (see
    /// `ShardState::log_tail`).
    batches: Vec<Bytes>,
}

impl SyncJob {
    /// What the commit log must hold for this job to count as synced: the batches it adds to
    /// the active segment (whose base offset comes first), and where in it they start — when
    /// that is the only file it touches and the shard kept those batches.
    pub fn log_range(&self) -> Option<(u64, u64, &[Bytes])> {
        match self.files.as_slice() {
            [seg] if seg.base_offset == self.active_base && !self.batches.is_empty() => {
                Some((seg.base_offset, self.from_pos, &self.batches))
            }
            _ => None,
        }
    }

    pub fn sync(&self, fault: &dyn Fn() -> io::Result<()>) -> io::Result<()> {
        for seg in &self.files {
            fault()?;
            seg.sync_data()?;
        }
        Ok(())
    }
}

/// The kept batches that make up exactly `[from, to)` of the active segment, or none if they
/// do not (the log then cannot take the job, and its segment is synced instead).
fn covering(tail: &VecDeque<(u64, Bytes)>, from: u64, to: u64) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut at = from;
    for (pos, b) in tail {
        if at == to {
            break;
        }
        if *pos != at {
            return Vec::new();
        }
        out.push(b.clone());
        at += b.len() as u64;
    }
    if at == to {
        out
    } else {
        Vec::new()
    }
}

fn io_err(e: &io::Error, what: &str) -> Error {
    Error::Io(io::Error::new(e.kind(), format!("{what}: {e}")))
}

impl Shard {
    /// A shard over recovered (or freshly created) segments, everything on disk counting as
    /// durable.
    pub fn new(key: ShardKey, dir: PathBuf, segments: Vec<Arc<Segment>>) -> Shard {
        let (mut next_offset, mut last_millis) = (0, None);
        for s in &segments {
            let m = s.meta.read();
            next_offset = m.end_offset;
            last_millis = m.last_millis.or(last_millis);
        }
        let durable_pos = segments.last().map_or(0, |s| s.meta.read().len);
        // Recovery leaves the tail segment holding only zeros past its data.
        let zeroed_to = segments
            .last()
            .and_then(|s| s.file.metadata().ok())
            .map_or(durable_pos, |m| m.len().max(durable_pos));
        let (end_tx, _) = watch::channel(next_offset);
        Shard {
            key,
            dir,
            end_tx,
            zeros_written: Condvar::new(),
            state: Mutex::new(ShardState {
                segments,
                next_offset,
                last_millis,
                visible_end: next_offset,
                visible_last_millis: last_millis,
                durable_end: next_offset,
                durable_pos,
                synced_pos: durable_pos,
                pending: VecDeque::new(),
                log_tail: VecDeque::new(),
                unsynced: Vec::new(),
                queued: false,
                deleted: false,
                sealed: false,
                poisoned: None,
                epoch: 0,
                zeroed_to,
                zeroing: None,
                prealloc_queued: false,
                zeros_after_sync: false,
                roll_ahead: false,
                sealing: Vec::new(),
            }),
        }
    }

    /// Writes one encoded batch. Returns the append and which threads the shard must be queued
    /// for.
    pub fn append(
        &self,
        s: &Settings,
        now: i64,
        enc: &mut EncodedBatch<'_>,
    ) -> Result<(Appended, Queue)> {
        let mut st = self.state.lock();
        let batch_len = enc.buf.len() as u64;
        // A batch that would reach the zeros being written, or roll or heal the segment (both
        // cut the file), waits for them.
        while st.zeroing.is_some_and(|z| {
            let end = st.segments.last().map_or(0, |a| a.meta.read().len) + batch_len;
            st.poisoned.is_some() || end > z
        }) {
            self.zeros_written.wait(&mut st);
        }
        if st.deleted {
            return Err(Error::NoSuchShard(self.key));
        }
        if st.sealed {
            return Err(Error::Sealed(self.key));
        }
        if st.poisoned.is_some() {
            self.heal(&mut st)?;
        }
        let millis = st.last_millis.map_or(now, |l| l.max(now));
        let mut active = st
            .segments
            .last()
            .cloned()
            .ok_or(Error::NoSuchShard(self.key))?;
        let pos = active.meta.read().len;
        let pos = if pos > 0 && pos + batch_len > s.options.segment_bytes {
            active = self.roll(&mut st, s)?;
            0
        } else {
            pos
        };
        let base = st.next_offset;
        enc.seal(base, millis);
        if let Err(e) = active.file.write_all_at(enc.buf, pos) {
            // Drop a partial write so the file ends at the last whole batch; if even that fails
            // (a full or failing disk), refuse appends until a later one manages it.
            if let Err(te) = active.file.set_len(pos) {
                st.poisoned = Some(Poison {
                    reason: format!("shard {:?} is unwritable: a write failed ({e}) and cutting it off failed ({te})", self.key),
                    to_durable: false,
                });
            }
            return Err(io_err(&e, "writing a batch"));
        }
        let h = BatchHeader {
            crc: 0,
            base_offset: base,
            record_count: enc.record_count,
            first_millis: millis,
            last_millis: millis,
            payload_len: (enc.buf.len() - batch::HEADER_LEN) as u32,
        };
        active
            .meta
            .write()
            .note_batch(&h, pos, s.options.index_interval_bytes);
        let end = h.end_offset();
        st.next_offset = end;
        st.last_millis = Some(millis);
        if !st.unsynced.last().is_some_and(|u| Arc::ptr_eq(u, &active)) {
            st.unsynced.push(active);
        }
        if super::commit_log::enabled(s) {
            // The caller's buffer goes with it: its next append encodes into a fresh one.
            st.log_tail
                .push_back((pos, Bytes::from(std::mem::take(enc.buf))));
        }
        let durable = match s.durability {
            Durability::Fsync => {
                let (tx, rx) = oneshot::channel();
                st.pending.push_back(Pending { end, millis, tx });
                DurableWait(Box::pin(
                    async move { rx.await.unwrap_or(Err(Error::Closed)) },
                ))
            }
            Durability::Interval(_) | Durability::None => {
                st.visible_end = end;
                st.visible_last_millis = Some(millis);
                self.end_tx.send_replace(end);
                DurableWait::ready()
            }
        };
        let commit = s.durability != Durability::None && !st.queued;
        st.queued |= commit;
        let wants_roll = !st.roll_ahead && pages::should_roll_ahead(s, pos + batch_len);
        st.roll_ahead |= wants_roll;
        let wants_zeros =
            !st.prealloc_queued && (wants_roll || pages::needs_zeros(&st, s, pos + batch_len));
        st.prealloc_queued |= wants_zeros;
        let after_sync = wants_zeros && s.durability == Durability::Fsync;
        st.zeros_after_sync |= after_sync;
        let prealloc = wants_zeros && !after_sync;
        Ok((
            Appended {
                first_offset: base,
                arrival_millis: millis,
                durable,
            },
            Queue { commit, prealloc },
        ))
    }

    /// Seals the active segment and starts a new one at `next_offset`. In fsync and interval
    /// modes the sealed segment is made durable first — with an fdatasync unless the last sync
    /// already covered all of it — which also makes every pending append durable. Where the
    /// preallocation thread runs, cutting the sealed segment's zeros off and writing its index
    /// are left to it, outside the lock ([`Shard::finish_sealing`]); the new file's directory
    /// entry is synced by the file's first sync ([`Segment::sync_data`]). Run by the
    /// preallocation thread ahead of need, or by an append that finds no room.
    pub fn roll(&self, st: &mut ShardState, s: &Settings) -> Result<Arc<Segment>> {
        let old = st
            .segments
            .last()
            .cloned()
            .ok_or(Error::NoSuchShard(self.key))?;
        let syncing = s.durability != Durability::None;
        // The preallocation thread visits every shard that rolled.
        let later = s.preallocating();
        let len = old.meta.read().len;
        let zeros = st.zeroed_to > len;
        if zeros && !later {
            // A sealed segment ends at its last batch (recovery trusts its index only then).
            old.file
                .set_len(len)
                .map_err(|e| io_err(&e, "cutting a segment's preallocated tail"))?;
        }
        let unsynced = st.unsynced.iter().any(|u| Arc::ptr_eq(u, &old));
        if syncing && (unsynced || st.synced_pos < len) {
            old.sync_data()
                .map_err(|e| io_err(&e, "syncing a segment before rolling"))?;
            let end = st.next_offset;
            self.publish_durable(st, end, len, s.durability);
            st.unsynced.retain(|u| !Arc::ptr_eq(u, &old));
        }
        if later {
            st.sealing.push((old, zeros));
        } else if let Err(e) = old.write_index() {
            tracing::warn!(path = %old.path.display(), error = %e, "could not write a segment index; it will be rebuilt at start-up");
        }
        let seg = Arc::new(if syncing {
            Segment::create_unsynced_entry(&self.dir, st.next_offset)?
        } else {
            Segment::create(&self.dir, st.next_offset)?
        });
        st.segments.push(seg.clone());
        st.log_tail.clear();
        st.durable_pos = 0;
        st.synced_pos = 0;
        st.zeroed_to = 0;
        st.roll_ahead = false;
        Ok(seg)
    }

    /// Does what rolls left for outside the lock: cuts each sealed segment's preallocated zeros
    /// off, then writes its index (an index is trusted only for a file of exactly its
    /// segment's length). Neither needs a sync: a crash before the cut reached the disk leaves
    /// a zero tail behind a sealed segment's last batch, which start-up cuts (see
    /// [`super::recovery`]), and an index that did not reach it is rebuilt. Run by the
    /// preallocation thread, the only writer of zeros, so no zero piece can land past the cut.
    pub fn finish_sealing(&self) {
        let sealing = std::mem::take(&mut self.state.lock().sealing);
        for (seg, zeros) in sealing {
            if self.state.lock().deleted {
                return;
            }
            let len = seg.meta.read().len;
            if zeros {
                if let Err(e) = seg.file.set_len(len) {
                    tracing::warn!(path = %seg.path.display(), error = %e, "could not cut a sealed segment's preallocated tail; start-up will");
                    continue;
                }
            }
            if let Err(e) = seg.write_index() {
                tracing::warn!(path = %seg.path.display(), error = %e, "could not write a segment index; it will be rebuilt at start-up");
            }
            // Trimmed meanwhile: its files went, or go, and so must the index.
            let st = self.state.lock();
            if !st.segments.iter().any(|k| Arc::ptr_eq(k, &seg)) {
                drop(st);
                let _ = std::fs::remove_file(seg.idx_path());
            }
        }
    }

    /// Records that everything up to `end` (at `pos` in the active segment) is durable and
    /// resolves the appends it covers.
    fn publish_durable(&self, st: &mut ShardState, end: u64, pos: u64, durability: Durability) {
        if end <= st.durable_end {
            return;
        }
        st.durable_end = end;
        st.durable_pos = pos;
        while st
            .log_tail
            .front()
            .is_some_and(|(at, b)| at + b.len() as u64 <= pos)
        {
            st.log_tail.pop_front();
        }
        if durability != Durability::Fsync {
            return;
        }
        while st.pending.front().is_some_and(|p| p.end <= end) {
            if let Some(p) = st.pending.pop_front() {
                st.visible_end = p.end;
                st.visible_last_millis = Some(p.millis);
                let _ = p.tx.send(Ok(()));
            }
        }
        self.end_tx.send_replace(st.visible_end);
    }

    /// Whether the shard waited for a commit round to be zero-filled (see `zeros_after_sync`);
    /// clears the wait.
    pub fn take_zeros_after_sync(&self) -> bool {
        std::mem::take(&mut self.state.lock().zeros_after_sync)
    }

    /// Takes what the commit thread must sync for this shard (`None` if nothing): the files
    /// written since their last sync, and the active one if the commit log holds some of it.
    pub fn begin_sync(&self) -> Option<SyncJob> {
        let mut st = self.state.lock();
        st.queued = false;
        let logged = st.synced_pos < st.durable_pos;
        // A poisoned shard holds bytes whose appends already failed: never make them durable.
        if st.deleted || st.poisoned.is_some() || (st.unsynced.is_empty() && !logged) {
            return None;
        }
        let active = st.segments.last()?.clone();
        let (active_base, target_pos) = (active.base_offset, active.meta.read().len);
        let mut files = std::mem::take(&mut st.unsynced);
        if logged && !files.iter().any(|f| Arc::ptr_eq(f, &active)) {
            files.push(active);
        }
        let from_pos = st.durable_pos;
        Some(SyncJob {
            files,
            target_end: st.next_offset,
            from_pos,
            target_pos,
            active_base,
            epoch: st.epoch,
            batches: covering(&st.log_tail, from_pos, target_pos),
        })
    }

    /// Publishes the outcome of a [`SyncJob`]: its files were synced, or (`logged`) the
    /// commit log synced what [`SyncJob::log_range`] gave.
    pub fn finish_sync(&self, job: SyncJob, result: io::Result<()>, s: &Settings, logged: bool) {
        let durability = s.durability;
        let mut st = self.state.lock();
        let still_active = st.epoch == job.epoch
            && st
                .segments
                .last()
                .is_some_and(|a| a.base_offset == job.active_base);
        match result {
            Ok(()) if still_active => {
                if !logged {
                    st.synced_pos = st.synced_pos.max(job.target_pos);
                }
                self.publish_durable(&mut st, job.target_end, job.target_pos, durability)
            }
            Ok(()) => {}
            Err(e) => {
                // Logged once per failure episode by the caller (see `health::FaultLog`).
                tracing::debug!(shard = ?self.key, error = %e, "fdatasync failed");
                if durability == Durability::Fsync && job.target_end > st.durable_end {
                    // The roll-back cuts the file.
                    self.wait_for_zeros(&mut st);
                    self.roll_back(&mut st, &e);
                }
                return;
            }
        }
        let keep = s.options.cached_tail_bytes;
        if keep > 0 {
            let cold = pages::cold_ranges(&st.segments, st.durable_pos, keep);
            drop(st);
            for (seg, from, to) in cold {
                pages::release(&seg, from, to);
            }
        }
    }

    /// Syncs the active segment's own file up to the durable end, so that the commit log no
    /// longer needs to hold any of it (see [`super::commit_log`]).
    pub fn checkpoint(&self) -> io::Result<()> {
        let (seg, pos) = {
            let st = self.state.lock();
            if st.deleted || st.synced_pos >= st.durable_pos {
                return Ok(());
            }
            // Its file holds bytes of failed appends that a sync must not make durable; the
            // log keeps what it has until the shard heals.
            if let Some(p) = &st.poisoned {
                return Err(io::Error::other(p.reason.clone()));
            }
            match st.segments.last() {
                Some(seg) => (seg.clone(), st.durable_pos),
                None => return Ok(()),
            }
        };
        seg.sync_data()?;
        let mut st = self.state.lock();
        if st.segments.last().is_some_and(|a| Arc::ptr_eq(a, &seg)) {
            st.synced_pos = st.synced_pos.max(pos);
        }
        Ok(())
    }

    /// Waits until no zeros are being written outside the lock.
    fn wait_for_zeros(&self, st: &mut MutexGuard<'_, ShardState>) {
        while st.zeroing.is_some() {
            self.zeros_written.wait(st);
        }
    }

    /// After a failed sync: fails every waiting append and cuts their bytes off the active
    /// segment, so that offsets stay contiguous and nothing unacknowledged can resurface.
    fn roll_back(&self, st: &mut ShardState, e: &io::Error) {
        st.epoch += 1;
        for p in st.pending.drain(..) {
            let _ = p.tx.send(Err(io_err(e, "fdatasync failed")));
        }
        if let Err(te) = self.cut_to_durable(st) {
            st.poisoned = Some(Poison {
                reason: format!("shard {:?} is unwritable: fdatasync failed ({e}) and cutting the unsynced bytes off failed ({te})", self.key),
                to_durable: true,
            });
        }
    }

    /// Tries again the cut that poisoned the shard; the shard takes appends again once it
    /// succeeds (typically when the disk has room again or the fault has passed).
    fn heal(&self, st: &mut ShardState) -> Result<()> {
        let Some(p) = st.poisoned.take() else {
            return Ok(());
        };
        let healed = if p.to_durable {
            self.cut_to_durable(st)
        } else {
            match st.segments.last().cloned() {
                Some(active) => {
                    let len = active.meta.read().len;
                    st.zeroed_to = st.zeroed_to.min(len);
                    active.file.set_len(len)
                }
                None => Ok(()),
            }
        };
        match healed {
            Ok(()) => {
                tracing::warn!(shard = ?self.key, "shard writable again: its tail was cut back to the last whole batch");
                Ok(())
            }
            Err(e) => {
                let err = Error::Io(io::Error::new(e.kind(), p.reason.clone()));
                st.poisoned = Some(p);
                Err(err)
            }
        }
    }

    /// Cuts the active segment back to its durable length, durably, and forgets what lay
    /// beyond it. The cut is synced because writeback may already have put some of the failed
    /// bytes on disk: unsynced, the old length could come back with them after a power loss,
    /// as records of appends that were reported failed.
    fn cut_to_durable(&self, st: &mut ShardState) -> io::Result<()> {
        let Some(active) = st.segments.last().cloned() else {
            return Ok(());
        };
        let keep = st.durable_pos;
        st.log_tail.retain(|(at, _)| *at < keep);
        st.zeroed_to = st.zeroed_to.min(keep);
        st.synced_pos = st.synced_pos.min(keep);
        active.file.set_len(keep)?;
        active.file.sync_data()?;
        let mut m = active.meta.write();
        m.len = keep;
        m.end_offset = st.durable_end;
        m.index.retain(|x| x.pos < keep);
        m.last_indexed_pos = m.index.last().map(|x| x.pos);
        if st.durable_end == active.base_offset {
            m.first_millis = None;
            m.last_millis = None;
        } else {
            m.last_millis = st.visible_last_millis;
        }
        drop(m);
        st.next_offset = st.durable_end;
        st.unsynced.clear();
        Ok(())
    }

    /// Fails the waiters of a deleted shard.
    /// Refuses every later append; returns one past the last assigned offset.
    pub fn seal(&self) -> Result<u64> {
        let mut st = self.state.lock();
        if st.deleted {
            return Err(Error::NoSuchShard(self.key));
        }
        st.sealed = true;
        Ok(st.next_offset)
    }

    pub fn mark_deleted(&self) {
        let mut st = self.state.lock();
        st.deleted = true;
        for p in st.pending.drain(..) {
            let _ = p.tx.send(Err(Error::NoSuchShard(self.key)));
        }
    }

    fn snapshot(&self) -> Result<(Vec<Arc<Segment>>, u64, u64)> {
        let st = self.state.lock();
        if st.deleted {
            return Err(Error::NoSuchShard(self.key));
        }
        let start = st
            .segments
            .first()
            .map_or(st.visible_end, |s| s.base_offset);
        Ok((st.segments.clone(), start, st.visible_end))
    }

    pub fn bounds(&self) -> Result<ShardBounds> {
        let st = self.state.lock();
        if st.deleted {
            return Err(Error::NoSuchShard(self.key));
        }
        let start = st
            .segments
            .first()
            .map_or(st.visible_end, |s| s.base_offset);
        Ok(ShardBounds {
            start_offset: start,
            end_offset: st.visible_end,
            last_arrival_millis: if st.visible_end > start {
                st.visible_last_millis
            } else {
                None
            },
        })
    }

    pub fn read(&self, from: u64, max_records: usize, max_bytes: usize) -> Result<ReadBatch> {
        let (segs, start, end) = self.snapshot()?;
        let from = from.max(start);
        let mut out = ReadBatch {
            records: Vec::new(),
            next_offset: from,
        };
        if from >= end || max_records == 0 {
            return Ok(out);
        }
        let mut bytes = 0usize;
        let first = segs
            .partition_point(|s| s.base_offset <= from)
            .saturating_sub(1);
        let partial = |out: ReadBatch, e: Error| {
            if out.records.is_empty() {
                Err(e)
            } else {
                Ok(out)
            }
        };
        for seg in &segs[first..] {
            let (mut pos, limit) = {
                let m = seg.meta.read();
                (m.pos_for_offset(out.next_offset), m.len)
            };
            let mut reader = SegmentReader::new(seg, limit);
            while pos < limit {
                let h = match reader.header_at(pos) {
                    Ok(h) => h,
                    Err(e) => return partial(out, read_error(seg, pos, e)),
                };
                if h.base_offset >= end {
                    return Ok(out);
                }
                if h.base_offset > out.next_offset {
                    let detail = format!(
                        "offsets jump from {} to {} at byte {pos}",
                        out.next_offset, h.base_offset
                    );
                    return partial(
                        out,
                        Error::Corrupt {
                            path: seg.path_str(),
                            detail,
                        },
                    );
                }
                if h.end_offset() <= out.next_offset {
                    pos += h.batch_len();
                    continue;
                }
                let (h, payload) = match reader.verified_batch_at(pos) {
                    Ok(b) => b,
                    Err(e) => return partial(out, e),
                };
                for r in batch::records(&h, &payload) {
                    let r = match r {
                        Ok(r) => r,
                        Err(e) => {
                            return partial(
                                out,
                                read_error(seg, pos, super::segment::ReadError::Decode(e)),
                            )
                        }
                    };
                    if r.offset < out.next_offset {
                        continue;
                    }
                    if r.offset >= end {
                        return Ok(out);
                    }
                    let b = r.billed_len();
                    if !out.records.is_empty() && bytes + b > max_bytes {
                        return Ok(out);
                    }
                    bytes += b;
                    out.records.push(r.to_stored());
                    out.next_offset = r.offset + 1;
                    if out.records.len() >= max_records {
                        return Ok(out);
                    }
                }
                pos += h.batch_len();
            }
        }
        Ok(out)
    }

    pub fn offset_at_timestamp(&self, at_millis: i64) -> Result<u64> {
        let (segs, start, end) = self.snapshot()?;
        for seg in &segs {
            if seg.base_offset >= end {
                break;
            }
            let (mut pos, limit, last) = {
                let m = seg.meta.read();
                (m.pos_for_time(at_millis), m.len, m.last_millis)
            };
            if last.is_none_or(|l| l < at_millis) {
                continue;
            }
            let mut reader = SegmentReader::new(seg, limit);
            while pos < limit {
                let h = reader.header_at(pos).map_err(|e| read_error(seg, pos, e))?;
                if h.base_offset >= end {
                    return Ok(end);
                }
                if h.last_millis >= at_millis {
                    let (h, payload) = reader.verified_batch_at(pos)?;
                    for r in batch::records(&h, &payload) {
                        let r = r.map_err(|e| {
                            read_error(seg, pos, super::segment::ReadError::Decode(e))
                        })?;
                        if r.arrival_millis >= at_millis {
                            return Ok(r.offset.clamp(start, end));
                        }
                    }
                }
                pos += h.batch_len();
            }
        }
        Ok(end)
    }

    /// Drops sealed segments whose newest record arrived before `before_millis`; returns the
    /// new start offset and the dropped segments (whose files the caller deletes).
    pub fn trim(&self, before_millis: i64) -> Result<(u64, Vec<Arc<Segment>>)> {
        let mut st = self.state.lock();
        if st.deleted {
            return Err(Error::NoSuchShard(self.key));
        }
        let sealed = st.segments.len().saturating_sub(1);
        let n = st.segments[..sealed]
            .iter()
            .take_while(|s| s.meta.read().last_millis.is_none_or(|l| l < before_millis))
            .count();
        let dropped: Vec<_> = st.segments.drain(..n).collect();
        let start = st
            .segments
            .first()
            .map_or(st.visible_end, |s| s.base_offset);
        Ok((start, dropped))
    }
}

fn read_error(seg: &Segment, pos: u64, e: super::segment::ReadError) -> Error {
    match e {
        super::segment::ReadError::Io(e) => Error::Io(e),
        super::segment::ReadError::Decode(e) => Error::Corrupt {
            path: seg.path_str(),
            detail: format!("at byte {pos}: {e}"),
        },
    }
}
