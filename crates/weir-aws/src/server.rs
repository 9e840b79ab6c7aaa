//! The HTTP listener: HTTP/1.1 and HTTP/2 (prior knowledge) on one port, every AWS API behind it.
//!
//! Each request is handled in its own task, so a panic in an operation becomes a 500 for that
//! request only, and a client that disconnects mid-request never cancels a write half-way.
//! Connection and request-byte limits and the slow-client timeouts live in [`crate::admission`].

use crate::admission::{self, Activity, Admission, BodyError, GuardedBody, Tracked};
use crate::codec::{self, Encoding};
use crate::error::ApiError;
use crate::{auth, kinesis};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::Instrument;
use weir_core::limits::MAX_REQUEST_BODY_BYTES;
use weir_streams::StreamService;

/// Everything a request handler needs.
pub struct Router {
    pub streams: StreamService,
    pub max_body_bytes: usize,
    /// What the operations record and `/metrics` and CloudWatch read.
    pub metrics: Arc<crate::metering::Metrics>,
    /// Connection, request-byte and timeout limits.
    pub admission: Arc<Admission>,
    /// The Glue Data Catalog (`AWSGlue.*`), when served (see [`Router::with_glue`]).
    pub glue: Option<Arc<weir_formats::Catalog>>,
}

impl Router {
    pub fn new(streams: StreamService) -> Self {
        Self {
            streams,
            max_body_bytes: MAX_REQUEST_BODY_BYTES,
            metrics: Arc::default(),
            admission: Arc::new(Admission::new(admission::Limits::default())),
            glue: None,
        }
    }

    /// The same router under other listener limits.
    pub fn with_limits(mut self, limits: admission::Limits) -> Self {
        self.admission = Arc::new(Admission::new(limits));
        self
    }
}

/// Every response body: whole (`full`) or streamed (SubscribeToShard's event stream).
pub type Body = BoxBody<Bytes, std::convert::Infallible>;

/// A whole response body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// Accepts connections until `shutdown` resolves, then lets open connections finish for up to
/// `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    accept_loop(listener, None, router, shutdown, grace).await
}

/// Like [`serve`], but every connection first completes a TLS handshake (see [`crate::tls`]);
/// HTTP/1.1 or HTTP/2 is then told apart on the decrypted bytes, whatever ALPN said.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    accept_loop(listener, Some(acceptor), router, shutdown, grace).await
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limits = router.admission.limits.clone();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(admission::MAX_CONCURRENT_STREAMS)
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20));
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Over the connection limit: close at once rather than let it wait unread.
        let Some(slot) = router.admission.connection() else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let service = {
            let router = router.clone();
            let activity = activity.clone();
            service_fn(move |req| {
                let router = router.clone();
                let guard = activity.begin();
                async move {
                    let resp = handle(router, req, peer).await;
                    Ok::<_, std::convert::Infallible>(resp.map(|b| GuardedBody::new(b, guard)))
                }
            })
        };
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let router = router.clone();
        match tls.clone() {
            None => {
                let io = TokioIo::new(Tracked::new(stream, activity.clone()));
                let conn = watcher.watch(builder.serve_connection(io, service).into_owned());
                tokio::spawn(async move {
                    let _slot = slot;
                    if let Err(e) = until_idle(conn, &activity, &router).await {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                // The handshake runs in the connection's task: a slow client never holds up
                // the accept loop.
                tokio::spawn(async move {
                    let _slot = slot;
                    let tls = match tokio::time::timeout(
                        crate::tls::HANDSHAKE_TIMEOUT,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, %peer, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let io = TokioIo::new(Tracked::new(tls, activity.clone()));
                    let conn = watcher.watch(builder.serve_connection(io, service).into_owned());
                    if let Err(e) = until_idle(conn, &activity, &router).await {
                        tracing::debug!(error = %e, %peer, "TLS connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!("grace period over; closing remaining connections");
        }
    }
    Ok(())
}

/// Drives a connection until it ends, or closes it once it has sat idle past its limit (see
/// [`Activity::expired`]).
async fn until_idle<F, E>(conn: F, activity: &Activity, router: &Router) -> Result<(), E>
where
    F: Future<Output = Result<(), E>>,
{
    let limits = &router.admission.limits;
    let tick = (limits.header_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    tokio::pin!(conn);
    loop {
        tokio::select! {
            r = &mut conn => return r,
            _ = tokio::time::sleep(tick) => {
                if activity.expired(limits) {
                    router
                        .admission
                        .counters
                        .connections_idle_closed
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::debug!("closing an idle connection");
                    return Ok(());
                }
            }
        }
    }
}

async fn handle(router: Arc<Router>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("request", request_id = %request_id, %peer);
    let mut resp = route(router, req).instrument(span).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

async fn route(router: Arc<Router>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    if req.method() == Method::GET && path == "/health" {
        return plain(StatusCode::OK, "text/plain", "ok\n");
    }
    // Listening at all means recovery is done; ready also means writes are accepted.
    if req.method() == Method::GET && path == "/ready" {
        return match router.streams.store().write_health().refusing {
            None => plain(StatusCode::OK, "text/plain", "ok\n"),
            Some(_) => plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "refusing writes: low disk space\n",
            ),
        };
    }
    if req.method() == Method::GET && path == "/metrics" {
        let mut text = router.metrics.prometheus_text(&router.streams);
        crate::admission::render_metrics(&mut text, &router);
        let mut resp = Response::new(full(text));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(weir_metrics::prometheus::CONTENT_TYPE),
        );
        return resp;
    }
    if let Some(protocol) = crate::cloudwatch::protocol_of(&req) {
        return match crate::cloudwatch::handle(&router, protocol, req).await {
            Some(resp) => resp.map(full),
            None => access_denied_xml(),
        };
    }
    if req.method() != Method::POST {
        return access_denied_xml();
    }
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let Some(enc) = Encoding::from_content_type(content_type) else {
        return match &target {
            Some(t) if t.contains('.') => plain(
                StatusCode::NOT_FOUND,
                "application/xml",
                "<UnknownOperationException/>\n",
            ),
            _ => access_denied_xml(),
        };
    };
    let declared_len = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > router.max_body_bytes as u64) {
        return too_large(enc, router.max_body_bytes);
    }
    let (parts, body) = req.into_parts();
    let data_op = target.as_deref().is_some_and(|t| {
        t.ends_with(".PutRecord")
            || t.ends_with(".PutRecords")
            || t.ends_with(".GetRecords")
            || t.ends_with(".SubscribeToShard")
    });
    // Held until the answer is built: the body's bytes count as in flight until then.
    let (body, _inflight) = match router
        .admission
        .read_body(body, declared_len, router.max_body_bytes, data_op)
        .await
    {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(enc, router.max_body_bytes),
        Err(BodyError::Malformed) => return error_response(enc, &ApiError::serialization("")),
        Err(BodyError::Throttled(e)) => return error_response(enc, &e),
        Err(BodyError::Timeout(d)) => {
            return error_response(
                enc,
                &ApiError::new(
                    "RequestTimeoutException",
                    format!(
                        "The request body was not received within {} ms.",
                        d.as_millis()
                    ),
                ),
            )
        }
    };
    if let Some(op) = target.as_deref().and_then(|t| t.strip_prefix("AWSGlue.")) {
        let (headers, query) = (&parts.headers, parts.uri.query());
        return crate::glue::respond(&router, op, enc, headers, query, body).await;
    }
    let op = match target.as_deref().and_then(|t| t.split_once('.')) {
        Some((kinesis::TARGET_PREFIX, op)) if kinesis::is_operation(op) => op.to_string(),
        _ => return error_response(enc, &ApiError::new("UnknownOperationException", "")),
    };
    if body.is_empty() {
        return error_response(enc, &ApiError::serialization(""));
    }
    if let Err(e) = auth::check(&parts.headers, parts.uri.query()) {
        return error_response(enc, &e);
    }
    if op == kinesis::SUBSCRIBE_TO_SHARD {
        return match kinesis::ops::subscribe_to_shard::respond(&router.streams, enc, &body).await {
            Ok(resp) => resp,
            Err(e) => error_response(enc, &e),
        };
    }
    // Run the operation in its own task: a panic becomes a 500 and a vanished client does not
    // cancel it half-way.
    let recorder = router.metrics.clone();
    let task = tokio::spawn(
        crate::metering::scope(recorder, async move {
            kinesis::dispatch(&router.streams, &op, enc, &body).await
        })
        .in_current_span(),
    );
    match task.await {
        Ok(Ok(bytes)) => {
            let mut resp = Response::new(full(bytes));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(enc.content_type()),
            );
            resp
        }
        Ok(Err(e)) => error_response(enc, &e),
        Err(join) => {
            tracing::error!(error = %join, "operation panicked");
            error_response(enc, &ApiError::internal(""))
        }
    }
}

pub fn error_response(enc: Encoding, e: &ApiError) -> Response<Body> {
    let mut resp = Response::new(full(codec::encode_error(enc, e)));
    *resp.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(enc.content_type()),
    );
    h.insert("x-amzn-errortype", HeaderValue::from_static(e.code));
    resp
}

fn too_large(enc: Encoding, max: usize) -> Response<Body> {
    let mut resp = error_response(
        enc,
        &ApiError::serialization(format!(
            "Request body is larger than the maximum of {max} bytes."
        )),
    );
    *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    resp
}

fn plain(status: StatusCode, content_type: &'static str, body: &'static str) -> Response<Body> {
    let mut resp = Response::new(full(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    resp
}

fn access_denied_xml() -> Response<Body> {
    plain(
        StatusCode::FORBIDDEN,
        "application/xml",
        "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n",
    )
}
