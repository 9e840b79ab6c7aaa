//! `weir serve`: open the data directory, recover, wire the services to the front end, serve
//! until SIGTERM/SIGINT, then drain and sync.

use crate::config::{LogFormat, ServeConfig};
use crate::data_dir::DataDir;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_core::{Clock, SystemClock};
use weir_storage::log::LocalLog;
use weir_storage::metadata::RedbMetadata;
use weir_storage::StreamStore;
use weir_streams::{ServiceConfig, StreamService};

const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
const RETENTION_EVERY: Duration = Duration::from_secs(60);

pub fn run(config: ServeConfig) -> Result<()> {
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weir-worker")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

fn init_logging(config: &ServeConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(config: ServeConfig) -> Result<()> {
    let started = Instant::now();
    let dir = DataDir::open(&config.data_dir)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (log, recovery) = LocalLog::open(&dir.streams_dir(), config.durability, clock.clone())
        .context("cannot open the record store")?;
    let store: Arc<dyn StreamStore> = Arc::new(log);
    let meta = Arc::new(
        RedbMetadata::open(&dir.metadata_path()).context("cannot open the metadata store")?,
    );
    let (streams, report) = StreamService::open(
        store.clone(),
        meta,
        clock,
        ServiceConfig {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            creating_delay: config.creating_delay,
            deleting_delay: config.creating_delay,
            throughput_limits: config.throughput_limits,
            ..ServiceConfig::default()
        },
    )
    .context("cannot load streams")?;
    tracing::info!(
        streams = report.streams,
        shards = recovery.shards,
        segments = recovery.segments,
        records = recovery.records,
        bytes = recovery.bytes,
        truncated_bytes = recovery.truncated_bytes,
        finished_deletions = report.finished_deletions,
        removed_orphans = report.removed_orphans,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "recovered"
    );
    let retention = streams.spawn_retention(RETENTION_EVERY);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr()?;
    eprintln!(
        "weir {} listening on http://{local} (data: {}, durability: {:?}, region: {}, account: {}, throughput limits: {})",
        env!("CARGO_PKG_VERSION"),
        config.data_dir.display(),
        config.durability,
        config.region,
        config.account_id,
        if config.throughput_limits { "on" } else { "off" },
    );
    let router = Arc::new(weir_aws::Router::new(streams));
    weir_aws::serve(listener, router, shutdown_signal(), SHUTDOWN_GRACE).await?;
    retention.abort();
    tracing::info!("shutting down: syncing");
    store.sync_all().context("final sync failed")?;
    Ok(())
}

/// Resolves on the first SIGTERM or SIGINT; a second one exits at once.
async fn shutdown_signal() {
    wait_for_signal().await;
    tracing::info!("signal received; draining (send again to exit at once)");
    tokio::spawn(async {
        wait_for_signal().await;
        eprintln!("weir: second signal, exiting now");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
