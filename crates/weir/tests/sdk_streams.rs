//! Control-plane operations through the AWS SDK for Rust, checked against AWS's documented
//! behaviour (see shared/reference/aws-api.md and notes/kinesis-errors.md).

mod common;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{
    EncryptionType, MetricsName, MinimumThroughputBillingCommitmentInput,
    MinimumThroughputBillingCommitmentInputStatus, MinimumThroughputBillingCommitmentOutputStatus,
    ShardFilter, ShardFilterType, StreamMode, StreamModeDetails, StreamStatus,
};
use aws_sdk_kinesis::Client;
use common::*;
use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

fn ids(shards: &[aws_sdk_kinesis::types::Shard]) -> Vec<String> {
    shards.iter().map(|s| s.shard_id().to_string()).collect()
}

fn id_range(r: std::ops::Range<usize>) -> Vec<String> {
    r.map(shard_id).collect()
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn on_demand() -> StreamModeDetails {
    StreamModeDetails::builder()
        .stream_mode(StreamMode::OnDemand)
        .build()
        .unwrap()
}

async fn tag_map(client: &Client, name: &str) -> Vec<(String, String)> {
    let out = client
        .list_tags_for_stream()
        .stream_name(name)
        .send()
        .await
        .unwrap();
    assert!(!out.has_more_tags());
    out.tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
        .collect()
}

#[tokio::test]
async fn create_provisioned_stream_goes_creating_then_active_with_even_hash_ranges() {
    let server = Server::start_with(&["--creating-delay-ms", "1500"]);
    let client = server.client();
    let before = now_secs();
    client
        .create_stream()
        .stream_name("three")
        .shard_count(3)
        .send()
        .await
        .unwrap();

    // Right after CreateStream: CREATING, no shards yet.
    let d = client
        .describe_stream()
        .stream_name("three")
        .send()
        .await
        .unwrap();
    let d = d.stream_description().unwrap();
    assert_eq!(*d.stream_status(), StreamStatus::Creating);
    assert!(
        d.shards().is_empty(),
        "shards while CREATING: {:?}",
        d.shards()
    );
    assert!(!d.has_more_shards());

    wait_active(&client, "three").await;
    let d = client
        .describe_stream()
        .stream_name("three")
        .send()
        .await
        .unwrap();
    let d = d.stream_description().unwrap();
    assert_eq!(d.stream_name(), "three");
    assert_eq!(d.stream_arn(), stream_arn("three"));
    assert_eq!(*d.stream_status(), StreamStatus::Active);
    assert_eq!(
        d.stream_mode_details().map(|m| m.stream_mode().clone()),
        Some(StreamMode::Provisioned)
    );
    assert_eq!(d.retention_period_hours(), 24);
    assert_eq!(d.encryption_type(), Some(&EncryptionType::None));
    assert!(d.key_id().is_none());
    assert_eq!(d.enhanced_monitoring().len(), 1);
    assert!(d.enhanced_monitoring()[0].shard_level_metrics().is_empty());
    assert!(!d.has_more_shards());
    let created = d.stream_creation_timestamp().as_secs_f64();
    assert!(
        created >= before - 5.0 && created <= now_secs() + 5.0,
        "StreamCreationTimestamp {created} not near now {before}"
    );

    assert_eq!(ids(d.shards()), id_range(0..3));
    let step = u128::MAX / 3; // == floor(2^128 / 3)
    let expected = [
        (0u128, step - 1),
        (step, 2 * step - 1),
        (2 * step, u128::MAX),
    ];
    for (shard, (start, end)) in d.shards().iter().zip(expected) {
        let range = shard.hash_key_range().expect("HashKeyRange");
        assert_eq!(range.starting_hash_key(), start.to_string());
        assert_eq!(range.ending_hash_key(), end.to_string());
        let seq = shard.sequence_number_range().expect("SequenceNumberRange");
        assert!(
            !seq.starting_sequence_number().is_empty()
                && seq
                    .starting_sequence_number()
                    .bytes()
                    .all(|b| b.is_ascii_digit()),
            "StartingSequenceNumber {:?}",
            seq.starting_sequence_number()
        );
        assert!(
            seq.ending_sequence_number().is_none(),
            "open shard has an end"
        );
        assert!(shard.parent_shard_id().is_none());
        assert!(shard.adjacent_parent_shard_id().is_none());
    }
    assert_eq!(
        d.shards()[2].hash_key_range().unwrap().ending_hash_key(),
        MAX_HASH_KEY
    );
}

#[tokio::test]
async fn on_demand_and_default_streams_get_four_shards() {
    let server = Server::start();
    let client = server.client();
    client
        .create_stream()
        .stream_name("od")
        .stream_mode_details(on_demand())
        .send()
        .await
        .unwrap();
    // No ShardCount and no StreamModeDetails: AWS creates 4 shards as well.
    client
        .create_stream()
        .stream_name("bare")
        .send()
        .await
        .unwrap();
    wait_active(&client, "od").await;
    wait_active(&client, "bare").await;

    let s = client
        .describe_stream_summary()
        .stream_name("od")
        .send()
        .await
        .unwrap();
    let s = s.stream_description_summary().unwrap();
    assert_eq!(s.open_shard_count(), 4);
    assert_eq!(
        s.stream_mode_details().map(|m| m.stream_mode().clone()),
        Some(StreamMode::OnDemand)
    );
    let shards = client.list_shards().stream_name("od").send().await.unwrap();
    assert_eq!(ids(shards.shards()), id_range(0..4));

    let s = client
        .describe_stream_summary()
        .stream_name("bare")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary().unwrap().open_shard_count(),
        4
    );
}

#[tokio::test]
async fn create_stream_with_tags() {
    let server = Server::start();
    let client = server.client();
    client
        .create_stream()
        .stream_name("tagged")
        .shard_count(1)
        .tags("team", "data")
        .tags("env", "test")
        .tags("empty", "")
        .send()
        .await
        .unwrap();
    wait_active(&client, "tagged").await;
    assert_eq!(
        tag_map(&client, "tagged").await,
        vec![
            ("empty".to_string(), String::new()),
            ("env".to_string(), "test".to_string()),
            ("team".to_string(), "data".to_string()),
        ]
    );
}

#[tokio::test]
async fn describe_stream_paginates_shards() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "seven", 7).await;

    for by_arn in [false, true] {
        let mut seen = Vec::new();
        let mut start: Option<String> = None;
        let mut pages = Vec::new();
        loop {
            let mut req = client.describe_stream().limit(3);
            req = if by_arn {
                req.stream_arn(stream_arn("seven"))
            } else {
                req.stream_name("seven")
            };
            if let Some(s) = &start {
                req = req.exclusive_start_shard_id(s);
            }
            let out = req.send().await.unwrap();
            let d = out.stream_description().unwrap();
            pages.push((ids(d.shards()), d.has_more_shards()));
            seen.extend(ids(d.shards()));
            if !d.has_more_shards() {
                break;
            }
            start = Some(d.shards().last().unwrap().shard_id().to_string());
            assert!(pages.len() < 10, "pagination does not end: {pages:?}");
        }
        assert_eq!(
            pages,
            vec![
                (id_range(0..3), true),
                (id_range(3..6), true),
                (id_range(6..7), false)
            ],
            "by_arn={by_arn}"
        );
        assert_eq!(seen, id_range(0..7));
    }

    // Without a Limit every shard comes back in one page.
    let out = client
        .describe_stream()
        .stream_name("seven")
        .send()
        .await
        .unwrap();
    let d = out.stream_description().unwrap();
    assert_eq!(ids(d.shards()), id_range(0..7));
    assert!(!d.has_more_shards());

    // ExclusiveStartShardId of the last shard: nothing after it.
    let out = client
        .describe_stream()
        .stream_name("seven")
        .exclusive_start_shard_id(shard_id(6))
        .send()
        .await
        .unwrap();
    let d = out.stream_description().unwrap();
    assert!(d.shards().is_empty());
    assert!(!d.has_more_shards());
}

#[tokio::test]
async fn describe_stream_summary_reports_every_field() {
    let server = Server::start();
    let client = server.client();
    let before = now_secs();
    create_active(&client, "summary", 2).await;
    for by_arn in [false, true] {
        let req = client.describe_stream_summary();
        let req = if by_arn {
            req.stream_arn(stream_arn("summary"))
        } else {
            req.stream_name("summary")
        };
        let out = req.send().await.unwrap();
        let s = out.stream_description_summary().unwrap();
        assert_eq!(s.stream_name(), "summary");
        assert_eq!(s.stream_arn(), stream_arn("summary"));
        assert_eq!(*s.stream_status(), StreamStatus::Active);
        assert_eq!(s.retention_period_hours(), 24);
        assert_eq!(s.open_shard_count(), 2);
        assert_eq!(s.consumer_count(), Some(0));
        assert_eq!(s.encryption_type(), Some(&EncryptionType::None));
        assert_eq!(s.enhanced_monitoring().len(), 1);
        assert!(s.enhanced_monitoring()[0].shard_level_metrics().is_empty());
        assert_eq!(
            s.stream_mode_details().map(|m| m.stream_mode().clone()),
            Some(StreamMode::Provisioned)
        );
        let created = s.stream_creation_timestamp().as_secs_f64();
        assert!(created >= before - 5.0 && created <= now_secs() + 5.0);
    }

    // The SDK fills in missing required members with defaults, so check the wire too.
    let raw = raw_http1();
    let resp = RawRequest::json(
        "DescribeStreamSummary",
        &serde_json::json!({"StreamName": "summary"}),
    )
    .send(&raw, &server.endpoint())
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    let s = &v["StreamDescriptionSummary"];
    for key in [
        "StreamName",
        "StreamARN",
        "StreamStatus",
        "RetentionPeriodHours",
        "StreamCreationTimestamp",
        "EnhancedMonitoring",
        "OpenShardCount",
    ] {
        assert!(s.get(key).is_some(), "missing {key} in {s}");
    }
    assert!(
        s["StreamCreationTimestamp"].is_number(),
        "timestamp must be epoch seconds: {s}"
    );
    assert_eq!(
        s["EnhancedMonitoring"],
        serde_json::json!([{"ShardLevelMetrics": []}])
    );
}

#[tokio::test]
async fn list_streams_paginates_in_name_order() {
    let server = Server::start();
    let client = server.client();
    let names = ["ls-e", "ls-a", "ls-c", "ls-b", "ls-d"];
    for n in names {
        client
            .create_stream()
            .stream_name(n)
            .shard_count(1)
            .send()
            .await
            .unwrap();
    }
    for n in names {
        wait_active(&client, n).await;
    }
    let sorted: Vec<String> = ["ls-a", "ls-b", "ls-c", "ls-d", "ls-e"]
        .iter()
        .map(|s| s.to_string())
        .collect();

    let all = client.list_streams().send().await.unwrap();
    assert_eq!(all.stream_names(), sorted.as_slice());
    assert!(!all.has_more_streams());
    assert!(all.next_token().is_none());
    let summaries = all.stream_summaries();
    assert_eq!(summaries.len(), 5);
    for (s, n) in summaries.iter().zip(&sorted) {
        assert_eq!(s.stream_name(), n);
        assert_eq!(s.stream_arn(), stream_arn(n));
        assert_eq!(*s.stream_status(), StreamStatus::Active);
        assert_eq!(
            s.stream_mode_details().map(|m| m.stream_mode().clone()),
            Some(StreamMode::Provisioned)
        );
        assert!(s.stream_creation_timestamp().is_some());
    }

    // Limit + NextToken.
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = client.list_streams().limit(2);
        if let Some(t) = &token {
            req = req.next_token(t);
        }
        let out = req.send().await.unwrap();
        pages.push((out.stream_names().to_vec(), out.has_more_streams()));
        assert_eq!(out.stream_summaries().len(), out.stream_names().len());
        if !out.has_more_streams() {
            assert!(out.next_token().is_none(), "NextToken on the last page");
            break;
        }
        token = Some(
            out.next_token()
                .expect("NextToken when HasMoreStreams")
                .to_string(),
        );
        assert!(pages.len() < 10, "pagination does not end: {pages:?}");
    }
    assert_eq!(
        pages,
        vec![
            (sorted[0..2].to_vec(), true),
            (sorted[2..4].to_vec(), true),
            (sorted[4..5].to_vec(), false),
        ]
    );

    // ExclusiveStartStreamName (need not exist).
    let out = client
        .list_streams()
        .exclusive_start_stream_name("ls-b")
        .send()
        .await
        .unwrap();
    assert_eq!(out.stream_names(), &sorted[2..]);
    let out = client
        .list_streams()
        .exclusive_start_stream_name("ls-bb")
        .limit(2)
        .send()
        .await
        .unwrap();
    assert_eq!(out.stream_names(), &sorted[2..4]);
    assert!(out.has_more_streams());
}

#[tokio::test]
async fn list_shards_paginates_and_filters() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "five", 5).await;

    // MaxResults + NextToken (the NextToken alone addresses the stream).
    let mut pages = Vec::new();
    let first = client
        .list_shards()
        .stream_name("five")
        .max_results(2)
        .send()
        .await
        .unwrap();
    pages.push(ids(first.shards()));
    let mut token = first.next_token().map(str::to_string);
    while let Some(t) = token.take() {
        let out = client
            .list_shards()
            .next_token(t)
            .max_results(2)
            .send()
            .await
            .unwrap();
        pages.push(ids(out.shards()));
        token = out.next_token().map(str::to_string);
        assert!(pages.len() < 10, "pagination does not end: {pages:?}");
    }
    assert_eq!(
        pages,
        vec![id_range(0..2), id_range(2..4), id_range(4..5)],
        "ListShards pages"
    );

    // Everything at once, by name and by ARN; no NextToken when done.
    for by_arn in [false, true] {
        let req = client.list_shards();
        let req = if by_arn {
            req.stream_arn(stream_arn("five"))
        } else {
            req.stream_name("five")
        };
        let out = req.send().await.unwrap();
        assert_eq!(ids(out.shards()), id_range(0..5));
        assert!(out.next_token().is_none());
        for s in out.shards() {
            assert!(s.hash_key_range().is_some());
            assert!(s.sequence_number_range().is_some());
        }
    }

    let out = client
        .list_shards()
        .stream_name("five")
        .exclusive_start_shard_id(shard_id(1))
        .send()
        .await
        .unwrap();
    assert_eq!(ids(out.shards()), id_range(2..5));

    // Every ShardFilter type on a stream that was never resharded.
    let now = DateTime::from_secs_f64(now_secs());
    let filters = [
        (
            ShardFilter::builder()
                .r#type(ShardFilterType::AfterShardId)
                .shard_id(shard_id(2))
                .build()
                .unwrap(),
            id_range(3..5),
        ),
        (
            ShardFilter::builder()
                .r#type(ShardFilterType::AtTrimHorizon)
                .build()
                .unwrap(),
            id_range(0..5),
        ),
        (
            ShardFilter::builder()
                .r#type(ShardFilterType::FromTrimHorizon)
                .build()
                .unwrap(),
            id_range(0..5),
        ),
        (
            ShardFilter::builder()
                .r#type(ShardFilterType::AtLatest)
                .build()
                .unwrap(),
            id_range(0..5),
        ),
        (
            ShardFilter::builder()
                .r#type(ShardFilterType::AtTimestamp)
                .timestamp(now)
                .build()
                .unwrap(),
            id_range(0..5),
        ),
        (
            ShardFilter::builder()
                .r#type(ShardFilterType::FromTimestamp)
                .timestamp(now)
                .build()
                .unwrap(),
            id_range(0..5),
        ),
    ];
    for (filter, expected) in filters {
        let label = format!("{:?}", filter.r#type());
        let out = client
            .list_shards()
            .stream_name("five")
            .shard_filter(filter)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListShards {label}: {}", fmt_err(&e)));
        assert_eq!(ids(out.shards()), expected, "filter {label}");
    }

    // NextToken may not be combined with StreamName; neither given is an error too.
    let token = first.next_token().expect("a NextToken").to_string();
    let msg = expect_code(
        client
            .list_shards()
            .stream_name("five")
            .next_token(&token)
            .send()
            .await,
        "InvalidArgumentException",
    );
    assert_eq!(msg, "NextToken and StreamName cannot be provided together.");
    let msg = expect_code(
        client
            .list_shards()
            .stream_arn(stream_arn("five"))
            .next_token(&token)
            .send()
            .await,
        "InvalidArgumentException",
    );
    assert_eq!(msg, "NextToken and StreamARN cannot be provided together.");
    expect_code(
        client.list_shards().send().await,
        "InvalidArgumentException",
    );
    let msg = expect_code(
        client.list_shards().stream_name("nope").send().await,
        "ResourceNotFoundException",
    );
    assert_eq!(msg, "Stream nope under account 000000000000 not found.");
}

#[tokio::test]
async fn delete_stream_then_resource_not_found() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "doomed", 2).await;
    create_active(&client, "doomed-arn", 1).await;
    client
        .delete_stream()
        .stream_name("doomed")
        .send()
        .await
        .unwrap();
    client
        .delete_stream()
        .stream_arn(stream_arn("doomed-arn"))
        .send()
        .await
        .unwrap();
    // Until it is gone a deleted stream is DELETING.
    match client.describe_stream().stream_name("doomed").send().await {
        Ok(out) => assert_eq!(
            *out.stream_description().unwrap().stream_status(),
            StreamStatus::Deleting
        ),
        Err(e) => assert_eq!(e.code(), Some("ResourceNotFoundException")),
    }
    wait_gone(&client, "doomed").await;
    wait_gone(&client, "doomed-arn").await;

    let msg = expect_code(
        client.describe_stream().stream_name("doomed").send().await,
        "ResourceNotFoundException",
    );
    assert_eq!(msg, "Stream doomed under account 000000000000 not found.");
    let msg = expect_code(
        client.delete_stream().stream_name("doomed").send().await,
        "ResourceNotFoundException",
    );
    assert_eq!(msg, "Stream doomed under account 000000000000 not found.");
    expect_code(
        client
            .list_tags_for_stream()
            .stream_name("doomed")
            .send()
            .await,
        "ResourceNotFoundException",
    );
    let listed = client.list_streams().send().await.unwrap();
    assert!(listed.stream_names().is_empty(), "{listed:?}");

    // The name can be used again, and the new stream starts empty.
    create_active(&client, "doomed", 1).await;
    let s = client
        .describe_stream_summary()
        .stream_name("doomed")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary().unwrap().open_shard_count(),
        1
    );
}

#[tokio::test]
async fn duplicate_create_is_resource_in_use() {
    let server = Server::start_with(&["--creating-delay-ms", "1000"]);
    let client = server.client();
    client
        .create_stream()
        .stream_name("dup")
        .shard_count(1)
        .send()
        .await
        .unwrap();
    // While CREATING ...
    let msg = expect_code(
        client
            .create_stream()
            .stream_name("dup")
            .shard_count(1)
            .send()
            .await,
        "ResourceInUseException",
    );
    assert_eq!(msg, "Stream dup under account 000000000000 already exists.");
    wait_active(&client, "dup").await;
    // ... and once ACTIVE, with different settings too.
    let msg = expect_code(
        client
            .create_stream()
            .stream_name("dup")
            .shard_count(3)
            .send()
            .await,
        "ResourceInUseException",
    );
    assert_eq!(msg, "Stream dup under account 000000000000 already exists.");
    let s = client
        .describe_stream_summary()
        .stream_name("dup")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary().unwrap().open_shard_count(),
        1
    );
}

#[tokio::test]
async fn retention_period_increase_decrease_and_errors() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "ret", 1).await;
    let retention = |client: Client| async move {
        client
            .describe_stream_summary()
            .stream_name("ret")
            .send()
            .await
            .unwrap()
            .stream_description_summary()
            .unwrap()
            .retention_period_hours()
    };

    client
        .increase_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(48)
        .send()
        .await
        .unwrap();
    assert_eq!(retention(client.clone()).await, 48);
    // Same value: a no-op, for both operations.
    client
        .increase_stream_retention_period()
        .stream_arn(stream_arn("ret"))
        .retention_period_hours(48)
        .send()
        .await
        .unwrap();
    client
        .decrease_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(48)
        .send()
        .await
        .unwrap();
    assert_eq!(retention(client.clone()).await, 48);

    let msg = expect_code(
        client
            .increase_stream_retention_period()
            .stream_name("ret")
            .retention_period_hours(30)
            .send()
            .await,
        "InvalidArgumentException",
    );
    assert_eq!(msg, "Requested retention period (30 hours) for stream ret can not be shorter than existing retention period (48 hours). Use DecreaseRetentionPeriod API.");
    let msg = expect_code(
        client
            .decrease_stream_retention_period()
            .stream_name("ret")
            .retention_period_hours(100)
            .send()
            .await,
        "InvalidArgumentException",
    );
    assert_eq!(msg, "Requested retention period (100 hours) for stream ret can not be longer than existing retention period (48 hours). Use IncreaseRetentionPeriod API.");
    expect_code(
        client
            .decrease_stream_retention_period()
            .stream_name("ret")
            .retention_period_hours(10)
            .send()
            .await,
        "InvalidArgumentException",
    );
    expect_code(
        client
            .increase_stream_retention_period()
            .stream_name("ret")
            .retention_period_hours(9000)
            .send()
            .await,
        "InvalidArgumentException",
    );
    assert_eq!(retention(client.clone()).await, 48);

    client
        .increase_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(8760)
        .send()
        .await
        .unwrap();
    assert_eq!(retention(client.clone()).await, 8760);
    client
        .decrease_stream_retention_period()
        .stream_arn(stream_arn("ret"))
        .retention_period_hours(24)
        .send()
        .await
        .unwrap();
    assert_eq!(retention(client.clone()).await, 24);

    let msg = expect_code(
        client
            .increase_stream_retention_period()
            .stream_name("nope")
            .retention_period_hours(48)
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert_eq!(msg, "Stream nope under account 000000000000 not found.");
}

#[tokio::test]
async fn retention_out_of_range_messages() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "ret-min", 1).await;
    for hours in [10, 23] {
        let msg = expect_code(
            client
                .decrease_stream_retention_period()
                .stream_name("ret-min")
                .retention_period_hours(hours)
                .send()
                .await,
            "InvalidArgumentException",
        );
        assert_eq!(msg, format!("Minimum allowed retention period is 24 hours. Requested retention period ({hours} hours) is too short."));
        let msg = expect_code(
            client
                .increase_stream_retention_period()
                .stream_name("ret-min")
                .retention_period_hours(hours)
                .send()
                .await,
            "InvalidArgumentException",
        );
        assert_eq!(msg, format!("Minimum allowed retention period is 24 hours. Requested retention period ({hours} hours) is too short."));
    }
    for hours in [8761, 9000] {
        let msg = expect_code(
            client
                .increase_stream_retention_period()
                .stream_name("ret-min")
                .retention_period_hours(hours)
                .send()
                .await,
            "InvalidArgumentException",
        );
        assert_eq!(msg, format!("Maximum allowed retention period is 8760 hours. Requested retention period ({hours} hours) is too long."));
    }
}

#[tokio::test]
async fn stream_tags_add_list_paginate_remove() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "tags", 1).await;
    client
        .add_tags_to_stream()
        .stream_name("tags")
        .tags("k3", "v3")
        .tags("k1", "v1")
        .tags("k5", "v5")
        .send()
        .await
        .unwrap();
    client
        .add_tags_to_stream()
        .stream_arn(stream_arn("tags"))
        .tags("k2", "v2")
        .tags("k4", "v4")
        .tags("k1", "v1-new")
        .send()
        .await
        .unwrap();

    // Limit + ExclusiveStartTagKey + HasMoreTags, sorted by key.
    let mut pages = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut req = client.list_tags_for_stream().stream_name("tags").limit(2);
        if let Some(s) = &start {
            req = req.exclusive_start_tag_key(s);
        }
        let out = req.send().await.unwrap();
        let keys: Vec<String> = out.tags().iter().map(|t| t.key().to_string()).collect();
        pages.push((keys.clone(), out.has_more_tags()));
        if !out.has_more_tags() {
            break;
        }
        start = keys.last().cloned();
        assert!(pages.len() < 10, "pagination does not end: {pages:?}");
    }
    let k = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        pages,
        vec![
            (k(&["k1", "k2"]), true),
            (k(&["k3", "k4"]), true),
            (k(&["k5"]), false)
        ]
    );
    // ExclusiveStartTagKey need not exist.
    let out = client
        .list_tags_for_stream()
        .stream_arn(stream_arn("tags"))
        .exclusive_start_tag_key("k25")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = out.tags().iter().map(|t| t.key()).collect();
    assert_eq!(keys, ["k3", "k4", "k5"]);
    assert!(!out.has_more_tags());

    let all = tag_map(&client, "tags").await;
    assert_eq!(all[0], ("k1".to_string(), "v1-new".to_string()));

    // Removing keys, including one that does not exist (a no-op).
    client
        .remove_tags_from_stream()
        .stream_name("tags")
        .tag_keys("k1")
        .tag_keys("k4")
        .tag_keys("absent")
        .send()
        .await
        .unwrap();
    client
        .remove_tags_from_stream()
        .stream_arn(stream_arn("tags"))
        .tag_keys("k5")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tag_map(&client, "tags").await,
        vec![
            ("k2".to_string(), "v2".to_string()),
            ("k3".to_string(), "v3".to_string())
        ]
    );

    let msg = expect_code(
        client
            .add_tags_to_stream()
            .stream_name("tags")
            .tags("bad;key", "v")
            .send()
            .await,
        "InvalidArgumentException",
    );
    assert!(msg.contains("invalid characters"), "{msg}");
    expect_code(
        client
            .add_tags_to_stream()
            .stream_name("nope")
            .tags("a", "b")
            .send()
            .await,
        "ResourceNotFoundException",
    );
}

#[tokio::test]
async fn resource_tags_by_arn() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "rtags", 1).await;
    let arn = stream_arn("rtags");
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags("b", "2")
        .tags("a", "1")
        .tags("c", "3")
        .send()
        .await
        .unwrap();
    let out = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let mut tags: Vec<(String, String)> = out
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
            ("c".to_string(), "3".to_string())
        ]
    );
    // The same tags are visible through the stream-tag API.
    assert_eq!(tag_map(&client, "rtags").await, tags);

    client
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("a")
        .tag_keys("c")
        .send()
        .await
        .unwrap();
    let out = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = out.tags().iter().map(|t| t.key()).collect();
    assert_eq!(keys, ["b"]);

    expect_code(
        client
            .list_tags_for_resource()
            .resource_arn(stream_arn("nope"))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    expect_code(
        client
            .tag_resource()
            .resource_arn(stream_arn("nope"))
            .tags("a", "b")
            .send()
            .await,
        "ResourceNotFoundException",
    );
}

#[tokio::test]
async fn describe_limits_counts_open_shards_and_on_demand_streams() {
    let server = Server::start();
    let client = server.client();
    let before = client.describe_limits().send().await.unwrap();
    assert_eq!(before.open_shard_count(), 0);
    assert_eq!(before.on_demand_stream_count(), 0);
    assert!(before.shard_limit() > 0);
    assert!(before.on_demand_stream_count_limit() > 0);

    create_active(&client, "lim-a", 2).await;
    create_active(&client, "lim-b", 3).await;
    client
        .create_stream()
        .stream_name("lim-od")
        .stream_mode_details(on_demand())
        .send()
        .await
        .unwrap();
    wait_active(&client, "lim-od").await;
    let after = client.describe_limits().send().await.unwrap();
    // The two provisioned streams count; whether on-demand shards count against the
    // (provisioned) shard limit is not pinned down by AWS's documentation.
    let added = after.open_shard_count() - before.open_shard_count();
    assert!(added == 5 || added == 9, "OpenShardCount grew by {added}");
    assert_eq!(after.on_demand_stream_count(), 1);
    assert_eq!(after.shard_limit(), before.shard_limit());
}

#[tokio::test]
async fn account_settings_describe_and_update() {
    let server = Server::start();
    let client = server.client();
    let initial = client.describe_account_settings().send().await.unwrap();
    if let Some(c) = initial.minimum_throughput_billing_commitment() {
        assert_eq!(
            *c.status(),
            MinimumThroughputBillingCommitmentOutputStatus::Disabled
        );
    }

    let enabled = client
        .update_account_settings()
        .minimum_throughput_billing_commitment(
            MinimumThroughputBillingCommitmentInput::builder()
                .status(MinimumThroughputBillingCommitmentInputStatus::Enabled)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let c = enabled
        .minimum_throughput_billing_commitment()
        .expect("MinimumThroughputBillingCommitment in the output");
    assert_eq!(
        *c.status(),
        MinimumThroughputBillingCommitmentOutputStatus::Enabled
    );
    assert!(c.started_at().is_some(), "StartedAt once ENABLED: {c:?}");

    let described = client.describe_account_settings().send().await.unwrap();
    let c = described
        .minimum_throughput_billing_commitment()
        .expect("MinimumThroughputBillingCommitment");
    assert_eq!(
        *c.status(),
        MinimumThroughputBillingCommitmentOutputStatus::Enabled
    );

    let disabled = client
        .update_account_settings()
        .minimum_throughput_billing_commitment(
            MinimumThroughputBillingCommitmentInput::builder()
                .status(MinimumThroughputBillingCommitmentInputStatus::Disabled)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let c = disabled
        .minimum_throughput_billing_commitment()
        .expect("MinimumThroughputBillingCommitment in the output");
    // A commitment can only end after its earliest allowed end.
    assert!(
        matches!(
            c.status(),
            MinimumThroughputBillingCommitmentOutputStatus::Disabled
                | MinimumThroughputBillingCommitmentOutputStatus::EnabledUntilEarliestAllowedEnd
        ),
        "{c:?}"
    );
}

fn concrete_metrics() -> BTreeSet<String> {
    [
        "IncomingBytes",
        "IncomingRecords",
        "OutgoingBytes",
        "OutgoingRecords",
        "WriteProvisionedThroughputExceeded",
        "ReadProvisionedThroughputExceeded",
        "IteratorAgeMilliseconds",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn metric_set(m: &[MetricsName]) -> BTreeSet<String> {
    m.iter().map(|m| m.as_str().to_string()).collect()
}

#[tokio::test]
async fn enhanced_monitoring_enable_disable_and_all() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "mon", 1).await;

    let out = client
        .enable_enhanced_monitoring()
        .stream_name("mon")
        .shard_level_metrics(MetricsName::IncomingBytes)
        .send()
        .await
        .unwrap();
    assert_eq!(out.stream_name(), Some("mon"));
    assert_eq!(out.stream_arn(), Some(stream_arn("mon").as_str()));
    assert!(out.current_shard_level_metrics().is_empty());
    assert_eq!(
        metric_set(out.desired_shard_level_metrics()),
        BTreeSet::from(["IncomingBytes".to_string()])
    );

    let out = client
        .enable_enhanced_monitoring()
        .stream_arn(stream_arn("mon"))
        .shard_level_metrics(MetricsName::All)
        .send()
        .await
        .unwrap();
    assert_eq!(
        metric_set(out.current_shard_level_metrics()),
        BTreeSet::from(["IncomingBytes".to_string()])
    );
    assert_eq!(
        metric_set(out.desired_shard_level_metrics()),
        concrete_metrics()
    );
    let d = client
        .describe_stream()
        .stream_name("mon")
        .send()
        .await
        .unwrap();
    let em = d.stream_description().unwrap().enhanced_monitoring();
    assert_eq!(em.len(), 1);
    assert_eq!(metric_set(em[0].shard_level_metrics()), concrete_metrics());

    let out = client
        .disable_enhanced_monitoring()
        .stream_name("mon")
        .shard_level_metrics(MetricsName::OutgoingBytes)
        .shard_level_metrics(MetricsName::IncomingRecords)
        .send()
        .await
        .unwrap();
    assert_eq!(
        metric_set(out.current_shard_level_metrics()),
        concrete_metrics()
    );
    let mut expected = concrete_metrics();
    expected.remove("OutgoingBytes");
    expected.remove("IncomingRecords");
    assert_eq!(metric_set(out.desired_shard_level_metrics()), expected);

    let out = client
        .disable_enhanced_monitoring()
        .stream_arn(stream_arn("mon"))
        .shard_level_metrics(MetricsName::All)
        .send()
        .await
        .unwrap();
    assert_eq!(metric_set(out.current_shard_level_metrics()), expected);
    assert!(out.desired_shard_level_metrics().is_empty());
    let s = client
        .describe_stream_summary()
        .stream_name("mon")
        .send()
        .await
        .unwrap();
    let em = s
        .stream_description_summary()
        .unwrap()
        .enhanced_monitoring();
    assert_eq!(em.len(), 1);
    assert!(em[0].shard_level_metrics().is_empty());

    expect_code(
        client
            .enable_enhanced_monitoring()
            .stream_name("nope")
            .shard_level_metrics(MetricsName::All)
            .send()
            .await,
        "ResourceNotFoundException",
    );
}

#[tokio::test]
async fn resource_policy_put_get_delete() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "pol", 1).await;
    let arn = stream_arn("pol");
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "x",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": ["kinesis:GetRecords", "kinesis:GetShardIterator"],
            "Resource": arn,
        }]
    });
    client
        .put_resource_policy()
        .resource_arn(&arn)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    let got = client
        .get_resource_policy()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let got: serde_json::Value = serde_json::from_str(got.policy()).expect("policy is JSON");
    assert_eq!(got, policy);

    client
        .delete_resource_policy()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    // After deletion there is no policy: either an empty policy or ResourceNotFoundException.
    match client.get_resource_policy().resource_arn(&arn).send().await {
        Ok(out) => {
            let v: serde_json::Value = serde_json::from_str(out.policy()).expect("policy is JSON");
            assert_eq!(v, serde_json::json!({}), "policy after delete");
        }
        Err(e) => assert_eq!(e.code(), Some("ResourceNotFoundException"), "{e:?}"),
    }

    expect_code(
        client
            .put_resource_policy()
            .resource_arn(stream_arn("nope"))
            .policy(policy.to_string())
            .send()
            .await,
        "ResourceNotFoundException",
    );
}

#[tokio::test]
async fn update_max_record_size() {
    let server = Server::start_with(&["--throughput-limits", "off"]);
    let client = server.client();
    create_active(&client, "big", 1).await;
    let arn = stream_arn("big");
    let max_size = |client: Client| async move {
        client
            .describe_stream_summary()
            .stream_name("big")
            .send()
            .await
            .unwrap()
            .stream_description_summary()
            .unwrap()
            .max_record_size_in_kib()
    };
    assert_eq!(max_size(client.clone()).await.unwrap_or(1024), 1024);

    // 1.5 MiB is too big by default ...
    let data = vec![7u8; 1536 * 1024];
    let msg = expect_code(
        client
            .put_record()
            .stream_name("big")
            .partition_key("p")
            .data(data.clone().into())
            .send()
            .await,
        "ValidationException",
    );
    assert!(msg.contains("'data'"), "{msg}");

    client
        .update_max_record_size()
        .stream_arn(&arn)
        .max_record_size_in_kib(2048)
        .send()
        .await
        .unwrap();
    wait_active(&client, "big").await;
    assert_eq!(max_size(client.clone()).await, Some(2048));

    // ... and fits once the limit is 2 MiB.
    client
        .put_record()
        .stream_name("big")
        .partition_key("p")
        .data(data.into())
        .send()
        .await
        .unwrap();

    let msg = expect_code(
        client
            .update_max_record_size()
            .stream_arn(&arn)
            .max_record_size_in_kib(512)
            .send()
            .await,
        "ValidationException",
    );
    assert!(msg.contains("maxRecordSizeInKiB"), "{msg}");
    expect_code(
        client
            .update_max_record_size()
            .stream_arn(stream_arn("nope"))
            .max_record_size_in_kib(2048)
            .send()
            .await,
        "ResourceNotFoundException",
    );
}

#[tokio::test]
async fn every_stream_scoped_operation_accepts_a_stream_arn() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "by-arn", 2).await;
    let arn = stream_arn("by-arn");

    let d = client
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(d.stream_description().unwrap().stream_name(), "by-arn");
    let s = client
        .describe_stream_summary()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary().unwrap().stream_name(),
        "by-arn"
    );
    let l = client.list_shards().stream_arn(&arn).send().await.unwrap();
    assert_eq!(l.shards().len(), 2);
    client
        .add_tags_to_stream()
        .stream_arn(&arn)
        .tags("x", "y")
        .send()
        .await
        .unwrap();
    let t = client
        .list_tags_for_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(t.tags().len(), 1);
    client
        .increase_stream_retention_period()
        .stream_arn(&arn)
        .retention_period_hours(36)
        .send()
        .await
        .unwrap();
    let put = client
        .put_record()
        .stream_arn(&arn)
        .partition_key("pk")
        .data(b"hello".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(put.shard_id(), shard_id(0));
    let it = client
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(put.shard_id())
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let recs = client
        .get_records()
        .stream_arn(&arn)
        .shard_iterator(it.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(recs.records().len(), 1);
    assert_eq!(recs.records()[0].data().as_ref(), b"hello");

    // An ARN for a stream that does not exist.
    let msg = expect_code(
        client
            .describe_stream_summary()
            .stream_arn(stream_arn("missing"))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(msg.contains("missing"), "{msg}");

    client
        .delete_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    wait_gone(&client, "by-arn").await;
}
