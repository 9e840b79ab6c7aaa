//! AWS wire front ends.
//!
//! This crate turns HTTP requests in AWS's protocols into calls on the services and their answers
//! back into bytes, and holds no state of its own. awsJson1.1 and CBOR share one set of request and
//! response types: [`types::Blob`] and [`types::Timestamp`] pick their encoding from serde's
//! `is_human_readable`, so every operation is written once. Validation happens here, with AWS's
//! error types and wording ([`validate`]), before anything reaches a service; the mapping from
//! service errors to wire errors lives in one place ([`error`]).

pub mod admission;
pub mod auth;
pub mod cloudwatch;
pub mod codec;
pub mod error;
pub mod events;
pub mod eventstream;
pub mod firehose;
#[doc(hidden)]
pub mod fuzzing;
pub mod glue;
pub mod json_out;
pub mod kinesis;
pub mod lambda;
pub mod metering;
pub mod s3_notifications;
pub mod server;
pub mod tls;
pub mod types;
pub mod validate;

pub use error::ApiError;
pub use server::{serve, serve_tls, Router};
