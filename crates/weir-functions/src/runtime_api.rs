//! The Lambda Runtime API (`2018-06-01`) for one sandbox, over HTTP/1.1 on a loopback port.
//!
//! `GET /runtime/invocation/next` long-polls the function's queue; `POST …/{id}/response` and
//! `…/{id}/error` answer the invocation the sandbox holds; `POST /runtime/init/error` reports a
//! runtime that could not start. Status codes and headers are the ones the official runtime
//! clients expect (awslambdaric needs `Content-Type: application/json` on `/next`; Go's and
//! Java's accept nothing but 200 from `/next` and 202 from a POST). docs/functions.md compares
//! this API with what each client sends.
//!
//! Two things the clients send that a plain HTTP server gets wrong: an X-Ray error cause header
//! of up to 1 MiB on `…/error` (Go, Java), hence [`MAX_HEAD_BYTES`]; and a chunked
//! `…/response` whose trailers say that the function failed half-way
//! (`Lambda-Runtime-Function-Error-Type` / `-Error-Body`: Go whenever its response reader
//! fails, Node.js for streamed responses), which answers the invocation as an error.

use crate::model::{InvokeOutcome, MAX_SYNC_PAYLOAD_BYTES};
use crate::pool::Pool;
use crate::sandbox::Sandbox;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpListener;

const PREFIX: &str = "/2018-06-01/runtime/";

/// The largest request head read: the clients send `Lambda-Runtime-Function-XRay-Error-Cause`
/// headers of up to 1 MiB (hyper's default buffer, ~400 KB, would refuse them with a 431 and
/// the runtime would exit instead of reporting its error).
const MAX_HEAD_BYTES: usize = 2 * 1024 * 1024;
const ERROR_TYPE: &str = "lambda-runtime-function-error-type";
const ERROR_BODY: &str = "lambda-runtime-function-error-body";

pub(crate) async fn serve(listener: TcpListener, pool: Arc<Pool>, sandbox: Arc<Sandbox>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let pool = pool.clone();
        let sandbox = sandbox.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let pool = pool.clone();
                let sandbox = sandbox.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, &pool, &sandbox).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    pool: &Arc<Pool>,
    sandbox: &Arc<Sandbox>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return error(
            StatusCode::NOT_FOUND,
            "InvalidRequest",
            "unknown Runtime API path",
        );
    };
    match (req.method(), rest) {
        (&Method::GET, "invocation/next") => next(pool, sandbox).await,
        (&Method::POST, "init/error") => {
            let doc = read_body(req).await.map(|b| b.bytes).unwrap_or_default();
            tracing::warn!(function = %sandbox.function.name, "runtime failed to initialise: {}", String::from_utf8_lossy(&doc));
            sandbox.init_failed(doc.to_vec());
            accepted()
        }
        (&Method::POST, rest) => {
            let Some((id, kind)) = rest
                .strip_prefix("invocation/")
                .and_then(|r| r.rsplit_once('/'))
            else {
                return error(
                    StatusCode::NOT_FOUND,
                    "InvalidRequest",
                    "unknown Runtime API path",
                );
            };
            let (id, kind) = (id.to_string(), kind.to_string());
            let error_type = header(req.headers(), ERROR_TYPE);
            let Some(body) = read_body(req).await else {
                let answered = sandbox.finish(
                    &id,
                    |rid| {
                        InvokeOutcome::failed(
                            rid,
                            "Function.ResponseSizeTooLarge",
                            format!("Response payload size exceeded maximum allowed payload size ({MAX_SYNC_PAYLOAD_BYTES} bytes)."),
                        )
                    },
                    || pool.done(),
                );
                return if answered {
                    error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "RequestEntityTooLarge",
                        "response too large",
                    )
                } else {
                    invalid_id()
                };
            };
            let failed_midway = body.trailers.as_ref().and_then(|t| header(t, ERROR_TYPE));
            let outcome = |rid: &str| match (kind.as_str(), failed_midway) {
                ("response", None) => InvokeOutcome {
                    payload: body.bytes.to_vec(),
                    function_error: None,
                    request_id: rid.to_string(),
                },
                ("response", Some(error_type)) => {
                    let doc = body
                        .trailers
                        .as_ref()
                        .and_then(|t| header(t, ERROR_BODY))
                        .and_then(|b| base64_simd::STANDARD.decode_to_vec(b).ok())
                        .unwrap_or_default();
                    failed(rid, doc, &error_type)
                }
                _ => failed(
                    rid,
                    body.bytes.to_vec(),
                    error_type.as_deref().unwrap_or("Unhandled"),
                ),
            };
            if !matches!(kind.as_str(), "response" | "error") {
                return error(
                    StatusCode::NOT_FOUND,
                    "InvalidRequest",
                    "unknown Runtime API path",
                );
            }
            if sandbox.finish(&id, outcome, || pool.done()) {
                accepted()
            } else {
                invalid_id()
            }
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "InvalidRequest",
            "unknown Runtime API path",
        ),
    }
}

async fn next(pool: &Arc<Pool>, sandbox: &Arc<Sandbox>) -> Response<Full<Bytes>> {
    let Some(inv) = pool.next().await else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "the function was deleted",
        );
    };
    let (request_id, deadline_ms, payload) = sandbox.begin(pool.clone(), inv);
    let mut resp = Response::new(Full::new(payload));
    let h = resp.headers_mut();
    let set = |h: &mut http::HeaderMap, k: &'static str, v: &str| {
        if let Ok(v) = http::HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    set(h, "content-type", "application/json");
    set(h, "lambda-runtime-aws-request-id", &request_id);
    set(h, "lambda-runtime-deadline-ms", &deadline_ms.to_string());
    set(
        h,
        "lambda-runtime-invoked-function-arn",
        &sandbox.function.arn,
    );
    set(
        h,
        "lambda-runtime-trace-id",
        &format!(
            "Root=1-{:08x}-{};Sampled=0",
            deadline_ms / 1000,
            &request_id.replace('-', "")[..24]
        ),
    );
    resp
}

/// A function error: its own error document when it sent one, Lambda's otherwise.
fn failed(request_id: &str, doc: Vec<u8>, error_type: &str) -> InvokeOutcome {
    if serde_json::from_slice::<serde_json::Value>(&doc).is_ok() {
        return InvokeOutcome {
            payload: doc,
            function_error: Some("Unhandled".into()),
            request_id: request_id.to_string(),
        };
    }
    InvokeOutcome::failed(
        request_id,
        error_type,
        String::from_utf8_lossy(&doc).into_owned(),
    )
}

fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

struct Body {
    bytes: Bytes,
    /// The trailers of a chunked body.
    trailers: Option<http::HeaderMap>,
}

/// The body, or None when it is larger than a synchronous payload may be.
async fn read_body(req: Request<Incoming>) -> Option<Body> {
    let collected = Limited::new(req.into_body(), MAX_SYNC_PAYLOAD_BYTES)
        .collect()
        .await
        .ok()?;
    let trailers = collected.trailers().cloned();
    Some(Body {
        bytes: collected.to_bytes(),
        trailers,
    })
}

fn accepted() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(b"{\"status\":\"OK\"}")));
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn invalid_id() -> Response<Full<Bytes>> {
    error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"errorType": kind, "errorMessage": message});
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}
