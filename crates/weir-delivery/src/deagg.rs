//! Splitting one incoming record into the records Firehose delivers.
//!
//! - [`kpl`]: KPL aggregated records (magic `F3 89 9A C2` + protobuf `AggregatedRecord` + MD5 of
//!   the protobuf). The three messages are decoded by hand — a 100-line proto2 reader is smaller
//!   than a protobuf dependency with code generation. Anything that is not exactly a valid
//!   aggregate (bad magic, bad MD5, malformed protobuf, missing required fields, key indexes out of
//!   range, non-UTF-8 key strings) yields `None`, and the caller delivers the record as it is,
//!   as KCL and Firehose do.
//! - [`json_records`] / [`delimited_records`]: `RecordDeAggregation` processors.
//! - [`cloudwatch_logs`]: the `Decompression` (+ `CloudWatchLogProcessing` message extraction)
//!   processors for CloudWatch Logs subscription payloads.

use std::io::Read;

use md5::{Digest, Md5};

/// The KPL aggregation magic number.
pub const KPL_MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
/// Largest decompressed CloudWatch Logs payload accepted (the compressed payload is at most
/// 1 MiB; this bounds a decompression bomb).
pub const MAX_CLOUDWATCH_DECOMPRESSED: u64 = 64 * 1024 * 1024;

/// One user record of a KPL aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// The user record's partition key (from the aggregate's key table).
    pub partition_key: String,
    /// The user record's explicit hash key, if it has one.
    pub explicit_hash_key: Option<String>,
    /// The user record's data.
    pub data: Vec<u8>,
    /// Index of the user record in the aggregate (KCL's subSequenceNumber).
    pub sub_sequence: u64,
}

/// A minimal proto2 wire-format reader.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first()?;
            self.buf = rest;
            if i == 9 && b > 1 {
                return None;
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Some(head)
    }

    fn skip(&mut self, wire_type: u64) -> Option<()> {
        match wire_type {
            0 => self.varint().map(|_| ()),
            1 => self.advance(8),
            2 => self.bytes().map(|_| ()),
            5 => self.advance(4),
            _ => None, // groups are not used by these messages
        }
    }

    fn advance(&mut self, n: usize) -> Option<()> {
        self.buf = self.buf.get(n..)?;
        Some(())
    }

    /// Next (field number, wire type), or None at the end.
    fn key(&mut self) -> Option<Option<(u64, u64)>> {
        if self.buf.is_empty() {
            return Some(None);
        }
        let key = self.varint()?;
        Some(Some((key >> 3, key & 7)))
    }
}

struct RawRecord<'a> {
    pk_index: u64,
    ehk_index: Option<u64>,
    data: &'a [u8],
}

fn record(buf: &[u8]) -> Option<RawRecord<'_>> {
    let mut r = Reader { buf };
    let (mut pk, mut ehk, mut data) = (None, None, None);
    while let Some((field, wt)) = r.key()? {
        match (field, wt) {
            (1, 0) => pk = Some(r.varint()?),
            (2, 0) => ehk = Some(r.varint()?),
            (3, 2) => data = Some(r.bytes()?),
            _ => r.skip(wt)?, // tags (4) and unknown fields
        }
    }
    Some(RawRecord {
        pk_index: pk?,
        ehk_index: ehk,
        data: data?,
    })
}

/// KPL aggregated record (magic + protobuf + MD5, reference §4.5); None if `data` is not one.
pub fn kpl(data: &[u8]) -> Option<Vec<UserRecord>> {
    if data.len() < KPL_MAGIC.len() + 16 || data[..4] != KPL_MAGIC {
        return None;
    }
    let (proto, digest) = data[4..].split_at(data.len() - 4 - 16);
    if Md5::digest(proto).as_slice() != digest {
        return None;
    }
    let mut r = Reader { buf: proto };
    let mut pks: Vec<&str> = Vec::new();
    let mut ehks: Vec<&str> = Vec::new();
    let mut raws = Vec::new();
    while let Some((field, wt)) = r.key()? {
        match (field, wt) {
            (1, 2) => pks.push(std::str::from_utf8(r.bytes()?).ok()?),
            (2, 2) => ehks.push(std::str::from_utf8(r.bytes()?).ok()?),
            (3, 2) => raws.push(record(r.bytes()?)?),
            _ => r.skip(wt)?,
        }
    }
    raws.into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let pk = pks.get(usize::try_from(raw.pk_index).ok()?)?;
            let ehk = match raw.ehk_index {
                Some(e) => Some(ehks.get(usize::try_from(e).ok()?)?.to_string()),
                None => None,
            };
            Some(UserRecord {
                partition_key: pk.to_string(),
                explicit_hash_key: ehk,
                data: raw.data.to_vec(),
                sub_sequence: i as u64,
            })
        })
        .collect()
}

/// Encodes user records as a KPL aggregate (what the KPL writes): for tests and producers.
pub fn kpl_encode(records: &[UserRecord]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        varint(out, field << 3 | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
    fn index<'a>(table: &mut Vec<&'a str>, key: &'a str) -> u64 {
        let i = table.iter().position(|k| *k == key).unwrap_or_else(|| {
            table.push(key);
            table.len() - 1
        });
        i as u64
    }
    let mut pks: Vec<&str> = Vec::new();
    let mut ehks: Vec<&str> = Vec::new();
    let mut body = Vec::new();
    for r in records {
        let mut rec = Vec::new();
        varint(&mut rec, 1 << 3);
        varint(&mut rec, index(&mut pks, &r.partition_key));
        if let Some(e) = &r.explicit_hash_key {
            varint(&mut rec, 2 << 3);
            varint(&mut rec, index(&mut ehks, e));
        }
        field_bytes(&mut rec, 3, &r.data);
        field_bytes(&mut body, 3, &rec);
    }
    let mut proto = Vec::new();
    for k in &pks {
        field_bytes(&mut proto, 1, k.as_bytes());
    }
    for k in &ehks {
        field_bytes(&mut proto, 2, k.as_bytes());
    }
    proto.extend_from_slice(&body);
    let mut out = KPL_MAGIC.to_vec();
    out.extend_from_slice(&proto);
    out.extend_from_slice(&Md5::digest(&proto));
    out
}

/// ProcessingConfiguration RecordDeAggregation SubRecordType=JSON (concatenated / newline-separated objects).
/// Each sub-record is the exact text of one JSON value (whitespace between values dropped).
/// Err = the data is not a sequence of JSON values.
pub fn json_records(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut stream =
        serde_json::Deserializer::from_slice(data).into_iter::<serde::de::IgnoredAny>();
    let mut start = 0;
    loop {
        // Skip the whitespace before the next value so each record is the value's own text.
        while start < data.len() && data[start].is_ascii_whitespace() {
            start += 1;
        }
        match stream.next() {
            None => break,
            Some(Ok(_)) => {
                let end = stream.byte_offset();
                out.push(data[start..end].to_vec());
                start = end;
            }
            Some(Err(e)) => return Err(format!("The record is not valid JSON: {e}")),
        }
    }
    Ok(out)
}

/// SubRecordType=DELIMITED with the configured Delimiter (already base64-decoded bytes).
/// Empty pieces (e.g. after a trailing delimiter) are not records; an empty delimiter leaves the
/// record whole.
pub fn delimited_records(data: &[u8], delimiter: &[u8]) -> Vec<Vec<u8>> {
    if delimiter.is_empty() {
        return if data.is_empty() {
            Vec::new()
        } else {
            vec![data.to_vec()]
        };
    }
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(pos) = find(rest, delimiter) {
        if pos > 0 {
            out.push(rest[..pos].to_vec());
        }
        rest = &rest[pos + delimiter.len()..];
    }
    if !rest.is_empty() {
        out.push(rest.to_vec());
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogsPayload {
    message_type: String,
    #[serde(default)]
    log_events: Vec<LogEvent>,
}

#[derive(serde::Deserialize)]
struct LogEvent {
    message: String,
}

/// Decompression (CloudWatch Logs subscription payload: gzip JSON; DATA_MESSAGE → one record per
/// log event message when `extract_message`, each ending in a newline so that the delivered
/// object holds one message per line, else the decompressed JSON as one record;
/// CONTROL_MESSAGE → none). Err = not a CloudWatch Logs payload.
pub fn cloudwatch_logs(data: &[u8], extract_message: bool) -> Result<Vec<Vec<u8>>, String> {
    let mut json = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .take(MAX_CLOUDWATCH_DECOMPRESSED + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("The record is not gzip-compressed: {e}"))?;
    if json.len() as u64 > MAX_CLOUDWATCH_DECOMPRESSED {
        return Err("The decompressed record is too large".into());
    }
    let payload: LogsPayload = serde_json::from_slice(&json)
        .map_err(|e| format!("The record is not a CloudWatch Logs payload: {e}"))?;
    match payload.message_type.as_str() {
        "CONTROL_MESSAGE" => Ok(Vec::new()),
        "DATA_MESSAGE" if extract_message => Ok(payload
            .log_events
            .into_iter()
            .map(|e| {
                let mut line = e.message.into_bytes();
                if line.last() != Some(&b'\n') {
                    line.push(b'\n');
                }
                line
            })
            .collect()),
        "DATA_MESSAGE" => Ok(vec![json]),
        other => Err(format!("Unknown CloudWatch Logs messageType {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(pk: &str, ehk: Option<&str>, data: &[u8], i: u64) -> UserRecord {
        UserRecord {
            partition_key: pk.into(),
            explicit_hash_key: ehk.map(Into::into),
            data: data.to_vec(),
            sub_sequence: i,
        }
    }

    #[test]
    fn kpl_round_trip_and_rejections() {
        let records = vec![
            user("a", None, b"one", 0),
            user("b", Some("123"), b"two", 1),
            user("a", None, b"", 2),
        ];
        let agg = kpl_encode(&records);
        assert_eq!(kpl(&agg).unwrap(), records);
        let mut bad = agg.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert_eq!(kpl(&bad), None, "MD5 mismatch");
        assert_eq!(kpl(b"plain record"), None);
        assert_eq!(kpl(&agg[..agg.len() - 17]), None);
    }

    #[test]
    fn kpl_index_out_of_range() {
        // Record with pk index 5 but an empty key table, with a correct MD5.
        let proto = [0x1a, 0x05, 0x08, 0x05, 0x1a, 0x01, b'x'];
        let mut agg = KPL_MAGIC.to_vec();
        agg.extend_from_slice(&proto);
        agg.extend_from_slice(&Md5::digest(proto));
        assert_eq!(kpl(&agg), None);
    }

    #[test]
    fn json_sub_records() {
        let recs = json_records(b"{\"a\":1}{\"b\":[1,2]}\n {\"c\":\"}\"}\n").unwrap();
        assert_eq!(
            recs,
            vec![
                b"{\"a\":1}".to_vec(),
                b"{\"b\":[1,2]}".to_vec(),
                b"{\"c\":\"}\"}".to_vec()
            ]
        );
        assert!(json_records(b"{\"a\":1}{oops").is_err());
        assert!(json_records(b"").unwrap().is_empty());
    }

    #[test]
    fn delimited_sub_records() {
        assert_eq!(
            delimited_records(b"a||b||||c||", b"||"),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        assert_eq!(delimited_records(b"abc", b""), vec![b"abc".to_vec()]);
    }

    fn gz(s: &str) -> Vec<u8> {
        crate::compress::Compression::Gzip.compress(s.as_bytes())
    }

    #[test]
    fn cloudwatch_payloads() {
        let data = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1,"message":"first"},{"id":"2","timestamp":2,"message":"second"}]}"#;
        assert_eq!(
            cloudwatch_logs(&gz(data), true).unwrap(),
            vec![b"first\n".to_vec(), b"second\n".to_vec()]
        );
        assert_eq!(
            cloudwatch_logs(&gz(data), false).unwrap(),
            vec![data.as_bytes().to_vec()]
        );
        let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
        assert!(cloudwatch_logs(&gz(control), true).unwrap().is_empty());
        assert!(cloudwatch_logs(b"not gzip", true).is_err());
        assert!(cloudwatch_logs(&gz("{}"), true).is_err());
    }
}
