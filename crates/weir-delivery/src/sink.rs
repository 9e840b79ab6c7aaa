//! Where objects go: buckets as local directories or S3-compatible object stores.
//!
//! The bucket of `BucketARN` `arn:aws:s3:::NAME` is, by default, the directory
//! `<data-dir>/s3/NAME/`; configuration maps a bucket to another directory or to an
//! S3-compatible endpoint. Both go through the `object_store` crate (`LocalFileSystem`,
//! `AmazonS3`), built without its `aws` feature so no aws-lc-rs is compiled: signing uses ring,
//! HTTP is reqwest on rustls with the ring provider ([`install_ring_provider`]).
//!
//! Invariant: an object is visible whole or not at all. S3 PUTs are atomic; `LocalFileSystem`
//! writes a staging file beside the target (`<key>#<n>`) and renames it into place. Keys are
//! parsed strictly (`object_store::path::Path::parse`): empty, `.` and `..` segments are refused,
//! so no key escapes its bucket's directory.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutOptions, PutPayload};

/// Where one bucket's objects go.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub enum BucketTarget {
    /// Objects are files under this directory.
    Directory(PathBuf),
    /// Objects go to an S3-compatible endpoint.
    S3 {
        /// e.g. `http://127.0.0.1:9000`.
        endpoint: String,
        /// Signing region.
        region: String,
        /// Access key id.
        access_key_id: String,
        /// Secret access key.
        secret_access_key: String,
        /// Path-style (`endpoint/bucket/key`) rather than virtual-hosted requests.
        path_style: bool,
        /// Remote bucket name if different from the ARN's.
        bucket: Option<String>,
    },
}

/// Installs rustls's ring provider as the process default, once (reqwest is built without a
/// provider of its own so that aws-lc-rs is never compiled). Harmless if one is installed already.
pub fn install_ring_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client on rustls + ring with the given request timeout, shared per timeout so
/// connections are pooled across calls (building one loads the platform's root certificates).
pub(crate) fn http_client(timeout: Duration) -> reqwest::Client {
    static CLIENTS: std::sync::OnceLock<Mutex<HashMap<Duration, reqwest::Client>>> =
        std::sync::OnceLock::new();
    install_ring_provider();
    let clients = CLIENTS.get_or_init(Default::default);
    let mut clients = clients.lock().unwrap_or_else(|e| e.into_inner());
    clients
        .entry(timeout)
        .or_insert_with(|| {
            // Firehose does not follow redirects (a 3xx is a failed attempt).
            reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
        .clone()
}

/// The bucket name of `arn:aws:s3:::NAME`, or None if `arn` is not an S3 bucket ARN.
pub fn bucket_name(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:aws:s3:::")
        .or_else(|| arn.strip_prefix("arn:aws-cn:s3:::"))
        .or_else(|| arn.strip_prefix("arn:aws-us-gov:s3:::"))
        .filter(|n| valid_bucket(n))
}

/// Names that are safe as a directory name (S3's rules are stricter: 3–63 of `a-z0-9.-`).
fn valid_bucket(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The buckets objects are written to.
pub struct Buckets {
    data_dir: PathBuf,
    targets: BTreeMap<String, BucketTarget>,
    stores: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl std::fmt::Debug for Buckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buckets")
            .field("data_dir", &self.data_dir)
            .field("targets", &self.targets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Buckets {
    /// `targets` overrides where named buckets go; others are `<data_dir>/s3/NAME/`.
    pub fn new(data_dir: &FsPath, targets: BTreeMap<String, BucketTarget>) -> Self {
        install_ring_provider();
        Buckets {
            data_dir: data_dir.to_path_buf(),
            targets,
            stores: Mutex::new(HashMap::new()),
        }
    }

    /// Where `bucket` goes.
    pub fn target(&self, bucket: &str) -> BucketTarget {
        self.targets
            .get(bucket)
            .cloned()
            .unwrap_or_else(|| BucketTarget::Directory(self.data_dir.join("s3").join(bucket)))
    }

    fn store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, String> {
        if !valid_bucket(bucket) {
            return Err(format!("Invalid bucket name {bucket:?}"));
        }
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = stores.get(bucket) {
            return Ok(s.clone());
        }
        let store: Arc<dyn ObjectStore> = match self.target(bucket) {
            BucketTarget::Directory(dir) => {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("creating bucket directory {}: {e}", dir.display()))?;
                Arc::new(
                    object_store::local::LocalFileSystem::new_with_prefix(&dir)
                        .map_err(|e| format!("bucket directory {}: {e}", dir.display()))?,
                )
            }
            BucketTarget::S3 {
                endpoint,
                region,
                access_key_id,
                secret_access_key,
                path_style,
                bucket: remote,
            } => Arc::new(
                object_store::aws::AmazonS3Builder::new()
                    .with_endpoint(&endpoint)
                    .with_region(&region)
                    .with_access_key_id(&access_key_id)
                    .with_secret_access_key(&secret_access_key)
                    .with_bucket_name(remote.as_deref().unwrap_or(bucket))
                    .with_virtual_hosted_style_request(!path_style)
                    .with_allow_http(endpoint.starts_with("http://"))
                    .build()
                    .map_err(|e| format!("S3 bucket {bucket} at {endpoint}: {e}"))?,
            ),
        };
        stores.insert(bucket.to_string(), store.clone());
        Ok(store)
    }

    fn key(key: &str) -> Result<Path, String> {
        Path::parse(key).map_err(|e| format!("Invalid object key {key:?}: {e}"))
    }

    /// Writes one whole object (atomically visible: never a half-written object).
    pub async fn put(&self, bucket: &str, key: &str, body: Bytes) -> Result<(), String> {
        let store = self.store(bucket)?;
        let path = Self::key(key)?;
        store
            .put_opts(&path, PutPayload::from(body), PutOptions::default())
            .await
            .map(|_| ())
            .map_err(|e| format!("writing s3://{bucket}/{key}: {e}"))
    }

    /// Reads one whole object.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Bytes, String> {
        let store = self.store(bucket)?;
        let path = Self::key(key)?;
        let result = store
            .get_opts(&path, GetOptions::default())
            .await
            .map_err(|e| format!("reading s3://{bucket}/{key}: {e}"))?;
        result
            .bytes()
            .await
            .map_err(|e| format!("reading s3://{bucket}/{key}: {e}"))
    }

    /// Keys of the objects under `prefix` (all objects when empty), sorted.
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
        use futures_util::TryStreamExt;
        let store = self.store(bucket)?;
        let prefix = if prefix.is_empty() {
            None
        } else {
            Some(Self::key(prefix.trim_end_matches('/'))?)
        };
        let mut keys: Vec<String> = store
            .list(prefix.as_ref())
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .map_err(|e| {
                format!(
                    "listing s3://{bucket}/{}: {e}",
                    prefix.map(|p| p.to_string()).unwrap_or_default()
                )
            })?;
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_arns() {
        assert_eq!(bucket_name("arn:aws:s3:::my-bucket"), Some("my-bucket"));
        assert_eq!(bucket_name("arn:aws:s3:::.."), None);
        assert_eq!(bucket_name("arn:aws:s3:::a/b"), None);
        assert_eq!(bucket_name("arn:aws:kinesis:::x"), None);
    }
}
