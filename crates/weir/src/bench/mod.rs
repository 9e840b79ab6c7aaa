//! `weir bench`: a load generator for any Kinesis-compatible endpoint.
//!
//! It keeps out of the server's way by doing as little as possible per request: request bodies
//! are encoded once up front (a rotating set, so partition keys still spread over the shards),
//! responses are parsed into borrowed structs that skip record data, connections are pooled
//! keep-alive HTTP/1.1, and put→get latency is measured on one sampled record per call (the
//! producer notes its sequence number and send time, the consumer its read time; whichever
//! comes second completes the sample, see `samples`). Consumers run on threads and
//! connections of their own, so that they cannot delay the producers. The report gives the bench's own CPU
//! next to the server's, so a run where the bench competed for the CPU shows it.

mod client;
mod consumer;
mod producer;
mod report;
mod samples;

use anyhow::{bail, Context, Result};
use clap::Args;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    /// Endpoint to load.
    #[arg(long, default_value = "http://127.0.0.1:4567")]
    pub endpoint: String,
    /// Stream to write to (created with --shards shards unless it exists).
    #[arg(long, default_value = "weir-bench")]
    pub stream: String,
    #[arg(long, default_value_t = 4)]
    pub shards: u32,
    /// Bytes of data per record.
    #[arg(long, default_value_t = 1024)]
    pub record_size: usize,
    /// Records per PutRecords call (1 with --api put-record).
    #[arg(long, default_value_t = 500)]
    pub records_per_call: usize,
    /// `put-records` or `put-record`.
    #[arg(long, default_value = "put-records")]
    pub api: String,
    /// Concurrent producer connections (0 for a read-only run).
    #[arg(long, default_value_t = 8)]
    pub producers: usize,
    /// Target records/s over all producers (0 = as fast as possible).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Partition keys: `uniform` (random) or `hot` (every record uses one key).
    #[arg(long, default_value = "uniform")]
    pub keys: String,
    /// Run polling consumers (one GetRecords loop per shard) alongside the producers.
    #[arg(long)]
    pub consume: bool,
    /// Where consumers start: `latest` (only new records) or `trim-horizon` (drain the stream).
    #[arg(long, default_value = "latest")]
    pub start: String,
    /// Sleep between GetRecords calls that returned nothing, in ms.
    #[arg(long, default_value_t = 1)]
    pub poll_interval_ms: u64,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Soak mode: print throughput and the server's RSS every this many seconds (with
    /// --duration in minutes, producers and --consume together).
    #[arg(long)]
    pub report_every: Option<u64>,
    /// Write the report as JSON to this file too.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// PID of the server, to sample its resident memory (Linux).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Delete the stream when done.
    #[arg(long)]
    pub delete: bool,
}

pub fn run(args: BenchArgs) -> Result<()> {
    if args.records_per_call == 0 || args.records_per_call > 500 {
        bail!("--records-per-call must be 1..=500");
    }
    if !matches!(args.api.as_str(), "put-records" | "put-record") {
        bail!("--api must be put-records or put-record");
    }
    if !matches!(args.start.as_str(), "latest" | "trim-horizon") {
        bail!("--start must be latest or trim-horizon");
    }
    if !matches!(args.keys.as_str(), "uniform" | "hot") {
        bail!("--keys must be uniform or hot");
    }
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?
        .block_on(run_async(args))
}

async fn run_async(args: BenchArgs) -> Result<()> {
    let client = client::Kinesis::new(&args.endpoint)?;
    let shard_ids = client
        .ensure_stream(&args.stream, args.shards)
        .await
        .context("cannot create or find the stream")?;
    let stats = Arc::new(report::Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let bodies = producer::encode_bodies(&args);
    let samples = Arc::new(samples::Samples::new(bodies.sample_keys));
    let mut tasks = Vec::new();
    // Each consumer gets a thread, a single-threaded runtime and a connection of its own, as a
    // separate consuming application would: sharing the producers' workers, a consumer busy
    // parsing a large GetRecords response delayed the producers' timers and responses (put
    // tails of several ms that a separate consumer process did not cause); sharing one thread,
    // the four consumers of a paced run parsed the four answers to one put in turn. On its own
    // thread a consumer also sleeps its poll interval with a plain `nanosleep` (see
    // `consumer::pause`).
    let mut consumers = Vec::new();
    if args.consume {
        for shard in &shard_ids {
            let (args, shard) = (args.clone(), shard.clone());
            let (stats, samples, stop) = (stats.clone(), samples.clone(), stop.clone());
            let thread = std::thread::Builder::new()
                .name("weir-bench-consumer".into())
                .spawn(move || -> Result<()> {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async move {
                        let client = client::Kinesis::new(&args.endpoint)?;
                        consumer::run(client, args, shard, stats, samples, stop).await;
                        Ok(())
                    })
                })?;
            consumers.push(thread);
        }
        // Let consumers take their LATEST iterators before anything is written.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let bodies = Arc::new(bodies.bodies);
    for i in 0..args.producers {
        tasks.push(tokio::spawn(producer::run(
            client.clone(),
            args.clone(),
            i,
            bodies.clone(),
            stats.clone(),
            samples.clone(),
            stop.clone(),
        )));
    }
    let started = Instant::now();
    let mut rss = Vec::new();
    let mut cpu_start = report::process_cpu_seconds();
    let mut server_cpu_start = args.server_pid.and_then(report::pid_cpu_seconds);
    let deadline = started + Duration::from_secs(args.duration);
    let mut warmed = false;
    let mut last_report = Instant::now();
    let mut last_totals = (0u64, 0u64);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if !warmed && started.elapsed() >= Duration::from_secs(2) && args.duration > 5 {
            // Discard the first two seconds (connection set-up, page-cache warm-up).
            stats.reset();
            last_totals = (0, 0);
            cpu_start = report::process_cpu_seconds();
            server_cpu_start = args.server_pid.and_then(report::pid_cpu_seconds);
            warmed = true;
        }
        if let Some(pid) = args.server_pid {
            if let Some(kib) = report::rss_kib(pid) {
                rss.push(kib);
            }
        }
        if let Some(every) = args.report_every.filter(|s| *s > 0) {
            let now = Instant::now();
            if now.duration_since(last_report) >= Duration::from_secs(every) {
                let (puts, gets) = stats.totals();
                let secs = now.duration_since(last_report).as_secs_f64();
                println!(
                    "soak t={:>5.0}s put {:>9.0} rec/s get {:>9.0} rec/s server rss {} MiB",
                    started.elapsed().as_secs_f64(),
                    puts.saturating_sub(last_totals.0) as f64 / secs,
                    gets.saturating_sub(last_totals.1) as f64 / secs,
                    rss.last()
                        .map_or("?".into(), |k| format!("{:.1}", *k as f64 / 1024.0)),
                );
                last_totals = (puts, gets);
                last_report = now;
            }
        }
    }
    let measured = stats.elapsed();
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        let _ = t.await;
    }
    for c in consumers {
        match tokio::task::spawn_blocking(move || c.join()).await {
            Ok(Ok(Err(e))) => eprintln!("consumer: {e:#}"),
            Ok(Err(_)) => eprintln!("a consumer thread panicked"),
            _ => {}
        }
    }
    let bench_cpu = report::process_cpu_seconds() - cpu_start;
    let server_cpu = match (
        server_cpu_start,
        args.server_pid.and_then(report::pid_cpu_seconds),
    ) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let r = report::Report::build(&args, &stats, measured, bench_cpu, server_cpu, rss);
    println!("{}", r.text());
    if let Some(path) = &args.json {
        std::fs::write(path, r.json())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.delete {
        client.delete_stream(&args.stream).await?;
    }
    Ok(())
}
