//! The seam for record format conversion (DataFormatConversionConfiguration, crate
//! `weir-formats`, engineer FMT).
//!
//! The pipeline hands a flushed buffer's records to [`FormatConversion::convert`] and writes
//! the returned file; the records listed in `failed` go to the `format-conversion-failed` error
//! prefix, never dropped. At merge the lead implements [`FormatConversion`] over
//! `weir_formats::{Catalog, Converter}`:
//!
//! ```ignore
//! let table = catalog.table(db, table)?;                  // SchemaConfiguration's DatabaseName/TableName
//! let conv = weir_formats::Converter::new(config, &table)?;
//! let out = conv.convert(records)?;                       // Converted { file, failed }
//! Ok(Converted { file: out.file, failed: out.failed, extension: conv.extension() })
//! ```

use serde_json::Value;

pub struct Converted {
    pub file: Vec<u8>,
    /// (index into `records`, message) of the records that did not fit the schema.
    pub failed: Vec<(usize, String)>,
    /// ".parquet" / ".orc".
    pub extension: &'static str,
}

pub trait FormatConversion: Send + Sync + 'static {
    /// One output file from JSON records. Err = the whole buffer failed (every record goes
    /// to `format-conversion-failed` with the message).
    fn convert(&self, config: &Value, records: &[&[u8]]) -> Result<Converted, String>;
}

/// What this build has until weir-formats is wired in: every conversion fails, visibly.
pub struct NoConversion;

impl FormatConversion for NoConversion {
    fn convert(&self, _config: &Value, _records: &[&[u8]]) -> Result<Converted, String> {
        Err("Record format conversion is not available in this build of weir.".into())
    }
}
