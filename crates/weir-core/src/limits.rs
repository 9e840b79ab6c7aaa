//! AWS's Kinesis Data Streams limits, as named constants with AWS's values.

/// Default record size limit (data + partition key), 1 MiB; `UpdateMaxRecordSize` raises it.
pub const DEFAULT_MAX_RECORD_SIZE_KIB: u32 = 1024;
pub const MIN_MAX_RECORD_SIZE_KIB: u32 = 1024;
pub const MAX_MAX_RECORD_SIZE_KIB: u32 = 10240;
/// The model's `Data` blob maximum.
pub const MAX_DATA_BYTES: usize = 10 * 1024 * 1024;
pub const MAX_PARTITION_KEY_CHARS: usize = 256;
pub const MAX_PUT_RECORDS_ENTRIES: usize = 500;
/// PutRecords request limit for the whole request (data + partition keys): 10 MiB since records
/// grew to 10 MiB; 5 MiB for streams left at the default 1 MiB record size.
pub const MAX_PUT_RECORDS_REQUEST_BYTES: usize = 10 * 1024 * 1024;
pub const DEFAULT_PUT_RECORDS_REQUEST_BYTES: usize = 5 * 1024 * 1024;
/// The largest HTTP body weir reads for any Kinesis call (a 10 MiB PutRecords in base64 is ~13.4 MiB).
pub const MAX_REQUEST_BODY_BYTES: usize = 16 * 1024 * 1024;

pub const MAX_STREAM_NAME_LEN: usize = 128;
pub const MAX_SHARD_ID_LEN: usize = 128;
pub const MAX_ARN_LEN: usize = 2048;
pub const MAX_SHARD_ITERATOR_LEN: usize = 512;

pub const DEFAULT_RETENTION_HOURS: u32 = 24;
pub const MIN_RETENTION_HOURS: u32 = 24;
pub const MAX_RETENTION_HOURS: u32 = 8760;

/// The account shard quota AWS reports in DescribeLimits (default for most regions).
pub const DEFAULT_SHARD_LIMIT: u32 = 500;
pub const DEFAULT_ON_DEMAND_STREAM_LIMIT: u32 = 50;
pub const ON_DEMAND_INITIAL_SHARDS: u32 = 4;
pub const MAX_SHARDS_PER_STREAM: u32 = 10_000;

pub const GET_RECORDS_MAX_LIMIT: u32 = 10_000;
pub const GET_RECORDS_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;
pub const ITERATOR_LIFETIME_MILLIS: i64 = 300_000;
pub const NEXT_TOKEN_LIFETIME_MILLIS: i64 = 300_000;

pub const DESCRIBE_STREAM_MAX_SHARDS: u32 = 100;
pub const LIST_SHARDS_MAX_RESULTS: u32 = 1000;
pub const LIST_STREAMS_MAX_LIMIT: u32 = 100;
pub const LIST_TAGS_FOR_STREAM_MAX_LIMIT: u32 = 50;

pub const MAX_TAGS_PER_STREAM: usize = 50;
pub const MAX_TAG_KEY_LEN: usize = 128;
pub const MAX_TAG_VALUE_LEN: usize = 256;

/// Per-shard write and read throughput (enforced by the throughput-limits layer).
pub const SHARD_WRITE_BYTES_PER_SEC: u64 = 1024 * 1024;
pub const SHARD_WRITE_RECORDS_PER_SEC: u64 = 1000;
pub const SHARD_READ_BYTES_PER_SEC: u64 = 2 * 1024 * 1024;
pub const SHARD_READ_CALLS_PER_SEC: u64 = 5;
