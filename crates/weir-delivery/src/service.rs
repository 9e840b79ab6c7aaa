//! [`DeliveryService`]: the control plane of delivery streams and the put path.
//!
//! Definitions live in the metadata store (table `delivery-streams`, JSON per stream, written
//! with compare-and-set) and in memory; memory is published only after the store accepted the
//! write. A DirectPut delivery stream's records are appended to its own shard of the *delivery
//! store* — a [`StreamStore`] that the Kinesis APIs never see — and acknowledged only once that
//! append is durable, so the store is the buffer and a crash loses no acknowledged record. Each
//! delivery stream runs one [`Pipeline`] task that reads the shard (or the Kinesis source) and
//! checkpoints only after delivery.

use crate::model::*;
use crate::pipeline::{self, Pipeline, Plan, Shared, StepReport};
use crate::source::{self, SourceKind, SourceReader};

mod put;
mod tags;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use weir_storage::{Expect, MetaOp, MetadataStore, ShardKey, StreamStore};
use weir_streams::StreamService;

const TABLE: &str = "delivery-streams";
const NODE: &str = "delivery-node";
const NEXT_UID: &str = "next-uid";
/// AWS's per-account, per-region quota of delivery streams.
pub const MAX_DELIVERY_STREAMS: usize = 5000;
pub const MAX_TAGS: usize = 50;

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub region: String,
    pub account_id: String,
    /// How long a new delivery stream stays CREATING (and a deleted one DELETING).
    pub creating_delay: Duration,
    /// How often an idle pipeline looks for new records and due buffers.
    pub poll_interval: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            creating_delay: Duration::from_millis(500),
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// The destination a CreateDeliveryStream request names (AWS field names).
#[derive(Debug, Clone)]
pub enum DestinationConfig {
    S3(Value),
    ExtendedS3(Value),
    HttpEndpoint(Value),
}

#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: String,
    pub stream_type: DeliveryStreamType,
    /// KinesisStreamSourceConfiguration: (KinesisStreamARN, RoleARN).
    pub kinesis_source: Option<(String, String)>,
    pub throughput_hint_mbs: Option<u32>,
    pub destination: DestinationConfig,
    pub tags: Vec<(String, String)>,
    /// DeliveryStreamEncryptionConfigurationInput: (KeyType, KeyARN).
    pub encryption: Option<(String, Option<String>)>,
}

/// An UpdateDestination's destination member (AWS field names).
#[derive(Debug, Clone)]
pub enum DestinationUpdate {
    S3(Value),
    ExtendedS3(Value),
    HttpEndpoint(Value),
}

/// One record's answer in PutRecordBatch: its RecordId, or (ErrorCode, ErrorMessage).
pub type PutOutcome = std::result::Result<String, (String, String)>;

struct Entry {
    state: Mutex<(DeliveryStreamMeta, u64)>,
    pipeline: Arc<tokio::sync::Mutex<Pipeline>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// CloudWatch Logs decompression is on: puts must be CloudWatch Logs payloads.
    cloudwatch_logs_only: std::sync::atomic::AtomicBool,
}

struct Inner {
    meta: Arc<dyn MetadataStore>,
    store: Arc<dyn StreamStore>,
    streams: Option<StreamService>,
    shared: Arc<Shared>,
    config: DeliveryConfig,
    entries: parking_lot::RwLock<BTreeMap<String, Arc<Entry>>>,
    next_uid: Mutex<u64>,
    /// Serialises control-plane changes (create/delete/update race on names).
    control: Mutex<()>,
}

impl Drop for Inner {
    /// Without a [`DeliveryService::shutdown`] the pipelines stop where they are, as in a
    /// crash: what they buffered is still in the source and is delivered after the next start.
    fn drop(&mut self) {
        for e in self.entries.read().values() {
            if let Some(t) = e.task.lock().take() {
                t.abort();
            }
        }
    }
}

/// The delivery service. Cheap to clone.
#[derive(Clone)]
pub struct DeliveryService {
    inner: Arc<Inner>,
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Internal(e.to_string()))
}

impl DeliveryService {
    /// Loads every delivery stream, finishes interrupted creations and deletions, and starts
    /// the pipelines. `store` is the delivery store (DirectPut records); `streams` reads
    /// Kinesis sources. Must run inside a tokio runtime.
    pub fn open(
        store: Arc<dyn StreamStore>,
        meta: Arc<dyn MetadataStore>,
        streams: Option<StreamService>,
        shared: Arc<Shared>,
        config: DeliveryConfig,
    ) -> Result<Self> {
        let next_uid = match meta.get(NODE, NEXT_UID)? {
            Some(v) => {
                serde_json::from_slice(&v.value).map_err(|e| Error::Internal(e.to_string()))?
            }
            None => 1,
        };
        let svc = Self {
            inner: Arc::new(Inner {
                meta,
                store,
                streams,
                shared,
                config,
                entries: Default::default(),
                next_uid: Mutex::new(next_uid),
                control: Mutex::new(()),
            }),
        };
        let mut live = std::collections::HashSet::new();
        for (name, v) in svc.inner.meta.list(TABLE)? {
            let mut m: DeliveryStreamMeta =
                serde_json::from_slice(&v.value).map_err(|e| Error::Internal(e.to_string()))?;
            let mut version = v.version;
            match m.status {
                DeliveryStreamStatus::Deleting => {
                    svc.finish_delete(&m, version)?;
                    continue;
                }
                DeliveryStreamStatus::Creating => {
                    m.status = DeliveryStreamStatus::Active;
                    version = svc.write(&m, Expect::Version(version))?;
                }
                DeliveryStreamStatus::Active => {}
            }
            live.insert(m.uid);
            let _ = name;
            svc.start(m, version)?;
        }
        // Shards of delivery streams that no longer exist.
        let mut orphans: Vec<u64> = svc
            .inner
            .store
            .shards()
            .into_iter()
            .map(|k| k.stream)
            .filter(|u| !live.contains(u))
            .collect();
        orphans.sort_unstable();
        orphans.dedup();
        for uid in orphans {
            svc.inner.store.delete_stream(uid)?;
        }
        Ok(svc)
    }

    pub fn config(&self) -> &DeliveryConfig {
        &self.inner.config
    }

    fn now(&self) -> i64 {
        self.inner.shared.clock.now_millis()
    }

    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:firehose:{}:{}:deliverystream/{name}",
            self.inner.config.region, self.inner.config.account_id
        )
    }

    fn not_found(&self, name: &str) -> Error {
        Error::ResourceNotFound(format!(
            "Firehose {name} under account {} not found.",
            self.inner.config.account_id
        ))
    }

    fn entry(&self, name: &str) -> Result<Arc<Entry>> {
        self.inner
            .entries
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    fn write(&self, m: &DeliveryStreamMeta, expect: Expect) -> Result<u64> {
        self.inner.meta.transact(vec![MetaOp::Put {
            table: TABLE.into(),
            key: m.name.clone(),
            value: to_json(m)?,
            expect,
        }])?;
        Ok(self
            .inner
            .meta
            .get(TABLE, &m.name)?
            .map(|v| v.version)
            .unwrap_or(0))
    }

    fn source_kind(&self, m: &DeliveryStreamMeta) -> Result<SourceKind> {
        Ok(match &m.source {
            None => SourceKind::DirectPut {
                store: self.inner.store.clone(),
                stream: m.uid,
            },
            Some(k) => SourceKind::Kinesis {
                streams: self.inner.streams.clone().ok_or_else(|| {
                    Error::Internal("no stream service for a Kinesis source".into())
                })?,
                stream_name: k.stream_name.clone(),
                start_millis: k.start_millis,
            },
        })
    }

    /// Publishes a delivery stream in memory and starts its pipeline.
    fn start(&self, m: DeliveryStreamMeta, version: u64) -> Result<()> {
        let plan = Plan::of(&m).map_err(Error::InvalidArgument)?;
        let cloudwatch_logs_only = plan.decompress.is_some();
        if m.source.is_none() {
            self.inner.store.create_shard(ShardKey {
                stream: m.uid,
                shard: 0,
            })?;
        }
        let reader = SourceReader::new(self.source_kind(&m)?, self.inner.meta.clone(), m.uid);
        let source_arn = m.source.as_ref().map(|k| k.stream_arn.clone());
        let pipeline = Arc::new(tokio::sync::Mutex::new(Pipeline::new(
            self.inner.shared.clone(),
            plan,
            reader,
            source_arn,
        )));
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let task = pipeline::spawn(pipeline.clone(), stop_rx, self.inner.config.poll_interval);
        let name = m.name.clone();
        let entry = Arc::new(Entry {
            state: Mutex::new((m, version)),
            pipeline,
            stop,
            task: Mutex::new(Some(task)),
            cloudwatch_logs_only: cloudwatch_logs_only.into(),
        });
        self.inner.entries.write().insert(name, entry);
        Ok(())
    }

    fn alloc_uid(&self) -> Result<u64> {
        let mut next = self.inner.next_uid.lock();
        let uid = *next;
        self.inner.meta.transact(vec![MetaOp::Put {
            table: NODE.into(),
            key: NEXT_UID.into(),
            value: to_json(&(uid + 1))?,
            expect: Expect::Any,
        }])?;
        *next = uid + 1;
        Ok(uid)
    }

    pub fn create(&self, req: CreateRequest) -> Result<String> {
        let _guard = self.inner.control.lock();
        if self.inner.entries.read().contains_key(&req.name) {
            return Err(Error::ResourceInUse(format!(
                "Firehose {} under accountId {} already exists",
                req.name, self.inner.config.account_id
            )));
        }
        if self.inner.entries.read().len() >= MAX_DELIVERY_STREAMS {
            return Err(Error::LimitExceeded(format!(
                "You have already consumed your firehose quota of {MAX_DELIVERY_STREAMS} hoses."
            )));
        }
        let now = self.now();
        let source = match (req.stream_type, &req.kinesis_source) {
            (DeliveryStreamType::KinesisStreamAsSource, Some((arn, role))) => {
                let streams = self.inner.streams.as_ref().ok_or_else(|| {
                    Error::InvalidArgument("Kinesis sources are not available.".into())
                })?;
                let name = streams
                    .parse_stream_arn(arn)
                    .ok_or_else(|| Error::InvalidArgument(format!("Invalid KinesisStreamARN: {arn}")))?;
                streams.stream_by_name(&name).map_err(|_| {
                    Error::InvalidArgument(format!("Stream {name} under account {} not found.", self.inner.config.account_id))
                })?;
                Some(KinesisSource {
                    stream_arn: arn.clone(),
                    stream_name: name,
                    role_arn: role.clone(),
                    start_millis: now,
                })
            }
            (DeliveryStreamType::KinesisStreamAsSource, None) => {
                return Err(Error::InvalidArgument(
                    "KinesisStreamSourceConfiguration is required when DeliveryStreamType is KinesisStreamAsSource.".into(),
                ))
            }
            (DeliveryStreamType::DirectPut, Some(_)) => {
                return Err(Error::InvalidArgument(
                    "KinesisSourceStreamConfig is only applicable for KinesisStreamAsSource stream type".into(),
                ))
            }
            (DeliveryStreamType::DirectPut, None) => None,
        };
        if source.is_some() && req.encryption.is_some() {
            return Err(Error::InvalidArgument(
                "Server-side encryption cannot be enabled for a delivery stream whose source is a Kinesis data stream.".into(),
            ));
        }
        let destination = match &req.destination {
            DestinationConfig::S3(c) | DestinationConfig::ExtendedS3(c) => {
                Destination::ExtendedS3(extended_s3_description(c))
            }
            DestinationConfig::HttpEndpoint(c) => {
                let (description, access_key) = http_endpoint_description(c);
                Destination::HttpEndpoint {
                    description,
                    access_key,
                }
            }
        };
        validate_destination(&destination)?;
        let tags: BTreeMap<String, String> = req.tags.iter().cloned().collect();
        let encryption = match &req.encryption {
            Some((key_type, key_arn)) => EncryptionState {
                status: "ENABLED".into(),
                key_type: Some(key_type.clone()),
                key_arn: key_arn.clone(),
            },
            None => EncryptionState::default(),
        };
        let delay = self.inner.config.creating_delay;
        let uid = self.alloc_uid()?;
        let m = DeliveryStreamMeta {
            name: req.name.clone(),
            uid,
            arn: self.arn(&req.name),
            stream_type: req.stream_type,
            status: if delay.is_zero() {
                DeliveryStreamStatus::Active
            } else {
                DeliveryStreamStatus::Creating
            },
            version: 1,
            created_millis: now,
            updated_millis: now,
            source,
            throughput_hint_mbs: req.throughput_hint_mbs,
            destination,
            tags,
            encryption,
        };
        Plan::of(&m).map_err(Error::InvalidArgument)?;
        let version = self.write(&m, Expect::Absent)?;
        let arn = m.arn.clone();
        self.start(m, version)?;
        if !delay.is_zero() {
            let svc = self.clone();
            let name = req.name.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = svc.change(&name, |m| {
                    if m.status == DeliveryStreamStatus::Creating {
                        m.status = DeliveryStreamStatus::Active;
                    }
                    Ok(())
                });
            });
        }
        Ok(arn)
    }

    /// Applies `f` to a copy of the definition, writes it with compare-and-set, publishes it.
    fn change(
        &self,
        name: &str,
        f: impl FnOnce(&mut DeliveryStreamMeta) -> Result<()>,
    ) -> Result<DeliveryStreamMeta> {
        let e = self.entry(name)?;
        let mut st = e.state.lock();
        let mut m = st.0.clone();
        f(&mut m)?;
        if m == st.0 {
            return Ok(m);
        }
        let version = self.write(&m, Expect::Version(st.1))?;
        *st = (m.clone(), version);
        Ok(m)
    }

    fn meta_of(&self, name: &str) -> Result<DeliveryStreamMeta> {
        Ok(self.entry(name)?.state.lock().0.clone())
    }

    pub fn delete(&self, name: &str, _allow_force: bool) -> Result<()> {
        let _guard = self.inner.control.lock();
        let m = self.change(name, |m| {
            if m.status == DeliveryStreamStatus::Deleting {
                return Err(Error::ResourceInUse(format!(
                    "Firehose {} is already being deleted.",
                    m.name
                )));
            }
            m.status = DeliveryStreamStatus::Deleting;
            Ok(())
        })?;
        let entry = self.entry(name)?;
        let _ = entry.stop.send(true);
        let svc = self.clone();
        let delay = self.inner.config.creating_delay;
        let name = name.to_string();
        tokio::spawn(async move {
            // Stop the pipeline first: what it held is dropped with the stream, as AWS does.
            let task = entry.task.lock().take();
            if let Some(t) = task {
                t.abort();
                let _ = t.await;
            }
            tokio::time::sleep(delay).await;
            let version = entry.state.lock().1;
            if let Err(e) = svc.finish_delete(&m, version) {
                tracing::warn!(delivery_stream = %name, error = %e, "delete failed");
                return;
            }
            let mut entries = svc.inner.entries.write();
            if entries.get(&name).is_some_and(|x| Arc::ptr_eq(x, &entry)) {
                entries.remove(&name);
            }
        });
        Ok(())
    }

    fn finish_delete(&self, m: &DeliveryStreamMeta, version: u64) -> Result<()> {
        if m.source.is_none() {
            self.inner.store.delete_stream(m.uid)?;
        }
        source::delete_checkpoints(self.inner.meta.as_ref(), m.uid)?;
        self.inner.meta.transact(vec![MetaOp::Delete {
            table: TABLE.into(),
            key: m.name.clone(),
            expect: Expect::Version(version),
        }])?;
        Ok(())
    }

    /// `DeliveryStreamDescription`.
    pub fn describe(
        &self,
        name: &str,
        exclusive_start_destination_id: Option<&str>,
    ) -> Result<Value> {
        let m = self.meta_of(name)?;
        let mut d = m.description();
        if exclusive_start_destination_id.is_some_and(|s| s >= DESTINATION_ID) {
            d["Destinations"] = Value::Array(Vec::new());
        }
        Ok(d)
    }

    /// ListDeliveryStreams: names in order after `start`, at most `limit`, and whether more.
    pub fn list(
        &self,
        limit: usize,
        stream_type: Option<DeliveryStreamType>,
        exclusive_start: Option<&str>,
    ) -> (Vec<String>, bool) {
        let entries = self.inner.entries.read();
        let names: Vec<String> = entries
            .iter()
            .filter(|(n, _)| exclusive_start.is_none_or(|s| n.as_str() > s))
            .filter(|(_, e)| stream_type.is_none_or(|t| e.state.lock().0.stream_type == t))
            .map(|(n, _)| n.clone())
            .collect();
        let more = names.len() > limit;
        (names.into_iter().take(limit).collect(), more)
    }

    pub async fn update_destination(
        &self,
        name: &str,
        current_version_id: &str,
        destination_id: &str,
        update: DestinationUpdate,
    ) -> Result<()> {
        let now = self.now();
        let m = {
            let _guard = self.inner.control.lock();
            self.change(name, |m| {
                if m.status != DeliveryStreamStatus::Active {
                    return Err(Error::ResourceInUse(format!(
                        "Firehose {} is not in the ACTIVE state.",
                        m.name
                    )));
                }
                if current_version_id != m.version.to_string() {
                    return Err(Error::ConcurrentModification(format!(
                        "Cannot update firehose: {} since the current version id: {} and specified version id: {} do not match",
                        m.name, m.version, current_version_id
                    )));
                }
                if destination_id != DESTINATION_ID {
                    return Err(Error::InvalidArgument(format!(
                        "Destination Id {destination_id} not found"
                    )));
                }
                let before = m.destination.clone();
                m.destination = match (&m.destination, &update) {
                    (Destination::ExtendedS3(d), DestinationUpdate::S3(u))
                    | (Destination::ExtendedS3(d), DestinationUpdate::ExtendedS3(u)) => {
                        Destination::ExtendedS3(extended_s3_description(&merge_update(d, u)))
                    }
                    (
                        Destination::HttpEndpoint {
                            description,
                            access_key,
                        },
                        DestinationUpdate::HttpEndpoint(u),
                    ) => Destination::HttpEndpoint {
                        description: merge_update(description, u),
                        access_key: u
                            .pointer("/EndpointConfiguration/AccessKey")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .or_else(|| access_key.clone()),
                    },
                    (_, u) => {
                        let to = match u {
                            DestinationUpdate::S3(_) | DestinationUpdate::ExtendedS3(_) => "ExtendedS3",
                            DestinationUpdate::HttpEndpoint(_) => "HttpEndpoint",
                        };
                        return Err(Error::InvalidArgument(format!(
                            "Changing the destination type to or from {to} is not supported at this time."
                        )));
                    }
                };
                let dynamic = |d: &Destination| {
                    d.description()
                        .pointer("/DynamicPartitioningConfiguration/Enabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                };
                if dynamic(&m.destination) && !dynamic(&before) {
                    return Err(Error::InvalidArgument(
                        "Dynamic partitioning cannot be enabled on an existing delivery stream that was created without it.".into(),
                    ));
                }
                validate_destination(&m.destination)?;
                m.version += 1;
                m.updated_millis = now;
                Plan::of(m).map_err(Error::InvalidArgument)?;
                Ok(())
            })?
        };
        let plan = Plan::of(&m).map_err(Error::InvalidArgument)?;
        let entry = self.entry(name)?;
        entry.cloudwatch_logs_only.store(
            plan.decompress.is_some(),
            std::sync::atomic::Ordering::Relaxed,
        );
        entry.pipeline.lock().await.set_plan(plan);
        Ok(())
    }

    /// Runs one pipeline step now (tests; `force` writes every buffer).
    pub async fn step(&self, name: &str, force: bool) -> Result<StepReport> {
        let e = self.entry(name)?;
        let mut p = e.pipeline.lock().await;
        p.step(force).await
    }

    /// Stops every pipeline after it wrote its buffers (graceful shutdown).
    pub async fn shutdown(&self) {
        let entries: Vec<Arc<Entry>> = self.inner.entries.read().values().cloned().collect();
        for e in &entries {
            let _ = e.stop.send(true);
        }
        for e in entries {
            let task = e.task.lock().take();
            if let Some(t) = task {
                let _ = t.await;
            }
        }
    }

    /// Names of every delivery stream (metrics listing).
    pub fn names(&self) -> Vec<String> {
        self.inner.entries.read().keys().cloned().collect()
    }
}

/// Semantic checks AWS makes beyond the model's constraints.
fn validate_destination(d: &Destination) -> Result<()> {
    let desc = d.description();
    let s3 = match d {
        Destination::ExtendedS3(x) => x,
        Destination::HttpEndpoint { description, .. } => description
            .get("S3DestinationDescription")
            .unwrap_or(description),
    };
    let prefix = s3.get("Prefix").and_then(Value::as_str);
    let error_prefix = s3.get("ErrorOutputPrefix").and_then(Value::as_str);
    let dynamic = desc
        .pointer("/DynamicPartitioningConfiguration/Enabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let tz = desc.get("CustomTimeZone").and_then(Value::as_str);
    crate::keys::validate(prefix, error_prefix, dynamic, tz).map_err(Error::InvalidArgument)?;
    if dynamic {
        let size = desc
            .pointer("/BufferingHints/SizeInMBs")
            .and_then(Value::as_u64)
            .unwrap_or(5);
        if size < 64 {
            return Err(Error::InvalidArgument(
                "BufferingHints.SizeInMBs must be at least 64 when Dynamic Partitioning is enabled.".into(),
            ));
        }
    }
    Ok(())
}
