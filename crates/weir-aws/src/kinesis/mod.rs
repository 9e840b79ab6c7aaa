//! The Kinesis Data Streams front end: `X-Amz-Target: Kinesis_20131202.<Operation>`.

pub mod ops;
pub mod shapes;

use crate::codec::{self, Encoding};
use crate::error::ApiError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use weir_streams::StreamService;

pub const TARGET_PREFIX: &str = "Kinesis_20131202";
/// Answered with a streamed body by the server itself (see `ops::subscribe_to_shard`).
pub const SUBSCRIBE_TO_SHARD: &str = "SubscribeToShard";

/// Every operation of the Kinesis model; those weir does not serve yet answer
/// UnknownOperationException like any other name.
pub fn is_operation(op: &str) -> bool {
    dispatchable(op)
}

macro_rules! operations {
    ($($name:literal => $module:ident),* $(,)?) => {
        fn dispatchable(op: &str) -> bool {
            matches!(op, "PutRecords" | "GetRecords" | "SubscribeToShard" | $($name)|*)
        }

        /// Runs one operation on a decoded body and encodes its answer.
        pub async fn dispatch(
            svc: &StreamService,
            op: &str,
            enc: Encoding,
            body: &[u8],
        ) -> Result<Vec<u8>, ApiError> {
            match op {
                // The hot paths encode their JSON answers by hand (no per-record allocation).
                "PutRecords" => ops::put_records::call(svc, enc, body).await,
                "GetRecords" => {
                    call_fast(svc, enc, body, ops::get_records::handle, ops::get_records::Output::write_json).await
                }
                $($name => call(svc, enc, body, ops::$module::handle).await,)*
                _ => Err(ApiError::new("UnknownOperationException", "")),
            }
        }
    };
}

operations! {
    "AddTagsToStream" => add_tags_to_stream,
    "CreateStream" => create_stream,
    "DecreaseStreamRetentionPeriod" => decrease_stream_retention_period,
    "DeleteResourcePolicy" => delete_resource_policy,
    "DeleteStream" => delete_stream,
    "DeregisterStreamConsumer" => deregister_stream_consumer,
    "DescribeAccountSettings" => describe_account_settings,
    "DescribeLimits" => describe_limits,
    "DescribeStream" => describe_stream,
    "DescribeStreamConsumer" => describe_stream_consumer,
    "DescribeStreamSummary" => describe_stream_summary,
    "DisableEnhancedMonitoring" => disable_enhanced_monitoring,
    "EnableEnhancedMonitoring" => enable_enhanced_monitoring,
    "GetResourcePolicy" => get_resource_policy,
    "GetShardIterator" => get_shard_iterator,
    "IncreaseStreamRetentionPeriod" => increase_stream_retention_period,
    "ListShards" => list_shards,
    "ListStreamConsumers" => list_stream_consumers,
    "ListStreams" => list_streams,
    "ListTagsForResource" => list_tags_for_resource,
    "ListTagsForStream" => list_tags_for_stream,
    "MergeShards" => merge_shards,
    "PutRecord" => put_record,
    "PutResourcePolicy" => put_resource_policy,
    "RegisterStreamConsumer" => register_stream_consumer,
    "RemoveTagsFromStream" => remove_tags_from_stream,
    "SplitShard" => split_shard,
    "StartStreamEncryption" => start_stream_encryption,
    "StopStreamEncryption" => stop_stream_encryption,
    "TagResource" => tag_resource,
    "UntagResource" => untag_resource,
    "UpdateAccountSettings" => update_account_settings,
    "UpdateMaxRecordSize" => update_max_record_size,
    "UpdateShardCount" => update_shard_count,
    "UpdateStreamMode" => update_stream_mode,
}

async fn call<I, O, F, Fut>(
    svc: &StreamService,
    enc: Encoding,
    body: &[u8],
    handler: F,
) -> Result<Vec<u8>, ApiError>
where
    I: DeserializeOwned,
    O: Serialize,
    F: FnOnce(StreamService, I) -> Fut,
    Fut: Future<Output = Result<O, ApiError>>,
{
    let input: I = codec::decode(enc, body)?;
    let output = handler(svc.clone(), input).await?;
    Ok(codec::encode(enc, &output))
}

async fn call_fast<I, O, F, Fut>(
    svc: &StreamService,
    enc: Encoding,
    body: &[u8],
    handler: F,
    write_json: fn(&O, &mut Vec<u8>),
) -> Result<Vec<u8>, ApiError>
where
    I: DeserializeOwned,
    O: Serialize,
    F: FnOnce(StreamService, I) -> Fut,
    Fut: Future<Output = Result<O, ApiError>>,
{
    let input: I = codec::decode(enc, body)?;
    let output = handler(svc.clone(), input).await?;
    Ok(match enc {
        Encoding::Json => {
            let mut out = Vec::new();
            write_json(&output, &mut out);
            out
        }
        Encoding::Cbor => codec::encode(enc, &output),
    })
}
