//! The persistent shape of streams and shards, as stored (JSON) in the metadata store.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use weir_core::{HashKeyRange, ShardId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamStatus {
    Creating,
    Deleting,
    Active,
    Updating,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Deleting => "DELETING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamMode {
    Provisioned,
    OnDemand,
}

impl StreamMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Provisioned => "PROVISIONED",
            StreamMode::OnDemand => "ON_DEMAND",
        }
    }
}

/// One shard of a stream, open or closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub index: u32,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    /// Hash-key range as decimal strings (u128 does not survive every JSON reader).
    pub starting_hash_key: String,
    pub ending_hash_key: String,
    pub created_millis: i64,
    /// Set when the shard is closed by resharding: one past its last offset.
    pub closed_end_offset: Option<u64>,
    pub closed_millis: Option<i64>,
}

impl ShardMeta {
    pub fn id(&self) -> ShardId {
        ShardId(self.index)
    }
    pub fn range(&self) -> HashKeyRange {
        HashKeyRange {
            start: self.starting_hash_key.parse().unwrap_or(0),
            end: self.ending_hash_key.parse().unwrap_or(u128::MAX),
        }
    }
    pub fn is_open(&self) -> bool {
        self.closed_end_offset.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    pub encryption_type: String,
    pub key_id: Option<String>,
}

/// Everything weir knows about one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    /// Internal id of this incarnation of the stream; the storage key of its shards.
    pub uid: u64,
    pub name: String,
    pub status: StreamStatus,
    pub mode: StreamMode,
    pub created_millis: i64,
    pub retention_hours: u32,
    pub shards: Vec<ShardMeta>,
    pub next_shard_index: u32,
    pub tags: BTreeMap<String, String>,
    pub enhanced_metrics: Vec<String>,
    pub encryption: Option<Encryption>,
    pub max_record_size_kib: u32,
    pub warm_throughput_mibps: Option<u32>,
    /// When UpdateShardCount ran, for AWS's ten-per-rolling-24-hours quota.
    #[serde(default)]
    pub shard_count_updates: Vec<i64>,
}

impl StreamMeta {
    pub fn open_shard_count(&self) -> usize {
        self.shards.iter().filter(|s| s.is_open()).count()
    }
    pub fn shard(&self, index: u32) -> Option<&ShardMeta> {
        self.shards.iter().find(|s| s.index == index)
    }
}

/// Account-wide settings kept by the service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSettings {
    /// MinimumThroughputBillingCommitment status: ENABLED / DISABLED; accepted and echoed.
    pub minimum_throughput_billing_commitment: Option<String>,
    pub commitment_started_millis: Option<i64>,
}
