//! `DataFormatConversionConfiguration` (AWS field names, as a `serde_json::Value`) read into the
//! options the converter uses, with Firehose's defaults.
//!
//! Firehose's defaults: OpenX JSON SerDe with CaseInsensitive = true; ParquetSerDe with SNAPPY,
//! 256 MiB blocks, 1 MiB pages, no dictionary, writer V1; OrcSerDe with SNAPPY and 64 MiB stripes.
//! Options that shape how a Java Hadoop writer lays out HDFS blocks (MaxPaddingBytes,
//! EnablePadding, PaddingTolerance, OrcSerDe BlockSizeBytes, RowIndexStride, bloom filters,
//! DictionaryKeyThreshold, FormatVersion) are accepted and validated but change nothing: the
//! Rust writers have no such knobs, and the file stays readable by every reader either way.

use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Deserializer {
    OpenX {
        case_insensitive: bool,
        convert_dots_to_underscores: bool,
        /// Column name → JSON key.
        column_to_json_key: BTreeMap<String, String>,
    },
    Hive {
        timestamp_formats: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetCodec {
    Uncompressed,
    Snappy,
    Gzip,
    /// Not in Firehose's model (its enum is UNCOMPRESSED | GZIP | SNAPPY); accepted here for
    /// callers that are not bound by it.
    Zstd,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParquetOptions {
    pub compression: ParquetCodec,
    pub block_size_bytes: usize,
    pub page_size_bytes: usize,
    pub enable_dictionary: bool,
    pub writer_v2: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcCodec {
    None,
    Zlib,
    Snappy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrcOptions {
    pub compression: OrcCodec,
    pub stripe_size_bytes: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Serializer {
    Parquet(ParquetOptions),
    Orc(OrcOptions),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConversionConfig {
    pub deserializer: Deserializer,
    pub serializer: Serializer,
}

pub const PARQUET_MIN_BLOCK: u64 = 64 * 1024 * 1024;
pub const PARQUET_MIN_PAGE: u64 = 64 * 1024;
pub const ORC_MIN_STRIPE: u64 = 8 * 1024 * 1024;

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get(name).filter(|x| !x.is_null())
}

fn bool_field(v: &Value, path: &str, name: &str, default: bool) -> Result<bool, String> {
    match field(v, name) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("{path}.{name} must be a boolean")),
    }
}

fn size_field(v: &Value, path: &str, name: &str, min: u64, default: u64) -> Result<usize, String> {
    match field(v, name) {
        None => Ok(default as usize),
        Some(x) => match x.as_u64() {
            Some(n) if n >= min && n <= i32::MAX as u64 => Ok(n as usize),
            _ => Err(format!(
                "{path}.{name} must be an integer of at least {min}"
            )),
        },
    }
}

fn enum_field<'a>(
    v: &'a Value,
    path: &str,
    name: &str,
    allowed: &[&str],
    default: &'a str,
) -> Result<&'a str, String> {
    match field(v, name) {
        None => Ok(default),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(s),
        Some(x) => Err(format!(
            "{path}.{name} is {x}; it must be one of {}",
            allowed.join(", ")
        )),
    }
}

/// Whether a DataFormatConversionConfiguration converts at all (`Enabled`, true by default).
pub fn enabled(config: &Value) -> bool {
    config
        .get("Enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

impl ConversionConfig {
    pub fn from_aws(config: &Value) -> Result<Self, String> {
        if !config.is_object() {
            return Err("DataFormatConversionConfiguration must be an object".into());
        }
        let input = field(config, "InputFormatConfiguration")
            .and_then(|i| field(i, "Deserializer"))
            .cloned()
            .unwrap_or(Value::Null);
        let openx = field(&input, "OpenXJsonSerDe");
        let hive = field(&input, "HiveJsonSerDe");
        let deserializer = match (openx, hive) {
            (Some(_), Some(_)) => {
                return Err("InputFormatConfiguration.Deserializer must name exactly one of OpenXJsonSerDe and HiveJsonSerDe".into())
            }
            (None, Some(h)) => {
                let path = "InputFormatConfiguration.Deserializer.HiveJsonSerDe";
                let formats = match field(h, "TimestampFormats") {
                    None => Vec::new(),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|f| {
                            f.as_str()
                                .filter(|s| !s.trim().is_empty())
                                .map(str::to_string)
                                .ok_or_else(|| format!("{path}.TimestampFormats must hold non-empty strings"))
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err(format!("{path}.TimestampFormats must be a list")),
                };
                Deserializer::Hive {
                    timestamp_formats: formats,
                }
            }
            (o, None) => {
                let path = "InputFormatConfiguration.Deserializer.OpenXJsonSerDe";
                let o = o.cloned().unwrap_or(Value::Object(Default::default()));
                let mut mappings = BTreeMap::new();
                match field(&o, "ColumnToJsonKeyMappings") {
                    None => {}
                    Some(Value::Object(m)) => {
                        for (k, v) in m {
                            let v = v.as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
                                format!("{path}.ColumnToJsonKeyMappings values must be non-empty strings")
                            })?;
                            mappings.insert(k.to_lowercase(), v.to_string());
                        }
                    }
                    Some(_) => return Err(format!("{path}.ColumnToJsonKeyMappings must be a map")),
                }
                Deserializer::OpenX {
                    case_insensitive: bool_field(&o, path, "CaseInsensitive", true)?,
                    convert_dots_to_underscores: bool_field(
                        &o,
                        path,
                        "ConvertDotsInJsonKeysToUnderscores",
                        false,
                    )?,
                    column_to_json_key: mappings,
                }
            }
        };
        let output = field(config, "OutputFormatConfiguration")
            .and_then(|o| field(o, "Serializer"))
            .ok_or("OutputFormatConfiguration.Serializer is required")?;
        let serializer = match (field(output, "ParquetSerDe"), field(output, "OrcSerDe")) {
            (Some(p), None) => {
                let path = "OutputFormatConfiguration.Serializer.ParquetSerDe";
                let compression = match enum_field(
                    p,
                    path,
                    "Compression",
                    &["UNCOMPRESSED", "GZIP", "SNAPPY", "ZSTD"],
                    "SNAPPY",
                )? {
                    "UNCOMPRESSED" => ParquetCodec::Uncompressed,
                    "GZIP" => ParquetCodec::Gzip,
                    "ZSTD" => ParquetCodec::Zstd,
                    _ => ParquetCodec::Snappy,
                };
                size_field(p, path, "MaxPaddingBytes", 0, 0)?;
                Serializer::Parquet(ParquetOptions {
                    compression,
                    block_size_bytes: size_field(p, path, "BlockSizeBytes", PARQUET_MIN_BLOCK, 256 << 20)?,
                    page_size_bytes: size_field(p, path, "PageSizeBytes", PARQUET_MIN_PAGE, 1 << 20)?,
                    enable_dictionary: bool_field(p, path, "EnableDictionaryCompression", false)?,
                    writer_v2: enum_field(p, path, "WriterVersion", &["V1", "V2"], "V1")? == "V2",
                })
            }
            (None, Some(o)) => {
                let path = "OutputFormatConfiguration.Serializer.OrcSerDe";
                let compression =
                    match enum_field(o, path, "Compression", &["NONE", "ZLIB", "SNAPPY"], "SNAPPY")? {
                        "NONE" => OrcCodec::None,
                        "ZLIB" => OrcCodec::Zlib,
                        _ => OrcCodec::Snappy,
                    };
                size_field(o, path, "BlockSizeBytes", PARQUET_MIN_BLOCK, 256 << 20)?;
                size_field(o, path, "RowIndexStride", 1000, 10_000)?;
                bool_field(o, path, "EnablePadding", false)?;
                enum_field(o, path, "FormatVersion", &["V0_11", "V0_12"], "V0_12")?;
                for name in [
                    "PaddingTolerance",
                    "BloomFilterFalsePositiveProbability",
                    "DictionaryKeyThreshold",
                ] {
                    if let Some(x) = field(o, name) {
                        if !x.as_f64().is_some_and(|f| (0.0..=1.0).contains(&f)) {
                            return Err(format!("{path}.{name} must be a number from 0 to 1"));
                        }
                    }
                }
                Serializer::Orc(OrcOptions {
                    compression,
                    stripe_size_bytes: size_field(o, path, "StripeSizeBytes", ORC_MIN_STRIPE, 64 << 20)?,
                })
            }
            _ => {
                return Err("OutputFormatConfiguration.Serializer must name exactly one of ParquetSerDe and OrcSerDe".into())
            }
        };
        Ok(ConversionConfig {
            deserializer,
            serializer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_firehose_defaults() {
        let c = ConversionConfig::from_aws(&json!({
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}
        }))
        .unwrap();
        assert_eq!(
            c.deserializer,
            Deserializer::OpenX {
                case_insensitive: true,
                convert_dots_to_underscores: false,
                column_to_json_key: BTreeMap::new()
            }
        );
        assert_eq!(
            c.serializer,
            Serializer::Parquet(ParquetOptions {
                compression: ParquetCodec::Snappy,
                block_size_bytes: 256 << 20,
                page_size_bytes: 1 << 20,
                enable_dictionary: false,
                writer_v2: false
            })
        );
    }

    #[test]
    fn options_and_errors() {
        let c = ConversionConfig::from_aws(&json!({
            "InputFormatConfiguration": {"Deserializer": {"HiveJsonSerDe": {"TimestampFormats": ["millis"]}}},
            "OutputFormatConfiguration": {"Serializer": {"OrcSerDe": {"Compression": "ZLIB", "StripeSizeBytes": 8388608}}}
        }))
        .unwrap();
        assert_eq!(
            c.deserializer,
            Deserializer::Hive {
                timestamp_formats: vec!["millis".into()]
            }
        );
        assert_eq!(
            c.serializer,
            Serializer::Orc(OrcOptions {
                compression: OrcCodec::Zlib,
                stripe_size_bytes: 8 << 20
            })
        );
        for (bad, want) in [
            (json!({}), "Serializer is required"),
            (
                json!({"OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "LZO"}}}}),
                "must be one of UNCOMPRESSED, GZIP, SNAPPY",
            ),
            (
                json!({"OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"PageSizeBytes": 10}}}}),
                "PageSizeBytes must be an integer of at least 65536",
            ),
            (
                json!({"OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}, "OrcSerDe": {}}}}),
                "exactly one",
            ),
        ] {
            let e = ConversionConfig::from_aws(&bad).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }
}
