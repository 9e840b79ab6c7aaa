//! Wire types whose encoding differs between awsJson1.1 and CBOR.
//!
//! serde's `is_human_readable` tells the two apart: serde_json says yes, ciborium says no. A
//! [`Blob`] is a base64 string in JSON and a byte string in CBOR; a [`Timestamp`] is epoch seconds
//! (a JSON number, possibly fractional) in JSON and epoch milliseconds (optionally under CBOR tag 1)
//! in CBOR, as the AWS Java SDK writes it.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// Prefix of a serde error whose text is already AWS's message (the codec strips it).
pub(crate) const CORAL: &str = "coral:";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match RawBlob::deserialize(d)? {
            RawBlob::Base64(text) => decode_base64(&text).map(Blob).map_err(de::Error::custom),
            RawBlob::Bytes(bytes) => Ok(Blob(bytes)),
        }
    }
}

/// A blob as it arrives, not yet decoded: base64 text (borrowed from a JSON body unless it
/// had escapes) or CBOR bytes. PutRecords decodes the data of all its records into one buffer
/// (see `ops::put_records`); everything else takes a [`Blob`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawBlob<'a> {
    Base64(Cow<'a, str>),
    Bytes(Vec<u8>),
}

impl RawBlob<'_> {
    /// Appends the decoded bytes to `out`; a bad base64 string is AWS's SerializationException
    /// message, with the [`CORAL`] prefix.
    pub fn decode_into(&self, out: &mut Vec<u8>) -> Result<(), String> {
        match self {
            RawBlob::Base64(text) => {
                if base64_simd::STANDARD
                    .decode_append(text.as_bytes(), out)
                    .is_err()
                {
                    return Err(decode_base64(text).err().unwrap_or_else(|| {
                        format!("{CORAL}'{text}' can not be converted to a Blob")
                    }));
                }
                Ok(())
            }
            RawBlob::Bytes(bytes) => {
                out.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// An upper bound of the decoded length, for sizing a buffer.
    pub fn max_decoded_len(&self) -> usize {
        match self {
            RawBlob::Base64(text) => text.len() / 4 * 3 + 3,
            RawBlob::Bytes(bytes) => bytes.len(),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawBlob<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawBlob<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a base64 string or a byte string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<RawBlob<'de>, E> {
                Ok(RawBlob::Base64(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawBlob<'de>, E> {
                Ok(RawBlob::Base64(Cow::Owned(s.to_string())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawBlob<'de>, E> {
                Err(E::custom(format!(
                    "{CORAL}class java.lang.Boolean can not be converted to a Blob"
                )))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawBlob<'de>, E> {
                Err(E::custom(format!("{CORAL}class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawBlob<'de>, E> {
                self.visit_i64(v as i64)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawBlob<'de>, E> {
                self.visit_i64(0)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<RawBlob<'de>, A::Error> {
                Err(de::Error::custom(format!(
                    "{CORAL}Start of list found where not expected"
                )))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<RawBlob<'de>, A::Error> {
                Err(de::Error::custom(format!(
                    "{CORAL}Start of structure or map found where not expected."
                )))
            }
            fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<RawBlob<'de>, E> {
                Ok(RawBlob::Bytes(b.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, b: Vec<u8>) -> Result<RawBlob<'de>, E> {
                Ok(RawBlob::Bytes(b))
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(V)
        } else {
            // byte_buf, not bytes: ciborium's `deserialize_bytes` only takes strings that fit its
            // 4 KiB scratch buffer and no indefinite-length (chunked) ones.
            d.deserialize_byte_buf(V)
        }
    }
}

/// Standard base64 with padding, as AWS's Coral decodes it, with its error messages.
fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    if let Ok(v) = base64_simd::STANDARD.decode_to_vec(s.as_bytes()) {
        return Ok(v);
    }
    let bad = |detail: String| format!("{CORAL}'{s}' can not be converted to a Blob: {detail}");
    if !s.len().is_multiple_of(4) {
        return Err(bad(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            s.len()
        )));
    }
    let body = s.trim_end_matches('=');
    if let Some(c) = body
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '+' || *c == '/'))
    {
        return Err(bad(format!("Invalid Base64 character: '{c}'")));
    }
    Err(bad("Invalid last non-pad Base64 character dectected".into()))
}

/// Bytes to send as a blob (borrowed from a stored record, no copy).
#[derive(Debug, Clone)]
pub struct BlobOut(pub bytes::Bytes);

impl Serialize for BlobOut {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&base64_simd::STANDARD.encode_to_string(&self.0))
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

/// An instant, held as epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_f64(self.0 as f64 / 1000.0)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            struct V;
            impl Visitor<'_> for V {
                type Value = Timestamp;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("epoch seconds as a number")
                }
                fn visit_str<E: de::Error>(self, _: &str) -> Result<Timestamp, E> {
                    Err(E::custom(format!("{CORAL}class java.lang.String can not be converted to milliseconds since epoch")))
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<Timestamp, E> {
                    Err(E::custom(format!("{CORAL}class java.lang.Boolean can not be converted to milliseconds since epoch")))
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                    if !v.is_finite() || v.abs() > 1e14 {
                        return Err(E::custom("timestamp out of range"));
                    }
                    Ok(Timestamp((v * 1000.0).round() as i64))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                    v.checked_mul(1000)
                        .map(Timestamp)
                        .ok_or_else(|| E::custom("timestamp out of range"))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                    i64::try_from(v)
                        .ok()
                        .and_then(|v| v.checked_mul(1000))
                        .map(Timestamp)
                        .ok_or_else(|| E::custom("timestamp out of range"))
                }
            }
            d.deserialize_any(V)
        } else {
            // CBOR: epoch milliseconds, bare or under tag 1 (int or float).
            let v = ciborium::Value::deserialize(d)?;
            let v = match v {
                ciborium::Value::Tag(_, inner) => *inner,
                v => v,
            };
            match v {
                ciborium::Value::Integer(i) => i64::try_from(i128::from(i))
                    .map(Timestamp)
                    .map_err(|_| de::Error::custom("timestamp out of range")),
                ciborium::Value::Float(f) if f.is_finite() && f.abs() < 1e17 => {
                    Ok(Timestamp(f.round() as i64))
                }
                _ => Err(de::Error::custom("expected a timestamp")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct T {
        b: Option<Blob>,
        t: Option<Timestamp>,
    }

    #[test]
    fn json_blob_is_base64_and_timestamp_is_seconds() {
        let v: T = serde_json::from_str(r#"{"b":"aGVsbG8A","t":1545084650.987}"#).unwrap();
        assert_eq!(v.b.unwrap().0, b"hello\0");
        assert_eq!(v.t.unwrap().0, 1_545_084_650_987);
        let v: T = serde_json::from_str(r#"{"t":1459799926}"#).unwrap();
        assert_eq!(v.t.unwrap().0, 1_459_799_926_000);
        assert!(serde_json::from_str::<T>(r#"{"b":"23456"}"#)
            .unwrap_err()
            .to_string()
            .contains("multiple of 4 bytes but found: 5"));
        assert!(serde_json::from_str::<T>(r#"{"b":"=+/="}"#)
            .unwrap_err()
            .to_string()
            .contains("Invalid Base64 character: '='"));
        assert_eq!(
            serde_json::to_string(&Timestamp(1_545_084_650_987)).unwrap(),
            "1545084650.987"
        );
    }

    #[test]
    fn cbor_blob_is_bytes_and_timestamp_is_millis_maybe_tagged() {
        let mut buf = Vec::new();
        let value = ciborium::Value::Map(vec![
            (
                ciborium::Value::Text("b".into()),
                ciborium::Value::Bytes(vec![1, 2, 3]),
            ),
            (
                ciborium::Value::Text("t".into()),
                ciborium::Value::Tag(
                    1,
                    Box::new(ciborium::Value::Integer(1_500_000_000_123i64.into())),
                ),
            ),
        ]);
        ciborium::into_writer(&value, &mut buf).unwrap();
        let v: T = ciborium::from_reader(buf.as_slice()).unwrap();
        assert_eq!(v.b.unwrap().0, vec![1, 2, 3]);
        assert_eq!(v.t.unwrap().0, 1_500_000_000_123);
    }

    #[test]
    fn cbor_blobs_larger_than_ciborium_scratch_and_chunked_blobs() {
        let big = vec![7u8; 100_000];
        let value = ciborium::Value::Map(vec![(
            ciborium::Value::Text("b".into()),
            ciborium::Value::Bytes(big.clone()),
        )]);
        let mut buf = Vec::new();
        ciborium::into_writer(&value, &mut buf).unwrap();
        let v: T = ciborium::from_reader(buf.as_slice()).unwrap();
        assert_eq!(v.b.unwrap().0, big);
        // {"b": (_ h'0102', h'03')}
        let chunked = [0xa1, 0x61, b'b', 0x5f, 0x42, 1, 2, 0x41, 3, 0xff];
        let v: T = ciborium::from_reader(&chunked[..]).unwrap();
        assert_eq!(v.b.unwrap().0, vec![1, 2, 3]);
    }
}
