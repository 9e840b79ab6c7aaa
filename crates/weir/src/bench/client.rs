//! A minimal Kinesis JSON client over pooled keep-alive HTTP/1.1 connections.

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone)]
pub struct Kinesis {
    http: Client<HttpConnector, Full<Bytes>>,
    endpoint: http::Uri,
}

/// A placeholder SigV4 header: weir checks its shape; signature verification comes later.
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=weirbench/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000";

impl Kinesis {
    pub fn new(endpoint: &str) -> Result<Self> {
        let endpoint: http::Uri = endpoint.parse().context("--endpoint is not a URL")?;
        if endpoint.scheme_str() != Some("http") {
            bail!("--endpoint must be an http:// URL");
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .build(connector);
        Ok(Self { http, endpoint })
    }

    /// Sends one request; returns the status and the body.
    pub async fn call(&self, op: &str, body: Bytes) -> Result<(u16, Bytes)> {
        let req = http::Request::post(self.endpoint.clone())
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("Kinesis_20131202.{op}"))
            .header("x-amz-date", "20260101T000000Z")
            .header("authorization", AUTHORIZATION)
            .body(Full::new(body))?;
        let resp = self.http.request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    async fn call_ok(&self, op: &str, body: serde_json::Value) -> Result<Bytes> {
        let (status, bytes) = self.call(op, Bytes::from(body.to_string())).await?;
        if status != 200 {
            bail!(
                "{op} failed with {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(bytes)
    }

    /// Creates the stream if it does not exist, waits for ACTIVE, and returns its open shards.
    pub async fn ensure_stream(&self, name: &str, shards: u32) -> Result<Vec<String>> {
        let (status, body) = self
            .call(
                "CreateStream",
                Bytes::from(
                    serde_json::json!({"StreamName": name, "ShardCount": shards}).to_string(),
                ),
            )
            .await?;
        if status != 200 && !String::from_utf8_lossy(&body).contains("ResourceInUseException") {
            bail!(
                "CreateStream failed with {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        for _ in 0..600 {
            let body = self
                .call_ok(
                    "DescribeStreamSummary",
                    serde_json::json!({"StreamName": name}),
                )
                .await?;
            let v: serde_json::Value = serde_json::from_slice(&body)?;
            if v["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE" {
                let body = self
                    .call_ok(
                        "ListShards",
                        serde_json::json!({"StreamName": name, "ShardFilter": {"Type": "AT_LATEST"}}),
                    )
                    .await?;
                let v: serde_json::Value = serde_json::from_slice(&body)?;
                return v["Shards"]
                    .as_array()
                    .ok_or_else(|| anyhow!("ListShards returned no Shards"))?
                    .iter()
                    .map(|s| {
                        s["ShardId"]
                            .as_str()
                            .map(str::to_string)
                            .ok_or_else(|| anyhow!("a shard without ShardId"))
                    })
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("stream {name} did not become ACTIVE")
    }

    pub async fn delete_stream(&self, name: &str) -> Result<()> {
        self.call_ok("DeleteStream", serde_json::json!({"StreamName": name}))
            .await?;
        Ok(())
    }

    pub async fn iterator(&self, stream: &str, shard: &str, kind: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Out {
            #[serde(rename = "ShardIterator")]
            it: String,
        }
        let body = self
            .call_ok(
                "GetShardIterator",
                serde_json::json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": kind}),
            )
            .await?;
        Ok(serde_json::from_slice::<Out>(&body)?.it)
    }
}
