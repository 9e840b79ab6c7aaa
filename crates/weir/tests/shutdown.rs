//! Graceful shutdown (issue 9, acceptance 4): SIGTERM during PutRecords load from several
//! producers (fsync durability) exits 0 within the grace period and loses no acknowledged
//! record; in-flight requests either complete or fail cleanly. A second SIGTERM exits at once.

mod common;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use common::*;
use std::collections::HashMap;
use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn kill_term(pid: u32) {
    assert!(Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success());
}

fn wait_exit(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("weir did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_exits_cleanly_and_keeps_every_acknowledged_record() {
    let mut server = Server::start_with(&["--durability", "fsync"]);
    let client = server.client();
    let stream = unique_name("drain");
    create_active(&client, &stream, 4).await;

    // sequence number -> data, for every acknowledged record.
    let acked: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    let mut producers = Vec::new();
    for p in 0..6 {
        let (client, stream, acked) = (client.clone(), stream.clone(), acked.clone());
        producers.push(tokio::spawn(async move {
            let mut clean_failures = 0;
            for round in 0.. {
                let entries: Vec<_> = (0..50)
                    .map(|i| {
                        PutRecordsRequestEntry::builder()
                            .partition_key(format!("p{p}-{round}-{i}"))
                            .data(Blob::new(format!("producer {p} round {round} record {i}")))
                            .build()
                            .unwrap()
                    })
                    .collect();
                let datas: Vec<Vec<u8>> =
                    entries.iter().map(|e| e.data().as_ref().to_vec()).collect();
                match client
                    .put_records()
                    .stream_name(&stream)
                    .set_records(Some(entries))
                    .send()
                    .await
                {
                    Ok(out) => {
                        let mut a = acked.lock().unwrap();
                        for (r, d) in out.records().iter().zip(datas) {
                            if let Some(seq) = r.sequence_number() {
                                a.insert(seq.to_string(), d);
                            }
                        }
                    }
                    // Connection refused/closed once the server stops: a clean failure.
                    Err(_) => {
                        clean_failures += 1;
                        if clean_failures >= 3 {
                            return round;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            unreachable!()
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = acked.lock().unwrap().len();
    assert!(before > 0, "the producers wrote nothing before SIGTERM");

    let mut child = server.take_child();
    let t = Instant::now();
    kill_term(child.id());
    let status =
        tokio::task::spawn_blocking(move || wait_exit(&mut child, Duration::from_secs(12)))
            .await
            .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(
        t.elapsed() < Duration::from_secs(11),
        "drain took {:?}",
        t.elapsed()
    );
    for p in producers {
        p.await.unwrap();
    }

    server.start_again();
    let client = server.client();
    let acked = acked.lock().unwrap().clone();
    let mut found = 0;
    for shard in 0..4 {
        for r in read_shard(&client, &stream, &shard_id(shard)).await {
            if let Some(d) = acked.get(r.sequence_number()) {
                assert_eq!(
                    r.data().as_ref(),
                    d.as_slice(),
                    "record {} changed",
                    r.sequence_number()
                );
                found += 1;
            }
        }
    }
    assert_eq!(
        found,
        acked.len(),
        "acknowledged records lost in the shutdown"
    );
}

#[test]
fn a_second_sigterm_exits_at_once() {
    let mut server = Server::start();
    // A request stuck mid-body holds the drain open (for up to the grace period).
    let mut stuck = std::net::TcpStream::connect(server.addr).unwrap();
    write!(
        stuck,
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{{"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut child = server.take_child();
    kill_term(child.id());
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first SIGTERM should drain, not exit, while a request is in flight"
    );
    let t = Instant::now();
    kill_term(child.id());
    let status = wait_exit(&mut child, Duration::from_secs(3));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        !status.success(),
        "a second signal exits at once, not cleanly: {status}"
    );
    drop(stuck);
}
