//! One file per Firehose operation: parse (serde) → validate (AWS wording) → call the delivery
//! service → answer.

pub mod create_delivery_stream;
pub mod delete_delivery_stream;
pub mod describe_delivery_stream;
pub mod list_delivery_streams;
pub mod list_tags_for_delivery_stream;
pub mod put_record;
pub mod put_record_batch;
pub mod start_delivery_stream_encryption;
pub mod stop_delivery_stream_encryption;
pub mod tag_delivery_stream;
pub mod untag_delivery_stream;
pub mod update_destination;
