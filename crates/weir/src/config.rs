//! `weir serve` settings in two steps, as ripgrep does: raw flags/env/TOML ([`ServeArgs`],
//! [`FileConfig`]) are merged and checked into one validated [`ServeConfig`].
//! Precedence: command-line flag, then `WEIR_<NAME>` environment variable, then the TOML file,
//! then the built-in default.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use weir_storage::Durability;

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (keys as the long flag names, with `_` or `-`).
    #[arg(long, env = "WEIR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on, for every AWS API (HTTP/1.1 and HTTP/2 on one port).
    /// [default: 127.0.0.1:4567]
    #[arg(long, env = "WEIR_LISTEN")]
    pub listen: Option<String>,
    /// Directory holding streams, records and metadata. [default: ./weir-data]
    #[arg(long, env = "WEIR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// When a write is acknowledged: `fsync` (after fdatasync; concurrent writes share one
    /// sync), `interval:<ms>` (sync every <ms> milliseconds), or `none` (never sync).
    /// [default: fsync]
    #[arg(long, env = "WEIR_DURABILITY")]
    pub durability: Option<String>,
    /// AWS region used in ARNs. [default: us-east-1]
    #[arg(long, env = "WEIR_REGION")]
    pub region: Option<String>,
    /// 12-digit AWS account id used in ARNs and messages. [default: 000000000000]
    #[arg(long, env = "WEIR_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// AWS's per-shard throughput limits: `on` or `off` (an unthrottled store). [default: on]
    #[arg(long, env = "WEIR_THROUGHPUT_LIMITS")]
    pub throughput_limits: Option<String>,
    /// Log filter, e.g. `info`, `debug`, `weir_storage=trace`. [default: info]
    #[arg(long, env = "WEIR_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Log format: `text` or `json`. [default: text]
    #[arg(long, env = "WEIR_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// How long a new stream stays CREATING, in milliseconds. [default: 500]
    #[arg(long, env = "WEIR_CREATING_DELAY_MS")]
    pub creating_delay_ms: Option<u64>,
    /// How long a SubscribeToShard response stays open, in milliseconds (AWS: 5 minutes).
    /// [default: 300000]
    #[arg(long, env = "WEIR_SUBSCRIPTION_LIFETIME_MS")]
    pub subscription_lifetime_ms: Option<u64>,
    /// Address of a TLS listener beside the cleartext one (HTTP/1.1 and HTTP/2, ALPN h2 and
    /// http/1.1). Off unless given.
    #[arg(long, env = "WEIR_TLS_LISTEN")]
    pub tls_listen: Option<String>,
    /// PEM certificate chain for the TLS listener. [default: a self-signed certificate that
    /// weir generates in <data-dir>/tls/ on first start]
    #[arg(long, env = "WEIR_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "WEIR_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Refuse writes (with a retryable 500) while the data directory's file system has fewer
    /// bytes free, so that metadata and recovery keep room; 0 turns the check off.
    /// [default: 268435456 (256 MiB)]
    #[arg(long, env = "WEIR_MIN_FREE_BYTES")]
    pub min_free_bytes: Option<u64>,
    /// A log segment is sealed once it would grow past this many bytes (with preallocation on,
    /// already once it is within a sixteenth of that). [default: 67108864 (64 MiB)]
    #[arg(long, env = "WEIR_SEGMENT_BYTES")]
    pub segment_bytes: Option<u64>,
    /// Keep each active segment written with zeros and synced this far ahead of its writes, so
    /// that commits overwrite allocated blocks instead of growing the file; 0 turns it off.
    /// [default: 8388608 (8 MiB)]
    #[arg(long, env = "WEIR_PREALLOCATE_BYTES")]
    pub preallocate_bytes: Option<u64>,
    /// Hand the page cache of durable log further than this behind each shard's end back to
    /// the kernel; 0 leaves it to the kernel. [default: 67108864 (64 MiB)]
    #[arg(long, env = "WEIR_CACHED_TAIL_BYTES")]
    pub cached_tail_bytes: Option<u64>,
    /// Size of each of the two commit-log files through which a commit round of several shards
    /// is made durable with one sync instead of one per shard (fsync durability); 0 leaves it
    /// off. 8388608 (8 MiB) is a good size. [default: 0]
    #[arg(long, env = "WEIR_COMMIT_LOG_BYTES")]
    pub commit_log_bytes: Option<u64>,
    /// The interpreter that runs python3.* functions (it needs the awslambdaric package).
    /// [default: python3]
    #[arg(long, env = "WEIR_PYTHON")]
    pub python: Option<String>,
    /// The Lambda runtime interface client that runs nodejs* functions (npm's aws-lambda-ric),
    /// a path or a name on PATH. [default: aws-lambda-ric]
    #[arg(long, env = "WEIR_NODE_RIC")]
    pub node_ric: Option<String>,
    /// Connections served at once; one more is accepted and closed at once. [default: 4096]
    #[arg(long, env = "WEIR_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Request body bytes held in memory across all requests; a request that cannot get its
    /// bytes within a second gets a throttling error. [default: 536870912 (512 MiB)]
    #[arg(long, env = "WEIR_MAX_INFLIGHT_BYTES")]
    pub max_inflight_bytes: Option<usize>,
    /// A client must send a request's headers within this many milliseconds; HTTP/1
    /// connections idle between requests are closed after it too. [default: 10000]
    #[arg(long, env = "WEIR_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: Option<u64>,
    /// A client must send a whole request body within this many milliseconds. [default: 30000]
    #[arg(long, env = "WEIR_BODY_TIMEOUT_MS")]
    pub body_timeout_ms: Option<u64>,
    /// A connection with nothing in flight and no bytes moving for this many milliseconds is
    /// closed (HTTP/2 keep-alive). [default: 60000]
    #[arg(long, env = "WEIR_IDLE_TIMEOUT_MS")]
    pub idle_timeout_ms: Option<u64>,
    /// Where a Firehose bucket's objects go, as NAME=DIR (repeatable); other buckets of
    /// `arn:aws:s3:::NAME` are <data-dir>/s3/NAME/. S3-compatible targets: the TOML table
    /// `[buckets.NAME.S3]`.
    #[arg(long = "bucket", value_name = "NAME=DIR")]
    pub buckets: Vec<String>,
    /// A Lambda function that Firehose transforms call over HTTP, as NAME=URL (repeatable).
    #[arg(long = "function", value_name = "NAME=URL")]
    pub functions: Vec<String>,
    /// How often an idle delivery pipeline looks for records and due buffers, in
    /// milliseconds. [default: 100]
    #[arg(long, env = "WEIR_DELIVERY_POLL_MS")]
    pub delivery_poll_ms: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(alias = "listen")]
    listen: Option<String>,
    #[serde(alias = "data-dir")]
    data_dir: Option<PathBuf>,
    durability: Option<String>,
    region: Option<String>,
    #[serde(alias = "account-id")]
    account_id: Option<String>,
    #[serde(alias = "throughput-limits")]
    throughput_limits: Option<String>,
    #[serde(alias = "log-level")]
    log_level: Option<String>,
    #[serde(alias = "log-format")]
    log_format: Option<String>,
    #[serde(alias = "creating-delay-ms")]
    creating_delay_ms: Option<u64>,
    #[serde(alias = "subscription-lifetime-ms")]
    subscription_lifetime_ms: Option<u64>,
    #[serde(alias = "tls-listen")]
    tls_listen: Option<String>,
    #[serde(alias = "tls-cert")]
    tls_cert: Option<PathBuf>,
    #[serde(alias = "tls-key")]
    tls_key: Option<PathBuf>,
    #[serde(alias = "min-free-bytes")]
    min_free_bytes: Option<u64>,
    #[serde(alias = "segment-bytes")]
    segment_bytes: Option<u64>,
    #[serde(alias = "preallocate-bytes")]
    preallocate_bytes: Option<u64>,
    #[serde(alias = "cached-tail-bytes")]
    cached_tail_bytes: Option<u64>,
    #[serde(alias = "commit-log-bytes")]
    commit_log_bytes: Option<u64>,
    python: Option<String>,
    #[serde(alias = "node-ric")]
    node_ric: Option<String>,
    #[serde(alias = "max-connections")]
    max_connections: Option<usize>,
    #[serde(alias = "max-inflight-bytes")]
    max_inflight_bytes: Option<usize>,
    #[serde(alias = "header-timeout-ms")]
    header_timeout_ms: Option<u64>,
    #[serde(alias = "body-timeout-ms")]
    body_timeout_ms: Option<u64>,
    #[serde(alias = "idle-timeout-ms")]
    idle_timeout_ms: Option<u64>,
    buckets: Option<BTreeMap<String, weir_delivery::sink::BucketTarget>>,
    functions: Option<BTreeMap<String, String>>,
    #[serde(alias = "delivery-poll-ms")]
    delivery_poll_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Validated settings of `weir serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub region: String,
    pub account_id: String,
    pub throughput_limits: bool,
    pub log_level: String,
    pub log_format: LogFormat,
    pub creating_delay: Duration,
    pub subscription_lifetime: Duration,
    pub tls_listen: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub min_free_bytes: u64,
    /// The record logs' tunables (streams and delivery streams alike).
    pub log_options: weir_storage::LocalLogOptions,
    pub limits: weir_aws::admission::Limits,
    pub python: String,
    pub node_ric: String,
    /// Firehose bucket targets by bucket name.
    pub buckets: BTreeMap<String, weir_delivery::sink::BucketTarget>,
    /// Firehose transform functions by name: their HTTP URLs.
    pub functions: BTreeMap<String, String>,
    pub delivery_poll: Duration,
}

impl ServeConfig {
    pub fn from_args(args: ServeArgs) -> Result<Self> {
        let file: FileConfig = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:4567".into());
        let listen: SocketAddr = listen.parse().with_context(|| {
            format!("--listen: `{listen}` is not an address like 127.0.0.1:4567")
        })?;
        let durability = parse_durability(
            &args
                .durability
                .or(file.durability)
                .unwrap_or_else(|| "fsync".into()),
        )?;
        let account_id = args
            .account_id
            .or(file.account_id)
            .unwrap_or_else(|| "000000000000".into());
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--account-id: `{account_id}` is not a 12-digit AWS account id");
        }
        let region = args
            .region
            .or(file.region)
            .unwrap_or_else(|| "us-east-1".into());
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            bail!("--region: `{region}` is not a region name like us-east-1");
        }
        let throughput_limits = match args
            .throughput_limits
            .or(file.throughput_limits)
            .as_deref()
            .unwrap_or("on")
        {
            "on" | "true" => true,
            "off" | "false" => false,
            other => bail!("--throughput-limits: `{other}` is neither `on` nor `off`"),
        };
        let log_format = match args
            .log_format
            .or(file.log_format)
            .as_deref()
            .unwrap_or("text")
        {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => bail!("--log-format: `{other}` is neither `text` nor `json`"),
        };
        let subscription_lifetime_ms = args
            .subscription_lifetime_ms
            .or(file.subscription_lifetime_ms)
            .unwrap_or(300_000);
        if subscription_lifetime_ms == 0 {
            bail!("--subscription-lifetime-ms: must be greater than 0");
        }
        let tls_listen = match args.tls_listen.or(file.tls_listen) {
            None => None,
            Some(a) => Some(a.parse::<SocketAddr>().with_context(|| {
                format!("--tls-listen: `{a}` is not an address like 127.0.0.1:4568")
            })?),
        };
        let tls_cert = args.tls_cert.or(file.tls_cert);
        let tls_key = args.tls_key.or(file.tls_key);
        if tls_cert.is_some() != tls_key.is_some() {
            bail!("--tls-cert and --tls-key go together: give both or neither");
        }
        let defaults = weir_aws::admission::Limits::default();
        let positive_ms = |flag: &str, v: Option<u64>, default: Duration| -> Result<Duration> {
            match v {
                None => Ok(default),
                Some(0) => bail!("--{flag}: must be greater than 0"),
                Some(ms) => Ok(Duration::from_millis(ms)),
            }
        };
        let max_connections = args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(defaults.max_connections);
        let max_inflight_bytes = args
            .max_inflight_bytes
            .or(file.max_inflight_bytes)
            .unwrap_or(defaults.max_inflight_bytes);
        if max_connections == 0 || max_inflight_bytes == 0 {
            bail!("--max-connections and --max-inflight-bytes must be greater than 0");
        }
        let limits = weir_aws::admission::Limits {
            header_timeout: positive_ms(
                "header-timeout-ms",
                args.header_timeout_ms.or(file.header_timeout_ms),
                defaults.header_timeout,
            )?,
            body_timeout: positive_ms(
                "body-timeout-ms",
                args.body_timeout_ms.or(file.body_timeout_ms),
                defaults.body_timeout,
            )?,
            idle_timeout: positive_ms(
                "idle-timeout-ms",
                args.idle_timeout_ms.or(file.idle_timeout_ms),
                defaults.idle_timeout,
            )?,
            max_connections,
            max_inflight_bytes,
            ..defaults
        };
        let mut buckets = file.buckets.unwrap_or_default();
        for b in &args.buckets {
            let Some((name, dir)) = b.split_once('=') else {
                bail!("--bucket: `{b}` is not NAME=DIR");
            };
            buckets.insert(
                name.to_string(),
                weir_delivery::sink::BucketTarget::Directory(PathBuf::from(dir)),
            );
        }
        let mut functions = file.functions.unwrap_or_default();
        for f in &args.functions {
            let Some((name, url)) = f.split_once('=') else {
                bail!("--function: `{f}` is not NAME=URL");
            };
            functions.insert(name.to_string(), url.to_string());
        }
        let delivery_poll = positive_ms(
            "delivery-poll-ms",
            args.delivery_poll_ms.or(file.delivery_poll_ms),
            Duration::from_millis(100),
        )?;
        let defaults = weir_storage::LocalLogOptions::default();
        let log_options = weir_storage::LocalLogOptions {
            segment_bytes: args
                .segment_bytes
                .or(file.segment_bytes)
                .unwrap_or(defaults.segment_bytes),
            preallocate_bytes: args
                .preallocate_bytes
                .or(file.preallocate_bytes)
                .unwrap_or(defaults.preallocate_bytes),
            cached_tail_bytes: args
                .cached_tail_bytes
                .or(file.cached_tail_bytes)
                .unwrap_or(defaults.cached_tail_bytes),
            commit_log_bytes: args
                .commit_log_bytes
                .or(file.commit_log_bytes)
                .unwrap_or(defaults.commit_log_bytes),
            ..defaults
        };
        if log_options.segment_bytes < 1 << 20 {
            bail!("--segment-bytes must be at least 1048576 (1 MiB)");
        }
        Ok(Self {
            python: args
                .python
                .clone()
                .or(file.python.clone())
                .unwrap_or_else(|| "python3".into()),
            node_ric: args
                .node_ric
                .clone()
                .or(file.node_ric.clone())
                .unwrap_or_else(|| "aws-lambda-ric".into()),
            buckets,
            functions,
            delivery_poll,
            min_free_bytes: args
                .min_free_bytes
                .or(file.min_free_bytes)
                .unwrap_or(DEFAULT_MIN_FREE_BYTES),
            log_options,
            limits,
            subscription_lifetime: Duration::from_millis(subscription_lifetime_ms),
            tls_listen,
            tls_cert,
            tls_key,
            listen,
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./weir-data")),
            durability,
            region,
            account_id,
            throughput_limits,
            log_level: args
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            log_format,
            creating_delay: Duration::from_millis(
                args.creating_delay_ms
                    .or(file.creating_delay_ms)
                    .unwrap_or(500),
            ),
        })
    }
}

/// Free space below which writes are refused: room for metadata, segment indexes and recovery.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 256 << 20;

pub fn parse_durability(s: &str) -> Result<Durability> {
    match s {
        "fsync" => Ok(Durability::Fsync),
        "none" => Ok(Durability::None),
        _ => match s.strip_prefix("interval:").map(str::parse::<u64>) {
            Some(Ok(ms)) if ms > 0 => Ok(Durability::Interval(Duration::from_millis(ms))),
            _ => bail!("--durability: `{s}` is not one of fsync, interval:<ms> (ms > 0), none"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_configuration() {
        let c = ServeConfig::from_args(ServeArgs::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:4567");
        assert_eq!(c.data_dir, PathBuf::from("./weir-data"));
        assert_eq!(c.durability, Durability::Fsync);
        assert_eq!(c.account_id, "000000000000");
        assert!(c.throughput_limits);
    }

    #[test]
    fn durability_forms() {
        assert_eq!(parse_durability("none").unwrap(), Durability::None);
        assert_eq!(
            parse_durability("interval:50").unwrap(),
            Durability::Interval(Duration::from_millis(50))
        );
        assert!(parse_durability("interval:0").is_err());
        assert!(parse_durability("sometimes").is_err());
    }

    #[test]
    fn firehose_buckets_and_functions_from_flags_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.toml");
        std::fs::write(
            &path,
            r#"
delivery-poll-ms = 250
[buckets]
logs = { Directory = "/srv/logs" }
[buckets.lake.S3]
endpoint = "http://127.0.0.1:9000"
region = "us-east-1"
access_key_id = "k"
secret_access_key = "s"
path_style = true
[functions]
upper = "http://127.0.0.1:9100/upper"
"#,
        )
        .unwrap();
        let c = ServeConfig::from_args(ServeArgs {
            config: Some(path),
            buckets: vec!["tmp=/tmp/t".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.delivery_poll, Duration::from_millis(250));
        assert!(matches!(
            c.buckets.get("logs"),
            Some(weir_delivery::sink::BucketTarget::Directory(d)) if d == &PathBuf::from("/srv/logs")
        ));
        assert!(matches!(
            c.buckets.get("lake"),
            Some(weir_delivery::sink::BucketTarget::S3 {
                path_style: true,
                ..
            })
        ));
        assert!(matches!(
            c.buckets.get("tmp"),
            Some(weir_delivery::sink::BucketTarget::Directory(_))
        ));
        assert_eq!(c.functions["upper"], "http://127.0.0.1:9100/upper");
        assert!(ServeConfig::from_args(ServeArgs {
            buckets: vec!["no-equals".into()],
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn flags_beat_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nregion = \"eu-west-1\"\nnode-ric = \"/opt/ric/aws-lambda-ric\"\npython = \"/usr/bin/python3.11\"\n",
        )
        .unwrap();
        let c = ServeConfig::from_args(ServeArgs {
            config: Some(path),
            region: Some("ap-south-1".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.region, "ap-south-1");
        assert_eq!(c.node_ric, "/opt/ric/aws-lambda-ric");
        assert_eq!(c.python, "/usr/bin/python3.11");
        let defaults = ServeConfig::from_args(ServeArgs::default()).unwrap();
        assert_eq!(defaults.node_ric, "aws-lambda-ric");
        assert_eq!(defaults.python, "python3");
    }

    #[test]
    fn log_tunables_from_flags_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.toml");
        std::fs::write(&path, "preallocate-bytes = 0\ncached_tail_bytes = 1024\n").unwrap();
        let c = ServeConfig::from_args(ServeArgs {
            config: Some(path),
            segment_bytes: Some(16 << 20),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.log_options.segment_bytes, 16 << 20);
        assert_eq!(c.log_options.preallocate_bytes, 0);
        assert_eq!(c.log_options.cached_tail_bytes, 1024);
        let defaults = ServeConfig::from_args(ServeArgs::default()).unwrap();
        assert_eq!(
            defaults.log_options,
            weir_storage::LocalLogOptions::default()
        );
        let small = ServeConfig::from_args(ServeArgs {
            segment_bytes: Some(4096),
            ..Default::default()
        });
        assert!(small.unwrap_err().to_string().contains("--segment-bytes"));
    }
}
