//! The building blocks composed the way a pipeline uses them: a KPL aggregate from a Kinesis
//! source is de-aggregated, partitioned by a jq query, named, compressed and written to a bucket
//! directory, then read back.

use std::collections::BTreeMap;
use std::io::Read;

use bytes::Bytes;
use weir_delivery::compress::Compression;
use weir_delivery::deagg::{kpl, kpl_encode, UserRecord};
use weir_delivery::keys::{object_name, prefix, validate, KeyContext};
use weir_delivery::partition::Extractor;
use weir_delivery::sink::{bucket_name, Buckets};

#[tokio::test]
async fn dlib_flow_kpl_to_partitioned_gzip_objects() {
    let users: Vec<UserRecord> = [("a", 1), ("b", 2), ("a", 3)]
        .iter()
        .map(|(c, n)| UserRecord {
            partition_key: format!("pk{n}"),
            explicit_hash_key: None,
            data: format!("{{\"customer\":\"{c}\",\"n\":{n}}}").into_bytes(),
            sub_sequence: 0,
        })
        .collect();
    let aggregate = kpl_encode(&users);
    let records = kpl(&aggregate).expect("an aggregate");
    assert_eq!(records.len(), 3);

    let p = "customer=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy}/";
    let e = "errors/!{firehose:error-output-type}/";
    validate(Some(p), Some(e), true, Some("UTC")).unwrap();
    let extractor = Extractor::new("{customer: .customer}").unwrap();

    // Group by evaluated prefix, as dynamic partitioning does.
    let empty = BTreeMap::new();
    let mut groups: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for r in &records {
        let keys = extractor.extract(&r.data).unwrap();
        let ctx = KeyContext {
            delivery_stream: "ds",
            version: 1,
            arrival_millis: 1_700_000_000_000,
            time_zone: None,
            query_keys: &keys,
            lambda_keys: &empty,
        };
        let body = groups.entry(prefix(Some(p), &ctx).unwrap()).or_default();
        body.extend_from_slice(&r.data);
        body.push(b'\n');
    }
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        vec!["customer=a/2023/", "customer=b/2023/"]
    );

    let dir = tempfile::tempdir().unwrap();
    let buckets = Buckets::new(dir.path(), BTreeMap::new());
    let bucket = bucket_name("arn:aws:s3:::lake").unwrap();
    for (prefix, body) in &groups {
        let ctx = KeyContext {
            delivery_stream: "ds",
            version: 1,
            arrival_millis: 1_700_000_000_000,
            time_zone: None,
            query_keys: &empty,
            lambda_keys: &empty,
        };
        let key = format!(
            "{prefix}{}",
            object_name(&ctx, Compression::Gzip.extension())
        );
        buckets
            .put(bucket, &key, Bytes::from(Compression::Gzip.compress(body)))
            .await
            .unwrap();
    }
    let keys = buckets.list(bucket, "customer=a/").await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].starts_with("customer=a/2023/ds-1-2023-11-14-22-13-20-")
            && keys[0].ends_with(".gz"),
        "{}",
        keys[0]
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(&buckets.get(bucket, &keys[0]).await.unwrap()[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(
        text,
        "{\"customer\":\"a\",\"n\":1}\n{\"customer\":\"a\",\"n\":3}\n"
    );
}
