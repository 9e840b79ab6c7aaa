//! S3 object keys: prefix validation, evaluation and object names (reference §4.3).

use std::collections::BTreeMap;

use weir_delivery::keys::{error_prefix, object_name, prefix, validate, KeyContext};

// 2018-08-27T10:30:05.123Z (a Monday)
const T: i64 = 1_535_365_805_123;

fn ctx<'a>(
    q: &'a BTreeMap<String, String>,
    l: &'a BTreeMap<String, String>,
    tz: Option<&'a str>,
) -> KeyContext<'a> {
    KeyContext {
        delivery_stream: "my-delivery-stream",
        version: 3,
        arrival_millis: T,
        time_zone: tz,
        query_keys: q,
        lambda_keys: l,
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn dlib_keys_default_and_custom_prefixes() {
    let e = BTreeMap::new();
    let c = ctx(&e, &e, None);
    assert_eq!(prefix(None, &c).unwrap(), "2018/08/27/10/");
    assert_eq!(prefix(Some(""), &c).unwrap(), "2018/08/27/10/");
    assert_eq!(
        prefix(Some("myPrefix/"), &c).unwrap(),
        "myPrefix/2018/08/27/10/"
    );
    assert_eq!(
        prefix(
            Some("myPrefix/!{timestamp:yyyy}/!{timestamp:'month='MM}/"),
            &c
        )
        .unwrap(),
        "myPrefix/2018/month=08/"
    );
    assert_eq!(
        prefix(
            Some("!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/"),
            &c
        )
        .unwrap(),
        "year=2018/month=08/day=27/hour=10/"
    );
}

#[test]
fn dlib_keys_same_instant_and_random_strings() {
    let e = BTreeMap::new();
    let c = ctx(&e, &e, None);
    let p = prefix(Some("!{timestamp:ss.SSS}/!{timestamp:ss.SSS}/!{firehose:random-string}/!{firehose:random-string}/"), &c).unwrap();
    let parts: Vec<&str> = p.split('/').collect();
    assert_eq!(parts[0], "05.123");
    assert_eq!(parts[0], parts[1]);
    assert_eq!(parts[2].len(), 11);
    assert_eq!(parts[3].len(), 11);
    assert!(parts[2]
        .chars()
        .all(|ch| ch.is_ascii_hexdigit() || ch == '-'));
    assert_ne!(parts[2], parts[3], "a new random string per occurrence");
}

#[test]
fn dlib_keys_custom_time_zone() {
    let e = BTreeMap::new();
    let c = ctx(&e, &e, Some("Asia/Tokyo"));
    assert_eq!(prefix(None, &c).unwrap(), "2018/08/27/19/");
    let name = object_name(&c, ".gz");
    assert!(
        name.starts_with("my-delivery-stream-3-2018-08-27-19-30-05-"),
        "{name}"
    );
}

#[test]
fn dlib_keys_dynamic_partitioning() {
    let q = map(&[("customer_id", "c-1"), ("device", "mobile")]);
    let l = map(&[("year", "2024")]);
    let c = ctx(&q, &l, None);
    let p = "customer_id=!{partitionKeyFromQuery:customer_id}/device=!{partitionKeyFromQuery:device}/year=!{partitionKeyFromLambda:year}/";
    // No timestamp is appended to a dynamic-partitioning prefix.
    assert_eq!(
        prefix(Some(p), &c).unwrap(),
        "customer_id=c-1/device=mobile/year=2024/"
    );
    assert_eq!(
        prefix(
            Some("!{partitionKeyFromQuery:customer_id}/!{timestamp:yyyy}/"),
            &c
        )
        .unwrap(),
        "c-1/2018/"
    );
    let err = prefix(Some("!{partitionKeyFromQuery:missing}/"), &c).unwrap_err();
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn dlib_keys_error_prefixes() {
    let e = BTreeMap::new();
    let c = ctx(&e, &e, None);
    // Reference example: no Prefix, ErrorOutputPrefix myFailures/!{firehose:error-output-type}/.
    assert_eq!(
        error_prefix(
            Some("myFailures/!{firehose:error-output-type}/"),
            None,
            "processing-failed",
            &c
        ),
        "myFailures/processing-failed/"
    );
    assert_eq!(
        error_prefix(
            Some("err/!{firehose:error-output-type}/!{timestamp:yyyy}/"),
            Some("x/!{timestamp:yyyy}/"),
            "format-conversion-failed",
            &c
        ),
        "err/format-conversion-failed/2018/"
    );
    // Literal prefix and no ErrorOutputPrefix: <prefix><type>/yyyy/MM/dd/HH/.
    assert_eq!(
        error_prefix(None, Some("logs/"), "processing-failed", &c),
        "logs/processing-failed/2018/08/27/10/"
    );
    assert_eq!(
        error_prefix(None, None, "processing-failed", &c),
        "processing-failed/2018/08/27/10/"
    );
}

#[test]
fn dlib_keys_length_limit() {
    let e = BTreeMap::new();
    let c = ctx(&e, &e, None);
    let long = "a".repeat(500);
    let err = prefix(Some(&long), &c).unwrap_err();
    assert!(err.contains("512"), "{err}");
    assert!(prefix(Some(&"a".repeat(498)), &c).is_ok(), "498 + 14 = 512");
    assert_eq!(
        error_prefix(
            Some(&format!("{long}!{{firehose:error-output-type}}/")),
            None,
            "processing-failed",
            &c
        )
        .len(),
        512
    );
}

#[test]
fn dlib_keys_object_names() {
    let e = BTreeMap::new();
    let c = ctx(&e, &e, None);
    let name = object_name(&c, ".gz");
    let rest = name
        .strip_prefix("my-delivery-stream-3-2018-08-27-10-30-05-")
        .unwrap();
    let uuid = rest.strip_suffix(".gz").unwrap();
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{uuid}");
    assert_eq!(uuid.len(), 36);
    assert_ne!(
        object_name(&c, ""),
        object_name(&c, ""),
        "uuid differs per object"
    );
}

const CONSTRAINT: &str = "Ths supplied prefix(es) do not satisfy the following constraint: ";

#[test]
fn dlib_keys_validation_accepts() {
    validate(None, None, false, None).unwrap();
    validate(Some("logs/"), None, false, None).unwrap();
    validate(Some("logs/"), Some("errors/"), false, None).unwrap();
    validate(
        Some("!{timestamp:yyyy}/"),
        Some("!{firehose:error-output-type}/"),
        false,
        Some("Asia/Tokyo"),
    )
    .unwrap();
    validate(
        Some("!{partitionKeyFromQuery:id}/!{partitionKeyFromLambda:x}/"),
        Some("e/!{firehose:error-output-type}/!{timestamp:yyyy}/"),
        true,
        None,
    )
    .unwrap();
}

#[test]
fn dlib_keys_validation_rejects_with_aws_messages() {
    let err = validate(Some("!{timestamp:yyyy}/"), None, false, None).unwrap_err();
    assert_eq!(err, format!("{CONSTRAINT}ErrorOutputPrefix cannot be null or empty when Prefix contains expressions"));
    let err = validate(Some("!{timestamp:yyyy}/"), Some(""), false, None).unwrap_err();
    assert!(err.contains("cannot be null or empty"), "{err}");
    let err = validate(Some("a/"), Some("e/!{timestamp:yyyy}/"), false, None).unwrap_err();
    assert!(
        err.starts_with(CONSTRAINT)
            && err.contains("ErrorOutputPrefix must contain !{firehose:error-output-type}"),
        "{err}"
    );
    let err = validate(
        Some("a/!{firehose:error-output-type}/"),
        Some("!{firehose:error-output-type}"),
        false,
        None,
    )
    .unwrap_err();
    assert!(
        err.contains("Prefix cannot contain !{firehose:error-output-type}"),
        "{err}"
    );
    let err = validate(
        Some("!{partitionKeyFromQuery:id}/"),
        Some("!{firehose:error-output-type}"),
        false,
        None,
    )
    .unwrap_err();
    assert!(err.contains("dynamic partitioning is disabled"), "{err}");
    let err = validate(
        Some("a/!{timestamp:yyyy}/"),
        Some("!{firehose:error-output-type}"),
        true,
        None,
    )
    .unwrap_err();
    assert!(err.contains("dynamic partitioning is enabled"), "{err}");
    let err = validate(
        Some("!{partitionKeyFromQuery:id}/"),
        Some("!{firehose:error-output-type}/!{partitionKeyFromQuery:id}"),
        true,
        None,
    )
    .unwrap_err();
    assert!(
        err.contains("ErrorOutputPrefix cannot contain partitionKeyFrom"),
        "{err}"
    );
    for bad in [
        "a/!{timestamp:yyyy",
        "a/!{foo:bar}/",
        "!{firehose:whatever}",
        "!{timestamp:yyyy{}",
        "!{nocolon}",
    ] {
        let err = validate(
            Some(bad),
            Some("!{firehose:error-output-type}"),
            false,
            None,
        )
        .unwrap_err();
        assert!(err.starts_with(CONSTRAINT), "{bad}: {err}");
    }
    let err = validate(None, None, false, Some("Mars/Olympus")).unwrap_err();
    assert!(err.contains("Mars/Olympus"), "{err}");
}

#[test]
fn dlib_keys_developer_guide_examples() {
    // The "Prefix and ErrorOutputPrefix examples" table of the Firehose developer guide, at
    // 10:30 UTC on Aug 27, 2018.
    let e = BTreeMap::new();
    let c = ctx(&e, &e, None);
    let p = prefix(
        Some("myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/rand=!{firehose:random-string}"),
        &c,
    )
    .unwrap();
    assert!(
        p.starts_with("myFirehose/DeliveredYear=2018/anyMonth/rand="),
        "{p}"
    );
    assert_eq!(
        p.len(),
        "myFirehose/DeliveredYear=2018/anyMonth/rand=".len() + 11
    );
    assert_eq!(
        error_prefix(
            Some("myFirehoseFailures/!{firehose:error-output-type}/!{timestamp:yyyy}/anyMonth/!{timestamp:dd}"),
            None,
            "processing-failed",
            &c
        ),
        "myFirehoseFailures/processing-failed/2018/anyMonth/27"
    );
    assert_eq!(
        prefix(Some("myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"), &c).unwrap(),
        "myPrefix/year=2018/month=08/day=27/hour=10/"
    );
    assert_eq!(
        error_prefix(
            Some("myErrorPrefix/!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/!{firehose:error-output-type}"),
            None,
            "processing-failed",
            &c
        ),
        "myErrorPrefix/year=2018/month=08/day=27/hour=10/processing-failed"
    );
    let err = validate(Some("!{timestamp:yyyy/MM/dd}"), None, false, None).unwrap_err();
    assert!(
        err.contains("ErrorOutputPrefix cannot be null or empty when Prefix contains expressions")
    );
}

proptest::proptest! {
    #[test]
    fn dlib_keys_never_panic(p in "(\\PC|!\\{|\\}|:|'|timestamp|firehose|partitionKeyFromQuery){0,40}",
                             e in proptest::option::of("(\\PC|!\\{|\\}|:|error-output-type){0,20}"),
                             ms in proptest::num::i64::ANY) {
        let q = map(&[("k", "v")]);
        let c = KeyContext { delivery_stream: "s", version: 1, arrival_millis: ms, time_zone: None, query_keys: &q, lambda_keys: &q };
        let _ = validate(Some(&p), e.as_deref(), false, None);
        let _ = validate(Some(&p), e.as_deref(), true, Some(&p));
        let _ = prefix(Some(&p), &c);
        let _ = error_prefix(e.as_deref(), Some(&p), "processing-failed", &c);
        let _ = object_name(&c, ".gz");
    }

    #[test]
    fn dlib_keys_timestamp_patterns_never_panic(pat in "[A-Za-z'\\[\\]#{} /:-]{0,24}", ms in proptest::num::i64::ANY, tz in proptest::sample::select(vec!["UTC", "Asia/Tokyo", "America/St_Johns", "Asia/Kolkata"])) {
        let q = BTreeMap::new();
        let c = KeyContext { delivery_stream: "s", version: 1, arrival_millis: ms, time_zone: Some(tz), query_keys: &q, lambda_keys: &q };
        let _ = prefix(Some(&format!("!{{timestamp:{pat}}}")), &c);
    }
}
