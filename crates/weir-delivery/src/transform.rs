//! Firehose's Lambda data-transformation contract (reference §4.2).
//!
//! One call sends `{"invocationId", "deliveryStreamArn", "region", "sourceKinesisStreamArn"?,
//! "records": [{"recordId", "approximateArrivalTimestamp" (ms), "data" (base64),
//! "kinesisRecordMetadata"?}]}` and expects `{"records": [{"recordId", "result", "data",
//! "metadata": {"partitionKeys": {..}}?}]}` back. Every recordId must come back exactly once with
//! a result of `Ok`, `Dropped` or `ProcessingFailed`, and `Ok` records need base64 `data`; any
//! other answer breaks the contract. Failed invocations and contract violations are retried
//! `NumberOfRetries` times (the batch is sent again with the same record ids and a new
//! invocationId); after that the whole batch fails with the last error, which the pipeline
//! writes with every record to the `processing-failed` error prefix.
//!
//! Errors are `"<errorCode>: <message>"` so the pipeline can fill the error records'
//! `errorCode` / `errorMessage` ([`error_code`] splits them). Codes and texts of
//! `Lambda.JsonProcessingException`, `Lambda.DuplicatedRecordId`, `Lambda.MissingRecordId`,
//! `Lambda.InvokeAccessDenied`, `Lambda.InvokeLimitExceeded` and `Lambda.ResourceNotFound` are the
//! developer guide's table "Lambda Invocation Errors" (Monitoring with CloudWatch Logs), with
//! today's product name "Firehose"; `Lambda.FunctionError` and `Lambda.ProcessingFailed` and
//! their texts are UNCONFIRMED. An invoker may return an error that already starts with a
//! `Lambda.` code; other invoker errors become `Lambda.FunctionError`.
//!
//! [`Invoker`] is how functions are called; [`HttpInvoker`] treats a function as an HTTP endpoint
//! (POST the payload, the response body is the function's result, `X-Amz-Function-Error` marks a
//! function error as Lambda's Invoke API does).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Deserialize;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// How functions are invoked.
pub trait Invoker: Send + Sync + 'static {
    /// Invoke a function (by ARN or name) with a JSON payload; Ok = the function's JSON response.
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, String>>;
}

/// Error code: the function could not be invoked or returned a function error.
pub const ERR_FUNCTION: &str = "Lambda.FunctionError";
/// Error code: the response was not the JSON Firehose expects.
pub const ERR_JSON: &str = "Lambda.JsonProcessingException";
/// Error code: a recordId came back twice.
pub const ERR_DUPLICATED_ID: &str = "Lambda.DuplicatedRecordId";
/// Error code: a recordId did not come back (or an unknown one did).
pub const ERR_MISSING_ID: &str = "Lambda.MissingRecordId";
/// Error code: the function does not exist.
pub const ERR_NOT_FOUND: &str = "Lambda.ResourceNotFound";
/// Error code: the function may not be invoked.
pub const ERR_ACCESS_DENIED: &str = "Lambda.InvokeAccessDenied";
/// Error code: the function is throttled.
pub const ERR_LIMIT_EXCEEDED: &str = "Lambda.InvokeLimitExceeded";
const MSG_JSON: &str = "There was an error parsing returned records from the Lambda function. Ensure that the returned records follow the status model required by Firehose.";
const MSG_DUPLICATED: &str = "Multiple records were returned with the same record ID. Ensure that the Lambda function returns unique record IDs for each record.";
const MSG_MISSING: &str = "One or more record IDs were not returned. Ensure that the Lambda function returns all received record IDs.";
/// Error code for records the function itself marked `ProcessingFailed`.
pub const ERR_PROCESSING_FAILED: &str = "Lambda.ProcessingFailed";
/// Lambda's synchronous invocation payload limit (request and response): the caller keeps a
/// batch's request — base64 data, about 4/3 of the raw bytes, plus JSON — below it.
pub const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;
/// Timeout of one HTTP invocation (Lambda's largest function timeout is 15 min; Firehose waits at
/// most 5 min for a transform).
pub const HTTP_INVOKE_TIMEOUT: Duration = Duration::from_secs(300);

/// The error code of a transform error (`"<code>: <message>"`), or the whole text.
pub fn error_code(err: &str) -> &str {
    err.split_once(": ").map(|(c, _)| c).unwrap_or(err)
}

/// Invoker for functions that are HTTP endpoints: function name (last ARN component) → URL.
pub struct HttpInvoker {
    functions: BTreeMap<String, String>,
    client: reqwest::Client,
}

/// The function name of an ARN `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`, or
/// the name as given.
pub fn function_name(function: &str) -> &str {
    if function.starts_with("arn:") {
        function.split(':').nth(6).unwrap_or(function)
    } else {
        function
    }
}

impl HttpInvoker {
    /// `functions` maps function names to URLs.
    pub fn new(functions: BTreeMap<String, String>) -> Self {
        HttpInvoker {
            functions,
            client: crate::sink::http_client(HTTP_INVOKE_TIMEOUT),
        }
    }
}

impl Invoker for HttpInvoker {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, String>> {
        Box::pin(async move {
            let url = self
                .functions
                .get(function)
                .or_else(|| self.functions.get(function_name(function)))
                .ok_or_else(|| {
                    format!("{ERR_NOT_FOUND}: The specified Lambda function does not exist. Use a different function that does exist.")
                })?;
            let resp = self
                .client
                .post(url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(payload)
                .send()
                .await
                .map_err(|e| format!("invoking {function}: {e}"))?;
            let status = resp.status();
            let function_error = resp.headers().contains_key("x-amz-function-error");
            let body = resp
                .bytes()
                .await
                .map_err(|e| format!("invoking {function}: {e}"))?;
            match status.as_u16() {
                200..=299 => {}
                403 => return Err(format!("{ERR_ACCESS_DENIED}: Access was denied. Ensure that the access policy allows access to the Lambda function.")),
                404 => return Err(format!("{ERR_NOT_FOUND}: The specified Lambda function does not exist. Use a different function that does exist.")),
                429 => return Err(format!("{ERR_LIMIT_EXCEEDED}: The Lambda concurrent execution limit is exceeded. Increase the concurrent execution limit.")),
                _ => return Err(format!("invoking {function}: HTTP {status}")),
            }
            if function_error {
                return Err(format!(
                    "{function} returned a function error: {}",
                    String::from_utf8_lossy(&body)
                ));
            }
            Ok(body.to_vec())
        })
    }
}

/// One record sent to the transform.
#[derive(Clone, Debug)]
pub struct TransformRecord {
    /// Id the response refers to.
    pub record_id: String,
    /// Approximate arrival, epoch ms.
    pub arrival_millis: i64,
    /// The record's data.
    pub data: Vec<u8>,
    /// Present when the source is a Kinesis stream.
    pub kinesis: Option<KinesisRecordMetadata>,
}

/// `kinesisRecordMetadata` of a record read from a Kinesis stream.
#[derive(Clone, Debug)]
pub struct KinesisRecordMetadata {
    /// Shard the record came from.
    pub shard_id: String,
    /// The record's partition key.
    pub partition_key: String,
    /// The record's sequence number.
    pub sequence_number: String,
    /// Index within a KPL aggregate (0 otherwise).
    pub sub_sequence_number: u64,
    /// Approximate arrival in the stream, epoch ms.
    pub arrival_millis: i64,
}

/// What the transform did with one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransformResult {
    /// Deliver `data`; `partition_keys` feed `!{partitionKeyFromLambda:k}`.
    Ok {
        data: Vec<u8>,
        partition_keys: BTreeMap<String, String>,
    },
    /// Drop the record (counts as success).
    Dropped,
    /// The function failed the record: it goes to the processing-failed prefix.
    ProcessingFailed { message: String },
}

fn b64(data: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(data)
}

/// The request payload of one invocation.
pub fn request(
    delivery_stream_arn: &str,
    region: &str,
    source_stream_arn: Option<&str>,
    records: &[TransformRecord],
) -> Vec<u8> {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            let mut v = serde_json::json!({
                "recordId": r.record_id,
                "approximateArrivalTimestamp": r.arrival_millis,
                "data": b64(&r.data),
            });
            if let Some(k) = &r.kinesis {
                v["kinesisRecordMetadata"] = serde_json::json!({
                    "shardId": k.shard_id,
                    "partitionKey": k.partition_key,
                    "approximateArrivalTimestamp": k.arrival_millis,
                    "sequenceNumber": k.sequence_number,
                    "subsequenceNumber": k.sub_sequence_number,
                });
            }
            v
        })
        .collect();
    let mut body = serde_json::json!({
        "invocationId": uuid::Uuid::new_v4().to_string(),
        "deliveryStreamArn": delivery_stream_arn,
        "region": region,
        "records": records,
    });
    if let Some(s) = source_stream_arn {
        body["sourceKinesisStreamArn"] = serde_json::Value::String(s.to_string());
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

#[derive(Deserialize)]
struct Response {
    records: Vec<ResponseRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponseRecord {
    record_id: String,
    result: String,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    partition_keys: BTreeMap<String, serde_json::Value>,
}

/// Checks a response against the contract; result i belongs to records[i].
pub fn parse_response(
    records: &[TransformRecord],
    body: &[u8],
) -> Result<Vec<TransformResult>, String> {
    let json_err = |detail: String| {
        tracing::debug!(%detail, "transform response breaks the status model");
        format!("{ERR_JSON}: {MSG_JSON}")
    };
    let response: Response = serde_json::from_slice(body).map_err(|e| json_err(e.to_string()))?;
    let index: HashMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.record_id.as_str(), i))
        .collect();
    let mut results: Vec<Option<TransformResult>> = vec![None; records.len()];
    for r in response.records {
        let Some(&i) = index.get(r.record_id.as_str()) else {
            tracing::debug!(record_id = %r.record_id, "transform returned an unknown record id");
            return Err(format!("{ERR_MISSING_ID}: {MSG_MISSING}"));
        };
        if results[i].is_some() {
            return Err(format!("{ERR_DUPLICATED_ID}: {MSG_DUPLICATED}"));
        }
        results[i] = Some(match r.result.as_str() {
            "Ok" => {
                let data = r.data.ok_or_else(|| json_err(format!("record {} is Ok but has no data", r.record_id)))?;
                let data = base64_simd::STANDARD
                    .decode_to_vec(data.as_bytes())
                    .map_err(|_| json_err(format!("the data of record {} is not base64", r.record_id)))?;
                let mut partition_keys = BTreeMap::new();
                for (k, v) in r.metadata.map(|m| m.partition_keys).unwrap_or_default() {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Null => {
                            return Err(json_err(format!("partition key {k} of record {} is null", r.record_id)))
                        }
                        other => other.to_string(),
                    };
                    partition_keys.insert(k, v);
                }
                TransformResult::Ok { data, partition_keys }
            }
            "Dropped" => TransformResult::Dropped,
            "ProcessingFailed" => TransformResult::ProcessingFailed {
                message: format!(
                    "{ERR_PROCESSING_FAILED}: The Lambda function marked record {} as ProcessingFailed.",
                    r.record_id
                ),
            },
            other => {
                return Err(json_err(format!(
                    "record {} has result {other}; expected Ok, Dropped or ProcessingFailed",
                    r.record_id
                )))
            }
        });
    }
    results
        .into_iter()
        .map(|r| r.ok_or_else(|| format!("{ERR_MISSING_ID}: {MSG_MISSING}")))
        .collect()
}

/// One transform call with retries (NumberOfRetries); result i belongs to records[i].
/// Record ids must be unique within `records`.
/// Err = the invocation failed after retries or the response broke the contract (every record then
/// goes to processing-failed with this message).
pub async fn transform(
    invoker: &dyn Invoker,
    function: &str,
    retries: u32,
    delivery_stream_arn: &str,
    region: &str,
    source_stream_arn: Option<&str>,
    records: &[TransformRecord],
) -> Result<Vec<TransformResult>, String> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let mut last = String::new();
    for attempt in 0..=retries {
        let payload = request(delivery_stream_arn, region, source_stream_arn, records);
        match invoker.invoke(function, payload).await {
            Ok(body) => match parse_response(records, &body) {
                Ok(results) => return Ok(results),
                Err(e) => last = e,
            },
            Err(e) if e.starts_with("Lambda.") => last = e,
            Err(e) => {
                last = format!("{ERR_FUNCTION}: The Lambda function invocation failed: {e}");
            }
        }
        tracing::debug!(function, attempt, error = %last, "transform attempt failed");
    }
    Err(last)
}

/// One record of the `processing-failed` error output (reference §4.2), as a JSON text without
/// its newline (error objects hold one per line): `attemptsMade`, `arrivalTimestamp`,
/// `errorCode`, `errorMessage`, `attemptEndingTimestamp`, `rawData` (base64), `lambdaArn`.
/// `error` is a transform error (`"<code>: <message>"`) or a [`TransformResult::ProcessingFailed`]
/// message.
pub fn processing_failed_record(
    attempts_made: u32,
    arrival_millis: i64,
    error: &str,
    attempt_ending_millis: i64,
    raw_data: &[u8],
    lambda_arn: &str,
) -> Vec<u8> {
    let (code, message) = error.split_once(": ").unwrap_or((ERR_FUNCTION, error));
    serde_json::to_vec(&serde_json::json!({
        "attemptsMade": attempts_made,
        "arrivalTimestamp": arrival_millis,
        "errorCode": code,
        "errorMessage": message,
        "attemptEndingTimestamp": attempt_ending_millis,
        "rawData": b64(raw_data),
        "lambdaArn": lambda_arn,
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_record_shape() {
        let line =
            processing_failed_record(4, 10, "Lambda.MissingRecordId: gone", 20, b"raw", "arn:f");
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"attemptsMade": 4, "arrivalTimestamp": 10, "errorCode": "Lambda.MissingRecordId",
                "errorMessage": "gone", "attemptEndingTimestamp": 20, "rawData": "cmF3", "lambdaArn": "arn:f"})
        );
        assert_eq!(error_code("Lambda.X: y: z"), "Lambda.X");
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:f:$LATEST"),
            "f"
        );
        assert_eq!(function_name("f"), "f");
    }
}
