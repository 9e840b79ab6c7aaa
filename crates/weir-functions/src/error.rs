//! What can go wrong with a function, saying whose fault it is: the caller's (`NotFound`,
//! `Conflict`, `Invalid`), the function's (reported as an [`crate::InvokeOutcome`] with a function
//! error, never as an `Error`), or weir's own (`Internal`).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No function of that name.
    #[error("Function not found: {0}")]
    NotFound(String),
    /// A function of that name exists already.
    #[error("Function already exist: {0}")]
    Conflict(String),
    /// The definition or the request is not valid; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// The function cannot take more concurrent invocations.
    #[error("Rate Exceeded.")]
    Throttled,
    /// weir could not store or start something.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<weir_storage::Error> for Error {
    fn from(e: weir_storage::Error) -> Self {
        Error::Internal(e.to_string())
    }
}
