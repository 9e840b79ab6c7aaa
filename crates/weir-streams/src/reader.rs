//! Reading a stream from inside weir — event-source mappings, delivery streams — by offset,
//! without iterators (which expire) or read throttling (internal consumers are not clients).
//!
//! A consumer asks for the stream's [`Lineage`] (every shard with its parents and, when closed,
//! its end), reads each shard from a checkpointed offset with [`StreamService::read_shard`], and
//! starts a child only when all of its parents are finished — the order KCL keeps, so records of
//! one partition key are processed in order across a reshard.

use crate::service::StreamService;
use crate::{Error, Result};
use weir_core::ShardId;
use weir_storage::{ShardKey, StoredRecord};

/// One shard of a stream incarnation, as an internal consumer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageShard {
    pub index: u32,
    pub id: String,
    pub parents: Vec<u32>,
    /// One past the last offset, once resharding closed the shard.
    pub closed_end_offset: Option<u64>,
}

/// Every shard of a stream incarnation.
#[derive(Debug, Clone)]
pub struct Lineage {
    /// The incarnation: a stream deleted and created again under the same name gets a new uid.
    pub stream_uid: u64,
    pub stream_name: String,
    pub shards: Vec<LineageShard>,
}

/// Where a shard consumer starts when it has no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    TrimHorizon,
    Latest,
    Timestamp(i64),
}

/// What [`StreamService::read_shard`] returns.
#[derive(Debug)]
pub struct ShardRead {
    pub records: Vec<StoredRecord>,
    pub next_offset: u64,
    /// The shard is closed and everything in it has been read.
    pub finished: bool,
    /// Milliseconds between the newest record read and the newest record in the shard.
    pub millis_behind: i64,
}

impl StreamService {
    /// The shards of the stream `name` (ACTIVE or UPDATING).
    pub fn lineage(&self, name: &str) -> Result<Lineage> {
        let stream = self.stream_by_name(name)?;
        let meta = stream.meta();
        let shards = meta
            .shards
            .iter()
            .map(|s| LineageShard {
                index: s.index,
                id: ShardId(s.index).to_string(),
                parents: s.parent.into_iter().chain(s.adjacent_parent).collect(),
                closed_end_offset: s.closed_end_offset,
            })
            .collect();
        Ok(Lineage {
            stream_uid: stream.uid,
            stream_name: stream.name.clone(),
            shards,
        })
    }

    /// The offset a consumer without a checkpoint starts at.
    pub fn start_offset(&self, stream_uid: u64, shard: u32, at: StartAt) -> Result<u64> {
        let key = self.internal_key(stream_uid, shard)?;
        let store = self.store();
        Ok(match at {
            StartAt::TrimHorizon => store.bounds(key)?.start_offset,
            StartAt::Latest => store.bounds(key)?.end_offset,
            StartAt::Timestamp(ms) => store.offset_at_timestamp(key, ms)?,
        })
    }

    /// Reads up to `max_records` / `max_bytes` from `from_offset`, skipping what is past the
    /// stream's retention.
    pub fn read_shard(
        &self,
        stream_uid: u64,
        shard: u32,
        from_offset: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<ShardRead> {
        let key = self.internal_key(stream_uid, shard)?;
        let stream = self
            .stream_by_uid(stream_uid)
            .ok_or_else(|| Error::ResourceNotFound("the stream no longer exists".into()))?;
        let routing = stream.routing();
        let store = self.store();
        let now = self.now_millis();
        let horizon = now - routing.retention_hours as i64 * 3_600_000;
        let mut from = from_offset;
        if horizon > routing.created_millis {
            from = from.max(store.offset_at_timestamp(key, horizon)?);
        }
        let batch = store.read(key, from, max_records, max_bytes)?;
        let bounds = store.bounds(key)?;
        let closed_end = routing.shards.get(&shard).and_then(|s| s.closed_end_offset);
        let millis_behind = match (batch.records.last(), bounds.last_arrival_millis) {
            (Some(r), Some(last)) if batch.next_offset < bounds.end_offset => {
                (last - r.arrival_millis).max(0)
            }
            _ => 0,
        };
        Ok(ShardRead {
            finished: closed_end.is_some_and(|end| batch.next_offset >= end),
            next_offset: batch.next_offset,
            records: batch.records,
            millis_behind,
        })
    }

    /// A receiver of the shard's end offset: changes when new records become readable.
    pub fn watch_shard(
        &self,
        stream_uid: u64,
        shard: u32,
    ) -> Result<tokio::sync::watch::Receiver<u64>> {
        let key = self.internal_key(stream_uid, shard)?;
        Ok(self.store().watch_end(key)?)
    }

    fn internal_key(&self, stream_uid: u64, shard: u32) -> Result<ShardKey> {
        let stream = self
            .stream_by_uid(stream_uid)
            .ok_or_else(|| Error::ResourceNotFound("the stream no longer exists".into()))?;
        if !stream.routing().shards.contains_key(&shard) {
            return Err(Error::ResourceNotFound(format!(
                "shard {} of stream {} does not exist",
                ShardId(shard),
                stream.name
            )));
        }
        Ok(StreamService::shard_key(&stream, shard))
    }
}
