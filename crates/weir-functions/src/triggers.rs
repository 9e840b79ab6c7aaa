//! Object triggers: an object created in a bucket directory (`<data-dir>/s3/<bucket>/`, where
//! weir's delivery streams write by default and where anyone may drop files) invokes a function
//! with the S3 event notification (`ObjectCreated:Put`), filtered by key prefix and suffix —
//! the bucket's notification configuration, as S3's PutBucketNotificationConfiguration sets it.
//!
//! A watcher scans the watched directories. Each bucket keeps a watermark (the newest
//! modification time it has notified, persisted) so that objects created while weir was down
//! are notified after a restart and nothing is notified twice; files being written (names
//! starting with `.` or ending in `#<digits>`, the staging names weir and object_store use) are
//! not objects yet. Invocations are asynchronous, retried twice like S3's.

use crate::{Error, FunctionService, Result};
use md5::{Digest, Md5};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use weir_core::Clock;
use weir_storage::metadata::{Expect, MetaOp};
use weir_storage::MetadataStore;

const CONFIGS: &str = "bucket_notifications";
const WATERMARKS: &str = "bucket_notification_watermarks";
const SCAN_EVERY: Duration = Duration::from_millis(300);

/// One `LambdaFunctionConfiguration` of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectTrigger {
    pub id: String,
    pub function_arn: String,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

impl ObjectTrigger {
    fn wants(&self, key: &str) -> bool {
        let created = self
            .events
            .iter()
            .any(|e| e == "s3:ObjectCreated:*" || e == "s3:ObjectCreated:Put");
        created
            && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

/// The trigger service. Cheap to clone.
#[derive(Clone)]
pub struct ObjectTriggers {
    inner: Arc<Inner>,
}

struct Inner {
    meta: Arc<dyn MetadataStore>,
    functions: FunctionService,
    clock: Arc<dyn Clock>,
    buckets_dir: PathBuf,
    /// Per bucket: files already notified at the current watermark's modification time.
    seen: Mutex<HashMap<String, (u128, HashSet<PathBuf>)>>,
    sequencer: AtomicU64,
}

impl ObjectTriggers {
    pub fn new(
        meta: Arc<dyn MetadataStore>,
        functions: FunctionService,
        clock: Arc<dyn Clock>,
        buckets_dir: PathBuf,
    ) -> Self {
        ObjectTriggers {
            inner: Arc::new(Inner {
                meta,
                functions,
                clock,
                buckets_dir,
                seen: Mutex::default(),
                sequencer: AtomicU64::new(0),
            }),
        }
    }

    /// The bucket's triggers (PutBucketNotificationConfiguration replaces them all). A bucket
    /// that gets triggers starts watching from now: objects already there are not notified.
    pub fn set(&self, bucket: &str, triggers: Vec<ObjectTrigger>) -> Result<()> {
        for t in &triggers {
            self.inner.functions.get(&t.function_arn).map_err(|_| {
                Error::Invalid("Unable to validate the following destination configurations".into())
            })?;
            if t.events.iter().any(|e| !e.starts_with("s3:ObjectCreated:")) {
                return Err(Error::Invalid(format!(
                    "weir notifies object creation only (s3:ObjectCreated:*); got {:?}",
                    t.events
                )));
            }
        }
        let mut ops = vec![MetaOp::Put {
            table: CONFIGS.into(),
            key: bucket.into(),
            value: serde_json::to_vec(&triggers).map_err(|e| Error::Internal(e.to_string()))?,
            expect: Expect::Any,
        }];
        if self.inner.meta.get(WATERMARKS, bucket)?.is_none() {
            ops.push(MetaOp::Put {
                table: WATERMARKS.into(),
                key: bucket.into(),
                value: newest_mtime(&self.inner.buckets_dir.join(bucket))
                    .to_string()
                    .into_bytes(),
                expect: Expect::Any,
            });
        }
        self.inner.meta.transact(ops)?;
        Ok(())
    }

    pub fn get(&self, bucket: &str) -> Result<Vec<ObjectTrigger>> {
        match self.inner.meta.get(CONFIGS, bucket)? {
            None => Ok(Vec::new()),
            Some(v) => serde_json::from_slice(&v.value).map_err(|e| Error::Internal(e.to_string())),
        }
    }

    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let t = self.clone();
        tokio::spawn(async move {
            loop {
                let scan = t.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || scan.scan()).await {
                    tracing::warn!(error = %e, "object trigger scan failed");
                }
                tokio::time::sleep(SCAN_EVERY).await;
            }
        })
    }

    /// One pass over every watched bucket: notifies objects newer than its watermark.
    pub fn scan(&self) {
        let Ok(configs) = self.inner.meta.list(CONFIGS) else {
            return;
        };
        for (bucket, v) in configs {
            let Ok(triggers) = serde_json::from_slice::<Vec<ObjectTrigger>>(&v.value) else {
                continue;
            };
            if triggers.is_empty() {
                continue;
            }
            if let Err(e) = self.scan_bucket(&bucket, &triggers) {
                tracing::warn!(bucket = %bucket, error = %e, "cannot scan a bucket directory");
            }
        }
    }

    fn scan_bucket(&self, bucket: &str, triggers: &[ObjectTrigger]) -> Result<()> {
        let root = self.inner.buckets_dir.join(bucket);
        let watermark: u128 = self
            .inner
            .meta
            .get(WATERMARKS, bucket)?
            .and_then(|v| String::from_utf8(v.value).ok()?.parse().ok())
            .unwrap_or(0);
        let mut fresh: Vec<(u128, PathBuf, u64)> = Vec::new();
        walk(&root, &mut |path, mtime, size| {
            if mtime >= watermark {
                fresh.push((mtime, path.to_path_buf(), size));
            }
        });
        fresh.sort();
        let mut seen = self.inner.seen.lock();
        let (seen_at, seen_set) = seen
            .entry(bucket.to_string())
            .or_insert_with(|| (watermark, HashSet::new()));
        let mut newest = watermark;
        for (mtime, path, size) in fresh {
            if mtime == *seen_at && seen_set.contains(&path) {
                continue;
            }
            let Ok(rel) = path.strip_prefix(&root) else {
                continue;
            };
            let key = rel.to_string_lossy().replace('\\', "/");
            let mut wanting = triggers.iter().filter(|t| t.wants(&key)).peekable();
            if wanting.peek().is_some() {
                // The object is read and hashed once, whatever the number of triggers.
                let etag = std::fs::read(&path)
                    .map(|b| hex(&Md5::digest(&b)))
                    .unwrap_or_default();
                for t in wanting {
                    self.notify(bucket, &key, &etag, size, t);
                }
            }
            if mtime > *seen_at {
                *seen_at = mtime;
                seen_set.clear();
            }
            seen_set.insert(path);
            newest = newest.max(mtime);
        }
        drop(seen);
        if newest > watermark {
            self.inner.meta.transact(vec![MetaOp::Put {
                table: WATERMARKS.into(),
                key: bucket.into(),
                value: newest.to_string().into_bytes(),
                expect: Expect::Any,
            }])?;
        }
        Ok(())
    }

    fn notify(&self, bucket: &str, key: &str, etag: &str, size: u64, t: &ObjectTrigger) {
        let seq = self.inner.sequencer.fetch_add(1, Ordering::Relaxed);
        let settings = self.inner.functions.settings();
        let event = s3_event(&S3Object {
            region: &settings.region,
            bucket,
            key,
            size,
            etag,
            configuration_id: &t.id,
            sequencer: &format!(
                "{:016X}",
                self.inner.clock.now_millis() as u64 * 1000 + seq % 1000
            ),
            now_millis: self.inner.clock.now_millis(),
        });
        let functions = self.inner.functions.clone();
        let arn = t.function_arn.clone();
        let key = key.to_string();
        tokio::runtime::Handle::current().spawn(async move {
            let payload = bytes::Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
            for attempt in 0..3 {
                match functions.invoke(&arn, payload.clone()).await {
                    Ok(o) if !o.is_error() => return,
                    Ok(o) => tracing::warn!(function = %arn, key = %key, attempt, "object trigger invocation failed: {}", String::from_utf8_lossy(&o.payload)),
                    Err(e) => tracing::warn!(function = %arn, key = %key, attempt, error = %e, "object trigger invocation could not run"),
                }
                tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
            }
        });
    }
}

pub(crate) struct S3Object<'a> {
    pub region: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: u64,
    pub etag: &'a str,
    pub configuration_id: &'a str,
    pub sequencer: &'a str,
    pub now_millis: i64,
}

/// The S3 event notification for one created object.
pub(crate) fn s3_event(o: &S3Object<'_>) -> serde_json::Value {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": o.region,
        "eventTime": crate::mappings::event::iso8601(o.now_millis, true),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "weir"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase(),
            "x-amz-id-2": uuid::Uuid::new_v4().to_string(),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": o.configuration_id,
            "bucket": {
                "name": o.bucket,
                "ownerIdentity": {"principalId": "weir"},
                "arn": format!("arn:aws:s3:::{}", o.bucket),
            },
            "object": {
                "key": url_encode_key(o.key),
                "size": o.size,
                "eTag": o.etag,
                "sequencer": o.sequencer,
            },
        },
    }]})
}

/// Keys in S3 events are URL-encoded as forms are: space as `+`, `/` kept.
fn url_encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_staging(name: &str) -> bool {
    name.starts_with('.')
        || name
            .rsplit_once('#')
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Every finished object under `root`: (path, modification time in nanoseconds, size).
fn walk(root: &Path, f: &mut dyn FnMut(&Path, u128, u64)) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_staging(&name) {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file() {
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                f(&e.path(), mtime, meta.len());
            }
        }
    }
}

fn newest_mtime(root: &Path) -> u128 {
    let mut newest = 0;
    walk(root, &mut |_, m, _| newest = newest.max(m + 1));
    newest
}

/// Parses S3's `NotificationConfiguration` XML (the Lambda part; queue and topic configurations
/// are refused).
pub fn parse_notification_xml(xml: &str) -> Result<Vec<ObjectTrigger>, String> {
    if xml.contains("<TopicConfiguration>") || xml.contains("<QueueConfiguration>") {
        return Err(
            "weir delivers bucket notifications to functions only (LambdaFunctionConfigurations)"
                .into(),
        );
    }
    let mut out = Vec::new();
    for block in elements(xml, "CloudFunctionConfiguration") {
        let function_arn = elements(block, "CloudFunction")
            .first()
            .map(|s| unescape(s))
            .ok_or("a LambdaFunctionConfiguration needs a LambdaFunctionArn")?;
        let mut prefix = None;
        let mut suffix = None;
        for rule in elements(block, "FilterRule") {
            let name = elements(rule, "Name")
                .first()
                .map(|s| unescape(s))
                .unwrap_or_default();
            let value = elements(rule, "Value").first().map(|s| unescape(s));
            match name.to_ascii_lowercase().as_str() {
                "prefix" => prefix = value,
                "suffix" => suffix = value,
                other => return Err(format!("Invalid filter rule name {other}")),
            }
        }
        out.push(ObjectTrigger {
            id: elements(block, "Id")
                .first()
                .map(|s| unescape(s))
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            function_arn,
            events: elements(block, "Event")
                .iter()
                .map(|s| unescape(s))
                .collect(),
            prefix,
            suffix,
        });
    }
    Ok(out)
}

/// The XML for GetBucketNotificationConfiguration.
pub fn notification_xml(triggers: &[ObjectTrigger]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for t in triggers {
        x.push_str("<CloudFunctionConfiguration>");
        x.push_str(&format!(
            "<Id>{}</Id><CloudFunction>{}</CloudFunction>",
            escape(&t.id),
            escape(&t.function_arn)
        ));
        for e in &t.events {
            x.push_str(&format!("<Event>{}</Event>", escape(e)));
        }
        let mut rules: BTreeMap<&str, &str> = BTreeMap::new();
        if let Some(p) = &t.prefix {
            rules.insert("Prefix", p);
        }
        if let Some(s) = &t.suffix {
            rules.insert("Suffix", s);
        }
        if !rules.is_empty() {
            x.push_str("<Filter><S3Key>");
            for (n, v) in rules {
                x.push_str(&format!(
                    "<FilterRule><Name>{n}</Name><Value>{}</Value></FilterRule>",
                    escape(v)
                ));
            }
            x.push_str("</S3Key></Filter>");
        }
        x.push_str("</CloudFunctionConfiguration>");
    }
    x.push_str("</NotificationConfiguration>");
    x
}

/// The contents of every `<tag>…</tag>` directly or indirectly inside `xml`.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.trim()
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boto3s_notification_xml_round_trips() {
        let xml = r#"<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CloudFunctionConfiguration><Id>csv</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>in/</Value></FilterRule><FilterRule><Name>suffix</Name><Value>.csv</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration></NotificationConfiguration>"#;
        let t = parse_notification_xml(xml).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].id, "csv");
        assert_eq!(t[0].prefix.as_deref(), Some("in/"));
        assert_eq!(t[0].suffix.as_deref(), Some(".csv"));
        assert!(t[0].wants("in/a.csv"));
        assert!(!t[0].wants("in/a.txt"));
        assert!(!t[0].wants("out/a.csv"));
        assert_eq!(parse_notification_xml(&notification_xml(&t)).unwrap(), t);
    }

    #[test]
    fn keys_are_encoded_as_s3_encodes_them_in_events() {
        assert_eq!(url_encode_key("in/my file=1.csv"), "in/my+file%3D1.csv");
        assert!(is_staging(".x.tmp"));
        assert!(is_staging("part#12"));
        assert!(!is_staging("a#b"));
    }
}
