//! The HTTP listener: HTTP/1.1 and HTTP/2 (prior knowledge) on one port, every AWS API behind it.
//!
//! Each request is handled in its own task, so a panic in an operation becomes a 500 for that
//! request only, and a client that disconnects mid-request never cancels a write half-way.

use crate::codec::{self, Encoding};
use crate::error::ApiError;
use crate::{auth, kinesis};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use weir_core::limits::MAX_REQUEST_BODY_BYTES;
use weir_streams::StreamService;

/// Everything a request handler needs.
pub struct Router {
    pub streams: StreamService,
    pub max_body_bytes: usize,
    /// What the operations record and `/metrics` and CloudWatch read.
    pub metrics: Arc<crate::metering::Metrics>,
}

impl Router {
    pub fn new(streams: StreamService) -> Self {
        Self {
            streams,
            max_body_bytes: MAX_REQUEST_BODY_BYTES,
            metrics: Arc::default(),
        }
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
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
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
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = service_fn(move |req| {
            let router = router.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(router, req, peer).await) }
        });
        let watcher = graceful.watcher();
        let builder = builder.clone();
        match tls.clone() {
            None => {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let conn = watcher.watch(conn.into_owned());
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                // The handshake runs in the connection's task: a slow client never holds up
                // the accept loop.
                tokio::spawn(async move {
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
                    let conn = builder.serve_connection(TokioIo::new(tls), service);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
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

async fn handle(router: Arc<Router>, req: Request<Incoming>, _peer: SocketAddr) -> Response<Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut resp = route(router, req).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

async fn route(router: Arc<Router>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    if req.method() == Method::GET && (path == "/health" || path == "/ready") {
        return plain(StatusCode::OK, "text/plain", "ok\n");
    }
    if req.method() == Method::GET && path == "/metrics" {
        let text = router.metrics.prometheus_text(&router.streams);
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
    let body = match Limited::new(body, router.max_body_bytes).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return too_large(enc, router.max_body_bytes);
            }
            return error_response(enc, &ApiError::serialization(""));
        }
    };
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
    let task = tokio::spawn(crate::metering::scope(recorder, async move {
        kinesis::dispatch(&router.streams, &op, enc, &body).await
    }));
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
