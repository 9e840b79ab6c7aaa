//! Shapes shared by several Kinesis operations, named as in the service model.

use crate::validate::Violations;
use serde::{Deserialize, Serialize};
use weir_streams::{ShardView, StreamRef};

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct StreamModeDetailsIn {
    pub stream_mode: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamModeDetails {
    pub stream_mode: &'static str,
}

pub const STREAM_MODES: [&str; 2] = ["PROVISIONED", "ON_DEMAND"];

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HashKeyRange {
    pub starting_hash_key: String,
    pub ending_hash_key: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SequenceNumberRange {
    pub starting_sequence_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending_sequence_number: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Shard {
    pub shard_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjacent_parent_shard_id: Option<String>,
    pub hash_key_range: HashKeyRange,
    pub sequence_number_range: SequenceNumberRange,
}

impl From<ShardView> for Shard {
    fn from(s: ShardView) -> Self {
        Shard {
            shard_id: s.shard_id,
            parent_shard_id: s.parent_shard_id,
            adjacent_parent_shard_id: s.adjacent_parent_shard_id,
            hash_key_range: HashKeyRange {
                starting_hash_key: s.starting_hash_key,
                ending_hash_key: s.ending_hash_key,
            },
            sequence_number_range: SequenceNumberRange {
                starting_sequence_number: s.starting_sequence_number,
                ending_sequence_number: s.ending_sequence_number,
            },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnhancedMetrics {
    pub shard_level_metrics: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChildShard {
    pub shard_id: String,
    pub parent_shards: Vec<String>,
    pub hash_key_range: HashKeyRange,
}

impl From<weir_streams::ChildShard> for ChildShard {
    fn from(c: weir_streams::ChildShard) -> Self {
        ChildShard {
            shard_id: c.shard_id,
            parent_shards: c.parent_shards,
            hash_key_range: HashKeyRange {
                starting_hash_key: c.starting_hash_key,
                ending_hash_key: c.ending_hash_key,
            },
        }
    }
}

/// The addressing members most stream-scoped operations share.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Addressing {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub stream_id: Option<String>,
}

impl Addressing {
    /// Model checks of StreamName / StreamARN / StreamId (streamName reported last, as AWS does).
    pub fn validate(&self, v: &mut Violations) {
        v.stream_arn("streamARN", &self.stream_arn);
        if let Some(id) = &self.stream_id {
            v.str_len("streamId", id, 1, 24);
        }
        v.stream_name("streamName", &self.stream_name);
    }

    pub fn to_ref(&self) -> StreamRef {
        StreamRef {
            name: self.stream_name.clone(),
            arn: self.stream_arn.clone(),
        }
    }
}

/// Tag keys and values as AWS checks them: `\p{L}\p{Z}\p{N}_.:/=+\-@` and `%` refused.
pub fn tag_chars_ok(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_alphanumeric()
            || c == ' '
            || c.is_whitespace() && !c.is_control()
            || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
    })
}
