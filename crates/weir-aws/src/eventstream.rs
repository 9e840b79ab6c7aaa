//! The `application/vnd.amazon.eventstream` framing that SubscribeToShard answers in.
//!
//! A message is a 12-byte prelude (total length, headers length, CRC-32 of those 8 bytes), the
//! headers, the payload, and a CRC-32 of everything before it. Integers are big-endian; the CRC
//! is IEEE (zlib's). A header is a 1-byte name length, the name, a 1-byte value type (0–9) and
//! the value. The encoder writes one message into one `Bytes` so that a frame goes to the
//! connection in one piece; the decoder exists for tests and checks both CRCs and every length
//! before it trusts any of them.

use bytes::{BufMut, Bytes, BytesMut};

/// botocore refuses larger headers and payloads; weir never sends them.
pub const MAX_HEADERS_LEN: usize = 128 * 1024;
pub const MAX_PAYLOAD_LEN: usize = 24 * 1024 * 1024;
const PRELUDE_LEN: usize = 12;
const TRAILER_LEN: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    ByteArray(Bytes),
    String(String),
    /// Epoch milliseconds.
    Timestamp(i64),
    Uuid([u8; 16]),
}

impl HeaderValue {
    fn type_id(&self) -> u8 {
        match self {
            HeaderValue::Bool(true) => 0,
            HeaderValue::Bool(false) => 1,
            HeaderValue::Byte(_) => 2,
            HeaderValue::Int16(_) => 3,
            HeaderValue::Int32(_) => 4,
            HeaderValue::Int64(_) => 5,
            HeaderValue::ByteArray(_) => 6,
            HeaderValue::String(_) => 7,
            HeaderValue::Timestamp(_) => 8,
            HeaderValue::Uuid(_) => 9,
        }
    }

    fn encoded_len(&self) -> usize {
        1 + match self {
            HeaderValue::Bool(_) => 0,
            HeaderValue::Byte(_) => 1,
            HeaderValue::Int16(_) => 2,
            HeaderValue::Int32(_) => 4,
            HeaderValue::Int64(_) | HeaderValue::Timestamp(_) => 8,
            HeaderValue::ByteArray(b) => 2 + b.len(),
            HeaderValue::String(s) => 2 + s.len(),
            HeaderValue::Uuid(_) => 16,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: HeaderValue,
}

impl Header {
    pub fn string(name: &str, value: &str) -> Self {
        Header {
            name: name.to_string(),
            value: HeaderValue::String(value.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<Header>,
    pub payload: Bytes,
}

impl Message {
    /// The value of a string header, if present.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|h| match &h.value {
            HeaderValue::String(s) if h.name == name => Some(s.as_str()),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("header name {0:?} is empty or longer than 255 bytes")]
    HeaderName(String),
    #[error("header {0:?} has a value longer than 65535 bytes")]
    HeaderValueTooLong(String),
    #[error("headers ({0} bytes) or payload ({1} bytes) over the event-stream limits")]
    TooLarge(usize, usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message truncated")]
    Truncated,
    #[error("prelude CRC mismatch")]
    PreludeCrc,
    #[error("message CRC mismatch")]
    MessageCrc,
    #[error("invalid lengths in prelude")]
    Lengths,
    #[error("malformed header")]
    Header,
}

/// Encodes one message.
pub fn encode(headers: &[Header], payload: &[u8]) -> Result<Bytes, EncodeError> {
    let mut headers_len = 0;
    for h in headers {
        if h.name.is_empty() || h.name.len() > 255 {
            return Err(EncodeError::HeaderName(h.name.clone()));
        }
        let too_long = match &h.value {
            HeaderValue::ByteArray(b) => b.len() > u16::MAX as usize,
            HeaderValue::String(s) => s.len() > u16::MAX as usize,
            _ => false,
        };
        if too_long {
            return Err(EncodeError::HeaderValueTooLong(h.name.clone()));
        }
        headers_len += 1 + h.name.len() + h.value.encoded_len();
    }
    if headers_len > MAX_HEADERS_LEN || payload.len() > MAX_PAYLOAD_LEN {
        return Err(EncodeError::TooLarge(headers_len, payload.len()));
    }
    let total = PRELUDE_LEN + headers_len + payload.len() + TRAILER_LEN;
    let mut out = BytesMut::with_capacity(total);
    out.put_u32(total as u32);
    out.put_u32(headers_len as u32);
    out.put_u32(crc32fast::hash(&out[..8]));
    for h in headers {
        out.put_u8(h.name.len() as u8);
        out.put_slice(h.name.as_bytes());
        out.put_u8(h.value.type_id());
        match &h.value {
            HeaderValue::Bool(_) => {}
            HeaderValue::Byte(v) => out.put_i8(*v),
            HeaderValue::Int16(v) => out.put_i16(*v),
            HeaderValue::Int32(v) => out.put_i32(*v),
            HeaderValue::Int64(v) | HeaderValue::Timestamp(v) => out.put_i64(*v),
            HeaderValue::ByteArray(b) => {
                out.put_u16(b.len() as u16);
                out.put_slice(b);
            }
            HeaderValue::String(s) => {
                out.put_u16(s.len() as u16);
                out.put_slice(s.as_bytes());
            }
            HeaderValue::Uuid(u) => out.put_slice(u),
        }
    }
    out.put_slice(payload);
    let crc = crc32fast::hash(&out);
    out.put_u32(crc);
    Ok(out.freeze())
}

/// An `:message-type event` message, the shape of every Kinesis event.
pub fn event(event_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    encode(
        &[
            Header::string(":message-type", "event"),
            Header::string(":event-type", event_type),
            Header::string(":content-type", content_type),
        ],
        payload,
    )
    .expect("event headers are short")
}

/// An `:message-type exception` message (a modeled error inside the stream).
pub fn exception(exception_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    encode(
        &[
            Header::string(":message-type", "exception"),
            Header::string(":exception-type", exception_type),
            Header::string(":content-type", content_type),
        ],
        payload,
    )
    .expect("exception headers are short")
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Decodes the first message of `buf`: `Ok(None)` when `buf` does not hold a whole message yet,
/// else the message and how many bytes it took.
pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, DecodeError> {
    if buf.len() < PRELUDE_LEN {
        return Ok(None);
    }
    let total = be_u32(&buf[0..4]) as usize;
    let headers_len = be_u32(&buf[4..8]) as usize;
    if crc32fast::hash(&buf[..8]) != be_u32(&buf[8..12]) {
        return Err(DecodeError::PreludeCrc);
    }
    if total < PRELUDE_LEN + TRAILER_LEN
        || headers_len > total - PRELUDE_LEN - TRAILER_LEN
        || headers_len > MAX_HEADERS_LEN
        || total - PRELUDE_LEN - TRAILER_LEN - headers_len > MAX_PAYLOAD_LEN
    {
        return Err(DecodeError::Lengths);
    }
    if buf.len() < total {
        return Ok(None);
    }
    let msg = &buf[..total];
    if crc32fast::hash(&msg[..total - TRAILER_LEN]) != be_u32(&msg[total - TRAILER_LEN..]) {
        return Err(DecodeError::MessageCrc);
    }
    let headers = decode_headers(&msg[PRELUDE_LEN..PRELUDE_LEN + headers_len])?;
    let payload = Bytes::copy_from_slice(&msg[PRELUDE_LEN + headers_len..total - TRAILER_LEN]);
    Ok(Some((Message { headers, payload }, total)))
}

fn decode_headers(mut b: &[u8]) -> Result<Vec<Header>, DecodeError> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], DecodeError> {
        if b.len() < n {
            return Err(DecodeError::Header);
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Ok(head)
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let name_len = take(&mut b, 1)?[0] as usize;
        let name = std::str::from_utf8(take(&mut b, name_len)?)
            .map_err(|_| DecodeError::Header)?
            .to_string();
        let ty = take(&mut b, 1)?[0];
        let value = match ty {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(take(&mut b, 1)?[0] as i8),
            3 => HeaderValue::Int16(i16::from_be_bytes(
                take(&mut b, 2)?.try_into().expect("2 bytes"),
            )),
            4 => HeaderValue::Int32(i32::from_be_bytes(
                take(&mut b, 4)?.try_into().expect("4 bytes"),
            )),
            5 | 8 => {
                let v = i64::from_be_bytes(take(&mut b, 8)?.try_into().expect("8 bytes"));
                if ty == 5 {
                    HeaderValue::Int64(v)
                } else {
                    HeaderValue::Timestamp(v)
                }
            }
            6 | 7 => {
                let len = u16::from_be_bytes(take(&mut b, 2)?.try_into().expect("2 bytes"));
                let raw = take(&mut b, len as usize)?;
                if ty == 6 {
                    HeaderValue::ByteArray(Bytes::copy_from_slice(raw))
                } else {
                    HeaderValue::String(
                        std::str::from_utf8(raw)
                            .map_err(|_| DecodeError::Header)?
                            .to_string(),
                    )
                }
            }
            9 => HeaderValue::Uuid(take(&mut b, 16)?.try_into().expect("16 bytes")),
            _ => return Err(DecodeError::Header),
        };
        out.push(Header { name, value });
    }
    Ok(out)
}

/// Splits a byte stream into messages as they complete (for tests and tools).
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole message, if one has arrived.
    pub fn next_message(&mut self) -> Result<Option<Message>, DecodeError> {
        match decode(&self.buf)? {
            None => Ok(None),
            Some((m, used)) => {
                let _ = self.buf.split_to(used);
                Ok(Some(m))
            }
        }
    }

    /// Bytes received that are not yet a whole message.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_from_the_aws_spec() {
        // The "empty message" test vector of the AWS event-stream spec: 16 bytes, no headers.
        let m = encode(&[], b"").unwrap();
        assert_eq!(
            &m[..],
            &[0, 0, 0, 0x10, 0, 0, 0, 0, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff]
        );
        let (back, used) = decode(&m).unwrap().unwrap();
        assert_eq!(used, 16);
        assert!(back.headers.is_empty() && back.payload.is_empty());
    }

    #[test]
    fn event_helper_headers() {
        let m = event("initial-response", "application/x-amz-json-1.1", b"{}");
        let (back, _) = decode(&m).unwrap().unwrap();
        assert_eq!(back.header_str(":message-type"), Some("event"));
        assert_eq!(back.header_str(":event-type"), Some("initial-response"));
        assert_eq!(&back.payload[..], b"{}");
    }
}
