//! Write health: the low-space guard and the once-per-episode fault log.
//!
//! A full disk or a failing device makes *every* write fail, often thousands a second. The
//! operator needs one line when it starts, one when it ends, and a counter in between — not a
//! log line per request. [`FaultLog`] keeps that state: the first failure of an episode is logged
//! at `error`, later ones are only counted, and the first success after it logs the end with the
//! number of failures in between. A disk that is nearly full flaps (a large batch fails, a small
//! one fits): an episode that starts within [`RELOG_AFTER_MS`] of the last logged start is
//! folded into it, so flapping costs one line per half minute at most.
//!
//! [`SpaceGuard`] refuses appends while the data directory's file system has less than
//! `min_free_bytes` available, so that the metadata store, segment rolls and start-up recovery
//! always have room. It asks `statvfs` at most every [`SPACE_CHECK_EVERY_MS`] ms; between checks
//! it answers from the cached figure, so the append path pays an atomic load.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a `statvfs` answer is reused.
pub const SPACE_CHECK_EVERY_MS: u64 = 100;

/// Episodes starting sooner than this after the last logged one are not logged again.
pub const RELOG_AFTER_MS: u64 = 30_000;

/// Counters of refused and failed writes, for `/metrics` and `/ready`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteHealth {
    /// Why writes are refused right now (low space), if they are.
    pub refusing: Option<String>,
    /// Appends refused because free space was below the threshold.
    pub low_space_refusals: u64,
    /// Appends (or syncs) that failed with an I/O error: ENOSPC, EIO, ...
    pub write_failures: u64,
    /// Available bytes on the data file system at the last check (`None`: unknown/unchecked).
    pub free_bytes: Option<u64>,
    /// Commit rounds that synced their shards' segments, by how long they took.
    pub segment_rounds: RoundTimes,
    /// Commit rounds that went through the commit log, by how long they took.
    pub log_rounds: RoundTimes,
}

/// Upper bounds, in milliseconds, of the buckets of [`RoundTimes`] (the last bucket is
/// unbounded): fine below 3 ms, where a round on a quiet disk falls, coarse above.
pub const ROUND_BOUNDS_MS: [f64; 11] =
    [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 25.0, 100.0];

/// A histogram of commit-round durations: `counts[i]` rounds took at most
/// `ROUND_BOUNDS_MS[i]` and more than the bound before it; the last count is of longer ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundTimes {
    pub counts: [u64; ROUND_BOUNDS_MS.len() + 1],
    pub sum_micros: u64,
}

/// [`RoundTimes`] as the commit thread records them.
#[derive(Debug, Default)]
pub(crate) struct RoundClock {
    counts: [AtomicU64; ROUND_BOUNDS_MS.len() + 1],
    sum_micros: AtomicU64,
}

impl RoundClock {
    pub fn record(&self, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        let i = ROUND_BOUNDS_MS.partition_point(|b| *b < ms);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> RoundTimes {
        RoundTimes {
            counts: std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed)),
            sum_micros: self.sum_micros.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct FaultLog {
    failing: AtomicBool,
    /// Whether the start of the current (or last) episode was logged.
    logged: AtomicBool,
    /// `epoch_ms()` + 1 of the last logged start; 0: never.
    logged_at: AtomicU64,
    in_episode: AtomicU64,
    pub low_space_refusals: AtomicU64,
    pub write_failures: AtomicU64,
}

impl FaultLog {
    /// A write failed (`low_space`: refused by the guard rather than failed by the disk).
    pub fn failure(&self, low_space: bool, what: &dyn std::fmt::Display) {
        if low_space {
            self.low_space_refusals.fetch_add(1, Ordering::Relaxed);
        } else {
            self.write_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.in_episode.fetch_add(1, Ordering::Relaxed);
        if self.failing.swap(true, Ordering::AcqRel) {
            return;
        }
        let now = epoch_ms() + 1;
        let last = self.logged_at.load(Ordering::Relaxed);
        let log = last == 0 || now.saturating_sub(last) >= RELOG_AFTER_MS;
        self.logged.store(log, Ordering::Relaxed);
        if log {
            self.logged_at.store(now, Ordering::Relaxed);
            tracing::error!(error = %what, "writes are failing; they are refused with a retryable error, and further failures are counted (weir_storage_write_failures_total) rather than logged until a write succeeds again");
        }
    }

    /// A write was made durable.
    pub fn success(&self) {
        if self.failing.load(Ordering::Relaxed)
            && self.failing.swap(false, Ordering::AcqRel)
            && self.logged.load(Ordering::Relaxed)
        {
            let n = self.in_episode.swap(0, Ordering::Relaxed);
            tracing::warn!(
                failed_writes = n,
                "writes succeed again after a failure episode"
            );
        }
    }
}

fn epoch_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

#[derive(Debug)]
pub(crate) struct SpaceGuard {
    dir: PathBuf,
    min_free: AtomicU64,
    started: Instant,
    /// Milliseconds since `started` (+1) of the last check; 0: never checked.
    checked_at: AtomicU64,
    free: AtomicU64,
}

impl SpaceGuard {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            min_free: AtomicU64::new(0),
            started: Instant::now(),
            checked_at: AtomicU64::new(0),
            free: AtomicU64::new(u64::MAX),
        }
    }

    pub fn set_min_free(&self, bytes: u64) {
        self.min_free.store(bytes, Ordering::Relaxed);
        self.checked_at.store(0, Ordering::Relaxed);
    }

    /// Available bytes (cached for [`SPACE_CHECK_EVERY_MS`]); `u64::MAX` if unknown.
    pub fn free_bytes(&self) -> u64 {
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let last = self.checked_at.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= SPACE_CHECK_EVERY_MS)
            && self
                .checked_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            let free = match rustix::fs::statvfs(&self.dir) {
                Ok(s) => s.f_bavail.saturating_mul(s.f_frsize),
                Err(_) => u64::MAX,
            };
            self.free.store(free, Ordering::Relaxed);
        }
        self.free.load(Ordering::Relaxed)
    }

    /// `Err(message)` while available space is below the threshold.
    pub fn check(&self) -> Result<(), String> {
        let min = self.min_free.load(Ordering::Relaxed);
        if min == 0 {
            return Ok(());
        }
        let free = self.free_bytes();
        if free < min {
            return Err(format!(
                "low disk space: {free} bytes available on the data file system, below the --min-free-bytes threshold of {min}"
            ));
        }
        Ok(())
    }

    pub fn last_free(&self) -> Option<u64> {
        match self.free.load(Ordering::Relaxed) {
            u64::MAX => None,
            n => Some(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threshold_above_the_disk_refuses_and_zero_never_does() {
        let dir = tempfile::tempdir().unwrap();
        let g = SpaceGuard::new(dir.path().to_path_buf());
        assert!(g.check().is_ok());
        g.set_min_free(u64::MAX - 1);
        assert!(g.check().unwrap_err().contains("low disk space"));
        g.set_min_free(0);
        assert!(g.check().is_ok());
    }

    #[test]
    fn an_episode_counts_every_failure_and_ends_on_success() {
        let f = FaultLog::default();
        f.failure(false, &"EIO");
        f.failure(true, &"low");
        assert_eq!(f.write_failures.load(Ordering::Relaxed), 1);
        assert_eq!(f.low_space_refusals.load(Ordering::Relaxed), 1);
        assert_eq!(f.in_episode.load(Ordering::Relaxed), 2);
        f.success();
        assert!(!f.failing.load(Ordering::Relaxed));
        assert_eq!(f.in_episode.load(Ordering::Relaxed), 0);
        // A flap right after is folded into the logged episode.
        f.failure(false, &"ENOSPC");
        assert!(!f.logged.load(Ordering::Relaxed));
        f.success();
        assert_eq!(
            f.in_episode.load(Ordering::Relaxed),
            1,
            "counted towards the next log"
        );
    }
}
