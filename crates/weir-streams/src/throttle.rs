//! Per-shard throughput limits as AWS enforces them: writes 1 MiB/s and 1,000 records/s, reads
//! 2 MiB/s and 5 GetRecords calls/s.
//!
//! Each limit is a token bucket holding one second of capacity, refilled continuously from the
//! service clock. Read bytes may go into debt: like AWS, one GetRecords may return up to 10 MiB,
//! and the calls after it are throttled until the debt is paid back at 2 MiB/s. With limits off
//! nothing here is touched, so an unthrottled store pays nothing for the feature.

use parking_lot::Mutex;
use std::collections::HashMap;
use weir_core::limits::{
    SHARD_READ_BYTES_PER_SEC, SHARD_READ_CALLS_PER_SEC, SHARD_WRITE_BYTES_PER_SEC,
    SHARD_WRITE_RECORDS_PER_SEC,
};
use weir_storage::ShardKey;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    rate: f64,
}

impl Bucket {
    fn full(rate: u64) -> Self {
        Self {
            tokens: rate as f64,
            rate: rate as f64,
        }
    }
    fn refill(&mut self, elapsed_ms: i64) {
        self.tokens = (self.tokens + self.rate * elapsed_ms.max(0) as f64 / 1000.0).min(self.rate);
    }
}

#[derive(Debug, Clone, Copy)]
struct ShardBuckets {
    last_ms: i64,
    write_bytes: Bucket,
    write_records: Bucket,
    read_bytes: Bucket,
    read_calls: Bucket,
}

impl ShardBuckets {
    fn new(now: i64) -> Self {
        Self {
            last_ms: now,
            write_bytes: Bucket::full(SHARD_WRITE_BYTES_PER_SEC),
            write_records: Bucket::full(SHARD_WRITE_RECORDS_PER_SEC),
            read_bytes: Bucket::full(SHARD_READ_BYTES_PER_SEC),
            read_calls: Bucket::full(SHARD_READ_CALLS_PER_SEC),
        }
    }
    fn refill(&mut self, now: i64) {
        let elapsed = now - self.last_ms;
        if elapsed > 0 {
            for b in [
                &mut self.write_bytes,
                &mut self.write_records,
                &mut self.read_bytes,
                &mut self.read_calls,
            ] {
                b.refill(elapsed);
            }
            self.last_ms = now;
        }
    }
}

/// The buckets of every shard, or nothing at all when limits are off.
pub struct Throttle {
    enabled: bool,
    shards: Mutex<HashMap<ShardKey, ShardBuckets>>,
}

impl Throttle {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            shards: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Admits the longest prefix of `sizes` (bytes per record, in order) that the shard's write
    /// capacity allows, and returns its length. Records after the first refused one are refused
    /// too, so that what a shard accepts keeps the request's order.
    pub fn admit_writes(
        &self,
        shard: ShardKey,
        now: i64,
        sizes: impl Iterator<Item = usize>,
    ) -> usize {
        if !self.enabled {
            return usize::MAX;
        }
        let mut shards = self.shards.lock();
        let b = shards
            .entry(shard)
            .or_insert_with(|| ShardBuckets::new(now));
        b.refill(now);
        let mut admitted = 0;
        for size in sizes {
            if b.write_records.tokens < 1.0 || b.write_bytes.tokens < size as f64 {
                break;
            }
            b.write_records.tokens -= 1.0;
            b.write_bytes.tokens -= size as f64;
            admitted += 1;
        }
        admitted
    }

    /// Whether a GetRecords call may run now (one call token, and no read-byte debt).
    pub fn admit_read(&self, shard: ShardKey, now: i64) -> bool {
        if !self.enabled {
            return true;
        }
        let mut shards = self.shards.lock();
        let b = shards
            .entry(shard)
            .or_insert_with(|| ShardBuckets::new(now));
        b.refill(now);
        if b.read_calls.tokens < 1.0 || b.read_bytes.tokens < 0.0 {
            return false;
        }
        b.read_calls.tokens -= 1.0;
        true
    }

    /// Charges the bytes a GetRecords call returned (may leave the bucket in debt).
    pub fn charge_read(&self, shard: ShardKey, bytes: usize) {
        if !self.enabled {
            return;
        }
        if let Some(b) = self.shards.lock().get_mut(&shard) {
            b.read_bytes.tokens -= bytes as f64;
        }
    }

    /// Forgets a deleted stream's shards.
    pub fn forget_stream(&self, stream: u64) {
        if self.enabled {
            self.shards.lock().retain(|k, _| k.stream != stream);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: ShardKey = ShardKey {
        stream: 1,
        shard: 0,
    };

    #[test]
    fn writes_get_one_second_of_capacity_then_refill() {
        let t = Throttle::new(true);
        // 1,000 records/s: the 1,001st in the same instant is refused.
        assert_eq!(t.admit_writes(S, 0, std::iter::repeat_n(10, 1500)), 1000);
        assert_eq!(t.admit_writes(S, 0, std::iter::once(10)), 0);
        // Half a second later, half the capacity is back.
        assert_eq!(t.admit_writes(S, 500, std::iter::repeat_n(10, 1000)), 500);
        // Bytes: 1 MiB/s.
        let t = Throttle::new(true);
        assert_eq!(t.admit_writes(S, 0, std::iter::repeat_n(600 * 1024, 3)), 1);
    }

    #[test]
    fn reads_allow_five_calls_and_a_big_response_then_throttle() {
        let t = Throttle::new(true);
        for _ in 0..5 {
            assert!(t.admit_read(S, 0));
        }
        assert!(!t.admit_read(S, 0));
        assert!(t.admit_read(S, 1000));
        t.charge_read(S, 10 * 1024 * 1024);
        // 10 MiB at 2 MiB/s: in debt for ~4 s more.
        assert!(!t.admit_read(S, 3000));
        assert!(t.admit_read(S, 6000));
    }

    #[test]
    fn off_means_unlimited() {
        let t = Throttle::new(false);
        assert_eq!(
            t.admit_writes(S, 0, std::iter::repeat_n(1 << 20, 100)),
            usize::MAX
        );
        for _ in 0..100 {
            assert!(t.admit_read(S, 0));
        }
    }
}
