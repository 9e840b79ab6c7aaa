//! [`Plan`]: what a pipeline does, read once from a delivery stream's stored description.

use crate::compress::Compression;
use crate::http_endpoint::HttpEndpointTarget;
use crate::model::{DeliveryStreamMeta, Destination};
use crate::partition::Extractor;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Where objects of one kind go and when a buffer of them is due.
#[derive(Clone)]
pub struct ObjectPlan {
    pub bucket: String,
    pub prefix: Option<String>,
    pub error_prefix: Option<String>,
    pub size_bytes: usize,
    pub interval_millis: i64,
    pub compression: Compression,
    pub file_extension: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Clone)]
pub enum SubRecords {
    Json,
    Delimited(Vec<u8>),
}

#[derive(Clone)]
pub struct Lambda {
    pub arn: String,
    pub retries: u32,
    pub batch_bytes: usize,
}

#[derive(Clone)]
pub struct Plan {
    pub name: String,
    pub arn: String,
    pub version: u64,
    /// The primary destination's objects (for an HTTP endpoint: its S3 configuration, used for
    /// failed data and AllData backups).
    pub objects: ObjectPlan,
    /// Decompression of CloudWatch Logs payloads; `true` = extract the log messages.
    pub decompress: Option<bool>,
    pub lambda: Option<Lambda>,
    pub sub_records: Option<SubRecords>,
    pub extractor: Option<Arc<Extractor>>,
    pub dynamic_partitioning: bool,
    pub append_delimiter: Option<Vec<u8>>,
    /// DataFormatConversionConfiguration when enabled (AWS field names).
    pub conversion: Option<Value>,
    /// S3BackupMode Enabled (S3) / AllData (HTTP endpoint): source records to this place.
    pub backup: Option<ObjectPlan>,
    pub http: Option<Arc<HttpEndpointTarget>>,
    /// Buffering of the HTTP endpoint (when `http` is set).
    pub http_size_bytes: usize,
    pub http_interval_millis: i64,
}

fn bucket_of(arn: &str) -> Option<String> {
    arn.split_once(":s3:::").map(|(_, b)| b.to_string())
}

fn hints(v: &Value) -> (usize, i64) {
    let size = v
        .pointer("/BufferingHints/SizeInMBs")
        .and_then(Value::as_u64)
        .unwrap_or(5) as usize;
    let interval = v
        .pointer("/BufferingHints/IntervalInSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(300);
    (size << 20, interval * 1000)
}

fn str_of(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

pub fn object_plan(d: &Value) -> Result<ObjectPlan, String> {
    let bucket = d
        .get("BucketARN")
        .and_then(Value::as_str)
        .and_then(bucket_of)
        .ok_or("BucketARN is not an S3 bucket ARN")?;
    let (size_bytes, interval_millis) = hints(d);
    let compression = d
        .get("CompressionFormat")
        .and_then(Value::as_str)
        .map(|c| Compression::from_aws(c).ok_or(format!("Unknown CompressionFormat {c}")))
        .transpose()?
        .unwrap_or(Compression::Uncompressed);
    Ok(ObjectPlan {
        bucket,
        prefix: str_of(d, "Prefix").filter(|p| !p.is_empty()),
        error_prefix: str_of(d, "ErrorOutputPrefix").filter(|p| !p.is_empty()),
        size_bytes,
        interval_millis,
        compression,
        file_extension: str_of(d, "FileExtension").filter(|p| !p.is_empty()),
        time_zone: str_of(d, "CustomTimeZone").filter(|p| !p.is_empty()),
    })
}

fn param<'a>(p: &'a Value, name: &str) -> Option<&'a str> {
    p.get("Parameters")?
        .as_array()?
        .iter()
        .find(|x| x.get("ParameterName").and_then(Value::as_str) == Some(name))?
        .get("ParameterValue")?
        .as_str()
}

fn b64(s: &str) -> Vec<u8> {
    base64_simd::STANDARD
        .decode_to_vec(s)
        .unwrap_or_else(|_| s.as_bytes().to_vec())
}

impl Plan {
    /// Err = the configuration cannot be delivered (an InvalidArgumentException at Create).
    pub fn of(meta: &DeliveryStreamMeta) -> Result<Plan, String> {
        let d = meta.destination.description();
        let mut plan = Plan {
            name: meta.name.clone(),
            arn: meta.arn.clone(),
            version: meta.version,
            objects: ObjectPlan {
                bucket: String::new(),
                prefix: None,
                error_prefix: None,
                size_bytes: 5 << 20,
                interval_millis: 300_000,
                compression: Compression::Uncompressed,
                file_extension: None,
                time_zone: None,
            },
            decompress: None,
            lambda: None,
            sub_records: None,
            extractor: None,
            dynamic_partitioning: false,
            append_delimiter: None,
            conversion: None,
            backup: None,
            http: None,
            http_size_bytes: 5 << 20,
            http_interval_millis: 300_000,
        };
        match &meta.destination {
            Destination::ExtendedS3(d) => {
                plan.objects = object_plan(d)?;
                plan.dynamic_partitioning = d
                    .pointer("/DynamicPartitioningConfiguration/Enabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if d.pointer("/DataFormatConversionConfiguration/Enabled")
                    .and_then(Value::as_bool)
                    == Some(true)
                {
                    plan.conversion = d.get("DataFormatConversionConfiguration").cloned();
                }
                if d.get("S3BackupMode").and_then(Value::as_str) == Some("Enabled") {
                    let b = d
                        .get("S3BackupDescription")
                        .ok_or("S3BackupConfiguration is required when S3BackupMode is Enabled.")?;
                    plan.backup = Some(object_plan(b)?);
                }
            }
            Destination::HttpEndpoint {
                description,
                access_key,
            } => {
                let s3 = description
                    .get("S3DestinationDescription")
                    .ok_or("S3Configuration is required.")?;
                plan.objects = object_plan(s3)?;
                let (size, interval) = hints(description);
                plan.http_size_bytes = size;
                plan.http_interval_millis = interval;
                let attrs = description
                    .pointer("/RequestConfiguration/CommonAttributes")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| {
                                Some((
                                    x.get("AttributeName")?.as_str()?.to_string(),
                                    x.get("AttributeValue")?.as_str()?.to_string(),
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                plan.http = Some(Arc::new(HttpEndpointTarget {
                    url: description
                        .pointer("/EndpointConfiguration/Url")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    name: description
                        .pointer("/EndpointConfiguration/Name")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    access_key: access_key.clone(),
                    common_attributes: attrs,
                    gzip: description
                        .pointer("/RequestConfiguration/ContentEncoding")
                        .and_then(Value::as_str)
                        == Some("GZIP"),
                    retry_duration: Duration::from_secs(
                        description
                            .pointer("/RetryOptions/DurationInSeconds")
                            .and_then(Value::as_u64)
                            .unwrap_or(300),
                    ),
                }));
                if description.get("S3BackupMode").and_then(Value::as_str) == Some("AllData") {
                    plan.backup = Some(plan.objects.clone());
                }
            }
        }
        let processing = d.get("ProcessingConfiguration");
        let enabled = processing
            .and_then(|p| p.get("Enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let processors = processing
            .and_then(|p| p.get("Processors"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if enabled {
            for p in &processors {
                match p.get("Type").and_then(Value::as_str).unwrap_or("") {
                    "Decompression" => {
                        plan.decompress.get_or_insert(false);
                    }
                    "CloudWatchLogProcessing"
                        if param(p, "DataMessageExtraction") == Some("true") =>
                    {
                        plan.decompress = Some(true);
                    }
                    "Lambda" => {
                        let arn = param(p, "LambdaArn")
                            .ok_or("LambdaArn is required for a Lambda processor.")?;
                        plan.lambda = Some(Lambda {
                            arn: arn.to_string(),
                            retries: param(p, "NumberOfRetries")
                                .and_then(|n| n.parse().ok())
                                .unwrap_or(3),
                            batch_bytes: param(p, "BufferSizeInMBs")
                                .and_then(|n| n.parse::<f64>().ok())
                                .map(|mb| (mb * 1048576.0) as usize)
                                .unwrap_or(1 << 20)
                                .max(1),
                        });
                    }
                    "RecordDeAggregation" => {
                        plan.sub_records = Some(match param(p, "SubRecordType") {
                            Some("DELIMITED") => {
                                SubRecords::Delimited(b64(param(p, "Delimiter").unwrap_or("Cg==")))
                            }
                            _ => SubRecords::Json,
                        });
                    }
                    "MetadataExtraction" => {
                        let q = param(p, "MetadataExtractionQuery")
                            .ok_or("MetadataExtractionQuery is required for a MetadataExtraction processor.")?;
                        plan.extractor = Some(Arc::new(Extractor::new(q)?));
                    }
                    "AppendDelimiterToRecord" => {
                        plan.append_delimiter = Some(
                            param(p, "Delimiter")
                                .map(b64)
                                .unwrap_or_else(|| b"\n".to_vec()),
                        );
                    }
                    _ => {}
                }
            }
        }
        Ok(plan)
    }
}
