//! The HttpEndpoint destination: Firehose's request/response contract (reference §4.4).
//!
//! One batch is one POST of `{"requestId", "timestamp" (ms), "records": [{"data": base64}]}` with
//! the headers `X-Amz-Firehose-Protocol-Version: 1.0`, `X-Amz-Firehose-Request-Id` (the same on
//! every retry of the batch), `X-Amz-Firehose-Source-Arn`, `X-Amz-Firehose-Access-Key` (when
//! configured), `X-Amz-Firehose-Common-Attributes` (`{"commonAttributes": {..}}`, when any) and
//! `Content-Encoding: gzip` for `ContentEncoding=GZIP`. Success is HTTP 200 whose JSON body
//! echoes the `requestId`. 413 (payload too large) is permanent: the batch is given up at once.
//! Anything else (other statuses, a wrong body, connection errors, the 3-minute response timeout)
//! is retried with exponential back-off — 1 s initial, ×2, ±15 % jitter, at most 2 min between
//! attempts — until `RetryOptions.DurationInSeconds` has passed since the first attempt; then the
//! batch is given up and the caller writes it to the S3 backup. [`Backoff`] makes the base
//! injectable so tests run in milliseconds.

use std::io::Write;
use std::time::Duration;

use rand::Rng;
use weir_core::{Clock, SystemClock};

/// How long Firehose waits for an endpoint's response.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(180);
/// The `User-Agent` Firehose sends.
pub const USER_AGENT: &str = "Amazon Kinesis Data Firehose Agent/1.0";
/// Most common attributes an endpoint configuration may hold.
pub const MAX_COMMON_ATTRIBUTES: usize = 50;
/// Most records in one request (the request schema's `maxItems`).
pub const MAX_RECORDS_PER_REQUEST: usize = 10_000;
/// Largest request body before compression (64 MiB): the caller sizes batches by it.
pub const MAX_REQUEST_BODY: usize = 64 * 1024 * 1024;

/// One HttpEndpoint destination.
#[derive(Clone, Debug)]
pub struct HttpEndpointTarget {
    /// EndpointConfiguration.Url.
    pub url: String,
    /// EndpointConfiguration.Name.
    pub name: Option<String>,
    /// EndpointConfiguration.AccessKey, sent verbatim.
    pub access_key: Option<String>,
    /// RequestConfiguration.CommonAttributes (name, value).
    pub common_attributes: Vec<(String, String)>,
    /// RequestConfiguration.ContentEncoding = GZIP.
    pub gzip: bool,
    /// RetryOptions.DurationInSeconds.
    pub retry_duration: std::time::Duration,
}

/// Back-off between attempts: `initial × multiplier^n`, capped at `max`, ± `jitter`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// Wait after the first failure.
    pub initial: Duration,
    /// Growth per attempt.
    pub multiplier: f64,
    /// Longest wait.
    pub max: Duration,
    /// Relative jitter (0.15 = ±15 %).
    pub jitter: f64,
    /// Timeout of one attempt.
    pub response_timeout: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            multiplier: 2.0,
            max: Duration::from_secs(120),
            jitter: 0.15,
            response_timeout: RESPONSE_TIMEOUT,
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt + 1` (attempt 0 = the first failure).
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self.initial.as_secs_f64() * self.multiplier.powi(attempt.min(64) as i32);
        let base = base.min(self.max.as_secs_f64());
        let jitter = if self.jitter > 0.0 {
            rand::thread_rng().gen_range(-self.jitter..=self.jitter)
        } else {
            0.0
        };
        Duration::from_secs_f64((base * (1.0 + jitter)).max(0.0))
    }
}

/// The request body of one batch.
pub fn request_body(request_id: &str, timestamp_millis: i64, records: &[&[u8]]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|r| serde_json::json!({ "data": base64_simd::STANDARD.encode_to_string(r) }))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "requestId": request_id,
        "timestamp": timestamp_millis,
        "records": records,
    }))
    .unwrap_or_default()
}

/// Why a batch was given up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryError {
    /// The endpoint answered 413: a permanent failure, and Firehose does *not* write the batch to
    /// the error bucket ("the record batch is not sent to error bucket if configured").
    PayloadTooLarge(String),
    /// Retries ran out (RetryOptions.DurationInSeconds): the batch goes to the S3 backup. The
    /// message carries the endpoint's last `errorMessage` when it sent one.
    RetriesExhausted(String),
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryError::PayloadTooLarge(m) | DeliveryError::RetriesExhausted(m) => {
                f.write_str(m)
            }
        }
    }
}

/// Largest response body read (the contract allows at most 1 MiB).
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;

/// The outcome of one attempt.
enum Attempt {
    Delivered,
    Retry(String),
    TooLarge(String),
}

/// Judges one response by the contract: only 200 with a JSON body (`Content-Type:
/// application/json`, at most 1 MiB) holding the request's `requestId` and a `timestamp` is a
/// delivery; anything else is treated "as though it had a 500 status code with no body".
async fn judge(resp: reqwest::Response, request_id: &str, url: &str) -> Attempt {
    let status = resp.status();
    let json_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
        .unwrap_or(false);
    let body = match resp.bytes().await {
        Ok(b) if b.len() <= MAX_RESPONSE_BODY => Some(b),
        _ => None,
    };
    let json = body
        .as_ref()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok());
    let error_message = json
        .as_ref()
        .and_then(|v| v.get("errorMessage"))
        .and_then(|m| m.as_str())
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    if status == http::StatusCode::PAYLOAD_TOO_LARGE {
        return Attempt::TooLarge(format!(
            "The endpoint {url} answered 413 Payload Too Large{error_message}"
        ));
    }
    if status != http::StatusCode::OK {
        return Attempt::Retry(format!(
            "The endpoint answered HTTP {}{error_message}",
            status.as_u16()
        ));
    }
    let Some(v) = json.filter(|_| json_type) else {
        return Attempt::Retry("The endpoint's response is not an application/json body".into());
    };
    if v.get("requestId").and_then(|r| r.as_str()) != Some(request_id) {
        return Attempt::Retry("The response's requestId does not match the request".into());
    }
    if v.get("timestamp").is_none_or(|t| t.is_null()) {
        return Attempt::Retry("The response has no timestamp".into());
    }
    Attempt::Delivered
}

/// Delivers one batch with Firehose's request/response contract, retrying with back-off until
/// retry_duration. Err = given up (the caller then writes the records to the S3 backup / error prefix).
/// [`deliver_with`] tells a 413 (not written to the error bucket) from exhausted retries.
pub async fn deliver(
    target: &HttpEndpointTarget,
    source_arn: &str,
    records: &[&[u8]],
) -> Result<(), String> {
    deliver_with(
        target,
        source_arn,
        records,
        &Backoff::default(),
        &SystemClock,
    )
    .await
    .map_err(|e| e.to_string())
}

/// [`deliver`] with an explicit back-off and the clock that dates the request body's
/// `timestamp`. The retry deadline is measured on tokio's monotonic clock.
pub async fn deliver_with(
    target: &HttpEndpointTarget,
    source_arn: &str,
    records: &[&[u8]],
    backoff: &Backoff,
    clock: &dyn Clock,
) -> Result<(), DeliveryError> {
    // More records than one request may carry go as consecutive requests, each with its own
    // request id and retries.
    for batch in records.chunks(MAX_RECORDS_PER_REQUEST) {
        deliver_request(target, source_arn, batch, backoff, clock).await?;
    }
    Ok(())
}

async fn deliver_request(
    target: &HttpEndpointTarget,
    source_arn: &str,
    records: &[&[u8]],
    backoff: &Backoff,
    clock: &dyn Clock,
) -> Result<(), DeliveryError> {
    let client = crate::sink::http_client(backoff.response_timeout);
    let request_id = uuid::Uuid::new_v4().to_string();
    let json = request_body(&request_id, clock.now_millis(), records);
    let body = if target.gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&json)
            .and_then(|_| enc.finish())
            .map_err(|e| DeliveryError::RetriesExhausted(format!("compressing the request: {e}")))?
    } else {
        json
    };
    let body = bytes::Bytes::from(body);
    let attributes = if target.common_attributes.is_empty() {
        None
    } else {
        let map: serde_json::Map<String, serde_json::Value> = target
            .common_attributes
            .iter()
            .take(MAX_COMMON_ATTRIBUTES)
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        Some(serde_json::json!({ "commonAttributes": map }).to_string())
    };
    let started = tokio::time::Instant::now();
    let mut attempt = 0u32;
    loop {
        let mut req = client
            .post(&target.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, USER_AGENT)
            .header("X-Amz-Firehose-Protocol-Version", "1.0")
            .header("X-Amz-Firehose-Request-Id", &request_id)
            .header("X-Amz-Firehose-Source-Arn", source_arn)
            .body(body.clone());
        if let Some(key) = &target.access_key {
            req = req.header("X-Amz-Firehose-Access-Key", key);
        }
        if let Some(a) = &attributes {
            req = req.header("X-Amz-Firehose-Common-Attributes", a);
        }
        if target.gzip {
            req = req.header(http::header::CONTENT_ENCODING, "gzip");
        }
        let outcome = match req.send().await {
            Err(e) => Attempt::Retry(format!("request failed: {e}")),
            Ok(resp) => judge(resp, &request_id, &target.url).await,
        };
        match outcome {
            Attempt::Delivered => return Ok(()),
            Attempt::TooLarge(e) => return Err(DeliveryError::PayloadTooLarge(e)),
            Attempt::Retry(e) => {
                let delay = backoff.delay(attempt);
                if started.elapsed() + delay > target.retry_duration {
                    return Err(DeliveryError::RetriesExhausted(format!(
                        "Delivery to {} failed after {} attempt(s) within the retry duration of {} s. {e}",
                        target.url,
                        attempt + 1,
                        target.retry_duration.as_secs()
                    )));
                }
                tracing::debug!(url = %target.url, attempt, error = %e, "HTTP endpoint delivery retry");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff {
            jitter: 0.0,
            ..Backoff::default()
        };
        assert_eq!(b.delay(0), Duration::from_secs(1));
        assert_eq!(b.delay(3), Duration::from_secs(8));
        assert_eq!(b.delay(20), Duration::from_secs(120));
        let j = Backoff::default();
        for _ in 0..100 {
            let d = j.delay(1).as_secs_f64();
            assert!((1.7..=2.3).contains(&d), "{d}");
        }
    }

    #[test]
    fn body_shape() {
        let body = request_body("rid", 5, &[b"hi", b""]);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"requestId":"rid","timestamp":5,"records":[{"data":"aGk="},{"data":""}]})
        );
    }
}
