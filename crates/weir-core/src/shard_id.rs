//! Shard ids: `shardId-` followed by a 12-digit zero-padded index that is never reused in a stream.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardId(pub u32);

impl ShardId {
    pub const PREFIX: &'static str = "shardId-";

    /// Parses `shardId-000000000007`. Like AWS, it reads the index after the first `-` whatever
    /// precedes it (`shard-7`), or the whole string when there is no `-` (`7`).
    pub fn parse(s: &str) -> Option<Self> {
        let digits = s.split_once('-').map_or(s, |(_, rest)| rest);
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .map(Self)
    }

    pub fn index(self) -> u32 {
        self.0
    }

    /// Writes `shardId-000000000007` into `out` without allocating.
    pub fn write_to(self, out: &mut Vec<u8>) {
        out.extend_from_slice(Self::PREFIX.as_bytes());
        crate::sequence::push_padded(out, self.0 as u64, 12);
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:012}", Self::PREFIX, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_aws() {
        assert_eq!(ShardId(0).to_string(), "shardId-000000000000");
        assert_eq!(ShardId(42).to_string(), "shardId-000000000042");
        let mut out = Vec::new();
        ShardId(4_000_000_000).write_to(&mut out);
        assert_eq!(out, ShardId(4_000_000_000).to_string().as_bytes());
    }

    #[test]
    fn parses_what_it_formats_and_rejects_garbage() {
        for i in [0u32, 1, 999, u32::MAX] {
            assert_eq!(ShardId::parse(&ShardId(i).to_string()), Some(ShardId(i)));
        }
        assert_eq!(ShardId::parse("7"), Some(ShardId(7)));
        assert_eq!(ShardId::parse("shardId-"), None);
        assert_eq!(ShardId::parse("shardId-abc"), None);
        assert_eq!(ShardId::parse("shard-1"), Some(ShardId(1)));
        assert_eq!(ShardId::parse("shardId-1-2"), None);
        assert_eq!(ShardId::parse("shardId-99999999999"), None);
    }
}
