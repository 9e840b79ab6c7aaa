//! weir-delivery: the building blocks of Firehose-style delivery.
//!
//! Each module does one job of Amazon Data Firehose and copies its observable behaviour: the
//! pipeline (engineer FH's `pipeline.rs`) reads records, splits them ([`deagg`]), transforms them
//! ([`transform`]), partitions them ([`partition`]), names objects ([`keys`]), compresses them
//! ([`compress`]) and writes them to a bucket ([`sink`]) or posts them to an HTTP endpoint
//! ([`http_endpoint`]). The modules hold no state between calls except compiled queries and
//! cached object-store clients, so the pipeline owns ordering, buffering and checkpoints.
//! Errors are `String`s worded as AWS words them, because they end up either in an
//! InvalidArgumentException or in the `errorMessage` of a record written to an error prefix.
pub mod compress;
pub mod deagg;
pub mod http_endpoint;
pub mod keys;
pub mod partition;
pub mod sink;
pub mod transform;
