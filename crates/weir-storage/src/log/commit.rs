//! The commit thread: one per store, shared by every shard.
//!
//! Appends queue their shard (once; `ShardState::queued` dedups) and wake the thread. The thread
//! takes the whole queue, syncs each shard's unsynced files and publishes each shard's durable
//! end right after its sync. Appends that arrive meanwhile wait for the next round; that is the
//! whole of group commit — no timers, no batching delay, a round is as large as the load makes it.
//!
//! It is a std thread, not a tokio task, because `fdatasync` blocks; waiters are woken through
//! `tokio::sync::oneshot`, which needs no runtime on the sending side.

use super::shard::Shard;
use super::Inner;
use crate::Durability;
use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Threads that sync dirty shards of one commit round in parallel.
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
                return;
            }
        }
        if let (Some(d), Some(t)) = (interval, next_tick.as_mut()) {
            *t = Instant::now() + d;
        }
        if !batch.is_empty() {
            inner.sync_round(&batch);
        }
        batch.clear();
    }
}

impl Inner {
    pub(crate) fn enqueue(&self, shard: &Arc<Shard>) {
        let mut q = self.queue.lock();
        if q.exited {
            drop(q);
            self.sync_round(std::slice::from_ref(shard));
            return;
        }
        q.dirty.push(shard.clone());
        if self.settings.durability == Durability::Fsync {
            self.wake.notify_one();
        }
    }

    /// Syncs every listed shard once and publishes the results.
    pub(crate) fn sync_round(&self, shards: &[Arc<Shard>]) {
        let jobs: Vec<_> = shards
            .iter()
            .filter_map(|s| s.begin_sync().map(|j| (s, j)))
            .collect();
        if jobs.is_empty() {
            return;
        }
        self.sync_rounds.fetch_add(1, Ordering::Relaxed);
        if jobs.len() <= 2 {
            for (shard, job) in jobs {
                let result = job.sync(&|| self.fault());
                self.note_sync(&result);
                shard.finish_sync(job, result, &self.settings);
            }
            return;
        }
        // Many dirty shards: sync them in parallel. Each fdatasync ends in a device cache flush,
        // and the block layer merges flushes that are in flight together, so N files cost about
        // as much as a few instead of N one after the other.
        let jobs = Mutex::new(jobs);
        let workers = jobs.lock().len().min(SYNC_THREADS);
        let work = || loop {
            let Some((shard, job)) = jobs.lock().pop() else {
                return;
            };
            let result = job.sync(&|| self.fault());
            self.note_sync(&result);
            shard.finish_sync(job, result, &self.settings);
        };
        std::thread::scope(|scope| {
            // The commit thread syncs its share too: one thread fewer to start and schedule
            // on the path of every round.
            for _ in 1..workers {
                scope.spawn(work);
            }
            work();
        });
    }
}
