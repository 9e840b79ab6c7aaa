//! Delivering one batch with Lambda's error handling for stream sources.
//!
//! A failed batch is retried (with back-off) until it succeeds, its records grow older than
//! `MaximumRecordAgeInSeconds`, or `MaximumRetryAttempts` is used up; the last two send an
//! on-failure record and move on. With `BisectBatchOnFunctionError` a failed batch is split in
//! two and each half retried on its own, which isolates a poison record. With
//! `ReportBatchItemFailures` the function names the records that failed and the batch is
//! retried from the lowest of them (the checkpoint moves to it); a response naming a record
//! that is not in the batch fails the whole batch, as on Lambda.

use super::event::{self, EventSource, Failure};
use super::model::EventSourceMapping;
use super::runner::Ctx;
use bytes::Bytes;
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Duration;
use weir_storage::StoredRecord;

/// The mapping was disabled or deleted while a batch was being retried.
#[derive(Debug)]
pub(crate) struct Stopped;

const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What one invocation said about a batch: None = all processed, Some(i) = records from `i`
/// on must be retried.
fn failed_from(
    m: &EventSourceMapping,
    src: &EventSource<'_>,
    batch: &[StoredRecord],
    outcome: &crate::InvokeOutcome,
) -> Option<usize> {
    if outcome.is_error() {
        return Some(0);
    }
    if !m.report_batch_item_failures {
        return None;
    }
    let Ok(resp) = serde_json::from_slice::<Value>(&outcome.payload) else {
        return None;
    };
    let items = resp.get("batchItemFailures").and_then(Value::as_array)?;
    let mut lowest: Option<usize> = None;
    for item in items {
        let Some(id) = item.get("itemIdentifier").and_then(Value::as_str) else {
            return Some(0);
        };
        // A batch's offsets ascend, so an identifier is found by its decoded offset.
        let found = weir_core::SequenceNumber::parse(id)
            .filter(|n| n.shard.0 == src.shard)
            .and_then(|n| batch.binary_search_by_key(&n.offset, |r| r.offset).ok());
        match found {
            Some(i) => lowest = Some(lowest.map_or(i, |l| l.min(i))),
            None => return Some(0),
        }
    }
    lowest
}

/// Delivers `records` (already filtered) until each is processed or sent to the on-failure
/// destination.
pub(crate) async fn deliver(
    ctx: &Ctx,
    m: &EventSourceMapping,
    src: &EventSource<'_>,
    records: Vec<StoredRecord>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(), Stopped> {
    let mut queue: VecDeque<(Vec<StoredRecord>, u32)> = VecDeque::from([(records, 0)]);
    while let Some((mut batch, attempts)) = queue.pop_front() {
        if *stop.borrow() {
            return Err(Stopped);
        }
        if m.max_record_age_secs >= 0 {
            let oldest_allowed = ctx.now() - m.max_record_age_secs as i64 * 1000;
            let split = batch.partition_point(|r| r.arrival_millis < oldest_allowed);
            if split > 0 {
                let expired: Vec<_> = batch.drain(..split).collect();
                on_failure(
                    ctx,
                    m,
                    src,
                    &expired,
                    "RecordAgeExceeded",
                    attempts,
                    None,
                    None,
                )
                .await;
            }
            if batch.is_empty() {
                continue;
            }
        }
        let payload = event::batch(batch.iter().map(|r| event::record(src, r)).collect());
        let outcome = ctx.invoke(m, payload).await;
        let Some(from) = failed_from(m, src, &batch, &outcome) else {
            ctx.stats.ok(m);
            continue;
        };
        ctx.stats.failed(m);
        let remaining: Vec<_> = batch.split_off(from);
        let attempts = attempts + 1;
        if m.max_retry_attempts >= 0 && attempts > m.max_retry_attempts as u32 {
            on_failure(
                ctx,
                m,
                src,
                &remaining,
                "RetryAttemptsExhausted",
                attempts,
                outcome.function_error.as_deref(),
                Some(&outcome.request_id),
            )
            .await;
            continue;
        }
        if m.bisect_on_error && remaining.len() > 1 {
            let mut first = remaining;
            let second = first.split_off(first.len() / 2);
            queue.push_front((second, attempts));
            queue.push_front((first, attempts));
        } else {
            queue.push_front((remaining, attempts));
        }
        let backoff = BACKOFF_BASE
            .saturating_mul(1 << attempts.min(10))
            .min(BACKOFF_MAX);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return Err(Stopped),
        }
    }
    Ok(())
}

/// Sends the on-failure record for `batch` to the mapping's destination, if it has one.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn on_failure(
    ctx: &Ctx,
    m: &EventSourceMapping,
    src: &EventSource<'_>,
    batch: &[StoredRecord],
    condition: &str,
    invoke_count: u32,
    function_error: Option<&str>,
    request_id: Option<&str>,
) {
    let Some(dest) = &m.on_failure else {
        tracing::warn!(mapping = %m.uuid, condition, records = batch.len(), "records skipped ({condition}); the mapping has no on-failure destination");
        return;
    };
    let request_id = request_id
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let now = ctx.now();
    let record = event::failure_record(
        src,
        &Failure {
            request_id: &request_id,
            function_arn: &m.function_arn,
            condition,
            invoke_count,
            function_error,
            now_millis: now,
        },
        batch,
    );
    if let Err(e) = ctx.send_failure(m, src, dest, record, batch, now).await {
        tracing::error!(mapping = %m.uuid, destination = %dest, error = %e, "cannot write an on-failure record");
    }
}

/// The event bytes for an invocation.
pub(crate) fn bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}
