//! Firehose through the real server with aws-sdk-firehose: every kind of delivery stream,
//! AWS's shapes and errors, objects delivered byte for byte, and no acknowledged record lost to
//! a kill -9.

mod common;

use aws_sdk_firehose::config::retry::RetryConfig;
use aws_sdk_firehose::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_firehose::error::ProvideErrorMetadata;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DeliveryStreamStatus, DeliveryStreamType,
    ExtendedS3DestinationConfiguration, ExtendedS3DestinationUpdate, HttpEndpointConfiguration,
    HttpEndpointDestinationConfiguration, KinesisStreamSourceConfiguration, Record,
    S3DestinationConfiguration, Tag,
};
use aws_sdk_firehose::Client;
use common::*;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ROLE: &str = "arn:aws:iam::000000000000:role/firehose";

fn firehose(server: &Server) -> Client {
    let conf = aws_sdk_firehose::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            "AKIDWEIRTEST",
            "weir-test-secret",
            None,
            None,
            "t",
        ))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(conf)
}

fn s3(bucket: &str, size: i32, interval: i32) -> ExtendedS3DestinationConfiguration {
    ExtendedS3DestinationConfiguration::builder()
        .role_arn(ROLE)
        .bucket_arn(format!("arn:aws:s3:::{bucket}"))
        .buffering_hints(
            BufferingHints::builder()
                .size_in_mbs(size)
                .interval_in_seconds(interval)
                .build(),
        )
        .build()
        .unwrap()
}

async fn wait_status(c: &Client, name: &str, want: DeliveryStreamStatus) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = c
            .describe_delivery_stream()
            .delivery_stream_name(name)
            .send()
            .await
            .unwrap();
        if d.delivery_stream_description()
            .unwrap()
            .delivery_stream_status()
            == &want
        {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never became {want:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every object under `root` (key relative to it → bytes).
/// A file being written: object_store's staging name (`<key>#<n>`) or a dot-file.
fn is_staging(name: &str) -> bool {
    name.starts_with('.')
        || name
            .rsplit_once('#')
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn objects(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if !is_staging(&e.file_name().to_string_lossy()) {
                // A staging file may be renamed into place between listing and reading.
                if let Ok(body) = std::fs::read(&p) {
                    let key = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
                    out.insert(key, body);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn bucket_dir(server: &Server, bucket: &str) -> PathBuf {
    server.data_dir().join("s3").join(bucket)
}

/// Waits until the objects under `root` hold `want` bytes in total.
async fn wait_objects(root: &Path, want: usize) -> BTreeMap<String, Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let o = objects(root);
        if o.values().map(Vec::len).sum::<usize>() >= want {
            return o;
        }
        assert!(
            Instant::now() < deadline,
            "only {:?} under {}",
            o.keys(),
            root.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[allow(deprecated)] // S3DestinationConfiguration: deprecated by AWS, still served.
async fn control_plane_shapes_statuses_and_paging() {
    let server = Server::start_with(&["--creating-delay-ms", "300"]);
    let c = firehose(&server);
    let arn = c
        .create_delivery_stream()
        .delivery_stream_name("cp-1")
        .extended_s3_destination_configuration(
            ExtendedS3DestinationConfiguration::builder()
                .role_arn(ROLE)
                .bucket_arn("arn:aws:s3:::cp")
                .build()
                .unwrap(),
        )
        .tags(Tag::builder().key("team").value("data").build().unwrap())
        .send()
        .await
        .unwrap()
        .delivery_stream_arn
        .unwrap();
    assert_eq!(
        arn,
        "arn:aws:firehose:us-east-1:000000000000:deliverystream/cp-1"
    );
    let d = c
        .describe_delivery_stream()
        .delivery_stream_name("cp-1")
        .send()
        .await
        .unwrap();
    let d = d.delivery_stream_description().unwrap();
    assert_eq!(d.delivery_stream_status(), &DeliveryStreamStatus::Creating);
    wait_status(&c, "cp-1", DeliveryStreamStatus::Active).await;
    let d = c
        .describe_delivery_stream()
        .delivery_stream_name("cp-1")
        .send()
        .await
        .unwrap();
    let d = d.delivery_stream_description().unwrap();
    assert_eq!(d.delivery_stream_type(), &DeliveryStreamType::DirectPut);
    assert_eq!(d.version_id(), "1");
    assert!(!d.has_more_destinations());
    assert!(d.create_timestamp().is_some());
    assert_eq!(
        d.delivery_stream_encryption_configuration()
            .unwrap()
            .status()
            .unwrap()
            .as_str(),
        "DISABLED"
    );
    let dest = &d.destinations()[0];
    assert_eq!(dest.destination_id(), "destinationId-000000000001");
    let x = dest.extended_s3_destination_description().unwrap();
    assert_eq!(x.bucket_arn(), "arn:aws:s3:::cp");
    assert_eq!(x.buffering_hints().unwrap().size_in_mbs(), Some(5));
    assert_eq!(
        x.buffering_hints().unwrap().interval_in_seconds(),
        Some(300)
    );
    assert_eq!(x.compression_format(), &CompressionFormat::Uncompressed);
    assert_eq!(
        x.encryption_configuration()
            .unwrap()
            .no_encryption_config()
            .unwrap()
            .as_str(),
        "NoEncryption"
    );
    assert_eq!(x.s3_backup_mode().unwrap().as_str(), "Disabled");
    assert_eq!(
        x.cloud_watch_logging_options().unwrap().enabled(),
        Some(false)
    );
    assert!(dest.s3_destination_description().is_some());

    // Listing: paging and the type filter.
    for n in ["cp-2", "cp-3"] {
        c.create_delivery_stream()
            .delivery_stream_name(n)
            .s3_destination_configuration(
                S3DestinationConfiguration::builder()
                    .role_arn(ROLE)
                    .bucket_arn("arn:aws:s3:::cp")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let page = c.list_delivery_streams().limit(2).send().await.unwrap();
    assert_eq!(page.delivery_stream_names(), ["cp-1", "cp-2"]);
    assert!(page.has_more_delivery_streams());
    let page = c
        .list_delivery_streams()
        .exclusive_start_delivery_stream_name("cp-2")
        .send()
        .await
        .unwrap();
    assert_eq!(page.delivery_stream_names(), ["cp-3"]);
    assert!(!page.has_more_delivery_streams());
    let page = c
        .list_delivery_streams()
        .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
        .send()
        .await
        .unwrap();
    assert!(page.delivery_stream_names().is_empty());

    // UpdateDestination: compare-and-set on the version id.
    wait_status(&c, "cp-2", DeliveryStreamStatus::Active).await;
    let err = c
        .update_destination()
        .delivery_stream_name("cp-2")
        .current_delivery_stream_version_id("7")
        .destination_id("destinationId-000000000001")
        .extended_s3_destination_update(ExtendedS3DestinationUpdate::builder().prefix("p/").build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ConcurrentModificationException"));
    assert_eq!(
        err.message(),
        Some("Cannot update firehose: cp-2 since the current version id: 1 and specified version id: 7 do not match")
    );
    c.update_destination()
        .delivery_stream_name("cp-2")
        .current_delivery_stream_version_id("1")
        .destination_id("destinationId-000000000001")
        .extended_s3_destination_update(
            ExtendedS3DestinationUpdate::builder()
                .prefix("p/")
                .compression_format(CompressionFormat::Gzip)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let d = c
        .describe_delivery_stream()
        .delivery_stream_name("cp-2")
        .send()
        .await
        .unwrap();
    let d = d.delivery_stream_description().unwrap();
    assert_eq!(d.version_id(), "2");
    let x = d.destinations()[0]
        .extended_s3_destination_description()
        .unwrap();
    assert_eq!(x.prefix(), Some("p/"));
    assert_eq!(x.compression_format(), &CompressionFormat::Gzip);
    assert_eq!(x.buffering_hints().unwrap().size_in_mbs(), Some(5));

    // Tags.
    let tags = c
        .list_tags_for_delivery_stream()
        .delivery_stream_name("cp-1")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].key(), "team");
    let many: Vec<Tag> = (0..50)
        .map(|i| {
            Tag::builder()
                .key(format!("k{i:02}"))
                .value("v")
                .build()
                .unwrap()
        })
        .collect();
    let err = c
        .tag_delivery_stream()
        .delivery_stream_name("cp-1")
        .set_tags(Some(many.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("LimitExceededException"), "{err:?}");
    c.untag_delivery_stream()
        .delivery_stream_name("cp-1")
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    c.tag_delivery_stream()
        .delivery_stream_name("cp-1")
        .set_tags(Some(many))
        .send()
        .await
        .unwrap();
    let page = c
        .list_tags_for_delivery_stream()
        .delivery_stream_name("cp-1")
        .limit(10)
        .send()
        .await
        .unwrap();
    assert_eq!(page.tags().len(), 10);
    assert!(page.has_more_tags());

    // Encryption status.
    c.start_delivery_stream_encryption()
        .delivery_stream_name("cp-1")
        .send()
        .await
        .unwrap();
    let d = c
        .describe_delivery_stream()
        .delivery_stream_name("cp-1")
        .send()
        .await
        .unwrap();
    let e = d
        .delivery_stream_description()
        .unwrap()
        .delivery_stream_encryption_configuration()
        .unwrap();
    assert_eq!(e.status().unwrap().as_str(), "ENABLED");
    assert_eq!(e.key_type().unwrap().as_str(), "AWS_OWNED_CMK");
    c.stop_delivery_stream_encryption()
        .delivery_stream_name("cp-1")
        .send()
        .await
        .unwrap();

    // Delete: DELETING, then gone.
    c.delete_delivery_stream()
        .delivery_stream_name("cp-3")
        .send()
        .await
        .unwrap();
    let d = c
        .describe_delivery_stream()
        .delivery_stream_name("cp-3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.delivery_stream_description()
            .unwrap()
            .delivery_stream_status(),
        &DeliveryStreamStatus::Deleting
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c
            .describe_delivery_stream()
            .delivery_stream_name("cp-3")
            .send()
            .await
        {
            Err(e) => {
                assert_eq!(e.code(), Some("ResourceNotFoundException"));
                assert_eq!(
                    e.message(),
                    Some("Firehose cp-3 under account 000000000000 not found.")
                );
                break;
            }
            Ok(_) => assert!(Instant::now() < deadline, "never deleted"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Definitions survive a restart.
    drop(c);
    let mut server = server;
    server.restart();
    let c = firehose(&server);
    let page = c.list_delivery_streams().send().await.unwrap();
    assert_eq!(page.delivery_stream_names(), ["cp-1", "cp-2"]);
    let d = c
        .describe_delivery_stream()
        .delivery_stream_name("cp-2")
        .send()
        .await
        .unwrap();
    assert_eq!(d.delivery_stream_description().unwrap().version_id(), "2");
    let tags = c
        .list_tags_for_delivery_stream()
        .delivery_stream_name("cp-1")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 50);
}

#[tokio::test]
async fn errors_as_aws_words_them() {
    let server = Server::start();
    let c = firehose(&server);
    let err = c
        .describe_delivery_stream()
        .delivery_stream_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert_eq!(
        err.message(),
        Some("Firehose nope under account 000000000000 not found.")
    );
    c.create_delivery_stream()
        .delivery_stream_name("dup")
        .extended_s3_destination_configuration(s3("b", 1, 60))
        .send()
        .await
        .unwrap();
    let err = c
        .create_delivery_stream()
        .delivery_stream_name("dup")
        .extended_s3_destination_configuration(s3("b", 1, 60))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceInUseException"));
    assert_eq!(
        err.message(),
        Some("Firehose dup under accountId 000000000000 already exists")
    );
    let err = c
        .create_delivery_stream()
        .delivery_stream_name("bad name")
        .extended_s3_destination_configuration(s3("b", 200, 901))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert_eq!(
        err.message(),
        Some("3 validation errors detected: Value 'bad name' at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '200' at 'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 128; Value '901' at 'extendedS3DestinationConfiguration.bufferingHints.intervalInSeconds' failed to satisfy constraint: Member must have value less than or equal to 900")
    );
    let err = c
        .create_delivery_stream()
        .delivery_stream_name("nodest")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidArgumentException"), "{err:?}");
    let batch: Vec<Record> = (0..501)
        .map(|_| Record::builder().data(Blob::new("x")).build().unwrap())
        .collect();
    let err = c
        .put_record_batch()
        .delivery_stream_name("dup")
        .set_records(Some(batch))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert!(err.message().unwrap().contains("at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"), "{err:?}");
    let err = c
        .put_record()
        .delivery_stream_name("dup")
        .record(
            Record::builder()
                .data(Blob::new(vec![0u8; 1_024_001]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert!(err.message().unwrap().contains("at 'record.data' failed to satisfy constraint: Member must have length less than or equal to 1024000"), "{err:?}");
    let err = c
        .put_record()
        .delivery_stream_name("missing")
        .record(Record::builder().data(Blob::new("x")).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

/// The objects hold exactly the expected lines, each object in put order. (Objects written in
/// the same second have keys that differ only in their UUID, so their order is not defined.)
fn assert_same_records(bodies: Vec<Vec<u8>>, expected: &[u8]) {
    let mut got: Vec<&[u8]> = Vec::new();
    for body in &bodies {
        let mut pos = 0;
        for line in body.split_inclusive(|b| *b == b'\n') {
            let at = expected[pos..]
                .windows(line.len())
                .position(|w| w == line)
                .expect("a line out of put order within one object");
            pos += at + line.len();
            got.push(line);
        }
    }
    got.sort();
    let mut want: Vec<&[u8]> = expected.split_inclusive(|b| *b == b'\n').collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn direct_put_delivers_json_lines_and_gzip_byte_for_byte() {
    let server = Server::start();
    let c = firehose(&server);
    c.create_delivery_stream()
        .delivery_stream_name("lines")
        .extended_s3_destination_configuration(s3("plain", 1, 0))
        .send()
        .await
        .unwrap();
    let mut gz = s3("zipped", 1, 0);
    gz.compression_format = Some(CompressionFormat::Gzip);
    gz.prefix = Some("gz/".into());
    c.create_delivery_stream()
        .delivery_stream_name("gzipped")
        .extended_s3_destination_configuration(gz)
        .send()
        .await
        .unwrap();
    let mut expected = Vec::new();
    for name in ["lines", "gzipped"] {
        let one = c
            .put_record()
            .delivery_stream_name(name)
            .record(
                Record::builder()
                    .data(Blob::new("{\"n\":0}\n"))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert!(!one.record_id().is_empty());
        let batch: Vec<Record> = (1..=100)
            .map(|i| {
                Record::builder()
                    .data(Blob::new(format!("{{\"n\":{i}}}\n")))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = c
            .put_record_batch()
            .delivery_stream_name(name)
            .set_records(Some(batch))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_put_count(), 0);
        assert_eq!(out.request_responses().len(), 100);
        let ids: std::collections::HashSet<_> = out
            .request_responses()
            .iter()
            .map(|r| r.record_id().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 100, "record ids are unique");
    }
    for i in 0..=100 {
        expected.extend_from_slice(format!("{{\"n\":{i}}}\n").as_bytes());
    }
    let plain = wait_objects(&bucket_dir(&server, "plain"), expected.len()).await;
    assert_same_records(plain.values().cloned().collect(), &expected);
    for key in plain.keys() {
        assert!(key.contains("/lines-1-"), "{key}");
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let zipped = objects(&bucket_dir(&server, "zipped"));
        let mut bodies = Vec::new();
        for (key, body) in &zipped {
            assert!(key.starts_with("gz/") && key.ends_with(".gz"), "{key}");
            let mut one = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut one)
                .unwrap();
            bodies.push(one);
        }
        if bodies.iter().map(Vec::len).sum::<usize>() >= expected.len() {
            assert_same_records(bodies, &expected);
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn kinesis_source_reads_every_shard_and_refuses_puts() {
    let server = Server::start();
    let k = server.client();
    let c = firehose(&server);
    create_active(&k, "src", 3).await;
    c.create_delivery_stream()
        .delivery_stream_name("from-kinesis")
        .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
        .kinesis_stream_source_configuration(
            KinesisStreamSourceConfiguration::builder()
                .kinesis_stream_arn(stream_arn("src"))
                .role_arn(ROLE)
                .build()
                .unwrap(),
        )
        .extended_s3_destination_configuration(s3("fromk", 1, 0))
        .send()
        .await
        .unwrap();
    let d = c
        .describe_delivery_stream()
        .delivery_stream_name("from-kinesis")
        .send()
        .await
        .unwrap();
    let src = d.delivery_stream_description().unwrap().source().unwrap();
    assert_eq!(
        src.kinesis_stream_source_description()
            .unwrap()
            .kinesis_stream_arn(),
        Some(stream_arn("src").as_str())
    );
    let err = c
        .put_record()
        .delivery_stream_name("from-kinesis")
        .record(Record::builder().data(Blob::new("x")).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidArgumentException"));
    assert_eq!(
        err.message(),
        Some("This operation is not permitted on KinesisStreamAsSource delivery stream type.")
    );
    let mut want = 0;
    for i in 0..60 {
        let data = format!("rec-{i:03}\n");
        want += data.len();
        k.put_record()
            .stream_name("src")
            .partition_key(format!("pk-{i}"))
            .data(aws_sdk_kinesis::primitives::Blob::new(data))
            .send()
            .await
            .unwrap();
    }
    let objs = wait_objects(&bucket_dir(&server, "fromk"), want).await;
    let mut lines: Vec<String> = objs
        .values()
        .flat_map(|b| {
            String::from_utf8(b.clone())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    let expected: Vec<String> = (0..60).map(|i| format!("rec-{i:03}")).collect();
    assert_eq!(lines, expected);
}

#[tokio::test]
async fn http_endpoint_destination_is_described_without_its_access_key() {
    let server = Server::start();
    let c = firehose(&server);
    c.create_delivery_stream()
        .delivery_stream_name("hook")
        .http_endpoint_destination_configuration(
            HttpEndpointDestinationConfiguration::builder()
                .endpoint_configuration(
                    HttpEndpointConfiguration::builder()
                        .url("https://127.0.0.1:1/ingest")
                        .name("sink")
                        .access_key("secret")
                        .build()
                        .unwrap(),
                )
                .s3_configuration(
                    S3DestinationConfiguration::builder()
                        .role_arn(ROLE)
                        .bucket_arn("arn:aws:s3:::hook-backup")
                        .build()
                        .unwrap(),
                )
                .buffering_hints(
                    aws_sdk_firehose::types::HttpEndpointBufferingHints::builder()
                        .size_in_mbs(1)
                        .interval_in_seconds(0)
                        .build(),
                )
                .retry_options(
                    aws_sdk_firehose::types::HttpEndpointRetryOptions::builder()
                        .duration_in_seconds(0)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let d = c
        .describe_delivery_stream()
        .delivery_stream_name("hook")
        .send()
        .await
        .unwrap();
    let h = d.delivery_stream_description().unwrap().destinations()[0]
        .http_endpoint_destination_description()
        .unwrap();
    let e = h.endpoint_configuration().unwrap();
    assert_eq!(e.url(), Some("https://127.0.0.1:1/ingest"));
    assert_eq!(e.name(), Some("sink"));
    assert_eq!(h.s3_backup_mode().unwrap().as_str(), "FailedDataOnly");
    assert_eq!(h.retry_options().unwrap().duration_in_seconds(), Some(0));
    assert_eq!(
        h.request_configuration()
            .unwrap()
            .content_encoding()
            .unwrap()
            .as_str(),
        "NONE"
    );
    assert_eq!(
        h.s3_destination_description().unwrap().bucket_arn(),
        "arn:aws:s3:::hook-backup"
    );
    // The endpoint never answers: the records go to the S3 configuration's error output.
    c.put_record()
        .delivery_stream_name("hook")
        .record(Record::builder().data(Blob::new("lost?")).build().unwrap())
        .send()
        .await
        .unwrap();
    let root = bucket_dir(&server, "hook-backup");
    let deadline = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let objs = objects(&root);
        if let Some((k, v)) = objs
            .into_iter()
            .find(|(k, _)| k.starts_with("http-endpoint-failed/"))
        {
            break (k, v);
        }
        assert!(Instant::now() < deadline, "no http-endpoint-failed object");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let line: serde_json::Value =
        serde_json::from_slice(failed.1.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["rawData"], serde_json::json!("bG9zdD8="));
}

/// Parses every delivered line `w<writer>-<n>`.
fn delivered_lines(root: &Path) -> Vec<String> {
    objects(root)
        .values()
        .flat_map(|b| {
            String::from_utf8_lossy(b)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn kill9_during_delivery_loses_no_acknowledged_record() {
    let mut server = Server::start();
    let mut c = firehose(&server);
    c.create_delivery_stream()
        .delivery_stream_name("crash")
        .extended_s3_destination_configuration(s3("crash", 1, 0))
        .send()
        .await
        .unwrap();
    let mut acked = Vec::new();
    let mut n = 0u32;
    // Write for a while, kill -9 while objects are being written, write again after restart.
    for round in 0..2 {
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            let batch: Vec<String> = (0..100).map(|i| format!("r{round}-{:06}", n + i)).collect();
            n += 100;
            let records: Vec<Record> = batch
                .iter()
                .map(|s| {
                    Record::builder()
                        .data(Blob::new(format!("{s}\n")))
                        .build()
                        .unwrap()
                })
                .collect();
            let out = c
                .put_record_batch()
                .delivery_stream_name("crash")
                .set_records(Some(records))
                .send()
                .await
                .unwrap();
            for (s, r) in batch.iter().zip(out.request_responses()) {
                if r.record_id().is_some() {
                    acked.push(s.clone());
                }
            }
        }
        if round == 0 {
            server.kill9();
            server.start_again();
            c = firehose(&server);
        }
    }
    let root = bucket_dir(&server, "crash");
    let deadline = Instant::now() + Duration::from_secs(20);
    let want: std::collections::HashSet<&String> = acked.iter().collect();
    loop {
        let lines = delivered_lines(&root);
        let got: std::collections::HashSet<&String> = lines.iter().collect();
        let missing = want.iter().filter(|s| !got.contains(**s)).count();
        if missing == 0 {
            let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
            for l in &lines {
                *counts.entry(l).or_default() += 1;
            }
            let dups: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
            println!(
                "acknowledged {}, delivered {} lines, {} duplicated records{}",
                acked.len(),
                lines.len(),
                dups.len(),
                if dups.is_empty() {
                    String::new()
                } else {
                    format!(": first {:?}", &dups[..dups.len().min(5)])
                }
            );
            // Nothing but acknowledged (or in-flight) records arrives.
            assert!(lines.iter().all(|l| l.starts_with('r')));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} acknowledged records never delivered",
            acked.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn kinesis_source_follows_resharding() {
    let server = Server::start();
    let k = server.client();
    let c = firehose(&server);
    create_active(&k, "rs-src", 1).await;
    // Records before the delivery stream exists are not delivered (it starts at LATEST).
    k.put_record()
        .stream_name("rs-src")
        .partition_key("early")
        .data(aws_sdk_kinesis::primitives::Blob::new("early\n"))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    c.create_delivery_stream()
        .delivery_stream_name("rs-fh")
        .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
        .kinesis_stream_source_configuration(
            KinesisStreamSourceConfiguration::builder()
                .kinesis_stream_arn(stream_arn("rs-src"))
                .role_arn(ROLE)
                .build()
                .unwrap(),
        )
        .extended_s3_destination_configuration(s3("rs", 1, 0))
        .send()
        .await
        .unwrap();
    let put = |i: usize| {
        let k = k.clone();
        async move {
            k.put_record()
                .stream_name("rs-src")
                .partition_key(format!("pk-{}", i % 7))
                .data(aws_sdk_kinesis::primitives::Blob::new(format!("r{i:03}\n")))
                .send()
                .await
                .unwrap();
        }
    };
    for i in 0..20 {
        put(i).await;
    }
    let shards = k.list_shards().stream_name("rs-src").send().await.unwrap();
    let s = &shards.shards()[0];
    k.split_shard()
        .stream_name("rs-src")
        .shard_to_split(s.shard_id())
        .new_starting_hash_key((u128::MAX / 2).to_string())
        .send()
        .await
        .unwrap();
    wait_active(&k, "rs-src").await;
    for i in 20..40 {
        put(i).await;
    }
    let objs = wait_objects(&bucket_dir(&server, "rs"), 40 * 5).await;
    let mut lines: Vec<String> = objs
        .values()
        .flat_map(|b| {
            String::from_utf8(b.clone())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    let expected: Vec<String> = (0..40).map(|i| format!("r{i:03}")).collect();
    assert_eq!(lines, expected);
}

#[tokio::test]
async fn graceful_shutdown_writes_buffers_into_a_configured_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let arg = format!("held={}", elsewhere.path().display());
    let mut server = Server::start_with(&["--bucket", &arg]);
    let c = firehose(&server);
    c.create_delivery_stream()
        .delivery_stream_name("held")
        .extended_s3_destination_configuration(s3("held", 128, 900))
        .send()
        .await
        .unwrap();
    c.put_record_batch()
        .delivery_stream_name("held")
        .set_records(Some(
            (0..3)
                .map(|i| {
                    Record::builder()
                        .data(Blob::new(format!("h{i}\n")))
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        objects(elsewhere.path()).is_empty(),
        "written before a trigger"
    );
    let status = server.stop();
    assert!(status.success(), "{status}: {}", server.stderr());
    let objs = objects(elsewhere.path());
    assert_eq!(objs.len(), 1, "{:?}", objs.keys());
    assert_eq!(objs.values().next().unwrap(), b"h0\nh1\nh2\n");
    assert!(!bucket_dir(&server, "held").exists());
    // Nothing is delivered twice after the restart.
    server.start_again();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(objects(elsewhere.path()).len(), 1);
}

#[tokio::test]
async fn kinesis_source_resumes_from_its_checkpoints_after_kill9() {
    let mut server = Server::start();
    let k = server.client();
    let c = firehose(&server);
    create_active(&k, "ck-src", 2).await;
    c.create_delivery_stream()
        .delivery_stream_name("ck-fh")
        .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
        .kinesis_stream_source_configuration(
            KinesisStreamSourceConfiguration::builder()
                .kinesis_stream_arn(stream_arn("ck-src"))
                .role_arn(ROLE)
                .build()
                .unwrap(),
        )
        .extended_s3_destination_configuration(s3("ck", 1, 0))
        .send()
        .await
        .unwrap();
    let put_all = |k: aws_sdk_kinesis::Client, from: usize, to: usize| async move {
        for i in from..to {
            k.put_record()
                .stream_name("ck-src")
                .partition_key(format!("pk-{i}"))
                .data(aws_sdk_kinesis::primitives::Blob::new(format!("c{i:04}\n")))
                .send()
                .await
                .unwrap();
        }
    };
    put_all(k.clone(), 0, 200).await;
    server.kill9();
    server.start_again();
    let k = server.client();
    put_all(k.clone(), 200, 400).await;
    let root = bucket_dir(&server, "ck");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = delivered_lines(&root);
        let got: std::collections::BTreeSet<&String> = lines.iter().collect();
        if got.len() == 400 {
            println!(
                "delivered {} lines for 400 records ({} duplicates)",
                lines.len(),
                lines.len() - 400
            );
            assert!(got.iter().all(|l| l.starts_with('c')));
            break;
        }
        assert!(Instant::now() < deadline, "{} of 400 delivered", got.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A KPL aggregated record (magic, protobuf AggregatedRecord, MD5 of the protobuf).
fn kpl_aggregate(keys: &[&str], records: &[(u64, &[u8])]) -> Vec<u8> {
    use md5::{Digest, Md5};
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn bytes_field(field: u64, b: &[u8], out: &mut Vec<u8>) {
        varint(field << 3 | 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }
    let mut proto = Vec::new();
    for k in keys {
        bytes_field(1, k.as_bytes(), &mut proto);
    }
    for (key_index, data) in records {
        let mut r = Vec::new();
        varint(1 << 3, &mut r);
        varint(*key_index, &mut r);
        bytes_field(3, data, &mut r);
        bytes_field(3, &r, &mut proto);
    }
    let mut out = vec![0xF3, 0x89, 0x9A, 0xC2];
    out.extend_from_slice(&proto);
    out.extend_from_slice(&Md5::digest(&proto));
    out
}

#[tokio::test]
async fn kinesis_source_deaggregates_kpl_records() {
    let server = Server::start();
    let k = server.client();
    let c = firehose(&server);
    create_active(&k, "kpl-src", 1).await;
    c.create_delivery_stream()
        .delivery_stream_name("kpl-fh")
        .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
        .kinesis_stream_source_configuration(
            KinesisStreamSourceConfiguration::builder()
                .kinesis_stream_arn(stream_arn("kpl-src"))
                .role_arn(ROLE)
                .build()
                .unwrap(),
        )
        .extended_s3_destination_configuration(s3("kpl", 1, 0))
        .send()
        .await
        .unwrap();
    let agg = kpl_aggregate(
        &["a", "b"],
        &[(0, b"user-1\n"), (1, b"user-2\n"), (0, b"user-3\n")],
    );
    k.put_record()
        .stream_name("kpl-src")
        .partition_key("a")
        .data(aws_sdk_kinesis::primitives::Blob::new(agg))
        .send()
        .await
        .unwrap();
    k.put_record()
        .stream_name("kpl-src")
        .partition_key("plain")
        .data(aws_sdk_kinesis::primitives::Blob::new("plain\n"))
        .send()
        .await
        .unwrap();
    let want = b"user-1\nuser-2\nuser-3\nplain\n";
    let objs = wait_objects(&bucket_dir(&server, "kpl"), want.len()).await;
    assert_same_records(objs.values().cloned().collect(), want);
}
