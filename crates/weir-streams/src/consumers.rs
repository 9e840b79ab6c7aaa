//! Enhanced fan-out consumers: RegisterStreamConsumer, DescribeStreamConsumer,
//! ListStreamConsumers, DeregisterStreamConsumer.
//!
//! A consumer belongs to one stream incarnation (its `uid`), so a stream deleted and created
//! again under the same name never inherits the old consumers. Consumers are rows of the
//! metadata table `consumers`, keyed `<stream uid, 20 digits>/<name>` so that one stream's
//! consumers list together and in name order, and are cached in memory for the subscription
//! path. Writes hold the registry's lock, so the cache never runs ahead of the store.
//!
//! Status follows AWS: CREATING for `creating_delay`, then ACTIVE; DeregisterStreamConsumer
//! makes it DELETING and removes it after `deleting_delay`. Only ACTIVE consumers subscribe.

use crate::error::{Error, Result};
use crate::model::StreamStatus;
use crate::paging::{PageToken, TokenKind};
use crate::service::{parse_json, to_json, Stream, StreamRef, StreamService};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use weir_storage::{Expect, MetaOp};

pub(crate) const CONSUMERS: &str = "consumers";
/// Registered consumers per stream (AWS's default quota).
pub const MAX_CONSUMERS_PER_STREAM: usize = 20;
/// ListStreamConsumers' page size default and maximum.
pub const LIST_CONSUMERS_MAX_RESULTS: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumerStatus {
    Creating,
    Active,
    Deleting,
}

impl ConsumerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerStatus::Creating => "CREATING",
            ConsumerStatus::Active => "ACTIVE",
            ConsumerStatus::Deleting => "DELETING",
        }
    }
}

/// One registered consumer, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMeta {
    pub stream_uid: u64,
    pub stream_name: String,
    pub name: String,
    pub created_millis: i64,
    pub status: ConsumerStatus,
}

impl ConsumerMeta {
    pub fn created_secs(&self) -> i64 {
        self.created_millis.div_euclid(1000)
    }
}

/// A consumer as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerView {
    pub name: String,
    pub arn: String,
    pub status: ConsumerStatus,
    pub created_millis: i64,
    pub stream_arn: String,
}

/// How a request names a consumer: by its ARN, or by stream ARN and name.
#[derive(Debug, Clone, Default)]
pub struct ConsumerRef {
    pub consumer_arn: Option<String>,
    pub stream_arn: Option<String>,
    pub consumer_name: Option<String>,
}

/// The in-memory registry; also home of the subscription bookkeeping (see `subscribe`).
#[derive(Default)]
pub(crate) struct Consumers {
    /// Keyed by (stream uid, consumer name).
    registry: Mutex<BTreeMap<(u64, String), ConsumerMeta>>,
    pub(crate) subscriptions: crate::subscribe::Subscriptions,
}

fn row_key(uid: u64, name: &str) -> String {
    format!("{uid:020}/{name}")
}

impl StreamService {
    fn consumers(&self) -> &Consumers {
        &self.inner.consumers
    }

    /// `arn:aws:kinesis:<region>:<acct>:stream/<stream>/consumer/<name>:<creation-epoch-seconds>`
    pub fn consumer_arn(&self, c: &ConsumerMeta) -> String {
        format!(
            "{}/consumer/{}:{}",
            self.stream_arn(&c.stream_name),
            c.name,
            c.created_secs()
        )
    }

    fn view(&self, c: &ConsumerMeta) -> ConsumerView {
        ConsumerView {
            name: c.name.clone(),
            arn: self.consumer_arn(c),
            status: c.status,
            created_millis: c.created_millis,
            stream_arn: self.stream_arn(&c.stream_name),
        }
    }

    /// Loads the consumers at start-up: CREATING ones become ACTIVE, DELETING ones and those of
    /// streams that no longer exist are removed.
    pub(crate) fn load_consumers(&self) -> Result<()> {
        let mut registry = self.consumers().registry.lock();
        for (key, v) in self.inner.meta.list(CONSUMERS)? {
            let mut c: ConsumerMeta = parse_json(&v.value)?;
            let live = self
                .stream_by_uid(c.stream_uid)
                .is_some_and(|s| s.name == c.stream_name);
            if !live || c.status == ConsumerStatus::Deleting {
                self.inner.meta.transact(vec![MetaOp::Delete {
                    table: CONSUMERS.into(),
                    key,
                    expect: Expect::Any,
                }])?;
                continue;
            }
            if c.status == ConsumerStatus::Creating {
                c.status = ConsumerStatus::Active;
                self.write_consumer(&c)?;
            }
            registry.insert((c.stream_uid, c.name.clone()), c);
        }
        Ok(())
    }

    fn write_consumer(&self, c: &ConsumerMeta) -> Result<()> {
        self.inner.meta.transact(vec![MetaOp::Put {
            table: CONSUMERS.into(),
            key: row_key(c.stream_uid, &c.name),
            value: to_json(c),
            expect: Expect::Any,
        }])?;
        Ok(())
    }

    fn delete_consumer_row(&self, uid: u64, name: &str) -> Result<()> {
        self.inner.meta.transact(vec![MetaOp::Delete {
            table: CONSUMERS.into(),
            key: row_key(uid, name),
            expect: Expect::Any,
        }])?;
        Ok(())
    }

    /// How many consumers a stream has registered (DescribeStreamSummary's ConsumerCount).
    pub fn consumer_count(&self, stream_uid: u64) -> usize {
        self.consumers()
            .registry
            .lock()
            .range((stream_uid, String::new())..)
            .take_while(|((uid, _), _)| *uid == stream_uid)
            .count()
    }

    /// DeleteStream's check: a stream with consumers is deleted only when the caller insists.
    pub(crate) fn check_consumers_before_delete(
        &self,
        stream: &Stream,
        enforce: bool,
    ) -> Result<()> {
        if !enforce && self.consumer_count(stream.uid) > 0 {
            return Err(Error::ResourceInUse(format!(
                "DeleteStream can't delete {} because there are consumers associated with this data stream. To delete {} anyway, set the EnforceConsumerDeletion parameter to true to force the deletion of all the consumers that are associated with it.",
                self.stream_arn(&stream.name),
                stream.name
            )));
        }
        Ok(())
    }

    /// Removes every consumer of a deleted stream (memory and metadata).
    pub(crate) fn forget_consumers(&self, stream_uid: u64) {
        let mut registry = self.consumers().registry.lock();
        let names: Vec<String> = registry
            .range((stream_uid, String::new())..)
            .take_while(|((uid, _), _)| *uid == stream_uid)
            .map(|((_, n), _)| n.clone())
            .collect();
        for name in names {
            if let Err(e) = self.delete_consumer_row(stream_uid, &name) {
                // Left behind, the row is removed at the next start (its stream is gone).
                tracing::warn!(consumer = %name, error = %e, "could not delete consumer row");
            }
            registry.remove(&(stream_uid, name));
        }
    }

    /// A live consumer by key (for the subscription path).
    pub(crate) fn consumer_by_key(&self, stream_uid: u64, name: &str) -> Option<ConsumerMeta> {
        self.consumers()
            .registry
            .lock()
            .get(&(stream_uid, name.to_string()))
            .cloned()
    }

    fn consumer_not_found(&self, what: &str) -> Error {
        Error::ResourceNotFound(format!(
            "Consumer {what}, account {} not found.",
            self.config().account_id
        ))
    }

    /// Splits a consumer ARN into (stream name, consumer name, creation seconds), checking that
    /// it is of this region and account.
    pub fn parse_consumer_arn(&self, arn: &str) -> Result<(String, String, i64)> {
        let invalid = || Error::InvalidArgument(format!("Invalid ConsumerARN: {arn}"));
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("kinesis"), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        let resource = parts.next().ok_or_else(invalid)?;
        if !partition.starts_with("aws") {
            return Err(invalid());
        }
        let rest = resource.strip_prefix("stream/").ok_or_else(invalid)?;
        let (stream, rest) = rest.split_once("/consumer/").ok_or_else(invalid)?;
        let (name, secs) = rest.rsplit_once(':').ok_or_else(invalid)?;
        let secs: i64 = secs.parse().map_err(|_| invalid())?;
        if stream.is_empty() || name.is_empty() {
            return Err(invalid());
        }
        if region != self.config().region || account != self.config().account_id {
            return Err(self.consumer_not_found(arn));
        }
        Ok((stream.to_string(), name.to_string(), secs))
    }

    /// The consumer a reference names, with its stream.
    pub(crate) fn resolve_consumer(&self, r: &ConsumerRef) -> Result<(Arc<Stream>, ConsumerMeta)> {
        let (stream, name, secs) = match (&r.consumer_arn, &r.stream_arn, &r.consumer_name) {
            (Some(arn), _, _) => {
                let (stream, name, secs) = self.parse_consumer_arn(arn)?;
                (stream, name, Some(secs))
            }
            (None, Some(stream_arn), Some(name)) => {
                let stream = self.resolve_name(&StreamRef {
                    name: None,
                    arn: Some(stream_arn.clone()),
                })?;
                (stream, name.clone(), None)
            }
            _ => {
                return Err(Error::InvalidArgument(
                    "Either ConsumerARN or both ConsumerName and StreamARN must be provided."
                        .into(),
                ))
            }
        };
        let shown = r.consumer_arn.clone().unwrap_or_else(|| name.clone());
        let s = self
            .stream_by_name(&stream)
            .map_err(|_| self.consumer_not_found(&shown))?;
        let c = self
            .consumer_by_key(s.uid, &name)
            .filter(|c| secs.is_none_or(|t| t == c.created_secs()))
            .ok_or_else(|| self.consumer_not_found(&shown))?;
        Ok((s, c))
    }

    pub fn register_stream_consumer(&self, stream_arn: &str, name: &str) -> Result<ConsumerView> {
        let stream = self.stream(&StreamRef {
            name: None,
            arn: Some(stream_arn.to_string()),
        })?;
        let status = stream.routing().status;
        if !matches!(status, StreamStatus::Active | StreamStatus::Updating) {
            return Err(Error::ResourceInUse(format!(
                "Stream {} under account {} not ACTIVE, instead in state {}",
                stream.name,
                self.config().account_id,
                status.as_str()
            )));
        }
        let account = &self.config().account_id;
        let c = {
            let mut registry = self.consumers().registry.lock();
            if registry.contains_key(&(stream.uid, name.to_string())) {
                return Err(Error::ResourceInUse(format!(
                    "Consumer {name} under stream {} already exists for account {account}.",
                    stream.name
                )));
            }
            let count = registry
                .range((stream.uid, String::new())..)
                .take_while(|((uid, _), _)| *uid == stream.uid)
                .count();
            if count >= MAX_CONSUMERS_PER_STREAM {
                return Err(Error::LimitExceeded(format!(
                    "Stream {} under account {account} already has {count} registered consumers, the limit of consumers per stream.",
                    stream.name
                )));
            }
            let c = ConsumerMeta {
                stream_uid: stream.uid,
                stream_name: stream.name.clone(),
                name: name.to_string(),
                created_millis: self.now_millis(),
                status: ConsumerStatus::Creating,
            };
            self.write_consumer(&c)?;
            registry.insert((c.stream_uid, c.name.clone()), c.clone());
            c
        };
        let view = self.view(&c);
        self.settle_consumer_later(c.stream_uid, c.name, c.created_millis);
        Ok(view)
    }

    /// CREATING → ACTIVE after `creating_delay` (unless it was deregistered meanwhile).
    fn settle_consumer_later(&self, uid: u64, name: String, created_millis: i64) {
        let svc = self.clone();
        let settle = move || {
            let mut registry = svc.consumers().registry.lock();
            let Some(c) = registry.get_mut(&(uid, name.clone())) else {
                return;
            };
            if c.created_millis != created_millis || c.status != ConsumerStatus::Creating {
                return;
            }
            let mut next = c.clone();
            next.status = ConsumerStatus::Active;
            match svc.write_consumer(&next) {
                Ok(()) => *c = next,
                Err(e) => {
                    tracing::warn!(consumer = %name, error = %e, "could not activate consumer")
                }
            }
        };
        let delay = self.config().creating_delay;
        if delay.is_zero() {
            settle();
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                settle();
            });
        }
    }

    pub fn describe_stream_consumer(&self, r: &ConsumerRef) -> Result<ConsumerView> {
        let (_, c) = self.resolve_consumer(r)?;
        Ok(self.view(&c))
    }

    pub fn deregister_stream_consumer(&self, r: &ConsumerRef) -> Result<()> {
        let (_, c) = self.resolve_consumer(r)?;
        {
            let mut registry = self.consumers().registry.lock();
            let Some(entry) = registry.get_mut(&(c.stream_uid, c.name.clone())) else {
                return Err(self.consumer_not_found(&c.name));
            };
            if entry.status != ConsumerStatus::Deleting {
                let mut next = entry.clone();
                next.status = ConsumerStatus::Deleting;
                self.write_consumer(&next)?;
                *entry = next;
            }
        }
        let svc = self.clone();
        let remove = move || {
            let mut registry = svc.consumers().registry.lock();
            let key = (c.stream_uid, c.name.clone());
            if registry
                .get(&key)
                .is_some_and(|e| e.created_millis == c.created_millis)
            {
                match svc.delete_consumer_row(c.stream_uid, &c.name) {
                    Ok(()) => {
                        registry.remove(&key);
                    }
                    Err(e) => {
                        tracing::warn!(consumer = %c.name, error = %e, "could not remove consumer")
                    }
                }
            }
        };
        let delay = self.config().deleting_delay;
        if delay.is_zero() {
            remove();
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                remove();
            });
        }
        Ok(())
    }

    /// ListStreamConsumers: a page of a stream's consumers in name order.
    pub fn list_stream_consumers(
        &self,
        stream_arn: &str,
        next_token: Option<&str>,
        max_results: Option<u32>,
        stream_creation_millis: Option<i64>,
    ) -> Result<(Vec<ConsumerView>, Option<String>)> {
        let stream = self.stream(&StreamRef {
            name: None,
            arn: Some(stream_arn.to_string()),
        })?;
        let meta = stream.meta();
        if let Some(t) = stream_creation_millis {
            // Whole seconds on the wire (botocore truncates): compare at that precision.
            if t.div_euclid(1000) != meta.created_millis.div_euclid(1000) {
                return Err(self.not_found(&stream.name));
            }
        }
        let after = match next_token {
            Some(t) => {
                let token = self.decode_token(t, TokenKind::ListConsumers)?;
                if token.stream != stream.name || token.stream_uid != stream.uid {
                    return Err(Error::InvalidArgument(format!("Invalid NextToken: {t}")));
                }
                Some(token.position)
            }
            None => None,
        };
        let max = max_results
            .unwrap_or(LIST_CONSUMERS_MAX_RESULTS)
            .clamp(1, LIST_CONSUMERS_MAX_RESULTS) as usize;
        let registry = self.consumers().registry.lock();
        let mut page: Vec<&ConsumerMeta> = registry
            .range((stream.uid, String::new())..)
            .take_while(|((uid, _), _)| *uid == stream.uid)
            .filter(|((_, name), _)| after.as_ref().is_none_or(|a| name > a))
            .map(|(_, c)| c)
            .collect();
        let more = page.len() > max;
        page.truncate(max);
        let token = if more {
            page.last().map(|c| {
                let mut t = PageToken::new(
                    TokenKind::ListConsumers,
                    &stream.name,
                    &c.name,
                    self.now_millis(),
                );
                t.stream_uid = stream.uid;
                self.encode_token(&t)
            })
        } else {
            None
        };
        Ok((page.into_iter().map(|c| self.view(c)).collect(), token))
    }
}
