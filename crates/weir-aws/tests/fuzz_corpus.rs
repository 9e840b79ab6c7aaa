//! Replays the fuzz targets' seed corpus and every saved regression input (fuzz/corpus/<target>/
//! and fuzz/regressions/<target>/) through the same entry points `scripts/fuzz` fuzzes, so a
//! crash found once stays fixed.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) {
            files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    files.sort();
    files
}

fn replay(target: &str, run: impl Fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no corpus for {target}");
    for f in files {
        let data = std::fs::read(&f).unwrap();
        // Also every prefix of each seed: truncation is the commonest corruption.
        for cut in [data.len(), data.len() / 2, data.len().saturating_sub(1), 3] {
            run(&data[..cut.min(data.len())]);
        }
    }
}

#[test]
fn kinesis_requests() {
    replay("kinesis", weir_aws::fuzzing::kinesis);
}

#[test]
fn eventstream_messages() {
    replay("eventstream", weir_aws::fuzzing::eventstream);
}

#[test]
fn segment_batches() {
    replay("segment_batch", weir_storage::fuzzing::batch);
}

#[test]
fn http_connections() {
    replay("http", |d| {
        weir_aws::fuzzing::http(d);
    });
}

#[test]
fn http_seeds_reach_the_operations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/http");
    let answer = |seed: &str| weir_aws::fuzzing::http(&std::fs::read(root.join(seed)).unwrap());
    let put = String::from_utf8_lossy(&answer("put_record")).into_owned();
    assert!(put.starts_with("HTTP/1.1 200"), "{put}");
    assert!(put.contains("SequenceNumber"), "{put}");
    let pipelined = String::from_utf8_lossy(&answer("pipelined")).into_owned();
    assert_eq!(pipelined.matches("HTTP/1.1 200").count(), 2, "{pipelined}");
    // Firehose, Glue and EventBridge sit behind the same router.
    let created =
        String::from_utf8_lossy(&answer("Firehose_20150804_CreateDeliveryStream")).into_owned();
    assert!(
        created.contains("DeliveryStreamARN") || created.contains("ResourceInUseException"),
        "{created}"
    );
    let rule = String::from_utf8_lossy(&answer("AWSEvents_PutRule")).into_owned();
    assert!(rule.contains("RuleArn"), "{rule}");
    let table = String::from_utf8_lossy(&answer("AWSGlue_CreateTable")).into_owned();
    assert!(table.contains("EntityNotFoundException"), "{table}");
    // HTTP/2: the server's frames include a HEADERS frame (type 1) for the answer.
    let h2 = answer("h2_put_record");
    assert!(
        h2.len() > 9 && h2.windows(14).any(|w| w == b"SequenceNumber"),
        "{}",
        String::from_utf8_lossy(&h2)
    );
}

#[test]
fn firehose_requests() {
    replay("firehose", weir_aws::fuzzing::firehose);
}
