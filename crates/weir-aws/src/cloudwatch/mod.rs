//! The CloudWatch metrics front end: the read side of the API (GetMetricStatistics,
//! GetMetricData, ListMetrics) over weir's own metrics, namespaces `AWS/Kinesis`,
//! `AWS/Firehose` and `AWS/Lambda`. The operations see every namespace through one shape,
//! [`weir_metrics::Namespace`], so none of them knows which namespaces exist.
//!
//! CloudWatch is served in all three protocols its model lists, because clients differ: current
//! boto3 sends Smithy RPC v2 CBOR, other SDKs and CLIs awsJson1.0 or awsQuery (see
//! [`wire`]). The service is "awsQueryCompatible", so errors carry AWS's query error code in
//! `x-amzn-query-error` for the SDKs to map to their modeled exceptions.

pub mod ops;
pub mod shapes;
pub mod time;
pub mod wire;

use crate::server::Router;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::Value;
use wire::{Doc, Input, Protocol};

/// awsJson1.0's `X-Amz-Target` prefix and RPC v2's service segment.
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";
/// Where RPC v2 CBOR requests are posted: this, then the operation name.
pub const RPC_PATH_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";

/// CloudWatch requests are small (a GetMetricData of 500 queries is well under this).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A CloudWatch error: the awsQuery code, the Smithy shape name, status, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CwError {
    pub code: &'static str,
    pub shape: &'static str,
    pub status: u16,
    pub message: String,
    /// Whose fault: `Sender` (client) or `Receiver` (server), as awsQuery reports it.
    pub sender: bool,
}

impl CwError {
    fn new(code: &'static str, shape: &'static str, status: u16, message: String) -> Self {
        Self {
            code,
            shape,
            status,
            message,
            sender: status < 500,
        }
    }
    pub fn invalid_value(message: impl Into<String>) -> Self {
        Self::new(
            "InvalidParameterValue",
            "InvalidParameterValueException",
            400,
            message.into(),
        )
    }
    pub fn missing(parameter: &str) -> Self {
        Self::new(
            "MissingParameter",
            "MissingRequiredParameterException",
            400,
            format!("The parameter {parameter} is required."),
        )
    }
    pub fn combination(message: impl Into<String>) -> Self {
        Self::new(
            "InvalidParameterCombination",
            "InvalidParameterCombinationException",
            400,
            message.into(),
        )
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationError", "ValidationError", 400, message.into())
    }
    pub fn invalid_next_token(message: impl Into<String>) -> Self {
        Self::new("InvalidNextToken", "InvalidNextToken", 400, message.into())
    }
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(
            "SerializationException",
            "SerializationException",
            400,
            message.into(),
        )
    }
    fn unknown_operation(protocol: Protocol, op: &str) -> Self {
        match protocol {
            Protocol::AwsQuery => Self::new(
                "InvalidAction",
                "InvalidAction",
                400,
                format!("The action {op} is not valid for this web service."),
            ),
            Protocol::RpcV2Cbor => Self::new(
                "UnknownOperationException",
                "UnknownOperationException",
                404,
                String::new(),
            ),
            Protocol::AwsJson10 => Self::new(
                "UnknownOperationException",
                "UnknownOperationException",
                400,
                String::new(),
            ),
        }
    }
}

/// What an operation reads.
pub struct Ctx<'a> {
    /// Every namespace weir publishes, by name.
    pub namespaces: Vec<&'a dyn weir_metrics::Namespace>,
    pub now_ms: i64,
}

impl Ctx<'_> {
    /// The namespace called `name`, if weir publishes it.
    pub fn namespace(&self, name: &str) -> Option<&dyn weir_metrics::Namespace> {
        self.namespaces.iter().copied().find(|n| n.name() == name)
    }
}

/// Whether a request is CloudWatch's, and in which protocol: RPC v2 by path, awsJson1.0 by
/// target, awsQuery by a form body without a target (no other API weir serves uses that).
pub fn protocol_of<B>(req: &Request<B>) -> Option<Protocol> {
    if req.method() != Method::POST {
        return None;
    }
    if req.uri().path().starts_with(RPC_PATH_PREFIX) {
        return Some(Protocol::RpcV2Cbor);
    }
    let target = req.headers().get("x-amz-target");
    if let Some(t) = target.and_then(|v| v.to_str().ok()) {
        return t
            .strip_prefix(TARGET_PREFIX)
            .is_some_and(|rest| rest.starts_with('.'))
            .then_some(Protocol::AwsJson10);
    }
    let form = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    form.then_some(Protocol::AwsQuery)
}

/// Serves one CloudWatch request. `None` for an awsQuery body whose `Action` is not a
/// CloudWatch operation: the caller answers it as it answers any request it cannot place.
pub async fn handle(
    router: &Router,
    protocol: Protocol,
    req: Request<Incoming>,
) -> Option<Response<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let e = CwError::serialization("The request body is too large or was cut short.");
            return Some(error_response(protocol, &e, &request_id));
        }
    };
    let op = match protocol {
        Protocol::RpcV2Cbor => parts.uri.path()[RPC_PATH_PREFIX.len()..].to_string(),
        Protocol::AwsJson10 => parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.split_once('.'))
            .map_or_else(String::new, |(_, op)| op.to_string()),
        Protocol::AwsQuery => {
            let action = wire::query_params(&body)
                .into_iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v);
            match action {
                Some(a) if ops::is_operation(&a) => a,
                _ => return None,
            }
        }
    };
    Some(respond(router, protocol, &op, &parts, &body, &request_id))
}

fn respond(
    router: &Router,
    protocol: Protocol,
    op: &str,
    parts: &http::request::Parts,
    body: &[u8],
    request_id: &str,
) -> Response<Bytes> {
    if !ops::is_operation(op) {
        let e = CwError::unknown_operation(protocol, op);
        return error_response(protocol, &e, request_id);
    }
    if let Err(e) = crate::auth::check(&parts.headers, parts.uri.query()) {
        let status = if e.code == "MissingAuthenticationTokenException" {
            403
        } else {
            e.status
        };
        let e = CwError::new(e.code, e.code, status, e.message);
        return error_response(protocol, &e, request_id);
    }
    let result = wire::decode(protocol, body).and_then(|tree: Value| {
        let ctx = Ctx {
            namespaces: router.namespaces(),
            now_ms: router.streams.now_millis(),
        };
        ops::dispatch(&ctx, op, &Input::root(&tree))
    });
    match result {
        Ok(doc) => ok_response(protocol, op, &doc, request_id),
        Err(e) => error_response(protocol, &e, request_id),
    }
}

fn with_headers(protocol: Protocol, status: u16, body: Vec<u8>) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(protocol.content_type()),
    );
    if protocol == Protocol::RpcV2Cbor {
        h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    }
    resp
}

fn ok_response(protocol: Protocol, op: &str, doc: &Doc, request_id: &str) -> Response<Bytes> {
    with_headers(protocol, 200, wire::encode(protocol, op, doc, request_id))
}

pub fn error_response(protocol: Protocol, e: &CwError, request_id: &str) -> Response<Bytes> {
    let fault = if e.sender { "Sender" } else { "Receiver" };
    let body = match protocol {
        Protocol::AwsQuery => {
            let mut s = format!(
                "<ErrorResponse xmlns=\"{}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>",
                wire::XML_NAMESPACE,
                e.code
            );
            wire::xml_text(&mut s, &e.message);
            s.push_str(&format!(
                "</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>\n"
            ));
            s.into_bytes()
        }
        _ => {
            let mut fields = vec![(
                "__type",
                Doc::Str(format!("com.amazonaws.cloudwatch#{}", e.shape)),
            )];
            if !e.message.is_empty() {
                fields.push(("message", Doc::Str(e.message.clone())));
            }
            wire::encode(protocol, "", &Doc::Struct(fields), request_id)
        }
    };
    let mut resp = with_headers(protocol, e.status, body);
    if protocol != Protocol::AwsQuery {
        if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", e.code)) {
            resp.headers_mut().insert("x-amzn-query-error", v);
        }
    }
    resp
}
