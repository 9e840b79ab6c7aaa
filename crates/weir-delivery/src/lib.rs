//! Firehose-style delivery: delivery streams, their pipelines, and where objects go.
//!
//! A delivery stream is a definition in the metadata store ([`model`], [`service`]) plus one
//! pipeline task ([`pipeline`]) that reads its source ([`source`]: the delivery stream's own
//! durable shard for DirectPut, or a weir Kinesis stream), runs Firehose's processors, buffers
//! per partition and writes objects ([`sink`]). The source *is* the buffer: PutRecord is
//! acknowledged once the record is durable in the delivery store, and the pipeline moves its
//! checkpoint only after the object holding the record is written — at-least-once delivery
//! across crashes, with duplicates only for objects in flight at the crash.

pub mod model;
pub mod pipeline;
pub mod service;
pub mod source;

pub mod compress;
pub mod deagg;
pub mod http_endpoint;
pub mod keys;
pub mod partition;
pub mod sink;
pub mod transform;

pub use model::{Error, Result};
pub use pipeline::{FirehoseMetric, Recorder, Shared};
pub use service::{
    CreateRequest, DeliveryConfig, DeliveryService, DestinationConfig, DestinationUpdate,
};
