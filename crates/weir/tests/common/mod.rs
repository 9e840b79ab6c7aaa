//! Shared harness for the weir integration tests: spawn the real `weir` binary on a free port with
//! its own data directory, talk to it with the AWS SDK for Rust or with raw HTTP requests.

#![allow(dead_code)]

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::timeout::TimeoutConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::StreamStatus;
use aws_sdk_kinesis::Client;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::fmt::Debug;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const ACCOUNT: &str = "000000000000";
pub const REGION: &str = "us-east-1";
/// 2^128 - 1, the top of the hash key space.
pub const MAX_HASH_KEY: &str = "340282366920938463463374607431768211455";

/// A running `weir serve` child process. Killed (and waited for) on drop.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    root: tempfile::TempDir,
    extra_args: Vec<String>,
    starts: u32,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Default server: fsync durability, throughput limits as configured by default,
    /// `--creating-delay-ms 50` and `--throughput-limits off`.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Server with extra command-line arguments (e.g. `["--throughput-limits", "off"]`); a
    /// `--creating-delay-ms` among them replaces the default of 50.
    pub fn start_with(extra: &[&str]) -> Server {
        let root = tempfile::Builder::new()
            .prefix("weir-it-")
            .tempdir()
            .expect("create temp dir");
        let mut server = Server {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            root,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            starts: 0,
        };
        server.spawn();
        server
    }

    /// Like [`Server::start_with`], but `prepare` runs on the (not yet created) data directory
    /// path first, e.g. to mount a file system there.
    pub fn start_prepared(extra: &[&str], prepare: impl FnOnce(&Path)) -> Server {
        let root = tempfile::Builder::new()
            .prefix("weir-it-")
            .tempdir()
            .expect("create temp dir");
        let mut server = Server {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            root,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            starts: 0,
        };
        prepare(&server.data_dir());
        server.spawn();
        server
    }

    /// Hands the running process to the caller (who then signals and reaps it).
    pub fn take_child(&mut self) -> Child {
        self.child.take().expect("server not running")
    }

    /// Starts the server again after the caller reaped it (see [`Server::take_child`]).
    pub fn start_again(&mut self) {
        self.spawn();
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn log_path(&self, n: u32) -> PathBuf {
        self.root.path().join(format!("stderr-{n}.log"))
    }

    /// Everything the current (or last) process wrote to stderr.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.log_path(self.starts)).unwrap_or_default()
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn command(&self, listen: SocketAddr, data_dir: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_weir"));
        cmd.arg("serve")
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--data-dir")
            .arg(data_dir);
        // These suites test semantics, not AWS's per-shard rates (the Python suite tests
        // throttling), so they run an unthrottled server unless a test asks otherwise.
        if !self.extra_args.iter().any(|a| a == "--throughput-limits") {
            cmd.arg("--throughput-limits").arg("off");
        }
        if !self.extra_args.iter().any(|a| a == "--creating-delay-ms") {
            cmd.arg("--creating-delay-ms").arg("50");
        }
        cmd.args(&self.extra_args).stdin(Stdio::null());
        // Keep the developer's environment (WEIR_*, a config file) out of the tests.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("WEIR_") {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "server already running");
        // The port was free when picked, but another process may have bound it since (a
        // parallel test's server picking the same one): a first start moves to a new port.
        let first = self.starts == 0;
        for attempt in 0.. {
            self.starts += 1;
            let log = std::fs::File::create(self.log_path(self.starts)).expect("create stderr log");
            let child = self
                .command(self.addr, &self.data_dir())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn weir");
            self.child = Some(child);
            match self.wait_ready() {
                Ok(()) => return,
                Err(stderr) if first && attempt < 3 && stderr.contains("cannot listen") => {
                    self.addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
                }
                Err(stderr) => {
                    panic!("weir exited before accepting connections; stderr:\n{stderr}")
                }
            }
        }
    }

    /// Waits until this process says it listens (a connection alone could reach another
    /// process on the same port); `Err(stderr)` if it exited first.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listening = format!("listening on http://{} ", self.addr);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(format!("({status}) {}", self.stderr()));
            }
            if self.stderr().contains(&listening)
                && TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.as_mut().unwrap().kill();
                let _ = self.child.as_mut().unwrap().wait();
                self.child = None;
                panic!(
                    "weir did not accept connections on {} within 10 s; stderr:\n{}",
                    self.addr,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server not running").id()
    }

    /// SIGTERM, then wait (bounded) for a clean exit. Returns the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server not running");
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "weir did not exit within 20 s of SIGTERM; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Graceful restart on the same data directory and port.
    pub fn restart(&mut self) {
        let status = self.stop();
        assert!(
            status.success(),
            "weir exited with {status} after SIGTERM; stderr:\n{}",
            self.stderr()
        );
        self.spawn();
    }

    /// SIGKILL the server and reap it (no restart).
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("server not running");
        child.kill().expect("SIGKILL weir");
        child.wait().expect("reap weir");
    }

    /// SIGKILL, then start again on the same data directory and port.
    pub fn kill9_restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Start a second `weir serve` on the same data directory (another port) and wait for it to
    /// exit, at most `timeout`. Panics if it is still running then (after killing it).
    pub fn run_second_on_same_dir(&self, timeout: Duration) -> Output {
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut child = self
            .command(listen, &self.data_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn second weir");
        let deadline = Instant::now() + timeout;
        loop {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "a second weir on the same data dir was still running after {timeout:?}; stderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// An SDK client pointed at this server.
    pub fn client(&self) -> Client {
        client_for(&self.endpoint())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn client_for(endpoint: &str) -> Client {
    let conf = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            "AKIDWEIRTEST",
            "weir-test-secret",
            None,
            None,
            "weir-tests",
        ))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(500)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(conf)
}

pub fn stream_arn(name: &str) -> String {
    format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}")
}

/// A stream name unique within the process (tests in one binary may share a server).
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Polls DescribeStreamSummary (every 20 ms, at most 10 s) until the stream is ACTIVE.
pub async fn wait_active(client: &Client, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeStreamSummary {name}: {}", fmt_err(&e)));
        let status = out.stream_description_summary().unwrap().stream_status();
        if *status == StreamStatus::Active {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stream {name} still {status:?} after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls until DescribeStreamSummary says ResourceNotFoundException (at most 10 s).
pub async fn wait_gone(client: &Client, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
        {
            Err(e) if e.code() == Some("ResourceNotFoundException") => return,
            Err(e) => panic!("DescribeStreamSummary {name}: {}", fmt_err(&e)),
            Ok(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "stream {name} still exists 10 s after DeleteStream"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// CreateStream (provisioned, `shards` shards) and wait until ACTIVE.
pub async fn create_active(client: &Client, name: &str, shards: i32) {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateStream {name}: {}", fmt_err(&e)));
    wait_active(client, name).await;
}

/// "Code: message" for an SDK error, including the raw response status where there is one.
pub fn fmt_err<E, R>(e: &aws_sdk_kinesis::error::SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + Debug,
    R: Debug,
{
    match e.code() {
        Some(code) => format!("{code}: {}", e.message().unwrap_or("")),
        None => format!("{e:?}"),
    }
}

/// Asserts an SDK call failed with the given error code, returning its message.
pub fn expect_code<T: Debug, E, R>(
    result: Result<T, aws_sdk_kinesis::error::SdkError<E, R>>,
    code: &str,
) -> String
where
    E: ProvideErrorMetadata + Debug,
    R: Debug,
{
    match result {
        Ok(v) => panic!("expected {code}, got success: {v:?}"),
        Err(e) => {
            assert_eq!(e.code(), Some(code), "expected {code}, got {}", fmt_err(&e));
            e.message().unwrap_or("").to_string()
        }
    }
}

/// Compare decimal strings as big unsigned integers (no leading zeros assumed).
pub fn dec_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

/// The shard index whose initial hash range of an `n`-shard stream contains `hash`
/// (step = floor(2^128 / n), last shard takes the remainder).
pub fn shard_for_hash(hash: u128, n: u128) -> u128 {
    // 2^128 / n computed without overflow: (u128::MAX / n) equals floor(2^128 / n) unless n
    // divides 2^128 exactly (n a power of two), where it is one less.
    let step = if n.is_power_of_two() {
        if n == 1 {
            return 0;
        }
        1u128 << (128 - n.trailing_zeros())
    } else {
        u128::MAX / n
    };
    (hash / step).min(n - 1)
}

/// A TRIM_HORIZON / LATEST iterator for one shard.
pub async fn shard_iterator(
    client: &Client,
    stream: &str,
    shard: &str,
    ty: aws_sdk_kinesis::types::ShardIteratorType,
) -> String {
    client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ty)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetShardIterator {stream}/{shard}: {}", fmt_err(&e)))
        .shard_iterator()
        .expect("ShardIterator")
        .to_string()
}

/// Follows NextShardIterator from `iterator` until a page is empty and MillisBehindLatest is 0
/// (bounded), returning every record read.
pub async fn drain(client: &Client, mut iterator: String) -> Vec<aws_sdk_kinesis::types::Record> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = client
            .get_records()
            .shard_iterator(&iterator)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetRecords: {}", fmt_err(&e)));
        let empty = page.records().is_empty();
        out.extend(page.records().iter().cloned());
        if empty && page.millis_behind_latest() == Some(0) {
            return out;
        }
        iterator = page
            .next_shard_iterator()
            .expect("an open shard always has a NextShardIterator")
            .to_string();
    }
    panic!("GetRecords never caught up");
}

/// Every record of one shard, from TRIM_HORIZON.
pub async fn read_shard(
    client: &Client,
    stream: &str,
    shard: &str,
) -> Vec<aws_sdk_kinesis::types::Record> {
    let it = shard_iterator(
        client,
        stream,
        shard,
        aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon,
    )
    .await;
    drain(client, it).await
}

pub fn shard_id(i: usize) -> String {
    format!("shardId-{i:012}")
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP

pub type RawClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

pub fn raw_http1() -> RawClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

pub fn raw_http2() -> RawClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

pub const JSON: &str = "application/x-amz-json-1.1";
pub const CBOR: &str = "application/x-amz-cbor-1.1";
/// A SigV4-shaped Authorization header (weir does not verify signatures yet; the shape suffices).
pub const FAKE_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDWEIRTEST/20240101/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef";

pub struct RawResponse {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub version: http::Version,
}

impl RawResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Builder for one raw POST request.
pub struct RawRequest {
    pub target: Option<String>,
    pub content_type: Option<String>,
    pub auth: bool,
    pub body: Vec<u8>,
    pub extra_headers: Vec<(String, String)>,
}

impl RawRequest {
    pub fn new(op: &str, content_type: &str, body: impl Into<Vec<u8>>) -> RawRequest {
        RawRequest {
            target: Some(format!("Kinesis_20131202.{op}")),
            content_type: Some(content_type.to_string()),
            auth: true,
            body: body.into(),
            extra_headers: Vec::new(),
        }
    }

    pub fn json(op: &str, body: &serde_json::Value) -> RawRequest {
        RawRequest::new(op, JSON, serde_json::to_vec(body).unwrap())
    }

    pub fn header(mut self, k: &str, v: &str) -> RawRequest {
        self.extra_headers.push((k.to_string(), v.to_string()));
        self
    }

    pub fn no_auth(mut self) -> RawRequest {
        self.auth = false;
        self
    }

    pub fn build(self, endpoint: &str) -> http::Request<Full<Bytes>> {
        let mut b = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("{endpoint}/"));
        if let Some(t) = &self.target {
            b = b.header("x-amz-target", t);
        }
        if let Some(ct) = &self.content_type {
            b = b.header(http::header::CONTENT_TYPE, ct);
        }
        if self.auth {
            b = b
                .header(http::header::AUTHORIZATION, FAKE_AUTH)
                .header("x-amz-date", "20240101T000000Z");
        }
        for (k, v) in &self.extra_headers {
            b = b.header(k, v);
        }
        b.body(Full::new(Bytes::from(self.body))).unwrap()
    }

    pub async fn send(self, client: &RawClient, endpoint: &str) -> RawResponse {
        send_raw(client, self.build(endpoint)).await
    }
}

pub async fn send_raw(client: &RawClient, req: http::Request<Full<Bytes>>) -> RawResponse {
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("raw request timed out")
        .expect("raw request failed");
    let status = resp.status();
    let version = resp.version();
    let headers = resp.headers().clone();
    let body = tokio::time::timeout(Duration::from_secs(30), resp.into_body().collect())
        .await
        .expect("reading the response body timed out")
        .expect("reading the response body failed")
        .to_bytes();
    RawResponse {
        status,
        headers,
        body,
        version,
    }
}
