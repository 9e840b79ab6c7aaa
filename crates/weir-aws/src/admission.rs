//! Admission control for the HTTP listener: what bounds memory and connection slots whatever
//! clients do.
//!
//! * **Connections**: at most [`Limits::max_connections`] are served at once. One over the limit
//!   is accepted and closed at once (the client sees EOF/reset and its SDK retries), so the
//!   accept queue never fills with connections nobody reads and the accept loop never stalls.
//! * **Slow clients**: a connection must send its first request head within
//!   [`Limits::header_timeout`] (hyper's HTTP/1 header timer, which also runs while an HTTP/1
//!   connection waits idle for its next request), a whole request body within
//!   [`Limits::body_timeout`], and a connection with nothing in flight and no bytes moving for
//!   [`Limits::idle_timeout`] is closed (HTTP/2 and connections that never send a byte).
//! * **Request bytes in flight**: every request body holds permits of one global semaphore of
//!   [`Limits::max_inflight_bytes`] from before its first byte is buffered (its Content-Length,
//!   or chunk by chunk when chunked) until its answer is produced. A request that cannot get
//!   its bytes within [`Limits::inflight_wait`] is refused with a throttling error, which the
//!   SDKs retry with back-off, instead of queueing without bound. Per connection, HTTP/1 has one
//!   request at a time and HTTP/2 at most [`MAX_CONCURRENT_STREAMS`] streams with hyper's flow
//!   control windows.

use crate::error::ApiError;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// HTTP/2 streams one connection may have open at once.
pub const MAX_CONCURRENT_STREAMS: u32 = 128;

/// The listener's limits (see the module docs); `weir serve` flags set them.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_inflight_bytes: usize,
    pub inflight_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_inflight_bytes: 512 << 20,
            inflight_wait: Duration::from_secs(1),
        }
    }
}

/// What admission control refused, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    pub connections_refused: AtomicU64,
    pub connections_idle_closed: AtomicU64,
    pub requests_throttled_inflight: AtomicU64,
    pub body_timeouts: AtomicU64,
    /// Operations that panicked (each answered with an internal error; the process lives on).
    pub handler_panics: AtomicU64,
}

/// The shared state of admission control.
#[derive(Debug)]
pub struct Admission {
    pub limits: Limits,
    pub counters: Counters,
    connections: Arc<Semaphore>,
    inflight: Arc<Semaphore>,
}

impl Admission {
    pub fn new(limits: Limits) -> Self {
        let max_bytes = limits.max_inflight_bytes.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            connections: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            inflight: Arc::new(Semaphore::new(max_bytes)),
            limits,
            counters: Counters::default(),
        }
    }

    /// A connection slot, or `None` (counted) when all are taken.
    pub fn connection(&self) -> Option<OwnedSemaphorePermit> {
        match self.connections.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                let n = self
                    .counters
                    .connections_refused
                    .fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() {
                    tracing::warn!(
                        max_connections = self.limits.max_connections,
                        refused_so_far = n + 1,
                        "connection limit reached; closing new connections at once"
                    );
                }
                None
            }
        }
    }

    /// Request bytes currently held by requests in flight.
    pub fn inflight_bytes(&self) -> usize {
        self.limits
            .max_inflight_bytes
            .clamp(1, Semaphore::MAX_PERMITS)
            .saturating_sub(self.inflight.available_permits())
    }

    async fn reserve(
        &self,
        held: &mut Option<OwnedSemaphorePermit>,
        n: usize,
        until: Instant,
    ) -> bool {
        if n == 0 {
            return true;
        }
        let n = n.min(self.limits.max_inflight_bytes).min(u32::MAX as usize) as u32;
        let sem = self.inflight.clone();
        match tokio::time::timeout_at(until.into(), sem.acquire_many_owned(n)).await {
            Ok(Ok(p)) => {
                match held {
                    Some(h) => h.merge(p),
                    None => *held = Some(p),
                }
                true
            }
            _ => false,
        }
    }

    /// Reads a whole request body under the limits: at most `max_body` bytes, within the body
    /// deadline, holding in-flight permits for what it buffers. The permit comes back with the
    /// bytes and must live until the request's answer is built.
    pub async fn read_body(
        &self,
        mut body: Incoming,
        declared: Option<u64>,
        max_body: usize,
        data_op: bool,
    ) -> Result<(Bytes, Option<OwnedSemaphorePermit>), BodyError> {
        let mut permit = None;
        let wait_until = Instant::now() + self.limits.inflight_wait;
        if let Some(n) = declared {
            if !self.reserve(&mut permit, n as usize, wait_until).await {
                return Err(self.throttled(data_op));
            }
        }
        let deadline = tokio::time::Instant::now() + self.limits.body_timeout;
        // One buffer of the declared length; a body that arrives in one frame is not copied.
        let hint = body.size_hint().lower().min(max_body as u64) as usize;
        let mut first: Option<Bytes> = None;
        let mut buf = BytesMut::new();
        loop {
            let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_) => {
                    self.counters.body_timeouts.fetch_add(1, Ordering::Relaxed);
                    return Err(BodyError::Timeout(self.limits.body_timeout));
                }
                Ok(None) => break,
                Ok(Some(Err(_))) => return Err(BodyError::Malformed),
                Ok(Some(Ok(f))) => f,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let have = buf.len() + first.as_ref().map_or(0, Bytes::len);
            if have + data.len() > max_body {
                return Err(BodyError::TooLarge);
            }
            if declared.is_none() {
                let until = Instant::now() + self.limits.inflight_wait;
                if !self.reserve(&mut permit, data.len(), until).await {
                    return Err(self.throttled(data_op));
                }
            }
            match first.take() {
                None if buf.is_empty() => first = Some(data),
                held => {
                    if buf.is_empty() {
                        buf.reserve(hint.max(data.len()));
                    }
                    if let Some(held) = held {
                        buf.extend_from_slice(&held);
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
        Ok((first.unwrap_or_else(|| buf.freeze()), permit))
    }

    fn throttled(&self, data_op: bool) -> BodyError {
        self.counters
            .requests_throttled_inflight
            .fetch_add(1, Ordering::Relaxed);
        BodyError::Throttled(if data_op {
            ApiError::new(
                "ProvisionedThroughputExceededException",
                "Rate exceeded: the server has too many request bytes in flight; retry with back-off.",
            )
        } else {
            ApiError::new(
                "ServiceUnavailableException",
                "The server has too many request bytes in flight; retry with back-off.",
            )
        })
    }
}

/// Why a request body was not read.
#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Timeout(Duration),
    Malformed,
    Throttled(ApiError),
}

/// Milliseconds since the first call, a cheap monotonic clock for activity stamps.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// What the idle watchdog of one connection looks at.
#[derive(Debug, Default)]
pub struct Activity {
    last_ms: AtomicU64,
    /// Requests whose handler or response body is still alive.
    inflight: AtomicUsize,
    requests: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        let a = Arc::new(Self::default());
        a.touch();
        a
    }

    fn touch(&self) {
        self.last_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Marks a request as started; it ends when the guard (moved into the response body) drops.
    pub fn begin(self: &Arc<Self>) -> InflightGuard {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.inflight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        InflightGuard(self.clone())
    }

    /// Requests started so far, and those still in flight.
    pub fn requests(&self) -> (u64, usize) {
        (
            self.requests.load(Ordering::Relaxed),
            self.inflight.load(Ordering::Relaxed),
        )
    }

    /// Whether the connection has been idle past its limit: the header timeout before its first
    /// request, the idle timeout after.
    pub fn expired(&self, limits: &Limits) -> bool {
        if self.inflight.load(Ordering::Relaxed) > 0 {
            return false;
        }
        let limit = if self.requests.load(Ordering::Relaxed) == 0 {
            limits.header_timeout.min(limits.idle_timeout)
        } else {
            limits.idle_timeout
        };
        now_ms().saturating_sub(self.last_ms.load(Ordering::Relaxed)) >= limit.as_millis() as u64
    }
}

#[derive(Debug)]
pub struct InflightGuard(Arc<Activity>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A response body that keeps its request counted as in flight until it is done.
pub struct GuardedBody {
    inner: crate::server::Body,
    _guard: InflightGuard,
}

impl GuardedBody {
    pub fn new(inner: crate::server::Body, guard: InflightGuard) -> Self {
        Self {
            inner,
            _guard: guard,
        }
    }
}

impl hyper::body::Body for GuardedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection's socket, stamping [`Activity`] whenever bytes move.
pub struct Tracked<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    pub fn new(io: T, activity: Arc<Activity>) -> Self {
        Self { io, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Appends the listener's and the store's fault counters to `/metrics` (Prometheus text).
/// They are process-wide, not per stream, so they sit beside the Kinesis metrics table of
/// `weir_metrics::names` rather than in it.
pub fn render_metrics(out: &mut String, router: &crate::server::Router) {
    use std::fmt::Write;
    let c = &router.admission.counters;
    let health = router.streams.store().write_health();
    let rows: [(&str, &str, &str, u64); 10] = [
        (
            "weir_request_handler_panics_total",
            "counter",
            "Operations that panicked; each was answered with InternalFailure and the server kept running.",
            c.handler_panics.load(Ordering::Relaxed),
        ),
        (
            "weir_connections_refused_total",
            "counter",
            "Connections closed at once because --max-connections were open.",
            c.connections_refused.load(Ordering::Relaxed),
        ),
        (
            "weir_connections_idle_closed_total",
            "counter",
            "Connections closed for sending nothing within the header or idle timeout.",
            c.connections_idle_closed.load(Ordering::Relaxed),
        ),
        (
            "weir_requests_throttled_inflight_total",
            "counter",
            "Requests refused because --max-inflight-bytes of request bodies were in flight.",
            c.requests_throttled_inflight.load(Ordering::Relaxed),
        ),
        (
            "weir_request_body_timeouts_total",
            "counter",
            "Requests whose body did not arrive within --body-timeout-ms.",
            c.body_timeouts.load(Ordering::Relaxed),
        ),
        (
            "weir_inflight_request_bytes",
            "gauge",
            "Request body bytes held by requests in flight.",
            router.admission.inflight_bytes() as u64,
        ),
        (
            "weir_storage_write_failures_total",
            "counter",
            "Appends and syncs that failed with an I/O error (ENOSPC, EIO, ...).",
            health.write_failures,
        ),
        (
            "weir_storage_low_space_refusals_total",
            "counter",
            "Appends refused because free disk space was below --min-free-bytes.",
            health.low_space_refusals,
        ),
        (
            "weir_storage_refusing_writes",
            "gauge",
            "1 while writes are refused for low disk space.",
            u64::from(health.refusing.is_some()),
        ),
        (
            "weir_storage_free_bytes",
            "gauge",
            "Available bytes on the data file system at the last check.",
            health.free_bytes.unwrap_or(0),
        ),
    ];
    for (name, ty, help, value) in rows {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {ty}\n{name} {value}"
        );
    }
    let name = "weir_storage_commit_round_milliseconds";
    let _ = writeln!(
        out,
        "# HELP {name} Commit rounds (the syncs that make appends durable) by duration; path=\"segments\" synced the shards' segment files, path=\"log\" wrote and synced the commit log.\n# TYPE {name} histogram"
    );
    for (path, times) in [
        ("segments", &health.segment_rounds),
        ("log", &health.log_rounds),
    ] {
        let mut seen = 0u64;
        for (i, n) in times.counts.iter().enumerate() {
            seen += n;
            let le = weir_storage::log::ROUND_BOUNDS_MS
                .get(i)
                .map_or("+Inf".to_string(), f64::to_string);
            let _ = writeln!(out, "{name}_bucket{{path=\"{path}\",le=\"{le}\"}} {seen}");
        }
        let sum = times.sum_micros as f64 / 1000.0;
        let _ = writeln!(
            out,
            "{name}_sum{{path=\"{path}\"}} {sum}\n{name}_count{{path=\"{path}\"}} {seen}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_connection_expires_after_the_header_timeout_unless_busy() {
        let limits = Limits {
            header_timeout: Duration::ZERO,
            ..Limits::default()
        };
        let a = Activity::new();
        assert!(a.expired(&limits));
        let g = a.begin();
        assert!(!a.expired(&limits));
        drop(g);
        assert!(
            !a.expired(&limits),
            "after a request the idle timeout applies"
        );
    }
}
