//! Retention: a background task that deletes whole segments older than each stream's retention.
//! (Reads also skip expired records still inside a segment too new to delete; see `data.rs`.)

use crate::service::{Stream, StreamService};
use std::time::Duration;

impl StreamService {
    /// Trims every shard of every stream once; returns how many shards moved their trim point.
    pub fn enforce_retention(&self) -> usize {
        self.all_streams()
            .iter()
            .map(|s| self.enforce_retention_for(s))
            .sum()
    }

    /// Trims one stream's shards to its retention; returns how many shards moved.
    pub(crate) fn enforce_retention_for(&self, stream: &Stream) -> usize {
        let now = self.now_millis();
        let mut moved = 0;
        let meta = stream.meta();
        let horizon = now - meta.retention_hours as i64 * 3_600_000;
        for s in &meta.shards {
            let key = StreamService::shard_key(stream, s.index);
            let before = self.store().bounds(key).map(|b| b.start_offset).ok();
            match self.store().trim(key, horizon) {
                Ok(start) if Some(start) != before => moved += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(stream = %meta.name, shard = s.index, error = %e, "trim failed")
                }
            }
        }
        moved
    }

    /// Runs [`enforce_retention`](Self::enforce_retention) every `every` until the task is dropped.
    pub fn spawn_retention(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let svc = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let svc = svc.clone();
                let _ = tokio::task::spawn_blocking(move || svc.enforce_retention()).await;
            }
        })
    }
}
