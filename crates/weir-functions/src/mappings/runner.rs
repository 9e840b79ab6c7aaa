//! Running a mapping: one task per mapping that follows the stream's shard lineage, and one task
//! per shard that reads from its checkpoint, batches, invokes and checkpoints after delivery.
//!
//! A shard starts once all its parents are finished, so records of one partition key reach the
//! function in order across a reshard. Within a shard, `ParallelizationFactor` lanes run one
//! batch each at a time; a record's lane is chosen by its partition key, which keeps per-key
//! order. The checkpoint moves only after every lane has delivered its part of a read, so a
//! restart may repeat a batch but never skips one.

use super::batch::{self, Stopped};
use super::event::{self, EventSource};
use super::filter::{self, Filters};
use super::model::{
    Checkpoint, EventSourceMapping, StartingPosition, WindowState, MAX_BATCH_PAYLOAD_BYTES,
};
use super::store::Store;
use super::Stats;
use crate::{FunctionService, InvokeOutcome};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use weir_core::Clock;
use weir_storage::StoredRecord;
use weir_streams::{LineageShard, StartAt, StreamRef, StreamService};

/// How often a mapping looks for new shards, and an idle shard for new records when no change
/// notification arrives.
const LINEAGE_EVERY: Duration = Duration::from_millis(250);
const IDLE_POLL: Duration = Duration::from_millis(500);

/// What every mapping task shares.
pub(crate) struct Ctx {
    pub functions: FunctionService,
    pub streams: StreamService,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// Where an `arn:aws:s3:::bucket` on-failure destination writes (`<dir>/<bucket>/…`).
    pub buckets_dir: PathBuf,
    pub stats: Stats,
}

impl Ctx {
    pub fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    pub async fn invoke(&self, m: &EventSourceMapping, event: Value) -> InvokeOutcome {
        match self
            .functions
            .invoke(&m.function_arn, batch::bytes(&event))
            .await
        {
            Ok(o) => o,
            Err(e) => InvokeOutcome::failed("", "ServiceException", e.to_string()),
        }
    }

    pub async fn send_failure(
        &self,
        m: &EventSourceMapping,
        src: &EventSource<'_>,
        dest: &str,
        mut record: Value,
        batch: &[StoredRecord],
        now: i64,
    ) -> Result<(), String> {
        if let Some(bucket) = dest.strip_prefix("arn:aws:s3:::") {
            // As Lambda writes S3 on-failure records: the invocation payload is included.
            record["payload"] = event::batch(batch.iter().map(|r| event::record(src, r)).collect());
            let t = event::iso8601(now, false);
            let (date, time) = (&t[..10], &t[11..19]);
            let dir = self
                .buckets_dir
                .join(bucket)
                .join("aws/lambda")
                .join(&m.uuid)
                .join(weir_core::ShardId(src.shard).to_string())
                .join(date.replace('-', "/"));
            let name = format!("{date}T{}-{}", time.replace(':', "."), uuid::Uuid::new_v4());
            let body = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
            tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&dir)?;
                let tmp = dir.join(format!(".{name}.tmp"));
                std::fs::write(&tmp, body)?;
                std::fs::rename(&tmp, dir.join(&name))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
        } else if let Some(name) = self.streams.parse_stream_arn(dest) {
            let data = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
            let shard = weir_core::ShardId(src.shard).to_string();
            self.streams
                .put_record(
                    &StreamRef::name(name),
                    weir_streams::PutEntry {
                        partition_key: &shard,
                        explicit_hash_key: None,
                        data: &data,
                    },
                    None,
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else {
            Err(format!("unsupported destination {dest}"))
        }
    }
}

/// Runs a mapping until `stop` turns true.
pub(crate) async fn run(
    ctx: Arc<Ctx>,
    m: Arc<EventSourceMapping>,
    mut stop: watch::Receiver<bool>,
) {
    let mut workers: HashMap<(u64, u32), tokio::task::JoinHandle<()>> = HashMap::new();
    while !*stop.borrow() {
        match ctx.streams.lineage(&m.stream_name) {
            Ok(lineage) => {
                workers.retain(|_, h| !h.is_finished());
                let finished = |shard: u32| {
                    ctx.store
                        .checkpoint(&m.uuid, lineage.stream_uid, shard)
                        .ok()
                        .flatten()
                        .is_some_and(|c| c.finished)
                };
                let known: Vec<u32> = lineage.shards.iter().map(|s| s.index).collect();
                for shard in &lineage.shards {
                    let key = (lineage.stream_uid, shard.index);
                    if workers.contains_key(&key) || finished(shard.index) {
                        continue;
                    }
                    let parents_done = shard
                        .parents
                        .iter()
                        .all(|p| !known.contains(p) || finished(*p));
                    if !parents_done {
                        continue;
                    }
                    let handle = tokio::spawn(run_shard(
                        ctx.clone(),
                        m.clone(),
                        lineage.stream_uid,
                        shard.clone(),
                        stop.clone(),
                    ));
                    workers.insert(key, handle);
                }
            }
            Err(e) => {
                tracing::debug!(mapping = %m.uuid, error = %e, "the mapping's stream is not readable");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(LINEAGE_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
    for (_, h) in workers {
        let _ = h.await;
    }
}

async fn run_shard(
    ctx: Arc<Ctx>,
    m: Arc<EventSourceMapping>,
    uid: u64,
    shard: LineageShard,
    mut stop: watch::Receiver<bool>,
) {
    if let Err(e) = shard_loop(&ctx, &m, uid, &shard, &mut stop).await {
        if !matches!(e, ShardEnd::Stopped) {
            tracing::warn!(mapping = %m.uuid, shard = %shard.id, "shard processing paused: {e:?}");
        }
    }
}

#[derive(Debug)]
enum ShardEnd {
    Stopped,
    #[allow(dead_code)]
    Failed(String),
}

impl From<Stopped> for ShardEnd {
    fn from(_: Stopped) -> Self {
        ShardEnd::Stopped
    }
}

impl From<weir_streams::Error> for ShardEnd {
    fn from(e: weir_streams::Error) -> Self {
        ShardEnd::Failed(e.to_string())
    }
}

impl From<crate::Error> for ShardEnd {
    fn from(e: crate::Error) -> Self {
        ShardEnd::Failed(e.to_string())
    }
}

async fn shard_loop(
    ctx: &Ctx,
    m: &EventSourceMapping,
    uid: u64,
    shard: &LineageShard,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), ShardEnd> {
    let role = ctx
        .functions
        .get(&m.function_arn)
        .map(|f| f.role)
        .unwrap_or_default();
    let stream_arn = m.event_source_arn.clone();
    let region = ctx.functions.settings().region.clone();
    let src = EventSource {
        shard: shard.index,
        stream_arn: &stream_arn,
        region: &region,
        role: &role,
    };
    let filters =
        Filters::new(&m.filters).unwrap_or_else(|_| Filters::new(&[]).expect("no filters"));
    let mut cp = match ctx.store.checkpoint(&m.uuid, uid, shard.index)? {
        Some(cp) => cp,
        None => {
            // Every shard — first generation or a reshard's child — starts at the mapping's
            // position: arrival times only grow, so "after the mapping was created" (LATEST) and
            // "at or after T" (AT_TIMESTAMP) carry over to children. LATEST stays true across
            // restarts because it is the creation time, not the end at start-up.
            let at = match m.starting_position {
                StartingPosition::TrimHorizon => StartAt::TrimHorizon,
                StartingPosition::Latest => StartAt::Timestamp(m.created_millis),
                StartingPosition::AtTimestamp => {
                    StartAt::Timestamp(m.starting_position_timestamp.unwrap_or(0))
                }
            };
            let cp = Checkpoint {
                offset: ctx.streams.start_offset(uid, shard.index, at)?,
                ..Default::default()
            };
            ctx.store.save_checkpoint(&m.uuid, uid, shard.index, &cp)?;
            cp
        }
    };
    let mut changes = ctx.streams.watch_shard(uid, shard.index)?;
    // Leave room for base64 (4/3) and each record's JSON around it.
    let max_bytes = (MAX_BATCH_PAYLOAD_BYTES / 4 * 3)
        .saturating_sub(m.batch_size as usize * 400)
        .max(1);
    loop {
        if *stop.borrow() {
            return Err(ShardEnd::Stopped);
        }
        let mut read = ctx.streams.read_shard(
            uid,
            shard.index,
            cp.offset,
            m.batch_size as usize,
            max_bytes,
        )?;
        // MaximumBatchingWindowInSeconds: wait for a fuller batch, at most the window after the
        // first record arrived.
        if !read.records.is_empty()
            && read.records.len() < m.batch_size as usize
            && m.max_batching_window_secs > 0
        {
            let deadline =
                read.records[0].arrival_millis + m.max_batching_window_secs as i64 * 1000;
            while read.records.len() < m.batch_size as usize
                && ctx.now() < deadline
                && !read.finished
            {
                let wait = Duration::from_millis((deadline - ctx.now()).clamp(1, 1000) as u64);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = changes.changed() => {}
                    _ = stop.changed() => return Err(ShardEnd::Stopped),
                }
                read = ctx.streams.read_shard(
                    uid,
                    shard.index,
                    cp.offset,
                    m.batch_size as usize,
                    max_bytes,
                )?;
            }
        }
        if read.records.is_empty() {
            if m.tumbling_window_secs > 0 {
                close_window_if_over(ctx, m, &src, &mut cp, read.finished).await?;
                ctx.store.save_checkpoint(&m.uuid, uid, shard.index, &cp)?;
            }
            if read.finished {
                cp.finished = true;
                cp.offset = read.next_offset;
                ctx.store.save_checkpoint(&m.uuid, uid, shard.index, &cp)?;
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = changes.changed() => {}
                _ = stop.changed() => return Err(ShardEnd::Stopped),
            }
            continue;
        }
        if let Some(last) = read.records.last() {
            let age = (ctx.now() - last.arrival_millis).max(0);
            ctx.stats.iterator_age(m, age);
            let function = crate::FunctionService::name_of(&m.function_arn);
            ctx.functions.metrics().iterator_age(function, age);
        }
        let records: Vec<StoredRecord> = if filters.is_empty() {
            read.records
        } else {
            read.records
                .into_iter()
                .filter(|r| {
                    let view = filter::kinesis_view(
                        &r.partition_key,
                        &event::sequence_number(shard.index, r.offset),
                        r.arrival_millis as f64 / 1000.0,
                        &r.data,
                    );
                    filters.matches(&view)
                })
                .collect()
        };
        if m.tumbling_window_secs > 0 {
            deliver_windowed(ctx, m, &src, records, &mut cp, stop).await?;
        } else if !records.is_empty() {
            deliver_lanes(ctx, m, &src, records, stop).await?;
        }
        cp.offset = read.next_offset;
        ctx.store.save_checkpoint(&m.uuid, uid, shard.index, &cp)?;
    }
}

/// Splits by partition key into `ParallelizationFactor` lanes and delivers them concurrently.
async fn deliver_lanes(
    ctx: &Ctx,
    m: &EventSourceMapping,
    src: &EventSource<'_>,
    records: Vec<StoredRecord>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Stopped> {
    let lanes = m.parallelization_factor.max(1) as usize;
    if lanes == 1 {
        return batch::deliver(ctx, m, src, records, stop).await;
    }
    let mut split: Vec<Vec<StoredRecord>> = vec![Vec::new(); lanes];
    for r in records {
        let lane = lane_of(&r.partition_key, lanes);
        split[lane].push(r);
    }
    let runs = split.into_iter().filter(|l| !l.is_empty()).map(|lane| {
        let mut stop = stop.clone();
        async move { batch::deliver(ctx, m, src, lane, &mut stop).await }
    });
    for r in futures_util::future::join_all(runs).await {
        r?;
    }
    Ok(())
}

/// The lane of a partition key: stable, and spread by its MD5 like a hash key.
fn lane_of(partition_key: &str, lanes: usize) -> usize {
    (weir_core::HashKey::from_partition_key(partition_key).0 % lanes as u128) as usize
}

/// Tumbling windows: records are grouped by the window their arrival time falls in; each
/// invocation carries the state the previous one returned, and the window's last invocation
/// (`isFinalInvokeForWindow`) comes once the window is over.
async fn deliver_windowed(
    ctx: &Ctx,
    m: &EventSourceMapping,
    src: &EventSource<'_>,
    records: Vec<StoredRecord>,
    cp: &mut Checkpoint,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), ShardEnd> {
    let width = m.tumbling_window_secs as i64 * 1000;
    let mut i = 0;
    while i < records.len() {
        let start = records[i].arrival_millis.div_euclid(width) * width;
        let end = records[i..]
            .iter()
            .position(|r| r.arrival_millis >= start + width)
            .map_or(records.len(), |n| i + n);
        if cp.window.as_ref().is_some_and(|w| w.start_millis != start) {
            final_invoke(ctx, m, src, cp, stop).await?;
        }
        let state = cp
            .window
            .get_or_insert_with(|| WindowState {
                start_millis: start,
                state: Value::Object(Default::default()),
            })
            .state
            .clone();
        let group = &records[i..end];
        let new_state = invoke_window(
            ctx,
            m,
            src,
            group,
            (start, start + width),
            &state,
            false,
            stop,
        )
        .await?;
        if let (Some(w), Some(s)) = (cp.window.as_mut(), new_state) {
            w.state = s;
        }
        i = end;
    }
    close_window_if_over(ctx, m, src, cp, false).await
}

async fn close_window_if_over(
    ctx: &Ctx,
    m: &EventSourceMapping,
    src: &EventSource<'_>,
    cp: &mut Checkpoint,
    shard_finished: bool,
) -> Result<(), ShardEnd> {
    let width = m.tumbling_window_secs as i64 * 1000;
    let over = cp
        .window
        .as_ref()
        .is_some_and(|w| shard_finished || ctx.now() >= w.start_millis + width);
    if over {
        let (_tx, mut never) = watch::channel(false);
        final_invoke(ctx, m, src, cp, &mut never).await?;
    }
    Ok(())
}

async fn final_invoke(
    ctx: &Ctx,
    m: &EventSourceMapping,
    src: &EventSource<'_>,
    cp: &mut Checkpoint,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), ShardEnd> {
    let Some(w) = cp.window.take() else {
        return Ok(());
    };
    let width = m.tumbling_window_secs as i64 * 1000;
    invoke_window(
        ctx,
        m,
        src,
        &[],
        (w.start_millis, w.start_millis + width),
        &w.state,
        true,
        stop,
    )
    .await?;
    Ok(())
}

/// One window invocation with retries; returns the state the function answered with.
#[allow(clippy::too_many_arguments)]
async fn invoke_window(
    ctx: &Ctx,
    m: &EventSourceMapping,
    src: &EventSource<'_>,
    records: &[StoredRecord],
    window: (i64, i64),
    state: &Value,
    is_final: bool,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<Value>, Stopped> {
    let mut attempts = 0u32;
    loop {
        let event = event::window_batch(
            src,
            records.iter().map(|r| event::record(src, r)).collect(),
            window,
            state,
            is_final,
        );
        let outcome = ctx.invoke(m, event).await;
        let answer: Option<Value> = serde_json::from_slice(&outcome.payload).ok();
        let new_state = answer.as_ref().and_then(|a| a.get("state")).cloned();
        // A response without state is a failure (except the final one, whose state is discarded).
        if !outcome.is_error() && (is_final || new_state.is_some()) {
            ctx.stats.ok(m);
            return Ok(new_state);
        }
        ctx.stats.failed(m);
        attempts += 1;
        if m.max_retry_attempts >= 0 && attempts > m.max_retry_attempts as u32 {
            batch::on_failure(
                ctx,
                m,
                src,
                records,
                "RetryAttemptsExhausted",
                attempts,
                outcome.function_error.as_deref(),
                Some(&outcome.request_id),
            )
            .await;
            return Ok(None);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100 << attempts.min(5))) => {}
            _ = stop.changed() => return Err(Stopped),
        }
    }
}
