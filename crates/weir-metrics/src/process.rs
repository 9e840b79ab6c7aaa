//! Process metrics under the names Prometheus client libraries use (`process_*`), read from
//! `/proc/self` on Linux; elsewhere only uptime is known.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A snapshot of the process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub threads: Option<u64>,
    pub start_time_seconds: f64,
    pub uptime_seconds: f64,
}

/// When the process (more exactly: the first caller) started, for uptime.
#[derive(Debug, Clone, Copy)]
pub struct ProcessClock {
    started: Instant,
    started_unix: f64,
}

impl Default for ProcessClock {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        }
    }
}

/// Linux's USER_HZ, the unit of `/proc/<pid>/stat` CPU times; 100 on every mainstream platform.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

impl ProcessClock {
    pub fn sample(&self) -> ProcessStats {
        let mut s = ProcessStats {
            start_time_seconds: self.started_unix,
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            ..ProcessStats::default()
        };
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            let kib = |key: &str| -> Option<u64> {
                status
                    .lines()
                    .find(|l| l.starts_with(key))?
                    .split_whitespace()
                    .nth(1)?
                    .parse::<u64>()
                    .ok()
            };
            s.resident_bytes = kib("VmRSS:").map(|k| k * 1024);
            s.virtual_bytes = kib("VmSize:").map(|k| k * 1024);
            s.threads = kib("Threads:");
        }
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            s.cpu_seconds = cpu_seconds_from_stat(&stat);
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            // The directory handle itself is one of the entries.
            s.open_fds = Some(dir.count().saturating_sub(1) as u64);
        }
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
            s.max_fds = limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse().ok());
        }
        s
    }
}

/// utime + stime from a `/proc/<pid>/stat` line (fields 14 and 15, counted after the
/// parenthesised command name, which may itself contain spaces).
pub fn cpu_seconds_from_stat(stat: &str) -> Option<f64> {
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = after.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / CLOCK_TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_time_past_odd_command_names() {
        let line = "1234 (weir worker) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 1000 200";
        assert_eq!(cpu_seconds_from_stat(line), Some(3.0));
        assert_eq!(cpu_seconds_from_stat("garbage"), None);
    }

    #[test]
    fn samples_this_process() {
        let s = ProcessClock::default().sample();
        assert!(s.uptime_seconds >= 0.0);
        assert!(s.start_time_seconds > 1.0e9);
        if cfg!(target_os = "linux") {
            assert!(s.resident_bytes.unwrap() > 0);
            assert!(s.open_fds.unwrap() >= 1);
            assert!(s.cpu_seconds.is_some());
            assert!(s.max_fds.unwrap() > 0);
        }
    }
}
