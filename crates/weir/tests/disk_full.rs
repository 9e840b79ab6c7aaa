//! A full disk (issue 9, acceptance 1): on a 64 MiB loop-mounted ext4 data directory, writes
//! are refused with a retryable 5xx AWS error once space runs out (the `--min-free-bytes` guard
//! or ENOSPC itself), reads keep serving every acknowledged record byte for byte, writes resume
//! by themselves once space is freed, and everything acknowledged survives `kill -9`.
//!
//! Needs root and loop devices; where it cannot mount it says so and passes without asserting.

mod common;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const RECORD_BYTES: usize = 40 << 10;
const PER_CALL: usize = 25;

/// A loop-mounted ext4 image; unmounted (lazily, so a busy mount cannot stop it) on drop.
struct LoopMount {
    at: PathBuf,
    _image_dir: tempfile::TempDir,
}

impl LoopMount {
    fn new(at: &Path, size: &str) -> Result<LoopMount, String> {
        let image_dir = tempfile::Builder::new()
            .prefix("weir-diskfull-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let img = image_dir.path().join("fs.img");
        let run = |cmd: &mut Command| -> Result<(), String> {
            let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{cmd:?}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        run(Command::new("truncate").arg("-s").arg(size).arg(&img))?;
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0"])
            .arg(&img))?;
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        run(Command::new("mount")
            .arg("-o")
            .arg("loop")
            .arg(&img)
            .arg(at))?;
        Ok(LoopMount {
            at: at.to_path_buf(),
            _image_dir: image_dir,
        })
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
        if let Some(root) = self.at.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

fn payload(i: usize) -> Vec<u8> {
    let mut v = vec![(i % 251) as u8; RECORD_BYTES];
    v[..8].copy_from_slice(&(i as u64).to_be_bytes());
    v
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

async fn check_all(client: &aws_sdk_kinesis::Client, stream: &str, acked: &[(String, usize)]) {
    let got = read_shard(client, stream, &shard_id(0)).await;
    assert_eq!(
        got.len(),
        acked.len(),
        "every acknowledged record, and only those"
    );
    for (r, (seq, i)) in got.iter().zip(acked) {
        assert_eq!(r.sequence_number(), seq);
        assert!(
            r.data().as_ref() == payload(*i).as_slice(),
            "record {i} damaged"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_refuses_writes_keeps_reads_and_recovers() {
    let mut mount = None;
    let mut server = Server::start_prepared(
        &["--min-free-bytes", "4194304", "--durability", "fsync"],
        |dir| match LoopMount::new(dir, "64M") {
            Ok(m) => {
                // Room to give back later.
                let mut f = std::fs::File::create(dir.join("filler")).unwrap();
                f.write_all(&vec![7u8; 8 << 20]).unwrap();
                f.sync_all().unwrap();
                mount = Some(m);
            }
            Err(e) => eprintln!("skipping: cannot mount a loop device here ({e})"),
        },
    );
    let Some(mount) = mount else {
        return;
    };
    let client = server.client();
    let stream = unique_name("full");
    create_active(&client, &stream, 1).await;

    // Fill the disk until writes are refused.
    let mut acked: Vec<(String, usize)> = Vec::new();
    let mut next = 0usize;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "writes were never refused");
        let entries: Vec<_> = (next..next + PER_CALL)
            .map(|i| {
                PutRecordsRequestEntry::builder()
                    .partition_key(format!("k{i}"))
                    .data(Blob::new(payload(i)))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = client
            .put_records()
            .stream_name(&stream)
            .set_records(Some(entries))
            .send()
            .await
            .expect("PutRecords answers per record, even on a full disk");
        let mut refused = 0;
        for (k, r) in out.records().iter().enumerate() {
            match r.sequence_number() {
                Some(seq) => acked.push((seq.to_string(), next + k)),
                None => {
                    assert_eq!(r.error_code(), Some("InternalFailure"));
                    refused += 1;
                }
            }
        }
        next += PER_CALL;
        if refused == PER_CALL {
            break;
        }
    }
    assert!(acked.len() > 100, "the disk took {} records", acked.len());

    // A single PutRecord gets a retryable 5xx AWS error (once even one record no longer fits:
    // a batch refused for ENOSPC may have been larger than the space left).
    let mut attempts = 0;
    let err = loop {
        attempts += 1;
        assert!(attempts < 500, "single records were never refused");
        match client
            .put_record()
            .stream_name(&stream)
            .partition_key("p")
            .data(Blob::new(payload(next)))
            .send()
            .await
        {
            Ok(out) => acked.push((out.sequence_number().to_string(), next)),
            Err(e) => break e,
        }
        next += 1;
    };
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(err.code(), Some("InternalFailureException"), "{err:?}");
    assert_eq!(status, Some(500));
    next += 1;

    let (ready, body) = http_get(server.addr, "/ready");
    let metrics = http_get(server.addr, "/metrics").1;
    let refusals = metric(&metrics, "weir_storage_low_space_refusals_total")
        + metric(&metrics, "weir_storage_write_failures_total");
    assert!(refusals > 0, "refusals are counted:\n{metrics}");
    if metric(&metrics, "weir_storage_refusing_writes") == 1 {
        assert_eq!(ready, 503, "{body}");
    }
    assert_eq!(
        server.stderr().matches("writes are failing").count(),
        1,
        "logged once per episode:\n{}",
        server.stderr()
    );

    // Reads are still served, byte for byte.
    check_all(&client, &stream, &acked).await;

    // Free space: writes resume by themselves.
    std::fs::remove_file(mount.at.join("filler")).unwrap();
    let _ = Command::new("sync").arg("-f").arg(&mount.at).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = client
            .put_record()
            .stream_name(&stream)
            .partition_key("p")
            .data(Blob::new(payload(next)))
            .send()
            .await;
        match r {
            Ok(out) => {
                acked.push((out.sequence_number().to_string(), next));
                next += 1;
                break;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "writes did not resume: {e:?}");
                next += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    for _ in 0..20 {
        let out = client
            .put_record()
            .stream_name(&stream)
            .partition_key("p")
            .data(Blob::new(payload(next)))
            .send()
            .await
            .expect("writes are accepted again");
        acked.push((out.sequence_number().to_string(), next));
        next += 1;
    }
    assert_eq!(http_get(server.addr, "/ready").0, 200);
    check_all(&client, &stream, &acked).await;

    // And all of it survives kill -9.
    server.kill9_restart();
    let client = server.client();
    check_all(&client, &stream, &acked).await;
    drop(server);
    drop(mount);
}
