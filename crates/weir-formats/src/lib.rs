//! Record format conversion for weir's Firehose-compatible delivery, and the Glue Data Catalog
//! subset it takes schemas from.
//!
//! Firehose's `DataFormatConversionConfiguration` turns JSON records into Apache Parquet or ORC
//! using the columns of a Glue table. Both halves live here because they are one contract: the
//! [`Catalog`] stores Glue databases and tables (in weir's metadata store, next to the streams),
//! and the [`Converter`] reads a table's Hive column types ([`hive`]) to build an Arrow schema,
//! reads records the way the chosen JSON SerDe does ([`normalize`], [`timestamp`]), and writes
//! one file per call with the parquet crate or orc-rust.
//!
//! The design choice: every record is parsed and normalized on its own before any Arrow array is
//! built. That costs a `serde_json::Value` per record, and buys the property Firehose promises —
//! a record that does not fit the schema is reported back (`Converted::failed`) to go to the
//! `format-conversion-failed` error prefix, while the rest of its batch is still written.
//!
//! The `convert` feature (on by default) brings the converter and its Arrow/Parquet/ORC
//! dependencies; without it the crate is the catalog alone, which is what the Glue HTTP front end
//! needs.
//!
//! Arrow, arrow-json and parquet are pinned to the 59.x line because orc-rust 0.9 is built on
//! arrow 59.

pub mod catalog;
pub mod config;
#[cfg(feature = "convert")]
pub mod convert;
pub mod hive;
pub mod model;
#[cfg(feature = "convert")]
pub mod normalize;
#[cfg(feature = "convert")]
pub mod timestamp;

pub use catalog::{Catalog, CatalogError, CatalogResult};
#[cfg(feature = "convert")]
pub use convert::{Converted, Converter, MALFORMED_DATA};
pub use hive::HiveType;
pub use model::{Column, Database, SerDeInfo, StorageDescriptor, Table};

/// The pipeline shares one catalog and one converter per delivery stream across tasks.
#[cfg(feature = "convert")]
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Catalog>();
    shared::<Converter>();
};
