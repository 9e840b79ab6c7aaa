//! AWS-style errors: a wire type name, a message, and the HTTP status that goes with them. This
//! file is the one place where service errors become wire errors.

use weir_streams::Error as ServiceError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
    pub status: u16,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        let status = match code {
            "InternalFailureException" | "InternalFailure" => 500,
            "ServiceUnavailableException" => 503,
            "RequestTimeoutException" => 408,
            "IncompleteSignatureException"
            | "InvalidSignatureException"
            | "UnrecognizedClientException" => 400,
            _ => 400,
        };
        Self {
            code,
            message: message.into(),
            status,
        }
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new("InvalidArgumentException", message)
    }
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("InternalFailureException", message)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let code = match &e {
            ServiceError::ResourceNotFound(_) => "ResourceNotFoundException",
            ServiceError::ResourceInUse(_) => "ResourceInUseException",
            ServiceError::InvalidArgument(_) => "InvalidArgumentException",
            ServiceError::Validation(_) => "ValidationException",
            ServiceError::LimitExceeded(_) => "LimitExceededException",
            ServiceError::ExpiredIterator(_) => "ExpiredIteratorException",
            ServiceError::ExpiredNextToken(_) => "ExpiredNextTokenException",
            ServiceError::ProvisionedThroughputExceeded(_) => {
                "ProvisionedThroughputExceededException"
            }
            ServiceError::AccessDenied(_) => "AccessDeniedException",
            ServiceError::Internal(_) => "InternalFailureException",
        };
        ApiError::new(code, e.to_string())
    }
}
