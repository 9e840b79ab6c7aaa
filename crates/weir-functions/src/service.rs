//! The function service: definitions (create, get, list, delete) and invocations.

use crate::http_function::{self, HttpClient};
use crate::model::*;
use crate::pool::{Invocation, Pool};
use crate::registry::Registry;
use crate::runtimes::PackageRuntime;
use crate::{Error, Result};
use bytes::Bytes;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weir_core::Clock;
use weir_storage::MetadataStore;

/// Where and how functions run.
#[derive(Debug, Clone)]
pub struct FunctionsConfig {
    pub region: String,
    pub account_id: String,
    /// Where deployment packages are unpacked (`<data-dir>/functions`).
    pub code_dir: PathBuf,
    /// The interpreter for `python3.*` runtimes (it needs the `awslambdaric` package).
    pub python: String,
    /// The Node.js runtime interface client for `nodejs*` runtimes (npm's `aws-lambda-ric`): a
    /// path, or a name looked up on PATH.
    pub node_ric: String,
    /// weir's own endpoint, given to handlers as `AWS_ENDPOINT_URL` (None: not set).
    pub endpoint: Option<String>,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct FunctionService {
    inner: Arc<Inner>,
}

/// Per-function counters for `/metrics` beyond the CloudWatch ones in [`crate::metrics`]:
/// sandboxes started for an invocation.
#[derive(Debug, Default)]
pub struct FunctionStats {
    pub cold_starts: std::sync::atomic::AtomicU64,
}

struct Inner {
    stats: Mutex<HashMap<String, Arc<FunctionStats>>>,
    metrics: Arc<crate::metrics::LambdaMetrics>,
    registry: Registry,
    settings: Arc<FunctionsConfig>,
    pools: Mutex<HashMap<String, Arc<Pool>>>,
    clock: Arc<dyn Clock>,
    http: HttpClient,
}

impl FunctionService {
    pub fn new(
        meta: Arc<dyn MetadataStore>,
        clock: Arc<dyn Clock>,
        settings: FunctionsConfig,
    ) -> Self {
        FunctionService {
            inner: Arc::new(Inner {
                stats: Mutex::default(),
                metrics: Arc::new(crate::metrics::LambdaMetrics::new(clock.clone())),
                registry: Registry::new(meta),
                settings: Arc::new(settings),
                pools: Mutex::default(),
                clock,
                http: http_function::client(),
            }),
        }
    }

    /// The `AWS/Lambda` metrics invocations record.
    pub fn metrics(&self) -> &Arc<crate::metrics::LambdaMetrics> {
        &self.inner.metrics
    }

    pub fn settings(&self) -> &FunctionsConfig {
        &self.inner.settings
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub fn arn(&self, name: &str) -> String {
        let s = &self.inner.settings;
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            s.region, s.account_id
        )
    }

    /// The function name in a FunctionName parameter: a name, a partial ARN
    /// (`123456789012:function:name`) or a full ARN, with an optional `:$LATEST` qualifier.
    pub fn name_of(function: &str) -> &str {
        let rest = match function.find("function:") {
            Some(i) => &function[i + "function:".len()..],
            None => function,
        };
        rest.split(':').next().unwrap_or(rest)
    }

    pub async fn create(&self, req: CreateFunction) -> Result<FunctionConfig> {
        let settings = &self.inner.settings;
        let name = req.name.clone();
        if self.inner.registry.get(&name)?.is_some() {
            return Err(Error::Conflict(name));
        }
        let (code, sha, size) = match (req.zip_file, req.code) {
            (Some(zip), _) => {
                let runtime = req.runtime.as_deref().unwrap_or("");
                if req.runtime.is_none() || req.handler.is_none() {
                    return Err(Error::Invalid(
                        "Runtime and Handler are mandatory parameters for functions created with deployment packages.".into(),
                    ));
                }
                let Some(family) = PackageRuntime::of(runtime) else {
                    return Err(Error::Invalid(format!(
                        "weir runs deployment packages for the python3.*, nodejs* and provided.* runtimes; {runtime} is not supported (define the function by a command instead)"
                    )));
                };
                family.check_client(settings).await?;
                let sha = base64_sha256(&zip);
                let dir = settings
                    .code_dir
                    .join(&name)
                    .join(sha.replace(['/', '+', '='], "_"));
                let unpack_dir = dir.clone();
                let zip_len = zip.len() as u64;
                tokio::task::spawn_blocking(move || crate::zip_code::unpack(&zip, &unpack_dir))
                    .await
                    .map_err(|e| Error::Internal(e.to_string()))?
                    .map_err(Error::Invalid)?;
                if family == PackageRuntime::Provided && !dir.join("bootstrap").is_file() {
                    return Err(Error::Invalid(
                        "The deployment package of a provided runtime must contain an executable named bootstrap at its root.".into(),
                    ));
                }
                (Code::Package { dir }, sha, zip_len)
            }
            (None, Some(code)) => {
                let described = serde_json::to_vec(&code).unwrap_or_default();
                (code, base64_sha256(&described), described.len() as u64)
            }
            (None, None) => {
                return Err(Error::Invalid(
                    "Please provide a source for function code.".into(),
                ))
            }
        };
        let f = FunctionConfig {
            arn: self.arn(&name),
            name,
            runtime: req.runtime,
            role: req.role,
            handler: req.handler,
            description: req.description,
            timeout_secs: req.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
            memory_mb: req.memory_mb.unwrap_or(DEFAULT_MEMORY_MB),
            environment: req.environment,
            reserved_concurrency: None,
            code,
            code_sha256: sha,
            code_size: size,
            last_modified: lambda_timestamp(self.inner.clock.now_millis()),
            revision_id: uuid::Uuid::new_v4().to_string(),
        };
        self.inner.registry.create(&f)?;
        self.inner.stats.lock().remove(&f.name);
        Ok(f)
    }

    pub fn get(&self, function: &str) -> Result<FunctionConfig> {
        let name = Self::name_of(function);
        self.inner
            .registry
            .get(name)?
            .ok_or_else(|| Error::NotFound(self.arn(name)))
    }

    pub fn list(&self) -> Result<Vec<FunctionConfig>> {
        self.inner.registry.list()
    }

    pub fn delete(&self, function: &str) -> Result<()> {
        let name = Self::name_of(function);
        if !self.inner.registry.delete(name)? {
            return Err(Error::NotFound(self.arn(name)));
        }
        if let Some(pool) = self.inner.pools.lock().remove(name) {
            pool.stop_all();
        }
        // Its CloudWatch series go with it, as a deleted stream's do.
        self.inner.metrics.table().retain(|n| n != name);
        Ok(())
    }

    /// Sets (Some) or removes (None) a function's reserved concurrency.
    pub fn set_concurrency(&self, function: &str, reserved: Option<u32>) -> Result<()> {
        let mut f = self.get(function)?;
        f.reserved_concurrency = reserved;
        self.inner.registry.put(&f)?;
        if let Some(pool) = self.inner.pools.lock().get(&f.name) {
            *pool.function.lock() = Arc::new(f);
        }
        Ok(())
    }

    /// Runs the function on `payload` and waits for its answer. A failing function is an
    /// `Ok` outcome with `function_error` set; `Err` means weir could not invoke it at all.
    pub async fn invoke(&self, function: &str, payload: Bytes) -> Result<InvokeOutcome> {
        let f = self.get(function)?;
        let running = self.inner.metrics.start(&f.name);
        let outcome = self.invoke_config(f, payload).await;
        running.finish(!matches!(&outcome, Ok(o) if !o.is_error()));
        outcome
    }

    fn stats_of(&self, name: &str) -> Arc<FunctionStats> {
        self.inner
            .stats
            .lock()
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// Every function's counters, by name.
    pub fn stats(&self) -> Vec<(String, Arc<FunctionStats>)> {
        let mut v: Vec<_> = self
            .inner
            .stats
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    async fn invoke_config(&self, f: FunctionConfig, payload: Bytes) -> Result<InvokeOutcome> {
        let request_id = uuid::Uuid::new_v4().to_string();
        if let Code::Http { url } = &f.code {
            let timeout = Duration::from_secs(f.timeout_secs as u64);
            return Ok(http_function::invoke(
                &self.inner.http,
                url,
                &f.arn,
                &request_id,
                payload,
                timeout,
            )
            .await);
        }
        let pool = self.pool(f);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let timeout_ms = pool.function().timeout_secs as i64 * 1000;
        let admitted = pool.submit(Invocation {
            request_id: request_id.clone(),
            payload,
            deadline_ms: self.inner.clock.now_millis() + timeout_ms,
            reply,
        });
        match admitted {
            crate::pool::Admitted::ColdStart => {
                let stats = self.stats_of(&pool.function().name);
                stats
                    .cold_starts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            crate::pool::Admitted::Queued => {
                self.inner.metrics.throttled(&pool.function().name);
            }
            crate::pool::Admitted::Warm => {}
        }
        answer.await.map_err(|_| {
            Error::Internal(format!(
                "the sandbox running invocation {request_id} vanished"
            ))
        })
    }

    fn pool(&self, f: FunctionConfig) -> Arc<Pool> {
        let mut pools = self.inner.pools.lock();
        let pool = pools
            .entry(f.name.clone())
            .or_insert_with(|| Pool::new(f.clone(), self.inner.settings.clone()));
        // A redefined function (same name, new code) gets fresh sandboxes.
        if pool.function().revision_id != f.revision_id {
            pool.stop_all();
            *pool = Pool::new(f, self.inner.settings.clone());
        }
        pool.clone()
    }

    /// Sandboxes alive for a function (for tests and metrics).
    pub fn sandboxes(&self, function: &str) -> usize {
        self.inner
            .pools
            .lock()
            .get(Self::name_of(function))
            .map_or(0, |p| p.alive())
    }

    /// Kills every sandbox (weir is stopping).
    pub fn shutdown(&self) {
        for pool in self.inner.pools.lock().values() {
            pool.stop_all();
        }
    }
}

fn base64_sha256(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(Sha256::digest(bytes))
}

/// Lambda's LastModified format: `2026-12-01T08:00:00.000+0000`.
pub(crate) fn lambda_timestamp(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_as_lambda_writes_them() {
        assert_eq!(lambda_timestamp(0), "1970-01-01T00:00:00.000+0000");
        assert_eq!(
            lambda_timestamp(1_796_116_200_123),
            "2026-12-01T09:10:00.123+0000"
        );
    }

    #[test]
    fn function_names_come_out_of_arns() {
        assert_eq!(FunctionService::name_of("f"), "f");
        assert_eq!(FunctionService::name_of("f:$LATEST"), "f");
        assert_eq!(
            FunctionService::name_of("arn:aws:lambda:us-east-1:000000000000:function:f"),
            "f"
        );
        assert_eq!(FunctionService::name_of("000000000000:function:f:1"), "f");
    }
}
