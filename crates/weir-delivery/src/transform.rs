//! STUB (engineer DLIB owns this module; their version replaces it at merge).
//! Lambda-style transform with Firehose's request/response contract (reference §4.2).

use std::collections::BTreeMap;

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub trait Invoker: Send + Sync + 'static {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, String>>;
}

/// Invoker for functions that are HTTP endpoints (the stub does not call out).
pub struct HttpInvoker {
    functions: BTreeMap<String, String>,
}

impl HttpInvoker {
    pub fn new(functions: BTreeMap<String, String>) -> Self {
        Self { functions }
    }
}

impl Invoker for HttpInvoker {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, String>> {
        let name = function.rsplit(':').next().unwrap_or(function).to_string();
        let url = self.functions.get(&name).cloned();
        Box::pin(async move {
            let url =
                url.ok_or_else(|| format!("Lambda.FunctionNotFound: Function not found: {name}"))?;
            let a = crate::http_client::post(
                &url,
                &[("content-type", "application/json".to_string())],
                payload,
                std::time::Duration::from_secs(300),
            )
            .await
            .map_err(|e| format!("Lambda.InvokeFailed: {e}"))?;
            if a.status != 200 {
                return Err(format!(
                    "Lambda.FunctionError: the function answered {}",
                    a.status
                ));
            }
            Ok(a.body.to_vec())
        })
    }
}

pub struct TransformRecord {
    pub record_id: String,
    pub arrival_millis: i64,
    pub data: Vec<u8>,
    pub kinesis: Option<KinesisRecordMetadata>,
}

pub struct KinesisRecordMetadata {
    pub shard_id: String,
    pub partition_key: String,
    pub sequence_number: String,
    pub sub_sequence_number: u64,
    pub arrival_millis: i64,
}

pub enum TransformResult {
    Ok {
        data: Vec<u8>,
        partition_keys: BTreeMap<String, String>,
    },
    Dropped,
    ProcessingFailed {
        message: String,
    },
}

pub async fn transform(
    invoker: &dyn Invoker,
    function: &str,
    retries: u32,
    delivery_stream_arn: &str,
    region: &str,
    source_stream_arn: Option<&str>,
    records: &[TransformRecord],
) -> Result<Vec<TransformResult>, String> {
    use base64_simd::STANDARD as B64;
    let recs: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            let mut o = serde_json::json!({
                "recordId": r.record_id,
                "approximateArrivalTimestamp": r.arrival_millis,
                "data": B64.encode_to_string(&r.data),
            });
            if let Some(k) = &r.kinesis {
                o["kinesisRecordMetadata"] = serde_json::json!({
                    "shardId": k.shard_id, "partitionKey": k.partition_key,
                    "approximateArrivalTimestamp": k.arrival_millis,
                    "sequenceNumber": k.sequence_number, "subsequenceNumber": k.sub_sequence_number,
                });
            }
            o
        })
        .collect();
    let mut event = serde_json::json!({
        "invocationId": uuid::Uuid::new_v4().to_string(),
        "deliveryStreamArn": delivery_stream_arn,
        "region": region,
        "records": recs,
    });
    if let Some(s) = source_stream_arn {
        event["sourceKinesisStreamArn"] = serde_json::Value::from(s);
    }
    let payload = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
    let mut last = String::new();
    let mut response = None;
    for _ in 0..=retries {
        match invoker.invoke(function, payload.clone()).await {
            Ok(r) => {
                response = Some(r);
                break;
            }
            Err(e) => last = e,
        }
    }
    let response = response.ok_or(last)?;
    let v: serde_json::Value =
        serde_json::from_slice(&response).map_err(|e| format!("Lambda.FunctionError: {e}"))?;
    let out = v
        .get("records")
        .and_then(|r| r.as_array())
        .ok_or("Lambda.MissingRecordId: the response has no records")?;
    let mut by_id = BTreeMap::new();
    for r in out {
        let id = r
            .get("recordId")
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string();
        by_id.insert(id, r);
    }
    if by_id.len() != records.len() {
        return Err("Lambda.DuplicatedRecordId or MissingRecordId".into());
    }
    records
        .iter()
        .map(|rec| {
            let r = by_id
                .get(&rec.record_id)
                .ok_or_else(|| format!("Lambda.MissingRecordId: {}", rec.record_id))?;
            Ok(match r.get("result").and_then(|x| x.as_str()) {
                Some("Ok") => {
                    let data = r.get("data").and_then(|d| d.as_str()).unwrap_or("");
                    let data = B64
                        .decode_to_vec(data)
                        .map_err(|_| "Lambda.InvalidData: data is not base64".to_string())?;
                    let partition_keys = r
                        .pointer("/metadata/partitionKeys")
                        .and_then(|p| p.as_object())
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| {
                                    (
                                        k.clone(),
                                        v.as_str()
                                            .map(str::to_string)
                                            .unwrap_or_else(|| v.to_string()),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    TransformResult::Ok {
                        data,
                        partition_keys,
                    }
                }
                Some("Dropped") => TransformResult::Dropped,
                Some("ProcessingFailed") => TransformResult::ProcessingFailed {
                    message: "The record was marked ProcessingFailed by the function".into(),
                },
                _ => return Err("Lambda.InvalidResult: unknown result".into()),
            })
        })
        .collect()
}
