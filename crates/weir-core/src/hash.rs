//! Hash keys and hash-key ranges.
//!
//! Kinesis places a record by a 128-bit hash key: the MD5 of the partition key's UTF-8 bytes read as
//! a big-endian unsigned integer, or the caller's `ExplicitHashKey`. Shards own inclusive ranges of
//! that space; the ranges of a stream's open shards tile `[0, 2^128 - 1]` exactly.

use md5::{Digest, Md5};
use std::fmt;

/// A point of the 128-bit hash-key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashKey(pub u128);

impl HashKey {
    /// The hash key Kinesis derives from a partition key.
    pub fn from_partition_key(partition_key: &str) -> Self {
        let digest = Md5::digest(partition_key.as_bytes());
        Self(u128::from_be_bytes(digest.into()))
    }

    /// Parses a decimal `ExplicitHashKey`; `None` when it is not a decimal in `0..2^128`.
    pub fn parse_decimal(s: &str) -> Option<Self> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u128>().ok().map(Self)
    }
}

impl fmt::Display for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An inclusive range of hash keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashKeyRange {
    pub start: u128,
    pub end: u128,
}

impl HashKeyRange {
    pub const FULL: HashKeyRange = HashKeyRange {
        start: 0,
        end: u128::MAX,
    };

    pub fn contains(&self, key: HashKey) -> bool {
        self.start <= key.0 && key.0 <= self.end
    }

    /// Splits the full space into `n` ranges the way AWS does at CreateStream: step
    /// `floor(2^128 / n)`, range `i` is `[i*step, (i+1)*step - 1]` and the last one ends at `2^128 - 1`.
    pub fn uniform(n: u32) -> Vec<HashKeyRange> {
        assert!(n > 0, "a stream has at least one shard");
        if n == 1 {
            return vec![Self::FULL];
        }
        let n = n as u128;
        // floor(2^128 / n) without overflowing: (2^128 - 1) / n, corrected when n divides 2^128.
        let mut step = u128::MAX / n;
        if (u128::MAX % n) == n - 1 {
            step += 1;
        }
        (0..n)
            .map(|i| HashKeyRange {
                start: i * step,
                end: if i == n - 1 {
                    u128::MAX
                } else {
                    (i + 1) * step - 1
                },
            })
            .collect()
    }

    /// Whether `other` starts right after `self` ends.
    pub fn is_adjacent_before(&self, other: &HashKeyRange) -> bool {
        self.end != u128::MAX && self.end + 1 == other.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_routing_matches_aws_test_vectors() {
        assert_eq!(
            HashKey::from_partition_key("pk").0,
            38317986088707300215492326132921849533
        );
        assert_eq!(
            HashKey::from_partition_key("1").0,
            261578874264819908609102035485573088411
        );
        let ranges = HashKeyRange::uniform(4);
        assert!(ranges[0].contains(HashKey::from_partition_key("pk")));
        assert!(ranges[3].contains(HashKey::from_partition_key("1")));
    }

    #[test]
    fn two_shards_split_at_aws_boundary() {
        let r = HashKeyRange::uniform(2);
        assert_eq!(r[0].end, 170141183460469231731687303715884105727);
        assert_eq!(r[1].start, 170141183460469231731687303715884105728);
        assert_eq!(r[1].end, u128::MAX);
    }

    #[test]
    fn uniform_ranges_tile_the_space() {
        for n in [1u32, 3, 4, 7, 64, 500, 10_000] {
            let r = HashKeyRange::uniform(n);
            assert_eq!(r.len(), n as usize);
            assert_eq!(r[0].start, 0);
            assert_eq!(r.last().unwrap().end, u128::MAX);
            for w in r.windows(2) {
                assert!(w[0].is_adjacent_before(&w[1]));
            }
        }
    }

    #[test]
    fn explicit_hash_key_parsing() {
        assert_eq!(HashKey::parse_decimal("0"), Some(HashKey(0)));
        assert_eq!(
            HashKey::parse_decimal("340282366920938463463374607431768211455"),
            Some(HashKey(u128::MAX))
        );
        assert_eq!(
            HashKey::parse_decimal("340282366920938463463374607431768211456"),
            None
        );
        assert_eq!(HashKey::parse_decimal("-1"), None);
        assert_eq!(HashKey::parse_decimal(""), None);
        assert_eq!(HashKey::parse_decimal("12a"), None);
    }
}
