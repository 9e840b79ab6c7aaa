//! One sandbox: a runtime process, its Runtime API listener, the invocation it is running, and
//! the watchdog that kills it when that invocation runs past the function's timeout.
//!
//! Every way a sandbox can fail answers the invocation it owed: a crash mid-invocation answers
//! that invocation (`Runtime.ExitError`), a timeout answers it (`Sandbox.Timedout`) and kills the
//! process group, and a runtime that fails to start (`/runtime/init/error`, or exiting before
//! its first poll) answers one queued invocation — so a broken function fails its callers
//! instead of restarting in a loop.

use crate::model::{Code, FunctionConfig, InvokeOutcome};
use crate::pool::{Invocation, Pool};
use crate::runtime_api;
use crate::runtimes::PackageRuntime;
use crate::service::FunctionsConfig;
use parking_lot::Mutex;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

pub(crate) struct Sandbox {
    pub id: u64,
    pub function: Arc<FunctionConfig>,
    pid: Option<u32>,
    current: Mutex<Option<Invocation>>,
    /// Whether the runtime has polled `/next` at least once (it finished initialising).
    polled: AtomicBool,
    init_error: Mutex<Option<Vec<u8>>>,
}

/// The program, arguments, working directory and extra environment of a function's runtime.
#[derive(Debug)]
pub(crate) struct Launch {
    pub program: String,
    pub args: Vec<String>,
    pub working_dir: Option<PathBuf>,
}

pub(crate) fn launch(
    function: &FunctionConfig,
    settings: &FunctionsConfig,
) -> Result<Launch, String> {
    match &function.code {
        Code::Command {
            program,
            args,
            working_dir,
        } => Ok(Launch {
            program: program.clone(),
            args: args.clone(),
            working_dir: working_dir.clone(),
        }),
        Code::Package { dir } => {
            let runtime = function.runtime.as_deref().unwrap_or("");
            let handler = function.handler.as_deref().unwrap_or("");
            match PackageRuntime::of(runtime) {
                Some(family) => family.launch(dir, handler, settings),
                None => Err(format!("weir cannot run the runtime {runtime:?}")),
            }
        }
        Code::Http { .. } => Err("an HTTP function has no sandbox".into()),
    }
}

/// Starts a sandbox for `pool` in the background.
pub(crate) fn start(pool: Arc<Pool>, id: u64) {
    tokio::spawn(async move {
        run(pool.clone(), id).await;
        pool.ended(id);
    });
}

async fn run(pool: Arc<Pool>, id: u64) {
    let function = pool.function();
    let fail_start = |message: String| {
        tracing::warn!(function = %function.name, "{message}");
        if let Some(inv) = pool.take_pending() {
            let _ = inv.reply.send(InvokeOutcome::failed(
                &inv.request_id,
                "Runtime.InvalidEntrypoint",
                format!("RequestId: {} Error: {message}", inv.request_id),
            ));
        }
    };
    let launch = match launch(&function, &pool.settings) {
        Ok(l) => l,
        Err(m) => return fail_start(m),
    };
    let listener = match TcpListener::bind(("127.0.0.1", 0)).await {
        Ok(l) => l,
        Err(e) => return fail_start(format!("cannot open a Runtime API listener: {e}")),
    };
    let api = match listener.local_addr() {
        Ok(a) => a.to_string(),
        Err(e) => return fail_start(format!("cannot open a Runtime API listener: {e}")),
    };
    let mut cmd = tokio::process::Command::new(&launch.program);
    cmd.args(&launch.args)
        .envs(environment(&function, &pool.settings, &api, &launch))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if let Some(dir) = &launch.working_dir {
        cmd.current_dir(dir);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return fail_start(format!(
                "cannot start the runtime {:?}: {e}",
                launch.program
            ))
        }
    };
    let sandbox = Arc::new(Sandbox {
        id,
        function: function.clone(),
        pid: child.id(),
        current: Mutex::new(None),
        polled: AtomicBool::new(false),
        init_error: Mutex::new(None),
    });
    tracing::debug!(function = %function.name, sandbox = id, pid = ?sandbox.pid, %api, "sandbox started");
    pool.register(sandbox.clone());
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward_output(function.name.clone(), out));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward_output(function.name.clone(), err));
    }
    let server = tokio::spawn(runtime_api::serve(listener, pool.clone(), sandbox.clone()));
    let status = child.wait().await;
    server.abort();
    let status = match status {
        Ok(s) => s.to_string(),
        Err(e) => e.to_string(),
    };
    tracing::debug!(function = %function.name, sandbox = id, %status, "sandbox ended");
    let owed = sandbox.current.lock().take();
    if let Some(inv) = owed {
        pool.done();
        let _ = inv.reply.send(InvokeOutcome::failed(
            &inv.request_id,
            "Runtime.ExitError",
            format!(
                "RequestId: {} Error: Runtime exited with error: {status}",
                inv.request_id
            ),
        ));
    } else if !sandbox.polled.load(Ordering::Relaxed) {
        if let Some(inv) = pool.take_pending() {
            let init_error = sandbox.init_error.lock().take();
            let outcome = match init_error {
                Some(doc) => InvokeOutcome {
                    payload: doc,
                    function_error: Some("Unhandled".into()),
                    request_id: inv.request_id.clone(),
                },
                None => InvokeOutcome::failed(
                    &inv.request_id,
                    "Runtime.ExitError",
                    format!(
                        "RequestId: {} Error: Runtime exited without providing a reason: {status}",
                        inv.request_id
                    ),
                ),
            };
            let _ = inv.reply.send(outcome);
        }
    }
}

/// Lambda's environment for a runtime, then the function's own variables.
fn environment(
    function: &FunctionConfig,
    settings: &FunctionsConfig,
    api: &str,
    launch: &Launch,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API".to_string(), api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), function.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            function.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{}", function.name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), "weir".into()),
        ("AWS_REGION".into(), settings.region.clone()),
        ("AWS_DEFAULT_REGION".into(), settings.region.clone()),
        ("TZ".into(), ":UTC".into()),
    ];
    if let Some(h) = &function.handler {
        env.push(("_HANDLER".into(), h.clone()));
    }
    if let Some(dir) = &launch.working_dir {
        env.push((
            "LAMBDA_TASK_ROOT".into(),
            dir.to_string_lossy().into_owned(),
        ));
    }
    if let Some(endpoint) = &settings.endpoint {
        // SDKs inside the handler talk to this weir unless the function says otherwise.
        env.push(("AWS_ENDPOINT_URL".into(), endpoint.clone()));
        env.push(("AWS_ACCESS_KEY_ID".into(), "weir".into()));
        env.push(("AWS_SECRET_ACCESS_KEY".into(), "weir".into()));
    }
    env.extend(function.environment.clone());
    env
}

async fn forward_output(function: String, out: impl tokio::io::AsyncRead + Unpin) {
    let mut lines = BufReader::new(out).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(target: "weir::function", function = %function, "{line}");
    }
}

impl Sandbox {
    /// Hands the sandbox its next invocation and arms the timeout watchdog.
    pub fn begin(
        self: &Arc<Self>,
        pool: Arc<Pool>,
        inv: Invocation,
    ) -> (String, i64, bytes::Bytes) {
        self.polled.store(true, Ordering::Relaxed);
        let answer = (inv.request_id.clone(), inv.deadline_ms, inv.payload.clone());
        if let Some(previous) = self.current.lock().replace(inv) {
            // The runtime asked for more work without answering: that invocation failed.
            pool.done();
            let _ = previous.reply.send(InvokeOutcome::failed(
                &previous.request_id,
                "Runtime.InvalidResponse",
                "the runtime polled for the next invocation without answering this one".into(),
            ));
        }
        let timeout = Duration::from_secs(self.function.timeout_secs as u64);
        let me = self.clone();
        let request_id = answer.0.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let expired = {
                let mut cur = me.current.lock();
                match &*cur {
                    Some(inv) if inv.request_id == request_id => cur.take(),
                    _ => None,
                }
            };
            if let Some(inv) = expired {
                pool.done();
                tracing::warn!(function = %me.function.name, request_id = %inv.request_id, "invocation timed out; killing its sandbox");
                let _ = inv.reply.send(InvokeOutcome::failed(
                    &inv.request_id,
                    "Sandbox.Timedout",
                    format!(
                        "RequestId: {} Error: Task timed out after {}.00 seconds",
                        inv.request_id, me.function.timeout_secs
                    ),
                ));
                me.kill();
            }
        });
        answer
    }

    /// Finishes the current invocation if `request_id` names it; false otherwise.
    /// Answers the current invocation if it is `request_id`'s: `freed` runs first (the pool
    /// counts the sandbox free again), so a caller that invokes again as soon as it has its
    /// answer finds this sandbox warm instead of starting another.
    pub fn finish(
        &self,
        request_id: &str,
        outcome: impl FnOnce(&str) -> InvokeOutcome,
        freed: impl FnOnce(),
    ) -> bool {
        let inv = {
            let mut cur = self.current.lock();
            match &*cur {
                Some(inv) if inv.request_id == request_id => cur.take(),
                _ => None,
            }
        };
        match inv {
            Some(inv) => {
                let outcome = outcome(&inv.request_id);
                freed();
                let _ = inv.reply.send(outcome);
                true
            }
            None => false,
        }
    }

    pub fn init_failed(&self, doc: Vec<u8>) {
        *self.init_error.lock() = Some(doc);
        self.kill();
    }

    /// Kills the runtime's whole process group.
    pub fn kill(&self) {
        let Some(pid) = self
            .pid
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
        else {
            return;
        };
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}
