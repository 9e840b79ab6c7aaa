//! Shard iterators: opaque, tamper-evident tokens that name a read position.
//!
//! An iterator carries `(stream uid, shard, offset, issue time)` and an HMAC-SHA256 tag (truncated
//! to 16 bytes) under a per-node secret kept in the metadata store, so iterators survive restarts
//! but cannot be forged or edited. Like AWS's, they expire five minutes after they were issued.

use hmac::{Hmac, Mac};
use sha2::Sha256;

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 8 + 4 + 8 + 8 + 8;
const TAG_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardIterator {
    pub stream_uid: u64,
    pub shard: u32,
    pub offset: u64,
    pub issued_millis: i64,
    /// For AT_TIMESTAMP with a timestamp that was in the future: records that arrived earlier
    /// are skipped. 0 when unused.
    pub min_arrival_millis: i64,
}

#[derive(Clone)]
pub struct IteratorCodec {
    key: [u8; 32],
}

impl IteratorCodec {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC accepts any key length")
    }

    pub fn encode(&self, it: &ShardIterator) -> String {
        let mut raw = [0u8; BODY_LEN + TAG_LEN];
        raw[0] = VERSION;
        raw[1..9].copy_from_slice(&it.stream_uid.to_be_bytes());
        raw[9..13].copy_from_slice(&it.shard.to_be_bytes());
        raw[13..21].copy_from_slice(&it.offset.to_be_bytes());
        raw[21..29].copy_from_slice(&it.issued_millis.to_be_bytes());
        raw[29..37].copy_from_slice(&it.min_arrival_millis.to_be_bytes());
        let mut mac = self.mac();
        mac.update(&raw[..BODY_LEN]);
        let tag = mac.finalize().into_bytes();
        raw[BODY_LEN..].copy_from_slice(&tag[..TAG_LEN]);
        base64_simd::STANDARD.encode_to_string(raw)
    }

    /// `None` for anything weir did not issue with this key.
    pub fn decode(&self, s: &str) -> Option<ShardIterator> {
        let raw = base64_simd::STANDARD.decode_to_vec(s.as_bytes()).ok()?;
        if raw.len() != BODY_LEN + TAG_LEN || raw[0] != VERSION {
            return None;
        }
        let mut mac = self.mac();
        mac.update(&raw[..BODY_LEN]);
        mac.verify_truncated_left(&raw[BODY_LEN..]).ok()?;
        Some(ShardIterator {
            stream_uid: u64::from_be_bytes(raw[1..9].try_into().ok()?),
            shard: u32::from_be_bytes(raw[9..13].try_into().ok()?),
            offset: u64::from_be_bytes(raw[13..21].try_into().ok()?),
            issued_millis: i64::from_be_bytes(raw[21..29].try_into().ok()?),
            min_arrival_millis: i64::from_be_bytes(raw[29..37].try_into().ok()?),
        })
    }
}

impl crate::StreamService {
    /// The stream and shard an iterator reads, without reading: lets a front end attribute a
    /// GetRecords call (and its failures) to a stream, e.g. for metrics. `None` for iterators
    /// weir did not issue or whose stream is gone.
    pub fn iterator_target(
        &self,
        iterator: &str,
    ) -> Option<(std::sync::Arc<crate::service::Stream>, u32)> {
        let it = self.inner.iterators.decode(iterator)?;
        Some((self.stream_by_uid(it.stream_uid)?, it.shard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_evidence() {
        let codec = IteratorCodec::new([7; 32]);
        let it = ShardIterator {
            stream_uid: 42,
            shard: 3,
            offset: 1_000_000,
            issued_millis: 1_700_000_000_000,
            min_arrival_millis: 0,
        };
        let s = codec.encode(&it);
        assert!(s.len() <= 512);
        assert_eq!(codec.decode(&s), Some(it));
        // flip one character
        let mut bytes = s.clone().into_bytes();
        bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(codec.decode(std::str::from_utf8(&bytes).unwrap()), None);
        // another key
        assert_eq!(IteratorCodec::new([8; 32]).decode(&s), None);
        assert_eq!(codec.decode("garbage"), None);
        assert_eq!(codec.decode(""), None);
    }
}
