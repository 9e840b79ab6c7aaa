//! Sequence numbers.
//!
//! A Kinesis sequence number is an opaque decimal string that clients compare as a big integer
//! (the KCL uses `BigInteger`). weir's are fixed-width decimals laid out as
//!
//! ```text
//!   "49" | shard index, 10 digits | offset in the shard, 20 digits      (32 digits in all)
//! ```
//!
//! so that a number decodes to `(shard, offset)` without a lookup, grows with the offset inside a
//! shard, and is larger in a child shard than in its parents (children always get a higher index).
//! Because every number has the same width, numeric order equals string order.

use crate::ShardId;
use std::fmt;

const PREFIX: &str = "49";
const SHARD_DIGITS: usize = 10;
const OFFSET_DIGITS: usize = 20;
pub const SEQUENCE_NUMBER_LEN: usize = PREFIX.len() + SHARD_DIGITS + OFFSET_DIGITS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceNumber {
    pub shard: ShardId,
    pub offset: u64,
}

impl SequenceNumber {
    pub fn new(shard: ShardId, offset: u64) -> Self {
        Self { shard, offset }
    }

    /// Decodes a number weir issued; `None` for anything else (foreign, truncated, tampered width).
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != SEQUENCE_NUMBER_LEN
            || !s.starts_with(PREFIX)
            || !s.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let shard: u64 = s[PREFIX.len()..PREFIX.len() + SHARD_DIGITS].parse().ok()?;
        let offset: u64 = s[PREFIX.len() + SHARD_DIGITS..].parse().ok()?;
        Some(Self {
            shard: ShardId(u32::try_from(shard).ok()?),
            offset,
        })
    }

    /// Writes the decimal form into `out` without allocating.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(PREFIX.as_bytes());
        push_padded(out, self.shard.0 as u64, SHARD_DIGITS);
        push_padded(out, self.offset, OFFSET_DIGITS);
    }
}

pub(crate) fn push_padded(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    let mut i = start + width;
    while n > 0 && i > start {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{:0sw$}{:0ow$}",
            self.shard.0,
            self.offset,
            sw = SHARD_DIGITS,
            ow = OFFSET_DIGITS
        )
    }
}

/// Whether `s` has the shape the Kinesis model allows for a sequence number: `0|([1-9]\d{0,128})`.
pub fn is_valid_sequence_number_shape(s: &str) -> bool {
    if s == "0" {
        return true;
    }
    let b = s.as_bytes();
    !b.is_empty() && b.len() <= 129 && b[0] != b'0' && b.iter().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_is_fixed_width() {
        let s = SequenceNumber::new(ShardId(3), 17).to_string();
        assert_eq!(s, "49000000000300000000000000000017");
        assert_eq!(s.len(), SEQUENCE_NUMBER_LEN);
        assert!(is_valid_sequence_number_shape(&s));
    }

    #[test]
    fn rejects_foreign_numbers() {
        assert_eq!(SequenceNumber::parse("0"), None);
        assert_eq!(
            SequenceNumber::parse("49590338271490256608559692538361571095921575989136588898"),
            None
        );
        assert_eq!(
            SequenceNumber::parse("4900000000030000000000000000001x"),
            None
        );
    }

    proptest! {
        #[test]
        fn round_trips_and_orders(a in any::<u32>(), x in any::<u64>(), b in any::<u32>(), y in any::<u64>()) {
            let s1 = SequenceNumber::new(ShardId(a), x);
            let s2 = SequenceNumber::new(ShardId(b), y);
            let (t1, t2) = (s1.to_string(), s2.to_string());
            prop_assert_eq!(SequenceNumber::parse(&t1), Some(s1));
            let mut buf = Vec::new();
            s1.write_to(&mut buf);
            prop_assert_eq!(buf, t1.as_bytes());
            // numeric order (same width) == string order == (shard, offset) order
            prop_assert_eq!(t1.cmp(&t2), s1.cmp(&s2));
        }
    }
}
