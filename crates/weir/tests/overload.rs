//! Overload and slow clients (issue 9, acceptance 2): ~200 slow or stalled connections
//! (slowloris headers, a 10 MB Content-Length and then nothing, trickled chunked bodies, silent
//! sockets) plus oversized bodies, while a normal client keeps getting prompt answers; resident
//! memory stays under [`RSS_BOUND`], and the server drops every slow connection within its
//! (short, for the test) timeouts.

mod common;

use aws_sdk_kinesis::primitives::Blob;
use common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The documented bound on the server's resident memory under this test.
const RSS_BOUND: u64 = 256 << 20;
const HEADER_MS: u64 = 1500;
const BODY_MS: u64 = 2000;

fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn head(content: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\nContent-Type: application/x-amz-json-1.1\r\n{content}\r\n"
    )
}

/// Reads until the server closes; returns what it sent and when it closed.
async fn until_closed(mut s: TcpStream, started: Instant) -> (String, Duration) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(15), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept a slow connection open for 15 s"),
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

/// Sends `chunks` one by one `every` apart, ignoring write errors (the server may close first),
/// then waits for the close.
async fn trickle(
    mut s: TcpStream,
    first: Vec<u8>,
    chunk: Vec<u8>,
    every: Duration,
    started: Instant,
) -> (String, Duration) {
    let _ = s.write_all(&first).await;
    let (mut r, mut w) = s.into_split();
    let writer = tokio::spawn(async move {
        for _ in 0..200 {
            tokio::time::sleep(every).await;
            if w.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(15), r.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept a trickling connection open for 15 s"),
        }
    }
    writer.abort();
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_and_oversized_clients_do_not_starve_normal_ones() {
    let server = Server::start_with(&[
        "--header-timeout-ms",
        &HEADER_MS.to_string(),
        "--body-timeout-ms",
        &BODY_MS.to_string(),
        "--idle-timeout-ms",
        "3000",
        "--max-inflight-bytes",
        &(48u64 << 20).to_string(),
    ]);
    let client = server.client();
    let stream = unique_name("overload");
    create_active(&client, &stream, 2).await;
    let addr = server.addr;
    // Oversized bodies: refused from Content-Length, and mid-stream when chunked.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head("Content-Length: 20000000\r\n").as_bytes())
        .await
        .unwrap();
    let (answer, _) = until_closed(s, Instant::now()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let oversized_chunked = async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(head("Transfer-Encoding: chunked\r\n").as_bytes())
            .await
            .unwrap();
        let mut chunk = format!("{:x}\r\n", 1 << 20).into_bytes();
        chunk.extend_from_slice(&vec![b' '; 1 << 20]);
        chunk.extend_from_slice(b"\r\n");
        for _ in 0..40 {
            if s.write_all(&chunk).await.is_err() {
                break;
            }
        }
        until_closed(s, Instant::now()).await.0
    }
    .await;
    assert!(
        oversized_chunked.starts_with("HTTP/1.1 413"),
        "{oversized_chunked}"
    );

    let started = Instant::now();
    let mut slow = Vec::new();
    let connect = || async move { TcpStream::connect(addr).await.expect("connect") };

    // Slowloris: a header byte every 200 ms, never finishing.
    for _ in 0..60 {
        let s = connect().await;
        slow.push(tokio::spawn(trickle(
            s,
            b"POST / HTTP/1.1\r\nHost: x\r\n".to_vec(),
            b"X".to_vec(),
            Duration::from_millis(200),
            started,
        )));
    }
    // A 10 MB Content-Length, 1 KB of it, then nothing.
    for _ in 0..60 {
        let mut s = connect().await;
        let mut req = head("Content-Length: 10000000\r\n").into_bytes();
        req.extend_from_slice(&[b'{'; 1024]);
        s.write_all(&req).await.unwrap();
        slow.push(tokio::spawn(until_closed(s, started)));
    }
    // Chunked bodies trickled 1 KB every 200 ms.
    for _ in 0..60 {
        let s = connect().await;
        let mut chunk = b"400\r\n".to_vec();
        chunk.extend_from_slice(&[b' '; 1024]);
        chunk.extend_from_slice(b"\r\n");
        slow.push(tokio::spawn(trickle(
            s,
            head("Transfer-Encoding: chunked\r\n").into_bytes(),
            chunk,
            Duration::from_millis(200),
            started,
        )));
    }
    // Silent sockets.
    for _ in 0..20 {
        let s = connect().await;
        slow.push(tokio::spawn(until_closed(s, started)));
    }

    // Meanwhile a normal client gets prompt answers, and memory stays bounded.
    let mut max_rss = 0;
    let mut calls = 0;
    while started.elapsed() < Duration::from_millis(BODY_MS + 1000) {
        let t = Instant::now();
        client.list_streams().send().await.expect("ListStreams");
        client
            .put_record()
            .stream_name(&stream)
            .partition_key(format!("k{calls}"))
            .data(Blob::new(vec![1u8; 512]))
            .send()
            .await
            .expect("PutRecord");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "a normal request took {:?} under load",
            t.elapsed()
        );
        calls += 1;
        max_rss = max_rss.max(rss_bytes(server.pid()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every slow connection is dropped within its timeout (plus slack).
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for task in slow {
        let (answer, closed_after) = task.await.unwrap();
        max_rss = max_rss.max(rss_bytes(server.pid()));
        assert!(
            closed_after < Duration::from_millis(BODY_MS + 3000),
            "a slow connection was closed only after {closed_after:?}"
        );
        let status = answer.split_whitespace().nth(1).unwrap_or("closed");
        *statuses.entry(status.to_string()).or_default() += 1;
    }
    eprintln!(
        "slow connections ended with {statuses:?}; {calls} normal calls; max RSS {} MiB",
        max_rss >> 20
    );
    // Stalled bodies beyond the in-flight byte budget were throttled; the rest timed out.
    assert!(statuses.get("400").is_some_and(|n| *n > 0), "{statuses:?}");
    assert!(statuses.get("408").is_some_and(|n| *n > 0), "{statuses:?}");
    assert!(max_rss > 0 && max_rss < RSS_BOUND, "RSS {max_rss} bytes");
    let metrics = reqwest_free_get(addr, "/metrics").await;
    assert!(metrics.contains("weir_requests_throttled_inflight_total"));
}

async fn reqwest_free_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    until_closed(s, Instant::now()).await.0
}
