//! Domain types of weir that need no I/O.
//!
//! Everything here is pure and cheap: hash keys and their ranges (Kinesis routes a record by the MD5
//! of its partition key read as a big-endian `u128`), shard ids, sequence numbers that decode to
//! `(shard, offset)` without a lookup, AWS's limits as named constants, and the [`Clock`] that all
//! time-dependent behaviour (retention, iterator expiry, buffering) reads so tests can move time.

pub mod clock;
pub mod hash;
pub mod limits;
pub mod sequence;
pub mod shard_id;

pub use clock::{Clock, ManualClock, SystemClock};
pub use hash::{HashKey, HashKeyRange};
pub use sequence::SequenceNumber;
pub use shard_id::ShardId;
