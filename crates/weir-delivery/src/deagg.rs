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

const KPL_MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];

fn varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Protobuf fields of one message: (field number, wire type, varint value or bytes).
fn fields(b: &[u8]) -> Option<Vec<(u64, u64, &[u8])>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let key = varint(b, &mut i)?;
        match key & 7 {
            0 => {
                let start = i;
                varint(b, &mut i)?;
                out.push((key >> 3, 0, &b[start..i]));
            }
            2 => {
                let len = varint(b, &mut i)? as usize;
                let end = i.checked_add(len).filter(|e| *e <= b.len())?;
                out.push((key >> 3, 2, &b[i..end]));
                i = end;
            }
            _ => return None,
        }
    }
    Some(out)
}

pub fn kpl(data: &[u8]) -> Option<Vec<UserRecord>> {
    use md5::{Digest, Md5};
    let body = data.strip_prefix(&KPL_MAGIC[..])?;
    if body.len() < 16 {
        return None;
    }
    let (proto, digest) = body.split_at(body.len() - 16);
    if Md5::digest(proto).as_slice() != digest {
        return None;
    }
    let mut keys = Vec::new();
    let mut hashes = Vec::new();
    let mut records = Vec::new();
    for (field, wire, v) in fields(proto)? {
        match (field, wire) {
            (1, 2) => keys.push(String::from_utf8(v.to_vec()).ok()?),
            (2, 2) => hashes.push(String::from_utf8(v.to_vec()).ok()?),
            (3, 2) => records.push(v),
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(records.len());
    for (n, r) in records.into_iter().enumerate() {
        let (mut pk, mut ehk, mut payload) = (None, None, None);
        for (field, wire, v) in fields(r)? {
            match (field, wire) {
                (1, 0) => pk = varint(v, &mut 0),
                (2, 0) => ehk = varint(v, &mut 0),
                (3, 2) => payload = Some(v.to_vec()),
                _ => {}
            }
        }
        out.push(UserRecord {
            partition_key: keys.get(pk? as usize)?.clone(),
            explicit_hash_key: match ehk {
                Some(i) => Some(hashes.get(i as usize)?.clone()),
                None => None,
            },
            data: payload?,
            sub_sequence: n as u64,
        });
    }
    Some(out)
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
