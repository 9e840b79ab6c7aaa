//! Counters shared by producers and consumers, and the final report (text and JSON).

use super::BenchArgs;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

pub struct Stats {
    started: Mutex<Instant>,
    put_records: AtomicU64,
    put_bytes: AtomicU64,
    put_failed_records: AtomicU64,
    put_throttled_records: AtomicU64,
    put_calls_failed: AtomicU64,
    put_calls_throttled: AtomicU64,
    get_records: AtomicU64,
    get_bytes: AtomicU64,
    get_calls: AtomicU64,
    get_calls_failed: AtomicU64,
    put_latency: Mutex<Vec<u32>>,
    get_latency: Mutex<Vec<u32>>,
    e2e_latency: Mutex<Vec<u32>>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            started: Mutex::new(Instant::now()),
            put_records: AtomicU64::new(0),
            put_bytes: AtomicU64::new(0),
            put_failed_records: AtomicU64::new(0),
            put_throttled_records: AtomicU64::new(0),
            put_calls_failed: AtomicU64::new(0),
            put_calls_throttled: AtomicU64::new(0),
            get_records: AtomicU64::new(0),
            get_bytes: AtomicU64::new(0),
            get_calls: AtomicU64::new(0),
            get_calls_failed: AtomicU64::new(0),
            put_latency: Mutex::new(Vec::new()),
            get_latency: Mutex::new(Vec::new()),
            e2e_latency: Mutex::new(Vec::new()),
        }
    }
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

impl Stats {
    pub fn reset(&self) {
        *self.started.lock() = Instant::now();
        for c in [
            &self.put_records,
            &self.put_bytes,
            &self.put_failed_records,
            &self.put_throttled_records,
            &self.put_calls_failed,
            &self.put_calls_throttled,
            &self.get_records,
            &self.get_bytes,
            &self.get_calls,
            &self.get_calls_failed,
        ] {
            c.store(0, Relaxed);
        }
        self.put_latency.lock().clear();
        self.get_latency.lock().clear();
        self.e2e_latency.lock().clear();
    }
    /// Records put and read so far (since the last reset).
    pub fn totals(&self) -> (u64, u64) {
        (
            self.put_records.load(Relaxed),
            self.get_records.load(Relaxed),
        )
    }
    pub fn elapsed(&self) -> Duration {
        self.started.lock().elapsed()
    }
    pub fn put_ok(&self, records: u64, bytes: u64, failed: u64, latency: Duration) {
        self.put_records.fetch_add(records, Relaxed);
        self.put_bytes.fetch_add(bytes, Relaxed);
        self.put_failed_records.fetch_add(failed, Relaxed);
        self.put_latency.lock().push(micros(latency));
    }
    pub fn throttled_records(&self, n: u64) {
        self.put_throttled_records.fetch_add(n, Relaxed);
    }
    pub fn put_failed(&self, _status: u16, throttled: bool) {
        self.put_calls_failed.fetch_add(1, Relaxed);
        if throttled {
            self.put_calls_throttled.fetch_add(1, Relaxed);
        }
    }
    pub fn got(&self, records: u64, bytes: u64, latency: Duration) {
        self.get_records.fetch_add(records, Relaxed);
        self.get_bytes.fetch_add(bytes, Relaxed);
        self.get_calls.fetch_add(1, Relaxed);
        self.get_latency.lock().push(micros(latency));
    }
    pub fn get_failed(&self) {
        self.get_calls_failed.fetch_add(1, Relaxed);
    }
    pub fn put_to_get(&self, d: Duration) {
        self.e2e_latency.lock().push(micros(d));
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

fn percentiles(v: &Mutex<Vec<u32>>) -> Percentiles {
    let mut v = v.lock().clone();
    v.sort_unstable();
    let at = |q: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        v[i] as f64 / 1000.0
    };
    Percentiles {
        count: v.len(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        max_ms: v.last().map_or(0.0, |m| *m as f64 / 1000.0),
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub endpoint: String,
    pub stream: String,
    pub shards: u32,
    pub record_size: usize,
    pub records_per_call: usize,
    pub producers: usize,
    pub seconds: f64,
    pub put_records_per_sec: f64,
    pub put_mb_per_sec: f64,
    pub put_failed_records: u64,
    pub put_throttled_records: u64,
    pub put_failed_calls: u64,
    pub put_throttled_calls: u64,
    pub put_latency: Percentiles,
    pub get_records_per_sec: f64,
    pub get_mb_per_sec: f64,
    pub get_calls: u64,
    pub get_failed_calls: u64,
    pub get_latency: Percentiles,
    pub put_to_get_latency: Percentiles,
    pub bench_cpu_seconds: f64,
    pub server_cpu_seconds: Option<f64>,
    pub server_rss_mib: Vec<f64>,
}

impl Report {
    pub fn build(
        args: &BenchArgs,
        s: &Stats,
        elapsed: Duration,
        bench_cpu: f64,
        server_cpu: Option<f64>,
        rss_kib: Vec<u64>,
    ) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Report {
            endpoint: args.endpoint.clone(),
            stream: args.stream.clone(),
            shards: args.shards,
            record_size: args.record_size,
            records_per_call: if args.api == "put-record" {
                1
            } else {
                args.records_per_call
            },
            producers: args.producers,
            seconds: secs,
            put_records_per_sec: s.put_records.load(Relaxed) as f64 / secs,
            put_mb_per_sec: s.put_bytes.load(Relaxed) as f64 / secs / 1e6,
            put_failed_records: s.put_failed_records.load(Relaxed),
            put_throttled_records: s.put_throttled_records.load(Relaxed),
            put_failed_calls: s.put_calls_failed.load(Relaxed),
            put_throttled_calls: s.put_calls_throttled.load(Relaxed),
            put_latency: percentiles(&s.put_latency),
            get_records_per_sec: s.get_records.load(Relaxed) as f64 / secs,
            get_mb_per_sec: s.get_bytes.load(Relaxed) as f64 / secs / 1e6,
            get_calls: s.get_calls.load(Relaxed),
            get_failed_calls: s.get_calls_failed.load(Relaxed),
            get_latency: percentiles(&s.get_latency),
            put_to_get_latency: percentiles(&s.e2e_latency),
            bench_cpu_seconds: bench_cpu,
            server_cpu_seconds: server_cpu,
            server_rss_mib: rss_kib.iter().map(|k| *k as f64 / 1024.0).collect(),
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn text(&self) -> String {
        let p = |x: &Percentiles| {
            format!(
                "p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms  (n={})",
                x.p50_ms, x.p99_ms, x.p999_ms, x.max_ms, x.count
            )
        };
        let mut out = format!(
            "weir bench: {} stream {} ({} shards), {} B records, {} per call, {} producers, {:.1} s\n\
             put:        {:>10.0} records/s  {:>8.1} MB/s  failed records {}  throttled records {}  failed calls {}\n\
             put latency {}\n",
            self.endpoint,
            self.stream,
            self.shards,
            self.record_size,
            self.records_per_call,
            self.producers,
            self.seconds,
            self.put_records_per_sec,
            self.put_mb_per_sec,
            self.put_failed_records,
            self.put_throttled_records,
            self.put_failed_calls,
            p(&self.put_latency),
        );
        if self.get_calls > 0 {
            out.push_str(&format!(
                "get:        {:>10.0} records/s  {:>8.1} MB/s  calls {}  failed {}\n\
                 get latency {}\n\
                 put→get     {}\n",
                self.get_records_per_sec,
                self.get_mb_per_sec,
                self.get_calls,
                self.get_failed_calls,
                p(&self.get_latency),
                p(&self.put_to_get_latency),
            ));
        }
        out.push_str(&format!("cpu: bench {:.1} s", self.bench_cpu_seconds));
        if let Some(c) = self.server_cpu_seconds {
            out.push_str(&format!(", server {c:.1} s"));
        }
        if let (Some(first), Some(max)) = (
            self.server_rss_mib.first(),
            self.server_rss_mib.iter().cloned().reduce(f64::max),
        ) {
            out.push_str(&format!(
                "\nserver rss: first {first:.0} MiB, max {max:.0} MiB, last {:.0} MiB",
                self.server_rss_mib.last().unwrap_or(first)
            ));
        }
        out
    }
}

/// CPU seconds (user + system) this process has used.
pub fn process_cpu_seconds() -> f64 {
    pid_cpu_seconds(std::process::id()).unwrap_or(0.0)
}

/// CPU seconds (user + system) of a process, from /proc (clock ticks at 100 Hz).
pub fn pid_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
