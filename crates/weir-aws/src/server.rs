//! The HTTP listener: HTTP/1.1 and HTTP/2 (prior knowledge) on one port, every AWS API behind it.
//!
//! Each request is handled in its own task, so a panic in an operation becomes a 500 for that
//! request only, and a client that disconnects mid-request never cancels a write half-way.
//! Connection and request-byte limits and the slow-client timeouts live in [`crate::admission`].

use crate::admission::{self, Activity, Admission, BodyError, GuardedBody, Tracked};
use crate::codec::{self, Encoding};
use crate::error::ApiError;
use crate::{auth, firehose, kinesis};
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
    /// Functions and event-source mappings (the Lambda API); None answers it with an error.
    pub functions: Option<weir_functions::FunctionService>,
    pub mappings: Option<weir_functions::mappings::EventSourceMappings>,
    /// Schedule rules (the EventBridge API).
    pub schedules: Option<weir_functions::schedules::Schedules>,
    /// Object triggers (S3 bucket notification configuration).
    pub triggers: Option<weir_functions::triggers::ObjectTriggers>,
    /// The Firehose service (`Firehose_20150804.*`); without it those targets are unknown.
    pub delivery: Option<weir_delivery::DeliveryService>,
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
            functions: None,
            mappings: None,
            schedules: None,
            triggers: None,
            delivery: None,
            glue: None,
        }
    }

    /// The same router with the Firehose front end; `metrics` is the table its pipelines
    /// record into, which CloudWatch serves as `AWS/Firehose`.
    pub fn with_delivery(
        mut self,
        delivery: weir_delivery::DeliveryService,
        metrics: Arc<weir_metrics::Table<weir_metrics::FirehoseMetric>>,
    ) -> Self {
        self.delivery = Some(delivery);
        Arc::get_mut(&mut self.metrics)
            .expect("with_delivery is called while the router is built, before it is shared")
            .firehose = metrics;
        self
    }

    /// The same router with functions and event-source mappings behind the Lambda API.
    pub fn with_functions(
        mut self,
        functions: weir_functions::FunctionService,
        mappings: weir_functions::mappings::EventSourceMappings,
    ) -> Self {
        self.functions = Some(functions);
        self.mappings = Some(mappings);
        self
    }

    /// The same router with schedule rules behind the EventBridge API.
    pub fn with_schedules(mut self, schedules: weir_functions::schedules::Schedules) -> Self {
        self.schedules = Some(schedules);
        self
    }

    /// The same router with object triggers behind S3's bucket notification configuration.
    pub fn with_triggers(mut self, triggers: weir_functions::triggers::ObjectTriggers) -> Self {
        self.triggers = Some(triggers);
        self
    }

    /// Every CloudWatch namespace weir publishes, by name, after dropping the series of
    /// streams and delivery streams that no longer exist (a function's go when it is deleted)
    /// — what CloudWatch's operations and `/metrics` read.
    pub fn namespaces(&self) -> Vec<&dyn weir_metrics::Namespace> {
        self.metrics.forget_deleted(&self.streams);
        let mut out: Vec<&dyn weir_metrics::Namespace> = Vec::with_capacity(3);
        if let Some(d) = &self.delivery {
            let names: std::collections::HashSet<String> = d.names().into_iter().collect();
            self.metrics.firehose.retain(|n| names.contains(n));
        }
        out.push(&*self.metrics.firehose);
        out.push(&self.metrics.registry);
        if let Some(f) = &self.functions {
            // A deleted function's series are dropped by FunctionService::delete.
            out.push(f.metrics().table());
        }
        out
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
    let builder = Arc::new(connection_builder(&router.admission.limits));
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
        let service = connection_service(router.clone(), peer, activity.clone());
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

/// HTTP/1.1 and HTTP/2 (told apart by the client's first bytes) under the listener's limits.
/// A client that closes its side ends the connection (no half-close): that is how a dropped
/// SubscribeToShard or long request is noticed while the server has nothing to write.
pub(crate) fn connection_builder(limits: &admission::Limits) -> auto::Builder<TokioExecutor> {
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
    builder
}

/// The per-connection request handler: every request is routed, and counts as activity on the
/// connection until its response body has been sent.
pub(crate) fn connection_service(
    router: Arc<Router>,
    peer: SocketAddr,
    activity: Arc<Activity>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<GuardedBody>,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<Response<GuardedBody>, std::convert::Infallible>>
                 + Send
                 + 'static,
> + Clone {
    service_fn(move |req| {
        let router = router.clone();
        let guard = activity.begin();
        async move {
            let resp = handle(router, req, peer).await;
            Ok::<_, std::convert::Infallible>(resp.map(|b| GuardedBody::new(b, guard)))
        }
    })
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
    // An operation may have its own request id: Invoke answers with the invocation's, the one
    // the handler saw as `context.awsRequestId`.
    if !h.contains_key("x-amzn-requestid") {
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert("x-amzn-requestid", v);
        }
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
        let mut text = router.metrics.prometheus_text(&router.namespaces());
        crate::admission::render_metrics(&mut text, &router);
        crate::lambda::render_metrics(&mut text, &router);
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
    if crate::lambda::matches(path) {
        return crate::lambda::handle(router, req).await;
    }
    if crate::s3_notifications::matches(&req) {
        return crate::s3_notifications::handle(router, req).await;
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
            || t.ends_with(".PutRecordBatch")
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
    if let Some((crate::events::TARGET_PREFIX, op)) =
        target.as_deref().and_then(|t| t.split_once('.'))
    {
        return match (&router.schedules, crate::events::is_operation(op)) {
            (Some(s), true) => match crate::events::dispatch(s, op, &body) {
                Ok(v) => {
                    let mut resp = Response::new(full(serde_json::to_vec(&v).unwrap_or_default()));
                    resp.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static(enc.content_type()),
                    );
                    resp
                }
                Err(e) => error_response(enc, &e),
            },
            _ => error_response(enc, &ApiError::new("UnknownOperationException", "")),
        };
    }
    if let Some(op) = target.as_deref().and_then(|t| t.strip_prefix("AWSGlue.")) {
        let (headers, query) = (&parts.headers, parts.uri.query());
        return crate::glue::respond(&router, op, enc, headers, query, body).await;
    }
    let (service, op) = match target.as_deref().and_then(|t| t.split_once('.')) {
        Some((kinesis::TARGET_PREFIX, op)) if kinesis::is_operation(op) => {
            (Service::Kinesis, op.to_string())
        }
        Some((firehose::TARGET_PREFIX, op))
            if router.delivery.is_some() && firehose::is_operation(op) =>
        {
            (Service::Firehose, op.to_string())
        }
        _ => return error_response(enc, &ApiError::new("UnknownOperationException", "")),
    };
    if body.is_empty() {
        return error_response(enc, &ApiError::serialization(""));
    }
    if let Err(e) = auth::check(&parts.headers, parts.uri.query()) {
        return error_response(enc, &e);
    }
    if service == Service::Firehose {
        let Some(delivery) = router.delivery.clone() else {
            return error_response(enc, &ApiError::new("UnknownOperationException", ""));
        };
        let answer = isolated(&router.admission.counters, async move {
            firehose::dispatch(&delivery, &op, enc, &body).await
        })
        .await;
        return respond(enc, answer);
    }
    if op == kinesis::SUBSCRIBE_TO_SHARD {
        return match kinesis::ops::subscribe_to_shard::respond(&router.streams, enc, &body).await {
            Ok(resp) => resp,
            Err(e) => error_response(enc, &e),
        };
    }
    let recorder = router.metrics.clone();
    let counters = router.clone();
    let answer = isolated(
        &counters.admission.counters,
        crate::metering::scope(recorder, async move {
            kinesis::dispatch(&router.streams, &op, enc, &body).await
        }),
    )
    .await;
    respond(enc, answer)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Kinesis,
    Firehose,
}

/// An operation's outcome as a response.
fn respond(enc: Encoding, answer: Result<Vec<u8>, ApiError>) -> Response<Body> {
    match answer {
        Ok(bytes) => {
            let mut resp = Response::new(full(bytes));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(enc.content_type()),
            );
            resp
        }
        Err(e) => error_response(enc, &e),
    }
}

/// Runs an operation in its own task, so that a vanished client does not cancel it half-way and a
/// panic in it fails this request only: logged, counted, and answered as an internal error.
pub(crate) async fn isolated<T: Send + 'static>(
    counters: &admission::Counters,
    operation: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::spawn(operation.in_current_span()).await {
        Ok(answer) => answer,
        Err(join) => {
            counters
                .handler_panics
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(error = %join, "operation panicked");
            Err(ApiError::internal(""))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[tokio::test]
    async fn a_panicking_operation_fails_its_request_only_and_is_counted() {
        let counters = admission::Counters::default();
        let answer: Result<(), ApiError> = isolated(&counters, async { panic!("boom") }).await;
        let e = answer.expect_err("a panic is an error");
        assert_eq!(e.code, "InternalFailureException");
        assert_eq!(e.status, 500);
        assert_eq!(counters.handler_panics.load(Ordering::Relaxed), 1);
        let fine = isolated(&counters, async { Ok::<_, ApiError>(7) }).await;
        assert_eq!(fine.expect("a value"), 7);
        assert_eq!(counters.handler_panics.load(Ordering::Relaxed), 1);
    }
}
