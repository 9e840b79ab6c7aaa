//! Data-plane operations through the AWS SDK for Rust: PutRecord(s), GetShardIterator,
//! GetRecords, routing and sequence-number ordering.

mod common;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, Record, ShardIteratorType};
use aws_sdk_kinesis::Client;
use common::*;
use md5::{Digest, Md5};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn md5_hash(key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(key.as_bytes()).into())
}

fn entry(key: &str, data: impl Into<Vec<u8>>) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(key)
        .data(Blob::new(data.into()))
        .build()
        .unwrap()
}

async fn put(client: &Client, stream: &str, key: &str, data: &[u8]) -> (String, String) {
    let out = client
        .put_record()
        .stream_name(stream)
        .partition_key(key)
        .data(Blob::new(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutRecord: {}", fmt_err(&e)));
    (
        out.shard_id().to_string(),
        out.sequence_number().to_string(),
    )
}

fn datas(records: &[Record]) -> Vec<Vec<u8>> {
    records.iter().map(|r| r.data().as_ref().to_vec()).collect()
}

fn seqs(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.sequence_number().to_string())
        .collect()
}

fn assert_strictly_increasing(seqs: &[String], what: &str) {
    for w in seqs.windows(2) {
        assert_eq!(
            dec_cmp(&w[0], &w[1]),
            Ordering::Less,
            "{what}: sequence numbers not strictly increasing: {} then {}",
            w[0],
            w[1]
        );
    }
}

fn assert_decimal(seq: &str) {
    assert!(
        !seq.is_empty()
            && seq.len() <= 129
            && seq.bytes().all(|b| b.is_ascii_digit())
            && (seq == "0" || !seq.starts_with('0')),
        "not a Kinesis sequence number: {seq:?}"
    );
}

async fn iterator_at(
    client: &Client,
    stream: &str,
    shard: &str,
    ty: ShardIteratorType,
    seq: &str,
) -> String {
    client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ty)
        .starting_sequence_number(seq)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetShardIterator: {}", fmt_err(&e)))
        .shard_iterator()
        .unwrap()
        .to_string()
}

async fn iterator_at_timestamp(client: &Client, stream: &str, shard: &str, ms: i64) -> String {
    client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_millis(ms))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetShardIterator AT_TIMESTAMP {ms}: {}", fmt_err(&e)))
        .shard_iterator()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn every_shard_iterator_type() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "its", 1).await;
    let shard = shard_id(0);

    let mut puts = Vec::new();
    for i in 0..3 {
        puts.push(put(&client, "its", "k", format!("a{i}").as_bytes()).await);
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    let between = now_millis();
    tokio::time::sleep(Duration::from_millis(60)).await;
    for i in 0..3 {
        puts.push(put(&client, "its", "k", format!("b{i}").as_bytes()).await);
    }
    let all: Vec<Vec<u8>> = ["a0", "a1", "a2", "b0", "b1", "b2"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    for (s, _) in &puts {
        assert_eq!(*s, shard);
    }
    let put_seqs: Vec<String> = puts.iter().map(|(_, q)| q.clone()).collect();

    // TRIM_HORIZON: everything, in order, with the sequence numbers PutRecord returned.
    let th = read_shard(&client, "its", &shard).await;
    assert_eq!(datas(&th), all);
    assert_eq!(seqs(&th), put_seqs);
    for r in &th {
        assert_eq!(r.partition_key(), Some("k"));
        let ts = r
            .approximate_arrival_timestamp()
            .expect("ApproximateArrivalTimestamp")
            .to_millis()
            .unwrap();
        assert!(
            (ts - now_millis()).abs() < 60_000,
            "arrival timestamp {ts} far from now"
        );
    }

    // AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER.
    let it = iterator_at(
        &client,
        "its",
        &shard,
        ShardIteratorType::AtSequenceNumber,
        &put_seqs[2],
    )
    .await;
    assert_eq!(datas(&drain(&client, it).await), all[2..].to_vec());
    let it = iterator_at(
        &client,
        "its",
        &shard,
        ShardIteratorType::AfterSequenceNumber,
        &put_seqs[2],
    )
    .await;
    assert_eq!(datas(&drain(&client, it).await), all[3..].to_vec());
    let it = iterator_at(
        &client,
        "its",
        &shard,
        ShardIteratorType::AfterSequenceNumber,
        &put_seqs[5],
    )
    .await;
    assert!(drain(&client, it).await.is_empty());

    // AT_TIMESTAMP: the first record that arrived at or after the timestamp.
    let it = iterator_at_timestamp(&client, "its", &shard, between).await;
    assert_eq!(datas(&drain(&client, it).await), all[3..].to_vec());
    let first_ts = th[0]
        .approximate_arrival_timestamp()
        .unwrap()
        .to_millis()
        .unwrap();
    let it = iterator_at_timestamp(&client, "its", &shard, first_ts).await;
    assert_eq!(datas(&drain(&client, it).await), all);
    // Before the trim horizon: the same as TRIM_HORIZON.
    let it = iterator_at_timestamp(&client, "its", &shard, 1_000_000_000).await;
    assert_eq!(datas(&drain(&client, it).await), all);

    // LATEST: only what is put afterwards.
    let latest = shard_iterator(&client, "its", &shard, ShardIteratorType::Latest).await;
    let page = client
        .get_records()
        .shard_iterator(&latest)
        .send()
        .await
        .unwrap();
    assert!(page.records().is_empty());
    assert_eq!(page.millis_behind_latest(), Some(0));
    let next = page.next_shard_iterator().unwrap().to_string();
    put(&client, "its", "k", b"c0").await;
    assert_eq!(datas(&drain(&client, next).await), vec![b"c0".to_vec()]);
    // The LATEST iterator itself still points just after b2.
    assert_eq!(datas(&drain(&client, latest).await), vec![b"c0".to_vec()]);

    // AT_TIMESTAMP an hour in the future: answers promptly, and never yields older records.
    let future = now_millis() + 3_600_000;
    match client
        .get_shard_iterator()
        .stream_name("its")
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_millis(future))
        .send()
        .await
    {
        Ok(out) => {
            let it = out.shard_iterator().unwrap().to_string();
            put(&client, "its", "k", b"d0").await;
            let started = Instant::now();
            let page = client
                .get_records()
                .shard_iterator(&it)
                .send()
                .await
                .unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "GetRecords with a future AT_TIMESTAMP took {:?}",
                started.elapsed()
            );
            assert!(
                page.records().is_empty(),
                "records older than the future timestamp: {:?}",
                datas(page.records())
            );
            assert!(page.next_shard_iterator().is_some());
        }
        Err(e) => assert_eq!(
            e.code(),
            Some("InvalidArgumentException"),
            "{}",
            fmt_err(&e)
        ),
    }
}

#[tokio::test]
async fn data_round_trips_byte_for_byte() {
    let server = Server::start_with(&["--throughput-limits", "off"]);
    let client = server.client();
    create_active(&client, "bytes", 1).await;

    let binary: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let empty: Vec<u8> = Vec::new();
    // Data + partition key = exactly 1 MiB, the default record limit.
    let big: Vec<u8> = (0..(1024 * 1024 - 1))
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let utf8_invalid = vec![0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80];

    let mut expected = Vec::new();
    for d in [&binary, &empty, &big, &utf8_invalid] {
        put(&client, "bytes", "k", d).await;
        expected.push(d.clone());
    }
    let out = client
        .put_records()
        .stream_name("bytes")
        .records(entry("k", binary.clone()))
        .records(entry("k", empty.clone()))
        .records(entry("k", utf8_invalid.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_record_count(), Some(0));
    expected.extend([binary.clone(), empty.clone(), utf8_invalid.clone()]);

    let got = read_shard(&client, "bytes", &shard_id(0)).await;
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in datas(&got).iter().zip(&expected).enumerate() {
        assert!(
            g == e,
            "record {i}: {} bytes back, {} bytes put",
            g.len(),
            e.len()
        );
    }

    // One byte over the limit is refused, naming the member.
    let msg = expect_code(
        client
            .put_record()
            .stream_name("bytes")
            .partition_key("k")
            .data(Blob::new(vec![0u8; 1024 * 1024 + 1]))
            .send()
            .await,
        "ValidationException",
    );
    assert!(msg.contains("'data'"), "{msg}");
}

#[tokio::test]
async fn partition_keys_and_explicit_hash_keys_route_like_aws() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "route", 4).await;

    // The test vectors of the reference: MD5("pk") → shard 0 of 4, MD5("1") → shard 3 of 4.
    assert_eq!(put(&client, "route", "pk", b"x").await.0, shard_id(0));
    assert_eq!(put(&client, "route", "1", b"x").await.0, shard_id(3));
    assert_eq!(shard_for_hash(md5_hash("pk"), 4), 0);
    assert_eq!(shard_for_hash(md5_hash("1"), 4), 3);

    // Many keys: the shard is the one whose hash range holds MD5(key), big-endian.
    for i in 0..40 {
        let key = format!("key-{i}-{}", i * 7919);
        let (shard, _) = put(&client, "route", &key, b"x").await;
        assert_eq!(
            shard,
            shard_id(shard_for_hash(md5_hash(&key), 4) as usize),
            "key {key}"
        );
    }
    // Non-ASCII keys hash their UTF-8 bytes.
    for key in ["é", "ключ", "🦀"] {
        let (shard, _) = put(&client, "route", key, b"x").await;
        assert_eq!(shard, shard_id(shard_for_hash(md5_hash(key), 4) as usize));
    }

    // ExplicitHashKey overrides the partition key: both edges of every shard's range.
    let shards = client
        .list_shards()
        .stream_name("route")
        .send()
        .await
        .unwrap();
    for (i, s) in shards.shards().iter().enumerate() {
        let range = s.hash_key_range().unwrap();
        for hk in [range.starting_hash_key(), range.ending_hash_key()] {
            let out = client
                .put_record()
                .stream_name("route")
                .partition_key("pk")
                .explicit_hash_key(hk)
                .data(Blob::new(b"e".to_vec()))
                .send()
                .await
                .unwrap();
            assert_eq!(out.shard_id(), shard_id(i), "ExplicitHashKey {hk}");
        }
    }
    let out = client
        .put_records()
        .stream_name("route")
        .records(
            PutRecordsRequestEntry::builder()
                .partition_key("pk")
                .explicit_hash_key(MAX_HASH_KEY)
                .data(Blob::new(b"e".to_vec()))
                .build()
                .unwrap(),
        )
        .records(
            PutRecordsRequestEntry::builder()
                .partition_key("1")
                .explicit_hash_key("0")
                .data(Blob::new(b"e".to_vec()))
                .build()
                .unwrap(),
        )
        .records(entry("1", b"e".to_vec()))
        .send()
        .await
        .unwrap();
    let got: Vec<Option<&str>> = out.records().iter().map(|r| r.shard_id()).collect();
    assert_eq!(
        got,
        vec![
            Some(shard_id(3).as_str()),
            Some(shard_id(0).as_str()),
            Some(shard_id(3).as_str())
        ]
    );
}

#[tokio::test]
async fn sequence_numbers_strictly_increase_per_shard() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "seq", 2).await;

    let mut by_shard: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut all = HashSet::new();
    for i in 0..60 {
        let (shard, seq) = put(&client, "seq", &format!("k{i}"), b"v").await;
        assert_decimal(&seq);
        assert!(all.insert(seq.clone()), "duplicate sequence number {seq}");
        by_shard.entry(shard).or_default().push(seq);
    }
    let out = client
        .put_records()
        .stream_name("seq")
        .set_records(Some(
            (0..60)
                .map(|i| entry(&format!("k{i}"), b"w".to_vec()))
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    for r in out.records() {
        let seq = r.sequence_number().unwrap().to_string();
        assert_decimal(&seq);
        assert!(all.insert(seq.clone()), "duplicate sequence number {seq}");
        by_shard
            .entry(r.shard_id().unwrap().to_string())
            .or_default()
            .push(seq);
    }
    assert_eq!(by_shard.len(), 2, "60 keys should hit both shards");

    let shards = client
        .list_shards()
        .stream_name("seq")
        .send()
        .await
        .unwrap();
    for s in shards.shards() {
        let put_order = &by_shard[s.shard_id()];
        assert_strictly_increasing(put_order, s.shard_id());
        let start = s
            .sequence_number_range()
            .unwrap()
            .starting_sequence_number();
        assert_ne!(
            dec_cmp(start, &put_order[0]),
            Ordering::Greater,
            "StartingSequenceNumber {start} is above the first record's {}",
            put_order[0]
        );
        // Reading back gives the same numbers in the same order.
        let read = seqs(&read_shard(&client, "seq", s.shard_id()).await);
        assert_eq!(&read, put_order);
    }

    // SequenceNumberForOrdering: the new record's number is greater than the one given.
    let (shard, last) = put(&client, "seq", "k0", b"x").await;
    let out = client
        .put_record()
        .stream_name("seq")
        .partition_key("k0")
        .sequence_number_for_ordering(&last)
        .data(Blob::new(b"y".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.shard_id(), shard);
    assert_eq!(dec_cmp(&last, out.sequence_number()), Ordering::Less);
}

#[tokio::test]
async fn get_records_limit_chaining_and_millis_behind_latest() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "lim", 1).await;
    let out = client
        .put_records()
        .stream_name("lim")
        .set_records(Some(
            (0..25)
                .map(|i| entry("k", format!("r{i}").into_bytes()))
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_record_count(), Some(0));

    let mut it = shard_iterator(&client, "lim", &shard_id(0), ShardIteratorType::TrimHorizon).await;
    let mut sizes = Vec::new();
    let mut got = Vec::new();
    let mut iterators = HashSet::new();
    loop {
        let page = client
            .get_records()
            .shard_iterator(&it)
            .limit(10)
            .send()
            .await
            .unwrap();
        assert!(page.records().len() <= 10);
        sizes.push(page.records().len());
        got.extend(datas(page.records()));
        let next = page
            .next_shard_iterator()
            .expect("NextShardIterator on an open shard")
            .to_string();
        assert!(iterators.insert(next.clone()), "NextShardIterator repeated");
        it = next;
        if got.len() == 25 {
            // Caught up: nothing left, 0 ms behind.
            assert_eq!(page.millis_behind_latest(), Some(0));
            break;
        }
        assert!(sizes.len() < 20, "pages: {sizes:?}");
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    let expected: Vec<Vec<u8>> = (0..25).map(|i| format!("r{i}").into_bytes()).collect();
    assert_eq!(got, expected);

    let page = client
        .get_records()
        .shard_iterator(&it)
        .send()
        .await
        .unwrap();
    assert!(page.records().is_empty());
    assert_eq!(page.millis_behind_latest(), Some(0));
    assert!(page.child_shards().is_empty());

    // Limit 1 returns exactly one record.
    let it = shard_iterator(&client, "lim", &shard_id(0), ShardIteratorType::TrimHorizon).await;
    let page = client
        .get_records()
        .shard_iterator(&it)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(datas(page.records()), vec![b"r0".to_vec()]);

    // An iterator can be used more than once.
    let again = client
        .get_records()
        .shard_iterator(&it)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(datas(again.records()), vec![b"r0".to_vec()]);
}

#[tokio::test]
async fn put_records_with_500_entries() {
    let server = Server::start_with(&["--throughput-limits", "off"]);
    let client = server.client();
    create_active(&client, "five-hundred", 4).await;
    let keys: Vec<String> = (0..500).map(|i| format!("pk-{i}")).collect();
    let out = client
        .put_records()
        .stream_name("five-hundred")
        .set_records(Some(
            keys.iter()
                .map(|k| entry(k, format!("data-{k}").into_bytes()))
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_record_count(), Some(0));
    assert_eq!(out.records().len(), 500);
    let mut per_shard: HashMap<String, Vec<String>> = HashMap::new();
    for (k, r) in keys.iter().zip(out.records()) {
        assert!(r.error_code().is_none(), "{r:?}");
        let shard = r.shard_id().expect("ShardId");
        assert_eq!(
            shard,
            shard_id(shard_for_hash(md5_hash(k), 4) as usize),
            "key {k}"
        );
        per_shard
            .entry(shard.to_string())
            .or_default()
            .push(r.sequence_number().expect("SequenceNumber").to_string());
    }
    let mut total = 0;
    for (shard, put_seqs) in &per_shard {
        assert_strictly_increasing(put_seqs, shard);
        let read = read_shard(&client, "five-hundred", shard).await;
        assert_eq!(&seqs(&read), put_seqs, "shard {shard}");
        for r in &read {
            let k = r.partition_key().unwrap();
            assert_eq!(r.data().as_ref(), format!("data-{k}").as_bytes());
        }
        total += read.len();
    }
    assert_eq!(total, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_put_records_are_each_read_back_once() {
    let server = Server::start_with(&["--throughput-limits", "off"]);
    let client = server.client();
    create_active(&client, "conc", 4).await;
    const TASKS: usize = 16;
    const CALLS: usize = 8;
    const PER_CALL: usize = 50;

    let mut handles = Vec::new();
    for t in 0..TASKS {
        let client = client.clone();
        handles.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for c in 0..CALLS {
                let entries: Vec<PutRecordsRequestEntry> = (0..PER_CALL)
                    .map(|j| {
                        let key = format!("t{t}-k{}", j % 7);
                        entry(&key, format!("t{t}-c{c}-j{j}").into_bytes())
                    })
                    .collect();
                let out = client
                    .put_records()
                    .stream_name("conc")
                    .set_records(Some(entries))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("PutRecords: {}", fmt_err(&e)));
                assert_eq!(out.failed_record_count(), Some(0));
                assert_eq!(out.records().len(), PER_CALL);
                for (j, r) in out.records().iter().enumerate() {
                    results.push((
                        format!("t{t}-c{c}-j{j}"),
                        r.shard_id().unwrap().to_string(),
                        r.sequence_number().unwrap().to_string(),
                    ));
                }
            }
            results
        }));
    }
    let mut put: HashMap<String, (String, String)> = HashMap::new();
    for h in handles {
        for (data, shard, seq) in h.await.unwrap() {
            assert!(put.insert(data, (shard, seq)).is_none());
        }
    }
    assert_eq!(put.len(), TASKS * CALLS * PER_CALL);

    let mut seen = HashSet::new();
    for i in 0..4 {
        let shard = shard_id(i);
        let read = read_shard(&client, "conc", &shard).await;
        assert_strictly_increasing(&seqs(&read), &shard);
        // Per partition key, records come back in the order they were put.
        let mut last_by_key: HashMap<String, (usize, usize)> = HashMap::new();
        for r in &read {
            let data = String::from_utf8(r.data().as_ref().to_vec()).unwrap();
            assert!(seen.insert(data.clone()), "record {data} read twice");
            let (want_shard, want_seq) = put
                .get(&data)
                .unwrap_or_else(|| panic!("record {data} was never put"));
            assert_eq!(want_shard, &shard, "record {data} is in the wrong shard");
            assert_eq!(want_seq, r.sequence_number(), "record {data}");
            let parts: Vec<usize> = data
                .split('-')
                .skip(1)
                .map(|p| p[1..].parse().unwrap())
                .collect();
            let (c, j) = (parts[0], parts[1]);
            let key = r.partition_key().unwrap().to_string();
            if let Some(prev) = last_by_key.insert(key.clone(), (c, j)) {
                assert!(
                    prev < (c, j),
                    "key {key}: {prev:?} read before {:?}",
                    (c, j)
                );
            }
        }
    }
    assert_eq!(seen.len(), put.len(), "records missing on read");
}
