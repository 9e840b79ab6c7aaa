//! The Lambda API subset tools use (REST-JSON, on weir's port): functions (Create, Get,
//! GetConfiguration, List, Delete, concurrency), Invoke (RequestResponse, Event, DryRun) and
//! event-source mappings (Create, Get, List, Update, Delete).
//!
//! Functions defined by a command or an HTTP endpoint go through CreateFunction too: without a
//! `ZipFile`, a `provided*` (or absent) runtime's `Handler` is the command line to run, or the
//! URL to POST to when it starts with `http://` or `https://`; the environment variable
//! `WEIR_WORKING_DIRECTORY` sets a command's directory.

mod functions;
mod invoke;
mod mappings;
mod shapes;

use crate::server::{full, Body, Router};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::Value;
use std::sync::Arc;

/// Whether a request is for the Lambda API.
pub fn matches(path: &str) -> bool {
    ["/2015-03-31/", "/2017-10-31/", "/2019-09-30/"]
        .iter()
        .any(|p| path.starts_with(p))
        && (path.contains("/functions") || path.contains("/event-source-mappings"))
}

/// A Lambda error: its type, HTTP status and message.
#[derive(Debug)]
pub(crate) struct LambdaError {
    pub code: &'static str,
    pub status: u16,
    pub message: String,
}

impl LambdaError {
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValueException", 400, message)
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", 400, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", 404, message)
    }
}

impl From<weir_functions::Error> for LambdaError {
    fn from(e: weir_functions::Error) -> Self {
        use weir_functions::Error as E;
        match e {
            E::NotFound(_) => LambdaError::not_found(e.to_string()),
            E::Conflict(_) => LambdaError::new("ResourceConflictException", 409, e.to_string()),
            E::Invalid(m) if m.starts_with("1 validation error") => LambdaError::validation(m),
            E::Invalid(m) => LambdaError::invalid(m),
            E::Throttled => LambdaError::new("TooManyRequestsException", 429, e.to_string()),
            E::Internal(m) => LambdaError::new("ServiceException", 500, m),
        }
    }
}

pub(crate) type Result<T, E = LambdaError> = std::result::Result<T, E>;

/// What an operation answers: a status and a JSON body (or raw bytes for Invoke).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    pub fn json(status: u16, v: &Value) -> Self {
        Answer {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            body: Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
            headers: Vec::new(),
        }
    }
}

pub async fn handle(router: Arc<Router>, req: Request<Incoming>) -> Response<Body> {
    let (Some(functions), Some(mappings)) = (router.functions.clone(), router.mappings.clone())
    else {
        return error_response(&LambdaError::new(
            "ServiceException",
            500,
            "functions are not enabled on this server",
        ));
    };
    if let Err(e) = crate::auth::check(req.headers(), req.uri().query()) {
        return error_response(&LambdaError::new(e.code, e.status, e.message));
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = crate::cloudwatch::wire::query_params(req.uri().query().unwrap_or("").as_bytes());
    let headers = req.headers().clone();
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let limit = if method == Method::POST && matches!(parts.as_slice(), [_, "functions"]) {
        RequestLimit::CREATE_FUNCTION
    } else {
        RequestLimit::INVOKE
    };
    let max = limit.bytes;
    if declared.is_some_and(|n| n > max as u64) {
        return error_response(&limit.exceeded());
    }
    let body = match router
        .admission
        .read_body(req.into_body(), declared, max, false)
        .await
    {
        Ok((b, _permit)) => b,
        Err(crate::admission::BodyError::TooLarge) => return error_response(&limit.exceeded()),
        Err(_) => {
            return error_response(&LambdaError::new(
                "InvalidRequestContentException",
                400,
                "The request body could not be read.",
            ))
        }
    };
    let answer = match (&method, parts.as_slice()) {
        (&Method::POST, [_, "functions"]) => functions::create(&functions, &body).await,
        (&Method::GET, [_, "functions"]) => functions::list(&functions, &query),
        (&Method::GET, [_, "functions", name]) => functions::get(&functions, name),
        (&Method::GET, [_, "functions", name, "configuration"]) => {
            functions::get_configuration(&functions, name)
        }
        (&Method::DELETE, [_, "functions", name]) => functions::delete(&functions, name),
        (&Method::PUT, [_, "functions", name, "concurrency"]) => {
            functions::put_concurrency(&functions, name, &body)
        }
        (&Method::DELETE, [_, "functions", name, "concurrency"]) => {
            functions::delete_concurrency(&functions, name)
        }
        (&Method::GET, [_, "functions", name, "concurrency"]) => {
            functions::get_concurrency(&functions, name)
        }
        (&Method::POST, [_, "functions", name, "invocations"]) => {
            invoke::invoke(&functions, name, &headers, body).await
        }
        (&Method::POST, [_, "event-source-mappings"]) => mappings::create(&mappings, &body),
        (&Method::GET, [_, "event-source-mappings"]) => mappings::list(&mappings, &query),
        (&Method::GET, [_, "event-source-mappings", uuid]) => mappings::get(&mappings, uuid),
        (&Method::PUT, [_, "event-source-mappings", uuid]) => {
            mappings::update(&mappings, uuid, &body)
        }
        (&Method::DELETE, [_, "event-source-mappings", uuid]) => mappings::delete(&mappings, uuid),
        _ => Err(LambdaError::new(
            "UnknownOperationException",
            404,
            format!("Unknown operation {method} {path}"),
        )),
    };
    match answer {
        Ok(a) => {
            let mut resp = Response::new(full(a.body));
            *resp.status_mut() = a.status;
            let h = resp.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            for (k, v) in a.headers {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    h.insert(k, v);
                }
            }
            resp
        }
        Err(e) => error_response(&e),
    }
}

/// The largest request body an operation takes, and the error Lambda answers beyond it.
struct RequestLimit {
    bytes: usize,
    /// The limit Lambda's message names.
    stated: usize,
    code: &'static str,
    operation: &'static str,
}

impl RequestLimit {
    /// A synchronous payload of 6 MB, with room for the request's own framing.
    const INVOKE: RequestLimit = RequestLimit {
        bytes: weir_functions::model::MAX_SYNC_PAYLOAD_BYTES + 64 * 1024,
        stated: weir_functions::model::MAX_SYNC_PAYLOAD_BYTES,
        code: "RequestTooLargeException",
        operation: "InvokeFunction",
    };
    /// A 50 MB zip, base64 in the JSON body: Lambda's limit for `Code.ZipFile`.
    const CREATE_FUNCTION: RequestLimit = RequestLimit {
        bytes: 69_905_067,
        stated: 69_905_067,
        code: "RequestEntityTooLargeException",
        operation: "CreateFunction",
    };

    fn exceeded(&self) -> LambdaError {
        LambdaError::new(
            self.code,
            413,
            format!(
                "Request must be smaller than {} bytes for the {} operation",
                self.stated, self.operation
            ),
        )
    }
}

/// Lambda's error document: `x-amzn-ErrorType` names the error; the body carries `Type` and
/// the message (under the member name the error's shape uses).
pub(crate) fn error_response(e: &LambdaError) -> Response<Body> {
    let member = match e.code {
        "ResourceNotFoundException" | "ServiceException" => "Message",
        _ => "message",
    };
    let kind = if e.status >= 500 { "Service" } else { "User" };
    let body = serde_json::json!({ "Type": kind, member: e.message });
    let mut resp = Response::new(full(serde_json::to_vec(&body).unwrap_or_default()));
    *resp.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("x-amzn-errortype", HeaderValue::from_static(e.code));
    resp
}

pub(crate) use crate::cloudwatch::wire::percent_decode;

/// The JSON body of a request (`{}` when empty); Lambda's error for anything else.
pub(crate) fn json_body(body: &[u8]) -> Result<serde_json::Map<String, Value>> {
    if body.is_empty() {
        return Ok(Default::default());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(LambdaError::new(
            "InvalidRequestContentException",
            400,
            "Could not parse request body into json: the body is not a JSON object",
        )),
    }
}

/// Appends to `/metrics` (Prometheus text) what the `AWS/Lambda` table does not hold: cold
/// starts per function, and per event-source mapping its IteratorAge and batch outcomes. Labels
/// are function names and mapping UUIDs, both bounded by what users define. Invocations, Errors,
/// Throttles, Duration, ConcurrentExecutions and IteratorAge per function come from the table
/// (see [`crate::server::Router::namespaces`]).
pub fn render_metrics(out: &mut String, router: &Router) {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let label = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
    if let Some(f) = &router.functions {
        let name = "weir_lambda_cold_starts_total";
        let _ = writeln!(
            out,
            "# HELP {name} Invocations that started a new sandbox.\n# TYPE {name} counter"
        );
        for (function, s) in &f.stats() {
            let _ = writeln!(
                out,
                "{name}{{function_name=\"{}\"}} {}",
                label(function),
                s.cold_starts.load(Relaxed)
            );
        }
    }
    if let Some(m) = &router.mappings {
        let stats = m.stats().snapshot();
        let _ = writeln!(out, "# HELP weir_lambda_mapping_iterator_age_milliseconds Age of the newest record a mapping read, when read (Lambda's IteratorAge).\n# TYPE weir_lambda_mapping_iterator_age_milliseconds gauge");
        for (uuid, s) in &stats {
            let _ = writeln!(
                out,
                "weir_lambda_mapping_iterator_age_milliseconds{{uuid=\"{}\"}} {}",
                label(uuid),
                s.iterator_age_millis.load(Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP weir_lambda_mapping_batches_total Batches a mapping delivered, by outcome (failed attempts are retried or sent on).\n# TYPE weir_lambda_mapping_batches_total counter");
        for (uuid, s) in &stats {
            let uuid = label(uuid);
            let _ = writeln!(
                out,
                "weir_lambda_mapping_batches_total{{uuid=\"{uuid}\",outcome=\"ok\"}} {}",
                s.batches_ok.load(Relaxed)
            );
            let _ = writeln!(
                out,
                "weir_lambda_mapping_batches_total{{uuid=\"{uuid}\",outcome=\"failed\"}} {}",
                s.batches_failed.load(Relaxed)
            );
        }
    }
}
