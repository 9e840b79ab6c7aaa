//! Resharding: SplitShard, MergeShards and UpdateShardCount, with AWS's lineage.
//!
//! A reshard is a [`Plan`]: parents to close and children to open, some children closed again at
//! once (UpdateShardCount reaches uniform ranges through intermediate splits and merges, as AWS
//! does, so that no child ever has more than the two parents the API can name). It runs as:
//!
//! 1. validate against the current shard map and move the stream to UPDATING (one
//!    compare-and-set write, so concurrent reshards see UPDATING and are refused);
//! 2. create the children in the store;
//! 3. seal every parent in the store — from here no append can land in a parent — and wait
//!    until everything appended before the seal is readable, so a parent's end is final;
//! 4. write the new shard map (parents closed at their sealed end, children open) and publish
//!    it, which moves writes to the children;
//! 5. return to ACTIVE after the stream's settle delay.
//!
//! Producers that race step 3–4 get [`weir_storage::Error::Sealed`] from the store and re-route
//! with the new map (see `data.rs`), so every acknowledged record is in exactly one shard and a
//! reader that follows ChildShards sees it exactly once.

use crate::error::{Error, Result};
use crate::model::{ShardMeta, StreamMeta, StreamMode, StreamStatus};
use crate::service::{Stream, StreamRef, StreamService};
use std::sync::Arc;
use weir_core::limits::MAX_SHARDS_PER_STREAM;
use weir_core::{HashKeyRange, ShardId};

/// A child shard to create.
#[derive(Debug, Clone)]
struct NewShard {
    index: u32,
    parent: Option<u32>,
    adjacent_parent: Option<u32>,
    range: HashKeyRange,
    /// Intermediate shards of UpdateShardCount are closed (empty) as soon as they exist.
    closed_at_once: bool,
}

#[derive(Debug, Clone, Default)]
struct Plan {
    close: Vec<u32>,
    open: Vec<NewShard>,
}

/// What UpdateShardCount answers.
#[derive(Debug, Clone)]
pub struct ShardCountUpdate {
    pub stream_name: String,
    pub stream_arn: String,
    pub current: u32,
    pub target: u32,
}

const DAY_MILLIS: i64 = 24 * 3_600_000;
const UPDATES_PER_DAY: usize = 10;

impl StreamService {
    pub async fn split_shard(
        &self,
        r: &StreamRef,
        shard_to_split: &str,
        new_starting_hash_key: u128,
    ) -> Result<()> {
        let stream = self.stream(r)?;
        self.split(&stream, shard_to_split, new_starting_hash_key, false)
            .await
    }

    /// The on-demand scaler's split (clients may not split on-demand streams).
    pub(crate) async fn split_on_demand(
        &self,
        stream: &Arc<Stream>,
        shard: u32,
        at: u128,
    ) -> Result<()> {
        self.split(stream, &ShardId(shard).to_string(), at, true)
            .await
    }

    pub(crate) async fn merge_on_demand(
        &self,
        stream: &Arc<Stream>,
        lower: u32,
        upper: u32,
    ) -> Result<()> {
        self.merge(
            stream,
            &ShardId(lower).to_string(),
            &ShardId(upper).to_string(),
            true,
        )
        .await
    }

    async fn split(
        &self,
        stream: &Arc<Stream>,
        shard_to_split: &str,
        new_starting_hash_key: u128,
        on_demand: bool,
    ) -> Result<()> {
        let (open, _) = self.mode_counts();
        self.reshard(stream, |m| {
            if !on_demand {
                self.require_provisioned(m)?;
            }
            let parent = self.open_shard(m, shard_to_split)?;
            let range = parent.range();
            if new_starting_hash_key <= range.start.saturating_add(1) || new_starting_hash_key >= range.end {
                return Err(Error::InvalidArgument(format!(
                    "NewStartingHashKey {new_starting_hash_key} used in SplitShard() on shard {} in stream {} under account {} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                    parent.id(), m.name, self.config().account_id, range.start, range.end
                )));
            }
            self.check_shard_quota(open, 1)?;
            let first = m.next_shard_index;
            Ok(Plan {
                close: vec![parent.index],
                open: vec![
                    NewShard {
                        index: first,
                        parent: Some(parent.index),
                        adjacent_parent: None,
                        range: HashKeyRange { start: range.start, end: new_starting_hash_key - 1 },
                        closed_at_once: false,
                    },
                    NewShard {
                        index: first + 1,
                        parent: Some(parent.index),
                        adjacent_parent: None,
                        range: HashKeyRange { start: new_starting_hash_key, end: range.end },
                        closed_at_once: false,
                    },
                ],
            })
        })
        .await
    }

    pub async fn merge_shards(
        &self,
        r: &StreamRef,
        shard_to_merge: &str,
        adjacent_shard: &str,
    ) -> Result<()> {
        let stream = self.stream(r)?;
        self.merge(&stream, shard_to_merge, adjacent_shard, false)
            .await
    }

    async fn merge(
        &self,
        stream: &Arc<Stream>,
        shard_to_merge: &str,
        adjacent_shard: &str,
        on_demand: bool,
    ) -> Result<()> {
        self.reshard(stream, |m| {
            if !on_demand {
                self.require_provisioned(m)?;
            }
            let a = self.open_shard(m, shard_to_merge)?;
            let b = self.open_shard(m, adjacent_shard)?;
            let (ra, rb) = (a.range(), b.range());
            if !ra.is_adjacent_before(&rb) && !rb.is_adjacent_before(&ra) {
                return Err(Error::InvalidArgument(format!(
                    "Shards {} and {} in stream {} under account {} are not an adjacent pair of shards eligible for merging",
                    a.id(), b.id(), m.name, self.config().account_id
                )));
            }
            Ok(Plan {
                close: vec![a.index, b.index],
                open: vec![NewShard {
                    index: m.next_shard_index,
                    parent: Some(a.index),
                    adjacent_parent: Some(b.index),
                    range: HashKeyRange { start: ra.start.min(rb.start), end: ra.end.max(rb.end) },
                    closed_at_once: false,
                }],
            })
        })
        .await
    }

    pub async fn update_shard_count(&self, r: &StreamRef, target: u32) -> Result<ShardCountUpdate> {
        let stream = self.stream(r)?;
        let (open, _) = self.mode_counts();
        let now = self.now_millis();
        let mut current = 0;
        self.reshard(&stream, |m| {
            if m.mode == StreamMode::OnDemand {
                return Err(Error::Validation(format!(
                    "Request is invalid. Stream {} under account {} is in On-Demand mode.",
                    m.name,
                    self.config().account_id
                )));
            }
            current = m.open_shard_count() as u32;
            if target > current.saturating_mul(2) {
                return Err(Error::LimitExceeded(format!(
                    "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: {current}, Target shard count: {target}"
                )));
            }
            if (target as u64) * 2 < current as u64 {
                return Err(Error::LimitExceeded(format!(
                    "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: {current}, Target shard count: {target}"
                )));
            }
            let max = MAX_SHARDS_PER_STREAM.min(self.config().shard_limit);
            if target > max {
                return Err(Error::LimitExceeded(format!(
                    "Target shard count or number of open shards cannot be greater than {max}. Current open shard count: {current}, Target shard count: {target}"
                )));
            }
            let recent = m.shard_count_updates.iter().filter(|t| now - **t < DAY_MILLIS).count();
            if recent >= UPDATES_PER_DAY {
                return Err(Error::LimitExceeded(format!(
                    "Exceeded the limit of {UPDATES_PER_DAY} UpdateShardCount calls per rolling 24-hour period for stream {} under account {}.",
                    m.name,
                    self.config().account_id
                )));
            }
            self.check_shard_quota(open, target.saturating_sub(current) as usize)?;
            Ok(uniform_plan(m, target))
        })
        .await?;
        self.update_stream(&stream, |m| {
            m.shard_count_updates.retain(|t| now - *t < DAY_MILLIS);
            m.shard_count_updates.push(now);
            Ok(())
        })?;
        Ok(ShardCountUpdate {
            stream_name: stream.name.clone(),
            stream_arn: self.stream_arn(&stream.name),
            current,
            target,
        })
    }

    fn require_provisioned(&self, m: &StreamMeta) -> Result<()> {
        if m.mode == StreamMode::OnDemand {
            return Err(Error::Validation(format!(
                "Request is invalid. Stream {} under account {} is in On-Demand mode.",
                m.name,
                self.config().account_id
            )));
        }
        Ok(())
    }

    /// An open shard of the stream, or AWS's errors for unknown and closed ones.
    fn open_shard(&self, m: &StreamMeta, id: &str) -> Result<ShardMeta> {
        let account = &self.config().account_id;
        let shard = ShardId::parse(id)
            .and_then(|i| m.shard(i.0))
            .ok_or_else(|| {
                Error::ResourceNotFound(format!(
                    "Could not find shard {id} in stream {} under account {account}.",
                    m.name
                ))
            })?;
        if !shard.is_open() {
            return Err(Error::InvalidArgument(format!(
                "Shard {} in stream {} under account {account} has already been merged or split, and thus is not eligible for merging or splitting.",
                shard.id(),
                m.name
            )));
        }
        Ok(shard.clone())
    }

    /// `open` is the account's open shard count, taken before the stream's lock (counting
    /// locks every stream).
    fn check_shard_quota(&self, open: usize, additional: usize) -> Result<()> {
        let limit = self.config().shard_limit as usize;
        if open + additional > limit {
            return Err(Error::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {} in {}. Current shard count for the account: {open}. Limit: {limit}. Number of additional shards that would have resulted from this request: {additional}. Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
                self.config().account_id,
                self.config().region,
            )));
        }
        Ok(())
    }

    /// Runs a reshard planned by `plan` (see the module docs for the steps).
    async fn reshard(
        &self,
        stream: &Arc<Stream>,
        plan: impl FnOnce(&StreamMeta) -> Result<Plan>,
    ) -> Result<()> {
        // 1. Validate and go UPDATING in one compare-and-set write.
        let plan = self.update_stream(stream, |m| {
            if m.status != StreamStatus::Active {
                return Err(Error::ResourceInUse(format!(
                    "Stream {} under account {} not ACTIVE, instead in state {}",
                    m.name,
                    self.config().account_id,
                    m.status.as_str()
                )));
            }
            let plan = plan(m)?;
            m.status = StreamStatus::Updating;
            Ok(plan)
        })?;
        match self.execute(stream, &plan).await {
            Ok(()) => {
                let delay = self.config().creating_delay;
                self.settle_status_later(
                    stream.clone(),
                    StreamStatus::Updating,
                    StreamStatus::Active,
                    delay,
                );
                Ok(())
            }
            Err(e) => {
                // Nothing was published: the old map stands, so the parents take writes again.
                tracing::error!(stream = %stream.name, error = %e, "reshard failed");
                for &p in &plan.close {
                    let _ = self.store().unseal(StreamService::shard_key(stream, p));
                }
                let _ = self.update_stream(stream, |m| {
                    m.status = StreamStatus::Active;
                    Ok(())
                });
                Err(e)
            }
        }
    }

    async fn execute(&self, stream: &Arc<Stream>, plan: &Plan) -> Result<()> {
        let store = self.store().clone();
        // 2. Children exist before any parent is sealed, so re-routed writes have a home.
        for s in &plan.open {
            store.create_shard(StreamService::shard_key(stream, s.index))?;
        }
        // 3. Seal the parents and wait until their last records are readable.
        let mut ends = Vec::with_capacity(plan.close.len());
        for &p in &plan.close {
            let key = StreamService::shard_key(stream, p);
            let end = store.seal(key)?;
            let mut watch = store.watch_end(key)?;
            let waited = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                watch.wait_for(|e| *e >= end),
            )
            .await;
            match waited {
                Ok(Ok(_)) => {}
                _ => {
                    return Err(Error::Internal(format!(
                        "shard {} did not become durable up to offset {end}",
                        ShardId(p)
                    )))
                }
            }
            ends.push((p, end));
        }
        // 4. Publish the new map.
        let now = self.now_millis();
        self.update_stream(stream, |m| {
            for (p, end) in &ends {
                if let Some(s) = m.shards.iter_mut().find(|s| s.index == *p) {
                    s.closed_end_offset = Some(*end);
                    s.closed_millis = Some(now);
                }
            }
            for s in &plan.open {
                m.shards.push(ShardMeta {
                    index: s.index,
                    parent: s.parent,
                    adjacent_parent: s.adjacent_parent,
                    starting_hash_key: s.range.start.to_string(),
                    ending_hash_key: s.range.end.to_string(),
                    created_millis: now,
                    closed_end_offset: s.closed_at_once.then_some(0),
                    closed_millis: s.closed_at_once.then_some(now),
                });
                m.next_shard_index = m.next_shard_index.max(s.index + 1);
            }
            Ok(())
        })?;
        for s in plan.open.iter().filter(|s| s.closed_at_once) {
            store.seal(StreamService::shard_key(stream, s.index))?;
        }
        Ok(())
    }
}

/// The splits and merges that turn the open shards into `target` uniform ranges: first split
/// every open shard at each target boundary inside it, then merge, left to right, the pieces that
/// make up each target range. Every child has at most two parents; pieces that are merged again
/// are intermediate shards, closed (empty) at once.
fn uniform_plan(m: &StreamMeta, target: u32) -> Plan {
    let goal = HashKeyRange::uniform(target);
    let mut next = m.next_shard_index;
    let mut plan = Plan::default();
    let mut open: Vec<(HashKeyRange, u32, bool)> = m
        .shards
        .iter()
        .filter(|s| s.is_open())
        .map(|s| (s.range(), s.index, false))
        .collect();
    open.sort_by_key(|(r, _, _)| r.start);
    // Splits: a piece is (range, shard index, created by this plan).
    let mut pieces: Vec<(HashKeyRange, u32, Option<usize>)> = Vec::new();
    for (range, index, _) in open {
        let cuts: Vec<u128> = goal
            .iter()
            .map(|g| g.start)
            .filter(|b| *b > range.start && *b <= range.end)
            .collect();
        if cuts.is_empty() {
            pieces.push((range, index, None));
            continue;
        }
        plan.close.push(index);
        let mut rest = (range, index);
        for (i, cut) in cuts.iter().enumerate() {
            let left = HashKeyRange {
                start: rest.0.start,
                end: cut - 1,
            };
            let right = HashKeyRange {
                start: *cut,
                end: rest.0.end,
            };
            let (li, ri) = (next, next + 1);
            next += 2;
            plan.open.push(NewShard {
                index: li,
                parent: Some(rest.1),
                adjacent_parent: None,
                range: left,
                closed_at_once: false,
            });
            pieces.push((left, li, Some(plan.open.len() - 1)));
            let is_last = i == cuts.len() - 1;
            plan.open.push(NewShard {
                index: ri,
                parent: Some(rest.1),
                adjacent_parent: None,
                range: right,
                closed_at_once: !is_last,
            });
            if is_last {
                pieces.push((right, ri, Some(plan.open.len() - 1)));
            }
            rest = (right, ri);
        }
    }
    // Merges: the pieces inside each goal range, folded left to right.
    for g in goal {
        let inside: Vec<(HashKeyRange, u32, Option<usize>)> = pieces
            .iter()
            .copied()
            .filter(|(r, _, _)| r.start >= g.start && r.end <= g.end)
            .collect();
        if inside.len() < 2 {
            continue;
        }
        let mut acc = inside[0];
        for piece in inside.iter().skip(1) {
            // The two merged shards close: existing ones through the store, new ones at once.
            for (_, idx, created) in [acc, *piece] {
                match created {
                    Some(pos) => plan.open[pos].closed_at_once = true,
                    None => plan.close.push(idx),
                }
            }
            let range = HashKeyRange {
                start: acc.0.start,
                end: piece.0.end,
            };
            let index = next;
            next += 1;
            plan.open.push(NewShard {
                index,
                parent: Some(acc.1),
                adjacent_parent: Some(piece.1),
                range,
                closed_at_once: false,
            });
            acc = (range, index, Some(plan.open.len() - 1));
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn stream_with(n: u32) -> StreamMeta {
        StreamMeta {
            uid: 1,
            name: "s".into(),
            status: StreamStatus::Active,
            mode: StreamMode::Provisioned,
            created_millis: 0,
            retention_hours: 24,
            shards: HashKeyRange::uniform(n)
                .into_iter()
                .enumerate()
                .map(|(i, r)| ShardMeta {
                    index: i as u32,
                    parent: None,
                    adjacent_parent: None,
                    starting_hash_key: r.start.to_string(),
                    ending_hash_key: r.end.to_string(),
                    created_millis: 0,
                    closed_end_offset: None,
                    closed_millis: None,
                })
                .collect(),
            next_shard_index: n,
            tags: BTreeMap::new(),
            enhanced_metrics: Vec::new(),
            encryption: None,
            max_record_size_kib: 1024,
            warm_throughput_mibps: None,
            shard_count_updates: Vec::new(),
        }
    }

    /// The open shards after applying a plan are exactly the uniform target ranges, and every
    /// shard's parents are shards that existed before it.
    fn check(from: u32, to: u32) {
        let m = stream_with(from);
        let plan = uniform_plan(&m, to);
        let mut open: Vec<(u128, u128)> = m
            .shards
            .iter()
            .filter(|s| !plan.close.contains(&s.index))
            .map(|s| (s.range().start, s.range().end))
            .collect();
        open.extend(
            plan.open
                .iter()
                .filter(|s| !s.closed_at_once)
                .map(|s| (s.range.start, s.range.end)),
        );
        open.sort();
        let goal: Vec<(u128, u128)> = HashKeyRange::uniform(to)
            .iter()
            .map(|r| (r.start, r.end))
            .collect();
        assert_eq!(open, goal, "{from} -> {to}");
        for s in &plan.open {
            for p in s.parent.iter().chain(s.adjacent_parent.iter()) {
                assert!(*p < s.index, "{from} -> {to}: parent {p} of {}", s.index);
            }
        }
    }

    #[test]
    fn uniform_scaling_reaches_uniform_ranges() {
        for (from, to) in [
            (1, 2),
            (2, 1),
            (2, 3),
            (3, 2),
            (4, 8),
            (8, 4),
            (3, 5),
            (5, 3),
            (4, 4),
            (7, 13),
            (13, 7),
            (10, 20),
        ] {
            check(from, to);
        }
    }
}
