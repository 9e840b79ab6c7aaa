//! Hand-written JSON for the hot responses (PutRecords, GetRecords): written straight into one
//! buffer, with no intermediate strings per record. Everything else goes through serde.

/// Appends `s` as a JSON string literal.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends an epoch-milliseconds instant as JSON epoch seconds with millisecond precision.
pub fn epoch_seconds(out: &mut Vec<u8>, millis: i64) {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    integer(out, secs);
    if ms != 0 {
        out.push(b'.');
        let digits = [
            b'0' + (ms / 100) as u8,
            b'0' + (ms / 10 % 10) as u8,
            b'0' + (ms % 10) as u8,
        ];
        let len = if digits[2] != b'0' {
            3
        } else if digits[1] != b'0' {
            2
        } else {
            1
        };
        out.extend_from_slice(&digits[..len]);
    }
}

pub fn integer(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `data` as a base64 JSON string.
pub fn base64(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'"');
    let start = out.len();
    let len = base64_simd::STANDARD.encoded_length(data.len());
    out.resize(start + len, 0);
    let _ = base64_simd::STANDARD.encode(data, base64_simd::Out::from_slice(&mut out[start..]));
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn strings_match_serde(s in any::<String>()) {
            let mut out = Vec::new();
            string(&mut out, &s);
            let back: String = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn timestamps_match_serde(ms in 0i64..4_000_000_000_000) {
            let mut out = Vec::new();
            epoch_seconds(&mut out, ms);
            let v: f64 = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!((v * 1000.0).round() as i64, ms);
        }

        #[test]
        fn integers_and_base64(n in any::<i64>(), data in prop::collection::vec(any::<u8>(), 0..100)) {
            let mut out = Vec::new();
            integer(&mut out, n);
            prop_assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
            let mut out = Vec::new();
            base64(&mut out, &data);
            let s: String = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(base64_simd::STANDARD.decode_to_vec(s).unwrap(), data);
        }
    }
}
