//! The data path: PutRecord(s), GetShardIterator, GetRecords.
//!
//! A put routes each record by hash key to an open shard, appends one batch per shard (records of
//! one shard keep their request order), then waits for all batches to be durable before answering.
//! Appends to different shards of one request share the store's group commit.

use crate::error::{Error, Result};
use crate::iterator::ShardIterator;
use crate::model::{ShardMeta, StreamStatus};
use crate::service::{Routing, Stream, StreamRef, StreamService};
use std::collections::HashMap;
use std::sync::Arc;
use weir_core::limits::{
    DEFAULT_MAX_RECORD_SIZE_KIB, DEFAULT_PUT_RECORDS_REQUEST_BYTES, GET_RECORDS_MAX_RESPONSE_BYTES,
    ITERATOR_LIFETIME_MILLIS, MAX_PUT_RECORDS_REQUEST_BYTES,
};
use weir_core::{HashKey, SequenceNumber, ShardId};
use weir_storage::{RecordIn, StoredRecord};

/// A record to put.
#[derive(Debug, Clone, Copy)]
pub struct PutEntry<'a> {
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<HashKey>,
    pub data: &'a [u8],
}

/// The outcome of one record of a put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutResult {
    Ok {
        shard: ShardId,
        sequence: SequenceNumber,
    },
    Failed {
        code: &'static str,
        message: String,
    },
}

/// Where GetShardIterator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
    AtSequenceNumber(String),
    AfterSequenceNumber(String),
    AtTimestamp(i64),
}

/// A child of a closed shard, reported when a reader reaches the parent's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildShard {
    pub shard_id: String,
    pub parent_shards: Vec<String>,
    pub starting_hash_key: String,
    pub ending_hash_key: String,
}

#[derive(Debug, Clone)]
pub struct GetRecordsOutput {
    pub shard: ShardId,
    pub records: Vec<StoredRecord>,
    pub next_shard_iterator: Option<String>,
    pub millis_behind_latest: i64,
    pub child_shards: Vec<ChildShard>,
}

impl StreamService {
    fn writable(&self, r: &StreamRef) -> Result<(Arc<Stream>, Arc<Routing>)> {
        let stream = self.stream(r)?;
        let routing = stream.routing();
        match routing.status {
            StreamStatus::Active | StreamStatus::Updating => Ok((stream, routing)),
            _ => Err(self.not_found(&stream.name)),
        }
    }

    /// The stream's record size limit (data + partition key), worded as AWS's model check on
    /// `data` at `path`.
    fn check_record_size(
        &self,
        routing: &Routing,
        e: &PutEntry<'_>,
        path: impl FnOnce() -> String,
    ) -> Result<()> {
        let len = e.data.len() + e.partition_key.len();
        if len > routing.max_record_bytes {
            let n = e.data.len();
            let path = path();
            return Err(Error::Validation(format!(
                "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {}",
                routing.max_record_bytes
            )));
        }
        Ok(())
    }

    /// PutRecord: one record, whole-request errors.
    pub async fn put_record(
        &self,
        r: &StreamRef,
        entry: PutEntry<'_>,
        sequence_number_for_ordering: Option<&str>,
    ) -> Result<(ShardId, SequenceNumber)> {
        if let Some(s) = sequence_number_for_ordering {
            // Only numbers weir issued can order a record; anything else (too large, foreign)
            // is refused as AWS refuses numbers it did not issue.
            if SequenceNumber::parse(s).is_none() {
                return Err(Error::InvalidArgument(format!(
                    "ExclusiveMinimumSequenceNumber {s} used in PutRecord on stream {} under account {} is invalid.",
                    self.resolve_name(r)?,
                    self.config().account_id
                )));
            }
        }
        let (stream, mut routing) = self.writable(r)?;
        self.check_record_size(&routing, &entry, || "data".into())?;
        let record = [RecordIn {
            partition_key: entry.partition_key,
            explicit_hash_key: entry.explicit_hash_key.map(|k| k.0),
            data: entry.data,
        }];
        let size = entry.data.len() + entry.partition_key.len();
        for _ in 0..REROUTE_ATTEMPTS {
            let shard = route(&routing, &entry)?;
            let key = StreamService::shard_key(&stream, shard);
            if routing.throttled
                && self
                    .inner
                    .throttle
                    .admit_writes(key, self.now_millis(), std::iter::once(size))
                    == 0
            {
                return Err(Error::ProvisionedThroughputExceeded(
                    self.write_rate_exceeded(&stream.name, shard),
                ));
            }
            match self.inner.store.append(key, &record) {
                Ok(appended) => {
                    let k = hash_key(&entry).0;
                    stream.note_writes(&routing, shard, 1, size, (k, k));
                    appended.durable.wait().await?;
                    let id = ShardId(shard);
                    return Ok((id, SequenceNumber::new(id, appended.first_offset)));
                }
                // The shard was closed by a reshard that is publishing its new map.
                Err(weir_storage::Error::Sealed(_)) => {
                    routing = self.next_routing(&stream, &routing).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Internal("Internal service failure.".into()))
    }

    /// Waits (briefly) for a shard map newer than `seen` after an append hit a sealed shard.
    async fn next_routing(&self, stream: &Stream, seen: &Arc<Routing>) -> Arc<Routing> {
        for _ in 0..2000 {
            let now = stream.routing();
            if !Arc::ptr_eq(&now, seen) {
                return now;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        stream.routing()
    }

    /// PutRecords: per-record results in request order.
    pub async fn put_records(
        &self,
        r: &StreamRef,
        entries: &[PutEntry<'_>],
    ) -> Result<Vec<PutResult>> {
        let (stream, mut routing) = self.writable(r)?;
        let mut total = 0usize;
        for (i, e) in entries.iter().enumerate() {
            self.check_record_size(&routing, e, || format!("records.{}.member.data", i + 1))?;
            total += e.data.len() + e.partition_key.len();
        }
        let (limit, label) =
            if routing.max_record_bytes > DEFAULT_MAX_RECORD_SIZE_KIB as usize * 1024 {
                (MAX_PUT_RECORDS_REQUEST_BYTES, 10)
            } else {
                (DEFAULT_PUT_RECORDS_REQUEST_BYTES, 5)
            };
        if total > limit {
            return Err(Error::InvalidArgument(format!(
                "Records size exceeds {label} MB limit"
            )));
        }
        let mut results: Vec<PutResult> = vec![internal_failure(); entries.len()];
        let mut waits = Vec::new();
        let mut pending: Vec<usize> = (0..entries.len()).collect();
        for _ in 0..REROUTE_ATTEMPTS {
            let mut rerouted = Vec::new();
            let mut groups = Vec::new();
            for (shard, records, positions) in group_by_shard(&routing, entries, &pending)? {
                if let Some(group) =
                    self.admit_group(&stream, &routing, shard, records, positions, &mut results)
                {
                    groups.push(group);
                }
            }
            let appends: Vec<_> = groups
                .iter()
                .map(|(shard, records, _)| {
                    (StreamService::shard_key(&stream, *shard), &records[..])
                })
                .collect();
            let appended = self.inner.store.append_all(&appends);
            for ((shard, records, positions), appended) in groups.into_iter().zip(appended) {
                self.note_group(
                    &stream,
                    &routing,
                    shard,
                    &records,
                    positions,
                    appended,
                    &mut waits,
                    &mut rerouted,
                );
            }
            if rerouted.is_empty() {
                break;
            }
            rerouted.sort_unstable();
            pending = rerouted;
            routing = self.next_routing(&stream, &routing).await;
        }
        for (shard, appended, positions) in waits {
            if let Err(e) = appended.durable.wait().await {
                // Logged once per failure episode by the store.
                tracing::debug!(stream = %stream.name, shard, error = %e, "commit failed");
                continue;
            }
            for (k, pos) in positions.into_iter().enumerate() {
                results[pos] = PutResult::Ok {
                    shard: ShardId(shard),
                    sequence: SequenceNumber::new(ShardId(shard), appended.first_offset + k as u64),
                };
            }
        }
        Ok(results)
    }

    /// Throttles one shard's records of a PutRecords: what is admitted goes on to the append,
    /// the rest is answered `ProvisionedThroughputExceededException` in `results`.
    fn admit_group<'a>(
        &self,
        stream: &Stream,
        routing: &Routing,
        shard: u32,
        mut records: Vec<RecordIn<'a>>,
        mut positions: Vec<usize>,
        results: &mut [PutResult],
    ) -> Option<(u32, Vec<RecordIn<'a>>, Vec<usize>)> {
        if routing.throttled {
            let key = StreamService::shard_key(stream, shard);
            let admitted = self.inner.throttle.admit_writes(
                key,
                self.now_millis(),
                records.iter().map(|r| r.data.len() + r.partition_key.len()),
            );
            if admitted < records.len() {
                let message = self.write_rate_exceeded(&stream.name, shard);
                for &pos in &positions[admitted..] {
                    results[pos] = PutResult::Failed {
                        code: "ProvisionedThroughputExceededException",
                        message: message.clone(),
                    };
                }
                records.truncate(admitted);
                positions.truncate(admitted);
            }
        }
        (!records.is_empty()).then_some((shard, records, positions))
    }

    /// Notes where one shard's appended records of a PutRecords went.
    #[allow(clippy::too_many_arguments)]
    fn note_group(
        &self,
        stream: &Stream,
        routing: &Routing,
        shard: u32,
        records: &[RecordIn<'_>],
        positions: Vec<usize>,
        appended: weir_storage::Result<weir_storage::Appended>,
        waits: &mut Vec<(u32, weir_storage::Appended, Vec<usize>)>,
        rerouted: &mut Vec<usize>,
    ) {
        match appended {
            Ok(appended) => {
                if routing.on_demand {
                    let bytes = records
                        .iter()
                        .map(|r| r.data.len() + r.partition_key.len())
                        .sum();
                    let (lo, hi) = records.iter().fold((u128::MAX, 0), |(lo, hi), r| {
                        let k = r
                            .explicit_hash_key
                            .unwrap_or_else(|| HashKey::from_partition_key(r.partition_key).0);
                        (lo.min(k), hi.max(k))
                    });
                    stream.note_writes(routing, shard, records.len(), bytes, (lo, hi));
                }
                waits.push((shard, appended, positions));
            }
            Err(weir_storage::Error::Sealed(_)) => rerouted.extend(positions),
            Err(e @ weir_storage::Error::Io(_)) => {
                tracing::debug!(stream = %stream.name, shard, error = %e, "append failed");
            }
            Err(e) => {
                tracing::error!(stream = %stream.name, shard, error = %e, "append failed");
            }
        }
    }

    pub fn get_shard_iterator(
        &self,
        r: &StreamRef,
        shard_id: &str,
        position: StartingPosition,
    ) -> Result<String> {
        let name = self.resolve_name(r)?;
        let stream = self
            .stream_by_name(&name)
            .map_err(|_| self.shard_not_found(&name, shard_id))?;
        let meta = stream.meta();
        let shard = self.find_shard(&stream, &meta, shard_id)?;
        let at = self.resolve_position(&stream, &meta, &shard, position, "GetShardIterator")?;
        Ok(self.inner.iterators.encode(&ShardIterator {
            stream_uid: stream.uid,
            shard: shard.index,
            offset: at.offset,
            issued_millis: at.now_millis,
            min_arrival_millis: at.min_arrival_millis,
        }))
    }

    pub async fn get_records(
        &self,
        iterator: &str,
        limit: u32,
        stream_arn: Option<&str>,
    ) -> Result<GetRecordsOutput> {
        let it = self
            .inner
            .iterators
            .decode(iterator)
            .ok_or_else(|| Error::InvalidArgument("Invalid ShardIterator.".into()))?;
        let now = self.now_millis();
        if now - it.issued_millis > ITERATOR_LIFETIME_MILLIS {
            return Err(Error::ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {} milliseconds.",
                format_instant(it.issued_millis),
                format_instant(now),
                ITERATOR_LIFETIME_MILLIS
            )));
        }
        let stream = self.stream_by_uid(it.stream_uid).ok_or_else(|| {
            Error::ResourceNotFound(
                "Shard iterator refers to a stream that no longer exists.".into(),
            )
        })?;
        if let Some(arn) = stream_arn {
            if self.parse_stream_arn(arn).as_deref() != Some(stream.name.as_str()) {
                return Err(Error::InvalidArgument(format!(
                    "StreamARN {arn} does not match the stream of the shard iterator."
                )));
            }
        }
        let routing = stream.routing();
        let shard = routing
            .shards
            .get(&it.shard)
            .ok_or_else(|| self.shard_not_found(&stream.name, &ShardId(it.shard).to_string()))?;
        let key = StreamService::shard_key(&stream, it.shard);
        if routing.throttled && !self.inner.throttle.admit_read(key, now) {
            return Err(Error::ProvisionedThroughputExceeded(format!(
                "Rate exceeded for Shard - {}/{}/{}",
                self.config().account_id,
                stream.name,
                ShardId(it.shard)
            )));
        }
        let mut from = it.offset;
        // Skip what arrived before an AT_TIMESTAMP that was in the future, and what is past
        // the stream's retention but still in a segment too new to delete.
        let horizon = now - routing.retention_hours as i64 * 3_600_000;
        let not_before = it
            .min_arrival_millis
            .max(if horizon > routing.created_millis {
                horizon
            } else {
                0
            });
        if not_before > 0 {
            from = from.max(self.inner.store.offset_at_timestamp(key, not_before)?);
        }
        let batch =
            self.inner
                .store
                .read(key, from, limit as usize, GET_RECORDS_MAX_RESPONSE_BYTES)?;
        if routing.throttled {
            self.inner.throttle.charge_read(
                key,
                batch.records.iter().map(StoredRecord::billed_len).sum(),
            );
        }
        // Once the timestamp has passed, every later arrival qualifies.
        let min_arrival_millis = if it.min_arrival_millis > now {
            it.min_arrival_millis
        } else {
            0
        };
        let bounds = self.inner.store.bounds(key)?;
        let millis_behind = if batch.next_offset >= bounds.end_offset {
            0
        } else {
            batch
                .records
                .last()
                .map(|r| (bounds.last_arrival_millis.unwrap_or(now) - r.arrival_millis).max(0))
                .unwrap_or(0)
        };
        let at_end_of_closed = shard
            .closed_end_offset
            .is_some_and(|end| batch.next_offset >= end);
        let (next, children) = if at_end_of_closed {
            (None, shard.children.as_ref().clone())
        } else {
            (
                Some(self.inner.iterators.encode(&ShardIterator {
                    stream_uid: stream.uid,
                    shard: it.shard,
                    offset: batch.next_offset,
                    issued_millis: now,
                    min_arrival_millis,
                })),
                Vec::new(),
            )
        };
        Ok(GetRecordsOutput {
            shard: ShardId(it.shard),
            records: batch.records,
            next_shard_iterator: next,
            millis_behind_latest: millis_behind,
            child_shards: children,
        })
    }
}

/// The children of a closed shard, as ChildShards reports them.
pub(crate) fn children_of(shards: &[ShardMeta], parent: &ShardMeta) -> Vec<ChildShard> {
    shards
        .iter()
        .filter(|s| s.parent == Some(parent.index) || s.adjacent_parent == Some(parent.index))
        .map(|s| ChildShard {
            shard_id: s.id().to_string(),
            parent_shards: s
                .parent
                .iter()
                .chain(s.adjacent_parent.iter())
                .map(|p| ShardId(*p).to_string())
                .collect(),
            starting_hash_key: s.starting_hash_key.clone(),
            ending_hash_key: s.ending_hash_key.clone(),
        })
        .collect()
}

impl StreamService {
    fn write_rate_exceeded(&self, stream: &str, shard: u32) -> String {
        format!(
            "Rate exceeded for shard {} in stream {stream} under account {}.",
            ShardId(shard),
            self.config().account_id
        )
    }
}

/// How often a put follows a reshard to the new shard map before giving up.
const REROUTE_ATTEMPTS: usize = 4;

/// One shard's part of a PutRecords: its records in request order and their request positions.
type ShardGroup<'a> = (u32, Vec<RecordIn<'a>>, Vec<usize>);

/// Groups the records at `positions` by shard, keeping request order inside each group.
fn group_by_shard<'a>(
    routing: &Routing,
    entries: &[PutEntry<'a>],
    positions: &[usize],
) -> Result<Vec<ShardGroup<'a>>> {
    let mut groups: Vec<ShardGroup<'a>> = Vec::new();
    // Shard index -> group; a linear search would cost records x shards on wide streams.
    let mut index: HashMap<u32, usize> = HashMap::new();
    for &i in positions {
        let e = &entries[i];
        let shard = route(routing, e)?;
        let group = *index.entry(shard).or_insert_with(|| {
            groups.push((shard, Vec::new(), Vec::new()));
            groups.len() - 1
        });
        groups[group].1.push(RecordIn {
            partition_key: e.partition_key,
            explicit_hash_key: e.explicit_hash_key.map(|k| k.0),
            data: e.data,
        });
        groups[group].2.push(i);
    }
    Ok(groups)
}

fn hash_key(e: &PutEntry<'_>) -> HashKey {
    e.explicit_hash_key
        .unwrap_or_else(|| HashKey::from_partition_key(e.partition_key))
}

fn route(routing: &Routing, e: &PutEntry<'_>) -> Result<u32> {
    let key = hash_key(e);
    routing
        .route(key)
        .ok_or_else(|| Error::Internal("No open shard covers the record's hash key.".into()))
}

fn internal_failure() -> PutResult {
    PutResult::Failed {
        code: "InternalFailure",
        message: "Internal service failure.".into(),
    }
}

/// `Thu Jan 22 01:22:02 UTC 2015`, the way AWS prints instants in iterator messages.
fn format_instant(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let (y, mo, d) = civil_from_days(days);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(mo - 1) as usize];
    format!("{weekday} {month} {d:02} {h:02}:{m:02}:{s:02} UTC {y}")
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_instants_like_aws() {
        assert_eq!(
            format_instant(1_421_889_722_000),
            "Thu Jan 22 01:22:02 UTC 2015"
        );
        assert_eq!(format_instant(0), "Thu Jan 01 00:00:00 UTC 1970");
    }
}
