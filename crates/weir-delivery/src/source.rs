//! Where a pipeline's records come from, and how far it has delivered them.
//!
//! Both sources are shards of a [`StreamStore`]: a DirectPut delivery stream owns one internal
//! shard (in the delivery store, which the Kinesis APIs cannot see), a KinesisStreamAsSource
//! delivery stream reads every shard of a weir stream. The reader keeps two positions per shard:
//! how far it has *read* (in memory) and how far records are *delivered* (the checkpoint, in the
//! metadata store). Only the pipeline moves checkpoints, and only after the objects holding the
//! records are written, so a crash re-reads at most what was in flight: at-least-once.
//!
//! Resharding: a child shard is read only once every parent is closed and checkpointed to its
//! end, so a partition key's records reach the destination in order across a reshard.

use crate::model::{Error, Result};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;
use weir_core::SequenceNumber;
use weir_storage::{Expect, MetaOp, MetadataStore, ShardKey, StreamStore};
use weir_streams::StreamService;

pub(crate) const CHECKPOINTS: &str = "delivery-checkpoints";

/// Records read per shard and step.
const READ_RECORDS: usize = 10_000;
const READ_BYTES: usize = 16 << 20;

/// A record as the pipeline receives it.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// Source shard index and offset.
    pub shard: u32,
    pub offset: u64,
    pub arrival_millis: i64,
    pub partition_key: String,
    pub data: Bytes,
    /// Kinesis sources: the record's sequence number.
    pub sequence_number: Option<String>,
}

pub enum SourceKind {
    /// The delivery stream's own shard in the delivery store.
    DirectPut {
        store: Arc<dyn StreamStore>,
        stream: u64,
    },
    /// A weir Kinesis stream, read from the stream store directly.
    Kinesis {
        streams: StreamService,
        stream_name: String,
        start_millis: i64,
    },
}

struct ShardState {
    key: ShardKey,
    next: u64,
    /// Closed shard: one past its last offset.
    closed_end: Option<u64>,
    parents: Vec<u32>,
}

pub struct SourceReader {
    kind: SourceKind,
    meta: Arc<dyn MetadataStore>,
    /// Checkpoint key prefix of this delivery stream (and source stream incarnation).
    cp_prefix: String,
    delivery_uid: u64,
    shards: BTreeMap<u32, ShardState>,
    /// Delivered positions, as persisted.
    committed: BTreeMap<u32, u64>,
    source_uid: Option<u64>,
}

impl SourceReader {
    pub fn new(kind: SourceKind, meta: Arc<dyn MetadataStore>, delivery_uid: u64) -> Self {
        Self {
            kind,
            meta,
            cp_prefix: String::new(),
            delivery_uid,
            shards: BTreeMap::new(),
            committed: BTreeMap::new(),
            source_uid: None,
        }
    }

    pub fn is_kinesis(&self) -> bool {
        matches!(self.kind, SourceKind::Kinesis { .. })
    }

    /// ARN-ish shard id text for records (Lambda metadata).
    pub fn shard_id(shard: u32) -> String {
        weir_core::ShardId(shard).to_string()
    }

    /// Brings the shard set up to date (new shards after a reshard, a re-created stream).
    fn refresh(&mut self) -> Result<()> {
        match &self.kind {
            SourceKind::DirectPut { store, stream } => {
                if self.shards.is_empty() {
                    let key = ShardKey {
                        stream: *stream,
                        shard: 0,
                    };
                    store.create_shard(key)?;
                    self.cp_prefix = format!("{:020}/d/", self.delivery_uid);
                    self.load_committed()?;
                    let next = self.committed.get(&0).copied().unwrap_or(0);
                    self.shards.insert(
                        0,
                        ShardState {
                            key,
                            next,
                            closed_end: None,
                            parents: Vec::new(),
                        },
                    );
                }
            }
            SourceKind::Kinesis {
                streams,
                stream_name,
                start_millis,
            } => {
                let (streams, stream_name, start_millis) =
                    (streams.clone(), stream_name.clone(), *start_millis);
                let start_millis = &start_millis;
                let Ok(stream) = streams.stream_by_name(&stream_name) else {
                    self.shards.clear();
                    return Ok(());
                };
                if self.source_uid != Some(stream.uid) {
                    self.source_uid = Some(stream.uid);
                    self.shards.clear();
                    self.cp_prefix = format!("{:020}/k{}/", self.delivery_uid, stream.uid);
                    self.load_committed()?;
                }
                let meta = stream.meta();
                for s in &meta.shards {
                    let key = ShardKey {
                        stream: stream.uid,
                        shard: s.index,
                    };
                    let entry = self.shards.entry(s.index);
                    let state = match entry {
                        std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::btree_map::Entry::Vacant(v) => {
                            let next = match self.committed.get(&s.index) {
                                Some(c) => *c,
                                None if s.created_millis <= *start_millis => streams
                                    .store()
                                    .offset_at_timestamp(key, *start_millis)
                                    .unwrap_or(0),
                                None => 0,
                            };
                            v.insert(ShardState {
                                key,
                                next,
                                closed_end: None,
                                parents: s.parent.into_iter().chain(s.adjacent_parent).collect(),
                            })
                        }
                    };
                    state.closed_end = s.closed_end_offset;
                }
            }
        }
        Ok(())
    }

    fn load_committed(&mut self) -> Result<()> {
        self.committed.clear();
        for (k, v) in self.meta.list(CHECKPOINTS)? {
            if let Some(rest) = k.strip_prefix(&self.cp_prefix) {
                if let (Ok(shard), Ok(off)) =
                    (rest.parse::<u32>(), serde_json::from_slice::<u64>(&v.value))
                {
                    self.committed.insert(shard, off);
                }
            }
        }
        Ok(())
    }

    fn delivered_to_end(&self, shard: u32) -> bool {
        match self.shards.get(&shard) {
            // A parent the stream no longer lists (expired): nothing left to deliver.
            None => true,
            Some(s) => match s.closed_end {
                None => false,
                Some(end) => {
                    let start = self.committed.get(&shard).copied().unwrap_or(0);
                    start >= end
                        || self
                            .store()
                            .bounds(s.key)
                            .map(|b| b.end_offset <= start)
                            .unwrap_or(true)
                }
            },
        }
    }

    fn store(&self) -> &Arc<dyn StreamStore> {
        match &self.kind {
            SourceKind::DirectPut { store, .. } => store,
            SourceKind::Kinesis { streams, .. } => streams.store(),
        }
    }

    /// Reads what is readable from every shard that may be read now, advancing read positions.
    pub fn read(&mut self) -> Result<Vec<SourceRecord>> {
        self.refresh()?;
        let ready: Vec<u32> = self
            .shards
            .iter()
            .filter(|(_, s)| s.parents.iter().all(|p| self.delivered_to_end(*p)))
            .map(|(i, _)| *i)
            .collect();
        let mut out = Vec::new();
        let is_kinesis = self.is_kinesis();
        let store = self.store().clone();
        for index in ready {
            let Some(s) = self.shards.get_mut(&index) else {
                continue;
            };
            if s.closed_end.is_some_and(|end| s.next >= end) {
                continue;
            }
            let batch = match store.read(s.key, s.next, READ_RECORDS, READ_BYTES) {
                Ok(b) => b,
                Err(weir_storage::Error::NoSuchShard(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            for r in batch.records {
                if s.closed_end.is_some_and(|end| r.offset >= end) {
                    break;
                }
                s.next = r.offset + 1;
                out.push(SourceRecord {
                    shard: index,
                    offset: r.offset,
                    arrival_millis: r.arrival_millis,
                    partition_key: r.partition_key,
                    sequence_number: is_kinesis.then(|| {
                        SequenceNumber::new(weir_core::ShardId(index), r.offset).to_string()
                    }),
                    data: r.data,
                });
            }
            if batch.next_offset > s.next && s.closed_end.is_none_or(|end| batch.next_offset <= end)
            {
                // Trimmed records the read skipped over.
                s.next = batch.next_offset;
            }
        }
        Ok(out)
    }

    /// How far each shard has been read.
    pub fn read_positions(&self) -> BTreeMap<u32, u64> {
        self.shards.iter().map(|(i, s)| (*i, s.next)).collect()
    }

    /// Persists checkpoints that moved forward (`positions`: next offset to deliver per shard).
    pub fn commit(&mut self, positions: &BTreeMap<u32, u64>) -> Result<()> {
        let mut ops = Vec::new();
        for (shard, pos) in positions {
            if self.committed.get(shard).is_some_and(|c| c >= pos) {
                continue;
            }
            ops.push(MetaOp::Put {
                table: CHECKPOINTS.into(),
                key: format!("{}{shard}", self.cp_prefix),
                value: serde_json::to_vec(pos).map_err(|e| Error::Internal(e.to_string()))?,
                expect: Expect::Any,
            });
        }
        if ops.is_empty() {
            return Ok(());
        }
        self.meta.transact(ops)?;
        for (shard, pos) in positions {
            let c = self.committed.entry(*shard).or_insert(0);
            *c = (*c).max(*pos);
        }
        self.trim_delivered();
        Ok(())
    }

    /// DirectPut: drops the delivery store's segments that hold only delivered records. The
    /// store trims by arrival time; arrival times never decrease within a shard, so every
    /// record that arrived before the first undelivered one is delivered.
    fn trim_delivered(&mut self) {
        let SourceKind::DirectPut { store, .. } = &self.kind else {
            return;
        };
        for (shard, s) in &self.shards {
            let Some(cp) = self.committed.get(shard).copied() else {
                continue;
            };
            let before = match store.read(s.key, cp, 1, 1) {
                Ok(b) => match b.records.first() {
                    Some(r) => r.arrival_millis,
                    // Everything is delivered: the store keeps its newest segment anyway.
                    None => i64::MAX,
                },
                Err(_) => continue,
            };
            if let Err(e) = store.trim(s.key, before) {
                tracing::warn!(error = %e, "trimming delivered records failed");
            }
        }
    }

    /// Receivers that change when any readable shard grows (the pipeline's wake-up).
    pub fn watchers(&self) -> Vec<tokio::sync::watch::Receiver<u64>> {
        let store = self.store();
        self.shards
            .values()
            .filter_map(|s| store.watch_end(s.key).ok())
            .collect()
    }
}

/// Removes every checkpoint of a delivery stream.
pub(crate) fn delete_checkpoints(meta: &dyn MetadataStore, uid: u64) -> Result<()> {
    let prefix = format!("{uid:020}/");
    let ops: Vec<MetaOp> = meta
        .list(CHECKPOINTS)?
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| MetaOp::Delete {
            table: CHECKPOINTS.into(),
            key: k,
            expect: Expect::Any,
        })
        .collect();
    if !ops.is_empty() {
        meta.transact(ops)?;
    }
    Ok(())
}
