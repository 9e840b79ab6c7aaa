//! One delivery pipeline per delivery stream: read the source, process, buffer per partition,
//! write objects, and only then move the source checkpoint.
//!
//! Processing order is Firehose's: decompression (CloudWatch Logs) → KPL de-aggregation
//! (Kinesis sources) → Lambda transform → RecordDeAggregation → MetadataExtraction (dynamic
//! partitioning) → buffer → format conversion → AppendDelimiterToRecord → compression.
//! A buffer is written as one object when it reaches the size hint or has been open for the
//! interval hint (time from the [`Clock`]), or at shutdown. Records that fail a stage become
//! error records (JSON lines under the ErrorOutputPrefix, as Firehose writes them); nothing is
//! dropped silently. A buffer or error batch whose write fails stays and is retried, and the
//! checkpoint never passes a record that is not yet in an object.

pub mod convert;
mod metrics;
pub mod plan;
mod process;

use crate::keys::{self, KeyContext};
use crate::sink::Buckets;
use crate::source::SourceReader;
use crate::transform::Invoker;
use bytes::Bytes;
pub use convert::{Converted, FormatConversion, NoConversion};
pub use metrics::{FirehoseMetric, NoMetrics, Recorder};
pub use plan::Plan;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use weir_core::Clock;

/// What every pipeline shares.
pub struct Shared {
    pub clock: Arc<dyn Clock>,
    pub buckets: Arc<Buckets>,
    pub invoker: Arc<dyn Invoker>,
    pub conversion: Arc<dyn FormatConversion>,
    pub recorder: Arc<dyn Recorder>,
    pub region: String,
}

/// One record on its way to an object.
#[derive(Clone)]
pub(crate) struct Item {
    pub data: Vec<u8>,
    pub arrival: i64,
    /// The source record as received (for error records).
    pub raw: Bytes,
    pub shard: u32,
    pub offset: u64,
    pub sequence_number: Option<String>,
    pub sub_sequence: u64,
}

/// A record that failed a stage, on its way to the error prefix.
pub(crate) struct ErrorRecord {
    pub output_type: &'static str,
    pub code: String,
    pub message: String,
    pub item: Item,
    pub lambda_arn: Option<String>,
    pub attempts: u32,
}

impl ErrorRecord {
    /// A record's first failure, in a stage that names no Lambda function.
    pub fn new(output_type: &'static str, code: &str, message: String, item: Item) -> Self {
        ErrorRecord {
            output_type,
            code: code.to_string(),
            message,
            item,
            lambda_arn: None,
            attempts: 1,
        }
    }
}

/// Firehose's limit of partitions buffered at once per delivery stream (dynamic partitioning);
/// records of further partitions go to the error output.
pub const MAX_ACTIVE_PARTITIONS: usize = 500;

type PartitionKey = (BTreeMap<String, String>, BTreeMap<String, String>);

struct Buffer {
    items: Vec<Item>,
    bytes: usize,
    opened_millis: i64,
    min_pos: BTreeMap<u32, u64>,
    /// After a failed delivery, not tried again before this time (see [`S3_RETRY_MILLIS`]).
    retry_at: Option<i64>,
}

/// Firehose retries a failed delivery to S3 every 5 seconds (for up to 24 hours, the
/// record's retention); before, every step — each new record — tried a failing bucket again.
const S3_RETRY_MILLIS: i64 = 5_000;

impl Buffer {
    fn new(now: i64) -> Self {
        Self {
            items: Vec::new(),
            bytes: 0,
            opened_millis: now,
            min_pos: BTreeMap::new(),
            retry_at: None,
        }
    }

    /// Whether a failed delivery's retry wait (if any) is over.
    fn may_try(&self, now: i64) -> bool {
        self.retry_at.is_none_or(|t| now >= t)
    }
    fn push(&mut self, item: Item) {
        // The interval runs from the first record's arrival: it was durable (and waiting) in
        // the source from then on.
        if self.items.is_empty() {
            self.opened_millis = self.opened_millis.min(item.arrival);
        }
        self.bytes += item.data.len();
        let p = self.min_pos.entry(item.shard).or_insert(item.offset);
        *p = (*p).min(item.offset);
        self.items.push(item);
    }
    fn oldest_arrival(&self) -> i64 {
        self.items.iter().map(|i| i.arrival).min().unwrap_or(0)
    }
}

/// What one step did (tests look at it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    pub read: usize,
    pub objects: usize,
    pub error_objects: usize,
}

pub struct Pipeline {
    shared: Arc<Shared>,
    plan: Plan,
    reader: SourceReader,
    source_arn: Option<String>,
    buffers: BTreeMap<PartitionKey, Buffer>,
    backup: Option<Buffer>,
    pending_errors: Vec<ErrorRecord>,
}

impl Pipeline {
    pub fn new(
        shared: Arc<Shared>,
        plan: Plan,
        reader: SourceReader,
        source_arn: Option<String>,
    ) -> Self {
        Self {
            shared,
            plan,
            reader,
            source_arn,
            buffers: BTreeMap::new(),
            backup: None,
            pending_errors: Vec::new(),
        }
    }

    /// A new configuration (UpdateDestination): later objects carry the new version.
    pub fn set_plan(&mut self, plan: Plan) {
        self.plan = plan;
    }

    fn limits(&self) -> (usize, i64) {
        if self.plan.http.is_some() {
            (self.plan.http_size_bytes, self.plan.http_interval_millis)
        } else {
            (
                self.plan.objects.size_bytes,
                self.plan.objects.interval_millis,
            )
        }
    }

    /// Reads what the source has, processes it, writes every buffer that is due (all of them
    /// when `force`), then checkpoints what is delivered.
    pub async fn step(&mut self, force: bool) -> crate::model::Result<StepReport> {
        let records = self.reader.read()?;
        let mut report = StepReport {
            read: records.len(),
            ..Default::default()
        };
        let now = self.shared.clock.now_millis();
        let mut errors = std::mem::take(&mut self.pending_errors);
        if self.plan.backup.is_some() {
            let b = self.backup.get_or_insert_with(|| Buffer::new(now));
            for r in &records {
                b.push(Item {
                    data: r.data.to_vec(),
                    arrival: r.arrival_millis,
                    raw: r.data.clone(),
                    shard: r.shard,
                    offset: r.offset,
                    sequence_number: r.sequence_number.clone(),
                    sub_sequence: 0,
                });
            }
        }
        let units = process::run(self, &records, &mut errors).await;
        let (size_limit, interval) = self.limits();
        for (key, item) in units {
            if self.plan.dynamic_partitioning
                && !self.buffers.contains_key(&key)
                && self.buffers.len() >= MAX_ACTIVE_PARTITIONS
            {
                errors.push(ErrorRecord::new(
                    "activePartitionExceeded",
                    "DynamicPartitioning.ActivePartitionsLimitExceeded",
                    format!(
                        "The number of active partitions exceeds the limit of {MAX_ACTIVE_PARTITIONS}."
                    ),
                    item,
                ));
                continue;
            }
            let b = self
                .buffers
                .entry(key.clone())
                .or_insert_with(|| Buffer::new(now));
            b.push(item);
            if b.bytes >= size_limit && b.may_try(now) {
                if let Some(buf) = self.buffers.remove(&key) {
                    self.flush(key, buf, &mut errors, &mut report).await;
                }
            }
        }
        let due: Vec<PartitionKey> = self
            .buffers
            .iter()
            .filter(|(_, b)| force || (now - b.opened_millis >= interval && b.may_try(now)))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(buf) = self.buffers.remove(&key) {
                self.flush(key, buf, &mut errors, &mut report).await;
            }
        }
        if let (Some(bp), Some(b)) = (self.plan.backup.clone(), self.backup.as_ref()) {
            let due = !b.items.is_empty()
                && (force
                    || b.bytes >= bp.size_bytes
                    || now - b.opened_millis >= bp.interval_millis);
            if due {
                if let Some(buf) = self.backup.take() {
                    if let Err(e) = self.write_backup(&bp, &buf).await {
                        tracing::warn!(delivery_stream = %self.plan.name, error = %e, "backup write failed; will retry");
                        self.backup = Some(buf);
                    } else {
                        report.objects += 1;
                    }
                }
            } else if b.items.is_empty() {
                self.backup = None;
            }
        }
        if !errors.is_empty() {
            match self.write_errors(&errors).await {
                Ok(n) => report.error_objects += n,
                Err(e) => {
                    tracing::warn!(delivery_stream = %self.plan.name, error = %e, "error output write failed; will retry");
                    self.pending_errors = errors;
                }
            }
        }
        self.checkpoint()?;
        Ok(report)
    }

    /// Moves the checkpoint of every shard to the oldest record not yet in an object.
    fn checkpoint(&mut self) -> crate::model::Result<()> {
        let mut pos = self.reader.read_positions();
        let mut hold = |shard: u32, off: u64| {
            if let Some(p) = pos.get_mut(&shard) {
                *p = (*p).min(off);
            }
        };
        for b in self.buffers.values().chain(self.backup.iter()) {
            for (s, o) in &b.min_pos {
                hold(*s, *o);
            }
        }
        for e in &self.pending_errors {
            hold(e.item.shard, e.item.offset);
        }
        self.reader.commit(&pos)
    }

    fn ctx<'a>(
        &'a self,
        arrival: i64,
        key: &'a PartitionKey,
        time_zone: Option<&'a str>,
    ) -> KeyContext<'a> {
        KeyContext {
            delivery_stream: &self.plan.name,
            version: self.plan.version,
            arrival_millis: arrival,
            time_zone,
            query_keys: &key.0,
            lambda_keys: &key.1,
        }
    }

    async fn flush(
        &mut self,
        key: PartitionKey,
        mut buf: Buffer,
        errors: &mut Vec<ErrorRecord>,
        report: &mut StepReport,
    ) {
        if buf.items.is_empty() {
            return;
        }
        match self.write_buffer(&key, &buf, errors).await {
            Ok(wrote) => report.objects += wrote as usize,
            Err(e) => {
                tracing::warn!(delivery_stream = %self.plan.name, error = %e, "delivery failed; will retry in 5 s");
                let now = self.shared.clock.now_millis();
                self.shared.recorder.record(
                    &self.plan.name,
                    now,
                    &[(FirehoseMetric::DeliveryToS3Success, 0.0)],
                );
                buf.retry_at = Some(now + S3_RETRY_MILLIS);
                self.buffers.insert(key, buf);
            }
        }
    }

    /// Writes one buffer; Ok(false) when every record went to the error output instead.
    async fn write_buffer(
        &self,
        key: &PartitionKey,
        buf: &Buffer,
        errors: &mut Vec<ErrorRecord>,
    ) -> Result<bool, String> {
        let plan = &self.plan;
        let records: Vec<&[u8]> = buf.items.iter().map(|i| i.data.as_slice()).collect();
        if let Some(target) = &plan.http {
            return match crate::http_endpoint::deliver(target, &plan.arn, &records).await {
                Ok(()) => Ok(true),
                Err(message) => {
                    for item in &buf.items {
                        errors.push(ErrorRecord::new(
                            "http-endpoint-failed",
                            "HttpEndpoint.DeliveryFailed",
                            message.clone(),
                            item.clone(),
                        ));
                    }
                    Ok(false)
                }
            };
        }
        let objects = &plan.objects;
        let (body, extension, delivered) = match &plan.conversion {
            Some(config) => match cpu_heavy(|| self.shared.conversion.convert(config, &records)) {
                Ok(c) => {
                    for (i, message) in &c.failed {
                        if let Some(item) = buf.items.get(*i) {
                            errors.push(ErrorRecord::new(
                                "format-conversion-failed",
                                "DataFormatConversion.ParseError",
                                message.clone(),
                                item.clone(),
                            ));
                        }
                    }
                    let n = buf.items.len() - c.failed.len();
                    (c.file, c.extension.to_string(), n)
                }
                Err(message) => {
                    for item in &buf.items {
                        errors.push(ErrorRecord::new(
                            "format-conversion-failed",
                            "DataFormatConversion.ConversionFailed",
                            message.clone(),
                            item.clone(),
                        ));
                    }
                    return Ok(false);
                }
            },
            None => {
                let body = cpu_heavy(|| {
                    let mut out = Vec::with_capacity(buf.bytes + buf.items.len());
                    for r in &records {
                        out.extend_from_slice(r);
                        if let Some(d) = &plan.append_delimiter {
                            out.extend_from_slice(d);
                        }
                    }
                    objects.compression.compress(&out)
                });
                (
                    body,
                    objects.compression.extension().to_string(),
                    buf.items.len(),
                )
            }
        };
        let extension = objects.file_extension.clone().unwrap_or(extension);
        let oldest = buf.oldest_arrival();
        let ctx = self.ctx(oldest, key, objects.time_zone.as_deref());
        let prefix = match keys::prefix(objects.prefix.as_deref(), &ctx) {
            Ok(p) => p,
            Err(message) => {
                for item in &buf.items {
                    errors.push(ErrorRecord::new(
                        "partitioning-failed",
                        "DynamicPartitioning.MissingPartitionKey",
                        message.clone(),
                        item.clone(),
                    ));
                }
                return Ok(false);
            }
        };
        let object_key = format!("{prefix}{}", keys::object_name(&ctx, &extension));
        let len = body.len();
        self.shared
            .buckets
            .put(&objects.bucket, &object_key, Bytes::from(body))
            .await?;
        let now = self.shared.clock.now_millis();
        self.shared.recorder.record(
            &plan.name,
            now,
            &[
                (FirehoseMetric::DeliveryToS3Records, delivered as f64),
                (FirehoseMetric::DeliveryToS3Bytes, len as f64),
                (FirehoseMetric::DeliveryToS3Success, 1.0),
                (
                    FirehoseMetric::DeliveryToS3DataFreshness,
                    ((now - oldest).max(0) / 1000) as f64,
                ),
            ],
        );
        Ok(true)
    }

    async fn write_backup(&self, bp: &plan::ObjectPlan, buf: &Buffer) -> Result<(), String> {
        let mut out = Vec::with_capacity(buf.bytes);
        for i in &buf.items {
            out.extend_from_slice(&i.data);
        }
        let empty = (BTreeMap::new(), BTreeMap::new());
        let ctx = self.ctx(buf.oldest_arrival(), &empty, bp.time_zone.as_deref());
        let prefix = keys::prefix(bp.prefix.as_deref(), &ctx)?;
        let key = format!(
            "{prefix}{}",
            keys::object_name(&ctx, bp.compression.extension())
        );
        self.shared
            .buckets
            .put(
                &bp.bucket,
                &key,
                Bytes::from(cpu_heavy(|| bp.compression.compress(&out))),
            )
            .await
    }

    /// One object per error output type, JSON lines as Firehose writes them.
    async fn write_errors(&self, errors: &[ErrorRecord]) -> Result<usize, String> {
        let mut by_type: BTreeMap<&'static str, Vec<&ErrorRecord>> = BTreeMap::new();
        for e in errors {
            by_type.entry(e.output_type).or_default().push(e);
        }
        let now = self.shared.clock.now_millis();
        let objects = &self.plan.objects;
        let mut n = 0;
        for (output_type, list) in by_type {
            let mut body = Vec::new();
            for e in &list {
                let mut line = serde_json::json!({
                    "attemptsMade": e.attempts,
                    "arrivalTimestamp": e.item.arrival,
                    "errorCode": e.code,
                    "errorMessage": e.message,
                    "attemptEndingTimestamp": now,
                    "rawData": base64_simd::STANDARD.encode_to_string(&e.item.raw),
                });
                if let Some(l) = &e.lambda_arn {
                    line["lambdaArn"] = serde_json::json!(l);
                }
                if let Some(s) = &e.item.sequence_number {
                    line["sequenceNumber"] = serde_json::json!(s);
                    line["subSequenceNumber"] = serde_json::json!(e.item.sub_sequence);
                }
                if let Some(arn) = &self.source_arn {
                    line["sourceKinesisStreamArn"] = serde_json::json!(arn);
                }
                body.extend_from_slice(line.to_string().as_bytes());
                body.push(b'\n');
            }
            let oldest = list.iter().map(|e| e.item.arrival).min().unwrap_or(now);
            let empty = (BTreeMap::new(), BTreeMap::new());
            let ctx = self.ctx(oldest, &empty, objects.time_zone.as_deref());
            let prefix = keys::error_prefix(
                objects.error_prefix.as_deref(),
                objects.prefix.as_deref(),
                output_type,
                &ctx,
            );
            let key = format!(
                "{prefix}{}",
                keys::object_name(&ctx, objects.compression.extension())
            );
            self.shared
                .buckets
                .put(
                    &objects.bucket,
                    &key,
                    Bytes::from(cpu_heavy(|| objects.compression.compress(&body))),
                )
                .await?;
            n += 1;
        }
        Ok(n)
    }
}

/// Runs a pipeline until `stop` turns true, then writes every buffer (graceful shutdown).
pub fn spawn(
    pipeline: Arc<tokio::sync::Mutex<Pipeline>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    poll: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // A single-shard source (DirectPut) wakes the pipeline when records arrive, so an idle
        // pipeline only needs to look at the clock now and then; other sources are polled.
        let mut watcher: Option<tokio::sync::watch::Receiver<u64>> = None;
        loop {
            if *stop.borrow() {
                break;
            }
            if let Some(w) = watcher.as_mut() {
                w.borrow_and_update();
            }
            let read = {
                let mut p = pipeline.lock().await;
                let read = match p.step(false).await {
                    Ok(r) => r.read,
                    Err(e) => {
                        tracing::warn!(delivery_stream = %p.plan.name, error = %e, "delivery step failed");
                        0
                    }
                };
                if watcher.is_none() {
                    let mut w = p.reader.watchers();
                    if w.len() == 1 {
                        watcher = w.pop();
                    }
                }
                read
            };
            if read > 0 {
                tokio::task::yield_now().await;
                continue;
            }
            let idle = if watcher.is_some() { poll * 10 } else { poll };
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                changed = async {
                    match watcher.as_mut() {
                        Some(w) => w.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                } => {
                    if !changed {
                        watcher = None;
                    }
                }
                changed = stop.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
        let mut p = pipeline.lock().await;
        // Drain what the source still has, then write every buffer.
        for _ in 0..10 {
            match p.step(true).await {
                Ok(r) if r.read > 0 => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(delivery_stream = %p.plan.name, error = %e, "final delivery step failed");
                    break;
                }
            }
        }
    })
}

/// Runs CPU-bound work on a buffer — format conversion, compression — without holding up the
/// other tasks of the worker thread it runs on: a full 128 MiB buffer takes seconds to convert
/// or gzip, and the server's Kinesis and Firehose requests share these workers. On a
/// multi-thread runtime tokio hands this worker's other tasks to another thread meanwhile
/// (`block_in_place`, which keeps the borrows); elsewhere (a current-thread test runtime) it
/// simply runs.
fn cpu_heavy<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
