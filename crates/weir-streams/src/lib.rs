//! The stream service: Kinesis Data Streams semantics over weir-storage.
//!
//! This crate owns what a stream *means* — lifecycle (CREATING → ACTIVE → DELETING), the shard
//! map and its lineage, routing by hash key, sequence numbers, iterators, retention, tags and
//! limits — and nothing about wire formats. The front ends (`weir-aws`, later Kafka) translate
//! requests into calls on [`StreamService`] and its errors ([`Error`]) into their own.
//!
//! State lives in the metadata store (durable, compare-and-set) with an in-memory cache that the
//! data path reads; records live in a [`weir_storage::StreamStore`].

pub mod autoscale;
pub mod consumers;
pub mod control;
pub mod data;
pub mod error;
pub mod iterator;
pub mod model;
pub mod paging;
pub mod position;
pub mod reader;
pub mod reshard;
pub mod retention;
pub mod service;
pub mod settings;
pub mod subscribe;
pub mod tags;
pub mod throttle;

pub use consumers::{ConsumerRef, ConsumerStatus, ConsumerView};
pub use control::{CreateStream, ListShards, ShardFilter, ShardView};
pub use data::{ChildShard, GetRecordsOutput, PutEntry, PutResult, StartingPosition};
pub use error::{Error, Result};
pub use model::{StreamMeta, StreamMode, StreamStatus};
pub use reader::{Lineage, LineageShard, ShardRead, StartAt};
pub use service::{OpenReport, ServiceConfig, StreamRef, StreamService};
pub use subscribe::{ShardEvent, Subscription};
