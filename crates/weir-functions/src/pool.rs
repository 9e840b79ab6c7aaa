//! The sandboxes of one function and the queue of invocations they take from.
//!
//! An invocation is queued; a sandbox takes it when its runtime polls `/next`. A new sandbox
//! starts when more invocations are queued than sandboxes are free (alive and not running an
//! invocation — a sandbox that has just answered counts as free before it polls again), up to the function's
//! concurrency; beyond that invocations wait their turn. A sandbox that dies (crash, timeout,
//! init error) leaves the pool, and the next demand starts a fresh one.

use crate::model::{FunctionConfig, InvokeOutcome};
use crate::sandbox::{self, Sandbox};
use crate::service::FunctionsConfig;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// One queued invocation.
pub(crate) struct Invocation {
    pub request_id: String,
    pub payload: bytes::Bytes,
    /// Wall-clock deadline, epoch milliseconds (the runtime's `Lambda-Runtime-Deadline-Ms`).
    pub deadline_ms: i64,
    pub reply: oneshot::Sender<InvokeOutcome>,
}

#[derive(Default)]
struct Counts {
    /// Invocations queued and not yet taken by a sandbox.
    pending: usize,
    /// Sandboxes running an invocation.
    busy: usize,
    /// Sandboxes alive (starting, polling, busy, or between an answer and their next poll).
    alive: usize,
}

impl Counts {
    /// Whether a queued invocation has no free sandbox to take it and one more may start.
    fn needs_sandbox(&self, concurrency: u32) -> bool {
        self.pending > self.alive.saturating_sub(self.busy) && self.alive < concurrency as usize
    }
}

/// How a submitted invocation found the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// A free (warm) sandbox will take it.
    Warm,
    /// A new sandbox starts for it.
    ColdStart,
    /// Every sandbox the concurrency allows is busy: it waits (Lambda would throttle).
    Queued,
}

pub(crate) struct Pool {
    pub function: Mutex<Arc<FunctionConfig>>,
    pub settings: Arc<FunctionsConfig>,
    queue_tx: mpsc::UnboundedSender<Invocation>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    counts: Mutex<Counts>,
    sandboxes: Mutex<HashMap<u64, Arc<Sandbox>>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Pool {
    pub fn new(function: FunctionConfig, settings: Arc<FunctionsConfig>) -> Arc<Self> {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        Arc::new(Pool {
            function: Mutex::new(Arc::new(function)),
            settings,
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            counts: Mutex::default(),
            sandboxes: Mutex::default(),
            next_id: Default::default(),
        })
    }

    pub fn function(&self) -> Arc<FunctionConfig> {
        self.function.lock().clone()
    }

    /// Queues an invocation and starts a sandbox if none is free to take it.
    pub fn submit(self: &Arc<Self>, invocation: Invocation) -> Admitted {
        let (start, admitted) = {
            let mut c = self.counts.lock();
            c.pending += 1;
            let free = c.alive.saturating_sub(c.busy);
            let start = c.needs_sandbox(self.function().concurrency());
            if start {
                c.alive += 1;
            }
            let admitted = match (start, c.pending > free) {
                (true, _) => Admitted::ColdStart,
                (false, true) => Admitted::Queued,
                (false, false) => Admitted::Warm,
            };
            (start, admitted)
        };
        if self.queue_tx.send(invocation).is_err() {
            return admitted;
        }
        if start {
            let id = self
                .next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            sandbox::start(self.clone(), id);
        }
        admitted
    }

    /// Waits for the next invocation on behalf of a polling sandbox. A poll that is dropped
    /// before an invocation arrives takes none.
    pub async fn next(&self) -> Option<Invocation> {
        let mut rx = self.queue_rx.lock().await;
        let inv = rx.recv().await?;
        let mut c = self.counts.lock();
        c.pending -= 1;
        c.busy += 1;
        Some(inv)
    }

    /// A sandbox has finished (answered, timed out or crashed on) the invocation it took.
    pub fn done(&self) {
        self.counts.lock().busy -= 1;
    }

    /// Takes a queued invocation without waiting (to hand it a sandbox's start-up failure).
    pub fn take_pending(&self) -> Option<Invocation> {
        let mut rx = self.queue_rx.try_lock().ok()?;
        let inv = rx.try_recv().ok()?;
        self.counts.lock().pending -= 1;
        Some(inv)
    }

    pub fn register(&self, sandbox: Arc<Sandbox>) {
        self.sandboxes.lock().insert(sandbox.id, sandbox);
    }

    /// A sandbox has ended. If invocations are still queued and nobody will take them, a fresh
    /// sandbox starts for them.
    pub fn ended(self: &Arc<Self>, id: u64) {
        self.sandboxes.lock().remove(&id);
        let restart = {
            let mut c = self.counts.lock();
            c.alive -= 1;
            let restart = c.needs_sandbox(self.function().concurrency());
            if restart {
                c.alive += 1;
            }
            restart
        };
        if restart {
            let id = self
                .next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            sandbox::start(self.clone(), id);
        }
    }

    /// Kills every sandbox (the function was deleted or updated, or weir is stopping).
    pub fn stop_all(&self) {
        let all: Vec<_> = self.sandboxes.lock().values().cloned().collect();
        for s in all {
            s.kill();
        }
    }

    /// Sandboxes alive now.
    pub fn alive(&self) -> usize {
        self.counts.lock().alive
    }
}
