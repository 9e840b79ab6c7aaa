//! Mappings and their checkpoints in the metadata store.
//!
//! Tables: `event_source_mappings` (key = UUID) and `mapping_checkpoints` (key =
//! `<uuid>/<stream uid>/<shard index>`): a stream deleted and created again under the same name
//! is a new incarnation and starts without checkpoints.

use super::model::{Checkpoint, EventSourceMapping};
use crate::{Error, Result};
use std::sync::Arc;
use weir_storage::metadata::{Expect, MetaOp};
use weir_storage::MetadataStore;

const MAPPINGS: &str = "event_source_mappings";
const CHECKPOINTS: &str = "mapping_checkpoints";

#[derive(Clone)]
pub(crate) struct Store {
    meta: Arc<dyn MetadataStore>,
}

impl Store {
    pub fn new(meta: Arc<dyn MetadataStore>) -> Self {
        Self { meta }
    }

    pub fn get(&self, uuid: &str) -> Result<Option<EventSourceMapping>> {
        match self.meta.get(MAPPINGS, uuid)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v.value)
                .map(Some)
                .map_err(|e| Error::Internal(format!("stored mapping {uuid} is unreadable: {e}"))),
        }
    }

    pub fn list(&self) -> Result<Vec<EventSourceMapping>> {
        Ok(self
            .meta
            .list(MAPPINGS)?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v.value).ok())
            .collect())
    }

    pub fn put(&self, m: &EventSourceMapping) -> Result<()> {
        let value = serde_json::to_vec(m).map_err(|e| Error::Internal(e.to_string()))?;
        self.meta.transact(vec![MetaOp::Put {
            table: MAPPINGS.into(),
            key: m.uuid.clone(),
            value,
            expect: Expect::Any,
        }])?;
        Ok(())
    }

    /// Deletes the mapping and every checkpoint it has.
    pub fn delete(&self, uuid: &str) -> Result<()> {
        let prefix = format!("{uuid}/");
        let mut ops = vec![MetaOp::Delete {
            table: MAPPINGS.into(),
            key: uuid.into(),
            expect: Expect::Any,
        }];
        for (key, _) in self.meta.list(CHECKPOINTS)? {
            if key.starts_with(&prefix) {
                ops.push(MetaOp::Delete {
                    table: CHECKPOINTS.into(),
                    key,
                    expect: Expect::Any,
                });
            }
        }
        self.meta.transact(ops)?;
        Ok(())
    }

    pub fn checkpoint(
        &self,
        uuid: &str,
        stream_uid: u64,
        shard: u32,
    ) -> Result<Option<Checkpoint>> {
        match self.meta.get(CHECKPOINTS, &key(uuid, stream_uid, shard))? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v.value)
                .map(Some)
                .map_err(|e| Error::Internal(format!("a checkpoint of {uuid} is unreadable: {e}"))),
        }
    }

    pub fn save_checkpoint(
        &self,
        uuid: &str,
        stream_uid: u64,
        shard: u32,
        cp: &Checkpoint,
    ) -> Result<()> {
        let value = serde_json::to_vec(cp).map_err(|e| Error::Internal(e.to_string()))?;
        self.meta.transact(vec![MetaOp::Put {
            table: CHECKPOINTS.into(),
            key: key(uuid, stream_uid, shard),
            value,
            expect: Expect::Any,
        }])?;
        Ok(())
    }
}

fn key(uuid: &str, stream_uid: u64, shard: u32) -> String {
    format!("{uuid}/{stream_uid}/{shard}")
}
