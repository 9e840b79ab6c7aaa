//! The commit thread: one per store, shared by every shard.
//!
//! Appends queue their shard (once; `ShardState::queued` dedups) and wake the thread; an append
//! to several shards at once (`append_all`, a PutRecords) queues them all with one wake-up, so
//! that they share a round. The thread takes the whole queue, syncs each shard's unsynced files
//! and publishes each shard's durable end right after its sync. Appends that arrive meanwhile
//! wait for the next round; that is the whole of group commit — no timers, no batching delay, a
//! round is as large as the load makes it.
//!
//! It is a std thread, not a tokio task, because `fdatasync` blocks; waiters are woken through
//! `tokio::sync::oneshot`, which needs no runtime on the sending side.

use super::commit_log::{CommitLog, LogRange};
use super::shard::{Shard, SyncJob};
use super::Inner;
use crate::Durability;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Threads that sync dirty shards of one commit round in parallel (the commit thread included).
const SYNC_THREADS: usize = 16;

#[derive(Default)]
pub(crate) struct CommitQueue {
    pub dirty: Vec<Arc<Shard>>,
    pub shutdown: bool,
    /// The thread has exited (or never ran): whoever queues a shard must sync it themselves.
    pub exited: bool,
}

pub(crate) fn run(inner: Arc<Inner>) {
    let interval = match inner.settings.durability {
        Durability::Interval(d) => Some(d),
        _ => None,
    };
    let mut next_tick = interval.map(|d| Instant::now() + d);
    let mut batch: Vec<Arc<Shard>> = Vec::new();
    let mut pool = SyncPool::new(inner.clone());
    let mut log = inner.log.clone().map(CommitLog::new);
    // When the last round ended and how long it took (counted up to 1 ms, so that one stalled
    // sync does not make the next few rounds look busy): a round that follows sooner than that
    // means the load keeps the thread busy, and its rounds sync their segments rather than
    // spend the copy into the log (and the log's checkpoints) on every one of them.
    let mut last: Option<(Instant, Duration)> = None;
    loop {
        {
            let mut q = inner.queue.lock();
            while !q.shutdown {
                match next_tick {
                    None if !q.dirty.is_empty() => break,
                    None => inner.wake.wait(&mut q),
                    Some(t) if Instant::now() >= t => break,
                    Some(t) => {
                        inner.wake.wait_until(&mut q, t);
                    }
                }
            }
            std::mem::swap(&mut q.dirty, &mut batch);
            if q.shutdown && batch.is_empty() {
                q.exited = true;
                drop(q);
                // Dropping the pool stops and joins its helpers.
                return;
            }
        }
        if let (Some(d), Some(t)) = (interval, next_tick.as_mut()) {
            *t = Instant::now() + d;
        }
        if !batch.is_empty() {
            let start = Instant::now();
            let idle = last.is_none_or(|(end, took)| start - end >= took)
                || inner.log_always.load(Ordering::Relaxed);
            inner.sync_round(&batch, Some(&mut pool), log.as_mut().filter(|_| idle));
            let end = Instant::now();
            last = Some((end, (end - start).min(Duration::from_millis(1))));
        }
        batch.clear();
    }
}

impl Inner {
    /// Queues shards for the next round, waking the thread once for all of them.
    pub(crate) fn enqueue(&self, shards: &[Arc<Shard>]) {
        if shards.is_empty() {
            return;
        }
        let mut q = self.queue.lock();
        if q.exited {
            drop(q);
            self.sync_round(shards, None, None);
            return;
        }
        q.dirty.extend_from_slice(shards);
        if self.settings.durability == Durability::Fsync {
            self.wake.notify_one();
        }
    }

    /// Syncs every listed shard once and publishes the results: in parallel on `pool` when
    /// there are more than two. Each fdatasync ends in a device cache flush, and the block
    /// layer merges flushes that are in flight together, so N files cost about as much as a
    /// few instead of N one after the other.
    ///
    /// A round of several shards goes through the commit log instead when `log` is given and
    /// takes it (see [`super::commit_log`]).
    ///
    /// Shards that asked for zeros meanwhile go to the preallocation thread once the round is
    /// published, so that the zeros' writeback falls between rounds rather than into one.
    pub(crate) fn sync_round(
        &self,
        shards: &[Arc<Shard>],
        pool: Option<&mut SyncPool>,
        log: Option<&mut CommitLog>,
    ) {
        let _round = self.rounds.lock();
        let mut jobs: Vec<_> = shards
            .iter()
            .filter_map(|s| s.begin_sync().map(|j| (s.clone(), j)))
            .collect();
        if let Some(log) = log.filter(|_| jobs.len() > 1) {
            jobs = self.log_round(log, jobs);
        }
        if !jobs.is_empty() {
            self.sync_rounds.fetch_add(1, Ordering::Relaxed);
            match pool {
                Some(pool) if jobs.len() > 2 => pool.run(jobs),
                _ => {
                    for job in jobs {
                        self.sync_one(job);
                    }
                }
            }
        }
        for shard in shards {
            if shard.take_zeros_after_sync() {
                self.queue_prealloc(shard);
            }
        }
    }

    fn sync_one(&self, (shard, job): (Arc<Shard>, SyncJob)) {
        let result = job.sync(&|| self.fault());
        self.note_sync(&result);
        shard.finish_sync(job, result, &self.settings, false);
    }

    /// Makes the round durable through the commit log and publishes it; returns the jobs
    /// unsynced (all of them) if the log cannot take the round.
    fn log_round(
        &self,
        log: &mut CommitLog,
        jobs: Vec<(Arc<Shard>, SyncJob)>,
    ) -> Vec<(Arc<Shard>, SyncJob)> {
        let ranges: Option<Vec<LogRange<'_>>> = jobs
            .iter()
            .map(|(shard, job)| {
                job.log_range().map(|(segment, from, to)| LogRange {
                    key: shard.key,
                    segment,
                    from,
                    to,
                })
            })
            .collect();
        let Some(ranges) = ranges else {
            return jobs;
        };
        let total: u64 = ranges.iter().map(|r| r.to - r.from).sum();
        if total > log.round_limit() {
            return jobs;
        }
        let Some(result) = log.write(&ranges, &|| self.fault()) else {
            return jobs;
        };
        drop(ranges);
        self.sync_rounds.fetch_add(1, Ordering::Relaxed);
        self.log_rounds.fetch_add(1, Ordering::Relaxed);
        self.note_sync(&result);
        for (shard, job) in jobs {
            let r = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            };
            shard.finish_sync(job, r, &self.settings, true);
        }
        Vec::new()
    }
}

/// The commit thread's helpers for parallel rounds: threads started on first need and kept,
/// so that a round costs a wake-up per helper rather than a thread's start and exit (a clone,
/// a stack mapping and, at exit, a TLB shootdown across cores) on every commit's path.
pub(crate) struct SyncPool {
    shared: Arc<PoolShared>,
    helpers: Vec<JoinHandle<()>>,
}

struct PoolShared {
    inner: Arc<Inner>,
    state: Mutex<PoolState>,
    work: Condvar,
    done: Condvar,
}

#[derive(Default)]
struct PoolState {
    jobs: Vec<(Arc<Shard>, SyncJob)>,
    /// Jobs taken and not yet finished.
    running: usize,
    shutdown: bool,
}

impl SyncPool {
    fn new(inner: Arc<Inner>) -> Self {
        SyncPool {
            shared: Arc::new(PoolShared {
                inner,
                state: Mutex::new(PoolState::default()),
                work: Condvar::new(),
                done: Condvar::new(),
            }),
            helpers: Vec::new(),
        }
    }

    /// Runs every job, the calling thread taking its share, and returns once all are done.
    fn run(&mut self, jobs: Vec<(Arc<Shard>, SyncJob)>) {
        let wanted = (jobs.len() - 1).min(SYNC_THREADS - 1);
        while self.helpers.len() < wanted {
            let shared = self.shared.clone();
            match std::thread::Builder::new()
                .name("weir-sync".into())
                .spawn(move || shared.help())
            {
                Ok(h) => self.helpers.push(h),
                // Fewer helpers only make the round slower; the commit thread does the rest.
                Err(_) => break,
            }
        }
        let sh = &*self.shared;
        let mut st = sh.state.lock();
        st.jobs = jobs;
        sh.work.notify_all();
        while let Some(job) = st.jobs.pop() {
            st.running += 1;
            drop(st);
            sh.inner.sync_one(job);
            st = sh.state.lock();
            st.running -= 1;
        }
        while st.running > 0 {
            sh.done.wait(&mut st);
        }
    }
}

impl Drop for SyncPool {
    fn drop(&mut self) {
        self.shared.state.lock().shutdown = true;
        self.shared.work.notify_all();
        for h in self.helpers.drain(..) {
            if h.join().is_err() {
                tracing::error!("a sync thread panicked");
            }
        }
    }
}

impl PoolShared {
    fn help(&self) {
        let mut st = self.state.lock();
        loop {
            if let Some(job) = st.jobs.pop() {
                st.running += 1;
                drop(st);
                let synced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.inner.sync_one(job)
                }));
                if synced.is_err() {
                    tracing::error!("a shard's sync panicked");
                }
                st = self.state.lock();
                st.running -= 1;
                if st.running == 0 && st.jobs.is_empty() {
                    self.done.notify_one();
                }
            } else if st.shutdown {
                return;
            } else {
                self.work.wait(&mut st);
            }
        }
    }
}
