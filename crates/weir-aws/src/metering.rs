//! Recording the Kinesis metrics at the front end, where each operation knows its stream, shard,
//! bytes, records, latency, outcome and throttling — so the stream service needs no hooks.
//!
//! The recorder travels with the request as a tokio task-local ([`scope`]) rather than as an
//! argument, so every operation keeps the one `(service, input)` signature the dispatcher
//! calls, and in-process callers without a recorder (property tests) simply record nothing.
//! Recording costs one registry lookup and one uncontended mutex per operation; the stream's
//! enhanced-monitoring set is re-read from its metadata at most once a second.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use weir_core::{HashKey, SequenceNumber, ShardId};
use weir_metrics::process::ProcessClock;
use weir_metrics::{
    FirehoseMetric, Metric, Namespace, Registry, ShardMetrics, StreamSeries, Table,
};
use weir_streams::service::Stream;
use weir_streams::{Error, GetRecordsOutput, PutEntry, PutResult, StreamRef, StreamService};

use Metric::*;

/// How often a stream's enhanced-monitoring set is re-read.
const SHARD_METRICS_REFRESH_MS: i64 = 1000;

/// What the front end records into: the registry and the process clock.
#[derive(Debug, Default)]
pub struct Metrics {
    pub registry: Registry,
    pub process: ProcessClock,
    /// The Firehose metrics (`AWS/Firehose`), recorded by the put path and the delivery
    /// pipelines.
    pub firehose: Arc<Table<FirehoseMetric>>,
}

impl Metrics {
    pub fn new(registry: Registry) -> Self {
        Self {
            registry,
            process: ProcessClock::default(),
            firehose: Arc::default(),
        }
    }

    /// Drops the series of streams that no longer exist (or were re-created), before the
    /// series are read.
    pub fn forget_deleted(&self, svc: &StreamService) {
        self.registry
            .retain_streams(|name, uid| svc.stream_by_name(name).is_ok_and(|s| s.uid == uid));
    }

    /// `/metrics` in Prometheus text format: `namespaces` (see
    /// [`crate::server::Router::namespaces`]), the registry's bookkeeping, the process.
    pub fn prometheus_text(&self, namespaces: &[&dyn Namespace]) -> String {
        weir_metrics::prometheus::render(namespaces, &self.registry, &self.process.sample())
    }
}

tokio::task_local! {
    static RECORDER: Arc<Metrics>;
}

/// Runs `f` with `metrics` as the recorder of the operations it calls.
pub fn scope<F: Future>(metrics: Arc<Metrics>, f: F) -> impl Future<Output = F::Output> {
    RECORDER.scope(metrics, f)
}

fn with(f: impl FnOnce(&Metrics)) {
    let _ = RECORDER.try_with(|m| f(m));
}

fn millis_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// The series of `stream`, with its shard-level set refreshed when stale.
fn series(m: &Metrics, stream: &Stream, now: i64) -> Option<Arc<StreamSeries>> {
    let s = m.registry.stream(&stream.name, stream.uid)?;
    let checked = s.shard_metrics_checked_ms();
    if checked == i64::MIN || now - checked >= SHARD_METRICS_REFRESH_MS || now < checked {
        let meta = stream.meta();
        let set = ShardMetrics::from_names(meta.enhanced_metrics.iter().map(String::as_str));
        s.set_shard_metrics(set, now);
    }
    Some(s)
}

fn hash_key(e: &PutEntry<'_>) -> HashKey {
    e.explicit_hash_key
        .unwrap_or_else(|| HashKey::from_partition_key(e.partition_key))
}

/// Records one PutRecord call that reached the service.
pub(crate) fn put_record(
    svc: &StreamService,
    at: &StreamRef,
    entry: &PutEntry<'_>,
    started: Instant,
    result: &Result<(ShardId, SequenceNumber), Error>,
) {
    with(|m| {
        let Ok(stream) = svc.stream(at) else { return };
        let now = svc.now_millis();
        let Some(s) = series(m, &stream, now) else {
            return;
        };
        let latency = millis_since(started);
        let bytes = entry.data.len() as f64;
        match result {
            Ok((shard, _)) => {
                s.record(
                    now,
                    &[
                        (IncomingBytes, bytes),
                        (IncomingRecords, 1.0),
                        (PutRecordBytes, bytes),
                        (PutRecordLatency, latency),
                        (PutRecordSuccess, 1.0),
                        (WriteProvisionedThroughputExceeded, 0.0),
                    ],
                );
                s.record_shard(
                    shard.0,
                    now,
                    &[
                        (IncomingBytes, bytes),
                        (IncomingRecords, 1.0),
                        (WriteProvisionedThroughputExceeded, 0.0),
                    ],
                );
            }
            Err(e) => {
                let throttled = matches!(e, Error::ProvisionedThroughputExceeded(_));
                s.record(
                    now,
                    &[
                        (PutRecordLatency, latency),
                        (PutRecordSuccess, 0.0),
                        (
                            WriteProvisionedThroughputExceeded,
                            if throttled { 1.0 } else { 0.0 },
                        ),
                    ],
                );
                if throttled
                    && s.shard_metrics()
                        .contains(WriteProvisionedThroughputExceeded)
                {
                    if let Some(shard) = stream.routing().route(hash_key(entry)) {
                        s.record_shard(shard, now, &[(WriteProvisionedThroughputExceeded, 1.0)]);
                    }
                }
            }
        }
    });
}

/// Per-shard sums of one PutRecords call, for shard-level metrics.
#[derive(Default)]
struct ShardTally {
    shard: u32,
    bytes: f64,
    records: f64,
    throttled: f64,
}

fn tally(tallies: &mut Vec<ShardTally>, shard: u32) -> &mut ShardTally {
    let i = match tallies.iter().position(|t| t.shard == shard) {
        Some(i) => i,
        None => {
            tallies.push(ShardTally {
                shard,
                ..ShardTally::default()
            });
            tallies.len() - 1
        }
    };
    &mut tallies[i]
}

/// Records one PutRecords call that reached the service.
pub(crate) fn put_records(
    svc: &StreamService,
    at: &StreamRef,
    entries: &[PutEntry<'_>],
    started: Instant,
    result: &Result<Vec<PutResult>, Error>,
) {
    with(|m| {
        let Ok(stream) = svc.stream(at) else { return };
        let now = svc.now_millis();
        let Some(s) = series(m, &stream, now) else {
            return;
        };
        let latency = millis_since(started);
        let results = match result {
            Ok(r) => r,
            Err(_) => {
                s.record(
                    now,
                    &[(PutRecordsLatency, latency), (PutRecordsSuccess, 0.0)],
                );
                return;
            }
        };
        let per_shard = !s.shard_metrics().is_empty();
        let mut shards: Vec<ShardTally> = Vec::new();
        let (mut ok, mut ok_bytes, mut throttled, mut failed) = (0.0, 0.0, 0.0, 0.0);
        for (r, e) in results.iter().zip(entries) {
            match r {
                PutResult::Ok { shard, .. } => {
                    ok += 1.0;
                    ok_bytes += e.data.len() as f64;
                    if per_shard {
                        let t = tally(&mut shards, shard.0);
                        t.records += 1.0;
                        t.bytes += e.data.len() as f64;
                    }
                }
                PutResult::Failed { code, .. }
                    if *code == "ProvisionedThroughputExceededException" =>
                {
                    throttled += 1.0;
                    if per_shard {
                        if let Some(shard) = stream.routing().route(hash_key(e)) {
                            tally(&mut shards, shard).throttled += 1.0;
                        }
                    }
                }
                PutResult::Failed { .. } => failed += 1.0,
            }
        }
        s.record(
            now,
            &[
                (IncomingBytes, ok_bytes),
                (IncomingRecords, ok),
                (PutRecordsBytes, ok_bytes),
                (PutRecordsLatency, latency),
                (PutRecordsSuccess, if ok > 0.0 { 1.0 } else { 0.0 }),
                (PutRecordsTotalRecords, results.len() as f64),
                (PutRecordsSuccessfulRecords, ok),
                (PutRecordsFailedRecords, failed),
                (PutRecordsThrottledRecords, throttled),
                (WriteProvisionedThroughputExceeded, throttled),
            ],
        );
        for t in shards {
            s.record_shard(
                t.shard,
                now,
                &[
                    (IncomingBytes, t.bytes),
                    (IncomingRecords, t.records),
                    (WriteProvisionedThroughputExceeded, t.throttled),
                ],
            );
        }
    });
}

/// Records one GetRecords call whose iterator names a live stream.
pub(crate) fn get_records(
    svc: &StreamService,
    iterator: &str,
    started: Instant,
    result: &Result<GetRecordsOutput, Error>,
) {
    with(|m| {
        let Some((stream, shard)) = svc.iterator_target(iterator) else {
            return;
        };
        let now = svc.now_millis();
        let Some(s) = series(m, &stream, now) else {
            return;
        };
        let latency = millis_since(started);
        match result {
            Ok(out) => {
                let records = out.records.len() as f64;
                let bytes: usize = out.records.iter().map(|r| r.data.len()).sum();
                let bytes = bytes as f64;
                // AWS's definition: how old the last record returned is; a reader that got
                // nothing is as far behind as MillisBehindLatest says (0 at the tip).
                let age = match out.records.last() {
                    Some(r) => (now - r.arrival_millis).max(0),
                    None => out.millis_behind_latest.max(0),
                } as f64;
                s.record(
                    now,
                    &[
                        (GetRecordsBytes, bytes),
                        (GetRecordsRecords, records),
                        (GetRecordsLatency, latency),
                        (GetRecordsSuccess, 1.0),
                        (GetRecordsIteratorAgeMilliseconds, age),
                        (ReadProvisionedThroughputExceeded, 0.0),
                        (OutgoingBytes, bytes),
                        (OutgoingRecords, records),
                    ],
                );
                s.record_shard(
                    out.shard.0,
                    now,
                    &[
                        (OutgoingBytes, bytes),
                        (OutgoingRecords, records),
                        (IteratorAgeMilliseconds, age),
                        (ReadProvisionedThroughputExceeded, 0.0),
                    ],
                );
            }
            Err(e) => {
                let throttled = if matches!(e, Error::ProvisionedThroughputExceeded(_)) {
                    1.0
                } else {
                    0.0
                };
                s.record(
                    now,
                    &[
                        (GetRecordsLatency, latency),
                        (GetRecordsSuccess, 0.0),
                        (ReadProvisionedThroughputExceeded, throttled),
                    ],
                );
                s.record_shard(
                    shard,
                    now,
                    &[(ReadProvisionedThroughputExceeded, throttled)],
                );
            }
        }
    });
}
