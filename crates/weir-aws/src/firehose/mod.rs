//! The Amazon Data Firehose front end: `X-Amz-Target: Firehose_20150804.<Operation>`,
//! awsJson1.1 on the same port as Kinesis. One file per operation in [`ops`]; model-constraint
//! checks with AWS's wording in [`shapes`]; the one mapping from delivery-service errors to wire
//! errors is [`api_error`].

pub mod ops;
pub mod shapes;

use crate::codec::{self, Encoding};
use crate::error::ApiError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use weir_delivery::{DeliveryService, Error};

pub const TARGET_PREFIX: &str = "Firehose_20150804";

/// Every operation of the Firehose model; those weir does not serve answer
/// UnknownOperationException.
pub fn is_operation(op: &str) -> bool {
    dispatchable(op)
}

macro_rules! operations {
    ($($name:literal => $module:ident),* $(,)?) => {
        fn dispatchable(op: &str) -> bool {
            matches!(op, $($name)|*)
        }

        /// Runs one operation on a decoded body and encodes its answer.
        pub async fn dispatch(
            svc: &DeliveryService,
            op: &str,
            enc: Encoding,
            body: &[u8],
        ) -> Result<Vec<u8>, ApiError> {
            match op {
                $($name => call(svc, enc, body, ops::$module::handle).await,)*
                _ => Err(ApiError::new("UnknownOperationException", "")),
            }
        }
    };
}

operations! {
    "CreateDeliveryStream" => create_delivery_stream,
    "DeleteDeliveryStream" => delete_delivery_stream,
    "DescribeDeliveryStream" => describe_delivery_stream,
    "ListDeliveryStreams" => list_delivery_streams,
    "UpdateDestination" => update_destination,
    "PutRecord" => put_record,
    "PutRecordBatch" => put_record_batch,
    "TagDeliveryStream" => tag_delivery_stream,
    "UntagDeliveryStream" => untag_delivery_stream,
    "ListTagsForDeliveryStream" => list_tags_for_delivery_stream,
    "StartDeliveryStreamEncryption" => start_delivery_stream_encryption,
    "StopDeliveryStreamEncryption" => stop_delivery_stream_encryption,
}

async fn call<I, O, F, Fut>(
    svc: &DeliveryService,
    enc: Encoding,
    body: &[u8],
    handler: F,
) -> Result<Vec<u8>, ApiError>
where
    I: DeserializeOwned,
    O: Serialize,
    F: FnOnce(DeliveryService, I) -> Fut,
    Fut: Future<Output = Result<O, ApiError>>,
{
    let input: I = codec::decode(enc, body)?;
    let output = handler(svc.clone(), input).await?;
    Ok(codec::encode(enc, &output))
}

/// Delivery-service errors as Firehose's wire errors.
pub fn api_error(e: Error) -> ApiError {
    let code = match &e {
        Error::ResourceNotFound(_) => "ResourceNotFoundException",
        Error::ResourceInUse(_) => "ResourceInUseException",
        Error::InvalidArgument(_) => "InvalidArgumentException",
        Error::LimitExceeded(_) => "LimitExceededException",
        Error::ConcurrentModification(_) => "ConcurrentModificationException",
        Error::Validation(_) => "ValidationException",
        Error::ServiceUnavailable(_) => "ServiceUnavailableException",
        Error::InvalidSource(_) => "InvalidSourceException",
        Error::Internal(_) => "InternalFailureException",
    };
    ApiError::new(code, e.to_string())
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        api_error(e)
    }
}
