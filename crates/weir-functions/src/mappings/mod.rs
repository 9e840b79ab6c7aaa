//! Event-source mappings: weir streams feeding functions with Lambda's semantics for Kinesis
//! sources (batching, windows, retries, bisection, partial batch failures, record age, on-failure
//! destinations, filters, tumbling windows, parallelization), checkpointed in the metadata store
//! so that a restart resumes where processing stopped.

mod batch;
pub mod event;
pub mod filter;
pub mod model;
mod runner;
mod store;

use crate::{Error, FunctionService, Result};
use model::*;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use weir_core::Clock;
use weir_storage::MetadataStore;
use weir_streams::StreamService;

pub use model::{EventSourceMapping, StartingPosition};

/// A CreateEventSourceMapping request, decoded (None = Lambda's default).
#[derive(Debug, Clone, Default)]
pub struct CreateMapping {
    pub function_name: String,
    pub event_source_arn: String,
    pub enabled: Option<bool>,
    pub batch_size: Option<u32>,
    pub max_batching_window_secs: Option<u32>,
    pub starting_position: Option<String>,
    pub starting_position_timestamp: Option<i64>,
    pub parallelization_factor: Option<u32>,
    pub bisect_on_error: Option<bool>,
    pub max_retry_attempts: Option<i32>,
    pub max_record_age_secs: Option<i32>,
    pub on_failure: Option<String>,
    pub function_response_types: Vec<String>,
    pub tumbling_window_secs: Option<u32>,
    pub filters: Option<Vec<String>>,
}

/// An UpdateEventSourceMapping request: only the given members change.
pub type UpdateMapping = CreateMapping;

/// Per-mapping counters for `/metrics`.
#[derive(Clone, Default)]
pub struct Stats(Arc<Mutex<HashMap<String, Arc<MappingStats>>>>);

#[derive(Default, Debug)]
pub struct MappingStats {
    pub batches_ok: AtomicU64,
    pub batches_failed: AtomicU64,
    pub iterator_age_millis: AtomicI64,
}

impl Stats {
    fn of(&self, m: &EventSourceMapping) -> Arc<MappingStats> {
        self.0.lock().entry(m.uuid.clone()).or_default().clone()
    }
    fn ok(&self, m: &EventSourceMapping) {
        self.of(m).batches_ok.fetch_add(1, Ordering::Relaxed);
    }
    fn failed(&self, m: &EventSourceMapping) {
        self.of(m).batches_failed.fetch_add(1, Ordering::Relaxed);
    }
    fn iterator_age(&self, m: &EventSourceMapping, millis: i64) {
        self.of(m)
            .iterator_age_millis
            .store(millis, Ordering::Relaxed);
    }
    /// Every mapping's counters, by UUID.
    pub fn snapshot(&self) -> Vec<(String, Arc<MappingStats>)> {
        let mut v: Vec<_> = self
            .0
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
    fn forget(&self, uuid: &str) {
        self.0.lock().remove(uuid);
    }
}

struct Runner {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// The mapping service. Cheap to clone.
#[derive(Clone)]
pub struct EventSourceMappings {
    ctx: Arc<runner::Ctx>,
    runners: Arc<Mutex<HashMap<String, Runner>>>,
}

impl EventSourceMappings {
    /// Opens the stored mappings and starts the enabled ones.
    pub fn open(
        meta: Arc<dyn MetadataStore>,
        functions: FunctionService,
        streams: StreamService,
        clock: Arc<dyn Clock>,
        buckets_dir: PathBuf,
    ) -> Result<Self> {
        let svc = EventSourceMappings {
            ctx: Arc::new(runner::Ctx {
                functions,
                streams,
                store: store::Store::new(meta),
                clock,
                buckets_dir,
                stats: Stats::default(),
            }),
            runners: Arc::default(),
        };
        for m in svc.ctx.store.list()? {
            if m.enabled {
                svc.start(m);
            }
        }
        Ok(svc)
    }

    pub fn stats(&self) -> &Stats {
        &self.ctx.stats
    }

    pub fn arn(&self, uuid: &str) -> String {
        let s = self.ctx.functions.settings();
        format!(
            "arn:aws:lambda:{}:{}:event-source-mapping:{uuid}",
            s.region, s.account_id
        )
    }

    pub fn create(&self, req: CreateMapping) -> Result<EventSourceMapping> {
        let function = self.ctx.functions.get(&req.function_name)?;
        let stream_name = self
            .ctx
            .streams
            .parse_stream_arn(&req.event_source_arn)
            .filter(|n| self.ctx.streams.lineage(n).is_ok())
            .ok_or_else(|| Error::Invalid(format!("Stream not found: {}", req.event_source_arn)))?;
        let position = match req.starting_position.as_deref() {
            None => {
                return Err(Error::Invalid(
                    "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null".into(),
                ))
            }
            Some(p) => StartingPosition::parse(p).ok_or_else(|| {
                Error::Invalid(format!("Unsupported starting position: {p}"))
            })?,
        };
        if position == StartingPosition::AtTimestamp && req.starting_position_timestamp.is_none() {
            return Err(Error::Invalid(
                "StartingPositionTimestamp must be provided for AT_TIMESTAMP starting position."
                    .into(),
            ));
        }
        let now = self.ctx.clock.now_millis();
        let mut m = EventSourceMapping {
            uuid: uuid::Uuid::new_v4().to_string(),
            function_arn: function.arn,
            event_source_arn: req.event_source_arn.clone(),
            stream_name,
            batch_size: DEFAULT_BATCH_SIZE,
            max_batching_window_secs: 0,
            starting_position: position,
            starting_position_timestamp: req.starting_position_timestamp,
            parallelization_factor: 1,
            bisect_on_error: false,
            max_retry_attempts: -1,
            max_record_age_secs: -1,
            on_failure: None,
            report_batch_item_failures: false,
            tumbling_window_secs: 0,
            filters: Vec::new(),
            enabled: true,
            last_modified_millis: now,
            last_processing_result: "No records processed".into(),
            created_millis: now,
        };
        apply(&mut m, &req)?;
        self.ctx.store.put(&m)?;
        if m.enabled {
            self.start(m.clone());
        }
        Ok(m)
    }

    pub fn get(&self, uuid: &str) -> Result<EventSourceMapping> {
        self.ctx
            .store
            .get(uuid)?
            .ok_or_else(|| Error::NotFound(format!("The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})")))
    }

    /// Mappings, optionally only those of one function and/or one source.
    pub fn list(
        &self,
        function: Option<&str>,
        source: Option<&str>,
    ) -> Result<Vec<EventSourceMapping>> {
        let function_arn = function.map(|f| self.ctx.functions.arn(FunctionService::name_of(f)));
        let mut all = self.ctx.store.list()?;
        all.retain(|m| {
            function_arn.as_ref().is_none_or(|f| &m.function_arn == f)
                && source.is_none_or(|s| m.event_source_arn == s)
        });
        all.sort_by_key(|m| m.created_millis);
        Ok(all)
    }

    pub fn update(&self, uuid: &str, req: UpdateMapping) -> Result<EventSourceMapping> {
        let mut m = self.get(uuid)?;
        if !req.function_name.is_empty() {
            m.function_arn = self.ctx.functions.get(&req.function_name)?.arn;
        }
        apply(&mut m, &req)?;
        m.last_modified_millis = self.ctx.clock.now_millis();
        self.ctx.store.put(&m)?;
        self.stop(uuid);
        if m.enabled {
            self.start(m.clone());
        }
        Ok(m)
    }

    pub fn delete(&self, uuid: &str) -> Result<EventSourceMapping> {
        let m = self.get(uuid)?;
        self.stop(uuid);
        self.ctx.store.delete(uuid)?;
        self.ctx.stats.forget(uuid);
        Ok(m)
    }

    /// Stops every mapping (weir is stopping); their checkpoints stay.
    pub async fn shutdown(&self) {
        let all: Vec<_> = self.runners.lock().drain().collect();
        for (_, r) in &all {
            let _ = r.stop.send(true);
        }
        for (_, r) in all {
            let _ = tokio::time::timeout(Duration::from_secs(5), r.task).await;
        }
    }

    fn start(&self, m: EventSourceMapping) {
        let (stop, rx) = watch::channel(false);
        let uuid = m.uuid.clone();
        let task = tokio::spawn(runner::run(self.ctx.clone(), Arc::new(m), rx));
        if let Some(old) = self.runners.lock().insert(uuid, Runner { stop, task }) {
            let _ = old.stop.send(true);
        }
    }

    fn stop(&self, uuid: &str) {
        if let Some(r) = self.runners.lock().remove(uuid) {
            let _ = r.stop.send(true);
        }
    }
}

/// Applies the members a Create or Update request gives, with Lambda's checks.
fn apply(m: &mut EventSourceMapping, req: &CreateMapping) -> Result<()> {
    if let Some(v) = req.enabled {
        m.enabled = v;
    }
    if let Some(v) = req.batch_size {
        m.batch_size = v;
    }
    if let Some(v) = req.max_batching_window_secs {
        m.max_batching_window_secs = v;
    }
    if let Some(v) = req.parallelization_factor {
        m.parallelization_factor = v;
    }
    if let Some(v) = req.bisect_on_error {
        m.bisect_on_error = v;
    }
    if let Some(v) = req.max_retry_attempts {
        m.max_retry_attempts = v;
    }
    if let Some(v) = req.max_record_age_secs {
        if v != -1 && v < MIN_RECORD_AGE_SECS {
            return Err(Error::Invalid(format!(
                "MaximumRecordAgeInSeconds must be -1 (infinite) or between {MIN_RECORD_AGE_SECS} and {MAX_RECORD_AGE_SECS}, got {v}."
            )));
        }
        m.max_record_age_secs = v;
    }
    if let Some(dest) = &req.on_failure {
        let ok = dest.is_empty()
            || dest.starts_with("arn:aws:s3:::")
            || dest.starts_with("arn:aws:kinesis:");
        if !ok {
            return Err(Error::Invalid(format!(
                "weir supports Kinesis stream and S3 bucket on-failure destinations; {dest} is neither."
            )));
        }
        m.on_failure = (!dest.is_empty()).then(|| dest.clone());
    }
    for t in &req.function_response_types {
        if t != "ReportBatchItemFailures" {
            return Err(Error::Invalid(format!(
                "1 validation error detected: Value '[{t}]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]"
            )));
        }
    }
    if !req.function_response_types.is_empty() {
        m.report_batch_item_failures = true;
    }
    if let Some(v) = req.tumbling_window_secs {
        m.tumbling_window_secs = v;
    }
    if let Some(f) = &req.filters {
        filter::Filters::new(f).map_err(Error::Invalid)?;
        m.filters = f.clone();
    }
    Ok(())
}
