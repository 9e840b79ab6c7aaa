//! S3's bucket notification configuration (REST-XML, path-style: `PUT|GET /<bucket>?notification`),
//! the one S3 operation weir serves: it sets the object triggers of a bucket directory. Only
//! function (Lambda) destinations are accepted.

use crate::server::{full, Body, Router};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::sync::Arc;
use weir_functions::triggers;

/// Whether a request is a bucket notification configuration call.
pub fn matches(req: &Request<Incoming>) -> bool {
    let notification = req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|p| p == "notification" || p == "notification=")
    });
    notification && matches!(*req.method(), Method::PUT | Method::GET)
}

pub async fn handle(router: Arc<Router>, req: Request<Incoming>) -> Response<Body> {
    let Some(t) = router.triggers.clone() else {
        return xml_error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "object triggers are not enabled",
        );
    };
    let bucket = req.uri().path().trim_matches('/').to_string();
    if bucket.is_empty() || bucket.contains('/') {
        return xml_error(
            StatusCode::BAD_REQUEST,
            "InvalidBucketName",
            "The specified bucket is not valid.",
        );
    }
    if req.method() == Method::GET {
        return match t.get(&bucket) {
            Ok(list) => xml(StatusCode::OK, triggers::notification_xml(&list)),
            Err(e) => xml_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &e.to_string(),
            ),
        };
    }
    let body = match http_body_util::Limited::new(req.into_body(), 1 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return xml_error(StatusCode::BAD_REQUEST, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema."),
    };
    let text = String::from_utf8_lossy(&body);
    let parsed = match triggers::parse_notification_xml(&text) {
        Ok(p) => p,
        Err(m) => return xml_error(StatusCode::BAD_REQUEST, "InvalidArgument", &m),
    };
    match t.set(&bucket, parsed) {
        Ok(()) => xml(StatusCode::OK, String::new()),
        Err(e) => xml_error(StatusCode::BAD_REQUEST, "InvalidArgument", &e.to_string()),
    }
}

fn xml(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

fn xml_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let esc = message.replace('&', "&amp;").replace('<', "&lt;");
    xml(
        status,
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{esc}</Message></Error>"),
    )
}
