//! The stream service: the one owner of stream state.
//!
//! Streams live in two places: the metadata store (durable, versioned JSON per stream) and an
//! in-memory cache of [`Stream`] entries that the data path reads without touching the metadata
//! store. Every change goes through [`StreamService::update_stream`], which writes the new version
//! with compare-and-set first and only then publishes it in memory, so memory never runs ahead of
//! disk. The data path reads a stream's [`Routing`] (status and open shards' hash ranges) through
//! an `Arc` swapped under a short lock.

use crate::error::{Error, Result};
use crate::iterator::IteratorCodec;
use crate::model::{AccountSettings, ShardMeta, StreamMeta, StreamMode, StreamStatus};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use weir_core::{Clock, HashKey, ShardId};
use weir_storage::{Expect, MetaOp, MetadataStore, ShardKey, StreamStore};

pub(crate) const STREAMS: &str = "streams";
/// The tag that turns AWS's per-shard limits off for one stream.
pub const THROUGHPUT_LIMITS_TAG: &str = "weir:throughput-limits";
pub(crate) const NODE: &str = "node";
pub(crate) const POLICIES: &str = "resource-policies";
const ITERATOR_KEY: &str = "iterator-key";
const NEXT_UID: &str = "next-stream-uid";
const ACCOUNT: &str = "account-settings";

/// Settings of the service that AWS fixes per account or region.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub region: String,
    pub account_id: String,
    /// How long a new stream stays CREATING (AWS: seconds; long enough to be observable).
    pub creating_delay: Duration,
    /// How long a deleted stream stays DELETING.
    pub deleting_delay: Duration,
    /// The account's shard quota reported by DescribeLimits and enforced at CreateStream.
    pub shard_limit: u32,
    pub on_demand_stream_limit: u32,
    /// AWS's per-shard read and write limits (off: an unthrottled store).
    pub throughput_limits: bool,
    /// How long a SubscribeToShard response stays open (AWS: 5 minutes).
    pub subscription_lifetime: Duration,
    /// How on-demand streams scale.
    pub on_demand: crate::autoscale::OnDemandPolicy,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            creating_delay: Duration::from_millis(500),
            deleting_delay: Duration::from_millis(500),
            shard_limit: 10_000,
            on_demand_stream_limit: weir_core::limits::DEFAULT_ON_DEMAND_STREAM_LIMIT,
            throughput_limits: true,
            on_demand: crate::autoscale::OnDemandPolicy::default(),
            subscription_lifetime: crate::subscribe::SUBSCRIPTION_LIFETIME,
        }
    }
}

/// What the data path needs of a stream, swapped as a whole on every change.
#[derive(Debug)]
pub struct Routing {
    pub status: StreamStatus,
    /// Open shards sorted by starting hash key: `(start, end, shard index)`.
    pub open: Vec<(u128, u128, u32)>,
    pub max_record_bytes: usize,
    /// Every shard, open or closed, by index: what GetRecords needs without touching metadata.
    pub shards: HashMap<u32, ShardRoute>,
    pub retention_hours: u32,
    pub created_millis: i64,
    pub on_demand: bool,
    /// Whether AWS's per-shard limits apply to this stream (on unless the service has them off
    /// or the stream carries the tag `weir:throughput-limits=off`).
    pub throttled: bool,
}

impl Routing {
    fn of(meta: &StreamMeta) -> Self {
        let mut open: Vec<(u128, u128, u32)> = meta
            .shards
            .iter()
            .filter(|s| s.is_open())
            .map(|s| {
                let r = s.range();
                (r.start, r.end, s.index)
            })
            .collect();
        open.sort_unstable();
        let shards = meta
            .shards
            .iter()
            .map(|s| {
                let children = if s.is_open() {
                    Vec::new()
                } else {
                    crate::data::children_of(&meta.shards, s)
                };
                (
                    s.index,
                    ShardRoute {
                        closed_end_offset: s.closed_end_offset,
                        children: Arc::new(children),
                    },
                )
            })
            .collect();
        Self {
            status: meta.status,
            open,
            shards,
            retention_hours: meta.retention_hours,
            created_millis: meta.created_millis,
            on_demand: meta.mode == StreamMode::OnDemand,
            max_record_bytes: meta.max_record_size_kib as usize * 1024,
            throttled: meta.tags.get(THROUGHPUT_LIMITS_TAG).map(String::as_str) != Some("off"),
        }
    }

    /// The open shard whose range holds `key`.
    pub fn route(&self, key: HashKey) -> Option<u32> {
        let i = self.open.partition_point(|&(start, _, _)| start <= key.0);
        let &(start, end, index) = self.open.get(i.checked_sub(1)?)?;
        (start <= key.0 && key.0 <= end).then_some(index)
    }
}

/// A shard as the read path sees it.
#[derive(Debug, Clone)]
pub struct ShardRoute {
    pub closed_end_offset: Option<u64>,
    /// For a closed shard, the children GetRecords reports at its end.
    pub children: Arc<Vec<crate::data::ChildShard>>,
}

/// One stream incarnation in memory.
pub struct Stream {
    pub uid: u64,
    pub name: String,
    state: Mutex<(StreamMeta, u64)>,
    routing: RwLock<Arc<Routing>>,
    /// Writes per shard since the autoscaler last looked (on-demand streams only).
    pub(crate) load: Mutex<HashMap<u32, crate::autoscale::ShardLoad>>,
}

impl Stream {
    fn new(meta: StreamMeta, version: u64) -> Self {
        Self {
            uid: meta.uid,
            name: meta.name.clone(),
            routing: RwLock::new(Arc::new(Routing::of(&meta))),
            state: Mutex::new((meta, version)),
            load: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an append for the on-demand autoscaler.
    pub(crate) fn note_writes(
        &self,
        routing: &Routing,
        shard: u32,
        records: usize,
        bytes: usize,
        keys: (u128, u128),
    ) {
        if routing.on_demand {
            let mut load = self.load.lock();
            let l = load.entry(shard).or_insert(crate::autoscale::ShardLoad {
                min_key: u128::MAX,
                ..Default::default()
            });
            l.records += records as u64;
            l.bytes += bytes as u64;
            l.min_key = l.min_key.min(keys.0);
            l.max_key = l.max_key.max(keys.1);
        }
    }
    pub fn meta(&self) -> StreamMeta {
        self.state.lock().0.clone()
    }
    pub fn routing(&self) -> Arc<Routing> {
        self.routing.read().clone()
    }
}

/// How a request names a stream: by name, by ARN, or both (which must agree).
#[derive(Debug, Clone, Default)]
pub struct StreamRef {
    pub name: Option<String>,
    pub arn: Option<String>,
}

impl StreamRef {
    pub fn name(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            arn: None,
        }
    }
}

pub(crate) struct Inner {
    pub store: Arc<dyn StreamStore>,
    pub meta: Arc<dyn MetadataStore>,
    pub clock: Arc<dyn Clock>,
    pub config: ServiceConfig,
    pub iterators: IteratorCodec,
    pub throttle: crate::throttle::Throttle,
    streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    by_uid: RwLock<HashMap<u64, Arc<Stream>>>,
    next_uid: Mutex<u64>,
    pub account: Mutex<AccountSettings>,
    pub consumers: crate::consumers::Consumers,
}

/// The Kinesis stream service. Cheap to clone.
#[derive(Clone)]
pub struct StreamService {
    pub(crate) inner: Arc<Inner>,
}

/// What [`StreamService::open`] did at start-up.
#[derive(Debug, Default, Clone)]
pub struct OpenReport {
    pub streams: usize,
    pub finished_deletions: usize,
    pub removed_orphans: usize,
}

impl StreamService {
    /// Loads every stream from the metadata store, finishes what a crash interrupted (streams left
    /// CREATING become ACTIVE, DELETING ones are removed) and drops shard data no stream owns.
    pub fn open(
        store: Arc<dyn StreamStore>,
        meta: Arc<dyn MetadataStore>,
        clock: Arc<dyn Clock>,
        config: ServiceConfig,
    ) -> Result<(Self, OpenReport)> {
        let key = load_or_create_iterator_key(meta.as_ref())?;
        let next_uid = match meta.get(NODE, NEXT_UID)? {
            Some(v) => parse_json::<u64>(&v.value)?,
            None => 1,
        };
        let account = match meta.get(NODE, ACCOUNT)? {
            Some(v) => parse_json(&v.value)?,
            None => AccountSettings::default(),
        };
        let throughput_limits = config.throughput_limits;
        let inner = Arc::new(Inner {
            store,
            meta,
            clock,
            config,
            iterators: IteratorCodec::new(key),
            throttle: crate::throttle::Throttle::new(throughput_limits),
            streams: RwLock::new(BTreeMap::new()),
            by_uid: RwLock::new(HashMap::new()),
            next_uid: Mutex::new(next_uid),
            account: Mutex::new(account),
            consumers: Default::default(),
        });
        let svc = Self { inner };
        let report = svc.recover()?;
        svc.load_consumers()?;
        Ok((svc, report))
    }

    fn recover(&self) -> Result<OpenReport> {
        let mut report = OpenReport::default();
        let inner = &self.inner;
        for (name, v) in inner.meta.list(STREAMS)? {
            let mut meta: StreamMeta = parse_json(&v.value)?;
            let mut version = v.version;
            match meta.status {
                StreamStatus::Deleting => {
                    inner.store.delete_stream(meta.uid)?;
                    inner.meta.transact(vec![MetaOp::Delete {
                        table: STREAMS.into(),
                        key: name,
                        expect: Expect::Version(version),
                    }])?;
                    report.finished_deletions += 1;
                    continue;
                }
                StreamStatus::Creating | StreamStatus::Updating => {
                    meta.status = StreamStatus::Active;
                    version = write_stream(inner.meta.as_ref(), &meta, Expect::Version(version))?;
                }
                StreamStatus::Active => {}
            }
            let mut clamped = false;
            for s in &mut meta.shards {
                let key = ShardKey {
                    stream: meta.uid,
                    shard: s.index,
                };
                inner.store.create_shard(key)?;
                if let Some(end) = s.closed_end_offset {
                    // A closed shard ends where its records end: with `interval`/`none`
                    // durability a crash may have taken unsynced records from its tail.
                    let stored = inner.store.bounds(key)?.end_offset;
                    if stored < end {
                        s.closed_end_offset = Some(stored);
                        clamped = true;
                    }
                    inner.store.seal(key)?;
                }
            }
            if clamped {
                version = write_stream(inner.meta.as_ref(), &meta, Expect::Version(version))?;
            }
            self.publish(Arc::new(Stream::new(meta, version)));
            report.streams += 1;
        }
        let live: std::collections::HashSet<u64> = inner.by_uid.read().keys().copied().collect();
        let mut orphans: Vec<u64> = inner
            .store
            .shards()
            .into_iter()
            .map(|k| k.stream)
            .filter(|uid| !live.contains(uid))
            .collect();
        orphans.sort_unstable();
        orphans.dedup();
        for uid in orphans {
            inner.store.delete_stream(uid)?;
            report.removed_orphans += 1;
        }
        Ok(report)
    }

    fn publish(&self, stream: Arc<Stream>) {
        self.inner.by_uid.write().insert(stream.uid, stream.clone());
        self.inner
            .streams
            .write()
            .insert(stream.name.clone(), stream);
    }

    fn unpublish(&self, stream: &Stream) {
        self.inner.by_uid.write().remove(&stream.uid);
        let mut streams = self.inner.streams.write();
        if streams
            .get(&stream.name)
            .is_some_and(|s| s.uid == stream.uid)
        {
            streams.remove(&stream.name);
        }
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    pub fn now_millis(&self) -> i64 {
        self.inner.clock.now_millis()
    }

    pub fn store(&self) -> &Arc<dyn StreamStore> {
        &self.inner.store
    }

    pub fn stream_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{}",
            self.inner.config.region, self.inner.config.account_id, name
        )
    }

    /// The stream name an ARN of this account and region names, if it is one.
    pub fn parse_stream_arn(&self, arn: &str) -> Option<String> {
        let rest = arn.strip_prefix("arn:")?;
        let mut parts = rest.splitn(6, ':');
        let partition = parts.next()?;
        let service = parts.next()?;
        let _region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        if !partition.starts_with("aws") || service != "kinesis" {
            return None;
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let name = resource.strip_prefix("stream/")?;
        if name.is_empty() || name.contains('/') {
            return None;
        }
        Some(name.to_string())
    }

    pub(crate) fn not_found(&self, name: &str) -> Error {
        Error::ResourceNotFound(format!(
            "Stream {name} under account {} not found.",
            self.inner.config.account_id
        ))
    }

    /// Resolves a [`StreamRef`] to its name, checking that name and ARN agree and that the ARN
    /// is of this region and account (another's stream does not exist here).
    pub fn resolve_name(&self, r: &StreamRef) -> Result<String> {
        match (&r.name, &r.arn) {
            (Some(name), None) => Ok(name.clone()),
            (name, Some(arn)) => {
                let from_arn = self.parse_stream_arn(arn).ok_or_else(|| {
                    Error::InvalidArgument(format!("StreamARN {arn} is not a valid stream ARN."))
                })?;
                let mut parts = arn.splitn(6, ':').skip(3);
                let (region, account) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                if region != self.inner.config.region || account != self.inner.config.account_id {
                    return Err(Error::ResourceNotFound(format!(
                        "Stream {from_arn} under account {account} not found."
                    )));
                }
                if let Some(name) = name {
                    if *name != from_arn {
                        return Err(Error::InvalidArgument(format!(
                            "StreamARN {arn} does not match StreamName {name}."
                        )));
                    }
                }
                Ok(from_arn)
            }
            (None, None) => Err(Error::InvalidArgument(
                "Either StreamName or StreamARN must be provided.".into(),
            )),
        }
    }

    /// The live stream a reference names, in any status.
    pub fn stream(&self, r: &StreamRef) -> Result<Arc<Stream>> {
        let name = self.resolve_name(r)?;
        self.stream_by_name(&name)
    }

    pub fn stream_by_name(&self, name: &str) -> Result<Arc<Stream>> {
        self.inner
            .streams
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    pub(crate) fn stream_by_uid(&self, uid: u64) -> Option<Arc<Stream>> {
        self.inner.by_uid.read().get(&uid).cloned()
    }

    pub(crate) fn all_streams(&self) -> Vec<Arc<Stream>> {
        self.inner.streams.read().values().cloned().collect()
    }

    /// Applies `change` to a copy of the stream's metadata, writes it with compare-and-set, then
    /// publishes it. `change` may refuse with an error, leaving everything as it was.
    pub fn update_stream<T>(
        &self,
        stream: &Stream,
        change: impl FnOnce(&mut StreamMeta) -> Result<T>,
    ) -> Result<T> {
        let mut state = stream.state.lock();
        let mut meta = state.0.clone();
        let out = change(&mut meta)?;
        if meta != state.0 {
            let version = write_stream(self.inner.meta.as_ref(), &meta, Expect::Version(state.1))?;
            *stream.routing.write() = Arc::new(Routing::of(&meta));
            *state = (meta, version);
        }
        Ok(out)
    }

    /// Creates a stream record (status CREATING) and its shards; ACTIVE after `creating_delay`.
    pub(crate) fn insert_stream(
        &self,
        build: impl FnOnce(u64) -> StreamMeta,
    ) -> Result<Arc<Stream>> {
        let mut next_uid = self.inner.next_uid.lock();
        let uid = *next_uid;
        let meta = build(uid);
        if self.inner.streams.read().contains_key(&meta.name) {
            return Err(self.in_use_exists(&meta.name));
        }
        for s in &meta.shards {
            self.inner.store.create_shard(ShardKey {
                stream: uid,
                shard: s.index,
            })?;
        }
        let ops = vec![
            MetaOp::Put {
                table: STREAMS.into(),
                key: meta.name.clone(),
                value: to_json(&meta),
                expect: Expect::Absent,
            },
            MetaOp::Put {
                table: NODE.into(),
                key: NEXT_UID.into(),
                value: to_json(&(uid + 1)),
                expect: Expect::Any,
            },
        ];
        match self.inner.meta.transact(ops) {
            Ok(()) => {}
            Err(weir_storage::Error::Conflict { .. }) => return Err(self.in_use_exists(&meta.name)),
            Err(e) => return Err(e.into()),
        }
        *next_uid = uid + 1;
        drop(next_uid);
        let version = stored_version(self.inner.meta.as_ref(), &meta.name)?;
        let stream = Arc::new(Stream::new(meta, version));
        self.publish(stream.clone());
        Ok(stream)
    }

    pub(crate) fn in_use_exists(&self, name: &str) -> Error {
        Error::ResourceInUse(format!(
            "Stream {name} under account {} already exists.",
            self.inner.config.account_id
        ))
    }

    /// Moves a stream from `from` to `to` after `delay`, unless its status changed meanwhile.
    pub(crate) fn settle_status_later(
        &self,
        stream: Arc<Stream>,
        from: StreamStatus,
        to: StreamStatus,
        delay: Duration,
    ) {
        let settle = move |svc: &StreamService| {
            let result = svc.update_stream(&stream, |m| {
                if m.status == from {
                    m.status = to;
                }
                Ok(())
            });
            if let Err(e) = result {
                tracing::warn!(stream = %stream.name, error = %e, "could not settle stream status");
            }
        };
        if delay.is_zero() {
            settle(self);
            return;
        }
        let svc = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            settle(&svc);
        });
    }

    /// Finishes a deletion: metadata, memory, then records.
    pub(crate) fn remove_stream_later(&self, stream: Arc<Stream>, delay: Duration) {
        if delay.is_zero() {
            if let Err(e) = self.remove_stream_now(&stream) {
                tracing::error!(stream = %stream.name, error = %e, "could not delete stream");
            }
            return;
        }
        let svc = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(e) = svc.remove_stream_now(&stream) {
                tracing::error!(stream = %stream.name, error = %e, "could not finish deleting stream");
            }
        });
    }

    pub(crate) fn remove_stream_now(&self, stream: &Stream) -> Result<()> {
        let version = stream.state.lock().1;
        self.inner.meta.transact(vec![MetaOp::Delete {
            table: STREAMS.into(),
            key: stream.name.clone(),
            expect: Expect::Version(version),
        }])?;
        self.unpublish(stream);
        self.forget_consumers(stream.uid);
        self.inner.throttle.forget_stream(stream.uid);
        self.inner.store.delete_stream(stream.uid)?;
        Ok(())
    }

    pub(crate) fn save_account(&self, settings: &AccountSettings) -> Result<()> {
        self.inner.meta.transact(vec![MetaOp::Put {
            table: NODE.into(),
            key: ACCOUNT.into(),
            value: to_json(settings),
            expect: Expect::Any,
        }])?;
        Ok(())
    }

    pub(crate) fn shard_key(stream: &Stream, shard: u32) -> ShardKey {
        ShardKey {
            stream: stream.uid,
            shard,
        }
    }

    /// The shard a request names, or AWS's ResourceNotFoundException.
    pub(crate) fn find_shard(
        &self,
        stream: &Stream,
        meta: &StreamMeta,
        shard_id: &str,
    ) -> Result<ShardMeta> {
        ShardId::parse(shard_id)
            .and_then(|id| meta.shard(id.0).cloned())
            .ok_or_else(|| self.shard_not_found(&stream.name, shard_id))
    }

    /// AWS's two wordings: an id it cannot parse, or a well-formed id no shard has.
    pub(crate) fn shard_not_found(&self, stream: &str, shard_id: &str) -> Error {
        let account = &self.inner.config.account_id;
        Error::ResourceNotFound(match ShardId::parse(shard_id) {
            None => format!(
                "Could not find shard {shard_id} in stream {stream} under account {account}."
            ),
            Some(id) => {
                format!("Shard {id} in stream {stream} under account {account} does not exist")
            }
        })
    }

    pub(crate) fn mode_counts(&self) -> (usize, usize) {
        let streams = self.all_streams();
        let mut open_shards = 0;
        let mut on_demand = 0;
        for s in streams {
            let m = s.state.lock();
            open_shards += m.0.open_shard_count();
            if m.0.mode == StreamMode::OnDemand {
                on_demand += 1;
            }
        }
        (open_shards, on_demand)
    }
}

/// The version the metadata store holds for a stream (versions are store-wide revisions, so the
/// only way to know the new one is to read it back; every write of a stream holds its lock).
fn stored_version(meta: &dyn MetadataStore, name: &str) -> Result<u64> {
    meta.get(STREAMS, name)?
        .map(|v| v.version)
        .ok_or_else(|| Error::Internal(format!("stream {name} vanished from the metadata store")))
}

/// Writes a stream's record and returns its new version.
fn write_stream(meta: &dyn MetadataStore, stream: &StreamMeta, expect: Expect) -> Result<u64> {
    meta.transact(vec![MetaOp::Put {
        table: STREAMS.into(),
        key: stream.name.clone(),
        value: to_json(stream),
        expect,
    }])
    .map_err(|e| match e {
        weir_storage::Error::Conflict { .. } => Error::ResourceInUse(format!(
            "Stream {} was modified concurrently; retry the request.",
            stream.name
        )),
        e => e.into(),
    })?;
    stored_version(meta, &stream.name)
}

fn load_or_create_iterator_key(meta: &dyn MetadataStore) -> Result<[u8; 32]> {
    if let Some(v) = meta.get(NODE, ITERATOR_KEY)? {
        if let Ok(k) = <[u8; 32]>::try_from(v.value.as_slice()) {
            return Ok(k);
        }
    }
    let key: [u8; 32] = rand::random();
    meta.transact(vec![MetaOp::Put {
        table: NODE.into(),
        key: ITERATOR_KEY.into(),
        value: key.to_vec(),
        expect: Expect::Any,
    }])?;
    Ok(key)
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("metadata types always serialize")
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Internal(format!("corrupt metadata record: {e}")))
}
