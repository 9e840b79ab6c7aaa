//! put→get latency samples. The producer learns a sampled record's sequence number when its put
//! is answered; the consumer learns when it read the record. Either may come first — with
//! fsync durability a record becomes readable at about the moment its put is answered — so each
//! side's half waits for the other, and a fast read is never dropped (which would bias the
//! percentiles upwards).
//!
//! Sampled records are the first record of each pre-encoded body, recognised by partition key
//! (with `--keys hot` every record qualifies, and unmatched reads are capped).

use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Caps on halves waiting for their other half.
const MAX_SENT: usize = 1_000_000;
const MAX_READ: usize = 100_000;

#[derive(Default)]
struct Pending {
    sent: HashMap<String, Instant>,
    read: HashMap<String, Instant>,
}

pub struct Samples {
    keys: HashSet<String>,
    pending: Mutex<Pending>,
}

impl Samples {
    pub fn new(keys: HashSet<String>) -> Self {
        Self {
            keys,
            pending: Mutex::new(Pending::default()),
        }
    }

    /// Whether a record with this partition key may be a sample.
    pub fn is_candidate(&self, partition_key: &str) -> bool {
        self.keys.contains(partition_key)
    }

    /// The producer's half: `seq` was sent at `at`. Returns put→get if it was already read.
    pub fn sent(&self, seq: String, at: Instant) -> Option<Duration> {
        let mut p = self.pending.lock();
        if let Some(read) = p.read.remove(&seq) {
            return Some(read.saturating_duration_since(at));
        }
        if p.sent.len() < MAX_SENT {
            p.sent.insert(seq, at);
        }
        None
    }

    /// The consumer's half: `seq` was read at `at`. Returns put→get if its send is known.
    pub fn read(&self, seq: &str, at: Instant) -> Option<Duration> {
        let mut p = self.pending.lock();
        if let Some(sent) = p.sent.remove(seq) {
            return Some(at.saturating_duration_since(sent));
        }
        if p.read.len() < MAX_READ {
            p.read.insert(seq.to_string(), at);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_meet_in_either_order() {
        let s = Samples::new(["k".to_string()].into());
        assert!(s.is_candidate("k") && !s.is_candidate("j"));
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(3);
        // Sent, then read.
        assert_eq!(s.sent("1".into(), t0), None);
        assert_eq!(s.read("1", t1), Some(Duration::from_millis(3)));
        // Read before the put was answered: still 3 ms, not dropped.
        assert_eq!(s.read("2", t1), None);
        assert_eq!(s.sent("2".into(), t0), Some(Duration::from_millis(3)));
        // Each sample counts once.
        assert_eq!(s.read("2", t1), None);
    }
}
