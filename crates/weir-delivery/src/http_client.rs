//! STUB-side helper (used by the stub `http_endpoint` and `transform::HttpInvoker`): one
//! plain-HTTP POST with hyper. DLIB's modules bring their own client at merge.
// Unused once DLIB's modules replace the stubs; delete this file then.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::time::Duration;

pub(crate) struct Answer {
    pub status: u16,
    pub body: Bytes,
}

pub(crate) async fn post(
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Answer, String> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut req = http::Request::post(url);
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(timeout, client.request(req))
        .await
        .map_err(|_| format!("no response from {url} within {timeout:?}"))?
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = tokio::time::timeout(timeout, resp.into_body().collect())
        .await
        .map_err(|_| "response body timed out".to_string())?
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(Answer { status, body })
}
