//! STUB (engineer DLIB owns this module; their version replaces it at merge).
//! HttpEndpoint destination with Firehose's request/response contract. The stub always gives up,
//! so the pipeline's fallback (records to the S3 configuration) is what runs on this branch.

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
    _source_arn: &str,
    _records: &[&[u8]],
) -> Result<(), String> {
    Err(format!(
        "HTTP endpoint delivery to {} is not built into this stub",
        target.url
    ))
}
