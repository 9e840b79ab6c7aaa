//! Delivery-stream definitions as they are persisted, and their `DeliveryStreamDescription`.
//!
//! A destination is kept as its *description* in AWS's own field names (a `serde_json::Value`),
//! with the defaults filled in as AWS fills them at CreateDeliveryStream. Describe then returns
//! exactly what was stored, every configuration member that weir does not act on survives a
//! round trip (DataFormatConversionConfiguration among them), and UpdateDestination is a merge
//! of AWS-named members. The pipeline reads the members it acts on through
//! [`crate::pipeline::Plan`].

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Errors of the delivery service; the front end maps each to its AWS error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    ConcurrentModification(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    /// PutRecord data that the configured source processing cannot take.
    #[error("{0}")]
    InvalidSource(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<weir_storage::Error> for Error {
    fn from(e: weir_storage::Error) -> Self {
        Error::Internal(e.to_string())
    }
}

/// The identifier of the one destination a delivery stream has.
pub const DESTINATION_ID: &str = "destinationId-000000000001";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStreamType {
    DirectPut,
    KinesisStreamAsSource,
}

impl DeliveryStreamType {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStreamType::DirectPut => "DirectPut",
            DeliveryStreamType::KinesisStreamAsSource => "KinesisStreamAsSource",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStreamStatus {
    Creating,
    Active,
    Deleting,
}

impl DeliveryStreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStreamStatus::Creating => "CREATING",
            DeliveryStreamStatus::Active => "ACTIVE",
            DeliveryStreamStatus::Deleting => "DELETING",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KinesisSource {
    pub stream_arn: String,
    pub stream_name: String,
    pub role_arn: String,
    pub start_millis: i64,
}

/// Server-side encryption of the delivery stream (Start/StopDeliveryStreamEncryption).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionState {
    /// ENABLED, ENABLING, DISABLED, DISABLING.
    pub status: String,
    pub key_type: Option<String>,
    pub key_arn: Option<String>,
}

impl Default for EncryptionState {
    fn default() -> Self {
        Self {
            status: "DISABLED".into(),
            key_type: None,
            key_arn: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Destination {
    /// `ExtendedS3DestinationDescription` (also what an S3DestinationConfiguration becomes).
    ExtendedS3(Value),
    /// `HttpEndpointDestinationDescription`; the access key is kept apart because AWS never
    /// returns it.
    HttpEndpoint {
        description: Value,
        access_key: Option<String>,
    },
}

impl Destination {
    pub fn description(&self) -> &Value {
        match self {
            Destination::ExtendedS3(d) => d,
            Destination::HttpEndpoint { description, .. } => description,
        }
    }
}

/// One delivery stream as stored in the metadata store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryStreamMeta {
    pub name: String,
    /// Internal id, never reused: names the backing store stream and the checkpoints.
    pub uid: u64,
    pub arn: String,
    pub stream_type: DeliveryStreamType,
    pub status: DeliveryStreamStatus,
    /// `VersionId`: 1 at creation, +1 per UpdateDestination.
    pub version: u64,
    pub created_millis: i64,
    pub updated_millis: i64,
    pub source: Option<KinesisSource>,
    pub throughput_hint_mbs: Option<u32>,
    pub destination: Destination,
    pub tags: BTreeMap<String, String>,
    pub encryption: EncryptionState,
}

fn epoch_seconds(millis: i64) -> Value {
    json!(millis as f64 / 1000.0)
}

impl DeliveryStreamMeta {
    /// `DeliveryStreamDescription` as botocore models it.
    pub fn description(&self) -> Value {
        let mut d = json!({
            "DeliveryStreamName": self.name,
            "DeliveryStreamARN": self.arn,
            "DeliveryStreamStatus": self.status.as_str(),
            "DeliveryStreamType": self.stream_type.as_str(),
            "VersionId": self.version.to_string(),
            "CreateTimestamp": epoch_seconds(self.created_millis),
            "LastUpdateTimestamp": epoch_seconds(self.updated_millis),
            "HasMoreDestinations": false,
        });
        let mut enc = json!({ "Status": self.encryption.status });
        if let Some(t) = &self.encryption.key_type {
            enc["KeyType"] = json!(t);
        }
        if let Some(a) = &self.encryption.key_arn {
            enc["KeyARN"] = json!(a);
        }
        d["DeliveryStreamEncryptionConfiguration"] = enc;
        match &self.source {
            Some(k) => {
                d["Source"] = json!({"KinesisStreamSourceDescription": {
                    "KinesisStreamARN": k.stream_arn,
                    "RoleARN": k.role_arn,
                    "DeliveryStartTimestamp": epoch_seconds(k.start_millis),
                }})
            }
            None => {
                if let Some(h) = self.throughput_hint_mbs {
                    d["Source"] = json!({"DirectPutSourceDescription": {"ThroughputHintInMBs": h}});
                }
            }
        }
        let mut dest = json!({ "DestinationId": DESTINATION_ID });
        match &self.destination {
            Destination::ExtendedS3(x) => {
                dest["S3DestinationDescription"] = s3_subset(x);
                dest["ExtendedS3DestinationDescription"] = x.clone();
            }
            Destination::HttpEndpoint { description, .. } => {
                dest["HttpEndpointDestinationDescription"] = description.clone();
            }
        }
        d["Destinations"] = json!([dest]);
        d
    }
}

/// The members of an S3 destination description that `S3DestinationDescription` has.
const S3_MEMBERS: &[&str] = &[
    "RoleARN",
    "BucketARN",
    "Prefix",
    "ErrorOutputPrefix",
    "BufferingHints",
    "CompressionFormat",
    "EncryptionConfiguration",
    "CloudWatchLoggingOptions",
];

fn s3_subset(x: &Value) -> Value {
    let mut out = Map::new();
    for k in S3_MEMBERS {
        if let Some(v) = x.get(*k) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    Value::Object(out)
}

fn obj(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn fill_buffering(out: &mut Map<String, Value>, key: &str) {
    let mut b = out.get(key).map(obj).unwrap_or_default();
    b.entry("SizeInMBs").or_insert(json!(5));
    b.entry("IntervalInSeconds").or_insert(json!(300));
    out.insert(key.to_string(), Value::Object(b));
}

/// An S3DestinationConfiguration as its description, defaults filled in.
pub fn s3_description(config: &Value) -> Value {
    let mut out = Map::new();
    let c = obj(config);
    for k in S3_MEMBERS {
        if let Some(v) = c.get(*k) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    fill_buffering(&mut out, "BufferingHints");
    out.entry("CompressionFormat")
        .or_insert(json!("UNCOMPRESSED"));
    out.entry("EncryptionConfiguration")
        .or_insert(json!({"NoEncryptionConfig": "NoEncryption"}));
    out.entry("CloudWatchLoggingOptions")
        .or_insert(json!({"Enabled": false}));
    Value::Object(out)
}

/// An ExtendedS3DestinationConfiguration (or an S3DestinationConfiguration) as an
/// ExtendedS3DestinationDescription, defaults filled in.
pub fn extended_s3_description(config: &Value) -> Value {
    let mut out = obj(&s3_description(config));
    let c = obj(config);
    for (k, v) in &c {
        match k.as_str() {
            "S3BackupConfiguration" => {
                out.insert("S3BackupDescription".into(), s3_description(v));
            }
            k if S3_MEMBERS.contains(&k) => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out.entry("S3BackupMode").or_insert(json!("Disabled"));
    if let Some(Value::Object(dp)) = out.get_mut("DynamicPartitioningConfiguration") {
        if dp.get("Enabled").and_then(Value::as_bool) == Some(true) {
            dp.entry("RetryOptions")
                .or_insert(json!({"DurationInSeconds": 300}));
        }
    }
    if let Some(Value::Object(fc)) = out.get_mut("DataFormatConversionConfiguration") {
        fc.entry("Enabled").or_insert(json!(true));
    }
    Value::Object(out)
}

/// An HttpEndpointDestinationConfiguration as its description (without the access key).
pub fn http_endpoint_description(config: &Value) -> (Value, Option<String>) {
    let c = obj(config);
    let mut out = Map::new();
    let mut access_key = None;
    for (k, v) in &c {
        match k.as_str() {
            "EndpointConfiguration" => {
                let mut e = obj(v);
                access_key = e
                    .remove("AccessKey")
                    .and_then(|a| a.as_str().map(str::to_string));
                out.insert(k.clone(), Value::Object(e));
            }
            "S3Configuration" => {
                out.insert("S3DestinationDescription".into(), s3_description(v));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    fill_buffering(&mut out, "BufferingHints");
    out.entry("CloudWatchLoggingOptions")
        .or_insert(json!({"Enabled": false}));
    out.entry("RequestConfiguration")
        .or_insert(json!({"ContentEncoding": "NONE"}));
    out.entry("RetryOptions")
        .or_insert(json!({"DurationInSeconds": 300}));
    out.entry("S3BackupMode").or_insert(json!("FailedDataOnly"));
    (Value::Object(out), access_key)
}

/// Applies an `...DestinationUpdate` to a stored description: given members replace stored
/// ones, nested hints merge member by member, the backup/S3 update merges into its description.
pub fn merge_update(description: &Value, update: &Value) -> Value {
    let mut out = obj(description);
    for (k, v) in obj(update) {
        match k.as_str() {
            "S3BackupUpdate" => {
                let merged = merge_update(out.get("S3BackupDescription").unwrap_or(&json!({})), &v);
                out.insert("S3BackupDescription".into(), s3_description(&merged));
            }
            "S3Update" => {
                let merged = merge_update(
                    out.get("S3DestinationDescription").unwrap_or(&json!({})),
                    &v,
                );
                out.insert("S3DestinationDescription".into(), s3_description(&merged));
            }
            "BufferingHints"
            | "RetryOptions"
            | "DynamicPartitioningConfiguration"
            | "RequestConfiguration"
            | "EndpointConfiguration" => {
                let mut m = out.get(&k).map(obj).unwrap_or_default();
                for (kk, vv) in obj(&v) {
                    if !(k == "EndpointConfiguration" && kk == "AccessKey") {
                        m.insert(kk, vv);
                    }
                }
                out.insert(k, Value::Object(m));
            }
            _ => {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}
