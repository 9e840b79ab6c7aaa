//! Model-constraint validation with AWS's wording.
//!
//! AWS checks every member against the service model before the operation runs and reports all
//! violations in one `ValidationException`:
//! `2 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member
//! must have value greater than or equal to 1; Value null at 'streamName' failed to satisfy
//! constraint: Member must not be null`. Member paths are lowerCamel; list members are
//! `records.1.member.partitionKey` (1-based).

use crate::error::ApiError;

#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

pub const STREAM_NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";
pub const HASH_KEY_PATTERN: &str = "0|([1-9]\\d{0,38})";
pub const SEQUENCE_NUMBER_PATTERN: &str = "0|([1-9]\\d{0,128})";
pub const STREAM_ARN_PATTERN: &str = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+";

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, value: Option<&str>, path: &str, constraint: &str) {
        let value = match value {
            Some(v) => format!("'{v}'"),
            None => "null".to_string(),
        };
        self.0.push(format!(
            "Value {value} at '{path}' failed to satisfy constraint: Member {constraint}"
        ));
    }

    pub fn required<T>(&mut self, path: &str, v: &Option<T>) -> bool {
        if v.is_none() {
            self.push(None, path, "must not be null");
            false
        } else {
            true
        }
    }

    /// Length in characters (UTF-16 code units in AWS; chars here) between `min` and `max`.
    pub fn str_len(&mut self, path: &str, v: &str, min: usize, max: usize) {
        let n = v.chars().count();
        if n < min {
            self.push(
                Some(v),
                path,
                &format!("must have length greater than or equal to {min}"),
            );
        } else if n > max {
            self.push(
                Some(v),
                path,
                &format!("must have length less than or equal to {max}"),
            );
        }
    }

    pub fn pattern(&mut self, path: &str, v: &str, ok: bool, pattern: &str) {
        if !ok {
            self.push(
                Some(v),
                path,
                &format!("must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// Pattern first, then length, as AWS lists them.
    pub fn stream_name(&mut self, path: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.pattern(path, v, is_stream_name(v), STREAM_NAME_PATTERN);
            self.str_len(path, v, 1, 128);
        }
    }

    pub fn stream_arn(&mut self, path: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.pattern(path, v, is_stream_arn_shape(v), STREAM_ARN_PATTERN);
            self.str_len(path, v, 1, 2048);
        }
    }

    pub fn shard_id(&mut self, path: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.pattern(path, v, is_stream_name(v), STREAM_NAME_PATTERN);
            self.str_len(path, v, 1, 128);
        }
    }

    /// A sequence number's model pattern `0|([1-9]\d{0,128})`, when present.
    pub fn sequence_number(&mut self, path: &str, v: &Option<String>) {
        if let Some(s) = v {
            let ok = weir_core::sequence::is_valid_sequence_number_shape(s);
            self.pattern(path, s, ok, SEQUENCE_NUMBER_PATTERN);
        }
    }

    pub fn min_i64(&mut self, path: &str, v: i64, min: i64) {
        if v < min {
            self.push(
                Some(&v.to_string()),
                path,
                &format!("must have value greater than or equal to {min}"),
            );
        }
    }

    pub fn range_i64(&mut self, path: &str, v: i64, min: i64, max: i64) {
        if v < min {
            self.push(
                Some(&v.to_string()),
                path,
                &format!("must have value greater than or equal to {min}"),
            );
        } else if v > max {
            self.push(
                Some(&v.to_string()),
                path,
                &format!("must have value less than or equal to {max}"),
            );
        }
    }

    pub fn one_of(&mut self, path: &str, v: &str, set: &[&str]) {
        if !set.contains(&v) {
            self.push(
                Some(v),
                path,
                &format!("must satisfy enum value set: [{}]", set.join(", ")),
            );
        }
    }

    /// A blob's length, printed as AWS prints a Java ByteBuffer.
    pub fn blob_len(&mut self, path: &str, len: usize, max: usize) {
        if len > max {
            self.0.push(format!(
                "Value 'java.nio.HeapByteBuffer[pos=0 lim={len} cap={len}]' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            ));
        }
    }

    /// A list's length; AWS prints the list itself, which we abbreviate.
    pub fn list_len(&mut self, path: &str, len: usize, min: usize, max: usize, shown: &str) {
        if len < min {
            self.0.push(format!(
                "Value '{shown}' at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
            ));
        } else if len > max {
            self.0.push(format!(
                "Value '{shown}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            ));
        }
    }

    /// A violation already worded in full.
    pub fn raw(&mut self, text: String) {
        self.0.push(text);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn finish(self) -> Result<(), ApiError> {
        // AWS reports at most ten violations.
        let shown = &self.0[..self.0.len().min(10)];
        match shown.len() {
            0 => Ok(()),
            n => Err(ApiError::validation(format!(
                "{n} validation error{} detected: {}",
                if n == 1 { "" } else { "s" },
                shown.join("; ")
            ))),
        }
    }
}

pub fn is_stream_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// `arn:aws.*:kinesis:.*:\d{12}:stream/\S+`
pub fn is_stream_arn_shape(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:aws") else {
        return false;
    };
    let Some(kin) = rest.find(":kinesis:") else {
        return false;
    };
    let after = &rest[kin + ":kinesis:".len()..];
    // region (anything) : 12 digits : stream/<non-space>
    let Some(stream_pos) = after.rfind(":stream/") else {
        return false;
    };
    let before = &after[..stream_pos];
    let name = &after[stream_pos + ":stream/".len()..];
    let account = before.rsplit(':').next().unwrap_or("");
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && before.len() > 12
        && !name.is_empty()
        && !name.chars().any(char::is_whitespace)
}

pub fn is_hash_key_shape(s: &str) -> bool {
    s == "0"
        || (!s.is_empty()
            && s.len() <= 39
            && !s.starts_with('0')
            && s.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_aws() {
        let mut v = Violations::new();
        v.min_i64("shardCount", 0, 1);
        v.required("streamName", &None::<String>);
        let e = v.finish().unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert_eq!(
            e.message,
            "2 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; Value null at 'streamName' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn arn_shapes() {
        assert!(is_stream_arn_shape(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s1"
        ));
        assert!(!is_stream_arn_shape(
            "arn:aws:kinesis:us-east-1:123:stream/s1"
        ));
        assert!(!is_stream_arn_shape("arn:aws:s3:::bucket"));
        assert!(!is_stream_arn_shape(
            "arn:aws:kinesis:us-east-1:000000000000:stream/"
        ));
    }
}
