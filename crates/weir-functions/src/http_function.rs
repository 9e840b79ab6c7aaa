//! Functions that are HTTP endpoints: weir POSTs the event JSON and reads the response, with the
//! function's timeout. A 2xx answer is the function's result; any other status is a function
//! error carrying the body (wrapped in Lambda's error document when it is not JSON).

use crate::model::InvokeOutcome;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use std::time::Duration;

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn client() -> HttpClient {
    Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

pub(crate) async fn invoke(
    client: &HttpClient,
    url: &str,
    function_arn: &str,
    request_id: &str,
    payload: Bytes,
    timeout: Duration,
) -> InvokeOutcome {
    let failed = |kind: &str, message: String| InvokeOutcome::failed(request_id, kind, message);
    let req = match http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("lambda-runtime-aws-request-id", request_id)
        .header("lambda-runtime-invoked-function-arn", function_arn)
        .body(Full::new(payload))
    {
        Ok(r) => r,
        Err(e) => return failed("Function.InvalidUrl", format!("{url}: {e}")),
    };
    let call = async {
        let resp = client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), crate::model::MAX_SYNC_PAYLOAD_BYTES)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>((status, body))
    };
    match tokio::time::timeout(timeout, call).await {
        Err(_) => failed(
            "Sandbox.Timedout",
            format!(
                "RequestId: {request_id} Error: Task timed out after {}.00 seconds",
                timeout.as_secs()
            ),
        ),
        Ok(Err(e)) => failed(
            "Function.EndpointUnreachable",
            format!("RequestId: {request_id} Error: {url}: {e}"),
        ),
        Ok(Ok((status, body))) if status.is_success() => InvokeOutcome {
            payload: body.to_vec(),
            function_error: None,
            request_id: request_id.to_string(),
        },
        Ok(Ok((status, body))) => {
            if serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
                InvokeOutcome {
                    payload: body.to_vec(),
                    function_error: Some("Unhandled".into()),
                    request_id: request_id.to_string(),
                }
            } else {
                failed(
                    "Function.HttpError",
                    format!(
                        "{url} answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    ),
                )
            }
        }
    }
}
