//! Storage errors. Each says whether it is the caller's fault and whether a retry may succeed.

use std::io;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("shard {0:?} does not exist")]
    NoSuchShard(crate::ShardKey),
    #[error("shard {0:?} is closed to appends")]
    Sealed(crate::ShardKey),
    #[error("metadata version conflict on {table}/{key}")]
    Conflict { table: String, key: String },
    #[error("corrupt data in {path}: {detail}")]
    Corrupt { path: String, detail: String },
    #[error("storage I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("metadata store error: {0}")]
    Metadata(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("invalid request to the store: {0}")]
    Invalid(String),
}

impl Error {
    /// Whether retrying the same call later may succeed (I/O trouble, a full disk, a conflict).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Io(_) | Error::Conflict { .. } | Error::Closed)
    }
}
