//! STUB (engineer DLIB owns this module; their version replaces it at merge).
//! Where objects go: bucket `NAME` of `arn:aws:s3:::NAME` is `<data-dir>/s3/NAME/` unless
//! configured otherwise. Only directory targets are real here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub enum BucketTarget {
    Directory(PathBuf),
    S3 {
        endpoint: String,
        region: String,
        access_key_id: String,
        secret_access_key: String,
        path_style: bool,
        bucket: Option<String>,
    },
}

pub struct Buckets {
    root: PathBuf,
    targets: BTreeMap<String, BucketTarget>,
}

impl Buckets {
    pub fn new(data_dir: &Path, targets: BTreeMap<String, BucketTarget>) -> Self {
        Self {
            root: data_dir.join("s3"),
            targets,
        }
    }

    /// Writes one whole object (atomically visible: never a half-written object).
    pub async fn put(&self, bucket: &str, key: &str, body: bytes::Bytes) -> Result<(), String> {
        let dir = match self.targets.get(bucket) {
            Some(BucketTarget::Directory(d)) => d.clone(),
            Some(BucketTarget::S3 { .. }) => {
                return Err("S3-compatible targets are not built into this stub sink".into())
            }
            None => self.root.join(bucket),
        };
        if key.split('/').any(|c| c == "..") || key.starts_with('/') {
            return Err(format!("object key {key:?} leaves the bucket"));
        }
        let path = dir.join(key);
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::create_dir_all(tmp.parent().unwrap_or(Path::new(".")))?;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            if let Some(parent) = path.parent() {
                if let Ok(d) = std::fs::File::open(parent) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
    }
}
