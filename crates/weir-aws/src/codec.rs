//! Request and response bodies in awsJson1.1 or CBOR; a response uses the encoding of its request.

use crate::error::ApiError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Cbor,
}

impl Encoding {
    /// The encoding a `Content-Type` asks for; `None` for types AWS does not serve.
    pub fn from_content_type(ct: Option<&str>) -> Option<Encoding> {
        let ct = ct?.split(';').next()?.trim().to_ascii_lowercase();
        match ct.as_str() {
            "application/x-amz-json-1.1" | "application/x-amz-json-1.0" | "application/json" => {
                Some(Encoding::Json)
            }
            "application/x-amz-cbor-1.1" | "application/cbor" => Some(Encoding::Cbor),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/x-amz-json-1.1",
            Encoding::Cbor => "application/x-amz-cbor-1.1",
        }
    }
}

pub fn decode<T: DeserializeOwned>(enc: Encoding, body: &[u8]) -> Result<T, ApiError> {
    match enc {
        Encoding::Json => decode_json(body),
        Encoding::Cbor => {
            if !matches!(body.first(), Some(b) if (b >> 5) == 5) {
                return Err(ApiError::serialization(""));
            }
            ciborium::from_reader(body).map_err(|e| decode_error(&e.to_string()))
        }
    }
}

/// Decodes an awsJson1.1 body into a type that may borrow from it.
pub fn decode_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::serialization(""));
    }
    serde_json::from_slice(body).map_err(|e| decode_error(&e.to_string()))
}

/// The error for a serde message, translated to AWS's wording where it has one.
pub(crate) fn decode_error(detail: &str) -> ApiError {
    let detail = strip_position(detail);
    if let Some(msg) = detail.strip_prefix(crate::types::CORAL) {
        return ApiError::serialization(msg.to_string());
    }
    match coral_type_message(detail) {
        Some(msg) => ApiError::serialization(msg),
        // Malformed JSON or CBOR: AWS answers a bare SerializationException.
        None => ApiError::serialization(""),
    }
}

/// serde_json appends " at line L column C"; AWS's messages carry no position.
fn strip_position(s: &str) -> &str {
    match s.rfind(" at line ") {
        Some(i) => &s[..i],
        None => s,
    }
}

/// Translates serde's "invalid type: X, expected Y" into the message AWS's Coral front end gives
/// for the same mistake ("class java.lang.String can not be converted to an Integer").
fn coral_type_message(detail: &str) -> Option<String> {
    let rest = detail.strip_prefix("invalid type: ")?;
    let (found, expected) = rest.split_once(", expected ")?;
    let target = if expected.starts_with("a string") {
        "an String"
    } else if expected.starts_with('i') || expected.starts_with('u') {
        "an Integer"
    } else if expected.starts_with("a boolean") {
        "an Boolean"
    } else if expected.starts_with("a sequence") {
        return Some(match found {
            "map" => "Start of structure or map found where not expected.".into(),
            _ => "Expected list or null".into(),
        });
    } else if expected.starts_with("a map") {
        return Some(match found {
            "sequence" => "Start of list found where not expected".into(),
            _ => "Expected map or null".into(),
        });
    } else if expected.starts_with("struct ") {
        return Some(match found {
            "sequence" => "Start of list found where not expected".into(),
            _ => "Expected null".into(),
        });
    } else {
        return None;
    };
    if target == "an Boolean" {
        if let Some(text) = found
            .strip_prefix("string \"")
            .and_then(|t| t.strip_suffix('"'))
        {
            return Some(format!(
                "'{}' can not be converted to an Boolean",
                text.to_uppercase()
            ));
        }
    }
    let class = if found.starts_with("string") {
        "java.lang.String"
    } else if found.starts_with("boolean") {
        "java.lang.Boolean"
    } else if found.starts_with("integer") || found.starts_with("floating point") {
        "com.amazon.coral.value.json.numbers.TruncatingBigNumber"
    } else if found == "sequence" {
        return Some("Start of list found where not expected".into());
    } else if found == "map" {
        return Some("Start of structure or map found where not expected.".into());
    } else {
        return None;
    };
    Some(format!("class {class} can not be converted to {target}"))
}

pub fn encode<T: Serialize>(enc: Encoding, v: &T) -> Vec<u8> {
    match enc {
        Encoding::Json => serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec()),
        Encoding::Cbor => {
            let mut out = Vec::new();
            if ciborium::into_writer(v, &mut out).is_err() {
                out = vec![0xa0];
            }
            out
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    ty: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    /// Coral's serialization errors spell the key with a capital M.
    #[serde(rename = "Message", skip_serializing_if = "Option::is_none")]
    message_capital: Option<&'a str>,
}

pub fn encode_error(enc: Encoding, e: &ApiError) -> Vec<u8> {
    let text = (!e.message.is_empty()).then_some(e.message.as_str());
    let serialization = e.code == "SerializationException";
    encode(
        enc,
        &ErrorBody {
            ty: e.code,
            message: if serialization { None } else { text },
            message_capital: if serialization { text } else { None },
        },
    )
}

/// An operation's empty output, `{}`.
#[derive(Serialize, Debug, Default)]
pub struct Empty {}
