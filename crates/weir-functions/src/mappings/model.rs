//! An event-source mapping as stored, and its per-shard checkpoint.

use serde::{Deserialize, Serialize};

/// Lambda's defaults and limits for Kinesis event sources.
pub const DEFAULT_BATCH_SIZE: u32 = 100;
pub const MAX_BATCH_SIZE: u32 = 10_000;
pub const MAX_BATCHING_WINDOW_SECS: u32 = 300;
pub const MAX_PARALLELIZATION: u32 = 10;
pub const MAX_RETRY_ATTEMPTS: i32 = 10_000;
pub const MAX_RECORD_AGE_SECS: i32 = 604_800;
pub const MIN_RECORD_AGE_SECS: i32 = 60;
pub const MAX_TUMBLING_WINDOW_SECS: u32 = 900;
/// A batch's payload may not exceed the synchronous invocation limit.
pub const MAX_BATCH_PAYLOAD_BYTES: usize = crate::model::MAX_SYNC_PAYLOAD_BYTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartingPosition {
    #[serde(rename = "TRIM_HORIZON")]
    TrimHorizon,
    #[serde(rename = "LATEST")]
    Latest,
    #[serde(rename = "AT_TIMESTAMP")]
    AtTimestamp,
}

impl StartingPosition {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "TRIM_HORIZON" => Some(Self::TrimHorizon),
            "LATEST" => Some(Self::Latest),
            "AT_TIMESTAMP" => Some(Self::AtTimestamp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TrimHorizon => "TRIM_HORIZON",
            Self::Latest => "LATEST",
            Self::AtTimestamp => "AT_TIMESTAMP",
        }
    }
}

/// A stored mapping (Lambda's `EventSourceMappingConfiguration`, in weir's words).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSourceMapping {
    pub uuid: String,
    pub function_arn: String,
    pub event_source_arn: String,
    pub stream_name: String,
    pub batch_size: u32,
    pub max_batching_window_secs: u32,
    pub starting_position: StartingPosition,
    /// Epoch milliseconds, for AT_TIMESTAMP.
    pub starting_position_timestamp: Option<i64>,
    pub parallelization_factor: u32,
    pub bisect_on_error: bool,
    /// -1 = retry until the records expire.
    pub max_retry_attempts: i32,
    /// -1 = no limit.
    pub max_record_age_secs: i32,
    pub on_failure: Option<String>,
    pub report_batch_item_failures: bool,
    pub tumbling_window_secs: u32,
    /// FilterCriteria patterns, as given (JSON texts).
    pub filters: Vec<String>,
    pub enabled: bool,
    pub last_modified_millis: i64,
    pub last_processing_result: String,
    /// Epoch milliseconds the mapping was created: where LATEST starts, across restarts.
    pub created_millis: i64,
}

impl EventSourceMapping {
    pub fn state(&self) -> &'static str {
        if self.enabled {
            "Enabled"
        } else {
            "Disabled"
        }
    }
}

/// Where a mapping stands in one shard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The next offset to process.
    pub offset: u64,
    /// The shard is closed and fully processed: its children may start.
    pub finished: bool,
    /// The open tumbling window: its start (epoch ms) and the state the function returned.
    pub window: Option<WindowState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowState {
    pub start_millis: i64,
    pub state: serde_json::Value,
}
