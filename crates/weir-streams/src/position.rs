//! Where a reader starts in a shard: the one resolution of a [`StartingPosition`] that
//! GetShardIterator and SubscribeToShard share (TRIM_HORIZON, LATEST, AT/AFTER_SEQUENCE_NUMBER,
//! AT_TIMESTAMP), with AWS's errors for bad sequence numbers.
//!
//! One position has no record of its own: "before the first record of the shard", which is what
//! a subscription that has delivered nothing yet must hand out as its ContinuationSequenceNumber
//! (clients resubscribe AFTER it). weir's numbers are fixed-width `49|shard|offset`, so that
//! position is written as the decimal number one below the shard's first sequence number — it
//! sorts after every number of lower shards and before every record of this one.

use crate::data::StartingPosition;
use crate::error::{Error, Result};
use crate::model::{ShardMeta, StreamMeta};
use crate::service::{Stream, StreamService};
use weir_core::{SequenceNumber, ShardId};

/// A resolved starting point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedPosition {
    pub offset: u64,
    /// An AT_TIMESTAMP still in the future: records arriving before it are skipped.
    pub min_arrival_millis: i64,
    /// The service time the position was resolved at.
    pub now_millis: i64,
}

/// The continuation number for "nothing of this shard yet": one below its first record's.
pub fn before_first(shard: ShardId) -> String {
    let mut digits = SequenceNumber::new(shard, 0).to_string().into_bytes();
    // Decimal minus one; the number is "49…" so it never underflows.
    for d in digits.iter_mut().rev() {
        if *d == b'0' {
            *d = b'9';
        } else {
            *d -= 1;
            break;
        }
    }
    String::from_utf8(digits).expect("ASCII digits")
}

/// The continuation number of a reader whose next offset is `next`.
pub fn continuation(shard: ShardId, next: u64) -> String {
    match next.checked_sub(1) {
        Some(last) => SequenceNumber::new(shard, last).to_string(),
        None => before_first(shard),
    }
}

impl StreamService {
    /// Resolves `position` in `shard` of `stream`; `api` names the operation in error messages.
    pub(crate) fn resolve_position(
        &self,
        stream: &Stream,
        meta: &StreamMeta,
        shard: &ShardMeta,
        position: StartingPosition,
        api: &str,
    ) -> Result<ResolvedPosition> {
        let key = StreamService::shard_key(stream, shard.index);
        let bounds = self.inner.store.bounds(key)?;
        let parse_seq = |s: &str| -> Result<Option<u64>> {
            if s == before_first(shard.id()) {
                return Ok(None);
            }
            let seq = SequenceNumber::parse(s).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "StartingSequenceNumber {s} used in {api} on shard {} in stream {} under account {} is invalid.",
                    shard.id(), stream.name, self.config().account_id
                ))
            })?;
            if seq.shard != shard.id() {
                return Err(Error::InvalidArgument(format!(
                    "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                    seq.shard,
                    shard.id()
                )));
            }
            Ok(Some(seq.offset))
        };
        let end = shard
            .closed_end_offset
            .unwrap_or(bounds.end_offset)
            .max(bounds.end_offset);
        let now = self.now_millis();
        // A timestamp still in the future cannot be resolved to an offset yet: the reader
        // carries it and skips what arrives before it.
        let min_arrival_millis = match position {
            StartingPosition::AtTimestamp(t) if t > now => t,
            _ => 0,
        };
        // Records past the retention but still in a segment too new to delete are not served.
        let horizon = now - meta.retention_hours as i64 * 3_600_000;
        let start = if horizon > meta.created_millis {
            bounds
                .start_offset
                .max(self.inner.store.offset_at_timestamp(key, horizon)?)
        } else {
            bounds.start_offset
        };
        let offset = match position {
            StartingPosition::TrimHorizon => start,
            StartingPosition::Latest => bounds.end_offset,
            StartingPosition::AtSequenceNumber(s) => parse_seq(&s)?.unwrap_or(0),
            StartingPosition::AfterSequenceNumber(s) => {
                parse_seq(&s)?.map_or(0, |o| o.saturating_add(1))
            }
            StartingPosition::AtTimestamp(t) => self.inner.store.offset_at_timestamp(key, t)?,
        }
        .clamp(start, end);
        Ok(ResolvedPosition {
            offset,
            min_arrival_millis,
            now_millis: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_first_is_one_below_the_first_number() {
        let first = SequenceNumber::new(ShardId(3), 0).to_string();
        let before = before_first(ShardId(3));
        assert_eq!(before.len(), first.len());
        assert!(before < first);
        assert!(before > SequenceNumber::new(ShardId(2), u64::MAX).to_string());
        assert_eq!(before_first(ShardId(0)), format!("48{}", "9".repeat(30)));
        assert_eq!(
            continuation(ShardId(1), 5),
            SequenceNumber::new(ShardId(1), 4).to_string()
        );
    }
}
