//! Stream lifecycle and description: CreateStream, DeleteStream, DescribeStream(Summary),
//! ListStreams, ListShards.

use crate::error::{Error, Result};
use crate::model::{ShardMeta, StreamMeta, StreamMode, StreamStatus};
use crate::paging::{PageToken, TokenKind};
use crate::service::{StreamRef, StreamService};
use std::collections::BTreeMap;
use weir_core::{limits, HashKeyRange, SequenceNumber, ShardId};

/// A shard as DescribeStream and ListShards show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardView {
    pub shard_id: String,
    pub parent_shard_id: Option<String>,
    pub adjacent_parent_shard_id: Option<String>,
    pub starting_hash_key: String,
    pub ending_hash_key: String,
    pub starting_sequence_number: String,
    pub ending_sequence_number: Option<String>,
}

impl ShardView {
    pub fn of(s: &ShardMeta) -> Self {
        Self {
            shard_id: s.id().to_string(),
            parent_shard_id: s.parent.map(|p| ShardId(p).to_string()),
            adjacent_parent_shard_id: s.adjacent_parent.map(|p| ShardId(p).to_string()),
            starting_hash_key: s.starting_hash_key.clone(),
            ending_hash_key: s.ending_hash_key.clone(),
            starting_sequence_number: SequenceNumber::new(s.id(), 0).to_string(),
            ending_sequence_number: s
                .closed_end_offset
                .map(|end| SequenceNumber::new(s.id(), end.saturating_sub(1)).to_string()),
        }
    }
}

/// What CreateStream asks for.
#[derive(Debug, Clone)]
pub struct CreateStream {
    pub name: String,
    pub shard_count: Option<u32>,
    pub mode: StreamMode,
    pub tags: BTreeMap<String, String>,
    pub max_record_size_kib: Option<u32>,
    pub warm_throughput_mibps: Option<u32>,
}

/// DescribeStream's answer.
#[derive(Debug, Clone)]
pub struct StreamDescription {
    pub meta: StreamMeta,
    pub arn: String,
    pub shards: Vec<ShardView>,
    pub has_more_shards: bool,
}

#[derive(Debug, Clone)]
pub struct StreamSummary {
    pub meta: StreamMeta,
    pub arn: String,
    pub open_shard_count: usize,
    pub consumer_count: usize,
}

#[derive(Debug, Clone)]
pub struct StreamListing {
    pub names: Vec<String>,
    pub summaries: Vec<(String, String, StreamStatus, StreamMode, i64)>,
    pub has_more: bool,
    pub next_token: Option<String>,
}

/// ListShards' filter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ShardFilter {
    AfterShardId(String),
    AtTrimHorizon,
    FromTrimHorizon,
    AtLatest,
    AtTimestamp(i64),
    FromTimestamp(i64),
}

#[derive(Debug, Clone, Default)]
pub struct ListShards {
    pub stream: StreamRef,
    pub next_token: Option<String>,
    pub exclusive_start_shard_id: Option<String>,
    pub max_results: Option<u32>,
    pub stream_creation_timestamp: Option<i64>,
    pub filter: Option<ShardFilter>,
}

impl StreamService {
    pub fn create_stream(&self, req: CreateStream) -> Result<()> {
        let shard_count = match req.mode {
            StreamMode::OnDemand => limits::ON_DEMAND_INITIAL_SHARDS,
            StreamMode::Provisioned => req.shard_count.ok_or_else(|| {
                Error::InvalidArgument(
                    "ShardCount is required for streams in PROVISIONED mode.".into(),
                )
            })?,
        };
        let (open_shards, on_demand) = self.mode_counts();
        let limit = self.config().shard_limit as usize;
        if open_shards + shard_count as usize > limit {
            return Err(Error::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {} in {}. Current shard count for the account: {}. Limit: {}. Number of additional shards that would have resulted from this request: {}. Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
                self.config().account_id,
                self.config().region,
                open_shards,
                limit,
                shard_count
            )));
        }
        if req.mode == StreamMode::OnDemand
            && on_demand >= self.config().on_demand_stream_limit as usize
        {
            return Err(Error::LimitExceeded(format!(
                "This request would exceed the on-demand stream limit for the account {} in {}. Limit: {}.",
                self.config().account_id,
                self.config().region,
                self.config().on_demand_stream_limit
            )));
        }
        if req.tags.len() > limits::MAX_TAGS_PER_STREAM {
            return Err(crate::tags::too_many_tags(
                &req.name,
                &self.config().account_id,
            ));
        }
        let now = self.now_millis();
        let ranges = HashKeyRange::uniform(shard_count);
        let stream = self.insert_stream(|uid| StreamMeta {
            uid,
            name: req.name.clone(),
            status: StreamStatus::Creating,
            mode: req.mode,
            created_millis: now,
            retention_hours: limits::DEFAULT_RETENTION_HOURS,
            shards: ranges
                .iter()
                .enumerate()
                .map(|(i, r)| ShardMeta {
                    index: i as u32,
                    parent: None,
                    adjacent_parent: None,
                    starting_hash_key: r.start.to_string(),
                    ending_hash_key: r.end.to_string(),
                    created_millis: now,
                    closed_end_offset: None,
                    closed_millis: None,
                })
                .collect(),
            next_shard_index: shard_count,
            tags: req.tags.clone(),
            enhanced_metrics: Vec::new(),
            encryption: None,
            max_record_size_kib: req
                .max_record_size_kib
                .unwrap_or(limits::DEFAULT_MAX_RECORD_SIZE_KIB),
            warm_throughput_mibps: req.warm_throughput_mibps,
            shard_count_updates: Vec::new(),
        })?;
        let delay = self.config().creating_delay;
        self.settle_status_later(stream, StreamStatus::Creating, StreamStatus::Active, delay);
        Ok(())
    }

    pub fn delete_stream(&self, r: &StreamRef, enforce_consumer_deletion: bool) -> Result<()> {
        let stream = self.stream(r)?;
        self.check_consumers_before_delete(&stream, enforce_consumer_deletion)?;
        self.update_stream(&stream, |m| {
            if m.status == StreamStatus::Deleting {
                return Err(self.not_found(&m.name));
            }
            m.status = StreamStatus::Deleting;
            Ok(())
        })?;
        let delay = self.config().deleting_delay;
        self.remove_stream_later(stream, delay);
        Ok(())
    }

    pub fn describe_stream(
        &self,
        r: &StreamRef,
        limit: Option<u32>,
        exclusive_start_shard_id: Option<&str>,
    ) -> Result<StreamDescription> {
        let stream = self.stream(r)?;
        let meta = stream.meta();
        let limit = limit
            .unwrap_or(limits::DESCRIBE_STREAM_MAX_SHARDS)
            .min(limits::DESCRIBE_STREAM_MAX_SHARDS) as usize;
        let after = exclusive_start_shard_id.map(shard_order_key);
        let mut listed: Vec<&ShardMeta> = self
            .retained_shards(&meta)
            .into_iter()
            .filter(|s| {
                after
                    .as_ref()
                    .is_none_or(|a| shard_order_key(&s.id().to_string()) > *a)
            })
            .collect();
        let has_more = listed.len() > limit;
        listed.truncate(limit);
        Ok(StreamDescription {
            arn: self.stream_arn(&meta.name),
            shards: listed.into_iter().map(ShardView::of).collect(),
            has_more_shards: has_more,
            meta,
        })
    }

    pub fn describe_stream_summary(&self, r: &StreamRef) -> Result<StreamSummary> {
        let stream = self.stream(r)?;
        let meta = stream.meta();
        Ok(StreamSummary {
            arn: self.stream_arn(&meta.name),
            open_shard_count: meta.open_shard_count(),
            consumer_count: self.consumer_count(stream.uid),
            meta,
        })
    }

    pub fn list_streams(
        &self,
        limit: Option<u32>,
        exclusive_start: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<StreamListing> {
        let limit = limit
            .unwrap_or(limits::LIST_STREAMS_MAX_LIMIT)
            .min(limits::LIST_STREAMS_MAX_LIMIT) as usize;
        let start_after = match next_token {
            Some(t) => Some(self.decode_token(t, TokenKind::ListStreams)?.position),
            None => exclusive_start.map(str::to_string),
        };
        let streams = self.all_streams();
        let mut page: Vec<_> = streams
            .iter()
            .filter(|s| start_after.as_ref().is_none_or(|a| s.name > *a))
            .map(|s| s.meta())
            .collect();
        let has_more = page.len() > limit;
        page.truncate(limit);
        let next_token = if has_more {
            page.last().map(|m| {
                self.encode_token(&PageToken::new(
                    TokenKind::ListStreams,
                    "",
                    &m.name,
                    self.now_millis(),
                ))
            })
        } else {
            None
        };
        Ok(StreamListing {
            names: page.iter().map(|m| m.name.clone()).collect(),
            summaries: page
                .iter()
                .map(|m| {
                    (
                        m.name.clone(),
                        self.stream_arn(&m.name),
                        m.status,
                        m.mode,
                        m.created_millis,
                    )
                })
                .collect(),
            has_more,
            next_token,
        })
    }

    pub fn list_shards(&self, req: ListShards) -> Result<(Vec<ShardView>, Option<String>)> {
        let max = req
            .max_results
            .unwrap_or(limits::LIST_SHARDS_MAX_RESULTS)
            .min(limits::LIST_SHARDS_MAX_RESULTS) as usize;
        let (stream, after, filter) = match &req.next_token {
            Some(token) => {
                if req.stream.name.is_some()
                    || req.stream.arn.is_some()
                    || req.exclusive_start_shard_id.is_some()
                    || req.stream_creation_timestamp.is_some()
                {
                    return Err(Error::InvalidArgument(
                        "NextToken and StreamName cannot be provided together.".into(),
                    ));
                }
                let t = self.decode_token(token, TokenKind::ListShards)?;
                let stream = self.stream_by_name(&t.stream)?;
                if stream.uid != t.stream_uid {
                    return Err(Error::ExpiredNextToken("The token has expired.".into()));
                }
                (stream, Some(t.position), t.filter)
            }
            None => {
                let stream = self.stream(&req.stream)?;
                (
                    stream,
                    req.exclusive_start_shard_id.clone(),
                    req.filter.clone(),
                )
            }
        };
        let meta = stream.meta();
        if meta.status == StreamStatus::Creating {
            return Err(Error::ResourceInUse(format!(
                "Stream {} under account {} is in CREATING state.",
                meta.name,
                self.config().account_id
            )));
        }
        let selected = self.filter_shards(&meta, filter.as_ref())?;
        let after_key = after.as_deref().map(shard_order_key);
        let mut page: Vec<&ShardMeta> = selected
            .into_iter()
            .filter(|s| {
                after_key
                    .as_ref()
                    .is_none_or(|a| shard_order_key(&s.id().to_string()) > *a)
            })
            .collect();
        let more = page.len() > max;
        page.truncate(max);
        let token = if more {
            page.last().map(|s| {
                let mut t = PageToken::new(
                    TokenKind::ListShards,
                    &meta.name,
                    &s.id().to_string(),
                    self.now_millis(),
                );
                t.stream_uid = meta.uid;
                t.filter = filter.clone();
                self.encode_token(&t)
            })
        } else {
            None
        };
        Ok((page.into_iter().map(ShardView::of).collect(), token))
    }

    /// Shards whose records have not all expired (what ListShards shows without a filter).
    pub(crate) fn retained_shards<'m>(&self, meta: &'m StreamMeta) -> Vec<&'m ShardMeta> {
        let horizon = self.now_millis() - meta.retention_hours as i64 * 3_600_000;
        meta.shards
            .iter()
            .filter(|s| s.closed_millis.is_none_or(|closed| closed >= horizon))
            .collect()
    }

    fn filter_shards<'m>(
        &self,
        meta: &'m StreamMeta,
        filter: Option<&ShardFilter>,
    ) -> Result<Vec<&'m ShardMeta>> {
        let retained = self.retained_shards(meta);
        let is_retained = |index: u32| retained.iter().any(|s| s.index == index);
        let open_at = |s: &ShardMeta, t: i64| {
            (s.created_millis <= t || s.parent.is_none()) && s.closed_millis.is_none_or(|c| c > t)
        };
        Ok(match filter {
            None | Some(ShardFilter::FromTrimHorizon) => retained,
            Some(ShardFilter::AtTrimHorizon) => retained
                .iter()
                .copied()
                .filter(|s| {
                    s.parent.is_none_or(|p| !is_retained(p))
                        && s.adjacent_parent.is_none_or(|p| !is_retained(p))
                })
                .collect(),
            Some(ShardFilter::AtLatest) => retained.into_iter().filter(|s| s.is_open()).collect(),
            Some(ShardFilter::AfterShardId(id)) => {
                let key = shard_order_key(id);
                retained
                    .into_iter()
                    .filter(|s| shard_order_key(&s.id().to_string()) > key)
                    .collect()
            }
            Some(ShardFilter::AtTimestamp(t)) => {
                retained.into_iter().filter(|s| open_at(s, *t)).collect()
            }
            Some(ShardFilter::FromTimestamp(t)) => retained
                .into_iter()
                .filter(|s| s.closed_millis.is_none_or(|c| c > *t))
                .collect(),
        })
    }
}

/// Orders shard ids by index when they parse, else by string (AWS compares ids as strings, and
/// weir's zero-padded ids order the same either way).
fn shard_order_key(id: &str) -> (u64, String) {
    match ShardId::parse(id) {
        Some(s) => (s.0 as u64, String::new()),
        None => (u64::MAX, id.to_string()),
    }
}
