//! DeregisterStreamConsumer: the consumer turns DELETING, its subscriptions end, then it is gone.

use super::describe_stream_consumer::Input;
use crate::codec::Empty;
use crate::error::ApiError;
use weir_streams::StreamService;

pub async fn handle(svc: StreamService, input: Input) -> Result<Empty, ApiError> {
    let r = input.validate()?;
    svc.deregister_stream_consumer(&r)?;
    Ok(Empty {})
}
