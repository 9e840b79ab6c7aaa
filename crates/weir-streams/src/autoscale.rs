//! On-demand capacity: streams in ON_DEMAND mode split shards that run hot and merge adjacent
//! shards that stay cold, without clients noticing beyond ChildShards.
//!
//! The policy (all durations configurable, see [`OnDemandPolicy`]): every `tick` the scaler reads
//! each open shard's writes since the last tick and its utilisation, the larger of
//! records/s ÷ 1,000 and bytes/s ÷ 1 MiB (a shard's write capacity). A shard above
//! `split_above` (80 %) for `hot_for` (10 s) is split at the middle of its hash range. Two
//! adjacent shards both below `merge_below` (10 %) for `cold_for` (10 min) are merged, never
//! going below `min_shards` (4, where on-demand streams start). At most one reshard per stream
//! per tick, so the stream settles between steps. Splits of on-demand streams are the only
//! reshards a client cannot request (SplitShard on an on-demand stream is refused, as on AWS).

use crate::model::StreamStatus;
use crate::service::{Stream, StreamService};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use weir_core::limits::{SHARD_WRITE_BYTES_PER_SEC, SHARD_WRITE_RECORDS_PER_SEC};
use weir_core::HashKeyRange;

#[derive(Debug, Clone, Copy, Default)]
pub struct ShardLoad {
    pub records: u64,
    pub bytes: u64,
    /// The smallest and largest hash keys written, so a split divides the load rather than the
    /// range (and a single hot key, which no split can help, is left alone).
    pub min_key: u128,
    pub max_key: u128,
}

#[derive(Debug, Clone)]
pub struct OnDemandPolicy {
    pub tick: Duration,
    pub split_above: f64,
    pub hot_for: Duration,
    pub merge_below: f64,
    pub cold_for: Duration,
    pub min_shards: usize,
}

impl Default for OnDemandPolicy {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            split_above: 0.8,
            hot_for: Duration::from_secs(10),
            merge_below: 0.1,
            cold_for: Duration::from_secs(600),
            min_shards: weir_core::limits::ON_DEMAND_INITIAL_SHARDS as usize,
        }
    }
}

/// How long each shard has been hot or cold, carried between ticks.
#[derive(Debug, Default)]
pub struct ScalerState {
    hot_ms: HashMap<(u64, u32), i64>,
    cold_ms: HashMap<(u64, u32), i64>,
    last_tick: Option<i64>,
}

/// What one tick decided for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Split { shard: u32, at: u128 },
    Merge { lower: u32, upper: u32 },
}

impl StreamService {
    /// One pass of the scaler over every on-demand stream; returns what it resharded.
    pub async fn autoscale_tick(&self, state: &mut ScalerState) -> Vec<(String, Decision)> {
        let now = self.now_millis();
        let elapsed = state.last_tick.map_or(0, |t| now - t);
        state.last_tick = Some(now);
        let mut done = Vec::new();
        for stream in self.all_streams() {
            let load = std::mem::take(&mut *stream.load.lock());
            if !stream.routing().on_demand || elapsed <= 0 {
                continue;
            }
            if let Some(d) = self.decide(&stream, &load, elapsed, state) {
                let result = match &d {
                    Decision::Split { shard, at } => {
                        self.split_on_demand(&stream, *shard, *at).await
                    }
                    Decision::Merge { lower, upper } => {
                        self.merge_on_demand(&stream, *lower, *upper).await
                    }
                };
                match result {
                    Ok(()) => {
                        tracing::info!(stream = %stream.name, decision = ?d, "on-demand reshard");
                        state.hot_ms.retain(|k, _| k.0 != stream.uid);
                        state.cold_ms.retain(|k, _| k.0 != stream.uid);
                        done.push((stream.name.clone(), d));
                    }
                    Err(e) => {
                        tracing::debug!(stream = %stream.name, error = %e, "on-demand reshard skipped")
                    }
                }
            }
        }
        done
    }

    fn decide(
        &self,
        stream: &Arc<Stream>,
        load: &HashMap<u32, ShardLoad>,
        elapsed_ms: i64,
        state: &mut ScalerState,
    ) -> Option<Decision> {
        let policy = &self.config().on_demand;
        let meta = stream.meta();
        if meta.status != StreamStatus::Active {
            return None;
        }
        let mut open: Vec<(HashKeyRange, u32, f64, Option<u128>)> = meta
            .shards
            .iter()
            .filter(|s| s.is_open())
            .map(|s| {
                let l = load.get(&s.index).copied().unwrap_or_default();
                let secs = elapsed_ms as f64 / 1000.0;
                let u = (l.records as f64 / secs / SHARD_WRITE_RECORDS_PER_SEC as f64)
                    .max(l.bytes as f64 / secs / SHARD_WRITE_BYTES_PER_SEC as f64);
                let range = s.range();
                // Split between the keys seen, if they leave both halves non-empty.
                let at = (l.records > 0 && l.max_key > l.min_key)
                    .then(|| l.min_key + (l.max_key - l.min_key) / 2 + 1)
                    .filter(|at| *at > range.start.saturating_add(1) && *at < range.end);
                (range, s.index, u, at)
            })
            .collect();
        open.sort_by_key(|(r, _, _, _)| r.start);
        for &(_, index, u, _) in &open {
            let key = (stream.uid, index);
            if u >= policy.split_above {
                *state.hot_ms.entry(key).or_default() += elapsed_ms;
            } else {
                state.hot_ms.remove(&key);
            }
            if u < policy.merge_below {
                *state.cold_ms.entry(key).or_default() += elapsed_ms;
            } else {
                state.cold_ms.remove(&key);
            }
        }
        let hot_for = policy.hot_for.as_millis() as i64;
        if let Some((_, index, _, Some(at))) = open
            .iter()
            .filter(|(_, i, _, at)| {
                at.is_some()
                    && state
                        .hot_ms
                        .get(&(stream.uid, *i))
                        .is_some_and(|ms| *ms >= hot_for)
            })
            .max_by(|a, b| a.2.total_cmp(&b.2))
        {
            return Some(Decision::Split {
                shard: *index,
                at: *at,
            });
        }
        if open.len() > policy.min_shards {
            let cold_for = policy.cold_for.as_millis() as i64;
            let cold = |i: u32| {
                state
                    .cold_ms
                    .get(&(stream.uid, i))
                    .is_some_and(|ms| *ms >= cold_for)
            };
            for w in open.windows(2) {
                if w[0].0.is_adjacent_before(&w[1].0) && cold(w[0].1) && cold(w[1].1) {
                    return Some(Decision::Merge {
                        lower: w[0].1,
                        upper: w[1].1,
                    });
                }
            }
        }
        None
    }

    /// Runs [`autoscale_tick`](Self::autoscale_tick) every policy tick until the task is dropped.
    pub fn spawn_autoscaler(&self) -> tokio::task::JoinHandle<()> {
        let svc = self.clone();
        tokio::spawn(async move {
            let mut state = ScalerState::default();
            let mut tick = tokio::time::interval(svc.config().on_demand.tick);
            loop {
                tick.tick().await;
                svc.autoscale_tick(&mut state).await;
            }
        })
    }
}
