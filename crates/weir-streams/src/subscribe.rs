//! SubscribeToShard: records pushed to a registered consumer as soon as they are durable.
//!
//! A [`Subscription`] is a pull-driven state machine over one shard: each call of
//! [`Subscription::next`] reads what is readable past its position straight from the store and
//! returns it as one event, or waits for the shard's `watch_end` to move (push, not poll), for
//! the 5-second heartbeat, or for the end of the subscription's lifetime. Nothing is queued: a
//! consumer that stops reading stops calling `next`, so it holds at most one event in memory and
//! costs producers and other consumers nothing.
//!
//! Each consumer has its own read budget of 2 MiB/s per shard (when throughput limits apply),
//! independent of GetRecords readers and of other consumers, and at most one live subscription
//! per consumer and shard (a second is refused with ResourceInUseException).
//!
//! A shard closed by resharding is noticed through the stream's routing (checked at least every
//! [`META_CHECK`] while idle); once the reader is past its end the last event carries
//! ChildShards and no ContinuationSequenceNumber, and the subscription ends.

use crate::consumers::{ConsumerMeta, ConsumerRef, ConsumerStatus};
use crate::data::{ChildShard, StartingPosition};
use crate::error::{Error, Result};
use crate::position::continuation;
use crate::service::{Stream, StreamService};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use weir_core::limits::SHARD_READ_BYTES_PER_SEC;
use weir_core::ShardId;
use weir_storage::{ShardKey, StoredRecord};

/// AWS sends an event at least this often, records or not.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How often an idle subscription looks at its shard, stream and consumer for changes that
/// `watch_end` does not signal (shard closed, consumer deregistered).
pub const META_CHECK: Duration = Duration::from_millis(200);
/// The most record bytes (data + partition key) in one event; one larger record still goes alone.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
pub const MAX_EVENT_RECORDS: usize = 10_000;
/// AWS's subscription lifetime; `ServiceConfig::subscription_lifetime` overrides it.
pub const SUBSCRIPTION_LIFETIME: Duration = Duration::from_secs(300);

/// One SubscribeToShardEvent.
#[derive(Debug, Clone)]
pub struct ShardEvent {
    pub shard: ShardId,
    pub records: Vec<StoredRecord>,
    /// Absent only in the last event of a closed shard.
    pub continuation_sequence_number: Option<String>,
    pub millis_behind_latest: i64,
    pub child_shards: Vec<ChildShard>,
}

/// Which consumer reads which shard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SubKey {
    stream_uid: u64,
    consumer: String,
    consumer_created: i64,
    shard: u32,
}

/// A consumer's read budget on one shard: 2 MiB/s, allowed into debt by one event.
#[derive(Debug, Clone, Copy)]
struct Budget {
    tokens: f64,
    at: Instant,
}

impl Budget {
    const RATE: f64 = SHARD_READ_BYTES_PER_SEC as f64;

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * Self::RATE).min(Self::RATE);
        self.at = now;
    }
}

/// Live subscriptions and per-consumer budgets, shared by every subscription of the service.
pub(crate) struct Subscriptions {
    active: Mutex<HashMap<SubKey, u64>>,
    budgets: Mutex<HashMap<SubKey, Budget>>,
    next_id: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self {
            active: Mutex::new(HashMap::new()),
            budgets: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            shutdown: watch::channel(false).0,
        }
    }
}

/// Unregisters a subscription when it ends, however it ends.
struct ActiveGuard {
    svc: StreamService,
    key: SubKey,
    id: u64,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let mut active = self.svc.inner.consumers.subscriptions.active.lock();
        if active.get(&self.key) == Some(&self.id) {
            active.remove(&self.key);
        }
    }
}

/// A live subscription of one consumer to one shard.
pub struct Subscription {
    svc: StreamService,
    stream: Arc<Stream>,
    consumer: ConsumerMeta,
    shard: ShardId,
    key: ShardKey,
    sub_key: SubKey,
    position: u64,
    min_arrival_millis: i64,
    end: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    deadline: Instant,
    next_heartbeat: Instant,
    sent_any: bool,
    finished: bool,
    throttled: bool,
    _guard: ActiveGuard,
}

impl StreamService {
    /// Starts a subscription after every check AWS makes before streaming (consumer exists and is
    /// ACTIVE, shard exists, position valid, no other live subscription of this consumer here).
    pub fn subscribe_to_shard(
        &self,
        consumer_arn: &str,
        shard_id: &str,
        position: StartingPosition,
    ) -> Result<Subscription> {
        let (stream, consumer) = self.resolve_consumer(&ConsumerRef {
            consumer_arn: Some(consumer_arn.to_string()),
            ..ConsumerRef::default()
        })?;
        let account = self.config().account_id.clone();
        if consumer.status != ConsumerStatus::Active {
            return Err(Error::ResourceInUse(format!(
                "Consumer {} with creation timestamp {} under stream: {} , account {account} is not in ACTIVE status.",
                consumer.name,
                consumer.created_secs(),
                stream.name
            )));
        }
        let meta = stream.meta();
        let shard = self.find_shard(&stream, &meta, shard_id)?;
        let at = self.resolve_position(&stream, &meta, &shard, position, "SubscribeToShard")?;
        let key = StreamService::shard_key(&stream, shard.index);
        let end = self.inner.store.watch_end(key)?;
        let sub_key = SubKey {
            stream_uid: stream.uid,
            consumer: consumer.name.clone(),
            consumer_created: consumer.created_millis,
            shard: shard.index,
        };
        let subs = &self.inner.consumers.subscriptions;
        let id = subs.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut active = subs.active.lock();
            if active.contains_key(&sub_key) {
                return Err(Error::ResourceInUse(format!(
                    "Another active subscription exists for this consumer: {account}:{}:{}:{}",
                    stream.name,
                    shard.id(),
                    consumer.name
                )));
            }
            active.insert(sub_key.clone(), id);
        }
        let guard = ActiveGuard {
            svc: self.clone(),
            key: sub_key.clone(),
            id,
        };
        let now = Instant::now();
        let throttled = self.config().throughput_limits && stream.routing().throttled;
        Ok(Subscription {
            svc: self.clone(),
            stream,
            consumer,
            shard: shard.id(),
            key,
            sub_key,
            position: at.offset,
            min_arrival_millis: at.min_arrival_millis,
            end,
            shutdown: subs.shutdown.subscribe(),
            deadline: now + self.config().subscription_lifetime,
            next_heartbeat: now + HEARTBEAT,
            sent_any: false,
            finished: false,
            throttled,
            _guard: guard,
        })
    }

    /// Ends every subscription (at shutdown), so that their connections can close.
    pub fn end_subscriptions(&self) {
        self.inner
            .consumers
            .subscriptions
            .shutdown
            .send_replace(true);
    }

    /// How many subscriptions are live (for tests and metrics).
    pub fn active_subscriptions(&self) -> usize {
        self.inner.consumers.subscriptions.active.lock().len()
    }
}

impl Subscription {
    /// When the subscription's lifetime ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Turns true when the server is shutting down (every subscription ends).
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }

    /// The next event, `None` once the subscription is over (lifetime reached, shard finished,
    /// server shutting down), or an error to send in the stream before ending it.
    pub async fn next(&mut self) -> Option<Result<ShardEvent>> {
        if self.finished {
            return None;
        }
        let out = self.step().await;
        if !matches!(out, Some(Ok(_))) {
            self.finished = true;
        }
        out
    }

    async fn step(&mut self) -> Option<Result<ShardEvent>> {
        loop {
            if Instant::now() >= self.deadline || *self.shutdown.borrow() {
                return None;
            }
            if let Err(e) = self.check_alive() {
                return Some(Err(e));
            }
            let routing = self.stream.routing();
            let closed_end = routing
                .shards
                .get(&self.shard.0)
                .and_then(|s| s.closed_end_offset);
            let readable = *self.end.borrow_and_update();
            if self.position < readable {
                if let Some(wait) = self.budget_wait() {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = tokio::time::sleep_until(self.deadline) => {}
                    }
                    continue;
                }
                match self.read(readable, &routing) {
                    Ok(Some(event)) => return Some(Ok(self.sent(event))),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            if let Some(end) = closed_end {
                if self.position >= end {
                    let children = routing
                        .shards
                        .get(&self.shard.0)
                        .map(|s| s.children.as_ref().clone())
                        .unwrap_or_default();
                    self.finished = true;
                    return Some(Ok(ShardEvent {
                        shard: self.shard,
                        records: Vec::new(),
                        continuation_sequence_number: None,
                        millis_behind_latest: 0,
                        child_shards: children,
                    }));
                }
            }
            // Readers learn where they are at once, then at least every HEARTBEAT.
            if !self.sent_any || Instant::now() >= self.next_heartbeat {
                let event = self.empty_event();
                return Some(Ok(self.sent(event)));
            }
            let wake = self
                .next_heartbeat
                .min(self.deadline)
                .min(Instant::now() + META_CHECK);
            tokio::select! {
                changed = self.end.changed() => {
                    if changed.is_err() {
                        return Some(Err(self.svc.shard_not_found(
                            &self.stream.name,
                            &self.shard.to_string(),
                        )));
                    }
                }
                _ = tokio::time::sleep_until(wake) => {}
                _ = self.shutdown.changed() => {}
            }
        }
    }

    fn check_alive(&self) -> Result<()> {
        let stream_live = self
            .svc
            .stream_by_uid(self.stream.uid)
            .is_some_and(|s| s.routing().status != crate::model::StreamStatus::Deleting);
        if !stream_live {
            return Err(self.svc.not_found(&self.stream.name));
        }
        let consumer_live = self
            .svc
            .consumer_by_key(self.stream.uid, &self.consumer.name)
            .is_some_and(|c| {
                c.created_millis == self.consumer.created_millis
                    && c.status == ConsumerStatus::Active
            });
        if !consumer_live {
            return Err(Error::ResourceNotFound(format!(
                "Consumer {}, account {} not found.",
                self.svc.consumer_arn(&self.consumer),
                self.svc.config().account_id
            )));
        }
        Ok(())
    }

    /// How long to wait before the consumer's budget allows another read, if it must.
    fn budget_wait(&self) -> Option<Duration> {
        if !self.throttled {
            return None;
        }
        let now = Instant::now();
        let mut budgets = self.svc.inner.consumers.subscriptions.budgets.lock();
        let b = budgets.entry(self.sub_key.clone()).or_insert(Budget {
            tokens: Budget::RATE,
            at: now,
        });
        b.refill(now);
        (b.tokens < 0.0).then(|| Duration::from_secs_f64(-b.tokens / Budget::RATE))
    }

    fn charge(&self, bytes: usize) {
        if !self.throttled {
            return;
        }
        if let Some(b) = self
            .svc
            .inner
            .consumers
            .subscriptions
            .budgets
            .lock()
            .get_mut(&self.sub_key)
        {
            b.tokens -= bytes as f64;
        }
    }

    /// Reads the next event's records; `None` if nothing qualified (skipped by timestamp).
    fn read(
        &mut self,
        readable: u64,
        routing: &crate::service::Routing,
    ) -> Result<Option<ShardEvent>> {
        let store = &self.svc.inner.store;
        let now = self.svc.now_millis();
        let horizon = now - routing.retention_hours as i64 * 3_600_000;
        let not_before = self
            .min_arrival_millis
            .max(if horizon > routing.created_millis {
                horizon
            } else {
                0
            });
        let mut from = self.position;
        if not_before > 0 {
            from = from.max(store.offset_at_timestamp(self.key, not_before)?);
        }
        if self.min_arrival_millis > 0 && self.min_arrival_millis <= now {
            // Once the timestamp has passed, every later arrival qualifies.
            self.min_arrival_millis = 0;
        }
        if from >= readable {
            self.position = self.position.max(from);
            return Ok(None);
        }
        let batch = store.read(self.key, from, MAX_EVENT_RECORDS, MAX_EVENT_BYTES)?;
        if batch.records.is_empty() {
            self.position = self.position.max(batch.next_offset);
            return Ok(None);
        }
        self.charge(batch.records.iter().map(StoredRecord::billed_len).sum());
        self.position = batch.next_offset;
        let bounds = store.bounds(self.key)?;
        let millis_behind_latest = if batch.next_offset >= bounds.end_offset {
            0
        } else {
            batch
                .records
                .last()
                .map(|r| (bounds.last_arrival_millis.unwrap_or(now) - r.arrival_millis).max(0))
                .unwrap_or(0)
        };
        Ok(Some(ShardEvent {
            shard: self.shard,
            records: batch.records,
            continuation_sequence_number: Some(continuation(self.shard, self.position)),
            millis_behind_latest,
            child_shards: Vec::new(),
        }))
    }

    fn empty_event(&self) -> ShardEvent {
        ShardEvent {
            shard: self.shard,
            records: Vec::new(),
            continuation_sequence_number: Some(continuation(self.shard, self.position)),
            millis_behind_latest: 0,
            child_shards: Vec::new(),
        }
    }

    fn sent(&mut self, event: ShardEvent) -> ShardEvent {
        self.sent_any = true;
        self.next_heartbeat = Instant::now() + HEARTBEAT;
        event
    }
}
