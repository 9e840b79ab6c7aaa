//! `AWS/Lambda` as the function service records it: per function (dimension `FunctionName`) and
//! again without dimensions, the account-wide aggregate AWS also publishes.
//!
//! Invocations, Errors and Duration are recorded when an invocation answers; Throttles when one
//! has to wait for a sandbox; ConcurrentExecutions when one starts, as the number then running
//! (of the function, and of all functions for the aggregate), so its Maximum per period is the
//! peak; IteratorAge when an event-source mapping reads a batch. The counts of running
//! invocations are kept by a guard ([`Running`]), so an invocation whose caller gave up still
//! stops counting.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use weir_core::Clock;
use weir_metrics::{LambdaMetric, Table};

/// The Lambda metrics table and what it takes to fill it.
pub struct LambdaMetrics {
    table: Table<LambdaMetric>,
    running: Mutex<RunningCounts>,
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct RunningCounts {
    total: u64,
    by_function: HashMap<String, u64>,
}

impl std::fmt::Debug for LambdaMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaMetrics")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl LambdaMetrics {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            table: Table::default(),
            running: Mutex::default(),
            clock,
        }
    }

    /// What CloudWatch and `/metrics` read.
    pub fn table(&self) -> &Table<LambdaMetric> {
        &self.table
    }

    /// Records `samples` for `function` and for the aggregate.
    fn record(&self, function: &str, samples: &[(LambdaMetric, f64)]) {
        let now = self.clock.now_millis();
        self.table.record(Some(function), now, samples);
        self.table.record(None, now, samples);
    }

    /// An invocation of `function` starts; [`Running::finish`] records how it ended.
    pub(crate) fn start(self: &Arc<Self>, function: &str) -> Running {
        let (mine, total) = {
            let mut r = self.running.lock();
            r.total += 1;
            let mine = r.by_function.entry(function.to_string()).or_default();
            *mine += 1;
            (*mine, r.total)
        };
        let now = self.clock.now_millis();
        let sample = |n: u64| [(LambdaMetric::ConcurrentExecutions, n as f64)];
        self.table.record(Some(function), now, &sample(mine));
        self.table.record(None, now, &sample(total));
        Running {
            metrics: self.clone(),
            function: function.to_string(),
            started: Instant::now(),
        }
    }

    /// An invocation of `function` waited for a sandbox.
    pub(crate) fn throttled(&self, function: &str) {
        self.record(function, &[(LambdaMetric::Throttles, 1.0)]);
    }

    /// An event-source mapping of `function` read a batch whose newest record is `age_ms` old.
    pub(crate) fn iterator_age(&self, function: &str, age_ms: i64) {
        self.record(
            function,
            &[(LambdaMetric::IteratorAge, age_ms.max(0) as f64)],
        );
    }
}

/// An invocation in flight: counted in ConcurrentExecutions until dropped.
pub(crate) struct Running {
    metrics: Arc<LambdaMetrics>,
    function: String,
    started: Instant,
}

impl Running {
    /// The invocation answered; `error` when it failed (function error, or weir could not run
    /// it).
    pub(crate) fn finish(self, error: bool) {
        let millis = self.started.elapsed().as_secs_f64() * 1000.0;
        self.metrics.record(
            &self.function,
            &[
                (LambdaMetric::Invocations, 1.0),
                (LambdaMetric::Errors, if error { 1.0 } else { 0.0 }),
                (LambdaMetric::Duration, millis),
            ],
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut r = self.metrics.running.lock();
        r.total = r.total.saturating_sub(1);
        if let Some(n) = r.by_function.get_mut(&self.function) {
            *n -= 1;
            if *n == 0 {
                r.by_function.remove(&self.function);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_metrics::LambdaMetric::*;

    struct Fixed(i64);
    impl Clock for Fixed {
        fn now_millis(&self) -> i64 {
            self.0
        }
    }

    const T0: i64 = 1_767_225_600_000;

    fn sums(m: &LambdaMetrics, metric: LambdaMetric, key: Option<&str>) -> (f64, f64) {
        let d = m.table().statistics(metric, key, T0, T0 + 60_000, 60, T0);
        d.first().map_or((0.0, 0.0), |p| (p.stat.sum, p.stat.max))
    }

    #[test]
    fn records_per_function_and_for_the_account() {
        let m = Arc::new(LambdaMetrics::new(Arc::new(Fixed(T0))));
        let a1 = m.start("a");
        let a2 = m.start("a");
        let b = m.start("b");
        a1.finish(false);
        a2.finish(true);
        drop(b); // the caller gave up: no invocation recorded, but no longer running
        m.throttled("a");
        m.iterator_age("b", 1500);
        assert_eq!(sums(&m, Invocations, Some("a")), (2.0, 1.0));
        assert_eq!(sums(&m, Errors, Some("a")).0, 1.0);
        assert_eq!(sums(&m, Throttles, Some("a")).0, 1.0);
        assert_eq!(sums(&m, Invocations, None).0, 2.0);
        // Peak concurrency: two of `a`, three in all.
        assert_eq!(sums(&m, ConcurrentExecutions, Some("a")).1, 2.0);
        assert_eq!(sums(&m, ConcurrentExecutions, None).1, 3.0);
        assert_eq!(sums(&m, IteratorAge, Some("b")).1, 1500.0);
        assert!(m.running.lock().by_function.is_empty());
        assert_eq!(m.running.lock().total, 0);
    }
}
