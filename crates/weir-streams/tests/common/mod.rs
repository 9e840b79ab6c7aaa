//! A stream service over a real local log (or memory) with a manual clock.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;
use weir_core::ManualClock;
use weir_storage::log::{LocalLog, LocalLogOptions};
use weir_storage::metadata::MemoryMetadata;
use weir_storage::{Durability, StreamStore};
use weir_streams::{CreateStream, ServiceConfig, StreamMode, StreamService};

pub const START: i64 = 1_700_000_000_000;

pub struct Harness {
    pub svc: StreamService,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn StreamStore>,
    pub dir: tempfile::TempDir,
}

pub fn harness_with(segment_bytes: u64, throughput_limits: bool) -> Harness {
    harness_config(segment_bytes, |c| c.throughput_limits = throughput_limits)
}

pub fn harness_config(segment_bytes: u64, tune: impl FnOnce(&mut ServiceConfig)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(START));
    let (log, _) = LocalLog::open_with(
        dir.path(),
        LocalLogOptions {
            segment_bytes,
            ..LocalLogOptions::default()
        },
        Durability::Fsync,
        clock.clone(),
    )
    .unwrap();
    let store: Arc<dyn StreamStore> = Arc::new(log);
    let mut config = ServiceConfig {
        creating_delay: Duration::ZERO,
        deleting_delay: Duration::ZERO,
        throughput_limits: false,
        ..ServiceConfig::default()
    };
    tune(&mut config);
    let (svc, _) = StreamService::open(
        store.clone(),
        Arc::new(MemoryMetadata::new()),
        clock.clone(),
        config,
    )
    .unwrap();
    Harness {
        svc,
        clock,
        store,
        dir,
    }
}

pub fn harness() -> Harness {
    harness_with(64 << 20, false)
}

pub fn create(svc: &StreamService, name: &str, shards: u32) {
    svc.create_stream(CreateStream {
        name: name.into(),
        shard_count: Some(shards),
        mode: StreamMode::Provisioned,
        tags: Default::default(),
        max_record_size_kib: None,
        warm_throughput_mibps: None,
    })
    .unwrap();
}

impl Harness {
    pub fn clock_now(&self) -> i64 {
        use weir_core::Clock;
        self.clock.now_millis()
    }
}
