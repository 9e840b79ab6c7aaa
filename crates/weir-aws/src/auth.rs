//! Authentication, in one layer. Today it checks that a request carries SigV4 credentials in the
//! shape AWS requires (an `Authorization` header or presigned query parameters) and answers as
//! AWS does when they are missing or incomplete; signature verification lands here later.

use crate::error::ApiError;
use http::HeaderMap;

pub fn check(headers: &HeaderMap, query: Option<&str>) -> Result<(), ApiError> {
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let query_params: Vec<(&str, &str)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let has_query_auth = query_params.iter().any(|(k, _)| *k == "X-Amz-Algorithm");
    match (auth, has_query_auth) {
        (Some(_), true) => Err(ApiError::new(
            "InvalidSignatureException",
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
        )),
        (None, false) => Err(ApiError::new(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )),
        (Some(header), false) => check_header(&header, headers),
        (None, true) => {
            let mut msg = String::new();
            for name in [
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-Signature",
                "X-Amz-SignedHeaders",
                "X-Amz-Date",
            ] {
                if !query_params.iter().any(|(k, _)| *k == name) {
                    msg.push_str(&format!("AWS query-string parameters must include '{name}'. "));
                }
            }
            if msg.is_empty() {
                Ok(())
            } else {
                msg.push_str("Re-examine the query-string parameters.");
                Err(ApiError::new("IncompleteSignatureException", msg))
            }
        }
    }
}

fn check_header(header: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    let params: Vec<&str> = header
        .split_once(' ')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .collect();
    let has = |k: &str| {
        params
            .iter()
            .any(|p| p.split_once('=').is_some_and(|(n, _)| n == k))
    };
    let mut msg = String::new();
    for (key, text) in [
        (
            "Credential",
            "Authorization header requires 'Credential' parameter. ",
        ),
        (
            "Signature",
            "Authorization header requires 'Signature' parameter. ",
        ),
        (
            "SignedHeaders",
            "Authorization header requires 'SignedHeaders' parameter. ",
        ),
    ] {
        if !has(key) {
            msg.push_str(text);
        }
    }
    if !headers.contains_key("x-amz-date") && !headers.contains_key(http::header::DATE) {
        msg.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if msg.is_empty() {
        return Ok(());
    }
    msg.push_str("Authorization=");
    msg.push_str(header);
    Err(ApiError::new("IncompleteSignatureException", msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_header_lists_what_is_missing() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "X".parse().unwrap());
        let e = check(&h, None).unwrap_err();
        assert_eq!(e.code, "IncompleteSignatureException");
        assert_eq!(e.message, "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=X");
    }

    #[test]
    fn boto3_style_header_passes() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd".parse().unwrap());
        h.insert("x-amz-date", "20240101T000000Z".parse().unwrap());
        assert!(check(&h, None).is_ok());
        assert_eq!(
            check(&HeaderMap::new(), None).unwrap_err().code,
            "MissingAuthenticationTokenException"
        );
    }
}
