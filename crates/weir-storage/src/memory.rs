//! [`MemoryStore`]: the [`StreamStore`] contract held in memory, for tests and ephemeral runs.
//!
//! Every append is durable (and visible) at once. Trimming drops individual records older than
//! the cut-off rather than whole segments, which the contract allows ("whole segments" is a
//! lower bound on what the local engine keeps), except that the newest record is always kept,
//! like the local engine never deletes its active segment.

use crate::{
    Appended, DurableWait, Error, ReadBatch, RecordIn, Result, ShardBounds, ShardKey, StoredRecord,
    StreamStore,
};
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::watch;
use weir_core::Clock;

struct MemShard {
    start: u64,
    records: VecDeque<StoredRecord>,
    last_millis: Option<i64>,
    end_tx: watch::Sender<u64>,
    sealed: bool,
}

impl MemShard {
    fn end(&self) -> u64 {
        self.start + self.records.len() as u64
    }
}

pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    shards: RwLock<BTreeMap<ShardKey, Arc<Mutex<MemShard>>>>,
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryStore {
            clock,
            shards: RwLock::new(BTreeMap::new()),
        }
    }

    fn shard(&self, key: ShardKey) -> Result<Arc<Mutex<MemShard>>> {
        self.shards
            .read()
            .get(&key)
            .cloned()
            .ok_or(Error::NoSuchShard(key))
    }
}

impl StreamStore for MemoryStore {
    fn unseal(&self, key: ShardKey) -> Result<()> {
        self.shard(key)?.lock().sealed = false;
        Ok(())
    }

    fn seal(&self, key: ShardKey) -> Result<u64> {
        let shard = self.shard(key)?;
        let mut s = shard.lock();
        s.sealed = true;
        Ok(s.end())
    }

    fn create_shard(&self, shard: ShardKey) -> Result<()> {
        self.shards.write().entry(shard).or_insert_with(|| {
            let (end_tx, _) = watch::channel(0);
            Arc::new(Mutex::new(MemShard {
                start: 0,
                records: VecDeque::new(),
                last_millis: None,
                end_tx,
                sealed: false,
            }))
        });
        Ok(())
    }

    fn append(&self, key: ShardKey, records: &[RecordIn<'_>]) -> Result<Appended> {
        if records.is_empty() {
            return Err(Error::Invalid("an append needs at least one record".into()));
        }
        let shard = self.shard(key)?;
        let now = self.clock.now_millis();
        let mut s = shard.lock();
        if s.sealed {
            return Err(Error::Sealed(key));
        }
        let millis = s.last_millis.map_or(now, |l| l.max(now));
        let first_offset = s.end();
        for (i, r) in records.iter().enumerate() {
            s.records.push_back(StoredRecord {
                offset: first_offset + i as u64,
                arrival_millis: millis,
                partition_key: r.partition_key.to_string(),
                explicit_hash_key: r.explicit_hash_key,
                data: Bytes::copy_from_slice(r.data),
            });
        }
        s.last_millis = Some(millis);
        let end = s.end();
        s.end_tx.send_replace(end);
        Ok(Appended {
            first_offset,
            arrival_millis: millis,
            durable: DurableWait::ready(),
        })
    }

    fn read(
        &self,
        key: ShardKey,
        from_offset: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<ReadBatch> {
        let shard = self.shard(key)?;
        let s = shard.lock();
        let from = from_offset.max(s.start);
        let mut out = ReadBatch {
            records: Vec::new(),
            next_offset: from,
        };
        let mut bytes = 0;
        let skip = (from - s.start).min(s.records.len() as u64) as usize;
        for r in s.records.iter().skip(skip).take(max_records) {
            let b = r.billed_len();
            if !out.records.is_empty() && bytes + b > max_bytes {
                break;
            }
            bytes += b;
            out.next_offset = r.offset + 1;
            out.records.push(r.clone());
        }
        Ok(out)
    }

    fn bounds(&self, key: ShardKey) -> Result<ShardBounds> {
        let shard = self.shard(key)?;
        let s = shard.lock();
        Ok(ShardBounds {
            start_offset: s.start,
            end_offset: s.end(),
            last_arrival_millis: s.records.back().map(|r| r.arrival_millis),
        })
    }

    fn offset_at_timestamp(&self, key: ShardKey, at_millis: i64) -> Result<u64> {
        let shard = self.shard(key)?;
        let s = shard.lock();
        let i = s.records.partition_point(|r| r.arrival_millis < at_millis);
        Ok(s.start + i as u64)
    }

    fn watch_end(&self, key: ShardKey) -> Result<watch::Receiver<u64>> {
        Ok(self.shard(key)?.lock().end_tx.subscribe())
    }

    fn trim(&self, key: ShardKey, before_millis: i64) -> Result<u64> {
        let shard = self.shard(key)?;
        let mut s = shard.lock();
        while s.records.len() > 1
            && s.records
                .front()
                .is_some_and(|r| r.arrival_millis < before_millis)
        {
            s.records.pop_front();
            s.start += 1;
        }
        Ok(s.start)
    }

    fn delete_stream(&self, stream: u64) -> Result<()> {
        self.shards.write().retain(|k, _| k.stream != stream);
        Ok(())
    }

    fn shards(&self) -> Vec<ShardKey> {
        self.shards.read().keys().copied().collect()
    }

    fn sync_all(&self) -> Result<()> {
        Ok(())
    }
}
