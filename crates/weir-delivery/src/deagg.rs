//! STUB (engineer DLIB owns this module; their version replaces it at merge).
//! De-aggregation: KPL (not recognised by the stub), JSON and delimited sub-records, and
//! CloudWatch Logs subscription payloads.

use std::io::Read;

pub struct UserRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
    pub sub_sequence: u64,
}

pub fn kpl(_data: &[u8]) -> Option<Vec<UserRecord>> {
    None
}

pub fn json_records(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let stream = serde_json::Deserializer::from_slice(data).into_iter::<serde_json::Value>();
    for v in stream {
        let v = v.map_err(|e| e.to_string())?;
        out.push(serde_json::to_vec(&v).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

pub fn delimited_records(data: &[u8], delimiter: &[u8]) -> Vec<Vec<u8>> {
    if delimiter.is_empty() {
        return vec![data.to_vec()];
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + delimiter.len() <= data.len() {
        if &data[i..i + delimiter.len()] == delimiter {
            out.push(data[start..i].to_vec());
            i += delimiter.len();
            start = i;
        } else {
            i += 1;
        }
    }
    if start < data.len() {
        out.push(data[start..].to_vec());
    }
    out
}

pub fn cloudwatch_logs(data: &[u8], extract_message: bool) -> Result<Vec<Vec<u8>>, String> {
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut text)
        .map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    match v.get("messageType").and_then(|t| t.as_str()) {
        Some("CONTROL_MESSAGE") => Ok(Vec::new()),
        Some("DATA_MESSAGE") if extract_message => Ok(v
            .get("logEvents")
            .and_then(|e| e.as_array())
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| e.get("message").and_then(|m| m.as_str()))
                    .map(|m| format!("{m}\n").into_bytes())
                    .collect()
            })
            .unwrap_or_default()),
        Some("DATA_MESSAGE") => Ok(vec![text]),
        _ => Err("not a CloudWatch Logs payload".into()),
    }
}
