//! [`Converter`]: JSON records → one Parquet or ORC file, with the records that do not fit.
//!
//! Each record is parsed and normalized on its own ([`crate::normalize`]), so a malformed one
//! fails alone; the normalized rows go through arrow-json's decoder into Arrow batches and out
//! through the parquet crate's `ArrowWriter` or orc-rust's. Should the decoder still refuse a
//! chunk (a decimal too wide for its precision, say), that chunk is decoded row by row to find
//! the culprits, which join `failed`; the others are written. Nothing is dropped silently.
//!
//! ORC: orc-rust 0.9 writes flat columns only (no array, map, struct or decimal), so
//! [`Converter::new`] refuses such a table for ORC output with an error naming the column,
//! rather than letting the writer panic later.

use crate::config::{ConversionConfig, Deserializer, OrcCodec, ParquetCodec, Serializer};
use crate::hive::HiveType;
use crate::model::Table;
use crate::normalize::{Fields, KeyRules, Out, Shape};
use crate::timestamp::TimestampReader;
use arrow_array::RecordBatch;
use arrow_json::reader::Decoder;
use arrow_schema::{Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterVersion};
use std::sync::Arc;

/// The error code Firehose gives records that fail conversion (in the
/// `format-conversion-failed` error output).
pub const MALFORMED_DATA: &str = "DataFormatConversion.MalformedData";

/// Rows per Arrow batch (and per decoder call).
const CHUNK_ROWS: usize = 8192;

/// One output file and the records that did not fit the schema.
#[derive(Debug, Clone, Default)]
pub struct Converted {
    pub file: Vec<u8>,
    /// (index into the input, reason), in index order.
    pub failed: Vec<(usize, String)>,
    /// Rows written to `file`.
    pub rows: usize,
}

pub struct Converter {
    config: ConversionConfig,
    schema: SchemaRef,
    columns: Fields,
    rules: KeyRules,
}

impl std::fmt::Debug for Converter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Converter")
            .field("config", &self.config)
            .field("schema", &self.schema)
            .finish()
    }
}

impl Converter {
    /// From ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration (AWS field
    /// names) and the resolved Glue table. Err: the configuration is invalid, a column type does
    /// not parse, the table has no columns, or ORC output was asked for a nested or decimal
    /// column (orc-rust cannot write those).
    pub fn new(config: &serde_json::Value, table: &Table) -> Result<Self, String> {
        let config = ConversionConfig::from_aws(config)?;
        Self::from_config(config, table)
    }

    pub fn from_config(config: ConversionConfig, table: &Table) -> Result<Self, String> {
        let cols = table.columns();
        if cols.is_empty() {
            return Err(format!(
                "The Glue table {} has no columns (StorageDescriptor.Columns).",
                table.name
            ));
        }
        let (case_insensitive, dots, mappings, timestamps) = match &config.deserializer {
            Deserializer::OpenX {
                case_insensitive,
                convert_dots_to_underscores,
                column_to_json_key,
            } => (
                *case_insensitive,
                *convert_dots_to_underscores,
                Some(column_to_json_key),
                TimestampReader::OpenX,
            ),
            Deserializer::Hive { timestamp_formats } => {
                (true, false, None, TimestampReader::hive(timestamp_formats)?)
            }
        };
        let orc = matches!(config.serializer, Serializer::Orc(_));
        let (mut names, mut shapes, mut keys, mut fields) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for c in cols {
            let type_text = c.type_.as_deref().unwrap_or("");
            let t = HiveType::parse(type_text)
                .map_err(|e| format!("column '{}' of table {}: {e}", c.name, table.name))?;
            if orc && (t.is_nested() || matches!(t, HiveType::Decimal { .. })) {
                return Err(format!(
                    "ORC output supports only flat columns of primitive types (not array, map, struct or decimal); column '{}' of table {} is '{type_text}'. Use ParquetSerDe for this table.",
                    c.name, table.name
                ));
            }
            let name = c.name.to_lowercase();
            let json_key = mappings
                .and_then(|m| m.get(&name))
                .cloned()
                .unwrap_or_else(|| name.clone());
            keys.push(if case_insensitive {
                json_key.to_lowercase()
            } else {
                json_key
            });
            fields.push(Field::new(&name, t.arrow(), true));
            shapes.push(Shape::of(&t, case_insensitive));
            names.push(name);
        }
        Ok(Self {
            config,
            schema: Arc::new(Schema::new(fields)),
            columns: Fields::new(names, shapes, keys),
            rules: KeyRules {
                case_insensitive,
                dots_to_underscores: dots,
                timestamps,
            },
        })
    }

    /// The Arrow schema of the files this converter writes.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// ".parquet" or ".orc": the extension Firehose gives converted objects (unless the
    /// destination's FileExtension overrides it).
    pub fn extension(&self) -> &'static str {
        match self.config.serializer {
            Serializer::Parquet(_) => ".parquet",
            Serializer::Orc(_) => ".orc",
        }
    }

    /// One output file from JSON records (each one or more concatenated JSON objects, as
    /// Firehose accepts them). Err only for a fault of the writer itself.
    pub fn convert(&self, records: &[&[u8]]) -> Result<Converted, String> {
        let mut rows: Vec<Out<'_>> = Vec::with_capacity(records.len());
        let mut row_index: Vec<usize> = Vec::with_capacity(records.len());
        let mut failed = Vec::new();
        for (i, r) in records.iter().enumerate() {
            // A record may hold several concatenated JSON objects (`{"a":1}{"a":2}`), each a
            // row; the record fails as a whole if any of them does.
            let before = rows.len();
            let mut docs = serde_json::Deserializer::from_slice(r).into_iter::<serde_json::Value>();
            let outcome = loop {
                match docs.next() {
                    None if rows.len() == before => {
                        break Err("the record holds no JSON object".to_string())
                    }
                    None => break Ok(()),
                    Some(Err(e)) => break Err(format!("the record is not valid JSON: {e}")),
                    Some(Ok(doc)) => match self.rules.object(&self.columns, doc, "") {
                        Ok(row) => {
                            rows.push(row);
                            row_index.push(i);
                        }
                        Err(e) => break Err(e),
                    },
                }
            };
            if let Err(e) = outcome {
                rows.truncate(before);
                row_index.truncate(before);
                failed.push((i, e));
            }
        }
        let mut batches = Vec::new();
        for (chunk, idx) in rows.chunks(CHUNK_ROWS).zip(row_index.chunks(CHUNK_ROWS)) {
            self.decode_chunk(chunk, idx, &mut batches, &mut failed)?;
        }
        failed.sort_by_key(|(i, _)| *i);
        let written: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let file = match &self.config.serializer {
            Serializer::Parquet(_) => self.write_parquet(&batches)?,
            Serializer::Orc(_) => self.write_orc(&batches)?,
        };
        Ok(Converted {
            file,
            failed,
            rows: written,
        })
    }

    fn decoder(&self) -> Result<Decoder, String> {
        arrow_json::ReaderBuilder::new(self.schema.clone())
            .with_batch_size(CHUNK_ROWS)
            .build_decoder()
            .map_err(|e| format!("cannot build the JSON decoder: {e}"))
    }

    fn decode_chunk(
        &self,
        chunk: &[Out<'_>],
        idx: &[usize],
        batches: &mut Vec<RecordBatch>,
        failed: &mut Vec<(usize, String)>,
    ) -> Result<(), String> {
        let mut d = self.decoder()?;
        let whole = d.serialize(chunk).and_then(|_| d.flush());
        match whole {
            Ok(Some(b)) => {
                batches.push(b);
                return Ok(());
            }
            Ok(None) => return Ok(()),
            Err(_) => {}
        }
        // Find the rows the decoder refuses; their records fail whole, the rest is written.
        let mut bad = std::collections::BTreeSet::new();
        for (row, &i) in chunk.iter().zip(idx) {
            let mut one = self.decoder()?;
            if let Err(e) = one
                .serialize(std::slice::from_ref(row))
                .and_then(|_| one.flush())
            {
                if bad.insert(i) {
                    failed.push((i, e.to_string()));
                }
            }
        }
        let good: Vec<&Out<'_>> = chunk
            .iter()
            .zip(idx)
            .filter(|(_, i)| !bad.contains(*i))
            .map(|(row, _)| row)
            .collect();
        if !good.is_empty() {
            let mut d = self.decoder()?;
            if let Some(b) = d
                .serialize(&good)
                .and_then(|_| d.flush())
                .map_err(|e| format!("decoding rows that decoded one by one failed: {e}"))?
            {
                batches.push(b);
            }
        }
        Ok(())
    }

    fn write_parquet(&self, batches: &[RecordBatch]) -> Result<Vec<u8>, String> {
        let Serializer::Parquet(p) = &self.config.serializer else {
            return Err("not a Parquet converter".into());
        };
        let compression = match p.compression {
            ParquetCodec::Uncompressed => Compression::UNCOMPRESSED,
            ParquetCodec::Snappy => Compression::SNAPPY,
            ParquetCodec::Gzip => Compression::GZIP(GzipLevel::default()),
            ParquetCodec::Zstd => Compression::ZSTD(ZstdLevel::default()),
        };
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_writer_version(if p.writer_v2 {
                WriterVersion::PARQUET_2_0
            } else {
                WriterVersion::PARQUET_1_0
            })
            .set_data_page_size_limit(p.page_size_bytes)
            .set_dictionary_enabled(p.enable_dictionary)
            .set_created_by(format!("weir-formats {}", env!("CARGO_PKG_VERSION")))
            .build();
        let err = |e: parquet::errors::ParquetError| format!("Parquet writer failed: {e}");
        let mut w =
            ArrowWriter::try_new(Vec::new(), self.schema.clone(), Some(props)).map_err(err)?;
        for b in batches {
            w.write(b).map_err(err)?;
            // BlockSizeBytes bounds a row group, as in Firehose's writer.
            if w.in_progress_size() >= p.block_size_bytes {
                w.flush().map_err(err)?;
            }
        }
        w.into_inner().map_err(err)
    }

    fn write_orc(&self, batches: &[RecordBatch]) -> Result<Vec<u8>, String> {
        let Serializer::Orc(o) = &self.config.serializer else {
            return Err("not an ORC converter".into());
        };
        let mut out = Vec::new();
        let err = |e: orc_rust::error::OrcError| format!("ORC writer failed: {e}");
        let mut builder = orc_rust::ArrowWriterBuilder::new(&mut out, self.schema.clone())
            .with_stripe_byte_size(o.stripe_size_bytes);
        builder = match o.compression {
            OrcCodec::None => builder,
            OrcCodec::Zlib => {
                builder.with_compression(orc_rust::compression::CompressionType::Zlib)
            }
            OrcCodec::Snappy => {
                builder.with_compression(orc_rust::compression::CompressionType::Snappy)
            }
        };
        let mut w = builder.try_build().map_err(err)?;
        for b in batches {
            w.write(b).map_err(err)?;
        }
        w.close().map_err(err)?;
        Ok(out)
    }
}
