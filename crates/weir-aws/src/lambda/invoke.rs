//! Invoke: `RequestResponse` waits for the function and returns its payload (with
//! `X-Amz-Function-Error` when it failed), `Event` queues it and answers 202, `DryRun` only checks
//! that the function exists (204).

use super::{Answer, LambdaError, Result};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use weir_functions::model::{MAX_ASYNC_PAYLOAD_BYTES, MAX_SYNC_PAYLOAD_BYTES};
use weir_functions::FunctionService;

pub(crate) async fn invoke(
    svc: &FunctionService,
    name: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Answer> {
    let name = super::percent_decode(name);
    let kind = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    if !matches!(kind, "RequestResponse" | "Event" | "DryRun") {
        return Err(LambdaError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        )));
    }
    let payload = if body.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        body
    };
    let limit = if kind == "Event" {
        MAX_ASYNC_PAYLOAD_BYTES
    } else {
        MAX_SYNC_PAYLOAD_BYTES
    };
    if payload.len() > limit {
        return Err(LambdaError::new(
            "RequestTooLargeException",
            413,
            format!(
                "{} byte payload is too large for the {kind} invocation type (limit {limit} bytes)",
                payload.len()
            ),
        ));
    }
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        return Err(LambdaError::new(
            "InvalidRequestContentException",
            400,
            format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            ),
        ));
    }
    svc.get(&name)?;
    let executed = ("x-amz-executed-version", "$LATEST".to_string());
    match kind {
        "DryRun" => Ok(Answer {
            status: StatusCode::NO_CONTENT,
            body: Bytes::new(),
            headers: vec![executed],
        }),
        "Event" => {
            let svc = svc.clone();
            tokio::spawn(async move {
                match svc.invoke(&name, payload).await {
                    Ok(o) if o.is_error() => {
                        tracing::warn!(function = %name, request_id = %o.request_id, "asynchronous invocation failed: {}", String::from_utf8_lossy(&o.payload))
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(function = %name, error = %e, "asynchronous invocation could not run")
                    }
                }
            });
            Ok(Answer {
                status: StatusCode::ACCEPTED,
                body: Bytes::new(),
                headers: vec![executed],
            })
        }
        _ => {
            let outcome = svc.invoke(&name, payload).await?;
            let mut headers = vec![executed, ("x-amzn-requestid", outcome.request_id.clone())];
            if let Some(e) = &outcome.function_error {
                headers.push(("x-amz-function-error", e.clone()));
            }
            Ok(Answer {
                status: StatusCode::OK,
                body: Bytes::from(outcome.payload),
                headers,
            })
        }
    }
}
