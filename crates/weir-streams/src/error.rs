//! The stream service's errors, one variant per AWS error type the service can raise. The message
//! is the one AWS sends; the front end maps each variant to its wire type and HTTP status.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    ExpiredIterator(String),
    #[error("{0}")]
    ExpiredNextToken(String),
    #[error("{0}")]
    ProvisionedThroughputExceeded(String),
    #[error("{0}")]
    AccessDenied(String),
    /// A fault of weir itself or of its disk; the client may retry.
    #[error("{0}")]
    Internal(String),
}

impl From<weir_storage::Error> for Error {
    fn from(e: weir_storage::Error) -> Self {
        // I/O trouble (a full or failing disk) is logged once per episode by the store.
        if matches!(e, weir_storage::Error::Io(_)) {
            tracing::debug!(error = %e, "storage error");
        } else {
            tracing::error!(error = %e, "storage error");
        }
        Error::Internal(format!("Internal service failure: {e}"))
    }
}
