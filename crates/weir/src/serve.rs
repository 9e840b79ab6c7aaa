//! `weir serve`: open the data directory, recover, wire the services to the front end, serve
//! until SIGTERM/SIGINT, then drain and sync.

use crate::config::{LogFormat, ServeConfig};
use crate::data_dir::DataDir;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_core::{Clock, SystemClock};
use weir_delivery::{DeliveryConfig, DeliveryService};
use weir_storage::log::LocalLog;
use weir_storage::metadata::RedbMetadata;
use weir_storage::{MetadataStore, StreamStore};
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
    let (log, recovery) = LocalLog::open_with(
        &dir.streams_dir(),
        config.log_options.clone(),
        config.durability,
        clock.clone(),
    )
    .context("cannot open the record store")?;
    log.set_min_free_bytes(config.min_free_bytes);
    let store: Arc<dyn StreamStore> = Arc::new(log);
    let meta: Arc<dyn MetadataStore> = Arc::new(
        RedbMetadata::open(&dir.metadata_path()).context("cannot open the metadata store")?,
    );
    let catalog = weir_formats::Catalog::open_with(meta.clone(), clock.clone(), &config.account_id)
        .map_err(anyhow::Error::msg)
        .context("cannot open the Glue catalog")?;
    let catalog = Arc::new(catalog);
    let (streams, report) = StreamService::open(
        store.clone(),
        meta.clone(),
        clock.clone(),
        ServiceConfig {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            creating_delay: config.creating_delay,
            deleting_delay: config.creating_delay,
            throughput_limits: config.throughput_limits,
            subscription_lifetime: config.subscription_lifetime,
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
    let functions = weir_functions::FunctionService::new(
        meta.clone(),
        clock.clone(),
        weir_functions::FunctionsConfig {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            code_dir: dir.root().join("functions"),
            python: config.python.clone(),
            node_ric: config.node_ric.clone(),
            endpoint: Some(format!("http://{}", config.listen)),
        },
    );
    let firehose_metrics = Arc::new(weir_metrics::Table::<weir_metrics::FirehoseMetric>::default());
    let (delivery, delivery_store) = open_delivery(
        &config,
        &dir,
        meta.clone(),
        streams.clone(),
        clock.clone(),
        firehose_metrics.clone(),
        crate::wiring::FunctionInvoker {
            functions: functions.clone(),
            fallback: weir_delivery::transform::HttpInvoker::new(config.functions.clone()),
        },
        crate::wiring::GlueConversion(catalog.clone()),
    )?;
    let retention = streams.spawn_retention(RETENTION_EVERY);
    let autoscaler = streams.spawn_autoscaler();
    // TLS first: once the cleartext port answers, the TLS one does too.
    let tls = match config.tls_listen {
        None => None,
        Some(addr) => {
            let files = crate::tls::resolve(
                config.tls_cert.as_deref(),
                config.tls_key.as_deref(),
                &config.data_dir,
            )?;
            let acceptor = crate::tls::acceptor(&files)?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (--tls-listen)"))?;
            eprintln!(
                "weir listening on https://{} (TLS certificate: {}{})",
                listener.local_addr()?,
                files.cert.display(),
                if files.generated {
                    ", self-signed, generated now"
                } else {
                    ""
                },
            );
            Some((listener, acceptor))
        }
    };
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
    // One stop signal for every listener; open subscriptions end first so that their
    // long-lived responses do not hold the drain for the whole grace period.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let on_signal = streams.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.end_subscriptions();
        let _ = stop_tx.send(true);
    });
    let mappings = weir_functions::mappings::EventSourceMappings::open(
        meta.clone(),
        functions.clone(),
        streams.clone(),
        clock.clone(),
        dir.root().join("s3"),
    )
    .map_err(|e| anyhow::anyhow!("cannot load event-source mappings: {e}"))?;
    let schedules =
        weir_functions::schedules::Schedules::open(meta.clone(), functions.clone(), clock.clone())
            .map_err(|e| anyhow::anyhow!("cannot load schedules: {e}"))?;
    let scheduler = schedules.spawn();
    let triggers = weir_functions::triggers::ObjectTriggers::new(
        meta.clone(),
        functions.clone(),
        clock.clone(),
        dir.root().join("s3"),
    );
    let watcher = triggers.spawn();
    let router = Arc::new(
        weir_aws::Router::new(streams)
            .with_limits(config.limits.clone())
            .with_functions(functions.clone(), mappings.clone())
            .with_schedules(schedules)
            .with_triggers(triggers)
            .with_delivery(delivery.clone(), firehose_metrics)
            .with_glue(catalog.clone()),
    );
    let tls_task = tls.map(|(listener, acceptor)| {
        tokio::spawn(weir_aws::serve_tls(
            listener,
            acceptor,
            router.clone(),
            stopped(stop_rx.clone()),
            SHUTDOWN_GRACE,
        ))
    });
    weir_aws::serve(listener, router, stopped(stop_rx), SHUTDOWN_GRACE).await?;
    if let Some(task) = tls_task {
        task.await.context("the TLS listener failed")??;
    }
    scheduler.abort();
    watcher.abort();
    mappings.shutdown().await;
    functions.shutdown();
    retention.abort();
    autoscaler.abort();
    tracing::info!("shutting down: writing delivery buffers");
    delivery.shutdown().await;
    tracing::info!("shutting down: syncing");
    store.sync_all().context("final sync failed")?;
    delivery_store
        .sync_all()
        .context("final sync of the delivery store failed")?;
    Ok(())
}

/// The Firehose service: its own record store (`<data-dir>/delivery/`, which the Kinesis APIs
/// never see), bucket targets, transform functions, and one pipeline per delivery stream.
fn open_delivery(
    config: &ServeConfig,
    dir: &DataDir,
    meta: Arc<dyn MetadataStore>,
    streams: StreamService,
    clock: Arc<dyn Clock>,
    recorder: Arc<dyn weir_delivery::Recorder>,
    invoker: crate::wiring::FunctionInvoker,
    conversion: crate::wiring::GlueConversion,
) -> Result<(DeliveryService, Arc<dyn StreamStore>)> {
    let (log, _) = LocalLog::open_with(
        &dir.root.join("delivery"),
        config.log_options.clone(),
        config.durability,
        clock.clone(),
    )
    .context("cannot open the delivery record store")?;
    log.set_min_free_bytes(config.min_free_bytes);
    let store: Arc<dyn StreamStore> = Arc::new(log);
    let shared = Arc::new(weir_delivery::Shared {
        clock,
        buckets: Arc::new(weir_delivery::sink::Buckets::new(
            &config.data_dir,
            config.buckets.clone(),
        )),
        invoker: Arc::new(invoker),
        conversion: Arc::new(conversion),
        recorder,
        region: config.region.clone(),
    });
    let delivery = DeliveryService::open(
        store.clone(),
        meta,
        Some(streams),
        shared,
        DeliveryConfig {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            creating_delay: config.creating_delay,
            poll_interval: config.delivery_poll,
        },
    )
    .context("cannot load delivery streams")?;
    Ok((delivery, store))
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
