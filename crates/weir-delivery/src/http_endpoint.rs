//! STUB (engineer DLIB owns this module; their version replaces it at merge).
//! HttpEndpoint destination with Firehose's request/response contract (reference §4.4), over
//! plain HTTP only: POST `{"requestId","timestamp","records":[{"data"}]}`, 200 = delivered,
//! 413 = permanent failure, anything else retried with back-off until `retry_duration`.

use std::time::{Duration, Instant};

pub struct HttpEndpointTarget {
    pub url: String,
    pub name: Option<String>,
    pub access_key: Option<String>,
    pub common_attributes: Vec<(String, String)>,
    pub gzip: bool,
    pub retry_duration: std::time::Duration,
}

pub async fn deliver(
    target: &HttpEndpointTarget,
    source_arn: &str,
    records: &[&[u8]],
) -> Result<(), String> {
    use std::io::Write;
    if target.url.starts_with("https://") {
        return Err("TLS endpoints are not supported by this stub".into());
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let body = serde_json::json!({
        "requestId": request_id,
        "timestamp": now,
        "records": records.iter().map(|r| serde_json::json!({
            "data": base64_simd::STANDARD.encode_to_string(r)
        })).collect::<Vec<_>>(),
    });
    let mut bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    let mut headers = vec![
        ("content-type", "application/json".to_string()),
        ("x-amz-firehose-protocol-version", "1.0".to_string()),
        ("x-amz-firehose-request-id", request_id.clone()),
        ("x-amz-firehose-source-arn", source_arn.to_string()),
    ];
    if let Some(k) = &target.access_key {
        headers.push(("x-amz-firehose-access-key", k.clone()));
    }
    if !target.common_attributes.is_empty() {
        let attrs: serde_json::Map<String, serde_json::Value> = target
            .common_attributes
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect();
        headers.push((
            "x-amz-firehose-common-attributes",
            serde_json::json!({ "commonAttributes": attrs }).to_string(),
        ));
    }
    if target.gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&bytes).map_err(|e| e.to_string())?;
        bytes = e.finish().map_err(|e| e.to_string())?;
        headers.push(("content-encoding", "gzip".to_string()));
    }
    let deadline = Instant::now() + target.retry_duration;
    let mut backoff = Duration::from_secs(1);
    loop {
        let last = match crate::http_client::post(
            &target.url,
            &headers,
            bytes.clone(),
            Duration::from_secs(180),
        )
        .await
        {
            Ok(a) if a.status == 200 => return Ok(()),
            Ok(a) if a.status == 413 => {
                return Err(format!(
                    "The endpoint answered 413: {}",
                    String::from_utf8_lossy(&a.body)
                ))
            }
            Ok(a) => format!("The endpoint answered {}", a.status),
            Err(e) => e,
        };
        if Instant::now() + backoff > deadline {
            return Err(last);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(120));
    }
}
